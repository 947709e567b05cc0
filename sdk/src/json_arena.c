/*
 * json_arena.c - the lazy event data parse (ceb_event_data_json): a JSON
 * parser that builds an ordinary, read-only cJSON tree inside one arena.
 *
 * The tree is what event.c's cJSON path built (cJSON_ParseWithLengthOpts
 * without require_null_terminated, then only ' ', '\t', '\n', '\r' after the
 * value): the same accept/reject decision, the same node types, valueint,
 * valuedouble, strings, and child/next/prev links (the first child's prev is
 * the last child). Readers (cesql, templates, json.c) keep using cJSON's and
 * ceb_json's read-only accessors. Only the allocation differs: one malloc
 * holds the first nodes and every string (strings never need more bytes
 * than the input: an unescaped string plus its NUL fits in its quoted
 * span), and a node-heavy document chains a few more node blocks, each
 * twice the size of what came before.
 *
 * Behaviour kept from cJSON 1.7 on purpose, although RFC 8259 is stricter:
 * any byte <= 0x20 is whitespace inside and before the value; raw control
 * bytes are kept in strings; a number is the longest prefix strtod() takes
 * of the run of bytes in [0-9+-eE.] after a '-' or digit (so "01", "1."
 * and "-0" are numbers, an overflow is +-inf); a \u escape with a non-hex
 * digit is U+0000; a UTF-8 BOM is skipped when at least 5 bytes are given;
 * nesting deeper than CJSON_NESTING_LIMIT arrays/objects is refused.
 */
#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* tools/cesql/bench_cesql.c compiles this file into itself to measure the
   daemon's parse without the SDK's include path. */
#ifndef CEB_JSON_ARENA_STANDALONE
#include "sdk_internal.h"
#endif

typedef struct arena_block {
    struct arena_block *next;
    cJSON node[];
} arena_block;

/* The first block: its node[0] is the root, its strings follow node[cap]. */
typedef struct {
    arena_block *more;          /* further node blocks, newest first */
    cJSON node[];
} arena_head;

typedef struct {
    const unsigned char *p;     /* next input byte */
    const unsigned char *end;
    arena_head *head;
    cJSON *free_node, *nodes_end;
    size_t nodes_total;         /* capacity over all blocks */
    unsigned char *str;         /* next string byte */
    int depth;
} parser;

static cJSON *new_node(parser *ps)
{
    if (ps->free_node == ps->nodes_end) {
        size_t cap = ps->nodes_total;
        if (cap > (SIZE_MAX - sizeof(arena_block)) / sizeof(cJSON))
            return NULL;
        arena_block *b = malloc(sizeof(arena_block) + cap * sizeof(cJSON));
        if (b == NULL)
            return NULL;
        b->next = ps->head->more;
        ps->head->more = b;
        ps->free_node = b->node;
        ps->nodes_end = b->node + cap;
        ps->nodes_total += cap;
    }
    cJSON *n = ps->free_node++;
    memset(n, 0, sizeof *n);
    return n;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && *ps->p <= 32)
        ps->p++;
}

/* cJSON's parse_hex4: 0 when any of the 4 bytes is not a hex digit. */
static unsigned hex4(const unsigned char *s)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        if (c >= '0' && c <= '9')
            h = (h << 4) | (c - '0');
        else if (c >= 'A' && c <= 'F')
            h = (h << 4) | (c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            h = (h << 4) | (c - 'a' + 10);
        else
            return 0;
    }
    return h;
}

/* A \u escape (one, or a surrogate pair) at `in`, the string closing at
   `close`, as UTF-8 at *out. Returns the input bytes used, 0 if invalid. */
static size_t utf16_escape(const unsigned char *in, const unsigned char *close,
                           unsigned char **out)
{
    unsigned long cp;
    size_t used;
    if (close - in < 6)
        return 0;
    unsigned first = hex4(in + 2);
    if (first >= 0xDC00 && first <= 0xDFFF)
        return 0;
    if (first >= 0xD800 && first <= 0xDBFF) {
        const unsigned char *second = in + 6;
        if (close - second < 6 || second[0] != '\\' || second[1] != 'u')
            return 0;
        unsigned low = hex4(second + 2);
        if (low < 0xDC00 || low > 0xDFFF)
            return 0;
        cp = 0x10000 + (((unsigned long)(first & 0x3FF) << 10) | (low & 0x3FF));
        used = 12;
    } else {
        cp = first;
        used = 6;
    }
    unsigned char *o = *out;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | (cp >> 6));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | (cp >> 12));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | (cp >> 18));
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *out = o;
    return used;
}

/* A string at ps->p (its opening quote) into the arena; *out gets it. Like
   cJSON: the closing quote is found first (a backslash skips the next byte),
   then the span is unescaped. */
static bool parse_string(parser *ps, char **out)
{
    bool escaped = false;
    if (ps->p >= ps->end || *ps->p != '"')
        return false;
    const unsigned char *s = ps->p + 1, *q = s;
    while (q < ps->end && *q != '"') {
        if (*q == '\\') {
            if (q + 1 >= ps->end)
                return false;
            q++;
            escaped = true;
        }
        q++;
    }
    if (q >= ps->end)
        return false;
    unsigned char *o = ps->str;
    *out = (char *)o;
    if (!escaped) {
        memcpy(o, s, (size_t)(q - s));
        o += q - s;
    } else {
        const unsigned char *in = s;
        while (in < q) {
            if (*in != '\\') {
                *o++ = *in++;
                continue;
            }
            size_t used = 2;
            switch (in[1]) {
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case '"':
            case '\\':
            case '/': *o++ = in[1]; break;
            case 'u':
                used = utf16_escape(in, q, &o);
                if (used == 0)
                    return false;
                break;
            default:
                return false;
            }
            in += used;
        }
    }
    *o++ = '\0';
    ps->str = o;
    ps->p = q + 1;
    return true;
}

static bool parse_number(parser *ps, cJSON *item)
{
    const unsigned char *p = ps->p, *end = ps->end;
    double d;
    /* Fast path: [-]digits (at most 18, exact in uint64) not followed by
       '.', 'e' or 'E': strtod would give the same correctly rounded value. */
    const unsigned char *q = p + (*p == '-');
    uint64_t u = 0;
    size_t nd = 0;
    while (q < end && *q >= '0' && *q <= '9' && nd <= 18) {
        u = u * 10 + (uint64_t)(*q - '0');
        q++;
        nd++;
    }
    if (nd >= 1 && nd <= 18 && (q == end || (*q != '.' && *q != 'e' && *q != 'E' &&
                                             !(*q >= '0' && *q <= '9')))) {
        d = (double)u;
        if (*p == '-')
            d = -d;
        ps->p = q;
    } else {
        /* cJSON: the run of [0-9+-eE.] bytes, '.' as the locale's decimal
           point, through strtod. */
        char small[64], *buf = small;
        size_t n = 0;
        while (p + n < end && ((p[n] >= '0' && p[n] <= '9') || p[n] == '+' || p[n] == '-' ||
                               p[n] == 'e' || p[n] == 'E' || p[n] == '.'))
            n++;
        if (n >= sizeof small && (buf = malloc(n + 1)) == NULL)
            return false;
        char point = memchr(p, '.', n) != NULL ? localeconv()->decimal_point[0] : '.';
        for (size_t i = 0; i < n; i++)
            buf[i] = p[i] == '.' ? point : (char)p[i];
        buf[n] = '\0';
        char *after = NULL;
        d = strtod(buf, &after);
        size_t used = (size_t)(after - buf);
        if (buf != small)
            free(buf);
        if (used == 0)
            return false;
        ps->p = p + used;
    }
    item->valuedouble = d;
    if (d >= INT_MAX)
        item->valueint = INT_MAX;
    else if (d <= (double)INT_MIN)
        item->valueint = INT_MIN;
    else
        item->valueint = (int)d;
    item->type = cJSON_Number;
    return true;
}

static bool parse_value(parser *ps, cJSON *item);

/* Array elements or object members up to `close` (ps->p at the opener). */
static bool parse_container(parser *ps, cJSON *item, bool object)
{
    const unsigned char close = object ? '}' : ']';
    cJSON *first = NULL, *last = NULL;
    if (ps->depth >= CJSON_NESTING_LIMIT)
        return false;
    ps->depth++;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close)
        goto done;
    if (ps->p >= ps->end)
        return false;
    for (;;) {
        cJSON *n = new_node(ps);
        if (n == NULL)
            return false;
        if (first == NULL) {
            first = n;
        } else {
            last->next = n;
            n->prev = last;
        }
        last = n;
        if (object) {
            if (!parse_string(ps, &n->string))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return false;
            ps->p++;
            skip_ws(ps);
        }
        if (!parse_value(ps, n))
            return false;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        break;
    }
    if (ps->p >= ps->end || *ps->p != close)
        return false;
done:
    ps->depth--;
    if (first != NULL)
        first->prev = last;
    item->type = object ? cJSON_Object : cJSON_Array;
    item->child = first;
    ps->p++;
    return true;
}

static bool parse_value(parser *ps, cJSON *item)
{
    size_t left = (size_t)(ps->end - ps->p);
    if (left == 0)
        return false;
    switch (*ps->p) {
    case 'n':
        if (left >= 4 && memcmp(ps->p, "null", 4) == 0) {
            item->type = cJSON_NULL;
            ps->p += 4;
            return true;
        }
        return false;
    case 'f':
        if (left >= 5 && memcmp(ps->p, "false", 5) == 0) {
            item->type = cJSON_False;
            ps->p += 5;
            return true;
        }
        return false;
    case 't':
        if (left >= 4 && memcmp(ps->p, "true", 4) == 0) {
            item->type = cJSON_True;
            item->valueint = 1;
            ps->p += 4;
            return true;
        }
        return false;
    case '"':
        if (!parse_string(ps, &item->valuestring))
            return false;
        item->type = cJSON_String;
        return true;
    case '[':
        return parse_container(ps, item, false);
    case '{':
        return parse_container(ps, item, true);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps, item);
        return false;
    }
}

void ceb__json_arena_free(const cJSON *root)
{
    if (root == NULL)
        return;
    arena_head *h = (arena_head *)(void *)((char *)(uintptr_t)root - offsetof(arena_head, node));
    arena_block *b = h->more;
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(h);
}

const cJSON *ceb__json_arena_parse(const char *text, size_t len)
{
    if (text == NULL || len == 0)
        return NULL;
    /* About one node per 8 input bytes first; strings need at most `len`. */
    size_t cap = len / 8 + 2;
    if (len > (SIZE_MAX - sizeof(arena_head)) / 16)
        return NULL;
    arena_head *h = malloc(sizeof(arena_head) + cap * sizeof(cJSON) + len);
    if (h == NULL)
        return NULL;
    h->more = NULL;
    parser ps = {
        .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len,
        .head = h,
        .free_node = h->node,
        .nodes_end = h->node + cap,
        .nodes_total = cap,
        .str = (unsigned char *)(h->node + cap),
        .depth = 0,
    };
    if (len >= 5 && memcmp(ps.p, "\xEF\xBB\xBF", 3) == 0)
        ps.p += 3;
    skip_ws(&ps);
    cJSON *root = new_node(&ps);   /* h->node[0] */
    if (!parse_value(&ps, root))
        goto fail;
    for (const unsigned char *q = ps.p; q < ps.end; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
            goto fail;
    return root;
fail:
    ceb__json_arena_free(root);
    return NULL;
}
