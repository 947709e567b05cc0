/*
 * Tests of the skel sink: skel.so loaded into cebridge's test host, which
 * validates configs with the daemon's validator and records every breach of
 * the plugin contract (complete() twice, a host call after stopped(), ...).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cebridge/testhost.h>

#ifndef SKEL_PLUGIN_SO
#error SKEL_PLUGIN_SO must name the built skel.so
#endif

typedef struct fx {
    char dir[64];
    char path[128];
    ceb_testhost *th;
    const ceb_plugin *plugin;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/skel_test_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/out.log", f->dir);
    assert_int_equal(ceb_testhost_new(&f->th), 0);
    ceb_diag d = {0};
    if (ceb_testhost_load(f->th, SKEL_PLUGIN_SO, &f->plugin, &d) != 0)
        fail_msg("load %s: %s", SKEL_PLUGIN_SO, d.message);
    assert_string_equal(f->plugin->name, "skel");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    /* Every test proves the contract held and nothing was left on the loop. */
    assert_null(ceb_testhost_violation(f->th));
    assert_int_equal(ceb_testhost_free(f->th), 0);
    unlink(f->path);
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

/* Create and start a sink with `json` as its drop-in object. */
static ceb_testhost_inst *sink(fx *f, const char *json)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    if (ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "out", json, &ti, &d) != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    assert_int_equal(ceb_testhost_start(ti), 0);
    return ti;
}

static ceb_testhost_inst *sink_at(fx *f, const char *extra)
{
    char json[512];
    snprintf(json, sizeof(json), "{\"path\": \"%s\"%s%s}", f->path, extra[0] ? ", " : "", extra);
    return sink(f, json);
}

/* Expect create to fail with `field` and exactly `message`. */
static void create_fails(fx *f, const char *json, int code, const char *field, const char *message)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "out", json, &ti, &d),
                     code);
    assert_null(ti);
    assert_string_equal(d.field, field);
    assert_string_equal(d.message, message);
}

static ceb_event *event(const char *id, const char *subject)
{
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", id, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/test", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "dev.test.built", NULL), 0);
    if (subject != NULL)
        assert_int_equal(ceb_event_set(ev, "subject", subject, NULL), 0);
    const char *data = "{\"n\":1}";
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, data, strlen(data)), 0);
    ceb_event_freeze(ev);
    return ev;
}

static void deliver(ceb_testhost_inst *ti, const char *id, const char *subject,
                    ceb_testhost_result *res)
{
    ceb_event *ev = event(id, subject);
    memset(res, 0, sizeof(*res));
    assert_int_equal(ceb_testhost_deliver_wait(ti, ev, res, 5000), 0);
    assert_true(res->done);
    ceb_event_unref(ev);
}

/* The whole output file as a string (caller frees). */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* Check one output line: `prefix` then a JSON event with id `id`. */
static void check_line(const char *line, size_t len, const char *prefix, const char *id)
{
    size_t plen = strlen(prefix);
    assert_true(len > plen);
    assert_memory_equal(line, prefix, plen);
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    if (ceb_codec_json_decode(line + plen, len - plen, NULL, &ev, &d) != 0)
        fail_msg("line is not a JSON event: %s", d.message);
    assert_string_equal(ceb_event_id(ev), id);
    assert_string_equal(ceb_event_type(ev), "dev.test.built");
    size_t dlen = 0;
    const char *data = ceb_event_data(ev, &dlen);
    assert_int_equal(dlen, 7);
    assert_memory_equal(data, "{\"n\":1}", 7);
    ceb_event_unref(ev);
}

static void test_delivers_lines(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = sink_at(f, "");
    ceb_testhost_result res;
    deliver(ti, "e-1", NULL, &res);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    assert_int_equal(res.err, 0);
    deliver(ti, "e-2", "build/7", &res);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);

    char *out = slurp(f->path);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    check_line(out, (size_t)(nl - out), "dev.test.built e-1: ", "e-1");
    char *second = nl + 1;
    char *nl2 = strchr(second, '\n');
    assert_non_null(nl2);
    check_line(second, (size_t)(nl2 - second), "dev.test.built e-2: ", "e-2");
    assert_string_equal(nl2 + 1, "");
    free(out);
}

static void test_missing_reference_renders_empty(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = sink_at(f, "\"prefix\": \"[{subject}] \"");
    ceb_testhost_result res;
    deliver(ti, "e-1", NULL, &res);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    ceb_testhost_destroy(ti);   /* stops first */

    char *out = slurp(f->path);
    check_line(out, strlen(out) - 1, "[] ", "e-1");
    free(out);
}

static void test_missing_reference_is_permanent(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = sink_at(f, "\"prefix\": \"[{subject}] \", \"fail_on\": \"missing\"");
    ceb_testhost_result res;
    deliver(ti, "e-1", NULL, &res);
    assert_int_equal(res.outcome, CEB_OUTCOME_PERMANENT);
    assert_int_equal(res.err, CEB_ENOENT);
    assert_non_null(strstr(res.detail, "subject"));
    deliver(ti, "e-2", "build/7", &res);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    ceb_testhost_destroy(ti);

    char *out = slurp(f->path);   /* only the event that rendered */
    check_line(out, strlen(out) - 1, "[build/7] ", "e-2");
    free(out);
}

static void test_too_long_is_permanent(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = sink_at(f, "\"max_line\": 64");
    ceb_testhost_result res;
    deliver(ti, "e-1", NULL, &res);
    assert_int_equal(res.outcome, CEB_OUTCOME_PERMANENT);
    assert_int_equal(res.err, CEB_E2BIG);
    assert_non_null(strstr(res.detail, "longer than max_line 64"));
    ceb_testhost_destroy(ti);
    char *out = slurp(f->path);
    assert_string_equal(out, "");
    free(out);
}

static void test_write_error_is_retried(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = sink(f, "{\"path\": \"/dev/full\"}");
    ceb_testhost_result res;
    deliver(ti, "e-1", NULL, &res);
    assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);
    assert_int_equal(res.err, -ENOSPC);
    assert_string_equal(res.detail, "write to /dev/full: No space left on device");
    assert_true(ceb_testhost_log_contains(f->th, "write to /dev/full"));
    ceb_testhost_destroy(ti);
}

static void test_start_fails_on_missing_directory(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s/no/such/dir/out.log\"}", f->dir);
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "out", json, &ti, &d), 0);
    assert_int_equal(ceb_testhost_start(ti), -ENOENT);
    assert_true(ceb_testhost_log_contains(f->th, "cannot open"));
    ceb_testhost_destroy(ti);
}

static void test_config_errors(void **state)
{
    fx *f = *state;
    create_fails(f, "{}", CEB_ECONFIG, "path", "required option missing");
    create_fails(f, "{\"path\": \"\"}", CEB_ECONFIG, "path", "must not be empty");
    create_fails(f, "{\"path\": \"/tmp/x\", \"fail_on\": \"sometimes\"}", CEB_ECONFIG, "fail_on",
                 "expected one of: never, missing (got \"sometimes\")");
    create_fails(f, "{\"path\": \"/tmp/x\", \"max_line\": 8}", CEB_ECONFIG, "max_line",
                 "must be between 16B and 16MiB, got 8B");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivers_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_reference_renders_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_reference_is_permanent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long_is_permanent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_on_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
