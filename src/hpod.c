/* hpod — the openhpo daemon.
 *
 *   hpod --listen HOST:PORT --data-dir DIR [--port-file F] [--region R]
 *        [--images FILE] [--runner PATH] [--grace SECONDS] [--verbose]
 *        [--credentials FILE] [--insecure] [--throttle-rate R --throttle-burst B]
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "credentials.h"
#include "backend.h"
#include "engine.h"
#include "http.h"
#include "loop.h"
#include "store.h"
#include "throttle.h"
#include "util.h"
#include "validate.h"

#define HPOD_TICK_MS 100
#define HPOD_LOG_CAP (64LL << 20)
#define HPOD_MAX_BACKENDS 8 /* backends one daemon runs at once */

typedef struct {
    const char *listen, *data_dir, *port_file, *region, *images, *runner, *credentials;
    long grace;
    int hour_seconds;
    int max_running; /* 0 = the engine default */
    int insecure;
    double throttle_rate, throttle_burst; /* 0 = no throttling */
} options;

typedef struct {
    loop *l;
    engine *en;
    http_server *http;
} daemon_ctx;

static void usage(FILE *f) {
    fprintf(f, "usage: hpod --listen HOST:PORT --data-dir DIR [--port-file FILE]\n"
               "            [--region REGION] [--images FILE] [--runner PATH]\n"
               "            [--grace SECONDS] [--verbose] [--credentials FILE] [--insecure]\n"
               "            [--throttle-rate R [--throttle-burst B]]\n"
               "  --listen     address to serve on; port 0 picks a free port\n"
               "  --data-dir   where the database, logs and job directories live\n"
               "  --port-file  write the bound port here once ready\n"
               "  --region     region in ARNs (default us-east-1)\n"
               "  --images     image catalog: JSON object, image URI -> program or argv\n"
               "  --runner     hpo-runner binary (default: next to hpod)\n"
               "  --grace      seconds between SIGTERM and SIGKILL when stopping (default 120)\n"
               "  --hour-seconds N  length of an hour for MaxClockTimeInHours (default 3600;\n"
               "               for tests)\n"
               "  --max-running N  training jobs running at once on this machine, across\n"
               "               all tuning jobs (default 64)\n"
               "  --credentials  access keys (JSON, mode 0600): every request must be signed\n"
               "               with SigV4 by one of them and acts for its account\n"
               "  --insecure   allow a non-loopback --listen without --credentials\n"
               "               (unauthenticated callers act as account " AUTH_DEFAULT_ACCOUNT ")\n"
               "  --throttle-rate R   requests/second per access key (default: no throttling)\n"
               "  --throttle-burst B  bucket size per access key (default: max(1, 2 x rate))\n");
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.region = "us-east-1", .grace = 120, .hour_seconds = 3600};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--verbose")) {
            log_verbose = 1;
            continue;
        }
        if (!strcmp(a, "--insecure")) {
            o->insecure = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hpod: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--listen"))
            o->listen = v;
        else if (!strcmp(a, "--data-dir"))
            o->data_dir = v;
        else if (!strcmp(a, "--port-file"))
            o->port_file = v;
        else if (!strcmp(a, "--region"))
            o->region = v;
        else if (!strcmp(a, "--images"))
            o->images = v;
        else if (!strcmp(a, "--runner"))
            o->runner = v;
        else if (!strcmp(a, "--grace"))
            o->grace = atol(v);
        else if (!strcmp(a, "--hour-seconds"))
            o->hour_seconds = atoi(v);
        else if (!strcmp(a, "--max-running"))
            o->max_running = atoi(v);
        else if (!strcmp(a, "--credentials"))
            o->credentials = v;
        else if (!strcmp(a, "--throttle-rate"))
            o->throttle_rate = atof(v);
        else if (!strcmp(a, "--throttle-burst"))
            o->throttle_burst = atof(v);
        else {
            fprintf(stderr, "hpod: unknown option %s\n", a);
            return -1;
        }
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
    worker *wk = NULL;
    api *ap = NULL;
    http_server *http = NULL;
    json_t *images = NULL;
    credentials *creds = NULL;
    throttle *th = NULL;

    if (parse_args(argc, argv, &o))
        return 2;
    signal(SIGPIPE, SIG_IGN);
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
    /* Every registered backend; one that cannot start here (its engine is
     * absent, say) is left out, and jobs naming it fail with a reason. The
     * local backend must start. */
    backend_env benv = {.l = l, .runner_path = runner, .log_cap = HPOD_LOG_CAP};
    for (size_t i = 0; backend_registered(i) && nbackends < HPOD_MAX_BACKENDS; i++) {
        const char *name = backend_registered(i);
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
    if (!(wk = worker_new(l, &e))) {
        fprintf(stderr, "hpod: %s\n", e.msg);
        goto out;
    }
    engine_config ec = {.l = l,
                        .st = st,
                        .backends = backends,
                        .nbackends = nbackends,
                        .wk = wk,
                        .data_dir = datadir,
                        .images = images,
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
                     .auth = {.creds = creds, .th = th, .region = o.region}};
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
    rc = loop_run(l) ? 1 : 0;
    log_info("stopped");
out:
    http_stop(http);
    api_free(ap);
    engine_free(en);
    worker_free(wk); /* after the engine: the jobs it still holds free themselves */
    for (size_t i = 0; i < nbackends; i++)
        backend_free(backends[i]);
    store_close(st);
    loop_free(l);
    json_decref(images);
    throttle_free(th);
    credentials_free(creds);
    validate_shutdown();
    signals_fini();
    return rc;
}
