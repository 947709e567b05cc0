/*
 * ceb_cesql_explain: the compiled tree as text. Line 1 is the expression
 * fully parenthesized, so the precedence the parser applied is explicit;
 * then one line per node, indented by depth, with the compile-time
 * decisions (attribute slots, LIKE pattern class, folded constants).
 */
#include "cesql_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t cap;
    size_t len; /* needed length */
} out_t;

__attribute__((format(printf, 2, 3)))
static void put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void put_quoted(out_t *o, const char *s, size_t n)
{
    put(o, "'");
    size_t a = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'') {
            put(o, "%.*s\\'", (int)(i - a), s + a);
            a = i + 1;
        }
    }
    put(o, "%.*s'", (int)(n - a), s + a);
}

static void put_path(out_t *o, const ceb_cesql_expr *x, const ceb_cesql__node *n)
{
    put(o, "data");
    for (int32_t i = 0; i < n->count; i++) {
        const ceb_cesql__seg *g = &x->segs[n->first + i];
        if (g->is_index) {
            put(o, "[%d]", g->index);
            continue;
        }
        bool plain = g->key_len > 0;
        for (size_t k = 0; k < g->key_len; k++) {
            char c = g->key[k];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_'))
                plain = false;
        }
        if (plain) {
            put(o, ".%s", g->key);
        } else {
            put(o, "[");
            put_quoted(o, g->key, g->key_len);
            put(o, "]");
        }
    }
}

static const char *op_text(int op)
{
    switch (op) {
    case CEB__OP_MUL: return "*";
    case CEB__OP_DIV: return "/";
    case CEB__OP_MOD: return "%";
    case CEB__OP_ADD: return "+";
    case CEB__OP_SUB: return "-";
    case CEB__OP_EQ: return "=";
    case CEB__OP_NE: return "!=";
    case CEB__OP_LT: return "<";
    case CEB__OP_LE: return "<=";
    case CEB__OP_GT: return ">";
    case CEB__OP_GE: return ">=";
    case CEB__OP_AND: return "AND";
    case CEB__OP_OR: return "OR";
    case CEB__OP_XOR: return "XOR";
    case CEB__OP_D_EXACT: return "exact";
    case CEB__OP_D_PREFIX: return "prefix";
    case CEB__OP_D_SUFFIX: return "suffix";
    default: return "?";
    }
}

static const char *fn_name(const ceb_cesql__node *n)
{
    if (n->op == CEB__OP_NOFN)
        return n->name;
    const ceb_cesql__fn_info *fi = ceb_cesql__fn_by_id(n->fn);
    return fi ? fi->name : "?";
}

static void put_value(out_t *o, const ceb_cesql_value *v)
{
    if (v->type == CEB_CESQL_T_BOOL)
        put(o, "%s", v->b ? "TRUE" : "FALSE");
    else if (v->type == CEB_CESQL_T_INT)
        put(o, "%d", v->i);
    else
        put_quoted(o, v->s, v->len);
}

static void inline_expr(out_t *o, const ceb_cesql_expr *x, int32_t idx)
{
    const ceb_cesql__node *n = &x->nodes[idx];
    switch (n->op) {
    case CEB__OP_CONST:
        put_value(o, &n->v);
        break;
    case CEB__OP_ATTR:
        put(o, "%s", n->name);
        break;
    case CEB__OP_DATA:
        put_path(o, x, n);
        break;
    case CEB__OP_EXISTS:
        put(o, "(EXISTS %s)", n->name);
        break;
    case CEB__OP_EXISTS_DATA:
        put(o, "(EXISTS ");
        put_path(o, x, n);
        put(o, ")");
        break;
    case CEB__OP_NOT:
    case CEB__OP_NEG:
        put(o, n->op == CEB__OP_NOT ? "(NOT " : "(-");
        inline_expr(o, x, n->a);
        put(o, ")");
        break;
    case CEB__OP_LIKE: {
        const ceb_cesql__like *l = &x->likes[n->like];
        put(o, "(");
        inline_expr(o, x, n->a);
        put(o, n->neg ? " NOT LIKE " : " LIKE ");
        put_quoted(o, l->src, l->src_len);
        put(o, ")");
        break;
    }
    case CEB__OP_IN:
        put(o, "(");
        inline_expr(o, x, n->a);
        put(o, n->neg ? " NOT IN (" : " IN (");
        for (int32_t i = 0; i < n->count; i++) {
            if (i)
                put(o, ", ");
            inline_expr(o, x, x->list[n->first + i]);
        }
        put(o, "))");
        break;
    case CEB__OP_AND:
    case CEB__OP_OR:
    case CEB__OP_XOR:
        put(o, "(");
        for (int32_t i = 0; i < n->count; i++) {
            if (i)
                put(o, " %s ", op_text(n->op));
            inline_expr(o, x, x->list[n->first + i]);
        }
        put(o, ")");
        break;
    case CEB__OP_CALL:
    case CEB__OP_NOFN:
        put(o, "%s(", fn_name(n));
        for (int32_t i = 0; i < n->count; i++) {
            if (i)
                put(o, ", ");
            inline_expr(o, x, x->list[n->first + i]);
        }
        put(o, ")");
        break;
    case CEB__OP_D_EXACT:
    case CEB__OP_D_PREFIX:
    case CEB__OP_D_SUFFIX:
        put(o, "%s(%s, ", op_text(n->op), n->name);
        put_quoted(o, n->v.s, n->v.len);
        put(o, ")");
        break;
    default:
        put(o, "(");
        inline_expr(o, x, n->a);
        put(o, " %s ", op_text(n->op));
        inline_expr(o, x, n->b);
        put(o, ")");
        break;
    }
}

static const char *like_class(int k)
{
    switch (k) {
    case CEB__LIKE_EXACT: return "exact match";
    case CEB__LIKE_PREFIX: return "prefix";
    case CEB__LIKE_SUFFIX: return "suffix";
    case CEB__LIKE_CONTAINS: return "contains";
    case CEB__LIKE_ANY: return "matches everything";
    default: return "general matcher";
    }
}

static void put_attr(out_t *o, const ceb_cesql__node *n)
{
    if (n->slot >= 0)
        put(o, "%s (context attribute)", n->name);
    else
        put(o, "%s (extension)", n->name);
}

static void tree(out_t *o, const ceb_cesql_expr *x, int32_t idx, int level)
{
    const ceb_cesql__node *n = &x->nodes[idx];
    put(o, "%*s", level * 2, "");
    switch (n->op) {
    case CEB__OP_CONST:
        put(o, "%s ", n->v.type == CEB_CESQL_T_BOOL ? "Boolean" :
                      n->v.type == CEB_CESQL_T_INT ? "Integer" : "String");
        put_value(o, &n->v);
        put(o, "\n");
        return;
    case CEB__OP_ATTR:
        put(o, "attribute ");
        put_attr(o, n);
        put(o, "\n");
        return;
    case CEB__OP_DATA:
    case CEB__OP_EXISTS_DATA:
        put(o, n->op == CEB__OP_DATA ? "data " : "EXISTS data ");
        put_path(o, x, n);
        put(o, " (extension)\n");
        return;
    case CEB__OP_EXISTS:
        put(o, "EXISTS ");
        put_attr(o, n);
        put(o, "\n");
        return;
    case CEB__OP_NOT:
        put(o, "NOT\n");
        tree(o, x, n->a, level + 1);
        return;
    case CEB__OP_NEG:
        put(o, "- (negate)\n");
        tree(o, x, n->a, level + 1);
        return;
    case CEB__OP_LIKE: {
        const ceb_cesql__like *l = &x->likes[n->like];
        put(o, "%s ", n->neg ? "NOT LIKE" : "LIKE");
        put_quoted(o, l->src, l->src_len);
        put(o, " (%s)\n", like_class(l->kind));
        tree(o, x, n->a, level + 1);
        return;
    }
    case CEB__OP_IN:
        put(o, "%s (%d values)\n", n->neg ? "NOT IN" : "IN", n->count);
        tree(o, x, n->a, level + 1);
        for (int32_t i = 0; i < n->count; i++)
            tree(o, x, x->list[n->first + i], level + 2);
        return;
    case CEB__OP_AND:
    case CEB__OP_OR:
    case CEB__OP_XOR:
        put(o, "%s\n", op_text(n->op));
        for (int32_t i = 0; i < n->count; i++)
            tree(o, x, x->list[n->first + i], level + 1);
        return;
    case CEB__OP_CALL:
    case CEB__OP_NOFN:
        put(o, "%s %s/%d\n", n->op == CEB__OP_CALL ? "call" : "missing function",
            fn_name(n), n->count);
        for (int32_t i = 0; i < n->count; i++)
            tree(o, x, x->list[n->first + i], level + 1);
        return;
    case CEB__OP_D_EXACT:
    case CEB__OP_D_PREFIX:
    case CEB__OP_D_SUFFIX:
        put(o, "%s ", op_text(n->op));
        put_attr(o, n);
        put(o, " ");
        put_quoted(o, n->v.s, n->v.len);
        put(o, "\n");
        return;
    default:
        put(o, "%s\n", op_text(n->op));
        tree(o, x, n->a, level + 1);
        tree(o, x, n->b, level + 1);
        return;
    }
}

int ceb_cesql_explain(const ceb_cesql_expr *x, char *buf, size_t cap)
{
    if (!x || x->root < 0 || (!buf && cap))
        return -EINVAL;
    out_t o = { .buf = buf, .cap = cap };
    if (cap)
        buf[0] = '\0';
    inline_expr(&o, x, x->root);
    put(&o, "\n");
    tree(&o, x, x->root, 0);
    if (o.len > INT32_MAX)
        return -EINVAL;
    return (int)o.len;
}

int ceb_cesql_explain_file(const ceb_cesql_expr *x, FILE *fp)
{
    if (!x || !fp)
        return -EINVAL;
    int n = ceb_cesql_explain(x, NULL, 0);
    if (n < 0)
        return n;
    char *b = malloc((size_t)n + 1);
    if (!b)
        return -ENOMEM;
    ceb_cesql_explain(x, b, (size_t)n + 1);
    int rc = fwrite(b, 1, (size_t)n, fp) == (size_t)n ? 0 : -EIO;
    free(b);
    return rc;
}

int ceb_cesql__data_path_text(const ceb_cesql_expr *x, const ceb_cesql__node *n, char *buf, size_t cap)
{
    out_t o = { .buf = buf, .cap = cap };
    if (cap)
        buf[0] = '\0';
    put_path(&o, x, n);
    return (int)o.len;
}
