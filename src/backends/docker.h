/* docker — the Docker backend's files, labels and caps (backends/docker.c;
 * the whole interface is backend.h's, this header only names what the
 * backend leaves in a job directory and on the engine, for the docs and
 * the tests).
 *
 * Files in JOB_DIR (algo-1's /opt/ml):
 *   output.log         algo-1's log stream (stdout and stderr), capped
 *   exit.json          the outcome, written once every container has ended
 *                      and the model is packed (the fields of the local
 *                      backend's exit.json); durable after the containers
 *                      are removed
 *   exit.unwritable    the job ended but exit.json could not be written
 *   hosts/algo-I/      the /opt/ml of host I > 1 (InstanceCount > 1), with
 *                      its own output.log
 *
 * Labels on every container and job network (DOCKER_LABEL_*): "openhpo",
 * the daemon's data dir, the job dir, the job, the account, the host, and
 * what a restarted daemon needs to finish the job (max runtime, grace,
 * output path, user). A daemon only ever lists, adopts or removes
 * containers labelled with its own data dir. */
#ifndef OPENHPO_BACKENDS_DOCKER_H
#define OPENHPO_BACKENDS_DOCKER_H

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_LOG_FILE "output.log"
#define DOCKER_EXIT_FILE "exit.json"
#define DOCKER_UNWRITABLE_FILE "exit.unwritable"
#define DOCKER_HOSTS_DIR "hosts"
#define DOCKER_ML_ROOT "/opt/ml" /* the job directory as the container sees it */

#define DOCKER_LABEL "openhpo"
#define DOCKER_LABEL_DATA_DIR "openhpo.data_dir"
#define DOCKER_LABEL_JOB_DIR "openhpo.job_dir"
#define DOCKER_LABEL_JOB "openhpo.job"
#define DOCKER_LABEL_ACCOUNT "openhpo.account"
#define DOCKER_LABEL_HOST "openhpo.host"   /* "1" .. "N" */
#define DOCKER_LABEL_HOSTS "openhpo.hosts" /* N */
#define DOCKER_LABEL_MAX_RUNTIME "openhpo.max_runtime"
#define DOCKER_LABEL_GRACE "openhpo.grace"
#define DOCKER_LABEL_OUTPUT "openhpo.output_path"
#define DOCKER_LABEL_USER "openhpo.user" /* "UID:GID", or "" */

#define DOCKER_MAX_HOSTS 16     /* InstanceCount on Docker */
#define DOCKER_MAX_MOUNTS 64    /* bind mounts of one container (channels included) */
#define DOCKER_MAX_LABELS 32    /* extra labels from the settings */
#define DOCKER_POLL_MS 500      /* a running job's containers are inspected this often */
#define DOCKER_STOP_MARGIN_S 10 /* after the grace, the engine's stop had its chance */
#define DOCKER_LOG_JOIN_S 10    /* a log stream still open this long after the end is cut */
#define DOCKER_DIR_MAX 1024     /* a job directory path */
#define DOCKER_FILE_MAX 4400    /* a path in it */

#endif
