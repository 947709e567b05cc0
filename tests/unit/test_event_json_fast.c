/*
 * The JSON encoder writes values that the setters recorded as needing no
 * escapes by copying them, and the Kafka binary decoder records that from
 * its one UTF-8 scan. Both are checked here against a reference encoding
 * built from the public accessors and ceb_json_quote, on random values with
 * quotes, backslashes, control bytes, spaces, non-ASCII and broken UTF-8.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cebridge/buf.h>
#include <cebridge/codec.h>
#include <cebridge/codec_kafka.h>
#include <cebridge/errors.h>
#include <cebridge/event.h>
#include <cebridge/json.h>

#include "sdk_internal.h"

static uint32_t next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* A value of 1..24 bytes: mostly plain ASCII, sometimes special bytes. */
static size_t random_value(uint32_t *seed, char *out, bool allow_nul)
{
    static const char *const pieces[] = {
        "\"", "\\", " ", "\t", "\x01", "\x1f", "\x7f", "\xC3\xA9", "\xE2\x82\xAC", "\xC3",
        "\x80", "\xF0\x9F\x98\x80", "/", "\n",
    };
    size_t n = 1 + next(seed) % 24, i = 0;
    bool mixed = next(seed) % 2 == 0;
    while (i < n) {
        if (mixed && next(seed) % 6 == 0) {
            const char *p = pieces[next(seed) % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(p);
            memcpy(out + i, p, l);
            i += l;
        } else if (allow_nul && mixed && next(seed) % 40 == 0) {
            out[i++] = '\0';
        } else {
            out[i++] = (char)('a' + next(seed) % 26);
        }
    }
    return i;
}

/* The encoding the JSON format asks for, from public accessors only. */
static void reference_encode(const ceb_event *ev, ceb_buf *out)
{
    assert_int_equal(ceb_buf_append(out, "{", 1), 0);
    size_t n = ceb_event_attr_count(ev);
    for (size_t i = 0; i < n; i++) {
        ceb_attr a;
        assert_int_equal(ceb_event_attr_at(ev, i, &a), 0);
        if (i > 0)
            assert_int_equal(ceb_buf_append(out, ",", 1), 0);
        assert_int_equal(ceb_json_quote(out, a.name, strlen(a.name)), 0);
        assert_int_equal(ceb_buf_append(out, ":", 1), 0);
        if (a.type == CEB_ATTR_INTEGER || a.type == CEB_ATTR_BOOLEAN)
            assert_int_equal(ceb_buf_append(out, a.text, a.len), 0);
        else
            assert_int_equal(ceb_json_quote(out, a.text, a.len), 0);
    }
    size_t len = 0;
    const char *data = ceb_event_data(ev, &len);
    if (data != NULL) {
        /* the tests use compact JSON, text (a text/ content type) or bytes */
        if (ceb_event_data_kind(ev) == CEB_DATA_BINARY) {
            assert_int_equal(ceb_buf_append_str(out, ",\"data_base64\":\""), 0);
            assert_int_equal(ceb_base64_encode(data, len, out), 0);
            assert_int_equal(ceb_buf_append_str(out, "\"}"), 0);
            return;
        }
        assert_int_equal(ceb_buf_append_str(out, ",\"data\":"), 0);
        if (ceb_event_data_kind(ev) == CEB_DATA_TEXT)
            assert_int_equal(ceb_json_quote(out, data, len), 0);
        else
            assert_int_equal(ceb_buf_append(out, data, len), 0);
    }
    assert_int_equal(ceb_buf_append(out, "}", 1), 0);
}

static void check_encode(const ceb_event *ev)
{
    ceb_buf want = {0}, got = {0};
    reference_encode(ev, &want);
    assert_int_equal(ceb_buf_append(&got, "prefix", 6), 0);  /* appends after what is there */
    assert_int_equal(ceb_codec_json_encode(ev, &got), 0);
    if (got.len != want.len + 6)
        fail_msg("want %s\n got %s", want.data, got.data + 6);
    assert_memory_equal(got.data + 6, want.data, want.len);
    assert_int_equal(got.data[got.len], '\0');
    ceb_buf_free(&want);
    ceb_buf_free(&got);
}

/* Events built through the public setters, some without id or source,
   with String, Integer and Boolean extensions, some with many (heap) ones. */
static void test_setters_encode(void **state)
{
    (void)state;
    static const char *const names[] = { "id", "source", "type", "subject", "datacontenttype" };
    uint32_t seed = 11u;
    char v[128];
    for (int round = 0; round < 20000; round++) {
        ceb_event *ev = NULL;
        assert_int_equal(ceb_event_new(&ev), 0);
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            if (next(&seed) % 4 == 0)
                continue;
            size_t n = random_value(&seed, v, false);
            (void)ceb_event_setn(ev, names[k], v, n, NULL); /* source may refuse a space */
        }
        if (next(&seed) % 3 == 0)
            assert_int_equal(ceb_event_set(ev, "datacontenttype", "application/json", NULL), 0);
        size_t next_ext = next(&seed) % 8;
        for (size_t k = 0; k < next_ext; k++) {
            char name[16];
            snprintf(name, sizeof name, "x%zu", k);
            switch (next(&seed) % 3) {
            case 0: {
                size_t n = random_value(&seed, v, false);
                assert_int_equal(ceb_event_setn(ev, name, v, n, NULL), 0);
                break;
            }
            case 1:
                assert_int_equal(ceb_event_set_int(ev, name, (int32_t)next(&seed) - 5000, NULL), 0);
                break;
            default:
                assert_int_equal(ceb_event_set_bool(ev, name, next(&seed) % 2, NULL), 0);
            }
        }
        if (next(&seed) % 2 == 0)
            assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"a\":[1,\"x\"]}", 13), 0);
        check_encode(ev);
        ceb_event *c = NULL;
        assert_int_equal(ceb_event_clone(ev, &c), 0);
        check_encode(c);
        ceb_event_unref(c);
        ceb_event_unref(ev);
    }
}

/* Binary-mode Kafka records with random header values: decoded or refused
   as the public setters and the UTF-8 rule decide, and encoded as the
   reference does. */
static void test_kafka_decode_encode(void **state)
{
    (void)state;
    uint32_t seed = 23u;
    char vals[6][128];
    static const char *const cts[] = { "application/json", " application/json ", "text/plain",
                                       "application/json; charset=utf-8", "" };
    int decoded = 0;
    for (int round = 0; round < 20000; round++) {
        ceb_kafka_header h[7];
        size_t lens[6];
        static const char *const hn[] = { "ce_id", "ce_source", "ce_type", "ce_subject",
                                          "ce_xext", "ce_specversion" };
        for (int k = 0; k < 5; k++)
            lens[k] = random_value(&seed, vals[k], true);
        memcpy(vals[5], "1.0", 3);
        lens[5] = 3;
        size_t nh = 0;
        for (int k = 0; k < 6; k++) {
            if (k == 3 && next(&seed) % 2 == 0)
                continue;
            h[nh++] = (ceb_kafka_header){ .name = hn[k], .name_len = strlen(hn[k]),
                                          .value = vals[k], .value_len = lens[k] };
        }
        const char *ct = cts[next(&seed) % (sizeof cts / sizeof cts[0])];
        h[nh++] = (ceb_kafka_header){ .name = "content-type", .name_len = 12, .value = ct,
                                      .value_len = strlen(ct) };
        char key[128];
        size_t key_len = random_value(&seed, key, true);
        ceb_kafka_message m = { .headers = h, .nheaders = nh, .key = key, .key_len = key_len,
                                .value = "{\"seq\":1}", .value_len = 9 };
        /* the expectation: every value UTF-8 without NUL, source without
           space or control bytes (the setters' rules) */
        bool ok = true;
        for (size_t k = 0; k < nh; k++) {
            const char *val = h[k].value;
            if (k + 1 == nh)
                break;
            if (!ceb__utf8_valid(val, h[k].value_len, NULL) ||
                memchr(val, '\0', h[k].value_len) != NULL)
                ok = false;
        }
        for (size_t k = 0; k < lens[1]; k++)
            if ((unsigned char)vals[1][k] <= 0x20 || vals[1][k] == 0x7F)
                ok = false;
        ceb_event *ev = NULL;
        ceb_diag d = {0};
        int rc = ceb_kafka_decode(&m, CEB_KAFKA_KEY_TO_PARTITIONKEY, NULL, &ev, NULL, &d);
        assert_int_equal(rc == 0, ok);
        if (rc < 0) {
            assert_int_equal(rc, CEB_ESPEC);
            continue;
        }
        decoded++;
        bool key_ok = ceb__utf8_valid(key, key_len, NULL) && memchr(key, '\0', key_len) == NULL;
        assert_int_equal(ceb_event_get(ev, "partitionkey") != NULL, key_ok);
        check_encode(ev);
        ceb_event_unref(ev);
    }
    assert_true(decoded > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setters_encode),
        cmocka_unit_test(test_kafka_decode_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
