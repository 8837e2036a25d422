/* image — resolves a TrainingImage to the backend that runs it and the
 * program's argument list.
 *
 * The image catalog (hpod --images FILE) is a JSON object mapping an image
 * URI to one of:
 *   "prog"                                   program, run by the local backend
 *   ["prog", "arg", ...]                     program and arguments, local backend
 *   {"backend": "NAME", "command": [...],    program (or argument list) run by
 *    "accounts": ["123456789012", ...]}      backend NAME ("local" when absent;
 *                                            "command" may also be a string);
 *                                            "accounts", when present, lists
 *                                            the only accounts that may use it
 *   {"backend": "docker", "image": "name:tag"[, "command": [...]]}
 *                                            a container image, run by a
 *                                            container backend; "command",
 *                                            when given, replaces the image's
 *                                            ENTRYPOINT ("train" stays its
 *                                            argument); "accounts" as above
 * A TrainingImage that is not in the catalog may be the absolute path (or
 * file:// URI) of an executable file, run by the local backend: a host
 * program, when the policy allows them (tenant.h decides). For a caller
 * whose account an entry does not list, the entry does not exist: the
 * answer is the same as for an unknown image.
 *
 * Resolution order (image_resolve): the catalog; then a host program; then,
 * when the daemon has a container backend (image_policy.container_backend),
 * any other Docker image reference ("x:tag",
 * "123.dkr.ecr.us-east-1.amazonaws.com/x:1") runs as a container. Without
 * one, such a reference is refused with a ValidationError saying that
 * Docker is not configured or not reachable.
 *
 * The engine appends "train" to the argument list when it launches. */
#ifndef OPENHPO_IMAGE_H
#define OPENHPO_IMAGE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define IMAGE_ARGV_MAX 64    /* arguments of a catalog entry */
#define IMAGE_BACKEND_MAX 32 /* bytes of a backend name, NUL included */
#define IMAGE_DEFAULT_BACKEND "local"

typedef struct {
    char backend[IMAGE_BACKEND_MAX]; /* the backend that runs it */
    char **argv;                     /* NULL-terminated, owned (image_clear) */
    size_t argc;
} image_spec;

/* What a caller may resolve. */
typedef struct {
    int no_host_programs;          /* 1: absolute paths and file:// URIs are refused */
    const char *account;           /* the caller's account, for entries with "accounts";
                                      NULL: every entry is usable */
    const char *container_backend; /* the daemon's container backend, or NULL */
} image_policy;

/* Resolves `uri` against `catalog` (borrowed; may be NULL) under `pol`
 * (NULL: everything allowed, every entry usable). `field` names the
 * TrainingImage in the caller's API (request_def_path), for messages.
 * 0 with *out filled (caller frees with image_clear()), or ERR_VALIDATION
 * naming `field` (a refused host program: naming --allow-host-programs). */
int image_resolve(const json_t *catalog, const char *uri, const image_policy *pol,
                  const char *field, image_spec *out, err_t *e);
void image_clear(image_spec *s);

#endif
