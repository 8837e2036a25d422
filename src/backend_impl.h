/* backend_impl — what a backend implements (for src/backend.c and the files
 * under src/backends/ only; everyone else uses backend.h's wrappers).
 *
 * A backend is one file, src/backends/NAME.c, defining
 *     const backend_ops backend_NAME_ops = {...};
 * plus one line X(NAME) in BACKEND_REGISTRY in backend.c. The wrappers in backend.c
 * check arguments and dispatch; a backend's functions may assume non-NULL
 * pointers (job_dir, handle, out-parameters). `self` is what create()
 * returned. */
#ifndef OPENHPO_BACKEND_IMPL_H
#define OPENHPO_BACKEND_IMPL_H

#include "backend.h"

typedef struct backend_ops {
    const char *name; /* as given to backend_new(); at most BACKEND_NAME_MAX - 1 bytes */
    unsigned caps;    /* BACKEND_CAP_* */
    /* Returns the backend's state, or NULL with e set. env outlives it. */
    void *(*create)(const backend_env *env, err_t *e);
    void (*destroy)(void *self); /* self may be NULL */
    int (*start)(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX], err_t *e);
    backend_state (*watch)(void *self, const char *job_dir, const char *handle,
                           void (*on_exit)(void *ud), void *ud, backend_watch **w);
    void (*unwatch)(void *self, backend_watch *w); /* w is not NULL */
    int (*stop)(void *self, const char *job_dir, const char *handle);
    backend_state (*result)(void *self, const char *job_dir, const char *handle, backend_result *r);
    ssize_t (*read_log)(void *self, const char *job_dir, const char *handle, int64_t offset,
                        char *buf, size_t n);
} backend_ops;

/* Helpers for backends whose jobs leave files in the job directory. */

/* Reads a result file in the runner's exit.json format (backends/local.h;
 * written by hpo-runner, and by backends that write one of their own) into
 * r, which it clears first. 0, or -1 when `path` holds no JSON object. */
int backend_read_result_file(const char *path, backend_result *r);

/* pread() of a log file at `path` from `offset`: the bytes read, 0 when the
 * file does not exist (yet), -1 on error. Never blocks (O_NONBLOCK). */
ssize_t backend_read_log_file(const char *path, int64_t offset, char *buf, size_t n);

/* A backend made of `ops` and `self` directly, without the registry: for
 * tests (a fake backend defined in the test). backend_free() calls
 * ops->destroy(self). NULL on allocation failure. */
backend *backend_from_ops(const backend_ops *ops, void *self);

#endif
