#include "sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- a capped string builder over a caller's buffer ---------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int full; /* something did not fit: the content is incomplete */
} sbuf;

static void sb_init(sbuf *b, char *p, size_t cap) {
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->full = cap == 0;
    if (cap)
        p[0] = '\0';
}

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->full)
        return;
    if (n >= b->cap - b->len) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) {
    sb_putn(b, s, strlen(s));
}

static void sb_putc(sbuf *b, char c) {
    sb_putn(b, &c, 1);
}

/* ---- character classes (locale-free) ------------------------------------- */

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_unreserved(char c) {
    return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* A character of a lowercase header name (an RFC 7230 token, lowercased). */
static int is_lower_tchar(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int hex_value(char c) {
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void hex_encode(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Appends byte c URI-encoded the SigV4 way: unreserved characters as they
 * are, '/' as it is when keep_slash, everything else %XX (uppercase). */
static void sb_put_encoded(sbuf *b, unsigned char c, int keep_slash) {
    static const char digits[] = "0123456789ABCDEF";
    if (is_unreserved((char)c) || (keep_slash && c == '/')) {
        sb_putc(b, (char)c);
    } else {
        char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
        sb_putn(b, esc, 3);
    }
}

/* The byte a "%XX" at s[i] (of n) stands for, or -1 if s[i] starts none. */
static int pct_byte(const char *s, size_t n, size_t i) {
    if (s[i] != '%' || n - i < 3)
        return -1;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

/* Percent-decodes s[0..n) (a %XX with two hex digits is one byte, anything
 * else is taken literally) and appends it re-encoded. */
static void sb_put_reencoded(sbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int c = pct_byte(s, n, i);
        if (c >= 0)
            i += 2;
        else
            c = (unsigned char)s[i];
        sb_put_encoded(b, (unsigned char)c, 0);
    }
}

/* Percent-decodes s[0..n) into out[cap] as a C string. Returns 0, or -1 when
 * it does not fit or would contain a NUL. */
static int decode_to(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = pct_byte(s, n, i);
        if (c >= 0)
            i += 2;
        else
            c = (unsigned char)s[i];
        if (c == 0 || o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    if (cap == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

/* ---- dates --------------------------------------------------------------- */

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

/* Reads n decimal digits at s into *v. */
static int digits_at(const char *s, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

static int make_time(int y, int mo, int d, int h, int mi, int s, time_t *t) {
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    *t = (time_t)secs;
    return (int64_t)*t == secs ? 0 : -1;
}

static int parse_iso_basic(const char *s, time_t *t) {
    int y, mo, d, h, mi, sec;
    if (strlen(s) != SIGV4_DATE_LEN || s[8] != 'T' || s[15] != 'Z' || digits_at(s, 4, &y) ||
        digits_at(s + 4, 2, &mo) || digits_at(s + 6, 2, &d) || digits_at(s + 9, 2, &h) ||
        digits_at(s + 11, 2, &mi) || digits_at(s + 13, 2, &sec))
        return -1;
    return make_time(y, mo, d, h, mi, sec, t);
}

/* IMF-fixdate (RFC 7231): "Sun, 06 Nov 1994 08:49:37 GMT". */
static int parse_http_date(const char *s, time_t *t) {
    static const char days[] = "Mon Tue Wed Thu Fri Sat Sun ";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int y, mo = 0, d, h, mi, sec;
    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || strcmp(s + 26, "GMT"))
        return -1;
    int day_ok = 0;
    for (int i = 0; i < 7; i++)
        day_ok |= !memcmp(s, days + 4 * i, 3);
    for (int i = 0; i < 12; i++)
        if (!memcmp(s + 8, months + 3 * i, 3))
            mo = i + 1;
    if (!day_ok || !mo || digits_at(s + 5, 2, &d) || digits_at(s + 12, 4, &y) ||
        digits_at(s + 17, 2, &h) || digits_at(s + 20, 2, &mi) || digits_at(s + 23, 2, &sec))
        return -1;
    return make_time(y, mo, d, h, mi, sec, t);
}

int sigv4_parse_date(const char *s, time_t *t) {
    if (!s || !t)
        return -1;
    if (!parse_iso_basic(s, t))
        return 0;
    return parse_http_date(s, t);
}

/* Writes v as n decimal digits (0 <= v < 10^n). */
static void put_digits(char *out, int n, int v) {
    for (int i = n - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

int sigv4_format_date(time_t t, char out[SIGV4_DATE_LEN + 1]) {
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return -1;
    put_digits(out, 4, tm.tm_year + 1900);
    put_digits(out + 4, 2, tm.tm_mon + 1);
    put_digits(out + 6, 2, tm.tm_mday);
    out[8] = 'T';
    put_digits(out + 9, 2, tm.tm_hour);
    put_digits(out + 11, 2, tm.tm_min);
    put_digits(out + 13, 2, tm.tm_sec);
    out[15] = 'Z';
    out[16] = '\0';
    return 0;
}

/* ---- crypto -------------------------------------------------------------- */

int sigv4_sha256_hex(const void *data, size_t n, char out[SIGV4_HEX_LEN + 1]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    static const unsigned char empty = 0;
    if (!EVP_Digest(n ? data : &empty, n, md, &len, EVP_sha256(), NULL) || len != 32)
        return -1;
    hex_encode(md, 32, out);
    return 0;
}

static int hmac256(const void *key, size_t klen, const char *msg, size_t mlen,
                   unsigned char out[32]) {
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &len) ||
        len != 32)
        return -1;
    return 0;
}

#define SIGV4_SECRET_MAX 256

int sigv4_signature(const char *secret, const char *date8, const char *region, const char *service,
                    const char *string_to_sign, char out[SIGV4_HEX_LEN + 1]) {
    int rc = -1;
    char ksecret[4 + SIGV4_SECRET_MAX];
    unsigned char k[32], sig[32];
    size_t slen = secret ? strlen(secret) : SIGV4_SECRET_MAX;
    int d;
    if (slen >= SIGV4_SECRET_MAX || !date8 || strlen(date8) != 8 || digits_at(date8, 8, &d) ||
        !region || !service || !string_to_sign)
        goto out;
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, secret, slen);
    if (hmac256(ksecret, 4 + slen, date8, 8, k) || hmac256(k, 32, region, strlen(region), k) ||
        hmac256(k, 32, service, strlen(service), k) || hmac256(k, 32, "aws4_request", 12, k) ||
        hmac256(k, 32, string_to_sign, strlen(string_to_sign), sig))
        goto out;
    hex_encode(sig, 32, out);
    rc = 0;
out:
    OPENSSL_cleanse(ksecret, sizeof ksecret);
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

/* ---- the canonical request ------------------------------------------------ */

/* Appends the canonical URI of raw path `path`: dot segments resolved and
 * empty segments dropped (a trailing slash kept), then every byte but '/'
 * URI-encoded once more, as for every service but S3. */
static err_code put_canonical_path(sbuf *b, const char *path, err_t *e) {
    size_t n = strlen(path);
    char *norm = NULL;
    size_t len = 0;
    err_code rc = ERR_OK;
    if (n == 0) {
        sb_putc(b, '/');
        goto out;
    }
    if (n > SIGV4_PATH_MAX) {
        rc = err_set(e, ERR_SIG_INCOMPLETE, "The request path is longer than %d bytes.",
                     SIGV4_PATH_MAX);
        goto out;
    }
    norm = malloc(n + 2);
    if (!norm) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    /* norm holds "/seg1/seg2..." (each kept segment after a '/'). */
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 0 || (sl == 1 && path[i] == '.')) {
            /* empty or "." segment: dropped */
        } else if (sl == 2 && path[i] == '.' && path[i + 1] == '.') {
            while (len > 0 && norm[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
        } else {
            norm[len++] = '/';
            memcpy(norm + len, path + i, sl);
            len += sl;
        }
        i = j + 1;
    }
    size_t start = path[0] == '/' ? 0 : 1; /* a relative path keeps no leading '/' */
    if (len == 0) {
        if (path[0] == '/')
            sb_putc(b, '/');
    } else {
        for (size_t i = start; i < len; i++)
            sb_put_encoded(b, (unsigned char)norm[i], 1);
        if (path[n - 1] == '/')
            sb_putc(b, '/');
    }
out:
    free(norm);
    return rc;
}

typedef struct {
    const char *k, *v; /* encoded, NUL-terminated, in a scratch buffer */
} qparam;

static int qparam_cmp(const void *pa, const void *pb) {
    const qparam *a = pa, *b = pb;
    int c = strcmp(a->k, b->k);
    return c ? c : strcmp(a->v, b->v);
}

/* Appends the canonical query string of raw query `q`: each parameter
 * decoded and re-encoded, sorted by key then value, joined by '&'. Empty
 * parameters ("a=1&&b=2") are dropped; "k" counts as "k=". With `presigned`,
 * X-Amz-Signature is left out. */
static err_code put_canonical_query(sbuf *b, const char *q, int presigned, err_t *e) {
    err_code rc = ERR_OK;
    char *scratch = NULL;
    qparam *params = NULL;
    size_t n = q ? strlen(q) : 0, np = 0;
    if (n == 0)
        goto out;
    if (n > SIGV4_QUERY_MAX) {
        rc = err_set(e, ERR_SIG_INCOMPLETE, "The query string is longer than %d bytes.",
                     SIGV4_QUERY_MAX);
        goto out;
    }
    /* Every byte encodes to at most 3; each parameter adds two NULs. */
    size_t scap = 3 * n + 2 * (n + 1) + 1;
    scratch = malloc(scap);
    params = calloc(SIGV4_QUERY_PARAMS_MAX, sizeof *params);
    if (!scratch || !params) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    sbuf s;
    sb_init(&s, scratch, scap);
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && q[eq] != '=')
                eq++;
            char name[32];
            if (presigned && !decode_to(q + i, eq - i, name, sizeof name) &&
                !strcmp(name, "X-Amz-Signature")) {
                i = j + 1;
                continue;
            }
            if (np == SIGV4_QUERY_PARAMS_MAX) {
                rc = err_set(e, ERR_SIG_INCOMPLETE, "The query string has more than %d parameters.",
                             SIGV4_QUERY_PARAMS_MAX);
                goto out;
            }
            params[np].k = scratch + s.len;
            sb_put_reencoded(&s, q + i, eq - i);
            sb_putn(&s, "", 1); /* a NUL: sb_putn copies it and moves past it */
            params[np].v = scratch + s.len;
            if (eq < j)
                sb_put_reencoded(&s, q + eq + 1, j - eq - 1);
            sb_putn(&s, "", 1);
            np++;
        }
        i = j + 1;
    }
    if (s.full) { /* cannot happen: scap bounds the encoding */
        rc = err_set(e, ERR_INTERNAL, "query canonicalisation overflow");
        goto out;
    }
    qsort(params, np, sizeof *params, qparam_cmp);
    for (size_t i = 0; i < np; i++) {
        if (i)
            sb_putc(b, '&');
        sb_puts(b, params[i].k);
        sb_putc(b, '=');
        sb_puts(b, params[i].v);
    }
out:
    free(scratch);
    free(params);
    return rc;
}

/* Appends value v trimmed, with every inner run of whitespace made one space. */
static void sb_put_trimmed(sbuf *b, const char *v) {
    int started = 0, pending = 0;
    for (; *v; v++) {
        if (is_space(*v)) {
            pending = started;
            continue;
        }
        if (pending)
            sb_putc(b, ' ');
        pending = 0;
        started = 1;
        sb_putc(b, *v);
    }
}

/* Checks a SignedHeaders list: 1..SIGV4_SIGNED_HEADERS_MAX lowercase header
 * names, ';'-separated, strictly ascending. */
static err_code check_signed_headers(const char *list, err_t *e) {
    const char *prev = NULL;
    size_t prevlen = 0, count = 0;
    const char *p = list;
    for (;;) {
        const char *q = p;
        while (*q && *q != ';') {
            if (!is_lower_tchar(*q))
                return err_set(e, ERR_SIG_INCOMPLETE,
                               "SignedHeaders must list lowercase header names separated by ';'.");
            q++;
        }
        size_t len = (size_t)(q - p);
        if (len == 0)
            return err_set(e, ERR_SIG_INCOMPLETE, "SignedHeaders has an empty header name.");
        if (prev) {
            size_t m = len < prevlen ? len : prevlen;
            int c = memcmp(prev, p, m);
            if (c > 0 || (c == 0 && prevlen >= len))
                return err_set(e, ERR_SIG_INCOMPLETE,
                               "SignedHeaders must be sorted and without repeats.");
        }
        if (++count > SIGV4_SIGNED_HEADERS_MAX)
            return err_set(e, ERR_SIG_INCOMPLETE, "SignedHeaders names more than %d headers.",
                           SIGV4_SIGNED_HEADERS_MAX);
        prev = p;
        prevlen = len;
        if (!*q)
            break;
        p = q + 1;
    }
    return ERR_OK;
}

/* Whether ';'-separated `list` names `name`. */
static int list_has(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p;) {
        const char *q = strchr(p, ';');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && !memcmp(p, name, n))
            return 1;
        p = q ? q + 1 : NULL;
    }
    return 0;
}

/* Whether ';'-separated `list` names `name`, in any case. */
static int list_has_ci(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p;) {
        const char *q = strchr(p, ';');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && !strncasecmp(p, name, n))
            return 1;
        p = q ? q + 1 : NULL;
    }
    return 0;
}

static int name_is(const char *header, const char *name, size_t n) {
    return strlen(header) == n && !strncasecmp(header, name, n);
}

/* Appends "name:value[,value...]\n" for each signed header. */
static err_code put_canonical_headers(sbuf *b, const sigv4_request *req, const char *list,
                                      err_t *e) {
    for (const char *p = list; p;) {
        const char *q = strchr(p, ';');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        int found = 0;
        sb_putn(b, p, len);
        sb_putc(b, ':');
        for (size_t i = 0; i < req->nheaders; i++) {
            const sigv4_header *h = &req->headers[i];
            if (!h->name || !name_is(h->name, p, len))
                continue;
            if (found++)
                sb_putc(b, ',');
            sb_put_trimmed(b, h->value ? h->value : "");
        }
        if (!found)
            return err_set(e, ERR_SIG_INVALID,
                           "The request signature we calculated does not match the signature "
                           "you provided: signed header '%.*s' is not in the request.",
                           (int)(len > 64 ? 64 : len), p);
        sb_putc(b, '\n');
        p = q ? q + 1 : NULL;
    }
    return ERR_OK;
}

err_code sigv4_canonical_request(const sigv4_request *req, const char *signed_headers,
                                 const char *payload_hash, int presigned, char *out, size_t cap,
                                 err_t *e) {
    err_code rc;
    sbuf b;
    char hash[SIGV4_HEX_LEN + 1];
    sb_init(&b, out, cap);
    if (!req || !req->method || !*req->method || !req->path || !signed_headers ||
        (req->nheaders && !req->headers) || (req->body_len && !req->body)) {
        rc = err_set(e, ERR_SIG_INCOMPLETE, "incomplete request");
        goto out;
    }
    rc = check_signed_headers(signed_headers, e);
    if (rc)
        goto out;
    if (!payload_hash) {
        if (sigv4_sha256_hex(req->body, req->body_len, hash)) {
            rc = err_set(e, ERR_INTERNAL, "SHA-256 failed");
            goto out;
        }
        payload_hash = hash;
    }
    sb_puts(&b, req->method);
    sb_putc(&b, '\n');
    rc = put_canonical_path(&b, req->path, e);
    if (rc)
        goto out;
    sb_putc(&b, '\n');
    rc = put_canonical_query(&b, req->query, presigned, e);
    if (rc)
        goto out;
    sb_putc(&b, '\n');
    rc = put_canonical_headers(&b, req, signed_headers, e);
    if (rc)
        goto out;
    sb_putc(&b, '\n');
    sb_puts(&b, signed_headers);
    sb_putc(&b, '\n');
    sb_puts(&b, payload_hash);
    if (b.full)
        rc = err_set(e, ERR_SIG_INCOMPLETE, "The canonical request is longer than %zu bytes.",
                     cap ? cap - 1 : 0);
out:
    return rc;
}

err_code sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                              const char *canonical_request, char *out, size_t cap, err_t *e) {
    char hash[SIGV4_HEX_LEN + 1];
    if (!amz_date || strlen(amz_date) != SIGV4_DATE_LEN || !region || !service ||
        !canonical_request)
        return err_set(e, ERR_VALIDATION, "bad string-to-sign input");
    if (sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash))
        return err_set(e, ERR_INTERNAL, "SHA-256 failed");
    int n = snprintf(out, cap, "%s\n%s\n%.8s/%s/%s/aws4_request\n%s", SIGV4_ALGORITHM, amz_date,
                     amz_date, region, service, hash);
    if (n < 0 || (size_t)n >= cap)
        return err_set(e, ERR_VALIDATION, "string to sign longer than %zu bytes", cap);
    return ERR_OK;
}

/* ---- parsing what the client sent ---------------------------------------- */

#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_PRESIGN_MAX_EXPIRES 604800 /* 7 days, as AWS */

/* The authentication a request carries, from its Authorization header or
 * its query string (presigned). */
typedef struct {
    int presigned;
    char akid[SIGV4_KEY_ID_MAX + 1];
    char date8[9];
    char region[SIGV4_REGION_MAX + 1];
    char service[SIGV4_SERVICE_MAX + 1];
    char term[sizeof SIGV4_TERMINATOR + 8];
    char signed_headers[SIGV4_AUTHZ_MAX];
    char signature[SIGV4_HEX_LEN + 1];
    char amz_date[SIGV4_DATE_LEN + 1]; /* presigned: X-Amz-Date */
    long expires;                      /* presigned: X-Amz-Expires */
} auth_parts;

static int is_region_char(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-';
}

/* Copies s[0..n) into out[cap] if it is 1..cap-1 characters, each accepted
 * by ok() (or, with ok NULL, printable ASCII). */
static int copy_field(char *out, size_t cap, const char *s, size_t n, int (*ok)(char)) {
    if (n == 0 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (ok ? !ok(s[i]) : (s[i] <= ' ' || s[i] > '~'))
            return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* Parses "AKID/YYYYMMDD/REGION/SERVICE/aws4_request" (n bytes at s). */
static err_code parse_credential(const char *s, size_t n, auth_parts *a, err_t *e) {
    const char *part[5];
    size_t len[5], k = 0;
    const char *end = s + n, *p = s;
    while (k < 5) {
        const char *q = memchr(p, '/', (size_t)(end - p));
        part[k] = p;
        len[k] = q ? (size_t)(q - p) : (size_t)(end - p);
        k++;
        if (!q)
            break;
        p = q + 1;
    }
    if (k != 5 || part[4] + len[4] != end ||
        copy_field(a->akid, sizeof a->akid, part[0], len[0], NULL) ||
        copy_field(a->date8, sizeof a->date8, part[1], len[1], is_digit) || len[1] != 8 ||
        copy_field(a->region, sizeof a->region, part[2], len[2], is_region_char) ||
        copy_field(a->service, sizeof a->service, part[3], len[3], is_region_char) ||
        copy_field(a->term, sizeof a->term, part[4], len[4], NULL))
        return err_set(e, ERR_SIG_INCOMPLETE,
                       "Credential is malformed; expecting "
                       "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
    return ERR_OK;
}

/* Takes a 64-hex-digit signature (s, n bytes), lowercased. */
static err_code parse_signature(const char *s, size_t n, auth_parts *a, err_t *e) {
    if (n != SIGV4_HEX_LEN)
        return err_set(e, ERR_SIG_INCOMPLETE, "Signature must be %d hexadecimal digits.",
                       SIGV4_HEX_LEN);
    for (size_t i = 0; i < n; i++) {
        if (hex_value(s[i]) < 0)
            return err_set(e, ERR_SIG_INCOMPLETE, "Signature must be %d hexadecimal digits.",
                           SIGV4_HEX_LEN);
        a->signature[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
    }
    a->signature[n] = '\0';
    return ERR_OK;
}

static err_code parse_authorization(const char *v, auth_parts *a, err_t *e) {
    err_code rc = ERR_OK;
    size_t alen = strlen(SIGV4_ALGORITHM);
    int have_cred = 0, have_sh = 0, have_sig = 0;
    if (strlen(v) >= SIGV4_AUTHZ_MAX) {
        rc = err_set(e, ERR_SIG_INCOMPLETE, "The Authorization header is longer than %d bytes.",
                     SIGV4_AUTHZ_MAX - 1);
        goto out;
    }
    while (is_space(*v))
        v++;
    if (strncmp(v, SIGV4_ALGORITHM, alen) || !is_space(v[alen])) {
        size_t w = strcspn(v, " \t");
        rc = err_set(e, ERR_SIG_INCOMPLETE,
                     "Unsupported Authorization algorithm '%.*s': only " SIGV4_ALGORITHM
                     " is accepted.",
                     (int)(w > 40 ? 40 : w), v);
        goto out;
    }
    for (const char *p = v + alen; p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && is_space(*p))
            p++;
        while (end > p && is_space(end[-1]))
            end--;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            rc = err_set(e, ERR_SIG_INCOMPLETE,
                         "Authorization header requires each component to be of the form "
                         "key=value: got '%.*s'.",
                         (int)(end - p > 40 ? 40 : end - p), p);
            goto out;
        }
        size_t klen = (size_t)(eq - p), vlen = (size_t)(end - eq - 1);
        const char *val = eq + 1;
        int *seen = NULL;
        if (klen == 10 && !memcmp(p, "Credential", klen)) {
            seen = &have_cred;
            if (!*seen)
                rc = parse_credential(val, vlen, a, e);
        } else if (klen == 13 && !memcmp(p, "SignedHeaders", klen)) {
            seen = &have_sh;
            memcpy(a->signed_headers, val, vlen); /* vlen < SIGV4_AUTHZ_MAX: checked above */
            a->signed_headers[vlen] = '\0';
        } else if (klen == 9 && !memcmp(p, "Signature", klen)) {
            seen = &have_sig;
            if (!*seen)
                rc = parse_signature(val, vlen, a, e);
        } else {
            rc = err_set(e, ERR_SIG_INCOMPLETE,
                         "Authorization header has an unknown component '%.*s'.",
                         (int)(klen > 40 ? 40 : klen), p);
        }
        if (rc)
            goto out;
        if ((*seen)++) {
            rc = err_set(e, ERR_SIG_INCOMPLETE, "Authorization header repeats '%.*s'.", (int)klen,
                         p);
            goto out;
        }
        p = comma ? comma + 1 : NULL;
    }
    if (!have_cred || !have_sh || !have_sig)
        rc = err_set(e, ERR_SIG_INCOMPLETE, "%s%s%s",
                     have_cred ? "" : "Authorization header requires 'Credential' parameter. ",
                     have_sig ? "" : "Authorization header requires 'Signature' parameter. ",
                     have_sh ? "" : "Authorization header requires 'SignedHeaders' parameter. ");
out:
    return rc;
}

/* Finds query parameter `name` (compared decoded) in raw query q: returns
 * how many there are, and points *val / *vlen at the raw value of the last. */
static int query_find(const char *q, const char *name, const char **val, size_t *vlen) {
    int count = 0;
    char key[32];
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        if (!decode_to(p, klen, key, sizeof key) && !strcmp(key, name)) {
            count++;
            *val = eq ? eq + 1 : p + n;
            *vlen = eq ? n - klen - 1 : 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return count;
}

static int query_has_auth(const char *q) {
    const char *v;
    size_t n;
    return q &&
           (query_find(q, "X-Amz-Algorithm", &v, &n) || query_find(q, "X-Amz-Credential", &v, &n) ||
            query_find(q, "X-Amz-Signature", &v, &n));
}

static err_code parse_query_auth(const char *q, auth_parts *a, err_t *e) {
    static const char *const names[] = {"X-Amz-Algorithm",     "X-Amz-Credential",
                                        "X-Amz-Date",          "X-Amz-Expires",
                                        "X-Amz-SignedHeaders", "X-Amz-Signature"};
    const char *val[6];
    size_t vlen[6];
    char buf[SIGV4_AUTHZ_MAX];
    a->presigned = 1;
    if (strlen(q) > SIGV4_QUERY_MAX)
        return err_set(e, ERR_SIG_INCOMPLETE, "The query string is longer than %d bytes.",
                       SIGV4_QUERY_MAX);
    for (int i = 0; i < 6; i++) {
        int n = query_find(q, names[i], &val[i], &vlen[i]);
        if (n == 0)
            return err_set(e, ERR_SIG_INCOMPLETE,
                           "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                           "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                           "and X-Amz-Expires parameters.");
        if (n > 1)
            return err_set(e, ERR_SIG_INCOMPLETE, "The query string repeats %s.", names[i]);
    }
    err_code rc = ERR_OK;
    if (decode_to(val[0], vlen[0], buf, sizeof buf) || strcmp(buf, SIGV4_ALGORITHM))
        return err_set(e, ERR_SIG_INCOMPLETE,
                       "X-Amz-Algorithm only supports \"" SIGV4_ALGORITHM "\".");
    if (decode_to(val[1], vlen[1], buf, sizeof buf))
        return err_set(e, ERR_SIG_INCOMPLETE, "X-Amz-Credential is malformed.");
    rc = parse_credential(buf, strlen(buf), a, e);
    if (rc)
        return rc;
    time_t t;
    if (decode_to(val[2], vlen[2], a->amz_date, sizeof a->amz_date) ||
        parse_iso_basic(a->amz_date, &t))
        return err_set(e, ERR_SIG_INCOMPLETE,
                       "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".");
    int ex;
    if (decode_to(val[3], vlen[3], buf, sizeof buf) || strlen(buf) > 6 ||
        digits_at(buf, (int)strlen(buf), &ex) || ex < 1 || ex > SIGV4_PRESIGN_MAX_EXPIRES)
        return err_set(e, ERR_SIG_INCOMPLETE,
                       "X-Amz-Expires must be a number of seconds from 1 to %d.",
                       SIGV4_PRESIGN_MAX_EXPIRES);
    a->expires = ex;
    if (decode_to(val[4], vlen[4], a->signed_headers, sizeof a->signed_headers))
        return err_set(e, ERR_SIG_INCOMPLETE, "X-Amz-SignedHeaders is malformed.");
    if (decode_to(val[5], vlen[5], buf, sizeof buf))
        return err_set(e, ERR_SIG_INCOMPLETE, "X-Amz-Signature is malformed.");
    return parse_signature(buf, strlen(buf), a, e);
}

/* ---- verification --------------------------------------------------------- */

/* The headers verification itself reads; each may appear at most once. */
typedef struct {
    const char *authorization, *x_amz_date, *date, *token, *content_sha256;
} auth_headers;

static err_code collect_headers(const sigv4_request *req, auth_headers *h, err_t *e) {
    static const char *const names[] = {"authorization", "x-amz-date", "date",
                                        "x-amz-security-token", "x-amz-content-sha256"};
    const char **slot[] = {&h->authorization, &h->x_amz_date, &h->date, &h->token,
                           &h->content_sha256};
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < req->nheaders; i++) {
        const sigv4_header *hd = &req->headers[i];
        if (!hd->name)
            continue;
        for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
            if (strcasecmp(hd->name, names[k]))
                continue;
            if (*slot[k])
                return err_set(e, ERR_SIG_INCOMPLETE, "The request has more than one '%s' header.",
                               names[k]);
            *slot[k] = hd->value ? hd->value : "";
        }
    }
    return ERR_OK;
}

/* The request time: from the presigned X-Amz-Date, else the X-Amz-Date
 * header, else the Date header; whichever header is used must be signed. */
static err_code request_time(const auth_parts *a, const auth_headers *h, time_t *t,
                             char amz_date[SIGV4_DATE_LEN + 1], err_t *e) {
    if (a->presigned) {
        memcpy(amz_date, a->amz_date, SIGV4_DATE_LEN + 1);
        return parse_iso_basic(amz_date, t) ? err_set(e, ERR_SIG_INCOMPLETE, "bad X-Amz-Date")
                                            : ERR_OK;
    }
    if (h->x_amz_date) {
        if (!list_has(a->signed_headers, "x-amz-date"))
            return err_set(e, ERR_SIG_INCOMPLETE,
                           "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
        if (parse_iso_basic(h->x_amz_date, t))
            return err_set(e, ERR_SIG_INCOMPLETE,
                           "Date must be in ISO-8601 'basic format'. Got '%.40s'. See "
                           "http://en.wikipedia.org/wiki/ISO_8601",
                           h->x_amz_date);
        memcpy(amz_date, h->x_amz_date, SIGV4_DATE_LEN + 1);
        return ERR_OK;
    }
    if (h->date) {
        if (!list_has(a->signed_headers, "date"))
            return err_set(e, ERR_SIG_INCOMPLETE,
                           "'Date' must be a 'SignedHeader' in the AWS Authorization.");
        if (sigv4_parse_date(h->date, t) || sigv4_format_date(*t, amz_date))
            return err_set(e, ERR_SIG_INCOMPLETE,
                           "The Date header must be an HTTP date or ISO-8601 'basic format'. "
                           "Got '%.40s'.",
                           h->date);
        return ERR_OK;
    }
    return err_set(e, ERR_SIG_INCOMPLETE,
                   "Authorization header requires existence of either a 'X-Amz-Date' or a "
                   "'Date' header.");
}

static err_code check_time(const auth_parts *a, const char *amz_date, time_t t, time_t now,
                           err_t *e) {
    char lo[SIGV4_DATE_LEN + 1] = "", hi[SIGV4_DATE_LEN + 1] = "", nw[SIGV4_DATE_LEN + 1] = "";
    sigv4_format_date(now, nw);
    if (t > now + SIGV4_MAX_SKEW_SECONDS) {
        sigv4_format_date(now + SIGV4_MAX_SKEW_SECONDS, hi);
        return err_set(e, ERR_SIG_EXPIRED,
                       "Signature not yet current: %s is still later than %s (%s + 15 min.)",
                       amz_date, hi, nw);
    }
    if (a->presigned) {
        if (now > t + a->expires)
            return err_set(e, ERR_SIG_EXPIRED,
                           "Request has expired: X-Amz-Date %s + X-Amz-Expires %ld s is earlier "
                           "than %s.",
                           amz_date, a->expires, nw);
    } else if (t < now - SIGV4_MAX_SKEW_SECONDS) {
        sigv4_format_date(now - SIGV4_MAX_SKEW_SECONDS, lo);
        return err_set(e, ERR_SIG_EXPIRED,
                       "Signature expired: %s is now earlier than %s (%s - 15 min.)", amz_date, lo,
                       nw);
    }
    return ERR_OK;
}

static err_code check_scope(const sigv4_verifier *v, const auth_parts *a, const char *amz_date,
                            err_t *e) {
    if (memcmp(a->date8, amz_date, 8))
        return err_set(e, ERR_SIG_INVALID,
                       "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                       "date from HTTP: '%s' != '%.8s', from '%s'.",
                       a->date8, amz_date, amz_date);
    int region_ok = v->nregions == 0;
    for (size_t i = 0; i < v->nregions && !region_ok; i++)
        region_ok = v->regions[i] && !strcmp(v->regions[i], a->region);
    if (!region_ok)
        return err_set(e, ERR_SIG_INVALID,
                       "Credential should be scoped to a valid region, not '%s'.", a->region);
    if (strcmp(a->service, v->service))
        return err_set(e, ERR_SIG_INVALID,
                       "Credential should be scoped to correct service: '%.64s'.", v->service);
    if (strcmp(a->term, SIGV4_TERMINATOR))
        return err_set(e, ERR_SIG_INVALID,
                       "Credential should be scoped with a valid terminator: '" SIGV4_TERMINATOR
                       "', not '%s'.",
                       a->term);
    return ERR_OK;
}

err_code sigv4_verify(const sigv4_verifier *v, const sigv4_request *req, time_t now,
                      sigv4_identity *id, err_t *e) {
    return sigv4_verify_requiring(v, req, NULL, 0, now, id, e);
}

err_code sigv4_verify_requiring(const sigv4_verifier *v, const sigv4_request *req,
                                const char *const *required, size_t nrequired, time_t now,
                                sigv4_identity *id, err_t *e) {
    err_code rc;
    auth_parts *a = NULL;
    auth_headers h;
    char *creq = NULL;
    char amz_date[SIGV4_DATE_LEN + 1], body_hash[SIGV4_HEX_LEN + 1], sig[SIGV4_HEX_LEN + 1];
    char sts[512];
    const char *secret = NULL, *account = NULL;
    time_t t = 0;

    if (!v || !v->service || !v->lookup || (v->nregions && !v->regions) ||
        (nrequired && !required) || !req || (req->nheaders && !req->headers) ||
        (req->body_len && !req->body)) {
        rc = err_set(e, ERR_INTERNAL, "sigv4_verify: bad arguments");
        goto out;
    }
    a = calloc(1, sizeof *a);
    creq = malloc(SIGV4_CANONICAL_MAX);
    if (!a || !creq) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    rc = collect_headers(req, &h, e);
    if (rc)
        goto out;
    int qauth = query_has_auth(req->query);
    if (h.authorization && qauth) {
        rc = err_set(e, ERR_SIG_INCOMPLETE,
                     "Only one authentication mechanism is allowed: the Authorization header or "
                     "the X-Amz-Algorithm, X-Amz-Credential and X-Amz-Signature query parameters.");
        goto out;
    }
    if (h.authorization)
        rc = parse_authorization(h.authorization, a, e);
    else if (qauth)
        rc = parse_query_auth(req->query, a, e);
    else
        rc = err_set(e, ERR_SIG_MISSING, "Missing Authentication Token");
    if (rc)
        goto out;
    rc = check_signed_headers(a->signed_headers, e);
    if (rc)
        goto out;
    if (!list_has(a->signed_headers, "host")) {
        rc = err_set(e, ERR_SIG_INCOMPLETE,
                     "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        goto out;
    }
    for (size_t i = 0; i < nrequired; i++)
        if (required[i] && !list_has_ci(a->signed_headers, required[i])) {
            rc = err_set(e, ERR_SIG_INCOMPLETE,
                         "'%.64s' must be a 'SignedHeader' in the AWS Authorization.", required[i]);
            goto out;
        }
    if (h.token && !list_has(a->signed_headers, "x-amz-security-token")) {
        rc = err_set(e, ERR_SIG_INCOMPLETE,
                     "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
        goto out;
    }
    rc = request_time(a, &h, &t, amz_date, e);
    if (rc)
        goto out;
    rc = check_time(a, amz_date, t, now, e);
    if (rc)
        goto out;
    rc = check_scope(v, a, amz_date, e);
    if (rc)
        goto out;
    if (sigv4_sha256_hex(req->body, req->body_len, body_hash)) {
        rc = err_set(e, ERR_INTERNAL, "SHA-256 failed");
        goto out;
    }
    if (h.content_sha256 && !strcmp(h.content_sha256, "UNSIGNED-PAYLOAD")) {
        rc = err_set(e, ERR_SIG_INVALID, "UNSIGNED-PAYLOAD is not accepted: sign the payload.");
        goto out;
    }
    if (h.content_sha256 && strcasecmp(h.content_sha256, body_hash)) {
        rc = err_set(e, ERR_SIG_INVALID,
                     "The provided 'x-amz-content-sha256' header does not match what was "
                     "computed.");
        goto out;
    }
    rc = v->lookup(v->lookup_ctx, a->akid, &secret, &account);
    if (rc == ERR_SIG_UNKNOWN_KEY) {
        err_set(e, rc, "The security token included in the request is invalid.");
        goto out;
    }
    if (rc || !secret || !account) {
        rc = err_set(e, rc ? rc : ERR_INTERNAL, "credential lookup failed");
        goto out;
    }
    rc = sigv4_canonical_request(req, a->signed_headers, body_hash, a->presigned, creq,
                                 SIGV4_CANONICAL_MAX, e);
    if (rc)
        goto out;
    rc = sigv4_string_to_sign(amz_date, a->region, a->service, creq, sts, sizeof sts, e);
    if (rc) {
        rc = err_set(e, ERR_INTERNAL, "string to sign failed");
        goto out;
    }
    if (sigv4_signature(secret, a->date8, a->region, a->service, sts, sig)) {
        rc = err_set(e, ERR_INTERNAL, "signature computation failed");
        goto out;
    }
    if (CRYPTO_memcmp(sig, a->signature, SIGV4_HEX_LEN)) {
        rc = err_set(e, ERR_SIG_INVALID,
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method. Consult the "
                     "service documentation for details.");
        goto out;
    }
    if (id) {
        memset(id, 0, sizeof *id);
        snprintf(id->access_key_id, sizeof id->access_key_id, "%s", a->akid);
        snprintf(id->account_id, sizeof id->account_id, "%.12s", account);
        snprintf(id->region, sizeof id->region, "%s", a->region);
        id->signed_at = t;
        const char *tv;
        size_t tn;
        id->has_session_token =
            h.token != NULL ||
            (a->presigned && query_find(req->query, "X-Amz-Security-Token", &tv, &tn));
    }
out:
    free(a);
    free(creq);
    return rc;
}

/* ---- signing -------------------------------------------------------------- */

static int str_cmp(const void *pa, const void *pb) {
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* The SignedHeaders list botocore would send for req: every header's name,
 * lowercased, sorted, once, but for those proxies may change. */
static err_code signing_list(const sigv4_request *req, char *list, size_t cap, err_t *e) {
    static const char *const skip[] = {"authorization", "user-agent", "expect", "x-amzn-trace-id"};
    char names[SIGV4_AUTHZ_MAX];
    const char *sorted[SIGV4_SIGNED_HEADERS_MAX];
    size_t used = 0, n = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name;
        size_t len = name ? strlen(name) : 0, k;
        int skipped = 0;
        for (k = 0; k < sizeof skip / sizeof *skip; k++)
            skipped |= name && !strcasecmp(name, skip[k]);
        if (skipped)
            continue;
        if (len == 0 || len + 1 > sizeof names - used)
            return err_set(e, ERR_VALIDATION, "header names missing or too long to sign");
        char *lower = names + used;
        for (k = 0; k < len; k++) {
            char c = name[k] >= 'A' && name[k] <= 'Z' ? (char)(name[k] - 'A' + 'a') : name[k];
            if (!is_lower_tchar(c))
                return err_set(e, ERR_VALIDATION, "header name '%.40s' is not a token", name);
            lower[k] = c;
        }
        lower[len] = '\0';
        int dup = 0;
        for (k = 0; k < n; k++)
            dup |= !strcmp(sorted[k], lower);
        if (dup)
            continue;
        if (n == SIGV4_SIGNED_HEADERS_MAX)
            return err_set(e, ERR_VALIDATION, "more than %d headers to sign",
                           SIGV4_SIGNED_HEADERS_MAX);
        sorted[n++] = lower;
        used += len + 1;
    }
    qsort(sorted, n, sizeof *sorted, str_cmp);
    sbuf b;
    sb_init(&b, list, cap);
    for (size_t k = 0; k < n; k++) {
        if (k)
            sb_putc(&b, ';');
        sb_puts(&b, sorted[k]);
    }
    if (b.full)
        return err_set(e, ERR_VALIDATION, "SignedHeaders list too long");
    return ERR_OK;
}

err_code sigv4_sign(const sigv4_request *req, const char *access_key_id, const char *secret,
                    const char *region, const char *service, char *authz, size_t cap, err_t *e) {
    err_code rc;
    char *creq = NULL;
    char list[SIGV4_AUTHZ_MAX], sts[512], sig[SIGV4_HEX_LEN + 1], date8[9];
    const char *amz_date = NULL;
    time_t t;
    if (!req || (req->nheaders && !req->headers) || !access_key_id || !*access_key_id ||
        strlen(access_key_id) > SIGV4_KEY_ID_MAX || strchr(access_key_id, '/') || !secret ||
        !region || !*region || strlen(region) > SIGV4_REGION_MAX || !service || !*service ||
        strlen(service) > SIGV4_SERVICE_MAX || !authz) {
        rc = err_set(e, ERR_VALIDATION, "sigv4_sign: bad arguments");
        goto out;
    }
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && !strcasecmp(req->headers[i].name, "x-amz-date"))
            amz_date = req->headers[i].value;
    if (!amz_date || parse_iso_basic(amz_date, &t)) {
        rc = err_set(e, ERR_VALIDATION,
                     "sigv4_sign: the request needs an X-Amz-Date header "
                     "(YYYYMMDDTHHMMSSZ)");
        goto out;
    }
    rc = signing_list(req, list, sizeof list, e);
    if (rc)
        goto out;
    if (!list_has(list, "host")) {
        rc = err_set(e, ERR_VALIDATION, "sigv4_sign: the request needs a Host header");
        goto out;
    }
    creq = malloc(SIGV4_CANONICAL_MAX);
    if (!creq) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    rc = sigv4_canonical_request(req, list, NULL, 0, creq, SIGV4_CANONICAL_MAX, e);
    if (rc) {
        if (rc != ERR_INTERNAL)
            rc = err_set(e, ERR_VALIDATION, "sigv4_sign: the request cannot be canonicalised");
        goto out;
    }
    rc = sigv4_string_to_sign(amz_date, region, service, creq, sts, sizeof sts, e);
    if (rc)
        goto out;
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    if (sigv4_signature(secret, date8, region, service, sts, sig)) {
        rc = err_set(e, ERR_INTERNAL, "signature computation failed");
        goto out;
    }
    int n = snprintf(authz, cap,
                     SIGV4_ALGORITHM " Credential=%s/%s/%s/%s/" SIGV4_TERMINATOR
                                     ", SignedHeaders=%s, Signature=%s",
                     access_key_id, date8, region, service, list, sig);
    if (n < 0 || (size_t)n >= cap)
        rc = err_set(e, ERR_VALIDATION, "sigv4_sign: Authorization longer than %zu bytes", cap);
out:
    free(creq);
    return rc;
}
