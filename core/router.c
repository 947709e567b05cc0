#include "router.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <cebridge/buf.h>
#include <cebridge/errors.h>
#include <cebridge/template.h>
#include "delivery.h"
#include "event_cesql.h"
#include "runtime.h"

/* ---- routes ------------------------------------------------------------ */

int ceb__route_new(ceb_runtime *rt, ceb__confref *cr, const ceb_conf_route *rc,
                   ceb_instance *const *sinks, size_t nsinks, ceb_instance *dlq,
                   ceb__route **out)
{
    ceb__route *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return CEB_ENOMEM;
    r->rt = rt;
    r->name = strdup(rc->name);
    r->sinks = calloc(nsinks ? nsinks : 1, sizeof(*r->sinks));
    if (r->name == NULL || r->sinks == NULL) {
        free(r->name);
        free(r->sinks);
        free(r);
        return CEB_ENOMEM;
    }
    r->metric_label[0] = r->name;
    r->conf = rc;
    r->confref = cr;
    ceb__confref_retain(cr);
    for (size_t i = 0; i < nsinks; i++) {
        r->sinks[i] = sinks[i];
        ceb__instance_retain(sinks[i]);
    }
    r->nsinks = nsinks;
    r->dlq = dlq;
    if (dlq != NULL)
        ceb__instance_retain(dlq);
    r->refs = 1;
    *out = r;
    return 0;
}

void ceb__route_destroy(ceb__route *r)
{
    /* A dirty route is still on the runtime's flush list. */
    if (r->dirty) {
        ceb__router_flush_metrics(r->rt);
    }
    for (size_t i = 0; i < r->nsinks; i++)
        ceb__instance_release(r->sinks[i]);
    ceb__instance_release(r->dlq);
    ceb__confref_release(r->confref);
    free(r->sinks);
    free(r->name);
    free(r);
}

static void route_dirty(ceb_runtime *rt, ceb__route *r)
{
    if (!r->dirty) {
        r->dirty = true;
        r->next_dirty = rt->dirty_routes;
        rt->dirty_routes = r;
    }
}

/* ---- messages ---------------------------------------------------------- */

static ceb__message *msg_new(ceb_instance *src, void *token)
{
    ceb_runtime *rt = src->rt;
    ceb__message *m = rt->free_msgs;
    if (m != NULL) {
        rt->free_msgs = m->next;
        rt->nfree_msgs--;
    } else {
        m = malloc(sizeof(*m));
        if (m == NULL)
            return NULL;
    }
    memset(m, 0, sizeof(*m));
    m->src = src;
    ceb__instance_retain(src);
    m->token = token;
    m->outstanding = 1;   /* the routing guard */
    m->recv_ns = uv_hrtime();
    m->next = rt->open_head;
    if (rt->open_head != NULL)
        rt->open_head->prev = m;
    rt->open_head = m;
    rt->nopen++;
    src->open_msgs++;
    return m;
}

static void msg_free(ceb_runtime *rt, ceb__message *m)
{
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        rt->open_head = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    rt->nopen--;
    m->src->open_msgs--;
    ceb__instance_release(m->src);
    if (rt->nfree_msgs < 1024) {
        m->next = rt->free_msgs;
        rt->free_msgs = m;
        rt->nfree_msgs++;
    } else {
        free(m);
    }
}

void ceb__message_resolve(ceb__message *msg, int status)
{
    if (status < 0 && msg->status == 0)
        msg->status = status;
    assert(msg->outstanding > 0);
    if (--msg->outstanding > 0 || msg->done_queued)
        return;
    ceb_runtime *rt = msg->src->rt;
    msg->done_queued = true;
    msg->next_done = NULL;
    if (rt->done_tail != NULL)
        rt->done_tail->next_done = msg;
    else
        rt->done_head = msg;
    rt->done_tail = msg;
    ceb__runtime_wake(rt);
}

bool ceb__router_run(ceb_runtime *rt)
{
    bool did = false;
    while (rt->done_head != NULL) {
        ceb__message *m = rt->done_head;
        rt->done_head = m->next_done;
        if (rt->done_head == NULL)
            rt->done_tail = NULL;
        did = true;
        ceb_instance *src = m->src;
        void *token = m->token;
        int status = m->status;
        bool can_ack = src->started && !src->destroyed && !ceb__instance_is_stopped(src);
        ceb__instance_retain(src);
        msg_free(rt, m);
        if (can_ack) {
            if (status < 0)
                ceb__rt_log(rt, CEB_LOG_WARN, src->component,
                            "message not acknowledged (left for redelivery): %s",
                            ceb_strerror(status));
            if (src->plugin->source->ack != NULL)
                src->plugin->source->ack(src->state, token, status);
        }
        ceb__instance_release(src);
    }
    if (did)
        ceb__runtime_check(rt);
    return did;
}

void ceb__router_cancel_all(ceb_runtime *rt)
{
    for (ceb__message *m = rt->open_head; m != NULL; m = m->next) {
        if (m->done_queued)
            continue;
        m->outstanding++;   /* hold the message while its records go */
        while (m->recs != NULL)
            ceb__delivery_drop(rt, m->recs);
        ceb__message_resolve(m, CEB_ECANCELED);
        if (m->status == 0)
            m->status = CEB_ECANCELED;
    }
}

void ceb__router_flush_metrics(ceb_runtime *rt)
{
    while (rt->dirty_routes != NULL) {
        ceb__route *r = rt->dirty_routes;
        rt->dirty_routes = r->next_dirty;
        r->dirty = false;
        if (r->d_routed)
            ceb_metric_add(rt->m_routed, r->metric_label, (double)r->d_routed);
        if (r->d_filtered)
            ceb_metric_add(rt->m_filtered, r->metric_label, (double)r->d_filtered);
        if (r->d_filter_errors)
            ceb_metric_add(rt->m_filter_errors, r->metric_label, (double)r->d_filter_errors);
        if (r->d_dead_lettered)
            ceb_metric_add(rt->m_dead_lettered, r->metric_label, (double)r->d_dead_lettered);
        r->d_routed = r->d_filtered = r->d_filter_errors = r->d_dead_lettered = 0;
    }
}

/* ---- routing ----------------------------------------------------------- */

int ceb__dead_letter_event(const ceb_event *ev, const char *reason, const char *route,
                           uint32_t attempts, ceb_event **out)
{
    ceb_event *c = NULL;
    int rc = ceb_event_clone(ev, &c);
    if (rc < 0)
        return rc;
    ceb_diag d;
    ceb_diag_clear(&d);
    if (reason == NULL || reason[0] == '\0')
        reason = "unknown";
    rc = ceb_event_set(c, "cebdlqreason", reason, &d);
    if (rc == 0)
        rc = ceb_event_set(c, "cebdlqroute", route, &d);
    if (rc == 0)
        rc = ceb_event_set_int(c, "cebdlqattempts", (int32_t)attempts, &d);
    if (rc < 0) {
        ceb_event_unref(c);
        return rc;
    }
    ceb_event_freeze(c);
    *out = c;
    return 0;
}

/* Send `ev` straight to the route's dead letter (a transform that failed,
   unroutable input). */
static void dead_letter_direct(ceb_runtime *rt, ceb__message *msg, const ceb_event *ev,
                               ceb__route *r, const char *reason, uint32_t attempts)
{
    if (r->dlq == NULL) {
        ceb__rt_log(rt, CEB_LOG_ERROR, "router",
                    "route %s: %s; no dead_letter configured, message left for redelivery",
                    r->name, reason);
        if (msg->status == 0)
            msg->status = CEB_ENOENT;
        return;
    }
    ceb_event *copy = NULL;
    int rc = ceb__dead_letter_event(ev, reason, r->name, attempts, &copy);
    if (rc == 0)
        rc = ceb__delivery_submit(rt, msg, copy, r, r->dlq, true);
    ceb_event_unref(copy);
    if (rc < 0 && msg->status == 0)
        msg->status = rc;
}

static int transform(ceb__route *r, const ceb_event *ev, ceb_event **out, ceb_diag *d)
{
    ceb_event *c = NULL;
    int rc = ceb_event_clone(ev, &c);
    if (rc < 0)
        return ceb_diag_set(d, rc, "clone: %s", ceb_strerror(rc));
    ceb_buf b = {0};
    for (size_t i = 0; i < r->conf->ntransform && rc == 0; i++) {
        const ceb_conf_transform_op *op = &r->conf->transform[i];
        if (op->value == NULL) {
            rc = ceb_event_remove(c, op->attr);
            if (rc == CEB_ENOENT)
                rc = 0;
            else if (rc < 0)
                ceb_diag_set(d, rc, "transform: remove %s: %s", op->attr, ceb_strerror(rc));
            continue;
        }
        ceb_buf_reset(&b);
        rc = ceb_template_render(op->value, ev, &b);
        if (rc == 0)
            rc = ceb_event_setn(c, op->attr, b.data ? b.data : "", b.len, d);
        if (rc < 0)
            ceb_diag_set(d, rc, "transform: set %s: %s", op->attr, ceb_strerror(rc));
    }
    ceb_buf_free(&b);
    if (rc < 0) {
        ceb_event_unref(c);
        return rc;
    }
    ceb_event_freeze(c);
    *out = c;
    return 0;
}

int ceb__router_emit(ceb_instance *src, ceb_event *const *events, size_t n, void *token)
{
    ceb_runtime *rt = src->rt;
    ceb__message *msg = msg_new(src, token);
    if (msg == NULL) {
        for (size_t i = 0; i < n; i++)
            ceb_event_unref(events[i]);
        return CEB_ENOMEM;
    }
    const char *lbl[1] = { src->name };
    ceb_metric_add(rt->m_received, lbl, (double)n);
    const ceb_cesql_accessor *acc = ceb__event_cesql_accessor();
    for (size_t j = 0; j < src->nroutes; j++)   /* its counters change below */
        route_dirty(rt, src->routes[j]);
    for (size_t i = 0; i < n; i++) {
        const ceb_event *ev = events[i];
        for (size_t j = 0; j < src->nroutes; j++) {
            ceb__route *r = src->routes[j];
            if (r->conf->filter != NULL) {
                int nerr = 0;
                bool timed = ++r->filter_sample % CEB_FILTER_SAMPLE == 0;
                uint64_t t0 = timed ? uv_hrtime() : 0;
                bool ok = ceb_cesql_match(r->conf->filter, acc, (void *)ev, &nerr);
                if (timed)
                    ceb_metric_observe(rt->m_filter_time, r->metric_label,
                                       (double)(uv_hrtime() - t0) / 1e9);
                if (nerr > 0)
                    r->d_filter_errors++;
                if (!ok) {
                    r->d_filtered++;
                    continue;
                }
            }
            r->d_routed++;
            const ceb_event *out = ev;
            ceb_event *clone = NULL;
            if (r->conf->ntransform > 0) {
                ceb_diag d;
                ceb_diag_clear(&d);
                if (transform(r, ev, &clone, &d) < 0) {
                    ceb__rt_log(rt, CEB_LOG_WARN, "router", "route %s: event %s: %s", r->name,
                                ceb_event_id(ev) ? ceb_event_id(ev) : "?", d.message);
                    dead_letter_direct(rt, msg, ev, r, d.message, 0);
                    continue;
                }
                out = clone;
            }
            for (size_t k = 0; k < r->nsinks; k++) {
                int rc = ceb__delivery_submit(rt, msg, out, r, r->sinks[k], false);
                if (rc < 0 && msg->status == 0)
                    msg->status = rc;
            }
            ceb_event_unref(clone);
        }
    }
    for (size_t i = 0; i < n; i++)
        ceb_event_unref(events[i]);
    ceb__message_resolve(msg, 0);
    return 0;
}

int ceb__router_emit_dead_letter(ceb_instance *src, ceb_event *ev, const char *reason,
                                 void *token)
{
    ceb_runtime *rt = src->rt;
    ceb__message *msg = msg_new(src, token);
    if (msg == NULL) {
        ceb_event_unref(ev);
        return CEB_ENOMEM;
    }
    const char *lbl[1] = { src->name };
    ceb_metric_add(rt->m_received, lbl, 1);
    size_t count = 0;
    for (size_t j = 0; j < src->nroutes; j++) {
        ceb__route *r = src->routes[j];
        if (r->dlq == NULL)
            continue;
        count++;
        dead_letter_direct(rt, msg, ev, r, reason, 0);
    }
    if (count == 0) {
        ceb__rt_log(rt, CEB_LOG_ERROR, src->component,
                    "cannot dead-letter input (%s): no route from this source has a "
                    "dead_letter; left for redelivery", reason ? reason : "unknown");
        msg->status = CEB_ENOENT;
    }
    ceb_event_unref(ev);
    ceb__message_resolve(msg, 0);
    return 0;
}
