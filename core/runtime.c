#include "runtime.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cebridge/errors.h>
#include "delivery.h"
#include "router.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

void ceb__host_timers_reap(ceb_instance *inst);   /* host.c */

#define POISON(p, n) CEB__POISON(p, n)
#define UNPOISON(p, n) CEB__UNPOISON(p, n)

/* ---- object pool ---------------------------------------------------------- */

typedef struct ceb__slab {
    struct ceb__slab *next;
    max_align_t objs[];
} ceb__slab;

void ceb__pool_init(ceb__pool *p, size_t size)
{
    size_t a = _Alignof(max_align_t);
    memset(p, 0, sizeof(*p));
    if (size < sizeof(void *))
        size = sizeof(void *);
    p->size = (size + a - 1) / a * a;
}

void *ceb__pool_grow(ceb__pool *p)
{
    if (p->bump == p->bump_end) {
        ceb__slab *s = malloc(sizeof(*s) + CEB__POOL_SLAB * p->size);
        if (s == NULL)
            return NULL;
        s->next = p->slabs;
        p->slabs = s;
        p->bump = (char *)s->objs;
        p->bump_end = p->bump + CEB__POOL_SLAB * p->size;
        p->capacity += CEB__POOL_SLAB;
        POISON(p->bump, CEB__POOL_SLAB * p->size);
    }
    void *o = p->bump;
    p->bump += p->size;
    UNPOISON(o, p->size);
    p->live++;
    return o;
}

void ceb__pool_destroy(ceb__pool *p)
{
    while (p->slabs != NULL) {
        ceb__slab *s = p->slabs;
        p->slabs = s->next;
        UNPOISON(s->objs, CEB__POOL_SLAB * p->size);
        free(s);
    }
    p->free = NULL;
    p->bump = p->bump_end = NULL;
    p->live = p->capacity = 0;
}

void ceb__rt_log(ceb_runtime *rt, ceb_log_level lvl, const char *component, const char *fmt, ...)
{
    if (rt->log == NULL || !ceb_log_enabled(rt->log, lvl))
        return;
    va_list ap;
    va_start(ap, fmt);
    ceb_log_writev(rt->log, lvl, component, NULL, fmt, ap);
    va_end(ap);
}

uint64_t ceb__runtime_rand(ceb_runtime *rt)
{
    uint64_t x = rt->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rt->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void run(ceb_runtime *rt);

static void idle_cb(uv_idle_t *h)
{
    run((ceb_runtime *)h->data);
}

void ceb__runtime_wake(ceb_runtime *rt)
{
    if (rt->idle_active || rt->closing_handles > 0)
        return;
    rt->idle_active = true;
    uv_idle_start(&rt->idle, idle_cb);
}

/* Instances that called stopped(): release what they hold, destroy. */
static bool process_destroy(ceb_runtime *rt)
{
    if (rt->destroy_list == NULL)
        return false;
    /* complete()/emit() a plugin thread queued before stopped() run first */
    ceb_xq_drain(&rt->xq);
    while (rt->destroy_list != NULL) {
        ceb_instance *inst = rt->destroy_list;
        rt->destroy_list = inst->next_destroy;
        if (inst->role == CEB_ROLE_SINK)
            ceb__delivery_sink_stopped(rt, inst);
        ceb__host_timers_reap(inst);
        for (size_t i = 0; i < inst->nroutes; i++)
            ceb__route_release(inst->routes[i]);
        free(inst->routes);
        inst->routes = NULL;
        inst->nroutes = 0;
        ceb__instance_destroy(inst);
        ceb__rt_log(rt, CEB_LOG_DEBUG, inst->component, "stopped and destroyed");
        ceb_instance **pp = &rt->instances;
        while (*pp != NULL && *pp != inst)
            pp = &(*pp)->next;
        if (*pp == inst)
            *pp = inst->next;
        ceb__instance_release(inst);
    }
    return true;
}

void ceb__runtime_instance_stopped(ceb_runtime *rt, ceb_instance *inst)
{
    inst->next_destroy = rt->destroy_list;
    rt->destroy_list = inst;
    ceb__runtime_wake(rt);
}

void ceb_runtime_flush_metrics(ceb_runtime *rt)
{
    ceb__router_flush_metrics(rt);
    ceb__delivery_flush_metrics(rt);
    rt->last_flush = uv_now(rt->loop);
}

static bool pending(const ceb_runtime *rt)
{
    return rt->att_head != NULL || rt->kick_head != NULL || rt->done_head != NULL ||
           rt->destroy_list != NULL || rt->pause_dirty;
}

static void run(ceb_runtime *rt)
{
    for (int round = 0; round < 64; round++) {
        bool did = ceb__delivery_run(rt);
        did = ceb__router_run(rt) || did;
        did = process_destroy(rt) || did;
        if (!did)
            break;
    }
    if (uv_now(rt->loop) - rt->last_flush >= 100)
        ceb_runtime_flush_metrics(rt);
    ceb__runtime_check(rt);
    if (!pending(rt) && rt->idle_active) {
        rt->idle_active = false;
        uv_idle_stop(&rt->idle);
    }
}

/* ---- idle and shutdown --------------------------------------------------- */

static void shutdown_finish(ceb_runtime *rt, int status)
{
    rt->phase = 3;
    ceb_tq_remove(&rt->tq, &rt->drain_node);
    ceb_tq_remove(&rt->tq, &rt->stop_node);
    ceb_runtime_flush_metrics(rt);
    if (rt->shutdown_cb != NULL)
        rt->shutdown_cb(rt, rt->shutdown_arg, status);
}

static void stop_sinks(ceb_runtime *rt)
{
    /* stop() may call stopped() at once; the list only changes in run() */
    for (ceb_instance *i = rt->instances; i != NULL; i = i->next)
        if (i->role == CEB_ROLE_SINK && i->started && !i->stop_called)
            ceb__instance_stop(i);
}

/* Records still targeting a sink: its load minus the attempts orphaned by a
   timeout or a cancel (those wait for a late complete(), which stop() gives). */
static size_t sink_records(const ceb_instance *sink)
{
    size_t orphans = 0;
    for (const ceb_delivery *a = sink->q->attempts; a != NULL; a = a->next)
        if (a->rec == NULL)
            orphans++;
    return sink->q->load - orphans;
}

void ceb__runtime_check(ceb_runtime *rt)
{
    for (ceb_instance *i = rt->instances; i != NULL; i = i->next) {
        if (i->role == CEB_ROLE_SINK && i->retiring && i->started && !i->stop_called &&
            !rt->shutting && sink_records(i) == 0) {
            ceb__rt_log(rt, CEB_LOG_INFO, i->component, "removed by reload; stopping");
            ceb__instance_stop(i);
        }
    }
    if (!rt->shutting) {
        if (rt->idle_reported || rt->idle_cb == NULL || !ceb_runtime_is_idle(rt))
            return;
        rt->idle_reported = true;
        ceb__rt_log(rt, CEB_LOG_INFO, "core", "every source ended and nothing is in flight");
        rt->idle_cb(rt, rt->idle_arg, 0);
        return;
    }
    if (rt->phase == 1 && rt->nopen == 0) {
        rt->phase = 2;
        ceb_tq_remove(&rt->tq, &rt->drain_node);
        ceb__rt_log(rt, CEB_LOG_DEBUG, "core", "drained; stopping sinks");
        stop_sinks(rt);
        ceb_tq_add(&rt->tq, &rt->stop_node, (uint64_t)rt->stop_wait_ms);
        ceb__runtime_wake(rt);
        return;
    }
    if (rt->phase == 2 && rt->instances == NULL)
        shutdown_finish(rt, 0);
}

bool ceb_runtime_is_idle(const ceb_runtime *rt)
{
    if (rt->nopen > 0 || rt->current == NULL)
        return false;
    for (const ceb_instance *i = rt->instances; i != NULL; i = i->next)
        if (i->role == CEB_ROLE_SOURCE && !i->retiring && !i->ended)
            return false;
    return true;
}

void ceb_runtime_on_idle(ceb_runtime *rt, ceb_runtime_cb cb, void *arg)
{
    rt->idle_cb = cb;
    rt->idle_arg = arg;
    rt->idle_reported = false;
    ceb__runtime_wake(rt);
}

static void drain_fire(ceb_tq_node *n)
{
    ceb_runtime *rt = container_of(n, ceb_runtime, drain_node);
    if (rt->phase != 1)
        return;
    ceb__rt_log(rt, CEB_LOG_WARN, "core",
                "drain timeout: %zu message(s) not acknowledged, left for redelivery",
                rt->nopen);
    ceb__router_cancel_all(rt);
    ceb__runtime_wake(rt);
}

static void stop_fire(ceb_tq_node *n)
{
    ceb_runtime *rt = container_of(n, ceb_runtime, stop_node);
    if (rt->phase != 2)
        return;
    for (ceb_instance *i = rt->instances; i != NULL; i = i->next)
        ceb__rt_log(rt, CEB_LOG_ERROR, i->component,
                    "did not call stopped() within %lld ms; not destroyed",
                    (long long)rt->stop_wait_ms);
    shutdown_finish(rt, CEB_ETIMEDOUT);
}

int ceb_runtime_shutdown(ceb_runtime *rt, int64_t drain_ms, ceb_runtime_cb cb, void *arg)
{
    if (rt->shutting)
        return CEB_ESHUTDOWN;
    rt->shutting = true;
    rt->phase = 1;
    rt->shutdown_cb = cb;
    rt->shutdown_arg = arg;
    if (drain_ms < 0)
        drain_ms = 0;
    rt->stop_wait_ms = drain_ms > 5000 ? drain_ms : 5000;
    ceb__rt_log(rt, CEB_LOG_INFO, "core", "shutting down: draining for up to %lld ms",
                (long long)drain_ms);
    for (ceb_instance *i = rt->instances; i != NULL; i = i->next)
        if (i->role == CEB_ROLE_SOURCE && i->started && !i->stop_called)
            ceb__instance_stop(i);
    ceb_tq_add(&rt->tq, &rt->drain_node, (uint64_t)drain_ms);
    ceb__runtime_wake(rt);
    return 0;
}

bool ceb_runtime_shutting_down(const ceb_runtime *rt)
{
    return rt->shutting;
}

/* ---- creation -------------------------------------------------------------- */

static int register_metrics(ceb_runtime *rt)
{
    static const char *const L_SOURCE[] = { "source" };
    static const char *const L_ROUTE[] = { "route" };
    static const char *const L_SINK[] = { "sink" };
    static const char *const L_SINK_OUTCOME[] = { "sink", "outcome" };
    /* Filters take tens to hundreds of nanoseconds: buckets from 50 ns. */
    static const double FILTER_BUCKETS[] = { 5e-8, 1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 1e-5,
                                             1e-4, 1e-3 };
    struct { ceb_metric_kind k; const char *name, *help; const char *const *l; size_t nl;
             ceb_metric **out; const double *b; size_t nb; } defs[] = {
        { CEB_METRIC_COUNTER, "events_received_total", "Events emitted by a source",
          L_SOURCE, 1, &rt->m_received },
        { CEB_METRIC_COUNTER, "events_routed_total", "Events that matched a route's filter",
          L_ROUTE, 1, &rt->m_routed },
        { CEB_METRIC_COUNTER, "events_filtered_total", "Events a route's filter left out",
          L_ROUTE, 1, &rt->m_filtered },
        { CEB_METRIC_COUNTER, "deliveries_total", "Delivery attempts by outcome",
          L_SINK_OUTCOME, 2, &rt->m_deliveries },
        { CEB_METRIC_COUNTER, "retries_total", "Retries scheduled", L_SINK, 1, &rt->m_retries },
        { CEB_METRIC_COUNTER, "dead_lettered_total", "Events written to a dead-letter sink",
          L_ROUTE, 1, &rt->m_dead_lettered },
        { CEB_METRIC_GAUGE, "inflight", "Delivery attempts in flight", L_SINK, 1,
          &rt->m_inflight },
        { CEB_METRIC_COUNTER, "filter_errors_total", "Filter evaluations that raised errors",
          L_ROUTE, 1, &rt->m_filter_errors },
        { CEB_METRIC_HISTOGRAM, "delivery_latency_seconds",
          "End-to-end latency from receipt to delivery", L_SINK, 1, &rt->m_latency },
        { CEB_METRIC_HISTOGRAM, "filter_evaluation_seconds",
          "Time to evaluate a route's filter (one evaluation in 256 is timed)", L_ROUTE, 1,
          &rt->m_filter_time, FILTER_BUCKETS, sizeof FILTER_BUCKETS / sizeof FILTER_BUCKETS[0] },
    };
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        int rc = ceb_metrics_register(rt->metrics, defs[i].k, defs[i].name, defs[i].help,
                                      defs[i].l, defs[i].nl, defs[i].b, defs[i].nb,
                                      defs[i].out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ceb_runtime_new(const ceb_runtime_opts *opts, ceb_runtime **out)
{
    if (opts == NULL || opts->loop == NULL || opts->metrics == NULL || out == NULL)
        return CEB_EINVAL;
    ceb_runtime *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return CEB_ENOMEM;
    rt->loop = opts->loop;
    rt->log = opts->log;
    rt->metrics = opts->metrics;
    rt->conf_free = opts->conf_free ? opts->conf_free : ceb_conf_free;
    ceb__pool_init(&rt->recs, sizeof(ceb__record));
    ceb__pool_init(&rt->atts, sizeof(ceb_delivery));
    rt->rng = opts->seed ? opts->seed : (uv_hrtime() ^ ((uint64_t)getpid() << 32)) | 1;
    int rc = register_metrics(rt);
    if (rc < 0) {
        free(rt);
        return rc;
    }
    if ((rc = ceb_xq_init(&rt->xq, rt->loop)) != 0) {
        free(rt);
        return rc;
    }
    if ((rc = ceb_tq_init(&rt->tq, rt->loop)) != 0 ||
        (rc = uv_idle_init(rt->loop, &rt->idle)) != 0) {
        /* unreachable in practice (init of a timer/idle cannot fail); keep it simple */
        return rc;
    }
    rt->idle.data = rt;
    ceb_tq_node_init(&rt->drain_node, drain_fire);
    ceb_tq_node_init(&rt->stop_node, stop_fire);
    rt->last_flush = uv_now(rt->loop);
    *out = rt;
    return 0;
}

/* One plugin's host->plugin_slot() (runtime.h). */
typedef struct ceb__pslot {
    struct ceb__pslot *next;
    void *value;
    char name[];
} ceb__pslot;

void **ceb__runtime_plugin_slot(ceb_runtime *rt, const char *plugin)
{
    for (ceb__pslot *p = rt->pslots; p != NULL; p = p->next)
        if (strcmp(p->name, plugin) == 0)
            return &p->value;
    size_t len = strlen(plugin);
    ceb__pslot *p = malloc(sizeof(*p) + len + 1);
    if (p == NULL)
        return NULL;
    p->value = NULL;
    memcpy(p->name, plugin, len + 1);
    p->next = rt->pslots;
    rt->pslots = p;
    return &p->value;
}

static void close_cb(uv_handle_t *h)
{
    ceb_runtime *rt = h->data;
    if (--rt->closing_handles == 0)
        free(rt);
}

static void tq_close_cb(uv_handle_t *h)
{
    ceb_runtime *rt = container_of(h, ceb_runtime, tq.timer);
    if (--rt->closing_handles == 0)
        free(rt);
}

void ceb_runtime_free(ceb_runtime *rt)
{
    if (rt == NULL)
        return;
    ceb_runtime_flush_metrics(rt);
    rt->closing_handles = 3;
    rt->xq.async.data = rt;
    ceb_xq_close(&rt->xq, close_cb);
    ceb_tq_close(&rt->tq, tq_close_cb);
    uv_close((uv_handle_t *)&rt->idle, close_cb);
    /* instances that never called stopped() are not destroyed (their state
       may still be in use); their memory goes with the process. */
    if (rt->current != NULL)
        ceb__confref_release(rt->current);
    rt->current = NULL;
    ceb__pool_destroy(&rt->recs);
    ceb__pool_destroy(&rt->atts);
    while (rt->free_msgs != NULL) {
        ceb__message *m = rt->free_msgs;
        rt->free_msgs = m->next;
        free(m);
    }
    while (rt->pslots != NULL) {   /* their content is the plugins' (host.h) */
        ceb__pslot *p = rt->pslots;
        rt->pslots = p->next;
        free(p);
    }
}

ceb_instance *ceb_runtime_find(ceb_runtime *rt, ceb_role role, const char *name)
{
    for (ceb_instance *i = rt->instances; i != NULL; i = i->next)
        if (i->role == role && !i->retiring && strcmp(i->name, name) == 0)
            return i;
    return NULL;
}

size_t ceb_runtime_open_messages(const ceb_runtime *rt)
{
    return rt->nopen;
}

/* ---- apply ------------------------------------------------------------------ */

typedef struct slot {
    ceb_instance *inst;
    bool fresh;          /* created by this apply */
    uint32_t max_inflight;   /* kept sink: the bound to apply at commit */
} slot;

static ceb_instance *slot_find(slot *s, const ceb_conf_instance *cis, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cis[i].name, name) == 0)
            return s[i].inst;
    return NULL;
}

static bool same_instance(const ceb_instance *old, const ceb_conf_instance *ci)
{
    if (old->plugin != ci->plugin)
        return false;
    const char *a = old->conf->fingerprint, *b = ci->fingerprint;
    if (a == NULL || b == NULL)
        return false;
    return strcmp(a, b) == 0;
}

/* Fill slots for one role: keep unchanged instances, create the others. */
static int prepare(ceb_runtime *rt, ceb__confref *cr, const ceb_conf_instance *cis, size_t n,
                   ceb_role role, slot *slots, ceb_diag *d)
{
    const char *kind = role == CEB_ROLE_SOURCE ? "sources" : "sinks";
    for (size_t i = 0; i < n; i++) {
        const ceb_conf_instance *ci = &cis[i];
        ceb_instance *old = ceb_runtime_find(rt, role, ci->name);
        if (old != NULL && same_instance(old, ci)) {
            slots[i].inst = old;
            slots[i].fresh = false;
            /* applied at commit: a failed reload changes nothing */
            if (role == CEB_ROLE_SINK)
                slots[i].max_inflight = ci->max_inflight ? ci->max_inflight
                                      : (cr->conf->settings.max_inflight
                                         ? cr->conf->settings.max_inflight : 1000);
            continue;
        }
        if (ci->plugin == NULL || (role == CEB_ROLE_SOURCE ? ci->plugin->source == NULL
                                                           : ci->plugin->sink == NULL))
            return ceb_diag_set(d, CEB_EINVAL, "%s.%s: plugin %s cannot be a %s", kind,
                                ci->name, ci->plugin_name ? ci->plugin_name : "?",
                                role == CEB_ROLE_SOURCE ? "source" : "sink");
        ceb_instance *inst = NULL;
        int rc = ceb__instance_new(rt, ceb__host_table(), cr, ci, &inst);
        if (rc < 0)
            return ceb_diag_set(d, rc, "%s.%s: %s", kind, ci->name, ceb_strerror(rc));
        slots[i].inst = inst;
        slots[i].fresh = true;
        ceb_diag cd;
        ceb_diag_clear(&cd);
        rc = ceb__instance_create(inst, &cd);
        if (rc < 0) {
            const char *pos = ci->pos.file ? ci->pos.file : "";
            if (cd.field[0] != '\0')
                ceb_diag_set(d, rc, "%s:%d:%d: %s.%s.%s: %s", pos, ci->pos.line, ci->pos.col,
                             kind, ci->name, cd.field, cd.message[0] ? cd.message
                                                                      : ceb_strerror(rc));
            else
                ceb_diag_set(d, rc, "%s:%d:%d: %s.%s: %s", pos, ci->pos.line, ci->pos.col,
                             kind, ci->name, cd.message[0] ? cd.message : ceb_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Undo the fresh instances of a failed apply. */
static void rollback(ceb_runtime *rt, slot *slots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ceb_instance *inst = slots[i].inst;
        if (inst == NULL || !slots[i].fresh)
            continue;
        if (inst->started) {
            /* running: stop it through the normal path */
            inst->retiring = true;
            inst->next = rt->instances;
            rt->instances = inst;
            ceb__instance_stop(inst);
        } else {
            ceb__instance_destroy(inst);
            ceb__instance_release(inst);
        }
        slots[i].inst = NULL;
    }
}

static bool in_slots(const slot *s, size_t n, const ceb_instance *inst)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].inst == inst)
            return true;
    return false;
}

int ceb_runtime_apply(ceb_runtime *rt, ceb_conf *conf, ceb_diag *d)
{
    if (conf == NULL)
        return CEB_EINVAL;
    if (rt->shutting) {
        rt->conf_free(conf);
        return CEB_ESHUTDOWN;
    }
    ceb__confref *cr = calloc(1, sizeof(*cr));
    if (cr == NULL) {
        rt->conf_free(conf);
        return CEB_ENOMEM;
    }
    cr->conf = conf;
    cr->refs = 1;   /* the apply's own reference */
    cr->free_fn = rt->conf_free;

    size_t nsrc = conf->nsources, nsnk = conf->nsinks, nrt = conf->nroutes;
    slot *src = calloc(nsrc + 1, sizeof(*src));
    slot *snk = calloc(nsnk + 1, sizeof(*snk));
    ceb__route **routes = calloc(nrt + 1, sizeof(*routes));
    ceb__route ***per_src = calloc(nsrc + 1, sizeof(*per_src));
    size_t *per_n = calloc(nsrc + 1, sizeof(*per_n));
    int rc = 0;
    if (src == NULL || snk == NULL || routes == NULL || per_src == NULL || per_n == NULL) {
        rc = ceb_diag_set(d, CEB_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = prepare(rt, cr, conf->sinks, nsnk, CEB_ROLE_SINK, snk, d)) < 0 ||
        (rc = prepare(rt, cr, conf->sources, nsrc, CEB_ROLE_SOURCE, src, d)) < 0)
        goto fail;
    for (size_t i = 0; i < nsnk; i++) {
        if (!snk[i].fresh)
            continue;
        if ((rc = ceb__instance_start(snk[i].inst)) < 0) {
            ceb_diag_set(d, rc, "sinks.%s: start failed: %s", snk[i].inst->name,
                         ceb_strerror(rc));
            goto fail;
        }
    }
    /* routes over the new instance set */
    for (size_t r = 0; r < nrt; r++) {
        const ceb_conf_route *rc_ = &conf->routes[r];
        ceb_instance **to = calloc(rc_->nto + 1, sizeof(*to));
        if (to == NULL) {
            rc = ceb_diag_set(d, CEB_ENOMEM, "out of memory");
            goto fail;
        }
        size_t nto = 0;
        for (size_t k = 0; k < rc_->nto; k++) {
            ceb_instance *s = slot_find(snk, conf->sinks, nsnk, rc_->to[k]);
            if (s != NULL)
                to[nto++] = s;
        }
        ceb_instance *dlq = rc_->dead_letter ? slot_find(snk, conf->sinks, nsnk,
                                                         rc_->dead_letter) : NULL;
        rc = ceb__route_new(rt, cr, rc_, to, nto, dlq, &routes[r]);
        free(to);
        if (rc < 0) {
            ceb_diag_set(d, rc, "out of memory");
            goto fail;
        }
    }
    for (size_t s = 0; s < nsrc; s++) {
        per_src[s] = calloc(nrt + 1, sizeof(**per_src));
        if (per_src[s] == NULL) {
            rc = ceb_diag_set(d, CEB_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t r = 0; r < nrt; r++)
            for (size_t k = 0; k < conf->routes[r].nfrom; k++)
                if (strcmp(conf->routes[r].from[k], conf->sources[s].name) == 0) {
                    per_src[s][per_n[s]++] = routes[r];
                    ceb__route_retain(routes[r]);
                    break;
                }
    }
    /* new sources get their routes, then start (make before break) */
    for (size_t s = 0; s < nsrc; s++) {
        if (!src[s].fresh)
            continue;
        ceb_instance *inst = src[s].inst;
        inst->routes = per_src[s];
        inst->nroutes = per_n[s];
        per_src[s] = NULL;
        per_n[s] = 0;
        if ((rc = ceb__instance_start(inst)) < 0) {
            ceb_diag_set(d, rc, "sources.%s: start failed: %s", inst->name, ceb_strerror(rc));
            goto fail;
        }
    }

    /* ---- commit ---- */
    for (size_t i = 0; i < nsnk; i++) {
        ceb_instance *k = snk[i].inst;
        if (snk[i].fresh || k->max_inflight == snk[i].max_inflight)
            continue;
        ceb__rt_log(rt, CEB_LOG_INFO, k->component, "max_inflight %u -> %u", k->max_inflight,
                    snk[i].max_inflight);
        k->max_inflight = snk[i].max_inflight;
        ceb__delivery_limit_changed(rt, k);
    }
    for (size_t s = 0; s < nsrc; s++) {
        if (src[s].fresh)
            continue;
        ceb_instance *inst = src[s].inst;
        for (size_t i = 0; i < inst->nroutes; i++)
            ceb__route_release(inst->routes[i]);
        free(inst->routes);
        inst->routes = per_src[s];
        inst->nroutes = per_n[s];
        per_src[s] = NULL;
    }
    /* retire what the new configuration no longer has */
    for (ceb_instance *i = rt->instances; i != NULL; i = i->next) {
        if (i->retiring)
            continue;
        bool keep = i->role == CEB_ROLE_SOURCE ? in_slots(src, nsrc, i) : in_slots(snk, nsnk, i);
        if (keep)
            continue;
        i->retiring = true;
        if (i->role == CEB_ROLE_SOURCE) {
            ceb__rt_log(rt, CEB_LOG_INFO, i->component, "removed or changed by reload; stopping");
            ceb__instance_stop(i);
        }
    }
    for (size_t i = 0; i < nsnk; i++)
        if (snk[i].fresh) {
            snk[i].inst->next = rt->instances;
            rt->instances = snk[i].inst;
        }
    for (size_t i = 0; i < nsrc; i++)
        if (src[i].fresh) {
            src[i].inst->next = rt->instances;
            rt->instances = src[i].inst;
        }
    if (rt->current != NULL)
        ceb__confref_release(rt->current);
    rt->current = cr;       /* takes the apply's reference */
    cr = NULL;
    rt->idle_reported = false;
    rt->pause_dirty = true;
    ceb__runtime_wake(rt);
    rc = 0;
    goto out;

fail:
    rollback(rt, src, nsrc);
    rollback(rt, snk, nsnk);
out:
    if (routes != NULL)
        for (size_t r = 0; r < nrt; r++)
            ceb__route_release(routes[r]);
    if (per_src != NULL)
        for (size_t s = 0; s < nsrc; s++) {
            if (per_src[s] == NULL)
                continue;
            for (size_t k = 0; k < per_n[s]; k++)
                ceb__route_release(per_src[s][k]);
            free(per_src[s]);
        }
    free(per_src);
    free(per_n);
    free(routes);
    free(src);
    free(snk);
    if (cr != NULL)
        ceb__confref_release(cr);
    return rc;
}
