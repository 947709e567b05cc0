/*
 * kafka sink: an idempotent producer (enable.idempotence=true, acks=all).
 *
 * deliver() renders the topic, encodes the event (binary or structured
 * mode, key from the partitionkey extension or the `key` template) and hands
 * it to librdkafka with RD_KAFKA_MSG_F_COPY. The delivery is completed only
 * from the delivery report, which librdkafka queues on the main queue; the
 * loop serves that queue (kafka_qwatch), so complete() runs on the loop.
 *
 * stop() takes no new work and polls on a timer until the out queue is empty
 * or `drain_timeout` passes; then it purges what is left (those deliveries
 * complete RETRY/CEB_ECANCELED), destroys the handle (quick: nothing is in
 * flight), closes its handles and calls stopped().
 */
#include "kafka_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kafka_sink_config {
    const char *brokers;
    const ceb_json *librdkafka;
    const ceb_template *topic;
    const ceb_template *key;
    int mode;
    int64_t delivery_timeout_ms;
    int64_t drain_timeout_ms;
    bool auto_create_topics;
} kafka_sink_config;

static const char *const kafka_sink_modes[] = {"binary", "structured", NULL};

static const ceb_option kafka_sink_options[] = {
    CEB_OPT_STRING_FIELD("brokers", NULL, CEB_OPT_REQUIRED, kafka_sink_config, brokers,
                         "Bootstrap servers, host:port[,host:port...]."),
    CEB_OPT_OBJECT_FIELD("librdkafka", NULL, 0, kafka_sink_config, librdkafka,
                         "librdkafka properties passed through (SASL, TLS, tuning); string values "
                         "may be ${env:NAME} or ${file:PATH}."),
    CEB_OPT_TEMPLATE_FIELD("topic", NULL, CEB_OPT_REQUIRED, kafka_sink_config, topic,
                           "Topic to produce to, a template (\"ci.{type}\")."),
    CEB_OPT_TEMPLATE_FIELD("key", NULL, 0, kafka_sink_config, key,
                           "Record key template; default: the partitionkey extension (none: null key)."),
    CEB_OPT_ENUM_FIELD("mode", "\"binary\"", 0, kafka_sink_config, mode, kafka_sink_modes,
                       "CloudEvents content mode: binary (ce_ headers) or structured (JSON value)."),
    CEB_OPT_DURATION_FIELD("delivery_timeout", "\"30s\"", 0, kafka_sink_config,
                           delivery_timeout_ms, 1, 86400000,
                           "How long librdkafka tries one delivery (message.timeout.ms) before "
                           "it is reported as a retryable failure."),
    CEB_OPT_DURATION_FIELD("drain_timeout", "\"10s\"", 0, kafka_sink_config, drain_timeout_ms,
                           0, 3600000,
                           "At stop: how long to wait for outstanding delivery reports."),
    CEB_OPT_BOOL_FIELD("auto_create_topics", "true", 0, kafka_sink_config, auto_create_topics,
                       "Whether the cluster creates topics on first use; false makes an unknown "
                       "topic a permanent failure."),
    CEB_OPTION_END};

/* Records kept for reuse: one allocation less per event in steady state. */
#define KSK_SPARE_MAX 4096

/* One message handed to librdkafka, until its delivery report. */
typedef struct ksk_msg {
    ceb_delivery *dlv;
    struct ksk_msg *prev, *next;
} ksk_msg;

typedef struct kafka_sink {
    ceb_ctx ctx; /* first: rd_kafka_opaque() is this state (kafka_log_cb) */
    kafka_sink_config cfg;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    kafka_qwatch qw;
    bool watching;
    ksk_msg pending; /* sentinel of the in-flight list */
    size_t npending;
    ksk_msg *spare;  /* finished records kept for reuse (through next), up to KSK_SPARE_MAX */
    size_t nspare;
    bool stopping;
    uv_timer_t drain;
    bool drain_open;
    uint64_t drain_deadline;
    ceb_buf topic, value, keybuf;
    bool topic_fixed;         /* `topic` names no attribute: rendered once, kept in topic */
    rd_kafka_headers_t *hdrs; /* being built */
} kafka_sink;

static ceb_outcome kafka_sink_classify(const kafka_sink *s, rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return CEB_OUTCOME_PERMANENT;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return s->cfg.auto_create_topics ? CEB_OUTCOME_RETRY : CEB_OUTCOME_PERMANENT;
    default:
        return CEB_OUTCOME_RETRY;
    }
}

static ksk_msg *ksk_msg_get(kafka_sink *s)
{
    ksk_msg *m = s->spare;
    if (m == NULL)
        return malloc(sizeof *m);
    s->spare = m->next;
    s->nspare--;
    return m;
}

static void ksk_msg_put(kafka_sink *s, ksk_msg *m)
{
    if (s->nspare >= KSK_SPARE_MAX) {
        free(m);
        return;
    }
    m->next = s->spare;
    s->spare = m;
    s->nspare++;
}

static void kafka_sink_finish(kafka_sink *s, ksk_msg *m, rd_kafka_resp_err_t err)
{
    m->prev->next = m->next;
    m->next->prev = m->prev;
    s->npending--;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        s->ctx.host->complete(m->dlv, CEB_OUTCOME_OK, 0, 0, NULL);
    else
        s->ctx.host->complete(m->dlv, kafka_sink_classify(s, err), kafka_err_code(err), 0,
                              rd_kafka_err2str(err));
    ksk_msg_put(s, m);
}

/* Delivery report: served by rd_kafka_poll() on the loop thread. */
static void kafka_sink_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    kafka_sink_finish(opaque, msg->_private, msg->err);
}

static void kafka_sink_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_sink *s = opaque;
    char fatal[256];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        CEB_LOG_E(&s->ctx, "fatal producer error: %s: %s", rd_kafka_err2name(ferr), fatal);
        return;
    }
    CEB_LOG_W(&s->ctx, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void kafka_sink_serve(void *arg)
{
    kafka_sink *s = arg;
    if (s->rk != NULL)
        while (rd_kafka_poll(s->rk, 0) > 0)
            ;
}

static int kafka_sink_create(ceb_instance *inst, const ceb_host *host, const void *config,
                             ceb_diag *diag, void **state)
{
    kafka_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return CEB_ENOMEM;
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->cfg = *(const kafka_sink_config *)config;
    s->pending.next = s->pending.prev = &s->pending;
    kafka_pin_library();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char num[32], err[256];
    int rc = kafka_conf_set(conf, "enable.idempotence", "true", diag);
    if (rc == 0)
        rc = kafka_conf_set(conf, "acks", "all", diag);
    snprintf(num, sizeof num, "%lld", (long long)s->cfg.delivery_timeout_ms);
    if (rc == 0)
        rc = kafka_conf_set(conf, "message.timeout.ms", num, diag);
    if (rc == 0)
        rc = kafka_conf_set(conf, "log.queue", "true", diag);
    if (rc == 0)
        rc = kafka_conf_apply(conf, s->cfg.brokers, s->cfg.librdkafka, diag);
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        free(s);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_sink_dr_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_sink_error_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    /* rd_kafka_new starts librdkafka's threads but connects lazily */
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (s->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        free(s);
        return ceb_diag_set_field(diag, CEB_ECONFIG, "librdkafka", "%s", err);
    }
    rd_kafka_set_log_queue(s->rk, NULL); /* logs to the main queue, served on the loop */
    s->mainq = rd_kafka_queue_get_main(s->rk);
    *state = s;
    return 0;
}

static int kafka_sink_start(void *state)
{
    kafka_sink *s = state;
    s->qw.serve = kafka_sink_serve;
    s->qw.arg = s;
    int rc = kafka_qwatch_start(&s->qw, s->ctx.host->loop(s->ctx.inst), s->mainq, 100);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "cannot watch the librdkafka queue: %s", ceb_strerror(rc));
        return rc;
    }
    s->watching = true;
    /* ask for metadata now so a bad broker list shows up in the log early */
    rd_kafka_poll(s->rk, 0);
    return 0;
}

static int kafka_sink_add_header(void *arg, const char *name, const char *value, size_t len)
{
    kafka_sink *s = arg;
    rd_kafka_resp_err_t e = rd_kafka_header_add(s->hdrs, name, -1, value, (ssize_t)len);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : CEB_ENOMEM;
}

static int kafka_sink_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    kafka_sink *s = state;
    int rc;
    if (s->stopping)
        return CEB_ESHUTDOWN;
    if (!s->topic_fixed) {
        ceb_diag d = {0};
        ceb_buf_reset(&s->topic);
        rc = ceb_template_render_strict(s->cfg.topic, ev, NULL, NULL, &s->topic, &d);
        if (rc == CEB_ENOMEM)
            return rc;
        if (rc < 0 || s->topic.len == 0) {
            s->ctx.host->complete(dlv, CEB_OUTCOME_PERMANENT, CEB_EINVAL, 0,
                                  rc < 0 ? d.message : "topic template rendered empty");
            return 0;
        }
        if (ceb_template_is_constant(s->cfg.topic))
            s->topic_fixed = true; /* the same text for every event from now on */
    }
    const char *key = NULL;
    size_t klen = 0;
    if (s->cfg.key != NULL) {
        ceb_buf_reset(&s->keybuf);
        if ((rc = ceb_template_render(s->cfg.key, ev, &s->keybuf)) < 0)
            return rc;
        key = s->keybuf.len > 0 ? s->keybuf.data : NULL;
        klen = s->keybuf.len;
    } else {
        key = ceb_kafka_key(ev, &klen);
    }
    ceb_buf_reset(&s->value);
    s->hdrs = rd_kafka_headers_new(16);
    bool structured = s->cfg.mode == 1;
    rc = structured ? ceb_kafka_encode_structured(ev, kafka_sink_add_header, s, &s->value)
                    : ceb_kafka_encode_binary(ev, kafka_sink_add_header, s, &s->value);
    if (rc < 0) {
        rd_kafka_headers_destroy(s->hdrs);
        return rc;
    }
    bool has_value = structured || ceb_event_data_kind(ev) != CEB_DATA_NONE;
    ksk_msg *m = ksk_msg_get(s);
    if (m == NULL) {
        rd_kafka_headers_destroy(s->hdrs);
        return CEB_ENOMEM;
    }
    m->dlv = dlv;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        s->rk, RD_KAFKA_V_TOPIC(s->topic.data), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, klen),
        RD_KAFKA_V_VALUE(has_value ? (s->value.data ? s->value.data : "") : NULL,
                         has_value ? s->value.len : 0),
        RD_KAFKA_V_HEADERS(s->hdrs), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(s->hdrs); /* not taken over on failure */
        ksk_msg_put(s, m);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return CEB_EAGAIN;
        s->ctx.host->complete(dlv, kafka_sink_classify(s, err), kafka_err_code(err), 0,
                              rd_kafka_err2str(err));
        return 0;
    }
    m->next = &s->pending;
    m->prev = s->pending.prev;
    s->pending.prev->next = m;
    s->pending.prev = m;
    s->npending++;
    return 0;
}

/* ---- stop ------------------------------------------------------------------ */

static void kafka_sink_qw_closed(void *arg)
{
    kafka_sink *s = arg;
    s->watching = false;
    if (!s->drain_open)
        s->ctx.host->stopped(s->ctx.inst);
}

static void kafka_sink_drain_closed(uv_handle_t *h)
{
    kafka_sink *s = h->data;
    s->drain_open = false;
    if (!s->watching)
        s->ctx.host->stopped(s->ctx.inst);
}

static void kafka_sink_finish_stop(kafka_sink *s)
{
    kafka_sink_serve(s);
    if (rd_kafka_outq_len(s->rk) > 0) {
        CEB_LOG_W(&s->ctx, "drain timeout: purging %d queued message(s)",
                  rd_kafka_outq_len(s->rk));
        rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        kafka_sink_serve(s);
    }
    rd_kafka_queue_io_event_enable(s->mainq, -1, NULL, 0);
    rd_kafka_queue_destroy(s->mainq);
    s->mainq = NULL;
    rd_kafka_t *rk = s->rk;
    s->rk = NULL;
    rd_kafka_destroy(rk);
    /* reports that never came: the core retries them (elsewhere or later) */
    while (s->pending.next != &s->pending)
        kafka_sink_finish(s, s->pending.next, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
    if (s->drain_open)
        uv_close((uv_handle_t *)&s->drain, kafka_sink_drain_closed);
    if (s->watching)
        kafka_qwatch_close(&s->qw);
    else if (!s->drain_open)
        s->ctx.host->stopped(s->ctx.inst);
}

static void kafka_sink_drain_cb(uv_timer_t *t)
{
    kafka_sink *s = t->data;
    kafka_sink_serve(s);
    if (rd_kafka_outq_len(s->rk) == 0 || uv_now(t->loop) >= s->drain_deadline) {
        uv_timer_stop(t);
        kafka_sink_finish_stop(s);
    }
}

static void kafka_sink_stop(void *state)
{
    kafka_sink *s = state;
    s->stopping = true;
    s->qw.closed = kafka_sink_qw_closed;
    if (!s->watching) { /* start failed or never ran */
        kafka_sink_finish_stop(s);
        return;
    }
    uv_loop_t *loop = s->ctx.host->loop(s->ctx.inst);
    uv_timer_init(loop, &s->drain);
    s->drain.data = s;
    s->drain_open = true;
    s->drain_deadline = uv_now(loop) + (uint64_t)s->cfg.drain_timeout_ms;
    uv_timer_start(&s->drain, kafka_sink_drain_cb, 0, 20);
}

static void kafka_sink_destroy(void *state)
{
    kafka_sink *s = state;
    if (s->mainq != NULL)
        rd_kafka_queue_destroy(s->mainq);
    if (s->rk != NULL) /* start failed: nothing was produced */
        rd_kafka_destroy(s->rk);
    ceb_buf_free(&s->topic);
    ceb_buf_free(&s->value);
    ceb_buf_free(&s->keybuf);
    for (ksk_msg *m = s->spare, *n; m != NULL; m = n) {
        n = m->next;
        free(m);
    }
    free(s);
}

const ceb_sink_ops kafka_sink_ops = {
    .options = kafka_sink_options,
    .config_size = sizeof(kafka_sink_config),
    .create = kafka_sink_create,
    .start = kafka_sink_start,
    .deliver = kafka_sink_deliver,
    .stop = kafka_sink_stop,
    .destroy = kafka_sink_destroy,
};
