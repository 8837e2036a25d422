#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util.h"

typedef struct entry {
    int fd;
    int dead;
    loop_fd_cb cb;
    void *ud;
    struct entry *next; /* all entries, live and dead */
} entry;

typedef struct {
    loop_due_cb due; /* NULL: free slot */
    loop_run_cb run;
    void *ud;
} source;

struct loop {
    int epfd;
    source sources[LOOP_MAX_SOURCES];
    int running;
    int kicked;
    entry *entries;
    int tick_ms;
    int64_t next_tick;
    loop_tick_cb tick;
    void *tick_ud;
};

loop *loop_new(void) {
    loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->tick_ms = 1000;
    return l;
}

void loop_free(loop *l) {
    if (!l)
        return;
    for (entry *e = l->entries, *n; e; e = n) {
        n = e->next;
        free(e);
    }
    close(l->epfd);
    free(l);
}

int loop_add(loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ud) {
    entry *e = calloc(1, sizeof *e);
    struct epoll_event ev = {.events = events};
    if (!e)
        return -1;
    e->fd = fd;
    e->cb = cb;
    e->ud = ud;
    ev.data.ptr = e;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
        free(e);
        return -1;
    }
    e->next = l->entries;
    l->entries = e;
    return 0;
}

void loop_del(loop *l, int fd) {
    for (entry *e = l->entries; e; e = e->next)
        if (e->fd == fd && !e->dead) {
            e->dead = 1;
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
            return;
        }
}

int loop_add_source(loop *l, loop_due_cb due, loop_run_cb run, void *ud) {
    for (int i = 0; i < LOOP_MAX_SOURCES; i++)
        if (!l->sources[i].due) {
            l->sources[i] = (source){due, run, ud};
            return 0;
        }
    return -1;
}

void loop_del_source(loop *l, void *ud) {
    for (int i = 0; i < LOOP_MAX_SOURCES; i++)
        if (l->sources[i].due && l->sources[i].ud == ud)
            l->sources[i] = (source){0};
}

/* The wait before the next iteration: the tick's, shortened by any source's. */
static int wait_ms(loop *l) {
    int64_t now = util_mono_ms();
    int64_t w = l->kicked ? 0 : (l->next_tick > now ? l->next_tick - now : 0);
    for (int i = 0; i < LOOP_MAX_SOURCES && w > 0; i++)
        if (l->sources[i].due) {
            int64_t d = l->sources[i].due(l->sources[i].ud);
            if (d >= 0 && d < w)
                w = d;
        }
    return w > INT_MAX ? INT_MAX : (int)w;
}

void loop_set_tick(loop *l, int interval_ms, loop_tick_cb cb, void *ud) {
    l->tick_ms = interval_ms;
    l->tick = cb;
    l->tick_ud = ud;
    l->next_tick = util_mono_ms() + interval_ms;
}

void loop_kick(loop *l) {
    l->kicked = 1;
}

void loop_stop(loop *l) {
    l->running = 0;
}

/* Frees the entries removed during the last iteration. */
static void reap_dead(loop *l) {
    entry **pp = &l->entries;
    while (*pp) {
        entry *e = *pp;
        if (e->dead) {
            *pp = e->next;
            free(e);
        } else {
            pp = &e->next;
        }
    }
}

int loop_run(loop *l) {
    struct epoll_event evs[64];
    l->running = 1;
    while (l->running) {
        int n = epoll_wait(l->epfd, evs, 64, wait_ms(l));
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %m");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            entry *e = evs[i].data.ptr;
            if (!e->dead)
                e->cb(l, e->fd, evs[i].events, e->ud);
        }
        /* A source removed by a callback has a NULL `due` and is skipped. */
        for (int i = 0; i < LOOP_MAX_SOURCES; i++)
            if (l->sources[i].due && l->sources[i].due(l->sources[i].ud) == 0)
                l->sources[i].run(l, l->sources[i].ud);
        int64_t now = util_mono_ms();
        if (l->tick && (l->kicked || now >= l->next_tick)) {
            l->kicked = 0;
            l->next_tick = now + l->tick_ms;
            l->tick(l, l->tick_ud);
        }
        reap_dead(l);
    }
    return 0;
}
