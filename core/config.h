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

/* Collected error lines ("FILE:LINE:COL: path: message"). */
typedef struct ceb_conf_errors {
    char **lines; size_t n;
} ceb_conf_errors;
void ceb_conf_errors_free(ceb_conf_errors *e);

/* Finds a plugin by name (the loader). Returns 0 or an error with `d`. */
typedef int (*ceb_conf_resolve_fn)(void *arg, const char *plugin_name,
                                   const ceb_plugin **out, ceb_diag *d);

/*
 * Read every *.json in `dir` (or one file when `dir` is a regular file).
 * `plugin_dir_override` (--plugin-dir) wins over settings.plugin_dir; the
 * resolver is called after settings are read (it may re-point the loader).
 * Returns 0 and *out, or CEB_ECONFIG with every error in `errs` (then *out
 * is NULL), or CEB_ENOMEM / CEB_ENOENT (dir missing: one line in errs).
 */
int  ceb_conf_load(const char *dir, ceb_conf_resolve_fn resolve, void *arg,
                   ceb_conf **out, ceb_conf_errors *errs);
/* Same from an in-memory text, named `name` in messages (tests). */
int  ceb_conf_load_text(const char *name, const char *text, ceb_conf_resolve_fn resolve,
                        void *arg, ceb_conf **out, ceb_conf_errors *errs);
void ceb_conf_free(ceb_conf *c);

const ceb_conf_instance *ceb_conf_find_source(const ceb_conf *c, const char *name);
const ceb_conf_instance *ceb_conf_find_sink(const ceb_conf *c, const char *name);

/* Parse JSON with comments, remembering positions: exported for tests and
   the CLI. On a syntax error fills `pos` and `d`. */
int  ceb_conf_parse_json(const char *name, const char *text, size_t len, cJSON **out,
                         ceb_conf_pos *pos, ceb_diag *d);

#endif
