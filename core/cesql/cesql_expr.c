/*
 * Compiled expression storage: node array, child lists, LIKE patterns, data
 * paths and a block arena for strings. Also the compile entry point.
 */
#include "cesql_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const attr_names[CEB_CESQL_ATTR__COUNT] = {
    "id", "source", "specversion", "type", "datacontenttype", "dataschema",
    "subject", "time"
};

int ceb_cesql__attr_slot(const char *lname, size_t len)
{
    for (int i = 0; i < CEB_CESQL_ATTR__COUNT; i++)
        if (strlen(attr_names[i]) == len && memcmp(attr_names[i], lname, len) == 0)
            return i;
    return CEB_CESQL_ATTR_EXT;
}

const char *ceb_cesql__attr_name(int slot)
{
    return (slot >= 0 && slot < CEB_CESQL_ATTR__COUNT) ? attr_names[slot] : NULL;
}

const char *ceb_cesql_error_kind_name(int kind)
{
    switch (kind) {
    case CEB_CESQL_ERR_PARSE: return "parse";
    case CEB_CESQL_ERR_MATH: return "math";
    case CEB_CESQL_ERR_CAST: return "cast";
    case CEB_CESQL_ERR_MISSING_ATTRIBUTE: return "missingAttribute";
    case CEB_CESQL_ERR_MISSING_FUNCTION: return "missingFunction";
    case CEB_CESQL_ERR_FUNCTION_EVALUATION: return "functionEvaluation";
    case CEB_CESQL_ERR_GENERIC: return "generic";
    default: return "unknown";
    }
}

void ceb_cesql__set_error(ceb_cesql_error *err, int kind, const char *fmt, ...)
{
    if (!err)
        return;
    memset(err, 0, sizeof(*err));
    err->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

ceb_cesql_expr *ceb_cesql__expr_new(unsigned flags)
{
    ceb_cesql_expr *x = calloc(1, sizeof(*x));
    if (x) {
        x->flags = flags;
        x->root = -1;
    }
    return x;
}

void ceb_cesql_free(ceb_cesql_expr *x)
{
    if (!x)
        return;
    ceb_cesql__block *b = x->blocks;
    while (b) {
        ceb_cesql__block *n = b->next;
        free(b);
        b = n;
    }
    free(x->nodes);
    free(x->list);
    free(x->likes);
    free(x->segs);
    free(x->text);
    free(x);
}

void *ceb_cesql__expr_alloc(ceb_cesql_expr *x, size_t n)
{
    n = (n + 7u) & ~(size_t)7u;
    ceb_cesql__block *b = x->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 4000 ? n : 4000;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = x->blocks;
        x->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

const char *ceb_cesql__expr_strdup(ceb_cesql_expr *x, const char *s, size_t n)
{
    char *p = ceb_cesql__expr_alloc(x, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int grow(void **arr, int32_t *cap, int32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int32_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = nc;
    return 0;
}

int32_t ceb_cesql__expr_node(ceb_cesql_expr *x, const ceb_cesql__node *n)
{
    if (grow((void **)&x->nodes, &x->cap_nodes, x->nnodes + 1, sizeof(*n)) < 0)
        return -1;
    x->nodes[x->nnodes] = *n;
    return x->nnodes++;
}

int32_t ceb_cesql__expr_list(ceb_cesql_expr *x, const int32_t *items, int32_t n)
{
    if (grow((void **)&x->list, &x->cap_list, x->nlist + n + 1, sizeof(int32_t)) < 0)
        return -1;
    int32_t first = x->nlist;
    if (n)
        memcpy(x->list + first, items, (size_t)n * sizeof(int32_t));
    x->nlist += n;
    return first;
}

int32_t ceb_cesql__expr_like(ceb_cesql_expr *x, const ceb_cesql__like *l)
{
    if (grow((void **)&x->likes, &x->cap_likes, x->nlikes + 1, sizeof(*l)) < 0)
        return -1;
    x->likes[x->nlikes] = *l;
    return x->nlikes++;
}

int32_t ceb_cesql__expr_segs(ceb_cesql_expr *x, const ceb_cesql__seg *s, int32_t n)
{
    if (grow((void **)&x->segs, &x->cap_segs, x->nsegs + n + 1, sizeof(*s)) < 0)
        return -1;
    int32_t first = x->nsegs;
    if (n)
        memcpy(x->segs + first, s, (size_t)n * sizeof(*s));
    x->nsegs += n;
    return first;
}

int ceb_cesql__fold(ceb_cesql_expr *x, int32_t idx)
{
    ceb_cesql__node *n = &x->nodes[idx];
    if (x->flags & CEB_CESQL_NO_FOLD)
        return 0;
    switch (n->op) {
    case CEB__OP_NOT: case CEB__OP_NEG: case CEB__OP_LIKE:
        if (x->nodes[n->a].op != CEB__OP_CONST)
            return 0;
        break;
    case CEB__OP_MUL: case CEB__OP_DIV: case CEB__OP_MOD: case CEB__OP_ADD:
    case CEB__OP_SUB: case CEB__OP_EQ: case CEB__OP_NE: case CEB__OP_LT:
    case CEB__OP_LE: case CEB__OP_GT: case CEB__OP_GE:
        if (x->nodes[n->a].op != CEB__OP_CONST || x->nodes[n->b].op != CEB__OP_CONST)
            return 0;
        break;
    case CEB__OP_IN:
        if (x->nodes[n->a].op != CEB__OP_CONST)
            return 0;
        /* fall through */
    case CEB__OP_AND: case CEB__OP_OR: case CEB__OP_XOR: case CEB__OP_CALL:
        for (int32_t i = 0; i < n->count; i++)
            if (x->nodes[x->list[n->first + i]].op != CEB__OP_CONST)
                return 0;
        break;
    default:
        return 0;
    }
    ceb_cesql_value v;
    bool ok;
    int rc = ceb_cesql__eval_const(x, idx, &v, &ok);
    if (rc < 0)
        return rc;
    if (!ok)
        return 0; /* keep it: the error is raised at each evaluation */
    n = &x->nodes[idx];
    n->op = CEB__OP_CONST;
    n->type = (uint8_t)v.type;
    n->v = v;
    return 0;
}

int ceb_cesql_compile(const char *text, size_t len, unsigned flags,
                      ceb_cesql_expr **out, ceb_cesql_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
    if (!out || (!text && len))
        return -EINVAL;
    *out = NULL;
    ceb_cesql_expr *x = ceb_cesql__expr_new(flags);
    if (!x)
        return -ENOMEM;
    x->text = malloc(len + 1);
    if (!x->text) {
        ceb_cesql_free(x);
        return -ENOMEM;
    }
    if (len)
        memcpy(x->text, text, len);
    x->text[len] = '\0';
    x->text_len = len;
    int32_t root;
    int rc = ceb_cesql__parse(x, x->text, len, &root, err);
    if (rc < 0) {
        ceb_cesql_free(x);
        return rc;
    }
    x->root = root;
    *out = x;
    return 0;
}

int ceb_cesql_static_type(const ceb_cesql_expr *x)
{
    if (!x || x->root < 0)
        return 0;
    return x->nodes[x->root].type;
}
