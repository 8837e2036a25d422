/* Local process backend: each job runs under hpo-runner (runner.c) on this
 * host. See backend.h for the contract and backends/local.h for the files
 * and the start-up report the runner and this file share.
 *
 * Liveness protocol (what makes restarts exact): before forking, the daemon
 * creates JOB_DIR/runner.lock and takes an exclusive flock on it; the forked
 * child writes JOB_DIR/runner.pid ("pid starttime grace") and execs
 * hpo-runner, which keeps the locked descriptor open for its whole life. So:
 *   lock held                      -> the runner is alive (the handle names it);
 *   lock free + exit.json          -> the job ended, exit.json says how;
 *   lock free + exit.unwritable    -> the job ended, its result could not be
 *                                     written (disk full): result_unwritable;
 *   lock free, neither             -> the runner never started or died: lost
 *                                     (what remains of the job is killed);
 *                                     never started when runner.pid is absent
 *                                     too (the fork that writes it never ran).
 *
 * Launch waits (at most LOCAL_START_WAIT_MS) for the runner's start-up
 * report on a pipe: the runner's own exec failure (reported by the forked
 * child) and the training program's (reported by the runner, which execs it
 * through a close-on-exec pipe) both fail the launch with "cannot execute
 * PROGRAM: reason". The handle is "RUNNER_PID:START:CHILD_PID:START:GRACE".
 *
 * Stop: SIGTERM to the runner (named by pid and start time), which TERMs the
 * program's group and KILLs it after the grace. Should the runner itself not
 * end by grace + LOCAL_STOP_MARGIN_S (SIGSTOPped, wedged), a timer on the
 * loop kills the job outright: every descendant of the runner, the
 * program's process group, the runner's session, the job's cgroup, and the
 * runner (SIGCONT + SIGKILL). Nothing blocks.
 *
 * As whom (backend_launch.run_as): with run_as 1 the runner gets --uid and
 * --gid and drops to them in the child it forks, just before it execs the
 * program (and hpo-pack); a drop that fails is a start failure, "cannot run
 * as uid N: reason" (runner.c). The runner itself, and so every signal,
 * cgroup kill and result file of the protocol above, stays the daemon's.
 * The job directory must then be contract.h's run_as layout: the daemon's,
 * mode 0711, holding the control files (local.h; all 0600 and the
 * daemon's) beside the user's input/ model/ output/ checkpoints/ (0700).
 * The job's user can neither replace nor add a top-level entry: a forged
 * runner.pid would make a restarted daemon signal whatever pid it names, a
 * forged exit.json would be taken as the job's result. The runner refuses
 * a job directory that anyone but its own user may write. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_impl.h"
#include "backends/local.h"
#include "util.h"

#define LOCAL_START_WAIT_MS 2000  /* longest wait for the runner's start-up report */
#define LOCAL_STOP_REARMS 15      /* ... put off at most this often while it finishes */
#define LOCAL_STOP_MARGIN_S 2     /* after grace: the runner had its chance */
#define LOCAL_DEFAULT_GRACE 120   /* grace of a job whose handle does not say */
#define LOCAL_MAX_PROCS (1 << 16) /* processes scanned per kill sweep */
#define LOCAL_KILL_ROUNDS 3       /* scans of the runner's process tree per kill */

#define LOCAL_UNLOCK_TRIES 100   /* a failed start waits for its lock's release this often */
#define LOCAL_UNLOCK_EVERY_MS 5  /* ... this far apart */
#define LOCAL_RMDIR_TRIES 50     /* a killed cgroup's removal is retried this often */
#define LOCAL_RMDIR_EVERY_MS 100 /* ... this far apart */

typedef struct escalation escalation;

/* A killed cgroup whose processes have not all gone yet: removed later. */
typedef struct cg_pending {
    struct cg_pending *next;
    int tries;
    char path[1024];
} cg_pending;

typedef struct {
    loop *l;
    char *runner;
    long long log_cap;
    escalation *esc; /* pending stop escalations (loop thread only) */
    cg_pending *cgs; /* cgroups to remove (loop thread only) */
    int cg_timer;    /* timerfd retrying their removal, or -1 */
} local;

struct backend_watch {
    int pidfd;
    int pid;
    int fired;
    void (*on_exit)(void *);
    void *ud;
    local *lb;
};

/* What a handle names. A handle of an older daemon has the runner only. */
typedef struct {
    int rpid;
    unsigned long long rstart;
    int cpid;
    unsigned long long cstart;
    long grace;
} job_ids;

struct escalation {
    escalation *next;
    int tfd;
    int rearms; /* times the kill was put off (the runner was finishing up) */
    job_ids ids;
    char job_dir[LOCAL_PATH_MAX];
    local *lb;
};

static void path_in(char *out, size_t n, const char *dir, const char *file) {
    snprintf(out, n, "%s/%s", dir, file);
}

/* 1 if some process holds the job's lock, 0 if not, -1 if there is no lock. */
static int lock_held(const char *job_dir) {
    char p[LOCAL_PATH_MAX];
    path_in(p, sizeof p, job_dir, LOCAL_LOCK_FILE);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int held = flock(fd, LOCK_EX | LOCK_NB) != 0;
    close(fd); /* releases our probe lock, if we got it */
    return held;
}

/* Reads "pid starttime [grace]" from JOB_DIR/<file>. 0 on success. */
static int read_pidfile(const char *job_dir, const char *file, int *pid, unsigned long long *start,
                        long *grace) {
    char p[LOCAL_PATH_MAX];
    long g = LOCAL_DEFAULT_GRACE;
    path_in(p, sizeof p, job_dir, file);
    char *s = util_read_file(p, 64, NULL);
    int rc = -1;
    if (s && sscanf(s, "%d %llu %ld", pid, start, &g) >= 2 && *pid > 0)
        rc = 0;
    if (grace)
        *grace = g;
    free(s);
    return rc;
}

/* The job's ids: from the handle, else (the daemon died before recording
 * it) from the pid files. 0 when at least the runner is known. */
static int job_ids_of(const char *job_dir, const char *handle, job_ids *o) {
    memset(o, 0, sizeof *o);
    o->grace = LOCAL_DEFAULT_GRACE;
    int n = handle ? sscanf(handle, "%d:%llu:%d:%llu:%ld", &o->rpid, &o->rstart, &o->cpid,
                            &o->cstart, &o->grace)
                   : 0;
    if (n < 2 || o->rpid <= 0) {
        if (read_pidfile(job_dir, LOCAL_RUNNER_PID_FILE, &o->rpid, &o->rstart, &o->grace))
            return -1;
        n = 2;
    }
    if (n < 4 || o->cpid <= 0)
        read_pidfile(job_dir, LOCAL_CHILD_PID_FILE, &o->cpid, &o->cstart, NULL);
    return 0;
}

static int alive(int pid, unsigned long long start) {
    return pid > 0 && start && util_proc_starttime(pid) == start;
}

/* ---- killing what remains of a job ---- */

/* Parent, process group and session of `pid` (/proc/PID/stat fields 4-6). */
static int proc_ids(int pid, int *ppid, int *pgrp, int *sid) {
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = 0;
    char *q = strrchr(buf, ')');
    if (!q || sscanf(q + 1, " %*c %d %d %d", ppid, pgrp, sid) != 3)
        return -1;
    return 0;
}

/* SIGKILLs every process that descends from `root` or is in session `sid`
 * (0: none); returns how many. One scan of /proc. */
static int kill_tree(int root, int sid) {
    typedef struct {
        int pid, ppid, sid, mark;
    } pinfo;
    pinfo *ps = calloc(LOCAL_MAX_PROCS, sizeof *ps);
    size_t np = 0;
    int killed = 0;
    DIR *d = opendir("/proc");
    if (!ps || !d)
        goto out;
    struct dirent *de;
    while ((de = readdir(d)) && np < LOCAL_MAX_PROCS) {
        int pid = atoi(de->d_name), ppid, pgrp, s;
        if (pid > 0 && proc_ids(pid, &ppid, &pgrp, &s) == 0)
            ps[np++] = (pinfo){pid, ppid, s, 0};
    }
    /* Mark the descendants of root (fixed point over the parent links). */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < np; i++) {
            if (ps[i].mark)
                continue;
            int in = (root > 0 && ps[i].ppid == root) || (sid > 0 && ps[i].sid == sid);
            for (size_t j = 0; !in && j < np; j++)
                in = ps[j].mark && ps[j].pid == ps[i].ppid;
            if (in) {
                ps[i].mark = 1;
                changed = 1;
            }
        }
    }
    for (size_t i = 0; i < np; i++)
        if (ps[i].mark && ps[i].pid != root && ps[i].pid != getpid()) {
            kill(ps[i].pid, SIGKILL);
            killed++;
        }
out:
    if (d)
        closedir(d);
    free(ps);
    return killed;
}

static void on_cg_timer(loop *l, int fd, uint32_t events, void *ud) {
    local *lb = ud;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_debug("cgroup timer: %s", strerror(errno));
    for (cg_pending **pp = &lb->cgs; *pp;) {
        cg_pending *c = *pp;
        if (rmdir(c->path) == 0 || errno != EBUSY || ++c->tries >= LOCAL_RMDIR_TRIES) {
            *pp = c->next;
            free(c);
            continue;
        }
        pp = &c->next;
    }
    if (!lb->cgs) {
        loop_del(lb->l, lb->cg_timer);
        close(lb->cg_timer);
        lb->cg_timer = -1;
    }
}

/* Removes a cgroup now, or later (on a timer) while its killed processes
 * are still on their way out. */
static void remove_cgroup(local *lb, const char *cg) {
    if (rmdir(cg) == 0 || errno != EBUSY)
        return;
    cg_pending *c = calloc(1, sizeof *c);
    if (!c)
        return;
    snprintf(c->path, sizeof c->path, "%s", cg);
    if (lb->cg_timer < 0) {
        struct itimerspec it = {.it_interval = {.tv_nsec = LOCAL_RMDIR_EVERY_MS * 1000000L},
                                .it_value = {.tv_nsec = LOCAL_RMDIR_EVERY_MS * 1000000L}};
        lb->cg_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (lb->cg_timer < 0 || timerfd_settime(lb->cg_timer, 0, &it, NULL) ||
            loop_add(lb->l, lb->cg_timer, EPOLLIN, on_cg_timer, lb)) {
            if (lb->cg_timer >= 0)
                close(lb->cg_timer);
            lb->cg_timer = -1;
            free(c);
            return; /* left behind: an empty directory */
        }
    }
    c->next = lb->cgs;
    lb->cgs = c;
}

/* Kills the job's cgroup, when the runner made one (JOB_DIR/cgroup), and
 * returns its path (caller frees), else NULL. Touches no loop state: safe
 * on any thread. */
static char *kill_cgroup_of(const char *job_dir) {
    char p[LOCAL_PATH_MAX];
    path_in(p, sizeof p, job_dir, LOCAL_CGROUP_FILE);
    char *cg = util_read_file(p, 1024, NULL);
    if (cg && cg[0] == '/' && strstr(cg, "/hpo-job-") && !strstr(cg, "..")) {
        snprintf(p, sizeof p, "%s/cgroup.kill", cg);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, "1", 1) != 1)
                log_debug("cannot kill cgroup %s: %s", cg, strerror(errno));
            close(fd);
        }
        return cg;
    }
    free(cg);
    return NULL;
}

/* Kills the job's cgroup and removes it (later, on the loop, while busy). */
static void kill_cgroup(local *lb, const char *job_dir) {
    char *cg = kill_cgroup_of(job_dir);
    if (cg)
        remove_cgroup(lb, cg);
    free(cg);
}

/* Kills everything of the job: the runner's whole tree and session, the
 * program's group, the cgroup; then the runner itself. Never blocks. */
static void kill_job(local *lb, const char *job_dir, const job_ids *ids) {
    int runner_alive = alive(ids->rpid, ids->rstart);
    /* A pid is not reused while a process group or session still has it as
     * its id: a group or session named by a dead runner or program is the
     * job's; one led by a live process with another start time is not. */
    int sid = runner_alive || util_proc_starttime(ids->rpid) == 0 ? ids->rpid : 0;
    uint64_t cst = ids->cpid > 0 ? util_proc_starttime(ids->cpid) : 1;
    if (runner_alive)
        kill(ids->rpid, SIGSTOP); /* it forks nothing more while its tree is killed */
    if (ids->cpid > 0 && (cst == 0 || cst == ids->cstart))
        kill(-ids->cpid, SIGKILL);
    for (int round = 0; round < LOCAL_KILL_ROUNDS; round++)
        if (kill_tree(runner_alive ? ids->rpid : 0, sid) == 0)
            break;
    kill_cgroup(lb, job_dir);
    if (runner_alive) {
        kill(ids->rpid, SIGKILL);
        kill(ids->rpid, SIGCONT);
    }
}

/* ---- launching ---- */

/* Reads the start-up report from fd: a line, EOF, or nothing by the
 * deadline. Returns bytes read (buf NUL-terminated), or -1 on timeout. */
static ssize_t read_report(int fd, char *buf, size_t n) {
    size_t got = 0;
    int64_t deadline = util_mono_ms() + LOCAL_START_WAIT_MS;
    for (;;) {
        int64_t left = deadline - util_mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t k = read(fd, buf + got, n - 1 - got);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
        if (got >= n - 1 || memchr(buf, '\n', got))
            break;
    }
    buf[got] = 0;
    return (ssize_t)got;
}

/* The calling process's start time (/proc/self/stat field 22), read with
 * plain system calls: for the vforked child, which must not use stdio or
 * malloc. 0 when unreadable. */
static unsigned long long own_starttime(void) {
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = 0;
    char *p = strrchr(buf, ')');
    for (int field = 2; field < 22 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* What the runner's child needs (all borrowed). */
typedef struct {
    int lockfd, statusfd, envfd;
    const char *logp, *pidp;
    char *const *argv;
    long grace;
} spawn_args;

/* Starts the runner: vfork, so no copy of the daemon's page tables and no
 * copy-on-write faults for its other threads afterwards (a fork of a
 * large, multi-threaded daemon stalls the loop thread for milliseconds).
 * The child shares our memory until it execs: it only makes system calls
 * and formats into its own stack (no malloc, no stdio). A function of its
 * own, so vfork clobbers none of the caller's variables. Returns the
 * child's pid, or -1 (errno set). */
static pid_t __attribute__((noinline)) spawn_runner(const spawn_args *a) {
    pid_t pid = vfork();
    if (pid != 0)
        return pid;
    /* Child: become the runner. */
    setsid();
    signal(SIGPIPE, SIG_DFL);
    signal(SIGTERM, SIG_DFL); /* the daemon's handlers are not the runner's */
    signal(SIGINT, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int lk = fcntl(a->lockfd, F_DUPFD_CLOEXEC, 10), st = fcntl(a->statusfd, F_DUPFD_CLOEXEC, 10);
    int ev = fcntl(a->envfd, F_DUPFD_CLOEXEC, 10);
    if (lk < 0 || st < 0 || ev < 0)
        _exit(127); /* the daemon reads EOF: "ended while starting" */
    int devnull = open("/dev/null", O_RDONLY);
    int logfd = open(a->logp, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
    if (devnull >= 0)
        dup2(devnull, 0);
    if (logfd >= 0) {
        dup2(logfd, 1);
        dup2(logfd, 2);
    }
    dup2(lk, LOCAL_LOCK_FD); /* dup2 clears FD_CLOEXEC on the copies */
    dup2(st, LOCAL_STATUS_FD);
    dup2(ev, LOCAL_ENV_FD);
    syscall(SYS_close_range, (unsigned)LOCAL_ENV_FD + 1, ~0U, 0U);
    char buf[LOCAL_STATUS_MAX];
    int n = snprintf(buf, sizeof buf, "%d %llu %ld\n", (int)getpid(), own_starttime(), a->grace);
    if (util_write_file(a->pidp, buf, (size_t)n, UTIL_WRITE_ATOMIC) == 0)
        chmod(a->pidp, 0600);
    char *const runner_env[] = {LOCAL_RUNNER_PATH, NULL};
    execve(a->argv[0], a->argv, runner_env);
    n = snprintf(buf, sizeof buf, "error cannot execute %s: %s\n", a->argv[0], strerror(errno));
    if (n > 0 &&
        write(LOCAL_STATUS_FD, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
        _exit(127);
    _exit(127);
}

/* The job's environment in a memfd for the runner (local.h): its
 * descriptor, or -1 with e set. */
static int env_memfd(char *const *envp, err_t *e) {
    size_t total = 0;
    for (char *const *p = envp; *p; p++)
        total += strlen(*p) + 1;
    if (total > LOCAL_ENV_MAX) {
        err_set(e, ERR_VALIDATION, "the job's environment is %zu bytes, more than %d", total,
                LOCAL_ENV_MAX);
        return -1;
    }
    int fd = memfd_create("hpo-job-env", MFD_CLOEXEC);
    if (fd < 0) {
        err_set(e, ERR_INTERNAL, "memfd_create: %s", strerror(errno));
        return -1;
    }
    for (char *const *p = envp; *p; p++) {
        size_t n = strlen(*p) + 1;
        for (const char *q = *p; n > 0;) {
            ssize_t w = write(fd, q, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                err_set(e, ERR_INTERNAL, "cannot write the job's environment: %s",
                        strerror(w < 0 ? errno : EIO));
                close(fd);
                return -1;
            }
            q += w;
            n -= (size_t)w;
        }
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        err_set(e, ERR_INTERNAL, "lseek: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int local_start(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX],
                       err_t *e) {
    local *lb = self;
    char lockp[LOCAL_PATH_MAX], logp[LOCAL_PATH_MAX], pidp[LOCAL_PATH_MAX];
    int lockfd = -1, sp[2] = {-1, -1}, rc = ERR_INTERNAL, envfd = -1;
    char **argv = NULL;
    size_t argc = 0;
    pid_t pid = -1;
    while (l->argv[argc])
        argc++;
    path_in(lockp, sizeof lockp, l->job_dir, LOCAL_LOCK_FILE);
    path_in(logp, sizeof logp, l->job_dir, LOCAL_RUNNER_LOG_FILE);
    path_in(pidp, sizeof pidp, l->job_dir, LOCAL_RUNNER_PID_FILE);
    lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
        err_set(e, ERR_INTERNAL, "cannot lock %s: %s", lockp, strerror(errno));
        goto out;
    }
    if (pipe2(sp, O_CLOEXEC)) {
        err_set(e, ERR_INTERNAL, "pipe: %s", strerror(errno));
        goto out;
    }
    if ((envfd = env_memfd(l->envp, e)) < 0)
        goto out;
    char maxrt[32], grace[32], cap[32], lockfds[8], statusfds[8];
    snprintf(maxrt, sizeof maxrt, "%ld", l->max_runtime);
    snprintf(grace, sizeof grace, "%ld", l->grace);
    snprintf(cap, sizeof cap, "%lld", lb->log_cap);
    snprintf(lockfds, sizeof lockfds, "%d", LOCAL_LOCK_FD);
    snprintf(statusfds, sizeof statusfds, "%d", LOCAL_STATUS_FD);
    char uid[16], gid[16];
    char envfds[8];
    snprintf(envfds, sizeof envfds, "%d", LOCAL_ENV_FD);
    const char *head[24] = {lb->runner, "--dir",       l->job_dir, "--lock-fd",
                            lockfds,    "--status-fd", statusfds,  "--max-runtime",
                            maxrt,      "--grace",     grace,      "--log-cap",
                            cap,        "--env-fd",    envfds};
    size_t nhead = 15;
    if (l->output_path && l->name) {
        head[nhead++] = "--job-name";
        head[nhead++] = l->name;
        head[nhead++] = "--output-path";
        head[nhead++] = l->output_path;
    }
    if (l->run_as) {
        snprintf(uid, sizeof uid, "%u", (unsigned)l->uid);
        snprintf(gid, sizeof gid, "%u", (unsigned)l->gid);
        head[nhead++] = "--uid";
        head[nhead++] = uid;
        head[nhead++] = "--gid";
        head[nhead++] = gid;
    }
    head[nhead++] = "--";
    argv = calloc(nhead + argc + 1, sizeof *argv);
    if (!argv) {
        err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nhead; i++)
        argv[i] = (char *)head[i];
    for (size_t i = 0; i < argc; i++)
        argv[nhead + i] = l->argv[i];
    pid = spawn_runner(&(const spawn_args){.lockfd = lockfd,
                                           .statusfd = sp[1],
                                           .logp = logp,
                                           .pidp = pidp,
                                           .argv = argv,
                                           .envfd = envfd,
                                           .grace = l->grace});
    if (pid < 0) {
        err_set(e, ERR_INTERNAL, "vfork: %s", strerror(errno));
        goto out;
    }
    unsigned long long start = (unsigned long long)util_proc_starttime((int)pid);
    close(sp[1]);
    sp[1] = -1;
    char rep[LOCAL_STATUS_MAX];
    int cpid = 0;
    unsigned long long cstart = 0;
    ssize_t got = read_report(sp[0], rep, sizeof rep);
    if (got > 0 && sscanf(rep, "ok %d %llu", &cpid, &cstart) == 2 && cpid > 0) {
        snprintf(handle, BACKEND_HANDLE_MAX, "%d:%llu:%d:%llu:%ld", (int)pid, start, cpid, cstart,
                 l->grace);
        rc = 0;
        goto out;
    }
    int ended = 0, wst = 0;
    if (got > 0)
        rep[strcspn(rep, "\n")] = 0;
    if (got > 0 && !strncmp(rep, "error ", 6))
        rc = err_set(e, ERR_VALIDATION, "%s", rep + 6);
    else if (got < 0)
        rc = err_set(e, ERR_INTERNAL, "%s did not start within %d ms", lb->runner,
                     LOCAL_START_WAIT_MS);
    else
        ended = 1; /* gone before its report: how it ended is known once reaped */
    /* The runner is not running a job: make sure of it (the program dies
     * with it; its cgroup, if made, is killed) and reap it. */
    kill(-pid, SIGKILL);
    waitpid(pid, &wst, 0);
    if (ended && WIFSIGNALED(wst))
        /* Killed from outside before it reported (an OOM kill, an admin's
         * kill -9): the platform lost it, as a runner lost later is, so
         * the engine launches it again (RetriedAttempt + 1). */
        rc = err_set(e, ERR_UNAVAILABLE, "%s was killed while starting (signal %d)", lb->runner,
                     WTERMSIG(wst));
    else if (ended)
        rc = err_set(e, ERR_INTERNAL, "%s ended while starting (see %s)", lb->runner, logp);
    /* The lock goes with the last holder of its descriptor: ours, then the
     * runner's, which a task of the runner's may share for a moment after
     * the runner is reaped (a sanitizer's exit-time tracer does). No caller
     * may find the job "running" once this returns: wait, boundedly. */
    close(lockfd);
    lockfd = -1;
    for (int i = 0; i < LOCAL_UNLOCK_TRIES && lock_held(l->job_dir) > 0; i++) {
        struct timespec ts = {0, LOCAL_UNLOCK_EVERY_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* start may run on the engine's worker thread: no loop state here (the
     * runner sweeps its own cgroup; this one is removed once it has
     * emptied, a bounded number of tries, else left empty). */
    char *cg = kill_cgroup_of(l->job_dir);
    for (int i = 0; cg && i < LOCAL_RMDIR_TRIES && rmdir(cg) && errno == EBUSY; i++) {
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(cg);
out:
    if (lockfd >= 0)
        close(lockfd);
    if (envfd >= 0)
        close(envfd);
    if (sp[0] >= 0)
        close(sp[0]);
    if (sp[1] >= 0)
        close(sp[1]);
    free(argv);
    return rc;
}

/* ---- watching ---- */

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
    char p[LOCAL_PATH_MAX], q[LOCAL_PATH_MAX];
    path_in(p, sizeof p, job_dir, LOCAL_EXIT_FILE);
    path_in(q, sizeof q, job_dir, LOCAL_UNWRITABLE_FILE);
    return access(p, F_OK) == 0 || access(q, F_OK) == 0 ? BACKEND_EXITED : BACKEND_LOST;
}

static backend_state local_watch(void *self, const char *job_dir, const char *handle,
                                 void (*on_exit)(void *ud), void *ud, backend_watch **wp) {
    local *lb = self;
    job_ids ids;
    *wp = NULL;
    int held = lock_held(job_dir);
    if (held <= 0)
        return ended_state(job_dir);
    if (job_ids_of(job_dir, handle, &ids))
        return BACKEND_RUNNING; /* forked a moment ago: look again later */
    int pidfd = (int)syscall(SYS_pidfd_open, ids.rpid, 0);
    if (pidfd < 0 || util_proc_starttime(ids.rpid) != ids.rstart) {
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
    w->pid = ids.rpid;
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
    if (!w->fired)
        loop_del(lb->l, w->pidfd);
    close(w->pidfd);
    free(w);
}

/* ---- stopping ---- */

static void escalation_free(local *lb, escalation *x) {
    for (escalation **pp = &lb->esc; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    loop_del(lb->l, x->tfd);
    close(x->tfd);
    free(x);
}

/* 1 when the runner is stopped (SIGSTOP, ptrace): /proc/PID/stat state T/t. */
static int is_stopped(int pid) {
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = 0;
    char *q = strrchr(buf, ')');
    return q && q[1] == ' ' && (q[2] == 'T' || q[2] == 't');
}

static void on_escalate(loop *l, int fd, uint32_t events, void *ud) {
    escalation *x = ud;
    if (!alive(x->ids.rpid, x->ids.rstart)) {
        escalation_free(x->lb, x);
        return;
    }
    /* A running runner whose program has ended is finishing up (the kill
     * sweep, exit.json): give it a little longer, a bounded number of times. */
    int program_gone = x->ids.cpid > 0 && !alive(x->ids.cpid, x->ids.cstart);
    if (program_gone && !is_stopped(x->ids.rpid) && x->rearms++ < LOCAL_STOP_REARMS) {
        struct itimerspec it = {.it_value = {.tv_sec = LOCAL_STOP_MARGIN_S}};
        if (timerfd_settime(x->tfd, 0, &it, NULL) == 0)
            return;
    }
    log_warn("job in %s did not stop within its grace period; killing it", x->job_dir);
    kill_job(x->lb, x->job_dir, &x->ids);
    escalation_free(x->lb, x);
}

static int local_stop(void *self, const char *job_dir, const char *handle) {
    local *lb = self;
    job_ids ids;
    if (job_ids_of(job_dir, handle, &ids) || !alive(ids.rpid, ids.rstart))
        return 0; /* not started, or ended: result() kills any remains */
    kill(ids.rpid, SIGTERM);
    for (escalation *x = lb->esc; x; x = x->next)
        if (x->ids.rpid == ids.rpid && x->ids.rstart == ids.rstart)
            return 0; /* already asked */
    escalation *x = calloc(1, sizeof *x);
    if (!x)
        return ERR_INTERNAL;
    x->ids = ids;
    x->lb = lb;
    snprintf(x->job_dir, sizeof x->job_dir, "%s", job_dir);
    x->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec it = {
        .it_value = {.tv_sec = (ids.grace > 0 ? ids.grace : 0) + LOCAL_STOP_MARGIN_S}};
    if (x->tfd < 0 || timerfd_settime(x->tfd, 0, &it, NULL) ||
        loop_add(lb->l, x->tfd, EPOLLIN, on_escalate, x)) {
        if (x->tfd >= 0)
            close(x->tfd);
        free(x);
        return ERR_INTERNAL;
    }
    x->next = lb->esc;
    lb->esc = x;
    return 0;
}

/* ---- results and logs ---- */

static backend_state local_result(void *self, const char *job_dir, const char *handle,
                                  backend_result *r) {
    local *lb = self;
    char p[LOCAL_PATH_MAX];
    job_ids ids;
    if (lock_held(job_dir) > 0)
        return BACKEND_RUNNING;
    path_in(p, sizeof p, job_dir, LOCAL_EXIT_FILE);
    if (backend_read_result_file(p, r) == 0)
        return BACKEND_EXITED;
    /* No result: make sure no part of the job survives before anyone
     * retries (the program dies with its runner; what it started may not). */
    if (job_ids_of(job_dir, handle, &ids) == 0)
        kill_job(lb, job_dir, &ids);
    else
        kill_cgroup(lb, job_dir);
    path_in(p, sizeof p, job_dir, LOCAL_UNWRITABLE_FILE);
    if (access(p, F_OK) == 0) {
        r->result_unwritable = 1;
        snprintf(r->error, sizeof r->error,
                 "the training job ended but its result could not be written to %s/%s "
                 "(is the disk full?)",
                 job_dir, LOCAL_EXIT_FILE);
        return BACKEND_EXITED;
    }
    path_in(p, sizeof p, job_dir, LOCAL_RUNNER_PID_FILE);
    r->never_started = access(p, F_OK) != 0 && errno == ENOENT;
    return BACKEND_LOST;
}

static ssize_t local_read_log(void *self, const char *job_dir, const char *handle, int64_t offset,
                              char *buf, size_t n) {
    char p[LOCAL_PATH_MAX];
    path_in(p, sizeof p, job_dir, LOCAL_LOG_FILE);
    return backend_read_log_file(p, offset, buf, n);
}

/* ---- the backend ---- */

static void *local_create(const backend_env *env, err_t *e) {
    local *lb = calloc(1, sizeof *lb);
    if (!env->l || !env->runner_path) {
        free(lb);
        err_set(e, ERR_INTERNAL, "the local backend needs a loop and hpo-runner's path");
        return NULL;
    }
    if (!lb || !(lb->runner = strdup(env->runner_path))) {
        free(lb);
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    lb->l = env->l;
    lb->cg_timer = -1;
    lb->log_cap = env->log_cap > 0 ? env->log_cap : 64LL << 20;
    return lb;
}

static void local_destroy(void *self) {
    local *lb = self;
    if (!lb)
        return;
    while (lb->esc)
        escalation_free(lb, lb->esc);
    while (lb->cgs) {
        cg_pending *c = lb->cgs;
        lb->cgs = c->next;
        rmdir(c->path);
        free(c);
    }
    if (lb->cg_timer >= 0) {
        loop_del(lb->l, lb->cg_timer);
        close(lb->cg_timer);
    }
    free(lb->runner);
    free(lb);
}

const backend_ops backend_local_ops = {
    .name = "local",
    .caps = BACKEND_CAP_HOST_DIR | BACKEND_CAP_PACKS_MODEL,
    .create = local_create,
    .destroy = local_destroy,
    .start = local_start,
    .watch = local_watch,
    .unwatch = local_unwatch,
    .stop = local_stop,
    .result = local_result,
    .read_log = local_read_log,
};
