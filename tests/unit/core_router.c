/* core/router.c: fan-out, filters, transforms, one ack per message after
   every delivery, nack when the dead-letter write fails, emit_dead_letter. */
#include "core_fixture.h"
#include "event_cesql.h"

static const char *const TO_A[] = { "a", NULL };
static const char *const TO_AB[] = { "a", "b", NULL };

static void test_fanout_acks_once_after_all(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK }, b = { .mode = SINK_HOLD };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_sink(c, "b", &b, 0);
    fx_add_route(c, "r", "in", TO_AB, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);

    ceb_event *evs[3] = { fx_event("1", "t"), fx_event("2", "t"), fx_event("3", "t") };
    int token = 7;
    assert_int_equal(src.host->emit(src.inst, evs, 3, &token), 0);
    src.open++;
    FX_RUN_UNTIL(&w, a.deliveries == 3 && b.nheld == 3);
    fx_settle(&w);
    assert_int_equal(src.nacks, 0);       /* b still holds all three */
    fx_sink_release(&b, 0, CEB_OUTCOME_OK, 0);
    fx_sink_release(&b, 2, CEB_OUTCOME_OK, 0);
    fx_settle(&w);
    assert_int_equal(src.nacks, 0);
    fx_sink_release(&b, 1, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    fx_settle(&w);
    assert_int_equal(src.nacks, 1);
    assert_ptr_equal(src.acked_tokens[0], &token);
    assert_int_equal(src.ack_status[0], 0);
    assert_string_equal(ceb_event_id(a.seen[1]), "2");
    assert_true(ceb_event_is_frozen(a.seen[0]));
    assert_int_equal((int)fx_metric(&w, w.rt->m_received, "in", NULL), 3);
    assert_int_equal((int)fx_metric(&w, w.rt->m_routed, "r", NULL), 3);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "ok"), 3);
    assert_int_equal(ceb_runtime_open_messages(w.rt), 0);
    fx_world_free(&w);
}

static void test_filter_and_filtered_only_acks(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK }, b = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_sink(c, "b", &b, 0);
    const char *const to_b[] = { "b", NULL };
    fx_add_route(c, "ra", "in", TO_A, "type LIKE 'x.%'", NULL);
    fx_add_route(c, "rb", "in", to_b, "cebn > 1", NULL);   /* missing attribute: error */
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);

    assert_int_equal(fx_emit1(&src, "1", "x.one", NULL), 0);
    assert_int_equal(fx_emit1(&src, "2", "y.two", NULL), 0);   /* filtered by both */
    FX_RUN_UNTIL(&w, src.nacks == 2);
    assert_int_equal(a.deliveries, 1);
    assert_string_equal(ceb_event_id(a.seen[0]), "1");
    assert_int_equal(b.deliveries, 0);
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(src.ack_status[1], 0);
    assert_int_equal((int)fx_metric(&w, w.rt->m_routed, "ra", NULL), 1);
    assert_int_equal((int)fx_metric(&w, w.rt->m_filtered, "ra", NULL), 1);
    assert_int_equal((int)fx_metric(&w, w.rt->m_filtered, "rb", NULL), 2);
    assert_int_equal((int)fx_metric(&w, w.rt->m_filter_errors, "rb", NULL), 2);
    fx_world_free(&w);
}

/* The filter time histogram samples one evaluation in CEB_FILTER_SAMPLE per
   route: N events give N / CEB_FILTER_SAMPLE observations, never zero work
   for a route without a filter. */
static void test_filter_time_sampled(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_route(c, "ra", "in", TO_A, "type = 'x'", NULL);
    fx_add_route(c, "rall", "in", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);
    const unsigned n = 2 * CEB_FILTER_SAMPLE + 3;
    for (unsigned i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%u", i);
        assert_int_equal(fx_emit1(&src, id, i % 2 ? "x" : "y", NULL), 0);
    }
    FX_RUN_UNTIL(&w, src.nacks == (int)n);
    assert_int_equal((int)fx_metric(&w, w.rt->m_filter_time, "ra", NULL), 2);
    assert_int_equal((int)fx_metric(&w, w.rt->m_filter_time, "rall", NULL), 0);
    ceb_buf out = {0};
    assert_int_equal(ceb_metrics_render(w.metrics, &out), 0);
    assert_non_null(strstr(out.data, "cebridge_filter_evaluation_seconds_count{route=\"ra\"} 2\n"));
    assert_non_null(strstr(out.data, "cebridge_filter_evaluation_seconds_bucket{route=\"ra\",le=\"5e-08\"}"));
    ceb_buf_free(&out);
    fx_world_free(&w);
}

static void test_transform_clones(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK }, b = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_sink(c, "b", &b, 0);
    const char *const to_b[] = { "b", NULL };
    ceb_conf_route *r = fx_add_route(c, "ra", "in", TO_A, NULL, NULL);
    fx_route_transform(r, "subject", "s-{type}");
    fx_route_transform(r, "cebtag", NULL);   /* remove */
    fx_add_route(c, "rb", "in", to_b, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);

    ceb_event *ev = fx_event("1", "t.x");
    assert_int_equal(ceb_event_set(ev, "cebtag", "v", NULL), 0);
    assert_int_equal(src.host->emit(src.inst, &ev, 1, NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_string_equal(ceb_event_subject(a.seen[0]), "s-t.x");
    assert_null(ceb_event_get(a.seen[0], "cebtag"));
    assert_true(ceb_event_is_frozen(a.seen[0]));
    /* the other route got the original, untouched */
    assert_null(ceb_event_subject(b.seen[0]));
    assert_string_equal(ceb_event_get(b.seen[0], "cebtag"), "v");
    assert_ptr_not_equal(a.seen[0], b.seen[0]);
    fx_world_free(&w);
}

static void test_dead_letter_ok_acks(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_PERMANENT, .err = CEB_EINVAL, .detail = "HTTP 400: bad" };
    fx_sink_cfg dlq = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_sink(c, "dlq", &dlq, 0);
    fx_add_route(c, "r", "in", TO_A, NULL, "dlq");
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);

    assert_int_equal(fx_emit1(&src, "e1", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(a.deliveries, 1);          /* permanent: no retry */
    assert_int_equal(dlq.deliveries, 1);
    assert_true(dlq.dlq_flag[0]);
    const ceb_event *d = dlq.seen[0];
    assert_string_equal(ceb_event_id(d), "e1");
    assert_string_equal(ceb_event_get(d, "cebdlqreason"), "HTTP 400: bad");
    assert_string_equal(ceb_event_get(d, "cebdlqroute"), "r");
    ceb_attr at;
    assert_int_equal(ceb_event_attr(d, "cebdlqattempts", &at), 0);
    assert_int_equal(at.type, CEB_ATTR_INTEGER);
    assert_int_equal(at.i, 1);
    assert_null(ceb_event_get(a.seen[0], "cebdlqreason"));   /* original untouched */
    assert_int_equal((int)fx_metric(&w, w.rt->m_dead_lettered, "r", NULL), 1);
    assert_true(fx_log_contains(&w, "dead-lettered to dlq after 1 attempt(s): HTTP 400: bad"));
    fx_world_free(&w);
}

static void test_failed_dead_letter_nacks(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_PERMANENT, .err = CEB_EINVAL };
    fx_sink_cfg ok = { .mode = SINK_OK };
    fx_sink_cfg dlq = { .mode = SINK_DELIVER_ERR, .err = CEB_EIO };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_sink(c, "ok", &ok, 0);
    fx_add_sink(c, "dlq", &dlq, 0);
    const char *const to[] = { "a", "ok", NULL };
    fx_add_route(c, "r", "in", to, NULL, "dlq");
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);

    assert_int_equal(fx_emit1(&src, "e1", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], CEB_EIO);
    assert_int_equal(ok.deliveries, 1);
    assert_int_equal(dlq.deliveries, 3);        /* the dead-letter write is retried too */
    assert_true(fx_log_contains(&w, "dead-letter write failed after 3 attempt(s)"));
    assert_true(fx_log_contains(&w, "message not acknowledged (left for redelivery)"));
    fx_world_free(&w);
}

static void test_no_dead_letter_nacks(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_PERMANENT, .err = CEB_EINVAL };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_route(c, "r", "in", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);
    assert_int_equal(fx_emit1(&src, "e1", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], CEB_EINVAL);
    assert_true(fx_log_contains(&w, "route r: event e1: delivery failed after 1 attempt(s) "
                                    "(invalid argument); no dead_letter configured"));
    fx_world_free(&w);
}

static void test_emit_refusals(void **st)
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

    ceb_event *bad = NULL;
    assert_int_equal(ceb_event_new(&bad), 0);
    assert_int_equal(ceb_event_set(bad, "id", "x", NULL), 0);   /* no source/type */
    assert_int_equal(src.host->emit(src.inst, &bad, 1, NULL), CEB_EINVAL);
    assert_true(fx_log_contains(&w, "emit refused an invalid event"));
    assert_int_equal(src.host->emit(src.inst, NULL, 0, NULL), CEB_EINVAL);
    /* a sink cannot emit */
    ceb_event *ev = fx_event("1", "t");
    assert_int_equal(a.host->emit(a.inst, &ev, 1, NULL), CEB_EINVAL);
    fx_settle(&w);
    assert_int_equal(src.nacks, 0);
    assert_int_equal(a.deliveries, 0);

    src.emit_after_stopped = true;
    fx_world_shutdown(&w, 1000);
    assert_true(src.stopped);
    /* after stopped(): refused and logged once */
    assert_int_equal(src.late_rc[0], CEB_ESHUTDOWN);
    assert_int_equal(src.late_rc[1], CEB_ESHUTDOWN);
    assert_true(fx_log_contains(&w, "host call emit() after stopped(); refused (CEB_ESHUTDOWN)"));
    fflush(w.log.out);
    const char *first = strstr(w.logbuf, "after stopped()");
    assert_null(strstr(first + 1, "after stopped()"));
    assert_int_equal(src.nacks, 0);
    fx_world_free(&w);
}

static void test_emit_dead_letter(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0}, src2 = {0};
    fx_sink_cfg a = { .mode = SINK_OK }, dlq = { .mode = SINK_OK };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_source(c, "in2", &src2);
    fx_add_sink(c, "a", &a, 0);
    fx_add_sink(c, "dlq", &dlq, 0);
    fx_add_route(c, "r", "in", TO_A, NULL, "dlq");
    fx_add_route(c, "r2", "in2", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);

    ceb_event *raw = NULL;
    assert_int_equal(ceb_event_wrap("garbage", 7, "text/plain", "cebridge.unroutable", "/in",
                                    NULL, &raw, NULL), 0);
    assert_int_equal(src.host->emit_dead_letter(src.inst, raw, "line 3: not JSON", &src), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(a.deliveries, 0);
    assert_int_equal(dlq.deliveries, 1);
    assert_string_equal(ceb_event_get(dlq.seen[0], "cebdlqreason"), "line 3: not JSON");
    assert_string_equal(ceb_event_get(dlq.seen[0], "cebdlqroute"), "r");
    assert_string_equal(ceb_event_get(dlq.seen[0], "cebdlqattempts"), "0");

    /* no route of in2 has a dead letter: nack and an error naming why */
    ceb_event *raw2 = fx_event("z", "t");
    assert_int_equal(src2.host->emit_dead_letter(src2.inst, raw2, "bad input", &src2), 0);
    FX_RUN_UNTIL(&w, src2.nacks == 1);
    assert_int_equal(src2.ack_status[0], CEB_ENOENT);
    assert_true(fx_log_contains(&w, "cannot dead-letter input (bad input): no route from this "
                                    "source has a dead_letter; left for redelivery"));
    fx_world_free(&w);
}

typedef struct thread_arg {
    fx_src_cfg *src;
    int n;
} thread_arg;

static void emitter(void *p)
{
    thread_arg *t = p;
    for (int i = 0; i < t->n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        ceb_event *ev = fx_event(id, "t");
        assert_int_equal(t->src->host->emit(t->src->inst, &ev, 1, (void *)(intptr_t)(i + 1)), 0);
    }
}

static void test_emit_from_other_thread(void **st)
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
    thread_arg t = { &src, 100 };
    src.open = 100;
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, emitter, &t), 0);
    FX_RUN_UNTIL(&w, src.nacks == 100);
    uv_thread_join(&th);
    /* queued in order: acks come in emit order */
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(src.acked_tokens[i], (void *)(intptr_t)(i + 1));
    assert_int_equal(a.deliveries, 100);
    fx_world_free(&w);
}

static void test_accessor_types(void **st)
{
    (void)st;
    ceb_event *ev = fx_event("1", "t");
    assert_int_equal(ceb_event_set_int(ev, "n", 42, NULL), 0);
    assert_int_equal(ceb_event_set_bool(ev, "flag", true, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "subject", "s", NULL), 0);
    const ceb_cesql_accessor *acc = ceb__event_cesql_accessor();
    const char *exprs[] = { "n = 42 AND flag AND subject = 's' AND id = '1'",
                            "n + 1 = 43", "specversion = '1.0'" };
    for (size_t i = 0; i < 3; i++) {
        ceb_cesql_expr *e = NULL;
        assert_int_equal(ceb_cesql_compile(exprs[i], strlen(exprs[i]), 0, &e, NULL), 0);
        int nerr = -1;
        assert_true(ceb_cesql_match(e, acc, ev, &nerr));
        assert_int_equal(nerr, 0);
        ceb_cesql_free(e);
    }
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"a\":{\"b\":3}}", 13), 0);
    ceb_event_freeze(ev);
    ceb_cesql_expr *e = NULL;
    const char *dx = "data.a.b = 3";
    assert_int_equal(ceb_cesql_compile(dx, strlen(dx), 0, &e, NULL), 0);
    assert_true(ceb_cesql_match(e, acc, ev, NULL));
    ceb_cesql_free(e);
    ceb_event_unref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fanout_acks_once_after_all),
        cmocka_unit_test(test_filter_and_filtered_only_acks),
        cmocka_unit_test(test_filter_time_sampled),
        cmocka_unit_test(test_transform_clones),
        cmocka_unit_test(test_dead_letter_ok_acks),
        cmocka_unit_test(test_failed_dead_letter_nacks),
        cmocka_unit_test(test_no_dead_letter_nacks),
        cmocka_unit_test(test_emit_refusals),
        cmocka_unit_test(test_emit_dead_letter),
        cmocka_unit_test(test_emit_from_other_thread),
        cmocka_unit_test(test_accessor_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
