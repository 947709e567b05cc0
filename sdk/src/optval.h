#ifndef CEB_SDK_OPTVAL_H
#define CEB_SDK_OPTVAL_H

/*
 * Option validation shared by the core's config loader and the test host.
 * Project-internal (not installed): symbols are exported from
 * libcebridge-sdk with the ceb__ prefix for the core and the test host only.
 */
#include <cjson/cJSON.h>
#include <cebridge/buf.h>
#include <cebridge/diag.h>
#include <cebridge/options.h>
#include <cebridge/plugin.h>

typedef struct ceb__optvals ceb__optvals;

/*
 * Called once per finding; d->field is the dotted option path ("wrap.type").
 * d->code is CEB_ECONFIG for an error and 0 for a warning: the only warning
 * is a CEB_OPT_DEPRECATED option that is set ("deprecated, use NEW"), which
 * is still applied and does not make ceb__options_apply fail.
 *
 * Messages (d->message; the core prefixes "FILE:LINE:COL: sinks.NAME.FIELD: "):
 *   required option missing
 *   unknown option; did you mean 'topic'? (allowed: brokers, topic, key)
 *   unknown option (allowed: ...)            -- no name within edit distance 2
 *   unknown option; this plugin takes no options
 *   unknown option; nest it: {"wrap": {"type": ...}}  -- a dotted key given flat
 *   option belongs to kafka sources, this is a sink
 *   expected an object, got 3                -- a parent of a dotted option
 *   expected a string, got 3
 *   expected an integer, got "x"
 *   expected true or false, got "yes"
 *   expected a duration like "5ms" or "2s", got "fast"
 *   expected a size like "64KiB" or "1MB", got "big"
 *   expected one of: binary, structured (got "x")
 *   expected a list of strings, got 3        (an element: field "name[2]")
 *   must be between 1 and 100, got 500       (durations and sizes in units: 1s, 64KiB)
 *   invalid template: column 3: ...          (the template engine's text)
 *   expected a string (literal, ${env:NAME} or ${file:PATH})   -- secrets: the value is never shown
 *   environment variable NAME is not set | environment variable NAME is empty
 *   cannot read secret file PATH: <strerror> | secret file PATH is larger than 1 MiB
 *   deprecated, use NEW                      (warning, code 0)
 * "got ..." shows the value as compact JSON, cut to 40 characters.
 */
typedef void (*ceb__opt_report_fn)(void *arg, const ceb_diag *d);

/*
 * Validate the instance object `obj` against `table` and fill `config`
 * (`config_size` bytes: zeroed, then defaults, then the user's values).
 * Keys listed in `skip_keys` (NULL-terminated; "plugin", the core's own keys)
 * are ignored. `other_table`/`other_role` (may be NULL) let an unknown key be
 * explained as "option belongs to redis sources, this is a sink". Unknown
 * keys get a did-you-mean suggestion and the allowed list. Secrets are
 * resolved (${env:NAME}, ${file:PATH}); their values never appear in a
 * message. Every error is reported, not just the first.
 *
 * Returns 0, or CEB_ECONFIG after reporting, or CEB_ENOMEM. On success
 * *owned holds every allocation the config points into (release with
 * ceb__optvals_free after destroy()); on failure nothing is left allocated.
 */
int ceb__options_apply(const ceb_option *table, size_t config_size, const cJSON *obj,
                       const char *plugin_name, const char *role,
                       const char *const *skip_keys,
                       const ceb_option *other_table, const char *other_role,
                       void *config, ceb__optvals **owned,
                       ceb__opt_report_fn report, void *arg);
void ceb__optvals_free(ceb__optvals *v);

/*
 * Self-check of a plugin's table at load (STYLE §9.3 step 7): names unique
 * and lower_snake_case (dots allowed), enums have choices, every default
 * parses with the user-value parser. Returns 0 or CEB_EPLUGIN with `d`.
 */
int ceb__options_check_table(const ceb_option *table, ceb_diag *d);

/*
 * Render a table for humans: `markdown` false gives the --describe text
 * (name, type, default, required, help; secrets' defaults as <secret>),
 * true a Markdown table for plugin READMEs. Appends to `out`.
 */
int ceb__options_describe(const ceb_option *table, bool markdown, ceb_buf *out);

/*
 * Secrets (secret.c): resolve literal text, ${env:NAME} or ${file:PATH}
 * (one trailing newline of the file dropped). Errors are CEB_ECONFIG naming
 * the variable or path, never a value; CEB_ENOMEM. Free with ceb__secret_free
 * (which wipes the value).
 */
int ceb__secret_resolve(const char *text, ceb_secret **out, ceb_diag *d);
void ceb__secret_free(ceb_secret *s);

/* Wrap a cJSON node as the ABI's opaque ceb_json (same object). */
static inline const ceb_json *ceb__json_wrap(const cJSON *j) { return (const ceb_json *)(const void *)j; }
static inline const cJSON *ceb__json_unwrap(const ceb_json *j) { return (const cJSON *)(const void *)j; }

/*
 * plugin_open.c: open `path` as plugin `stem` with every load check (file
 * and directory permissions, dlopen RTLD_NOW|RTLD_LOCAL, entry symbol, ABI
 * first, size, name == stem, required callbacks, option tables). Messages
 * start "plugin STEM: " and name the path. On success *handle is the
 * dlopen handle (the caller dlcloses it) and *out the descriptor.
 * Returns 0, CEB_ENOENT, CEB_EPERM, CEB_EABI, CEB_EPLUGIN.
 */
int ceb__plugin_open(const char *stem, const char *path, void **handle,
                     const ceb_plugin **out, ceb_diag *d);
/* The file stem of `path` ("/x/redis.so" -> "redis") into buf. */
void ceb__plugin_stem(const char *path, char *buf, size_t cap);

#endif
