/* tenant — who may run what, as whom, touching which files: the policy,
 * in one place.
 *
 * Two modes, from how hpod was started:
 *   one-user      no --credentials (loopback, one user): every caller is the
 *                 operator. Jobs run as the daemon's user (or --run-as
 *                 USER), host programs are allowed, and file:// URIs may
 *                 name any path unless --file-root DIR is given (then they
 *                 must lie under one of those DIRs).
 *   multi-tenant  --credentials FILE (several accounts, SigV4): callers are
 *                 not trusted with each other's data, nor with the daemon's.
 *
 * What is checked (tenant_check_request, when a job is created and again
 * at each launch; messages are ValidationErrors naming the field, key or
 * URI in the request's own API paths):
 *   - Environment: keys that change how programs are loaded or started
 *     (TENANT_ENV_REFUSED below) are refused in both modes unless the
 *     operator allows them (--allow-env KEY; --allow-env '*' allows all).
 *   - file:// channels and S3OutputPath: the path is resolved (realpath of
 *     its longest existing part; "." and ".." components are refused) and
 *     must lie, by path components, under one of the account's roots. In
 *     multi-tenant mode an account's roots are its credentials entry's
 *     "file_roots" plus DIR/<account_id> for each --file-root DIR (taken
 *     literally: make it a real directory, not a symlink); an account with
 *     no roots has every file:// URI refused. In one-user mode the roots are
 *     the --file-root DIRs, and without any, any path is allowed (as before).
 *   - s3:// URIs: in multi-tenant mode they must lie under the account's
 *     "s3_roots" (bucket, then key components); an account without any has
 *     every s3:// URI refused. One-user mode: any.
 *   - As whom (tenant_identity_of): one-user mode runs jobs as the daemon's
 *     user (run_as 0), or as --run-as USER. Multi-tenant mode runs them as
 *     the account's "run_as", else --run-as USER, else refuses the job
 *     (never as the daemon's user). A user resolving to uid 0 is accepted
 *     only when the operator literally said --run-as root (credentials.c
 *     refuses "run_as": "root"; another name with uid 0 is refused here).
 *     A daemon that is not root and is told to run jobs as its own user
 *     runs them as itself (run_as 0: there is nothing to drop to).
 *     The identity is resolved when a job is created and again at each
 *     launch (users may have changed across a restart): a launch that
 *     cannot resolve it fails the training job with the reason.
 *   - What may run (tenant_image_policy, applied by image.c): in
 *     multi-tenant mode TrainingImage resolves only through the image
 *     catalog (entries may be limited to accounts), unless
 *     --allow-host-programs, which trusts every caller with any program the
 *     job's user may execute.
 *
 * A NULL tenant is one-user mode with no option given (tests).
 * A tenant is immutable once made: any thread may use it. */
#ifndef OPENHPO_TENANT_H
#define OPENHPO_TENANT_H

#include <stddef.h>
#include <sys/types.h>

#include "credentials.h"
#include "err.h"
#include "image.h"
#include "request.h"

#define TENANT_ROOTS_MAX 64     /* --file-root values */
#define TENANT_ALLOW_ENV_MAX 64 /* --allow-env values */
#define TENANT_USER_MAX 64      /* bytes of a user name, NUL included */
#define TENANT_HOME_MAX 1024    /* bytes of a home directory, NUL included */
#define TENANT_PW_BUF 16384     /* getpwnam_r's buffer */

/* Environment keys that change how a program is loaded or started: a key
 * equal to NAME (or, for prefix rows, starting with it) is refused unless
 * allowed. TMPDIR is NOT listed: it moves scratch files, not code (a job
 * can write where it likes anyway). */
/* clang-format off */
/*  name                  prefix  what it does */
#define TENANT_ENV_REFUSED(X)                                                    \
    X("LD_",               1, "the dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH, ...)") \
    X("GCONV_PATH",        0, "glibc loads iconv modules from it")              \
    X("GLIBC_TUNABLES",    0, "glibc's tunables")                               \
    X("LOCPATH",           0, "glibc's locale files")                           \
    X("MALLOC_",           1, "glibc's allocator")                              \
    X("BASH_ENV",          0, "a file bash runs at start")                      \
    X("ENV",               0, "a file sh runs at start")                        \
    X("BASH_FUNC_",        1, "bash functions imported from the environment")   \
    X("SHELLOPTS",         0, "bash options (xtrace, ...)")                     \
    X("BASHOPTS",          0, "bash options")                                   \
    X("IFS",               0, "how shells split words")                         \
    X("PS4",               0, "bash expands it on every traced command")        \
    X("PATH",              0, "where programs are found")                       \
    X("PYTHONSTARTUP",     0, "a file Python runs at start")                    \
    X("PYTHONPATH",        0, "where Python imports from")                      \
    X("PYTHONHOME",        0, "Python's standard library")                      \
    X("PYTHONINSPECT",     0, "Python's interactive mode")                      \
    X("PYTHONUSERBASE",    0, "Python's user site-packages")                    \
    X("PYTHONBREAKPOINT",  0, "a callable Python imports")                      \
    X("PERL5OPT",          0, "perl command-line options")                      \
    X("PERL5LIB",          0, "where perl loads modules from")                  \
    X("PERLLIB",           0, "where perl loads modules from")                  \
    X("PERL5DB",           0, "perl's debugger code")                           \
    X("RUBYOPT",           0, "ruby command-line options")                      \
    X("RUBYLIB",           0, "where ruby loads code from")                     \
    X("NODE_OPTIONS",      0, "node command-line options (--require)")          \
    X("NODE_PATH",         0, "where node loads modules from")                  \
    X("JAVA_TOOL_OPTIONS", 0, "JVM options (-javaagent)")                       \
    X("_JAVA_OPTIONS",     0, "JVM options")                                    \
    X("JDK_JAVA_OPTIONS",  0, "JVM options")
/* clang-format on */

typedef struct tenant tenant;

typedef struct {
    const credentials *creds;      /* borrowed, outlives the tenant; NULL = one-user mode */
    int allow_host_programs;       /* --allow-host-programs */
    const char *run_as;            /* --run-as USER, or NULL */
    const char *const *file_roots; /* --file-root DIRs (borrowed) */
    size_t nfile_roots;
    const char *const *allow_env; /* --allow-env KEYs (borrowed); "*" allows every key */
    size_t nallow_env;
} tenant_config;

/* Makes the policy. Checks what can be checked at start, so that hpod
 * refuses to start rather than fail jobs later: every --file-root exists
 * (resolved here); --run-as and every account's run_as name existing users
 * (messages name the user and the credentials entry, never a secret), none
 * but a literal --run-as root of uid 0; in multi-tenant mode, no account's
 * DIR/<account_id> equals, contains or lies inside another account's
 * file_roots. NULL with e set (ERR_VALIDATION). Caller frees with
 * tenant_free(). */
tenant *tenant_new(const tenant_config *cfg, err_t *e);
void tenant_free(tenant *t);

/* 1 in multi-tenant mode (credentials given), 0 otherwise (NULL too). */
int tenant_multi(const tenant *t);

/* As whom a job runs. */
typedef struct {
    int run_as; /* 0: as the daemon's own user; 1: as uid/gid (backend_launch.run_as) */
    uid_t uid;
    gid_t gid;
    char user[TENANT_USER_MAX];
    char home[TENANT_HOME_MAX]; /* "" when unknown */
    /* The account's s3_credentials (credentials.h; borrowed from the set,
     * which outlives the tenant), or NULL: its S3 transfers are signed with
     * the daemon's keys (s3.h). */
    const char *s3_key_id, *s3_secret, *s3_token;
} tenant_identity;

/* The identity account `account`'s jobs run as (see above). 0 with *out
 * filled, or ERR_VALIDATION with a message that says how to fix it. */
int tenant_identity_of(const tenant *t, const char *account, tenant_identity *out, err_t *e);

/* The rule that refuses Environment key `key` (its TENANT_ENV_REFUSED
 * description), or NULL when the key may be set (not listed, or allowed). */
const char *tenant_env_refused(const tenant *t, const char *key);

/* Checks one URI of `account` (a channel's S3Uri or an S3OutputPath;
 * `field` names it in messages): 0, or ERR_VALIDATION naming field and URI.
 * URIs that are neither file:// nor s3:// are request.c's business (0). */
int tenant_check_uri(const tenant *t, const char *account, const char *uri, const char *field,
                     err_t *e);

/* Everything above for request `r` (account r->account): its identity,
 * each definition's Environment keys, channels and output path. 0 or
 * ERR_VALIDATION. */
int tenant_check_request(const tenant *t, const req_tuning *r, err_t *e);

/* What image.c may resolve for `account` (borrowed; valid while t is). */
image_policy tenant_image_policy(const tenant *t, const char *account);

#endif
