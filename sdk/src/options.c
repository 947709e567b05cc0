/*
 * options.c - option tables (options.h): the shared parsers, and the
 * validator the core and the test host run before create() (optval.h).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <cebridge/errors.h>
#include <cebridge/options.h>
#include <cebridge/template.h>
#include "optval.h"

/* ---- shared parsers ------------------------------------------------------ */

static int mul_add(uint64_t *acc, uint64_t v, uint64_t mul)
{
    if (v != 0 && mul > UINT64_MAX / v)
        return CEB_EINVAL;
    if (*acc > UINT64_MAX - v * mul)
        return CEB_EINVAL;
    *acc += v * mul;
    return 0;
}

static int read_uint(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return CEB_EINVAL;
    while (*s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return CEB_EINVAL;
        v = v * 10 + (uint64_t)(*s++ - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

int ceb_parse_duration_ms(const char *text, int64_t *out_ms)
{
    static const struct { const char *u; uint64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    if (text == NULL || *text == '\0')
        return CEB_EINVAL;
    const char *p = text;
    uint64_t total = 0;
    while (*p) {
        uint64_t v;
        if (read_uint(&p, &v) < 0)
            return CEB_EINVAL;
        size_t ulen = 0;
        while (p[ulen] >= 'a' && p[ulen] <= 'z')
            ulen++;
        size_t k;
        for (k = 0; k < sizeof units / sizeof units[0]; k++)
            if (strlen(units[k].u) == ulen && memcmp(units[k].u, p, ulen) == 0)
                break;
        if (ulen == 0 || k == sizeof units / sizeof units[0])
            return CEB_EINVAL;
        if (mul_add(&total, v, units[k].ms) < 0)
            return CEB_EINVAL;
        p += ulen;
    }
    if (total > (uint64_t)INT64_MAX)
        return CEB_EINVAL;
    *out_ms = (int64_t)total;
    return 0;
}

int ceb_parse_size(const char *text, uint64_t *out_bytes)
{
    static const struct { const char *u; uint64_t mul; } units[] = {
        { "", 1 }, { "b", 1 },
        { "kb", 1000ull }, { "mb", 1000000ull }, { "gb", 1000000000ull }, { "tb", 1000000000000ull },
        { "kib", 1ull << 10 }, { "mib", 1ull << 20 }, { "gib", 1ull << 30 }, { "tib", 1ull << 40 },
    };
    if (text == NULL)
        return CEB_EINVAL;
    const char *p = text;
    uint64_t v, total = 0;
    if (read_uint(&p, &v) < 0)
        return CEB_EINVAL;
    size_t ulen = strlen(p);
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        if (strlen(units[k].u) == ulen && strncasecmp(units[k].u, p, ulen) == 0) {
            if (mul_add(&total, v, units[k].mul) < 0)
                return CEB_EINVAL;
            *out_bytes = total;
            return 0;
        }
    }
    return CEB_EINVAL;
}

const char *ceb_opt_type_name(ceb_opt_type t)
{
    switch (t) {
    case CEB_OPT_STRING:   return "string";
    case CEB_OPT_INT:      return "int";
    case CEB_OPT_BOOL:     return "bool";
    case CEB_OPT_DURATION: return "duration";
    case CEB_OPT_SIZE:     return "size";
    case CEB_OPT_ENUM:     return "enum";
    case CEB_OPT_LIST:     return "list";
    case CEB_OPT_OBJECT:   return "object";
    case CEB_OPT_TEMPLATE: return "template";
    case CEB_OPT_SECRET:   return "secret";
    }
    return "unknown";
}

/* ---- owned values ---------------------------------------------------------- */

typedef void (*free_fn)(void *);

struct ceb__optvals {
    struct { void *p; free_fn fn; } *v;
    size_t n, cap;
};

static void json_delete(void *p) { cJSON_Delete(p); }
static void template_free(void *p) { ceb_template_free(p); }
static void secret_free(void *p) { ceb__secret_free(p); }

/* Register `p` for release; on failure `p` is released now. */
static int own(ceb__optvals *o, void *p, free_fn fn)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        void *nv = realloc(o->v, cap * sizeof o->v[0]);
        if (nv == NULL) {
            fn(p);
            return CEB_ENOMEM;
        }
        o->v = nv;
        o->cap = cap;
    }
    o->v[o->n].p = p;
    o->v[o->n].fn = fn;
    o->n++;
    return 0;
}

void ceb__optvals_free(ceb__optvals *o)
{
    if (o == NULL)
        return;
    for (size_t i = o->n; i-- > 0;)
        o->v[i].fn(o->v[i].p);
    free(o->v);
    free(o);
}

/* ---- validation context ------------------------------------------------------ */

typedef struct actx {
    ceb__optvals *own;
    ceb__opt_report_fn report;
    void *arg;
    int errors;
} actx;

static void emit(actx *c, int code, const char *field, const char *fmt, ...) CEB_ATTR_PRINTF(4, 5);
static void emit(actx *c, int code, const char *field, const char *fmt, ...)
{
    ceb_diag d = {0};
    va_list ap;
    va_start(ap, fmt);
    /* ceb_diag_setv ignores code 0 as "no error" for first-wins; set by hand. */
    ceb_diag_setv(&d, code ? code : CEB_ECONFIG, field, fmt, ap);
    va_end(ap);
    d.code = code;
    if (code != 0)
        c->errors++;
    if (c->report != NULL)
        c->report(c->arg, &d);
}

/* Compact JSON of `v`, cut to 40 characters, for "got ..." */
static void snippet(const cJSON *v, char *out, size_t outsz)
{
    char *s = cJSON_PrintUnformatted(v);
    if (s == NULL) {
        snprintf(out, outsz, "?");
        return;
    }
    if (strlen(s) > 40)
        snprintf(out, outsz, "%.37s...", s);
    else
        snprintf(out, outsz, "%s", s);
    cJSON_free(s);
}

static void fmt_duration(int64_t ms, char *out, size_t n)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(out, n, "%" PRId64 "h", ms / 3600000);
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(out, n, "%" PRId64 "m", ms / 60000);
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(out, n, "%" PRId64 "s", ms / 1000);
    else
        snprintf(out, n, "%" PRId64 "ms", ms);
}

static void fmt_size(uint64_t b, char *out, size_t n)
{
    if (b != 0 && b % (1ull << 30) == 0)
        snprintf(out, n, "%" PRIu64 "GiB", b >> 30);
    else if (b != 0 && b % (1ull << 20) == 0)
        snprintf(out, n, "%" PRIu64 "MiB", b >> 20);
    else if (b != 0 && b % (1ull << 10) == 0)
        snprintf(out, n, "%" PRIu64 "KiB", b >> 10);
    else
        snprintf(out, n, "%" PRIu64 "B", b);
}

static bool bounded(const ceb_option *o) { return o->min != 0 || o->max != 0; }

/*
 * Parse one value for option `o` into `dst` (the config field). Returns 0,
 * CEB_ECONFIG (reported) or CEB_ENOMEM.
 */
static int parse_value(actx *c, const ceb_option *o, const cJSON *v, void *dst, const char *field)
{
    char got[64], a[32], b[32], g[32];
    switch (o->type) {
    case CEB_OPT_STRING: {
        if (!cJSON_IsString(v)) {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected a string, got %s", got);
            return CEB_ECONFIG;
        }
        char *s = strdup(v->valuestring);
        if (s == NULL || own(c->own, s, free) < 0)
            return CEB_ENOMEM;
        const char *cs = s;
        memcpy(dst, &cs, sizeof cs);
        return 0;
    }
    case CEB_OPT_INT: {
        double x = cJSON_IsNumber(v) ? v->valuedouble : 0.5;
        if (!cJSON_IsNumber(v) || !(x >= -9223372036854775808.0 && x < 9223372036854775808.0) ||
            (double)(int64_t)x != x) {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected an integer, got %s", got);
            return CEB_ECONFIG;
        }
        int64_t i = (int64_t)x;
        if (bounded(o) && (i < o->min || i > o->max)) {
            emit(c, CEB_ECONFIG, field, "must be between %" PRId64 " and %" PRId64 ", got %" PRId64,
                 o->min, o->max, i);
            return CEB_ECONFIG;
        }
        memcpy(dst, &i, sizeof i);
        return 0;
    }
    case CEB_OPT_BOOL: {
        if (!cJSON_IsBool(v)) {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected true or false, got %s", got);
            return CEB_ECONFIG;
        }
        bool bv = cJSON_IsTrue(v);
        memcpy(dst, &bv, sizeof bv);
        return 0;
    }
    case CEB_OPT_DURATION: {
        int64_t ms = -1;
        if (cJSON_IsString(v)) {
            if (ceb_parse_duration_ms(v->valuestring, &ms) < 0)
                ms = -1;
        } else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9.2e18 &&
                   (double)(int64_t)v->valuedouble == v->valuedouble) {
            ms = (int64_t)v->valuedouble;
        }
        if (ms < 0) {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected a duration like \"5ms\" or \"2s\", got %s", got);
            return CEB_ECONFIG;
        }
        if (bounded(o) && (ms < o->min || ms > o->max)) {
            fmt_duration(o->min, a, sizeof a);
            fmt_duration(o->max, b, sizeof b);
            fmt_duration(ms, g, sizeof g);
            emit(c, CEB_ECONFIG, field, "must be between %s and %s, got %s", a, b, g);
            return CEB_ECONFIG;
        }
        memcpy(dst, &ms, sizeof ms);
        return 0;
    }
    case CEB_OPT_SIZE: {
        uint64_t sz = 0;
        bool ok = false;
        if (cJSON_IsString(v))
            ok = ceb_parse_size(v->valuestring, &sz) == 0;
        else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1.8e19 &&
                 (double)(uint64_t)v->valuedouble == v->valuedouble) {
            sz = (uint64_t)v->valuedouble;
            ok = true;
        }
        if (!ok) {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected a size like \"64KiB\" or \"1MB\", got %s", got);
            return CEB_ECONFIG;
        }
        if (bounded(o) && (o->min < 0 || sz < (uint64_t)o->min || o->max < 0 || sz > (uint64_t)o->max)) {
            fmt_size(o->min < 0 ? 0 : (uint64_t)o->min, a, sizeof a);
            fmt_size(o->max < 0 ? 0 : (uint64_t)o->max, b, sizeof b);
            fmt_size(sz, g, sizeof g);
            emit(c, CEB_ECONFIG, field, "must be between %s and %s, got %s", a, b, g);
            return CEB_ECONFIG;
        }
        memcpy(dst, &sz, sizeof sz);
        return 0;
    }
    case CEB_OPT_ENUM: {
        int idx = -1;
        for (int k = 0; cJSON_IsString(v) && o->choices != NULL && o->choices[k] != NULL; k++)
            if (strcmp(o->choices[k], v->valuestring) == 0) {
                idx = k;
                break;
            }
        if (idx < 0) {
            char list[256] = "";
            size_t used = 0;
            for (int k = 0; o->choices != NULL && o->choices[k] != NULL; k++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", o->choices[k]);
                if (w < 0 || (size_t)w >= sizeof list - used)
                    break;
                used += (size_t)w;
            }
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected one of: %s (got %s)", list, got);
            return CEB_ECONFIG;
        }
        memcpy(dst, &idx, sizeof idx);
        return 0;
    }
    case CEB_OPT_LIST: {
        size_t n = 0, bytes = 0;
        bool bad = false;
        if (cJSON_IsString(v)) {
            n = 1;
            bytes = strlen(v->valuestring) + 1;
        } else if (cJSON_IsArray(v)) {
            size_t k = 0;
            for (const cJSON *e = v->child; e != NULL; e = e->next, k++) {
                if (!cJSON_IsString(e)) {
                    char ef[160];
                    snprintf(ef, sizeof ef, "%s[%zu]", field, k);
                    snippet(e, got, sizeof got);
                    emit(c, CEB_ECONFIG, ef, "expected a string, got %s", got);
                    bad = true;
                    continue;
                }
                n++;
                bytes += strlen(e->valuestring) + 1;
            }
            if (bad)
                return CEB_ECONFIG;
        } else {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected a list of strings, got %s", got);
            return CEB_ECONFIG;
        }
        /* One block: the pointer array, then the strings. */
        char *block = malloc(n * sizeof(char *) + bytes + 1);
        if (block == NULL || own(c->own, block, free) < 0)
            return CEB_ENOMEM;
        const char **ptrs = (const char **)(void *)block;
        char *text = block + n * sizeof(char *);
        size_t k = 0;
        if (cJSON_IsString(v)) {
            strcpy(text, v->valuestring);
            ptrs[k++] = text;
        } else {
            for (const cJSON *e = v->child; e != NULL; e = e->next) {
                size_t l = strlen(e->valuestring) + 1;
                memcpy(text, e->valuestring, l);
                ptrs[k++] = text;
                text += l;
            }
        }
        ceb_strlist sl = { .v = n ? ptrs : NULL, .n = n };
        memcpy(dst, &sl, sizeof sl);
        return 0;
    }
    case CEB_OPT_OBJECT: {
        if (!cJSON_IsObject(v)) {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected an object, got %s", got);
            return CEB_ECONFIG;
        }
        cJSON *dup = cJSON_Duplicate(v, true);
        if (dup == NULL || own(c->own, dup, json_delete) < 0)
            return CEB_ENOMEM;
        const ceb_json *j = ceb__json_wrap(dup);
        memcpy(dst, &j, sizeof j);
        return 0;
    }
    case CEB_OPT_TEMPLATE: {
        if (!cJSON_IsString(v)) {
            snippet(v, got, sizeof got);
            emit(c, CEB_ECONFIG, field, "expected a template string, got %s", got);
            return CEB_ECONFIG;
        }
        ceb_template *t = NULL;
        ceb_diag td = {0};
        int rc = ceb_template_compile(v->valuestring, &t, &td);
        if (rc == CEB_ENOMEM)
            return rc;
        if (rc < 0) {
            emit(c, CEB_ECONFIG, field, "invalid template: %s", td.message[0] ? td.message : ceb_strerror(rc));
            return CEB_ECONFIG;
        }
        if (own(c->own, t, template_free) < 0)
            return CEB_ENOMEM;
        const ceb_template *ct = t;
        memcpy(dst, &ct, sizeof ct);
        return 0;
    }
    case CEB_OPT_SECRET: {
        if (!cJSON_IsString(v)) {
            emit(c, CEB_ECONFIG, field, "expected a string (literal, ${env:NAME} or ${file:PATH})");
            return CEB_ECONFIG;
        }
        ceb_secret *s = NULL;
        ceb_diag sd = {0};
        int rc = ceb__secret_resolve(v->valuestring, &s, &sd);
        if (rc == CEB_ENOMEM)
            return rc;
        if (rc < 0) {
            emit(c, CEB_ECONFIG, field, "%s", sd.message);
            return CEB_ECONFIG;
        }
        if (own(c->own, s, secret_free) < 0)
            return CEB_ENOMEM;
        const ceb_secret *cs = s;
        memcpy(dst, &cs, sizeof cs);
        return 0;
    }
    }
    emit(c, CEB_ECONFIG, field, "option has an unknown type %d", (int)o->type);
    return CEB_ECONFIG;
}

/* ---- lookup ------------------------------------------------------------------ */

/*
 * Find the value at dotted `name` in `obj`. Returns the node or NULL; sets
 * *blocked when a parent exists but is not an object (reported elsewhere).
 */
static const cJSON *lookup(const cJSON *obj, const char *name, bool *blocked)
{
    char seg[128];
    const cJSON *cur = obj;
    const char *p = name;
    *blocked = false;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len >= sizeof seg)
            return NULL;
        memcpy(seg, p, len);
        seg[len] = '\0';
        if (cur == NULL || cJSON_IsNull(cur))
            return NULL;            /* a null parent means "not given" */
        if (!cJSON_IsObject(cur)) {
            *blocked = true;
            return NULL;
        }
        cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
        if (cur == NULL)
            return NULL;
        if (dot == NULL)
            return cur;
        p = dot + 1;
    }
}

static const ceb_option *find_opt(const ceb_option *t, const char *name)
{
    for (; t != NULL && t->name != NULL; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

/* True when some option's name starts with `prefix` followed by a dot. */
static bool is_parent(const ceb_option *t, const char *prefix)
{
    size_t n = strlen(prefix);
    for (; t != NULL && t->name != NULL; t++)
        if (strncmp(t->name, prefix, n) == 0 && t->name[n] == '.')
            return true;
    return false;
}

/* Optimal string alignment distance (Levenshtein plus transpositions). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

typedef struct uctx {
    actx *c;
    const ceb_option *table;
    const char *plugin, *role;
    const ceb_option *other;
    const char *other_role;
} uctx;

static void unknown_key(uctx *u, const char *path)
{
    if (u->other != NULL && find_opt(u->other, path) != NULL) {
        emit(u->c, CEB_ECONFIG, path, "option belongs to %s %ss, this is a %s",
             u->plugin ? u->plugin : "this plugin's", u->other_role ? u->other_role : "other role",
             u->role ? u->role : "different role");
        return;
    }
    if (u->table == NULL || u->table->name == NULL) {
        emit(u->c, CEB_ECONFIG, path, "unknown option; this plugin takes no options");
        return;
    }
    if (strchr(path, '.') != NULL && find_opt(u->table, path) != NULL) {
        /* "wrap.type": "x" written flat; the table means {"wrap": {"type": ...}} */
        char first[128];
        const char *dot = strchr(path, '.');
        snprintf(first, sizeof first, "%.*s", (int)(dot - path), path);
        emit(u->c, CEB_ECONFIG, path, "unknown option; nest it: {\"%s\": {\"%s\": ...}}", first, dot + 1);
        return;
    }
    const char *best = NULL;
    size_t bestd = 3;
    char allowed[300] = "";
    size_t used = 0;
    bool cut = false;
    for (const ceb_option *o = u->table; o->name != NULL; o++) {
        size_t dist = edit_distance(path, o->name);
        if (dist < bestd && dist < strlen(o->name)) {
            bestd = dist;
            best = o->name;
        }
        if (!cut) {
            int w = snprintf(allowed + used, sizeof allowed - used, "%s%s", used ? ", " : "", o->name);
            if (w < 0 || (size_t)w >= sizeof allowed - used - 6) {
                allowed[used] = '\0';
                snprintf(allowed + used, sizeof allowed - used, ", ...");
                cut = true;
            } else {
                used += (size_t)w;
            }
        }
    }
    if (best != NULL)
        emit(u->c, CEB_ECONFIG, path, "unknown option; did you mean '%s'? (allowed: %s)", best, allowed);
    else
        emit(u->c, CEB_ECONFIG, path, "unknown option (allowed: %s)", allowed);
}

static void walk_unknown(uctx *u, const cJSON *obj, const char *prefix, const char *const *skip)
{
    char path[256];
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        if (prefix[0] == '\0' && skip != NULL) {
            bool skipped = false;
            for (size_t k = 0; skip[k] != NULL; k++)
                if (strcmp(skip[k], m->string) == 0)
                    skipped = true;
            if (skipped)
                continue;
        }
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", m->string);
        if (find_opt(u->table, path) != NULL && strchr(m->string, '.') == NULL)
            continue;
        if (strchr(m->string, '.') == NULL && is_parent(u->table, path)) {
            if (cJSON_IsObject(m)) {
                walk_unknown(u, m, path, NULL);
            } else if (!cJSON_IsNull(m)) {
                char got[64];
                snippet(m, got, sizeof got);
                emit(u->c, CEB_ECONFIG, path, "expected an object, got %s", got);
            }
            continue;
        }
        unknown_key(u, path);
    }
}

/* ---- apply --------------------------------------------------------------------- */

int ceb__options_apply(const ceb_option *table, size_t config_size, const cJSON *obj,
                       const char *plugin_name, const char *role,
                       const char *const *skip_keys,
                       const ceb_option *other_table, const char *other_role,
                       void *config, ceb__optvals **owned,
                       ceb__opt_report_fn report, void *arg)
{
    actx c = { .report = report, .arg = arg };
    int rc = 0;
    *owned = NULL;
    if (config_size > 0)
        memset(config, 0, config_size);
    c.own = calloc(1, sizeof *c.own);
    if (c.own == NULL)
        return CEB_ENOMEM;
    if (obj != NULL && !cJSON_IsObject(obj)) {
        char got[64];
        snippet(obj, got, sizeof got);
        emit(&c, CEB_ECONFIG, "", "expected an object, got %s", got);
        goto done;
    }

    for (const ceb_option *o = table; o != NULL && o->name != NULL; o++) {
        bool blocked = false;
        const cJSON *v = obj ? lookup(obj, o->name, &blocked) : NULL;
        void *dst = (char *)config + o->offset;
        if (blocked)
            continue;               /* the parent is not an object: reported by the walk */
        if (v != NULL && cJSON_IsNull(v))
            v = NULL;               /* null means "not given": the default applies */
        if (v != NULL) {
            if (o->flags & CEB_OPT_DEPRECATED) {
                if (o->replacement != NULL)
                    emit(&c, 0, o->name, "deprecated, use %s", o->replacement);
                else
                    emit(&c, 0, o->name, "deprecated");
            }
            rc = parse_value(&c, o, v, dst, o->name);
        } else if (o->default_json != NULL) {
            cJSON *dv = cJSON_Parse(o->default_json);
            if (dv == NULL) {
                emit(&c, CEB_ECONFIG, o->name, "the plugin's default is not JSON: %s", o->default_json);
                continue;
            }
            rc = parse_value(&c, o, dv, dst, o->name);
            cJSON_Delete(dv);
        } else if (o->flags & CEB_OPT_REQUIRED) {
            emit(&c, CEB_ECONFIG, o->name, "required option missing");
            continue;
        } else {
            continue;
        }
        if (rc == CEB_ENOMEM)
            goto done;
        rc = 0;
    }
    if (obj != NULL) {
        uctx u = { .c = &c, .table = table, .plugin = plugin_name, .role = role,
                   .other = other_table, .other_role = other_role };
        walk_unknown(&u, obj, "", skip_keys);
    }
done:
    if (rc == CEB_ENOMEM || c.errors > 0) {
        ceb__optvals_free(c.own);
        if (config_size > 0)
            memset(config, 0, config_size);
        return rc == CEB_ENOMEM ? CEB_ENOMEM : CEB_ECONFIG;
    }
    *owned = c.own;
    return 0;
}

/* ---- table self-check -------------------------------------------------------------- */

static bool name_ok(const char *n)
{
    /* segments of [a-z][a-z0-9_]*, joined by single dots */
    bool start = true;
    if (n == NULL || *n == '\0')
        return false;
    for (const char *p = n; *p; p++) {
        if (start) {
            if (!(*p >= 'a' && *p <= 'z'))
                return false;
            start = false;
        } else if (*p == '.') {
            start = true;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            return false;
        }
    }
    return !start;
}

typedef struct first_err {
    ceb_diag *d;
} first_err;

static void keep_first(void *arg, const ceb_diag *e)
{
    first_err *f = arg;
    if (e->code != 0)
        ceb_diag_set_field(f->d, CEB_EPLUGIN, e->field, "default does not parse: %s", e->message);
}

int ceb__options_check_table(const ceb_option *table, ceb_diag *d)
{
    for (const ceb_option *o = table; o != NULL && o->name != NULL; o++) {
        if (!name_ok(o->name))
            return ceb_diag_set_field(d, CEB_EPLUGIN, o->name,
                                      "option name is not lower_snake_case (dots for nesting)");
        for (const ceb_option *p = table; p != o; p++) {
            size_t n = strlen(p->name), m = strlen(o->name);
            if (strcmp(p->name, o->name) == 0)
                return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "option declared twice");
            if ((n < m && strncmp(p->name, o->name, n) == 0 && o->name[n] == '.') ||
                (m < n && strncmp(p->name, o->name, m) == 0 && p->name[m] == '.'))
                return ceb_diag_set_field(d, CEB_EPLUGIN, o->name,
                                          "option name clashes with '%s' (one cannot be both a value "
                                          "and an object)", p->name);
        }
        if (o->type < CEB_OPT_STRING || o->type > CEB_OPT_SECRET)
            return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "unknown option type %d", (int)o->type);
        if (o->type == CEB_OPT_ENUM && (o->choices == NULL || o->choices[0] == NULL))
            return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "enum option has no choices");
        if ((o->flags & CEB_OPT_REQUIRED) && o->default_json != NULL)
            return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "a required option cannot have a default");
        if (bounded(o) && o->min > o->max)
            return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "min %" PRId64 " is greater than max %" PRId64,
                                      o->min, o->max);
        if (o->help == NULL || o->help[0] == '\0')
            return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "option has no help text");
        if (o->default_json == NULL)
            continue;
        cJSON *dv = cJSON_Parse(o->default_json);
        if (dv == NULL)
            return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "default is not JSON: %s", o->default_json);
        if (o->type == CEB_OPT_SECRET) {
            /* Not resolved here: an ${env:...} default may be set only at run time. */
            bool ok = cJSON_IsString(dv);
            cJSON_Delete(dv);
            if (!ok)
                return ceb_diag_set_field(d, CEB_EPLUGIN, o->name, "default does not parse: expected a string");
            continue;
        }
        union { int64_t i; uint64_t u; bool b; int e; const void *p; ceb_strlist l; } scratch;
        first_err fe = { .d = d };
        actx c = { .report = keep_first, .arg = &fe };
        c.own = calloc(1, sizeof *c.own);
        if (c.own == NULL) {
            cJSON_Delete(dv);
            return CEB_ENOMEM;
        }
        int rc = parse_value(&c, o, dv, &scratch, o->name);
        cJSON_Delete(dv);
        ceb__optvals_free(c.own);
        if (rc == CEB_ENOMEM)
            return rc;
        if (rc < 0)
            return CEB_EPLUGIN;
    }
    return 0;
}

/* ---- describe ------------------------------------------------------------------------ */

static int md_cell(ceb_buf *out, const char *s)
{
    int rc = 0;
    for (; rc == 0 && *s; s++) {
        if (*s == '|')
            rc = ceb_buf_append_str(out, "\\|");
        else if (*s == '\n')
            rc = ceb_buf_append(out, " ", 1);
        else
            rc = ceb_buf_append(out, s, 1);
    }
    return rc;
}

static void type_text(const ceb_option *o, char *out, size_t n)
{
    if (o->type == CEB_OPT_ENUM && o->choices != NULL) {
        size_t used = (size_t)snprintf(out, n, "enum(");
        for (int k = 0; o->choices[k] != NULL && used < n; k++)
            used += (size_t)snprintf(out + used, n - used, "%s%s", k ? "|" : "", o->choices[k]);
        if (used < n)
            snprintf(out + used, n - used, ")");
    } else {
        snprintf(out, n, "%s", ceb_opt_type_name(o->type));
    }
}

int ceb__options_describe(const ceb_option *table, bool markdown, ceb_buf *out)
{
    int rc = 0;
    size_t wname = 4, wtype = 4, wdef = 7;
    char type[256];
    for (const ceb_option *o = table; o != NULL && o->name != NULL; o++) {
        type_text(o, type, sizeof type);
        const char *def = o->type == CEB_OPT_SECRET && o->default_json ? "<secret>"
                          : o->default_json ? o->default_json
                          : (o->flags & CEB_OPT_REQUIRED) ? "(required)" : "-";
        if (strlen(o->name) > wname) wname = strlen(o->name);
        if (strlen(type) > wtype) wtype = strlen(type);
        if (strlen(def) > wdef) wdef = strlen(def);
    }
    if (markdown)
        rc = ceb_buf_append_str(out, "| Option | Type | Default | Required | Description |\n"
                                     "|---|---|---|---|---|\n");
    else
        rc = ceb_buf_printf(out, "  %-*s  %-*s  %-*s  %s\n", (int)wname, "name", (int)wtype, "type",
                            (int)wdef, "default", "description");
    for (const ceb_option *o = table; rc == 0 && o != NULL && o->name != NULL; o++) {
        type_text(o, type, sizeof type);
        bool req = (o->flags & CEB_OPT_REQUIRED) != 0;
        const char *def = o->type == CEB_OPT_SECRET && o->default_json ? "<secret>"
                          : o->default_json ? o->default_json : NULL;
        char help[600];
        if (o->flags & CEB_OPT_DEPRECATED)
            snprintf(help, sizeof help, "Deprecated%s%s. %s", o->replacement ? ", use " : "",
                     o->replacement ? o->replacement : "", o->help ? o->help : "");
        else
            snprintf(help, sizeof help, "%s", o->help ? o->help : "");
        if (markdown) {
            if ((rc = ceb_buf_append_str(out, "| `")) < 0 || (rc = md_cell(out, o->name)) < 0 ||
                (rc = ceb_buf_append_str(out, "` | ")) < 0 || (rc = md_cell(out, type)) < 0 ||
                (rc = ceb_buf_append_str(out, " | ")) < 0)
                break;
            if (def != NULL) {
                if ((rc = ceb_buf_append_str(out, "`")) < 0 || (rc = md_cell(out, def)) < 0 ||
                    (rc = ceb_buf_append_str(out, "`")) < 0)
                    break;
            }
            if ((rc = ceb_buf_append_str(out, req ? " | yes | " : " | no | ")) < 0 ||
                (rc = md_cell(out, help)) < 0 || (rc = ceb_buf_append_str(out, " |\n")) < 0)
                break;
        } else {
            rc = ceb_buf_printf(out, "  %-*s  %-*s  %-*s  %s\n", (int)wname, o->name, (int)wtype, type,
                                (int)wdef, def ? def : req ? "(required)" : "-", help);
        }
    }
    return rc;
}
