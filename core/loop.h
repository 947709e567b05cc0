#ifndef CEB_CORE_LOOP_H
#define CEB_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * Loop plumbing of the core (STYLE §9.7):
 *
 *   ceb_xq   the cross-thread queue: many producers, the loop as the only
 *            consumer. A mutex, an intrusive singly linked list and one
 *            uv_async_t. Producers push then uv_async_send(); sends coalesce,
 *            so the async callback swaps the whole list out under the lock
 *            and runs every node in push order.
 *   ceb_tq   a timer queue: many one-shot deadlines on ONE uv_timer_t (an
 *            indexed binary heap), so retries and per-attempt timeouts cost
 *            no handle, no close callback and no allocation per event.
 *   ceb_sigs SIGTERM/SIGINT/SIGHUP as uv_signal_t handles (no globals).
 *
 * Ownership: every struct here is embedded by its owner; nodes belong to
 * their owner and must stay valid while queued.
 */

/* ---- cross-thread queue ---------------------------------------------- */

typedef struct ceb_xq_node ceb_xq_node;
typedef void (*ceb_xq_run_fn)(ceb_xq_node *node);
struct ceb_xq_node {
    ceb_xq_node *next;
    ceb_xq_run_fn run;   /* called on the loop thread; may free the node */
};

typedef struct ceb_xq {
    uv_async_t async;
    uv_mutex_t mu;
    ceb_xq_node *head, *tail;
    uv_thread_t loop_thread;
    bool open;
    uv_close_cb close_cb;
} ceb_xq;

/*
 * Initialise on `loop`; the calling thread becomes "the loop thread".
 * Returns 0 or a libuv error. Thread: the loop thread.
 */
int  ceb_xq_init(ceb_xq *q, uv_loop_t *loop);
/*
 * Queue `node` (its `run` set by the caller) to run on the loop thread.
 * Returns 0, or CEB_ESHUTDOWN once the queue is closed (node not queued).
 * Thread: any.
 */
int  ceb_xq_push(ceb_xq *q, ceb_xq_node *node);
/* True when called on the loop thread. Thread: any. */
bool ceb_xq_on_loop(const ceb_xq *q);
/* Run whatever is queued now (the async callback does the same); nodes pushed
   meanwhile run on a later loop iteration. Loop thread. */
void ceb_xq_drain(ceb_xq *q);
/*
 * Refuse further pushes (CEB_ESHUTDOWN until `cb` runs; the struct must not
 * be touched after that), run what is still queued, close the async handle.
 * `cb` (may be NULL) is the handle's close callback. Loop thread.
 */
void ceb_xq_close(ceb_xq *q, uv_close_cb cb);

/* ---- timer queue ------------------------------------------------------ */

typedef struct ceb_tq_node ceb_tq_node;
typedef void (*ceb_tq_fn)(ceb_tq_node *node);
struct ceb_tq_node {
    uint64_t due;        /* uv_now() based, ms */
    uint64_t seq;        /* FIFO among equal deadlines */
    size_t idx;          /* position in the heap; SIZE_MAX when not queued */
    ceb_tq_fn fn;        /* called once when due; the node is already removed */
};

typedef struct ceb_tq {
    uv_timer_t timer;
    uv_idle_t idle;      /* due work re-added during a pass runs next iteration */
    uv_close_cb close_cb;
    int closing;
    ceb_tq_node **heap;
    size_t n, cap;
    uint64_t seq;
    uint64_t armed;      /* due the uv timer is armed for, UINT64_MAX = none */
} ceb_tq;

/* Loop thread only. Returns 0 or a libuv error. */
int  ceb_tq_init(ceb_tq *tq, uv_loop_t *loop);
/* Mark a node as not queued (call once before first use). */
void ceb_tq_node_init(ceb_tq_node *n, ceb_tq_fn fn);
bool ceb_tq_active(const ceb_tq_node *n);
/* Queue `n` to fire after `ms` (re-queues if already active). 0 or CEB_ENOMEM. */
int  ceb_tq_add(ceb_tq *tq, ceb_tq_node *n, uint64_t ms);
/* Dequeue `n` if queued (then its fn never runs). */
void ceb_tq_remove(ceb_tq *tq, ceb_tq_node *n);
size_t ceb_tq_count(const ceb_tq *tq);
/* Close the handles; nodes still queued are dropped (never fire). `cb` runs
   once, with the timer handle, when both handles are closed. */
void ceb_tq_close(ceb_tq *tq, uv_close_cb cb);

/* ---- signals ---------------------------------------------------------- */

typedef void (*ceb_sig_fn)(void *arg, int signum);
typedef struct ceb_sigs {
    uv_signal_t term, intr, hup;
    ceb_sig_fn fn;
    void *arg;
    int open;            /* handles still to close */
} ceb_sigs;

/* Watch SIGTERM, SIGINT and SIGHUP; fn(arg, signum) on the loop thread.
   Returns 0 or a libuv error. */
int  ceb_sigs_init(ceb_sigs *s, uv_loop_t *loop, ceb_sig_fn fn, void *arg);
/* Close the three handles (no callback runs afterwards). Loop thread. */
void ceb_sigs_close(ceb_sigs *s);

#endif
