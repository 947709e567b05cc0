/*
 * ceb__utf8_valid (sdk/src/utf8.c): RFC 3629 well-formedness and the offset
 * of the first bad byte. Hand cases (overlongs, surrogates, > U+10FFFF,
 * truncated sequences), then deterministic random inputs checked against a
 * plain byte-at-a-time reference, with the bad byte placed before, inside
 * and after the 8-byte ASCII steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "sdk_internal.h"

/* The reference: one code point at a time, straight from RFC 3629 §4. */
static bool ref_valid(const unsigned char *s, size_t n, size_t *bad_at)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c <= 0x7F) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4;
        else
            goto bad;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (n - i < len)
            goto bad;
        if (s[i + 1] < lo || s[i + 1] > hi)
            goto bad;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                goto bad;
        i += len;
    }
    return true;
bad:
    *bad_at = i;
    return false;
}

static void check(const void *p, size_t n)
{
    size_t want_at = (size_t)-1, got_at = (size_t)-1;
    bool want = ref_valid(p, n, &want_at);
    bool got = ceb__utf8_valid(p, n, &got_at);
    if (want != got || (!want && want_at != got_at))
        fail_msg("length %zu: reference %d at %zu, ceb__utf8_valid %d at %zu", n, want,
                 want_at, got, got_at);
}

static void test_hand_cases(void **state)
{
    (void)state;
    size_t at = 0;
    assert_true(ceb__utf8_valid("", 0, &at));
    assert_true(ceb__utf8_valid("plain ASCII, longer than a word", 31, &at));
    assert_true(ceb__utf8_valid("Euro \xE2\x82\xAC, G clef \xF0\x9D\x84\x9E", 16, &at));
    assert_false(ceb__utf8_valid("abcdefgh\xC0\xAF", 10, &at));     /* overlong '/' */
    assert_int_equal(at, 8);
    assert_false(ceb__utf8_valid("0123456789\xED\xA0\x80", 13, &at)); /* surrogate */
    assert_int_equal(at, 10);
    assert_false(ceb__utf8_valid("\xF4\x90\x80\x80", 4, &at));       /* > U+10FFFF */
    assert_int_equal(at, 0);
    assert_false(ceb__utf8_valid("0123456789abcdef\xE2\x82", 18, &at)); /* cut short */
    assert_int_equal(at, 16);
    assert_false(ceb__utf8_valid("01234567\x80", 9, &at));           /* lone continuation */
    assert_int_equal(at, 8);
    assert_true(ceb__utf8_valid("with a NUL\0inside", 17, &at));     /* NUL is valid UTF-8 */
    assert_true(ceb__utf8_valid("x", 1, NULL));
    assert_false(ceb__utf8_valid("\xFF", 1, NULL));
}

static uint32_t next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* ASCII with a few multi-byte sequences, some of them broken, at every
   alignment and length up to 40 bytes. */
static void test_random_against_reference(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xC0\x80", "\xE0\x80\x80",
        "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xC3", "\xE2\x82", "\x80", "\xFE", "\x7F",
    };
    uint32_t seed = 20261123u;
    unsigned char buf[64];
    for (int round = 0; round < 200000; round++) {
        size_t n = next(&seed) % 41;
        size_t i = 0;
        while (i < n) {
            if (next(&seed) % 10 == 0) {
                const char *p = pieces[next(&seed) % (sizeof pieces / sizeof pieces[0])];
                size_t l = strlen(p);
                if (i + l > n)
                    l = n - i;
                memcpy(buf + i, p, l);
                i += l;
            } else {
                buf[i++] = (unsigned char)(0x20 + next(&seed) % 0x5F);
            }
        }
        check(buf, n);
        if (n > 0) {                  /* and the same from an odd address */
            memmove(buf + 1, buf, n);
            check(buf + 1, n);
        }
    }
}

/* ceb__utf8_scan against ceb__utf8_valid plus a byte-at-a-time class
   reference: the same answer and offset, and the classes of the bytes
   before the decision. */
static unsigned ref_class(unsigned char c)
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

static void check_scan(const unsigned char *p, size_t n)
{
    size_t want_at = (size_t)-1, got_at = (size_t)-1;
    bool want = ref_valid(p, n, &want_at);
    unsigned want_cls = 0, got_cls = 99;
    size_t end = want ? n : want_at;
    for (size_t i = 0; i < end; i++)
        if (p[i] < 0x80)
            want_cls |= ref_class(p[i]);
    bool got = ceb__utf8_scan(p, n, &got_at, &got_cls);
    if (want != got || (!want && want_at != got_at) || want_cls != got_cls)
        fail_msg("length %zu: reference %d at %zu cls %u, ceb__utf8_scan %d at %zu cls %u", n,
                 want, want_at, want_cls, got, got_at, got_cls);
}

static void test_scan_against_reference(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xC0\x80", "\xE0\x80\x80",
        "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xC3", "\x80", "\xFE",
    };
    static const unsigned char specials[] = { 0, '"', '\\', ' ', '\t', 0x1F, 0x7F, '\n' };
    uint32_t seed = 7u;
    unsigned char buf[64];
    for (int round = 0; round < 300000; round++) {
        size_t n = next(&seed) % 41;
        unsigned mix = next(&seed) % 4;   /* 0: plain ASCII only */
        size_t i = 0;
        while (i < n) {
            uint32_t r = next(&seed) % 40;
            if (mix != 0 && r == 0) {
                const char *p = pieces[next(&seed) % (sizeof pieces / sizeof pieces[0])];
                size_t l = strlen(p);
                if (i + l > n)
                    l = n - i;
                memcpy(buf + i, p, l);
                i += l;
            } else if (mix != 0 && r < 3) {
                buf[i++] = specials[next(&seed) % sizeof specials];
            } else {
                buf[i++] = (unsigned char)(0x21 + next(&seed) % 0x5E);
            }
        }
        check_scan(buf, n);
        if (n > 0) {
            memmove(buf + 1, buf, n);
            check_scan(buf + 1, n);
        }
    }
    size_t at = 0;
    unsigned cls = 0;
    assert_true(ceb__utf8_scan("", 0, &at, &cls));
    assert_int_equal(cls, 0);
    assert_true(ceb__utf8_scan("a b", 3, &at, &cls));
    assert_int_equal(cls, CEB__TXT_CTLSP);
    assert_true(ceb__utf8_scan("0123456789\"", 11, &at, &cls));  /* in the overlapping tail */
    assert_int_equal(cls, CEB__TXT_JSONESC);
    assert_true(ceb__utf8_scan("x\0y", 3, &at, &cls));
    assert_int_equal(cls, CEB__TXT_NUL | CEB__TXT_JSONESC | CEB__TXT_CTLSP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_cases),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_scan_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
