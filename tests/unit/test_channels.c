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
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

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

static void mk(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(mkdir(p, 0700), 0);
}

static int exists_in(const char *dir, const char *name) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* Only the scope's own entries go: "job-<16 hex>" and its .lock/.tmp, not
 * those of "job-2" (a name that starts with "job-"), nor odd names. */
static void test_drop_scope(void **unused) {
    (void)unused;
    char dir[] = "/tmp/hpo-drop-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mk(dir, "job-0123456789abcdef");
    mk(dir, "job-0123456789abcdef.tmp");
    mk(dir, "job-fedcba9876543210");
    mk(dir, "job-2-0123456789abcdef");
    mk(dir, "job-0123456789abcdefX");
    mk(dir, "job-0123");
    assert_int_equal(channels_drop_scope(dir, "job"), 3);
    assert_false(exists_in(dir, "job-0123456789abcdef"));
    assert_false(exists_in(dir, "job-0123456789abcdef.tmp"));
    assert_false(exists_in(dir, "job-fedcba9876543210"));
    assert_true(exists_in(dir, "job-2-0123456789abcdef"));
    assert_true(exists_in(dir, "job-0123456789abcdefX"));
    assert_true(exists_in(dir, "job-0123"));
    assert_int_equal(channels_drop_scope(dir, "job-2"), 1);
    assert_int_equal(channels_drop_scope("/tmp/hpo-no-such-dir-for-drop", "job"), 0);
    util_rm_rf(dir);
}

static void test_uses_s3(void **unused) {
    req_channel ch[2] = {{.name = "a", .uri = "file:///x"}, {.name = "b", .uri = "s3://b/p"}};
    req_training_def def = {.channels = ch, .nchannels = 1};
    assert_false(channels_uses_s3(&def));
    def.nchannels = 2;
    assert_true(channels_uses_s3(&def));
    assert_false(channels_uses_s3(NULL));
}

/* ---- a tiny S3 stand-in: ListObjectsV2 of bucket "bkt" and GETs of its
 * objects, each GET answered after 200 ms (so two fetches overlap), every
 * request counted. Objects: p/a, p/b (5 bytes each) and, when `escape` is
 * set, p/x/../y. ---- */

typedef struct {
    int fd, port;
    int lists, gets; /* guarded by mu */
    int escape;
    pthread_mutex_t mu;
} fake_s3;

typedef struct {
    fake_s3 *f;
    int c;
} conn;

static void *serve_conn(void *arg) {
    conn *k = arg;
    char req[8192];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = read(k->c, req + n, sizeof req - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[n] = 0;
    char body[2048], head[512];
    int status = 200;
    if (!strncmp(req, "GET /bkt/?", 10)) {
        pthread_mutex_lock(&k->f->mu);
        k->f->lists++;
        pthread_mutex_unlock(&k->f->mu);
        snprintf(body, sizeof body,
                 "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated>"
                 "<Contents><Key>p/a</Key><Size>5</Size></Contents>"
                 "<Contents><Key>p/b</Key><Size>5</Size></Contents>%s</ListBucketResult>",
                 k->f->escape ? "<Contents><Key>p/x/../y</Key><Size>5</Size></Contents>" : "");
    } else if (!strncmp(req, "GET /bkt/p/a ", 13) || !strncmp(req, "GET /bkt/p/b ", 13)) {
        pthread_mutex_lock(&k->f->mu);
        k->f->gets++;
        pthread_mutex_unlock(&k->f->mu);
        usleep(200000);
        snprintf(body, sizeof body, "%c%c%c%c%c", req[11], req[11], req[11], req[11], req[11]);
    } else {
        status = 404;
        snprintf(body, sizeof body,
                 "<Error><Code>NoSuchKey</Code><Message>nothing here</Message></Error>");
    }
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                      strlen(body));
    if (write(k->c, head, (size_t)hn) < 0 || write(k->c, body, strlen(body)) < 0) {
        /* the client went away: nothing to do */
    }
    close(k->c);
    free(k);
    return NULL;
}

static void *serve(void *arg) {
    fake_s3 *f = arg;
    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* closed: the test is over */
        conn *k = malloc(sizeof *k);
        k->f = f;
        k->c = c;
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, k);
        pthread_detach(t);
    }
}

static void fake_start(fake_s3 *f, pthread_t *th) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->fd, 64), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    pthread_mutex_init(&f->mu, NULL);
    assert_int_equal(pthread_create(th, NULL, serve, f), 0);
}

static void fake_stop(fake_s3 *f, pthread_t th) {
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(th, NULL);
}

typedef struct {
    const channels_job *j;
    int rc;
    err_t e;
} fetcher;

static void *fetch_thread(void *arg) {
    fetcher *f = arg;
    f->rc = channels_fetch(f->j, &f->e);
    return NULL;
}

static s3_config fake_config(int port) {
    s3_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.endpoint, sizeof c.endpoint, "http://127.0.0.1:%d", port);
    snprintf(c.region, sizeof c.region, "us-east-1");
    snprintf(c.key_id, sizeof c.key_id, "AK");
    snprintf(c.secret, sizeof c.secret, "SK");
    return c;
}

/* Two first fetches of one channel at once: one lists and downloads, the
 * other waits for the lock and finds the entry filled; both jobs get the
 * files. */
static void test_concurrent_first_fetch_downloads_once(void **unused) {
    fake_s3 f = {0};
    pthread_t th, a, b;
    char root[] = "/tmp/test_channels_cacheXXXXXX", cache[4200], j1[4200], j2[4200], p[4400];
    assert_non_null(mkdtemp(root));
    snprintf(cache, sizeof cache, "%s/cache", root);
    snprintf(j1, sizeof j1, "%s/job1", root);
    snprintf(j2, sizeof j2, "%s/job2", root);
    fake_start(&f, &th);
    s3_config c = fake_config(f.port);
    req_channel ch = {.name = "train", .uri = "s3://bkt/p/"};
    req_training_def def = {.channels = &ch, .nchannels = 1};
    channels_job c1 = {
        .def = &def, .job_dir = j1, .cache_dir = cache, .scope = "tune", .s3 = &c, .nhosts = 1};
    channels_job c2 = c1;
    c2.job_dir = j2;
    fetcher f1 = {.j = &c1}, f2 = {.j = &c2};
    assert_int_equal(pthread_create(&a, NULL, fetch_thread, &f1), 0);
    assert_int_equal(pthread_create(&b, NULL, fetch_thread, &f2), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_equal(f1.rc, 0);
    assert_int_equal(f2.rc, 0);
    assert_int_equal(f.lists, 1);
    assert_int_equal(f.gets, 2);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/input/data/train/a", i ? j2 : j1);
        char *text = util_read_file(p, 64, NULL);
        assert_non_null(text);
        assert_string_equal(text, "aaaaa");
        free(text);
    }
    /* a third job of the same tuning job: nothing fetched at all */
    channels_job c3 = c1;
    char j3[4200];
    snprintf(j3, sizeof j3, "%s/job3", root);
    c3.job_dir = j3;
    err_t e = {0};
    assert_int_equal(channels_fetch(&c3, &e), 0);
    assert_int_equal(f.lists, 1);
    assert_int_equal(f.gets, 2);
    /* another tuning job: its own entry */
    char j4[4200];
    snprintf(j4, sizeof j4, "%s/job4", root);
    c3.job_dir = j4;
    c3.scope = "other";
    assert_int_equal(channels_fetch(&c3, &e), 0);
    assert_int_equal(f.lists, 2);
    fake_stop(&f, th);
    util_rm_rf(root);
}

/* A listed key escaping the channel, and a missing object: the fetch fails
 * naming the URI and why, and leaves no cache entry behind. */
static void test_fetch_failures_name_the_uri(void **unused) {
    fake_s3 f = {.escape = 1};
    pthread_t th;
    char root[] = "/tmp/test_channels_failXXXXXX", cache[4200], job[4200];
    assert_non_null(mkdtemp(root));
    snprintf(cache, sizeof cache, "%s/cache", root);
    snprintf(job, sizeof job, "%s/job", root);
    fake_start(&f, &th);
    s3_config c = fake_config(f.port);
    req_channel ch = {.name = "train", .uri = "s3://bkt/p/"};
    req_training_def def = {.channels = &ch, .nchannels = 1};
    channels_job j = {
        .def = &def, .job_dir = job, .cache_dir = cache, .scope = "t", .s3 = &c, .nhosts = 1};
    err_t e = {0};
    assert_int_equal(channels_fetch(&j, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "ClientError: s3://bkt/p/: key 'p/x/../y'"));
    assert_int_equal(f.gets, 0); /* refused before any download */
    f.escape = 0;
    req_channel ch2 = {.name = "m", .uri = "s3://bkt/nope.json", .data_type = "ManifestFile"};
    def.channels = &ch2;
    assert_int_equal(channels_fetch(&j, &e), ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "ClientError: cannot fetch s3://bkt/nope.json: NoSuchKey (404)"));
    /* nothing half-filled is left in the cache: only lock files */
    DIR *d = opendir(cache);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        assert_true(de->d_name[0] == '.' || strstr(de->d_name, ".lock"));
    closedir(d);
    fake_stop(&f, th);
    util_rm_rf(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rel_path),
        cmocka_unit_test(test_key_dir),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_shard_rule),
        cmocka_unit_test(test_link_entry_shards),
        cmocka_unit_test(test_uses_s3),
        cmocka_unit_test(test_drop_scope),
        cmocka_unit_test(test_concurrent_first_fetch_downloads_once),
        cmocka_unit_test(test_fetch_failures_name_the_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
