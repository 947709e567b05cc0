/*
 * http_sink.c - POST events per the CloudEvents HTTP binding with libcurl's
 * multi-socket API driven by the host's libuv loop: one uv_poll_t per
 * socket curl asks for, one uv_timer_t for curl's timeout, no threads;
 * connections are reused through the multi handle's connection cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"

typedef struct http_sink http_sink;

typedef struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    http_sink *s;
    struct sockctx *next, *prev;
} sockctx;

typedef struct xfer {
    struct xfer *next, *prev;
    http_sink *s;
    CURL *easy;
    struct curl_slist *hdrs;
    ceb_buf body;
    ceb_buf resp;                 /* first bytes of the response body */
    ceb_delivery **dlv;
    size_t n;
    int64_t retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

struct http_sink {
    ceb_ctx ctx;
    const struct http_sink_config *cfg;
    CURLM *multi;
    uv_timer_t timer;             /* curl's timeout */
    uv_timer_t batch_timer;       /* batch.max_wait */
    int handles;                  /* open uv handles */
    bool started, stopping, cleaning, stopped;
    struct curl_slist *base;      /* headers option + auth */
    ceb_metric *m_requests;       /* http_sink_requests_total{sink,code} */
    ceb_metric *m_bytes;          /* http_sink_request_bytes_total{sink} */
    xfer *xfers;
    sockctx *socks;
    /* the batch being gathered */
    ceb_delivery **bdlv;
    const ceb_event **bev;
    size_t bn;
    char *burl;
};

/* ---- uv handles -------------------------------------------------------- */

static void sink_maybe_stopped(http_sink *s)
{
    if (s->cleaning && !s->stopped && s->handles == 0) {
        s->stopped = true;
        s->ctx.host->stopped(s->ctx.inst);
    }
}

static void handle_closed(uv_handle_t *h)
{
    http_sink *s = h->data;
    s->handles--;
    sink_maybe_stopped(s);
}

static void sock_closed(uv_handle_t *h)
{
    sockctx *sc = h->data;
    http_sink *s = sc->s;
    free(sc);
    s->handles--;
    sink_maybe_stopped(s);
}

static void sock_close(sockctx *sc)
{
    http_sink *s = sc->s;
    if (sc->prev != NULL)
        sc->prev->next = sc->next;
    else
        s->socks = sc->next;
    if (sc->next != NULL)
        sc->next->prev = sc->prev;
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, sock_closed);
}

/* ---- results ----------------------------------------------------------- */

static int64_t parse_retry_after(const char *v, size_t n)
{
    char buf[64];
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end = NULL;
    long long secs = strtoll(buf, &end, 10);
    if (*end == '\0')
        return secs > 0 ? (secs > 86400 ? 86400 : secs) * 1000 : 0;
    time_t when = curl_getdate(buf, NULL);       /* HTTP-date */
    if (when == (time_t)-1)
        return 0;
    time_t now = time(NULL);
    return when > now ? (int64_t)(when - now) * 1000 : 0;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    size_t n = size * nitems;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->retry_after_ms = 0;         /* a new response (after 100 Continue) */
        ceb_buf_reset(&x->resp);
    } else if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        x->retry_after_ms = parse_retry_after(p + 12, n - 12);
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    size_t max = (size_t)x->s->cfg->max_detail;
    if (x->resp.len < max) {
        size_t take = n < max - x->resp.len ? n : max - x->resp.len;
        if (ceb_buf_append(&x->resp, p, take) < 0)
            return 0;
    }
    return n;
}

static void xfer_free(xfer *x)
{
    http_sink *s = x->s;
    if (x->prev != NULL)
        x->prev->next = x->next;
    else if (s->xfers == x)
        s->xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    if (x->easy != NULL) {
        curl_multi_remove_handle(s->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->hdrs);
    ceb_buf_free(&x->body);
    ceb_buf_free(&x->resp);
    free(x->dlv);
    free(x);
}

static void xfer_complete(xfer *x, ceb_outcome o, int err, int64_t retry_ms, const char *detail)
{
    http_sink *s = x->s;
    ceb_delivery **dlv = x->dlv;
    size_t n = x->n;
    x->dlv = NULL;
    xfer_free(x);
    for (size_t i = 0; i < n; i++)
        s->ctx.host->complete(dlv[i], o, err, retry_ms, detail);
    free(dlv);
}

/* Metrics of one finished request: code "error" when no answer came. */
static void xfer_count(xfer *x, long code)
{
    http_sink *s = x->s;
    if (s->m_requests == NULL || s->m_bytes == NULL)
        return;
    char c[24];
    if (code > 0)
        snprintf(c, sizeof c, "%ld", code);
    else
        snprintf(c, sizeof c, "error");
    const char *lv[] = { s->ctx.host->instance_name(s->ctx.inst), c };
    s->ctx.host->metric_add(s->m_requests, lv, 1);
    s->ctx.host->metric_add(s->m_bytes, lv, (double)x->body.len);
}

static void xfer_done(xfer *x, CURLcode res)
{
    char detail[600];
    if (res != CURLE_OK) {
        int err = res == CURLE_OPERATION_TIMEDOUT ? CEB_ETIMEDOUT
                : res == CURLE_COULDNT_CONNECT ? CEB_ECONNREFUSED : CEB_EIO;
        xfer_count(x, 0);
        snprintf(detail, sizeof detail, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
        xfer_complete(x, CEB_OUTCOME_RETRY, err, 0, detail);
        return;
    }
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    xfer_count(x, code);
    if (code >= 200 && code < 300) {
        xfer_complete(x, CEB_OUTCOME_OK, 0, 0, NULL);
        return;
    }
    /* The first bytes of the body, on one line. */
    for (size_t i = 0; i < x->resp.len; i++)
        if ((unsigned char)x->resp.data[i] < 0x20)
            x->resp.data[i] = ' ';
    snprintf(detail, sizeof detail, "HTTP %ld%s%.*s", code, x->resp.len ? ": " : "",
             (int)(x->resp.len > 512 ? 512 : x->resp.len), x->resp.data ? x->resp.data : "");
    if (code == 408 || code == 429 || code >= 500)
        xfer_complete(x, CEB_OUTCOME_RETRY, CEB_EAGAIN, x->retry_after_ms, detail);
    else
        xfer_complete(x, CEB_OUTCOME_PERMANENT, CEB_EINVAL, 0, detail);
}

static void check_done(http_sink *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode res = m->data.result;
        if (x != NULL)
            xfer_done(x, res);
    }
}

/* ---- curl <-> libuv ---------------------------------------------------- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    sockctx *sc = p->data;
    http_sink *s = sc->s;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running = 0;
    curl_multi_socket_action(s->multi, sc->fd, flags, &running);
    check_done(s);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
    (void)e;
    http_sink *s = userp;
    sockctx *sc = sockp;
    if (s->cleaning)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if (sc != NULL) {
            curl_multi_assign(s->multi, fd, NULL);
            sock_close(sc);
        }
        return 0;
    }
    if (sc == NULL) {
        sc = calloc(1, sizeof *sc);
        if (sc == NULL)
            return -1;
        if (uv_poll_init_socket(s->ctx.host->loop(s->ctx.inst), &sc->poll, fd) < 0) {
            free(sc);
            return -1;
        }
        sc->fd = fd;
        sc->s = s;
        sc->poll.data = sc;
        s->handles++;
        sc->next = s->socks;
        if (s->socks != NULL)
            s->socks->prev = sc;
        s->socks = sc;
        curl_multi_assign(s->multi, fd, sc);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
    http_sink *s = t->data;
    int running = 0;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(s);
}

static int on_timer_change(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    http_sink *s = userp;
    if (s->cleaning)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&s->timer);
    else
        uv_timer_start(&s->timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- sending ----------------------------------------------------------- */

static int add_header(void *arg, const char *name, const char *value)
{
    struct curl_slist **l = arg;
    ceb_buf b = {0};
    int rc = ceb_buf_printf(&b, "%s: %s", name, value);
    if (rc == 0) {
        struct curl_slist *n = curl_slist_append(*l, b.data);
        if (n == NULL)
            rc = CEB_ENOMEM;
        else
            *l = n;
    }
    ceb_buf_free(&b);
    return rc;
}

static struct curl_slist *slist_copy(const struct curl_slist *src, int *rc)
{
    struct curl_slist *out = NULL;
    for (; src != NULL; src = src->next) {
        struct curl_slist *n = curl_slist_append(out, src->data);
        if (n == NULL) {
            curl_slist_free_all(out);
            *rc = CEB_ENOMEM;
            return NULL;
        }
        out = n;
    }
    *rc = 0;
    return out;
}

/* Start one POST carrying `n` deliveries. Takes `dlv` (malloc'd) on success. */
static int xfer_start(http_sink *s, const char *url, ceb_delivery **dlv,
                      const ceb_event *const *evs, size_t n)
{
    const struct http_sink_config *cfg = s->cfg;
    xfer *x = calloc(1, sizeof *x);
    if (x == NULL)
        return CEB_ENOMEM;
    x->s = s;
    int rc;
    x->hdrs = slist_copy(s->base, &rc);
    if (rc < 0)
        goto fail;
    if (cfg->mode == HTTP_MODE_BATCH)
        rc = ceb_http_encode_batch(evs, n, add_header, &x->hdrs, &x->body);
    else if (cfg->mode == HTTP_MODE_STRUCTURED)
        rc = ceb_http_encode_structured(evs[0], add_header, &x->hdrs, &x->body);
    else
        rc = ceb_http_encode_binary(evs[0], add_header, &x->hdrs, &x->body);
    if (rc < 0)
        goto fail;
    if (cfg->mode == HTTP_MODE_BINARY && ceb_event_datacontenttype(evs[0]) == NULL &&
        ceb_event_data_kind(evs[0]) != CEB_DATA_JSON &&
        (rc = add_header(&x->hdrs, "Content-Type", "")) < 0)   /* no curl default type */
        goto fail;
    struct curl_slist *e = curl_slist_append(x->hdrs, "Expect:");
    if (e == NULL) {
        rc = CEB_ENOMEM;
        goto fail;
    }
    x->hdrs = e;
    if ((x->easy = curl_easy_init()) == NULL) {
        rc = CEB_ENOMEM;
        goto fail;
    }
    int64_t timeout = cfg->timeout;
    if (s->ctx.host->delivery_info != NULL) {
        ceb_delivery_info di = {0};
        s->ctx.host->delivery_info(dlv[0], &di);
        if (di.deadline_ms > 0 && (timeout == 0 || di.deadline_ms < timeout))
            timeout = di.deadline_ms;
    }
    CURL *c = x->easy;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body.data ? x->body.data : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
    if (cfg->method != NULL && strcmp(cfg->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, cfg->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cebridge/" CEB_VERSION_STRING);
    if (cfg->tls_ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->tls_ca_file);
    if (cfg->tls_insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (curl_multi_add_handle(s->multi, c) != CURLM_OK) {
        rc = CEB_EIO;
        goto fail;
    }
    x->dlv = dlv;
    x->n = n;
    x->next = s->xfers;
    if (s->xfers != NULL)
        s->xfers->prev = x;
    s->xfers = x;
    return 0;
fail:
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    ceb_buf_free(&x->body);
    free(x);
    return rc;
}

/* Send the gathered batch; on failure complete its deliveries as RETRY. */
static void batch_flush(http_sink *s)
{
    if (s->bn == 0)
        return;
    uv_timer_stop(&s->batch_timer);
    ceb_delivery **dlv = s->bdlv;
    size_t n = s->bn;
    char *url = s->burl;
    int rc = xfer_start(s, url, dlv, s->bev, n);
    s->bdlv = NULL;
    s->bn = 0;
    s->burl = NULL;
    free(s->bev);
    s->bev = NULL;
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            s->ctx.host->complete(dlv[i], CEB_OUTCOME_RETRY, rc, 0, ceb_strerror(rc));
        free(dlv);
    }
    free(url);
}

static void on_batch_timer(uv_timer_t *t)
{
    batch_flush(t->data);
}

static int sink_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    http_sink *s = state;
    if (s->stopping)
        return CEB_ESHUTDOWN;
    ceb_buf url = {0};
    int rc = ceb_template_render(s->cfg->url, ev, &url);
    if (rc < 0)
        return rc;
    if (url.len == 0) {
        ceb_buf_free(&url);
        return CEB_EINVAL;
    }
    if (s->cfg->mode != HTTP_MODE_BATCH) {
        ceb_delivery **one = malloc(sizeof *one);
        if (one == NULL) {
            ceb_buf_free(&url);
            return CEB_ENOMEM;
        }
        one[0] = dlv;
        rc = xfer_start(s, url.data, one, &ev, 1);
        if (rc < 0)
            free(one);
        ceb_buf_free(&url);
        return rc;
    }
    if (s->bn > 0 && strcmp(s->burl, url.data) != 0)
        batch_flush(s);                 /* a batch goes to one URL */
    size_t max = (size_t)s->cfg->batch_max_events;
    if (s->bn == 0) {
        s->bdlv = malloc(max * sizeof *s->bdlv);
        s->bev = malloc(max * sizeof *s->bev);
        s->burl = strdup(url.data);
        if (s->bdlv == NULL || s->bev == NULL || s->burl == NULL) {
            free(s->bdlv);
            free(s->bev);
            free(s->burl);
            s->bdlv = NULL;
            s->bev = NULL;
            s->burl = NULL;
            ceb_buf_free(&url);
            return CEB_ENOMEM;
        }
        uv_timer_start(&s->batch_timer, on_batch_timer, (uint64_t)s->cfg->batch_max_wait, 0);
    }
    ceb_buf_free(&url);
    s->bdlv[s->bn] = dlv;
    s->bev[s->bn] = ev;
    s->bn++;
    if (s->bn >= max)
        batch_flush(s);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

static int sink_create(ceb_instance *inst, const ceb_host *host, const void *config,
                       ceb_diag *diag, void **state)
{
    const struct http_sink_config *cfg = config;
    struct curl_slist *base = NULL;
    int rc = 0;
    if (cfg->url == NULL)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "url", "required option missing");
    if (cfg->method == NULL || cfg->method[0] == '\0' || strpbrk(cfg->method, " \r\n:") != NULL)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "method", "not an HTTP method: \"%s\"",
                                  cfg->method ? cfg->method : "");
    if (cfg->headers != NULL) {
        if (ceb_json_type_of(cfg->headers) != CEB_JSON_OBJECT)
            return ceb_diag_set_field(diag, CEB_ECONFIG, "headers", "expected an object of strings");
        size_t nh = ceb_json_count(cfg->headers);
        for (size_t i = 0; i < nh && rc == 0; i++) {
            const ceb_json *v = NULL;
            const char *name = ceb_json_key_at(cfg->headers, i, &v);
            const char *val = ceb_json_string(v);
            char field[128];
            snprintf(field, sizeof field, "headers.%.100s", name);
            if (val == NULL)
                rc = ceb_diag_set_field(diag, CEB_ECONFIG, field, "expected a string");
            else if (name[0] == '\0' || strpbrk(name, " :\r\n\t") != NULL)
                rc = ceb_diag_set_field(diag, CEB_ECONFIG, field, "not a header name");
            else if (strpbrk(val, "\r\n") != NULL)
                rc = ceb_diag_set_field(diag, CEB_ECONFIG, field, "a header value cannot hold a line break");
            else
                rc = add_header(&base, name, val);
        }
    }
    if (rc == 0 && cfg->auth_bearer != NULL) {
        size_t len = 0;
        const char *tok = ceb_secret_reveal(cfg->auth_bearer, &len);
        ceb_buf b = {0};
        if (memchr(tok, '\n', len) != NULL || memchr(tok, '\r', len) != NULL)
            rc = ceb_diag_set_field(diag, CEB_ECONFIG, "auth.bearer", "the token holds a line break");
        else if ((rc = ceb_buf_printf(&b, "Bearer %.*s", (int)len, tok)) == 0)
            rc = add_header(&base, "Authorization", b.data);
        ceb_buf_free(&b);
    }
    if (rc < 0) {
        curl_slist_free_all(base);
        return rc;
    }
    http_sink *s = calloc(1, sizeof *s);
    if (s == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(s);
        curl_slist_free_all(base);
        return CEB_ENOMEM;
    }
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->cfg = cfg;
    s->base = base;
    *state = s;
    return 0;
}

static int sink_start(void *state)
{
    http_sink *s = state;
    uv_loop_t *loop = s->ctx.host->loop(s->ctx.inst);
    s->multi = curl_multi_init();
    if (s->multi == NULL)
        return CEB_ENOMEM;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->batch_timer);
    s->timer.data = s;
    s->batch_timer.data = s;
    s->handles = 2;
    s->started = true;
    if (s->ctx.host->metric_register != NULL) {
        static const char *const ln[] = { "sink", "code" };
        if (s->ctx.host->metric_register(s->ctx.inst, CEB_METRIC_COUNTER,
                                         "http_sink_requests_total",
                                         "Requests made by the http sink, by status code (error: no answer)",
                                         ln, 2, NULL, 0, &s->m_requests) < 0)
            s->m_requests = NULL;
        if (s->ctx.host->metric_register(s->ctx.inst, CEB_METRIC_COUNTER,
                                         "http_sink_request_bytes_total",
                                         "Request body bytes sent by the http sink",
                                         ln, 1, NULL, 0, &s->m_bytes) < 0)
            s->m_bytes = NULL;
    }
    if (s->cfg->tls_insecure_skip_verify)
        CEB_LOG_W(&s->ctx, "tls.insecure_skip_verify is set: TLS certificates and host names "
                  "are NOT verified");
    CEB_LOG_I(&s->ctx, "posting to %s (mode %s)", ceb_template_text(s->cfg->url),
              s->cfg->mode == HTTP_MODE_BATCH ? "batch" :
              s->cfg->mode == HTTP_MODE_STRUCTURED ? "structured" : "binary");
    return 0;
}

static void sink_stop(void *state)
{
    http_sink *s = state;
    s->stopping = true;
    /* Cancel: the gathered batch and every request in flight are retried later. */
    for (size_t i = 0; i < s->bn; i++)
        s->ctx.host->complete(s->bdlv[i], CEB_OUTCOME_RETRY, CEB_ECANCELED, 0, "sink stopping");
    free(s->bdlv);
    free(s->bev);
    free(s->burl);
    s->bdlv = NULL;
    s->bev = NULL;
    s->burl = NULL;
    s->bn = 0;
    while (s->xfers != NULL)
        xfer_complete(s->xfers, CEB_OUTCOME_RETRY, CEB_ECANCELED, 0, "sink stopping");
    s->cleaning = true;
    while (s->socks != NULL)
        sock_close(s->socks);
    if (s->multi != NULL) {
        curl_multi_cleanup(s->multi);
        s->multi = NULL;
    }
    if (s->started) {
        uv_close((uv_handle_t *)&s->timer, handle_closed);
        uv_close((uv_handle_t *)&s->batch_timer, handle_closed);
    }
    sink_maybe_stopped(s);
}

static void sink_destroy(void *state)
{
    http_sink *s = state;
    if (s->multi != NULL)
        curl_multi_cleanup(s->multi);   /* start failed half way */
    curl_slist_free_all(s->base);
    free(s);
    curl_global_cleanup();
}

/* ---- options ----------------------------------------------------------- */

static const char *const mode_choices[] = { "binary", "structured", "batch", NULL };

#define CFG struct http_sink_config
static const ceb_option sink_options_table[] = {
    CEB_OPT_TEMPLATE_FIELD("url", NULL, CEB_OPT_REQUIRED, CFG, url,
                           "Endpoint URL (template, e.g. \"https://hooks.example/{type|urlencode}\")."),
    CEB_OPT_ENUM_FIELD("mode", "\"binary\"", 0, CFG, mode, mode_choices,
                       "CloudEvents HTTP content mode: binary (ce- headers), structured or batch."),
    CEB_OPT_STRING_FIELD("method", "\"POST\"", 0, CFG, method, "HTTP method."),
    CEB_OPT_INT_FIELD("batch.max_events", "100", 0, CFG, batch_max_events, 1, 10000,
                      "Batch mode: most events in one request."),
    CEB_OPT_DURATION_FIELD("batch.max_wait", "\"100ms\"", 0, CFG, batch_max_wait, 0, 0,
                           "Batch mode: longest wait for a batch to fill before it is sent."),
    CEB_OPT_OBJECT_FIELD("headers", NULL, 0, CFG, headers,
                         "Extra request headers, e.g. {\"X-Team\": \"qe\"}."),
    CEB_OPT_SECRET_FIELD("auth.bearer", NULL, 0, CFG, auth_bearer,
                         "Send \"Authorization: Bearer <secret>\"."),
    CEB_OPT_DURATION_FIELD("timeout", "\"30s\"", 0, CFG, timeout, 0, 0,
                           "Whole-request timeout (the route's per-attempt timeout wins when shorter)."),
    CEB_OPT_DURATION_FIELD("connect_timeout", "\"10s\"", 0, CFG, connect_timeout, 0, 0,
                           "Connection timeout."),
    CEB_OPT_STRING_FIELD("tls.ca_file", NULL, 0, CFG, tls_ca_file,
                         "CA bundle (PEM) to verify the server with, instead of the system's."),
    CEB_OPT_BOOL_FIELD("tls.insecure_skip_verify", "false", 0, CFG, tls_insecure_skip_verify,
                       "Do not verify TLS certificates (a warning is logged at start)."),
    CEB_OPT_SIZE_FIELD("max_detail", "256", 0, CFG, max_detail, 0, 4096,
                       "Bytes of an error response's body kept for logs and cebdlqreason."),
    CEB_OPTION_END
};
#undef CFG

const ceb_sink_ops http_sink_ops = {
    .options = sink_options_table,
    .config_size = sizeof(struct http_sink_config),
    .create = sink_create,
    .start = sink_start,
    .deliver = sink_deliver,
    .stop = sink_stop,
    .destroy = sink_destroy,
};

int http_sink_metrics(void *state, ceb_buf *out)
{
    http_sink *s = state;
    return s->ctx.host->metrics_render(s->ctx.inst, out);
}
