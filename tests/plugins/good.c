/* Loader fixture: a minimal valid plugin with both roles and a few options. */
#include <cebridge/cebridge.h>

struct good_config {
    const char *path;
    int64_t lines;
    bool verbose;
    int64_t timeout_ms;
};

static const ceb_option good_options[] = {
    CEB_OPT_STRING_FIELD("path", "\"-\"", 0, struct good_config, path, "File to read or write."),
    CEB_OPT_INT_FIELD("lines", "10", 0, struct good_config, lines, 0, 1000, "Lines per batch."),
    CEB_OPT_BOOL_FIELD("verbose", "false", 0, struct good_config, verbose, "Log every event."),
    CEB_OPTION_END
};

static const ceb_option good_sink_options[] = {
    CEB_OPT_STRING_FIELD("path", NULL, CEB_OPT_REQUIRED, struct good_config, path, "File to write."),
    CEB_OPT_DURATION_FIELD("timeout", "\"5s\"", 0, struct good_config, timeout_ms, 0, 0, "Write timeout."),
    CEB_OPTION_END
};

static int good_create(ceb_instance *inst, const ceb_host *host, const void *config,
                       ceb_diag *diag, void **state)
{
    (void)inst; (void)host; (void)config; (void)diag;
    *state = NULL;
    return 0;
}
static int good_start(void *state) { (void)state; return 0; }
static void good_ack(void *state, void *token, int status) { (void)state; (void)token; (void)status; }
static void good_stop(void *state) { (void)state; }
static void good_destroy(void *state) { (void)state; }
static int good_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    (void)state; (void)dlv; (void)ev;
    return 0;
}

static const ceb_source_ops good_source_ops = {
    .options = good_options, .config_size = sizeof(struct good_config),
    .create = good_create, .start = good_start, .ack = good_ack,
    .stop = good_stop, .destroy = good_destroy,
};
static const ceb_sink_ops good_sink_ops = {
    .options = good_sink_options, .config_size = sizeof(struct good_config),
    .create = good_create, .start = good_start, .deliver = good_deliver,
    .stop = good_stop, .destroy = good_destroy,
};

CEB_PLUGIN(good,
    .version = "1.2.3",
    .description = "Loader test fixture: a minimal source and sink",
    .source = &good_source_ops,
    .sink = &good_sink_ops);
