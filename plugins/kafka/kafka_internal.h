#ifndef CEB_PLUGIN_KAFKA_INTERNAL_H
#define CEB_PLUGIN_KAFKA_INTERNAL_H
/*
 * Shared by the Kafka plugin's files (kafka.c, kafka_source.c, kafka_sink.c).
 * Everything here is plugin-local: hidden by -fvisibility=hidden.
 *
 * Threading model: librdkafka runs its own threads, but every callback of
 * ours (rebalance, offset commit, delivery report, log, error) is served on
 * the loop thread. The handle's queue (the consumer queue for a source, the
 * main queue for a sink) signals "became non-empty" through
 * rd_kafka_queue_io_event_enable() on a pipe watched by a uv_poll_t; the
 * loop then drains the queue with zero-timeout polls. A periodic uv_timer
 * polls too, so that a quiet queue is still served (max.poll.interval.ms).
 */
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include <cebridge/cebridge.h>
#include <cebridge/codec_kafka.h>

extern const ceb_source_ops kafka_source_ops;
extern const ceb_sink_ops kafka_sink_ops;

/*
 * Apply `brokers` and the `librdkafka` pass-through object to `conf`.
 * String values may be secrets (${env:NAME}, ${file:PATH}) and are resolved
 * here; numbers and booleans are passed as their text. Errors name the key
 * in `d` ("librdkafka.sasl.password"). Never logs a value.
 * Returns 0, CEB_ECONFIG, CEB_ENOMEM.
 */
int kafka_conf_apply(rd_kafka_conf_t *conf, const char *brokers, const ceb_json *passthrough,
                     ceb_diag *d);

/* Set one property or fail with `d` naming it. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, ceb_diag *d);

/* The loop side of a librdkafka queue: a pipe written by librdkafka and
   watched by a uv_poll_t, plus a periodic timer. */
typedef struct kafka_qwatch {
    uv_poll_t poll;
    uv_timer_t tick;
    int fds[2];
    int open_handles;          /* uv handles not yet closed */
    void (*serve)(void *arg);  /* drain the queue (loop thread) */
    void (*tick_cb)(void *arg);
    void (*closed)(void *arg); /* both handles closed, fds closed */
    void *arg;
} kafka_qwatch;

/* Create the pipe and start watching it; `q` writes to it from now on.
   Returns 0 or a negative errno/uv code. */
int kafka_qwatch_start(kafka_qwatch *w, uv_loop_t *loop, rd_kafka_queue_t *q,
                       uint64_t tick_ms);
/* Close the handles; `closed(arg)` runs once they are. Call only after the
   queue no longer writes to the pipe (rd_kafka_queue_io_event_enable(q,-1)
   or the handle destroyed). */
void kafka_qwatch_close(kafka_qwatch *w);

/* Keep librdkafka loaded after kafka.so is unloaded (its global state is
   not made for dlclose). Call from create(). */
void kafka_pin_library(void);

/* librdkafka log lines to the host's log (loop thread, log.queue=true). */
void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* A librdkafka error as a CEB_E* code. */
int kafka_err_code(rd_kafka_resp_err_t err);

#endif
