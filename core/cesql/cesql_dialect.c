/*
 * Subscriptions API filter dialects (the JSON form Knative triggers use),
 * compiled into the same node array as CESQL:
 *
 *   {"exact":  {"type": "com.example"}}      attribute equals the string
 *   {"prefix": {"type": "com.example."}}     attribute starts with it
 *   {"suffix": {"type": ".created"}}         attribute ends with it
 *   {"all": [f, ...]}  {"any": [f, ...]}  {"not": f}
 *   {"cesql": "type LIKE 'com.%'"}
 *
 * exact/prefix/suffix compare the attribute's canonical string form
 * (Integer in base 10, Boolean true/false); an absent attribute does not
 * match and raises no error (a filter, not an expression). Several members
 * in one exact/prefix/suffix object must all match. all([]) is true,
 * any([]) false. Errors name the JSON path inside the filter object.
 */
#include "cesql_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ceb_cesql_expr *x;
    ceb_cesql_error *err;
    char path[96];
} dctx;

static const char *const ALLOWED = "exact, prefix, suffix, all, any, not, cesql";

static int derr(dctx *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int derr(dctx *d, const char *fmt, ...)
{
    if (d->err) {
        memset(d->err, 0, sizeof(*d->err));
        d->err->kind = CEB_CESQL_ERR_PARSE;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err->message, sizeof(d->err->message), fmt, ap);
        va_end(ap);
        snprintf(d->err->path, sizeof(d->err->path), "%s", d->path);
    }
    return -EINVAL;
}

/* Append ".key" or "[i]" to the path; returns the old length to restore. */
static size_t push_key(dctx *d, const char *key)
{
    size_t l = strlen(d->path);
    snprintf(d->path + l, sizeof(d->path) - l, "%s%s", l ? "." : "", key);
    return l;
}

static size_t push_index(dctx *d, int i)
{
    size_t l = strlen(d->path);
    snprintf(d->path + l, sizeof(d->path) - l, "[%d]", i);
    return l;
}

static bool valid_attr_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static int node(dctx *d, ceb_cesql__node *n, int32_t *out)
{
    int32_t idx = ceb_cesql__expr_node(d->x, n);
    if (idx < 0)
        return -ENOMEM;
    *out = idx;
    return 0;
}

static void init(ceb_cesql__node *n, int op, int type)
{
    memset(n, 0, sizeof(*n));
    n->op = (uint8_t)op;
    n->type = (uint8_t)type;
    n->a = n->b = n->first = n->like = -1;
    n->slot = CEB_CESQL_ATTR_EXT;
}

static int nary(dctx *d, int op, const int32_t *items, int32_t count, int depth, int32_t *out)
{
    ceb_cesql__node n;
    if (count == 0) {
        init(&n, CEB__OP_CONST, CEB_CESQL_T_BOOL);
        n.v.type = CEB_CESQL_T_BOOL;
        n.v.b = op == CEB__OP_AND;
        n.depth = 1;
        return node(d, &n, out);
    }
    if (count == 1) {
        *out = items[0];
        return 0;
    }
    init(&n, op, CEB_CESQL_T_BOOL);
    n.first = ceb_cesql__expr_list(d->x, items, count);
    if (n.first < 0)
        return -ENOMEM;
    n.count = count;
    n.depth = (uint16_t)depth;
    return node(d, &n, out);
}

static int compile(dctx *d, const cJSON *f, int depth, int32_t *out);

static int compile_attrs(dctx *d, int op, const char *key, const cJSON *v, int depth, int32_t *out)
{
    if (!cJSON_IsObject(v) || !v->child)
        return derr(d, "'%s' takes an object of attribute names to strings, "
                       "with at least one member", key);
    int32_t items[CEB__MAX_PATH];
    int32_t count = 0;
    for (const cJSON *m = v->child; m; m = m->next) {
        size_t l = push_key(d, m->string);
        if (!valid_attr_name(m->string))
            return derr(d, "'%s' is not a valid attribute name (lower-case a-z, 0-9)", m->string);
        if (!cJSON_IsString(m))
            return derr(d, "expected a string value for attribute '%s'", m->string);
        if (count == CEB__MAX_PATH)
            return derr(d, "too many attributes (limit %d)", CEB__MAX_PATH);
        ceb_cesql__node n;
        init(&n, op, CEB_CESQL_T_BOOL);
        size_t nl = strlen(m->string);
        n.name = ceb_cesql__expr_strdup(d->x, m->string, nl);
        n.name_len = nl;
        n.slot = ceb_cesql__attr_slot(n.name ? n.name : "", nl);
        size_t vl = strlen(m->valuestring);
        n.v.type = CEB_CESQL_T_STRING;
        n.v.s = ceb_cesql__expr_strdup(d->x, m->valuestring, vl);
        n.v.len = vl;
        n.depth = 1;
        if (!n.name || !n.v.s)
            return -ENOMEM;
        int rc = node(d, &n, &items[count++]);
        if (rc < 0)
            return rc;
        d->path[l] = '\0';
    }
    return nary(d, CEB__OP_AND, items, count, depth, out);
}

static int compile_list(dctx *d, int op, const char *key, const cJSON *v, int depth, int32_t *out)
{
    if (!cJSON_IsArray(v))
        return derr(d, "'%s' takes an array of filters", key);
    int count = cJSON_GetArraySize(v);
    int32_t stack[16];
    int32_t *items = stack;
    if (count > 16) {
        items = malloc((size_t)count * sizeof(*items));
        if (!items)
            return -ENOMEM;
    }
    int rc = 0, i = 0;
    for (const cJSON *m = v->child; m; m = m->next, i++) {
        size_t l = push_index(d, i);
        rc = compile(d, m, depth + 1, &items[i]);
        if (rc < 0)
            break;
        d->path[l] = '\0';
    }
    if (rc == 0)
        rc = nary(d, op, items, count, depth, out);
    if (items != stack)
        free(items);
    return rc;
}

static int compile(dctx *d, const cJSON *f, int depth, int32_t *out)
{
    if (depth > CEB_CESQL_MAX_DEPTH)
        return derr(d, "filter nested too deeply (limit %d)", CEB_CESQL_MAX_DEPTH);
    if (!cJSON_IsObject(f) || !f->child || f->child->next)
        return derr(d, "a filter is an object with exactly one dialect key (%s)", ALLOWED);
    const cJSON *m = f->child;
    const char *key = m->string;
    size_t l = push_key(d, key);
    int rc;
    if (strcmp(key, "exact") == 0) {
        rc = compile_attrs(d, CEB__OP_D_EXACT, key, m, depth, out);
    } else if (strcmp(key, "prefix") == 0) {
        rc = compile_attrs(d, CEB__OP_D_PREFIX, key, m, depth, out);
    } else if (strcmp(key, "suffix") == 0) {
        rc = compile_attrs(d, CEB__OP_D_SUFFIX, key, m, depth, out);
    } else if (strcmp(key, "all") == 0) {
        rc = compile_list(d, CEB__OP_AND, key, m, depth, out);
    } else if (strcmp(key, "any") == 0) {
        rc = compile_list(d, CEB__OP_OR, key, m, depth, out);
    } else if (strcmp(key, "not") == 0) {
        int32_t child;
        rc = compile(d, m, depth + 1, &child);
        if (rc == 0) {
            ceb_cesql__node n;
            init(&n, CEB__OP_NOT, CEB_CESQL_T_BOOL);
            n.a = child;
            n.depth = (uint16_t)depth;
            rc = node(d, &n, out);
        }
    } else if (strcmp(key, "cesql") == 0) {
        if (!cJSON_IsString(m))
            return derr(d, "'cesql' takes a string expression");
        ceb_cesql_error pe;
        memset(&pe, 0, sizeof(pe));
        const char *text = m->valuestring;
        rc = ceb_cesql__parse(d->x, text, strlen(text), out, &pe);
        if (rc == -EINVAL) {
            int r = derr(d, "column %zu: %s", pe.column, pe.message);
            if (d->err) {
                d->err->column = pe.column;
                d->err->offset = pe.offset;
                d->err->length = pe.length;
            }
            return r;
        }
    } else {
        return derr(d, "unknown filter dialect '%s' (allowed: %s)", key, ALLOWED);
    }
    if (rc == 0)
        d->path[l] = '\0';
    return rc;
}

int ceb_cesql_compile_dialect(const cJSON *filter, unsigned flags,
                              ceb_cesql_expr **out, ceb_cesql_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
    if (!out || !filter)
        return -EINVAL;
    *out = NULL;
    ceb_cesql_expr *x = ceb_cesql__expr_new(flags);
    if (!x)
        return -ENOMEM;
    dctx d = { .x = x, .err = err };
    int32_t root;
    int rc = compile(&d, filter, 1, &root);
    if (rc < 0) {
        ceb_cesql_free(x);
        return rc;
    }
    x->root = root;
    *out = x;
    return 0;
}
