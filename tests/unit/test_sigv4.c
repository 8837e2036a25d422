/* sigv4: AWS's published SigV4 test suite (tests/unit/data/sigv4/aws, service
 * "service", region us-east-1, key AKIDEXAMPLE, 20150830T123600Z), requests
 * signed by botocore (data/sigv4/botocore-*, see gen_botocore.py), and every
 * way verification can fail, each mapped to its err.h code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "sigv4.h"

#define AWS_AKID "AKIDEXAMPLE"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define AWS_TIME ((time_t)1440938160) /* 20150830T123600Z */
#define BOTO_AKID "AKIAIOSFODNN7EXAMPLE"
#define BOTO_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define BOTO_TIME ((time_t)1705314600) /* 20240115T103000Z */
#define ACCOUNT "123456789012"
#define MAXH 64

/* ---- fixtures ------------------------------------------------------------ */

static char *data_path(const char *name) {
    static char buf[1024]; /* tests are single-threaded */
    const char *file = __FILE__, *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(buf, sizeof buf, "%.*s/data/sigv4/%s", dir, slash ? file : ".", name);
    return buf;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* A parsed .sreq: request line, "Name:value" lines, blank line, body. */
typedef struct {
    char *text;
    char method[16];
    char *path, *query;
    sigv4_header h[MAXH];
    size_t nh;
    char *body;
    size_t body_len;
} msg;

static void parse_msg(msg *m, char *text) {
    memset(m, 0, sizeof *m);
    m->text = text;
    char *eol = strchr(text, '\n');
    if (eol)
        *eol = '\0';
    char *sp1 = strchr(text, ' '), *sp2 = strrchr(text, ' ');
    assert_true(sp1 && sp2 && sp1 < sp2);
    snprintf(m->method, sizeof m->method, "%.*s", (int)(sp1 - text), text);
    *sp2 = '\0';
    m->path = sp1 + 1;
    char *q = strchr(m->path, '?');
    if (q) {
        *q = '\0';
        m->query = q + 1;
    }
    char *p = eol ? eol + 1 : NULL;
    while (p && *p && *p != '\n') {
        eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        char *colon = strchr(p, ':');
        assert_non_null(colon);
        *colon = '\0';
        assert_true(m->nh < MAXH);
        m->h[m->nh].name = p;
        m->h[m->nh].value = colon + 1;
        m->nh++;
        p = eol ? eol + 1 : NULL;
    }
    if (p && *p == '\n') {
        m->body = p + 1;
        m->body_len = strlen(m->body);
    }
}

static msg *load_msg(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "%s.sreq", name);
    msg *m = malloc(sizeof *m);
    assert_non_null(m);
    parse_msg(m, slurp(data_path(file), NULL));
    return m;
}

static void free_msg(msg *m) {
    if (m)
        free(m->text);
    free(m);
}

static sigv4_request req_of(const msg *m) {
    sigv4_request r = {m->method, m->path, m->query, m->h, m->nh, m->body, m->body_len};
    return r;
}

static sigv4_header *find_header(msg *m, const char *name) {
    for (size_t i = 0; i < m->nh; i++)
        if (!strcasecmp(m->h[i].name, name))
            return &m->h[i];
    return NULL;
}

static void drop_header(msg *m, const char *name) {
    sigv4_header *h = find_header(m, name);
    if (!h)
        return;
    size_t i = (size_t)(h - m->h);
    memmove(&m->h[i], &m->h[i + 1], (m->nh - i - 1) * sizeof *h);
    m->nh--;
}

/* A key store of one key. */
typedef struct {
    const char *akid, *secret, *account;
    err_code fail; /* returned instead, when set */
    int calls;
} store;

static err_code lookup(void *ctx, const char *akid, const char **secret, const char **account) {
    store *s = ctx;
    s->calls++;
    if (s->fail)
        return s->fail;
    if (strcmp(akid, s->akid))
        return ERR_SIG_UNKNOWN_KEY;
    *secret = s->secret;
    *account = s->account;
    return ERR_OK;
}

static store aws_store = {AWS_AKID, AWS_SECRET, ACCOUNT, ERR_OK, 0};
static const char *const aws_regions[] = {"us-east-1"};
static const char *const boto_regions[] = {"us-east-1", "us-west-2"};

static sigv4_verifier aws_verifier(store *s) {
    sigv4_verifier v = {"service", aws_regions, 1, lookup, s};
    return v;
}

static sigv4_verifier boto_verifier(store *s) {
    sigv4_verifier v = {"sagemaker", boto_regions, 2, lookup, s};
    return v;
}

static err_code verify(const sigv4_verifier *v, const msg *m, time_t now, err_t *e) {
    sigv4_request r = req_of(m);
    return sigv4_verify(v, &r, now, NULL, e);
}

/* Copies the SignedHeaders list out of an Authorization value. */
static void signed_headers_of(const char *authz, char *out, size_t cap) {
    const char *p = strstr(authz, "SignedHeaders=");
    assert_non_null(p);
    p += strlen("SignedHeaders=");
    size_t n = strcspn(p, ", ");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* ---- AWS test suite ------------------------------------------------------ */

static void check_aws_vector(const char *name) {
    char file[256], list[1024], sts[512], sig[SIGV4_HEX_LEN + 1], authz[SIGV4_AUTHZ_MAX];
    char *creq = malloc(SIGV4_CANONICAL_MAX);
    err_t e = {0};
    store s = aws_store;
    sigv4_verifier v = aws_verifier(&s);
    msg *m = load_msg(name);
    sigv4_request r = req_of(m);
    const sigv4_header *az = find_header(m, "authorization");
    assert_non_null(az);
    print_message("  %s\n", name);

    /* Canonical request and string to sign, step by step. */
    signed_headers_of(az->value, list, sizeof list);
    assert_int_equal(sigv4_canonical_request(&r, list, NULL, 0, creq, SIGV4_CANONICAL_MAX, &e),
                     ERR_OK);
    snprintf(file, sizeof file, "%s.creq", name);
    char *want = slurp(data_path(file), NULL);
    assert_string_equal(creq, want);
    free(want);
    assert_int_equal(
        sigv4_string_to_sign("20150830T123600Z", "us-east-1", "service", creq, sts, sizeof sts, &e),
        ERR_OK);
    snprintf(file, sizeof file, "%s.sts", name);
    want = slurp(data_path(file), NULL);
    assert_string_equal(sts, want);
    free(want);
    assert_int_equal(sigv4_signature(AWS_SECRET, "20150830", "us-east-1", "service", sts, sig), 0);
    assert_non_null(strstr(az->value, sig));

    int after = strstr(name, "post-sts-header-after") != NULL;
    /* The verifier: accepts it (but a token that is not signed is refused). */
    err_code rc = verify(&v, m, AWS_TIME, &e);
    assert_int_equal(rc, after ? ERR_SIG_INCOMPLETE : ERR_OK);

    /* The signer: signing every header reproduces the suite's Authorization. */
    if (!after) {
        msg *u = load_msg(name);
        drop_header(u, "authorization");
        sigv4_request ur = req_of(u);
        assert_int_equal(
            sigv4_sign(&ur, AWS_AKID, AWS_SECRET, "us-east-1", "service", authz, sizeof authz, &e),
            ERR_OK);
        const char *given = az->value;
        while (*given == ' ')
            given++;
        assert_string_equal(authz, given);
        free_msg(u);
    }

    if (!after) {
        /* Tampering: another signature, another body, a changed signed header. */
        sigv4_header *hz = find_header(m, "authorization");
        char bad[SIGV4_AUTHZ_MAX];
        const char *orig = hz->value;
        snprintf(bad, sizeof bad, "%s", orig);
        char *last = bad + strlen(bad) - 1;
        *last = *last == '0' ? '1' : '0';
        hz->value = bad;
        assert_int_equal(verify(&v, m, AWS_TIME, &e), ERR_SIG_INVALID);
        hz->value = orig;
        if (m->body_len) {
            m->body[0] ^= 1;
            assert_int_equal(verify(&v, m, AWS_TIME, &e), ERR_SIG_INVALID);
            m->body[0] ^= 1;
        }
        sigv4_header *hh = find_header(m, "host");
        const char *host = hh->value;
        hh->value = "example.amazonaws.org";
        assert_int_equal(verify(&v, m, AWS_TIME, &e), ERR_SIG_INVALID);
        hh->value = host;
        assert_int_equal(verify(&v, m, AWS_TIME, &e), ERR_OK);
    }
    free_msg(m);
    free(creq);
}

static void test_aws_suite(void **unused) {
    char *index = slurp(data_path("aws/INDEX"), NULL), *save = NULL;
    int n = 0;
    for (char *name = strtok_r(index, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
        char path[256];
        snprintf(path, sizeof path, "aws/%s", name);
        check_aws_vector(path);
        n++;
    }
    assert_int_equal(n, 27);
    free(index);
}

/* ---- botocore ------------------------------------------------------------ */

static store boto_store = {BOTO_AKID, BOTO_SECRET, ACCOUNT, ERR_OK, 0};

static void check_boto_vector(const char *name) {
    char file[256], list[1024], authz[SIGV4_AUTHZ_MAX];
    char *creq = malloc(SIGV4_CANONICAL_MAX);
    err_t e = {0};
    store s = boto_store;
    sigv4_verifier v = boto_verifier(&s);
    sigv4_identity id;
    msg *m = load_msg(name);
    sigv4_request r = req_of(m);
    print_message("  %s\n", name);

    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, &id, &e), ERR_OK);
    assert_string_equal(id.access_key_id, BOTO_AKID);
    assert_string_equal(id.account_id, ACCOUNT);
    assert_string_equal(id.region, "us-west-2");
    assert_true(id.signed_at == BOTO_TIME);
    assert_int_equal(id.has_session_token, find_header(m, "x-amz-security-token") != NULL);

    const sigv4_header *az = find_header(m, "authorization");
    signed_headers_of(az->value, list, sizeof list);
    assert_int_equal(sigv4_canonical_request(&r, list, NULL, 0, creq, SIGV4_CANONICAL_MAX, &e),
                     ERR_OK);
    snprintf(file, sizeof file, "%s.creq", name);
    char *want = slurp(data_path(file), NULL);
    assert_string_equal(creq, want);
    free(want);

    /* Any one-byte change to the body, path or query is caught. */
    for (size_t i = 0; i < m->body_len; i++) {
        m->body[i] ^= 0x20;
        assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INVALID);
        m->body[i] ^= 0x20;
    }
    for (char *p = m->path; *p; p++) {
        if (*p == '/' || *p == '.') /* "//" and "/./" normalise away */
            continue;
        *p ^= 0x01;
        assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INVALID);
        *p ^= 0x01;
    }
    for (char *p = m->query; p && *p; p++) {
        if (*p == '&' || *p == '=')
            continue;
        *p ^= 0x01;
        assert_int_not_equal(verify(&v, m, BOTO_TIME, &e), ERR_OK);
        *p ^= 0x01;
    }
    /* A dropped body byte too. */
    if (m->body_len) {
        m->body_len--;
        assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INVALID);
        m->body_len++;
    }
    /* Unsigned headers may change freely. */
    sigv4_header *ua = find_header(m, "user-agent");
    ua->value = "curl/8.0";
    assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_OK);
    /* A signed one may not. */
    sigv4_header *tg = find_header(m, "x-amz-target");
    tg->value = "SageMaker.DeleteHyperParameterTuningJob";
    assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INVALID);
    free_msg(m);

    /* Our signer, given what botocore signed, produces botocore's header. */
    m = load_msg(name);
    const char *want_authz = find_header(m, "authorization")->value;
    drop_header(m, "authorization");
    drop_header(m, "content-length"); /* added after signing */
    r = req_of(m);
    assert_int_equal(
        sigv4_sign(&r, BOTO_AKID, BOTO_SECRET, "us-west-2", "sagemaker", authz, sizeof authz, &e),
        ERR_OK);
    assert_string_equal(authz, want_authz);
    free_msg(m);
    free(creq);
}

static void test_botocore(void **unused) {
    check_boto_vector("botocore-create-tuning-job");
    check_boto_vector("botocore-session-token");
    check_boto_vector("botocore-path-query");
}

static void test_botocore_presigned(void **unused) {
    err_t e = {0};
    store s = boto_store;
    sigv4_verifier v = boto_verifier(&s);
    sigv4_identity id;
    msg *m = load_msg("botocore-presigned");
    sigv4_request r = req_of(m);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, &id, &e), ERR_OK);
    assert_string_equal(id.access_key_id, BOTO_AKID);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME + 300, NULL, &e), ERR_OK);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME + 301, NULL, &e), ERR_SIG_EXPIRED);
    assert_non_null(strstr(e.msg, "expired"));
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME - 900, NULL, &e), ERR_OK);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME - 901, NULL, &e), ERR_SIG_EXPIRED);
    assert_non_null(strstr(e.msg, "not yet current"));

    /* Tampered query. */
    char *act = strstr(m->query, "ListThings");
    act[0] = 'M';
    assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INVALID);
    act[0] = 'L';
    char *sig = strstr(m->query, "X-Amz-Signature=") + strlen("X-Amz-Signature=");
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INVALID);
    free_msg(m);

    /* Missing X-Amz-Expires; both mechanisms at once. */
    m = load_msg("botocore-presigned");
    char *ex = strstr(m->query, "X-Amz-Expires");
    ex[6] = 'Y';
    assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    ex[6] = 'E';
    assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_OK);
    m->h[m->nh].name = "Authorization";
    m->h[m->nh].value = "AWS4-HMAC-SHA256 Credential=x";
    m->nh++;
    assert_int_equal(verify(&v, m, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    free_msg(m);
}

/* ---- every failure, on a request we sign ourselves ------------------------ */

#define BODY "{\"HyperParameterTuningJobName\":\"t1\"}"

typedef struct {
    sigv4_header h[MAXH];
    size_t nh;
    char authz[SIGV4_AUTHZ_MAX];
    char body[256];
    size_t body_len;
    const char *path, *query;
} fixture;

static void add(fixture *f, const char *name, const char *value) {
    assert_true(f->nh < MAXH);
    f->h[f->nh].name = name;
    f->h[f->nh].value = value;
    f->nh++;
}

static sigv4_request freq(fixture *f) {
    sigv4_request r = {"POST", f->path, f->query, f->h, f->nh, f->body, f->body_len};
    return r;
}

/* A SageMaker JSON request made at `date`, signed with `secret`, plus its
 * Authorization header (last). */
static void make(fixture *f, const char *date, const char *secret) {
    memset(f, 0, sizeof *f);
    f->path = "/";
    snprintf(f->body, sizeof f->body, "%s", BODY);
    f->body_len = strlen(BODY);
    add(f, "Host", "localhost:8080");
    add(f, "Content-Type", "application/x-amz-json-1.1");
    add(f, "X-Amz-Target", "SageMaker.DescribeHyperParameterTuningJob");
    add(f, "X-Amz-Date", date);
    sigv4_request r = freq(f);
    err_t e;
    assert_int_equal(
        sigv4_sign(&r, BOTO_AKID, secret, "us-west-2", "sagemaker", f->authz, sizeof f->authz, &e),
        ERR_OK);
    add(f, "Authorization", f->authz);
}

static err_code fverify(fixture *f, time_t now, err_t *e) {
    store s = boto_store;
    sigv4_verifier v = boto_verifier(&s);
    sigv4_request r = freq(f);
    return sigv4_verify(&v, &r, now, NULL, e);
}

static err_code with_authz(fixture *f, const char *authz, err_t *e) {
    f->h[f->nh - 1].value = authz;
    return fverify(f, BOTO_TIME, e);
}

static void test_missing(void **unused) {
    fixture f;
    err_t e = {0};
    make(&f, "20240115T103000Z", BOTO_SECRET);
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_OK);
    f.nh--; /* no Authorization */
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_MISSING);
    assert_string_equal(e.msg, "Missing Authentication Token");
    f.query = "Action=x&Foo=bar"; /* a query without auth parameters */
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_MISSING);
}

static void test_incomplete(void **unused) {
    fixture f;
    err_t e = {0};
    const char *cred = "Credential=" BOTO_AKID "/20240115/us-west-2/sagemaker/aws4_request";
    const char *sh = "SignedHeaders=content-type;host;x-amz-date;x-amz-target";
    const char *sig = "Signature=" /* 64 hex */
                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char buf[1024];
    make(&f, "20240115T103000Z", BOTO_SECRET);
    static const char *const bad[] = {
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        "Bearer abc",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=" BOTO_AKID "/20240115/us-west-2/sagemaker, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "AWS4-HMAC-SHA256 Credential=" BOTO_AKID "/2024011/us-west-2/sagemaker/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "AWS4-HMAC-SHA256 Credential=" BOTO_AKID "/20240115/us-west-2/sagemaker/aws4_request/x, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "AWS4-HMAC-SHA256 Credential=/20240115/us-west-2/sagemaker/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(with_authz(&f, bad[i], &e), ERR_SIG_INCOMPLETE);
    }
    /* Each part missing, repeated, malformed or unknown. */
    const char *fmt[] = {
        "AWS4-HMAC-SHA256 %s, %s",           "AWS4-HMAC-SHA256 %s, %s, %s, %s",
        "AWS4-HMAC-SHA256 %s, %s, %s, X=1",  "AWS4-HMAC-SHA256 %s, %s, %s,",
        "AWS4-HMAC-SHA256 %s, %s, %s, junk",
    };
    snprintf(buf, sizeof buf, fmt[0], cred, sh);
    assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    assert_non_null(strstr(e.msg, "requires 'Signature'"));
    snprintf(buf, sizeof buf, fmt[0], sh, sig);
    assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    assert_non_null(strstr(e.msg, "requires 'Credential'"));
    snprintf(buf, sizeof buf, fmt[0], cred, sig);
    assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    assert_non_null(strstr(e.msg, "requires 'SignedHeaders'"));
    snprintf(buf, sizeof buf, fmt[1], cred, sh, sig, sig);
    assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    for (int i = 2; i < 5; i++) {
        snprintf(buf, sizeof buf, fmt[i], cred, sh, sig);
        assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    }
    /* Signature not 64 hex digits. */
    snprintf(buf, sizeof buf, "AWS4-HMAC-SHA256 %s, %s, %.*s", cred, sh, (int)strlen(sig) - 1, sig);
    assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    snprintf(buf, sizeof buf, "AWS4-HMAC-SHA256 %s, %s, %.*sg", cred, sh, (int)strlen(sig) - 1,
             sig);
    assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    /* The well-formed header with a wrong signature is merely invalid; compact
     * spacing is fine. */
    snprintf(buf, sizeof buf, "AWS4-HMAC-SHA256 %s,%s,%s", cred, sh, sig);
    assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INVALID);
    /* Host not signed; X-Amz-Date not signed; bad lists. */
    static const char *const lists[] = {"content-type;x-amz-date;x-amz-target",
                                        "content-type;host;x-amz-target",
                                        "content-type;x-amz-target;host;x-amz-date",
                                        "content-type;host;host;x-amz-date",
                                        "Content-Type;host;x-amz-date",
                                        "content-type;;host;x-amz-date",
                                        ""};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        snprintf(buf, sizeof buf, "AWS4-HMAC-SHA256 %s, SignedHeaders=%s, %s", cred, lists[i], sig);
        assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INCOMPLETE);
    }
    snprintf(buf, sizeof buf, "AWS4-HMAC-SHA256 %s, SignedHeaders=%s, %s", cred, lists[0], sig);
    with_authz(&f, buf, &e);
    assert_string_equal(
        e.msg, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    /* Too long. */
    char *huge = malloc(SIGV4_AUTHZ_MAX + 100);
    memset(huge, 'a', SIGV4_AUTHZ_MAX + 99);
    memcpy(huge, "AWS4-HMAC-SHA256 Credential=", 28);
    huge[SIGV4_AUTHZ_MAX + 99] = '\0';
    assert_int_equal(with_authz(&f, huge, &e), ERR_SIG_INCOMPLETE);
    free(huge);
}

static void test_headers(void **unused) {
    fixture f;
    err_t e = {0};
    /* No date at all. */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    f.h[3].name = "X-Amz-Dat";
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    assert_non_null(strstr(e.msg, "'X-Amz-Date' or a 'Date'"));
    /* A malformed X-Amz-Date. */
    static const char *const dates[] = {"2024-01-15T10:30:00Z", "20240115T103000",
                                        "20240115t103000Z",     "20241315T103000Z",
                                        "20240115T103000Z ",    ""};
    for (size_t i = 0; i < sizeof dates / sizeof *dates; i++) {
        make(&f, "20240115T103000Z", BOTO_SECRET);
        f.h[3].value = dates[i];
        assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    }
    /* Two X-Amz-Date headers; two Authorization headers. */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    add(&f, "x-amz-date", "20240115T103000Z");
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    make(&f, "20240115T103000Z", BOTO_SECRET);
    add(&f, "authorization", f.authz);
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    /* An unsigned security token. */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    add(&f, "X-Amz-Security-Token", "tok");
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    assert_non_null(strstr(e.msg, "X-Amz-Security-Token"));
    /* A signed header that is not there. */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    f.h[2].name = "X-Amz-Targe";
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INVALID);
    /* Header names in any case, values with extra blanks: same signature. */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    f.h[0].name = "HOST";
    f.h[1].name = "content-TYPE";
    f.h[1].value = "  application/x-amz-json-1.1\t ";
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_OK);
    /* Added unsigned headers do not matter. */
    add(&f, "X-Forwarded-For", "10.0.0.1");
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_OK);
    /* A changed signed header value does. */
    f.h[1].value = "application/json";
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INVALID);
    /* Signing with a security token. */
    memset(&f, 0, sizeof f);
    f.path = "/";
    add(&f, "Host", "h");
    add(&f, "X-Amz-Date", "20240115T103000Z");
    add(&f, "X-Amz-Security-Token", "session/token+=");
    sigv4_request r = freq(&f);
    assert_int_equal(sigv4_sign(&r, BOTO_AKID, BOTO_SECRET, "us-west-2", "sagemaker", f.authz,
                                sizeof f.authz, &e),
                     ERR_OK);
    assert_non_null(strstr(f.authz, "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
    add(&f, "Authorization", f.authz);
    store s = boto_store;
    sigv4_verifier v = boto_verifier(&s);
    sigv4_identity id;
    r = freq(&f);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, &id, &e), ERR_OK);
    assert_int_equal(id.has_session_token, 1);
}

static void test_content_sha256(void **unused) {
    fixture f;
    err_t e = {0};
    char hash[SIGV4_HEX_LEN + 1];
    assert_int_equal(sigv4_sha256_hex(BODY, strlen(BODY), hash), 0);
    memset(&f, 0, sizeof f);
    /* Signed and right. */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    f.nh--;
    add(&f, "X-Amz-Content-Sha256", hash);
    sigv4_request r = freq(&f);
    assert_int_equal(sigv4_sign(&r, BOTO_AKID, BOTO_SECRET, "us-west-2", "sagemaker", f.authz,
                                sizeof f.authz, &e),
                     ERR_OK);
    add(&f, "Authorization", f.authz);
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_OK);
    /* Right hash, body changed after. */
    f.body[2] = 'X';
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INVALID);
    assert_non_null(strstr(e.msg, "x-amz-content-sha256"));
    f.body[2] = 'H';
    /* UNSIGNED-PAYLOAD, or another hash, even unsigned. */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    add(&f, "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INVALID);
    assert_non_null(strstr(e.msg, "UNSIGNED-PAYLOAD"));
    make(&f, "20240115T103000Z", BOTO_SECRET);
    add(&f, "X-Amz-Content-Sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INVALID);
    /* The right hash, unsigned: fine (the body is covered by the signature). */
    make(&f, "20240115T103000Z", BOTO_SECRET);
    add(&f, "X-Amz-Content-Sha256", hash);
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_OK);
}

static void test_expiry(void **unused) {
    fixture f;
    err_t e = {0};
    make(&f, "20240115T103000Z", BOTO_SECRET);
    assert_int_equal(fverify(&f, BOTO_TIME + 900, &e), ERR_OK);
    assert_int_equal(fverify(&f, BOTO_TIME - 900, &e), ERR_OK);
    assert_int_equal(fverify(&f, BOTO_TIME + 901, &e), ERR_SIG_EXPIRED);
    assert_string_equal(e.msg, "Signature expired: 20240115T103000Z is now earlier than "
                               "20240115T103001Z (20240115T104501Z - 15 min.)");
    assert_int_equal(fverify(&f, BOTO_TIME - 901, &e), ERR_SIG_EXPIRED);
    assert_string_equal(e.msg, "Signature not yet current: 20240115T103000Z is still later than "
                               "20240115T102959Z (20240115T101459Z + 15 min.)");
    assert_int_equal(fverify(&f, BOTO_TIME + 86400 * 365, &e), ERR_SIG_EXPIRED);
}

static void test_scope(void **unused) {
    fixture f;
    err_t e = {0};
    char buf[1024];
    const char *rest = "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    make(&f, "20240115T103000Z", BOTO_SECRET);
    static const struct {
        const char *scope, *msg;
    } cases[] = {
        {"20240116/us-west-2/sagemaker/aws4_request", "Date in Credential scope"},
        {"20240115/eu-west-1/sagemaker/aws4_request", "valid region, not 'eu-west-1'"},
        {"20240115/us-west-2/s3/aws4_request", "correct service: 'sagemaker'"},
        {"20240115/us-west-2/sagemaker/aws5_request", "valid terminator"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(buf, sizeof buf, "AWS4-HMAC-SHA256 Credential=%s/%s, %s", BOTO_AKID,
                 cases[i].scope, rest);
        assert_int_equal(with_authz(&f, buf, &e), ERR_SIG_INVALID);
        assert_non_null(strstr(e.msg, cases[i].msg));
    }
    /* With no region list, any region is accepted (the signature still binds it). */
    store s = boto_store;
    sigv4_verifier v = {"sagemaker", NULL, 0, lookup, &s};
    make(&f, "20240115T103000Z", BOTO_SECRET);
    sigv4_request r = freq(&f);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, NULL, &e), ERR_OK);
    /* Only the listed regions otherwise. */
    static const char *const only_east[] = {"us-east-1"};
    v.regions = only_east;
    v.nregions = 1;
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, NULL, &e), ERR_SIG_INVALID);
}

static void test_keys(void **unused) {
    fixture f;
    err_t e = {0};
    sigv4_identity id;
    store s = boto_store;
    sigv4_verifier v = boto_verifier(&s);
    /* Wrong secret. */
    make(&f, "20240115T103000Z", "not-the-secret");
    sigv4_request r = freq(&f);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, &id, &e), ERR_SIG_INVALID);
    assert_non_null(strstr(e.msg, "does not match"));
    assert_null(strstr(e.msg, BOTO_SECRET));
    /* Unknown key. */
    s.akid = "AKIAOTHERKEY0000";
    make(&f, "20240115T103000Z", BOTO_SECRET);
    r = freq(&f);
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, &id, &e), ERR_SIG_UNKNOWN_KEY);
    assert_string_equal(e.msg, "The security token included in the request is invalid.");
    /* A failing store's code passes through. */
    s = boto_store;
    s.fail = ERR_UNAVAILABLE;
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, &id, &e), ERR_UNAVAILABLE);
    /* The store is not consulted for a request that fails earlier. */
    s = boto_store;
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME + 1000, &id, &e), ERR_SIG_EXPIRED);
    assert_int_equal(s.calls, 0);
    /* Bad verifier. */
    v.lookup = NULL;
    assert_int_equal(sigv4_verify(&v, &r, BOTO_TIME, &id, NULL), ERR_INTERNAL);
    assert_int_equal(sigv4_verify(NULL, &r, BOTO_TIME, &id, NULL), ERR_INTERNAL);
}

static void test_date_header(void **unused) {
    /* A request dated by the Date header instead of X-Amz-Date, signed with
     * the building blocks. */
    fixture f;
    err_t e = {0};
    char creq[4096], sts[512], sig[SIGV4_HEX_LEN + 1];
    memset(&f, 0, sizeof f);
    f.path = "/";
    add(&f, "Host", "localhost:8080");
    add(&f, "Date", "Mon, 15 Jan 2024 10:30:00 GMT");
    sigv4_request r = freq(&f);
    assert_int_equal(sigv4_canonical_request(&r, "date;host", NULL, 0, creq, sizeof creq, &e),
                     ERR_OK);
    assert_int_equal(sigv4_string_to_sign("20240115T103000Z", "us-west-2", "sagemaker", creq, sts,
                                          sizeof sts, &e),
                     ERR_OK);
    assert_int_equal(sigv4_signature(BOTO_SECRET, "20240115", "us-west-2", "sagemaker", sts, sig),
                     0);
    snprintf(f.authz, sizeof f.authz,
             "AWS4-HMAC-SHA256 Credential=%s/20240115/us-west-2/sagemaker/aws4_request, "
             "SignedHeaders=date;host, Signature=%s",
             BOTO_AKID, sig);
    add(&f, "Authorization", f.authz);
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_OK);
    assert_int_equal(fverify(&f, BOTO_TIME + 901, &e), ERR_SIG_EXPIRED);
    /* Date not signed. */
    snprintf(f.authz, sizeof f.authz,
             "AWS4-HMAC-SHA256 Credential=%s/20240115/us-west-2/sagemaker/aws4_request, "
             "SignedHeaders=host, Signature=%s",
             BOTO_AKID, sig);
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
    /* X-Amz-Date wins over Date when both are there. */
    f.h[1].value = "Tue, 16 Jan 2024 10:30:00 GMT";
    assert_int_equal(fverify(&f, BOTO_TIME, &e), ERR_SIG_INCOMPLETE);
}

/* ---- building blocks -------------------------------------------------------- */

static void test_dates(void **unused) {
    time_t t;
    char buf[SIGV4_DATE_LEN + 1];
    assert_int_equal(sigv4_parse_date("20150830T123600Z", &t), 0);
    assert_true(t == AWS_TIME);
    assert_int_equal(sigv4_parse_date("Sun, 30 Aug 2015 12:36:00 GMT", &t), 0);
    assert_true(t == AWS_TIME);
    assert_int_equal(sigv4_parse_date("19700101T000000Z", &t), 0);
    assert_true(t == 0);
    assert_int_equal(sigv4_parse_date("20240229T235959Z", &t), 0);
    assert_int_equal(sigv4_parse_date("20000229T000000Z", &t), 0);
    static const char *const bad[] = {
        "20230229T000000Z",
        "19000229T000000Z",
        "20240230T000000Z",
        "20240001T000000Z",
        "20241301T000000Z",
        "20240101T240000Z",
        "20240101T236000Z",
        "20240101T235960Z",
        "20240101T000000",
        "20240101 000000Z",
        "2024010T1000000Z",
        "+2024010T000000Z",
        "",
        "Sun, 30 Aug 2015 12:36:00 UTC",
        "Sun, 30 Foo 2015 12:36:00 GMT",
        "Xyz, 30 Aug 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00 GMT ",
        "Sunday, 30-Aug-15 12:36:00 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(sigv4_parse_date(bad[i], &t), -1);
    assert_int_equal(sigv4_parse_date(NULL, &t), -1);

    assert_int_equal(sigv4_format_date(AWS_TIME, buf), 0);
    assert_string_equal(buf, "20150830T123600Z");
    assert_int_equal(sigv4_format_date(0, buf), 0);
    assert_string_equal(buf, "19700101T000000Z");
    /* Round trip over ~300 years, a prime step apart. */
    for (int64_t s = -2208988800LL; s < 7258118400LL; s += 9999991) {
        time_t back;
        assert_int_equal(sigv4_format_date((time_t)s, buf), 0);
        assert_int_equal(sigv4_parse_date(buf, &back), 0);
        assert_true((int64_t)back == s);
    }
}

static void test_primitives(void **unused) {
    char hex[SIGV4_HEX_LEN + 1];
    assert_int_equal(sigv4_sha256_hex(NULL, 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(sigv4_sha256_hex("Param1=value1", 13, hex), 0);
    assert_string_equal(hex, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    /* AWS's IAM ListUsers example of the signing documentation. */
    assert_int_equal(sigv4_signature(AWS_SECRET, "20150830", "us-east-1", "iam",
                                     "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/"
                                     "aws4_request\nf536975d06c0309214f805bb90ccff089219ecd68b2577e"
                                     "fef23edd43b7e1a59",
                                     hex),
                     0);
    assert_string_equal(hex, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    assert_int_equal(sigv4_signature(AWS_SECRET, "2015083", "us-east-1", "iam", "x", hex), -1);
    assert_int_equal(sigv4_signature(NULL, "20150830", "us-east-1", "iam", "x", hex), -1);
}

static void check_creq(const char *path, const char *query, const char *want_path,
                       const char *want_query) {
    char creq[4096], want[4096];
    err_t e = {0};
    sigv4_header h = {"Host", "h"};
    sigv4_request r = {"GET", path, query, &h, 1, NULL, 0};
    assert_int_equal(sigv4_canonical_request(&r, "host", "UNSIGNED", 0, creq, sizeof creq, &e),
                     ERR_OK);
    snprintf(want, sizeof want, "GET\n%s\n%s\nhost:h\n\nhost\nUNSIGNED", want_path, want_query);
    assert_string_equal(creq, want);
}

static void test_canonical_forms(void **unused) {
    check_creq("", NULL, "/", "");
    check_creq("/", "", "/", "");
    check_creq("/a%2Fb", NULL, "/a%252Fb", "");
    check_creq("/a/b/../../..", NULL, "/", "");
    check_creq("/a/./b/.", NULL, "/a/b", "");
    check_creq("/a/b/", NULL, "/a/b/", "");
    check_creq("/~user/x+y=z", NULL, "/~user/x%2By%3Dz", "");
    check_creq("/", "b=2&a=1", "/", "a=1&b=2");
    check_creq("/", "a=1&&b=2&", "/", "a=1&b=2");
    check_creq("/", "flag", "/", "flag=");
    check_creq("/", "k=%2f%7E%41", "/", "k=%2F~A");
    check_creq("/", "k=a+b", "/", "k=a%2Bb");
    check_creq("/", "k=%zz%4", "/", "k=%25zz%254");
    check_creq("/", "k=%20&k=%20%20&k=", "/", "k=&k=%20&k=%20%20");
    check_creq("/", "B=1&a=1&_=1", "/", "B=1&_=1&a=1");

    /* Caps. */
    char creq[64];
    err_t e = {0};
    sigv4_header h = {"Host", "h"};
    sigv4_request r = {"GET", "/", "a=1", &h, 1, NULL, 0};
    assert_int_equal(sigv4_canonical_request(&r, "host", NULL, 0, creq, sizeof creq, &e),
                     ERR_SIG_INCOMPLETE);
    char *big = malloc(SIGV4_QUERY_MAX + 2);
    memset(big, 'a', SIGV4_QUERY_MAX + 1);
    big[SIGV4_QUERY_MAX + 1] = '\0';
    char *out = malloc(SIGV4_CANONICAL_MAX);
    r.query = big;
    assert_int_equal(sigv4_canonical_request(&r, "host", NULL, 0, out, SIGV4_CANONICAL_MAX, &e),
                     ERR_SIG_INCOMPLETE);
    r.query = NULL;
    r.path = big;
    assert_int_equal(sigv4_canonical_request(&r, "host", NULL, 0, out, SIGV4_CANONICAL_MAX, &e),
                     ERR_SIG_INCOMPLETE);
    /* Too many parameters. */
    for (int i = 0; i < SIGV4_QUERY_MAX; i += 2) {
        big[i] = 'a';
        big[i + 1] = '&';
    }
    big[SIGV4_QUERY_MAX - 1] = '\0';
    r.path = "/";
    r.query = big;
    assert_int_equal(sigv4_canonical_request(&r, "host", NULL, 0, out, SIGV4_CANONICAL_MAX, &e),
                     ERR_SIG_INCOMPLETE);
    free(big);
    free(out);
}

static void test_sign_errors(void **unused) {
    char authz[SIGV4_AUTHZ_MAX];
    err_t e = {0};
    sigv4_header h[] = {{"Host", "h"}, {"X-Amz-Date", "20240115T103000Z"}, {"User-Agent", "x"}};
    sigv4_request r = {"GET", "/", NULL, h, 3, NULL, 0};
    assert_int_equal(sigv4_sign(&r, "AKID", "s", "us-west-2", "sagemaker", authz, sizeof authz, &e),
                     ERR_OK);
    assert_non_null(strstr(authz, "SignedHeaders=host;x-amz-date,")); /* no user-agent */
    assert_int_equal(sigv4_sign(&r, "AKID", "s", "us-west-2", "sagemaker", authz, 40, &e),
                     ERR_VALIDATION);
    assert_int_equal(
        sigv4_sign(&r, "AK/ID", "s", "us-west-2", "sagemaker", authz, sizeof authz, &e),
        ERR_VALIDATION);
    assert_int_equal(sigv4_sign(&r, "AKID", "s", "", "sagemaker", authz, sizeof authz, &e),
                     ERR_VALIDATION);
    assert_int_equal(sigv4_sign(NULL, "AKID", "s", "r", "sagemaker", authz, sizeof authz, &e),
                     ERR_VALIDATION);
    r.nheaders = 1; /* no X-Amz-Date */
    assert_int_equal(sigv4_sign(&r, "AKID", "s", "us-west-2", "sagemaker", authz, sizeof authz, &e),
                     ERR_VALIDATION);
    h[0].name = "Hos t"; /* not a token */
    r.nheaders = 2;
    assert_int_equal(sigv4_sign(&r, "AKID", "s", "us-west-2", "sagemaker", authz, sizeof authz, &e),
                     ERR_VALIDATION);
    h[0].name = "Hostess"; /* no Host */
    assert_int_equal(sigv4_sign(&r, "AKID", "s", "us-west-2", "sagemaker", authz, sizeof authz, &e),
                     ERR_VALIDATION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_suite),
        cmocka_unit_test(test_botocore),
        cmocka_unit_test(test_botocore_presigned),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_content_sha256),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_date_header),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_primitives),
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_sign_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
