/* telemetry — the series of GET /metrics (see telemetry.h): the registry of
 * counters and histograms, the gauges read at scrape time, the text
 * exposition, the endpoint. */
#include "telemetry.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "status.h"
#include "util.h"

static const struct {
    const char *name;
    telemetry_type type;
    const char *labels;
    const char *help;
} SERIES[] = {
#define X(id, name, type, labels, help) {name, type, labels, help},
    TELEMETRY_SERIES(X)
#undef X
};

static const char *const REASONS[] = {
#define X(id, label, what) label,
    TELEMETRY_REASONS(X)
#undef X
};

static const double BUCKETS[TELEMETRY_NBUCKETS] = {TELEMETRY_BUCKETS};

const char *telemetry_reason_label(telemetry_reason r) {
    return (unsigned)r < TELEMETRY_NREASONS ? REASONS[r] : TELEMETRY_OTHER;
}

/* ---- the registry ---- */

/* One label set of a counter or histogram. */
typedef struct {
    char lv[2][TELEMETRY_LABEL_MAX];
    uint64_t count;                      /* a counter's value; a histogram's observations */
    double sum;                          /* a histogram's sum */
    uint64_t bucket[TELEMETRY_NBUCKETS]; /* observations <= BUCKETS[i] (not cumulative) */
} cell;

typedef struct {
    cell cells[TELEMETRY_CELLS_MAX];
    size_t n;
} family;

/* The process-wide registry: every counter and histogram of the table
 * (gauges have no cells). Guarded by `mu`: record calls come from the loop
 * thread and may come from others (worker threads); the scrape reads under
 * it too. start_time is computed once, under it. */
static struct {
    pthread_mutex_t mu;
    family fam[TM_NSERIES];
    double start_time;
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t nlabels(telemetry_series id) {
    const char *l = SERIES[id].labels;
    return !*l ? 0 : strchr(l, ',') ? 2 : 1;
}

/* The cell of (l0, l1) in series id, made when absent. The last slot is
 * kept for the overflow cell, whose label values are all TELEMETRY_OTHER.
 * Called with reg.mu held. */
static cell *cell_of(telemetry_series id, const char *l0, const char *l1) {
    family *f = &reg.fam[id];
    const char *lv[2] = {l0 ? l0 : "", l1 ? l1 : ""};
    size_t nl = nlabels(id);
    for (size_t k = nl; k < 2; k++)
        lv[k] = "";
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < f->n; i++)
            if (!strncmp(f->cells[i].lv[0], lv[0], TELEMETRY_LABEL_MAX - 1) &&
                !strncmp(f->cells[i].lv[1], lv[1], TELEMETRY_LABEL_MAX - 1))
                return &f->cells[i];
        if (f->n < TELEMETRY_CELLS_MAX - 1 || pass == 1)
            break;
        for (size_t k = 0; k < nl; k++) /* full: the overflow cell */
            lv[k] = TELEMETRY_OTHER;
    }
    cell *c = &f->cells[f->n++];
    memset(c, 0, sizeof *c);
    for (size_t k = 0; k < 2; k++)
        snprintf(c->lv[k], sizeof c->lv[k], "%s", lv[k]);
    return c;
}

static void count(telemetry_series id, const char *l0, const char *l1) {
    pthread_mutex_lock(&reg.mu);
    cell_of(id, l0, l1)->count++;
    pthread_mutex_unlock(&reg.mu);
}

static void observe(telemetry_series id, const char *l0, double seconds) {
    if (!(seconds >= 0)) /* NaN, or a clock gone backwards */
        seconds = 0;
    pthread_mutex_lock(&reg.mu);
    cell *c = cell_of(id, l0, NULL);
    c->count++;
    c->sum += seconds;
    for (size_t i = 0; i < TELEMETRY_NBUCKETS; i++)
        if (seconds <= BUCKETS[i]) {
            c->bucket[i]++;
            break;
        }
    pthread_mutex_unlock(&reg.mu);
}

double telemetry_clock(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void telemetry_api_request(const char *operation, int code, double seconds) {
    char c[16];
    snprintf(c, sizeof c, "%d", code);
    count(TM_API_REQUESTS, operation ? operation : "Unknown", c);
    observe(TM_API_SECONDS, operation ? operation : "Unknown", seconds);
}

void telemetry_suggestion(const char *strategy, double seconds) {
    observe(TM_SUGGEST, strategy, seconds);
}

void telemetry_launched(const char *be) {
    count(TM_LAUNCHED, be, NULL);
}

void telemetry_retried(const char *be) {
    count(TM_RETRIED, be, NULL);
}

void telemetry_ended(const char *be, const char *status, telemetry_reason why) {
    count(TM_ENDED, be, status);
    if (status && !strcmp(status, training_status_text(TRAINING_FAILED)))
        count(TM_FAILED, be, telemetry_reason_label(why));
}

void telemetry_reset(void) {
    pthread_mutex_lock(&reg.mu);
    for (size_t i = 0; i < TM_NSERIES; i++)
        reg.fam[i].n = 0;
    pthread_mutex_unlock(&reg.mu);
}

/* ---- gauges ---- */

void telemetry_gauge(telemetry_gauges *g, telemetry_series id, const char *l0, const char *l1,
                     double value) {
    const char *lv[2] = {l0 ? l0 : "", l1 ? l1 : ""};
    for (size_t i = 0; i < g->n; i++)
        if (g->s[i].id == id && !strcmp(g->s[i].labels[0], lv[0]) &&
            !strcmp(g->s[i].labels[1], lv[1])) {
            g->s[i].value = value;
            return;
        }
    if (g->n >= TELEMETRY_GAUGES_MAX || g->ntext + 2 > 2 * TELEMETRY_GAUGES_MAX)
        return;
    telemetry_sample *s = &g->s[g->n++];
    s->id = id;
    s->value = value;
    for (size_t k = 0; k < 2; k++) {
        if (!*lv[k]) {
            s->labels[k] = "";
            continue;
        }
        char *t = g->text[g->ntext++];
        snprintf(t, TELEMETRY_LABEL_MAX, "%s", lv[k]);
        s->labels[k] = t;
    }
}

/* Adds to a gauge sample (made at 0 when absent). */
static void gauge_add(telemetry_gauges *g, telemetry_series id, const char *l0, const char *l1,
                      double d) {
    for (size_t i = 0; i < g->n; i++)
        if (g->s[i].id == id && !strcmp(g->s[i].labels[0], l0 ? l0 : "") &&
            !strcmp(g->s[i].labels[1], l1 ? l1 : "")) {
            g->s[i].value += d;
            return;
        }
    telemetry_gauge(g, id, l0, l1, d);
}

static void on_status(void *ud, int training, const char *status, int64_t n) {
    telemetry_gauge(ud, training ? TM_TRAINING_JOBS : TM_TUNING_JOBS, status, NULL, (double)n);
}

static void on_trial(void *ud, const char *be, const char *status) {
    gauge_add(ud, TM_TRAINING_ACTIVE, be, status, 1);
}

/* When this process started, epoch seconds: the kernel's boot time plus the
 * process's start in clock ticks (what Prometheus' process collector reads);
 * 0 when /proc cannot tell. */
static double process_start(void) {
    char buf[4096];
    double btime = 0;
    uint64_t ticks = util_proc_starttime((int)getpid());
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "btime %lf", &btime) == 1)
            break;
    fclose(f);
    return btime > 0 && hz > 0 ? btime + (double)ticks / (double)hz : 0;
}

int telemetry_collect(store *st, const engine *en, telemetry_gauges *g) {
    int rc = 0;
    int64_t bytes = 0;
    /* Every status is exported, 0 when no job has it: a series that
     * appears only once a job reaches its status breaks rate() and alerts. */
#define X(code, stored, n17, ncur, final, stoppable)                                               \
    telemetry_gauge(g, TM_TUNING_JOBS, stored, NULL, 0);
    TUNING_STATUS_TABLE(X)
#undef X
#define X(code, stored, n17, ncur, final, stoppable)                                               \
    telemetry_gauge(g, TM_TRAINING_JOBS, stored, NULL, 0);                                         \
    if (!(final))                                                                                  \
        for (size_t i = 0; backend_registered(i); i++)                                             \
            telemetry_gauge(g, TM_TRAINING_ACTIVE, backend_registered(i), stored, 0);
    TRAINING_STATUS_TABLE(X)
#undef X
    if (en) {
        engine_each_trial(en, on_trial, g);
        telemetry_gauge(g, TM_RUNNING, NULL, NULL, engine_running(en));
        telemetry_gauge(g, TM_MAX_RUNNING, NULL, NULL, engine_max_running(en));
    }
    if (st) {
        if (!rc)
            rc = store_count_by_status(st, on_status, g);
        if (!rc && !(rc = store_size_bytes(st, &bytes)))
            telemetry_gauge(g, TM_STORE_BYTES, NULL, NULL, (double)bytes);
    }
    pthread_mutex_lock(&reg.mu);
    if (reg.start_time <= 0)
        reg.start_time = process_start();
    double started = reg.start_time;
    pthread_mutex_unlock(&reg.mu);
    if (started > 0)
        telemetry_gauge(g, TM_START_TIME, NULL, NULL, started);
    return rc;
}

/* ---- exposition ---- */

/* A label value or help text, escaped as the format asks: \\ and \n, and
 * in label values \" too. */
static void put_escaped(FILE *f, const char *s, int quote) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (quote && *s == '"')
            fputs("\\\"", f);
        else
            fputc(*s, f);
    }
}

/* A sample value: integers exactly, others in the shortest form that reads
 * back the same; +Inf, -Inf, NaN as the format spells them. */
static void put_value(FILE *f, double v) {
    char b[40];
    if (isnan(v)) {
        fputs("NaN", f);
        return;
    }
    if (isinf(v)) {
        fputs(v > 0 ? "+Inf" : "-Inf", f);
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        fprintf(f, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    fputs(b, f);
}

/* name{a="x",b="y"[,le="z"]} — the labels of a sample, the series' names
 * for lv (n of them), then an `le` when given. */
static void put_labels(FILE *f, telemetry_series id, const char *const lv[2], const char *le) {
    const char *names = SERIES[id].labels;
    size_t n = nlabels(id);
    if (!n && !le)
        return;
    fputc('{', f);
    for (size_t k = 0; k < n; k++) {
        const char *comma = strchr(names, ',');
        size_t len = k == 0 && comma ? (size_t)(comma - names) : strlen(names);
        if (k)
            fputc(',', f);
        fprintf(f, "%.*s=\"", (int)len, names);
        put_escaped(f, lv[k], 1);
        fputc('"', f);
        if (comma)
            names = comma + 1;
    }
    if (le)
        fprintf(f, "%sle=\"%s\"", n ? "," : "", le);
    fputc('}', f);
}

static void put_histogram(FILE *f, telemetry_series id, const cell *c) {
    const char *lv[2] = {c->lv[0], c->lv[1]};
    uint64_t cum = 0;
    for (size_t i = 0; i <= TELEMETRY_NBUCKETS; i++) {
        char le[32];
        if (i < TELEMETRY_NBUCKETS) {
            cum += c->bucket[i];
            snprintf(le, sizeof le, "%g", BUCKETS[i]);
        } else {
            snprintf(le, sizeof le, "+Inf");
        }
        fprintf(f, "%s_bucket", SERIES[id].name);
        put_labels(f, id, lv, le);
        fprintf(f, " %llu\n", (unsigned long long)(i < TELEMETRY_NBUCKETS ? cum : c->count));
    }
    fprintf(f, "%s_sum", SERIES[id].name);
    put_labels(f, id, lv, NULL);
    fputc(' ', f);
    put_value(f, c->sum);
    fprintf(f, "\n%s_count", SERIES[id].name);
    put_labels(f, id, lv, NULL);
    fprintf(f, " %llu\n", (unsigned long long)c->count);
}

/* The counters whose label sets are known in advance start at 0 in the
 * output, so that rate() and increase() see their first event: launches,
 * retries, ends and failures of every registered backend (its statuses,
 * its reason classes). Called with reg.mu held; idempotent. */
static void declare_known(void) {
    for (size_t i = 0; backend_registered(i); i++) {
        const char *be = backend_registered(i);
        cell_of(TM_LAUNCHED, be, NULL);
        cell_of(TM_RETRIED, be, NULL);
#define X(code, stored, n17, ncur, final, stoppable)                                               \
    if (final)                                                                                     \
        cell_of(TM_ENDED, be, stored);
        TRAINING_STATUS_TABLE(X)
#undef X
        for (size_t r = 0; r < TELEMETRY_NREASONS; r++)
            cell_of(TM_FAILED, be, REASONS[r]);
    }
}

char *telemetry_render(const telemetry_gauges *g, size_t *len) {
    static const char *const type_name[] = {"gauge", "counter", "histogram"};
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    pthread_mutex_lock(&reg.mu);
    declare_known();
    for (size_t id = 0; id < TM_NSERIES; id++) {
        fprintf(f, "# HELP %s ", SERIES[id].name);
        put_escaped(f, SERIES[id].help, 0);
        fprintf(f, "\n# TYPE %s %s\n", SERIES[id].name, type_name[SERIES[id].type]);
        if (SERIES[id].type == TELEMETRY_GAUGE) {
            for (size_t i = 0; g && i < g->n; i++) {
                if (g->s[i].id != (telemetry_series)id)
                    continue;
                fputs(SERIES[id].name, f);
                put_labels(f, (telemetry_series)id, g->s[i].labels, NULL);
                fputc(' ', f);
                put_value(f, g->s[i].value);
                fputc('\n', f);
            }
            continue;
        }
        const family *fam = &reg.fam[id];
        for (size_t i = 0; i < fam->n; i++) {
            const cell *c = &fam->cells[i];
            if (SERIES[id].type == TELEMETRY_HISTOGRAM) {
                put_histogram(f, (telemetry_series)id, c);
                continue;
            }
            const char *lv[2] = {c->lv[0], c->lv[1]};
            fputs(SERIES[id].name, f);
            put_labels(f, (telemetry_series)id, lv, NULL);
            fprintf(f, " %llu\n", (unsigned long long)c->count);
        }
    }
    pthread_mutex_unlock(&reg.mu);
    if (fclose(f) || !buf || n > TELEMETRY_BODY_MAX) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* ---- the endpoint ---- */

int telemetry_load_token(const char *path, char out[TELEMETRY_TOKEN_MAX], err_t *e) {
    struct stat sb;
    size_t len = 0, i = 0;
    int rc = -1;
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb)) {
        err_set(e, ERR_VALIDATION, "--metrics-token-file %s: %s", path, strerror(errno));
        goto out;
    }
    if (sb.st_mode & 077) {
        err_set(e, ERR_VALIDATION,
                "--metrics-token-file %s: must not be readable by others (chmod 600)", path);
        goto out;
    }
    if (!(text = util_read_file(path, TELEMETRY_TOKEN_MAX, &len))) {
        err_set(e, ERR_VALIDATION, "--metrics-token-file %s: %s", path, strerror(errno));
        goto out;
    }
    for (; i < len && text[i] != '\n' && text[i] != '\r'; i++)
        if (text[i] <= ' ' || text[i] > '~') {
            err_set(e, ERR_VALIDATION,
                    "--metrics-token-file %s: the token must be printable ASCII without spaces",
                    path);
            goto out;
        }
    if (i < 16 || i >= TELEMETRY_TOKEN_MAX) {
        err_set(e, ERR_VALIDATION, "--metrics-token-file %s: the token must be 16 to %d bytes",
                path, TELEMETRY_TOKEN_MAX - 1);
        goto out;
    }
    memcpy(out, text, i);
    out[i] = 0;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (text) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    return rc;
}

/* Whether the request carries "Authorization: Bearer <token>". */
static int token_ok(const http_request *req, const char *token) {
    static const char scheme[] = "Bearer ";
    const char *h = http_header(req, "Authorization");
    size_t n = strlen(token);
    if (!h || strncasecmp(h, scheme, sizeof scheme - 1))
        return 0;
    h += sizeof scheme - 1;
    return strlen(h) == n && CRYPTO_memcmp(h, token, n) == 0;
}

static void answer_text(http_response *resp, int status, const char *text) {
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = strdup(text);
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}

void telemetry_serve(store *st, const engine *en, const char *token, const http_request *req,
                     http_response *resp) {
    telemetry_gauges *g = NULL;
    size_t len = 0;
    char *body = NULL;
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        http_response_header(resp, "Allow", "GET, HEAD");
        answer_text(resp, 405, "GET /metrics\n");
        return;
    }
    if (token && *token && !token_ok(req, token)) {
        http_response_header(resp, "WWW-Authenticate", "Bearer realm=\"openhpo metrics\"");
        answer_text(resp, 401, "/metrics needs Authorization: Bearer <token>\n");
        return;
    }
    if (!(g = calloc(1, sizeof *g))) {
        answer_text(resp, 500, "out of memory\n");
        return;
    }
    if (telemetry_collect(st, en, g)) {
        answer_text(resp, 503, "the store cannot be read now; try again\n");
        goto out;
    }
    if (!(body = telemetry_render(g, &len))) {
        answer_text(resp, 500, "cannot render the metrics\n");
        goto out;
    }
    resp->status = 200;
    resp->content_type = TELEMETRY_CONTENT_TYPE;
    resp->body = body;
    resp->body_len = len;
out:
    free(g);
}
