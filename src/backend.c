/* backend — the wrappers every caller uses and the registry of backends.
 *
 * backend_new() looks the name up in BACKEND_REGISTRY (backend_impl.h) and
 * keeps the backend's ops and state in an opaque struct; every other wrapper
 * checks its arguments and dispatches. Nothing here knows any backend. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_impl.h"

/* The registry: one X(NAME) per backend, defined in src/backends/NAME.c as
 * backend_NAME_ops. Adding a backend is that file plus one line here. */
#define BACKEND_REGISTRY X(local) X(docker) X(slurm)

#define X(name) extern const backend_ops backend_##name##_ops;
BACKEND_REGISTRY
#undef X

struct backend {
    const backend_ops *ops;
    void *self;
};

/* Read-only after start-up: the ops of every registered backend. */
static const backend_ops *const registry[] = {
#define X(name) &backend_##name##_ops,
    BACKEND_REGISTRY
#undef X
};

const char *backend_registered(size_t i) {
    return i < sizeof registry / sizeof *registry ? registry[i]->name : NULL;
}

backend *backend_new(const char *name, const backend_env *env, err_t *e) {
    const backend_ops *ops = NULL;
    backend *b = NULL;
    for (size_t i = 0; name && i < sizeof registry / sizeof *registry; i++)
        if (!strcmp(registry[i]->name, name))
            ops = registry[i];
    if (!ops) {
        err_set(e, ERR_VALIDATION, "unknown backend '%s'", name ? name : "");
        return NULL;
    }
    if (!env) {
        err_set(e, ERR_INTERNAL, "backend '%s': no environment", name);
        return NULL;
    }
    if (!(b = calloc(1, sizeof *b))) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    b->ops = ops;
    if (!(b->self = ops->create(env, e))) {
        free(b);
        return NULL;
    }
    return b;
}

backend *backend_from_ops(const backend_ops *ops, void *self) {
    backend *b = ops ? calloc(1, sizeof *b) : NULL;
    if (b) {
        b->ops = ops;
        b->self = self;
    }
    return b;
}

void backend_free(backend *b) {
    if (!b)
        return;
    b->ops->destroy(b->self);
    free(b);
}

const char *backend_name(const backend *b) {
    return b ? b->ops->name : "";
}

unsigned backend_caps(const backend *b) {
    return b ? b->ops->caps : 0;
}

int backend_start(backend *b, const backend_launch *l, char handle[BACKEND_HANDLE_MAX], err_t *e) {
    if (!b || !l || !l->job_dir || !l->argv || !l->argv[0] || !l->envp || !handle)
        return err_set(e, ERR_INTERNAL, "backend_start: missing argument");
    handle[0] = 0;
    return b->ops->start(b->self, l, handle, e);
}

backend_state backend_watch_job(backend *b, const char *job_dir, const char *handle,
                                void (*on_exit)(void *ud), void *ud, backend_watch **w) {
    if (w)
        *w = NULL;
    if (!b || !job_dir || !on_exit || !w)
        return BACKEND_RUNNING; /* nothing can be watched: ask again later */
    return b->ops->watch(b->self, job_dir, handle ? handle : "", on_exit, ud, w);
}

void backend_unwatch(backend *b, backend_watch *w) {
    if (b && w)
        b->ops->unwatch(b->self, w);
}

int backend_stop(backend *b, const char *job_dir, const char *handle) {
    if (!b || !job_dir)
        return ERR_INTERNAL;
    return b->ops->stop(b->self, job_dir, handle ? handle : "");
}

backend_state backend_result_of(backend *b, const char *job_dir, const char *handle,
                                backend_result *r) {
    backend_result scratch;
    if (!r)
        r = &scratch;
    memset(r, 0, sizeof *r);
    if (!b || !job_dir)
        return BACKEND_RUNNING;
    return b->ops->result(b->self, job_dir, handle ? handle : "", r);
}

ssize_t backend_read_log(backend *b, const char *job_dir, const char *handle, int64_t offset,
                         char *buf, size_t n) {
    if (!b || !job_dir || !buf || offset < 0) {
        errno = EINVAL;
        return -1;
    }
    if (n == 0)
        return 0;
    return b->ops->read_log(b->self, job_dir, handle ? handle : "", offset, buf, n);
}

int backend_read_result_file(const char *path, backend_result *r) {
    json_t *j = json_load_file(path, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    memset(r, 0, sizeof *r);
    r->exited = json_is_true(json_object_get(j, "exited"));
    r->code = (int)json_integer_value(json_object_get(j, "code"));
    r->signal = (int)json_integer_value(json_object_get(j, "signal"));
    r->timed_out = json_is_true(json_object_get(j, "timed_out"));
    r->stopped = json_is_true(json_object_get(j, "stopped"));
    r->infrastructure = json_is_true(json_object_get(j, "infrastructure"));
    r->started = json_number_value(json_object_get(j, "started"));
    r->ended = json_number_value(json_object_get(j, "ended"));
    const char *s = json_string_value(json_object_get(j, "error"));
    snprintf(r->error, sizeof r->error, "%s", s ? s : "");
    s = json_string_value(json_object_get(j, "model_uri"));
    snprintf(r->model_uri, sizeof r->model_uri, "%s", s ? s : "");
    s = json_string_value(json_object_get(j, "model_error"));
    snprintf(r->model_error, sizeof r->model_error, "%s", s ? s : "");
    json_decref(j);
    return 0;
}

ssize_t backend_read_log_file(const char *path, int64_t offset, char *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t r;
    while ((r = pread(fd, buf, n, (off_t)offset)) < 0 && errno == EINTR)
        ;
    close(fd);
    return r;
}
