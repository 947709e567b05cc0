#ifndef CEB_CORE_DELIVERY_H
#define CEB_CORE_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cebridge/host.h>
#include "config.h"
#include "instance.h"
#include "loop.h"
#include "metrics.h"
#include "router.h"

/*
 * Delivery (DESIGN §5): a record = (message, event, route, sink, attempt).
 * Per sink a bounded number of attempts in flight (max_inflight) and a
 * FIFO of waiting records. Each attempt is a `ceb_delivery` (the SDK's
 * opaque type) handed to sink->deliver(); its outcome (complete(), or the
 * return value of deliver() when < 0) decides:
 *
 *   OK                      -> resolved
 *   RETRY, attempts left    -> backoff (exponential with full jitter,
 *                              linear or constant; retry_after_ms is a
 *                              minimum), then queued again
 *   PERMANENT or exhausted  -> dead letter: a copy with cebdlqreason,
 *                              cebdlqroute, cebdlqattempts goes to the
 *                              route's dead_letter sink as a delivery of its
 *                              own (same retry policy); if that fails too or
 *                              there is none, the message is nacked
 *
 * A per-attempt timeout turns the attempt into RETRY CEB_ETIMEDOUT; the
 * timed-out ceb_delivery stays valid (and counted in flight) until its late
 * complete() arrives, which is then ignored, or until the sink stops.
 * complete() never re-enters deliver(): outcomes are queued and processed
 * by ceb__delivery_run(). Backpressure: when a sink's load (records
 * targeting it + orphaned attempts) reaches max_inflight, every source
 * feeding it is paused; they resume when it drops below half.
 *
 * Thread: loop thread only, except ceb__delivery_complete_any().
 */
struct ceb_runtime;

typedef struct ceb__record {
    ceb__message *msg;
    const ceb_event *ev;              /* reference held */
    ceb__route *route;                /* reference held */
    ceb_instance *sink;               /* reference held */
    uint32_t attempt;                 /* attempts made so far */
    bool dlq;                         /* this is the dead-letter write */
    int last_err;
    struct ceb_delivery *cur;         /* attempt in flight, or NULL */
    ceb_tq_node backoff;
    struct ceb__record *mprev, *mnext;   /* msg->recs */
    struct ceb__record *qnext;           /* sink waiting FIFO */
    bool waiting;
} ceb__record;

struct ceb_delivery {
    ceb_xq_node xq;                   /* complete() from another thread */
    ceb_tq_node timeout;
    struct ceb_runtime *rt;
    ceb__record *rec;                 /* NULL once orphaned (timed out / cancelled) */
    ceb_instance *sink;
    ceb__route *route;                /* reference held, for delivery_info */
    uint32_t attempt;
    bool dlq;
    int64_t deadline_ms;
    struct ceb__tlane *lane;          /* timeout in this lane, or NULL */
    uint64_t due;                     /* uv_now() + deadline_ms, while in a lane */
    struct ceb_delivery *lprev, *lnext;
    bool in_deliver;                  /* inside sink->deliver() */
    bool completed;                   /* complete() seen */
    ceb_outcome outcome;
    int err;
    int64_t retry_after_ms;
    char detail[256];
    struct ceb_delivery *prev, *next; /* sink's attempts */
    struct ceb_delivery *next_done;
    bool done_queued;
};

typedef struct ceb__sinkq {
    ceb_instance *sink;
    ceb__record *wait_head, *wait_tail;
    size_t nwait;
    size_t inflight;                  /* attempts handed to deliver() and not completed */
    size_t load;                      /* records targeting the sink + orphaned attempts */
    size_t orphaned;                  /* attempts timed out or cancelled, not yet completed */
    struct ceb_delivery *attempts;
    bool blocked;                     /* sources paused because of this sink */
    bool kick_queued;
    struct ceb__sinkq *next_kick;
    const char *label[1];             /* { sink name } */
    ceb_metric_series *latency;       /* its latency series, once observed */
    uint64_t d_ok, d_retry, d_permanent, d_timeout, d_retries;
    bool dirty;
    struct ceb__sinkq *next_dirty;
} ceb__sinkq;

int  ceb__sinkq_new(ceb_instance *sink, ceb__sinkq **out);
void ceb__sinkq_free(ceb__sinkq *q);

/*
 * New delivery of `ev` (retained) for `msg` (outstanding++) through
 * `route` to `sink`. `dlq`: a dead-letter write. Returns 0 or CEB_ENOMEM
 * (nothing changed).
 */
int  ceb__delivery_submit(struct ceb_runtime *rt, ceb__message *msg, const ceb_event *ev,
                          ceb__route *route, ceb_instance *sink, bool dlq);

/* host->complete on the loop thread / from any thread. */
void ceb__delivery_complete(ceb_delivery *dlv, ceb_outcome outcome, int err,
                            int64_t retry_after_ms, const char *detail);
void ceb__delivery_complete_any(ceb_delivery *dlv, ceb_outcome outcome, int err,
                                int64_t retry_after_ms, const char *detail);

/* Process queued outcomes and dispatch waiting records. True if it did work. */
bool ceb__delivery_run(struct ceb_runtime *rt);

/* Drop a record without resolving its message (cancel). */
void ceb__delivery_drop(struct ceb_runtime *rt, ceb__record *rec);

/* The sink called stopped(): release every attempt it still holds; records
   in flight there are treated as RETRY CEB_ECANCELED. */
void ceb__delivery_sink_stopped(struct ceb_runtime *rt, ceb_instance *sink);

/* Re-evaluate which sources must be paused (after a reload). */
void ceb__delivery_update_pause(struct ceb_runtime *rt);

/* `sink->max_inflight` changed (a reload): re-decide whether it blocks its
   sources and dispatch what the new bound lets through. */
void ceb__delivery_limit_changed(struct ceb_runtime *rt, ceb_instance *sink);

/*
 * Backoff before attempt `next_attempt` (2 for the first retry) under
 * `policy`; `rnd` is a uniform 64-bit random value (full jitter).
 * Exponential: uniform in [0, min(max, initial * 2^(n-1))] with n =
 * next_attempt - 1; linear: min(max, initial * n); constant: initial.
 */
int64_t ceb__backoff_ms(const ceb_conf_retry *policy, uint32_t next_attempt, uint64_t rnd);

void ceb__delivery_flush_metrics(struct ceb_runtime *rt);

#endif
