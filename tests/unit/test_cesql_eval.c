/*
 * core/cesql evaluator: values, casts, int32 edges, every evaluation error
 * path, built-in functions (UTF-8), LIKE, IN, the fail-fast error model,
 * ceb_cesql_match and result storage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cesql.h"

/* A small event: context attributes by slot, typed extensions by name. */
typedef struct {
    const char *attr[CEB_CESQL_ATTR__COUNT];
    const char *ext_name[8];
    ceb_cesql_value ext[8];
    int next;
    int calls;
} tev;

static bool t_attr(void *event, int slot, const char *name, size_t len, ceb_cesql_value *out)
{
    tev *e = event;
    e->calls++;
    assert_int_equal(strlen(name), len);
    if (slot >= 0) {
        if (!e->attr[slot])
            return false;
        *out = (ceb_cesql_value){ .type = CEB_CESQL_T_STRING, .s = e->attr[slot],
                                  .len = strlen(e->attr[slot]) };
        return true;
    }
    for (int i = 0; i < e->next; i++)
        if (strcmp(e->ext_name[i], name) == 0) {
            *out = e->ext[i];
            return true;
        }
    return false;
}

static const ceb_cesql_accessor acc = { .attr = t_attr };
static tev E;

static void reset_event(void)
{
    memset(&E, 0, sizeof(E));
    E.attr[CEB_CESQL_ATTR_ID] = "id-1";
    E.attr[CEB_CESQL_ATTR_SOURCE] = "/src";
    E.attr[CEB_CESQL_ATTR_SPECVERSION] = "1.0";
    E.attr[CEB_CESQL_ATTR_TYPE] = "com.example.created";
}

static void add_str(const char *name, const char *v)
{
    E.ext_name[E.next] = name;
    E.ext[E.next++] = (ceb_cesql_value){ .type = CEB_CESQL_T_STRING, .s = v, .len = strlen(v) };
}

static void add_int(const char *name, int32_t v)
{
    E.ext_name[E.next] = name;
    E.ext[E.next++] = (ceb_cesql_value){ .type = CEB_CESQL_T_INT, .i = v };
}

static void add_bool(const char *name, bool v)
{
    E.ext_name[E.next] = name;
    E.ext[E.next++] = (ceb_cesql_value){ .type = CEB_CESQL_T_BOOL, .b = v };
}

static int setup(void **state)
{
    (void)state;
    reset_event();
    return 0;
}

/* Evaluate; check type, value and the first error kind (0: none). */
static void check(const char *text, int type, int32_t iv, const char *sv, int err_kind)
{
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error perr;
    if (ceb_cesql_compile(text, strlen(text), 0, &x, &perr) != 0)
        fail_msg("compile '%s': %s", text, perr.message);
    ceb_cesql_result r;
    assert_int_equal(ceb_cesql_eval(x, &acc, &E, &r), 0);
    if ((int)r.value.type != type)
        fail_msg("'%s': want type %d, got %d", text, type, r.value.type);
    if (type == CEB_CESQL_T_BOOL && r.value.b != (iv != 0))
        fail_msg("'%s': want %s", text, iv ? "true" : "false");
    if (type == CEB_CESQL_T_INT && r.value.i != iv)
        fail_msg("'%s': want %d, got %d", text, iv, r.value.i);
    if (type == CEB_CESQL_T_STRING &&
        (r.value.len != strlen(sv) || memcmp(r.value.s, sv, r.value.len) != 0))
        fail_msg("'%s': want '%s', got '%.*s'", text, sv, (int)r.value.len, r.value.s);
    if (err_kind == 0 && r.nerrors)
        fail_msg("'%s': unexpected error %s: %s", text,
                 ceb_cesql_error_kind_name(r.errors[0].kind), r.errors[0].message);
    if (err_kind && (r.nerrors == 0 || r.errors[0].kind != err_kind))
        fail_msg("'%s': want error %s, got %s", text, ceb_cesql_error_kind_name(err_kind),
                 r.nerrors ? ceb_cesql_error_kind_name(r.errors[0].kind) : "none");
    /* match agrees with eval */
    int nerr = -1;
    bool m = ceb_cesql_match(x, &acc, &E, &nerr);
    assert_int_equal(nerr, (int)r.nerrors);
    assert_int_equal(m, type == CEB_CESQL_T_BOOL && r.value.b && r.nerrors == 0);
    ceb_cesql_result_release(&r);
    ceb_cesql_free(x);
}

#define B(t, v) check(t, CEB_CESQL_T_BOOL, v, NULL, 0)
#define BE(t, v, e) check(t, CEB_CESQL_T_BOOL, v, NULL, CEB_CESQL_ERR_##e)
#define I(t, v) check(t, CEB_CESQL_T_INT, v, NULL, 0)
#define IE(t, v, e) check(t, CEB_CESQL_T_INT, v, NULL, CEB_CESQL_ERR_##e)
#define S(t, v) check(t, CEB_CESQL_T_STRING, 0, v, 0)
#define SE(t, v, e) check(t, CEB_CESQL_T_STRING, 0, v, CEB_CESQL_ERR_##e)

static void test_int32_edges(void **state)
{
    (void)state;
    I("2147483647", INT32_MAX);
    I("-2147483648", INT32_MIN);
    I("2147483647 + 1", INT32_MIN);          /* wraps */
    I("-2147483648 - 1", INT32_MAX);
    I("2147483647 * 2", -2);
    I("65536 * 65536", 0);
    I("-2147483648 / -1", INT32_MIN);        /* no SIGFPE */
    I("-2147483648 % -1", 0);
    I("--2147483648", INT32_MIN);            /* -(INT32_MIN) wraps */
    I("-7 / 2", -3);                         /* truncation */
    I("-7 % 2", -1);                         /* sign of the dividend */
    I("7 % -2", 1);
    IE("1 / 0", 0, MATH);
    IE("1 % 0", 0, MATH);
    IE("ABS(-2147483648)", INT32_MAX, MATH);
    I("ABS(-5)", 5);
    add_int("big", INT32_MAX);
    I("big + 1", INT32_MIN);
    I("INT('-2147483648')", INT32_MIN);
    IE("INT('2147483648')", 0, CAST);
    IE("INT('-2147483649')", 0, CAST);
    I("INT('+12')", 12);
    IE("INT(' 12')", 0, CAST);
    IE("INT('')", 0, CAST);
    IE("INT('-')", 0, CAST);
    IE("INT('99999999999999999999')", 0, CAST);
}

static void test_casts_and_comparisons(void **state)
{
    (void)state;
    B("NOT 10", false);                      /* spec 3.7, no error (TCK divergence) */
    B("NOT 0", true);
    B("NOT 'TRUE'", false);
    BE("NOT 'yes'", false, CAST);
    I("-TRUE", -1);
    IE("-'abc'", 0, CAST);
    I("'5' + 3", 8);
    IE("'x' * 2", 0, CAST);
    B("'TRUE' = true", true);                /* left cast to the right type */
    B("true = 'TRUE'", false);
    B("1 = '1'", true);
    BE("'a' = 1", false, CAST);
    B("'10' < 9", false);                    /* both cast to Integer */
    BE("'a' < 9", false, CAST);
    B("1 AND 2", true);                      /* Integer -> Boolean */
    BE("'x' AND true", false, CAST);
    B("TRUE XOR FALSE XOR TRUE", false);
    B("'' = ''", true);
    B("'abc' != 'abd'", true);
    B("'abc' <> 'abc'", false);
    S("STRING(-2147483648)", "-2147483648");
    S("STRING(0)", "0");
    B("IS_INT('12') AND IS_INT(TRUE) AND NOT IS_INT('x') AND IS_INT(3)", true);
    B("IS_BOOL('False') AND IS_BOOL(5) AND NOT IS_BOOL('x')", true);
    B("BOOL('tRuE')", true);
}

static void test_missing_and_fail_fast(void **state)
{
    (void)state;
    BE("missing", false, MISSING_ATTRIBUTE);
    BE("NOT missing", false, MISSING_ATTRIBUTE);       /* zero value, not NOT false */
    BE("NOT (missing = 1)", false, MISSING_ATTRIBUTE);  /* fail fast up to the root */
    IE("missing * 5", 0, MISSING_ATTRIBUTE);
    IE("1 / missing", 0, MISSING_ATTRIBUTE);           /* no math error */
    IE("missing / 0", 0, MISSING_ATTRIBUTE);
    SE("LOWER(missing)", "", MISSING_ATTRIBUTE);
    IE("LENGTH(LEFT('abc', -1))", 0, FUNCTION_EVALUATION);
    BE("missing LIKE 'a%'", false, MISSING_ATTRIBUTE);
    BE("missing IN (1, 2)", false, MISSING_ATTRIBUTE);
    BE("missing NOT IN (1, 2)", false, MISSING_ATTRIBUTE);
    BE("1 IN (missing, 1)", false, MISSING_ATTRIBUTE);
    B("1 IN (1, missing)", true);                      /* stops at the first match */
    BE("1 IN ('a', 1)", false, CAST);
    B("false AND missing", false);                     /* short-circuit */
    B("true OR missing", true);
    BE("true AND missing", false, MISSING_ATTRIBUTE);
    BE("false OR (1 / 0 = 0)", false, MATH);
    BE("missing XOR true", false, MISSING_ATTRIBUTE);
    B("EXISTS missing", false);
    B("EXISTS id AND EXISTS type", true);
    B("EXISTS subject", false);
    E.attr[CEB_CESQL_ATTR_SUBJECT] = "s";
    B("EXISTS subject", true);
    BE("nosuch(1)", false, MISSING_FUNCTION);
    BE("CONCAT_WS()", false, MISSING_FUNCTION);
    BE("LENGTH('a', 'b')", false, MISSING_FUNCTION);
    BE("ABS()", false, MISSING_FUNCTION);
    BE("SUBSTRING('a', 1, 2, 3)", false, MISSING_FUNCTION);
    /* a missing function does not evaluate its arguments */
    BE("nosuch(missing)", false, MISSING_FUNCTION);
    /* at most one error is reported (fail fast) */
    ceb_cesql_expr *x;
    assert_int_equal(ceb_cesql_compile("a + b + c", 9, 0, &x, NULL), 0);
    ceb_cesql_result r;
    assert_int_equal(ceb_cesql_eval(x, &acc, &E, &r), 0);
    assert_int_equal(r.nerrors, 1);
    assert_string_equal(r.errors[0].message, "missing attribute 'a'");
    ceb_cesql_result_release(&r);
    ceb_cesql_free(x);
}

static void test_attributes(void **state)
{
    (void)state;
    add_int("n", 10);
    add_bool("flag", true);
    add_str("s", "5");
    S("type", "com.example.created");
    S("TYPE", "com.example.created");
    I("n", 10);
    B("flag", true);
    B("n = 10 AND flag AND s = 5 AND s < n", true);
    B("n = '10'", true);                     /* right String: n cast to "10" */
    B("n = '010'", false);
    B("STRING(n) = '10'", true);
    B("flag = 'true'", true);
    B("n IN ('10', 'x')", true);             /* set cast to the left type */
    B("s IN (5)", true);
    B("flag LIKE 'tr%'", true);
    B("n LIKE '1_'", true);
    /* an accessor returning a bad type is a generic error */
    E.ext_name[E.next] = "bad";
    E.ext[E.next++] = (ceb_cesql_value){ .type = (ceb_cesql_type)42 };
    BE("bad", false, GENERIC);
    /* string attribute with s == NULL and len 0 reads as "" */
    E.ext_name[E.next] = "empty";
    E.ext[E.next++] = (ceb_cesql_value){ .type = CEB_CESQL_T_STRING, .s = NULL, .len = 0 };
    B("empty = ''", true);
    I("LENGTH(empty)", 0);
}

static void test_like(void **state)
{
    (void)state;
    B("'abc' LIKE 'abc'", true);
    B("'abc' LIKE 'ab'", false);
    B("'abc' LIKE 'a%'", true);
    B("'abc' LIKE '%c'", true);
    B("'abc' LIKE '%b%'", true);
    B("'abc' LIKE '%x%'", false);
    B("'' LIKE '%'", true);
    B("'' LIKE '_'", false);
    B("'abc' LIKE '%%'", true);
    B("'abc' LIKE 'a_c'", true);
    B("'aXbYc' LIKE 'a%b%c'", true);
    B("'ab' LIKE 'a%b%c'", false);
    B("'aaa' LIKE '%a%a%a%'", true);
    B("'aa' LIKE '%a%a%a%'", false);
    B("'mississippi' LIKE 'm%iss%ppi'", true);
    B("'mississippi' LIKE 'm%iss%ipp'", false);
    B("'a%b' LIKE 'a\\%b'", true);
    B("'axb' LIKE 'a\\%b'", false);
    B("'a_b' LIKE 'a\\_b'", true);
    B("'axb' LIKE 'a\\_b'", false);
    B("'a\\b' LIKE 'a\\b'", true);            /* backslash before other chars is literal */
    B("'é' LIKE '_'", true);                  /* '_' is one code point */
    B("'日本語' LIKE '__語'", true);
    B("'日本語' LIKE '_'", false);
    B("'aé' NOT LIKE 'a_'", false);
    B("'ABC' LIKE 'abc'", false);             /* case-sensitive */
    add_str("bin", "\xff\xfe");
    B("bin LIKE '__'", true);                 /* invalid bytes: one character each */
}

static void test_functions(void **state)
{
    (void)state;
    I("LENGTH('héllo')", 5);
    I("LENGTH('日本語')", 3);
    I("LENGTH('😀')", 1);
    I("LENGTH(123)", 3);
    S("LOWER('ÀÉÎÕÜ ÇΑΒΓ ДЖ İ')", "àéîõü çαβγ дж i");
    S("UPPER('àéîõü çαβγ дж ÿ ß')", "ÀÉÎÕÜ ÇΑΒΓ ДЖ Ÿ ß");
    S("UPPER('straße')", "STRAßE");
    S("TRIM(' \t\n x y \u00a0')", "x y");
    S("TRIM('\u3000\u2003 a \u2028')", "a");
    S("TRIM('   ')", "");
    S("TRIM('')", "");
    S("LEFT('héllo', 2)", "hé");
    S("RIGHT('héllo', 3)", "llo");
    S("RIGHT('日本語', 1)", "語");
    S("LEFT('abc', 0)", "");
    SE("LEFT('abc', -1)", "abc", FUNCTION_EVALUATION);
    SE("RIGHT('abc', -1)", "abc", FUNCTION_EVALUATION);
    S("SUBSTRING('日本語です', 2, 2)", "本語");
    S("SUBSTRING('日本語です', -2)", "です");
    S("SUBSTRING('abc', 3)", "c");
    S("SUBSTRING('abc', -3)", "abc");
    S("SUBSTRING('abc', 1, 0)", "");
    S("SUBSTRING('abc', 2, 100)", "bc");
    SE("SUBSTRING('abc', 4)", "", FUNCTION_EVALUATION);
    SE("SUBSTRING('abc', -4)", "", FUNCTION_EVALUATION);
    SE("SUBSTRING('abc', 1, -1)", "", FUNCTION_EVALUATION);
    SE("SUBSTRING('abc', 'x')", "", CAST);
    S("SUBSTRING('abc', 0)", "");
    S("CONCAT()", "");
    S("CONCAT('a', 1, TRUE)", "a1true");
    S("CONCAT('a','b','c','d','e','f','g','h','i','j')", "abcdefghij");
    S("CONCAT_WS('-', 'a', 'b', 'c')", "a-b-c");
    S("CONCAT_WS('-')", "");
    S("CONCAT_WS(', ', 'a')", "a");
    S("CONCAT_WS(1, 2, 3, 4,5,6,7,8,9,10,11)", "213141516171819110111");
    add_str("bin", "a\xff");
    IE("LENGTH(bin)", 0, FUNCTION_EVALUATION);  /* invalid UTF-8 in an event */
    SE("LOWER(bin)", "a\xff", FUNCTION_EVALUATION);
    SE("UPPER(bin)", "a\xff", FUNCTION_EVALUATION);
    SE("TRIM(bin)", "a\xff", FUNCTION_EVALUATION);
    SE("LEFT(bin, 1)", "a\xff", FUNCTION_EVALUATION);
    SE("SUBSTRING(bin, 1)", "", FUNCTION_EVALUATION);
    B("bin = bin", true);                       /* plain comparison does not care */
}

static void test_result_storage(void **state)
{
    (void)state;
    /* a long string result goes to the heap and is released */
    char text[2200];
    strcpy(text, "CONCAT('");
    size_t n = strlen(text);
    memset(text + n, 'x', 1000);
    strcpy(text + n + 1000, "', '");
    n = strlen(text);
    memset(text + n, 'y', 1000);
    strcpy(text + n + 1000, "', type)");
    ceb_cesql_expr *x;
    assert_int_equal(ceb_cesql_compile(text, strlen(text), 0, &x, NULL), 0);
    ceb_cesql_result r;
    assert_int_equal(ceb_cesql_eval(x, &acc, &E, &r), 0);
    assert_int_equal(r.value.type, CEB_CESQL_T_STRING);
    assert_int_equal(r.value.len, 2000 + strlen("com.example.created"));
    assert_non_null(r.heap_);
    assert_int_equal(r.value.s[r.value.len], '\0');
    ceb_cesql_result_release(&r);
    ceb_cesql_result_release(&r); /* twice is fine */
    int nerr = 5;
    assert_false(ceb_cesql_match(x, &acc, &E, &nerr)); /* a String never matches */
    assert_int_equal(nerr, 0);
    ceb_cesql_free(x);
    /* short strings stay inline and are NUL-terminated */
    assert_int_equal(ceb_cesql_compile("LOWER(type)", 11, 0, &x, NULL), 0);
    assert_int_equal(ceb_cesql_eval(x, &acc, &E, &r), 0);
    assert_null(r.heap_);
    assert_string_equal(r.value.s, "com.example.created");
    ceb_cesql_result_release(&r);
    /* bad arguments */
    assert_int_equal(ceb_cesql_eval(x, NULL, &E, &r), -EINVAL);
    assert_int_equal(ceb_cesql_eval(x, &acc, &E, NULL), -EINVAL);
    assert_false(ceb_cesql_match(NULL, &acc, &E, &nerr));
    assert_int_equal(nerr, 1);
    ceb_cesql_free(x);
    ceb_cesql_free(NULL);
}

static void test_match(void **state)
{
    (void)state;
    ceb_cesql_expr *x;
    const char *t = "type = 'com.example.created' AND (source = '/x' OR id LIKE 'id-%')";
    assert_int_equal(ceb_cesql_compile(t, strlen(t), 0, &x, NULL), 0);
    int nerr = -1;
    assert_true(ceb_cesql_match(x, &acc, &E, &nerr));
    assert_int_equal(nerr, 0);
    E.attr[CEB_CESQL_ATTR_TYPE] = "other";
    E.calls = 0;
    assert_false(ceb_cesql_match(x, &acc, &E, &nerr));
    assert_int_equal(E.calls, 1); /* short-circuit: the OR was not evaluated */
    ceb_cesql_free(x);
    /* errors make match false and are counted */
    assert_int_equal(ceb_cesql_compile("true AND ext = 1", 16, 0, &x, NULL), 0);
    assert_false(ceb_cesql_match(x, &acc, &E, &nerr));
    assert_int_equal(nerr, 1);
    assert_false(ceb_cesql_match(x, &acc, &E, NULL));
    ceb_cesql_free(x);
    /* a non-Boolean result does not pass (spec 1.2), even if truthy */
    assert_int_equal(ceb_cesql_compile("1", 1, 0, &x, NULL), 0);
    assert_false(ceb_cesql_match(x, &acc, &E, &nerr));
    ceb_cesql_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_int32_edges, setup),
        cmocka_unit_test_setup(test_casts_and_comparisons, setup),
        cmocka_unit_test_setup(test_missing_and_fail_fast, setup),
        cmocka_unit_test_setup(test_attributes, setup),
        cmocka_unit_test_setup(test_like, setup),
        cmocka_unit_test_setup(test_functions, setup),
        cmocka_unit_test_setup(test_result_storage, setup),
        cmocka_unit_test_setup(test_match, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
