/*
 * The JSON event decoder's fast path (codec_json.c) against its cJSON path:
 * ceb_codec_json_decode() of one object may take the fast path, while
 * ceb_codec_json_decode_batch() of "[object]" always takes the cJSON path.
 * Both must agree on every input: the same result code, the same repairs,
 * and for events the same encoding, attribute types and data kind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/cebridge.h>

static void same_event(const ceb_event *a, const ceb_event *b, const char *in)
{
    ceb_buf ea = {0}, eb = {0};
    assert_int_equal(ceb_codec_json_encode(a, &ea), 0);
    assert_int_equal(ceb_codec_json_encode(b, &eb), 0);
    if (strcmp(ea.data, eb.data) != 0)
        fail_msg("input %s\n fast  %s\n cJSON %s", in, ea.data, eb.data);
    assert_int_equal(ceb_event_attr_count(a), ceb_event_attr_count(b));
    for (size_t i = 0; i < ceb_event_attr_count(a); i++) {
        ceb_attr x, y;
        assert_int_equal(ceb_event_attr_at(a, i, &x), 0);
        assert_int_equal(ceb_event_attr_at(b, i, &y), 0);
        assert_string_equal(x.name, y.name);
        assert_int_equal(x.type, y.type);
        assert_int_equal(x.len, y.len);
        assert_memory_equal(x.text, y.text, x.len);
        assert_int_equal(x.i, y.i);
        assert_int_equal(x.b, y.b);
    }
    assert_int_equal(ceb_event_data_kind(a), ceb_event_data_kind(b));
    assert_int_equal(ceb_event_data_json(a) != NULL, ceb_event_data_json(b) != NULL);
    ceb_buf_free(&ea);
    ceb_buf_free(&eb);
}

/* Decode `in` both ways in `strict` mode; returns the single decode's code. */
static int both_ways(const char *in, size_t n, bool strict)
{
    ceb_decode_opts o1 = { .strict = strict, .default_source = "/d", .default_type = "t" };
    ceb_decode_opts o2 = o1;
    ceb_event *one = NULL, **many = NULL;
    size_t count = 0;
    ceb_diag d1 = {0}, d2 = {0};
    char *arr = malloc(n + 3);
    assert_non_null(arr);
    arr[0] = '[';
    memcpy(arr + 1, in, n);
    arr[n + 1] = ']';
    arr[n + 2] = '\0';
    int r1 = ceb_codec_json_decode(in, n, &o1, &one, &d1);
    int r2 = ceb_codec_json_decode_batch(arr, n + 2, &o2, &many, &count, &d2);
    /* "[x]" adds nothing but for what follows x: trailing text, a second value */
    if (r1 != r2)
        fail_msg("input %.*s: single %d (%s), batch %d (%s)", (int)n, in, r1, d1.message, r2,
                 d2.message);
    if (r1 == 0) {
        assert_int_equal(count, 1);
        assert_int_equal(o1.repaired & ~(unsigned)CEB_REPAIRED_ID, o2.repaired & ~(unsigned)CEB_REPAIRED_ID);
        if (!(o1.repaired & CEB_REPAIRED_ID))
            same_event(one, many[0], in);
        ceb_event_unref(one);
        ceb_events_free(many, count);
    }
    free(arr);
    return r1;
}

static const char *const cases[] = {
    /* the benchmark's line */
    "{\"specversion\":\"1.0\",\"id\":\"b-1\",\"source\":\"/bench\",\"type\":\"bench.t1\","
    "\"subject\":\"s1\",\"benchk\":1,\"time\":\"2024-05-01T12:00:00Z\","
    "\"datacontenttype\":\"application/json\",\"data\":{\"i\":1,\"msg\":\"hello, world\"}}",
    /* whitespace everywhere, data minified */
    " { \"specversion\" : \"1.0\" , \"id\" : \"1\" ,\n\t\"source\" : \"/s\" , \"type\" : \"t\" ,"
    " \"data\" : { \"a\" : [ 1 , 2.5e3 , -0 , true , false , null , \"x y\" ] , \"b\" : { } } }\r\n",
    /* extensions: strings, booleans, integers at the int32 edges and past them */
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"s\":\"\",\"b\":true,"
    "\"c\":false,\"i\":-2147483648,\"j\":2147483647,\"z\":-0}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"i\":2147483648}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"i\":1.5}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"i\":1e2}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"i\":01}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"i\":null}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"Up\":\"x\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"e\":\"a\\\"b\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"x\":1,\"x\":2}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"o\":{}}",
    /* text and JSON data under various content types */
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
    "\"datacontenttype\":\"text/plain\",\"data\":\"h\xc3\xa9llo\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
    "\"data\":\"plain\",\"datacontenttype\":\"text/plain\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
    "\"datacontenttype\":\"text/plain\",\"data\":\"a\\nb\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
    "\"datacontenttype\":\"text/plain\",\"data\":{\"k\": 1}}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":\"\\u00e9\\ud83d\\ude00\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":\"\\ud800\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":null}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":12345678901234567890}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":[1,]}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data_base64\":\"AAEC\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":1,\"data\":2}",
    /* context attributes: missing, empty, wrong, duplicated */
    "{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}",
    "{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}",
    "{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}",
    "{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"a b\",\"type\":\"t\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"subject\":\"\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"yesterday\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"dataschema\":\"rel\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"id\":\"2\"}",
    "{\"specversion\":\"1.0\",\"id\":1,\"source\":\"/s\",\"type\":\"t\"}",
    /* not an event, not JSON */
    "{}", "[]", "5", "{\"specversion\":\"1.0\"", "{\"specversion\":\"1.0\",}", "{\"\":1}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"} x",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"x\":\"\x80\"}",
    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"x\":\"a\tb\"}",
};

static void test_cases(void **state)
{
    (void)state;
    int ok = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ok += both_ways(cases[i], strlen(cases[i]), true) == 0;
        both_ways(cases[i], strlen(cases[i]), false);
    }
    assert_true(ok >= 10);  /* the list is not only errors */
}

/* Seeded mutations of event-shaped text: whatever the fast path takes, the
   cJSON path takes the same way. */
static void test_mutations_agree(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\",:\\ 0123456789.-+eEtrufalsnu\x80\xc3\xa9\t\n";
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    size_t decoded = 0;
    for (int round = 0; round < 30000; round++) {
        const char *seed = cases[round % 3];
        size_t n = strlen(seed);
        char buf[1024];
        memcpy(buf, seed, n);
        int edits = 1 + (int)(rng % 3);
        for (int e = 0; e < edits; e++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % n;
            char ch = alphabet[(rng >> 20) % (sizeof alphabet - 1)];
            switch ((rng >> 12) % 3) {
            case 0: buf[at] = ch; break;
            case 1: if (n > 1) { memmove(buf + at, buf + at + 1, n - at - 1); n--; } break;
            default: if (n + 1 < sizeof buf) { memmove(buf + at + 1, buf + at, n - at); buf[at] = ch; n++; }
            }
        }
        decoded += both_ways(buf, n, (round & 1) != 0) == 0;
    }
    assert_true(decoded > 1000);
}

/* The encoder's quoting is ceb_json_quote()'s, escapes or not. */
static void test_encode_quotes_like_json_quote(void **state)
{
    (void)state;
    char all[128];
    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    const char *values[] = { all, "plain value", "caf\xc3\xa9", "tab\there" };
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        ceb_event *ev = NULL;
        assert_int_equal(ceb_event_new(&ev), 0);
        assert_int_equal(ceb_event_set(ev, "id", "1", NULL), 0);
        assert_int_equal(ceb_event_set(ev, "source", "/s", NULL), 0);
        assert_int_equal(ceb_event_set(ev, "type", "t", NULL), 0);
        assert_int_equal(ceb_event_set(ev, "x", values[k], NULL), 0);
        assert_int_equal(ceb_event_set(ev, "datacontenttype", "text/plain", NULL), 0);
        assert_int_equal(ceb_event_set_data(ev, CEB_DATA_TEXT, values[k], strlen(values[k])), 0);
        ceb_buf want = {0}, got = {0}, q = {0};
        assert_int_equal(ceb_json_quote(&q, values[k], strlen(values[k])), 0);
        assert_int_equal(ceb_buf_printf(&want, "{\"id\":\"1\",\"source\":\"/s\",\"specversion\":\"1.0\","
                                        "\"type\":\"t\",\"datacontenttype\":\"text/plain\",\"x\":%s,"
                                        "\"data\":%s}", q.data, q.data), 0);
        assert_int_equal(ceb_codec_json_encode(ev, &got), 0);
        assert_string_equal(got.data, want.data);
        ceb_buf_free(&want);
        ceb_buf_free(&got);
        ceb_buf_free(&q);
        ceb_event_unref(ev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_mutations_agree),
        cmocka_unit_test(test_encode_quotes_like_json_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
