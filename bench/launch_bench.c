/* launch_bench — how long backend_start() of the local backend blocks its
 * caller (the daemon's loop thread): the fork of hpo-runner, its exec and
 * start-up, and its exec of the training program, up to the "ok" report.
 *
 *   launch_bench N RUNNER [RUNNER...]
 *
 * N launches per runner binary; with several binaries (say, two builds of
 * hpo-runner) the launches alternate between them, so that the load of a
 * shared machine falls on all alike. Each launch runs /bin/true in a fresh
 * job directory, with an output path (as a tuning job's training jobs
 * have), and is waited for (the runner is reaped) before the next one
 * starts, so launches do not overlap. Prints, per binary, the median, 10th
 * and 90th percentile and the extremes, in ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "loop.h"
#include "util.h"

#define BENCH_MAX_N 10000   /* launches per runner, at most */
#define BENCH_MAX_RUNNERS 8 /* runner binaries compared, at most */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 2 ? atoi(argv[1]) : 0, nr = argc - 2, rc = 1;
    if (n < 1 || n > BENCH_MAX_N || nr < 1 || nr > BENCH_MAX_RUNNERS) {
        fprintf(stderr, "usage: launch_bench N RUNNER [RUNNER...] (N <= %d, up to %d runners)\n",
                BENCH_MAX_N, BENCH_MAX_RUNNERS);
        return 2;
    }
    char root[] = "/tmp/launch_bench.XXXXXX";
    if (!mkdtemp(root))
        return 1;
    char out[sizeof root + 16];
    snprintf(out, sizeof out, "file://%s/out", root);
    static char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    char *job_argv[] = {"/bin/true", "train", NULL};
    double *ms = calloc((size_t)n * (size_t)nr, sizeof *ms);
    backend *b[BENCH_MAX_RUNNERS] = {0};
    backend_env env[BENCH_MAX_RUNNERS];
    loop *l = loop_new();
    err_t e = {0};
    if (!l || !ms)
        goto out;
    for (int k = 0; k < nr; k++) {
        env[k] = (backend_env){.l = l, .runner_path = argv[2 + k], .log_cap = 1 << 20};
        if (!(b[k] = backend_new("local", &env[k], &e))) {
            fprintf(stderr, "launch_bench: %s\n", e.msg);
            goto out;
        }
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < nr; k++) {
            char dir[sizeof root + 48], handle[BACKEND_HANDLE_MAX];
            snprintf(dir, sizeof dir, "%s/job%d-%d", root, k, i);
            if (util_mkdir_p(dir, 0)) {
                fprintf(stderr, "launch_bench: cannot create %s\n", dir);
                goto out;
            }
            backend_launch bl = {.name = "job",
                                 .job_dir = dir,
                                 .argv = job_argv,
                                 .envp = envp,
                                 .grace = 1,
                                 .output_path = out};
            double t0 = now_ms();
            if (backend_start(b[k], &bl, handle, &e)) {
                fprintf(stderr, "launch_bench: %s: %s\n", argv[2 + k], e.msg);
                goto out;
            }
            ms[k * n + i] = now_ms() - t0;
            while (waitpid(-1, NULL, 0) > 0) /* the runner: one launch at a time */
                ;
        }
    for (int k = 0; k < nr; k++) {
        double *m = ms + k * n;
        qsort(m, (size_t)n, sizeof *m, cmp_double);
        printf("backend_start (local, %s): n=%d median %.2f ms  p10 %.2f  p90 %.2f  min %.2f  "
               "max %.2f\n",
               argv[2 + k], n, m[n / 2], m[n / 10], m[(n * 9) / 10], m[0], m[n - 1]);
    }
    rc = 0;
out:
    for (int k = 0; k < nr; k++)
        backend_free(b[k]);
    loop_free(l);
    free(ms);
    util_rm_rf(root);
    return rc;
}
