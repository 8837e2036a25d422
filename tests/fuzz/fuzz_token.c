/* fuzz_token — libFuzzer harness: pagination tokens (reply.h
 * reply_token_make / reply_token_read).
 *
 * Input: [mode] [offset: 8 bytes, little-endian] text
 *   text    read as a NUL-terminated string (up to its first NUL)
 *   mode    picks which byte of a made token is changed and how
 *
 * 1. `text` is read as a token under a fixed secret and scope "scope".
 *    Checked: on success the offset is >= 0 and a token made for it reads
 *    back to it; on failure the error is ERR_VALIDATION naming NextToken.
 * 2. A token is made for (scope = text, offset = the 8 bytes with the sign
 *    bit cleared: callers pass row counts). Checked: it reads back to that
 *    offset; it does not read under another scope (text with one byte
 *    changed, or one byte longer), nor under another secret, nor with one
 *    of its bytes changed. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

#define FUZZ_TEXT_MAX 8192

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_token: %s: %s\n", what, detail ? detail : "");
    abort();
}

static unsigned char secret[32], other_secret[32];

static void read_must_fail(const unsigned char *sec, const char *scope, const char *tok,
                           const char *what) {
    long long off = -7;
    err_t e = {0};
    if (!reply_token_read(sec, scope, tok, &off, &e))
        fail(what, tok);
    if (e.code != ERR_VALIDATION || !strstr(e.msg, "NextToken"))
        fail("a refused token's error is not a ValidationError naming NextToken", e.msg);
    if (off != -7)
        fail("a refused token set the offset", tok);
}

static char *make(const unsigned char *sec, const char *scope, long long off) {
    json_t *t = reply_token_make(sec, scope, off);
    if (!json_is_string(t))
        fail("reply_token_make gave no string", scope);
    char *s = strdup(json_string_value(t));
    json_decref(t);
    if (!s)
        abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 9)
        return 0;
    if (!secret[1])
        for (int i = 0; i < 32; i++) {
            secret[i] = (unsigned char)i;
            other_secret[i] = (unsigned char)(i ^ (i == 31));
        }
    uint8_t mode = data[0];
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++)
        raw |= (uint64_t)data[1 + i] << (8 * i);
    long long offset = (long long)(raw & INT64_MAX);
    size_t n = strnlen((const char *)data + 9, size - 9);
    if (n > FUZZ_TEXT_MAX)
        n = FUZZ_TEXT_MAX;
    char *text = malloc(n + 2);
    if (!text)
        abort();
    memcpy(text, data + 9, n);
    text[n] = 0;

    /* 1. The text as a token. */
    long long got = -1;
    err_t e = {0};
    if (!reply_token_read(secret, "scope", text, &got, &e)) {
        if (got < 0)
            fail("a token read to a negative offset", text);
        char *again = make(secret, "scope", got);
        long long back = -1;
        if (reply_token_read(secret, "scope", again, &back, NULL) || back != got)
            fail("a remade token does not read back", again);
        free(again);
    } else if (e.code != ERR_VALIDATION || !strstr(e.msg, "NextToken")) {
        fail("a refused token's error is not a ValidationError naming NextToken", e.msg);
    }

    /* 2. Make, read back, and tamper. */
    char *tok = make(secret, text, offset);
    long long back = -1;
    if (reply_token_read(secret, text, tok, &back, &e) || back != offset)
        fail("a made token does not read back", tok);
    read_must_fail(other_secret, text, tok, "a token reads under another secret");
    size_t tl = strlen(tok);
    size_t at = (size_t)mode % tl;
    char was = tok[at];
    tok[at] = (char)(was ^ (1 + (mode >> 5))); /* 1..8: never NUL for printable text */
    read_must_fail(secret, text, tok, "a token with a changed byte reads");
    tok[at] = was;
    text[n] = 'x';
    text[n + 1] = 0;
    read_must_fail(secret, text, tok, "a token reads under a longer scope");
    text[n] = 0;
    if (n) {
        size_t si = (size_t)(raw >> 3) % n;
        char sw = text[si];
        text[si] = (char)(sw ^ 0x20) ? (char)(sw ^ 0x20) : 'y';
        read_must_fail(secret, text, tok, "a token reads under a changed scope");
        text[si] = sw;
    }
    free(tok);
    free(text);
    return 0;
}
