/* hpo-runner — supervises one training job for the local backend.
 *
 *   hpo-runner --dir JOB_DIR --lock-fd N --status-fd S --max-runtime S
 *              --grace G --log-cap BYTES [--job-name NAME --output-path URI]
 *              [--env-fd E] [--uid UID --gid GID] -- PROGRAM [ARGS...]
 *
 * Runs PROGRAM (in its own process group, cwd JOB_DIR, dying with the
 * runner) with stdout+stderr captured into JOB_DIR/output.log, up to
 * BYTES (the rest is drained and dropped). SIGTERM to the runner, or
 * S seconds of runtime, stops the program: SIGTERM to its group, SIGKILL
 * after G seconds. It holds the locked descriptor N for its whole life:
 * that lock is how the daemon knows it is alive (see backends/local.c). The
 * runner outlives the daemon by design.
 *
 * Start-up: the program is exec'ed through a close-on-exec pipe (as libuv
 * does), so an exec failure is known at once; the runner reports "ok ..." or
 * "error cannot execute PROGRAM: ..." on descriptor S and closes it (the
 * protocol is in backends/local.h). Before that it reserves the space of
 * exit.json (exit.json.tmp, LOCAL_EXIT_RESERVE bytes), so a disk that fills
 * up during the job cannot keep the result from being written.
 *
 * Nothing of the job outlives it: the runner is a child subreaper, so every
 * orphaned descendant (a `setsid` daemon the program left, say) becomes its
 * child; when the program has exited, it kills the job's cgroup (where
 * cgroup v2 is writable, the program runs in a cgroup of its own) and then
 * every remaining child, repeatedly, until none is left.
 *
 * The end: whatever the end (exit 0, failure, stop, timeout), when
 * --output-path was given, the runner runs hpo-pack (pack_main.c, found
 * next to the runner's own binary; the protocol is in pack.h) to pack
 * JOB_DIR/model and JOB_DIR/output/data and store them (model.tar.gz,
 * output.tar.gz; docs/S3.md), and records the URI or the error it
 * reports; then it writes exit.json into the reserved space and renames it
 * into place. Should that still fail, it renames the reservation to
 * exit.unwritable: the job ended, its result could not be recorded.
 *
 * The program's environment is the one read from descriptor E (local.h),
 * else the runner's own; the runner's own never reaches the program when
 * E is given (the local backend always gives it).
 *
 * As whom the job runs: with --uid/--gid (the launch's run_as), the
 * program and hpo-pack run as UID:GID. The runner itself stays the
 * daemon's user (root), so that it can always kill the job and write its
 * result; everything that needs that (the cgroup, output.log, exit.json.tmp
 * it keeps open) is made before the fork. In the forked child, just before
 * the exec, drop_privileges(): setgroups to GID alone (the user's other
 * supplementary groups are deliberately NOT given: the job gets the one
 * group the launch names), setresgid, setresuid, then it checks that all
 * real/effective/saved ids and the group list are what was asked and that
 * root cannot be regained (setuid(0) fails), and sets no_new_privs (no
 * setuid binary or file capability gives anything back after the exec).
 * PR_SET_PDEATHSIG is set after the drop (a credential change clears it).
 * Any failure is a start failure reported like an exec failure: "error
 * cannot run as uid N: REASON"; the program never runs as root instead.
 * With --uid the runner also refuses a job directory that is not its own
 * user's or that others may write (contract.h's layout: 0711): the control
 * files in it (runner.pid, exit.json, ...) are what the daemon trusts.
 * The runner's own files are created mode 0600.
 *
 * The runner links util.o only (no libarchive: that is hpo-pack's), so
 * that it starts in about a millisecond: the daemon's loop waits for the
 * start-up report at every launch. When an output path is given, it checks
 * at start-up that hpo-pack is there, so a broken installation fails the
 * launch rather than the end of a long job. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/local.h"
#include "pack.h"
#include "util.h"

#define RUNNER_SWEEP_ROUNDS 200    /* rounds of the final kill sweep (10 ms apart) */
#define RUNNER_DRAIN_MS 2000       /* output read after the program's end, at most */
#define RUNNER_CGROUP_MAX 1024     /* longest cgroup directory path used */
#define RUNNER_URI_MAX 1100        /* model_uri kept in exit.json (backend.h's BACKEND_URI_MAX) */
#define RUNNER_MODEL_ERROR_MAX 300 /* model_error kept in exit.json */

static void usage(void) {
    fprintf(stderr, "usage: hpo-runner --dir DIR --lock-fd N --status-fd S --max-runtime S "
                    "--grace G --log-cap BYTES [--job-name NAME --output-path URI] "
                    "[--env-fd E] [--uid UID --gid GID] -- PROGRAM [ARGS...]\n");
    exit(2);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reports the start-up outcome to the daemon and closes the descriptor. */
static void report(int *status_fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int *status_fd, const char *fmt, ...) {
    char line[LOCAL_STATUS_MAX];
    va_list ap;
    if (*status_fd < 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    write_all(*status_fd, line, (size_t)n);
    close(*status_fd);
    *status_fd = -1;
}

/* ---- as whom the job runs ---- */

/* Who a job runs as: run_as 0 = as the runner (no --uid). */
typedef struct {
    int run_as;
    uid_t uid;
    gid_t gid;
} job_user;

/* Becomes ju's uid:gid for good, in a forked child of the single-threaded
 * runner (so stdio is safe). 0, or -1 with the reason in why[n]. */
static int drop_privileges(const job_user *ju, char *why, size_t n) {
    uid_t r, e, s;
    gid_t rg, eg, sg, groups[2];
    if (setgroups(1, &ju->gid)) {
        snprintf(why, n, "setgroups(%u): %s", (unsigned)ju->gid, strerror(errno));
        return -1;
    }
    if (setresgid(ju->gid, ju->gid, ju->gid)) {
        snprintf(why, n, "setgid(%u): %s", (unsigned)ju->gid, strerror(errno));
        return -1;
    }
    if (setresuid(ju->uid, ju->uid, ju->uid)) {
        snprintf(why, n, "setuid(%u): %s", (unsigned)ju->uid, strerror(errno));
        return -1;
    }
    /* Check, not trust: (uid_t)-1, say, is "leave unchanged" to setresuid. */
    if (getresuid(&r, &e, &s) || getresgid(&rg, &eg, &sg)) {
        snprintf(why, n, "cannot read the ids back: %s", strerror(errno));
        return -1;
    }
    if (r != ju->uid || e != ju->uid || s != ju->uid || rg != ju->gid || eg != ju->gid ||
        sg != ju->gid) {
        snprintf(why, n, "the drop did not take: uid %u/%u/%u gid %u/%u/%u", (unsigned)r,
                 (unsigned)e, (unsigned)s, (unsigned)rg, (unsigned)eg, (unsigned)sg);
        return -1;
    }
    int ng = getgroups(2, groups);
    if (ng != 1 || groups[0] != ju->gid) {
        snprintf(why, n, "supplementary groups remain (%d)", ng);
        return -1;
    }
    if (ju->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(why, n, "root could be regained after the drop");
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
        snprintf(why, n, "no_new_privs: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* With --uid: the job directory must be ours and writable by us alone, or
 * the control files the daemon trusts could be replaced by the job's user.
 * 0, or -1 with the reason in why[n]. */
static int check_job_dir(const char *dir, char *why, size_t n) {
    struct stat st;
    if (lstat(dir, &st)) {
        snprintf(why, n, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
        snprintf(why, n,
                 "%s must be a directory of uid %u that only it may write (it is "
                 "uid %u, mode %04o)",
                 dir, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

/* The job's environment (read_env, else the runner's own): set once in
 * main() before any fork, only read after; kept for the runner's life. */
static char **job_env;

/* Reads the job's environment from fd (local.h: NUL-terminated KEY=VALUE
 * strings, at most LOCAL_ENV_MAX bytes) and closes it. A NULL-terminated
 * array (never freed: it lives as long as the runner, in job_env), or NULL
 * with errno. */
static char **read_env(int fd) {
    size_t len = 0, cap = 65536, n = 0;
    char *buf = malloc(cap);
    char **env = NULL;
    for (;;) {
        if (!buf)
            goto fail;
        if (len == cap) {
            if (cap >= LOCAL_ENV_MAX) {
                errno = E2BIG;
                goto fail;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                goto fail;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    fd = -1;
    if (len && buf[len - 1]) {
        errno = EINVAL; /* not NUL-terminated: a cut environment */
        goto fail;
    }
    for (size_t i = 0; i < len; i++)
        n += buf[i] == 0;
    if (!(env = calloc(n + 1, sizeof *env)))
        goto fail;
    for (size_t i = 0, k = 0; i < len; i += strlen(buf + i) + 1)
        env[k++] = buf + i;
    return env;
fail:
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    free(buf);
    return NULL;
}

/* Parses a uid/gid argument: a 32-bit decimal. 0 or -1. (id_t)-1 passes
 * here on purpose: drop_privileges() refuses it by its check. */
static int parse_id(const char *s, unsigned *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > 0xffffffffUL)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* ---- cgroup v2 (optional) ---- */

/* Finds where the cgroup2 hierarchy is mounted and our place in it; creates
 * a child cgroup for the job in out[n]. 0, or -1 when there is none we can
 * use (no cgroup2, not writable): the job then runs without one. */
static int cgroup_create(char *out, size_t n) {
    char line[4096], mnt[RUNNER_CGROUP_MAX] = "", self[RUNNER_CGROUP_MAX] = "";
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        char root[RUNNER_CGROUP_MAX], point[RUNNER_CGROUP_MAX];
        const char *sep = strstr(line, " - ");
        if (!sep || strncmp(sep, " - cgroup2 ", 11))
            continue;
        if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) == 2 && !strcmp(root, "/")) {
            snprintf(mnt, sizeof mnt, "%s", point);
            break;
        }
    }
    fclose(f);
    if (!mnt[0] || !(f = fopen("/proc/self/cgroup", "re")))
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(self, sizeof self, "%s", line + 3);
        }
    fclose(f);
    if (!self[0])
        return -1;
    /* pid and start time: unique on this host (a cgroup is never shared). */
    if ((size_t)snprintf(out, n, "%s%s/hpo-job-%d-%llu", mnt, strcmp(self, "/") ? self : "",
                         (int)getpid(),
                         (unsigned long long)util_proc_starttime((int)getpid())) >= n)
        return -1;
    if (mkdir(out, 0755))
        return -1;
    char procs[RUNNER_CGROUP_MAX + 32];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", out);
    if (access(procs, W_OK)) {
        rmdir(out);
        return -1;
    }
    return 0;
}

/* Writes `s` to DIR/FILE. 0 or -1. */
static int write_cg(const char *dir, const char *file, const char *s) {
    char p[RUNNER_CGROUP_MAX + 32];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC), rc = -1;
    if (fd < 0)
        return -1;
    if (write_all(fd, s, strlen(s)) == 0)
        rc = 0;
    if (close(fd))
        rc = -1;
    return rc;
}

/* Kills everything in the cgroup (cgroup.kill, or each listed process on
 * kernels before 5.14). */
static void cgroup_kill(const char *dir) {
    if (write_cg(dir, "cgroup.kill", "1") == 0)
        return;
    char p[RUNNER_CGROUP_MAX + 32];
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    for (int round = 0; round < 10; round++) {
        FILE *f = fopen(p, "re");
        int pid, any = 0;
        if (!f)
            return;
        while (fscanf(f, "%d", &pid) == 1) {
            kill(pid, SIGKILL);
            any = 1;
        }
        fclose(f);
        if (!any)
            return;
    }
}

/* Forks the program's process: straight into the cgroup (clone3 with
 * CLONE_INTO_CGROUP, Linux 5.7+: no migration afterwards, which is slow
 * under load) when cgfd >= 0, else a plain fork(). *in_cg says where the
 * child started. The runner is single-threaded, so a raw clone3 is safe. */
static pid_t spawn(int cgfd, int *in_cg) {
    *in_cg = 0;
#ifdef SYS_clone3
    if (cgfd >= 0) {
        struct {
            uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
                set_tid, set_tid_size, cgroup;
        } ca = {.flags = 0x200000000ULL /* CLONE_INTO_CGROUP */,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t)cgfd};
        long r = syscall(SYS_clone3, &ca, sizeof ca);
        if (r >= 0) {
            *in_cg = 1;
            return (pid_t)r;
        }
    }
#endif
    return fork();
}

/* ---- the kill sweep ---- */

/* Parent pid of `pid` (/proc/PID/stat field 4), or -1. */
static int parent_of(int pid) {
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = 0;
    char *q = strrchr(buf, ')');
    int ppid = -1;
    if (!q || sscanf(q + 1, " %*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

/* SIGKILLs every child of ours (orphans reparent to us: we are a
 * subreaper); returns how many were found. Reaps whatever has ended. */
static int kill_children(void) {
    int found = 0, me = (int)getpid();
    DIR *d = opendir("/proc");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            int pid = atoi(de->d_name);
            if (pid > 0 && parent_of(pid) == me) {
                kill(pid, SIGKILL);
                found++;
            }
        }
        closedir(d);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return found;
}

/* Kills what is left of the job: its cgroup, then every descendant, until
 * none is left (each round, the children of the killed reparent to us).
 * Removes the cgroup and clears cg[] once it is gone. */
static void sweep(char *cg) {
    if (cg[0])
        cgroup_kill(cg);
    for (int round = 0; round < RUNNER_SWEEP_ROUNDS && kill_children() > 0; round++)
        usleep(10000);
    if (cg[0]) {
        int round = 0;
        while (rmdir(cg) && errno == EBUSY && round++ < RUNNER_SWEEP_ROUNDS)
            usleep(10000);
        cg[0] = 0;
    }
}

/* ---- packing the model (hpo-pack) ---- */

/* Writes the path of hpo-pack, next to our own binary, to out[n]. 0 or -1
 * (errno set). */
static int pack_path(char *out, size_t n) {
    char self[LOCAL_PATH_MAX];
    ssize_t r = readlink("/proc/self/exe", self, sizeof self - 1);
    if (r <= 0)
        return -1;
    self[r] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) {
        errno = ENOENT;
        return -1;
    }
    *slash = 0;
    if ((size_t)snprintf(out, n, "%s/%s", self, PACK_PROGRAM) >= n) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Runs hpo-pack (at `prog`) on the job, as the job's user when it has one,
 * and takes its report: the model's URI to uri[nu], or why packing failed
 * to error[ne]; returns 1 when that failure is the platform's
 * (util_pack_outcome), else 0. Never blocks longer
 * than PACK_TIMEOUT_S (hpo-pack is killed then); reads at most
 * PACK_REPORT_MAX bytes of its output. */
static int run_pack(const char *prog, const char *dir, const char *job_name,
                    const char *output_path, const job_user *ju, char *uri, size_t nu, char *error,
                    size_t ne) {
    char rep[PACK_REPORT_MAX + 1];
    int p[2] = {-1, -1}, st = 0, timed_out = 0;
    uri[0] = error[0] = 0;
    if (pipe2(p, O_CLOEXEC)) {
        snprintf(error, ne, "cannot start %s: pipe: %s", prog, strerror(errno));
        return 0;
    }
    pid_t runner = getpid(), pid = fork();
    if (pid < 0) {
        snprintf(error, ne, "cannot start %s: fork: %s", prog, strerror(errno));
        close(p[0]);
        close(p[1]);
        return 0;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != runner)
            _exit(137);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(p[1], 1); /* stderr stays the runner's (runner.log) */
        char *const argv[] = {(char *)prog,     "--dir",         (char *)dir,         "--job-name",
                              (char *)job_name, "--output-path", (char *)output_path, NULL};
        if (!ju->run_as) {
            execve(prog, argv, job_env);
            dprintf(1, "error cannot execute %s: %s\n", prog, strerror(errno));
            _exit(127);
        }
        /* As the job's user: it writes into the caller's output path, and
         * reads a model/ the program made (whose symlinks must resolve with
         * that user's rights). hpo-pack is opened first: the user may not
         * be able to reach the directory it is installed in. */
        char why[256];
        int fd = open(prog, O_PATH); /* kept across the exec: a script needs it */
        if (fd < 0) {
            dprintf(1, "error cannot execute %s: %s\n", prog, strerror(errno));
            _exit(127);
        }
        if (drop_privileges(ju, why, sizeof why)) {
            dprintf(1, "error cannot run as uid %u: %s\n", (unsigned)ju->uid, why);
            _exit(127);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* cleared by the credential change */
        if (getppid() != runner)
            _exit(137);
        syscall(SYS_execveat, fd, "", argv, job_env, AT_EMPTY_PATH);
        dprintf(1, "error cannot execute %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    timed_out = util_collect_child(pid, p[0], PACK_TIMEOUT_S * 1000LL, rep, sizeof rep, &st);
    return util_pack_outcome(rep, st, timed_out, prog, PACK_TIMEOUT_S, uri, nu, error, ne);
}

/* ---- exit.json ---- */

/* Appends s as a JSON string (quoted, escaped) to out[*len], within cap. */
static void json_str(char *out, size_t cap, size_t *len, const char *s) {
    size_t n = *len;
    if (n + 2 >= cap)
        return;
    out[n++] = '"';
    for (; *s && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = 0;
    *len = n;
}

/* Overwrites the reservation (fd) with `data` padded with spaces to its
 * size, syncs it and renames it to exit.json. 0 or -1. */
static int write_exit(int fd, const char *dir, const char *data, size_t len) {
    char pad[LOCAL_EXIT_RESERVE], tmp[LOCAL_PATH_MAX], dst[LOCAL_PATH_MAX];
    if (fd < 0)
        return -1;
    if (len <= sizeof pad) {
        memset(pad, ' ', sizeof pad);
        memcpy(pad, data, len);
        pad[sizeof pad - 1] = '\n';
        data = pad;
        len = sizeof pad;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = pwrite(fd, data + off, len - off, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    if (fdatasync(fd))
        return -1;
    snprintf(tmp, sizeof tmp, "%s/%s", dir, LOCAL_EXIT_TMP_FILE);
    snprintf(dst, sizeof dst, "%s/%s", dir, LOCAL_EXIT_FILE);
    return rename(tmp, dst);
}

/* exit.json could not be written: leave the marker. Needs no new blocks
 * when the reservation exists (a rename). */
static void mark_unwritable(const char *dir) {
    char tmp[LOCAL_PATH_MAX], dst[LOCAL_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s", dir, LOCAL_EXIT_TMP_FILE);
    snprintf(dst, sizeof dst, "%s/%s", dir, LOCAL_UNWRITABLE_FILE);
    if (rename(tmp, dst)) {
        int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            close(fd);
    }
}

/* Creates the reservation for exit.json. Returns its descriptor or -1. */
static int reserve_exit(const char *dir) {
    char p[LOCAL_PATH_MAX], buf[LOCAL_EXIT_RESERVE];
    snprintf(p, sizeof p, "%s/%s", dir, LOCAL_EXIT_TMP_FILE);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    memset(buf, ' ', sizeof buf);
    memcpy(buf, "{\"reserved\": true}", 18);
    buf[sizeof buf - 1] = '\n';
    if (pwrite(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) {
        int saved = errno ? errno : ENOSPC;
        close(fd);
        unlink(p);
        errno = saved;
        return -1;
    }
    return fd;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *job_name = NULL, *output_path = NULL;
    int lockfd = -1, status_fd = -1, env_fd = -1, i, has_uid = 0, has_gid = 0;
    unsigned uid_arg = 0, gid_arg = 0;
    long max_runtime = 0, grace = 120;
    long long log_cap = 64LL << 20;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--dir"))
            dir = argv[++i];
        else if (!strcmp(argv[i], "--lock-fd"))
            lockfd = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--status-fd"))
            status_fd = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-runtime"))
            max_runtime = atol(argv[++i]);
        else if (!strcmp(argv[i], "--grace"))
            grace = atol(argv[++i]);
        else if (!strcmp(argv[i], "--log-cap"))
            log_cap = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--job-name"))
            job_name = argv[++i];
        else if (!strcmp(argv[i], "--output-path"))
            output_path = argv[++i];
        else if (!strcmp(argv[i], "--env-fd"))
            env_fd = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--uid") && !parse_id(argv[i + 1], &uid_arg))
            i++, has_uid = 1;
        else if (!strcmp(argv[i], "--gid") && !parse_id(argv[i + 1], &gid_arg))
            i++, has_gid = 1;
        else
            usage();
    }
    if (!dir || i + 1 >= argc || has_uid != has_gid)
        usage();
    job_user ju = {.run_as = has_uid, .uid = (uid_t)uid_arg, .gid = (gid_t)gid_arg};
    char **prog = argv + i + 1;
    if (lockfd >= 0)
        fcntl(lockfd, F_SETFD, FD_CLOEXEC);
    if (status_fd >= 0 && fcntl(status_fd, F_SETFD, FD_CLOEXEC))
        status_fd = -1;

    /* A daemon killed while the runner starts leaves no reader on the
     * status pipe: the report must fail with EPIPE, not kill the runner (and
     * with it a job that has begun, which would count as lost). The program
     * gets SIGPIPE back (every signal is reset in its child). */
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int p[2] = {-1, -1}, ep[2] = {-1, -1};
    if (sfd < 0 || pipe2(p, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
        report(&status_fd, "error hpo-runner: setup: %s", strerror(errno));
        return 1;
    }
    /* The job's environment is for the program and hpo-pack only. */
    job_env = environ;
    if (env_fd >= 0 && !(job_env = read_env(env_fd))) {
        report(&status_fd, "error hpo-runner: cannot read the job's environment: %s",
               strerror(errno));
        return 1;
    }
    char why[256];
    if (ju.run_as && check_job_dir(dir, why, sizeof why)) {
        report(&status_fd, "error cannot run as uid %u: %s", (unsigned)ju.uid, why);
        return 1;
    }
    char packer[LOCAL_PATH_MAX] = "";
    int packs = output_path && job_name;
    if (packs && (pack_path(packer, sizeof packer) || access(packer, X_OK))) {
        report(&status_fd, "error hpo-runner: cannot find %s: %s",
               packer[0] ? packer : PACK_PROGRAM, strerror(errno));
        return 1;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    char path[LOCAL_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, LOCAL_LOG_FILE);
    int logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (logfd < 0) {
        report(&status_fd, "error hpo-runner: cannot open %s: %s", path, strerror(errno));
        return 1;
    }
    int exitfd = reserve_exit(dir);
    if (exitfd < 0) {
        report(&status_fd, "error hpo-runner: cannot reserve %s/%s: %s", dir, LOCAL_EXIT_TMP_FILE,
               strerror(errno));
        return 1;
    }
    char cg[RUNNER_CGROUP_MAX] = "";
    if (cgroup_create(cg, sizeof cg) == 0) {
        snprintf(path, sizeof path, "%s/%s", dir, LOCAL_CGROUP_FILE);
        if (util_write_file(path, cg, strlen(cg), UTIL_WRITE_PLAIN) || chmod(path, 0600)) {
            rmdir(cg);
            cg[0] = 0;
        }
    } else {
        cg[0] = 0;
    }
    double started = util_now();
    pid_t runner = getpid();
    int cgfd = cg[0] ? open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1, in_cg = 0;
    pid_t child = spawn(cgfd, &in_cg);
    if (child < 0) {
        report(&status_fd, "error hpo-runner: fork: %s", strerror(errno));
        return 1;
    }
    if (child == 0) {
        /* The program starts with a clean signal state, whatever ours is. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != runner)
            _exit(137);
        if (cg[0] && !in_cg)
            write_cg(cg, "cgroup.procs", "0"); /* best effort: the job's own cgroup */
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        /* Nothing of the runner's reaches the program but fds 0-2. */
        syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
        char msg[LOCAL_STATUS_MAX - 16];
        msg[0] = 0;
        if (chdir(dir)) {
            snprintf(msg, sizeof msg, "cannot execute %s: %s", prog[0], strerror(errno));
        } else if (ju.run_as && drop_privileges(&ju, why, sizeof why)) {
            snprintf(msg, sizeof msg, "cannot run as uid %u: %s", (unsigned)ju.uid, why);
        } else {
            if (ju.run_as) {
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* cleared by the credential change */
                if (getppid() != runner)
                    _exit(137);
            }
            environ = job_env; /* execvp searches the job's PATH */
            execvp(prog[0], prog);
            snprintf(msg, sizeof msg, "cannot execute %s: %s", prog[0], strerror(errno));
        }
        /* ep[1] is close-on-exec: the runner reads EOF when exec succeeded,
         * else this one line (atomic: shorter than PIPE_BUF). */
        while (write(ep[1], msg, strlen(msg)) < 0 && errno == EINTR)
            ;
        _exit(127);
    }
    setpgid(child, child); /* also from here: no race with the first kill */
    if (cgfd >= 0)
        close(cgfd);
    close(p[1]);
    close(ep[1]);
    char exec_msg[LOCAL_STATUS_MAX - 16];
    ssize_t got;
    while ((got = read(ep[0], exec_msg, sizeof exec_msg - 1)) < 0 && errno == EINTR)
        ;
    close(ep[0]);
    if (got > 0) {
        exec_msg[got] = 0;
        waitpid(child, NULL, 0);
        sweep(cg);
        snprintf(path, sizeof path, "%s/%s", dir, LOCAL_EXIT_TMP_FILE);
        unlink(path);
        report(&status_fd, "error %s", exec_msg);
        return 127;
    }
    unsigned long long child_start = (unsigned long long)util_proc_starttime((int)child);
    {
        char buf[64];
        snprintf(path, sizeof path, "%s/%s", dir, LOCAL_CHILD_PID_FILE);
        int n = snprintf(buf, sizeof buf, "%d %llu\n", (int)child, child_start);
        if (util_write_file(path, buf, (size_t)n, UTIL_WRITE_PLAIN) == 0)
            chmod(path, 0600);
    }
    report(&status_fd, "ok %d %llu", (int)child, child_start);
    fcntl(p[0], F_SETFL, O_NONBLOCK);

    int status = 0, exited = 0, timed_out = 0, stopped = 0, pipe_open = 1;
    long long logged = 0;
    int64_t t0 = util_mono_ms(), kill_at = -1, drain_until = -1;
    while (!exited || pipe_open) {
        int64_t now = util_mono_ms(), wait = 1000;
        if (!exited && max_runtime > 0 && !timed_out && !stopped &&
            now - t0 >= max_runtime * 1000) {
            timed_out = 1;
            kill(-child, SIGTERM);
            kill_at = now + grace * 1000;
        }
        if (!exited && kill_at >= 0 && now >= kill_at) {
            kill(-child, SIGKILL);
            kill_at = -1;
        }
        if (exited && drain_until >= 0 && now >= drain_until)
            break; /* something still holds the pipe open; stop reading */
        if (max_runtime > 0 && !timed_out && !stopped)
            wait = t0 + max_runtime * 1000 - now;
        if (kill_at >= 0 && kill_at - now < wait)
            wait = kill_at - now;
        if (drain_until >= 0 && drain_until - now < wait)
            wait = drain_until - now;
        if (wait < 0)
            wait = 0;
        struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = p[0], .events = POLLIN}};
        int n = poll(pf, pipe_open ? 2 : 1, (int)(wait > 1000 ? 1000 : wait));
        if (n < 0 && errno != EINTR)
            break;
        if (pf[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    int st;
                    pid_t w;
                    /* Orphans are ours too (subreaper): reap them all. */
                    while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
                        if (w == child && !exited) {
                            status = st;
                            exited = 1;
                            drain_until = util_mono_ms() + RUNNER_DRAIN_MS;
                            kill(-child, SIGKILL); /* leftovers of the job's group */
                            sweep(cg);             /* and everything else it started */
                        }
                    }
                } else if (!exited && !stopped && !timed_out) {
                    stopped = 1;
                    kill(-child, SIGTERM);
                    kill_at = util_mono_ms() + grace * 1000;
                }
            }
        }
        if (pipe_open && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[65536];
            ssize_t r;
            while ((r = read(p[0], buf, sizeof buf)) > 0) {
                if (logged < log_cap) {
                    size_t take = (size_t)r;
                    if ((long long)take > log_cap - logged)
                        take = (size_t)(log_cap - logged);
                    write_all(logfd, buf, take);
                    logged += (long long)take;
                    if (logged >= log_cap) {
                        const char *m = "\n[hpo-runner: output.log reached its cap; "
                                        "the rest of the output is dropped]\n";
                        write_all(logfd, m, strlen(m));
                    }
                }
            }
            if (r == 0) {
                pipe_open = 0;
                close(p[0]);
            }
        }
    }
    if (!exited) {
        kill(-child, SIGKILL);
        waitpid(child, &status, 0);
    }
    sweep(cg); /* nothing of the job outlives it */
    close(logfd);

    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char model_uri[RUNNER_URI_MAX] = "", model_error[RUNNER_MODEL_ERROR_MAX] = "";
    int infra = 0; /* packing failed for the platform's sake (S3 unavailable) */
    if (packs) {   /* Completed, Failed or Stopped: artifacts are stored (pack.h) */
        infra = run_pack(packer, dir, job_name, output_path, &ju, model_uri, sizeof model_uri,
                         model_error, sizeof model_error);
        sweep(cg); /* hpo-pack starts nothing; should it have, nothing outlives it */
        char settings[LOCAL_PATH_MAX]; /* the S3 credentials hpo-pack read (pack.h) */
        snprintf(settings, sizeof settings, "%s/%s", dir, PACK_SETTINGS_FILE);
        unlink(settings); /* ours: the job's user cannot remove a top-level entry */
    }
    char out[LOCAL_EXIT_RESERVE];
    size_t n;
    if (WIFEXITED(status))
        n = (size_t)snprintf(out, sizeof out, "{\"exited\": true, \"code\": %d", code);
    else
        n = (size_t)snprintf(out, sizeof out, "{\"exited\": false, \"signal\": %d",
                             WTERMSIG(status));
    n += (size_t)snprintf(out + n, sizeof out - n,
                          ", \"timed_out\": %s, \"stopped\": %s, \"started\": %.3f, "
                          "\"ended\": %.3f",
                          timed_out ? "true" : "false", stopped ? "true" : "false", started,
                          util_now());
    if (model_uri[0]) {
        n += (size_t)snprintf(out + n, sizeof out - n, ", \"model_uri\": ");
        json_str(out, sizeof out, &n, model_uri);
    }
    if (model_error[0]) {
        n += (size_t)snprintf(out + n, sizeof out - n, ", \"model_error\": ");
        json_str(out, sizeof out, &n, model_error);
    }
    if (infra)
        n += (size_t)snprintf(out + n, sizeof out - n, ", \"infrastructure\": true");
    n += (size_t)snprintf(out + n, sizeof out - n, "}\n");
    if (n >= sizeof out)
        n = sizeof out - 1;
    if (write_exit(exitfd, dir, out, n)) {
        fprintf(stderr, "hpo-runner: cannot write %s/%s: %s\n", dir, LOCAL_EXIT_FILE,
                strerror(errno));
        mark_unwritable(dir);
        close(exitfd);
        return 1;
    }
    close(exitfd);
    return 0;
}
