/* ui_session — the dashboard's signed session cookie and its CSRF token
 * (see ui_session.h for the format). */
#include "ui_session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct ui_session {
    unsigned char key[UI_SESSION_KEY_BYTES];
};

/* The bytes HMAC'd for a cookie or a token: at most this many. */
#define MSG_MAX 512

ui_session *ui_session_new(const unsigned char *key) {
    ui_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (key)
        memcpy(s->key, key, sizeof s->key);
    else if (getrandom(s->key, sizeof s->key, 0) != (ssize_t)sizeof s->key) {
        free(s);
        return NULL;
    }
    return s;
}

void ui_session_free(ui_session *s) {
    if (!s)
        return;
    OPENSSL_cleanse(s->key, sizeof s->key);
    free(s);
}

static void hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

/* HMAC-SHA256 of msg[n] under s's key, hex, into out[UI_SESSION_MAC_HEX + 1]. */
static int mac_hex(const ui_session *s, const char *msg, size_t n, char *out) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), s->key, (int)sizeof s->key, (const unsigned char *)msg, n, md, &len) ||
        len != UI_SESSION_MAC_HEX / 2)
        return -1;
    hex(md, len, out);
    return 0;
}

/* An access key as credentials.h allows: A-Z 0-9 (so no '.' in a cookie). */
static int is_key(const char *k) {
    size_t n = 0;
    for (; k[n]; n++)
        if (!((k[n] >= 'A' && k[n] <= 'Z') || (k[n] >= '0' && k[n] <= '9')))
            return 0;
    return n > 0 && n < UI_SESSION_ACCESS_KEY_MAX;
}

static int is_account(const char *a) {
    size_t n = 0;
    for (; a[n]; n++)
        if (a[n] < '0' || a[n] > '9')
            return 0;
    return n == UI_SESSION_ACCOUNT_MAX - 4; /* 12 digits */
}

/* The MAC of (account, access key, expiry), hex. */
static int cookie_mac(const ui_session *s, const char *account, const char *access_key,
                      int64_t expiry, char *out) {
    char msg[MSG_MAX];
    int n = snprintf(msg, sizeof msg, "v1|%s|%s|%lld", account, access_key, (long long)expiry);
    if (n < 0 || (size_t)n >= sizeof msg)
        return -1;
    return mac_hex(s, msg, (size_t)n, out);
}

int ui_session_sign(const ui_session *s, const char *account, const char *access_key,
                    int64_t expiry, char out[UI_SESSION_VALUE_MAX]) {
    char mac[UI_SESSION_MAC_HEX + 1];
    if (!s || !account || !access_key || !is_account(account) || !is_key(access_key) || expiry <= 0)
        return -1;
    if (cookie_mac(s, account, access_key, expiry, mac))
        return -1;
    int n = snprintf(out, UI_SESSION_VALUE_MAX, "v1.%s.%lld.%s.%s", account, (long long)expiry,
                     access_key, mac);
    return n > 0 && n < UI_SESSION_VALUE_MAX ? 0 : -1;
}

int ui_session_equal(const char *a, const char *b) {
    if (!a || !b)
        return 0;
    size_t na = strlen(a), nb = strlen(b);
    if (na != nb)
        return 0;
    return CRYPTO_memcmp(a, b, na) == 0;
}

/* Splits value into its 5 '.'-separated fields (copied into buf). */
static int split(const char *value, char *buf, size_t cap, char *f[5]) {
    size_t n = strlen(value);
    if (n >= cap)
        return -1;
    memcpy(buf, value, n + 1);
    int k = 0;
    f[k++] = buf;
    for (char *p = buf; *p; p++)
        if (*p == '.') {
            if (k == 5)
                return -1;
            *p = 0;
            f[k++] = p + 1;
        }
    return k == 5 ? 0 : -1;
}

int ui_session_verify(const ui_session *s, const char *value, int64_t now,
                      char account[UI_SESSION_ACCOUNT_MAX],
                      char access_key[UI_SESSION_ACCESS_KEY_MAX]) {
    char buf[UI_SESSION_VALUE_MAX], mac[UI_SESSION_MAC_HEX + 1], *f[5], *end;
    if (!s || !value || split(value, buf, sizeof buf, f) || strcmp(f[0], "v1") ||
        !is_account(f[1]) || !is_key(f[3]) || strlen(f[4]) != UI_SESSION_MAC_HEX)
        return -1;
    long long expiry = strtoll(f[2], &end, 10);
    if (*end || end == f[2] || f[2][0] < '1' || f[2][0] > '9' || expiry < now)
        return -1;
    if (cookie_mac(s, f[1], f[3], expiry, mac) || !ui_session_equal(mac, f[4]))
        return -1;
    snprintf(account, UI_SESSION_ACCOUNT_MAX, "%s", f[1]);
    snprintf(access_key, UI_SESSION_ACCESS_KEY_MAX, "%s", f[3]);
    return 0;
}

int ui_session_csrf(const ui_session *s, const char *value, char out[UI_SESSION_CSRF_MAX]) {
    char msg[MSG_MAX];
    const char *mac;
    if (!s || !value || !(mac = strrchr(value, '.')))
        return -1;
    int n = snprintf(msg, sizeof msg, "csrf|%s", mac + 1);
    if (n < 0 || (size_t)n >= sizeof msg)
        return -1;
    return mac_hex(s, msg, (size_t)n, out);
}
