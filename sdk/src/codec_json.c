/*
 * codec_json.c - the JSON event format (shared/spec/json-format.md), single
 * and batch, with the normalization rules of DESIGN §2 (codec.h).
 *
 * Decoding rules, beyond the spec's:
 *   - The input must be well-formed UTF-8 and one JSON value (trailing
 *     whitespace only); nesting deeper than cJSON's limit (1000) is refused.
 *     These are CEB_EDECODE: not an event at all.
 *   - A member whose value is null is unset (spec §2.2), except "data": null,
 *     which is the explicit JSON null payload.
 *   - Extension values: a string is a String, true/false a Boolean, a number
 *     an Integer when it is integral and within int32. Any other number is
 *     refused in strict mode; in repair mode it is kept as a String holding
 *     its JSON text (e.g. "1.5"), since the spec has no non-integer number
 *     type and dropping it would lose data. Objects and arrays are refused.
 *   - Extension names must be a-z0-9. In repair mode a name that only has
 *     upper-case letters in excess is lower-cased (CEB_REPAIRED_NAME).
 *   - An optional attribute (datacontenttype, dataschema, subject) given as
 *     "" is refused in strict mode and treated as unset in repair mode.
 *   - An invalid time is refused in strict mode, dropped when repairing.
 *   - specversion other than "1.0" is refused in both modes: it is another
 *     format, not a broken one.
 * Every error names the attribute in d->field ("source", or "[3].source"
 * in a batch) and in the message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <cebridge/codec.h>
#include <cebridge/errors.h>
#include <cebridge/json.h>
#include "sdk_internal.h"

typedef struct dctx {
    ceb_decode_opts *opts;
    bool strict;
    const char *prefix;     /* "" or "[3]" */
    ceb_diag *d;
    const char *raw;        /* the object's own text (validated JSON), or NULL */
    size_t raw_len;
} dctx;

/*
 * Raw spans. cJSON turns numbers into doubles, so printing a parsed value
 * back can change it (12345678901234567890 -> 1.2345678901234567e+19,
 * 1.0 -> 1). Data and non-Integer numbers are therefore taken from the
 * input text itself, which has already been validated by cJSON.
 */
static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static size_t skip_value(const char *p, size_t i, size_t n)
{
    if (i >= n)
        return n;
    if (p[i] == '"') {
        for (i++; i < n; i++) {
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                return i + 1;
        }
        return n;
    }
    if (p[i] == '{' || p[i] == '[') {
        size_t depth = 0;
        for (; i < n; i++) {
            if (p[i] == '"') {
                i = skip_value(p, i, n) - 1;
            } else if (p[i] == '{' || p[i] == '[') {
                depth++;
            } else if (p[i] == '}' || p[i] == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n;
    }
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' &&
           p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
        i++;
    return i;
}

/* The raw text of member `key` of the object text p[0..n); false when not
   found or when keys use escapes (then the caller falls back to cJSON). */
static bool raw_member(const char *p, size_t n, const char *key, const char **v, size_t *vlen)
{
    size_t klen = strlen(key);
    if (p == NULL)
        return false;
    size_t i = skip_ws(p, 0, n);
    if (i >= n || p[i] != '{')
        return false;
    i++;
    for (;;) {
        i = skip_ws(p, i, n);
        if (i >= n || p[i] != '"')
            return false;
        size_t ks = i + 1;
        i = skip_value(p, i, n);
        size_t ke = i - 1;
        bool escaped = memchr(p + ks, '\\', ke - ks) != NULL;
        i = skip_ws(p, i, n);
        if (i >= n || p[i] != ':')
            return false;
        i = skip_ws(p, i + 1, n);
        size_t vs = i;
        i = skip_value(p, i, n);
        if (!escaped && ke - ks == klen && memcmp(p + ks, key, klen) == 0) {
            *v = p + vs;
            *vlen = i - vs;
            return true;
        }
        i = skip_ws(p, i, n);
        if (i >= n || p[i] != ',')
            return false;
        i++;
    }
}

static int fail(dctx *c, int code, const char *attr, const char *fmt, ...) CEB_ATTR_PRINTF(4, 5);
static int fail(dctx *c, int code, const char *attr, const char *fmt, ...)
{
    char field[128];
    if (attr != NULL)
        snprintf(field, sizeof field, "%s%s%s", c->prefix, c->prefix[0] && attr[0] ? "." : "", attr);
    else
        snprintf(field, sizeof field, "%s", c->prefix);
    va_list ap;
    va_start(ap, fmt);
    ceb_diag_setv(c->d, code, field, fmt, ap);
    va_end(ap);
    return code;
}

/* Re-label an error from an event setter as a spec violation of `attr`. */
static int relabel(dctx *c, int rc, const char *attr, const ceb_diag *tmp)
{
    if (rc == CEB_ENOMEM)
        return rc;
    return fail(c, CEB_ESPEC, attr, "%s", tmp->message);
}

static bool is_ctx_required(const char *k)
{
    return strcmp(k, "id") == 0 || strcmp(k, "source") == 0 || strcmp(k, "type") == 0;
}

static bool is_ctx_optional(const char *k)
{
    return strcmp(k, "datacontenttype") == 0 || strcmp(k, "dataschema") == 0 ||
           strcmp(k, "subject") == 0;
}

static int set_required(dctx *c, ceb_event *ev, const char *attr, const char *given,
                        const char *dflt, unsigned flag)
{
    ceb_diag tmp = {0};
    char id[37];
    int rc;
    if (given != NULL && given[0] != '\0') {
        rc = ceb_event_set(ev, attr, given, &tmp);
        return rc < 0 ? relabel(c, rc, attr, &tmp) : 0;
    }
    const char *what = given == NULL ? "missing" : "empty";
    if (c->strict)
        return fail(c, CEB_ESPEC, attr, "required attribute '%s' is %s", attr, what);
    if (flag == CEB_REPAIRED_ID) {
        ceb_uuid4(id);
        dflt = id;
    }
    if (dflt == NULL || dflt[0] == '\0')
        return fail(c, CEB_ESPEC, attr, "required attribute '%s' is %s and no default %s is configured",
                    attr, what, attr);
    rc = ceb_event_set(ev, attr, dflt, &tmp);
    if (rc < 0)
        return relabel(c, rc, attr, &tmp);
    c->opts->repaired |= flag;
    return 0;
}

static int set_extension(dctx *c, ceb_event *ev, const char *key, cJSON *v)
{
    char name[128];
    ceb_diag tmp = {0};
    const char *orig = key;
    size_t klen = strlen(key);
    int rc = ceb_attr_name_check(key, klen, &tmp);
    if (rc < 0) {
        bool fixable = !c->strict && klen < sizeof name && klen > 0;
        for (size_t i = 0; fixable && i < klen; i++) {
            char ch = key[i];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            name[i] = ch;
        }
        if (fixable) {
            name[klen] = '\0';
            fixable = ceb_attr_name_check(name, klen, NULL) == 0;
        }
        if (!fixable)
            return fail(c, CEB_ESPEC, key, "%s", tmp.message);
        c->opts->repaired |= CEB_REPAIRED_NAME;
        key = name;
    }
    memset(&tmp, 0, sizeof tmp);
    if (cJSON_IsString(v)) {
        rc = ceb__event_set_ext(ev, key, CEB_ATTR_STRING, v->valuestring, strlen(v->valuestring), &tmp);
    } else if (cJSON_IsBool(v)) {
        rc = ceb_event_get(ev, key) != NULL
                 ? ceb_diag_set(&tmp, CEB_EEXIST, "attribute '%s' is given more than once", key)
                 : ceb_event_set_bool(ev, key, cJSON_IsTrue(v), &tmp);
    } else if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x >= -2147483648.0 && x <= 2147483647.0 && (double)(int32_t)x == x) {
            rc = ceb_event_get(ev, key) != NULL
                     ? ceb_diag_set(&tmp, CEB_EEXIST, "attribute '%s' is given more than once", key)
                     : ceb_event_set_int(ev, key, (int32_t)x, &tmp);
        } else {
            const char *rv;
            size_t rlen;
            char *text = raw_member(c->raw, c->raw_len, orig, &rv, &rlen) ? strndup(rv, rlen)
                                                                           : cJSON_PrintUnformatted(v);
            if (text == NULL)
                return CEB_ENOMEM;
            if (c->strict) {
                rc = fail(c, CEB_ESPEC, key, "extension '%s' is %s, not a CloudEvents Integer "
                          "(a whole number within int32)", key, text);
                free(text);
                return rc;
            }
            rc = ceb__event_set_ext(ev, key, CEB_ATTR_STRING, text, strlen(text), &tmp);
            free(text);
        }
    } else {
        return fail(c, CEB_ESPEC, key, "extension '%s' must be a string, number or boolean, "
                    "not an %s", key, cJSON_IsArray(v) ? "array" : "object");
    }
    return rc < 0 ? relabel(c, rc, key, &tmp) : 0;
}

static int set_data(dctx *c, ceb_event *ev, cJSON *root, cJSON *data, cJSON *b64)
{
    if (data != NULL && b64 != NULL)
        return fail(c, CEB_ESPEC, "data_base64", "'data' and 'data_base64' are mutually exclusive");
    if (b64 != NULL) {
        if (!cJSON_IsString(b64))
            return fail(c, CEB_ESPEC, "data_base64", "'data_base64' must be a string");
        ceb_buf raw = {0};
        int rc = ceb_base64_decode(b64->valuestring, strlen(b64->valuestring), &raw);
        if (rc < 0)
            ceb_buf_free(&raw);     /* reserve may have allocated before the bad byte */
        if (rc == CEB_ENOMEM)
            return rc;
        if (rc < 0)
            return fail(c, CEB_ESPEC, "data_base64", "'data_base64' is not valid base64");
        size_t n;
        char *bytes = ceb_buf_steal(&raw, &n);
        if (bytes == NULL)
            return CEB_ENOMEM;
        return ceb__event_take_data(ev, CEB_DATA_BINARY, bytes, n, NULL);
    }
    if (data == NULL)
        return 0;
    const char *ct = ceb_event_datacontenttype(ev);
    bool json = ct == NULL || ceb__ctype_is_json(ct, strlen(ct));
    if (!json && cJSON_IsString(data)) {
        char *s = strdup(data->valuestring);
        if (s == NULL)
            return CEB_ENOMEM;
        return ceb__event_take_data(ev, CEB_DATA_TEXT, s, strlen(s), NULL);
    }
    /* A JSON value (or, leniently, a non-string under a non-JSON type),
       kept as written minus insignificant whitespace. */
    cJSON *node = cJSON_DetachItemViaPointer(root, data);
    const char *rv;
    size_t rlen;
    ceb_buf text = {0};
    int rc;
    if (raw_member(c->raw, c->raw_len, "data", &rv, &rlen)) {
        rc = ceb__json_minify(rv, rlen, &text);
    } else {
        char *printed = cJSON_PrintUnformatted(node);
        rc = printed ? ceb_buf_append_str(&text, printed) : CEB_ENOMEM;
        cJSON_free(printed);
    }
    size_t n;
    char *copy = rc == 0 ? ceb_buf_steal(&text, &n) : NULL;
    if (copy == NULL) {
        ceb_buf_free(&text);
        cJSON_Delete(node);
        return CEB_ENOMEM;
    }
    return ceb__event_take_data(ev, CEB_DATA_JSON, copy, n, node);
}

enum { SEEN_ID = 1, SEEN_SOURCE = 2, SEEN_TYPE = 4, SEEN_SPEC = 8, SEEN_DCT = 16,
       SEEN_SCHEMA = 32, SEEN_SUBJECT = 64, SEEN_TIME = 128, SEEN_DATA = 256, SEEN_B64 = 512 };

static unsigned seen_bit(const char *k)
{
    static const struct { const char *k; unsigned bit; } t[] = {
        { "id", SEEN_ID }, { "source", SEEN_SOURCE }, { "type", SEEN_TYPE },
        { "specversion", SEEN_SPEC }, { "datacontenttype", SEEN_DCT },
        { "dataschema", SEEN_SCHEMA }, { "subject", SEEN_SUBJECT }, { "time", SEEN_TIME },
        { "data", SEEN_DATA }, { "data_base64", SEEN_B64 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].k, k) == 0)
            return t[i].bit;
    return 0;
}

static int decode_object(dctx *c, cJSON *obj, ceb_event **out)
{
    ceb_event *ev;
    int rc;
    if (!cJSON_IsObject(obj))
        return fail(c, CEB_EDECODE, NULL, "not a JSON object, so not a structured CloudEvent");
    if ((rc = ceb_event_new(&ev)) < 0)
        return rc;
    const char *req[3] = { NULL, NULL, NULL };   /* id, source, type as given */
    bool has_spec = false;
    cJSON *data = NULL, *b64 = NULL, *time = NULL;
    unsigned seen = 0;
    ceb_diag tmp;

    for (cJSON *m = obj->child; m != NULL; m = m->next) {
        const char *k = m->string;
        unsigned bit = seen_bit(k);
        if (bit != 0) {
            if (seen & bit) {
                rc = fail(c, CEB_ESPEC, k, "attribute '%s' is given more than once", k);
                goto out;
            }
            seen |= bit;
        }
        if (cJSON_IsNull(m) && strcmp(k, "data") != 0)
            continue;   /* null is unset (spec §2.2) */
        if (strcmp(k, "data") == 0) {
            data = m;
        } else if (strcmp(k, "data_base64") == 0) {
            b64 = m;
        } else if (strcmp(k, "specversion") == 0) {
            if (!cJSON_IsString(m)) {
                rc = fail(c, CEB_ESPEC, k, "attribute 'specversion' must be a string");
                goto out;
            }
            if (strcmp(m->valuestring, "1.0") != 0) {
                rc = fail(c, CEB_ESPEC, k, "specversion must be \"1.0\", got \"%.32s\"", m->valuestring);
                goto out;
            }
            has_spec = true;
        } else if (strcmp(k, "time") == 0) {
            time = m;
        } else if (is_ctx_required(k) || is_ctx_optional(k)) {
            if (!cJSON_IsString(m)) {
                rc = fail(c, CEB_ESPEC, k, "attribute '%s' must be a string", k);
                goto out;
            }
            if (is_ctx_required(k)) {
                req[k[0] == 'i' ? 0 : k[0] == 's' ? 1 : 2] = m->valuestring;
                continue;
            }
            if (m->valuestring[0] == '\0') {
                if (c->strict) {
                    rc = fail(c, CEB_ESPEC, k, "attribute '%s' must not be empty", k);
                    goto out;
                }
                continue;
            }
            memset(&tmp, 0, sizeof tmp);
            if ((rc = ceb_event_set(ev, k, m->valuestring, &tmp)) < 0) {
                rc = relabel(c, rc, k, &tmp);
                goto out;
            }
        } else {
            if ((rc = set_extension(c, ev, k, m)) < 0)
                goto out;
        }
    }

    if (!has_spec) {
        if (c->strict) {
            rc = fail(c, CEB_ESPEC, "specversion", "required attribute 'specversion' is missing");
            goto out;
        }
        c->opts->repaired |= CEB_REPAIRED_SPECVERSION;
    }
    if ((rc = set_required(c, ev, "id", req[0], NULL, CEB_REPAIRED_ID)) < 0 ||
        (rc = set_required(c, ev, "source", req[1], c->opts->default_source, CEB_REPAIRED_SOURCE)) < 0 ||
        (rc = set_required(c, ev, "type", req[2], c->opts->default_type, CEB_REPAIRED_TYPE)) < 0)
        goto out;
    if (time != NULL) {
        const char *t = cJSON_IsString(time) ? time->valuestring : NULL;
        if (t == NULL || ceb_time_check_rfc3339(t, strlen(t)) < 0) {
            if (c->strict) {
                if (t == NULL)
                    rc = fail(c, CEB_ESPEC, "time", "attribute 'time' must be an RFC 3339 timestamp string");
                else
                    rc = fail(c, CEB_ESPEC, "time", "attribute 'time' is not an RFC 3339 timestamp: \"%.64s\"", t);
                goto out;
            }
            c->opts->repaired |= CEB_REPAIRED_TIME;
        } else if ((rc = ceb_event_set(ev, "time", t, NULL)) < 0) {
            goto out;
        }
    }
    if ((rc = set_data(c, ev, obj, data, b64)) < 0)
        goto out;
    *out = ev;
    return 0;
out:
    ceb_event_unref(ev);
    return rc;
}

/* True when the text ends inside a string or an unclosed array/object. */
static bool truncated(const char *p, size_t len)
{
    size_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if ((ch == '}' || ch == ']') && depth > 0) {
            depth--;
        }
    }
    return in_str || depth > 0;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_ok(const char *p, size_t n)
{
    size_t i = 0;
    if (i < n && p[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && p[i] == '.') {
        size_t s = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == s)
            return false;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t s = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == s)
            return false;
    }
    return i == n;
}

/*
 * What cJSON lets through but RFC 8259 does not: numbers such as "01" or
 * "1.", and raw control characters inside strings. Data is passed on as
 * written, so it must be standard JSON. Returns the offending offset or
 * (size_t)-1.
 */
static size_t nonstandard_at(const char *p, size_t len, const char **what)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (in_str) {
            if (ch == '\\') {
                i++;
            } else if (ch == '"') {
                in_str = false;
            } else if (ch < 0x20) {
                *what = "control character in a string";
                return i;
            }
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t s = i;
            while (i < len && strchr("0123456789+-.eE", p[i]) != NULL && p[i] != '\0')
                i++;
            if (!number_ok(p + s, i - s)) {
                *what = "invalid number";
                return s;
            }
            i--;
        }
    }
    return (size_t)-1;
}

/* Parse `buf` as exactly one JSON value of well-formed UTF-8. */
static int parse(const void *buf, size_t len, cJSON **root, ceb_diag *d)
{
    size_t bad;
    const char *p = buf;
    if (buf == NULL || len == 0)
        return ceb_diag_set(d, CEB_EDECODE, "empty payload, not JSON");
    if (!ceb__utf8_valid(buf, len, &bad))
        return ceb_diag_set(d, CEB_EDECODE, "not JSON: invalid UTF-8 at byte %zu", bad);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(p, len, &end, false);
    if (j == NULL) {
        size_t at = (end != NULL && end >= p && end <= p + len) ? (size_t)(end - p) : 0;
        if (at >= len || truncated(p, len))
            return ceb_diag_set(d, CEB_EDECODE, "not JSON: unexpected end of input at byte %zu", len);
        return ceb_diag_set(d, CEB_EDECODE, "not JSON: syntax error (or nesting deeper than %d) at byte %zu",
                            CJSON_NESTING_LIMIT, at);
    }
    for (const char *q = end; q < p + len; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(j);
            return ceb_diag_set(d, CEB_EDECODE, "not JSON: unexpected text after the value at byte %zu",
                                (size_t)(q - p));
        }
    }
    const char *what = NULL;
    size_t at = nonstandard_at(p, len, &what);
    if (at != (size_t)-1) {
        cJSON_Delete(j);
        return ceb_diag_set(d, CEB_EDECODE, "not JSON: %s at byte %zu", what, at);
    }
    *root = j;
    return 0;
}

/* ---- fast path ------------------------------------------------------------
 *
 * One pass over the text straight into the event, for the common shape: an
 * object whose keys have no escapes, attribute strings with no escapes,
 * extension values that are such strings, true/false or plain int32
 * integers, and "data" as any RFC 8259 value. Anything else (every error,
 * every repair, escapes, null, data_base64, numbers that are not plain
 * int32, nesting past FAST_MAX_DEPTH, a lone surrogate escape in data,
 * which cJSON refuses) is left to the cJSON path below, so errors, repairs
 * and their messages come from one place. What the fast path accepts, the
 * cJSON path accepts with the same event; only the cached parse of JSON
 * data differs (it is made lazily, on first use, instead of up front).
 */
#define FAST_MAX_DEPTH 64
#define FAST_NO ((size_t)-1)

typedef struct fast_span {
    const char *p;
    size_t n;
} fast_span;

static bool fast_ascii(const char *p, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= (unsigned char)p[i];
    return (acc & 0x8080808080808080ull) == 0;
}

/* The bytes of w that are special, as their high bits; the lowest set bit
   is exact (a borrow only makes false hits above a true one). */
static inline uint64_t word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

/* The first special byte of the word at p[i] whose mask is m != 0. */
static inline size_t first_special(const char *p, size_t i, uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)p;
    return i + (size_t)(__builtin_ctzll(m) >> 3);   /* the lowest lane is the first byte */
#else
    (void)m;
    for (;; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == '"' || c == '\\')
            return i;
    }
#endif
}

/* The index of the first special byte ('"', '\\', < 0x20) at or after
   p[i], or n; eight bytes at a time. */
static inline size_t scan_plain(const char *p, size_t i, size_t n)
{
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t m = word_special(w);
        if (m != 0)
            return first_special(p, i, m);
    }
    if (i < n) {
        /* the last 1..7 bytes in one word, padded with a plain byte */
        uint64_t w = 0x6161616161616161ull;
        memcpy(&w, p + i, n - i);
        uint64_t m = word_special(w);
        if (m != 0)
            return first_special((const char *)&w, 0, m) + i;
    }
    return n;
}

static size_t fast_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r'))
        i++;
    return i;
}

static int fast_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A string starting at p[i] == '"': the index after its closing quote, or
   FAST_NO. *esc tells whether it has escapes (valid ones only). */
static size_t fast_string(const char *p, size_t i, size_t n, bool *esc)
{
    *esc = false;
    for (i++; i < n; i++) {
        i = scan_plain(p, i, n);
        if (i >= n)
            return FAST_NO;
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return FAST_NO;
        if (c == '\\') {
            *esc = true;
            if (++i >= n)
                return FAST_NO;
            switch (p[i]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                break;
            case 'u': {
                if (n - i < 5)
                    return FAST_NO;
                int v = 0;
                for (int k = 1; k <= 4; k++) {
                    int h = fast_hex(p[i + k]);
                    if (h < 0)
                        return FAST_NO;
                    v = v * 16 + h;
                }
                if (v >= 0xD800 && v <= 0xDFFF)
                    return FAST_NO;     /* surrogates: cJSON's rules, not ours */
                i += 4;
                break;
            }
            default:
                return FAST_NO;
            }
        }
    }
    return FAST_NO;
}

/* An RFC 8259 number at p[i]: the index after it, or FAST_NO. *plain_int
   tells whether it is -?(0|[1-9][0-9]{0,9}) (no fraction or exponent). */
static size_t fast_number(const char *p, size_t i, size_t n, bool *plain_int)
{
    size_t s = i;
    *plain_int = true;
    if (i < n && p[i] == '-')
        i++;
    if (i >= n)
        return FAST_NO;
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    } else {
        return FAST_NO;
    }
    if (i < n && p[i] == '.') {
        *plain_int = false;
        size_t d = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return FAST_NO;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        *plain_int = false;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return FAST_NO;
    }
    if (i - s > 63)
        return FAST_NO;     /* cJSON reads at most 63 characters of a number */
    if (i < n && (p[i] == '-' || p[i] == '+' || p[i] == '.' || (p[i] >= '0' && p[i] <= '9')))
        return FAST_NO;
    if (*plain_int && i - s > 11)
        *plain_int = false;
    return i;
}

static bool fast_lit(const char *p, size_t i, size_t n, const char *lit, size_t len)
{
    return n - i >= len && memcmp(p + i, lit, len) == 0;
}

/* Any JSON value at p[i]: the index after it, or FAST_NO; *ws is set when
   insignificant whitespace occurs inside it. */
static size_t fast_value(const char *p, size_t i, size_t n, int depth, bool *ws)
{
    bool esc, plain;
    if (i >= n)
        return FAST_NO;
    switch (p[i]) {
    case '"':
        return fast_string(p, i, n, &esc);
    case '{':
    case '[': {
        char close = p[i] == '{' ? '}' : ']';
        bool obj = p[i] == '{';
        if (depth >= FAST_MAX_DEPTH)
            return FAST_NO;
        size_t j = fast_ws(p, i + 1, n);
        if (j != i + 1)
            *ws = true;
        if (j < n && p[j] == close)
            return j + 1;
        for (;;) {
            if (obj) {
                if (j >= n || p[j] != '"')
                    return FAST_NO;
                if ((j = fast_string(p, j, n, &esc)) == FAST_NO)
                    return FAST_NO;
                size_t k = fast_ws(p, j, n);
                if (k != j)
                    *ws = true;
                if (k >= n || p[k] != ':')
                    return FAST_NO;
                j = fast_ws(p, k + 1, n);
                if (j != k + 1)
                    *ws = true;
            }
            if ((j = fast_value(p, j, n, depth + 1, ws)) == FAST_NO)
                return FAST_NO;
            size_t k = fast_ws(p, j, n);
            if (k != j)
                *ws = true;
            if (k >= n)
                return FAST_NO;
            if (p[k] == close)
                return k + 1;
            if (p[k] != ',')
                return FAST_NO;
            j = fast_ws(p, k + 1, n);
            if (j != k + 1)
                *ws = true;
        }
    }
    case 't':
        return fast_lit(p, i, n, "true", 4) ? i + 4 : FAST_NO;
    case 'f':
        return fast_lit(p, i, n, "false", 5) ? i + 5 : FAST_NO;
    case 'n':
        return fast_lit(p, i, n, "null", 4) ? i + 4 : FAST_NO;
    default:
        return fast_number(p, i, n, &plain);
    }
}

bool ceb__json_check_fast(const char *p, size_t n, bool *compact)
{
    bool ws = false;
    size_t i = fast_ws(p, 0, n);
    if (i != 0)
        ws = true;
    size_t j = fast_value(p, i, n, 0, &ws);
    if (j == FAST_NO || fast_ws(p, j, n) != n)
        return false;
    *compact = !ws && j == n;
    return true;
}

enum { FK_EXT, FK_ID, FK_SOURCE, FK_TYPE, FK_SPEC, FK_DCT, FK_SCHEMA, FK_SUBJECT, FK_TIME,
       FK_DATA, FK_OTHER };

static int fast_key(const char *k, size_t n)
{
#define FAST_IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0)
    switch (k[0]) {
    case 'i': return FAST_IS("id") ? FK_ID : FK_EXT;
    case 's':
        return FAST_IS("source") ? FK_SOURCE : FAST_IS("specversion") ? FK_SPEC
             : FAST_IS("subject") ? FK_SUBJECT : FK_EXT;
    case 't': return FAST_IS("type") ? FK_TYPE : FAST_IS("time") ? FK_TIME : FK_EXT;
    case 'd':
        return FAST_IS("data") ? FK_DATA : FAST_IS("datacontenttype") ? FK_DCT
             : FAST_IS("dataschema") ? FK_SCHEMA : FAST_IS("data_base64") ? FK_OTHER : FK_EXT;
    default: return FK_EXT;
    }
#undef FAST_IS
}

/* 0 and *out, or 1: not handled here (use the cJSON path); never an error. */
static int fast_decode(const char *p, size_t n, ceb_event **out)
{
    if (n == 0 || (!fast_ascii(p, n) && !ceb__utf8_valid(p, n, NULL)))
        return 1;
    size_t i = fast_ws(p, 0, n);
    if (i >= n || p[i] != '{')
        return 1;
    ceb_event *ev;
    if (ceb_event_new(&ev) < 0)
        return 1;
    fast_span req[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    fast_span data = {NULL, 0};
    bool data_ws = false, data_str = false, esc;
    unsigned seen = 0;
    i = fast_ws(p, i + 1, n);
    if (i < n && p[i] == '}')
        goto no;    /* {}: missing attributes, the slow path says which */
    for (;;) {
        if (i >= n || p[i] != '"')
            goto no;
        size_t ks = i + 1;
        if ((i = fast_string(p, i, n, &esc)) == FAST_NO || esc || i - 1 == ks)
            goto no;
        size_t klen = i - 1 - ks;
        i = fast_ws(p, i, n);
        if (i >= n || p[i] != ':')
            goto no;
        i = fast_ws(p, i + 1, n);
        size_t vs = i;
        int key = fast_key(p + ks, klen);
        if (key != FK_EXT && key != FK_OTHER) {
            if (seen & (1u << key))
                goto no;
            seen |= 1u << key;
        }
        if (key == FK_DATA) {
            if ((i = fast_value(p, i, n, 1, &data_ws)) == FAST_NO)
                goto no;
            data = (fast_span){p + vs, i - vs};
            data_str = p[vs] == '"';
            if (data_str && memchr(p + vs + 1, '\\', i - vs - 2) != NULL)
                data_str = false, seen |= 1u << FK_OTHER;   /* text with escapes: slow path */
        } else if (key == FK_OTHER || i >= n) {
            goto no;
        } else if (p[i] == '"') {
            if ((i = fast_string(p, i, n, &esc)) == FAST_NO || esc)
                goto no;
            const char *v = p + vs + 1;
            size_t vlen = i - vs - 2;
            char name[128];
            int rc = 0;
            switch (key) {
            case FK_ID: case FK_SOURCE: case FK_TYPE:
                if (vlen == 0)
                    goto no;
                req[key - FK_ID] = (fast_span){v, vlen};
                break;
            case FK_SPEC:
                if (vlen != 3 || memcmp(v, "1.0", 3) != 0)
                    goto no;
                break;
            case FK_DCT: case FK_SCHEMA: case FK_SUBJECT: case FK_TIME:
                if (vlen == 0)
                    goto no;
                if (key == FK_TIME && ceb_time_check_rfc3339(v, vlen) < 0)
                    goto no;
                /* an unescaped string: no control character, so no NUL */
                rc = key == FK_DCT ? ceb__event_set_context_checked(ev, "datacontenttype", 15,
                                                                    v, vlen, NULL)
                   : key == FK_SCHEMA ? ceb__event_set_context_checked(ev, "dataschema", 10,
                                                                       v, vlen, NULL)
                   : key == FK_SUBJECT ? ceb__event_set_context_checked(ev, "subject", 7,
                                                                        v, vlen, NULL)
                   : ceb__event_set_context_checked(ev, "time", 4, v, vlen, NULL);
                break;
            default:
                if (klen >= sizeof(name))
                    goto no;
                memcpy(name, p + ks, klen);
                name[klen] = '\0';
                rc = ceb__event_set_ext(ev, name, CEB_ATTR_STRING, v, vlen, NULL);
                break;
            }
            if (rc < 0)
                goto no;
        } else if (key == FK_EXT) {
            char name[128];
            ceb_attr_type type;
            bool plain = false;
            if (p[i] == 't' && fast_lit(p, i, n, "true", 4)) {
                type = CEB_ATTR_BOOLEAN;
                i += 4;
            } else if (p[i] == 'f' && fast_lit(p, i, n, "false", 5)) {
                type = CEB_ATTR_BOOLEAN;
                i += 5;
            } else if ((p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) &&
                       (i = fast_number(p, i, n, &plain)) != FAST_NO && plain) {
                type = CEB_ATTR_INTEGER;
            } else {
                goto no;
            }
            if (klen >= sizeof(name))
                goto no;
            memcpy(name, p + ks, klen);
            name[klen] = '\0';
            /* out of int32 range fails here (CEB_EINVAL): the slow path decides */
            if (ceb__event_set_ext(ev, name, type, p + vs, i - vs, NULL) < 0)
                goto no;
        } else {
            goto no;
        }
        i = fast_ws(p, i, n);
        if (i >= n)
            goto no;
        if (p[i] == '}')
            break;
        if (p[i] != ',')
            goto no;
        i = fast_ws(p, i + 1, n);
    }
    if (fast_ws(p, i + 1, n) != n || !(seen & (1u << FK_SPEC)) || (seen & (1u << FK_OTHER)))
        goto no;
    static const char *const req_names[3] = { "id", "source", "type" };
    for (int k = 0; k < 3; k++)
        if (req[k].p == NULL ||
            ceb__event_set_context_checked(ev, req_names[k], strlen(req_names[k]), req[k].p,
                                           req[k].n, NULL) < 0)
            goto no;
    if (data.p != NULL) {
        const char *ct = ceb_event_datacontenttype(ev);
        bool json = ct == NULL || ceb__ctype_is_json(ct, strlen(ct));
        ceb_buf text = {0};
        ceb_data_kind kind = CEB_DATA_JSON;
        int rc;
        if (json && !data_ws) {
            /* nothing to minify: copied once, into the event when small */
            if (ceb__event_copy_data(ev, CEB_DATA_JSON, data.p, data.n, true) < 0)
                goto no;
            *out = ev;
            return 0;
        }
        if (!json && data_str) {
            kind = CEB_DATA_TEXT;
            rc = ceb_buf_append(&text, data.p + 1, data.n - 2);
        } else if (data_ws) {
            rc = ceb__json_minify(data.p, data.n, &text);
        } else {
            rc = ceb_buf_append(&text, data.p, data.n);
        }
        size_t len;
        char *copy = rc == 0 ? ceb_buf_steal(&text, &len) : NULL;
        if (copy == NULL) {
            ceb_buf_free(&text);
            goto no;
        }
        /* JSON data is minified (or had nothing to minify) by now */
        if ((kind == CEB_DATA_JSON ? ceb__event_take_data_compact(ev, copy, len)
                                   : ceb__event_take_data(ev, kind, copy, len, NULL)) < 0)
            goto no;
    }
    *out = ev;
    return 0;
no:
    ceb_event_unref(ev);
    return 1;
}

int ceb_codec_json_decode(const void *buf, size_t len, ceb_decode_opts *opts,
                          ceb_event **out, ceb_diag *d)
{
    ceb_decode_opts strict = { .strict = true };
    cJSON *root;
    if (opts == NULL)
        opts = &strict;
    opts->repaired = 0;
    if (buf != NULL && fast_decode(buf, len, out) == 0)
        return 0;
    int rc = parse(buf, len, &root, d);
    if (rc < 0)
        return rc;
    dctx c = { .opts = opts, .strict = opts->strict, .prefix = "", .d = d, .raw = buf, .raw_len = len };
    rc = decode_object(&c, root, out);
    cJSON_Delete(root);
    return rc;
}

void ceb_events_free(ceb_event **events, size_t n)
{
    if (events == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        ceb_event_unref(events[i]);
    free(events);
}

int ceb_codec_json_decode_batch(const void *buf, size_t len, ceb_decode_opts *opts,
                                ceb_event ***out, size_t *n, ceb_diag *d)
{
    ceb_decode_opts strict = { .strict = true };
    cJSON *root;
    char prefix[32];
    if (opts == NULL)
        opts = &strict;
    opts->repaired = 0;
    *out = NULL;
    *n = 0;
    int rc = parse(buf, len, &root, d);
    if (rc < 0)
        return rc;
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return ceb_diag_set(d, CEB_EDECODE, "not a JSON array, so not a CloudEvents batch");
    }
    size_t count = (size_t)cJSON_GetArraySize(root);
    ceb_event **evs = calloc(count ? count : 1, sizeof *evs);
    if (evs == NULL) {
        cJSON_Delete(root);
        return CEB_ENOMEM;
    }
    size_t i = 0;
    const char *p = buf;
    size_t at = skip_ws(p, 0, len) + 1;     /* after '[' */
    for (cJSON *e = root->child; e != NULL; e = e->next, i++) {
        snprintf(prefix, sizeof prefix, "[%zu]", i);
        at = skip_ws(p, at, len);
        size_t start = at;
        at = skip_value(p, at, len);
        dctx c = { .opts = opts, .strict = opts->strict, .prefix = prefix, .d = d,
                   .raw = p + start, .raw_len = at - start };
        at = skip_ws(p, at, len);
        if (at < len && p[at] == ',')
            at++;
        if ((rc = decode_object(&c, e, &evs[i])) < 0) {
            ceb_events_free(evs, i);
            cJSON_Delete(root);
            return rc;
        }
    }
    cJSON_Delete(root);
    *out = evs;
    *n = count;
    return 0;
}

bool ceb_codec_json_is_event(const void *buf, size_t len)
{
    cJSON *root;
    if (parse(buf, len, &root, NULL) < 0)
        return false;
    bool yes = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "specversion") != NULL;
    cJSON_Delete(root);
    return yes;
}

/* ---- encode ------------------------------------------------------------- */

/* ceb_json_quote() of s[0..len) whose first special byte is at i < len: the
   plain runs between escapes are copied whole. The same bytes out. */
static int enc_quote_escaped(ceb_buf *out, const char *s, size_t len, size_t i)
{
    static const char hex[] = "0123456789abcdef";
    if (len > (SIZE_MAX - 2) / 6)
        return CEB_ENOMEM;
    int rc = ceb_buf_reserve(out, len * 6 + 2); /* every byte \u00XX at worst */
    if (rc < 0)
        return rc;
    char *p = out->data + out->len;
    *p++ = '"';
    size_t run = 0;
    for (;;) {
        memcpy(p, s + run, i - run);
        p += i - run;
        if (i >= len)
            break;
        unsigned char ch = (unsigned char)s[i];
        *p++ = '\\';
        switch (ch) {
        case '"':  *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default: /* the other control characters */
            *p++ = 'u'; *p++ = '0'; *p++ = '0';
            *p++ = hex[ch >> 4]; *p++ = hex[ch & 15];
        }
        run = ++i;
        i = scan_plain(s, i, len);
    }
    *p++ = '"';
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* ceb_json_quote(), with the common case (nothing to escape) as one copy. */
static int enc_quote(ceb_buf *out, const char *s, size_t len)
{
    size_t i = scan_plain(s, 0, len);
    if (i < len)
        return enc_quote_escaped(out, s, len, i);
    int rc = ceb_buf_reserve(out, len + 2);
    if (rc < 0)
        return rc;
    char *p = out->data + out->len;
    *p++ = '"';
    memcpy(p, s, len);
    p[len] = '"';
    out->len += len + 2;
    out->data[out->len] = '\0';
    return 0;
}

/* Append n bytes known to fit (ceb_buf_reserve was called). */
static void enc_put(ceb_buf *out, const char *s, size_t n)
{
    memcpy(out->data + out->len, s, n);
    out->len += n;
    out->data[out->len] = '\0';
}

/* Append bytes known to fit. */
static inline char *enc_copy(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static int encode_one(const ceb_event *ev, ceb_buf *out)
{
    int rc;
    size_t len;
    const char *data = ceb_event_data(ev, &len);
    ceb_data_kind kind = ceb_event_data_kind(ev);
    bool compact = data != NULL && ceb__event_data_compact(ev);
    /* '{', the members, then ,"data":<compact JSON>} in the same reservation */
    if ((rc = ceb_buf_reserve(out, 1)) < 0)
        return rc;
    enc_put(out, "{", 1);
    if ((rc = ceb__event_json_attrs(ev, out, compact ? len + 9 : 1, enc_quote)) < 0)
        return rc;
    if (compact) {
        char *p = out->data + out->len;
        p = enc_copy(p, ",\"data\":", 8);
        p = enc_copy(p, data, len);
        *p++ = '}';
        *p = '\0';
        out->len = (size_t)(p - out->data);
        return 0;
    }
    if (data != NULL && kind != CEB_DATA_NONE) {
        if (kind == CEB_DATA_JSON || (ceb_event_data_is_json(ev) && ceb_event_data_json(ev) != NULL)) {
            if ((rc = ceb_buf_append_str(out, ",\"data\":")) < 0 ||
                (rc = ceb__event_data_compact(ev) ? ceb_buf_append(out, data, len)
                                                  : ceb__json_minify(data, len, out)) < 0)
                return rc;
        } else if (kind == CEB_DATA_TEXT &&
                   (ceb__event_data_text_ok(ev) ||
                    (memchr(data, '\0', len) == NULL && ceb__utf8_valid(data, len, NULL)))) {
            if ((rc = ceb_buf_append_str(out, ",\"data\":")) < 0 ||
                (rc = enc_quote(out, data, len)) < 0)
                return rc;
        } else {
            if ((rc = ceb_buf_append_str(out, ",\"data_base64\":\"")) < 0 ||
                (rc = ceb_base64_encode(data, len, out)) < 0 ||
                (rc = ceb_buf_append(out, "\"", 1)) < 0)
                return rc;
        }
    }
    return ceb_buf_append(out, "}", 1);
}

int ceb_codec_json_encode(const ceb_event *ev, ceb_buf *out)
{
    size_t mark = out->len;
    int rc = encode_one(ev, out);
    if (rc < 0 && out->data != NULL) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

int ceb_codec_json_encode_batch(const ceb_event *const *evs, size_t n, ceb_buf *out)
{
    size_t mark = out->len;
    int rc = ceb_buf_append(out, "[", 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = ceb_buf_append(out, ",", 1);
        if (rc == 0)
            rc = encode_one(evs[i], out);
    }
    if (rc == 0)
        rc = ceb_buf_append(out, "]", 1);
    if (rc < 0 && out->data != NULL) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}
