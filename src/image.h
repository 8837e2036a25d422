/* image — resolves a TrainingImage to the backend that runs it and the
 * program's argument list.
 *
 * The image catalog (hpod --images FILE) is a JSON object mapping an image
 * URI to one of:
 *   "prog"                                   program, run by the local backend
 *   ["prog", "arg", ...]                     program and arguments, local backend
 *   {"backend": "NAME", "command": [...]}    program (or argument list) run by
 *                                            backend NAME ("local" when absent;
 *                                            "command" may also be a string)
 *   {"backend": "docker", "image": "name:tag"[, "command": [...]]}
 *                                            a container image, run by a
 *                                            container backend; "command",
 *                                            when given, replaces the image's
 *                                            ENTRYPOINT ("train" stays its
 *                                            argument)
 * A TrainingImage that is not in the catalog may be the absolute path (or
 * file:// URI) of an executable file, run by the local backend; with a
 * container backend (image_resolve_for), any other Docker image reference
 * ("x:tag", "123.dkr.ecr.us-east-1.amazonaws.com/x:1") runs as a container.
 *
 * For a container image, argv is the image reference followed by the
 * entrypoint's words (none: the image's own); the engine appends "train" to
 * the argument list when it launches. */
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

/* Resolves `uri` against `catalog` (borrowed; may be NULL). `field` names
 * the TrainingImage in the caller's API (request_def_path), for messages.
 * 0 with *out filled (caller frees with image_clear()), or ERR_VALIDATION
 * naming `field`. */
int image_resolve(const json_t *catalog, const char *uri, const char *field, image_spec *out,
                  err_t *e);
/* As image_resolve, for a daemon whose container backend is named
 * `container_backend` (NULL: it has none, and a Docker image reference is
 * refused with a ValidationError saying that Docker is not configured or
 * not reachable). */
int image_resolve_for(const json_t *catalog, const char *container_backend, const char *uri,
                      const char *field, image_spec *out, err_t *e);
void image_clear(image_spec *s);

#endif
