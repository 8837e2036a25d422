/* contract — the SageMaker training-container contract, for one job.
 *
 * Lays out a job directory that stands in for /opt/ml:
 *   input/config/hyperparameters.json  (string -> string)
 *   input/config/resourceconfig.json   (current_host algo-1, hosts)
 *   input/config/inputdataconfig.json  (per channel)
 *   input/data/<channel>/              (file:// sources linked in; s3:// ones
 *                                      are filled by channels.h afterwards)
 *   model/  output/  output/data/      (output/failure is the program's)
 *   checkpoints/                       (empty; the program's)
 * and builds the environment of the sagemaker-training-toolkit (SM_*),
 * plus TRAINING_JOB_NAME. Backends that run the program somewhere else
 * (a container) pass the path the program sees as `root`.
 *
 * Ownership. run_as 0: everything is the daemon's user's, as it creates it
 * (directories 0755, files 0644 under its umask). run_as 1 (the job runs as
 * uid:gid): the job directory itself is the daemon's, mode 0711, and so is
 * every file the backend keeps in it (backends/local.h: runner.lock,
 * runner.pid, output.log, exit.json, cgroup ..., all 0600); the parts the
 * program uses — input/, model/, output/, checkpoints/ and everything in
 * them — are uid:gid's, directories 0700 (files keep 0644). Ownership is
 * changed without following a link (a channel's link changes owner, its
 * target never). So the job's user can read and write its parts but can
 * neither create a new top-level entry in /opt/ml nor replace a control
 * file: a deliberate deviation from "the job directory is the user's",
 * because a forged runner.pid would make a restarted daemon signal any pid
 * it names, and a forged exit.json would be taken as the job's result. A
 * program that writes to its working directory (the job directory) must
 * write under model/ or output/ instead. run_as 1 wants a fresh job
 * directory (the caller removes an old one first: util_rm_rf, which never
 * follows a link): a part that exists already is an error, so nothing the
 * user left behind is written through. The job's user must be able to
 * search (x) every directory above the job directory.
 *
 * Environment: a clean slate — nothing of the daemon's environment:
 *   PATH=CONTRACT_DEFAULT_PATH, HOME=contract_job.home (else the job
 *   directory as the program sees it, `root`), USER and LOGNAME = the job's
 *   user's name (the daemon's user's with run_as 0; left out when the uid
 *   has no passwd entry), LANG=CONTRACT_DEFAULT_LANG, TZ=CONTRACT_DEFAULT_TZ,
 * then the SM_* variables and TRAINING_JOB_NAME, PYTHONUNBUFFERED=1,
 * OPENHPO_JOB_DIR, then the request's Environment: a key set twice keeps
 * its last value (the request's wins). Which Environment keys are allowed
 * at all is decided before this (tenant policy). */
#ifndef OPENHPO_CONTRACT_H
#define OPENHPO_CONTRACT_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "backend.h"
#include "err.h"
#include "request.h"

/* The one PATH a job gets (Debian's default for root's login shells). */
#define CONTRACT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CONTRACT_DEFAULT_LANG "C.UTF-8"
#define CONTRACT_DEFAULT_TZ "UTC" /* as in SageMaker's containers */

/* Bytes of the end of a job's log that a failure reason quotes from. */
#define CONTRACT_TAIL_MAX 1024
/* Bytes of output/failure read. */
#define CONTRACT_FAILURE_MAX 1024

typedef struct {
    const char *job_name;
    const char *job_arn;           /* TRAINING_JOB_ARN (contract_training_arn), or NULL */
    const char *job_dir;           /* where to create the layout, on this host */
    const json_t *hyperparameters; /* object string -> string (borrowed) */
    const req_training_def *def;   /* channels, input mode, environment (borrowed) */
    /* The job's user (backend_launch.run_as/uid/gid): when run_as is 1, the
     * parts of the layout the program writes are that user's (mode 0700)
     * and nothing of the daemon's is (see Ownership above). `home` is its
     * home directory (HOME), or NULL for the job directory. */
    int run_as;
    uid_t uid;
    gid_t gid;
    const char *home;
} contract_job;

/* A training job's ARN, the one format (the APIs' TrainingJobArn and the
 * job's TRAINING_JOB_ARN): arn:aws:sagemaker:REGION:ACCOUNT:training-job/NAME,
 * into out[n] (truncated). */
#define CONTRACT_ARN_MAX 320
#define CONTRACT_DEFAULT_REGION "us-east-1" /* hpod --region's default */
void contract_training_arn(const char *region, const char *account, const char *name, char *out,
                           size_t n);

/* The environment variable a hyperparameter `name` becomes: SM_HP_ and the
 * name in upper case with each non-alphanumeric as '_' ("a-b" and "a_b"
 * both give SM_HP_A_B), written to out[n] (truncated). */
#define CONTRACT_HP_VAR_MAX 300
void contract_hp_var(const char *name, char *out, size_t n);

/* Creates the layout, owned as Ownership above says (run_as 1 must run as
 * root, or as a user that may chown to uid:gid). Channels with a file://
 * S3Uri are symlinked under input/data/<channel> (a directory links as a
 * whole; a file is linked inside an otherwise empty directory); s3:// ones
 * are left to channels_fetch(). Errors name the channel or the path. */
int contract_prepare(const contract_job *j, err_t *e);

/* Builds the job's environment (see Environment above) as a NULL-terminated
 * array, the SM_* variables with paths under `root` (the job directory as
 * the program sees it). Reads nothing of the caller's environment.
 * Thread-safe (getpwuid_r). Caller frees with contract_env_free(). NULL on
 * allocation failure. */
char **contract_env(const contract_job *j, const char *root);
void contract_env_free(char **env);

/* Packs JOB_DIR/model into model.tar.gz (and output/data into
 * output.tar.gz) under the job's output location, as SageMaker does: for
 * S3OutputPath file:///dir, dir/<job_name>/output/model.tar.gz; s3:// too
 * (pack.h). Writes the model's URI to uri[]. Errors name the path. */
int contract_pack_model(const char *job_dir, const char *job_name, const char *s3_output_path,
                        char *uri, size_t n, err_t *e);

/* Reads JOB_DIR/output/failure (the program's own failure text; at most
 * CONTRACT_FAILURE_MAX bytes, trailing blanks trimmed) into out. 1 when it
 * says something, 0 otherwise (out is then ""). Only a regular file with a
 * single link, never through a symlink: the daemon must not read, for the
 * program, a file the program could not read itself. */
int contract_read_failure(const char *job_dir, char *out, size_t n);

/* The FailureReason of a training job that ended on its own without
 * success (neither stopped nor timed out), as SageMaker words it:
 *   - the program's output/failure text, when it wrote one (`failure`);
 *   - else "AlgorithmError: " + the backend's own error (r->error);
 *   - else "AlgorithmError: training program exited with code N: LAST LINE"
 *     or "... was killed by signal N: LAST LINE", LAST LINE being the last
 *     non-empty line of `tail` (tail_len bytes of the end of the log; may
 *     be NULL).
 * `failure` may be NULL or "". Writes at most n bytes to out. */
void contract_failure_reason(const char *failure, const char *tail, size_t tail_len,
                             const backend_result *r, char *out, size_t n);

#endif
