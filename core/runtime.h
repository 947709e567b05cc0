#ifndef CEB_CORE_RUNTIME_H
#define CEB_CORE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <cebridge/host.h>
#include "config.h"
#include "instance.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"

/*
 * The runtime: owns the instances and routing tables built from a ceb_conf
 * (DESIGN §4–5).
 *
 *   ceb_runtime_apply()    first start and SIGHUP reload. Unchanged
 *                          instances (same fingerprint) keep running with
 *                          their routes re-pointed; changed ones are
 *                          replaced make-before-break; removed ones are
 *                          stopped (sinks once their in-flight drained).
 *   ceb_runtime_shutdown() sources stop (no new input), in-flight work gets
 *                          until the drain deadline, what is left is
 *                          cancelled (nack), sinks stop, every stopped() is
 *                          awaited (bounded), instances are destroyed.
 *   idle                   every source called source_ended() and nothing is
 *                          in flight: the on_idle callback runs once.
 *
 * Thread: loop thread only. Ownership: the runtime is the caller's; free it
 * with ceb_runtime_free() after shutdown completed, then run the loop until
 * the close callbacks ran.
 */
typedef struct ceb_runtime ceb_runtime;
typedef void (*ceb_runtime_cb)(ceb_runtime *rt, void *arg, int status);

typedef struct ceb_runtime_opts {
    uv_loop_t *loop;
    ceb_log *log;                        /* borrowed */
    ceb_metrics *metrics;                /* borrowed */
    uint64_t seed;                       /* jitter RNG seed; 0 = from time and pid */
    void (*conf_free)(ceb_conf *conf);   /* NULL = ceb_conf_free (tests pass their own) */
} ceb_runtime_opts;

/* Returns 0, CEB_EINVAL, CEB_ENOMEM or a libuv error. */
int  ceb_runtime_new(const ceb_runtime_opts *opts, ceb_runtime **out);

/*
 * Make `conf` the running configuration. Consumes `conf` (freed with
 * opts.conf_free once no instance or route uses it), on success and error.
 * On error (create/start of a new instance failed) the previous
 * configuration keeps running untouched and `d` says what failed
 * ("sinks.out: create failed: ..."). Returns 0, CEB_ESHUTDOWN, CEB_ENOMEM,
 * or the instance's error.
 */
int  ceb_runtime_apply(ceb_runtime *rt, ceb_conf *conf, ceb_diag *d);

/* Called once when the runtime goes idle (see above). */
void ceb_runtime_on_idle(ceb_runtime *rt, ceb_runtime_cb cb, void *arg);
bool ceb_runtime_is_idle(const ceb_runtime *rt);

/*
 * Drain and stop everything; `cb(rt, arg, status)` runs once when every
 * instance stopped and was destroyed (status 0), or when the stop deadline
 * passed with instances that never called stopped() (status CEB_ETIMEDOUT;
 * those are left undestroyed and logged). Returns 0 or CEB_ESHUTDOWN when
 * already shutting down.
 */
int  ceb_runtime_shutdown(ceb_runtime *rt, int64_t drain_ms, ceb_runtime_cb cb, void *arg);
bool ceb_runtime_shutting_down(const ceb_runtime *rt);

/* Close the runtime's handles and free it. After shutdown's callback. */
void ceb_runtime_free(ceb_runtime *rt);

/* The instance named `name` of `role` in the current configuration, or NULL. */
ceb_instance *ceb_runtime_find(ceb_runtime *rt, ceb_role role, const char *name);
/* Messages emitted and not yet acknowledged. */
size_t ceb_runtime_open_messages(const ceb_runtime *rt);
/* Push buffered counters into the metrics registry. */
void ceb_runtime_flush_metrics(ceb_runtime *rt);
/* The host table instances get (host.c). */
const ceb_host *ceb__host_table(void);

/* ---- internal (core modules only) ------------------------------------ */

struct ceb__route;
struct ceb__message;
struct ceb__record;
struct ceb__sinkq;

/*
 * A pool of fixed-size objects (delivery records, attempts) carved from
 * slabs of CEB__POOL_SLAB objects: no malloc/free per event, whatever the
 * number in flight. Freed objects go on a free list and are reused; slabs
 * are kept (memory stays at the high-water mark, which backpressure bounds
 * near max_inflight) until ceb__pool_destroy(). Under ASan a free object is
 * poisoned, so a use after put is still caught. Not thread-safe.
 */
typedef struct ceb__pool {
    size_t size;                         /* object size, rounded up for alignment */
    void *free;                          /* free objects, linked through their first word */
    char *bump, *bump_end;               /* never-used room in the newest slab */
    struct ceb__slab *slabs;
    size_t live;                         /* objects handed out and not put back */
    size_t capacity;                     /* objects in all slabs */
} ceb__pool;
#define CEB__POOL_SLAB 64

#if defined(__SANITIZE_ADDRESS__)
#define CEB__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CEB__ASAN 1
#endif
#endif
#ifdef CEB__ASAN
#include <sanitizer/asan_interface.h>
#define CEB__POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define CEB__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define CEB__POISON(p, n) ((void)(p), (void)(n))
#define CEB__UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void  ceb__pool_init(ceb__pool *p, size_t size);
/* The free list is empty: carve from the newest slab or a new one. */
void *ceb__pool_grow(ceb__pool *p);

/* An uninitialised object, or NULL when a new slab cannot be allocated.
   Inline: two per delivered event. */
static inline void *ceb__pool_get(ceb__pool *p)
{
    void *o = p->free;
    if (o == NULL)
        return ceb__pool_grow(p);
    CEB__UNPOISON(o, p->size);
    p->free = *(void **)o;
    p->live++;
    return o;
}

static inline void ceb__pool_put(ceb__pool *p, void *obj)
{
    if (obj == NULL)
        return;
    *(void **)obj = p->free;
    p->free = obj;
    p->live--;
    CEB__POISON(obj, p->size);
}
/* Free every slab; objects still handed out become invalid. */
void  ceb__pool_destroy(ceb__pool *p);

/* Attempts whose timeout is `ms` start in time order, so they are due in
   that order: a FIFO with one timer-queue node for its head (delivery.c). */
typedef struct ceb__tlane {
    int64_t ms;                          /* 0: slot unused */
    struct ceb_delivery *head, *tail;
    ceb_tq_node node;
    struct ceb_runtime *rt;
} ceb__tlane;
#define CEB__TLANES 4

struct ceb_runtime {
    uv_loop_t *loop;
    ceb_log *log;
    ceb_metrics *metrics;
    void (*conf_free)(ceb_conf *conf);
    ceb_xq xq;
    ceb_tq tq;
    uv_idle_t idle;
    bool idle_active;
    bool pause_dirty;                    /* re-evaluate source pause/resume */
    int closing_handles;
    uint64_t rng;

    ceb_instance *instances;             /* every live instance (current and retiring) */
    ceb_instance *destroy_list;          /* stopped(), waiting for destroy() */
    ceb__confref *current;               /* the running configuration */

    struct ceb__message *open_head;      /* open messages */
    size_t nopen;
    struct ceb__message *done_head, *done_tail;
    struct ceb_delivery *att_head, *att_tail;   /* outcomes to process */
    struct ceb__sinkq *kick_head, *kick_tail;   /* sinks with waiting records */
    struct ceb__route *dirty_routes;
    struct ceb__sinkq *dirty_sinks;
    uint64_t last_flush;
    uint64_t lat_ns;                     /* latency clock (delivery.c) */
    unsigned lat_reads_left;

    /* attempt timeouts by duration (a duration beyond these uses its own node) */
    ceb__tlane tlanes[CEB__TLANES];

    /* pools (no allocation per event in steady state) */
    ceb__pool recs, atts;
    struct ceb__message *free_msgs; size_t nfree_msgs;

    /* per-plugin slots of host->plugin_slot(), kept across reloads */
    struct ceb__pslot *pslots;

    /* core metrics */
    ceb_metric *m_received, *m_routed, *m_filtered, *m_deliveries, *m_retries,
               *m_dead_lettered, *m_inflight, *m_filter_errors, *m_latency,
               *m_filter_time;

    /* idle */
    ceb_runtime_cb idle_cb; void *idle_arg;
    bool idle_reported;

    /* shutdown */
    bool shutting;
    int phase;                           /* 0 run, 1 draining, 2 stopping sinks, 3 done */
    ceb_tq_node drain_node, stop_node;
    ceb_runtime_cb shutdown_cb; void *shutdown_arg;
    int64_t stop_wait_ms;
};

/* Make sure the deferred work runs on the next loop iteration. */
void ceb__runtime_wake(ceb_runtime *rt);
/* An instance called stopped() (host.c). */
void ceb__runtime_instance_stopped(ceb_runtime *rt, ceb_instance *inst);
/* Re-check the idle and shutdown conditions. */
void ceb__runtime_check(ceb_runtime *rt);
/* A uniform 64-bit random value (xorshift64*). */
uint64_t ceb__runtime_rand(ceb_runtime *rt);
/* The slot of plugin `plugin` (by name; created NULL on first use, freed
   with the runtime; what it holds is the plugin's). NULL on ENOMEM. */
void **ceb__runtime_plugin_slot(ceb_runtime *rt, const char *plugin);
/* Log with component, printf-style. */
void ceb__rt_log(ceb_runtime *rt, ceb_log_level lvl, const char *component, const char *fmt, ...)
    CEB_ATTR_PRINTF(4, 5);

#endif
