/*
 * event.c - ceb_event, a CloudEvents 1.0 event in memory (event.h).
 *
 * Context attributes live in fixed slots (spec order), extensions in a
 * small array in insertion order. The reference count is atomic; the lazy
 * JSON parse of data is published with a compare-exchange so concurrent
 * readers of a frozen event each see the one parse (a loser frees its own).
 * A failed parse is cached too (a sentinel), so bad data is parsed once.
 *
 * Allocation: the attribute strings of a small event live in an arena
 * inside the event (EV_ARENA bytes, handed out in order and only given
 * back with the event; a replaced value's space stays used), and up to
 * EV_EXT_INLINE extensions in an array inside it; data copied in
 * (ceb_event_set_data, wrap, clone) goes there too while it fits, so
 * decoding a typical small event costs one allocation. Longer strings,
 * larger data and more extensions go to the heap as before.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <cjson/cJSON.h>

#include <cebridge/codec.h>
#include <cebridge/errors.h>
#include <cebridge/event.h>
#include "sdk_internal.h"

enum { CTX_ID, CTX_SOURCE, CTX_SPECVERSION, CTX_TYPE, CTX_DATACONTENTTYPE,
       CTX_DATASCHEMA, CTX_SUBJECT, CTX_TIME, CTX_N };

static const char *const ctx_names[CTX_N] = {
    "id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time"
};
static const unsigned char ctx_name_len[CTX_N] = { 2, 6, 11, 4, 15, 10, 7, 4 };

/* The common datacontenttype is kept as this constant, not copied. */
static const char ct_json[] = "application/json";

static const ceb_attr_type ctx_types[CTX_N] = {
    CEB_ATTR_STRING, CEB_ATTR_URI_REF, CEB_ATTR_STRING, CEB_ATTR_STRING,
    CEB_ATTR_STRING, CEB_ATTR_URI, CEB_ATTR_STRING, CEB_ATTR_TIMESTAMP
};

typedef struct ceb__ext {
    char *name;
    char *text;
    size_t len;
    ceb_attr_type type;
    int32_t i;
    uint32_t nlen;              /* strlen(name) */
    bool b;
    bool plain;                 /* text needs no JSON escaping */
} ceb__ext;

#define EV_ARENA 192
#define EV_EXT_INLINE 4

struct ceb_event {
    atomic_uint refs;
    atomic_bool frozen;
    char *ctx[CTX_N];           /* CTX_SPECVERSION is never stored: always "1.0" */
    size_t ctx_len[CTX_N];
    unsigned ctx_plain;         /* bit 1 << slot: that value needs no JSON escaping */
    unsigned n_heap;            /* attribute strings on the heap (not arena, not constant) */
    ceb__ext *ext;
    size_t n_ext, cap_ext;
    ceb_data_kind kind;
    char *data;                 /* NUL-terminated at data[data_len] */
    size_t data_len;
    bool data_compact;          /* JSON data without insignificant whitespace */
    bool data_text_ok;          /* TEXT data known to be UTF-8 without NUL */
    _Atomic(void *) json;       /* NULL: not parsed yet; JSON_FAILED; a cJSON tree; or
                                   an arena tree tagged with JSON_ARENA_TAG */
    size_t arena_used;
    ceb__ext ext_inline[EV_EXT_INLINE];   /* `ext` while cap_ext <= EV_EXT_INLINE; only
                                             [0, n_ext) is ever read: not zeroed */
    char arena[EV_ARENA];       /* last member: not zeroed by ceb_event_new */
};

static const char json_failed_marker;
#define JSON_FAILED ((void *)(uintptr_t)&json_failed_marker)
/* The lazy parse's trees (ceb__json_arena_parse) are told apart from the
   cJSON trees callers hand in by the low bit of the cached pointer (nodes
   are at least pointer-aligned, JSON_FAILED is never tagged). */
#define JSON_ARENA_TAG ((uintptr_t)1)

/* ---- helpers ------------------------------------------------------------ */

static int ctx_slot(const char *name, size_t len)
{
    int i;
    switch (len) {
    case 2:  i = CTX_ID; break;
    case 4:  i = name[1] == 'y' ? CTX_TYPE : CTX_TIME; break;
    case 6:  i = CTX_SOURCE; break;
    case 7:  i = CTX_SUBJECT; break;
    case 10: i = CTX_DATASCHEMA; break;
    case 11: i = CTX_SPECVERSION; break;
    case 15: i = CTX_DATACONTENTTYPE; break;
    default: return -1;
    }
    return memcmp(ctx_names[i], name, len) == 0 ? i : -1;
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        if (n > 0)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static bool in_arena(const ceb_event *ev, const char *p)
{
    uintptr_t a = (uintptr_t)ev->arena, q = (uintptr_t)p;
    return q >= a && q < a + EV_ARENA;
}

/* A NUL-terminated copy of s[0..n) owned by `ev`: from its arena when it fits. */
static char *ev_dupn(ceb_event *ev, const char *s, size_t n)
{
    if (n < EV_ARENA - ev->arena_used) {
        char *p = ev->arena + ev->arena_used;
        if (n > 0)
            memcpy(p, s, n);
        p[n] = '\0';
        ev->arena_used += n + 1;
        return p;
    }
    return dupn(s, n);
}

/* Give back data from ev_dupn or ceb__event_take_data (arena space is only
   reused with the event). */
static void ev_free_data(ceb_event *ev, char *p)
{
    if (p != NULL && !in_arena(ev, p))
        free(p);
}

/* ev_dupn for attribute strings, counted in n_heap when on the heap, so
   that freeing an event whose strings all live in it skips the walk. */
static char *ev_dupn_str(ceb_event *ev, const char *s, size_t n)
{
    char *p = ev_dupn(ev, s, n);
    if (p != NULL && !in_arena(ev, p))
        ev->n_heap++;
    return p;
}

/* Give back a string from ev_dupn_str (or the ct_json constant). */
static void ev_free_str(ceb_event *ev, char *p)
{
    if (p != NULL && p != ct_json && !in_arena(ev, p)) {
        free(p);
        ev->n_heap--;
    }
}

/* Whether s[0..n) is safe to copy into a JSON string as it is; false when
   unsure (not UTF-8: the encoder decides). */
static bool json_plain(const char *s, size_t n)
{
    unsigned cls;
    return ceb__utf8_scan(s, n, NULL, &cls) && !(cls & CEB__TXT_JSONESC);
}

/* Room for one more extension. */
static int ext_grow(ceb_event *ev)
{
    if (ev->n_ext < ev->cap_ext)
        return 0;
    if (ev->cap_ext == 0) {
        ev->ext = ev->ext_inline;
        ev->cap_ext = EV_EXT_INLINE;
        return 0;
    }
    size_t cap = ev->cap_ext * 2;
    ceb__ext *nx;
    if (ev->ext == ev->ext_inline) {
        nx = malloc(cap * sizeof *nx);
        if (nx != NULL)
            memcpy(nx, ev->ext_inline, ev->n_ext * sizeof *nx);
    } else {
        nx = realloc(ev->ext, cap * sizeof *nx);
    }
    if (nx == NULL)
        return CEB_ENOMEM;
    ev->ext = nx;
    ev->cap_ext = cap;
    return 0;
}

static void json_cache_drop(ceb_event *ev)
{
    /* A load first: most events never had their data parsed, and an
       exchange would claim the cache line exclusively even then - costly
       when the event was built on another thread (a decode worker). */
    if (atomic_load_explicit(&ev->json, memory_order_acquire) == NULL)
        return;
    void *j = atomic_exchange(&ev->json, NULL);
    if (j == NULL || j == JSON_FAILED)
        return;
    if ((uintptr_t)j & JSON_ARENA_TAG)
        ceb__json_arena_free((const cJSON *)((uintptr_t)j & ~JSON_ARENA_TAG));
    else
        cJSON_Delete(j);
}

static ceb__ext *ext_find(const ceb_event *ev, const char *name, size_t len)
{
    for (size_t i = 0; i < ev->n_ext; i++)
        if (ev->ext[i].nlen == len && memcmp(ev->ext[i].name, name, len) == 0)
            return &ev->ext[i];
    return NULL;
}

static void ext_remove_at(ceb_event *ev, size_t i)
{
    ev_free_str(ev, ev->ext[i].name);
    ev_free_str(ev, ev->ext[i].text);
    memmove(&ev->ext[i], &ev->ext[i + 1], (ev->n_ext - i - 1) * sizeof ev->ext[0]);
    ev->n_ext--;
}

static int immutable(const ceb_event *ev, ceb_diag *d)
{
    if (atomic_load_explicit(&ev->frozen, memory_order_acquire))
        return ceb_diag_set(d, CEB_EIMMUTABLE, "event is immutable once emitted");
    return 0;
}

bool ceb__ctype_is_json(const char *ct, size_t len)
{
    if (ct == NULL)
        return false;
    if (len == 16 && memcmp(ct, "application/json", 16) == 0)
        return true;    /* the common one, without the general parse */
    const char *semi = memchr(ct, ';', len);
    if (semi != NULL)
        len = (size_t)(semi - ct);
    while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
        len--;
    while (len > 0 && (*ct == ' ' || *ct == '\t')) {
        ct++;
        len--;
    }
    const char *slash = memchr(ct, '/', len);
    if (slash == NULL || slash == ct)
        return false;
    const char *sub = slash + 1;
    size_t sublen = len - (size_t)(sub - ct);
    if (sublen == 4 && strncasecmp(sub, "json", 4) == 0)
        return true;
    return sublen > 5 && strncasecmp(sub + sublen - 5, "+json", 5) == 0;
}

/* ---- validation --------------------------------------------------------- */

int ceb_attr_name_check(const char *name, size_t len, ceb_diag *d)
{
    if (name == NULL || len == 0)
        return ceb_diag_set(d, CEB_EINVAL, "attribute name is empty");
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return ceb_diag_set(d, CEB_EINVAL,
                                "invalid attribute name \"%.*s\": only lower-case letters a-z "
                                "and digits 0-9 are allowed", (int)(len > 64 ? 64 : len), name);
    }
    if (len == 4 && memcmp(name, "data", 4) == 0)
        return ceb_diag_set(d, CEB_EINVAL, "attribute name \"data\" is reserved for the event payload");
    return 0;
}

static bool leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static bool digits(const char *s, size_t n, long *out)
{
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC 3339 §5.6 date-time: full-date "T" full-time (t and z accepted in lower case). */
int ceb_time_check_rfc3339(const char *s, size_t len)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    long y, mo, da, h, mi, se;
    if (s == NULL || len < 20)
        return CEB_EINVAL;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &da) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return CEB_EINVAL;
    if (mo < 1 || mo > 12 || da < 1 || h > 23 || mi > 59 || se > 60)
        return CEB_EINVAL;
    if (da > mdays[mo - 1] + (mo == 2 && leap(y) ? 1 : 0))
        return CEB_EINVAL;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return CEB_EINVAL;
    }
    if (i >= len)
        return CEB_EINVAL;
    if (s[i] == 'Z' || s[i] == 'z')
        return i + 1 == len ? 0 : CEB_EINVAL;
    long oh, om;
    if ((s[i] != '+' && s[i] != '-') || len - i != 6 || !digits(s + i + 1, 2, &oh) ||
        s[i + 3] != ':' || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
        return CEB_EINVAL;
    return 0;
}

static bool has_ctl_or_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F)
            return true;
    }
    return false;
}

/* An absolute URI: scheme ":" ..., no whitespace or control characters. */
static bool uri_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    while (i < n && s[i] != ':') {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return false;
        i++;
    }
    return i < n && !has_ctl_or_space(s, n);
}

static int parse_int32(const char *s, size_t n, int32_t *out)
{
    size_t i = 0;
    bool neg = false;
    int64_t v = 0;
    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n)
        return CEB_EINVAL;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CEB_EINVAL;
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT32_MAX + 1)
            return CEB_ERANGE;
    }
    if (neg)
        v = -v;
    if (v < INT32_MIN || v > INT32_MAX)
        return CEB_ERANGE;
    *out = (int32_t)v;
    return 0;
}

static const char *type_name(ceb_attr_type t)
{
    switch (t) {
    case CEB_ATTR_STRING:    return "String";
    case CEB_ATTR_INTEGER:   return "Integer";
    case CEB_ATTR_BOOLEAN:   return "Boolean";
    case CEB_ATTR_URI:       return "URI";
    case CEB_ATTR_URI_REF:   return "URI-reference";
    case CEB_ATTR_TIMESTAMP: return "Timestamp";
    case CEB_ATTR_BINARY:    return "Binary";
    }
    return "?";
}

/*
 * Validate `text` as a value of `type` for attribute `name`; for Integer and
 * Boolean fill *i / *b and write the canonical text into canon[12].
 */
static int value_check(const char *name, ceb_attr_type type, const char *text, size_t len,
                       int32_t *i, bool *b, char canon[16], ceb_diag *d)
{
    if (memchr(text, '\0', len) != NULL)
        return ceb_diag_set(d, CEB_EINVAL, "value of '%s' contains a NUL byte", name);
    canon[0] = '\0';
    switch (type) {
    case CEB_ATTR_STRING:
        return 0;
    case CEB_ATTR_INTEGER: {
        int rc = parse_int32(text, len, i);
        if (rc < 0)
            return ceb_diag_set(d, CEB_EINVAL, "value of '%s' is not an Integer (int32): \"%.*s\"",
                                name, (int)(len > 64 ? 64 : len), text);
        char digits[12], *q = digits + sizeof(digits);
        uint32_t u = *i < 0 ? 0u - (uint32_t)*i : (uint32_t)*i;
        do {
            *--q = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (*i < 0)
            *--q = '-';
        size_t nd = (size_t)(digits + sizeof(digits) - q);
        memcpy(canon, q, nd);
        canon[nd] = '\0';
        return 0;
    }
    case CEB_ATTR_BOOLEAN:
        if (len == 4 && memcmp(text, "true", 4) == 0)
            *b = true;
        else if (len == 5 && memcmp(text, "false", 5) == 0)
            *b = false;
        else
            return ceb_diag_set(d, CEB_EINVAL, "value of '%s' is not a Boolean (true or false): \"%.*s\"",
                                name, (int)(len > 64 ? 64 : len), text);
        memcpy(canon, *b ? "true" : "false", *b ? 5 : 6);
        return 0;
    case CEB_ATTR_URI:
        if (!uri_ok(text, len))
            return ceb_diag_set(d, CEB_EINVAL, "value of '%s' is not an absolute URI: \"%.*s\"",
                                name, (int)(len > 64 ? 64 : len), text);
        return 0;
    case CEB_ATTR_URI_REF:
        if (has_ctl_or_space(text, len))
            return ceb_diag_set(d, CEB_EINVAL, "value of '%s' is not a URI-reference "
                                "(contains a space or control character)", name);
        return 0;
    case CEB_ATTR_TIMESTAMP:
        if (ceb_time_check_rfc3339(text, len) < 0)
            return ceb_diag_set(d, CEB_EINVAL, "value of '%s' is not an RFC 3339 timestamp: \"%.*s\"",
                                name, (int)(len > 64 ? 64 : len), text);
        return 0;
    case CEB_ATTR_BINARY: {
        ceb_buf tmp = {0};
        int rc = ceb_base64_decode(text, len, &tmp);
        ceb_buf_free(&tmp);
        if (rc == CEB_ENOMEM)
            return rc;
        if (rc < 0)
            return ceb_diag_set(d, CEB_EINVAL, "value of '%s' is not valid base64", name);
        return 0;
    }
    }
    return ceb_diag_set(d, CEB_EINVAL, "unknown attribute type %d", (int)type);
}

/* ---- lifecycle ---------------------------------------------------------- */

int ceb_event_new(ceb_event **out)
{
    ceb_event *ev = malloc(sizeof *ev);
    if (ev == NULL)
        return CEB_ENOMEM;
    memset(ev, 0, offsetof(ceb_event, ext_inline));
    atomic_init(&ev->refs, 1);
    atomic_init(&ev->frozen, false);
    atomic_init(&ev->json, NULL);
    *out = ev;
    return 0;
}

const ceb_event *ceb_event_ref(const ceb_event *ev)
{
    if (ev != NULL)
        atomic_fetch_add_explicit(&((ceb_event *)ev)->refs, 1, memory_order_relaxed);
    return ev;
}

static void event_free(ceb_event *ev)
{
    if (ev->n_heap > 0) {   /* else every string is in the arena or constant */
        for (int i = 0; i < CTX_N; i++)
            ev_free_str(ev, ev->ctx[i]);
        for (size_t i = 0; i < ev->n_ext; i++) {
            ev_free_str(ev, ev->ext[i].name);
            ev_free_str(ev, ev->ext[i].text);
        }
    }
    if (ev->ext != ev->ext_inline && ev->ext != NULL)
        free(ev->ext);
    ev_free_data(ev, ev->data);
    if (atomic_load_explicit(&ev->json, memory_order_relaxed) != NULL) /* last owner */
        json_cache_drop(ev);
    free(ev);
}

void ceb_event_unref(const ceb_event *cev)
{
    ceb_event *ev = (ceb_event *)cev;
    if (ev == NULL)
        return;
    if (atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel) == 1)
        event_free(ev);
}

int ceb_event_clone(const ceb_event *ev, ceb_event **out)
{
    ceb_event *c;
    if (ceb_event_new(&c) < 0)
        return CEB_ENOMEM;
    for (int i = 0; i < CTX_N; i++) {
        if (ev->ctx[i] == NULL)
            continue;
        if (ev->ctx[i] == ct_json)
            c->ctx[i] = (char *)ct_json;
        else if ((c->ctx[i] = ev_dupn_str(c, ev->ctx[i], ev->ctx_len[i])) == NULL)
            goto nomem;
        c->ctx_len[i] = ev->ctx_len[i];
    }
    c->ctx_plain = ev->ctx_plain;
    for (size_t i = 0; i < ev->n_ext; i++) {
        if (ext_grow(c) < 0)
            goto nomem;
        ceb__ext *x = &c->ext[c->n_ext];
        *x = ev->ext[i];
        x->name = ev_dupn_str(c, ev->ext[i].name, ev->ext[i].nlen);
        x->text = x->name != NULL ? ev_dupn_str(c, ev->ext[i].text, ev->ext[i].len) : NULL;
        if (x->text == NULL) {
            ev_free_str(c, x->name);
            goto nomem;
        }
        c->n_ext++;
    }
    if (ev->data != NULL) {
        if ((c->data = ev_dupn(c, ev->data, ev->data_len)) == NULL)
            goto nomem;
        c->data_len = ev->data_len;
    }
    c->kind = ev->kind;
    c->data_compact = ev->data_compact;
    c->data_text_ok = ev->data_text_ok;
    *out = c;
    return 0;
nomem:
    event_free(c);
    return CEB_ENOMEM;
}

void ceb_event_freeze(ceb_event *ev)
{
    atomic_store_explicit(&ev->frozen, true, memory_order_release);
}

bool ceb_event_is_frozen(const ceb_event *ev)
{
    return atomic_load_explicit(&ev->frozen, memory_order_acquire);
}

/* ---- setters ------------------------------------------------------------ */

/* plain: 1 when value needs no JSON escaping, 0 when it may, -1 unknown. */
static int ctx_store_plain(ceb_event *ev, int slot, const char *value, size_t len, int plain)
{
    char *p;
    if (slot == CTX_DATACONTENTTYPE && len == sizeof ct_json - 1 &&
        memcmp(value, ct_json, len) == 0) {
        p = (char *)ct_json;
        plain = 1;
    } else if ((p = ev_dupn_str(ev, value, len)) == NULL) {
        return CEB_ENOMEM;
    }
    if (plain < 0)
        plain = json_plain(value, len);
    ev_free_str(ev, ev->ctx[slot]);
    ev->ctx[slot] = p;
    ev->ctx_len[slot] = len;
    if (plain)
        ev->ctx_plain |= 1u << slot;
    else
        ev->ctx_plain &= ~(1u << slot);
    if (slot == CTX_DATACONTENTTYPE)
        json_cache_drop(ev);    /* whether data is JSON may have changed */
    return 0;
}

static void ctx_clear(ceb_event *ev, int slot)
{
    ev_free_str(ev, ev->ctx[slot]);
    ev->ctx[slot] = NULL;
    ev->ctx_len[slot] = 0;
    if (slot == CTX_DATACONTENTTYPE)
        json_cache_drop(ev);
}

/* ctx_set for a value known to hold no NUL byte; cls: its ceb__utf8_scan
   classes when the caller scanned it, else -1. */
static int ctx_set_cls(ceb_event *ev, int slot, const char *value, size_t len, int cls,
                       ceb_diag *d)
{
    const char *name = ctx_names[slot];
    switch (slot) {
    case CTX_SPECVERSION:
        if (len != 3 || memcmp(value, "1.0", 3) != 0)
            return ceb_diag_set(d, CEB_EINVAL, "specversion must be \"1.0\", got \"%.*s\"",
                                (int)(len > 32 ? 32 : len), value);
        return 0;
    case CTX_ID:
    case CTX_SOURCE:
    case CTX_TYPE:
        if (len == 0)
            return ceb_diag_set(d, CEB_EINVAL, "required attribute '%s' must not be empty", name);
        if (slot == CTX_SOURCE && (cls >= 0 ? (cls & CEB__TXT_CTLSP) != 0
                                            : has_ctl_or_space(value, len)))
            return ceb_diag_set(d, CEB_EINVAL, "value of 'source' is not a URI-reference "
                                "(contains a space or control character)");
        return ctx_store_plain(ev, slot, value, len,
                               cls >= 0 ? !(cls & CEB__TXT_JSONESC) : -1);
    case CTX_TIME:
    case CTX_DATASCHEMA:
    case CTX_DATACONTENTTYPE:
    case CTX_SUBJECT:
        if (len == 0) {
            ctx_clear(ev, slot);
            return 0;
        }
        if (slot == CTX_TIME && ceb_time_check_rfc3339(value, len) < 0)
            return ceb_diag_set(d, CEB_EINVAL, "value of 'time' is not an RFC 3339 timestamp: \"%.*s\"",
                                (int)(len > 64 ? 64 : len), value);
        if (slot == CTX_DATASCHEMA && !uri_ok(value, len))
            return ceb_diag_set(d, CEB_EINVAL, "value of 'dataschema' is not an absolute URI: \"%.*s\"",
                                (int)(len > 64 ? 64 : len), value);
        return ctx_store_plain(ev, slot, value, len,
                               cls >= 0 ? !(cls & CEB__TXT_JSONESC) : -1);
    }
    return CEB_EINVAL;
}

static int ctx_set_nonul(ceb_event *ev, int slot, const char *value, size_t len, ceb_diag *d)
{
    return ctx_set_cls(ev, slot, value, len, -1, d);
}

static int ctx_set(ceb_event *ev, int slot, const char *value, size_t len, ceb_diag *d)
{
    if (memchr(value, '\0', len) != NULL)
        return ceb_diag_set(d, CEB_EINVAL, "value of '%s' contains a NUL byte",
                            ctx_names[slot]);
    return ctx_set_nonul(ev, slot, value, len, d);
}

int ceb__event_set_context_checked(ceb_event *ev, const char *name, size_t nlen,
                                   const char *value, size_t len, ceb_diag *d)
{
    int rc = immutable(ev, d);
    if (rc < 0)
        return rc;
    int slot = ctx_slot(name, nlen);
    if (slot < 0)
        return ceb_diag_set(d, CEB_EINVAL, "'%.*s' is not a context attribute",
                            (int)(nlen > 64 ? 64 : nlen), name);
    return ctx_set_nonul(ev, slot, value, len, d);
}

int ceb__event_set_context_bit(ceb_event *ev, unsigned bit, const char *value, size_t len,
                               unsigned cls, ceb_diag *d)
{
    int rc = immutable(ev, d);
    if (rc < 0)
        return rc;
    int slot;
    switch (bit) {
    case CEB__CTX_ID:          slot = CTX_ID; break;
    case CEB__CTX_SOURCE:      slot = CTX_SOURCE; break;
    case CEB__CTX_TYPE:        slot = CTX_TYPE; break;
    case CEB__CTX_SUBJECT:     slot = CTX_SUBJECT; break;
    case CEB__CTX_TIME:        slot = CTX_TIME; break;
    case CEB__CTX_DATASCHEMA:  slot = CTX_DATASCHEMA; break;
    case CEB__CTX_SPECVERSION: slot = CTX_SPECVERSION; break;
    default:
        return ceb_diag_set(d, CEB_EINVAL, "not a context attribute bit: %u", bit);
    }
    return ctx_set_cls(ev, slot, value, len, (int)(cls & 7u), d);
}

int ceb__event_set_ctype_scanned(ceb_event *ev, const char *value, size_t len, unsigned cls,
                                 ceb_diag *d)
{
    int rc = immutable(ev, d);
    if (rc < 0)
        return rc;
    if (cls & CEB__TXT_NUL)
        return ceb_diag_set(d, CEB_EINVAL, "value of 'datacontenttype' contains a NUL byte");
    return ctx_set_cls(ev, CTX_DATACONTENTTYPE, value, len, (int)(cls & 7u), d);
}

bool ceb__event_has_ext(const ceb_event *ev, const char *name, size_t nlen)
{
    return ext_find(ev, name, nlen) != NULL;
}

int ceb__event_add_ext_checked(ceb_event *ev, const char *name, size_t nlen,
                               const char *value, size_t len)
{
    return ceb__event_add_ext_scanned(ev, name, nlen, value, len, json_plain(value, len));
}

int ceb__event_add_ext_scanned(ceb_event *ev, const char *name, size_t nlen,
                               const char *value, size_t len, bool plain)
{
    if (ceb_event_is_frozen(ev))
        return CEB_EIMMUTABLE;
    if (ext_grow(ev) < 0)
        return CEB_ENOMEM;
    char *t = ev_dupn_str(ev, value, len);
    char *n = t != NULL ? ev_dupn_str(ev, name, nlen) : NULL;
    if (n == NULL) {
        ev_free_str(ev, t);
        return CEB_ENOMEM;
    }
    ceb__ext *x = &ev->ext[ev->n_ext++];
    x->name = n;
    x->nlen = (uint32_t)nlen;
    x->text = t;
    x->len = len;
    x->type = CEB_ATTR_STRING;
    x->i = 0;
    x->b = false;
    x->plain = plain;
    return 0;
}

static int ext_put(ceb_event *ev, const char *name, ceb_attr_type type, const char *text,
                   size_t len, int32_t i, bool b, const char *canon, bool replace, ceb_diag *d)
{
    if (canon != NULL && canon[0] != '\0') {
        text = canon;
        len = strlen(canon);
    }
    ceb__ext *x = ext_find(ev, name, strlen(name));
    if (x != NULL && !replace)
        return ceb_diag_set(d, CEB_EEXIST, "attribute '%s' is given more than once", name);
    if (x == NULL && ext_grow(ev) < 0)
        return CEB_ENOMEM;
    char *t = ev_dupn_str(ev, text, len);
    if (t == NULL)
        return CEB_ENOMEM;
    if (x == NULL) {
        size_t nlen = strlen(name);
        char *n = ev_dupn_str(ev, name, nlen);
        if (n == NULL) {
            ev_free_str(ev, t);
            return CEB_ENOMEM;
        }
        x = &ev->ext[ev->n_ext++];
        x->name = n;
        x->nlen = (uint32_t)nlen;
        x->text = NULL;
    }
    x->plain = type == CEB_ATTR_INTEGER || type == CEB_ATTR_BOOLEAN || json_plain(text, len);
    ev_free_str(ev, x->text);
    x->text = t;
    x->len = len;
    x->type = type;
    x->i = i;
    x->b = b;
    return 0;
}

static int ext_set(ceb_event *ev, const char *name, ceb_attr_type type, const char *text,
                   size_t len, bool empty_removes, bool replace, ceb_diag *d)
{
    int rc;
    if ((rc = immutable(ev, d)) < 0)
        return rc;
    if ((rc = ceb_attr_name_check(name, strlen(name), d)) < 0)
        return rc;
    if (empty_removes && type == CEB_ATTR_STRING && len == 0) {
        for (size_t k = 0; k < ev->n_ext; k++)
            if (strcmp(ev->ext[k].name, name) == 0) {
                ext_remove_at(ev, k);
                break;
            }
        return 0;
    }
    int32_t iv = 0;
    bool bv = false;
    char canon[16];
    if ((rc = value_check(name, type, text, len, &iv, &bv, canon, d)) < 0)
        return rc;
    return ext_put(ev, name, type, text, len, iv, bv, canon, replace, d);
}

int ceb_event_setn(ceb_event *ev, const char *name, const char *value, size_t len, ceb_diag *d)
{
    int rc;
    if (ev == NULL || name == NULL || (value == NULL && len > 0))
        return ceb_diag_set(d, CEB_EINVAL, "invalid argument");
    if (value == NULL)
        value = "";
    if ((rc = immutable(ev, d)) < 0)
        return rc;
    int slot = ctx_slot(name, strlen(name));
    if (slot >= 0)
        return ctx_set(ev, slot, value, len, d);
    return ext_set(ev, name, CEB_ATTR_STRING, value, len, true, true, d);
}

int ceb_event_set(ceb_event *ev, const char *name, const char *value, ceb_diag *d)
{
    return ceb_event_setn(ev, name, value, value ? strlen(value) : 0, d);
}

static int not_context(const char *name, const char *what, ceb_diag *d)
{
    if (name == NULL)
        return ceb_diag_set(d, CEB_EINVAL, "invalid argument");
    if (ctx_slot(name, strlen(name)) >= 0)
        return ceb_diag_set(d, CEB_EINVAL, "'%s' is a context attribute, not an extension; it cannot be %s",
                            name, what);
    return 0;
}

int ceb_event_set_int(ceb_event *ev, const char *name, int32_t value, ceb_diag *d)
{
    char text[16];
    int rc = not_context(name, "an Integer", d);
    if (rc < 0)
        return rc;
    snprintf(text, sizeof text, "%" PRId32, value);
    return ext_set(ev, name, CEB_ATTR_INTEGER, text, strlen(text), false, true, d);
}

int ceb_event_set_bool(ceb_event *ev, const char *name, bool value, ceb_diag *d)
{
    int rc = not_context(name, "a Boolean", d);
    if (rc < 0)
        return rc;
    const char *text = value ? "true" : "false";
    return ext_set(ev, name, CEB_ATTR_BOOLEAN, text, strlen(text), false, true, d);
}

int ceb_event_set_typed(ceb_event *ev, const char *name, ceb_attr_type type,
                        const char *text, size_t len, ceb_diag *d)
{
    if (ev == NULL || name == NULL || (text == NULL && len > 0))
        return ceb_diag_set(d, CEB_EINVAL, "invalid argument");
    if (text == NULL)
        text = "";
    int slot = ctx_slot(name, strlen(name));
    if (slot >= 0) {
        if (type == CEB_ATTR_INTEGER || type == CEB_ATTR_BOOLEAN || type == CEB_ATTR_BINARY)
            return ceb_diag_set(d, CEB_EINVAL, "'%s' is a context attribute; it cannot be set as %s",
                                name, type_name(type));
        return ceb_event_setn(ev, name, text, len, d);
    }
    return ext_set(ev, name, type, text, len, true, true, d);
}

int ceb__event_set_ext(ceb_event *ev, const char *name, ceb_attr_type type,
                       const char *text, size_t len, ceb_diag *d)
{
    int rc = not_context(name, "an extension", d);
    if (rc < 0)
        return rc;
    return ext_set(ev, name, type, text, len, false, false, d);
}

int ceb_event_remove(ceb_event *ev, const char *name)
{
    if (ev == NULL || name == NULL)
        return CEB_EINVAL;
    if (ceb_event_is_frozen(ev))
        return CEB_EIMMUTABLE;
    int slot = ctx_slot(name, strlen(name));
    if (slot == CTX_ID || slot == CTX_SOURCE || slot == CTX_SPECVERSION || slot == CTX_TYPE)
        return CEB_EINVAL;
    if (slot >= 0) {
        ctx_clear(ev, slot);
        return 0;
    }
    for (size_t i = 0; i < ev->n_ext; i++)
        if (strcmp(ev->ext[i].name, name) == 0) {
            ext_remove_at(ev, i);
            return 0;
        }
    return 0;   /* removing what is absent is not an error */
}

/* ---- getters ------------------------------------------------------------ */

static bool ctx_present(const ceb_event *ev, int slot)
{
    return slot == CTX_SPECVERSION || ev->ctx[slot] != NULL;
}

static void ctx_fill(const ceb_event *ev, int slot, ceb_attr *out)
{
    memset(out, 0, sizeof *out);
    out->name = ctx_names[slot];
    out->type = ctx_types[slot];
    if (slot == CTX_SPECVERSION) {
        out->text = "1.0";
        out->len = 3;
    } else {
        out->text = ev->ctx[slot];
        out->len = ev->ctx_len[slot];
    }
}

static void ext_fill(const ceb__ext *x, ceb_attr *out)
{
    out->name = x->name;
    out->type = x->type;
    out->text = x->text;
    out->len = x->len;
    out->i = x->i;
    out->b = x->b;
}

const char *ceb_event_get(const ceb_event *ev, const char *name)
{
    ceb_attr a;
    return ceb_event_attr(ev, name, &a) == 0 ? a.text : NULL;
}

int ceb_event_attr(const ceb_event *ev, const char *name, ceb_attr *out)
{
    if (ev == NULL || name == NULL)
        return CEB_EINVAL;
    int slot = ctx_slot(name, strlen(name));
    if (slot >= 0) {
        if (!ctx_present(ev, slot))
            return CEB_ENOENT;
        ctx_fill(ev, slot, out);
        return 0;
    }
    const ceb__ext *x = ext_find(ev, name, strlen(name));
    if (x == NULL)
        return CEB_ENOENT;
    ext_fill(x, out);
    return 0;
}

size_t ceb_event_attr_count(const ceb_event *ev)
{
    size_t n = ev->n_ext;
    for (int i = 0; i < CTX_N; i++)
        n += ctx_present(ev, i);
    return n;
}

int ceb_event_attr_at(const ceb_event *ev, size_t index, ceb_attr *out)
{
    for (int i = 0; i < CTX_N; i++) {
        if (!ctx_present(ev, i))
            continue;
        if (index == 0) {
            ctx_fill(ev, i, out);
            return 0;
        }
        index--;
    }
    if (index >= ev->n_ext)
        return CEB_ENOENT;
    ext_fill(&ev->ext[index], out);
    return 0;
}

const char *ceb_event_id(const ceb_event *ev) { return ev->ctx[CTX_ID]; }
const char *ceb_event_source(const ceb_event *ev) { return ev->ctx[CTX_SOURCE]; }
const char *ceb_event_type(const ceb_event *ev) { return ev->ctx[CTX_TYPE]; }
const char *ceb_event_subject(const ceb_event *ev) { return ev->ctx[CTX_SUBJECT]; }
const char *ceb_event_time(const ceb_event *ev) { return ev->ctx[CTX_TIME]; }
const char *ceb_event_datacontenttype(const ceb_event *ev) { return ev->ctx[CTX_DATACONTENTTYPE]; }

/* ---- data --------------------------------------------------------------- */

int ceb__event_take_data(ceb_event *ev, ceb_data_kind kind, char *data, size_t len, cJSON *parsed)
{
    if (ceb_event_is_frozen(ev)) {
        ev_free_data(ev, data);
        cJSON_Delete(parsed);
        return CEB_EIMMUTABLE;
    }
    ev_free_data(ev, ev->data);
    json_cache_drop(ev);
    ev->data = data;
    ev->data_len = data ? len : 0;
    ev->kind = data ? kind : CEB_DATA_NONE;
    ev->data_compact = false;
    ev->data_text_ok = false;
    if (parsed != NULL)
        atomic_store_explicit(&ev->json, parsed, memory_order_release);
    return 0;
}

int ceb__event_take_data_compact(ceb_event *ev, char *data, size_t len)
{
    int rc = ceb__event_take_data(ev, CEB_DATA_JSON, data, len, NULL);
    if (rc == 0)
        ev->data_compact = data != NULL;
    return rc;
}

bool ceb__event_data_compact(const ceb_event *ev)
{
    return ev->data_compact && ev->kind == CEB_DATA_JSON;
}

bool ceb__event_data_text_ok(const ceb_event *ev)
{
    return ev->data_text_ok && ev->kind == CEB_DATA_TEXT;
}

bool ceb__event_attr_next(const ceb_event *ev, size_t *pos, ceb_attr *out)
{
    for (; *pos < CTX_N; (*pos)++)
        if (ctx_present(ev, (int)*pos)) {
            ctx_fill(ev, (int)(*pos)++, out);
            return true;
        }
    size_t k = *pos - CTX_N;
    if (k >= ev->n_ext)
        return false;
    memset(out, 0, sizeof *out);
    ext_fill(&ev->ext[k], out);
    (*pos)++;
    return true;
}

/* Copy n bytes known to fit; short ones (most names and values) without a
   libc call: two overlapping word copies. */
static inline char *put_bytes(char *p, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(p, &a, 4);
        memcpy(p + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            p[i] = s[i];
    } else {
        memcpy(p, s, n);
    }
    return p + n;
}

/* The start of a member, ,"name": (room reserved). */
static inline char *member_head(char *p, bool comma, const char *name, size_t nl)
{
    if (comma)
        *p++ = ',';
    *p++ = '"';
    p = put_bytes(p, name, nl);
    *p++ = '"';
    *p++ = ':';
    return p;
}

/* A value that needs escapes, through quote; the room for the rest is
   reserved again. Returns the new end, or NULL with *rc set. */
static char *member_quoted(ceb_buf *out, char *p, const char *text, size_t len, size_t rest,
                           ceb__json_quote_fn quote, int *rc)
{
    *p = '\0';
    out->len = (size_t)(p - out->data);
    if ((*rc = quote(out, text, len)) < 0 || (*rc = ceb_buf_reserve(out, rest)) < 0)
        return NULL;
    return out->data + out->len;
}

int ceb__event_json_attrs(const ceb_event *ev, ceb_buf *out, size_t extra,
                          ceb__json_quote_fn quote)
{
    /* one reservation as if nothing needed escaping (each member at most
       name + value + 6 bytes: ,"":"" ) */
    size_t need = extra + 1;
    for (int s = 0; s < CTX_N; s++)
        if (ev->ctx[s] != NULL)
            need += ctx_name_len[s] + ev->ctx_len[s] + 6;
    need += 11 + 3 + 6;     /* specversion */
    for (size_t k = 0; k < ev->n_ext; k++)
        need += ev->ext[k].nlen + ev->ext[k].len + 6;
    int rc = ceb_buf_reserve(out, need);
    if (rc < 0)
        return rc;
    char *p = out->data + out->len;
    bool comma = false;
    for (int s = 0; s < CTX_N; s++) {
        const char *t = ev->ctx[s];
        size_t len = ev->ctx_len[s];
        if (s == CTX_SPECVERSION) {
            t = "1.0";
            len = 3;
        } else if (t == NULL) {
            continue;
        }
        p = member_head(p, comma, ctx_names[s], ctx_name_len[s]);
        comma = true;
        if (s != CTX_SPECVERSION && !((ev->ctx_plain >> s) & 1u)) {
            if ((p = member_quoted(out, p, t, len, need, quote, &rc)) == NULL)
                return rc;
            continue;
        }
        *p++ = '"';
        p = put_bytes(p, t, len);
        *p++ = '"';
    }
    for (size_t k = 0; k < ev->n_ext; k++) {
        const ceb__ext *x = &ev->ext[k];
        bool bare = x->type == CEB_ATTR_INTEGER || x->type == CEB_ATTR_BOOLEAN;
        p = member_head(p, true, x->name, x->nlen);
        if (bare) {
            p = put_bytes(p, x->text, x->len);
        } else if (x->plain) {
            *p++ = '"';
            p = put_bytes(p, x->text, x->len);
            *p++ = '"';
        } else if ((p = member_quoted(out, p, x->text, x->len, need, quote, &rc)) == NULL) {
            return rc;
        }
    }
    *p = '\0';
    out->len = (size_t)(p - out->data);
    return 0;
}

/* Copy data[0..len) into ev as its data of `kind`, caching `arena` (an
   arena tree of that data from ceb__json_arena_parse, or NULL) as its parse;
   arena is consumed either way. Returns 0, CEB_ENOMEM, CEB_EIMMUTABLE. */
static int take_data_copy(ceb_event *ev, ceb_data_kind kind, const void *data, size_t len,
                          const cJSON *arena)
{
    if (ceb_event_is_frozen(ev)) {
        ceb__json_arena_free(arena);
        return CEB_EIMMUTABLE;
    }
    char *copy = ev_dupn(ev, data, len); /* small data shares the event's allocation */
    if (copy == NULL) {
        ceb__json_arena_free(arena);
        return CEB_ENOMEM;
    }
    int rc = ceb__event_take_data(ev, kind, copy, len, NULL);
    if (rc < 0) {
        ceb__json_arena_free(arena);
        return rc;
    }
    if (arena != NULL)
        atomic_store_explicit(&ev->json, (void *)((uintptr_t)arena | JSON_ARENA_TAG),
                              memory_order_release);
    return 0;
}

int ceb__event_copy_data(ceb_event *ev, ceb_data_kind kind, const void *data, size_t len,
                         bool compact)
{
    int rc = take_data_copy(ev, kind, data, len, NULL);
    if (rc == 0) {
        ev->data_compact = compact && kind == CEB_DATA_JSON;
        ev->data_text_ok = kind == CEB_DATA_TEXT;
    }
    return rc;
}

int ceb_event_set_data(ceb_event *ev, ceb_data_kind kind, const void *data, size_t len)
{
    if (ev == NULL || (data == NULL && len > 0) || kind < CEB_DATA_NONE || kind > CEB_DATA_JSON)
        return CEB_EINVAL;
    if (ceb_event_is_frozen(ev))
        return CEB_EIMMUTABLE;
    if (kind == CEB_DATA_NONE) {
        if (len > 0)
            return CEB_EINVAL;
        return ceb__event_take_data(ev, CEB_DATA_NONE, NULL, 0, NULL);
    }
    const cJSON *parsed = NULL;
    if (kind == CEB_DATA_JSON) {
        /* Plain JSON is only checked here (no tree; ceb_event_data_json
           parses it when asked); anything the check does not decide gets
           the same decision and tree as cJSON, in one arena. */
        bool compact = false;
        if (data != NULL && ceb__json_check_fast(data, len, &compact)) {
            int rc = take_data_copy(ev, kind, data, len, NULL);
            if (rc == 0)
                ev->data_compact = compact;
            return rc;
        }
        parsed = ceb__json_arena_parse(data ? data : "", len);
        if (parsed == NULL)
            return CEB_EINVAL;
    }
    return take_data_copy(ev, kind, data ? data : "", len, parsed);
}

const void *ceb_event_data(const ceb_event *ev, size_t *len)
{
    if (len != NULL)
        *len = ev->data ? ev->data_len : 0;
    return ev->data;
}

ceb_data_kind ceb_event_data_kind(const ceb_event *ev)
{
    return ev->kind;
}

bool ceb_event_data_is_json(const ceb_event *ev)
{
    if (ev->kind == CEB_DATA_JSON)
        return true;
    const char *ct = ev->ctx[CTX_DATACONTENTTYPE];
    return ct != NULL && ceb__ctype_is_json(ct, ev->ctx_len[CTX_DATACONTENTTYPE]);
}

const struct ceb_json *ceb_event_data_json(const ceb_event *cev)
{
    ceb_event *ev = (ceb_event *)cev;   /* the cache is the one mutable part */
    if (ev == NULL || ev->data == NULL || !ceb_event_data_is_json(ev))
        return NULL;
    void *j = atomic_load_explicit(&ev->json, memory_order_acquire);
    if (j == NULL) {
        /* Parsed as cJSON would (only whitespace after the value), into one
           arena (json_arena.c). */
        const cJSON *mine = ceb__json_arena_parse(ev->data, ev->data_len);
        void *want = mine != NULL ? (void *)((uintptr_t)mine | JSON_ARENA_TAG) : JSON_FAILED;
        void *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(&ev->json, &expected, want,
                                                    memory_order_acq_rel, memory_order_acquire)) {
            j = want;
        } else {
            ceb__json_arena_free(mine);     /* another reader won; use its result */
            j = expected;
        }
    }
    if (j == JSON_FAILED)
        return NULL;
    return (const struct ceb_json *)((uintptr_t)j & ~JSON_ARENA_TAG);
}

/* ---- whole-event operations --------------------------------------------- */

int ceb_event_validate(const ceb_event *ev, ceb_diag *d)
{
    static const int req[] = { CTX_ID, CTX_SOURCE, CTX_TYPE };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        int s = req[i];
        if (ev->ctx[s] == NULL || ev->ctx_len[s] == 0)
            return ceb_diag_set_field(d, CEB_ESPEC, ctx_names[s],
                                      "required attribute '%s' is missing", ctx_names[s]);
    }
    return 0;
}

int ceb_event_wrap(const void *payload, size_t len, const char *content_type,
                   const char *type, const char *source, const char *subject,
                   ceb_event **out, ceb_diag *d)
{
    return ceb_event_wrap_from(NULL, NULL, payload, len, content_type, type, source, subject,
                               out, d);
}

int ceb_event_wrap_from(ceb_rng *rng, ceb_clock *clk, const void *payload, size_t len,
                        const char *content_type, const char *type, const char *source,
                        const char *subject, ceb_event **out, ceb_diag *d)
{
    ceb_event *ev;
    char id[37], now[40];
    int rc;
    if (type == NULL || type[0] == '\0')
        return ceb_diag_set_field(d, CEB_EINVAL, "type", "cannot wrap a payload: type is empty");
    if (source == NULL || source[0] == '\0')
        return ceb_diag_set_field(d, CEB_EINVAL, "source", "cannot wrap a payload: source is empty");
    if (payload == NULL && len > 0)
        return ceb_diag_set(d, CEB_EINVAL, "invalid argument");
    if ((rc = ceb_event_new(&ev)) < 0)
        return rc;
    ceb_uuid4_from(rng, id);
    ceb_time_now_rfc3339_from(clk, now);
    /* id and time are ours (a UUIDv4, an RFC 3339 UTC time): ASCII letters,
       digits and punctuation that JSON never escapes, stored as they are
       without a scan; the caller's values are checked as ceb_event_set
       would */
    if ((rc = ctx_store_plain(ev, CTX_ID, id, 36, 1)) < 0 ||
        (rc = ctx_store_plain(ev, CTX_TIME, now, strlen(now), 1)) < 0 ||
        (rc = ctx_set(ev, CTX_TYPE, type, strlen(type), d)) < 0 ||
        (rc = ctx_set(ev, CTX_SOURCE, source, strlen(source), d)) < 0 ||
        (subject != NULL && (rc = ctx_set(ev, CTX_SUBJECT, subject, strlen(subject), d)) < 0) ||
        (content_type != NULL &&
         (rc = ctx_set(ev, CTX_DATACONTENTTYPE, content_type, strlen(content_type), d)) < 0))
        goto fail;
    if (len > 0) {
        ceb_data_kind kind;
        const cJSON *j = NULL;
        bool compact = false;
        if (content_type != NULL && ceb__ctype_is_json(content_type, strlen(content_type))) {
            if (ceb__json_check_fast(payload, len, &compact)) {
                kind = CEB_DATA_JSON;   /* checked; parsed only when asked */
            } else {
                compact = false;
                j = ceb__json_arena_parse(payload, len); /* parsed once, kept as the cache */
                kind = j != NULL ? CEB_DATA_JSON : CEB_DATA_BINARY;
            }
        } else if (memchr(payload, '\0', len) == NULL && ceb__utf8_valid(payload, len, NULL)) {
            kind = CEB_DATA_TEXT;
        } else {
            kind = CEB_DATA_BINARY;
        }
        if ((rc = take_data_copy(ev, kind, payload, len, j)) < 0)
            goto fail;
        ev->data_compact = compact && kind == CEB_DATA_JSON;
        ev->data_text_ok = kind == CEB_DATA_TEXT; /* checked above */
    }
    *out = ev;
    return 0;
fail:
    ceb_event_unref(ev);
    return rc;
}

/* ---- ids and clocks ----------------------------------------------------- */

static void fill_random(unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == n)
        return;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (got < n) {
            ssize_t r = read(fd, b + got, n - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(fd);
    }
    if (got == n)
        return;
    /* Last resort (no getrandom, no /dev/urandom): unique, not secret. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uintptr_t)b;
    for (size_t i = got; i < n; i++) {
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        b[i] = (unsigned char)(z ^ (z >> 31));
    }
}

static void format_uuid4(unsigned char r[16], char buf[37])
{
    static const char hex[] = "0123456789abcdef";
    r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);   /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);   /* RFC 4122 variant */
    char *p = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[r[i] >> 4];
        *p++ = hex[r[i] & 15];
    }
    *p = '\0';
}

void ceb_uuid4(char buf[37])
{
    unsigned char r[16];
    fill_random(r, sizeof r);
    format_uuid4(r, buf);
}

void ceb_rng_init(ceb_rng *r)
{
    r->avail = 0;
}

void ceb_uuid4_from(ceb_rng *r, char out[37])
{
    unsigned char b[16];
    if (r == NULL) {
        ceb_uuid4(out);
        return;
    }
    if (r->avail < sizeof b || r->avail > sizeof r->pool) {
        fill_random(r->pool, sizeof r->pool);
        r->avail = sizeof r->pool;
    }
    unsigned char *src = r->pool + (sizeof r->pool - r->avail);
    memcpy(b, src, sizeof b);
    memset(src, 0, sizeof b); /* handed out once */
    r->avail -= sizeof b;
    format_uuid4(b, out);
}

void ceb_time_now_rfc3339(char buf[40])
{
    ceb_time_now_rfc3339_from(NULL, buf);
}

void ceb_time_now_rfc3339_from(ceb_clock *c, char buf[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char sec[32];
    size_t n;
    if (c != NULL && c->len > 0 && c->len < sizeof c->text && c->sec == (long long)ts.tv_sec) {
        n = c->len;
        memcpy(sec, c->text, n);
    } else {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
        if (c != NULL && n > 0 && n < sizeof c->text) {
            memcpy(c->text, sec, n);
            c->text[n] = '\0';
            c->len = n;
            c->sec = (long long)ts.tv_sec;
        }
    }
    if (n > 40 - 10)
        n = 40 - 10; /* unreachable for 4-digit years; keeps room for .ffffffZ */
    memcpy(buf, sec, n);
    unsigned long us = (unsigned long)(ts.tv_nsec / 1000);
    char *p = buf + n;
    *p++ = '.';
    for (int i = 5; i >= 0; i--) {
        p[i] = (char)('0' + us % 10);
        us /= 10;
    }
    p[6] = 'Z';
    p[7] = '\0';
}
