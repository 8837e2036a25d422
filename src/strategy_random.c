/* Random search: trial i is point i of a scrambled Sobol' sequence keyed by
 * the seed (sobol.h), mapped through each parameter's scaling (so Linear
 * ranges are sampled uniformly in value, Logarithmic ones uniformly in log
 * value). Each point on its own is uniform on the cube, as plain random
 * search; together they cover it more evenly (quasi-random search: no
 * clusters, no gaps, every 2^k consecutive trials stratified in each
 * dimension). The point for trial i depends only on (seed, i):
 * deterministic and history-free. Prior history (warm start) is ignored:
 * a quasi-random design gains nothing from it.
 *
 * Threads (strategy.h): suggest() writes the scratch `u`; there is no
 * should_stop() or exhausted(), so nothing else reads it. */
#include <stdlib.h>

#include "sobol.h"
#include "strategy.h"

typedef struct {
    const space *sp;
    sobol_t sobol;
    double *u;
} random_state;

static void *random_create(const space *sp, uint64_t seed, const strategy_obs *prior, size_t nprior,
                           err_t *e) {
    random_state *st = calloc(1, sizeof *st);
    if (st)
        st->u = calloc(sp->n ? sp->n : 1, sizeof *st->u);
    if (!st || !st->u) {
        free(st);
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    st->sp = sp;
    sobol_init(&st->sobol, sp->n, seed, true);
    return st;
}

static int random_suggest(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                          const double *const *pending, size_t npending, double *out, err_t *e) {
    random_state *st = state;
    sobol_point(&st->sobol, index, st->u);
    space_from_unit(st->sp, st->u, out);
    return 0;
}

static void random_destroy(void *state) {
    random_state *st = state;
    if (st)
        free(st->u);
    free(st);
}

const strategy_ops strategy_random_ops = {
    .name = "Random",
    .create = random_create,
    .suggest = random_suggest,
    .destroy = random_destroy,
};
