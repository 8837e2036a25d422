/* pack — a training job's artifacts: model/ as model.tar.gz and
 * output/data/ as output.tar.gz, stored at <S3OutputPath>/<job>/output/,
 * and its checkpoints uploaded to CheckpointConfig.S3Uri.
 *
 * Used by hpo-pack (pack_main.c), which hpo-runner starts once the training
 * program has ended (Completed, Failed or Stopped) and before it writes
 * exit.json (off the daemon's loop), and by contract_pack_model(). Links
 * libarchive, libcurl + libxml2 (s3.c) and err/util/sigv4.
 *
 * hpo-pack is a program of its own so that hpo-runner, which starts once
 * per training job while the daemon's loop waits, links no libarchive (and
 * its dozen libraries): the runner links util.o only.
 *
 *   hpo-pack --dir JOB_DIR --job-name NAME --output-path URI
 *
 * packs as pack_model() below and reports on stdout, in one line of at most
 * PACK_REPORT_MAX bytes: "ok URI\n" (the model's URI) and exit status 0, or
 * "error MESSAGE\n" and status 1, or "unavailable MESSAGE\n" and status 1
 * when S3 could not be reached or kept failing (the platform's failure:
 * exit.json says "infrastructure" and the job is retried;
 * util_pack_outcome reads the report). The runner finds hpo-pack next to its own
 * binary (the directory of /proc/self/exe, as hpod finds hpo-runner), reads
 * at most PACK_REPORT_MAX bytes of the report, and kills hpo-pack once it
 * has run PACK_TIMEOUT_S seconds (exit.json then has model_error).
 *
 * Where: file:///dir → dir/<job>/output/{model,output}.tar.gz, each written
 * to a temporary name in that directory (O_CREAT|O_EXCL|O_NOFOLLOW) and
 * renamed into place, so no half file is ever seen and no symlink is
 * written through. s3://bucket/prefix → s3://bucket/prefix/<job>/output/...
 * (packed to a temporary file in JOB_DIR/output, then PutObject, or a
 * multipart upload above S3_PART_SIZE).
 *
 * S3 settings: the daemon writes them (endpoint, region, credentials, the
 * checkpoint URI and directory) to JOB_DIR/PACK_SETTINGS_FILE (mode 0600,
 * the job's user's when it runs as one) at launch, since hpo-pack runs with
 * the job's environment, not the daemon's; hpo-pack reads it and removes it
 * (and hpo-runner after it, since a job's user cannot remove a top-level
 * entry of a run_as job directory).
 * The training program, running as the same user, can read it too, as a
 * SageMaker container can use its role's credentials. */
#ifndef OPENHPO_PACK_H
#define OPENHPO_PACK_H

#include <stddef.h>

#include <sys/types.h>

#include "err.h"
#include "s3.h"

#define PACK_PATH_MAX 4400                   /* longest path pack_model builds */
#define PACK_PROGRAM "hpo-pack"              /* file name, next to hpo-runner */
#define PACK_REPORT_MAX (PACK_PATH_MAX + 64) /* bytes of hpo-pack's report read */
#define PACK_TIMEOUT_S 3600                  /* hpo-pack is killed after this */

#define PACK_SETTINGS_FILE "pack-settings.json" /* in JOB_DIR; see above */
#define PACK_SETTINGS_MAX (16 * 1024)           /* bytes of it read */

/* Writes JOB_DIR/PACK_SETTINGS_FILE: s3 (endpoint, region, credentials) and
 * the checkpoints' URI and local directory (both NULL: none); owned by
 * uid/gid when run_as. 0 or ERR_INTERNAL naming the file. */
int pack_write_settings(const char *job_dir, const s3_config *s3, const char *checkpoint_uri,
                        const char *checkpoint_dir, int run_as, uid_t uid, gid_t gid, err_t *e);

/* Packs JOB_DIR/model into model.tar.gz and JOB_DIR/output/data into
 * output.tar.gz, stores both under output_path/<job_name>/output/ (file://
 * or s3://, see above), then uploads the checkpoints (when the settings name
 * them). Writes the model's URI to uri[n] ("" when output_path is NULL).
 * 0, or an err_code with e naming the URI and the cause. */
int pack_model(const char *job_dir, const char *job_name, const char *output_path, char *uri,
               size_t n, err_t *e);

/* Packs directory `dir` (its contents, relative paths; nothing when it does
 * not exist) as a gzipped tar written to fd. 0 or ERR_INTERNAL. */
int pack_dir_to_fd(const char *dir, int fd, err_t *e);

#endif
