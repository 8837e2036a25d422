#include "credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char akid[CREDENTIALS_KEY_ID_MAX + 1];
    char secret[CREDENTIALS_SECRET_MAX + 1];
    char account[CREDENTIALS_ACCOUNT_ID_LEN + 1];
} cred_entry;

struct credentials {
    size_t n;      /* entries in use */
    size_t cap;    /* entries allocated (all wiped on free) */
    cred_entry *v; /* sorted by akid */
};

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
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        rc = err_set(e, ERR_VALIDATION, "%s: line %d, column %d: %s", origin, je.line, je.column,
                     je.text);
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
                strcmp(key, "account_id")) {
                rc = err_set(e, ERR_VALIDATION,
                             "%s: credentials[%zu] has unknown field \"%.64s\" (expected "
                             "access_key_id, secret_access_key, account_id)",
                             origin, i, key);
                goto out;
            }
        }
        cred_entry *ce = &c->v[i];
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
        c->n = i + 1;
    }
    qsort(c->v, c->n, sizeof *c->v, entry_cmp);
    for (size_t i = 1; i < c->n; i++) {
        if (!strcmp(c->v[i - 1].akid, c->v[i].akid)) {
            rc = err_set(e, ERR_VALIDATION, "%s: access key id %s is listed twice", origin,
                         c->v[i].akid);
            goto out;
        }
    }
out:
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

void credentials_free(credentials *c) {
    if (!c)
        return;
    if (c->v) {
        explicit_bzero(c->v, c->cap * sizeof *c->v);
        free(c->v);
    }
    free(c);
}
