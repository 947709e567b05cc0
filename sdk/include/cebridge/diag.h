#ifndef CEBRIDGE_DIAG_H
#define CEBRIDGE_DIAG_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A diagnostic: the one place an error's text travels with its code.
 *
 * Callers allocate it (on the stack is fine) and zero it or call
 * ceb_diag_clear(). Functions that fail fill it and return the same
 * negative code. `field` optionally names the option or JSON path the
 * message is about ("transition", "wrap.type", "data.items[0]"): the core
 * turns that into `FILE:LINE:COL: sinks.NAME.FIELD: message`, so a plugin
 * writes only the message. Text is truncated, never overflowed.
 */
typedef struct ceb_diag {
    int code;           /* 0 or a negative CEB_E* code */
    char field[128];    /* "" or the dotted option / JSON path */
    char message[512];  /* "" or one line, no trailing period or newline */
} ceb_diag;

#if defined(__GNUC__)
#define CEB_ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CEB_ATTR_PRINTF(f, a)
#endif

void ceb_diag_clear(ceb_diag *d);

/*
 * Record an error and return `code`, so `return ceb_diag_set(d, CEB_ECONFIG, "...")`
 * reads naturally. `d` may be NULL (the text is dropped). The first error
 * set wins: a later call keeps the earlier message (the root cause).
 * Thread: any (the diag is the caller's).
 */
int ceb_diag_set(ceb_diag *d, int code, const char *fmt, ...) CEB_ATTR_PRINTF(3, 4);
int ceb_diag_set_field(ceb_diag *d, int code, const char *field, const char *fmt, ...)
    CEB_ATTR_PRINTF(4, 5);
int ceb_diag_setv(ceb_diag *d, int code, const char *field, const char *fmt, va_list ap);

#endif
