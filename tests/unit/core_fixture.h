/*
 * Shared fixture of the core unit tests (router, delivery, runtime): a
 * hand-built ceb_conf (no drop-in files), an in-test source plugin that
 * records its acks and pause/resume calls, and an in-test sink plugin whose
 * behaviour the test chooses (complete at once, fail N times, fail
 * permanently, hold deliveries for the test to complete, return an error
 * from deliver). The loop is driven with uv_run(UV_RUN_ONCE) until a
 * condition holds, never with sleeps. Test-only code: static functions.
 */
#ifndef CEB_TEST_CORE_FIXTURE_H
#define CEB_TEST_CORE_FIXTURE_H

/* Not every test file uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>
#include <cebridge/cebridge.h>
#include "config.h"
#include "delivery.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "runtime.h"

/* ---- sink ---------------------------------------------------------------- */

enum { SINK_OK = 0, SINK_FAIL_N, SINK_PERMANENT, SINK_HOLD, SINK_DELIVER_ERR };

#define FX_MAX 256

typedef struct fx_sink_cfg {
    int mode;
    int fail_n;                  /* SINK_FAIL_N: RETRY this many times first */
    int err;                     /* error code for failures / deliver's return */
    int64_t retry_after_ms;
    const char *detail;
    /* observed */
    const ceb_host *host;
    ceb_instance *inst;
    int deliveries;              /* deliver() calls */
    int failed_so_far;
    ceb_delivery *held[FX_MAX];  /* SINK_HOLD */
    int nheld;
    const ceb_event *seen[FX_MAX];   /* refs of every delivered event, in order */
    int nseen;
    uint32_t attempts[FX_MAX];       /* delivery_info().attempt per call */
    bool dlq_flag[FX_MAX];
    uint64_t at_ms[FX_MAX];          /* uv_now() per call */
    bool started, stopped;
} fx_sink_cfg;

static int fx_sink_create(ceb_instance *inst, const ceb_host *host, const void *config,
                          ceb_diag *diag, void **state)
{
    fx_sink_cfg *c = (fx_sink_cfg *)config;
    if (c->mode < 0)
        return ceb_diag_set(diag, CEB_ECONFIG, "refused by the test");
    c->host = host;
    c->inst = inst;
    *state = c;
    return 0;
}

static int fx_sink_start(void *state)
{
    ((fx_sink_cfg *)state)->started = true;
    return 0;
}

static int fx_sink_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    fx_sink_cfg *c = state;
    ceb_delivery_info info;
    c->host->delivery_info(dlv, &info);
    if (c->deliveries < FX_MAX) {
        c->attempts[c->deliveries] = info.attempt;
        c->dlq_flag[c->deliveries] = info.dead_letter;
        c->at_ms[c->deliveries] = uv_now(c->host->loop(c->inst));
    }
    c->deliveries++;
    if (c->nseen < FX_MAX)
        c->seen[c->nseen++] = ceb_event_ref(ev);
    switch (c->mode) {
    case SINK_OK:
        c->host->complete(dlv, CEB_OUTCOME_OK, 0, 0, NULL);
        return 0;
    case SINK_FAIL_N:
        if (c->failed_so_far < c->fail_n) {
            c->failed_so_far++;
            c->host->complete(dlv, CEB_OUTCOME_RETRY, c->err, c->retry_after_ms, c->detail);
        } else {
            c->host->complete(dlv, CEB_OUTCOME_OK, 0, 0, NULL);
        }
        return 0;
    case SINK_PERMANENT:
        c->host->complete(dlv, CEB_OUTCOME_PERMANENT, c->err, 0, c->detail);
        return 0;
    case SINK_HOLD:
        c->held[c->nheld++] = dlv;
        return 0;
    default:
        return c->err;
    }
}

/* Complete the i-th held delivery (then it is gone). */
static void fx_sink_release(fx_sink_cfg *c, int i, ceb_outcome oc, int err)
{
    assert_true(i < c->nheld && c->held[i] != NULL);
    ceb_delivery *d = c->held[i];
    c->held[i] = NULL;
    c->host->complete(d, oc, err, 0, NULL);
}

static void fx_sink_stop(void *state)
{
    fx_sink_cfg *c = state;
    for (int i = 0; i < c->nheld; i++)
        if (c->held[i] != NULL)
            fx_sink_release(c, i, CEB_OUTCOME_RETRY, CEB_ECANCELED);
    c->stopped = true;
    c->host->stopped(c->inst);
}

static void fx_sink_destroy(void *state)
{
    fx_sink_cfg *c = state;
    for (int i = 0; i < c->nseen; i++)
        ceb_event_unref(c->seen[i]);
    c->nseen = 0;
}

static const ceb_sink_ops fx_sink_ops = {
    .create = fx_sink_create, .start = fx_sink_start, .deliver = fx_sink_deliver,
    .stop = fx_sink_stop, .destroy = fx_sink_destroy,
};

/* ---- source ---------------------------------------------------------------- */

typedef struct fx_src_cfg {
    const ceb_host *host;
    ceb_instance *inst;
    void *acked_tokens[FX_MAX];
    int ack_status[FX_MAX];
    int nacks;
    int pauses, resumes;
    bool started, stop_called, stopped, destroyed;
    bool stop_waits_for_acks;    /* call stopped() only when open == 0 */
    int open;                    /* emitted and not acked */
    bool emit_after_stopped;     /* stop(): after stopped(), try emit twice */
    int late_rc[2];
} fx_src_cfg;

static int fx_src_create(ceb_instance *inst, const ceb_host *host, const void *config,
                         ceb_diag *diag, void **state)
{
    (void)diag;
    fx_src_cfg *c = (fx_src_cfg *)config;
    c->host = host;
    c->inst = inst;
    *state = c;
    return 0;
}

static int fx_src_start(void *state)
{
    ((fx_src_cfg *)state)->started = true;
    return 0;
}

static void fx_src_pause(void *state) { ((fx_src_cfg *)state)->pauses++; }
static void fx_src_resume(void *state) { ((fx_src_cfg *)state)->resumes++; }

static void fx_src_ack(void *state, void *token, int status)
{
    fx_src_cfg *c = state;
    assert_false(c->stopped);
    if (c->nacks < FX_MAX) {
        c->acked_tokens[c->nacks] = token;
        c->ack_status[c->nacks] = status;
    }
    c->nacks++;
    c->open--;
    if (c->stop_called && c->stop_waits_for_acks && c->open == 0 && !c->stopped) {
        c->stopped = true;
        c->host->stopped(c->inst);
    }
}

static void fx_src_stop(void *state)
{
    fx_src_cfg *c = state;
    c->stop_called = true;
    if (!c->stop_waits_for_acks || c->open == 0) {
        c->stopped = true;
        c->host->stopped(c->inst);
    }
    if (c->emit_after_stopped) {
        for (int i = 0; i < 2; i++) {
            ceb_event *ev = NULL;
            ceb_event_new(&ev);
            c->late_rc[i] = c->host->emit(c->inst, &ev, 1, NULL);
        }
    }
}

static void fx_src_destroy(void *state)
{
    ((fx_src_cfg *)state)->destroyed = true;
}

static const ceb_source_ops fx_src_ops = {
    .create = fx_src_create, .start = fx_src_start, .pause = fx_src_pause,
    .resume = fx_src_resume, .ack = fx_src_ack, .stop = fx_src_stop, .destroy = fx_src_destroy,
};

static const ceb_plugin fx_plugin = {
    .abi = CEB_ABI_VERSION, .size = sizeof(ceb_plugin), .name = "fx", .version = "1",
    .description = "core test plugin", .source = &fx_src_ops, .sink = &fx_sink_ops,
};

/* ---- configuration built by hand ------------------------------------------ */

static char *fx_strdup(const char *s) { return s ? strdup(s) : NULL; }

static ceb_conf *fx_conf_new(void)
{
    ceb_conf *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->settings.max_inflight = 1000;
    c->settings.drain_timeout_ms = 1000;
    return c;
}

static void fx_conf_free(ceb_conf *c)
{
    ceb_conf_instance *lists[2] = { c->sources, c->sinks };
    size_t ns[2] = { c->nsources, c->nsinks };
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < ns[l]; i++) {
            free(lists[l][i].name);
            free(lists[l][i].plugin_name);
            free(lists[l][i].fingerprint);
        }
        free(lists[l]);
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        ceb_conf_route *r = &c->routes[i];
        free(r->name);
        for (size_t k = 0; k < r->nfrom; k++)
            free(r->from[k]);
        for (size_t k = 0; k < r->nto; k++)
            free(r->to[k]);
        free(r->from);
        free(r->to);
        free(r->filter_text);
        ceb_cesql_free(r->filter);
        free(r->dead_letter);
        for (size_t k = 0; k < r->ntransform; k++) {
            free(r->transform[k].attr);
            ceb_template_free(r->transform[k].value);
        }
        free(r->transform);
    }
    free(c->routes);
    free(c);
}

static void fx_add_instance(ceb_conf *c, ceb_role role, const char *name, void *cfg,
                            const char *fingerprint, uint32_t max_inflight)
{
    ceb_conf_instance **list = role == CEB_ROLE_SOURCE ? &c->sources : &c->sinks;
    size_t *n = role == CEB_ROLE_SOURCE ? &c->nsources : &c->nsinks;
    *list = realloc(*list, (*n + 1) * sizeof(**list));
    ceb_conf_instance *ci = &(*list)[(*n)++];
    memset(ci, 0, sizeof(*ci));
    ci->name = fx_strdup(name);
    ci->plugin_name = fx_strdup("fx");
    ci->role = role;
    ci->plugin = &fx_plugin;
    ci->config = cfg;
    ci->fingerprint = fx_strdup(fingerprint ? fingerprint : name);
    ci->max_inflight = max_inflight;
    ci->pos.line = 1;
    ci->pos.col = 1;
}

static void fx_add_source(ceb_conf *c, const char *name, fx_src_cfg *cfg)
{
    fx_add_instance(c, CEB_ROLE_SOURCE, name, cfg, NULL, 0);
}

static void fx_add_sink(ceb_conf *c, const char *name, fx_sink_cfg *cfg, uint32_t max_inflight)
{
    fx_add_instance(c, CEB_ROLE_SINK, name, cfg, NULL, max_inflight);
}

/* A route; `to` is a comma-free list of up to 4 sink names ending with NULL. */
static ceb_conf_route *fx_add_route(ceb_conf *c, const char *name, const char *from,
                                    const char *const *to, const char *filter, const char *dlq)
{
    c->routes = realloc(c->routes, (c->nroutes + 1) * sizeof(*c->routes));
    ceb_conf_route *r = &c->routes[c->nroutes++];
    memset(r, 0, sizeof(*r));
    r->name = fx_strdup(name);
    r->from = calloc(1, sizeof(char *));
    r->from[0] = fx_strdup(from);
    r->nfrom = 1;
    size_t n = 0;
    while (to[n] != NULL)
        n++;
    r->to = calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        r->to[i] = fx_strdup(to[i]);
    r->nto = n;
    if (filter != NULL) {
        r->filter_text = fx_strdup(filter);
        ceb_cesql_error err;
        assert_int_equal(ceb_cesql_compile(filter, strlen(filter), 0, &r->filter, &err), 0);
    }
    r->dead_letter = fx_strdup(dlq);
    r->retry.attempts = 3;
    r->retry.backoff = CEB_BACKOFF_CONSTANT;
    r->retry.initial_ms = 1;
    r->retry.max_ms = 1000;
    r->retry.timeout_ms = 0;
    return r;
}

static void fx_route_transform(ceb_conf_route *r, const char *attr, const char *tmpl)
{
    r->transform = realloc(r->transform, (r->ntransform + 1) * sizeof(*r->transform));
    ceb_conf_transform_op *op = &r->transform[r->ntransform++];
    op->attr = fx_strdup(attr);
    op->value = NULL;
    if (tmpl != NULL) {
        ceb_diag d;
        ceb_diag_clear(&d);
        assert_int_equal(ceb_template_compile(tmpl, &op->value, &d), 0);
    }
}

/* ---- world ------------------------------------------------------------------ */

typedef struct fx_world {
    uv_loop_t loop;
    ceb_log log;
    char *logbuf;
    size_t loglen;
    ceb_metrics *metrics;
    ceb_runtime *rt;
    bool shut;
    int shut_status;
    int idle_calls;
} fx_world;

static void fx_world_init(fx_world *w)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    FILE *f = open_memstream(&w->logbuf, &w->loglen);
    assert_non_null(f);
    ceb_log_init(&w->log, f);
    w->log.level = CEB_LOG_DEBUG;
    assert_int_equal(ceb_metrics_new(&w->metrics), 0);
    ceb_runtime_opts o = { .loop = &w->loop, .log = &w->log, .metrics = w->metrics,
                           .seed = 42, .conf_free = fx_conf_free };
    assert_int_equal(ceb_runtime_new(&o, &w->rt), 0);
}

static bool fx_log_contains(fx_world *w, const char *needle)
{
    fflush(w->log.out);
    return w->logbuf != NULL && strstr(w->logbuf, needle) != NULL;
}

/* Run the loop until cond(arg) or a generous iteration cap (no sleeps). */
#define FX_RUN_UNTIL(w, expr)                                                  \
    do {                                                                       \
        int fx_i_ = 0;                                                         \
        while (!(expr) && fx_i_++ < 100000)                                    \
            uv_run(&(w)->loop, UV_RUN_ONCE);                                   \
        assert_true(expr);                                                     \
    } while (0)

/* Let deferred work run (a few iterations without blocking forever). */
static void fx_settle(fx_world *w)
{
    for (int i = 0; i < 8; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
}

static void fx_shutdown_cb(ceb_runtime *rt, void *arg, int status)
{
    (void)rt;
    fx_world *w = arg;
    w->shut = true;
    w->shut_status = status;
}

static void fx_world_shutdown(fx_world *w, int64_t drain_ms)
{
    assert_int_equal(ceb_runtime_shutdown(w->rt, drain_ms, fx_shutdown_cb, w), 0);
    FX_RUN_UNTIL(w, w->shut);
}

/* Shut down (if not yet), free, and check libuv's leak rule. */
static void fx_world_free(fx_world *w)
{
    if (!w->shut)
        fx_world_shutdown(w, 1000);
    ceb_runtime_free(w->rt);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    ceb_metrics_free(w->metrics);
    fclose(w->log.out);
    free(w->logbuf);
}

/* A valid event with id/type (and optional extension text "k=v"). */
static ceb_event *fx_event(const char *id, const char *type)
{
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", id, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/test", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", type, NULL), 0);
    return ev;
}

static int fx_emit1(fx_src_cfg *s, const char *id, const char *type, void *token)
{
    ceb_event *ev = fx_event(id, type);
    int rc = s->host->emit(s->inst, &ev, 1, token);
    if (rc == 0)
        s->open++;
    return rc;
}

static double fx_metric(fx_world *w, ceb_metric *m, const char *l1, const char *l2)
{
    ceb_runtime_flush_metrics(w->rt);
    const char *lv[2] = { l1, l2 };
    return ceb_metric_value(m, lv);
}

#endif
