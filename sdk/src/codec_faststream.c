/*
 * FastStream's Redis envelopes and the stream-entry field layouts
 * (codec_faststream.h, shared/spec/faststream-redis-envelope.md).
 *
 * The binary decoder reads only through rd_u16/rd_u32 and take(), which
 * check every access against the buffer end before touching a byte, so a
 * truncated envelope or an offset that points outside it is CEB_EDECODE.
 */
#include "sdk_internal.h"

#include <cebridge/codec_faststream.h>
#include <cebridge/errors.h>
#include <cebridge/json.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FS_HEADERS_OFFSET 18u   /* 8 magic + 2 version + 4 + 4 */

/* ---- messages ------------------------------------------------------------ */

void ceb_faststream_msg_free(ceb_faststream_msg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nheaders; i++) {
        free(m->headers[i].key);
        free(m->headers[i].value);
    }
    free(m->headers);
    ceb_buf_free(&m->body);
    memset(m, 0, sizeof *m);
}

const char *ceb_faststream_msg_header(const ceb_faststream_msg *m, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < m->nheaders; i++)
        if (m->headers[i].key_len == kl && strncasecmp(m->headers[i].key, key, kl) == 0)
            return m->headers[i].value;
    return NULL;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int msg_add_header(ceb_faststream_msg *m, const char *k, size_t kl, const char *v,
                          size_t vl)
{
    ceb_faststream_header *nh = realloc(m->headers, (m->nheaders + 1) * sizeof *nh);
    if (nh == NULL)
        return CEB_ENOMEM;
    m->headers = nh;
    ceb_faststream_header *h = &nh[m->nheaders];
    h->key = dup_bytes(k, kl);
    h->value = dup_bytes(v, vl);
    if (h->key == NULL || h->value == NULL) {
        free(h->key);
        free(h->value);
        return CEB_ENOMEM;
    }
    h->key_len = kl;
    h->value_len = vl;
    m->nheaders++;
    return 0;
}

/* ---- binary envelope ------------------------------------------------------ */

bool ceb_faststream_is_binary(const void *buf, size_t len)
{
    return len >= CEB_FASTSTREAM_MAGIC_LEN &&
           memcmp(buf, CEB_FASTSTREAM_MAGIC, CEB_FASTSTREAM_MAGIC_LEN) == 0;
}

/* Bounds-checked big-endian readers: false when [off, off+n) is not inside. */
static bool rd_u16(const uint8_t *p, size_t len, size_t off, uint16_t *v)
{
    if (off > len || len - off < 2)
        return false;
    *v = (uint16_t)((p[off] << 8) | p[off + 1]);
    return true;
}

static bool rd_u32(const uint8_t *p, size_t len, size_t off, uint32_t *v)
{
    if (off > len || len - off < 4)
        return false;
    *v = ((uint32_t)p[off] << 24) | ((uint32_t)p[off + 1] << 16) |
         ((uint32_t)p[off + 2] << 8) | (uint32_t)p[off + 3];
    return true;
}

/* A u16 length followed by that many bytes, ending at or before `end`. */
static bool take(const uint8_t *p, size_t end, size_t *off, const char **s, size_t *n)
{
    uint16_t l;
    if (!rd_u16(p, end, *off, &l))
        return false;
    if (end - (*off + 2) < l)
        return false;
    *s = (const char *)p + *off + 2;
    *n = l;
    *off += 2u + l;
    return true;
}

int ceb_faststream_decode_binary(const void *buf, size_t len, ceb_faststream_msg *out,
                                 ceb_diag *d)
{
    const uint8_t *p = buf;
    uint16_t version, count;
    uint32_t hoff, doff;
    memset(out, 0, sizeof *out);
    if (!ceb_faststream_is_binary(buf, len))
        return ceb_diag_set(d, CEB_EDECODE, "not a FastStream binary envelope: "
                            "no identity header");
    if (!rd_u16(p, len, 8, &version))
        return ceb_diag_set_field(d, CEB_EDECODE, "version",
                                  "truncated FastStream envelope: no version");
    if (version != CEB_FASTSTREAM_VERSION)
        return ceb_diag_set_field(d, CEB_EDECODE, "version",
                                  "unsupported FastStream envelope version %u (expected 1)",
                                  (unsigned)version);
    if (!rd_u32(p, len, 10, &hoff))
        return ceb_diag_set_field(d, CEB_EDECODE, "headers offset",
                                  "truncated FastStream envelope: no headers offset");
    if (!rd_u32(p, len, 14, &doff))
        return ceb_diag_set_field(d, CEB_EDECODE, "data offset",
                                  "truncated FastStream envelope: no data offset");
    if (hoff < FS_HEADERS_OFFSET || hoff > len)
        return ceb_diag_set_field(d, CEB_EDECODE, "headers offset",
                                  "headers offset %lu outside the envelope (18..%zu)",
                                  (unsigned long)hoff, len);
    if (doff > len)
        return ceb_diag_set_field(d, CEB_EDECODE, "data offset",
                                  "data offset %lu past the end of the envelope (%zu bytes)",
                                  (unsigned long)doff, len);
    if (doff < hoff || doff - hoff < 2)
        return ceb_diag_set_field(d, CEB_EDECODE, "data offset",
                                  "data offset %lu overlaps the header count at %lu",
                                  (unsigned long)doff, (unsigned long)hoff);
    /* Headers live in [hoff, doff): the data offset bounds them. */
    if (!rd_u16(p, doff, hoff, &count))
        return ceb_diag_set_field(d, CEB_EDECODE, "header count",
                                  "truncated FastStream envelope: no header count");
    size_t off = (size_t)hoff + 2;
    int rc = 0;
    for (unsigned i = 0; i < count; i++) {
        const char *k, *v;
        size_t kl, vl;
        char field[32];
        if (!take(p, doff, &off, &k, &kl)) {
            snprintf(field, sizeof field, "header[%u].key", i);
            rc = ceb_diag_set_field(d, CEB_EDECODE, field, "header %u of %u: key runs past "
                                    "the data offset %lu", i, (unsigned)count,
                                    (unsigned long)doff);
            goto fail;
        }
        if (!take(p, doff, &off, &v, &vl)) {
            snprintf(field, sizeof field, "header[%u].value", i);
            rc = ceb_diag_set_field(d, CEB_EDECODE, field, "header %u of %u: value runs past "
                                    "the data offset %lu", i, (unsigned)count,
                                    (unsigned long)doff);
            goto fail;
        }
        if ((rc = msg_add_header(out, k, kl, v, vl)) < 0)
            goto fail;
    }
    if ((rc = ceb_buf_append(&out->body, p + doff, len - doff)) < 0)
        goto fail;
    out->kind = CEB_FASTSTREAM_BINARY;
    return 0;
fail:
    ceb_faststream_msg_free(out);
    return rc;
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int ceb_faststream_encode_binary(const void *body, size_t len,
                                 const ceb_faststream_header *h, size_t nh, ceb_buf *out)
{
    if (nh > UINT16_MAX)
        return CEB_E2BIG;
    uint64_t hsize = 0;
    for (size_t i = 0; i < nh; i++) {
        if (h[i].key_len > UINT16_MAX || h[i].value_len > UINT16_MAX)
            return CEB_E2BIG;
        hsize += 4u + h[i].key_len + h[i].value_len;
    }
    uint64_t doff = FS_HEADERS_OFFSET + 2u + hsize;
    if (doff + len > UINT32_MAX)
        return CEB_E2BIG;
    int rc = ceb_buf_reserve(out, (size_t)doff + len);
    if (rc < 0)
        return rc;
    uint8_t hdr[FS_HEADERS_OFFSET + 2];
    memcpy(hdr, CEB_FASTSTREAM_MAGIC, CEB_FASTSTREAM_MAGIC_LEN);
    put_u16(hdr + 8, CEB_FASTSTREAM_VERSION);
    put_u32(hdr + 10, FS_HEADERS_OFFSET);
    put_u32(hdr + 14, (uint32_t)doff);
    put_u16(hdr + 18, (uint16_t)nh);
    ceb_buf_append(out, hdr, sizeof hdr);
    for (size_t i = 0; i < nh; i++) {
        uint8_t l[2];
        put_u16(l, (uint16_t)h[i].key_len);
        ceb_buf_append(out, l, 2);
        ceb_buf_append(out, h[i].key, h[i].key_len);
        put_u16(l, (uint16_t)h[i].value_len);
        ceb_buf_append(out, l, 2);
        ceb_buf_append(out, h[i].value, h[i].value_len);
    }
    return ceb_buf_append(out, body, len);   /* space reserved: cannot fail */
}

/* ---- JSON envelope ---------------------------------------------------------- */

int ceb_faststream_decode_json(const void *buf, size_t len, ceb_faststream_msg *out,
                               ceb_diag *d)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ceb_diag_set(d, CEB_EDECODE, "not a FastStream JSON envelope: not a JSON object");
    }
    int rc = 0;
    cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsString(data) || data->valuestring == NULL) {
        rc = ceb_diag_set_field(d, CEB_EDECODE, "data", "not a FastStream JSON envelope: "
                                "no string member \"data\"");
        goto done;
    }
    cJSON *headers = cJSON_GetObjectItemCaseSensitive(root, "headers");
    if (headers != NULL && !cJSON_IsObject(headers) && !cJSON_IsNull(headers)) {
        rc = ceb_diag_set_field(d, CEB_EDECODE, "headers", "FastStream JSON envelope: "
                                "\"headers\" is not an object");
        goto done;
    }
    if ((rc = ceb_buf_append(&out->body, data->valuestring, strlen(data->valuestring))) < 0)
        goto done;
    cJSON *it;
    if (cJSON_IsObject(headers)) {
        cJSON_ArrayForEach(it, headers) {
            const char *k = it->string ? it->string : "";
            if (cJSON_IsString(it)) {
                rc = msg_add_header(out, k, strlen(k), it->valuestring,
                                    strlen(it->valuestring));
            } else {
                char *txt = cJSON_PrintUnformatted(it);
                if (txt == NULL) {
                    rc = CEB_ENOMEM;
                } else {
                    rc = msg_add_header(out, k, strlen(k), txt, strlen(txt));
                    cJSON_free(txt);
                }
            }
            if (rc < 0)
                goto done;
        }
    }
    out->kind = CEB_FASTSTREAM_JSON;
done:
    cJSON_Delete(root);
    if (rc < 0)
        ceb_faststream_msg_free(out);
    return rc;
}

int ceb_faststream_encode_json(const void *body, size_t len,
                               const ceb_faststream_header *h, size_t nh, ceb_buf *out)
{
    if (!ceb__utf8_valid(body, len, NULL))
        return CEB_EINVAL;
    int rc;
    if ((rc = ceb_buf_append_str(out, "{\"data\":")) < 0 ||
        (rc = ceb_json_quote(out, body, len)) < 0 ||
        (rc = ceb_buf_append_str(out, ",\"headers\":{")) < 0)
        return rc;
    for (size_t i = 0; i < nh; i++) {
        if ((i > 0 && (rc = ceb_buf_append(out, ",", 1)) < 0) ||
            (rc = ceb_json_quote(out, h[i].key, h[i].key_len)) < 0 ||
            (rc = ceb_buf_append(out, ":", 1)) < 0 ||
            (rc = ceb_json_quote(out, h[i].value, h[i].value_len)) < 0)
            return rc;
    }
    return ceb_buf_append_str(out, "}}");
}

/* ---- detection ------------------------------------------------------------ */

int ceb_faststream_unwrap(const void *buf, size_t len, ceb_faststream_msg *out, ceb_diag *d)
{
    if (ceb_faststream_is_binary(buf, len))
        return ceb_faststream_decode_binary(buf, len, out, d);
    /* Cheap pre-check before a JSON parse: an object, first non-blank '{'. */
    const char *s = buf;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i < len && s[i] == '{') {
        ceb_diag tmp = {0};
        int rc = ceb_faststream_decode_json(buf, len, out, &tmp);
        if (rc != CEB_EDECODE)
            return rc;
    }
    memset(out, 0, sizeof *out);
    out->kind = CEB_FASTSTREAM_RAW;
    return ceb_buf_append(&out->body, buf, len);
}

/* ---- events ---------------------------------------------------------------- */

int ceb_faststream_encode_event(const ceb_event *ev, bool json_envelope, ceb_buf *out)
{
    ceb_buf body = {0};
    int rc = ceb_codec_json_encode(ev, &body);
    if (rc < 0) {
        ceb_buf_free(&body);
        return rc;
    }
    const char *id = ceb_event_id(ev);
    ceb_faststream_header h[2] = {
        {.key = "content-type", .key_len = 12, .value = "application/json", .value_len = 16},
        {.key = "correlation_id", .key_len = 14, .value = (char *)(id ? id : ""),
         .value_len = id ? strlen(id) : 0},
    };
    if (json_envelope)
        rc = ceb_faststream_encode_json(body.data, body.len, h, 2, out);
    else
        rc = ceb_faststream_encode_binary(body.data, body.len, h, 2, out);
    ceb_buf_free(&body);
    return rc;
}

static bool ct_is(const char *ct, const char *what)
{
    size_t n = strlen(what);
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, what, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int ceb_faststream_msg_to_event(const ceb_faststream_msg *m, ceb_decode_opts *opts,
                                const ceb_faststream_wrap *wrap, ceb_event **out,
                                bool *wrapped, ceb_diag *d)
{
    const char *ct = ceb_faststream_msg_header(m, "content-type");
    const char *body = m->body.data ? m->body.data : "";
    size_t len = m->body.len;
    if (wrapped != NULL)
        *wrapped = false;
    bool structured = (ct != NULL && ct_is(ct, "application/cloudevents+json")) ||
                      ceb_codec_json_is_event(body, len);
    if (structured) {
        ceb_diag tmp = {0};
        int rc = ceb_codec_json_decode(body, len, opts, out, &tmp);
        if (rc != CEB_EDECODE) {
            if (rc < 0 && d != NULL)
                *d = tmp;
            return rc;
        }
        /* labelled cloudevents+json but not JSON at all: wrap below */
    }
    if (wrap == NULL || wrap->type == NULL || wrap->source == NULL)
        return ceb_diag_set(d, CEB_EINVAL, "no wrap type/source for a payload that is "
                            "not a CloudEvent");
    if (wrapped != NULL)
        *wrapped = true;
    return ceb_event_wrap(body, len, ct, wrap->type, wrap->source, wrap->subject, out, d);
}

/* ---- stream entries ------------------------------------------------------- */

const ceb_stream_field *ceb_stream_field_find(const ceb_stream_field *f, size_t n,
                                              const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (f[i].name_len == nl && memcmp(f[i].name, name, nl) == 0)
            return &f[i];
    return NULL;
}

ceb_stream_layout ceb_stream_detect(const ceb_stream_field *f, size_t n,
                                    const char *structured_field)
{
    if (ceb_stream_field_find(f, n, CEB_FASTSTREAM_FIELD) != NULL)
        return CEB_STREAM_FASTSTREAM;
    if (ceb_stream_field_find(f, n, "ce_specversion") != NULL)
        return CEB_STREAM_BINARY;
    if (structured_field != NULL && ceb_stream_field_find(f, n, structured_field) != NULL)
        return CEB_STREAM_STRUCTURED;
    return CEB_STREAM_FIELDS;
}

int ceb_stream_decode_binary(const ceb_stream_field *f, size_t n, ceb_decode_opts *opts,
                             ceb_event **out, ceb_diag *d)
{
    const ceb_stream_field *sv = ceb_stream_field_find(f, n, "ce_specversion");
    if (sv == NULL)
        return ceb_diag_set(d, CEB_EDECODE, "no ce_specversion field: not a binary-layout "
                            "CloudEvent");
    ceb_event *ev = NULL;
    int rc = ceb_event_new(&ev);
    if (rc < 0)
        return rc;
    char name[128];
    bool have_sv = false;
    for (size_t i = 0; i < n; i++) {
        if (f[i].name_len < 4 || memcmp(f[i].name, "ce_", 3) != 0)
            continue;
        size_t nl = f[i].name_len - 3;
        if (nl >= sizeof name) {
            rc = ceb_diag_set(d, CEB_ESPEC, "field name too long: %.32s...", f[i].name);
            goto fail;
        }
        memcpy(name, f[i].name + 3, nl);
        name[nl] = '\0';
        if (memchr(f[i].value, '\0', f[i].value_len) != NULL) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, name, "field ce_%s holds a NUL byte", name);
            goto fail;
        }
        if (strcmp(name, "datacontenttype") == 0) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, name, "field ce_datacontenttype is not "
                                    "allowed in binary layout: use content-type");
            goto fail;
        }
        bool is_sv = strcmp(name, "specversion") == 0;
        if (is_sv ? have_sv : ceb_event_get(ev, name) != NULL) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, name, "field ce_%s is given more than once",
                                    name);
            goto fail;
        }
        if ((rc = ceb_attr_name_check(name, nl, d)) < 0) {
            rc = ceb__spec_error(d, rc, name);
            goto fail;
        }
        if (is_sv) {
            have_sv = true;
            if (f[i].value_len != 3 || memcmp(f[i].value, "1.0", 3) != 0) {
                rc = ceb_diag_set_field(d, CEB_ESPEC, "specversion", "specversion must be "
                                        "\"1.0\", got \"%.*s\"",
                                        (int)(f[i].value_len > 32 ? 32 : f[i].value_len),
                                        f[i].value);
                goto fail;
            }
            continue;
        }
        bool ctx = strcmp(name, "id") == 0 || strcmp(name, "source") == 0 ||
                   strcmp(name, "type") == 0 || strcmp(name, "subject") == 0 ||
                   strcmp(name, "time") == 0 || strcmp(name, "dataschema") == 0;
        if (ctx)
            rc = ceb_event_setn(ev, name, f[i].value, f[i].value_len, d);
        else
            rc = ceb__event_set_ext(ev, name, CEB_ATTR_STRING, f[i].value, f[i].value_len, d);
        if (rc < 0) {
            rc = ceb__spec_error(d, rc, name);
            goto fail;
        }
    }
    if ((rc = ceb__event_fill_required(ev, opts, "field ce_", d)) < 0)
        goto fail;
    const ceb_stream_field *ctf = ceb_stream_field_find(f, n, "content-type");
    const char *ct = NULL;
    size_t ctlen = 0;
    if (ctf != NULL && ctf->value_len > 0) {
        ct = ctf->value;
        ctlen = ctf->value_len;
        if ((rc = ceb_event_setn(ev, "datacontenttype", ct, ctlen, d)) < 0) {
            rc = ceb__spec_error(d, rc, "datacontenttype");
            goto fail;
        }
    }
    const ceb_stream_field *df = ceb_stream_field_find(f, n, "data");
    if (df != NULL && df->value_len > 0) {
        ceb_data_kind kind = CEB_DATA_BINARY;
        if (ctlen > 0 && ceb__ctype_is_json(ct, ctlen))
            kind = CEB_DATA_JSON;
        else if (ctlen >= 5 && strncasecmp(ct, "text/", 5) == 0 &&
                 memchr(df->value, '\0', df->value_len) == NULL &&
                 ceb__utf8_valid(df->value, df->value_len, NULL))
            kind = CEB_DATA_TEXT;
        rc = ceb_event_set_data(ev, kind, df->value, df->value_len);
        if (rc == CEB_EINVAL && kind == CEB_DATA_JSON)
            rc = ceb_event_set_data(ev, CEB_DATA_BINARY, df->value, df->value_len);
        if (rc < 0)
            goto fail;
    }
    *out = ev;
    return 0;
fail:
    ceb_event_unref(ev);
    return rc;
}

int ceb_stream_fields_to_json(const ceb_stream_field *f, size_t n, ceb_buf *out, ceb_diag *d)
{
    int rc = ceb_buf_append(out, "{", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t bad;
        if (!ceb__utf8_valid(f[i].name, f[i].name_len, &bad))
            return ceb_diag_set(d, CEB_EINVAL, "field %zu: name is not valid UTF-8", i);
        if (!ceb__utf8_valid(f[i].value, f[i].value_len, &bad))
            return ceb_diag_set_field(d, CEB_EINVAL, "", "field \"%.*s\": value is not valid "
                                      "UTF-8 (byte %zu)",
                                      (int)(f[i].name_len > 64 ? 64 : f[i].name_len),
                                      f[i].name, bad);
        if ((i > 0 && (rc = ceb_buf_append(out, ",", 1)) < 0) ||
            (rc = ceb_json_quote(out, f[i].name, f[i].name_len)) < 0 ||
            (rc = ceb_buf_append(out, ":", 1)) < 0 ||
            (rc = ceb_json_quote(out, f[i].value, f[i].value_len)) < 0)
            return rc;
    }
    return rc < 0 ? rc : ceb_buf_append(out, "}", 1);
}

void ceb_stream_entry_free(ceb_stream_entry *e)
{
    ceb_buf_free(&e->store);
    free(e->offs);
    memset(e, 0, sizeof *e);
}

void ceb_stream_entry_reset(ceb_stream_entry *e)
{
    ceb_buf_reset(&e->store);
    e->n = 0;
}

int ceb_stream_entry_add(ceb_stream_entry *e, const char *name, size_t name_len,
                         const void *value, size_t value_len)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 8;
        size_t *no = realloc(e->offs, nc * 4 * sizeof *no);
        if (no == NULL)
            return CEB_ENOMEM;
        e->offs = no;
        e->cap = nc;
    }
    size_t at = e->store.len;
    int rc = ceb_buf_reserve(&e->store, name_len + value_len + 2);
    if (rc < 0)
        return rc;
    ceb_buf_append(&e->store, name, name_len);
    ceb_buf_append(&e->store, "", 1);   /* keep names NUL-terminated */
    ceb_buf_append(&e->store, value, value_len);
    size_t *o = &e->offs[e->n * 4];
    o[0] = at;
    o[1] = name_len;
    o[2] = at + name_len + 1;
    o[3] = value_len;
    e->n++;
    return 0;
}

ceb_stream_field ceb_stream_entry_at(const ceb_stream_entry *e, size_t i)
{
    const size_t *o = &e->offs[i * 4];
    ceb_stream_field f = {e->store.data + o[0], o[1], e->store.data + o[2], o[3]};
    return f;
}

int ceb_stream_encode_binary(const ceb_event *ev, ceb_stream_entry *out)
{
    char name[160];
    int rc = 0;
    size_t na = ceb_event_attr_count(ev);
    for (size_t i = 0; i < na && rc == 0; i++) {
        ceb_attr a;
        if ((rc = ceb_event_attr_at(ev, i, &a)) < 0)
            break;
        if (strcmp(a.name, "datacontenttype") == 0)
            continue;
        int k = snprintf(name, sizeof name, "ce_%s", a.name);
        if (k < 0 || (size_t)k >= sizeof name)
            return CEB_EINVAL;
        rc = ceb_stream_entry_add(out, name, (size_t)k, a.text, a.len);
    }
    if (rc < 0)
        return rc;
    const char *ct = ceb_event_datacontenttype(ev);
    if (ct == NULL && ceb_event_data_kind(ev) == CEB_DATA_JSON)
        ct = "application/json";
    if (ct != NULL && (rc = ceb_stream_entry_add(out, "content-type", 12, ct, strlen(ct))) < 0)
        return rc;
    size_t len = 0;
    const void *p = ceb_event_data(ev, &len);
    if (p != NULL && (rc = ceb_stream_entry_add(out, "data", 4, p, len)) < 0)
        return rc;
    return 0;
}

int ceb_stream_encode_structured(const ceb_event *ev, const char *field, ceb_stream_entry *out)
{
    ceb_buf b = {0};
    int rc = ceb_codec_json_encode(ev, &b);
    if (rc == 0)
        rc = ceb_stream_entry_add(out, field, strlen(field), b.data, b.len);
    ceb_buf_free(&b);
    return rc;
}

int ceb_stream_encode_faststream(const ceb_event *ev, bool json_envelope,
                                 ceb_stream_entry *out)
{
    ceb_buf b = {0};
    int rc = ceb_faststream_encode_event(ev, json_envelope, &b);
    if (rc == 0)
        rc = ceb_stream_entry_add(out, CEB_FASTSTREAM_FIELD, sizeof CEB_FASTSTREAM_FIELD - 1,
                                  b.data, b.len);
    ceb_buf_free(&b);
    return rc;
}
