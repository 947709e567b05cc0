#include "instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cebridge/errors.h>
#include "delivery.h"
#include "router.h"
#include "runtime.h"

void ceb__confref_retain(ceb__confref *c)
{
    c->refs++;
}

void ceb__confref_release(ceb__confref *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    if (c->conf != NULL)
        c->free_fn(c->conf);
    free(c);
}

int ceb__instance_new(ceb_runtime *rt, const ceb_host *host, ceb__confref *cr,
                      const ceb_conf_instance *ci, ceb_instance **out)
{
    ceb_instance *inst = calloc(1, sizeof(*inst));
    if (inst == NULL)
        return CEB_ENOMEM;
    inst->rt = rt;
    inst->host = host;
    inst->conf = ci;
    inst->plugin = ci->plugin;
    inst->role = ci->role;
    inst->refs = 1;
    inst->name = strdup(ci->name);
    size_t clen = strlen(ci->name) + 8;
    inst->component = malloc(clen);
    /* the plugin's slot (host->plugin_slot), shared by its instances */
    if (ci->plugin != NULL && ci->plugin->name != NULL)
        inst->pslot = ceb__runtime_plugin_slot(rt, ci->plugin->name);
    if (inst->name == NULL || inst->component == NULL ||
        (ci->plugin != NULL && ci->plugin->name != NULL && inst->pslot == NULL)) {
        free(inst->name);
        free(inst->component);
        free(inst);
        return CEB_ENOMEM;
    }
    snprintf(inst->component, clen, "%s/%s", ci->role == CEB_ROLE_SOURCE ? "source" : "sink",
             ci->name);
    atomic_init(&inst->stopping_flag, false);
    atomic_init(&inst->stopped_flag, false);
    atomic_init(&inst->xq_pending, 0);
    if (ci->role == CEB_ROLE_SINK) {
        inst->max_inflight = ci->max_inflight ? ci->max_inflight
                           : (cr->conf && cr->conf->settings.max_inflight
                              ? cr->conf->settings.max_inflight : 1000);
        int rc = ceb__sinkq_new(inst, &inst->q);
        if (rc != 0) {
            free(inst->name);
            free(inst->component);
            free(inst);
            return rc;
        }
    }
    inst->confref = cr;
    ceb__confref_retain(cr);
    *out = inst;
    return 0;
}

void ceb__instance_retain(ceb_instance *inst)
{
    inst->refs++;
}

void ceb__instance_release(ceb_instance *inst)
{
    if (inst == NULL || --inst->refs > 0)
        return;
    for (size_t i = 0; i < inst->nroutes; i++)
        ceb__route_release(inst->routes[i]);
    free(inst->routes);
    if (inst->q != NULL) {
        ceb_runtime *rt = inst->rt;
        if (inst->q->dirty)
            ceb__delivery_flush_metrics(rt);
        if (inst->q->kick_queued) {
            ceb__sinkq **pp = &rt->kick_head, *prev = NULL;
            while (*pp != inst->q) {
                prev = *pp;
                pp = &(*pp)->next_kick;
            }
            *pp = inst->q->next_kick;
            if (rt->kick_tail == inst->q)
                rt->kick_tail = prev;
        }
        ceb__sinkq_free(inst->q);
    }
    ceb__confref_release(inst->confref);
    free(inst->name);
    free(inst->component);
    free(inst);
}

int ceb__instance_create(ceb_instance *inst, ceb_diag *diag)
{
    int rc;
    void *state = NULL;
    if (inst->role == CEB_ROLE_SOURCE)
        rc = inst->plugin->source->create(inst, inst->host, inst->conf->config, diag, &state);
    else
        rc = inst->plugin->sink->create(inst, inst->host, inst->conf->config, diag, &state);
    if (rc < 0)
        return rc;
    inst->state = state;
    inst->created = true;
    return 0;
}

int ceb__instance_start(ceb_instance *inst)
{
    int rc = inst->role == CEB_ROLE_SOURCE ? inst->plugin->source->start(inst->state)
                                           : inst->plugin->sink->start(inst->state);
    if (rc < 0)
        return rc;
    inst->started = true;
    return 0;
}

void ceb__instance_stop(ceb_instance *inst)
{
    if (inst->stop_called || !inst->started)
        return;
    inst->stop_called = true;
    atomic_store(&inst->stopping_flag, true);
    if (inst->role == CEB_ROLE_SOURCE)
        inst->plugin->source->stop(inst->state);
    else
        inst->plugin->sink->stop(inst->state);
}

void ceb__instance_destroy(ceb_instance *inst)
{
    if (!inst->created || inst->destroyed)
        return;
    inst->destroyed = true;
    if (inst->role == CEB_ROLE_SOURCE)
        inst->plugin->source->destroy(inst->state);
    else
        inst->plugin->sink->destroy(inst->state);
    inst->state = NULL;
}

bool ceb__instance_running(const ceb_instance *inst)
{
    return inst->started && !inst->stop_called && !atomic_load(&inst->stopped_flag);
}

bool ceb__instance_is_stopped(const ceb_instance *inst)
{
    return atomic_load(&inst->stopped_flag);
}
