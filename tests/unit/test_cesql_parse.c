/*
 * core/cesql parser: precedence (checked through explain's fully
 * parenthesized line), every parse error path with its column, the depth
 * limit (10,000 nested parentheses), malformed and random input.
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

static void assert_tree(const char *text, unsigned flags, const char *want)
{
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error err;
    int rc = ceb_cesql_compile(text, strlen(text), flags | CEB_CESQL_NO_FOLD, &x, &err);
    if (rc != 0)
        fail_msg("compile '%s': %s (col %zu)", text, err.message, err.column);
    char buf[2048];
    int n = ceb_cesql_explain(x, buf, sizeof(buf));
    assert_true(n > 0);
    char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    *nl = '\0';
    if (strcmp(buf, want) != 0)
        fail_msg("'%s': want %s, got %s", text, want, buf);
    ceb_cesql_free(x);
}

static void assert_parse_error(const char *text, size_t col, const char *msg_part)
{
    ceb_cesql_expr *x = (ceb_cesql_expr *)0x1;
    ceb_cesql_error err;
    int rc = ceb_cesql_compile(text, strlen(text), 0, &x, &err);
    if (rc != -EINVAL)
        fail_msg("'%s': expected a parse error, got rc=%d", text, rc);
    assert_null(x);
    assert_int_equal(err.kind, CEB_CESQL_ERR_PARSE);
    if (col && err.column != col)
        fail_msg("'%s': want column %zu, got %zu (%s)", text, col, err.column, err.message);
    if (msg_part && !strstr(err.message, msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", text, err.message, msg_part);
}

static void test_precedence(void **state)
{
    (void)state;
    assert_tree("1 + 2 * 3", 0, "(1 + (2 * 3))");
    assert_tree("1 * 2 + 3", 0, "((1 * 2) + 3)");
    assert_tree("a - b - c", 0, "((a - b) - c)");
    assert_tree("a / b * c % d", 0, "(((a / b) * c) % d)");
    assert_tree("a + 1 = b * 2", 0, "((a + 1) = (b * 2))");
    assert_tree("a < b = true", 0, "((a < b) = TRUE)");
    /* AND, OR, XOR: one level, left to right (spec 3.6, not the grammar's right assoc) */
    assert_tree("a OR b AND c", 0, "((a OR b) AND c)");
    assert_tree("a AND b OR c", 0, "((a AND b) OR c)");
    assert_tree("a XOR b OR c AND d", 0, "(((a XOR b) OR c) AND d)");
    assert_tree("a AND b AND c", 0, "(a AND b AND c)");
    assert_tree("a AND (b OR c)", 0, "(a AND (b OR c))");
    /* unary operators bind tighter than everything else */
    assert_tree("NOT a = b", 0, "((NOT a) = b)");
    assert_tree("NOT a LIKE 'x'", 0, "((NOT a) LIKE 'x')");
    assert_tree("-a * b", 0, "((-a) * b)");
    assert_tree("--a", 0, "(-(-a))");
    assert_tree("NOT NOT a", 0, "(NOT (NOT a))");
    assert_tree("NOT EXISTS a", 0, "(NOT (EXISTS a))");
    /* LIKE / IN bind tighter than the binary operators */
    assert_tree("a + b LIKE 'x%'", 0, "(a + (b LIKE 'x%'))");
    assert_tree("a IN (1, 2) AND b NOT IN ('x')", 0, "((a IN (1, 2)) AND (b NOT IN ('x')))");
    assert_tree("a NOT LIKE 'a\\%b'", 0, "(a NOT LIKE 'a\\%b')");
    /* signs fold into integer literals; binary minus stays binary */
    assert_tree("4-1", 0, "(4 - 1)");
    assert_tree("4 + -1", 0, "(4 + -1)");
    assert_tree("-2147483648", 0, "-2147483648");
    assert_tree("+5", 0, "5");
    /* case-insensitive keywords and identifiers (lower-cased) */
    assert_tree("SOURCE like 'x' and Id in (TRUE, false)", 0,
                "((source LIKE 'x') AND (id IN (TRUE, FALSE)))");
    assert_tree("length(Type)", 0, "LENGTH(type)");
    assert_tree("concat_ws(',', a)", 0, "CONCAT_WS(',', a)");
    assert_tree("nosuch(1)", 0, "NOSUCH(1)");
    /* string literal escapes */
    assert_tree("'it''s' = \"a\\\"b\" AND 'x\\'y' = 'p\\q'", 0,
                "(('it\\'s' = 'a\"b') AND ('x\\'y' = 'p\\q'))");
    /* data extension vs strict */
    assert_tree("data.a.b[2]['c d'] = DATA.X", 0, "(data.a.b[2]['c d'] = data.X)");
    assert_tree("EXISTS data.x", 0, "(EXISTS data.x)");
    assert_tree("data", CEB_CESQL_STRICT, "data");
}

static void test_folding(void **state)
{
    (void)state;
    ceb_cesql_expr *x;
    assert_int_equal(ceb_cesql_compile("1 + 2 * 3", 9, 0, &x, NULL), 0);
    assert_int_equal(ceb_cesql_static_type(x), CEB_CESQL_T_INT);
    char buf[256];
    ceb_cesql_explain(x, buf, sizeof(buf));
    assert_string_equal(buf, "7\nInteger 7\n");
    ceb_cesql_free(x);
    /* EXISTS of a required attribute is always true (spec 3.4.4) */
    assert_int_equal(ceb_cesql_compile("EXISTS id", 9, 0, &x, NULL), 0);
    ceb_cesql_explain(x, buf, sizeof(buf));
    assert_string_equal(buf, "TRUE\nBoolean TRUE\n");
    ceb_cesql_free(x);
    /* an erroring constant is not folded: the error is raised at evaluation */
    assert_int_equal(ceb_cesql_compile("1 / 0", 5, 0, &x, NULL), 0);
    ceb_cesql_explain(x, buf, sizeof(buf));
    assert_string_equal(buf, "(1 / 0)\n/\n  Integer 1\n  Integer 0\n");
    ceb_cesql_free(x);
    /* static types */
    assert_int_equal(ceb_cesql_compile("type", 4, 0, &x, NULL), 0);
    assert_int_equal(ceb_cesql_static_type(x), 0);
    ceb_cesql_free(x);
    assert_int_equal(ceb_cesql_compile("LOWER(type)", 11, 0, &x, NULL), 0);
    assert_int_equal(ceb_cesql_static_type(x), CEB_CESQL_T_STRING);
    ceb_cesql_free(x);
    /* explain's snprintf contract */
    assert_int_equal(ceb_cesql_compile("a = 'b'", 7, 0, &x, NULL), 0);
    int need = ceb_cesql_explain(x, NULL, 0);
    assert_true(need > 0);
    char small[8];
    assert_int_equal(ceb_cesql_explain(x, small, sizeof(small)), need);
    assert_int_equal(strlen(small), 7);
    ceb_cesql_free(x);
    assert_int_equal(ceb_cesql_explain(NULL, buf, sizeof(buf)), -EINVAL);
}

static void test_errors(void **state)
{
    (void)state;
    assert_parse_error("", 1, "empty expression");
    assert_parse_error("   ", 4, "empty expression");
    assert_parse_error("ABC(", 5, "expected an argument or ')'");
    assert_parse_error("(1 + 2", 7, "expected ')'");
    assert_parse_error("1 +", 4, "end of expression");
    assert_parse_error("1 2", 3, "expected an operator");
    assert_parse_error("a = 'abc", 5, "unterminated string literal");
    assert_parse_error("a = \"abc\\\"", 5, "unterminated string literal");
    assert_parse_error("x LIKE 123", 8, "string literal as LIKE pattern");
    assert_parse_error("x LIKE y", 8, "string literal as LIKE pattern");
    assert_parse_error("x IN ()", 7, "unexpected ')'");
    assert_parse_error("x IN 1", 6, "'(' opening the IN set");
    assert_parse_error("x IN (1, 2", 11, "',' or ')' in the IN set");
    assert_parse_error("x NOT 1", 3, "expected an operator");
    assert_parse_error("EXISTS 1", 8, "attribute name after EXISTS");
    assert_parse_error("EXISTS", 7, "attribute name after EXISTS");
    assert_parse_error("2147483648", 1, "out of range");
    assert_parse_error("-2147483649", 1, "out of range");
    assert_parse_error("99999999999999999999999", 1, "out of range");
    assert_parse_error("a ! b", 3, "'!='");
    assert_parse_error("a # b", 3, "unexpected character");
    assert_parse_error("a = 'é' AND ü", 13, "unexpected character");
    assert_parse_error("my_attr = 1", 1, "not a valid attribute name");
    assert_parse_error("abc1(2)", 1, "invalid function name");
    assert_parse_error("f_1(2)", 1, "invalid name");
    assert_parse_error("_x", 1, "invalid name");
    assert_parse_error("+a", 1, "unexpected '+'");
    assert_parse_error("a = 'b' 'c'", 9, "expected an operator");
    assert_parse_error("LENGTH('a',)", 12, "unexpected ')'");
    assert_parse_error("a AND", 6, "end of expression");
    assert_parse_error("a )", 3, "unexpected ')'");
    assert_parse_error("a.b", 2, "unexpected '.'");
    assert_parse_error("data.", 6, "member name after '.'");
    assert_parse_error("data[", 6, "array index or a quoted member name");
    assert_parse_error("data[1", 7, "']'");
    assert_parse_error("data[x]", 6, "array index or a quoted member name");
    assert_parse_error("data[2147483648]", 6, "array index out of range");
    /* strict mode: no data extension */
    ceb_cesql_error err;
    ceb_cesql_expr *x;
    assert_int_equal(ceb_cesql_compile("data.a", 6, CEB_CESQL_STRICT, &x, &err), -EINVAL);
    assert_int_equal(err.column, 5);
    assert_int_equal(err.offset, 4);
    /* invalid UTF-8 in a string literal */
    assert_int_equal(ceb_cesql_compile("'\xff'", 3, 0, &x, &err), -EINVAL);
    assert_non_null(strstr(err.message, "UTF-8"));
    /* NUL-containing, non-terminated input is read by length */
    assert_int_equal(ceb_cesql_compile("true\0garbage", 4, 0, &x, &err), 0);
    ceb_cesql_free(x);
    assert_int_equal(ceb_cesql_compile("a\0b", 3, 0, &x, &err), -EINVAL);
    /* argument checks */
    assert_int_equal(ceb_cesql_compile("true", 4, 0, NULL, &err), -EINVAL);
    assert_int_equal(ceb_cesql_compile(NULL, 4, 0, &x, &err), -EINVAL);
    /* error kind names as in the TCK */
    assert_string_equal(ceb_cesql_error_kind_name(CEB_CESQL_ERR_PARSE), "parse");
    assert_string_equal(ceb_cesql_error_kind_name(CEB_CESQL_ERR_MISSING_ATTRIBUTE), "missingAttribute");
    assert_string_equal(ceb_cesql_error_kind_name(CEB_CESQL_ERR_FUNCTION_EVALUATION), "functionEvaluation");
    assert_string_equal(ceb_cesql_error_kind_name(99), "unknown");
}

static char *repeat(const char *a, int n, const char *mid, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = malloc(la * (size_t)n + lm + lb * (size_t)n + 1);
    char *p = s;
    for (int i = 0; i < n; i++, p += la)
        memcpy(p, a, la);
    memcpy(p, mid, lm);
    p += lm;
    for (int i = 0; i < n; i++, p += lb)
        memcpy(p, b, lb);
    *p = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    ceb_cesql_error err;
    ceb_cesql_expr *x;
    char *s = repeat("(", 10000, "1", ")");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), -EINVAL);
    assert_non_null(strstr(err.message, "nested too deeply"));
    assert_int_equal(err.column, CEB_CESQL_MAX_DEPTH + 1);
    free(s);
    s = repeat("NOT ", 10000, "true", "");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), -EINVAL);
    free(s);
    s = repeat("-", 10000, "a", "");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), -EINVAL);
    free(s);
    s = repeat("ABS(", 10000, "1", ")");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), -EINVAL);
    free(s);
    s = repeat("a IN (", 10000, "1", ")");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), -EINVAL);
    free(s);
    /* a left-deep arithmetic chain is limited too (it would recurse at evaluation) */
    s = repeat("a + ", 10000, "1", "");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), -EINVAL);
    assert_non_null(strstr(err.message, "nested too deeply"));
    free(s);
    /* within the limit: fine */
    s = repeat("(", CEB_CESQL_MAX_DEPTH - 1, "1", ")");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), 0);
    ceb_cesql_free(x);
    free(s);
    /* long AND/OR chains are flat n-ary nodes: no limit on their length */
    s = repeat("a = 1 OR ", 10000, "true", "");
    assert_int_equal(ceb_cesql_compile(s, strlen(s), 0, &x, &err), 0);
    ceb_cesql_free(x);
    free(s);
}

static void test_random_bytes(void **state)
{
    (void)state;
    static const char alphabet[] = "abcXYZ019 _'\"\\()[],.=<>!+-*/%"
                                   "\t\nANDORXNOTLIKEINEXISTS\xc3\xa9\xff";
    unsigned seed = 12345;
    char buf[128];
    for (int i = 0; i < 50000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % sizeof(buf);
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = (i & 1) ? (char)(seed >> 16)
                             : alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        ceb_cesql_expr *x = NULL;
        ceb_cesql_error err;
        int rc = ceb_cesql_compile(buf, n, (unsigned)i & 1u, &x, &err);
        assert_true(rc == 0 || rc == -EINVAL);
        if (rc == 0) {
            char out[64];
            assert_true(ceb_cesql_explain(x, out, sizeof(out)) > 0);
            ceb_cesql_free(x);
        } else {
            assert_int_equal(err.kind, CEB_CESQL_ERR_PARSE);
            assert_true(err.column >= 1 && err.offset <= n);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
