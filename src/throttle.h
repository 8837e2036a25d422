/* throttle — a token bucket per access key, as AWS throttles API calls.
 *
 * Each key has a bucket of at most `burst` tokens that refills at `rate`
 * tokens a second; a request takes one token, and is refused with
 * ERR_THROTTLING (ThrottlingException) when none is left. A key seen for the
 * first time starts with a full bucket.
 *
 * Memory is bounded: at most `max_keys` keys are tracked, all allocated up
 * front; tracking one more evicts the least recently used key, whose next
 * request then starts from a full bucket again. (Keys are access key ids that
 * passed signature verification, so the number of live keys is that of the
 * credentials file; keep max_keys above it and eviction never matters.)
 *
 * The clock is the caller's (seconds, as a double), so tests are exact; a
 * clock that steps back refills nothing. Calls are serialised by a mutex in
 * the throttle: one throttle may be shared by every request thread. */
#ifndef OPENHPO_THROTTLE_H
#define OPENHPO_THROTTLE_H

#include <stddef.h>

#include "err.h"

#define THROTTLE_DEFAULT_MAX_KEYS 4096
#define THROTTLE_KEY_MAX 128 /* longer keys are told apart by their first 128 bytes */

typedef struct throttle throttle;

/* A throttle of `rate` tokens/second (finite, > 0) and buckets of `burst`
 * tokens (finite, >= 1), tracking THROTTLE_DEFAULT_MAX_KEYS keys. Returns
 * NULL on a bad argument or when out of memory. Free with throttle_free(). */
throttle *throttle_new(double rate, double burst);

/* The same, tracking at most `max_keys` (1 to 2^24) keys. */
throttle *throttle_new_capped(double rate, double burst, size_t max_keys);

/* Takes a token from `key`'s bucket at time `now` (seconds; any epoch, but
 * the same for every call). Returns ERR_OK, or ERR_THROTTLING when the bucket
 * is empty (then nothing is taken). `key` is borrowed; NULL counts as "". A
 * NaN or infinite `now` refills nothing. */
err_code throttle_take(throttle *t, const char *key, double now);

/* Seconds from `now` until `key` will have a token again (0 if it has one
 * now), for a Retry-After header. Does not take a token. */
double throttle_wait(throttle *t, const char *key, double now);

/* The number of keys tracked now (at most max_keys). */
size_t throttle_size(throttle *t);

/* Frees the throttle. Accepts NULL. */
void throttle_free(throttle *t);

#endif
