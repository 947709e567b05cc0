#ifndef CEB_CORE_INSTANCE_H
#define CEB_CORE_INSTANCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cebridge/host.h>
#include <cebridge/plugin.h>
#include "config.h"

/*
 * ceb_instance: the struct behind the SDK's opaque type, one configured
 * source or sink. Owned by the runtime (runtime.h); reference counted
 * (plain counter, loop thread) because routes, delivery records and queued
 * cross-thread calls point at it. Lifecycle flags follow plugin.h:
 *
 *   created -> started -> stopping -> stopped -> destroyed -> (freed at refs 0)
 *
 * Thread: loop thread, except `stopped_flag`/`stopping_flag` (atomics read
 * by the any-thread host calls) and `xq_pending`.
 */
struct ceb_runtime;
struct ceb__route;
struct ceb__sinkq;
struct ceb_timer;

typedef struct ceb__confref {
    ceb_conf *conf;
    unsigned refs;
    void (*free_fn)(ceb_conf *conf);
} ceb__confref;

void ceb__confref_retain(ceb__confref *c);
void ceb__confref_release(ceb__confref *c);

struct ceb_instance {
    struct ceb_runtime *rt;
    const ceb_host *host;
    const ceb_conf_instance *conf;   /* borrowed from confref */
    ceb__confref *confref;           /* keeps `conf` (and its config struct) alive */
    const ceb_plugin *plugin;
    ceb_role role;
    char *name;
    char *component;                 /* "source/NAME" or "sink/NAME" */
    void *state;
    unsigned refs;

    bool created, started, destroyed;
    bool retiring;                   /* removed/replaced by a reload */
    bool paused;                     /* source: pause() called, resume() not yet */
    bool ended;                      /* source: source_ended() called */
    bool stop_called;
    bool post_stop_logged;           /* "host call after stopped()" logged once */
    atomic_bool stopping_flag;       /* stop() called */
    atomic_bool stopped_flag;        /* stopped() called */
    atomic_uint xq_pending;          /* cross-thread calls queued for this instance */

    /* source */
    struct ceb__route **routes; size_t nroutes;   /* routes fed by this source (refs held) */
    size_t open_msgs;                /* emitted messages not yet acked */

    /* sink */
    struct ceb__sinkq *q;            /* delivery state (delivery.h) */
    uint32_t max_inflight;

    /* host timers (struct ceb_timer list) */
    struct ceb_timer *timers;

    /* host->plugin_slot(): the runtime's slot of this plugin (runtime.h) */
    void **pslot;

    struct ceb_instance *next;       /* runtime's list */
    struct ceb_instance *next_destroy;
};

/*
 * A new instance for `ci` (role taken from ci->role), not yet created.
 * Retains `cr`. Returns 0 or CEB_ENOMEM.
 */
int  ceb__instance_new(struct ceb_runtime *rt, const ceb_host *host, ceb__confref *cr,
                       const ceb_conf_instance *ci, ceb_instance **out);
void ceb__instance_retain(ceb_instance *inst);
/* Drop a reference; the last frees the struct (state must be destroyed). */
void ceb__instance_release(ceb_instance *inst);

/* Lifecycle helpers: create() with `diag`; start(); stop() once; destroy() once. */
int  ceb__instance_create(ceb_instance *inst, ceb_diag *diag);
int  ceb__instance_start(ceb_instance *inst);
void ceb__instance_stop(ceb_instance *inst);
void ceb__instance_destroy(ceb_instance *inst);

/* True when the instance takes new work (started, not stopping). */
bool ceb__instance_running(const ceb_instance *inst);
bool ceb__instance_is_stopped(const ceb_instance *inst);

#endif
