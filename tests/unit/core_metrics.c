/* Unit tests for core/metrics.c: registration rules and the exact
   Prometheus text exposition. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/errors.h>
#include "metrics.h"

static int setup(void **state)
{
    ceb_metrics *m = NULL;
    assert_int_equal(ceb_metrics_new(&m), 0);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    ceb_metrics_free(*state);
    return 0;
}

static void assert_render(const ceb_metrics *m, const char *want)
{
    ceb_buf b = {0};
    assert_int_equal(ceb_metrics_render(m, &b), 0);
    assert_string_equal(b.data ? b.data : "", want);
    ceb_buf_free(&b);
}

static void test_counter_gauge(void **state)
{
    ceb_metrics *m = *state;
    ceb_metric *c = NULL, *g = NULL;
    const char *labels[] = { "route", "sink" };
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "events_delivered_total",
                                          "Events delivered.", labels, 2, NULL, 0, &c), 0);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_GAUGE, "inflight", "In-flight deliveries.",
                                          NULL, 0, NULL, 0, &g), 0);
    /* a labelled metric nothing wrote to is not rendered; an unlabelled one is, at 0 */
    assert_render(m, "# HELP cebridge_inflight In-flight deliveries.\n"
                     "# TYPE cebridge_inflight gauge\n"
                     "cebridge_inflight 0\n");

    ceb_metric_add(c, (const char *[]){ "r2", "kafka" }, 1);
    ceb_metric_add(c, (const char *[]){ "r1", "kafka" }, 2);
    ceb_metric_add(c, (const char *[]){ "r1", "file" }, 1);
    ceb_metric_add(c, (const char *[]){ "r1", "kafka" }, 0.5);
    ceb_metric_add(c, (const char *[]){ "r1", "kafka" }, -4);   /* ignored: counters only go up */
    ceb_metric_set(c, (const char *[]){ "r1", "kafka" }, 100);  /* ignored: not a gauge */
    ceb_metric_set(g, NULL, 7);
    ceb_metric_add(g, NULL, -2.25);
    assert_true(ceb_metric_value(c, (const char *[]){ "r1", "kafka" }) == 2.5);
    assert_true(ceb_metric_value(c, (const char *[]){ "r9", "kafka" }) == 0);
    assert_true(ceb_metric_value(g, NULL) == 4.75);

    assert_render(m, "# HELP cebridge_events_delivered_total Events delivered.\n"
                     "# TYPE cebridge_events_delivered_total counter\n"
                     "cebridge_events_delivered_total{route=\"r1\",sink=\"file\"} 1\n"
                     "cebridge_events_delivered_total{route=\"r1\",sink=\"kafka\"} 2.5\n"
                     "cebridge_events_delivered_total{route=\"r2\",sink=\"kafka\"} 1\n"
                     "# HELP cebridge_inflight In-flight deliveries.\n"
                     "# TYPE cebridge_inflight gauge\n"
                     "cebridge_inflight 4.75\n");
}

static void test_histogram_default_buckets(void **state)
{
    ceb_metrics *m = *state;
    ceb_metric *h = NULL;
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "latency_seconds",
                                          "End-to-end latency.", NULL, 0, NULL, 0, &h), 0);
    ceb_metric_observe(h, NULL, 0.003);
    ceb_metric_observe(h, NULL, 0.005);  /* le is inclusive */
    ceb_metric_observe(h, NULL, 0.2);
    ceb_metric_observe(h, NULL, 42);
    assert_true(ceb_metric_value(h, NULL) == 4);
    assert_render(m, "# HELP cebridge_latency_seconds End-to-end latency.\n"
                     "# TYPE cebridge_latency_seconds histogram\n"
                     "cebridge_latency_seconds_bucket{le=\"0.005\"} 2\n"
                     "cebridge_latency_seconds_bucket{le=\"0.01\"} 2\n"
                     "cebridge_latency_seconds_bucket{le=\"0.025\"} 2\n"
                     "cebridge_latency_seconds_bucket{le=\"0.05\"} 2\n"
                     "cebridge_latency_seconds_bucket{le=\"0.1\"} 2\n"
                     "cebridge_latency_seconds_bucket{le=\"0.25\"} 3\n"
                     "cebridge_latency_seconds_bucket{le=\"0.5\"} 3\n"
                     "cebridge_latency_seconds_bucket{le=\"1\"} 3\n"
                     "cebridge_latency_seconds_bucket{le=\"2.5\"} 3\n"
                     "cebridge_latency_seconds_bucket{le=\"5\"} 3\n"
                     "cebridge_latency_seconds_bucket{le=\"10\"} 3\n"
                     "cebridge_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                     "cebridge_latency_seconds_sum 42.208\n"
                     "cebridge_latency_seconds_count 4\n");
}

static void test_histogram_labels_custom_buckets(void **state)
{
    ceb_metrics *m = *state;
    ceb_metric *h = NULL;
    const char *labels[] = { "sink" };
    const double buckets[] = { 1, 10, INFINITY };   /* a trailing +Inf is implied anyway */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "batch_size", "Batch sizes.",
                                          labels, 1, buckets, 3, &h), 0);
    ceb_metric_observe(h, (const char *[]){ "b" }, 5);
    ceb_metric_observe(h, (const char *[]){ "a" }, 1);
    ceb_metric_observe(h, (const char *[]){ "a" }, 11);
    ceb_metric_observe(h, (const char *[]){ "a" }, NAN);    /* ignored */
    assert_render(m, "# HELP cebridge_batch_size Batch sizes.\n"
                     "# TYPE cebridge_batch_size histogram\n"
                     "cebridge_batch_size_bucket{sink=\"a\",le=\"1\"} 1\n"
                     "cebridge_batch_size_bucket{sink=\"a\",le=\"10\"} 1\n"
                     "cebridge_batch_size_bucket{sink=\"a\",le=\"+Inf\"} 2\n"
                     "cebridge_batch_size_sum{sink=\"a\"} 12\n"
                     "cebridge_batch_size_count{sink=\"a\"} 2\n"
                     "cebridge_batch_size_bucket{sink=\"b\",le=\"1\"} 0\n"
                     "cebridge_batch_size_bucket{sink=\"b\",le=\"10\"} 1\n"
                     "cebridge_batch_size_bucket{sink=\"b\",le=\"+Inf\"} 1\n"
                     "cebridge_batch_size_sum{sink=\"b\"} 5\n"
                     "cebridge_batch_size_count{sink=\"b\"} 1\n");
}

static void test_escaping(void **state)
{
    ceb_metrics *m = *state;
    ceb_metric *c = NULL;
    const char *labels[] = { "path" };
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "odd", "Help with \\ and\nnewline \"q\".",
                                          labels, 1, NULL, 0, &c), 0);
    ceb_metric_add(c, (const char *[]){ "C:\\dir \"x\"\nnext" }, 1);
    ceb_metric_add(c, (const char *[]){ NULL }, 3);     /* NULL value = "" */
    assert_render(m, "# HELP cebridge_odd Help with \\\\ and\\nnewline \"q\".\n"
                     "# TYPE cebridge_odd counter\n"
                     "cebridge_odd{path=\"\"} 3\n"
                     "cebridge_odd{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n");
}

static void test_values(void **state)
{
    ceb_metrics *m = *state;
    ceb_metric *g = NULL;
    const char *labels[] = { "k" };
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_GAUGE, "v", "", labels, 1, NULL, 0, &g), 0);
    ceb_metric_set(g, (const char *[]){ "a" }, 0.1);
    ceb_metric_set(g, (const char *[]){ "b" }, 1e21);
    ceb_metric_set(g, (const char *[]){ "c" }, -3);
    ceb_metric_set(g, (const char *[]){ "d" }, INFINITY);
    ceb_metric_set(g, (const char *[]){ "e" }, -INFINITY);
    ceb_metric_set(g, (const char *[]){ "f" }, NAN);
    ceb_metric_set(g, (const char *[]){ "g" }, 123456789012.0);
    /* no HELP line for an empty help text */
    assert_render(m, "# TYPE cebridge_v gauge\n"
                     "cebridge_v{k=\"a\"} 0.1\n"
                     "cebridge_v{k=\"b\"} 1e+21\n"
                     "cebridge_v{k=\"c\"} -3\n"
                     "cebridge_v{k=\"d\"} +Inf\n"
                     "cebridge_v{k=\"e\"} -Inf\n"
                     "cebridge_v{k=\"f\"} NaN\n"
                     "cebridge_v{k=\"g\"} 123456789012\n");
}

static void test_register_rules(void **state)
{
    ceb_metrics *m = *state;
    ceb_metric *a = NULL, *b = NULL;
    const char *l1[] = { "route" };
    const char *l2[] = { "sink" };

    /* names */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "", "", NULL, 0, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "9lives", "", NULL, 0, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "a-b", "", NULL, 0, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "a b", "", NULL, 0, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, NULL, "", NULL, 0, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "ns:sub_9", "", NULL, 0, NULL, 0, &a), 0);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "_x", "", NULL, 0, NULL, 0, &a), 0);
    /* label names */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "l", "", (const char *[]){ "a:b" }, 1, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "l", "", (const char *[]){ "__name" }, 1, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "l", "", (const char *[]){ "x", "x" }, 2, NULL, 0, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "l", "", (const char *[]){ "le" }, 1, NULL, 0, &a), CEB_EINVAL);
    /* buckets */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "h", "", NULL, 0, (const double[]){ 2, 1 }, 2, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "h", "", NULL, 0, (const double[]){ 1, 1 }, 2, &a), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "h", "", NULL, 0, (const double[]){ NAN }, 1, &a), CEB_EINVAL);

    /* same name, kind and labels: the same metric */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "hits", "Hits.", l1, 1, NULL, 0, &a), 0);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "hits", "Hits.", l1, 1, NULL, 0, &b), 0);
    assert_ptr_equal(a, b);
    /* the prefix is not doubled */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "cebridge_hits", "Hits.", l1, 1, NULL, 0, &b), 0);
    assert_ptr_equal(a, b);
    /* clashes */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_GAUGE, "hits", "", l1, 1, NULL, 0, &b), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "hits", "", l2, 1, NULL, 0, &b), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "hits", "", NULL, 0, NULL, 0, &b), CEB_EINVAL);
    /* a histogram's series names are taken */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "lat", "", NULL, 0, NULL, 0, &a), 0);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "lat_count", "", NULL, 0, NULL, 0, &b), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_GAUGE, "size_sum", "", NULL, 0, NULL, 0, &b), 0);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "size", "", NULL, 0, NULL, 0, &b), CEB_EINVAL);
    /* same histogram with other buckets is a clash */
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "lat", "", NULL, 0, (const double[]){ 1 }, 1, &b), CEB_EINVAL);
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_HISTOGRAM, "lat", "", NULL, 0, NULL, 0, &b), 0);
    assert_ptr_equal(a, b);

    /* wrong-kind updates are ignored, not fatal */
    ceb_metric_add(a, NULL, 1);
    ceb_metric_set(a, NULL, 1);
    assert_true(ceb_metric_value(a, NULL) == 0);
}

static void test_many_series_sorted(void **state)
{
    ceb_metrics *m = *state;
    ceb_metric *c = NULL;
    const char *labels[] = { "n" };
    assert_int_equal(ceb_metrics_register(m, CEB_METRIC_COUNTER, "c", "", labels, 1, NULL, 0, &c), 0);
    char v[16];
    for (int i = 999; i >= 0; i--) {
        snprintf(v, sizeof v, "%03d", (i * 7) % 1000);
        ceb_metric_add(c, (const char *[]){ v }, 1);
        ceb_metric_add(c, (const char *[]){ v }, 1);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(v, sizeof v, "%03d", i);
        assert_true(ceb_metric_value(c, (const char *[]){ v }) == 2);
    }
    ceb_buf b = {0};
    assert_int_equal(ceb_metrics_render(m, &b), 0);
    const char *p = strstr(b.data, "cebridge_c{n=\"000\"} 2\n");
    assert_non_null(p);
    assert_non_null(strstr(p, "cebridge_c{n=\"999\"} 2\n"));
    ceb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_gauge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_default_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_labels_custom_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_series_sorted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
