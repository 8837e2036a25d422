#include "space.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a whole string as a finite double. 0 on success. */
static int parse_num(const char *s, double *out) {
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static const struct {
    const char *list;
    param_kind kind;
} space_lists[] = {
    {"ContinuousParameterRanges", PARAM_CONTINUOUS},
    {"IntegerParameterRanges", PARAM_INTEGER},
    {"CategoricalParameterRanges", PARAM_CATEGORICAL},
};

static const struct {
    const char *name;
    param_scale scale;
} space_scales[] = {
    {"Auto", SCALE_AUTO},
    {"Linear", SCALE_LINEAR},
    {"Logarithmic", SCALE_LOG},
    {"ReverseLogarithmic", SCALE_REVLOG},
};

static int param_numeric(space_param *p, const json_t *r, const char *where, param_scale dflt,
                         err_t *e) {
    const char *smin = json_string_value(json_object_get(r, "MinValue"));
    const char *smax = json_string_value(json_object_get(r, "MaxValue"));
    if (parse_num(smin, &p->lo))
        return err_set(e, ERR_VALIDATION, "%s.MinValue '%s' is not a number", where,
                       smin ? smin : "");
    if (parse_num(smax, &p->hi))
        return err_set(e, ERR_VALIDATION, "%s.MaxValue '%s' is not a number", where,
                       smax ? smax : "");
    if (p->kind == PARAM_INTEGER && (p->lo != floor(p->lo) || p->hi != floor(p->hi) ||
                                     fabs(p->lo) > 9e15 || fabs(p->hi) > 9e15))
        return err_set(e, ERR_VALIDATION, "%s: MinValue and MaxValue must be integers", where);
    if (p->lo > p->hi)
        return err_set(e, ERR_VALIDATION, "%s: MinValue %s is greater than MaxValue %s", where,
                       smin, smax);
    p->scale = dflt;
    const char *st = json_string_value(json_object_get(r, "ScalingType"));
    if (st) {
        size_t i;
        for (i = 0; i < sizeof space_scales / sizeof *space_scales; i++)
            if (!strcmp(st, space_scales[i].name))
                break;
        if (i == sizeof space_scales / sizeof *space_scales)
            return err_set(e, ERR_VALIDATION,
                           "%s.ScalingType '%s' is not one of Auto, Linear, "
                           "Logarithmic, ReverseLogarithmic",
                           where, st);
        p->scale = space_scales[i].scale;
    }
    p->scale = space_resolve_scale(p->scale, p->lo, p->hi);
    if (p->scale == SCALE_LOG && p->lo <= 0)
        return err_set(e, ERR_VALIDATION, "%s: Logarithmic scaling needs MinValue greater than 0",
                       where);
    if (p->scale == SCALE_REVLOG && (p->kind != PARAM_CONTINUOUS || p->lo < 0 || p->hi >= 1))
        return err_set(e, ERR_VALIDATION,
                       "%s: ReverseLogarithmic scaling needs a continuous range within [0, 1)",
                       where);
    if (!isfinite(space_range_width(p->kind, p->scale, p->lo, p->hi)))
        return err_set(e, ERR_VALIDATION,
                       "%s: the width MaxValue - MinValue is not finite in double precision",
                       where);
    return 0;
}

static int param_categorical(space_param *p, const json_t *r, const char *where, err_t *e) {
    const json_t *vals = json_object_get(r, "Values");
    size_t n = json_array_size(vals);
    if (n == 0)
        return err_set(e, ERR_VALIDATION, "%s.Values must hold at least one value", where);
    p->values = calloc(n, sizeof *p->values);
    if (!p->values)
        return err_set(e, ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(vals, i));
        if (!v)
            return err_set(e, ERR_VALIDATION, "%s.Values[%zu] must be a string", where, i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(p->values[j], v))
                return err_set(e, ERR_VALIDATION, "%s.Values has '%s' twice", where, v);
        if (!(p->values[i] = strdup(v)))
            return err_set(e, ERR_INTERNAL, "out of memory");
        p->nvalues = i + 1;
    }
    p->lo = 0;
    p->hi = (double)(n - 1);
    p->scale = SCALE_LINEAR;
    return 0;
}

space *space_from_json(const json_t *ranges, err_t *e) {
    return space_from_json_scaled(ranges, SCALE_AUTO, e);
}

space *space_from_json_scaled(const json_t *ranges, param_scale dflt, err_t *e) {
    space *sp = calloc(1, sizeof *sp);
    size_t total = 0;
    int rc = 0;
    if (!sp) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t l = 0; l < 3; l++)
        total += json_array_size(json_object_get(ranges, space_lists[l].list));
    sp->p = calloc(total ? total : 1, sizeof *sp->p);
    if (!sp->p) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t l = 0; l < 3 && !rc; l++) {
        const json_t *arr = json_object_get(ranges, space_lists[l].list);
        for (size_t i = 0; i < json_array_size(arr) && !rc; i++) {
            const json_t *r = json_array_get(arr, i);
            space_param *p = &sp->p[sp->n++];
            char where[96];
            snprintf(where, sizeof where, "ParameterRanges.%s[%zu]", space_lists[l].list, i);
            const char *name = json_string_value(json_object_get(r, "Name"));
            if (!name) {
                rc = err_set(e, ERR_VALIDATION, "%s.Name is required", where);
                break;
            }
            for (size_t j = 0; j + 1 < sp->n; j++)
                if (!strcmp(sp->p[j].name, name)) {
                    rc = err_set(e, ERR_VALIDATION,
                                 "%s.Name: parameter '%s' appears more than once", where, name);
                    break;
                }
            if (rc)
                break;
            if (!(p->name = strdup(name))) {
                rc = err_set(e, ERR_INTERNAL, "out of memory");
                break;
            }
            p->kind = space_lists[l].kind;
            rc = p->kind == PARAM_CATEGORICAL ? param_categorical(p, r, where, e)
                                              : param_numeric(p, r, where, dflt, e);
        }
    }
out:
    if (rc) {
        space_free(sp);
        return NULL;
    }
    return sp;
}

param_scale space_resolve_scale(param_scale scale, double lo, double hi) {
    if (scale != SCALE_AUTO)
        return scale;
    return (lo > 0 && hi / lo >= 100.0) ? SCALE_LOG : SCALE_LINEAR;
}

/* Forward: the scale's line (below). */
static void bounds(const space_param *p, double *a, double *b);

double space_range_width(param_kind kind, param_scale scale, double lo, double hi) {
    space_param p = {.kind = kind, .scale = space_resolve_scale(scale, lo, hi), .lo = lo, .hi = hi};
    double a, b;
    if (kind == PARAM_CATEGORICAL)
        return hi - lo;
    bounds(&p, &a, &b);
    return b - a;
}

space *space_from_params(const space_param *src, size_t n, err_t *e) {
    space *sp = calloc(1, sizeof *sp);
    int rc = 0;
    if (!sp || !(sp->p = calloc(n ? n : 1, sizeof *sp->p))) {
        free(sp);
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const space_param *s = &src[i];
        space_param *p = &sp->p[sp->n++];
        const char *name = s->name ? s->name : "";
        p->kind = s->kind;
        if (!(p->name = strdup(name))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            break;
        }
        for (size_t j = 0; j + 1 < sp->n; j++)
            if (!strcmp(sp->p[j].name, name))
                rc = err_set(e, ERR_VALIDATION, "parameter '%s' appears more than once", name);
        if (rc)
            break;
        if (s->kind == PARAM_CATEGORICAL) {
            if (!s->nvalues) {
                rc = err_set(e, ERR_VALIDATION, "parameter '%s': no categorical values", name);
                break;
            }
            if (!(p->values = calloc(s->nvalues, sizeof *p->values))) {
                rc = err_set(e, ERR_INTERNAL, "out of memory");
                break;
            }
            for (size_t k = 0; k < s->nvalues && !rc; k++) {
                for (size_t j = 0; j < k; j++)
                    if (!strcmp(s->values[j], s->values[k]))
                        rc = err_set(e, ERR_VALIDATION, "parameter '%s': value '%s' twice", name,
                                     s->values[k]);
                if (!rc && !(p->values[k] = strdup(s->values[k])))
                    rc = err_set(e, ERR_INTERNAL, "out of memory");
                if (!rc)
                    p->nvalues = k + 1;
            }
            p->lo = 0;
            p->hi = (double)(s->nvalues - 1);
            p->scale = SCALE_LINEAR;
            continue;
        }
        p->lo = s->lo;
        p->hi = s->hi;
        p->scale = space_resolve_scale(s->scale, s->lo, s->hi);
        if (!isfinite(p->lo) || !isfinite(p->hi) || p->lo > p->hi)
            rc = err_set(e, ERR_VALIDATION, "parameter '%s': bounds [%g, %g] are not a range", name,
                         p->lo, p->hi);
        else if (p->kind == PARAM_INTEGER && (p->lo != floor(p->lo) || p->hi != floor(p->hi) ||
                                              fabs(p->lo) > 9e15 || fabs(p->hi) > 9e15))
            rc = err_set(e, ERR_VALIDATION, "parameter '%s': bounds must be integers", name);
        else if (p->scale == SCALE_LOG && p->lo <= 0)
            rc = err_set(e, ERR_VALIDATION,
                         "parameter '%s': Logarithmic scaling needs MinValue greater than 0", name);
        else if (p->scale == SCALE_REVLOG &&
                 (p->kind != PARAM_CONTINUOUS || p->lo < 0 || p->hi >= 1))
            rc = err_set(e, ERR_VALIDATION,
                         "parameter '%s': ReverseLogarithmic scaling needs a continuous range "
                         "within [0, 1)",
                         name);
        else if (!isfinite(space_range_width(p->kind, p->scale, p->lo, p->hi)))
            rc = err_set(e, ERR_VALIDATION,
                         "parameter '%s': the width of [%g, %g] is not finite in double precision",
                         name, p->lo, p->hi);
    }
    if (rc) {
        space_free(sp);
        return NULL;
    }
    return sp;
}

void space_free(space *sp) {
    if (!sp)
        return;
    for (size_t i = 0; i < sp->n; i++) {
        free(sp->p[i].name);
        for (size_t j = 0; j < sp->p[i].nvalues; j++)
            free(sp->p[i].values[j]);
        free(sp->p[i].values);
    }
    free(sp->p);
    free(sp);
}

/* Shortest %g form that reads back to exactly v. */
static void fmt_double(char *buf, size_t n, double v) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

int space_format(const space *sp, const double *cfg, json_t *hp) {
    char buf[64];
    for (size_t i = 0; i < sp->n; i++) {
        const space_param *p = &sp->p[i];
        const char *s = buf;
        if (p->kind == PARAM_CATEGORICAL) {
            size_t k = (size_t)cfg[i];
            s = p->values[k < p->nvalues ? k : p->nvalues - 1];
        } else if (p->kind == PARAM_INTEGER) {
            snprintf(buf, sizeof buf, "%lld", (long long)llround(cfg[i]));
        } else {
            fmt_double(buf, sizeof buf, cfg[i]);
        }
        if (json_object_set_new(hp, p->name, json_string(s)))
            return -1;
    }
    return 0;
}

int space_parse(const space *sp, const json_t *hp, double *cfg) {
    for (size_t i = 0; i < sp->n; i++) {
        const space_param *p = &sp->p[i];
        const char *s = json_string_value(json_object_get(hp, p->name));
        if (!s)
            return -1;
        if (p->kind == PARAM_CATEGORICAL) {
            size_t k;
            for (k = 0; k < p->nvalues; k++)
                if (!strcmp(p->values[k], s))
                    break;
            if (k == p->nvalues)
                return -1;
            cfg[i] = (double)k;
        } else if (parse_num(s, &cfg[i])) {
            return -1;
        }
    }
    return 0;
}

/* Maps a numeric value to the scale's line; integers own [v-0.5, v+0.5]. */
static double warp(param_scale sc, double v) {
    switch (sc) {
    case SCALE_LOG:
        return log(v);
    case SCALE_REVLOG:
        return -log(1.0 - v);
    default:
        return v;
    }
}

static double unwarp(param_scale sc, double w) {
    switch (sc) {
    case SCALE_LOG:
        return exp(w);
    case SCALE_REVLOG:
        return 1.0 - exp(-w);
    default:
        return w;
    }
}

static void bounds(const space_param *p, double *a, double *b) {
    double lo = p->lo, hi = p->hi;
    if (p->kind == PARAM_INTEGER) {
        lo -= 0.5;
        hi += 0.5;
        if (p->scale == SCALE_LOG && lo <= 0)
            lo = p->lo * 0.5;
    }
    *a = warp(p->scale, lo);
    *b = warp(p->scale, hi);
}

static double clamp01(double u) {
    return u < 0 ? 0 : u > 1 ? 1 : u;
}

void space_to_unit(const space *sp, const double *cfg, double *u) {
    for (size_t i = 0; i < sp->n; i++) {
        const space_param *p = &sp->p[i];
        if (p->kind == PARAM_CATEGORICAL) {
            u[i] = (cfg[i] + 0.5) / (double)p->nvalues;
            continue;
        }
        double a, b;
        bounds(p, &a, &b);
        u[i] = b > a ? clamp01((warp(p->scale, cfg[i]) - a) / (b - a)) : 0.5;
    }
}

void space_from_unit(const space *sp, const double *u, double *cfg) {
    for (size_t i = 0; i < sp->n; i++) {
        const space_param *p = &sp->p[i];
        double x = clamp01(u[i]);
        if (p->kind == PARAM_CATEGORICAL) {
            size_t k = (size_t)(x * (double)p->nvalues);
            cfg[i] = (double)(k < p->nvalues ? k : p->nvalues - 1);
            continue;
        }
        double a, b;
        bounds(p, &a, &b);
        double v = unwarp(p->scale, a + x * (b - a));
        if (p->kind == PARAM_INTEGER)
            v = round(v);
        cfg[i] = v < p->lo ? p->lo : v > p->hi ? p->hi : v;
    }
}
