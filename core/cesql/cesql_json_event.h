#ifndef CEB_CESQL_JSON_EVENT_H
#define CEB_CESQL_JSON_EVENT_H

/*
 * A ceb_cesql_accessor over a structured-mode JSON CloudEvent held as a
 * cJSON object: what the `cesql` CLI and the TCK runner evaluate against.
 *
 * Attributes are the object's members (except data and data_base64): JSON
 * strings are Strings, booleans Booleans, integral numbers within int32
 * Integers; other member types read as absent (ceb_cesql_json_event_check
 * reports them). Data is JSON when datacontenttype is absent,
 * application/json or ends in +json (parameters ignored): the `data` member
 * itself, or `data_base64` decoded and parsed once (cached on the struct).
 */

#include "cesql.h"

typedef struct ceb_cesql_json_event {
    const cJSON *root;   /* borrowed event object */
    cJSON *owned;        /* parse of data_base64, freed by _reset */
    const cJSON *data;   /* cached data_json() answer */
    bool data_done;
} ceb_cesql_json_event;

/* The accessor; pass a ceb_cesql_json_event * as the event. */
extern const ceb_cesql_accessor ceb_cesql_json_accessor;

/* Point ev at root (borrowed; must outlive ev's use). */
void ceb_cesql_json_event_init(ceb_cesql_json_event *ev, const cJSON *root);

/* Free the cached data parse. ev can be initialised again afterwards. */
void ceb_cesql_json_event_reset(ceb_cesql_json_event *ev);

/*
 * Check that root is an object whose attribute members have CESQL types
 * (string, boolean, integer within int32). Returns 0, or -EINVAL with a
 * message naming the attribute in msg (cap bytes, may be 0).
 */
int ceb_cesql_json_event_check(const cJSON *root, char *msg, size_t cap);

/* True if a datacontenttype (may be NULL: absent) denotes JSON. */
bool ceb_cesql_json_content_type(const char *ct);

#endif /* CEB_CESQL_JSON_EVENT_H */
