/*
 * The test host (cebridge/testhost.h): a ceb_host table on a private libuv
 * loop for plugin unit tests, with the contract checks of STYLE §9.11.
 *
 * Any-thread calls (emit, emit_dead_letter, complete, post) made off the loop
 * thread are queued (mutex + list + uv_async_t) and applied on the loop; made
 * on the loop thread they apply at once (post is always queued). Violations
 * are recorded as static strings; the first one wins.
 */
#include <cebridge/testhost.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "optval.h"

struct ceb_instance {
    ceb_testhost_inst *ti;
};

typedef struct th_batch {
    void *token;
    bool acked;
    int status;
    bool dead_letter;
} th_batch;

typedef struct th_dead {
    const ceb_event *ev;
    char *reason;
} th_dead;

/* host->plugin_slot(): one per plugin descriptor per test host. */
typedef struct th_slot {
    struct th_slot *next;
    const ceb_plugin *plugin;
    void *value;
} th_slot;

struct ceb_testhost_inst {
    struct ceb_instance inst;      /* handed to the plugin */
    ceb_testhost *th;
    ceb_testhost_inst *next;
    const ceb_plugin *plugin;
    th_slot *slot;
    ceb_testhost_role role;
    char *name;
    cJSON *json;
    void *config;
    ceb__optvals *owned;
    void *state;
    bool started, start_failed, stop_called, stopped, destroyed;
    unsigned active_timers;
    /* sources */
    const ceb_event **emitted;
    size_t nemitted, capemitted;
    th_batch *batches;
    size_t nbatches, capbatches;
    th_dead *dead;
    size_t ndead;
    bool auto_ack;
    int auto_status;
    bool ended;
    bool ready;
};

struct ceb_delivery {
    ceb_testhost_inst *ti;
    ceb_delivery *next;
    ceb_testhost_result *res;
    const ceb_event *ev;
    uint32_t attempt;
    bool in_deliver, failed, completed;
};

struct ceb_timer {
    uv_timer_t h;
    ceb_testhost_inst *ti;
    ceb_timer_cb cb;
    void *arg;
    bool closing;
};

typedef enum th_item_kind { TH_EMIT = 1, TH_DEAD, TH_COMPLETE, TH_POST } th_item_kind;

typedef struct th_item {
    th_item_kind kind;
    struct th_item *next;
    ceb_testhost_inst *ti;
    ceb_event **events;
    size_t n;
    void *token;
    char *reason;
    ceb_delivery *dlv;
    ceb_outcome outcome;
    int err;
    int64_t retry_after_ms;
    char *detail;
    ceb_post_cb fn;
    void *arg;
} th_item;

typedef struct th_series {
    struct th_series *next;
    char *key;          /* label values joined with '\x1f' */
    char **values;
    double value;       /* counter/gauge; histogram sum */
    uint64_t count;
    uint64_t *buckets;  /* cumulative at render */
} th_series;

struct ceb_metric {
    struct ceb_metric *next;
    ceb_metric_kind kind;
    char *name;
    char *help;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    th_series *series;
};

struct ceb_testhost {
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t ack_timer;
    uv_timer_t deadline;
    uv_thread_t loop_thread;
    uv_mutex_t mu;
    th_item *queue_head, *queue_tail;
    const char *violation;
    char **logs;
    size_t nlogs, caplogs;
    ceb_testhost_inst *insts;
    ceb_delivery *deliveries;
    ceb_metric *metrics;
    void **dl;
    size_t ndl;
    th_slot *slots;
    ceb_host host;
};

/* ------------------------------------------------------------------------ */

static void th_violate(ceb_testhost *th, const char *what)
{
    uv_mutex_lock(&th->mu);
    if (th->violation == NULL)
        th->violation = what;
    uv_mutex_unlock(&th->mu);
}

static bool th_on_loop(ceb_testhost *th)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &th->loop_thread) != 0;
}

/* Common checks of a loop-only host call; false when it must not proceed. */
static bool th_loop_call(ceb_instance *inst, const char *name_after_stopped)
{
    ceb_testhost_inst *ti = inst->ti;
    if (!th_on_loop(ti->th))
        th_violate(ti->th, "loop-only host call made from another thread");
    if (ti->stopped) {
        th_violate(ti->th, name_after_stopped);
        return false;
    }
    return true;
}

static void th_queue_push(ceb_testhost *th, th_item *it)
{
    uv_mutex_lock(&th->mu);
    if (th->queue_tail)
        th->queue_tail->next = it;
    else
        th->queue_head = it;
    th->queue_tail = it;
    uv_mutex_unlock(&th->mu);
    uv_async_send(&th->async);
}

static void th_item_free(th_item *it)
{
    free(it->events);
    free(it->reason);
    free(it->detail);
    free(it);
}

/* ---- log ---------------------------------------------------------------- */

static const char *th_level_name(ceb_log_level l)
{
    switch (l) {
    case CEB_LOG_ERROR: return "error";
    case CEB_LOG_WARN: return "warn";
    case CEB_LOG_INFO: return "info";
    case CEB_LOG_DEBUG: return "debug";
    case CEB_LOG_TRACE: return "trace";
    }
    return "?";
}

static void th_log(ceb_instance *inst, ceb_log_level level, const char *fmt, ...)
{
    if (!th_loop_call(inst, "log() called after stopped()"))
        return;
    ceb_testhost *th = inst->ti->th;
    ceb_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ceb_buf_printf(&b, "level=%s instance=%s msg=%s", th_level_name(level), inst->ti->name,
                       msg) < 0)
        return;
    if (getenv("CEB_TESTHOST_VERBOSE") != NULL)
        fprintf(stderr, "%s\n", b.data);
    uv_mutex_lock(&th->mu);
    if (th->nlogs == th->caplogs) {
        size_t cap = th->caplogs ? th->caplogs * 2 : 16;
        char **nl = realloc(th->logs, cap * sizeof(*nl));
        if (nl == NULL) {
            uv_mutex_unlock(&th->mu);
            ceb_buf_free(&b);
            return;
        }
        th->logs = nl;
        th->caplogs = cap;
    }
    size_t len;
    th->logs[th->nlogs++] = ceb_buf_steal(&b, &len);
    uv_mutex_unlock(&th->mu);
}

static bool th_log_enabled(ceb_instance *inst, ceb_log_level level)
{
    (void)level;
    th_loop_call(inst, "log_enabled() called after stopped()");
    return true;
}

static uv_loop_t *th_loop_fn(ceb_instance *inst)
{
    th_loop_call(inst, "loop() called after stopped()");
    return &inst->ti->th->loop;
}

static const char *th_instance_name(ceb_instance *inst)
{
    th_loop_call(inst, "instance_name() called after stopped()");
    return inst->ti->name;
}

/* ---- metrics: a small in-memory registry --------------------------------- */

static char *th_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static bool th_metric_name_ok(const char *s)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == ':'))
            return false;
    return true;
}

static void th_metric_free(ceb_metric *m)
{
    for (th_series *s = m->series, *n; s; s = n) {
        n = s->next;
        for (size_t i = 0; i < m->nlabels; i++)
            free(s->values[i]);
        free(s->values);
        free(s->key);
        free(s->buckets);
        free(s);
    }
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->bounds);
    free(m->name);
    free(m->help);
    free(m);
}

static int th_metric_register(ceb_instance *inst, ceb_metric_kind kind, const char *name,
                              const char *help, const char *const *label_names, size_t nlabels,
                              const double *buckets, size_t nbuckets, ceb_metric **out)
{
    static const double defb[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    if (!th_loop_call(inst, "metric_register() called after stopped()"))
        return CEB_ESHUTDOWN;
    ceb_testhost *th = inst->ti->th;
    if (!th_metric_name_ok(name) || kind < CEB_METRIC_COUNTER || kind > CEB_METRIC_HISTOGRAM)
        return CEB_EINVAL;
    for (size_t i = 0; i < nlabels; i++)
        if (!th_metric_name_ok(label_names[i]))
            return CEB_EINVAL;
    for (ceb_metric *m = th->metrics; m; m = m->next) {
        if (strcmp(m->name, name) != 0)
            continue;
        bool same = m->kind == kind && m->nlabels == nlabels;
        for (size_t i = 0; same && i < nlabels; i++)
            same = strcmp(m->labels[i], label_names[i]) == 0;
        if (!same)
            return CEB_EINVAL;
        *out = m;
        return 0;
    }
    ceb_metric *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return CEB_ENOMEM;
    m->kind = kind;
    m->name = th_strdup(name);
    m->help = th_strdup(help ? help : "");
    m->labels = calloc(nlabels ? nlabels : 1, sizeof(char *));
    bool ok = m->name && m->help && m->labels;
    for (size_t i = 0; ok && i < nlabels; i++) {
        m->nlabels = i + 1;
        ok = (m->labels[i] = th_strdup(label_names[i])) != NULL;
    }
    if (ok && kind == CEB_METRIC_HISTOGRAM) {
        if (buckets == NULL || nbuckets == 0) {
            buckets = defb;
            nbuckets = sizeof(defb) / sizeof(defb[0]);
        }
        m->bounds = malloc(nbuckets * sizeof(double));
        ok = m->bounds != NULL;
        if (ok) {
            memcpy(m->bounds, buckets, nbuckets * sizeof(double));
            m->nbounds = nbuckets;
        }
    }
    if (!ok) {
        th_metric_free(m);
        return CEB_ENOMEM;
    }
    m->next = th->metrics;
    th->metrics = m;
    *out = m;
    return 0;
}

/* A series' key: its label values, each followed by \x1f. Returns 0 or
   CEB_ENOMEM (key freed). */
static int th_series_key(const ceb_metric *m, const char *const *values, ceb_buf *key)
{
    for (size_t i = 0; i < m->nlabels; i++) {
        if (ceb_buf_append_str(key, values && values[i] ? values[i] : "") < 0 ||
            ceb_buf_append(key, "\x1f", 1) < 0) {
            ceb_buf_free(key);
            return CEB_ENOMEM;
        }
    }
    return 0;
}

static th_series *th_series_find(const ceb_metric *m, const char *key)
{
    for (th_series *s = m->series; s; s = s->next)
        if (strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

static th_series *th_series_get(ceb_metric *m, const char *const *values)
{
    ceb_buf key = {0};
    if (th_series_key(m, values, &key) < 0)
        return NULL;
    const char *k = key.data ? key.data : "";
    th_series *s = th_series_find(m, k);
    if (s != NULL) {
        ceb_buf_free(&key);
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ceb_buf_free(&key);
        return NULL;
    }
    s->key = th_strdup(k);
    ceb_buf_free(&key);
    s->values = calloc(m->nlabels ? m->nlabels : 1, sizeof(char *));
    s->buckets = calloc(m->nbounds ? m->nbounds : 1, sizeof(uint64_t));
    bool ok = s->key && s->values && s->buckets;
    for (size_t i = 0; ok && i < m->nlabels; i++)
        ok = (s->values[i] = th_strdup(values && values[i] ? values[i] : "")) != NULL;
    if (!ok) {
        for (size_t i = 0; s->values && i < m->nlabels; i++)
            free(s->values[i]);
        free(s->values);
        free(s->key);
        free(s->buckets);
        free(s);
        return NULL;
    }
    s->next = m->series;
    m->series = s;
    return s;
}

double ceb_testhost_metric_value(const ceb_testhost *th, const char *name,
                                 const char *const *label_values)
{
    const ceb_metric *m = th->metrics;
    while (m != NULL && strcmp(m->name, name) != 0)
        m = m->next;
    if (m == NULL || m->kind == CEB_METRIC_HISTOGRAM)
        return -1;
    ceb_buf key = {0};
    if (th_series_key(m, label_values, &key) < 0)
        return -1;
    const th_series *s = th_series_find(m, key.data ? key.data : "");
    ceb_buf_free(&key);
    return s != NULL ? s->value : -1;
}

static void th_metric_add(ceb_metric *m, const char *const *values, double v)
{
    th_series *s = th_series_get(m, values);
    if (s != NULL && m->kind != CEB_METRIC_HISTOGRAM)
        s->value += v;
}

static void th_metric_set(ceb_metric *m, const char *const *values, double v)
{
    th_series *s = th_series_get(m, values);
    if (s != NULL && m->kind == CEB_METRIC_GAUGE)
        s->value = v;
}

static void th_metric_observe(ceb_metric *m, const char *const *values, double v)
{
    th_series *s = th_series_get(m, values);
    if (s == NULL || m->kind != CEB_METRIC_HISTOGRAM)
        return;
    s->value += v;
    s->count++;
    for (size_t i = 0; i < m->nbounds; i++)
        if (v <= m->bounds[i])
            s->buckets[i]++;
}

static int th_render_labels(ceb_buf *out, const ceb_metric *m, const th_series *s,
                            const char *le)
{
    int rc = 0;
    if (m->nlabels == 0 && le == NULL)
        return 0;
    rc = ceb_buf_append(out, "{", 1);
    for (size_t i = 0; rc == 0 && i < m->nlabels; i++)
        rc = ceb_buf_printf(out, "%s%s=\"%s\"", i ? "," : "", m->labels[i], s->values[i]);
    if (rc == 0 && le != NULL)
        rc = ceb_buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    if (rc == 0)
        rc = ceb_buf_append(out, "}", 1);
    return rc;
}

static int th_metrics_render(ceb_instance *inst, ceb_buf *out)
{
    static const char *const kinds[] = {"", "counter", "gauge", "histogram"};
    if (!th_loop_call(inst, "metrics_render() called after stopped()"))
        return CEB_ESHUTDOWN;
    int rc = 0;
    for (ceb_metric *m = inst->ti->th->metrics; m && rc == 0; m = m->next) {
        rc = ceb_buf_printf(out, "# HELP cebridge_%s %s\n# TYPE cebridge_%s %s\n", m->name,
                            m->help, m->name, kinds[m->kind]);
        for (th_series *s = m->series; s && rc == 0; s = s->next) {
            if (m->kind != CEB_METRIC_HISTOGRAM) {
                rc = ceb_buf_printf(out, "cebridge_%s", m->name);
                if (rc == 0)
                    rc = th_render_labels(out, m, s, NULL);
                if (rc == 0)
                    rc = ceb_buf_printf(out, " %.17g\n", s->value);
                continue;
            }
            for (size_t i = 0; rc == 0 && i <= m->nbounds; i++) {
                char le[64];
                if (i < m->nbounds)
                    snprintf(le, sizeof(le), "%.17g", m->bounds[i]);
                else
                    snprintf(le, sizeof(le), "+Inf");
                rc = ceb_buf_printf(out, "cebridge_%s_bucket", m->name);
                if (rc == 0)
                    rc = th_render_labels(out, m, s, le);
                if (rc == 0)
                    rc = ceb_buf_printf(out, " %llu\n",
                                        (unsigned long long)(i < m->nbounds ? s->buckets[i]
                                                                            : s->count));
            }
            if (rc == 0)
                rc = ceb_buf_printf(out, "cebridge_%s_sum", m->name);
            if (rc == 0)
                rc = th_render_labels(out, m, s, NULL);
            if (rc == 0)
                rc = ceb_buf_printf(out, " %.17g\ncebridge_%s_count", s->value, m->name);
            if (rc == 0)
                rc = th_render_labels(out, m, s, NULL);
            if (rc == 0)
                rc = ceb_buf_printf(out, " %llu\n", (unsigned long long)s->count);
        }
    }
    return rc;
}

/* ---- timers -------------------------------------------------------------- */

static void th_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void th_timer_fire(uv_timer_t *h)
{
    ceb_timer *t = h->data;
    t->closing = true;
    if (t->ti != NULL && t->ti->active_timers > 0)
        t->ti->active_timers--;
    uv_close((uv_handle_t *)&t->h, th_timer_closed);
    t->cb(t->arg);
}

static int th_timer_start(ceb_instance *inst, uint64_t ms, ceb_timer_cb cb, void *arg,
                          ceb_timer **out)
{
    if (!th_loop_call(inst, "timer_start() called after stopped()"))
        return CEB_ESHUTDOWN;
    ceb_timer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return CEB_ENOMEM;
    t->ti = inst->ti;
    t->cb = cb;
    t->arg = arg;
    t->h.data = t;
    uv_timer_init(&inst->ti->th->loop, &t->h);
    uv_timer_start(&t->h, th_timer_fire, ms, 0);
    inst->ti->active_timers++;
    if (out)
        *out = t;
    return 0;
}

static void th_timer_stop(ceb_timer *t)
{
    if (t == NULL)
        return;
    if (t->closing) {
        /* fired already (one-shot) or stopped twice: harmless for a one-shot that fired,
           a use-after-free risk otherwise; the handle is closing either way */
        return;
    }
    if (t->ti != NULL && !th_on_loop(t->ti->th))
        th_violate(t->ti->th, "loop-only host call made from another thread");
    t->closing = true;
    if (t->ti != NULL && t->ti->active_timers > 0)
        t->ti->active_timers--;
    uv_timer_stop(&t->h);
    uv_close((uv_handle_t *)&t->h, th_timer_closed);
}

/* ---- source side ---------------------------------------------------------- */

static void th_source_ended(ceb_instance *inst)
{
    if (!th_loop_call(inst, "source_ended() called after stopped()"))
        return;
    if (inst->ti->role != CEB_TESTHOST_SOURCE)
        th_violate(inst->ti->th, "source_ended() called by a sink");
    inst->ti->ended = true;
}

static bool th_ready(ceb_instance *inst)
{
    th_loop_call(inst, "ready() called after stopped()");
    return inst->ti->ready;
}

static void th_schedule_acks(ceb_testhost *th);

static int th_push_batch(ceb_testhost_inst *ti, void *token, bool dead)
{
    if (ti->nbatches == ti->capbatches) {
        size_t cap = ti->capbatches ? ti->capbatches * 2 : 16;
        th_batch *nb = realloc(ti->batches, cap * sizeof(*nb));
        if (nb == NULL)
            return CEB_ENOMEM;
        ti->batches = nb;
        ti->capbatches = cap;
    }
    ti->batches[ti->nbatches++] = (th_batch){.token = token, .dead_letter = dead};
    if (ti->auto_ack)
        th_schedule_acks(ti->th);
    return 0;
}

/* Record an emit on the loop thread; consumes the references. */
static void th_apply_emit(ceb_testhost_inst *ti, ceb_event **evs, size_t n, void *token)
{
    if (ti->nemitted + n > ti->capemitted) {
        size_t cap = ti->capemitted ? ti->capemitted : 64;
        while (cap < ti->nemitted + n)
            cap *= 2;
        const ceb_event **ne = realloc(ti->emitted, cap * sizeof(*ne));
        if (ne == NULL) {
            th_violate(ti->th, "test host out of memory recording an emit");
            for (size_t i = 0; i < n; i++)
                ceb_event_unref(evs[i]);
            return;
        }
        ti->emitted = ne;
        ti->capemitted = cap;
    }
    for (size_t i = 0; i < n; i++)
        ti->emitted[ti->nemitted++] = evs[i];
    if (th_push_batch(ti, token, false) < 0)
        th_violate(ti->th, "test host out of memory recording an emit");
}

static void th_apply_dead(ceb_testhost_inst *ti, ceb_event *ev, char *reason, void *token)
{
    th_dead *nd = realloc(ti->dead, (ti->ndead + 1) * sizeof(*nd));
    if (nd == NULL) {
        th_violate(ti->th, "test host out of memory recording a dead letter");
        ceb_event_unref(ev);
        free(reason);
        return;
    }
    ti->dead = nd;
    ti->dead[ti->ndead++] = (th_dead){.ev = ev, .reason = reason};
    if (th_push_batch(ti, token, true) < 0)
        th_violate(ti->th, "test host out of memory recording a dead letter");
}

static int th_emit(ceb_instance *inst, ceb_event *const *events, size_t n, void *ack_token)
{
    ceb_testhost_inst *ti = inst->ti;
    for (size_t i = 0; i < n; i++)
        if (events[i] != NULL)
            ceb_event_freeze(events[i]);
    int rc = 0;
    if (ti->stopped) {
        th_violate(ti->th, "emit() called after stopped()");
        rc = CEB_ESHUTDOWN;
    } else if (ti->role != CEB_TESTHOST_SOURCE) {
        th_violate(ti->th, "emit() called by a sink");
        rc = CEB_EINVAL;
    } else if (n == 0 || events == NULL) {
        rc = CEB_EINVAL;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (events[i] == NULL || ceb_event_validate(events[i], NULL) != 0)
            rc = CEB_EINVAL;
    }
    if (rc < 0) {
        for (size_t i = 0; events != NULL && i < n; i++)
            ceb_event_unref(events[i]);
        return rc;
    }
    ceb_event **copy = malloc(n * sizeof(*copy));
    if (copy == NULL) {
        for (size_t i = 0; i < n; i++)
            ceb_event_unref(events[i]);
        return CEB_ENOMEM;
    }
    memcpy(copy, events, n * sizeof(*copy));
    if (th_on_loop(ti->th)) {
        th_apply_emit(ti, copy, n, ack_token);
        free(copy);
        return 0;
    }
    th_item *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        for (size_t i = 0; i < n; i++)
            ceb_event_unref(copy[i]);
        free(copy);
        return CEB_ENOMEM;
    }
    *it = (th_item){.kind = TH_EMIT, .ti = ti, .events = copy, .n = n, .token = ack_token};
    th_queue_push(ti->th, it);
    return 0;
}

static int th_emit_dead_letter(ceb_instance *inst, ceb_event *ev, const char *reason,
                               void *ack_token)
{
    ceb_testhost_inst *ti = inst->ti;
    if (ev != NULL)
        ceb_event_freeze(ev);
    int rc = 0;
    if (ti->stopped) {
        th_violate(ti->th, "emit_dead_letter() called after stopped()");
        rc = CEB_ESHUTDOWN;
    } else if (ti->role != CEB_TESTHOST_SOURCE) {
        th_violate(ti->th, "emit_dead_letter() called by a sink");
        rc = CEB_EINVAL;
    } else if (ev == NULL || ceb_event_validate(ev, NULL) != 0) {
        rc = CEB_EINVAL;
    }
    char *r = rc == 0 ? th_strdup(reason ? reason : "") : NULL;
    if (rc == 0 && r == NULL)
        rc = CEB_ENOMEM;
    if (rc < 0) {
        ceb_event_unref(ev);
        return rc;
    }
    if (th_on_loop(ti->th)) {
        th_apply_dead(ti, ev, r, ack_token);
        return 0;
    }
    th_item *it = calloc(1, sizeof(*it));
    ceb_event **one = malloc(sizeof(*one));
    if (it == NULL || one == NULL) {
        free(it);
        free(one);
        free(r);
        ceb_event_unref(ev);
        return CEB_ENOMEM;
    }
    one[0] = ev;
    *it = (th_item){.kind = TH_DEAD, .ti = ti, .events = one, .n = 1, .token = ack_token,
                    .reason = r};
    th_queue_push(ti->th, it);
    return 0;
}

/* Ack the oldest unacked batches of `ti` in order (all when max is 0). */
static size_t th_ack_batches(ceb_testhost_inst *ti, int status, size_t max)
{
    size_t done = 0;
    for (size_t i = 0; i < ti->nbatches; i++) {
        if (ti->batches[i].acked)
            continue;
        if (ti->stopped || ti->destroyed)
            break;
        if (max != 0 && done == max)
            break;
        ti->batches[i].acked = true;
        ti->batches[i].status = status;
        done++;
        if (ti->plugin->source->ack != NULL)
            ti->plugin->source->ack(ti->state, ti->batches[i].token, status);
    }
    return done;
}

static void th_ack_timer_cb(uv_timer_t *h)
{
    ceb_testhost *th = h->data;
    for (ceb_testhost_inst *ti = th->insts; ti; ti = ti->next)
        if (ti->role == CEB_TESTHOST_SOURCE && ti->auto_ack)
            th_ack_batches(ti, ti->auto_status, 0);
}

static void th_schedule_acks(ceb_testhost *th)
{
    if (!uv_is_active((uv_handle_t *)&th->ack_timer))
        uv_timer_start(&th->ack_timer, th_ack_timer_cb, 0, 0);
}

/* ---- sink side ------------------------------------------------------------ */

static void th_apply_complete(ceb_delivery *dlv, ceb_outcome outcome, int err,
                              int64_t retry_after_ms, const char *detail)
{
    ceb_testhost_inst *ti = dlv->ti;
    if (dlv->completed) {
        th_violate(ti->th, "complete() called twice for one delivery");
        return;
    }
    if (dlv->failed) {
        th_violate(ti->th, "complete() called for a delivery whose deliver() returned an error");
        return;
    }
    dlv->completed = true;
    if (dlv->res != NULL) {
        dlv->res->outcome = outcome;
        dlv->res->err = err;
        dlv->res->retry_after_ms = retry_after_ms;
        snprintf(dlv->res->detail, sizeof(dlv->res->detail), "%s", detail ? detail : "");
        dlv->res->done = true;
    }
    ceb_event_unref(dlv->ev);
    dlv->ev = NULL;
}

static void th_complete(ceb_delivery *dlv, ceb_outcome outcome, int err, int64_t retry_after_ms,
                        const char *detail)
{
    if (dlv == NULL)
        return;
    ceb_testhost_inst *ti = dlv->ti;
    if (ti == NULL || ti->stopped) {
        if (ti != NULL)
            th_violate(ti->th, "complete() called after stopped()");
        return;
    }
    if (th_on_loop(ti->th)) {
        th_apply_complete(dlv, outcome, err, retry_after_ms, detail);
        return;
    }
    th_item *it = calloc(1, sizeof(*it));
    char *d = th_strdup(detail ? detail : "");
    if (it == NULL || d == NULL) {
        free(it);
        free(d);
        th_violate(ti->th, "test host out of memory queueing complete()");
        return;
    }
    *it = (th_item){.kind = TH_COMPLETE, .ti = ti, .dlv = dlv, .outcome = outcome, .err = err,
                    .retry_after_ms = retry_after_ms, .detail = d};
    th_queue_push(ti->th, it);
}

static void th_delivery_info(const ceb_delivery *dlv, ceb_delivery_info *out)
{
    memset(out, 0, sizeof(*out));
    if (dlv == NULL)
        return;
    if (dlv->ti != NULL && !th_on_loop(dlv->ti->th))
        th_violate(dlv->ti->th, "loop-only host call made from another thread");
    if (dlv->completed)
        th_violate(dlv->ti->th, "delivery_info() called for a completed delivery");
    out->route = "test";
    out->attempt = dlv->attempt;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void th_stopped(ceb_instance *inst)
{
    ceb_testhost_inst *ti = inst->ti;
    if (!th_on_loop(ti->th))
        th_violate(ti->th, "loop-only host call made from another thread");
    if (ti->stopped) {
        th_violate(ti->th, "stopped() called twice");
        return;
    }
    if (!ti->stop_called)
        th_violate(ti->th, "stopped() called before stop()");
    if (ti->active_timers > 0)
        th_violate(ti->th, "stopped() called with a timer still active");
    if (ti->role == CEB_TESTHOST_SINK) {
        for (ceb_delivery *d = ti->th->deliveries; d; d = d->next)
            if (d->ti == ti && !d->completed && !d->failed)
                th_violate(ti->th, "stopped() called with a delivery not completed");
    }
    ti->stopped = true;
}

static int th_post(ceb_instance *inst, ceb_post_cb fn, void *arg)
{
    ceb_testhost_inst *ti = inst->ti;
    if (ti->stopped)
        return CEB_ESHUTDOWN;
    th_item *it = calloc(1, sizeof(*it));
    if (it == NULL)
        return CEB_ENOMEM;
    *it = (th_item){.kind = TH_POST, .ti = ti, .fn = fn, .arg = arg};
    th_queue_push(ti->th, it);
    return 0;
}

static void **th_plugin_slot(ceb_instance *inst)
{
    ceb_testhost_inst *ti = inst->ti;
    if (!th_on_loop(ti->th))
        th_violate(ti->th, "loop-only host call made from another thread");
    return &ti->slot->value;
}

/* The slot of `plugin`, created on first use; NULL on ENOMEM. */
static th_slot *th_slot_get(ceb_testhost *th, const ceb_plugin *plugin)
{
    for (th_slot *s = th->slots; s != NULL; s = s->next)
        if (s->plugin == plugin)
            return s;
    th_slot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->plugin = plugin;
    s->next = th->slots;
    th->slots = s;
    return s;
}

static void th_drain(ceb_testhost *th)
{
    uv_mutex_lock(&th->mu);
    th_item *it = th->queue_head;
    th->queue_head = th->queue_tail = NULL;
    uv_mutex_unlock(&th->mu);
    while (it != NULL) {
        th_item *next = it->next;
        ceb_testhost_inst *ti = it->ti;
        switch (it->kind) {
        case TH_EMIT:
            th_apply_emit(ti, it->events, it->n, it->token);
            break;
        case TH_DEAD:
            th_apply_dead(ti, it->events[0], it->reason, it->token);
            it->reason = NULL;
            break;
        case TH_COMPLETE:
            th_apply_complete(it->dlv, it->outcome, it->err, it->retry_after_ms, it->detail);
            break;
        case TH_POST:
            if (!ti->stopped)
                it->fn(it->arg);
            break;
        }
        th_item_free(it);
        it = next;
    }
}

static void th_async_cb(uv_async_t *h)
{
    th_drain(h->data);
}

/* ---- public ----------------------------------------------------------------- */

int ceb_testhost_new(ceb_testhost **out)
{
    /* As in the daemon: a peer gone mid-write is an EPIPE for the plugin,
       not a signal that ends the test process. */
    signal(SIGPIPE, SIG_IGN);
    ceb_testhost *th = calloc(1, sizeof(*th));
    if (th == NULL)
        return CEB_ENOMEM;
    int rc = uv_loop_init(&th->loop);
    if (rc < 0) {
        free(th);
        return rc;
    }
    if ((rc = uv_mutex_init(&th->mu)) < 0) {
        uv_loop_close(&th->loop);
        free(th);
        return rc;
    }
    uv_async_init(&th->loop, &th->async, th_async_cb);
    th->async.data = th;
    uv_unref((uv_handle_t *)&th->async);
    uv_timer_init(&th->loop, &th->ack_timer);
    th->ack_timer.data = th;
    uv_timer_init(&th->loop, &th->deadline);
    th->loop_thread = uv_thread_self();
    th->host = (ceb_host){
        .abi = CEB_ABI_VERSION,
        .size = sizeof(ceb_host),
        .loop = th_loop_fn,
        .instance_name = th_instance_name,
        .log = th_log,
        .log_enabled = th_log_enabled,
        .metric_register = th_metric_register,
        .metric_add = th_metric_add,
        .metric_set = th_metric_set,
        .metric_observe = th_metric_observe,
        .metrics_render = th_metrics_render,
        .timer_start = th_timer_start,
        .timer_stop = th_timer_stop,
        .source_ended = th_source_ended,
        .ready = th_ready,
        .delivery_info = th_delivery_info,
        .stopped = th_stopped,
        .emit = th_emit,
        .complete = th_complete,
        .post = th_post,
        .emit_dead_letter = th_emit_dead_letter,
        .plugin_slot = th_plugin_slot,
    };
    *out = th;
    return 0;
}

uv_loop_t *ceb_testhost_loop(ceb_testhost *th)
{
    return &th->loop;
}

const char *ceb_testhost_violation(const ceb_testhost *th)
{
    return th->violation;
}

bool ceb_testhost_log_contains(const ceb_testhost *th, const char *needle)
{
    ceb_testhost *m = (ceb_testhost *)th;
    bool found = false;
    uv_mutex_lock(&m->mu);
    for (size_t i = 0; i < th->nlogs && !found; i++)
        found = strstr(th->logs[i], needle) != NULL;
    uv_mutex_unlock(&m->mu);
    return found;
}

typedef struct th_report {
    ceb_diag *d;
} th_report;

static void th_report_cb(void *arg, const ceb_diag *d)
{
    th_report *r = arg;
    if (r->d != NULL && r->d->code == 0)
        *r->d = *d;
}

static void th_inst_release(ceb_testhost_inst *ti)
{
    if (ti->owned)
        ceb__optvals_free(ti->owned);
    cJSON_Delete(ti->json);
    free(ti->config);
    for (size_t i = 0; i < ti->nemitted; i++)
        ceb_event_unref(ti->emitted[i]);
    free(ti->emitted);
    for (size_t i = 0; i < ti->ndead; i++) {
        ceb_event_unref(ti->dead[i].ev);
        free(ti->dead[i].reason);
    }
    free(ti->dead);
    free(ti->batches);
    free(ti->name);
    free(ti);
}

int ceb_testhost_create(ceb_testhost *th, const ceb_plugin *plugin, ceb_testhost_role role,
                        const char *name, const char *config_json, ceb_testhost_inst **out,
                        ceb_diag *d)
{
    static const char *const skip[] = {"plugin", NULL};
    *out = NULL;
    const ceb_option *table, *other;
    size_t config_size;
    int (*create)(ceb_instance *, const ceb_host *, const void *, ceb_diag *, void **);
    if (role == CEB_TESTHOST_SOURCE && plugin->source != NULL) {
        table = plugin->source->options;
        config_size = plugin->source->config_size;
        create = plugin->source->create;
        other = plugin->sink ? plugin->sink->options : NULL;
    } else if (role == CEB_TESTHOST_SINK && plugin->sink != NULL) {
        table = plugin->sink->options;
        config_size = plugin->sink->config_size;
        create = plugin->sink->create;
        other = plugin->source ? plugin->source->options : NULL;
    } else {
        return ceb_diag_set(d, CEB_ECONFIG, "plugin %s cannot be used as a %s", plugin->name,
                            role == CEB_TESTHOST_SOURCE ? "source" : "sink");
    }
    ceb_testhost_inst *ti = calloc(1, sizeof(*ti));
    if (ti == NULL)
        return ceb_diag_set(d, CEB_ENOMEM, "out of memory");
    ti->inst.ti = ti;
    ti->th = th;
    ti->plugin = plugin;
    ti->role = role;
    ti->auto_ack = true;
    ti->ready = true;
    ti->name = th_strdup(name ? name : "test");
    ti->config = calloc(1, config_size ? config_size : 1);
    ti->slot = th_slot_get(th, plugin);
    if (ti->name == NULL || ti->config == NULL || ti->slot == NULL) {
        th_inst_release(ti);
        return ceb_diag_set(d, CEB_ENOMEM, "out of memory");
    }
    ti->json = cJSON_Parse(config_json ? config_json : "{}");
    if (ti->json == NULL || !cJSON_IsObject(ti->json)) {
        th_inst_release(ti);
        return ceb_diag_set(d, CEB_ECONFIG, "instance config is not a JSON object");
    }
    th_report rep = {.d = d};
    const char *role_name = role == CEB_TESTHOST_SOURCE ? "source" : "sink";
    const char *other_name = role == CEB_TESTHOST_SOURCE ? "sink" : "source";
    int rc = ceb__options_apply(table, config_size, ti->json, plugin->name, role_name, skip, other,
                                other ? other_name : NULL, ti->config, &ti->owned, th_report_cb,
                                &rep);
    if (rc < 0) {
        ti->owned = NULL;
        th_inst_release(ti);
        if (d != NULL && d->code == 0)
            ceb_diag_set(d, rc, "option validation failed");
        return rc;
    }
    rc = create(&ti->inst, &th->host, ti->config, d, &ti->state);
    if (rc < 0) {
        th_inst_release(ti);
        if (d != NULL && d->code == 0)
            ceb_diag_set(d, rc, "create() failed without a message");
        return rc;
    }
    ti->next = th->insts;
    th->insts = ti;
    *out = ti;
    return 0;
}

int ceb_testhost_load(ceb_testhost *th, const char *so_path, const ceb_plugin **out, ceb_diag *d)
{
    *out = NULL;
    /* The core loader's own checks and words (ceb__plugin_open). */
    char stem[256];
    ceb__plugin_stem(so_path, stem, sizeof stem);
    void *h = NULL;
    const ceb_plugin *p = NULL;
    int rc = ceb__plugin_open(stem, so_path, &h, &p, d);
    if (rc < 0)
        return rc;
    void **nd = realloc(th->dl, (th->ndl + 1) * sizeof(*nd));
    if (nd == NULL) {
        dlclose(h);
        return ceb_diag_set(d, CEB_ENOMEM, "out of memory");
    }
    th->dl = nd;
    th->dl[th->ndl++] = h;
    *out = p;
    return 0;
}

int ceb_testhost_start(ceb_testhost_inst *ti)
{
    int rc = ti->role == CEB_TESTHOST_SOURCE ? ti->plugin->source->start(ti->state)
                                             : ti->plugin->sink->start(ti->state);
    if (rc < 0)
        ti->start_failed = true;
    else
        ti->started = true;
    return rc;
}

typedef struct th_flag {
    const bool *flag;
} th_flag;

static bool th_flag_set(void *arg)
{
    return *((th_flag *)arg)->flag;
}

int ceb_testhost_stop(ceb_testhost_inst *ti, uint64_t timeout_ms)
{
    if (!ti->started || ti->stop_called)
        return ti->stopped || !ti->started ? 0 : CEB_ETIMEDOUT;
    ti->stop_called = true;
    if (ti->role == CEB_TESTHOST_SOURCE)
        ti->plugin->source->stop(ti->state);
    else
        ti->plugin->sink->stop(ti->state);
    th_flag f = {.flag = &ti->stopped};
    int rc = ceb_testhost_run(ti->th, th_flag_set, &f, timeout_ms);
    if (rc < 0) {
        th_violate(ti->th, "stopped() not called within the stop deadline");
        return CEB_ETIMEDOUT;
    }
    return 0;
}

void ceb_testhost_destroy(ceb_testhost_inst *ti)
{
    if (ti == NULL)
        return;
    ceb_testhost *th = ti->th;
    if (ti->started && !ti->stop_called)
        ceb_testhost_stop(ti, 5000);
    th_drain(th);
    if (!ti->started || ti->stopped) {
        ti->destroyed = true;
        if (ti->role == CEB_TESTHOST_SOURCE)
            ti->plugin->source->destroy(ti->state);
        else
            ti->plugin->sink->destroy(ti->state);
    } /* else: never stopped; destroying would free memory its handles use */
    for (ceb_testhost_inst **pp = &th->insts; *pp; pp = &(*pp)->next) {
        if (*pp == ti) {
            *pp = ti->next;
            break;
        }
    }
    if (ti->destroyed && ti->slot->value != NULL) {
        bool last = true;
        for (ceb_testhost_inst *o = th->insts; o != NULL && last; o = o->next)
            last = o->plugin != ti->plugin;
        if (last)
            th_violate(th, "plugin_slot() still set after the plugin's last instance was destroyed");
    }
    for (ceb_delivery *dl = th->deliveries; dl; dl = dl->next) {
        if (dl->ti == ti) {
            ceb_event_unref(dl->ev);
            dl->ev = NULL;
            dl->ti = NULL;
        }
    }
    th_inst_release(ti);
}

void *ceb_testhost_state(ceb_testhost_inst *ti)
{
    return ti->state;
}

static void th_deadline_cb(uv_timer_t *h)
{
    (void)h;
}

int ceb_testhost_run(ceb_testhost *th, bool (*until)(void *arg), void *arg, uint64_t timeout_ms)
{
    uint64_t deadline = uv_hrtime() / 1000000 + timeout_ms;
    for (;;) {
        th_drain(th);
        if (until != NULL && until(arg))
            return 0;
        uint64_t now = uv_hrtime() / 1000000;
        if (now >= deadline)
            return until == NULL ? 0 : CEB_ETIMEDOUT;
        uv_timer_start(&th->deadline, th_deadline_cb, deadline - now, 0);
        if (until == NULL)
            uv_unref((uv_handle_t *)&th->deadline);
        else
            uv_ref((uv_handle_t *)&th->deadline);
        int alive = uv_run(&th->loop, UV_RUN_ONCE);
        uv_timer_stop(&th->deadline);
        if (until == NULL && !alive) {
            th_drain(th);
            return 0;
        }
    }
}

int ceb_testhost_deliver(ceb_testhost_inst *ti, const ceb_event *ev, uint32_t attempt,
                         ceb_testhost_result *res)
{
    if (res != NULL)
        memset(res, 0, sizeof(*res));
    if (ti->role != CEB_TESTHOST_SINK)
        return CEB_EINVAL;
    ceb_delivery *dlv = calloc(1, sizeof(*dlv));
    if (dlv == NULL)
        return CEB_ENOMEM;
    dlv->ti = ti;
    dlv->res = res;
    dlv->attempt = attempt ? attempt : 1;
    dlv->ev = ceb_event_ref(ev);
    dlv->next = ti->th->deliveries;
    ti->th->deliveries = dlv;
    dlv->in_deliver = true;
    int rc = ti->plugin->sink->deliver(ti->state, dlv, ev);
    dlv->in_deliver = false;
    if (rc < 0) {
        if (dlv->completed)
            th_violate(ti->th, "deliver() returned an error after calling complete()");
        dlv->failed = true;
        if (res != NULL)
            res->done = false;
        ceb_event_unref(dlv->ev);
        dlv->ev = NULL;
    }
    return rc;
}

typedef struct th_done {
    ceb_testhost_result *res;
} th_done;

static bool th_res_done(void *arg)
{
    return ((th_done *)arg)->res->done;
}

int ceb_testhost_deliver_wait(ceb_testhost_inst *ti, const ceb_event *ev,
                              ceb_testhost_result *res, uint64_t timeout_ms)
{
    int rc = ceb_testhost_deliver(ti, ev, 1, res);
    if (rc < 0)
        return rc;
    th_done dn = {.res = res};
    return ceb_testhost_run(ti->th, th_res_done, &dn, timeout_ms);
}

size_t ceb_testhost_emitted_count(const ceb_testhost_inst *ti)
{
    return ti->nemitted;
}

const ceb_event *ceb_testhost_emitted(const ceb_testhost_inst *ti, size_t index)
{
    return index < ti->nemitted ? ti->emitted[index] : NULL;
}

size_t ceb_testhost_batches(const ceb_testhost_inst *ti)
{
    return ti->nbatches;
}

size_t ceb_testhost_acked(const ceb_testhost_inst *ti)
{
    size_t n = 0;
    for (size_t i = 0; i < ti->nbatches; i++)
        n += ti->batches[i].acked;
    return n;
}

void ceb_testhost_set_auto_ack(ceb_testhost_inst *ti, bool on, int status)
{
    ti->auto_ack = on;
    ti->auto_status = status;
    if (on)
        th_schedule_acks(ti->th);
}

size_t ceb_testhost_ack_pending(ceb_testhost_inst *ti, int status)
{
    th_drain(ti->th);
    return th_ack_batches(ti, status, 0);
}

size_t ceb_testhost_ack_next(ceb_testhost_inst *ti, size_t n, int status)
{
    th_drain(ti->th);
    return n == 0 ? 0 : th_ack_batches(ti, status, n);
}

size_t ceb_testhost_dead_lettered_count(const ceb_testhost_inst *ti)
{
    return ti->ndead;
}

const ceb_event *ceb_testhost_dead_lettered(const ceb_testhost_inst *ti, size_t index,
                                            const char **reason)
{
    if (index >= ti->ndead)
        return NULL;
    if (reason != NULL)
        *reason = ti->dead[index].reason;
    return ti->dead[index].ev;
}

void ceb_testhost_pause(ceb_testhost_inst *ti)
{
    if (ti->role == CEB_TESTHOST_SOURCE && ti->plugin->source->pause)
        ti->plugin->source->pause(ti->state);
}

void ceb_testhost_resume(ceb_testhost_inst *ti)
{
    if (ti->role == CEB_TESTHOST_SOURCE && ti->plugin->source->resume)
        ti->plugin->source->resume(ti->state);
}

bool ceb_testhost_source_ended(const ceb_testhost_inst *ti)
{
    return ti->ended;
}

void ceb_testhost_set_ready(ceb_testhost_inst *ti, bool ready)
{
    ti->ready = ready;
}

typedef struct th_walk {
    ceb_testhost *th;
    size_t open;
} th_walk;

/* Close what the plugin left open on the loop (a leak the test fails on). */
static void th_close_leftover(uv_handle_t *h, void *arg)
{
    th_walk *w = arg;
    if (h == (uv_handle_t *)&w->th->async || h == (uv_handle_t *)&w->th->ack_timer ||
        h == (uv_handle_t *)&w->th->deadline || uv_is_closing(h))
        return;
    w->open++;
    /* a timer from timer_start() is ours to free (its data points at itself) */
    uv_close(h, h->type == UV_TIMER && h->data == (void *)h ? th_timer_closed : NULL);
}

int ceb_testhost_free(ceb_testhost *th)
{
    if (th == NULL)
        return 0;
    while (th->insts != NULL)
        ceb_testhost_destroy(th->insts);
    th_drain(th);
    /* let pending close callbacks run */
    uv_run(&th->loop, UV_RUN_NOWAIT);
    th_walk w = {.th = th};
    uv_walk(&th->loop, th_close_leftover, &w);
    uv_close((uv_handle_t *)&th->async, NULL);
    uv_close((uv_handle_t *)&th->ack_timer, NULL);
    uv_close((uv_handle_t *)&th->deadline, NULL);
    uv_run(&th->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&th->loop) == 0 && w.open == 0 ? 0 : CEB_EAGAIN;
    th_drain(th);
    for (ceb_delivery *dl = th->deliveries, *n; dl; dl = n) {
        n = dl->next;
        ceb_event_unref(dl->ev);
        free(dl);
    }
    for (ceb_metric *m = th->metrics, *n; m; m = n) {
        n = m->next;
        th_metric_free(m);
    }
    for (size_t i = 0; i < th->nlogs; i++)
        ceb_free(th->logs[i]);
    free(th->logs);
    for (th_slot *s = th->slots, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    for (size_t i = 0; i < th->ndl; i++)
        dlclose(th->dl[i]);
    free(th->dl);
    uv_mutex_destroy(&th->mu);
    free(th);
    return rc;
}
