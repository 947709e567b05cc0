/*
 * file source: JSON-lines CloudEvents from `path` ("-" = stdin).
 *
 * Reading never blocks the loop: a regular file (or stdin redirected from
 * one) is read with uv_fs_read on the thread pool, a pipe or terminal on
 * stdin through a uv_pipe_t. Each read is cut into lines; valid events go
 * out in batches of at most `batch` events (one emit per batch and read), a
 * line that is not a valid event is logged with its line number, wrapped and
 * sent to the dead letter on its own ack token.
 *
 * Acknowledgements are applied in emit order: the byte offset after the
 * last batch of a contiguous run of successful acks is what `offset_file`
 * records; the first nack freezes progress until restart (at-least-once).
 * The offset file is rewritten with a small synchronous write + rename on
 * the loop (tens of bytes, local disk).
 */
#include "file_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_READ_CHUNK (64 * 1024)

static const ceb_option file_source_options[] = {
    CEB_OPT_STRING_FIELD("path", NULL, CEB_OPT_REQUIRED, file_source_config, path,
                         "File to read JSON-lines CloudEvents from; \"-\" reads stdin."),
    CEB_OPT_BOOL_FIELD("follow", "false", 0, file_source_config, follow,
                       "Keep reading as the file grows (tail -f) instead of ending at end of file."),
    CEB_OPT_BOOL_FIELD("strict", "false", 0, file_source_config, strict,
                       "Refuse CloudEvent-shaped lines that break the spec instead of repairing them."),
    CEB_OPT_STRING_FIELD("default_source", NULL, 0, file_source_config, default_source,
                         "Source used to repair events without one; default file://<path>."),
    CEB_OPT_STRING_FIELD("offset_file", NULL, 0, file_source_config, offset_file,
                         "Where to record the byte offset acknowledged so far; a restart resumes there."),
    CEB_OPT_INT_FIELD("batch", "256", 0, file_source_config, batch, 1, 65536,
                      "Most events emitted (and acknowledged) as one batch."),
    CEB_OPT_DURATION_FIELD("poll_interval", "\"250ms\"", 0, file_source_config, poll_interval_ms,
                           1, 3600000, "With follow: how often to look for new data at end of file."),
    CEB_OPT_SIZE_FIELD("max_line", "\"1MiB\"", 0, file_source_config, max_line, 16,
                       1073741824, "Longest line accepted; longer lines go to the dead letter."),
    CEB_OPTION_END};

typedef struct fs_batch {
    struct fs_batch *next;
    uint64_t end_off;    /* byte offset after the batch's last line */
    uint64_t end_line;   /* number of that line */
    bool acked;
    int status;
} fs_batch;

typedef struct file_source {
    ceb_ctx ctx;
    file_source_config cfg;
    char *source_uri;            /* "file://<path>" */
    char *default_source;
    bool is_stdin, use_pipe;
    uv_file fd;
    bool fd_open;
    uv_fs_t req;
    bool reading;
    uv_pipe_t pipe;
    bool pipe_open, pipe_reading;
    char *rbuf;
    uint64_t read_off;           /* next byte to read (file mode) */
    uint64_t consumed_off;       /* byte offset after the last complete line */
    uint64_t lineno;             /* lines seen so far */
    ceb_buf line;                /* bytes of the line being assembled (at most max_line) */
    uint64_t line_bytes;         /* its length in the input */
    bool line_too_long;
    ceb_event **batch;
    size_t nbatch;
    uint64_t batch_end_off;      /* offset and line number after its last event */
    uint64_t batch_end_line;
    fs_batch *head, *tail;       /* in flight, in emit order */
    uint64_t committed_off, committed_line;
    bool progress_stopped;
    ceb_timer *poll;
    bool started, paused, at_eof, ended, stopping, stopped;
} file_source;

static int file_source_create(ceb_instance *inst, const ceb_host *host, const void *config,
                              ceb_diag *diag, void **state)
{
    const file_source_config *c = config;
    if (c->path[0] == '\0')
        return ceb_diag_set_field(diag, CEB_ECONFIG, "path", "must not be empty");
    bool is_stdin = strcmp(c->path, "-") == 0;
    if (is_stdin && c->offset_file != NULL)
        return ceb_diag_set_field(diag, CEB_ECONFIG, "offset_file",
                                  "cannot resume stdin; offset_file needs a file path");
    file_source *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ceb_diag_set(diag, CEB_ENOMEM, "out of memory");
    s->ctx = (ceb_ctx){.host = host, .inst = inst};
    s->cfg = *c;
    s->is_stdin = is_stdin;
    ceb_buf b = {0};
    if (ceb_buf_printf(&b, "file://%s", is_stdin ? "stdin" : c->path) < 0)
        goto nomem;
    s->source_uri = ceb_buf_steal(&b, &(size_t){0});
    s->default_source = strdup(c->default_source ? c->default_source : s->source_uri);
    s->rbuf = malloc(FILE_READ_CHUNK);
    s->batch = calloc((size_t)c->batch, sizeof(*s->batch));
    if (s->default_source == NULL || s->rbuf == NULL || s->batch == NULL)
        goto nomem;
    *state = s;
    return 0;
nomem:
    ceb_free(s->source_uri);
    free(s->default_source);
    free(s->rbuf);
    free(s->batch);
    free(s);
    return ceb_diag_set(diag, CEB_ENOMEM, "out of memory");
}

/* ---- offsets ------------------------------------------------------------- */

static void file_source_write_offset(file_source *s)
{
    if (s->cfg.offset_file == NULL)
        return;
    ceb_buf tmp = {0}, txt = {0};
    if (ceb_buf_printf(&tmp, "%s.tmp", s->cfg.offset_file) < 0 ||
        ceb_buf_printf(&txt, "%llu %llu\n", (unsigned long long)s->committed_off,
                       (unsigned long long)s->committed_line) < 0) {
        CEB_LOG_E(&s->ctx, "offset file %s: out of memory", s->cfg.offset_file);
        goto out;
    }
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, txt.data, txt.len) != (ssize_t)txt.len || close(fd) != 0 ||
        rename(tmp.data, s->cfg.offset_file) != 0) {
        int e = errno;
        if (fd >= 0)
            unlink(tmp.data);
        CEB_LOG_E(&s->ctx, "cannot record offset %llu in %s: %s",
                  (unsigned long long)s->committed_off, s->cfg.offset_file, strerror(e));
    }
out:
    ceb_buf_free(&tmp);
    ceb_buf_free(&txt);
}

static void file_source_read_offset(file_source *s, uint64_t size)
{
    if (s->cfg.offset_file == NULL)
        return;
    FILE *f = fopen(s->cfg.offset_file, "re");
    if (f == NULL) {
        if (errno != ENOENT)
            CEB_LOG_W(&s->ctx, "cannot read offset file %s: %s; starting at the beginning",
                      s->cfg.offset_file, strerror(errno));
        return;
    }
    unsigned long long off = 0, line = 0;
    int n = fscanf(f, "%llu %llu", &off, &line);
    fclose(f);
    if (n != 2) {
        CEB_LOG_W(&s->ctx, "offset file %s is not \"OFFSET LINE\"; starting at the beginning",
                  s->cfg.offset_file);
        return;
    }
    if (off > size) {
        CEB_LOG_W(&s->ctx, "offset %llu in %s is past the end of %s (%llu bytes, truncated?); "
                  "starting at the beginning", off, s->cfg.offset_file, s->cfg.path,
                  (unsigned long long)size);
        return;
    }
    s->read_off = s->consumed_off = s->committed_off = off;
    s->lineno = s->committed_line = line;
    CEB_LOG_I(&s->ctx, "resuming %s at offset %llu (line %llu)", s->cfg.path, off, line);
}

/* ---- emitting ------------------------------------------------------------ */

static fs_batch *file_source_new_token(file_source *s, uint64_t end_off, uint64_t end_line)
{
    fs_batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->end_off = end_off;
    b->end_line = end_line;
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    return b;
}

static void file_source_drop_token(file_source *s, fs_batch *b)
{
    fs_batch **pp = &s->head;
    fs_batch *prev = NULL;
    while (*pp && *pp != b) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == b) {
        *pp = b->next;
        if (s->tail == b)
            s->tail = prev;
    }
    free(b);
}

static void file_source_flush(file_source *s)
{
    if (s->nbatch == 0)
        return;
    size_t n = s->nbatch;
    s->nbatch = 0;
    fs_batch *b = file_source_new_token(s, s->batch_end_off, s->batch_end_line);
    if (b == NULL) {
        for (size_t i = 0; i < n; i++)
            ceb_event_unref(s->batch[i]);
        CEB_LOG_E(&s->ctx, "out of memory: %zu events before line %llu dropped", n,
                  (unsigned long long)s->lineno);
        s->progress_stopped = true;
        return;
    }
    int rc = s->ctx.host->emit(s->ctx.inst, s->batch, n, b);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "emit of %zu events ending at line %llu failed: %s", n,
                  (unsigned long long)s->lineno, ceb_strerror(rc));
        file_source_drop_token(s, b);
        s->progress_stopped = true; /* never record an offset past them */
    }
}

static void file_source_invalid(file_source *s, const char *line, size_t len, const char *why)
{
    CEB_LOG_W(&s->ctx, "%s line %llu: not a valid event: %s; sent to the dead letter",
              s->cfg.path, (unsigned long long)s->lineno, why);
    file_source_flush(s); /* keep emit order = file order */
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    char subject[32];
    snprintf(subject, sizeof(subject), "%llu", (unsigned long long)s->lineno);
    int rc = ceb_event_wrap(line, len, NULL, FILE_INVALID_TYPE, s->source_uri, subject, &ev, &d);
    fs_batch *b = rc == 0 ? file_source_new_token(s, s->consumed_off, s->lineno) : NULL;
    if (b == NULL) {
        ceb_event_unref(ev);
        CEB_LOG_E(&s->ctx, "line %llu cannot be wrapped: %s", (unsigned long long)s->lineno,
                  rc < 0 ? d.message : "out of memory");
        s->progress_stopped = true;
        return;
    }
    char reason[600];
    snprintf(reason, sizeof(reason), "line %llu: %s", (unsigned long long)s->lineno, why);
    if (CEB_HOST_HAS(s->ctx.host, emit_dead_letter))
        rc = s->ctx.host->emit_dead_letter(s->ctx.inst, ev, reason, b);
    else
        rc = s->ctx.host->emit(s->ctx.inst, &ev, 1, b);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "line %llu could not be sent to the dead letter: %s",
                  (unsigned long long)s->lineno, ceb_strerror(rc));
        file_source_drop_token(s, b);
        s->progress_stopped = true;
    }
}

static void file_source_line(file_source *s, const char *p, size_t len)
{
    s->lineno++;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == len)
        return; /* blank line */
    if (s->line_too_long) {
        char why[96];
        snprintf(why, sizeof(why), "line longer than max_line (%llu bytes); truncated",
                 (unsigned long long)s->cfg.max_line);
        file_source_invalid(s, p, len, why);
        return;
    }
    ceb_decode_opts o = {.strict = s->cfg.strict, .default_source = s->default_source};
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    int rc = ceb_codec_json_decode(p, len, &o, &ev, &d);
    if (rc < 0) {
        char why[700];
        if (d.field[0])
            snprintf(why, sizeof(why), "%s: %s", d.field, d.message[0] ? d.message : ceb_strerror(rc));
        else
            snprintf(why, sizeof(why), "%s", d.message[0] ? d.message : ceb_strerror(rc));
        file_source_invalid(s, p, len, why);
        return;
    }
    if (o.repaired != 0)
        CEB_LOG_D(&s->ctx, "%s line %llu: event repaired (flags 0x%x)", s->cfg.path,
                  (unsigned long long)s->lineno, o.repaired);
    s->batch[s->nbatch++] = ev;
    s->batch_end_off = s->consumed_off;
    s->batch_end_line = s->lineno;
    if (s->nbatch == (size_t)s->cfg.batch)
        file_source_flush(s);
}

/* Cut `n` bytes into lines; a trailing partial line stays in s->line. */
static void file_source_feed(file_source *s, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (!s->line_too_long) {
            size_t keep = take;
            if (s->line.len + take > s->cfg.max_line) {
                keep = (size_t)s->cfg.max_line - s->line.len;
                s->line_too_long = true;
            }
            if (ceb_buf_append(&s->line, p, keep) < 0) {
                CEB_LOG_E(&s->ctx, "out of memory buffering a line");
                s->line_too_long = true;
            }
        }
        s->line_bytes += take;
        if (nl == NULL)
            break;
        /* consumed_off counts the bytes of complete lines only */
        s->consumed_off += s->line_bytes + 1;
        s->line_bytes = 0;
        file_source_line(s, s->line.data ? s->line.data : "", s->line.len);
        ceb_buf_reset(&s->line);
        s->line_too_long = false;
        p += take + 1;
        n -= take + 1;
    }
}

static void file_source_maybe_stopped(file_source *s);

static void file_source_end(file_source *s)
{
    if (s->line_bytes > 0) {
        /* a last line without a newline */
        s->consumed_off += s->line_bytes;
        s->line_bytes = 0;
        file_source_line(s, s->line.data ? s->line.data : "", s->line.len);
        ceb_buf_reset(&s->line);
        s->line_too_long = false;
    }
    file_source_flush(s);
    if (!s->ended) {
        s->ended = true;
        CEB_LOG_I(&s->ctx, "end of %s after %llu lines", s->is_stdin ? "stdin" : s->cfg.path,
                  (unsigned long long)s->lineno);
        s->ctx.host->source_ended(s->ctx.inst);
    }
}

/* ---- reading: files ---------------------------------------------------------- */

static void file_source_schedule(file_source *s);

static void file_source_poll_cb(void *arg)
{
    file_source *s = arg;
    s->poll = NULL;
    s->at_eof = false;
    file_source_schedule(s);
}

static void file_source_on_read(uv_fs_t *req)
{
    file_source *s = req->data;
    ssize_t r = req->result;
    uv_fs_req_cleanup(req);
    s->reading = false;
    if (s->stopping) {
        file_source_maybe_stopped(s);
        return;
    }
    if (r < 0) {
        CEB_LOG_E(&s->ctx, "cannot read %s: %s", s->cfg.path, uv_strerror((int)r));
        file_source_end(s);
        return;
    }
    if (r == 0) {
        if (s->cfg.follow && !s->is_stdin) {
            s->at_eof = true;
            if (s->ctx.host->timer_start(s->ctx.inst, (uint64_t)s->cfg.poll_interval_ms,
                                         file_source_poll_cb, s, &s->poll) < 0)
                CEB_LOG_E(&s->ctx, "cannot start the follow timer");
            return;
        }
        file_source_end(s);
        return;
    }
    s->read_off += (uint64_t)r;
    file_source_feed(s, s->rbuf, (size_t)r);
    file_source_flush(s);
    file_source_schedule(s);
}

static void file_source_schedule(file_source *s)
{
    if (s->use_pipe || s->paused || s->stopping || s->reading || s->at_eof || s->ended)
        return;
    uv_buf_t iov = uv_buf_init(s->rbuf, FILE_READ_CHUNK);
    s->req.data = s;
    int rc = uv_fs_read(s->ctx.host->loop(s->ctx.inst), &s->req, s->fd, &iov, 1,
                        s->is_stdin ? -1 : (int64_t)s->read_off, file_source_on_read);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "cannot read %s: %s", s->cfg.path, uv_strerror(rc));
        file_source_end(s);
        return;
    }
    s->reading = true;
}

/* ---- reading: a pipe on stdin ------------------------------------------------ */

static void file_source_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    file_source *s = h->data;
    (void)suggested;
    *buf = uv_buf_init(s->rbuf, FILE_READ_CHUNK);
}

static void file_source_on_pipe(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    file_source *s = st->data;
    (void)buf;
    if (n > 0) {
        file_source_feed(s, s->rbuf, (size_t)n);
        file_source_flush(s);
        return;
    }
    if (n == 0)
        return;
    uv_read_stop(st);
    s->pipe_reading = false;
    if (n != UV_EOF)
        CEB_LOG_E(&s->ctx, "cannot read stdin: %s", uv_strerror((int)n));
    file_source_end(s);
}

static void file_source_pipe_start(file_source *s)
{
    if (!s->use_pipe || s->paused || s->stopping || s->ended || s->pipe_reading)
        return;
    int rc = uv_read_start((uv_stream_t *)&s->pipe, file_source_alloc, file_source_on_pipe);
    if (rc < 0) {
        CEB_LOG_E(&s->ctx, "cannot read stdin: %s", uv_strerror(rc));
        file_source_end(s);
        return;
    }
    s->pipe_reading = true;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int file_source_start(void *state)
{
    file_source *s = state;
    uv_loop_t *loop = s->ctx.host->loop(s->ctx.inst);
    if (s->is_stdin) {
        s->fd = 0;
        if (uv_guess_handle(0) == UV_FILE) {
            s->use_pipe = false;
        } else {
            s->use_pipe = true;
            uv_pipe_init(loop, &s->pipe, 0);
            s->pipe.data = s;
            int rc = uv_pipe_open(&s->pipe, 0);
            if (rc < 0) {
                /* not pollable after all: read it on the thread pool */
                CEB_LOG_D(&s->ctx, "stdin is not a pipe (%s); reading it as a file",
                          uv_strerror(rc));
                uv_close((uv_handle_t *)&s->pipe, NULL);
                s->use_pipe = false;
            } else {
                s->pipe_open = true;
            }
        }
    } else {
        uv_fs_t req;
        int fd = uv_fs_open(NULL, &req, s->cfg.path, O_RDONLY | O_CLOEXEC, 0, NULL);
        uv_fs_req_cleanup(&req);
        if (fd < 0) {
            CEB_LOG_E(&s->ctx, "cannot open %s: %s", s->cfg.path, uv_strerror(fd));
            return fd;
        }
        s->fd = fd;
        s->fd_open = true;
        struct stat st;
        if (fstat(fd, &st) == 0)
            file_source_read_offset(s, (uint64_t)st.st_size);
    }
    s->started = true;
    if (s->use_pipe)
        file_source_pipe_start(s);
    else
        file_source_schedule(s);
    return 0;
}

static void file_source_pause(void *state)
{
    file_source *s = state;
    s->paused = true;
    if (s->use_pipe && s->pipe_reading) {
        uv_read_stop((uv_stream_t *)&s->pipe);
        s->pipe_reading = false;
    }
}

static void file_source_resume(void *state)
{
    file_source *s = state;
    if (!s->paused)
        return;
    s->paused = false;
    if (s->use_pipe)
        file_source_pipe_start(s);
    else
        file_source_schedule(s);
}

static void file_source_ack(void *state, void *token, int status)
{
    file_source *s = state;
    fs_batch *b = token;
    b->acked = true;
    b->status = status;
    bool moved = false;
    while (s->head != NULL && s->head->acked) {
        fs_batch *h = s->head;
        s->head = h->next;
        if (s->head == NULL)
            s->tail = NULL;
        if (!s->progress_stopped) {
            if (h->status == 0) {
                s->committed_off = h->end_off;
                s->committed_line = h->end_line;
                moved = true;
            } else {
                s->progress_stopped = true;
                CEB_LOG_W(&s->ctx, "batch ending at line %llu of %s was not delivered (%s); the "
                          "recorded offset stays at %llu until restart",
                          (unsigned long long)h->end_line, s->cfg.path, ceb_strerror(h->status),
                          (unsigned long long)s->committed_off);
            }
        }
        free(h);
    }
    if (moved)
        file_source_write_offset(s);
    if (s->stopping)
        file_source_maybe_stopped(s);
}

static void file_source_pipe_closed(uv_handle_t *h)
{
    file_source *s = h->data;
    s->pipe_open = false;
    file_source_maybe_stopped(s);
}

static void file_source_maybe_stopped(file_source *s)
{
    if (s->stopped || s->reading || s->pipe_open || s->head != NULL)
        return;
    if (s->fd_open) {
        uv_fs_t req;
        uv_fs_close(NULL, &req, s->fd, NULL);
        uv_fs_req_cleanup(&req);
        s->fd_open = false;
    }
    s->stopped = true;
    s->ctx.host->stopped(s->ctx.inst);
}

static void file_source_stop(void *state)
{
    file_source *s = state;
    s->stopping = true;
    for (size_t i = 0; i < s->nbatch; i++)
        ceb_event_unref(s->batch[i]);
    s->nbatch = 0;
    if (s->poll != NULL) {
        s->ctx.host->timer_stop(s->poll);
        s->poll = NULL;
    }
    if (s->pipe_open && !uv_is_closing((uv_handle_t *)&s->pipe)) {
        if (s->pipe_reading)
            uv_read_stop((uv_stream_t *)&s->pipe);
        s->pipe_reading = false;
        uv_close((uv_handle_t *)&s->pipe, file_source_pipe_closed);
        return; /* stopped() once the handle is closed and batches acked */
    }
    file_source_maybe_stopped(s);
}

static void file_source_destroy(void *state)
{
    file_source *s = state;
    for (fs_batch *b = s->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    for (size_t i = 0; i < s->nbatch; i++)
        ceb_event_unref(s->batch[i]);
    ceb_buf_free(&s->line);
    ceb_free(s->source_uri);
    free(s->default_source);
    free(s->rbuf);
    free(s->batch);
    free(s);
}

const ceb_source_ops file_source_ops = {
    .options = file_source_options,
    .config_size = sizeof(file_source_config),
    .create = file_source_create,
    .start = file_source_start,
    .pause = file_source_pause,
    .resume = file_source_resume,
    .ack = file_source_ack,
    .stop = file_source_stop,
    .destroy = file_source_destroy,
};
