/* Loader fixture: right ABI, descriptor size of other headers. Hand-written entry. */
#include <cebridge/cebridge.h>

static int bs_create(ceb_instance *inst, const ceb_host *host, const void *config,
                     ceb_diag *diag, void **state)
{
    (void)inst; (void)host; (void)config; (void)diag; (void)state;
    return 0;
}

static const ceb_sink_ops bs_sink_ops = { .create = bs_create };

CEB_EXPORT const ceb_plugin *ceb_plugin_entry(void);
const ceb_plugin *ceb_plugin_entry(void)
{
    static const ceb_plugin desc = {
        .abi = CEB_ABI_VERSION,
        .size = sizeof(ceb_plugin) - 8,
        .name = "bad_size",
        .sink = &bs_sink_ops,
    };
    return &desc;
}
