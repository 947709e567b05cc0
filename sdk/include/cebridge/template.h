#ifndef CEBRIDGE_TEMPLATE_H
#define CEBRIDGE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "diag.h"
#include "event.h"

/*
 * The template engine (DESIGN §4), one for every plugin: topics, channels,
 * subjects, URLs, email text.
 *
 *   "ci.{type}"  "{source}"  "{subject}"  "{id}"  "{time}"
 *   "{ext.NAME}"             an extension (any context attribute works by name too)
 *   "{data.a.b[0]}"          a path into JSON data; "{data['key with space']}"
 *   "{data}"                 the whole data (JSON text or text bytes)
 *   "{type|urlencode}"       filters: json (as a JSON string literal / value), urlencode,
 *                            lower, upper; several may be chained: {subject|lower|urlencode}
 *   "{subject|default:none}" text used when the value is missing
 *   "{{" and "}}"            literal braces
 *
 * A missing value renders as "" unless a default is given; render_strict
 * refuses it instead. Other roots (e.g. an HTTP source's "header.x-id",
 * "path") are looked up through a caller-supplied lookup function.
 *
 * Ownership: compile returns a template released with ceb_template_free().
 * A compiled template is immutable: any thread may render it concurrently.
 */
typedef struct ceb_template ceb_template;

/*
 * Extra roots: called for a reference the engine does not know (not an
 * attribute, ext.*, or data*). Return true and set *val and *len (borrowed until
 * the render returns) when found.
 */
typedef bool (*ceb_template_lookup_fn)(void *arg, const char *ref, size_t ref_len,
                                       const char **val, size_t *len);

/* Returns 0, CEB_ETEMPLATE (syntax; `d` names the column), CEB_ENOMEM. */
int ceb_template_compile(const char *text, ceb_template **out, ceb_diag *d);
void ceb_template_free(ceb_template *t);
/* The source text it was compiled from. */
const char *ceb_template_text(const ceb_template *t);
/* True when it has no {reference}: rendering always yields the same text. */
bool ceb_template_is_constant(const ceb_template *t);

/* Append the rendering to `out`. `ev` may be NULL (then only lookup roots
   resolve). Returns 0 or CEB_ENOMEM. */
int ceb_template_render(const ceb_template *t, const ceb_event *ev, ceb_buf *out);
int ceb_template_render_with(const ceb_template *t, const ceb_event *ev,
                             ceb_template_lookup_fn lookup, void *arg, ceb_buf *out);
/* Like render_with, but a missing reference without a default is
   CEB_ENOENT with `d` naming it. */
int ceb_template_render_strict(const ceb_template *t, const ceb_event *ev,
                               ceb_template_lookup_fn lookup, void *arg, ceb_buf *out,
                               ceb_diag *d);

#endif
