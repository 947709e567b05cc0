#ifndef CEB_SDK_INTERNAL_H
#define CEB_SDK_INTERNAL_H

/*
 * Helpers shared between modules of libcebridge-sdk. Not installed, not
 * exported for the core (hidden by naming only: ceb__ prefix).
 */
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <cebridge/buf.h>
#include <cebridge/diag.h>
#include <cebridge/event.h>

/* utf8.c: true when p[0..n) is well-formed UTF-8 (no overlongs, no
   surrogates, <= U+10FFFF); otherwise *bad_at (may be NULL) gets the
   offset of the first bad byte. */
bool ceb__utf8_valid(const void *p, size_t n, size_t *bad_at);

/* utf8.c: ceb__utf8_valid (the same answer and *bad_at) that also reports
   in *cls which classes of byte it met before deciding (on false: before
   the bad byte); one pass, for decoders that check a value once and let
   setters and encoders skip their own scans. */
enum { CEB__TXT_NUL = 1,      /* a 0x00 byte */
       CEB__TXT_JSONESC = 2,  /* '"', '\\' or < 0x20: a JSON string must escape it */
       CEB__TXT_CTLSP = 4 };  /* <= 0x20 or 0x7F: not in a URI-reference */
bool ceb__utf8_scan(const void *p, size_t n, size_t *bad_at, unsigned *cls);

/* event.c: a media type whose subtype is "json" or ends in "+json"
   (parameters and case ignored). */
bool ceb__ctype_is_json(const char *ct, size_t len);

/*
 * event.c: set an extension from decoded input. Unlike the public setters an
 * empty String is kept (CloudEvents allows it). `text` is validated for
 * `type`; Integer/Boolean fill the typed value. Errors name `field` (NULL:
 * the attribute name) in `d`. Returns 0, CEB_EINVAL, CEB_EEXIST (already
 * set), CEB_EIMMUTABLE, CEB_ENOMEM.
 */
int ceb__event_set_ext(ceb_event *ev, const char *name, ceb_attr_type type,
                       const char *text, size_t len, ceb_diag *d);

/*
 * event.c: take ownership of `data` (malloc'd, NUL-terminated at data[len])
 * and of `parsed` (its cJSON parse, may be NULL), on success and on error.
 */
int ceb__event_take_data(ceb_event *ev, ceb_data_kind kind, char *data, size_t len,
                         cJSON *parsed);

/* json.c: append `text` (valid JSON) without insignificant whitespace;
   numbers and strings are kept byte for byte. */
int ceb__json_minify(const char *text, size_t len, ceb_buf *out);

/*
 * codec_json.c: a conservative JSON check of text[0..len) for event data:
 * true only when cJSON (and ceb__json_arena_parse) would accept it too
 * (one value, RFC 8259 syntax, no surrogate escapes, depth <= 64, only
 * ' ', '\t', '\n', '\r' around it); false means "not decided here" (parse
 * it). *compact is set when it holds no insignificant whitespace, so
 * ceb__json_minify would copy it unchanged. No allocation.
 */
bool ceb__json_check_fast(const char *text, size_t len, bool *compact);

/* event.c: whether the event's JSON data is known to hold no insignificant
   whitespace (ceb_event_set_data checked it, or a decoder said so through
   ceb__event_take_data_compact): encoders may copy it as it is. */
bool ceb__event_data_compact(const ceb_event *ev);

/* event.c: ceb__event_take_data for JSON data that the caller knows is
   compact (see ceb__event_data_compact). */
int ceb__event_take_data_compact(ceb_event *ev, char *data, size_t len);

/* event.c: copy data[0..len) as the event's data of `kind` without checking
   it (the caller did: JSON it has scanned, `compact` as for
   ceb__event_data_compact; TEXT it knows is UTF-8 without NUL); small data
   goes into the event's own allocation. Returns 0, CEB_ENOMEM,
   CEB_EIMMUTABLE. */
int ceb__event_copy_data(ceb_event *ev, ceb_data_kind kind, const void *data, size_t len,
                         bool compact);

/*
 * event.c: setters for decoders that checked the value already (no NUL
 * byte; the caller's own rules, e.g. UTF-8). set_context_checked sets
 * context attribute name[0..nlen) as ceb_event_setn would (its value rules,
 * "" clears an optional one); an extension name is CEB_EINVAL.
 * add_ext_checked appends String extension `name`, which the caller knows
 * is a valid extension name not set yet. Return 0, CEB_EINVAL,
 * CEB_EIMMUTABLE, CEB_ENOMEM.
 */
int ceb__event_set_context_checked(ceb_event *ev, const char *name, size_t nlen,
                                   const char *value, size_t len, ceb_diag *d);
int ceb__event_add_ext_checked(ceb_event *ev, const char *name, size_t nlen,
                               const char *value, size_t len);

/*
 * normalize.c: the context attributes a binding header (ce-/ce_) may carry,
 * as bits, so that decoders track which are set without a lookup; 0 for an
 * extension name (datacontenttype is refused by the binary decoders first).
 */
enum { CEB__CTX_ID = 1, CEB__CTX_SOURCE = 2, CEB__CTX_TYPE = 4, CEB__CTX_SUBJECT = 8,
       CEB__CTX_TIME = 16, CEB__CTX_DATASCHEMA = 32, CEB__CTX_SPECVERSION = 64 };
unsigned ceb__context_bit(const char *name, size_t n);

/* event.c: whether TEXT data is known to be UTF-8 without NUL (wrap or
   ceb__event_copy_data checked it): encoders need not check it again. */
bool ceb__event_data_text_ok(const ceb_event *ev);

/* event.c: the attributes in ceb_event_attr_at order without its O(n) walk:
   *pos starts at 0; false when there is none left. */
bool ceb__event_attr_next(const ceb_event *ev, size_t *pos, ceb_attr *out);

/*
 * event.c: setters for decoders that scanned the value with ceb__utf8_scan
 * (valid UTF-8; cls its classes), so neither the setter nor the JSON
 * encoder scans it again. set_context_bit sets the context attribute of
 * CEB__CTX_* `bit` as ceb__event_set_context_checked would (the value holds
 * no NUL). set_ctype_scanned sets datacontenttype (a NUL is refused).
 * add_ext_scanned is ceb__event_add_ext_checked with `plain` telling that
 * value needs no JSON escaping (!(cls & CEB__TXT_JSONESC)). has_ext: an
 * extension name[0..nlen) is set. Return 0, CEB_EINVAL, CEB_EIMMUTABLE,
 * CEB_ENOMEM.
 */
int ceb__event_set_context_bit(ceb_event *ev, unsigned bit, const char *value, size_t len,
                               unsigned cls, ceb_diag *d);
int ceb__event_set_ctype_scanned(ceb_event *ev, const char *value, size_t len, unsigned cls,
                                 ceb_diag *d);
int ceb__event_add_ext_scanned(ceb_event *ev, const char *name, size_t nlen,
                               const char *value, size_t len, bool plain);
bool ceb__event_has_ext(const ceb_event *ev, const char *name, size_t nlen);

/*
 * event.c: append every attribute as JSON object members, in
 * ceb_event_attr_at order, comma-separated, without braces: exactly what
 * ceb_json_quote would give for each name and String value (Integer and
 * Boolean bare). Values recorded as needing no escapes are copied; the
 * others go through `quote` (which appends the quoted string). `extra`:
 * bytes the caller will append next, reserved in the same go. Returns 0 or
 * CEB_ENOMEM (out may then hold part of the members).
 */
typedef int (*ceb__json_quote_fn)(ceb_buf *out, const char *s, size_t len);
int ceb__event_json_attrs(const ceb_event *ev, ceb_buf *out, size_t extra,
                          ceb__json_quote_fn quote);

/*
 * normalize.c: the binding codecs' shared normalization. spec_error turns a
 * setter's failure on `field` into CEB_ESPEC naming it (CEB_ENOMEM passes).
 * fill_required repairs a missing or empty id/source/type from `opts` (an
 * UUIDv4, default_source, default_type) unless strict, else refuses with
 * "required attribute 'source' is missing or empty (<carrier>source)",
 * carrier naming where it was looked for: "header ce-", "field ce_".
 */
struct ceb_decode_opts;
int ceb__spec_error(ceb_diag *d, int rc, const char *field);
int ceb__event_fill_required(ceb_event *ev, struct ceb_decode_opts *opts, const char *carrier,
                             ceb_diag *d);

/*
 * json_arena.c: parse text[0..len) as event data exactly as cJSON would
 * (cJSON_ParseWithLengthOpts without require_null_terminated, then only
 * ' ', '\t', '\n', '\r' after the value): the same decision and the same
 * cJSON tree (types, values, strings, links), but every node and string
 * lives in one arena (a small chain of blocks). Returns the root, or NULL for
 * invalid JSON or out of memory. The tree is read-only: never modify it, never
 * cJSON_Delete it; free it with ceb__json_arena_free (NULL is ignored).
 * Thread: any; a finished tree may be read from any number of threads.
 */
const cJSON *ceb__json_arena_parse(const char *text, size_t len);
void ceb__json_arena_free(const cJSON *root);

#endif
