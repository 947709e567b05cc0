/* utf8.c - UTF-8 well-formedness (RFC 3629), for decoders and wrap. */
#include <stdint.h>
#include <string.h>

#include "sdk_internal.h"

/* Length of the well-formed multi-byte sequence starting at s[i] (a lead
   byte >= 0x80), or 0: overlong forms, surrogates, > U+10FFFF, truncation. */
static inline size_t utf8_multi(const unsigned char *s, size_t n, size_t i)
{
    unsigned c = s[i], cp;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1; cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2; cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3; cp = c & 0x07;
    } else {
        return 0;
    }
    if (n - i <= need)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need + 1;
}

bool ceb__utf8_valid(const void *p, size_t n, size_t *bad_at)
{
    const unsigned char *s = p;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        if (c < 0x80) {
            /* an ASCII run (most attribute values and JSON): eight bytes a
               step while they last, then byte by byte */
            while (n - i >= 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            while (i < n && s[i] < 0x80)
                i++;
            continue;
        } else if ((need = utf8_multi(s, n, i)) == 0) {
            goto bad;
        }
        i += need;
    }
    return true;
bad:
    if (bad_at != NULL)
        *bad_at = i;
    return false;
}

/* ---- one pass for decoders: UTF-8 plus the byte classes setters ask about */

#define U8_ONES  UINT64_C(0x0101010101010101)
#define U8_HIGHS UINT64_C(0x8080808080808080)

/* Nonzero when a byte of w (all < 0x80) is < 0x21, 0x7F, '"' or '\\': the
   bytes that give a class; exact as a yes/no answer. */
static inline uint64_t u8_suspect(uint64_t w)
{
    uint64_t q = w ^ (U8_ONES * '"'), b = w ^ (U8_ONES * '\\'), d = w ^ (U8_ONES * 0x7F);
    return (((w - U8_ONES * 0x21) & ~w) | ((q - U8_ONES) & ~q) | ((b - U8_ONES) & ~b) |
            ((d - U8_ONES) & ~d)) & U8_HIGHS;
}

static inline unsigned u8_class(unsigned char c)
{
    unsigned k = 0;
    if (c <= 0x20 || c == 0x7F)
        k |= CEB__TXT_CTLSP;
    if (c < 0x20 || c == '"' || c == '\\')
        k |= CEB__TXT_JSONESC;
    if (c == 0)
        k |= CEB__TXT_NUL;
    return k;
}

/* Byte by byte from s[i] (everything before it is plain ASCII). */
static bool u8_scan_bytes(const unsigned char *s, size_t n, size_t i, size_t *bad_at,
                          unsigned *cls)
{
    unsigned k = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            k |= u8_class(c);
            i++;
            continue;
        }
        size_t need;
        if ((need = utf8_multi(s, n, i)) == 0)
            goto bad;
        i += need;
    }
    *cls = k;
    return true;
bad:
    if (bad_at != NULL)
        *bad_at = i;
    *cls = k;
    return false;
}

/* Every byte of w is ASCII of no class (0x21..0x7E, not '"' or '\\'). */
static inline bool u8_plain(uint64_t w)
{
    return ((w & U8_HIGHS) | u8_suspect(w)) == 0;
}

bool ceb__utf8_scan(const void *p, size_t n, size_t *bad_at, unsigned *cls)
{
    /* the common case, plain ASCII, a word at a time: the last partial
       word is read overlapping the one before (or as two overlapping
       halves, or three bytes), as only "is any byte special" is asked */
    const unsigned char *s = p;
    uint64_t w;
    if (n >= 8) {
        size_t i = 0;
        for (; n - i >= 8; i += 8) {
            memcpy(&w, s + i, 8);
            if (!u8_plain(w))
                return u8_scan_bytes(s, n, i, bad_at, cls);
        }
        if (i < n) {
            memcpy(&w, s + n - 8, 8);
            if (!u8_plain(w))
                return u8_scan_bytes(s, n, i, bad_at, cls);
        }
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        if (!u8_plain(a | (uint64_t)b << 32))
            return u8_scan_bytes(s, n, 0, bad_at, cls);
    } else if (n > 0) {
        w = (U8_ONES * 'a') << 24 | s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16;
        if (!u8_plain(w))
            return u8_scan_bytes(s, n, 0, bad_at, cls);
    }
    *cls = 0;
    return true;
}
