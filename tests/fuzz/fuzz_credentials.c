/* fuzz_credentials — libFuzzer harness: the credentials file parser
 * (credentials.h credentials_parse, credentials_lookup).
 *
 * Input: the file's bytes, given to credentials_parse() in a buffer of
 * exactly that size (no NUL after it, so ASan sees any read past it).
 *
 * Checked (abort on violation): a refusal is ERR_VALIDATION with a message
 * naming the origin; an accepted set has 1 to CREDENTIALS_MAX keys, the
 * input is (for jansson, an independent parse) an object whose only member
 * "credentials" is an array of that many entries, and every entry's
 * access_key_id looks up to its own secret_access_key and account_id, which
 * obey the header's rules (16-128 of A-Z 0-9; 1-128 printable ASCII without
 * spaces; exactly 12 digits); keys not in the file are unknown. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credentials.h"

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_credentials: %s: %s\n", what, detail ? detail : "");
    abort();
}

static int all_of(const char *s, const char *set_or_null_for_printable) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (set_or_null_for_printable ? !strchr(set_or_null_for_printable, c)
                                      : (c <= 0x20 || c >= 0x7f))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    err_t e = {0};
    if (!buf)
        abort();
    memcpy(buf, data, size);
    credentials *c = credentials_parse(buf, size, "fuzz.json", &e);
    if (!c) {
        if (e.code != ERR_VALIDATION || !strstr(e.msg, "fuzz.json"))
            fail("a refusal is not a ValidationError naming the origin", e.msg);
        free(buf);
        return 0;
    }
    size_t n = credentials_count(c);
    if (n < 1 || n > CREDENTIALS_MAX)
        fail("accepted a set of the wrong size", NULL);
    json_t *js = json_loadb(buf, size, JSON_REJECT_DUPLICATES, NULL);
    if (!js)
        js = json_loadb(buf, size, 0, NULL);
    json_t *list = json_object_get(js, "credentials");
    if (!json_is_object(js) || json_object_size(js) != 1 || !json_is_array(list) ||
        json_array_size(list) != n)
        fail("accepted a file that is not {\"credentials\": [n entries]}", NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *ent = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(ent, "access_key_id"));
        const char *sec = json_string_value(json_object_get(ent, "secret_access_key"));
        const char *acct = json_string_value(json_object_get(ent, "account_id"));
        const char *got_sec = NULL, *got_acct = NULL;
        if (!id || !sec || !acct || json_object_size(ent) != 3)
            fail("accepted an entry without exactly its three fields", NULL);
        size_t il = strlen(id), sl = strlen(sec);
        if (il < CREDENTIALS_KEY_ID_MIN || il > CREDENTIALS_KEY_ID_MAX ||
            !all_of(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
            fail("accepted a bad access_key_id", id);
        if (sl < 1 || sl > CREDENTIALS_SECRET_MAX || !all_of(sec, NULL))
            fail("accepted a bad secret_access_key", NULL);
        if (strlen(acct) != CREDENTIALS_ACCOUNT_ID_LEN || !all_of(acct, "0123456789"))
            fail("accepted a bad account_id", acct);
        if (credentials_lookup(c, id, &got_sec, &got_acct) != ERR_OK || !got_sec || !got_acct ||
            strcmp(got_sec, sec) || strcmp(got_acct, acct))
            fail("a key does not look up to its own entry", id);
        if (credentials_sigv4_lookup(c, id, &got_sec, &got_acct) != ERR_OK)
            fail("credentials_sigv4_lookup disagrees with credentials_lookup", id);
    }
    if (credentials_lookup(c, "AKIA-NOT-A-KEY", NULL, NULL) != ERR_SIG_UNKNOWN_KEY ||
        credentials_lookup(c, NULL, NULL, NULL) != ERR_SIG_UNKNOWN_KEY)
        fail("an unknown key is found", NULL);
    json_decref(js);
    credentials_free(c);
    free(buf);
    return 0;
}
