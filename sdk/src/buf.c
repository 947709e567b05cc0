/* buf.c - growable byte buffer (buf.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/buf.h>
#include <cebridge/errors.h>

int ceb_buf_reserve(ceb_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return CEB_ENOMEM;
    size_t need = b->len + extra + 1;  /* room for the NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return CEB_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ceb_buf_append(ceb_buf *b, const void *p, size_t n)
{
    /* Most appends fit: skip the overflow and growth checks then (room for
       the NUL included). */
    if (b->cap - b->len <= n) {
        int rc = ceb_buf_reserve(b, n);
        if (rc < 0)
            return rc;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ceb_buf_append_str(ceb_buf *b, const char *s)
{
    return ceb_buf_append(b, s, strlen(s));
}

int ceb_buf_printf(ceb_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return CEB_EINVAL;
    }
    int rc = ceb_buf_reserve(b, (size_t)n);
    if (rc < 0) {
        va_end(ap2);
        return rc;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return 0;
}

void ceb_buf_reset(ceb_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

char *ceb_buf_steal(ceb_buf *b, size_t *len)
{
    char *p = b->data;
    if (len != NULL)
        *len = b->len;
    if (p == NULL) {
        p = calloc(1, 1);   /* an empty buffer hands over "" */
        if (p == NULL && len != NULL)
            *len = 0;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void ceb_buf_free(ceb_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ceb_free(void *p)
{
    free(p);
}
