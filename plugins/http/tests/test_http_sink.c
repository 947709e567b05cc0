/*
 * Plugin tests of the http sink under the SDK test host, against a tiny
 * HTTP server on a thread (127.0.0.1, ephemeral port) that records each
 * request and answers with a scripted response: modes, headers, auth,
 * classification and Retry-After.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cebridge/testhost.h>

#include "http.h"

const ceb_plugin *ceb_plugin_entry(void);

/* ---- the test server ---------------------------------------------------- */

typedef struct server {
    int fd;
    int port;
    const char *answer;         /* full raw response for every request */
    int requests;               /* how many to serve before the thread ends */
    char last[65536];           /* the last request, headers and body */
    int served;
    pthread_t th;
} server;

static void *server_main(void *arg)
{
    server *s = arg;
    int cfd = -1;
    while (s->served < s->requests) {
        if (cfd < 0) {
            cfd = accept(s->fd, NULL, NULL);
            if (cfd < 0)
                break;
            struct timeval tv = { .tv_sec = 20 };
            setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        }
        size_t len = 0;
        char *hend = NULL;
        size_t cl = 0;
        for (;;) {
            ssize_t n = recv(cfd, s->last + len, sizeof s->last - 1 - len, 0);
            if (n <= 0)
                break;
            len += (size_t)n;
            s->last[len] = '\0';
            if (hend == NULL && (hend = strstr(s->last, "\r\n\r\n")) != NULL) {
                const char *h = strcasestr(s->last, "\r\ncontent-length:");
                cl = h != NULL && h < hend ? strtoul(h + 17, NULL, 10) : 0;
            }
            if (hend != NULL && len >= (size_t)(hend + 4 - s->last) + cl)
                break;
        }
        if (hend == NULL) {          /* the client closed: take the next connection */
            close(cfd);
            cfd = -1;
            continue;
        }
        send(cfd, s->answer, strlen(s->answer), MSG_NOSIGNAL);
        s->served++;
    }
    if (cfd >= 0)
        close(cfd);
    return NULL;
}

static void server_start(server *s, const char *answer, int requests)
{
    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->requests = requests;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_stop(server *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
    ceb_testhost *th;
    ceb_testhost_inst *ti;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(ceb_testhost_new(&f->th), 0);
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
    const char *v = ceb_testhost_violation(f->th);
    if (v != NULL)
        fail_msg("contract violation: %s", v);
    assert_int_equal(ceb_testhost_free(f->th), 0);
    free(f);
    return 0;
}

static void start_sink(fx *f, const char *fmt, int port)
{
    char cfg[1024];
    snprintf(cfg, sizeof cfg, fmt, port);
    ceb_diag d = {0};
    int rc = ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SINK, "hook", cfg, &f->ti, &d);
    if (rc != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    assert_int_equal(ceb_testhost_start(f->ti), 0);
}

static ceb_event *make_event(const char *id)
{
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", id, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/ci/run7", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "subject", "run \"7\"", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "dev.tekton.event.pipelinerun.successful.v1", NULL), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, "{\"ok\":true}", 11), 0);
    ceb_event_freeze(ev);
    return ev;
}

static const char OK200[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/* ---- tests -------------------------------------------------------------- */

static void test_binary(void **state)
{
    fx *f = *state;
    server s;
    server_start(&s, OK200, 2);
    start_sink(f, "{\"url\": \"http://127.0.0.1:%d/hook/{type}\", \"headers\": {\"X-Team\": \"qe\"},"
               " \"auth\": {\"bearer\": \"tok3n\"}}", s.port);
    ceb_event *ev = make_event("a 1");
    ceb_testhost_result res = {0};
    assert_int_equal(ceb_testhost_deliver_wait(f->ti, ev, &res, 20000), 0);
    assert_true(res.done);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    assert_non_null(strstr(s.last, "POST /hook/dev.tekton.event.pipelinerun.successful.v1 HTTP/1.1\r\n"));
    assert_non_null(strstr(s.last, "ce-id: a%201\r\n"));
    assert_non_null(strstr(s.last, "ce-subject: run%20%227%22\r\n"));
    assert_non_null(strstr(s.last, "ce-specversion: 1.0\r\n"));
    assert_non_null(strstr(s.last, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(s.last, "X-Team: qe\r\n"));
    assert_non_null(strstr(s.last, "Authorization: Bearer tok3n\r\n"));
    assert_non_null(strstr(s.last, "\r\n\r\n{\"ok\":true}"));
    /* the connection is reused for the second event */
    memset(&res, 0, sizeof res);
    assert_int_equal(ceb_testhost_deliver_wait(f->ti, ev, &res, 20000), 0);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    server_stop(&s);
    assert_int_equal(s.served, 2);
    ceb_event_unref(ev);
    /* metrics: requests by status code, body bytes (2 x 11) */
    ceb_buf m = {0};
    assert_int_equal(http_sink_metrics(ceb_testhost_state(f->ti), &m), 0);
    assert_non_null(strstr(m.data, "cebridge_http_sink_requests_total{sink=\"hook\",code=\"200\"} 2\n"));
    assert_non_null(strstr(m.data, "cebridge_http_sink_request_bytes_total{sink=\"hook\"} 22\n"));
    ceb_buf_free(&m);
}

static void test_structured(void **state)
{
    fx *f = *state;
    server s;
    server_start(&s, OK200, 1);
    start_sink(f, "{\"url\": \"http://127.0.0.1:%d/\", \"mode\": \"structured\"}", s.port);
    ceb_event *ev = make_event("s1");
    ceb_testhost_result res = {0};
    assert_int_equal(ceb_testhost_deliver_wait(f->ti, ev, &res, 20000), 0);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    assert_non_null(strstr(s.last, "Content-Type: application/cloudevents+json; charset=utf-8\r\n"));
    assert_null(strstr(s.last, "ce-id:"));
    assert_non_null(strstr(s.last, "\"id\":\"s1\""));
    server_stop(&s);
    ceb_event_unref(ev);
}

static bool both_done(void *arg)
{
    ceb_testhost_result *r = arg;
    return r[0].done && r[1].done;
}

static void test_batch(void **state)
{
    fx *f = *state;
    server s;
    server_start(&s, OK200, 1);
    start_sink(f, "{\"url\": \"http://127.0.0.1:%d/\", \"mode\": \"batch\", "
               "\"batch\": {\"max_events\": 2, \"max_wait\": \"10s\"}}", s.port);
    ceb_event *a = make_event("b1"), *b = make_event("b2");
    ceb_testhost_result res[2] = {0};
    assert_int_equal(ceb_testhost_deliver(f->ti, a, 1, &res[0]), 0);
    assert_int_equal(ceb_testhost_deliver(f->ti, b, 1, &res[1]), 0);
    assert_int_equal(ceb_testhost_run(f->th, both_done, res, 20000), 0);
    assert_int_equal(res[0].outcome, CEB_OUTCOME_OK);
    assert_int_equal(res[1].outcome, CEB_OUTCOME_OK);
    server_stop(&s);
    assert_int_equal(s.served, 1);
    assert_non_null(strstr(s.last, "Content-Type: application/cloudevents-batch+json; charset=utf-8\r\n"));
    assert_non_null(strstr(s.last, "\r\n\r\n[{"));
    assert_non_null(strstr(s.last, "\"id\":\"b2\""));
    ceb_event_unref(a);
    ceb_event_unref(b);
}

static void check_answer(fx *f, const char *answer, ceb_outcome want, int64_t min_retry,
                         int64_t max_retry, const char *detail)
{
    server s;
    server_start(&s, answer, 1);
    start_sink(f, "{\"url\": \"http://127.0.0.1:%d/\"}", s.port);
    ceb_event *ev = make_event("r1");
    ceb_testhost_result res = {0};
    assert_int_equal(ceb_testhost_deliver_wait(f->ti, ev, &res, 20000), 0);
    assert_int_equal(res.outcome, want);
    assert_in_range(res.retry_after_ms, min_retry, max_retry);
    if (detail != NULL)
        assert_string_equal(res.detail, detail);
    server_stop(&s);
    ceb_event_unref(ev);
    assert_int_equal(ceb_testhost_stop(f->ti, 5000), 0);
    ceb_testhost_destroy(f->ti);
    f->ti = NULL;
}

static void test_classification(void **state)
{
    fx *f = *state;
    check_answer(f, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy",
                 CEB_OUTCOME_RETRY, 7000, 7000, "HTTP 503: busy");
    check_answer(f, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: Fri, 31 Dec 2999 23:59:59 GMT\r\n"
                 "Content-Length: 0\r\n\r\n", CEB_OUTCOME_RETRY, 86400000, INT64_MAX, "HTTP 429");
    check_answer(f, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n",
                 CEB_OUTCOME_RETRY, 0, 0, "HTTP 408");
    check_answer(f, "HTTP/1.1 400 Bad Request\r\nContent-Length: 25\r\n\r\n{\"error\":\"bad\nthing\"}    ",
                 CEB_OUTCOME_PERMANENT, 0, 0, "HTTP 400: {\"error\":\"bad thing\"}    ");
    check_answer(f, "HTTP/1.1 204 No Content\r\n\r\n", CEB_OUTCOME_OK, 0, 0, NULL);
}

static void test_connection_refused(void **state)
{
    fx *f = *state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);                       /* a port nobody listens on */
    start_sink(f, "{\"url\": \"http://127.0.0.1:%d/\"}", ntohs(a.sin_port));
    ceb_event *ev = make_event("c1");
    ceb_testhost_result res = {0};
    assert_int_equal(ceb_testhost_deliver_wait(f->ti, ev, &res, 20000), 0);
    assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);
    assert_int_equal(res.err, CEB_ECONNREFUSED);
    ceb_event_unref(ev);
}

static void test_config_errors(void **state)
{
    fx *f = *state;
    ceb_diag d = {0};
    ceb_testhost_inst *ti = NULL;
    assert_int_equal(ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SINK, "x",
                                         "{\"url\": \"http://x/\", \"headers\": {\"X-A\": 1}}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "headers.X-A");
    assert_string_equal(d.message, "expected a string");
    memset(&d, 0, sizeof d);
    assert_int_equal(ceb_testhost_create(f->th, ceb_plugin_entry(), CEB_TESTHOST_SINK, "x",
                                         "{\"url\": \"http://x/\", \"tls\": {\"insecure_skip_verify\": true}}",
                                         &f->ti, &d), 0);
    assert_int_equal(ceb_testhost_start(f->ti), 0);
    assert_true(ceb_testhost_log_contains(f->th, "tls.insecure_skip_verify is set"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
