/* Slurm backend: each training job is one sbatch submission whose batch
 * script runs hpo-runner (runner.c) on the allocated node(s) against the job
 * directory, which lives on a filesystem every node shares (the daemon's
 * data dir, at the same path everywhere). See backend.h for the contract,
 * backends/slurm.h for the files, docs/BACKENDS.md for the settings.
 *
 * Start (on the engine's worker thread; touches no loop state): writes the
 * batch script and JOB_DIR/slurm.submit (the Slurm job name, so that a
 * daemon that dies before the handle is stored finds the job by name), runs
 * `sbatch --parsable --no-requeue --job-name=... --nodes=N --time=...` with
 * the job's environment (--export=ALL), and records the id in
 * JOB_DIR/slurm.jobid. The handle is "JOBID:NHOSTS:GRACE".
 *
 * The batch script runs the runner directly (one host) or, for
 * InstanceCount N > 1, `srun --ntasks-per-node=1` of the same script once
 * per node: host K (SLURM_NODEID + 1, node order) is algo-K, with its own
 * input/config/resourceconfig.json (algo-1 in JOB_DIR itself, the others in
 * JOB_DIR/hosts/algo-K) and SM_CURRENT_HOST / SM_HOSTS; host K > 1's
 * SM_CHANNEL_<X> names JOB_DIR/hosts/algo-K/input/data/<x> for the s3://
 * channels the launch linked there (its shard, channels.h). algo-1's runner
 * writes output.log (what hpod reads metrics from) and exit.json, and packs
 * the model.
 *
 * Status: a periodic timer (poll_ms) runs ONE `squeue -h -t all -j
 * ID,ID,...` for every job it follows (never one per job) as a child
 * process whose output the loop reads; jobs squeue no longer knows are asked
 * of `sacct` in one more batched query when accounting is configured. A job
 * in a terminal state fires its watch's on_exit; result() maps the state
 * and the runner's files (see result()). Jobs found by name after a restart
 * are looked up with one `squeue --name=...` the same way.
 *
 * Stop: `scancel --full --signal=TERM` (the runner TERMs the program, KILLs
 * it after the grace and writes exit.json), then, should the job still be
 * there grace + SLURM_STOP_MARGIN_S later, `scancel --full --signal=KILL`
 * and `scancel`. Both are child processes the timer reaps: nothing blocks
 * the loop. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_impl.h"
#include "backends/local.h"
#include "backends/slurm.h"
#include "instance.h"
#include "util.h"

extern char **environ;

#define SLURM_PATH_MAX 4200           /* a job directory path plus a file name */
#define SLURM_SCRIPT_MAX (64 << 10)   /* bytes of a batch script */
#define SLURM_SUBMIT_OUT_MAX 4096     /* bytes of sbatch's answer kept */
#define SLURM_SUBMIT_WAIT_MS 60000    /* longest wait for sbatch */
#define SLURM_QUERY_OUT_MAX (4 << 20) /* bytes of one squeue/sacct answer */
#define SLURM_QUERY_IDS_MAX 1000      /* job ids named in one query */
#define SLURM_QUERY_WAIT_MS 30000     /* a query running longer is killed */
#define SLURM_CHILDREN_MAX 1024       /* helper processes (scancel) not reaped yet */
#define SLURM_STOP_MARGIN_S 5         /* after grace: the runner had its chance */
#define SLURM_TIME_MARGIN_S 60        /* Slurm's --time after max runtime + grace */
#define SLURM_SETTLE_S 60             /* a submission not found by name is lost after this */
#define SLURM_FORGET_MS (600 * 1000)  /* an ended, unwatched job is forgotten after this */
#define SLURM_DEFAULT_POLL_MS 500
#define SLURM_ARGS_MAX 64 /* extra sbatch arguments and container command words */
#define SLURM_DEFAULT_GRACE 120
#define SLURM_HOSTS_MAX 256 /* InstanceCount */

/* The Slurm job states (squeue's %T), what each means. */
#define SLURM_STATES(X)                                                                            \
    X("PENDING", SLURM_K_ACTIVE)                                                                   \
    X("RUNNING", SLURM_K_ACTIVE)                                                                   \
    X("CONFIGURING", SLURM_K_ACTIVE)                                                               \
    X("COMPLETING", SLURM_K_ACTIVE)                                                                \
    X("SUSPENDED", SLURM_K_ACTIVE)                                                                 \
    X("REQUEUED", SLURM_K_ACTIVE)                                                                  \
    X("REQUEUE_HOLD", SLURM_K_ACTIVE)                                                              \
    X("REQUEUE_FED", SLURM_K_ACTIVE)                                                               \
    X("RESIZING", SLURM_K_ACTIVE)                                                                  \
    X("SIGNALING", SLURM_K_ACTIVE)                                                                 \
    X("STAGE_OUT", SLURM_K_ACTIVE)                                                                 \
    X("STOPPED", SLURM_K_ACTIVE)                                                                   \
    X("RESV_DEL_HOLD", SLURM_K_ACTIVE)                                                             \
    X("COMPLETED", SLURM_K_DONE)                                                                   \
    X("CANCELLED", SLURM_K_CANCEL)                                                                 \
    X("TIMEOUT", SLURM_K_TIMEOUT)                                                                  \
    X("DEADLINE", SLURM_K_TIMEOUT)                                                                 \
    X("FAILED", SLURM_K_FAILED)                                                                    \
    X("SPECIAL_EXIT", SLURM_K_FAILED)                                                              \
    X("REVOKED", SLURM_K_FAILED)                                                                   \
    X("OUT_OF_MEMORY", SLURM_K_OOM)                                                                \
    X("NODE_FAIL", SLURM_K_INFRA)                                                                  \
    X("PREEMPTED", SLURM_K_INFRA)                                                                  \
    X("BOOT_FAIL", SLURM_K_INFRA)

static const struct {
    const char *name;
    slurm_kind kind;
} slurm_states[] = {
#define X(n, k) {n, k},
    SLURM_STATES(X)
#undef X
};

slurm_kind slurm_state_kind(const char *name) {
    size_t len = name ? strcspn(name, " ") : 0; /* sacct: "CANCELLED by 0" */
    for (size_t i = 0; name && i < sizeof slurm_states / sizeof *slurm_states; i++)
        if (strlen(slurm_states[i].name) == len && !strncmp(slurm_states[i].name, name, len))
            return slurm_states[i].kind;
    return SLURM_K_ACTIVE;
}

void slurm_time_limit(long max_runtime, long grace, char *out, size_t n) {
    if (max_runtime <= 0) {
        snprintf(out, n, "%s", "");
        return;
    }
    long s = max_runtime + (grace > 0 ? grace : 0) + SLURM_TIME_MARGIN_S;
    snprintf(out, n, "%ld", (s + 59) / 60);
}

static int copy_field(const char *from, size_t len, char *to, size_t n) {
    if (len >= n)
        len = n - 1;
    memcpy(to, from, len);
    to[len] = 0;
    return 0;
}

int slurm_parse_line(const char *line, slurm_row *out) {
    memset(out, 0, sizeof *out);
    char *end = NULL;
    errno = 0;
    long long id = strtoll(line, &end, 10);
    if (errno || id <= 0 || end == line || *end != '|')
        return -1; /* an error message, or a step ("123.batch|...") */
    const char *f = end + 1, *bar = strchr(f, '|');
    if (!bar)
        return -1;
    copy_field(f, (size_t)(bar - f), out->state, sizeof out->state);
    f = bar + 1;
    if ((bar = strchr(f, '|'))) {
        copy_field(f, (size_t)(bar - f), out->reason, sizeof out->reason);
        f = bar + 1;
        copy_field(f, strcspn(f, "\r\n"), out->name, sizeof out->name);
    } else {
        copy_field(f, strcspn(f, "\r\n"), out->reason, sizeof out->reason);
    }
    if (!out->state[0])
        return -1;
    out->id = id;
    return 0;
}

/* ---- state ---- */

typedef struct sjob sjob;
typedef struct slurm slurm;

/* A Slurm job the backend follows (loop thread only). */
struct sjob {
    sjob *next;
    long long id; /* 0: only its name is known yet (found again after a restart) */
    char name[SLURM_FIELD_MAX];
    char state[SLURM_FIELD_MAX];
    char reason[SLURM_FIELD_MAX];
    slurm_kind kind;
    int known;      /* a query answered for it */
    int need_sacct; /* squeue no longer knows it: ask sacct */
    int watchers;
    long grace;
    int64_t added_ms, used_ms;
    int64_t kill_at;     /* stop escalation due (monotonic ms), 0: none */
    int stop_pending;    /* a stop asked before its id was known */
    unsigned gen;        /* the query that last answered for it */
    double submitted_at; /* id 0: when slurm.submit was written (wall clock) */
};

struct backend_watch {
    backend_watch *next;
    sjob *j;
    void (*on_exit)(void *);
    void *ud;
    int fired;
};

typedef enum { Q_IDS, Q_NAMES, Q_SACCT } query_kind;

typedef struct {
    pid_t pid;
    int fd;
    query_kind kind;
    char *buf;
    size_t len;
    long long *ids; /* what was asked (Q_IDS, Q_SACCT) */
    int eof;        /* the answer has been read; waiting for the exit status */
    size_t nids;
    int64_t started_ms;
} query;

struct slurm {
    loop *l;
    char *runner;
    long long log_cap;
    char bin[1024];   /* where sbatch, squeue, scancel, sacct are */
    char *slurm_conf; /* SLURM_CONF for every command, or NULL */
    char *partition, *account;
    char *extra[SLURM_ARGS_MAX]; /* extra sbatch arguments */
    size_t nextra;
    char *container[SLURM_ARGS_MAX]; /* container runtime command ({image} replaced) */
    size_t ncontainer;
    int cpus, gpus; /* per node, overriding the instance table (0: from it) */
    long mem_mib;
    int size_by_instance;
    int use_sacct;
    char *sacct_extra; /* e.g. "-c" (jobcomp/filetxt), or NULL */
    int poll_ms;
    char **env; /* the daemon's environment + SLURM_CONF: for squeue, scancel */
    int timer;
    sjob *jobs;                         /* loop thread only */
    backend_watch *watches;             /* loop thread only */
    query q;                            /* the query in flight (q.pid > 0), loop thread only */
    unsigned gen;                       /* queries made (loop thread only) */
    pid_t children[SLURM_CHILDREN_MAX]; /* loop thread only */
    size_t nchildren;
};

static void path_in(char *out, size_t n, const char *dir, const char *file) {
    snprintf(out, n, "%s/%s", dir, file);
}

static void cmd_path(const slurm *sb, const char *prog, char *out, size_t n) {
    snprintf(out, n, "%s/%s", sb->bin, prog);
}

/* A copy of `base` without SLURM_CONF, plus SLURM_CONF=conf (when set) and
 * `add` (may be NULL). NULL-terminated; caller frees with env_free(). */
static char **env_build(char *const *base, const char *conf, const char *add) {
    size_t n = 0, k = 0;
    while (base && base[n])
        n++;
    char **e = calloc(n + 3, sizeof *e);
    if (!e)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(base[i], "SLURM_CONF=", 11) && !(e[k++] = strdup(base[i])))
            goto fail;
    if (conf) {
        size_t len = strlen(conf) + 12;
        if (!(e[k] = malloc(len)))
            goto fail;
        snprintf(e[k++], len, "SLURM_CONF=%s", conf);
    }
    if (add && !(e[k++] = strdup(add)))
        goto fail;
    return e;
fail:
    for (size_t i = 0; i < k; i++)
        free(e[i]);
    free(e);
    return NULL;
}

static void env_free(char **e) {
    for (size_t i = 0; e && e[i]; i++)
        free(e[i]);
    free(e);
}

/* Starts argv with env, stdin /dev/null, stdout and stderr into a pipe
 * whose read end goes to *outfd (O_CLOEXEC; NULL: to /dev/null). Returns
 * the pid, or -1 (errno set). Safe on any thread. */
static pid_t spawn_cmd(char *const *argv, char *const *env, int *outfd) {
    int p[2] = {-1, -1};
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    if (outfd && pipe2(p, O_CLOEXEC))
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (outfd) {
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    int rc = posix_spawn(&pid, argv[0], &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (outfd)
        close(p[1]);
    if (rc) {
        if (outfd)
            close(p[0]);
        errno = rc;
        return -1;
    }
    if (outfd)
        *outfd = p[0];
    return pid;
}

/* Runs argv to its end (blocking; at most wait_ms): its output (stdout and
 * stderr, at most cap - 1 bytes) into out[cap]. Returns its exit status
 * (0-255), or -1 when it could not run or was killed for taking too long
 * (out says why). For start() and create() only. */
static int run_cmd(char *const *argv, char *const *env, char *out, size_t cap, int wait_ms) {
    int fd = -1, st = 0;
    size_t got = 0;
    out[0] = 0;
    pid_t pid = spawn_cmd(argv, env, &fd);
    if (pid < 0) {
        snprintf(out, cap, "cannot run %s: %s", argv[0], strerror(errno));
        return -1;
    }
    int64_t deadline = util_mono_ms() + wait_ms;
    int timed_out = 0;
    for (;;) {
        int64_t left = deadline - util_mono_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        char tmp[1024];
        ssize_t k = read(fd, tmp, sizeof tmp);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t take = (size_t)k < cap - 1 - got ? (size_t)k : cap - 1 - got;
        memcpy(out + got, tmp, take);
        got += take;
    }
    out[got] = 0;
    close(fd);
    if (timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        snprintf(out, cap, "%s did not answer within %d ms", argv[0], wait_ms);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The job id of `sbatch --parsable`'s answer: the line "ID" or
 * "ID;CLUSTER" (warnings may come before it). 0 when there is none. */
static long long parsable_id(const char *out) {
    for (const char *line = out; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        size_t d = strspn(line, "0123456789");
        if (d > 0 && d < 19 && strchr(";\r\n", line[d]))
            return strtoll(line, NULL, 10);
    }
    return 0;
}

/* Last non-empty line of s, in place (s is modified). */
static const char *last_line(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = 0;
    char *nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

/* Appends s to the script, single-quoted for sh. -1 when it does not fit. */
static int sh_quote(char *buf, size_t cap, size_t *len, const char *s) {
    if (*len + 2 >= cap)
        return -1;
    buf[(*len)++] = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            if (*len + 5 >= cap)
                return -1;
            memcpy(buf + *len, "'\\''", 4);
            *len += 4;
        } else {
            if (*len + 2 >= cap)
                return -1;
            buf[(*len)++] = *s;
        }
    }
    buf[(*len)++] = '\'';
    buf[*len] = 0;
    return 0;
}

static int sh_add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int sh_add(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap - *len)
        return -1;
    *len += (size_t)k;
    return 0;
}

/* ---- the job's files ---- */

/* The job's id from JOB_DIR/slurm.jobid, or 0. */
static long long file_jobid(const char *job_dir) {
    char p[SLURM_PATH_MAX];
    path_in(p, sizeof p, job_dir, SLURM_JOBID_FILE);
    char *s = util_read_file(p, 64, NULL);
    long long id = s ? strtoll(s, NULL, 10) : 0;
    free(s);
    return id > 0 ? id : 0;
}

/* What slurm.submit says: the Slurm job name, hosts, grace. 0, or -1 when
 * there is none (never submitted). *age_s: seconds since it was written. */
static int file_submit(const char *job_dir, char *name, size_t n, int *hosts, long *grace,
                       double *age_s) {
    char p[SLURM_PATH_MAX];
    struct stat sst;
    path_in(p, sizeof p, job_dir, SLURM_SUBMIT_FILE);
    char *s = util_read_file(p, 512, NULL);
    char nm[SLURM_FIELD_MAX] = "";
    int h = 1;
    long g = SLURM_DEFAULT_GRACE;
    int rc = -1;
    if (s && sscanf(s, "%127s %d %ld", nm, &h, &g) >= 1) {
        snprintf(name, n, "%s", nm);
        *hosts = h > 0 ? h : 1;
        *grace = g;
        *age_s = stat(p, &sst) == 0 ? util_now() - (double)sst.st_mtime : 0;
        rc = 0;
    }
    free(s);
    return rc;
}

/* What a job is: id, hosts, grace, from the handle or the files. 0 when
 * the id is known; 1 when only its name is (found again after a restart);
 * -1 when it was never submitted. */
static int ids_of(const char *job_dir, const char *handle, long long *id, int *hosts, long *grace,
                  char *name, size_t n, double *age_s) {
    *id = 0;
    *hosts = 1;
    *grace = SLURM_DEFAULT_GRACE;
    *age_s = 0;
    name[0] = 0;
    if (handle && sscanf(handle, "%lld:%d:%ld", id, hosts, grace) >= 1 && *id > 0)
        return 0;
    int sub = file_submit(job_dir, name, n, hosts, grace, age_s);
    if ((*id = file_jobid(job_dir)) > 0)
        return 0;
    return sub == 0 ? 1 : -1;
}

/* Reads RUNNER_DIR/exit.json into r (backends/local.h's format). 0, or -1
 * when there is none. */
static int read_exit(const char *dir, backend_result *r) {
    char p[SLURM_PATH_MAX];
    path_in(p, sizeof p, dir, LOCAL_EXIT_FILE);
    return backend_read_result_file(p, r);
}

static int exists_in(const char *dir, const char *file) {
    char p[SLURM_PATH_MAX];
    path_in(p, sizeof p, dir, file);
    return access(p, F_OK) == 0;
}

/* The runner's "error ..." start-up report (it could not start the
 * program), into out; 1 when there is one. */
static int runner_error(const char *dir, char *out, size_t n) {
    char p[SLURM_PATH_MAX];
    path_in(p, sizeof p, dir, SLURM_STATUS_FILE);
    char *s = util_read_file(p, 1024, NULL);
    int rc = 0;
    if (s && !strncmp(s, "error ", 6)) {
        s[strcspn(s, "\n")] = 0;
        snprintf(out, n, "%s", s + 6);
        rc = 1;
    }
    free(s);
    return rc;
}

/* The last line of JOB_DIR/slurm.out (the batch script's own output). */
static void slurm_out_tail(const char *job_dir, char *out, size_t n) {
    char p[SLURM_PATH_MAX];
    path_in(p, sizeof p, job_dir, SLURM_OUT_FILE);
    size_t len = 0;
    char *s = util_read_file(p, 1 << 20, &len);
    out[0] = 0;
    if (s) {
        char *from = len > 512 ? s + len - 512 : s;
        snprintf(out, n, "%s", last_line(from));
    }
    free(s);
}

/* ---- following jobs (loop thread) ---- */

static sjob *job_find(slurm *sb, long long id, const char *name) {
    for (sjob *j = sb->jobs; j; j = j->next)
        if ((id > 0 && j->id == id) || (id <= 0 && name[0] && !j->id && !strcmp(j->name, name)))
            return j;
    return NULL;
}

static sjob *job_get(slurm *sb, long long id, const char *name, long grace) {
    sjob *j = job_find(sb, id, name);
    if (!j && (j = calloc(1, sizeof *j))) {
        j->id = id > 0 ? id : 0;
        snprintf(j->name, sizeof j->name, "%s", name);
        j->kind = SLURM_K_ACTIVE;
        j->grace = grace;
        j->added_ms = util_mono_ms();
        j->next = sb->jobs;
        sb->jobs = j;
    }
    if (j)
        j->used_ms = util_mono_ms();
    return j;
}

static void child_add(slurm *sb, pid_t pid) {
    if (sb->nchildren < SLURM_CHILDREN_MAX)
        sb->children[sb->nchildren++] = pid;
    else
        log_warn("slurm: %d helper processes not reaped yet", SLURM_CHILDREN_MAX);
}

static void children_reap(slurm *sb) {
    for (size_t i = 0; i < sb->nchildren;) {
        pid_t r = waitpid(sb->children[i], NULL, WNOHANG);
        if (r == sb->children[i] || (r < 0 && errno == ECHILD))
            sb->children[i] = sb->children[--sb->nchildren];
        else
            i++;
    }
}

/* Runs `scancel ARGS... ID` without waiting for it. */
static void scancel(slurm *sb, long long id, const char *a1, const char *a2) {
    char prog[1100], ids[32];
    cmd_path(sb, "scancel", prog, sizeof prog);
    snprintf(ids, sizeof ids, "%lld", id);
    char *argv[5] = {prog};
    size_t n = 1;
    if (a1)
        argv[n++] = (char *)a1;
    if (a2)
        argv[n++] = (char *)a2;
    argv[n++] = ids;
    argv[n] = NULL;
    pid_t pid = spawn_cmd(argv, sb->env, NULL);
    if (pid < 0)
        log_warn("slurm: cannot run %s for job %lld: %s", prog, id, strerror(errno));
    else
        child_add(sb, pid);
}

static void send_stop(slurm *sb, sjob *j) {
    if (!j->kill_at)
        j->kill_at = util_mono_ms() + ((j->grace > 0 ? j->grace : 0) + SLURM_STOP_MARGIN_S) * 1000;
    if (j->known && !strcmp(j->state, "PENDING"))
        scancel(sb, j->id, NULL, NULL); /* nothing runs yet: cancel it outright */
    else
        scancel(sb, j->id, "--full", "--signal=TERM");
}

static void fire_ended(slurm *sb) {
    for (backend_watch *w = sb->watches; w; w = w->next)
        if (!w->fired && w->j->known && w->j->kind != SLURM_K_ACTIVE) {
            w->fired = 1;
            w->on_exit(w->ud);
        }
}

static void query_end(slurm *sb) {
    if (sb->q.fd >= 0) {
        loop_del(sb->l, sb->q.fd);
        close(sb->q.fd);
    }
    if (sb->q.pid > 0)
        child_add(sb, sb->q.pid);
    free(sb->q.buf);
    free(sb->q.ids);
    memset(&sb->q, 0, sizeof sb->q);
    sb->q.fd = -1;
    children_reap(sb);
}

/* Applies a finished query's answer; `ok`: the command succeeded (exit 0,
 * or squeue's "Invalid job id": none of them is known), so what it did not
 * name is not known to Slurm. */
static void query_apply(slurm *sb, int ok) {
    query *q = &sb->q;
    size_t parsed = 0;
    sb->gen++;
    for (char *line = q->buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        slurm_row row;
        if (slurm_parse_line(line, &row))
            continue;
        parsed++;
        sjob *j = job_find(sb, row.id, "");
        if (!j && q->kind == Q_NAMES) {
            /* Found by name: the newest submission of that name is the job. */
            for (sjob *k = sb->jobs; k; k = k->next)
                if (!k->id && !strcmp(k->name, row.name))
                    j = k;
            if (j) {
                j->id = row.id;
                log_info("slurm: found job %s again as Slurm job %lld", row.name, row.id);
                if (j->stop_pending)
                    send_stop(sb, j);
            }
        }
        if (!j)
            continue;
        snprintf(j->state, sizeof j->state, "%s", row.state);
        snprintf(j->reason, sizeof j->reason, "%s", row.reason);
        j->kind = slurm_state_kind(row.state);
        j->known = 1;
        j->need_sacct = 0;
        j->gen = sb->gen;
    }
    if (q->kind == Q_NAMES) {
        /* Names squeue does not know: never submitted (after the settle time). */
        for (sjob *j = sb->jobs; j; j = j->next)
            if (!j->id && ok && util_now() - j->submitted_at >= SLURM_SETTLE_S) {
                j->known = 1; /* result() says never started */
                j->kind = SLURM_K_UNKNOWN;
            }
    } else if (ok) {
        /* Asked for and not answered: Slurm has forgotten them. */
        for (size_t i = 0; i < q->nids; i++) {
            sjob *j = job_find(sb, q->ids[i], "");
            if (!j)
                continue;
            if (j->gen == sb->gen)
                continue; /* answered */
            if (q->kind == Q_IDS && sb->use_sacct) {
                j->need_sacct = 1;
            } else {
                j->known = 1;
                j->kind = SLURM_K_UNKNOWN;
                j->need_sacct = 0;
                snprintf(j->state, sizeof j->state, "%s", "UNKNOWN");
            }
        }
    } else {
        log_debug("slurm: status query failed: %s", q->buf ? last_line(q->buf) : "");
    }
    fire_ended(sb);
}

/* The query's answer is read: applies it once its exit status is known
 * (now, or on a later timer tick: never waiting here). */
static void query_finish(slurm *sb) {
    query *q = &sb->q;
    int st = 0;
    pid_t r = waitpid(q->pid, &st, WNOHANG);
    if (r == 0)
        return;
    int ok = r == q->pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && q->buf && strstr(q->buf, "Invalid job id"))
        ok = 1;
    q->pid = 0; /* reaped */
    query_apply(sb, ok);
    query_end(sb);
}

static void on_query(loop *l, int fd, uint32_t events, void *ud) {
    slurm *sb = ud;
    query *q = &sb->q;
    for (;;) {
        if (q->len + 1 >= SLURM_QUERY_OUT_MAX) {
            log_warn("slurm: a status answer exceeded %d bytes; reading the rest is skipped",
                     SLURM_QUERY_OUT_MAX);
            break;
        }
        ssize_t k = read(fd, q->buf + q->len, SLURM_QUERY_OUT_MAX - 1 - q->len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            return;
        if (k <= 0)
            break;
        q->len += (size_t)k;
    }
    q->buf[q->len] = 0;
    loop_del(sb->l, fd);
    close(fd);
    q->fd = -1;
    q->eof = 1;
    query_finish(sb);
}

/* Starts the one status query of this tick, when one is needed. */
static void query_start(slurm *sb) {
    if (sb->q.pid > 0)
        return; /* one at a time */
    size_t nid = 0, nname = 0, nsacct = 0;
    for (sjob *j = sb->jobs; j; j = j->next) {
        if (!j->id)
            nname++;
        else if (j->need_sacct)
            nsacct++;
        else if (!j->known || j->kind == SLURM_K_ACTIVE)
            nid++;
    }
    query_kind kind = nname ? Q_NAMES : nid ? Q_IDS : nsacct ? Q_SACCT : Q_IDS;
    if (!nname && !nid && !nsacct)
        return;
    char prog[1100];
    size_t cap = SLURM_QUERY_IDS_MAX * 24 + 16, len = 0;
    char *list = malloc(cap);
    long long *ids = calloc(SLURM_QUERY_IDS_MAX, sizeof *ids);
    char *buf = malloc(SLURM_QUERY_OUT_MAX);
    size_t n = 0;
    int fd = -1;
    if (!list || !ids || !buf)
        goto fail;
    list[0] = 0;
    for (sjob *j = sb->jobs; j && n < SLURM_QUERY_IDS_MAX; j = j->next) {
        int want = kind == Q_NAMES ? !j->id
                   : kind == Q_SACCT
                       ? j->id && j->need_sacct
                       : j->id && !j->need_sacct && (!j->known || j->kind == SLURM_K_ACTIVE);
        if (!want)
            continue;
        int k = kind == Q_NAMES ? snprintf(list + len, cap - len, "%s%s", n ? "," : "", j->name)
                                : snprintf(list + len, cap - len, "%s%lld", n ? "," : "", j->id);
        if (k < 0 || (size_t)k >= cap - len)
            break;
        len += (size_t)k;
        ids[n++] = j->id;
    }
    char *argv[16];
    size_t a = 0;
    char sel[16];
    if (kind == Q_SACCT) {
        cmd_path(sb, "sacct", prog, sizeof prog);
        argv[a++] = prog;
        argv[a++] = "-n";
        argv[a++] = "-P";
        argv[a++] = "-X";
        if (sb->sacct_extra)
            argv[a++] = sb->sacct_extra;
        argv[a++] = "-o";
        argv[a++] = "JobIDRaw,State,Reason,JobName";
        argv[a++] = "-j";
        argv[a++] = list;
    } else {
        cmd_path(sb, "squeue", prog, sizeof prog);
        argv[a++] = prog;
        argv[a++] = "-h";
        argv[a++] = "-t";
        argv[a++] = "all";
        argv[a++] = "-o";
        argv[a++] = "%i|%T|%r|%j";
        snprintf(sel, sizeof sel, "%s", kind == Q_NAMES ? "--name" : "-j");
        argv[a++] = sel;
        argv[a++] = list;
    }
    argv[a] = NULL;
    pid_t pid = spawn_cmd(argv, sb->env, &fd);
    if (pid < 0) {
        log_warn("slurm: cannot run %s: %s", prog, strerror(errno));
        goto fail;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    sb->q = (query){.pid = pid,
                    .fd = fd,
                    .kind = kind,
                    .buf = buf,
                    .ids = ids,
                    .nids = kind == Q_NAMES ? 0 : n,
                    .started_ms = util_mono_ms()};
    if (loop_add(sb->l, fd, EPOLLIN, on_query, sb)) {
        sb->q.fd = -1;
        close(fd);
        kill(pid, SIGKILL);
        sb->q.buf = NULL;
        sb->q.ids = NULL;
        query_end(sb);
        goto fail;
    }
    free(list);
    return;
fail:
    free(list);
    free(ids);
    free(buf);
}

static void on_timer(loop *l, int fd, uint32_t events, void *ud) {
    slurm *sb = ud;
    uint64_t x;
    if (read(fd, &x, sizeof x) < 0 && errno != EAGAIN)
        log_debug("slurm timer: %s", strerror(errno));
    int64_t now = util_mono_ms();
    children_reap(sb);
    if (sb->q.pid > 0 && sb->q.eof)
        query_finish(sb);
    if (sb->q.pid > 0 && now - sb->q.started_ms > SLURM_QUERY_WAIT_MS) {
        log_warn("slurm: a status query took over %d ms; killed", SLURM_QUERY_WAIT_MS);
        kill(sb->q.pid, SIGKILL);
        sb->q.buf = (free(sb->q.buf), NULL);
        query_end(sb);
    }
    for (sjob **pp = &sb->jobs; *pp;) {
        sjob *j = *pp;
        if (j->kill_at && now >= j->kill_at) {
            j->kill_at = 0;
            if (j->kind == SLURM_K_ACTIVE && j->id) {
                log_warn("slurm: job %lld did not stop within its grace period; killing it", j->id);
                scancel(sb, j->id, "--full", "--signal=KILL");
                scancel(sb, j->id, NULL, NULL);
            }
        }
        if (!j->watchers && j->known && j->kind != SLURM_K_ACTIVE &&
            now - j->used_ms > SLURM_FORGET_MS) {
            *pp = j->next;
            free(j);
            continue;
        }
        pp = &j->next;
    }
    query_start(sb);
}

/* ---- the ops ---- */

/* Resolves prog on PATH of envp (as execvp would): 0, or errno. */
static int check_exec(const char *prog, char *const *envp) {
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0 ? 0 : errno;
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (size_t i = 0; envp[i]; i++)
        if (!strncmp(envp[i], "PATH=", 5))
            path = envp[i] + 5;
    int err = ENOENT;
    while (*path) {
        size_t n = strcspn(path, ":");
        char p[SLURM_PATH_MAX];
        snprintf(p, sizeof p, "%.*s/%s", (int)n, n ? path : ".", prog);
        if (access(p, X_OK) == 0)
            return 0;
        if (errno != ENOENT)
            err = errno;
        path += n + (path[n] == ':');
    }
    return err;
}

/* Writes the batch script (see the top of this file). */
static int write_script(slurm *sb, const backend_launch *l, char *const *argv, int hosts,
                        err_t *e) {
    char *s = malloc(SLURM_SCRIPT_MAX), p[SLURM_PATH_MAX];
    size_t n = 0, cap = SLURM_SCRIPT_MAX;
    int rc = 0;
    if (!s)
        return err_set(e, ERR_INTERNAL, "out of memory");
    s[0] = 0;
    rc |= sh_add(s, cap, &n, "#!/bin/sh\n# openhpo: the Slurm batch script of training job ");
    rc |= sh_add(s, cap, &n, "%s (src/backends/slurm.c)\nD=", l->name ? l->name : "");
    rc |= sh_quote(s, cap, &n, l->job_dir);
    rc |= sh_add(s, cap, &n,
                 "\nif [ \"$1\" != task ]; then\n"
                 "  echo \"$SLURM_JOB_ID\" > \"$D/%s.tmp\" && mv -f \"$D/%s.tmp\" \"$D/%s\"\n",
                 SLURM_JOBID_FILE, SLURM_JOBID_FILE, SLURM_JOBID_FILE);
    if (hosts > 1) {
        char srun[1100];
        cmd_path(sb, "srun", srun, sizeof srun);
        rc |= sh_add(s, cap, &n, "  exec ");
        rc |= sh_quote(s, cap, &n, srun);
        rc |= sh_add(s, cap, &n,
                     " --nodes=%d --ntasks=%d --ntasks-per-node=1 --kill-on-bad-exit=1 "
                     "/bin/sh \"$D/%s\" task\n",
                     hosts, hosts, SLURM_SCRIPT_FILE);
    }
    rc |= sh_add(s, cap, &n, "fi\nK=$(( ${SLURM_NODEID:-0} + 1 ))\nH=algo-$K\nHOSTS='[");
    for (int k = 1; k <= hosts; k++)
        rc |= sh_add(s, cap, &n, "%s\"algo-%d\"", k > 1 ? ", " : "", k);
    rc |=
        sh_add(s, cap, &n,
               "]'\nif [ \"$K\" -eq 1 ]; then R=\"$D\"; else R=\"$D/%s/$H\"\n"
               "  mkdir -p \"$R/input/config\" || exit 1\n"
               "  for f in \"$D\"/input/config/*.json; do\n"
               "    [ \"${f##*/}\" = resourceconfig.json ] || cp \"$f\" \"$R/input/config/\" || "
               "exit 1\n  done\nfi\n"
               "printf '{\"current_host\": \"%%s\", \"hosts\": %%s, \"network_interface_name\": "
               "\"eth0\"}\\n' \"$H\" \"$HOSTS\" > \"$R/input/config/resourceconfig.json.tmp\" &&\n"
               "  mv -f \"$R/input/config/resourceconfig.json.tmp\" "
               "\"$R/input/config/resourceconfig.json\" || exit 1\n"
               "echo \"${SLURMD_NODENAME:-$(hostname)}\" > \"$R/slurm.node\"\n"
               "export SM_CURRENT_HOST=\"$H\" SM_HOSTS=\"$HOSTS\" "
               "SM_INPUT_CONFIG_DIR=\"$R/input/config\"\n"
               /* Host K > 1's own s3:// channels (its shard; channels.h). */
               "for c in \"$R\"/input/data/*/; do\n"
               "  [ \"$K\" -gt 1 ] && [ -d \"$c\" ] || continue\n"
               "  c=${c%%/}; v=$(printf %%s \"${c##*/}\" | tr a-z A-Z | tr -c A-Z0-9 _)\n"
               "  export \"SM_CHANNEL_$v=$c\"\ndone\n"
               "set --\n",
               SLURM_HOSTS_DIR);
    if (l->output_path && l->name) {
        /* Only algo-1 packs the model (JOB_DIR/model). */
        rc |= sh_add(s, cap, &n, "[ \"$K\" -eq 1 ] && set -- --job-name ");
        rc |= sh_quote(s, cap, &n, l->name);
        rc |= sh_add(s, cap, &n, " --output-path ");
        rc |= sh_quote(s, cap, &n, l->output_path);
        rc |= sh_add(s, cap, &n, "\n");
    }
    rc |= sh_add(s, cap, &n, "exec ");
    rc |= sh_quote(s, cap, &n, sb->runner);
    rc |= sh_add(s, cap, &n,
                 " --dir \"$R\" --status-fd 5 --max-runtime %ld --grace %ld --log-cap %lld",
                 l->max_runtime, l->grace, sb->log_cap);
    rc |= sh_add(s, cap, &n, " \"$@\" --");
    for (size_t i = 0; argv[i]; i++) {
        rc |= sh_add(s, cap, &n, " ");
        rc |= sh_quote(s, cap, &n, argv[i]);
    }
    rc |= sh_add(s, cap, &n, " 5>\"$R/%s\"\n", SLURM_STATUS_FILE);
    if (rc) {
        free(s);
        return err_set(e, ERR_VALIDATION,
                       "the training job's command is too long for a batch "
                       "script");
    }
    path_in(p, sizeof p, l->job_dir, SLURM_SCRIPT_FILE);
    if (util_write_file(p, s, n, UTIL_WRITE_ATOMIC) || chmod(p, 0755)) {
        rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", p, strerror(errno));
        free(s);
        return rc;
    }
    free(s);
    return 0;
}

static int slurm_start(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX],
                       err_t *e) {
    slurm *sb = self;
    int rc = 0, hosts = l->instance_count > 0 ? l->instance_count : 1;
    char **argv = NULL, **env = NULL, *out = NULL, p[SLURM_PATH_MAX];
    char name[SLURM_FIELD_MAX], opt[16][SLURM_FIELD_MAX + 32];
    char *sargv[32 + SLURM_ARGS_MAX];
    size_t na = 0, no = 0, argc = 0;
    if (hosts > SLURM_HOSTS_MAX)
        return err_set(e, ERR_VALIDATION, "InstanceCount %d: the Slurm backend runs at most %d",
                       hosts, SLURM_HOSTS_MAX);
    /* sbatch submits as its caller; Slurm 22.05's sbatch has no --uid. */
    if (l->run_as && l->uid != geteuid())
        return err_set(e, ERR_VALIDATION,
                       "the slurm backend runs training jobs as the daemon's own user only: it "
                       "cannot run this job as uid %u",
                       (unsigned)l->uid);
    while (l->argv[argc])
        argc++;
    if (!(argv = calloc(argc + sb->ncontainer + 1, sizeof *argv))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < sb->ncontainer; i++)
        argv[k++] =
            !strcmp(sb->container[i], "{image}") && l->image ? (char *)l->image : sb->container[i];
    for (size_t i = 0; i < argc; i++)
        argv[k++] = l->argv[i];
    /* The program must be there (the nodes see the same paths): an exec
     * failure is the launch's, not a lost job later. */
    int err = check_exec(argv[0], l->envp);
    if (err) {
        rc = err_set(e, ERR_VALIDATION, "cannot execute %s: %s", argv[0], strerror(err));
        goto out;
    }
    if ((err = check_exec(sb->runner, l->envp))) {
        rc = err_set(e, ERR_INTERNAL, "cannot execute %s: %s", sb->runner, strerror(err));
        goto out;
    }
    if ((rc = write_script(sb, l, argv, hosts, e)))
        goto out;
    /* The job name: openhpo's, plus the job directory's hash (one Slurm
     * cluster may serve several daemons, and accounts share job names). */
    unsigned long h = 5381;
    for (const char *c = l->job_dir; *c; c++)
        h = h * 33 + (unsigned char)*c;
    snprintf(name, sizeof name, "hpo-%.80s-%08lx", l->name ? l->name : "job", h & 0xffffffffUL);
    char sub[256];
    int sn = snprintf(sub, sizeof sub, "%s %d %ld\n", name, hosts, l->grace);
    path_in(p, sizeof p, l->job_dir, SLURM_SUBMIT_FILE);
    if (util_write_file(p, sub, (size_t)sn, UTIL_WRITE_DURABLE)) {
        rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", p, strerror(errno));
        goto out;
    }
    char sbatch[1100];
    cmd_path(sb, "sbatch", sbatch, sizeof sbatch);
    sargv[na++] = sbatch;
    sargv[na++] = "--parsable";
    sargv[na++] = "--no-requeue";
    sargv[na++] = "--export=ALL";
    snprintf(opt[no], sizeof opt[no], "--job-name=%s", name);
    sargv[na++] = opt[no++];
    snprintf(opt[no], sizeof opt[no], "--nodes=%d", hosts);
    sargv[na++] = opt[no++];
    sargv[na++] = "--ntasks-per-node=1";
    char tl[32];
    slurm_time_limit(l->max_runtime, l->grace, tl, sizeof tl);
    if (tl[0]) {
        snprintf(opt[no], sizeof opt[no], "--time=%s", tl);
        sargv[na++] = opt[no++];
    }
    const instance_type *it = sb->size_by_instance ? instance_lookup(l->instance_type) : NULL;
    int cpus = sb->cpus > 0 ? sb->cpus : it ? it->vcpus : 0;
    long mem = sb->mem_mib > 0 ? sb->mem_mib : it ? it->memory_mib : 0;
    int gpus = sb->gpus > 0 ? sb->gpus : it ? it->gpus : 0;
    if (cpus > 0) {
        snprintf(opt[no], sizeof opt[no], "--cpus-per-task=%d", cpus);
        sargv[na++] = opt[no++];
    }
    if (mem > 0) {
        snprintf(opt[no], sizeof opt[no], "--mem=%ldM", mem);
        sargv[na++] = opt[no++];
    }
    if (gpus > 0) {
        snprintf(opt[no], sizeof opt[no], "--gpus-per-node=%d", gpus);
        sargv[na++] = opt[no++];
    }
    if (sb->partition) {
        snprintf(opt[no], sizeof opt[no], "--partition=%s", sb->partition);
        sargv[na++] = opt[no++];
    }
    if (sb->account) {
        snprintf(opt[no], sizeof opt[no], "--account=%s", sb->account);
        sargv[na++] = opt[no++];
    }
    char outp[SLURM_PATH_MAX + 16], chd[SLURM_PATH_MAX + 16], script[SLURM_PATH_MAX];
    snprintf(outp, sizeof outp, "--output=%s/%s", l->job_dir, SLURM_OUT_FILE);
    snprintf(chd, sizeof chd, "--chdir=%s", l->job_dir);
    sargv[na++] = outp;
    sargv[na++] = "--open-mode=append";
    sargv[na++] = chd;
    for (size_t i = 0; i < sb->nextra; i++)
        sargv[na++] = sb->extra[i];
    path_in(script, sizeof script, l->job_dir, SLURM_SCRIPT_FILE);
    sargv[na++] = script;
    sargv[na] = NULL;
    if (!(env = env_build(l->envp, sb->slurm_conf, NULL)) ||
        !(out = malloc(SLURM_SUBMIT_OUT_MAX))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    int st = run_cmd(sargv, env, out, SLURM_SUBMIT_OUT_MAX, SLURM_SUBMIT_WAIT_MS);
    long long id = st == 0 ? parsable_id(out) : 0;
    if (id <= 0) {
        const char *why = last_line(out);
        rc = err_set(e, st > 0 ? ERR_VALIDATION : ERR_INTERNAL, "sbatch refused the job: %s",
                     why[0] ? why : "no answer");
        if (st > 0)
            unlink(p); /* refused (exit 1): nothing was submitted */
        else           /* it may have been submitted: a restart finds it by name */
            log_warn("slurm: sbatch for %s: %s", name, why);
        goto out;
    }
    char ids[32];
    int in = snprintf(ids, sizeof ids, "%lld\n", id);
    path_in(p, sizeof p, l->job_dir, SLURM_JOBID_FILE);
    if (util_write_file(p, ids, (size_t)in, UTIL_WRITE_ATOMIC))
        log_warn("slurm: cannot write %s: %s (the handle has the id)", p, strerror(errno));
    snprintf(handle, BACKEND_HANDLE_MAX, "%lld:%d:%ld", id, hosts, l->grace);
out:
    free(argv);
    env_free(env);
    free(out);
    return rc;
}

static backend_state slurm_watch(void *self, const char *job_dir, const char *handle,
                                 void (*on_exit)(void *ud), void *ud, backend_watch **wp) {
    slurm *sb = self;
    long long id;
    int hosts;
    long grace;
    double age;
    char name[SLURM_FIELD_MAX];
    *wp = NULL;
    int r = ids_of(job_dir, handle, &id, &hosts, &grace, name, sizeof name, &age);
    if (r < 0)
        return BACKEND_LOST; /* never submitted */
    sjob *j = job_get(sb, id, name, grace);
    if (j && !j->id)
        j->submitted_at = util_now() - age;
    backend_watch *w = j ? calloc(1, sizeof *w) : NULL;
    if (!w)
        return BACKEND_RUNNING;
    w->j = j;
    w->on_exit = on_exit;
    w->ud = ud;
    j->watchers++;
    w->next = sb->watches;
    sb->watches = w;
    *wp = w;
    return BACKEND_RUNNING; /* the next query fires on_exit if it has ended */
}

static void slurm_unwatch(void *self, backend_watch *w) {
    slurm *sb = self;
    for (backend_watch **pp = &sb->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    w->j->watchers--;
    w->j->used_ms = util_mono_ms();
    free(w);
}

static int slurm_stop(void *self, const char *job_dir, const char *handle) {
    slurm *sb = self;
    long long id;
    int hosts;
    long grace;
    double age;
    char name[SLURM_FIELD_MAX], p[SLURM_PATH_MAX];
    int r = ids_of(job_dir, handle, &id, &hosts, &grace, name, sizeof name, &age);
    if (r < 0)
        return 0; /* never submitted */
    path_in(p, sizeof p, job_dir, SLURM_STOP_FILE);
    if (util_write_file(p, "stop\n", 5, UTIL_WRITE_PLAIN))
        log_warn("slurm: cannot write %s: %s", p, strerror(errno));
    sjob *j = job_get(sb, id, name, grace);
    if (!j)
        return ERR_INTERNAL;
    if (!j->id)
        j->submitted_at = util_now() - age;
    if (j->known && j->kind != SLURM_K_ACTIVE)
        return 0;
    if (!j->id) {
        j->stop_pending = 1;
        return 0;
    }
    if (!j->kill_at)
        send_stop(sb, j);
    return 0;
}

/* Of a multi-host job: the first host K >= 2 whose program failed on its
 * own (not stopped), into r with the error naming it. 1 when there is one. */
static int other_host_failed(const char *job_dir, int hosts, backend_result *r) {
    char d[SLURM_PATH_MAX];
    backend_result h;
    for (int k = 2; k <= hosts; k++) {
        snprintf(d, sizeof d, "%s/%s/algo-%d", job_dir, SLURM_HOSTS_DIR, k);
        if (read_exit(d, &h) || h.stopped || h.timed_out || (h.exited && h.code == 0))
            continue;
        r->exited = h.exited;
        r->code = h.code;
        r->signal = h.signal;
        r->stopped = r->timed_out = 0;
        if (h.exited)
            snprintf(r->error, sizeof r->error,
                     "host algo-%d: training program exited with code %d", k, h.code);
        else
            snprintf(r->error, sizeof r->error,
                     "host algo-%d: training program was killed by signal %d", k, h.signal);
        return 1;
    }
    return 0;
}

/* The outcome (see docs/BACKENDS.md, "slurm"):
 *   the runner's exit.json when algo-1 wrote one (a failure of another host
 *   wins over algo-1's being stopped by srun), except that NODE_FAIL,
 *   PREEMPTED and BOOT_FAIL are lost (retried) unless the program had
 *   succeeded; without exit.json: TIMEOUT -> timed out, CANCELLED -> stopped
 *   (when openhpo asked; else failed), FAILED / OUT_OF_MEMORY -> failed with
 *   the reason, the rest lost. */
static backend_state slurm_result(void *self, const char *job_dir, const char *handle,
                                  backend_result *r) {
    slurm *sb = self;
    long long id;
    int hosts;
    long grace;
    double age;
    char name[SLURM_FIELD_MAX], why[SLURM_FIELD_MAX * 3] = "", tail[256];
    int k = ids_of(job_dir, handle, &id, &hosts, &grace, name, sizeof name, &age);
    if (k < 0) {
        r->never_started = 1; /* never submitted */
        return BACKEND_LOST;
    }
    sjob *j = job_get(sb, id, name, grace);
    if (j && !j->id)
        j->submitted_at = util_now() - age;
    if (!j || !j->known || j->kind == SLURM_K_ACTIVE)
        return BACKEND_RUNNING;
    if (!j->id) {
        if (age < SLURM_SETTLE_S)
            return BACKEND_RUNNING; /* a submission may still be on its way */
        r->never_started = 1;
        return BACKEND_LOST;
    }
    int asked = exists_in(job_dir, SLURM_STOP_FILE);
    int have = read_exit(job_dir, r) == 0;
    int ok = have && r->exited && r->code == 0 && !r->stopped && !r->timed_out;
    if (have && hosts > 1 && !ok && !asked)
        other_host_failed(job_dir, hosts, r);
    if (j->kind == SLURM_K_INFRA && !ok && !asked) {
        log_warn("slurm: job %lld ended %s (%s): an infrastructure failure", j->id, j->state,
                 j->reason);
        memset(r, 0, sizeof *r);
        return BACKEND_LOST;
    }
    if (have && j->kind == SLURM_K_CANCEL && !ok && !asked) {
        /* The runner saw the cancel's TERM as a stop; openhpo did not ask. */
        memset(r, 0, sizeof *r);
        have = 0;
    }
    if (have) {
        if (j->kind == SLURM_K_TIMEOUT && !ok)
            r->timed_out = 1;
        return BACKEND_EXITED;
    }
    if (exists_in(job_dir, LOCAL_UNWRITABLE_FILE)) {
        r->result_unwritable = 1;
        snprintf(r->error, sizeof r->error,
                 "the training job ended but its result could not be written to %s/%s "
                 "(is the disk full?)",
                 job_dir, LOCAL_EXIT_FILE);
        return BACKEND_EXITED;
    }
    if (runner_error(job_dir, r->error, sizeof r->error)) {
        r->exited = 1;
        r->code = 127;
        return BACKEND_EXITED;
    }
    slurm_out_tail(job_dir, tail, sizeof tail);
    switch (j->kind) {
    case SLURM_K_TIMEOUT:
        r->timed_out = 1;
        return BACKEND_EXITED;
    case SLURM_K_CANCEL:
        if (asked) {
            r->stopped = 1;
            return BACKEND_EXITED;
        }
        r->signal = SIGKILL;
        snprintf(r->error, sizeof r->error, "the Slurm job %lld was cancelled outside openhpo",
                 j->id);
        return BACKEND_EXITED;
    case SLURM_K_FAILED:
    case SLURM_K_OOM:
        if (asked) {
            r->stopped = 1; /* killed by the stop's escalation */
            return BACKEND_EXITED;
        }
        snprintf(why, sizeof why, "%s%s%s", j->state,
                 j->reason[0] && strcmp(j->reason, "None") ? ", " : "",
                 j->reason[0] && strcmp(j->reason, "None") ? j->reason : "");
        r->exited = 1;
        r->code = 1;
        snprintf(r->error, sizeof r->error, "%s (Slurm job %lld %s)%s%s",
                 j->kind == SLURM_K_OOM ? "the training job ran out of memory"
                                        : "the Slurm job failed",
                 j->id, why, tail[0] ? ": " : "", tail);
        return BACKEND_EXITED;
    default:
        /* COMPLETED without a result, NODE_FAIL ..., or purged: lost. */
        if (asked) {
            r->stopped = 1;
            return BACKEND_EXITED;
        }
        return BACKEND_LOST;
    }
}

static ssize_t slurm_read_log(void *self, const char *job_dir, const char *handle, int64_t offset,
                              char *buf, size_t n) {
    char p[SLURM_PATH_MAX];
    path_in(p, sizeof p, job_dir, LOCAL_LOG_FILE);
    return backend_read_log_file(p, offset, buf, n);
}

/* ---- the backend ---- */

static char *conf_str(const json_t *c, const char *key) {
    const char *s = json_string_value(json_object_get(c, key));
    return s && s[0] ? strdup(s) : NULL;
}

static int conf_words(const json_t *c, const char *key, char **out, size_t *n, err_t *e) {
    const json_t *a = json_object_get(c, key);
    *n = 0;
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > SLURM_ARGS_MAX)
        return err_set(e, ERR_VALIDATION, "slurm: \"%s\" must be an array of at most %d strings",
                       key, SLURM_ARGS_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s)
            return err_set(e, ERR_VALIDATION, "slurm: \"%s\" must be an array of strings", key);
        if (!(out[(*n)++] = strdup(s)))
            return err_set(e, ERR_INTERNAL, "out of memory");
    }
    return 0;
}

static void slurm_destroy(void *self) {
    slurm *sb = self;
    if (!sb)
        return;
    if (sb->q.pid > 0) {
        kill(sb->q.pid, SIGKILL);
        query_end(sb);
    }
    if (sb->timer >= 0) {
        loop_del(sb->l, sb->timer);
        close(sb->timer);
    }
    for (size_t i = 0; i < sb->nchildren; i++)
        waitpid(sb->children[i], NULL, WNOHANG);
    while (sb->watches) {
        backend_watch *w = sb->watches;
        sb->watches = w->next;
        free(w);
    }
    while (sb->jobs) {
        sjob *j = sb->jobs;
        sb->jobs = j->next;
        free(j);
    }
    for (size_t i = 0; i < sb->nextra; i++)
        free(sb->extra[i]);
    for (size_t i = 0; i < sb->ncontainer; i++)
        free(sb->container[i]);
    env_free(sb->env);
    free(sb->runner);
    free(sb->slurm_conf);
    free(sb->partition);
    free(sb->account);
    free(sb->sacct_extra);
    free(sb);
}

static void *slurm_create(const backend_env *env, err_t *e) {
    const json_t *c = env->conf;
    slurm *sb = NULL;
    char out[1024], prog[1100];
    if (!c) {
        err_set(e, ERR_VALIDATION,
                "not configured (no \"slurm\" member in the --backend-config file)");
        return NULL;
    }
    if (!env->l || !env->runner_path) {
        err_set(e, ERR_INTERNAL, "the slurm backend needs a loop and hpo-runner's path");
        return NULL;
    }
    if (!(sb = calloc(1, sizeof *sb))) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    sb->timer = -1;
    sb->q.fd = -1;
    sb->l = env->l;
    sb->log_cap = env->log_cap > 0 ? env->log_cap : 64LL << 20;
    const char *bin = json_string_value(json_object_get(c, "bin_dir"));
    snprintf(sb->bin, sizeof sb->bin, "%s", bin && bin[0] ? bin : "/usr/bin");
    const char *runner = json_string_value(json_object_get(c, "runner"));
    sb->runner = strdup(runner && runner[0] ? runner : env->runner_path);
    sb->slurm_conf = conf_str(c, "slurm_conf");
    sb->partition = conf_str(c, "partition");
    sb->account = conf_str(c, "account");
    sb->sacct_extra = conf_str(c, "sacct_args");
    sb->cpus = (int)json_integer_value(json_object_get(c, "cpus_per_node"));
    sb->mem_mib = (long)json_integer_value(json_object_get(c, "mem_mib_per_node"));
    sb->gpus = (int)json_integer_value(json_object_get(c, "gpus_per_node"));
    const json_t *sz = json_object_get(c, "size_by_instance_type");
    sb->size_by_instance = sz ? json_is_true(sz) : 1;
    sb->use_sacct = json_is_true(json_object_get(c, "sacct"));
    json_int_t pm = json_integer_value(json_object_get(c, "poll_ms"));
    sb->poll_ms = pm >= 50 && pm <= 60000 ? (int)pm : SLURM_DEFAULT_POLL_MS;
    if (!sb->runner || conf_words(c, "sbatch_args", sb->extra, &sb->nextra, e) ||
        conf_words(c, "container_command", sb->container, &sb->ncontainer, e))
        goto fail;
    if (!(sb->env = env_build(environ, sb->slurm_conf, NULL))) {
        err_set(e, ERR_INTERNAL, "out of memory");
        goto fail;
    }
    /* Reachable? One sinfo at start-up (hpod leaves the backend out if not). */
    cmd_path(sb, "sinfo", prog, sizeof prog);
    char *argv[] = {prog, "-h", "-o", "%P", NULL};
    int st = run_cmd(argv, sb->env, out, sizeof out, 15000);
    if (st != 0) {
        err_set(e, ERR_UNAVAILABLE, "Slurm is not reachable (%s): %s", prog, last_line(out));
        goto fail;
    }
    sb->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec it = {
        .it_interval = {.tv_sec = sb->poll_ms / 1000, .tv_nsec = (sb->poll_ms % 1000) * 1000000L},
        .it_value = {.tv_sec = sb->poll_ms / 1000, .tv_nsec = (sb->poll_ms % 1000) * 1000000L}};
    if (sb->timer < 0 || timerfd_settime(sb->timer, 0, &it, NULL) ||
        loop_add(sb->l, sb->timer, EPOLLIN, on_timer, sb)) {
        err_set(e, ERR_INTERNAL, "slurm: timer: %s", strerror(errno));
        if (sb->timer >= 0)
            close(sb->timer);
        sb->timer = -1;
        goto fail;
    }
    log_info("slurm backend: partitions %s, status every %d ms", last_line(out), sb->poll_ms);
    return sb;
fail:
    slurm_destroy(sb);
    return NULL;
}

const backend_ops backend_slurm_ops = {
    .name = "slurm",
    .caps =
        BACKEND_CAP_HOST_DIR | BACKEND_CAP_PACKS_MODEL | BACKEND_CAP_GPU | BACKEND_CAP_MULTI_NODE,
    .create = slurm_create,
    .destroy = slurm_destroy,
    .start = slurm_start,
    .watch = slurm_watch,
    .unwatch = slurm_unwatch,
    .stop = slurm_stop,
    .result = slurm_result,
    .read_log = slurm_read_log,
};
