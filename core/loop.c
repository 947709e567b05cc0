#include "loop.h"

#include <stddef.h>
#include <stdlib.h>
#include <cebridge/errors.h>

/* ---- cross-thread queue ---------------------------------------------- */

/* Run the nodes queued now; nodes they push run on a later iteration, so a
   callback that posts again cannot starve the loop. Returns true if the
   queue was not empty. */
static bool xq_run_once(ceb_xq *q)
{
    uv_mutex_lock(&q->mu);
    ceb_xq_node *n = q->head;
    q->head = q->tail = NULL;
    uv_mutex_unlock(&q->mu);
    if (n == NULL)
        return false;
    while (n != NULL) {
        ceb_xq_node *next = n->next;
        n->next = NULL;
        n->run(n);
        n = next;
    }
    return true;
}

void ceb_xq_drain(ceb_xq *q)
{
    if (!xq_run_once(q))
        return;
    uv_mutex_lock(&q->mu);
    if (q->head != NULL && q->open)
        uv_async_send(&q->async);
    uv_mutex_unlock(&q->mu);
}

static void xq_async_cb(uv_async_t *a)
{
    ceb_xq_drain((ceb_xq *)a->data);
}

int ceb_xq_init(ceb_xq *q, uv_loop_t *loop)
{
    q->head = q->tail = NULL;
    q->loop_thread = uv_thread_self();
    int rc = uv_mutex_init(&q->mu);
    if (rc != 0)
        return rc;
    rc = uv_async_init(loop, &q->async, xq_async_cb);
    if (rc != 0) {
        uv_mutex_destroy(&q->mu);
        return rc;
    }
    q->async.data = q;
    q->open = true;
    return 0;
}

int ceb_xq_push(ceb_xq *q, ceb_xq_node *node)
{
    node->next = NULL;
    uv_mutex_lock(&q->mu);
    if (!q->open) {
        uv_mutex_unlock(&q->mu);
        return CEB_ESHUTDOWN;
    }
    if (q->tail != NULL)
        q->tail->next = node;
    else
        q->head = node;
    q->tail = node;
    /* Sent under the lock so close() cannot free the handle in between. */
    uv_async_send(&q->async);
    uv_mutex_unlock(&q->mu);
    return 0;
}

bool ceb_xq_on_loop(const ceb_xq *q)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &q->loop_thread) != 0;
}

static void xq_closed(uv_handle_t *h)
{
    ceb_xq *q = (ceb_xq *)(void *)((char *)h - offsetof(ceb_xq, async));
    uv_close_cb cb = q->close_cb;
    /* pushes until now got CEB_ESHUTDOWN; the mutex goes with the handle */
    uv_mutex_destroy(&q->mu);
    if (cb != NULL)
        cb(h);
}

void ceb_xq_close(ceb_xq *q, uv_close_cb cb)
{
    uv_mutex_lock(&q->mu);
    q->open = false;
    uv_mutex_unlock(&q->mu);
    while (xq_run_once(q))
        ;
    q->close_cb = cb;
    uv_close((uv_handle_t *)&q->async, xq_closed);
}

/* ---- timer queue ------------------------------------------------------ */

static bool tq_less(const ceb_tq_node *a, const ceb_tq_node *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void tq_set(ceb_tq *tq, size_t i, ceb_tq_node *n)
{
    tq->heap[i] = n;
    n->idx = i;
}

static void tq_up(ceb_tq *tq, size_t i)
{
    ceb_tq_node *n = tq->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!tq_less(n, tq->heap[p]))
            break;
        tq_set(tq, i, tq->heap[p]);
        i = p;
    }
    tq_set(tq, i, n);
}

static void tq_down(ceb_tq *tq, size_t i)
{
    ceb_tq_node *n = tq->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ceb_tq_node *best = n;
        if (l < tq->n && tq_less(tq->heap[l], best)) {
            m = l;
            best = tq->heap[l];
        }
        if (r < tq->n && tq_less(tq->heap[r], best))
            m = r;
        if (m == i)
            break;
        tq_set(tq, i, tq->heap[m]);
        i = m;
    }
    tq_set(tq, i, n);
}

static void tq_timer_cb(uv_timer_t *t);
static void tq_idle_cb(uv_idle_t *h);

static void tq_rearm(ceb_tq *tq)
{
    if (tq->n == 0) {
        if (tq->armed != UINT64_MAX) {
            uv_timer_stop(&tq->timer);
            tq->armed = UINT64_MAX;
        }
        return;
    }
    uint64_t due = tq->heap[0]->due;
    if (due == tq->armed)
        return;
    uint64_t now = uv_now(tq->timer.loop);
    uv_timer_start(&tq->timer, tq_timer_cb, due > now ? due - now : 0, 0);
    tq->armed = due;
}

/* Fire what is due and was queued before this pass. A node a callback
   (re)adds, even for 0 ms, waits for the next loop iteration (the idle
   handle makes that iteration come without blocking), so a 0 ms timer
   cannot starve the loop. */
static void tq_fire(ceb_tq *tq)
{
    tq->armed = UINT64_MAX;
    uint64_t now = uv_now(tq->timer.loop);
    uint64_t limit = tq->seq;
    while (tq->n > 0 && tq->heap[0]->due <= now && tq->heap[0]->seq < limit) {
        ceb_tq_node *n = tq->heap[0];
        ceb_tq_remove(tq, n);
        n->fn(n);
    }
    if (tq->n > 0 && tq->heap[0]->due <= now) {
        if (tq->armed != UINT64_MAX) {
            uv_timer_stop(&tq->timer);
            tq->armed = UINT64_MAX;
        }
        if (!uv_is_active((uv_handle_t *)&tq->idle))
            uv_idle_start(&tq->idle, tq_idle_cb);
        return;
    }
    uv_idle_stop(&tq->idle);
    tq_rearm(tq);
}

static void tq_timer_cb(uv_timer_t *t)
{
    tq_fire(t->data);
}

static void tq_idle_cb(uv_idle_t *h)
{
    tq_fire(h->data);
}

int ceb_tq_init(ceb_tq *tq, uv_loop_t *loop)
{
    tq->heap = NULL;
    tq->n = tq->cap = 0;
    tq->seq = 0;
    tq->armed = UINT64_MAX;
    int rc = uv_timer_init(loop, &tq->timer);
    if (rc != 0)
        return rc;
    rc = uv_idle_init(loop, &tq->idle);
    if (rc != 0) {
        uv_close((uv_handle_t *)&tq->timer, NULL);
        return rc;
    }
    tq->timer.data = tq;
    tq->idle.data = tq;
    return 0;
}

void ceb_tq_node_init(ceb_tq_node *n, ceb_tq_fn fn)
{
    n->due = 0;
    n->seq = 0;
    n->idx = SIZE_MAX;
    n->fn = fn;
}

bool ceb_tq_active(const ceb_tq_node *n)
{
    return n->idx != SIZE_MAX;
}

int ceb_tq_add(ceb_tq *tq, ceb_tq_node *n, uint64_t ms)
{
    if (ceb_tq_active(n))
        ceb_tq_remove(tq, n);
    if (tq->n == tq->cap) {
        size_t cap = tq->cap ? tq->cap * 2 : 64;
        ceb_tq_node **h = realloc(tq->heap, cap * sizeof(*h));
        if (h == NULL)
            return CEB_ENOMEM;
        tq->heap = h;
        tq->cap = cap;
    }
    uint64_t now = uv_now(tq->timer.loop);
    n->due = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;   /* never wraps to "due now" */
    n->seq = tq->seq++;
    tq_set(tq, tq->n++, n);
    tq_up(tq, n->idx);
    tq_rearm(tq);
    return 0;
}

void ceb_tq_remove(ceb_tq *tq, ceb_tq_node *n)
{
    if (!ceb_tq_active(n))
        return;
    size_t i = n->idx;
    n->idx = SIZE_MAX;
    tq->n--;
    if (i != tq->n) {
        tq_set(tq, i, tq->heap[tq->n]);
        tq_down(tq, i);
        tq_up(tq, tq->heap[i]->idx);
    }
    tq_rearm(tq);
}

size_t ceb_tq_count(const ceb_tq *tq)
{
    return tq->n;
}

static void tq_closed(uv_handle_t *h)
{
    ceb_tq *tq = h->data;
    if (--tq->closing == 0 && tq->close_cb != NULL)
        tq->close_cb((uv_handle_t *)&tq->timer);
}

void ceb_tq_close(ceb_tq *tq, uv_close_cb cb)
{
    for (size_t i = 0; i < tq->n; i++)
        tq->heap[i]->idx = SIZE_MAX;
    tq->n = 0;
    free(tq->heap);
    tq->heap = NULL;
    tq->cap = 0;
    tq->close_cb = cb;
    tq->closing = 2;
    uv_close((uv_handle_t *)&tq->timer, tq_closed);
    uv_close((uv_handle_t *)&tq->idle, tq_closed);
}

/* ---- signals ---------------------------------------------------------- */

static void sig_cb(uv_signal_t *h, int signum)
{
    ceb_sigs *s = h->data;
    s->fn(s->arg, signum);
}

static void sig_close_cb(uv_handle_t *h)
{
    ceb_sigs *s = h->data;
    s->open--;
}

int ceb_sigs_init(ceb_sigs *s, uv_loop_t *loop, ceb_sig_fn fn, void *arg)
{
    s->fn = fn;
    s->arg = arg;
    s->open = 0;
    uv_signal_t *hs[3] = { &s->term, &s->intr, &s->hup };
    int nums[3] = { SIGTERM, SIGINT, SIGHUP };
    for (int i = 0; i < 3; i++) {
        int rc = uv_signal_init(loop, hs[i]);
        if (rc == 0) {
            hs[i]->data = s;
            s->open++;
            rc = uv_signal_start(hs[i], sig_cb, nums[i]);
        }
        if (rc != 0) {
            for (int j = 0; j < s->open; j++)
                uv_close((uv_handle_t *)hs[j], sig_close_cb);
            return rc;
        }
    }
    return 0;
}

void ceb_sigs_close(ceb_sigs *s)
{
    uv_signal_t *hs[3] = { &s->term, &s->intr, &s->hup };
    for (int i = 0; i < 3; i++)
        if (!uv_is_closing((uv_handle_t *)hs[i]))
            uv_close((uv_handle_t *)hs[i], sig_close_cb);
}
