/* space — the hyperparameter search space of a tuning job.
 *
 * Built from a ParameterRanges JSON object (either API's shape). A point of
 * the space is a "config": one double per parameter, in parameter order —
 * the numeric value for Continuous/Integer parameters (always integral for
 * Integer), the value index for Categorical ones. Configs are what the
 * strategies exchange with the engine; hyperparameter strings are made from
 * them only by space_format(), and read back by space_parse(), so a
 * strategy always sees exactly what was run. */
#ifndef OPENHPO_SPACE_H
#define OPENHPO_SPACE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

typedef enum { PARAM_CONTINUOUS, PARAM_INTEGER, PARAM_CATEGORICAL } param_kind;
/* Resolved scaling; SCALE_AUTO never survives space_from_json(). */
typedef enum { SCALE_AUTO, SCALE_LINEAR, SCALE_LOG, SCALE_REVLOG } param_scale;

typedef struct {
    char *name;
    param_kind kind;
    param_scale scale;
    double lo, hi;  /* Continuous/Integer bounds (inclusive) */
    size_t nvalues; /* Categorical */
    char **values;
} space_param;

/* Read-only for everyone but space.c. */
typedef struct space {
    size_t n;
    space_param *p;
} space;

/* Builds the space from a ParameterRanges object (borrowed). Ranges are taken
 * in the order Continuous, Integer, Categorical, each list in its own order.
 * Expects input that validate.c has accepted; still checks what it relies on
 * (numbers parse, lo <= hi, log scales need lo > 0) and reports ERR_VALIDATION
 * naming the field. Caller frees with space_free(). NULL on error. */
space *space_from_json(const json_t *parameter_ranges, err_t *e);
/* The same, with `default_scale` for ranges that give no ScalingType
 * (space_from_json uses SCALE_AUTO, as the current API; the 2017 API has no
 * scaling, so its ranges default to SCALE_LINEAR). */
space *space_from_json_scaled(const json_t *parameter_ranges, param_scale default_scale, err_t *e);
/* The same from already-parsed parameters (the typed request's ranges):
 * each of `p[0..n)` is copied (names and values duplicated); a numeric
 * parameter with SCALE_AUTO is resolved (Logarithmic when lo > 0 and
 * hi / lo >= 100, else Linear). Checks what the space relies on: lo <= hi,
 * finite bounds and a finite width (space_range_width), Logarithmic above
 * 0, ReverseLogarithmic continuous within [0, 1), at least one categorical
 * value; ERR_VALIDATION naming the parameter. Caller frees with
 * space_free(). NULL on error. */
space *space_from_params(const space_param *p, size_t n, err_t *e);

/* The scale SCALE_AUTO resolves to for a numeric range [lo, hi] (other
 * scales are returned as they are). */
param_scale space_resolve_scale(param_scale scale, double lo, double hi);

/* Width of a numeric range on its scale's line (after resolving SCALE_AUTO):
 * hi - lo (Linear), log(hi) - log(lo) (Logarithmic), ... as the unit-cube
 * encoding uses it. Not finite (inf or nan) when the range cannot be
 * encoded in double precision, e.g. [-1.7e308, 1.7e308] linear. */
double space_range_width(param_kind kind, param_scale scale, double lo, double hi);

void space_free(space *sp);

/* Writes each parameter of `cfg` as a string into `hp` (a JSON object, which
 * the caller owns) under the parameter's name. Integers print without a
 * fraction; continuous values print in the shortest form that reads back
 * exactly. Returns 0, or -1 on allocation failure. */
int space_format(const space *sp, const double *cfg, json_t *hp);

/* Reads `cfg` back from hyperparameter strings `hp` (borrowed). Returns 0, or
 * -1 when a parameter is missing or not a value of its range. */
int space_parse(const space *sp, const json_t *hp, double *cfg);

/* Maps a config to the unit cube [0,1]^n under each parameter's scaling
 * (categorical index i of k -> (i + 0.5) / k), and back. space_from_unit()
 * clamps, rounds integers to the nearest value inside the range and picks
 * the categorical bucket, so space_to_unit(space_from_unit(u)) is the point
 * actually run. */
void space_to_unit(const space *sp, const double *cfg, double *u);
void space_from_unit(const space *sp, const double *u, double *cfg);

#endif
