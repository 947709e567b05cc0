/*
 * kafka source: a consumer-group member that commits only what the core has
 * finished with, in order per partition.
 *
 * Auto commit and auto offset store are off. Messages are emitted in
 * batches: a run of consecutive messages of one partition (up to
 * KS_BATCH_MAX, never across a loop turn, a rebalance or a dead letter) is
 * one emit() with one ack token, a record covering the offsets
 * [first, last] in its partition's window (offset order). ack(status 0)
 * marks the record done; the head of the window advances over done records
 * and the partition's commit point becomes (last done offset + 1), so a
 * later offset is never committed before an earlier one finished. Commit points are
 * committed (asynchronously, explicit offsets) every `commit_interval`, for
 * revoked partitions in the rebalance callback, and at shutdown.
 *
 * ack(status < 0) (the core could not deliver nor dead-letter some event of
 * the batch): the partition is paused, and once every record of its window
 * is resolved it is rewound (seek) to the first offset of the first failed
 * record after `rewind_backoff`, then resumed.
 * Messages that arrive for a partition being rewound are dropped: they come
 * again after the seek. Duplicates only ever concern uncommitted messages.
 *
 * Revoked partitions: their done offsets are committed, their window is
 * detached; acks arriving later for them are ignored (the new owner
 * re-reads from the committed offset).
 *
 * Decode worker: librdkafka's header parse and the decode of each record
 * cost about as much as everything else the loop does per event, so they
 * run on one thread of the source's own. The loop polls records into jobs
 * (KS_JOB_MAX records), hands them over, and takes finished jobs back in
 * the order it polled them (FIFO), so batches, windows and commits are as
 * if it had decoded them itself. The worker only reads the immutable
 * configuration and owns its rng and clock, and destroys the records it
 * made events of (librdkafka allocated their headers on its thread); a
 * record it cannot finish on its own (a repair needing per-record
 * defaults, a per-record subject, a dead letter, any error) is decoded
 * again on the loop, which logs and counts. Before anything that
 * moves the fetch position or the assignment (rebalance, rewind, close) the
 * loop drains the jobs, waiting at most for the jobs in flight
 * (KS_JOBS_INFLIGHT x KS_JOB_MAX records of CPU work, never I/O).
 *
 * Normalization (DESIGN §2): a CloudEvent (binary or structured, codec_kafka)
 * is emitted as is; a CloudEvent-shaped message that breaks the spec is
 * repaired from `defaults` (strict: false, counted in
 * cebridge_kafka_source_repaired_total) or sent to the dead letter
 * (strict: true); anything else is wrapped.
 */
#include "kafka_internal.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kafka_source_config {
    const char *brokers;
    const ceb_json *librdkafka;
    ceb_strlist topics;
    const char *group;
    bool strict;
    bool key_to_partitionkey;
    const ceb_template *def_source;
    const ceb_template *def_type;
    const ceb_template *def_subject;
    int64_t commit_interval_ms;
    int64_t rewind_backoff_ms;
    int64_t close_timeout_ms;
} kafka_source_config;

static const ceb_option kafka_source_options[] = {
    CEB_OPT_STRING_FIELD("brokers", NULL, CEB_OPT_REQUIRED, kafka_source_config, brokers,
                         "Bootstrap servers, host:port[,host:port...]."),
    CEB_OPT_OBJECT_FIELD("librdkafka", NULL, 0, kafka_source_config, librdkafka,
                         "librdkafka properties passed through (SASL, TLS, tuning); string values "
                         "may be ${env:NAME} or ${file:PATH}."),
    CEB_OPT_LIST_FIELD("topics", NULL, CEB_OPT_REQUIRED, kafka_source_config, topics,
                       "Topics to consume: names, or regular expressions starting with ^."),
    CEB_OPT_STRING_FIELD("group", NULL, CEB_OPT_REQUIRED, kafka_source_config, group,
                         "Consumer group id; processes sharing it share the partitions."),
    CEB_OPT_BOOL_FIELD("strict", "false", 0, kafka_source_config, strict,
                       "Send CloudEvent-shaped messages that break the spec to the dead letter "
                       "instead of repairing them from defaults."),
    CEB_OPT_BOOL_FIELD("key_to_partitionkey", "true", 0, kafka_source_config,
                       key_to_partitionkey,
                       "Set the partitionkey extension from the record key when the event has none."),
    CEB_OPT_TEMPLATE_FIELD("defaults.source", "\"kafka://{topic}\"", 0, kafka_source_config,
                           def_source,
                           "source for wrapped messages and repairs; roots topic, partition, "
                           "offset, key."),
    CEB_OPT_TEMPLATE_FIELD("defaults.type", "\"dev.cebridge.kafka.message\"", 0,
                           kafka_source_config, def_type,
                           "type for wrapped messages and repairs."),
    CEB_OPT_TEMPLATE_FIELD("defaults.subject", NULL, 0, kafka_source_config, def_subject,
                           "subject for wrapped messages (e.g. \"{key}\"); none by default."),
    CEB_OPT_DURATION_FIELD("commit_interval", "\"1s\"", 0, kafka_source_config,
                           commit_interval_ms, 10, 3600000,
                           "How often finished offsets are committed."),
    CEB_OPT_DURATION_FIELD("rewind_backoff", "\"1s\"", 0, kafka_source_config,
                           rewind_backoff_ms, 0, 3600000,
                           "Delay before a partition is re-read after a message could not be "
                           "delivered nor dead-lettered."),
    CEB_OPT_DURATION_FIELD("close_timeout", "\"10s\"", 0, kafka_source_config,
                           close_timeout_ms, 0, 3600000,
                           "At stop: how long to wait for the final commit and leaving the group."),
    CEB_OPTION_END};

struct ks_part;

/* Most events in one emit() (one ack token). */
#define KS_BATCH_MAX 512

/* Records per decode job, and jobs at the worker at once. */
#define KS_JOB_MAX 256
#define KS_JOBS_INFLIGHT 4

/* One polled record in a decode job. */
typedef struct ks_slot {
    rd_kafka_message_t *m;       /* owned until the loop takes the job back; the
                                    worker destroys it when it made the event */
    struct ks_part *p;           /* the record's partition (NULL: out of memory) */
    int64_t offset;
    const char *def_source;      /* the partition's defaults (owned by it), NULL when */
    const char *def_type;        /*   they depend on the record: the loop decodes */
    ceb_event *ev;               /* the worker's event; NULL: decode again on the loop */
    unsigned repaired;           /* CEB_REPAIRED_* of a repair */
    bool wrapped;                /* not a CloudEvent: wrapped */
} ks_slot;

typedef struct ks_job {
    ks_slot slot[KS_JOB_MAX];
    size_t n;
    atomic_bool done;            /* set by the worker (release), read by the loop */
    struct ks_job *next;         /* the loop's FIFO of jobs handed over, or the free list */
    struct ks_job *wnext;        /* the worker's pending list (under w_mu) */
} ks_job;

/* One emitted batch (a run of messages of one partition), the ack token. */
typedef struct ks_rec {
    struct ks_part *p;
    int64_t first, last; /* offsets of its first and last message */
    bool done, failed;
    struct ks_rec *next;
} ks_rec;

typedef struct ks_part {
    char *topic;
    int32_t partition;
    ks_rec *head, *tail;   /* window, offset order */
    size_t nrec;
    size_t unresolved;     /* records (batches) not yet acked */
    int64_t commit_at;     /* offset to commit (next to read), -1: nothing done yet */
    int64_t committed;     /* last commit sent, -1: none */
    bool revoked;          /* detached: acks are ignored, freed when nrec == 0 */
    bool rewinding;        /* a record failed: paused, re-read from rewind_to */
    int64_t rewind_to;
    uint64_t rewind_after; /* loop time */
    bool paused;           /* paused by us (rewind) */
    char *def_source, *def_type; /* defaults.source/type rendered for this partition, when
                                    they name neither offset nor key; NULL: not yet */
    struct ks_part *next;
} ks_part;

typedef struct kafka_source {
    ceb_ctx ctx; /* first: rd_kafka_opaque() is this state (kafka_log_cb) */
    kafka_source_config cfg;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;   /* the consumer queue (main queue forwarded to it) */
    kafka_qwatch qw;
    bool watching;
    uv_idle_t more;        /* continue draining a busy queue without starving the loop */
    bool more_open, more_active;
    ks_part *parts;        /* assigned */
    ks_part *detached;     /* revoked, records still out */
    ks_part *last;         /* lookup cache */
    size_t unresolved;     /* records over every partition */
    ks_rec *open;          /* the batch being filled (in its window, not emitted) */
    ceb_event *batch[KS_BATCH_MAX];
    size_t nbatch;
    bool backpressure;     /* the core asked us to pause: stop draining the queue */
    bool hard_paused;      /* ... and it lasted: partitions paused in librdkafka */
    uint64_t bp_since;     /* loop time of pause() */
    bool stopping, closing, finished;
    uint64_t next_commit;  /* loop time */
    uint64_t close_deadline;
    ceb_buf b_source, b_type, b_subject;
    char lookup_num[2][24];
    const rd_kafka_message_t *cur; /* for template lookups */
    bool per_record;       /* a lookup of this render named offset or key */
    ceb_metric *m_repaired, *m_wrapped, *m_rejected;
    ceb_rng rng;           /* ids of wrapped records: one getrandom() per 32 */
    ceb_clock clock;       /* their `time`: the second formatted once */

    /* decode worker (see the top of this file) */
    uv_thread_t w_thread;
    bool w_started;
    uv_mutex_t w_mu;       /* guards w_pending*, w_quit */
    uv_cond_t w_wake;      /* the worker waits for work */
    uv_cond_t w_idle;      /* a drain waits for the worker */
    ks_job *w_pending, *w_pending_tail;
    bool w_quit;
    ceb_rng w_rng;         /* the worker's own */
    ceb_clock w_clock;
    uv_async_t w_async;    /* a job is done */
    bool w_async_open;
    ks_job *jobs, *jobs_tail; /* loop: handed over, poll order */
    size_t njobs;
    ks_job *filling;       /* loop: being filled by serve */
    ks_job *free_jobs;
    bool capped;           /* serve stopped at KS_JOBS_INFLIGHT: serve again on completion */
    size_t wrapped_taken;  /* wrapped by the worker, counted once per job taken */
} kafka_source;

/* ---- partitions ------------------------------------------------------------- */

static ks_part *ks_find(kafka_source *s, const char *topic, int32_t partition)
{
    if (s->last != NULL && s->last->partition == partition && strcmp(s->last->topic, topic) == 0)
        return s->last;
    for (ks_part *p = s->parts; p != NULL; p = p->next)
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return s->last = p;
    return NULL;
}

static ks_part *ks_add(kafka_source *s, const char *topic, int32_t partition)
{
    ks_part *p = ks_find(s, topic, partition);
    if (p != NULL)
        return p;
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->topic = strdup(topic)) == NULL) {
        free(p);
        return NULL;
    }
    p->partition = partition;
    p->commit_at = -1;
    p->committed = -1;
    p->next = s->parts;
    s->parts = p;
    return p;
}

static void ks_part_free(ks_part *p)
{
    for (ks_rec *r = p->head, *n; r != NULL; r = n) {
        n = r->next;
        free(r);
    }
    free(p->def_source);
    free(p->def_type);
    free(p->topic);
    free(p);
}

static void ks_unlink(ks_part **list, ks_part *p)
{
    for (ks_part **pp = list; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

/* ---- commits --------------------------------------------------------------- */

static void ks_commit_add(rd_kafka_topic_partition_list_t **l, ks_part *p)
{
    if (p->commit_at < 0 || p->commit_at == p->committed)
        return;
    if (*l == NULL)
        *l = rd_kafka_topic_partition_list_new(8);
    rd_kafka_topic_partition_list_add(*l, p->topic, p->partition)->offset = p->commit_at;
    p->committed = p->commit_at;
}

static void ks_commit_send(kafka_source *s, rd_kafka_topic_partition_list_t *l)
{
    if (l == NULL)
        return;
    rd_kafka_resp_err_t err = rd_kafka_commit(s->rk, l, 1 /* async: offset_commit_cb */);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        CEB_LOG_W(&s->ctx, "commit of %d partition(s) failed: %s", l->cnt, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Commit every assigned partition whose commit point moved. */
static void ks_commit_all(kafka_source *s)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (ks_part *p = s->parts; p != NULL; p = p->next)
        ks_commit_add(&l, p);
    ks_commit_send(s, l);
}

static void ks_offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    kafka_source *s = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    CEB_LOG_W(&s->ctx, "offset commit failed: %s; will retry", rd_kafka_err2str(err));
    for (int i = 0; offsets != NULL && i < offsets->cnt; i++) {
        ks_part *p = ks_find(s, offsets->elems[i].topic, offsets->elems[i].partition);
        if (p != NULL && p->committed == offsets->elems[i].offset)
            p->committed = -1; /* send it again on the next tick */
    }
}

/* ---- pause / resume / rewind --------------------------------------------- */

static void ks_pause_one(kafka_source *s, ks_part *p, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (pause)
        rd_kafka_pause_partitions(s->rk, l);
    else
        rd_kafka_resume_partitions(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Pause (or resume) everything assigned; a partition being rewound stays paused. */
static void ks_pause_all(kafka_source *s, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (ks_part *p = s->parts; p != NULL; p = p->next)
        if (pause || !p->paused)
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (l->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(s->rk, l);
        else
            rd_kafka_resume_partitions(s->rk, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Every record of a rewinding partition is resolved: re-read from the first failure. */
static void ks_rewind(kafka_source *s, ks_part *p)
{
    for (ks_rec *r = p->head, *n; r != NULL; r = n) {
        n = r->next;
        free(r);
    }
    p->head = p->tail = NULL;
    p->nrec = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->rewind_to;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(s->rk, l, 0 /* async */);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != NULL) {
        CEB_LOG_W(&s->ctx, "%s[%" PRId32 "]: cannot rewind to offset %" PRId64 ": %s; will retry",
                  p->topic, p->partition, p->rewind_to, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        p->rewind_after = uv_now(s->ctx.host->loop(s->ctx.inst)) + 1000;
        return;
    }
    CEB_LOG_I(&s->ctx, "%s[%" PRId32 "]: re-reading from offset %" PRId64, p->topic,
              p->partition, p->rewind_to);
    p->rewinding = false;
    p->paused = false;
    if (!s->hard_paused)
        ks_pause_one(s, p, false);
}

/* ---- acknowledgements --------------------------------------------------------- */

static void ks_maybe_close(kafka_source *s);

static void kafka_source_ack(void *state, void *token, int status)
{
    kafka_source *s = state;
    ks_rec *r = token;
    ks_part *p = r->p;
    s->unresolved--;
    p->unresolved--;
    if (status == 0)
        r->done = true;
    else
        r->failed = true;
    if (p->revoked) {
        /* detached: nothing will be committed for it by this member */
        if (p->unresolved == 0) {
            ks_unlink(&s->detached, p);
            ks_part_free(p);
        }
        ks_maybe_close(s);
        return;
    }
    if (r->failed && !s->stopping) {
        if (!p->rewinding || r->first < p->rewind_to)
            p->rewind_to = r->first;
        if (!p->rewinding) {
            CEB_LOG_W(&s->ctx, "%s[%" PRId32 "] offsets %" PRId64 "..%" PRId64 " not delivered; "
                      "the partition will be re-read from there", p->topic, p->partition,
                      r->first, r->last);
            p->rewinding = true;
            p->paused = true;
            ks_pause_one(s, p, true);
            p->rewind_after = uv_now(s->ctx.host->loop(s->ctx.inst)) +
                              (uint64_t)s->cfg.rewind_backoff_ms;
        }
    }
    /* advance over the done prefix */
    while (p->head != NULL && p->head->done) {
        ks_rec *h = p->head;
        p->commit_at = h->last + 1;
        p->head = h->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->nrec--;
        free(h);
    }
    ks_maybe_close(s);
}

/* ---- messages ------------------------------------------------------------------ */

static size_t ks_headers(const rd_kafka_message_t *m, ceb_kafka_header *hv, size_t max);
static void kafka_source_serve(void *arg);

static bool ks_lookup(void *arg, const char *ref, size_t len, const char **val, size_t *vlen)
{
    kafka_source *s = arg;
    const rd_kafka_message_t *m = s->cur;
    if (len == 5 && memcmp(ref, "topic", 5) == 0) {
        *val = rd_kafka_topic_name(m->rkt);
        *vlen = strlen(*val);
        return true;
    }
    if (len == 9 && memcmp(ref, "partition", 9) == 0) {
        *vlen = (size_t)snprintf(s->lookup_num[0], sizeof s->lookup_num[0], "%" PRId32,
                                 m->partition);
        *val = s->lookup_num[0];
        return true;
    }
    if ((len == 6 && memcmp(ref, "offset", 6) == 0) || (len == 3 && memcmp(ref, "key", 3) == 0))
        s->per_record = true;
    if (len == 6 && memcmp(ref, "offset", 6) == 0) {
        *vlen = (size_t)snprintf(s->lookup_num[1], sizeof s->lookup_num[1], "%" PRId64,
                                 m->offset);
        *val = s->lookup_num[1];
        return true;
    }
    if (len == 3 && memcmp(ref, "key", 3) == 0 && m->key != NULL) {
        *val = m->key;
        *vlen = m->key_len;
        return true;
    }
    return false;
}

static int ks_render(kafka_source *s, const ceb_template *t, ceb_buf *b)
{
    ceb_buf_reset(b);
    if (t == NULL)
        return 0;
    int rc = ceb_template_render_with(t, NULL, ks_lookup, s, b);
    if (rc == 0)
        rc = ceb_buf_append(b, "", 0);
    return rc;
}

/* defaults.source and defaults.type for the record s->cur of partition p into
   *src and *type: kept per partition when they depend on neither the offset
   nor the key (the default templates name only {topic}), else rendered for
   each record. Returns 0 or CEB_ENOMEM. */
static int ks_defaults(kafka_source *s, ks_part *p, const char **src, const char **type)
{
    if (p->def_source != NULL) {
        *src = p->def_source;
        *type = p->def_type;
        return 0;
    }
    s->per_record = false;
    int rc = ks_render(s, s->cfg.def_source, &s->b_source);
    if (rc == 0)
        rc = ks_render(s, s->cfg.def_type, &s->b_type);
    if (rc < 0)
        return rc;
    *src = s->b_source.data;
    *type = s->b_type.data;
    if (!s->per_record && *src != NULL && *type != NULL &&
        (p->def_source = strdup(*src)) != NULL &&
        (p->def_type = strdup(*type)) == NULL) {
        free(p->def_source);
        p->def_source = NULL;
    }
    return 0;
}

static void ks_count(kafka_source *s, ceb_metric *m)
{
    if (m != NULL)
        s->ctx.host->metric_add(m, NULL, 1);
}

/* A new record at the tail of p's window, unresolved until its ack. */
static ks_rec *ks_rec_new(kafka_source *s, ks_part *p, int64_t offset)
{
    ks_rec *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->p = p;
    r->first = r->last = offset;
    if (p->tail != NULL)
        p->tail->next = r;
    else
        p->head = r;
    p->tail = r;
    p->nrec++;
    p->unresolved++;
    s->unresolved++;
    return r;
}

/* Emit the batch being filled, if any. */
static void ks_flush(kafka_source *s)
{
    ks_rec *r = s->open;
    if (r == NULL)
        return;
    size_t n = s->nbatch;
    s->open = NULL;
    s->nbatch = 0;
    int rc = s->ctx.host->emit(s->ctx.inst, s->batch, n, r);
    if (rc < 0) /* no ack will come: resolve it as not delivered */
        kafka_source_ack(s, r, rc);
}

/* Add `ev` (offset `offset` of p) to the open batch, flushing it first when
   it belongs to another partition or is full. */
static void ks_append(kafka_source *s, ks_part *p, int64_t offset, ceb_event *ev)
{
    if (s->open != NULL && (s->open->p != p || s->nbatch == KS_BATCH_MAX))
        ks_flush(s);
    if (s->open == NULL && (s->open = ks_rec_new(s, p, offset)) == NULL) {
        ceb_event_unref(ev);
        return;
    }
    s->open->last = offset;
    s->batch[s->nbatch++] = ev;
}

/* False only when the record cannot be a CloudEvent (no ce_ headers, no
   structured or other event content-type, and the value cannot be a JSON
   object with a "specversion" member, which it would name literally or
   through an escape): such records are wrapped without a JSON parse. */
static bool ks_maybe_event(const ceb_kafka_header *hv, size_t nh, const rd_kafka_message_t *m)
{
    if (ceb_kafka_classify(hv, nh) != CEB_KAFKA_MODE_BINARY || ceb_kafka_is_binary_event(hv, nh))
        return true;
    if (m->payload == NULL)
        return false;
    const char *v = m->payload;
    if (memchr(v, '\\', m->len) != NULL)
        return true;
    static const char name[] = "specversion";
    const size_t nl = sizeof name - 1;
    for (size_t i = 0; i + nl <= m->len; i++) {
        const char *q = memchr(v + i, 's', m->len - nl - i + 1);
        if (q == NULL)
            break;
        i = (size_t)(q - v);
        if (memcmp(q, name, nl) == 0)
            return true;
    }
    return false;
}

/* Wrap record m, which is not a CloudEvent: data = its value,
   datacontenttype = its content-type header, partitionkey = its key (when
   key_to_partitionkey), a new id and time from rng and clk (owned by the
   calling thread). Reads only the immutable configuration, so both the
   loop and the decode worker call it. Returns 0 and *out, or a negative
   code with d set (*out untouched). */
static int ks_wrap(const kafka_source *s, ceb_rng *rng, ceb_clock *clk,
                   const rd_kafka_message_t *m, const ceb_kafka_header *hv, size_t nh,
                   const char *type, const char *source, const char *subject, ceb_event **out,
                   ceb_diag *d)
{
    const ceb_kafka_header *ct = ceb_kafka_header_find(hv, nh, "content-type");
    char ctype[128] = "";
    if (ct != NULL && ct->value != NULL && ct->value_len < sizeof ctype) {
        memcpy(ctype, ct->value, ct->value_len);
        ctype[ct->value_len] = '\0';
    }
    if (d->code != 0)
        ceb_diag_clear(d); /* what the decode said: not a CloudEvent */
    ceb_event *ev = NULL;
    int rc = ceb_event_wrap_from(rng, clk, m->payload ? m->payload : "", m->len,
                                 ctype[0] ? ctype : NULL, type, source, subject, &ev, d);
    if (rc < 0)
        return rc;
    if (s->cfg.key_to_partitionkey && m->key != NULL && m->key_len > 0 &&
        memchr(m->key, '\0', m->key_len) == NULL)
        (void)ceb_event_setn(ev, "partitionkey", m->key, m->key_len, NULL);
    *out = ev;
    return 0;
}

/* Turn one record into an event and add it to the open batch (or
   dead-letter it on its own). */
static void ks_message(kafka_source *s, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    ks_part *p = ks_find(s, topic, m->partition);
    if (p == NULL && (p = ks_add(s, topic, m->partition)) == NULL) {
        CEB_LOG_E(&s->ctx, "out of memory; %s[%" PRId32 "] offset %" PRId64 " left unread",
                  topic, m->partition, m->offset);
        return;
    }
    if (p->rewinding)
        return; /* re-read after the seek */

    ceb_kafka_header hv[64];
    size_t nh = ks_headers(m, hv, sizeof hv / sizeof hv[0]);
    ceb_kafka_message km = {hv, nh, m->key, m->key_len, m->payload, m->len};
    s->cur = m;
    const char *def_source, *def_type;
    int rc = ks_defaults(s, p, &def_source, &def_type);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "cannot render defaults: %s", ceb_strerror(rc));
        return;
    }
    ceb_decode_opts o = {.strict = s->cfg.strict, .default_source = def_source,
                         .default_type = def_type};
    ceb_diag d; /* as if zeroed: every reader takes the strings; 640 bytes a record */
    d.code = 0;
    d.field[0] = d.message[0] = '\0';
    ceb_event *ev = NULL;
    if (ks_maybe_event(hv, nh, m))
        rc = ceb_kafka_decode(&km, s->cfg.key_to_partitionkey ? CEB_KAFKA_KEY_TO_PARTITIONKEY : 0,
                              &o, &ev, NULL, &d);
    else
        rc = CEB_EDECODE; /* what the decode would say, without parsing the value */
    char reason[700];
    bool dead = false;
    if (rc == 0 && o.repaired != 0) {
        ks_count(s, s->m_repaired);
        CEB_LOG_D(&s->ctx, "%s[%" PRId32 "] offset %" PRId64 ": repaired (0x%x)", topic,
                  m->partition, m->offset, o.repaired);
    } else if (rc == CEB_EDECODE) {
        if ((rc = ks_render(s, s->cfg.def_subject, &s->b_subject)) < 0)
            return;
        rc = ks_wrap(s, &s->rng, &s->clock, m, hv, nh, def_type, def_source,
                     s->b_subject.len > 0 ? s->b_subject.data : NULL, &ev, &d);
        if (rc == 0)
            ks_count(s, s->m_wrapped);
    } else if (rc == CEB_ESPEC || rc == CEB_ENOTSUP) {
        snprintf(reason, sizeof reason, "%s%s%s", d.field, d.field[0] ? ": " : "", d.message);
        CEB_LOG_W(&s->ctx, "%s[%" PRId32 "] offset %" PRId64 ": not a valid CloudEvent (%s); "
                  "sent to the dead letter", topic, m->partition, m->offset, reason);
        ks_count(s, s->m_rejected);
        dead = true;
        ceb_diag_clear(&d);
        rc = ceb_event_wrap_from(&s->rng, &s->clock, m->payload ? m->payload : "", m->len,
                                 NULL, def_type, def_source, NULL, &ev, &d);
    }
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "%s[%" PRId32 "] offset %" PRId64 ": %s; left unread", topic,
                  m->partition, m->offset, d.message[0] ? d.message : ceb_strerror(rc));
        return;
    }
    if (dead) {
        ks_flush(s); /* keeps the window in offset order */
        ks_rec *r = ks_rec_new(s, p, m->offset);
        if (r == NULL) {
            ceb_event_unref(ev);
            return;
        }
        rc = s->ctx.host->emit_dead_letter(s->ctx.inst, ev, reason, r);
        if (rc < 0)
            kafka_source_ack(s, r, rc);
        return;
    }
    ks_append(s, p, m->offset, ev);
}

/* ---- decode worker ------------------------------------------------------------ */

/* The record's headers as codec_kafka wants them (librdkafka parses them on
   the first call, then keeps them with the message). */
static size_t ks_headers(const rd_kafka_message_t *m, ceb_kafka_header *hv, size_t max)
{
    size_t nh = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t vlen;
        for (size_t i = 0; nh < max && rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen) == 0;
             i++)
            hv[nh++] = (ceb_kafka_header){name, strlen(name), val, vlen};
    }
    return nh;
}

/* Worker thread: decode one record as ks_message() would when that needs no
   loop-owned state; otherwise leave sl->ev NULL for the loop. Reads only the
   immutable configuration, the slot, and the worker's rng and clock. */
static void ks_work_slot(kafka_source *s, ks_slot *sl)
{
    const rd_kafka_message_t *m = sl->m;
    ceb_kafka_header hv[64];
    size_t nh = ks_headers(m, hv, sizeof hv / sizeof hv[0]);
    sl->ev = NULL;
    sl->repaired = 0;
    sl->wrapped = false;
    if (sl->def_source == NULL)
        return;
    ceb_kafka_message km = {hv, nh, m->key, m->key_len, m->payload, m->len};
    ceb_decode_opts o = {.strict = s->cfg.strict, .default_source = sl->def_source,
                         .default_type = sl->def_type};
    ceb_diag d;
    d.code = 0;
    d.field[0] = d.message[0] = '\0';
    int rc = CEB_EDECODE;
    if (ks_maybe_event(hv, nh, m))
        rc = ceb_kafka_decode(&km, s->cfg.key_to_partitionkey ? CEB_KAFKA_KEY_TO_PARTITIONKEY : 0,
                              &o, &sl->ev, NULL, &d);
    if (rc == 0) {
        sl->repaired = o.repaired;
        return;
    }
    if (rc != CEB_EDECODE || s->cfg.def_subject != NULL)
        return; /* a dead letter, an error, or a per-record subject: the loop's */
    if (ks_wrap(s, &s->w_rng, &s->w_clock, m, hv, nh, sl->def_type, sl->def_source, NULL,
                &sl->ev, &d) == 0)
        sl->wrapped = true;
}

static void ks_worker_main(void *arg)
{
    kafka_source *s = arg;
    uv_mutex_lock(&s->w_mu);
    for (;;) {
        while (s->w_pending == NULL && !s->w_quit)
            uv_cond_wait(&s->w_wake, &s->w_mu);
        ks_job *j = s->w_pending;
        if (j == NULL)
            break; /* quit, nothing pending */
        s->w_pending = j->wnext;
        if (s->w_pending == NULL)
            s->w_pending_tail = NULL;
        uv_mutex_unlock(&s->w_mu);
        for (size_t i = 0; i < j->n; i++) {
            ks_slot *sl = &j->slot[i];
            ks_work_slot(s, sl);
            if (sl->ev != NULL) {
                /* its headers were allocated on this thread: freed here,
                   they go back to this thread's cache instead of costing
                   the loop a cross-thread free (~900 instructions a record) */
                rd_kafka_message_destroy(sl->m);
                sl->m = NULL;
            }
        }
        atomic_store_explicit(&j->done, true, memory_order_release);
        uv_async_send(&s->w_async);
        uv_mutex_lock(&s->w_mu);
        uv_cond_signal(&s->w_idle);
    }
    uv_mutex_unlock(&s->w_mu);
}

/* Hand the job being filled to the worker. */
static void ks_job_submit(kafka_source *s)
{
    ks_job *j = s->filling;
    if (j == NULL || j->n == 0)
        return;
    s->filling = NULL;
    atomic_store_explicit(&j->done, false, memory_order_relaxed);
    j->next = j->wnext = NULL;
    if (s->jobs_tail != NULL)
        s->jobs_tail->next = j;
    else
        s->jobs = j;
    s->jobs_tail = j;
    s->njobs++;
    uv_mutex_lock(&s->w_mu);
    if (s->w_pending_tail != NULL)
        s->w_pending_tail->wnext = j;
    else
        s->w_pending = j;
    s->w_pending_tail = j;
    uv_cond_signal(&s->w_wake);
    uv_mutex_unlock(&s->w_mu);
}

/* Loop: take one decoded record: into the open batch, or decoded again by
   ks_message() when the worker left it. */
static void ks_take(kafka_source *s, ks_slot *sl)
{
    if (sl->ev == NULL) {
        if (!s->stopping)
            ks_message(s, sl->m);
        rd_kafka_message_destroy(sl->m);
        sl->m = NULL;
        return;
    }
    /* sl->p is still assigned: a rebalance drains the jobs before it
       revokes anything */
    ks_part *p = sl->p;
    if (p->rewinding || s->stopping) {
        ceb_event_unref(sl->ev); /* re-read after the seek, or never acked */
    } else {
        if (sl->repaired != 0) {
            ks_count(s, s->m_repaired);
            CEB_LOG_D(&s->ctx, "%s[%" PRId32 "] offset %" PRId64 ": repaired (0x%x)", p->topic,
                      p->partition, sl->offset, sl->repaired);
        } else if (sl->wrapped) {
            s->wrapped_taken++;
        }
        ks_append(s, p, sl->offset, sl->ev);
    }
    sl->ev = NULL;
}

/* Loop: take back the finished jobs at the head of the FIFO, in order. */
static void ks_jobs_complete(kafka_source *s)
{
    ks_job *j;
    while ((j = s->jobs) != NULL && atomic_load_explicit(&j->done, memory_order_acquire)) {
        for (size_t i = 0; i < j->n; i++)
            ks_take(s, &j->slot[i]);
        if (s->wrapped_taken > 0) {
            /* one update per job: a metric update takes the registry's lock */
            if (s->m_wrapped != NULL)
                s->ctx.host->metric_add(s->m_wrapped, NULL, (double)s->wrapped_taken);
            s->wrapped_taken = 0;
        }
        /* counted until its messages are destroyed: ks_maybe_close waits */
        s->jobs = j->next;
        if (s->jobs == NULL)
            s->jobs_tail = NULL;
        s->njobs--;
        j->n = 0;
        j->next = s->free_jobs;
        s->free_jobs = j;
    }
}

/* Loop: hand over what is being filled and wait until the worker finished
   every job, then take them all. */
static void ks_jobs_drain(kafka_source *s)
{
    ks_job_submit(s);
    if (s->jobs_tail == NULL)
        return;
    ks_job *last = s->jobs_tail; /* the worker works in FIFO order */
    uv_mutex_lock(&s->w_mu);
    while (!atomic_load_explicit(&last->done, memory_order_acquire))
        uv_cond_wait(&s->w_idle, &s->w_mu);
    uv_mutex_unlock(&s->w_mu);
    ks_jobs_complete(s);
}

/* Loop: one polled record into the job being filled. */
static void ks_stage(kafka_source *s, rd_kafka_message_t *m)
{
    ks_job *j = s->filling;
    if (j == NULL) {
        if ((j = s->free_jobs) != NULL)
            s->free_jobs = j->next;
        else if ((j = calloc(1, sizeof *j)) == NULL) {
            ks_message(s, m); /* no memory for a job: decode here */
            rd_kafka_message_destroy(m);
            return;
        }
        j->n = 0;
        s->filling = j;
    }
    ks_slot *sl = &j->slot[j->n++];
    sl->m = m;
    sl->offset = m->offset;
    sl->def_source = sl->def_type = NULL;
    const char *topic = rd_kafka_topic_name(m->rkt);
    ks_part *p = ks_find(s, topic, m->partition);
    if (p == NULL)
        p = ks_add(s, topic, m->partition);
    sl->p = p;
    const char *src, *type;
    s->cur = m;
    if (p != NULL && ks_defaults(s, p, &src, &type) == 0 && p->def_source != NULL) {
        sl->def_source = p->def_source; /* kept by the partition until it is freed, */
        sl->def_type = p->def_type;     /* which a drain always precedes */
    }
    if (j->n == KS_JOB_MAX)
        ks_job_submit(s);
}

static void ks_async_cb(uv_async_t *h)
{
    kafka_source *s = h->data;
    if (s->finished)
        return;
    ks_jobs_complete(s);
    ks_flush(s);
    if (s->capped && s->njobs < KS_JOBS_INFLIGHT && s->rk != NULL && !s->finished) {
        s->capped = false;
        kafka_source_serve(s);
    }
    if (s->stopping && !s->finished)
        ks_maybe_close(s);
}

static void ks_more_cb(uv_idle_t *h)
{
    kafka_source_serve(h->data);
}

/* Drain the consumer queue: messages, rebalances, commit results, logs. */
static void kafka_source_serve(void *arg)
{
    kafka_source *s = arg;
    if (s->rk == NULL || s->finished)
        return;
    int budget = 2048;
    rd_kafka_message_t *m = NULL;
    ks_jobs_complete(s);
    if (s->rk == NULL || s->finished)
        return;
    /* Soft backpressure: leave prefetched messages in librdkafka's queue
       (bounded by queued.max.messages.kbytes) rather than pausing the
       partitions at once, which would drop and re-fetch them. */
    while (budget > 0 && (!s->backpressure || s->hard_paused || s->stopping)) {
        if (s->njobs >= KS_JOBS_INFLIGHT) {
            s->capped = true; /* ks_async_cb serves again */
            break;
        }
        if ((m = rd_kafka_consumer_poll(s->rk, 0)) == NULL)
            break;
        budget--;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && !s->stopping) {
            ks_stage(s, m); /* takes m */
            continue;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            CEB_LOG_W(&s->ctx, "consumer: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        if (s->rk == NULL || s->finished)
            return; /* only while stopping: no batch is open then */
    }
    ks_job_submit(s);
    ks_flush(s);
    /* the io event fires only on empty -> non-empty: keep going while busy */
    bool busy = budget == 0 && !s->backpressure;
    if (busy != s->more_active && s->more_open) {
        if (busy)
            uv_idle_start(&s->more, ks_more_cb);
        else
            uv_idle_stop(&s->more);
        s->more_active = busy;
    }
    if (s->closing)
        ks_maybe_close(s);
}

/* Periodic: commits, due rewinds, the close deadline. */
static void kafka_source_tick(void *arg)
{
    kafka_source *s = arg;
    uint64_t now = uv_now(s->ctx.host->loop(s->ctx.inst));
    if (s->rk == NULL || s->finished)
        return;
    if (s->backpressure && !s->hard_paused && !s->stopping && now - s->bp_since >= 1000) {
        /* paused for a while: pause the partitions and keep serving the
           queue, so rebalances and max.poll.interval.ms are honoured */
        ks_pause_all(s, true);
        s->hard_paused = true;
    }
    for (ks_part *p = s->parts; p != NULL; p = p->next)
        if (p->rewinding && p->unresolved == 0 && now >= p->rewind_after && !s->stopping) {
            ks_jobs_drain(s); /* records polled before the seek are dropped first */
            ks_rewind(s, p);
        }
    if (now >= s->next_commit && !s->closing) {
        ks_commit_all(s);
        s->next_commit = now + (uint64_t)s->cfg.commit_interval_ms;
    }
    if (s->closing)
        ks_maybe_close(s);
}

/* ---- rebalance ---------------------------------------------------------------- */

static void ks_revoke(kafka_source *s, const rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_topic_partition_list_t *c = NULL;
    for (int i = 0; i < l->cnt; i++) {
        ks_part *p = ks_find(s, l->elems[i].topic, l->elems[i].partition);
        if (p == NULL)
            continue;
        ks_commit_add(&c, p);
        ks_unlink(&s->parts, p);
        if (s->last == p)
            s->last = NULL;
        if (p->unresolved == 0) {
            ks_part_free(p);
        } else {
            p->revoked = true;
            p->next = s->detached;
            s->detached = p;
        }
    }
    ks_commit_send(s, c);
}

static void ks_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_source *s = opaque;
    ks_jobs_drain(s); /* what was polled before the rebalance is taken first, */
    ks_flush(s);      /* and the open batch belongs to the assignment being changed */
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        CEB_LOG_I(&s->ctx, "assigned %d partition(s)", parts->cnt);
        for (int i = 0; i < parts->cnt; i++)
            if (ks_add(s, parts->elems[i].topic, parts->elems[i].partition) == NULL)
                CEB_LOG_E(&s->ctx, "out of memory tracking %s[%" PRId32 "]",
                          parts->elems[i].topic, parts->elems[i].partition);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (s->hard_paused || s->stopping)
            rd_kafka_pause_partitions(rk, parts);
    } else {
        CEB_LOG_I(&s->ctx, "%s %d partition(s)",
                  err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "revoked" : "lost", parts->cnt);
        /* lost partitions may already belong to another member: do not commit them */
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk))
            ks_revoke(s, parts);
        else {
            for (int i = 0; i < parts->cnt; i++) {
                ks_part *p = ks_find(s, parts->elems[i].topic, parts->elems[i].partition);
                if (p != NULL)
                    p->commit_at = p->committed; /* nothing more to commit */
            }
            ks_revoke(s, parts);
        }
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e != NULL) {
        CEB_LOG_E(&s->ctx, "rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static void ks_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_source *s = opaque;
    (void)rk;
    CEB_LOG_W(&s->ctx, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int kafka_source_create(ceb_instance *inst, const ceb_host *host, const void *config,
                               ceb_diag *diag, void **state)
{
    kafka_source *s = calloc(1, sizeof *s);
    if (s == NULL)
        return CEB_ENOMEM;
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->cfg = *(const kafka_source_config *)config;
    int rc = 0;
    if (s->cfg.topics.n == 0)
        rc = ceb_diag_set_field(diag, CEB_ECONFIG, "topics", "give at least one topic");
    for (size_t i = 0; rc == 0 && i < s->cfg.topics.n; i++)
        if (s->cfg.topics.v[i][0] == '\0')
            rc = ceb_diag_set_field(diag, CEB_ECONFIG, "topics", "topic names cannot be empty");
    if (rc == 0 && s->cfg.group[0] == '\0')
        rc = ceb_diag_set_field(diag, CEB_ECONFIG, "group", "the consumer group cannot be empty");
    if (rc < 0) {
        free(s);
        return rc;
    }
    kafka_pin_library();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const fixed[][2] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"log.queue", "true"},
        /* librdkafka 2.0 counts every partition's prefetch on the shared
           consumer queue: at queued.min.messages (default 100000) all fetching
           stops and resumes only when a broker thread wakes up for another
           reason, up to 1 s later, by which time the loop has drained the
           queue. A larger default keeps a backlog flowing (400k-record
           backlog: 128k -> 206-287k events/s; peak RSS 63 -> 160 MB).
           Overridable through `librdkafka`. */
        {"queued.min.messages", "300000"},
    };
    for (size_t i = 0; rc == 0 && i < sizeof fixed / sizeof fixed[0]; i++)
        rc = kafka_conf_set(conf, fixed[i][0], fixed[i][1], diag);
    if (rc == 0)
        rc = kafka_conf_set(conf, "group.id", s->cfg.group, diag);
    if (rc == 0)
        rc = kafka_conf_apply(conf, s->cfg.brokers, s->cfg.librdkafka, diag);
    /* what the ordering guarantee rests on cannot be overridden */
    if (rc == 0)
        rc = kafka_conf_set(conf, "enable.auto.commit", "false", diag);
    if (rc == 0)
        rc = kafka_conf_set(conf, "enable.auto.offset.store", "false", diag);
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        free(s);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_rebalance_cb(conf, ks_rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, ks_offset_commit_cb);
    rd_kafka_conf_set_error_cb(conf, ks_error_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    char err[256];
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (s->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        free(s);
        return ceb_diag_set_field(diag, CEB_ECONFIG, "librdkafka", "%s", err);
    }
    rd_kafka_set_log_queue(s->rk, NULL);
    rd_kafka_poll_set_consumer(s->rk); /* main queue (logs, errors) -> consumer queue */
    s->q = rd_kafka_queue_get_consumer(s->rk);
    if (host->metric_register != NULL) {
        host->metric_register(inst, CEB_METRIC_COUNTER, "kafka_source_repaired_total",
                              "CloudEvent-shaped Kafka messages repaired from defaults",
                              NULL, 0, NULL, 0, &s->m_repaired);
        host->metric_register(inst, CEB_METRIC_COUNTER, "kafka_source_wrapped_total",
                              "Kafka messages that were not CloudEvents, wrapped",
                              NULL, 0, NULL, 0, &s->m_wrapped);
        host->metric_register(inst, CEB_METRIC_COUNTER, "kafka_source_rejected_total",
                              "Kafka messages refused (strict) and sent to the dead letter",
                              NULL, 0, NULL, 0, &s->m_rejected);
    }
    *state = s;
    return 0;
}

/* Start the decode worker and its completion handle. */
static int ks_worker_start(kafka_source *s, uv_loop_t *loop)
{
    int rc = uv_mutex_init(&s->w_mu);
    if (rc < 0)
        return rc;
    if ((rc = uv_cond_init(&s->w_wake)) < 0)
        goto fail_mu;
    if ((rc = uv_cond_init(&s->w_idle)) < 0)
        goto fail_wake;
    if ((rc = uv_async_init(loop, &s->w_async, ks_async_cb)) < 0)
        goto fail_idle;
    s->w_async.data = s;
    s->w_async_open = true;
    if ((rc = uv_thread_create(&s->w_thread, ks_worker_main, s)) < 0) {
        uv_close((uv_handle_t *)&s->w_async, NULL); /* closed before the loop runs again */
        s->w_async_open = false;
        goto fail_idle;
    }
    s->w_started = true;
    return 0;
fail_idle:
    uv_cond_destroy(&s->w_idle);
fail_wake:
    uv_cond_destroy(&s->w_wake);
fail_mu:
    uv_mutex_destroy(&s->w_mu);
    return rc;
}

/* Stop and join the worker (nothing may be pending: drained before). */
static void ks_worker_join(kafka_source *s)
{
    if (!s->w_started)
        return;
    uv_mutex_lock(&s->w_mu);
    s->w_quit = true;
    uv_cond_signal(&s->w_wake);
    uv_mutex_unlock(&s->w_mu);
    uv_thread_join(&s->w_thread);
    s->w_started = false;
    uv_cond_destroy(&s->w_idle);
    uv_cond_destroy(&s->w_wake);
    uv_mutex_destroy(&s->w_mu);
}

static int kafka_source_start(void *state)
{
    kafka_source *s = state;
    int rc = ks_worker_start(s, s->ctx.host->loop(s->ctx.inst));
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "cannot start the decode thread: %s", ceb_strerror(rc));
        return rc;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->cfg.topics.n);
    for (size_t i = 0; i < s->cfg.topics.n; i++)
        rd_kafka_topic_partition_list_add(l, s->cfg.topics.v[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        CEB_LOG_E(&s->ctx, "cannot subscribe: %s", rd_kafka_err2str(err));
        ks_worker_join(s);
        return CEB_EINVAL;
    }
    uv_loop_t *loop = s->ctx.host->loop(s->ctx.inst);
    s->qw.serve = kafka_source_serve;
    s->qw.tick_cb = kafka_source_tick;
    s->qw.arg = s;
    uint64_t tick = (uint64_t)s->cfg.commit_interval_ms < 200 ? (uint64_t)s->cfg.commit_interval_ms
                                                              : 200;
    rc = kafka_qwatch_start(&s->qw, loop, s->q, tick);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "cannot watch the librdkafka queue: %s", ceb_strerror(rc));
        rd_kafka_unsubscribe(s->rk);
        ks_worker_join(s);
        return rc;
    }
    s->watching = true;
    uv_idle_init(loop, &s->more);
    s->more.data = s;
    s->more_open = true;
    s->next_commit = uv_now(loop) + (uint64_t)s->cfg.commit_interval_ms;
    CEB_LOG_I(&s->ctx, "consuming %zu topic pattern(s) as group %s", s->cfg.topics.n,
              s->cfg.group);
    kafka_source_serve(s);
    return 0;
}

static void kafka_source_pause(void *state)
{
    kafka_source *s = state;
    if (s->backpressure)
        return;
    s->backpressure = true;
    s->bp_since = uv_now(s->ctx.host->loop(s->ctx.inst));
}

static void kafka_source_resume(void *state)
{
    kafka_source *s = state;
    if (!s->backpressure)
        return;
    s->backpressure = false;
    if (s->hard_paused && !s->stopping)
        ks_pause_all(s, false);
    s->hard_paused = false;
    /* the queue may hold messages already (no new io event will come):
       continue on the next loop turn, not inside the core's call */
    if (s->more_open && !s->more_active && !s->stopping) {
        uv_idle_start(&s->more, ks_more_cb);
        s->more_active = true;
    }
}

/* ---- stop -------------------------------------------------------------------------- */

static void ks_handles_closed(kafka_source *s)
{
    if (s->watching || s->more_open || s->w_async_open)
        return;
    s->ctx.host->stopped(s->ctx.inst);
}

static void ks_qw_closed(void *arg)
{
    kafka_source *s = arg;
    s->watching = false;
    ks_handles_closed(s);
}

static void ks_more_closed(uv_handle_t *h)
{
    kafka_source *s = h->data;
    s->more_open = false;
    ks_handles_closed(s);
}

static void ks_async_closed(uv_handle_t *h)
{
    kafka_source *s = h->data;
    s->w_async_open = false;
    ks_handles_closed(s);
}

static void ks_finish(kafka_source *s)
{
    ks_jobs_drain(s); /* every polled message destroyed before the handle */
    ks_worker_join(s);
    s->finished = true;
    bool closed = rd_kafka_consumer_closed(s->rk);
    if (!closed)
        CEB_LOG_W(&s->ctx, "close timeout: leaving the group without a clean close");
    rd_kafka_queue_io_event_enable(s->q, -1, NULL, 0);
    rd_kafka_queue_destroy(s->q);
    s->q = NULL;
    rd_kafka_destroy_flags(s->rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    s->rk = NULL;
    if (s->more_open)
        uv_close((uv_handle_t *)&s->more, ks_more_closed);
    if (s->w_async_open)
        uv_close((uv_handle_t *)&s->w_async, ks_async_closed);
    if (s->watching)
        kafka_qwatch_close(&s->qw);
    else
        ks_handles_closed(s);
}

/* During stop: once every emitted message is resolved, commit and leave the
   group (asynchronously), then finish. */
static void ks_maybe_close(kafka_source *s)
{
    if (!s->stopping || s->finished || s->unresolved > 0 || s->njobs > 0)
        return;
    uv_loop_t *loop = s->ctx.host->loop(s->ctx.inst);
    if (!s->closing) {
        s->closing = true;
        ks_commit_all(s);
        s->close_deadline = uv_now(loop) + (uint64_t)s->cfg.close_timeout_ms;
        rd_kafka_error_t *e = rd_kafka_consumer_close_queue(s->rk, s->q);
        if (e != NULL) {
            CEB_LOG_W(&s->ctx, "close: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        return; /* the rebalance (revoke) and the close arrive on the queue */
    }
    if (rd_kafka_consumer_closed(s->rk) || uv_now(loop) >= s->close_deadline)
        ks_finish(s);
}

static void kafka_source_stop(void *state)
{
    kafka_source *s = state;
    s->stopping = true;
    if (s->more_active) {
        uv_idle_stop(&s->more);
        s->more_active = false;
    }
    ks_pause_all(s, true);
    CEB_LOG_I(&s->ctx, "stopping: %zu batch(es) in flight", s->unresolved);
    s->qw.closed = ks_qw_closed;
    ks_maybe_close(s);
}

static void kafka_source_destroy(void *state)
{
    kafka_source *s = state;
    for (size_t i = 0; i < s->nbatch; i++) /* a batch is never open here; defensive */
        ceb_event_unref(s->batch[i]);
    if (s->w_started) { /* defensive: ks_finish joined it */
        ks_jobs_drain(s);
        ks_worker_join(s);
    }
    for (ks_job *j = s->free_jobs, *n; j != NULL; j = n) {
        n = j->next;
        free(j);
    }
    free(s->filling); /* empty: staging stops with the worker */
    if (s->q != NULL)
        rd_kafka_queue_destroy(s->q);
    if (s->rk != NULL) /* start failed */
        rd_kafka_destroy_flags(s->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    for (ks_part *p = s->parts, *n; p != NULL; p = n) {
        n = p->next;
        ks_part_free(p);
    }
    for (ks_part *p = s->detached, *n; p != NULL; p = n) {
        n = p->next;
        ks_part_free(p);
    }
    ceb_buf_free(&s->b_source);
    ceb_buf_free(&s->b_type);
    ceb_buf_free(&s->b_subject);
    free(s);
}

const ceb_source_ops kafka_source_ops = {
    .options = kafka_source_options,
    .config_size = sizeof(kafka_source_config),
    .create = kafka_source_create,
    .start = kafka_source_start,
    .pause = kafka_source_pause,
    .resume = kafka_source_resume,
    .ack = kafka_source_ack,
    .stop = kafka_source_stop,
    .destroy = kafka_source_destroy,
};
