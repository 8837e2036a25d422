/* completion — the completion criteria's tests (see completion.h). */
#include "completion.h"

#include <math.h>

int completion_not_improving(const double *y, size_t n) {
    int count = 0;
    double ref = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0) {
            ref = y[0];
            continue;
        }
        double need = COMPLETION_IMPROVE_FRACTION * fabs(ref);
        if (ref - y[i] >= need && y[i] < ref) {
            ref = y[i];
            count = 0;
        } else {
            count++;
        }
    }
    return count;
}

size_t completion_window(int max_jobs) {
    double w = ceil(COMPLETION_CONV_WINDOW_FRACTION * (max_jobs > 0 ? max_jobs : 0));
    return w > COMPLETION_CONV_MIN_WINDOW ? (size_t)w : COMPLETION_CONV_MIN_WINDOW;
}

int completion_converged(const double *y, size_t n, int max_jobs) {
    size_t w = completion_window(max_jobs);
    if (n < 2 * w)
        return 0;
    double lo = y[0], hi = y[0], before = y[0];
    for (size_t i = 0; i < n; i++) {
        lo = y[i] < lo ? y[i] : lo;
        hi = y[i] > hi ? y[i] : hi;
        if (i < n - w && y[i] < before)
            before = y[i];
    }
    /* lo is the best of all; before the best of all but the last w. */
    return before - lo <= COMPLETION_CONV_EPSILON * (hi - lo);
}

completion_result completion_eval(const completion_criteria *c, const double *y, size_t n) {
    completion_result r = {0};
    double best = 0;
    for (size_t i = 0; i < n; i++)
        best = i == 0 || y[i] < best ? y[i] : best;
    r.not_improving = completion_not_improving(y, n);
    r.converged = completion_converged(y, n, c->max_jobs);
    if (c->has_target && n && best <= c->target_min)
        r.met = COMPLETION_TARGET;
    else if (c->max_not_improving > 0 && r.not_improving >= c->max_not_improving)
        r.met = COMPLETION_NOT_IMPROVING;
    else if (c->on_convergence && r.converged)
        r.met = COMPLETION_CONVERGED;
    return r;
}
