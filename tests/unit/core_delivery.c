/* core/delivery.c: backoff schedule and jitter bounds, retries, retry_after,
   per-attempt timeout with a late complete, deliver() errors, backpressure
   pause/resume with hysteresis, drain deadline. */
#include "core_fixture.h"

static const char *const TO_A[] = { "a", NULL };

static void test_backoff_schedule(void **st)
{
    (void)st;
    ceb_conf_retry p = { .attempts = 10, .backoff = CEB_BACKOFF_EXPONENTIAL,
                         .initial_ms = 100, .max_ms = 1000 };
    uint64_t x = 12345;
    for (uint32_t next = 2; next <= 12; next++) {
        int64_t cap = 100LL << (next - 2);
        if (cap > 1000)
            cap = 1000;
        int64_t lo = INT64_MAX, hi = -1;
        for (int i = 0; i < 4000; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            int64_t d = ceb__backoff_ms(&p, next, x);
            assert_true(d >= 0 && d <= cap);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        /* full jitter spreads over the whole range */
        assert_true(lo < cap / 10);
        assert_true(hi > cap - cap / 10);
    }
    /* the edges of the random range */
    assert_int_equal(ceb__backoff_ms(&p, 2, 0), 0);
    assert_int_equal(ceb__backoff_ms(&p, 2, 100), 100);
    assert_int_equal(ceb__backoff_ms(&p, 3, 200), 200);
    assert_int_equal(ceb__backoff_ms(&p, 3, 201), 0);
    /* no overflow far out */
    int64_t d = ceb__backoff_ms(&p, 4000000000u, UINT64_MAX);
    assert_true(d >= 0 && d <= 1000);
    p.backoff = CEB_BACKOFF_LINEAR;
    assert_int_equal(ceb__backoff_ms(&p, 2, 99), 100);
    assert_int_equal(ceb__backoff_ms(&p, 4, 99), 300);
    assert_int_equal(ceb__backoff_ms(&p, 40, 99), 1000);
    assert_int_equal(ceb__backoff_ms(&p, 4000000000u, 99), 1000);
    p.backoff = CEB_BACKOFF_CONSTANT;
    assert_int_equal(ceb__backoff_ms(&p, 2, 99), 100);
    assert_int_equal(ceb__backoff_ms(&p, 9, 99), 100);
}

static void setup1(fx_world *w, fx_src_cfg *src, fx_sink_cfg *a, fx_sink_cfg *dlq,
                   uint32_t max_inflight, ceb_conf_retry retry)
{
    fx_world_init(w);
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", src);
    fx_add_sink(c, "a", a, max_inflight);
    if (dlq != NULL)
        fx_add_sink(c, "dlq", dlq, 0);
    ceb_conf_route *r = fx_add_route(c, "r", "in", TO_A, NULL, dlq ? "dlq" : NULL);
    r->retry = retry;
    assert_int_equal(ceb_runtime_apply(w->rt, c, NULL), 0);
}

static void test_retry_then_ok(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_FAIL_N, .fail_n = 2, .err = CEB_ECONNREFUSED };
    ceb_conf_retry rp = { .attempts = 3, .backoff = CEB_BACKOFF_EXPONENTIAL, .initial_ms = 2,
                          .max_ms = 5 };
    setup1(&w, &src, &a, NULL, 0, rp);
    assert_int_equal(fx_emit1(&src, "e", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(a.deliveries, 3);
    assert_int_equal(a.attempts[0], 1);
    assert_int_equal(a.attempts[1], 2);
    assert_int_equal(a.attempts[2], 3);
    assert_false(a.dlq_flag[0]);
    assert_int_equal((int)fx_metric(&w, w.rt->m_retries, "a", NULL), 2);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "retry"), 2);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "ok"), 1);
    assert_int_equal((int)fx_metric(&w, w.rt->m_latency, "a", NULL), 1);
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 0);
    fx_world_free(&w);
}

static void test_exhausted_goes_to_dead_letter(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_FAIL_N, .fail_n = 100, .err = CEB_ETIMEDOUT };
    fx_sink_cfg dlq = { .mode = SINK_OK };
    ceb_conf_retry rp = { .attempts = 2, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 1 };
    setup1(&w, &src, &a, &dlq, 0, rp);
    assert_int_equal(fx_emit1(&src, "e", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(a.deliveries, 2);
    assert_int_equal(dlq.deliveries, 1);
    assert_true(dlq.dlq_flag[0]);
    assert_int_equal(dlq.attempts[0], 1);
    assert_string_equal(ceb_event_get(dlq.seen[0], "cebdlqattempts"), "2");
    assert_string_equal(ceb_event_get(dlq.seen[0], "cebdlqreason"), "operation timed out");
    fx_world_free(&w);
}

static void test_retry_after_is_a_minimum(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_FAIL_N, .fail_n = 1, .err = CEB_EAGAIN,
                      .retry_after_ms = 30, .detail = "HTTP 429" };
    ceb_conf_retry rp = { .attempts = 3, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 0 };
    setup1(&w, &src, &a, NULL, 0, rp);
    assert_int_equal(fx_emit1(&src, "e", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(a.deliveries, 2);
    /* libuv timers never fire early: a lower bound on the loop clock */
    assert_true(a.at_ms[1] - a.at_ms[0] >= 30);
    assert_true(fx_log_contains(&w, "attempt 1 failed (HTTP 429); retry in 30 ms"));
    fx_world_free(&w);
}

static void test_retry_after_capped_by_retry_max(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_FAIL_N, .fail_n = 1, .err = CEB_EAGAIN,
                      .retry_after_ms = 3600000, .detail = "HTTP 503" };
    ceb_conf_retry rp = { .attempts = 3, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 1,
                          .max_ms = 20 };
    setup1(&w, &src, &a, NULL, 0, rp);
    assert_int_equal(fx_emit1(&src, "e", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);     /* an hour would outlast FX_RUN_UNTIL's deadline */
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(a.deliveries, 2);
    assert_true(a.at_ms[1] - a.at_ms[0] >= 20);
    assert_true(fx_log_contains(&w, "Retry-After of 3600000 ms capped at retry.max (20 ms)"));
    assert_true(fx_log_contains(&w, "attempt 1 failed (HTTP 503); retry in 20 ms"));
    fx_world_free(&w);
}

static void test_deliver_error_classification(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_DELIVER_ERR, .err = CEB_E2BIG };
    fx_sink_cfg dlq = { .mode = SINK_OK };
    ceb_conf_retry rp = { .attempts = 4, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 1 };
    setup1(&w, &src, &a, &dlq, 0, rp);
    assert_int_equal(fx_emit1(&src, "e", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(a.deliveries, 1);          /* E2BIG is permanent */
    assert_string_equal(ceb_event_get(dlq.seen[0], "cebdlqreason"), "too large");
    a.err = CEB_EIO;                            /* EIO is retryable */
    assert_int_equal(fx_emit1(&src, "f", "t", NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 2);
    assert_int_equal(a.deliveries, 1 + 4);
    assert_int_equal(src.ack_status[1], 0);
    assert_string_equal(ceb_event_get(dlq.seen[1], "cebdlqattempts"), "4");
    fx_world_free(&w);
}

static void test_timeout_and_late_complete(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf_retry rp = { .attempts = 3, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 0,
                          .timeout_ms = 10 };
    setup1(&w, &src, &a, NULL, 0, rp);
    assert_int_equal(fx_emit1(&src, "e", "t", NULL), 0);
    FX_RUN_UNTIL(&w, a.nheld == 2);             /* attempt 1 timed out, attempt 2 sent */
    assert_int_equal(a.attempts[1], 2);
    assert_int_equal(src.nacks, 0);
    assert_true(fx_log_contains(&w, "attempt 1 failed (attempt timed out after 10 ms)"));
    /* the timed-out attempt is still in flight (its ceb_delivery valid) */
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 2);
    fx_sink_release(&a, 1, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], 0);
    /* the late complete of attempt 1 is accepted and ignored */
    fx_sink_release(&a, 0, CEB_OUTCOME_PERMANENT, CEB_EINVAL);
    fx_settle(&w);
    assert_int_equal(src.nacks, 1);
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 0);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "timeout"), 1);
    assert_int_equal(w.rt->nopen, 0);
    fx_world_free(&w);
}

/* Attempts with one timeout share a FIFO lane with one timer node: when the
   first completes early, the node fires at its old deadline, finds nothing
   due and re-arms for the next; the next still times out on time, and an
   attempt completed in time never does. */
static void test_timeout_lane_after_head_completes(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf_retry rp = { .attempts = 1, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 0,
                          .timeout_ms = 30 };
    setup1(&w, &src, &a, NULL, 0, rp);
    assert_int_equal(fx_emit1(&src, "e1", "t", NULL), 0);
    FX_RUN_UNTIL(&w, a.nheld == 1);
    uv_sleep(15);                               /* e2 starts later than e1 */
    assert_int_equal(fx_emit1(&src, "e2", "t", NULL), 0);
    assert_int_equal(fx_emit1(&src, "e3", "t", NULL), 0);
    FX_RUN_UNTIL(&w, a.nheld == 3);
    fx_sink_release(&a, 0, CEB_OUTCOME_OK, 0);  /* the lane's head, in time */
    fx_sink_release(&a, 2, CEB_OUTCOME_OK, 0);  /* its tail, in time */
    FX_RUN_UNTIL(&w, src.nacks == 3);           /* e2 timed out (1 attempt: nacked) */
    int ok = 0, failed = 0;
    for (int i = 0; i < 3; i++)
        src.ack_status[i] == 0 ? ok++ : failed++;
    assert_int_equal(ok, 2);
    assert_int_equal(failed, 1);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "timeout"), 1);
    fx_sink_release(&a, 1, CEB_OUTCOME_OK, 0);  /* late: ignored */
    fx_settle(&w);
    assert_int_equal(src.nacks, 3);
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 0);
    assert_int_equal(w.rt->nopen, 0);
    fx_world_free(&w);
}

static void test_backpressure_hysteresis(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf_retry rp = { .attempts = 1 };
    setup1(&w, &src, &a, NULL, 4, rp);
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        assert_int_equal(fx_emit1(&src, id, "t", NULL), 0);   /* emit never refuses */
    }
    FX_RUN_UNTIL(&w, src.pauses == 1);
    assert_int_equal(a.nheld, 4);               /* bounded in flight; 2 wait */
    for (int i = 0; i < 4; i++)
        fx_sink_release(&a, i, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, a.nheld == 6);
    fx_settle(&w);
    /* load 2 of 4: not below half yet */
    assert_int_equal(src.resumes, 0);
    fx_sink_release(&a, 4, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, src.resumes == 1);
    assert_int_equal(src.pauses, 1);
    fx_sink_release(&a, 5, CEB_OUTCOME_OK, 0);
    FX_RUN_UNTIL(&w, src.nacks == 6);
    fx_world_free(&w);
}

static void test_drain_deadline_nacks(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = { .stop_waits_for_acks = true };
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf_retry rp = { .attempts = 1 };
    setup1(&w, &src, &a, NULL, 0, rp);
    assert_int_equal(fx_emit1(&src, "e1", "t", (void *)1), 0);
    assert_int_equal(fx_emit1(&src, "e2", "t", (void *)2), 0);
    FX_RUN_UNTIL(&w, a.nheld == 2);
    fx_sink_release(&a, 0, CEB_OUTCOME_OK, 0);   /* e1 completes within the drain */
    fx_world_shutdown(&w, 20);
    assert_int_equal(w.shut_status, 0);
    assert_int_equal(src.nacks, 2);
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(src.ack_status[1], CEB_ECANCELED);
    assert_true(src.stopped && src.destroyed);
    assert_true(a.stopped);
    assert_true(fx_log_contains(&w, "drain timeout: 1 message(s) not acknowledged"));
    fx_world_free(&w);
}

static void test_complete_from_other_thread(void **st);

typedef struct held_arg {
    fx_sink_cfg *sink;
    int n;
} held_arg;

static void completer(void *p)
{
    held_arg *h = p;
    for (int i = 0; i < h->n; i++)
        h->sink->host->complete(h->sink->held[i], CEB_OUTCOME_OK, 0, 0, "from a thread");
}

static void test_complete_from_other_thread(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf_retry rp = { .attempts = 1 };
    setup1(&w, &src, &a, NULL, 0, rp);
    for (int i = 0; i < 50; i++)
        assert_int_equal(fx_emit1(&src, "e", "t", NULL), 0);
    FX_RUN_UNTIL(&w, a.nheld == 50);
    held_arg h = { &a, 50 };
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, completer, &h), 0);
    FX_RUN_UNTIL(&w, src.nacks == 50);
    uv_thread_join(&th);
    for (int i = 0; i < 50; i++)
        assert_int_equal(src.ack_status[i], 0);
    a.nheld = 0;
    fx_world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_retry_then_ok),
        cmocka_unit_test(test_exhausted_goes_to_dead_letter),
        cmocka_unit_test(test_retry_after_is_a_minimum),
        cmocka_unit_test(test_retry_after_capped_by_retry_max),
        cmocka_unit_test(test_deliver_error_classification),
        cmocka_unit_test(test_timeout_and_late_complete),
        cmocka_unit_test(test_timeout_lane_after_head_completes),
        cmocka_unit_test(test_backpressure_hysteresis),
        cmocka_unit_test(test_drain_deadline_nacks),
        cmocka_unit_test(test_complete_from_other_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
