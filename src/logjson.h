/* logjson — hpod's log lines as JSON, one object per line
 * (hpod --log-format json).
 *
 *   {"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"...", FIELDS}
 *
 * FIELDS are the line's structured fields (log_fields in util.h), strings or
 * numbers, in order; one named time, level or msg is dropped. Text that is
 * not UTF-8 (a path a client sent, say) has each bad byte replaced by U+FFFD,
 * so every line is valid JSON; jansson escapes the rest. util.c stays free
 * of jansson (hpo-runner links util.o alone): hpod installs this writer as
 * util's log_sink. */
#ifndef OPENHPO_LOGJSON_H
#define OPENHPO_LOGJSON_H

#include <stddef.h>

#include "util.h"

/* Formats one line (no trailing newline) into a string the caller frees
 * with free(); `now` is epoch seconds. NULL when out of memory. */
char *logjson_format(double now, const char *level, const char *msg, const log_kv *f, size_t nf);

/* The log_sink: formats the line at the current time and writes it, with
 * its newline, to stderr in one write. Safe from any thread. */
void logjson_write(const char *level, const char *msg, const log_kv *f, size_t nf);

#endif
