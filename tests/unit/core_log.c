/* Unit tests for core/log.c: exact logfmt and JSON lines (the timestamp is
   checked for shape, then stripped). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/errors.h>
#include "log.h"

typedef struct {
    char *buf;
    size_t len;
    FILE *f;
    ceb_log log;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->f = open_memstream(&fx->buf, &fx->len);
    assert_non_null(fx->f);
    ceb_log_init(&fx->log, fx->f);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    fclose(fx->f);
    free(fx->buf);
    free(fx);
    return 0;
}

/* "2026-11-23T13:00:00.123Z": digits where digits belong. */
static void assert_rfc3339_ms(const char *ts)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    assert_int_equal(strlen(ts), strlen(shape));
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd')
            assert_true(isdigit((unsigned char)ts[i]));
        else
            assert_int_equal(ts[i], shape[i]);
    }
}

/* The text written so far with the timestamp field checked and removed;
   the memstream is emptied for the next line. */
static char *take(fixture *fx)
{
    fclose(fx->f);
    char *line = strdup(fx->buf ? fx->buf : "");
    free(fx->buf);
    fx->buf = NULL;
    fx->f = open_memstream(&fx->buf, &fx->len);
    assert_non_null(fx->f);
    fx->log.out = fx->f;
    char ts[64];
    if (strncmp(line, "ts=", 3) == 0) {
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        snprintf(ts, sizeof ts, "%.*s", (int)(sp - line - 3), line + 3);
        assert_rfc3339_ms(ts);
        memmove(line, sp + 1, strlen(sp + 1) + 1);
    } else if (strncmp(line, "{\"ts\":\"", 7) == 0) {
        char *end = strchr(line + 7, '"');
        assert_non_null(end);
        snprintf(ts, sizeof ts, "%.*s", (int)(end - line - 7), line + 7);
        assert_rfc3339_ms(ts);
        assert_int_equal(end[1], ',');
        memmove(line + 1, end + 2, strlen(end + 2) + 1);
    } else {
        fail_msg("line without ts: %s", line);
    }
    return line;
}

static void assert_line(fixture *fx, const char *want)
{
    char *got = take(fx);
    assert_string_equal(got, want);
    free(got);
}

static void test_logfmt_basic(void **state)
{
    fixture *fx = *state;
    const char *kv[] = { "route", "builds", "attempt", "3", NULL };
    ceb_log_write(&fx->log, CEB_LOG_INFO, "router", kv, "delivered %d events", 2);
    assert_line(fx, "level=info component=router msg=\"delivered 2 events\" route=builds attempt=3\n");
    ceb_log_write(&fx->log, CEB_LOG_WARN, "core", NULL, "started");
    assert_line(fx, "level=warn component=core msg=started\n");
}

static void test_logfmt_quoting(void **state)
{
    fixture *fx = *state;
    const char *kv[] = {
        "space", "a b", "eq", "a=b", "quote", "say \"hi\"", "nl", "line1\nline2",
        "bs", "c:\\x", "empty", "", "tab", "a\tb", "ctl", "\x01", "utf8", "caf\xc3\xa9", NULL
    };
    ceb_log_write(&fx->log, CEB_LOG_ERROR, "source/ci-redis", kv, "x");
    assert_line(fx, "level=error component=source/ci-redis msg=x space=\"a b\" eq=\"a=b\" "
                    "quote=\"say \\\"hi\\\"\" nl=\"line1\\nline2\" bs=\"c:\\\\x\" empty=\"\" "
                    "tab=\"a\\tb\" ctl=\"\\u0001\" utf8=caf\xc3\xa9\n");
}

static void test_logfmt_keys_and_odd_kv(void **state)
{
    fixture *fx = *state;
    const char *kv[] = { "bad key=", "v", "last", NULL };
    ceb_log_write(&fx->log, CEB_LOG_INFO, NULL, kv, "trailing newline is dropped\n");
    assert_line(fx, "level=info msg=\"trailing newline is dropped\" bad_key_=v last=\"\"\n");
    ceb_log_write(&fx->log, CEB_LOG_INFO, "core", NULL, NULL);
    assert_line(fx, "level=info component=core\n");
}

static void test_long_message(void **state)
{
    fixture *fx = *state;
    char big[1001];
    memset(big, 'x', 1000);
    big[1000] = '\0';
    ceb_log_write(&fx->log, CEB_LOG_INFO, "core", NULL, "%s", big);
    char want[1100];
    snprintf(want, sizeof want, "level=info component=core msg=%s\n", big);
    assert_line(fx, want);
}

static void test_json(void **state)
{
    fixture *fx = *state;
    fx->log.format = CEB_LOGFMT_JSON;
    const char *kv[] = { "nl", "a\nb", "q", "\"\\", "ctl", "\x01\b\f", "bad", "\xff" "ok", NULL };
    ceb_log_write(&fx->log, CEB_LOG_DEBUG, "router", kv, "m");
    /* debug is below the default level */
    fflush(fx->f);
    assert_int_equal(fx->len, 0);
    fx->log.level = CEB_LOG_TRACE;
    ceb_log_write(&fx->log, CEB_LOG_DEBUG, "router", kv, "hello %s", "world");
    assert_line(fx, "{\"level\":\"debug\",\"component\":\"router\",\"msg\":\"hello world\","
                    "\"nl\":\"a\\nb\",\"q\":\"\\\"\\\\\",\"ctl\":\"\\u0001\\b\\f\","
                    "\"bad\":\"\\ufffdok\"}\n");
}

static void test_level_filter(void **state)
{
    fixture *fx = *state;
    fx->log.level = CEB_LOG_WARN;
    assert_true(ceb_log_enabled(&fx->log, CEB_LOG_ERROR));
    assert_true(ceb_log_enabled(&fx->log, CEB_LOG_WARN));
    assert_false(ceb_log_enabled(&fx->log, CEB_LOG_INFO));
    ceb_log_write(&fx->log, CEB_LOG_INFO, "core", NULL, "hidden");
    ceb_log_write(&fx->log, CEB_LOG_TRACE, "core", NULL, "hidden");
    ceb_log_write(&fx->log, CEB_LOG_ERROR, "core", NULL, "shown");
    assert_line(fx, "level=error component=core msg=shown\n");
}

static void test_parse(void **state)
{
    (void)state;
    ceb_log_level l;
    ceb_log_format f;
    assert_int_equal(ceb_log_parse_level("debug", &l), 0);
    assert_int_equal(l, CEB_LOG_DEBUG);
    assert_int_equal(ceb_log_parse_level("WARN", &l), 0);
    assert_int_equal(l, CEB_LOG_WARN);
    assert_int_equal(ceb_log_parse_level("warning", &l), 0);
    assert_int_equal(l, CEB_LOG_WARN);
    assert_int_equal(ceb_log_parse_level("trace", &l), 0);
    assert_int_equal(l, CEB_LOG_TRACE);
    assert_int_equal(ceb_log_parse_level("loud", &l), CEB_EINVAL);
    assert_int_equal(ceb_log_parse_level(NULL, &l), CEB_EINVAL);
    assert_int_equal(ceb_log_parse_format("json", &f), 0);
    assert_int_equal(f, CEB_LOGFMT_JSON);
    assert_int_equal(ceb_log_parse_format("logfmt", &f), 0);
    assert_int_equal(f, CEB_LOGFMT_LOGFMT);
    assert_int_equal(ceb_log_parse_format("xml", &f), CEB_EINVAL);

    ceb_log log;
    ceb_log_init(&log, NULL);
    assert_ptr_equal(log.out, stderr);
    assert_int_equal(log.level, CEB_LOG_INFO);
    assert_int_equal(log.format, CEB_LOGFMT_LOGFMT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_logfmt_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfmt_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfmt_keys_and_odd_kv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
