/* The object pool of core/runtime.c (ceb__pool) on its own, and the
   delivery records and attempts drawn from it with more in flight than one
   slab holds: retries, timeouts with late completes, reuse across batches,
   every object back in the pool at the end. */
#include "core_fixture.h"

static const char *const TO_A[] = { "a", NULL };

static void test_pool_slabs_and_reuse(void **st)
{
    (void)st;
    ceb__pool p;
    ceb__pool_init(&p, 3);   /* smaller than a pointer: rounded up */
    assert_true(p.size >= sizeof(void *));
    assert_int_equal(p.size % _Alignof(max_align_t), 0);
    enum { N = 3 * CEB__POOL_SLAB + 1 };
    void *o[N];
    for (size_t i = 0; i < N; i++) {
        o[i] = ceb__pool_get(&p);
        assert_non_null(o[i]);
        assert_int_equal((uintptr_t)o[i] % _Alignof(max_align_t), 0);
        memset(o[i], (int)i, p.size);   /* the whole object is usable */
        for (size_t j = 0; j < i; j++)
            assert_ptr_not_equal(o[i], o[j]);
    }
    assert_int_equal(p.live, N);
    assert_int_equal(p.capacity, 4 * CEB__POOL_SLAB);   /* a slab ran out: a new one */
    /* the contents survive while handed out */
    for (size_t i = 0; i < N; i++)
        assert_int_equal(((unsigned char *)o[i])[p.size - 1], (unsigned char)i);
    ceb__pool_put(&p, NULL);   /* ignored */
    for (size_t i = 0; i < N; i++)
        ceb__pool_put(&p, o[i]);
    assert_int_equal(p.live, 0);
    /* reuse: the last one put comes back first, and the pool does not grow */
    void *again = ceb__pool_get(&p);
    assert_ptr_equal(again, o[N - 1]);
    ceb__pool_put(&p, again);
    for (size_t i = 0; i < N; i++)
        assert_non_null(o[i] = ceb__pool_get(&p));
    assert_int_equal(p.capacity, 4 * CEB__POOL_SLAB);
    /* the bump room of the last slab is used before a new slab */
    for (size_t i = N; i < 4 * CEB__POOL_SLAB; i++)
        assert_non_null(ceb__pool_get(&p));
    assert_int_equal(p.capacity, 4 * CEB__POOL_SLAB);
    assert_non_null(ceb__pool_get(&p));
    assert_int_equal(p.capacity, 5 * CEB__POOL_SLAB);
    ceb__pool_destroy(&p);   /* with objects still out: all of it goes */
    assert_int_equal(p.capacity, 0);
    assert_int_equal(p.live, 0);
    ceb__pool_destroy(&p);   /* twice is harmless */
}

static void setup1(fx_world *w, fx_src_cfg *src, fx_sink_cfg *a, ceb_conf_retry retry)
{
    fx_world_init(w);
    ceb_conf *c = fx_conf_new();
    fx_add_source(c, "in", src);
    fx_add_sink(c, "a", a, 0);
    ceb_conf_route *r = fx_add_route(c, "r", "in", TO_A, NULL, NULL);
    r->retry = retry;
    assert_int_equal(ceb_runtime_apply(w->rt, c, NULL), 0);
}

/* One message of n events. */
static int emit_batch(fx_src_cfg *s, size_t n, void *token)
{
    ceb_event *evs[FX_MAX];
    assert_true(n <= FX_MAX);
    for (size_t i = 0; i < n; i++) {
        char id[24]; /* "e" + any size_t: -Wformat-truncation in Release */
        snprintf(id, sizeof(id), "e%zu", i);
        evs[i] = fx_event(id, "t");
    }
    int rc = s->host->emit(s->inst, evs, n, token);
    if (rc == 0)
        s->open++;
    return rc;
}

/* 200 events in flight at once (over three slabs), 150 of them retried once:
   exact counts, one ack, every record and attempt back in the pool, and a
   second batch reuses them without growing it. */
static void test_pool_retries_over_slabs(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_FAIL_N, .fail_n = 150, .err = CEB_ECONNREFUSED };
    ceb_conf_retry rp = { .attempts = 2, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 0 };
    setup1(&w, &src, &a, rp);
    assert_int_equal(emit_batch(&src, 200, NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], 0);
    assert_int_equal(a.deliveries, 350);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "retry"), 150);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "ok"), 200);
    assert_int_equal((int)fx_metric(&w, w.rt->m_retries, "a", NULL), 150);
    assert_int_equal((int)fx_metric(&w, w.rt->m_latency, "a", NULL), 200);
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 0);
    assert_int_equal(w.rt->recs.live, 0);
    assert_int_equal(w.rt->atts.live, 0);
    size_t rcap = w.rt->recs.capacity, acap = w.rt->atts.capacity;
    assert_true(rcap >= 200);
    assert_int_equal(emit_batch(&src, 200, NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 2);
    assert_int_equal(src.ack_status[1], 0);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "ok"), 400);
    assert_int_equal((int)fx_metric(&w, w.rt->m_latency, "a", NULL), 400);
    assert_int_equal(w.rt->recs.capacity, rcap);
    assert_int_equal(w.rt->atts.capacity, acap);
    assert_int_equal(w.rt->recs.live, 0);
    assert_int_equal(w.rt->atts.live, 0);
    fx_world_free(&w);
}

/* 100 held attempts time out: the records go back to the pool at the nack,
   the orphaned attempts only at their late complete(). */
static void test_pool_timeouts_and_late_completes(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf_retry rp = { .attempts = 1, .timeout_ms = 5 };
    setup1(&w, &src, &a, rp);
    assert_int_equal(emit_batch(&src, 100, NULL), 0);
    FX_RUN_UNTIL(&w, src.nacks == 1);
    assert_int_equal(src.ack_status[0], CEB_ETIMEDOUT);
    assert_int_equal(a.nheld, 100);
    assert_int_equal(w.rt->recs.live, 0);
    assert_int_equal(w.rt->atts.live, 100);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "timeout"), 100);
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 100);
    for (int i = 0; i < 100; i++)
        fx_sink_release(&a, i, CEB_OUTCOME_OK, 0);
    fx_settle(&w);
    assert_int_equal(w.rt->atts.live, 0);
    assert_int_equal(src.nacks, 1);
    assert_int_equal((int)fx_metric(&w, w.rt->m_inflight, "a", NULL), 0);
    assert_int_equal((int)fx_metric(&w, w.rt->m_deliveries, "a", "ok"), 100);
    assert_int_equal((int)fx_metric(&w, w.rt->m_latency, "a", NULL), 0);
    fx_world_free(&w);
}

/* Held attempts cancelled by the drain deadline: records dropped, attempts
   orphaned until the sink's stop() completes them; nothing left behind. */
static void test_pool_cancel_at_shutdown(void **st)
{
    (void)st;
    fx_world w;
    fx_src_cfg src = {0};
    fx_sink_cfg a = { .mode = SINK_HOLD };
    ceb_conf_retry rp = { .attempts = 1 };
    setup1(&w, &src, &a, rp);
    assert_int_equal(emit_batch(&src, 70, NULL), 0);
    FX_RUN_UNTIL(&w, a.nheld == 70);
    assert_int_equal(w.rt->recs.live, 70);
    assert_int_equal(w.rt->atts.live, 70);
    fx_world_shutdown(&w, 5);
    assert_true(a.stopped);
    assert_int_equal(w.rt->recs.live, 0);
    assert_int_equal(w.rt->atts.live, 0);
    fx_world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_slabs_and_reuse),
        cmocka_unit_test(test_pool_retries_over_slabs),
        cmocka_unit_test(test_pool_timeouts_and_late_completes),
        cmocka_unit_test(test_pool_cancel_at_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
