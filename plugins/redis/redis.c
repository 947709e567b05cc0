/*
 * The redis plugin: pub/sub, lists and Streams, source and sink, with
 * FastStream envelopes (README.md; shared/spec/faststream-redis-envelope.md).
 */
#include "redis_internal.h"

extern const ceb_source_ops redis_source_ops;
extern const ceb_sink_ops redis_sink_ops;

const char *const redis_format_names[] = {"auto",       "structured", "binary",
                                          "fields",     "faststream", "faststream-json",
                                          NULL};

CEB_PLUGIN(redis,
    .version     = "1.0.0",
    .description = "Redis pub/sub, lists and Streams: source and sink (FastStream-compatible)",
    .source      = &redis_source_ops,
    .sink        = &redis_sink_ops);
