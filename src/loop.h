/* loop — the daemon's single event loop (epoll).
 *
 * It owns every file descriptor the daemon waits on (the HTTP server, signals,
 * process exit notifications) and one periodic "tick" that the engine uses for
 * timers and log tailing. Everything runs on the loop's thread; nothing blocks
 * it for long. Removing an fd from inside any callback, including its own, is
 * safe: entries are only freed between iterations. */
#ifndef OPENHPO_LOOP_H
#define OPENHPO_LOOP_H

#include <stdint.h>

typedef struct loop loop;
typedef void (*loop_fd_cb)(loop *l, int fd, uint32_t events, void *ud);
typedef void (*loop_tick_cb)(loop *l, void *ud);

/* Caller frees with loop_free(). NULL on failure. */
loop *loop_new(void);
void loop_free(loop *l);

/* Watches `fd` (borrowed: the caller closes it after loop_del) for epoll
 * `events`, calling cb(l, fd, revents, ud). 0 or -1. */
int loop_add(loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ud);
/* Stops watching `fd`. Safe from any callback. */
void loop_del(loop *l, int fd);

/* Sets the tick: cb runs every `interval_ms`, and as soon as possible after
 * loop_kick(). One tick per loop. */
void loop_set_tick(loop *l, int interval_ms, loop_tick_cb cb, void *ud);
void loop_kick(loop *l);

/* A timed source (e.g. a library with its own timeouts and buffered input,
 * such as libmicrohttpd): before each wait the loop asks due(ud) how many ms
 * may pass before run(ud) must be called (0: at once; < 0: no deadline), waits
 * at most that long, and after dispatching the ready fds calls run(ud) if
 * due(ud) then says 0. At most LOOP_MAX_SOURCES sources; both
 * callbacks run on the loop's thread. Returns 0, or -1 when the table is full. */
#define LOOP_MAX_SOURCES 4
typedef int64_t (*loop_due_cb)(void *ud);
typedef void (*loop_run_cb)(loop *l, void *ud);
int loop_add_source(loop *l, loop_due_cb due, loop_run_cb run, void *ud);
/* Removes the source registered with `ud`. Safe from any callback. */
void loop_del_source(loop *l, void *ud);

/* Runs until loop_stop(). Returns 0. */
int loop_run(loop *l);
void loop_stop(loop *l);

#endif
