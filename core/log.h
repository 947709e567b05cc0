#ifndef CEB_CORE_LOG_H
#define CEB_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <cebridge/host.h>

/*
 * Structured logs to stderr (DESIGN §7): logfmt by default
 *   ts=2026-11-23T13:00:00.123Z level=info component=router msg="..." key=value
 * or one JSON object per line. Never pass secrets.
 * Thread: loop thread (and main); the sink is a FILE* written in one fwrite
 * per line.
 */
typedef enum { CEB_LOGFMT_LOGFMT = 0, CEB_LOGFMT_JSON } ceb_log_format;

typedef struct ceb_log {
    ceb_log_level level;
    ceb_log_format format;
    FILE *out;          /* stderr by default; tests use a memstream */
} ceb_log;

/* level info, logfmt, `out` (NULL: stderr). */
void ceb_log_init(ceb_log *log, FILE *out);
/* error|warn|warning|info|debug|trace, case-insensitive. */
int  ceb_log_parse_level(const char *s, ceb_log_level *out);    /* 0 or CEB_EINVAL */
int  ceb_log_parse_format(const char *s, ceb_log_format *out);  /* 0 or CEB_EINVAL */
bool ceb_log_enabled(const ceb_log *log, ceb_log_level level);

/*
 * One line. `component` ("core", "router", "source/ci-redis") and the
 * optional key/value pairs (kv: NULL-terminated, name then value) are
 * quoted as logfmt/JSON require.
 *   logfmt: a value is quoted when it is empty or holds a space, control
 *           character, '=', '"' or backslash; inside the quotes backslash and
 *           '"' are backslash-escaped, newline, CR and tab become \n \r \t,
 *           other control bytes \u00XX. Key characters outside [A-Za-z0-9_./-] become '_'.
 *   JSON:   every value a string; invalid UTF-8 bytes become \ufffd.
 * Field order: ts, level, component (omitted when NULL), msg (omitted when
 * fmt is NULL; trailing newlines dropped), then kv in order (an odd last key
 * gets ""). ts is RFC 3339 UTC with milliseconds. One fwrite + fflush per
 * line; out of memory drops the line.
 */
void ceb_log_write(ceb_log *log, ceb_log_level level, const char *component,
                   const char *const *kv, const char *fmt, ...) CEB_ATTR_PRINTF(5, 6);
void ceb_log_writev(ceb_log *log, ceb_log_level level, const char *component,
                    const char *const *kv, const char *fmt, va_list ap);

#endif
