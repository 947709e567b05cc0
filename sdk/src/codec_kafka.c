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

ceb_kafka_mode ceb_kafka_classify(const ceb_kafka_header *h, size_t nh)
{
    const ceb_kafka_header *ct = ceb_kafka_header_find(h, nh, "content-type");
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

static bool is_ce_header(const ceb_kafka_header *h)
{
    return h->name_len > 3 && strncasecmp(h->name, "ce_", 3) == 0;
}

bool ceb_kafka_is_binary_event(const ceb_kafka_header *h, size_t nh)
{
    return ceb_kafka_header_find(h, nh, "ce_specversion") != NULL ||
           ceb_kafka_header_find(h, nh, "ce_id") != NULL ||
           ceb_kafka_header_find(h, nh, "ce_source") != NULL ||
           ceb_kafka_header_find(h, nh, "ce_type") != NULL;
}

/* ---- decode ------------------------------------------------------------- */
static bool is_context_attr(const char *name)
{
    return strcmp(name, "id") == 0 || strcmp(name, "source") == 0 ||
           strcmp(name, "type") == 0 || strcmp(name, "subject") == 0 ||
           strcmp(name, "time") == 0 || strcmp(name, "dataschema") == 0;
}

/* One ce_ header into `ev`. `have_sv` tracks ce_specversion. */
static int decode_header(ceb_event *ev, const ceb_kafka_header *h, ceb_decode_opts *opts,
                         bool *have_sv, ceb_buf *val, ceb_diag *d)
{
    char name[256];
    size_t nl = h->name_len - 3;
    bool strict = opts == NULL || opts->strict;
    if (nl >= sizeof name)
        return ceb_diag_set(d, CEB_ESPEC, "header name too long: %.32s...", h->name);
    bool upper = false;
    for (size_t k = 0; k < nl; k++) {
        char c = h->name[3 + k];
        if (c >= 'A' && c <= 'Z') {
            upper = true;
            c = (char)(c - 'A' + 'a');
        }
        name[k] = c;
    }
    name[nl] = '\0';
    if (upper) {
        if (strict)
            return ceb_diag_set_field(d, CEB_ESPEC, name, "header %.*s: attribute names are "
                                      "lower-case (ce_%s)", (int)h->name_len, h->name, name);
        opts->repaired |= CEB_REPAIRED_NAME;
    }
    if (strcmp(name, "datacontenttype") == 0)
        return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_datacontenttype is not "
                                  "allowed in binary mode: use content-type");
    int rc = ceb_attr_name_check(name, nl, d);
    if (rc < 0)
        return ceb__spec_error(d, rc, name);
    bool is_sv = strcmp(name, "specversion") == 0;
    if (is_sv ? *have_sv : ceb_event_get(ev, name) != NULL)
        return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_%s is given more than once",
                                  name);
    if (h->value == NULL)
        return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_%s has a null value", name);
    size_t bad = 0;
    if (!ceb__utf8_valid(h->value, h->value_len, &bad) ||
        memchr(h->value, '\0', h->value_len) != NULL)
        return ceb_diag_set_field(d, CEB_ESPEC, name, "header ce_%s: value is not UTF-8 text "
                                  "(byte %zu)", name, bad);
    ceb_buf_reset(val);
    if ((rc = ceb_buf_append(val, h->value, h->value_len)) < 0 ||
        (rc = ceb_buf_append(val, "", 0)) < 0)
        return rc;
    if (is_sv) {
        *have_sv = true;
        if (strcmp(val->data, "1.0") != 0)
            return ceb_diag_set_field(d, CEB_ESPEC, "specversion",
                                      "specversion must be \"1.0\", got \"%.32s\"", val->data);
        return 0;
    }
    /* An empty required attribute is left unset: fill_required repairs or refuses it. */
    if (val->len == 0 && (strcmp(name, "id") == 0 || strcmp(name, "source") == 0 ||
                          strcmp(name, "type") == 0))
        return 0;
    if (is_context_attr(name))
        rc = ceb_event_setn(ev, name, val->data, val->len, d);
    else
        rc = ceb__event_set_ext(ev, name, CEB_ATTR_STRING, val->data, val->len, d);
    return rc < 0 ? ceb__spec_error(d, rc, name) : 0;
}

static int decode_binary(const ceb_kafka_message *m, ceb_decode_opts *opts, ceb_event **out,
                         ceb_diag *d)
{
    ceb_event *ev = NULL;
    ceb_buf val = {0};
    bool have_sv = false;
    int rc = ceb_event_new(&ev);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < m->nheaders; i++) {
        if (is_ce_header(&m->headers[i]) &&
            (rc = decode_header(ev, &m->headers[i], opts, &have_sv, &val, d)) < 0)
            goto fail;
    }
    if (!have_sv) {
        if (opts == NULL || opts->strict) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, "specversion", "required attribute "
                                    "'specversion' is missing (header ce_specversion)");
            goto fail;
        }
        opts->repaired |= CEB_REPAIRED_SPECVERSION;
    }
    if ((rc = ceb__event_fill_required(ev, opts, "header ce_", d)) < 0)
        goto fail;

    const ceb_kafka_header *cth = ceb_kafka_header_find(m->headers, m->nheaders, "content-type");
    const char *ct = NULL;
    size_t ctlen = 0;
    if (cth != NULL && cth->value != NULL) {
        ct = cth->value;
        ctlen = cth->value_len;
        trim(&ct, &ctlen);
        if (ctlen > 0 && (!ceb__utf8_valid(ct, ctlen, NULL) ||
                          (rc = ceb_event_setn(ev, "datacontenttype", ct, ctlen, d)) < 0)) {
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
    ceb_buf_free(&val);
    *out = ev;
    return 0;
fail:
    ceb_buf_free(&val);
    ceb_event_unref(ev);
    return rc;
}

/* The record key as the partitionkey extension, unless the event has one. */
static int key_to_partitionkey(ceb_event *ev, const ceb_kafka_message *m, ceb_diag *d)
{
    if (m->key == NULL || m->key_len == 0 || ceb_event_get(ev, "partitionkey") != NULL)
        return 0;
    if (memchr(m->key, '\0', m->key_len) != NULL || !ceb__utf8_valid(m->key, m->key_len, NULL))
        return 0; /* a binary key has no String form: leave the event as it is */
    int rc = ceb__event_set_ext(ev, "partitionkey", CEB_ATTR_STRING, m->key, m->key_len, d);
    return rc == CEB_EEXIST ? 0 : rc;
}

int ceb_kafka_decode(const ceb_kafka_message *m, unsigned flags, ceb_decode_opts *opts,
                     ceb_event **out, ceb_kafka_mode *mode, ceb_diag *d)
{
    ceb_kafka_mode md = ceb_kafka_classify(m->headers, m->nheaders);
    ceb_event *ev = NULL;
    int rc;
    *out = NULL;
    if (mode != NULL)
        *mode = md;
    switch (md) {
    case CEB_KAFKA_MODE_UNSUPPORTED: {
        const ceb_kafka_header *ct = ceb_kafka_header_find(m->headers, m->nheaders,
                                                           "content-type");
        return ceb_diag_set(d, CEB_ENOTSUP, "unsupported CloudEvents format \"%.*s\" (only JSON)",
                            (int)(ct->value_len > 80 ? 80 : ct->value_len),
                            (const char *)ct->value);
    }
    case CEB_KAFKA_MODE_STRUCTURED:
        rc = ceb_codec_json_decode(m->value ? m->value : "", m->value_len, opts, &ev, d);
        break;
    case CEB_KAFKA_MODE_BINARY:
    default:
        if (ceb_kafka_is_binary_event(m->headers, m->nheaders)) {
            rc = decode_binary(m, opts, &ev, d);
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
    int rc = 0;
    size_t na = ceb_event_attr_count(ev);
    for (size_t i = 0; i < na && rc == 0; i++) {
        ceb_attr a;
        if ((rc = ceb_event_attr_at(ev, i, &a)) < 0)
            break;
        if (strcmp(a.name, "datacontenttype") == 0)
            continue;
        ceb_buf_reset(&name);
        if ((rc = ceb_buf_printf(&name, "ce_%s", a.name)) < 0)
            break;
        rc = fn(arg, name.data, a.text, a.len);
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
