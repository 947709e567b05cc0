/* codec_http.c - the CloudEvents HTTP protocol binding (codec_http.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cebridge/codec_http.h>
#include <cebridge/errors.h>

#include "sdk_internal.h"

/* ---- small helpers ------------------------------------------------------ */

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bool prefix_ci(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && strncasecmp(s, p, pl) == 0;
}
/* ---- content types ------------------------------------------------------ */

ceb_http_mode ceb_http_classify(const char *ct, size_t len)
{
    if (ct == NULL || len == 0)
        return CEB_HTTP_MODE_BINARY;
    const char *semi = memchr(ct, ';', len);
    if (semi != NULL)
        len = (size_t)(semi - ct);
    trim(&ct, &len);
    static const char batch[] = "application/cloudevents-batch";
    static const char single[] = "application/cloudevents";
    const char *rest;
    size_t rlen;
    ceb_http_mode m;
    if (prefix_ci(ct, len, batch)) {
        rest = ct + sizeof batch - 1;
        rlen = len - (sizeof batch - 1);
        m = CEB_HTTP_MODE_BATCH;
    } else if (prefix_ci(ct, len, single)) {
        rest = ct + sizeof single - 1;
        rlen = len - (sizeof single - 1);
        m = CEB_HTTP_MODE_STRUCTURED;
    } else {
        return CEB_HTTP_MODE_BINARY;
    }
    if (rlen == 0 || (rlen == 5 && strncasecmp(rest, "+json", 5) == 0))
        return m;
    if (rest[0] == '+')
        return CEB_HTTP_MODE_UNSUPPORTED;
    /* "application/cloudeventsfoo": not the CloudEvents media type at all. */
    return CEB_HTTP_MODE_BINARY;
}

bool ceb_http_ctype_is_json(const char *ct, size_t len)
{
    return ceb__ctype_is_json(ct, len);
}

const ceb_http_header *ceb_http_header_find(const ceb_http_header *h, size_t nh,
                                            const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < nh; i++)
        if (h[i].name_len == nl && strncasecmp(h[i].name, name, nl) == 0)
            return &h[i];
    return NULL;
}

/* ---- header values ------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Printable ASCII other than '%' and '"': the value is its own decoding. */
static bool value_is_plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '%' || c == '"')
            return false;
    }
    return true;
}

int ceb_http_value_decode(const char *s, size_t n, ceb_buf *out, ceb_diag *d)
{
    ceb_buf unq = {0};
    int rc;
    trim(&s, &n);
    if (value_is_plain(s, n))   /* the common case: no escapes, nothing to validate */
        return ceb_buf_append(out, s, n);
    if (n > 0 && s[0] == '"') {
        /* RFC 7230 3.2.6 quoted-string: "..." with \-escapes. */
        size_t i = 1;
        bool closed = false;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                closed = true;
                i++;
                break;
            }
            if (c == '\\') {
                if (i + 1 >= n) {
                    ceb_buf_free(&unq);
                    return ceb_diag_set(d, CEB_EINVAL, "quoted value ends inside an escape");
                }
                c = s[++i];
            }
            if ((rc = ceb_buf_append(&unq, &c, 1)) < 0) {
                ceb_buf_free(&unq);
                return rc;
            }
            i++;
        }
        if (!closed || i != n) {
            ceb_buf_free(&unq);
            return ceb_diag_set(d, CEB_EINVAL, "unterminated or trailing text after a quoted value");
        }
        if (unq.data == NULL && (rc = ceb_buf_reserve(&unq, 0)) < 0)
            return rc;
        s = unq.data;
        n = unq.len;
    }
    size_t start = out->len;
    if ((rc = ceb_buf_reserve(out, n)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                rc = ceb_diag_set(d, CEB_EINVAL, "invalid percent-encoding at offset %zu", i);
                goto undo;
            }
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        out->data[out->len++] = (char)c;
    }
    out->data[out->len] = '\0';
    size_t bad = 0;
    if (!ceb__utf8_valid(out->data + start, out->len - start, &bad)) {
        rc = ceb_diag_set(d, CEB_EINVAL, "percent-decoded value is not valid UTF-8 (byte %zu)", bad);
        goto undo;
    }
    for (size_t i = start; i < out->len; i++) {
        unsigned char c = (unsigned char)out->data[i];
        if (c < 0x20 || c == 0x7f) {
            rc = ceb_diag_set(d, CEB_EINVAL, "decoded value contains control character 0x%02x",
                              (unsigned)c);
            goto undo;
        }
    }
    rc = 0;
    goto done;
undo:
    out->len = start;
    if (out->data != NULL)
        out->data[start] = '\0';
done:
    ceb_buf_free(&unq);
    return rc;
}

int ceb_http_value_encode(const char *s, size_t n, ceb_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = ceb_buf_reserve(out, n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x20 && c < 0x7f && c != '"' && c != '%') {
            rc = ceb_buf_append(out, &s[i], 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            rc = ceb_buf_append(out, e, 3);
        }
        if (rc < 0)
            return rc;
    }
    if (n == 0)
        rc = ceb_buf_append(out, "", 0);
    return rc;
}

/* ---- binary mode decode ------------------------------------------------- */

static bool is_ce_header(const ceb_http_header *h)
{
    return h->name_len > 3 && strncasecmp(h->name, "ce-", 3) == 0;
}

bool ceb_http_is_binary_event(const ceb_http_header *h, size_t nh)
{
    /* One pass over the headers (this runs for every request). */
    for (size_t i = 0; i < nh; i++) {
        if (!is_ce_header(&h[i]))
            continue;
        const char *n = h[i].name + 3;
        size_t nl = h[i].name_len - 3;
        if ((nl == 11 && strncasecmp(n, "specversion", 11) == 0) ||
            (nl == 2 && strncasecmp(n, "id", 2) == 0) ||
            (nl == 6 && strncasecmp(n, "source", 6) == 0) ||
            (nl == 4 && strncasecmp(n, "type", 4) == 0))
            return true;
    }
    return false;
}
int ceb_http_decode_binary(const ceb_http_header *h, size_t nh, const void *body, size_t len,
                           ceb_decode_opts *opts, ceb_event **out, ceb_diag *d)
{
    if (!ceb_http_is_binary_event(h, nh))
        return ceb_diag_set(d, CEB_EDECODE, "no ce-specversion, ce-id, ce-source or ce-type "
                            "header: not a binary-mode CloudEvent");
    ceb_event *ev = NULL;
    ceb_buf val = {0};
    char name[256];
    unsigned set = 0;                 /* ceb__context_bit()s of the attributes set */
    int rc = ceb_event_new(&ev);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nh; i++) {
        if (!is_ce_header(&h[i]))
            continue;
        size_t nl = h[i].name_len - 3;
        if (nl >= sizeof name) {
            rc = ceb_diag_set(d, CEB_ESPEC, "header name too long: %.32s...", h[i].name);
            goto fail;
        }
        for (size_t k = 0; k < nl; k++) {
            char c = h[i].name[3 + k];
            name[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        name[nl] = '\0';
        if (strcmp(name, "datacontenttype") == 0) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, name, "header ce-datacontenttype is not "
                                    "allowed in binary mode: use Content-Type");
            goto fail;
        }
        unsigned bit = ceb__context_bit(name, nl);
        if (bit != 0 ? (set & bit) != 0 : ceb_event_get(ev, name) != NULL) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, name, "header ce-%s is given more than once",
                                    name);
            goto fail;
        }
        if ((rc = ceb_attr_name_check(name, nl, d)) < 0) {
            rc = ceb__spec_error(d, rc, name);
            goto fail;
        }
        ceb_buf_reset(&val);
        if ((rc = ceb_http_value_decode(h[i].value, h[i].value_len, &val, d)) < 0 ||
            (rc = ceb_buf_append(&val, "", 0)) < 0) {
            if (rc != CEB_ENOMEM && d != NULL && d->message[0] != '\0') {
                char msg[sizeof d->message];
                memcpy(msg, d->message, sizeof msg);
                int k = snprintf(d->message, sizeof d->message, "header ce-%.64s: ", name);
                if (k > 0 && (size_t)k < sizeof d->message)
                    snprintf(d->message + k, sizeof d->message - (size_t)k, "%.400s", msg);
            }
            rc = ceb__spec_error(d, rc, name);
            goto fail;
        }
        if (bit == CEB__CTX_SPECVERSION) {
            set |= bit;
            if (strcmp(val.data, "1.0") != 0) {
                rc = ceb_diag_set_field(d, CEB_ESPEC, "specversion",
                                        "specversion must be \"1.0\", got \"%.32s\"", val.data);
                goto fail;
            }
            continue;
        }
        /* The decoded value is UTF-8 without control characters (so no
           NUL); an extension's name passed ceb_attr_name_check and is not
           set yet (above). */
        if (bit != 0)
            rc = ceb__event_set_context_checked(ev, name, nl, val.data, val.len, d);
        else
            rc = ceb__event_add_ext_checked(ev, name, nl, val.data, val.len);
        if (rc < 0) {
            rc = ceb__spec_error(d, rc, name);
            goto fail;
        }
        set |= bit;
    }
    if (!(set & CEB__CTX_SPECVERSION)) {
        if (opts == NULL || opts->strict) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, "specversion", "required attribute "
                                    "'specversion' is missing (header ce-specversion)");
            goto fail;
        }
        opts->repaired |= CEB_REPAIRED_SPECVERSION;
    }
    if ((rc = ceb__event_fill_required(ev, opts, "header ce-", d)) < 0)
        goto fail;

    const ceb_http_header *cth = ceb_http_header_find(h, nh, "content-type");
    const char *ct = NULL;
    size_t ctlen = 0;
    if (cth != NULL) {
        ct = cth->value;
        ctlen = cth->value_len;
        trim(&ct, &ctlen);
        /* It becomes a String attribute: text only (obs-text that is not
           UTF-8 would make an event the JSON format cannot carry). */
        size_t bad = 0;
        bool ctl = false;
        for (size_t i = 0; i < ctlen && !ctl; i++)
            ctl = ((unsigned char)ct[i] < 0x20 && ct[i] != '\t') || ct[i] == 0x7f;
        if (ctl || !ceb__utf8_valid(ct, ctlen, &bad)) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, "datacontenttype", "header Content-Type is "
                                    "not text (control character or invalid UTF-8)");
            goto fail;
        }
        if (ctlen > 0 && (rc = ceb_event_setn(ev, "datacontenttype", ct, ctlen, d)) < 0) {
            rc = ceb__spec_error(d, rc, "datacontenttype");
            goto fail;
        }
    }
    if (len > 0) {
        ceb_data_kind kind = CEB_DATA_BINARY;
        if (ctlen > 0 && ceb__ctype_is_json(ct, ctlen)) {
            kind = CEB_DATA_JSON;
        } else if (ctlen >= 5 && strncasecmp(ct, "text/", 5) == 0 &&
                   memchr(body, '\0', len) == NULL && ceb__utf8_valid(body, len, NULL)) {
            kind = CEB_DATA_TEXT;
        }
        rc = ceb_event_set_data(ev, kind, body, len);
        if (rc == CEB_EINVAL && kind == CEB_DATA_JSON)  /* labelled JSON, is not: keep bytes */
            rc = ceb_event_set_data(ev, CEB_DATA_BINARY, body, len);
        if (rc < 0) {
            rc = rc == CEB_ENOMEM ? rc : ceb_diag_set_field(d, CEB_ESPEC, "data",
                                                            "cannot store the body as data");
            goto fail;
        }
    }
    ceb_buf_free(&val);
    *out = ev;
    return 0;
fail:
    ceb_buf_free(&val);
    ceb_event_unref(ev);
    return rc;
}

/* ---- any mode ----------------------------------------------------------- */

int ceb_http_decode(const ceb_http_header *h, size_t nh, const void *body, size_t len,
                    ceb_decode_opts *opts, ceb_event ***out, size_t *n,
                    ceb_http_mode *mode, ceb_diag *d)
{
    const ceb_http_header *cth = ceb_http_header_find(h, nh, "content-type");
    ceb_http_mode m = cth ? ceb_http_classify(cth->value, cth->value_len) : CEB_HTTP_MODE_BINARY;
    ceb_event *one = NULL;
    int rc;
    *out = NULL;
    *n = 0;
    if (mode != NULL)
        *mode = m;
    switch (m) {
    case CEB_HTTP_MODE_UNSUPPORTED:
        return ceb_diag_set(d, CEB_ENOTSUP, "unsupported CloudEvents format \"%.*s\" (only JSON)",
                            (int)(cth->value_len > 80 ? 80 : cth->value_len), cth->value);
    case CEB_HTTP_MODE_BATCH:
        return ceb_codec_json_decode_batch(body, len, opts, out, n, d);
    case CEB_HTTP_MODE_STRUCTURED:
        rc = ceb_codec_json_decode(body, len, opts, &one, d);
        break;
    case CEB_HTTP_MODE_BINARY:
    default:
        if (ceb_http_is_binary_event(h, nh)) {
            rc = ceb_http_decode_binary(h, nh, body, len, opts, &one, d);
        } else if (cth != NULL && ceb__ctype_is_json(cth->value, cth->value_len) &&
                   ceb_codec_json_is_event(body, len)) {
            if (mode != NULL)
                *mode = CEB_HTTP_MODE_STRUCTURED;
            rc = ceb_codec_json_decode(body, len, opts, &one, d);
        } else {
            return ceb_diag_set(d, CEB_EDECODE, "not a CloudEvent: no ce- headers and "
                                "Content-Type is not application/cloudevents+json");
        }
        break;
    }
    if (rc < 0)
        return rc;
    ceb_event **arr = malloc(sizeof *arr);
    if (arr == NULL) {
        ceb_event_unref(one);
        return CEB_ENOMEM;
    }
    arr[0] = one;
    *out = arr;
    *n = 1;
    return 0;
}

/* ---- encode ------------------------------------------------------------- */

int ceb_http_encode_binary(const ceb_event *ev, ceb_http_header_fn fn, void *arg,
                           ceb_buf *body)
{
    ceb_buf name = {0}, val = {0};
    int rc = 0;
    size_t na = ceb_event_attr_count(ev);
    for (size_t i = 0; i < na && rc == 0; i++) {
        ceb_attr a;
        if ((rc = ceb_event_attr_at(ev, i, &a)) < 0)
            break;
        if (strcmp(a.name, "datacontenttype") == 0)
            continue;
        ceb_buf_reset(&name);
        ceb_buf_reset(&val);
        if ((rc = ceb_buf_printf(&name, "ce-%s", a.name)) < 0 ||
            (rc = ceb_http_value_encode(a.text, a.len, &val)) < 0)
            break;
        rc = fn(arg, name.data, val.data);
    }
    if (rc == 0) {
        const char *ct = ceb_event_datacontenttype(ev);
        if (ct == NULL && ceb_event_data_kind(ev) == CEB_DATA_JSON)
            ct = "application/json";
        if (ct != NULL)
            rc = fn(arg, "Content-Type", ct);
    }
    if (rc == 0 && body != NULL) {
        size_t len = 0;
        const void *p = ceb_event_data(ev, &len);
        rc = ceb_buf_append(body, p, len);
    }
    ceb_buf_free(&name);
    ceb_buf_free(&val);
    return rc;
}

int ceb_http_encode_structured(const ceb_event *ev, ceb_http_header_fn fn, void *arg,
                               ceb_buf *body)
{
    int rc = fn(arg, "Content-Type", CEB_HTTP_CT_STRUCTURED);
    if (rc == 0 && body != NULL)
        rc = ceb_codec_json_encode(ev, body);
    return rc;
}

int ceb_http_encode_batch(const ceb_event *const *evs, size_t n, ceb_http_header_fn fn,
                          void *arg, ceb_buf *body)
{
    int rc = fn(arg, "Content-Type", CEB_HTTP_CT_BATCH);
    if (rc == 0 && body != NULL)
        rc = ceb_codec_json_encode_batch(evs, n, body);
    return rc;
}
