#include "reply.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_json(http_response *resp, int status, json_t *body, api_flavor fl) {
    resp->status = status;
    resp->content_type = fl == API_CURRENT ? "application/x-amz-json-1.1" : "application/json";
    if (body) {
        resp->body = json_dumps(body, JSON_COMPACT);
        resp->body_len = resp->body ? strlen(resp->body) : 0;
        json_decref(body);
    }
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one:
 * no overlong forms, surrogates or code points past U+10FFFF. */
static size_t utf8_seq(const unsigned char *s) {
    unsigned c = s[0];
    size_t n;
    unsigned min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void reply_error(http_response *resp, const err_t *e, api_flavor fl) {
    const char *name = err_name(e->code, fl);
    /* Messages may quote what the client sent: a byte that is not UTF-8
     * becomes '?', so the body is always JSON (json_pack refuses it). */
    char msg[ERR_MSG_MAX];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)e->msg; *p && o + 1 < sizeof msg;) {
        size_t n = utf8_seq(p);
        if (!n || o + n >= sizeof msg) {
            msg[o++] = '?';
            p++;
            continue;
        }
        memcpy(msg + o, p, n);
        o += n;
        p += n;
    }
    msg[o] = 0;
    http_response_header(resp, "x-amzn-ErrorType", name);
    reply_json(resp, err_status(e->code, fl),
               json_pack("{s:s, s:s}", "__type", name, "message", msg), fl);
}

/* The mac covers all of scope and offset: a scope too long for the stack
 * buffer is hashed from a heap copy, never truncated (a cut message could
 * leave the offset out of the mac). Returns 0, or -1 when out of memory. */
static int token_mac(const unsigned char *secret, const char *scope, long long offset,
                     char out[33]) {
    unsigned char mac[32];
    unsigned int len = 0;
    char small[2048], *msg = small;
    int n = snprintf(small, sizeof small, "%s|%lld", scope, offset);
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof small) {
        if (!(msg = malloc((size_t)n + 1)))
            return -1;
        snprintf(msg, (size_t)n + 1, "%s|%lld", scope, offset);
    }
    int ok =
        HMAC(EVP_sha256(), secret, 32, (const unsigned char *)msg, (size_t)n, mac, &len) != NULL;
    if (msg != small)
        free(msg);
    if (!ok)
        return -1;
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

/* The offset of a token as reply_token_make writes it: decimal digits, no
 * sign, space or leading zero, within long long; *end set past it. */
static int token_offset(const char *tok, long long *off, const char **end) {
    long long v = 0;
    const char *p = tok;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    *off = v;
    *end = p;
    return 0;
}

json_t *reply_token_make(const unsigned char *secret, const char *scope, long long offset) {
    char mac[33], tok[80];
    if (token_mac(secret, scope, offset, mac))
        return NULL;
    snprintf(tok, sizeof tok, "%lld.%s", offset, mac);
    return json_string(tok);
}

int reply_token_read(const unsigned char *secret, const char *scope, const char *tok,
                     long long *offset, err_t *e) {
    char mac[33];
    long long off;
    const char *dot;
    if (!tok || token_offset(tok, &off, &dot) || *dot != '.' || strlen(dot + 1) != 32)
        return err_set(e, ERR_VALIDATION, "NextToken: invalid pagination token");
    if (token_mac(secret, scope, off, mac))
        return err_set(e, ERR_INTERNAL, "out of memory");
    if (CRYPTO_memcmp(mac, dot + 1, 32))
        return err_set(e, ERR_VALIDATION,
                       "NextToken: invalid pagination token (it does not belong to this "
                       "request)");
    *offset = off;
    return 0;
}
