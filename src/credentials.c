/* credentials — the access keys hpod accepts, and each account's tenancy
 * settings (see credentials.h). No message built here quotes the file's
 * text: it may be a secret. */
#include "credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One entry's optional account settings (heap; NULL/0 when not stated). */
typedef struct {
    int has_run_as, has_file, has_s3, has_s3_keys;
    char *run_as;
    char *s3_key_id, *s3_secret, *s3_token; /* s3_credentials (token may be NULL) */
    char **file_roots;
    size_t nfile;
    char **s3_roots;
    size_t ns3;
} cred_settings;

typedef struct {
    char akid[CREDENTIALS_KEY_ID_MAX + 1];
    char secret[CREDENTIALS_SECRET_MAX + 1];
    char account[CREDENTIALS_ACCOUNT_ID_LEN + 1];
    size_t idx; /* position in the file */
    cred_settings set;
} cred_entry;

/* An account: its settings are those of the entries that state them
 * (borrowed from c->v). */
typedef struct {
    char account[CREDENTIALS_ACCOUNT_ID_LEN + 1];
    size_t entry;
    const cred_settings *run_as, *file, *s3, *s3_keys; /* the entry stating each, or NULL */
} cred_acct;

struct credentials {
    size_t n;      /* entries in use */
    size_t cap;    /* entries allocated (all wiped on free) */
    cred_entry *v; /* sorted by akid */
    size_t nacct;
    cred_acct *acct; /* sorted by account */
};

/* Frees a secret, wiping it first. */
static void free_secret(char *s) {
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

static void settings_clear(cred_settings *s) {
    free(s->run_as);
    free(s->s3_key_id);
    free_secret(s->s3_secret);
    free_secret(s->s3_token);
    for (size_t i = 0; i < s->nfile; i++)
        free(s->file_roots[i]);
    free(s->file_roots);
    for (size_t i = 0; i < s->ns3; i++)
        free(s->s3_roots[i]);
    free(s->s3_roots);
    memset(s, 0, sizeof *s);
}

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const cred_entry *)a)->akid, ((const cred_entry *)b)->akid);
}

static int valid_key_id(const char *s) {
    size_t n = strlen(s);
    if (n < CREDENTIALS_KEY_ID_MIN || n > CREDENTIALS_KEY_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static int valid_secret(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > CREDENTIALS_SECRET_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

static int valid_account(const char *s) {
    if (strlen(s) != CREDENTIALS_ACCOUNT_ID_LEN)
        return 0;
    for (size_t i = 0; i < CREDENTIALS_ACCOUNT_ID_LEN; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Reads member `name` of entry i as a string into out[cap] if valid(). */
static err_code take_field(const json_t *obj, size_t i, const char *name,
                           int (*valid)(const char *), const char *rule, char *out, size_t cap,
                           const char *origin, err_t *e) {
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return err_set(e, ERR_VALIDATION, "%s: credentials[%zu] has no \"%s\"", origin, i, name);
    const char *s = json_string_value(v);
    if (!s || strlen(s) != json_string_length(v) || !valid(s) || strlen(s) >= cap)
        return err_set(e, ERR_VALIDATION, "%s: credentials[%zu].%s must be %s", origin, i, name,
                       rule);
    memcpy(out, s, strlen(s) + 1);
    return ERR_OK;
}

int credentials_root_contains(const char *root, const char *path) {
    if (!root || !path)
        return 0;
    int s3 = !strncmp(root, "s3://", 5);
    if (s3 != !strncmp(path, "s3://", 5))
        return 0;
    if (s3) {
        root += 5;
        path += 5;
    }
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (strncmp(root, path, n))
        return 0;
    return path[n] == 0 || path[n] == '/' || (n == 1 && root[0] == '/');
}

/* What is wrong with the JSON, from jansson's error code alone: its text
 * quotes the input near the error, which may be a secret. */
static const char *json_problem(const json_error_t *je) {
    switch (json_error_code(je)) {
    case json_error_premature_end_of_input:
        return "the JSON ends early (an unterminated string, or a missing ']' or '}')";
    case json_error_end_of_input_expected:
        return "unexpected text after the JSON object";
    case json_error_invalid_utf8:
        return "a string is not valid UTF-8";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "\\u0000 is not allowed in a string";
    case json_error_duplicate_key:
        return "a member is given twice in one object (duplicate key)";
    case json_error_numeric_overflow:
        return "a number is out of range";
    case json_error_invalid_syntax:
        return "invalid JSON syntax (a missing ',', ':', quote or bracket?)";
    default:
        return "invalid JSON";
    }
}

/* A raw control character (other than tab, newline, return) anywhere: JSON
 * does not allow one inside a string, and jansson's own message would quote
 * the string it is in. 0, or ERR_VALIDATION naming its line and column. */
static err_code scan_controls(const char *json, size_t len, const char *origin, err_t *e) {
    int line = 1, col = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)json[i];
        col++;
        if (ch == '\n') {
            line++;
            col = 0;
        } else if (ch < 0x20 && ch != '\t' && ch != '\r') {
            return err_set(e, ERR_VALIDATION,
                           "%s: line %d, column %d: a control character (0x%02x), which JSON "
                           "does not allow unescaped (remove it; a secret with one is invalid "
                           "anyway)",
                           origin, line, col, ch);
        }
    }
    return ERR_OK;
}

static int valid_user(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > CREDENTIALS_USER_MAX || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* A field name fit to quote: a plausible misspelling of ours ([a-z_], short)
 * is, anything else (it could be a secret put in the wrong place) is not. */
static int quotable_field(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 24)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return 0;
    return 1;
}

/* "s3://bucket[/prefix]" with a bucket of 3-63 [a-z0-9.-] and key
 * components neither empty, "." nor ".."; written without a trailing '/'. */
static int normal_s3_root(const char *s, char *out, size_t cap) {
    if (strncmp(s, "s3://", 5))
        return -1;
    const char *b = s + 5, *slash = strchr(b, '/');
    size_t bn = slash ? (size_t)(slash - b) : strlen(b);
    if (bn < 3 || bn > 63)
        return -1;
    for (size_t i = 0; i < bn; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
              b[i] == '-'))
            return -1;
    size_t n = strlen(s);
    while (n > 5 + bn && s[n - 1] == '/')
        n--;
    if (n >= cap)
        return -1;
    memcpy(out, s, n);
    out[n] = 0;
    for (const char *p = out + 5 + bn; *p;) { /* at a '/' */
        const char *q = strchr(p + 1, '/');
        size_t cn = q ? (size_t)(q - p - 1) : strlen(p + 1);
        if (cn == 0 || (cn == 1 && p[1] == '.') || (cn == 2 && p[1] == '.' && p[2] == '.'))
            return -1;
        p = q ? q : p + 1 + cn;
    }
    return 0;
}

/* Reads a list of roots (file or s3) of entry i into out and n. */
static err_code take_roots(const json_t *v, size_t i, const char *name, int s3, char ***out,
                           size_t *n, const char *origin, err_t *e) {
    size_t k = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || k > CREDENTIALS_ROOTS_MAX)
        return err_set(e, ERR_VALIDATION, "%s: credentials[%zu].%s must be a list of at most %d %s",
                       origin, i, name, CREDENTIALS_ROOTS_MAX,
                       s3 ? "s3://bucket/prefix URIs" : "absolute directory paths");
    if (k && !(*out = calloc(k, sizeof **out)))
        return err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
    for (size_t j = 0; j < k; j++) {
        const json_t *r = json_array_get(v, j);
        const char *str = json_string_value(r);
        char buf[PATH_MAX > CREDENTIALS_ROOT_MAX ? PATH_MAX : CREDENTIALS_ROOT_MAX];
        if (!str || strlen(str) != json_string_length(r) || strlen(str) >= CREDENTIALS_ROOT_MAX)
            return err_set(e, ERR_VALIDATION,
                           "%s: credentials[%zu].%s[%zu] must be a string of at most %d bytes",
                           origin, i, name, j, CREDENTIALS_ROOT_MAX - 1);
        if (s3) {
            if (normal_s3_root(str, buf, CREDENTIALS_ROOT_MAX))
                return err_set(e, ERR_VALIDATION,
                               "%s: credentials[%zu].%s[%zu] '%s' is not s3://bucket or "
                               "s3://bucket/prefix (bucket 3-63 characters a-z 0-9 . -; no "
                               "empty, '.' or '..' key components)",
                               origin, i, name, j, str);
        } else {
            struct stat st;
            if (str[0] != '/')
                return err_set(e, ERR_VALIDATION,
                               "%s: credentials[%zu].%s[%zu] '%s' is not an absolute path", origin,
                               i, name, j, str);
            errno = 0;
            if (!realpath(str, buf) || stat(buf, &st) || !S_ISDIR(st.st_mode))
                return err_set(e, ERR_VALIDATION,
                               "%s: credentials[%zu].%s[%zu] '%s' is not an existing directory%s%s",
                               origin, i, name, j, str, errno ? ": " : "",
                               errno ? strerror(errno) : "");
            if (strlen(buf) >= CREDENTIALS_ROOT_MAX)
                return err_set(e, ERR_VALIDATION,
                               "%s: credentials[%zu].%s[%zu] resolves to a path over %d bytes",
                               origin, i, name, j, CREDENTIALS_ROOT_MAX - 1);
        }
        if (!((*out)[j] = strdup(buf)))
            return err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
        *n = j + 1;
    }
    return ERR_OK;
}

static int valid_token(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > CREDENTIALS_S3_TOKEN_MAX)
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~')
            return 0;
    return 1;
}

/* One member of s3_credentials, checked by `valid` (the message says
 * `rule`, never the value); NULL and no error when absent and optional. */
static err_code take_s3_member(const json_t *obj, size_t i, const char *name,
                               int (*valid)(const char *), const char *rule, int optional,
                               char **out, const char *origin, err_t *e) {
    const json_t *v = json_object_get(obj, name);
    if (!v && optional)
        return ERR_OK;
    const char *s = json_string_value(v);
    if (!s || strlen(s) != json_string_length(v) || !valid(s))
        return err_set(e, ERR_VALIDATION, "%s: credentials[%zu].s3_credentials.%s must be %s",
                       origin, i, name, rule);
    if (!(*out = strdup(s)))
        return err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
    return ERR_OK;
}

/* s3_credentials {access_key_id, secret_access_key[, session_token]}: the
 * keys the account's S3 transfers are signed with. */
static err_code take_s3_keys(const json_t *v, size_t i, cred_settings *set, const char *origin,
                             err_t *e) {
    const char *key;
    const json_t *val;
    err_code rc;
    if (!json_is_object(v))
        return err_set(e, ERR_VALIDATION,
                       "%s: credentials[%zu].s3_credentials must be an object {\"access_key_id\", "
                       "\"secret_access_key\"[, \"session_token\"]}",
                       origin, i);
    json_object_foreach((json_t *)v, key, val) {
        if (strcmp(key, "access_key_id") && strcmp(key, "secret_access_key") &&
            strcmp(key, "session_token"))
            return err_set(e, ERR_VALIDATION,
                           "%s: credentials[%zu].s3_credentials has an unknown field (expected "
                           "access_key_id, secret_access_key, session_token)",
                           origin, i);
    }
    if ((rc = take_s3_member(v, i, "access_key_id", valid_secret,
                             "1 to 128 printable ASCII characters without spaces (S3-compatible "
                             "servers have their own key formats)",
                             0, &set->s3_key_id, origin, e)) ||
        (rc = take_s3_member(v, i, "secret_access_key", valid_secret,
                             "1 to 128 printable ASCII characters without spaces", 0,
                             &set->s3_secret, origin, e)) ||
        (rc = take_s3_member(v, i, "session_token", valid_token,
                             "1 to 4095 printable ASCII characters without spaces", 1,
                             &set->s3_token, origin, e)))
        return rc;
    set->has_s3_keys = 1;
    return ERR_OK;
}

static int same_str(const char *a, const char *b) {
    return a && b ? !strcmp(a, b) : a == b;
}

/* The optional settings of entry i. */
static err_code take_settings(const json_t *obj, size_t i, cred_settings *set, const char *origin,
                              err_t *e) {
    const json_t *v;
    err_code rc;
    if ((v = json_object_get(obj, "run_as"))) {
        const char *u = json_string_value(v);
        if (!u || strlen(u) != json_string_length(v) || !valid_user(u))
            return err_set(e, ERR_VALIDATION,
                           "%s: credentials[%zu].run_as must be a Unix user name (1 to %d "
                           "characters A-Z a-z 0-9 . _ -, not starting with '-')",
                           origin, i, CREDENTIALS_USER_MAX);
        if (!strcmp(u, "root"))
            return err_set(e, ERR_VALIDATION,
                           "%s: credentials[%zu].run_as is \"root\": an account's jobs may not run "
                           "as root (only the operator's global hpod --run-as root may)",
                           origin, i);
        if (!(set->run_as = strdup(u)))
            return err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
        set->has_run_as = 1;
    }
    if ((v = json_object_get(obj, "file_roots"))) {
        if ((rc = take_roots(v, i, "file_roots", 0, &set->file_roots, &set->nfile, origin, e)))
            return rc;
        set->has_file = 1;
    }
    if ((v = json_object_get(obj, "s3_roots"))) {
        if ((rc = take_roots(v, i, "s3_roots", 1, &set->s3_roots, &set->ns3, origin, e)))
            return rc;
        set->has_s3 = 1;
    }
    if ((v = json_object_get(obj, "s3_credentials")))
        return take_s3_keys(v, i, set, origin, e);
    return ERR_OK;
}

static int same_list(char *const *a, size_t na, char *const *b, size_t nb) {
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]))
            return 0;
    return 1;
}

static int acct_entry_cmp(const void *a, const void *b) {
    const cred_entry *x = *(const cred_entry *const *)a, *y = *(const cred_entry *const *)b;
    int c = strcmp(x->account, y->account);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* One root of one account, for the overlap check. */
typedef struct {
    const char *root;
    const char *account;
} root_ref;

/* Orders roots so that those a root contains follow it at once: '/' sorts
 * before every other byte. */
static int root_cmp(const void *a, const void *b) {
    const unsigned char *x = (const unsigned char *)((const root_ref *)a)->root;
    const unsigned char *y = (const unsigned char *)((const root_ref *)b)->root;
    for (;; x++, y++) {
        unsigned cx = *x == '/' ? 1 : *x ? *x + 1u : 0, cy = *y == '/' ? 1 : *y ? *y + 1u : 0;
        if (cx != cy || !cx)
            return (int)cx - (int)cy;
    }
}

/* No root of one account equals, contains or lies in another's. */
static err_code check_overlaps(const credentials *c, int s3, const char *origin, err_t *e) {
    size_t n = 0, k = 0;
    for (size_t a = 0; a < c->nacct; a++) {
        const cred_settings *st = s3 ? c->acct[a].s3 : c->acct[a].file;
        n += st ? (s3 ? st->ns3 : st->nfile) : 0;
    }
    if (n == 0)
        return ERR_OK;
    root_ref *v = calloc(n, sizeof *v);
    if (!v)
        return err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
    for (size_t a = 0; a < c->nacct; a++) {
        const cred_settings *st = s3 ? c->acct[a].s3 : c->acct[a].file;
        size_t m = st ? (s3 ? st->ns3 : st->nfile) : 0;
        for (size_t j = 0; j < m; j++)
            v[k++] = (root_ref){s3 ? st->s3_roots[j] : st->file_roots[j], c->acct[a].account};
    }
    qsort(v, n, sizeof *v, root_cmp);
    /* A stack of the roots containing the current one (all of one account,
     * or the check has failed): its top is the innermost. */
    size_t *stack = calloc(n, sizeof *stack), depth = 0;
    err_code rc = stack ? ERR_OK : err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
    for (size_t i = 0; i < n && !rc; i++) {
        while (depth && !credentials_root_contains(v[stack[depth - 1]].root, v[i].root))
            depth--;
        if (depth && strcmp(v[stack[depth - 1]].account, v[i].account))
            rc = err_set(e, ERR_VALIDATION,
                         "%s: %s root '%s' of account %s %s %s root '%s' of account %s: an "
                         "account's roots must be its own",
                         origin, s3 ? "s3" : "file", v[i].root, v[i].account,
                         strcmp(v[stack[depth - 1]].root, v[i].root) ? "lies inside" : "is also",
                         s3 ? "s3" : "file", v[stack[depth - 1]].root, v[stack[depth - 1]].account);
        stack[depth++] = i;
    }
    free(stack);
    free(v);
    return rc;
}

/* Groups the entries by account; entries of one account that state a
 * setting must state the same. */
static err_code build_accounts(credentials *c, const char *origin, err_t *e) {
    err_code rc = ERR_OK;
    cred_entry **by = calloc(c->n ? c->n : 1, sizeof *by);
    if (!by || !(c->acct = calloc(c->n ? c->n : 1, sizeof *c->acct))) {
        free(by);
        return err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
    }
    for (size_t i = 0; i < c->n; i++)
        by[i] = &c->v[i];
    qsort(by, c->n, sizeof *by, acct_entry_cmp);
    for (size_t i = 0; i < c->n && !rc; i++) {
        const cred_entry *ce = by[i];
        cred_acct *a = c->nacct ? &c->acct[c->nacct - 1] : NULL;
        if (!a || strcmp(a->account, ce->account)) {
            a = &c->acct[c->nacct++];
            memcpy(a->account, ce->account, sizeof a->account);
            a->entry = ce->idx;
        }
        const cred_settings *s = &ce->set;
        const char *what = NULL;
        size_t other = 0;
        if (s->has_run_as) {
            if (!a->run_as)
                a->run_as = s;
            else if (strcmp(a->run_as->run_as, s->run_as))
                what = "run_as";
        }
        if (s->has_file && !what) {
            if (!a->file)
                a->file = s;
            else if (!same_list(a->file->file_roots, a->file->nfile, s->file_roots, s->nfile))
                what = "file_roots";
        }
        if (s->has_s3 && !what) {
            if (!a->s3)
                a->s3 = s;
            else if (!same_list(a->s3->s3_roots, a->s3->ns3, s->s3_roots, s->ns3))
                what = "s3_roots";
        }
        if (s->has_s3_keys && !what) {
            if (!a->s3_keys)
                a->s3_keys = s;
            else if (strcmp(a->s3_keys->s3_key_id, s->s3_key_id) ||
                     strcmp(a->s3_keys->s3_secret, s->s3_secret) ||
                     !same_str(a->s3_keys->s3_token, s->s3_token))
                what = "s3_credentials";
        }
        if (what) {
            for (size_t j = 0; j < c->n; j++) {
                const cred_settings *o = !strcmp(what, "run_as")       ? a->run_as
                                         : !strcmp(what, "file_roots") ? a->file
                                         : !strcmp(what, "s3_roots")   ? a->s3
                                                                       : a->s3_keys;
                if (&c->v[j].set == o)
                    other = c->v[j].idx;
            }
            rc = err_set(e, ERR_VALIDATION,
                         "%s: credentials[%zu] states a %s for account %s other than "
                         "credentials[%zu]'s: the settings are the account's, so its entries "
                         "must agree",
                         origin, ce->idx, what, ce->account, other);
        }
    }
    free(by);
    if (!rc)
        rc = check_overlaps(c, 0, origin, e);
    if (!rc)
        rc = check_overlaps(c, 1, origin, e);
    return rc;
}

credentials *credentials_parse(const char *json, size_t len, const char *origin, err_t *e) {
    credentials *c = NULL;
    json_t *root = NULL;
    json_error_t je;
    err_code rc = ERR_OK;
    if (!origin)
        origin = "credentials";
    if (!json) {
        rc = err_set(e, ERR_VALIDATION, "%s: no content", origin);
        goto out;
    }
    if ((rc = scan_controls(json, len, origin, e)))
        goto out;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        /* Never je.text: it quotes the input near the error. */
        rc = err_set(e, ERR_VALIDATION, "%s: line %d, column %d: %s", origin, je.line, je.column,
                     json_problem(&je));
        explicit_bzero(&je, sizeof je);
        goto out;
    }
    const json_t *list = json_object_get(root, "credentials");
    if (!json_is_object(root) || !json_is_array(list) || json_object_size(root) != 1) {
        rc = err_set(e, ERR_VALIDATION,
                     "%s: expected {\"credentials\": [{\"access_key_id\": ..., "
                     "\"secret_access_key\": ..., \"account_id\": ...}, ...]} and nothing else",
                     origin);
        goto out;
    }
    size_t n = json_array_size(list);
    if (n == 0 || n > CREDENTIALS_MAX) {
        rc = err_set(e, ERR_VALIDATION, "%s: \"credentials\" must list 1 to %d keys, not %zu",
                     origin, CREDENTIALS_MAX, n);
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (c)
        c->v = calloc(n, sizeof *c->v);
    if (!c || !c->v) {
        rc = err_set(e, ERR_INTERNAL, "%s: out of memory", origin);
        goto out;
    }
    c->cap = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *obj = json_array_get(list, i);
        const char *key;
        const json_t *val;
        if (!json_is_object(obj)) {
            rc = err_set(e, ERR_VALIDATION, "%s: credentials[%zu] is not an object", origin, i);
            goto out;
        }
        json_object_foreach((json_t *)obj, key, val) {
            if (strcmp(key, "access_key_id") && strcmp(key, "secret_access_key") &&
                strcmp(key, "account_id") && strcmp(key, "run_as") && strcmp(key, "file_roots") &&
                strcmp(key, "s3_roots") && strcmp(key, "s3_credentials")) {
                int q = quotable_field(key);
                rc = err_set(e, ERR_VALIDATION,
                             "%s: credentials[%zu] has unknown field %s%s%s (expected "
                             "access_key_id, secret_access_key, account_id, run_as, file_roots, "
                             "s3_roots, s3_credentials)",
                             origin, i, q ? "\"" : "", q ? key : "(not shown)", q ? "\"" : "");
                goto out;
            }
        }
        cred_entry *ce = &c->v[i];
        ce->idx = i;
        c->n = i + 1; /* from here on its settings are freed with the set */
        rc = take_field(obj, i, "access_key_id", valid_key_id,
                        "16 to 128 characters, A-Z and 0-9 only", ce->akid, sizeof ce->akid, origin,
                        e);
        if (rc)
            goto out;
        rc = take_field(obj, i, "secret_access_key", valid_secret,
                        "1 to 128 printable ASCII characters without spaces", ce->secret,
                        sizeof ce->secret, origin, e);
        if (rc)
            goto out;
        rc = take_field(obj, i, "account_id", valid_account, "exactly 12 digits", ce->account,
                        sizeof ce->account, origin, e);
        if (rc)
            goto out;
        if ((rc = take_settings(obj, i, &ce->set, origin, e)))
            goto out;
    }
    qsort(c->v, c->n, sizeof *c->v, entry_cmp);
    for (size_t i = 1; i < c->n; i++) {
        if (!strcmp(c->v[i - 1].akid, c->v[i].akid)) {
            rc = err_set(e, ERR_VALIDATION, "%s: access key id %s is listed twice", origin,
                         c->v[i].akid);
            goto out;
        }
    }
    rc = build_accounts(c, origin, e);
out:
    /* jansson's copies of the strings, secrets included, are wiped. */
    if (root) {
        const json_t *lst = json_object_get(root, "credentials");
        for (size_t i = 0; i < json_array_size(lst); i++) {
            json_t *s = json_object_get(json_array_get(lst, i), "secret_access_key");
            if (json_is_string(s) && json_string_length(s))
                explicit_bzero((char *)json_string_value(s), json_string_length(s));
        }
    }
    json_decref(root);
    if (rc) {
        credentials_free(c);
        c = NULL;
    }
    return c;
}

credentials *credentials_load(const char *path, err_t *e) {
    credentials *c = NULL;
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int fd = -1;
    if (!path) {
        err_set(e, ERR_INTERNAL, "no credentials file given");
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st)) {
        err_set(e, ERR_INTERNAL, "credentials file '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(e, ERR_VALIDATION, "credentials file '%s' is not a regular file", path);
        goto out;
    }
    /* Checked on the open file: what is read is what was checked. */
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        err_set(e, ERR_FORBIDDEN,
                "credentials file '%s' has mode %04o: it holds secret keys, so group and others "
                "must have no access to it (chmod 600 '%s')",
                path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_size > CREDENTIALS_FILE_MAX) {
        err_set(e, ERR_VALIDATION, "credentials file '%s' is larger than %d bytes", path,
                CREDENTIALS_FILE_MAX);
        goto out;
    }
    buf = malloc(CREDENTIALS_FILE_MAX + 1);
    if (!buf) {
        err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, CREDENTIALS_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_set(e, ERR_INTERNAL, "credentials file '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > CREDENTIALS_FILE_MAX) {
            err_set(e, ERR_VALIDATION, "credentials file '%s' is larger than %d bytes", path,
                    CREDENTIALS_FILE_MAX);
            goto out;
        }
    }
    c = credentials_parse(buf, len, path, e);
out:
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return c;
}

err_code credentials_lookup(const credentials *c, const char *access_key_id, const char **secret,
                            const char **account_id) {
    if (!c || !access_key_id || strlen(access_key_id) > CREDENTIALS_KEY_ID_MAX)
        return ERR_SIG_UNKNOWN_KEY;
    cred_entry key;
    memcpy(key.akid, access_key_id, strlen(access_key_id) + 1);
    const cred_entry *hit = bsearch(&key, c->v, c->n, sizeof *c->v, entry_cmp);
    if (!hit)
        return ERR_SIG_UNKNOWN_KEY;
    if (secret)
        *secret = hit->secret;
    if (account_id)
        *account_id = hit->account;
    return ERR_OK;
}

err_code credentials_sigv4_lookup(void *c, const char *access_key_id, const char **secret,
                                  const char **account_id) {
    return credentials_lookup(c, access_key_id, secret, account_id);
}

size_t credentials_count(const credentials *c) {
    return c ? c->n : 0;
}

size_t credentials_account_count(const credentials *c) {
    return c ? c->nacct : 0;
}

const char *credentials_account_id(const credentials *c, size_t i) {
    return c && i < c->nacct ? c->acct[i].account : NULL;
}

static int acct_cmp(const void *key, const void *elem) {
    return strcmp(key, ((const cred_acct *)elem)->account);
}

err_code credentials_account_settings(const credentials *c, const char *account_id,
                                      credentials_account *out) {
    memset(out, 0, sizeof *out);
    const cred_acct *a =
        c && account_id ? bsearch(account_id, c->acct, c->nacct, sizeof *c->acct, acct_cmp) : NULL;
    if (!a)
        return ERR_NOT_FOUND;
    out->entry = a->entry;
    out->run_as = a->run_as ? a->run_as->run_as : NULL;
    if (a->file) {
        out->file_roots = (const char *const *)a->file->file_roots;
        out->nfile_roots = a->file->nfile;
    }
    if (a->s3) {
        out->s3_roots = (const char *const *)a->s3->s3_roots;
        out->ns3_roots = a->s3->ns3;
    }
    if (a->s3_keys) {
        out->s3_key_id = a->s3_keys->s3_key_id;
        out->s3_secret = a->s3_keys->s3_secret;
        out->s3_token = a->s3_keys->s3_token;
    }
    return ERR_OK;
}

void credentials_free(credentials *c) {
    if (!c)
        return;
    free(c->acct);
    if (c->v) {
        for (size_t i = 0; i < c->cap; i++)
            settings_clear(&c->v[i].set);
        explicit_bzero(c->v, c->cap * sizeof *c->v);
        free(c->v);
    }
    free(c);
}
