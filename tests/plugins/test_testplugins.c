/*
 * The test plugins gen and flaky under the SDK test host: they must keep the
 * plugin contract themselves before the integration tests can blame the core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cebridge/testhost.h>

typedef struct fixture {
    ceb_testhost *th;
    const ceb_plugin *plugin;
    char dir[64];
} fixture;

static int setup(void **state, const char *so)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(ceb_testhost_new(&f->th), 0);
    ceb_diag d;
    ceb_diag_clear(&d);
    int rc = ceb_testhost_load(f->th, so, &f->plugin, &d);
    if (rc != 0)
        fail_msg("load %s: %s", so, d.message);
    strcpy(f->dir, "/tmp/ceb-testplugins-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int setup_flaky(void **state) { return setup(state, CEB_TEST_FLAKY_SO); }
static int setup_gen(void **state) { return setup(state, CEB_TEST_GEN_SO); }

static int teardown(void **state)
{
    fixture *f = *state;
    assert_null(ceb_testhost_violation(f->th));
    assert_int_equal(ceb_testhost_free(f->th), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return strdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return strdup(buf);
}

static ceb_testhost_inst *make(fixture *f, ceb_testhost_role role, const char *json)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d;
    ceb_diag_clear(&d);
    int rc = ceb_testhost_create(f->th, f->plugin, role, "t", json, &ti, &d);
    if (rc != 0)
        fail_msg("create %s: %s: %s", json, d.field, d.message);
    assert_int_equal(ceb_testhost_start(ti), 0);
    return ti;
}

static ceb_event *event(const char *id)
{
    ceb_event *ev;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", id, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/t", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "t", NULL), 0);
    ceb_event_freeze(ev);
    return ev;
}

/* ---- flaky ---------------------------------------------------------- */

static void flaky_fails_n_times_then_succeeds(void **state)
{
    fixture *f = *state;
    char rec[128], json[256];
    snprintf(rec, sizeof rec, "%s/record", f->dir);
    snprintf(json, sizeof json, "{\"fail_times\": 2, \"record\": \"%s\"}", rec);
    ceb_testhost_inst *ti = make(f, CEB_TESTHOST_SINK, json);
    ceb_event *a = event("a"), *b = event("b");
    ceb_outcome want[] = { CEB_OUTCOME_RETRY, CEB_OUTCOME_RETRY, CEB_OUTCOME_OK };
    for (int i = 0; i < 3; i++) {
        ceb_testhost_result res = {0};
        assert_int_equal(ceb_testhost_deliver_wait(ti, a, &res, 5000), 0);
        assert_true(res.done);
        assert_int_equal(res.outcome, want[i]);
    }
    ceb_testhost_result res = {0};
    assert_int_equal(ceb_testhost_deliver_wait(ti, b, &res, 5000), 0);
    assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);   /* counted per id */
    assert_string_equal(res.detail, "flaky: temporary failure");
    ceb_event_unref(a);
    ceb_event_unref(b);
    assert_int_equal(ceb_testhost_stop(ti, 1000), 0);
    ceb_testhost_destroy(ti);
    char *text = slurp(rec);
    unsigned n1, n2, n3, n4;
    char o1[16], o2[16], o3[16], o4[16];
    unsigned long long t1, t2, t3, t4;
    assert_int_equal(sscanf(text, "a %u %15s %llu\na %u %15s %llu\na %u %15s %llu\nb %u %15s %llu\n",
                            &n1, o1, &t1, &n2, o2, &t2, &n3, o3, &t3, &n4, o4, &t4), 12);
    assert_int_equal(n1, 1);
    assert_int_equal(n3, 3);
    assert_int_equal(n4, 1);
    assert_string_equal(o1, "RETRY");
    assert_string_equal(o3, "OK");
    assert_true(t1 <= t2 && t2 <= t3 && t3 <= t4);
    free(text);
}

static void flaky_permanent(void **state)
{
    fixture *f = *state;
    ceb_testhost_inst *ti = make(f, CEB_TESTHOST_SINK, "{\"permanent\": true}");
    ceb_event *a = event("a");
    ceb_testhost_result res = {0};
    assert_int_equal(ceb_testhost_deliver_wait(ti, a, &res, 5000), 0);
    assert_int_equal(res.outcome, CEB_OUTCOME_PERMANENT);
    assert_string_equal(res.detail, "flaky: permanent failure");
    ceb_event_unref(a);
    ceb_testhost_destroy(ti);
}

static void flaky_rejects_permanent_with_fail_all(void **state)
{
    fixture *f = *state;
    ceb_testhost_inst *ti = NULL;
    ceb_diag d;
    ceb_diag_clear(&d);
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "t",
                                         "{\"permanent\": true, \"fail_all\": true}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "permanent");
    assert_string_equal(d.message, "permanent and fail_all are exclusive");
}

static void flaky_stop_cancels_pending(void **state)
{
    fixture *f = *state;
    ceb_testhost_inst *ti = make(f, CEB_TESTHOST_SINK, "{\"delay\": \"1h\"}");
    ceb_event *a = event("a"), *b = event("b");
    ceb_testhost_result ra = {0}, rb = {0};
    assert_int_equal(ceb_testhost_deliver(ti, a, 1, &ra), 0);
    assert_int_equal(ceb_testhost_deliver(ti, b, 1, &rb), 0);
    assert_false(ra.done);
    assert_int_equal(ceb_testhost_stop(ti, 1000), 0);
    assert_true(ra.done && rb.done);
    assert_int_equal(ra.outcome, CEB_OUTCOME_RETRY);
    assert_int_equal(ra.err, CEB_ECANCELED);
    ceb_event_unref(a);
    ceb_event_unref(b);
    ceb_testhost_destroy(ti);
}

/* ---- gen ------------------------------------------------------------ */

static bool gen_ended(void *arg)
{
    return ceb_testhost_source_ended(arg);
}

static void gen_emits_batches_and_logs_acks(void **state)
{
    fixture *f = *state;
    char log[128], json[256];
    snprintf(log, sizeof log, "%s/acks", f->dir);
    snprintf(json, sizeof json, "{\"count\": 10, \"batch\": 3, \"ack_log\": \"%s\"}", log);
    ceb_testhost_inst *ti = make(f, CEB_TESTHOST_SOURCE, json);
    assert_int_equal(ceb_testhost_run(f->th, gen_ended, ti, 5000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 10);
    assert_int_equal(ceb_testhost_batches(ti), 4);
    const ceb_event *e7 = ceb_testhost_emitted(ti, 7);
    assert_string_equal(ceb_event_id(e7), "gen-7");
    assert_string_equal(ceb_event_type(e7), "gen.1");
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);   /* waits for the acks */
    assert_int_equal(ceb_testhost_acked(ti), 4);
    ceb_testhost_destroy(ti);
    char *text = slurp(log);
    int b0, s0, b3, s3, end;
    unsigned long long t;
    assert_int_equal(sscanf(text, "end %d\n%d %d %llu\n%*d %*d %*u\n%*d %*d %*u\n%d %d %llu",
                            &end, &b0, &s0, &t, &b3, &s3, &t), 7);
    assert_int_equal(end, 10);
    assert_int_equal(b0, 0);
    assert_int_equal(s0, 0);
    assert_int_equal(b3, 3);
    free(text);
}

static bool gen_has_emitted_5(void *arg)
{
    return ceb_testhost_emitted_count(arg) >= 5;
}

static void gen_pause_resume_and_nack(void **state)
{
    fixture *f = *state;
    char log[128], json[256];
    snprintf(log, sizeof log, "%s/acks", f->dir);
    snprintf(json, sizeof json, "{\"count\": 100000, \"interval\": \"1ms\", \"ack_log\": \"%s\"}",
             log);
    ceb_testhost_inst *ti = make(f, CEB_TESTHOST_SOURCE, json);
    ceb_testhost_set_auto_ack(ti, false, 0);
    assert_int_equal(ceb_testhost_run(f->th, gen_has_emitted_5, ti, 5000), 0);
    ceb_testhost_pause(ti);
    size_t n = ceb_testhost_emitted_count(ti);
    /* Paused: the loop runs dry (nothing scheduled) and nothing more is emitted. */
    ceb_testhost_run(f->th, NULL, NULL, 50);
    assert_int_equal(ceb_testhost_emitted_count(ti), n);
    ceb_testhost_resume(ti);
    assert_int_equal(ceb_testhost_run(f->th, gen_has_emitted_5, ti, 5000), 0);
    size_t pending = ceb_testhost_batches(ti) - ceb_testhost_acked(ti);
    assert_true(pending > 0);
    assert_int_equal(ceb_testhost_ack_pending(ti, -1), pending);
    assert_int_equal(ceb_testhost_stop(ti, 1000), 0);
    ceb_testhost_destroy(ti);
    char *text = slurp(log);
    assert_int_equal(strncmp(text, "pause\nresume\n", 13), 0);   /* no ack before the nack */
    assert_non_null(strstr(text, "\nresume\n"));
    assert_non_null(strstr(text, " -1 "));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(flaky_fails_n_times_then_succeeds, setup_flaky, teardown),
        cmocka_unit_test_setup_teardown(flaky_permanent, setup_flaky, teardown),
        cmocka_unit_test_setup_teardown(flaky_rejects_permanent_with_fail_all, setup_flaky,
                                        teardown),
        cmocka_unit_test_setup_teardown(flaky_stop_cancels_pending, setup_flaky, teardown),
        cmocka_unit_test_setup_teardown(gen_emits_batches_and_logs_acks, setup_gen, teardown),
        cmocka_unit_test_setup_teardown(gen_pause_resume_and_nack, setup_gen,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
