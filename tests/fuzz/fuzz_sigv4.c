/* fuzz_sigv4 — libFuzzer harness: SigV4 verification (sigv4.h) of fuzzed
 * requests, and a sign-then-verify round trip.
 *
 * FUZZ_VERBOSE=1 in the environment prints every verification's result.
 *
 * Input: a request in lines:
 *   method '\n' path '\n' query '\n' (name ':' value '\n')* '\n' body
 * (at most FUZZ_HEADERS_MAX headers; the body is every byte after the empty
 * line). Nothing else is interpreted: the bytes are the request.
 *
 * 1. The request as given is verified at FUZZ_NOW (2024-05-01T12:00:00Z)
 *    against a key store of two keys, once for region us-east-1 and once for
 *    any region. Checked: the result is one of sigv4_verify's documented
 *    codes and not ERR_INTERNAL; e->code is the result; no secret appears in
 *    e->msg unless the input itself holds it (messages quote what was sent); on success the
 * identity is the key's (account, key id, region, time within SIGV4_MAX_SKEW_SECONDS), and a
 * request accepted for us-east-1 is accepted for any region.
 * 2. The request, made wire-legal (token characters in the method and header
 *    names, visible ASCII in path and query, no CR/LF; the headers the signer
 *    adds or that carry authentication dropped, and a second Date or
 *    X-Amz-Security-Token, which the verifier refuses), gets Host and
 *    X-Amz-Date and
 *    is signed with sigv4_sign(). Checked: the signed request verifies; one
 *    hex digit of the Signature changed never verifies; and for a few
 *    single-byte changes anywhere else (method, path, query, a header's name
 *    or value, the body), the changed request verifies only if its canonical
 *    request (sigv4_canonical_request) is byte-for-byte the original's —
 *    i.e. the signature covers exactly what the canonical form says. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigv4.h"

#define FUZZ_NOW ((time_t)1714564800) /* 2024-05-01T12:00:00Z */
#define FUZZ_HEADERS_MAX 80
#define FUZZ_FLIPS 3

static const struct {
    const char *id, *secret, *account;
} keys[] = {
    {"AKIAOPENHPOTESTKEYAA", "secret/A+openhpo-test-key-0001", "123456789012"},
    {"AKIAOPENHPOTESTKEYBB", "secret/B+openhpo-test-key-0002", "210987654321"},
};

static err_code lookup(void *ctx, const char *id, const char **secret, const char **account) {
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strcmp(id, keys[i].id)) {
            *secret = keys[i].secret;
            *account = keys[i].account;
            return ERR_OK;
        }
    return ERR_SIG_UNKNOWN_KEY;
}

/* The current input, for the secret check (libFuzzer runs one input at a time). */
static const uint8_t *cur_data;
static size_t cur_size;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_sigv4: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* A parsed request: every string a NUL-terminated copy in its own buffer. */
typedef struct {
    char *method, *path, *query;
    char *names[FUZZ_HEADERS_MAX + 2], *values[FUZZ_HEADERS_MAX + 2];
    size_t n;
    unsigned char *body;
    size_t body_len;
} req_t;

static char *dup_n(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Reads up to '\n' (or the end); moves *p past it. NULs end the string. */
static char *line(const uint8_t **p, const uint8_t *end, size_t *len) {
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    char *s = dup_n(*p, n);
    *p = nl ? nl + 1 : end;
    if (len)
        *len = strlen(s);
    return s;
}

static void req_free(req_t *r) {
    free(r->method);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->n; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void parse(const uint8_t *data, size_t size, req_t *r) {
    const uint8_t *p = data, *end = data + size;
    memset(r, 0, sizeof *r);
    r->method = line(&p, end, NULL);
    r->path = line(&p, end, NULL);
    r->query = line(&p, end, NULL);
    while (p < end && *p != '\n' && r->n < FUZZ_HEADERS_MAX) {
        size_t len;
        char *l = line(&p, end, &len);
        char *colon = strchr(l, ':');
        r->names[r->n] = colon ? dup_n((const uint8_t *)l, (size_t)(colon - l)) : dup_n(NULL, 0);
        r->values[r->n] = colon ? dup_n((const uint8_t *)colon + 1, strlen(colon + 1))
                                : dup_n((const uint8_t *)l, len);
        r->n++;
        free(l);
    }
    if (p < end && *p == '\n')
        p++;
    r->body_len = (size_t)(end - p);
    r->body = malloc(r->body_len ? r->body_len : 1);
    if (!r->body)
        abort();
    memcpy(r->body, p, r->body_len);
}

static void as_sigv4(const req_t *r, sigv4_header *h, sigv4_request *s) {
    for (size_t i = 0; i < r->n; i++)
        h[i] = (sigv4_header){r->names[i], r->values[i]};
    *s = (sigv4_request){.method = r->method,
                         .path = r->path,
                         .query = r->query,
                         .headers = h,
                         .nheaders = r->n,
                         .body = r->body_len ? r->body : NULL,
                         .body_len = r->body_len};
}

static err_code verify(const req_t *r, int any_region, sigv4_identity *id, err_t *out) {
    static const char *const regions[] = {"us-east-1"};
    sigv4_verifier v = {.service = "sagemaker",
                        .regions = regions,
                        .nregions = any_region ? 0 : 1,
                        .lookup = lookup,
                        .lookup_ctx = NULL};
    sigv4_header h[FUZZ_HEADERS_MAX + 2];
    sigv4_request s;
    err_t e = {0};
    as_sigv4(r, h, &s);
    err_code rc = sigv4_verify(&v, &s, FUZZ_NOW, id, &e);
    if (out)
        *out = e;
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_sigv4: verify (%s) = %d %s\n",
                any_region ? "any region" : "us-east-1", (int)rc, e.msg);
    switch (rc) {
    case ERR_OK:
        break;
    case ERR_SIG_MISSING:
    case ERR_SIG_INCOMPLETE:
    case ERR_SIG_EXPIRED:
    case ERR_SIG_INVALID:
    case ERR_SIG_UNKNOWN_KEY:
        if (e.code != rc || !e.msg[0])
            fail("error without its code or message", e.msg);
        break;
    default:
        fail("sigv4_verify returned an undocumented code", e.msg);
    }
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strstr(e.msg, keys[i].secret) &&
            !memmem(cur_data, cur_size, keys[i].secret, strlen(keys[i].secret)))
            fail("the secret is in the message", e.msg);
    if (rc == ERR_OK) {
        size_t k;
        for (k = 0; k < sizeof keys / sizeof *keys; k++)
            if (!strcmp(id->access_key_id, keys[k].id))
                break;
        if (k == sizeof keys / sizeof *keys || strcmp(id->account_id, keys[k].account))
            fail("verified identity is not a key's", id->access_key_id);
        if (!any_region && strcmp(id->region, "us-east-1"))
            fail("verified region is not the accepted one", id->region);
        if (id->signed_at < FUZZ_NOW - SIGV4_MAX_SKEW_SECONDS ||
            id->signed_at > FUZZ_NOW + SIGV4_MAX_SKEW_SECONDS)
            fail("verified a request outside the clock skew", NULL);
    }
    return rc;
}

/* ---- sign, then verify ---------------------------------------------------- */

static int is_tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Makes r what an HTTP server could receive, without the headers the signer
 * adds or that would carry a second authentication. */
static void legalise(req_t *r) {
    static const char *const drop[] = {"authorization", "host", "x-amz-date",
                                       "x-amz-content-sha256"};
    for (char *c = r->method; *c; c++)
        if (!is_tchar((unsigned char)*c))
            *c = 'X';
    if (!r->method[0]) {
        free(r->method);
        r->method = dup_n((const uint8_t *)"POST", 4);
    }
    for (char *c = r->path; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '?' || *c == '#')
            *c = '_';
    if (r->path[0] != '/') {
        size_t n = strlen(r->path);
        char *p = malloc(n + 2);
        if (!p)
            abort();
        p[0] = '/';
        memcpy(p + 1, r->path, n + 1);
        free(r->path);
        r->path = p;
    }
    for (char *c = r->query; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '#')
            *c = '_';
    if (strcasestr(r->query, "x-amz-"))
        r->query[0] = 0; /* query-string authentication is not this test */
    /* The verifier refuses a second one of these (sigv4.c collect_headers). */
    static const char *const once[] = {"date", "x-amz-security-token"};
    int seen[2] = {0, 0};
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        int bad = !r->names[i][0];
        for (size_t d = 0; d < 2; d++)
            if (!strcasecmp(r->names[i], once[d]))
                bad |= seen[d]++ > 0;
        for (char *c = r->names[i]; *c; c++)
            bad |= !is_tchar((unsigned char)*c);
        for (size_t d = 0; d < sizeof drop / sizeof *drop; d++)
            bad |= !strcasecmp(r->names[i], drop[d]);
        for (char *c = r->values[i]; *c; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                *c = ' ';
            else if (*c == 0x7f)
                *c = '~';
        if (bad) {
            free(r->names[i]);
            free(r->values[i]);
            continue;
        }
        r->names[k] = r->names[i];
        r->values[k] = r->values[i];
        k++;
    }
    r->n = k;
}

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char *signed_headers_of(const char *authz) {
    const char *p = strstr(authz, "SignedHeaders=");
    if (!p)
        fail("no SignedHeaders in what sigv4_sign wrote", authz);
    p += strlen("SignedHeaders=");
    const char *q = strchr(p, ',');
    return dup_n((const uint8_t *)p, q ? (size_t)(q - p) : strlen(p));
}

/* The canonical request of r in one of two static buffers (0: the signed
 * original, 1: a changed copy), or NULL when there is none. */
static const char *canonical(const req_t *r, const char *signed_headers, int which) {
    static char out[2][SIGV4_CANONICAL_MAX];
    sigv4_header h[FUZZ_HEADERS_MAX + 2];
    sigv4_request s;
    as_sigv4(r, h, &s);
    if (sigv4_canonical_request(&s, signed_headers, NULL, 0, out[which], SIGV4_CANONICAL_MAX, NULL))
        return NULL;
    return out[which];
}

/* Changes one byte of `s` to another byte that is not NUL (mask is not 0). */
static void flip_str(char *s, size_t i, unsigned char mask) {
    unsigned char c = (unsigned char)s[i] ^ mask;
    if (!c)
        c = (unsigned char)s[i] == 1 ? 2 : 1;
    s[i] = (char)c;
}

static void round_trip(const uint8_t *data, size_t size) {
    req_t r;
    char date[SIGV4_DATE_LEN + 1], authz[SIGV4_AUTHZ_MAX];
    sigv4_header h[FUZZ_HEADERS_MAX + 2];
    sigv4_request s;
    sigv4_identity id;
    err_t e = {0};
    uint64_t seed = fnv(data, size) | 1;
    size_t key = (size_t)(seed >> 7) % (sizeof keys / sizeof *keys);
    parse(data, size, &r);
    legalise(&r);
    if (sigv4_format_date(FUZZ_NOW - (time_t)(seed % 600), date))
        abort();
    r.names[r.n] = dup_n((const uint8_t *)"Host", 4);
    r.values[r.n++] = dup_n((const uint8_t *)"localhost", 9);
    r.names[r.n] = dup_n((const uint8_t *)"X-Amz-Date", 10);
    r.values[r.n++] = dup_n((const uint8_t *)date, strlen(date));
    as_sigv4(&r, h, &s);
    if (sigv4_sign(&s, keys[key].id, keys[key].secret, "us-east-1", "sagemaker", authz,
                   sizeof authz, &e)) {
        req_free(&r);
        return; /* over a cap: refusing to sign is the documented answer */
    }
    r.names[r.n] = dup_n((const uint8_t *)"Authorization", 13);
    r.values[r.n++] = dup_n((const uint8_t *)authz, strlen(authz));
    size_t authz_i = r.n - 1;
    memset(&e, 0, sizeof e);
    if (verify(&r, 0, &id, &e) != ERR_OK)
        fail("a request signed by sigv4_sign does not verify", e.msg);
    if (strcmp(id.access_key_id, keys[key].id))
        fail("verified as another key", id.access_key_id);
    char *sh = signed_headers_of(authz);
    const char *orig = canonical(&r, sh, 0);
    if (!orig)
        fail("no canonical request for a verified request", sh);

    /* One hex digit of the signature changed: never valid. */
    char *sig = strstr(r.values[authz_i], "Signature=");
    if (!sig || strlen(sig + 10) != SIGV4_HEX_LEN)
        fail("Authorization does not end in a 64-digit Signature", r.values[authz_i]);
    sig += 10;
    size_t at = (size_t)(next(&seed) % SIGV4_HEX_LEN);
    static const char hex[] = "0123456789abcdef";
    char was = sig[at];
    const char *digit = strchr(hex, was);
    if (!digit || !was)
        fail("the Signature is not lowercase hex", sig);
    sig[at] = hex[((size_t)(digit - hex) + 1 + (size_t)(next(&seed) % 15)) % 16];
    if (verify(&r, 1, &id, NULL) == ERR_OK)
        fail("a changed signature verifies", r.values[authz_i]);
    sig[at] = was;

    /* Single-byte changes elsewhere: valid only with the same canonical request. */
    for (int f = 0; f < FUZZ_FLIPS; f++) {
        uint64_t x = next(&seed);
        unsigned char mask = (unsigned char)(1 + next(&seed) % 255);
        int field = (int)(x % 5);
        char *str = NULL;
        unsigned char *body_at = NULL;
        size_t hi = 0;
        if (field == 0)
            str = r.method;
        else if (field == 1)
            str = r.path;
        else if (field == 2)
            str = r.query;
        else if (field == 3 && authz_i > 0) {
            hi = (size_t)(next(&seed) % authz_i); /* not Authorization itself */
            str = (next(&seed) & 1) ? r.names[hi] : r.values[hi];
        } else if (r.body_len)
            body_at = r.body + next(&seed) % r.body_len;
        if (str && !*str)
            continue;
        char saved_c = 0;
        unsigned char saved_b = 0;
        size_t pos = 0;
        if (str) {
            pos = (size_t)(next(&seed) % strlen(str));
            saved_c = str[pos];
            flip_str(str, pos, mask);
        } else if (body_at) {
            saved_b = *body_at;
            *body_at ^= mask;
        } else {
            continue;
        }
        if (verify(&r, 1, &id, NULL) == ERR_OK) {
            const char *now = canonical(&r, sh, 1);
            if (!now || strcmp(now, orig)) {
                fprintf(stderr,
                        "fuzz_sigv4: changed request verifies; canonical before:\n%s\n"
                        "after:\n%s\n",
                        orig, now ? now : "(none)");
                fail("a change the canonical request sees does not break the signature", NULL);
            }
        }
        if (str)
            str[pos] = saved_c;
        else
            *body_at = saved_b;
    }
    free(sh);
    req_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    req_t r;
    sigv4_identity id, id_any;
    cur_data = data;
    cur_size = size;
    parse(data, size, &r);
    err_code one = verify(&r, 0, &id, NULL);
    err_code any = verify(&r, 1, &id_any, NULL);
    if (one == ERR_OK && any != ERR_OK)
        fail("accepted for us-east-1 but not for any region", NULL);
    req_free(&r);
    round_trip(data, size);
    return 0;
}
