/* Local process backend. See backend.h for the contract.
 *
 * Liveness protocol (what makes restarts exact): before forking, the daemon
 * creates JOB_DIR/runner.lock and takes an exclusive flock on it; the forked
 * child writes JOB_DIR/runner.pid ("pid starttime") and execs hpo-runner,
 * which keeps the locked descriptor open for its whole life. So:
 *   lock held                 -> the runner is alive (runner.pid names it);
 *   lock free + exit.json     -> the job ended, exit.json says how;
 *   lock free, no exit.json   -> the runner never started or died: lost.
 * The training program itself gets PR_SET_PDEATHSIG from the runner, so it
 * never outlives a lost runner. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "util.h"

typedef struct {
    loop *l;
    char *runner;
    long long log_cap;
} local;

struct backend_watch {
    int pidfd;
    int pid;
    int fired;
    void (*on_exit)(void *);
    void *ud;
    local *lb;
};

static void path_in(char *out, size_t n, const char *dir, const char *file) {
    snprintf(out, n, "%s/%s", dir, file);
}

/* 1 if some process holds the job's lock, 0 if not, -1 if there is no lock. */
static int lock_held(const char *job_dir) {
    char p[1100];
    path_in(p, sizeof p, job_dir, "runner.lock");
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int held = flock(fd, LOCK_EX | LOCK_NB) != 0;
    close(fd); /* releases our probe lock, if we got it */
    return held;
}

/* Reads "pid starttime" from JOB_DIR/<file>. 0 on success. */
static int read_pidfile(const char *job_dir, const char *file, int *pid,
                        unsigned long long *start) {
    char p[1100];
    path_in(p, sizeof p, job_dir, file);
    char *s = util_read_file(p, 64, NULL);
    int rc = -1;
    if (s && sscanf(s, "%d %llu", pid, start) == 2 && *pid > 0)
        rc = 0;
    free(s);
    return rc;
}

static int local_launch(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX],
                        err_t *e) {
    local *lb = self;
    char lockp[1100], logp[1100];
    int lockfd = -1, rc = ERR_INTERNAL;
    char **argv = NULL;
    size_t argc = 0;
    while (l->argv[argc])
        argc++;
    path_in(lockp, sizeof lockp, l->job_dir, "runner.lock");
    path_in(logp, sizeof logp, l->job_dir, "runner.log");
    lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
        err_set(e, ERR_INTERNAL, "cannot lock %s: %s", lockp, strerror(errno));
        goto out;
    }
    char maxrt[32], grace[32], cap[32];
    snprintf(maxrt, sizeof maxrt, "%ld", l->max_runtime);
    snprintf(grace, sizeof grace, "%ld", l->grace);
    snprintf(cap, sizeof cap, "%lld", lb->log_cap);
    const char *head[] = {lb->runner, "--dir",   l->job_dir, "--lock-fd", "3", "--max-runtime",
                          maxrt,      "--grace", grace,      "--log-cap", cap, "--"};
    size_t nhead = sizeof head / sizeof *head;
    argv = calloc(nhead + argc + 1, sizeof *argv);
    if (!argv)
        goto out;
    for (size_t i = 0; i < nhead; i++)
        argv[i] = (char *)head[i];
    for (size_t i = 0; i < argc; i++)
        argv[nhead + i] = l->argv[i];
    pid_t pid = fork();
    if (pid < 0) {
        err_set(e, ERR_INTERNAL, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Child: become the runner. Only async-signal-safe-ish work here. */
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (devnull >= 0)
            dup2(devnull, 0);
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        dup2(lockfd, 3); /* dup2 clears FD_CLOEXEC on the copy */
        syscall(SYS_close_range, 4U, ~0U, 0U);
        char pidbuf[64], pidp[1100];
        int n = snprintf(pidbuf, sizeof pidbuf, "%d %llu\n", (int)getpid(),
                         (unsigned long long)util_proc_starttime((int)getpid()));
        path_in(pidp, sizeof pidp, l->job_dir, "runner.pid");
        util_write_file(pidp, pidbuf, (size_t)n, UTIL_WRITE_ATOMIC);
        execve(argv[0], argv, l->envp);
        dprintf(2, "hpod: cannot execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    unsigned long long start = (unsigned long long)util_proc_starttime((int)pid);
    snprintf(handle, BACKEND_HANDLE_MAX, "%d:%llu", (int)pid, start);
    rc = 0;
out:
    if (lockfd >= 0)
        close(lockfd);
    free(argv);
    return rc;
}

static void on_pidfd(loop *l, int fd, uint32_t events, void *ud) {
    backend_watch *w = ud;
    loop_del(l, fd);
    waitpid(w->pid, NULL, WNOHANG); /* reap when it is our child; harmless otherwise */
    if (!w->fired) {
        w->fired = 1;
        w->on_exit(w->ud);
    }
}

static backend_state ended_state(const char *job_dir) {
    char p[1100];
    path_in(p, sizeof p, job_dir, "exit.json");
    return access(p, F_OK) == 0 ? BACKEND_EXITED : BACKEND_LOST;
}

static backend_state local_watch(void *self, const char *job_dir, const char *handle,
                                 void (*on_exit)(void *ud), void *ud, backend_watch **wp) {
    local *lb = self;
    int pid;
    unsigned long long start;
    *wp = NULL;
    int held = lock_held(job_dir);
    if (held <= 0)
        return ended_state(job_dir);
    /* The handle names the runner; runner.pid does when the daemon died before
     * recording the handle. */
    if ((!handle || sscanf(handle, "%d:%llu", &pid, &start) != 2 || pid <= 0) &&
        read_pidfile(job_dir, "runner.pid", &pid, &start))
        return BACKEND_RUNNING; /* forked a moment ago: look again later */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 || util_proc_starttime(pid) != start) {
        if (pidfd >= 0)
            close(pidfd);
        /* The runner has gone; the lock is about to be released. */
        return lock_held(job_dir) > 0 ? BACKEND_RUNNING : ended_state(job_dir);
    }
    backend_watch *w = calloc(1, sizeof *w);
    if (!w) {
        close(pidfd);
        return BACKEND_RUNNING;
    }
    w->pidfd = pidfd;
    w->pid = pid;
    w->on_exit = on_exit;
    w->ud = ud;
    w->lb = lb;
    if (loop_add(lb->l, pidfd, EPOLLIN, on_pidfd, w)) {
        close(pidfd);
        free(w);
        return BACKEND_RUNNING;
    }
    *wp = w;
    return BACKEND_RUNNING;
}

static void local_unwatch(void *self, backend_watch *w) {
    local *lb = self;
    if (!w)
        return;
    if (!w->fired)
        loop_del(lb->l, w->pidfd);
    close(w->pidfd);
    free(w);
}

/* Signals a process named by a pid file, if it is still that process. */
static void signal_pidfile(const char *job_dir, const char *file, int sig, int group) {
    int pid;
    unsigned long long start;
    if (read_pidfile(job_dir, file, &pid, &start))
        return;
    if (util_proc_starttime(pid) != start)
        return;
    kill(group ? -pid : pid, sig);
}

static int local_stop(void *self, const char *job_dir, const char *handle) {
    signal_pidfile(job_dir, "runner.pid", SIGTERM, 0);
    return 0;
}

static backend_state local_result(void *self, const char *job_dir, const char *handle,
                                  backend_result *r) {
    char p[1100];
    memset(r, 0, sizeof *r);
    if (lock_held(job_dir) > 0)
        return BACKEND_RUNNING;
    path_in(p, sizeof p, job_dir, "exit.json");
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) {
        /* Lost: make sure no part of the job survives before anyone retries. */
        signal_pidfile(job_dir, "child.pid", SIGKILL, 1);
        return BACKEND_LOST;
    }
    r->exited = json_is_true(json_object_get(j, "exited"));
    r->code = (int)json_integer_value(json_object_get(j, "code"));
    r->signal = (int)json_integer_value(json_object_get(j, "signal"));
    r->timed_out = json_is_true(json_object_get(j, "timed_out"));
    r->stopped = json_is_true(json_object_get(j, "stopped"));
    r->started = json_number_value(json_object_get(j, "started"));
    r->ended = json_number_value(json_object_get(j, "ended"));
    const char *err = json_string_value(json_object_get(j, "error"));
    snprintf(r->error, sizeof r->error, "%s", err ? err : "");
    json_decref(j);
    return BACKEND_EXITED;
}

static void local_destroy(void *self) {
    local *lb = self;
    if (!lb)
        return;
    free(lb->runner);
    free(lb);
}

static const backend_ops local_ops = {"local",    local_launch, local_watch,  local_unwatch,
                                      local_stop, local_result, local_destroy};

backend *backend_local_new(loop *l, const char *runner_path, long long log_cap) {
    backend *b = calloc(1, sizeof *b);
    local *lb = calloc(1, sizeof *lb);
    if (!b || !lb || !(lb->runner = strdup(runner_path))) {
        free(b);
        if (lb)
            free(lb->runner);
        free(lb);
        return NULL;
    }
    lb->l = l;
    lb->log_cap = log_cap;
    b->ops = &local_ops;
    b->self = lb;
    return b;
}

void backend_free(backend *b) {
    if (!b)
        return;
    b->ops->destroy(b->self);
    free(b);
}
