/* core/loop.c: the cross-thread queue, the timer queue and signal handles. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <cebridge/errors.h>
#include "loop.h"

typedef struct item {
    ceb_xq_node node;
    int value;
    int *out;
    int *n;
} item;

static void item_run(ceb_xq_node *n)
{
    item *it = (item *)(void *)n;
    it->out[(*it->n)++] = it->value;
    free(it);
}

typedef struct prod {
    ceb_xq *q;
    int *out, *n;
    int base, count;
} prod;

static void producer(void *p)
{
    prod *pr = p;
    for (int i = 0; i < pr->count; i++) {
        item *it = malloc(sizeof(*it));
        it->node.run = item_run;
        it->value = pr->base + i;
        it->out = pr->out;
        it->n = pr->n;
        assert_int_equal(ceb_xq_push(pr->q, &it->node), 0);
    }
}

static void test_xq_threads(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    ceb_xq q;
    assert_int_equal(ceb_xq_init(&q, &loop), 0);
    assert_true(ceb_xq_on_loop(&q));
    static int out[2000];
    int n = 0;
    prod p1 = { &q, out, &n, 0, 1000 }, p2 = { &q, out, &n, 10000, 1000 };
    uv_thread_t t1, t2;
    assert_int_equal(uv_thread_create(&t1, producer, &p1), 0);
    assert_int_equal(uv_thread_create(&t2, producer, &p2), 0);
    for (int i = 0; i < 100000 && n < 2000; i++)
        uv_run(&loop, UV_RUN_ONCE);   /* sends coalesce: fewer callbacks than items */
    uv_thread_join(&t1);
    uv_thread_join(&t2);
    ceb_xq_drain(&q);
    assert_int_equal(n, 2000);
    /* each producer's items run in push order */
    int last1 = -1, last2 = 9999;
    for (int i = 0; i < n; i++) {
        if (out[i] < 10000) {
            assert_true(out[i] > last1);
            last1 = out[i];
        } else {
            assert_true(out[i] > last2);
            last2 = out[i];
        }
    }
    ceb_xq_close(&q, NULL);
    item dummy = { .node.run = item_run };
    assert_int_equal(ceb_xq_push(&q, &dummy.node), CEB_ESHUTDOWN);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct tnode {
    ceb_tq_node node;
    int id;
    int *order, *n;
} tnode;

static void tnode_fire(ceb_tq_node *n)
{
    tnode *t = (tnode *)(void *)n;
    t->order[(*t->n)++] = t->id;
}

static void test_tq_order_and_remove(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    ceb_tq tq;
    assert_int_equal(ceb_tq_init(&tq, &loop), 0);
    int order[16], n = 0;
    tnode t[8];
    uint64_t delays[8] = { 30, 10, 20, 10, 0, 50, 40, 5 };
    for (int i = 0; i < 8; i++) {
        t[i].id = i;
        t[i].order = order;
        t[i].n = &n;
        ceb_tq_node_init(&t[i].node, tnode_fire);
        assert_false(ceb_tq_active(&t[i].node));
        assert_int_equal(ceb_tq_add(&tq, &t[i].node, delays[i]), 0);
    }
    assert_int_equal(ceb_tq_count(&tq), 8);
    ceb_tq_remove(&tq, &t[2].node);     /* 20 ms: never fires */
    ceb_tq_remove(&tq, &t[2].node);     /* idempotent */
    assert_int_equal(ceb_tq_add(&tq, &t[6].node, 1), 0);   /* re-queue earlier */
    while (ceb_tq_count(&tq) > 0)
        uv_run(&loop, UV_RUN_ONCE);
    int expect[] = { 4, 6, 7, 1, 3, 0, 5 };  /* by deadline, FIFO among equals */
    assert_int_equal(n, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(order[i], expect[i]);
    ceb_tq_close(&tq, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A 0 ms timer (or a post) that re-arms itself runs once per loop
   iteration instead of starving the loop. */
typedef struct rearm {
    ceb_tq_node node;
    ceb_tq *tq;
    int count;
} rearm;

static void rearm_fire(ceb_tq_node *n)
{
    rearm *r = (rearm *)(void *)n;
    if (++r->count < 5)
        assert_int_equal(ceb_tq_add(r->tq, &r->node, 0), 0);
}

typedef struct repost {
    ceb_xq_node node;
    ceb_xq *q;
    int count;
} repost;

static void repost_run(ceb_xq_node *n)
{
    repost *r = (repost *)(void *)n;
    if (++r->count < 5)
        assert_int_equal(ceb_xq_push(r->q, &r->node), 0);
}

static void test_zero_ms_rearm_does_not_starve(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    ceb_tq tq;
    assert_int_equal(ceb_tq_init(&tq, &loop), 0);
    rearm r = { .tq = &tq };
    ceb_tq_node_init(&r.node, rearm_fire);
    assert_int_equal(ceb_tq_add(&tq, &r.node, 0), 0);
    ceb_xq q;
    assert_int_equal(ceb_xq_init(&q, &loop), 0);
    repost p = { .node.run = repost_run, .q = &q };
    assert_int_equal(ceb_xq_push(&q, &p.node), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    /* at most the timer phase and the idle phase of one iteration */
    assert_true(r.count >= 1 && r.count <= 2);
    assert_int_equal(p.count, 1);
    for (int i = 0; i < 100 && (r.count < 5 || p.count < 5); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.count, 5);
    assert_int_equal(p.count, 5);
    ceb_tq_close(&tq, NULL);
    ceb_xq_close(&q, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_sig(void *arg, int signum)
{
    *(int *)arg = signum;
}

static void test_signals(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    ceb_sigs s;
    int got = 0;
    assert_int_equal(ceb_sigs_init(&s, &loop, on_sig, &got), 0);
    raise(SIGHUP);
    for (int i = 0; i < 1000 && got == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(got, SIGHUP);
    got = 0;
    raise(SIGTERM);
    for (int i = 0; i < 1000 && got == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(got, SIGTERM);
    ceb_sigs_close(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(s.open, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xq_threads),
        cmocka_unit_test(test_tq_order_and_remove),
        cmocka_unit_test(test_zero_ms_rearm_does_not_starve),
        cmocka_unit_test(test_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
