/*
 * Unit tests for sdk/testhost/testhost.c: a tiny in-test plugin (source and
 * sink) whose `misbehave` option makes it break one rule of the contract at
 * a time, so each check of the test host is seen to fire.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cebridge/testhost.h>

#ifndef FIXTURE_DIR
#error FIXTURE_DIR must point at the fixture plugins
#endif

/* ---- the in-test plugin ------------------------------------------------- */

static const char *const misbehaviours[] = {
    "none", "double_stopped", "never_stopped", "emit_after_stopped", "log_from_thread",
    "timer_left", "complete_twice", "error_after_complete", "complete_from_thread",
    "emit_from_thread", "post_from_thread", NULL};
enum { M_NONE, M_DOUBLE_STOPPED, M_NEVER_STOPPED, M_EMIT_AFTER_STOPPED, M_LOG_FROM_THREAD,
       M_TIMER_LEFT, M_COMPLETE_TWICE, M_ERROR_AFTER_COMPLETE, M_COMPLETE_FROM_THREAD,
       M_EMIT_FROM_THREAD, M_POST_FROM_THREAD };

typedef struct tp_config {
    int64_t count;
    int misbehave;
} tp_config;

static const ceb_option tp_source_options[] = {
    CEB_OPT_INT_FIELD("count", "2", 0, tp_config, count, 1, 100, "Events in the first batch."),
    CEB_OPT_ENUM_FIELD("misbehave", "\"none\"", 0, tp_config, misbehave, misbehaviours,
                       "Which rule to break."),
    CEB_OPTION_END};
static const ceb_option tp_sink_options[] = {
    CEB_OPT_ENUM_FIELD("misbehave", "\"none\"", 0, tp_config, misbehave, misbehaviours,
                       "Which rule to break."),
    CEB_OPTION_END};

typedef struct tp_state {
    ceb_instance *inst;
    const ceb_host *host;
    tp_config cfg;
    int acks[16];
    int nacks;
    uv_thread_t thread;
    bool thread_running;
    ceb_timer *timer;
    int fired;
    int posted;
    ceb_delivery *dlv;
} tp_state;

static int tp_create(ceb_instance *inst, const ceb_host *host, const void *config, ceb_diag *d,
                     void **state)
{
    const tp_config *c = config;
    if (c->count == 13)
        return ceb_diag_set_field(d, CEB_ECONFIG, "count", "13 is unlucky");
    tp_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CEB_ENOMEM;
    s->inst = inst;
    s->host = host;
    s->cfg = *c;
    *state = s;
    return 0;
}

static ceb_event *tp_event(int i)
{
    ceb_event *ev = NULL;
    char id[16];
    snprintf(id, sizeof(id), "e%d", i);
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", id, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/test", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "t", NULL), 0);
    return ev;
}

static void tp_thread(void *arg)
{
    tp_state *s = arg;
    switch (s->cfg.misbehave) {
    case M_LOG_FROM_THREAD:
        s->host->log(s->inst, CEB_LOG_INFO, "from a thread");
        break;
    case M_EMIT_FROM_THREAD: {
        ceb_event *ev = tp_event(100);
        s->host->emit(s->inst, &ev, 1, (void *)(uintptr_t)7);
        break;
    }
    case M_COMPLETE_FROM_THREAD:
        s->host->complete(s->dlv, CEB_OUTCOME_RETRY, CEB_EIO, 250, "later");
        break;
    default:
        break;
    }
}

static void tp_posted(void *arg)
{
    ((tp_state *)arg)->posted++;
}

static void tp_timer_cb(void *arg)
{
    ((tp_state *)arg)->fired++;
}

static int tp_source_start(void *state)
{
    tp_state *s = state;
    ceb_event *evs[100];
    for (int64_t i = 0; i < s->cfg.count; i++)
        evs[i] = tp_event((int)i);
    assert_int_equal(s->host->emit(s->inst, evs, (size_t)s->cfg.count, (void *)(uintptr_t)1), 0);
    s->host->log(s->inst, CEB_LOG_INFO, "emitted %d events", (int)s->cfg.count);
    if (s->cfg.misbehave == M_LOG_FROM_THREAD || s->cfg.misbehave == M_EMIT_FROM_THREAD) {
        assert_int_equal(uv_thread_create(&s->thread, tp_thread, s), 0);
        s->thread_running = true;
    }
    if (s->cfg.misbehave == M_POST_FROM_THREAD)
        assert_int_equal(s->host->post(s->inst, tp_posted, s), 0);
    if (s->cfg.misbehave == M_TIMER_LEFT)
        assert_int_equal(s->host->timer_start(s->inst, 60000, tp_timer_cb, s, &s->timer), 0);
    return 0;
}

static void tp_ack(void *state, void *token, int status)
{
    tp_state *s = state;
    if (s->nacks < 16)
        s->acks[s->nacks] = (int)(uintptr_t)token * (status < 0 ? -1 : 1);
    s->nacks++;
}

static void tp_stop(void *state)
{
    tp_state *s = state;
    if (s->thread_running) {
        uv_thread_join(&s->thread);
        s->thread_running = false;
    }
    if (s->cfg.misbehave == M_NEVER_STOPPED)
        return;
    s->host->stopped(s->inst);
    if (s->cfg.misbehave == M_DOUBLE_STOPPED)
        s->host->stopped(s->inst);
    if (s->cfg.misbehave == M_EMIT_AFTER_STOPPED) {
        ceb_event *ev = tp_event(99);
        assert_int_equal(s->host->emit(s->inst, &ev, 1, NULL), CEB_ESHUTDOWN);
    }
}

static void tp_destroy(void *state)
{
    free(state);
}

static int tp_sink_start(void *state)
{
    (void)state;
    return 0;
}

static int tp_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    tp_state *s = state;
    ceb_delivery_info info;
    s->host->delivery_info(dlv, &info);
    assert_string_equal(info.route, "test");
    (void)ev;
    switch (s->cfg.misbehave) {
    case M_COMPLETE_TWICE:
        s->host->complete(dlv, CEB_OUTCOME_OK, 0, 0, NULL);
        s->host->complete(dlv, CEB_OUTCOME_OK, 0, 0, NULL);
        return 0;
    case M_ERROR_AFTER_COMPLETE:
        s->host->complete(dlv, CEB_OUTCOME_OK, 0, 0, NULL);
        return CEB_EIO;
    case M_COMPLETE_FROM_THREAD:
        s->dlv = dlv;
        assert_int_equal(uv_thread_create(&s->thread, tp_thread, s), 0);
        s->thread_running = true;
        return 0;
    default:
        s->host->complete(dlv, CEB_OUTCOME_OK, 0, 0, "written");
        return 0;
    }
}

static const ceb_source_ops tp_source_ops = {
    .options = tp_source_options, .config_size = sizeof(tp_config), .create = tp_create,
    .start = tp_source_start, .ack = tp_ack, .stop = tp_stop, .destroy = tp_destroy};
static const ceb_sink_ops tp_sink_ops = {
    .options = tp_sink_options, .config_size = sizeof(tp_config), .create = tp_create,
    .start = tp_sink_start, .deliver = tp_deliver, .stop = tp_stop, .destroy = tp_destroy};
static const ceb_plugin tp_plugin = {.abi = CEB_ABI_VERSION, .size = sizeof(ceb_plugin),
                                     .name = "tp", .version = "1", .description = "test",
                                     .source = &tp_source_ops, .sink = &tp_sink_ops};

/* ---- helpers -------------------------------------------------------------- */

static ceb_testhost_inst *make(ceb_testhost *th, ceb_testhost_role role, const char *json)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    int rc = ceb_testhost_create(th, &tp_plugin, role, "t1", json, &ti, &d);
    if (rc != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    return ti;
}

typedef struct acked_arg {
    ceb_testhost_inst *ti;
    size_t n;
} acked_arg;

static bool acked_at_least(void *arg)
{
    acked_arg *a = arg;
    return ceb_testhost_acked(a->ti) >= a->n;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_source_auto_ack(void **state)
{
    (void)state;
    ceb_testhost *th = NULL;
    assert_int_equal(ceb_testhost_new(&th), 0);
    ceb_testhost_inst *ti = make(th, CEB_TESTHOST_SOURCE, "{\"count\": 3}");
    assert_int_equal(ceb_testhost_start(ti), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 3);
    assert_true(ceb_event_is_frozen(ceb_testhost_emitted(ti, 0)));
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 2)), "e2");
    assert_null(ceb_testhost_emitted(ti, 3));
    assert_int_equal(ceb_testhost_batches(ti), 1);
    assert_int_equal(ceb_testhost_acked(ti), 0); /* the ack comes on the next iteration */
    acked_arg a = {ti, 1};
    assert_int_equal(ceb_testhost_run(th, acked_at_least, &a, 5000), 0);
    tp_state *s = ceb_testhost_state(ti);
    assert_int_equal(s->nacks, 1);
    assert_int_equal(s->acks[0], 1);
    assert_true(ceb_testhost_log_contains(th, "emitted 3 events"));
    assert_false(ceb_testhost_log_contains(th, "never logged"));
    assert_int_equal(ceb_testhost_stop(ti, 1000), 0);
    assert_null(ceb_testhost_violation(th));
    assert_int_equal(ceb_testhost_free(th), 0);
}

static void test_source_manual_ack(void **state)
{
    (void)state;
    ceb_testhost *th = NULL;
    assert_int_equal(ceb_testhost_new(&th), 0);
    ceb_testhost_inst *ti = make(th, CEB_TESTHOST_SOURCE, "{\"misbehave\": \"emit_from_thread\"}");
    ceb_testhost_set_auto_ack(ti, false, 0);
    assert_int_equal(ceb_testhost_start(ti), 0);
    /* the second batch comes from a thread through the queue */
    tp_state *s = ceb_testhost_state(ti);
    uv_thread_join(&s->thread);
    s->thread_running = false;
    assert_int_equal(ceb_testhost_run(th, NULL, NULL, 100), 0);
    assert_int_equal(ceb_testhost_batches(ti), 2);
    assert_int_equal(ceb_testhost_emitted_count(ti), 3);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 2)), "e100");
    assert_int_equal(ceb_testhost_acked(ti), 0);
    assert_int_equal(ceb_testhost_ack_next(ti, 1, CEB_EIO), 1);
    assert_int_equal(s->nacks, 1);
    assert_int_equal(s->acks[0], -1);
    assert_int_equal(ceb_testhost_ack_pending(ti, 0), 1);
    assert_int_equal(s->acks[1], 7);
    assert_int_equal(ceb_testhost_ack_pending(ti, 0), 0);
    ceb_testhost_destroy(ti);
    assert_null(ceb_testhost_violation(th));
    assert_int_equal(ceb_testhost_free(th), 0);
}

static void test_option_validation(void **state)
{
    (void)state;
    ceb_testhost *th = NULL;
    assert_int_equal(ceb_testhost_new(&th), 0);
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(th, &tp_plugin, CEB_TESTHOST_SOURCE, "t1",
                                         "{\"count\": \"many\"}", &ti, &d),
                     CEB_ECONFIG);
    assert_null(ti);
    assert_string_equal(d.field, "count");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_testhost_create(th, &tp_plugin, CEB_TESTHOST_SOURCE, "t1",
                                         "{\"cuont\": 1}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "cuont");
    assert_non_null(strstr(d.message, "count"));
    ceb_diag_clear(&d);
    assert_int_equal(ceb_testhost_create(th, &tp_plugin, CEB_TESTHOST_SOURCE, "t1", "[1]", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.message, "instance config is not a JSON object");
    ceb_diag_clear(&d);
    /* create()'s own error comes through with its field */
    assert_int_equal(ceb_testhost_create(th, &tp_plugin, CEB_TESTHOST_SOURCE, "t1",
                                         "{\"count\": 13, \"plugin\": \"tp\"}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "count");
    assert_string_equal(d.message, "13 is unlucky");
    assert_int_equal(ceb_testhost_free(th), 0);
}

static void run_violation(ceb_testhost_role role, const char *misbehave, const char *want)
{
    ceb_testhost *th = NULL;
    ceb_testhost_result res;
    char json[128];
    assert_int_equal(ceb_testhost_new(&th), 0);
    snprintf(json, sizeof(json), "{\"misbehave\": \"%s\"}", misbehave);
    ceb_testhost_inst *ti = make(th, role, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    if (role == CEB_TESTHOST_SINK) {
        ceb_event *ev = tp_event(1);
        int rc = ceb_testhost_deliver(ti, ev, 1, &res);
        if (strcmp(misbehave, "error_after_complete") == 0)
            assert_int_equal(rc, CEB_EIO);
        ceb_event_unref(ev);
    }
    int rc = ceb_testhost_stop(ti, strcmp(misbehave, "never_stopped") == 0 ? 50 : 5000);
    if (strcmp(misbehave, "never_stopped") == 0)
        assert_int_equal(rc, CEB_ETIMEDOUT);
    const char *v = ceb_testhost_violation(th);
    if (v == NULL || strcmp(v, want) != 0)
        fail_msg("%s: violation '%s', want '%s'", misbehave, v ? v : "(none)", want);
    if (strcmp(misbehave, "never_stopped") == 0) {
        /* not destroyed (it never stopped): forget it without freeing its state */
        void *st = ceb_testhost_state(ti);
        ceb_testhost_free(th);
        free(st);
        return;
    }
    ceb_testhost_free(th);
}

static void test_violations(void **state)
{
    (void)state;
    run_violation(CEB_TESTHOST_SOURCE, "double_stopped", "stopped() called twice");
    run_violation(CEB_TESTHOST_SOURCE, "never_stopped", "stopped() not called within the stop deadline");
    run_violation(CEB_TESTHOST_SOURCE, "emit_after_stopped", "emit() called after stopped()");
    run_violation(CEB_TESTHOST_SOURCE, "log_from_thread", "loop-only host call made from another thread");
    run_violation(CEB_TESTHOST_SOURCE, "timer_left", "stopped() called with a timer still active");
    run_violation(CEB_TESTHOST_SINK, "complete_twice", "complete() called twice for one delivery");
    run_violation(CEB_TESTHOST_SINK, "error_after_complete",
                  "deliver() returned an error after calling complete()");
    run_violation(CEB_TESTHOST_SINK, "complete_from_thread",
                  "stopped() called with a delivery not completed");
}

static void test_sink_deliver(void **state)
{
    (void)state;
    ceb_testhost *th = NULL;
    assert_int_equal(ceb_testhost_new(&th), 0);
    ceb_testhost_inst *ti = make(th, CEB_TESTHOST_SINK, "{}");
    assert_int_equal(ceb_testhost_start(ti), 0);
    ceb_event *ev = tp_event(1);
    ceb_testhost_result res;
    assert_int_equal(ceb_testhost_deliver_wait(ti, ev, &res, 1000), 0);
    assert_true(res.done);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    assert_string_equal(res.detail, "written");
    ceb_event_unref(ev);
    ceb_testhost_destroy(ti);

    /* complete() from another thread arrives through the queue */
    ti = make(th, CEB_TESTHOST_SINK, "{\"misbehave\": \"complete_from_thread\"}");
    assert_int_equal(ceb_testhost_start(ti), 0);
    ev = tp_event(2);
    assert_int_equal(ceb_testhost_deliver_wait(ti, ev, &res, 5000), 0);
    assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);
    assert_int_equal(res.err, CEB_EIO);
    assert_int_equal(res.retry_after_ms, 250);
    assert_string_equal(res.detail, "later");
    ceb_event_unref(ev);
    assert_int_equal(ceb_testhost_stop(ti, 1000), 0);
    assert_null(ceb_testhost_violation(th));
    assert_int_equal(ceb_testhost_free(th), 0);
}

static bool posted(void *arg)
{
    return ((tp_state *)arg)->posted > 0;
}
static bool fired(void *arg)
{
    return ((tp_state *)arg)->fired > 0;
}

static void test_post_timers_metrics_dead_letter(void **state)
{
    (void)state;
    ceb_testhost *th = NULL;
    assert_int_equal(ceb_testhost_new(&th), 0);
    ceb_testhost_inst *ti = make(th, CEB_TESTHOST_SOURCE, "{\"misbehave\": \"post_from_thread\"}");
    assert_int_equal(ceb_testhost_start(ti), 0);
    tp_state *s = ceb_testhost_state(ti);
    assert_int_equal(s->posted, 0); /* post never runs inline */
    assert_int_equal(ceb_testhost_run(th, posted, s, 5000), 0);

    ceb_timer *t = NULL;
    assert_int_equal(s->host->timer_start(s->inst, 1, tp_timer_cb, s, &t), 0);
    assert_int_equal(ceb_testhost_run(th, fired, s, 5000), 0);
    assert_int_equal(s->host->timer_start(s->inst, 60000, tp_timer_cb, s, &t), 0);
    s->host->timer_stop(t);
    assert_int_equal(s->fired, 1);

    ceb_metric *m = NULL;
    const char *labels[] = {"route"};
    const char *vals[] = {"r1"};
    assert_int_equal(s->host->metric_register(s->inst, CEB_METRIC_COUNTER, "lines_total",
                                              "Lines read.", labels, 1, NULL, 0, &m), 0);
    s->host->metric_add(m, vals, 2);
    s->host->metric_add(m, vals, 3);
    ceb_metric *again = NULL;
    assert_int_equal(s->host->metric_register(s->inst, CEB_METRIC_COUNTER, "lines_total",
                                              "Lines read.", labels, 1, NULL, 0, &again), 0);
    assert_ptr_equal(m, again);
    assert_int_equal(s->host->metric_register(s->inst, CEB_METRIC_GAUGE, "lines_total", "x",
                                              labels, 1, NULL, 0, &again), CEB_EINVAL);
    assert_int_equal(s->host->metric_register(s->inst, CEB_METRIC_GAUGE, "bad name", "x", NULL,
                                              0, NULL, 0, &again), CEB_EINVAL);
    ceb_metric *h = NULL;
    const double b[] = {1, 10};
    assert_int_equal(s->host->metric_register(s->inst, CEB_METRIC_HISTOGRAM, "lat", "Latency.",
                                              NULL, 0, b, 2, &h), 0);
    s->host->metric_observe(h, NULL, 5);
    ceb_buf out = {0};
    assert_int_equal(s->host->metrics_render(s->inst, &out), 0);
    assert_non_null(strstr(out.data, "# TYPE cebridge_lines_total counter\n"));
    assert_non_null(strstr(out.data, "cebridge_lines_total{route=\"r1\"} 5\n"));
    assert_non_null(strstr(out.data, "cebridge_lat_bucket{le=\"1\"} 0\n"));
    assert_non_null(strstr(out.data, "cebridge_lat_bucket{le=\"10\"} 1\n"));
    assert_non_null(strstr(out.data, "cebridge_lat_count 1\n"));
    ceb_buf_free(&out);
    /* read back by the test */
    assert_true(ceb_testhost_metric_value(th, "lines_total", vals) == 5);
    const char *other[] = {"r2"};
    assert_true(ceb_testhost_metric_value(th, "lines_total", other) == -1); /* no series */
    assert_true(ceb_testhost_metric_value(th, "nope_total", NULL) == -1);
    assert_true(ceb_testhost_metric_value(th, "lat", NULL) == -1);          /* histogram */

    ceb_event *dl = tp_event(5);
    assert_int_equal(s->host->emit_dead_letter(s->inst, dl, "not an event", (void *)(uintptr_t)3), 0);
    const char *reason = NULL;
    assert_int_equal(ceb_testhost_dead_lettered_count(ti), 1);
    assert_string_equal(ceb_event_id(ceb_testhost_dead_lettered(ti, 0, &reason)), "e5");
    assert_string_equal(reason, "not an event");
    assert_int_equal(ceb_testhost_batches(ti), 2);
    acked_arg a = {ti, 2};
    assert_int_equal(ceb_testhost_run(th, acked_at_least, &a, 5000), 0);
    assert_int_equal(s->acks[1], 3);

    /* an invalid event is refused and consumed */
    ceb_event *bad = NULL;
    assert_int_equal(ceb_event_new(&bad), 0);
    assert_int_equal(s->host->emit(s->inst, &bad, 1, NULL), CEB_EINVAL);
    assert_int_equal(s->host->emit(s->inst, NULL, 0, NULL), CEB_EINVAL);

    assert_true(s->host->ready(s->inst));
    ceb_testhost_set_ready(ti, false);
    assert_false(s->host->ready(s->inst));
    assert_false(ceb_testhost_source_ended(ti));
    s->host->source_ended(s->inst);
    assert_true(ceb_testhost_source_ended(ti));
    assert_string_equal(s->host->instance_name(s->inst), "t1");
    assert_ptr_equal(s->host->loop(s->inst), ceb_testhost_loop(th));
    assert_int_equal(ceb_testhost_stop(ti, 1000), 0);
    assert_int_equal(s->host->post(s->inst, tp_posted, s), CEB_ESHUTDOWN);
    assert_null(ceb_testhost_violation(th));
    assert_int_equal(ceb_testhost_free(th), 0);
}

static void check_load(const char *path, int want_rc, const char *want_msg)
{
    ceb_testhost *th = NULL;
    assert_int_equal(ceb_testhost_new(&th), 0);
    const ceb_plugin *p = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_load(th, path, &p, &d), want_rc);
    if (want_rc == 0) {
        assert_non_null(p);
        assert_string_equal(p->name, "fx_good");
    } else if (strcmp(d.message, want_msg) != 0) {
        fail_msg("load %s: got '%s', want '%s'", path, d.message, want_msg);
    }
    assert_int_equal(ceb_testhost_free(th), 0);
}

static void test_load(void **state)
{
    (void)state;
    check_load(FIXTURE_DIR "/fx_good.so", 0, NULL);
    /* The test host refuses with the core loader's words (ceb__plugin_open). */
    check_load(FIXTURE_DIR "/missing.so", CEB_ENOENT,
               "plugin missing: cannot stat " FIXTURE_DIR "/missing.so: No such file or directory");
    check_load(FIXTURE_DIR "/fx_badabi.so", CEB_EABI,
               "plugin fx_badabi (" FIXTURE_DIR "/fx_badabi.so) was built for cebridge ABI 99; "
               "this cebridge has ABI 1 \u2014 rebuild it against cebridge 1.x headers");
    char want_size[512];
    snprintf(want_size, sizeof(want_size),
             "plugin fx_badsize (%s/fx_badsize.so): descriptor size 8, expected %zu (built against "
             "different headers)", FIXTURE_DIR, sizeof(ceb_plugin));
    check_load(FIXTURE_DIR "/fx_badsize.so", CEB_EABI, want_size);
    check_load(FIXTURE_DIR "/fx_wrongname.so", CEB_EPLUGIN,
               "plugin fx_wrongname (" FIXTURE_DIR "/fx_wrongname.so): descriptor name \"fx_good\" "
               "does not match the file name (expected fx_good.so)");
    check_load(FIXTURE_DIR "/fx_noentry.so", CEB_EPLUGIN,
               "plugin fx_noentry: " FIXTURE_DIR "/fx_noentry.so: no ceb_plugin_entry(); not a "
               "cebridge plugin (was it built with CEB_PLUGIN()?)");

    /* a copy writable by others is refused */
    char tmp[] = "/tmp/ceb_th_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char path[256], cmd[600];
    snprintf(path, sizeof(path), "%s/fx_good.so", tmp);
    snprintf(cmd, sizeof(cmd), "cp %s/fx_good.so %s", FIXTURE_DIR, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(chmod(path, 0666), 0);
    char want[512];
    snprintf(want, sizeof(want), "plugin fx_good: %s is writable by others (mode 0666); refusing to load", path);
    check_load(path, CEB_EPERM, want);
    unlink(path);
    rmdir(tmp);
}

static const ceb_plugin tp_plugin2 = {.abi = CEB_ABI_VERSION, .size = sizeof(ceb_plugin),
                                      .name = "tp2", .version = "1", .description = "test",
                                      .source = &tp_source_ops, .sink = &tp_sink_ops};

static void **slot_of(ceb_testhost_inst *ti)
{
    tp_state *s = ceb_testhost_state(ti);
    return s->host->plugin_slot(s->inst);
}

/* host->plugin_slot(): one per plugin descriptor per test host, NULL at first,
   and a slot left set after the plugin's last instance is destroyed is a violation. */
static void test_plugin_slot(void **state)
{
    (void)state;
    ceb_testhost *th = NULL, *th2 = NULL;
    assert_int_equal(ceb_testhost_new(&th), 0);
    assert_int_equal(ceb_testhost_new(&th2), 0);
    ceb_testhost_inst *src = make(th, CEB_TESTHOST_SOURCE, "{}");
    ceb_testhost_inst *snk = make(th, CEB_TESTHOST_SINK, "{}");
    ceb_testhost_inst *other = NULL, *elsewhere = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(th, &tp_plugin2, CEB_TESTHOST_SINK, "t2", "{}", &other, &d), 0);
    elsewhere = make(th2, CEB_TESTHOST_SINK, "{}");
    tp_state *st = ceb_testhost_state(src);
    assert_true(CEB_HOST_HAS(st->host, plugin_slot));

    void **slot = slot_of(src);
    assert_non_null(slot);
    assert_null(*slot);
    assert_ptr_equal(slot_of(snk), slot);          /* source and sink of one plugin share it */
    assert_ptr_not_equal(slot_of(other), slot);    /* another plugin has its own */
    assert_ptr_not_equal(slot_of(elsewhere), slot);/* another host has its own */
    assert_null(*slot_of(other));
    assert_null(*slot_of(elsewhere));

    int shared = 42;
    *slot = &shared;
    assert_ptr_equal(*slot_of(snk), &shared);
    assert_null(*slot_of(other));
    ceb_testhost_destroy(src);                     /* not the last one: fine */
    assert_null(ceb_testhost_violation(th));
    assert_ptr_equal(*slot_of(snk), &shared);      /* unchanged by the host */
    *slot = NULL;                                  /* the plugin frees it with its last instance */
    ceb_testhost_destroy(snk);
    assert_null(ceb_testhost_violation(th));

    /* the slot outlives instances: a new instance of the plugin gets it back */
    ceb_testhost_inst *again = make(th, CEB_TESTHOST_SOURCE, "{}");
    assert_ptr_equal(slot_of(again), slot);
    ceb_testhost_destroy(again);
    ceb_testhost_destroy(other);
    assert_null(ceb_testhost_violation(th));
    assert_int_equal(ceb_testhost_free(th), 0);

    /* left set after the last instance: a violation */
    *slot_of(elsewhere) = &shared;
    ceb_testhost_destroy(elsewhere);
    assert_string_equal(ceb_testhost_violation(th2),
                        "plugin_slot() still set after the plugin's last instance was destroyed");
    assert_int_equal(ceb_testhost_free(th2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_auto_ack),
        cmocka_unit_test(test_source_manual_ack),
        cmocka_unit_test(test_option_validation),
        cmocka_unit_test(test_violations),
        cmocka_unit_test(test_sink_deliver),
        cmocka_unit_test(test_post_timers_metrics_dead_letter),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_plugin_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
