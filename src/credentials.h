/* credentials — the access keys hpod accepts (`hpod --credentials FILE`).
 *
 * The file is JSON, one object with one member:
 *
 *   {"credentials": [
 *     {"access_key_id": "AKIAIOSFODNN7EXAMPLE",
 *      "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
 *      "account_id": "123456789012"}
 *   ]}
 *
 *   access_key_id      16-128 characters A-Z 0-9, unique in the file
 *   secret_access_key  1-128 printable ASCII characters, no spaces
 *   account_id         exactly 12 digits: the account the key acts for
 *                      (ARNs and resource ownership use it)
 *
 * and, optionally, settings of the entry's ACCOUNT (tenant.h applies them):
 *
 *   run_as      "unixuser": the Unix user the account's training jobs run
 *               as (1-32 characters A-Z a-z 0-9 . _ -, not starting with
 *               '-'). "root" is refused here: only the operator's global
 *               `hpod --run-as root` may run jobs as root.
 *   file_roots  ["/abs/dir", ...]: the directories under which the
 *               account's file:// channels and output paths must lie. Each
 *               must exist; it is resolved (realpath) at load.
 *   s3_roots    ["s3://bucket", "s3://bucket/prefix", ...]: likewise for
 *               s3:// URIs (bucket, then key prefix by '/'-components).
 *   s3_credentials {"access_key_id": ..., "secret_access_key": ...,
 *               "session_token": ... (optional)}: the keys the account's
 *               S3 transfers (channel downloads, model.tar.gz, checkpoints)
 *               are signed with, instead of the daemon's own (s3.h); the
 *               key id and the secret 1 to 128 printable characters without
 *               spaces (S3-compatible servers have their own key formats),
 *               the token 1 to CREDENTIALS_S3_TOKEN_MAX. They are secrets:
 *               never in a message, wiped when the set is freed.
 *
 * At most CREDENTIALS_ROOTS_MAX roots of each kind. An account with several
 * keys may state a setting in any of its entries; entries that state it must
 * state the same value (lists: the same roots in the same order, after
 * resolution), else the file is refused. No root of one account may equal,
 * contain or lie inside a root of another account (file and s3 alike).
 *
 * Secrets never appear in a message: a JSON syntax error is reported by
 * line, column and kind only (never the text near it, which may be a
 * secret), and a bad secret is described, not quoted.
 *
 * 1 to CREDENTIALS_MAX entries; no other members anywhere (a misspelt field
 * is an error, not a silently ignored key). Because it holds secrets, the
 * file must be a regular file that neither group nor others may access in
 * any way (mode 0600 or 0400, as ssh demands of a private key); any other
 * mode is refused with the chmod that fixes it.
 *
 * A loaded set is immutable: lookups from any number of threads are safe. */
#ifndef OPENHPO_CREDENTIALS_H
#define OPENHPO_CREDENTIALS_H

#include <stddef.h>

#include "err.h"

#define CREDENTIALS_MAX 10000              /* entries in one file */
#define CREDENTIALS_FILE_MAX (1024 * 1024) /* bytes in one file */
#define CREDENTIALS_KEY_ID_MIN 16
#define CREDENTIALS_KEY_ID_MAX 128
#define CREDENTIALS_SECRET_MAX 128
#define CREDENTIALS_ACCOUNT_ID_LEN 12
#define CREDENTIALS_USER_MAX 32       /* bytes of a run_as user name */
#define CREDENTIALS_S3_TOKEN_MAX 4095 /* bytes of an s3_credentials.session_token */
#define CREDENTIALS_ROOTS_MAX 16      /* file_roots, and s3_roots, of one entry */
#define CREDENTIALS_ROOT_MAX 1024     /* bytes of one root (after resolution) */

typedef struct credentials credentials;

/* Loads the credentials file at `path` (format and mode above). Returns a set
 * the caller frees with credentials_free(), or NULL with e set: ERR_FORBIDDEN
 * when the mode lets group or others in, ERR_VALIDATION when the content is
 * not as above (the message names the entry and field), ERR_INTERNAL when the
 * file cannot be read. Messages name the file. */
credentials *credentials_load(const char *path, err_t *e);

/* The same from `len` bytes of JSON at `json` (borrowed), without the file
 * checks; `origin` names the source in messages. */
credentials *credentials_parse(const char *json, size_t len, const char *origin, err_t *e);

/* Finds `access_key_id`: returns ERR_OK and points *secret and *account_id
 * (either may be NULL) at strings owned by `c`, valid until credentials_free(c);
 * or ERR_SIG_UNKNOWN_KEY (also when c or access_key_id is NULL). */
err_code credentials_lookup(const credentials *c, const char *access_key_id, const char **secret,
                            const char **account_id);

/* credentials_lookup() with the sigv4_lookup_fn signature (sigv4.h): pass it
 * with the credentials set as lookup_ctx. */
err_code credentials_sigv4_lookup(void *c, const char *access_key_id, const char **secret,
                                  const char **account_id);

/* Number of keys in the set (0 for NULL). */
size_t credentials_count(const credentials *c);

/* An account's settings (strings owned by the set, valid until
 * credentials_free). */
typedef struct {
    const char *run_as;            /* Unix user, or NULL when no entry states one */
    const char *const *file_roots; /* resolved absolute directories */
    size_t nfile_roots;
    const char *const *s3_roots; /* "s3://bucket[/prefix]", no trailing '/' */
    size_t ns3_roots;
    /* s3_credentials, or NULL when the account has none (token: NULL when
     * not given); owned by the set */
    const char *s3_key_id, *s3_secret, *s3_token;
    size_t entry; /* index of the account's first entry in the file */
} credentials_account;

/* Number of distinct accounts (0 for NULL), and the i-th one's id (sorted;
 * NULL past the last). */
size_t credentials_account_count(const credentials *c);
const char *credentials_account_id(const credentials *c, size_t i);

/* Fills *out with the settings of `account_id`: ERR_OK, or ERR_NOT_FOUND
 * (no key of the set acts for it; *out is then zeroed). */
err_code credentials_account_settings(const credentials *c, const char *account_id,
                                      credentials_account *out);

/* Whether `path` lies at or under `root`, by '/'-separated components (so
 * "/a/b" contains "/a/b" and "/a/b/c" but not "/a/bc"). Both are absolute
 * paths, or both s3:// URIs (bucket, then key components). Purely textual:
 * callers resolve file paths first. 1 or 0. */
int credentials_root_contains(const char *root, const char *path);

/* Wipes the secrets and frees the set. Accepts NULL. */
void credentials_free(credentials *c);

#endif
