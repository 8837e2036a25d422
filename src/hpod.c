/* hpod — the openhpo daemon.
 *
 *   hpod --listen HOST:PORT --data-dir DIR [options]   (the table OPTIONS below;
 *                                                      hpod --help prints it)
 *
 * Serves the tuning APIs over HTTP, keeps state in DIR/openhpo.db, runs
 * training jobs under DIR/jobs. SIGTERM/SIGINT shut it down cleanly; running
 * training jobs keep running (each under its own hpo-runner) and are
 * re-adopted by the next start. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "credentials.h"
#include "backend.h"
#include "engine.h"
#include "http.h"
#include "loop.h"
#include "s3.h"
#include "store.h"
#include "tenant.h"
#include "throttle.h"
#include "util.h"
#include "validate.h"

#define HPOD_TICK_MS 100
#define HPOD_LOG_CAP (64LL << 20)
#define HPOD_MAX_BACKENDS 8 /* backends one daemon runs at once */

#define HPOD_LIST_MAX 64 /* values of one repeatable option */

/* A repeatable option's values, in order (borrowed from argv). */
typedef struct {
    const char *v[HPOD_LIST_MAX];
    size_t n;
} opt_list;

typedef struct {
    const char *listen, *data_dir, *port_file, *region, *images, *runner, *credentials;
    const char *backend_config; /* JSON object: backend name -> its settings */
    const char *docker_socket;  /* the docker backend's "socket" setting */
    const char *s3_endpoint;    /* --s3-endpoint: becomes AWS_ENDPOINT_URL_S3 (s3.h) */
    long grace;
    int hour_seconds;
    int max_running; /* 0 = the engine default */
    int insecure;
    double throttle_rate, throttle_burst; /* 0 = no throttling */
    opt_list file_roots;                  /* --file-root DIR */
    int allow_host_programs;              /* --allow-host-programs */
    const char *run_as;                   /* --run-as USER */
    opt_list allow_env;                   /* --allow-env KEY */
} options;

typedef struct {
    loop *l;
    engine *en;
    http_server *http;
} daemon_ctx;

/* The option table: one row per option; parse_args and usage read it. To add
 * an option, add a field to `options` and a row here. */
typedef enum { OPT_FLAG, OPT_STR, OPT_LONG, OPT_INT, OPT_DOUBLE, OPT_LIST } opt_kind;
typedef struct {
    const char *name;
    opt_kind kind;
    size_t off; /* of the field in `options` */
    const char *arg, *help;
} opt_def;

#define OPT(name, kind, field, arg, help)                                                          \
    { name, kind, offsetof(options, field), arg, help }
static const opt_def OPTIONS[] = {
    OPT("--listen", OPT_STR, listen, "HOST:PORT", "address to serve on; port 0 picks a free port"),
    OPT("--data-dir", OPT_STR, data_dir, "DIR",
        "where the database, logs and job directories live"),
    OPT("--port-file", OPT_STR, port_file, "FILE", "write the bound port here once ready"),
    OPT("--region", OPT_STR, region, "REGION", "region in ARNs (default us-east-1)"),
    OPT("--images", OPT_STR, images, "FILE",
        "image catalog: JSON object, image URI -> program or argv"),
    OPT("--runner", OPT_STR, runner, "PATH", "hpo-runner binary (default: next to hpod)"),
    OPT("--backend-config", OPT_STR, backend_config, "FILE",
        "backends' settings: JSON object, backend name -> its settings (docs/BACKENDS.md)"),
    OPT("--docker-socket", OPT_STR, docker_socket, "PATH",
        "Docker engine socket (default /var/run/docker.sock when it exists)"),
    OPT("--s3-endpoint", OPT_STR, s3_endpoint, "URL",
        "S3 endpoint for s3:// channels and artifacts, path-style (default: "
        "AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS; docs/S3.md)"),
    OPT("--grace", OPT_LONG, grace, "SECONDS",
        "seconds between SIGTERM and SIGKILL when stopping (default 120)"),
    OPT("--hour-seconds", OPT_INT, hour_seconds, "N",
        "length of an hour for MaxClockTimeInHours (default 3600; for tests)"),
    OPT("--max-running", OPT_INT, max_running, "N",
        "training jobs running at once on this machine, across all tuning jobs (default 64)"),
    OPT("--credentials", OPT_STR, credentials, "FILE",
        "access keys (JSON, mode 0600): every request must be signed with SigV4 by one of "
        "them and acts for its account"),
    OPT("--insecure", OPT_FLAG, insecure, NULL,
        "allow a non-loopback --listen without --credentials (unauthenticated callers act as "
        "account " AUTH_DEFAULT_ACCOUNT ")"),
    OPT("--allow-host-programs", OPT_FLAG, allow_host_programs, NULL,
        "with --credentials: let a TrainingImage name a host program (absolute path or "
        "file://), not only a catalog image; this trusts every caller with any program the "
        "job's user may run"),
    OPT("--run-as", OPT_STR, run_as, "USER",
        "run training jobs as this Unix user (with --credentials: accounts without their own "
        "\"run_as\"); root only when named so"),
    OPT("--file-root", OPT_LIST, file_roots, "DIR",
        "file:// channels and output paths must lie under a root; without --credentials the "
        "roots are these DIRs (none: any path), with it each account gets DIR/<account_id>"),
    OPT("--allow-env", OPT_LIST, allow_env, "KEY",
        "allow Environment key KEY although it changes how programs load or start (LD_*, "
        "BASH_ENV, PATH, ...; src/tenant.h); '*' allows every key"),
    OPT("--throttle-rate", OPT_DOUBLE, throttle_rate, "R",
        "requests/second per access key (default: no throttling)"),
    OPT("--throttle-burst", OPT_DOUBLE, throttle_burst, "B",
        "bucket size per access key (default: max(1, 2 x rate))"),
};
#undef OPT
#define NOPTIONS (sizeof OPTIONS / sizeof *OPTIONS)

static void usage(FILE *f) {
    fprintf(f, "usage: hpod --listen HOST:PORT --data-dir DIR [options]\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", OPTIONS[i].name, OPTIONS[i].arg ? " " : "",
                 OPTIONS[i].arg ? OPTIONS[i].arg : "");
        fprintf(f, "  %-26s %s%s\n", head, OPTIONS[i].help,
                OPTIONS[i].kind == OPT_LIST ? " (repeatable)" : "");
    }
    fprintf(f, "  --verbose                  debug logging\n");
}

/* Stores `v` into the field of `d`; 0, or -1 with a message on stderr. */
static int opt_set(options *o, const opt_def *d, const char *v) {
    char *p = (char *)o + d->off, *end = NULL;
    errno = 0;
    switch (d->kind) {
    case OPT_FLAG:
        *(int *)p = 1;
        return 0;
    case OPT_STR:
        *(const char **)p = v;
        return 0;
    case OPT_LONG:
        *(long *)p = strtol(v, &end, 10);
        break;
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (x < INT_MIN || x > INT_MAX)
            errno = ERANGE;
        *(int *)p = (int)x;
        break;
    }
    case OPT_DOUBLE:
        *(double *)p = strtod(v, &end);
        break;
    case OPT_LIST: {
        opt_list *l = (opt_list *)p;
        if (l->n >= HPOD_LIST_MAX) {
            fprintf(stderr, "hpod: %s given more than %d times\n", d->name, HPOD_LIST_MAX);
            return -1;
        }
        l->v[l->n++] = v;
        return 0;
    }
    }
    if (errno || !end || end == v || *end) {
        fprintf(stderr, "hpod: %s needs a number, not '%s'\n", d->name, v);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.region = "us-east-1", .grace = 120, .hour_seconds = 3600};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const opt_def *d = NULL;
        if (!strcmp(a, "--verbose")) {
            log_verbose = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        for (size_t k = 0; k < NOPTIONS && !d; k++)
            if (!strcmp(a, OPTIONS[k].name))
                d = &OPTIONS[k];
        if (!d) {
            fprintf(stderr, "hpod: unknown option %s\n", a);
            return -1;
        }
        if (d->kind != OPT_FLAG && i + 1 >= argc) {
            fprintf(stderr, "hpod: %s needs a value\n", a);
            return -1;
        }
        if (opt_set(o, d, d->kind == OPT_FLAG ? NULL : argv[++i]))
            return -1;
    }
    if (!o->listen || !o->data_dir) {
        usage(stderr);
        return -1;
    }
    if (o->throttle_burst > 0 && !(o->throttle_rate > 0)) {
        fprintf(stderr, "hpod: --throttle-burst needs --throttle-rate\n");
        return -1;
    }
    if (o->throttle_rate > 0 && !(o->throttle_burst > 0))
        o->throttle_burst = o->throttle_rate * 2 > 1 ? o->throttle_rate * 2 : 1;
    return 0;
}

/* Whether `host` (an IP literal) is a loopback address. */
static int is_loopback(const char *host) {
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        return !memcmp(a, one, sizeof one);
    }
    return 0;
}

/* Signals. SIGTERM and SIGINT reach the loop through a self-pipe: their
 * handlers write the signal's number to it, and the loop watches its read
 * end. A handler works in whichever thread the kernel delivers the signal
 * to. That matters: libraries start threads before main (OpenBLAS starts its
 * pool in a constructor), those threads block nothing, and a process-directed
 * signal that every thread but one blocks goes to that one — so blocking the
 * signals in main and reading a signalfd let a BLAS thread take SIGTERM's
 * default action and kill the daemon.
 *
 * State of the handlers: written once by signals_init() before the handlers
 * are installed and by signals_fini() after they are removed; the handlers
 * only read it. */
static int sig_pipe[2] = {-1, -1};
static pid_t sig_pid; /* the daemon's pid: a forked child is not the daemon */

static void on_stop_signal(int sig) {
    int saved = errno;
    if (getpid() != sig_pid) {
        /* A child between fork and exec: what it would have done without
         * the handler (the signal is re-delivered once this returns). */
        signal(sig, SIG_DFL);
        raise(sig);
    } else {
        unsigned char b = (unsigned char)sig;
        if (write(sig_pipe[1], &b, 1) < 0) {
            /* full: a byte is pending already, which is all the loop needs */
        }
    }
    errno = saved;
}

/* Opens the pipe and installs the handlers. Call it before anything that can
 * start a thread of the daemon's own; 0 or -1 (errno set). */
static int signals_init(void) {
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGINT);
    sig_pid = getpid();
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK))
        return -1;
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -1;
    /* Whatever mask hpod was started with, the loop's thread takes them, so
     * that they are never blocked in every thread (and left pending). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    return pthread_sigmask(SIG_UNBLOCK, &stop, NULL) ? -1 : 0;
}

/* Removes the handlers (a late signal is ignored: hpod is exiting anyway)
 * and closes the pipe. */
static void signals_fini(void) {
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (int i = 0; i < 2; i++)
        if (sig_pipe[i] >= 0) {
            close(sig_pipe[i]);
            sig_pipe[i] = -1;
        }
}

static void on_signal(loop *l, int fd, uint32_t events, void *ud) {
    unsigned char sigs[64];
    ssize_t n;
    while ((n = read(fd, sigs, sizeof sigs)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            log_info("signal %d: shutting down (training jobs keep running)", sigs[i]);
            loop_stop(l);
        }
}

static void on_tick(loop *l, void *ud) {
    daemon_ctx *d = ud;
    engine_tick(d->en);
    http_poll(d->http);
}

int main(int argc, char **argv) {
    options o;
    err_t e = {0};
    int rc = 1;
    char host[256], runner[PATH_MAX], datadir[PATH_MAX];
    loop *l = NULL;
    store *st = NULL;
    backend *backends[HPOD_MAX_BACKENDS] = {0};
    size_t nbackends = 0;
    engine *en = NULL;
    worker *wk = NULL, *dl = NULL; /* dl: s3:// downloads (channels.h) */
    api *ap = NULL;
    http_server *http = NULL;
    json_t *images = NULL;
    credentials *creds = NULL;
    json_t *bconf = NULL; /* --backend-config: outlives the backends */
    throttle *th = NULL;
    tenant *tn = NULL;

    /* Nothing hpod creates is for others (database, logs, job directories);
     * what a job's user must reach is opened up explicitly. */
    umask(077);
    if (parse_args(argc, argv, &o))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    /* S3 settings are read from the environment where they are used (s3.h):
     * set before any thread exists, never changed after. */
    if (o.s3_endpoint && setenv("AWS_ENDPOINT_URL_S3", o.s3_endpoint, 1)) {
        fprintf(stderr, "hpod: --s3-endpoint: %s\n", strerror(errno));
        return 2;
    }
    {
        s3_config s3c;
        if (s3_global_init() || s3_config_from_env(&s3c, &e)) {
            fprintf(stderr, "hpod: S3 settings: %s\n", e.msg[0] ? e.msg : "libcurl init failed");
            return 2;
        }
    }
    if (signals_init()) {
        fprintf(stderr, "hpod: cannot set up signal handling: %s\n", strerror(errno));
        return 1;
    }
    /* ---- Threads of the daemon's own (a worker) may be created from here on.
     * SIGTERM and SIGINT work whichever thread they land on, but a thread that
     * computes should not be interrupted by them: create it with every signal
     * blocked (pthread_sigmask(SIG_BLOCK, &all, &old); pthread_create(...);
     * pthread_sigmask(SIG_SETMASK, &old, NULL)), so that they land on the loop
     * thread (or on a library's thread, where the handler does the same). ---- */
    const char *colon = strrchr(o.listen, ':');
    if (!colon || colon == o.listen || (size_t)(colon - o.listen) >= sizeof host) {
        fprintf(stderr, "hpod: --listen must be HOST:PORT\n");
        return 2;
    }
    memcpy(host, o.listen, (size_t)(colon - o.listen));
    host[colon - o.listen] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1] */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    int port = atoi(colon + 1);
    if (!o.credentials && !o.insecure && !is_loopback(host)) {
        fprintf(stderr,
                "hpod: without --credentials hpod serves loopback only; listening on %s "
                "needs --credentials FILE (or --insecure)\n",
                host);
        return 2;
    }
    if (util_mkdir_p(o.data_dir, 1) || !realpath(o.data_dir, datadir)) {
        fprintf(stderr, "hpod: cannot create data dir %s: %s\n", o.data_dir, strerror(errno));
        return 1;
    }
    /* The data dir and its jobs/ are 0711: a job's user reaches its own job
     * directory by path, and lists (reads) nothing of the daemon's. */
    {
        char jobs[PATH_MAX + 8];
        snprintf(jobs, sizeof jobs, "%s/jobs", datadir);
        if (chmod(datadir, 0711) || (mkdir(jobs, 0711) && errno != EEXIST) || chmod(jobs, 0711)) {
            fprintf(stderr, "hpod: cannot set the mode of %s: %s\n", jobs, strerror(errno));
            return 1;
        }
    }
    if (o.runner) {
        snprintf(runner, sizeof runner, "%s", o.runner);
    } else {
        ssize_t n = readlink("/proc/self/exe", runner, sizeof runner - 32);
        if (n <= 0) {
            fprintf(stderr, "hpod: cannot find myself; pass --runner\n");
            return 1;
        }
        runner[n] = 0;
        char *slash = strrchr(runner, '/');
        snprintf(slash + 1, sizeof runner - (size_t)(slash + 1 - runner), "hpo-runner");
    }
    if (access(runner, X_OK)) {
        fprintf(stderr, "hpod: hpo-runner not found at %s\n", runner);
        return 1;
    }
    if (o.images) {
        json_error_t je;
        images = json_load_file(o.images, 0, &je);
        if (!json_is_object(images)) {
            fprintf(stderr, "hpod: --images %s: not a JSON object (%s, line %d)\n", o.images,
                    je.text, je.line);
            goto out;
        }
    }
    if (o.credentials && !(creds = credentials_load(o.credentials, &e))) {
        fprintf(stderr, "hpod: %s\n", e.msg);
        goto out;
    }
    tenant_config tc = {.creds = creds,
                        .allow_host_programs = o.allow_host_programs,
                        .run_as = o.run_as,
                        .file_roots = o.file_roots.v,
                        .nfile_roots = o.file_roots.n,
                        .allow_env = o.allow_env.v,
                        .nallow_env = o.allow_env.n};
    if (!(tn = tenant_new(&tc, &e))) {
        fprintf(stderr, "hpod: %s%s%s\n", creds ? o.credentials : "", creds ? ": " : "", e.msg);
        goto out;
    }
    if (o.throttle_rate > 0 && !(th = throttle_new(o.throttle_rate, o.throttle_burst))) {
        fprintf(stderr, "hpod: bad --throttle-rate / --throttle-burst\n");
        goto out;
    }
    /* The GP's matrices are small: BLAS threads would only compete with the
     * training jobs for cores. OpenBLAS, when it is the BLAS, is told so. */
    void (*blas_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (blas_threads)
        blas_threads(1);
    /* Room for the HTTP server's connections (http.h): raise the soft
     * descriptor limit towards the hard one, no further than needed. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rlim_t want = HTTP_MAX_CONNECTIONS + 2 * HTTP_RESERVED_FDS;
        if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
            want = rl.rlim_max;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl))
                log_warn("cannot raise the descriptor limit: %m");
        }
    }
    if (!(l = loop_new()) || loop_add(l, sig_pipe[0], EPOLLIN, on_signal, NULL)) {
        fprintf(stderr, "hpod: cannot set up the event loop\n");
        goto out;
    }
    /* The data dir is locked by the store: a second hpod on it stops here,
     * before it binds its port or touches a job. */
    if (!(st = store_open(datadir, &e))) {
        fprintf(stderr, "hpod: %s\n", e.msg);
        if (e.code == ERR_IN_USE)
            rc = 2;
        goto out;
    }
    /* A database of an earlier daemon (before umask 077) is made private. */
    static const char *const dbfiles[] = {"openhpo.db", "openhpo.db-wal", "openhpo.db-shm"};
    for (size_t i = 0; i < sizeof dbfiles / sizeof *dbfiles; i++) {
        char f[PATH_MAX + 32];
        snprintf(f, sizeof f, "%s/%s", datadir, dbfiles[i]);
        if (chmod(f, 0600) && errno != ENOENT)
            log_warn("cannot make %s private: %s", f, strerror(errno));
    }
    /* Every registered backend; one that cannot start here (its engine is
     * absent, say) is left out, and jobs naming it fail with a reason. The
     * local backend must start. */
    if (o.backend_config) {
        json_error_t je;
        bconf = json_load_file(o.backend_config, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(bconf)) {
            fprintf(stderr, "hpod: --backend-config %s: %s\n", o.backend_config,
                    bconf ? "not a JSON object" : je.text);
            goto out;
        }
        const char *bname;
        json_t *bval;
        json_object_foreach(bconf, bname, bval) {
            int known = 0;
            for (size_t i = 0; backend_registered(i); i++)
                known |= !strcmp(bname, backend_registered(i));
            if (!known || !json_is_object(bval)) {
                fprintf(stderr, "hpod: --backend-config %s: \"%s\" %s\n", o.backend_config, bname,
                        known ? "must be an object" : "is not a backend");
                goto out;
            }
        }
    }
    if (o.docker_socket) { /* --docker-socket is the docker settings' "socket" */
        json_t *dc = json_object_get(bconf, "docker");
        if ((!bconf && !(bconf = json_object())) ||
            (!dc && json_object_set_new(bconf, "docker", dc = json_object())) || !dc ||
            json_object_set_new(dc, "socket", json_string(o.docker_socket))) {
            fprintf(stderr, "hpod: out of memory\n");
            goto out;
        }
    }
    for (size_t i = 0; backend_registered(i) && nbackends < HPOD_MAX_BACKENDS; i++) {
        const char *name = backend_registered(i);
        backend_env benv = {.l = l,
                            .runner_path = runner,
                            .log_cap = HPOD_LOG_CAP,
                            .data_dir = datadir,
                            .conf = json_object_get(bconf, name)};
        if ((backends[nbackends] = backend_new(name, &benv, &e))) {
            nbackends++;
        } else if (!strcmp(name, "local")) {
            fprintf(stderr, "hpod: %s\n", e.msg);
            goto out;
        } else {
            log_warn("backend %s is not available: %s", name, e.msg);
        }
    }
    /* After the signals are blocked: the worker's thread inherits no
     * deliverable SIGTERM/SIGINT. */
    if (!(wk = worker_new(l, &e)) || !(dl = worker_new(l, &e))) {
        fprintf(stderr, "hpod: %s\n", e.msg);
        goto out;
    }
    engine_config ec = {.l = l,
                        .st = st,
                        .backends = backends,
                        .nbackends = nbackends,
                        .wk = wk,
                        .dl = dl,
                        .data_dir = datadir,
                        .images = images,
                        .tenant = tn,
                        .grace = o.grace,
                        .max_running = o.max_running};
    if (!(en = engine_new(&ec, &e)) || engine_start(en, &e)) {
        fprintf(stderr, "hpod: %s\n", e.msg);
        goto out;
    }
    api_config ac = {.st = st,
                     .en = en,
                     .region = o.region,
                     .hour_seconds = o.hour_seconds,
                     .auth = {.creds = creds, .th = th, .region = o.region},
                     .data_dir = datadir};
    if (!(ap = api_new(&ac)))
        goto out;
    if (!(http = http_start(l, host, port, VALIDATE_MAX_BODY_BYTES, api_handle, ap)))
        goto out;
    daemon_ctx d = {l, en, http};
    loop_set_tick(l, HPOD_TICK_MS, on_tick, &d);
    loop_kick(l);
    if (o.port_file) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%d\n", http_port(http));
        if (util_write_file(o.port_file, buf, (size_t)n, UTIL_WRITE_ATOMIC)) {
            fprintf(stderr, "hpod: cannot write %s: %s\n", o.port_file, strerror(errno));
            goto out;
        }
    }
    log_info("listening on %s:%d, data in %s", host, http_port(http), datadir);
    if (creds)
        log_info("authentication: SigV4 with %zu access keys from %s", credentials_count(creds),
                 o.credentials);
    else
        log_info("authentication: none (no --credentials): %s, every caller acts as account %s",
                 is_loopback(host) ? "serving loopback only" : "INSECURE, --insecure given",
                 AUTH_DEFAULT_ACCOUNT);
    if ((creds || o.run_as) && geteuid() != 0)
        log_warn("jobs run as other Unix users (run_as, --run-as): hpod runs as uid %d, not "
                 "root, so it can start only jobs of its own user",
                 (int)geteuid());
    if (creds && o.allow_host_programs)
        log_warn("--allow-host-programs: every caller may run any host program as its jobs' user");
    rc = loop_run(l) ? 1 : 0;
    log_info("stopped");
out:
    http_stop(http);
    api_free(ap);
    engine_free(en);
    worker_free(dl); /* after the engine: its fetches stop at the next part (worker_stopping) */
    worker_free(wk); /* after the engine: the jobs it still holds free themselves */
    for (size_t i = 0; i < nbackends; i++)
        backend_free(backends[i]);
    json_decref(bconf);
    store_close(st);
    loop_free(l);
    json_decref(images);
    throttle_free(th);
    tenant_free(tn); /* after the engine, which borrows it */
    credentials_free(creds);
    validate_shutdown();
    signals_fini();
    return rc;
}
