/*
 * CESQL evaluator: walks the compiled node array over one event.
 *
 * Error model (spec §3.3, §4.1 "fail fast"): a node that raises an error
 * returns its defined value with the error (ABS(-2147483648) is 2147483647
 * and a math error; LEFT('abc', -2) is 'abc' and a functionEvaluation
 * error); an operator or function whose operand raised an error stops and
 * returns the zero value of its own return type (false, 0, ""). A missing
 * attribute therefore makes its subexpression the zero value of the
 * subexpression's type, and `1 / missing` is 0 with only the
 * missingAttribute error. AND and OR short-circuit. This is what the TCK
 * expects, and it means at most one error per evaluation in practice.
 *
 * Casts (spec §3.7): Integer->Boolean is false for 0 and true otherwise,
 * with no error, so `NOT 10` is false (the TCK case that expects true and a
 * cast error is a known divergence, see README.md). Integer arithmetic
 * wraps in two's complement; INT32_MIN / -1 is INT32_MIN and INT32_MIN % -1
 * is 0. = and != cast the left operand to the right operand's type (the
 * ambiguous-operator rule); IN casts each element to the left operand's
 * type and stops at the first match.
 *
 * Memory: intermediate strings (casts of integers, LOWER, CONCAT, ...) go
 * to a per-evaluation arena whose first block is caller storage (the stack
 * in ceb_cesql_match); only larger strings reach the heap, and everything is
 * released when the evaluation ends.
 */
#include "cesql_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct hblk {
    struct hblk *next;
} hblk;

typedef struct {
    const ceb_cesql_expr *x;
    const ceb_cesql_accessor *acc;
    void *event;
    const cJSON *data;
    bool data_loaded;
    bool oom;
    char *ap;      /* arena cursor */
    size_t aleft;
    hblk *heap;
    int nerr;
    ceb_cesql_result *res; /* NULL: count errors only (match, folding) */
} E;

static const ceb_cesql_value ZB = { .type = CEB_CESQL_T_BOOL, .s = "" };
static const ceb_cesql_value ZI = { .type = CEB_CESQL_T_INT, .s = "" };
static const ceb_cesql_value ZS = { .type = CEB_CESQL_T_STRING, .s = "" };

static ceb_cesql_value zero(int type)
{
    return type == CEB_CESQL_T_INT ? ZI : type == CEB_CESQL_T_STRING ? ZS : ZB;
}

static inline ceb_cesql_value vbool(bool b)
{
    ceb_cesql_value v = ZB;
    v.b = b;
    return v;
}

static inline ceb_cesql_value vint(int32_t i)
{
    ceb_cesql_value v = ZI;
    v.i = i;
    return v;
}

static inline ceb_cesql_value vstr(const char *s, size_t n)
{
    ceb_cesql_value v = ZS;
    v.s = s;
    v.len = n;
    return v;
}

static void arena_init(E *e, char *buf, size_t n)
{
    e->ap = buf;
    e->aleft = n;
    e->heap = NULL;
}

static void arena_release(E *e)
{
    hblk *h = e->heap;
    while (h) {
        hblk *n = h->next;
        free(h);
        h = n;
    }
    e->heap = NULL;
}

__attribute__((format(printf, 3, 4)))
static bool raise(E *e, int kind, const char *fmt, ...)
{
    e->nerr++;
    if (e->res) {
        if (e->res->nerrors < CEB_CESQL_MAX_ERRORS) {
            ceb_cesql_error *er = &e->res->errors[e->res->nerrors];
            memset(er, 0, sizeof(*er));
            er->kind = kind;
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(er->message, sizeof(er->message), fmt, ap);
            va_end(ap);
        }
        e->res->nerrors++;
    }
    return false;
}

static char *ar_alloc(E *e, size_t n)
{
    size_t an = (n + 7u) & ~(size_t)7u;
    if (an <= e->aleft && e->ap) {
        char *p = e->ap;
        e->ap += an;
        e->aleft -= an;
        return p;
    }
    size_t cap = an > 4096 ? an : 4096;
    hblk *h = malloc(sizeof(hblk) + 8 + cap);
    if (!h) {
        if (!e->oom)
            raise(e, CEB_CESQL_ERR_GENERIC, "out of memory");
        e->oom = true;
        return NULL;
    }
    h->next = e->heap;
    e->heap = h;
    char *p = (char *)h + sizeof(hblk) + 8;
    e->ap = p + an;
    e->aleft = cap - an;
    return p;
}

/* Short, printable excerpt of a string for messages. */
#define EXC(v) (int)((v).len > 40 ? 40 : (v).len), (v).s, ((v).len > 40 ? "..." : "")

/* ---- casts ------------------------------------------------------------ */

static bool parse_int(const char *s, size_t n, int32_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == n)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT32_MAX + 1)
            return false;
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return false;
    *out = (int32_t)v;
    return true;
}

static int parse_bool(const char *s, size_t n)
{
    if (n == 4 && strncasecmp(s, "true", 4) == 0)
        return 1;
    if (n == 5 && strncasecmp(s, "false", 5) == 0)
        return 0;
    return -1;
}

static bool to_int(E *e, const ceb_cesql_value *v, int32_t *out)
{
    switch (v->type) {
    case CEB_CESQL_T_INT:
        *out = v->i;
        return true;
    case CEB_CESQL_T_BOOL:
        *out = v->b ? 1 : 0;
        return true;
    default:
        if (parse_int(v->s, v->len, out))
            return true;
        *out = 0;
        return e->res ? raise(e, CEB_CESQL_ERR_CAST, "cannot cast String '%.*s%s' to Integer", EXC(*v))
                      : raise(e, CEB_CESQL_ERR_CAST, "cast");
    }
}

static bool to_bool(E *e, const ceb_cesql_value *v, bool *out)
{
    switch (v->type) {
    case CEB_CESQL_T_BOOL:
        *out = v->b;
        return true;
    case CEB_CESQL_T_INT:
        *out = v->i != 0;
        return true;
    default: {
        int b = parse_bool(v->s, v->len);
        if (b >= 0) {
            *out = b == 1;
            return true;
        }
        *out = false;
        return e->res ? raise(e, CEB_CESQL_ERR_CAST, "cannot cast String '%.*s%s' to Boolean", EXC(*v))
                      : raise(e, CEB_CESQL_ERR_CAST, "cast");
    }
    }
}

static size_t fmt_int(int32_t i, char *buf)
{
    char tmp[12];
    size_t n = 0;
    uint32_t u = i < 0 ? (uint32_t)0 - (uint32_t)i : (uint32_t)i;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (i < 0)
        buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    return k;
}

/* Cast to String; never fails except out of memory. */
static bool to_str(E *e, const ceb_cesql_value *v, ceb_cesql_value *out)
{
    switch (v->type) {
    case CEB_CESQL_T_STRING:
        *out = *v;
        return true;
    case CEB_CESQL_T_BOOL:
        *out = v->b ? vstr("true", 4) : vstr("false", 5);
        return true;
    default: {
        char *b = ar_alloc(e, 12);
        if (!b) {
            *out = ZS;
            return false;
        }
        *out = vstr(b, fmt_int(v->i, b));
        return true;
    }
    }
}

static bool cast_to(E *e, const ceb_cesql_value *v, int type, ceb_cesql_value *out)
{
    if ((int)v->type == type) {
        *out = *v;
        return true;
    }
    if (type == CEB_CESQL_T_STRING)
        return to_str(e, v, out);
    if (type == CEB_CESQL_T_INT) {
        *out = ZI;
        return to_int(e, v, &out->i);
    }
    *out = ZB;
    return to_bool(e, v, &out->b);
}

static bool equal(const ceb_cesql_value *a, const ceb_cesql_value *b)
{
    switch (a->type) {
    case CEB_CESQL_T_BOOL: return a->b == b->b;
    case CEB_CESQL_T_INT: return a->i == b->i;
    default: return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
    }
}

static inline int32_t wrap(int64_t v)
{
    return (int32_t)(uint32_t)(uint64_t)v;
}

/* ---- attributes and data ---------------------------------------------- */

static bool fix_value(E *e, ceb_cesql_value *v, const char *name)
{
    switch (v->type) {
    case CEB_CESQL_T_BOOL:
    case CEB_CESQL_T_INT:
        return true;
    case CEB_CESQL_T_STRING:
        if (!v->s) {
            v->s = "";
            v->len = 0;
        }
        return true;
    default:
        *v = ZB;
        return raise(e, CEB_CESQL_ERR_GENERIC, "attribute '%s' has an invalid value type", name);
    }
}

static bool get_attr(E *e, const ceb_cesql__node *n, ceb_cesql_value *out, bool *present)
{
    *present = e->acc->attr(e->event, n->slot, n->name, n->name_len, out);
    if (!*present) {
        *out = ZB;
        return true;
    }
    return fix_value(e, out, n->name);
}

static const cJSON *data_root(E *e)
{
    if (!e->data_loaded) {
        e->data_loaded = true;
        e->data = (e->acc && e->acc->data_json) ? e->acc->data_json(e->event) : NULL;
    }
    return e->data;
}

static const cJSON *walk(E *e, const ceb_cesql__node *n)
{
    const cJSON *it = data_root(e);
    for (int32_t i = 0; it && i < n->count; i++) {
        const ceb_cesql__seg *g = &e->x->segs[n->first + i];
        if (g->is_index) {
            it = cJSON_IsArray(it) ? cJSON_GetArrayItem(it, g->index) : NULL;
        } else {
            if (!cJSON_IsObject(it) || strlen(g->key) != g->key_len)
                return NULL;
            it = cJSON_GetObjectItemCaseSensitive(it, g->key);
        }
    }
    return (it && !cJSON_IsNull(it)) ? it : NULL;
}

static size_t fmt_double(double d, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%.15g", d);
    if (strtod(buf, NULL) != d)
        n = snprintf(buf, cap, "%.17g", d);
    return n > 0 ? (size_t)n : 0;
}

static bool json_value(E *e, const cJSON *it, ceb_cesql_value *out)
{
    if (cJSON_IsString(it)) {
        *out = vstr(it->valuestring, strlen(it->valuestring));
        return true;
    }
    if (cJSON_IsBool(it)) {
        *out = vbool(cJSON_IsTrue(it));
        return true;
    }
    if (cJSON_IsNumber(it)) {
        double d = it->valuedouble;
        if (d == floor(d) && d >= INT32_MIN && d <= INT32_MAX) {
            *out = vint((int32_t)d);
            return true;
        }
        char *b = ar_alloc(e, 32);
        if (!b) {
            *out = ZB;
            return false;
        }
        *out = vstr(b, fmt_double(d, b, 32));
        return true;
    }
    /* Object or array: compact JSON text. */
    char *b = ar_alloc(e, 256);
    if (b && cJSON_PrintPreallocated((cJSON *)it, b, 256 - 8, 0)) {
        *out = vstr(b, strlen(b));
        return true;
    }
    char *h = cJSON_PrintUnformatted(it);
    size_t n = h ? strlen(h) : 0;
    char *c = h ? ar_alloc(e, n + 1) : NULL;
    if (!c) {
        free(h);
        if (!e->oom)
            raise(e, CEB_CESQL_ERR_GENERIC, "out of memory");
        e->oom = true;
        *out = ZB;
        return false;
    }
    memcpy(c, h, n + 1);
    free(h);
    *out = vstr(c, n);
    return true;
}

/* ---- functions -------------------------------------------------------- */

static bool bad_utf8(E *e, const char *fn)
{
    return raise(e, CEB_CESQL_ERR_FUNCTION_EVALUATION, "%s: argument is not valid UTF-8", fn);
}

static bool fn_case(E *e, const ceb_cesql_value *x, bool upper, ceb_cesql_value *out)
{
    if (!ceb_cesql__utf8_valid(x->s, x->len)) {
        *out = *x;
        return bad_utf8(e, upper ? "UPPER" : "LOWER");
    }
    char *b = ar_alloc(e, x->len + 1);
    if (!b) {
        *out = ZS;
        return false;
    }
    size_t i = 0, o = 0;
    while (i < x->len) {
        unsigned char c = (unsigned char)x->s[i];
        if (c < 0x80) {
            b[o++] = (char)(upper ? ((c >= 'a' && c <= 'z') ? c - 32 : c)
                                  : ((c >= 'A' && c <= 'Z') ? c + 32 : c));
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = ceb_cesql__utf8_decode(x->s + i, x->len - i, &cp);
        uint32_t m = upper ? ceb_cesql__uni_upper(cp) : ceb_cesql__uni_lower(cp);
        char tmp[4];
        size_t ml = ceb_cesql__utf8_encode(m, tmp);
        if (ml > l) { /* cannot happen with our mappings; keep the original */
            memcpy(tmp, x->s + i, l);
            ml = l;
        }
        memcpy(b + o, tmp, ml);
        o += ml;
        i += l;
    }
    *out = vstr(b, o);
    return true;
}

static bool fn_trim(E *e, const ceb_cesql_value *x, ceb_cesql_value *out)
{
    if (!ceb_cesql__utf8_valid(x->s, x->len)) {
        *out = *x;
        return bad_utf8(e, "TRIM");
    }
    size_t a = 0, z = x->len;
    while (a < z) {
        uint32_t cp;
        size_t l = ceb_cesql__utf8_decode(x->s + a, z - a, &cp);
        if (!ceb_cesql__uni_space(cp))
            break;
        a += l;
    }
    while (z > a) {
        size_t k = z - 1;
        while (k > a && ((unsigned char)x->s[k] & 0xC0u) == 0x80u)
            k--;
        uint32_t cp;
        ceb_cesql__utf8_decode(x->s + k, z - k, &cp);
        if (!ceb_cesql__uni_space(cp))
            break;
        z = k;
    }
    *out = vstr(x->s + a, z - a);
    return true;
}

static bool fn_left_right(E *e, const ceb_cesql_value *x, int32_t y, bool right,
                          ceb_cesql_value *out)
{
    *out = *x;
    if (y < 0)
        return raise(e, CEB_CESQL_ERR_FUNCTION_EVALUATION,
                     "%s: length must not be negative, got %d", right ? "RIGHT" : "LEFT", y);
    long n = ceb_cesql__utf8_count(x->s, x->len);
    if (n < 0)
        return bad_utf8(e, right ? "RIGHT" : "LEFT");
    if (n <= y)
        return true;
    if (right) {
        size_t off = ceb_cesql__utf8_offset(x->s, x->len, (size_t)(n - y));
        *out = vstr(x->s + off, x->len - off);
    } else {
        *out = vstr(x->s, ceb_cesql__utf8_offset(x->s, x->len, (size_t)y));
    }
    return true;
}

static bool fn_substring(E *e, const ceb_cesql_value *x, int32_t pos, bool has_len,
                         int32_t len, ceb_cesql_value *out)
{
    *out = ZS;
    long n = ceb_cesql__utf8_count(x->s, x->len);
    if (n < 0)
        return bad_utf8(e, "SUBSTRING");
    if ((long)pos > n || (long)pos < -n)
        return raise(e, CEB_CESQL_ERR_FUNCTION_EVALUATION,
                     "SUBSTRING: position %d is out of range for a string of length %ld", pos, n);
    if (has_len && len < 0)
        return raise(e, CEB_CESQL_ERR_FUNCTION_EVALUATION,
                     "SUBSTRING: length must not be negative, got %d", len);
    if (pos == 0)
        return true;
    long start = pos > 0 ? (long)pos - 1 : n + pos;
    long count = n - start;
    if (has_len && (long)len < count)
        count = len;
    size_t a = ceb_cesql__utf8_offset(x->s, x->len, (size_t)start);
    size_t b = a + ceb_cesql__utf8_offset(x->s + a, x->len - a, (size_t)count);
    *out = vstr(x->s + a, b - a);
    return true;
}

static bool ev(E *e, int32_t idx, ceb_cesql_value *out);

static bool fn_concat(E *e, const ceb_cesql__node *n, bool ws, ceb_cesql_value *out)
{
    ceb_cesql_value local[8];
    local[0] = ZS;
    ceb_cesql_value *vals = local;
    if (n->count > 8) {
        vals = (ceb_cesql_value *)ar_alloc(e, (size_t)n->count * sizeof(*vals));
        if (!vals) {
            *out = ZS;
            return false;
        }
    }
    size_t total = 0;
    for (int32_t i = 0; i < n->count; i++) {
        ceb_cesql_value v;
        if (!ev(e, e->x->list[n->first + i], &v) || !to_str(e, &v, &vals[i])) {
            *out = ZS;
            return false;
        }
        total += vals[i].len;
    }
    size_t dlen = 0;
    const char *delim = "";
    int32_t first = 0;
    if (ws) {
        delim = vals[0].s;
        dlen = vals[0].len;
        first = 1;
        if (n->count > 2)
            total += dlen * (size_t)(n->count - 2);
        total -= dlen;
    }
    if (n->count - first == 1) {
        *out = vals[first];
        return true;
    }
    char *b = ar_alloc(e, total + 1);
    if (!b) {
        *out = ZS;
        return false;
    }
    size_t o = 0;
    for (int32_t i = first; i < n->count; i++) {
        if (ws && i > first) {
            memcpy(b + o, delim, dlen);
            o += dlen;
        }
        if (vals[i].len)
            memcpy(b + o, vals[i].s, vals[i].len);
        o += vals[i].len;
    }
    *out = vstr(b, o);
    return true;
}

static bool ev_call(E *e, const ceb_cesql__node *n, ceb_cesql_value *out)
{
    int fn = n->fn;
    if (fn == CEB__FN_CONCAT || fn == CEB__FN_CONCAT_WS)
        return fn_concat(e, n, fn == CEB__FN_CONCAT_WS, out);
    ceb_cesql_value a[3];
    for (int32_t i = 0; i < n->count && i < 3; i++) {
        if (!ev(e, e->x->list[n->first + i], &a[i])) {
            *out = zero(n->type);
            return false;
        }
    }
    ceb_cesql_value s;
    int32_t i1 = 0, i2 = 0;
    switch (fn) {
    case CEB__FN_LENGTH: {
        if (!to_str(e, &a[0], &s)) {
            *out = ZI;
            return false;
        }
        long c = ceb_cesql__utf8_count(s.s, s.len);
        if (c < 0) {
            *out = ZI;
            return bad_utf8(e, "LENGTH");
        }
        *out = vint(c > INT32_MAX ? INT32_MAX : (int32_t)c);
        return true;
    }
    case CEB__FN_LOWER:
    case CEB__FN_UPPER:
    case CEB__FN_TRIM:
        if (!to_str(e, &a[0], &s)) {
            *out = ZS;
            return false;
        }
        if (fn == CEB__FN_TRIM)
            return fn_trim(e, &s, out);
        return fn_case(e, &s, fn == CEB__FN_UPPER, out);
    case CEB__FN_LEFT:
    case CEB__FN_RIGHT:
        if (!to_str(e, &a[0], &s) || !to_int(e, &a[1], &i1)) {
            *out = ZS;
            return false;
        }
        return fn_left_right(e, &s, i1, fn == CEB__FN_RIGHT, out);
    case CEB__FN_SUBSTRING:
        if (!to_str(e, &a[0], &s) || !to_int(e, &a[1], &i1) ||
            (n->count == 3 && !to_int(e, &a[2], &i2))) {
            *out = ZS;
            return false;
        }
        return fn_substring(e, &s, i1, n->count == 3, i2, out);
    case CEB__FN_ABS:
        if (!to_int(e, &a[0], &i1)) {
            *out = ZI;
            return false;
        }
        if (i1 == INT32_MIN) {
            *out = vint(INT32_MAX);
            return raise(e, CEB_CESQL_ERR_MATH, "ABS(-2147483648) overflows a 32-bit integer");
        }
        *out = vint(i1 < 0 ? -i1 : i1);
        return true;
    case CEB__FN_INT:
        *out = ZI;
        return to_int(e, &a[0], &out->i);
    case CEB__FN_BOOL:
        *out = ZB;
        return to_bool(e, &a[0], &out->b);
    case CEB__FN_STRING:
        return to_str(e, &a[0], out);
    case CEB__FN_IS_BOOL:
        *out = vbool(a[0].type != CEB_CESQL_T_STRING || parse_bool(a[0].s, a[0].len) >= 0);
        return true;
    case CEB__FN_IS_INT:
        *out = vbool(a[0].type != CEB_CESQL_T_STRING || parse_int(a[0].s, a[0].len, &i1));
        return true;
    default:
        *out = zero(n->type);
        return raise(e, CEB_CESQL_ERR_GENERIC, "internal: unknown function");
    }
}

/* ---- nodes ------------------------------------------------------------ */

static bool ev_arith(E *e, const ceb_cesql__node *n, ceb_cesql_value *out)
{
    ceb_cesql_value l, r;
    int32_t a, b;
    *out = ZI;
    if (!ev(e, n->a, &l) || !ev(e, n->b, &r) || !to_int(e, &l, &a) || !to_int(e, &r, &b))
        return false;
    switch (n->op) {
    case CEB__OP_MUL: out->i = wrap((int64_t)a * b); return true;
    case CEB__OP_ADD: out->i = wrap((int64_t)a + b); return true;
    case CEB__OP_SUB: out->i = wrap((int64_t)a - b); return true;
    case CEB__OP_DIV:
        if (b == 0)
            return raise(e, CEB_CESQL_ERR_MATH, "division by zero");
        out->i = (b == -1) ? wrap(-(int64_t)a) : a / b;
        return true;
    default:
        if (b == 0)
            return raise(e, CEB_CESQL_ERR_MATH, "modulo by zero");
        out->i = (b == -1) ? 0 : a % b;
        return true;
    }
}

static bool ev_cmp(E *e, const ceb_cesql__node *n, ceb_cesql_value *out)
{
    ceb_cesql_value l, r;
    *out = ZB;
    if (!ev(e, n->a, &l) || !ev(e, n->b, &r))
        return false;
    if (n->op == CEB__OP_EQ || n->op == CEB__OP_NE) {
        ceb_cesql_value lc;
        if (!cast_to(e, &l, r.type, &lc)) {
            *out = ZB;
            return false;
        }
        bool eq = equal(&lc, &r);
        out->b = n->op == CEB__OP_EQ ? eq : !eq;
        return true;
    }
    int32_t a, b;
    if (!to_int(e, &l, &a) || !to_int(e, &r, &b))
        return false;
    switch (n->op) {
    case CEB__OP_LT: out->b = a < b; break;
    case CEB__OP_LE: out->b = a <= b; break;
    case CEB__OP_GT: out->b = a > b; break;
    default: out->b = a >= b; break;
    }
    return true;
}

static bool ev_logic(E *e, const ceb_cesql__node *n, ceb_cesql_value *out)
{
    bool acc = n->op == CEB__OP_AND;
    *out = ZB;
    for (int32_t i = 0; i < n->count; i++) {
        ceb_cesql_value v;
        bool b;
        if (!ev(e, e->x->list[n->first + i], &v) || !to_bool(e, &v, &b))
            return false;
        if (n->op == CEB__OP_AND) {
            if (!b)
                return true; /* false, short-circuit */
        } else if (n->op == CEB__OP_OR) {
            if (b) {
                out->b = true;
                return true;
            }
        } else {
            acc = acc != b;
        }
    }
    out->b = acc;
    return true;
}

static bool ev_in(E *e, const ceb_cesql__node *n, ceb_cesql_value *out)
{
    ceb_cesql_value l;
    *out = ZB;
    if (!ev(e, n->a, &l))
        return false;
    bool found = false;
    for (int32_t i = 0; i < n->count && !found; i++) {
        ceb_cesql_value v, c;
        if (!ev(e, e->x->list[n->first + i], &v) || !cast_to(e, &v, l.type, &c)) {
            *out = ZB;
            return false;
        }
        found = equal(&l, &c);
    }
    out->b = n->neg ? !found : found;
    return true;
}

static bool ev_dialect(E *e, const ceb_cesql__node *n, ceb_cesql_value *out)
{
    ceb_cesql_value v, s;
    bool present;
    *out = ZB;
    if (!get_attr(e, n, &v, &present))
        return false;
    if (!present)
        return true; /* no match, no error */
    if (!to_str(e, &v, &s))
        return false;
    const ceb_cesql_value *k = &n->v;
    bool m;
    if (n->op == CEB__OP_D_EXACT)
        m = s.len == k->len && memcmp(s.s, k->s, k->len) == 0;
    else if (n->op == CEB__OP_D_PREFIX)
        m = s.len >= k->len && memcmp(s.s, k->s, k->len) == 0;
    else
        m = s.len >= k->len && memcmp(s.s + s.len - k->len, k->s, k->len) == 0;
    out->b = m;
    return true;
}

static bool ev(E *e, int32_t idx, ceb_cesql_value *out)
{
    const ceb_cesql__node *n = &e->x->nodes[idx];
    switch (n->op) {
    case CEB__OP_CONST:
        *out = n->v;
        return true;
    case CEB__OP_ATTR: {
        bool present;
        if (!get_attr(e, n, out, &present))
            return false;
        if (present)
            return true;
        return raise(e, CEB_CESQL_ERR_MISSING_ATTRIBUTE, "missing attribute '%s'", n->name);
    }
    case CEB__OP_EXISTS: {
        if (n->slot >= CEB_CESQL_ATTR_ID && n->slot <= CEB_CESQL_ATTR_TYPE) {
            *out = vbool(true);
            return true;
        }
        ceb_cesql_value v;
        *out = vbool(e->acc->attr(e->event, n->slot, n->name, n->name_len, &v));
        return true;
    }
    case CEB__OP_DATA:
    case CEB__OP_EXISTS_DATA: {
        const cJSON *it = walk(e, n);
        if (n->op == CEB__OP_EXISTS_DATA) {
            *out = vbool(it != NULL);
            return true;
        }
        if (!it) {
            *out = ZB;
            if (!e->res)
                return raise(e, CEB_CESQL_ERR_MISSING_ATTRIBUTE, "data");
            char p[100];
            ceb_cesql__data_path_text(e->x, n, p, sizeof(p));
            return raise(e, CEB_CESQL_ERR_MISSING_ATTRIBUTE,
                         data_root(e) ? "missing data member '%s'" :
                         "'%s': the event has no JSON data", p);
        }
        return json_value(e, it, out);
    }
    case CEB__OP_NOT: {
        ceb_cesql_value v;
        bool b;
        *out = ZB;
        if (!ev(e, n->a, &v) || !to_bool(e, &v, &b))
            return false;
        out->b = !b;
        return true;
    }
    case CEB__OP_NEG: {
        ceb_cesql_value v;
        int32_t i;
        *out = ZI;
        if (!ev(e, n->a, &v) || !to_int(e, &v, &i))
            return false;
        out->i = wrap(-(int64_t)i);
        return true;
    }
    case CEB__OP_LIKE: {
        ceb_cesql_value v, s;
        *out = ZB;
        if (!ev(e, n->a, &v) || !to_str(e, &v, &s))
            return false;
        bool m = ceb_cesql__like_match(&e->x->likes[n->like], s.s, s.len);
        out->b = n->neg ? !m : m;
        return true;
    }
    case CEB__OP_IN:
        return ev_in(e, n, out);
    case CEB__OP_MUL: case CEB__OP_DIV: case CEB__OP_MOD:
    case CEB__OP_ADD: case CEB__OP_SUB:
        return ev_arith(e, n, out);
    case CEB__OP_EQ: case CEB__OP_NE: case CEB__OP_LT: case CEB__OP_LE:
    case CEB__OP_GT: case CEB__OP_GE:
        return ev_cmp(e, n, out);
    case CEB__OP_AND: case CEB__OP_OR: case CEB__OP_XOR:
        return ev_logic(e, n, out);
    case CEB__OP_CALL:
        return ev_call(e, n, out);
    case CEB__OP_NOFN:
        *out = ZB;
        if (n->neg)
            return raise(e, CEB_CESQL_ERR_MISSING_FUNCTION,
                         "function %s has no overload taking %d argument%s",
                         n->name, n->count, n->count == 1 ? "" : "s");
        return raise(e, CEB_CESQL_ERR_MISSING_FUNCTION, "unknown function %s", n->name);
    case CEB__OP_D_EXACT: case CEB__OP_D_PREFIX: case CEB__OP_D_SUFFIX:
        return ev_dialect(e, n, out);
    default:
        *out = ZB;
        return raise(e, CEB_CESQL_ERR_GENERIC, "internal: bad node");
    }
}

/* ---- entry points ----------------------------------------------------- */

int ceb_cesql__eval_const(ceb_cesql_expr *x, int32_t idx, ceb_cesql_value *out, bool *ok)
{
    char buf[256];
    E e = { .x = x };
    arena_init(&e, buf, sizeof(buf));
    ceb_cesql_value v;
    *ok = ev(&e, idx, &v) && e.nerr == 0;
    int rc = e.oom ? -ENOMEM : 0;
    if (*ok && v.type == CEB_CESQL_T_STRING) {
        const char *s = ceb_cesql__expr_strdup(x, v.s, v.len);
        if (!s)
            rc = -ENOMEM;
        v.s = s;
    }
    *out = v;
    arena_release(&e);
    return rc;
}

bool ceb_cesql_match(const ceb_cesql_expr *x, const ceb_cesql_accessor *acc,
                     void *event, int *nerrors)
{
    if (!x || !acc || !acc->attr || x->root < 0) {
        if (nerrors)
            *nerrors = 1;
        return false;
    }
    char buf[512];
    E e;
    e.x = x;
    e.acc = acc;
    e.event = event;
    e.data = NULL;
    e.data_loaded = false;
    e.oom = false;
    e.nerr = 0;
    e.res = NULL;
    arena_init(&e, buf, sizeof(buf));
    ceb_cesql_value v;
    bool ok = ev(&e, x->root, &v);
    if (e.heap)
        arena_release(&e);
    if (nerrors)
        *nerrors = e.nerr;
    return ok && e.nerr == 0 && v.type == CEB_CESQL_T_BOOL && v.b;
}

void ceb_cesql_result_release(ceb_cesql_result *res)
{
    if (!res)
        return;
    free(res->heap_);
    res->heap_ = NULL;
}

int ceb_cesql_eval(const ceb_cesql_expr *x, const ceb_cesql_accessor *acc,
                   void *event, ceb_cesql_result *res)
{
    if (!res)
        return -EINVAL;
    res->heap_ = NULL;
    res->nerrors = 0;
    res->value = ZB;
    if (!x || !acc || !acc->attr || x->root < 0)
        return -EINVAL;
    char buf[1024];
    E e = { .x = x, .acc = acc, .event = event, .res = res };
    arena_init(&e, buf, sizeof(buf));
    ceb_cesql_value v;
    ev(&e, x->root, &v);
    int rc = 0;
    if (e.oom) {
        v = zero(x->nodes[x->root].type);
        rc = -ENOMEM;
    }
    if (v.type == CEB_CESQL_T_STRING && v.len > 0) {
        char *dst = res->inline_;
        if (v.len >= sizeof(res->inline_)) {
            res->heap_ = malloc(v.len + 1);
            if (!res->heap_) {
                v = ZS;
                rc = -ENOMEM;
                raise(&e, CEB_CESQL_ERR_GENERIC, "out of memory");
            }
            dst = res->heap_;
        }
        if (dst) {
            memcpy(dst, v.s, v.len);
            dst[v.len] = '\0';
            v.s = dst;
        }
    } else if (v.type == CEB_CESQL_T_STRING) {
        res->inline_[0] = '\0';
        v.s = res->inline_;
    }
    res->value = v;
    arena_release(&e);
    return rc;
}
