/* local — what the local backend (backends/local.c) and hpo-runner
 * (runner.c) share: the files in a job directory and the start-up report.
 *
 * Files in JOB_DIR:
 *   runner.lock      flock'ed by the runner for its whole life (alive?)
 *   runner.pid       "PID STARTTIME" of the runner (written before its exec)
 *   child.pid        "PID STARTTIME" of the training program
 *   output.log       the program's stdout+stderr, capped
 *   exit.json.tmp    written at start, padded to LOCAL_EXIT_RESERVE bytes,
 *                    so the final result needs no new disk blocks
 *   exit.json        the outcome (renamed from exit.json.tmp)
 *   exit.unwritable  the job ended but exit.json could not be written
 *   cgroup           path of the job's cgroup v2 directory, when it has one
 *
 * Start-up report: the runner writes one line to the status descriptor and
 * closes it once the program has been exec'ed (or failed to be):
 *   "ok CHILD_PID CHILD_STARTTIME\n"  or  "error MESSAGE\n".
 * The forked daemon child writes "error ..." itself when the runner cannot
 * be exec'ed. EOF with no line means the runner died while starting.
 *
 * The job's environment never is the runner's own: the runner runs as the
 * daemon's user (root), and a job's Environment (LD_PRELOAD, say, when the
 * operator allows it) must never reach a root process. The daemon writes
 * it to a memfd, as NUL-terminated KEY=VALUE strings (at most LOCAL_ENV_MAX
 * bytes), and passes it as descriptor LOCAL_ENV_FD (--env-fd); the runner
 * itself is exec'ed with LOCAL_RUNNER_PATH as its whole environment, reads
 * the job's at start-up and gives it to the program and hpo-pack only. */
#ifndef OPENHPO_BACKENDS_LOCAL_H
#define OPENHPO_BACKENDS_LOCAL_H

#define LOCAL_LOG_FILE "output.log"
#define LOCAL_LOCK_FILE "runner.lock"
#define LOCAL_RUNNER_PID_FILE "runner.pid"
#define LOCAL_CHILD_PID_FILE "child.pid"
#define LOCAL_EXIT_FILE "exit.json"
#define LOCAL_EXIT_TMP_FILE "exit.json.tmp"
#define LOCAL_UNWRITABLE_FILE "exit.unwritable"
#define LOCAL_CGROUP_FILE "cgroup"
#define LOCAL_RUNNER_LOG_FILE "runner.log"

#define LOCAL_EXIT_RESERVE 8192 /* bytes reserved for exit.json */
#define LOCAL_STATUS_MAX 512    /* longest start-up report line */
#define LOCAL_LOCK_FD 3         /* the runner's descriptors, as the daemon passes them */
#define LOCAL_STATUS_FD 4
#define LOCAL_ENV_FD 5
#define LOCAL_ENV_MAX (4 << 20)                                /* bytes of a job's environment */
#define LOCAL_RUNNER_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin" /* the runner's own env */
#define LOCAL_PATH_MAX 4200 /* a job directory path plus a file name */

#endif
