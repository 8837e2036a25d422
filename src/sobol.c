#include "sobol.h"

#include "rng.h"

#define SOBOL_MAX_DEG 9

/* Joe & Kuo primitive polynomials (with leading and trailing bits, so the
 * degree is floor(log2(poly))) and initial direction numbers m_1..m_deg. */
static const uint16_t sobol_poly[SOBOL_MAX_DIM] = {
    1,   3,   7,   11,  13,  19,  25,  37,  41,  47,  55,  59,  61,  67,  91,  97,
    103, 109, 115, 131, 137, 143, 145, 157, 167, 171, 185, 191, 193, 203, 211, 213,
    229, 239, 241, 247, 253, 285, 299, 301, 333, 351, 355, 357, 361, 369, 391, 397,
    425, 451, 463, 487, 501, 529, 539, 545, 557, 563, 601, 607, 617, 623, 631, 637};
static const uint16_t sobol_vinit[SOBOL_MAX_DIM][SOBOL_MAX_DEG] = {
    {1, 0, 0, 0, 0, 0, 0, 0, 0},        {1, 0, 0, 0, 0, 0, 0, 0, 0},
    {1, 3, 0, 0, 0, 0, 0, 0, 0},        {1, 3, 1, 0, 0, 0, 0, 0, 0},
    {1, 1, 1, 0, 0, 0, 0, 0, 0},        {1, 1, 3, 3, 0, 0, 0, 0, 0},
    {1, 3, 5, 13, 0, 0, 0, 0, 0},       {1, 1, 5, 5, 17, 0, 0, 0, 0},
    {1, 1, 5, 5, 5, 0, 0, 0, 0},        {1, 1, 7, 11, 19, 0, 0, 0, 0},
    {1, 1, 5, 1, 1, 0, 0, 0, 0},        {1, 1, 1, 3, 11, 0, 0, 0, 0},
    {1, 3, 5, 5, 31, 0, 0, 0, 0},       {1, 3, 3, 9, 7, 49, 0, 0, 0},
    {1, 1, 1, 15, 21, 21, 0, 0, 0},     {1, 3, 1, 13, 27, 49, 0, 0, 0},
    {1, 1, 1, 15, 7, 5, 0, 0, 0},       {1, 3, 1, 15, 13, 25, 0, 0, 0},
    {1, 1, 5, 5, 19, 61, 0, 0, 0},      {1, 3, 7, 11, 23, 15, 103, 0, 0},
    {1, 3, 7, 13, 13, 15, 69, 0, 0},    {1, 1, 3, 13, 7, 35, 63, 0, 0},
    {1, 3, 5, 9, 1, 25, 53, 0, 0},      {1, 3, 1, 13, 9, 35, 107, 0, 0},
    {1, 3, 1, 5, 27, 61, 31, 0, 0},     {1, 1, 5, 11, 19, 41, 61, 0, 0},
    {1, 3, 5, 3, 3, 13, 69, 0, 0},      {1, 1, 7, 13, 1, 19, 1, 0, 0},
    {1, 3, 7, 5, 13, 19, 59, 0, 0},     {1, 1, 3, 9, 25, 29, 41, 0, 0},
    {1, 3, 5, 13, 23, 1, 55, 0, 0},     {1, 3, 7, 3, 13, 59, 17, 0, 0},
    {1, 3, 1, 3, 5, 53, 69, 0, 0},      {1, 1, 5, 5, 23, 33, 13, 0, 0},
    {1, 1, 7, 7, 1, 61, 123, 0, 0},     {1, 1, 7, 9, 13, 61, 49, 0, 0},
    {1, 3, 3, 5, 3, 55, 33, 0, 0},      {1, 3, 1, 15, 31, 13, 49, 245, 0},
    {1, 3, 5, 15, 31, 59, 63, 97, 0},   {1, 3, 1, 11, 11, 11, 77, 249, 0},
    {1, 3, 1, 11, 27, 43, 71, 9, 0},    {1, 1, 7, 15, 21, 11, 81, 45, 0},
    {1, 3, 7, 3, 25, 31, 65, 79, 0},    {1, 3, 1, 1, 19, 11, 3, 205, 0},
    {1, 1, 5, 9, 19, 21, 29, 157, 0},   {1, 3, 7, 11, 1, 33, 89, 185, 0},
    {1, 3, 3, 3, 15, 9, 79, 71, 0},     {1, 3, 7, 11, 15, 39, 119, 27, 0},
    {1, 1, 3, 1, 11, 31, 97, 225, 0},   {1, 1, 1, 3, 23, 43, 57, 177, 0},
    {1, 3, 7, 7, 17, 17, 37, 71, 0},    {1, 3, 1, 5, 27, 63, 123, 213, 0},
    {1, 1, 3, 5, 11, 43, 53, 133, 0},   {1, 3, 5, 5, 29, 17, 47, 173, 479},
    {1, 3, 3, 11, 3, 1, 109, 9, 69},    {1, 1, 1, 5, 17, 39, 23, 5, 343},
    {1, 3, 1, 5, 25, 15, 31, 103, 499}, {1, 1, 1, 11, 11, 17, 63, 105, 183},
    {1, 1, 5, 11, 9, 29, 97, 231, 363}, {1, 1, 5, 15, 19, 45, 41, 7, 383},
    {1, 3, 7, 7, 31, 19, 83, 137, 221}, {1, 1, 1, 3, 23, 15, 111, 223, 83},
    {1, 1, 5, 13, 31, 15, 55, 25, 161}, {1, 1, 3, 13, 25, 47, 39, 87, 257},
};

void sobol_init(sobol_t *s, size_t dim, uint64_t seed, bool scramble) {
    s->dim = dim;
    s->seed = seed;
    s->scramble = scramble;
    for (size_t d = 0; d < dim && d < SOBOL_MAX_DIM; d++) {
        uint32_t m[SOBOL_BITS];
        unsigned deg = 0;
        for (unsigned p = sobol_poly[d]; p > 1; p >>= 1)
            deg++;
        if (d == 0) {
            for (unsigned j = 0; j < SOBOL_BITS; j++)
                m[j] = 1;
        } else {
            for (unsigned j = 0; j < deg; j++)
                m[j] = sobol_vinit[d][j];
            /* m_j = 2 a_1 m_{j-1} ^ 4 a_2 m_{j-2} ^ ... ^ 2^deg m_{j-deg} ^ m_{j-deg} */
            for (unsigned j = deg; j < SOBOL_BITS; j++) {
                uint32_t nv = m[j - deg];
                uint32_t pow2 = 1;
                for (unsigned k = 0; k < deg; k++) {
                    pow2 <<= 1;
                    if ((sobol_poly[d] >> (deg - 1 - k)) & 1)
                        nv ^= pow2 * m[j - k - 1];
                }
                m[j] = nv;
            }
        }
        for (unsigned j = 0; j < SOBOL_BITS; j++)
            s->v[d][j] = m[j] << (SOBOL_BITS - 1 - j);
        s->key[d] = (uint32_t)rng_mix64(seed ^ rng_mix64(0x50b01ULL + d));
    }
}

static uint32_t reverse32(uint32_t x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}

/* Burley's improved Laine-Karras hash: a bijection on bit-reversed values in
 * which each bit depends only on the lower (i.e. the coordinate's higher)
 * bits, which is exactly a nested uniform (Owen) scramble. */
static uint32_t owen_scramble(uint32_t x, uint32_t key) {
    x = reverse32(x);
    x ^= x * 0x3d20adeau;
    x += key;
    x *= (key >> 16) | 1u;
    x ^= x * 0x05526c56u;
    x ^= x * 0x53a22864u;
    return reverse32(x);
}

void sobol_point(const sobol_t *s, uint64_t index, double *u) {
    uint32_t i = (uint32_t)index;
    uint64_t epoch = index >> 32;
    for (size_t d = 0; d < s->dim; d++) {
        uint64_t h = rng_mix64(s->seed ^ rng_mix64(index * 0x9e3779b97f4a7c15ULL + d));
        if (d >= SOBOL_MAX_DIM) {
            u[d] = (double)(h >> 11) * 0x1.0p-53;
            continue;
        }
        uint32_t x = 0;
        for (unsigned j = 0; i >> j && j < SOBOL_BITS; j++)
            if ((i >> j) & 1)
                x ^= s->v[d][j];
        if (!s->scramble) {
            u[d] = (double)x * 0x1.0p-32;
            continue;
        }
        uint32_t key = s->key[d];
        if (epoch)
            key ^= (uint32_t)rng_mix64(epoch);
        x = owen_scramble(x, key);
        /* The scramble fixes 32 digits; the remaining 21 are uniform too. */
        u[d] = ((double)x * 0x1.0p-32) + (double)(h >> 43) * 0x1.0p-53;
    }
}
