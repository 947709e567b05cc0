/* Unit tests: sdk/src/codec_json.c (JSON event format, batch, normalization). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cebridge/codec.h>
#include <cebridge/errors.h>
#include <cebridge/event.h>
#include <cebridge/json.h>

#define S(lit) (lit), (sizeof(lit) - 1)

static const char ex_json[] =
    "{\"specversion\":\"1.0\",\"type\":\"com.example.someevent\",\"source\":\"/mycontext\","
    "\"subject\":null,\"id\":\"C234-1234-1234\",\"time\":\"2018-04-05T17:31:00Z\","
    "\"comexampleextension1\":\"value\",\"comexampleothervalue\":5,"
    "\"datacontenttype\":\"application/json\","
    "\"data\":{\"appinfoA\":\"abc\",\"appinfoB\":123,\"appinfoC\":true}}";

static ceb_event *decode_ok(const char *text, ceb_decode_opts *o)
{
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    int rc = ceb_codec_json_decode(text, strlen(text), o, &ev, &d);
    if (rc != 0)
        fail_msg("decode failed: %s: %s: %s", ceb_err_name(rc), d.field, d.message);
    return ev;
}

/* Decode `text`, expect `code`, a field and a message. */
static void decode_bad(const char *text, ceb_decode_opts *o, int code, const char *field, const char *msg)
{
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    int rc = ceb_codec_json_decode(text, strlen(text), o, &ev, &d);
    if (rc != code)
        fail_msg("for %s: expected %s, got %s (%s: %s)", text, ceb_err_name(code), ceb_err_name(rc),
                 d.field, d.message);
    assert_null(ev);
    assert_int_equal(d.code, code);
    assert_string_equal(d.field, field);
    assert_string_equal(d.message, msg);
}

static void test_decode_spec_example(void **state)
{
    (void)state;
    ceb_event *ev = decode_ok(ex_json, NULL);
    assert_string_equal(ceb_event_id(ev), "C234-1234-1234");
    assert_string_equal(ceb_event_source(ev), "/mycontext");
    assert_null(ceb_event_subject(ev));          /* null = unset */
    ceb_attr a;
    assert_int_equal(ceb_event_attr(ev, "comexampleothervalue", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_INTEGER);
    assert_int_equal(a.i, 5);
    assert_int_equal(ceb_event_attr(ev, "comexampleextension1", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_STRING);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    size_t n;
    const char *data = ceb_event_data(ev, &n);
    assert_string_equal(data, "{\"appinfoA\":\"abc\",\"appinfoB\":123,\"appinfoC\":true}");
    const ceb_json *j = ceb_event_data_json(ev);
    assert_string_equal(ceb_json_string(ceb_json_get(j, "appinfoA")), "abc");

    ceb_buf out = {0};
    assert_int_equal(ceb_codec_json_encode(ev, &out), 0);
    assert_string_equal(out.data,
        "{\"id\":\"C234-1234-1234\",\"source\":\"/mycontext\",\"specversion\":\"1.0\","
        "\"type\":\"com.example.someevent\",\"datacontenttype\":\"application/json\","
        "\"time\":\"2018-04-05T17:31:00Z\",\"comexampleextension1\":\"value\",\"comexampleothervalue\":5,"
        "\"data\":{\"appinfoA\":\"abc\",\"appinfoB\":123,\"appinfoC\":true}}");
    /* and back again: the same encoding */
    ceb_event *ev2 = decode_ok(out.data, NULL);
    ceb_buf out2 = {0};
    assert_int_equal(ceb_codec_json_encode(ev2, &out2), 0);
    assert_string_equal(out.data, out2.data);
    ceb_buf_free(&out);
    ceb_buf_free(&out2);
    ceb_event_unref(ev);
    ceb_event_unref(ev2);
}

static void test_data_kinds(void **state)
{
    (void)state;
    size_t n;
    /* a string under a non-JSON type is text */
    ceb_event *ev = decode_ok("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                              "\"datacontenttype\":\"application/xml\",\"data\":\"<much wow=\\\"xml\\\"/>\"}", NULL);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_TEXT);
    assert_string_equal(ceb_event_data(ev, &n), "<much wow=\"xml\"/>");
    ceb_buf out = {0};
    assert_int_equal(ceb_codec_json_encode(ev, &out), 0);
    assert_non_null(strstr(out.data, ",\"data\":\"<much wow=\\\"xml\\\"/>\"}"));
    ceb_buf_free(&out);
    ceb_event_unref(ev);

    /* no datacontenttype: data is JSON; a string stays a JSON string, not re-parsed */
    ev = decode_ok("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":\"{\\\"a\\\":1}\"}", NULL);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    assert_string_equal(ceb_event_data(ev, &n), "\"{\\\"a\\\":1}\"");
    assert_int_equal(ceb_json_type_of(ceb_event_data_json(ev)), CEB_JSON_STRING);
    ceb_event_unref(ev);

    /* explicit null payload */
    ev = decode_ok("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":null}", NULL);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    assert_string_equal(ceb_event_data(ev, &n), "null");
    ceb_event_unref(ev);

    /* data_base64 -> binary, and back */
    ev = decode_ok("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                   "\"datacontenttype\":\"application/vnd.apache.thrift.binary\",\"data_base64\":\"AP8BAg==\"}", NULL);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_BINARY);
    const unsigned char *b = ceb_event_data(ev, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(b, "\x00\xff\x01\x02", 4);
    assert_int_equal(ceb_codec_json_encode(ev, &out), 0);
    assert_non_null(strstr(out.data, ",\"data_base64\":\"AP8BAg==\"}"));
    ceb_buf_free(&out);
    ceb_event_unref(ev);
}

static void test_encode_rules(void **state)
{
    (void)state;
    ceb_event *ev;
    ceb_buf out = {0};
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "x\"1", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/s", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "t", NULL), 0);
    assert_int_equal(ceb_event_set_bool(ev, "flag", false, NULL), 0);
    assert_int_equal(ceb_event_set_int(ev, "n", -7, NULL), 0);
    /* JSON data keeps its numbers byte for byte and loses its whitespace */
    const char big[] = "{ \"id\" : 12345678901234567890 ,\n \"s\": \"a b\\\" c\" }";
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, big, sizeof big - 1), 0);
    assert_int_equal(ceb_codec_json_encode(ev, &out), 0);
    assert_string_equal(out.data, "{\"id\":\"x\\\"1\",\"source\":\"/s\",\"specversion\":\"1.0\",\"type\":\"t\","
                                  "\"flag\":false,\"n\":-7,\"data\":{\"id\":12345678901234567890,\"s\":\"a b\\\" c\"}}");
    /* text that is not UTF-8 cannot be a JSON string: it goes as data_base64 */
    ceb_buf_reset(&out);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_TEXT, "\xff", 1), 0);
    assert_int_equal(ceb_codec_json_encode(ev, &out), 0);
    assert_non_null(strstr(out.data, "\"data_base64\":\"/w==\"}"));
    /* binary under a JSON content type that parses is written as a JSON value */
    ceb_buf_reset(&out);
    assert_int_equal(ceb_event_set(ev, "datacontenttype", "application/json", NULL), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_BINARY, "[1, 2]", 6), 0);
    assert_int_equal(ceb_codec_json_encode(ev, &out), 0);
    assert_non_null(strstr(out.data, "\"data\":[1,2]}"));
    /* batch */
    ceb_buf_reset(&out);
    const ceb_event *two[2] = { ev, ev };
    assert_int_equal(ceb_codec_json_encode_batch(two, 2, &out), 0);
    ceb_event **evs;
    size_t n;
    ceb_diag d = {0};
    assert_int_equal(ceb_codec_json_decode_batch(out.data, out.len, NULL, &evs, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ceb_event_id(evs[1]), "x\"1");
    ceb_events_free(evs, n);
    ceb_buf_reset(&out);
    assert_int_equal(ceb_codec_json_encode_batch(NULL, 0, &out), 0);
    assert_string_equal(out.data, "[]");
    ceb_buf_free(&out);
    ceb_event_unref(ev);
}

static void test_batch_all_or_nothing(void **state)
{
    (void)state;
    ceb_event **evs = (ceb_event **)1;
    size_t n = 99;
    ceb_diag d = {0};
    const char ok[] = "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"},"
                      " {\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\",\"x\":true}]";
    assert_int_equal(ceb_codec_json_decode_batch(S(ok), NULL, &evs, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ceb_event_id(evs[0]), "1");
    assert_string_equal(ceb_event_get(evs[1], "x"), "true");
    ceb_events_free(evs, n);

    const char bad[] = "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"},"
                       "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\"},"
                       "{\"specversion\":\"1.0\",\"id\":\"3\",\"source\":\"/s\",\"type\":\"t\"},"
                       "{\"specversion\":\"1.0\",\"id\":\"4\",\"source\":\"\",\"type\":\"t\"}]";
    assert_int_equal(ceb_codec_json_decode_batch(S(bad), NULL, &evs, &n, &d), CEB_ESPEC);
    assert_null(evs);
    assert_int_equal(n, 0);
    assert_string_equal(d.field, "[3].source");
    assert_string_equal(d.message, "required attribute 'source' is empty");

    ceb_diag_clear(&d);
    assert_int_equal(ceb_codec_json_decode_batch(S("[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}, 7]"),
                                                 NULL, &evs, &n, &d), CEB_EDECODE);
    assert_string_equal(d.field, "[1]");
    assert_string_equal(d.message, "not a JSON object, so not a structured CloudEvent");

    ceb_diag_clear(&d);
    assert_int_equal(ceb_codec_json_decode_batch(S("{}"), NULL, &evs, &n, &d), CEB_EDECODE);
    assert_string_equal(d.message, "not a JSON array, so not a CloudEvents batch");

    /* repair across a batch reports the union of repairs */
    ceb_decode_opts o = { .strict = false, .default_source = "/default" };
    ceb_diag_clear(&d);
    assert_int_equal(ceb_codec_json_decode_batch(S("[{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"},"
                                                   "{\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\"}]"),
                                                 &o, &evs, &n, &d), 0);
    assert_int_equal(o.repaired, CEB_REPAIRED_SOURCE | CEB_REPAIRED_SPECVERSION);
    assert_string_equal(ceb_event_source(evs[0]), "/default");
    ceb_events_free(evs, n);

    assert_int_equal(ceb_codec_json_decode_batch(S("[]"), NULL, &evs, &n, &d), 0);
    assert_int_equal(n, 0);
    ceb_events_free(evs, n);
}

#define EV(members) "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"" members "}"

static void test_spec_violations_strict(void **state)
{
    (void)state;
    ceb_decode_opts strict = { .strict = true, .default_source = "/d", .default_type = "dt" };
    decode_bad("{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", &strict, CEB_ESPEC, "id",
               "required attribute 'id' is missing");
    decode_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}", &strict, CEB_ESPEC, "source",
               "required attribute 'source' is missing");
    decode_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\",\"type\":\"t\"}", &strict, CEB_ESPEC, "source",
               "required attribute 'source' is empty");
    decode_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\"}", &strict, CEB_ESPEC, "type",
               "required attribute 'type' is missing");
    decode_bad("{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", &strict, CEB_ESPEC, "specversion",
               "required attribute 'specversion' is missing");
    decode_bad("{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", &strict, CEB_ESPEC,
               "specversion", "specversion must be \"1.0\", got \"0.3\"");
    decode_bad("{\"specversion\":1.0,\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", &strict, CEB_ESPEC,
               "specversion", "attribute 'specversion' must be a string");
    decode_bad("{\"specversion\":\"1.0\",\"id\":7,\"source\":\"/s\",\"type\":\"t\"}", &strict, CEB_ESPEC, "id",
               "attribute 'id' must be a string");
    decode_bad(EV(",\"time\":\"yesterday\""), &strict, CEB_ESPEC, "time",
               "attribute 'time' is not an RFC 3339 timestamp: \"yesterday\"");
    decode_bad(EV(",\"time\":12"), &strict, CEB_ESPEC, "time",
               "attribute 'time' must be an RFC 3339 timestamp string");
    decode_bad(EV(",\"dataschema\":\"no scheme\""), &strict, CEB_ESPEC, "dataschema",
               "value of 'dataschema' is not an absolute URI: \"no scheme\"");
    decode_bad(EV(",\"subject\":\"\""), &strict, CEB_ESPEC, "subject", "attribute 'subject' must not be empty");
    decode_bad(EV(",\"data\":1,\"data_base64\":\"AA==\""), &strict, CEB_ESPEC, "data_base64",
               "'data' and 'data_base64' are mutually exclusive");
    decode_bad(EV(",\"data_base64\":\"A\""), &strict, CEB_ESPEC, "data_base64", "'data_base64' is not valid base64");
    decode_bad(EV(",\"data_base64\":5"), &strict, CEB_ESPEC, "data_base64", "'data_base64' must be a string");
    decode_bad(EV(",\"Bad_Name\":\"x\""), &strict, CEB_ESPEC, "Bad_Name",
               "invalid attribute name \"Bad_Name\": only lower-case letters a-z and digits 0-9 are allowed");
    decode_bad(EV(",\"MyExt\":\"x\""), &strict, CEB_ESPEC, "MyExt",
               "invalid attribute name \"MyExt\": only lower-case letters a-z and digits 0-9 are allowed");
    decode_bad(EV(",\"obj\":{\"a\":1}"), &strict, CEB_ESPEC, "obj",
               "extension 'obj' must be a string, number or boolean, not an object");
    decode_bad(EV(",\"arr\":[1]"), &strict, CEB_ESPEC, "arr",
               "extension 'arr' must be a string, number or boolean, not an array");
    decode_bad(EV(",\"ratio\":1.5"), &strict, CEB_ESPEC, "ratio",
               "extension 'ratio' is 1.5, not a CloudEvents Integer (a whole number within int32)");
    decode_bad(EV(",\"big\":2147483648"), &strict, CEB_ESPEC, "big",
               "extension 'big' is 2147483648, not a CloudEvents Integer (a whole number within int32)");
    decode_bad(EV(",\"id\":\"2\""), &strict, CEB_ESPEC, "id", "attribute 'id' is given more than once");
    decode_bad(EV(",\"x\":\"a\",\"x\":\"b\""), &strict, CEB_ESPEC, "x", "attribute 'x' is given more than once");
    decode_bad(EV(",\"x\":1,\"x\":2"), &strict, CEB_ESPEC, "x", "attribute 'x' is given more than once");
    /* NULL opts is strict without defaults */
    decode_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}", NULL, CEB_ESPEC, "source",
               "required attribute 'source' is missing");

    /* extension typing that is valid */
    ceb_event *ev = decode_ok(EV(",\"i\":-2147483648,\"b\":false,\"s\":\"\",\"n\":null"), &strict);
    ceb_attr a;
    assert_int_equal(ceb_event_attr(ev, "i", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_INTEGER);
    assert_int_equal(a.i, INT32_MIN);
    assert_int_equal(ceb_event_attr(ev, "b", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_BOOLEAN);
    assert_false(a.b);
    assert_int_equal(ceb_event_attr(ev, "s", &a), 0);   /* an empty String extension is kept */
    assert_int_equal(a.len, 0);
    assert_int_equal(ceb_event_attr(ev, "n", &a), CEB_ENOENT);
    assert_int_equal(strict.repaired, 0);
    ceb_event_unref(ev);
}

static void test_repair(void **state)
{
    (void)state;
    ceb_decode_opts o = { .strict = false, .default_source = "/default", .default_type = "dflt.type" };
    ceb_event *ev = decode_ok("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\",\"type\":\"t\"}", &o);
    assert_int_equal(o.repaired, CEB_REPAIRED_SOURCE);
    assert_string_equal(ceb_event_source(ev), "/default");
    ceb_event_unref(ev);

    ev = decode_ok("{\"source\":\"/s\",\"time\":\"not-a-time\",\"MyExt\":\"v\",\"ratio\":1.5,\"subject\":\"\"}", &o);
    assert_int_equal(o.repaired, CEB_REPAIRED_ID | CEB_REPAIRED_SPECVERSION | CEB_REPAIRED_TYPE |
                                 CEB_REPAIRED_TIME | CEB_REPAIRED_NAME);
    assert_int_equal(strlen(ceb_event_id(ev)), 36);
    assert_string_equal(ceb_event_type(ev), "dflt.type");
    assert_null(ceb_event_time(ev));
    assert_null(ceb_event_subject(ev));
    assert_string_equal(ceb_event_get(ev, "myext"), "v");
    ceb_attr a;
    assert_int_equal(ceb_event_attr(ev, "ratio", &a), 0);
    assert_int_equal(a.type, CEB_ATTR_STRING);
    assert_string_equal(a.text, "1.5");
    ceb_diag d = {0};
    assert_int_equal(ceb_event_validate(ev, &d), 0);
    ceb_event_unref(ev);

    /* nothing to repair from */
    ceb_decode_opts nodef = { .strict = false };
    decode_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\",\"type\":\"t\"}", &nodef, CEB_ESPEC, "source",
               "required attribute 'source' is empty and no default source is configured");
    decode_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\"}", &nodef, CEB_ESPEC, "type",
               "required attribute 'type' is missing and no default type is configured");
    /* not repairable in any mode */
    decode_bad("{\"specversion\":\"2.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", &o, CEB_ESPEC,
               "specversion", "specversion must be \"1.0\", got \"2.0\"");
    decode_bad(EV(",\"my-ext\":\"x\""), &o, CEB_ESPEC, "my-ext",
               "invalid attribute name \"my-ext\": only lower-case letters a-z and digits 0-9 are allowed");
    decode_bad(EV(",\"ext\":\"a\",\"EXT\":\"b\""), &o, CEB_ESPEC, "ext", "attribute 'ext' is given more than once");
}

static void test_hostile_input(void **state)
{
    (void)state;
    /* every truncation of a valid event is refused as not JSON */
    size_t full = strlen(ex_json);
    for (size_t n = 0; n < full; n++) {
        ceb_event *ev = NULL;
        ceb_diag d = {0};
        assert_int_equal(ceb_codec_json_decode(ex_json, n, NULL, &ev, &d), CEB_EDECODE);
        assert_null(ev);
        assert_true(strncmp(d.message, "not JSON", 8) == 0 || strcmp(d.message, "empty payload, not JSON") == 0);
    }
    decode_bad("{\"specversion\":\"1.0\"", NULL, CEB_EDECODE, "", "not JSON: unexpected end of input at byte 20");
    decode_bad("", NULL, CEB_EDECODE, "", "empty payload, not JSON");
    decode_bad("[]", NULL, CEB_EDECODE, "", "not a JSON object, so not a structured CloudEvent");
    decode_bad("\"just a string\"", NULL, CEB_EDECODE, "", "not a JSON object, so not a structured CloudEvent");
    decode_bad(EV("") " trailing", NULL, CEB_EDECODE, "", "not JSON: unexpected text after the value at byte 56");
    decode_bad("{\"specversion\":\"1.0\",\"id\":\"\xff\"}", NULL, CEB_EDECODE, "", "not JSON: invalid UTF-8 at byte 27");
    decode_bad("{\"id\":\"\xc0\xaf\"}", NULL, CEB_EDECODE, "", "not JSON: invalid UTF-8 at byte 7");       /* overlong */
    decode_bad("{\"id\":\"\xed\xa0\x80\"}", NULL, CEB_EDECODE, "", "not JSON: invalid UTF-8 at byte 7");   /* surrogate */
    decode_bad("{\"id\":\"\xe2\x82\"}", NULL, CEB_EDECODE, "", "not JSON: invalid UTF-8 at byte 7");       /* cut */
    decode_bad(EV(",\"n\":01"), NULL, CEB_EDECODE, "", "not JSON: invalid number at byte 59");
    decode_bad(EV(",\"data\":[1.]"), NULL, CEB_EDECODE, "", "not JSON: invalid number at byte 63");
    decode_bad(EV(",\"subject\":\"a\tb\""), NULL, CEB_EDECODE, "", "not JSON: control character in a string at byte 67");
    decode_bad("{'id':1}", NULL, CEB_EDECODE, "", "not JSON: syntax error (or nesting deeper than 1000) at byte 2");

    /* deep nesting inside data: refused, no stack overflow */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 200);
    assert_non_null(deep);
    int k = sprintf(deep, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":");
    memset(deep + k, '[', depth);
    memset(deep + k + depth, ']', depth);
    strcpy(deep + k + 2 * depth, "}");
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_codec_json_decode(deep, strlen(deep), NULL, &ev, &d), CEB_EDECODE);
    assert_null(ev);
    /* 900 levels are fine */
    k = sprintf(deep, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":");
    memset(deep + k, '[', 900);
    memset(deep + k + 900, ']', 900);
    strcpy(deep + k + 1800, "}");
    ev = decode_ok(deep, NULL);
    ceb_event_unref(ev);
    free(deep);

    /* valid UTF-8 and escapes round-trip */
    ev = decode_ok(EV(",\"subject\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 \xf0\x9f\x98\x80\""), NULL);
    assert_string_equal(ceb_event_subject(ev), "caf\xc3\xa9 \xc3\xa9 \xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
    ceb_event_unref(ev);
}

static void test_numbers_kept_as_written(void **state)
{
    (void)state;
    size_t n;
    const char in[] = "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"},"
                      " { \"specversion\" : \"1.0\", \"id\":\"2\",\"source\":\"/s\",\"type\":\"t\",\"w\":2.50,"
                      " \"data\" : { \"big\" : 12345678901234567890, \"f\": 1.0, \"e\": 1E400,"
                      " \"s\": \"x } ] \\\" y\" , \"a\": [ 1 , 2 ] } }]";
    ceb_decode_opts o = { .strict = false };
    ceb_event **evs;
    size_t count;
    ceb_diag d = {0};
    assert_int_equal(ceb_codec_json_decode_batch(in, sizeof in - 1, &o, &evs, &count, &d), 0);
    assert_int_equal(count, 2);
    assert_string_equal(ceb_event_data(evs[1], &n),
                        "{\"big\":12345678901234567890,\"f\":1.0,\"e\":1E400,\"s\":\"x } ] \\\" y\",\"a\":[1,2]}");
    assert_string_equal(ceb_event_get(evs[1], "w"), "2.50");   /* repair: a non-Integer number as written */
    assert_non_null(ceb_event_data_json(evs[1]));
    ceb_events_free(evs, count);
}

/* Deterministic mutation smoke test: no crash, no leak, and whatever decodes
   re-encodes to a fixed point. */
static void test_mutations(void **state)
{
    (void)state;
    static const char *seeds[] = {
        ex_json,
        "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data_base64\":\"AAEC\"},"
        "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\",\"x\":-1.5e3,\"data\":\"\\u00e9\"}]",
    };
    static const char alphabet[] = "{}[]\",:\\ 0123456789.-+eEtrufalsn\x80\xc3\xa9\x00";
    uint64_t rng = 0x853c49e6748fea9bull;
    ceb_decode_opts o = { .strict = false, .default_source = "/d", .default_type = "t" };
    for (int round = 0; round < 20000; round++) {
        const char *seed = seeds[round % 2];
        size_t n = strlen(seed);
        char buf[1024];
        memcpy(buf, seed, n);
        int edits = 1 + (int)(rng % 4);
        for (int e = 0; e < edits; e++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % n;
            char ch = alphabet[(rng >> 20) % (sizeof alphabet - 1)];
            switch ((rng >> 12) % 3) {
            case 0: buf[at] = ch; break;                                        /* replace */
            case 1: if (n > 1) { memmove(buf + at, buf + at + 1, n - at - 1); n--; } break;  /* delete */
            default: if (n + 1 < sizeof buf) { memmove(buf + at + 1, buf + at, n - at); buf[at] = ch; n++; }
            }
        }
        ceb_event **evs = NULL;
        size_t count = 0;
        ceb_diag d = {0};
        int rc = ceb_codec_json_decode_batch(buf, n, &o, &evs, &count, &d);
        if (rc != 0) {
            ceb_event *ev = NULL;
            ceb_diag_clear(&d);
            if (ceb_codec_json_decode(buf, n, &o, &ev, &d) != 0) {
                assert_null(ev);
                assert_true(d.message[0] != '\0');
                continue;
            }
            evs = calloc(1, sizeof *evs);
            assert_non_null(evs);
            evs[0] = ev;
            count = 1;
        }
        ceb_buf a = {0}, b = {0};
        assert_int_equal(ceb_codec_json_encode_batch((const ceb_event *const *)evs, count, &a), 0);
        ceb_event **again = NULL;
        size_t count2 = 0;
        ceb_diag_clear(&d);
        if (ceb_codec_json_decode_batch(a.data, a.len, NULL, &again, &count2, &d) != 0)
            fail_msg("re-decode of %s failed: %s: %s", a.data, d.field, d.message);
        assert_int_equal(ceb_codec_json_encode_batch((const ceb_event *const *)again, count2, &b), 0);
        assert_string_equal(a.data, b.data);
        ceb_events_free(evs, count);
        ceb_events_free(again, count2);
        ceb_buf_free(&a);
        ceb_buf_free(&b);
    }
}

static void test_is_event(void **state)
{
    (void)state;
    assert_true(ceb_codec_json_is_event(S(ex_json)));
    assert_true(ceb_codec_json_is_event(S("{\"specversion\":\"0.3\"}")));
    assert_false(ceb_codec_json_is_event(S("{\"id\":\"1\"}")));
    assert_false(ceb_codec_json_is_event(S("[{\"specversion\":\"1.0\"}]")));
    assert_false(ceb_codec_json_is_event(S("{\"specversion\"")));
    assert_false(ceb_codec_json_is_event(S("plain text")));
    assert_false(ceb_codec_json_is_event(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_spec_example),
        cmocka_unit_test(test_data_kinds),
        cmocka_unit_test(test_encode_rules),
        cmocka_unit_test(test_batch_all_or_nothing),
        cmocka_unit_test(test_spec_violations_strict),
        cmocka_unit_test(test_repair),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_numbers_kept_as_written),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_is_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
