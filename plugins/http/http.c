/* http.c - the http plugin: a CloudEvents webhook receiver (source) and an
   HTTP sink per the CloudEvents HTTP binding. See README.md. */
#include "http.h"

CEB_PLUGIN(http,
    .version     = "1.0.0",
    .description = "CloudEvents over HTTP: webhook receiver (binary, structured, batch, wrapped JSON) and HTTP sink",
    .source      = &http_source_ops,
    .sink        = &http_sink_ops);
