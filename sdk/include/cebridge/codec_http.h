#ifndef CEBRIDGE_CODEC_HTTP_H
#define CEBRIDGE_CODEC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "codec.h"
#include "diag.h"
#include "event.h"

/*
 * The CloudEvents HTTP protocol binding (shared/spec/http-protocol-binding.md)
 * as pure functions over a header list and a body, so that the HTTP plugin,
 * other plugins and tests share one implementation. No I/O, no HTTP parser:
 * the caller owns the transport.
 *
 *   binary      ce-<attr> headers (percent-encoded values), body = data,
 *               Content-Type <-> datacontenttype
 *   structured  Content-Type application/cloudevents+json, body = JSON format
 *   batch       Content-Type application/cloudevents-batch+json, body = JSON array
 *
 * Errors follow codec.h: CEB_ESPEC names the offending attribute in d->field
 * (for a batch "[3].source"), CEB_EDECODE means "not a CloudEvent at all".
 * Thread: any (pure functions). Ownership: inputs are borrowed; results
 * belong to the caller.
 */

/* One request or response header, borrowed (not NUL-terminated). */
typedef struct ceb_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} ceb_http_header;

#define CEB_HTTP_CT_STRUCTURED "application/cloudevents+json; charset=utf-8"
#define CEB_HTTP_CT_BATCH      "application/cloudevents-batch+json; charset=utf-8"

typedef enum ceb_http_mode {
    CEB_HTTP_MODE_BINARY = 0,      /* any other media type (or none)                  */
    CEB_HTTP_MODE_STRUCTURED,      /* application/cloudevents[+json]                 */
    CEB_HTTP_MODE_BATCH,           /* application/cloudevents-batch[+json]           */
    CEB_HTTP_MODE_UNSUPPORTED      /* a CloudEvents media type in a format other than
                                      JSON (application/cloudevents+avro, ...)        */
} ceb_http_mode;

/*
 * Classify a Content-Type value (NULL or empty: binary). Matching is
 * case-insensitive, parameters and surrounding whitespace are ignored; the
 * batch prefix is tested before the structured one, as the binding says.
 */
ceb_http_mode ceb_http_classify(const char *content_type, size_t len);

/* True for application/json, text/json and any "+json" suffix (parameters ignored). */
bool ceb_http_ctype_is_json(const char *content_type, size_t len);

/*
 * Find a header by name (case-insensitive). Returns the first match or NULL.
 */
const ceb_http_header *ceb_http_header_find(const ceb_http_header *h, size_t nh,
                                            const char *name);

/*
 * Decode one header value as the binding says (3.1.3.2): trim optional
 * whitespace, undo an RFC 7230 quoted-string (backslash escapes), then one
 * round of percent-decoding (upper or lower case hex); the result must be
 * well-formed UTF-8 without control characters. Appends to `out`.
 * Returns 0, CEB_EINVAL (bad escape, bad UTF-8 such as the overlong
 * "%C0%A0"; `d` says what and where), CEB_ENOMEM.
 */
int ceb_http_value_decode(const char *s, size_t n, ceb_buf *out, ceb_diag *d);

/*
 * Percent-encode an attribute value for a header: space, '"', '%' and every
 * byte outside U+0021..U+007E become %XY (upper-case hex, per UTF-8 byte).
 * Returns 0 or CEB_ENOMEM.
 */
int ceb_http_value_encode(const char *s, size_t n, ceb_buf *out);

/* True when the headers carry a binary-mode event (a ce-specversion, ce-id,
   ce-source or ce-type header). */
bool ceb_http_is_binary_event(const ceb_http_header *h, size_t nh);

/*
 * Decode a binary-mode message: every ce-NAME header becomes attribute NAME
 * (lower-cased; context attributes validated, others String extensions),
 * Content-Type becomes datacontenttype and the body becomes data (kind JSON
 * when the type is JSON and the body parses, TEXT for text/ types that are
 * valid UTF-8, BINARY otherwise). A ce-datacontenttype header or a repeated
 * ce- header is refused. `opts` as in codec.h (NULL: strict, no defaults):
 * non-strict fills a missing specversion/id/source/type and records it.
 * Returns 0 and a new event (one reference), CEB_EDECODE (no ce- header: not
 * a binary-mode event), CEB_ESPEC (`d->field` names the attribute),
 * CEB_ENOMEM.
 */
int ceb_http_decode_binary(const ceb_http_header *h, size_t nh, const void *body, size_t len,
                           ceb_decode_opts *opts, ceb_event **out, ceb_diag *d);

/*
 * Decode any mode, chosen from Content-Type: binary, structured (one event)
 * or batch (all or nothing; an empty array gives *n == 0). A body with a
 * JSON content type and no ce- headers that is CloudEvent-shaped (has
 * "specversion") is decoded as structured, for senders that label
 * structured events application/json. `*mode` (may be NULL) gets the mode
 * used. Release the events with ceb_events_free().
 * Returns 0, CEB_EDECODE (not a CloudEvent: the caller may wrap it),
 * CEB_ENOTSUP (a CloudEvents format other than JSON), CEB_ESPEC, CEB_ENOMEM.
 */
int ceb_http_decode(const ceb_http_header *h, size_t nh, const void *body, size_t len,
                    ceb_decode_opts *opts, ceb_event ***out, size_t *n,
                    ceb_http_mode *mode, ceb_diag *d);

/*
 * Header sink for the encoders: called once per header with NUL-terminated
 * name and value (borrowed for the call). Return 0 or a negative code, which
 * stops the encoder and is returned.
 */
typedef int (*ceb_http_header_fn)(void *arg, const char *name, const char *value);

/*
 * Encode `ev` in binary mode: one ce-NAME header per attribute (value
 * percent-encoded) and Content-Type from datacontenttype (application/json
 * when absent and the data is JSON). The body is the event's data bytes
 * exactly as ceb_event_data() returns them: append them to `body` when not
 * NULL. Returns 0, CEB_ENOMEM or the header function's error.
 */
int ceb_http_encode_binary(const ceb_event *ev, ceb_http_header_fn fn, void *arg,
                           ceb_buf *body);

/* Structured mode: Content-Type CEB_HTTP_CT_STRUCTURED and the JSON format. */
int ceb_http_encode_structured(const ceb_event *ev, ceb_http_header_fn fn, void *arg,
                               ceb_buf *body);

/* Batch mode: Content-Type CEB_HTTP_CT_BATCH and a JSON array (n may be 0). */
int ceb_http_encode_batch(const ceb_event *const *evs, size_t n, ceb_http_header_fn fn,
                          void *arg, ceb_buf *body);

#endif
