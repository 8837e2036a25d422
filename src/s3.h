/* s3 — a small S3 client over libcurl: what channels (channels.h) and
 * artifacts (pack.h) need, against AWS or any S3-compatible server.
 *
 * Operations: GetObject (whole, or a byte range, into a descriptor or into
 * memory), HeadObject, ListObjectsV2 (every page), PutObject, multipart
 * upload (Create / UploadPart / Complete / Abort) and s3_put_file(), which
 * picks one or the other by size. Addressing is path-style
 * (ENDPOINT/BUCKET/KEY), so an S3-compatible server on a loopback port works
 * without DNS names per bucket.
 *
 * Settings (s3_config_from_env): the endpoint is AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com (hpod's
 * --s3-endpoint sets AWS_ENDPOINT_URL_S3 in its own environment at start);
 * the region AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1; the
 * credentials AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
 * AWS_SESSION_TOKEN), else the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), profile
 * AWS_PROFILE or "default". Without credentials requests go unsigned.
 *
 * Requests are signed with SigV4 by s3_sign() below (S3's canonical form:
 * the path encoded once, the payload's SHA-256 in x-amz-content-sha256),
 * built on sigv4.h's string-to-sign and signature; it is tested against
 * AWS's published S3 examples.
 *
 * Errors name the URI and the cause: "NoSuchBucket (404): The specified
 * bucket does not exist" (the S3 error code and HTTP status), or curl's
 * error text. Transport errors and 500/503 answers are retried
 * S3_ATTEMPTS times in all.
 *
 * Threads: an s3_client (one curl easy handle, reused so connections stay
 * open) is used by one thread at a time; make one per thread. Call
 * s3_global_init() once before any thread uses this module. */
#ifndef OPENHPO_S3_H
#define OPENHPO_S3_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Caps. */
#define S3_ENDPOINT_MAX 512 /* scheme://host[:port] */
#define S3_REGION_MAX 64
#define S3_KEY_ID_MAX 128
#define S3_SECRET_MAX 256
#define S3_TOKEN_MAX 4096             /* session token */
#define S3_CRED_FILE_MAX (256 * 1024) /* bytes of the shared credentials file read */
#define S3_BUCKET_MAX 63              /* bucket name, as AWS */
#define S3_KEY_MAX 1024               /* object key bytes, as AWS */
#define S3_URI_MAX (5 + S3_BUCKET_MAX + 1 + S3_KEY_MAX + 1)
#define S3_ERROR_MAX 480                  /* an error message (fits err_t) */
#define S3_ERROR_BODY_MAX (64 * 1024)     /* bytes of an error answer read */
#define S3_XML_BODY_MAX (8 * 1024 * 1024) /* a ListObjectsV2 page, a multipart answer */
#define S3_LIST_MAX 100000                /* objects s3_list() returns at most */
#define S3_PART_SIZE (8 * 1024 * 1024)    /* multipart upload: part size, and the threshold */
#define S3_PARTS_MAX 10000                /* parts of one multipart upload, as AWS */
#define S3_ATTEMPTS 3                     /* tries of one request (transport error, 500, 503) */
#define S3_CONNECT_TIMEOUT_S 10
#define S3_LOW_SPEED_TIME_S 60 /* a transfer under 1 byte/s this long is abandoned */

typedef struct {
    char endpoint[S3_ENDPOINT_MAX]; /* no trailing '/' */
    char region[S3_REGION_MAX];
    char key_id[S3_KEY_ID_MAX]; /* "" = unsigned requests */
    char secret[S3_SECRET_MAX];
    char token[S3_TOKEN_MAX]; /* "" = none */
} s3_config;

typedef struct s3_client s3_client;

typedef struct {
    char *key; /* full key */
    int64_t size;
} s3_object;

/* curl_global_init; call once, before threads. 0 or -1. */
int s3_global_init(void);

/* Fills *c from the environment and the credentials file (see above).
 * 0, or ERR_VALIDATION (an endpoint that is not http(s)://host[:port], an
 * unreadable credentials file named by AWS_SHARED_CREDENTIALS_FILE, a value
 * over its cap) with e set. */
int s3_config_from_env(s3_config *c, err_t *e);

/* Replaces c's keys with key_id / secret / token (token may be NULL): an
 * account's own (credentials.h s3_credentials). 0, or ERR_VALIDATION when
 * one is over its cap (c is then unchanged). */
int s3_config_set_keys(s3_config *c, const char *key_id, const char *secret, const char *token,
                       err_t *e);

/* Parses the credentials file text (INI) for `profile`: aws_access_key_id,
 * aws_secret_access_key, aws_session_token into c. 1 when the profile had
 * both keys, 0 otherwise. For tests too. */
int s3_config_parse_credentials(const char *text, const char *profile, s3_config *c);

/* Splits s3://BUCKET/KEY: bucket[S3_BUCKET_MAX + 1], key[S3_KEY_MAX + 1]
 * (key may be ""). 0, or ERR_VALIDATION naming the URI (not s3://, empty or
 * invalid bucket name, key over S3_KEY_MAX). */
int s3_parse_uri(const char *uri, char *bucket, char *key, err_t *e);

/* URI-encodes a key the SigV4/S3 way (unreserved characters and '/' kept)
 * into out[n]. 0, or -1 when it does not fit. */
int s3_encode_key(const char *key, char *out, size_t n);

/* The Authorization header value for S3: the canonical request is METHOD,
 * canon_path (already encoded, e.g. "/bucket/a%20b"), canon_query (encoded,
 * sorted, "k=v&..." or ""), the nh headers (names lowercase and sorted,
 * values trimmed), their names as SignedHeaders, and payload_hash; the time
 * is amz_date (YYYYMMDDTHHMMSSZ). Writes authz[cap]. 0, or -1 (too long,
 * crypto failure). */
int s3_sign(const char *method, const char *canon_path, const char *canon_query,
            const char *const *names, const char *const *values, size_t nh,
            const char *payload_hash, const char *amz_date, const char *region, const char *key_id,
            const char *secret, char *authz, size_t cap);

/* A client for config c (copied). NULL with e set. Free with s3_client_free. */
s3_client *s3_client_new(const s3_config *c, err_t *e);
void s3_client_free(s3_client *c);

/* HeadObject: *size. ERR_NOT_FOUND for 404 (e set), other codes likewise. */
int s3_head(s3_client *c, const char *bucket, const char *key, int64_t *size, err_t *e);

/* GetObject of bytes [off, off + len) (len < 0: from off to the end) written
 * to fd at file offset fd_off onwards (pwrite). *got (may be NULL) is the
 * number of bytes written. 0 or an err_code with e set. */
int s3_get_to_fd(s3_client *c, const char *bucket, const char *key, int64_t off, int64_t len,
                 int fd, int64_t fd_off, int64_t *got, err_t *e);

/* GetObject into memory: *out (NUL-terminated; caller frees), *n bytes;
 * refused (ERR_VALIDATION) when larger than cap. */
int s3_get_mem(s3_client *c, const char *bucket, const char *key, size_t cap, char **out, size_t *n,
               err_t *e);

/* ListObjectsV2 of every object under prefix, every page, in the server's
 * (lexicographic) order: *objs (caller frees with s3_objects_free), *n.
 * More than max (≤ S3_LIST_MAX) objects is ERR_VALIDATION. */
int s3_list(s3_client *c, const char *bucket, const char *prefix, size_t max, s3_object **objs,
            size_t *n, err_t *e);
void s3_objects_free(s3_object *objs, size_t n);

/* PutObject of n bytes. */
int s3_put(s3_client *c, const char *bucket, const char *key, const void *data, size_t n, err_t *e);

/* Multipart upload. upload_id[S3_UPLOAD_ID_MAX]; etag[S3_ETAG_MAX]. */
#define S3_UPLOAD_ID_MAX 1024
#define S3_ETAG_MAX 128
int s3_mpu_create(s3_client *c, const char *bucket, const char *key, char *upload_id, err_t *e);
int s3_mpu_part(s3_client *c, const char *bucket, const char *key, const char *upload_id, int part,
                const void *data, size_t n, char *etag, err_t *e);
/* etags[nparts] are the parts' ETags, parts numbered 1..nparts. */
int s3_mpu_complete(s3_client *c, const char *bucket, const char *key, const char *upload_id,
                    char (*etags)[S3_ETAG_MAX], int nparts, err_t *e);
int s3_mpu_abort(s3_client *c, const char *bucket, const char *key, const char *upload_id,
                 err_t *e);

/* Uploads a file: PutObject up to S3_PART_SIZE bytes, multipart (parts of
 * S3_PART_SIZE, at most S3_PARTS_MAX; aborted on failure) above. *parts
 * (may be NULL): 0 for a PutObject, else the number of parts. */
int s3_put_file(s3_client *c, const char *bucket, const char *key, const char *path, int *parts,
                err_t *e);

#endif
