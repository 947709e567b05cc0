/*
 * The ceb_host table of the real core (host.h). Loop-only calls run
 * directly; the any-thread calls (emit, emit_dead_letter, complete, post)
 * hop onto the loop through the runtime's cross-thread queue (loop.h) when
 * called from another thread. After stopped() an instance's calls are
 * refused with CEB_ESHUTDOWN and logged once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cebridge/errors.h>
#include "delivery.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "runtime.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

struct ceb_timer {
    ceb_tq_node node;
    ceb_instance *inst;
    ceb_timer_cb cb;
    void *arg;
    struct ceb_timer *prev, *next;
};

/* Log once that an instance called the host after stopped(). Loop thread. */
static void after_stopped(ceb_instance *inst, const char *call)
{
    if (inst->post_stop_logged)
        return;
    inst->post_stop_logged = true;
    ceb__rt_log(inst->rt, CEB_LOG_ERROR, inst->component,
                "host call %s() after stopped(); refused (CEB_ESHUTDOWN)", call);
}

static uv_loop_t *h_loop(ceb_instance *inst)
{
    return inst->rt->loop;
}

static const char *h_instance_name(ceb_instance *inst)
{
    return inst->name;
}

static void h_log(ceb_instance *inst, ceb_log_level level, const char *fmt, ...)
{
    if (ceb__instance_is_stopped(inst)) {
        after_stopped(inst, "log");
        return;
    }
    if (!ceb_log_enabled(inst->rt->log, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    ceb_log_writev(inst->rt->log, level, inst->component, NULL, fmt, ap);
    va_end(ap);
}

static bool h_log_enabled(ceb_instance *inst, ceb_log_level level)
{
    return ceb_log_enabled(inst->rt->log, level);
}

static int h_metric_register(ceb_instance *inst, ceb_metric_kind kind, const char *name,
                             const char *help, const char *const *label_names, size_t nlabels,
                             const double *buckets, size_t nbuckets, ceb_metric **out)
{
    if (ceb__instance_is_stopped(inst)) {
        after_stopped(inst, "metric_register");
        return CEB_ESHUTDOWN;
    }
    return ceb_metrics_register(inst->rt->metrics, kind, name, help, label_names, nlabels,
                                buckets, nbuckets, out);
}

static void h_metric_add(ceb_metric *m, const char *const *lv, double v)
{
    ceb_metric_add(m, lv, v);
}

static void h_metric_set(ceb_metric *m, const char *const *lv, double v)
{
    ceb_metric_set(m, lv, v);
}

static void h_metric_observe(ceb_metric *m, const char *const *lv, double v)
{
    ceb_metric_observe(m, lv, v);
}

static int h_metrics_render(ceb_instance *inst, ceb_buf *out)
{
    ceb_runtime_flush_metrics(inst->rt);
    return ceb_metrics_render(inst->rt->metrics, out);
}

static void timer_unlink(struct ceb_timer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        t->inst->timers = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
}

static void timer_fire(ceb_tq_node *n)
{
    struct ceb_timer *t = container_of(n, struct ceb_timer, node);
    timer_unlink(t);
    ceb_timer_cb cb = t->cb;
    void *arg = t->arg;
    free(t);
    cb(arg);
}

static int h_timer_start(ceb_instance *inst, uint64_t ms, ceb_timer_cb cb, void *arg,
                         ceb_timer **out)
{
    if (ceb__instance_is_stopped(inst)) {
        after_stopped(inst, "timer_start");
        return CEB_ESHUTDOWN;
    }
    if (cb == NULL)
        return CEB_EINVAL;
    struct ceb_timer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return CEB_ENOMEM;
    ceb_tq_node_init(&t->node, timer_fire);
    t->inst = inst;
    t->cb = cb;
    t->arg = arg;
    if (ceb_tq_add(&inst->rt->tq, &t->node, ms) < 0) {
        free(t);
        return CEB_ENOMEM;
    }
    t->next = inst->timers;
    if (t->next != NULL)
        t->next->prev = t;
    inst->timers = t;
    if (out != NULL)
        *out = t;
    return 0;
}

static void h_timer_stop(ceb_timer *t)
{
    if (t == NULL)
        return;
    ceb_tq_remove(&t->inst->rt->tq, &t->node);
    timer_unlink(t);
    free(t);
}

/* Free an instance's timers left at stopped() (a plugin bug, logged). */
void ceb__host_timers_reap(ceb_instance *inst);
void ceb__host_timers_reap(ceb_instance *inst)
{
    if (inst->timers != NULL)
        ceb__rt_log(inst->rt, CEB_LOG_WARN, inst->component,
                    "timers still running at stopped(); canceled");
    while (inst->timers != NULL)
        h_timer_stop(inst->timers);
}

static void h_source_ended(ceb_instance *inst)
{
    if (ceb__instance_is_stopped(inst)) {
        after_stopped(inst, "source_ended");
        return;
    }
    if (inst->role != CEB_ROLE_SOURCE || inst->ended)
        return;
    inst->ended = true;
    ceb__rt_log(inst->rt, CEB_LOG_DEBUG, inst->component, "source ended");
    ceb__runtime_wake(inst->rt);
}

static bool h_ready(ceb_instance *inst)
{
    for (size_t i = 0; i < inst->nroutes; i++) {
        const ceb__route *r = inst->routes[i];
        for (size_t k = 0; k < r->nsinks; k++)
            if (!ceb__instance_running(r->sinks[k]))
                return false;
    }
    return true;
}

static void h_delivery_info(const ceb_delivery *dlv, ceb_delivery_info *out)
{
    out->route = dlv->route != NULL ? dlv->route->name : "";
    out->attempt = dlv->attempt;
    out->deadline_ms = dlv->deadline_ms;
    out->dead_letter = dlv->dlq;
}

static void h_stopped(ceb_instance *inst)
{
    if (ceb__instance_is_stopped(inst)) {
        after_stopped(inst, "stopped");
        return;
    }
    atomic_store(&inst->stopped_flag, true);
    ceb__runtime_instance_stopped(inst->rt, inst);
}

/* ---- any thread ---------------------------------------------------------- */

typedef struct emit_item {
    ceb_xq_node node;
    ceb_instance *inst;
    void *token;
    char *reason;          /* emit_dead_letter */
    size_t n;
    ceb_event *events[];
} emit_item;

static void emit_item_run(ceb_xq_node *n)
{
    emit_item *it = container_of(n, emit_item, node);
    ceb_instance *inst = it->inst;
    atomic_fetch_sub(&inst->xq_pending, 1);
    if (ceb__instance_is_stopped(inst) || inst->destroyed) {
        for (size_t i = 0; i < it->n; i++)
            ceb_event_unref(it->events[i]);
    } else if (it->reason != NULL) {
        ceb__router_emit_dead_letter(inst, it->events[0], it->reason, it->token);
    } else {
        ceb__router_emit(inst, it->events, it->n, it->token);
    }
    free(it->reason);
    free(it);
}

static void unref_all(ceb_event *const *events, size_t n)
{
    if (events == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        ceb_event_unref(events[i]);
}

static int queue_emit(ceb_instance *inst, ceb_event *const *events, size_t n, void *token,
                      const char *reason)
{
    emit_item *it = malloc(sizeof(*it) + n * sizeof(ceb_event *));
    if (it == NULL) {
        unref_all(events, n);
        return CEB_ENOMEM;
    }
    it->inst = inst;
    it->token = token;
    it->n = n;
    it->reason = NULL;
    if (reason != NULL && (it->reason = strdup(reason)) == NULL) {
        free(it);
        unref_all(events, n);
        return CEB_ENOMEM;
    }
    memcpy(it->events, events, n * sizeof(ceb_event *));
    it->node.run = emit_item_run;
    atomic_fetch_add(&inst->xq_pending, 1);
    if (ceb_xq_push(&inst->rt->xq, &it->node) < 0) {
        atomic_fetch_sub(&inst->xq_pending, 1);
        free(it->reason);
        free(it);
        unref_all(events, n);
        return CEB_ESHUTDOWN;
    }
    return 0;
}

static bool refuse_shutdown(ceb_instance *inst, bool on_loop, const char *call)
{
    if (ceb__instance_is_stopped(inst)) {
        if (on_loop)
            after_stopped(inst, call);
        return true;
    }
    /* rt->shutting is loop-thread state; off the loop, stopping_flag (set
       for every source when shutdown begins) says the same */
    return atomic_load(&inst->stopping_flag) || (on_loop && inst->rt->shutting);
}

static int h_emit(ceb_instance *inst, ceb_event *const *events, size_t n, void *ack_token)
{
    if (inst == NULL || events == NULL || n == 0) {
        unref_all(events, n);   /* consumed on error too (host.h) */
        return CEB_EINVAL;
    }
    bool on_loop = ceb_xq_on_loop(&inst->rt->xq);
    if (inst->role != CEB_ROLE_SOURCE) {
        unref_all(events, n);
        return CEB_EINVAL;
    }
    if (refuse_shutdown(inst, on_loop, "emit")) {
        unref_all(events, n);
        return CEB_ESHUTDOWN;
    }
    for (size_t i = 0; i < n; i++) {
        if (events[i] == NULL) {
            unref_all(events, n);
            return CEB_EINVAL;
        }
        ceb_event_freeze(events[i]);
        if (ceb_event_validate(events[i], NULL) < 0) {
            ceb_diag d;   /* the message only for the refused event */
            ceb_diag_clear(&d);
            (void)ceb_event_validate(events[i], &d);
            if (on_loop)
                ceb__rt_log(inst->rt, CEB_LOG_WARN, inst->component,
                            "emit refused an invalid event: %s", d.message);
            unref_all(events, n);
            return CEB_EINVAL;
        }
    }
    if (on_loop)
        return ceb__router_emit(inst, events, n, ack_token);
    return queue_emit(inst, events, n, ack_token, NULL);
}

static int h_emit_dead_letter(ceb_instance *inst, ceb_event *ev, const char *reason,
                              void *ack_token)
{
    if (inst == NULL || ev == NULL) {
        if (ev != NULL)
            ceb_event_unref(ev);
        return CEB_EINVAL;
    }
    bool on_loop = ceb_xq_on_loop(&inst->rt->xq);
    if (inst->role != CEB_ROLE_SOURCE) {
        ceb_event_unref(ev);
        return CEB_EINVAL;
    }
    if (refuse_shutdown(inst, on_loop, "emit_dead_letter")) {
        ceb_event_unref(ev);
        return CEB_ESHUTDOWN;
    }
    ceb_event_freeze(ev);
    if (on_loop)
        return ceb__router_emit_dead_letter(inst, ev, reason ? reason : "unroutable input",
                                            ack_token);
    return queue_emit(inst, &ev, 1, ack_token, reason ? reason : "unroutable input");
}

static void h_complete(ceb_delivery *dlv, ceb_outcome outcome, int err,
                       int64_t retry_after_ms, const char *detail)
{
    if (dlv == NULL)
        return;
    if (ceb_xq_on_loop(&dlv->rt->xq))
        ceb__delivery_complete(dlv, outcome, err, retry_after_ms, detail);
    else
        ceb__delivery_complete_any(dlv, outcome, err, retry_after_ms, detail);
}

typedef struct post_item {
    ceb_xq_node node;
    ceb_instance *inst;
    ceb_post_cb fn;
    void *arg;
} post_item;

static void post_item_run(ceb_xq_node *n)
{
    post_item *it = container_of(n, post_item, node);
    ceb_instance *inst = it->inst;
    atomic_fetch_sub(&inst->xq_pending, 1);
    if (!ceb__instance_is_stopped(inst) && !inst->destroyed)
        it->fn(it->arg);
    free(it);
}

static int h_post(ceb_instance *inst, ceb_post_cb fn, void *arg)
{
    if (inst == NULL || fn == NULL)
        return CEB_EINVAL;
    if (ceb__instance_is_stopped(inst)) {
        if (ceb_xq_on_loop(&inst->rt->xq))
            after_stopped(inst, "post");
        return CEB_ESHUTDOWN;
    }
    post_item *it = malloc(sizeof(*it));
    if (it == NULL)
        return CEB_ENOMEM;
    it->inst = inst;
    it->fn = fn;
    it->arg = arg;
    it->node.run = post_item_run;
    atomic_fetch_add(&inst->xq_pending, 1);
    if (ceb_xq_push(&inst->rt->xq, &it->node) < 0) {
        atomic_fetch_sub(&inst->xq_pending, 1);
        free(it);
        return CEB_ESHUTDOWN;
    }
    return 0;
}

static void **h_plugin_slot(ceb_instance *inst)
{
    return inst->pslot;
}

static const ceb_host host_table = {
    .abi = CEB_ABI_VERSION,
    .size = sizeof(ceb_host),
    .loop = h_loop,
    .instance_name = h_instance_name,
    .log = h_log,
    .log_enabled = h_log_enabled,
    .metric_register = h_metric_register,
    .metric_add = h_metric_add,
    .metric_set = h_metric_set,
    .metric_observe = h_metric_observe,
    .metrics_render = h_metrics_render,
    .timer_start = h_timer_start,
    .timer_stop = h_timer_stop,
    .source_ended = h_source_ended,
    .ready = h_ready,
    .delivery_info = h_delivery_info,
    .stopped = h_stopped,
    .emit = h_emit,
    .complete = h_complete,
    .post = h_post,
    .emit_dead_letter = h_emit_dead_letter,
    .plugin_slot = h_plugin_slot,
};

const ceb_host *ceb__host_table(void)
{
    return &host_table;
}
