/* fake_request — an http_request (http.h) without a network connection, so
 * a fuzz harness can call the daemon's handler (api_handle) directly.
 *
 * http.c answers http_header() and http_headers_each() by asking
 * libmicrohttpd about req->conn. fake_request.c defines the libmicrohttpd
 * functions it asks (MHD_lookup_connection_value, MHD_get_connection_values
 * and their _n forms); a harness linked with it resolves http.c's calls to
 * them, and req->conn points at a fake_request instead of a connection.
 * Nothing else of libmicrohttpd is replaced (no server is ever started).
 *
 * This is the one place that knows how http.c reads headers: if http.c
 * changes that, fake_request_check() fails (the harness aborts at start-up
 * saying so) and only this file needs adapting. */
#ifndef OPENHPO_FUZZ_FAKE_REQUEST_H
#define OPENHPO_FUZZ_FAKE_REQUEST_H

#include <stddef.h>

#include "http.h"

#define FAKE_REQUEST_MAX_HEADERS 16

typedef struct fake_request {
    const char *names[FAKE_REQUEST_MAX_HEADERS]; /* borrowed */
    const char *values[FAKE_REQUEST_MAX_HEADERS];
    size_t n;
    http_request req; /* req.conn points back at this fake_request */
} fake_request;

/* Empties *f and points f->req.conn at it; the caller then fills f->req
 * (method, path, body, body_len, peer ...). */
void fake_request_init(fake_request *f);
/* Adds a header (name and value borrowed; ignored past the maximum). */
void fake_request_header(fake_request *f, const char *name, const char *value);
/* 0 when http_header() and http_headers_each() see a fake_request's headers,
 * -1 (with a message on stderr) when http.c no longer reads them this way. */
int fake_request_check(void);

#endif
