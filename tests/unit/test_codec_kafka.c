/* Unit tests for sdk/src/codec_kafka.c (cebridge/codec_kafka.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <cebridge/cebridge.h>
#include <cebridge/codec_kafka.h>

#define H(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }
static size_t slen(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}
#define MSG(hs, k, v) { hs, sizeof(hs) / sizeof(hs[0]), k, slen(k), v, slen(v) }

static ceb_event *decode_ok(const ceb_kafka_message *m, unsigned flags, ceb_decode_opts *o,
                            ceb_kafka_mode want_mode)
{
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    ceb_kafka_mode mode;
    int rc = ceb_kafka_decode(m, flags, o, &ev, &mode, &d);
    if (rc != 0)
        fail_msg("decode: %s: %s", d.field, d.message);
    assert_int_equal(mode, want_mode);
    return ev;
}

static void decode_fails(const ceb_kafka_message *m, ceb_decode_opts *o, int code,
                         const char *field, const char *msg)
{
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_kafka_decode(m, 0, o, &ev, NULL, &d), code);
    assert_null(ev);
    assert_string_equal(d.field, field);
    assert_string_equal(d.message, msg);
}

/* ---- classification ------------------------------------------------------ */

static void test_classify(void **st)
{
    (void)st;
    ceb_kafka_header none[] = {H("x", "y")};
    ceb_kafka_header js[] = {H("content-type", "application/json")};
    ceb_kafka_header ce[] = {H("Content-Type", " Application/CloudEvents+JSON; charset=UTF-8")};
    ceb_kafka_header bare[] = {H("content-type", "application/cloudevents")};
    ceb_kafka_header avro[] = {H("content-type", "application/cloudevents+avro")};
    ceb_kafka_header x[] = {H("content-type", "application/cloudeventsx")};
    assert_int_equal(ceb_kafka_classify(NULL, 0), CEB_KAFKA_MODE_BINARY);
    assert_int_equal(ceb_kafka_classify(none, 1), CEB_KAFKA_MODE_BINARY);
    assert_int_equal(ceb_kafka_classify(js, 1), CEB_KAFKA_MODE_BINARY);
    assert_int_equal(ceb_kafka_classify(ce, 1), CEB_KAFKA_MODE_STRUCTURED);
    assert_int_equal(ceb_kafka_classify(bare, 1), CEB_KAFKA_MODE_STRUCTURED);
    assert_int_equal(ceb_kafka_classify(avro, 1), CEB_KAFKA_MODE_UNSUPPORTED);
    assert_int_equal(ceb_kafka_classify(x, 1), CEB_KAFKA_MODE_BINARY);
    ceb_kafka_header b[] = {H("a", "1"), H("CE_TYPE", "t")};
    assert_true(ceb_kafka_is_binary_event(b, 2));
    assert_false(ceb_kafka_is_binary_event(js, 1));
    assert_ptr_equal(ceb_kafka_header_find(b, 2, "ce_type"), &b[1]);
    assert_null(ceb_kafka_header_find(b, 2, "ce_id"));
}

/* ---- binary mode ----------------------------------------------------------- */

static void test_decode_binary(void **st)
{
    (void)st;
    ceb_kafka_header hs[] = {
        H("ce_specversion", "1.0"), H("ce_type", "com.example.someevent"),
        H("ce_source", "/mycontext/subcontext"), H("ce_id", "1234-1234-1234"),
        H("ce_time", "2018-04-05T03:56:24Z"), H("ce_traceparent", "00-ab"),
        H("content-type", "application/json"), H("other", "ignored")};
    ceb_kafka_message m = MSG(hs, "mykey", "{\"a\": 1}");
    ceb_event *ev = decode_ok(&m, 0, NULL, CEB_KAFKA_MODE_BINARY);
    assert_string_equal(ceb_event_type(ev), "com.example.someevent");
    assert_string_equal(ceb_event_source(ev), "/mycontext/subcontext");
    assert_string_equal(ceb_event_id(ev), "1234-1234-1234");
    assert_string_equal(ceb_event_time(ev), "2018-04-05T03:56:24Z");
    assert_string_equal(ceb_event_get(ev, "traceparent"), "00-ab");
    assert_string_equal(ceb_event_datacontenttype(ev), "application/json");
    assert_null(ceb_event_get(ev, "other"));
    assert_null(ceb_event_get(ev, "partitionkey")); /* flag not given */
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    size_t len;
    const char *data = ceb_event_data(ev, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(data, "{\"a\": 1}", 8);
    ceb_event_unref(ev);

    /* text and opaque values; no value at all */
    ceb_kafka_header ht[] = {H("ce_specversion", "1.0"), H("ce_type", "t"), H("ce_source", "s"),
                             H("ce_id", "1"), H("content-type", "text/plain")};
    ceb_kafka_message mt = MSG(ht, NULL, "hello");
    ev = decode_ok(&mt, 0, NULL, CEB_KAFKA_MODE_BINARY);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_TEXT);
    ceb_event_unref(ev);
    ceb_kafka_message mn = MSG(ht, NULL, NULL);
    ev = decode_ok(&mn, 0, NULL, CEB_KAFKA_MODE_BINARY);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_NONE);
    ceb_event_unref(ev);
    ceb_kafka_header hb[] = {H("ce_specversion", "1.0"), H("ce_type", "t"), H("ce_source", "s"),
                             H("ce_id", "1")};
    ceb_kafka_message mb = {hb, 4, NULL, 0, "\x00\xff\x01", 3};
    ev = decode_ok(&mb, 0, NULL, CEB_KAFKA_MODE_BINARY);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_BINARY);
    assert_null(ceb_event_datacontenttype(ev));
    ceb_event_unref(ev);
}

static void test_decode_binary_errors(void **st)
{
    (void)st;
    ceb_kafka_header sv[] = {H("ce_specversion", "0.3"), H("ce_type", "t"), H("ce_source", "s"),
                             H("ce_id", "1")};
    ceb_kafka_message m1 = MSG(sv, NULL, NULL);
    decode_fails(&m1, NULL, CEB_ESPEC, "specversion", "specversion must be \"1.0\", got \"0.3\"");

    ceb_kafka_header dct[] = {H("ce_specversion", "1.0"), H("ce_datacontenttype", "x/y")};
    ceb_kafka_message m2 = MSG(dct, NULL, NULL);
    decode_fails(&m2, NULL, CEB_ESPEC, "datacontenttype",
                 "header ce_datacontenttype is not allowed in binary mode: use content-type");

    ceb_kafka_header dup[] = {H("ce_specversion", "1.0"), H("ce_type", "t"), H("ce_type", "u")};
    ceb_kafka_message m3 = MSG(dup, NULL, NULL);
    decode_fails(&m3, NULL, CEB_ESPEC, "type", "header ce_type is given more than once");

    ceb_kafka_header nosrc[] = {H("ce_specversion", "1.0"), H("ce_type", "t"), H("ce_id", "1"),
                                H("ce_source", "")};
    ceb_kafka_message m4 = MSG(nosrc, NULL, NULL);
    decode_fails(&m4, NULL, CEB_ESPEC, "source",
                 "required attribute 'source' is missing or empty (header ce_source)");

    ceb_kafka_header upper[] = {H("ce_specversion", "1.0"), H("ce_Type", "t")};
    ceb_kafka_message m5 = MSG(upper, NULL, NULL);
    decode_fails(&m5, NULL, CEB_ESPEC, "type",
                 "header ce_Type: attribute names are lower-case (ce_type)");

    ceb_kafka_header badutf[] = {H("ce_specversion", "1.0"), H("ce_type", "t\xc0\xa0")};
    ceb_kafka_message m6 = MSG(badutf, NULL, NULL);
    decode_fails(&m6, NULL, CEB_ESPEC, "type", "header ce_type: value is not UTF-8 text (byte 1)");

    ceb_kafka_header nullv[] = {H("ce_specversion", "1.0"), {"ce_id", 5, NULL, 0}};
    ceb_kafka_message m7 = MSG(nullv, NULL, NULL);
    decode_fails(&m7, NULL, CEB_ESPEC, "id", "header ce_id has a null value");

    ceb_kafka_header badname[] = {H("ce_specversion", "1.0"), H("ce_a-b", "x")};
    ceb_kafka_message m8 = MSG(badname, NULL, NULL);
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_kafka_decode(&m8, 0, NULL, &ev, NULL, &d), CEB_ESPEC);
    assert_string_equal(d.field, "a-b");

    ceb_kafka_header nosv[] = {H("ce_type", "t"), H("ce_source", "s"), H("ce_id", "1")};
    ceb_kafka_message m9 = MSG(nosv, NULL, NULL);
    decode_fails(&m9, NULL, CEB_ESPEC, "specversion",
                 "required attribute 'specversion' is missing (header ce_specversion)");
}

static void test_decode_binary_repair(void **st)
{
    (void)st;
    ceb_kafka_header hs[] = {H("ce_TYPE", "t"), H("ce_source", "")};
    ceb_kafka_message m = MSG(hs, NULL, NULL);
    ceb_decode_opts o = {.strict = false, .default_source = "kafka://orders"};
    ceb_event *ev = decode_ok(&m, 0, &o, CEB_KAFKA_MODE_BINARY);
    assert_string_equal(ceb_event_source(ev), "kafka://orders");
    assert_string_equal(ceb_event_type(ev), "t");
    assert_int_equal(strlen(ceb_event_id(ev)), 36);
    assert_int_equal(o.repaired, CEB_REPAIRED_SOURCE | CEB_REPAIRED_ID |
                                 CEB_REPAIRED_SPECVERSION | CEB_REPAIRED_NAME);
    ceb_event_unref(ev);
    /* strict refuses what non-strict repaired */
    ceb_decode_opts so = {.strict = true, .default_source = "kafka://orders"};
    ceb_event *none = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_kafka_decode(&m, 0, &so, &none, NULL, &d), CEB_ESPEC);
    assert_int_equal(so.repaired, 0);
}

/* ---- structured mode and autodetection ------------------------------------- */

static void test_decode_structured(void **st)
{
    (void)st;
    ceb_kafka_header hs[] = {H("content-type", CEB_KAFKA_CT_STRUCTURED)};
    ceb_kafka_message m = MSG(hs, "k1", "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"/s\","
                                        "\"id\":\"9\",\"data\":{\"x\":true}}");
    ceb_event *ev = decode_ok(&m, CEB_KAFKA_KEY_TO_PARTITIONKEY, NULL, CEB_KAFKA_MODE_STRUCTURED);
    assert_string_equal(ceb_event_id(ev), "9");
    assert_string_equal(ceb_event_get(ev, "partitionkey"), "k1");
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    ceb_event_unref(ev);

    /* an event's own partitionkey wins over the record key */
    ceb_kafka_message m2 = MSG(hs, "k1", "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"/s\","
                                         "\"id\":\"9\",\"partitionkey\":\"own\"}");
    ev = decode_ok(&m2, CEB_KAFKA_KEY_TO_PARTITIONKEY, NULL, CEB_KAFKA_MODE_STRUCTURED);
    assert_string_equal(ceb_event_get(ev, "partitionkey"), "own");
    ceb_event_unref(ev);

    ceb_kafka_header avro[] = {H("content-type", "application/cloudevents+avro")};
    ceb_kafka_message m3 = MSG(avro, NULL, "xx");
    decode_fails(&m3, NULL, CEB_ENOTSUP, "",
                 "unsupported CloudEvents format \"application/cloudevents+avro\" (only JSON)");

    ceb_kafka_message m4 = MSG(hs, NULL, "not json");
    ceb_event *none = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_kafka_decode(&m4, 0, NULL, &none, NULL, &d), CEB_EDECODE);
}

/* The outbox case: CloudEvent-shaped JSON, no headers, empty source, keyed. */
static void test_decode_outbox(void **st)
{
    (void)st;
    ceb_kafka_header hs[] = {H("x-origin", "outbox")};
    const char *v = "{\"specversion\":\"1.0\",\"type\":\"ReportResource\",\"source\":\"\","
                    "\"id\":\"e1\",\"data\":{\"resource\":\"r1\"}}";
    ceb_kafka_message m = MSG(hs, "r1", v);
    ceb_decode_opts o = {.strict = false,
                         .default_source = "kafka://outbox.event.kessel.resources"};
    ceb_event *ev = decode_ok(&m, CEB_KAFKA_KEY_TO_PARTITIONKEY, &o, CEB_KAFKA_MODE_STRUCTURED);
    assert_string_equal(ceb_event_source(ev), "kafka://outbox.event.kessel.resources");
    assert_true(o.repaired & CEB_REPAIRED_SOURCE);
    assert_string_equal(ceb_event_get(ev, "partitionkey"), "r1");
    ceb_event_unref(ev);

    ceb_decode_opts so = {.strict = true, .default_source = "kafka://x"};
    ceb_event *none = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_kafka_decode(&m, 0, &so, &none, NULL, &d), CEB_ESPEC);
    assert_string_equal(d.field, "source");
}

static void test_decode_not_an_event(void **st)
{
    (void)st;
    ceb_kafka_header hs[] = {H("content-type", "application/json")};
    ceb_kafka_message m = MSG(hs, "k", "{\"order\": 1}");
    decode_fails(&m, NULL, CEB_EDECODE, "", "not a CloudEvent: no ce_ headers, content-type is "
                 "not application/cloudevents+json and the value is not a JSON event");
    ceb_kafka_message m2 = {NULL, 0, NULL, 0, NULL, 0};
    ceb_event *ev = NULL;
    assert_int_equal(ceb_kafka_decode(&m2, 0, NULL, &ev, NULL, NULL), CEB_EDECODE);
}

static void test_key_binary_is_not_partitionkey(void **st)
{
    (void)st;
    ceb_kafka_header hs[] = {H("ce_specversion", "1.0"), H("ce_type", "t"), H("ce_source", "s"),
                             H("ce_id", "1")};
    ceb_kafka_message m = {hs, 4, "\xff\xfe", 2, NULL, 0};
    ceb_event *ev = decode_ok(&m, CEB_KAFKA_KEY_TO_PARTITIONKEY, NULL, CEB_KAFKA_MODE_BINARY);
    assert_null(ceb_event_get(ev, "partitionkey"));
    ceb_event_unref(ev);
}

/* ---- encode --------------------------------------------------------------- */

typedef struct collected {
    ceb_kafka_header h[32];
    char store[32][2][256];
    size_t n;
    int fail_at;
} collected;

static int collect(void *arg, const char *name, const char *value, size_t len)
{
    collected *c = arg;
    if (c->fail_at >= 0 && (size_t)c->fail_at == c->n)
        return CEB_EIO;
    assert_true(c->n < 32 && len < 256);
    snprintf(c->store[c->n][0], 256, "%s", name);
    memcpy(c->store[c->n][1], value, len);
    c->store[c->n][1][len] = '\0';
    c->h[c->n] = (ceb_kafka_header){c->store[c->n][0], strlen(name), c->store[c->n][1], len};
    c->n++;
    return 0;
}

static ceb_event *sample_event(void)
{
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "42", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/orders", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "order.created", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "partitionkey", "customer-7", NULL), 0);
    assert_int_equal(ceb_event_set_int(ev, "seq", 3, NULL), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"n\":1}", 7), 0);
    return ev;
}

static void test_encode_binary_roundtrip(void **st)
{
    (void)st;
    ceb_event *ev = sample_event();
    collected c = {.fail_at = -1};
    ceb_buf v = {0};
    assert_int_equal(ceb_kafka_encode_binary(ev, collect, &c, &v), 0);
    const ceb_kafka_header *h = ceb_kafka_header_find(c.h, c.n, "ce_partitionkey");
    assert_non_null(h);
    assert_string_equal(h->value, "customer-7");
    assert_string_equal(ceb_kafka_header_find(c.h, c.n, "ce_seq")->value, "3");
    assert_string_equal(ceb_kafka_header_find(c.h, c.n, "content-type")->value,
                        "application/json");
    assert_null(ceb_kafka_header_find(c.h, c.n, "ce_datacontenttype"));
    assert_string_equal(v.data, "{\"n\":1}");
    size_t klen;
    const char *key = ceb_kafka_key(ev, &klen);
    assert_int_equal(klen, 10);
    assert_memory_equal(key, "customer-7", 10);

    ceb_kafka_message m = {c.h, c.n, key, klen, v.data, v.len};
    ceb_event *back = decode_ok(&m, CEB_KAFKA_KEY_TO_PARTITIONKEY, NULL, CEB_KAFKA_MODE_BINARY);
    assert_string_equal(ceb_event_id(back), "42");
    assert_string_equal(ceb_event_type(back), "order.created");
    assert_string_equal(ceb_event_get(back, "partitionkey"), "customer-7");
    assert_string_equal(ceb_event_get(back, "seq"), "3");
    size_t len;
    const void *data = ceb_event_data(back, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(data, "{\"n\":1}", 7);
    ceb_event_unref(back);
    ceb_buf_free(&v);

    /* the header function's error stops the encoder */
    collected f = {.fail_at = 2};
    assert_int_equal(ceb_kafka_encode_binary(ev, collect, &f, NULL), CEB_EIO);
    ceb_event_unref(ev);
}

static void test_encode_no_data_no_key(void **st)
{
    (void)st;
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "1", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "s", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "t", NULL), 0);
    collected c = {.fail_at = -1};
    ceb_buf v = {0};
    assert_int_equal(ceb_kafka_encode_binary(ev, collect, &c, &v), 0);
    assert_int_equal(v.len, 0);
    assert_null(ceb_kafka_header_find(c.h, c.n, "content-type"));
    assert_int_equal(c.n, 4); /* id, source, specversion, type */
    size_t klen = 99;
    assert_null(ceb_kafka_key(ev, &klen));
    assert_int_equal(klen, 0);
    ceb_event_unref(ev);
}

static void test_encode_structured_roundtrip(void **st)
{
    (void)st;
    ceb_event *ev = sample_event();
    collected c = {.fail_at = -1};
    ceb_buf v = {0};
    assert_int_equal(ceb_kafka_encode_structured(ev, collect, &c, &v), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.h[0].name, "content-type");
    assert_string_equal(c.h[0].value, CEB_KAFKA_CT_STRUCTURED);
    assert_non_null(strstr(v.data, "\"partitionkey\":\"customer-7\""));
    ceb_kafka_message m = {c.h, c.n, NULL, 0, v.data, v.len};
    ceb_event *back = decode_ok(&m, 0, NULL, CEB_KAFKA_MODE_STRUCTURED);
    assert_string_equal(ceb_event_id(back), "42");
    assert_string_equal(ceb_event_get(back, "seq"), "3");
    ceb_event_unref(back);
    ceb_buf_free(&v);
    ceb_event_unref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_decode_binary),
        cmocka_unit_test(test_decode_binary_errors),
        cmocka_unit_test(test_decode_binary_repair),
        cmocka_unit_test(test_decode_structured),
        cmocka_unit_test(test_decode_outbox),
        cmocka_unit_test(test_decode_not_an_event),
        cmocka_unit_test(test_key_binary_is_not_partitionkey),
        cmocka_unit_test(test_encode_binary_roundtrip),
        cmocka_unit_test(test_encode_no_data_no_key),
        cmocka_unit_test(test_encode_structured_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
