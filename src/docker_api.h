/* docker_api — the Docker Engine API over its unix socket (libcurl with
 * CURLOPT_UNIX_SOCKET_PATH, JSON with jansson), for backends/docker.c.
 *
 * Every call makes its own curl handle, so any thread may call any
 * function at the same time as others (curl_global_init must have been
 * called once before threads start: docker_api_init). Nothing here keeps
 * state. Bodies read are capped (DOCKER_BODY_MAX); the log stream is
 * handed to a callback frame by frame, never kept. */
#ifndef OPENHPO_DOCKER_API_H
#define OPENHPO_DOCKER_API_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define DOCKER_API_VERSION "v1.41" /* Docker 20.10's API; later engines accept it */
#define DOCKER_BODY_MAX (4 << 20)  /* bytes of a response body kept */
#define DOCKER_PATH_MAX 8192       /* a request's path and query */
#define DOCKER_TIMEOUT_MS 30000    /* a call that is not a stream */
#define DOCKER_FRAME_MAX (1 << 20) /* one log frame's payload, larger ones are cut */

/* Once, before any thread calls: curl_global_init. 0 or -1. */
int docker_api_init(void);
void docker_api_cleanup(void);

/* METHOD path (relative to /DOCKER_API_VERSION; query included) with an
 * optional JSON body (borrowed). *status gets the HTTP status (0 when the
 * engine did not answer), *out (when out is not NULL) the parsed JSON body,
 * or NULL when it is empty or not JSON (caller decrefs). timeout_ms 0 means
 * DOCKER_TIMEOUT_MS. 0 when the engine answered (any status), else
 * ERR_UNAVAILABLE with e naming the socket and the cause. */
int docker_call(const char *sock, const char *method, const char *path, const json_t *body,
                long timeout_ms, long *status, json_t **out, err_t *e);

/* Like docker_call for a body that is not JSON (/_ping): the text (at most
 * n - 1 bytes, NUL-terminated) into buf. */
int docker_call_text(const char *sock, const char *method, const char *path, long timeout_ms,
                     long *status, char *buf, size_t n, err_t *e);

/* The message of an engine error body ({"message": ...}) or "HTTP N". */
void docker_error_text(const json_t *body, long status, char *out, size_t n);

/* Follows a container's log: GET /containers/ID/logs?follow=1&stdout=1&
 * stderr=1, demultiplexing the engine's frames (8-byte header: stream, 3
 * zero bytes, big-endian length; a container with a TTY has none) and
 * handing each payload to on_data(ud, bytes, n). keep_going(ud) is asked
 * about once a second (and on every chunk): 0 ends the stream early.
 * Returns 0 when the stream ended (the container stopped), 1 when
 * keep_going ended it, else ERR_UNAVAILABLE / ERR_NOT_FOUND with e set. */
int docker_follow_logs(const char *sock, const char *id, int tty,
                       void (*on_data)(void *ud, const char *p, size_t n),
                       int (*keep_going)(void *ud), void *ud, err_t *e);

/* Appends `s` URL-encoded to out (of size n, NUL-terminated; truncated). */
void docker_urlencode(char *out, size_t n, const char *s);

#endif
