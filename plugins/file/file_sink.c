/*
 * file sink: each event as one structured JSON line (ceb_codec_json_encode)
 * to `path` ("-" = stdout).
 *
 * Deliveries are coalesced: deliver() encodes the line into a pending
 * buffer and remembers the delivery; the buffer goes out in one
 * synchronous write(2) per loop iteration (an idle handle, which also
 * keeps the loop from blocking in poll while lines wait), or as soon as
 * it passes FILE_SINK_FLUSH_BYTES. Only after that write (and, with
 * `fsync`, one fsync(2) of the batch) are the batch's deliveries
 * completed OK; a delivery is never reported done before its bytes were
 * written. A failed write completes RETRY every delivery whose line was
 * not written in full (with `fsync`: every delivery of the batch).
 *
 * For a regular file a write is a copy into the page cache, which does
 * not hold the loop long. A pipe on stdout whose reader stalls would
 * block; the sink is a debugging and test tool, not a buffer for slow
 * consumers.
 */
#include "file_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write the pending lines at once when they pass this size. */
#define FILE_SINK_FLUSH_BYTES (64u * 1024u)

static const ceb_option file_sink_options[] = {
    CEB_OPT_STRING_FIELD("path", NULL, CEB_OPT_REQUIRED, file_sink_config, path,
                         "File to append JSON-lines CloudEvents to; \"-\" writes stdout."),
    CEB_OPT_BOOL_FIELD("fsync", "false", 0, file_sink_config, fsync,
                       "fsync(2) after each write (one per batch of lines), before its deliveries are reported done."),
    CEB_OPT_BOOL_FIELD("append", "true", 0, file_sink_config, append,
                       "Append to an existing file; false truncates it at start."),
    CEB_OPTION_END};

/* A delivery waiting for the write of its line, which ends at `end` in `buf`. */
typedef struct file_sink_pending {
    ceb_delivery *dlv;
    size_t end;
} file_sink_pending;

typedef struct file_sink {
    ceb_ctx ctx;
    file_sink_config cfg;
    int fd;
    bool own_fd;
    bool idle_init;             /* `idle` was initialized (start succeeded) */
    uv_idle_t idle;             /* active while lines wait: flushes once per loop turn */
    ceb_buf buf;                /* encoded lines not written yet */
    file_sink_pending *pend;    /* their deliveries, in buffer order */
    size_t n_pend, cap_pend;
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
    } else {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (s->cfg.append ? O_APPEND : O_TRUNC);
        s->fd = open(s->cfg.path, flags, 0644);
        if (s->fd < 0) {
            int e = errno;
            CEB_LOG_E(&s->ctx, "cannot open %s for writing: %s", s->cfg.path, strerror(e));
            return -e;
        }
        s->own_fd = true;
    }
    int rc = uv_idle_init(s->ctx.host->loop(s->ctx.inst), &s->idle);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "cannot create the flush handle: %s", uv_strerror(rc));
        if (s->own_fd)
            close(s->fd);
        s->fd = -1;
        s->own_fd = false;
        return CEB_ENOMEM;
    }
    s->idle.data = s;
    s->idle_init = true;
    return 0;
}

/* Write p[0..n) to fd; *written counts the bytes that went out even on error. */
static int file_sink_write_all(int fd, const char *p, size_t n, size_t *written)
{
    *written = 0;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
        *written += (size_t)w;
    }
    return 0;
}

/*
 * Write every pending line at once, then complete their deliveries: OK
 * when the line was written (and fsync'd, with `fsync`), RETRY otherwise.
 * complete() may re-enter deliver() (and this function): the batch is
 * detached from the sink first, so a nested call works on a fresh one.
 */
static void file_sink_flush(file_sink *s)
{
    if (s->n_pend == 0)
        return;
    file_sink_pending *batch = s->pend;
    size_t n = s->n_pend, cap = s->cap_pend;
    s->pend = NULL;
    s->n_pend = s->cap_pend = 0;

    size_t written = 0;
    int rc = file_sink_write_all(s->fd, s->buf.data, s->buf.len, &written);
    const char *what = "write";
    if (s->cfg.fsync && (rc < 0 || (fsync(s->fd) != 0 && errno != EINVAL))) {
        if (rc == 0) {
            rc = -errno;
            what = "fsync";
        }
        written = 0;    /* nothing of this batch is known to be on disk */
    }
    ceb_buf_reset(&s->buf);
    char detail[512] = "";
    if (rc < 0) {
        snprintf(detail, sizeof(detail), "%s to %s: %s", what, s->cfg.path, strerror(-rc));
        CEB_LOG_W(&s->ctx, "%s (%zu deliveries to retry)", detail, n);
    }
    if (s->idle_init && s->n_pend == 0)
        uv_idle_stop(&s->idle);
    for (size_t i = 0; i < n; i++) {
        if (batch[i].end <= written)
            s->ctx.host->complete(batch[i].dlv, CEB_OUTCOME_OK, 0, 0, NULL);
        else
            s->ctx.host->complete(batch[i].dlv, CEB_OUTCOME_RETRY, rc, 0, detail);
    }
    if (s->pend == NULL) {     /* nothing was delivered meanwhile: reuse the array */
        s->pend = batch;
        s->cap_pend = cap;
    } else {
        free(batch);
    }
}

static void file_sink_idle_cb(uv_idle_t *h)
{
    file_sink *s = h->data;
    file_sink_flush(s);
    if (s->n_pend == 0)
        uv_idle_stop(h);
}

static int file_sink_deliver(void *state, ceb_delivery *dlv, const ceb_event *ev)
{
    file_sink *s = state;
    if (s->n_pend == s->cap_pend) {
        size_t cap = s->cap_pend ? s->cap_pend * 2 : 64;
        file_sink_pending *p = realloc(s->pend, cap * sizeof(*p));
        if (p == NULL)
            return CEB_ENOMEM; /* not completed: the return value is the outcome */
        s->pend = p;
        s->cap_pend = cap;
    }
    size_t mark = s->buf.len;
    int rc = ceb_codec_json_encode(ev, &s->buf);
    if (rc == 0)
        rc = ceb_buf_append(&s->buf, "\n", 1);
    if (rc < 0) {
        s->buf.len = mark;  /* drop a partial line; earlier lines stay pending */
        if (s->buf.data != NULL)
            s->buf.data[mark] = '\0';
        return rc;
    }
    s->pend[s->n_pend++] = (file_sink_pending){.dlv = dlv, .end = s->buf.len};
    if (s->buf.len >= FILE_SINK_FLUSH_BYTES)
        file_sink_flush(s);
    else if (s->n_pend == 1)
        uv_idle_start(&s->idle, file_sink_idle_cb);
    return 0;
}

static void file_sink_closed(uv_handle_t *h)
{
    file_sink *s = h->data;
    s->ctx.host->stopped(s->ctx.inst);
}

static void file_sink_stop(void *state)
{
    file_sink *s = state;
    file_sink_flush(s);     /* finish what is outstanding: written, then completed */
    if (s->own_fd && s->fd >= 0) {
        if (close(s->fd) != 0)
            CEB_LOG_W(&s->ctx, "closing %s: %s", s->cfg.path, strerror(errno));
    }
    s->fd = -1;
    s->own_fd = false;
    if (s->idle_init) {
        uv_idle_stop(&s->idle);
        uv_close((uv_handle_t *)&s->idle, file_sink_closed);
    } else {
        s->ctx.host->stopped(s->ctx.inst);
    }
}

static void file_sink_destroy(void *state)
{
    file_sink *s = state;
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    ceb_buf_free(&s->buf);
    free(s->pend);
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
