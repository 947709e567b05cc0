#ifndef CEBRIDGE_CODEC_FASTSTREAM_H
#define CEBRIDGE_CODEC_FASTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "codec.h"
#include "diag.h"
#include "event.h"

/*
 * FastStream's Redis message envelopes (shared/spec/faststream-redis-envelope.md)
 * and the Redis stream-entry field layouts, as pure functions, so that the
 * Redis plugin, tests and fuzzers share one implementation.
 *
 *   binary envelope  "\x89BIN\r\n\x1a\n", u16 version 1, u32 headers offset,
 *                    u32 data offset, u16 header count, (u16 len, key,
 *                    u16 len, value)*, body = the rest. Big-endian.
 *   JSON envelope    {"data": "<body as a string>", "headers": {"k": "v"}}
 *   raw              anything else: the payload is the body, no headers.
 *
 * Stream entries (XADD field/value pairs):
 *   faststream   a field "__data__" holding an envelope
 *   binary       fields "ce_<attribute>", "content-type" and "data" (the
 *                Kafka binding's layout carried over to stream fields)
 *   structured   one field (named by the caller, e.g. "event") holding the
 *                JSON format
 *   fields       anything else: all fields wrapped as one JSON object
 *
 * Hostile input: every length and offset is bounds-checked against the
 * buffer; a truncated envelope or a lying offset is CEB_EDECODE with a
 * message naming the field, never a read past the buffer.
 *
 * Thread: any (pure functions). Ownership: inputs are borrowed; decoded
 * messages own their bytes (release with ceb_faststream_msg_free()); events
 * returned hold one reference.
 */

#define CEB_FASTSTREAM_MAGIC     "\x89" "BIN\r\n\x1a\n"
#define CEB_FASTSTREAM_MAGIC_LEN 8
#define CEB_FASTSTREAM_VERSION   1
#define CEB_FASTSTREAM_FIELD     "__data__"

typedef enum ceb_faststream_kind {
    CEB_FASTSTREAM_RAW = 0,     /* not an envelope: the payload is the body */
    CEB_FASTSTREAM_BINARY,      /* binary envelope V1                      */
    CEB_FASTSTREAM_JSON         /* JSON envelope                           */
} ceb_faststream_kind;

/* One envelope header (key and value are NUL-terminated copies). */
typedef struct ceb_faststream_header {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
} ceb_faststream_header;

/* A decoded envelope. Zero-initialise; release with ceb_faststream_msg_free(). */
typedef struct ceb_faststream_msg {
    ceb_faststream_kind kind;
    ceb_buf body;                     /* body bytes (NUL-terminated, not counted) */
    ceb_faststream_header *headers;
    size_t nheaders;
} ceb_faststream_msg;

void ceb_faststream_msg_free(ceb_faststream_msg *m);

/* A header's value by key (case-insensitive), NULL when absent. Borrowed. */
const char *ceb_faststream_msg_header(const ceb_faststream_msg *m, const char *key);

/* True when `buf` starts with the binary identity header (any version). */
bool ceb_faststream_is_binary(const void *buf, size_t len);

/*
 * Decode a binary envelope V1. Returns 0, CEB_EDECODE (no identity header,
 * an unknown version, or a truncated/hostile layout; `d` names the field:
 * "version", "headers offset", "data offset", "header count",
 * "header[2].key", ...), CEB_ENOMEM. On error `out` is left empty.
 */
int ceb_faststream_decode_binary(const void *buf, size_t len, ceb_faststream_msg *out,
                                 ceb_diag *d);

/*
 * Decode a JSON envelope: a JSON object with a string member "data" and an
 * optional object "headers" (string values kept; others printed as JSON).
 * Returns 0, CEB_EDECODE (not such an object), CEB_ENOMEM.
 */
int ceb_faststream_decode_json(const void *buf, size_t len, ceb_faststream_msg *out,
                               ceb_diag *d);

/*
 * Detect and unwrap as FastStream does (spec §3): a payload carrying the
 * binary identity header is decoded as binary (a bad one is CEB_EDECODE: it
 * is not silently treated as raw); else a JSON envelope; else raw (the
 * payload copied as the body, kind CEB_FASTSTREAM_RAW).
 * Returns 0, CEB_EDECODE (a broken binary envelope), CEB_ENOMEM.
 */
int ceb_faststream_unwrap(const void *buf, size_t len, ceb_faststream_msg *out,
                          ceb_diag *d);

/*
 * Encode envelopes. Binary: headers offset 18, data offset after the
 * headers, as FastStream writes them; a key or value longer than 65535
 * bytes, more than 65535 headers or a message over 4 GiB is CEB_E2BIG.
 * JSON: {"data": <body as a JSON string>, "headers": {...}}; the body must
 * be valid UTF-8 (CEB_EINVAL otherwise). Both append to `out`.
 * Returns 0, CEB_E2BIG / CEB_EINVAL, CEB_ENOMEM.
 */
int ceb_faststream_encode_binary(const void *body, size_t len,
                                 const ceb_faststream_header *h, size_t nh, ceb_buf *out);
int ceb_faststream_encode_json(const void *body, size_t len,
                               const ceb_faststream_header *h, size_t nh, ceb_buf *out);

/*
 * Encode an event for FastStream subscribers: the body is the event's JSON
 * format (what a pydantic CloudEvent model serializes to), with headers
 * content-type: application/json and correlation_id: the event id.
 * `json_envelope` picks the JSON envelope instead of the binary one.
 * Returns 0, CEB_ENOMEM.
 */
int ceb_faststream_encode_event(const ceb_event *ev, bool json_envelope, ceb_buf *out);

/* How a body that is not a CloudEvent is wrapped (ceb_event_wrap()). */
typedef struct ceb_faststream_wrap {
    const char *type;      /* required */
    const char *source;    /* required */
    const char *subject;   /* may be NULL */
} ceb_faststream_wrap;

/*
 * Turn an unwrapped body into an event (spec §3, last paragraph): decoded
 * as a structured CloudEvent when its content type (the envelope's
 * "content-type" header) is application/cloudevents+json, or when it is
 * JSON carrying "specversion"; otherwise wrapped as the data of a new event
 * (datacontenttype from the header when present). `opts` as in codec.h.
 * `*wrapped` (may be NULL) tells whether the body was wrapped.
 * Returns 0, CEB_ESPEC (an event-shaped body refused in strict mode; `d`
 * names the attribute), CEB_EINVAL (bad wrap settings), CEB_ENOMEM.
 */
int ceb_faststream_msg_to_event(const ceb_faststream_msg *m, ceb_decode_opts *opts,
                                const ceb_faststream_wrap *wrap, ceb_event **out,
                                bool *wrapped, ceb_diag *d);

/* ---- stream entries -------------------------------------------------- */

/* One field/value pair of a stream entry, borrowed (not NUL-terminated). */
typedef struct ceb_stream_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} ceb_stream_field;

typedef enum ceb_stream_layout {
    CEB_STREAM_FIELDS = 0,      /* none of the below: wrap all fields       */
    CEB_STREAM_FASTSTREAM,      /* a "__data__" field                        */
    CEB_STREAM_BINARY,          /* a "ce_specversion" field                  */
    CEB_STREAM_STRUCTURED       /* the structured field is present          */
} ceb_stream_layout;

/* The first field named `name` (exact match) or NULL. */
const ceb_stream_field *ceb_stream_field_find(const ceb_stream_field *f, size_t n,
                                              const char *name);

/*
 * Detect an entry's layout in the order of the Redis plugin's `auto`
 * format: "__data__", then "ce_specversion", then `structured_field` (may
 * be NULL), else CEB_STREAM_FIELDS.
 */
ceb_stream_layout ceb_stream_detect(const ceb_stream_field *f, size_t n,
                                    const char *structured_field);

/*
 * Decode the binary layout: each "ce_NAME" field becomes attribute NAME
 * (context attributes validated, others String extensions),
 * "content-type" becomes datacontenttype, "data" the data (kind JSON when
 * the type is JSON and it parses, else TEXT for valid UTF-8 text/ types,
 * else BINARY). Other fields are ignored. A repeated ce_ field or
 * "ce_datacontenttype" is refused. `opts` as in codec.h (NULL: strict).
 * Returns 0, CEB_EDECODE (no ce_specversion field), CEB_ESPEC (`d->field`
 * names the attribute), CEB_ENOMEM.
 */
int ceb_stream_decode_binary(const ceb_stream_field *f, size_t n, ceb_decode_opts *opts,
                             ceb_event **out, ceb_diag *d);

/*
 * Append all fields as one JSON object {"name": "value", ...} (the `fields`
 * format). Values that are not valid UTF-8 are CEB_EINVAL naming the field.
 * Returns 0, CEB_EINVAL, CEB_ENOMEM.
 */
int ceb_stream_fields_to_json(const ceb_stream_field *f, size_t n, ceb_buf *out,
                              ceb_diag *d);

/*
 * An encoded entry: a field list whose bytes live in `store`. Zero-initialise,
 * fill with an encoder, read with ceb_stream_entry_at(), release with
 * ceb_stream_entry_free().
 */
typedef struct ceb_stream_entry {
    ceb_buf store;
    size_t *offs;      /* 4 per field: name offset, name length, value offset, value length */
    size_t n, cap;
} ceb_stream_entry;

void ceb_stream_entry_free(ceb_stream_entry *e);
void ceb_stream_entry_reset(ceb_stream_entry *e);
/* Append one field (copied). 0 or CEB_ENOMEM. */
int ceb_stream_entry_add(ceb_stream_entry *e, const char *name, size_t name_len,
                         const void *value, size_t value_len);
/* The i-th field, pointers into `store` (valid until the next add/reset/free). */
ceb_stream_field ceb_stream_entry_at(const ceb_stream_entry *e, size_t i);

/*
 * Encoders for the sink. binary: ce_<attr> per attribute, content-type from
 * datacontenttype (application/json when absent and the data is JSON),
 * data = the data bytes. structured: one field `field` with the JSON format.
 * faststream: "__data__" = ceb_faststream_encode_event(ev, json_envelope).
 * Returns 0, CEB_ENOMEM.
 */
int ceb_stream_encode_binary(const ceb_event *ev, ceb_stream_entry *out);
int ceb_stream_encode_structured(const ceb_event *ev, const char *field,
                                 ceb_stream_entry *out);
int ceb_stream_encode_faststream(const ceb_event *ev, bool json_envelope,
                                 ceb_stream_entry *out);

#endif
