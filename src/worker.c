/* worker — one background thread for slow work (worker.h).
 *
 * Jobs sit in one ring of WORKER_QUEUE_MAX slots in submission order. The
 * thread runs them front to back, so the jobs whose run() has returned are
 * always a prefix of the ring: [head, head + nran) ran, the job after them
 * may be running, the rest are queued. After each run() the thread writes
 * the eventfd; the loop's callback takes the ran prefix out of the ring and
 * calls done(arg, 0) for each, outside the lock (a done() may submit).
 *
 * The ring and the flags are shared by both threads and guarded by `mu`;
 * `cv` wakes the thread when a job is queued or the worker stops. */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
    void (*run)(void *arg);
    void (*done)(void *arg, int cancelled);
    void *arg;
} worker_job;

struct worker {
    loop *l;
    int efd;
    int started; /* the thread exists (worker_free joins it) */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu: */
    worker_job ring[WORKER_QUEUE_MAX];
    size_t head, count; /* oldest undelivered job; jobs undelivered */
    size_t nran;        /* of those, the prefix whose run() returned */
    int stopping;
};

static void *worker_main(void *ud) {
    worker *w = ud;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stopping && w->nran == w->count)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stopping)
            break;
        worker_job j = w->ring[(w->head + w->nran) % WORKER_QUEUE_MAX];
        pthread_mutex_unlock(&w->mu);
        j.run(j.arg);
        pthread_mutex_lock(&w->mu);
        w->nran++;
        pthread_mutex_unlock(&w->mu);
        uint64_t one = 1;
        /* EAGAIN only when the counter is near overflow: the loop is
         * already woken. */
        while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Takes the ran prefix out of the ring into `out` (WORKER_QUEUE_MAX). */
static size_t take_ran(worker *w, worker_job *out) {
    size_t k;
    pthread_mutex_lock(&w->mu);
    k = w->nran;
    for (size_t i = 0; i < k; i++)
        out[i] = w->ring[(w->head + i) % WORKER_QUEUE_MAX];
    w->head = (w->head + k) % WORKER_QUEUE_MAX;
    w->count -= k;
    w->nran = 0;
    pthread_mutex_unlock(&w->mu);
    return k;
}

static void on_event(loop *l, int fd, uint32_t events, void *ud) {
    worker *w = ud;
    uint64_t v;
    worker_job jobs[WORKER_QUEUE_MAX];
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    size_t k = take_ran(w, jobs);
    for (size_t i = 0; i < k; i++)
        jobs[i].done(jobs[i].arg, 0);
}

worker *worker_new(loop *l, err_t *e) {
    worker *w = calloc(1, sizeof *w);
    sigset_t all, old;
    int rc;
    if (!w) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    w->l = l;
    w->efd = -1;
    if (pthread_mutex_init(&w->mu, NULL)) {
        free(w);
        err_set(e, ERR_INTERNAL, "worker: mutex init failed");
        return NULL;
    }
    if (pthread_cond_init(&w->cv, NULL)) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        err_set(e, ERR_INTERNAL, "worker: condition variable init failed");
        return NULL;
    }
    if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        err_set(e, ERR_INTERNAL, "worker: eventfd: %s", strerror(errno));
        goto fail;
    }
    if (loop_add(l, w->efd, EPOLLIN, on_event, w)) {
        close(w->efd);
        w->efd = -1;
        err_set(e, ERR_INTERNAL, "worker: cannot watch its eventfd");
        goto fail;
    }
    /* The new thread inherits the creating thread's mask: block everything
     * around pthread_create, then restore. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->th, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        err_set(e, ERR_INTERNAL, "worker: pthread_create: %s", strerror(rc));
        goto fail;
    }
    w->started = 1;
    return w;
fail:
    worker_free(w);
    return NULL;
}

void worker_free(worker *w) {
    worker_job jobs[WORKER_QUEUE_MAX];
    size_t k, rest;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started)
        pthread_join(w->th, NULL);
    if (w->efd >= 0) {
        loop_del(w->l, w->efd);
        close(w->efd);
    }
    /* The thread is gone: no lock needed from here. */
    k = take_ran(w, jobs);
    for (size_t i = 0; i < k; i++)
        jobs[i].done(jobs[i].arg, 0);
    rest = w->count;
    for (size_t i = 0; i < rest; i++)
        jobs[i] = w->ring[(w->head + i) % WORKER_QUEUE_MAX];
    w->count = 0;
    for (size_t i = 0; i < rest; i++)
        jobs[i].done(jobs[i].arg, 1);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int worker_submit(worker *w, void (*run)(void *arg), void (*done)(void *arg, int cancelled),
                  void *arg) {
    int rc = -1;
    if (!w || !run || !done)
        return -1;
    pthread_mutex_lock(&w->mu);
    if (!w->stopping && w->count < WORKER_QUEUE_MAX) {
        w->ring[(w->head + w->count) % WORKER_QUEUE_MAX] = (worker_job){run, done, arg};
        w->count++;
        pthread_cond_signal(&w->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

size_t worker_pending(worker *w) {
    size_t n;
    pthread_mutex_lock(&w->mu);
    n = w->count;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int worker_stopping(worker *w) {
    int v;
    pthread_mutex_lock(&w->mu);
    v = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return v;
}
