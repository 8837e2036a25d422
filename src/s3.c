/* s3 — S3 client over libcurl (path-style, SigV4 signed). See s3.h. */
#include "s3.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sigv4.h"
#include "util.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_client {
    s3_config cfg;
    char host[S3_ENDPOINT_MAX]; /* host[:port] of the endpoint */
    CURL *curl;
};

int s3_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* ---------- settings ---------- */

static int copy_env(char *dst, size_t n, const char *name, err_t *e) {
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    if (strlen(v) >= n)
        return err_set(e, ERR_VALIDATION, "%s is longer than %zu bytes", name, n - 1);
    snprintf(dst, n, "%s", v);
    return 0;
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

int s3_config_parse_credentials(const char *text, const char *profile, s3_config *c) {
    int in = 0, have_id = 0, have_secret = 0;
    char line[S3_TOKEN_MAX + 64];
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= sizeof line)
            len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = 0;
        p = nl ? nl + 1 : NULL;
        trim(line);
        if (!line[0] || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            char *end = strchr(line, ']');
            if (!end)
                continue;
            *end = 0;
            char *name = line + 1;
            trim(name);
            if (!strncmp(name, "profile ", 8))
                name += 8;
            trim(name);
            in = !strcmp(name, profile);
            continue;
        }
        char *eq = strchr(line, '=');
        if (!in || !eq)
            continue;
        *eq = 0;
        char *k = line, *v = eq + 1;
        trim(k);
        trim(v);
        if (!strcmp(k, "aws_access_key_id") && strlen(v) < sizeof c->key_id) {
            snprintf(c->key_id, sizeof c->key_id, "%s", v);
            have_id = 1;
        } else if (!strcmp(k, "aws_secret_access_key") && strlen(v) < sizeof c->secret) {
            snprintf(c->secret, sizeof c->secret, "%s", v);
            have_secret = 1;
        } else if (!strcmp(k, "aws_session_token") && strlen(v) < sizeof c->token) {
            snprintf(c->token, sizeof c->token, "%s", v);
        }
    }
    return have_id && have_secret;
}

/* Checks http(s)://host[:port][/] and strips a trailing '/'. */
static int check_endpoint(char *ep, err_t *e) {
    size_t n = strlen(ep);
    while (n && ep[n - 1] == '/')
        ep[--n] = 0;
    const char *h = !strncmp(ep, "http://", 7)    ? ep + 7
                    : !strncmp(ep, "https://", 8) ? ep + 8
                                                  : NULL;
    if (!h || !*h || strchr(h, '/') || strchr(h, '?') || strchr(h, '@'))
        return err_set(e, ERR_VALIDATION,
                       "S3 endpoint '%s' is not http(s)://HOST[:PORT] (path-style addressing)", ep);
    return 0;
}

int s3_config_set_keys(s3_config *c, const char *key_id, const char *secret, const char *token,
                       err_t *e) {
    if (!key_id || !secret || strlen(key_id) >= sizeof c->key_id ||
        strlen(secret) >= sizeof c->secret || (token && strlen(token) >= sizeof c->token))
        return err_set(e, ERR_VALIDATION, "the account's S3 credentials are over their caps");
    snprintf(c->key_id, sizeof c->key_id, "%s", key_id);
    snprintf(c->secret, sizeof c->secret, "%s", secret);
    snprintf(c->token, sizeof c->token, "%s", token ? token : "");
    return 0;
}

int s3_config_from_env(s3_config *c, err_t *e) {
    int rc;
    memset(c, 0, sizeof *c);
    snprintf(c->region, sizeof c->region, "us-east-1");
    if ((rc = copy_env(c->region, sizeof c->region, "AWS_DEFAULT_REGION", e)) ||
        (rc = copy_env(c->region, sizeof c->region, "AWS_REGION", e)) ||
        (rc = copy_env(c->endpoint, sizeof c->endpoint, "AWS_ENDPOINT_URL", e)) ||
        (rc = copy_env(c->endpoint, sizeof c->endpoint, "AWS_ENDPOINT_URL_S3", e)))
        return rc;
    if (!c->endpoint[0])
        snprintf(c->endpoint, sizeof c->endpoint, "https://s3.%s.amazonaws.com", c->region);
    if ((rc = check_endpoint(c->endpoint, e)))
        return rc;
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (id && *id && secret && *secret) {
        if ((rc = copy_env(c->key_id, sizeof c->key_id, "AWS_ACCESS_KEY_ID", e)) ||
            (rc = copy_env(c->secret, sizeof c->secret, "AWS_SECRET_ACCESS_KEY", e)) ||
            (rc = copy_env(c->token, sizeof c->token, "AWS_SESSION_TOKEN", e)))
            return rc;
        return 0;
    }
    char path[4200];
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
    const char *profile = getenv("AWS_PROFILE");
    if (file && *file)
        snprintf(path, sizeof path, "%s", file);
    else if (home && *home)
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    else
        return 0;
    char *text = util_read_file(path, S3_CRED_FILE_MAX, NULL);
    if (!text) {
        if (file && *file)
            return err_set(e, ERR_VALIDATION, "cannot read AWS_SHARED_CREDENTIALS_FILE %s: %s",
                           path, strerror(errno));
        return 0; /* no ~/.aws/credentials: unsigned requests */
    }
    s3_config_parse_credentials(text, profile && *profile ? profile : "default", c);
    free(text);
    return 0;
}

/* ---------- URIs, encoding, signing ---------- */

int s3_parse_uri(const char *uri, char *bucket, char *key, err_t *e) {
    if (strncmp(uri, "s3://", 5))
        return err_set(e, ERR_VALIDATION, "'%.200s' is not an s3:// URI", uri);
    const char *b = uri + 5, *slash = strchr(b, '/');
    size_t bn = slash ? (size_t)(slash - b) : strlen(b);
    if (bn < 1 || bn > S3_BUCKET_MAX)
        return err_set(e, ERR_VALIDATION, "%.200s: the bucket name must be 1 to %d characters", uri,
                       S3_BUCKET_MAX);
    for (size_t i = 0; i < bn; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
              b[i] == '.' || b[i] == '_'))
            return err_set(e, ERR_VALIDATION, "%.200s: '%.*s' is not a valid bucket name", uri,
                           (int)bn, b);
    const char *k = slash ? slash + 1 : "";
    if (strlen(k) > S3_KEY_MAX)
        return err_set(e, ERR_VALIDATION, "%.200s...: the key is longer than %d bytes", uri,
                       S3_KEY_MAX);
    memcpy(bucket, b, bn);
    bucket[bn] = 0;
    snprintf(key, S3_KEY_MAX + 1, "%s", k);
    return 0;
}

static int encode(const char *s, int keep_slash, char *out, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
            (keep_slash && ch == '/')) {
            if (j + 1 >= n)
                return -1;
            out[j++] = (char)ch;
        } else {
            if (j + 3 >= n)
                return -1;
            out[j++] = '%';
            out[j++] = hex[ch >> 4];
            out[j++] = hex[ch & 15];
        }
    }
    if (j >= n)
        return -1;
    out[j] = 0;
    return 0;
}

int s3_encode_key(const char *key, char *out, size_t n) {
    return encode(key, 1, out, n);
}

int s3_sign(const char *method, const char *canon_path, const char *canon_query,
            const char *const *names, const char *const *values, size_t nh,
            const char *payload_hash, const char *amz_date, const char *region, const char *key_id,
            const char *secret, char *authz, size_t cap) {
    char *canon = malloc(SIGV4_CANONICAL_MAX), sts[1024], sig[SIGV4_HEX_LEN + 1], signed_h[512];
    size_t len = 0, sl = 0;
    int rc = -1;
    if (!canon)
        return -1;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(canon + len, SIGV4_CANONICAL_MAX - len, __VA_ARGS__);                    \
        if (w_ < 0 || (size_t)w_ >= SIGV4_CANONICAL_MAX - len)                                     \
            goto out;                                                                              \
        len += (size_t)w_;                                                                         \
    } while (0)
    PUT("%s\n%s\n%s\n", method, canon_path, canon_query ? canon_query : "");
    signed_h[0] = 0;
    for (size_t i = 0; i < nh; i++) {
        PUT("%s:%s\n", names[i], values[i]);
        int w = snprintf(signed_h + sl, sizeof signed_h - sl, "%s%s", i ? ";" : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof signed_h - sl)
            goto out;
        sl += (size_t)w;
    }
    PUT("\n%s\n%s", signed_h, payload_hash);
#undef PUT
    err_t e = {0};
    if (sigv4_string_to_sign(amz_date, region, "s3", canon, sts, sizeof sts, &e))
        goto out;
    char date8[9];
    memcpy(date8, amz_date, 8);
    date8[8] = 0;
    if (sigv4_signature(secret, date8, region, "s3", sts, sig))
        goto out;
    int w = snprintf(authz, cap,
                     SIGV4_ALGORITHM " Credential=%s/%s/%s/s3/aws4_request, SignedHeaders=%s, "
                                     "Signature=%s",
                     key_id, date8, region, signed_h, sig);
    if (w < 0 || (size_t)w >= cap)
        goto out;
    rc = 0;
out:
    free(canon);
    return rc;
}

/* ---------- the client ---------- */

s3_client *s3_client_new(const s3_config *c, err_t *e) {
    s3_client *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    s->cfg = *c;
    const char *h = strstr(c->endpoint, "://");
    snprintf(s->host, sizeof s->host, "%s", h ? h + 3 : c->endpoint);
    if (!(s->curl = curl_easy_init())) {
        free(s);
        err_set(e, ERR_INTERNAL, "cannot create a curl handle");
        return NULL;
    }
    return s;
}

void s3_client_free(s3_client *c) {
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

/* One request and where its answer goes. */
typedef struct {
    const char *method;
    const char *bucket, *key; /* key may be "" (bucket-level request) */
    const char *query;        /* canonical (sorted, encoded) query, or "" */
    const char *range;        /* "bytes=A-B", or NULL */
    const void *body;         /* PUT/POST body */
    size_t body_len;
    const char *content_type; /* or NULL */
    /* answer: into fd (pwrite from fd_off), else into memory up to mem_cap */
    int fd;
    int64_t fd_off;
    size_t mem_cap;
    /* filled */
    long status;
    char *mem;
    size_t mem_len;
    int64_t written;
    int write_failed; /* errno of a failed pwrite, or 0 */
    int over_cap;
    char etag[S3_ETAG_MAX];
    int64_t content_length;
    size_t sent; /* upload position */
} s3_req;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
    s3_req *r = ud;
    size_t n = sz * nm;
    if (r->status >= 200 && r->status < 300 && r->fd >= 0) {
        for (size_t done = 0; done < n;) {
            ssize_t w = pwrite(r->fd, p + done, n - done, r->fd_off + r->written);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                r->write_failed = errno;
                return 0;
            }
            done += (size_t)w;
            r->written += w;
        }
        return n;
    }
    size_t cap = (r->status >= 200 && r->status < 300) ? r->mem_cap : S3_ERROR_BODY_MAX;
    if (r->mem_len + n > cap) {
        r->over_cap = 1;
        return 0;
    }
    char *m = realloc(r->mem, r->mem_len + n + 1);
    if (!m)
        return 0;
    memcpy(m + r->mem_len, p, n);
    r->mem = m;
    r->mem_len += n;
    m[r->mem_len] = 0;
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud) {
    s3_req *r = ud;
    size_t n = sz * nm;
    if (n > 5 && !strncmp(p, "HTTP/", 5)) {
        long st = 0;
        const char *sp = memchr(p, ' ', n);
        if (sp)
            st = strtol(sp + 1, NULL, 10);
        r->status = st;
        r->mem_len = 0; /* a new answer (after 100-continue, say) */
        return n;
    }
    char line[512];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = 0;
    trim(line);
    if (!strncasecmp(line, "etag:", 5)) {
        char *v = line + 5;
        trim(v);
        snprintf(r->etag, sizeof r->etag, "%s", v);
    } else if (!strncasecmp(line, "content-length:", 15)) {
        r->content_length = strtoll(line + 15, NULL, 10);
    }
    return n;
}

static size_t on_read(char *p, size_t sz, size_t nm, void *ud) {
    s3_req *r = ud;
    size_t n = sz * nm, left = r->body_len - r->sent;
    if (n > left)
        n = left;
    if (n)
        memcpy(p, (const char *)r->body + r->sent, n);
    r->sent += n;
    return n;
}

/* Text between <tag> and </tag> after *from in xml (no nesting of the same
 * tag), entity-decoded by libxml2; NULL when absent. Caller frees. */
static char *xml_first(const char *xml, size_t n, const char *tag);

/* "Code (status): Message" of an error answer into out[n]. */
static void describe_error(const s3_req *r, char *out, size_t n) {
    char *code = r->mem ? xml_first(r->mem, r->mem_len, "Code") : NULL;
    char *msg = r->mem ? xml_first(r->mem, r->mem_len, "Message") : NULL;
    const char *fallback = r->status == 404   ? "NotFound"
                           : r->status == 403 ? "AccessDenied"
                           : r->status == 400 ? "BadRequest"
                                              : "HTTPError";
    if (msg && msg[0])
        snprintf(out, n, "%s (%ld): %.200s", code && code[0] ? code : fallback, r->status, msg);
    else
        snprintf(out, n, "%s (%ld)", code && code[0] ? code : fallback, r->status);
    free(code);
    free(msg);
}

static const char *verb(const char *method) {
    return !strcmp(method, "GET") || !strcmp(method, "HEAD") ? "fetch" : "store";
}

/* Runs one request (retried S3_ATTEMPTS times on transport errors, 500 and
 * 503). 0 for a 2xx answer; else e names the URI and the cause. */
static int run(s3_client *c, s3_req *r, err_t *e) {
    char path[S3_KEY_MAX * 3 + S3_BUCKET_MAX + 8], ekey[S3_KEY_MAX * 3 + 1], url[4096 + 8192];
    char uri[S3_URI_MAX + 8], errbuf[CURL_ERROR_SIZE];
    int rc = 0;
    snprintf(uri, sizeof uri, "s3://%s/%s", r->bucket, r->key);
    if (s3_encode_key(r->key, ekey, sizeof ekey))
        return err_set(e, ERR_VALIDATION, "%.300s: key too long", uri);
    snprintf(path, sizeof path, "/%s/%s", r->bucket, ekey);
    if ((size_t)snprintf(url, sizeof url, "%s%s%s%s", c->cfg.endpoint, path,
                         r->query && r->query[0] ? "?" : "",
                         r->query ? r->query : "") >= sizeof url)
        return err_set(e, ERR_VALIDATION, "%.300s: request too long", uri);
    char hash[SIGV4_HEX_LEN + 1];
    if (r->body_len) {
        if (sigv4_sha256_hex(r->body, r->body_len, hash))
            return err_set(e, ERR_INTERNAL, "%.300s: cannot hash the body", uri);
    } else {
        snprintf(hash, sizeof hash, "%s", EMPTY_SHA256);
    }
    for (int attempt = 1;; attempt++) {
        char amz_date[SIGV4_DATE_LEN + 1], authz[SIGV4_AUTHZ_MAX], hbuf[6][S3_TOKEN_MAX + 64];
        const char *names[6], *values[6];
        size_t nh = 0;
        struct curl_slist *hl = NULL;
        CURL *h = c->curl;
        free(r->mem);
        r->mem = NULL;
        r->mem_len = r->sent = 0;
        r->written = 0;
        r->status = 0;
        r->over_cap = r->write_failed = 0;
        r->etag[0] = 0;
        r->content_length = -1;
        if (sigv4_format_date(time(NULL), amz_date))
            return err_set(e, ERR_INTERNAL, "clock out of range");
        names[nh] = "host", values[nh++] = c->host;
        if (r->range)
            names[nh] = "range", values[nh++] = r->range;
        names[nh] = "x-amz-content-sha256", values[nh++] = hash;
        names[nh] = "x-amz-date", values[nh++] = amz_date;
        if (c->cfg.token[0])
            names[nh] = "x-amz-security-token", values[nh++] = c->cfg.token;
        for (size_t i = 0; i < nh; i++) {
            snprintf(hbuf[i], sizeof hbuf[i], "%s: %s", names[i], values[i]);
            hl = curl_slist_append(hl, hbuf[i]);
        }
        if (c->cfg.key_id[0]) {
            char line[SIGV4_AUTHZ_MAX + 32];
            if (s3_sign(r->method, path, r->query ? r->query : "", names, values, nh, hash,
                        amz_date, c->cfg.region, c->cfg.key_id, c->cfg.secret, authz,
                        sizeof authz)) {
                curl_slist_free_all(hl);
                return err_set(e, ERR_INTERNAL, "%.300s: cannot sign the request", uri);
            }
            snprintf(line, sizeof line, "Authorization: %s", authz);
            hl = curl_slist_append(hl, line);
        }
        if (r->content_type) {
            char ct[128];
            snprintf(ct, sizeof ct, "Content-Type: %s", r->content_type);
            hl = curl_slist_append(hl, ct);
        }
        hl = curl_slist_append(hl, "Expect:");
        curl_easy_reset(h);
        errbuf[0] = 0;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)S3_CONNECT_TIMEOUT_S);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)S3_LOW_SPEED_TIME_S);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
        if (!strcmp(r->method, "HEAD")) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, r);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
        } else if (strcmp(r->method, "GET")) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        }
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        r->status = status;
        curl_slist_free_all(hl);
        if (cc == CURLE_OK && status >= 200 && status < 300)
            return 0;
        int transient =
            cc != CURLE_OK ? !r->write_failed && !r->over_cap : (status == 500 || status == 503);
        if (transient && attempt < S3_ATTEMPTS) {
            usleep((useconds_t)(100000 * attempt));
            continue;
        }
        if (r->write_failed)
            rc = err_set(e, ERR_INTERNAL, "cannot %s %.300s: write: %s", verb(r->method), uri,
                         strerror(r->write_failed));
        else if (r->over_cap)
            rc = err_set(e, ERR_VALIDATION, "cannot %s %.300s: the answer is larger than %zu bytes",
                         verb(r->method), uri, r->mem_cap);
        else if (cc != CURLE_OK)
            rc = err_set(e, ERR_UNAVAILABLE, "cannot %s %.300s: %s (%s)", verb(r->method), uri,
                         errbuf[0] ? errbuf : curl_easy_strerror(cc), c->cfg.endpoint);
        else {
            char why[S3_ERROR_MAX];
            describe_error(r, why, sizeof why);
            rc = err_set(e, status == 404 ? ERR_NOT_FOUND : ERR_VALIDATION, "cannot %s %.300s: %s",
                         verb(r->method), uri, why);
        }
        return rc;
    }
}

static void req_done(s3_req *r) {
    free(r->mem);
    r->mem = NULL;
}

/* ---------- XML ---------- */

static const xmlNode *child(const xmlNode *n, const char *name) {
    for (const xmlNode *k = n ? n->children : NULL; k; k = k->next)
        if (k->type == XML_ELEMENT_NODE && !strcmp((const char *)k->name, name))
            return k;
    return NULL;
}

static char *text_of(const xmlNode *n) {
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    char *s = t ? strdup((const char *)t) : NULL;
    xmlFree(t);
    return s;
}

static xmlDoc *parse_xml(const char *xml, size_t n) {
    return xmlReadMemory(xml, (int)n, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* Depth-first search for the first element `tag`. */
static const xmlNode *find(const xmlNode *n, const char *tag) {
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, tag))
            return n;
        const xmlNode *f = find(n->children, tag);
        if (f)
            return f;
    }
    return NULL;
}

static char *xml_first(const char *xml, size_t n, const char *tag) {
    xmlDoc *d = parse_xml(xml, n);
    char *s = d ? text_of(find(xmlDocGetRootElement(d), tag)) : NULL;
    xmlFreeDoc(d);
    return s;
}

/* ---------- operations ---------- */

int s3_head(s3_client *c, const char *bucket, const char *key, int64_t *size, err_t *e) {
    s3_req r = {.method = "HEAD", .bucket = bucket, .key = key, .fd = -1};
    int rc = run(c, &r, e);
    if (!rc && size)
        *size = r.content_length;
    req_done(&r);
    return rc;
}

int s3_get_to_fd(s3_client *c, const char *bucket, const char *key, int64_t off, int64_t len,
                 int fd, int64_t fd_off, int64_t *got, err_t *e) {
    char range[64];
    int whole = off == 0 && len < 0;
    if (len < 0)
        snprintf(range, sizeof range, "bytes=%lld-", (long long)off);
    else
        snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)off,
                 (long long)(off + len - 1));
    if (len == 0) {
        if (got)
            *got = 0;
        return 0;
    }
    s3_req r = {.method = "GET",
                .bucket = bucket,
                .key = key,
                .range = whole ? NULL : range,
                .fd = fd,
                .fd_off = fd_off};
    int rc = run(c, &r, e);
    if (!rc && len >= 0 && r.written != len)
        rc = err_set(e, ERR_UNAVAILABLE, "cannot fetch s3://%s/%.300s: %lld of %lld bytes received",
                     bucket, key, (long long)r.written, (long long)len);
    if (got)
        *got = r.written;
    req_done(&r);
    return rc;
}

int s3_get_mem(s3_client *c, const char *bucket, const char *key, size_t cap, char **out, size_t *n,
               err_t *e) {
    s3_req r = {.method = "GET", .bucket = bucket, .key = key, .fd = -1, .mem_cap = cap};
    int rc = run(c, &r, e);
    *out = NULL;
    *n = 0;
    if (!rc) {
        *out = r.mem ? r.mem : strdup("");
        *n = r.mem_len;
        r.mem = NULL;
        if (!*out)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
    }
    req_done(&r);
    return rc;
}

void s3_objects_free(s3_object *objs, size_t n) {
    for (size_t i = 0; objs && i < n; i++)
        free(objs[i].key);
    free(objs);
}

int s3_list(s3_client *c, const char *bucket, const char *prefix, size_t max, s3_object **objs,
            size_t *n, err_t *e) {
    char eprefix[S3_KEY_MAX * 3 + 1], query[4 * S3_KEY_MAX + 3 * S3_UPLOAD_ID_MAX];
    char *token = NULL, etoken[3 * S3_UPLOAD_ID_MAX + 1];
    s3_object *v = NULL;
    size_t nv = 0;
    int rc = 0;
    if (max > S3_LIST_MAX)
        max = S3_LIST_MAX;
    *objs = NULL;
    *n = 0;
    if (encode(prefix, 0, eprefix, sizeof eprefix))
        return err_set(e, ERR_VALIDATION, "s3://%s/%.300s: prefix too long", bucket, prefix);
    for (;;) {
        if (token && encode(token, 0, etoken, sizeof etoken)) {
            rc = err_set(e, ERR_VALIDATION, "s3://%s/%.300s: continuation token too long", bucket,
                         prefix);
            goto out;
        }
        /* sorted by name, as the canonical query must be */
        snprintf(query, sizeof query, "%s%s%slist-type=2&max-keys=1000&prefix=%s",
                 token ? "continuation-token=" : "", token ? etoken : "", token ? "&" : "",
                 eprefix);
        s3_req r = {.method = "GET",
                    .bucket = bucket,
                    .key = "",
                    .query = query,
                    .fd = -1,
                    .mem_cap = S3_XML_BODY_MAX};
        if ((rc = run(c, &r, e))) {
            /* name the listed prefix, not the bucket's root */
            char m[ERR_MSG_MAX];
            const char *why = strstr(e->msg, ": ");
            snprintf(m, sizeof m, "cannot fetch s3://%s/%.300s%s", bucket, prefix, why ? why : "");
            snprintf(e->msg, sizeof e->msg, "%s", m);
            req_done(&r);
            goto out;
        }
        xmlDoc *d = parse_xml(r.mem ? r.mem : "", r.mem_len);
        req_done(&r);
        const xmlNode *root = d ? xmlDocGetRootElement(d) : NULL;
        if (!root || strcmp((const char *)root->name, "ListBucketResult")) {
            xmlFreeDoc(d);
            rc = err_set(e, ERR_VALIDATION,
                         "cannot fetch s3://%s/%.300s: not a ListObjectsV2 answer", bucket, prefix);
            goto out;
        }
        for (const xmlNode *k = root->children; k; k = k->next) {
            if (k->type != XML_ELEMENT_NODE || strcmp((const char *)k->name, "Contents"))
                continue;
            if (nv >= max) {
                xmlFreeDoc(d);
                rc = err_set(e, ERR_VALIDATION, "s3://%s/%.300s: more than %zu objects", bucket,
                             prefix, max);
                goto out;
            }
            char *key = text_of(child(k, "Key")), *size = text_of(child(k, "Size"));
            s3_object *nvp = key ? realloc(v, (nv + 1) * sizeof *v) : NULL;
            if (!nvp) {
                free(key);
                free(size);
                xmlFreeDoc(d);
                rc = err_set(e, ERR_INTERNAL, "out of memory");
                goto out;
            }
            v = nvp;
            v[nv].key = key;
            v[nv++].size = size ? strtoll(size, NULL, 10) : -1;
            free(size);
        }
        char *trunc = text_of(child(root, "IsTruncated"));
        free(token);
        token =
            trunc && !strcmp(trunc, "true") ? text_of(child(root, "NextContinuationToken")) : NULL;
        free(trunc);
        xmlFreeDoc(d);
        if (!token)
            break;
    }
out:
    free(token);
    if (rc) {
        s3_objects_free(v, nv);
        return rc;
    }
    *objs = v;
    *n = nv;
    return 0;
}

int s3_put(s3_client *c, const char *bucket, const char *key, const void *data, size_t n,
           err_t *e) {
    s3_req r = {.method = "PUT",
                .bucket = bucket,
                .key = key,
                .body = data,
                .body_len = n,
                .fd = -1,
                .mem_cap = S3_ERROR_BODY_MAX};
    int rc = run(c, &r, e);
    req_done(&r);
    return rc;
}

int s3_mpu_create(s3_client *c, const char *bucket, const char *key, char *upload_id, err_t *e) {
    s3_req r = {.method = "POST",
                .bucket = bucket,
                .key = key,
                .query = "uploads=",
                .fd = -1,
                .mem_cap = S3_XML_BODY_MAX};
    int rc = run(c, &r, e);
    if (!rc) {
        char *id = xml_first(r.mem ? r.mem : "", r.mem_len, "UploadId");
        if (!id || !id[0] || strlen(id) >= S3_UPLOAD_ID_MAX)
            rc = err_set(e, ERR_VALIDATION, "cannot store s3://%s/%.300s: no usable UploadId",
                         bucket, key);
        else
            snprintf(upload_id, S3_UPLOAD_ID_MAX, "%s", id);
        free(id);
    }
    req_done(&r);
    return rc;
}

int s3_mpu_part(s3_client *c, const char *bucket, const char *key, const char *upload_id, int part,
                const void *data, size_t n, char *etag, err_t *e) {
    char eid[3 * S3_UPLOAD_ID_MAX + 1], query[3 * S3_UPLOAD_ID_MAX + 64];
    if (encode(upload_id, 0, eid, sizeof eid))
        return err_set(e, ERR_VALIDATION, "upload id too long");
    snprintf(query, sizeof query, "partNumber=%d&uploadId=%s", part, eid);
    s3_req r = {.method = "PUT",
                .bucket = bucket,
                .key = key,
                .query = query,
                .body = data,
                .body_len = n,
                .fd = -1,
                .mem_cap = S3_ERROR_BODY_MAX};
    int rc = run(c, &r, e);
    if (!rc && !r.etag[0])
        rc = err_set(e, ERR_VALIDATION, "cannot store s3://%s/%.300s: part %d has no ETag", bucket,
                     key, part);
    if (!rc)
        snprintf(etag, S3_ETAG_MAX, "%s", r.etag);
    req_done(&r);
    return rc;
}

int s3_mpu_complete(s3_client *c, const char *bucket, const char *key, const char *upload_id,
                    char (*etags)[S3_ETAG_MAX], int nparts, err_t *e) {
    char eid[3 * S3_UPLOAD_ID_MAX + 1], query[3 * S3_UPLOAD_ID_MAX + 64];
    if (encode(upload_id, 0, eid, sizeof eid))
        return err_set(e, ERR_VALIDATION, "upload id too long");
    snprintf(query, sizeof query, "uploadId=%s", eid);
    size_t cap = 128 + (size_t)nparts * (S3_ETAG_MAX + 64), len = 0;
    char *body = malloc(cap);
    if (!body)
        return err_set(e, ERR_INTERNAL, "out of memory");
    len += (size_t)snprintf(body + len, cap - len, "<CompleteMultipartUpload>");
    for (int i = 0; i < nparts; i++) {
        char esc[2 * S3_ETAG_MAX];
        size_t j = 0;
        for (const char *p = etags[i]; *p && j + 7 < sizeof esc; p++) {
            if (*p == '"') {
                memcpy(esc + j, "&quot;", 6);
                j += 6;
            } else if (*p == '&' || *p == '<' || *p == '>') {
                continue;
            } else {
                esc[j++] = *p;
            }
        }
        esc[j] = 0;
        len +=
            (size_t)snprintf(body + len, cap - len,
                             "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1, esc);
    }
    len += (size_t)snprintf(body + len, cap - len, "</CompleteMultipartUpload>");
    s3_req r = {.method = "POST",
                .bucket = bucket,
                .key = key,
                .query = query,
                .body = body,
                .body_len = len,
                .content_type = "application/xml",
                .fd = -1,
                .mem_cap = S3_XML_BODY_MAX};
    int rc = run(c, &r, e);
    if (!rc && r.mem && strstr(r.mem, "<Error>")) { /* S3 may fail a Complete with a 200 */
        r.status = 500;
        char why[S3_ERROR_MAX];
        describe_error(&r, why, sizeof why);
        rc = err_set(e, ERR_UNAVAILABLE, "cannot store s3://%s/%.300s: %s", bucket, key, why);
    }
    req_done(&r);
    free(body);
    return rc;
}

int s3_mpu_abort(s3_client *c, const char *bucket, const char *key, const char *upload_id,
                 err_t *e) {
    char eid[3 * S3_UPLOAD_ID_MAX + 1], query[3 * S3_UPLOAD_ID_MAX + 64];
    if (encode(upload_id, 0, eid, sizeof eid))
        return err_set(e, ERR_VALIDATION, "upload id too long");
    snprintf(query, sizeof query, "uploadId=%s", eid);
    s3_req r = {.method = "DELETE",
                .bucket = bucket,
                .key = key,
                .query = query,
                .fd = -1,
                .mem_cap = S3_ERROR_BODY_MAX};
    int rc = run(c, &r, e);
    req_done(&r);
    return rc;
}

/* Reads up to n bytes at off into buf; the count, or -1. */
static ssize_t read_at(int fd, void *buf, size_t n, off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int s3_put_file(s3_client *c, const char *bucket, const char *key, const char *path, int *parts,
                err_t *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0, np = 0;
    char *buf = NULL, id[S3_UPLOAD_ID_MAX] = "", (*etags)[S3_ETAG_MAX] = NULL;
    struct stat st;
    if (parts)
        *parts = 0;
    if (fd < 0 || fstat(fd, &st)) {
        rc = err_set(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    int64_t size = st.st_size;
    size_t chunk = size > S3_PART_SIZE ? S3_PART_SIZE : (size_t)size;
    if (!(buf = malloc(chunk ? chunk : 1))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (size <= S3_PART_SIZE) {
        if (read_at(fd, buf, chunk, 0) != (ssize_t)chunk) {
            rc = err_set(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        rc = s3_put(c, bucket, key, buf, chunk, e);
        goto out;
    }
    int64_t total = (size + S3_PART_SIZE - 1) / S3_PART_SIZE;
    if (total > S3_PARTS_MAX) {
        rc = err_set(e, ERR_VALIDATION, "cannot store s3://%s/%.300s: %s needs more than %d parts",
                     bucket, key, path, S3_PARTS_MAX);
        goto out;
    }
    if (!(etags = calloc((size_t)total, sizeof *etags))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = s3_mpu_create(c, bucket, key, id, e)))
        goto out;
    for (np = 0; np < total; np++) {
        int64_t off = (int64_t)np * S3_PART_SIZE;
        size_t len = size - off > S3_PART_SIZE ? S3_PART_SIZE : (size_t)(size - off);
        if (read_at(fd, buf, len, (off_t)off) != (ssize_t)len) {
            rc = err_set(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if ((rc = s3_mpu_part(c, bucket, key, id, np + 1, buf, len, etags[np], e)))
            break;
    }
    if (!rc)
        rc = s3_mpu_complete(c, bucket, key, id, etags, np, e);
    if (rc) {
        err_t ignored = {0};
        s3_mpu_abort(c, bucket, key, id, &ignored); /* best effort: e keeps the cause */
    } else if (parts) {
        *parts = np;
    }
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(etags);
    return rc;
}
