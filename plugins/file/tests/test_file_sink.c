/* Tests of the file plugin's sink, loaded from file.so into the test host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cebridge/testhost.h>

#ifndef FILE_PLUGIN_SO
#error FILE_PLUGIN_SO must name build/lib/cebridge/plugins/file.so
#endif

/*
 * write(2) and fsync(2) are interposed (the executable exports them, so the
 * dlopen'ed file.so binds to these) to count the calls on one file, named by
 * device and inode: how the sink batches is part of its contract. Test-only
 * global state; everything else passes straight to the system call.
 */
static struct {
    bool on;
    dev_t dev;
    ino_t ino;
    size_t writes, fsyncs;
} counted;

static bool counted_fd(int fd)
{
    struct stat st;
    return counted.on && fstat(fd, &st) == 0 && st.st_dev == counted.dev && st.st_ino == counted.ino;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (counted_fd(fd))
        counted.writes++;
    return syscall(SYS_write, fd, buf, n);
}

int fsync(int fd)
{
    if (counted_fd(fd))
        counted.fsyncs++;
    return (int)syscall(SYS_fsync, fd);
}

static void count_calls_on(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    counted.dev = st.st_dev;
    counted.ino = st.st_ino;
    counted.writes = counted.fsyncs = 0;
    counted.on = true;
}

static void count_calls_off(void)
{
    counted.on = false;
}

typedef struct fx {
    char dir[64];
    char path[128];
    ceb_testhost *th;
    const ceb_plugin *plugin;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/ceb_file_snk_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/out.jsonl", f->dir);
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

static ceb_testhost_inst *sink(fx *f, const char *json)
{
    ceb_testhost_inst *ti = NULL;
    ceb_diag d = {0};
    if (ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "out", json, &ti, &d) != 0)
        fail_msg("create: %s: %s", d.field, d.message);
    return ti;
}

static ceb_event *event(const char *id, const char *data)
{
    ceb_event *ev = NULL;
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", id, NULL), 0);
    assert_int_equal(ceb_event_set(ev, "source", "/test", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "type", "dev.test", NULL), 0);
    assert_int_equal(ceb_event_set(ev, "team", "qe", NULL), 0);
    if (data)
        assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, data, strlen(data)), 0);
    ceb_event_freeze(ev);
    return ev;
}

static void deliver_ok(ceb_testhost_inst *ti, const char *id, const char *data)
{
    ceb_event *ev = event(id, data);
    ceb_testhost_result res;
    assert_int_equal(ceb_testhost_deliver_wait(ti, ev, &res, 5000), 0);
    assert_true(res.done);
    assert_int_equal(res.outcome, CEB_OUTCOME_OK);
    ceb_event_unref(ev);
}

/* Read the file's lines back through the codec. */
static size_t read_events(const char *path, ceb_event **out, size_t max)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof(line), fp) != NULL && n < max) {
        size_t len = strlen(line);
        assert_true(len > 0 && line[len - 1] == '\n');
        ceb_diag d = {0};
        if (ceb_codec_json_decode(line, len - 1, NULL, &out[n], &d) != 0)
            fail_msg("line %zu: %s", n + 1, d.message);
        n++;
    }
    fclose(fp);
    return n;
}

static void test_round_trip(void **state)
{
    fx *f = *state;
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"fsync\": true}", f->path);
    ceb_testhost_inst *ti = sink(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    deliver_ok(ti, "one", "{\"a\":[1,2]}");
    deliver_ok(ti, "two", NULL);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);

    ceb_event *evs[4];
    assert_int_equal(read_events(f->path, evs, 4), 2);
    assert_string_equal(ceb_event_id(evs[0]), "one");
    assert_string_equal(ceb_event_get(evs[0], "team"), "qe");
    size_t len = 0;
    const char *data = ceb_event_data(evs[0], &len);
    assert_int_equal(len, strlen("{\"a\":[1,2]}"));
    assert_memory_equal(data, "{\"a\":[1,2]}", len);
    assert_string_equal(ceb_event_id(evs[1]), "two");
    ceb_event_unref(evs[0]);
    ceb_event_unref(evs[1]);

    /* append (the default) keeps what is there; append false truncates */
    ti = sink(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    deliver_ok(ti, "three", NULL);
    ceb_testhost_destroy(ti);
    assert_int_equal(read_events(f->path, evs, 4), 3);
    for (int i = 0; i < 3; i++)
        ceb_event_unref(evs[i]);
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"append\": false}", f->path);
    ti = sink(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    deliver_ok(ti, "four", NULL);
    ceb_testhost_destroy(ti);
    assert_int_equal(read_events(f->path, evs, 4), 1);
    assert_string_equal(ceb_event_id(evs[0]), "four");
    ceb_event_unref(evs[0]);
}

static void test_missing_directory(void **state)
{
    fx *f = *state;
    char json[256], want[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s/no/such/dir.jsonl\"}", f->dir);
    ceb_testhost_inst *ti = sink(f, json);
    assert_int_equal(ceb_testhost_start(ti), CEB_ENOENT);
    snprintf(want, sizeof(want),
             "cannot open %s/no/such/dir.jsonl for writing: No such file or directory", f->dir);
    assert_true(ceb_testhost_log_contains(f->th, want));
    ceb_testhost_destroy(ti);

    ceb_diag d = {0};
    assert_int_equal(ceb_testhost_create(f->th, f->plugin, CEB_TESTHOST_SINK, "out",
                                         "{\"fsync\": true}", &ti, &d),
                     CEB_ECONFIG);
    assert_string_equal(d.field, "path");
}

static void test_write_error_is_retryable(void **state)
{
    fx *f = *state;
    ceb_testhost_inst *ti = sink(f, "{\"path\": \"/dev/full\"}");
    assert_int_equal(ceb_testhost_start(ti), 0);
    ceb_event *ev = event("x", NULL);
    ceb_testhost_result res;
    assert_int_equal(ceb_testhost_deliver_wait(ti, ev, &res, 5000), 0);
    assert_true(res.done);
    assert_int_equal(res.outcome, CEB_OUTCOME_RETRY);
    assert_int_equal(res.err, -ENOSPC);
    assert_string_equal(res.detail, "write to /dev/full: No space left on device");
    ceb_event_unref(ev);
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
}

typedef struct many {
    ceb_testhost_result *res;
    size_t n;
} many;

static bool all_done(void *arg)
{
    many *m = arg;
    for (size_t i = 0; i < m->n; i++)
        if (!m->res[i].done)
            return false;
    return true;
}

static size_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

/* N deliveries in one loop turn: nothing written or completed before the
   loop runs, then one write (and one fsync) and every delivery OK after it. */
static void test_deliveries_of_a_turn_are_one_write(void **state)
{
    fx *f = *state;
    enum { N = 10 };
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"fsync\": true}", f->path);
    ceb_testhost_inst *ti = sink(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    count_calls_on(f->path);
    ceb_testhost_result res[N];
    ceb_event *evs[N];
    memset(res, 0, sizeof(res));
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "e%d", i);
        evs[i] = event(id, "{\"k\":1}");
        assert_int_equal(ceb_testhost_deliver(ti, evs[i], 1, &res[i]), 0);
        assert_false(res[i].done);
    }
    assert_int_equal(counted.writes, 0);
    assert_int_equal(file_size(f->path), 0);
    many m = {res, N};
    assert_int_equal(ceb_testhost_run(f->th, all_done, &m, 5000), 0);
    assert_int_equal(counted.writes, 1);
    assert_int_equal(counted.fsyncs, 1);
    count_calls_off();
    for (int i = 0; i < N; i++) {
        assert_int_equal(res[i].outcome, CEB_OUTCOME_OK);
        assert_int_equal(res[i].err, 0);
        ceb_event_unref(evs[i]);
    }
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    ceb_testhost_destroy(ti);

    ceb_event *back[N + 1];
    assert_int_equal(read_events(f->path, back, N + 1), N);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "e%d", i);
        assert_string_equal(ceb_event_id(back[i]), id);   /* in delivery order */
        ceb_event_unref(back[i]);
    }
}

/* A failed write fails every delivery of its batch with RETRY and the errno. */
static void test_write_error_fails_the_whole_batch(void **state)
{
    fx *f = *state;
    enum { N = 5 };
    ceb_testhost_inst *ti = sink(f, "{\"path\": \"/dev/full\"}");
    assert_int_equal(ceb_testhost_start(ti), 0);
    count_calls_on("/dev/full");
    ceb_testhost_result res[N];
    ceb_event *evs[N];
    memset(res, 0, sizeof(res));
    for (int i = 0; i < N; i++) {
        evs[i] = event("x", NULL);
        assert_int_equal(ceb_testhost_deliver(ti, evs[i], 1, &res[i]), 0);
    }
    many m = {res, N};
    assert_int_equal(ceb_testhost_run(f->th, all_done, &m, 5000), 0);
    assert_int_equal(counted.writes, 1);
    count_calls_off();
    for (int i = 0; i < N; i++) {
        assert_int_equal(res[i].outcome, CEB_OUTCOME_RETRY);
        assert_int_equal(res[i].err, -ENOSPC);
        assert_string_equal(res[i].detail, "write to /dev/full: No space left on device");
        ceb_event_unref(evs[i]);
    }
    assert_true(ceb_testhost_log_contains(
        f->th, "write to /dev/full: No space left on device (5 deliveries to retry)"));
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
}

/* Pending lines past 64 KiB are written (and completed) inside deliver(),
   so the buffer stays bounded however many deliveries one turn brings. */
static void test_full_buffer_is_written_at_once(void **state)
{
    fx *f = *state;
    enum { MAX = 200 };
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s\"}", f->path);
    ceb_testhost_inst *ti = sink(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    count_calls_on(f->path);
    char data[1024];
    memset(data, 'a', sizeof(data));
    data[0] = '"';
    data[sizeof(data) - 2] = '"';
    data[sizeof(data) - 1] = '\0';
    ceb_testhost_result *res = calloc(MAX, sizeof(*res));
    ceb_event *evs[MAX];
    size_t n = 0;
    while (n < MAX) {
        evs[n] = event("big", data);
        assert_int_equal(ceb_testhost_deliver(ti, evs[n], 1, &res[n]), 0);
        n++;
        if (res[n - 1].done)
            break;
    }
    /* every line is over 1 KiB: the flush came after 64 KiB, i.e. ~64 events */
    assert_true(n > 32 && n < 70);
    assert_int_equal(counted.writes, 1);
    assert_true(file_size(f->path) >= 64 * 1024);
    for (size_t i = 0; i < n; i++) {
        assert_true(res[i].done);
        assert_int_equal(res[i].outcome, CEB_OUTCOME_OK);
        ceb_event_unref(evs[i]);
    }
    count_calls_off();
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    free(res);
}

/* stop() writes what is pending and completes it before stopped(). */
static void test_stop_writes_pending_lines(void **state)
{
    fx *f = *state;
    enum { N = 3 };
    char json[256];
    snprintf(json, sizeof(json), "{\"path\": \"%s\"}", f->path);
    ceb_testhost_inst *ti = sink(f, json);
    assert_int_equal(ceb_testhost_start(ti), 0);
    ceb_testhost_result res[N];
    ceb_event *evs[N];
    memset(res, 0, sizeof(res));
    for (int i = 0; i < N; i++) {
        evs[i] = event("p", NULL);
        assert_int_equal(ceb_testhost_deliver(ti, evs[i], 1, &res[i]), 0);
    }
    assert_int_equal(ceb_testhost_stop(ti, 5000), 0);
    for (int i = 0; i < N; i++) {
        assert_true(res[i].done);
        assert_int_equal(res[i].outcome, CEB_OUTCOME_OK);
        ceb_event_unref(evs[i]);
    }
    ceb_testhost_destroy(ti);
    ceb_event *back[N + 1];
    assert_int_equal(read_events(f->path, back, N + 1), N);
    for (int i = 0; i < N; i++)
        ceb_event_unref(back[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_is_retryable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries_of_a_turn_are_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_fails_the_whole_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_buffer_is_written_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_writes_pending_lines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
