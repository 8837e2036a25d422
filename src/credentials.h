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

/* Wipes the secrets and frees the set. Accepts NULL. */
void credentials_free(credentials *c);

#endif
