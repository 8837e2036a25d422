#include "strategy.h"

#include <stdlib.h>
#include <string.h>

/* The registry: the Strategy values openhpo accepts. */
static const strategy_ops *const strategy_registry[] = {
    &strategy_bayes_ops,
    &strategy_random_ops,
};

struct strategy {
    const strategy_ops *ops;
    void *state;
};

const strategy_ops *strategy_find(const char *name) {
    for (size_t i = 0; name && i < sizeof strategy_registry / sizeof *strategy_registry; i++)
        if (!strcmp(strategy_registry[i]->name, name))
            return strategy_registry[i];
    return NULL;
}

strategy *strategy_new(const char *name, const space *sp, uint64_t seed, err_t *e) {
    const strategy_ops *ops = strategy_find(name);
    strategy *s;
    if (!ops) {
        err_set(e, ERR_VALIDATION, "Strategy '%s' is not one of Bayesian, Random",
                name ? name : "");
        return NULL;
    }
    if (!(s = calloc(1, sizeof *s))) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    s->ops = ops;
    if (!(s->state = ops->create(sp, seed, e))) {
        free(s);
        return NULL;
    }
    return s;
}

void strategy_free(strategy *s) {
    if (!s)
        return;
    s->ops->destroy(s->state);
    free(s);
}

const char *strategy_name(const strategy *s) {
    return s->ops->name;
}

int strategy_suggest(strategy *s, uint64_t index, const strategy_obs *done, size_t ndone,
                     const double *const *pending, size_t npending, double *out, err_t *e) {
    return s->ops->suggest(s->state, index, done, ndone, pending, npending, out, e);
}
