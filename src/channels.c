/* channels — s3:// input channels into the job directory, cached per
 * tuning job, downloaded in parallel. See channels.h. */
#include "channels.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigv4.h"
#include "util.h"

#define PATH_CAP 4400
#define CHANNELS_HASH_LEN 16 /* hex digits of a cache entry's hash */
#define ENTRY_SCOPE_MAX 128  /* bytes of the scope in a cache entry's name */

int channels_uses_s3(const req_training_def *def) {
    for (size_t i = 0; def && i < def->nchannels; i++)
        if (def->channels[i].uri && !strncmp(def->channels[i].uri, "s3://", 5))
            return 1;
    return 0;
}

int channels_shard(size_t i, int nhosts) {
    return nhosts > 1 ? (int)(i % (size_t)nhosts) : 0;
}

void channels_key_dir(const char *key, char *out, size_t n) {
    const char *slash = strrchr(key, '/');
    size_t len = slash ? (size_t)(slash - key) + 1 : 0;
    snprintf(out, n, "%.*s", (int)len, key);
}

int channels_rel_path(const char *key, const char *dir, char *out, size_t n, err_t *e) {
    size_t dn = strlen(dir);
    if (strncmp(key, dir, dn))
        return err_set(e, ERR_VALIDATION, "key '%.300s' is not under '%.300s'", key, dir);
    const char *rel = key + dn;
    size_t rn = strlen(rel);
    if (rn == 0 || rel[rn - 1] == '/')
        return -1; /* a "directory" */
    if (rn > CHANNELS_REL_MAX || rn >= n)
        return err_set(e, ERR_VALIDATION,
                       "key '%.300s...' is too long (over %d bytes under its "
                       "prefix)",
                       key, CHANNELS_REL_MAX);
    for (const char *p = rel; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return err_set(e, ERR_VALIDATION, "key '%.300s' has a control character", key);
    for (const char *c = rel; c;) {
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return err_set(e, ERR_VALIDATION,
                           "key '%.300s' has an empty, '.' or '..' path component: it cannot be "
                           "placed inside the channel's directory",
                           key);
        c = slash ? slash + 1 : NULL;
    }
    memcpy(out, rel, rn + 1);
    return 0;
}

void channels_strings_free(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int channels_manifest_parse(const char *text, size_t n, char **prefix_uri, char ***rels,
                            size_t *nrels, err_t *e) {
    json_error_t je;
    json_t *m = json_loadb(text, n, 0, &je);
    char **v = NULL;
    size_t nv = 0;
    int rc = 0;
    *prefix_uri = NULL;
    *rels = NULL;
    *nrels = 0;
    if (!m) {
        rc = err_set(e, ERR_VALIDATION, "the manifest is not JSON (line %d: %.100s)", je.line,
                     je.text);
        goto out;
    }
    const char *prefix = json_string_value(json_object_get(json_array_get(m, 0), "prefix"));
    if (!json_is_array(m) || !prefix || strncmp(prefix, "s3://", 5)) {
        rc = err_set(e, ERR_VALIDATION,
                     "the manifest is not a JSON array whose first element is "
                     "{\"prefix\": \"s3://...\"}");
        goto out;
    }
    if (json_array_size(m) - 1 > CHANNELS_OBJECTS_MAX) {
        rc = err_set(e, ERR_VALIDATION, "the manifest lists more than %d objects",
                     CHANNELS_OBJECTS_MAX);
        goto out;
    }
    if (!(v = calloc(json_array_size(m), sizeof *v)) || !(*prefix_uri = strdup(prefix))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 1; i < json_array_size(m); i++) {
        const char *s = json_string_value(json_array_get(m, i));
        if (!s) {
            rc = err_set(e, ERR_VALIDATION, "manifest element %zu is not a string", i);
            goto out;
        }
        if (!(v[nv++] = strdup(s))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
out:
    json_decref(m);
    if (rc) {
        free(*prefix_uri);
        *prefix_uri = NULL;
        channels_strings_free(v, nv);
        return rc;
    }
    *rels = v;
    *nrels = nv;
    return 0;
}

/* ---------- parallel download ---------- */

typedef struct {
    const char *key;  /* borrowed from the object list */
    int fd;           /* the file's descriptor (owned by the plan) */
    int64_t off, len; /* len < 0: the whole object, size unknown */
} task;

typedef struct {
    const s3_config *s3;
    const char *bucket;
    task *t;
    size_t nt;
    size_t next; /* guarded by mu */
    int rc;      /* first failure; guarded by mu */
    err_t e;     /* its message; guarded by mu */
    int64_t deadline_ms;
    int (*cancelled)(void *ud);
    void *cancel_ud;
    pthread_mutex_t mu;
} pool;

static void *pool_thread(void *arg) {
    pool *p = arg;
    err_t e = {0};
    s3_client *c = s3_client_new(p->s3, &e);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int stop = p->rc != 0 || p->next >= p->nt || !c;
        if (!c && !p->rc) {
            p->rc = e.code;
            p->e = e;
        }
        if (!stop && p->cancelled && p->cancelled(p->cancel_ud)) {
            p->rc = err_set(&p->e, ERR_UNAVAILABLE,
                            "the download was cancelled (hpod is "
                            "shutting down)");
            stop = 1;
        }
        if (!stop && util_mono_ms() > p->deadline_ms) {
            p->rc = err_set(&p->e, ERR_UNAVAILABLE, "the download took longer than %d s",
                            CHANNELS_DEADLINE_S);
            stop = 1;
        }
        size_t i = stop ? 0 : p->next++;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        task *t = &p->t[i];
        int rc = s3_get_to_fd(c, p->bucket, t->key, t->off, t->len, t->fd, t->off, NULL, &e);
        if (rc) {
            pthread_mutex_lock(&p->mu);
            if (!p->rc) {
                p->rc = rc;
                p->e = e;
            }
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
    s3_client_free(c);
    return NULL;
}

/* Runs the tasks on CHANNELS_THREADS threads (fewer for few tasks). */
static int run_pool(const s3_config *s3, const char *bucket, task *t, size_t nt,
                    int (*cancelled)(void *), void *cancel_ud, err_t *e) {
    pool p = {.s3 = s3,
              .bucket = bucket,
              .t = t,
              .nt = nt,
              .cancelled = cancelled,
              .cancel_ud = cancel_ud};
    pthread_t th[CHANNELS_THREADS];
    int started = 0;
    p.deadline_ms = util_mono_ms() + CHANNELS_DEADLINE_S * 1000LL;
    pthread_mutex_init(&p.mu, NULL);
    for (int i = 0; i < CHANNELS_THREADS && (size_t)i < nt; i++)
        if (pthread_create(&th[i], NULL, pool_thread, &p) == 0)
            started++;
    if (nt && !started)
        pool_thread(&p); /* no thread: do it here */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    if (p.rc)
        *e = p.e;
    return p.rc;
}

/* One object to place: key (owned), rel path (owned), size (-1 unknown). */
typedef struct {
    char *key, *rel;
    int64_t size;
} item;

static void items_free(item *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].key);
        free(v[i].rel);
    }
    free(v);
}

static int item_cmp(const void *a, const void *b) {
    return strcmp(((const item *)a)->key, ((const item *)b)->key);
}

/* mkdir -p of the parent of path. */
static int mkdir_parent(const char *path) {
    char d[PATH_CAP];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash)
        return 0;
    *slash = 0;
    return util_mkdir_p(d, 0);
}

/* Downloads items into dir/<rel> (files created O_EXCL|O_NOFOLLOW). */
static int download(const s3_config *s3, const char *bucket, item *v, size_t nv, const char *dir,
                    int (*cancelled)(void *), void *cancel_ud, err_t *e) {
    task *t = NULL;
    size_t nt = 0, cap = 0;
    int *fds = calloc(nv ? nv : 1, sizeof *fds), rc = 0;
    if (!fds)
        return err_set(e, ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < nv; i++)
        fds[i] = -1;
    for (size_t i = 0; i < nv; i++) {
        char path[PATH_CAP];
        snprintf(path, sizeof path, "%s/%s", dir, v[i].rel);
        if (mkdir_parent(path) ||
            (fds[i] = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0) {
            rc = err_set(e, ERR_INTERNAL, "cannot create %s: %s", path, strerror(errno));
            goto out;
        }
        if (v[i].size > 0 && ftruncate(fds[i], v[i].size)) {
            rc = err_set(e, ERR_INTERNAL, "cannot size %s: %s", path, strerror(errno));
            goto out;
        }
        int64_t parts = v[i].size > CHANNELS_RANGE_PART
                            ? (v[i].size + CHANNELS_RANGE_PART - 1) / CHANNELS_RANGE_PART
                            : 1;
        if (v[i].size == 0)
            continue; /* an empty object: nothing to fetch */
        for (int64_t k = 0; k < parts; k++) {
            if (nt == cap) {
                size_t nc = cap ? 2 * cap : 64;
                task *nt_ = realloc(t, nc * sizeof *t);
                if (!nt_) {
                    rc = err_set(e, ERR_INTERNAL, "out of memory");
                    goto out;
                }
                t = nt_;
                cap = nc;
            }
            int64_t off = k * CHANNELS_RANGE_PART;
            t[nt++] = (task){.key = v[i].key,
                             .fd = fds[i],
                             .off = parts > 1 ? off : 0,
                             .len = parts > 1 ? (v[i].size - off > CHANNELS_RANGE_PART
                                                     ? CHANNELS_RANGE_PART
                                                     : v[i].size - off)
                                              : v[i].size};
        }
    }
    rc = run_pool(s3, bucket, t, nt, cancelled, cancel_ud, e);
out:
    for (size_t i = 0; i < nv; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(t);
    return rc;
}

/* The items of a channel (S3Prefix listing or manifest), sorted by key. */
static int plan(const s3_config *s3, const char *uri, int manifest, char *bucket, item **out,
                size_t *nout, err_t *e) {
    char key[S3_KEY_MAX + 1], dir[S3_KEY_MAX + 1];
    item *v = NULL;
    size_t nv = 0;
    int rc;
    s3_client *c = NULL;
    *out = NULL;
    *nout = 0;
    if ((rc = s3_parse_uri(uri, bucket, key, e)))
        return rc;
    if (!(c = s3_client_new(s3, e)))
        return e->code;
    if (manifest) {
        char *text = NULL, *prefix = NULL, **rels = NULL, pbucket[S3_BUCKET_MAX + 1];
        char pkey[S3_KEY_MAX + 1];
        size_t n = 0, nrels = 0;
        if ((rc = s3_get_mem(c, bucket, key, CHANNELS_MANIFEST_MAX, &text, &n, e)))
            goto out;
        rc = channels_manifest_parse(text, n, &prefix, &rels, &nrels, e);
        free(text);
        if (rc) {
            char m[ERR_MSG_MAX];
            snprintf(m, sizeof m, "manifest %.300s: %s", uri, e->msg);
            snprintf(e->msg, sizeof e->msg, "%s", m);
            goto out;
        }
        if ((rc = s3_parse_uri(prefix, pbucket, pkey, e))) {
            channels_strings_free(rels, nrels);
            free(prefix);
            goto out;
        }
        if (strcmp(pbucket, bucket))
            snprintf(bucket, S3_BUCKET_MAX + 1, "%s", pbucket);
        if (!(v = calloc(nrels ? nrels : 1, sizeof *v)))
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        for (size_t i = 0; !rc && i < nrels; i++) {
            char full[2 * S3_KEY_MAX + 2], rel[CHANNELS_REL_MAX + 1];
            snprintf(full, sizeof full, "%s%s", pkey, rels[i]);
            if (strlen(full) > S3_KEY_MAX) {
                rc = err_set(e, ERR_VALIDATION, "manifest %.300s: key '%.300s' is too long", uri,
                             full);
                break;
            }
            int r = channels_rel_path(rels[i], "", rel, sizeof rel, e);
            if (r < 0)
                r = err_set(e, ERR_VALIDATION, "manifest entry '%.300s' names a directory",
                            rels[i]);
            if (r) {
                rc = r;
                break;
            }
            v[nv].key = strdup(full);
            v[nv].rel = strdup(rel);
            v[nv].size = -1;
            if (!v[nv].key || !v[nv].rel)
                rc = err_set(e, ERR_INTERNAL, "out of memory");
            nv++;
        }
        channels_strings_free(rels, nrels);
        free(prefix);
        if (rc && rc != ERR_INTERNAL) {
            char m[ERR_MSG_MAX];
            snprintf(m, sizeof m, "%.300s: %s", uri, e->msg);
            snprintf(e->msg, sizeof e->msg, "%s", m);
        }
    } else {
        s3_object *objs = NULL;
        size_t n = 0;
        int64_t bytes = 0;
        if ((rc = s3_list(c, bucket, key, CHANNELS_OBJECTS_MAX, &objs, &n, e)))
            goto out;
        channels_key_dir(key, dir, sizeof dir);
        if (!(v = calloc(n ? n : 1, sizeof *v)))
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        for (size_t i = 0; !rc && i < n; i++) {
            char rel[CHANNELS_REL_MAX + 1];
            int r = channels_rel_path(objs[i].key, dir, rel, sizeof rel, e);
            if (r < 0)
                continue;
            if (r) {
                char m[ERR_MSG_MAX];
                snprintf(m, sizeof m, "%.300s: %s", uri, e->msg);
                snprintf(e->msg, sizeof e->msg, "%s", m);
                rc = r;
                break;
            }
            bytes += objs[i].size > 0 ? objs[i].size : 0;
            if (bytes > CHANNELS_BYTES_MAX) {
                rc = err_set(e, ERR_VALIDATION, "%.300s: more than %lld bytes", uri,
                             (long long)CHANNELS_BYTES_MAX);
                break;
            }
            v[nv].key = objs[i].key;
            objs[i].key = NULL;
            v[nv].rel = strdup(rel);
            v[nv].size = objs[i].size;
            if (!v[nv].rel)
                rc = err_set(e, ERR_INTERNAL, "out of memory");
            nv++;
        }
        s3_objects_free(objs, n);
        if (!rc && nv == 0)
            rc = err_set(e, ERR_VALIDATION, "no S3 objects found under %.300s", uri);
    }
out:
    s3_client_free(c);
    if (rc) {
        items_free(v, nv);
        return rc;
    }
    qsort(v, nv, sizeof *v, item_cmp);
    *out = v;
    *nout = nv;
    return 0;
}

/* Writes entry/index: one rel path per line, in key order. */
static int write_index(const char *path, const item *v, size_t nv) {
    FILE *f = fopen(path, "we");
    if (!f)
        return -1;
    for (size_t i = 0; i < nv; i++)
        fprintf(f, "%s\n", v[i].rel);
    return fclose(f) ? -1 : 0;
}

/* Copies src to dst (for a cache on another filesystem). */
static int copy_file(const char *src, const char *dst) {
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    char buf[65536];
    ssize_t r;
    if (in < 0)
        return -1;
    if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
        goto done;
    while ((r = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)r) != r)
            goto done;
    rc = r < 0 ? -1 : 0;
done:
    close(in);
    if (out >= 0 && close(out))
        rc = -1;
    return rc;
}

int channels_link_entry(const char *entry, const char *dest, int sharded, int host, int nhosts,
                        err_t *e) {
    char path[PATH_CAP], src[PATH_CAP], dst[PATH_CAP];
    snprintf(path, sizeof path, "%s/index", entry);
    size_t len = 0;
    char *text = util_read_file(path, (size_t)CHANNELS_OBJECTS_MAX * (CHANNELS_REL_MAX + 1), &len);
    if (!text)
        return err_set(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
    if (util_mkdir_p(dest, 0)) {
        free(text);
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", dest, strerror(errno));
    }
    int rc = 0;
    size_t i = 0;
    for (char *line = text, *nl; *line; line = nl + 1, i++) {
        if (!(nl = strchr(line, '\n')))
            break;
        *nl = 0;
        if (sharded && channels_shard(i, nhosts) != host)
            continue;
        snprintf(src, sizeof src, "%s/data/%s", entry, line);
        snprintf(dst, sizeof dst, "%s/%s", dest, line);
        if (mkdir_parent(dst) || (link(src, dst) && (errno != EXDEV || copy_file(src, dst)))) {
            rc = err_set(e, ERR_INTERNAL, "cannot place %s: %s", dst, strerror(errno));
            break;
        }
    }
    free(text);
    return rc;
}

/* The cache entry's path for a channel. */
static void entry_path(const channels_job *j, const req_channel *ch, char *out, size_t n) {
    char text[S3_URI_MAX + 512], hash[SIGV4_HEX_LEN + 1];
    snprintf(text, sizeof text, "%s\n%s\n%s\n%s", j->scope, ch->name, ch->uri,
             ch->data_type ? ch->data_type : "S3Prefix");
    if (sigv4_sha256_hex(text, strlen(text), hash))
        snprintf(hash, sizeof hash, "nohash");
    hash[CHANNELS_HASH_LEN] = 0;
    snprintf(out, n, "%s/%.*s-%s", j->cache_dir, ENTRY_SCOPE_MAX, j->scope, hash);
}

/* Fills the cache entry for ch once (flock + rename into place). */
static int fill_entry(const channels_job *j, const req_channel *ch, const char *entry, err_t *e) {
    char lock[PATH_CAP], tmp[PATH_CAP], idx[PATH_CAP], data[PATH_CAP], bucket[S3_BUCKET_MAX + 1];
    struct stat st;
    item *v = NULL;
    size_t nv = 0;
    int rc = 0, fd = -1;
    snprintf(idx, sizeof idx, "%s/index", entry);
    if (stat(idx, &st) == 0)
        return 0; /* cached */
    if (util_mkdir_p(j->cache_dir, 0))
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", j->cache_dir, strerror(errno));
    snprintf(lock, sizeof lock, "%s.lock", entry);
    snprintf(tmp, sizeof tmp, "%s.tmp", entry);
    if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
        flock(fd, LOCK_EX)) {
        rc = err_set(e, ERR_INTERNAL, "cannot lock %s: %s", lock, strerror(errno));
        goto out;
    }
    if (stat(idx, &st) == 0)
        goto out; /* filled while we waited */
    util_rm_rf(tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    if (util_mkdir_p(data, 0)) {
        rc = err_set(e, ERR_INTERNAL, "cannot create %s: %s", data, strerror(errno));
        goto out;
    }
    int manifest = ch->data_type && !strcmp(ch->data_type, "ManifestFile");
    if ((rc = plan(j->s3, ch->uri, manifest, bucket, &v, &nv, e)) ||
        (rc = download(j->s3, bucket, v, nv, data, j->cancelled, j->cancel_ud, e)))
        goto out;
    snprintf(idx, sizeof idx, "%s/index", tmp);
    if (write_index(idx, v, nv) || rename(tmp, entry)) {
        rc = err_set(e, ERR_INTERNAL, "cannot fill %s: %s", entry, strerror(errno));
        goto out;
    }
    log_info("channel %s: %zu objects of %s cached in %s", ch->name, nv, ch->uri, entry);
out:
    if (rc)
        util_rm_rf(tmp);
    items_free(v, nv);
    if (fd >= 0)
        close(fd); /* releases the lock */
    return rc;
}

int channels_fetch(const channels_job *j, err_t *e) {
    for (size_t i = 0; i < j->def->nchannels; i++) {
        const req_channel *ch = &j->def->channels[i];
        char entry[PATH_CAP], dest[PATH_CAP];
        if (!ch->name || !ch->uri || strncmp(ch->uri, "s3://", 5))
            continue;
        entry_path(j, ch, entry, sizeof entry);
        snprintf(dest, sizeof dest, "%s/input/data/%s", j->job_dir, ch->name);
        int sharded = ch->distribution && !strcmp(ch->distribution, "ShardedByS3Key");
        int rc = fill_entry(j, ch, entry, e);
        if (!rc && !j->cache_only)
            rc = channels_link_entry(entry, dest, sharded, j->host, j->nhosts, e);
        if (rc && rc != ERR_UNAVAILABLE) { /* unavailable: the platform's, retried */
            char m[ERR_MSG_MAX];
            snprintf(m, sizeof m, "ClientError: %s", e->msg);
            snprintf(e->msg, sizeof e->msg, "%s", m);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* 1 when `name` is scope's entry: "<scope>-" then CHANNELS_HASH_LEN hex
 * digits, then nothing, ".lock" or ".tmp". */
static int scope_entry(const char *name, const char *scope) {
    size_t n = strlen(scope) > ENTRY_SCOPE_MAX ? ENTRY_SCOPE_MAX : strlen(scope);
    if (strncmp(name, scope, n) || name[n] != '-')
        return 0;
    const char *h = name + n + 1;
    for (int i = 0; i < CHANNELS_HASH_LEN; i++)
        if (!isxdigit((unsigned char)h[i]))
            return 0;
    h += CHANNELS_HASH_LEN;
    return !*h || !strcmp(h, ".lock") || !strcmp(h, ".tmp");
}

int channels_drop_scope(const char *cache_dir, const char *scope) {
    DIR *d = opendir(cache_dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir(d))) {
        char p[PATH_CAP];
        if (!scope_entry(de->d_name, scope))
            continue;
        snprintf(p, sizeof p, "%s/%s", cache_dir, de->d_name);
        util_rm_rf(p);
        n++;
    }
    closedir(d);
    return n;
}

int channels_fetch_prefix(const s3_config *s3, const char *uri, const char *dest,
                          int (*cancelled)(void *ud), void *cancel_ud, err_t *e) {
    char bucket[S3_BUCKET_MAX + 1];
    item *v = NULL;
    size_t nv = 0;
    int rc = plan(s3, uri, 0, bucket, &v, &nv, e);
    if (rc == ERR_VALIDATION && !strncmp(e->msg, "no S3 objects", 13))
        return 0; /* no checkpoints yet */
    if (!rc && util_mkdir_p(dest, 0))
        rc = err_set(e, ERR_INTERNAL, "cannot create %s: %s", dest, strerror(errno));
    if (!rc)
        rc = download(s3, bucket, v, nv, dest, cancelled, cancel_ud, e);
    items_free(v, nv);
    return rc;
}

/* nftw has no user pointer: the owner to give, for the one walk at a time
 * channels_chown_tree makes (guarded by chown_mu). */
static pthread_mutex_t chown_mu = PTHREAD_MUTEX_INITIALIZER;
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st;
    (void)flag;
    (void)f;
    return lchown(path, chown_uid, chown_gid) ? -1 : 0;
}

int channels_chown_tree(const char *dir, uid_t uid, gid_t gid, err_t *e) {
    pthread_mutex_lock(&chown_mu);
    chown_uid = uid;
    chown_gid = gid;
    int r = nftw(dir, chown_one, 16, FTW_PHYS);
    pthread_mutex_unlock(&chown_mu);
    return r ? err_set(e, ERR_INTERNAL, "cannot give %s to uid %d: %s", dir, (int)uid,
                       strerror(errno))
             : 0;
}
