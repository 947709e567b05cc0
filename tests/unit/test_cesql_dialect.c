/*
 * core/cesql Subscriptions API dialects: exact, prefix, suffix, all, any,
 * not, cesql; matching semantics and every compile error with its JSON path.
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
#include "cesql_json_event.h"

static const char *EVENT =
    "{\"specversion\":\"1.0\",\"id\":\"abc-1\",\"source\":\"https://example.com/x\","
    "\"type\":\"com.example.order.created\",\"n\":42,\"flag\":true,\"region\":\"eu\","
    "\"data\":{\"total\":10}}";

static int match(const char *filter_json, const char *event, int *nerr)
{
    cJSON *f = cJSON_Parse(filter_json);
    assert_non_null(f);
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error err;
    int rc = ceb_cesql_compile_dialect(f, 0, &x, &err);
    cJSON_Delete(f); /* the compiled filter does not borrow from the JSON */
    if (rc != 0)
        fail_msg("compile %s: %s at '%s'", filter_json, err.message, err.path);
    cJSON *ev = cJSON_Parse(event);
    ceb_cesql_json_event je;
    ceb_cesql_json_event_init(&je, ev);
    int m = ceb_cesql_match(x, &ceb_cesql_json_accessor, &je, nerr);
    ceb_cesql_json_event_reset(&je);
    cJSON_Delete(ev);
    ceb_cesql_free(x);
    return m;
}

#define YES(f) do { int ne_ = -1; if (!match(f, EVENT, &ne_)) fail_msg("expected match: %s", f); \
                    assert_int_equal(ne_, 0); } while (0)
#define NO(f) do { int ne_ = -1; if (match(f, EVENT, &ne_)) fail_msg("expected no match: %s", f); \
                   assert_int_equal(ne_, 0); } while (0)

static void test_matching(void **state)
{
    (void)state;
    YES("{\"exact\":{\"type\":\"com.example.order.created\"}}");
    NO("{\"exact\":{\"type\":\"com.example.order\"}}");
    YES("{\"exact\":{\"type\":\"com.example.order.created\",\"region\":\"eu\"}}");
    NO("{\"exact\":{\"type\":\"com.example.order.created\",\"region\":\"us\"}}");
    YES("{\"exact\":{\"n\":\"42\"}}");          /* canonical string form of an Integer */
    YES("{\"exact\":{\"flag\":\"true\"}}");
    NO("{\"exact\":{\"missing\":\"x\"}}");      /* absent: no match, no error */
    YES("{\"prefix\":{\"source\":\"https://\"}}");
    NO("{\"prefix\":{\"source\":\"http://\"}}");
    YES("{\"prefix\":{\"type\":\"\"}}");
    YES("{\"suffix\":{\"type\":\".created\"}}");
    NO("{\"suffix\":{\"type\":\".deleted\"}}");
    NO("{\"suffix\":{\"id\":\"xabc-1\"}}");
    YES("{\"all\":[{\"prefix\":{\"type\":\"com.example.\"}},{\"exact\":{\"region\":\"eu\"}}]}");
    NO("{\"all\":[{\"prefix\":{\"type\":\"com.example.\"}},{\"exact\":{\"region\":\"us\"}}]}");
    YES("{\"any\":[{\"exact\":{\"region\":\"us\"}},{\"exact\":{\"region\":\"eu\"}}]}");
    NO("{\"any\":[{\"exact\":{\"region\":\"us\"}},{\"exact\":{\"region\":\"asia\"}}]}");
    YES("{\"not\":{\"exact\":{\"region\":\"us\"}}}");
    NO("{\"not\":{\"exact\":{\"region\":\"eu\"}}}");
    YES("{\"not\":{\"exact\":{\"missing\":\"x\"}}}");
    YES("{\"all\":[]}");
    NO("{\"any\":[]}");
    YES("{\"cesql\":\"type LIKE 'com.%' AND n > 40\"}");
    YES("{\"all\":[{\"cesql\":\"data.total = 10\"},{\"any\":[{\"not\":{\"cesql\":\"false\"}}]}]}");
    /* a cesql error inside a dialect: no match, counted */
    int ne = 0;
    assert_false(match("{\"cesql\":\"missing = 1\"}", EVENT, &ne));
    assert_int_equal(ne, 1);
    assert_false(match("{\"all\":[{\"exact\":{\"region\":\"eu\"}},{\"cesql\":\"1/0 = 0\"}]}", EVENT, &ne));
    assert_int_equal(ne, 1);
    /* STRICT applies to embedded cesql */
    cJSON *f = cJSON_Parse("{\"cesql\":\"data.total = 10\"}");
    ceb_cesql_expr *x;
    ceb_cesql_error err;
    assert_int_equal(ceb_cesql_compile_dialect(f, CEB_CESQL_STRICT, &x, &err), -EINVAL);
    assert_string_equal(err.path, "cesql");
    cJSON_Delete(f);
    /* explain shows the dialect nodes */
    f = cJSON_Parse("{\"any\":[{\"exact\":{\"type\":\"a\"}},{\"suffix\":{\"source\":\"b\"}}]}");
    assert_int_equal(ceb_cesql_compile_dialect(f, 0, &x, &err), 0);
    char buf[512];
    ceb_cesql_explain(x, buf, sizeof(buf));
    assert_string_equal(buf, "(exact(type, 'a') OR suffix(source, 'b'))\n"
                             "OR\n  exact type (context attribute) 'a'\n"
                             "  suffix source (context attribute) 'b'\n");
    assert_int_equal(ceb_cesql_static_type(x), CEB_CESQL_T_BOOL);
    ceb_cesql_free(x);
    cJSON_Delete(f);
}

static void expect_error(const char *json, const char *path, const char *msg_part)
{
    cJSON *f = cJSON_Parse(json);
    assert_non_null(f);
    ceb_cesql_expr *x = (ceb_cesql_expr *)0x1;
    ceb_cesql_error err;
    int rc = ceb_cesql_compile_dialect(f, 0, &x, &err);
    cJSON_Delete(f);
    if (rc != -EINVAL)
        fail_msg("%s: expected -EINVAL, got %d", json, rc);
    assert_null(x);
    if (strcmp(err.path, path) != 0)
        fail_msg("%s: want path '%s', got '%s' (%s)", json, path, err.path, err.message);
    if (!strstr(err.message, msg_part))
        fail_msg("%s: message '%s' lacks '%s'", json, err.message, msg_part);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{}", "", "exactly one dialect key");
    expect_error("[]", "", "exactly one dialect key");
    expect_error("\"type = 'x'\"", "", "exactly one dialect key");
    expect_error("{\"exact\":{\"a\":\"b\"},\"prefix\":{\"a\":\"b\"}}", "", "exactly one dialect key");
    expect_error("{\"regex\":{\"a\":\"b\"}}", "regex", "unknown filter dialect 'regex'");
    expect_error("{\"exact\":\"x\"}", "exact", "takes an object");
    expect_error("{\"exact\":{}}", "exact", "at least one member");
    expect_error("{\"exact\":{\"Type\":\"x\"}}", "exact.Type", "not a valid attribute name");
    expect_error("{\"prefix\":{\"my-ext\":\"x\"}}", "prefix.my-ext", "not a valid attribute name");
    expect_error("{\"suffix\":{\"type\":1}}", "suffix.type", "expected a string value");
    expect_error("{\"all\":{}}", "all", "takes an array");
    expect_error("{\"any\":[{\"exact\":{\"a\":\"b\"}},{\"nope\":1}]}", "any[1].nope", "unknown filter dialect");
    expect_error("{\"all\":[{\"any\":[{\"exact\":{\"x\":true}}]}]}", "all[0].any[0].exact.x", "expected a string");
    expect_error("{\"not\":[]}", "not", "exactly one dialect key");
    expect_error("{\"cesql\":1}", "cesql", "takes a string");
    expect_error("{\"all\":[{\"cesql\":\"a = (1\"}]}", "all[0].cesql", "column 7: unexpected end");
    cJSON *f = cJSON_Parse("{\"cesql\":\"type = 'x' AND\"}");
    ceb_cesql_expr *x;
    ceb_cesql_error err;
    assert_int_equal(ceb_cesql_compile_dialect(f, 0, &x, &err), -EINVAL);
    assert_int_equal(err.column, 15);
    assert_int_equal(err.offset, 14);
    cJSON_Delete(f);
    /* deep nesting is refused, not a stack overflow */
    char *deep = malloc(10000 * 8 + 64);
    char *p = deep;
    for (int i = 0; i < 10000; i++)
        p += sprintf(p, "{\"not\":");
    p += sprintf(p, "{\"exact\":{\"a\":\"b\"}}");
    for (int i = 0; i < 10000; i++)
        *p++ = '}';
    *p = '\0';
    f = cJSON_ParseWithOpts(deep, NULL, 0);
    if (f) { /* cJSON has its own nesting limit; either way no crash */
        assert_int_equal(ceb_cesql_compile_dialect(f, 0, &x, &err), -EINVAL);
        assert_non_null(strstr(err.message, "nested too deeply"));
        cJSON_Delete(f);
    }
    free(deep);
    assert_int_equal(ceb_cesql_compile_dialect(NULL, 0, &x, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
