/* channels: key sanitising (nothing lands outside the channel's directory),
 * the prefix's directory part, the manifest parser, the shard rule (sorted
 * keys, the i-th to host i mod N) through channels_link_entry on a cache
 * entry made here, and channels_uses_s3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "channels.h"
#include "util.h"

static void test_rel_path(void **unused) {
    char out[CHANNELS_REL_MAX + 1];
    err_t e = {0};
    assert_int_equal(channels_rel_path("data/train/a/x.csv", "data/train/", out, sizeof out, &e),
                     0);
    assert_string_equal(out, "a/x.csv");
    assert_int_equal(channels_rel_path("data/train.csv", "data/", out, sizeof out, &e), 0);
    assert_string_equal(out, "train.csv");
    assert_int_equal(channels_rel_path("top.csv", "", out, sizeof out, &e), 0);
    assert_string_equal(out, "top.csv");
    /* "directories" are skipped */
    assert_int_equal(channels_rel_path("data/train/sub/", "data/train/", out, sizeof out, &e), -1);
    assert_int_equal(channels_rel_path("data/train/", "data/train/", out, sizeof out, &e), -1);
    /* nothing may escape the channel's directory, or hide in it */
    static const char *const bad[] = {"data/../etc/passwd", "data/a/../../x", "data/..",
                                      "data/./x",           "data/a//b",      "data//x",
                                      "data/a\nb",          "data/a\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e.msg[0] = 0;
        assert_int_equal(channels_rel_path(bad[i], "data/", out, sizeof out, &e), ERR_VALIDATION);
        assert_true(e.msg[0] != 0);
    }
    assert_int_equal(channels_rel_path("other/x", "data/", out, sizeof out, &e), ERR_VALIDATION);
    char *longk = malloc(CHANNELS_REL_MAX + 16);
    memcpy(longk, "d/", 2);
    memset(longk + 2, 'x', CHANNELS_REL_MAX + 1);
    longk[CHANNELS_REL_MAX + 3] = 0;
    assert_int_equal(channels_rel_path(longk, "d/", out, sizeof out, &e), ERR_VALIDATION);
    free(longk);
}

static void test_key_dir(void **unused) {
    char d[64];
    channels_key_dir("data/train/", d, sizeof d);
    assert_string_equal(d, "data/train/");
    channels_key_dir("data/train", d, sizeof d);
    assert_string_equal(d, "data/");
    channels_key_dir("file.csv", d, sizeof d);
    assert_string_equal(d, "");
}

static void test_manifest(void **unused) {
    char *prefix, **rels;
    size_t n;
    err_t e = {0};
    const char *ok = "[{\"prefix\": \"s3://bkt/pool/\"}, \"a/1.txt\", \"2.txt\"]";
    assert_int_equal(channels_manifest_parse(ok, strlen(ok), &prefix, &rels, &n, &e), 0);
    assert_string_equal(prefix, "s3://bkt/pool/");
    assert_int_equal(n, 2);
    assert_string_equal(rels[0], "a/1.txt");
    assert_string_equal(rels[1], "2.txt");
    free(prefix);
    channels_strings_free(rels, n);
    const char *empty = "[{\"prefix\": \"s3://bkt/p\"}]";
    assert_int_equal(channels_manifest_parse(empty, strlen(empty), &prefix, &rels, &n, &e), 0);
    assert_int_equal(n, 0);
    free(prefix);
    channels_strings_free(rels, n);
    struct {
        const char *text, *why;
    } bad[] = {
        {"this is { not json", "not JSON"},
        {"{\"prefix\": \"s3://b/\"}", "JSON array"},
        {"[\"a.txt\"]", "prefix"},
        {"[{\"prefix\": \"file:///x\"}, \"a\"]", "s3://"},
        {"[{\"prefix\": \"s3://b/\"}, 3]", "element 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(
            channels_manifest_parse(bad[i].text, strlen(bad[i].text), &prefix, &rels, &n, &e),
            ERR_VALIDATION);
        assert_non_null(strstr(e.msg, bad[i].why));
        assert_null(prefix);
        assert_null(rels);
    }
}

static void test_shard_rule(void **unused) {
    assert_int_equal(channels_shard(0, 1), 0);
    assert_int_equal(channels_shard(7, 1), 0);
    assert_int_equal(channels_shard(7, 0), 0);
    assert_int_equal(channels_shard(0, 2), 0);
    assert_int_equal(channels_shard(1, 2), 1);
    assert_int_equal(channels_shard(5, 3), 2);
}

static int exists(const char *dir, const char *rel) {
    char p[4400];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &st) == 0;
}

/* A cache entry of five files (index in key order), linked for two hosts:
 * host 0 gets the 0th, 2nd and 4th, host 1 the others; unsharded, all. */
static void test_link_entry_shards(void **unused) {
    char root[] = "/tmp/test_channelsXXXXXX", entry[4200], p[4400];
    assert_non_null(mkdtemp(root));
    snprintf(entry, sizeof entry, "%s/entry", root);
    static const char *const rels[] = {"a.csv", "b/c.csv", "b/d.csv", "e.csv", "z/y/x.csv"};
    char index[256] = "";
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/data/%s", entry, rels[i]);
        char dir[4400];
        snprintf(dir, sizeof dir, "%s", p);
        *strrchr(dir, '/') = 0;
        assert_int_equal(util_mkdir_p(dir, 0), 0);
        assert_int_equal(util_write_file(p, rels[i], strlen(rels[i]), UTIL_WRITE_PLAIN), 0);
        strcat(index, rels[i]);
        strcat(index, "\n");
    }
    snprintf(p, sizeof p, "%s/index", entry);
    assert_int_equal(util_write_file(p, index, strlen(index), UTIL_WRITE_PLAIN), 0);
    char h0[4200], h1[4200], all[4200];
    snprintf(h0, sizeof h0, "%s/host0", root);
    snprintf(h1, sizeof h1, "%s/host1", root);
    snprintf(all, sizeof all, "%s/all", root);
    err_t e = {0};
    assert_int_equal(channels_link_entry(entry, h0, 1, 0, 2, &e), 0);
    assert_int_equal(channels_link_entry(entry, h1, 1, 1, 2, &e), 0);
    assert_int_equal(channels_link_entry(entry, all, 0, 1, 2, &e), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(exists(h0, rels[i]), i % 2 == 0);
        assert_int_equal(exists(h1, rels[i]), i % 2 == 1);
        assert_true(exists(all, rels[i]));
    }
    /* hard links: the same bytes, no copy */
    struct stat a, b;
    snprintf(p, sizeof p, "%s/data/b/c.csv", entry);
    assert_int_equal(stat(p, &a), 0);
    snprintf(p, sizeof p, "%s/b/c.csv", h1);
    assert_int_equal(stat(p, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    util_rm_rf(root);
}

static void test_uses_s3(void **unused) {
    req_channel ch[2] = {{.name = "a", .uri = "file:///x"}, {.name = "b", .uri = "s3://b/p"}};
    req_training_def def = {.channels = ch, .nchannels = 1};
    assert_false(channels_uses_s3(&def));
    def.nchannels = 2;
    assert_true(channels_uses_s3(&def));
    assert_false(channels_uses_s3(NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rel_path),          cmocka_unit_test(test_key_dir),
        cmocka_unit_test(test_manifest),          cmocka_unit_test(test_shard_rule),
        cmocka_unit_test(test_link_entry_shards), cmocka_unit_test(test_uses_s3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
