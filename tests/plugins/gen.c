/*
 * gen: a test source that generates events, for the integration tests of
 * routing, acknowledgement, backpressure and reload (issue 3, "How it is
 * checked"). Not installed.
 *
 * Options
 *   count         int       events to emit in all (then host->source_ended)
 *   batch         int       events per emit() call (one ack per batch)
 *   type_pattern  string    event type; "{n}" is the event number, "{n%K}" it modulo K
 *   types         list      types to cycle through instead of type_pattern
 *   id_prefix     string    ids are <id_prefix><n>
 *   source        string    the `source` attribute
 *   data_size     size      pad each event's JSON data to about this many bytes
 *   interval      duration  pause between batches (0: as fast as the loop allows)
 *   drive         enum      idle|timer|post: what runs the next burst when interval is 0
 *                           (timer and post exist to test that the host lets the loop turn)
 *   ack_log       string    append "<batch_no> <status> <monotonic_ms>" per ack,
 *                           "pause"/"resume" lines, "end <events emitted>" at the end
 *
 * Event n (0-based) is in batch n / batch. Its data is
 * {"n":n,"batch":b,"pad":"xxx..."}. The source honours pause()/resume(),
 * and stop() waits for the acks of emitted batches before stopped() (the
 * core bounds that wait with its drain deadline).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cebridge/cebridge.h>

#define GEN_BURST 64   /* batches per loop turn when interval is 0 */

typedef struct gen_config {
    int64_t count;
    int64_t batch;
    const char *type_pattern;
    ceb_strlist types;
    const char *id_prefix;
    const char *source;
    uint64_t data_size;
    int64_t interval_ms;
    const char *ack_log;
    int drive;
} gen_config;

enum { GEN_DRIVE_IDLE = 0, GEN_DRIVE_TIMER, GEN_DRIVE_POST };
static const char *const gen_drive_choices[] = { "idle", "timer", "post", NULL };

static const ceb_option gen_source_options[] = {
    CEB_OPT_INT_FIELD("count", "10", 0, gen_config, count, 0, INT64_C(1000000000),
                      "events to emit in all"),
    CEB_OPT_INT_FIELD("batch", "1", 0, gen_config, batch, 1, 100000,
                      "events per emit (acknowledged as one)"),
    CEB_OPT_STRING_FIELD("type_pattern", "\"gen.{n%3}\"", 0, gen_config, type_pattern,
                         "event type; {n} and {n%K} are replaced"),
    CEB_OPT_LIST_FIELD("types", NULL, 0, gen_config, types,
                       "types to cycle through (instead of type_pattern)"),
    CEB_OPT_STRING_FIELD("id_prefix", "\"gen-\"", 0, gen_config, id_prefix,
                         "event ids are <id_prefix><n>"),
    CEB_OPT_STRING_FIELD("source", "\"/cebridge/tests/gen\"", 0, gen_config, source,
                         "the source attribute"),
    CEB_OPT_SIZE_FIELD("data_size", "0", 0, gen_config, data_size, 0, 16 * 1024 * 1024,
                       "pad each event's data to about this many bytes"),
    CEB_OPT_DURATION_FIELD("interval", "0", 0, gen_config, interval_ms, 0, 3600000,
                           "pause between batches"),
    CEB_OPT_STRING_FIELD("ack_log", NULL, 0, gen_config, ack_log,
                         "file to append \"batch_no status\" per ack and pause/resume lines"),
    CEB_OPT_ENUM_FIELD("drive", "\"idle\"", 0, gen_config, drive, gen_drive_choices,
                       "with interval 0: emit from a uv_idle_t, a 0 ms host timer or host->post"),
    CEB_OPTION_END
};

typedef struct gen_source {
    ceb_ctx ctx;
    gen_config cfg;
    FILE *ack_log;
    char *pad;               /* data_size 'x' characters */
    ceb_timer *timer;
    uv_idle_t idle;          /* drives emission when interval is 0 */
    bool idle_open;          /* idle initialised and not yet closed */
    bool idle_closing;       /* uv_close() called, close callback pending */
    bool posted;             /* a gen_post_cb() is queued with host->post */
    int64_t next;            /* next event number */
    int64_t batch_no;        /* next batch number */
    int64_t outstanding;     /* emitted batches not yet acked */
    bool paused;
    bool ended;
    bool stopping;
    bool stopped;
} gen_source;

/* "<batch_no> <status> <monotonic_ms>" or "<batch_no> emit-error <code> <monotonic_ms>". */
static void gen_log_line(gen_source *g, const char *what, int64_t batch, int status)
{
    if (g->ack_log == NULL)
        return;
    fprintf(g->ack_log, "%" PRId64 " %s%d %" PRIu64 "\n", batch, what, status,
            uv_hrtime() / 1000000u);
    fflush(g->ack_log);
}

static void gen_render_type(const gen_source *g, int64_t n, ceb_buf *out)
{
    if (g->cfg.types.n > 0) {
        ceb_buf_append_str(out, g->cfg.types.v[(size_t)n % g->cfg.types.n]);
        return;
    }
    const char *p = g->cfg.type_pattern;
    while (*p != '\0') {
        if (strncmp(p, "{n}", 3) == 0) {
            ceb_buf_printf(out, "%" PRId64, n);
            p += 3;
        } else if (strncmp(p, "{n%", 3) == 0) {
            char *end;
            long k = strtol(p + 3, &end, 10);
            if (k > 0 && *end == '}') {
                ceb_buf_printf(out, "%" PRId64, n % k);
                p = end + 1;
            } else {
                ceb_buf_append(out, p, 1);
                p++;
            }
        } else {
            ceb_buf_append(out, p, 1);
            p++;
        }
    }
}

static int gen_make_event(gen_source *g, int64_t n, int64_t b, ceb_event **out)
{
    ceb_event *ev;
    int rc = ceb_event_new(&ev);
    if (rc < 0)
        return rc;
    ceb_buf buf = {0};
    ceb_diag d;
    ceb_diag_clear(&d);
    ceb_buf_printf(&buf, "%s%" PRId64, g->cfg.id_prefix, n);
    rc = ceb_event_set(ev, "id", buf.data, &d);
    if (rc == 0)
        rc = ceb_event_set(ev, "source", g->cfg.source, &d);
    if (rc == 0) {
        ceb_buf_reset(&buf);
        gen_render_type(g, n, &buf);
        rc = buf.data == NULL ? CEB_ENOMEM : ceb_event_set(ev, "type", buf.data, &d);
    }
    if (rc == 0)
        rc = ceb_event_set(ev, "datacontenttype", "application/json", &d);
    if (rc == 0) {
        ceb_buf_reset(&buf);
        rc = ceb_buf_printf(&buf, "{\"n\":%" PRId64 ",\"batch\":%" PRId64 ",\"pad\":\"%s\"}", n,
                            b, g->pad != NULL ? g->pad : "");
        if (rc == 0)
            rc = ceb_event_set_data(ev, CEB_DATA_JSON, buf.data, buf.len);
    }
    ceb_buf_free(&buf);
    if (rc < 0) {
        CEB_LOG_E(&g->ctx, "cannot build event %" PRId64 ": %s %s", n, ceb_strerror(rc),
                  d.message);
        ceb_event_unref(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

/* Emit one batch. Returns 0, or < 0 to stop generating. */
static int gen_emit_batch(gen_source *g)
{
    int64_t left = g->cfg.count - g->next;
    size_t n = (size_t)(left < g->cfg.batch ? left : g->cfg.batch);
    ceb_event **evs = malloc(n * sizeof(*evs));
    if (evs == NULL)
        return CEB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = gen_make_event(g, g->next + (int64_t)i, g->batch_no, &evs[i]);
        if (rc < 0) {
            for (size_t j = 0; j < i; j++)
                ceb_event_unref(evs[j]);
            free(evs);
            return rc;
        }
    }
    int64_t b = g->batch_no;
    g->next += (int64_t)n;
    g->batch_no++;
    g->outstanding++;
    /* The token is batch_no + 1 so that it is never NULL. */
    int rc = g->ctx.host->emit(g->ctx.inst, evs, n, (void *)(uintptr_t)(b + 1));
    free(evs);
    if (rc < 0) {
        g->outstanding--;
        gen_log_line(g, "emit-error ", b, rc);
        CEB_LOG_E(&g->ctx, "emit of batch %" PRId64 " failed: %s", b, ceb_strerror(rc));
        return rc;
    }
    return 0;
}

static void gen_tick(gen_source *g);
static void gen_timer_cb(void *arg);
static void gen_post_cb(void *arg);
static void gen_maybe_stopped(gen_source *g);

static void gen_idle_cb(uv_idle_t *h)
{
    gen_tick(h->data);
}

/*
 * Schedule the next batch. With no interval the source runs from its own
 * uv_idle_t, once per loop iteration, rather than from a 0 ms host timer or
 * host->post: both of those run work re-armed from inside their callback in
 * the same pass (libuv 1.44 timers; the core's post queue drains until
 * empty), so a chain of them would never let the host run and pause us.
 */
static void gen_schedule(gen_source *g)
{
    if (g->paused || g->ended || g->stopping)
        return;
    if (g->cfg.interval_ms == 0 && g->cfg.drive == GEN_DRIVE_IDLE) {
        if (!uv_is_active((uv_handle_t *)&g->idle))
            uv_idle_start(&g->idle, gen_idle_cb);
        return;
    }
    if (g->timer != NULL || g->posted)
        return;
    int rc;
    if (g->cfg.interval_ms == 0 && g->cfg.drive == GEN_DRIVE_POST) {
        g->posted = true;
        rc = g->ctx.host->post(g->ctx.inst, gen_post_cb, g);
        if (rc < 0)
            g->posted = false;
    } else {
        rc = g->ctx.host->timer_start(g->ctx.inst, (uint64_t)g->cfg.interval_ms,
                                      gen_timer_cb, g, &g->timer);
    }
    if (rc < 0)
        CEB_LOG_E(&g->ctx, "cannot schedule the next batch: %s", ceb_strerror(rc));
}

static void gen_end(gen_source *g)
{
    if (g->ended)
        return;
    g->ended = true;
    if (g->ack_log != NULL) {
        fprintf(g->ack_log, "end %" PRId64 "\n", g->next);
        fflush(g->ack_log);
    }
    g->ctx.host->source_ended(g->ctx.inst);
}

static void gen_maybe_stopped(gen_source *g)
{
    if (g->stopping && !g->stopped && g->outstanding == 0 && g->timer == NULL &&
        !g->idle_open && !g->idle_closing && !g->posted) {
        g->stopped = true;
        g->ctx.host->stopped(g->ctx.inst);
    }
}

static void gen_tick(gen_source *g)
{
    int burst = g->cfg.interval_ms > 0 ? 1 : GEN_BURST;
    for (int i = 0; i < burst && !g->paused && !g->stopping && g->next < g->cfg.count; i++) {
        if (gen_emit_batch(g) < 0) {
            gen_end(g);
            return;
        }
    }
    if (g->next >= g->cfg.count)
        gen_end(g);
    if (g->paused || g->ended || g->stopping) {
        if (g->idle_open)
            uv_idle_stop(&g->idle);
    } else {
        gen_schedule(g);
    }
}

static void gen_timer_cb(void *arg)
{
    gen_source *g = arg;
    g->timer = NULL;
    gen_tick(g);
}

static void gen_post_cb(void *arg)
{
    gen_source *g = arg;
    g->posted = false;
    if (g->stopping)
        gen_maybe_stopped(g);
    else if (!g->paused)
        gen_tick(g);
}

static int gen_source_create(ceb_instance *inst, const ceb_host *host, const void *config,
                             ceb_diag *diag, void **state)
{
    const gen_config *cfg = config;
    gen_source *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return ceb_diag_set(diag, CEB_ENOMEM, "out of memory");
    g->ctx.host = host;
    g->ctx.inst = inst;
    g->cfg = *cfg;
    if (cfg->data_size > 0) {
        g->pad = malloc(cfg->data_size + 1);
        if (g->pad == NULL) {
            free(g);
            return ceb_diag_set(diag, CEB_ENOMEM, "out of memory");
        }
        memset(g->pad, 'x', cfg->data_size);
        g->pad[cfg->data_size] = '\0';
    }
    *state = g;
    return 0;
}

static int gen_source_start(void *state)
{
    gen_source *g = state;
    if (g->cfg.ack_log != NULL) {
        g->ack_log = fopen(g->cfg.ack_log, "a");
        if (g->ack_log == NULL) {
            CEB_LOG_E(&g->ctx, "cannot open ack_log %s", g->cfg.ack_log);
            return CEB_EIO;
        }
    }
    int rc = uv_idle_init(g->ctx.host->loop(g->ctx.inst), &g->idle);
    if (rc < 0)
        return rc;
    g->idle.data = g;
    g->idle_open = true;
    if (g->cfg.count == 0) {
        gen_end(g);
        return 0;
    }
    gen_schedule(g);
    return 0;
}

static void gen_source_pause(void *state)
{
    gen_source *g = state;
    if (g->paused)
        return;
    g->paused = true;
    if (g->ack_log != NULL) {
        fputs("pause\n", g->ack_log);
        fflush(g->ack_log);
    }
    if (g->timer != NULL) {
        g->ctx.host->timer_stop(g->timer);
        g->timer = NULL;
    }
    if (g->idle_open)
        uv_idle_stop(&g->idle);
}

static void gen_source_resume(void *state)
{
    gen_source *g = state;
    if (!g->paused)
        return;
    g->paused = false;
    if (g->ack_log != NULL) {
        fputs("resume\n", g->ack_log);
        fflush(g->ack_log);
    }
    gen_schedule(g);
}

static void gen_source_ack(void *state, void *ack_token, int status)
{
    gen_source *g = state;
    int64_t b = (int64_t)(uintptr_t)ack_token - 1;
    gen_log_line(g, "", b, status);
    if (g->outstanding > 0)
        g->outstanding--;
    else
        CEB_LOG_E(&g->ctx, "ack for batch %" PRId64 " with nothing outstanding", b);
    gen_maybe_stopped(g);
}

static void gen_idle_closed(uv_handle_t *h)
{
    gen_source *g = h->data;
    g->idle_closing = false;
    gen_maybe_stopped(g);
}

static void gen_source_stop(void *state)
{
    gen_source *g = state;
    if (g->stopping)
        return;
    g->stopping = true;
    if (g->timer != NULL) {
        g->ctx.host->timer_stop(g->timer);
        g->timer = NULL;
    }
    if (g->idle_open) {
        g->idle_open = false;
        g->idle_closing = true;
        uv_close((uv_handle_t *)&g->idle, gen_idle_closed);
    }
    gen_maybe_stopped(g);
}

static void gen_source_destroy(void *state)
{
    gen_source *g = state;
    if (g == NULL)
        return;
    if (g->ack_log != NULL)
        fclose(g->ack_log);
    free(g->pad);
    free(g);
}

static const ceb_source_ops gen_source_ops = {
    .options = gen_source_options,
    .config_size = sizeof(gen_config),
    .create = gen_source_create,
    .start = gen_source_start,
    .pause = gen_source_pause,
    .resume = gen_source_resume,
    .ack = gen_source_ack,
    .stop = gen_source_stop,
    .destroy = gen_source_destroy,
};

CEB_PLUGIN(gen,
    .version = "1.0.0",
    .description = "test source: generates numbered events in batches, logs acks",
    .source = &gen_source_ops);
