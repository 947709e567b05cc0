/* Plugin tests for the redis sink under the SDK test host, against a real
   redis-server on an ephemeral loopback port. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/testhost.h>
#include "redis_fixture.h"

typedef struct fx {
    redis_srv srv;
    redisContext *c;
    ceb_testhost *th;
    const ceb_plugin *plugin;
    ceb_event *ev;
} fx;

#define CE "{\"specversion\":\"1.0\",\"id\":\"k1\",\"source\":\"/t\",\"type\":\"t.sink\"," \
           "\"subject\":\"sub\",\"datacontenttype\":\"application/json\",\"data\":{\"n\":1}}"

static int setup(void **st)
{
    fx *f = calloc(1, sizeof *f);
    if (redis_srv_start(&f->srv, 0) < 0)
        return -1;
    f->c = redis_srv_client(&f->srv);
    ceb_diag d = {0};
    if (f->c == NULL || ceb_testhost_new(&f->th) < 0 ||
        ceb_testhost_load(f->th, REDIS_PLUGIN_SO, &f->plugin, &d) < 0 ||
        ceb_codec_json_decode(CE, strlen(CE), NULL, &f->ev, &d) < 0)
        return -1;
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    ceb_event_unref(f->ev);
    int rc = ceb_testhost_free(f->th);
    if (f->c)
        redisFree(f->c);
    redis_srv_stop(&f->srv);
    free(f);
    return rc == 0 ? 0 : -1;
}

static ceb_testhost_inst *make(fx *f, const char *json)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    int rc = ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "rk", json, &ti, &d);
    if (rc < 0)
        fprintf(stderr, "create: %s: %s\n", d.field, d.message);
    assert_int_equal(rc, 0);
    assert_int_equal(ceb_testhost_start(ti), 0);
    return ti;
}

static void stop_inst(fx *f, ceb_testhost_inst *ti)
{
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);
    assert_null(ceb_testhost_violation(f->th));
}

/* Deliver until the connection is up (the first attempts may find it still
   connecting: RETRY ECONNREFUSED, which is the contract). */
static void deliver_ok(fx *f, ceb_testhost_inst *ti)
{
    ceb_testhost_result res;
    for (int i = 0; i < 200; i++) {
        memset(&res, 0, sizeof res);
        assert_int_equal(ceb_testhost_deliver_wait(ti, f->ev, &res, 5000), 0);
        assert_true(res.done);
        if (res.outcome == CEB_OUTCOME_OK)
            return;
        assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);
        assert_int_equal(res.err, CEB_ECONNREFUSED);
        ceb_testhost_run(f->th, NULL, NULL, 20);
    }
    fail_msg("sink never connected");
}

static void expect_create_error(fx *f, const char *json, const char *field, const char *msg)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_not_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "bad", json,
                                             &ti, &d), 0);
    assert_string_equal(d.field, field);
    assert_string_equal(d.message, msg);
}

static void test_config_errors(void **st)
{
    fx *f = *st;
    expect_create_error(f, "{}", "", "exactly one of channel or stream is required");
    expect_create_error(f, "{\"channel\":\"a\",\"stream\":\"b\"}", "",
                        "exactly one of channel or stream is required");
    expect_create_error(f, "{\"channel\":\"a\",\"format\":\"binary\"}", "format",
                        "format \"binary\" needs a stream (ce_ fields); channels carry one payload");
    expect_create_error(f, "{\"stream\":\"a\",\"format\":\"fields\"}", "format",
                        "format \"fields\" is for sources only");
    expect_create_error(f, "{\"channel\":\"a\",\"maxlen\":5}", "maxlen",
                        "maxlen applies to streams only");
}

static redisReply *last_entry(fx *f, const char *stream)
{
    redisReply *r = redisCommand(f->c, "XREVRANGE %s + - COUNT 1", stream);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    return r;
}

static void test_xadd_formats(void **st)
{
    fx *f = *st;
    char json[256];
    snprintf(json, sizeof json, "{\"url\":\"%s\",\"stream\":\"out.{type}\",\"maxlen\":1000}",
             f->srv.url);
    ceb_testhost_inst *ti = make(f, json);
    deliver_ok(f, ti);
    redisReply *r = last_entry(f, "out.t.sink");
    redisReply *fv = r->element[0]->element[1];
    assert_int_equal(fv->elements, 2);
    assert_string_equal(fv->element[0]->str, "event");
    assert_non_null(strstr(fv->element[1]->str, "\"id\":\"k1\""));
    freeReplyObject(r);
    stop_inst(f, ti);

    snprintf(json, sizeof json, "{\"url\":\"%s\",\"stream\":\"bin\",\"format\":\"binary\"}",
             f->srv.url);
    ti = make(f, json);
    deliver_ok(f, ti);
    r = last_entry(f, "bin");
    fv = r->element[0]->element[1];
    ceb_stream_field fl[16];
    size_t n = fv->elements / 2;
    for (size_t i = 0; i < n; i++)
        fl[i] = (ceb_stream_field){fv->element[2 * i]->str, fv->element[2 * i]->len,
                                   fv->element[2 * i + 1]->str, fv->element[2 * i + 1]->len};
    assert_non_null(ceb_stream_field_find(fl, n, "ce_specversion"));
    ceb_event *back = NULL;
    assert_int_equal(ceb_stream_decode_binary(fl, n, NULL, &back, NULL), 0);
    assert_string_equal(ceb_event_subject(back), "sub");
    ceb_event_unref(back);
    freeReplyObject(r);
    stop_inst(f, ti);

    snprintf(json, sizeof json, "{\"url\":\"%s\",\"stream\":\"fs\",\"format\":\"faststream\"}",
             f->srv.url);
    ti = make(f, json);
    deliver_ok(f, ti);
    r = last_entry(f, "fs");
    fv = r->element[0]->element[1];
    assert_string_equal(fv->element[0]->str, "__data__");
    ceb_faststream_msg m = {0};
    assert_int_equal(ceb_faststream_decode_binary(fv->element[1]->str, fv->element[1]->len, &m,
                                                  NULL), 0);
    assert_string_equal(ceb_faststream_msg_header(&m, "correlation_id"), "k1");
    ceb_faststream_msg_free(&m);
    freeReplyObject(r);
    stop_inst(f, ti);
}

static void test_publish_and_errors(void **st)
{
    fx *f = *st;
    char json[256];
    snprintf(json, sizeof json, "{\"url\":\"%s\",\"channel\":\"ch.{subject}\","
                                "\"format\":\"faststream-json\"}", f->srv.url);
    ceb_testhost_inst *ti = make(f, json);
    deliver_ok(f, ti);
    /* many in flight at once, each completed on its reply */
    ceb_testhost_result res[64];
    memset(res, 0, sizeof res);
    for (int i = 0; i < 64; i++)
        assert_int_equal(ceb_testhost_deliver(ti, f->ev, 1, &res[i]), 0);
    for (int i = 0; i < 64; i++) {
        while (!res[i].done)
            assert_int_equal(ceb_testhost_run(f->th, NULL, NULL, 50) <= 0, 1);
        assert_int_equal(res[i].outcome, CEB_OUTCOME_OK);
    }
    stop_inst(f, ti);

}

static void test_wrongtype_and_down(void **st)
{
    fx *f = *st;
    redisReply *r = redisCommand(f->c, "SET notastream x");
    freeReplyObject(r);
    char json[256];
    snprintf(json, sizeof json, "{\"url\":\"%s\",\"stream\":\"notastream\","
                                "\"reconnect_max\":\"200ms\"}", f->srv.url);
    ceb_testhost_inst *ti = make(f, json);
    ceb_testhost_result res;
    for (int i = 0; i < 200; i++) {
        memset(&res, 0, sizeof res);
        assert_int_equal(ceb_testhost_deliver_wait(ti, f->ev, &res, 5000), 0);
        if (res.err != CEB_ECONNREFUSED)
            break;
        ceb_testhost_run(f->th, NULL, NULL, 20);
    }
    assert_int_equal(res.outcome, CEB_OUTCOME_PERMANENT);
    assert_non_null(strstr(res.detail, "WRONGTYPE"));
    /* server down: RETRY with ECONNREFUSED, never OK */
    redisFree(f->c);
    f->c = NULL;
    redis_srv_stop(&f->srv);
    for (int i = 0; i < 200; i++) {
        memset(&res, 0, sizeof res);
        assert_int_equal(ceb_testhost_deliver_wait(ti, f->ev, &res, 5000), 0);
        assert_int_not_equal(res.outcome, CEB_OUTCOME_OK);
        if (res.outcome == CEB_OUTCOME_RETRY && res.err == CEB_ECONNREFUSED)
            break;
        ceb_testhost_run(f->th, NULL, NULL, 20);
    }
    assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);
    assert_int_equal(res.err, CEB_ECONNREFUSED);
    stop_inst(f, ti);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xadd_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype_and_down, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
