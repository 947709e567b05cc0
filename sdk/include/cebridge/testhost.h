#ifndef CEBRIDGE_TESTHOST_H
#define CEBRIDGE_TESTHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cebridge.h"

/*
 * The test host: drive a plugin's source or sink from a cmocka test without
 * the daemon (DESIGN §3, STYLE §9.11). Link libcebridge-testhost. It owns a
 * libuv loop, validates the instance's JSON config against the role's option
 * table with the same validator as the core, and enforces the contract:
 * complete() exactly once per delivery, no host call after stopped(),
 * loop-only calls on the loop thread, ack exactly once per emit, stopped()
 * within the stop deadline, host->plugin_slot() (one slot per plugin
 * descriptor per test host) back to NULL once the plugin's last instance is
 * destroyed. Every breach is recorded as a violation; a test ends with
 * assert_null(ceb_testhost_violation(th)).
 *
 * Not for plugin code. Thread: the test's thread runs the loop; the
 * any-thread host calls may come from the plugin's threads.
 */
typedef struct ceb_testhost ceb_testhost;
typedef struct ceb_testhost_inst ceb_testhost_inst;

typedef enum { CEB_TESTHOST_SOURCE = 1, CEB_TESTHOST_SINK } ceb_testhost_role;

/* Create a test host. Like the daemon, it sets SIGPIPE to ignored for the
   process, so a plugin writing to a closed socket sees EPIPE. */
int  ceb_testhost_new(ceb_testhost **out);
uv_loop_t *ceb_testhost_loop(ceb_testhost *th);
/*
 * Stop and destroy every instance still alive, close the loop and free.
 * Returns 0, or CEB_EBUSY-like CEB_EAGAIN when handles were left open on the
 * loop (a leak the test should fail on).
 */
int  ceb_testhost_free(ceb_testhost *th);

/* The first contract violation seen (static text in the host), or NULL. */
const char *ceb_testhost_violation(const ceb_testhost *th);

/*
 * The value of a counter or gauge series that instances of `th` registered
 * and updated: `name` as registered, `label_values` one per label of the
 * metric (NULL when it has none). Returns -1 when there is no such metric
 * or series (a series exists once it was updated), or for a histogram.
 * Thread: the test's (the host's loop thread).
 */
double ceb_testhost_metric_value(const ceb_testhost *th, const char *name,
                                 const char *const *label_values);
/* True when a logged line at any level contains `needle`. */
bool ceb_testhost_log_contains(const ceb_testhost *th, const char *needle);

/*
 * Validate `config_json` (the instance object without "plugin") and call
 * create(). Errors (validation or create) fill `d`, with d->field naming the
 * option. Returns 0 or the error.
 */
int  ceb_testhost_create(ceb_testhost *th, const ceb_plugin *plugin, ceb_testhost_role role,
                         const char *name, const char *config_json,
                         ceb_testhost_inst **out, ceb_diag *d);
/* Load a plugin .so with the core's loader checks and return its descriptor. */
int  ceb_testhost_load(ceb_testhost *th, const char *so_path, const ceb_plugin **out, ceb_diag *d);
int  ceb_testhost_start(ceb_testhost_inst *ti);
/* stop(), then run the loop until stopped() or `timeout_ms`: 0 or CEB_ETIMEDOUT. */
int  ceb_testhost_stop(ceb_testhost_inst *ti, uint64_t timeout_ms);
/* destroy() (stops first if needed) and forget the instance. */
void ceb_testhost_destroy(ceb_testhost_inst *ti);
void *ceb_testhost_state(ceb_testhost_inst *ti);

/*
 * Run the loop until `until(arg)` is true or `timeout_ms` passes.
 * `until` NULL: run until the loop has nothing left or the timeout.
 * Returns 0 or CEB_ETIMEDOUT.
 */
int  ceb_testhost_run(ceb_testhost *th, bool (*until)(void *arg), void *arg, uint64_t timeout_ms);

/* ---- sinks ---- */
typedef struct ceb_testhost_result {
    bool done;
    ceb_outcome outcome;
    int err;
    int64_t retry_after_ms;
    char detail[512];
} ceb_testhost_result;

/*
 * Call deliver() with a fresh delivery (attempt number `attempt`, route
 * "test"). The result fills `*res` when complete() comes (res->done); keep
 * `res` alive until then. Returns deliver()'s return value (when < 0,
 * res->done stays false and a later complete() is a violation).
 */
int  ceb_testhost_deliver(ceb_testhost_inst *ti, const ceb_event *ev, uint32_t attempt,
                          ceb_testhost_result *res);
/* Deliver and run the loop until complete or timeout: 0 or CEB_ETIMEDOUT / deliver's error. */
int  ceb_testhost_deliver_wait(ceb_testhost_inst *ti, const ceb_event *ev,
                               ceb_testhost_result *res, uint64_t timeout_ms);

/* ---- sources ---- */
/* Events emitted so far (each emit's events in order), borrowed. */
size_t ceb_testhost_emitted_count(const ceb_testhost_inst *ti);
const ceb_event *ceb_testhost_emitted(const ceb_testhost_inst *ti, size_t index);
/* Number of emit() calls (batches) so far, and how many of them were acked. */
size_t ceb_testhost_batches(const ceb_testhost_inst *ti);
size_t ceb_testhost_acked(const ceb_testhost_inst *ti);
/*
 * Acknowledge policy: with auto_ack (the default, status 0) every emit is
 * acked on the next loop iteration; otherwise call ceb_testhost_ack_pending().
 */
void ceb_testhost_set_auto_ack(ceb_testhost_inst *ti, bool on, int status);
/* Ack every unacknowledged batch with `status`; returns how many. */
size_t ceb_testhost_ack_pending(ceb_testhost_inst *ti, int status);
/* Ack the `n` oldest unacknowledged batches, in emit order, with `status`;
   returns how many were acked. */
size_t ceb_testhost_ack_next(ceb_testhost_inst *ti, size_t n, int status);
/*
 * Input the source sent through host->emit_dead_letter(): each call is also
 * one batch (counted by ceb_testhost_batches, acknowledged like an emit) but
 * its event is not in the emitted list. `reason` (may be NULL) receives the
 * reason given. Borrowed until the instance is destroyed.
 */
size_t ceb_testhost_dead_lettered_count(const ceb_testhost_inst *ti);
const ceb_event *ceb_testhost_dead_lettered(const ceb_testhost_inst *ti, size_t index,
                                            const char **reason);
/* Call the source's pause()/resume() as the core's backpressure would. */
void ceb_testhost_pause(ceb_testhost_inst *ti);
void ceb_testhost_resume(ceb_testhost_inst *ti);
/* True once the source called source_ended(). */
bool ceb_testhost_source_ended(const ceb_testhost_inst *ti);
/* What host->ready() answers for this source (default true). */
void ceb_testhost_set_ready(ceb_testhost_inst *ti, bool ready);

#endif
