/*
 * flaky: a test sink that fails on purpose, for the integration tests of
 * retry, dead-lettering, backpressure and drain (issue 3, "How it is
 * checked"). Not installed.
 *
 * Options
 *   fail_times       int       fail the first N attempts of each event (by id) with RETRY
 *   permanent        bool      always fail with PERMANENT, detail "flaky: permanent failure"
 *   fail_all         bool      always fail with RETRY
 *   delay            duration  complete after this long (a slow sink); 0 = next loop turn
 *   record           string    append "<id> <attempt> <outcome> <monotonic_ms>" per attempt
 *   inflight_record  string    append "<monotonic_ms> <inflight>" whenever a delivery starts
 *
 * Every delivery completes asynchronously, from a host timer. `attempt` is
 * the sink's own count of deliver() calls for that event id (so it does not
 * trust the core's numbering), `outcome` is OK, RETRY, PERMANENT or CANCELED
 * (completed with RETRY/ECANCELED by stop()), `monotonic_ms` is
 * CLOCK_MONOTONIC in milliseconds when the outcome was reported.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cebridge/cebridge.h>

typedef struct flaky_config {
    int64_t fail_times;
    bool permanent;
    bool fail_all;
    int64_t delay_ms;
    const char *record;
    const char *inflight_record;
} flaky_config;

static const ceb_option flaky_sink_options[] = {
    CEB_OPT_INT_FIELD("fail_times", "0", 0, flaky_config, fail_times, 0, 1000000,
                      "fail the first N attempts of each event with RETRY"),
    CEB_OPT_BOOL_FIELD("permanent", "false", 0, flaky_config, permanent,
                       "always fail with PERMANENT (\"flaky: permanent failure\")"),
    CEB_OPT_BOOL_FIELD("fail_all", "false", 0, flaky_config, fail_all,
                       "always fail with RETRY"),
    CEB_OPT_DURATION_FIELD("delay", "0", 0, flaky_config, delay_ms, 0, 3600000,
                           "complete each delivery after this long"),
    CEB_OPT_STRING_FIELD("record", NULL, 0, flaky_config, record,
                         "file to append one line per attempt: id attempt outcome monotonic_ms"),
    CEB_OPT_STRING_FIELD("inflight_record", NULL, 0, flaky_config, inflight_record,
                         "file to append \"monotonic_ms inflight\" when a delivery starts"),
    CEB_OPTION_END
};

/* Attempt counts per event id: a small chained hash table. */
typedef struct flaky_count {
    struct flaky_count *next;
    uint32_t attempts;
    char id[];
} flaky_count;

typedef struct flaky_pending flaky_pending;

typedef struct flaky_sink {
    ceb_ctx ctx;
    flaky_config cfg;
    FILE *record;
    FILE *inflight;
    flaky_count **buckets;
    size_t nbuckets;
    size_t ncounts;
    flaky_pending *pending;   /* doubly linked list of outstanding deliveries */
    size_t npending;
    bool stopping;
    bool stopped;
} flaky_sink;

struct flaky_pending {
    flaky_pending *prev, *next;
    flaky_sink *sink;
    ceb_delivery *dlv;
    ceb_timer *timer;
    ceb_outcome outcome;
    uint32_t attempt;
    char *id;
};

static uint64_t flaky_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static uint64_t flaky_hash(const char *s)
{
    uint64_t h = 1469598103934665603u;   /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

static int flaky_grow(flaky_sink *s)
{
    size_t n = s->nbuckets ? s->nbuckets * 2 : 1024;
    flaky_count **b = calloc(n, sizeof(*b));
    if (b == NULL)
        return CEB_ENOMEM;
    for (size_t i = 0; i < s->nbuckets; i++) {
        flaky_count *c = s->buckets[i];
        while (c != NULL) {
            flaky_count *next = c->next;
            size_t k = flaky_hash(c->id) & (n - 1);
            c->next = b[k];
            b[k] = c;
            c = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
    return 0;
}

/* Count one more attempt for `id`; returns the attempt number (1-based), 0 on ENOMEM. */
static uint32_t flaky_count_attempt(flaky_sink *s, const char *id)
{
    if (s->ncounts >= s->nbuckets && flaky_grow(s) < 0)
        return 0;
    size_t k = flaky_hash(id) & (s->nbuckets - 1);
    for (flaky_count *c = s->buckets[k]; c != NULL; c = c->next) {
        if (strcmp(c->id, id) == 0)
            return ++c->attempts;
    }
    size_t len = strlen(id);
    flaky_count *c = malloc(sizeof(*c) + len + 1);
    if (c == NULL)
        return 0;
    memcpy(c->id, id, len + 1);
    c->attempts = 1;
    c->next = s->buckets[k];
    s->buckets[k] = c;
    s->ncounts++;
    return 1;
}

static const char *flaky_outcome_name(ceb_outcome o, int err)
{
    if (err == CEB_ECANCELED)
        return "CANCELED";
    switch (o) {
    case CEB_OUTCOME_OK: return "OK";
    case CEB_OUTCOME_RETRY: return "RETRY";
    case CEB_OUTCOME_PERMANENT: return "PERMANENT";
    }
    return "?";
}

static void flaky_unlink(flaky_sink *s, flaky_pending *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        s->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    s->npending--;
}

/* Report the outcome of `p`, record it and free it. */
static void flaky_finish(flaky_pending *p, ceb_outcome outcome, int err)
{
    flaky_sink *s = p->sink;
    flaky_unlink(s, p);
    if (s->record != NULL) {
        fprintf(s->record, "%s %" PRIu32 " %s %" PRIu64 "\n", p->id, p->attempt,
                flaky_outcome_name(outcome, err), flaky_now_ms());
        fflush(s->record);
    }
    const char *detail = NULL;
    if (err == CEB_ECANCELED)
        detail = "flaky: canceled by stop";
    else if (outcome == CEB_OUTCOME_PERMANENT)
        detail = "flaky: permanent failure";
    else if (outcome == CEB_OUTCOME_RETRY)
        detail = "flaky: temporary failure";
    ceb_delivery *dlv = p->dlv;
    free(p->id);
    free(p);
    s->ctx.host->complete(dlv, outcome, err, 0, detail);
}

static void flaky_timer_cb(void *arg)
{
    flaky_pending *p = arg;
    p->timer = NULL;   /* one-shot: the host owns it no more */
    flaky_finish(p, p->outcome, p->outcome == CEB_OUTCOME_OK ? 0 : CEB_EIO);
}

static int flaky_sink_create(ceb_instance *inst, const ceb_host *host, const void *config,
                             ceb_diag *diag, void **state)
{
    const flaky_config *cfg = config;
    if (cfg->permanent && cfg->fail_all)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "permanent",
                                  "permanent and fail_all are exclusive");
    flaky_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ceb_diag_set(diag, CEB_ENOMEM, "out of memory");
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->cfg = *cfg;
    *state = s;
    return 0;
}

static int flaky_sink_start(void *state)
{
    flaky_sink *s = state;
    if (s->cfg.record != NULL) {
        s->record = fopen(s->cfg.record, "a");
        if (s->record == NULL) {
            CEB_LOG_E(&s->ctx, "cannot open record file %s", s->cfg.record);
            return CEB_EIO;
        }
    }
    if (s->cfg.inflight_record != NULL) {
        s->inflight = fopen(s->cfg.inflight_record, "a");
        if (s->inflight == NULL) {
            CEB_LOG_E(&s->ctx, "cannot open inflight_record file %s", s->cfg.inflight_record);
            return CEB_EIO;
        }
    }
    return 0;
}

static int flaky_sink_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    flaky_sink *s = state;
    if (s->stopping)
        return CEB_ESHUTDOWN;
    const char *id = ceb_event_id(ev);
    if (id == NULL)
        return CEB_EINVAL;
    uint32_t attempt = flaky_count_attempt(s, id);
    if (attempt == 0)
        return CEB_ENOMEM;
    flaky_pending *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return CEB_ENOMEM;
    p->id = strdup(id);
    if (p->id == NULL) {
        free(p);
        return CEB_ENOMEM;
    }
    p->sink = s;
    p->dlv = dlv;
    p->attempt = attempt;
    if (s->cfg.permanent)
        p->outcome = CEB_OUTCOME_PERMANENT;
    else if (s->cfg.fail_all || attempt <= (uint64_t)s->cfg.fail_times)
        p->outcome = CEB_OUTCOME_RETRY;
    else
        p->outcome = CEB_OUTCOME_OK;
    int rc = s->ctx.host->timer_start(s->ctx.inst, (uint64_t)s->cfg.delay_ms, flaky_timer_cb, p,
                                      &p->timer);
    if (rc < 0) {
        free(p->id);
        free(p);
        return rc;
    }
    p->next = s->pending;
    if (s->pending != NULL)
        s->pending->prev = p;
    s->pending = p;
    s->npending++;
    if (s->inflight != NULL) {
        fprintf(s->inflight, "%" PRIu64 " %zu\n", flaky_now_ms(), s->npending);
        fflush(s->inflight);
    }
    return 0;
}

static void flaky_sink_stop(void *state)
{
    flaky_sink *s = state;
    if (s->stopping)
        return;
    s->stopping = true;
    while (s->pending != NULL) {
        flaky_pending *p = s->pending;
        if (p->timer != NULL) {
            s->ctx.host->timer_stop(p->timer);
            p->timer = NULL;
        }
        flaky_finish(p, CEB_OUTCOME_RETRY, CEB_ECANCELED);
    }
    s->stopped = true;
    s->ctx.host->stopped(s->ctx.inst);
}

static void flaky_sink_destroy(void *state)
{
    flaky_sink *s = state;
    if (s == NULL)
        return;
    /* destroy after a failed start: nothing can be pending (start comes first). */
    for (size_t i = 0; i < s->nbuckets; i++) {
        flaky_count *c = s->buckets[i];
        while (c != NULL) {
            flaky_count *next = c->next;
            free(c);
            c = next;
        }
    }
    free(s->buckets);
    if (s->record != NULL)
        fclose(s->record);
    if (s->inflight != NULL)
        fclose(s->inflight);
    free(s);
}

static const ceb_sink_ops flaky_sink_ops = {
    .options = flaky_sink_options,
    .config_size = sizeof(flaky_config),
    .create = flaky_sink_create,
    .start = flaky_sink_start,
    .deliver = flaky_sink_deliver,
    .stop = flaky_sink_stop,
    .destroy = flaky_sink_destroy,
};

CEB_PLUGIN(flaky,
    .version = "1.0.0",
    .description = "test sink: fails N times, permanently or always; slow on demand",
    .sink = &flaky_sink_ops);
