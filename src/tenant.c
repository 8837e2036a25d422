/* tenant — the tenancy policy (see tenant.h): which Environment keys, which
 * file:// and s3:// URIs, which images a caller may use, and as which Unix
 * user its jobs run. */
#include "tenant.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tenant {
    const credentials *creds; /* NULL: one-user mode */
    int allow_host;
    int allow_all_env;
    char run_as[TENANT_USER_MAX];  /* "" = none */
    char *roots[TENANT_ROOTS_MAX]; /* --file-root DIRs, resolved */
    size_t nroots;
    char *allow_env[TENANT_ALLOW_ENV_MAX];
    size_t nallow_env;
};

static const struct {
    const char *name;
    int prefix;
    const char *what;
} ENV_RULES[] = {
#define X(name, prefix, what) {name, prefix, what},
    TENANT_ENV_REFUSED(X)
#undef X
};

void tenant_free(tenant *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->nroots; i++)
        free(t->roots[i]);
    for (size_t i = 0; i < t->nallow_env; i++)
        free(t->allow_env[i]);
    free(t);
}

int tenant_multi(const tenant *t) {
    return t && t->creds;
}

/* Looks `user` up: 0 with *out filled, or ERR_VALIDATION. `literal_root`:
 * the operator named "root" itself, the only way to run as uid 0. `who`
 * says where the name came from, for messages. */
static int lookup_user(const char *user, int literal_root, const char *who, tenant_identity *out,
                       err_t *e) {
    struct passwd pw, *res = NULL;
    char *buf = malloc(TENANT_PW_BUF);
    int rc = 0;
    if (!buf)
        return err_set(e, ERR_INTERNAL, "out of memory");
    int err = getpwnam_r(user, &pw, buf, TENANT_PW_BUF, &res);
    if (err || !res) {
        rc = err_set(e, ERR_VALIDATION, "%s: Unix user '%s' does not exist%s%s", who, user,
                     err ? ": " : "", err ? strerror(err) : "");
        goto out;
    }
    if (pw.pw_uid == 0 && !literal_root) {
        rc = err_set(e, ERR_VALIDATION,
                     "%s: Unix user '%s' has uid 0: jobs run as root only when hpod is started "
                     "with --run-as root",
                     who, user);
        goto out;
    }
    /* A daemon that is not root cannot change user: its own user is then
     * run as itself, which is what was asked. */
    out->run_as = !(geteuid() != 0 && pw.pw_uid == geteuid() && pw.pw_gid == getegid());
    out->uid = pw.pw_uid;
    out->gid = pw.pw_gid;
    snprintf(out->user, sizeof out->user, "%s", pw.pw_name);
    snprintf(out->home, sizeof out->home, "%s", pw.pw_dir ? pw.pw_dir : "");
out:
    free(buf);
    return rc;
}

/* The daemon's own user (one-user mode without --run-as). */
static void daemon_user(tenant_identity *out) {
    struct passwd pw, *res = NULL;
    char buf[TENANT_PW_BUF];
    out->run_as = 0;
    out->uid = getuid();
    out->gid = getgid();
    if (getpwuid_r(out->uid, &pw, buf, sizeof buf, &res) == 0 && res) {
        snprintf(out->user, sizeof out->user, "%s", pw.pw_name);
        snprintf(out->home, sizeof out->home, "%s", pw.pw_dir ? pw.pw_dir : "");
    }
}

/* The Unix user part of tenant_identity_of. */
static int identity_user(const tenant *t, const char *account, tenant_identity *out, err_t *e) {
    credentials_account ca;
    if (t && t->creds && credentials_account_settings(t->creds, account, &ca) == ERR_OK &&
        ca.run_as) {
        char who[128];
        snprintf(who, sizeof who, "run_as of account %s (credentials[%zu])", account, ca.entry);
        return lookup_user(ca.run_as, 0, who, out, e);
    }
    if (t && t->run_as[0])
        return lookup_user(t->run_as, !strcmp(t->run_as, "root"), "hpod --run-as", out, e);
    if (t && t->creds)
        return err_set(e, ERR_VALIDATION,
                       "no Unix user to run account %s's jobs as: set \"run_as\" for it in the "
                       "credentials file or start hpod with --run-as USER",
                       account ? account : "");
    daemon_user(out);
    return 0;
}

int tenant_identity_of(const tenant *t, const char *account, tenant_identity *out, err_t *e) {
    credentials_account ca;
    memset(out, 0, sizeof *out);
    int rc = identity_user(t, account, out, e);
    if (!rc && t && t->creds && credentials_account_settings(t->creds, account, &ca) == ERR_OK &&
        ca.s3_key_id) {
        out->s3_key_id = ca.s3_key_id;
        out->s3_secret = ca.s3_secret;
        out->s3_token = ca.s3_token;
    }
    return rc;
}

const char *tenant_env_refused(const tenant *t, const char *key) {
    if (!key || (t && t->allow_all_env))
        return NULL;
    for (size_t i = 0; t && i < t->nallow_env; i++)
        if (!strcmp(t->allow_env[i], key))
            return NULL;
    for (size_t i = 0; i < sizeof ENV_RULES / sizeof *ENV_RULES; i++) {
        size_t n = strlen(ENV_RULES[i].name);
        if (ENV_RULES[i].prefix ? !strncmp(key, ENV_RULES[i].name, n)
                                : !strcmp(key, ENV_RULES[i].name))
            return ENV_RULES[i].what;
    }
    return NULL;
}

/* Whether a '/'-separated path has a "." or ".." component. */
static int has_dots(const char *p) {
    for (const char *c = p; *c;) {
        while (*c == '/')
            c++;
        size_t n = strcspn(c, "/");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 1;
        c += n;
    }
    return 0;
}

/* Resolves an absolute path that may not exist yet: realpath of its
 * longest existing prefix, then the rest as written (without "." or
 * "..": checked first). 0, or -1 with errno (out[PATH_MAX]). */
static int resolve_path(const char *path, char *out) {
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = 0;
    for (;;) {
        char *slash = NULL;
        if (realpath(buf, out)) {
            const char *rest = path + strlen(buf);
            while (*rest == '/')
                rest++;
            size_t o = strlen(out);
            if (*rest) {
                int n = snprintf(out + o, PATH_MAX - o, "%s%s", o > 1 ? "/" : "", rest);
                if (n < 0 || (size_t)n >= PATH_MAX - o) {
                    errno = ENAMETOOLONG;
                    return -1;
                }
                o = strlen(out);
                while (o > 1 && out[o - 1] == '/')
                    out[--o] = 0;
            }
            return 0;
        }
        if (errno != ENOENT || !(slash = strrchr(buf, '/')) || slash == buf) {
            if (errno == ENOENT && slash == buf) { /* only "/" exists */
                snprintf(out, PATH_MAX, "%s", path);
                return 0;
            }
            return -1;
        }
        *slash = 0;
    }
}

/* Whether resolved `path` lies under one of `account`'s roots (one-user
 * mode: the --file-root DIRs): 1 or 0; *nroots counts the roots. */
static int in_file_roots(const tenant *t, const char *account, const char *path, size_t *nroots) {
    *nroots = 0;
    if (t->creds) {
        credentials_account ca;
        if (credentials_account_settings(t->creds, account, &ca) == ERR_OK)
            for (size_t i = 0; i < ca.nfile_roots; i++) {
                (*nroots)++;
                if (credentials_root_contains(ca.file_roots[i], path))
                    return 1;
            }
        for (size_t i = 0; i < t->nroots; i++) {
            char r[PATH_MAX];
            (*nroots)++;
            snprintf(r, sizeof r, "%s%s%s", t->roots[i], strcmp(t->roots[i], "/") ? "/" : "",
                     account ? account : "");
            if (account && account[0] && credentials_root_contains(r, path))
                return 1;
        }
        return 0;
    }
    for (size_t i = 0; i < t->nroots; i++) {
        (*nroots)++;
        if (credentials_root_contains(t->roots[i], path))
            return 1;
    }
    return 0;
}

int tenant_check_uri(const tenant *t, const char *account, const char *uri, const char *field,
                     err_t *e) {
    if (!t || !uri)
        return 0;
    const char *acct = account ? account : "";
    if (!strncmp(uri, "file://", 7)) {
        const char *path = uri + 7;
        char real[PATH_MAX];
        size_t nroots = 0;
        if (!t->creds && t->nroots == 0)
            return 0; /* one-user mode without roots: any path, as before */
        if (path[0] != '/')
            return 0; /* request.c refuses it */
        if (has_dots(path))
            return err_set(e, ERR_VALIDATION,
                           "%s: '%.300s' has a '.' or '..' component: name the directory plainly",
                           field, uri);
        if (resolve_path(path, real))
            return err_set(e, ERR_VALIDATION, "%s: '%.300s' cannot be resolved: %s", field, uri,
                           strerror(errno));
        if (in_file_roots(t, acct, real, &nroots))
            return 0;
        if (t->creds && nroots == 0)
            return err_set(e, ERR_VALIDATION,
                           "%s: '%.300s' is refused: account %s has no file roots (the operator "
                           "grants them with \"file_roots\" in its credentials entry, or with hpod "
                           "--file-root DIR, which gives it DIR/%s)",
                           field, uri, acct, acct);
        return err_set(e, ERR_VALIDATION,
                       "%s: '%.300s' (resolved: '%.300s') is outside the directories %s%s may use",
                       field, uri, real, t->creds ? "account " : "this daemon's jobs",
                       t->creds ? acct : "");
    }
    if (!strncmp(uri, "s3://", 5)) {
        if (!t->creds)
            return 0;
        credentials_account ca;
        credentials_account_settings(t->creds, acct, &ca);
        if (ca.ns3_roots == 0)
            return err_set(e, ERR_VALIDATION,
                           "%s: '%.300s' is refused: account %s has no s3 roots (the operator "
                           "grants them with \"s3_roots\" in its credentials entry)",
                           field, uri, acct);
        if (has_dots(uri + 5))
            return err_set(e, ERR_VALIDATION, "%s: '%.300s' has a '.' or '..' key component", field,
                           uri);
        for (size_t i = 0; i < ca.ns3_roots; i++)
            if (credentials_root_contains(ca.s3_roots[i], uri))
                return 0;
        return err_set(e, ERR_VALIDATION,
                       "%s: '%.300s' is outside the S3 locations account %s may use", field, uri,
                       acct);
    }
    return 0;
}

int tenant_check_request(const tenant *t, const req_tuning *r, err_t *e) {
    tenant_identity id;
    char path[256], f[320];
    int rc;
    if (!t || !r)
        return 0;
    if ((rc = tenant_identity_of(t, r->account, &id, e)))
        return rc;
    for (size_t d = 0; d < r->ndefs; d++) {
        const req_training_def *def = &r->defs[d];
        request_def_path(r, d, "Environment", path, sizeof path);
        for (size_t i = 0; i < def->nenv; i++) {
            const char *what = tenant_env_refused(t, def->env[i].key);
            if (what)
                return err_set(
                    e, ERR_VALIDATION,
                    "%s: key '%.100s' is refused: it changes how programs are loaded or "
                    "started (%s); the operator may allow it with hpod --allow-env %.100s",
                    path, def->env[i].key, what, def->env[i].key);
        }
        request_def_path(r, d, "InputDataConfig", path, sizeof path);
        for (size_t i = 0; i < def->nchannels; i++) {
            snprintf(f, sizeof f, "%s[%zu].DataSource.S3DataSource.S3Uri", path, i);
            if ((rc = tenant_check_uri(t, r->account, def->channels[i].uri, f, e)))
                return rc;
        }
        request_def_path(r, d, "OutputDataConfig.S3OutputPath", path, sizeof path);
        if ((rc = tenant_check_uri(t, r->account, def->output_path, path, e)))
            return rc;
    }
    return 0;
}

image_policy tenant_image_policy(const tenant *t, const char *account) {
    image_policy p = {0};
    if (t && t->creds) {
        p.no_host_programs = !t->allow_host;
        p.account = account;
    }
    return p;
}

/* In multi-tenant mode, DIR/<account> of each --file-root DIR must not
 * meet another account's file_roots. */
static int check_derived_roots(const tenant *t, err_t *e) {
    size_t na = credentials_account_count(t->creds);
    for (size_t a = 0; a < na; a++) {
        const char *acct = credentials_account_id(t->creds, a);
        credentials_account ca;
        credentials_account_settings(t->creds, acct, &ca);
        for (size_t i = 0; i < ca.nfile_roots; i++)
            for (size_t k = 0; k < t->nroots; k++) {
                const char *R = ca.file_roots[i], *D = t->roots[k];
                if (credentials_root_contains(R, D) && na > 1)
                    return err_set(e, ERR_VALIDATION,
                                   "file root '%s' of account %s (credentials[%zu]) contains "
                                   "--file-root %s, under which every other account has its own "
                                   "directory",
                                   R, acct, ca.entry, D);
                if (credentials_root_contains(D, R)) {
                    const char *rest = R + strlen(D);
                    while (*rest == '/')
                        rest++;
                    char comp[CREDENTIALS_ACCOUNT_ID_LEN + 2];
                    size_t n = strcspn(rest, "/");
                    if (n == CREDENTIALS_ACCOUNT_ID_LEN) {
                        memcpy(comp, rest, n);
                        comp[n] = 0;
                        credentials_account other;
                        if (strcmp(comp, acct) &&
                            credentials_account_settings(t->creds, comp, &other) == ERR_OK)
                            return err_set(e, ERR_VALIDATION,
                                           "file root '%s' of account %s (credentials[%zu]) lies "
                                           "in %s/%s, account %s's directory under --file-root",
                                           R, acct, ca.entry, D, comp, comp);
                    }
                }
            }
    }
    return 0;
}

tenant *tenant_new(const tenant_config *cfg, err_t *e) {
    tenant *t = calloc(1, sizeof *t);
    int rc = 0;
    if (!t) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    t->creds = cfg->creds;
    t->allow_host = cfg->allow_host_programs;
    if (cfg->run_as) {
        if (!cfg->run_as[0] || strlen(cfg->run_as) >= sizeof t->run_as) {
            rc = err_set(e, ERR_VALIDATION, "--run-as needs a Unix user name");
            goto out;
        }
        snprintf(t->run_as, sizeof t->run_as, "%s", cfg->run_as);
    }
    if (cfg->nfile_roots > TENANT_ROOTS_MAX || cfg->nallow_env > TENANT_ALLOW_ENV_MAX) {
        rc = err_set(e, ERR_VALIDATION, "at most %d --file-root and %d --allow-env values",
                     TENANT_ROOTS_MAX, TENANT_ALLOW_ENV_MAX);
        goto out;
    }
    for (size_t i = 0; i < cfg->nfile_roots; i++) {
        char real[PATH_MAX];
        struct stat st;
        const char *d = cfg->file_roots[i];
        if (!d || d[0] != '/') {
            rc = err_set(e, ERR_VALIDATION, "--file-root %s: not an absolute path", d ? d : "");
            goto out;
        }
        if (!realpath(d, real) || stat(real, &st) || !S_ISDIR(st.st_mode)) {
            rc = err_set(e, ERR_VALIDATION, "--file-root %s: not an existing directory", d);
            goto out;
        }
        if (!(t->roots[t->nroots] = strdup(real))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
        t->nroots++;
    }
    for (size_t i = 0; i < cfg->nallow_env; i++) {
        const char *k = cfg->allow_env[i];
        if (!k || !k[0]) {
            rc = err_set(e, ERR_VALIDATION, "--allow-env needs a key (or '*')");
            goto out;
        }
        if (!strcmp(k, "*"))
            t->allow_all_env = 1;
        if (!(t->allow_env[t->nallow_env] = strdup(k))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
        t->nallow_env++;
    }
    /* Users are checked now: a typo stops the daemon, not every job. */
    tenant_identity id;
    if (t->run_as[0] &&
        (rc = lookup_user(t->run_as, !strcmp(t->run_as, "root"), "hpod --run-as", &id, e)))
        goto out;
    for (size_t a = 0; a < credentials_account_count(t->creds); a++) {
        const char *acct = credentials_account_id(t->creds, a);
        credentials_account ca;
        credentials_account_settings(t->creds, acct, &ca);
        if (ca.run_as && (rc = tenant_identity_of(t, acct, &id, e)))
            goto out;
    }
    if (t->creds && (rc = check_derived_roots(t, e)))
        goto out;
out:
    if (rc) {
        tenant_free(t);
        t = NULL;
    }
    return t;
}
