/* diag.c - error text that travels with its code (diag.h). */
#include <stdio.h>
#include <string.h>

#include <cebridge/diag.h>

void ceb_diag_clear(ceb_diag *d)
{
    if (d != NULL)
        memset(d, 0, sizeof *d);
}

int ceb_diag_setv(ceb_diag *d, int code, const char *field, const char *fmt, va_list ap)
{
    if (d == NULL || d->code != 0)
        return code;            /* the first error is the root cause: keep it */
    d->code = code;
    d->field[0] = '\0';
    if (field != NULL)
        snprintf(d->field, sizeof d->field, "%s", field);
    d->message[0] = '\0';
    if (fmt != NULL)
        vsnprintf(d->message, sizeof d->message, fmt, ap);
    /* One line, no trailing newline or period. */
    for (char *p = d->message; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(d->message);
    while (n > 0 && d->message[n - 1] == ' ')
        d->message[--n] = '\0';
    /* A sentence's final period goes; an ellipsis ("got [1,2,...") stays. */
    if (n > 0 && d->message[n - 1] == '.' && !(n > 1 && d->message[n - 2] == '.'))
        d->message[--n] = '\0';
    return code;
}

int ceb_diag_set(ceb_diag *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ceb_diag_setv(d, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int ceb_diag_set_field(ceb_diag *d, int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ceb_diag_setv(d, code, field, fmt, ap);
    va_end(ap);
    return code;
}
