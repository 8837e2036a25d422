/* validate — request validation from declarative shape models.
 *
 * What a request may contain is not written as code but as data: a shape
 * model in botocore's service-2.json format (operations -> input shape;
 * shapes of type structure / list / map / string / integer / long / float /
 * double / boolean / timestamp / blob with their constraints: required,
 * min/max, pattern, enum, union). One generic walker checks a parsed JSON
 * body against an operation's input shape. Two models are built in
 * (embedded into the library from src/models/ at build time):
 *   API_2017    src/models/hpo-2017-11-08.json, written by hand from the
 *               2017 HPO API spec;
 *   API_CURRENT src/models/sagemaker-2017-07-24.json, extracted from
 *               botocore's own model by scripts/gen_model.py.
 *
 * Walker semantics (the same for every model):
 *   - JSON types must match the shape: structure/map = object, list = array,
 *     string/blob = string, boolean = true/false, integer/long = a JSON
 *     integer (1.0 is refused: readers use json_integer_value()), with
 *     integer limited to 32 bits; float/double/timestamp = any JSON number
 *     (timestamps as seconds since the epoch, as botocore sends them). null
 *     is refused wherever a value is given.
 *   - required members must be present; unknown members are ignored.
 *   - string min/max count Unicode code points, not bytes; strings must be
 *     valid UTF-8 without NUL characters; enum is an exact, case-sensitive
 *     match; pattern must match the WHOLE string (Java matches() semantics,
 *     as AWS applies them), compiled by PCRE2 with PCRE2_UTF | PCRE2_UCP
 *     and PCRE2_NEWLINE_ANY (so '.' stops at Java's line terminators), run
 *     with a match limit (a pathological match fails validation). One
 *     difference from Java remains: under UCP, \d, \w and \s match
 *     non-ASCII digits, letters and spaces too.
 *   - list/map min/max count items/entries; map keys are checked against the
 *     key shape, values against the value shape.
 *   - the whole body, unknown members included, may nest at most
 *     VALIDATE_MAX_DEPTH levels (the top-level object is level 1).
 * Only the first problem found is reported; members are visited in the
 * model's order, so the report is deterministic. Messages are ASCII only
 * (request text is echoed in short excerpts with other bytes as '?') and
 * name the offending field by its path ("request body" for the top level;
 * a map key as `Map: key "k"`), e.g.
 *   "TrainingJobDefinition.ResourceConfig.InstanceCount: must be at least 1"
 *   "TrainingJobDefinition.InputDataConfig[0].ChannelName: is required"
 *   "TrainingJobDefinition.StaticHyperParameters[\"lr\"]: must be a string, not an integer"
 * so the api layer can put e->msg into the error body verbatim. */
#ifndef OPENHPO_VALIDATE_H
#define OPENHPO_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* Deepest nesting of a request body, counting the top-level object as 1. */
#define VALIDATE_MAX_DEPTH 32
/* Largest request body in bytes. Enforced by the http layer before parsing
 * (requests over it get ERR_VALIDATION there); stated here with the other
 * request caps. */
#define VALIDATE_MAX_BODY_BYTES (1024 * 1024)

/* Validates `body` (borrowed; NULL counts as "not an object") as the input of
 * operation `op` (e.g. "CreateTuningJob"; for API_CURRENT the name without
 * the "SageMaker." target prefix) of API `flavor`, against that flavor's
 * built-in model. Returns 0, or sets *e and returns ERR_VALIDATION (bad
 * body), ERR_UNKNOWN_OPERATION (`op` is not in the model, or NULL), or
 * ERR_INTERNAL (out of memory, or a built-in model failed to load — a build
 * defect the unit tests catch). The models are loaded on first use and then
 * kept, read-only, until validate_shutdown(). */
int validate_request(api_flavor flavor, const char *op, const json_t *body, err_t *e);

/* What the shape model cannot say (range bounds, metric regexes, ...) is
 * checked on the typed request: request_check() in request.h. */

/* Copies at most VALIDATE_EXCERPT_CHARS characters of s[0..len) into buf
 * as printable ASCII (other bytes and quote characters become '?', "..."
 * marks a cut), for quoting request text in messages. buf must hold
 * VALIDATE_EXCERPT_BUF bytes. Returns buf. */
#define VALIDATE_EXCERPT_CHARS 40
#define VALIDATE_EXCERPT_BUF (VALIDATE_EXCERPT_CHARS + 4)
const char *validate_excerpt(const char *s, size_t len, char *buf);

/* Frees the cached built-in models. Safe to call more than once, and before
 * any validation; a later validate_request() loads them again. */
void validate_shutdown(void);

/* --- The model loader and walker, for any service-2.json document. --- */

typedef struct validate_model validate_model;

/* Compiles a service-2.json-format model from `len` bytes of JSON text
 * (borrowed; not NUL-terminated necessarily). Checks that every shape a
 * shape or operation refers to exists, every type is known, every
 * constraint is well formed and every pattern compiles. Returns a model the
 * caller frees with validate_model_free(), or NULL with *e set
 * (ERR_INTERNAL, naming the offending shape). */
validate_model *validate_model_load(const char *text, size_t len, err_t *e);

/* Frees `m` and everything it owns. NULL is fine. */
void validate_model_free(validate_model *m);

/* Whether the model has an operation named `op` (0 or 1; 0 for NULL). */
int validate_model_has_operation(const validate_model *m, const char *op);

/* Validates `body` (borrowed) against the input shape of `op` in `m`, with
 * the semantics described at the top of this file. An operation without an
 * input shape accepts any JSON object. Returns 0, ERR_VALIDATION,
 * ERR_UNKNOWN_OPERATION or ERR_INTERNAL (out of memory), with *e set. */
int validate_model_check(const validate_model *m, const char *op, const json_t *body, err_t *e);

/* Validates `value` (borrowed) against the shape named `shape` of `m`;
 * messages name fields under `path` (e.g. "TuningJobConfig"; NULL or "" for
 * the top level). Same results as validate_model_check(), with
 * ERR_INTERNAL when `shape` is not in the model. For checking parts of
 * requests and responses. */
int validate_model_check_shape(const validate_model *m, const char *shape, const json_t *value,
                               const char *path, err_t *e);

/* The built-in model of `flavor` (borrowed; valid until validate_shutdown()),
 * loading it on first use. NULL with *e set (ERR_INTERNAL) if it fails to
 * load. */
const validate_model *validate_builtin_model(api_flavor flavor, err_t *e);

#endif
