/*
 * http_bench_raw: the floor under `tools/bench http` - what a libuv HTTP/1.1
 * responder costs on this machine when it does nothing but frame requests
 * and answer them. A benchmark tool, not plugin code.
 *
 *   http_bench_raw [PORT]     (default 0: an ephemeral port)
 *
 * Listens on 127.0.0.1:PORT and prints "port=N" as its first line on
 * stdout. Each request (headers up to the blank line, then Content-Length
 * bytes of body; chunked bodies are not supported and close the
 * connection) gets the answer the http source gives an accepted event:
 * 202 with {"accepted":1}. The answers to the requests of one read leave in
 * one write, as the http source does. Runs until SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define READ_BUF 65536

static const char ANSWER[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 14\r\n"
                             "Content-Type: application/json\r\n\r\n{\"accepted\":1}";

typedef struct conn {
    uv_tcp_t tcp;
    char *in;             /* bytes read, not yet a whole request */
    size_t inlen, incap;
    char *out;            /* answers not yet written */
    size_t outlen, outcap;
    size_t writes;        /* uv_write requests in flight */
    int closing;
} conn;

typedef struct write_req {
    uv_write_t req;
    conn *c;
    char *data;
} write_req;

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *q = realloc(*p, n);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* libuv calls a closing stream's write callbacks (ECANCELED) before this. */
static void conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    free(c->in);
    free(c->out);
    free(c);
}

static void conn_close(conn *c)
{
    if (!c->closing) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
    }
}

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    conn *c = w->c;
    free(w->data);
    free(w);
    c->writes--;
    if (status < 0)
        conn_close(c);
}

static void conn_flush(conn *c)
{
    if (c->outlen == 0 || c->closing)
        return;
    size_t off = 0;
    if (c->writes == 0) {
        uv_buf_t b = uv_buf_init(c->out, (unsigned)c->outlen);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)c->outlen) {
            c->outlen = 0;
            return;
        }
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        off = n > 0 ? (size_t)n : 0;
    }
    write_req *w = malloc(sizeof *w);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    w->c = c;
    w->data = c->out;
    uv_buf_t b = uv_buf_init(c->out + off, (unsigned)(c->outlen - off));
    c->out = NULL;
    c->outlen = c->outcap = 0;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(w->data);
        free(w);
        conn_close(c);
        return;
    }
    c->writes++;
}

/* Length of the first whole request in buf, 0 if incomplete, -1 if bad. */
static long request_length(const char *buf, size_t len)
{
    const char *end = NULL;
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            end = buf + i + 1;
            break;
        }
    if (end == NULL)
        return len > 65536 ? -1 : 0;
    size_t head = (size_t)(end - buf);
    size_t body = 0;
    for (const char *p = buf; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        size_t l = (size_t)(nl - p);
        if (l > 15 && strncasecmp(p, "content-length:", 15) == 0)
            body = strtoul(p + 15, NULL, 10);
        else if (l > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
            return -1;
        p = nl + 1;
    }
    return len >= head + body ? (long)(head + body) : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    if (grow(&c->in, &c->incap, c->inlen + READ_BUF) < 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(c->in + c->inlen, READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->inlen += (size_t)nread;
    size_t off = 0;
    for (;;) {
        long n = request_length(c->in + off, c->inlen - off);
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (n == 0)
            break;
        off += (size_t)n;
        if (grow(&c->out, &c->outcap, c->outlen + sizeof ANSWER) < 0) {
            conn_close(c);
            return;
        }
        memcpy(c->out + c->outlen, ANSWER, sizeof ANSWER - 1);
        c->outlen += sizeof ANSWER - 1;
    }
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
    conn_flush(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (rc < 0) {
        fprintf(stderr, "http_bench_raw: cannot listen on 127.0.0.1:%d: %s\n", port,
                uv_strerror(rc));
        return 1;
    }
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&server, (struct sockaddr *)&got, &len);
    printf("port=%d\n", ntohs(got.sin_port));
    fflush(stdout);
    uv_signal_t term, intr;
    uv_signal_init(loop, &term);
    uv_signal_init(loop, &intr);
    uv_signal_start(&term, on_signal, SIGTERM);
    uv_signal_start(&intr, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
