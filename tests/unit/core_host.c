/* core/host.c: the host table as the core implements it: abi/size, log
   attribution, metrics, timers, post from another thread, delivery_info. */
#include "core_fixture.h"

static const char *const TO_A[] = { "a", NULL };

static void timer_cb(void *arg) { (*(int *)arg)++; }
static void post_cb(void *arg) { (*(int *)arg) += 10; }

static void poster(void *p)
{
    fx_src_cfg *s = p;
    static int dummy;
    (void)dummy;
    for (int i = 0; i < 5; i++)
        assert_int_equal(s->host->post(s->inst, post_cb, s->acked_tokens[FX_MAX - 1]), 0);
}

static void test_host_table(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_route(c, "r", "in", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);
    const ceb_host *h = src.host;
    assert_int_equal(h->abi, CEB_ABI_VERSION);
    assert_int_equal(h->size, sizeof(ceb_host));
    assert_true(CEB_HOST_HAS(h, emit_dead_letter));
    assert_ptr_equal(h->loop(src.inst), &w.loop);
    assert_string_equal(h->instance_name(a.inst), "a");

    h->log(src.inst, CEB_LOG_INFO, "hello %d", 42);
    assert_true(fx_log_contains(&w, "component=source/in msg=\"hello 42\""));
    h->log(a.inst, CEB_LOG_WARN, "sink says");
    assert_true(fx_log_contains(&w, "component=sink/a msg=\"sink says\""));
    w.log.level = CEB_LOG_INFO;
    assert_false(h->log_enabled(src.inst, CEB_LOG_DEBUG));
    assert_true(h->log_enabled(src.inst, CEB_LOG_WARN));

    ceb_metric *m = NULL;
    const char *ln[] = { "kind" };
    assert_int_equal(h->metric_register(a.inst, CEB_METRIC_COUNTER, "fx_things_total", "Things",
                                        ln, 1, NULL, 0, &m), 0);
    const char *lv[] = { "x" };
    h->metric_add(m, lv, 2);
    assert_true(ceb_metric_value(m, lv) == 2.0);
    ceb_buf out = {0};
    assert_int_equal(h->metrics_render(a.inst, &out), 0);
    assert_non_null(strstr(out.data, "cebridge_fx_things_total{kind=\"x\"} 2"));
    ceb_buf_free(&out);

    /* timers: one fires, one is stopped before it fires */
    int fired = 0, never = 0;
    ceb_timer *t1 = NULL, *t2 = NULL;
    assert_int_equal(h->timer_start(src.inst, 1, timer_cb, &fired, &t1), 0);
    assert_int_equal(h->timer_start(src.inst, 5, timer_cb, &never, &t2), 0);
    h->timer_stop(t2);
    FX_RUN_UNTIL(&w, fired == 1);
    assert_int_equal(never, 0);

    /* post from another thread runs on the loop */
    int posted = 0;
    src.acked_tokens[FX_MAX - 1] = &posted;
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, poster, &src), 0);
    FX_RUN_UNTIL(&w, posted == 50);
    uv_thread_join(&th);

    /* a timer left running at stopped() is canceled and logged */
    int late = 0;
    assert_int_equal(h->timer_start(src.inst, 100000, timer_cb, &late, NULL), 0);
    fx_world_shutdown(&w, 100);
    assert_true(fx_log_contains(&w, "component=source/in msg=\"timers still running at stopped(); canceled\""));
    assert_int_equal(late, 0);
    fx_world_free(&w);
}

static const ceb_plugin fx2_plugin = {
    .abi = CEB_ABI_VERSION, .size = sizeof(ceb_plugin), .name = "fx2", .version = "1",
    .description = "second core test plugin", .source = &fx_src_ops, .sink = &fx_sink_ops,
};

/* host->plugin_slot(): one per plugin per runtime, NULL at first, shared by
   the plugin's sources and sinks, kept across a reload that replaces them. */
static void test_plugin_slot(void **st)
{
    (void)st;
    fx_world w, w2;
    fx_world_init(&w);
    fx_world_init(&w2);
    fx_src_cfg src = {0}, src_v2 = {0}, other_src = {0};
    fx_sink_cfg a = { .mode = SINK_OK }, b = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_sink(c, "b", &b, 0);
    c->sinks[1].plugin = &fx2_plugin;
    fx_add_route(c, "r", "in", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);
    const ceb_host *h = src.host;
    assert_true(CEB_HOST_HAS(h, plugin_slot));

    void **slot = h->plugin_slot(src.inst);
    assert_non_null(slot);
    assert_null(*slot);
    assert_ptr_equal(h->plugin_slot(a.inst), slot);      /* source and sink of "fx" */
    void **slot2 = h->plugin_slot(b.inst);
    assert_non_null(slot2);
    assert_ptr_not_equal(slot2, slot);                    /* "fx2" has its own */
    assert_null(*slot2);

    int shared = 7;
    *slot = &shared;
    assert_null(*slot2);

    /* another runtime (host) has its own slot for "fx" */
    ceb_conf *c2 = fx_conf_new();
    fx_sink_cfg other_a = { .mode = SINK_OK };
    fx_add_source(c2, "in", &other_src);
    fx_add_sink(c2, "a", &other_a, 0);
    fx_add_route(c2, "r", "in", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w2.rt, c2, NULL), 0);
    void **other = other_src.host->plugin_slot(other_src.inst);
    assert_ptr_not_equal(other, slot);
    assert_null(*other);

    /* a reload replacing the source keeps the slot and what it holds */
    ceb_conf *n = fx_conf_new();
    fx_add_instance(n, CEB_ROLE_SOURCE, "in", &src_v2, "in-v2", 0);
    fx_add_sink(n, "a", &a, 0);
    fx_add_route(n, "r", "in", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, n, NULL), 0);
    FX_RUN_UNTIL(&w, src.destroyed);
    assert_ptr_not_equal(src_v2.inst, src.inst);
    assert_ptr_equal(h->plugin_slot(src_v2.inst), slot);
    assert_ptr_equal(*slot, &shared);                     /* the host never touches it */

    *slot = NULL;
    fx_world_shutdown(&w, 100);
    fx_world_shutdown(&w2, 100);
    fx_world_free(&w);
    fx_world_free(&w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_table),
        cmocka_unit_test(test_plugin_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
