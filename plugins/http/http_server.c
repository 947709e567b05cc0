/*
 * http_server.c - HTTP/1.1 server on the host's libuv loop for the http
 * source: uv_tcp_t + Debian's libhttp-parser (keep-alive, pipelining,
 * chunked bodies, Expect: 100-continue), header/body/idle timeouts, a
 * connection cap, and listeners shared by several source instances.
 *
 * Shared listeners. Several source instances may serve different paths on
 * one address. Instances are separate states, so the open listeners live in
 * a registry (http_registry) that the sources keep in the host's per-plugin
 * slot (host->plugin_slot()): one registry per host, so two hosts in one
 * process never share a listener, and no global mutable state. It is only
 * touched on the loop thread (every plugin callback runs there); the last
 * source to be destroyed frees it. SO_REUSEPORT was rejected: the kernel
 * would spread connections over the instances regardless of the path.
 */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "http.h"

#define HTTP_READ_BUF 16384
#define HTTP_MAX_URL 8192

typedef struct http_listener http_listener;
typedef struct http_conn http_conn;

struct http_route {
    http_route *next;
    http_listener *l;
    char *path;
    uint64_t max_body;
    const http_route_ops *ops;
    void *arg;
};

struct http_registry {
    http_listener *listeners;    /* open (or closing) listeners of this host */
    size_t users;                /* source instances holding it */
};

struct http_listener {
    http_listener *next;
    http_registry *reg;          /* NULL when not registered (a failed bind) */
    uv_loop_t *loop;
    char key[128];
    uv_tcp_t tcp;
    http_limits lim;
    http_route *routes;          /* newest first: a newer route shadows an older one */
    http_conn *conns;
    size_t nconns;
    int port;
    int handles;                 /* open uv handles (listener + connections') */
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
};

enum { PH_IDLE = 0, PH_HEADERS, PH_BODY, PH_WAITING };

typedef struct hdr_off {
    size_t name_off, name_len, val_off, val_len;
} hdr_off;

struct http_conn {
    http_conn *next, *prev;
    http_listener *l;
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_parser parser;
    int handles;
    bool closing;
    bool close_after;            /* close once the queued answers are written */
    bool answered;               /* this request got its (early) answer */
    bool in_handler;
    bool reading;
    bool too_many_headers;
    bool lingering;              /* answered and shut down: draining what the client sends */
    uv_shutdown_t shutdown;
    bool url_too_long;
    bool in_feed;                /* inside conn_feed: answers wait in `out` for one write */
    int phase;
    size_t writes;               /* uv_write requests in flight */
    uint64_t deadline;           /* loop time (ms) the current phase times out; 0: none */
    uint64_t armed;              /* loop time the timer is set to fire; 0: not set */
    ceb_buf out;                 /* answers not yet written (coalesced per read) */
    ceb_buf pathb;               /* the request's path, NUL-terminated; `path` points here */
    ceb_buf hbuf;
    hdr_off *hoff;
    size_t nh, hcap;
    bool last_was_value;
    ceb_buf url;
    const char *path;            /* NULL until the headers are complete */
    ceb_buf body;
    ceb_http_header *hv;
    http_route *route;
    http_reply *reply;           /* outstanding reply of the current request */
    ceb_buf pending_in;          /* bytes read but not parsed while waiting */
    char rbuf[HTTP_READ_BUF];
};

struct http_reply {
    http_conn *conn;             /* NULL once the client went away */
    bool keep_alive;
    const http_route_ops *ops;   /* the route's, for answered() */
    void *arg;
};

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the registry (host->plugin_slot) ---------------------------------- */

int http_registry_acquire(void **slot, http_registry **out)
{
    http_registry *reg = *slot;
    if (reg == NULL) {
        if ((reg = calloc(1, sizeof *reg)) == NULL)
            return CEB_ENOMEM;
        *slot = reg;
    }
    reg->users++;
    *out = reg;
    return 0;
}

void http_registry_release(void **slot)
{
    http_registry *reg = *slot;
    if (reg == NULL || --reg->users > 0)
        return;
    /* Every listener closed before its last source stopped; one still here
       (a source destroyed without stopping) forgets the registry. */
    for (http_listener *l = reg->listeners; l != NULL; l = l->next)
        l->reg = NULL;
    free(reg);
    *slot = NULL;
}

static void registry_unlink(http_listener *l)
{
    if (l->reg == NULL)
        return;
    for (http_listener **pp = &l->reg->listeners; *pp != NULL; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    l->reg = NULL;
}

/* ---- status texts ------------------------------------------------------ */

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default:  return "Unknown";
    }
}

/* ---- connection teardown ---------------------------------------------- */

static void listener_handle_closed(http_listener *l)
{
    if (--l->handles > 0 || !l->closing)
        return;
    registry_unlink(l);
    void (*done)(void *) = l->done;
    void *arg = l->done_arg;
    free(l);
    if (done != NULL)
        done(arg);
}

static void conn_free(http_conn *c)
{
    ceb_buf_free(&c->hbuf);
    ceb_buf_free(&c->url);
    ceb_buf_free(&c->body);
    ceb_buf_free(&c->pending_in);
    ceb_buf_free(&c->out);
    ceb_buf_free(&c->pathb);
    free(c->hoff);
    free(c->hv);
    free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    http_listener *l = c->l;
    if (--c->handles > 0)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    l->nconns--;
    conn_free(c);
    listener_handle_closed(l);
}

static void conn_close(http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->reply != NULL) {
        if (c->phase == PH_WAITING)
            c->reply->conn = NULL;   /* the route owns it now: it sends (and frees) it */
        else
            free(c->reply);
        c->reply = NULL;
    }
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

/* ---- writing ----------------------------------------------------------- */

typedef struct write_req {
    uv_write_t req;
    http_conn *conn;
    char *data;
} write_req;

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_timeout(uv_timer_t *t);
static void conn_timer(http_conn *c, uint64_t ms);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    c->reading = true;
}

/*
 * Lingering close (as nginx does): after a final answer, shut down our side
 * and read and discard what the client still sends for a short while, so
 * that closing with unread input does not reset the connection before the
 * client has read the answer (413 on a large body, 431 on a header flood).
 */
static void conn_linger(http_conn *c)
{
    if (c->lingering || c->closing)
        return;
    c->lingering = true;
    c->shutdown.data = c;
    uint64_t ms = c->l->lim.header_timeout_ms;
    conn_timer(c, ms > 0 && ms < 2000 ? ms : 2000);
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

static void conn_linger_if_done(http_conn *c)
{
    if (c->close_after && c->writes == 0 && c->out.len == 0)
        conn_linger(c);
}

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    http_conn *c = w->conn;
    ceb_free(w->data);
    free(w);
    c->writes--;
    if (c->closing)
        return;
    if (status < 0)
        conn_close(c);
    else
        conn_linger_if_done(c);
}

/*
 * Write what `out` holds. Nothing queued: try the socket at once (an answer
 * usually fits), which spares the write request, its callback and the poll
 * for writability; `out` keeps its memory for the next answer. What the
 * socket does not take goes to a uv_write of its own.
 */
static void conn_flush(http_conn *c)
{
    if (c->closing || c->out.len == 0) {
        conn_linger_if_done(c);
        return;
    }
    size_t off = 0;
    if (c->writes == 0) {
        uv_buf_t ub = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
        if (n == (int)c->out.len) {
            ceb_buf_reset(&c->out);
            conn_linger_if_done(c);
            return;
        }
        if (n < 0 && n != UV_EAGAIN) {
            ceb_buf_reset(&c->out);
            conn_close(c);
            return;
        }
        off = n > 0 ? (size_t)n : 0;
    }
    write_req *w = malloc(sizeof *w);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    size_t len = 0;
    w->conn = c;
    w->data = ceb_buf_steal(&c->out, &len);
    uv_buf_t ub = uv_buf_init(w->data + off, (unsigned)(len - off));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, on_written) < 0) {
        ceb_free(w->data);
        free(w);
        conn_close(c);
        return;
    }
    c->writes++;
}

/* Queue bytes for the client; written at once unless the parser is running
   (then once per read, so pipelined answers leave in one write). */
static void conn_write(http_conn *c, const char *data, size_t len)
{
    if (c->closing)
        return;
    if (ceb_buf_append(&c->out, data, len) < 0) {
        conn_close(c);
        return;
    }
    if (!c->in_feed)
        conn_flush(c);
}

size_t http_u64_text(uint64_t v, char out[24])
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    size_t n = sizeof tmp - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* The answer's head and body, appended to `out` with one reservation and
   no printf (this runs once per request). */
static int answer_format(ceb_buf *b, int status, bool close, const char *extra,
                         const char *ctype, const char *body, size_t blen)
{
    static const char ctype_h[] = "Content-Type: ", close_h[] = "Connection: close\r\n";
    char code[24], clen[24];
    size_t codel = http_u64_text((uint64_t)status, code);
    size_t clenl = http_u64_text((uint64_t)blen, clen);
    const char *text = http_status_text(status);
    size_t textl = strlen(text);
    bool with_ct = ctype != NULL && blen > 0;
    size_t ctl = with_ct ? strlen(ctype) : 0;
    size_t exl = extra != NULL ? strlen(extra) : 0;
    size_t total = 9 + codel + 1 + textl + 18 + clenl + 2 +
                   (with_ct ? sizeof ctype_h - 1 + ctl + 2 : 0) + exl +
                   (close ? sizeof close_h - 1 : 0) + 2 + blen;
    int rc = ceb_buf_reserve(b, total);
    if (rc < 0)
        return rc;
    char *p = b->data + b->len;
    p = put(p, "HTTP/1.1 ", 9);
    p = put(p, code, codel);
    p = put(p, " ", 1);
    p = put(p, text, textl);
    p = put(p, "\r\nContent-Length: ", 18);
    p = put(p, clen, clenl);
    p = put(p, "\r\n", 2);
    if (with_ct) {
        p = put(p, ctype_h, sizeof ctype_h - 1);
        p = put(p, ctype, ctl);
        p = put(p, "\r\n", 2);
    }
    if (exl > 0)
        p = put(p, extra, exl);
    if (close)
        p = put(p, close_h, sizeof close_h - 1);
    p = put(p, "\r\n", 2);
    if (blen > 0)
        p = put(p, body, blen);
    assert(p == b->data + b->len + total);
    b->len += total;
    b->data[b->len] = '\0';
    return 0;
}

static void conn_send(http_conn *c, int status, bool keep_alive, const char *extra,
                      const char *ctype, const char *body, size_t blen)
{
    if (c->closing)
        return;
    if (!keep_alive)
        c->close_after = true;
    size_t mark = c->out.len;
    if (answer_format(&c->out, status, c->close_after, extra, ctype, body, blen) < 0) {
        c->out.len = mark;
        conn_close(c);
        return;
    }
    if (!c->in_feed)
        conn_flush(c);
}

/* A JSON error body {"error": msg}. */
static void conn_send_error(http_conn *c, int status, bool keep_alive, const char *extra,
                            const char *msg)
{
    ceb_buf b = {0};
    if (ceb_buf_append_str(&b, "{\"error\":") < 0 || ceb_json_quote(&b, msg, strlen(msg)) < 0 ||
        ceb_buf_append_str(&b, "}") < 0) {
        ceb_buf_free(&b);
        conn_close(c);
        return;
    }
    conn_send(c, status, keep_alive, extra, "application/json", b.data, b.len);
    ceb_buf_free(&b);
}

/* ---- timers ------------------------------------------------------------ */

static void on_timeout(uv_timer_t *t)
{
    http_conn *c = t->data;
    c->armed = 0;
    if (c->closing || c->deadline == 0)
        return;
    uint64_t now = uv_now(c->l->loop);
    if (now < c->deadline) {          /* the deadline moved on since the timer was set */
        c->armed = c->deadline;
        uv_timer_start(&c->timer, on_timeout, c->deadline - now, 0);
        return;
    }
    c->deadline = 0;
    if (c->lingering) {
        conn_close(c);
        return;
    }
    if (c->phase == PH_HEADERS || c->phase == PH_BODY) {
        c->answered = true;
        conn_send_error(c, 408, false, NULL, c->phase == PH_HEADERS ?
                        "request headers not received in time" : "request body not received in time");
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    } else {
        conn_close(c);
    }
}

/*
 * Set the current phase's deadline (ms from now; 0: none). The timer is
 * only restarted when the new deadline is earlier than the one it is set
 * for; otherwise it fires early and moves itself on. Each request changes
 * the deadline three times, and this keeps those changes off libuv's timer
 * heap.
 */
static void conn_timer(http_conn *c, uint64_t ms)
{
    if (ms == 0) {
        c->deadline = 0;
        return;
    }
    uint64_t now = uv_now(c->l->loop);
    c->deadline = now + ms;
    if (c->armed == 0 || c->deadline < c->armed) {
        c->armed = c->deadline;
        uv_timer_start(&c->timer, on_timeout, ms, 0);
    }
}

/* ---- request state ----------------------------------------------------- */

static void req_reset(http_conn *c)
{
    ceb_buf_reset(&c->hbuf);
    ceb_buf_reset(&c->url);
    ceb_buf_reset(&c->body);
    c->nh = 0;
    c->last_was_value = false;
    c->too_many_headers = false;
    c->url_too_long = false;
    c->answered = false;
    c->route = NULL;
    c->path = NULL;
}

static http_route *route_find(http_listener *l, const char *path)
{
    for (http_route *r = l->routes; r != NULL; r = r->next)
        if (strcmp(r->path, path) == 0)
            return r;
    return NULL;
}

static void req_view(http_conn *c, http_req *req)
{
    for (size_t i = 0; i < c->nh; i++) {
        c->hv[i].name = c->hbuf.data + c->hoff[i].name_off;
        c->hv[i].name_len = c->hoff[i].name_len;
        c->hv[i].value = c->hbuf.data + c->hoff[i].val_off;
        c->hv[i].value_len = c->hoff[i].val_len;
    }
    memset(req, 0, sizeof *req);
    req->method = http_method_str((enum http_method)c->parser.method);
    req->path = c->path;
    req->headers = c->hv;
    req->nh = c->nh;
    if (c->parser.content_length != ULLONG_MAX && !(c->parser.flags & F_CHUNKED)) {
        req->has_length = true;
        req->content_length = c->parser.content_length;
    }
}

static bool body_follows(const http_conn *c)
{
    return (c->parser.flags & F_CHUNKED) ||
           (c->parser.content_length != ULLONG_MAX && c->parser.content_length > 0);
}

/* Answer before the body is read: the connection cannot be reused when a
   body would follow (we do not read it). Returns the parser callback value. */
static int early_answer(http_conn *c, int status, const char *extra, const char *msg)
{
    bool keep = http_should_keep_alive(&c->parser) && !body_follows(c);
    c->answered = true;
    conn_send_error(c, status, keep, extra, msg);
    if (!keep) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        return -1;
    }
    return 0;
}

/* ---- parser callbacks -------------------------------------------------- */

static int on_message_begin(http_parser *p)
{
    http_conn *c = p->data;
    req_reset(c);
    c->phase = PH_HEADERS;
    conn_timer(c, c->l->lim.header_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (c->url.len + len > HTTP_MAX_URL) {
        c->url_too_long = true;
        return 0;
    }
    return ceb_buf_append(&c->url, at, len) < 0 ? -1 : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (c->too_many_headers)
        return 0;
    if (c->nh == 0 || c->last_was_value) {
        if (c->nh >= c->l->lim.max_headers) {
            c->too_many_headers = true;
            return 0;
        }
        if (c->nh == c->hcap) {
            size_t cap = c->hcap ? c->hcap * 2 : 16;
            hdr_off *n = realloc(c->hoff, cap * sizeof *n);
            if (n == NULL)
                return -1;
            c->hoff = n;
            ceb_http_header *v = realloc(c->hv, cap * sizeof *v);
            if (v == NULL)
                return -1;
            c->hv = v;
            c->hcap = cap;
        }
        c->hoff[c->nh++] = (hdr_off){ .name_off = c->hbuf.len };
        c->last_was_value = false;
    }
    c->hoff[c->nh - 1].name_len += len;
    return ceb_buf_append(&c->hbuf, at, len) < 0 ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (c->too_many_headers)
        return 0;
    if (!c->last_was_value) {
        c->hoff[c->nh - 1].val_off = c->hbuf.len;
        c->last_was_value = true;
    }
    c->hoff[c->nh - 1].val_len += len;
    return ceb_buf_append(&c->hbuf, at, len) < 0 ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
    http_conn *c = p->data;
    if (c->too_many_headers)
        return early_answer(c, 431, NULL, "too many header fields");
    if (c->url_too_long)
        return early_answer(c, 414, NULL, "request target too long");
    /* The path: origin-form "/a/b?q" or absolute-form "http://h/a/b?q". */
    const char *u = c->url.data ? c->url.data : "";
    size_t ulen = c->url.len;
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    const char *path = "/";
    size_t plen = 1;
    if (ulen > 0 && http_parser_parse_url(u, ulen, p->method == HTTP_CONNECT, &pu) == 0 &&
        (pu.field_set & (1 << UF_PATH))) {
        path = u + pu.field_data[UF_PATH].off;
        plen = pu.field_data[UF_PATH].len;
    } else if (ulen > 0 && u[0] != '*') {
        return early_answer(c, 400, NULL, "invalid request target");
    }
    ceb_buf_reset(&c->pathb);
    if (ceb_buf_append(&c->pathb, path, plen) < 0 || ceb_buf_append(&c->pathb, "", 1) < 0)
        return -1;
    c->path = c->pathb.data;
    c->phase = PH_BODY;
    conn_timer(c, c->l->lim.body_timeout_ms);

    c->route = route_find(c->l, c->path);
    if (c->route == NULL) {
        if (strcmp(c->path, "/healthz") == 0 || strcmp(c->path, "/readyz") == 0) {
            if (p->method != HTTP_GET && p->method != HTTP_HEAD)
                return early_answer(c, 405, "Allow: GET, HEAD\r\n", "method not allowed");
            if (body_follows(c))
                return early_answer(c, 400, NULL, "unexpected request body");
            return 0;
        }
        return early_answer(c, 404, NULL, "no source on this path");
    }
    http_req req;
    req_view(c, &req);
    if (req.has_length && req.content_length > c->route->max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body of %llu bytes is above the limit of %llu bytes",
                 (unsigned long long)req.content_length, (unsigned long long)c->route->max_body);
        return early_answer(c, 413, NULL, msg);
    }
    http_reply *reply = calloc(1, sizeof *reply);
    if (reply == NULL)
        return -1;
    reply->conn = c;
    reply->keep_alive = http_should_keep_alive(p) && !body_follows(c);
    reply->ops = c->route->ops;
    reply->arg = c->route->arg;
    c->reply = reply;
    c->in_handler = true;
    int status = c->route->ops->check(c->route->arg, &req, reply);
    c->in_handler = false;
    if (c->closing)
        return -1;
    if (status != 0) {
        if (c->reply != NULL) {       /* not answered by the route: default answer */
            c->reply = NULL;
            if (reply->ops->answered != NULL)
                reply->ops->answered(reply->arg, status);
            free(reply);
            return early_answer(c, status, NULL, http_status_text(status));
        }
        c->answered = true;
        if (body_follows(c)) {
            c->close_after = true;
            conn_linger_if_done(c);
            return -1;
        }
        return 0;
    }
    const ceb_http_header *ex = ceb_http_header_find(c->hv, c->nh, "expect");
    if (ex != NULL && p->http_major == 1 && p->http_minor >= 1) {
        if (ex->value_len == 12 && strncasecmp(ex->value, "100-continue", 12) == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            conn_write(c, cont, sizeof cont - 1);
        } else {
            c->reply = NULL;
            free(reply);
            return early_answer(c, 417, NULL, "unsupported expectation");
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (c->answered)
        return 0;
    uint64_t max = c->route != NULL ? c->route->max_body : 0;
    if (c->body.len + len > max) {
        if (c->reply != NULL) {
            free(c->reply);
            c->reply = NULL;
        }
        char msg[96];
        snprintf(msg, sizeof msg, "request body is above the limit of %llu bytes",
                 (unsigned long long)max);
        c->answered = true;
        conn_send_error(c, 413, false, NULL, msg);
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        return -1;
    }
    return ceb_buf_append(&c->body, at, len) < 0 ? -1 : 0;
}

static void builtin_answer(http_conn *c, bool keep)
{
    if (strcmp(c->path, "/healthz") == 0) {
        conn_send(c, 200, keep, NULL, "application/json", "{\"status\":\"ok\"}", 15);
        return;
    }
    bool ready = true;
    for (http_route *r = c->l->routes; r != NULL; r = r->next)
        if (r->ops->ready != NULL && !r->ops->ready(r->arg))
            ready = false;
    if (ready)
        conn_send(c, 200, keep, NULL, "application/json", "{\"status\":\"ready\"}", 18);
    else
        conn_send(c, 503, keep, NULL, "application/json", "{\"status\":\"not ready\"}", 22);
}

static int on_message_complete(http_parser *p)
{
    http_conn *c = p->data;
    bool keep = http_should_keep_alive(p) != 0;
    conn_timer(c, 0);
    if (c->answered) {
        c->phase = PH_IDLE;
        conn_timer(c, c->l->lim.idle_timeout_ms);
        return 0;
    }
    if (c->route == NULL) {
        if (c->reply != NULL) {       /* its source stopped meanwhile */
            free(c->reply);
            c->reply = NULL;
            conn_send_error(c, 503, keep, NULL, "source is stopping");
        } else {
            builtin_answer(c, keep);
        }
        c->phase = PH_IDLE;
        conn_timer(c, c->l->lim.idle_timeout_ms);
        return 0;
    }
    http_req req;
    req_view(c, &req);
    req.body = c->body.data ? c->body.data : "";
    req.body_len = c->body.len;
    http_reply *reply = c->reply;
    reply->keep_alive = keep;
    c->phase = PH_WAITING;
    c->in_handler = true;
    c->route->ops->handle(c->route->arg, &req, reply);
    c->in_handler = false;
    if (c->closing)
        return -1;
    if (c->reply != NULL) {           /* answered later: stop parsing until then */
        http_parser_pause(p, 1);
        return 0;
    }
    c->phase = PH_IDLE;
    conn_timer(c, c->l->lim.idle_timeout_ms);
    return 0;
}

/* ---- reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    http_conn *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void conn_feed_parse(http_conn *c, const char *data, size_t n);

/* Parse what was read; the answers it produced leave in one write. */
static void conn_feed(http_conn *c, const char *data, size_t n)
{
    bool nested = c->in_feed;
    c->in_feed = true;
    conn_feed_parse(c, data, n);
    c->in_feed = nested;
    if (!nested)
        conn_flush(c);
}

static void conn_feed_parse(http_conn *c, const char *data, size_t n)
{
    size_t done = http_parser_execute(&c->parser, &parser_settings, data, n);
    if (c->closing)
        return;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        /* Waiting for an answer: keep the rest (pipelined requests) for later. */
        if (done < n && ceb_buf_append(&c->pending_in, data + done, n - done) < 0) {
            conn_close(c);
            return;
        }
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
        return;
    }
    if (e == HPE_OK && c->parser.upgrade) {
        conn_send_error(c, 400, false, NULL, "protocol upgrade is not supported");
        return;
    }
    if (e != HPE_OK || done != n) {
        if (c->answered || c->close_after) {   /* we stopped it after answering */
            c->close_after = true;
            conn_linger_if_done(c);
            return;
        }
        int status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
        char msg[160];
        snprintf(msg, sizeof msg, "malformed request: %s", http_errno_description(e));
        c->answered = true;
        if (c->reply != NULL) {
            free(c->reply);
            c->reply = NULL;
        }
        conn_send_error(c, status, false, NULL, msg);
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    http_conn *c = s->data;
    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (c->lingering || c->close_after)
        return;                       /* discard */
    if (nread > 0)
        conn_feed(c, c->rbuf, (size_t)nread);
}

/* After an asynchronous answer: parse what was kept, then read again. */
static void conn_resume(http_conn *c)
{
    http_parser_pause(&c->parser, 0);
    c->phase = PH_IDLE;
    conn_timer(c, c->l->lim.idle_timeout_ms);
    while (c->pending_in.len > 0 && !c->closing && c->reply == NULL && !c->close_after) {
        ceb_buf in = c->pending_in;
        c->pending_in = (ceb_buf){0};
        conn_feed(c, in.data, in.len);
        ceb_buf_free(&in);
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
            return;
    }
    if (!c->closing && !c->reading && c->reply == NULL && !c->close_after) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
        else
            conn_close(c);
    }
}

void http_reply_send(http_reply *reply, int status, const char *extra_headers,
                     const char *content_type, const char *body, size_t body_len)
{
    http_conn *c = reply->conn;
    bool keep = reply->keep_alive;
    if (reply->ops != NULL && reply->ops->answered != NULL)
        reply->ops->answered(reply->arg, status);
    free(reply);
    if (c == NULL)
        return;
    c->reply = NULL;
    conn_send(c, status, keep, extra_headers, content_type, body, body_len);
    if (!c->in_handler && !c->closing && c->phase == PH_WAITING)
        conn_resume(c);
}

bool http_reply_alive(const http_reply *reply)
{
    return reply->conn != NULL && !reply->conn->closing;
}

/* ---- accepting --------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    http_listener *l = server->data;
    if (status < 0 || l->closing)
        return;
    http_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->l = l;
    uv_tcp_init(l->loop, &c->tcp);
    uv_timer_init(l->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    l->handles++;
    c->next = l->conns;
    if (l->conns != NULL)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    if (l->nconns > l->lim.max_connections) {
        conn_close(c);   /* over the cap: refuse by closing at once */
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->phase = PH_IDLE;
    conn_timer(c, l->lim.header_timeout_ms);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void listener_closed_cb(uv_handle_t *h)
{
    listener_handle_closed(h->data);
}

/* ---- addresses --------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, ceb_diag *d)
{
    char host[64];
    const char *colon;
    const char *hs = listen;
    size_t hl;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (end == NULL || end[1] != ':')
            return ceb_diag_set_field(d, CEB_EINVAL, "listen", "expected \"[IPv6]:PORT\", got \"%s\"",
                                      listen);
        hs = listen + 1;
        hl = (size_t)(end - hs);
        colon = end + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return ceb_diag_set_field(d, CEB_EINVAL, "listen", "expected \"HOST:PORT\", got \"%s\"",
                                      listen);
        hl = (size_t)(colon - listen);
        if (memchr(listen, ':', hl) != NULL)
            return ceb_diag_set_field(d, CEB_EINVAL, "listen", "an IPv6 address needs brackets: "
                                      "\"[::1]:8080\", got \"%s\"", listen);
    }
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
        return ceb_diag_set_field(d, CEB_EINVAL, "listen", "invalid port in \"%s\"", listen);
    if (hl >= sizeof host)
        return ceb_diag_set_field(d, CEB_EINVAL, "listen", "host too long in \"%s\"", listen);
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (hl == 0 || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    else if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0 ||
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return ceb_diag_set_field(d, CEB_EINVAL, "listen", "\"%s\" is not an IP address "
                              "(use an address, \"localhost\" or \"*\")", host);
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    }
}

/* ---- routes ------------------------------------------------------------ */

int http_route_attach(http_registry *reg, uv_loop_t *loop, const char *listen, const http_limits *lim,
                      const char *path, uint64_t max_body, const http_route_ops *ops,
                      void *arg, http_route **out, char *bound, size_t boundsz, ceb_diag *d)
{
    struct sockaddr_storage ss;
    int rc = parse_listen(listen, &ss, d);
    if (rc < 0)
        return rc;
    bool ephemeral = (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port) == 0;
    char key[128];
    sockaddr_text(&ss, key, sizeof key);   /* canonical: "localhost:80" == "127.0.0.1:80" */
    http_listener *l = NULL;
    if (!ephemeral)
        for (l = reg->listeners; l != NULL; l = l->next)
            if (l->loop == loop && !l->closing && strcmp(l->key, key) == 0)
                break;
    http_route *r = calloc(1, sizeof *r);
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        return CEB_ENOMEM;
    }
    r->max_body = max_body;
    r->ops = ops;
    r->arg = arg;
    if (l == NULL) {
        l = calloc(1, sizeof *l);
        if (l == NULL) {
            free(r->path);
            free(r);
            return CEB_ENOMEM;
        }
        l->loop = loop;
        snprintf(l->key, sizeof l->key, "%s", key);
        l->lim = *lim;
        uv_tcp_init(loop, &l->tcp);
        l->tcp.data = l;
        l->handles = 1;
        if ((rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0)) < 0 ||
            (rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection)) < 0) {
            ceb_diag_set_field(d, rc, "listen", "cannot listen on %s: %s", listen, uv_strerror(rc));
            /* Closing needs a loop turn; the listener was never registered and
               frees itself in the close callback. */
            l->closing = true;
            uv_close((uv_handle_t *)&l->tcp, listener_closed_cb);
            free(r->path);
            free(r);
            return rc;
        }
        struct sockaddr_storage got;
        int len = sizeof got;
        if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&got, &len) == 0) {
            l->port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                                : ntohs(((struct sockaddr_in *)&got)->sin_port);
            sockaddr_text(&got, bound, boundsz);
            sockaddr_text(&got, l->key, sizeof l->key);   /* port 0: the port it got */
        }
        l->reg = reg;
        l->next = reg->listeners;
        reg->listeners = l;
    } else {
        sockaddr_text(&ss, bound, boundsz);
    }
    r->l = l;
    r->next = l->routes;
    l->routes = r;
    *out = r;
    return 0;
}

int http_route_port(const http_route *r)
{
    return r->l->port;
}

bool http_route_detach(http_route *r, void (*done)(void *arg), void *arg)
{
    http_listener *l = r->l;
    for (http_route **pp = &l->routes; *pp != NULL; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    /* Requests in progress on this route lose it (they answer 503). */
    for (http_conn *c = l->conns; c != NULL; c = c->next)
        if (c->route == r)
            c->route = route_find(l, c->path ? c->path : "");
    free(r->path);
    free(r);
    if (l->routes != NULL)
        return false;
    l->closing = true;
    l->done = done;
    l->done_arg = arg;
    for (http_conn *c = l->conns; c != NULL; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&l->tcp, listener_closed_cb);
    return true;
}
