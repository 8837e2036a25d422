/* logjson — hpod's log lines as JSON (see logjson.h). */
#include "logjson.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, out of range, or a surrogate */
    return len;
}

/* A JSON string of text that may not be UTF-8: bad bytes become U+FFFD. */
static json_t *string_of(const char *text) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s), o = 0;
    char *buf = malloc(n * 3 + 1); /* each byte at most U+FFFD's 3 */
    json_t *j = NULL;
    if (!buf)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (k) {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

static int reserved(const char *key) {
    return !strcmp(key, "time") || !strcmp(key, "level") || !strcmp(key, "msg");
}

char *logjson_format(double now, const char *level, const char *msg, const log_kv *f, size_t nf) {
    char ts[40], date[24];
    struct tm tm;
    time_t sec = (time_t)floor(now);
    int ms = (int)((now - (double)sec) * 1000);
    json_t *o = json_object();
    char *out = NULL;
    if (ms > 999)
        ms = 999;
    gmtime_r(&sec, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts, sizeof ts, "%s.%03dZ", date, ms < 0 ? 0 : ms);
    if (!o || json_object_set_new(o, "time", json_string(ts)) ||
        json_object_set_new(o, "level", string_of(level)) ||
        json_object_set_new(o, "msg", string_of(msg)))
        goto out;
    for (size_t i = 0; i < nf; i++) {
        if (!f[i].key || reserved(f[i].key))
            continue;
        json_t *v = f[i].s ? string_of(f[i].s) : isfinite(f[i].n) ? json_real(f[i].n) : json_null();
        /* Whole numbers as integers: a status code reads 200, not 200.0. */
        if (!f[i].s && isfinite(f[i].n) && f[i].n == floor(f[i].n) && fabs(f[i].n) < 9e15) {
            json_decref(v);
            v = json_integer((json_int_t)f[i].n);
        }
        if (json_object_set_new(o, f[i].key, v))
            goto out;
    }
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
out:
    json_decref(o);
    return out;
}

void logjson_write(const char *level, const char *msg, const log_kv *f, size_t nf) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    char *line = logjson_format((double)t.tv_sec + (double)t.tv_nsec / 1e9, level, msg, f, nf);
    if (!line) {
        static const char oom[] =
            "{\"level\":\"error\",\"msg\":\"log line lost: out of memory\"}\n";
        if (write(STDERR_FILENO, oom, sizeof oom - 1) < 0) {
            /* nowhere left to say it */
        }
        return;
    }
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps's NUL becomes the newline: one write per line */
    fflush(stderr);
    for (size_t off = 0; off <= n;) {
        ssize_t w = write(STDERR_FILENO, line + off, n + 1 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(line);
}
