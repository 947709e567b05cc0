/* Loader fixture: neither a source nor a sink. */
#include <cebridge/cebridge.h>

CEB_PLUGIN(no_roles,
    .version = "0.0.1",
    .description = "Loader test fixture: no role");
