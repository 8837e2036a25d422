/* Docker backend: each training job runs as containers of its TrainingImage
 * on a Docker engine, talked to over its unix socket (docker_api.h). See
 * backend.h for the contract, backends/docker.h for the files and labels,
 * docs/BACKENDS.md for the settings.
 *
 * Launch (backend_start, on the engine's worker thread): the image must be
 * on the engine (or is pulled, by the pull policy); one container per host
 * algo-1..algo-N, `train` as its command, the job directory bind-mounted as
 * /opt/ml for algo-1 and JOB_DIR/hosts/algo-I for the others (each with its
 * own resourceconfig.json; input/data is shared, but for the s3:// channels
 * the launch linked into JOB_DIR/hosts/algo-I/input/data — that host's own
 * shard of a ShardedByS3Key channel, channels.h — mounted over it), file:// channels
 * bind-mounted read-only over their links, CPU and memory limits from the
 * InstanceType, GPUs through DeviceRequests when the engine has the nvidia
 * runtime (else the launch fails saying so), no network unless configured,
 * and for N > 1 a per-job internal network on which every host resolves the
 * others by name. The handle is algo-1's container id; the containers are
 * found again by their labels (data dir + job dir), so a row recorded
 * without a handle is found too.
 *
 * Following a job: one thread per watched job (created on the loop by
 * watch/result/stop, never blocking it) inspects its containers every
 * DOCKER_POLL_MS, enforces MaxRuntimeInSeconds from the container's own
 * start time, sends stops, and stops the other hosts when one fails; one
 * thread per host follows its log stream into a capped file. When every
 * container has ended it merges the other hosts' model/ and output/data
 * into JOB_DIR (algo-1's entry wins a name clash, then the lower host),
 * runs hpo-pack (next to hpo-runner, as the job's user) when asked, writes
 * exit.json, removes the containers and the network, and then tells the
 * loop (an eventfd), which calls on_exit. A restarted daemon does the same
 * for containers it finds: running ones are re-adopted (their log is read
 * again from the start into the same file, so offsets do not move),
 * finished ones are finished. exit.json outlives the containers.
 *
 * Stop: the engine's stop (POST /containers/ID/stop?t=GRACE: SIGTERM, then
 * SIGKILL after the grace), sent from a detached thread because it blocks
 * for up to the grace; should a container still run DOCKER_STOP_MARGIN_S
 * after that, the job's thread kills it.
 *
 * Strays: at start the backend removes every container (and job network)
 * labelled with its data dir whose job directory is gone or already has its
 * exit.json; no other daemon's containers are ever listed. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_impl.h"
#include "backends/docker.h"
#include "channels.h"
#include "docker_api.h"
#include "instance.h"
#include "pack.h"
#include "util.h"

typedef struct djob djob;

typedef struct {
    loop *l;
    /* Settings: written by create(), read-only afterwards (any thread). */
    char sock[512];
    char data_dir[DOCKER_DIR_MAX];
    char packer[DOCKER_FILE_MAX]; /* hpo-pack */
    char network[128];            /* "none", or the network single-host jobs join */
    char pull[16];                /* never | missing | always */
    json_t *labels;               /* extra labels (object string -> string) */
    long long log_cap;
    int gpu_runtime; /* the engine has the nvidia runtime */
    int ncpu;        /* the engine's CPUs (NanoCpus is capped at them) */
    int efd;         /* eventfd: a job's thread has ended */
    /* Guards jobs, quit and every djob field marked (mu). */
    pthread_mutex_t mu;
    djob *jobs;
    int quit;
    backend_watch *watches; /* loop thread only */
} dock;

struct djob {
    djob *next; /* (mu) */
    dock *d;
    char job_dir[DOCKER_DIR_MAX];
    char handle[BACKEND_HANDLE_MAX];
    pthread_t th;
    pthread_cond_t cv; /* wakes the thread: a stop request, quit */
    int stop_req;      /* (mu) */
    int done;          /* (mu) the thread has ended */
    int lost;          /* (mu, once done) no result: nothing of the job was found */
    int never_started; /* (mu, once done) ... and nothing of it ever ran */
    int joined;        /* loop thread only */
};

struct backend_watch {
    backend_watch *next;
    char job_dir[DOCKER_DIR_MAX];
    void (*on_exit)(void *);
    void *ud;
    int fired;
};

static void path_in(char *out, size_t n, const char *dir, const char *file) {
    snprintf(out, n, "%s/%s", dir, file);
}

static int exists(const char *dir, const char *file) {
    char p[DOCKER_FILE_MAX];
    path_in(p, sizeof p, dir, file);
    return access(p, F_OK) == 0;
}

static double now_s(void) {
    return util_now();
}

/* "2026-12-02T01:39:22.510826279Z" -> seconds since the epoch; 0 when the
 * engine says the zero time or it does not parse. */
static double parse_time(const char *s) {
    struct tm tm = {0};
    if (!s || strncmp(s, "0001-", 5) == 0)
        return 0;
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    double frac = 0;
    if (*rest == '.')
        frac = strtod(rest, NULL);
    return (double)timegm(&tm) + frac;
}

/* ---- engine calls ---- */

/* GET /containers/json of this daemon's containers of job_dir (NULL: all of
 * this daemon's). The array (caller decrefs), or NULL with e set. */
static json_t *list_containers(const dock *d, const char *job_dir, err_t *e) {
    char path[DOCKER_PATH_MAX] = "/containers/json?all=1&filters=";
    json_t *f = json_pack("{s:[s+]}", "label", DOCKER_LABEL_DATA_DIR "=", d->data_dir);
    json_t *out = NULL;
    long st = 0;
    if (f && job_dir) {
        char lab[DOCKER_DIR_MAX + 64];
        snprintf(lab, sizeof lab, "%s=%s", DOCKER_LABEL_JOB_DIR, job_dir);
        json_array_append_new(json_object_get(f, "label"), json_string(lab));
    }
    char *fs = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    if (!fs) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    docker_urlencode(path, sizeof path, fs);
    free(fs);
    if (docker_call(d->sock, "GET", path, NULL, 0, &st, &out, e))
        return NULL;
    if (st != 200 || !json_is_array(out)) {
        char m[256];
        docker_error_text(out, st, m, sizeof m);
        err_set(e, ERR_UNAVAILABLE, "Docker engine at %s: listing containers: %s", d->sock, m);
        json_decref(out);
        return NULL;
    }
    return out;
}

static void remove_container(const char *sock, const char *id) {
    char path[256];
    long st = 0;
    err_t e = {0};
    snprintf(path, sizeof path, "/containers/%s?force=1&v=1", id);
    if (docker_call(sock, "DELETE", path, NULL, 0, &st, NULL, &e) || (st != 204 && st != 404))
        log_warn("docker: cannot remove container %.12s: %s", id, e.msg[0] ? e.msg : "refused");
}

static void remove_network(const char *sock, const char *name) {
    char path[512] = "/networks/";
    long st = 0;
    err_t e = {0};
    docker_urlencode(path, sizeof path, name);
    if (docker_call(sock, "DELETE", path, NULL, 0, &st, NULL, &e) || (st != 204 && st != 404))
        log_debug("docker: cannot remove network %s: %s", name, e.msg[0] ? e.msg : "refused");
}

/* Removes the job networks of this daemon whose job dir `job_dir` (NULL:
 * whose job is over: its directory gone or its exit.json written). */
static void remove_networks(const dock *d, const char *job_dir) {
    char path[DOCKER_PATH_MAX] = "/networks?filters=";
    long st = 0;
    err_t e = {0};
    json_t *out = NULL, *f = json_pack("{s:[s+]}", "label", DOCKER_LABEL_DATA_DIR "=", d->data_dir);
    char *fs = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    if (!fs)
        return;
    docker_urlencode(path, sizeof path, fs);
    free(fs);
    if (docker_call(d->sock, "GET", path, NULL, 0, &st, &out, &e) || !json_is_array(out)) {
        json_decref(out);
        return;
    }
    size_t i;
    json_t *n;
    json_array_foreach(out, i, n) {
        const json_t *lab = json_object_get(n, "Labels");
        const char *jd = json_string_value(json_object_get(lab, DOCKER_LABEL_JOB_DIR));
        const char *name = json_string_value(json_object_get(n, "Name"));
        if (!jd || !name)
            continue;
        if (job_dir ? !strcmp(jd, job_dir)
                    : (access(jd, F_OK) != 0 || exists(jd, DOCKER_EXIT_FILE)))
            remove_network(d->sock, name);
    }
    json_decref(out);
}

/* ---- a job's log stream ---- */

typedef struct {
    dock *d;
    char id[80];
    char path[DOCKER_FILE_MAX];
    int fd;
    long long logged;
    int abandon;         /* (d->mu) cut the stream */
    pthread_cond_t *end; /* signalled when the stream ends: the job's thread looks now */
    pthread_t th;
    int running;
} follower;

static void on_log_data(void *ud, const char *p, size_t n) {
    follower *f = ud;
    if (f->fd < 0 || f->logged >= f->d->log_cap)
        return;
    size_t take = n;
    if ((long long)take > f->d->log_cap - f->logged)
        take = (size_t)(f->d->log_cap - f->logged);
    for (size_t off = 0; off < take;) {
        ssize_t w = write(f->fd, p + off, take - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (size_t)w;
    }
    f->logged += (long long)take;
    if (f->logged >= f->d->log_cap) {
        const char *m = "\n[openhpo docker backend: output.log reached its cap; the rest of the "
                        "output is dropped]\n";
        if (write(f->fd, m, strlen(m)) < 0)
            log_debug("docker: %s: %s", f->path, strerror(errno));
    }
}

static int log_keep_going(void *ud) {
    follower *f = ud;
    pthread_mutex_lock(&f->d->mu);
    int go = !f->abandon && !f->d->quit;
    pthread_mutex_unlock(&f->d->mu);
    return go;
}

static void *follow_main(void *arg) {
    follower *f = arg;
    err_t e = {0};
    /* From the start, into the file from its start: a re-adopted job's log
     * is the same bytes at the same offsets. */
    f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0)
        log_warn("docker: cannot write %s: %s", f->path, strerror(errno));
    int rc = docker_follow_logs(f->d->sock, f->id, 0, on_log_data, log_keep_going, f, &e);
    if (rc > 1)
        log_warn("docker: %s", e.msg);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    pthread_mutex_lock(&f->d->mu);
    pthread_cond_signal(f->end);
    pthread_mutex_unlock(&f->d->mu);
    return NULL;
}

/* ---- packing (hpo-pack, as the job's user) ---- */

/* vfork + exec of hpo-pack with stdout on `out`: the child only makes raw
 * system calls (the credentials it drops are its own task's) before it
 * execs. A function of its own, so vfork clobbers none of the caller's
 * variables. The child's pid, or -1. */
static pid_t __attribute__((noinline))
spawn_pack(char *const *argv, char *const *envp, int out, int run_as, uid_t uid, gid_t gid) {
    pid_t pid = vfork();
    if (pid != 0)
        return pid;
    dup2(out, 1);
    int dn = open("/dev/null", O_RDWR);
    if (dn >= 0) {
        dup2(dn, 0);
        dup2(dn, 2);
    }
    if (run_as) {
        gid_t g = gid;
        if (syscall(SYS_setgroups, 1, &g) || syscall(SYS_setresgid, gid, gid, gid) ||
            syscall(SYS_setresuid, uid, uid, uid) ||
            syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
            _exit(126);
    }
    execve(argv[0], argv, envp);
    _exit(127);
}

/* Runs hpo-pack on the job: the model's URI to uri[nu], or why it failed to
 * error[ne]. Blocks (on the job's thread) for at most PACK_TIMEOUT_S. */
static int run_pack(const dock *d, const char *job_dir, const char *job_name,
                    const char *output_path, int run_as, uid_t uid, gid_t gid, char *uri, size_t nu,
                    char *error, size_t ne) {
    int p[2] = {-1, -1};
    char rep[PACK_REPORT_MAX];
    int st = 0, timed_out = 0;
    uri[0] = error[0] = 0;
    char *argv[] = {(char *)d->packer, "--dir",         (char *)job_dir,     "--job-name",
                    (char *)job_name,  "--output-path", (char *)output_path, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    if (pipe2(p, O_CLOEXEC)) {
        snprintf(error, ne, "cannot pack the model: pipe: %s", strerror(errno));
        return 0;
    }
    pid_t pid = spawn_pack(argv, envp, p[1], run_as, uid, gid);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        snprintf(error, ne, "cannot pack the model: vfork: %s", strerror(errno));
        return 0;
    }
    timed_out = util_collect_child(pid, p[0], (int64_t)PACK_TIMEOUT_S * 1000, rep, sizeof rep, &st);
    return util_pack_outcome(rep, st, timed_out, d->packer, PACK_TIMEOUT_S, uri, nu, error, ne);
}

/* ---- stopping ---- */

typedef struct {
    char sock[512];
    char id[80];
    long grace;
} stopper;

static void *stop_main(void *arg) {
    stopper *s = arg;
    char path[256];
    long st = 0;
    err_t e = {0};
    snprintf(path, sizeof path, "/containers/%s/stop?t=%ld", s->id, s->grace);
    if (docker_call(s->sock, "POST", path, NULL, (s->grace + 30) * 1000L, &st, NULL, &e) ||
        (st != 204 && st != 304 && st != 404))
        log_warn("docker: stop of container %.12s: %s", s->id, e.msg[0] ? e.msg : "refused");
    free(s);
    return NULL;
}

/* Sends the engine's stop to a container, on a detached thread (the call
 * blocks for up to the grace). */
static void send_stop(const dock *d, const char *id, long grace) {
    stopper *s = calloc(1, sizeof *s);
    pthread_t th;
    pthread_attr_t a;
    if (!s)
        return;
    snprintf(s->sock, sizeof s->sock, "%s", d->sock);
    snprintf(s->id, sizeof s->id, "%s", id);
    s->grace = grace;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, stop_main, s)) {
        free(s);
        log_warn("docker: cannot start a thread to stop %.12s", id);
    }
    pthread_attr_destroy(&a);
}

static void kill_container(const dock *d, const char *id) {
    char path[256];
    long st = 0;
    err_t e = {0};
    snprintf(path, sizeof path, "/containers/%s/kill", id);
    if (docker_call(d->sock, "POST", path, NULL, 0, &st, NULL, &e))
        log_warn("docker: kill of %.12s: %s", id, e.msg);
}

/* ---- the job's thread ---- */

typedef struct {
    char id[80];
    int host; /* 1..N */
    int ended;
    int code;
    int oom;
    int ended_before_stop; /* ended on its own, before any stop was sent */
    double started, finished;
    char error[160];
    follower log;
} dhost;

static int label_int(const json_t *labels, const char *k, long dflt) {
    const char *v = json_string_value(json_object_get(labels, k));
    return v && v[0] ? atoi(v) : (int)dflt;
}

static void finish_job(djob *j, int lost, int never_started) {
    dock *d = j->d;
    uint64_t one = 1;
    pthread_mutex_lock(&d->mu);
    j->done = 1;
    j->lost = lost;
    j->never_started = never_started;
    pthread_mutex_unlock(&d->mu);
    if (write(d->efd, &one, sizeof one) < 0)
        log_debug("docker: eventfd: %s", strerror(errno));
}

/* Inspects a container that has not ended yet. */
static void inspect_host(const dock *d, dhost *h, int stop_sent) {
    char path[256];
    long st = 0;
    err_t e = {0};
    json_t *out = NULL;
    snprintf(path, sizeof path, "/containers/%s/json", h->id);
    if (docker_call(d->sock, "GET", path, NULL, 0, &st, &out, &e)) {
        json_decref(out);
        return; /* the engine did not answer: look again */
    }
    if (st == 404) {
        h->ended = 1;
        h->code = -1;
        h->ended_before_stop = !stop_sent;
        snprintf(h->error, sizeof h->error, "the container of host algo-%d vanished", h->host);
        json_decref(out);
        return;
    }
    const json_t *s = json_object_get(out, "State");
    const char *status = json_string_value(json_object_get(s, "Status"));
    if (st == 200 && status && !json_is_true(json_object_get(s, "Running")) &&
        (!strcmp(status, "exited") || !strcmp(status, "dead"))) {
        h->ended = 1;
        h->code = (int)json_integer_value(json_object_get(s, "ExitCode"));
        h->oom = json_is_true(json_object_get(s, "OOMKilled"));
        h->started = parse_time(json_string_value(json_object_get(s, "StartedAt")));
        h->finished = parse_time(json_string_value(json_object_get(s, "FinishedAt")));
        h->ended_before_stop = !stop_sent;
        const char *err = json_string_value(json_object_get(s, "Error"));
        if (err && err[0])
            snprintf(h->error, sizeof h->error, "%s", err);
    } else if (st == 200 && !h->started) {
        h->started = parse_time(json_string_value(json_object_get(s, "StartedAt")));
    }
    json_decref(out);
}

/* Moves every entry of src/ into dst/ that dst/ does not have yet. */
static void merge_dir(const char *src, const char *dst) {
    DIR *dir = opendir(src);
    struct dirent *de;
    if (!dir)
        return;
    util_mkdir_p(dst, 0);
    while ((de = readdir(dir))) {
        char a[DOCKER_FILE_MAX + 300], b[DOCKER_FILE_MAX + 300];
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(a, sizeof a, "%s/%s", src, de->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, de->d_name);
        struct stat st;
        if (lstat(b, &st) == 0)
            continue; /* the lower host's wins */
        if (rename(a, b))
            log_warn("docker: cannot merge %s into %s: %s", a, dst, strerror(errno));
    }
    closedir(dir);
}

static void merge_hosts(const char *job_dir, const dhost *hs, size_t n) {
    for (size_t i = 1; i < n; i++) {
        char base[DOCKER_FILE_MAX], a[DOCKER_FILE_MAX + 64], b[DOCKER_FILE_MAX + 64];
        snprintf(base, sizeof base, "%s/%s/algo-%d", job_dir, DOCKER_HOSTS_DIR, hs[i].host);
        snprintf(a, sizeof a, "%s/model", base);
        snprintf(b, sizeof b, "%s/model", job_dir);
        merge_dir(a, b);
        snprintf(a, sizeof a, "%s/output/data", base);
        snprintf(b, sizeof b, "%s/output/data", job_dir);
        merge_dir(a, b);
    }
}

static int host_order(const void *a, const void *b) {
    return ((const dhost *)a)->host - ((const dhost *)b)->host;
}

static void *job_main(void *arg) {
    djob *j = arg;
    dock *d = j->d;
    err_t e = {0};
    dhost hs[DOCKER_MAX_HOSTS];
    size_t n = 0;
    json_t *list = NULL, *labels = NULL;
    int lost = 0, never_started = 0, quit = 0, stop_sent = 0, timed_out = 0, stopped = 0;
    int killed = 0;
    double stop_at = 0;
    memset(hs, 0, sizeof hs);
    /* The job's containers. The engine not answering is not an answer:
     * look again until it does (or the daemon stops). */
    while (!(list = list_containers(d, j->job_dir, &e))) {
        pthread_mutex_lock(&d->mu);
        quit = d->quit;
        if (!quit) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 2;
            pthread_cond_timedwait(&j->cv, &d->mu, &ts);
        }
        pthread_mutex_unlock(&d->mu);
        if (quit)
            return NULL;
        log_warn("docker: %s", e.msg);
    }
    size_t i;
    json_t *c;
    int created_only = 0, ran = 0;
    json_array_foreach(list, i, c) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        const char *state = json_string_value(json_object_get(c, "State"));
        const json_t *lab = json_object_get(c, "Labels");
        if (!id || n >= DOCKER_MAX_HOSTS)
            continue;
        snprintf(hs[n].id, sizeof hs[n].id, "%s", id);
        hs[n].host = label_int(lab, DOCKER_LABEL_HOST, 1);
        if (state && !strcmp(state, "created"))
            created_only = 1;
        else
            ran = 1;
        if (hs[n].host == 1 || !labels)
            labels = (json_t *)lab;
        n++;
    }
    qsort(hs, n, sizeof *hs, host_order);
    if (n == 0 || (created_only && !ran)) {
        /* Nothing ran: the daemon died while it started the job (or the
         * containers were removed from outside). */
        for (size_t k = 0; k < n; k++)
            remove_container(d->sock, hs[k].id);
        remove_networks(d, j->job_dir);
        lost = 1;
        never_started = n > 0 || !exists(j->job_dir, DOCKER_LOG_FILE);
        goto done;
    }
    long max_runtime = label_int(labels, DOCKER_LABEL_MAX_RUNTIME, 0);
    long grace = label_int(labels, DOCKER_LABEL_GRACE, 120);
    char job_name[256], output_path[BACKEND_URI_MAX], user[64];
    const char *s = json_string_value(json_object_get(labels, DOCKER_LABEL_JOB));
    snprintf(job_name, sizeof job_name, "%s", s ? s : "");
    s = json_string_value(json_object_get(labels, DOCKER_LABEL_OUTPUT));
    snprintf(output_path, sizeof output_path, "%s", s ? s : "");
    s = json_string_value(json_object_get(labels, DOCKER_LABEL_USER));
    snprintf(user, sizeof user, "%s", s ? s : "");
    /* Each host's log, into its file. */
    for (size_t k = 0; k < n; k++) {
        follower *f = &hs[k].log;
        f->d = d;
        f->fd = -1;
        f->end = &j->cv;
        snprintf(f->id, sizeof f->id, "%s", hs[k].id);
        if (hs[k].host == 1)
            path_in(f->path, sizeof f->path, j->job_dir, DOCKER_LOG_FILE);
        else
            snprintf(f->path, sizeof f->path, "%s/%s/algo-%d/%s", j->job_dir, DOCKER_HOSTS_DIR,
                     hs[k].host, DOCKER_LOG_FILE);
        f->running = pthread_create(&f->th, NULL, follow_main, f) == 0;
    }
    json_decref(list);
    list = NULL;
    labels = NULL;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        quit = d->quit;
        int req = j->stop_req, want_stop = req;
        pthread_mutex_unlock(&d->mu);
        if (quit)
            break;
        size_t running = 0;
        for (size_t k = 0; k < n; k++)
            if (!hs[k].ended)
                inspect_host(d, &hs[k], stop_sent);
        int failed = 0;
        for (size_t k = 0; k < n; k++) {
            running += !hs[k].ended;
            failed |= hs[k].ended && hs[k].ended_before_stop && hs[k].code != 0;
        }
        if (running == 0)
            break;
        double now = now_s();
        if (!stop_sent && max_runtime > 0 && hs[0].started > 0 &&
            now - hs[0].started >= (double)max_runtime) {
            timed_out = 1;
            want_stop = 1;
        }
        if (!stop_sent && (want_stop || failed)) {
            /* A host that failed ends the job: the others are stopped. */
            stopped = want_stop && !timed_out;
            for (size_t k = 0; k < n; k++)
                if (!hs[k].ended)
                    send_stop(d, hs[k].id, grace);
            stop_sent = 1;
            stop_at = now;
        } else if (stop_sent && !killed && now - stop_at > (double)(grace + DOCKER_STOP_MARGIN_S)) {
            log_warn("docker: job in %s did not stop within its grace period; killing it",
                     j->job_dir);
            for (size_t k = 0; k < n; k++)
                if (!hs[k].ended)
                    kill_container(d, hs[k].id);
            killed = 1;
        }
        pthread_mutex_lock(&d->mu);
        if (!d->quit && j->stop_req == req) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)DOCKER_POLL_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&j->cv, &d->mu, &ts);
        }
        pthread_mutex_unlock(&d->mu);
    }
    /* The log streams end with their containers; one still open long
     * after (or at quit) is cut. */
    int64_t cut_at = util_mono_ms() + (int64_t)DOCKER_LOG_JOIN_S * 1000;
    for (size_t k = 0; k < n; k++) {
        if (!hs[k].log.running)
            continue;
        for (;;) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_timedjoin_np(hs[k].log.th, NULL, &ts) == 0)
                break;
            if (quit || util_mono_ms() > cut_at) {
                pthread_mutex_lock(&d->mu);
                hs[k].log.abandon = 1;
                pthread_mutex_unlock(&d->mu);
            }
        }
        hs[k].log.running = 0;
    }
    if (quit)
        return NULL; /* the daemon stops; its containers run on, re-adopted later */
    /* The outcome: algo-1's, unless another host failed first. */
    dhost *why = &hs[0];
    for (size_t k = 0; k < n; k++)
        if (hs[k].ended_before_stop && hs[k].code != 0) {
            why = &hs[k];
            break;
        }
    char error[256] = "", model_uri[BACKEND_URI_MAX] = "", model_error[300] = "";
    /* The platform's failure, retried (RetryStrategy): the engine lost the
     * container or failed it itself (State.Error; an OOM is the job's), or
     * hpo-pack found S3 unavailable. */
    int infra = !why->oom && why->error[0] && !stopped && !timed_out;
    if (why->oom)
        snprintf(error, sizeof error,
                 "the container of host algo-%d ran out of memory (OOMKilled: it exceeded the "
                 "memory of its InstanceType)",
                 why->host);
    else if (why->error[0])
        snprintf(error, sizeof error, "host algo-%d: %s", why->host, why->error);
    else if (why != &hs[0])
        snprintf(error, sizeof error, "host algo-%d exited with code %d", why->host, why->code);
    if (why != &hs[0] && !exists(j->job_dir, "output/failure")) {
        char a[DOCKER_FILE_MAX + 64], b[DOCKER_FILE_MAX];
        snprintf(a, sizeof a, "%s/%s/algo-%d/output/failure", j->job_dir, DOCKER_HOSTS_DIR,
                 why->host);
        path_in(b, sizeof b, j->job_dir, "output/failure");
        if (rename(a, b) && errno != ENOENT)
            log_debug("docker: %s: %s", a, strerror(errno));
    }
    merge_hosts(j->job_dir, hs, n);
    if (why->code == 0 && !stopped && !timed_out && output_path[0] && job_name[0]) {
        unsigned uid = 0, gid = 0;
        int run_as = sscanf(user, "%u:%u", &uid, &gid) == 2;
        infra |= run_pack(d, j->job_dir, job_name, output_path, run_as, (uid_t)uid, (gid_t)gid,
                          model_uri, sizeof model_uri, model_error, sizeof model_error);
    }
    json_t *r =
        json_pack("{s:b, s:i, s:i, s:b, s:b, s:f, s:f, s:s, s:s, s:s, s:b}", "exited", 1, "code",
                  why->code, "signal", 0, "timed_out", timed_out, "stopped", stopped, "started",
                  hs[0].started > 0 ? hs[0].started : now_s(), "ended",
                  hs[0].finished > 0 ? hs[0].finished : now_s(), "error", error, "model_uri",
                  model_uri, "model_error", model_error, "infrastructure", infra);
    char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
    char p[DOCKER_FILE_MAX];
    path_in(p, sizeof p, j->job_dir, DOCKER_EXIT_FILE);
    if (!text || util_write_file(p, text, strlen(text), UTIL_WRITE_DURABLE)) {
        log_error("docker: cannot write %s: %s", p, strerror(errno));
        path_in(p, sizeof p, j->job_dir, DOCKER_UNWRITABLE_FILE);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }
    free(text);
    json_decref(r);
    /* The result is durable: now nothing of the job remains. */
    for (size_t k = 0; k < n; k++)
        remove_container(d->sock, hs[k].id);
    if (n > 1)
        remove_networks(d, j->job_dir);
done:
    json_decref(list);
    finish_job(j, lost, never_started);
    return NULL;
}

/* The tracked job of job_dir, or NULL. Call with d->mu held. */
static djob *find_job(dock *d, const char *job_dir) {
    for (djob *j = d->jobs; j; j = j->next)
        if (!strcmp(j->job_dir, job_dir))
            return j;
    return NULL;
}

/* Starts following job_dir's containers. Call with d->mu held (loop thread). */
static djob *track(dock *d, const char *job_dir, const char *handle, int stop_req) {
    djob *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->d = d;
    snprintf(j->job_dir, sizeof j->job_dir, "%s", job_dir);
    snprintf(j->handle, sizeof j->handle, "%s", handle);
    j->stop_req = stop_req;
    pthread_cond_init(&j->cv, NULL);
    if (pthread_create(&j->th, NULL, job_main, j)) {
        pthread_cond_destroy(&j->cv);
        free(j);
        return NULL;
    }
    j->next = d->jobs;
    d->jobs = j;
    return j;
}

/* Unlinks and frees a job whose thread has ended. Call with d->mu held. */
static void drop_job(dock *d, djob *j) {
    for (djob **pp = &d->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    if (!j->joined)
        pthread_join(j->th, NULL);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void on_event(loop *l, int fd, uint32_t events, void *ud) {
    dock *d = ud;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_debug("docker: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&d->mu);
    for (djob *j = d->jobs; j; j = j->next)
        if (j->done && !j->joined) {
            pthread_join(j->th, NULL);
            j->joined = 1;
        }
    pthread_mutex_unlock(&d->mu);
    for (backend_watch *w = d->watches; w; w = w->next) {
        if (w->fired)
            continue;
        pthread_mutex_lock(&d->mu);
        djob *j = find_job(d, w->job_dir);
        int ended = !j || j->done;
        pthread_mutex_unlock(&d->mu);
        if (ended) {
            w->fired = 1;
            w->on_exit(w->ud);
        }
    }
    /* Jobs with a result have it in exit.json now; lost ones wait for
     * result() or watch() to say so. */
    pthread_mutex_lock(&d->mu);
    for (djob *j = d->jobs, *next; j; j = next) {
        next = j->next;
        if (j->done && !j->lost)
            drop_job(d, j);
    }
    pthread_mutex_unlock(&d->mu);
}

/* ---- the ops ---- */

static backend_state ended_state(const char *job_dir) {
    return exists(job_dir, DOCKER_EXIT_FILE) || exists(job_dir, DOCKER_UNWRITABLE_FILE)
               ? BACKEND_EXITED
               : BACKEND_LOST;
}

static backend_state docker_watch(void *self, const char *job_dir, const char *handle,
                                  void (*on_exit)(void *ud), void *ud, backend_watch **wp) {
    dock *d = self;
    *wp = NULL;
    pthread_mutex_lock(&d->mu);
    djob *j = find_job(d, job_dir);
    if (j && j->done) {
        backend_state s = j->lost ? BACKEND_LOST : ended_state(job_dir);
        pthread_mutex_unlock(&d->mu);
        return s;
    }
    if (!j && ended_state(job_dir) == BACKEND_EXITED) {
        pthread_mutex_unlock(&d->mu);
        return BACKEND_EXITED;
    }
    if (!j)
        j = track(d, job_dir, handle, 0);
    pthread_mutex_unlock(&d->mu);
    backend_watch *w = j ? calloc(1, sizeof *w) : NULL;
    if (!w)
        return BACKEND_RUNNING; /* ask again later */
    snprintf(w->job_dir, sizeof w->job_dir, "%s", job_dir);
    w->on_exit = on_exit;
    w->ud = ud;
    w->next = d->watches;
    d->watches = w;
    *wp = w;
    return BACKEND_RUNNING;
}

static void docker_unwatch(void *self, backend_watch *w) {
    dock *d = self;
    for (backend_watch **pp = &d->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    free(w);
}

static int docker_stop(void *self, const char *job_dir, const char *handle) {
    dock *d = self;
    int rc = 0;
    pthread_mutex_lock(&d->mu);
    djob *j = find_job(d, job_dir);
    if (j && !j->done) {
        j->stop_req = 1;
        pthread_cond_signal(&j->cv);
    } else if (!j && ended_state(job_dir) != BACKEND_EXITED && !track(d, job_dir, handle, 1)) {
        rc = ERR_INTERNAL;
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static backend_state docker_result(void *self, const char *job_dir, const char *handle,
                                   backend_result *r) {
    dock *d = self;
    char p[DOCKER_FILE_MAX];
    pthread_mutex_lock(&d->mu);
    djob *j = find_job(d, job_dir);
    if (j && !j->done) {
        pthread_mutex_unlock(&d->mu);
        return BACKEND_RUNNING;
    }
    if (j && j->lost) {
        r->never_started = j->never_started;
        drop_job(d, j);
        pthread_mutex_unlock(&d->mu);
        return BACKEND_LOST;
    }
    pthread_mutex_unlock(&d->mu);
    path_in(p, sizeof p, job_dir, DOCKER_EXIT_FILE);
    if (backend_read_result_file(p, r) == 0)
        return BACKEND_EXITED;
    if (exists(job_dir, DOCKER_UNWRITABLE_FILE)) {
        r->result_unwritable = 1;
        snprintf(r->error, sizeof r->error,
                 "the training job ended but its result could not be written to %s (is the disk "
                 "full?)",
                 p);
        return BACKEND_EXITED;
    }
    /* Not known yet: find out, off the loop (asked again later). */
    pthread_mutex_lock(&d->mu);
    if (!find_job(d, job_dir))
        track(d, job_dir, handle, 0);
    pthread_mutex_unlock(&d->mu);
    return BACKEND_RUNNING;
}

static ssize_t docker_read_log(void *self, const char *job_dir, const char *handle, int64_t offset,
                               char *buf, size_t n) {
    char p[DOCKER_FILE_MAX];
    path_in(p, sizeof p, job_dir, DOCKER_LOG_FILE);
    return backend_read_log_file(p, offset, buf, n);
}

/* ---- launching ---- */

typedef struct {
    const char *src;
    char target[600];
    int ro;
} dmount;

/* Channels are links to their file:// sources (contract.c), which the
 * container cannot follow: each link becomes a mount point (an empty
 * directory, or an empty file) with its source bind-mounted read-only on
 * it. Fills ms[] (sources owned: free them); returns how many, or -1. */
static int channel_mounts(const char *job_dir, char **srcs, dmount *ms, size_t max, err_t *e) {
    char data[DOCKER_FILE_MAX];
    size_t n = 0;
    snprintf(data, sizeof data, "%s/input/data", job_dir);
    DIR *dir = opendir(data);
    struct dirent *de;
    if (!dir)
        return 0;
    while ((de = readdir(dir))) {
        char p[DOCKER_FILE_MAX + 300];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", data, de->d_name);
        if (lstat(p, &st))
            continue;
        if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) {
            int is_link = S_ISLNK(st.st_mode);
            DIR *sub = is_link ? NULL : opendir(p);
            struct dirent *fe = NULL;
            /* A directory channel (one link), or a file channel (a
             * directory holding a link to the file). */
            for (int once = 1; is_link ? once : (sub && (fe = readdir(sub)) != NULL); once = 0) {
                char link[DOCKER_FILE_MAX + 600], target[600];
                if (is_link) {
                    snprintf(link, sizeof link, "%s", p);
                    snprintf(target, sizeof target, DOCKER_ML_ROOT "/input/data/%s", de->d_name);
                } else {
                    if (fe->d_name[0] == '.')
                        continue;
                    snprintf(link, sizeof link, "%s/%s", p, fe->d_name);
                    snprintf(target, sizeof target, DOCKER_ML_ROOT "/input/data/%s/%s", de->d_name,
                             fe->d_name);
                    if (lstat(link, &st) || !S_ISLNK(st.st_mode))
                        continue;
                }
                char *real = n < max ? realpath(link, NULL) : NULL;
                struct stat rs;
                if (!real || stat(real, &rs)) {
                    free(real);
                    if (sub)
                        closedir(sub);
                    closedir(dir);
                    if (n >= max)
                        err_set(e, ERR_VALIDATION, "more than %zu channel files to mount", max);
                    else
                        err_set(e, ERR_VALIDATION, "channel %s: cannot resolve its source: %s",
                                de->d_name, strerror(errno));
                    return -1;
                }
                unlink(link);
                int made = S_ISDIR(rs.st_mode) ? mkdir(link, 0755)
                                               : close(open(link, O_WRONLY | O_CREAT, 0644));
                if (made) {
                    err_set(e, ERR_INTERNAL, "channel %s: cannot make its mount point: %s",
                            de->d_name, strerror(errno));
                    free(real);
                    if (sub)
                        closedir(sub);
                    closedir(dir);
                    return -1;
                }
                srcs[n] = real;
                ms[n].src = real;
                snprintf(ms[n].target, sizeof ms[n].target, "%s", target);
                ms[n].ro = 1;
                n++;
            }
            if (sub)
                closedir(sub);
        }
    }
    closedir(dir);
    return (int)n;
}

/* Host I > 1's own s3:// channels (its shard of a ShardedByS3Key one; see
 * channels.h), linked by the launch into HOST_DIR/input/data/<channel>:
 * each is bind-mounted over the shared input/data's entry of that name.
 * Appends to mounts; returns how many, or -1 past DOCKER_MAX_MOUNTS. */
static int host_channel_mounts(const char *host_dir, json_t *mounts) {
    char data[DOCKER_FILE_MAX + 64], src[DOCKER_FILE_MAX + 400], target[600];
    int n = 0;
    snprintf(data, sizeof data, "%s/input/data", host_dir);
    DIR *dir = opendir(data);
    struct dirent *de;
    if (!dir)
        return 0;
    while ((de = readdir(dir))) {
        struct stat st;
        snprintf(src, sizeof src, "%s/%s", data, de->d_name);
        if (de->d_name[0] == '.' || lstat(src, &st) || !S_ISDIR(st.st_mode))
            continue;
        if (n >= DOCKER_MAX_MOUNTS) {
            n = -1;
            break;
        }
        snprintf(target, sizeof target, DOCKER_ML_ROOT "/input/data/%s", de->d_name);
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source",
                                                src, "Target", target, "ReadOnly", 1));
        n++;
    }
    closedir(dir);
    return n;
}

static int copy_file(const char *from, const char *to) {
    size_t len = 0;
    char *s = util_read_file(from, 1 << 20, &len);
    int rc = s ? util_write_file(to, s, len, UTIL_WRITE_PLAIN) : -1;
    free(s);
    return rc;
}

/* Lays out host i's /opt/ml (JOB_DIR for host 1, else JOB_DIR/hosts/algo-I)
 * with its own resourceconfig.json. Writes its path to out. */
static int host_dir(const backend_launch *l, int i, int n, char *out, size_t on, err_t *e) {
    const char *job_dir = l->job_dir;
    char p[DOCKER_FILE_MAX + 64], q[DOCKER_FILE_MAX + 64], me[32];
    if (i == 1)
        snprintf(out, on, "%s", job_dir);
    else
        snprintf(out, on, "%s/%s/algo-%d", job_dir, DOCKER_HOSTS_DIR, i);
    static const char *const dirs[] = {"input/config", "input/data", "model", "output/data",
                                       "checkpoints"};
    for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
        snprintf(p, sizeof p, "%s/%s", out, dirs[k]);
        if (util_mkdir_p(p, 0))
            return err_set(e, ERR_INTERNAL, "cannot create %s: %s", p, strerror(errno));
    }
    if (i > 1) {
        static const char *const files[] = {"hyperparameters.json", "inputdataconfig.json"};
        for (size_t k = 0; k < 2; k++) {
            snprintf(p, sizeof p, "%s/input/config/%s", job_dir, files[k]);
            snprintf(q, sizeof q, "%s/input/config/%s", out, files[k]);
            if (access(p, F_OK) == 0 && copy_file(p, q))
                return err_set(e, ERR_INTERNAL, "cannot write %s: %s", q, strerror(errno));
        }
    }
    json_t *hosts = json_array(), *rc = NULL;
    for (int k = 1; hosts && k <= n; k++) {
        snprintf(me, sizeof me, "algo-%d", k);
        json_array_append_new(hosts, json_string(me));
    }
    snprintf(me, sizeof me, "algo-%d", i);
    rc = hosts ? json_pack("{s:s, s:O, s:s}", "current_host", me, "hosts", hosts,
                           "network_interface_name", "eth0")
               : NULL;
    char *s = rc ? json_dumps(rc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    snprintf(p, sizeof p, "%s/input/config/resourceconfig.json", out);
    int err = !s || util_write_file(p, s, strlen(s), UTIL_WRITE_PLAIN);
    free(s);
    json_decref(rc);
    json_decref(hosts);
    if (err)
        return err_set(e, ERR_INTERNAL, "cannot write %s: %s", p, strerror(errno));
    if (i == 1 || !l->run_as)
        return 0; /* host 1's layout is contract_prepare's, the user's parts already its */
    /* Host i's /opt/ml as contract.h lays out host 1's for the job's user:
     * the root searchable (0711), what the program reads or writes its own
     * (input/data is host 1's, mounted over it). */
    if (chmod(out, 0711))
        return err_set(e, ERR_INTERNAL, "cannot chmod %s: %s", out, strerror(errno));
    snprintf(p, sizeof p, "%s/input", out);
    if (lchown(p, l->uid, l->gid))
        return err_set(e, ERR_INTERNAL, "cannot chown %s: %s", p, strerror(errno));
    static const char *const own[] = {"input/config", "model", "output", "checkpoints"};
    for (size_t k = 0; k < sizeof own / sizeof *own; k++) {
        snprintf(p, sizeof p, "%s/%s", out, own[k]);
        int rc2 = channels_chown_tree(p, l->uid, l->gid, e);
        if (rc2)
            return rc2;
    }
    return 0;
}

/* Replaces every occurrence of `from` in s with `to`; a new string. */
static char *replace_all(const char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    const char *p, *q;
    for (p = s; fl && (q = strstr(p, from)); p = q + fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    if (!out)
        return NULL;
    for (p = s; fl && (q = strstr(p, from)); p = q + fl) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
    }
    strcpy(o, p);
    return out;
}

/* The container's environment: the job's, its host paths as /opt/ml, the
 * daemon's own PATH/HOME/USER/LANG/LC_ALL/TZ left out (the image has its
 * own), and the host's SM_* variables. A JSON array (caller decrefs). */
static json_t *container_env(char *const *envp, const char *job_dir, int host, int n, int cpus,
                             int gpus) {
    static const char *const drop[] = {"PATH=", "HOME=", "USER=", "LANG=", "LC_ALL=", "TZ="};
    static const char *const own[] = {
        "SM_CURRENT_HOST=", "SM_HOSTS=", "SM_NUM_CPUS=", "SM_NUM_GPUS=", "SM_TRAINING_ENV="};
    json_t *env = json_array(), *hosts = json_array();
    char me[32], v[64];
    for (int k = 1; hosts && k <= n; k++) {
        snprintf(me, sizeof me, "algo-%d", k);
        json_array_append_new(hosts, json_string(me));
    }
    snprintf(me, sizeof me, "algo-%d", host);
    if (!env || !hosts)
        goto fail;
    for (char *const *p = envp; *p; p++) {
        int skip = 0;
        for (size_t k = 0; k < sizeof drop / sizeof *drop; k++)
            skip |= !strncmp(*p, drop[k], strlen(drop[k]));
        for (size_t k = 0; k < sizeof own / sizeof *own && !skip; k++)
            skip |= !strncmp(*p, own[k], strlen(own[k])) && k != 4;
        if (skip)
            continue;
        char *s = replace_all(*p, job_dir, DOCKER_ML_ROOT);
        if (!s)
            goto fail;
        if (!strncmp(s, "SM_TRAINING_ENV=", 16)) {
            json_t *t = json_loads(s + 16, 0, NULL);
            free(s);
            s = NULL;
            if (!t)
                continue;
            json_object_set_new(t, "current_host", json_string(me));
            json_object_set(t, "hosts", hosts);
            json_object_set_new(t, "num_cpus", json_integer(cpus));
            json_object_set_new(t, "num_gpus", json_integer(gpus));
            json_object_set_new(t, "network_interface_name", json_string("eth0"));
            char *d = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(t);
            if (!d)
                goto fail;
            size_t len = strlen(d) + 17;
            s = malloc(len);
            if (s)
                snprintf(s, len, "SM_TRAINING_ENV=%s", d);
            free(d);
            if (!s)
                goto fail;
        }
        json_array_append_new(env, json_string(s));
        free(s);
    }
    char *hs = json_dumps(hosts, JSON_COMPACT);
    if (!hs)
        goto fail;
    char line[4096];
    snprintf(line, sizeof line, "SM_HOSTS=%s", hs);
    free(hs);
    json_array_append_new(env, json_string(line));
    snprintf(line, sizeof line, "SM_CURRENT_HOST=%s", me);
    json_array_append_new(env, json_string(line));
    snprintf(v, sizeof v, "SM_NUM_CPUS=%d", cpus);
    json_array_append_new(env, json_string(v));
    snprintf(v, sizeof v, "SM_NUM_GPUS=%d", gpus);
    json_array_append_new(env, json_string(v));
    json_array_append_new(env, json_string("SM_NETWORK_INTERFACE_NAME=eth0"));
    json_decref(hosts);
    return env;
fail:
    json_decref(env);
    json_decref(hosts);
    return NULL;
}

/* Makes sure the image is on the engine, by the pull policy. */
static int ensure_image(const dock *d, const char *image, err_t *e) {
    char path[DOCKER_PATH_MAX] = "/images/", m[256];
    long st = 0;
    json_t *out = NULL;
    int rc = 0;
    docker_urlencode(path, sizeof path, image);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/json");
    if (strcmp(d->pull, "always")) {
        if ((rc = docker_call(d->sock, "GET", path, NULL, 0, &st, &out, e)))
            return rc;
        json_decref(out);
        out = NULL;
        if (st == 200)
            return 0;
        if (strcmp(d->pull, "missing"))
            return err_set(e, ERR_VALIDATION,
                           "image '%s' is not on the Docker engine at %s, and its pull policy is "
                           "\"never\" (docs/BACKENDS.md: docker \"pull\")",
                           image, d->sock);
    }
    snprintf(path, sizeof path, "/images/create?fromImage=");
    docker_urlencode(path, sizeof path, image);
    if (!strchr(strrchr(image, '/') ? strrchr(image, '/') : image, ':') && !strchr(image, '@'))
        snprintf(path + strlen(path), sizeof path - strlen(path), "&tag=latest");
    if ((rc = docker_call(d->sock, "POST", path, NULL, 3600 * 1000L, &st, &out, e)))
        return rc;
    docker_error_text(out, st, m, sizeof m);
    json_decref(out);
    if (st != 200)
        return err_set(e, ERR_VALIDATION, "cannot pull image '%s': %s", image, m);
    return 0;
}

static void label_set(json_t *lab, const char *k, const char *v) {
    json_object_set_new(lab, k, json_string(v ? v : ""));
}

static int docker_start(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX],
                        err_t *e) {
    dock *d = self;
    char *srcs[DOCKER_MAX_MOUNTS] = {0};
    dmount ms[DOCKER_MAX_MOUNTS];
    char ids[DOCKER_MAX_HOSTS][80], net[64] = "", m[512], num[32];
    int nids = 0, rc = 0, nm = 0;
    size_t argc = 0;
    json_t *labels = NULL, *body = NULL, *out = NULL;
    long st = 0;
    while (l->argv[argc])
        argc++;
    const char *image = l->argv[0];
    int n = l->instance_count > 0 ? l->instance_count : 1;
    const instance_type *it = instance_lookup(l->instance_type);
    if (argc < 2 || !image[0]) {
        rc = err_set(e, ERR_INTERNAL, "docker: no image to run");
        goto out;
    }
    if (n > DOCKER_MAX_HOSTS) {
        rc = err_set(e, ERR_VALIDATION,
                     "InstanceCount %d: the Docker backend runs at most %d hosts per job", n,
                     DOCKER_MAX_HOSTS);
        goto out;
    }
    if (it && it->gpus > 0 && !d->gpu_runtime) {
        rc = err_set(e, ERR_VALIDATION,
                     "InstanceType %s has %d GPU(s), but the Docker engine at %s has no GPU "
                     "runtime (no \"nvidia\" among its runtimes): the job cannot get its GPUs",
                     it->name, it->gpus, d->sock);
        goto out;
    }
    if ((rc = ensure_image(d, image, e)))
        goto out;
    if ((nm = channel_mounts(l->job_dir, srcs, ms, DOCKER_MAX_MOUNTS, e)) < 0) {
        rc = e->code;
        goto out;
    }
    int cpus = it ? it->vcpus : d->ncpu;
    long long nano = (long long)(cpus < d->ncpu ? cpus : d->ncpu) * 1000000000LL;
    if (n > 1) {
        /* The job's own network: internal unless a network is configured. */
        unsigned char rnd[6];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, rnd, sizeof rnd) : -1;
        if (fd >= 0)
            close(fd);
        if (got != (ssize_t)sizeof rnd) {
            rc = err_set(e, ERR_INTERNAL, "cannot read /dev/urandom");
            goto out;
        }
        snprintf(net, sizeof net, "openhpo-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]);
        body = json_pack("{s:s, s:b, s:b, s:{s:s, s:s, s:s}}", "Name", net, "CheckDuplicate", 1,
                         "Internal", !strcmp(d->network, "none"), "Labels", DOCKER_LABEL, "1",
                         DOCKER_LABEL_DATA_DIR, d->data_dir, DOCKER_LABEL_JOB_DIR, l->job_dir);
        if (!body) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
        if ((rc = docker_call(d->sock, "POST", "/networks/create", body, 0, &st, &out, e)))
            goto out;
        if (st != 201) {
            docker_error_text(out, st, m, sizeof m);
            net[0] = 0;
            rc = err_set(e, ERR_INTERNAL, "cannot create the job's network: %s", m);
            goto out;
        }
        json_decref(body);
        json_decref(out);
        body = out = NULL;
    }
    for (int i = 1; i <= n; i++) {
        char dir[DOCKER_FILE_MAX], me[32], data[DOCKER_FILE_MAX + 64];
        snprintf(me, sizeof me, "algo-%d", i);
        if ((rc = host_dir(l, i, n, dir, sizeof dir, e)))
            goto out;
        labels = json_object();
        if (!labels) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
        json_object_update(labels, d->labels);
        label_set(labels, DOCKER_LABEL, "1");
        label_set(labels, DOCKER_LABEL_DATA_DIR, d->data_dir);
        label_set(labels, DOCKER_LABEL_JOB_DIR, l->job_dir);
        label_set(labels, DOCKER_LABEL_JOB, l->name);
        label_set(labels, DOCKER_LABEL_ACCOUNT, l->account);
        snprintf(num, sizeof num, "%d", i);
        label_set(labels, DOCKER_LABEL_HOST, num);
        snprintf(num, sizeof num, "%d", n);
        label_set(labels, DOCKER_LABEL_HOSTS, num);
        snprintf(num, sizeof num, "%ld", l->max_runtime);
        label_set(labels, DOCKER_LABEL_MAX_RUNTIME, num);
        snprintf(num, sizeof num, "%ld", l->grace);
        label_set(labels, DOCKER_LABEL_GRACE, num);
        label_set(labels, DOCKER_LABEL_OUTPUT, l->output_path);
        snprintf(num, sizeof num, "%u:%u", (unsigned)l->uid, (unsigned)l->gid);
        label_set(labels, DOCKER_LABEL_USER, l->run_as ? num : "");
        json_t *mounts = json_array(), *entry = json_array();
        json_t *env = container_env(l->envp, l->job_dir, i, n, cpus, it ? it->gpus : 0);
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:s}", "Type", "bind", "Source", dir,
                                                "Target", DOCKER_ML_ROOT));
        if (i > 1) {
            snprintf(data, sizeof data, "%s/input/data", l->job_dir);
            json_array_append_new(mounts, json_pack("{s:s, s:s, s:s}", "Type", "bind", "Source",
                                                    data, "Target", DOCKER_ML_ROOT "/input/data"));
            if (host_channel_mounts(dir, mounts) < 0) {
                json_decref(mounts);
                json_decref(entry);
                json_decref(env);
                rc = err_set(e, ERR_VALIDATION, "host %s: more than %d channels to mount", me,
                             DOCKER_MAX_MOUNTS);
                goto out;
            }
        }
        for (int k = 0; k < nm; k++)
            json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind",
                                                    "Source", ms[k].src, "Target", ms[k].target,
                                                    "ReadOnly", ms[k].ro));
        for (size_t k = 1; k + 1 < argc; k++)
            json_array_append_new(entry, json_string(l->argv[k]));
        body = json_pack("{s:s, s:[s], s:o, s:O, s:s, s:{s:o, s:I, s:s}}", "Image", image, "Cmd",
                         l->argv[argc - 1], "Env", env ? env : json_array(), "Labels", labels,
                         "Hostname", me, "HostConfig", "Mounts", mounts, "NanoCpus",
                         (json_int_t)nano, "NetworkMode", n > 1 ? net : d->network);
        json_decref(labels);
        labels = NULL;
        if (!body || !env) {
            json_decref(entry);
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
        if (json_array_size(entry))
            json_object_set(body, "Entrypoint", entry);
        json_decref(entry);
        json_t *hc = json_object_get(body, "HostConfig");
        if (it)
            json_object_set_new(hc, "Memory", json_integer((json_int_t)it->memory_mib << 20));
        if (it && it->gpus > 0)
            json_object_set_new(hc, "DeviceRequests",
                                json_pack("[{s:s, s:i, s:[[s]]}]", "Driver", "nvidia", "Count",
                                          it->gpus, "Capabilities", "gpu"));
        if (l->run_as) {
            snprintf(num, sizeof num, "%u:%u", (unsigned)l->uid, (unsigned)l->gid);
            json_object_set_new(body, "User", json_string(num));
        }
        if (n > 1)
            json_object_set_new(
                body, "NetworkingConfig",
                json_pack("{s:{s:{s:[s]}}}", "EndpointsConfig", net, "Aliases", me));
        if ((rc = docker_call(d->sock, "POST", "/containers/create", body, 0, &st, &out, e)))
            goto out;
        const char *id = json_string_value(json_object_get(out, "Id"));
        if (st != 201 || !id) {
            docker_error_text(out, st, m, sizeof m);
            rc = err_set(e, st == 400 || st == 404 ? ERR_VALIDATION : ERR_INTERNAL,
                         "cannot create the container of %s: %s", image, m);
            goto out;
        }
        snprintf(ids[nids++], sizeof ids[0], "%s", id);
        json_decref(body);
        json_decref(out);
        body = out = NULL;
    }
    for (int i = 0; i < nids; i++) {
        char path[256];
        snprintf(path, sizeof path, "/containers/%s/start", ids[i]);
        if ((rc = docker_call(d->sock, "POST", path, NULL, 0, &st, &out, e)))
            goto out;
        if (st != 204 && st != 304) {
            docker_error_text(out, st, m, sizeof m);
            /* The engine's exec failure ("executable file not found") is the
             * image's: a validation error, as the local backend's. */
            rc = err_set(e, ERR_VALIDATION, "cannot execute %s in image %s: %s", l->argv[argc - 1],
                         image, m);
            goto out;
        }
        json_decref(out);
        out = NULL;
    }
    snprintf(handle, BACKEND_HANDLE_MAX, "%s", ids[0]);
out:
    if (rc) {
        for (int i = 0; i < nids; i++)
            remove_container(d->sock, ids[i]);
        if (net[0])
            remove_network(d->sock, net);
    }
    for (int k = 0; k < nm; k++)
        free(srcs[k]);
    json_decref(labels);
    json_decref(body);
    json_decref(out);
    return rc;
}

/* ---- the backend ---- */

/* Removes this daemon's containers whose job is over (see the top). */
static void sweep_strays(dock *d) {
    err_t e = {0};
    json_t *list = list_containers(d, NULL, &e);
    size_t i;
    json_t *c;
    int removed = 0;
    if (!list) {
        log_warn("docker: cannot look for stray containers: %s", e.msg);
        return;
    }
    json_array_foreach(list, i, c) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        const json_t *lab = json_object_get(c, "Labels");
        const char *jd = json_string_value(json_object_get(lab, DOCKER_LABEL_JOB_DIR));
        if (id && (!jd || access(jd, F_OK) != 0 || exists(jd, DOCKER_EXIT_FILE))) {
            remove_container(d->sock, id);
            removed++;
        }
    }
    json_decref(list);
    remove_networks(d, NULL);
    if (removed)
        log_info("docker: removed %d stray container(s) of ended jobs", removed);
}

static void docker_destroy(void *self);

static void *docker_create(const backend_env *env, err_t *e) {
    dock *d = calloc(1, sizeof *d);
    const json_t *conf = env->conf;
    const char *sock = json_string_value(json_object_get(conf, "socket"));
    const char *pull = json_string_value(json_object_get(conf, "pull"));
    const char *network = json_string_value(json_object_get(conf, "network"));
    const json_t *labels = json_object_get(conf, "labels");
    char text[64];
    long st = 0;
    json_t *info = NULL;
    if (!d) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    d->efd = -1;
    pthread_mutex_init(&d->mu, NULL);
    if (docker_api_init()) {
        free(d);
        err_set(e, ERR_INTERNAL, "cannot initialise libcurl");
        return NULL;
    }
    if (!env->l || !env->data_dir || !env->runner_path) {
        err_set(e, ERR_INTERNAL, "the docker backend needs a loop, the data dir and hpo-runner");
        goto fail;
    }
    d->l = env->l;
    d->log_cap = env->log_cap > 0 ? env->log_cap : 64LL << 20;
    if (!sock && access(DOCKER_DEFAULT_SOCKET, F_OK) != 0) {
        err_set(e, ERR_UNAVAILABLE,
                "Docker is not configured (no --docker-socket, no \"socket\" in the docker "
                "settings, and no %s)",
                DOCKER_DEFAULT_SOCKET);
        goto fail;
    }
    snprintf(d->sock, sizeof d->sock, "%s", sock ? sock : DOCKER_DEFAULT_SOCKET);
    snprintf(d->pull, sizeof d->pull, "%s", pull ? pull : "never");
    snprintf(d->network, sizeof d->network, "%s", network && network[0] ? network : "none");
    if (strcmp(d->pull, "never") && strcmp(d->pull, "missing") && strcmp(d->pull, "always")) {
        err_set(e, ERR_VALIDATION, "docker settings: \"pull\" must be never, missing or always");
        goto fail;
    }
    d->labels = json_object();
    if (labels && (!json_is_object(labels) || json_object_size(labels) > DOCKER_MAX_LABELS)) {
        err_set(e, ERR_VALIDATION,
                "docker settings: \"labels\" must be an object of at most %d strings",
                DOCKER_MAX_LABELS);
        goto fail;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v) {
        if (!json_is_string(v) || !strncmp(k, DOCKER_LABEL, strlen(DOCKER_LABEL))) {
            err_set(e, ERR_VALIDATION,
                    "docker settings: label \"%s\" must be a string and not start with "
                    "\"openhpo\"",
                    k);
            goto fail;
        }
        json_object_set(d->labels, k, v);
    }
    snprintf(d->data_dir, sizeof d->data_dir, "%s", env->data_dir);
    snprintf(d->packer, sizeof d->packer, "%s", env->runner_path);
    char *slash = strrchr(d->packer, '/');
    snprintf(slash ? slash + 1 : d->packer,
             sizeof d->packer - (size_t)(slash ? slash + 1 - d->packer : 0), "%s", PACK_PROGRAM);
    if (docker_call_text(d->sock, "GET", "/_ping", 5000, &st, text, sizeof text, e))
        goto fail;
    if (st != 200 || strcmp(text, "OK")) {
        err_set(e, ERR_UNAVAILABLE, "the Docker engine at %s does not answer /_ping (HTTP %ld)",
                d->sock, st);
        goto fail;
    }
    if (docker_call(d->sock, "GET", "/info", NULL, 0, &st, &info, e))
        goto fail;
    d->ncpu = (int)json_integer_value(json_object_get(info, "NCPU"));
    if (d->ncpu <= 0)
        d->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    d->gpu_runtime = json_object_get(json_object_get(info, "Runtimes"), "nvidia") != NULL;
    json_decref(info);
    d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->efd < 0 || loop_add(d->l, d->efd, EPOLLIN, on_event, d)) {
        err_set(e, ERR_INTERNAL, "docker: eventfd: %s", strerror(errno));
        if (d->efd >= 0)
            close(d->efd);
        d->efd = -1;
        goto fail;
    }
    sweep_strays(d);
    log_info("docker: engine at %s (%d CPUs%s), pull %s, network %s", d->sock, d->ncpu,
             d->gpu_runtime ? ", nvidia runtime" : "", d->pull, d->network);
    return d;
fail:
    docker_destroy(d);
    return NULL;
}

static void docker_destroy(void *self) {
    dock *d = self;
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->quit = 1;
    for (djob *j = d->jobs; j; j = j->next)
        pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&d->mu);
    /* The threads see quit within a poll or a log chunk (about a second);
     * one packing a model finishes that first. */
    while (d->jobs) {
        djob *j = d->jobs;
        d->jobs = j->next;
        if (!j->joined)
            pthread_join(j->th, NULL);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
    while (d->watches) {
        backend_watch *w = d->watches;
        d->watches = w->next;
        free(w);
    }
    if (d->efd >= 0) {
        loop_del(d->l, d->efd);
        close(d->efd);
    }
    json_decref(d->labels);
    pthread_mutex_destroy(&d->mu);
    docker_api_cleanup();
    free(d);
}

const backend_ops backend_docker_ops = {
    .name = "docker",
    .caps = BACKEND_CAP_HOST_DIR | BACKEND_CAP_PACKS_MODEL | BACKEND_CAP_CONTAINER |
            BACKEND_CAP_GPU | BACKEND_CAP_MULTI_NODE,
    .create = docker_create,
    .destroy = docker_destroy,
    .start = docker_start,
    .watch = docker_watch,
    .unwatch = docker_unwatch,
    .stop = docker_stop,
    .result = docker_result,
    .read_log = docker_read_log,
};
