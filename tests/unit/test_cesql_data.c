/*
 * core/cesql data extension (data.a.b, data.items[0].name, data['k']):
 * JSON -> CESQL value mapping, missing members, non-JSON data, EXISTS,
 * strict mode, data parsed at most once per evaluation; and the JSON event
 * accessor used by the CLI and the TCK runner.
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
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
    "\"datacontenttype\":\"application/cloudevents+json; charset=utf-8\","
    "\"data\":{\"a\":{\"b\":\"x\"},\"n\":42,\"neg\":-7,\"f\":1.5,\"big\":3000000000,"
    "\"t\":true,\"nul\":null,\"items\":[{\"name\":\"first\"},{\"name\":\"second\"}],"
    "\"key with space\":\"ks\",\"obj\":{\"k\":[1,2]},\"Mixed\":\"case\",\"e\":\"\"}}";

typedef struct {
    ceb_cesql_json_event je;
    int data_calls;
} counting;

static bool c_attr(void *ev, int slot, const char *n, size_t l, ceb_cesql_value *o)
{
    return ceb_cesql_json_accessor.attr(&((counting *)ev)->je, slot, n, l, o);
}

static const cJSON *c_data(void *ev)
{
    counting *c = ev;
    c->data_calls++;
    return ceb_cesql_json_accessor.data_json(&c->je);
}

static const ceb_cesql_accessor cacc = { .attr = c_attr, .data_json = c_data };

static void check(const char *event, const char *text, unsigned flags, int type,
                  int32_t iv, const char *sv, int err_kind)
{
    cJSON *root = cJSON_Parse(event);
    assert_non_null(root);
    counting c = { 0 };
    ceb_cesql_json_event_init(&c.je, root);
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error perr;
    if (ceb_cesql_compile(text, strlen(text), flags, &x, &perr) != 0)
        fail_msg("compile '%s': %s", text, perr.message);
    ceb_cesql_result r;
    assert_int_equal(ceb_cesql_eval(x, &cacc, &c, &r), 0);
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
        fail_msg("'%s': unexpected error: %s", text, r.errors[0].message);
    if (err_kind && (r.nerrors == 0 || r.errors[0].kind != err_kind))
        fail_msg("'%s': want error %s", text, ceb_cesql_error_kind_name(err_kind));
    assert_true(c.data_calls <= 1); /* parsed/looked up once per evaluation */
    ceb_cesql_result_release(&r);
    ceb_cesql_free(x);
    ceb_cesql_json_event_reset(&c.je);
    cJSON_Delete(root);
}

#define B(t, v) check(EVENT, t, 0, CEB_CESQL_T_BOOL, v, NULL, 0)
#define BE(t, v, e) check(EVENT, t, 0, CEB_CESQL_T_BOOL, v, NULL, CEB_CESQL_ERR_##e)
#define I(t, v) check(EVENT, t, 0, CEB_CESQL_T_INT, v, NULL, 0)
#define S(t, v) check(EVENT, t, 0, CEB_CESQL_T_STRING, 0, v, 0)

static void test_paths_and_types(void **state)
{
    (void)state;
    S("data.a.b", "x");
    I("data.n", 42);
    I("data.neg", -7);
    S("data.f", "1.5");                        /* non-integral: String of the JSON text */
    S("data.big", "3000000000");               /* outside int32: String */
    B("data.t", true);
    S("data.items[1].name", "second");
    S("data['key with space']", "ks");
    S("data[\"items\"][0]['name']", "first");
    S("data.obj", "{\"k\":[1,2]}");            /* object: compact JSON */
    S("data.obj.k", "[1,2]");
    S("data.Mixed", "case");                   /* member names keep their case */
    S("data.e", "");
    B("data.n > 40 AND data.a.b = 'x' AND data.items[0].name LIKE 'f%'", true);
    B("data.n = '42'", true);
    B("data.big = '3000000000'", true);
    I("LENGTH(data.a.b) + data.n", 43);
    S("data", "{\"a\":{\"b\":\"x\"},\"n\":42,\"neg\":-7,\"f\":1.5,\"big\":3000000000,\"t\":true,"
              "\"nul\":null,\"items\":[{\"name\":\"first\"},{\"name\":\"second\"}],"
              "\"key with space\":\"ks\",\"obj\":{\"k\":[1,2]},\"Mixed\":\"case\",\"e\":\"\"}");
}

static void test_missing(void **state)
{
    (void)state;
    BE("data.nope", false, MISSING_ATTRIBUTE);
    BE("data.nul", false, MISSING_ATTRIBUTE);   /* null is missing */
    BE("data.mixed = 'case'", false, MISSING_ATTRIBUTE);
    BE("data.items[2].name = 'x'", false, MISSING_ATTRIBUTE);
    BE("data.a[0]", false, MISSING_ATTRIBUTE);  /* index into an object */
    BE("data.items.name", false, MISSING_ATTRIBUTE);
    BE("data.a.b.c", false, MISSING_ATTRIBUTE);
    B("EXISTS data.a.b", true);
    B("EXISTS data.nope", false);
    B("EXISTS data.nul", false);
    B("NOT EXISTS data.items[5]", true);
    B("EXISTS data", true);
    /* the message names the path */
    cJSON *root = cJSON_Parse(EVENT);
    ceb_cesql_json_event je;
    ceb_cesql_json_event_init(&je, root);
    ceb_cesql_expr *x;
    assert_int_equal(ceb_cesql_compile("data.items[9]['n m']", 20, 0, &x, NULL), 0);
    ceb_cesql_result r;
    ceb_cesql_eval(x, &ceb_cesql_json_accessor, &je, &r);
    assert_string_equal(r.errors[0].message, "missing data member 'data.items[9]['n m']'");
    ceb_cesql_result_release(&r);
    ceb_cesql_free(x);
    ceb_cesql_json_event_reset(&je);
    cJSON_Delete(root);
}

static void test_non_json_and_strict(void **state)
{
    (void)state;
    const char *text_ev = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                          "\"datacontenttype\":\"text/plain\",\"data\":\"{\\\"a\\\":1}\"}";
    check(text_ev, "data.a = 1", 0, CEB_CESQL_T_BOOL, 0, NULL, CEB_CESQL_ERR_MISSING_ATTRIBUTE);
    check(text_ev, "EXISTS data.a", 0, CEB_CESQL_T_BOOL, 0, NULL, 0);
    check(text_ev, "EXISTS data", 0, CEB_CESQL_T_BOOL, 0, NULL, 0);
    const char *no_data = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}";
    check(no_data, "data.a", 0, CEB_CESQL_T_BOOL, 0, NULL, CEB_CESQL_ERR_MISSING_ATTRIBUTE);
    /* no datacontenttype: JSON by default in the JSON format */
    const char *implicit = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                           "\"data\":[10,20]}";
    check(implicit, "data[1]", 0, CEB_CESQL_T_INT, 20, NULL, 0);
    /* data_base64 with a JSON content type is decoded and parsed */
    const char *b64 = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                      "\"datacontenttype\":\"application/json\",\"data_base64\":\"eyJrIjoidiJ9\"}";
    check(b64, "data.k", 0, CEB_CESQL_T_STRING, 0, "v", 0);
    /* strict: `data` is an ordinary (extension) identifier */
    check(EVENT, "data", CEB_CESQL_STRICT, CEB_CESQL_T_BOOL, 0, NULL, CEB_CESQL_ERR_MISSING_ATTRIBUTE);
    check(EVENT, "EXISTS data", CEB_CESQL_STRICT, CEB_CESQL_T_BOOL, 0, NULL, 0);
    /* an accessor without data_json: every data reference is missing */
    cJSON *root = cJSON_Parse(EVENT);
    ceb_cesql_json_event je;
    ceb_cesql_json_event_init(&je, root);
    ceb_cesql_accessor attr_only = { .attr = ceb_cesql_json_accessor.attr, .data_json = NULL };
    ceb_cesql_expr *x;
    assert_int_equal(ceb_cesql_compile("data.n = 42", 11, 0, &x, NULL), 0);
    int nerr = 0;
    assert_false(ceb_cesql_match(x, &attr_only, &je, &nerr));
    assert_int_equal(nerr, 1);
    assert_true(ceb_cesql_match(x, &ceb_cesql_json_accessor, &je, &nerr));
    assert_int_equal(nerr, 0);
    ceb_cesql_free(x);
    ceb_cesql_json_event_reset(&je);
    cJSON_Delete(root);
}

static void test_json_event_accessor(void **state)
{
    (void)state;
    char msg[128];
    cJSON *ok = cJSON_Parse("{\"id\":\"1\",\"n\":5,\"b\":false,\"data\":{\"x\":[1]}}");
    assert_int_equal(ceb_cesql_json_event_check(ok, msg, sizeof(msg)), 0);
    cJSON_Delete(ok);
    cJSON *bad = cJSON_Parse("{\"id\":\"1\",\"n\":5.5}");
    assert_int_equal(ceb_cesql_json_event_check(bad, msg, sizeof(msg)), -EINVAL);
    assert_string_equal(msg, "attribute 'n': number is not a 32-bit integer");
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"o\":{}}");
    assert_int_equal(ceb_cesql_json_event_check(bad, msg, sizeof(msg)), -EINVAL);
    cJSON_Delete(bad);
    bad = cJSON_Parse("[1]");
    assert_int_equal(ceb_cesql_json_event_check(bad, msg, sizeof(msg)), -EINVAL);
    cJSON_Delete(bad);
    assert_true(ceb_cesql_json_content_type(NULL));
    assert_true(ceb_cesql_json_content_type("application/json"));
    assert_true(ceb_cesql_json_content_type("Application/JSON ; charset=utf-8"));
    assert_true(ceb_cesql_json_content_type("application/vnd.foo+json"));
    assert_false(ceb_cesql_json_content_type("text/plain"));
    assert_false(ceb_cesql_json_content_type("application/jsonx"));
    /* data and data_base64 are not attributes */
    cJSON *root = cJSON_Parse("{\"data\":\"x\",\"data_base64\":\"eA==\",\"a\":\"y\"}");
    ceb_cesql_json_event je;
    ceb_cesql_json_event_init(&je, root);
    ceb_cesql_value v;
    assert_false(ceb_cesql_json_accessor.attr(&je, CEB_CESQL_ATTR_EXT, "data", 4, &v));
    assert_false(ceb_cesql_json_accessor.attr(&je, CEB_CESQL_ATTR_EXT, "data_base64", 11, &v));
    assert_true(ceb_cesql_json_accessor.attr(&je, CEB_CESQL_ATTR_EXT, "a", 1, &v));
    assert_int_equal(v.type, CEB_CESQL_T_STRING);
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_and_types),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_non_json_and_strict),
        cmocka_unit_test(test_json_event_accessor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
