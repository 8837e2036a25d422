/* util — small shared helpers: logging, clocks, files. */
#ifndef OPENHPO_UTIL_H
#define OPENHPO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Logging to stderr with a timestamp and level. log_verbose is set once at
 * start-up by main() before any other thread or callback exists. */
extern int log_verbose;
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line's structured fields: key (static) and a string value, or, when s
 * is NULL, the number n. As text the line is its message alone (which
 * should say the same); log_sink gets them apart. */
typedef struct {
    const char *key;
    const char *s;
    double n;
} log_kv;
/* Each log line's message is capped at LOG_LINE_MAX - 1 bytes. */
#define LOG_LINE_MAX 2048
/* Where lines go instead of stderr as text, or NULL: set once by main()
 * before any other thread or callback exists (hpod --log-format json:
 * logjson_write, logjson.h). It must be safe from any thread. */
extern void (*log_sink)(const char *level, const char *msg, const log_kv *f, size_t nf);
void log_fields(const char *level, const log_kv *f, size_t nf, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define log_info(...) log_msg("info", __VA_ARGS__)
#define log_warn(...) log_msg("warn", __VA_ARGS__)
#define log_error(...) log_msg("error", __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_verbose)                                                                           \
            log_msg("debug", __VA_ARGS__);                                                         \
    } while (0)

/* Wall-clock seconds since the epoch, as a double (sub-second precision). */
double util_now(void);
/* Monotonic milliseconds. */
int64_t util_mono_ms(void);

/* Collects what child `pid` writes to `fd` until EOF, for at most
 * timeout_ms (then it is killed with SIGKILL): at most n - 1 bytes are kept
 * in out (NUL-terminated, one trailing newline removed; the rest is read
 * and dropped). Closes fd and reaps the child, its wait status to *status.
 * Returns 1 when it timed out, else 0. */
int util_collect_child(pid_t pid, int fd, int64_t timeout_ms, char *out, size_t n, int *status);

/* What hpo-pack's report line `rep` (util_collect_child's out; wait status
 * `st`; `timed_out` its return; `prog` the packer's path, `timeout_s` its
 * limit, for the messages) says: "ok URI" -> uri; "error TEXT" (the
 * caller's fault: a refused or missing S3 bucket, say) or "unavailable
 * TEXT" (the platform's: S3 unreachable or answering 5xx after its
 * retries) -> error. One home for the runner's and the docker backend's
 * reading of it. Returns 1 when the failure is the platform's (the job is
 * then retried as an infrastructure failure), else 0. */
int util_pack_outcome(const char *rep, int st, int timed_out, const char *prog, int timeout_s,
                      char *uri, size_t nu, char *error, size_t ne);

/* mkdir -p with mode 0755 (0700 for the leaf when `private`). 0 or -1/errno. */
int util_mkdir_p(const char *path, int private_leaf);
/* How util_write_file writes. */
enum {
    UTIL_WRITE_PLAIN = 0,  /* create/truncate in place: for files nobody reads while written */
    UTIL_WRITE_ATOMIC = 1, /* tmp file + rename: readers see old or new, never a part */
    UTIL_WRITE_DURABLE = 2 /* atomic, and fsync'ed before the rename (survives power loss) */
};
/* Writes `len` bytes to `path` in `mode`. 0 or -1 (errno set). */
int util_write_file(const char *path, const void *data, size_t len, int mode);
/* Reads at most `cap` bytes of a file into a NUL-terminated buffer the caller
 * frees with free(). Sets *len when non-NULL. NULL on error (errno set). */
char *util_read_file(const char *path, size_t cap, size_t *len);
/* rm -rf of a directory tree: never follows a symlink, nor is led outside
 * the tree by one swapped in while it walks (each directory is opened by
 * descriptor, O_NOFOLLOW). Trees deeper than UTIL_RM_DEPTH_MAX are left
 * (ELOOP). 0 or -1 (errno set; ENOENT when path does not exist). */
#define UTIL_RM_DEPTH_MAX 256
int util_rm_rf(const char *path);
/* Process start time (clock ticks since boot, /proc/PID/stat field 22), or 0
 * when the process does not exist. Identifies a process across pid reuse. */
uint64_t util_proc_starttime(int pid);

#endif
