/* pack — packs a training job's model directory into model.tar.gz.
 *
 * Used by hpo-runner (which packs before it writes exit.json, off the
 * daemon's loop) and by contract_pack_model(). Links only libarchive and
 * err/util, so the runner stays small. */
#ifndef OPENHPO_PACK_H
#define OPENHPO_PACK_H

#include <stddef.h>

#include "err.h"

#define PACK_PATH_MAX 4400 /* longest path pack_model builds */

/* Packs JOB_DIR/model into model.tar.gz under output_path, as SageMaker
 * does: for S3OutputPath file:///dir, dir/<job_name>/output/model.tar.gz.
 * Writes its file:// URI to uri[n] ("" when output_path is NULL or not
 * file://, which is not supported yet, and nothing is packed). 0, or
 * ERR_INTERNAL with e set naming the path. */
int pack_model(const char *job_dir, const char *job_name, const char *output_path, char *uri,
               size_t n, err_t *e);

#endif
