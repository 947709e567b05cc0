/* The file plugin: JSON lines in (one-shot or tail) and out (file or stdout). */
#include "file_internal.h"

CEB_PLUGIN(file,
    .version     = "1.0.0",
    .description = "JSON-lines CloudEvents from a file or stdin, to a file or stdout",
    .source      = &file_source_ops,
    .sink        = &file_sink_ops);
