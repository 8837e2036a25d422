/* ui_session — the dashboard's sign-in cookie and CSRF token.
 *
 * A session is a signed cookie value, nothing kept on the server:
 *
 *   v1.<account>.<expiry>.<access key>.<mac>
 *
 * account     the 12 digits of the signed-in account;
 * expiry      epoch seconds (decimal) after which the cookie is refused;
 * access key  the key signed in with (A-Z 0-9, not a secret: the caller
 *             checks it is still a key of that account in the credentials);
 * mac         HMAC-SHA256 (OpenSSL) under the signer's key over
 *             "v1|<account>|<access key>|<expiry>", lowercase hex.
 *
 * MACs are compared in constant time (CRYPTO_memcmp). The signer's key is
 * random per daemon (getrandom): a restart signs everyone out.
 *
 * The CSRF token of a session is HMAC-SHA256 under the same key over
 * "csrf|<mac>", hex: stateless, bound to that one cookie, never in it.
 *
 * Nothing is global; a signer is immutable after ui_session_new(), so
 * calls from any thread are safe. */
#ifndef OPENHPO_UI_SESSION_H
#define OPENHPO_UI_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define UI_SESSION_KEY_BYTES 32
#define UI_SESSION_MAC_HEX 64        /* HMAC-SHA256 in hex */
#define UI_SESSION_TTL_S (12 * 3600) /* a sign-in lasts 12 hours */
#define UI_SESSION_VALUE_MAX 256     /* bytes of a cookie value, NUL included */
#define UI_SESSION_CSRF_MAX (UI_SESSION_MAC_HEX + 1)
#define UI_SESSION_ACCOUNT_MAX 16     /* bytes of an account id, NUL included */
#define UI_SESSION_ACCESS_KEY_MAX 129 /* bytes of an access key, NUL included */

typedef struct ui_session ui_session;

/* A signer with a fresh random key, or, when key is not NULL, that key
 * (UI_SESSION_KEY_BYTES, copied; for tests). Caller frees with
 * ui_session_free(). NULL when out of memory or no randomness. */
ui_session *ui_session_new(const unsigned char *key);
void ui_session_free(ui_session *s);

/* Writes the cookie value of `account` signed in with `access_key`,
 * expiring at `expiry`, to out[UI_SESSION_VALUE_MAX]. 0, or -1 when an
 * argument is malformed (account not 12 digits, key empty or too long). */
int ui_session_sign(const ui_session *s, const char *account, const char *access_key,
                    int64_t expiry, char out[UI_SESSION_VALUE_MAX]);

/* Checks cookie value `value` (borrowed; may be NULL) at time `now`: 0 with
 * account[UI_SESSION_ACCOUNT_MAX] and access_key[UI_SESSION_ACCESS_KEY_MAX]
 * filled, or -1 (malformed, wrong MAC, expired). */
int ui_session_verify(const ui_session *s, const char *value, int64_t now,
                      char account[UI_SESSION_ACCOUNT_MAX],
                      char access_key[UI_SESSION_ACCESS_KEY_MAX]);

/* The CSRF token of cookie value `value` (a verified one) into
 * out[UI_SESSION_CSRF_MAX]. 0 or -1. */
int ui_session_csrf(const ui_session *s, const char *value, char out[UI_SESSION_CSRF_MAX]);

/* 1 when a and b (NUL-terminated, either may be NULL) are equal, compared
 * in time independent of where they differ; 0 otherwise. */
int ui_session_equal(const char *a, const char *b);

#endif
