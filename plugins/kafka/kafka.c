/*
 * kafka: a consumer-group source and an idempotent producer sink speaking the
 * CloudEvents Kafka binding (sdk codec_kafka.h). See README.md.
 *
 * This file holds the descriptor and what both roles share: configuration
 * pass-through with secrets, the loop-side queue watcher, logging.
 */
#include "kafka_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

CEB_PLUGIN(kafka,
    .version = "1.0.0",
    .description = "Kafka consumer-group source (ordered commits) and idempotent producer sink",
    .source = &kafka_source_ops,
    .sink = &kafka_sink_ops);

/* ---- librdkafka stays loaded ---------------------------------------------- */

void kafka_pin_library(void)
{
    /* The core dlclose()s kafka.so when the last instance is gone, which would
       unload librdkafka too. Its process-wide state (rd_kafka_global_init,
       TLS library init) is not made to be unloaded and reloaded on a SIGHUP
       reload: keep the library resident. Idempotent. */
    Dl_info info;
    if (dladdr((void *)rd_kafka_new, &info) != 0 && info.dli_fname != NULL) {
        void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        if (h != NULL)
            dlclose(h); /* RTLD_NODELETE sticks; this only drops our extra reference */
    }
}

/* ---- configuration ----------------------------------------------------- */

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, ceb_diag *d)
{
    char err[256];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, key, value, err, sizeof err);
    if (r == RD_KAFKA_CONF_OK)
        return 0;
    return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "%s: %s", key, err);
}

#define KAFKA_SECRET_FILE_MAX (1u << 20)

/* ${file:PATH}: the file's bytes without one trailing newline. */
static int kafka_read_secret_file(const char *path, char **out, const char *key, ceb_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "%s: cannot read secret file "
                                  "%s: %s", key, path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KAFKA_SECRET_FILE_MAX) {
        close(fd);
        return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "%s: secret file %s is not a "
                                  "regular file of at most 1 MiB", key, path);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    if (buf == NULL) {
        close(fd);
        return CEB_ENOMEM;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Resolve "${env:NAME}" / "${file:PATH}"; anything else is literal. *out is
   malloc'd (caller wipes and frees). */
static int kafka_resolve(const char *key, const char *text, char **out, ceb_diag *d)
{
    size_t n = strlen(text);
    if (n >= 3 && text[0] == '$' && text[1] == '{' && text[n - 1] == '}') {
        if (n > 7 && strncmp(text + 2, "env:", 4) == 0) {
            char name[256];
            size_t nl = n - 7;
            if (nl >= sizeof name)
                return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "%s: environment "
                                          "variable name is too long", key);
            memcpy(name, text + 6, nl);
            name[nl] = '\0';
            const char *v = getenv(name);
            if (v == NULL)
                return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "%s: environment "
                                          "variable %s is not set", key, name);
            *out = strdup(v);
            return *out ? 0 : CEB_ENOMEM;
        }
        if (n > 8 && strncmp(text + 2, "file:", 5) == 0) {
            char *path = strndup(text + 7, n - 8);
            if (path == NULL)
                return CEB_ENOMEM;
            int rc = kafka_read_secret_file(path, out, key, d);
            free(path);
            return rc;
        }
        return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "%s: unknown secret reference; "
                                  "use ${env:NAME}, ${file:PATH} or literal text", key);
    }
    *out = strdup(text);
    return *out ? 0 : CEB_ENOMEM;
}

int kafka_conf_apply(rd_kafka_conf_t *conf, const char *brokers, const ceb_json *pt,
                     ceb_diag *d)
{
    int rc;
    if (brokers != NULL && (rc = kafka_conf_set(conf, "bootstrap.servers", brokers, d)) < 0)
        return rc;
    if (pt == NULL)
        return 0;
    if (ceb_json_type_of(pt) != CEB_JSON_OBJECT)
        return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "expected an object of "
                                  "librdkafka properties");
    for (size_t i = 0;; i++) {
        const ceb_json *v = NULL;
        const char *key = ceb_json_key_at(pt, i, &v);
        char num[64];
        char *val = NULL;
        if (key == NULL)
            break;
        switch (ceb_json_type_of(v)) {
        case CEB_JSON_STRING:
            if ((rc = kafka_resolve(key, ceb_json_string(v), &val, d)) < 0)
                return rc;
            break;
        case CEB_JSON_NUMBER: {
            double x = ceb_json_number(v);
            if (x == (double)(long long)x)
                snprintf(num, sizeof num, "%lld", (long long)x);
            else
                snprintf(num, sizeof num, "%.17g", x);
            val = strdup(num);
            break;
        }
        case CEB_JSON_TRUE:
        case CEB_JSON_FALSE:
            val = strdup(ceb_json_type_of(v) == CEB_JSON_TRUE ? "true" : "false");
            break;
        default:
            return ceb_diag_set_field(d, CEB_ECONFIG, "librdkafka", "%s: expected a string, "
                                      "number or boolean", key);
        }
        if (val == NULL)
            return CEB_ENOMEM;
        rc = kafka_conf_set(conf, key, val, d);
        explicit_bzero(val, strlen(val));
        free(val);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- queue watcher ------------------------------------------------------- */

static void kafka_qwatch_poll_cb(uv_poll_t *h, int status, int events)
{
    kafka_qwatch *w = h->data;
    char junk[256];
    (void)status;
    (void)events;
    while (read(w->fds[0], junk, sizeof junk) > 0)
        ;
    w->serve(w->arg);
}

static void kafka_qwatch_tick_cb(uv_timer_t *t)
{
    kafka_qwatch *w = t->data;
    w->serve(w->arg);
    if (w->tick_cb != NULL)
        w->tick_cb(w->arg);
}

int kafka_qwatch_start(kafka_qwatch *w, uv_loop_t *loop, rd_kafka_queue_t *q, uint64_t tick_ms)
{
    if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    int rc = uv_poll_init(loop, &w->poll, w->fds[0]);
    if (rc < 0) {
        close(w->fds[0]);
        close(w->fds[1]);
        return rc;
    }
    uv_timer_init(loop, &w->tick);
    w->poll.data = w;
    w->tick.data = w;
    w->open_handles = 2;
    static const char one = 1;
    rd_kafka_queue_io_event_enable(q, w->fds[1], &one, 1);
    uv_poll_start(&w->poll, UV_READABLE, kafka_qwatch_poll_cb);
    uv_timer_start(&w->tick, kafka_qwatch_tick_cb, tick_ms, tick_ms);
    return 0;
}

static void kafka_qwatch_closed_cb(uv_handle_t *h)
{
    kafka_qwatch *w = h->data;
    if (--w->open_handles > 0)
        return;
    close(w->fds[0]);
    close(w->fds[1]);
    w->closed(w->arg);
}

void kafka_qwatch_close(kafka_qwatch *w)
{
    uv_close((uv_handle_t *)&w->poll, kafka_qwatch_closed_cb);
    uv_close((uv_handle_t *)&w->tick, kafka_qwatch_closed_cb);
}

/* ---- logging and errors -------------------------------------------------- */

void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const ceb_ctx *ctx = rd_kafka_opaque(rk); /* every state starts with its ceb_ctx */
    ceb_log_level l = level <= 3 ? CEB_LOG_ERROR : level == 4 ? CEB_LOG_WARN
                    : level <= 6 ? CEB_LOG_INFO : CEB_LOG_DEBUG;
    if (ctx == NULL || !ctx->host->log_enabled(ctx->inst, l))
        return;
    ctx->host->log(ctx->inst, l, "librdkafka %s: %s", fac, buf);
}

int kafka_err_code(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return CEB_E2BIG;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return CEB_EPERM;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return CEB_ENOENT;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return CEB_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        return CEB_ECANCELED;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return CEB_EAGAIN;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        return CEB_ECONNREFUSED;
    default:
        if (err == RD_KAFKA_RESP_ERR_INVALID_MSG || err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
            err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION ||
            err == RD_KAFKA_RESP_ERR_INVALID_RECORD || err == RD_KAFKA_RESP_ERR__INVALID_ARG ||
            err == RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS || err == RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP)
            return CEB_EINVAL;
        return CEB_EIO;
    }
}
