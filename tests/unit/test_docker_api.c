/* docker_api against a fake engine on a unix socket: the log stream's
 * frames demultiplexed whatever the chunking (a header split across reads,
 * a payload across several), stdout and stderr kept in order; JSON calls
 * and the error text; an engine that is not there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "docker_api.h"

typedef struct {
    int lfd;
    const char *const *pieces; /* written one by one, 10 ms apart */
    const size_t *lens;
    size_t n;
} server;

static void *serve(void *arg) {
    server *s = arg;
    int c = accept(s->lfd, NULL, NULL);
    char buf[4096];
    size_t got = 0;
    while (c >= 0 && got < sizeof buf - 1) { /* the request's head */
        ssize_t r = read(c, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = 0;
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    for (size_t i = 0; c >= 0 && i < s->n; i++) {
        if (write(c, s->pieces[i], s->lens[i]) < 0)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (c >= 0)
        close(c);
    return NULL;
}

static int listen_on(char *path, size_t n) {
    snprintf(path, n, "/tmp/hpo-dapi-%d.sock", (int)getpid());
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

typedef struct {
    char out[256];
    size_t n;
} sink;

static void on_data(void *ud, const char *p, size_t n) {
    sink *k = ud;
    if (k->n + n < sizeof k->out) {
        memcpy(k->out + k->n, p, n);
        k->n += n;
    }
}

static int go_on(void *ud) {
    return 1;
}

static void test_log_frames_any_chunking(void **unused) {
    char path[108];
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream"
                               "\r\nConnection: close\r\n\r\n";
    /* stdout "hello " + "world\n" (one frame in two pieces, its header
     * split too), stderr "oops\n", stdout "end\n". */
    static const char f1[] = {1,   0,   0,   0,   0,   0,   0,   12,  'h', 'e',
                              'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'};
    static const char f2[] = {2, 0, 0, 0, 0, 0, 0, 5, 'o', 'o', 'p', 's', '\n',
                              1, 0, 0, 0, 0, 0, 0, 4, 'e', 'n', 'd', '\n'};
    const char *pieces[] = {head, f1, f1 + 3, f1 + 11, f2};
    const size_t lens[] = {sizeof head - 1, 3, 8, sizeof f1 - 11, sizeof f2};
    server s = {listen_on(path, sizeof path), pieces, lens, 5};
    pthread_t th;
    sink k = {{0}, 0};
    err_t e = {0};
    assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);
    assert_int_equal(docker_follow_logs(path, "abc", 0, on_data, go_on, &k, &e), 0);
    pthread_join(th, NULL);
    close(s.lfd);
    unlink(path);
    k.out[k.n] = 0;
    assert_string_equal(k.out, "hello world\noops\nend\n");
}

static void test_json_call_and_errors(void **unused) {
    char path[108];
    static const char r[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                            "Content-Length: 30\r\nConnection: close\r\n\r\n"
                            "{\"message\":\"No such image: x\"}";
    const char *pieces[] = {r};
    const size_t lens[] = {sizeof r - 1};
    server s = {listen_on(path, sizeof path), pieces, lens, 1};
    pthread_t th;
    err_t e = {0};
    long st = 0;
    json_t *out = NULL;
    char m[128];
    assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);
    assert_int_equal(docker_call(path, "GET", "/images/x/json", NULL, 0, &st, &out, &e), 0);
    pthread_join(th, NULL);
    close(s.lfd);
    unlink(path);
    assert_int_equal(st, 404);
    docker_error_text(out, st, m, sizeof m);
    assert_string_equal(m, "No such image: x");
    json_decref(out);
    docker_error_text(NULL, 500, m, sizeof m);
    assert_string_equal(m, "HTTP 500");
    /* Nobody there. */
    assert_int_equal(docker_call("/tmp/hpo-no-such.sock", "GET", "/_ping", NULL, 0, &st, NULL, &e),
                     ERR_UNAVAILABLE);
    assert_non_null(strstr(e.msg, "/tmp/hpo-no-such.sock"));
    char q[64] = "";
    docker_urlencode(q, sizeof q, "{\"a\": [\"b=c/d\"]}");
    assert_string_equal(q, "%7B%22a%22%3A%20%5B%22b%3Dc%2Fd%22%5D%7D");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_frames_any_chunking),
        cmocka_unit_test(test_json_call_and_errors),
    };
    docker_api_init();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    docker_api_cleanup();
    return rc;
}
