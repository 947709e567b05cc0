#ifndef CEBRIDGE_JSON_H
#define CEBRIDGE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/*
 * Read-only access to JSON values without putting a JSON library in the
 * ABI: event data (ceb_event_data_json) and `object` options
 * (CEB_OPT_OBJECT, e.g. a "librdkafka": {...} pass-through).
 * Nodes are borrowed from their owner (the event or the config).
 * Thread: any, for read-only nodes.
 */
typedef struct ceb_json ceb_json;

typedef enum ceb_json_type {
    CEB_JSON_INVALID = 0, CEB_JSON_NULL, CEB_JSON_FALSE, CEB_JSON_TRUE,
    CEB_JSON_NUMBER, CEB_JSON_STRING, CEB_JSON_ARRAY, CEB_JSON_OBJECT
} ceb_json_type;

ceb_json_type ceb_json_type_of(const ceb_json *j);
/* Object member by exact key, NULL if absent or `j` not an object. */
const ceb_json *ceb_json_get(const ceb_json *j, const char *key);
/* Array element, NULL if out of range. */
const ceb_json *ceb_json_at(const ceb_json *j, size_t index);
/* Number of array elements or object members. */
size_t ceb_json_count(const ceb_json *j);
/* For objects: the i-th member's key (NULL past the end) and value. */
const char *ceb_json_key_at(const ceb_json *j, size_t index, const ceb_json **value);
/* NULL unless a string. */
const char *ceb_json_string(const ceb_json *j);
double ceb_json_number(const ceb_json *j);
/* Append compact JSON text of `j` to `out`. 0 or CEB_ENOMEM. */
int ceb_json_print(const ceb_json *j, ceb_buf *out);
/* Append `s` as a JSON string literal with quotes and escapes. */
int ceb_json_quote(ceb_buf *out, const char *s, size_t len);

#endif
