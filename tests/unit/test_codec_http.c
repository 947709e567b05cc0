/* Unit tests for sdk/src/codec_http.c (cebridge/codec_http.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <cebridge/cebridge.h>

#define H(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

/* ---- classification ----------------------------------------------------- */

static void test_classify(void **st)
{
    (void)st;
#define C(s) ceb_http_classify(s, sizeof(s) - 1)
    assert_int_equal(ceb_http_classify(NULL, 0), CEB_HTTP_MODE_BINARY);
    assert_int_equal(C("application/json"), CEB_HTTP_MODE_BINARY);
    assert_int_equal(C("text/plain; charset=utf-8"), CEB_HTTP_MODE_BINARY);
    assert_int_equal(C("application/cloudevents+json"), CEB_HTTP_MODE_STRUCTURED);
    assert_int_equal(C("Application/CloudEvents+JSON; charset=UTF-8"), CEB_HTTP_MODE_STRUCTURED);
    assert_int_equal(C("  application/cloudevents+json ;charset=utf-8"), CEB_HTTP_MODE_STRUCTURED);
    assert_int_equal(C("application/cloudevents"), CEB_HTTP_MODE_STRUCTURED);
    assert_int_equal(C("application/cloudevents-batch+json"), CEB_HTTP_MODE_BATCH);
    assert_int_equal(C("APPLICATION/CLOUDEVENTS-BATCH+JSON; charset=utf-8"), CEB_HTTP_MODE_BATCH);
    assert_int_equal(C("application/cloudevents-batch"), CEB_HTTP_MODE_BATCH);
    assert_int_equal(C("application/cloudevents+avro"), CEB_HTTP_MODE_UNSUPPORTED);
    assert_int_equal(C("application/cloudevents-batch+protobuf"), CEB_HTTP_MODE_UNSUPPORTED);
    assert_int_equal(C("application/cloudeventsx"), CEB_HTTP_MODE_BINARY);
    assert_true(ceb_http_ctype_is_json("application/json; charset=utf-8", 31));
    assert_true(ceb_http_ctype_is_json("application/vnd.x+json", 22));
    assert_false(ceb_http_ctype_is_json("text/plain", 10));
#undef C
}

/* ---- header values ------------------------------------------------------ */

static void check_decode(const char *in, const char *want)
{
    ceb_buf out = {0};
    ceb_diag d = {0};
    int rc = ceb_http_value_decode(in, strlen(in), &out, &d);
    if (rc != 0)
        fail_msg("decode '%s': %s", in, d.message);
    assert_string_equal(out.data ? out.data : "", want);
    ceb_buf_free(&out);
}

static void check_decode_fails(const char *in, const char *msg)
{
    ceb_buf out = {0};
    ceb_diag d = {0};
    assert_int_equal(ceb_http_value_decode(in, strlen(in), &out, &d), CEB_EINVAL);
    assert_string_equal(d.message, msg);
    assert_int_equal(out.len, 0);
    ceb_buf_free(&out);
}

static void test_value_decode(void **st)
{
    (void)st;
    check_decode("plain", "plain");
    check_decode("  padded\t", "padded");
    check_decode("Euro%20%E2%82%AC%20%F0%9F%98%80", "Euro \xE2\x82\xAC \xF0\x9F\x98\x80");
    check_decode("lower%e2%82%ac", "lower\xE2\x82\xAC");
    check_decode("%41%42C", "ABC");                       /* unnecessary encoding accepted */
    check_decode("\"quoted value\"", "quoted value");
    check_decode("\"with \\\"escape\\\" and %25\"", "with \"escape\" and %");
    check_decode("\"\"", "");
    check_decode("", "");
    check_decode_fails("%C0%A0", "percent-decoded value is not valid UTF-8 (byte 0)");
    check_decode_fails("ab%4", "invalid percent-encoding at offset 2");
    check_decode_fails("%zz", "invalid percent-encoding at offset 0");
    check_decode_fails("x%0Ay", "decoded value contains control character 0x0a");
    check_decode_fails("\"open", "unterminated or trailing text after a quoted value");
    check_decode_fails("\"a\"b", "unterminated or trailing text after a quoted value");
}

static void check_encode(const char *in, const char *want)
{
    ceb_buf out = {0};
    assert_int_equal(ceb_http_value_encode(in, strlen(in), &out), 0);
    assert_string_equal(out.data, want);
    /* and back */
    ceb_buf back = {0};
    assert_int_equal(ceb_http_value_decode(out.data, out.len, &back, NULL), 0);
    assert_string_equal(back.data ? back.data : "", in);
    ceb_buf_free(&out);
    ceb_buf_free(&back);
}

static void test_value_encode(void **st)
{
    (void)st;
    check_encode("Euro \xE2\x82\xAC \xF0\x9F\x98\x80", "Euro%20%E2%82%AC%20%F0%9F%98%80");
    check_encode("say \"hi\" 100%", "say%20%22hi%22%20100%25");
    check_encode("/ci/run?a=b&c=d", "/ci/run?a=b&c=d");
    check_encode("", "");
    ceb_buf out = {0};   /* control characters are encoded (and refused on decode) */
    assert_int_equal(ceb_http_value_encode("tab\there", 8, &out), 0);
    assert_string_equal(out.data, "tab%09here");
    ceb_buf_free(&out);
}

/* ---- binary decode ------------------------------------------------------ */

static void test_binary_decode(void **st)
{
    (void)st;
    ceb_http_header h[] = {
        H("Host", "x"),
        H("CE-SpecVersion", "1.0"),
        H("ce-id", "1234-1234-1234"),
        H("ce-source", "/mycontext/subcontext"),
        H("ce-type", "com.example.someevent"),
        H("ce-time", "2018-04-05T03:56:24Z"),
        H("ce-subject", "Euro%20%E2%82%AC"),
        H("ce-team", "\"quality eng\""),
        H("Content-Type", "application/json; charset=utf-8"),
    };
    static const char body[] = "{\"a\":1}";
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    int rc = ceb_http_decode_binary(h, sizeof h / sizeof h[0], body, sizeof body - 1, NULL, &ev, &d);
    if (rc != 0)
        fail_msg("%s: %s", d.field, d.message);
    assert_string_equal(ceb_event_id(ev), "1234-1234-1234");
    assert_string_equal(ceb_event_source(ev), "/mycontext/subcontext");
    assert_string_equal(ceb_event_type(ev), "com.example.someevent");
    assert_string_equal(ceb_event_time(ev), "2018-04-05T03:56:24Z");
    assert_string_equal(ceb_event_subject(ev), "Euro \xE2\x82\xAC");
    assert_string_equal(ceb_event_get(ev, "team"), "quality eng");
    assert_string_equal(ceb_event_datacontenttype(ev), "application/json; charset=utf-8");
    size_t len = 0;
    const char *data = ceb_event_data(ev, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(data, body, 7);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    ceb_event_unref(ev);
}

static void test_binary_kinds(void **st)
{
    (void)st;
    ceb_http_header text[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                               H("ce-type", "t"), H("content-type", "text/plain") };
    ceb_event *ev = NULL;
    assert_int_equal(ceb_http_decode_binary(text, 5, "hello", 5, NULL, &ev, NULL), 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_TEXT);
    ceb_event_unref(ev);
    ceb_http_header bad_json[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                                   H("ce-type", "t"), H("content-type", "application/json") };
    assert_int_equal(ceb_http_decode_binary(bad_json, 5, "{nope", 5, NULL, &ev, NULL), 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_BINARY);
    ceb_event_unref(ev);
    /* no body, no content type: no data */
    assert_int_equal(ceb_http_decode_binary(text, 4, NULL, 0, NULL, &ev, NULL), 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_NONE);
    assert_null(ceb_event_datacontenttype(ev));
    ceb_event_unref(ev);
}

static void check_binary_fails(const ceb_http_header *h, size_t nh, int code, const char *field,
                               const char *msg)
{
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_http_decode_binary(h, nh, "x", 1, NULL, &ev, &d), code);
    assert_null(ev);
    assert_string_equal(d.field, field);
    assert_string_equal(d.message, msg);
}

static void test_binary_errors(void **st)
{
    (void)st;
    ceb_http_header none[] = { H("content-type", "application/json") };
    check_binary_fails(none, 1, CEB_EDECODE, "", "no ce-specversion, ce-id, ce-source or ce-type "
                       "header: not a binary-mode CloudEvent");
    ceb_http_header badver[] = { H("ce-specversion", "0.3"), H("ce-id", "1"), H("ce-source", "/s"),
                                 H("ce-type", "t") };
    check_binary_fails(badver, 4, CEB_ESPEC, "specversion", "specversion must be \"1.0\", got \"0.3\"");
    ceb_http_header nover[] = { H("ce-id", "1"), H("ce-source", "/s"), H("ce-type", "t") };
    check_binary_fails(nover, 3, CEB_ESPEC, "specversion",
                       "required attribute 'specversion' is missing (header ce-specversion)");
    ceb_http_header nosrc[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-type", "t") };
    check_binary_fails(nosrc, 3, CEB_ESPEC, "source",
                       "required attribute 'source' is missing or empty (header ce-source)");
    ceb_http_header badpct[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                                 H("ce-type", "t"), H("ce-subject", "a%C0%A0") };
    check_binary_fails(badpct, 5, CEB_ESPEC, "subject",
                       "header ce-subject: percent-decoded value is not valid UTF-8 (byte 1)");
    ceb_http_header dct[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                              H("ce-type", "t"), H("ce-datacontenttype", "text/plain") };
    check_binary_fails(dct, 5, CEB_ESPEC, "datacontenttype", "header ce-datacontenttype is not "
                       "allowed in binary mode: use Content-Type");
    /* Content-Type becomes a String attribute: text only (found by fuzz_http_request) */
    ceb_http_header ctbin[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                                H("ce-type", "t"), H("Content-Type", "text/plain; x=\xa2\xa2") };
    check_binary_fails(ctbin, 5, CEB_ESPEC, "datacontenttype", "header Content-Type is not text "
                       "(control character or invalid UTF-8)");
    ceb_http_header ctctl[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                                H("ce-type", "t"), H("Content-Type", "text/plain\x01") };
    check_binary_fails(ctctl, 5, CEB_ESPEC, "datacontenttype", "header Content-Type is not text "
                       "(control character or invalid UTF-8)");
    ceb_http_header dup[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                              H("ce-type", "t"), H("CE-ID", "2") };
    check_binary_fails(dup, 5, CEB_ESPEC, "id", "header ce-id is given more than once");
    ceb_http_header badtime[] = { H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                                  H("ce-type", "t"), H("ce-time", "yesterday") };
    check_binary_fails(badtime, 5, CEB_ESPEC, "time",
                       "value of 'time' is not an RFC 3339 timestamp: \"yesterday\"");
    ceb_http_header emptyid[] = { H("ce-specversion", "1.0"), H("ce-id", ""), H("ce-source", "/s"),
                                  H("ce-type", "t") };
    check_binary_fails(emptyid, 4, CEB_ESPEC, "id", "required attribute 'id' must not be empty");
}

static void test_binary_lenient(void **st)
{
    (void)st;
    ceb_http_header h[] = { H("ce-type", "t") };
    ceb_decode_opts o = { .strict = false, .default_source = "/default" };
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_http_decode_binary(h, 1, NULL, 0, &o, &ev, &d), 0);
    assert_string_equal(ceb_event_source(ev), "/default");
    assert_int_equal(strlen(ceb_event_id(ev)), 36);
    assert_int_equal(o.repaired, CEB_REPAIRED_SPECVERSION | CEB_REPAIRED_ID | CEB_REPAIRED_SOURCE);
    ceb_event_unref(ev);
}

/* ---- encode ------------------------------------------------------------- */

typedef struct hdrs {
    char lines[32][256];
    size_t n;
} hdrs;

static int collect(void *arg, const char *name, const char *value)
{
    hdrs *h = arg;
    if (h->n == 32)
        return CEB_E2BIG;
    snprintf(h->lines[h->n++], sizeof h->lines[0], "%s: %s", name, value);
    return 0;
}

static void test_binary_roundtrip(void **st)
{
    (void)st;
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "a b", &d), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/src", &d), 0);
    assert_int_equal(ceb_event_set(ev, "type", "dev.tekton.event", &d), 0);
    assert_int_equal(ceb_event_set(ev, "subject", "Euro \xE2\x82\xAC", &d), 0);
    assert_int_equal(ceb_event_set_int(ev, "count", 7, &d), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"x\":1}", 7), 0);
    hdrs h = {0};
    ceb_buf body = {0};
    assert_int_equal(ceb_http_encode_binary(ev, collect, &h, &body), 0);
    assert_int_equal(h.n, 7);
    assert_string_equal(h.lines[0], "ce-id: a%20b");
    assert_string_equal(h.lines[1], "ce-source: /src");
    assert_string_equal(h.lines[2], "ce-specversion: 1.0");
    assert_string_equal(h.lines[3], "ce-type: dev.tekton.event");
    assert_string_equal(h.lines[4], "ce-subject: Euro%20%E2%82%AC");
    assert_string_equal(h.lines[5], "ce-count: 7");
    assert_string_equal(h.lines[6], "Content-Type: application/json");
    assert_string_equal(body.data, "{\"x\":1}");

    /* decode what we encoded */
    ceb_http_header hh[7];
    for (size_t i = 0; i < h.n; i++) {
        char *colon = strchr(h.lines[i], ':');
        hh[i] = (ceb_http_header){ h.lines[i], (size_t)(colon - h.lines[i]), colon + 2,
                                   strlen(colon + 2) };
    }
    ceb_event *back = NULL;
    assert_int_equal(ceb_http_decode_binary(hh, h.n, body.data, body.len, NULL, &back, &d), 0);
    assert_string_equal(ceb_event_id(back), "a b");
    assert_string_equal(ceb_event_subject(back), "Euro \xE2\x82\xAC");
    assert_string_equal(ceb_event_get(back, "count"), "7");
    assert_string_equal(ceb_event_datacontenttype(back), "application/json");
    ceb_event_unref(back);
    ceb_buf_free(&body);
    ceb_event_unref(ev);
}

/* ---- any mode: structured and batch (through the JSON codec) -------------- */

static void test_decode_modes(void **st)
{
    (void)st;
    static const char one[] = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                              "\"data\":{\"k\":true}}";
    ceb_http_header sh[] = { H("Content-Type", "application/cloudevents+json; charset=utf-8") };
    ceb_event **evs = NULL;
    size_t n = 0;
    ceb_http_mode m;
    ceb_diag d = {0};
    int rc = ceb_http_decode(sh, 1, one, sizeof one - 1, NULL, &evs, &n, &m, &d);
    if (rc != 0)
        fail_msg("%s: %s", d.field, d.message);
    assert_int_equal(n, 1);
    assert_int_equal(m, CEB_HTTP_MODE_STRUCTURED);
    assert_string_equal(ceb_event_type(evs[0]), "t");
    ceb_events_free(evs, n);

    /* structured event sent as application/json */
    ceb_http_header jh[] = { H("Content-Type", "application/json") };
    assert_int_equal(ceb_http_decode(jh, 1, one, sizeof one - 1, NULL, &evs, &n, &m, &d), 0);
    assert_int_equal(m, CEB_HTTP_MODE_STRUCTURED);
    ceb_events_free(evs, n);

    /* plain JSON: not a CloudEvent */
    assert_int_equal(ceb_http_decode(jh, 1, "{\"a\":1}", 7, NULL, &evs, &n, &m, &d), CEB_EDECODE);
    assert_null(evs);

    static const char batch[] = "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"},"
                                "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"u\"}]";
    ceb_http_header bh[] = { H("content-type", "application/cloudevents-batch+json") };
    assert_int_equal(ceb_http_decode(bh, 1, batch, sizeof batch - 1, NULL, &evs, &n, &m, &d), 0);
    assert_int_equal(m, CEB_HTTP_MODE_BATCH);
    assert_int_equal(n, 2);
    assert_string_equal(ceb_event_id(evs[1]), "2");
    ceb_events_free(evs, n);

    assert_int_equal(ceb_http_decode(bh, 1, "[]", 2, NULL, &evs, &n, &m, &d), 0);
    assert_int_equal(n, 0);
    ceb_events_free(evs, n);

    static const char half[] = "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"},"
                               "{\"specversion\":\"1.0\",\"id\":\"2\",\"type\":\"u\"}]";
    memset(&d, 0, sizeof d);
    assert_int_equal(ceb_http_decode(bh, 1, half, sizeof half - 1, NULL, &evs, &n, &m, &d), CEB_ESPEC);
    assert_int_equal(n, 0);
    assert_string_equal(d.field, "[1].source");

    ceb_http_header ah[] = { H("content-type", "application/cloudevents+avro") };
    memset(&d, 0, sizeof d);
    assert_int_equal(ceb_http_decode(ah, 1, "x", 1, NULL, &evs, &n, &m, &d), CEB_ENOTSUP);
    assert_string_equal(d.message, "unsupported CloudEvents format \"application/cloudevents+avro\" (only JSON)");
}

static void test_encode_structured_batch(void **st)
{
    (void)st;
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "1", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/s", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "t", NULL), 0);
    hdrs h = {0};
    ceb_buf body = {0};
    assert_int_equal(ceb_http_encode_structured(ev, collect, &h, &body), 0);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.lines[0], "Content-Type: application/cloudevents+json; charset=utf-8");
    assert_true(ceb_codec_json_is_event(body.data, body.len));
    ceb_buf_free(&body);
    const ceb_event *arr[2] = { ev, ev };
    h.n = 0;
    assert_int_equal(ceb_http_encode_batch(arr, 2, collect, &h, &body), 0);
    assert_string_equal(h.lines[0], "Content-Type: application/cloudevents-batch+json; charset=utf-8");
    assert_int_equal(body.data[0], '[');
    ceb_buf_free(&body);
    ceb_event_unref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_value_decode),
        cmocka_unit_test(test_value_encode),
        cmocka_unit_test(test_binary_decode),
        cmocka_unit_test(test_binary_kinds),
        cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_binary_lenient),
        cmocka_unit_test(test_binary_roundtrip),
        cmocka_unit_test(test_decode_modes),
        cmocka_unit_test(test_encode_structured_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
