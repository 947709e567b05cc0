/* Tests of the kafka plugin's sink, loaded from kafka.so into the test host,
   against an in-process librdkafka mock cluster. */
#include "kafka_fixture.h"

static ceb_testhost_inst *sink(kfx *f, const char *extra_json)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"brokers\": \"%s\", %s}", f->brokers, extra_json);
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    if (ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "out", json, &ti, &d) != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    assert_int_equal(ceb_testhost_start(ti), 0);
    return ti;
}

static ceb_event *event(const char *id, const char *key, const char *data)
{
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", id, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/test", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "dev.test.created", NULL), 0);
    if (key != NULL)
        assert_int_equal(ceb_event_set(ev, "partitionkey", key, NULL), 0);
    if (data != NULL)
        assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, data, strlen(data)), 0);
    ceb_event_freeze(ev);
    return ev;
}

static void deliver(ceb_testhost_inst *ti, ceb_event *ev, ceb_outcome want, int want_err)
{
    ceb_testhost_result res;
    assert_int_equal(ceb_testhost_deliver_wait(ti, ev, &res, 20000), 0);
    assert_true(res.done);
    if (res.outcome != want || res.err != want_err)
        fail_msg("outcome %d err %d (%s), want %d err %d", res.outcome, res.err, res.detail,
                 want, want_err);
    ceb_event_unref(ev);
}

static void test_config_errors(void **state)
{
    kfx *f = *state;
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "x",
                                         "{\"brokers\": \"b:1\", \"topic\": \"t\", "
                                         "\"librdkafka\": {\"no.such.property\": 1}}",
                                         &ti, &d), CEB_ECONFIG);
    assert_string_equal(d.field, "librdkafka");
    assert_string_equal(d.message, "no.such.property: No such configuration property: "
                                   "\"no.such.property\"");
    ceb_diag_clear(&d);
    unsetenv("CEB_KAFKA_TEST_UNSET");
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "x",
                                         "{\"brokers\": \"b:1\", \"topic\": \"t\", "
                                         "\"librdkafka\": {\"sasl.password\": "
                                         "\"${env:CEB_KAFKA_TEST_UNSET}\"}}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.message, "sasl.password: environment variable CEB_KAFKA_TEST_UNSET "
                                   "is not set");
    ceb_diag_clear(&d);
    /* a secret that resolves is accepted (and never logged) */
    setenv("CEB_KAFKA_TEST_PW", "s3cret", 1);
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "x",
                                         "{\"brokers\": \"b:1\", \"topic\": \"t\", "
                                         "\"librdkafka\": {\"sasl.username\": \"u\", "
                                         "\"sasl.password\": \"${env:CEB_KAFKA_TEST_PW}\", "
                                         "\"linger.ms\": 5, \"socket.nagle.disable\": true}}",
                                         &ti, &d), 0);
    assert_false(ceb_testhost_log_contains(f->th, "s3cret"));
    ceb_testhost_destroy(ti);
    ceb_diag_clear(&d);
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "x",
                                         "{\"brokers\": \"b:1\", \"topic\": \"t\", "
                                         "\"mode\": \"avro\"}", &ti, &d), CEB_ECONFIG);
    assert_string_equal(d.field, "mode");
}

static void test_binary_roundtrip(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "bin", 1);
    ceb_testhost_inst *ti = sink(f, "\"topic\": \"{ext.team}\"");
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "e1", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/orders", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "order.created", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "team", "bin", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "partitionkey", "cust-1", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "datacontenttype", "application/json", NULL), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"n\":1}", 7), 0);
    ceb_event_freeze(ev);
    deliver(ti, ev, CEB_OUTCOME_OK, 0);
    /* an event without data is a record without a value (tombstone) */
    deliver(ti, event("e2", NULL, NULL), CEB_OUTCOME_PERMANENT, CEB_EINVAL); /* no ext.team */
    assert_int_equal(ceb_testhost_stop(ti, 15000), 0);
    ceb_testhost_destroy(ti);

    rd_kafka_t *r = kfx_reader(f, "bin", 1);
    rd_kafka_message_t *m = kfx_read(r);
    char b[256];
    assert_int_equal(m->key_len, 6);
    assert_memory_equal(m->key, "cust-1", 6);
    assert_int_equal(m->len, 7);
    assert_memory_equal(m->payload, "{\"n\":1}", 7);
    assert_string_equal(kfx_header(m, "ce_specversion", b, sizeof b), "1.0");
    assert_string_equal(kfx_header(m, "ce_id", b, sizeof b), "e1");
    assert_string_equal(kfx_header(m, "ce_type", b, sizeof b), "order.created");
    assert_string_equal(kfx_header(m, "ce_source", b, sizeof b), "/orders");
    assert_string_equal(kfx_header(m, "ce_partitionkey", b, sizeof b), "cust-1");
    assert_string_equal(kfx_header(m, "content-type", b, sizeof b), "application/json");
    assert_string_equal(kfx_header(m, "ce_datacontenttype", b, sizeof b), "");
    rd_kafka_message_destroy(m);
    kfx_reader_close(r);
}

static void test_structured_and_tombstone(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "st", 1);
    kfx_topic(f, "tomb", 1);
    ceb_testhost_inst *ti = sink(f, "\"topic\": \"st\", \"mode\": \"structured\"");
    deliver(ti, event("s1", "k", "[1,2]"), CEB_OUTCOME_OK, 0);
    assert_int_equal(ceb_testhost_stop(ti, 15000), 0);
    ceb_testhost_destroy(ti);
    ti = sink(f, "\"topic\": \"tomb\", \"key\": \"{id}-x\"");
    deliver(ti, event("t1", "ignored", NULL), CEB_OUTCOME_OK, 0);
    assert_int_equal(ceb_testhost_stop(ti, 15000), 0);
    ceb_testhost_destroy(ti);

    rd_kafka_t *r = kfx_reader(f, "st", 1);
    rd_kafka_message_t *m = kfx_read(r);
    char b[512];
    assert_string_equal(kfx_header(m, "content-type", b, sizeof b),
                        "application/cloudevents+json; charset=UTF-8");
    assert_memory_equal(m->key, "k", 1);
    snprintf(b, sizeof b, "%.*s", (int)m->len, (const char *)m->payload);
    assert_non_null(strstr(b, "\"id\":\"s1\""));
    assert_non_null(strstr(b, "\"data\":[1,2]"));
    rd_kafka_message_destroy(m);
    kfx_reader_close(r);

    r = kfx_reader(f, "tomb", 1);
    m = kfx_read(r);
    assert_null(m->payload);
    assert_int_equal(m->key_len, 4);
    assert_memory_equal(m->key, "t1-x", 4);
    rd_kafka_message_destroy(m);
    kfx_reader_close(r);
}

static void test_too_large_is_permanent(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "big", 1);
    ceb_testhost_inst *ti = sink(f, "\"topic\": \"big\", \"librdkafka\": "
                                    "{\"message.max.bytes\": 1000}");
    char data[3000];
    memset(data, 'x', sizeof data);
    data[0] = '"';
    data[sizeof data - 2] = '"';
    data[sizeof data - 1] = '\0';
    deliver(ti, event("big", NULL, data), CEB_OUTCOME_PERMANENT, CEB_E2BIG);
    assert_int_equal(ceb_testhost_stop(ti, 15000), 0);
    ceb_testhost_destroy(ti);
}

static void test_unreachable_is_retry(void **state)
{
    kfx *f = *state;
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "down",
                                         "{\"brokers\": \"127.0.0.1:1\", \"topic\": \"t\", "
                                         "\"delivery_timeout\": \"300ms\", "
                                         "\"drain_timeout\": \"100ms\"}", &ti, &d), 0);
    assert_int_equal(ceb_testhost_start(ti), 0);
    deliver(ti, event("u1", NULL, "1"), CEB_OUTCOME_RETRY, CEB_ETIMEDOUT);
    /* one left outstanding at stop: drained, purged, completed RETRY/ECANCELED */
    ceb_testhost_result res;
    ceb_event *ev = event("u2", NULL, "2");
    assert_int_equal(ceb_testhost_deliver(ti, ev, 1, &res), 0);
    assert_int_equal(ceb_testhost_stop(ti, 15000), 0);
    assert_true(res.done);
    assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);
    assert_int_equal(res.err, CEB_ECANCELED);
    ceb_event_unref(ev);
    ceb_testhost_destroy(ti);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_errors, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_binary_roundtrip, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_structured_and_tombstone, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_too_large_is_permanent, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_is_retry, kfx_setup, kfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
