/* pack — model.tar.gz of a job's model directory (libarchive). See pack.h. */
#include "pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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

int pack_model(const char *job_dir, const char *job_name, const char *output_path, char *uri,
               size_t n, err_t *e) {
    char model[PACK_PATH_MAX], dest[PACK_PATH_MAX], file[PACK_PATH_MAX];
    struct archive *w = NULL, *disk = NULL;
    struct archive_entry *entry = NULL;
    int rc = 0;
    if (n)
        uri[0] = 0;
    if (!output_path || strncmp(output_path, "file://", 7))
        return 0;
    snprintf(model, sizeof model, "%s/model", job_dir);
    snprintf(dest, sizeof dest, "%s/%s/output", output_path + 7, job_name);
    if (util_mkdir_p(dest, 0))
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", dest, strerror(errno));
    snprintf(file, sizeof file, "%s/model.tar.gz", dest);
    w = archive_write_new();
    disk = archive_read_disk_new();
    if (!w || !disk) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    archive_write_add_filter_gzip(w);
    archive_write_set_format_pax_restricted(w);
    archive_read_disk_set_standard_lookup(disk);
    archive_read_disk_set_symlink_physical(disk);
    if (archive_write_open_filename(w, file) != ARCHIVE_OK ||
        archive_read_disk_open(disk, model) != ARCHIVE_OK) {
        rc =
            err_set(e, ERR_INTERNAL, "cannot pack %s into %s: %s", model, file,
                    archive_error_string(w) ? archive_error_string(w) : archive_error_string(disk));
        goto out;
    }
    size_t prefix = strlen(model);
    for (;;) {
        entry = archive_entry_new();
        int r = archive_read_next_header2(disk, entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            rc = err_set(e, ERR_INTERNAL, "cannot read %s: %s", model, archive_error_string(disk));
            goto out;
        }
        archive_read_disk_descend(disk);
        const char *src = archive_entry_sourcepath(entry);
        const char *rel = strlen(src) > prefix ? src + prefix + 1 : NULL;
        if (rel) { /* the model directory itself is not an entry */
            archive_entry_set_pathname(entry, rel);
            if (archive_write_header(w, entry) != ARCHIVE_OK ||
                (archive_entry_filetype(entry) == AE_IFREG && copy_file_data(w, src))) {
                rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", file, archive_error_string(w));
                goto out;
            }
        }
        archive_entry_free(entry);
        entry = NULL;
    }
    if (archive_write_close(w) != ARCHIVE_OK) {
        rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", file, archive_error_string(w));
        goto out;
    }
    if (n)
        snprintf(uri, n, "file://%s", file);
out:
    archive_entry_free(entry);
    if (disk)
        archive_read_free(disk);
    if (w)
        archive_write_free(w);
    return rc;
}
