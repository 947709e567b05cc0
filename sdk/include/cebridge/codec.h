#ifndef CEBRIDGE_CODEC_H
#define CEBRIDGE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "diag.h"
#include "event.h"

/*
 * The JSON event format (shared/spec/json-format.md), single and batch, and
 * the normalization rules of DESIGN §2. Pure functions: any thread.
 *
 * Data on decode: "data" holding a JSON value -> CEB_DATA_JSON (its compact
 * text, or a string's contents as CEB_DATA_TEXT when datacontenttype is not
 * JSON); "data_base64" -> CEB_DATA_BINARY. On encode: JSON data (kind JSON,
 * or JSON content type with parseable bytes) as a JSON value, TEXT as a
 * string, BINARY as data_base64.
 */

/* What normalization repaired (bit set in ceb_decode_opts.repaired). */
enum {
    CEB_REPAIRED_SOURCE      = 1u << 0,  /* missing/empty source filled from default_source */
    CEB_REPAIRED_ID          = 1u << 1,  /* missing/empty id replaced by a UUIDv4           */
    CEB_REPAIRED_SPECVERSION = 1u << 2,  /* missing specversion set to 1.0                  */
    CEB_REPAIRED_TYPE        = 1u << 3,  /* missing/empty type filled from default_type     */
    CEB_REPAIRED_TIME        = 1u << 4,  /* unparseable time dropped                        */
    CEB_REPAIRED_NAME        = 1u << 5   /* upper-case extension names lower-cased          */
};

typedef struct ceb_decode_opts {
    /* true: a payload that breaks the spec is refused (CEB_ESPEC naming the
       attribute). false: repaired from the defaults below, the repairs
       reported in `repaired`. */
    bool strict;
    const char *default_source;  /* may be NULL: then an empty source is not repairable */
    const char *default_type;    /* may be NULL */
    unsigned repaired;           /* out */
} ceb_decode_opts;

/*
 * Decode one structured-mode JSON event. `opts` NULL means strict with no
 * defaults. Returns 0 and a new event (one reference), CEB_EDECODE (not
 * JSON, or not an object: not an event at all), CEB_ESPEC (an event-shaped
 * object that breaks the spec; `d` names the attribute), CEB_ENOMEM.
 */
int ceb_codec_json_decode(const void *buf, size_t len, ceb_decode_opts *opts,
                          ceb_event **out, ceb_diag *d);

/*
 * Decode a batch (a JSON array of events). All or nothing: on error no event
 * is returned and `d` names the index ("[3].source"). Release the result
 * with ceb_events_free().
 */
int ceb_codec_json_decode_batch(const void *buf, size_t len, ceb_decode_opts *opts,
                                ceb_event ***out, size_t *n, ceb_diag *d);
void ceb_events_free(ceb_event **events, size_t n);

/* True when `buf` is a JSON object with a "specversion" member: CloudEvent-shaped. */
bool ceb_codec_json_is_event(const void *buf, size_t len);

/* Append the structured JSON form of `ev` (one line, no newline). 0 or CEB_ENOMEM. */
int ceb_codec_json_encode(const ceb_event *ev, ceb_buf *out);
int ceb_codec_json_encode_batch(const ceb_event *const *evs, size_t n, ceb_buf *out);

/* Base64 (RFC 4648, with padding). decode: CEB_EINVAL on bad input. */
int ceb_base64_encode(const void *p, size_t n, ceb_buf *out);
int ceb_base64_decode(const char *s, size_t n, ceb_buf *out);

#endif
