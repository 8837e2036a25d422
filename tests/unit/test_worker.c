/* The worker thread with a real loop: jobs run off the loop thread and their
 * done() callbacks come back on it, in order; worker_free() cancels what is
 * still queued; the queue's cap; the worker blocks every signal. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "loop.h"
#include "worker.h"

#define NJOBS 50
#define CANCEL_JOBS 5

typedef struct {
    worker *w;
    loop *l;
    pthread_t loop_thread;
    int ran[WORKER_QUEUE_MAX + 1];        /* run() calls per job */
    pthread_t run_thread[NJOBS];          /* where run() ran */
    int done_order[WORKER_QUEUE_MAX + 1]; /* job index of the k-th done() */
    int done_cancelled[WORKER_QUEUE_MAX + 1];
    int ndone;
    int off_loop;   /* done() calls not on the loop thread */
    int blocked_ok; /* run(): every signal blocked */
    int chain_left; /* jobs a done() still submits */
    int timed_out;
    pthread_mutex_t mu;
    int started; /* job 0 of the cancel test has begun its run() (mu) */
    pthread_cond_t cv;
} fixture;

typedef struct {
    fixture *f;
    int i;
} job;

static job jobs[WORKER_QUEUE_MAX + 1];

static void run_record(void *arg) {
    job *j = arg;
    sigset_t cur;
    j->f->ran[j->i]++;
    if (j->i < NJOBS)
        j->f->run_thread[j->i] = pthread_self();
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (sigismember(&cur, SIGTERM) == 1 && sigismember(&cur, SIGINT) == 1 &&
        sigismember(&cur, SIGCHLD) == 1 && sigismember(&cur, SIGHUP) == 1 &&
        sigismember(&cur, SIGUSR1) == 1)
        j->f->blocked_ok++;
}

static void done_record(void *arg, int cancelled) {
    job *j = arg;
    fixture *f = j->f;
    if (!pthread_equal(pthread_self(), f->loop_thread))
        f->off_loop++;
    f->done_order[f->ndone] = j->i;
    f->done_cancelled[f->ndone] = cancelled;
    f->ndone++;
    if (f->chain_left > 0) {
        /* done() callbacks may submit */
        int k = NJOBS - f->chain_left--;
        jobs[k] = (job){f, k};
        assert_int_equal(worker_submit(f->w, run_record, done_record, &jobs[k]), 0);
    }
    if (f->ndone == NJOBS && f->l)
        loop_stop(f->l);
}

/* Fails the test instead of hanging when done() never comes. */
static void on_tick(loop *l, void *ud) {
    fixture *f = ud;
    f->timed_out = 1;
    loop_stop(l);
}

static void setup_fixture(fixture *f) {
    memset(f, 0, sizeof *f);
    f->loop_thread = pthread_self();
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

static void test_jobs_in_order_on_loop(void **unused) {
    fixture f;
    err_t e = {0};
    sigset_t before, after, usr1;
    setup_fixture(&f);
    /* the creating thread's mask is restored after pthread_create */
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    assert_non_null(f.l = loop_new());
    assert_non_null(f.w = worker_new(f.l, &e));
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    assert_int_equal(sigismember(&after, SIGUSR1), 0);
    assert_int_equal(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
    loop_set_tick(f.l, 10000, on_tick, &f);

    /* half submitted up front, the rest by done() callbacks */
    f.chain_left = NJOBS / 2;
    for (int i = 0; i < NJOBS / 2; i++) {
        jobs[i] = (job){&f, i};
        assert_int_equal(worker_submit(f.w, run_record, done_record, &jobs[i]), 0);
    }
    assert_int_equal(loop_run(f.l), 0);
    assert_false(f.timed_out);
    assert_int_equal(f.ndone, NJOBS);
    assert_int_equal(f.off_loop, 0);
    assert_int_equal(f.blocked_ok, NJOBS);
    for (int i = 0; i < NJOBS; i++) {
        assert_int_equal(f.done_order[i], i);
        assert_int_equal(f.done_cancelled[i], 0);
        assert_int_equal(f.ran[i], 1);
        assert_false(pthread_equal(f.run_thread[i], f.loop_thread));
    }
    assert_int_equal(worker_pending(f.w), 0);
    worker_free(f.w);
    assert_int_equal(f.ndone, NJOBS); /* nothing delivered twice */
    loop_free(f.l);
}

/* Job 0 holds the worker until worker_free() has begun. */
static void run_hold(void *arg) {
    job *j = arg;
    fixture *f = j->f;
    struct timespec ms = {0, 1000000};
    f->ran[j->i]++;
    pthread_mutex_lock(&f->mu);
    f->started = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    while (!worker_stopping(f->w))
        nanosleep(&ms, NULL);
}

static void test_free_cancels_queued(void **unused) {
    fixture f;
    err_t e = {0};
    setup_fixture(&f);
    assert_non_null(f.l = loop_new());
    assert_non_null(f.w = worker_new(f.l, &e));
    assert_int_equal(worker_stopping(f.w), 0);
    jobs[0] = (job){&f, 0};
    assert_int_equal(worker_submit(f.w, run_hold, done_record, &jobs[0]), 0);
    pthread_mutex_lock(&f.mu);
    while (!f.started)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    /* job 0 is running: fill the queue to its cap */
    for (int i = 1; i < WORKER_QUEUE_MAX; i++) {
        jobs[i] = (job){&f, i};
        assert_int_equal(worker_submit(f.w, run_record, done_record, &jobs[i]), 0);
    }
    jobs[WORKER_QUEUE_MAX] = (job){&f, WORKER_QUEUE_MAX};
    assert_int_equal(worker_submit(f.w, run_record, done_record, &jobs[WORKER_QUEUE_MAX]), -1);
    assert_int_equal(worker_pending(f.w), WORKER_QUEUE_MAX);
    worker_free(f.w); /* no loop iteration ran: every done() comes from here */
    assert_int_equal(f.ndone, WORKER_QUEUE_MAX);
    assert_int_equal(f.off_loop, 0);
    assert_int_equal(f.ran[0], 1);
    assert_int_equal(f.done_order[0], 0);
    assert_int_equal(f.done_cancelled[0], 0);
    for (int i = 1; i < WORKER_QUEUE_MAX; i++) {
        assert_int_equal(f.done_order[i], i);
        assert_int_equal(f.done_cancelled[i], 1);
        assert_int_equal(f.ran[i], 0);
    }
    assert_int_equal(f.ran[WORKER_QUEUE_MAX], 0);
    loop_free(f.l);
}

static void test_free_null_and_idle(void **unused) {
    fixture f;
    err_t e = {0};
    setup_fixture(&f);
    worker_free(NULL);
    assert_non_null(f.l = loop_new());
    assert_non_null(f.w = worker_new(f.l, &e));
    assert_int_equal(worker_submit(f.w, NULL, done_record, &jobs[0]), -1);
    worker_free(f.w);
    assert_int_equal(f.ndone, 0);
    loop_free(f.l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_in_order_on_loop),
        cmocka_unit_test(test_free_cancels_queued),
        cmocka_unit_test(test_free_null_and_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
