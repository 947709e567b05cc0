/* Fixture plugins for test_testhost's load checks; FX_KIND picks the defect. */
#include <cebridge/plugin.h>

#define FX_GOOD 1
#define FX_BADABI 2
#define FX_BADSIZE 3
#define FX_WRONGNAME 4
#define FX_NOENTRY 5

static int fx_create(ceb_instance *i, const ceb_host *h, const void *c, ceb_diag *d, void **s)
{
    (void)i; (void)h; (void)c; (void)d; *s = 0;
    return 0;
}
static int fx_start(void *s) { (void)s; return 0; }
static int fx_deliver(void *s, ceb_delivery *dl, const ceb_event *ev) { (void)s; (void)dl; (void)ev; return 0; }
static void fx_stop(void *s) { (void)s; }
static void fx_destroy(void *s) { (void)s; }
static const ceb_option fx_options[] = {CEB_OPTION_END};
static const ceb_sink_ops fx_sink = {.options = fx_options, .create = fx_create, .start = fx_start,
                                     .deliver = fx_deliver, .stop = fx_stop, .destroy = fx_destroy};

#if FX_KIND == FX_NOENTRY
CEB_EXPORT const ceb_sink_ops *fx_something_else(void);
const ceb_sink_ops *fx_something_else(void) { return &fx_sink; }
#else
CEB_EXPORT const ceb_plugin *ceb_plugin_entry(void);
const ceb_plugin *ceb_plugin_entry(void)
{
    static const ceb_plugin desc = {
#if FX_KIND == FX_BADABI
        .abi = 99,
#else
        .abi = CEB_ABI_VERSION,
#endif
#if FX_KIND == FX_BADSIZE
        .size = 8,
#else
        .size = sizeof(ceb_plugin),
#endif
        .name = "fx_good",
        .version = "1",
        .sink = &fx_sink,
    };
    return &desc;
}
#endif
