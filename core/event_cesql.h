#ifndef CEB_CORE_EVENT_CESQL_H
#define CEB_CORE_EVENT_CESQL_H

#include <cebridge/event.h>
#include "cesql/cesql.h"

/*
 * The CESQL accessor over ceb_event: context attributes by slot,
 * extensions typed (Integer -> INT, Boolean -> BOOL, every other type ->
 * STRING in its canonical text), data through ceb_event_data_json (parsed
 * once and cached on the event). Pass the event as `void *` (a
 * `const ceb_event *`, not modified). Static and immutable; thread: any
 * (for a frozen event).
 */
const ceb_cesql_accessor *ceb__event_cesql_accessor(void);

#endif
