/* slurm — what the Slurm backend (backends/slurm.c) exposes beyond its ops:
 * the pure parts (Slurm job states, the time limit, squeue's output), for
 * its unit tests, and the files it keeps in a job directory.
 *
 * Files in JOB_DIR (which must be on a filesystem every node shares, at the
 * same path: the daemon's data dir, see docs/BACKENDS.md):
 *   slurm.sh         the batch script (written before the submission)
 *   slurm.submit     "SLURM_JOB_NAME NHOSTS GRACE": written before sbatch runs
 *   slurm.jobid      the Slurm job id: written by the daemon when sbatch has
 *                    answered, and by the batch script when it starts
 *   slurm.stop       openhpo asked the job to stop (CANCELLED -> Stopped)
 *   slurm.out        sbatch --output: the batch script's and srun's own output
 *   output.log, exit.json, runner.status   algo-1's hpo-runner (backends/local.h)
 *   hosts/algo-K/    host K's (K >= 2) runner directory: its own
 *                    input/config (resourceconfig.json), output.log, exit.json
 */
#ifndef OPENHPO_BACKENDS_SLURM_H
#define OPENHPO_BACKENDS_SLURM_H

#include <stddef.h>

#define SLURM_SCRIPT_FILE "slurm.sh"
#define SLURM_SUBMIT_FILE "slurm.submit"
#define SLURM_JOBID_FILE "slurm.jobid"
#define SLURM_STOP_FILE "slurm.stop"
#define SLURM_OUT_FILE "slurm.out"
#define SLURM_STATUS_FILE "runner.status"
#define SLURM_HOSTS_DIR "hosts"

/* What a Slurm job state means to openhpo. */
typedef enum {
    SLURM_K_ACTIVE,  /* pending, running, completing ...: not ended */
    SLURM_K_DONE,    /* COMPLETED: the runner's exit.json says how */
    SLURM_K_CANCEL,  /* CANCELLED: Stopped when openhpo asked, else Failed */
    SLURM_K_TIMEOUT, /* TIMEOUT, DEADLINE: Stopped (MaxRuntimeExceeded) */
    SLURM_K_FAILED,  /* FAILED: Failed with the reason */
    SLURM_K_OOM,     /* OUT_OF_MEMORY: Failed */
    SLURM_K_INFRA,   /* NODE_FAIL, PREEMPTED, BOOT_FAIL: lost, retried */
    SLURM_K_UNKNOWN  /* Slurm no longer knows the job (purged): the files say */
} slurm_kind;

/* The kind of state `name` (as squeue's %T / sacct's State prints it; a
 * sacct "CANCELLED by 0" counts as CANCELLED). An unknown name is ACTIVE
 * (the job is asked about again). */
slurm_kind slurm_state_kind(const char *name);

/* sbatch --time for a job of max_runtime s and grace s: the runner enforces
 * MaxRuntimeInSeconds itself, Slurm's limit is the backstop after it, in
 * whole minutes ("MINUTES"). "" (no limit) when max_runtime <= 0. */
void slurm_time_limit(long max_runtime, long grace, char *out, size_t n);

/* What one line of `squeue -h -o '%i|%T|%r|%j'` (or `sacct -n -P -o
 * JobIDRaw,State,Reason,JobName`) says. */
#define SLURM_FIELD_MAX 128
typedef struct {
    long long id;
    char state[SLURM_FIELD_MAX];
    char reason[SLURM_FIELD_MAX];
    char name[SLURM_FIELD_MAX];
} slurm_row;

/* Parses one such line (no newline needed). 0 on success, -1 for a line
 * that is not one (an error message, a job step "123.batch"). */
int slurm_parse_line(const char *line, slurm_row *out);

#endif
