/* codec_kafka.c - the CloudEvents Kafka protocol binding (codec_kafka.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cebridge/codec_kafka.h>
#include <cebridge/errors.h>

#include "sdk_internal.h"

/* ---- helpers ------------------------------------------------------------ */

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* s[0..n) is lower-case `lit` in any case (strncasecmp in the C locale
   for a literal without NUL); most names come in lower case: one compare. */
static inline bool eq_ci(const char *s, const char *lit, size_t n)
{
    if (memcmp(s, lit, n) == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)lit[i])
            return false;
    }
    return true;
}

static bool prefix_ci(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && strncasecmp(s, p, pl) == 0;
}
const ceb_kafka_header *ceb_kafka_header_find(const ceb_kafka_header *h, size_t nh,
                                              const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < nh; i++)
        if (h[i].name_len == len && strncasecmp(h[i].name, name, len) == 0)
            return &h[i];
    return NULL;
}

/* The first content-type header, or NULL. */
static const ceb_kafka_header *find_ct(const ceb_kafka_header *h, size_t nh)
{
    for (size_t i = 0; i < nh; i++)
        if (h[i].name_len == 12 && eq_ci(h[i].name, "content-type", 12))
            return &h[i];
    return NULL;
}

static ceb_kafka_mode classify_ct(const ceb_kafka_header *ct)
{
    if (ct == NULL || ct->value == NULL || ct->value_len == 0)
        return CEB_KAFKA_MODE_BINARY;
    const char *s = ct->value;
    size_t n = ct->value_len;
    const char *semi = memchr(s, ';', n);
    if (semi != NULL)
        n = (size_t)(semi - s);
    trim(&s, &n);
    static const char ce[] = "application/cloudevents";
    if (!prefix_ci(s, n, ce))
        return CEB_KAFKA_MODE_BINARY;
    const char *rest = s + sizeof ce - 1;
    size_t rlen = n - (sizeof ce - 1);
    /* application/cloudevents and application/cloudevents+json are JSON */
    if (rlen == 0 || (rlen == 5 && strncasecmp(rest, "+json", 5) == 0))
        return CEB_KAFKA_MODE_STRUCTURED;
    if (rest[0] != '+') /* application/cloudeventsx, -batch...: not an event format */
        return CEB_KAFKA_MODE_BINARY;
    return CEB_KAFKA_MODE_UNSUPPORTED;
}

ceb_kafka_mode ceb_kafka_classify(const ceb_kafka_header *h, size_t nh)
{
    return classify_ct(find_ct(h, nh));
}

/* The first 3 bytes are "ce_", any case (no libc call: this runs per header). */
static bool is_ce_prefix(const char *n, size_t len)
{
    return len > 3 && (n[0] | 0x20) == 'c' && (n[1] | 0x20) == 'e' && n[2] == '_';
}

static bool is_ce_header(const ceb_kafka_header *h)
{
    return is_ce_prefix(h->name, h->name_len);
}

/* One of the headers that make a record a binary-mode event (any case). */
static bool is_core_header(const ceb_kafka_header *h)
{
    size_t n = h->name_len;
    if ((n != 5 && n != 7 && n != 9 && n != 14) || !is_ce_header(h))
        return false;
    const char *r = h->name + 3;
    switch (n) {
    case 5:  return eq_ci(r, "id", 2);
    case 7:  return eq_ci(r, "type", 4);
    case 9:  return eq_ci(r, "source", 6);
    default: return eq_ci(r, "specversion", 11);
    }
}

bool ceb_kafka_is_binary_event(const ceb_kafka_header *h, size_t nh)
{
    for (size_t i = 0; i < nh; i++)
        if (is_core_header(&h[i]))
            return true;
    return false;
}

/* ---- decode ------------------------------------------------------------- */

/* The name of a CEB__CTX_* bit (ceb__context_bit's names). */
static const char *ctx_bit_name(unsigned bit)
{
    switch (bit) {
    case CEB__CTX_ID:         return "id";
    case CEB__CTX_SOURCE:     return "source";
    case CEB__CTX_TYPE:       return "type";
    case CEB__CTX_SUBJECT:    return "subject";
    case CEB__CTX_TIME:       return "time";
    case CEB__CTX_DATASCHEMA: return "dataschema";
    default:                  return "specversion";
    }
}

/* One ce_ header into `ev`. `*set` holds the bits of the context attributes
   set so far (CEB__CTX_SPECVERSION: ce_specversion seen). */
static int decode_header(ceb_event *ev, const ceb_kafka_header *h, ceb_decode_opts *opts,
                         unsigned *set, ceb_diag *d)
{
    char buf[256];
    const char *name;
    size_t nl = h->name_len - 3;
    /* the common case: a context attribute's lower-case name, used in
       place (no copy, no name checks: it is one of the known names) */
    unsigned bit = ceb__context_bit(h->name + 3, nl);
    if (bit != 0) {
        name = ctx_bit_name(bit);
    } else {
        bool strict = opts == NULL || opts->strict;
        if (nl >= sizeof buf)
            return ceb_diag_set(d, CEB_ESPEC, "header name too long: %.32s...", h->name);
        bool upper = false, plain = true;
        for (size_t k = 0; k < nl; k++) {
            char c = h->name[3 + k];
            if (c >= 'A' && c <= 'Z') {
                upper = true;
                c = (char)(c - 'A' + 'a');
            } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                plain = false;
            }
            buf[k] = c;
        }
        buf[nl] = '\0';
        name = buf;
        if (upper) {
            if (strict)
                return ceb_diag_set_field(d, CEB_ESPEC, name, "header %.*s: attribute names are "
                                          "lower-case (ce_%s)", (int)h->name_len, h->name, name);
            opts->repaired |= CEB_REPAIRED_NAME;
        }
        if (nl == 15 && memcmp(name, "datacontenttype", 15) == 0)
            return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_datacontenttype is not "
                                      "allowed in binary mode: use content-type");
        if (!plain || (nl == 4 && memcmp(name, "data", 4) == 0)) {
            int rc = ceb_attr_name_check(name, nl, d);
            if (rc < 0)
                return ceb__spec_error(d, rc, name);
        }
        bit = ceb__context_bit(name, nl);
    }
    int rc;
    if (bit != 0 ? (*set & bit) != 0 : ceb__event_has_ext(ev, name, nl))
        return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_%s is given more than once",
                                  name);
    if (h->value == NULL)
        return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_%s has a null value", name);
    const char *v = h->value;
    size_t vl = h->value_len;
    size_t bad = 0;
    unsigned cls;
    if (bit == CEB__CTX_SPECVERSION && vl == 3 && memcmp(v, "1.0", 3) == 0) {
        *set |= CEB__CTX_SPECVERSION;   /* the one valid value: nothing to scan */
        return 0;
    }
    /* one pass: UTF-8, NUL, and what the setter and the encoders would scan for */
    if (!ceb__utf8_scan(v, vl, &bad, &cls) || (cls & CEB__TXT_NUL))
        return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_%s: value is not UTF-8 text "
                                  "(byte %zu)", name, bad);
    if (bit == CEB__CTX_SPECVERSION) {
        *set |= CEB__CTX_SPECVERSION;
        if (vl != 3 || memcmp(v, "1.0", 3) != 0)
            return ceb_diag_set_field(d, CEB_ESPEC, "specversion",
                                      "specversion must be \"1.0\", got \"%.*s\"",
                                      (int)(vl > 32 ? 32 : vl), v);
        return 0;
    }
    /* An empty attribute is left unset: fill_required repairs or refuses a
       required one; an optional one is absent. */
    if (vl == 0 && bit != 0)
        return 0;
    /* the value is UTF-8 without NUL (above); an extension's name is valid,
       not a context attribute and not set yet */
    if (bit != 0)
        rc = ceb__event_set_context_bit(ev, bit, v, vl, cls, d);
    else
        rc = ceb__event_add_ext_scanned(ev, name, nl, v, vl, !(cls & CEB__TXT_JSONESC));
    if (rc < 0)
        return ceb__spec_error(d, rc, name);
    *set |= bit;
    return 0;
}

static int decode_binary(const ceb_kafka_message *m, const ceb_kafka_header *cth,
                         ceb_decode_opts *opts, ceb_event **out, ceb_diag *d)
{
    ceb_event *ev = NULL;
    unsigned set = 0;
    int rc = ceb_event_new(&ev);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < m->nheaders; i++) {
        if (is_ce_header(&m->headers[i]) &&
            (rc = decode_header(ev, &m->headers[i], opts, &set, d)) < 0)
            goto fail;
    }
    if (!(set & CEB__CTX_SPECVERSION)) {
        if (opts == NULL || opts->strict) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, "specversion", "required attribute "
                                    "'specversion' is missing (header ce_specversion)");
            goto fail;
        }
        opts->repaired |= CEB_REPAIRED_SPECVERSION;
    }
    if ((set & (CEB__CTX_ID | CEB__CTX_SOURCE | CEB__CTX_TYPE)) != (CEB__CTX_ID | CEB__CTX_SOURCE | CEB__CTX_TYPE) &&
        (rc = ceb__event_fill_required(ev, opts, "header ce_", d)) < 0)
        goto fail;

    const char *ct = NULL;
    size_t ctlen = 0;
    if (cth != NULL && cth->value != NULL) {
        ct = cth->value;
        ctlen = cth->value_len;
        trim(&ct, &ctlen);
        unsigned cls = 0;   /* "application/json": plain ASCII, no scan */
        if (ctlen > 0 && ((!(ctlen == 16 && memcmp(ct, "application/json", 16) == 0) &&
                           !ceb__utf8_scan(ct, ctlen, NULL, &cls)) ||
                          (rc = ceb__event_set_ctype_scanned(ev, ct, ctlen, cls, d)) < 0)) {
            rc = ceb__spec_error(d, rc < 0 ? rc : CEB_EINVAL, "datacontenttype");
            goto fail;
        }
    }
    if (m->value != NULL && m->value_len > 0) {
        ceb_data_kind kind = CEB_DATA_BINARY;
        if (ctlen > 0 && ceb__ctype_is_json(ct, ctlen)) {
            kind = CEB_DATA_JSON;
        } else if (ctlen >= 5 && strncasecmp(ct, "text/", 5) == 0 &&
                   memchr(m->value, '\0', m->value_len) == NULL &&
                   ceb__utf8_valid(m->value, m->value_len, NULL)) {
            kind = CEB_DATA_TEXT;
        }
        rc = ceb_event_set_data(ev, kind, m->value, m->value_len);
        if (rc == CEB_EINVAL && kind == CEB_DATA_JSON) /* labelled JSON, is not: keep bytes */
            rc = ceb_event_set_data(ev, CEB_DATA_BINARY, m->value, m->value_len);
        if (rc < 0) {
            rc = rc == CEB_ENOMEM ? rc : ceb_diag_set_field(d, CEB_ESPEC, "data",
                                                            "cannot store the value as data");
            goto fail;
        }
    }
    *out = ev;
    return 0;
fail:
    ceb_event_unref(ev);
    return rc;
}

/* The record key as the partitionkey extension, unless the event has one. */
static int key_to_partitionkey(ceb_event *ev, const ceb_kafka_message *m, ceb_diag *d)
{
    if (m->key == NULL || m->key_len == 0 || ceb__event_has_ext(ev, "partitionkey", 12))
        return 0;
    unsigned cls;
    if (!ceb__utf8_scan(m->key, m->key_len, NULL, &cls) || (cls & CEB__TXT_NUL))
        return 0; /* a binary key has no String form: leave the event as it is */
    (void)d;
    return ceb__event_add_ext_scanned(ev, "partitionkey", 12, m->key, m->key_len,
                                      !(cls & CEB__TXT_JSONESC));
}

int ceb_kafka_decode(const ceb_kafka_message *m, unsigned flags, ceb_decode_opts *opts,
                     ceb_event **out, ceb_kafka_mode *mode, ceb_diag *d)
{
    /* one pass: the first content-type, and whether a core ce_ header is there */
    const ceb_kafka_header *cth = NULL;
    bool core = false;
    for (size_t i = 0; i < m->nheaders; i++) {
        const ceb_kafka_header *h = &m->headers[i];
        if (cth == NULL && h->name_len == 12 && eq_ci(h->name, "content-type", 12))
            cth = h;
        else if (!core)
            core = is_core_header(h);
    }
    ceb_kafka_mode md = classify_ct(cth);
    ceb_event *ev = NULL;
    int rc;
    *out = NULL;
    if (mode != NULL)
        *mode = md;
    switch (md) {
    case CEB_KAFKA_MODE_UNSUPPORTED: {
        const ceb_kafka_header *ct = cth;
        return ceb_diag_set(d, CEB_ENOTSUP, "unsupported CloudEvents format \"%.*s\" (only JSON)",
                            (int)(ct->value_len > 80 ? 80 : ct->value_len),
                            (const char *)ct->value);
    }
    case CEB_KAFKA_MODE_STRUCTURED:
        rc = ceb_codec_json_decode(m->value ? m->value : "", m->value_len, opts, &ev, d);
        break;
    case CEB_KAFKA_MODE_BINARY:
    default:
        if (core) {
            rc = decode_binary(m, cth, opts, &ev, d);
        } else if (m->value != NULL && ceb_codec_json_is_event(m->value, m->value_len)) {
            if (mode != NULL)
                *mode = CEB_KAFKA_MODE_STRUCTURED;
            rc = ceb_codec_json_decode(m->value, m->value_len, opts, &ev, d);
        } else {
            return ceb_diag_set(d, CEB_EDECODE, "not a CloudEvent: no ce_ headers, content-type "
                                "is not application/cloudevents+json and the value is not a "
                                "JSON event");
        }
        break;
    }
    if (rc < 0)
        return rc;
    if ((flags & CEB_KAFKA_KEY_TO_PARTITIONKEY) && (rc = key_to_partitionkey(ev, m, d)) < 0) {
        ceb_event_unref(ev);
        return rc == CEB_ENOMEM ? rc : ceb__spec_error(d, rc, "partitionkey");
    }
    *out = ev;
    return 0;
}

/* ---- encode ------------------------------------------------------------- */

int ceb_kafka_encode_binary(const ceb_event *ev, ceb_kafka_header_fn fn, void *arg,
                            ceb_buf *value)
{
    ceb_buf name = {0};
    char small[64] = "ce_"; /* most names: no allocation */
    int rc = 0;
    ceb_attr a;
    size_t pos = 0;
    while (rc == 0 && ceb__event_attr_next(ev, &pos, &a)) {
        if (strcmp(a.name, "datacontenttype") == 0)
            continue;
        size_t nl = strlen(a.name);
        const char *hn = small;
        if (nl + 4 <= sizeof small) {
            memcpy(small + 3, a.name, nl + 1);
        } else {
            ceb_buf_reset(&name);
            if ((rc = ceb_buf_append(&name, "ce_", 3)) < 0 ||
                (rc = ceb_buf_append(&name, a.name, nl)) < 0)
                break;
            hn = name.data;
        }
        rc = fn(arg, hn, a.text, a.len);
    }
    if (rc == 0) {
        const char *ct = ceb_event_datacontenttype(ev);
        if (ct == NULL && ceb_event_data_kind(ev) == CEB_DATA_JSON)
            ct = "application/json";
        if (ct != NULL)
            rc = fn(arg, "content-type", ct, strlen(ct));
    }
    if (rc == 0 && value != NULL) {
        size_t len = 0;
        const void *p = ceb_event_data(ev, &len);
        if (len > 0)
            rc = ceb_buf_append(value, p, len);
    }
    ceb_buf_free(&name);
    return rc;
}

int ceb_kafka_encode_structured(const ceb_event *ev, ceb_kafka_header_fn fn, void *arg,
                                ceb_buf *value)
{
    int rc = fn(arg, "content-type", CEB_KAFKA_CT_STRUCTURED, strlen(CEB_KAFKA_CT_STRUCTURED));
    if (rc == 0 && value != NULL)
        rc = ceb_codec_json_encode(ev, value);
    return rc;
}

const char *ceb_kafka_key(const ceb_event *ev, size_t *len)
{
    ceb_attr a;
    if (ceb_event_attr(ev, "partitionkey", &a) < 0 || a.len == 0) {
        *len = 0;
        return NULL;
    }
    *len = a.len;
    return a.text;
}
