#ifndef CEBRIDGE_HOST_H
#define CEBRIDGE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "buf.h"
#include "diag.h"
#include "event.h"
#include "plugin.h"

/*
 * The host table: everything a plugin may ask of the process that runs it.
 * It is handed to create(); keep the pointer in your state. The real core
 * and the SDK's test host (testhost.h) implement the same table, so one
 * plugin binary runs under both. Nothing here is global.
 *
 * Threading contract
 *
 *   | call                                   | thread                          |
 *   |----------------------------------------|---------------------------------|
 *   | emit, emit_dead_letter, complete, post | any thread                      |
 *   | everything else                        | the loop thread only            |
 *   | every ceb_source_ops/ceb_sink_ops call | made by the host on the loop    |
 *
 * Calls from another thread are queued to the loop (mutex + uv_async_t;
 * sends coalesce). Plugins may put uv handles on loop(inst) but must close
 * them before stopped() and never call uv_run/uv_stop/uv_loop_close.
 * Nothing may block the loop thread.
 *
 * New members are only ever appended; test with CEB_HOST_HAS().
 */

typedef enum ceb_outcome {
    CEB_OUTCOME_OK = 0,        /* delivered (the broker or endpoint confirmed)       */
    CEB_OUTCOME_RETRY,         /* failed, may succeed later: backoff and retry       */
    CEB_OUTCOME_PERMANENT      /* will never succeed: dead-letter now                */
} ceb_outcome;

typedef enum ceb_log_level {
    CEB_LOG_ERROR = 0, CEB_LOG_WARN, CEB_LOG_INFO, CEB_LOG_DEBUG, CEB_LOG_TRACE
} ceb_log_level;

typedef enum ceb_metric_kind {
    CEB_METRIC_COUNTER = 1, CEB_METRIC_GAUGE, CEB_METRIC_HISTOGRAM
} ceb_metric_kind;

typedef struct ceb_metric ceb_metric;   /* host-owned, lives until the process ends */
typedef struct ceb_timer ceb_timer;     /* host-owned until stopped or fired (one-shot) */

typedef void (*ceb_post_cb)(void *arg);
typedef void (*ceb_timer_cb)(void *arg);

/* What a sink may know about the attempt it is asked to make. */
typedef struct ceb_delivery_info {
    const char *route;      /* route name */
    uint32_t attempt;       /* 1 for the first attempt */
    int64_t deadline_ms;    /* per-attempt timeout in ms (0 = none) */
    bool dead_letter;       /* this delivery is a dead-letter write */
} ceb_delivery_info;

struct ceb_host {
    uint32_t abi;    /* CEB_ABI_VERSION of the running host */
    uint32_t size;   /* sizeof(ceb_host) in the running host */

    /* ---- loop thread only -------------------------------------------- */

    /* The loop every callback runs on. */
    uv_loop_t *(*loop)(ceb_instance *inst);

    /* The instance's configured name ("ci-redis") and the plugin's name. */
    const char *(*instance_name)(ceb_instance *inst);

    /* Log a line attributed to the instance (logfmt/JSON is the host's job).
       Never pass secrets. */
    void (*log)(ceb_instance *inst, ceb_log_level level, const char *fmt, ...) CEB_ATTR_PRINTF(3, 4);
    bool (*log_enabled)(ceb_instance *inst, ceb_log_level level);

    /*
     * Register (or find, when name and labels match) a metric. Names are
     * Prometheus-style and prefixed by the host with "cebridge_". Label
     * names are copied. `buckets` (histograms only; NULL = defaults in
     * seconds) is copied. Returns 0, CEB_EINVAL (bad name, kind clash),
     * CEB_ENOMEM.
     */
    int  (*metric_register)(ceb_instance *inst, ceb_metric_kind kind, const char *name,
                            const char *help, const char *const *label_names, size_t nlabels,
                            const double *buckets, size_t nbuckets, ceb_metric **out);
    /* Counter: add v (>= 0). Gauge: add v (any sign). label_values: nlabels strings. */
    void (*metric_add)(ceb_metric *m, const char *const *label_values, double v);
    /* Gauge only: set. */
    void (*metric_set)(ceb_metric *m, const char *const *label_values, double v);
    /* Histogram only: observe one sample. */
    void (*metric_observe)(ceb_metric *m, const char *const *label_values, double v);
    /* Render every registered metric (core and plugins) in the Prometheus
       text exposition format, appended to `out`. For the metrics plugin. */
    int  (*metrics_render)(ceb_instance *inst, ceb_buf *out);

    /* One-shot timer after `ms`; cb runs on the loop. Stop before it fires
       to cancel (then cb never runs). Timers of an instance must be stopped
       before stopped(). Returns 0 or CEB_ENOMEM. */
    int  (*timer_start)(ceb_instance *inst, uint64_t ms, ceb_timer_cb cb, void *arg,
                        ceb_timer **out);
    void (*timer_stop)(ceb_timer *t);

    /* Sources: there will be no more input (a file source at end of input).
       The process exits by itself once every source has ended and nothing
       is in flight. */
    void (*source_ended)(ceb_instance *inst);

    /* Sources: true when every sink reachable from this source has started
       (for /readyz). */
    bool (*ready)(ceb_instance *inst);

    /* Sinks: what this attempt is. Valid for an outstanding delivery. */
    void (*delivery_info)(const ceb_delivery *dlv, ceb_delivery_info *out);

    /* The instance has finished stopping (see plugin.h). Exactly once. */
    void (*stopped)(ceb_instance *inst);

    /* ---- any thread --------------------------------------------------- */

    /*
     * Route a batch of events that is acknowledged as one: source->ack(state,
     * ack_token, status) comes exactly once, after every event of the batch
     * is delivered, filtered out or dead-lettered (status 0) or could not be
     * (status < 0). Each event must be valid (ceb_event_validate).
     *
     * Ownership: consumes the caller's reference to every event, on success
     *            and on error; the events are frozen.
     * Returns:   0 (ack will come), CEB_EINVAL (n == 0 or an invalid event; no
     *            ack will come), CEB_ESHUTDOWN (stopping; no ack will come).
     * Backpressure: emit never refuses for load; the host calls pause() and
     *            the source stops reading until resume().
     */
    int  (*emit)(ceb_instance *inst, ceb_event *const *events, size_t n, void *ack_token);

    /*
     * Report the outcome of deliver() exactly once. `err` is 0 or a
     * CEB_E* code; `retry_after_ms` > 0 asks for at least that delay before
     * the next attempt (HTTP Retry-After); `detail` (may be NULL, copied) is
     * a short human text, e.g. a response body's first bytes, used for logs
     * and `cebdlqreason`. After complete() the delivery and its event borrow
     * are gone.
     */
    void (*complete)(ceb_delivery *dlv, ceb_outcome outcome, int err,
                     int64_t retry_after_ms, const char *detail);

    /* Run fn(arg) on the loop thread. CEB_ESHUTDOWN after stopped(): fn is
       not called. */
    int  (*post)(ceb_instance *inst, ceb_post_cb fn, void *arg);

    /*
     * Send input that cannot be routed (a line that is not a valid event, a
     * CloudEvent-shaped message refused in strict mode, an entry past
     * max_deliveries) straight to the dead-letter sink of every route fed by
     * this source, never dropping it silently. `ev` is usually the raw
     * payload wrapped with ceb_event_wrap(); `reason` (copied) becomes the
     * `cebdlqreason` extension, with `cebdlqroute` and `cebdlqattempts`.
     * ack(ack_token, 0) comes once every dead-letter write succeeded;
     * status < 0 if one failed or no route from this source has a dead
     * letter (then the input is left for redelivery and an error is logged).
     *
     * Ownership: consumes the reference to `ev` on success and on error.
     * Thread:    any thread.
     * Returns:   0 (ack will come), CEB_EINVAL, CEB_ESHUTDOWN (no ack will come).
     */
    int  (*emit_dead_letter)(ceb_instance *inst, ceb_event *ev, const char *reason,
                             void *ack_token);

    /* ---- loop thread only (appended) ---------------------------------- */

    /*
     * The plugin's slot: one `void *` per plugin per host (per runtime in
     * the core, per test host in testhost.h), shared by every instance of
     * that plugin (sources and sinks), NULL at first, kept across reloads.
     * It is how instances share something (a listener several sources
     * serve) without global state. The host never reads, writes or frees
     * what is stored there: the plugin owns it and must free it (and set
     * the slot back to NULL) when its last instance is destroyed. The
     * returned address stays valid for the host's life.
     *
     * Ownership: the slot's content is the plugin's.
     * Thread:    loop thread only.
     * Returns:   the slot's address; never NULL.
     */
    void **(*plugin_slot)(ceb_instance *inst);
};

#define CEB_HOST_HAS(h, m) \
    (offsetof(ceb_host, m) + sizeof((h)->m) <= (h)->size && (h)->m != NULL)

#endif
