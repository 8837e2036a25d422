/* http — the daemon's HTTP server (libmicrohttpd, driven by the loop).
 *
 * Collects each request's body up to a cap, then calls one handler
 * synchronously on the loop thread. The handler fills an http_response; the
 * server sends it. Nothing here knows the APIs.
 *
 * libmicrohttpd runs in external epoll mode: the loop watches its epoll fd and
 * asks it (MHD_get_timeout) when to run it again, so input it has buffered is
 * processed at once and a body arrives at loopback speed. What no client can
 * do: hold more than HTTP_MAX_CONNECTIONS_PER_IP connections; take longer than
 * HTTP_REQUEST_DEADLINE_MS to send a request's headers and body (counted from
 * the connection's accept, or from the end of its previous answer: the
 * connection is then shut down); send a body above the cap (with a
 * Content-Length above it the handler is called at once with body_too_large
 * set and no body, and the connection is closed after the answer, without
 * reading the rest; a chunked body is discarded past the cap and answered at
 * its end, or the connection dropped after HTTP_MAX_DISCARD_BYTES). Every
 * answer carries `x-amzn-RequestId` (a random UUID v4) and is logged at info
 * with method, path (and X-Amz-Target), status, time and that id. */
#ifndef OPENHPO_HTTP_H
#define OPENHPO_HTTP_H

#include <stddef.h>

#include "loop.h"

typedef struct http_server http_server;

/* Every cap and deadline of the HTTP server. */
#define HTTP_MAX_CONNECTIONS 4096           /* at once; lowered to fit RLIMIT_NOFILE */
#define HTTP_RESERVED_FDS 256               /* descriptors left for the store, logs, runners */
#define HTTP_MAX_CONNECTIONS_PER_IP 256     /* from one address (local clients: 127.0.0.1) */
#define HTTP_REQUEST_DEADLINE_MS 10000      /* headers + body of a request, see above */
#define HTTP_IDLE_TIMEOUT_S 10              /* no byte either way (e.g. answer not read) */
#define HTTP_CONNECTION_MEMORY (256 * 1024) /* per connection: headers + read buffer */
#define HTTP_LISTEN_BACKLOG 1024            /* connections waiting to be accepted */
#define HTTP_MAX_DISCARD_BYTES (16 * 1024 * 1024) /* chunked body discarded past the cap */
#define HTTP_LOG_FIELD_MAX 128                    /* bytes of path / target in a log line */
#define HTTP_REQUEST_ID_LEN 36                    /* a UUID: 8-4-4-4-12 hex digits */

typedef struct http_request {
    const char *method; /* "POST", "GET", ... */
    const char *path;   /* raw path, e.g. "/CreateTuningJob" */
    const char *body;   /* NUL-terminated; may contain NULs before body_len */
    size_t body_len;
    int body_too_large;     /* over the cap: body is cut (empty if refused by Content-Length) */
    const char *peer;       /* client address, for logs */
    const char *request_id; /* x-amzn-RequestId of the answer: a UUID v4, borrowed */
    void *conn;             /* private to http.c */
} http_request;

/* Value of header `name` (case-insensitive) or NULL. Borrowed; valid during
 * the handler call. */
const char *http_header(const http_request *req, const char *name);
/* 1 when `content_type` (may be NULL) is JSON: application/json or
 * application/x-amz-json-1.0/1.1, parameters such as charset allowed. */
int http_json_content_type(const char *content_type);

/* Value of query-string argument `name` (the path holds none), URL-decoded,
 * or NULL. Borrowed; valid during the handler call. */
const char *http_query(const http_request *req, const char *name);

/* Calls cb for every request header, in order received. */
void http_headers_each(const http_request *req,
                       void (*cb)(void *ud, const char *name, const char *value), void *ud);

#define HTTP_MAX_HEADERS 8
#define HTTP_HEADER_VALUE_MAX 512 /* bytes of a response header's value (a Set-Cookie fits) */
typedef struct http_response {
    int status;
    char *body; /* owned: malloc'd, freed by the server; may be NULL */
    size_t body_len;
    const char *content_type; /* static string, or NULL for none */
    struct {
        const char *name; /* static */
        char value[HTTP_HEADER_VALUE_MAX];
    } headers[HTTP_MAX_HEADERS];
    int nheaders;
} http_response;

/* Adds a header to `resp` (name static; value copied, truncated at
 * HTTP_HEADER_VALUE_MAX - 1 bytes). */
void http_response_header(http_response *resp, const char *name, const char *value);

typedef void (*http_handler)(void *ud, const http_request *req, http_response *resp);

/* Listens on `host:port` (IPv4 or IPv6 literal; port 0 picks one) and serves
 * on `l`. Bodies beyond `max_body` bytes are cut and flagged. Caller frees
 * with http_stop(). NULL on failure (logged). */
http_server *http_start(loop *l, const char *host, int port, size_t max_body, http_handler handler,
                        void *ud);
/* The port actually bound. */
int http_port(const http_server *s);
/* Runs pending work (timeouts, deadlines); the loop also does this by itself. */
void http_poll(http_server *s);
void http_stop(http_server *s);

#endif
