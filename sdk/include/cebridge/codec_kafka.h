#ifndef CEBRIDGE_CODEC_KAFKA_H
#define CEBRIDGE_CODEC_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "codec.h"
#include "diag.h"
#include "event.h"

/*
 * The CloudEvents Kafka protocol binding (shared/spec/kafka-protocol-binding.md)
 * as pure functions over a neutral header list, a key and a value, so that
 * the Kafka plugin, tests and tools share one implementation without any
 * Kafka client library in the SDK.
 *
 *   binary      ce_<attr> headers (UTF-8 values, as-is), value = data,
 *               content-type header <-> datacontenttype; no data = no value
 *   structured  content-type application/cloudevents+json, value = JSON format
 *   key         the partitionkey extension <-> the record key
 *               (shared/spec/partitioning.md; the binding's opt-in key mapper)
 *
 * Errors follow codec.h: CEB_EDECODE means "not a CloudEvent at all" (the
 * caller may wrap the payload), CEB_ESPEC an event that breaks the spec
 * (d->field names the attribute), CEB_ENOTSUP a CloudEvents format other
 * than JSON.
 * Thread: any (pure functions). Ownership: inputs are borrowed; results
 * belong to the caller.
 */

/* One record header, borrowed. `value` NULL is a Kafka null header value. */
typedef struct ceb_kafka_header {
    const char *name;
    size_t name_len;
    const void *value;
    size_t value_len;
} ceb_kafka_header;

/* One record as received, borrowed. `key` / `value` NULL: none (a null key,
   a tombstone). */
typedef struct ceb_kafka_message {
    const ceb_kafka_header *headers;
    size_t nheaders;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} ceb_kafka_message;

#define CEB_KAFKA_CT_STRUCTURED "application/cloudevents+json; charset=UTF-8"

typedef enum ceb_kafka_mode {
    CEB_KAFKA_MODE_BINARY = 0,     /* content-type absent or not a CloudEvents type */
    CEB_KAFKA_MODE_STRUCTURED,     /* content-type application/cloudevents[+json]   */
    CEB_KAFKA_MODE_UNSUPPORTED     /* application/cloudevents+avro and other formats */
} ceb_kafka_mode;

/* Decode flags. */
enum {
    /* Set the partitionkey extension from a non-empty UTF-8 record key when
       the event does not carry one (the reverse of the key mapper, so that
       Kafka -> Kafka keeps keys and per-key order). */
    CEB_KAFKA_KEY_TO_PARTITIONKEY = 1u << 0
};

/*
 * Find a header by name (ASCII case-insensitive). The first match or NULL.
 */
const ceb_kafka_header *ceb_kafka_header_find(const ceb_kafka_header *h, size_t nh,
                                              const char *name);

/*
 * The content mode the binding's receiver rule picks from the content-type
 * header: a value prefixed with application/cloudevents (case-insensitive) is
 * structured (JSON) or unsupported (another format); anything else binary.
 */
ceb_kafka_mode ceb_kafka_classify(const ceb_kafka_header *h, size_t nh);

/* True when the headers carry a binary-mode event (a ce_specversion, ce_id,
   ce_source or ce_type header). */
bool ceb_kafka_is_binary_event(const ceb_kafka_header *h, size_t nh);

/*
 * Decode one record, the mode detected as the binding says: a structured
 * content-type decodes the value with the JSON format; ce_ headers decode a
 * binary-mode event (every ce_NAME header becomes attribute NAME: context
 * attributes validated, the others String extensions; content-type becomes
 * datacontenttype; the value becomes data: JSON when the type is JSON and it
 * parses, TEXT for text/ types that are UTF-8, BINARY otherwise). A record
 * with neither whose value is a CloudEvent-shaped JSON object (has
 * "specversion": an outbox table's JSON) is decoded as structured.
 *
 * Header values must be UTF-8; a ce_datacontenttype header, a repeated ce_
 * header or a null ce_ header value is refused (CEB_ESPEC). Upper-case
 * letters in a ce_ name are refused when strict and lower-cased (repaired
 * bit CEB_REPAIRED_NAME) otherwise. `opts` as in codec.h (NULL: strict, no
 * defaults). `flags`: CEB_KAFKA_KEY_TO_PARTITIONKEY. `*mode` (may be NULL)
 * gets the mode used.
 *
 * Returns 0 and a new event (one reference), CEB_EDECODE (not a CloudEvent),
 * CEB_ENOTSUP (a CloudEvents format other than JSON), CEB_ESPEC, CEB_ENOMEM.
 */
int ceb_kafka_decode(const ceb_kafka_message *m, unsigned flags, ceb_decode_opts *opts,
                     ceb_event **out, ceb_kafka_mode *mode, ceb_diag *d);

/*
 * Header sink for the encoders: called once per header with a NUL-terminated
 * name and a value of `len` bytes (also NUL-terminated), both borrowed for
 * the call. Return 0 or a negative code, which stops the encoder and is
 * returned.
 */
typedef int (*ceb_kafka_header_fn)(void *arg, const char *name, const char *value, size_t len);

/*
 * Binary mode: one ce_NAME header per attribute (its canonical text, as-is)
 * except datacontenttype, which becomes content-type (application/json when
 * absent and the data is JSON). The event's data bytes are appended to
 * `value` (may be NULL). An event without data (ceb_event_data_kind ==
 * CEB_DATA_NONE) is a record with no value: the caller sends a null value.
 * Returns 0, CEB_ENOMEM or the header function's error.
 */
int ceb_kafka_encode_binary(const ceb_event *ev, ceb_kafka_header_fn fn, void *arg,
                            ceb_buf *value);

/*
 * Structured mode: a content-type header CEB_KAFKA_CT_STRUCTURED and the JSON
 * format appended to `value` (may be NULL). Returns 0, CEB_ENOMEM or the
 * header function's error.
 */
int ceb_kafka_encode_structured(const ceb_event *ev, ceb_kafka_header_fn fn, void *arg,
                                ceb_buf *value);

/*
 * The record key by the binding's partitionkey key mapper: the partitionkey
 * extension's text as-is (borrowed from `ev`, *len set), or NULL when the
 * event has none or it is empty (then the record has a null key).
 */
const char *ceb_kafka_key(const ceb_event *ev, size_t *len);

#endif
