/* request — see request.h. Four parts:
 *   1. the struct's helpers (free, strategy names, space, objective, paths);
 *   2. the parsers: the 2017 API's CreateTuningJob, the current API's
 *      CreateHyperParameterTuningJob and CreateTrainingJob (wire JSON that
 *      has passed validate_request -> struct), and the stored text of older
 *      daemons (a 2017-shaped body with "_api_current"/"_original");
 *   3. request_check: the semantic rules, once, against the struct;
 *   4. the emitters: struct -> the request echo of each API's Describe. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "request.h"

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

/* ------------------------------------------------------------------ */
/* 1. Helpers                                                           */
/* ------------------------------------------------------------------ */

static const char *const strategy_names[] = {
#define X(code, name) [code] = name,
    REQ_STRATEGY_TABLE(X)
#undef X
};

const char *request_strategy_name(req_strategy s) {
    return (unsigned)s < REQ_STRATEGY__COUNT ? strategy_names[s] : "";
}

int request_strategy_parse(const char *name, req_strategy *s) {
    for (unsigned i = 0; name && i < REQ_STRATEGY__COUNT; i++)
        if (!strcmp(name, strategy_names[i])) {
            *s = (req_strategy)i;
            return 0;
        }
    return -1;
}

static void kvs_free(req_kv *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void ranges_free(req_range *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(r[i].name);
        free(r[i].lo_text);
        free(r[i].hi_text);
        for (size_t j = 0; j < r[i].nvalues; j++)
            free(r[i].values[j]);
        free(r[i].values);
    }
    free(r);
}

static void def_clear(req_training_def *d) {
    free(d->definition_name);
    free(d->image);
    free(d->input_mode);
    for (size_t i = 0; i < d->nmetrics; i++) {
        free(d->metrics[i].name);
        free(d->metrics[i].regex);
    }
    free(d->metrics);
    kvs_free(d->static_hp, d->nstatic);
    kvs_free(d->env, d->nenv);
    for (size_t i = 0; i < d->nchannels; i++) {
        req_channel *c = &d->channels[i];
        free(c->name);
        free(c->uri);
        free(c->data_type);
        free(c->distribution);
        free(c->content_type);
        free(c->compression);
        free(c->record_wrapper);
        free(c->input_mode);
    }
    free(d->channels);
    free(d->output_path);
    free(d->kms_key);
    free(d->role_arn);
    free(d->instance_type);
    ranges_free(d->ranges, d->nranges);
    free(d->objective_metric);
}

void request_free(req_tuning *r) {
    if (!r)
        return;
    free(r->name);
    ranges_free(r->ranges, r->nranges);
    free(r->objective_metric);
    for (size_t i = 0; i < r->nparents; i++)
        free(r->parents[i]);
    free(r->parents);
    kvs_free(r->tags, r->ntags);
    for (size_t i = 0; i < r->ndefs; i++)
        def_clear(&r->defs[i]);
    free(r->defs);
    free(r);
}

/* The ranges of definition `def`: its own, or the tuning job's. */
static const req_range *def_ranges(const req_tuning *r, size_t def, size_t *n) {
    if (def < r->ndefs && r->defs[def].nranges) {
        *n = r->defs[def].nranges;
        return r->defs[def].ranges;
    }
    *n = r->nranges;
    return r->ranges;
}

space *request_space(const req_tuning *r, size_t def, err_t *e) {
    size_t n;
    const req_range *rg = def_ranges(r, def, &n);
    space_param *p = calloc(n ? n : 1, sizeof *p);
    space *sp;
    if (!p) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        p[i].name = rg[i].name;
        p[i].kind = rg[i].kind;
        p[i].scale = rg[i].scale_given    ? rg[i].scale
                     : r->api == API_2017 ? SCALE_LINEAR
                                          : SCALE_AUTO;
        p[i].lo = rg[i].lo;
        p[i].hi = rg[i].hi;
        p[i].values = rg[i].values;
        p[i].nvalues = rg[i].nvalues;
    }
    sp = space_from_params(p, n, e);
    free(p);
    return sp;
}

const char *request_objective(const req_tuning *r, size_t def, int *maximize) {
    if (def < r->ndefs && r->defs[def].objective_metric) {
        if (maximize)
            *maximize = r->defs[def].maximize;
        return r->defs[def].objective_metric;
    }
    if (maximize)
        *maximize = r->maximize;
    return r->objective_metric;
}

const char *request_def_path(const req_tuning *r, size_t def, const char *member, char *buf,
                             size_t n) {
    const char *m = member ? member : "";
    if (r->kind == REQ_KIND_TRAINING) {
        if (!strncmp(m, "StaticHyperParameters", 21))
            snprintf(buf, n, "HyperParameters%s", m + 21);
        else
            snprintf(buf, n, "%s", m[0] ? m : "request body");
    } else if (r->multi_defs) {
        snprintf(buf, n, "TrainingJobDefinitions[%zu]%s%s", def, m[0] ? "." : "", m);
    } else {
        snprintf(buf, n, "TrainingJobDefinition%s%s", m[0] ? "." : "", m);
    }
    return buf;
}
