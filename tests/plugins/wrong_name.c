/* Loader fixture: CEB_PLUGIN(renamed, ...) built as wrong_name.so. */
#include <cebridge/cebridge.h>

static int wn_create(ceb_instance *inst, const ceb_host *host, const void *config,
                     ceb_diag *diag, void **state)
{
    (void)inst; (void)host; (void)config; (void)diag; (void)state;
    return 0;
}
static int wn_start(void *state) { (void)state; return 0; }
static void wn_stop(void *state) { (void)state; }
static int wn_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    (void)state; (void)dlv; (void)ev;
    return 0;
}

static const ceb_sink_ops wn_sink_ops = {
    .create = wn_create, .start = wn_start, .deliver = wn_deliver,
    .stop = wn_stop, .destroy = wn_stop,
};

CEB_PLUGIN(renamed,
    .version = "0.0.1",
    .description = "Loader test fixture: file stem differs from the name",
    .sink = &wn_sink_ops);
