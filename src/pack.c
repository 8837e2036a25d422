/* pack — model.tar.gz and output.tar.gz of a job (libarchive), stored in a
 * file:// directory or in S3; checkpoints uploaded. See pack.h. */
#include "pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Copies one file's bytes into the archive. 0 or -1. */
static int copy_file_data(struct archive *w, const char *path) {
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    ssize_t r;
    if (fd < 0)
        return -1;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        if (archive_write_data(w, buf, (size_t)r) < 0) {
            rc = -1;
            break;
        }
    if (r < 0)
        rc = -1;
    close(fd);
    return rc;
}

int pack_dir_to_fd(const char *dir, int fd, err_t *e) {
    struct archive *w = archive_write_new(), *disk = archive_read_disk_new();
    struct archive_entry *entry = NULL;
    struct stat st;
    int rc = 0, exists = stat(dir, &st) == 0 && S_ISDIR(st.st_mode), why = errno;
    if (!w || !disk) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    /* No directory is an empty archive (a program that saved nothing); one
     * that cannot be reached is an error, never an empty model. */
    if (!exists && why != ENOENT) {
        rc = err_set(e, ERR_INTERNAL, "cannot pack %s: %s", dir,
                     why ? strerror(why) : "not a directory");
        goto out;
    }
    archive_write_add_filter_gzip(w);
    archive_write_set_format_pax_restricted(w);
    archive_read_disk_set_standard_lookup(disk);
    archive_read_disk_set_symlink_physical(disk);
    if (archive_write_open_fd(w, fd) != ARCHIVE_OK ||
        (exists && archive_read_disk_open(disk, dir) != ARCHIVE_OK)) {
        rc =
            err_set(e, ERR_INTERNAL, "cannot pack %s: %s", dir,
                    archive_error_string(w) ? archive_error_string(w) : archive_error_string(disk));
        goto out;
    }
    size_t prefix = strlen(dir);
    while (exists) {
        entry = archive_entry_new();
        int r = archive_read_next_header2(disk, entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            rc = err_set(e, ERR_INTERNAL, "cannot read %s: %s", dir, archive_error_string(disk));
            goto out;
        }
        archive_read_disk_descend(disk);
        const char *src = archive_entry_sourcepath(entry);
        const char *rel = strlen(src) > prefix ? src + prefix + 1 : NULL;
        if (rel) { /* the directory itself is not an entry */
            archive_entry_set_pathname(entry, rel);
            if (archive_write_header(w, entry) != ARCHIVE_OK ||
                (archive_entry_filetype(entry) == AE_IFREG && copy_file_data(w, src))) {
                rc = err_set(e, ERR_INTERNAL, "cannot pack %s: %s", src, archive_error_string(w));
                goto out;
            }
        }
        archive_entry_free(entry);
        entry = NULL;
    }
    if (archive_write_close(w) != ARCHIVE_OK)
        rc = err_set(e, ERR_INTERNAL, "cannot pack %s: %s", dir, archive_error_string(w));
out:
    archive_entry_free(entry);
    if (disk)
        archive_read_free(disk);
    if (w)
        archive_write_free(w);
    return rc;
}

int pack_write_settings(const char *job_dir, const s3_config *s3, const char *checkpoint_uri,
                        const char *checkpoint_dir, int run_as, uid_t uid, gid_t gid, err_t *e) {
    char path[PACK_PATH_MAX];
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "endpoint", s3->endpoint, "region", s3->region,
                  "key_id", s3->key_id, "secret", s3->secret, "token", s3->token);
    char *text = NULL;
    int rc = 0, fd = -1;
    snprintf(path, sizeof path, "%s/%s", job_dir, PACK_SETTINGS_FILE);
    if (o && checkpoint_uri && checkpoint_dir) {
        json_object_set_new(o, "checkpoint_uri", json_string(checkpoint_uri));
        json_object_set_new(o, "checkpoint_dir", json_string(checkpoint_dir));
    }
    if (!o || !(text = json_dumps(o, JSON_COMPACT))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    unlink(path);
    size_t len = strlen(text);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
        write(fd, text, len) != (ssize_t)len || (run_as && fchown(fd, uid, gid))) {
        rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    free(text);
    json_decref(o);
    return rc;
}

/* Reads the settings (absent: zeroed config from the environment). */
static int read_settings(const char *job_dir, s3_config *c, char *ck_uri, char *ck_dir, size_t n,
                         err_t *e) {
    char path[PACK_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", job_dir, PACK_SETTINGS_FILE);
    ck_uri[0] = ck_dir[0] = 0;
    char *text = util_read_file(path, PACK_SETTINGS_MAX, NULL);
    if (!text)
        return s3_config_from_env(c, e);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    memset(c, 0, sizeof *c);
#define GET(field, name)                                                                           \
    snprintf(c->field, sizeof c->field, "%s",                                                      \
             json_string_value(json_object_get(o, name))                                           \
                 ? json_string_value(json_object_get(o, name))                                     \
                 : "")
    GET(endpoint, "endpoint");
    GET(region, "region");
    GET(key_id, "key_id");
    GET(secret, "secret");
    GET(token, "token");
#undef GET
    const char *u = json_string_value(json_object_get(o, "checkpoint_uri"));
    const char *d = json_string_value(json_object_get(o, "checkpoint_dir"));
    if (u && d) {
        snprintf(ck_uri, n, "%s", u);
        snprintf(ck_dir, n, "%s", d);
    }
    json_decref(o);
    if (!c->endpoint[0])
        return err_set(e, ERR_INTERNAL, "%s has no endpoint", path);
    return 0;
}

/* Packs src_dir as NAME under a file:// destination dir: temp + rename. */
static int store_file(const char *src_dir, const char *dest, const char *name, char *uri, size_t n,
                      err_t *e) {
    char tmp[PACK_PATH_MAX], file[PACK_PATH_MAX];
    snprintf(file, sizeof file, "%s/%s", dest, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", dest, name, (int)getpid());
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644), rc = 0;
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", tmp, strerror(errno));
    rc = pack_dir_to_fd(src_dir, fd, e);
    if (!rc && fsync(fd))
        rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(errno));
    if (close(fd) && !rc)
        rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, file))
        rc = err_set(e, ERR_INTERNAL, "cannot rename %s to %s: %s", tmp, file, strerror(errno));
    if (rc)
        unlink(tmp);
    else if (uri)
        snprintf(uri, n, "file://%s", file);
    return rc;
}

/* Packs src_dir into a temp file in JOB_DIR/output (the job's user's: the
 * top level of a run_as job directory is the daemon's) and uploads it. */
static int store_s3(s3_client *c, const char *job_dir, const char *src_dir, const char *bucket,
                    const char *key, err_t *e) {
    char tmp[PACK_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/output/.pack.%d.tar.gz", job_dir, (int)getpid());
    unlink(tmp);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), rc = 0;
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", tmp, strerror(errno));
    rc = pack_dir_to_fd(src_dir, fd, e);
    close(fd);
    if (!rc)
        rc = s3_put_file(c, bucket, key, tmp, NULL, e);
    unlink(tmp);
    return rc;
}

/* Uploads every regular file under dir (relative paths) below prefix uri. */
static int upload_tree(s3_client *c, const char *bucket, const char *prefix, const char *dir,
                       const char *rel, int depth, err_t *e) {
    char path[PACK_PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    if (depth > 32)
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : err_set(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[PACK_PATH_MAX], full[PACK_PATH_MAX], key[2 * S3_KEY_MAX];
        struct stat st;
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", dir, sub);
        if (lstat(full, &st))
            continue;
        if (S_ISDIR(st.st_mode))
            rc = upload_tree(c, bucket, prefix, dir, sub, depth + 1, e);
        else if (S_ISREG(st.st_mode)) {
            snprintf(key, sizeof key, "%s%s", prefix, sub);
            rc = s3_put_file(c, bucket, key, full, NULL, e);
        }
    }
    closedir(d);
    return rc;
}

int pack_model(const char *job_dir, const char *job_name, const char *output_path, char *uri,
               size_t n, err_t *e) {
    char model[PACK_PATH_MAX], data[PACK_PATH_MAX], dest[PACK_PATH_MAX];
    char ck_uri[S3_URI_MAX + 2], ck_dir[PACK_PATH_MAX], settings[PACK_PATH_MAX];
    s3_client *c = NULL;
    int rc = 0;
    if (n)
        uri[0] = 0;
    if (!output_path)
        return 0;
    snprintf(model, sizeof model, "%s/model", job_dir);
    snprintf(data, sizeof data, "%s/output/data", job_dir);
    snprintf(settings, sizeof settings, "%s/%s", job_dir, PACK_SETTINGS_FILE);
    s3_config cfg;
    int s3_out = !strncmp(output_path, "s3://", 5);
    if (strncmp(output_path, "file://", 7) && !s3_out)
        return err_set(e, ERR_VALIDATION,
                       "cannot store artifacts at '%.300s': not file:// or "
                       "s3://",
                       output_path);
    if ((rc = read_settings(job_dir, &cfg, ck_uri, ck_dir, sizeof ck_dir, e)))
        goto out;
    if ((s3_out || ck_uri[0]) && !(c = s3_client_new(&cfg, e))) {
        rc = e->code;
        goto out;
    }
    if (!s3_out) {
        size_t len = strlen(output_path);
        while (len > 7 && output_path[len - 1] == '/')
            len--;
        snprintf(dest, sizeof dest, "%.*s/%s/output", (int)(len - 7), output_path + 7, job_name);
        if (util_mkdir_p(dest, 0)) {
            rc = err_set(e, ERR_INTERNAL, "cannot create %s: %s", dest, strerror(errno));
            goto out;
        }
        if ((rc = store_file(model, dest, "model.tar.gz", uri, n, e)) ||
            (rc = store_file(data, dest, "output.tar.gz", NULL, 0, e)))
            goto out;
    } else {
        char bucket[S3_BUCKET_MAX + 1], prefix[S3_KEY_MAX + 1], key[2 * S3_KEY_MAX];
        if ((rc = s3_parse_uri(output_path, bucket, prefix, e)))
            goto out;
        size_t len = strlen(prefix);
        while (len && prefix[len - 1] == '/')
            prefix[--len] = 0;
        snprintf(key, sizeof key, "%s%s%s/output/model.tar.gz", prefix, len ? "/" : "", job_name);
        if (strlen(key) > S3_KEY_MAX) {
            rc = err_set(e, ERR_VALIDATION, "s3://%s/%.300s: key too long", bucket, key);
            goto out;
        }
        if ((rc = store_s3(c, job_dir, model, bucket, key, e)))
            goto out;
        if (n)
            snprintf(uri, n, "s3://%s/%s", bucket, key);
        snprintf(key, sizeof key, "%s%s%s/output/output.tar.gz", prefix, len ? "/" : "", job_name);
        if ((rc = store_s3(c, job_dir, data, bucket, key, e)))
            goto out;
    }
    if (ck_uri[0]) {
        char bucket[S3_BUCKET_MAX + 1], prefix[S3_KEY_MAX + 2];
        if ((rc = s3_parse_uri(ck_uri, bucket, prefix, e)))
            goto out;
        size_t len = strlen(prefix);
        if (len && prefix[len - 1] != '/')
            strcat(prefix, "/");
        if ((rc = upload_tree(c, bucket, prefix, ck_dir, "", 0, e))) {
            char m[ERR_MSG_MAX];
            snprintf(m, sizeof m, "checkpoints: %s", e->msg);
            snprintf(e->msg, sizeof e->msg, "%s", m);
            goto out;
        }
    }
out:
    unlink(settings); /* no credentials left behind (hpo-runner removes it too: the top
                         level of a run_as job directory is the daemon's) */
    s3_client_free(c);
    return rc;
}
