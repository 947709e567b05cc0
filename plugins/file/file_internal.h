#ifndef CEB_PLUGIN_FILE_INTERNAL_H
#define CEB_PLUGIN_FILE_INTERNAL_H

/* The file plugin's own declarations, shared by file.c and its two roles. */
#include <cebridge/cebridge.h>

/* The type given to lines that are not valid events (see README.md). */
#define FILE_INVALID_TYPE "dev.cebridge.file.invalid"

typedef struct file_source_config {
    const char *path;
    bool follow;
    bool strict;
    const char *default_source;
    const char *offset_file;
    int64_t batch;
    int64_t poll_interval_ms;
    uint64_t max_line;
} file_source_config;

typedef struct file_sink_config {
    const char *path;
    bool fsync;
    bool append;
} file_sink_config;

extern const ceb_source_ops file_source_ops;
extern const ceb_sink_ops file_sink_ops;

#endif
