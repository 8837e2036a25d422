/* worker — one background thread for slow work, results applied on the loop.
 *
 * The loop thread must never block for long (every HTTP request waits behind
 * it), yet some work is slow: a Bayesian suggestion fits a Gaussian process
 * (tens of ms at 1000 trials), packing a model compresses files. The engine
 * hands such work to the worker: run(arg) executes on the worker thread, in
 * submission order, one job at a time; then done(arg, 0) is called on the
 * loop thread (the worker signals an eventfd the loop watches), in the same
 * order. run() must touch only what `arg` gives it and what no loop code
 * mutates meanwhile; done() is where results are applied to shared state.
 *
 * Every accepted job gets exactly one done() call, so `arg` can be owned by
 * the job and freed in done(). worker_free() delivers the rest: done(arg, 0)
 * for jobs whose run() has completed, done(arg, 1) ("cancelled", run() never
 * called) for those still queued.
 *
 * Signals: the worker thread blocks every signal (the creating thread blocks
 * them all around pthread_create and restores its mask after), so a signal
 * hpod handles (through its handlers' self-pipe) is never delivered to the
 * worker. Create the worker after hpod has set up its signals. */
#ifndef OPENHPO_WORKER_H
#define OPENHPO_WORKER_H

#include <stddef.h>

#include "err.h"
#include "loop.h"

/* Jobs accepted and not yet given to done() (queued, running, or finished
 * and awaiting the loop). worker_submit() refuses more. */
#define WORKER_QUEUE_MAX 256

typedef struct worker worker;

/* Starts the worker thread and watches its eventfd on `l` (borrowed; must
 * outlive the worker). NULL with `e` set on failure. Caller frees with
 * worker_free(). Call on the loop thread. */
worker *worker_new(loop *l, err_t *e);

/* Waits for the running job's run() to return, stops the thread, then on
 * the calling thread gives done(arg, 0) to the jobs that ran and
 * done(arg, 1) to the queued ones, in submission order. Accepts NULL. Call
 * on the loop thread, never from a done() callback. */
void worker_free(worker *w);

/* Queues run(arg) for the worker thread; done(arg, cancelled) follows on the
 * loop thread (see above). run and done must be non-NULL. Returns 0, or -1
 * (nothing queued, done never called) when WORKER_QUEUE_MAX jobs are
 * outstanding or the worker is stopping. Call on the loop thread (done()
 * callbacks may submit). */
int worker_submit(worker *w, void (*run)(void *arg), void (*done)(void *arg, int cancelled),
                  void *arg);

/* Jobs accepted and not yet given to done(). Call on the loop thread. */
size_t worker_pending(worker *w);

/* 1 once worker_free() has begun, else 0: a long run() may poll it and
 * return early (its done() still gets cancelled = 0). Safe from any
 * thread, run() included. */
int worker_stopping(worker *w);

#endif
