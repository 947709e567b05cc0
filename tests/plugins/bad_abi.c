/*
 * Loader fixture: a descriptor stamped with ABI 99. CEB_PLUGIN() cannot do
 * that (setting .abi twice is an -Woverride-init error), so the entry point
 * is written by hand, as a plugin built against other headers would be.
 */
#include <cebridge/cebridge.h>

CEB_EXPORT const ceb_plugin *ceb_plugin_entry(void);
const ceb_plugin *ceb_plugin_entry(void)
{
    static const ceb_plugin desc = {
        .abi = 99,
        .size = sizeof(ceb_plugin),
        .name = "bad_abi",
        .version = "0.0.1",
        .description = "Loader test fixture: built for another ABI",
    };
    return &desc;
}
