#ifndef CEBRIDGE_EVENT_H
#define CEBRIDGE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "diag.h"

/*
 * ceb_event: a CloudEvents 1.0 event in memory.
 *
 * Attributes: the required `id`, `source`, `specversion` (always "1.0"),
 * `type`; the optional `datacontenttype`, `dataschema`, `subject`, `time`;
 * and typed extension attributes. `data` is bytes with a kind (see
 * ceb_data_kind) and, when JSON, is parsed lazily once and cached.
 *
 * Ownership
 *   - ceb_event_new()/ceb_event_clone()/decoders return an event holding one
 *     reference; release it with ceb_event_unref(), never free().
 *   - An event is mutable until it is frozen (host->emit freezes it); every
 *     setter on a frozen event returns CEB_EIMMUTABLE. A transform clones.
 *   - Pointers returned by getters are borrowed: valid while the caller holds
 *     a reference and (for a mutable event) until the attribute is changed.
 *   - Every setter copies its inputs.
 *
 * Threading
 *   - ref/unref are atomic: a sink may release on its library's thread.
 *   - A frozen event may be read from any thread (the lazy JSON parse is
 *     published atomically). Setters are for the one thread that owns the
 *     unfrozen event.
 *
 * Errors: 0 or a negative CEB_E* code; functions taking a ceb_diag fill it.
 */
typedef struct ceb_event ceb_event;

/* Extension attribute types of CloudEvents 1.0 (spec.md "Type System"). */
typedef enum ceb_attr_type {
    CEB_ATTR_STRING = 1,
    CEB_ATTR_INTEGER,     /* int32 */
    CEB_ATTR_BOOLEAN,
    CEB_ATTR_URI,
    CEB_ATTR_URI_REF,
    CEB_ATTR_TIMESTAMP,   /* RFC 3339 text */
    CEB_ATTR_BINARY       /* base64 text in `text`; bytes are not kept apart */
} ceb_attr_type;

/*
 * One attribute as read back. `text` is always the canonical string form
 * (Integer "42", Boolean "true"), NUL-terminated; `i`/`b` hold the typed
 * value for Integer/Boolean.
 */
typedef struct ceb_attr {
    const char *name;
    ceb_attr_type type;
    const char *text;
    size_t len;
    int32_t i;
    bool b;
} ceb_attr;

typedef enum ceb_data_kind {
    CEB_DATA_NONE = 0,    /* no data */
    CEB_DATA_BINARY,      /* opaque bytes (data_base64 in the JSON format) */
    CEB_DATA_TEXT,        /* a string value (JSON format: "data": "...") */
    CEB_DATA_JSON         /* the bytes are JSON text (JSON format: "data": <value>) */
} ceb_data_kind;

/* Create an empty mutable event with specversion "1.0". Returns 0 or CEB_ENOMEM. */
int ceb_event_new(ceb_event **out);

/* Take one more reference. Returns `ev`. Thread: any. */
const ceb_event *ceb_event_ref(const ceb_event *ev);
/* Drop one reference; the last frees the event. NULL is ignored. Thread: any. */
void ceb_event_unref(const ceb_event *ev);

/*
 * A mutable deep copy with one reference (copy-on-write for transforms).
 * Returns 0 or CEB_ENOMEM.
 */
int ceb_event_clone(const ceb_event *ev, ceb_event **out);

/* Make the event immutable. The host calls this in emit(); idempotent. */
void ceb_event_freeze(ceb_event *ev);
bool ceb_event_is_frozen(const ceb_event *ev);

/*
 * Set an attribute from text. Context attributes are validated (specversion
 * must be "1.0", time must be RFC 3339, id/source/type non-empty); any other
 * name becomes a String extension and must be a valid attribute name
 * (a-z0-9, 1..20 characters recommended; longer names are accepted, other
 * characters are not). An empty `value` for an optional attribute removes it.
 * Returns 0, CEB_EINVAL (bad name or value; `d` says which), CEB_EIMMUTABLE,
 * CEB_ENOMEM.
 */
int ceb_event_set(ceb_event *ev, const char *name, const char *value, ceb_diag *d);
int ceb_event_setn(ceb_event *ev, const char *name, const char *value, size_t len, ceb_diag *d);
/* Typed extension setters (a context attribute name gets CEB_EINVAL). */
int ceb_event_set_int(ceb_event *ev, const char *name, int32_t value, ceb_diag *d);
int ceb_event_set_bool(ceb_event *ev, const char *name, bool value, ceb_diag *d);
/* Any type from its canonical text ("42", "true", RFC 3339, base64 ...), validated. */
int ceb_event_set_typed(ceb_event *ev, const char *name, ceb_attr_type type,
                        const char *text, size_t len, ceb_diag *d);
/* Remove an optional attribute or extension. CEB_EINVAL for a required one. */
int ceb_event_remove(ceb_event *ev, const char *name);

/* Validate an attribute name per the spec. Returns 0 or CEB_EINVAL with a message. */
int ceb_attr_name_check(const char *name, size_t len, ceb_diag *d);

/* Read an attribute's text; NULL when absent. */
const char *ceb_event_get(const ceb_event *ev, const char *name);
/* Read an attribute typed; 0, or CEB_ENOENT when absent. */
int ceb_event_attr(const ceb_event *ev, const char *name, ceb_attr *out);
/* Iterate all attributes present (context first, in spec order, then extensions). */
size_t ceb_event_attr_count(const ceb_event *ev);
int ceb_event_attr_at(const ceb_event *ev, size_t index, ceb_attr *out);

/* Shorthands for the context attributes; NULL when absent. */
const char *ceb_event_id(const ceb_event *ev);
const char *ceb_event_source(const ceb_event *ev);
const char *ceb_event_type(const ceb_event *ev);
const char *ceb_event_subject(const ceb_event *ev);
const char *ceb_event_time(const ceb_event *ev);
const char *ceb_event_datacontenttype(const ceb_event *ev);

/*
 * Set data (copied). `kind` says how the JSON format encodes it; CEB_DATA_JSON
 * requires valid JSON text (CEB_EINVAL otherwise). len 0 with CEB_DATA_NONE
 * removes data.
 */
int ceb_event_set_data(ceb_event *ev, ceb_data_kind kind, const void *data, size_t len);
/* Borrowed data bytes, NULL and *len 0 when none. */
const void *ceb_event_data(const ceb_event *ev, size_t *len);
ceb_data_kind ceb_event_data_kind(const ceb_event *ev);
/*
 * True when the data is JSON: kind CEB_DATA_JSON, or a datacontenttype of
 * application/json or any "+json" suffix (parameters ignored).
 */
bool ceb_event_data_is_json(const ceb_event *ev);

/*
 * The data parsed as JSON, parsed at most once per event and cached
 * (DESIGN §2); NULL when there is no data, it is not JSON, or it does not
 * parse. The result is an opaque ceb_json node (json.h), borrowed for the
 * event's lifetime. Thread: any, for a frozen event.
 */
struct ceb_json;
const struct ceb_json *ceb_event_data_json(const ceb_event *ev);

/*
 * Check the event is a valid CloudEvent: required attributes present and
 * non-empty. Returns 0 or CEB_ESPEC naming the first missing attribute.
 */
int ceb_event_validate(const ceb_event *ev, ceb_diag *d);

/*
 * Wrap an arbitrary payload (DESIGN §2): a new event with `data` = payload
 * (kind JSON when `content_type` is JSON and the payload parses, else
 * BINARY/TEXT by content), `datacontenttype` = content_type (if not NULL),
 * the given type/source/subject (subject may be NULL), a fresh UUIDv4 `id`
 * and `time` = now. Returns 0, CEB_EINVAL (empty type or source), CEB_ENOMEM.
 */
int ceb_event_wrap(const void *payload, size_t len, const char *content_type,
                   const char *type, const char *source, const char *subject,
                   ceb_event **out, ceb_diag *d);

/* Write a random UUIDv4 as 36 characters + NUL into buf[37]. Thread: any. */
void ceb_uuid4(char buf[37]);
/* Current time as RFC 3339 UTC with microseconds into buf[40]. Thread: any. */
void ceb_time_now_rfc3339(char buf[40]);
/* Validate RFC 3339 text. Returns 0 or CEB_EINVAL. */
int ceb_time_check_rfc3339(const char *s, size_t len);

/*
 * ceb_rng: a caller-owned pool of OS randomness for ceb_uuid4_from(), so a
 * hot loop makes one getrandom() call per CEB_RNG_POOL bytes (16 per id)
 * instead of one per id. Plain data, no hidden state: zero it (or use
 * CEB_RNG_INIT / ceb_rng_init) before first use; it needs no release.
 * Thread: one thread at a time per ceb_rng (keep it in the plugin or codec
 * state that the calling thread owns). Pool bytes are handed out once.
 */
#define CEB_RNG_POOL 512
typedef struct ceb_rng {
    unsigned char pool[CEB_RNG_POOL];
    size_t avail; /* unused bytes at the end of pool; 0 = refill first */
} ceb_rng;
#define CEB_RNG_INIT { {0}, 0 }
/* Empty the pool (the next id refills it). Ownership: none. Errors: none. */
void ceb_rng_init(ceb_rng *r);
/* A random UUIDv4 (36 characters + NUL) from r's pool; same format and
   randomness source as ceb_uuid4(). r NULL behaves as ceb_uuid4().
   Thread: the thread owning r. Errors: none. */
void ceb_uuid4_from(ceb_rng *r, char out[37]);

/*
 * ceb_clock: a caller-owned cache of the formatted UTC second for
 * ceb_time_now_rfc3339_from(): only the microseconds are reformatted while
 * the second stays the same. Zero it (or CEB_CLOCK_INIT) before first use;
 * it needs no release. Thread: one thread at a time per ceb_clock.
 */
typedef struct ceb_clock {
    long long sec;   /* second formatted in text; valid only when len > 0 */
    size_t len;      /* length of text (YYYY-MM-DDTHH:MM:SS), 0 = empty */
    char text[32];
} ceb_clock;
#define CEB_CLOCK_INIT { 0, 0, {0} }
/* As ceb_time_now_rfc3339() (same output), using c's cache; c NULL behaves
   as ceb_time_now_rfc3339(). Thread: the thread owning c. Errors: none. */
void ceb_time_now_rfc3339_from(ceb_clock *c, char buf[40]);

/*
 * ceb_event_wrap() taking its `id` from rng and its `time` from clk (either
 * may be NULL: then as ceb_event_wrap()). Same ownership, results and
 * errors as ceb_event_wrap(). Thread: the thread owning rng and clk.
 */
int ceb_event_wrap_from(ceb_rng *rng, ceb_clock *clk, const void *payload, size_t len,
                        const char *content_type, const char *type, const char *source,
                        const char *subject, ceb_event **out, ceb_diag *d);

#endif
