/*
 * Redis sink: PUBLISH to a `channel` template or XADD to a `stream`
 * template (MAXLEN ~ when `maxlen` > 0). Commands are pipelined on one
 * connection: deliver() writes the command and returns; the delivery
 * completes only on Redis' reply (OK), an error reply (PERMANENT for
 * WRONGTYPE/ERR, RETRY for OOM, LOADING, BUSY, READONLY, ...), or the loss
 * of the connection (RETRY, CEB_ECONNREFUSED). While not connected,
 * deliver() completes at once with RETRY so the core's retry policy and
 * dead letter apply.
 */
#include "redis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct redis_sink_config {
    const char *url;
    const ceb_secret *password;
    const ceb_template *channel;
    const ceb_template *stream;
    int64_t maxlen;
    int format;
    const char *field;
    int64_t reconnect_max_ms;
} redis_sink_config;

static const ceb_option redis_sink_options[] = {
    CEB_OPT_STRING_FIELD("url", "\"redis://127.0.0.1:6379\"", 0, redis_sink_config, url,
                         "redis://[user:password@]host[:port][/db] or unix:///path[?db=N]."),
    CEB_OPT_SECRET_FIELD("password", NULL, 0, redis_sink_config, password,
                         "Password (AUTH); wins over one in the url. ${env:NAME} or ${file:PATH}."),
    CEB_OPT_TEMPLATE_FIELD("channel", NULL, 0, redis_sink_config, channel,
                           "PUBLISH to this channel (template, e.g. \"events.{type}\")."),
    CEB_OPT_TEMPLATE_FIELD("stream", NULL, 0, redis_sink_config, stream,
                           "XADD to this stream (template)."),
    CEB_OPT_INT_FIELD("maxlen", "0", 0, redis_sink_config, maxlen, 0, INT64_MAX,
                      "Streams: approximate trimming, XADD MAXLEN ~ N (0 = no trimming)."),
    CEB_OPT_ENUM_FIELD("format", "\"auto\"", 0, redis_sink_config, format, redis_format_names,
                       "auto/structured (JSON format), binary (stream ce_ fields), faststream, "
                       "faststream-json (FastStream envelopes)."),
    CEB_OPT_STRING_FIELD("field", "\"event\"", 0, redis_sink_config, field,
                         "Streams, structured: the field that holds the event."),
    CEB_OPT_DURATION_FIELD("reconnect_max", "\"5s\"", 0, redis_sink_config, reconnect_max_ms,
                           100, 600000, "Longest delay between reconnect attempts (exponential "
                           "from 100ms)."),
    CEB_OPTION_END};

typedef struct redis_sink {
    ceb_ctx ctx;
    redis_sink_config cfg;
    redis_url url;
    redis_conn *conn;
    ceb_buf key, payload;
    ceb_stream_entry entry;
    const char **argv;
    size_t *lens;
    size_t argcap;
    size_t inflight;
    bool stopping, stopped, closed;
} redis_sink;

static void maybe_stopped(redis_sink *s)
{
    if (s->stopping && s->closed && s->inflight == 0 && !s->stopped) {
        s->stopped = true;
        s->ctx.host->stopped(s->ctx.inst);
    }
}

static bool retryable_error(const char *e)
{
    static const char *const transient[] = {"OOM", "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN",
                                            "READONLY", "CLUSTERDOWN", "NOREPLICAS", NULL};
    for (size_t i = 0; transient[i]; i++)
        if (strncmp(e, transient[i], strlen(transient[i])) == 0)
            return true;
    return false;
}

typedef struct rk_pending {
    redis_sink *s;
    ceb_delivery *dlv;
} rk_pending;

static void pending_cb(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    rk_pending *p = priv;
    redis_sink *s = p->s;
    redisReply *r = rv;
    s->inflight--;
    if (r == NULL) {
        s->ctx.host->complete(p->dlv, CEB_OUTCOME_RETRY, s->stopping ? CEB_ECANCELED
                                                                       : CEB_ECONNREFUSED,
                              0, s->stopping ? "sink stopping" : "connection to redis lost");
    } else if (r->type == REDIS_REPLY_ERROR) {
        const char *e = r->str ? r->str : "error";
        s->ctx.host->complete(p->dlv, retryable_error(e) ? CEB_OUTCOME_RETRY
                                                          : CEB_OUTCOME_PERMANENT,
                              CEB_EIO, 0, e);
    } else {
        s->ctx.host->complete(p->dlv, CEB_OUTCOME_OK, 0, 0, NULL);
    }
    free(p);
    maybe_stopped(s);
}

static int grow_args(redis_sink *s, size_t n)
{
    if (n <= s->argcap)
        return 0;
    const char **na = realloc(s->argv, n * sizeof *na);
    if (na == NULL)
        return CEB_ENOMEM;
    s->argv = na;
    size_t *nl = realloc(s->lens, n * sizeof *nl);
    if (nl == NULL)
        return CEB_ENOMEM;
    s->lens = nl;
    s->argcap = n;
    return 0;
}

static int redis_sink_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    redis_sink *s = state;
    const ceb_host *h = s->ctx.host;
    if (s->stopping) {
        h->complete(dlv, CEB_OUTCOME_RETRY, CEB_ECANCELED, 0, "sink stopping");
        return 0;
    }
    if (!redis_conn_is_ready(s->conn)) {
        char msg[300];
        snprintf(msg, sizeof msg, "not connected to %s", s->url.display);
        h->complete(dlv, CEB_OUTCOME_RETRY, CEB_ECONNREFUSED, 0, msg);
        return 0;
    }
    ceb_diag d = {0};
    ceb_buf_reset(&s->key);
    ceb_buf_reset(&s->payload);
    ceb_stream_entry_reset(&s->entry);
    const ceb_template *t = s->cfg.stream ? s->cfg.stream : s->cfg.channel;
    int rc = ceb_template_render_strict(t, ev, NULL, NULL, &s->key, &d);
    if (rc == 0 && s->key.len == 0)
        rc = ceb_diag_set(&d, CEB_EINVAL, "template \"%s\" rendered empty",
                          ceb_template_text(t));
    if (rc < 0) {
        if (rc == CEB_ENOMEM)
            return rc;
        h->complete(dlv, CEB_OUTCOME_PERMANENT, rc, 0, d.message);
        return 0;
    }
    size_t argc;
    char maxlen[24];   /* lives until the command is formatted below */
    if (s->cfg.stream == NULL) {
        switch (s->cfg.format) {
        case REDIS_FMT_FASTSTREAM:
            rc = ceb_faststream_encode_event(ev, false, &s->payload);
            break;
        case REDIS_FMT_FASTSTREAM_JSON:
            rc = ceb_faststream_encode_event(ev, true, &s->payload);
            break;
        default:
            rc = ceb_codec_json_encode(ev, &s->payload);
            break;
        }
        if (rc < 0 || (rc = grow_args(s, 3)) < 0)
            return rc;
        s->argv[0] = "PUBLISH";
        s->lens[0] = 7;
        s->argv[1] = s->key.data;
        s->lens[1] = s->key.len;
        s->argv[2] = s->payload.data ? s->payload.data : "";
        s->lens[2] = s->payload.len;
        argc = 3;
    } else {
        switch (s->cfg.format) {
        case REDIS_FMT_BINARY:
            rc = ceb_stream_encode_binary(ev, &s->entry);
            break;
        case REDIS_FMT_FASTSTREAM:
            rc = ceb_stream_encode_faststream(ev, false, &s->entry);
            break;
        case REDIS_FMT_FASTSTREAM_JSON:
            rc = ceb_stream_encode_faststream(ev, true, &s->entry);
            break;
        default:
            rc = ceb_stream_encode_structured(ev, s->cfg.field, &s->entry);
            break;
        }
        if (rc < 0 || (rc = grow_args(s, 6 + 2 * s->entry.n)) < 0)
            return rc;
        argc = 0;
        s->argv[argc] = "XADD";
        s->lens[argc++] = 4;
        s->argv[argc] = s->key.data;
        s->lens[argc++] = s->key.len;
        if (s->cfg.maxlen > 0) {
            snprintf(maxlen, sizeof maxlen, "%lld", (long long)s->cfg.maxlen);
            s->argv[argc] = "MAXLEN";
            s->lens[argc++] = 6;
            s->argv[argc] = "~";
            s->lens[argc++] = 1;
            s->argv[argc] = maxlen;
            s->lens[argc++] = strlen(maxlen);
        }
        s->argv[argc] = "*";
        s->lens[argc++] = 1;
        for (size_t i = 0; i < s->entry.n; i++) {
            ceb_stream_field f = ceb_stream_entry_at(&s->entry, i);
            s->argv[argc] = f.name;
            s->lens[argc++] = f.name_len;
            s->argv[argc] = f.value;
            s->lens[argc++] = f.value_len;
        }
    }
    rk_pending *p = malloc(sizeof *p);
    if (p == NULL)
        return CEB_ENOMEM;
    p->s = s;
    p->dlv = dlv;
    /* hiredis formats (copies) the arguments before returning */
    rc = redis_conn_cmd(s->conn, pending_cb, p, (int)argc, s->argv, s->lens);
    if (rc < 0) {
        free(p);
        h->complete(dlv, CEB_OUTCOME_RETRY, CEB_ECONNREFUSED, 0, "not connected");
        return 0;
    }
    s->inflight++;
    return 0;
}

static void conn_ready(void *owner, redis_conn *c)
{
    (void)owner;
    (void)c;
}

static void conn_down(void *owner, redis_conn *c)
{
    (void)owner;
    (void)c;
}

static void redis_sink_destroy(void *state);

static int redis_sink_create(ceb_instance *inst, const ceb_host *host, const void *config,
                             ceb_diag *diag, void **state)
{
    const redis_sink_config *cfg = config;
    if ((cfg->channel == NULL) == (cfg->stream == NULL))
        return ceb_diag_set(diag, CEB_ECONFIG, "exactly one of channel or stream is required");
    if (cfg->format == REDIS_FMT_FIELDS)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "format", "format \"fields\" is for "
                                  "sources only");
    if (cfg->format == REDIS_FMT_BINARY && cfg->stream == NULL)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "format", "format \"binary\" needs a "
                                  "stream (ce_ fields); channels carry one payload");
    if (cfg->maxlen > 0 && cfg->stream == NULL)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "maxlen", "maxlen applies to streams only");
    redis_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return CEB_ENOMEM;
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->cfg = *cfg;
    int rc = redis_url_parse(cfg->url, &s->url, diag);
    if (rc < 0) {
        free(s);
        return rc;
    }
    redis_conn_cbs cbs = {conn_ready, conn_down};
    const char *pw = cfg->password ? ceb_secret_reveal(cfg->password, NULL) : NULL;
    rc = redis_conn_new(&s->ctx, &s->url, pw, "pub", cfg->reconnect_max_ms, &cbs, s, &s->conn);
    if (rc < 0) {
        redis_sink_destroy(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int redis_sink_start(void *state)
{
    redis_sink *s = state;
    CEB_LOG_I(&s->ctx, "connecting to %s", s->url.display);
    return redis_conn_start(s->conn);
}

static void conn_closed(void *owner)
{
    redis_sink *s = owner;
    s->closed = true;
    maybe_stopped(s);
}

static void redis_sink_stop(void *state)
{
    redis_sink *s = state;
    s->stopping = true;
    redis_conn_close(s->conn, conn_closed);   /* pending deliveries complete RETRY */
}

static void redis_sink_destroy(void *state)
{
    redis_sink *s = state;
    redis_conn_free(s->conn);
    redis_url_free(&s->url);
    ceb_buf_free(&s->key);
    ceb_buf_free(&s->payload);
    ceb_stream_entry_free(&s->entry);
    free(s->argv);
    free(s->lens);
    free(s);
}

const ceb_sink_ops redis_sink_ops = {
    .options = redis_sink_options,
    .config_size = sizeof(redis_sink_config),
    .create = redis_sink_create,
    .start = redis_sink_start,
    .deliver = redis_sink_deliver,
    .stop = redis_sink_stop,
    .destroy = redis_sink_destroy,
};
