#ifndef CEBRIDGE_BUF_H
#define CEBRIDGE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include "diag.h"

/*
 * A growable byte buffer, the output type of codecs and templates.
 * Zero-initialise (`ceb_buf b = {0};`), append, then ceb_buf_free().
 * `data` is always NUL-terminated after a successful append (the NUL is
 * not counted in `len`), so text results can be used as C strings.
 * Ownership: the buffer owns `data`; release it with ceb_buf_free(), never free().
 * Thread: the caller's.
 */
typedef struct ceb_buf {
    char *data;
    size_t len;
    size_t cap;
} ceb_buf;

/* Returns 0 or CEB_ENOMEM (the buffer is unchanged then). */
int ceb_buf_reserve(ceb_buf *b, size_t extra);
int ceb_buf_append(ceb_buf *b, const void *p, size_t n);
int ceb_buf_append_str(ceb_buf *b, const char *s);
int ceb_buf_printf(ceb_buf *b, const char *fmt, ...) CEB_ATTR_PRINTF(2, 3);
/* Forget the contents, keep the memory. */
void ceb_buf_reset(ceb_buf *b);
/* Hand the bytes over: *out must later be released with ceb_free(). */
char *ceb_buf_steal(ceb_buf *b, size_t *len);
void ceb_buf_free(ceb_buf *b);

/* Release memory the SDK handed out (ceb_buf_steal, ceb_event_wrap's id, ...). */
void ceb_free(void *p);

#endif
