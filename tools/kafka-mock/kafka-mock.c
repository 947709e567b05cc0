/*
 * kafka-mock: librdkafka's mock cluster as a process, for tests, the bench
 * and local experiments.
 *
 *   kafka-mock [--brokers N] [--partitions P] [--topic NAME[:PARTITIONS]]...
 *
 * Prints the bootstrap servers ("127.0.0.1:PORT,...") as the first line on
 * stdout, then runs until SIGTERM or SIGINT. Topics given with --topic are
 * created up front with P partitions (or their own count); other topics are
 * created on first use with the mock's own default (4 partitions in
 * librdkafka 2.0). Each mock partition keeps only about 5 MiB.
 *
 * Exit status: 0 after a signal, 64 on bad usage, 1 when the cluster cannot
 * be started.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static int usage(const char *why)
{
    fprintf(stderr, "kafka-mock: %s\n"
            "usage: kafka-mock [--brokers N] [--partitions P] [--topic NAME[:PARTITIONS]]...\n",
            why);
    return 64;
}

static int parse_count(const char *s, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    int brokers = 3, partitions = 4, ntopics = 0;
    const char *topics[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage("run librdkafka's mock cluster until SIGTERM");
            return 0;
        }
        if (i + 1 >= argc)
            return usage("missing value after an option");
        if (strcmp(a, "--brokers") == 0) {
            if (parse_count(argv[++i], 64, &brokers) < 0)
                return usage("--brokers: expected 1..64");
        } else if (strcmp(a, "--partitions") == 0) {
            if (parse_count(argv[++i], 10000, &partitions) < 0)
                return usage("--partitions: expected 1..10000");
        } else if (strcmp(a, "--topic") == 0) {
            if (ntopics == 256)
                return usage("at most 256 --topic");
            topics[ntopics++] = argv[++i];
        } else {
            return usage("unknown option");
        }
    }

    char err[512], num[16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(num, sizeof num, "%d", brokers);
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", num, err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka-mock: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    /* The producer handle only hosts the mock cluster; it never produces. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "kafka-mock: cannot start the mock cluster: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
    if (mc == NULL) {
        fprintf(stderr, "kafka-mock: librdkafka has no mock cluster support\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < ntopics && rc == 0; i++) {
        char name[512];
        int n = partitions;
        snprintf(name, sizeof name, "%s", topics[i]);
        char *colon = strrchr(name, ':');
        if (colon != NULL) {
            *colon = '\0';
            if (parse_count(colon + 1, 10000, &n) < 0) {
                rc = usage("--topic NAME:PARTITIONS: bad partition count");
                break;
            }
        }
        int rf = brokers < 3 ? brokers : 3;
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, name, n, rf);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "kafka-mock: cannot create topic %s: %s\n", name, rd_kafka_err2str(e));
            rc = 1;
        }
    }
    if (rc == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        /* block the signals except inside sigsuspend: no lost wake-up */
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        sigprocmask(SIG_BLOCK, &block, &old);
        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);
        while (!got_signal)
            sigsuspend(&old);
        fprintf(stderr, "kafka-mock: signal %d, stopping\n", (int)got_signal);
    }
    rd_kafka_destroy(rk);
    return rc;
}
