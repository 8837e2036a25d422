/* sobol — scrambled Sobol' low-discrepancy points in the unit cube.
 *
 * Direction numbers are Joe & Kuo's (new-joe-kuo-6.21201, the table SciPy
 * and PyTorch ship) for the first SOBOL_MAX_DIM dimensions. Scrambling is
 * Owen's nested uniform scramble in the hash-based form of Burley (2020,
 * "Practical hash-based Owen scrambling"), keyed by a 64-bit seed: every
 * scrambled sequence keeps the (t,s)-net structure of the original, each
 * point is uniform on [0,1)^dim, and different seeds are independent
 * randomisations. Points are computed by index (random access), so a point
 * depends only on (seed, index). A sobol_t is a plain value: no allocation,
 * nothing to free. */
#ifndef OPENHPO_SOBOL_H
#define OPENHPO_SOBOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Dimensions with true Sobol' coordinates; further ones (any number) are
 * filled with independent hashed uniforms of (seed, index, dimension). */
#define SOBOL_MAX_DIM 64
#define SOBOL_BITS 32

typedef struct {
    size_t dim;
    bool scramble;
    uint64_t seed;
    uint32_t v[SOBOL_MAX_DIM][SOBOL_BITS]; /* direction numbers */
    uint32_t key[SOBOL_MAX_DIM];           /* per-dimension scramble keys */
} sobol_t;

/* Prepares a generator of `dim` coordinates (any dim >= 0). With `scramble`
 * false the points are the plain Sobol' sequence in natural (non-Gray)
 * order, point 0 being the origin; `seed` is then ignored. */
void sobol_init(sobol_t *s, size_t dim, uint64_t seed, bool scramble);

/* Writes point `index` (any value; indices >= 2^32 restart the net under a
 * fresh scramble) to u[0..dim-1], each in [0, 1). */
void sobol_point(const sobol_t *s, uint64_t index, double *u);

#endif
