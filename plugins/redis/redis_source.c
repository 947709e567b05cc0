/*
 * Redis source: pub/sub, lists (reliable queue) and Streams (consumer group).
 *
 * Two connections for lists and streams: "read" carries the blocking
 * command (XREADGROUP ... BLOCK, BLMOVE), "cmd" everything else (XGROUP,
 * XACK, XAUTOCLAIM, XPENDING, LREM, recovery), so an acknowledgement never
 * waits behind a blocked read. Pub/sub uses one subscriber connection.
 *
 * Streams: one emit per XREADGROUP reply (one ack token for its entries);
 * two XREADGROUPs are kept outstanding (one while our own pending history
 * is read, each read starting after the last), so Redis prepares the next
 * reply while we decode this one: hiredis sends a command only when the
 * loop next polls, after the reply's entries were processed;
 * ack(0) queues the ids and a coalesced flush (a 0 ms timer owned by the
 * state, or at once past XACK_CHUNK ids) sends them as XACK commands of up
 * to XACK_CHUNK ids, pipelined; a failed XACK puts its ids back for the
 * next connection. ack(<0) leaves the entries pending: XAUTOCLAIM, run
 * every claim_idle/2, hands any entry idle for claim_idle (ours or a dead
 * consumer's) to this consumer again; its delivery count (XPENDING) past
 * max_deliveries sends it to the dead letter instead. At start the
 * consumer's own pending history (ID 0) is read first.
 *
 * Lists: BLMOVE list -> "<list>:processing:<consumer>" (LEFT RIGHT), one
 * element per emit; ack(0) LREMs it, ack(<0) pushes it back to the head of
 * the list and LREMs it. Liveness: "<list>:consumer:<consumer>" is SET with
 * a TTL of claim_idle, refreshed every claim_idle/3; a Lua script moves the
 * processing lists of consumers whose key expired back to the list (at
 * start and on every refresh), and the consumer's own processing list is
 * re-emitted at start.
 *
 * Pub/sub: SUBSCRIBE / PSUBSCRIBE, one emit per message, nothing to ack:
 * at-most-once (Redis does not replay). pause() cannot stop Redis pushing;
 * messages keep flowing (Redis' client-output-buffer-limit for pubsub is
 * the bound).
 *
 * Stopping: stop() cancels every timer of the state (claim/heartbeat,
 * retry, ack flush), closes "read" (its pending read gets reply NULL),
 * waits for outstanding acks, flushes the XACKs and waits for their
 * replies, then closes "cmd". host->stopped() comes only when both
 * connections reported closed (their poll handles' close callbacks ran, so
 * no hiredis callback can follow), nothing is in flight and no timer is
 * armed. The state never uses host->post(): work queued there could not be
 * cancelled.
 */
#include "redis_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XACK_CHUNK 1000
#define RS_READ_DEPTH 2 /* XREADGROUPs outstanding (streams, past the history) */

typedef struct redis_source_config {
    const char *url;
    const ceb_secret *password;
    ceb_strlist channels;
    ceb_strlist patterns;
    const char *list;
    const char *stream;
    const char *group;
    const char *consumer;
    int start;
    int64_t count;
    int64_t block_ms;
    int64_t claim_idle_ms;
    int64_t max_deliveries;
    int format;
    const char *field;
    bool strict;
    const char *wrap_type;
    const char *wrap_source;
    int64_t reconnect_max_ms;
} redis_source_config;

static const char *const start_names[] = {"$", "0", NULL};

static const ceb_option redis_source_options[] = {
    CEB_OPT_STRING_FIELD("url", "\"redis://127.0.0.1:6379\"", 0, redis_source_config, url,
                         "redis://[user:password@]host[:port][/db] or unix:///path[?db=N]."),
    CEB_OPT_SECRET_FIELD("password", NULL, 0, redis_source_config, password,
                         "Password (AUTH); wins over one in the url. ${env:NAME} or ${file:PATH}."),
    CEB_OPT_LIST_FIELD("channels", NULL, 0, redis_source_config, channels,
                       "Pub/sub channels to SUBSCRIBE to (at-most-once)."),
    CEB_OPT_LIST_FIELD("patterns", NULL, 0, redis_source_config, patterns,
                       "Pub/sub glob patterns to PSUBSCRIBE to (at-most-once)."),
    CEB_OPT_STRING_FIELD("list", NULL, 0, redis_source_config, list,
                         "List consumed as a reliable queue (BLMOVE to a processing list)."),
    CEB_OPT_STRING_FIELD("stream", NULL, 0, redis_source_config, stream,
                         "Stream read with a consumer group (XREADGROUP, XACK after delivery)."),
    CEB_OPT_STRING_FIELD("group", "\"cebridge\"", 0, redis_source_config, group,
                         "Streams: consumer group, created with MKSTREAM when absent."),
    CEB_OPT_STRING_FIELD("consumer", NULL, 0, redis_source_config, consumer,
                         "Streams and lists: consumer name; default <hostname>-<pid>."),
    CEB_OPT_ENUM_FIELD("start", "\"$\"", 0, redis_source_config, start, start_names,
                       "Streams: where a new group starts: $ (new entries) or 0 (everything)."),
    CEB_OPT_INT_FIELD("count", "500", 0, redis_source_config, count, 1, 100000,
                      "Streams: most entries per XREADGROUP (and per emitted batch)."),
    CEB_OPT_DURATION_FIELD("block", "\"2s\"", 0, redis_source_config, block_ms, 1, 3600000,
                           "Streams and lists: how long one XREADGROUP/BLMOVE waits for data."),
    CEB_OPT_DURATION_FIELD("claim_idle", "\"60s\"", 0, redis_source_config, claim_idle_ms, 100,
                           86400000, "Streams: XAUTOCLAIM entries pending this long; lists: "
                           "consumer liveness TTL."),
    CEB_OPT_INT_FIELD("max_deliveries", "10", 0, redis_source_config, max_deliveries, 0,
                      1000000, "Streams: an entry delivered more often goes to the dead letter "
                      "(0 = never)."),
    CEB_OPT_ENUM_FIELD("format", "\"auto\"", 0, redis_source_config, format, redis_format_names,
                       "Payload format: auto, structured, binary, fields, faststream, "
                       "faststream-json."),
    CEB_OPT_STRING_FIELD("field", "\"event\"", 0, redis_source_config, field,
                         "Streams: the field holding a structured event."),
    CEB_OPT_BOOL_FIELD("strict", "false", 0, redis_source_config, strict,
                       "Refuse CloudEvent-shaped payloads that break the spec (dead letter) "
                       "instead of repairing them."),
    CEB_OPT_STRING_FIELD("wrap.type", "\"dev.cebridge.redis.message\"", 0, redis_source_config,
                         wrap_type, "Type of events wrapped around payloads that are not "
                         "CloudEvents."),
    CEB_OPT_STRING_FIELD("wrap.source", NULL, 0, redis_source_config, wrap_source,
                         "Source of wrapped events; default redis://host:port/<key>."),
    CEB_OPT_DURATION_FIELD("reconnect_max", "\"5s\"", 0, redis_source_config, reconnect_max_ms,
                           100, 600000, "Longest delay between reconnect attempts (exponential "
                           "from 100ms)."),
    CEB_OPTION_END};

typedef enum { RS_PUBSUB = 1, RS_LIST, RS_STREAM } rs_mode;

typedef struct rs_batch {
    ceb_buf ids;      /* stream: NUL-terminated ids back to back; list: the element */
    size_t nids;
} rs_batch;

typedef struct rs_xack {
    struct redis_source *st;
    ceb_buf ids;
    size_t nids;
} rs_xack;

#define RS_POOL 16   /* recycled batches and XACK records kept by the state */

typedef struct redis_source {
    ceb_ctx ctx;
    redis_source_config cfg;
    rs_mode mode;
    redis_url url;
    char *consumer;
    char *key_source;          /* wrap/default source for the key */
    char *processing;          /* lists: processing list name */
    char *heartbeat;           /* lists: liveness key */
    char *proc_prefix, *proc_match, *hb_prefix;
    redis_conn *rd, *cmd;
    int nconns, nclosed;
    bool started, paused, stopping, stopped;
    int reads;                 /* blocking reads outstanding (RS_READ_DEPTH at most) */
    bool group_ready;          /* streams: group exists; lists: recovery done */
    bool group_lost;            /* NOGROUP seen: recreate from 0, whatever `start` says */
    bool group_creating;
    bool history;              /* streams: still reading our own pending entries */
    char history_id[64];
    bool claiming;
    char claim_cursor[64];
    ceb_timer *claim_timer, *retry_timer;
    ceb_timer *flush_timer;    /* streams: coalesced XACK flush, 0 ms */
    ceb_buf ackbuf;            /* streams: ids to XACK */
    size_t nack;
    size_t xack_inflight;
    size_t inflight;           /* batches emitted, not yet acked */
    bool finishing;
    /* Hot-path memory kept between replies (no malloc/free per batch, which
       cost ~20% of the CPU in tools/bench redis: heap trims, consolidation). */
    rs_batch *batch_pool[RS_POOL];
    size_t nbatch_pool;
    rs_xack *xack_pool[RS_POOL];
    size_t nxack_pool;
    const char **xack_argv;    /* XACK_CHUNK + 3 */
    ceb_event **evs;           /* process_entries: one reply's events */
    size_t evcap;
    ceb_stream_field *fields;  /* process_entries: one entry's fields */
    size_t fcap;
    ceb_rng rng;               /* ids of wrapped payloads: one getrandom() per 32 */
    ceb_clock clock;           /* their `time`: the second formatted once */
} redis_source;

/* ---- decoding ------------------------------------------------------------ */

static int wrap_payload(redis_source *st, const void *p, size_t n, const char *ct,
                        const char *subject, ceb_event **out, ceb_diag *d)
{
    return ceb_event_wrap_from(&st->rng, &st->clock, p, n, ct, st->cfg.wrap_type,
                               st->key_source, subject, out, d);
}

/* A channel or list payload to an event per `format`. */
static int decode_payload(redis_source *st, const char *p, size_t n, const char *subject,
                          ceb_event **out, ceb_diag *d)
{
    ceb_decode_opts o = {.strict = st->cfg.strict, .default_source = st->key_source,
                         .default_type = st->cfg.wrap_type};
    ceb_faststream_wrap w = {st->cfg.wrap_type, st->key_source, subject};
    ceb_faststream_msg m = {0};
    int rc;
    switch (st->cfg.format) {
    case REDIS_FMT_STRUCTURED:
        return ceb_codec_json_decode(p, n, &o, out, d);
    case REDIS_FMT_FASTSTREAM:
        rc = ceb_faststream_decode_binary(p, n, &m, d);
        break;
    case REDIS_FMT_FASTSTREAM_JSON:
        rc = ceb_faststream_decode_json(p, n, &m, d);
        break;
    default:
        rc = ceb_faststream_unwrap(p, n, &m, d);
        break;
    }
    if (rc == 0)
        rc = ceb_faststream_msg_to_event(&m, &o, &w, out, NULL, d);
    ceb_faststream_msg_free(&m);
    return rc;
}

static int decode_entry(redis_source *st, const ceb_stream_field *f, size_t n, const char *id,
                        ceb_event **out, ceb_diag *d)
{
    ceb_decode_opts o = {.strict = st->cfg.strict, .default_source = st->key_source,
                         .default_type = st->cfg.wrap_type};
    int layout;
    switch (st->cfg.format) {
    case REDIS_FMT_STRUCTURED: layout = CEB_STREAM_STRUCTURED; break;
    case REDIS_FMT_BINARY: layout = CEB_STREAM_BINARY; break;
    case REDIS_FMT_FIELDS: layout = CEB_STREAM_FIELDS; break;
    case REDIS_FMT_FASTSTREAM:
    case REDIS_FMT_FASTSTREAM_JSON: layout = CEB_STREAM_FASTSTREAM; break;
    default: layout = (int)ceb_stream_detect(f, n, st->cfg.field); break;
    }
    switch (layout) {
    case CEB_STREAM_BINARY:
        return ceb_stream_decode_binary(f, n, &o, out, d);
    case CEB_STREAM_STRUCTURED: {
        const ceb_stream_field *sf = ceb_stream_field_find(f, n, st->cfg.field);
        if (sf == NULL)
            return ceb_diag_set(d, CEB_EDECODE, "entry has no field \"%s\"", st->cfg.field);
        int rc = ceb_codec_json_decode(sf->value, sf->value_len, &o, out, d);
        if (rc == CEB_EDECODE && st->cfg.format == REDIS_FMT_AUTO) {
            ceb_diag_clear(d);
            return wrap_payload(st, sf->value, sf->value_len, NULL, id, out, d);
        }
        return rc;
    }
    case CEB_STREAM_FASTSTREAM: {
        const ceb_stream_field *sf = ceb_stream_field_find(f, n, CEB_FASTSTREAM_FIELD);
        if (sf == NULL)
            return ceb_diag_set(d, CEB_EDECODE, "entry has no field \"__data__\"");
        ceb_faststream_msg m = {0};
        ceb_faststream_wrap w = {st->cfg.wrap_type, st->key_source, id};
        int rc = st->cfg.format == REDIS_FMT_FASTSTREAM
                     ? ceb_faststream_decode_binary(sf->value, sf->value_len, &m, d)
                 : st->cfg.format == REDIS_FMT_FASTSTREAM_JSON
                     ? ceb_faststream_decode_json(sf->value, sf->value_len, &m, d)
                     : ceb_faststream_unwrap(sf->value, sf->value_len, &m, d);
        if (rc == 0)
            rc = ceb_faststream_msg_to_event(&m, &o, &w, out, NULL, d);
        ceb_faststream_msg_free(&m);
        return rc;
    }
    default: {
        ceb_buf j = {0};
        int rc = ceb_stream_fields_to_json(f, n, &j, d);
        if (rc == 0)
            rc = wrap_payload(st, j.data, j.len, "application/json", id, out, d);
        ceb_buf_free(&j);
        return rc;
    }
    }
}

/* ---- batches, acks --------------------------------------------------------- */

static rs_batch *batch_new(redis_source *st)
{
    if (st->nbatch_pool > 0)
        return st->batch_pool[--st->nbatch_pool];
    return calloc(1, sizeof(rs_batch));
}

/* Back to the pool (emptied, capacity kept) or freed. */
static void batch_free(redis_source *st, rs_batch *b)
{
    if (b == NULL)
        return;
    if (st->nbatch_pool < RS_POOL && b->ids.cap <= 1u << 20) {
        ceb_buf_reset(&b->ids);
        b->nids = 0;
        st->batch_pool[st->nbatch_pool++] = b;
        return;
    }
    ceb_buf_free(&b->ids);
    free(b);
}

static rs_xack *xack_new(redis_source *st)
{
    if (st->nxack_pool > 0)
        return st->xack_pool[--st->nxack_pool];
    return calloc(1, sizeof(rs_xack));
}

static void xack_free(redis_source *st, rs_xack *x)
{
    if (st->nxack_pool < RS_POOL) {
        ceb_buf_reset(&x->ids);
        x->nids = 0;
        st->xack_pool[st->nxack_pool++] = x;
        return;
    }
    ceb_buf_free(&x->ids);
    free(x);
}

static int batch_add_id(rs_batch *b, const char *id, size_t len)
{
    int rc = ceb_buf_append(&b->ids, id, len);
    if (rc == 0)
        rc = ceb_buf_append(&b->ids, "", 1);
    if (rc == 0)
        b->nids++;
    return rc;
}

static int emit_batch(redis_source *st, ceb_event **evs, size_t n, rs_batch *b)
{
    int rc = st->ctx.host->emit(st->ctx.inst, evs, n, b);
    if (rc == 0)
        st->inflight++;
    else
        batch_free(st, b);
    return rc;
}

/* Dead-letter raw input: `raw` becomes the data of a wrapped event (or `ev`
   when decodable but past max_deliveries). Its ack (XACK/LREM) is `b`. */
static void dead_letter(redis_source *st, ceb_event *ev, const void *raw, size_t rawlen,
                        const char *subject, const char *reason, rs_batch *b)
{
    ceb_diag d = {0};
    if (ev == NULL && wrap_payload(st, raw, rawlen, NULL, subject, &ev, &d) < 0) {
        CEB_LOG_E(&st->ctx, "cannot wrap a payload for the dead letter: %s", d.message);
        batch_free(st, b);
        return;
    }
    CEB_LOG_W(&st->ctx, "dead-lettering %s: %s", subject ? subject : "a message", reason);
    int rc = st->ctx.host->emit_dead_letter(st->ctx.inst, ev, reason, b);
    if (rc == 0)
        st->inflight++;
    else
        batch_free(st, b);
}

static void finish_stop(redis_source *st);
static void flush_acks(redis_source *st);

static void xack_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    rs_xack *x = priv;
    redis_source *st = x->st;
    st->xack_inflight--;
    const char *err = redis_reply_err(r);
    if (err != NULL) {
        /* keep the ids for the next connection: at-least-once */
        if (ceb_buf_append(&st->ackbuf, x->ids.data, x->ids.len) == 0)
            st->nack += x->nids;
        if (r != NULL)
            CEB_LOG_W(&st->ctx, "XACK failed: %s", err);
    }
    xack_free(st, x);
    if (st->stopping && st->finishing && st->inflight == 0 && st->xack_inflight == 0)
        finish_stop(st);
}

static void flush_acks(redis_source *st)
{
    if (st->nack == 0 || !redis_conn_is_ready(st->cmd))
        return;
    const char *p = st->ackbuf.data;
    size_t left = st->nack;
    if (st->xack_argv == NULL &&
        (st->xack_argv = malloc((XACK_CHUNK + 3) * sizeof *st->xack_argv)) == NULL)
        return;
    const char **argv = st->xack_argv;
    ceb_buf keep = {0};
    size_t nkeep = 0;
    while (left > 0) {
        size_t k = left > XACK_CHUNK ? XACK_CHUNK : left;
        rs_xack *x = xack_new(st);
        argv[0] = "XACK";
        argv[1] = st->cfg.stream;
        argv[2] = st->cfg.group;
        const char *start = p;
        for (size_t i = 0; i < k; i++) {
            argv[3 + i] = p;
            p += strlen(p) + 1;
        }
        left -= k;
        if (x == NULL || ceb_buf_append(&x->ids, start, (size_t)(p - start)) < 0) {
            if (x != NULL)
                xack_free(st, x);
            ceb_buf_append(&keep, start, (size_t)(p - start));
            nkeep += k;
            continue;
        }
        x->st = st;
        x->nids = k;
        /* argv points into ackbuf, which hiredis copies when formatting */
        if (redis_conn_cmd(st->cmd, xack_reply, x, (int)(3 + k), argv, NULL) < 0) {
            ceb_buf_append(&keep, start, (size_t)(p - start));
            nkeep += k;
            xack_free(st, x);
            continue;
        }
        st->xack_inflight++;
    }
    if (nkeep == 0) {
        ceb_buf_reset(&st->ackbuf);   /* keep the capacity for the next acks */
    } else {
        ceb_buf_free(&st->ackbuf);
        st->ackbuf = keep;
    }
    st->nack = nkeep;
}

static void flush_fire(void *arg)
{
    redis_source *st = arg;
    st->flush_timer = NULL;
    flush_acks(st);
}

/* Flush queued XACKs on the next loop iteration, so the acks of several
   batches coalesce. Not while stopping: finish_stop() flushes itself. */
static void schedule_flush(redis_source *st)
{
    if (st->nack == 0 || st->flush_timer != NULL || st->stopping)
        return;
    if (st->ctx.host->timer_start(st->ctx.inst, 0, flush_fire, st, &st->flush_timer) < 0) {
        st->flush_timer = NULL;
        flush_acks(st);
    }
}

static void stop_timer(redis_source *st, ceb_timer **t)
{
    if (*t != NULL) {
        st->ctx.host->timer_stop(*t);
        *t = NULL;
    }
}

static void lrem_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    const char *err = redis_reply_err(r);
    st->xack_inflight--;
    if (err != NULL && r != NULL)
        CEB_LOG_W(&st->ctx, "LREM from %s failed: %s", st->processing, err);
    if (st->stopping && st->finishing && st->inflight == 0 && st->xack_inflight == 0)
        finish_stop(st);
}

static void list_ack(redis_source *st, rs_batch *b, int status)
{
    const char *v = b->ids.data ? b->ids.data : "";
    size_t vl = b->ids.len;
    if (status < 0) {
        const char *argv[3] = {"LPUSH", st->cfg.list, v};
        size_t lens[3] = {5, strlen(st->cfg.list), vl};
        if (redis_conn_cmd(st->cmd, lrem_reply, st, 3, argv, lens) == 0)
            st->xack_inflight++;
    }
    const char *argv[4] = {"LREM", st->processing, "1", v};
    size_t lens[4] = {4, strlen(st->processing), 1, vl};
    if (redis_conn_cmd(st->cmd, lrem_reply, st, 4, argv, lens) == 0)
        st->xack_inflight++;
    else
        CEB_LOG_W(&st->ctx, "not connected: element stays in %s until the next start",
                  st->processing);
}

static void redis_source_ack(void *state, void *token, int status)
{
    redis_source *st = state;
    rs_batch *b = token;
    st->inflight--;
    if (st->mode == RS_STREAM && status == 0 && b->nids > 0) {
        if (ceb_buf_append(&st->ackbuf, b->ids.data, b->ids.len) == 0)
            st->nack += b->nids;
        if (st->nack >= XACK_CHUNK)
            flush_acks(st);
        else
            schedule_flush(st);
    } else if (st->mode == RS_LIST) {
        list_ack(st, b, status);
    }
    batch_free(st, b);
    if (st->stopping && st->inflight == 0)
        finish_stop(st);
}

/* ---- streams ------------------------------------------------------------- */

static void issue_read(redis_source *st);
static void ensure_group(redis_source *st, const char *start);
static void list_reply(redisAsyncContext *ac, void *rv, void *priv);
static void maybe_stopped(redis_source *st);

static void retry_fire(void *arg)
{
    redis_source *st = arg;
    st->retry_timer = NULL;
    issue_read(st);
}

static void retry_later(redis_source *st)
{
    if (st->retry_timer == NULL && !st->stopping)
        st->ctx.host->timer_start(st->ctx.inst, 1000, retry_fire, st, &st->retry_timer);
}

/* Process an array of [id, [f, v, ...]] entries. `deliveries` (may be NULL)
   is an XPENDING reply giving the delivery count of claimed entries. */
static void process_entries(redis_source *st, const redisReply *entries,
                            const redisReply *deliveries)
{
    size_t n = entries->elements;
    if (n > st->evcap) {
        ceb_event **ne = realloc(st->evs, n * sizeof *ne);
        if (ne == NULL)
            return;   /* the entries stay pending: claimed again later */
        st->evs = ne;
        st->evcap = n;
    }
    ceb_event **evs = st->evs;
    rs_batch *b = batch_new(st);
    size_t nev = 0;
    if (b == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = e->element[0]->str;
        size_t idlen = e->element[0]->len;
        const redisReply *fv = e->element[1];
        if (fv->type != REDIS_REPLY_ARRAY) {
            /* deleted while pending: just acknowledge it */
            if (ceb_buf_append(&st->ackbuf, id, idlen + 1) == 0)
                st->nack++;
            continue;
        }
        size_t nf = fv->elements / 2;
        if (nf > st->fcap) {
            ceb_stream_field *nfp = realloc(st->fields, nf * sizeof *nfp);
            if (nfp == NULL)
                continue;
            st->fields = nfp;
            st->fcap = nf;
        }
        ceb_stream_field *f = st->fields;
        for (size_t k = 0; k < nf; k++) {
            f[k].name = fv->element[2 * k]->str ? fv->element[2 * k]->str : "";
            f[k].name_len = fv->element[2 * k]->len;
            f[k].value = fv->element[2 * k + 1]->str ? fv->element[2 * k + 1]->str : "";
            f[k].value_len = fv->element[2 * k + 1]->len;
        }
        long long count = 1;
        if (deliveries != NULL && deliveries->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k < deliveries->elements; k++) {
                const redisReply *p = deliveries->element[k];
                if (p->type == REDIS_REPLY_ARRAY && p->elements >= 4 &&
                    p->element[0]->len == idlen && memcmp(p->element[0]->str, id, idlen) == 0)
                    count = p->element[3]->integer;
            }
        }
        ceb_event *ev = NULL;
        ceb_diag d = {0};
        int rc = decode_entry(st, f, nf, id, &ev, &d);
        bool past = st->cfg.max_deliveries > 0 && count > st->cfg.max_deliveries;
        if (rc < 0 || past) {
            rs_batch *one = batch_new(st);
            if (one == NULL || batch_add_id(one, id, idlen) < 0) {
                batch_free(st, one);
                ceb_event_unref(ev);
                continue;
            }
            char reason[1024];
            if (past)
                snprintf(reason, sizeof reason, "delivered %lld times (max_deliveries %lld)",
                         count, (long long)st->cfg.max_deliveries);
            else
                snprintf(reason, sizeof reason, "undecodable stream entry %s: %s", id,
                         d.message);
            ceb_buf raw = {0};
            ceb_diag d2 = {0};
            if (ev == NULL && ceb_stream_fields_to_json(f, nf, &raw, &d2) < 0) {
                ceb_buf_reset(&raw);
                ceb_buf_append_str(&raw, "{}");
            }
            dead_letter(st, ev, raw.data, raw.len, id, reason, one);
            ceb_buf_free(&raw);
            continue;
        }
        if (batch_add_id(b, id, idlen) < 0) {
            ceb_event_unref(ev);
            continue;
        }
        evs[nev++] = ev;
    }
    if (nev > 0)
        emit_batch(st, evs, nev, b);
    else
        batch_free(st, b);
    schedule_flush(st);
}

static void read_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    redisReply *r = rv;
    if (st->reads > 0)
        st->reads--;
    if (r == NULL || st->stopping)
        return;   /* connection lost or closing: ready() reissues */
    const char *err = redis_reply_err(r);
    if (err != NULL) {
        if (strncmp(err, "NOGROUP", 7) == 0) {
            CEB_LOG_W(&st->ctx, "group %s on %s is gone (server restarted without "
                      "persistence?): recreating it from 0", st->cfg.group, st->cfg.stream);
            st->group_ready = false;
            st->group_lost = true;
            ensure_group(st, "0");
            return;
        }
        CEB_LOG_W(&st->ctx, "XREADGROUP failed: %s; retrying in 1s", err);
        retry_later(st);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 2) {
        const redisReply *entries = r->element[0]->element[1];
        if (entries->type == REDIS_REPLY_ARRAY) {
            if (st->history && entries->elements == 0)
                st->history = false;
            if (st->history) {
                const redisReply *last = entries->element[entries->elements - 1];
                if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1 &&
                    last->element[0]->type == REDIS_REPLY_STRING &&
                    last->element[0]->len < sizeof st->history_id)
                    memcpy(st->history_id, last->element[0]->str, last->element[0]->len + 1);
            }
            if (entries->elements > 0)
                issue_read(st); /* before the entries: see the top of this file */
            process_entries(st, entries, NULL);
        }
    } else if (st->history) {
        st->history = false;
    }
    issue_read(st);
}

static void issue_read(redis_source *st)
{
    /* one read at a time for lists, and while the history is read (the next
       read starts after the last entry of this one) */
    int depth = st->mode == RS_STREAM && !st->history ? RS_READ_DEPTH : 1;
    if (st->reads >= depth || st->paused || st->stopping || !st->group_ready ||
        !redis_conn_is_ready(st->rd))
        return;
    char count[24], block[24];
    snprintf(count, sizeof count, "%lld", (long long)st->cfg.count);
    int rc;
    if (st->mode == RS_STREAM) {
        snprintf(block, sizeof block, "%lld", (long long)st->cfg.block_ms);
        const char *argv[11] = {"XREADGROUP", "GROUP", st->cfg.group, st->consumer, "COUNT",
                                count, "BLOCK", block, "STREAMS", st->cfg.stream,
                                st->history ? st->history_id : ">"};
        rc = redis_conn_cmd(st->rd, read_reply, st, 11, argv, NULL);
    } else {
        snprintf(block, sizeof block, "%.3f", (double)st->cfg.block_ms / 1000.0);
        const char *argv[6] = {"BLMOVE", st->cfg.list, st->processing, "LEFT", "RIGHT", block};
        rc = redis_conn_cmd(st->rd, list_reply, st, 6, argv, NULL);
    }
    if (rc == 0 && ++st->reads < depth)
        issue_read(st);
}

static void claim_reply(redisAsyncContext *ac, void *rv, void *priv);
static void schedule_claim(redis_source *st);
static void claim_fire(void *arg);

static void claim_now(redis_source *st)
{
    if (st->stopping)
        return;
    if (st->paused || st->claiming || !st->group_ready || !redis_conn_is_ready(st->cmd)) {
        schedule_claim(st);
        return;
    }
    char idle[24], count[24];
    snprintf(idle, sizeof idle, "%lld", (long long)st->cfg.claim_idle_ms);
    snprintf(count, sizeof count, "%lld", (long long)st->cfg.count);
    const char *argv[8] = {"XAUTOCLAIM", st->cfg.stream, st->cfg.group, st->consumer, idle,
                           st->claim_cursor, "COUNT", count};
    if (redis_conn_cmd(st->cmd, claim_reply, st, 8, argv, NULL) == 0)
        st->claiming = true;
    else
        schedule_claim(st);
}

static void claim_fire(void *arg)
{
    redis_source *st = arg;
    st->claim_timer = NULL;
    claim_now(st);
}

static void schedule_claim(redis_source *st)
{
    if (st->claim_timer != NULL || st->stopping || st->mode != RS_STREAM)
        return;
    uint64_t ms = (uint64_t)(st->cfg.claim_idle_ms / 2);
    if (ms < 50)
        ms = 50;
    st->ctx.host->timer_start(st->ctx.inst, ms, claim_fire, st, &st->claim_timer);
}

typedef struct rs_claim {
    redis_source *st;
    redisReply *entries;   /* owned: freed with freeReplyObject */
} rs_claim;

static void pending_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    rs_claim *c = priv;
    redis_source *st = c->st;
    st->claiming = false;
    if (rv != NULL && !st->stopping && redis_reply_err(rv) == NULL)
        process_entries(st, c->entries, rv);
    freeReplyObject(c->entries);
    free(c);
    if (strcmp(st->claim_cursor, "0-0") != 0)
        claim_now(st);
    else
        schedule_claim(st);
}

static void claim_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    redisReply *r = rv;
    if (r == NULL || st->stopping) {
        st->claiming = false;
        return;
    }
    const char *err = redis_reply_err(r);
    if (err != NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        st->claiming = false;
        if (err != NULL)
            CEB_LOG_W(&st->ctx, "XAUTOCLAIM failed: %s", err);
        snprintf(st->claim_cursor, sizeof st->claim_cursor, "0-0");
        schedule_claim(st);
        return;
    }
    const redisReply *cur = r->element[0];
    snprintf(st->claim_cursor, sizeof st->claim_cursor, "%.*s",
             cur->type == REDIS_REPLY_STRING ? (int)cur->len : 3,
             cur->type == REDIS_REPLY_STRING ? cur->str : "0-0");
    redisReply *entries = r->element[1];
    size_t live = 0;
    for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++)
        if (entries->element[i]->type == REDIS_REPLY_ARRAY)
            live++;
    if (live == 0) {
        st->claiming = false;
        if (strcmp(st->claim_cursor, "0-0") != 0)
            claim_now(st);
        else
            schedule_claim(st);
        return;
    }
    CEB_LOG_I(&st->ctx, "claimed %zu entr%s idle for %lld ms or more", live,
              live == 1 ? "y" : "ies", (long long)st->cfg.claim_idle_ms);
    /* Take the entries out of the reply (hiredis frees `r` after we return)
       and ask their delivery counts. */
    if (r->elements >= 3) {
        r->element[1] = r->element[2];
        r->element[2] = NULL;
        r->elements = 2;
    } else {
        r->element[1] = NULL;
        r->elements = 1;
    }
    rs_claim *c = calloc(1, sizeof *c);
    const char *first = NULL, *last = NULL;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1) {
            if (first == NULL)
                first = e->element[0]->str;
            last = e->element[0]->str;
        }
    }
    char count[24];
    snprintf(count, sizeof count, "%zu", entries->elements);
    const char *argv[7] = {"XPENDING", st->cfg.stream, st->cfg.group, first, last, count,
                           st->consumer};
    if (c == NULL || first == NULL ||
        (c->st = st, c->entries = entries,
         redis_conn_cmd(st->cmd, pending_reply, c, 7, argv, NULL)) < 0) {
        /* cannot ask: deliver with unknown counts */
        process_entries(st, entries, NULL);
        freeReplyObject(entries);
        free(c);
        st->claiming = false;
        schedule_claim(st);
    }
}

static void group_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    st->group_creating = false;
    const char *err = redis_reply_err(rv);
    if (rv == NULL || st->stopping)
        return;   /* retried when cmd is ready again */
    if (err != NULL && strncmp(err, "BUSYGROUP", 9) != 0) {
        CEB_LOG_E(&st->ctx, "XGROUP CREATE %s %s failed: %s", st->cfg.stream, st->cfg.group,
                  err);
        return;
    }
    if (!st->group_ready)
        CEB_LOG_I(&st->ctx, "reading stream %s as %s/%s", st->cfg.stream, st->cfg.group,
                  st->consumer);
    st->group_ready = true;
    st->group_lost = false;
    issue_read(st);
    claim_now(st);   /* pick up entries of dead consumers right away */
}

static void ensure_group(redis_source *st, const char *start)
{
    if (st->group_ready || st->group_creating || !redis_conn_is_ready(st->cmd))
        return;
    const char *argv[6] = {"XGROUP", "CREATE", st->cfg.stream, st->cfg.group, start,
                           "MKSTREAM"};
    if (redis_conn_cmd(st->cmd, group_reply, st, 6, argv, NULL) == 0)
        st->group_creating = true;
}

/* ---- lists ----------------------------------------------------------------- */

static void emit_list_element(redis_source *st, const char *v, size_t len)
{
    rs_batch *b = batch_new(st);
    if (b == NULL || ceb_buf_append(&b->ids, v, len) < 0) {
        batch_free(st, b);
        return;
    }
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    if (decode_payload(st, v, len, NULL, &ev, &d) < 0) {
        char reason[1024];
        snprintf(reason, sizeof reason, "undecodable list element: %s", d.message);
        dead_letter(st, NULL, v, len, NULL, reason, b);
        return;
    }
    emit_batch(st, &ev, 1, b);
}

static void list_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    redisReply *r = rv;
    st->reads = 0;
    if (r == NULL || st->stopping)
        return;
    const char *err = redis_reply_err(r);
    if (err != NULL) {
        CEB_LOG_W(&st->ctx, "BLMOVE failed: %s; retrying in 1s", err);
        retry_later(st);
        return;
    }
    if (r->type == REDIS_REPLY_STRING)
        emit_list_element(st, r->str, r->len);
    issue_read(st);
}

static void list_range_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    redisReply *r = rv;
    if (r == NULL || st->stopping)
        return;
    if (r->type == REDIS_REPLY_ARRAY) {
        if (r->elements > 0)
            CEB_LOG_I(&st->ctx, "re-emitting %zu element(s) left in %s", r->elements,
                      st->processing);
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                emit_list_element(st, r->element[i]->str, r->element[i]->len);
    }
    st->group_ready = true;
    st->group_lost = false;
    issue_read(st);
}

/* Move processing lists of consumers whose liveness key expired back to the
   head of the list, oldest first. KEYS[1] list, KEYS[2] own processing list;
   ARGV[1] SCAN pattern, ARGV[2] processing prefix, ARGV[3] liveness prefix. */
static const char recover_lua[] =
    "local moved = 0\n"
    "local cur = '0'\n"
    "repeat\n"
    "  local r = redis.call('SCAN', cur, 'MATCH', ARGV[1], 'COUNT', 100)\n"
    "  cur = r[1]\n"
    "  for _, k in ipairs(r[2]) do\n"
    "    if k ~= KEYS[2] and string.sub(k, 1, #ARGV[2]) == ARGV[2] then\n"
    "      local owner = string.sub(k, #ARGV[2] + 1)\n"
    "      if redis.call('EXISTS', ARGV[3] .. owner) == 0 then\n"
    "        while redis.call('LMOVE', k, KEYS[1], 'RIGHT', 'LEFT') do moved = moved + 1 end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "until cur == '0'\n"
    "return moved\n";

static void recover_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    redisReply *r = rv;
    if (r == NULL || st->stopping)
        return;
    const char *err = redis_reply_err(r);
    if (err != NULL)
        CEB_LOG_W(&st->ctx, "recovering dead consumers' processing lists failed: %s", err);
    else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        CEB_LOG_I(&st->ctx, "moved %lld element(s) of dead consumers back to %s", r->integer,
                  st->cfg.list);
}

static void ignore_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    (void)rv;
    (void)priv;
}

static void list_heartbeat(redis_source *st)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)st->cfg.claim_idle_ms);
    const char *set[5] = {"SET", st->heartbeat, "1", "PX", ttl};
    redis_conn_cmd(st->cmd, ignore_reply, st, 5, set, NULL);
    const char *ev[8] = {"EVAL", recover_lua, "2", st->cfg.list, st->processing,
                         st->proc_match, st->proc_prefix, st->hb_prefix};
    redis_conn_cmd(st->cmd, recover_reply, st, 8, ev, NULL);
}

static void heartbeat_fire(void *arg)
{
    redis_source *st = arg;
    st->claim_timer = NULL;
    if (st->stopping)
        return;
    if (redis_conn_is_ready(st->cmd))
        list_heartbeat(st);
    uint64_t ms = (uint64_t)(st->cfg.claim_idle_ms / 3);
    st->ctx.host->timer_start(st->ctx.inst, ms ? ms : 1, heartbeat_fire, st, &st->claim_timer);
}

/* ---- pub/sub --------------------------------------------------------------- */

static void sub_reply(redisAsyncContext *ac, void *rv, void *priv)
{
    (void)ac;
    redis_source *st = priv;
    redisReply *r = rv;
    if (r == NULL || st->stopping || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return;
    const redisReply *kind = r->element[0];
    const redisReply *ch, *payload;
    if (kind->len == 7 && memcmp(kind->str, "message", 7) == 0) {
        ch = r->element[1];
        payload = r->element[2];
    } else if (kind->len == 8 && memcmp(kind->str, "pmessage", 8) == 0 && r->elements >= 4) {
        ch = r->element[2];
        payload = r->element[3];
    } else {
        if (kind->len >= 9 && memcmp(kind->str + kind->len - 9, "subscribe", 9) == 0)
            CEB_LOG_D(&st->ctx, "%.*s %.*s", (int)kind->len, kind->str,
                      (int)r->element[1]->len, r->element[1]->str);
        return;
    }
    char src[512];
    if (st->cfg.wrap_source != NULL)
        snprintf(src, sizeof src, "%s", st->cfg.wrap_source);
    else if (st->url.path != NULL)
        snprintf(src, sizeof src, "unix://%s/%.*s", st->url.path, (int)ch->len, ch->str);
    else
        snprintf(src, sizeof src, "redis://%s:%d/%.*s", st->url.host, st->url.port,
                 (int)ch->len, ch->str);
    char chname[256];
    snprintf(chname, sizeof chname, "%.*s", (int)ch->len, ch->str);
    char *saved = st->key_source;
    st->key_source = src;
    rs_batch *b = batch_new(st);
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    if (b != NULL) {
        if (decode_payload(st, payload->str ? payload->str : "", payload->len, chname, &ev,
                           &d) < 0) {
            char reason[1024];
            snprintf(reason, sizeof reason, "undecodable message on %s: %s", chname, d.message);
            dead_letter(st, NULL, payload->str, payload->len, chname, reason, b);
        } else {
            emit_batch(st, &ev, 1, b);
        }
    }
    st->key_source = saved;
}

static void subscribe_all(redis_source *st)
{
    for (int pass = 0; pass < 2; pass++) {
        const ceb_strlist *l = pass ? &st->cfg.patterns : &st->cfg.channels;
        if (l->n == 0)
            continue;
        const char **argv = calloc(l->n + 1, sizeof *argv);
        if (argv == NULL)
            return;
        argv[0] = pass ? "PSUBSCRIBE" : "SUBSCRIBE";
        for (size_t i = 0; i < l->n; i++)
            argv[i + 1] = l->v[i];
        if (redis_conn_cmd(st->rd, sub_reply, st, (int)l->n + 1, argv, NULL) == 0)
            CEB_LOG_I(&st->ctx, "%s to %zu %s", pass ? "pattern-subscribed" : "subscribed",
                      l->n, pass ? "pattern(s)" : "channel(s)");
        free(argv);
    }
}

/* ---- connection events ------------------------------------------------------ */

static void conn_ready(void *owner, redis_conn *c)
{
    redis_source *st = owner;
    if (st->stopping)
        return;
    if (st->mode == RS_PUBSUB) {
        subscribe_all(st);
        return;
    }
    if (c == st->rd) {
        issue_read(st);
        return;
    }
    /* cmd */
    if (st->mode == RS_STREAM) {
        if (!st->group_ready)
            /* After the server lost the group (restart without persistence),
               every entry now in the stream arrived after that: start from 0,
               or entries added before this reconnect would be skipped. */
            ensure_group(st, st->group_lost || st->cfg.start == 1 ? "0" : "$");
        flush_acks(st);
        return;
    }
    /* lists: liveness + recovery, then our own processing list, then read */
    list_heartbeat(st);
    if (!st->group_ready) {
        const char *argv[4] = {"LRANGE", st->processing, "0", "-1"};
        redis_conn_cmd(st->cmd, list_range_reply, st, 4, argv, NULL);
    }
}

static void conn_down(void *owner, redis_conn *c)
{
    redis_source *st = owner;
    if (c == st->rd)
        st->reads = 0;
    else
        st->claiming = false;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void redis_source_destroy(void *state);

static char *xstrdup_printf(const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, fmt, a, b ? b : "");
    return s;
}

static int redis_source_create(ceb_instance *inst, const ceb_host *host, const void *config,
                               ceb_diag *diag, void **state)
{
    const redis_source_config *cfg = config;
    int kinds = (cfg->channels.n + cfg->patterns.n > 0) + (cfg->list != NULL) +
                (cfg->stream != NULL);
    if (kinds == 0)
        return ceb_diag_set(diag, CEB_ECONFIG, "one of channels, patterns, list or stream is "
                            "required");
    if (kinds > 1)
        return ceb_diag_set(diag, CEB_ECONFIG, "channels/patterns, list and stream exclude "
                            "each other: one kind of input per instance");
    if (cfg->stream == NULL &&
        (cfg->format == REDIS_FMT_BINARY || cfg->format == REDIS_FMT_FIELDS))
        return ceb_diag_set_field(diag, CEB_ECONFIG, "format", "format \"%s\" is for stream "
                                  "entries only", redis_format_names[cfg->format]);
    redis_source *st = calloc(1, sizeof *st);
    if (st == NULL)
        return CEB_ENOMEM;
    st->ctx.host = host;
    st->ctx.inst = inst;
    st->cfg = *cfg;
    st->mode = cfg->stream ? RS_STREAM : cfg->list ? RS_LIST : RS_PUBSUB;
    int rc = redis_url_parse(cfg->url, &st->url, diag);
    if (rc < 0) {
        free(st);
        return rc;
    }
    if (cfg->consumer != NULL) {
        st->consumer = strdup(cfg->consumer);
    } else {
        char hn[256] = "cebridge";
        gethostname(hn, sizeof hn - 1);
        hn[sizeof hn - 1] = '\0';
        char buf[300];
        snprintf(buf, sizeof buf, "%s-%ld", hn, (long)getpid());
        st->consumer = strdup(buf);
    }
    const char *key = cfg->stream ? cfg->stream : cfg->list ? cfg->list : "";
    if (cfg->wrap_source != NULL) {
        st->key_source = strdup(cfg->wrap_source);
    } else {
        char buf[600];
        if (st->url.path != NULL)
            snprintf(buf, sizeof buf, "unix://%s/%s", st->url.path, key);
        else
            snprintf(buf, sizeof buf, "redis://%s:%d/%s", st->url.host, st->url.port, key);
        st->key_source = strdup(buf);
    }
    if (st->mode == RS_LIST) {
        st->processing = xstrdup_printf("%s:processing:%s", cfg->list, st->consumer);
        st->heartbeat = xstrdup_printf("%s:consumer:%s", cfg->list, st->consumer);
        st->proc_prefix = xstrdup_printf("%s:processing:%s", cfg->list, NULL);
        st->proc_match = xstrdup_printf("%s:processing:*%s", cfg->list, NULL);
        st->hb_prefix = xstrdup_printf("%s:consumer:%s", cfg->list, NULL);
    }
    st->history = true;
    snprintf(st->history_id, sizeof st->history_id, "0");
    snprintf(st->claim_cursor, sizeof st->claim_cursor, "0-0");
    const char *pw = cfg->password ? ceb_secret_reveal(cfg->password, NULL) : NULL;
    redis_conn_cbs cbs = {conn_ready, conn_down};
    rc = redis_conn_new(&st->ctx, &st->url, pw, st->mode == RS_PUBSUB ? "sub" : "read",
                        cfg->reconnect_max_ms, &cbs, st, &st->rd);
    if (rc == 0 && st->mode != RS_PUBSUB) {
        rc = redis_conn_new(&st->ctx, &st->url, pw, "cmd", cfg->reconnect_max_ms, &cbs, st,
                            &st->cmd);
    }
    if (rc < 0 || st->consumer == NULL || st->key_source == NULL ||
        (st->mode == RS_LIST && (st->processing == NULL || st->heartbeat == NULL ||
                                 st->proc_prefix == NULL || st->proc_match == NULL ||
                                 st->hb_prefix == NULL))) {
        redis_source_destroy(st);
        return rc < 0 ? rc : CEB_ENOMEM;
    }
    st->nconns = st->cmd ? 2 : 1;
    *state = st;
    return 0;
}

static int redis_source_start(void *state)
{
    redis_source *st = state;
    st->started = true;
    CEB_LOG_I(&st->ctx, "connecting to %s", st->url.display);
    if (st->cmd != NULL)
        redis_conn_start(st->cmd);
    redis_conn_start(st->rd);
    if (st->mode == RS_LIST) {
        uint64_t ms = (uint64_t)(st->cfg.claim_idle_ms / 3);
        st->ctx.host->timer_start(st->ctx.inst, ms ? ms : 1, heartbeat_fire, st,
                                  &st->claim_timer);
    }
    return 0;
}

static void redis_source_pause(void *state)
{
    redis_source *st = state;
    st->paused = true;
}

static void redis_source_resume(void *state)
{
    redis_source *st = state;
    st->paused = false;
    issue_read(st);
}

static void maybe_stopped(redis_source *st)
{
    if (st->nclosed == st->nconns && st->inflight == 0 && st->xack_inflight == 0 &&
        !st->stopped) {
        /* stop() cancelled them and nothing re-arms one while stopping */
        assert(st->flush_timer == NULL && st->claim_timer == NULL && st->retry_timer == NULL);
        st->stopped = true;
        st->ctx.host->stopped(st->ctx.inst);
    }
}

static void conn_closed(void *owner)
{
    redis_source *st = owner;
    st->nclosed++;
    maybe_stopped(st);
}

static void finish_stop(redis_source *st)
{
    if (st->finishing && (st->inflight > 0 || st->xack_inflight > 0))
        return;
    if (!st->finishing) {
        st->finishing = true;
        if (st->mode == RS_STREAM)
            flush_acks(st);
        if (st->xack_inflight > 0)
            return;   /* xack_reply / lrem_reply come back here */
    }
    if (st->cmd != NULL && !redis_conn_is_closed(st->cmd)) {
        if (st->nack > 0)
            CEB_LOG_W(&st->ctx, "stopping with %zu acknowledged id(s) not XACKed (not "
                      "connected): they will be delivered again", st->nack);
        redis_conn_close(st->cmd, conn_closed);
    }
    maybe_stopped(st);
}

static void redis_source_stop(void *state)
{
    redis_source *st = state;
    st->stopping = true;
    stop_timer(st, &st->claim_timer);
    stop_timer(st, &st->retry_timer);
    stop_timer(st, &st->flush_timer);   /* finish_stop() flushes instead */
    if (st->mode == RS_LIST && redis_conn_is_ready(st->cmd)) {
        const char *del[2] = {"DEL", st->heartbeat};
        if (redis_conn_cmd(st->cmd, lrem_reply, st, 2, del, NULL) == 0)
            st->xack_inflight++;   /* finish_stop waits for it */
    }
    redis_conn_close(st->rd, conn_closed);
    if (st->inflight == 0)
        finish_stop(st);
}

static void redis_source_destroy(void *state)
{
    redis_source *st = state;
    redis_conn_free(st->rd);
    redis_conn_free(st->cmd);
    redis_url_free(&st->url);
    ceb_buf_free(&st->ackbuf);
    while (st->nbatch_pool > 0) {
        rs_batch *b = st->batch_pool[--st->nbatch_pool];
        ceb_buf_free(&b->ids);
        free(b);
    }
    while (st->nxack_pool > 0) {
        rs_xack *x = st->xack_pool[--st->nxack_pool];
        ceb_buf_free(&x->ids);
        free(x);
    }
    free(st->xack_argv);
    free(st->evs);
    free(st->fields);
    free(st->consumer);
    free(st->key_source);
    free(st->processing);
    free(st->heartbeat);
    free(st->proc_prefix);
    free(st->proc_match);
    free(st->hb_prefix);
    free(st);
}

const ceb_source_ops redis_source_ops = {
    .options = redis_source_options,
    .config_size = sizeof(redis_source_config),
    .create = redis_source_create,
    .start = redis_source_start,
    .pause = redis_source_pause,
    .resume = redis_source_resume,
    .ack = redis_source_ack,
    .stop = redis_source_stop,
    .destroy = redis_source_destroy,
};
