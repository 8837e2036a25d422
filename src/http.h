/* http — the daemon's HTTP server (libmicrohttpd, driven by the loop).
 *
 * Collects each request's body up to a cap, then calls one handler
 * synchronously on the loop thread. The handler fills an http_response; the
 * server sends it. Nothing here knows the APIs. */
#ifndef OPENHPO_HTTP_H
#define OPENHPO_HTTP_H

#include <stddef.h>

#include "loop.h"

typedef struct http_server http_server;

typedef struct http_request {
    const char *method; /* "POST", "GET", ... */
    const char *path;   /* raw path, e.g. "/CreateTuningJob" */
    const char *body;   /* NUL-terminated; may contain NULs before body_len */
    size_t body_len;
    int body_too_large; /* the body exceeded the cap; body is truncated */
    const char *peer;   /* client address, for logs */
    void *conn;         /* private to http.c */
} http_request;

/* Value of header `name` (case-insensitive) or NULL. Borrowed; valid during
 * the handler call. */
const char *http_header(const http_request *req, const char *name);
/* 1 when `content_type` (may be NULL) is JSON: application/json or
 * application/x-amz-json-1.0/1.1, parameters such as charset allowed. */
int http_json_content_type(const char *content_type);

/* Calls cb for every request header, in order received. */
void http_headers_each(const http_request *req,
                       void (*cb)(void *ud, const char *name, const char *value), void *ud);

#define HTTP_MAX_HEADERS 8
typedef struct http_response {
    int status;
    char *body; /* owned: malloc'd, freed by the server; may be NULL */
    size_t body_len;
    const char *content_type; /* static string, or NULL for none */
    struct {
        const char *name; /* static */
        char value[128];
    } headers[HTTP_MAX_HEADERS];
    int nheaders;
} http_response;

/* Adds a header to `resp` (name static; value copied, truncated at 127). */
void http_response_header(http_response *resp, const char *name, const char *value);

typedef void (*http_handler)(void *ud, const http_request *req, http_response *resp);

/* Listens on `host:port` (IPv4 or IPv6 literal; port 0 picks one) and serves
 * on `l`. Bodies beyond `max_body` bytes are cut and flagged. Caller frees
 * with http_stop(). NULL on failure (logged). */
http_server *http_start(loop *l, const char *host, int port, size_t max_body, http_handler handler,
                        void *ud);
/* The port actually bound. */
int http_port(const http_server *s);
/* Runs pending work (timeouts); called by the daemon's tick. */
void http_poll(http_server *s);
void http_stop(http_server *s);

#endif
