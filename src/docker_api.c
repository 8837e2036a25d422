/* docker_api — Docker Engine API calls over the unix socket (see docker_api.h). */
#include "docker_api.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int docker_api_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void docker_api_cleanup(void) {
    curl_global_cleanup();
}

void docker_urlencode(char *out, size_t n, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t i = strlen(out);
    for (; *s && i + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[i++] = (char)c;
        } else {
            out[i++] = '%';
            out[i++] = hex[c >> 4];
            out[i++] = hex[c & 15];
        }
    }
    out[i] = 0;
}

typedef struct {
    char *p;
    size_t n, cap;
    int over;
} buf_t;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
    buf_t *b = ud;
    size_t n = sz * nm;
    if (b->n + n + 1 > DOCKER_BODY_MAX) {
        b->over = 1;
        return n; /* the rest is dropped: the body is capped */
    }
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n + 1)
            c *= 2;
        char *q = realloc(b->p, c);
        if (!q)
            return 0;
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

static CURL *easy(const char *sock, const char *method, const char *path, char *url, size_t un) {
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    snprintf(url, un, "http://docker/" DOCKER_API_VERSION "%s", path);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    return c;
}

/* Performs a request whose whole body is kept in b. */
static int perform(const char *sock, const char *method, const char *path, const char *body,
                   long timeout_ms, long *status, buf_t *b, err_t *e) {
    char url[DOCKER_PATH_MAX + 64];
    struct curl_slist *h = NULL;
    int rc = 0;
    *status = 0;
    CURL *c = easy(sock, method, path, url, sizeof url);
    if (!c)
        return err_set(e, ERR_INTERNAL, "cannot initialise libcurl");
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : (long)DOCKER_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode cr = curl_easy_perform(c);
    if (cr != CURLE_OK)
        rc = err_set(e, ERR_UNAVAILABLE, "Docker engine at %s: %s %s: %s", sock, method, path,
                     curl_easy_strerror(cr));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

int docker_call(const char *sock, const char *method, const char *path, const json_t *body,
                long timeout_ms, long *status, json_t **out, err_t *e) {
    buf_t b = {0};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc;
    if (out)
        *out = NULL;
    if (body && !text)
        return err_set(e, ERR_INTERNAL, "out of memory");
    rc = perform(sock, method, path, text, timeout_ms, status, &b, e);
    if (!rc && out && b.n && !b.over)
        *out = json_loadb(b.p, b.n, 0, NULL);
    free(text);
    free(b.p);
    return rc;
}

int docker_call_text(const char *sock, const char *method, const char *path, long timeout_ms,
                     long *status, char *buf, size_t n, err_t *e) {
    buf_t b = {0};
    int rc = perform(sock, method, path, NULL, timeout_ms, status, &b, e);
    if (n)
        snprintf(buf, n, "%s", b.p ? b.p : "");
    free(b.p);
    return rc;
}

void docker_error_text(const json_t *body, long status, char *out, size_t n) {
    const char *m = json_string_value(json_object_get(body, "message"));
    if (m && m[0])
        snprintf(out, n, "%s", m);
    else
        snprintf(out, n, "HTTP %ld", status);
}

/* ---- the log stream ---- */

typedef struct {
    int tty;
    unsigned char hdr[8];
    size_t hlen;     /* header bytes collected */
    uint32_t left;   /* payload bytes of the current frame still to come */
    uint32_t passed; /* ... of which this many were handed on */
    void (*on_data)(void *, const char *, size_t);
    int (*keep_going)(void *);
    void *ud;
    int stopped;
} stream;

static size_t on_stream(char *p, size_t sz, size_t nm, void *ud) {
    stream *s = ud;
    size_t n = sz * nm, i = 0;
    if (!s->keep_going(s->ud)) {
        s->stopped = 1;
        return 0;
    }
    if (s->tty) {
        s->on_data(s->ud, p, n);
        return n;
    }
    while (i < n) {
        if (s->left == 0) {
            while (s->hlen < 8 && i < n)
                s->hdr[s->hlen++] = (unsigned char)p[i++];
            if (s->hlen < 8)
                break;
            s->left = (uint32_t)s->hdr[4] << 24 | (uint32_t)s->hdr[5] << 16 |
                      (uint32_t)s->hdr[6] << 8 | (uint32_t)s->hdr[7];
            s->passed = 0;
            s->hlen = 0;
            continue;
        }
        size_t k = n - i < s->left ? n - i : s->left;
        size_t pass = k;
        if (s->passed + pass > DOCKER_FRAME_MAX)
            pass = s->passed < DOCKER_FRAME_MAX ? DOCKER_FRAME_MAX - s->passed : 0;
        if (pass && (s->hdr[0] == 1 || s->hdr[0] == 2))
            s->on_data(s->ud, p + i, pass);
        s->passed += (uint32_t)pass;
        s->left -= (uint32_t)k;
        i += k;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    stream *s = ud;
    if (!s->keep_going(s->ud)) {
        s->stopped = 1;
        return 1;
    }
    return 0;
}

int docker_follow_logs(const char *sock, const char *id, int tty,
                       void (*on_data)(void *ud, const char *p, size_t n),
                       int (*keep_going)(void *ud), void *ud, err_t *e) {
    char path[512], url[DOCKER_PATH_MAX + 64];
    int rc = 0;
    long status = 0;
    stream s = {.tty = tty, .on_data = on_data, .keep_going = keep_going, .ud = ud};
    snprintf(path, sizeof path, "/containers/%s/logs?follow=1&stdout=1&stderr=1", id);
    CURL *c = easy(sock, "GET", path, url, sizeof url);
    if (!c)
        return err_set(e, ERR_INTERNAL, "cannot initialise libcurl");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    CURLcode cr = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (s.stopped)
        rc = 1;
    else if (cr == CURLE_HTTP_RETURNED_ERROR && status == 404)
        rc = err_set(e, ERR_NOT_FOUND, "no container %s", id);
    else if (cr != CURLE_OK)
        rc = err_set(e, ERR_UNAVAILABLE, "Docker engine at %s: logs of %s: %s", sock, id,
                     curl_easy_strerror(cr));
    curl_easy_cleanup(c);
    return rc;
}
