#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name[2];
    int status[2];
} err_rows[ERR__COUNT] = {
#define X(code, n17, s17, ncur, scur) [code] = {{n17, ncur}, {s17, scur}},
    ERR_TABLE(X)
#undef X
};

const char *err_name(err_code code, api_flavor flavor) {
    if ((unsigned)code >= ERR__COUNT)
        code = ERR_INTERNAL;
    return err_rows[code].name[flavor == API_CURRENT];
}

int err_status(err_code code, api_flavor flavor) {
    if ((unsigned)code >= ERR__COUNT)
        code = ERR_INTERNAL;
    return err_rows[code].status[flavor == API_CURRENT];
}

err_code err_set(err_t *e, err_code code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}
