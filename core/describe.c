/*
 * `cebridge --describe`: installed plugins, a plugin's options, and the
 * routing graph of a configuration.
 */
#include "describe.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cebridge/errors.h>
#include "optval.h"

int ceb_describe_parse_format(const char *s, ceb_describe_format *out)
{
    if (s != NULL && strcasecmp(s, "text") == 0) {
        *out = CEB_DESCRIBE_TEXT;
        return 0;
    }
    if (s != NULL && (strcasecmp(s, "markdown") == 0 || strcasecmp(s, "md") == 0)) {
        *out = CEB_DESCRIBE_MARKDOWN;
        return 0;
    }
    return CEB_EINVAL;
}

static const char *roles_text(const ceb_plugin *p)
{
    if (p->source && p->sink)
        return "source, sink";
    return p->source ? "source" : "sink";
}

static bool table_empty(const ceb_option *t)
{
    return t == NULL || t->name == NULL;
}

/* Width of the widest name, for aligned columns. */
static size_t name_width(char **names, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len > w)
            w = len;
    }
    return w;
}

int ceb_describe_plugins(ceb_loader *l, ceb_buf *out)
{
    char **names = NULL;
    size_t n = 0;
    int rc = ceb_loader_list(l, &names, &n);
    if (rc < 0)
        return rc;
    rc = ceb_buf_printf(out, "plugins in %s:\n", ceb_loader_dir(l));
    if (rc == 0 && n == 0)
        rc = ceb_buf_append_str(out, "  (none)\n");
    int w = (int)name_width(names, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ceb_plugin *p = NULL;
        ceb_diag d = {0};
        if (ceb_loader_get(l, names[i], &p, &d) < 0) {
            rc = ceb_buf_printf(out, "  %-*s  (not loadable: %s)\n", w, names[i], d.message);
            continue;
        }
        rc = ceb_buf_printf(out, "  %-*s  %s  %s  %s\n", w, names[i],
                            p->version ? p->version : "-", roles_text(p),
                            p->description ? p->description : "");
    }
    ceb_loader_names_free(names, n);
    return rc;
}

static int describe_role(ceb_buf *out, const char *role, const char *Role, const ceb_option *t,
                         ceb_describe_format fmt)
{
    int rc;
    if (fmt == CEB_DESCRIBE_MARKDOWN) {
        rc = ceb_buf_printf(out, "\n### %s options\n\n", Role);
        if (rc == 0)
            rc = table_empty(t) ? ceb_buf_append_str(out, "None.\n")
                                : ceb__options_describe(t, true, out);
        return rc;
    }
    rc = ceb_buf_printf(out, "\n%s options:\n", role);
    if (rc == 0)
        rc = table_empty(t) ? ceb_buf_append_str(out, "  (none)\n")
                            : ceb__options_describe(t, false, out);
    return rc;
}

int ceb_describe_plugin(ceb_loader *l, const char *name, ceb_describe_format fmt,
                        ceb_buf *out, ceb_diag *d)
{
    const ceb_plugin *p = NULL;
    int rc = ceb_loader_get(l, name, &p, d);
    if (rc < 0)
        return rc;
    if (fmt == CEB_DESCRIBE_MARKDOWN)
        rc = ceb_buf_printf(out, "## %s %s\n\n%s\n\nRoles: %s.\n", p->name,
                            p->version ? p->version : "", p->description ? p->description : "",
                            roles_text(p));
    else
        rc = ceb_buf_printf(out, "plugin %s %s (%s)\n  %s\n  file: %s/%s.so\n", p->name,
                            p->version ? p->version : "-", roles_text(p),
                            p->description ? p->description : "", ceb_loader_dir(l), name);
    if (rc == 0 && p->source != NULL)
        rc = describe_role(out, "source", "Source", p->source->options, fmt);
    if (rc == 0 && p->sink != NULL)
        rc = describe_role(out, "sink", "Sink", p->sink->options, fmt);
    return rc;
}

/* 200 -> "200ms", 30000 -> "30s", 300000 -> "5m", 7200000 -> "2h". */
static void format_ms(char *buf, size_t cap, int64_t ms)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(buf, cap, "%" PRId64 "h", ms / 3600000);
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, cap, "%" PRId64 "m", ms / 60000);
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, cap, "%" PRId64 "s", ms / 1000);
    else
        snprintf(buf, cap, "%" PRId64 "ms", ms);
}

static const char *backoff_name(ceb_backoff b)
{
    switch (b) {
    case CEB_BACKOFF_EXPONENTIAL: return "exponential";
    case CEB_BACKOFF_LINEAR: return "linear";
    case CEB_BACKOFF_CONSTANT: return "constant";
    }
    return "?";
}

static bool in_list(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static bool source_used(const ceb_conf *c, const char *name)
{
    for (size_t i = 0; i < c->nroutes; i++)
        if (in_list(c->routes[i].from, c->routes[i].nfrom, name))
            return true;
    return false;
}

static bool sink_used(const ceb_conf *c, const char *name)
{
    for (size_t i = 0; i < c->nroutes; i++) {
        const ceb_conf_route *r = &c->routes[i];
        if (in_list(r->to, r->nto, name) || (r->dead_letter && strcmp(r->dead_letter, name) == 0))
            return true;
    }
    return false;
}

static size_t instances_width(const ceb_conf_instance *v, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].name);
        if (len > w)
            w = len;
    }
    return w;
}

static int append_names(ceb_buf *out, char *const *v, size_t n)
{
    int rc = 0;
    if (n == 0)
        return ceb_buf_append_str(out, "(nothing)");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = ceb_buf_printf(out, "%s%s", i ? ", " : "", v[i]);
    return rc;
}

/* The filter on one line: newlines and tabs of a multi-line filter become spaces. */
static int append_filter(ceb_buf *out, const char *f)
{
    int rc = ceb_buf_append(out, "[", 1);
    for (const char *p = f; rc == 0 && *p; p++) {
        char c = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        rc = ceb_buf_append(out, &c, 1);
    }
    if (rc == 0)
        rc = ceb_buf_append(out, "]", 1);
    return rc;
}

int ceb_describe_routes(const ceb_conf *c, ceb_buf *out)
{
    int rc = ceb_buf_append_str(out, "sources:\n");
    int w = (int)instances_width(c->sources, c->nsources);
    if (rc == 0 && c->nsources == 0)
        rc = ceb_buf_append_str(out, "  (none)\n");
    for (size_t i = 0; rc == 0 && i < c->nsources; i++) {
        const ceb_conf_instance *s = &c->sources[i];
        rc = ceb_buf_printf(out, "  %-*s  (%s)%s\n", w, s->name, s->plugin_name,
                            source_used(c, s->name) ? "" : " (unused)");
    }
    if (rc == 0)
        rc = ceb_buf_append_str(out, "sinks:\n");
    w = (int)instances_width(c->sinks, c->nsinks);
    if (rc == 0 && c->nsinks == 0)
        rc = ceb_buf_append_str(out, "  (none)\n");
    for (size_t i = 0; rc == 0 && i < c->nsinks; i++) {
        const ceb_conf_instance *s = &c->sinks[i];
        rc = ceb_buf_printf(out, "  %-*s  (%s, max_inflight %" PRIu32 ")%s\n", w, s->name,
                            s->plugin_name, s->max_inflight,
                            sink_used(c, s->name) ? "" : " (unused)");
    }
    if (rc == 0)
        rc = ceb_buf_append_str(out, "routes:\n");
    if (rc == 0 && c->nroutes == 0)
        rc = ceb_buf_append_str(out, "  (none)\n");
    for (size_t i = 0; rc == 0 && i < c->nroutes; i++) {
        const ceb_conf_route *r = &c->routes[i];
        rc = ceb_buf_printf(out, "  %s: ", r->name);
        if (rc == 0)
            rc = append_names(out, r->from, r->nfrom);
        if (rc == 0)
            rc = ceb_buf_append_str(out, " -> ");
        if (rc == 0 && r->filter_text != NULL) {
            rc = append_filter(out, r->filter_text);
            if (rc == 0)
                rc = ceb_buf_append_str(out, " -> ");
        }
        if (rc == 0)
            rc = append_names(out, r->to, r->nto);
        if (rc == 0 && r->dead_letter != NULL)
            rc = ceb_buf_printf(out, "; dead letter -> %s", r->dead_letter);
        if (rc == 0 && r->ntransform > 0)
            rc = ceb_buf_printf(out, "; transform %zu attribute%s", r->ntransform,
                                r->ntransform == 1 ? "" : "s");
        char initial[32], max[32], timeout[32];
        format_ms(initial, sizeof initial, r->retry.initial_ms);
        format_ms(max, sizeof max, r->retry.max_ms);
        if (r->retry.timeout_ms > 0)
            format_ms(timeout, sizeof timeout, r->retry.timeout_ms);
        else
            snprintf(timeout, sizeof timeout, "none");
        if (rc == 0)
            rc = ceb_buf_printf(out, "\n    retry: %" PRIu32 " attempt%s, %s backoff %s..%s, timeout %s\n",
                                r->retry.attempts, r->retry.attempts == 1 ? "" : "s",
                                backoff_name(r->retry.backoff), initial, max, timeout);
    }
    return rc;
}
