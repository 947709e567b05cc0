/*
 * file sink: each event as one structured JSON line (ceb_codec_json_encode)
 * to `path` ("-" = stdout).
 *
 * Writes are synchronous write(2) calls of one line each, on the loop
 * thread: for a regular file that is a copy into the page cache, which
 * does not hold the loop long. With `fsync` each delivery is fsync'd
 * before it completes (slow on real disks: for audit trails, not for
 * throughput). A pipe on stdout whose reader stalls would block; the sink
 * is a debugging and test tool, not a buffer for slow consumers.
 */
#include "file_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const ceb_option file_sink_options[] = {
    CEB_OPT_STRING_FIELD("path", NULL, CEB_OPT_REQUIRED, file_sink_config, path,
                         "File to append JSON-lines CloudEvents to; \"-\" writes stdout."),
    CEB_OPT_BOOL_FIELD("fsync", "false", 0, file_sink_config, fsync,
                       "fsync(2) after each write, before the delivery is reported done."),
    CEB_OPT_BOOL_FIELD("append", "true", 0, file_sink_config, append,
                       "Append to an existing file; false truncates it at start."),
    CEB_OPTION_END};

typedef struct file_sink {
    ceb_ctx ctx;
    file_sink_config cfg;
    int fd;
    bool own_fd;
    ceb_buf line;
} file_sink;

static int file_sink_create(ceb_instance *inst, const ceb_host *host, const void *config,
                            ceb_diag *diag, void **state)
{
    const file_sink_config *c = config;
    if (c->path[0] == '\0')
        return ceb_diag_set_field(diag, CEB_ECONFIG, "path", "must not be empty");
    file_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ceb_diag_set(diag, CEB_ENOMEM, "out of memory");
    s->ctx = (ceb_ctx){.host = host, .inst = inst};
    s->cfg = *c;
    s->fd = -1;
    *state = s;
    return 0;
}

static int file_sink_start(void *state)
{
    file_sink *s = state;
    if (strcmp(s->cfg.path, "-") == 0) {
        s->fd = STDOUT_FILENO;
        return 0;
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (s->cfg.append ? O_APPEND : O_TRUNC);
    s->fd = open(s->cfg.path, flags, 0644);
    if (s->fd < 0) {
        int e = errno;
        CEB_LOG_E(&s->ctx, "cannot open %s for writing: %s", s->cfg.path, strerror(e));
        return -e;
    }
    s->own_fd = true;
    return 0;
}

static int file_sink_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int file_sink_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    file_sink *s = state;
    ceb_buf_reset(&s->line);
    int rc = ceb_codec_json_encode(ev, &s->line);
    if (rc == 0)
        rc = ceb_buf_append(&s->line, "\n", 1);
    if (rc < 0)
        return rc; /* not completed: the return value is the outcome */
    rc = file_sink_write_all(s->fd, s->line.data, s->line.len);
    if (rc == 0 && s->cfg.fsync && fsync(s->fd) != 0 && errno != EINVAL)
        rc = -errno;
    if (rc < 0) {
        char detail[512];
        snprintf(detail, sizeof(detail), "write to %s: %s", s->cfg.path, strerror(-rc));
        CEB_LOG_W(&s->ctx, "%s", detail);
        s->ctx.host->complete(dlv, CEB_OUTCOME_RETRY, rc, 0, detail);
        return 0;
    }
    s->ctx.host->complete(dlv, CEB_OUTCOME_OK, 0, 0, NULL);
    return 0;
}

static void file_sink_stop(void *state)
{
    file_sink *s = state;
    if (s->own_fd && s->fd >= 0) {
        if (close(s->fd) != 0)
            CEB_LOG_W(&s->ctx, "closing %s: %s", s->cfg.path, strerror(errno));
        s->fd = -1;
    }
    s->ctx.host->stopped(s->ctx.inst);
}

static void file_sink_destroy(void *state)
{
    file_sink *s = state;
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    ceb_buf_free(&s->line);
    free(s);
}

const ceb_sink_ops file_sink_ops = {
    .options = file_sink_options,
    .config_size = sizeof(file_sink_config),
    .create = file_sink_create,
    .start = file_sink_start,
    .deliver = file_sink_deliver,
    .stop = file_sink_stop,
    .destroy = file_sink_destroy,
};
