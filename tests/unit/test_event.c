/* Unit tests: sdk/src/event.c (ceb_event). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <cebridge/errors.h>
#include <cebridge/event.h>
#include <cebridge/json.h>

static ceb_event *mk(void)
{
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "1", &d), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/src", &d), 0);
    assert_int_equal(ceb_event_set(ev, "type", "t.x", &d), 0);
    return ev;
}

static void test_new_and_context(void **state)
{
    (void)state;
    ceb_event *ev;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_string_equal(ceb_event_get(ev, "specversion"), "1.0");
    assert_int_equal(ceb_event_attr_count(ev), 1);
    assert_null(ceb_event_id(ev));
    assert_int_equal(ceb_event_validate(ev, &d), CEB_ESPEC);
    assert_string_equal(d.field, "id");
    assert_string_equal(d.message, "required attribute 'id' is missing");

    assert_int_equal(ceb_event_set(ev, "id", "abc", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "https://example.com/x", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "com.example.t", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "subject", "sub", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "time", "2018-04-05T17:31:00Z", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "datacontenttype", "application/json", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "dataschema", "https://example.com/s.json", NULL), 0);
    assert_string_equal(ceb_event_id(ev), "abc");
    assert_string_equal(ceb_event_source(ev), "https://example.com/x");
    assert_string_equal(ceb_event_type(ev), "com.example.t");
    assert_string_equal(ceb_event_subject(ev), "sub");
    assert_string_equal(ceb_event_time(ev), "2018-04-05T17:31:00Z");
    assert_string_equal(ceb_event_datacontenttype(ev), "application/json");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_validate(ev, &d), 0);

    ceb_attr a;
    assert_int_equal(ceb_event_attr(ev, "source", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_URI_REF);
    assert_int_equal(ceb_event_attr(ev, "time", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_TIMESTAMP);
    assert_int_equal(ceb_event_attr(ev, "dataschema", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_URI);
    assert_int_equal(ceb_event_attr(ev, "nope", &a), CEB_ENOENT);

    /* an empty value removes an optional attribute */
    assert_int_equal(ceb_event_set(ev, "subject", "", NULL), 0);
    assert_null(ceb_event_subject(ev));
    ceb_event_unref(ev);
}

static void test_context_errors(void **state)
{
    (void)state;
    ceb_event *ev = mk();
    ceb_diag d = {0};
    assert_int_equal(ceb_event_set(ev, "specversion", "0.3", &d), CEB_EINVAL);
    assert_string_equal(d.message, "specversion must be \"1.0\", got \"0.3\"");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set(ev, "specversion", "1.0", &d), 0);
    assert_int_equal(ceb_event_set(ev, "id", "", &d), CEB_EINVAL);
    assert_string_equal(d.message, "required attribute 'id' must not be empty");
    assert_string_equal(ceb_event_id(ev), "1");     /* unchanged */
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set(ev, "time", "yesterday", &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'time' is not an RFC 3339 timestamp: \"yesterday\"");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set(ev, "dataschema", "not a uri", &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'dataschema' is not an absolute URI: \"not a uri\"");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set(ev, "source", "has space", &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'source' is not a URI-reference (contains a space or control character)");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_setn(ev, "subject", "a\0b", 3, &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'subject' contains a NUL byte");
    assert_int_equal(ceb_event_remove(ev, "id"), CEB_EINVAL);
    assert_int_equal(ceb_event_remove(ev, "specversion"), CEB_EINVAL);
    assert_int_equal(ceb_event_remove(ev, "subject"), 0);
    ceb_event_unref(ev);
}

static void test_attr_names(void **state)
{
    (void)state;
    ceb_diag d = {0};
    assert_int_equal(ceb_attr_name_check("abc123", 6, &d), 0);
    assert_int_equal(ceb_attr_name_check("averyveryverylongextensionname", 30, &d), 0);  /* > 20: accepted */
    assert_int_equal(ceb_attr_name_check("Abc", 3, &d), CEB_EINVAL);
    assert_string_equal(d.message,
        "invalid attribute name \"Abc\": only lower-case letters a-z and digits 0-9 are allowed");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_attr_name_check("my_ext", 6, &d), CEB_EINVAL);
    ceb_diag_clear(&d);
    assert_int_equal(ceb_attr_name_check("", 0, &d), CEB_EINVAL);
    assert_string_equal(d.message, "attribute name is empty");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_attr_name_check("data", 4, &d), CEB_EINVAL);
    assert_string_equal(d.message, "attribute name \"data\" is reserved for the event payload");

    ceb_event *ev = mk();
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set(ev, "Bad-Name", "x", &d), CEB_EINVAL);
    assert_string_equal(d.message,
        "invalid attribute name \"Bad-Name\": only lower-case letters a-z and digits 0-9 are allowed");
    ceb_event_unref(ev);
}

static void test_extensions(void **state)
{
    (void)state;
    ceb_event *ev = mk();
    ceb_diag d = {0};
    ceb_attr a;
    assert_int_equal(ceb_event_set(ev, "team", "qe", &d), 0);
    assert_int_equal(ceb_event_set_int(ev, "count", -42, &d), 0);
    assert_int_equal(ceb_event_set_bool(ev, "flag", true, &d), 0);
    assert_int_equal(ceb_event_set_typed(ev, "n", CEB_ATTR_INTEGER, "2147483647", 10, &d), 0);
    assert_int_equal(ceb_event_set_typed(ev, "u", CEB_ATTR_URI, "urn:x:y", 7, &d), 0);
    assert_int_equal(ceb_event_set_typed(ev, "r", CEB_ATTR_URI_REF, "../a", 4, &d), 0);
    assert_int_equal(ceb_event_set_typed(ev, "ts", CEB_ATTR_TIMESTAMP, "2020-02-29T00:00:00.5+01:00", 27, &d), 0);
    assert_int_equal(ceb_event_set_typed(ev, "bin", CEB_ATTR_BINARY, "Zm9v", 4, &d), 0);
    assert_int_equal(ceb_event_set_typed(ev, "b2", CEB_ATTR_BOOLEAN, "false", 5, &d), 0);

    assert_int_equal(ceb_event_attr(ev, "count", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_INTEGER);
    assert_int_equal(a.i, -42);
    assert_string_equal(a.text, "-42");
    assert_int_equal(ceb_event_attr(ev, "flag", &a), 0);
    assert_true(a.b);
    assert_string_equal(a.text, "true");
    assert_int_equal(ceb_event_attr(ev, "b2", &a), 0);
    assert_false(a.b);
    assert_int_equal(ceb_event_attr(ev, "n", &a), 0);
    assert_int_equal(a.i, INT32_MAX);
    assert_string_equal(ceb_event_get(ev, "team"), "qe");

    /* iteration: context in spec order, then extensions in insertion order */
    static const char *order[] = { "id", "source", "specversion", "type",
                                   "team", "count", "flag", "n", "u", "r", "ts", "bin", "b2" };
    assert_int_equal(ceb_event_attr_count(ev), 13);
    for (size_t i = 0; i < 13; i++) {
        assert_int_equal(ceb_event_attr_at(ev, i, &a), 0);
        assert_string_equal(a.name, order[i]);
    }
    assert_int_equal(ceb_event_attr_at(ev, 13, &a), CEB_ENOENT);

    /* typed errors */
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set_typed(ev, "n", CEB_ATTR_INTEGER, "2147483648", 10, &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'n' is not an Integer (int32): \"2147483648\"");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set_typed(ev, "n", CEB_ATTR_INTEGER, "1.5", 3, &d), CEB_EINVAL);
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set_typed(ev, "b", CEB_ATTR_BOOLEAN, "yes", 3, &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'b' is not a Boolean (true or false): \"yes\"");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set_typed(ev, "u", CEB_ATTR_URI, "/relative", 9, &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'u' is not an absolute URI: \"/relative\"");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set_typed(ev, "bin", CEB_ATTR_BINARY, "Zm9", 3, &d), CEB_EINVAL);
    assert_string_equal(d.message, "value of 'bin' is not valid base64");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set_int(ev, "time", 1, &d), CEB_EINVAL);
    assert_string_equal(d.message, "'time' is a context attribute, not an extension; it cannot be an Integer");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_set_typed(ev, "subject", CEB_ATTR_BOOLEAN, "true", 4, &d), CEB_EINVAL);
    assert_string_equal(d.message, "'subject' is a context attribute; it cannot be set as Boolean");
    /* set_typed on a context attribute with a text type goes through its rules */
    assert_int_equal(ceb_event_set_typed(ev, "subject", CEB_ATTR_STRING, "s", 1, &d), 0);
    assert_string_equal(ceb_event_subject(ev), "s");

    /* replace keeps the position, removal and empty-string removal */
    assert_int_equal(ceb_event_set(ev, "team", "dev", NULL), 0);
    assert_string_equal(ceb_event_get(ev, "team"), "dev");
    assert_int_equal(ceb_event_remove(ev, "count"), 0);
    assert_null(ceb_event_get(ev, "count"));
    assert_int_equal(ceb_event_set(ev, "team", "", NULL), 0);
    assert_null(ceb_event_get(ev, "team"));
    assert_int_equal(ceb_event_remove(ev, "absent"), 0);
    ceb_event_unref(ev);
}

static void test_freeze_clone_refs(void **state)
{
    (void)state;
    ceb_event *ev = mk();
    ceb_diag d = {0};
    assert_int_equal(ceb_event_set(ev, "ext", "v", NULL), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_TEXT, "hello", 5), 0);
    assert_false(ceb_event_is_frozen(ev));
    ceb_event_freeze(ev);
    ceb_event_freeze(ev);   /* idempotent */
    assert_true(ceb_event_is_frozen(ev));
    assert_int_equal(ceb_event_set(ev, "subject", "x", &d), CEB_EIMMUTABLE);
    assert_string_equal(d.message, "event is immutable once emitted");
    assert_int_equal(ceb_event_set_int(ev, "i", 1, NULL), CEB_EIMMUTABLE);
    assert_int_equal(ceb_event_set_bool(ev, "b", true, NULL), CEB_EIMMUTABLE);
    assert_int_equal(ceb_event_set_typed(ev, "t", CEB_ATTR_STRING, "x", 1, NULL), CEB_EIMMUTABLE);
    assert_int_equal(ceb_event_remove(ev, "ext"), CEB_EIMMUTABLE);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_NONE, NULL, 0), CEB_EIMMUTABLE);

    ceb_event *c = NULL;
    assert_int_equal(ceb_event_clone(ev, &c), 0);
    assert_false(ceb_event_is_frozen(c));
    assert_string_equal(ceb_event_get(c, "ext"), "v");
    size_t n;
    assert_memory_equal(ceb_event_data(c, &n), "hello", 5);
    assert_int_equal(n, 5);
    assert_int_equal(ceb_event_data_kind(c), CEB_DATA_TEXT);
    assert_int_equal(ceb_event_set(c, "ext", "changed", NULL), 0);
    assert_string_equal(ceb_event_get(ev, "ext"), "v");   /* deep copy */

    const ceb_event *r = ceb_event_ref(ev);
    assert_ptr_equal(r, ev);
    ceb_event_unref(ev);
    assert_string_equal(ceb_event_id(r), "1");            /* still alive */
    ceb_event_unref(r);
    ceb_event_unref(c);
    ceb_event_unref(NULL);
}

static void test_data(void **state)
{
    (void)state;
    ceb_event *ev = mk();
    size_t n;
    assert_null(ceb_event_data(ev, &n));
    assert_int_equal(n, 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_NONE);
    assert_null(ceb_event_data_json(ev));

    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"a\":", 5), CEB_EINVAL);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{} x", 4), CEB_EINVAL);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_NONE, "x", 1), CEB_EINVAL);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"a\": [1, 2]}", 13), 0);
    assert_true(ceb_event_data_is_json(ev));
    const ceb_json *j = ceb_event_data_json(ev);
    assert_non_null(j);
    assert_ptr_equal(j, ceb_event_data_json(ev));   /* cached */
    assert_int_equal(ceb_json_type_of(j), CEB_JSON_OBJECT);
    const ceb_json *arr = ceb_json_get(j, "a");
    assert_int_equal(ceb_json_count(arr), 2);
    assert_true(ceb_json_number(ceb_json_at(arr, 1)) == 2.0);
    assert_null(ceb_json_at(arr, 2));
    const ceb_json *val;
    assert_string_equal(ceb_json_key_at(j, 0, &val), "a");
    assert_ptr_equal(val, arr);
    assert_null(ceb_json_key_at(j, 1, &val));

    /* text data counts as JSON only under a JSON content type */
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_TEXT, "[true]", 6), 0);
    assert_false(ceb_event_data_is_json(ev));
    assert_null(ceb_event_data_json(ev));
    static const char *json_types[] = { "application/json", "application/cloudevents+json",
                                        "text/json; charset=utf-8", "Application/JSON",
                                        " application/vnd.x+json ;v=1" };
    for (size_t i = 0; i < sizeof json_types / sizeof json_types[0]; i++) {
        assert_int_equal(ceb_event_set(ev, "datacontenttype", json_types[i], NULL), 0);
        assert_true(ceb_event_data_is_json(ev));
        assert_non_null(ceb_event_data_json(ev));
    }
    static const char *other_types[] = { "text/plain", "application/jsonx", "json", "application/xml" };
    for (size_t i = 0; i < sizeof other_types / sizeof other_types[0]; i++) {
        assert_int_equal(ceb_event_set(ev, "datacontenttype", other_types[i], NULL), 0);
        assert_false(ceb_event_data_is_json(ev));
    }
    /* declared JSON that does not parse: NULL, and stays NULL */
    assert_int_equal(ceb_event_set(ev, "datacontenttype", "application/json", NULL), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_BINARY, "{nope", 5), 0);
    assert_null(ceb_event_data_json(ev));
    assert_null(ceb_event_data_json(ev));
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_NONE, NULL, 0), 0);
    assert_null(ceb_event_data(ev, &n));
    ceb_event_unref(ev);
}

typedef struct race {
    const ceb_event *ev;
    const ceb_json *seen[200];
} race;

static void *reader(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 200; i++) {
        const ceb_event *e = ceb_event_ref(r->ev);
        r->seen[i] = ceb_event_data_json(e);
        ceb_event_unref(e);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    enum { T = 8 };
    for (int round = 0; round < 20; round++) {
        ceb_event *ev = mk();
        assert_int_equal(ceb_event_set(ev, "datacontenttype", "application/json", NULL), 0);
        assert_int_equal(ceb_event_set_data(ev, CEB_DATA_BINARY, "{\"k\":[1,2,3]}", 13), 0);
        ceb_event_freeze(ev);
        pthread_t th[T];
        race r[T];
        for (int i = 0; i < T; i++) {
            r[i].ev = ev;
            assert_int_equal(pthread_create(&th[i], NULL, reader, &r[i]), 0);
        }
        for (int i = 0; i < T; i++)
            pthread_join(th[i], NULL);
        const ceb_json *one = ceb_event_data_json(ev);
        assert_non_null(one);
        for (int i = 0; i < T; i++)
            for (int k = 0; k < 200; k++)
                assert_ptr_equal(r[i].seen[k], one);
        ceb_event_unref(ev);
    }
}

static void test_time_check(void **state)
{
    (void)state;
    static const char *good[] = {
        "2018-04-05T17:31:00Z", "2018-04-05t17:31:00z", "2020-02-29T23:59:60.123456789+05:30",
        "1999-12-31T00:00:00-00:00", "2000-02-29T00:00:00Z",
    };
    static const char *bad[] = {
        "2018-04-05", "2018-04-05 17:31:00Z", "2018-13-05T17:31:00Z", "2019-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2018-04-31T00:00:00Z", "2018-04-05T24:00:00Z", "2018-04-05T17:31:00",
        "2018-04-05T17:31:00.Z", "2018-04-05T17:31:00+0100", "2018-04-05T17:31:00Zjunk",
        "2018-4-05T17:31:00Z", "", "2018-04-05T17:31:00+24:00",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(ceb_time_check_rfc3339(good[i], strlen(good[i])), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ceb_time_check_rfc3339(bad[i], strlen(bad[i])), CEB_EINVAL);
    char now[40];
    ceb_time_now_rfc3339(now);
    assert_int_equal(strlen(now), 27);
    assert_int_equal(ceb_time_check_rfc3339(now, strlen(now)), 0);
}

static void test_uuid4(void **state)
{
    (void)state;
    char a[37], b[37];
    for (int i = 0; i < 100; i++) {
        ceb_uuid4(a);
        ceb_uuid4(b);
        assert_int_equal(strlen(a), 36);
        assert_string_not_equal(a, b);
        assert_int_equal(a[8], '-');
        assert_int_equal(a[13], '-');
        assert_int_equal(a[14], '4');
        assert_int_equal(a[18], '-');
        assert_non_null(strchr("89ab", a[19]));
        assert_int_equal(a[23], '-');
        for (int k = 0; k < 36; k++)
            assert_non_null(strchr("0123456789abcdef-", a[k]));
    }
}

static void test_wrap(void **state)
{
    (void)state;
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_wrap("{\"x\":1}", 7, "application/json", "t.wrap", "/src", "subj", &ev, &d), 0);
    assert_int_equal(ceb_event_validate(ev, &d), 0);
    assert_int_equal(strlen(ceb_event_id(ev)), 36);
    assert_int_equal(ceb_time_check_rfc3339(ceb_event_time(ev), strlen(ceb_event_time(ev))), 0);
    assert_string_equal(ceb_event_type(ev), "t.wrap");
    assert_string_equal(ceb_event_source(ev), "/src");
    assert_string_equal(ceb_event_subject(ev), "subj");
    assert_string_equal(ceb_event_datacontenttype(ev), "application/json");
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    assert_non_null(ceb_event_data_json(ev));
    ceb_event_unref(ev);

    assert_int_equal(ceb_event_wrap("plain words", 11, NULL, "t", "/s", NULL, &ev, &d), 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_TEXT);
    assert_null(ceb_event_datacontenttype(ev));
    assert_null(ceb_event_subject(ev));
    ceb_event_unref(ev);

    assert_int_equal(ceb_event_wrap("\xff\x00\x01", 3, "application/octet-stream", "t", "/s", NULL, &ev, &d), 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_BINARY);
    ceb_event_unref(ev);

    /* declared JSON that does not parse keeps its bytes as binary */
    assert_int_equal(ceb_event_wrap("{oops", 5, "application/json", "t", "/s", NULL, &ev, &d), 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_BINARY);
    ceb_event_unref(ev);

    ev = NULL;
    assert_int_equal(ceb_event_wrap("x", 1, NULL, "", "/s", NULL, &ev, &d), CEB_EINVAL);
    assert_string_equal(d.field, "type");
    assert_string_equal(d.message, "cannot wrap a payload: type is empty");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_event_wrap("x", 1, NULL, "t", NULL, NULL, &ev, &d), CEB_EINVAL);
    assert_string_equal(d.message, "cannot wrap a payload: source is empty");
    assert_null(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_context),
        cmocka_unit_test(test_context_errors),
        cmocka_unit_test(test_attr_names),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_freeze_clone_refs),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_time_check),
        cmocka_unit_test(test_uuid4),
        cmocka_unit_test(test_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
