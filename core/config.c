/*
 * Configuration from drop-in files (DESIGN §4). See config.h for the
 * contract and the decisions taken where the design left room.
 *
 * Two passes:
 *   1. A position-aware JSON reader (JSON + // and block comments) builds
 *      cJSON trees and records, in a side table keyed by node, where each
 *      node (and, for object members, its key) starts.
 *   2. The loader walks the trees of every file in lexical order: settings,
 *      then sources and sinks (options validated through the plugin's
 *      table), then routes (references, filters, retry, transform).
 * Every error is collected with its position and the list is sorted by file
 * then position at the end, so `cebridge --check` prints all of them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cebridge/errors.h>
#include <cebridge/event.h>
#include <cebridge/options.h>
#include "optval.h"

#define CONF_MAX_DEPTH 64
#define CONF_MAX_FILE_SIZE (16u * 1024u * 1024u)
#define CONF_MAX_NAME 64
#define CONF_DEFAULT_MAX_INFLIGHT 1000u
#define CONF_MAX_MAX_INFLIGHT 1000000
#define CONF_DEFAULT_DRAIN_MS 10000

/* ------------------------------------------------------------------------ */
/* Position side table: cJSON node -> where it (and its key) starts.         */

typedef struct pos_ent {
    const cJSON *node;
    int file;             /* index into the loader's file list */
    int kline, kcol;      /* the member's key (= value position for non-members) */
    int vline, vcol;      /* the value */
    size_t voff;          /* byte offset of the value in the file text */
} pos_ent;

typedef struct posmap {
    pos_ent *v;
    size_t cap, n;        /* cap is 0 or a power of two */
} posmap;

static size_t pm_hash(const cJSON *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return (size_t)x;
}

static int pm_put(posmap *m, const pos_ent *e)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        pos_ent *nv = calloc(ncap, sizeof(*nv));
        if (!nv)
            return CEB_ENOMEM;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->v[i].node)
                continue;
            size_t j = pm_hash(m->v[i].node) & (ncap - 1);
            while (nv[j].node)
                j = (j + 1) & (ncap - 1);
            nv[j] = m->v[i];
        }
        free(m->v);
        m->v = nv;
        m->cap = ncap;
    }
    size_t j = pm_hash(e->node) & (m->cap - 1);
    while (m->v[j].node && m->v[j].node != e->node)
        j = (j + 1) & (m->cap - 1);
    if (!m->v[j].node)
        m->n++;
    m->v[j] = *e;
    return 0;
}

static const pos_ent *pm_get(const posmap *m, const cJSON *node)
{
    if (!m->cap || !node)
        return NULL;
    size_t j = pm_hash(node) & (m->cap - 1);
    while (m->v[j].node) {
        if (m->v[j].node == node)
            return &m->v[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

static void pm_free(posmap *m)
{
    free(m->v);
    m->v = NULL;
    m->cap = m->n = 0;
}

/* ------------------------------------------------------------------------ */
/* JSON reader with comments and positions.                                 */

typedef struct jp {
    const char *s;
    size_t len, i;
    int line;
    size_t line_start;
    int file;
    posmap *pm;
    int depth;
    bool failed, oom;
    int eline, ecol;
    char emsg[256];
    char path[512];
    size_t plen;
} jp;

static int jp_col(const jp *p, size_t at) { return (int)(at - p->line_start) + 1; }

static void jp_fail_at(jp *p, int line, int col, const char *fmt, ...) CEB_ATTR_PRINTF(4, 5);
static void jp_fail_at(jp *p, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->eline = line;
    p->ecol = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->emsg, sizeof p->emsg, fmt, ap);
    va_end(ap);
}

static void jp_oom(jp *p)
{
    jp_fail_at(p, p->line, jp_col(p, p->i), "out of memory");
    p->oom = true;
}

/* "'x'" for a printable byte, "byte 0xNN" otherwise. */
static const char *jp_char(char *buf, size_t cap, unsigned char c)
{
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else if (c == ' ')
        snprintf(buf, cap, "' '");
    else
        snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

/* Skip whitespace and comments. Returns false after an error. */
static bool jp_ws(jp *p)
{
    while (p->i < p->len) {
        char c = p->s[p->i];
        if (c == '\n') {
            p->i++;
            p->line++;
            p->line_start = p->i;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p->i++;
        } else if (c == '/' && p->i + 1 < p->len && p->s[p->i + 1] == '/') {
            while (p->i < p->len && p->s[p->i] != '\n')
                p->i++;
        } else if (c == '/' && p->i + 1 < p->len && p->s[p->i + 1] == '*') {
            int sl = p->line, sc = jp_col(p, p->i);
            p->i += 2;
            bool closed = false;
            while (p->i < p->len) {
                if (p->s[p->i] == '*' && p->i + 1 < p->len && p->s[p->i + 1] == '/') {
                    p->i += 2;
                    closed = true;
                    break;
                }
                if (p->s[p->i] == '\n') {
                    p->line++;
                    p->line_start = p->i + 1;
                }
                p->i++;
            }
            if (!closed) {
                jp_fail_at(p, sl, sc, "unterminated comment");
                return false;
            }
        } else {
            break;
        }
    }
    return true;
}

static void jp_path_push_key(jp *p, const char *key, size_t *saved)
{
    *saved = p->plen;
    int n = snprintf(p->path + p->plen, sizeof p->path - p->plen, "%s%s", p->plen ? "." : "", key);
    if (n > 0)
        p->plen = p->plen + (size_t)n < sizeof p->path ? p->plen + (size_t)n : sizeof p->path - 1;
}

static void jp_path_push_index(jp *p, size_t idx, size_t *saved)
{
    *saved = p->plen;
    int n = snprintf(p->path + p->plen, sizeof p->path - p->plen, "[%zu]", idx);
    if (n > 0)
        p->plen = p->plen + (size_t)n < sizeof p->path ? p->plen + (size_t)n : sizeof p->path - 1;
}

static void jp_path_pop(jp *p, size_t saved)
{
    p->plen = saved;
    p->path[saved] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int jp_hex4(const char *s, size_t avail, unsigned *out)
{
    if (avail < 4)
        return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[k]);
        if (h < 0)
            return -1;
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) n = 3;
    else if (c >= 0xf0 && c <= 0xf4) n = 4;
    else return 0;
    if (avail < n) return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0;          /* overlong */
    if (c == 0xed && s[1] >= 0xa0) return 0;         /* surrogate */
    if (c == 0xf0 && s[1] < 0x90) return 0;          /* overlong */
    if (c == 0xf4 && s[1] >= 0x90) return 0;         /* > U+10FFFF */
    return n;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f)); return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parse a string literal at p->i (a '"'). Returns a malloc'd NUL-terminated
   string or NULL after an error. Decoded text is never longer than the source. */
static char *jp_string(jp *p)
{
    int sl = p->line, sc = jp_col(p, p->i);
    size_t start = ++p->i;
    size_t end = start;
    /* find the closing quote first, to size the buffer and spot EOF/newline */
    while (end < p->len && p->s[end] != '"' && p->s[end] != '\n') {
        if (p->s[end] == '\\' && end + 1 < p->len && p->s[end + 1] != '\n')
            end++;
        end++;
    }
    if (end >= p->len || p->s[end] != '"') {
        jp_fail_at(p, sl, sc, "unterminated string");
        return NULL;
    }
    char *out = malloc(end - start + 1);
    if (!out) {
        jp_oom(p);
        return NULL;
    }
    size_t o = 0;
    char cb[16];
    while (p->i < end) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '\\') {
            size_t bs = p->i;
            char e = p->s[p->i + 1];
            p->i += 2;
            switch (e) {
            case '"': out[o++] = '"'; break;
            case '\\': out[o++] = '\\'; break;
            case '/': out[o++] = '/'; break;
            case 'b': out[o++] = '\b'; break;
            case 'f': out[o++] = '\f'; break;
            case 'n': out[o++] = '\n'; break;
            case 'r': out[o++] = '\r'; break;
            case 't': out[o++] = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (jp_hex4(p->s + p->i, end - p->i, &cp) < 0) {
                    jp_fail_at(p, p->line, jp_col(p, bs), "invalid \\u escape: expected 4 hex digits");
                    goto fail;
                }
                p->i += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    jp_fail_at(p, p->line, jp_col(p, bs), "invalid \\u escape: lone low surrogate");
                    goto fail;
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (end - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
                        jp_hex4(p->s + p->i + 2, end - p->i - 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
                        jp_fail_at(p, p->line, jp_col(p, bs),
                                   "invalid \\u escape: high surrogate without a low surrogate");
                        goto fail;
                    }
                    p->i += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0) {
                    jp_fail_at(p, p->line, jp_col(p, bs), "\\u0000 is not allowed in strings");
                    goto fail;
                }
                o += utf8_put(out + o, cp);
                break;
            }
            default:
                jp_fail_at(p, p->line, jp_col(p, bs), "invalid escape '\\%c' in string",
                           (e > 0x20 && e < 0x7f) ? e : '?');
                goto fail;
            }
        } else if (c < 0x20) {
            jp_fail_at(p, p->line, jp_col(p, p->i),
                       "unescaped control character %s in string", jp_char(cb, sizeof cb, c));
            goto fail;
        } else if (c < 0x80) {
            out[o++] = (char)c;
            p->i++;
        } else {
            size_t n = utf8_seq((const unsigned char *)p->s + p->i, end - p->i);
            if (!n) {
                jp_fail_at(p, p->line, jp_col(p, p->i), "invalid UTF-8 in string");
                goto fail;
            }
            memcpy(out + o, p->s + p->i, n);
            o += n;
            p->i += n;
        }
    }
    out[o] = '\0';
    p->i = end + 1;
    return out;
fail:
    free(out);
    return NULL;
}

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static cJSON *jp_number(jp *p)
{
    size_t st = p->i, k = st;
    const char *s = p->s;
    while (k < p->len && (is_word_char(s[k]) || s[k] == '.' || s[k] == '+' || s[k] == '-'))
        k++;
    /* validate JSON number grammar over [st, k) */
    size_t j = st;
    bool ok = true;
    if (j < k && s[j] == '-') j++;
    if (j < k && s[j] == '0') j++;
    else if (j < k && s[j] >= '1' && s[j] <= '9') { while (j < k && s[j] >= '0' && s[j] <= '9') j++; }
    else ok = false;
    if (ok && j < k && s[j] == '.') {
        j++;
        if (!(j < k && s[j] >= '0' && s[j] <= '9')) ok = false;
        while (j < k && s[j] >= '0' && s[j] <= '9') j++;
    }
    if (ok && j < k && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < k && (s[j] == '+' || s[j] == '-')) j++;
        if (!(j < k && s[j] >= '0' && s[j] <= '9')) ok = false;
        while (j < k && s[j] >= '0' && s[j] <= '9') j++;
    }
    if (!ok || j != k) {
        int n = (int)(k - st > 40 ? 40 : k - st);
        jp_fail_at(p, p->line, jp_col(p, st), "invalid number '%.*s'", n, s + st);
        return NULL;
    }
    char tmp[64];
    if (k - st >= sizeof tmp) {
        jp_fail_at(p, p->line, jp_col(p, st), "number too long");
        return NULL;
    }
    memcpy(tmp, s + st, k - st);
    tmp[k - st] = '\0';
    double v = strtod(tmp, NULL);
    if (isinf(v)) {
        jp_fail_at(p, p->line, jp_col(p, st), "number out of range '%s'", tmp);
        return NULL;
    }
    p->i = k;
    cJSON *n = cJSON_CreateNumber(v);
    if (!n)
        jp_oom(p);
    return n;
}

static cJSON *jp_value(jp *p, int kline, int kcol);

static bool jp_record(jp *p, const cJSON *node, int kline, int kcol, int vline, int vcol, size_t voff)
{
    pos_ent e = { node, p->file, kline > 0 ? kline : vline, kline > 0 ? kcol : vcol, vline, vcol, voff };
    if (pm_put(p->pm, &e) < 0) {
        jp_oom(p);
        return false;
    }
    return true;
}

static void jp_eof(jp *p, char open, int ol, int oc)
{
    jp_fail_at(p, p->line, jp_col(p, p->i), "unexpected end of input; '%c' at %d:%d is not closed",
               open, ol, oc);
}

static cJSON *jp_object(jp *p)
{
    int ol = p->line, oc = jp_col(p, p->i);
    char cb[16];
    p->i++;
    cJSON *obj = cJSON_CreateObject();
    if (!obj) {
        jp_oom(p);
        return NULL;
    }
    if (!jp_ws(p))
        goto fail;
    if (p->i < p->len && p->s[p->i] == '}') {
        p->i++;
        return obj;
    }
    for (;;) {
        if (p->i >= p->len) {
            jp_eof(p, '{', ol, oc);
            goto fail;
        }
        if (p->s[p->i] != '"') {
            jp_fail_at(p, p->line, jp_col(p, p->i), "expected a string key, found %s",
                       jp_char(cb, sizeof cb, (unsigned char)p->s[p->i]));
            goto fail;
        }
        int kl = p->line, kc = jp_col(p, p->i);
        char *key = jp_string(p);
        if (!key)
            goto fail;
        size_t saved;
        jp_path_push_key(p, key, &saved);
        const cJSON *prev = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (prev) {
            const pos_ent *pe = pm_get(p->pm, prev);
            jp_fail_at(p, kl, kc, "%s: duplicate key (first at %d:%d)", p->path,
                       pe ? pe->kline : 0, pe ? pe->kcol : 0);
            free(key);
            goto fail;
        }
        if (!jp_ws(p)) {
            free(key);
            goto fail;
        }
        if (p->i >= p->len) {
            free(key);
            jp_eof(p, '{', ol, oc);
            goto fail;
        }
        if (p->s[p->i] != ':') {
            jp_fail_at(p, p->line, jp_col(p, p->i), "expected ':' after object key");
            free(key);
            goto fail;
        }
        p->i++;
        cJSON *v = jp_value(p, kl, kc);
        if (!v) {
            free(key);
            goto fail;
        }
        jp_path_pop(p, saved);
        cJSON_AddItemToObject(obj, key, v);
        free(key);
        if (!v->string) {
            jp_oom(p);
            goto fail;
        }
        if (!jp_ws(p))
            goto fail;
        if (p->i >= p->len) {
            jp_eof(p, '{', ol, oc);
            goto fail;
        }
        if (p->s[p->i] == '}') {
            p->i++;
            return obj;
        }
        if (p->s[p->i] != ',') {
            jp_fail_at(p, p->line, jp_col(p, p->i), "expected ',' or '}' after object member");
            goto fail;
        }
        int cl = p->line, cc = jp_col(p, p->i);
        p->i++;
        if (!jp_ws(p))
            goto fail;
        if (p->i < p->len && p->s[p->i] == '}') {
            jp_fail_at(p, cl, cc, "trailing comma before '}'");
            goto fail;
        }
    }
fail:
    cJSON_Delete(obj);
    return NULL;
}

static cJSON *jp_array(jp *p)
{
    int ol = p->line, oc = jp_col(p, p->i);
    p->i++;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        jp_oom(p);
        return NULL;
    }
    if (!jp_ws(p))
        goto fail;
    if (p->i < p->len && p->s[p->i] == ']') {
        p->i++;
        return arr;
    }
    for (size_t idx = 0;; idx++) {
        if (p->i >= p->len) {
            jp_eof(p, '[', ol, oc);
            goto fail;
        }
        size_t saved;
        jp_path_push_index(p, idx, &saved);
        cJSON *v = jp_value(p, 0, 0);
        if (!v)
            goto fail;
        jp_path_pop(p, saved);
        cJSON_AddItemToArray(arr, v);
        if (!jp_ws(p))
            goto fail;
        if (p->i >= p->len) {
            jp_eof(p, '[', ol, oc);
            goto fail;
        }
        if (p->s[p->i] == ']') {
            p->i++;
            return arr;
        }
        if (p->s[p->i] != ',') {
            jp_fail_at(p, p->line, jp_col(p, p->i), "expected ',' or ']' after array element");
            goto fail;
        }
        int cl = p->line, cc = jp_col(p, p->i);
        p->i++;
        if (!jp_ws(p))
            goto fail;
        if (p->i < p->len && p->s[p->i] == ']') {
            jp_fail_at(p, cl, cc, "trailing comma before ']'");
            goto fail;
        }
    }
fail:
    cJSON_Delete(arr);
    return NULL;
}

/* Parse one value after optional whitespace; record its position (kline>0:
   it is an object member whose key starts there). */
static cJSON *jp_value(jp *p, int kline, int kcol)
{
    char cb[16];
    if (!jp_ws(p))
        return NULL;
    if (p->i >= p->len) {
        jp_fail_at(p, p->line, jp_col(p, p->i), "expected a JSON value, found end of input");
        return NULL;
    }
    int vl = p->line, vc = jp_col(p, p->i);
    size_t voff = p->i;
    char c = p->s[p->i];
    cJSON *v = NULL;
    if (c == '{' || c == '[') {
        if (p->depth >= CONF_MAX_DEPTH) {
            jp_fail_at(p, vl, vc, "nesting deeper than %d levels", CONF_MAX_DEPTH);
            return NULL;
        }
        p->depth++;
        v = c == '{' ? jp_object(p) : jp_array(p);
        p->depth--;
    } else if (c == '"') {
        char *s = jp_string(p);
        if (!s)
            return NULL;
        v = cJSON_CreateString(s);
        free(s);
        if (!v)
            jp_oom(p);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v = jp_number(p);
    } else if (is_word_char(c)) {
        size_t k = p->i;
        while (k < p->len && is_word_char(p->s[k]))
            k++;
        size_t n = k - p->i;
        if (n == 4 && !memcmp(p->s + p->i, "true", 4)) v = cJSON_CreateTrue();
        else if (n == 5 && !memcmp(p->s + p->i, "false", 5)) v = cJSON_CreateFalse();
        else if (n == 4 && !memcmp(p->s + p->i, "null", 4)) v = cJSON_CreateNull();
        else {
            jp_fail_at(p, vl, vc, "invalid literal '%.*s'; expected true, false or null",
                       (int)(n > 40 ? 40 : n), p->s + p->i);
            return NULL;
        }
        if (!v) {
            jp_oom(p);
            return NULL;
        }
        p->i = k;
    } else if (c == '\'') {
        jp_fail_at(p, vl, vc, "expected a JSON value, found \"'\" (strings use double quotes)");
        return NULL;
    } else {
        jp_fail_at(p, vl, vc, "expected a JSON value, found %s",
                   jp_char(cb, sizeof cb, (unsigned char)c));
        return NULL;
    }
    if (!v)
        return NULL;
    if (!jp_record(p, v, kline, kcol, vl, vc, voff)) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

/* Parse a whole document. Returns the root or NULL with p->failed set. */
static cJSON *jp_document(jp *p)
{
    if (p->len >= 3 && !memcmp(p->s, "\xef\xbb\xbf", 3)) {   /* UTF-8 BOM */
        p->i = 3;
        p->line_start = 3;
    }
    cJSON *root = jp_value(p, 0, 0);
    if (!root)
        return NULL;
    if (!jp_ws(p)) {
        cJSON_Delete(root);
        return NULL;
    }
    if (p->i < p->len) {
        char cb[16];
        jp_fail_at(p, p->line, jp_col(p, p->i), "unexpected %s after the top-level value",
                   jp_char(cb, sizeof cb, (unsigned char)p->s[p->i]));
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static void jp_init(jp *p, const char *text, size_t len, int file, posmap *pm)
{
    memset(p, 0, sizeof *p);
    p->s = text;
    p->len = len;
    p->line = 1;
    p->file = file;
    p->pm = pm;
}

int ceb_conf_parse_json(const char *name, const char *text, size_t len, cJSON **out,
                        ceb_conf_pos *pos, ceb_diag *d)
{
    posmap pm = { 0 };
    jp p;
    *out = NULL;
    jp_init(&p, text, len, 0, &pm);
    cJSON *root = jp_document(&p);
    pm_free(&pm);
    if (!root) {
        if (pos) {
            pos->file = name;
            pos->line = p.eline;
            pos->col = p.ecol;
        }
        if (d) {
            d->code = p.oom ? CEB_ENOMEM : CEB_ECONFIG;
            d->field[0] = '\0';
            snprintf(d->message, sizeof d->message, "%s", p.emsg);
        }
        return p.oom ? CEB_ENOMEM : CEB_ECONFIG;
    }
    *out = root;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Messages.                                                                 */

typedef struct conf_msg {
    int file;             /* -1: not tied to a file */
    int line, col;        /* 0: not tied to a position */
    unsigned seq;
    char *text;
} conf_msg;

typedef struct msgvec {
    conf_msg *v;
    size_t n, cap;
} msgvec;

typedef struct conf_file {
    char *text;
    size_t len;
    cJSON *root;
} conf_file;

typedef struct loader {
    ceb_conf *c;
    const ceb_conf_load_opts *o;
    conf_file *files;          /* parallel to c->files */
    posmap pm;
    msgvec errs, warns;
    unsigned seq;
    bool oom;
} loader;

static void msg_addv(loader *L, msgvec *mv, int file, int line, int col, const char *path,
                     const char *fmt, va_list ap)
{
    char body[1024];
    vsnprintf(body, sizeof body, fmt, ap);
    char head[600] = "";
    if (file >= 0 && line > 0)
        snprintf(head, sizeof head, "%s:%d:%d: ", L->c->files[file], line, col);
    else if (file >= 0)
        snprintf(head, sizeof head, "%s: ", L->c->files[file]);
    size_t need = strlen(head) + (path && *path ? strlen(path) + 2 : 0) + strlen(body) + 1;
    char *t = malloc(need);
    if (!t) {
        L->oom = true;
        return;
    }
    snprintf(t, need, "%s%s%s%s", head, path && *path ? path : "", path && *path ? ": " : "", body);
    if (mv->n == mv->cap) {
        size_t nc = mv->cap ? mv->cap * 2 : 16;
        conf_msg *nv = realloc(mv->v, nc * sizeof(*nv));
        if (!nv) {
            free(t);
            L->oom = true;
            return;
        }
        mv->v = nv;
        mv->cap = nc;
    }
    mv->v[mv->n++] = (conf_msg){ file, line, col, L->seq++, t };
}

/* An error (warn=false) or warning at a node: the key of a member
   (at_key) or the value itself. */
static void note_node(loader *L, bool warn, const cJSON *node, bool at_key, const char *path,
                      const char *fmt, ...) CEB_ATTR_PRINTF(6, 7);
static void note_node(loader *L, bool warn, const cJSON *node, bool at_key, const char *path,
                      const char *fmt, ...)
{
    const pos_ent *e = pm_get(&L->pm, node);
    va_list ap;
    va_start(ap, fmt);
    msg_addv(L, warn ? &L->warns : &L->errs, e ? e->file : -1, e ? (at_key ? e->kline : e->vline) : 0,
             e ? (at_key ? e->kcol : e->vcol) : 0, path, fmt, ap);
    va_end(ap);
}

static void note_at(loader *L, bool warn, int file, int line, int col, const char *path,
                    const char *fmt, ...) CEB_ATTR_PRINTF(7, 8);
static void note_at(loader *L, bool warn, int file, int line, int col, const char *path,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_addv(L, warn ? &L->warns : &L->errs, file, line, col, path, fmt, ap);
    va_end(ap);
}

#define ERR_AT_KEY(L, node, path, ...) note_node(L, false, node, true, path, __VA_ARGS__)
#define ERR_AT_VAL(L, node, path, ...) note_node(L, false, node, false, path, __VA_ARGS__)

static int msg_cmp(const void *a, const void *b)
{
    const conf_msg *x = a, *y = b;
    if (x->file != y->file) return x->file < y->file ? -1 : 1;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort and hand the texts over as a char** list. */
static int msg_export(msgvec *mv, char ***lines, size_t *n)
{
    *lines = NULL;
    *n = 0;
    if (!mv->n)
        return 0;
    qsort(mv->v, mv->n, sizeof(*mv->v), msg_cmp);
    char **l = malloc(mv->n * sizeof(*l));
    if (!l)
        return CEB_ENOMEM;
    for (size_t i = 0; i < mv->n; i++) {
        l[i] = mv->v[i].text;
        mv->v[i].text = NULL;
    }
    *lines = l;
    *n = mv->n;
    mv->n = 0;
    return 0;
}

static void msg_free(msgvec *mv)
{
    for (size_t i = 0; i < mv->n; i++)
        free(mv->v[i].text);
    free(mv->v);
    memset(mv, 0, sizeof *mv);
}

void ceb_conf_errors_free(ceb_conf_errors *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->lines[i]);
    free(e->lines);
    for (size_t i = 0; i < e->nwarnings; i++)
        free(e->warnings[i]);
    free(e->warnings);
    memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                  */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest candidate within a small edit distance, or NULL. */
static const char *suggest(const char *word, const char *const *cand, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    size_t wl = strlen(word);
    size_t limit = wl <= 3 ? 1 : wl <= 6 ? 2 : 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cand[i]);
        if (d <= limit && d < bestd) {
            bestd = d;
            best = cand[i];
        }
    }
    return best;
}

/* "; did you mean 'x'?" or "" into buf. */
static const char *did_you_mean(char *buf, size_t cap, const char *word, const char *const *cand, size_t n)
{
    const char *s = suggest(word, cand, n);
    if (s)
        snprintf(buf, cap, "; did you mean '%s'?", s);
    else
        buf[0] = '\0';
    return buf;
}

/* Names may be printed in paths: replace anything unprintable, cap the length. */
static const char *printable(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 1 < cap && o < 80; s++)
        buf[o++] = ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f) ? *s : '?';
    buf[o] = '\0';
    return buf;
}

static bool name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CONF_MAX_NAME)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static const char *json_kind(const cJSON *j)
{
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "invalid";
}

/* Follow a field path ("a.b", "a[2].c") from `from`; returns the deepest
   node that exists on the way (`from` itself when the first step is absent). */
static const cJSON *navigate(const cJSON *from, const char *path)
{
    const cJSON *cur = from;
    const char *s = path;
    char seg[128];
    while (s && *s) {
        if (*s == '.') {
            s++;
            continue;
        }
        if (*s == '[') {
            char *end;
            long idx = strtol(s + 1, &end, 10);
            if (*end != ']' || idx < 0 || !cJSON_IsArray(cur))
                return cur;
            const cJSON *nx = cJSON_GetArrayItem(cur, (int)idx);
            if (!nx)
                return cur;
            cur = nx;
            s = end + 1;
            continue;
        }
        size_t n = strcspn(s, ".[");
        if (n >= sizeof seg || !cJSON_IsObject(cur))
            return cur;
        memcpy(seg, s, n);
        seg[n] = '\0';
        const cJSON *nx = cJSON_GetObjectItemCaseSensitive(cur, seg);
        if (!nx)
            return cur;
        cur = nx;
        s += n;
    }
    return cur;
}

/* Byte column of the decoded byte `target` inside the string literal that
   starts (with its quote) at `voff` / column `vcol`. */
static int string_col(const conf_file *f, size_t voff, int vcol, size_t target)
{
    const char *t = f->text;
    size_t i = voff + 1, dec = 0;
    int col = vcol + 1;
    while (i < f->len && t[i] != '"' && dec < target) {
        if (t[i] == '\\' && i + 1 < f->len) {
            if (t[i + 1] == 'u' && i + 5 < f->len) {
                unsigned cp = 0, lo = 0;
                jp_hex4(t + i + 2, 4, &cp);
                size_t adv = 6;
                if (cp >= 0xd800 && cp <= 0xdbff && i + 11 < f->len && t[i + 6] == '\\') {
                    jp_hex4(t + i + 8, 4, &lo);
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    adv = 12;
                }
                char tmp[4];
                dec += utf8_put(tmp, cp);
                i += adv;
                col += (int)adv;
            } else {
                dec++;
                i += 2;
                col += 2;
            }
        } else {
            dec++;
            i++;
            col++;
        }
    }
    return col;
}

static bool string_list_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

/* Durations: "250ms", "30s", ... or a non-negative integer of milliseconds. */
static bool get_duration(loader *L, const cJSON *j, const char *path, int64_t *out)
{
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        /* range first: casting an out-of-range double is undefined */
        if (!(d >= 0 && d <= 9.0e15) || d != (double)(int64_t)d) {
            ERR_AT_VAL(L, j, path, "invalid duration %g: use a non-negative number of milliseconds "
                       "or a string such as \"250ms\", \"30s\", \"5m\"", d);
            return false;
        }
        *out = (int64_t)d;
        return true;
    }
    if (!cJSON_IsString(j)) {
        ERR_AT_VAL(L, j, path, "expected a duration such as \"250ms\", \"30s\", \"5m\", found %s",
                   json_kind(j));
        return false;
    }
    int64_t ms;
    if (ceb_parse_duration_ms(j->valuestring, &ms) < 0 || ms < 0) {
        char pb[100];
        ERR_AT_VAL(L, j, path, "invalid duration \"%s\" (use e.g. \"250ms\", \"30s\", \"5m\", \"1h\")",
                   printable(pb, sizeof pb, j->valuestring));
        return false;
    }
    *out = ms;
    return true;
}

static bool get_uint(loader *L, const cJSON *j, const char *path, long long min, long long max,
                     uint32_t *out)
{
    if (!cJSON_IsNumber(j)) {
        ERR_AT_VAL(L, j, path, "expected an integer, found %s", json_kind(j));
        return false;
    }
    double d = j->valuedouble;
    /* range first: casting an out-of-range double is undefined */
    if (!(d >= (double)min && d <= (double)max)) {
        ERR_AT_VAL(L, j, path, "%g is out of range [%lld, %lld]", d, min, max);
        return false;
    }
    long long v = (long long)d;
    if ((double)v != d) {
        ERR_AT_VAL(L, j, path, "expected an integer, found a fraction");
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* One of `choices` (NULL-terminated) -> index. */
static bool get_enum(loader *L, const cJSON *j, const char *path, const char *const *choices, int *out)
{
    size_t n = 0;
    char allowed[200] = "";
    for (; choices[n]; n++) {
        size_t al = strlen(allowed);
        snprintf(allowed + al, sizeof allowed - al, "%s%s", n ? ", " : "", choices[n]);
    }
    if (!cJSON_IsString(j)) {
        ERR_AT_VAL(L, j, path, "expected one of %s, found %s", allowed, json_kind(j));
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(j->valuestring, choices[i])) {
            *out = (int)i;
            return true;
        }
    char dym[100], pb[100];
    ERR_AT_VAL(L, j, path, "invalid value \"%s\" (allowed: %s)%s", printable(pb, sizeof pb, j->valuestring),
               allowed, did_you_mean(dym, sizeof dym, j->valuestring, choices, n));
    return false;
}

/* An unknown key in an object with a fixed key set. */
static void unknown_key(loader *L, const cJSON *member, const char *path, const char *what,
                        const char *const *keys)
{
    size_t n = 0;
    char allowed[300] = "";
    for (; keys[n]; n++) {
        size_t al = strlen(allowed);
        snprintf(allowed + al, sizeof allowed - al, "%s%s", n ? ", " : "", keys[n]);
    }
    char dym[100], pb[100];
    did_you_mean(dym, sizeof dym, member->string, keys, n);
    ERR_AT_KEY(L, member, path, "unknown %s '%s'%s (allowed: %s)", what,
               printable(pb, sizeof pb, member->string), dym, allowed);
}

static bool key_in(const char *k, const char *const *keys)
{
    for (; *keys; keys++)
        if (!strcmp(k, *keys))
            return true;
    return false;
}

/* ------------------------------------------------------------------------ */
/* Fingerprints.                                                             */

static int member_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int sort_keys(cJSON *j)
{
    if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
        return 0;
    size_t n = 0;
    for (cJSON *c = j->child; c; c = c->next) {
        int rc = sort_keys(c);
        if (rc < 0)
            return rc;
        n++;
    }
    if (!cJSON_IsObject(j) || n < 2)
        return 0;
    cJSON **v = malloc(n * sizeof(*v));
    if (!v)
        return CEB_ENOMEM;
    size_t i = 0;
    for (cJSON *c = j->child; c; c = c->next)
        v[i++] = c;
    qsort(v, n, sizeof(*v), member_cmp);
    for (i = 0; i < n; i++) {
        v[i]->prev = i ? v[i - 1] : v[n - 1];   /* cJSON: head->prev is the tail */
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
    }
    j->child = v[0];
    free(v);
    return 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Replace every secret option's value in `copy` with a digest of the text as
   given and of the resolved value: a changed password (or the content of a
   ${file:...}) changes the fingerprint, yet the text holds no secret. */
static int mask_secrets(cJSON *copy, const ceb_option *table, const void *config)
{
    if (!table)
        return 0;
    for (const ceb_option *o = table; o->name; o++) {
        if (o->type != CEB_OPT_SECRET)
            continue;
        const cJSON *node = navigate(copy, o->name);
        if (node == copy || !node->string)
            continue;
        /* navigate stops at the deepest existing node: make sure it is the option */
        const char *last = strrchr(o->name, '.');
        if (strcmp(node->string, last ? last + 1 : o->name))
            continue;
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        char *given = cJSON_PrintUnformatted(node);
        if (given) {
            h = fnv1a(h, given, strlen(given) + 1);
            free(given);
        }
        const ceb_secret *sec = config ? *(const ceb_secret *const *)((const char *)config + o->offset) : NULL;
        if (sec) {
            size_t len = 0;
            const char *val = ceb_secret_reveal(sec, &len);
            if (val)
                h = fnv1a(h, val, len);
        }
        char txt[40];
        snprintf(txt, sizeof txt, "<secret:%016" PRIx64 ">", h);
        cJSON *rep = cJSON_CreateString(txt);
        if (!rep)
            return CEB_ENOMEM;
        /* the parent is the node whose child list holds `node` */
        cJSON *parent = copy;
        if (last) {
            char pp[128];
            size_t pl = (size_t)(last - o->name);
            if (pl >= sizeof pp) {
                cJSON_Delete(rep);
                continue;
            }
            memcpy(pp, o->name, pl);
            pp[pl] = '\0';
            parent = (cJSON *)navigate(copy, pp);
        }
        /* (ReplaceItemViaPointer would drop the key: this one sets it) */
        if (!cJSON_ReplaceItemInObjectCaseSensitive(parent, last ? last + 1 : o->name, rep)) {
            cJSON_Delete(rep);
            return CEB_ENOMEM;
        }
    }
    return 0;
}

static char *fingerprint(const cJSON *obj, const ceb_option *table, const void *config)
{
    cJSON *copy = cJSON_Duplicate(obj, 1);
    if (!copy)
        return NULL;
    char *out = NULL;
    if (mask_secrets(copy, table, config) == 0 && sort_keys(copy) == 0)
        out = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Settings.                                                                 */

static const char *const settings_keys[] = {
    "plugin_dir", "drain_timeout", "max_inflight", "log_level", "log_format", NULL
};
static const char *const log_levels[] = { "error", "warn", "info", "debug", "trace", NULL };
static const char *const log_formats[] = { "logfmt", "json", NULL };

static int replace_str(char **dst, const char *src)
{
    char *n = strdup(src);
    if (!n)
        return CEB_ENOMEM;
    free(*dst);
    *dst = n;
    return 0;
}

static void load_settings(loader *L, const cJSON *set)
{
    ceb_conf_settings *s = &L->c->settings;
    char path[300];
    if (!cJSON_IsObject(set)) {
        ERR_AT_VAL(L, set, "settings", "expected an object, found %s", json_kind(set));
        return;
    }
    for (const cJSON *m = set->child; m; m = m->next) {
        snprintf(path, sizeof path, "settings.%s", m->string);
        if (!key_in(m->string, settings_keys)) {
            unknown_key(L, m, "settings", "setting", settings_keys);
            continue;
        }
        int idx;
        if (!strcmp(m->string, "plugin_dir")) {
            if (!cJSON_IsString(m) || !*m->valuestring)
                ERR_AT_VAL(L, m, path, "expected a directory path (a non-empty string)");
            else if (replace_str(&s->plugin_dir, m->valuestring) < 0)
                L->oom = true;
        } else if (!strcmp(m->string, "drain_timeout")) {
            get_duration(L, m, path, &s->drain_timeout_ms);
        } else if (!strcmp(m->string, "max_inflight")) {
            get_uint(L, m, path, 1, CONF_MAX_MAX_INFLIGHT, &s->max_inflight);
        } else if (!strcmp(m->string, "log_level")) {
            if (get_enum(L, m, path, log_levels, &idx) && replace_str(&s->log_level, log_levels[idx]) < 0)
                L->oom = true;
        } else if (!strcmp(m->string, "log_format")) {
            if (get_enum(L, m, path, log_formats, &idx) && replace_str(&s->log_format, log_formats[idx]) < 0)
                L->oom = true;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Instances.                                                                */

typedef struct inst_vec {
    ceb_conf_instance **v;
    size_t *n;
    size_t cap;
} inst_vec;

typedef struct report_ctx {
    loader *L;
    const cJSON *obj;
    const char *kind;     /* "sources" / "sinks" */
    const char *name;
} report_ctx;

static void option_report(void *arg, const ceb_diag *d)
{
    report_ctx *r = arg;
    char path[400], pb[100];
    printable(pb, sizeof pb, r->name);
    if (d->field[0])
        snprintf(path, sizeof path, "%s.%s.%s", r->kind, pb, d->field);
    else
        snprintf(path, sizeof path, "%s.%s", r->kind, pb);
    const cJSON *at = d->field[0] ? navigate(r->obj, d->field) : r->obj;
    /* code 0 is a warning (a deprecated option that is set) */
    note_node(r->L, d->code == 0, at, true, path, "%s",
              d->message[0] ? d->message : ceb_strerror(d->code));
}

static const ceb_conf_instance *find_inst(const ceb_conf_instance *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name))
            return &v[i];
    return NULL;
}

static void instance_clear(ceb_conf_instance *in)
{
    free(in->name);
    free(in->plugin_name);
    free(in->fingerprint);
    if (in->owned)
        ceb__optvals_free(in->owned);
    free(in->config);
    memset(in, 0, sizeof *in);
}

/* Validate one instance object and fill `in`. Errors are collected. */
static void load_instance(loader *L, ceb_role role, const cJSON *m, ceb_conf_instance *in)
{
    const char *kind = role == CEB_ROLE_SOURCE ? "sources" : "sinks";
    const char *rname = role == CEB_ROLE_SOURCE ? "source" : "sink";
    char path[300], pb[100];
    snprintf(path, sizeof path, "%s.%s", kind, printable(pb, sizeof pb, m->string));
    if (!cJSON_IsObject(m)) {
        ERR_AT_VAL(L, m, path, "expected an object with \"plugin\" and its options, found %s", json_kind(m));
        return;
    }
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(m, "plugin");
    char ppath[320];
    snprintf(ppath, sizeof ppath, "%s.plugin", path);
    if (!pl) {
        ERR_AT_KEY(L, m, path, "missing \"plugin\" (the plugin that implements this %s, e.g. \"file\")", rname);
        return;
    }
    if (!cJSON_IsString(pl) || !*pl->valuestring) {
        ERR_AT_VAL(L, pl, ppath, "expected a plugin name (a non-empty string), found %s",
                   cJSON_IsString(pl) ? "an empty string" : json_kind(pl));
        return;
    }
    in->plugin_name = strdup(pl->valuestring);
    if (!in->plugin_name) {
        L->oom = true;
        return;
    }
    /* core keys of a sink */
    if (role == CEB_ROLE_SINK) {
        const cJSON *mi = cJSON_GetObjectItemCaseSensitive(m, "max_inflight");
        if (mi) {
            char mpath[320];
            snprintf(mpath, sizeof mpath, "%s.max_inflight", path);
            get_uint(L, mi, mpath, 1, CONF_MAX_MAX_INFLIGHT, &in->max_inflight);
        }
    }
    if (!L->o->resolve) {
        in->fingerprint = fingerprint(m, NULL, NULL);
        if (!in->fingerprint)
            L->oom = true;
        return;
    }
    const ceb_plugin *p = NULL;
    ceb_diag d;
    memset(&d, 0, sizeof d);
    int rc = L->o->resolve(L->o->arg, pl->valuestring, &p, &d);
    if (rc < 0 || !p) {
        if (rc == CEB_ENOMEM)
            L->oom = true;
        if (d.message[0])
            ERR_AT_VAL(L, pl, ppath, "%s", d.message);
        else
            ERR_AT_VAL(L, pl, ppath, "cannot load plugin '%s': %s", printable(pb, sizeof pb, pl->valuestring),
                       ceb_strerror(rc < 0 ? rc : CEB_EPLUGIN));
        return;
    }
    const ceb_option *table, *other_table;
    size_t config_size;
    const char *other_role;
    if (role == CEB_ROLE_SOURCE) {
        if (!p->source) {
            ERR_AT_VAL(L, pl, ppath, "plugin %s has no source role (it provides: sink)", p->name);
            return;
        }
        table = p->source->options;
        config_size = p->source->config_size;
        other_table = p->sink ? p->sink->options : NULL;
        other_role = "sink";
    } else {
        if (!p->sink) {
            ERR_AT_VAL(L, pl, ppath, "plugin %s has no sink role (it provides: source)", p->name);
            return;
        }
        table = p->sink->options;
        config_size = p->sink->config_size;
        other_table = p->source ? p->source->options : NULL;
        other_role = "source";
    }
    static const char *const skip_source[] = { "plugin", NULL };
    static const char *const skip_sink[] = { "plugin", "max_inflight", NULL };
    static const ceb_option empty_table[] = { CEB_OPTION_END };
    void *config = calloc(1, config_size ? config_size : 1);
    if (!config) {
        L->oom = true;
        return;
    }
    report_ctx rctx = { L, m, kind, m->string };
    ceb__optvals *owned = NULL;
    rc = ceb__options_apply(table ? table : empty_table, config_size, m, p->name, rname,
                            role == CEB_ROLE_SOURCE ? skip_source : skip_sink,
                            other_table, other_role, config, &owned, option_report, &rctx);
    if (rc < 0) {
        if (rc == CEB_ENOMEM)
            L->oom = true;
        free(config);
        return;
    }
    in->plugin = p;
    in->config = config;
    in->owned = owned;
    in->fingerprint = fingerprint(m, table, config);
    if (!in->fingerprint)
        L->oom = true;
}

static void load_instances(loader *L, ceb_role role, const cJSON *section)
{
    const char *kind = role == CEB_ROLE_SOURCE ? "sources" : "sinks";
    ceb_conf_instance **arr = role == CEB_ROLE_SOURCE ? &L->c->sources : &L->c->sinks;
    size_t *n = role == CEB_ROLE_SOURCE ? &L->c->nsources : &L->c->nsinks;
    char path[300], pb[100];
    if (!cJSON_IsObject(section)) {
        ERR_AT_VAL(L, section, kind, "expected an object keyed by %s name, found %s",
                   role == CEB_ROLE_SOURCE ? "source" : "sink", json_kind(section));
        return;
    }
    for (const cJSON *m = section->child; m; m = m->next) {
        snprintf(path, sizeof path, "%s.%s", kind, printable(pb, sizeof pb, m->string));
        if (!name_valid(m->string)) {
            ERR_AT_KEY(L, m, path, "invalid name: use 1 to %d characters a-z 0-9 _ . - starting with "
                       "a letter or digit", CONF_MAX_NAME);
            continue;
        }
        const ceb_conf_instance *prev = find_inst(*arr, *n, m->string);
        if (prev) {
            ERR_AT_KEY(L, m, path, "already defined at %s:%d:%d", prev->pos.file, prev->pos.line, prev->pos.col);
            continue;
        }
        ceb_conf_instance *nv = realloc(*arr, (*n + 1) * sizeof(**arr));
        if (!nv) {
            L->oom = true;
            return;
        }
        *arr = nv;
        ceb_conf_instance *in = &nv[*n];
        memset(in, 0, sizeof *in);
        in->name = strdup(m->string);
        if (!in->name) {
            L->oom = true;
            return;
        }
        (*n)++;
        const pos_ent *pe = pm_get(&L->pm, m);
        in->role = role;
        if (pe) {
            in->pos.file = L->c->files[pe->file];
            in->pos.line = pe->kline;
            in->pos.col = pe->kcol;
        }
        in->max_inflight = 0;   /* 0 = not given; defaulted after settings */
        load_instance(L, role, m, in);
    }
}

/* ------------------------------------------------------------------------ */
/* Routes.                                                                   */

static const char *const route_keys[] = {
    "from", "to", "filter", "retry", "dead_letter", "transform", NULL
};
static const char *const retry_keys[] = { "attempts", "backoff", "initial", "max", "timeout", NULL };
static const char *const backoff_names[] = { "exponential", "linear", "constant", NULL };
static const char *const transform_keys[] = { "set", "remove", NULL };
static const char *const required_attrs[] = { "id", "source", "specversion", "type", NULL };

static void route_clear(ceb_conf_route *r)
{
    free(r->name);
    for (size_t i = 0; i < r->nfrom; i++)
        free(r->from[i]);
    free(r->from);
    for (size_t i = 0; i < r->nto; i++)
        free(r->to[i]);
    free(r->to);
    free(r->filter_text);
    ceb_cesql_free(r->filter);
    free(r->dead_letter);
    for (size_t i = 0; i < r->ntransform; i++) {
        free(r->transform[i].attr);
        ceb_template_free(r->transform[i].value);
    }
    free(r->transform);
    memset(r, 0, sizeof *r);
}

/* Names of the instances of one kind, for did-you-mean. */
static const char **inst_names(const ceb_conf_instance *v, size_t n)
{
    const char **names = malloc((n ? n : 1) * sizeof(*names));
    if (names)
        for (size_t i = 0; i < n; i++)
            names[i] = v[i].name;
    return names;
}

/* "from" / "to": a name or a non-empty list of names, each defined. */
static void route_ends(loader *L, const cJSON *j, const char *rpath, const char *key, ceb_role role,
                       char ***out, size_t *nout)
{
    const char *what = role == CEB_ROLE_SOURCE ? "source" : "sink";
    const ceb_conf_instance *v = role == CEB_ROLE_SOURCE ? L->c->sources : L->c->sinks;
    size_t nv = role == CEB_ROLE_SOURCE ? L->c->nsources : L->c->nsinks;
    char path[400], pb[100], dym[100];
    snprintf(path, sizeof path, "%s.%s", rpath, key);
    if (!cJSON_IsString(j) && !cJSON_IsArray(j)) {
        ERR_AT_VAL(L, j, path, "expected a %s name or a list of %s names, found %s", what, what, json_kind(j));
        return;
    }
    if (cJSON_IsArray(j) && !j->child) {
        ERR_AT_VAL(L, j, path, "empty list: name at least one %s", what);
        return;
    }
    size_t cnt = cJSON_IsArray(j) ? (size_t)cJSON_GetArraySize(j) : 1;
    char **names = calloc(cnt, sizeof(*names));
    const char **cand = inst_names(v, nv);
    if (!names || !cand) {
        free(names);
        free(cand);
        L->oom = true;
        return;
    }
    size_t k = 0, idx = 0;
    const cJSON *e = cJSON_IsArray(j) ? j->child : j;
    for (; e; e = cJSON_IsArray(j) ? e->next : NULL, idx++) {
        char epath[420];
        if (cJSON_IsArray(j))
            snprintf(epath, sizeof epath, "%s[%zu]", path, idx);
        else
            snprintf(epath, sizeof epath, "%s", path);
        if (!cJSON_IsString(e)) {
            ERR_AT_VAL(L, e, epath, "expected a %s name, found %s", what, json_kind(e));
            continue;
        }
        if (!find_inst(v, nv, e->valuestring)) {
            ERR_AT_VAL(L, e, epath, "unknown %s '%s'%s", what, printable(pb, sizeof pb, e->valuestring),
                       did_you_mean(dym, sizeof dym, e->valuestring, cand, nv));
            continue;
        }
        if (string_list_has(names, k, e->valuestring)) {
            ERR_AT_VAL(L, e, epath, "%s '%s' is listed twice", what, e->valuestring);
            continue;
        }
        names[k] = strdup(e->valuestring);
        if (!names[k]) {
            L->oom = true;
            break;
        }
        k++;
    }
    free(cand);
    *out = names;
    *nout = k;
}

static void route_filter(loader *L, const cJSON *f, const char *rpath, ceb_conf_route *r)
{
    char path[400];
    snprintf(path, sizeof path, "%s.filter", rpath);
    ceb_cesql_error err;
    memset(&err, 0, sizeof err);
    int rc;
    if (cJSON_IsString(f)) {
        if (!*f->valuestring) {
            ERR_AT_VAL(L, f, path, "empty filter; omit \"filter\" to match every event");
            return;
        }
        rc = ceb_cesql_compile(f->valuestring, strlen(f->valuestring), 0, &r->filter, &err);
        if (rc < 0) {
            if (rc == CEB_ENOMEM) {
                L->oom = true;
                return;
            }
            const pos_ent *pe = pm_get(&L->pm, f);
            if (!pe) {
                ERR_AT_VAL(L, f, path, "%s", err.message);
                return;
            }
            int col = string_col(&L->files[pe->file], pe->voff, pe->vcol, err.offset);
            note_at(L, false, pe->file, pe->vline, col, path, "%s", err.message[0] ? err.message : "invalid CESQL");
            return;
        }
        r->filter_text = strdup(f->valuestring);
    } else if (cJSON_IsObject(f)) {
        rc = ceb_cesql_compile_dialect(f, 0, &r->filter, &err);
        if (rc < 0) {
            if (rc == CEB_ENOMEM) {
                L->oom = true;
                return;
            }
            char epath[520];
            if (err.path[0])
                snprintf(epath, sizeof epath, "%s.%s", path, err.path);
            else
                snprintf(epath, sizeof epath, "%s", path);
            const cJSON *at = err.path[0] ? navigate(f, err.path) : f;
            const pos_ent *pe = pm_get(&L->pm, at);
            const char *msg = err.message[0] ? err.message : "invalid filter";
            if (pe && cJSON_IsString(at) && err.column > 0) {
                int col = string_col(&L->files[pe->file], pe->voff, pe->vcol, err.offset);
                note_at(L, false, pe->file, pe->vline, col, epath, "%s", msg);
            } else {
                ERR_AT_KEY(L, at, epath, "%s", msg);
            }
            return;
        }
        r->filter_text = cJSON_PrintUnformatted(f);
    } else {
        ERR_AT_VAL(L, f, path, "expected a CESQL expression (string) or a filter object "
                   "({\"exact\": ...}, {\"all\": [...]}, ...), found %s", json_kind(f));
        return;
    }
    if (!r->filter_text) {
        L->oom = true;
        return;
    }
    int t = ceb_cesql_static_type(r->filter);
    if (t == CEB_CESQL_T_INT || t == CEB_CESQL_T_STRING)
        ERR_AT_VAL(L, f, path, "the filter yields %s, not a Boolean: it would never match",
                   t == CEB_CESQL_T_INT ? "an Integer" : "a String");
}

static void route_retry(loader *L, const cJSON *rt, const char *rpath, ceb_conf_retry *out)
{
    char path[400], fpath[420];
    snprintf(path, sizeof path, "%s.retry", rpath);
    if (!cJSON_IsObject(rt)) {
        ERR_AT_VAL(L, rt, path, "expected an object {\"attempts\", \"backoff\", \"initial\", \"max\", "
                   "\"timeout\"}, found %s", json_kind(rt));
        return;
    }
    bool ok_initial = true, ok_max = true;
    bool have_initial = false, have_max = false;
    for (const cJSON *m = rt->child; m; m = m->next) {
        snprintf(fpath, sizeof fpath, "%s.%s", path, m->string);
        if (!key_in(m->string, retry_keys)) {
            unknown_key(L, m, path, "key", retry_keys);
        } else if (!strcmp(m->string, "attempts")) {
            get_uint(L, m, fpath, 1, 1000000, &out->attempts);
        } else if (!strcmp(m->string, "backoff")) {
            int idx;
            if (get_enum(L, m, fpath, backoff_names, &idx))
                out->backoff = (ceb_backoff)idx;
        } else if (!strcmp(m->string, "initial")) {
            have_initial = true;
            ok_initial = get_duration(L, m, fpath, &out->initial_ms);
        } else if (!strcmp(m->string, "max")) {
            have_max = true;
            ok_max = get_duration(L, m, fpath, &out->max_ms);
        } else if (!strcmp(m->string, "timeout")) {
            get_duration(L, m, fpath, &out->timeout_ms);
        }
    }
    if (ok_initial && ok_max && out->initial_ms > out->max_ms) {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(rt, have_initial ? "initial" : "max");
        snprintf(fpath, sizeof fpath, "%s.%s", path, have_initial ? "initial" : "max");
        ERR_AT_VAL(L, at ? at : rt, fpath, "initial delay %" PRId64 "ms exceeds the cap max %" PRId64 "ms%s",
                   out->initial_ms, out->max_ms, have_max ? "" : " (default)");
    }
}

static int transform_add(ceb_conf_route *r, const char *attr, ceb_template *t)
{
    ceb_conf_transform_op *nv = realloc(r->transform, (r->ntransform + 1) * sizeof(*nv));
    if (!nv)
        return CEB_ENOMEM;
    r->transform = nv;
    nv[r->ntransform].attr = strdup(attr);
    if (!nv[r->ntransform].attr)
        return CEB_ENOMEM;
    nv[r->ntransform].value = t;
    r->ntransform++;
    return 0;
}

static bool attr_name_ok(loader *L, const cJSON *at, bool at_key, const char *path, const char *name)
{
    ceb_diag d;
    memset(&d, 0, sizeof d);
    if (ceb_attr_name_check(name, strlen(name), &d) < 0) {
        note_node(L, false, at, at_key, path, "%s", d.message[0] ? d.message : "invalid attribute name");
        return false;
    }
    return true;
}

static void route_transform(loader *L, const cJSON *tr, const char *rpath, ceb_conf_route *r)
{
    char path[400], fpath[600], pb[100];
    snprintf(path, sizeof path, "%s.transform", rpath);
    if (!cJSON_IsObject(tr)) {
        ERR_AT_VAL(L, tr, path, "expected an object {\"set\": {...}, \"remove\": [...]}, found %s", json_kind(tr));
        return;
    }
    for (const cJSON *m = tr->child; m; m = m->next)
        if (!key_in(m->string, transform_keys))
            unknown_key(L, m, path, "key", transform_keys);
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(tr, "set");
    const cJSON *rem = cJSON_GetObjectItemCaseSensitive(tr, "remove");
    if (set && !cJSON_IsObject(set)) {
        snprintf(fpath, sizeof fpath, "%s.set", path);
        ERR_AT_VAL(L, set, fpath, "expected an object {\"attribute\": \"template\"}, found %s",
                   json_kind(set));
        set = NULL;
    }
    for (const cJSON *m = set ? set->child : NULL; m; m = m->next) {
        snprintf(fpath, sizeof fpath, "%s.set.%s", path, printable(pb, sizeof pb, m->string));
        if (!attr_name_ok(L, m, true, fpath, m->string))
            continue;
        if (!strcmp(m->string, "specversion")) {
            ERR_AT_KEY(L, m, fpath, "cannot set specversion (always \"1.0\")");
            continue;
        }
        if (!cJSON_IsString(m)) {
            ERR_AT_VAL(L, m, fpath, "expected a template string, found %s", json_kind(m));
            continue;
        }
        ceb_template *t = NULL;
        ceb_diag d;
        memset(&d, 0, sizeof d);
        int rc = ceb_template_compile(m->valuestring, &t, &d);
        if (rc < 0) {
            if (rc == CEB_ENOMEM)
                L->oom = true;
            ERR_AT_VAL(L, m, fpath, "%s", d.message[0] ? d.message : ceb_strerror(rc));
            continue;
        }
        if (transform_add(r, m->string, t) < 0) {
            ceb_template_free(t);
            L->oom = true;
            return;
        }
    }
    if (!rem)
        return;
    if (!cJSON_IsArray(rem) && !cJSON_IsString(rem)) {
        snprintf(fpath, sizeof fpath, "%s.remove", path);
        ERR_AT_VAL(L, rem, fpath, "expected a list of attribute names, found %s", json_kind(rem));
        return;
    }
    size_t idx = 0;
    for (const cJSON *e = cJSON_IsArray(rem) ? rem->child : rem; e;
         e = cJSON_IsArray(rem) ? e->next : NULL, idx++) {
        if (cJSON_IsArray(rem))
            snprintf(fpath, sizeof fpath, "%s.remove[%zu]", path, idx);
        else
            snprintf(fpath, sizeof fpath, "%s.remove", path);
        if (!cJSON_IsString(e)) {
            ERR_AT_VAL(L, e, fpath, "expected an attribute name, found %s", json_kind(e));
            continue;
        }
        if (!attr_name_ok(L, e, false, fpath, e->valuestring))
            continue;
        if (key_in(e->valuestring, required_attrs)) {
            ERR_AT_VAL(L, e, fpath, "cannot remove required attribute '%s'", e->valuestring);
            continue;
        }
        if (set && cJSON_GetObjectItemCaseSensitive(set, e->valuestring)) {
            ERR_AT_VAL(L, e, fpath, "attribute '%s' is both set and removed", e->valuestring);
            continue;
        }
        bool dup = false;
        for (size_t i = 0; i < r->ntransform; i++)
            if (!r->transform[i].value && !strcmp(r->transform[i].attr, e->valuestring))
                dup = true;
        if (dup) {
            ERR_AT_VAL(L, e, fpath, "attribute '%s' is listed twice", e->valuestring);
            continue;
        }
        if (transform_add(r, e->valuestring, NULL) < 0) {
            L->oom = true;
            return;
        }
    }
}

static const ceb_conf_route *find_route(const ceb_conf *c, const char *name)
{
    for (size_t i = 0; i < c->nroutes; i++)
        if (!strcmp(c->routes[i].name, name))
            return &c->routes[i];
    return NULL;
}

static void load_route(loader *L, const cJSON *m, ceb_conf_route *r)
{
    char path[300], pb[100], dym[100];
    snprintf(path, sizeof path, "routes.%s", printable(pb, sizeof pb, m->string));
    r->retry = (ceb_conf_retry){ .attempts = 5, .backoff = CEB_BACKOFF_EXPONENTIAL,
                                 .initial_ms = 200, .max_ms = 30000, .timeout_ms = 30000 };
    if (!cJSON_IsObject(m)) {
        ERR_AT_VAL(L, m, path, "expected an object with \"from\" and \"to\", found %s", json_kind(m));
        return;
    }
    for (const cJSON *k = m->child; k; k = k->next)
        if (!key_in(k->string, route_keys))
            unknown_key(L, k, path, "key", route_keys);
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(m, "from");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(m, "to");
    if (!from)
        ERR_AT_KEY(L, m, path, "missing \"from\" (the source or sources this route reads)");
    else
        route_ends(L, from, path, "from", CEB_ROLE_SOURCE, &r->from, &r->nfrom);
    if (!to)
        ERR_AT_KEY(L, m, path, "missing \"to\" (the sink or sinks this route delivers to)");
    else
        route_ends(L, to, path, "to", CEB_ROLE_SINK, &r->to, &r->nto);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "filter");
    if (f && !cJSON_IsNull(f))
        route_filter(L, f, path, r);
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(m, "retry");
    if (rt)
        route_retry(L, rt, path, &r->retry);
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(m, "dead_letter");
    if (dl && !cJSON_IsNull(dl)) {
        char dpath[320];
        snprintf(dpath, sizeof dpath, "%s.dead_letter", path);
        if (!cJSON_IsString(dl)) {
            ERR_AT_VAL(L, dl, dpath, "expected a sink name, found %s", json_kind(dl));
        } else if (!find_inst(L->c->sinks, L->c->nsinks, dl->valuestring)) {
            const char **cand = inst_names(L->c->sinks, L->c->nsinks);
            if (!cand) {
                L->oom = true;
                return;
            }
            ERR_AT_VAL(L, dl, dpath, "unknown sink '%s'%s", printable(pb, sizeof pb, dl->valuestring),
                       did_you_mean(dym, sizeof dym, dl->valuestring, cand, L->c->nsinks));
            free(cand);
        } else if (string_list_has(r->to, r->nto, dl->valuestring)) {
            ERR_AT_VAL(L, dl, dpath, "sink '%s' is also a destination of this route; "
                       "dead letters must go to another sink", dl->valuestring);
        } else if (!(r->dead_letter = strdup(dl->valuestring))) {
            L->oom = true;
        }
    }
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(m, "transform");
    if (tr)
        route_transform(L, tr, path, r);
}

static void load_routes(loader *L, const cJSON *section)
{
    char path[300], pb[100];
    if (!cJSON_IsObject(section)) {
        ERR_AT_VAL(L, section, "routes", "expected an object keyed by route name, found %s", json_kind(section));
        return;
    }
    for (const cJSON *m = section->child; m; m = m->next) {
        snprintf(path, sizeof path, "routes.%s", printable(pb, sizeof pb, m->string));
        if (!name_valid(m->string)) {
            ERR_AT_KEY(L, m, path, "invalid name: use 1 to %d characters a-z 0-9 _ . - starting with "
                       "a letter or digit", CONF_MAX_NAME);
            continue;
        }
        const ceb_conf_route *prev = find_route(L->c, m->string);
        if (prev) {
            ERR_AT_KEY(L, m, path, "already defined at %s:%d:%d", prev->pos.file, prev->pos.line, prev->pos.col);
            continue;
        }
        ceb_conf_route *nv = realloc(L->c->routes, (L->c->nroutes + 1) * sizeof(*nv));
        if (!nv) {
            L->oom = true;
            return;
        }
        L->c->routes = nv;
        ceb_conf_route *r = &nv[L->c->nroutes];
        memset(r, 0, sizeof *r);
        if (!(r->name = strdup(m->string))) {
            L->oom = true;
            return;
        }
        L->c->nroutes++;
        const pos_ent *pe = pm_get(&L->pm, m);
        if (pe) {
            r->pos.file = L->c->files[pe->file];
            r->pos.line = pe->kline;
            r->pos.col = pe->kcol;
        }
        load_route(L, m, r);
    }
}

/* ------------------------------------------------------------------------ */
/* Driver.                                                                   */

static const char *const top_keys[] = { "sources", "sinks", "routes", "settings", NULL };

void ceb_conf_free(ceb_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsources; i++)
        instance_clear(&c->sources[i]);
    free(c->sources);
    for (size_t i = 0; i < c->nsinks; i++)
        instance_clear(&c->sinks[i]);
    free(c->sinks);
    for (size_t i = 0; i < c->nroutes; i++)
        route_clear(&c->routes[i]);
    free(c->routes);
    free(c->settings.plugin_dir);
    free(c->settings.log_level);
    free(c->settings.log_format);
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    free(c);
}

/* Register a file name; returns its index or -1 (oom). Takes `text`. */
static int add_file(loader *L, const char *name, char *text, size_t len)
{
    ceb_conf *c = L->c;
    char **nf = realloc(c->files, (c->nfiles + 1) * sizeof(*nf));
    if (!nf)
        goto oom;
    c->files = nf;
    conf_file *nfi = realloc(L->files, (c->nfiles + 1) * sizeof(*nfi));
    if (!nfi)
        goto oom;
    L->files = nfi;
    if (!(nf[c->nfiles] = strdup(name)))
        goto oom;
    nfi[c->nfiles] = (conf_file){ text, len, NULL };
    return (int)c->nfiles++;
oom:
    free(text);
    L->oom = true;
    return -1;
}

static void parse_file(loader *L, int fi)
{
    conf_file *f = &L->files[fi];
    if (!f->text)
        return;
    jp p;
    jp_init(&p, f->text, f->len, fi, &L->pm);
    f->root = jp_document(&p);
    if (!f->root) {
        if (p.oom)
            L->oom = true;
        else
            note_at(L, false, fi, p.eline, p.ecol, NULL, "%s", p.emsg);
    }
}

/* Read a whole file. Returns 0, or an errno-style code with a message recorded. */
static int read_file(loader *L, const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -errno;
    struct stat st;
    if (fstat(fileno(fp), &st) < 0) {
        int e = errno;
        fclose(fp);
        return -e;
    }
    if (st.st_size > (off_t)CONF_MAX_FILE_SIZE) {
        fclose(fp);
        return CEB_E2BIG;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        L->oom = true;
        return CEB_ENOMEM;
    }
    for (;;) {
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (n < cap) {
            if (ferror(fp)) {
                free(buf);
                fclose(fp);
                return CEB_EIO;
            }
            break;
        }
        if (cap > CONF_MAX_FILE_SIZE) {
            free(buf);
            fclose(fp);
            return CEB_E2BIG;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            fclose(fp);
            L->oom = true;
            return CEB_ENOMEM;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(fp);
    *text = buf;
    *len = n;
    return 0;
}

static void read_one(loader *L, const char *path)
{
    char *text;
    size_t len;
    int rc = read_file(L, path, &text, &len);
    int fi = add_file(L, path, rc == 0 ? text : NULL, len);
    if (fi < 0 || rc == 0)
        return;
    if (rc == CEB_E2BIG)
        note_at(L, false, fi, 0, 0, NULL, "file too large (more than %u MiB)", CONF_MAX_FILE_SIZE >> 20);
    else if (rc != CEB_ENOMEM)
        note_at(L, false, fi, 0, 0, NULL, "cannot read: %s", strerror(-rc));
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dropin(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

/* Read a directory's drop-ins (or one file). Returns 0, CEB_ENOENT or
   CEB_ECONFIG (one message recorded without a file). */
static int read_dir(loader *L, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        int e = errno;
        note_at(L, false, -1, 0, 0, NULL, "%s: cannot read configuration: %s", dir, strerror(e));
        return e == ENOENT ? CEB_ENOENT : CEB_ECONFIG;
    }
    if (!S_ISDIR(st.st_mode)) {
        read_one(L, dir);
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        note_at(L, false, -1, 0, 0, NULL, "%s: cannot read configuration: %s", dir, strerror(errno));
        return CEB_ECONFIG;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_dropin(de->d_name))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    if (de)
        L->oom = true;
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    size_t dl = strlen(dir);
    bool slash = dl && dir[dl - 1] == '/';
    for (size_t i = 0; i < n && !L->oom; i++) {
        size_t need = dl + strlen(names[i]) + 2;
        char *path = malloc(need);
        if (!path) {
            L->oom = true;
            break;
        }
        snprintf(path, need, "%s%s%s", dir, slash ? "" : "/", names[i]);
        struct stat fst;
        /* a subdirectory or special file named *.json is not a drop-in */
        if (stat(path, &fst) == 0 && !S_ISREG(fst.st_mode)) {
            free(path);
            continue;
        }
        read_one(L, path);
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!L->oom && L->c->nfiles == 0)
        note_at(L, true, -1, 0, 0, NULL, "%s: no drop-in files (*.json); nothing to run", dir);
    return 0;
}

/* Semantic pass over every parsed file. */
static void analyse(loader *L)
{
    ceb_conf *c = L->c;
    c->settings.drain_timeout_ms = CONF_DEFAULT_DRAIN_MS;
    c->settings.max_inflight = CONF_DEFAULT_MAX_INFLIGHT;
    /* 1. structure and settings (a later file overrides an earlier one) */
    for (size_t fi = 0; fi < c->nfiles; fi++) {
        const cJSON *root = L->files[fi].root;
        if (!root)
            continue;
        if (!cJSON_IsObject(root)) {
            ERR_AT_VAL(L, root, NULL, "expected an object with \"sources\", \"sinks\", \"routes\" "
                       "or \"settings\" at the top level, found %s", json_kind(root));
            L->files[fi].root = NULL;
            cJSON_Delete((cJSON *)root);
            continue;
        }
        for (const cJSON *m = root->child; m; m = m->next) {
            if (!key_in(m->string, top_keys))
                unknown_key(L, m, NULL, "top-level key", top_keys);
            else if (!strcmp(m->string, "settings"))
                load_settings(L, m);
        }
    }
    if (L->o->settings) {
        ceb_diag d;
        memset(&d, 0, sizeof d);
        if (L->o->settings(L->o->arg, &c->settings, &d) < 0)
            note_at(L, false, -1, 0, 0, "settings", "%s", d.message[0] ? d.message : ceb_strerror(d.code));
    }
    /* 2. instances, file by file */
    for (size_t fi = 0; fi < c->nfiles && !L->oom; fi++) {
        const cJSON *root = L->files[fi].root;
        if (!root)
            continue;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "sources");
        if (s)
            load_instances(L, CEB_ROLE_SOURCE, s);
        s = cJSON_GetObjectItemCaseSensitive(root, "sinks");
        if (s)
            load_instances(L, CEB_ROLE_SINK, s);
    }
    for (size_t i = 0; i < c->nsinks; i++)
        if (!c->sinks[i].max_inflight)
            c->sinks[i].max_inflight = c->settings.max_inflight;
    /* 3. routes, once every instance is known */
    for (size_t fi = 0; fi < c->nfiles && !L->oom; fi++) {
        const cJSON *root = L->files[fi].root;
        const cJSON *s = root ? cJSON_GetObjectItemCaseSensitive(root, "routes") : NULL;
        if (s)
            load_routes(L, s);
    }
    /* 4. instances no route uses: warnings */
    for (int role = 0; role < 2; role++) {
        const ceb_conf_instance *v = role ? c->sinks : c->sources;
        size_t n = role ? c->nsinks : c->nsources;
        for (size_t i = 0; i < n; i++) {
            bool used = false;
            for (size_t r = 0; r < c->nroutes && !used; r++) {
                const ceb_conf_route *rt = &c->routes[r];
                used = role ? string_list_has(rt->to, rt->nto, v[i].name) ||
                                  (rt->dead_letter && !strcmp(rt->dead_letter, v[i].name))
                            : string_list_has(rt->from, rt->nfrom, v[i].name);
            }
            if (used)
                continue;
            int fidx = -1;
            for (size_t f = 0; f < c->nfiles; f++)
                if (c->files[f] == v[i].pos.file)
                    fidx = (int)f;
            char path[300], pb[100];
            snprintf(path, sizeof path, "%s.%s", role ? "sinks" : "sources", printable(pb, sizeof pb, v[i].name));
            note_at(L, true, fidx, v[i].pos.line, v[i].pos.col, path, "not used by any route");
        }
    }
}

static const ceb_conf_load_opts *opts_of(ceb_conf_load_opts *tmp, ceb_conf_resolve_fn resolve, void *arg)
{
    memset(tmp, 0, sizeof *tmp);
    tmp->resolve = resolve;
    tmp->arg = arg;
    return tmp;
}

/* Shared tail of the loaders: analyse, export messages, hand out the conf. */
static int finish(loader *L, int rc, ceb_conf **out, ceb_conf_errors *errs)
{
    if (rc == 0 && !L->oom) {
        for (size_t fi = 0; fi < L->c->nfiles; fi++)
            parse_file(L, (int)fi);
        if (!L->oom)
            analyse(L);
    }
    if (L->oom)
        rc = CEB_ENOMEM;
    else if (rc == 0 && L->errs.n)
        rc = CEB_ECONFIG;
    for (size_t fi = 0; fi < L->c->nfiles; fi++) {
        cJSON_Delete(L->files[fi].root);
        free(L->files[fi].text);
    }
    free(L->files);
    pm_free(&L->pm);
    if (errs) {
        if (msg_export(&L->errs, &errs->lines, &errs->n) < 0 ||
            msg_export(&L->warns, &errs->warnings, &errs->nwarnings) < 0)
            rc = rc ? rc : CEB_ENOMEM;
    }
    msg_free(&L->errs);
    msg_free(&L->warns);
    if (rc < 0) {
        ceb_conf_free(L->c);
        *out = NULL;
        return rc;
    }
    *out = L->c;
    return 0;
}

static int start(loader *L, const ceb_conf_load_opts *o, ceb_conf **out, ceb_conf_errors *errs)
{
    memset(L, 0, sizeof *L);
    if (errs)
        memset(errs, 0, sizeof *errs);
    *out = NULL;
    L->o = o;
    L->c = calloc(1, sizeof(*L->c));
    return L->c ? 0 : CEB_ENOMEM;
}

int ceb_conf_load_with(const char *dir, const ceb_conf_load_opts *o, ceb_conf **out,
                       ceb_conf_errors *errs)
{
    loader L;
    if (start(&L, o, out, errs) < 0)
        return CEB_ENOMEM;
    int rc = read_dir(&L, dir);
    return finish(&L, rc, out, errs);
}

int ceb_conf_load_text_with(const char *name, const char *text, const ceb_conf_load_opts *o,
                            ceb_conf **out, ceb_conf_errors *errs)
{
    loader L;
    if (start(&L, o, out, errs) < 0)
        return CEB_ENOMEM;
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy)
        memcpy(copy, text, len + 1);
    else
        L.oom = true;
    if (copy)
        add_file(&L, name, copy, len);
    return finish(&L, 0, out, errs);
}

int ceb_conf_load(const char *dir, ceb_conf_resolve_fn resolve, void *arg, ceb_conf **out,
                  ceb_conf_errors *errs)
{
    ceb_conf_load_opts o;
    return ceb_conf_load_with(dir, opts_of(&o, resolve, arg), out, errs);
}

int ceb_conf_load_text(const char *name, const char *text, ceb_conf_resolve_fn resolve, void *arg,
                       ceb_conf **out, ceb_conf_errors *errs)
{
    ceb_conf_load_opts o;
    return ceb_conf_load_text_with(name, text, opts_of(&o, resolve, arg), out, errs);
}

const ceb_conf_instance *ceb_conf_find_source(const ceb_conf *c, const char *name)
{
    return c ? find_inst(c->sources, c->nsources, name) : NULL;
}

const ceb_conf_instance *ceb_conf_find_sink(const ceb_conf *c, const char *name)
{
    return c ? find_inst(c->sinks, c->nsinks, name) : NULL;
}
