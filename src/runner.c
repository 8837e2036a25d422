/* hpo-runner — supervises one training job for the local backend.
 *
 *   hpo-runner --dir JOB_DIR --lock-fd N --max-runtime S --grace G
 *              --log-cap BYTES -- PROGRAM [ARGS...]
 *
 * Runs PROGRAM (in its own process group, cwd JOB_DIR, dying with the
 * runner) with stdout+stderr captured into JOB_DIR/output.log, up to
 * BYTES (the rest is drained and dropped). SIGTERM to the runner, or
 * S seconds of runtime, stops the program: SIGTERM to its group, SIGKILL
 * after G seconds. When the program has ended, the runner writes
 * JOB_DIR/exit.json atomically and exits. It holds the locked descriptor N
 * for its whole life: that lock is how the daemon knows it is alive (see
 * backend_local.c). The runner outlives the daemon by design. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static void usage(void) {
    fprintf(stderr, "usage: hpo-runner --dir DIR --lock-fd N --max-runtime S --grace G "
                    "--log-cap BYTES -- PROGRAM [ARGS...]\n");
    exit(2);
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    int lockfd = -1, i;
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
        else if (!strcmp(argv[i], "--max-runtime"))
            max_runtime = atol(argv[++i]);
        else if (!strcmp(argv[i], "--grace"))
            grace = atol(argv[++i]);
        else if (!strcmp(argv[i], "--log-cap"))
            log_cap = atoll(argv[++i]);
        else
            usage();
    }
    if (!dir || i + 1 >= argc)
        usage();
    char **prog = argv + i + 1;
    if (lockfd >= 0)
        fcntl(lockfd, F_SETFD, FD_CLOEXEC);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int p[2];
    if (sfd < 0 || pipe2(p, O_CLOEXEC)) {
        perror("hpo-runner: setup");
        return 1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/output.log", dir);
    int logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        perror("hpo-runner: output.log");
        return 1;
    }
    double started = util_now();
    pid_t runner = getpid();
    pid_t child = fork();
    if (child < 0) {
        perror("hpo-runner: fork");
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
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        if (chdir(dir))
            _exit(126);
        execvp(prog[0], prog);
        dprintf(2, "hpo-runner: cannot execute %s: %s\n", prog[0], strerror(errno));
        _exit(127);
    }
    setpgid(child, child); /* also from here: no race with the first kill */
    close(p[1]);
    {
        char buf[64];
        snprintf(path, sizeof path, "%s/child.pid", dir);
        int n = snprintf(buf, sizeof buf, "%d %llu\n", (int)child,
                         (unsigned long long)util_proc_starttime((int)child));
        util_write_file(path, buf, (size_t)n, UTIL_WRITE_PLAIN);
    }
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
                    if (!exited && waitpid(child, &st, WNOHANG) == child) {
                        status = st;
                        exited = 1;
                        drain_until = util_mono_ms() + 2000;
                        kill(-child, SIGKILL); /* leftovers of the job's group */
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
    close(logfd);

    char out[512];
    int n;
    if (WIFEXITED(status))
        n = snprintf(out, sizeof out, "{\"exited\": true, \"code\": %d", WEXITSTATUS(status));
    else
        n = snprintf(out, sizeof out, "{\"exited\": false, \"signal\": %d", WTERMSIG(status));
    n += snprintf(out + n, sizeof out - (size_t)n,
                  ", \"timed_out\": %s, \"stopped\": %s, \"started\": %.3f, \"ended\": %.3f}\n",
                  timed_out ? "true" : "false", stopped ? "true" : "false", started, util_now());
    snprintf(path, sizeof path, "%s/exit.json", dir);
    if (util_write_file(path, out, (size_t)n, UTIL_WRITE_DURABLE)) {
        perror("hpo-runner: exit.json");
        return 1;
    }
    return 0;
}
