/*
 * kafka-bench-raw: raw librdkafka rates and progress probes for
 * `tools/bench kafka` (tools/bench.d/bench_kafka.py), against any cluster
 * (normally build/bin/kafka-mock).
 *
 *   kafka-bench-raw produce BROKERS TOPIC N [--ce|--binary]
 *       N records keyed k<i % 1000>, value {"seq":i,"pad":"..."}: a plain
 *       record, or with --binary a binary-mode CloudEvent (ce_specversion,
 *       ce_id, ce_source, ce_type and content-type headers); with --ce a
 *       structured CloudEvent as the value. Idempotent producer, acks=all,
 *       as the sink.
 *       Prints "records=N seconds=S" (first produce to last delivery report)
 *       and the steady window (below): the delivery reports of the 10 % and
 *       the 90 % record.
 *   kafka-bench-raw consume BROKERS TOPIC N
 *       Reads every partition from the beginning (assign, no group) until N
 *       records, reading each record as a client of the data would: its
 *       headers (librdkafka parses them on first access; a binary-mode
 *       CloudEvent is its ce_ headers), key and value bytes (a checksum).
 *       queued.min.messages=300000, as the kafka source.
 *       Prints "records=N seconds=S sum=X" (first record to the Nth) and
 *       the steady window: the 10 % record to the 90 % record.
 *   kafka-bench-raw committed BROKERS GROUP TOPIC N TIMEOUT_S
 *   kafka-bench-raw watermarks BROKERS TOPIC N TIMEOUT_S
 *       Polls (every 10 ms) the sum over the topic's partitions of the group's
 *       committed offsets, or of the high watermarks, until it reaches N.
 *       Prints "first=C0 seconds=S": C0 the sum when it was first seen above
 *       0, S the time from then until N; rate = (N - C0) / S; and the steady
 *       window: the first readings at or above 10 % and 90 % of N (their
 *       values' difference and times' difference). Exit 1 on timeout.
 *
 * Steady window: "steady_records=R steady_seconds=T", rate R / T. It leaves
 * out the first and the last tenth of a run: a consumer's start (first
 * fetches, allocator and queue warm-up) and the tail, where the last few
 * partitions finish alone, are a different regime in the raw client and in
 * the bridge, and with a commit every 50 ms the bridge's end point is only
 * known to a commit interval; readings inside the run are known to the 10 ms
 * polling period.
 *   kafka-bench-raw offsets BROKERS GROUP TOPIC
 *       Prints "committed=C": the sum of the group's committed offsets now.
 *
 * Exit status 0, 1 on failure (message on stderr), 2 on usage.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fputs("usage: kafka-bench-raw produce BROKERS TOPIC N [--ce|--binary]\n"
          "       kafka-bench-raw consume BROKERS TOPIC N\n"
          "       kafka-bench-raw committed BROKERS GROUP TOPIC N TIMEOUT_S\n"
          "       kafka-bench-raw watermarks BROKERS TOPIC N TIMEOUT_S\n"
          "       kafka-bench-raw offsets BROKERS GROUP TOPIC\n",
          stderr);
    return 2;
}

static int parse_n(const char *s, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1)
        return -1;
    *out = v;
    return 0;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *brokers, const char *const *props)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK)
        goto bad;
    for (size_t i = 0; props != NULL && props[i] != NULL; i += 2)
        if (rd_kafka_conf_set(c, props[i], props[i + 1], err, sizeof err) != RD_KAFKA_CONF_OK)
            goto bad;
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (rk != NULL)
        return rk;
bad:
    fprintf(stderr, "kafka-bench-raw: %s\n", err);
    rd_kafka_conf_destroy(c);
    return NULL;
}

static long long delivered, failed;
static long long steady_lo, steady_hi; /* the 10 % and 90 % records */
static double steady_t0, steady_t1;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        failed++;
        return;
    }
    if (++delivered == steady_lo)
        steady_t0 = now_s();
    else if (delivered == steady_hi)
        steady_t1 = now_s();
}

enum { PLAIN, STRUCTURED, BINARY };

static int cmd_produce(const char *brokers, const char *topic, long long n, int kind)
{
    static const char *const props[] = {"enable.idempotence", "true", "acks", "all", NULL};
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err);
    for (size_t i = 0; props[i] != NULL; i += 2)
        rd_kafka_conf_set(c, props[i], props[i + 1], err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "kafka-bench-raw: %s\n", err);
        rd_kafka_conf_destroy(c);
        return 1;
    }
    char key[32], val[256], id[32];
    steady_lo = n / 10;
    steady_hi = n - n / 10;
    double t0 = now_s();
    for (long long i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "k%lld", i % 1000);
        int vl = kind == STRUCTURED ? snprintf(val, sizeof val,
                               "{\"specversion\":\"1.0\",\"id\":\"b-%lld\",\"source\":\"/bench\","
                               "\"type\":\"bench.t\",\"data\":{\"seq\":%lld}}", i, i)
                    : snprintf(val, sizeof val,
                               "{\"seq\":%lld,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", i);
        for (;;) {
            rd_kafka_headers_t *h = NULL;
            if (kind == BINARY) {
                h = rd_kafka_headers_new(5);
                snprintf(id, sizeof id, "b-%lld", i);
                rd_kafka_header_add(h, "ce_specversion", -1, "1.0", -1);
                rd_kafka_header_add(h, "ce_id", -1, id, -1);
                rd_kafka_header_add(h, "ce_source", -1, "/bench", -1);
                rd_kafka_header_add(h, "ce_type", -1, "bench.t", -1);
                rd_kafka_header_add(h, "content-type", -1, "application/json", -1);
            }
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(val, (size_t)vl),
                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (h != NULL)
                rd_kafka_headers_destroy(h); /* not taken over on failure */
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "kafka-bench-raw: produce: %s\n", rd_kafka_err2str(e));
                rd_kafka_destroy(rk);
                return 1;
            }
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double t1 = now_s();
    rd_kafka_destroy(rk);
    if (delivered != n) {
        fprintf(stderr, "kafka-bench-raw: %lld of %lld delivered (%lld failed)\n", delivered, n,
                failed);
        return 1;
    }
    printf("records=%lld seconds=%.6f steady_records=%lld steady_seconds=%.6f\n", n, t1 - t0,
           steady_hi - steady_lo, steady_t1 - steady_t0);
    return 0;
}

/* The topic's partition count (metadata), or -1. */
static int partitions_of(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    if (n < 0)
        fprintf(stderr, "kafka-bench-raw: no metadata for topic %s\n", topic);
    return n;
}

/* Read what a consumer of the record reads: every header (name and value),
   the key and the value; a byte sum so that none of it is skipped. */
static unsigned long long touch(const rd_kafka_message_t *m)
{
    unsigned long long sum = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t vlen;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen) == 0; i++) {
            sum += (unsigned char)name[0] + vlen;
            for (size_t k = 0; k < vlen; k++)
                sum += ((const unsigned char *)val)[k];
        }
    }
    for (size_t k = 0; k < m->key_len; k++)
        sum += ((const unsigned char *)m->key)[k];
    for (size_t k = 0; k < m->len; k++)
        sum += ((const unsigned char *)m->payload)[k];
    return sum;
}

static int cmd_consume(const char *brokers, const char *topic, long long n)
{
    /* queued.min.messages as the kafka source sets it: at librdkafka's
       default (100000) prefetch of a 200k-record topic stalls for up to a
       second (see kafka_source.c), which made this baseline bimodal */
    static const char *const props[] = {"group.id", "kafka-bench-raw", "enable.auto.commit",
                                        "false", "queued.min.messages", "300000", NULL};
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, brokers, props);
    if (rk == NULL)
        return 1;
    int np = partitions_of(rk, topic);
    if (np < 0) {
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    long long got = 0;
    unsigned long long sum = 0;
    double t0 = 0, deadline = now_s() + 120;
    const long long lo = n / 10, hi = n - n / 10;
    double s0 = 0, s1 = 0;
    /* the deadline is read only when the queue is empty or every 4096
       records: a clock read per record was ~8 % of this loop's time */
    unsigned since_clock = 0;
    while (got < n) {
        if (++since_clock == 4096) {
            since_clock = 0;
            if (now_s() >= deadline)
                break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            if (now_s() >= deadline)
                break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (got++ == 0)
                t0 = now_s();
            if (got == lo)
                s0 = now_s();
            else if (got == hi)
                s1 = now_s();
            sum += touch(m);
        }
        rd_kafka_message_destroy(m);
    }
    double t1 = now_s();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got < n) {
        fprintf(stderr, "kafka-bench-raw: consumed %lld of %lld\n", got, n);
        return 1;
    }
    printf("records=%lld seconds=%.6f sum=%llu steady_records=%lld steady_seconds=%.6f\n", n,
           t1 - t0, sum, hi - lo, s1 - s0);
    return 0;
}

/* Sum of the group's committed offsets (group != NULL) or of the high
   watermarks over the topic's np partitions; -1 on error. */
static long long progress(rd_kafka_t *rk, const char *group, const char *topic, int np)
{
    long long sum = 0;
    if (group != NULL) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
        for (int p = 0; p < np; p++)
            rd_kafka_topic_partition_list_add(l, topic, p);
        if (rd_kafka_committed(rk, l, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            sum = -1;
        for (int p = 0; sum >= 0 && p < np; p++)
            if (l->elems[p].offset > 0)
                sum += l->elems[p].offset;
        rd_kafka_topic_partition_list_destroy(l);
        return sum;
    }
    /* one ListOffsets request per leader for every partition (timestamp -1:
       the log end), not a query per partition: 64 queries every 10 ms
       loaded the mock and this probe with a quarter of a core each, taken
       from the bridge it measures */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_END;
    if (rd_kafka_offsets_for_times(rk, l, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        sum = -1;
    for (int p = 0; sum >= 0 && p < np; p++) {
        if (l->elems[p].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            sum = -1;
        else if (l->elems[p].offset > 0)
            sum += l->elems[p].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return sum;
}

static int cmd_watch(const char *brokers, const char *group, const char *topic, long long n,
                     long long timeout_s)
{
    /* committed() needs the group's id on the client; it never joins */
    const char *const props[] = {"group.id", group != NULL ? group : "kafka-bench-raw", NULL};
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, brokers, props);
    if (rk == NULL)
        return 1;
    int np = partitions_of(rk, topic);
    if (np < 0) {
        rd_kafka_destroy(rk);
        return 1;
    }
    double deadline = now_s() + (double)timeout_s, t0 = 0;
    long long first = -1, cur = 0;
    long long v0 = -1, v1 = -1;
    double s0 = 0, s1 = 0;
    /* KAFKA_BENCH_TRACE=1: every reading on stderr, to see stalls in a run */
    const char *tr = getenv("KAFKA_BENCH_TRACE");
    bool trace = tr != NULL && strcmp(tr, "1") == 0;
    struct timespec tick = {0, 10 * 1000 * 1000};
    while (now_s() < deadline) {
        cur = progress(rk, group, topic, np);
        if (cur > 0 && first < 0) {
            first = cur;
            t0 = now_s();
        }
        if (trace)
            fprintf(stderr, "progress t=%.3f value=%lld\n", now_s(), cur);
        if (v0 < 0 && cur >= n / 10) {
            v0 = cur;
            s0 = now_s();
        }
        if (v1 < 0 && cur >= n - n / 10) {
            v1 = cur;
            s1 = now_s();
        }
        if (cur >= n)
            break;
        nanosleep(&tick, NULL); /* a probe's polling period, not a measurement */
    }
    double t1 = now_s();
    rd_kafka_destroy(rk);
    if (cur < n) {
        fprintf(stderr, "kafka-bench-raw: %lld of %lld after %llds\n", cur, n, timeout_s);
        return 1;
    }
    printf("first=%lld seconds=%.6f steady_records=%lld steady_seconds=%.6f\n", first, t1 - t0,
           v1 - v0, s1 - s0);
    return 0;
}

static int cmd_offsets(const char *brokers, const char *group, const char *topic)
{
    const char *const props[] = {"group.id", group, NULL};
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, brokers, props);
    if (rk == NULL)
        return 1;
    int np = partitions_of(rk, topic);
    long long c = np < 0 ? -1 : progress(rk, group, topic, np);
    rd_kafka_destroy(rk);
    if (c < 0) {
        fprintf(stderr, "kafka-bench-raw: cannot read the committed offsets of %s\n", group);
        return 1;
    }
    printf("committed=%lld\n", c);
    return 0;
}

int main(int argc, char **argv)
{
    long long n, timeout;
    if (argc >= 5 && strcmp(argv[1], "produce") == 0 && parse_n(argv[4], &n) == 0) {
        if (argc == 5)
            return cmd_produce(argv[2], argv[3], n, PLAIN);
        if (argc == 6 && strcmp(argv[5], "--ce") == 0)
            return cmd_produce(argv[2], argv[3], n, STRUCTURED);
        if (argc == 6 && strcmp(argv[5], "--binary") == 0)
            return cmd_produce(argv[2], argv[3], n, BINARY);
    }
    if (argc == 5 && strcmp(argv[1], "consume") == 0 && parse_n(argv[4], &n) == 0)
        return cmd_consume(argv[2], argv[3], n);
    if (argc == 7 && strcmp(argv[1], "committed") == 0 && parse_n(argv[5], &n) == 0 &&
        parse_n(argv[6], &timeout) == 0)
        return cmd_watch(argv[2], argv[3], argv[4], n, timeout);
    if (argc == 6 && strcmp(argv[1], "watermarks") == 0 && parse_n(argv[4], &n) == 0 &&
        parse_n(argv[5], &timeout) == 0)
        return cmd_watch(argv[2], NULL, argv[3], n, timeout);
    if (argc == 5 && strcmp(argv[1], "offsets") == 0)
        return cmd_offsets(argv[2], argv[3], argv[4]);
    return usage();
}
