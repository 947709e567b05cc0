/*
 * Normalization shared by the binding codecs (DESIGN §2): the one place
 * that decides how a CloudEvent-shaped payload missing a required attribute
 * is repaired from ceb_decode_opts or refused, so HTTP, Kafka and Redis
 * stream inputs behave (and word their errors) the same way.
 */
#include <stdio.h>
#include <string.h>

#include <cebridge/codec.h>
#include <cebridge/errors.h>
#include "sdk_internal.h"

int ceb__spec_error(ceb_diag *d, int rc, const char *field)
{
    if (rc == CEB_ENOMEM)
        return rc;
    if (d != NULL) {
        if (d->code == 0)
            ceb_diag_set(d, CEB_ESPEC, "invalid value for '%s'", field);
        d->code = CEB_ESPEC;
        if (d->field[0] == '\0')
            snprintf(d->field, sizeof d->field, "%s", field);
    }
    return CEB_ESPEC;
}

static int fill_one(ceb_event *ev, const char *name, ceb_decode_opts *opts,
                    const char *carrier, ceb_diag *d)
{
    const char *cur = ceb_event_get(ev, name);
    if (cur != NULL && cur[0] != '\0')
        return 0;
    const char *fill = NULL;
    unsigned bit = 0;
    char id[37];
    if (opts != NULL && !opts->strict) {
        if (strcmp(name, "id") == 0) {
            ceb_uuid4(id);
            fill = id;
            bit = CEB_REPAIRED_ID;
        } else if (strcmp(name, "source") == 0) {
            fill = opts->default_source;
            bit = CEB_REPAIRED_SOURCE;
        } else {
            fill = opts->default_type;
            bit = CEB_REPAIRED_TYPE;
        }
    }
    if (fill == NULL || fill[0] == '\0')
        return ceb_diag_set_field(d, CEB_ESPEC, name,
                                  "required attribute '%s' is missing or empty (%s%s)",
                                  name, carrier, name);
    int rc = ceb_event_set(ev, name, fill, d);
    if (rc < 0)
        return ceb__spec_error(d, rc, name);
    opts->repaired |= bit;
    return 0;
}

int ceb__event_fill_required(ceb_event *ev, ceb_decode_opts *opts, const char *carrier,
                             ceb_diag *d)
{
    static const char *const required[] = { "id", "source", "type" };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        int rc = fill_one(ev, required[i], opts, carrier, d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

unsigned ceb__context_bit(const char *name, size_t n)
{
#define CTX_IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)
    switch (n > 0 ? name[0] : '\0') {
    case 'i': return CTX_IS("id") ? CEB__CTX_ID : 0;
    case 's': return CTX_IS("source") ? CEB__CTX_SOURCE : CTX_IS("subject") ? CEB__CTX_SUBJECT
                   : CTX_IS("specversion") ? CEB__CTX_SPECVERSION : 0;
    case 't': return CTX_IS("type") ? CEB__CTX_TYPE : CTX_IS("time") ? CEB__CTX_TIME : 0;
    case 'd': return CTX_IS("dataschema") ? CEB__CTX_DATASCHEMA : 0;
    default:  return 0;
    }
#undef CTX_IS
}
