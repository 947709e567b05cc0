/* core/runtime.c: apply and reload (keep unchanged, replace changed
   make-before-break, stop removed after their in-flight drained, keep the
   old configuration when the new one fails), idle detection, shutdown. */
#include "core_fixture.h"

static void idle_cb(ceb_runtime *rt, void *arg, int status)
{
    (void)rt;
    (void)status;
    ((fx_world *)arg)->idle_calls++;
}

static void test_reload(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK }, b = { .mode = SINK_HOLD };
    ceb_conf *c1 = fx_conf_new();
    fx_add_source(c1, "in", &src);
    fx_add_sink(c1, "a", &a, 0);
    fx_add_sink(c1, "b", &b, 0);
    const char *const to_ab[] = { "a", "b", NULL };
    fx_add_route(c1, "r", "in", to_ab, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c1, NULL), 0);
    ceb_instance *src_inst = ceb_runtime_find(w.rt, CEB_ROLE_SOURCE, "in");
    ceb_instance *a_inst = ceb_runtime_find(w.rt, CEB_ROLE_SINK, "a");
    assert_non_null(src_inst);
    assert_true(src.host->ready(src.inst));
    assert_int_equal(fx_emit1(&src, "e1", "t", NULL), 0);
    FX_RUN_UNTIL(&w, b.nheld == 1);

    /* a changes (new fingerprint), b goes away, c is new; in is unchanged */
    fx_sink_cfg a2 = { .mode = SINK_OK }, cc = { .mode = SINK_OK };
    ceb_conf *c2 = fx_conf_new();
    fx_add_source(c2, "in", &src);
    fx_add_instance(c2, CEB_ROLE_SINK, "a", &a2, "a-v2", 0);
    fx_add_sink(c2, "c", &cc, 0);
    const char *const to_ac[] = { "a", "c", NULL };
    fx_add_route(c2, "r", "in", to_ac, NULL, NULL);
    ceb_diag d;
    ceb_diag_clear(&d);
    assert_int_equal(ceb_runtime_apply(w.rt, c2, &d), 0);
    assert_ptr_equal(ceb_runtime_find(w.rt, CEB_ROLE_SOURCE, "in"), src_inst);  /* kept */
    assert_ptr_not_equal(ceb_runtime_find(w.rt, CEB_ROLE_SINK, "a"), a_inst);  /* replaced */
    assert_true(a2.started);
    FX_RUN_UNTIL(&w, a.stopped);                /* old a had nothing in flight */
    fx_settle(&w);
    assert_false(b.stopped);                    /* b still has a delivery in flight */
    assert_false(src.stop_called);
    fx_sink_release(&b, 0, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, b.stopped && src.nacks == 1);
    assert_int_equal(src.ack_status[0], 0);
    assert_true(fx_log_contains(&w, "sink/b msg=\"removed by reload; stopping\""));

    /* the new routes are in effect */
    assert_int_equal(fx_emit1(&src, "e2", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 2);
    assert_int_equal(a.deliveries, 1);
    assert_int_equal(a2.deliveries, 1);
    assert_int_equal(cc.deliveries, 1);

    /* a configuration whose sink fails create(): refused, old one kept */
    fx_sink_cfg bad = { .mode = -1 };
    ceb_conf *c3 = fx_conf_new();
    fx_add_source(c3, "in", &src);
    fx_add_sink(c3, "bad", &bad, 0);
    const char *const to_bad[] = { "bad", NULL };
    fx_add_route(c3, "r", "in", to_bad, NULL, NULL);
    ceb_diag_clear(&d);
    assert_int_equal(ceb_runtime_apply(w.rt, c3, &d), CEB_ECONFIG);
    assert_string_equal(d.message, ":1:1: sinks.bad: refused by the test");
    assert_int_equal(fx_emit1(&src, "e3", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 3);
    assert_int_equal(a2.deliveries, 2);
    assert_int_equal(cc.deliveries, 2);
    assert_false(a2.stopped);
    fx_world_free(&w);
    assert_true(a2.stopped && cc.stopped && src.destroyed);
}

static void test_idle_after_sources_ended(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg s1 = {0}, s2 = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "s1", &s1);
    fx_add_source(c, "s2", &s2);
    fx_add_sink(c, "a", &a, 0);
    const char *const to[] = { "a", NULL };
    fx_add_route(c, "r1", "s1", to, NULL, NULL);
    fx_add_route(c, "r2", "s2", to, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);
    ceb_runtime_on_idle(w.rt, idle_cb, &w);
    assert_int_equal(fx_emit1(&s1, "e", "t", NULL), 0);
    s1.host->source_ended(s1.inst);
    FX_RUN_UNTIL(&w, a.nheld == 1);
    fx_settle(&w);
    assert_int_equal(w.idle_calls, 0);          /* s2 has not ended */
    s2.host->source_ended(s2.inst);
    fx_settle(&w);
    assert_int_equal(w.idle_calls, 0);          /* one delivery in flight */
    assert_false(ceb_runtime_is_idle(w.rt));
    fx_sink_release(&a, 0, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, w.idle_calls == 1);
    assert_true(ceb_runtime_is_idle(w.rt));
    fx_settle(&w);
    assert_int_equal(w.idle_calls, 1);
    fx_world_shutdown(&w, 100);
    assert_int_equal(w.shut_status, 0);
    assert_int_equal(ceb_runtime_shutdown(w.rt, 100, fx_shutdown_cb, &w), CEB_ESHUTDOWN);
    fx_world_free(&w);
}

/* A sink that never calls stopped(): shutdown reports it after the bound. */
static void hang_stop(void *state) { (void)state; }

static void test_shutdown_stop_deadline(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    static ceb_sink_ops hang_ops;
    hang_ops = fx_sink_ops;
    hang_ops.stop = hang_stop;
    static ceb_plugin hang_plugin;
    hang_plugin = fx_plugin;
    hang_plugin.sink = &hang_ops;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    c->sinks[0].plugin = &hang_plugin;
    const char *const to[] = { "a", NULL };
    fx_add_route(c, "r", "in", to, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);
    /* drain 0 → stop bound 5 s: the loop's timer drives it, no sleep */
    w.rt->stop_wait_ms = 0;
    assert_int_equal(ceb_runtime_shutdown(w.rt, 0, fx_shutdown_cb, &w), 0);
    w.rt->stop_wait_ms = 10;
    FX_RUN_UNTIL(&w, w.shut);
    assert_int_equal(w.shut_status, CEB_ETIMEDOUT);
    assert_true(fx_log_contains(&w, "did not call stopped() within 10 ms; not destroyed"));
    /* let the test finish cleanly: the sink stops late, then is destroyed */
    a.host->stopped(a.inst);
    fx_settle(&w);
    fx_world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_idle_after_sources_ended),
        cmocka_unit_test(test_shutdown_stop_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
