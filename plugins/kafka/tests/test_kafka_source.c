/* Tests of the kafka plugin's source, loaded from kafka.so into the test host,
   against an in-process librdkafka mock cluster. The first message reaches a
   new group member about 3 s after it starts (group join): every wait below
   runs the loop until a condition or a generous deadline. */
#include "kafka_fixture.h"

static ceb_testhost_inst *source(kfx *f, const char *name, const char *extra_json, bool auto_ack)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"brokers\": \"%s\", \"commit_interval\": \"50ms\", %s}",
             f->brokers, extra_json);
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    if (ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, name, json, &ti, &d) != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    ceb_testhost_set_auto_ack(ti, auto_ack, 0);
    assert_int_equal(ceb_testhost_start(ti), 0);
    return ti;
}

typedef struct wait_n {
    ceb_testhost_inst *ti;
    size_t n;
} wait_n;

static bool emitted_at_least(void *arg)
{
    wait_n *w = arg;
    return ceb_testhost_emitted_count(w->ti) >= w->n;
}

static bool batches_at_least(void *arg)
{
    wait_n *w = arg;
    return ceb_testhost_batches(w->ti) >= w->n;
}

static void wait_emitted(kfx *f, ceb_testhost_inst *ti, size_t n)
{
    wait_n w = {ti, n};
    if (ceb_testhost_run(f->th, emitted_at_least, &w, 30000) != 0)
        fail_msg("emitted %zu of %zu", ceb_testhost_emitted_count(ti), n);
}

/* The group's committed offset of topic[partition] (-1001 when none). */
static int64_t committed(kfx *f, const char *group, const char *topic, int32_t partition)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    kfx_conf(c, "bootstrap.servers", f->brokers);
    kfx_conf(c, "group.id", group);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

static void test_config_errors(void **state)
{
    kfx *f = *state;
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "x",
                                         "{\"brokers\": \"b:1\", \"topics\": [\"t\"], "
                                         "\"group\": \"\"}", &ti, &d), CEB_ECONFIG);
    assert_string_equal(d.field, "group");
    assert_string_equal(d.message, "the consumer group cannot be empty");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "x",
                                         "{\"brokers\": \"b:1\", \"topics\": [\"\"], "
                                         "\"group\": \"g\"}", &ti, &d), CEB_ECONFIG);
    assert_string_equal(d.field, "topics");
    assert_string_equal(d.message, "topic names cannot be empty");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "x",
                                         "{\"brokers\": \"b:1\", \"topics\": [\"t\"], "
                                         "\"group\": \"g\", \"librdkafka\": "
                                         "{\"session.timeout.ms\": \"soon\"}}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "librdkafka");
    assert_non_null(strstr(d.message, "session.timeout.ms: "));
}

/* Binary, structured, outbox-shaped (repaired) and plain (wrapped) records. */
static void test_decode_kinds_and_commit(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "in", 1);
    const char *bin[] = {"ce_specversion=1.0", "ce_type=t.bin", "ce_source=/s", "ce_id=b1",
                         "content-type=application/json", NULL};
    kfx_produce(f, "in", 0, "k1", "{\"a\":1}", bin);
    const char *st[] = {"content-type=application/cloudevents+json", NULL};
    kfx_produce(f, "in", 0, NULL,
                "{\"specversion\":\"1.0\",\"type\":\"t.st\",\"source\":\"/s\",\"id\":\"s1\"}", st);
    kfx_produce(f, "in", 0, "r1",
                "{\"specversion\":\"1.0\",\"type\":\"t.out\",\"source\":\"\",\"id\":\"o1\"}",
                NULL);
    kfx_produce(f, "in", 0, "k4", "plain text", NULL);
    /* "specversion" spelled with an escape is still a CloudEvent-shaped value */
    kfx_produce(f, "in", 0, NULL,
                "{\"\\u0073pecversion\":\"1.0\",\"type\":\"t.esc\",\"source\":\"/e\","
                "\"id\":\"e1\"}", NULL);
    /* JSON without specversion: wrapped, not parsed as an event */
    kfx_produce(f, "in", 0, NULL, "{\"seq\":1,\"version\":\"spec\"}", NULL);

    ceb_testhost_inst *ti = source(f, "kin", "\"topics\": [\"in\"], \"group\": \"g1\", "
                                             "\"defaults\": {\"subject\": \"{topic}/{offset}\"}",
                                   true);
    wait_emitted(f, ti, 6);
    const ceb_event *e = ceb_testhost_emitted(ti, 0);
    assert_string_equal(ceb_event_id(e), "b1");
    assert_string_equal(ceb_event_get(e, "partitionkey"), "k1");
    e = ceb_testhost_emitted(ti, 1);
    assert_string_equal(ceb_event_id(e), "s1");
    assert_null(ceb_event_get(e, "partitionkey"));
    e = ceb_testhost_emitted(ti, 2);
    assert_string_equal(ceb_event_id(e), "o1");
    assert_string_equal(ceb_event_source(e), "kafka://in");
    assert_string_equal(ceb_event_get(e, "partitionkey"), "r1");
    e = ceb_testhost_emitted(ti, 3);
    assert_string_equal(ceb_event_type(e), "dev.cebridge.kafka.message");
    assert_string_equal(ceb_event_source(e), "kafka://in");
    assert_string_equal(ceb_event_subject(e), "in/3");
    assert_string_equal(ceb_event_get(e, "partitionkey"), "k4");
    size_t len;
    const void *data = ceb_event_data(e, &len);
    assert_int_equal(len, 10);
    assert_memory_equal(data, "plain text", 10);
    e = ceb_testhost_emitted(ti, 4);
    assert_string_equal(ceb_event_id(e), "e1");
    assert_string_equal(ceb_event_type(e), "t.esc");
    e = ceb_testhost_emitted(ti, 5);
    assert_string_equal(ceb_event_type(e), "dev.cebridge.kafka.message");
    data = ceb_event_data(e, &len);
    assert_int_equal(len, 26);
    assert_memory_equal(data, "{\"seq\":1,\"version\":\"spec\"}", 26);
    assert_true(ceb_testhost_metric_value(f->th, "kafka_source_wrapped_total", NULL) == 2);
    assert_true(ceb_testhost_metric_value(f->th, "kafka_source_repaired_total", NULL) == 1);
    assert_int_equal(ceb_testhost_stop(ti, 20000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(committed(f, "g1", "in", 0), 6);
}

/* strict: the empty source goes to the dead letter and is committed once
   the dead letter is acknowledged. */
static void test_strict_dead_letter(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "outbox", 1);
    kfx_produce(f, "outbox", 0, "r1",
                "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"\",\"id\":\"o1\"}", NULL);
    ceb_testhost_inst *ti = source(f, "kin", "\"topics\": [\"outbox\"], \"group\": \"g2\", "
                                             "\"strict\": true", true);
    wait_n w = {ti, 1};
    assert_int_equal(ceb_testhost_run(f->th, batches_at_least, &w, 30000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 0);
    assert_int_equal(ceb_testhost_dead_lettered_count(ti), 1);
    const char *reason = NULL;
    const ceb_event *dl = ceb_testhost_dead_lettered(ti, 0, &reason);
    assert_non_null(dl);
    assert_non_null(strstr(reason, "source"));
    assert_int_equal(ceb_testhost_stop(ti, 20000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(committed(f, "g2", "outbox", 0), 1);
}

static void assert_data(ceb_testhost_inst *ti, size_t i, const char *want)
{
    size_t len;
    const char *d = ceb_event_data(ceb_testhost_emitted(ti, i), &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
}

/* Offsets are committed in order: a failed batch is not committed, the
   partition is re-read from its first offset, and at stop only the finished
   prefix counts. Each message is produced after the previous one was
   emitted, so each is a batch of its own. */
static void test_ordered_commit_and_rewind(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "ord", 1);
    ceb_testhost_inst *ti = source(f, "kin", "\"topics\": [\"ord\"], \"group\": \"g3\", "
                                             "\"rewind_backoff\": \"10ms\"", false);
    for (size_t i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof v, "m%zu", i);
        kfx_produce(f, "ord", 0, "k", v, NULL);
        wait_emitted(f, ti, i + 1);
    }
    assert_int_equal(ceb_testhost_batches(ti), 3);
    assert_int_equal(ceb_testhost_ack_next(ti, 1, 0), 1);       /* m0 done */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, CEB_EIO), 1); /* m1 failed */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, 0), 1);       /* m2 done, after a failure */
    wait_emitted(f, ti, 5); /* m1 and m2 again */
    assert_data(ti, 3, "m1");
    assert_data(ti, 4, "m2");
    /* m1 not done yet: only m0 may be committed */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, CEB_ECANCELED), 1);
    ceb_testhost_ack_pending(ti, 0);
    assert_int_equal(ceb_testhost_stop(ti, 20000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(committed(f, "g3", "ord", 0), 1);
}

/* Messages already waiting are emitted many per batch (a run of one
   partition's messages in one loop turn); a failed batch is re-read whole
   from its first offset; the commit covers every batch. */
static void test_batches_fail_and_commit_whole(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "bat", 1);
    enum { N = 40 };
    for (int i = 0; i < N; i++) {
        char v[16];
        snprintf(v, sizeof v, "b%d", i);
        kfx_produce(f, "bat", 0, NULL, v, NULL);
    }
    ceb_testhost_inst *ti = source(f, "kin", "\"topics\": [\"bat\"], \"group\": \"g5\", "
                                             "\"rewind_backoff\": \"10ms\"", false);
    wait_emitted(f, ti, N);
    /* how many batches depends on how fast librdkafka queues the fetched
       messages; whatever the split, the first batch starts at offset 0 */
    assert_true(ceb_testhost_batches(ti) >= 1 && ceb_testhost_batches(ti) <= N);
    /* fail the first batch, finish the others: everything is read again */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, CEB_EIO), 1);
    ceb_testhost_ack_pending(ti, 0);
    wait_emitted(f, ti, 2 * N);
    for (int i = 0; i < N; i++) {
        char v[16];
        snprintf(v, sizeof v, "b%d", i);
        assert_data(ti, (size_t)(N + i), v);
    }
    ceb_testhost_ack_pending(ti, 0);
    assert_int_equal(ceb_testhost_stop(ti, 20000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(committed(f, "g5", "bat", 0), N);
}

/* Per-key order over 3 partitions, backpressure pause/resume in between. */
static void test_keys_in_order_with_pause(void **state)
{
    kfx *f = *state;
    kfx_topic(f, "keys", 3);
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    kfx_conf(c, "bootstrap.servers", f->brokers);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    assert_non_null(p);
    enum { KEYS = 10, PER_KEY = 30 };
    for (int i = 0; i < PER_KEY; i++)
        for (int k = 0; k < KEYS; k++) {
            char key[8], val[16];
            snprintf(key, sizeof key, "k%d", k);
            snprintf(val, sizeof val, "%d", i);
            assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("keys"),
                                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                               RD_KAFKA_V_KEY(key, strlen(key)),
                                               RD_KAFKA_V_VALUE(val, strlen(val)),
                                               RD_KAFKA_V_END), 0);
        }
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);

    ceb_testhost_inst *ti = source(f, "kin", "\"topics\": [\"^ke.s$\"], \"group\": \"g4\"", true);
    wait_emitted(f, ti, 1);
    ceb_testhost_pause(ti);
    ceb_testhost_run(f->th, NULL, NULL, 300);
    ceb_testhost_resume(ti);
    wait_emitted(f, ti, KEYS * PER_KEY);
    int next[KEYS] = {0};
    for (size_t i = 0; i < ceb_testhost_emitted_count(ti); i++) {
        const ceb_event *e = ceb_testhost_emitted(ti, i);
        int k = atoi(ceb_event_get(e, "partitionkey") + 1);
        size_t len;
        const char *d = ceb_event_data(e, &len);
        char v[16];
        snprintf(v, sizeof v, "%.*s", (int)len, d);
        assert_int_equal(atoi(v), next[k]);
        next[k]++;
    }
    for (int k = 0; k < KEYS; k++)
        assert_int_equal(next[k], PER_KEY);
    assert_int_equal(ceb_testhost_stop(ti, 20000), 0);
    ceb_testhost_destroy(ti);
    int64_t total = 0;
    for (int part = 0; part < 3; part++)
        total += committed(f, "g4", "keys", part) > 0 ? committed(f, "g4", "keys", part) : 0;
    assert_int_equal(total, KEYS * PER_KEY);
}

/* Produce records first..first+n-1 (the value, decimal) over `parts`
   partitions (value % parts, key "p<partition>") with one producer:
   kfx_produce makes one client per record. */
static void produce_many(kfx *f, const char *topic, int parts, int first, int n)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    kfx_conf(c, "bootstrap.servers", f->brokers);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    assert_non_null(p);
    for (int i = first; i < first + n; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "p%d", i % parts);
        snprintf(val, sizeof val, "%d", i);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                           RD_KAFKA_V_PARTITION(i % parts),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_KEY(key, strlen(key)),
                                           RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_END),
                         0);
        if (i % 1000 == 999)
            rd_kafka_poll(p, 0);
    }
    assert_int_equal(rd_kafka_flush(p, 30000), 0);
    rd_kafka_destroy(p);
}

static int data_int(const ceb_event *e)
{
    size_t len;
    const char *d = ceb_event_data(e, &len);
    char v[16];
    snprintf(v, sizeof v, "%.*s", (int)(len < 15 ? len : 15), d);
    return atoi(v);
}

/* Plain records wrapped on the decode thread (no per-record subject): in
   order, each counted once in kafka_source_wrapped_total, which the loop
   updates once per job of records taken back. */
static void test_wrapped_on_decode_thread(void **state)
{
    kfx *f = *state;
    enum { N = 700 }; /* three jobs, the last one partial */
    kfx_topic(f, "plain", 1);
    produce_many(f, "plain", 1, 0, N);
    ceb_testhost_inst *ti = source(f, "kin", "\"topics\": [\"plain\"], \"group\": \"g9\"", true);
    wait_emitted(f, ti, N);
    assert_int_equal(ceb_testhost_emitted_count(ti), N);
    for (int i = 0; i < N; i++) {
        const ceb_event *e = ceb_testhost_emitted(ti, (size_t)i);
        assert_int_equal(data_int(e), i);
        assert_string_equal(ceb_event_type(e), "dev.cebridge.kafka.message");
        assert_string_equal(ceb_event_source(e), "kafka://plain");
        assert_string_equal(ceb_event_get(e, "partitionkey"), "p0");
        assert_int_equal(strlen(ceb_event_id(e)), 36);
    }
    assert_true(ceb_testhost_metric_value(f->th, "kafka_source_wrapped_total", NULL) == N);
    assert_true(ceb_testhost_metric_value(f->th, "kafka_source_repaired_total", NULL) < 0);
    assert_int_equal(ceb_testhost_stop(ti, 20000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(committed(f, "g9", "plain", 0), N);
}

/* A second member joins while the first is busy decoding (records in flight
   at its decode thread): every record is emitted by one member or the
   other, each member's records of a partition come in offset order except
   where a rebalance makes it re-read, and once both stop every partition is
   committed to its end. */
static void test_rebalance_while_decoding(void **state)
{
    kfx *f = *state;
    enum { PARTS = 4, N = 10000, CHUNK = 2000, MAX = 200000 };
    kfx_topic(f, "reb", PARTS);
    produce_many(f, "reb", PARTS, 0, N);
    int total = N;
    /* librdkafka 2.0's mock completes a rebalance only after a session
       timeout: keep it short */
    static const char cfg[] = "\"topics\": [\"reb\"], \"group\": \"g6\", \"librdkafka\": "
                              "{\"session.timeout.ms\": 6000, \"max.poll.interval.ms\": 10000}";
    ceb_testhost_inst *a = source(f, "ka", cfg, true);
    wait_emitted(f, a, 1);
    ceb_testhost_inst *b = source(f, "kb", cfg, true);
    ceb_testhost_inst *members[2] = {a, b};
    unsigned char *seen = calloc(MAX, 1);
    assert_non_null(seen);
    size_t distinct = 0, done[2] = {0, 0}, rereads = 0;
    int last[2][PARTS];
    memset(last, 0xff, sizeof last); /* -1 */
    for (int turn = 0; turn < 6000 && distinct < (size_t)total; turn++) {
        /* until B is in, keep A busy: a chunk lands before each loop turn */
        if (ceb_testhost_emitted_count(b) == 0 && total + CHUNK <= MAX) {
            produce_many(f, "reb", PARTS, total, CHUNK);
            total += CHUNK;
        }
        ceb_testhost_run(f->th, NULL, NULL, 10);
        for (int mi = 0; mi < 2; mi++)
            for (; done[mi] < ceb_testhost_emitted_count(members[mi]); done[mi]++) {
                const ceb_event *e = ceb_testhost_emitted(members[mi], done[mi]);
                int part = atoi(ceb_event_get(e, "partitionkey") + 1);
                int v = data_int(e);
                assert_true(part >= 0 && part < PARTS && v >= 0 && v < total &&
                            v % PARTS == part);
                if (v <= last[mi][part])
                    rereads++;
                last[mi][part] = v;
                if (!seen[v]++)
                    distinct++;
            }
    }
    free(seen);
    assert_int_equal(distinct, total);
    assert_true(done[1] > 0); /* B did get partitions */
    /* a member re-reads only from a committed offset, once a partition a
       rebalance; a record decoded before a rebalance and taken after it
       would show as one more */
    assert_true(rereads <= 2 * PARTS);
    assert_int_equal(ceb_testhost_stop(a, 20000), 0);
    assert_int_equal(ceb_testhost_stop(b, 20000), 0);
    ceb_testhost_destroy(a);
    ceb_testhost_destroy(b);
    /* a commit sent while the group rebalances may fail ("rebalance in
       progress") and is then re-read by the next owner: never beyond what
       was done, and a new member reads exactly the rest */
    int64_t sum = 0, at[PARTS];
    for (int part = 0; part < PARTS; part++) {
        at[part] = committed(f, "g6", "reb", part);
        assert_true(at[part] >= 0 && at[part] <= total / PARTS);
        sum += at[part];
    }
    if (sum < total) {
        ceb_testhost_inst *c = source(f, "kc", cfg, true);
        wait_emitted(f, c, (size_t)(total - sum));
        ceb_testhost_run(f->th, NULL, NULL, 200);
        assert_int_equal(ceb_testhost_emitted_count(c), (size_t)(total - sum));
        for (size_t i = 0; i < ceb_testhost_emitted_count(c); i++) {
            int v = data_int(ceb_testhost_emitted(c, i));
            assert_true(v / PARTS >= at[v % PARTS]); /* offset v / PARTS */
        }
        assert_int_equal(ceb_testhost_stop(c, 20000), 0);
        ceb_testhost_destroy(c);
    }
}

/* A batch fails while later records of its partition are still being
   decoded: those are dropped, the partition is re-read from the failed
   batch's first offset, and in the end the re-read is the whole partition
   in order and everything is committed. */
static void test_rewind_while_decoding(void **state)
{
    kfx *f = *state;
    enum { N = 5000 };
    kfx_topic(f, "rwd", 1);
    produce_many(f, "rwd", 1, 0, N);
    ceb_testhost_inst *ti = source(f, "kin", "\"topics\": [\"rwd\"], \"group\": \"g7\", "
                                             "\"rewind_backoff\": \"10ms\"", false);
    wait_n w = {ti, 1};
    if (ceb_testhost_run(f->th, batches_at_least, &w, 30000) != 0)
        fail_msg("no batch");
    assert_int_equal(data_int(ceb_testhost_emitted(ti, 0)), 0);
    assert_int_equal(ceb_testhost_ack_next(ti, 1, CEB_EIO), 1);
    /* ack everything else until a complete re-read from 0 is seen */
    size_t restart = 0;
    for (int turn = 0; turn < 3000; turn++) {
        ceb_testhost_ack_pending(ti, 0);
        ceb_testhost_run(f->th, NULL, NULL, 10);
        size_t n = ceb_testhost_emitted_count(ti);
        for (size_t i = restart + 1; i < n; i++)
            if (data_int(ceb_testhost_emitted(ti, i)) == 0)
                restart = i;
        if (restart > 0 && n - restart >= N)
            break;
    }
    ceb_testhost_ack_pending(ti, 0);
    assert_true(restart > 0);
    size_t n = ceb_testhost_emitted_count(ti);
    assert_int_equal(n - restart, N); /* nothing after the re-read */
    for (size_t i = 0; i < N; i++)
        assert_int_equal(data_int(ceb_testhost_emitted(ti, restart + i)), (int)i);
    assert_int_equal(ceb_testhost_stop(ti, 20000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(committed(f, "g7", "rwd", 0), N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_errors, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_decode_kinds_and_commit, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_strict_dead_letter, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_ordered_commit_and_rewind, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_keys_in_order_with_pause, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_wrapped_on_decode_thread, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_while_decoding, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_rewind_while_decoding, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_batches_fail_and_commit_whole, kfx_setup,
                                        kfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
