/* Unit tests: buf.c, diag.c, base64.c, errors.c, json.c (quote), version.c, utf8 via codec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <uv.h>

#include <cebridge/buf.h>
#include <cebridge/codec.h>
#include <cebridge/diag.h>
#include <cebridge/errors.h>
#include <cebridge/json.h>
#include <cebridge/version.h>

static void test_buf_append_printf(void **state)
{
    (void)state;
    ceb_buf b = {0};
    assert_int_equal(ceb_buf_append(&b, "ab", 2), 0);
    assert_int_equal(ceb_buf_append_str(&b, "cd"), 0);
    assert_int_equal(ceb_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "abcd-42-x");
    assert_int_equal(b.len, 9);
    assert_true(b.cap > b.len);
    ceb_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    /* growth across many appends keeps content and NUL */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ceb_buf_printf(&b, "%03d", i % 1000), 0);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_memory_equal(b.data + 2997, "999", 3);
    size_t n = 0;
    char *s = ceb_buf_steal(&b, &n);
    assert_non_null(s);
    assert_int_equal(n, 3000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    ceb_free(s);
    ceb_buf_free(&b);
}

static void test_buf_steal_empty_and_huge(void **state)
{
    (void)state;
    ceb_buf b = {0};
    size_t n = 99;
    char *s = ceb_buf_steal(&b, &n);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    ceb_free(s);
    assert_int_equal(ceb_buf_append(&b, "x", 1), 0);
    assert_int_equal(ceb_buf_reserve(&b, SIZE_MAX - 1), CEB_ENOMEM);
    assert_string_equal(b.data, "x");    /* unchanged on failure */
    ceb_buf_free(&b);
    ceb_buf_free(&b);                   /* idempotent */
}

static void test_diag_first_wins(void **state)
{
    (void)state;
    ceb_diag d;
    ceb_diag_clear(&d);
    assert_int_equal(d.code, 0);
    assert_int_equal(ceb_diag_set(&d, CEB_ECONFIG, "first %d.", 1), CEB_ECONFIG);
    assert_int_equal(ceb_diag_set_field(&d, CEB_EINVAL, "x", "second"), CEB_EINVAL);
    assert_int_equal(d.code, CEB_ECONFIG);
    assert_string_equal(d.message, "first 1");   /* trailing period dropped */
    assert_string_equal(d.field, "");
    ceb_diag_clear(&d);
    ceb_diag_set_field(&d, CEB_EINVAL, "wrap.type", "line one\nline two\n");
    assert_string_equal(d.field, "wrap.type");
    assert_string_equal(d.message, "line one line two");
    /* NULL diag: the code still comes back */
    assert_int_equal(ceb_diag_set(NULL, CEB_ESPEC, "dropped"), CEB_ESPEC);
    /* truncation, never overflow */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ceb_diag_clear(&d);
    ceb_diag_set_field(&d, CEB_EINVAL, big, "%s", big);
    assert_int_equal(strlen(d.message), sizeof d.message - 1);
    assert_int_equal(strlen(d.field), sizeof d.field - 1);
}

static void roundtrip(const char *in, const char *b64)
{
    ceb_buf e = {0}, dec = {0};
    assert_int_equal(ceb_base64_encode(in, strlen(in), &e), 0);
    assert_string_equal(e.data, b64);
    assert_int_equal(ceb_base64_decode(e.data, e.len, &dec), 0);
    assert_int_equal(dec.len, strlen(in));
    if (dec.len)
        assert_memory_equal(dec.data, in, dec.len);
    ceb_buf_free(&e);
    ceb_buf_free(&dec);
}

static void test_base64(void **state)
{
    (void)state;
    /* RFC 4648 §10 test vectors */
    roundtrip("", "");
    roundtrip("f", "Zg==");
    roundtrip("fo", "Zm8=");
    roundtrip("foo", "Zm9v");
    roundtrip("foob", "Zm9vYg==");
    roundtrip("fooba", "Zm9vYmE=");
    roundtrip("foobar", "Zm9vYmFy");
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    ceb_buf e = {0}, d = {0};
    assert_int_equal(ceb_base64_encode(all, sizeof all, &e), 0);
    assert_int_equal(ceb_base64_decode(e.data, e.len, &d), 0);
    assert_int_equal(d.len, 256);
    assert_memory_equal(d.data, all, 256);
    ceb_buf_free(&e);
    ceb_buf_free(&d);

    static const char *bad[] = { "Zg=", "Zg", "Z===", "Zm9v!", "Zh==", "Zm9=", "=Zm9", "Zm=v", "Zm9vYg=a",
                                 "Zm 9v" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ceb_buf x = {0};
        assert_int_equal(ceb_base64_decode(bad[i], strlen(bad[i]), &x), CEB_EINVAL);
        assert_int_equal(x.len, 0);
        ceb_buf_free(&x);
    }
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(ceb_strerror(0), "success");
    assert_string_equal(ceb_strerror(CEB_ECONFIG), "invalid configuration");
    assert_string_equal(ceb_strerror(CEB_EIMMUTABLE), "event is immutable once emitted");
    assert_string_equal(ceb_strerror(CEB_ENOMEM), "out of memory");
    assert_string_equal(ceb_err_name(CEB_ECONFIG), "ECONFIG");
    assert_string_equal(ceb_err_name(CEB_ENOMEM), "ENOMEM");
    assert_string_equal(ceb_err_name(CEB_EPLUGIN), "EPLUGIN");
    /* a libuv code we do not list passes through to libuv */
    assert_string_equal(ceb_strerror(UV_EPIPE), uv_strerror(UV_EPIPE));
    assert_string_equal(ceb_err_name(UV_EOF), "EOF");
    /* codes nobody owns */
    assert_string_equal(ceb_strerror(-9999), "unknown error");
    assert_string_equal(ceb_err_name(-9999), "UNKNOWN");
    assert_string_equal(ceb_err_name(-20000), "UNKNOWN");
    assert_int_equal(CEB_ENOMEM, UV_ENOMEM);
    assert_int_equal(CEB_ECANCELED, UV_ECANCELED);
}

static void test_json_quote(void **state)
{
    (void)state;
    ceb_buf b = {0};
    const char in[] = "a\"b\\c\n\t\x01\xc3\xa9";
    assert_int_equal(ceb_json_quote(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9\"");
    ceb_buf_reset(&b);
    assert_int_equal(ceb_json_quote(&b, "x\0y", 3), 0);
    assert_string_equal(b.data, "\"x\\u0000y\"");
    ceb_buf_free(&b);
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(ceb_version(), (CEB_VERSION_MAJOR << 16) | (CEB_VERSION_MINOR << 8) | CEB_VERSION_PATCH);
    assert_string_equal(ceb_version_string(), CEB_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_printf),
        cmocka_unit_test(test_buf_steal_empty_and_huge),
        cmocka_unit_test(test_diag_first_wins),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_json_quote),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
