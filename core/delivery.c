#include "delivery.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cebridge/errors.h>
#include "runtime.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

static void backoff_fire(ceb_tq_node *n);
static void timeout_fire(ceb_tq_node *n);
static void process_attempt(ceb_runtime *rt, ceb_delivery *a);
static void outcome(ceb_runtime *rt, ceb__record *rec, ceb_outcome oc, int err,
                    int64_t retry_after_ms, const char *detail);

/* ---- attempt timeouts ------------------------------------------------ */

/* A lane's node fired: time out every attempt at its head that is due. */
static void lane_fire(ceb_tq_node *n)
{
    ceb__tlane *l = container_of(n, ceb__tlane, node);
    ceb_runtime *rt = l->rt;
    uint64_t now = uv_now(rt->loop);
    while (l->head != NULL && l->head->due <= now) {
        ceb_delivery *a = l->head;
        l->head = a->lnext;
        if (l->head != NULL)
            l->head->lprev = NULL;
        else
            l->tail = NULL;
        a->lane = NULL;
        a->lprev = a->lnext = NULL;
        timeout_fire(&a->timeout);
    }
    if (l->head != NULL && !ceb_tq_active(&l->node))
        ceb_tq_add(&rt->tq, &l->node, l->head->due > now ? l->head->due - now : 0);
}

/* Arm the timeout of attempt `a` (a->deadline_ms > 0): in the lane of its
   duration (a FIFO, O(1)), or on its own node when every lane is taken. */
static void timeout_start(ceb_runtime *rt, ceb_delivery *a)
{
    ceb__tlane *l = NULL;
    for (size_t i = 0; i < CEB__TLANES && l == NULL; i++)
        if (rt->tlanes[i].ms == a->deadline_ms)
            l = &rt->tlanes[i];
    for (size_t i = 0; i < CEB__TLANES && l == NULL; i++)
        if (rt->tlanes[i].ms == 0) {
            l = &rt->tlanes[i];
            l->ms = a->deadline_ms;
            l->rt = rt;
            ceb_tq_node_init(&l->node, lane_fire);
        }
    if (l == NULL) {
        ceb_tq_add(&rt->tq, &a->timeout, (uint64_t)a->deadline_ms);
        return;
    }
    a->lane = l;
    a->due = uv_now(rt->loop) + (uint64_t)a->deadline_ms;
    a->lnext = NULL;
    a->lprev = l->tail;
    if (l->tail != NULL)
        l->tail->lnext = a;
    else
        l->head = a;
    l->tail = a;
    if (!ceb_tq_active(&l->node))
        ceb_tq_add(&rt->tq, &l->node, (uint64_t)a->deadline_ms);
}

/* Disarm it (nothing when it is not armed). */
static void timeout_stop(ceb_runtime *rt, ceb_delivery *a)
{
    ceb__tlane *l = a->lane;
    if (l == NULL) {
        ceb_tq_remove(&rt->tq, &a->timeout);
        return;
    }
    if (a->lprev != NULL)
        a->lprev->lnext = a->lnext;
    else
        l->head = a->lnext;
    if (a->lnext != NULL)
        a->lnext->lprev = a->lprev;
    else
        l->tail = a->lprev;
    a->lane = NULL;
    a->lprev = a->lnext = NULL;
    if (l->head == NULL)
        ceb_tq_remove(&rt->tq, &l->node);
    /* otherwise the node stays armed for an earlier time than the new head:
       it fires early, finds nothing due and re-arms (lane_fire) */
}

/* ---- allocation ------------------------------------------------------ */

static ceb__record *rec_alloc(ceb_runtime *rt)
{
    ceb__record *r = ceb__pool_get(&rt->recs);
    if (r == NULL)
        return NULL;
    /* every field: submit sets msg, ev, route, sink, dlq, mnext; enqueue_wait
       qnext and waiting */
    r->attempt = 0;
    r->last_err = 0;
    r->cur = NULL;
    r->mprev = NULL;
    ceb_tq_node_init(&r->backoff, backoff_fire);
    return r;
}

static void rec_free(ceb_runtime *rt, ceb__record *r)
{
    ceb__pool_put(&rt->recs, r);
}

static ceb_delivery *att_alloc(ceb_runtime *rt)
{
    ceb_delivery *a = ceb__pool_get(&rt->atts);
    if (a == NULL)
        return NULL;
    /* dispatch() sets rec, sink, route, attempt, dlq, deadline_ms, next and
       in_deliver; timeout_start() due; complete() xq and the result */
    a->rt = rt;
    a->lane = NULL;
    a->lprev = a->lnext = NULL;
    a->completed = false;
    a->outcome = CEB_OUTCOME_OK;
    a->err = 0;
    a->retry_after_ms = 0;
    a->detail[0] = '\0';
    a->prev = a->next_done = NULL;
    a->done_queued = false;
    ceb_tq_node_init(&a->timeout, timeout_fire);
    return a;
}

static void att_free(ceb_runtime *rt, ceb_delivery *a)
{
    if (a->rec == NULL)   /* orphaned: it held its own route reference */
        ceb__route_release(a->route);
    a->route = NULL;
    ceb__pool_put(&rt->atts, a);
}

/* ---- sink queues --------------------------------------------------------- */

int ceb__sinkq_new(ceb_instance *sink, ceb__sinkq **out)
{
    ceb__sinkq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return CEB_ENOMEM;
    q->sink = sink;
    q->label[0] = sink->name;
    *out = q;
    return 0;
}

void ceb__sinkq_free(ceb__sinkq *q)
{
    if (q == NULL)
        return;
    assert(q->wait_head == NULL && q->attempts == NULL);
    free(q);
}

static void sink_dirty(ceb_runtime *rt, ceb__sinkq *q)
{
    if (!q->dirty) {
        q->dirty = true;
        q->next_dirty = rt->dirty_sinks;
        rt->dirty_sinks = q;
    }
}

static void kick(ceb_runtime *rt, ceb__sinkq *q)
{
    if (q->kick_queued || q->wait_head == NULL)
        return;
    q->kick_queued = true;
    q->next_kick = NULL;
    if (rt->kick_tail != NULL)
        rt->kick_tail->next_kick = q;
    else
        rt->kick_head = q;
    rt->kick_tail = q;
    ceb__runtime_wake(rt);
}

static void load_inc(ceb_runtime *rt, ceb__sinkq *q)
{
    q->load++;
    if (!q->blocked && q->load >= q->sink->max_inflight) {
        q->blocked = true;
        rt->pause_dirty = true;
        ceb__runtime_wake(rt);
    }
}

static void load_dec(ceb_runtime *rt, ceb__sinkq *q)
{
    assert(q->load > 0);
    q->load--;
    if (q->blocked && (q->load == 0 || q->load * 2 < q->sink->max_inflight)) {
        q->blocked = false;
        rt->pause_dirty = true;
        ceb__runtime_wake(rt);
    }
}

void ceb__delivery_update_pause(ceb_runtime *rt)
{
    for (ceb_instance *s = rt->instances; s != NULL; s = s->next) {
        if (s->role != CEB_ROLE_SOURCE || !ceb__instance_running(s))
            continue;
        bool want = false;
        for (size_t i = 0; i < s->nroutes && !want; i++) {
            ceb__route *r = s->routes[i];
            for (size_t k = 0; k < r->nsinks && !want; k++)
                want = r->sinks[k]->q->blocked;
            if (r->dlq != NULL && r->dlq->q->blocked)
                want = true;
        }
        if (want == s->paused)
            continue;
        s->paused = want;
        ceb__rt_log(rt, CEB_LOG_DEBUG, s->component, "%s (backpressure)",
                    want ? "paused" : "resumed");
        if (want && s->plugin->source->pause != NULL)
            s->plugin->source->pause(s->state);
        else if (!want && s->plugin->source->resume != NULL)
            s->plugin->source->resume(s->state);
    }
}

void ceb__delivery_limit_changed(ceb_runtime *rt, ceb_instance *sink)
{
    ceb__sinkq *q = sink->q;
    bool blocked = q->blocked;
    if (!blocked && q->load >= sink->max_inflight)
        blocked = true;
    else if (blocked && (q->load == 0 || q->load * 2 < sink->max_inflight))
        blocked = false;
    if (blocked != q->blocked) {
        q->blocked = blocked;
        rt->pause_dirty = true;
        ceb__runtime_wake(rt);
    }
    kick(rt, q);
}

static void enqueue_wait(ceb_runtime *rt, ceb__record *rec)
{
    ceb__sinkq *q = rec->sink->q;
    rec->qnext = NULL;
    rec->waiting = true;
    if (q->wait_tail != NULL)
        q->wait_tail->qnext = rec;
    else
        q->wait_head = rec;
    q->wait_tail = rec;
    q->nwait++;
    kick(rt, q);
}

static void msg_unlink(ceb__record *rec)
{
    ceb__message *m = rec->msg;
    if (rec->mprev != NULL)
        rec->mprev->mnext = rec->mnext;
    else
        m->recs = rec->mnext;
    if (rec->mnext != NULL)
        rec->mnext->mprev = rec->mprev;
    rec->mprev = rec->mnext = NULL;
}

static void rec_release_refs(ceb_runtime *rt, ceb__record *rec)
{
    load_dec(rt, rec->sink->q);
    sink_dirty(rt, rec->sink->q);
    ceb_event_unref(rec->ev);
    ceb__route_release(rec->route);
    ceb__instance_release(rec->sink);
    rec_free(rt, rec);
}

/* The record is resolved: `status` 0 (done) or < 0 (leave for redelivery). */
static void finish(ceb_runtime *rt, ceb__record *rec, int status)
{
    ceb__message *m = rec->msg;
    msg_unlink(rec);
    rec_release_refs(rt, rec);
    ceb__message_resolve(m, status);
}

int ceb__delivery_submit(ceb_runtime *rt, ceb__message *msg, const ceb_event *ev,
                         ceb__route *route, ceb_instance *sink, bool dlq)
{
    ceb__record *rec = rec_alloc(rt);
    if (rec == NULL)
        return CEB_ENOMEM;
    rec->msg = msg;
    rec->ev = ceb_event_ref(ev);
    rec->route = route;
    ceb__route_retain(route);
    rec->sink = sink;
    ceb__instance_retain(sink);
    rec->dlq = dlq;
    rec->mnext = msg->recs;
    if (msg->recs != NULL)
        msg->recs->mprev = rec;
    msg->recs = rec;
    msg->outstanding++;
    load_inc(rt, sink->q);
    enqueue_wait(rt, rec);
    return 0;
}

/* ---- attempts ------------------------------------------------------------ */

/*
 * The end of a delivery's latency: uv_hrtime(), read at most once per
 * CEB__LATENCY_READS outcomes. latency_clock_reset() (at the start of each
 * batch of outcomes and of each sink's dispatch) makes the next use read
 * the clock, so a value is never older than that many deliver() calls of
 * one dispatch; queued outcomes completed before their batch began.
 */
#define CEB__LATENCY_READS 16

static void latency_clock_reset(ceb_runtime *rt)
{
    rt->lat_reads_left = 0;
}

static uint64_t latency_clock(ceb_runtime *rt)
{
    if (rt->lat_reads_left == 0) {
        rt->lat_ns = uv_hrtime();
        rt->lat_reads_left = CEB__LATENCY_READS;
    }
    rt->lat_reads_left--;
    return rt->lat_ns;
}

static bool permanent_code(int rc)
{
    return rc == CEB_EINVAL || rc == CEB_ESPEC || rc == CEB_E2BIG;
}

static void queue_done(ceb_runtime *rt, ceb_delivery *a)
{
    if (a->done_queued)
        return;
    a->done_queued = true;
    a->next_done = NULL;
    if (rt->att_tail != NULL)
        rt->att_tail->next_done = a;
    else
        rt->att_head = a;
    rt->att_tail = a;
    ceb__runtime_wake(rt);
}

void ceb__delivery_complete(ceb_delivery *a, ceb_outcome oc, int err,
                            int64_t retry_after_ms, const char *detail)
{
    ceb_runtime *rt = a->rt;
    if (a->completed) {
        ceb__rt_log(rt, CEB_LOG_ERROR, a->sink->component,
                    "complete() called twice for one delivery; ignored");
        return;
    }
    a->completed = true;
    if (oc != CEB_OUTCOME_OK && oc != CEB_OUTCOME_RETRY && oc != CEB_OUTCOME_PERMANENT)
        oc = CEB_OUTCOME_PERMANENT;
    a->outcome = oc;
    a->err = err;
    a->retry_after_ms = retry_after_ms;
    if (detail != (const char *)a->detail) {
        if (detail != NULL) {
            strncpy(a->detail, detail, sizeof(a->detail) - 1);
            a->detail[sizeof(a->detail) - 1] = '\0';
        } else {
            a->detail[0] = '\0';
        }
    }
    if (!a->in_deliver)
        queue_done(rt, a);
}

static void complete_xq_run(ceb_xq_node *n)
{
    ceb_delivery *a = container_of(n, ceb_delivery, xq);
    ceb__delivery_complete(a, a->outcome, a->err, a->retry_after_ms, a->detail);
}

void ceb__delivery_complete_any(ceb_delivery *a, ceb_outcome oc, int err,
                                int64_t retry_after_ms, const char *detail)
{
    /* The loop thread reads these only once the queued node ran. */
    a->outcome = oc;
    a->err = err;
    a->retry_after_ms = retry_after_ms;
    if (detail != NULL) {
        strncpy(a->detail, detail, sizeof(a->detail) - 1);
        a->detail[sizeof(a->detail) - 1] = '\0';
    } else {
        a->detail[0] = '\0';
    }
    a->xq.run = complete_xq_run;
    ceb_xq_push(&a->rt->xq, &a->xq);
}

static void dispatch(ceb_runtime *rt, ceb__sinkq *q)
{
    ceb_instance *sink = q->sink;
    /* A record may hold the last reference to its sink (through its route,
       after a reload); resolving it must not free `q` under this loop. */
    ceb__instance_retain(sink);
    latency_clock_reset(rt);
    while (q->wait_head != NULL && q->inflight < sink->max_inflight) {
        ceb__record *rec = q->wait_head;
        q->wait_head = rec->qnext;
        if (q->wait_head == NULL)
            q->wait_tail = NULL;
        q->nwait--;
        rec->waiting = false;
        rec->qnext = NULL;
        if (!ceb__instance_running(sink)) {
            /* the core's own lifecycle (shutdown, reload), not the event's
               fault: leave the message for redelivery, never dead-letter */
            ceb__rt_log(rt, CEB_LOG_WARN, sink->component,
                        "route %s: event %s: sink is not running; left for redelivery",
                        rec->route->name, ceb_event_id(rec->ev) ? ceb_event_id(rec->ev) : "?");
            finish(rt, rec, CEB_ESHUTDOWN);
            continue;
        }
        ceb_delivery *a = att_alloc(rt);
        if (a == NULL) {
            outcome(rt, rec, CEB_OUTCOME_RETRY, CEB_ENOMEM, 0, NULL);
            continue;
        }
        a->rec = rec;
        a->sink = sink;
        a->route = rec->route;   /* the record's reference, until orphaned */
        a->attempt = ++rec->attempt;
        a->dlq = rec->dlq;
        a->deadline_ms = rec->route->conf->retry.timeout_ms;
        a->next = q->attempts;
        if (q->attempts != NULL)
            q->attempts->prev = a;
        q->attempts = a;
        q->inflight++;
        sink_dirty(rt, q);
        rec->cur = a;
        if (a->deadline_ms > 0)
            timeout_start(rt, a);
        a->in_deliver = true;
        int rc = sink->plugin->sink->deliver(sink->state, a, rec->ev);
        a->in_deliver = false;
        if (rc < 0) {
            if (a->completed)
                ceb__rt_log(rt, CEB_LOG_ERROR, sink->component,
                            "deliver() returned %s after calling complete(); the return "
                            "value wins", ceb_err_name(rc));
            a->completed = true;
            a->outcome = permanent_code(rc) ? CEB_OUTCOME_PERMANENT : CEB_OUTCOME_RETRY;
            a->err = rc;
            a->retry_after_ms = 0;
            a->detail[0] = '\0';
            process_attempt(rt, a);
        } else if (a->completed) {
            process_attempt(rt, a);
        }
    }
    ceb__instance_release(sink);
}

static void process_attempt(ceb_runtime *rt, ceb_delivery *a)
{
    ceb__sinkq *q = a->sink->q;
    timeout_stop(rt, a);
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        q->attempts = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
    q->inflight--;
    sink_dirty(rt, q);
    kick(rt, q);
    switch (a->outcome) {
    case CEB_OUTCOME_OK:        q->d_ok++; break;
    case CEB_OUTCOME_RETRY:     q->d_retry++; break;
    case CEB_OUTCOME_PERMANENT: q->d_permanent++; break;
    }
    ceb__record *rec = a->rec;
    if (rec == NULL) {
        /* late complete() of an attempt that timed out or was cancelled */
        q->orphaned--;
        load_dec(rt, q);
        att_free(rt, a);
        return;
    }
    rec->cur = NULL;
    /* outcome() reads a->detail in place: nothing allocates an attempt
       before it returns */
    outcome(rt, rec, a->outcome, a->err, a->retry_after_ms, a->detail);
    att_free(rt, a);
}

static void timeout_fire(ceb_tq_node *n)
{
    ceb_delivery *a = container_of(n, ceb_delivery, timeout);
    ceb__record *rec = a->rec;
    if (a->completed || rec == NULL)
        return;
    ceb_runtime *rt = a->rt;
    ceb__sinkq *q = a->sink->q;
    ceb__route_retain(a->route);   /* orphaned: outlives the record */
    a->rec = NULL;
    rec->cur = NULL;
    q->d_timeout++;
    q->orphaned++;
    load_inc(rt, q);   /* the orphaned attempt holds a slot until its complete() */
    char detail[64];
    snprintf(detail, sizeof(detail), "attempt timed out after %lld ms",
             (long long)a->deadline_ms);
    /* Said at 3 a.m.: a sink that never completes its timed-out attempts
       fills max_inflight with them and its sources stay paused. */
    ceb__rt_log(rt, CEB_LOG_WARN, a->sink->component,
                "%s; the attempt keeps its in-flight slot until the sink completes it "
                "(%zu such attempts now)", detail, q->orphaned);
    outcome(rt, rec, CEB_OUTCOME_RETRY, CEB_ETIMEDOUT, 0, detail);
}

static void backoff_fire(ceb_tq_node *n)
{
    ceb__record *rec = container_of(n, ceb__record, backoff);
    enqueue_wait(rec->sink->rt, rec);
}

int64_t ceb__backoff_ms(const ceb_conf_retry *p, uint32_t next_attempt, uint64_t rnd)
{
    uint32_t n = next_attempt > 1 ? next_attempt - 1 : 1;
    int64_t init = p->initial_ms > 0 ? p->initial_ms : 0;
    int64_t max = p->max_ms > 0 ? p->max_ms : INT64_MAX;
    int64_t cap;
    switch (p->backoff) {
    case CEB_BACKOFF_CONSTANT:
        return init < max ? init : max;
    case CEB_BACKOFF_LINEAR:
        cap = (init > 0 && (int64_t)n > max / init) ? max : init * (int64_t)n;
        return cap < max ? cap : max;
    case CEB_BACKOFF_EXPONENTIAL:
    default:
        if (init == 0)
            return 0;
        if (n - 1 >= 62 || init > (max >> (n - 1)))
            cap = max;
        else
            cap = init << (n - 1);
        if (cap > max)
            cap = max;
        return (int64_t)(rnd % ((uint64_t)cap + 1));
    }
}

static void outcome(ceb_runtime *rt, ceb__record *rec, ceb_outcome oc, int err,
                    int64_t retry_after_ms, const char *detail)
{
    ceb__route *route = rec->route;
    if (oc == CEB_OUTCOME_OK) {
        if (rec->dlq) {
            route->d_dead_lettered++;
        } else {
            ceb__sinkq *q = rec->sink->q;
            uint64_t ns = latency_clock(rt) - rec->msg->recv_ns;
            /* the series is looked up once per sink, on its first
               observation (so an idle sink still renders no series) */
            if (q->latency == NULL)
                q->latency = ceb_metric_series_get(rt->m_latency, q->label);
            ceb_metric_series_observe(rt->m_latency, q->latency, (double)ns / 1e9);
        }
        finish(rt, rec, 0);
        return;
    }
    const ceb_conf_retry *pol = &route->conf->retry;
    const char *eid = ceb_event_id(rec->ev) ? ceb_event_id(rec->ev) : "?";
    const char *why = (detail != NULL && detail[0] != '\0') ? detail
                    : ceb_strerror(err < 0 ? err : CEB_EIO);
    rec->last_err = err < 0 ? err : CEB_EIO;
    uint32_t attempts = pol->attempts ? pol->attempts : 1;
    if (oc == CEB_OUTCOME_RETRY && rec->attempt < attempts) {
        int64_t delay = ceb__backoff_ms(pol, rec->attempt + 1, ceb__runtime_rand(rt));
        /* A sink's Retry-After is a minimum, bounded by retry.max: a server
           that asks for an hour (or a date in 2999) must not park the event,
           and the partition or stream behind it, for that long. */
        if (retry_after_ms > delay) {
            delay = retry_after_ms;
            if (pol->max_ms > 0 && delay > (int64_t)pol->max_ms) {
                delay = (int64_t)pol->max_ms;
                ceb__rt_log(rt, CEB_LOG_DEBUG, rec->sink->component,
                            "route %s: event %s: Retry-After of %lld ms capped at retry.max "
                            "(%lld ms)", route->name, eid, (long long)retry_after_ms,
                            (long long)delay);
            }
        }
        rec->sink->q->d_retries++;
        sink_dirty(rt, rec->sink->q);
        ceb__rt_log(rt, CEB_LOG_DEBUG, rec->sink->component,
                    "route %s: event %s: attempt %u failed (%s); retry in %lld ms",
                    route->name, eid, rec->attempt, why, (long long)delay);
        if (ceb_tq_add(&rt->tq, &rec->backoff, (uint64_t)delay) < 0)
            enqueue_wait(rt, rec);
        return;
    }
    /* PERMANENT, or no attempt left */
    if (rec->dlq) {
        ceb__rt_log(rt, CEB_LOG_ERROR, rec->sink->component,
                    "route %s: event %s: dead-letter write failed after %u attempt(s): %s",
                    route->name, eid, rec->attempt, why);
        finish(rt, rec, rec->last_err);
        return;
    }
    if (route->dlq == NULL) {
        ceb__rt_log(rt, CEB_LOG_ERROR, rec->sink->component,
                    "route %s: event %s: delivery failed after %u attempt(s) (%s); no "
                    "dead_letter configured", route->name, eid, rec->attempt, why);
        finish(rt, rec, rec->last_err);
        return;
    }
    ceb_event *copy = NULL;
    int rc = ceb__dead_letter_event(rec->ev, why, route->name, rec->attempt, &copy);
    if (rc < 0) {
        ceb__rt_log(rt, CEB_LOG_ERROR, rec->sink->component,
                    "route %s: event %s: cannot build the dead-letter event: %s",
                    route->name, eid, ceb_strerror(rc));
        finish(rt, rec, rc);
        return;
    }
    /* A reload may have replaced the dead letter since this record's route
       was built: the old instance stops once idle, so use the running
       instance of that name. */
    ceb_instance *dlq = route->dlq;
    if (!ceb__instance_running(dlq)) {
        ceb_instance *cur = ceb_runtime_find(rt, CEB_ROLE_SINK, dlq->name);
        if (cur != NULL && ceb__instance_running(cur))
            dlq = cur;
    }
    ceb__rt_log(rt, CEB_LOG_WARN, rec->sink->component,
                "route %s: event %s: dead-lettered to %s after %u attempt(s): %s",
                route->name, eid, dlq->name, rec->attempt, why);
    ceb_event_unref(rec->ev);
    rec->ev = copy;
    load_dec(rt, rec->sink->q);
    sink_dirty(rt, rec->sink->q);
    ceb__instance_release(rec->sink);
    rec->sink = dlq;
    ceb__instance_retain(rec->sink);
    load_inc(rt, rec->sink->q);
    rec->attempt = 0;
    rec->dlq = true;
    enqueue_wait(rt, rec);
}

bool ceb__delivery_run(ceb_runtime *rt)
{
    bool did = false;
    if (rt->pause_dirty) {
        rt->pause_dirty = false;
        ceb__delivery_update_pause(rt);
        did = true;
    }
    latency_clock_reset(rt);
    while (rt->att_head != NULL) {
        ceb_delivery *a = rt->att_head;
        rt->att_head = a->next_done;
        if (rt->att_head == NULL)
            rt->att_tail = NULL;
        a->done_queued = false;
        process_attempt(rt, a);
        did = true;
    }
    while (rt->kick_head != NULL) {
        ceb__sinkq *q = rt->kick_head;
        rt->kick_head = q->next_kick;
        if (rt->kick_head == NULL)
            rt->kick_tail = NULL;
        q->kick_queued = false;
        dispatch(rt, q);
        did = true;
    }
    return did;
}

void ceb__delivery_drop(ceb_runtime *rt, ceb__record *rec)
{
    ceb__sinkq *q = rec->sink->q;
    if (rec->cur != NULL) {
        ceb__route_retain(rec->cur->route);   /* orphaned: outlives the record */
        rec->cur->rec = NULL;
        rec->cur = NULL;
        q->orphaned++;
        load_inc(rt, q);   /* the orphaned attempt keeps its slot */
    }
    if (rec->waiting) {
        ceb__record **pp = &q->wait_head, *prev = NULL;
        while (*pp != rec) {
            prev = *pp;
            pp = &(*pp)->qnext;
        }
        *pp = rec->qnext;
        if (q->wait_tail == rec)
            q->wait_tail = prev;
        q->nwait--;
        rec->waiting = false;
    }
    ceb_tq_remove(&rt->tq, &rec->backoff);
    ceb__message *m = rec->msg;
    msg_unlink(rec);
    m->outstanding--;
    rec_release_refs(rt, rec);
}

void ceb__delivery_sink_stopped(ceb_runtime *rt, ceb_instance *sink)
{
    ceb__sinkq *q = sink->q;
    while (q->attempts != NULL) {
        ceb_delivery *a = q->attempts;
        q->attempts = a->next;
        if (q->attempts != NULL)
            q->attempts->prev = NULL;
        timeout_stop(rt, a);
        q->inflight--;
        ceb__record *rec = a->rec;
        if (a->done_queued) {
            /* unlink from the outcome queue */
            ceb_delivery **pp = &rt->att_head, *prev = NULL;
            while (*pp != a) {
                prev = *pp;
                pp = &(*pp)->next_done;
            }
            *pp = a->next_done;
            if (rt->att_tail == a)
                rt->att_tail = prev;
        }
        if (rec == NULL) {
            load_dec(rt, q);
            att_free(rt, a);
            continue;
        }
        if (!a->completed)
            ceb__rt_log(rt, CEB_LOG_ERROR, sink->component,
                        "stopped() with a delivery not completed; treated as canceled");
        ceb_outcome oc = a->completed ? a->outcome : CEB_OUTCOME_RETRY;
        int err = a->completed ? a->err : CEB_ECANCELED;
        rec->cur = NULL;
        att_free(rt, a);
        outcome(rt, rec, oc, err, 0, NULL);
    }
    sink_dirty(rt, q);
    kick(rt, q);
}

void ceb__delivery_flush_metrics(ceb_runtime *rt)
{
    while (rt->dirty_sinks != NULL) {
        ceb__sinkq *q = rt->dirty_sinks;
        rt->dirty_sinks = q->next_dirty;
        q->dirty = false;
        const char *n = q->sink->name;
        struct { uint64_t *v; const char *name; } oc[] = {
            { &q->d_ok, "ok" }, { &q->d_retry, "retry" },
            { &q->d_permanent, "permanent" }, { &q->d_timeout, "timeout" },
        };
        for (size_t i = 0; i < sizeof(oc) / sizeof(oc[0]); i++) {
            if (*oc[i].v == 0)
                continue;
            const char *lv[2] = { n, oc[i].name };
            ceb_metric_add(rt->m_deliveries, lv, (double)*oc[i].v);
            *oc[i].v = 0;
        }
        if (q->d_retries) {
            ceb_metric_add(rt->m_retries, q->label, (double)q->d_retries);
            q->d_retries = 0;
        }
        ceb_metric_set(rt->m_inflight, q->label, (double)q->inflight);
    }
}
