/*
 * libFuzzer target for the HTTP source's request -> event path: raw bytes
 * are parsed as an HTTP/1.1 request stream by Debian's libhttp-parser (the
 * parser plugins/http/http_server.c uses, with the same limits: 100 header
 * fields, 8 KiB target, 64 KiB body here instead of 1 MiB; pipelined
 * requests and chunked bodies included), and every complete request goes
 * through what http_source.c does with it: ceb_http_classify /
 * ceb_http_is_binary_event, then ceb_http_decode (strict, or non-strict with
 * defaults, by the first byte). Invariants checked (abort on breach):
 *   - a decoded event is valid (ceb_event_validate);
 *   - round trip: re-encoded in binary, structured and batch mode and
 *     decoded again, every attribute keeps its value and the data its bytes.
 * The server's socket and timer handling are not in the loop (they need a
 * libuv connection); the plugin tests and tools/test cover them.
 * Built with -fsanitize=fuzzer,address,undefined (CEB_BUILD_FUZZ=ON, clang).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include <cebridge/cebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_HEADERS 100
#define FZ_MAX_URL 8192
#define FZ_MAX_BODY 65536

typedef struct fz_req {
    ceb_buf hbuf;                       /* header names and values, back to back */
    size_t off[FZ_MAX_HEADERS][4];      /* name off/len, value off/len */
    size_t nh;
    bool last_was_value, too_many;
    size_t url_len;
    ceb_buf body;
    bool strict;
} fz_req;

/* ---- invariants -------------------------------------------------------- */

static void same_event(const ceb_event *a, const ceb_event *b)
{
    size_t n = ceb_event_attr_count(a);
    for (size_t i = 0; i < n; i++) {
        ceb_attr x, y;
        if (ceb_event_attr_at(a, i, &x) != 0)
            abort();
        if (ceb_event_attr(b, x.name, &y) != 0 || x.len != y.len || memcmp(x.text, y.text, x.len) != 0)
            abort();   /* an attribute changed on the way */
    }
    size_t la = 0, lb = 0;
    const void *da = ceb_event_data(a, &la);
    const void *db = ceb_event_data(b, &lb);
    if (la != lb || (la > 0 && memcmp(da, db, la) != 0))
        abort();       /* the data changed on the way */
}

typedef struct fz_hdrs {
    ceb_buf store;
    size_t off[64][4];
    size_t n;
} fz_hdrs;

static int collect_header(void *arg, const char *name, const char *value)
{
    fz_hdrs *h = arg;
    if (h->n == 64)
        return CEB_ERANGE;
    size_t nl = strlen(name), vl = strlen(value);
    h->off[h->n][0] = h->store.len;
    h->off[h->n][1] = nl;
    if (ceb_buf_append(&h->store, name, nl) < 0)
        return CEB_ENOMEM;
    h->off[h->n][2] = h->store.len;
    h->off[h->n][3] = vl;
    if (ceb_buf_append(&h->store, value, vl) < 0)
        return CEB_ENOMEM;
    h->n++;
    return 0;
}

static size_t hdrs_view(const fz_hdrs *h, ceb_http_header *out)
{
    for (size_t i = 0; i < h->n; i++)
        out[i] = (ceb_http_header){ h->store.data + h->off[i][0], h->off[i][1],
                                    h->store.data + h->off[i][2], h->off[i][3] };
    return h->n;
}

/* Encode evs with `mode` and decode the result: same events back. */
static void round_trip(ceb_event **evs, size_t n, int mode)
{
    fz_hdrs h = {0};
    ceb_buf body = {0};
    int rc;
    if (mode == 0)
        rc = ceb_http_encode_binary(evs[0], collect_header, &h, &body);
    else if (mode == 1)
        rc = ceb_http_encode_structured(evs[0], collect_header, &h, &body);
    else
        rc = ceb_http_encode_batch((const ceb_event *const *)evs, n, collect_header, &h, &body);
    if (rc == 0) {
        ceb_http_header hv[64];
        size_t nh = hdrs_view(&h, hv);
        ceb_event **back = NULL;
        size_t nb = 0;
        ceb_diag d = {0};
        rc = ceb_http_decode(hv, nh, body.data ? body.data : "", body.len, NULL, &back, &nb,
                             NULL, &d);
        if (rc != 0 || nb != (mode == 2 ? n : 1)) {
            fprintf(stderr, "mode %d: re-decode: %s (%s): %s\n", mode, ceb_err_name(rc),
                    d.field, d.message);
            abort();   /* what we encode must decode */
        }
        for (size_t i = 0; i < nb; i++)
            same_event(evs[mode == 2 ? i : 0], back[i]);
        ceb_events_free(back, nb);
    } else if (rc != CEB_ENOMEM) {
        abort();
    }
    ceb_buf_free(&h.store);
    ceb_buf_free(&body);
}

/* What http_source.c does with a complete request. */
static void handle(fz_req *r)
{
    ceb_http_header hv[FZ_MAX_HEADERS];
    for (size_t i = 0; i < r->nh; i++)
        hv[i] = (ceb_http_header){ r->hbuf.data + r->off[i][0], r->off[i][1],
                                   r->hbuf.data + r->off[i][2], r->off[i][3] };
    const ceb_http_header *ct = ceb_http_header_find(hv, r->nh, "content-type");
    if (ct != NULL) {
        (void)ceb_http_classify(ct->value, ct->value_len);
        (void)ceb_http_ctype_is_json(ct->value, ct->value_len);
    }
    (void)ceb_http_is_binary_event(hv, r->nh);
    ceb_decode_opts opts = { .strict = r->strict, .default_source = "/fuzz",
                             .default_type = "fuzz.type" };
    ceb_event **evs = NULL;
    size_t n = 0;
    ceb_diag d = {0};
    if (ceb_http_decode(hv, r->nh, r->body.data ? r->body.data : "", r->body.len, &opts, &evs, &n,
                        NULL, &d) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (ceb_event_validate(evs[i], &d) != 0)
            abort();   /* the codec let an invalid event through */
    if (n > 0) {
        round_trip(evs, n, 0);
        round_trip(evs, n, 1);
        round_trip(evs, n, 2);
    }
    ceb_events_free(evs, n);
}

/* ---- the parser, as http_server.c drives it ---------------------------- */

static int on_message_begin(http_parser *p)
{
    fz_req *r = p->data;
    ceb_buf_reset(&r->hbuf);
    ceb_buf_reset(&r->body);
    r->nh = 0;
    r->last_was_value = r->too_many = false;
    r->url_len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    (void)at;
    fz_req *r = p->data;
    r->url_len += len;
    return r->url_len > FZ_MAX_URL ? -1 : 0;    /* the server answers 414 */
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    fz_req *r = p->data;
    if (r->too_many)
        return 0;
    if (r->nh == 0 || r->last_was_value) {
        if (r->nh == FZ_MAX_HEADERS) {
            r->too_many = true;                 /* the server answers 431 */
            return 0;
        }
        r->off[r->nh][0] = r->hbuf.len;
        r->off[r->nh][1] = r->off[r->nh][2] = r->off[r->nh][3] = 0;
        r->nh++;
        r->last_was_value = false;
    }
    r->off[r->nh - 1][1] += len;
    return ceb_buf_append(&r->hbuf, at, len) < 0 ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    fz_req *r = p->data;
    if (r->too_many)
        return 0;
    if (!r->last_was_value) {
        r->off[r->nh - 1][2] = r->hbuf.len;
        r->last_was_value = true;
    }
    r->off[r->nh - 1][3] += len;
    return ceb_buf_append(&r->hbuf, at, len) < 0 ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
    fz_req *r = p->data;
    return r->too_many ? -1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    fz_req *r = p->data;
    if (r->body.len + len > FZ_MAX_BODY)
        return -1;                              /* the server answers 413 */
    return ceb_buf_append(&r->body, at, len) < 0 ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
    handle(p->data);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_req r = { .strict = (data[0] & 1) == 0 };
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = &r;
    /* Feed in two pieces split by the second byte, as reads split a stream. */
    size_t rest = size - 1;
    size_t cut = size > 1 ? (size_t)data[1] % (rest + 1) : 0;
    const char *in = (const char *)data + 1;
    size_t done = http_parser_execute(&p, &settings, in, cut);
    if (done == cut && HTTP_PARSER_ERRNO(&p) == HPE_OK)
        (void)http_parser_execute(&p, &settings, in + cut, rest - cut);
    ceb_buf_free(&r.hbuf);
    ceb_buf_free(&r.body);
    return 0;
}
