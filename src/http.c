#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util.h"

struct http_server {
    struct MHD_Daemon *d;
    loop *l;
    int epfd;
    int port;
    size_t max_body;
    http_handler handler;
    void *ud;
};

/* Per-request state, from the first callback until completion. */
typedef struct {
    char *buf;
    size_t len, cap;
    int too_large;
} req_state;

const char *http_header(const http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
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

static int append(req_state *st, const char *data, size_t n, size_t max) {
    if (st->too_large || st->len + n > max) {
        st->too_large = 1;
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    http_server *s = cls;
    req_state *st = *con_cls;
    if (!st) {
        if (!(st = calloc(1, sizeof *st)))
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        if (append(st, upload_data, *upload_size, s->max_body))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    char peer[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
    }
    http_request req = {.method = method,
                        .path = url,
                        .body = st->buf ? st->buf : "",
                        .body_len = st->len,
                        .body_too_large = st->too_large,
                        .peer = peer,
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
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    req_state *st = *con_cls;
    if (st) {
        free(st->buf);
        free(st);
        *con_cls = NULL;
    }
}

static void on_ready(loop *l, int fd, uint32_t events, void *ud) {
    http_server *s = ud;
    MHD_run(s->d);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    log_debug("http: %s", buf);
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
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_END);
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
    return s;
}

int http_port(const http_server *s) {
    return s->port;
}

void http_poll(http_server *s) {
    if (s)
        MHD_run(s->d);
}

void http_stop(http_server *s) {
    if (!s)
        return;
    loop_del(s->l, s->epfd);
    MHD_stop_daemon(s->d);
    free(s);
}
