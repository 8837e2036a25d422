/* Unit tests of the local backend through backend.h's wrappers, with real
 * hpo-runner processes (HPO_RUNNER_BIN, or ../hpo-runner next to this test's
 * directory) on a real loop: launch and result, exec failures at launch,
 * log reads, the stop escalation of a SIGSTOPped runner, the kill of what a
 * job leaves behind, model packing (by hpo-pack, next to the runner), an
 * unwritable result, and jobs run as another user (run_as): as root, a
 * system user hpo-ut-PID is created for them (and removed at the end); as
 * anyone else those tests skip with a message, except the refused drop. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend.h"
#include "backends/local.h"
#include "contract.h"
#include "loop.h"
#include "util.h"

static char runner[4096];
/* The test user of the run_as tests (set once by the group setup, before
 * any test; 0 when there is none). */
static char test_user[64];
static uid_t test_uid;
static gid_t test_gid;
static char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};

typedef struct {
    loop *l;
    backend *b;
    char dir[256];
    char handle[BACKEND_HANDLE_MAX];
    backend_watch *w;
    int ended;
    int64_t deadline;
} fixture;

static void on_end(void *ud) {
    fixture *f = ud;
    f->ended = 1;
    loop_stop(f->l);
}

static void on_tick(loop *l, void *ud) {
    fixture *f = ud;
    if (util_mono_ms() >= f->deadline)
        loop_stop(l);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    err_t e = {0};
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_backend_local.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->l = loop_new();
    assert_non_null(f->l);
    backend_env env = {.l = f->l, .runner_path = runner, .log_cap = 1 << 20};
    f->b = backend_new("local", &env, &e);
    assert_non_null(f->b);
    loop_set_tick(f->l, 20, on_tick, f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    backend_unwatch(f->b, f->w);
    backend_free(f->b);
    loop_free(f->l);
    util_rm_rf(f->dir);
    free(f);
    return 0;
}

/* Starts `sh -c script` (argv: sh -c SCRIPT sh train). 0 or the error. */
static int start_sh(fixture *f, const char *script, long grace, const char *output_path, err_t *e) {
    char *argv[] = {"/bin/sh", "-c", (char *)script, "sh", "train", NULL};
    backend_launch bl = {.name = "job1",
                         .job_dir = f->dir,
                         .argv = argv,
                         .envp = envp,
                         .grace = grace,
                         .output_path = output_path};
    return backend_start(f->b, &bl, f->handle, e);
}

/* Watches the job and runs the loop until it ends (or `secs` pass). */
static void run_until_end(fixture *f, int secs) {
    backend_state s = backend_watch_job(f->b, f->dir, f->handle, on_end, f, &f->w);
    assert_int_equal(s, BACKEND_RUNNING);
    assert_non_null(f->w);
    f->deadline = util_mono_ms() + secs * 1000;
    loop_run(f->l);
    assert_true(f->ended);
}

static int alive(int pid) {
    return pid > 0 && util_proc_starttime(pid) != 0;
}

static int read_pid(const char *path) {
    char *s = util_read_file(path, 32, NULL);
    int pid = s ? atoi(s) : 0;
    free(s);
    return pid;
}

static void test_registry(void **state) {
    fixture *f = *state;
    err_t e = {0};
    backend_env env = {.l = f->l, .runner_path = runner};
    assert_null(backend_new("nosuch", &env, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_string_equal(backend_name(f->b), "local");
    assert_int_equal(backend_caps(f->b), BACKEND_CAP_HOST_DIR | BACKEND_CAP_PACKS_MODEL);
}

static void test_exit_code_and_log(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char buf[64];
    assert_int_equal(start_sh(f, "echo hello; echo world >&2; exit 3", 5, NULL, &e), 0);
    assert_true(strlen(f->handle) > 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.exited);
    assert_int_equal(r.code, 3);
    assert_false(r.stopped);
    assert_false(r.result_unwritable);
    assert_string_equal(r.model_uri, "");
    ssize_t n = backend_read_log(f->b, f->dir, f->handle, 0, buf, sizeof buf - 1);
    assert_int_equal(n, 12);
    buf[n] = 0;
    assert_string_equal(buf, "hello\nworld\n");
    n = backend_read_log(f->b, f->dir, f->handle, 6, buf, 3);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(backend_read_log(f->b, f->dir, f->handle, 100, buf, sizeof buf), 0);
    /* A job that has not written a log yet: nothing, not an error. */
    assert_int_equal(backend_read_log(f->b, "/nonexistent", "", 0, buf, sizeof buf), 0);
}

static void test_program_exec_failure_at_launch(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char *argv[] = {"/nonexistent/prog", "train", NULL};
    backend_launch bl = {.name = "job1", .job_dir = f->dir, .argv = argv, .envp = envp};
    int64_t t0 = util_mono_ms();
    assert_int_equal(backend_start(f->b, &bl, f->handle, &e), ERR_VALIDATION);
    assert_true(util_mono_ms() - t0 < 2000);
    assert_string_equal(e.msg, "cannot execute /nonexistent/prog: No such file or directory");
    assert_string_equal(f->handle, "");
    /* Nothing is left running, and no result claims the job ran. */
    backend_watch *w = NULL;
    assert_int_not_equal(backend_watch_job(f->b, f->dir, "", on_end, f, &w), BACKEND_RUNNING);
    assert_null(w);
}

static void test_runner_exec_failure_at_launch(void **state) {
    fixture *f = *state;
    err_t e = {0};
    backend_env env = {.l = f->l, .runner_path = "/nonexistent/hpo-runner"};
    backend *b = backend_new("local", &env, &e);
    assert_non_null(b);
    char *argv[] = {"/bin/true", "train", NULL};
    backend_launch bl = {.name = "job1", .job_dir = f->dir, .argv = argv, .envp = envp};
    assert_int_equal(backend_start(b, &bl, f->handle, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "cannot execute /nonexistent/hpo-runner: No such file or directory");
    backend_free(b);
}

static void test_stop_escalates_past_a_stopped_runner(void **state) {
    fixture *f = *state;
    err_t e = {0};
    int rpid = 0, cpid = 0;
    assert_int_equal(start_sh(f, "exec sleep 100", 1, NULL, &e), 0);
    assert_int_equal(sscanf(f->handle, "%d:%*u:%d", &rpid, &cpid), 2);
    assert_true(alive(rpid) && alive(cpid));
    kill(rpid, SIGSTOP);
    int64_t t0 = util_mono_ms();
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0); /* idempotent */
    assert_true(util_mono_ms() - t0 < 100);                     /* never blocks */
    run_until_end(f, 10);
    int64_t took = util_mono_ms() - t0;
    assert_true(took >= 1000 && took < 4500); /* grace 1 s + margin 2 s */
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_LOST);
    assert_false(alive(rpid));
    assert_false(alive(cpid));
}

static void test_stop_of_a_live_runner(void **state) {
    fixture *f = *state;
    err_t e = {0};
    assert_int_equal(start_sh(f, "trap 'exit 7' TERM; while :; do sleep 0.05; done", 5, NULL, &e),
                     0);
    usleep(200000);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.stopped);
    assert_true(r.exited);
    assert_int_equal(r.code, 7);
}

static void test_setsid_grandchild_is_killed(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char script[600], pidf[300];
    snprintf(pidf, sizeof pidf, "%s.pid", f->dir);
    snprintf(script, sizeof script, "setsid sleep 300 & echo $! > %s; sleep 0.2; exit 0", pidf);
    assert_int_equal(start_sh(f, script, 5, NULL, &e), 0);
    run_until_end(f, 10);
    int pid = read_pid(pidf);
    unlink(pidf);
    assert_true(pid > 0);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 0);
    int gone = !alive(pid);
    if (!gone)
        kill(pid, SIGKILL);
    assert_true(gone);
}

static void test_model_is_packed_before_the_result(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char out[300], uri[400], want[700];
    snprintf(out, sizeof out, "%s.out", f->dir);
    snprintf(uri, sizeof uri, "file://%s", out);
    assert_int_equal(start_sh(f, "mkdir -p model && echo weights > model/w.txt", 5, uri, &e), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 0);
    snprintf(want, sizeof want, "file://%s/job1/output/model.tar.gz", out);
    assert_string_equal(r.model_uri, want);
    assert_string_equal(r.model_error, "");
    struct stat st;
    assert_int_equal(stat(want + 7, &st), 0);
    assert_true(st.st_size > 0);
    util_rm_rf(out);
}

static void test_model_error_is_reported(void **state) {
    fixture *f = *state;
    err_t e = {0};
    /* The output location cannot be created: packing fails and says why. */
    assert_int_equal(start_sh(f, "exit 0", 5, "file:///proc/openhpo-no-such-dir", &e), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_string_equal(r.model_uri, "");
    assert_non_null(strstr(r.model_error, "cannot create /proc/openhpo-no-such-dir"));
}

/* A copy of hpo-runner in DIR.bin, beside an hpo-pack that is the shell
 * script `pack_sh` (none when NULL); a backend that runs it to *b. */
static void private_runner(fixture *f, const char *pack_sh, char *path, size_t n, backend **b) {
    char cmd[1200], bin[300];
    err_t e = {0};
    snprintf(bin, sizeof bin, "%s.bin", f->dir);
    snprintf(path, n, "%s/hpo-runner", bin);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s' && cp '%s' '%s'", bin, bin, runner, path);
    assert_int_equal(system(cmd), 0);
    if (pack_sh) {
        char pack[400], *script = NULL;
        snprintf(pack, sizeof pack, "%s/hpo-pack", bin);
        assert_true(asprintf(&script, "#!/bin/sh\n%s\n", pack_sh) > 0);
        assert_int_equal(util_write_file(pack, script, strlen(script), UTIL_WRITE_PLAIN), 0);
        assert_int_equal(chmod(pack, 0755), 0);
        free(script);
    }
    backend_env env = {.l = f->l, .runner_path = path, .log_cap = 1 << 20};
    *b = backend_new("local", &env, &e);
    assert_non_null(*b);
}

static void test_missing_packer_fails_at_launch(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char path[400], want[600], bin[300];
    backend *b = NULL;
    private_runner(f, NULL, path, sizeof path, &b);
    char *argv[] = {"/bin/true", "train", NULL};
    backend_launch bl = {.name = "job1", .job_dir = f->dir, .argv = argv, .envp = envp};
    /* No model to pack: hpo-pack is not needed. */
    assert_int_equal(backend_start(b, &bl, f->handle, &e), 0);
    while (waitpid(-1, NULL, 0) > 0)
        ;
    /* A model to pack and nothing to pack it with: the launch says so. */
    bl.output_path = "file:///tmp";
    assert_int_equal(backend_start(b, &bl, f->handle, &e), ERR_VALIDATION);
    snprintf(bin, sizeof bin, "%s.bin", f->dir);
    snprintf(want, sizeof want, "hpo-runner: cannot find %s/hpo-pack: No such file or directory",
             bin);
    assert_string_equal(e.msg, want);
    backend_free(b);
    util_rm_rf(bin);
}

/* An hpo-pack that does not report: each way is a model error naming it. */
static void test_packer_without_report_is_a_model_error(void **state) {
    fixture *f = *state;
    const char *cases[][2] = {
        /* a flood of output, no report: read up to the cap, the rest dropped */
        {"head -c 300000 /dev/zero | tr '\\0' x; exit 0", "exited with status 0 without a report"},
        {"kill -9 $$", "was killed by signal 9 while packing the model"},
        {"echo 'ok file:///x'; exit 3", "exited with status 3 without a report"},
        {"echo 'error it broke'; exit 1", "it broke"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t e = {0};
        char path[400], bin[300];
        backend *b = NULL;
        private_runner(f, cases[i][0], path, sizeof path, &b);
        char *argv[] = {"/bin/true", "train", NULL};
        backend_launch bl = {.name = "job1",
                             .job_dir = f->dir,
                             .argv = argv,
                             .envp = envp,
                             .output_path = "file:///tmp"};
        assert_int_equal(backend_start(b, &bl, f->handle, &e), 0);
        while (waitpid(-1, NULL, 0) > 0)
            ;
        backend_result r;
        assert_int_equal(backend_result_of(b, f->dir, f->handle, &r), BACKEND_EXITED);
        assert_int_equal(r.code, 0);
        assert_string_equal(r.model_uri, "");
        if (!strstr(r.model_error, cases[i][1]))
            fail_msg("case %zu: model_error \"%s\"", i, r.model_error);
        backend_free(b);
        snprintf(bin, sizeof bin, "%s.bin", f->dir);
        util_rm_rf(bin);
    }
}

static void test_unwritable_result_is_not_lost(void **state) {
    fixture *f = *state;
    err_t e = {0};
    /* exit.json made a non-empty directory: the result cannot be renamed in. */
    assert_int_equal(start_sh(f, "mkdir -p exit.json/x", 5, NULL, &e), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.result_unwritable);
    assert_non_null(strstr(r.error, "could not be written"));
}

static void test_killed_runner_is_lost(void **state) {
    fixture *f = *state;
    err_t e = {0};
    int rpid = 0, cpid = 0;
    assert_int_equal(start_sh(f, "exec sleep 100", 5, NULL, &e), 0);
    assert_int_equal(sscanf(f->handle, "%d:%*u:%d", &rpid, &cpid), 2);
    /* Watched first: a runner killed before the watch is (rightly) reported
     * lost at once by the watch itself. */
    assert_int_equal(backend_watch_job(f->b, f->dir, f->handle, on_end, f, &f->w), BACKEND_RUNNING);
    assert_non_null(f->w);
    kill(rpid, SIGKILL);
    f->deadline = util_mono_ms() + 10 * 1000;
    loop_run(f->l);
    assert_true(f->ended);
    backend_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_LOST);
    assert_false(r.never_started); /* it ran: relaunching it spends a retry */
    for (int i = 0; i < 100 && alive(cpid); i++)
        usleep(10000);
    assert_false(alive(cpid));
}

/* A job directory the daemon prepared but never started a runner in (it
 * died first) is lost and never started: no retry is spent on it. */
static void test_never_started_job(void **state) {
    fixture *f = *state;
    backend_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(backend_result_of(f->b, f->dir, "", &r), BACKEND_LOST);
    assert_true(r.never_started);
}

/* The daemon dies while the runner starts (kill -9 of hpod): no one reads
 * the runner's start-up report. The runner must not die of SIGPIPE then —
 * the job has begun, and would be lost — but run it to its end. */
static void test_runner_outlives_a_dead_reader(void **state) {
    fixture *f = *state;
    int sp[2];
    assert_int_equal(pipe(sp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sp[0]);             /* the reader is gone before the report */
        signal(SIGPIPE, SIG_DFL); /* as the daemon starts it (spawn_runner) */
        if (dup2(sp[1], 5) < 0)
            _exit(126);
        char *argv[] = {runner,        "--dir",   f->dir,
                        "--status-fd", "5",       "--max-runtime",
                        "0",           "--grace", "1",
                        "--log-cap",   "65536",   "--",
                        "/bin/sh",     "-c",      "sleep 0.2; exit 3",
                        "sh",          "train",   NULL};
        execve(runner, argv, envp);
        _exit(127);
    }
    close(sp[0]);
    close(sp[1]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_false(WIFSIGNALED(st)); /* not killed by SIGPIPE */
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->dir, LOCAL_EXIT_FILE);
    FILE *fp = fopen(p, "r");
    assert_non_null(fp);
    char buf[512] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    assert_non_null(strstr(buf, "\"code\": 3"));
}

static void test_adopted_after_a_restart(void **state) {
    fixture *f = *state;
    err_t e = {0};
    assert_int_equal(start_sh(f, "sleep 0.5; exit 4", 5, NULL, &e), 0);
    /* A new daemon: a new backend finds the job by its handle, or by the
     * pid files when the handle was never recorded. */
    backend_free(f->b);
    backend_env env = {.l = f->l, .runner_path = runner, .log_cap = 1 << 20};
    f->b = backend_new("local", &env, &e);
    assert_non_null(f->b);
    backend_watch *w = NULL;
    assert_int_equal(backend_watch_job(f->b, f->dir, "", on_end, f, &w), BACKEND_RUNNING);
    assert_non_null(w);
    backend_unwatch(f->b, w);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_RUNNING);
    run_until_end(f, 10);
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 4);
    /* Ended: watching again says so at once, and a stop is a no-op. */
    w = NULL;
    assert_int_equal(backend_watch_job(f->b, f->dir, f->handle, on_end, f, &w), BACKEND_EXITED);
    assert_null(w);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
}

/* The job's environment is the program's alone: the runner (root, in
 * production) runs with a fixed one of its own. */
static void test_job_env_never_reaches_the_runner(void **state) {
    fixture *f = *state;
    err_t e = {0};
    int rpid = 0, cpid = 0;
    char *argv[] = {"/bin/sh", "-c", "exec sleep 100", "sh", "train", NULL};
    char *jenv[] = {"PATH=/usr/bin:/bin", "LD_PRELOAD=/nonexistent/hpo-test.so",
                    "OPENHPO_JOB_SECRET=s3cr3t", NULL};
    backend_launch bl = {.name = "job1", .job_dir = f->dir, .argv = argv, .envp = jenv, .grace = 1};
    assert_int_equal(backend_start(f->b, &bl, f->handle, &e), 0);
    assert_int_equal(sscanf(f->handle, "%d:%*u:%d", &rpid, &cpid), 2);
    char p[64];
    size_t n = 0;
    snprintf(p, sizeof p, "/proc/%d/environ", rpid);
    char *renv = util_read_file(p, 65536, &n);
    assert_non_null(renv);
    assert_int_equal(n, strlen(LOCAL_RUNNER_PATH) + 1);
    assert_string_equal(renv, LOCAL_RUNNER_PATH);
    free(renv);
    snprintf(p, sizeof p, "/proc/%d/environ", cpid);
    char *cenv = util_read_file(p, 65536, &n);
    assert_non_null(cenv);
    int found = 0;
    for (size_t i = 0; i < n; i += strlen(cenv + i) + 1)
        found |= !strcmp(cenv + i, "OPENHPO_JOB_SECRET=s3cr3t");
    free(cenv);
    assert_true(found);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
    run_until_end(f, 10);
}

/* ---- jobs run as another user (run_as) ---- */

static int skip_unless_test_user(void) {
    if (test_uid)
        return 0;
    fprintf(stderr, "test_backend_local: %s: run_as cannot be tested; skipped\n",
            geteuid() ? "not root" : "could not create a test user");
    return 1;
}

/* Lays out f->dir as contract.c does for a job run as the test user. */
static void prepare_run_as(fixture *f) {
    err_t e = {0};
    json_t *hp = json_object();
    req_training_def def = {0};
    contract_job cj = {.job_name = "job1",
                       .job_dir = f->dir,
                       .hyperparameters = hp,
                       .def = &def,
                       .run_as = 1,
                       .uid = test_uid,
                       .gid = test_gid};
    if (contract_prepare(&cj, &e))
        fail_msg("contract_prepare: %s", e.msg);
    json_decref(hp);
}

/* Starts `sh -c script` as uid:gid. 0 or the error. */
static int start_as(fixture *f, const char *script, long grace, long max_runtime,
                    const char *output_path, uid_t uid, gid_t gid, err_t *e) {
    char *argv[] = {"/bin/sh", "-c", (char *)script, "sh", "train", NULL};
    backend_launch bl = {.name = "job1",
                         .job_dir = f->dir,
                         .argv = argv,
                         .envp = envp,
                         .grace = grace,
                         .max_runtime = max_runtime,
                         .output_path = output_path,
                         .run_as = 1,
                         .uid = uid,
                         .gid = gid};
    return backend_start(f->b, &bl, f->handle, e);
}

/* The whole log of the job (at most 64 KiB), NUL-terminated; caller frees. */
static char *whole_log(fixture *f) {
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    ssize_t n = backend_read_log(f->b, f->dir, f->handle, 0, buf, 65535);
    assert_true(n >= 0);
    buf[n] = 0;
    return buf;
}

static void assert_daemons(const char *dir, const char *file) {
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, file);
    if (lstat(p, &st))
        fail_msg("%s: %s", p, strerror(errno));
    if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0600)
        fail_msg("%s is uid %u mode %04o, not the daemon's 0600", p, (unsigned)st.st_uid,
                 (unsigned)(st.st_mode & 07777));
}

static void test_run_as_confines_the_program(void **state) {
    fixture *f = *state;
    err_t e = {0};
    if (skip_unless_test_user())
        skip();
    prepare_run_as(f);
    char out[300], uri[400], want[700], line[200];
    snprintf(out, sizeof out, "%s.out", f->dir);
    assert_int_equal(mkdir(out, 0700), 0);
    assert_int_equal(chown(out, test_uid, test_gid), 0);
    snprintf(uri, sizeof uri, "file://%s", out);
    const char *script =
        "id -u; id -g; id -G; grep '^NoNewPrivs' /proc/self/status\n"
        "for f in runner.pid exit.json exit.json.tmp runner.lock child.pid output.log; do\n"
        "  (echo forged > $f) 2>/dev/null && echo \"WROTE $f\"\n"
        "done\n"
        "rm -f runner.pid 2>/dev/null; [ -e runner.pid ] || echo 'REMOVED runner.pid'\n"
        "cat output.log >/dev/null 2>&1 && echo 'READ output.log'\n"
        "cat runner.log >/dev/null 2>&1 && echo 'READ runner.log'\n"
        "cat exit.json.tmp >/dev/null 2>&1 && echo 'READ exit.json.tmp'\n"
        "ls . >/dev/null 2>&1 && echo 'LISTED the job directory'\n"
        "(touch newtop) 2>/dev/null && echo 'CREATED newtop'\n"
        "echo w > model/w.txt && echo 'MODEL OK'\n"
        "echo o > output/data/o.txt && echo 'OUTPUT OK'\n"
        "echo c > checkpoints/c && echo 'CHECKPOINTS OK'\n";
    assert_int_equal(start_as(f, script, 5, 0, uri, test_uid, test_gid, &e), 0);
    run_until_end(f, 20);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.exited);
    assert_int_equal(r.code, 0);
    char *log = whole_log(f);
    snprintf(line, sizeof line, "%u\n%u\n%u\nNoNewPrivs:\t1\n", (unsigned)test_uid,
             (unsigned)test_gid, (unsigned)test_gid);
    if (strncmp(log, line, strlen(line)))
        fail_msg("the program's ids are not the user's alone:\n%s", log);
    static const char *const must_not[] = {"WROTE", "READ", "REMOVED", "LISTED", "CREATED"};
    for (size_t i = 0; i < sizeof must_not / sizeof *must_not; i++)
        if (strstr(log, must_not[i]))
            fail_msg("the job's user could touch the daemon's files:\n%s", log);
    assert_non_null(strstr(log, "MODEL OK"));
    assert_non_null(strstr(log, "OUTPUT OK"));
    assert_non_null(strstr(log, "CHECKPOINTS OK"));
    free(log);
    /* The control files are the daemon's, 0600, and still say what the
     * runner wrote. */
    static const char *const ctl[] = {"runner.lock", "runner.pid", "runner.log",
                                      "output.log",  "child.pid",  "exit.json"};
    for (size_t i = 0; i < sizeof ctl / sizeof *ctl; i++)
        assert_daemons(f->dir, ctl[i]);
    int rpid = 0;
    char p[600];
    assert_int_equal(sscanf(f->handle, "%d:", &rpid), 1);
    snprintf(p, sizeof p, "%s/runner.pid", f->dir);
    assert_int_equal(read_pid(p), rpid);
    /* hpo-pack ran as the user too: the model is the user's. */
    snprintf(want, sizeof want, "file://%s/job1/output/model.tar.gz", out);
    assert_string_equal(r.model_error, "");
    assert_string_equal(r.model_uri, want);
    struct stat st;
    assert_int_equal(stat(want + 7, &st), 0);
    assert_int_equal(st.st_uid, test_uid);
    util_rm_rf(out);
}

static void test_run_as_packs_with_the_users_rights(void **state) {
    fixture *f = *state;
    err_t e = {0};
    if (skip_unless_test_user())
        skip();
    prepare_run_as(f);
    /* An output location only the daemon may write: hpo-pack, as the
     * user, cannot write the model there. */
    char out[300], uri[400];
    snprintf(out, sizeof out, "%s.out", f->dir);
    assert_int_equal(mkdir(out, 0700), 0);
    snprintf(uri, sizeof uri, "file://%s", out);
    assert_int_equal(start_as(f, "echo w > model/w.txt", 5, 0, uri, test_uid, test_gid, &e), 0);
    run_until_end(f, 20);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.model_uri, "");
    if (!strstr(r.model_error, "Permission denied"))
        fail_msg("model_error \"%s\"", r.model_error);
    util_rm_rf(out);
}

static void test_run_as_stops_times_out_and_reaps(void **state) {
    fixture *f = *state;
    err_t e = {0};
    if (skip_unless_test_user())
        skip();
    /* Stopped on request. */
    prepare_run_as(f);
    assert_int_equal(start_as(f, "trap 'exit 7' TERM; while :; do sleep 0.05; done", 5, 0, NULL,
                              test_uid, test_gid, &e),
                     0);
    usleep(200000);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.stopped);
    assert_int_equal(r.code, 7);
    backend_unwatch(f->b, f->w);
    f->w = NULL;
    f->ended = 0;
    /* Timed out: a program that ignores TERM is killed after the grace. */
    assert_int_equal(util_rm_rf(f->dir), 0);
    prepare_run_as(f);
    int64_t t0 = util_mono_ms();
    assert_int_equal(start_as(f, "trap '' TERM; sleep 100", 1, 1, NULL, test_uid, test_gid, &e), 0);
    run_until_end(f, 10);
    assert_true(util_mono_ms() - t0 < 6000);
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.timed_out);
    backend_unwatch(f->b, f->w);
    f->w = NULL;
    f->ended = 0;
    /* A setsid grandchild the user's program leaves is killed. */
    assert_int_equal(util_rm_rf(f->dir), 0);
    prepare_run_as(f);
    assert_int_equal(start_as(f, "setsid sleep 300 & echo $! > model/gc.pid; sleep 0.2; exit 0", 5,
                              0, NULL, test_uid, test_gid, &e),
                     0);
    run_until_end(f, 10);
    char p[600];
    snprintf(p, sizeof p, "%s/model/gc.pid", f->dir);
    int pid = read_pid(p);
    assert_true(pid > 0);
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 0);
    for (int i = 0; i < 100 && alive(pid); i++)
        usleep(10000);
    int gone = !alive(pid);
    if (!gone)
        kill(pid, SIGKILL);
    assert_true(gone);
}

/* A drop that cannot be made fails the start with the reason; the program
 * never runs as the daemon's user instead. */
static void test_run_as_drop_failure_fails_the_start(void **state) {
    fixture *f = *state;
    struct {
        uid_t uid;
        gid_t gid;
        const char *want;
    } cases[3];
    size_t n = 0;
    char want[3][200], p[600];
    if (geteuid() == 0) {
        /* (uid_t)-1 is "leave unchanged" to setresuid: caught by the check. */
        cases[n].uid = (uid_t)-1;
        cases[n].gid = 65534;
        cases[n++].want = "cannot run as uid 4294967295: the drop did not take: uid 0/0/0";
        cases[n].uid = 65534;
        cases[n].gid = (gid_t)-1;
        cases[n++].want = "cannot run as uid 65534: setgroups(4294967295): Invalid argument";
    } else {
        uid_t other = geteuid() == 65534 ? 65533 : 65534;
        snprintf(want[0], sizeof want[0],
                 "cannot run as uid %u: setgroups(%u): Operation not permitted", (unsigned)other,
                 (unsigned)other);
        cases[n].uid = other;
        cases[n].gid = other;
        cases[n++].want = want[0];
    }
    snprintf(p, sizeof p, "%s/ran", f->dir);
    for (size_t i = 0; i < n; i++) {
        err_t e = {0};
        char script[700];
        snprintf(script, sizeof script, "touch %s", p);
        assert_int_equal(start_as(f, script, 5, 0, NULL, cases[i].uid, cases[i].gid, &e),
                         ERR_VALIDATION);
        if (strncmp(e.msg, cases[i].want, strlen(cases[i].want)))
            fail_msg("case %zu: \"%s\"", i, e.msg);
        assert_string_equal(f->handle, "");
        assert_int_not_equal(access(p, F_OK), 0);
        backend_watch *w = NULL;
        assert_int_not_equal(backend_watch_job(f->b, f->dir, "", on_end, f, &w), BACKEND_RUNNING);
        assert_null(w);
    }
}

/* A job directory others may write is refused: its control files could be
 * forged. */
static void test_run_as_refuses_a_shared_job_dir(void **state) {
    fixture *f = *state;
    err_t e = {0};
    assert_int_equal(chmod(f->dir, 0777), 0);
    assert_int_equal(start_as(f, "exit 0", 5, 0, NULL, 65534, 65534, &e), ERR_VALIDATION);
    if (!strstr(e.msg, "cannot run as uid 65534: ") || !strstr(e.msg, "that only it may write"))
        fail_msg("\"%s\"", e.msg);
    assert_string_equal(f->handle, "");
}

static int group_setup(void **state) {
    if (geteuid() != 0)
        return 0;
    char cmd[300];
    snprintf(test_user, sizeof test_user, "hpo-ut-%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "useradd --system --no-create-home --user-group --shell /usr/sbin/nologin %s",
             test_user);
    struct passwd *pw = system(cmd) == 0 ? getpwnam(test_user) : NULL;
    if (!pw || pw->pw_uid == 0) {
        fprintf(stderr, "test_backend_local: cannot create user %s\n", test_user);
        test_user[0] = 0;
        return 0;
    }
    test_uid = pw->pw_uid;
    test_gid = pw->pw_gid;
    return 0;
}

static int group_teardown(void **state) {
    if (!test_user[0])
        return 0;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "userdel %s", test_user);
    if (system(cmd) != 0)
        fprintf(stderr, "test_backend_local: cannot remove user %s\n", test_user);
    return 0;
}

int main(void) {
    const char *env = getenv("HPO_RUNNER_BIN");
    if (env && env[0]) {
        snprintf(runner, sizeof runner, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", runner, sizeof runner - 32);
        if (n <= 0)
            return 1;
        runner[n] = 0;
        char *slash = strrchr(runner, '/'); /* BUILD/tests/test_backend_local */
        *slash = 0;
        slash = strrchr(runner, '/');
        snprintf(slash, sizeof runner - (size_t)(slash - runner), "/hpo-runner");
    }
    if (access(runner, X_OK)) {
        fprintf(stderr, "test_backend_local: no hpo-runner at %s (set HPO_RUNNER_BIN)\n", runner);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_code_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_exec_failure_at_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runner_exec_failure_at_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_escalates_past_a_stopped_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_of_a_live_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setsid_grandchild_is_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_is_packed_before_the_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_error_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_packer_fails_at_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packer_without_report_is_a_model_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_result_is_not_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_runner_is_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_started_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runner_outlives_a_dead_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopted_after_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_env_never_reaches_the_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_as_confines_the_program, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_as_packs_with_the_users_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_as_stops_times_out_and_reaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_as_drop_failure_fails_the_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_as_refuses_a_shared_job_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
