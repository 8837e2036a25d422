#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int log_verbose; /* set once by main() before the loop starts */
void (*log_sink)(const char *, const char *, const log_kv *, size_t); /* likewise */

static void vlog(const char *level, const log_kv *f, size_t nf, const char *fmt, va_list ap) {
    char ts[32], line[LOG_LINE_MAX];
    struct timespec now;
    struct tm tm;
    vsnprintf(line, sizeof line, fmt, ap);
    if (log_sink) {
        log_sink(level, line, f, nf);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ hpod %s: %s\n", ts, now.tv_nsec / 1000000, level, line);
}

void log_msg(const char *level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, 0, fmt, ap);
    va_end(ap);
}

void log_fields(const char *level, const log_kv *f, size_t nf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, f, nf, fmt, ap);
    va_end(ap);
}

double util_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int64_t util_mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int util_mkdir_p(const char *path, int private_leaf) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, private_leaf ? 0700 : 0755) && errno != EEXIST)
        return -1;
    return 0;
}

static int write_all_fd(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int util_write_file(const char *path, const void *data, size_t len, int mode) {
    char tmp[4200];
    int fd = -1, rc = -1;
    const char *target = path;
    if (mode != UTIL_WRITE_PLAIN) {
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= sizeof tmp) {
            errno = ENAMETOOLONG;
            return -1;
        }
        target = tmp;
    }
    fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all_fd(fd, data, len))
        goto out;
    if (mode == UTIL_WRITE_DURABLE && fsync(fd))
        goto out;
    if (close(fd)) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (target != path && rename(tmp, path))
        goto out;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc && target != path)
        unlink(tmp);
    return rc;
}

char *util_read_file(const char *path, size_t cap, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t n = 0;
    if (fd < 0)
        return NULL;
    buf = malloc(cap + 1);
    if (!buf)
        goto out;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    if (len)
        *len = n;
out:
    close(fd);
    return buf;
}

/* Removes NAME (in dirfd) and all below it. Each directory is opened
 * relative to its parent's descriptor with O_NOFOLLOW, never by a path: a
 * directory that someone (a job's user, in a tree it may write) swaps for a
 * symlink while we walk is not entered, so nothing outside is removed. */
static int rm_at(int dirfd, const char *name, int depth) {
    if (unlinkat(dirfd, name, 0) == 0)
        return 0;
    if (errno == ENOENT)
        return depth ? 0 : -1;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    if (depth >= UTIL_RM_DEPTH_MAX) {
        errno = ELOOP;
        return -1;
    }
    int rc = 0;
    for (int pass = 0; pass < 3; pass++) { /* entries a readdir pass missed */
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
        struct dirent *de;
        rc = 0;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                rm_at(fd, de->d_name, depth + 1))
                rc = -1;
        closedir(d);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != ENOTEMPTY)
            return -1;
    }
    return rc ? rc : -1;
}

int util_rm_rf(const char *path) {
    return rm_at(AT_FDCWD, path, 0);
}

uint64_t util_proc_starttime(int pid) {
    char path[64], buf[1024];
    unsigned long long st = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* comm may contain spaces and parens: fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p += 2; /* field 3 (state) */
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (p)
        sscanf(p, "%llu", &st);
    /* A zombie still has its /proc entry; it is not running. */
    char *state = strrchr(buf, ')') + 2;
    if (*state == 'Z' || *state == 'X')
        return 0;
    return st;
}

int util_collect_child(pid_t pid, int fd, int64_t timeout_ms, char *out, size_t n, int *status) {
    size_t got = 0;
    int timed_out = 0, st = 0;
    int64_t deadline = util_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - util_mono_ms();
        if (left <= 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        char buf[4096];
        ssize_t k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* EOF: the child is done writing */
        size_t take = (size_t)k;
        if (n && take > n - 1 - got)
            take = n - 1 - got;
        if (take)
            memcpy(out + got, buf, take);
        got += take;
    }
    close(fd);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (n) {
        out[got] = 0;
        if (got && out[got - 1] == '\n')
            out[--got] = 0;
    }
    if (status)
        *status = st;
    return timed_out;
}

int util_pack_outcome(const char *rep, int st, int timed_out, const char *prog, int timeout_s,
                      char *uri, size_t nu, char *error, size_t ne) {
    uri[0] = error[0] = 0;
    if (timed_out) {
        snprintf(error, ne, "packing the model took longer than %d s; %s was killed", timeout_s,
                 prog);
        return 0;
    }
    if (!strncmp(rep, "ok ", 3) && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        snprintf(uri, nu, "%s", rep + 3);
    else if (!strncmp(rep, "error ", 6))
        snprintf(error, ne, "%s", rep + 6);
    else if (!strncmp(rep, "unavailable ", 12)) {
        snprintf(error, ne, "%s", rep + 12);
        return 1;
    } else if (WIFSIGNALED(st))
        snprintf(error, ne, "%s was killed by signal %d while packing the model", prog,
                 WTERMSIG(st));
    else
        snprintf(error, ne, "%s exited with status %d without a report", prog,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
