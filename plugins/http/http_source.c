/*
 * http_source.c - the CloudEvents webhook receiver: requests on a path of a
 * (shared) listener become events through the HTTP binding codec, or are
 * wrapped; the answer follows the ack mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http.h"

typedef struct http_source {
    ceb_ctx ctx;
    const struct http_source_config *cfg;
    void **slot;               /* host->plugin_slot(): holds the listener registry */
    http_registry *reg;
    http_route *route;
    char bound[96];
    int port;
    bool paused;
    bool stopping;
    bool waiting_listener;     /* the listener is closing on our behalf */
    bool stopped;
    size_t outstanding;        /* emits whose ack has not come */
    ceb_metric *m_requests;    /* http_source_requests_total{source,code} */
    ceb_metric *m_bytes;       /* http_source_request_bytes_total{source} */
    char retry_after[64];      /* "Retry-After: N\r\n" */
} http_source;

/* The ack token of one request's emit. */
typedef struct http_pending {
    http_source *src;
    http_reply *reply;         /* NULL in ack mode accepted (answered already) */
} http_pending;

static const char ALLOW[] = "Allow: POST, PUT, OPTIONS\r\n";

/* ---- answers ----------------------------------------------------------- */

static void reply_error(http_reply *reply, int status, const char *extra, const char *msg,
                        const char *attribute)
{
    ceb_buf b = {0};
    int rc = ceb_buf_append_str(&b, "{\"error\":");
    if (rc == 0)
        rc = ceb_json_quote(&b, msg, strlen(msg));
    if (rc == 0 && attribute != NULL && attribute[0] != '\0') {
        rc = ceb_buf_append_str(&b, ",\"attribute\":");
        if (rc == 0)
            rc = ceb_json_quote(&b, attribute, strlen(attribute));
    }
    if (rc == 0)
        rc = ceb_buf_append_str(&b, "}");
    if (rc < 0)
        http_reply_send(reply, 500, NULL, NULL, NULL, 0);
    else
        http_reply_send(reply, status, extra, "application/json", b.data, b.len);
    ceb_buf_free(&b);
}

/* {"accepted":n}, without printf: this runs once per request. */
static void reply_accepted(http_reply *reply, size_t n)
{
    static const char head[] = "{\"accepted\":";
    char body[sizeof head + 24];
    memcpy(body, head, sizeof head - 1);
    size_t len = sizeof head - 1;
    len += http_u64_text(n, body + len);
    body[len++] = '}';
    http_reply_send(reply, 202, NULL, "application/json", body, len);
}

/* ---- authentication ---------------------------------------------------- */

static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) {
        (void)CRYPTO_memcmp(a, a, alen);   /* same work either way */
        return false;
    }
    return CRYPTO_memcmp(a, b, alen) == 0;
}

static bool bearer_ok(const http_source *s, const http_req *req)
{
    size_t slen = 0;
    const char *secret = ceb_secret_reveal(s->cfg->auth_bearer, &slen);
    const ceb_http_header *h = ceb_http_header_find(req->headers, req->nh, "authorization");
    if (h == NULL || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7) != 0)
        return false;
    const char *tok = h->value + 7;
    size_t tlen = h->value_len - 7;
    while (tlen > 0 && *tok == ' ') {
        tok++;
        tlen--;
    }
    while (tlen > 0 && (tok[tlen - 1] == ' ' || tok[tlen - 1] == '\t'))
        tlen--;
    return ct_equal(tok, tlen, secret, slen);
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* HMAC-SHA256 of the body against the signature header (GitHub style). */
static bool hmac_ok(const http_source *s, const http_req *req)
{
    const ceb_http_header *h = ceb_http_header_find(req->headers, req->nh,
                                                    s->cfg->auth_hmac_header);
    if (h == NULL)
        return false;
    const char *v = h->value;
    size_t vl = h->value_len;
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    const char *prefix = s->cfg->auth_hmac_prefix ? s->cfg->auth_hmac_prefix : "";
    size_t pl = strlen(prefix);
    if (vl < pl || strncasecmp(v, prefix, pl) != 0)
        return false;
    v += pl;
    vl -= pl;
    unsigned char given[32];
    if (vl != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexdigit(v[2 * i]), lo = hexdigit(v[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        given[i] = (unsigned char)(hi << 4 | lo);
    }
    size_t klen = 0;
    const char *key = ceb_secret_reveal(s->cfg->auth_hmac_secret, &klen);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    if (HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)req->body, req->body_len,
             mac, &mlen) == NULL || mlen != 32)
        return false;
    return CRYPTO_memcmp(mac, given, 32) == 0;
}

/* ---- route callbacks --------------------------------------------------- */

static bool method_is(const http_req *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

static int source_check(void *arg, const http_req *req, http_reply *reply)
{
    http_source *s = arg;
    if (s->stopping)
        return 503;
    if (method_is(req, "OPTIONS"))
        return 0;
    if (!method_is(req, "POST") && !method_is(req, "PUT")) {
        reply_error(reply, 405, ALLOW, "method not allowed: use POST", NULL);
        return 405;
    }
    if (s->cfg->auth_bearer != NULL && !bearer_ok(s, req)) {
        reply_error(reply, 401, "WWW-Authenticate: Bearer\r\n",
                    "missing or wrong bearer token", NULL);
        return 401;
    }
    if (s->cfg->auth_hmac_secret != NULL &&
        ceb_http_header_find(req->headers, req->nh, s->cfg->auth_hmac_header) == NULL) {
        char msg[200];
        snprintf(msg, sizeof msg, "missing signature header %s", s->cfg->auth_hmac_header);
        reply_error(reply, 401, NULL, msg, NULL);
        return 401;
    }
    const ceb_http_header *ct = ceb_http_header_find(req->headers, req->nh, "content-type");
    ceb_http_mode m = ct ? ceb_http_classify(ct->value, ct->value_len) : CEB_HTTP_MODE_BINARY;
    if (m == CEB_HTTP_MODE_UNSUPPORTED ||
        (m == CEB_HTTP_MODE_BINARY && !ceb_http_is_binary_event(req->headers, req->nh) &&
         s->cfg->wrap_type == NULL && !(ct && ceb_http_ctype_is_json(ct->value, ct->value_len)))) {
        char msg[256];
        snprintf(msg, sizeof msg, "unsupported content type \"%.*s\": send a CloudEvent "
                 "(ce- headers, application/cloudevents+json or "
                 "application/cloudevents-batch+json)",
                 ct ? (int)(ct->value_len > 80 ? 80 : ct->value_len) : 0, ct ? ct->value : "");
        reply_error(reply, 415, NULL, msg, NULL);
        return 415;
    }
    /* Backpressure (429) is answered once the body is read (source_handle), so that
       the connection stays open for the caller's retry. */
    return 0;
}

static void source_options(http_source *s, const http_req *req, http_reply *reply)
{
    const ceb_http_header *o = ceb_http_header_find(req->headers, req->nh,
                                                    "webhook-request-origin");
    if (o == NULL) {
        http_reply_send(reply, 204, ALLOW, NULL, NULL, 0);
        return;
    }
    char origin[256];
    snprintf(origin, sizeof origin, "%.*s", (int)(o->value_len > 255 ? 255 : o->value_len),
             o->value);
    if (strpbrk(origin, "\r\n") != NULL) {
        reply_error(reply, 400, NULL, "invalid WebHook-Request-Origin", NULL);
        return;
    }
    const ceb_strlist *al = &s->cfg->allowed_origins;
    bool ok = al->n == 0;
    for (size_t i = 0; i < al->n && !ok; i++)
        ok = strcmp(al->v[i], "*") == 0 || strcasecmp(al->v[i], origin) == 0;
    if (!ok) {
        reply_error(reply, 403, NULL, "origin not allowed", NULL);
        return;
    }
    char extra[400];
    snprintf(extra, sizeof extra, "WebHook-Allowed-Origin: %s\r\nWebHook-Allowed-Rate: *\r\n%s",
             origin, ALLOW);
    http_reply_send(reply, 200, extra, NULL, NULL, 0);
}

/* Template lookup for wrapping: header.NAME, path, method. */
typedef struct wrap_ctx {
    const http_req *req;
} wrap_ctx;

static bool wrap_lookup(void *arg, const char *ref, size_t len, const char **val, size_t *vlen)
{
    const wrap_ctx *w = arg;
    if (len == 4 && memcmp(ref, "path", 4) == 0) {
        *val = w->req->path;
        *vlen = strlen(w->req->path);
        return true;
    }
    if (len == 6 && memcmp(ref, "method", 6) == 0) {
        *val = w->req->method;
        *vlen = strlen(w->req->method);
        return true;
    }
    if (len > 7 && memcmp(ref, "header.", 7) == 0) {
        char name[128];
        if (len - 7 >= sizeof name)
            return false;
        memcpy(name, ref + 7, len - 7);
        name[len - 7] = '\0';
        const ceb_http_header *h = ceb_http_header_find(w->req->headers, w->req->nh, name);
        if (h == NULL)
            return false;
        *val = h->value;
        *vlen = h->value_len;
        return true;
    }
    return false;
}

/* Wrap a non-CloudEvents request (a Flux or GitHub webhook). */
static int source_wrap(http_source *s, const http_req *req, ceb_event **out, ceb_diag *d)
{
    const ceb_http_header *cth = ceb_http_header_find(req->headers, req->nh, "content-type");
    char ct[256];
    if (cth != NULL)
        snprintf(ct, sizeof ct, "%.*s", (int)(cth->value_len > 255 ? 255 : cth->value_len),
                 cth->value);
    ceb_event *ev = NULL;
    int rc = ceb_event_wrap(req->body, req->body_len, cth && ct[0] ? ct : NULL, "wrap.pending",
                            "/wrap.pending", NULL, &ev, d);
    if (rc < 0)
        return rc;
    wrap_ctx w = { req };
    static const char *const names[] = { "type", "source", "subject" };
    const ceb_template *t[] = { s->cfg->wrap_type, s->cfg->wrap_source, s->cfg->wrap_subject };
    ceb_buf b = {0};
    for (size_t i = 0; i < 3; i++) {
        if (t[i] == NULL)
            continue;
        ceb_buf_reset(&b);
        if ((rc = ceb_template_render_with(t[i], ev, wrap_lookup, &w, &b)) < 0)
            break;
        if (b.len == 0 && i < 2) {
            rc = ceb_diag_set_field(d, CEB_ESPEC, names[i], "wrap.%s rendered an empty %s "
                                    "for this request", names[i], names[i]);
            break;
        }
        if ((rc = ceb_event_setn(ev, names[i], b.data, b.len, d)) < 0) {
            if (d != NULL && d->field[0] == '\0')
                snprintf(d->field, sizeof d->field, "%s", names[i]);
            rc = CEB_ESPEC;
            break;
        }
    }
    ceb_buf_free(&b);
    if (rc < 0) {
        ceb_event_unref(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

static void source_answered(void *arg, int status)
{
    http_source *s = arg;
    if (s->m_requests == NULL)
        return;
    char code[24];
    http_u64_text(status > 0 ? (uint64_t)status : 0, code);
    const char *lv[] = { s->ctx.host->instance_name(s->ctx.inst), code };
    s->ctx.host->metric_add(s->m_requests, lv, 1);
}

static void source_handle(void *arg, const http_req *req, http_reply *reply)
{
    http_source *s = arg;
    if (s->m_bytes != NULL) {
        const char *lv[] = { s->ctx.host->instance_name(s->ctx.inst) };
        s->ctx.host->metric_add(s->m_bytes, lv, (double)req->body_len);
    }
    if (method_is(req, "OPTIONS")) {
        source_options(s, req, reply);
        return;
    }
    if (s->cfg->auth_hmac_secret != NULL && !hmac_ok(s, req)) {
        reply_error(reply, 401, NULL, "signature does not match the body", NULL);
        return;
    }
    if (s->stopping) {
        reply_error(reply, 503, NULL, "source is stopping", NULL);
        return;
    }
    if (s->paused) {
        reply_error(reply, 429, s->retry_after, "backpressure: the routes are full, retry later",
                    NULL);
        return;
    }
    ceb_decode_opts opts = { .strict = s->cfg->strict, .default_source = s->cfg->default_source,
                             .default_type = s->cfg->default_type };
    ceb_event **evs = NULL;
    size_t n = 0;
    ceb_diag d = {0};
    ceb_http_mode mode;
    int rc = ceb_http_decode(req->headers, req->nh, req->body, req->body_len, &opts, &evs, &n,
                             &mode, &d);
    if (rc == CEB_EDECODE && s->cfg->wrap_type != NULL) {
        ceb_event *ev = NULL;
        ceb_diag_clear(&d);
        rc = source_wrap(s, req, &ev, &d);
        if (rc == 0) {
            evs = malloc(sizeof *evs);
            if (evs == NULL) {
                ceb_event_unref(ev);
                rc = CEB_ENOMEM;
            } else {
                evs[0] = ev;
                n = 1;
            }
        }
    }
    if (rc < 0) {
        if (rc == CEB_ENOMEM)
            reply_error(reply, 500, NULL, "out of memory", NULL);
        else if (rc == CEB_ENOTSUP)
            reply_error(reply, 415, NULL, d.message, NULL);
        else
            reply_error(reply, 400, NULL, d.message[0] ? d.message : ceb_strerror(rc), d.field);
        return;
    }
    if (opts.repaired != 0 && s->ctx.host->log_enabled(s->ctx.inst, CEB_LOG_DEBUG))
        CEB_LOG_D(&s->ctx, "repaired a CloudEvent-shaped request (flags 0x%x)", opts.repaired);
    if (n == 0) {                       /* an empty batch: nothing to route */
        ceb_free(evs);
        reply_accepted(reply, 0);
        return;
    }
    http_pending *pd = malloc(sizeof *pd);
    if (pd == NULL) {
        ceb_events_free(evs, n);
        reply_error(reply, 500, NULL, "out of memory", NULL);
        return;
    }
    pd->src = s;
    pd->reply = s->cfg->ack == HTTP_ACK_DELIVERED ? reply : NULL;
    s->outstanding++;
    rc = s->ctx.host->emit(s->ctx.inst, evs, n, pd);
    ceb_free(evs);                      /* emit consumed the events */
    if (rc < 0) {
        s->outstanding--;
        free(pd);
        if (rc == CEB_ESHUTDOWN)
            reply_error(reply, 503, NULL, "source is stopping", NULL);
        else
            reply_error(reply, 400, NULL, ceb_strerror(rc), NULL);
        return;
    }
    if (s->cfg->ack == HTTP_ACK_ACCEPTED)
        reply_accepted(reply, n);
    /* else: answered in source_ack (the reply object stays with `pd`). */
}

static bool source_ready(void *arg)
{
    http_source *s = arg;
    if (s->stopping)
        return false;
    return s->ctx.host->ready == NULL || s->ctx.host->ready(s->ctx.inst);
}

static const http_route_ops source_route_ops = {
    .check = source_check,
    .handle = source_handle,
    .ready = source_ready,
    .answered = source_answered,
};

/* ---- lifecycle --------------------------------------------------------- */

static int source_create(ceb_instance *inst, const ceb_host *host, const void *config,
                         ceb_diag *diag, void **state)
{
    const struct http_source_config *cfg = config;
    if (cfg->path == NULL || cfg->path[0] != '/')
        return ceb_diag_set_field(diag, CEB_ECONFIG, "path", "must start with '/', got \"%s\"",
                                  cfg->path ? cfg->path : "");
    if (strcmp(cfg->path, "/healthz") == 0 || strcmp(cfg->path, "/readyz") == 0)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "path", "%s is reserved for health checks",
                                  cfg->path);
    if ((cfg->auth_hmac_secret != NULL) != (cfg->auth_hmac_header != NULL && cfg->auth_hmac_header[0]))
        return ceb_diag_set_field(diag, CEB_ECONFIG, "auth.hmac",
                                  "give both auth.hmac.header and auth.hmac.secret");
    if (cfg->auth_hmac_header != NULL && strpbrk(cfg->auth_hmac_header, " :\r\n") != NULL)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "auth.hmac.header",
                                  "not a header name: \"%s\"", cfg->auth_hmac_header);
    if (!CEB_HOST_HAS(host, plugin_slot))
        return ceb_diag_set(diag, CEB_ENOTSUP, "this cebridge has no host->plugin_slot(), "
                            "which the http source needs to share listeners; upgrade cebridge");
    http_source *s = calloc(1, sizeof *s);
    if (s == NULL)
        return CEB_ENOMEM;
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->cfg = cfg;
    s->slot = host->plugin_slot(inst);
    if (http_registry_acquire(s->slot, &s->reg) < 0) {
        free(s);
        return CEB_ENOMEM;
    }
    int64_t ra = (cfg->retry_after + 999) / 1000;
    snprintf(s->retry_after, sizeof s->retry_after, "Retry-After: %lld\r\n",
             (long long)(ra < 1 ? 1 : ra));
    *state = s;
    return 0;
}

static int source_start(void *state)
{
    http_source *s = state;
    const struct http_source_config *cfg = s->cfg;
    http_limits lim = {
        .max_connections = (uint64_t)cfg->max_connections,
        .max_headers = (uint64_t)cfg->max_headers,
        .header_timeout_ms = (uint64_t)cfg->header_timeout,
        .body_timeout_ms = (uint64_t)cfg->body_timeout,
        .idle_timeout_ms = (uint64_t)cfg->idle_timeout,
    };
    if (s->ctx.host->metric_register != NULL) {
        static const char *const ln[] = { "source", "code" };
        if (s->ctx.host->metric_register(s->ctx.inst, CEB_METRIC_COUNTER,
                                         "http_source_requests_total",
                                         "Requests answered by the http source, by status code",
                                         ln, 2, NULL, 0, &s->m_requests) < 0)
            s->m_requests = NULL;
        if (s->ctx.host->metric_register(s->ctx.inst, CEB_METRIC_COUNTER,
                                         "http_source_request_bytes_total",
                                         "Request body bytes read by the http source",
                                         ln, 1, NULL, 0, &s->m_bytes) < 0)
            s->m_bytes = NULL;
    }
    ceb_diag d = {0};
    int rc = http_route_attach(s->reg, s->ctx.host->loop(s->ctx.inst), cfg->listen, &lim, cfg->path,
                               cfg->max_body, &source_route_ops, s, &s->route, s->bound,
                               sizeof s->bound, &d);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "%s", d.message);
        return rc;
    }
    s->port = http_route_port(s->route);
    CEB_LOG_I(&s->ctx, "listening on %s path %s (ack: %s)", s->bound, cfg->path,
              cfg->ack == HTTP_ACK_DELIVERED ? "delivered" : "accepted");
    return 0;
}

static void source_pause(void *state)
{
    http_source *s = state;
    s->paused = true;
}

static void source_resume(void *state)
{
    http_source *s = state;
    s->paused = false;
}

static void source_maybe_stopped(http_source *s)
{
    if (s->stopping && !s->stopped && !s->waiting_listener && s->outstanding == 0) {
        s->stopped = true;
        s->ctx.host->stopped(s->ctx.inst);
    }
}

static void source_ack(void *state, void *token, int status)
{
    http_source *s = state;
    http_pending *pd = token;
    if (pd->reply != NULL) {
        if (status == 0) {
            http_reply_send(pd->reply, 202, NULL, "application/json", "{\"delivered\":true}", 18);
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "delivery failed: %s", ceb_strerror(status));
            reply_error(pd->reply, 502, NULL, msg, NULL);
        }
    }
    free(pd);
    s->outstanding--;
    source_maybe_stopped(s);
}

static void source_listener_closed(void *arg)
{
    http_source *s = arg;
    s->waiting_listener = false;
    source_maybe_stopped(s);
}

static void source_stop(void *state)
{
    http_source *s = state;
    s->stopping = true;
    if (s->route != NULL) {
        http_route *r = s->route;
        s->route = NULL;
        s->waiting_listener = true;
        if (!http_route_detach(r, source_listener_closed, s))
            s->waiting_listener = false;
    }
    source_maybe_stopped(s);
}

static void source_destroy(void *state)
{
    http_source *s = state;
    http_registry_release(s->slot);
    free(s);
}

int http_source_port(void *state)
{
    return ((http_source *)state)->port;
}

int http_source_metrics(void *state, ceb_buf *out)
{
    http_source *s = state;
    return s->ctx.host->metrics_render(s->ctx.inst, out);
}

/* ---- options ----------------------------------------------------------- */

static const char *const ack_choices[] = { "accepted", "delivered", NULL };

#define CFG struct http_source_config
static const ceb_option source_options_table[] = {
    CEB_OPT_STRING_FIELD("listen", "\"127.0.0.1:8080\"", 0, CFG, listen,
                         "Address to listen on: \"HOST:PORT\", \"[IPv6]:PORT\", \"*:PORT\"; port 0 picks one (logged)."),
    CEB_OPT_STRING_FIELD("path", "\"/\"", 0, CFG, path,
                         "Request path served by this source; several sources may share a listener on different paths."),
    CEB_OPT_ENUM_FIELD("ack", "\"accepted\"", 0, CFG, ack, ack_choices,
                       "When to answer 202: once the events are accepted, or once every delivery completed (then 502 on failure)."),
    CEB_OPT_SIZE_FIELD("max_body", "\"1MiB\"", 0, CFG, max_body, 0, 0,
                       "Largest request body; above it the answer is 413 and the rest is not read."),
    CEB_OPT_INT_FIELD("max_headers", "100", 0, CFG, max_headers, 1, 10000,
                      "Most header fields in a request (431 above)."),
    CEB_OPT_INT_FIELD("max_connections", "1024", 0, CFG, max_connections, 1, 1000000,
                      "Most open connections on the listener; more are closed at once."),
    CEB_OPT_DURATION_FIELD("header_timeout", "\"10s\"", 0, CFG, header_timeout, 0, 0,
                           "Time allowed to receive a request's headers (408 after; 0: no limit)."),
    CEB_OPT_DURATION_FIELD("body_timeout", "\"30s\"", 0, CFG, body_timeout, 0, 0,
                           "Time allowed to receive a request's body once the headers are in (408 after; 0: no limit)."),
    CEB_OPT_DURATION_FIELD("idle_timeout", "\"60s\"", 0, CFG, idle_timeout, 0, 0,
                           "Keep-alive connections idle longer are closed."),
    CEB_OPT_DURATION_FIELD("retry_after", "\"1s\"", 0, CFG, retry_after, 0, 0,
                           "Retry-After sent with 429 while the routes are backpressured (rounded up to seconds)."),
    CEB_OPT_BOOL_FIELD("strict", "true", 0, CFG, strict,
                       "Refuse CloudEvent-shaped requests that break the spec (400); false repairs them from the defaults."),
    CEB_OPT_STRING_FIELD("default_source", NULL, 0, CFG, default_source,
                         "With strict false: source for events that lack one."),
    CEB_OPT_STRING_FIELD("default_type", NULL, 0, CFG, default_type,
                         "With strict false: type for events that lack one."),
    CEB_OPT_SECRET_FIELD("auth.bearer", NULL, 0, CFG, auth_bearer,
                         "Require \"Authorization: Bearer <secret>\" (401 otherwise)."),
    CEB_OPT_STRING_FIELD("auth.hmac.header", NULL, 0, CFG, auth_hmac_header,
                         "Header carrying the HMAC-SHA256 signature of the body, e.g. X-Hub-Signature-256."),
    CEB_OPT_SECRET_FIELD("auth.hmac.secret", NULL, 0, CFG, auth_hmac_secret,
                         "Shared secret of the HMAC-SHA256 signature."),
    CEB_OPT_STRING_FIELD("auth.hmac.prefix", "\"sha256=\"", 0, CFG, auth_hmac_prefix,
                         "Text before the hex digest in the signature header (GitHub: sha256=)."),
    CEB_OPT_TEMPLATE_FIELD("wrap.type", NULL, 0, CFG, wrap_type,
                           "Wrap requests that are not CloudEvents, with this type (template: {data.x}, {header.NAME}, {path})."),
    CEB_OPT_TEMPLATE_FIELD("wrap.source", "\"{path}\"", 0, CFG, wrap_source,
                           "Source of wrapped events (template)."),
    CEB_OPT_TEMPLATE_FIELD("wrap.subject", NULL, 0, CFG, wrap_subject,
                           "Subject of wrapped events (template; empty: none)."),
    CEB_OPT_LIST_FIELD("allowed_origins", "[]", 0, CFG, allowed_origins,
                       "Origins allowed by the OPTIONS web-hook validation handshake; empty allows any."),
    CEB_OPTION_END
};
#undef CFG

const ceb_source_ops http_source_ops = {
    .options = source_options_table,
    .config_size = sizeof(struct http_source_config),
    .create = source_create,
    .start = source_start,
    .pause = source_pause,
    .resume = source_resume,
    .ack = source_ack,
    .stop = source_stop,
    .destroy = source_destroy,
};
