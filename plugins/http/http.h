#ifndef CEB_PLUGIN_HTTP_H
#define CEB_PLUGIN_HTTP_H

/*
 * Plugin-local declarations of the http plugin (not installed). The plugin
 * is http.c (descriptor and option tables), http_server.c (HTTP/1.1 server
 * on the host's loop, shared listeners), http_source.c (webhook receiver)
 * and http_sink.c (libcurl multi-socket client).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <cebridge/cebridge.h>

/* ---- configuration (filled by the host from the option tables) -------- */

enum { HTTP_ACK_ACCEPTED = 0, HTTP_ACK_DELIVERED };
enum { HTTP_MODE_BINARY = 0, HTTP_MODE_STRUCTURED, HTTP_MODE_BATCH };

struct http_source_config {
    const char *listen;
    const char *path;
    int ack;
    uint64_t max_body;
    int64_t max_headers;
    int64_t max_connections;
    int64_t header_timeout;
    int64_t body_timeout;
    int64_t idle_timeout;
    int64_t retry_after;
    bool strict;
    const char *default_source;
    const char *default_type;
    const ceb_secret *auth_bearer;
    const char *auth_hmac_header;
    const ceb_secret *auth_hmac_secret;
    const char *auth_hmac_prefix;
    const ceb_template *wrap_type;
    const ceb_template *wrap_source;
    const ceb_template *wrap_subject;
    ceb_strlist allowed_origins;
};

struct http_sink_config {
    const ceb_template *url;
    int mode;
    const char *method;
    int64_t batch_max_events;
    int64_t batch_max_wait;
    const ceb_json *headers;
    const ceb_secret *auth_bearer;
    int64_t timeout;
    int64_t connect_timeout;
    const char *tls_ca_file;
    bool tls_insecure_skip_verify;
    uint64_t max_detail;
};

extern const ceb_source_ops http_source_ops;
extern const ceb_sink_ops http_sink_ops;

/* ---- the server (http_server.c) -------------------------------------- */

typedef struct http_route http_route;
typedef struct http_reply http_reply;
typedef struct http_registry http_registry;

/*
 * The host's listeners of this plugin, kept in host->plugin_slot(`slot`):
 * acquire creates it when the slot is NULL and counts the caller as a user;
 * release drops a user and, with the last, frees it and sets the slot back
 * to NULL (plugin_slot's contract). Returns 0 or CEB_ENOMEM.
 * Thread: loop.
 */
int  http_registry_acquire(void **slot, http_registry **out);
void http_registry_release(void **slot);

/* A parsed request as a route sees it; everything borrowed for the call. */
typedef struct http_req {
    const char *method;                 /* "POST" */
    const char *path;                   /* without the query, NUL-terminated */
    const ceb_http_header *headers;
    size_t nh;
    const char *body;                   /* NULL in check() */
    size_t body_len;
    bool has_length;                    /* Content-Length given */
    uint64_t content_length;
} http_req;

/* Limits of a listener: taken from the instance that opens it. */
typedef struct http_limits {
    uint64_t max_connections;
    uint64_t max_headers;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t idle_timeout_ms;
} http_limits;

typedef struct http_route_ops {
    /*
     * Headers are complete, the body is not read yet. Return 0 to read the
     * body, or an HTTP status (>= 400) to answer now; the connection is
     * closed after that answer when a body would follow. `reply` may be used
     * to send the answer with extra headers/body (http_reply_send) instead
     * of the default one; then return the status sent.
     */
    int (*check)(void *arg, const http_req *req, http_reply *reply);
    /* The full request: answer exactly once through http_reply_send, now or
       later (the connection reads no further request until then). */
    void (*handle)(void *arg, const http_req *req, http_reply *reply);
    /* host->ready() for /readyz. */
    bool (*ready)(void *arg);
    /* Optional: the status of every answer sent with http_reply_send or as
       the default answer of check() (metrics). Answers the server gives
       without a route (404, 413, 431, 408, malformed requests) are not
       reported. */
    void (*answered)(void *arg, int status);
} http_route_ops;

/*
 * Attach a route (`path`) on the listener for `listen` ("host:port",
 * "[v6]:port"), opening the listener when `reg` has none for that
 * address on this loop. Several routes share one listener; a second route on the same
 * path shadows the first until it detaches (make-before-break on reload).
 * `bound` gets the actual "host:port" (useful with port 0).
 * Returns 0, CEB_EINVAL (bad address; `d`), a libuv error (bind/listen; `d`).
 * Thread: loop.
 */
int http_route_attach(http_registry *reg, uv_loop_t *loop, const char *listen, const http_limits *lim,
                      const char *path, uint64_t max_body, const http_route_ops *ops,
                      void *arg, http_route **out, char *bound, size_t boundsz, ceb_diag *d);

/*
 * Detach. Pending replies of this route stay valid (they are answered or
 * dropped by their owner). When this was the listener's last route the
 * listener and its connections are closed and `done(arg)` runs once their
 * handles are closed (return true); otherwise return false and `done` is
 * never called.
 */
bool http_route_detach(http_route *r, void (*done)(void *arg), void *arg);

/* Port the route's listener is bound to. */
int http_route_port(const http_route *r);

/*
 * Answer a request: status, extra header lines ("Name: value\r\n"..., may
 * be NULL), body (may be NULL) with its content type. Frees the reply.
 * When the client went away meanwhile the answer is dropped.
 */
void http_reply_send(http_reply *reply, int status, const char *extra_headers,
                     const char *content_type, const char *body, size_t body_len);

/* True while the client is still connected. */
bool http_reply_alive(const http_reply *reply);

/* Reason phrase for a status. */
const char *http_status_text(int status);

/* The decimal digits of v written at out[0..], NUL-terminated; returns how
   many (at most 20). Used per request, where printf would cost more. */
size_t http_u64_text(uint64_t v, char out[24]);

/* Test hooks (plugin tests compile the sources in): the bound port; the
   host's metrics rendered (host->metrics_render) into `out`. */
int http_source_port(void *state);
int http_source_metrics(void *state, ceb_buf *out);
int http_sink_metrics(void *state, ceb_buf *out);

#endif
