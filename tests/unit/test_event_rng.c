/* ceb_rng / ceb_clock (event.h): ids from a caller-owned random pool,
   timestamps with the formatted second cached, and ceb_event_wrap_from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cebridge/buf.h>
#include <cebridge/codec.h>
#include <cebridge/errors.h>
#include <cebridge/event.h>

static void check_uuid(const char *a)
{
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[8], '-');
    assert_int_equal(a[13], '-');
    assert_int_equal(a[14], '4');
    assert_int_equal(a[18], '-');
    assert_non_null(strchr("89ab", a[19]));
    assert_int_equal(a[23], '-');
    for (int k = 0; k < 36; k++)
        assert_non_null(strchr("0123456789abcdef-", a[k]));
}

static void test_uuid4_from_pool(void **state)
{
    (void)state;
    ceb_rng r = CEB_RNG_INIT;
    /* several pool refills: every id well-formed and distinct */
    enum { N = 3 * (CEB_RNG_POOL / 16) + 5 };
    char (*ids)[37] = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        ceb_uuid4_from(&r, ids[i]);
        check_uuid(ids[i]);
        assert_true(r.avail <= CEB_RNG_POOL);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_string_not_equal(ids[i], ids[j]);
    free(ids);

    /* ceb_rng_init empties the pool; a garbage count is repaired, not trusted */
    ceb_rng_init(&r);
    assert_int_equal(r.avail, 0);
    char a[37];
    r.avail = (size_t)-1;
    ceb_uuid4_from(&r, a);
    check_uuid(a);
    assert_int_equal(r.avail, CEB_RNG_POOL - 16);

    /* NULL: as ceb_uuid4 */
    ceb_uuid4_from(NULL, a);
    check_uuid(a);
}

static void test_time_from_clock(void **state)
{
    (void)state;
    ceb_clock c = CEB_CLOCK_INIT;
    char a[40], b[40], plain[40];
    for (int i = 0; i < 1000; i++) {
        ceb_time_now_rfc3339(plain);
        ceb_time_now_rfc3339_from(&c, a);
        ceb_time_now_rfc3339_from(NULL, b);
        assert_int_equal(strlen(a), 27);
        assert_int_equal(strlen(b), 27);
        assert_int_equal(ceb_time_check_rfc3339(a, strlen(a)), 0);
        assert_int_equal(ceb_time_check_rfc3339(b, strlen(b)), 0);
        assert_int_equal(a[26], 'Z');
        assert_int_equal(strlen(plain), 27);
        assert_true(c.len == 19);
        assert_memory_equal(c.text, a, 19);
    }
    /* a stale cache (another second) is reformatted, not reused */
    ceb_clock stale = {.sec = 86400, .len = 19};
    memcpy(stale.text, "1970-01-02T00:00:00", 20);
    ceb_time_now_rfc3339_from(&stale, a);
    assert_true(strncmp(a, "1970", 4) != 0);
    assert_int_equal(ceb_time_check_rfc3339(a, strlen(a)), 0);
    assert_true(stale.sec != 86400);
}

static void test_wrap_from(void **state)
{
    (void)state;
    ceb_rng r = CEB_RNG_INIT;
    ceb_clock c = CEB_CLOCK_INIT;
    ceb_event *ev = NULL, *ev2 = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_wrap_from(&r, &c, "{\"x\":1}", 7, "application/json", "t.wrap",
                                         "/src", "subj", &ev, &d), 0);
    assert_int_equal(ceb_event_validate(ev, &d), 0);
    check_uuid(ceb_event_id(ev));
    assert_int_equal(ceb_time_check_rfc3339(ceb_event_time(ev), strlen(ceb_event_time(ev))), 0);
    assert_string_equal(ceb_event_type(ev), "t.wrap");
    assert_string_equal(ceb_event_source(ev), "/src");
    assert_string_equal(ceb_event_subject(ev), "subj");
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_JSON);
    assert_non_null(ceb_event_data_json(ev));
    assert_int_equal(ceb_event_wrap_from(&r, &c, "plain", 5, NULL, "t", "/s", NULL, &ev2, &d), 0);
    assert_int_equal(ceb_event_data_kind(ev2), CEB_DATA_TEXT);
    assert_string_not_equal(ceb_event_id(ev), ceb_event_id(ev2));
    ceb_event_unref(ev2);

    /* the id and time stored without a scan encode as values set through
       ceb_event_set do */
    ceb_event *ref = NULL;
    assert_int_equal(ceb_event_new(&ref), 0);
    assert_int_equal(ceb_event_set(ref, "specversion", "1.0", &d), 0);
    assert_int_equal(ceb_event_set(ref, "id", ceb_event_id(ev), &d), 0);
    assert_int_equal(ceb_event_set(ref, "time", ceb_event_time(ev), &d), 0);
    assert_int_equal(ceb_event_set(ref, "type", "t.wrap", &d), 0);
    assert_int_equal(ceb_event_set(ref, "source", "/src", &d), 0);
    assert_int_equal(ceb_event_set(ref, "subject", "subj", &d), 0);
    assert_int_equal(ceb_event_set(ref, "datacontenttype", "application/json", &d), 0);
    assert_int_equal(ceb_event_set_data(ref, CEB_DATA_JSON, "{\"x\":1}", 7), 0);
    ceb_buf a = {0}, b = {0};
    assert_int_equal(ceb_codec_json_encode(ev, &a), 0);
    assert_int_equal(ceb_codec_json_encode(ref, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    ceb_buf_free(&a);
    ceb_buf_free(&b);
    ceb_event_unref(ref);
    ceb_event_unref(ev);

    /* declared JSON that does not parse keeps its bytes as binary */
    assert_int_equal(ceb_event_wrap_from(&r, NULL, "{oops", 5, "application/json", "t", "/s",
                                         NULL, &ev, &d), 0);
    assert_int_equal(ceb_event_data_kind(ev), CEB_DATA_BINARY);
    assert_null(ceb_event_data_json(ev));
    ceb_event_unref(ev);

    ev = NULL;
    assert_int_equal(ceb_event_wrap_from(&r, &c, "x", 1, NULL, "", "/s", NULL, &ev, &d),
                     CEB_EINVAL);
    assert_string_equal(d.field, "type");
    assert_string_equal(d.message, "cannot wrap a payload: type is empty");
    assert_null(ev);
}

static void test_set_data_json_cached(void **state)
{
    (void)state;
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"a\":[1,2]} \n", 13), 0);
    const struct ceb_json *j = ceb_event_data_json(ev);
    assert_non_null(j);
    assert_ptr_equal(ceb_event_data_json(ev), j); /* parsed once, cached */
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"a\":1} x", 9), CEB_EINVAL);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "[]", 2), 0);
    assert_non_null(ceb_event_data_json(ev));
    ceb_event_unref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid4_from_pool),
        cmocka_unit_test(test_time_from_clock),
        cmocka_unit_test(test_wrap_from),
        cmocka_unit_test(test_set_data_json_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
