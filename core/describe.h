#ifndef CEB_CORE_DESCRIBE_H
#define CEB_CORE_DESCRIBE_H

#include <cebridge/buf.h>
#include <cebridge/diag.h>
#include "config.h"
#include "loader.h"

/*
 * `cebridge --describe` (DESIGN §3, §7): what plugins are installed, what
 * options a plugin takes (rendered from its option tables, so the text and
 * the README never drift from the code) and how a configuration routes
 * events. Everything is appended to a ceb_buf the caller owns and frees.
 * Thread: the caller's (main, before the loop runs).
 */
typedef enum { CEB_DESCRIBE_TEXT = 0, CEB_DESCRIBE_MARKDOWN } ceb_describe_format;

/* "text" or "markdown". Returns 0 or CEB_EINVAL. */
int ceb_describe_parse_format(const char *s, ceb_describe_format *out);

/*
 * Every *.so in the loader's directory, sorted, one line each:
 *
 *   plugins in /usr/lib/cebridge/plugins:
 *     file  1.0.0  source, sink  JSON lines in and out
 *     bad   (not loadable: plugin bad (/x/bad.so) was built for cebridge ABI 2; ...)
 *
 * A plugin that cannot be loaded is listed with the loader's reason rather
 * than hidden. Loads each plugin (they stay loaded in `l`).
 * Returns 0, CEB_ENOENT (the directory cannot be read), CEB_ENOMEM.
 */
int ceb_describe_plugins(ceb_loader *l, ceb_buf *out);

/*
 * One plugin: name, version, description, file, then per role its options
 * table from ceb__options_describe(); CEB_DESCRIBE_MARKDOWN gives the
 * Markdown used in the plugin's README ("### Source options" + table).
 * Returns 0, or the loader's error with `d` set (unknown plugin, refused
 * file), or CEB_ENOMEM.
 */
int ceb_describe_plugin(ceb_loader *l, const char *name, ceb_describe_format fmt,
                        ceb_buf *out, ceb_diag *d);

/*
 * The routing graph of a loaded configuration:
 *
 *   sources:
 *     ci-redis  (redis)
 *   sinks:
 *     ci-kafka  (kafka, max_inflight 1000)
 *   routes:
 *     builds-to-kafka: ci-redis -> [type LIKE 'x.%'] -> ci-kafka; dead letter -> dlq-file
 *       retry: 8 attempts, exponential backoff 200ms..30s, timeout 30s
 *
 * Sources and sinks that no route uses are marked "(unused)".
 * Returns 0 or CEB_ENOMEM.
 */
int ceb_describe_routes(const ceb_conf *c, ceb_buf *out);

#endif
