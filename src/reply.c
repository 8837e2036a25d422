#include "reply.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_json(http_response *resp, int status, json_t *body, api_flavor fl) {
    resp->status = status;
    resp->content_type = fl == API_CURRENT ? "application/x-amz-json-1.1" : "application/json";
    if (body) {
        resp->body = json_dumps(body, JSON_COMPACT);
        resp->body_len = resp->body ? strlen(resp->body) : 0;
        json_decref(body);
    }
}

void reply_error(http_response *resp, const err_t *e, api_flavor fl) {
    const char *name = err_name(e->code, fl);
    http_response_header(resp, "x-amzn-ErrorType", name);
    reply_json(resp, err_status(e->code, fl),
               json_pack("{s:s, s:s}", "__type", name, "message", e->msg), fl);
}

static void token_mac(const unsigned char *secret, const char *scope, long long offset,
                      char out[33]) {
    unsigned char mac[32];
    unsigned int len = 0;
    char msg[2048];
    int n = snprintf(msg, sizeof msg, "%s|%lld", scope, offset);
    if (n >= (int)sizeof msg)
        n = (int)sizeof msg - 1;
    HMAC(EVP_sha256(), secret, 32, (const unsigned char *)msg, (size_t)n, mac, &len);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

json_t *reply_token_make(const unsigned char *secret, const char *scope, long long offset) {
    char mac[33], tok[80];
    token_mac(secret, scope, offset, mac);
    snprintf(tok, sizeof tok, "%lld.%s", offset, mac);
    return json_string(tok);
}

int reply_token_read(const unsigned char *secret, const char *scope, const char *tok,
                     long long *offset, err_t *e) {
    char mac[33];
    long long off;
    int used = 0;
    if (!tok || sscanf(tok, "%lld.%n", &off, &used) != 1 || off < 0 || used <= 0 ||
        strlen(tok + used) != 32)
        return err_set(e, ERR_VALIDATION, "NextToken: invalid pagination token");
    token_mac(secret, scope, off, mac);
    if (CRYPTO_memcmp(mac, tok + used, 32))
        return err_set(e, ERR_VALIDATION,
                       "NextToken: invalid pagination token (it does not belong to this "
                       "request)");
    *offset = off;
    return 0;
}
