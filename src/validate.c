/* validate — see validate.h. The shape models: a loader that compiles a
 * service-2.json document into linked vshape records, and a walker that
 * checks a JSON value against one, driven by the per-type table vtypes[].
 * (The semantic rules of a request are request.c's, against the typed
 * request.) */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "validate.h"

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built-in models: the bytes of src/models/<name>.json, embedded by the
 * generated $(BUILD)/gen/validate_models.c (see the end of the Makefile). */
extern const char validate_model_hpo_2017_11_08[];
extern const size_t validate_model_hpo_2017_11_08_len;
extern const char validate_model_sagemaker_2017_07_24[];
extern const size_t validate_model_sagemaker_2017_07_24_len;

/* Longest field path kept in a message; longer ones end in "...". */
#define PATH_MAX_BYTES 320
/* Request text quoted in messages: at most this many characters. */
#define EXCERPT_CHARS VALIDATE_EXCERPT_CHARS
/* Backtracking budget of one pattern match (PCRE2 match limit). */
#define MATCH_LIMIT 1000000
/* Largest magnitude of an integer parameter bound (as space.c accepts). */
#define INT_BOUND_MAX 9e15

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

/* Copies at most EXCERPT_CHARS characters of s[0..len) into buf as printable
 * ASCII: other bytes (and quote characters) become '?', and "..." marks a
 * cut. buf must hold EXCERPT_CHARS + 4 bytes. Returns buf. */
const char *validate_excerpt(const char *s, size_t len, char *buf) {
    size_t n = 0;
    for (size_t i = 0; i < len && n < EXCERPT_CHARS; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* one '?' per code point: skip continuation bytes */
            while (i + 1 < len && ((unsigned char)s[i + 1] & 0xC0) == 0x80)
                i++;
            c = '?';
        } else if (c < 0x20 || c == 0x7F || c == '\'' || c == '"' || c == '\\') {
            c = '?';
        }
        buf[n++] = (char)c;
        if (n == EXCERPT_CHARS && i + 1 < len) {
            memcpy(buf + n, "...", 3);
            n += 3;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* Number of code points of the UTF-8 text s[0..len), or -1 if it is not
 * valid UTF-8 (overlong forms, surrogates and values past U+10FFFF are
 * invalid). *nul is set when the text contains U+0000. */
static long utf8_length(const char *s, size_t len, int *nul) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    long n = 0;
    *nul = 0;
    while (p < end) {
        unsigned c = *p++;
        unsigned need, cp, lo;
        if (c < 0x80) {
            *nul |= c == 0;
            n++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, lo = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, lo = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, lo = 0x10000;
        } else {
            return -1;
        }
        if ((size_t)(end - p) < need)
            return -1;
        for (unsigned i = 0; i < need; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < lo || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        p += need;
        n++;
    }
    return n;
}

/* "an object", "an array", ... for the JSON value v (NULL: "nothing"). */
static const char *json_kind(const json_t *v) {
    static const char *const kinds[] = {
        [JSON_OBJECT] = "an object",   [JSON_ARRAY] = "an array",     [JSON_STRING] = "a string",
        [JSON_INTEGER] = "an integer", [JSON_REAL] = "a real number", [JSON_TRUE] = "a boolean",
        [JSON_FALSE] = "a boolean",    [JSON_NULL] = "null",
    };
    if (!v || (unsigned)json_typeof(v) >= sizeof kinds / sizeof *kinds)
        return "nothing";
    return kinds[json_typeof(v)];
}

/* Whether the containers in v nest at most VALIDATE_MAX_DEPTH levels, v
 * itself (if a container) being at `level`. Stops descending at the cap, so
 * the recursion is bounded even for deeper (or cyclic) values. */
static int depth_ok(const json_t *v, int level) {
    const char *k;
    json_t *child;
    size_t i;
    if (!json_is_object(v) && !json_is_array(v))
        return 1;
    if (level > VALIDATE_MAX_DEPTH)
        return 0;
    if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            if (!depth_ok(child, level + 1))
                return 0;
        }
        return 1;
    }
    /* jansson's iteration API takes a non-const object; it does not modify it */
    json_object_foreach((json_t *)v, k, child) {
        if (!depth_ok(child, level + 1))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* The model                                                            */
/* ------------------------------------------------------------------ */

typedef enum {
    VT_STRUCTURE,
    VT_LIST,
    VT_MAP,
    VT_STRING,
    VT_BLOB,
    VT_BOOLEAN,
    VT_INTEGER,
    VT_LONG,
    VT_FLOAT,
    VT_DOUBLE,
    VT_TIMESTAMP,
} vtype;

/* What a shape's min/max constrain. */
typedef enum {
    BOUND_NONE,   /* min/max are ignored */
    BOUND_LENGTH, /* code points of a string */
    BOUND_COUNT,  /* items of a list, entries of a map */
    BOUND_INT,    /* value of an integer */
    BOUND_REAL,   /* value of a floating-point number */
} bound_kind;

typedef struct vshape vshape;

typedef struct {
    const char *name; /* borrowed from the model document */
    const vshape *shape;
    int required;
} vmember;

struct vshape {
    const char *name; /* borrowed from the model document */
    vtype type;
    int has_min, has_max;
    json_int_t imin, imax; /* BOUND_LENGTH, BOUND_COUNT, BOUND_INT */
    double dmin, dmax;     /* BOUND_REAL */
    const char *pattern;   /* string: borrowed; compiled into re */
    pcre2_code *re;
    size_t nenum; /* string: allowed values, borrowed */
    const char **enums;
    size_t nmembers; /* structure */
    vmember *members;
    int is_union;
    const vshape *member; /* list */
    const vshape *key;    /* map */
    const vshape *value;  /* map */
};

typedef struct {
    const char *name;    /* borrowed */
    const vshape *input; /* NULL: the operation takes no input members */
} vop;

struct validate_model {
    json_t *doc; /* the parsed document; owns every borrowed string */
    size_t nshapes;
    vshape *shapes;
    size_t nops;
    vop *ops;
    pcre2_compile_context *cctx; /* newline convention for patterns */
    pcre2_match_context *mctx;   /* match limits; read-only after load */
};

/* The walker's state for one validation. */
typedef struct {
    const validate_model *m;
    err_t *e;
    pcre2_match_data *md;
    size_t len;
    char path[PATH_MAX_BYTES];
} walker;

typedef int (*check_fn)(walker *w, const vshape *s, const json_t *v, int level);

static int check_structure(walker *w, const vshape *s, const json_t *v, int level);
static int check_list(walker *w, const vshape *s, const json_t *v, int level);
static int check_map(walker *w, const vshape *s, const json_t *v, int level);
static int check_string_value(walker *w, const vshape *s, const json_t *v, int level);
static int check_integer(walker *w, const vshape *s, const json_t *v, int level);
static int check_real(walker *w, const vshape *s, const json_t *v, int level);

#define JT(t) (1u << (t))

/* One row per service-2.json type: its name, the JSON types that may carry
 * it, how to say that in a message, what min/max mean, which of
 * pattern/enum/members/member/key+value it has, and the check applied once
 * the JSON type is right (NULL: nothing more to check). */
static const struct {
    const char *name;
    vtype type;
    unsigned json_types;
    const char *expect;
    bound_kind bounds;
    int has_text_rules; /* pattern, enum */
    check_fn check;
} vtypes[] = {
    {"structure", VT_STRUCTURE, JT(JSON_OBJECT), "an object", BOUND_NONE, 0, check_structure},
    {"list", VT_LIST, JT(JSON_ARRAY), "an array", BOUND_COUNT, 0, check_list},
    {"map", VT_MAP, JT(JSON_OBJECT), "an object", BOUND_COUNT, 0, check_map},
    {"string", VT_STRING, JT(JSON_STRING), "a string", BOUND_LENGTH, 1, check_string_value},
    {"blob", VT_BLOB, JT(JSON_STRING), "a string", BOUND_LENGTH, 0, check_string_value},
    {"boolean", VT_BOOLEAN, JT(JSON_TRUE) | JT(JSON_FALSE), "a boolean", BOUND_NONE, 0, NULL},
    {"integer", VT_INTEGER, JT(JSON_INTEGER), "an integer", BOUND_INT, 0, check_integer},
    {"long", VT_LONG, JT(JSON_INTEGER), "an integer", BOUND_INT, 0, check_integer},
    {"float", VT_FLOAT, JT(JSON_INTEGER) | JT(JSON_REAL), "a number", BOUND_REAL, 0, check_real},
    {"double", VT_DOUBLE, JT(JSON_INTEGER) | JT(JSON_REAL), "a number", BOUND_REAL, 0, check_real},
    {"timestamp", VT_TIMESTAMP, JT(JSON_INTEGER) | JT(JSON_REAL),
     "a number (seconds since the epoch)", BOUND_NONE, 0, NULL},
};

#define NVTYPES (sizeof vtypes / sizeof *vtypes)

static size_t vtype_row(vtype t) {
    size_t i;
    for (i = 0; i < NVTYPES; i++)
        if (vtypes[i].type == t)
            break;
    return i;
}
void validate_model_free(validate_model *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->nshapes; i++) {
        pcre2_code_free(m->shapes[i].re);
        free(m->shapes[i].enums);
        free(m->shapes[i].members);
    }
    free(m->shapes);
    free(m->ops);
    pcre2_compile_context_free(m->cctx);
    pcre2_match_context_free(m->mctx);
    json_decref(m->doc);
    free(m);
}

/* Resolves the reference `ref` ({"shape": "Name"}) made by shape `owner`'s
 * `what` through `index` (shape name -> position in m->shapes). */
static int resolve(validate_model *m, const json_t *index, const json_t *ref, const char *owner,
                   const char *what, const vshape **out, err_t *e) {
    const char *name = json_string_value(json_object_get(ref, "shape"));
    const json_t *pos = name ? json_object_get(index, name) : NULL;
    if (!name)
        return err_set(e, ERR_INTERNAL, "model: shape %s: %s has no \"shape\" reference", owner,
                       what);
    if (!pos)
        return err_set(e, ERR_INTERNAL, "model: shape %s: %s refers to undefined shape %s", owner,
                       what, name);
    *out = &m->shapes[json_integer_value(pos)];
    return 0;
}

/* Reads an integral bound `key` of shape `name` into *out. *has is 0 when
 * the key is absent. */
static int load_int_bound(const json_t *def, const char *key, const char *name, int *has,
                          json_int_t *out, err_t *e) {
    const json_t *v = json_object_get(def, key);
    *has = v != NULL;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
        fabs(json_real_value(v)) < 9e18) {
        *out = (json_int_t)json_real_value(v);
        return 0;
    }
    return err_set(e, ERR_INTERNAL, "model: shape %s: %s must be an integer", name, key);
}

static int load_real_bound(const json_t *def, const char *key, const char *name, int *has,
                           double *out, err_t *e) {
    const json_t *v = json_object_get(def, key);
    *has = v != NULL;
    if (!v)
        return 0;
    if (!json_is_number(v))
        return err_set(e, ERR_INTERNAL, "model: shape %s: %s must be a number", name, key);
    *out = json_number_value(v);
    return 0;
}

static int load_bounds(vshape *s, bound_kind kind, const json_t *def, err_t *e) {
    int rc = 0;
    if (kind == BOUND_REAL) {
        rc = load_real_bound(def, "min", s->name, &s->has_min, &s->dmin, e);
        if (!rc)
            rc = load_real_bound(def, "max", s->name, &s->has_max, &s->dmax, e);
    } else if (kind != BOUND_NONE) {
        rc = load_int_bound(def, "min", s->name, &s->has_min, &s->imin, e);
        if (!rc)
            rc = load_int_bound(def, "max", s->name, &s->has_max, &s->imax, e);
    }
    return rc;
}

static int load_text_rules(validate_model *m, vshape *s, const json_t *def, err_t *e) {
    const json_t *pat = json_object_get(def, "pattern");
    const json_t *en = json_object_get(def, "enum");
    if (pat) {
        int code;
        PCRE2_SIZE off;
        if (!json_is_string(pat))
            return err_set(e, ERR_INTERNAL, "model: shape %s: pattern must be a string", s->name);
        s->pattern = json_string_value(pat);
        /* ANCHORED + ENDANCHORED: the pattern must match the whole string */
        s->re = pcre2_compile((PCRE2_SPTR)s->pattern, PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &code,
                              &off, m->cctx);
        if (!s->re) {
            PCRE2_UCHAR buf[128];
            pcre2_get_error_message(code, buf, sizeof buf);
            return err_set(e, ERR_INTERNAL, "model: shape %s: pattern does not compile: %s at %zu",
                           s->name, (const char *)buf, (size_t)off);
        }
    }
    if (en) {
        size_t i;
        const json_t *v;
        if (!json_is_array(en) || json_array_size(en) == 0)
            return err_set(e, ERR_INTERNAL, "model: shape %s: enum must be a non-empty array",
                           s->name);
        s->enums = calloc(json_array_size(en), sizeof *s->enums);
        if (!s->enums)
            return err_set(e, ERR_INTERNAL, "out of memory");
        json_array_foreach(en, i, v) {
            if (!json_is_string(v))
                return err_set(e, ERR_INTERNAL, "model: shape %s: enum values must be strings",
                               s->name);
            s->enums[s->nenum++] = json_string_value(v);
        }
    }
    return 0;
}

static int load_members(validate_model *m, const json_t *index, vshape *s, const json_t *def,
                        err_t *e) {
    const json_t *members = json_object_get(def, "members");
    const json_t *required = json_object_get(def, "required");
    const char *k;
    json_t *ref;
    size_t i;
    int rc = 0;
    if (!json_is_object(members))
        return err_set(e, ERR_INTERNAL, "model: shape %s: members must be an object", s->name);
    if (required && !json_is_array(required))
        return err_set(e, ERR_INTERNAL, "model: shape %s: required must be an array", s->name);
    s->members = calloc(json_object_size(members) + 1, sizeof *s->members);
    if (!s->members)
        return err_set(e, ERR_INTERNAL, "out of memory");
    json_object_foreach((json_t *)members, k, ref) {
        vmember *mb = &s->members[s->nmembers++];
        mb->name = k;
        rc = resolve(m, index, ref, s->name, k, &mb->shape, e);
        if (rc)
            return rc;
    }
    json_array_foreach(required, i, ref) {
        const char *name = json_string_value(ref);
        size_t j;
        for (j = 0; name && j < s->nmembers; j++)
            if (!strcmp(s->members[j].name, name))
                break;
        if (!name || j == s->nmembers)
            return err_set(e, ERR_INTERNAL, "model: shape %s: required member %s is not a member",
                           s->name, name ? name : "(not a string)");
        s->members[j].required = 1;
    }
    s->is_union = json_is_true(json_object_get(def, "union"));
    return 0;
}

/* Fills in m->shapes from the "shapes" object; *index maps each name to its
 * position (the caller frees it). */
static int load_shapes(validate_model *m, json_t **index, err_t *e) {
    const json_t *shapes = json_object_get(m->doc, "shapes");
    const char *name;
    json_t *def;
    size_t i = 0;
    int rc = 0;
    if (!json_is_object(shapes) || json_object_size(shapes) == 0)
        return err_set(e, ERR_INTERNAL, "model: \"shapes\" must be a non-empty object");
    m->shapes = calloc(json_object_size(shapes), sizeof *m->shapes);
    *index = json_object();
    if (!m->shapes || !*index)
        return err_set(e, ERR_INTERNAL, "out of memory");
    /* pass 1: names and types, so that pass 2 can resolve references */
    json_object_foreach((json_t *)shapes, name, def) {
        vshape *s = &m->shapes[i];
        const char *type = json_string_value(json_object_get(def, "type"));
        size_t row;
        for (row = 0; type && row < NVTYPES; row++)
            if (!strcmp(vtypes[row].name, type))
                break;
        if (!type || row == NVTYPES)
            return err_set(e, ERR_INTERNAL, "model: shape %s: unknown type %s", name,
                           type ? type : "(none)");
        s->name = name;
        s->type = vtypes[row].type;
        if (json_object_set_new(*index, name, json_integer((json_int_t)i)))
            return err_set(e, ERR_INTERNAL, "out of memory");
        m->nshapes = ++i;
    }
    /* pass 2: constraints and references */
    i = 0;
    json_object_foreach((json_t *)shapes, name, def) {
        vshape *s = &m->shapes[i++];
        size_t row = vtype_row(s->type);
        rc = load_bounds(s, vtypes[row].bounds, def, e);
        if (!rc && vtypes[row].has_text_rules)
            rc = load_text_rules(m, s, def, e);
        if (!rc && s->type == VT_STRUCTURE)
            rc = load_members(m, *index, s, def, e);
        if (!rc && s->type == VT_LIST)
            rc = resolve(m, *index, json_object_get(def, "member"), name, "member", &s->member, e);
        if (!rc && s->type == VT_MAP)
            rc = resolve(m, *index, json_object_get(def, "key"), name, "key", &s->key, e);
        if (!rc && s->type == VT_MAP)
            rc = resolve(m, *index, json_object_get(def, "value"), name, "value", &s->value, e);
        if (!rc && s->type == VT_MAP && s->key->type != VT_STRING)
            rc = err_set(e, ERR_INTERNAL, "model: shape %s: map keys must be strings", name);
        if (rc)
            break;
    }
    return rc;
}

static int load_operations(validate_model *m, const json_t *index, err_t *e) {
    const json_t *ops = json_object_get(m->doc, "operations");
    const char *name;
    json_t *def;
    int rc = 0;
    if (!json_is_object(ops))
        return err_set(e, ERR_INTERNAL, "model: \"operations\" must be an object");
    m->ops = calloc(json_object_size(ops) + 1, sizeof *m->ops);
    if (!m->ops)
        return err_set(e, ERR_INTERNAL, "out of memory");
    json_object_foreach((json_t *)ops, name, def) {
        vop *o = &m->ops[m->nops++];
        const json_t *input = json_object_get(def, "input");
        o->name = name;
        if (input) {
            rc = resolve(m, index, input, name, "input", &o->input, e);
            if (!rc && o->input->type != VT_STRUCTURE)
                rc = err_set(e, ERR_INTERNAL, "model: operation %s: input must be a structure",
                             name);
            if (rc)
                break;
        }
    }
    return rc;
}

validate_model *validate_model_load(const char *text, size_t len, err_t *e) {
    validate_model *m = calloc(1, sizeof *m);
    json_t *index = NULL;
    json_error_t je;
    int rc = 0;
    if (!m) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    m->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!m->doc || !json_is_object(m->doc)) {
        rc = err_set(e, ERR_INTERNAL, "model: not a JSON object (line %d: %s)", je.line,
                     m->doc ? "top level" : je.text);
        goto out;
    }
    m->cctx = pcre2_compile_context_create(NULL);
    m->mctx = pcre2_match_context_create(NULL);
    if (!m->cctx || !m->mctx) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    /* Java's line terminators (what '.' does not match, and where '$' may
     * stop) are \n, \r\n, \r, U+0085, U+2028, U+2029; PCRE2's ANY is those
     * plus VT and FF, the closest convention it has. */
    pcre2_set_newline(m->cctx, PCRE2_NEWLINE_ANY);
    pcre2_set_match_limit(m->mctx, MATCH_LIMIT);
    rc = load_shapes(m, &index, e);
    if (rc)
        goto out;
    rc = load_operations(m, index, e);
out:
    json_decref(index);
    if (rc) {
        validate_model_free(m);
        return NULL;
    }
    return m;
}

static const vop *find_op(const validate_model *m, const char *op) {
    for (size_t i = 0; m && op && i < m->nops; i++)
        if (!strcmp(m->ops[i].name, op))
            return &m->ops[i];
    return NULL;
}

static const vshape *find_shape(const validate_model *m, const char *name) {
    for (size_t i = 0; m && name && i < m->nshapes; i++)
        if (!strcmp(m->shapes[i].name, name))
            return &m->shapes[i];
    return NULL;
}

int validate_model_has_operation(const validate_model *m, const char *op) {
    return find_op(m, op) != NULL;
}

/* ------------------------------------------------------------------ */
/* The walker                                                           */
/* ------------------------------------------------------------------ */

/* Appends to the field path; on overflow the path ends in "...". Returns the
 * previous length, for path_pop(). */
static size_t path_push(walker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(walker *w, const char *fmt, ...) {
    size_t mark = w->len, room = sizeof w->path - w->len;
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(w->path + w->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        w->path[w->len] = '\0';
    } else if ((size_t)n >= room) {
        w->len = sizeof w->path - 1;
        memcpy(w->path + w->len - 3, "...", 3);
    } else {
        w->len += (size_t)n;
    }
    return mark;
}

static void path_pop(walker *w, size_t mark) {
    w->len = mark;
    w->path[mark] = '\0';
}

/* Reports a problem with the value at the current path. */
static int fail(walker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(walker *w, const char *fmt, ...) {
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(w->e, ERR_VALIDATION, "%s: %s", w->len ? w->path : "request body", what);
}

static int check_value(walker *w, const vshape *s, const json_t *v, int level) {
    size_t row = vtype_row(s->type);
    /* depth_ok() has bounded the body already; this guards recursive shapes */
    if (level > VALIDATE_MAX_DEPTH && (json_is_object(v) || json_is_array(v)))
        return fail(w, "is nested more than %d levels deep", VALIDATE_MAX_DEPTH);
    if (!(JT(json_typeof(v)) & vtypes[row].json_types))
        return fail(w, "must be %s, not %s", vtypes[row].expect, json_kind(v));
    return vtypes[row].check ? vtypes[row].check(w, s, v, level) : 0;
}

static int check_structure(walker *w, const vshape *s, const json_t *v, int level) {
    size_t present = 0;
    for (size_t i = 0; i < s->nmembers; i++) {
        const vmember *mb = &s->members[i];
        const json_t *mv = json_object_get(v, mb->name);
        size_t mark;
        int rc;
        if (!mv && !mb->required)
            continue;
        mark = path_push(w, w->len ? ".%s" : "%s", mb->name);
        rc = mv ? check_value(w, mb->shape, mv, level + 1) : fail(w, "is required");
        path_pop(w, mark);
        if (rc)
            return rc;
        present += mv != NULL;
    }
    if (s->is_union && present != 1)
        return fail(w, "must have exactly one member set, not %zu", present);
    return 0;
}

/* Checks a list's or map's size; one/many name the unit ("item", "items"). */
static int check_count(walker *w, const vshape *s, size_t n, const char *one, const char *many) {
    if (s->has_min && (json_int_t)n < s->imin)
        return fail(w, "must have at least %lld %s", (long long)s->imin, s->imin == 1 ? one : many);
    if (s->has_max && (json_int_t)n > s->imax)
        return fail(w, "must have at most %lld %s", (long long)s->imax, s->imax == 1 ? one : many);
    return 0;
}

static int check_list(walker *w, const vshape *s, const json_t *v, int level) {
    size_t i;
    const json_t *item;
    int rc = check_count(w, s, json_array_size(v), "item", "items");
    if (rc)
        return rc;
    json_array_foreach(v, i, item) {
        size_t mark = path_push(w, "[%zu]", i);
        rc = check_value(w, s->member, item, level + 1);
        path_pop(w, mark);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_string(walker *w, const vshape *s, const char *str, size_t len);

static int check_map(walker *w, const vshape *s, const json_t *v, int level) {
    const char *k;
    json_t *val;
    int rc = check_count(w, s, json_object_size(v), "entry", "entries");
    if (rc)
        return rc;
    json_object_foreach((json_t *)v, k, val) {
        char ex[EXCERPT_CHARS + 4];
        size_t klen = json_object_iter_key_len(json_object_key_to_iter(k));
        size_t mark = path_push(w, ": key \"%s\"", validate_excerpt(k, klen, ex));
        rc = check_string(w, s->key, k, klen);
        path_pop(w, mark);
        if (rc)
            return rc;
        mark = path_push(w, "[\"%s\"]", ex);
        rc = check_value(w, s->value, val, level + 1);
        path_pop(w, mark);
        if (rc)
            return rc;
    }
    return 0;
}

/* Lists the enum values of s into buf (cut with "..." to fit). */
static const char *enum_list(const vshape *s, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->nenum; i++) {
        size_t need = strlen(s->enums[i]) + (i ? 2 : 0);
        if (len + need + 6 > n) { /* keep room for ", ..." */
            snprintf(buf + len, n - len, ", ...");
            break;
        }
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", s->enums[i]);
    }
    return buf;
}

static int check_string(walker *w, const vshape *s, const char *str, size_t len) {
    char ex[EXCERPT_CHARS + 4];
    int nul;
    long chars = utf8_length(str, len, &nul);
    if (chars < 0)
        return fail(w, "is not valid UTF-8");
    if (nul)
        return fail(w, "must not contain NUL characters");
    if (s->has_min && chars < s->imin)
        return fail(w, "must be at least %lld character%s long", (long long)s->imin,
                    s->imin == 1 ? "" : "s");
    if (s->has_max && chars > s->imax)
        return fail(w, "must be at most %lld character%s long", (long long)s->imax,
                    s->imax == 1 ? "" : "s");
    if (s->nenum) {
        size_t i;
        for (i = 0; i < s->nenum; i++)
            if (strlen(s->enums[i]) == len && !memcmp(s->enums[i], str, len))
                break;
        if (i == s->nenum) {
            char list[300];
            return fail(w, "'%s' is not one of: %s", validate_excerpt(str, len, ex),
                        enum_list(s, list, sizeof list));
        }
    }
    if (s->re) {
        int r = pcre2_match(s->re, (PCRE2_SPTR)str, len, 0, PCRE2_NO_UTF_CHECK, w->md, w->m->mctx);
        if (r == PCRE2_ERROR_NOMATCH)
            return fail(w, "'%s' does not match the pattern %s", validate_excerpt(str, len, ex),
                        s->pattern);
        if (r < 0)
            return fail(w, "could not be checked against the pattern %s (too complex)", s->pattern);
    }
    return 0;
}

static int check_string_value(walker *w, const vshape *s, const json_t *v, int level) {
    (void)level;
    return check_string(w, s, json_string_value(v), json_string_length(v));
}

static int check_integer(walker *w, const vshape *s, const json_t *v, int level) {
    json_int_t x = json_integer_value(v);
    (void)level;
    if (s->type == VT_INTEGER && x > INT32_MAX)
        return fail(w, "must be at most %ld", (long)INT32_MAX);
    if (s->type == VT_INTEGER && x < INT32_MIN)
        return fail(w, "must be at least %ld", (long)INT32_MIN);
    if (s->has_min && x < s->imin)
        return fail(w, "must be at least %lld", (long long)s->imin);
    if (s->has_max && x > s->imax)
        return fail(w, "must be at most %lld", (long long)s->imax);
    return 0;
}

static int check_real(walker *w, const vshape *s, const json_t *v, int level) {
    double x = json_number_value(v);
    (void)level;
    if (s->has_min && x < s->dmin)
        return fail(w, "must be at least %g", s->dmin);
    if (s->has_max && x > s->dmax)
        return fail(w, "must be at most %g", s->dmax);
    return 0;
}

/* Validates v against s (NULL: any object) with messages under `path`. */
static int walk(const validate_model *m, const vshape *s, const json_t *v, const char *path,
                err_t *e) {
    walker w = {.m = m, .e = e};
    int rc = 0;
    if (path && *path)
        path_push(&w, "%s", path);
    if (!v) {
        rc = fail(&w, "must be a JSON object");
        goto out;
    }
    if (!depth_ok(v, 1)) {
        rc = fail(&w, "is nested more than %d levels deep", VALIDATE_MAX_DEPTH);
        goto out;
    }
    if (!s) {
        if (!json_is_object(v))
            rc = fail(&w, "must be an object, not %s", json_kind(v));
        goto out;
    }
    w.md = pcre2_match_data_create(1, NULL);
    if (!w.md) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    rc = check_value(&w, s, v, 1);
out:
    pcre2_match_data_free(w.md);
    return rc;
}

int validate_model_check(const validate_model *m, const char *op, const json_t *body, err_t *e) {
    const vop *o = find_op(m, op);
    char ex[EXCERPT_CHARS + 4];
    if (!m)
        return err_set(e, ERR_INTERNAL, "no model");
    if (!o)
        return err_set(e, ERR_UNKNOWN_OPERATION, "unknown operation '%s'",
                       op ? validate_excerpt(op, strlen(op), ex) : "");
    return walk(m, o->input, body, NULL, e);
}

int validate_model_check_shape(const validate_model *m, const char *shape, const json_t *value,
                               const char *path, err_t *e) {
    const vshape *s = find_shape(m, shape);
    if (!s)
        return err_set(e, ERR_INTERNAL, "model has no shape %s", shape ? shape : "(null)");
    return walk(m, s, value, path, e);
}

/* ------------------------------------------------------------------ */
/* The built-in models                                                  */
/* ------------------------------------------------------------------ */

static const struct {
    api_flavor flavor;
    const char *name;
    const char *text;
    const size_t *len;
} builtins[] = {
    {API_2017, "hpo-2017-11-08", validate_model_hpo_2017_11_08, &validate_model_hpo_2017_11_08_len},
    {API_CURRENT, "sagemaker-2017-07-24", validate_model_sagemaker_2017_07_24,
     &validate_model_sagemaker_2017_07_24_len},
};

#define NBUILTINS (sizeof builtins / sizeof *builtins)

/* The built-in models, by row of builtins[]: compiled on first use, then
 * read-only until validate_shutdown(). Unguarded: only the daemon's one
 * thread validates (the runner does not). */
static validate_model *builtin_cache[NBUILTINS];

const validate_model *validate_builtin_model(api_flavor flavor, err_t *e) {
    for (size_t i = 0; i < NBUILTINS; i++) {
        if (builtins[i].flavor != flavor)
            continue;
        if (!builtin_cache[i]) {
            err_t le = {0};
            builtin_cache[i] = validate_model_load(builtins[i].text, *builtins[i].len, &le);
            if (!builtin_cache[i]) {
                err_set(e, ERR_INTERNAL, "built-in model %s: %s", builtins[i].name, le.msg);
                return NULL;
            }
        }
        return builtin_cache[i];
    }
    err_set(e, ERR_INTERNAL, "no built-in model for API flavor %d", (int)flavor);
    return NULL;
}

void validate_shutdown(void) {
    for (size_t i = 0; i < NBUILTINS; i++) {
        validate_model_free(builtin_cache[i]);
        builtin_cache[i] = NULL;
    }
}

int validate_request(api_flavor flavor, const char *op, const json_t *body, err_t *e) {
    const validate_model *m = validate_builtin_model(flavor, e);
    if (!m)
        return ERR_INTERNAL;
    return validate_model_check(m, op, body, e);
}
