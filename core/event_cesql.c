#include "event_cesql.h"

#include <string.h>
#include "optval.h"

static bool set_str(const char *s, ceb_cesql_value *out)
{
    if (s == NULL)
        return false;
    out->type = CEB_CESQL_T_STRING;
    out->s = s;
    out->len = strlen(s);
    return true;
}

static bool ev_attr(void *event, int slot, const char *name, size_t name_len,
                    ceb_cesql_value *out)
{
    const ceb_event *ev = event;
    (void)name_len;
    switch (slot) {
    case CEB_CESQL_ATTR_ID:              return set_str(ceb_event_id(ev), out);
    case CEB_CESQL_ATTR_SOURCE:          return set_str(ceb_event_source(ev), out);
    case CEB_CESQL_ATTR_TYPE:            return set_str(ceb_event_type(ev), out);
    case CEB_CESQL_ATTR_SUBJECT:         return set_str(ceb_event_subject(ev), out);
    case CEB_CESQL_ATTR_TIME:            return set_str(ceb_event_time(ev), out);
    case CEB_CESQL_ATTR_DATACONTENTTYPE: return set_str(ceb_event_datacontenttype(ev), out);
    case CEB_CESQL_ATTR_SPECVERSION:
    case CEB_CESQL_ATTR_DATASCHEMA:      return set_str(ceb_event_get(ev, name), out);
    default:
        break;
    }
    ceb_attr a;
    if (ceb_event_attr(ev, name, &a) != 0)
        return false;
    switch (a.type) {
    case CEB_ATTR_INTEGER:
        out->type = CEB_CESQL_T_INT;
        out->i = a.i;
        return true;
    case CEB_ATTR_BOOLEAN:
        out->type = CEB_CESQL_T_BOOL;
        out->b = a.b;
        return true;
    default:
        out->type = CEB_CESQL_T_STRING;
        out->s = a.text;
        out->len = a.len;
        return true;
    }
}

static const cJSON *ev_data_json(void *event)
{
    return ceb__json_unwrap(ceb_event_data_json((const ceb_event *)event));
}

static const ceb_cesql_accessor accessor = {
    .attr = ev_attr,
    .data_json = ev_data_json,
};

const ceb_cesql_accessor *ceb__event_cesql_accessor(void)
{
    return &accessor;
}
