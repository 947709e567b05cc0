/* Tests of the file plugin's source, loaded from file.so into the test host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cebridge/testhost.h>

#ifndef FILE_PLUGIN_SO
#error FILE_PLUGIN_SO must name build/lib/cebridge/plugins/file.so
#endif

typedef struct fx {
    char dir[64];
    char path[128];
    char offsets[128];
    ceb_testhost *th;
    const ceb_plugin *plugin;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/ceb_file_src_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/in.jsonl", f->dir);
    snprintf(f->offsets, sizeof(f->offsets), "%s/offset", f->dir);
    assert_int_equal(ceb_testhost_new(&f->th), 0);
    ceb_diag d = {0};
    if (ceb_testhost_load(f->th, FILE_PLUGIN_SO, &f->plugin, &d) != 0)
        fail_msg("load: %s", d.message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    assert_null(ceb_testhost_violation(f->th));
    assert_int_equal(ceb_testhost_free(f->th), 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *mode, const char *text)
{
    FILE *fp = fopen(path, mode);
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static char *read_text(const char *path)
{
    static char buf[256];
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

#define EV(id) "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"/s\",\"type\":\"t\",\"data\":{\"n\":1}}\n"

static ceb_testhost_inst *source(fx *f, const char *json)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    if (ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "in", json, &ti, &d) != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    return ti;
}

static bool ended(void *arg)
{
    return ceb_testhost_source_ended(arg);
}

typedef struct want {
    ceb_testhost_inst *ti;
    size_t n;
} want;

static bool emitted_at_least(void *arg)
{
    want *w = arg;
    return ceb_testhost_emitted_count(w->ti) >= w->n;
}

static bool all_acked(void *arg)
{
    ceb_testhost_inst *ti = arg;
    return ceb_testhost_acked(ti) == ceb_testhost_batches(ti);
}

static void test_valid_lines(void **state)
{
    fx *f = *state;
    write_file(f->path, "w", EV("a") "\n   \n" EV("b") EV("c"));
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s\"}", f->path);
    ceb_testhost_inst *ti = source(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    assert_int_equal(ceb_testhost_run(f->th, ended, ti, 5000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 3);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 0)), "a");
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 2)), "c");
    assert_int_equal(ceb_testhost_batches(ti), 1);
    assert_int_equal(ceb_testhost_dead_lettered_count(ti), 0);
    assert_int_equal(ceb_testhost_run(f->th, all_acked, ti, 5000), 0);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    assert_true(ceb_testhost_log_contains(f->th, "after 5 lines"));
}

static void test_missing_file(void **state)
{
    fx *f = *state;
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s/nope\"}", f->dir);
    ceb_testhost_inst *ti = source(f, json);
    assert_int_equal(ceb_testhost_start(ti), CEB_ENOENT);
    char want_msg[256];
    snprintf(want_msg, sizeof(want_msg), "cannot open %s/nope: no such file or directory", f->dir);
    assert_true(ceb_testhost_log_contains(f->th, want_msg));
    ceb_testhost_destroy(ti);

    /* options are checked before create */
    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "in", "{}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "path");
    ceb_diag_clear(&d);
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SOURCE, "in",
                                         "{\"path\": \"-\", \"offset_file\": \"/tmp/x\"}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "offset_file");
    assert_string_equal(d.message, "cannot resume stdin; offset_file needs a file path");
}

static void test_invalid_line_dead_lettered(void **state)
{
    fx *f = *state;
    write_file(f->path, "w",
               EV("a") "this is not json\n" EV("b")
               "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\"}\n" EV("c"));
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"strict\": true}", f->path);
    ceb_testhost_inst *ti = source(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    assert_int_equal(ceb_testhost_run(f->th, ended, ti, 5000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 3);
    assert_int_equal(ceb_testhost_dead_lettered_count(ti), 2);
    /* file order is kept: a, dead(2), b, dead(4), c */
    assert_int_equal(ceb_testhost_batches(ti), 5);
    const char *reason = NULL;
    const ceb_event *dl = ceb_testhost_dead_lettered(ti, 0, &reason);
    assert_string_equal(ceb_event_type(dl), "dev.cebridge.file.invalid");
    char src[160];
    snprintf(src, sizeof(src), "file://%s", f->path);
    assert_string_equal(ceb_event_source(dl), src);
    assert_string_equal(ceb_event_subject(dl), "2");
    size_t len = 0;
    const char *data = ceb_event_data(dl, &len);
    assert_int_equal(len, strlen("this is not json"));
    assert_memory_equal(data, "this is not json", len);
    assert_non_null(strstr(reason, "line 2: "));
    ceb_testhost_dead_lettered(ti, 1, &reason);
    assert_non_null(strstr(reason, "line 4: "));
    char logline[256];
    snprintf(logline, sizeof(logline), "%s line 2: not a valid event", f->path);
    assert_true(ceb_testhost_log_contains(f->th, logline));
    snprintf(logline, sizeof(logline), "%s line 4: not a valid event", f->path);
    assert_true(ceb_testhost_log_contains(f->th, logline));
    assert_int_equal(ceb_testhost_run(f->th, all_acked, ti, 5000), 0);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
}

static void test_offset_resume_and_nack(void **state)
{
    fx *f = *state;
    write_file(f->path, "w", EV("1") EV("2") EV("3") EV("4") EV("5"));
    size_t line_len = strlen(EV("1"));
    char json[384];
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"offset_file\": \"%s\", \"batch\": 1}",
             f->path, f->offsets);
    ceb_testhost_inst *ti = source(f, json);
    ceb_testhost_set_auto_ack(ti, false, 0);
    assert_int_equal(ceb_testhost_start(ti), 0);
    assert_int_equal(ceb_testhost_run(f->th, ended, ti, 5000), 0);
    assert_int_equal(ceb_testhost_batches(ti), 5);
    assert_null(read_text(f->offsets)); /* nothing acked, nothing recorded */

    /* acks applied in order: 1 and 2 commit */
    assert_int_equal(ceb_testhost_ack_next(ti, 2, 0), 2);
    char want_txt[64];
    snprintf(want_txt, sizeof(want_txt), "%zu 2\n", 2 * line_len);
    assert_string_equal(read_text(f->offsets), want_txt);
    /* 3 is nacked: 4 and 5 succeed but the offset stays after 2 */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, CEB_EIO), 1);
    assert_int_equal(ceb_testhost_ack_next(ti, 2, 0), 2);
    assert_string_equal(read_text(f->offsets), want_txt);
    assert_true(ceb_testhost_log_contains(f->th, "was not delivered"));
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);

    /* a restart resumes after line 2 */
    ti = source(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    assert_int_equal(ceb_testhost_run(f->th, ended, ti, 5000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 3);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 0)), "3");
    assert_int_equal(ceb_testhost_run(f->th, all_acked, ti, 5000), 0);
    snprintf(want_txt, sizeof(want_txt), "%zu 5\n", 5 * line_len);
    assert_string_equal(read_text(f->offsets), want_txt);
    assert_true(ceb_testhost_log_contains(f->th, "resuming"));
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
}

static void test_offset_before_invalid_line(void **state)
{
    fx *f = *state;
    write_file(f->path, "w", EV("1") "garbage\n" EV("3"));
    char json[384];
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"offset_file\": \"%s\"}", f->path,
             f->offsets);
    ceb_testhost_inst *ti = source(f, json);
    ceb_testhost_set_auto_ack(ti, false, 0);
    assert_int_equal(ceb_testhost_start(ti), 0);
    assert_int_equal(ceb_testhost_run(f->th, ended, ti, 5000), 0);
    assert_int_equal(ceb_testhost_batches(ti), 3); /* [1], dead letter of line 2, [3] */
    assert_int_equal(ceb_testhost_ack_next(ti, 1, 0), 1);
    char want_txt[64];
    snprintf(want_txt, sizeof(want_txt), "%zu 1\n", strlen(EV("1")));
    assert_string_equal(read_text(f->offsets), want_txt);
    /* the dead-letter write of line 2 failed: the offset must not pass it */
    assert_int_equal(ceb_testhost_ack_next(ti, 2, CEB_EIO), 2);
    assert_string_equal(read_text(f->offsets), want_txt);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
}

static void test_stdin_pipe(void **state)
{
    fx *f = *state;
    int saved = dup(0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(dup2(p[0], 0), 0);
    close(p[0]);
    const char *text = EV("in1") "garbage\n" EV("in2");
    assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
    close(p[1]);
    ceb_testhost_inst *ti = source(f, "{\"path\": \"-\"}");
    assert_int_equal(ceb_testhost_start(ti), 0);
    assert_int_equal(ceb_testhost_run(f->th, ended, ti, 5000), 0);
    assert_int_equal(ceb_testhost_emitted_count(ti), 2);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 1)), "in2");
    assert_int_equal(ceb_testhost_dead_lettered_count(ti), 1);
    assert_string_equal(ceb_event_source(ceb_testhost_dead_lettered(ti, 0, NULL)), "file://stdin");
    assert_true(ceb_testhost_log_contains(f->th, "- line 2: not a valid event"));
    assert_int_equal(ceb_testhost_run(f->th, all_acked, ti, 5000), 0);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

static void test_follow_and_pause(void **state)
{
    fx *f = *state;
    write_file(f->path, "w", EV("f1"));
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"follow\": true, \"poll_interval\": \"5ms\"}",
             f->path);
    ceb_testhost_inst *ti = source(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    want w = {ti, 1};
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 5000), 0);

    /* the file grows, in two pieces: a half line is held back */
    const char *l2 = EV("f2");
    char half[128];
    snprintf(half, sizeof(half), "%.*s", 20, l2);
    write_file(f->path, "a", half);
    write_file(f->path, "a", l2 + 20);
    w.n = 2;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 5000), 0);
    assert_string_equal(ceb_event_id(ceb_testhost_emitted(ti, 1)), "f2");
    assert_false(ceb_testhost_source_ended(ti));

    /* paused: growth is not read until resume */
    ceb_testhost_pause(ti);
    assert_int_equal(ceb_testhost_run(f->th, NULL, NULL, 30), 0);
    write_file(f->path, "a", EV("f3"));
    w.n = 3;
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 60), CEB_ETIMEDOUT);
    ceb_testhost_resume(ti);
    assert_int_equal(ceb_testhost_run(f->th, emitted_at_least, &w, 5000), 0);
    assert_false(ceb_testhost_source_ended(ti));
    assert_int_equal(ceb_testhost_run(f->th, all_acked, ti, 5000), 0);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_line_dead_lettered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_resume_and_nack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_before_invalid_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdin_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_and_pause, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
