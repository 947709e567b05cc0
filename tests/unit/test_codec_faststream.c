/* Unit tests for sdk/src/codec_faststream.c (cebridge/codec_faststream.h).
 * Byte vectors are written out by hand from shared/spec/faststream-redis-envelope.md. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/cebridge.h>

#define CE_BODY "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/svc\",\"type\":\"t.x\",\"data\":{\"a\":1}}"

/* A FastStream-written binary envelope: magic, version 1, headers offset 18,
   data offset 20 + headers, one header content-type: application/json. */
static const uint8_t BIN1[] = {
    0x89, 'B', 'I', 'N', '\r', '\n', 0x1a, '\n',   /* identity */
    0x00, 0x01,                                    /* version 1 */
    0x00, 0x00, 0x00, 18,                          /* headers offset */
    0x00, 0x00, 0x00, 20 + 2 + 12 + 2 + 16,        /* data offset = 52 */
    0x00, 0x01,                                    /* one header */
    0x00, 12, 'c', 'o', 'n', 't', 'e', 'n', 't', '-', 't', 'y', 'p', 'e',
    0x00, 16, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'j', 's', 'o', 'n',
    'h', 'e', 'l', 'l', 'o'                        /* body */
};

static void test_binary_decode(void **st)
{
    (void)st;
    ceb_faststream_msg m = {0};
    ceb_diag d = {0};
    assert_true(ceb_faststream_is_binary(BIN1, sizeof BIN1));
    assert_int_equal(ceb_faststream_decode_binary(BIN1, sizeof BIN1, &m, &d), 0);
    assert_int_equal(m.kind, CEB_FASTSTREAM_BINARY);
    assert_int_equal(m.nheaders, 1);
    assert_string_equal(m.headers[0].key, "content-type");
    assert_string_equal(ceb_faststream_msg_header(&m, "Content-Type"), "application/json");
    assert_null(ceb_faststream_msg_header(&m, "correlation_id"));
    assert_int_equal(m.body.len, 5);
    assert_memory_equal(m.body.data, "hello", 5);
    ceb_faststream_msg_free(&m);

    /* zero headers, empty body */
    static const uint8_t empty[] = {0x89, 'B', 'I', 'N', '\r', '\n', 0x1a, '\n', 0, 1,
                                    0, 0, 0, 18, 0, 0, 0, 20, 0, 0};
    assert_int_equal(ceb_faststream_unwrap(empty, sizeof empty, &m, &d), 0);
    assert_int_equal(m.kind, CEB_FASTSTREAM_BINARY);
    assert_int_equal(m.nheaders, 0);
    assert_int_equal(m.body.len, 0);
    ceb_faststream_msg_free(&m);
}

static void expect_bad(const uint8_t *p, size_t n, const char *field, const char *msg)
{
    ceb_faststream_msg m = {0};
    ceb_diag d = {0};
    assert_int_equal(ceb_faststream_unwrap(p, n, &m, &d), CEB_EDECODE);
    assert_int_equal(d.code, CEB_EDECODE);
    assert_string_equal(d.field, field);
    assert_string_equal(d.message, msg);
    assert_null(m.headers);
    assert_null(m.body.data);
}

static void test_binary_hostile(void **st)
{
    (void)st;
    uint8_t b[sizeof BIN1];
    /* every truncation of the header block is an error, never a read past */
    for (size_t n = 8; n < 20; n++) {
        ceb_faststream_msg m = {0};
        ceb_diag d = {0};
        uint8_t *cut = malloc(n);   /* exact size so ASan sees any overread */
        memcpy(cut, BIN1, n);
        assert_int_equal(ceb_faststream_decode_binary(cut, n, &m, &d), CEB_EDECODE);
        free(cut);
    }
    expect_bad(BIN1, 9, "version", "truncated FastStream envelope: no version");
    expect_bad(BIN1, 12, "headers offset", "truncated FastStream envelope: no headers offset");
    expect_bad(BIN1, 16, "data offset", "truncated FastStream envelope: no data offset");
    /* cut inside the headers: the data offset now lies past the end */
    expect_bad(BIN1, 40, "data offset", "data offset 52 past the end of the envelope (40 bytes)");

    memcpy(b, BIN1, sizeof b);
    b[9] = 2;
    expect_bad(b, sizeof b, "version", "unsupported FastStream envelope version 2 (expected 1)");

    memcpy(b, BIN1, sizeof b);
    b[10] = 0xff;   /* headers offset 0xff000012 */
    expect_bad(b, sizeof b, "headers offset",
               "headers offset 4278190098 outside the envelope (18..57)");
    memcpy(b, BIN1, sizeof b);
    b[13] = 4;
    expect_bad(b, sizeof b, "headers offset", "headers offset 4 outside the envelope (18..57)");

    memcpy(b, BIN1, sizeof b);
    b[17] = 19;    /* data offset before header count end */
    expect_bad(b, sizeof b, "data offset", "data offset 19 overlaps the header count at 18");

    memcpy(b, BIN1, sizeof b);
    b[19] = 3;     /* three headers claimed, one present */
    expect_bad(b, sizeof b, "header[1].key",
               "header 1 of 3: key runs past the data offset 52");

    memcpy(b, BIN1, sizeof b);
    b[21] = 200;   /* key length lies */
    expect_bad(b, sizeof b, "header[0].key",
               "header 0 of 1: key runs past the data offset 52");

    memcpy(b, BIN1, sizeof b);
    b[35] = 17;    /* value length one past the data offset */
    expect_bad(b, sizeof b, "header[0].value",
               "header 0 of 1: value runs past the data offset 52");

    memcpy(b, BIN1, sizeof b);
    b[17] = 30;    /* data offset inside the headers: the header no longer fits */
    expect_bad(b, sizeof b, "header[0].key",
               "header 0 of 1: key runs past the data offset 30");

    /* a larger data offset: bytes between the headers and it are skipped */
    memcpy(b, BIN1, sizeof b);
    b[17] = 54;
    ceb_faststream_msg m = {0};
    assert_int_equal(ceb_faststream_decode_binary(b, sizeof b, &m, NULL), 0);
    assert_string_equal(m.body.data, "llo");
    ceb_faststream_msg_free(&m);

    /* not binary at all */
    ceb_diag d = {0};
    assert_int_equal(ceb_faststream_decode_binary("hello", 5, &m, &d), CEB_EDECODE);
    assert_string_equal(d.message, "not a FastStream binary envelope: no identity header");
}

static void test_binary_roundtrip(void **st)
{
    (void)st;
    ceb_faststream_header h[2] = {
        {"content-type", 12, "application/json", 16},
        {"correlation_id", 14, "abc", 3},
    };
    ceb_buf out = {0};
    assert_int_equal(ceb_faststream_encode_binary("hello", 5, h, 1, &out), 0);
    assert_int_equal(out.len, sizeof BIN1);
    assert_memory_equal(out.data, BIN1, sizeof BIN1);
    ceb_buf_reset(&out);
    assert_int_equal(ceb_faststream_encode_binary("xy", 2, h, 2, &out), 0);
    ceb_faststream_msg m = {0};
    assert_int_equal(ceb_faststream_decode_binary(out.data, out.len, &m, NULL), 0);
    assert_int_equal(m.nheaders, 2);
    assert_string_equal(ceb_faststream_msg_header(&m, "correlation_id"), "abc");
    assert_string_equal(m.body.data, "xy");
    ceb_faststream_msg_free(&m);

    /* a header too long for its u16 length */
    char *big = calloc(70000, 1);
    ceb_faststream_header hb = {"k", 1, big, 70000};
    assert_int_equal(ceb_faststream_encode_binary("", 0, &hb, 1, &out), CEB_E2BIG);
    free(big);
    ceb_buf_free(&out);
}

static void test_json_envelope(void **st)
{
    (void)st;
    const char *env = "{\"data\":\"{\\\"specversion\\\":\\\"1.0\\\"}\",\"headers\":"
                      "{\"content-type\":\"application/json\",\"correlation_id\":\"c-1\","
                      "\"n\":3}}";
    ceb_faststream_msg m = {0};
    ceb_diag d = {0};
    assert_int_equal(ceb_faststream_unwrap(env, strlen(env), &m, &d), 0);
    assert_int_equal(m.kind, CEB_FASTSTREAM_JSON);
    assert_string_equal(m.body.data, "{\"specversion\":\"1.0\"}");
    assert_int_equal(m.nheaders, 3);
    assert_string_equal(ceb_faststream_msg_header(&m, "correlation_id"), "c-1");
    assert_string_equal(ceb_faststream_msg_header(&m, "n"), "3");
    ceb_faststream_msg_free(&m);

    /* legacy: no headers */
    assert_int_equal(ceb_faststream_unwrap("{\"data\":\"x\"}", 12, &m, &d), 0);
    assert_int_equal(m.kind, CEB_FASTSTREAM_JSON);
    assert_int_equal(m.nheaders, 0);
    assert_string_equal(m.body.data, "x");
    ceb_faststream_msg_free(&m);

    /* data not a string -> not an envelope -> raw */
    assert_int_equal(ceb_faststream_unwrap("{\"data\":{}}", 11, &m, &d), 0);
    assert_int_equal(m.kind, CEB_FASTSTREAM_RAW);
    assert_string_equal(m.body.data, "{\"data\":{}}");
    ceb_faststream_msg_free(&m);

    assert_int_equal(ceb_faststream_decode_json("{\"data\":1}", 10, &m, &d), CEB_EDECODE);
    assert_string_equal(d.field, "data");
    assert_string_equal(d.message, "not a FastStream JSON envelope: no string member \"data\"");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_faststream_decode_json("{\"data\":\"\",\"headers\":[]}", 24, &m, &d),
                     CEB_EDECODE);
    assert_string_equal(d.message, "FastStream JSON envelope: \"headers\" is not an object");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_faststream_decode_json("[1]", 3, &m, &d), CEB_EDECODE);
    assert_string_equal(d.message, "not a FastStream JSON envelope: not a JSON object");

    /* raw bytes */
    assert_int_equal(ceb_faststream_unwrap("plain", 5, &m, &d), 0);
    assert_int_equal(m.kind, CEB_FASTSTREAM_RAW);
    assert_int_equal(m.body.len, 5);
    ceb_faststream_msg_free(&m);

    /* encode -> decode */
    ceb_faststream_header h = {"content-type", 12, "text/plain", 10};
    ceb_buf out = {0};
    assert_int_equal(ceb_faststream_encode_json("a\"b\n", 4, &h, 1, &out), 0);
    assert_string_equal(out.data,
                        "{\"data\":\"a\\\"b\\n\",\"headers\":{\"content-type\":\"text/plain\"}}");
    assert_int_equal(ceb_faststream_decode_json(out.data, out.len, &m, NULL), 0);
    assert_string_equal(m.body.data, "a\"b\n");
    ceb_faststream_msg_free(&m);
    ceb_buf_reset(&out);
    assert_int_equal(ceb_faststream_encode_json("\xff", 1, NULL, 0, &out), CEB_EINVAL);
    ceb_buf_free(&out);
}

static void test_msg_to_event(void **st)
{
    (void)st;
    ceb_faststream_wrap w = {"com.example.raw", "redis://x/main", NULL};
    ceb_faststream_msg m = {0};
    ceb_event *ev = NULL;
    bool wrapped = true;
    ceb_diag d = {0};

    /* binary envelope around a structured CloudEvent */
    ceb_faststream_header h = {"content-type", 12, "application/json", 16};
    ceb_buf b = {0};
    assert_int_equal(ceb_faststream_encode_binary(CE_BODY, strlen(CE_BODY), &h, 1, &b), 0);
    assert_int_equal(ceb_faststream_unwrap(b.data, b.len, &m, &d), 0);
    assert_int_equal(ceb_faststream_msg_to_event(&m, NULL, &w, &ev, &wrapped, &d), 0);
    assert_false(wrapped);
    assert_string_equal(ceb_event_id(ev), "e1");
    assert_string_equal(ceb_event_type(ev), "t.x");
    ceb_event_unref(ev);
    ceb_faststream_msg_free(&m);
    ceb_buf_free(&b);

    /* JSON envelope around plain JSON: wrapped, content type kept */
    const char *env = "{\"data\":\"{\\\"k\\\":2}\",\"headers\":{\"content-type\":\"application/json\"}}";
    assert_int_equal(ceb_faststream_unwrap(env, strlen(env), &m, &d), 0);
    assert_int_equal(ceb_faststream_msg_to_event(&m, NULL, &w, &ev, &wrapped, &d), 0);
    assert_true(wrapped);
    assert_string_equal(ceb_event_type(ev), "com.example.raw");
    assert_string_equal(ceb_event_datacontenttype(ev), "application/json");
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    ceb_event_unref(ev);
    ceb_faststream_msg_free(&m);

    /* strict: an event-shaped body that breaks the spec is refused */
    const char *bad = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\",\"type\":\"t\"}";
    assert_int_equal(ceb_faststream_unwrap(bad, strlen(bad), &m, &d), 0);
    ceb_decode_opts o = {.strict = true};
    assert_int_equal(ceb_faststream_msg_to_event(&m, &o, &w, &ev, NULL, &d), CEB_ESPEC);
    assert_string_equal(d.field, "source");
    ceb_faststream_msg_free(&m);

    /* encode_event round trip, both envelopes */
    ceb_event *src = NULL;
    assert_int_equal(ceb_codec_json_decode(CE_BODY, strlen(CE_BODY), NULL, &src, NULL), 0);
    for (int js = 0; js < 2; js++) {
        ceb_buf e = {0};
        assert_int_equal(ceb_faststream_encode_event(src, js == 1, &e), 0);
        assert_int_equal(ceb_faststream_is_binary(e.data, e.len), js == 0);
        assert_int_equal(ceb_faststream_unwrap(e.data, e.len, &m, NULL), 0);
        assert_int_equal(m.kind, js ? CEB_FASTSTREAM_JSON : CEB_FASTSTREAM_BINARY);
        assert_string_equal(ceb_faststream_msg_header(&m, "correlation_id"), "e1");
        assert_int_equal(ceb_faststream_msg_to_event(&m, NULL, &w, &ev, &wrapped, NULL), 0);
        assert_false(wrapped);
        assert_string_equal(ceb_event_source(ev), "/svc");
        ceb_event_unref(ev);
        ceb_faststream_msg_free(&m);
        ceb_buf_free(&e);
    }
    ceb_event_unref(src);
}

#define F(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static void test_stream_layouts(void **st)
{
    (void)st;
    ceb_stream_field fs[] = {F("__data__", "x"), F("ce_specversion", "1.0"), F("event", "{}")};
    assert_int_equal(ceb_stream_detect(fs, 3, "event"), CEB_STREAM_FASTSTREAM);
    assert_int_equal(ceb_stream_detect(fs + 1, 2, "event"), CEB_STREAM_BINARY);
    assert_int_equal(ceb_stream_detect(fs + 2, 1, "event"), CEB_STREAM_STRUCTURED);
    assert_int_equal(ceb_stream_detect(fs + 2, 1, "other"), CEB_STREAM_FIELDS);
    assert_int_equal(ceb_stream_detect(fs + 2, 1, NULL), CEB_STREAM_FIELDS);
    assert_int_equal(ceb_stream_detect(NULL, 0, "event"), CEB_STREAM_FIELDS);

    ceb_stream_field bin[] = {F("ce_specversion", "1.0"), F("ce_id", "42"),
                              F("ce_source", "/s"), F("ce_type", "t.y"),
                              F("ce_traceparent", "00-ab"), F("content-type", "application/json"),
                              F("data", "{\"v\":[1,2]}"), F("other", "ignored")};
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_stream_decode_binary(bin, 8, NULL, &ev, &d), 0);
    assert_string_equal(ceb_event_id(ev), "42");
    assert_string_equal(ceb_event_get(ev, "traceparent"), "00-ab");
    assert_string_equal(ceb_event_datacontenttype(ev), "application/json");
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    assert_null(ceb_event_get(ev, "other"));

    /* encode back and decode again: same attributes */
    ceb_stream_entry e = {0};
    assert_int_equal(ceb_stream_encode_binary(ev, &e), 0);
    ceb_stream_field back[16];
    assert_true(e.n <= 16);
    for (size_t i = 0; i < e.n; i++)
        back[i] = ceb_stream_entry_at(&e, i);
    ceb_event *ev2 = NULL;
    assert_int_equal(ceb_stream_decode_binary(back, e.n, NULL, &ev2, &d), 0);
    assert_string_equal(ceb_event_get(ev2, "traceparent"), "00-ab");
    size_t l1, l2;
    const void *d1 = ceb_event_data(ev, &l1), *d2 = ceb_event_data(ev2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(d1, d2, l1);
    ceb_event_unref(ev2);

    ceb_stream_entry_reset(&e);
    assert_int_equal(ceb_stream_encode_structured(ev, "event", &e), 0);
    assert_int_equal(e.n, 1);
    ceb_stream_field sf = ceb_stream_entry_at(&e, 0);
    assert_string_equal(sf.name, "event");
    assert_true(ceb_codec_json_is_event(sf.value, sf.value_len));
    ceb_stream_entry_reset(&e);
    assert_int_equal(ceb_stream_encode_faststream(ev, false, &e), 0);
    sf = ceb_stream_entry_at(&e, 0);
    assert_string_equal(sf.name, "__data__");
    assert_true(ceb_faststream_is_binary(sf.value, sf.value_len));
    ceb_stream_entry_free(&e);
    ceb_event_unref(ev);

    /* errors */
    ceb_stream_field nosv[] = {F("ce_id", "1")};
    assert_int_equal(ceb_stream_decode_binary(nosv, 1, NULL, &ev, &d), CEB_EDECODE);
    assert_string_equal(d.message, "no ce_specversion field: not a binary-layout CloudEvent");
    ceb_diag_clear(&d);
    ceb_stream_field v2[] = {F("ce_specversion", "0.3"), F("ce_id", "1")};
    assert_int_equal(ceb_stream_decode_binary(v2, 2, NULL, &ev, &d), CEB_ESPEC);
    assert_string_equal(d.message, "specversion must be \"1.0\", got \"0.3\"");
    ceb_diag_clear(&d);
    ceb_stream_field dup[] = {F("ce_specversion", "1.0"), F("ce_id", "1"), F("ce_id", "2")};
    assert_int_equal(ceb_stream_decode_binary(dup, 3, NULL, &ev, &d), CEB_ESPEC);
    assert_string_equal(d.message, "field ce_id is given more than once");
    ceb_diag_clear(&d);
    ceb_stream_field miss[] = {F("ce_specversion", "1.0"), F("ce_id", "1"), F("ce_type", "t")};
    assert_int_equal(ceb_stream_decode_binary(miss, 3, NULL, &ev, &d), CEB_ESPEC);
    assert_string_equal(d.field, "source");
    assert_string_equal(d.message, "required attribute 'source' is missing or empty (field ce_source)");
    ceb_decode_opts o = {.strict = false, .default_source = "redis://h/s"};
    ceb_diag_clear(&d);
    assert_int_equal(ceb_stream_decode_binary(miss, 3, &o, &ev, &d), 0);
    assert_string_equal(ceb_event_source(ev), "redis://h/s");
    assert_true(o.repaired & CEB_REPAIRED_SOURCE);
    ceb_event_unref(ev);
    ceb_diag_clear(&d);
    ceb_stream_field dct[] = {F("ce_specversion", "1.0"), F("ce_datacontenttype", "x/y")};
    assert_int_equal(ceb_stream_decode_binary(dct, 2, NULL, &ev, &d), CEB_ESPEC);
    assert_string_equal(d.message, "field ce_datacontenttype is not allowed in binary layout: "
                        "use content-type");
}

static void test_fields_json(void **st)
{
    (void)st;
    ceb_stream_field f[] = {F("user", "ann"), F("n", "1\"2")};
    ceb_buf b = {0};
    ceb_diag d = {0};
    assert_int_equal(ceb_stream_fields_to_json(f, 2, &b, &d), 0);
    assert_string_equal(b.data, "{\"user\":\"ann\",\"n\":\"1\\\"2\"}");
    ceb_buf_reset(&b);
    ceb_stream_field bad[] = {F("blob", "\xc0\xa0")};
    assert_int_equal(ceb_stream_fields_to_json(bad, 1, &b, &d), CEB_EINVAL);
    assert_string_equal(d.message, "field \"blob\": value is not valid UTF-8 (byte 0)");
    ceb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_decode),
        cmocka_unit_test(test_binary_hostile),
        cmocka_unit_test(test_binary_roundtrip),
        cmocka_unit_test(test_json_envelope),
        cmocka_unit_test(test_msg_to_event),
        cmocka_unit_test(test_stream_layouts),
        cmocka_unit_test(test_fields_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
