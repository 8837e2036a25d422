/* rng — small deterministic random numbers (xoshiro256**, seeded by
 * splitmix64). Not for secrets. A rng is a plain value: no allocation. */
#ifndef OPENHPO_RNG_H
#define OPENHPO_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_t;

/* Seeds from `seed` and a stream number, so (seed, stream) pairs give
 * independent sequences (e.g. stream = trial index). */
void rng_seed(rng_t *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(rng_t *r);
/* Uniform in [0, 1). */
double rng_uniform(rng_t *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t rng_below(rng_t *r, uint64_t n);
/* Standard normal. */
double rng_normal(rng_t *r);
/* splitmix64 step: a good 64-bit mixer. */
uint64_t rng_mix64(uint64_t x);

#endif
