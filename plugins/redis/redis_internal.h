#ifndef CEB_PLUGIN_REDIS_INTERNAL_H
#define CEB_PLUGIN_REDIS_INTERNAL_H

/*
 * Shared between the Redis plugin's modules (all of it plugin-local):
 * redis_conn.c  url parsing, one hiredis async connection on the host's
 *               loop with AUTH/SELECT, reconnect with capped exponential
 *               backoff, connection state in logs and metrics;
 * redis_source.c / redis_sink.c  the two roles; redis.c the descriptor.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <cebridge/cebridge.h>

/* Payload formats, in the order of redis_format_names. */
enum {
    REDIS_FMT_AUTO = 0,
    REDIS_FMT_STRUCTURED,
    REDIS_FMT_BINARY,
    REDIS_FMT_FIELDS,
    REDIS_FMT_FASTSTREAM,
    REDIS_FMT_FASTSTREAM_JSON
};
extern const char *const redis_format_names[];

/* redis://[user:password@]host[:port][/db] or unix:///path[?db=N] */
typedef struct redis_url {
    char *host;       /* NULL for unix */
    int port;
    char *path;       /* unix socket path, or NULL */
    char *user;       /* ACL user or NULL */
    char *password;   /* from the url, or NULL (the `password` option wins) */
    int db;
    char *display;    /* the url without the password, for logs */
} redis_url;

/* Returns 0 or CEB_EINVAL with `d` explaining (field "url"). */
int redis_url_parse(const char *text, redis_url *out, ceb_diag *d);
void redis_url_free(redis_url *u);

typedef struct redis_conn redis_conn;

typedef struct redis_conn_cbs {
    void (*ready)(void *owner, redis_conn *c);             /* connected, AUTH/SELECT done */
    void (*down)(void *owner, redis_conn *c);              /* lost; pending commands got NULL */
} redis_conn_cbs;

/*
 * A connection. `name` labels it in logs and metrics ("read", "cmd", "pub").
 * `password` may be NULL; it is copied and never logged.
 * Ownership: the owner frees it with redis_conn_free() after closed.
 * Thread: loop only.
 */
int  redis_conn_new(const ceb_ctx *ctx, const redis_url *u, const char *password,
                    const char *name, int64_t reconnect_max_ms, const redis_conn_cbs *cbs,
                    void *owner, redis_conn **out);
/* Start connecting (and keep reconnecting). 0 or CEB_ENOMEM. */
int  redis_conn_start(redis_conn *c);
bool redis_conn_is_ready(const redis_conn *c);
/*
 * Send a command. fn gets reply NULL when the connection is lost or
 * closed. Returns 0, CEB_EAGAIN (not connected: fn is not called),
 * CEB_ENOMEM.
 */
int  redis_conn_cmd(redis_conn *c, redisCallbackFn *fn, void *priv, int argc,
                    const char **argv, const size_t *lens);
/*
 * Close for good: pending commands get reply NULL (possibly from inside this
 * call), no reconnect; `closed(owner)` runs on the loop once hiredis' uv
 * handle is closed. Idempotent.
 */
void redis_conn_close(redis_conn *c, void (*closed)(void *owner));
bool redis_conn_is_closed(const redis_conn *c);
void redis_conn_free(redis_conn *c);

/* Common helpers */
const char *redis_reply_err(const redisReply *r);   /* error text or NULL */

#endif
