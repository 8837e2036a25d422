/* http — libmicrohttpd in external epoll mode on the daemon's loop: body
 * collection under a cap, an early answer for an over-cap body, per-request
 * deadlines, the request id and the access log line. See http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

/* A connection, from accept to close (MHD's socket context). While it waits
 * for a request's headers and body it is in its server's deadline list, which
 * is sorted by deadline because every deadline is "now + the same delay". */
typedef struct conn_state {
    int fd;
    int64_t deadline; /* util_mono_ms() by which the request must be in */
    int in_list;
    int killed; /* shut down at its deadline; closing */
    struct conn_state *prev, *next;
} conn_state;

struct http_server {
    struct MHD_Daemon *d;
    loop *l;
    int epfd;
    int port;
    size_t max_body;
    http_handler handler;
    void *ud;
    conn_state *head, *tail; /* deadline list, earliest first */
    uint64_t ids;            /* request id fallback counter (loop thread only) */
};

/* Per-request state, from the first callback until completion. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t discarded; /* bytes of a chunked body dropped past the cap */
    int too_large;
    int answered;
    double start_ms; /* precise_ms() when the headers were in */
    char id[HTTP_REQUEST_ID_LEN + 1];
    char peer[INET6_ADDRSTRLEN];
} req_state;

/* Monotonic milliseconds with a fraction, for the log line. */
static double precise_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void list_remove(http_server *s, conn_state *c) {
    if (!c->in_list)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->tail = c->prev;
    c->prev = c->next = NULL;
    c->in_list = 0;
}

/* Starts the request deadline of `c` now. */
static void arm_deadline(http_server *s, conn_state *c) {
    list_remove(s, c);
    if (c->killed)
        return;
    c->deadline = util_mono_ms() + HTTP_REQUEST_DEADLINE_MS;
    c->prev = s->tail;
    c->next = NULL;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    c->in_list = 1;
}

/* Shuts down every connection past its deadline; MHD then sees the hang-up
 * on its epoll set and closes the connection (calling our callbacks). */
static void sweep_deadlines(http_server *s) {
    int64_t now = util_mono_ms();
    while (s->head && s->head->deadline <= now) {
        conn_state *c = s->head;
        list_remove(s, c);
        c->killed = 1;
        if (shutdown(c->fd, SHUT_RDWR) && errno != ENOTCONN)
            log_debug("http: shutdown: %m");
    }
}

static conn_state *conn_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    http_server *s = cls;
    conn_state *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (c) {
            list_remove(s, c);
            free(c);
            *socket_context = NULL;
        }
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    if (!(c = calloc(1, sizeof *c))) {
        shutdown(ci->connect_fd, SHUT_RDWR); /* no deadline without state: refuse */
        return;
    }
    c->fd = ci->connect_fd;
    *socket_context = c;
    arm_deadline(s, c);
}

/* A random UUID v4 (RFC 4122) into out. */
static void make_request_id(http_server *s, char out[HTTP_REQUEST_ID_LEN + 1]) {
    unsigned char b[16];
    if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
        /* No entropy yet (early boot): unique within this daemon is enough. */
        uint64_t t = (uint64_t)util_mono_ms(), n = ++s->ids;
        memcpy(b, &t, 8);
        memcpy(b + 8, &n, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, HTTP_REQUEST_ID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

static void peer_of(struct MHD_Connection *conn, char peer[INET6_ADDRSTRLEN]) {
    snprintf(peer, INET6_ADDRSTRLEN, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, INET6_ADDRSTRLEN);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer,
                      INET6_ADDRSTRLEN);
    }
}

/* Copies client text for a log line: printable ASCII only, capped. */
static void log_field(char out[HTTP_LOG_FIELD_MAX + 1], const char *in) {
    size_t i = 0;
    for (; in && in[i] && i < HTTP_LOG_FIELD_MAX; i++)
        out[i] = isprint((unsigned char)in[i]) ? in[i] : '?';
    out[i] = 0;
}

const char *http_header(const http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    void (*cb)(void *, const char *, const char *);
    void *ud;
} each_ctx;

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                   const char *v) {
    each_ctx *c = cls;
    c->cb(c->ud, k, v ? v : "");
    return MHD_YES;
}

void http_headers_each(const http_request *req,
                       void (*cb)(void *ud, const char *name, const char *value), void *ud) {
    each_ctx c = {cb, ud};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, each_header, &c);
}

int http_json_content_type(const char *ct) {
    static const char *const ok[] = {"application/json", "application/x-amz-json-1.1",
                                     "application/x-amz-json-1.0"};
    if (!ct)
        return 0;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        size_t n = strlen(ok[i]);
        if (!strncasecmp(ct, ok[i], n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

void http_response_header(http_response *resp, const char *name, const char *value) {
    if (resp->nheaders >= HTTP_MAX_HEADERS)
        return;
    resp->headers[resp->nheaders].name = name;
    snprintf(resp->headers[resp->nheaders].value, sizeof resp->headers[0].value, "%s", value);
    resp->nheaders++;
}

/* Keep the path as sent: SigV4 signs the raw path. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    return strlen(s);
}

/* Adds n body bytes; past `max` the body is flagged and the rest dropped. */
static int append(req_state *st, const char *data, size_t n, size_t max) {
    if (st->too_large || st->len + n > max) {
        st->too_large = 1;
        st->discarded += n;
        return 0;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *nb = realloc(st->buf, cap);
        if (!nb)
            return -1;
        st->buf = nb;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, data, n);
    st->len += n;
    st->buf[st->len] = 0;
    return 0;
}

/* Calls the handler and queues its answer, with the request id; logs it. */
static enum MHD_Result respond(http_server *s, struct MHD_Connection *conn, req_state *st,
                               const char *url, const char *method) {
    conn_state *c = conn_of(conn);
    if (c)
        list_remove(s, c); /* the request is in: no deadline while it is answered */
    st->answered = 1;
    http_request req = {.method = method,
                        .path = url,
                        .body = st->buf ? st->buf : "",
                        .body_len = st->len,
                        .body_too_large = st->too_large,
                        .peer = st->peer,
                        .request_id = st->id,
                        .conn = conn};
    http_response resp = {.status = 500};
    s->handler(s->ud, &req, &resp);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp.body_len, resp.body ? resp.body : (char *)"",
                                        resp.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(resp.body);
        return MHD_NO;
    }
    if (resp.content_type)
        MHD_add_response_header(r, "Content-Type", resp.content_type);
    for (int i = 0; i < resp.nheaders; i++)
        MHD_add_response_header(r, resp.headers[i].name, resp.headers[i].value);
    MHD_add_response_header(r, "x-amzn-RequestId", st->id);
    if (st->too_large) /* the rest of the body is not read: this connection is done */
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    char path[HTTP_LOG_FIELD_MAX + 1], target[HTTP_LOG_FIELD_MAX + 1];
    log_field(path, url);
    log_field(target, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target"));
    char body[32];
    if (st->too_large)
        snprintf(body, sizeof body, "over the cap");
    else
        snprintf(body, sizeof body, "%zu bytes", st->len);
    log_info("http: %s %s%s%s %d %.2f ms body %s peer %s id %s", method, path, *target ? " " : "",
             target, resp.status, precise_ms() - st->start_ms, body, st->peer, st->id);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    http_server *s = cls;
    req_state *st = *con_cls;
    (void)version;
    if (!st) {
        /* Headers are in. */
        if (!(st = calloc(1, sizeof *st)))
            return MHD_NO;
        *con_cls = st;
        st->start_ms = precise_ms();
        make_request_id(s, st->id);
        peer_of(conn, st->peer);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > s->max_body) {
                /* Answer now: MHD then reads no body and closes after the answer. */
                st->too_large = 1;
                return respond(s, conn, st, url, method);
            }
            if (n && !(st->buf = malloc(n + 1)))
                return MHD_NO;
            st->cap = st->buf ? n + 1 : 0;
        }
        return MHD_YES;
    }
    if (st->answered) { /* early answer queued; MHD discards what follows */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (append(st, upload_data, *upload_size, s->max_body))
            return MHD_NO;
        *upload_size = 0;
        /* A chunked body past the cap cannot be answered before its end. */
        return st->discarded > HTTP_MAX_DISCARD_BYTES ? MHD_NO : MHD_YES;
    }
    return respond(s, conn, st, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    http_server *s = cls;
    req_state *st = *con_cls;
    (void)toe;
    if (st) {
        free(st->buf);
        free(st);
        *con_cls = NULL;
    }
    /* A keep-alive connection now waits for its next request. */
    conn_state *c = conn_of(conn);
    if (c)
        arm_deadline(s, c);
}

/* MHD's next deadline in ms (0: it has buffered input), or -1 for none. */
static int64_t http_due(void *ud) {
    http_server *s = ud;
    MHD_UNSIGNED_LONG_LONG t;
    int64_t due = -1;
    if (MHD_get_timeout(s->d, &t) == MHD_YES)
        due = t > (MHD_UNSIGNED_LONG_LONG)INT64_MAX ? INT64_MAX : (int64_t)t;
    if (s->head) {
        int64_t left = s->head->deadline - util_mono_ms();
        if (left < 0)
            left = 0;
        if (due < 0 || left < due)
            due = left;
    }
    return due;
}

static void http_run(loop *l, void *ud) {
    http_server *s = ud;
    (void)l;
    sweep_deadlines(s);
    MHD_run(s->d);
}

static void on_ready(loop *l, int fd, uint32_t events, void *ud) {
    (void)fd;
    (void)events;
    http_run(l, ud);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char buf[512];
    (void)cls;
    vsnprintf(buf, sizeof buf, fmt, ap);
    log_debug("http: %s", buf);
}

/* HTTP_MAX_CONNECTIONS, or fewer if the descriptor limit is lower. */
static unsigned connection_limit(void) {
    struct rlimit rl;
    rlim_t n = HTTP_MAX_CONNECTIONS;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
        rlim_t avail =
            rl.rlim_cur > 2 * HTTP_RESERVED_FDS ? rl.rlim_cur - HTTP_RESERVED_FDS : rl.rlim_cur / 2;
        if (avail < n)
            n = avail;
    }
    if (n <= HTTP_MAX_CONNECTIONS_PER_IP)
        log_warn("http: only %u connections at once (RLIMIT_NOFILE %llu): raise ulimit -n",
                 (unsigned)n, (unsigned long long)rl.rlim_cur);
    return (unsigned)n;
}

http_server *http_start(loop *l, const char *host, int port, size_t max_body, http_handler handler,
                        void *ud) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        log_error("listen address '%s' is not an IPv4 or IPv6 literal", host);
        return NULL;
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->l = l;
    s->max_body = max_body;
    s->handler = handler;
    s->ud = ud;
    s->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, s, MHD_OPTION_CONNECTION_LIMIT,
        connection_limit(), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)HTTP_MAX_CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)HTTP_LISTEN_BACKLOG, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_END);
    if (!s->d) {
        log_error("cannot listen on %s:%d", host, port);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
    s->epfd = di ? di->epoll_fd : -1;
    if (s->epfd < 0 || loop_add(l, s->epfd, 0x001 /* EPOLLIN */, on_ready, s)) {
        log_error("cannot watch the HTTP server");
        MHD_stop_daemon(s->d);
        free(s);
        return NULL;
    }
    if (loop_add_source(l, http_due, http_run, s)) {
        log_error("cannot time the HTTP server");
        loop_del(l, s->epfd);
        MHD_stop_daemon(s->d);
        free(s);
        return NULL;
    }
    return s;
}

int http_port(const http_server *s) {
    return s->port;
}

void http_poll(http_server *s) {
    if (s)
        http_run(s->l, s);
}

void http_stop(http_server *s) {
    if (!s)
        return;
    loop_del_source(s->l, s);
    loop_del(s->l, s->epfd);
    MHD_stop_daemon(s->d);
    free(s);
}
