/* pack — packs a training job's model directory into model.tar.gz.
 *
 * Used by hpo-pack (pack_main.c), which hpo-runner starts once the training
 * program has ended and before it writes exit.json (off the daemon's loop),
 * and by contract_pack_model(). Links only libarchive and err/util.
 *
 * hpo-pack is a program of its own so that hpo-runner, which starts once
 * per training job while the daemon's loop waits, links no libarchive (and
 * its dozen libraries): the runner links util.o only.
 *
 *   hpo-pack --dir JOB_DIR --job-name NAME --output-path URI
 *
 * packs as pack_model() below and reports on stdout, in one line of at most
 * PACK_REPORT_MAX bytes: "ok URI\n" (URI "" when nothing was packed: the
 * output path is not file://) and exit status 0, or "error MESSAGE\n" and
 * status 1. The runner finds hpo-pack next to its own binary (the directory
 * of /proc/self/exe, as hpod finds hpo-runner), reads at most
 * PACK_REPORT_MAX bytes of the report, and kills hpo-pack once it has run
 * PACK_TIMEOUT_S seconds (exit.json then has model_error). */
#ifndef OPENHPO_PACK_H
#define OPENHPO_PACK_H

#include <stddef.h>

#include "err.h"

#define PACK_PATH_MAX 4400                   /* longest path pack_model builds */
#define PACK_PROGRAM "hpo-pack"              /* file name, next to hpo-runner */
#define PACK_REPORT_MAX (PACK_PATH_MAX + 64) /* bytes of hpo-pack's report read */
#define PACK_TIMEOUT_S 3600                  /* hpo-pack is killed after this */

/* Packs JOB_DIR/model into model.tar.gz under output_path, as SageMaker
 * does: for S3OutputPath file:///dir, dir/<job_name>/output/model.tar.gz.
 * Writes its file:// URI to uri[n] ("" when output_path is NULL or not
 * file://, which is not supported yet, and nothing is packed). 0, or
 * ERR_INTERNAL with e set naming the path. */
int pack_model(const char *job_dir, const char *job_name, const char *output_path, char *uri,
               size_t n, err_t *e);

#endif
