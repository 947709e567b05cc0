/* Loader fixture: a sink without deliver(). */
#include <cebridge/cebridge.h>

static int nd_create(ceb_instance *inst, const ceb_host *host, const void *config,
                     ceb_diag *diag, void **state)
{
    (void)inst; (void)host; (void)config; (void)diag; (void)state;
    return 0;
}
static int nd_start(void *state) { (void)state; return 0; }
static void nd_stop(void *state) { (void)state; }

static const ceb_sink_ops nd_sink_ops = {
    .create = nd_create, .start = nd_start, .stop = nd_stop, .destroy = nd_stop,
};

CEB_PLUGIN(no_deliver,
    .version = "0.0.1",
    .description = "Loader test fixture: sink ops without deliver()",
    .sink = &nd_sink_ops);
