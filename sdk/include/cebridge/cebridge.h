#ifndef CEBRIDGE_CEBRIDGE_H
#define CEBRIDGE_CEBRIDGE_H

/* Everything a plugin may include (testhost.h is for plugin tests only). */
#include "version.h"
#include "errors.h"
#include "diag.h"
#include "buf.h"
#include "json.h"
#include "event.h"
#include "options.h"
#include "plugin.h"
#include "host.h"
#include "codec.h"
#include "codec_http.h"
#include "codec_kafka.h"
#include "codec_faststream.h"
#include "template.h"
#include "log.h"

#endif
