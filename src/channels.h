/* channels — a training job's s3:// input channels, fetched into
 * JOB_DIR/input/data/<channel>/ before the job starts (SageMaker File mode).
 *
 * S3DataType S3Prefix: every object whose key starts with the URI's key;
 * ManifestFile: the URI names a JSON manifest
 *   [{"prefix": "s3://bucket/some/prefix/"}, "rel/key1", "rel/key2", ...]
 * and the channel is the objects PREFIX + rel. Where a file lands: its key
 * relative to the directory part of the URI's key (everything up to and
 * including its last '/'): s3://b/data/train/ + key data/train/a/x.csv lands
 * at <channel>/a/x.csv, s3://b/data/train.csv at <channel>/train.csv. For a
 * manifest, at <channel>/rel. Keys ending in '/' ("directories") are
 * skipped; a relative path with an empty, "." or ".." component, a control
 * character or over CHANNELS_REL_MAX bytes fails the job (channels_rel_path):
 * nothing lands outside the channel's directory.
 *
 * S3DataDistributionType ShardedByS3Key: the objects, sorted by key (byte
 * order), are dealt to the hosts: the i-th (from 0) to host i mod N
 * (channels_shard). FullyReplicated (the default): every host gets all.
 * The local backend runs one host, which gets all. A backend with several
 * hosts (BACKEND_CAP_MULTI_NODE, InstanceCount N > 1) gets every host's
 * channels from the launch (trial.c): host 0 (algo-1) in JOB_DIR/input/data,
 * host H in JOB_DIR/CHANNELS_HOSTS_DIR/algo-(H+1)/input/data (the layout the
 * Docker and Slurm backends use for their other hosts), one channels_fetch
 * per host, all but the first only linking from the cache.
 *
 * Cache: a channel is downloaded once per tuning job (a training job of its
 * own counts as its own tuning job) into CACHE_DIR/<scope>-<hash>, the hash
 * over scope, channel name, URI and S3DataType; the first fetch holds an
 * flock on <entry>.lock, downloads into <entry>.tmp and renames it into
 * place, so concurrent first fetches download once and nobody sees a half
 * filled entry. When the tuning job ends the engine drops its entries
 * (channels_drop_scope, on the download worker); a daemon that dies in
 * between leaves them, and a later tuning job of the same name and
 * channels reuses them. Each job then gets hard links to the cached files (a copy
 * across filesystems): a program that rewrites its input in place would
 * change the cache; SageMaker's inputs are read-only by convention.
 *
 * Where it runs: hpod gives the engine a download worker of its own
 * (trial_env.dl): a launch whose definition has s3:// channels or
 * checkpoints first fills the cache there (cache_only), then goes to the
 * engine's worker, where the job directory is laid out and the files are
 * linked (fast), so a long download never holds up suggestions or other
 * launches. Without that worker the download runs inside the launch.
 *
 * Downloads run on CHANNELS_THREADS threads, each with its own connection;
 * objects over CHANNELS_RANGE_PART bytes are fetched as ranged parts in
 * parallel. The whole fetch of one job stops with an error after
 * CHANNELS_DEADLINE_S seconds (checked between parts).
 *
 * Errors (e->msg is the training job's FailureReason): "ClientError: " and
 * what s3.h says, e.g. "ClientError: cannot fetch s3://bkt/x/: NoSuchBucket
 * (404): The specified bucket does not exist". */
#ifndef OPENHPO_CHANNELS_H
#define OPENHPO_CHANNELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "request.h"
#include "s3.h"

#define CHANNELS_OBJECTS_MAX 100000              /* objects in one channel */
#define CHANNELS_BYTES_MAX (256LL << 30)         /* bytes in one channel (listed sizes) */
#define CHANNELS_MANIFEST_MAX (16 * 1024 * 1024) /* bytes of a manifest */
#define CHANNELS_REL_MAX 1024                    /* a file's path under its channel */
#define CHANNELS_THREADS 4                       /* parallel downloads of one fetch */
#define CHANNELS_RANGE_PART (8LL * 1024 * 1024)  /* ranged part of a large object */
#define CHANNELS_DEADLINE_S 3600                 /* one job's whole fetch */
#define CHANNELS_CACHE_DIR ".s3-cache"           /* under the account's jobs dir */
#define CHANNELS_HOSTS_DIR "hosts" /* JOB_DIR/hosts/algo-K: host K > 1 (backends/docker.h) */

/* Does the definition have an s3:// channel? */
int channels_uses_s3(const req_training_def *def);

/* The relative path of `key` under prefix directory `dir` (a prefix of
 * key ending in '/', or ""), checked as above, into out[n]. -1 when the key
 * is a "directory" (ends in '/', skipped), 0 when out is set, or
 * ERR_VALIDATION naming the key. */
int channels_rel_path(const char *key, const char *dir, char *out, size_t n, err_t *e);

/* The directory part of a key: up to and including its last '/' ("" when
 * none) into out[n]. */
void channels_key_dir(const char *key, char *out, size_t n);

/* Parses a manifest (text[n]): *prefix_uri (s3://...; caller frees) and
 * *rels[*nrels] (caller frees with channels_strings_free). ERR_VALIDATION
 * with e saying what is wrong (not JSON, no prefix object first, a
 * non-string entry, more than CHANNELS_OBJECTS_MAX entries). */
int channels_manifest_parse(const char *text, size_t n, char **prefix_uri, char ***rels,
                            size_t *nrels, err_t *e);
void channels_strings_free(char **v, size_t n);

/* The host (0..nhosts-1) the i-th object in key order goes to. */
int channels_shard(size_t i, int nhosts);

typedef struct {
    const req_training_def *def; /* the channels (borrowed) */
    const char *job_dir;         /* JOB_DIR: files go to JOB_DIR/input/data/<channel> */
    const char *cache_dir;       /* where cache entries live (created if missing) */
    const char *scope;           /* cache scope: the tuning job's name */
    const s3_config *s3;
    int host, nhosts; /* this host's index and the number of hosts (0, 1 for one) */
    int cache_only;   /* fill the cache entries only (job_dir unused) */
    /* Polled between parts (may be NULL): non-zero stops the fetch with an
     * error ("cancelled"). Called from the download threads. */
    int (*cancelled)(void *ud);
    void *cancel_ud;
} channels_job;

/* Fetches (or takes from the cache) every s3:// channel of the job and
 * links it into the job directory. Blocks (run it off the loop). 0, or an
 * err_code with e->msg the FailureReason. */
int channels_fetch(const channels_job *j, err_t *e);

/* Links cache entry `entry` (a directory holding data/ and index) into
 * `dest` for host/nhosts (the shard rule when sharded is 1). For backends
 * with several hosts. 0 or ERR_INTERNAL. */
int channels_link_entry(const char *entry, const char *dest, int sharded, int host, int nhosts,
                        err_t *e);

/* Downloads every object under s3 URI `uri` (S3Prefix) into `dest`
 * (relative paths kept; no cache): checkpoints. 0 or an err_code. */
/* Removes the cache entries of `scope` (and their .lock / .tmp) from
 * cache_dir: the names "<scope>-<16 hex digits>[.lock|.tmp]", so another
 * scope that merely starts with this one keeps its own. Slow (a tree
 * removal): call it off the loop. Returns the number of entries removed, or
 * -1 when cache_dir cannot be read (0 when it does not exist). */
int channels_drop_scope(const char *cache_dir, const char *scope);

int channels_fetch_prefix(const s3_config *s3, const char *uri, const char *dest,
                          int (*cancelled)(void *ud), void *cancel_ud, err_t *e);

/* lchown -R of dir (not following symlinks) to uid:gid: checkpoints the
 * daemon downloaded for a job that runs as its own user. 0 or ERR_INTERNAL. */
int channels_chown_tree(const char *dir, uid_t uid, gid_t gid, err_t *e);

#endif
