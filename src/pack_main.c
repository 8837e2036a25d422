/* hpo-pack — packs a training job's model/ and output/data/ into
 * model.tar.gz and output.tar.gz and stores them (file:// or s3://), for
 * hpo-runner; uploads its checkpoints.
 *
 *   hpo-pack --dir JOB_DIR --job-name NAME --output-path URI
 *
 * Packs JOB_DIR/model as pack_model() does and reports the outcome on
 * stdout in one line: "ok URI" (exit 0), "error MESSAGE" (exit 1; 2 for a
 * usage error) or "unavailable MESSAGE" (exit 1: S3 unreachable). The protocol and its caps are in
 * pack.h. It is a program of its own so that hpo-runner, which the daemon's loop waits for at every
 * launch, links no libarchive. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "pack.h"
#include "s3.h"

/* Writes the one report line, at most PACK_REPORT_MAX bytes. */
static void report(const char *kind, const char *text) {
    char line[PACK_REPORT_MAX];
    int n = snprintf(line, sizeof line - 1, "%s %s", kind, text);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    for (const char *p = line; n > 0;) {
        ssize_t w = write(1, p, (size_t)n);
        if (w <= 0)
            return; /* nobody to tell: the exit status still says it */
        p += w;
        n -= (int)w;
    }
}

int main(int argc, char **argv) {
    const char *dir = NULL, *job_name = NULL, *output_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--job-name"))
            job_name = argv[i + 1];
        else if (!strcmp(argv[i], "--output-path"))
            output_path = argv[i + 1];
        else {
            dir = NULL; /* unknown option: usage */
            break;
        }
    }
    if (!dir || !job_name || !output_path || argc != 7) {
        report("error", "usage: hpo-pack --dir JOB_DIR --job-name NAME --output-path URI");
        return 2;
    }
    char uri[PACK_REPORT_MAX];
    err_t e = {0};
    if (s3_global_init()) {
        report("error", "cannot initialise libcurl");
        return 1;
    }
    if (pack_model(dir, job_name, output_path, uri, sizeof uri, &e)) {
        /* S3 unreachable or failing after its retries is the platform's
         * failure (util_pack_outcome): the job is retried. */
        report(e.code == ERR_UNAVAILABLE ? "unavailable" : "error", e.msg);
        return 1;
    }
    report("ok", uri);
    return 0;
}
