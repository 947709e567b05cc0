/* Loader fixture: an option whose default does not parse as its type. */
#include <cebridge/cebridge.h>

struct bd_config {
    int64_t timeout_ms;
};

static const ceb_option bd_options[] = {
    CEB_OPT_DURATION_FIELD("timeout", "\"forever\"", 0, struct bd_config, timeout_ms, 0, 0,
                           "Write timeout."),
    CEB_OPTION_END
};

static int bd_create(ceb_instance *inst, const ceb_host *host, const void *config,
                     ceb_diag *diag, void **state)
{
    (void)inst; (void)host; (void)config; (void)diag; (void)state;
    return 0;
}
static int bd_start(void *state) { (void)state; return 0; }
static void bd_stop(void *state) { (void)state; }
static int bd_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    (void)state; (void)dlv; (void)ev;
    return 0;
}

static const ceb_sink_ops bd_sink_ops = {
    .options = bd_options, .config_size = sizeof(struct bd_config),
    .create = bd_create, .start = bd_start, .deliver = bd_deliver,
    .stop = bd_stop, .destroy = bd_stop,
};

CEB_PLUGIN(bad_default,
    .version = "0.0.1",
    .description = "Loader test fixture: a default that does not parse",
    .sink = &bd_sink_ops);
