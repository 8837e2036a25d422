/* Grid search: every combination of the categorical ranges exactly once.
 *
 * Order. Trial i runs combination i of the lexicographic order over the
 * ranges in the request's order (the first range is the most significant
 * digit, its values in their given order; the last range varies fastest):
 * with ranges a=[x,y] and b=[1,2,3] the trials are (x,1) (x,2) (x,3) (y,1)
 * (y,2) (y,3). The combination depends on the index alone, so the engine's
 * indexes (one per training job row, stored) give each combination once,
 * across restarts and with parallel jobs; exhausted(i) is true from i =
 * the number of combinations on, and the tuning job then completes once
 * the running trials end. Only categorical ranges (strategy_grid_size);
 * at most STRATEGY_GRID_MAX combinations. Prior history is ignored.
 *
 * Threads (strategy.h): the state is immutable after create(). */
#include <stdlib.h>

#include "strategy.h"

typedef struct {
    const space *sp;
    uint64_t size; /* combinations */
} grid_state;

static void *grid_create(const space *sp, uint64_t seed, const strategy_obs *prior, size_t nprior,
                         err_t *e) {
    (void)seed;
    (void)prior;
    (void)nprior;
    uint64_t n = strategy_grid_size(sp, e);
    grid_state *st;
    if (!n)
        return NULL;
    if (!(st = calloc(1, sizeof *st))) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    st->sp = sp;
    st->size = n;
    return st;
}

static int grid_suggest(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                        const double *const *pending, size_t npending, double *out, err_t *e) {
    const grid_state *st = state;
    (void)done;
    (void)ndone;
    (void)pending;
    (void)npending;
    if (index >= st->size)
        return err_set(e, ERR_INTERNAL, "Grid: combination %llu of %llu asked for",
                       (unsigned long long)index, (unsigned long long)st->size);
    for (size_t i = st->sp->n; i-- > 0;) { /* the last range is the least significant digit */
        uint64_t k = st->sp->p[i].nvalues;
        out[i] = (double)(index % k);
        index /= k;
    }
    return 0;
}

static int grid_exhausted(void *state, uint64_t index) {
    const grid_state *st = state;
    return index >= st->size;
}

static void grid_destroy(void *state) {
    free(state);
}

const strategy_ops strategy_grid_ops = {
    .name = "Grid",
    .create = grid_create,
    .suggest = grid_suggest,
    .exhausted = grid_exhausted,
    .destroy = grid_destroy,
};
