/* image — TrainingImage -> backend name + argv (see image.h). */
#include "image.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void image_clear(image_spec *s) {
    if (!s)
        return;
    for (size_t i = 0; s->argv && i < s->argc; i++)
        free(s->argv[i]);
    free(s->argv);
    s->argv = NULL;
    s->argc = 0;
}

/* Copies a program string or a non-empty array of strings into s->argv. */
static int take_command(image_spec *s, const json_t *cmd) {
    size_t n = json_is_string(cmd) ? 1 : json_is_array(cmd) ? json_array_size(cmd) : 0;
    if (n == 0 || n > IMAGE_ARGV_MAX)
        return -1;
    if (!(s->argv = calloc(n + 1, sizeof *s->argv)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_is_string(cmd) ? cmd : json_array_get(cmd, i);
        if (!json_is_string(a) || (i == 0 && !json_string_length(a)))
            return -1;
        if (!(s->argv[i] = strdup(json_string_value(a))))
            return -1;
        s->argc = i + 1;
    }
    return 0;
}

/* A Docker image reference: [registry[:port]/]path[:tag][@digest], lower
 * case path components (loosely: what the engine would accept). */
static int is_image_ref(const char *s) {
    if (!s || !s[0] || strlen(s) > 255 || !strncmp(s, "file://", 7) || s[0] == '/' ||
        strstr(s, "//") || strstr(s, ".."))
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._-/:@", *p)))
            return 0;
    return 1;
}

/* argv = [image, command...] of a catalog entry naming an image. */
static int take_image(image_spec *s, const json_t *img, const json_t *cmd) {
    json_t *all = json_array();
    int rc = -1;
    if (!all || json_array_append(all, (json_t *)img))
        goto out;
    if (json_is_string(cmd) && json_array_append(all, (json_t *)cmd))
        goto out;
    if (json_is_array(cmd) && json_array_extend(all, (json_t *)cmd))
        goto out;
    if (cmd && !json_is_string(cmd) && !json_is_array(cmd))
        goto out;
    rc = take_command(s, all);
out:
    json_decref(all);
    return rc;
}

/* Whether `entry` (a catalog value) may be used by `account`: no
 * "accounts" member, or one listing it. A malformed "accounts" lets nobody
 * in. */
static int entry_usable(const json_t *entry, const char *account) {
    const json_t *acc = json_is_object(entry) ? json_object_get(entry, "accounts") : NULL;
    if (!acc || !account)
        return 1;
    if (!json_is_array(acc))
        return 0;
    for (size_t i = 0; i < json_array_size(acc); i++) {
        const char *a = json_string_value(json_array_get(acc, i));
        if (a && !strcmp(a, account))
            return 1;
    }
    return 0;
}

/* A catalog entry -> *out. */
static int from_entry(const json_t *entry, const char *uri, const char *field, image_spec *out,
                      err_t *e) {
    const json_t *cmd = entry;
    if (json_is_object(entry)) {
        const json_t *b = json_object_get(entry, "backend");
        const json_t *img = json_object_get(entry, "image");
        cmd = json_object_get(entry, "command");
        if (b && (!json_is_string(b) || !json_string_length(b) ||
                  json_string_length(b) >= sizeof out->backend))
            cmd = NULL;
        else if (b)
            snprintf(out->backend, sizeof out->backend, "%s", json_string_value(b));
        if (img && json_is_string(img) && is_image_ref(json_string_value(img)) && b &&
            take_image(out, img, cmd) == 0)
            return 0;
        if (img)
            cmd = NULL;
    }
    if (take_command(out, cmd) == 0)
        return 0;
    image_clear(out);
    return err_set(e, ERR_VALIDATION,
                   "%s: catalog entry for '%s' is not a program, an argument list, "
                   "{\"backend\": NAME, \"command\": [...]} or {\"backend\": NAME, "
                   "\"image\": \"name:tag\"}",
                   field, uri);
}

int image_resolve(const json_t *catalog, const char *uri, const image_policy *pol,
                  const char *field, image_spec *out, err_t *e) {
    memset(out, 0, sizeof *out);
    snprintf(out->backend, sizeof out->backend, "%s", IMAGE_DEFAULT_BACKEND);
    /* 1. The catalog (an entry the caller's account may not use is absent). */
    const json_t *entry = catalog && uri ? json_object_get(catalog, uri) : NULL;
    if (entry && entry_usable(entry, pol ? pol->account : NULL))
        return from_entry(entry, uri, field, out, e);
    /* 2. A host program: an absolute path or file:// URI. */
    const char *path = uri && !strncmp(uri, "file://", 7) ? uri + 7 : uri;
    int hostlike = path && path[0] == '/';
    if (hostlike && pol && pol->no_host_programs)
        return err_set(e, ERR_VALIDATION,
                       "%s: '%.300s' is not in the image catalog, and host programs (an absolute "
                       "path or file:// URI) are refused: the operator may allow them with hpod "
                       "--allow-host-programs, which trusts every caller",
                       field, uri);
    struct stat st;
    if (hostlike && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
        json_t *p = json_string(path);
        int rc = p ? take_command(out, p) : -1;
        json_decref(p);
        if (rc == 0)
            return 0;
        image_clear(out);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    /* 3. A container image, when the daemon has a container backend. */
    const char *cb = pol ? pol->container_backend : NULL;
    if (cb && !hostlike && is_image_ref(uri)) {
        json_t *img = json_string(uri);
        int rc = img ? take_command(out, img) : -1;
        json_decref(img);
        snprintf(out->backend, sizeof out->backend, "%s", cb);
        if (rc == 0)
            return 0;
        image_clear(out);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    /* name:tag or a registry's host: a container image for sure. */
    if (!hostlike && is_image_ref(uri) && (strchr(uri, ':') || strchr(uri, '.')))
        return err_set(e, ERR_VALIDATION,
                       "%s: '%.300s' is not in the image catalog; as a container image it needs "
                       "Docker, which is not configured or not reachable in this daemon (hpod "
                       "--docker-socket PATH, or a Docker engine at /var/run/docker.sock)",
                       field, uri);
    if (pol && pol->no_host_programs)
        return err_set(e, ERR_VALIDATION, "%s: '%.300s' is not in the image catalog", field,
                       uri ? uri : "");
    return err_set(e, ERR_VALIDATION,
                   "%s: '%.300s' is neither in the image catalog nor an absolute path (or file:// "
                   "URI) of an executable file",
                   field, uri ? uri : "");
}
