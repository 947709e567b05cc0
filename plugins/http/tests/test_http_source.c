/*
 * Plugin tests of the http source under the SDK test host: every answer
 * code, the binding in every mode, wrapping, auth, ack modes, shared
 * listeners and hostile input, with a raw-socket client on a thread (the
 * test's thread runs the loop). Servers listen on 127.0.0.1 port 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/hmac.h>
#include <openssl/evp.h>

#include <cebridge/testhost.h>

#include "http.h"

const ceb_plugin *ceb_plugin_entry(void);

/* ---- a blocking client on its own thread -------------------------------- */

typedef struct client {
    int port;
    const char *parts[8];       /* sent one after another */
    size_t nparts;
    int want;                   /* responses to read before returning (0: until EOF) */
    bool wait_continue;         /* wait for "100 Continue" before the second part */
    int rcvbuf;                 /* SO_RCVBUF when > 0 (a small one fills the server's output) */
    unsigned gap_ms;            /* pause before each part after the first (a slow client) */
    ceb_buf resp;
    int status[16];             /* the first 16 answers' */
    int nresp;
    int not202;                 /* answers other than 202 */
    size_t parsed;              /* resp bytes counted by parse_responses */
    bool eof;                   /* the server closed the connection */
    atomic_bool done;
    uv_async_t *wake;           /* wakes the test's loop once done */
    pthread_t th;
} client;

/* Count the complete responses c->resp gained since the last call; fill status[]. */
static void parse_responses(client *c)
{
    size_t off = c->parsed;           /* answers before it are counted already */
    while (off < c->resp.len) {
        const char *p = c->resp.data + off;
        const char *end = strstr(p, "\r\n\r\n");
        if (end == NULL || strncmp(p, "HTTP/1.1 ", 9) != 0)
            return;
        int status = atoi(p + 9);
        size_t cl = 0;
        const char *h = strcasestr(p, "\r\ncontent-length:");
        if (h != NULL && h < end)
            cl = (size_t)strtoul(h + 17, NULL, 10);
        size_t total = (size_t)(end + 4 - p) + cl;
        if (off + total > c->resp.len)
            return;
        if (status != 100) {
            if (c->nresp < 16)
                c->status[c->nresp] = status;
            c->nresp++;
            if (status != 202)
                c->not202++;
        }
        off += total;
        c->parsed = off;
    }
}

static void *client_main(void *arg)
{
    client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = { .tv_sec = 20 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (c->rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof c->rcvbuf);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        c->eof = true;
        goto out;
    }
    char buf[65536];
    for (size_t i = 0; i < c->nparts; i++) {
        if (i == 1 && c->wait_continue) {
            while (strstr(c->resp.data ? c->resp.data : "", "100 Continue") == NULL) {
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n <= 0)
                    break;
                ceb_buf_append(&c->resp, buf, (size_t)n);
            }
        }
        if (i > 0 && c->gap_ms > 0)
            nanosleep(&(struct timespec){ .tv_sec = c->gap_ms / 1000,
                                          .tv_nsec = (long)(c->gap_ms % 1000) * 1000000L }, NULL);
        size_t len = strlen(c->parts[i]);
        size_t sent = 0;
        while (sent < len) {
            ssize_t n = send(fd, c->parts[i] + sent, len - sent, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            sent += (size_t)n;
        }
    }
    for (;;) {
        parse_responses(c);
        if (c->want > 0 && c->nresp >= c->want)
            break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            /* closed or reset by the server; the 20 s receive timeout is not */
            c->eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
            break;
        }
        ceb_buf_append(&c->resp, buf, (size_t)n);
    }
    parse_responses(c);
    close(fd);
out:
    atomic_store(&c->done, true);
    uv_async_send(c->wake);
    return NULL;
}

static bool client_done(void *arg)
{
    return atomic_load(&((client *)arg)->done);
}

typedef struct storm storm;
static bool client_done_storm(void *arg);

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
    uv_async_t wake;
    ceb_testhost *th;
    ceb_testhost_inst *ti;
    int port;
} fx;

static void start_source(fx *f, const char *config)
{
    ceb_diag d = {0};
    int rc = ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SOURCE, "web", config,
                                 &f->ti, &d);
    if (rc != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    assert_int_equal(ceb_testhost_start(f->ti), 0);
    f->port = http_source_port(ceb_testhost_state(f->ti));
    assert_true(f->port > 0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(ceb_testhost_new(&f->th), 0);
    assert_int_equal(uv_async_init(ceb_testhost_loop(f->th), &f->wake, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->ti != NULL) {
        assert_int_equal(ceb_testhost_stop(f->ti, 5000), 0);
        ceb_testhost_destroy(f->ti);
    }
    uv_close((uv_handle_t *)&f->wake, NULL);
    const char *v = ceb_testhost_violation(f->th);
    if (v != NULL)
        fail_msg("contract violation: %s", v);
    assert_int_equal(ceb_testhost_free(f->th), 0);
    free(f);
    return 0;
}

/* Run one exchange: send `parts`, read `want` responses (0: until close). */
static void exchange(fx *f, client *c, int want, ...)
{
    memset(c, 0, sizeof *c);
    c->port = f->port;
    c->wake = &f->wake;
    c->want = want;
    va_list ap;
    va_start(ap, want);
    const char *p;
    while ((p = va_arg(ap, const char *)) != NULL && c->nparts < 8)
        c->parts[c->nparts++] = p;
    va_end(ap);
    assert_int_equal(pthread_create(&c->th, NULL, client_main, c), 0);
    assert_int_equal(ceb_testhost_run(f->th, client_done, c, 30000), 0);
    pthread_join(c->th, NULL);
}

static void client_free(client *c)
{
    ceb_buf_free(&c->resp);
}

/* A POST with the right Content-Length. */
static void post(char *out, size_t n, const char *path, const char *ctype, const char *body)
{
    snprintf(out, n, "POST %s HTTP/1.1\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
             path, ctype, strlen(body), body);
}

#define CE_HEADERS "ce-specversion: 1.0\r\nce-id: 42\r\nce-source: /ci\r\nce-type: dev.tekton.event\r\n"

static const char BINARY[] =
    "POST / HTTP/1.1\r\nHost: x\r\n" CE_HEADERS
    "ce-subject: Euro%20%E2%82%AC\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";

/* ---- tests -------------------------------------------------------------- */

static void test_binary_accepted(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\"}");
    assert_true(ceb_testhost_log_contains(f->th, "listening on 127.0.0.1:"));
    client c;
    exchange(f, &c, 1, BINARY, NULL);
    assert_int_equal(c.nresp, 1);
    assert_int_equal(c.status[0], 202);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 1);
    const ceb_event *ev = ceb_testhost_emitted(f->ti, 0);
    assert_string_equal(ceb_event_id(ev), "42");
    assert_string_equal(ceb_event_type(ev), "dev.tekton.event");
    assert_string_equal(ceb_event_subject(ev), "Euro \xE2\x82\xAC");
    assert_string_equal(ceb_event_datacontenttype(ev), "application/json");
    size_t len;
    assert_memory_equal(ceb_event_data(ev, &len), "{\"a\":1}", 7);
    client_free(&c);

    /* metrics: answers by status code, body bytes */
    exchange(f, &c, 1, "DELETE / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 405);
    client_free(&c);
    ceb_buf m = {0};
    assert_int_equal(http_source_metrics(ceb_testhost_state(f->ti), &m), 0);
    assert_non_null(strstr(m.data, "cebridge_http_source_requests_total{source=\"web\",code=\"202\"} 1\n"));
    assert_non_null(strstr(m.data, "cebridge_http_source_requests_total{source=\"web\",code=\"405\"} 1\n"));
    assert_non_null(strstr(m.data, "cebridge_http_source_request_bytes_total{source=\"web\"} 7\n"));
    ceb_buf_free(&m);
}

static void test_structured_and_batch(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"path\": \"/events\"}");
    char s1[512];
    post(s1, sizeof s1, "/events?x=1", "application/cloudevents+json; charset=utf-8",
         "{\"specversion\":\"1.0\",\"id\":\"s1\",\"source\":\"/s\",\"type\":\"t\",\"data\":\"hi\"}");
    client c;
    exchange(f, &c, 1, s1, NULL);
    if (c.nresp != 1) fail_msg("resp: %s", c.resp.data ? c.resp.data : "(none)");
    assert_int_equal(c.status[0], 202);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(f->ti, 0)), "s1");
    client_free(&c);

    char b[512];
    post(b, sizeof b, "/events", "application/cloudevents-batch+json",
        "[{\"specversion\":\"1.0\",\"id\":\"b1\",\"source\":\"/s\",\"type\":\"t\"},"
        "{\"specversion\":\"1.0\",\"id\":\"b2\",\"source\":\"/s\",\"type\":\"t\"}]");
    exchange(f, &c, 1, b, NULL);
    assert_int_equal(c.status[0], 202);
    assert_int_equal(ceb_testhost_batches(f->ti), 2);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 3);
    client_free(&c);

    /* one bad event: the whole batch is refused, nothing emitted */
    char bad[512];
    post(bad, sizeof bad, "/events", "application/cloudevents-batch+json",
        "[{\"specversion\":\"1.0\",\"id\":\"b1\",\"source\":\"/s\",\"type\":\"t\"},"
        "{\"specversion\":\"1.0\",\"id\":\"b2\",\"type\":\"t\"}]");
    exchange(f, &c, 1, bad, NULL);
    assert_int_equal(c.status[0], 400);
    assert_non_null(strstr(c.resp.data, "\"attribute\":\"[1].source\""));
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 3);
    client_free(&c);
}

static void test_bad_event_400(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\"}");
    client c;
    exchange(f, &c, 1, "POST / HTTP/1.1\r\nce-specversion: 0.3\r\nce-id: 1\r\nce-source: /s\r\n"
             "ce-type: t\r\nContent-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 400);
    assert_non_null(strstr(c.resp.data,
        "{\"error\":\"specversion must be \\\"1.0\\\", got \\\"0.3\\\"\",\"attribute\":\"specversion\"}"));
    client_free(&c);
    exchange(f, &c, 1, "POST / HTTP/1.1\r\n" CE_HEADERS "ce-subject: %C0%A0\r\n"
             "Content-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 400);
    assert_non_null(strstr(c.resp.data, "\"attribute\":\"subject\""));
    client_free(&c);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 0);
}

static void test_error_codes(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"max_body\": 1024}");
    client c;
    /* 413 from Content-Length: answered and closed without reading the body */
    exchange(f, &c, 0, "POST / HTTP/1.1\r\n" CE_HEADERS "Content-Length: 10485760\r\n\r\n", NULL);
    assert_int_equal(c.nresp, 1);
    assert_int_equal(c.status[0], 413);
    assert_true(c.eof);
    client_free(&c);
    /* 413 from a chunked body that grows past the limit */
    static char big[4200];
    snprintf(big, sizeof big, "800\r\n%02048d\r\n800\r\n%02048d\r\n0\r\n\r\n", 0, 0);
    exchange(f, &c, 0, "POST / HTTP/1.1\r\n" CE_HEADERS "Transfer-Encoding: chunked\r\n\r\n",
             big, NULL);
    assert_int_equal(c.status[0], 413);
    client_free(&c);
    /* 415 */
    exchange(f, &c, 1, "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi", NULL);
    assert_int_equal(c.status[0], 415);
    client_free(&c);
    exchange(f, &c, 1, "POST / HTTP/1.1\r\nContent-Type: application/cloudevents+avro\r\n"
             "Content-Length: 2\r\n\r\nhi", NULL);
    assert_int_equal(c.status[0], 415);
    client_free(&c);
    /* 405, 404 */
    exchange(f, &c, 1, "DELETE / HTTP/1.1\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 405);
    assert_non_null(strstr(c.resp.data, "Allow: POST, PUT, OPTIONS"));
    client_free(&c);
    exchange(f, &c, 1, "POST /nope HTTP/1.1\r\nContent-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 404);
    client_free(&c);
    /* plain JSON without wrap: not a CloudEvent */
    exchange(f, &c, 1, "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
             "{\"a\":1}", NULL);
    assert_int_equal(c.status[0], 400);
    client_free(&c);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 0);
}

static void test_backpressure_429(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"retry_after\": \"3s\"}");
    ceb_testhost_pause(f->ti);
    client c;
    exchange(f, &c, 1, BINARY, NULL);
    assert_int_equal(c.status[0], 429);
    assert_non_null(strstr(c.resp.data, "Retry-After: 3\r\n"));
    client_free(&c);
    ceb_testhost_resume(f->ti);
    exchange(f, &c, 1, BINARY, NULL);
    assert_int_equal(c.status[0], 202);
    client_free(&c);
}

static void test_bearer_401(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"auth\": {\"bearer\": \"s3cret\"}}");
    client c;
    exchange(f, &c, 1, BINARY, NULL);
    assert_int_equal(c.status[0], 401);
    assert_non_null(strstr(c.resp.data, "WWW-Authenticate: Bearer"));
    client_free(&c);
    exchange(f, &c, 1, "POST / HTTP/1.1\r\nAuthorization: Bearer wrong\r\n" CE_HEADERS
             "Content-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 401);
    client_free(&c);
    exchange(f, &c, 1, "POST / HTTP/1.1\r\nAuthorization: bearer s3cret\r\n" CE_HEADERS
             "Content-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 202);
    client_free(&c);
    assert_false(ceb_testhost_log_contains(f->th, "s3cret"));
}

static void test_hmac_and_wrap(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"path\": \"/github\","
                 " \"auth\": {\"hmac\": {\"header\": \"X-Hub-Signature-256\", \"secret\": \"It's a Secret to Everybody\"}},"
                 " \"wrap\": {\"type\": \"com.github.{header.x-github-event}\","
                 "            \"source\": \"https://github.com{path}\", \"subject\": \"{data.repository.name}\"}}");
    static const char body[] = "{\"repository\":{\"name\":\"cebridge\"},\"action\":\"opened\"}";
    unsigned char mac[32];
    unsigned int mlen = 0;
    static const char key[] = "It's a Secret to Everybody";
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, strlen(body), mac, &mlen);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    char req[1024];
    snprintf(req, sizeof req, "POST /github HTTP/1.1\r\nX-GitHub-Event: pull_request\r\n"
             "X-Hub-Signature-256: sha256=%s\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s", hex, strlen(body), body);
    client c;
    exchange(f, &c, 1, req, NULL);
    assert_int_equal(c.status[0], 202);
    const ceb_event *ev = ceb_testhost_emitted(f->ti, 0);
    assert_string_equal(ceb_event_type(ev), "com.github.pull_request");
    assert_string_equal(ceb_event_source(ev), "https://github.com/github");
    assert_string_equal(ceb_event_subject(ev), "cebridge");
    assert_int_equal(strlen(ceb_event_id(ev)), 36);
    client_free(&c);
    /* the same with one byte of the body changed */
    char *p = strstr(req, "opened");
    p[0] = 'O';
    exchange(f, &c, 1, req, NULL);
    assert_int_equal(c.status[0], 401);
    assert_non_null(strstr(c.resp.data, "signature does not match the body"));
    client_free(&c);
    exchange(f, &c, 1, "POST /github HTTP/1.1\r\nContent-Type: application/json\r\n"
             "Content-Length: 2\r\n\r\n{}", NULL);
    assert_int_equal(c.status[0], 401);
    client_free(&c);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 1);
}

static void test_health_and_options(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"allowed_origins\": [\"eventemitter.example.com\"]}");
    client c;
    exchange(f, &c, 2, "GET /healthz HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 200);
    assert_int_equal(c.status[1], 200);
    client_free(&c);
    ceb_testhost_set_ready(f->ti, false);
    exchange(f, &c, 1, "GET /readyz HTTP/1.1\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 503);
    client_free(&c);
    exchange(f, &c, 1, "OPTIONS / HTTP/1.1\r\nWebHook-Request-Origin: eventemitter.example.com\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 200);
    assert_non_null(strstr(c.resp.data, "WebHook-Allowed-Origin: eventemitter.example.com\r\n"));
    client_free(&c);
    exchange(f, &c, 1, "OPTIONS / HTTP/1.1\r\nWebHook-Request-Origin: evil.example\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 403);
    client_free(&c);
}

static void test_keepalive_pipelining_chunked_continue(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\"}");
    client c;
    /* three pipelined requests in one write, the second chunked */
    static char three[2048];
    snprintf(three, sizeof three, "%s%s%s", BINARY,
             "POST / HTTP/1.1\r\n" CE_HEADERS "Transfer-Encoding: chunked\r\n"
             "Content-Type: text/plain\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", BINARY);
    exchange(f, &c, 3, three, NULL);
    assert_int_equal(c.nresp, 3);
    assert_int_equal(c.status[0], 202);
    assert_int_equal(c.status[1], 202);
    assert_int_equal(c.status[2], 202);
    size_t len;
    assert_memory_equal(ceb_event_data(ceb_testhost_emitted(f->ti, 1), &len), "abcde", 5);
    assert_int_equal(len, 5);
    client_free(&c);
    /* Expect: 100-continue */
    memset(&c, 0, sizeof c);
    c.port = f->port;
    c.wake = &f->wake;
    c.want = 1;
    c.wait_continue = true;
    c.parts[0] = "POST / HTTP/1.1\r\n" CE_HEADERS "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    c.parts[1] = "ok";
    c.nparts = 2;
    assert_int_equal(pthread_create(&c.th, NULL, client_main, &c), 0);
    assert_int_equal(ceb_testhost_run(f->th, client_done, &c, 30000), 0);
    pthread_join(c.th, NULL);
    assert_non_null(strstr(c.resp.data, "HTTP/1.1 100 Continue\r\n\r\n"));
    assert_int_equal(c.status[0], 202);
    client_free(&c);
}

/* More pipelined requests than the socket buffers hold (4.5 MB of answers,
   the client's receive buffer pinned at 4 KiB), sent before any answer is
   read: the answers, coalesced per read, overflow into queued uv_writes, and
   every one of them arrives, each event emitted once. */
static void test_pipelined_flood(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\"}");
    enum { N = 50000 };
    size_t one = strlen(BINARY);
    char *flood = malloc(N * one + 1);
    assert_non_null(flood);
    for (size_t i = 0; i < N; i++)
        memcpy(flood + i * one, BINARY, one);
    flood[N * one] = '\0';
    client c;
    memset(&c, 0, sizeof c);
    c.port = f->port;
    c.wake = &f->wake;
    c.want = N;
    c.rcvbuf = 4096;
    c.parts[0] = flood;
    c.nparts = 1;
    assert_int_equal(pthread_create(&c.th, NULL, client_main, &c), 0);
    assert_int_equal(ceb_testhost_run(f->th, client_done, &c, 60000), 0);
    pthread_join(c.th, NULL);
    assert_false(c.eof);
    assert_int_equal(c.nresp, N);
    assert_int_equal(c.not202, 0);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), N);
    client_free(&c);
    free(flood);
}

typedef struct wait_emit {
    ceb_testhost_inst *ti;
    size_t n;
} wait_emit;

static bool emitted_at_least(void *arg)
{
    wait_emit *w = arg;
    return ceb_testhost_batches(w->ti) >= w->n;
}

static void test_ack_delivered(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"ack\": \"delivered\"}");
    ceb_testhost_set_auto_ack(f->ti, false, 0);
    static char two[1024];
    snprintf(two, sizeof two, "%s%s", BINARY, BINARY);
    client c;
    memset(&c, 0, sizeof c);
    c.port = f->port;
    c.wake = &f->wake;
    c.want = 2;
    c.parts[0] = two;
    c.nparts = 1;
    assert_int_equal(pthread_create(&c.th, NULL, client_main, &c), 0);
    wait_emit w = { f->ti, 1 };
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 30000), 0);
    /* the second pipelined request waits for the first answer */
    assert_int_equal(ceb_testhost_batches(f->ti), 1);
    assert_int_equal(ceb_testhost_ack_next(f->ti, 1, 0), 1);
    w.n = 2;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 30000), 0);
    assert_int_equal(ceb_testhost_ack_next(f->ti, 1, CEB_EIO), 1);
    assert_int_equal(ceb_testhost_run(f->th, client_done, &c, 30000), 0);
    pthread_join(c.th, NULL);
    assert_int_equal(c.status[0], 202);
    assert_int_equal(c.status[1], 502);
    assert_non_null(strstr(c.resp.data, "delivery failed"));
    client_free(&c);
}

static void test_shared_listener(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"path\": \"/a\"}");
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"listen\": \"127.0.0.1:%d\", \"path\": \"/b\"}", f->port);
    ceb_testhost_inst *b = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SOURCE, "b", cfg,
                                         &b, &d), 0);
    assert_int_equal(ceb_testhost_start(b), 0);
    assert_int_equal(http_source_port(ceb_testhost_state(b)), f->port);
    client c;
    exchange(f, &c, 2, "POST /b HTTP/1.1\r\n" CE_HEADERS "Content-Length: 0\r\n\r\n"
             "POST /a HTTP/1.1\r\n" CE_HEADERS "Content-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 202);
    assert_int_equal(c.status[1], 202);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 1);
    assert_int_equal(ceb_testhost_emitted_count(b), 1);
    client_free(&c);
    /* stopping /b keeps /a served */
    assert_int_equal(ceb_testhost_stop(b, 5000), 0);
    ceb_testhost_destroy(b);
    exchange(f, &c, 1, "POST /a HTTP/1.1\r\n" CE_HEADERS "Content-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 202);
    client_free(&c);
}

/* Listeners are shared per host (host->plugin_slot()), never across hosts:
   a source of a second host on the same address does not join the first
   host's listener but tries to bind its own (and is refused); the slot is
   back to NULL once each host's last source is destroyed (the test host
   checks that, see teardown). */
static void test_listener_per_host(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"path\": \"/a\"}");
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"listen\": \"127.0.0.1:%d\", \"path\": \"/b\"}", f->port);
    ceb_testhost *th2 = NULL;
    assert_int_equal(ceb_testhost_new(&th2), 0);
    ceb_testhost_inst *other = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(th2, ceb_plugin_entry(), CEB_TESTHOST_SOURCE, "other",
                                         cfg, &other, &d), 0);
    assert_int_equal(ceb_testhost_start(other), UV_EADDRINUSE);
    char want[160];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d: address already in use", f->port);
    assert_true(ceb_testhost_log_contains(th2, want));
    ceb_testhost_destroy(other);
    assert_null(ceb_testhost_violation(th2));
    assert_int_equal(ceb_testhost_free(th2), 0);
    /* the first host still serves */
    client c;
    exchange(f, &c, 1, "POST /a HTTP/1.1\r\n" CE_HEADERS "Content-Length: 0\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 202);
    client_free(&c);
}

static void test_hostile(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"header_timeout\": \"300ms\", \"body_timeout\": \"300ms\", \"max_connections\": 8}");
    client c;
    exchange(f, &c, 0, "\x16\x03\x01garbage\r\n\r\n", NULL);
    assert_int_equal(c.status[0], 400);
    assert_true(c.eof);
    client_free(&c);
    /* 10,000 headers */
    ceb_buf flood = {0};
    ceb_buf_append_str(&flood, "POST / HTTP/1.1\r\n");
    for (int i = 0; i < 10000; i++)
        ceb_buf_printf(&flood, "x-h%d: v\r\n", i);
    ceb_buf_append_str(&flood, "\r\n");
    exchange(f, &c, 0, flood.data, NULL);
    assert_int_equal(c.status[0], 431);
    client_free(&c);
    ceb_buf_free(&flood);
    /* slow-loris: headers never finish */
    exchange(f, &c, 0, "POST / HTTP/1.1\r\nce-id: 1\r\n", NULL);
    assert_int_equal(c.status[0], 408);
    assert_true(c.eof);
    client_free(&c);
    /* truncated body, then the client gives up: no answer owed, no crash */
    exchange(f, &c, 0, "POST / HTTP/1.1\r\n" CE_HEADERS "Content-Length: 100\r\n\r\nabc", NULL);
    assert_int_equal(c.status[0], 408);
    client_free(&c);
    /* and it still serves */
    exchange(f, &c, 1, BINARY, NULL);
    assert_int_equal(c.status[0], 202);
    client_free(&c);
}

/* The per-connection deadline moves on without restarting the timer: a body
   that comes after the header timeout but within the body timeout is
   served, and the idle timeout then closes the kept-alive connection. */
static void test_deadlines_move(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"header_timeout\": \"200ms\", "
                    "\"body_timeout\": \"5s\", \"idle_timeout\": \"300ms\"}");
    client c;
    memset(&c, 0, sizeof c);
    c.port = f->port;
    c.wake = &f->wake;
    c.want = 0;                        /* read until the server closes */
    c.gap_ms = 600;                    /* past the header timeout, inside the body timeout */
    c.parts[0] = "POST / HTTP/1.1\r\n" CE_HEADERS "Content-Type: application/json\r\n"
                 "Content-Length: 7\r\n\r\n";
    c.parts[1] = "{\"n\":1}";
    c.nparts = 2;
    assert_int_equal(pthread_create(&c.th, NULL, client_main, &c), 0);
    assert_int_equal(ceb_testhost_run(f->th, client_done, &c, 30000), 0);
    pthread_join(c.th, NULL);
    assert_int_equal(c.nresp, 1);
    assert_int_equal(c.status[0], 202);
    assert_true(c.eof);                /* closed by the idle timeout, not the 20 s client timeout */
    assert_int_equal(ceb_testhost_emitted_count(f->ti), 1);
    client_free(&c);
}

/* ---- random byte streams ------------------------------------------------ */

typedef struct storm {
    int port;
    uv_async_t *wake;
    atomic_bool done;
    uint32_t seed;
    int conns;                  /* connections that half-close and read every answer */
    int resets;                 /* connections that reset without reading */
    size_t n202, nother;        /* answers seen on the half-closing connections */
    bool connect_failed;
    pthread_t th;
} storm;

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* 1-4 copies of BINARY, each maybe mutated (a byte changed, dropped or
   added, or cut short). */
static void storm_stream(uint32_t *seed, ceb_buf *out)
{
    ceb_buf_reset(out);
    size_t copies = 1 + rnd(seed) % 4;
    for (size_t k = 0; k < copies; k++) {
        size_t start = out->len;
        ceb_buf_append_str(out, BINARY);
        size_t len = out->len - start;
        char *r = out->data + start;
        size_t at = rnd(seed) % len;
        switch (rnd(seed) % 6) {
        case 0: r[at] = (char)rnd(seed); break;
        case 1: memmove(r + at, r + at + 1, len - at - 1); out->len--; break;
        case 2: { char c = (char)rnd(seed); ceb_buf_append(out, "", 1);
                  r = out->data + start;
                  memmove(r + at + 1, r + at, len - at); r[at] = c; break; }
        case 3: out->len = start + at; break;
        default: break;             /* valid */
        }
    }
}

static int storm_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_chunked_randomly(int fd, uint32_t *seed, const ceb_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        size_t n = 1 + rnd(seed) % 64;
        if (n > b->len - off)
            n = b->len - off;
        ssize_t k = send(fd, b->data + off, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        off += (size_t)k;
    }
}

static bool client_done_storm(void *arg)
{
    return atomic_load(&((storm *)arg)->done);
}

/* Count the answers in `in` (status line, Content-Length, body). */
static void storm_count(storm *st, const ceb_buf *in)
{
    size_t off = 0;
    while (in->data != NULL && off < in->len) {
        const char *p = in->data + off;
        const char *end = strstr(p, "\r\n\r\n");
        if (end == NULL || strncmp(p, "HTTP/1.1 ", 9) != 0)
            break;
        int status = atoi(p + 9);
        const char *h = strcasestr(p, "\r\ncontent-length:");
        size_t cl = h != NULL && h < end ? (size_t)strtoul(h + 17, NULL, 10) : 0;
        if (status == 202)
            st->n202++;
        else if (status != 100)
            st->nother++;
        off += (size_t)(end + 4 - p) + cl;
    }
}

/* One connection: a random stream sent in random pieces, then either a
   half-close and every answer read and counted, or a reset unread. */
static void storm_one(storm *st, uint32_t *seed, ceb_buf *b, ceb_buf *in, bool reset)
{
    int fd = storm_connect(st->port);
    if (fd < 0) {
        st->connect_failed = true;
        return;
    }
    storm_stream(seed, b);
    send_chunked_randomly(fd, seed, b);
    if (reset) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
        return;
    }
    shutdown(fd, SHUT_WR);
    ceb_buf_reset(in);
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        ceb_buf_append(in, buf, (size_t)n);
    close(fd);
    storm_count(st, in);
}

static void *storm_main(void *arg)
{
    storm *st = arg;
    uint32_t seed = st->seed;
    ceb_buf b = {0}, in = {0};
    for (int i = 0; i < st->conns && !st->connect_failed; i++)
        storm_one(st, &seed, &b, &in, false);
    for (int i = 0; i < st->resets && !st->connect_failed; i++)
        storm_one(st, &seed, &b, &in, true);
    ceb_buf_free(&b);
    ceb_buf_free(&in);
    atomic_store(&st->done, true);
    uv_async_send(st->wake);
    return NULL;
}

/* Randomly mutated, pipelined, randomly split request streams (fixed seed):
   every 202 the clients read is one emitted event and nothing else was
   emitted, connections reset mid-stream cost nothing, and the source still
   answers a valid request afterwards. Under ASan this covers the server's
   buffering, coalescing and close paths, which the libFuzzer target does not. */
static void test_random_streams(void **state)
{
    fx *f = *state;
    start_source(f, "{\"listen\": \"127.0.0.1:0\", \"header_timeout\": \"2s\"}");
    storm st = { .port = f->port, .wake = &f->wake, .seed = 20261123u, .conns = 300 };
    assert_int_equal(pthread_create(&st.th, NULL, storm_main, &st), 0);
    assert_int_equal(ceb_testhost_run(f->th, client_done_storm, &st, 60000), 0);
    pthread_join(st.th, NULL);
    assert_false(st.connect_failed);
    assert_true(st.n202 > 50);          /* the seed gives a mix, not only rejects */
    assert_true(st.nother > 50);
    assert_int_equal(ceb_testhost_emitted_count(f->ti), st.n202);
    /* the same kind of streams, reset before any answer is read */
    storm rs = { .port = f->port, .wake = &f->wake, .seed = 7u, .resets = 200 };
    assert_int_equal(pthread_create(&rs.th, NULL, storm_main, &rs), 0);
    assert_int_equal(ceb_testhost_run(f->th, client_done_storm, &rs, 60000), 0);
    pthread_join(rs.th, NULL);
    assert_false(rs.connect_failed);
    client c;
    exchange(f, &c, 1, BINARY, NULL);
    assert_int_equal(c.status[0], 202);
    client_free(&c);
}

static void test_config_errors(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SOURCE, "x",
                                         "{\"path\": \"nope\"}", &ti, &d), CEB_ECONFIG);
    assert_string_equal(d.field, "path");
    assert_string_equal(d.message, "must start with '/', got \"nope\"");
    memset(&d, 0, sizeof d);
    assert_int_equal(ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SOURCE, "x",
                                         "{\"auth\": {\"hmac\": {\"header\": \"X-Sig\"}}}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.message, "give both auth.hmac.header and auth.hmac.secret");
    memset(&d, 0, sizeof d);
    assert_int_equal(ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SOURCE, "x",
                                         "{\"listen\": \"::1:80\"}", &ti, &d), 0);
    assert_int_equal(ceb_testhost_start(ti), CEB_EINVAL);
    assert_true(ceb_testhost_log_contains(f->th, "an IPv6 address needs brackets"));
    ceb_testhost_destroy(ti);
}

static void test_ipv6(void **state)
{
    fx *f = *state;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SOURCE, "v6",
                                         "{\"listen\": \"[::1]:0\"}", &f->ti, &d), 0);
    int rc = ceb_testhost_start(f->ti);
    if (rc != 0) {      /* no IPv6 loopback on this machine */
        ceb_testhost_destroy(f->ti);
        f->ti = NULL;
        skip();
    }
    assert_true(ceb_testhost_log_contains(f->th, "listening on [::1]:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_binary_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structured_and_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_event_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_and_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_and_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_pipelining_chunked_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_per_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadlines_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
