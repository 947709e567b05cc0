/* base64.c - RFC 4648 base64 with padding (codec.h). */
#include <stdint.h>
#include <string.h>

#include <cebridge/codec.h>
#include <cebridge/errors.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int ceb_base64_encode(const void *p, size_t n, ceb_buf *out)
{
    const unsigned char *s = p;
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return CEB_ENOMEM;
    size_t olen = (n + 2) / 3 * 4;
    int rc = ceb_buf_reserve(out, olen);
    if (rc < 0)
        return rc;
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = '=';
    }
    out->len += olen;
    out->data[out->len] = '\0';
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/*
 * Strict RFC 4648 §4: length a multiple of 4, '=' only as the final one or
 * two characters, and the unused bits of the last group zero. On error
 * `out` is left as it was.
 */
int ceb_base64_decode(const char *s, size_t n, ceb_buf *out)
{
    if (n % 4 != 0)
        return CEB_EINVAL;
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    size_t olen = n / 4 * 3 - pad;
    int rc = ceb_buf_reserve(out, olen);
    if (rc < 0)
        return rc;
    unsigned char *o = (unsigned char *)out->data + out->len;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        bool last = i + 4 == n;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + (size_t)k];
            if (c == '=' && last && (size_t)k >= 4 - pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64val(c);
            if (v[k] < 0)
                return CEB_EINVAL;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if (last && pad == 2 && (w & 0xFFFF) != 0)
            return CEB_EINVAL;
        if (last && pad == 1 && (w & 0xFF) != 0)
            return CEB_EINVAL;
        *o++ = (unsigned char)(w >> 16);
        if (!(last && pad == 2))
            *o++ = (unsigned char)(w >> 8);
        if (!(last && pad >= 1))
            *o++ = (unsigned char)w;
    }
    out->len += olen;
    out->data[out->len] = '\0';
    return 0;
}
