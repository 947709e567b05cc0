/*
 * One Redis connection on the host's libuv loop: hiredis' async API with
 * its libuv adapter, never a blocking call.
 *
 *   IDLE -> CONNECTING -> HANDSHAKE (AUTH, SELECT) -> READY
 *             ^                                        |
 *             +------ WAIT (backoff timer) <-----------+  (lost / refused / timeout)
 *
 * Reconnect delays double from 100 ms up to `reconnect_max`, reset once a
 * connection is READY. State goes to the log (info on up, warn on down with
 * hiredis' reason) and to two metrics: gauge cebridge_redis_connected and
 * counter cebridge_redis_reconnects_total, labelled instance and conn.
 *
 * hiredis calls every pending command's callback with reply NULL when a
 * connection is freed or lost; a context we drop on purpose has its `data`
 * cleared first so its disconnect callback is ignored.
 *
 * Lifetime: hiredis (0.14) runs those NULL-reply callbacks synchronously
 * inside redisAsyncFree, or right after the callback that called it
 * returns, then asks the event adapter to clean up. The adapter here is our
 * own (not hiredis' adapters/libuv.h) so that the connection counts the
 * uv_poll_t handles it has open and learns exactly when the last one's
 * close callback ran: only then does redis_conn_close() report `closed`,
 * so an owner that waits for it (and calls host->stopped()) can never be
 * freed while hiredis or libuv may still call into it.
 */
#include "redis_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_BACKOFF_INITIAL_MS 100
#define REDIS_CONNECT_TIMEOUT_MS 5000

typedef enum { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_READY, C_WAIT, C_CLOSED } conn_state;

struct redis_conn {
    ceb_ctx ctx;
    const redis_url *url;          /* borrowed from the owner's state */
    char *password;
    char name[16];
    int64_t backoff_max, backoff;
    redis_conn_cbs cbs;
    void *owner;
    redisAsyncContext *ac;
    conn_state state;
    int handshake_left;
    ceb_timer *timer;              /* reconnect or connect timeout */
    ceb_timer *close_timer;        /* closed() when no handle was open */
    void (*closed)(void *owner);
    bool closed_pending;           /* closed() not called yet */
    struct redis_uv *handles;      /* every adapter whose uv_poll_t is not closed yet */
    ceb_metric *m_up, *m_reconnects;
    bool ever_ready;
};

const char *redis_reply_err(const redisReply *r)
{
    if (r == NULL)
        return "connection lost";
    if (r->type == REDIS_REPLY_ERROR)
        return r->str ? r->str : "error";
    return NULL;
}

/* ---- url --------------------------------------------------------------- */

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Undo %XX in user info (passwords may hold reserved characters). */
static char *pct_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            char h[3] = {s[i + 1], s[i + 2], 0};
            char *end;
            long v = strtol(h, &end, 16);
            if (end == h + 2) {
                o[k++] = (char)v;
                i += 2;
                continue;
            }
        }
        o[k++] = s[i];
    }
    o[k] = '\0';
    return o;
}

void redis_url_free(redis_url *u)
{
    free(u->host);
    free(u->path);
    free(u->user);
    free(u->password);
    free(u->display);
    memset(u, 0, sizeof *u);
}

static int parse_db(const char *s, int *db)
{
    char *end;
    if (*s == '\0')
        return 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 65535)
        return -1;
    *db = (int)v;
    return 0;
}

int redis_url_parse(const char *text, redis_url *u, ceb_diag *d)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (strncmp(text, "unix://", 7) == 0) {
        const char *p = text + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || p[0] != '/')
            return ceb_diag_set_field(d, CEB_EINVAL, "url", "unix url needs an absolute path: "
                                      "unix:///path/to/redis.sock");
        u->path = dupn(p, n);
        if (q != NULL) {
            if (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, &u->db) < 0) {
                redis_url_free(u);
                return ceb_diag_set_field(d, CEB_EINVAL, "url", "unix url: only ?db=N "
                                          "(0..65535) is understood after the path");
            }
        }
        u->display = strdup(text);
        return 0;
    }
    if (strncmp(text, "redis://", 8) != 0)
        return ceb_diag_set_field(d, CEB_EINVAL, "url", "url must start with redis:// or "
                                  "unix:// (got \"%.64s\")", text);
    const char *p = text + 8;
    const char *slash = strchr(p, '/');
    size_t auth_end = slash ? (size_t)(slash - p) : strlen(p);
    const char *at = NULL;
    for (size_t i = 0; i < auth_end; i++)
        if (p[i] == '@')
            at = p + i;                   /* the last '@' before the path */
    const char *hp = p;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon != NULL) {
            if (colon > p)
                u->user = pct_decode(p, (size_t)(colon - p));
            u->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
        } else if (at > p) {
            u->user = pct_decode(p, (size_t)(at - p));
        }
        hp = at + 1;
    }
    const char *hend = slash ? slash : hp + strlen(hp);
    const char *colon = NULL;
    if (*hp == '[') {                     /* [::1]:6379 */
        const char *rb = memchr(hp, ']', (size_t)(hend - hp));
        if (rb == NULL) {
            redis_url_free(u);
            return ceb_diag_set_field(d, CEB_EINVAL, "url", "unterminated [ in the host");
        }
        u->host = dupn(hp + 1, (size_t)(rb - hp - 1));
        if (rb + 1 < hend && rb[1] == ':')
            colon = rb + 1;
    } else {
        colon = memchr(hp, ':', (size_t)(hend - hp));
        u->host = dupn(hp, (size_t)((colon ? colon : hend) - hp));
    }
    if (u->host == NULL || u->host[0] == '\0') {
        redis_url_free(u);
        return ceb_diag_set_field(d, CEB_EINVAL, "url", "url has no host: "
                                  "redis://[user:password@]host[:port][/db]");
    }
    if (colon != NULL) {
        char buf[16];
        size_t n = (size_t)(hend - colon - 1);
        char *end;
        long port = 0;
        if (n > 0 && n < sizeof buf) {
            memcpy(buf, colon + 1, n);
            buf[n] = '\0';
            port = strtol(buf, &end, 10);
            if (*end != '\0')
                port = 0;
        }
        if (port < 1 || port > 65535) {
            redis_url_free(u);
            return ceb_diag_set_field(d, CEB_EINVAL, "url", "bad port in url (1..65535)");
        }
        u->port = (int)port;
    }
    if (slash != NULL && parse_db(slash + 1, &u->db) < 0) {
        redis_url_free(u);
        return ceb_diag_set_field(d, CEB_EINVAL, "url", "database after / must be a number "
                                  "0..65535");
    }
    char disp[512];
    snprintf(disp, sizeof disp, "redis://%s%s%s%s:%d/%d", u->user ? u->user : "",
             u->password ? ":<secret>" : "", (u->user || u->password) ? "@" : "", u->host,
             u->port, u->db);
    u->display = strdup(disp);
    return 0;
}

/* ---- connection ---------------------------------------------------------- */

static const char *const conn_labels[] = {"instance", "conn"};

static void set_up(redis_conn *c, double v)
{
    const char *lv[2] = {c->ctx.host->instance_name(c->ctx.inst), c->name};
    if (c->m_up != NULL)
        c->ctx.host->metric_set(c->m_up, lv, v);
}

int redis_conn_new(const ceb_ctx *ctx, const redis_url *u, const char *password,
                   const char *name, int64_t reconnect_max_ms, const redis_conn_cbs *cbs,
                   void *owner, redis_conn **out)
{
    redis_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return CEB_ENOMEM;
    c->ctx = *ctx;
    c->url = u;
    if (password != NULL && (c->password = strdup(password)) == NULL) {
        free(c);
        return CEB_ENOMEM;
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    c->backoff_max = reconnect_max_ms > 0 ? reconnect_max_ms : 5000;
    c->backoff = REDIS_BACKOFF_INITIAL_MS;
    c->cbs = *cbs;
    c->owner = owner;
    const ceb_host *h = ctx->host;
    h->metric_register(ctx->inst, CEB_METRIC_GAUGE, "redis_connected",
                       "1 while the Redis connection is up and authenticated", conn_labels, 2,
                       NULL, 0, &c->m_up);
    h->metric_register(ctx->inst, CEB_METRIC_COUNTER, "redis_reconnects_total",
                       "Redis connections lost or refused (each is followed by a reconnect)",
                       conn_labels, 2, NULL, 0, &c->m_reconnects);
    set_up(c, 0);
    *out = c;
    return 0;
}

/* ---- event adapter: hiredis on a uv_poll_t we own ------------------------- */

typedef struct redis_uv {
    uv_poll_t poll;
    redisAsyncContext *ac;         /* NULL once hiredis cleaned up */
    redis_conn *conn;              /* NULL once the connection is freed */
    struct redis_uv *next;         /* in conn->handles */
    int events;
} redis_uv;

static void close_fire(void *arg);

static void uv_poll_ready(uv_poll_t *h, int status, int events)
{
    redis_uv *p = h->data;
    if (status < 0)
        events = p->events;   /* let hiredis find the error on the socket */
    if (p->ac != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void uv_poll_update(redis_uv *p, int add, int del)
{
    int ev = (p->events | add) & ~del;
    /* hiredis asks for write interest on every command it queues:
       uv_poll_start() costs epoll_ctl calls even when nothing changes
       (it was 30% of the CPU of a pipelined sink), so only on a change */
    if (ev == p->events)
        return;
    p->events = ev;
    if (p->events != 0)
        uv_poll_start(&p->poll, p->events, uv_poll_ready);
    else
        uv_poll_stop(&p->poll);
}

static void ev_add_read(void *d) { uv_poll_update(d, UV_READABLE, 0); }
static void ev_del_read(void *d) { uv_poll_update(d, 0, UV_READABLE); }
static void ev_add_write(void *d) { uv_poll_update(d, UV_WRITABLE, 0); }
static void ev_del_write(void *d) { uv_poll_update(d, 0, UV_WRITABLE); }

static void uv_poll_closed(uv_handle_t *h)
{
    redis_uv *p = h->data;
    redis_conn *c = p->conn;
    if (c != NULL) {
        for (redis_uv **pp = &c->handles; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        }
    }
    free(p);
    if (c == NULL)
        return;
    /* last: closed() may end the owner (host->stopped()) */
    if (c->state == C_CLOSED && c->handles == NULL && c->closed_pending &&
        c->close_timer == NULL)
        close_fire(c);
}

/* hiredis is done with the context (freed or lost). */
static void ev_cleanup(void *d)
{
    redis_uv *p = d;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, uv_poll_closed);
}

static int conn_attach(redis_conn *c, redisAsyncContext *ac)
{
    redis_uv *p = calloc(1, sizeof *p);
    if (p == NULL)
        return CEB_ENOMEM;
    if (uv_poll_init(c->ctx.host->loop(c->ctx.inst), &p->poll, ac->c.fd) != 0) {
        free(p);
        return CEB_EIO;
    }
    p->poll.data = p;
    p->ac = ac;
    p->conn = c;
    p->next = c->handles;
    c->handles = p;
    ac->ev.data = p;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

static void conn_connect(redis_conn *c);

static void timer_fire(void *arg)
{
    redis_conn *c = arg;
    c->timer = NULL;
    if (c->state == C_WAIT) {
        conn_connect(c);
    } else if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
        CEB_LOG_W(&c->ctx, "redis %s: %s: connect timed out after %d ms", c->name,
                  c->url->display, REDIS_CONNECT_TIMEOUT_MS);
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
        c->state = C_WAIT;
        c->ctx.host->timer_start(c->ctx.inst, (uint64_t)c->backoff, timer_fire, c, &c->timer);
        c->backoff = c->backoff * 2 > c->backoff_max ? c->backoff_max : c->backoff * 2;
    }
}

static void stop_timer(redis_conn *c)
{
    if (c->timer != NULL) {
        c->ctx.host->timer_stop(c->timer);
        c->timer = NULL;
    }
}

/* The connection is gone (ac already released or being released by hiredis). */
static void conn_lost(redis_conn *c, const char *why)
{
    bool was_ready = c->state == C_READY;
    c->ac = NULL;
    stop_timer(c);
    set_up(c, 0);
    if (c->state == C_CLOSED)
        return;
    const char *lv[2] = {c->ctx.host->instance_name(c->ctx.inst), c->name};
    if (c->m_reconnects != NULL)
        c->ctx.host->metric_add(c->m_reconnects, lv, 1);
    CEB_LOG_AT(&c->ctx, was_ready || !c->ever_ready ? CEB_LOG_WARN : CEB_LOG_DEBUG,
               "redis %s: %s: %s; reconnecting in %lld ms", c->name, c->url->display,
               why ? why : "connection lost", (long long)c->backoff);
    c->state = C_WAIT;
    c->ctx.host->timer_start(c->ctx.inst, (uint64_t)c->backoff, timer_fire, c, &c->timer);
    c->backoff = c->backoff * 2 > c->backoff_max ? c->backoff_max : c->backoff * 2;
    if (was_ready && c->cbs.down != NULL)
        c->cbs.down(c->owner, c);
}

/* Drop the current context on purpose (bad AUTH, ...) and retry later. */
static void conn_drop(redis_conn *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    if (ac != NULL) {
        ac->data = NULL;
        c->ac = NULL;
        redisAsyncFree(ac);
    }
    conn_lost(c, why);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_conn *c = ac->data;
    if (c == NULL || c->ac != ac)
        return;
    (void)status;
    conn_lost(c, ac->errstr[0] ? ac->errstr : "server closed the connection");
}

static void handshake_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redis_conn *c = priv;
    if (c->ac != ac || c->state != C_HANDSHAKE)
        return;
    const char *err = redis_reply_err(r);
    if (err != NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "handshake refused: %.200s", err);
        conn_drop(c, msg);
        return;
    }
    if (--c->handshake_left > 0)
        return;
    stop_timer(c);
    c->state = C_READY;
    c->backoff = REDIS_BACKOFF_INITIAL_MS;
    c->ever_ready = true;
    set_up(c, 1);
    CEB_LOG_I(&c->ctx, "redis %s: connected to %s", c->name, c->url->display);
    if (c->cbs.ready != NULL)
        c->cbs.ready(c->owner, c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    redis_conn *c = ac->data;
    if (c == NULL || c->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        conn_lost(c, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    c->state = C_HANDSHAKE;
    c->handshake_left = 1;
    const char *pw = c->password ? c->password : c->url->password;
    if (pw != NULL) {
        if (c->url->user != NULL) {
            const char *argv[3] = {"AUTH", c->url->user, pw};
            redisAsyncCommandArgv(c->ac, handshake_reply, c, 3, argv, NULL);
        } else {
            const char *argv[2] = {"AUTH", pw};
            redisAsyncCommandArgv(c->ac, handshake_reply, c, 2, argv, NULL);
        }
        c->handshake_left++;
    }
    if (c->url->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", c->url->db);
        const char *argv[2] = {"SELECT", db};
        redisAsyncCommandArgv(c->ac, handshake_reply, c, 2, argv, NULL);
        c->handshake_left++;
    }
    const char *ping[1] = {"PING"};
    redisAsyncCommandArgv(c->ac, handshake_reply, c, 1, ping, NULL);
}

static void conn_connect(redis_conn *c)
{
    redisAsyncContext *ac = c->url->path ? redisAsyncConnectUnix(c->url->path)
                                         : redisAsyncConnect(c->url->host, c->url->port);
    if (ac == NULL) {
        c->state = C_CONNECTING;
        conn_lost(c, "out of memory");
        return;
    }
    if (ac->err) {
        char why[160];
        snprintf(why, sizeof why, "%.150s", ac->errstr);
        redisAsyncFree(ac);
        c->state = C_CONNECTING;
        conn_lost(c, why);
        return;
    }
    if (conn_attach(c, ac) < 0) {
        redisAsyncFree(ac);
        c->state = C_CONNECTING;
        conn_lost(c, "cannot attach to the loop");
        return;
    }
    /* hiredis frees its read buffer whenever it is empty and over 16 KiB,
       so every XREADGROUP reply of a few hundred entries regrew it from
       nothing (realloc + copy + heap trims); keep it instead */
    if (ac->c.reader != NULL)
        ac->c.reader->maxbuf = 0;
    ac->data = c;
    c->ac = ac;
    c->state = C_CONNECTING;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    stop_timer(c);
    c->ctx.host->timer_start(c->ctx.inst, REDIS_CONNECT_TIMEOUT_MS, timer_fire, c, &c->timer);
}

int redis_conn_start(redis_conn *c)
{
    if (c->state != C_IDLE)
        return 0;
    conn_connect(c);
    return 0;
}

bool redis_conn_is_ready(const redis_conn *c)
{
    return c != NULL && c->state == C_READY;
}

bool redis_conn_is_closed(const redis_conn *c)
{
    return c == NULL || (c->state == C_CLOSED && !c->closed_pending);
}

int redis_conn_cmd(redis_conn *c, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                   const size_t *lens)
{
    if (c->state != C_READY || c->ac == NULL)
        return CEB_EAGAIN;
    if (redisAsyncCommandArgv(c->ac, fn, priv, argc, argv, lens) != REDIS_OK)
        return CEB_EAGAIN;
    return 0;
}

static void close_fire(void *arg)
{
    redis_conn *c = arg;
    c->close_timer = NULL;
    c->closed_pending = false;
    if (c->closed != NULL)
        c->closed(c->owner);
}

void redis_conn_close(redis_conn *c, void (*closed)(void *owner))
{
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    c->closed = closed;
    c->closed_pending = true;
    stop_timer(c);
    set_up(c, 0);
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    if (ac != NULL) {
        ac->data = NULL;
        /* pending callbacks get NULL now (or once the running callback of
           this context returns), then ev_cleanup closes the poll handle */
        redisAsyncFree(ac);
    }
    /* closed() comes from the last handle's close callback; with none
       open, from a 0 ms timer (out of memory for it: right here, which the
       lifecycle allows: stopped() may come from inside stop()) */
    if (c->handles == NULL &&
        c->ctx.host->timer_start(c->ctx.inst, 0, close_fire, c, &c->close_timer) < 0) {
        c->close_timer = NULL;
        close_fire(c);
    }
}

void redis_conn_free(redis_conn *c)
{
    if (c == NULL)
        return;
    if (c->close_timer != NULL)
        c->ctx.host->timer_stop(c->close_timer);
    stop_timer(c);
    /* only freed after closed() (or never started): no context, and a
       handle still closing must not reach back into freed memory */
    assert(c->ac == NULL);
    for (redis_uv *p = c->handles; p != NULL; p = p->next)
        p->conn = NULL;
    free(c->password);
    free(c);
}
