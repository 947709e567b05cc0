/*
 * CESQL parser: recursive descent over the precedence of spec §3.6, highest
 * first:
 *
 *   primary   literal | identifier | data path | f(args) | ( expr ) | EXISTS id
 *   unary     NOT unary | - unary | primary
 *   postfix   unary ( [NOT] LIKE 'pattern' | [NOT] IN ( expr, ... ) )*
 *   mul       postfix ( (* | / | %) postfix )*
 *   add       mul ( (+ | -) mul )*
 *   cmp       add ( (= | != | <> | < | <= | > | >=) add )*
 *   logic     cmp ( (AND | OR | XOR) cmp )*
 *
 * Decision: AND, OR and XOR share one level and associate left to right, as
 * spec §3.6 says ("evaluated left to right when the precedence is equal");
 * the ANTLR grammar's <assoc=right> is not followed. A run of the same
 * logical operator becomes one n-ary node (a AND b AND c), which evaluates
 * left to right with short-circuit and keeps long filters shallow.
 *
 * Following the spec's table, unary NOT binds tighter than every binary
 * operator and than LIKE/IN: "NOT a = b" is "(NOT a) = b". Use parentheses.
 *
 * Nesting (parentheses, unary chains, calls, sets) and the depth of the
 * resulting tree are limited to CEB_CESQL_MAX_DEPTH: deeper input is a
 * parse error, never a stack overflow. Every node is constant-folded as it
 * is built when its operands are constants (unless CEB_CESQL_NO_FOLD).
 */
#include "cesql_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ceb_cesql_expr *x;
    const char *s;
    size_t len;
    ceb_cesql__tok tok;
    int depth;
    ceb_cesql_error *err;
    bool failed;
} parser;

#define TRY(e) do { int rc_ = (e); if (rc_ < 0) return rc_; } while (0)

static int fail_at(parser *p, size_t off, size_t blen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(parser *p, size_t off, size_t blen, const char *fmt, ...)
{
    if (!p->failed && p->err) {
        memset(p->err, 0, sizeof(*p->err));
        p->err->kind = CEB_CESQL_ERR_PARSE;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
        va_end(ap);
        p->err->offset = off;
        p->err->column = ceb_cesql__column(p->s, p->len, off);
        size_t chars = 0;
        for (size_t i = off; i < off + blen && i < p->len; i += ceb_cesql__utf8_step(p->s + i, p->len - i))
            chars++;
        p->err->length = chars ? chars : 1;
    }
    p->failed = true;
    return -EINVAL;
}

static void describe(const parser *p, const ceb_cesql__tok *t, char *buf, size_t cap)
{
    if (t->kind == CEB__T_EOF) {
        snprintf(buf, cap, "end of expression");
        return;
    }
    size_t n = t->len > 40 ? 40 : t->len;
    snprintf(buf, cap, "'%.*s%s'", (int)n, p->s + t->off, t->len > 40 ? "..." : "");
}

static int unexpected(parser *p, const char *expected)
{
    char d[64];
    if (p->tok.kind == CEB__T_ERR)
        return fail_at(p, p->tok.off, p->tok.len, "%s", p->tok.errmsg);
    describe(p, &p->tok, d, sizeof(d));
    return fail_at(p, p->tok.off, p->tok.len, "unexpected %s, expected %s", d, expected);
}

static int advance(parser *p)
{
    size_t pos = p->tok.off + p->tok.len;
    return ceb_cesql__lex(p->x, p->s, p->len, pos, &p->tok);
}

static int peek(parser *p, ceb_cesql__tok *t)
{
    return ceb_cesql__lex(p->x, p->s, p->len, p->tok.off + p->tok.len, t);
}

static int enter(parser *p)
{
    if (++p->depth > CEB_CESQL_MAX_DEPTH)
        return fail_at(p, p->tok.off, p->tok.len,
                       "expression nested too deeply (limit %d)", CEB_CESQL_MAX_DEPTH);
    return 0;
}

/* Append a node; computes its depth from its children and folds it. */
static int add(parser *p, ceb_cesql__node *n, int32_t *out)
{
    ceb_cesql_expr *x = p->x;
    int d = 0;
    if (n->a >= 0 && x->nodes[n->a].depth > d)
        d = x->nodes[n->a].depth;
    if (n->b >= 0 && x->nodes[n->b].depth > d)
        d = x->nodes[n->b].depth;
    if (n->op == CEB__OP_IN || n->op == CEB__OP_AND || n->op == CEB__OP_OR ||
        n->op == CEB__OP_XOR || n->op == CEB__OP_CALL || n->op == CEB__OP_NOFN)
        for (int32_t i = 0; i < n->count; i++)
            if (x->nodes[x->list[n->first + i]].depth > d)
                d = x->nodes[x->list[n->first + i]].depth;
    if (d + 1 > CEB_CESQL_MAX_DEPTH)
        return fail_at(p, n->off, n->len ? n->len : 1,
                       "expression nested too deeply (limit %d)", CEB_CESQL_MAX_DEPTH);
    n->depth = (uint16_t)(d + 1);
    int32_t idx = ceb_cesql__expr_node(x, n);
    if (idx < 0)
        return -ENOMEM;
    TRY(ceb_cesql__fold(x, idx));
    *out = idx;
    return 0;
}

static void node_init(ceb_cesql__node *n, int op, int type, size_t off, size_t end)
{
    memset(n, 0, sizeof(*n));
    n->op = (uint8_t)op;
    n->type = (uint8_t)type;
    n->a = n->b = -1;
    n->first = -1;
    n->like = -1;
    n->slot = CEB_CESQL_ATTR_EXT;
    n->off = (uint32_t)off;
    n->len = (uint32_t)(end > off ? end - off : 0);
}

static size_t end_of(const parser *p, int32_t idx)
{
    const ceb_cesql__node *n = &p->x->nodes[idx];
    return (size_t)n->off + n->len;
}

static int parse_logic(parser *p, int32_t *out);

/* Integer literal, with an optional sign already consumed (neg). */
static int int_literal(parser *p, bool neg, size_t start, int32_t *out)
{
    int64_t v = p->tok.ival;
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return fail_at(p, start, p->tok.off + p->tok.len - start,
                       "integer literal out of range (32-bit signed)");
    ceb_cesql__node n;
    node_init(&n, CEB__OP_CONST, CEB_CESQL_T_INT, start, p->tok.off + p->tok.len);
    n.v.type = CEB_CESQL_T_INT;
    n.v.i = (int32_t)v;
    TRY(advance(p));
    return add(p, &n, out);
}

/* Lower-cased copy of the identifier token in the arena. */
static const char *lower_name(parser *p, const ceb_cesql__tok *t)
{
    char *s = ceb_cesql__expr_alloc(p->x, t->len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < t->len; i++)
        s[i] = (char)tolower((unsigned char)p->s[t->off + i]);
    s[t->len] = '\0';
    return s;
}

static bool is_data(const parser *p)
{
    return !(p->x->flags & CEB_CESQL_STRICT) && p->tok.kind == CEB__T_IDENT &&
           p->tok.len == 4 && strncasecmp(p->s + p->tok.off, "data", 4) == 0;
}

static bool word_token(int k)
{
    return k == CEB__T_IDENT || k == CEB__T_FNAME || k == CEB__T_INT ||
           (k >= CEB__T_AND && k <= CEB__T_FALSE);
}

/* data ( .key | [index] | ['key'] )* ; current token is "data". */
static int data_path(parser *p, bool exists, size_t start, int32_t *out)
{
    ceb_cesql__seg segs[CEB__MAX_PATH];
    int32_t nseg = 0;
    size_t end = p->tok.off + p->tok.len;
    TRY(advance(p));
    while (p->tok.kind == CEB__T_DOT || p->tok.kind == CEB__T_LBRACK) {
        if (nseg >= CEB__MAX_PATH)
            return fail_at(p, p->tok.off, 1, "data path too long (limit %d)", CEB__MAX_PATH);
        ceb_cesql__seg *g = &segs[nseg];
        memset(g, 0, sizeof(*g));
        if (p->tok.kind == CEB__T_DOT) {
            TRY(advance(p));
            if (!word_token(p->tok.kind))
                return unexpected(p, "a member name after '.'");
            g->key = ceb_cesql__expr_strdup(p->x, p->s + p->tok.off, p->tok.len);
            if (!g->key)
                return -ENOMEM;
            g->key_len = p->tok.len;
        } else {
            TRY(advance(p));
            if (p->tok.kind == CEB__T_INT) {
                if (p->tok.ival > INT32_MAX)
                    return fail_at(p, p->tok.off, p->tok.len, "array index out of range");
                g->is_index = true;
                g->index = (int32_t)p->tok.ival;
            } else if (p->tok.kind == CEB__T_STR) {
                g->key = p->tok.sval;
                g->key_len = p->tok.slen;
            } else {
                return unexpected(p, "an array index or a quoted member name");
            }
            TRY(advance(p));
            if (p->tok.kind != CEB__T_RBRACK)
                return unexpected(p, "']'");
        }
        end = p->tok.off + p->tok.len;
        nseg++;
        TRY(advance(p));
    }
    int32_t first = ceb_cesql__expr_segs(p->x, segs, nseg);
    if (first < 0)
        return -ENOMEM;
    ceb_cesql__node n;
    node_init(&n, exists ? CEB__OP_EXISTS_DATA : CEB__OP_DATA,
              exists ? CEB_CESQL_T_BOOL : 0, start, end);
    n.first = first;
    n.count = nseg;
    p->x->uses_data = true;
    return add(p, &n, out);
}

static int parse_call(parser *p, int32_t *out)
{
    ceb_cesql__tok name = p->tok;
    size_t start = name.off;
    TRY(advance(p)); /* name */
    TRY(enter(p));
    TRY(advance(p)); /* ( */
    int32_t items[16];
    int32_t *args = items;
    int32_t nargs = 0, cap = 16;
    int rc = 0;
    if (p->tok.kind == CEB__T_EOF)
        return unexpected(p, "an argument or ')'");
    if (p->tok.kind != CEB__T_RP) {
        for (;;) {
            int32_t a;
            rc = parse_logic(p, &a);
            if (rc < 0)
                goto done;
            if (nargs == cap) {
                int32_t *na = malloc((size_t)cap * 2 * sizeof(*na));
                if (!na) {
                    rc = -ENOMEM;
                    goto done;
                }
                memcpy(na, args, (size_t)nargs * sizeof(*na));
                if (args != items)
                    free(args);
                args = na;
                cap *= 2;
            }
            args[nargs++] = a;
            if (p->tok.kind == CEB__T_COMMA) {
                rc = advance(p);
                if (rc < 0)
                    goto done;
                continue;
            }
            break;
        }
    }
    if (p->tok.kind != CEB__T_RP) {
        rc = unexpected(p, nargs ? "',' or ')'" : "an argument or ')'");
        goto done;
    }
    size_t end = p->tok.off + 1;
    rc = advance(p);
    if (rc < 0)
        goto done;
    p->depth--;
    bool known;
    const ceb_cesql__fn_info *fi = ceb_cesql__fn_lookup(p->s + name.off, name.len, (int)nargs, &known);
    ceb_cesql__node n;
    node_init(&n, fi ? CEB__OP_CALL : CEB__OP_NOFN, fi ? fi->ret : CEB_CESQL_T_BOOL, start, end);
    n.first = ceb_cesql__expr_list(p->x, args, nargs);
    n.count = nargs;
    if (n.first < 0) {
        rc = -ENOMEM;
        goto done;
    }
    if (fi) {
        n.fn = (uint8_t)fi->fn;
    } else {
        char *nm = ceb_cesql__expr_alloc(p->x, name.len + 1);
        if (!nm) {
            rc = -ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < name.len; i++)
            nm[i] = (char)toupper((unsigned char)p->s[name.off + i]);
        nm[name.len] = '\0';
        n.name = nm;
        n.name_len = name.len;
        n.neg = known; /* known name, wrong arity: for the message */
    }
    rc = add(p, &n, out);
done:
    if (args != items)
        free(args);
    return rc;
}

static int parse_primary(parser *p, int32_t *out)
{
    ceb_cesql__node n;
    ceb_cesql__tok t = p->tok;
    switch (t.kind) {
    case CEB__T_INT:
        return int_literal(p, false, t.off, out);
    case CEB__T_STR:
        node_init(&n, CEB__OP_CONST, CEB_CESQL_T_STRING, t.off, t.off + t.len);
        n.v.type = CEB_CESQL_T_STRING;
        n.v.s = t.sval;
        n.v.len = t.slen;
        TRY(advance(p));
        return add(p, &n, out);
    case CEB__T_TRUE:
    case CEB__T_FALSE:
        node_init(&n, CEB__OP_CONST, CEB_CESQL_T_BOOL, t.off, t.off + t.len);
        n.v.type = CEB_CESQL_T_BOOL;
        n.v.b = t.kind == CEB__T_TRUE;
        TRY(advance(p));
        return add(p, &n, out);
    case CEB__T_LP: {
        TRY(enter(p));
        TRY(advance(p));
        TRY(parse_logic(p, out));
        if (p->tok.kind != CEB__T_RP)
            return unexpected(p, "')'");
        TRY(advance(p));
        p->depth--;
        return 0;
    }
    case CEB__T_EXISTS: {
        TRY(advance(p));
        if (is_data(p))
            return data_path(p, true, t.off, out);
        if (p->tok.kind != CEB__T_IDENT)
            return unexpected(p, "an attribute name after EXISTS");
        const char *nm = lower_name(p, &p->tok);
        if (!nm)
            return -ENOMEM;
        node_init(&n, CEB__OP_EXISTS, CEB_CESQL_T_BOOL, t.off, p->tok.off + p->tok.len);
        n.name = nm;
        n.name_len = p->tok.len;
        n.slot = ceb_cesql__attr_slot(nm, n.name_len);
        if (n.slot >= CEB_CESQL_ATTR_ID && n.slot <= CEB_CESQL_ATTR_TYPE &&
            !(p->x->flags & CEB_CESQL_NO_FOLD)) {
            /* Spec §3.4.4: required attributes always exist. */
            n.op = CEB__OP_CONST;
            n.v.type = CEB_CESQL_T_BOOL;
            n.v.b = true;
        }
        TRY(advance(p));
        return add(p, &n, out);
    }
    case CEB__T_IDENT:
    case CEB__T_FNAME: {
        size_t q = t.off + t.len;
        while (q < p->len && (p->s[q] == ' ' || p->s[q] == '\t' || p->s[q] == '\r' || p->s[q] == '\n'))
            q++;
        if (q < p->len && p->s[q] == '(') {
            for (size_t i = 0; i < t.len; i++)
                if (isdigit((unsigned char)p->s[t.off + i]))
                    return fail_at(p, t.off, t.len, "invalid function name '%.*s'",
                                   (int)t.len, p->s + t.off);
            return parse_call(p, out);
        }
        if (t.kind == CEB__T_FNAME)
            return fail_at(p, t.off, t.len, "'%.*s' is not a valid attribute name "
                           "(a-z, 0-9), nor followed by '(' as a function call",
                           (int)(t.len > 60 ? 60 : t.len), p->s + t.off);
        if (is_data(p))
            return data_path(p, false, t.off, out);
        const char *nm = lower_name(p, &t);
        if (!nm)
            return -ENOMEM;
        node_init(&n, CEB__OP_ATTR, 0, t.off, t.off + t.len);
        n.name = nm;
        n.name_len = t.len;
        n.slot = ceb_cesql__attr_slot(nm, t.len);
        TRY(advance(p));
        return add(p, &n, out);
    }
    default:
        return unexpected(p, "a value, an attribute, a function call or '('");
    }
}

static int parse_unary(parser *p, int32_t *out)
{
    ceb_cesql__tok t = p->tok;
    if (t.kind == CEB__T_MINUS || t.kind == CEB__T_PLUS) {
        ceb_cesql__tok nx;
        TRY(peek(p, &nx));
        if (nx.kind == CEB__T_INT) {
            TRY(advance(p));
            return int_literal(p, t.kind == CEB__T_MINUS, t.off, out);
        }
        if (t.kind == CEB__T_PLUS)
            return unexpected(p, "a value, an attribute, a function call or '('");
    }
    if (t.kind == CEB__T_MINUS || t.kind == CEB__T_NOT) {
        TRY(enter(p));
        TRY(advance(p));
        int32_t a;
        TRY(parse_unary(p, &a));
        p->depth--;
        ceb_cesql__node n;
        node_init(&n, t.kind == CEB__T_NOT ? CEB__OP_NOT : CEB__OP_NEG,
                  t.kind == CEB__T_NOT ? CEB_CESQL_T_BOOL : CEB_CESQL_T_INT,
                  t.off, end_of(p, a));
        n.a = a;
        return add(p, &n, out);
    }
    return parse_primary(p, out);
}

static int parse_postfix(parser *p, int32_t *out)
{
    int32_t left;
    TRY(parse_unary(p, &left));
    for (;;) {
        bool neg = false;
        if (p->tok.kind == CEB__T_NOT) {
            ceb_cesql__tok nx;
            TRY(peek(p, &nx));
            if (nx.kind != CEB__T_LIKE && nx.kind != CEB__T_IN)
                break;
            neg = true;
            TRY(advance(p));
        }
        size_t start = p->x->nodes[left].off;
        if (p->tok.kind == CEB__T_LIKE) {
            TRY(advance(p));
            if (p->tok.kind != CEB__T_STR)
                return unexpected(p, "a string literal as LIKE pattern");
            ceb_cesql__like lk;
            TRY(ceb_cesql__like_compile(p->x, p->tok.sval, p->tok.slen, &lk));
            ceb_cesql__node n;
            node_init(&n, CEB__OP_LIKE, CEB_CESQL_T_BOOL, start, p->tok.off + p->tok.len);
            n.a = left;
            n.neg = neg;
            n.like = ceb_cesql__expr_like(p->x, &lk);
            if (n.like < 0)
                return -ENOMEM;
            TRY(advance(p));
            TRY(add(p, &n, &left));
        } else if (p->tok.kind == CEB__T_IN) {
            TRY(advance(p));
            if (p->tok.kind != CEB__T_LP)
                return unexpected(p, "'(' opening the IN set");
            TRY(enter(p));
            TRY(advance(p));
            int32_t items[16];
            int32_t *set = items;
            int32_t nset = 0, cap = 16;
            int rc = 0;
            for (;;) {
                int32_t e;
                rc = parse_logic(p, &e);
                if (rc < 0)
                    break;
                if (nset == cap) {
                    int32_t *ns = malloc((size_t)cap * 2 * sizeof(*ns));
                    if (!ns) {
                        rc = -ENOMEM;
                        break;
                    }
                    memcpy(ns, set, (size_t)nset * sizeof(*ns));
                    if (set != items)
                        free(set);
                    set = ns;
                    cap *= 2;
                }
                set[nset++] = e;
                if (p->tok.kind != CEB__T_COMMA)
                    break;
                rc = advance(p);
                if (rc < 0)
                    break;
            }
            if (rc == 0 && p->tok.kind != CEB__T_RP)
                rc = unexpected(p, "',' or ')' in the IN set");
            ceb_cesql__node n;
            if (rc == 0) {
                node_init(&n, CEB__OP_IN, CEB_CESQL_T_BOOL, start, p->tok.off + 1);
                n.a = left;
                n.neg = neg;
                n.first = ceb_cesql__expr_list(p->x, set, nset);
                n.count = nset;
                if (n.first < 0)
                    rc = -ENOMEM;
            }
            if (set != items)
                free(set);
            TRY(rc);
            TRY(advance(p));
            p->depth--;
            TRY(add(p, &n, &left));
        } else {
            break;
        }
    }
    *out = left;
    return 0;
}

static int binop_of(int tok, int level)
{
    switch (level) {
    case 0:
        return tok == CEB__T_STAR ? CEB__OP_MUL : tok == CEB__T_SLASH ? CEB__OP_DIV :
               tok == CEB__T_PCT ? CEB__OP_MOD : 0;
    case 1:
        return tok == CEB__T_PLUS ? CEB__OP_ADD : tok == CEB__T_MINUS ? CEB__OP_SUB : 0;
    default:
        switch (tok) {
        case CEB__T_EQ: return CEB__OP_EQ;
        case CEB__T_NE: return CEB__OP_NE;
        case CEB__T_LT: return CEB__OP_LT;
        case CEB__T_LE: return CEB__OP_LE;
        case CEB__T_GT: return CEB__OP_GT;
        case CEB__T_GE: return CEB__OP_GE;
        default: return 0;
        }
    }
}

static int parse_binary(parser *p, int level, int32_t *out)
{
    int32_t left;
    if (level == 0)
        TRY(parse_postfix(p, &left));
    else
        TRY(parse_binary(p, level - 1, &left));
    int op;
    while ((op = binop_of(p->tok.kind, level)) != 0) {
        TRY(advance(p));
        int32_t right;
        if (level == 0)
            TRY(parse_postfix(p, &right));
        else
            TRY(parse_binary(p, level - 1, &right));
        ceb_cesql__node n;
        node_init(&n, op, level == 2 ? CEB_CESQL_T_BOOL : CEB_CESQL_T_INT,
                  p->x->nodes[left].off, end_of(p, right));
        n.a = left;
        n.b = right;
        TRY(add(p, &n, &left));
    }
    *out = left;
    return 0;
}

static int logic_op(int tok)
{
    return tok == CEB__T_AND ? CEB__OP_AND : tok == CEB__T_OR ? CEB__OP_OR :
           tok == CEB__T_XOR ? CEB__OP_XOR : 0;
}

static int make_logic(parser *p, int op, int32_t *items, int32_t n, int32_t *out)
{
    ceb_cesql__node nd;
    node_init(&nd, op, CEB_CESQL_T_BOOL, p->x->nodes[items[0]].off, end_of(p, items[n - 1]));
    nd.first = ceb_cesql__expr_list(p->x, items, n);
    nd.count = n;
    if (nd.first < 0)
        return -ENOMEM;
    return add(p, &nd, out);
}

static int parse_logic(parser *p, int32_t *out)
{
    int32_t left;
    TRY(parse_binary(p, 2, &left));
    int op = logic_op(p->tok.kind);
    if (!op) {
        *out = left;
        return 0;
    }
    int32_t stack[16];
    int32_t *items = stack;
    int32_t n = 0, cap = 16;
    int rc = 0;
    items[n++] = left;
    int cur;
    while ((cur = logic_op(p->tok.kind)) != 0) {
        if (cur != op) {
            rc = make_logic(p, op, items, n, &left);
            if (rc < 0)
                break;
            n = 0;
            items[n++] = left;
            op = cur;
        }
        rc = advance(p);
        if (rc < 0)
            break;
        int32_t right;
        rc = parse_binary(p, 2, &right);
        if (rc < 0)
            break;
        if (n == cap) {
            int32_t *ni = malloc((size_t)cap * 2 * sizeof(*ni));
            if (!ni) {
                rc = -ENOMEM;
                break;
            }
            memcpy(ni, items, (size_t)n * sizeof(*ni));
            if (items != stack)
                free(items);
            items = ni;
            cap *= 2;
        }
        items[n++] = right;
    }
    if (rc == 0)
        rc = make_logic(p, op, items, n, out);
    if (items != stack)
        free(items);
    return rc;
}

int ceb_cesql__parse(ceb_cesql_expr *x, const char *text, size_t len, int32_t *root,
               ceb_cesql_error *err)
{
    parser p = { .x = x, .s = text, .len = len, .err = err };
    TRY(ceb_cesql__lex(x, text, len, 0, &p.tok));
    if (p.tok.kind == CEB__T_EOF)
        return fail_at(&p, p.tok.off, 0, "empty expression");
    int rc = parse_logic(&p, root);
    if (rc == -ENOMEM && !p.failed)
        return rc;
    if (rc < 0)
        return rc;
    if (p.tok.kind != CEB__T_EOF)
        return unexpected(&p, "an operator or end of expression");
    return 0;
}
