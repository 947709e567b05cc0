/* Plugin tests for the redis source under the SDK test host, against a real
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
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof *f);
    if (redis_srv_start(&f->srv, 0) < 0)
        return -1;
    f->c = redis_srv_client(&f->srv);
    ceb_diag d = {0};
    if (f->c == NULL || ceb_testhost_new(&f->th) < 0 ||
        ceb_testhost_load(f->th, REDIS_PLUGIN_SO, &f->plugin, &d) < 0) {
        fprintf(stderr, "setup: %s\n", d.message);
        return -1;
    }
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    int rc = ceb_testhost_free(f->th);
    redisFree(f->c);
    redis_srv_stop(&f->srv);
    free(f);
    return rc == 0 ? 0 : -1;
}

static ceb_testhost_inst *make(fx *f, const char *fmt, ...)
{
    char json[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    int rc = ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "rs", json, &ti, &d);
    if (rc < 0)
        fprintf(stderr, "create: %s: %s\n", d.field, d.message);
    assert_int_equal(rc, 0);
    assert_int_equal(ceb_testhost_start(ti), 0);
    return ti;
}

static void cmd(fx *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(f->c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "redis: %s\n", r->str);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static long long cmd_int(fx *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(f->c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer
                : r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                          r->element[0]->type == REDIS_REPLY_INTEGER ? r->element[0]->integer
                : -1;
    freeReplyObject(r);
    return v;
}

typedef struct wait_n {
    ceb_testhost_inst *ti;
    size_t n;
    fx *f;
    const char *conn_check;
} wait_n;

static bool emitted_at_least(void *arg)
{
    wait_n *w = arg;
    return ceb_testhost_emitted_count(w->ti) >= w->n;
}

static bool dl_at_least(void *arg)
{
    wait_n *w = arg;
    return ceb_testhost_dead_lettered_count(w->ti) >= w->n;
}

/* clients connected to the server (ours + the test's) */
static bool clients_at_least(void *arg)
{
    wait_n *w = arg;
    redisReply *r = redisCommand(w->f->c, "CLIENT LIST");
    size_t n = 0;
    if (r != NULL && r->type == REDIS_REPLY_STRING)
        for (const char *p = r->str; (p = strstr(p, "cmd=")) != NULL; p++)
            if (w->conn_check == NULL || strncmp(p + 4, w->conn_check, strlen(w->conn_check)) == 0)
                n++;
    if (r)
        freeReplyObject(r);
    return n >= w->n;
}

static bool logged_reconnect(void *arg)
{
    wait_n *w = arg;
    return ceb_testhost_log_contains(w->f->th, "reconnecting in");
}

static bool pending_zero(void *arg)
{
    wait_n *w = arg;
    redisReply *r = redisCommand(w->f->c, "XPENDING s g");
    bool z = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             r->element[0]->integer == 0;
    if (r)
        freeReplyObject(r);
    return z;
}

static bool llen_zero(void *arg)
{
    wait_n *w = arg;
    redisReply *r = redisCommand(w->f->c, "LLEN q:processing:c1");
    bool z = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    if (r)
        freeReplyObject(r);
    return z;
}

static void stop_inst(fx *f, ceb_testhost_inst *ti)
{
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);
    assert_null(ceb_testhost_violation(f->th));
}

/* ---- config ---------------------------------------------------------------- */

static void expect_create_error(fx *f, const char *json, const char *field, const char *msg)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_not_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "bad", json,
                                             &ti, &d), 0);
    assert_string_equal(d.field, field);
    assert_string_equal(d.message, msg);
}

static void test_config_errors(void **st)
{
    fx *f = *st;
    expect_create_error(f, "{}", "", "one of channels, patterns, list or stream is required");
    expect_create_error(f, "{\"channels\":[\"a\"],\"stream\":\"s\"}", "",
                        "channels/patterns, list and stream exclude each other: one kind of "
                        "input per instance");
    expect_create_error(f, "{\"channels\":[\"a\"],\"format\":\"binary\"}", "format",
                        "format \"binary\" is for stream entries only");
    expect_create_error(f, "{\"url\":\"http://x\",\"channels\":[\"a\"]}", "url",
                        "url must start with redis:// or unix:// (got \"http://x\")");
    expect_create_error(f, "{\"url\":\"redis://h:99999\",\"channels\":[\"a\"]}", "url",
                        "bad port in url (1..65535)");
    expect_create_error(f, "{\"url\":\"redis://h/x\",\"channels\":[\"a\"]}", "url",
                        "database after / must be a number 0..65535");
    expect_create_error(f, "{\"url\":\"unix://rel\",\"channels\":[\"a\"]}", "url",
                        "unix url needs an absolute path: unix:///path/to/redis.sock");
}

/* ---- pub/sub --------------------------------------------------------------- */

static const unsigned char FS_BIN[] = {
    0x89, 'B', 'I', 'N', '\r', '\n', 0x1a, '\n', 0x00, 0x01, 0, 0, 0, 18, 0, 0, 0, 52, 0, 1,
    0, 12, 'c', 'o', 'n', 't', 'e', 'n', 't', '-', 't', 'y', 'p', 'e',
    0, 16, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'j', 's', 'o', 'n',
    '{', '"', 'k', '"', ':', '1', '}'};

#define CE(id) "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"/t\",\"type\":\"t.ce\"}"

static void test_pubsub(void **st)
{
    fx *f = *st;
    ceb_testhost_inst *ti = make(f, "{\"url\":\"%s\",\"channels\":[\"main\"],"
                                    "\"patterns\":[\"ci.*\"]}", f->srv.url);
    wait_n w = {ti, 2, f, "psubscribe"};
    w.n = 1;
    assert_int_equal(ceb_testhost_run(f->th, clients_at_least, &w, 10000), 0);
    cmd(f, "PUBLISH main %s", CE("p1"));
    cmd(f, "PUBLISH ci.build plain-text");
    cmd(f, "PUBLISH main %b", FS_BIN, sizeof FS_BIN);
    cmd(f, "PUBLISH main %s", "{\"data\":\"" "{\\\"specversion\\\":\\\"1.0\\\",\\\"id\\\":\\\"j1\\\","
                              "\\\"source\\\":\\\"/f\\\",\\\"type\\\":\\\"t.fs\\\"}\","
                              "\"headers\":{\"content-type\":\"application/json\"}}");
    cmd(f, "PUBLISH other ignored");
    w.n = 4;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    const ceb_event *e0 = ceb_testhost_emitted(ti, 0);
    assert_string_equal(ceb_event_id(e0), "p1");
    const ceb_event *e1 = ceb_testhost_emitted(ti, 1);
    assert_string_equal(ceb_event_type(e1), "dev.cebridge.redis.message");
    assert_string_equal(ceb_event_subject(e1), "ci.build");
    assert_string_equal(ceb_event_source(e1), f->srv.url[0] ? ceb_event_source(e1) : "");
    size_t len;
    const char *data = ceb_event_data(e1, &len);
    assert_int_equal(len, 10);
    assert_memory_equal(data, "plain-text", 10);
    const ceb_event *e2 = ceb_testhost_emitted(ti, 2);   /* binary envelope, JSON body: wrapped */
    assert_string_equal(ceb_event_datacontenttype(e2), "application/json");
    data = ceb_event_data(e2, &len);
    assert_memory_equal(data, "{\"k\":1}", 7);
    const ceb_event *e3 = ceb_testhost_emitted(ti, 3);   /* JSON envelope around a CE */
    assert_string_equal(ceb_event_id(e3), "j1");
    assert_string_equal(ceb_event_type(e3), "t.fs");
    assert_int_equal(ceb_testhost_emitted_count(ti), 4);
    stop_inst(f, ti);
}

static void test_pubsub_strict_dead_letter(void **st)
{
    fx *f = *st;
    ceb_testhost_inst *ti = make(f, "{\"url\":\"%s\",\"channels\":[\"main\"],\"strict\":true}",
                                 f->srv.url);
    wait_n w = {ti, 1, f, "subscribe"};
    assert_int_equal(ceb_testhost_run(f->th, clients_at_least, &w, 10000), 0);
    cmd(f, "PUBLISH main %s", "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\",\"type\":\"t\"}");
    /* a broken binary envelope is a decode error, never treated as raw */
    cmd(f, "PUBLISH main %b", FS_BIN, (size_t)30);
    w.n = 2;
    assert_int_equal(ceb_testhost_run(f->th, dl_at_least, &w, 10000), 0);
    const char *reason = NULL;
    ceb_testhost_dead_lettered(ti, 1, &reason);
    assert_non_null(strstr(reason, "undecodable message on main: data offset 52 past the end"));
    assert_int_equal(ceb_testhost_emitted_count(ti), 0);
    stop_inst(f, ti);
}

/* ---- streams --------------------------------------------------------------- */

static void test_stream_formats_and_xack(void **st)
{
    fx *f = *st;
    cmd(f, "XADD s * event %s", CE("s1"));
    cmd(f, "XADD s * ce_specversion 1.0 ce_id s2 ce_source /b ce_type t.bin "
           "content-type application/json data {\"v\":2}");
    cmd(f, "XADD s * __data__ %b", FS_BIN, sizeof FS_BIN);
    cmd(f, "XADD s * user ann n 3");
    ceb_testhost_inst *ti = make(f, "{\"url\":\"%s\",\"stream\":\"s\",\"group\":\"g\","
                                    "\"consumer\":\"c1\",\"start\":\"0\"}", f->srv.url);
    wait_n w = {ti, 4, f, NULL};
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 0)), "s1");
    const ceb_event *b = ceb_testhost_emitted(ti, 1);
    assert_string_equal(ceb_event_id(b), "s2");
    assert_int_equal(ceb_event_data_kind(b), CEB_DATA_JSON);
    size_t len;
    const char *data = ceb_event_data(ceb_testhost_emitted(ti, 2), &len);
    assert_memory_equal(data, "{\"k\":1}", 7);
    data = ceb_event_data(ceb_testhost_emitted(ti, 3), &len);
    assert_int_equal(len, strlen("{\"user\":\"ann\",\"n\":\"3\"}"));
    assert_memory_equal(data, "{\"user\":\"ann\",\"n\":\"3\"}", len);
    assert_int_equal(ceb_testhost_run(f->th, pending_zero, &w, 10000), 0);

    /* more while running, in one batch or several */
    for (int i = 0; i < 1200; i++)
        cmd(f, "XADD s * event %s", CE("many"));
    w.n = 1204;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 20000), 0);
    assert_int_equal(ceb_testhost_run(f->th, pending_zero, &w, 10000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 1204);
    stop_inst(f, ti);
}

static void test_stream_claim_and_max_deliveries(void **st)
{
    fx *f = *st;
    cmd(f, "XGROUP CREATE s g $ MKSTREAM");
    ceb_testhost_inst *ti = make(f, "{\"url\":\"%s\",\"stream\":\"s\",\"group\":\"g\","
                                    "\"consumer\":\"c1\",\"claim_idle\":\"200ms\","
                                    "\"max_deliveries\":2}", f->srv.url);
    ceb_testhost_set_auto_ack(ti, false, 0);
    wait_n w = {ti, 2, f, "xreadgroup"};
    w.n = 1;
    assert_int_equal(ceb_testhost_run(f->th, clients_at_least, &w, 10000), 0);
    cmd(f, "XADD s * event %s", CE("c1"));
    w.n = 1;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    /* nack: stays pending, claimed again after claim_idle (delivery 2) */
    assert_int_equal(ceb_testhost_ack_pending(ti, -1), 1);
    w.n = 2;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 1)), "c1");
    assert_int_equal(ceb_testhost_ack_pending(ti, -1), 1);
    /* delivery 3 > max_deliveries 2: dead letter, then XACK */
    w.n = 1;
    assert_int_equal(ceb_testhost_run(f->th, dl_at_least, &w, 10000), 0);
    const char *reason = NULL;
    const ceb_event *dl = ceb_testhost_dead_lettered(ti, 0, &reason);
    assert_string_equal(ceb_event_id(dl), "c1");
    assert_string_equal(reason, "delivered 3 times (max_deliveries 2)");
    assert_int_equal(ceb_testhost_ack_pending(ti, 0), 1);
    assert_int_equal(ceb_testhost_run(f->th, pending_zero, &w, 10000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 2);
    stop_inst(f, ti);
}

static void test_stream_server_restart(void **st)
{
    fx *f = *st;
    ceb_testhost_inst *ti = make(f, "{\"url\":\"%s\",\"stream\":\"s\",\"group\":\"g\","
                                    "\"consumer\":\"c1\",\"block\":\"200ms\","
                                    "\"reconnect_max\":\"200ms\"}", f->srv.url);
    wait_n w = {ti, 1, f, "xreadgroup"};
    assert_int_equal(ceb_testhost_run(f->th, clients_at_least, &w, 10000), 0);
    cmd(f, "XADD s * event %s", CE("r1"));
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    int port = f->srv.port;
    redisFree(f->c);
    redis_srv_stop(&f->srv);
    /* let the plugin notice and fail a reconnect or two */
    wait_n lw = {ti, 0, f, NULL};
    assert_int_equal(ceb_testhost_run(f->th, logged_reconnect, &lw, 10000), 0);
    assert_int_equal(redis_srv_start(&f->srv, port), 0);
    f->c = redis_srv_client(&f->srv);
    assert_non_null(f->c);
    /* the stream and group are gone (no persistence): the source recreates
       the group from 0 and reads what is added now */
    cmd(f, "XADD s * event %s", CE("r2"));
    w.n = 2;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 15000), 0);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 1)), "r2");
    assert_true(ceb_testhost_log_contains(f->th, "recreating it from 0"));
    assert_int_equal(ceb_testhost_run(f->th, pending_zero, &w, 10000), 0);
    stop_inst(f, ti);
}

/* ---- stopping with acknowledgements in flight --------------------------------- */

/* `n` structured entries in one pipeline. */
static void fill_stream(fx *f, int n)
{
    for (int i = 0; i < n; i++)
        redisAppendCommand(f->c, "XADD s * event %s", CE("fill"));
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(f->c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
}

static long long pending_count(fx *f)
{
    return cmd_int(f, "XPENDING s g");
}

static ceb_testhost_inst *read_all_unacked(fx *f, int n)
{
    ceb_testhost_inst *ti = make(f, "{\"url\":\"%s\",\"stream\":\"s\",\"group\":\"g\","
                                    "\"consumer\":\"c1\",\"start\":\"0\",\"count\":500,"
                                    "\"block\":\"100ms\"}", f->srv.url);
    ceb_testhost_set_auto_ack(ti, false, 0);
    wait_n w = {ti, (size_t)n, f, NULL};
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 20000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), (size_t)n);
    assert_int_equal(ceb_testhost_batches(ti), (size_t)n / 500);
    assert_int_equal(pending_count(f), n);
    return ti;
}

/* Entries "seq-<from>".."seq-<to - 1>" in one pipeline. */
static void fill_seq(fx *f, int from, int to)
{
    for (int i = from; i < to; i++)
        redisAppendCommand(f->c, "XADD s * event {\"specversion\":\"1.0\",\"id\":\"seq-%d\","
                                 "\"source\":\"/t\",\"type\":\"t.ce\"}", i);
    for (int i = from; i < to; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(f->c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
}

/* Two XREADGROUPs outstanding, small COUNT: every entry exactly once and
   in stream order, across the switch from our pending history (read one
   at a time) to new entries, and with entries added while reading. */
static void test_stream_pipelined_reads_keep_order(void **st)
{
    fx *f = *st;
    fill_seq(f, 0, 40);
    const char *conf = "{\"url\":\"%s\",\"stream\":\"s\",\"group\":\"g\","
                       "\"consumer\":\"c1\",\"start\":\"0\",\"count\":7,"
                       "\"block\":\"50ms\"}";
    /* first run: the 40 are not delivered (ack < 0): they stay pending */
    ceb_testhost_inst *ti = make(f, conf, f->srv.url);
    ceb_testhost_set_auto_ack(ti, true, CEB_EIO);
    wait_n w = {ti, 40, f, NULL};
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 40);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(pending_count(f), 40);

    /* second run: the 40 pending again (history), then 0..259 new ones */
    fill_seq(f, 40, 200);
    ti = make(f, conf, f->srv.url);
    w = (wait_n){ti, 200, f, NULL};
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    fill_seq(f, 200, 300);
    w.n = 300;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    assert_int_equal(ceb_testhost_run(f->th, pending_zero, &w, 10000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 300);
    for (int i = 0; i < 300; i++) {
        char want[32];
        snprintf(want, sizeof want, "seq-%d", i);
        assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, (size_t)i)), want);
    }
    stop_inst(f, ti);
}

/* stop() right after acks: 1000 ids already sent as XACK (reply not read
   yet), 500 queued behind the coalescing timer. Both must be XACKed before
   stopped(), and nothing may run after it (ASan/UBSan builds check). */
static void test_stream_stop_with_xack_in_flight(void **st)
{
    fx *f = *st;
    fill_stream(f, 1500);
    ceb_testhost_inst *ti = read_all_unacked(f, 1500);
    assert_int_equal(ceb_testhost_ack_next(ti, 2, 0), 2);   /* XACK of 1000 ids written */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, 0), 1);   /* 500 ids wait for the flush */
    stop_inst(f, ti);
    assert_int_equal(pending_count(f), 0);
}

/* stop() with every batch unacknowledged: the acks arrive while stopping
   (auto ack on the next iteration) and are flushed before stopped(). */
static void test_stream_acks_after_stop(void **st)
{
    fx *f = *st;
    fill_stream(f, 1500);
    ceb_testhost_inst *ti = read_all_unacked(f, 1500);
    ceb_testhost_set_auto_ack(ti, true, 0);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    assert_int_equal(ceb_testhost_acked(ti), 3);
    ceb_testhost_destroy(ti);
    assert_null(ceb_testhost_violation(f->th));
    assert_int_equal(pending_count(f), 0);
}

/* The server dies with an XACK in flight, then stop(): hiredis hands the
   XACK reply NULL, the ids stay pending (delivered again: at-least-once),
   and stopped() still comes once both connections are closed. */
static void test_stream_stop_server_gone_with_xack_in_flight(void **st)
{
    fx *f = *st;
    fill_stream(f, 1000);
    ceb_testhost_inst *ti = read_all_unacked(f, 1000);
    int port = f->srv.port;
    redisFree(f->c);
    f->c = NULL;
    redis_srv_stop(&f->srv);
    assert_int_equal(ceb_testhost_ack_next(ti, 2, 0), 2);   /* 1000 ids: XACK to a dead server */
    stop_inst(f, ti);
    assert_true(ceb_testhost_log_contains(f->th, "not XACKed"));
    /* a server for the teardown */
    assert_int_equal(redis_srv_start(&f->srv, port), 0);
    f->c = redis_srv_client(&f->srv);
    assert_non_null(f->c);
}

/* ---- lists ----------------------------------------------------------------- */

static void test_list_reliable_queue(void **st)
{
    fx *f = *st;
    /* left over by a dead consumer "old" (no liveness key) and by ourselves */
    cmd(f, "RPUSH q:processing:old %s", CE("dead1"));
    cmd(f, "RPUSH q:processing:c1 %s", CE("mine1"));
    cmd(f, "RPUSH q %s", CE("l1"));
    ceb_testhost_inst *ti = make(f, "{\"url\":\"%s\",\"list\":\"q\",\"consumer\":\"c1\","
                                    "\"block\":\"200ms\"}", f->srv.url);
    ceb_testhost_set_auto_ack(ti, false, 0);
    wait_n w = {ti, 3, f, NULL};
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 0)), "mine1");
    /* dead consumer's element was moved to the head of the list */
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 1)), "dead1");
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 2)), "l1");
    assert_int_equal(cmd_int(f, "LLEN q:processing:c1"), 3);
    assert_int_equal(cmd_int(f, "EXISTS q:processing:old"), 0);
    /* nack the first: back to the list, delivered again */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, -1), 1);
    w.n = 4;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 10000), 0);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 3)), "mine1");
    assert_int_equal(ceb_testhost_ack_pending(ti, 0), 3);
    assert_int_equal(ceb_testhost_run(f->th, llen_zero, &w, 10000), 0);
    assert_int_equal(cmd_int(f, "LLEN q"), 0);
    stop_inst(f, ti);
    assert_int_equal(cmd_int(f, "EXISTS q:consumer:c1"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubsub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_strict_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_formats_and_xack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_claim_and_max_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_server_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_pipelined_reads_keep_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_stop_with_xack_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_acks_after_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_stop_server_gone_with_xack_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list_reliable_queue, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
