/* Shared by the Kafka plugin tests: an in-process librdkafka mock cluster,
   a blocking producer and a blocking reader for checking what a sink wrote.
   Test code: blocking calls are fine here (the plugin's loop is not running
   while these run). */
#ifndef KAFKA_FIXTURE_H
#define KAFKA_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cebridge/testhost.h>

#ifndef KAFKA_PLUGIN_SO
#error KAFKA_PLUGIN_SO must name build/lib/cebridge/plugins/kafka.so
#endif

typedef struct kfx {
    rd_kafka_t *mock_rk;          /* hosts the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    char brokers[256];
    ceb_testhost *th;
    const ceb_plugin *plugin;
} kfx;

static inline void kfx_conf(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        fail_msg("%s: %s", k, err);
}

static inline int kfx_setup(void **state)
{
    kfx *f = calloc(1, sizeof *f);
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    kfx_conf(c, "test.mock.num.brokers", "3");
    kfx_conf(c, "log_level", "2");
    f->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    assert_non_null(f->mock_rk);
    f->mc = rd_kafka_handle_mock_cluster(f->mock_rk);
    assert_non_null(f->mc);
    snprintf(f->brokers, sizeof f->brokers, "%s", rd_kafka_mock_cluster_bootstraps(f->mc));
    assert_int_equal(ceb_testhost_new(&f->th), 0);
    ceb_diag d = {0};
    if (ceb_testhost_load(f->th, KAFKA_PLUGIN_SO, &f->plugin, &d) != 0)
        fail_msg("load: %s", d.message);
    *state = f;
    return 0;
}

static inline int kfx_teardown(void **state)
{
    kfx *f = *state;
    assert_null(ceb_testhost_violation(f->th));
    assert_int_equal(ceb_testhost_free(f->th), 0);
    rd_kafka_destroy(f->mock_rk);
    free(f);
    return 0;
}

static inline void kfx_topic(kfx *f, const char *name, int partitions)
{
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, name, partitions, 1), 0);
}

/* Produce one record and wait for it (blocking; test thread). `hdrs` is
   "name=value" strings, NULL-terminated (may be NULL). */
static inline void kfx_produce(kfx *f, const char *topic, int32_t partition, const char *key,
                               const char *value, const char *const *hdrs)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    kfx_conf(c, "bootstrap.servers", f->brokers);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    assert_non_null(p);
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++) {
        const char *eq = strchr(hdrs[i], '=');
        assert_non_null(eq);
        rd_kafka_header_add(h, hdrs[i], eq - hdrs[i], eq + 1, -1);
    }
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                       RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
                                       RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END), 0);
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

/* A plain consumer on a topic from the beginning (assign, no group). */
static inline rd_kafka_t *kfx_reader(kfx *f, const char *topic, int partitions)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    kfx_conf(c, "bootstrap.servers", f->brokers);
    kfx_conf(c, "group.id", "kfx-reader");
    kfx_conf(c, "enable.auto.commit", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

/* Next record within 10 s (fails otherwise). Destroy it with rd_kafka_message_destroy. */
static inline rd_kafka_message_t *kfx_read(rd_kafka_t *rk)
{
    for (int i = 0; i < 100; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return m;
        rd_kafka_message_destroy(m);
    }
    fail_msg("no record within 10 s");
    return NULL;
}

static inline void kfx_reader_close(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* The header's value as a string ("" when absent) into buf. */
static inline const char *kfx_header(rd_kafka_message_t *m, const char *name, char *buf,
                                     size_t size)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;
    buf[0] = '\0';
    if (rd_kafka_message_headers(m, &h) == 0 && rd_kafka_header_get_last(h, name, &v, &n) == 0 &&
        v != NULL && n < size) {
        memcpy(buf, v, n);
        buf[n] = '\0';
    }
    return buf;
}

#endif
