/*
 * UTF-8 decoding and the small part of Unicode the string functions need:
 * White_Space (TRIM) and simple case mapping (LOWER, UPPER).
 *
 * Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
 * (the one-to-one mappings); other code points are left unchanged. This is
 * documented in README.md.
 */
#include "cesql_internal.h"

size_t ceb_cesql__utf8_decode(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    *cp = 0xFFFD;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2; v = c & 0x1Fu; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; v = c & 0x0Fu; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; v = c & 0x07u; min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u)
            return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

size_t ceb_cesql__utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

long ceb_cesql__utf8_count(const char *s, size_t n)
{
    long count = 0;
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
        } else {
            uint32_t cp;
            size_t l = ceb_cesql__utf8_decode(s + i, n - i, &cp);
            if (!l)
                return -1;
            i += l;
        }
        count++;
    }
    return count;
}

bool ceb_cesql__utf8_valid(const char *s, size_t n)
{
    return ceb_cesql__utf8_count(s, n) >= 0;
}

size_t ceb_cesql__utf8_offset(const char *s, size_t n, size_t k)
{
    size_t i = 0;
    while (k > 0 && i < n) {
        i += ceb_cesql__utf8_step(s + i, n - i);
        k--;
    }
    return i;
}

size_t ceb_cesql__utf8_step(const char *s, size_t n)
{
    if ((unsigned char)s[0] < 0x80)
        return 1;
    uint32_t cp;
    size_t l = ceb_cesql__utf8_decode(s, n, &cp);
    return l ? l : 1;
}

bool ceb_cesql__uni_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Latin Extended-A: pairs (even upper, odd lower) in these ranges. */
static bool latin_ext_even_pair(uint32_t c)
{
    return (c >= 0x0100 && c <= 0x0137) || (c >= 0x014A && c <= 0x0177);
}

static bool latin_ext_odd_pair(uint32_t c)
{
    return (c >= 0x0139 && c <= 0x0148) || (c >= 0x0179 && c <= 0x017E);
}

uint32_t ceb_cesql__uni_lower(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7))
        return c + 32;
    if (c == 0x0130)
        return 'i';
    if (c == 0x0131)
        return c;
    if (latin_ext_even_pair(c))
        return (c & 1u) ? c : c + 1;
    if (latin_ext_odd_pair(c))
        return (c & 1u) ? c + 1 : c;
    if (c == 0x0178)
        return 0xFF;
    if (c >= 0x0391 && c <= 0x03AB && c != 0x03A2)
        return c + 32;
    if (c == 0x0386)
        return 0x03AC;
    if (c >= 0x0388 && c <= 0x038A)
        return c + 37;
    if (c == 0x038C)
        return 0x03CC;
    if (c == 0x038E || c == 0x038F)
        return c + 63;
    if (c >= 0x0410 && c <= 0x042F)
        return c + 32;
    if (c >= 0x0400 && c <= 0x040F)
        return c + 80;
    if (((c >= 0x0460 && c <= 0x0481) || (c >= 0x048A && c <= 0x04BF) ||
         (c >= 0x04D0 && c <= 0x04FF)) && !(c & 1u))
        return c + 1;
    return c;
}

uint32_t ceb_cesql__uni_upper(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') ? c - 32 : c;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
        return c - 32;
    if (c == 0xFF)
        return 0x0178;
    if (c == 0xB5)
        return 0x039C;
    if (c == 0x0131)
        return 'I';
    if (c == 0x0130)
        return c;
    if (latin_ext_even_pair(c))
        return (c & 1u) ? c - 1 : c;
    if (latin_ext_odd_pair(c))
        return (c & 1u) ? c : c - 1;
    if (c >= 0x03B1 && c <= 0x03CB && c != 0x03C2)
        return c - 32;
    if (c == 0x03C2)
        return 0x03A3;
    if (c == 0x03AC)
        return 0x0386;
    if (c >= 0x03AD && c <= 0x03AF)
        return c - 37;
    if (c == 0x03CC)
        return 0x038C;
    if (c == 0x03CD || c == 0x03CE)
        return c - 63;
    if (c >= 0x0430 && c <= 0x044F)
        return c - 32;
    if (c >= 0x0450 && c <= 0x045F)
        return c - 80;
    if (((c >= 0x0460 && c <= 0x0481) || (c >= 0x048A && c <= 0x04BF) ||
         (c >= 0x04D0 && c <= 0x04FF)) && (c & 1u))
        return c - 1;
    return c;
}
