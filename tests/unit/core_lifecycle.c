/* Lifecycle and at-least-once edge cases of the core (review findings):
   reload while deliveries are in flight or orphaned by a timeout, limits
   changed by a reload, a failed reload leaving no trace, dead letters
   after the dead-letter sink was replaced, complete() from another thread
   racing the per-attempt timeout, timer deadlines that do not wrap. Each
   test names the bug it pins down. */
#include "core_fixture.h"

static const char *const TO_A[] = { "a", NULL };
static const char *const TO_B[] = { "b", NULL };

/* Run a few loop iterations without blocking (work queued on the idle
   handle runs; nothing that needs a timer). */
static void settle(fx_world *w)
{
    for (int i = 0; i < 32; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
}

/*
 * A sink removed by a reload is stopped once no record targets it. An
 * attempt orphaned by its per-attempt timeout is not a record: it is
 * completed by the sink's stop() (plugin.h). Bug: the retiring check
 * waited for load == 0, which counts orphans, so a sink whose timed-out
 * attempt never completes was never stopped and the old configuration
 * stayed in memory for the life of the process.
 */
static void test_retired_sink_with_orphaned_attempt_stops(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD }, b = { .mode = SINK_OK };
    ceb_conf *c1 = fx_conf_new();
    fx_add_source(c1, "in", &src);
    fx_add_sink(c1, "a", &a, 0);
    ceb_conf_route *r = fx_add_route(c1, "r", "in", TO_A, NULL, NULL);
    r->retry = (ceb_conf_retry){ .attempts = 1, .timeout_ms = 5 };
    assert_int_equal(ceb_runtime_apply(w.rt, c1, NULL), 0);
    assert_int_equal(fx_emit1(&src, "e1", "t", (void *)1), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);           /* timed out, no attempt left */
    assert_int_equal(src.ack_status[0], CEB_ETIMEDOUT);
    assert_int_equal(a.nheld, 1);               /* the attempt is orphaned, still held */

    ceb_conf *c2 = fx_conf_new();
    fx_add_source(c2, "in", &src);
    fx_add_sink(c2, "b", &b, 0);
    fx_add_route(c2, "r", "in", TO_B, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c2, NULL), 0);
    settle(&w);
    assert_true(a.stopped);                     /* stop() cancelled the orphan */
    assert_true(fx_log_contains(&w, "sink/a msg=\"removed by reload; stopping\""));
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 0);
    assert_int_equal(fx_emit1(&src, "e2", "t", (void *)2), 0);
    FX_RUN_UNTIL(&w, src.nacks == 2);
    assert_int_equal(src.ack_status[1], 0);
    assert_int_equal(b.deliveries, 1);
    fx_world_free(&w);
}

/*
 * max_inflight is not part of a sink's fingerprint: a reload that only
 * raises it keeps the instance. Bug: the new bound was stored but neither
 * the waiting records nor the paused source noticed until some delivery
 * completed, so a source paused behind a stuck sink stayed paused after
 * the operator raised the limit.
 */
static void test_reload_raising_max_inflight_resumes(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf *c1 = fx_conf_new();
    fx_add_source(c1, "in", &src);
    fx_add_sink(c1, "a", &a, 4);
    fx_add_route(c1, "r", "in", TO_A, NULL, NULL)->retry.attempts = 1;
    assert_int_equal(ceb_runtime_apply(w.rt, c1, NULL), 0);
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        assert_int_equal(fx_emit1(&src, id, "t", NULL), 0);
    }
    FX_RUN_UNTIL(&w, src.pauses == 1);
    settle(&w);
    assert_int_equal(a.nheld, 4);
    ceb_instance *ai = ceb_runtime_find(w.rt, CEB_ROLE_SINK, "a");

    ceb_conf *c2 = fx_conf_new();
    fx_add_source(c2, "in", &src);
    fx_add_sink(c2, "a", &a, 100);
    fx_add_route(c2, "r", "in", TO_A, NULL, NULL)->retry.attempts = 1;
    assert_int_equal(ceb_runtime_apply(w.rt, c2, NULL), 0);
    assert_ptr_equal(ceb_runtime_find(w.rt, CEB_ROLE_SINK, "a"), ai);   /* kept */
    settle(&w);
    assert_int_equal(a.nheld, 6);               /* the two waiting records went out */
    assert_int_equal(src.resumes, 1);           /* 6 of 100: not full any more */

    /* and lowering it below the load pauses at once */
    ceb_conf *c3 = fx_conf_new();
    fx_add_source(c3, "in", &src);
    fx_add_sink(c3, "a", &a, 2);
    fx_add_route(c3, "r", "in", TO_A, NULL, NULL)->retry.attempts = 1;
    assert_int_equal(ceb_runtime_apply(w.rt, c3, NULL), 0);
    settle(&w);
    assert_int_equal(src.pauses, 2);
    for (int i = 0; i < 6; i++)
        fx_sink_release(&a, i, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, src.nacks == 6 && src.resumes == 2);
    fx_world_free(&w);
}

/*
 * A reload that fails keeps the running configuration "untouched"
 * (runtime.h). Bug: the new max_inflight of a kept sink was applied while
 * preparing, before the reload could still fail.
 */
static void test_failed_reload_leaves_limits(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_OK }, bad = { .mode = -1 };
    ceb_conf *c1 = fx_conf_new();
    fx_add_source(c1, "in", &src);
    fx_add_sink(c1, "a", &a, 4);
    fx_add_route(c1, "r", "in", TO_A, NULL, NULL);
    assert_int_equal(ceb_runtime_apply(w.rt, c1, NULL), 0);
    ceb_instance *ai = ceb_runtime_find(w.rt, CEB_ROLE_SINK, "a");
    assert_int_equal(ai->max_inflight, 4);

    ceb_conf *c2 = fx_conf_new();
    fx_add_source(c2, "in", &src);
    fx_add_sink(c2, "a", &a, 500);
    fx_add_sink(c2, "bad", &bad, 0);
    const char *const to[] = { "a", "bad", NULL };
    fx_add_route(c2, "r", "in", to, NULL, NULL);
    ceb_diag d;
    ceb_diag_clear(&d);
    assert_int_equal(ceb_runtime_apply(w.rt, c2, &d), CEB_ECONFIG);
    assert_string_equal(d.message, ":1:1: sinks.bad: refused by the test");
    assert_int_equal(ai->max_inflight, 4);
    fx_world_free(&w);
}

/*
 * A reload that changes the dead-letter sink's options replaces it; the old
 * one has nothing in flight and stops at once. A record of the old route
 * that was retrying on a kept sink then exhausts its attempts. Bug: it was
 * sent to the old, stopped dead-letter instance ("sink is not running"),
 * so the message was nacked although a dead letter of that name is
 * configured and running.
 */
static void test_dead_letter_after_dlq_replaced(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_FAIL_N, .fail_n = 1000, .err = CEB_EIO };
    fx_sink_cfg d1 = { .mode = SINK_OK }, d2 = { .mode = SINK_OK };
    ceb_conf_retry rp = { .attempts = 2, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 100 };
    ceb_conf *c1 = fx_conf_new();
    fx_add_source(c1, "in", &src);
    fx_add_sink(c1, "a", &a, 0);
    fx_add_sink(c1, "dlq", &d1, 0);
    fx_add_route(c1, "r", "in", TO_A, NULL, "dlq")->retry = rp;
    assert_int_equal(ceb_runtime_apply(w.rt, c1, NULL), 0);
    assert_int_equal(fx_emit1(&src, "e1", "t", (void *)1), 0);
    FX_RUN_UNTIL(&w, a.deliveries == 1);        /* attempt 1 failed; retry in 100 ms */

    ceb_conf *c2 = fx_conf_new();
    fx_add_source(c2, "in", &src);
    fx_add_sink(c2, "a", &a, 0);
    fx_add_instance(c2, CEB_ROLE_SINK, "dlq", &d2, "dlq-v2", 0);
    fx_add_route(c2, "r", "in", TO_A, NULL, "dlq")->retry = rp;
    assert_int_equal(ceb_runtime_apply(w.rt, c2, NULL), 0);
    settle(&w);
    assert_true(d1.stopped);                    /* the old dead letter had nothing to do */
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(a.deliveries, 2);
    assert_int_equal(src.ack_status[0], 0);     /* dead-lettered, so acknowledged */
    assert_int_equal(d1.deliveries, 0);
    assert_int_equal(d2.deliveries, 1);
    assert_string_equal(ceb_event_get(d2.seen[0], "cebdlqroute"), "r");
    fx_world_free(&w);
}

/*
 * Same, but the reload removes the dead letter (and the route keeps no
 * dead_letter). The old route, held only by the retrying record, still
 * names the old dead-letter instance. Bug: dispatching the dead-letter
 * record to that stopped instance dropped the record's route, which
 * dropped the instance's last reference, and dispatch() went on reading
 * the freed sink queue (heap use-after-free, SIGSEGV). Now: the write
 * fails cleanly and the message is nacked.
 */
static void test_dead_letter_after_dlq_removed(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_FAIL_N, .fail_n = 1000, .err = CEB_EIO };
    fx_sink_cfg d1 = { .mode = SINK_OK };
    ceb_conf_retry rp = { .attempts = 2, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 100 };
    ceb_conf *c1 = fx_conf_new();
    fx_add_source(c1, "in", &src);
    fx_add_sink(c1, "a", &a, 0);
    fx_add_sink(c1, "dlq", &d1, 0);
    fx_add_route(c1, "r", "in", TO_A, NULL, "dlq")->retry = rp;
    assert_int_equal(ceb_runtime_apply(w.rt, c1, NULL), 0);
    assert_int_equal(fx_emit1(&src, "e1", "t", (void *)1), 0);
    FX_RUN_UNTIL(&w, a.deliveries == 1);

    ceb_conf *c2 = fx_conf_new();
    fx_add_source(c2, "in", &src);
    fx_add_sink(c2, "a", &a, 0);
    fx_add_route(c2, "r", "in", TO_A, NULL, NULL)->retry = rp;
    assert_int_equal(ceb_runtime_apply(w.rt, c2, NULL), 0);
    settle(&w);
    assert_true(d1.stopped);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(a.deliveries, 2);
    assert_int_equal(src.ack_status[0], CEB_ESHUTDOWN);   /* left for redelivery */
    assert_int_equal(d1.deliveries, 0);
    assert_true(fx_log_contains(&w, "route r: event e1: sink is not running; left for redelivery"));
    assert_int_equal(w.rt->nopen, 0);
    fx_world_free(&w);
}

/*
 * A plugin thread emits just before a reload replaces both its source and
 * the route's sink; the emit is queued to the loop and routed through the
 * old route after the old sink (idle) was stopped. "Sink is not running"
 * is the core's own lifecycle, not the event's fault. Bug: it was a
 * PERMANENT failure, so the event was dead-lettered and the message
 * acknowledged; it must be left for redelivery (nack), like a shutdown.
 */
static void thread_emit(void *p)
{
    fx_src_cfg *s = p;
    assert_int_equal(fx_emit1(s, "e1", "t", (void *)1), 0);
}

static void test_emit_racing_reload_is_not_dead_lettered(void **st)
{
    (void)st;
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg s1 = { .stop_waits_for_acks = true }, s2 = {0};
    fx_sink_cfg a1 = { .mode = SINK_OK }, a2 = { .mode = SINK_OK }, d = { .mode = SINK_OK };
    ceb_conf *c1 = fx_conf_new();
    fx_add_source(c1, "in", &s1);
    fx_add_sink(c1, "a", &a1, 0);
    fx_add_sink(c1, "dlq", &d, 0);
    fx_add_route(c1, "r", "in", TO_A, NULL, "dlq");
    assert_int_equal(ceb_runtime_apply(w.rt, c1, NULL), 0);
    settle(&w);
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, thread_emit, &s1), 0);
    uv_thread_join(&th);                        /* queued, not routed yet */

    ceb_conf *c2 = fx_conf_new();
    fx_add_instance(c2, CEB_ROLE_SOURCE, "in", &s2, "in-v2", 0);
    fx_add_instance(c2, CEB_ROLE_SINK, "a", &a2, "a-v2", 0);
    fx_add_sink(c2, "dlq", &d, 0);
    fx_add_route(c2, "r", "in", TO_A, NULL, "dlq");
    assert_int_equal(ceb_runtime_apply(w.rt, c2, NULL), 0);
    FX_RUN_UNTIL(&w, s1.nacks == 1);
    assert_true(a1.stopped);
    assert_int_equal(s1.ack_status[0], CEB_ESHUTDOWN);   /* left for redelivery */
    assert_int_equal(d.deliveries, 0);                   /* not dead-lettered */
    assert_int_equal(a1.deliveries + a2.deliveries, 0);
    FX_RUN_UNTIL(&w, s1.stopped);
    fx_world_free(&w);
}

/*
 * complete() from a plugin thread while the loop's per-attempt timeouts
 * fire for the same deliveries: every message gets exactly one ack (0 when
 * the completion won, CEB_ETIMEDOUT when the timeout did), every orphaned
 * attempt is released by its late complete(), in-flight returns to 0.
 */
typedef struct racer {
    fx_sink_cfg *sink;
    int n;
} racer;

static void race_completer(void *p)
{
    racer *r = p;
    for (int i = 0; i < r->n; i++) {
        if ((i & 7) == 0)
            uv_sleep(1);   /* let some timeouts win (not a timing assertion) */
        r->sink->host->complete(r->sink->held[i], CEB_OUTCOME_OK, 0, 0, NULL);
    }
}

static void test_complete_races_timeout(void **st)
{
    (void)st;
    enum { N = 200 };
    fx_world w;
    fx_world_init(&w);
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", &src);
    fx_add_sink(c, "a", &a, 0);
    fx_add_route(c, "r", "in", TO_A, NULL, NULL)->retry =
        (ceb_conf_retry){ .attempts = 1, .timeout_ms = 2 };
    assert_int_equal(ceb_runtime_apply(w.rt, c, NULL), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(fx_emit1(&src, "e", "t", (void *)(intptr_t)(i + 1)), 0);
    FX_RUN_UNTIL(&w, a.nheld == N);
    racer r = { &a, N };
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, race_completer, &r), 0);
    FX_RUN_UNTIL(&w, src.nacks == N);
    uv_thread_join(&th);
    ceb_instance *ai = ceb_runtime_find(w.rt, CEB_ROLE_SINK, "a");
    FX_RUN_UNTIL(&w, ai->q->inflight == 0);
    settle(&w);
    assert_int_equal(src.nacks, N);
    bool seen[N + 1] = { false };
    for (int i = 0; i < N; i++) {
        intptr_t t = (intptr_t)src.acked_tokens[i];
        assert_true(t >= 1 && t <= N);
        assert_false(seen[t]);                  /* exactly one ack per emit */
        seen[t] = true;
        assert_true(src.ack_status[i] == 0 || src.ack_status[i] == CEB_ETIMEDOUT);
    }
    assert_int_equal(ai->q->load, 0);
    assert_int_equal(w.rt->nopen, 0);
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 0);
    a.nheld = 0;
    fx_world_free(&w);
}

/*
 * emit() consumes the caller's references on success and on error
 * (host.h). Bug: with a NULL instance it returned CEB_EINVAL and leaked
 * the events (LeakSanitizer in the sanitizer build).
 */
static void test_emit_null_instance_consumes(void **st)
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
    ceb_event *ev = fx_event("e", "t");
    assert_int_equal(src.host->emit(NULL, &ev, 1, NULL), CEB_EINVAL);
    ceb_event *ev2 = fx_event("e2", "t");
    assert_int_equal(src.host->emit_dead_letter(NULL, ev2, "x", NULL), CEB_EINVAL);
    fx_world_free(&w);
}

/*
 * A timer queue deadline "now + ms" must not wrap: a plugin asking for
 * UINT64_MAX ms (forever) got a timer that fired at once.
 */
static int fired;
static void never_fire(ceb_tq_node *n) { (void)n; fired++; }

static void test_timer_deadline_saturates(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    ceb_tq tq;
    assert_int_equal(ceb_tq_init(&tq, &loop), 0);
    ceb_tq_node n1, n2;
    ceb_tq_node_init(&n1, never_fire);
    ceb_tq_node_init(&n2, never_fire);
    uv_update_time(&loop);
    fired = 0;
    assert_int_equal(ceb_tq_add(&tq, &n1, UINT64_MAX), 0);
    assert_int_equal(ceb_tq_add(&tq, &n2, UINT64_MAX - 1), 0);
    for (int i = 0; i < 8; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(fired, 0);
    assert_true(ceb_tq_active(&n1) && ceb_tq_active(&n2));
    ceb_tq_close(&tq, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retired_sink_with_orphaned_attempt_stops),
        cmocka_unit_test(test_reload_raising_max_inflight_resumes),
        cmocka_unit_test(test_failed_reload_leaves_limits),
        cmocka_unit_test(test_dead_letter_after_dlq_replaced),
        cmocka_unit_test(test_dead_letter_after_dlq_removed),
        cmocka_unit_test(test_emit_racing_reload_is_not_dead_lettered),
        cmocka_unit_test(test_complete_races_timeout),
        cmocka_unit_test(test_emit_null_instance_consumes),
        cmocka_unit_test(test_timer_deadline_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
