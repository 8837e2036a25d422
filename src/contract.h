/* contract — the SageMaker training-container contract, for one job.
 *
 * Lays out a job directory that stands in for /opt/ml:
 *   input/config/hyperparameters.json  (string -> string)
 *   input/config/resourceconfig.json   (current_host algo-1, hosts)
 *   input/config/inputdataconfig.json  (per channel)
 *   input/data/<channel>/              (file:// sources linked in; s3:// ones
 *                                      are filled by channels.h afterwards)
 *   model/  output/  output/data/      (output/failure is the program's)
 * and builds the environment of the sagemaker-training-toolkit (SM_*),
 * plus TRAINING_JOB_NAME. Backends that run the program somewhere else
 * (a container) pass the path the program sees as `root`. */
#ifndef OPENHPO_CONTRACT_H
#define OPENHPO_CONTRACT_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "backend.h"
#include "err.h"
#include "request.h"

/* Bytes of the end of a job's log that a failure reason quotes from. */
#define CONTRACT_TAIL_MAX 1024
/* Bytes of output/failure read. */
#define CONTRACT_FAILURE_MAX 1024

typedef struct {
    const char *job_name;
    const char *job_dir;           /* where to create the layout, on this host */
    const json_t *hyperparameters; /* object string -> string (borrowed) */
    const req_training_def *def;   /* channels, input mode, environment (borrowed) */
    /* The job's user (backend_launch.run_as/uid/gid): when run_as is 1, the
     * parts of the layout the program writes are that user's (mode 0700)
     * and nothing of the daemon's is. `home` is its home directory (HOME),
     * or NULL for the job directory. */
    int run_as;
    uid_t uid;
    gid_t gid;
    const char *home;
} contract_job;

/* The environment variable a hyperparameter `name` becomes: SM_HP_ and the
 * name in upper case with each non-alphanumeric as '_' ("a-b" and "a_b"
 * both give SM_HP_A_B), written to out[n] (truncated). */
#define CONTRACT_HP_VAR_MAX 300
void contract_hp_var(const char *name, char *out, size_t n);

/* Creates the layout. Channels with a file:// S3Uri are symlinked under
 * input/data/<channel> (a directory links as a whole; a file is linked
 * inside an otherwise empty directory); s3:// ones are left to
 * channels_fetch(). Errors name the channel. */
int contract_prepare(const contract_job *j, err_t *e);

/* Builds the job's environment as a NULL-terminated array: PATH, HOME,
 * LANG, TZ from the daemon's environment, the SM_* variables with paths under
 * `root` (the job directory as the program sees it), and `environment`.
 * Caller frees with contract_env_free(). NULL on allocation failure. */
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
 * says something, 0 otherwise (out is then ""). */
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
