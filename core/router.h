#ifndef CEB_CORE_ROUTER_H
#define CEB_CORE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cebridge/event.h>
#include "config.h"
#include "instance.h"

/*
 * The router (DESIGN §5): per emitted batch a message record holding the
 * source's ack_token and a count of outstanding deliveries. For each event
 * and each route fed by the source: the route's CESQL filter (through
 * core/event_cesql.h), the optional transform (a clone, only when the
 * route has one), then one delivery per sink of the route (delivery.h).
 * When the last delivery of a message resolves, the source gets exactly one
 * ack: 0 when every delivery was delivered, filtered out or dead-lettered,
 * < 0 (the first failure's code) when a dead-letter write failed or a
 * failure had no dead letter to go to. Acks are never made from inside a
 * host call: resolved messages are queued and acked by ceb__router_run().
 *
 * Thread: loop thread only (host.c hops other threads onto the loop).
 */
struct ceb_runtime;
struct ceb__record;

#define CEB_FILTER_SAMPLE 256u

typedef struct ceb__route {
    struct ceb_runtime *rt;
    char *name;
    const char *metric_label[1];      /* { name } */
    const ceb_conf_route *conf;       /* borrowed: kept alive by confref */
    ceb__confref *confref;
    ceb_instance **sinks; size_t nsinks;   /* references held */
    ceb_instance *dlq;                     /* reference held, or NULL */
    unsigned refs;
    /* metric deltas, flushed by ceb__router_flush_metrics() */
    uint64_t d_routed, d_filter_errors, d_filtered, d_dead_lettered;
    /* Every CEB_FILTER_SAMPLE-th evaluation is timed into the filter time
       histogram: the metric of DESIGN §7 for one increment per event. */
    uint32_t filter_sample;
    bool dirty;
    struct ceb__route *next_dirty;
} ceb__route;

typedef struct ceb__message {
    ceb_instance *src;                /* reference held */
    void *token;
    uint32_t outstanding;             /* deliveries not resolved (+1 while routing) */
    int status;                       /* 0, or the first failure */
    uint64_t recv_ns;                 /* uv_hrtime() at receipt, for latency */
    struct ceb__record *recs;         /* unresolved deliveries (delivery.h) */
    struct ceb__message *prev, *next; /* runtime's open list */
    struct ceb__message *next_done;
    bool done_queued;
} ceb__message;

/*
 * A route over resolved instances. `sinks` (nsinks) and `dlq` (may be
 * NULL) are retained; `cr` is retained (the filter and transform live in
 * it). Returns 0 or CEB_ENOMEM.
 */
int  ceb__route_new(struct ceb_runtime *rt, ceb__confref *cr, const ceb_conf_route *rc,
                    ceb_instance *const *sinks, size_t nsinks, ceb_instance *dlq,
                    ceb__route **out);
/* Inline: a delivery record takes and drops one reference per event. */
void ceb__route_destroy(ceb__route *r);   /* the last reference went */
static inline void ceb__route_retain(ceb__route *r)
{
    r->refs++;
}
static inline void ceb__route_release(ceb__route *r)
{
    if (r != NULL && --r->refs == 0)
        ceb__route_destroy(r);
}

/*
 * Route a batch from `src`. The events are consumed (on success and on
 * error), must already be frozen and valid. Returns 0 (one ack will come;
 * a delivery record that could not be allocated makes it a nack) or
 * CEB_ENOMEM (the message record itself could not be allocated; no ack).
 */
int  ceb__router_emit(ceb_instance *src, ceb_event *const *events, size_t n, void *token);

/*
 * Send unroutable input straight to the dead letter of every route fed by
 * `src` (host.h emit_dead_letter). Consumes `ev`. 0 or CEB_ENOMEM.
 */
int  ceb__router_emit_dead_letter(ceb_instance *src, ceb_event *ev, const char *reason,
                                  void *token);

/*
 * A delivery of `msg` is resolved (delivery.h calls this): status 0 for
 * delivered/filtered/dead-lettered, < 0 for a failure that leaves the
 * message for redelivery.
 */
void ceb__message_resolve(ceb__message *msg, int status);

/* Ack every resolved message. Returns true when it did any work. */
bool ceb__router_run(struct ceb_runtime *rt);

/*
 * Give up on every open message: nack (CEB_ECANCELED) to sources that have
 * not stopped, drop their deliveries (in-flight attempts are orphaned).
 */
void ceb__router_cancel_all(struct ceb_runtime *rt);

/* Push the routes' counters into the metrics registry. */
void ceb__router_flush_metrics(struct ceb_runtime *rt);

/*
 * Build the dead-letter copy of `ev`: a clone with cebdlqreason, cebdlqroute
 * and cebdlqattempts, frozen. Returns 0 or CEB_ENOMEM/CEB_EINVAL.
 */
int  ceb__dead_letter_event(const ceb_event *ev, const char *reason, const char *route,
                            uint32_t attempts, ceb_event **out);

#endif
