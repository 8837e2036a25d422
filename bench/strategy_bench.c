/* strategy_bench — drives openhpo's strategies in-process (ask/tell through
 * strategy_suggest) on the functions of bench/functions.json.
 *
 *   strategy_bench regret STRATEGY SEEDS BUDGET BATCH [FUNC]
 *       one line per (function, seed): "REG func strategy batch seed r25 r30
 *       r50 r100 best": simple regret (best so far - minimum; on a noisy
 *       function the true value of the strategy's incumbent - minimum) after
 *       25, 30, 50 and 100 evaluations, and the best value. BATCH > 1 asks BATCH
 *       configs (the earlier ones pending) before telling their results.
 *       Seeds are 1..SEEDS, or offset by $BENCH_SEED_OFFSET (a check on
 *       seeds a change was not tuned on).
 *   strategy_bench latency STRATEGY REPS
 *       "LAT strategy d nobs median_ms p95_ms" for d = 2, 10, 30 and 100 and
 *       1000 finished random trials of a d-dimensional Ackley function.
 *
 * Prints numbers only; bench/report.py makes the tables. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "space.h"
#include "strategy.h"

static double branin(const double *x) {
    double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10, t = 1 / (8 * M_PI);
    double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
    return a * u * u + s * (1 - t) * cos(x[0]) + s;
}

static double hartmann6(const double *x) {
    static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                   {2329, 4135, 8307, 3736, 1004, 9991},
                                   {2348, 1451, 3522, 2883, 3047, 6650},
                                   {4047, 8828, 8732, 5743, 1091, 381}};
    static const double al[4] = {1.0, 1.2, 3.0, 3.2};
    double f = 0;
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 6; j++) {
            double d = x[j] - 1e-4 * P[i][j];
            s += A[i][j] * d * d;
        }
        f -= al[i] * exp(-s);
    }
    return f;
}

static double rosenbrock(const double *x, int d) {
    double f = 0;
    for (int i = 0; i + 1 < d; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
        f += 100 * a * a + b * b;
    }
    return f;
}

static double ackley(const double *x, int d) {
    double s1 = 0, s2 = 0;
    for (int i = 0; i < d; i++) {
        s1 += x[i] * x[i];
        s2 += cos(2 * M_PI * x[i]);
    }
    return -20 * exp(-0.2 * sqrt(s1 / d)) - exp(s2 / d) + 20 + M_E;
}

/* x1, x2 continuous, n integer, c categorical index (a, b, c, d) */
static double mixed(const double *x) {
    static const double off[4] = {0.5, 0, 1, 2};
    int c = (int)x[3];
    double a = x[0] - 1, b = x[1] + 0.5, m = x[2] - 7;
    return a * a + b * b * (c == 0 ? 2 : 1) + 0.1 * m * m + off[c];
}

static double logscale(const double *x) {
    double a = log10(x[0]) + 2.5, b = log10(x[1]) + 4, m = x[2] - 0.9;
    return a * a + 0.5 * b * b + 2 * m * m + 0.5 * a * m;
}

/* lr (log), dropout, units (integer, log), opt categorical (sgd, adam,
 * rmsprop): the optimum lr = 10^-4.5 lies near the lower bound. */
static double mixedlog(const double *x) {
    static const double off[3] = {1.0, 0, 0.3}, w[3] = {1, 1, 2};
    int c = (int)x[3];
    double a = log10(x[0]) + 4.5, b = x[1] - 0.2, m = log2(x[2]) - 7;
    return w[c] * a * a + 4 * b * b + 0.3 * a * b + 0.1 * m * m + off[c];
}

static double levy(const double *x, int d) {
    double w1 = 1 + (x[0] - 1) / 4, wd = 1 + (x[d - 1] - 1) / 4;
    double f = pow(sin(M_PI * w1), 2) + (wd - 1) * (wd - 1) * (1 + pow(sin(2 * M_PI * wd), 2));
    for (int i = 0; i + 1 < d; i++) {
        double w = 1 + (x[i] - 1) / 4;
        f += (w - 1) * (w - 1) * (1 + 10 * pow(sin(M_PI * w + 1), 2));
    }
    return f;
}

static double styblinski(const double *x, int d) {
    double f = 0;
    for (int i = 0; i < d; i++)
        f += 0.5 * (pow(x[i], 4) - 16 * x[i] * x[i] + 5 * x[i]);
    return f;
}

/* The formula `name` at x (d coordinates): families with a dimension
 * suffix (ackley5, rosenbrock20) take d. */
static double evaluate(const char *name, const double *x, int d) {
    if (!strcmp(name, "branin"))
        return branin(x);
    if (!strcmp(name, "hartmann6"))
        return hartmann6(x);
    if (!strcmp(name, "mixed"))
        return mixed(x);
    if (!strcmp(name, "mixedlog"))
        return mixedlog(x);
    if (!strcmp(name, "logscale"))
        return logscale(x);
    if (!strncmp(name, "rosenbrock", 10))
        return rosenbrock(x, d);
    if (!strncmp(name, "ackley", 6))
        return ackley(x, d);
    if (!strncmp(name, "levy", 4))
        return levy(x, d);
    if (!strncmp(name, "styblinski", 10))
        return styblinski(x, d);
    return NAN;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One regret run per seed, asking `batch` configs before telling their
 * results, or with batch < 0 asynchronously: -batch in flight, the oldest
 * told and one more asked at a time (the daemon's way with
 * MaxParallelTrainingJobs). `name` labels the lines, `formula` is evaluated;
 * with noise > 0 each observed value gets N(0, noise^2) added (a stream of
 * (seed, trial)) and the regret at a mark is the true value of the
 * strategy's incumbent (strategy_incumbent()) minus the minimum; without
 * noise it is the best value so far minus the minimum. */
static int run_regret(const char *strat, const char *name, const char *formula,
                      const json_t *ranges, double fmin, double noise, int seeds, int budget,
                      int batch) {
    err_t e = {0};
    int seed_offset = getenv("BENCH_SEED_OFFSET") ? atoi(getenv("BENCH_SEED_OFFSET")) : 0;
    space *sp = space_from_json(ranges, &e);
    if (!sp) {
        fprintf(stderr, "%s: %s\n", name, e.msg);
        return 1;
    }
    size_t n = sp->n;
    double *cfgs = malloc((size_t)budget * n * sizeof *cfgs);
    strategy_obs *obs = malloc((size_t)budget * sizeof *obs);
    const double **pend = malloc((size_t)(batch > 0 ? batch : -batch) * sizeof *pend);
    for (int s = 0; s < seeds; s++) {
        strategy *st = strategy_new(strat, sp, (uint64_t)(s + 1 + seed_offset), NULL, 0, &e);
        double best = HUGE_VAL, at[4] = {NAN, NAN, NAN, NAN};
        const int marks[4] = {25, 30, 50, 100};
        if (!st) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        for (int t = 0, asked = 0; t < budget;) {
            /* synchronous: ask a batch of q, then tell all q; asynchronous
             * (batch < 0): keep -batch asked, tell the oldest, ask one */
            int q = batch > 0 ? (batch < budget - t ? batch : budget - t) : 1;
            int inflight = batch > 0 ? 0 : -batch;
            while (asked < budget && asked - t < (batch > 0 ? q : inflight)) {
                double *c = cfgs + (size_t)asked * n;
                int np = asked - t;
                for (int j = 0; j < np; j++)
                    pend[j] = cfgs + (size_t)(t + j) * n;
                if (strategy_suggest(st, (uint64_t)asked, obs, (size_t)t, pend, (size_t)np, c,
                                     &e)) {
                    fprintf(stderr, "suggest: %s\n", e.msg);
                    return 1;
                }
                asked++;
            }
            for (int k = 0; k < q; k++, t++) {
                obs[t].cfg = cfgs + (size_t)t * n;
                double truth = evaluate(formula, obs[t].cfg, (int)n);
                obs[t].y = truth;
                if (noise > 0) {
                    rng_t nr;
                    rng_seed(&nr, 0x4015eULL + (uint64_t)(s + 1 + seed_offset), (uint64_t)t);
                    obs[t].y += noise * rng_normal(&nr);
                }
                if (noise <= 0 && obs[t].y < best)
                    best = obs[t].y;
                for (int m = 0; m < 4; m++) {
                    if (t + 1 != marks[m])
                        continue;
                    if (noise > 0) {
                        size_t b = 0;
                        if (strategy_incumbent(st, obs, (size_t)t + 1, &b, &e)) {
                            fprintf(stderr, "incumbent: %s\n", e.msg);
                            return 1;
                        }
                        best = evaluate(formula, obs[b].cfg, (int)n);
                    }
                    at[m] = best - fmin;
                }
            }
        }
        printf("REG %s %s %d %d %.6g %.6g %.6g %.6g %.10g\n", name, strat, batch, s, at[0], at[1],
               at[2], at[3], best);
        fflush(stdout);
        strategy_free(st);
    }
    free(cfgs);
    free(obs);
    free(pend);
    space_free(sp);
    return 0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_latency(const char *strat, int reps) {
    static const int dims[3] = {2, 10, 30}, nobs[2] = {100, 1000};
    for (int di = 0; di < 3; di++) {
        int d = dims[di];
        json_t *list = json_array();
        for (int i = 0; i < d; i++) {
            char nm[16];
            snprintf(nm, sizeof nm, "x%d", i);
            json_array_append_new(list,
                                  json_pack("{s:s,s:s,s:s,s:s}", "Name", nm, "MinValue", "-32.768",
                                            "MaxValue", "32.768", "ScalingType", "Linear"));
        }
        json_t *ranges = json_pack("{s:o}", "ContinuousParameterRanges", list);
        err_t e = {0};
        space *sp = space_from_json(ranges, &e);
        json_decref(ranges);
        for (int ni = 0; ni < 2; ni++) {
            int N = nobs[ni];
            double *cfgs = malloc((size_t)N * d * sizeof *cfgs), out[32],
                   *ms = malloc(reps * sizeof *ms);
            strategy_obs *obs = malloc((size_t)N * sizeof *obs);
            rng_t r;
            rng_seed(&r, 7, (uint64_t)(d * 10000 + N));
            for (int i = 0; i < N; i++) {
                for (int j = 0; j < d; j++)
                    cfgs[i * d + j] = -32.768 + 65.536 * rng_uniform(&r);
                obs[i].cfg = cfgs + i * d;
                obs[i].y = ackley(obs[i].cfg, d);
            }
            strategy *st = strategy_new(strat, sp, 1, NULL, 0, &e);
            for (int k = 0; k < reps; k++) {
                double t0 = now_ms();
                strategy_suggest(st, (uint64_t)(N + k), obs, (size_t)N, NULL, 0, out, &e);
                ms[k] = now_ms() - t0;
            }
            qsort(ms, reps, sizeof *ms, cmp_d);
            int p95 = (int)ceil(0.95 * reps) - 1;
            printf("LAT %s %d %d %.3f %.3f\n", strat, d, N, ms[reps / 2], ms[p95 < 0 ? 0 : p95]);
            fflush(stdout);
            strategy_free(st);
            free(cfgs);
            free(obs);
            free(ms);
        }
        space_free(sp);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "latency"))
        return run_latency(argv[2], atoi(argv[3]));
    if (argc < 6 || strcmp(argv[1], "regret")) {
        fprintf(stderr,
                "usage: %s regret STRATEGY SEEDS BUDGET BATCH [FUNC] | latency STRATEGY "
                "REPS\n",
                argv[0]);
        return 2;
    }
    const char *path =
        getenv("BENCH_FUNCTIONS") ? getenv("BENCH_FUNCTIONS") : "bench/functions.json";
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return 1;
    }
    int rc = 0;
    json_t *fs = json_object_get(root, "functions");
    for (size_t i = 0; i < json_array_size(fs) && !rc; i++) {
        json_t *f = json_array_get(fs, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        if (argc > 6 && strcmp(argv[6], name))
            continue;
        const char *formula = json_string_value(json_object_get(f, "f"));
        rc = run_regret(argv[2], name, formula ? formula : name, json_object_get(f, "ranges"),
                        json_number_value(json_object_get(f, "fmin")),
                        json_number_value(json_object_get(f, "noise")), atoi(argv[3]),
                        atoi(argv[4]), atoi(argv[5]));
    }
    json_decref(root);
    return rc;
}
