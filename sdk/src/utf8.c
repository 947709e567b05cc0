/* utf8.c - UTF-8 well-formedness (RFC 3629), for decoders and wrap. */
#include <stdint.h>
#include <string.h>

#include "sdk_internal.h"

bool ceb__utf8_valid(const void *p, size_t n, size_t *bad_at)
{
    const unsigned char *s = p;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        unsigned cp;
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
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1; cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07;
        } else {
            goto bad;
        }
        if (n - i <= need)
            goto bad;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += need + 1;
    }
    return true;
bad:
    if (bad_at != NULL)
        *bad_at = i;
    return false;
}
