/*
 * The template engine (DESIGN §4, cebridge/template.h).
 *
 * ceb_template_compile() turns the text into a flat array of parts, each a
 * literal run or a reference with its parsed path and filter chain, so
 * rendering is a walk over that array: no parsing at render time. Data paths
 * are resolved through ceb_event_data_json(), which parses an event's JSON
 * data at most once.
 *
 * Value model while rendering a reference: a value is missing, a text run,
 * or a JSON node (data paths). The first filter that needs text turns a JSON
 * node into text; `json` turns anything into JSON text. `default:TEXT`
 * replaces a missing value where it stands in the chain.
 */
#include <cebridge/template.h>
#include <cebridge/codec.h>
#include <cebridge/errors.h>
#include <cebridge/json.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum tpl_part_kind { TPL_LITERAL = 1, TPL_REF } tpl_part_kind;

typedef enum tpl_root {
    TPL_ROOT_ATTR = 1,  /* a context attribute or extension by name */
    TPL_ROOT_EXT,       /* ext.NAME */
    TPL_ROOT_DATA,      /* data, data.a.b[0], data['k'] */
    TPL_ROOT_LOOKUP     /* anything else: the caller's lookup function */
} tpl_root;

typedef enum tpl_filter_kind {
    TPL_F_JSON = 1, TPL_F_URLENCODE, TPL_F_LOWER, TPL_F_UPPER, TPL_F_DEFAULT
} tpl_filter_kind;

typedef struct tpl_seg {
    char *key;        /* object key (NUL-terminated), NULL for an index */
    size_t index;
} tpl_seg;

typedef struct tpl_filter {
    tpl_filter_kind kind;
    char *text;       /* default text */
    size_t len;
} tpl_filter;

typedef struct tpl_part {
    tpl_part_kind kind;
    /* literal */
    char *lit;
    size_t lit_len;
    /* reference */
    tpl_root root;
    char *ref;        /* the reference text as written, without filters */
    size_t ref_len;
    char *name;       /* attribute / extension name */
    tpl_seg *segs;    /* data path */
    size_t nsegs;
    tpl_filter *filters;
    size_t nfilters;
    bool has_default;
} tpl_part;

struct ceb_template {
    char *text;
    tpl_part *parts;
    size_t nparts;
    size_t cap;
    bool constant;
};

/* ------------------------------------------------------------------------ */
/* compile                                                                   */

static void tpl_part_clear(tpl_part *p)
{
    free(p->lit);
    free(p->ref);
    free(p->name);
    for (size_t i = 0; i < p->nsegs; i++)
        free(p->segs[i].key);
    free(p->segs);
    for (size_t i = 0; i < p->nfilters; i++)
        free(p->filters[i].text);
    free(p->filters);
    memset(p, 0, sizeof(*p));
}

void ceb_template_free(ceb_template *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nparts; i++)
        tpl_part_clear(&t->parts[i]);
    free(t->parts);
    free(t->text);
    free(t);
}

static char *tpl_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static tpl_part *tpl_push(ceb_template *t)
{
    if (t->nparts == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        tpl_part *np = realloc(t->parts, cap * sizeof(*np));
        if (np == NULL)
            return NULL;
        t->parts = np;
        t->cap = cap;
    }
    tpl_part *p = &t->parts[t->nparts++];
    memset(p, 0, sizeof(*p));
    return p;
}

/* Append literal bytes, merging with a preceding literal part. */
static int tpl_add_literal(ceb_template *t, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    tpl_part *last = t->nparts ? &t->parts[t->nparts - 1] : NULL;
    if (last != NULL && last->kind == TPL_LITERAL) {
        char *nl = realloc(last->lit, last->lit_len + n + 1);
        if (nl == NULL)
            return CEB_ENOMEM;
        memcpy(nl + last->lit_len, s, n);
        last->lit_len += n;
        nl[last->lit_len] = '\0';
        last->lit = nl;
        return 0;
    }
    tpl_part *p = tpl_push(t);
    if (p == NULL)
        return CEB_ENOMEM;
    p->kind = TPL_LITERAL;
    p->lit = tpl_strndup(s, n);
    if (p->lit == NULL) {
        t->nparts--;
        return CEB_ENOMEM;
    }
    p->lit_len = n;
    return 0;
}

static bool tpl_is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool tpl_is_attr_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static bool tpl_is_space(char c)
{
    return c == ' ' || c == '\t';
}

typedef struct tpl_parser {
    const char *text;   /* whole template, for columns */
    ceb_diag *d;
} tpl_parser;

static int tpl_err(tpl_parser *ps, const char *at, const char *msg, const char *arg, size_t arglen)
{
    int col = (int)(at - ps->text) + 1;
    if (arg != NULL)
        return ceb_diag_set(ps->d, CEB_ETEMPLATE, "column %d: %s '%.*s'", col, msg,
                            (int)arglen, arg);
    return ceb_diag_set(ps->d, CEB_ETEMPLATE, "column %d: %s", col, msg);
}

static int tpl_add_seg(tpl_part *p, const char *key, size_t klen, bool is_index, size_t index)
{
    tpl_seg *ns = realloc(p->segs, (p->nsegs + 1) * sizeof(*ns));
    if (ns == NULL)
        return CEB_ENOMEM;
    p->segs = ns;
    tpl_seg *s = &p->segs[p->nsegs];
    s->key = NULL;
    s->index = index;
    if (!is_index) {
        s->key = tpl_strndup(key, klen);
        if (s->key == NULL)
            return CEB_ENOMEM;
    }
    p->nsegs++;
    return 0;
}

/*
 * Parse a data path after "data": a sequence of .name, [N], ['key'] or
 * ["key"] between `s` and `end`. Quoted keys may escape their quote or a
 * backslash with a backslash.
 */
static int tpl_parse_data_path(tpl_parser *ps, tpl_part *p, const char *s, const char *end)
{
    int rc;
    while (s < end) {
        if (*s == '.') {
            const char *k = ++s;
            while (s < end && tpl_is_ident(*s))
                s++;
            if (s == k)
                return tpl_err(ps, k, "expected a key name after '.'", NULL, 0);
            if ((rc = tpl_add_seg(p, k, (size_t)(s - k), false, 0)) < 0)
                return rc;
        } else if (*s == '[') {
            const char *open = s++;
            if (s < end && (*s == '\'' || *s == '"')) {
                char q = *s++;
                /* collect the unescaped key */
                char *key = malloc((size_t)(end - s) + 1);
                size_t kl = 0;
                if (key == NULL)
                    return CEB_ENOMEM;
                while (s < end && *s != q) {
                    if (*s == '\\' && s + 1 < end)
                        s++;
                    key[kl++] = *s++;
                }
                if (s >= end) {
                    free(key);
                    return tpl_err(ps, open, "unterminated quoted key", NULL, 0);
                }
                s++; /* closing quote */
                if (s >= end || *s != ']') {
                    free(key);
                    return tpl_err(ps, s, "expected ']' after quoted key", NULL, 0);
                }
                s++;
                rc = tpl_add_seg(p, key, kl, false, 0);
                free(key);
                if (rc < 0)
                    return rc;
            } else {
                const char *n = s;
                size_t idx = 0;
                while (s < end && *s >= '0' && *s <= '9') {
                    if (idx > (SIZE_MAX - 9) / 10)
                        return tpl_err(ps, n, "array index too large", NULL, 0);
                    idx = idx * 10 + (size_t)(*s - '0');
                    s++;
                }
                if (s == n)
                    return tpl_err(ps, n, "expected an array index or a quoted key after '['",
                                   NULL, 0);
                if (s >= end || *s != ']')
                    return tpl_err(ps, s, "expected ']'", NULL, 0);
                s++;
                if ((rc = tpl_add_seg(p, NULL, 0, true, idx)) < 0)
                    return rc;
            }
        } else {
            return tpl_err(ps, s, "unexpected character in data path", s, 1);
        }
    }
    return 0;
}

/* Parse the reference between `s` and `end` (trimmed) into `p`. */
static int tpl_parse_ref(tpl_parser *ps, tpl_part *p, const char *s, const char *end)
{
    if (s == end)
        return tpl_err(ps, s, "empty reference", NULL, 0);
    p->ref = tpl_strndup(s, (size_t)(end - s));
    if (p->ref == NULL)
        return CEB_ENOMEM;
    p->ref_len = (size_t)(end - s);

    const char *i = s;
    while (i < end && tpl_is_ident(*i))
        i++;
    size_t rootlen = (size_t)(i - s);
    if (rootlen == 0)
        return tpl_err(ps, s, "a reference must start with a name, got", s, 1);

    if (rootlen == 4 && memcmp(s, "data", 4) == 0) {
        p->root = TPL_ROOT_DATA;
        return tpl_parse_data_path(ps, p, i, end);
    }
    if (rootlen == 3 && memcmp(s, "ext", 3) == 0 && i < end && *i == '.') {
        const char *n = i + 1;
        const char *ne = n;
        while (ne < end && tpl_is_ident(*ne))
            ne++;
        if (ne != end)
            return tpl_err(ps, ne, "unexpected character after extension name", ne, 1);
        if (!tpl_is_attr_name(n, (size_t)(ne - n)))
            return tpl_err(ps, n, "invalid extension name (lower-case a-z and 0-9 only)", n,
                           (size_t)(ne - n));
        p->root = TPL_ROOT_EXT;
        p->name = tpl_strndup(n, (size_t)(ne - n));
        return p->name ? 0 : CEB_ENOMEM;
    }
    if (i == end && tpl_is_attr_name(s, rootlen)) {
        p->root = TPL_ROOT_ATTR;
        p->name = tpl_strndup(s, rootlen);
        return p->name ? 0 : CEB_ENOMEM;
    }
    /* Another root (header.x-id, path, ...): the caller's lookup decides. */
    for (const char *c = s; c < end; c++) {
        if (*c == '{' || *c == '}' || tpl_is_space(*c))
            return tpl_err(ps, c, "unexpected character in reference", c, 1);
    }
    p->root = TPL_ROOT_LOOKUP;
    return 0;
}

static int tpl_add_filter(tpl_part *p, tpl_filter_kind kind, const char *text, size_t len)
{
    tpl_filter *nf = realloc(p->filters, (p->nfilters + 1) * sizeof(*nf));
    if (nf == NULL)
        return CEB_ENOMEM;
    p->filters = nf;
    tpl_filter *f = &p->filters[p->nfilters];
    f->kind = kind;
    f->text = NULL;
    f->len = len;
    if (kind == TPL_F_DEFAULT) {
        f->text = tpl_strndup(text, len);
        if (f->text == NULL)
            return CEB_ENOMEM;
        p->has_default = true;
    }
    p->nfilters++;
    return 0;
}

/*
 * Parse "{...}" starting at `open` (the '{'). On success *next points past
 * the closing '}'. Quoted keys may contain '}' and '|'; a default's text
 * may escape '}', '|' and '\' with a backslash.
 */
static int tpl_parse_braces(tpl_parser *ps, ceb_template *t, const char *open, const char **next)
{
    const char *s = open + 1;
    /* find the end of the reference: first '|' or '}' outside quotes */
    const char *r = s, *qpos = NULL;
    char quote = 0;
    while (*r != '\0') {
        if (quote) {
            if (*r == '\\' && r[1] != '\0')
                r++;
            else if (*r == quote)
                quote = 0;
        } else if (*r == '\'' || *r == '"') {
            quote = *r;
            qpos = r;
        } else if (*r == '|' || *r == '}') {
            break;
        } else if (*r == '{') {
            return tpl_err(ps, r, "'{' inside a reference (write '{{' for a literal brace)",
                           NULL, 0);
        }
        r++;
    }
    if (*r == '\0' && quote)
        return tpl_err(ps, qpos, "unterminated quoted key", NULL, 0);
    if (*r == '\0')
        return tpl_err(ps, open, "unterminated '{' (write '{{' for a literal brace)", NULL, 0);

    tpl_part *p = tpl_push(t);
    if (p == NULL)
        return CEB_ENOMEM;
    p->kind = TPL_REF;
    const char *rs = s, *re = r;
    while (rs < re && tpl_is_space(*rs))
        rs++;
    while (re > rs && tpl_is_space(re[-1]))
        re--;
    int rc = tpl_parse_ref(ps, p, rs, re);
    if (rc < 0)
        return rc;

    s = r;
    while (*s == '|') {
        s++;
        while (tpl_is_space(*s))
            s++;
        const char *fn = s;
        while (*s >= 'a' && *s <= 'z')
            s++;
        size_t fl = (size_t)(s - fn);
        if (fl == 7 && memcmp(fn, "default", 7) == 0) {
            if (*s != ':')
                return tpl_err(ps, s, "expected ':' after 'default'", NULL, 0);
            s++;
            ceb_buf txt = {0};
            while (*s != '\0' && *s != '|' && *s != '}') {
                if (*s == '\\' && (s[1] == '|' || s[1] == '}' || s[1] == '\\'))
                    s++;
                if (ceb_buf_append(&txt, s, 1) < 0) {
                    ceb_buf_free(&txt);
                    return CEB_ENOMEM;
                }
                s++;
            }
            rc = tpl_add_filter(p, TPL_F_DEFAULT, txt.data ? txt.data : "", txt.len);
            ceb_buf_free(&txt);
            if (rc < 0)
                return rc;
            continue;
        }
        tpl_filter_kind k;
        if (fl == 4 && memcmp(fn, "json", 4) == 0)
            k = TPL_F_JSON;
        else if (fl == 9 && memcmp(fn, "urlencode", 9) == 0)
            k = TPL_F_URLENCODE;
        else if (fl == 5 && memcmp(fn, "lower", 5) == 0)
            k = TPL_F_LOWER;
        else if (fl == 5 && memcmp(fn, "upper", 5) == 0)
            k = TPL_F_UPPER;
        else if (fl == 0)
            return tpl_err(ps, fn, "expected a filter name after '|'", NULL, 0);
        else {
            const char *fe = fn;
            while (*fe != '\0' && *fe != '|' && *fe != '}' && *fe != ':' && !tpl_is_space(*fe))
                fe++;
            return tpl_err(ps, fn,
                           "unknown filter (known: json, urlencode, lower, upper, default:TEXT):",
                           fn, (size_t)(fe - fn));
        }
        while (tpl_is_space(*s))
            s++;
        if (*s != '|' && *s != '}') {
            if (*s == '\0')
                return tpl_err(ps, open, "unterminated '{' (write '{{' for a literal brace)",
                               NULL, 0);
            return tpl_err(ps, s, "unexpected character after filter", s, 1);
        }
        if ((rc = tpl_add_filter(p, k, NULL, 0)) < 0)
            return rc;
    }
    if (*s != '}')
        return tpl_err(ps, open, "unterminated '{' (write '{{' for a literal brace)", NULL, 0);
    *next = s + 1;
    return 0;
}

int ceb_template_compile(const char *text, ceb_template **out, ceb_diag *d)
{
    if (text == NULL || out == NULL)
        return ceb_diag_set(d, CEB_EINVAL, "no template text");
    *out = NULL;
    ceb_template *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return ceb_diag_set(d, CEB_ENOMEM, "out of memory");
    t->text = tpl_strndup(text, strlen(text));
    if (t->text == NULL) {
        free(t);
        return ceb_diag_set(d, CEB_ENOMEM, "out of memory");
    }
    tpl_parser ps = {.text = text, .d = d};
    int rc = 0;
    const char *s = text, *lit = text;
    while (*s != '\0' && rc == 0) {
        if (*s == '{' && s[1] == '{') {
            if ((rc = tpl_add_literal(t, lit, (size_t)(s - lit) + 1)) < 0)
                break;
            s += 2;
            lit = s;
        } else if (*s == '}' && s[1] == '}') {
            if ((rc = tpl_add_literal(t, lit, (size_t)(s - lit) + 1)) < 0)
                break;
            s += 2;
            lit = s;
        } else if (*s == '}') {
            rc = tpl_err(&ps, s, "unmatched '}' (write '}}' for a literal brace)", NULL, 0);
        } else if (*s == '{') {
            if ((rc = tpl_add_literal(t, lit, (size_t)(s - lit))) < 0)
                break;
            rc = tpl_parse_braces(&ps, t, s, &s);
            lit = s;
        } else {
            s++;
        }
    }
    if (rc == 0)
        rc = tpl_add_literal(t, lit, (size_t)(s - lit));
    if (rc < 0) {
        if (rc == CEB_ENOMEM)
            ceb_diag_set(d, CEB_ENOMEM, "out of memory");
        ceb_template_free(t);
        return rc;
    }
    t->constant = true;
    for (size_t i = 0; i < t->nparts; i++)
        if (t->parts[i].kind == TPL_REF)
            t->constant = false;
    *out = t;
    return 0;
}

const char *ceb_template_text(const ceb_template *t)
{
    return t ? t->text : NULL;
}

bool ceb_template_is_constant(const ceb_template *t)
{
    return t == NULL || t->constant;
}

/* ------------------------------------------------------------------------ */
/* render                                                                    */

typedef enum tpl_val_kind { TPL_V_MISSING = 0, TPL_V_TEXT, TPL_V_JSON, TPL_V_RAWJSON } tpl_val_kind;

/*
 * A value in the filter chain. TEXT: plain text (`s`, `n`). JSON: a node.
 * RAWJSON: text that is already a JSON value (an Integer/Boolean extension,
 * the bytes of JSON data) and renders as is under `json`.
 */
typedef struct tpl_val {
    tpl_val_kind kind;
    const char *s;
    size_t n;
    const ceb_json *j;
} tpl_val;

static const ceb_json *tpl_walk(const ceb_json *j, const tpl_part *p)
{
    for (size_t i = 0; i < p->nsegs && j != NULL; i++) {
        const tpl_seg *sg = &p->segs[i];
        if (sg->key == NULL) {
            j = ceb_json_at(j, sg->index);
        } else if (ceb_json_type_of(j) == CEB_JSON_ARRAY) {
            /* data.items.0 reads like data.items[0] */
            char *e;
            unsigned long long v = strtoull(sg->key, &e, 10);
            j = (*sg->key >= '0' && *sg->key <= '9' && *e == '\0') ? ceb_json_at(j, (size_t)v)
                                                                  : NULL;
        } else {
            j = ceb_json_get(j, sg->key);
        }
    }
    return j;
}

/* Resolve the reference to a value; `scratch` may hold its text. */
static int tpl_resolve(const tpl_part *p, const ceb_event *ev, ceb_template_lookup_fn lookup,
                       void *arg, tpl_val *v, ceb_buf *scratch)
{
    memset(v, 0, sizeof(*v));
    switch (p->root) {
    case TPL_ROOT_ATTR:
    case TPL_ROOT_EXT: {
        ceb_attr a;
        if (ev != NULL && ceb_event_attr(ev, p->name, &a) == 0 && a.text != NULL) {
            v->kind = (a.type == CEB_ATTR_INTEGER || a.type == CEB_ATTR_BOOLEAN) ? TPL_V_RAWJSON
                                                                                   : TPL_V_TEXT;
            v->s = a.text;
            v->n = a.len ? a.len : strlen(a.text);
            return 0;
        }
        break; /* not in the event: a lookup root may know it */
    }
    case TPL_ROOT_DATA: {
        if (ev == NULL)
            return 0;
        if (p->nsegs == 0) {
            size_t len = 0;
            const void *data = ceb_event_data(ev, &len);
            ceb_data_kind k = ceb_event_data_kind(ev);
            if (data == NULL || k == CEB_DATA_NONE)
                return 0;
            if (k == CEB_DATA_BINARY) {
                int rc = ceb_base64_encode(data, len, scratch);
                if (rc < 0)
                    return rc;
                v->kind = TPL_V_TEXT;
                v->s = scratch->data;
                v->n = scratch->len;
                return 0;
            }
            const ceb_json *j = (k == CEB_DATA_JSON || ceb_event_data_is_json(ev))
                                    ? (const ceb_json *)ceb_event_data_json(ev)
                                    : NULL;
            v->kind = j ? TPL_V_RAWJSON : TPL_V_TEXT;
            v->j = j;
            v->s = data;
            v->n = len;
            return 0;
        }
        const ceb_json *j = tpl_walk((const ceb_json *)ceb_event_data_json(ev), p);
        if (j != NULL && ceb_json_type_of(j) != CEB_JSON_NULL &&
            ceb_json_type_of(j) != CEB_JSON_INVALID) {
            v->kind = TPL_V_JSON;
            v->j = j;
        }
        return 0;
    }
    case TPL_ROOT_LOOKUP:
        break;
    }
    if (lookup != NULL) {
        const char *val = NULL;
        size_t len = 0;
        if (lookup(arg, p->ref, p->ref_len, &val, &len) && val != NULL) {
            v->kind = TPL_V_TEXT;
            v->s = val;
            v->n = len;
        }
    }
    return 0;
}

/* Plain text of a value (JSON strings unquoted, other JSON compact) into `out`. */
static int tpl_text(const tpl_val *v, ceb_buf *out)
{
    switch (v->kind) {
    case TPL_V_MISSING:
        return 0;
    case TPL_V_TEXT:
    case TPL_V_RAWJSON:
        return ceb_buf_append(out, v->s, v->n);
    case TPL_V_JSON: {
        const char *str = ceb_json_string(v->j);
        if (str != NULL)
            return ceb_buf_append_str(out, str);
        return ceb_json_print(v->j, out);
    }
    }
    return 0;
}

static int tpl_json(const tpl_val *v, ceb_buf *out)
{
    switch (v->kind) {
    case TPL_V_MISSING:
        return ceb_buf_append(out, "null", 4);
    case TPL_V_TEXT:
        return ceb_json_quote(out, v->s, v->n);
    case TPL_V_RAWJSON:
        if (v->j != NULL)
            return ceb_json_print(v->j, out);
        return ceb_buf_append(out, v->s, v->n);
    case TPL_V_JSON:
        return ceb_json_print(v->j, out);
    }
    return 0;
}

static int tpl_urlencode(const char *s, size_t n, ceb_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = ceb_buf_reserve(out, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = ceb_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = ceb_buf_append(out, e, 3);
        }
    }
    return rc;
}

/* Render one reference part (with its filters) to `out`; *missing tells strict mode. */
static int tpl_render_ref(const tpl_part *p, const ceb_event *ev, ceb_template_lookup_fn lookup,
                          void *arg, ceb_buf *out, bool *missing)
{
    ceb_buf a = {0}, b = {0};
    tpl_val v;
    int rc = tpl_resolve(p, ev, lookup, arg, &v, &a);
    *missing = false;
    for (size_t i = 0; i < p->nfilters && rc == 0; i++) {
        const tpl_filter *f = &p->filters[i];
        if (f->kind == TPL_F_DEFAULT) {
            if (v.kind == TPL_V_MISSING) {
                v.kind = TPL_V_TEXT;
                v.s = f->text;
                v.n = f->len;
            }
            continue;
        }
        if (v.kind == TPL_V_MISSING && f->kind != TPL_F_JSON)
            continue;
        ceb_buf_reset(&b);
        if (f->kind == TPL_F_JSON) {
            rc = tpl_json(&v, &b);
        } else {
            ceb_buf tmp = {0};
            const char *s;
            size_t n;
            if (v.kind == TPL_V_JSON) {
                rc = tpl_text(&v, &tmp);
                s = tmp.data ? tmp.data : "";
                n = tmp.len;
            } else {
                s = v.s;
                n = v.n;
            }
            if (rc == 0 && f->kind == TPL_F_URLENCODE) {
                rc = tpl_urlencode(s, n, &b);
            } else if (rc == 0) {
                rc = ceb_buf_append(&b, s, n);
                for (size_t k = 0; rc == 0 && k < b.len; k++) {
                    char c = b.data[k];
                    if (f->kind == TPL_F_LOWER && c >= 'A' && c <= 'Z')
                        b.data[k] = (char)(c - 'A' + 'a');
                    else if (f->kind == TPL_F_UPPER && c >= 'a' && c <= 'z')
                        b.data[k] = (char)(c - 'a' + 'A');
                }
            }
            ceb_buf_free(&tmp);
        }
        if (rc < 0)
            break;
        /* the result becomes the current value; keep it in `a` */
        ceb_buf t = a;
        a = b;
        b = t;
        v.kind = TPL_V_TEXT;
        v.s = a.data ? a.data : "";
        v.n = a.len;
        v.j = NULL;
    }
    if (rc == 0) {
        if (v.kind == TPL_V_MISSING)
            *missing = true;
        else
            rc = tpl_text(&v, out);
    }
    ceb_buf_free(&a);
    ceb_buf_free(&b);
    return rc;
}

static int tpl_render(const ceb_template *t, const ceb_event *ev, ceb_template_lookup_fn lookup,
                      void *arg, ceb_buf *out, bool strict, ceb_diag *d)
{
    size_t start = out->len;
    int rc = 0;
    for (size_t i = 0; i < t->nparts && rc == 0; i++) {
        const tpl_part *p = &t->parts[i];
        if (p->kind == TPL_LITERAL) {
            rc = ceb_buf_append(out, p->lit, p->lit_len);
            continue;
        }
        bool missing = false;
        rc = tpl_render_ref(p, ev, lookup, arg, out, &missing);
        if (rc == 0 && missing && strict)
            rc = ceb_diag_set_field(d, CEB_ENOENT, p->ref,
                                    "template '%s': {%s} has no value and no default", t->text,
                                    p->ref);
    }
    if (rc < 0) {
        /* leave `out` as it was */
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
        if (rc == CEB_ENOMEM)
            ceb_diag_set(d, CEB_ENOMEM, "out of memory");
    } else if (out->data == NULL) {
        /* an empty rendering still yields a NUL-terminated string */
        rc = ceb_buf_reserve(out, 1);
        if (rc == 0)
            out->data[out->len] = '\0';
    }
    return rc;
}

int ceb_template_render(const ceb_template *t, const ceb_event *ev, ceb_buf *out)
{
    return tpl_render(t, ev, NULL, NULL, out, false, NULL);
}

int ceb_template_render_with(const ceb_template *t, const ceb_event *ev,
                             ceb_template_lookup_fn lookup, void *arg, ceb_buf *out)
{
    return tpl_render(t, ev, lookup, arg, out, false, NULL);
}

int ceb_template_render_strict(const ceb_template *t, const ceb_event *ev,
                               ceb_template_lookup_fn lookup, void *arg, ceb_buf *out,
                               ceb_diag *d)
{
    return tpl_render(t, ev, lookup, arg, out, true, d);
}
