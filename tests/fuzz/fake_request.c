/* fake_request — see fake_request.h. */
#include "fake_request.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void fake_request_init(fake_request *f) {
    memset(f, 0, sizeof *f);
    f->req.conn = f;
}

void fake_request_header(fake_request *f, const char *name, const char *value) {
    if (f->n == FAKE_REQUEST_MAX_HEADERS)
        return;
    f->names[f->n] = name;
    f->values[f->n] = value;
    f->n++;
}

/* The libmicrohttpd calls http.c makes; `connection` is a fake_request. As in
 * libmicrohttpd, header names compare case-insensitively and the first match
 * wins. Only request headers exist (no cookies, query arguments, footers). */
const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key) {
    const fake_request *f = (const fake_request *)connection;
    if (!f || !(kind & MHD_HEADER_KIND) || !key)
        return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (!strcasecmp(f->names[i], key))
            return f->values[i];
    return NULL;
}

enum MHD_Result MHD_lookup_connection_value_n(struct MHD_Connection *connection,
                                              enum MHD_ValueKind kind, const char *key,
                                              size_t key_size, const char **value_ptr,
                                              size_t *value_size_ptr) {
    const fake_request *f = (const fake_request *)connection;
    if (!f || !(kind & MHD_HEADER_KIND) || !key)
        return MHD_NO;
    for (size_t i = 0; i < f->n; i++)
        if (strlen(f->names[i]) == key_size && !strncasecmp(f->names[i], key, key_size)) {
            if (value_ptr)
                *value_ptr = f->values[i];
            if (value_size_ptr)
                *value_size_ptr = strlen(f->values[i]);
            return MHD_YES;
        }
    return MHD_NO;
}

int MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator iterator, void *iterator_cls) {
    const fake_request *f = (const fake_request *)connection;
    int n = 0;
    if (!f || !(kind & MHD_HEADER_KIND))
        return 0;
    for (size_t i = 0; i < f->n; i++) {
        n++;
        if (iterator &&
            iterator(iterator_cls, MHD_HEADER_KIND, f->names[i], f->values[i]) != MHD_YES)
            break;
    }
    return n;
}

int MHD_get_connection_values_n(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                MHD_KeyValueIteratorN iterator, void *iterator_cls) {
    const fake_request *f = (const fake_request *)connection;
    int n = 0;
    if (!f || !(kind & MHD_HEADER_KIND))
        return 0;
    for (size_t i = 0; i < f->n; i++) {
        n++;
        if (iterator && iterator(iterator_cls, MHD_HEADER_KIND, f->names[i], strlen(f->names[i]),
                                 f->values[i], strlen(f->values[i])) != MHD_YES)
            break;
    }
    return n;
}

static void count_header(void *ud, const char *name, const char *value) {
    int *n = ud;
    if (!strcmp(name, "X-Fake-Check") && !strcmp(value, "2"))
        *n += 1;
    else
        *n += 100;
}

int fake_request_check(void) {
    fake_request f;
    int seen = 0;
    fake_request_init(&f);
    fake_request_header(&f, "X-Fake-Check", "2");
    const char *v = http_header(&f.req, "x-fake-check");
    http_headers_each(&f.req, count_header, &seen);
    if (!v || strcmp(v, "2") || seen != 1) {
        fprintf(stderr, "fake_request: http.c no longer reads headers through "
                        "MHD_lookup_connection_value / MHD_get_connection_values of req->conn; "
                        "adapt tests/fuzz/fake_request.c\n");
        return -1;
    }
    return 0;
}
