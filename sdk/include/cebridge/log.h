#ifndef CEBRIDGE_LOG_H
#define CEBRIDGE_LOG_H

#include "host.h"

/*
 * Convenience for plugins: keep a ceb_ctx in your state and log with
 * CEB_LOG_I(ctx, "connected to %s", url). Loop thread only (host->log).
 */
typedef struct ceb_ctx {
    const ceb_host *host;
    ceb_instance *inst;
} ceb_ctx;

#define CEB_LOG_AT(ctx, lvl, ...) \
    ((ctx)->host->log((ctx)->inst, (lvl), __VA_ARGS__))
#define CEB_LOG_E(ctx, ...) CEB_LOG_AT(ctx, CEB_LOG_ERROR, __VA_ARGS__)
#define CEB_LOG_W(ctx, ...) CEB_LOG_AT(ctx, CEB_LOG_WARN, __VA_ARGS__)
#define CEB_LOG_I(ctx, ...) CEB_LOG_AT(ctx, CEB_LOG_INFO, __VA_ARGS__)
#define CEB_LOG_D(ctx, ...) \
    ((ctx)->host->log_enabled((ctx)->inst, CEB_LOG_DEBUG) ? CEB_LOG_AT(ctx, CEB_LOG_DEBUG, __VA_ARGS__) : (void)0)

#endif
