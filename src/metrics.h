/* metrics — turns training-job log lines into metric data points.
 *
 * Each MetricDefinition's Regex (PCRE2, UTF) is applied to every line; the
 * first capture group (or the whole match when the regex has no group),
 * parsed as a float, is a data point. A regex may have any number of groups;
 * only group 1 is the value, and a match that leaves group 1 unset yields no
 * point. Non-numbers are ignored. Invalid UTF-8 in a line does not hide a
 * match elsewhere in it. Matching is bounded by PCRE2 match and depth limits,
 * so a pathological regex cannot stall the daemon; a line that hits the limit
 * simply yields no point. */
#ifndef OPENHPO_METRICS_H
#define OPENHPO_METRICS_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define METRICS_LINE_MAX 16384 /* longer lines are split into pieces of this size */

typedef struct metrics_set metrics_set;

/* Compiles a MetricDefinitions array (borrowed). Caller frees with
 * metrics_free(). NULL with e set (ERR_VALIDATION naming the definition)
 * when a regex does not compile. */
metrics_set *metrics_compile(const json_t *definitions, err_t *e);
/* The same from C strings: definition i is names[i] with regexes[i] (both
 * borrowed; copied as needed), i < n. n may be 0. Caller frees with
 * metrics_free(). NULL with e set, as metrics_compile (a NULL name or regex
 * is an ERR_VALIDATION). */
metrics_set *metrics_new(const char *const *names, const char *const *regexes, size_t n, err_t *e);
void metrics_free(metrics_set *m);
size_t metrics_count(const metrics_set *m);
/* Name of definition i (borrowed). */
const char *metrics_name(const metrics_set *m, size_t i);

/* Scans one line (no newline; need not be NUL-terminated; any length),
 * calling cb(ud, index, value) for each definition that yields a number.
 * Returns the number of points found. */
int metrics_scan_line(metrics_set *m, const char *line, size_t len,
                      void (*cb)(void *ud, size_t index, double value), void *ud);

/* Splits a stream into lines. Feed it bytes; it calls on_line for every
 * complete line (and for every METRICS_LINE_MAX-byte piece of a longer one).
 * The lines seen do not depend on how the stream is cut into feeds.
 * `consumed` counts the bytes up to the end of the last complete line, for
 * resuming after a restart. Zero-initialise before the first feed. */
typedef struct {
    char buf[METRICS_LINE_MAX];
    size_t len;
    long long consumed;
} metrics_lines;
void metrics_lines_feed(metrics_lines *ls, const char *data, size_t n,
                        void (*on_line)(void *ud, const char *line, size_t len), void *ud);

#endif
