#ifndef CEB_CORE_CONFIG_H
#define CEB_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <cebridge/buf.h>
#include <cebridge/diag.h>
#include <cebridge/plugin.h>
#include <cebridge/template.h>
#include "cesql/cesql.h"

/*
 * Configuration from drop-in files (DESIGN §4): every *.json in a directory,
 * lexical order, JSON with // and block comments, top-level keys
 * `sources`, `sinks`, `routes` (objects keyed by instance name) and
 * `settings`. A name defined twice is an error naming both files. Every
 * error reads `FILE:LINE:COL: json.path: message` and all errors are
 * collected, not just the first (for --check).
 *
 * Plugin options are validated against the plugin's option table (the
 * plugin is obtained through `resolve`), so a loaded ceb_conf is ready to
 * create instances from.
 *
 * Rules and decisions (user-facing: the README's configuration tour should
 * stay in step with this list):
 *   - Drop-ins: the names ending in ".json" that do not start with '.', in
 *     strcmp order; other files, hidden files and subdirectories (such as
 *     conf.d/examples/) are ignored. A path to a regular file loads that file
 *     alone. An empty directory is valid (a warning; nothing runs).
 *   - Syntax: RFC 8259 JSON plus // and block comments and a UTF-8 BOM.
 *     Trailing commas, single quotes, duplicate keys in one object, nesting
 *     deeper than 64, invalid UTF-8 and \u0000 are errors. The first syntax
 *     error of a file stops that file; other files are still checked.
 *   - Names of sources, sinks and routes: [a-z0-9][a-z0-9_.-]*, at most 64
 *     bytes. A source and a sink may share a name; two sources may not, even
 *     in different files.
 *   - Settings: plugin_dir, drain_timeout (default 10s), max_inflight
 *     (default 1000, 1..1000000), log_level (error|warn|info|debug|trace),
 *     log_format (logfmt|json). When several files set the same setting,
 *     the later file wins (systemd drop-in convention).
 *   - Durations: "250ms", "30s", "5m", "1h30m" or an integer of milliseconds.
 *   - Routes: "from" and "to" take a name or a non-empty list of names, each
 *     defined and listed once; "filter" is CESQL text (data extension on) or
 *     a Subscriptions API filter object; a filter whose static type is not
 *     Boolean is an error (it could never match). "dead_letter" must name a
 *     sink that is NOT one of the route's own "to" sinks: an event that sink
 *     refused permanently would fail there again and be nacked forever.
 *     "transform": {"set": {attr: template}, "remove": [attr, ...]}; the
 *     required attributes (id, source, specversion, type) cannot be removed,
 *     specversion cannot be set, an attribute cannot be both set and removed.
 *   - Warnings (not errors, the configuration loads): a source or sink no
 *     route uses, an empty configuration directory.
 *   - Secrets: validated and resolved by the option validator; neither
 *     errors nor fingerprints contain a secret's value.
 */

typedef struct ceb_conf_pos {
    const char *file;   /* points into ceb_conf's file list */
    int line;           /* 1-based */
    int col;            /* 1-based, in bytes */
} ceb_conf_pos;

typedef enum { CEB_ROLE_SOURCE = 1, CEB_ROLE_SINK = 2 } ceb_role;

struct ceb__optvals;

typedef struct ceb_conf_instance {
    char *name;
    char *plugin_name;
    ceb_role role;
    ceb_conf_pos pos;
    const ceb_plugin *plugin;      /* resolved */
    void *config;                  /* the role's config struct, filled */
    struct ceb__optvals *owned;    /* allocations `config` points into */
    /* Canonical text of the instance object (secrets as given, e.g.
       "${env:X}", never their values): equal text = unchanged on reload. */
    char *fingerprint;
    /* Core keys of a sink instance */
    uint32_t max_inflight;         /* "max_inflight", default settings.max_inflight */
} ceb_conf_instance;

typedef enum { CEB_BACKOFF_EXPONENTIAL = 0, CEB_BACKOFF_LINEAR, CEB_BACKOFF_CONSTANT } ceb_backoff;

typedef struct ceb_conf_retry {
    uint32_t attempts;        /* total attempts incl. the first; default 5 */
    ceb_backoff backoff;      /* default exponential (with full jitter) */
    int64_t initial_ms;       /* default 200 */
    int64_t max_ms;           /* cap, default 30000 */
    int64_t timeout_ms;       /* per attempt; default 30000; 0 = none */
} ceb_conf_retry;

typedef struct ceb_conf_transform_op {
    char *attr;               /* attribute name */
    ceb_template *value;      /* NULL: remove the attribute */
} ceb_conf_transform_op;

typedef struct ceb_conf_route {
    char *name;
    ceb_conf_pos pos;
    char **from; size_t nfrom;      /* source instance names */
    char **to;   size_t nto;        /* sink instance names */
    char *filter_text;              /* NULL: every event matches */
    ceb_cesql_expr *filter;         /* compiled; NULL when no filter */
    ceb_conf_retry retry;
    char *dead_letter;              /* sink name or NULL */
    ceb_conf_transform_op *transform; size_t ntransform;  /* "transform": {"set": {...}, "remove": [...]} */
} ceb_conf_route;

typedef struct ceb_conf_settings {
    char *plugin_dir;               /* NULL: default */
    int64_t drain_timeout_ms;       /* default 10000 */
    uint32_t max_inflight;          /* default per-sink bound, default 1000 */
    char *log_level;                /* NULL or error|warn|info|debug|trace */
    char *log_format;               /* NULL or logfmt|json */
} ceb_conf_settings;

typedef struct ceb_conf {
    char **files; size_t nfiles;    /* the drop-ins read, in order */
    ceb_conf_instance *sources; size_t nsources;
    ceb_conf_instance *sinks;   size_t nsinks;
    ceb_conf_route *routes;     size_t nroutes;
    ceb_conf_settings settings;
} ceb_conf;

/*
 * Collected messages ("FILE:LINE:COL: path: message"; "FILE: message" for a
 * file that cannot be read; "DIR: message" for the directory), sorted by
 * file (in load order, i.e. lexical) then line and column.
 * The load functions zero the struct on entry and fill it on success too
 * (warnings): always release it with ceb_conf_errors_free().
 */
typedef struct ceb_conf_errors {
    char **lines; size_t n;            /* errors: the configuration is refused */
    char **warnings; size_t nwarnings; /* warnings: it loads anyway */
} ceb_conf_errors;
/* Free every line and zero the struct. NULL and a zeroed struct are fine. */
void ceb_conf_errors_free(ceb_conf_errors *e);

/* Finds a plugin by name (the loader). Returns 0 or an error with `d`. */
typedef int (*ceb_conf_resolve_fn)(void *arg, const char *plugin_name,
                                   const ceb_plugin **out, ceb_diag *d);

/* Called once, after every file's settings are read and before the first
   resolve: lets the caller point its loader at settings.plugin_dir (unless
   --plugin-dir overrides it). A negative return is reported as an error
   "settings: <d.message>". */
typedef int (*ceb_conf_settings_fn)(void *arg, const ceb_conf_settings *s, ceb_diag *d);

typedef struct ceb_conf_load_opts {
    ceb_conf_resolve_fn resolve;   /* NULL: plugins are not resolved and options not
                                      validated (instance.plugin and .config stay NULL) */
    ceb_conf_settings_fn settings; /* may be NULL */
    void *arg;                     /* passed to both */
} ceb_conf_load_opts;

/*
 * Read every *.json in `dir` (or one file when `dir` is a regular file).
 * The resolver is called after settings are read (see ceb_conf_load_with to
 * be told about them first), once per instance.
 * Returns 0 and *out (warnings, if any, in `errs`), or CEB_ECONFIG with
 * every error in `errs` (then *out is NULL), or CEB_ENOMEM, or CEB_ENOENT
 * (dir missing: one line in errs; other unreadable dirs give CEB_ECONFIG).
 * Ownership: *out is the caller's (ceb_conf_free); `errs` is the caller's
 *            (ceb_conf_errors_free, also after success). `errs` may be NULL.
 * Thread:    any; reentrant (no global state). The resolver runs on the
 *            calling thread.
 */
int  ceb_conf_load(const char *dir, ceb_conf_resolve_fn resolve, void *arg,
                   ceb_conf **out, ceb_conf_errors *errs);
int  ceb_conf_load_with(const char *dir, const ceb_conf_load_opts *opts,
                        ceb_conf **out, ceb_conf_errors *errs);
/* Same from an in-memory NUL-terminated text, named `name` in messages (tests). */
int  ceb_conf_load_text(const char *name, const char *text, ceb_conf_resolve_fn resolve,
                        void *arg, ceb_conf **out, ceb_conf_errors *errs);
int  ceb_conf_load_text_with(const char *name, const char *text, const ceb_conf_load_opts *opts,
                             ceb_conf **out, ceb_conf_errors *errs);
/* Free everything, including compiled filters, templates and option values
   (call only after the instances created from it are destroyed). NULL is fine. */
void ceb_conf_free(ceb_conf *c);

/* Look an instance up by name. Returns a pointer borrowed from `c` (valid
   until ceb_conf_free) or NULL. Thread: any, on a conf no one modifies. */
const ceb_conf_instance *ceb_conf_find_source(const ceb_conf *c, const char *name);
const ceb_conf_instance *ceb_conf_find_sink(const ceb_conf *c, const char *name);

/* Parse JSON with comments (same syntax rules as the drop-ins): exported for
   tests and the CLI. Returns 0 and *out (cJSON_Delete it), or CEB_ECONFIG
   with `pos` (file = `name`, borrowed) and `d` (message; field = JSON path
   for a duplicate key) set, or CEB_ENOMEM. `pos` and `d` may be NULL. */
int  ceb_conf_parse_json(const char *name, const char *text, size_t len, cJSON **out,
                         ceb_conf_pos *pos, ceb_diag *d);

#endif
