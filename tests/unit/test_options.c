/* Unit tests: sdk/src/options.c and secret.c (option tables, validator, secrets). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include <cebridge/errors.h>
#include <cebridge/options.h>
#include <cebridge/template.h>
#include "optval.h"

typedef struct cfg {
    const char *url;
    int64_t db;
    bool tls;
    int64_t timeout;
    uint64_t max_size;
    int mode;
    ceb_strlist channels;
    const ceb_json *extra;
    const ceb_template *topic;
    const ceb_secret *password;
    const char *wrap_type;
    const char *wrap_source;
    int64_t old_db;
} cfg;

static const char *const modes[] = { "binary", "structured", NULL };

static const ceb_option sink_opts[] = {
    CEB_OPT_STRING_FIELD("url", NULL, CEB_OPT_REQUIRED, cfg, url, "Server URL"),
    CEB_OPT_INT_FIELD("db", "0", 0, cfg, db, 0, 15, "Database index"),
    CEB_OPT_BOOL_FIELD("tls", "false", 0, cfg, tls, "Use TLS"),
    CEB_OPT_DURATION_FIELD("timeout", "\"5s\"", 0, cfg, timeout, 1, 60000, "Request timeout"),
    CEB_OPT_SIZE_FIELD("max_size", "\"1MiB\"", 0, cfg, max_size, 1024, 16 << 20, "Largest message"),
    CEB_OPT_ENUM_FIELD("mode", "\"binary\"", 0, cfg, mode, modes, "Content mode"),
    CEB_OPT_LIST_FIELD("channels", NULL, 0, cfg, channels, "Channels"),
    CEB_OPT_OBJECT_FIELD("extra", NULL, 0, cfg, extra, "Pass-through settings"),
    CEB_OPT_TEMPLATE_FIELD("topic", "\"ci.{type}\"", 0, cfg, topic, "Topic template"),
    CEB_OPT_SECRET_FIELD("password", NULL, 0, cfg, password, "Password"),
    CEB_OPT_STRING_FIELD("wrap.type", "\"dev.wrapped\"", 0, cfg, wrap_type, "Type for wrapped payloads"),
    CEB_OPT_STRING_FIELD("wrap.source", NULL, 0, cfg, wrap_source, "Source for wrapped payloads"),
    { CEB__OPT("database", CEB_OPT_INT, NULL, CEB_OPT_DEPRECATED, cfg, old_db, int64_t, "Old name"),
      .replacement = "db" },
    CEB_OPTION_END
};

typedef struct { const char *group; } src_cfg;
static const ceb_option source_opts[] = {
    CEB_OPT_STRING_FIELD("group", NULL, 0, src_cfg, group, "Consumer group"),
    CEB_OPTION_END
};

typedef struct reports {
    ceb_diag d[32];
    int n;
} reports;

static void collect(void *arg, const ceb_diag *d)
{
    reports *r = arg;
    if (r->n < 32)
        r->d[r->n++] = *d;
}

static const char *const skip[] = { "plugin", "max_inflight", NULL };

/* Apply JSON `text` to the sink table. */
static int apply(const char *text, cfg *c, ceb__optvals **own, reports *r)
{
    cJSON *obj = cJSON_Parse(text);
    assert_non_null(obj);
    memset(r, 0, sizeof *r);
    memset(c, 0x5a, sizeof *c);     /* must be zeroed by apply */
    int rc = ceb__options_apply(sink_opts, sizeof *c, obj, "redis", "sink", skip,
                                source_opts, "source", c, own, collect, r);
    cJSON_Delete(obj);
    return rc;
}

/* Expect exactly one error on `field` with `msg`. */
static void one_error(const char *text, const char *field, const char *msg)
{
    cfg c;
    ceb__optvals *own = (ceb__optvals *)1;
    reports r;
    int rc = apply(text, &c, &own, &r);
    if (rc != CEB_ECONFIG || r.n != 1 || strcmp(r.d[0].field, field) != 0 || strcmp(r.d[0].message, msg) != 0)
        fail_msg("for %s: rc %d, %d reports, first: %s: %s (wanted %s: %s)", text, rc, r.n,
                 r.n ? r.d[0].field : "", r.n ? r.d[0].message : "", field, msg);
    assert_int_equal(r.d[0].code, CEB_ECONFIG);
    assert_null(own);
    /* nothing left pointing anywhere on failure */
    cfg zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&c, &zero, sizeof c);
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    cfg c;
    ceb__optvals *own;
    reports r;
    assert_int_equal(apply("{\"plugin\":\"redis\",\"max_inflight\":5,\"url\":\"redis://h\"}", &c, &own, &r), 0);
    assert_int_equal(r.n, 0);
    assert_non_null(own);
    assert_string_equal(c.url, "redis://h");
    assert_int_equal(c.db, 0);
    assert_false(c.tls);
    assert_int_equal(c.timeout, 5000);
    assert_int_equal(c.max_size, 1 << 20);
    assert_int_equal(c.mode, 0);
    assert_int_equal(c.channels.n, 0);
    assert_null(c.extra);
    assert_non_null(c.topic);
    assert_string_equal(ceb_template_text(c.topic), "ci.{type}");
    assert_null(c.password);
    assert_string_equal(c.wrap_type, "dev.wrapped");
    assert_null(c.wrap_source);
    ceb__optvals_free(own);

    assert_int_equal(apply("{\"url\":\"u\",\"db\":15,\"tls\":true,\"timeout\":\"1m\",\"max_size\":\"64KiB\","
                           "\"mode\":\"structured\",\"channels\":[\"a\",\"b\",\"c\"],\"extra\":{\"k\":[1]},"
                           "\"topic\":\"t.{subject}\",\"password\":\"hunter2\","
                           "\"wrap\":{\"type\":\"wt\",\"source\":\"/ws\"},\"subject\":null}", &c, &own, &r), CEB_ECONFIG);
    /* "subject" is unknown even when null */
    assert_int_equal(r.n, 1);
    assert_string_equal(r.d[0].field, "subject");

    assert_int_equal(apply("{\"url\":\"u\",\"db\":15,\"tls\":true,\"timeout\":\"1m\",\"max_size\":\"64KiB\","
                           "\"mode\":\"structured\",\"channels\":[\"a\",\"b\",\"c\"],\"extra\":{\"k\":[1]},"
                           "\"topic\":\"t.{subject}\",\"password\":\"hunter2\","
                           "\"wrap\":{\"type\":\"wt\",\"source\":\"/ws\"},\"db\":null}", &c, &own, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(c.db, 15);
    assert_true(c.tls);
    assert_int_equal(c.timeout, 60000);
    assert_int_equal(c.max_size, 65536);
    assert_int_equal(c.mode, 1);
    assert_int_equal(c.channels.n, 3);
    assert_string_equal(c.channels.v[2], "c");
    assert_int_equal(ceb_json_count(ceb_json_get(c.extra, "k")), 1);
    assert_string_equal(ceb_template_text(c.topic), "t.{subject}");
    size_t n;
    assert_string_equal(ceb_secret_reveal(c.password, &n), "hunter2");
    assert_int_equal(n, 7);
    assert_string_equal(c.wrap_type, "wt");
    assert_string_equal(c.wrap_source, "/ws");
    ceb__optvals_free(own);

    /* a null parent object is "not given": nested defaults apply */
    assert_int_equal(apply("{\"url\":\"u\",\"wrap\":null}", &c, &own, &r), 0);
    assert_string_equal(c.wrap_type, "dev.wrapped");
    ceb__optvals_free(own);

    /* a lone string is a one-element list; integers are ms and bytes */
    assert_int_equal(apply("{\"url\":\"u\",\"channels\":\"solo\",\"timeout\":250,\"max_size\":2048}", &c, &own, &r), 0);
    assert_int_equal(c.channels.n, 1);
    assert_string_equal(c.channels.v[0], "solo");
    assert_int_equal(c.timeout, 250);
    assert_int_equal(c.max_size, 2048);
    ceb__optvals_free(own);
    ceb__optvals_free(NULL);
}

static void test_error_messages(void **state)
{
    (void)state;
    one_error("{}", "url", "required option missing");
    one_error("{\"url\":null}", "url", "required option missing");
    one_error("{\"url\":3}", "url", "expected a string, got 3");
    one_error("{\"url\":\"u\",\"db\":\"x\"}", "db", "expected an integer, got \"x\"");
    one_error("{\"url\":\"u\",\"db\":1.5}", "db", "expected an integer, got 1.5");
    one_error("{\"url\":\"u\",\"db\":500}", "db", "must be between 0 and 15, got 500");
    one_error("{\"url\":\"u\",\"tls\":\"yes\"}", "tls", "expected true or false, got \"yes\"");
    one_error("{\"url\":\"u\",\"timeout\":\"fast\"}", "timeout", "expected a duration like \"5ms\" or \"2s\", got \"fast\"");
    one_error("{\"url\":\"u\",\"timeout\":-5}", "timeout", "expected a duration like \"5ms\" or \"2s\", got -5");
    one_error("{\"url\":\"u\",\"timeout\":\"2m\"}", "timeout", "must be between 1ms and 1m, got 2m");
    one_error("{\"url\":\"u\",\"max_size\":\"big\"}", "max_size", "expected a size like \"64KiB\" or \"1MB\", got \"big\"");
    one_error("{\"url\":\"u\",\"max_size\":\"1GiB\"}", "max_size", "must be between 1KiB and 16MiB, got 1GiB");
    one_error("{\"url\":\"u\",\"mode\":\"x\"}", "mode", "expected one of: binary, structured (got \"x\")");
    one_error("{\"url\":\"u\",\"mode\":2}", "mode", "expected one of: binary, structured (got 2)");
    one_error("{\"url\":\"u\",\"channels\":{}}", "channels", "expected a list of strings, got {}");
    one_error("{\"url\":\"u\",\"channels\":[\"a\",7]}", "channels[1]", "expected a string, got 7");
    one_error("{\"url\":\"u\",\"extra\":[1]}", "extra", "expected an object, got [1]");
    one_error("{\"url\":\"u\",\"topic\":5}", "topic", "expected a template string, got 5");
    one_error("{\"url\":\"u\",\"password\":5}", "password", "expected a string (literal, ${env:NAME} or ${file:PATH})");
    one_error("{\"url\":\"u\",\"wrap\":3}", "wrap", "expected an object, got 3");
    one_error("{\"url\":\"u\",\"wrap\":{\"tpye\":\"x\"}}", "wrap.tpye",
              "unknown option; did you mean 'wrap.type'? (allowed: url, db, tls, timeout, max_size, mode, "
              "channels, extra, topic, password, wrap.type, wrap.source, database)");
    one_error("{\"url\":\"u\",\"wrap.type\":\"x\"}", "wrap.type", "unknown option; nest it: {\"wrap\": {\"type\": ...}}");
    one_error("{\"url\":\"u\",\"topci\":\"x\"}", "topci",
              "unknown option; did you mean 'topic'? (allowed: url, db, tls, timeout, max_size, mode, "
              "channels, extra, topic, password, wrap.type, wrap.source, database)");
    one_error("{\"url\":\"u\",\"zzzzzz\":1}", "zzzzzz",
              "unknown option (allowed: url, db, tls, timeout, max_size, mode, "
              "channels, extra, topic, password, wrap.type, wrap.source, database)");
    one_error("{\"url\":\"u\",\"group\":\"g\"}", "group", "option belongs to redis sources, this is a sink");
    one_error("{\"url\":\"u\",\"long_string_value\":\"0123456789012345678901234567890123456789012345\"}",
              "long_string_value",
              "unknown option (allowed: url, db, tls, timeout, max_size, mode, "
              "channels, extra, topic, password, wrap.type, wrap.source, database)");
    one_error("{\"url\":[\"0123456789012345678901234567890123456789012345\"]}", "url",
              "expected a string, got [\"01234567890123456789012345678901234...");

    /* the template engine's message follows "invalid template: " */
    cfg c;
    ceb__optvals *own;
    reports r;
    assert_int_equal(apply("{\"url\":\"u\",\"topic\":\"ci.{type\"}", &c, &own, &r), CEB_ECONFIG);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.d[0].field, "topic");
    assert_true(strncmp(r.d[0].message, "invalid template: ", 18) == 0);

    /* every error is reported, not just the first */
    assert_int_equal(apply("{\"db\":99,\"tls\":1,\"bogus\":1,\"mode\":\"m\"}", &c, &own, &r), CEB_ECONFIG);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.d[0].field, "url");
    assert_string_equal(r.d[1].field, "db");
    assert_string_equal(r.d[2].field, "tls");
    assert_string_equal(r.d[3].field, "mode");
    assert_string_equal(r.d[4].field, "bogus");
    assert_null(own);

    /* not an object at all */
    cJSON *arr = cJSON_Parse("[1]");
    memset(&r, 0, sizeof r);
    assert_int_equal(ceb__options_apply(sink_opts, sizeof c, arr, "redis", "sink", NULL, NULL, NULL, &c, &own,
                                        collect, &r), CEB_ECONFIG);
    assert_string_equal(r.d[0].message, "expected an object, got [1]");
    cJSON_Delete(arr);

    /* a plugin without options */
    static const ceb_option none[] = { CEB_OPTION_END };
    cJSON *o = cJSON_Parse("{\"plugin\":\"x\",\"a\":1}");
    memset(&r, 0, sizeof r);
    assert_int_equal(ceb__options_apply(none, 0, o, "x", "sink", skip, NULL, NULL, NULL, &own, collect, &r),
                     CEB_ECONFIG);
    assert_string_equal(r.d[0].message, "unknown option; this plugin takes no options");
    cJSON_Delete(o);
}

static void test_deprecated_is_a_warning(void **state)
{
    (void)state;
    cfg c;
    ceb__optvals *own;
    reports r;
    assert_int_equal(apply("{\"url\":\"u\",\"database\":3}", &c, &own, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.d[0].code, 0);
    assert_string_equal(r.d[0].field, "database");
    assert_string_equal(r.d[0].message, "deprecated, use db");
    assert_int_equal(c.old_db, 3);
    ceb__optvals_free(own);
}

static void test_secrets(void **state)
{
    (void)state;
    cfg c;
    ceb__optvals *own;
    reports r;
    const char *value = "s3cr3t-Value-XYZ";
    setenv("CEB_TEST_SECRET", value, 1);
    assert_int_equal(apply("{\"url\":\"u\",\"password\":\"${env:CEB_TEST_SECRET}\"}", &c, &own, &r), 0);
    assert_string_equal(ceb_secret_reveal(c.password, NULL), value);
    ceb__optvals_free(own);

    char path[] = "/tmp/ceb-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "filevalue\n", 10), 10);
    close(fd);
    char json[256];
    snprintf(json, sizeof json, "{\"url\":\"u\",\"password\":\"${file:%s}\"}", path);
    assert_int_equal(apply(json, &c, &own, &r), 0);
    size_t n;
    assert_string_equal(ceb_secret_reveal(c.password, &n), "filevalue");   /* newline stripped */
    assert_int_equal(n, 9);
    ceb__optvals_free(own);

    /* errors name the variable or path, never a value */
    unsetenv("CEB_TEST_MISSING");
    one_error("{\"url\":\"u\",\"password\":\"${env:CEB_TEST_MISSING}\"}", "password",
              "environment variable CEB_TEST_MISSING is not set");
    setenv("CEB_TEST_EMPTY", "", 1);
    one_error("{\"url\":\"u\",\"password\":\"${env:CEB_TEST_EMPTY}\"}", "password",
              "environment variable CEB_TEST_EMPTY is empty");
    one_error("{\"url\":\"u\",\"password\":\"${file:/nonexistent/ceb/secret}\"}", "password",
              "cannot read secret file /nonexistent/ceb/secret: No such file or directory");
    one_error("{\"url\":\"u\",\"password\":\"${vault:x}\"}", "password",
              "unknown secret reference; use ${env:NAME}, ${file:PATH} or literal text");
    unlink(path);

    /* the value never shows up in any report, whatever else is wrong */
    assert_int_equal(apply("{\"db\":\"s3cr3t-Value-XYZ\",\"password\":\"${env:CEB_TEST_SECRET}\","
                           "\"tls\":\"s3cr3t-Value-XYZ\"}", &c, &own, &r), CEB_ECONFIG);
    for (int i = 0; i < r.n; i++) {
        if (strcmp(r.d[i].field, "password") == 0)
            fail_msg("a valid secret was reported: %s", r.d[i].message);
    }
    assert_int_equal(apply("{\"url\":\"u\",\"password\":[\"s3cr3t-Value-XYZ\"]}", &c, &own, &r), CEB_ECONFIG);
    for (int i = 0; i < r.n; i++)
        assert_null(strstr(r.d[i].message, value));
    /* describe never shows a secret's default */
    static const ceb_option sec[] = {
        CEB_OPT_SECRET_FIELD("token", "\"literal-default-token\"", 0, cfg, password, "API token"),
        CEB_OPTION_END
    };
    ceb_buf out = {0};
    assert_int_equal(ceb__options_describe(sec, false, &out), 0);
    assert_null(strstr(out.data, "literal-default-token"));
    assert_non_null(strstr(out.data, "<secret>"));
    ceb_buf_reset(&out);
    assert_int_equal(ceb__options_describe(sec, true, &out), 0);
    assert_null(strstr(out.data, "literal-default-token"));
    ceb_buf_free(&out);
    assert_null(ceb_secret_reveal(NULL, &n));
    assert_int_equal(n, 0);
}

static void test_check_table(void **state)
{
    (void)state;
    ceb_diag d = {0};
    assert_int_equal(ceb__options_check_table(sink_opts, &d), 0);
    assert_int_equal(ceb__options_check_table(source_opts, &d), 0);

    static const ceb_option bad_name[] = {
        CEB_OPT_STRING_FIELD("Url", NULL, 0, cfg, url, "x"), CEB_OPTION_END };
    assert_int_equal(ceb__options_check_table(bad_name, &d), CEB_EPLUGIN);
    assert_string_equal(d.field, "Url");
    assert_string_equal(d.message, "option name is not lower_snake_case (dots for nesting)");

    static const ceb_option dup[] = {
        CEB_OPT_STRING_FIELD("url", NULL, 0, cfg, url, "x"),
        CEB_OPT_STRING_FIELD("url", NULL, 0, cfg, wrap_type, "y"), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(dup, &d), CEB_EPLUGIN);
    assert_string_equal(d.message, "option declared twice");

    static const ceb_option clash[] = {
        CEB_OPT_STRING_FIELD("wrap", NULL, 0, cfg, url, "x"),
        CEB_OPT_STRING_FIELD("wrap.type", NULL, 0, cfg, wrap_type, "y"), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(clash, &d), CEB_EPLUGIN);
    assert_string_equal(d.message, "option name clashes with 'wrap' (one cannot be both a value and an object)");

    static const ceb_option nochoice[] = {
        CEB_OPT_ENUM_FIELD("mode", NULL, 0, cfg, mode, NULL, "x"), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(nochoice, &d), CEB_EPLUGIN);
    assert_string_equal(d.message, "enum option has no choices");

    static const ceb_option baddef[] = {
        CEB_OPT_DURATION_FIELD("timeout", "\"soon\"", 0, cfg, timeout, 0, 0, "x"), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(baddef, &d), CEB_EPLUGIN);
    assert_string_equal(d.field, "timeout");
    assert_string_equal(d.message, "default does not parse: expected a duration like \"5ms\" or \"2s\", got \"soon\"");

    static const ceb_option notjson[] = {
        CEB_OPT_STRING_FIELD("url", "redis://x", 0, cfg, url, "x"), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(notjson, &d), CEB_EPLUGIN);
    assert_string_equal(d.message, "default is not JSON: redis://x");

    static const ceb_option reqdef[] = {
        CEB_OPT_STRING_FIELD("url", "\"x\"", CEB_OPT_REQUIRED, cfg, url, "x"), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(reqdef, &d), CEB_EPLUGIN);
    assert_string_equal(d.message, "a required option cannot have a default");

    static const ceb_option nohelp[] = {
        CEB_OPT_STRING_FIELD("url", NULL, 0, cfg, url, ""), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(nohelp, &d), CEB_EPLUGIN);
    assert_string_equal(d.message, "option has no help text");

    static const ceb_option badtpl[] = {
        CEB_OPT_TEMPLATE_FIELD("topic", "\"{\"", 0, cfg, topic, "x"), CEB_OPTION_END };
    ceb_diag_clear(&d);
    assert_int_equal(ceb__options_check_table(badtpl, &d), CEB_EPLUGIN);
    assert_true(strncmp(d.message, "default does not parse: invalid template: ", 42) == 0);
}

static void test_describe(void **state)
{
    (void)state;
    ceb_buf out = {0};
    assert_int_equal(ceb__options_describe(sink_opts, false, &out), 0);
    assert_non_null(strstr(out.data, "url"));
    assert_non_null(strstr(out.data, "(required)"));
    assert_non_null(strstr(out.data, "enum(binary|structured)"));
    assert_non_null(strstr(out.data, "Deprecated, use db. Old name"));
    ceb_buf_reset(&out);
    assert_int_equal(ceb__options_describe(sink_opts, true, &out), 0);
    assert_true(strncmp(out.data, "| Option | Type | Default | Required | Description |\n|---|---|---|---|---|\n", 75) == 0);
    assert_non_null(strstr(out.data, "| `url` | string |  | yes | Server URL |\n"));
    assert_non_null(strstr(out.data, "| `timeout` | duration | `\"5s\"` | no | Request timeout |\n"));
    ceb_buf_free(&out);
}

static void test_parsers(void **state)
{
    (void)state;
    static const struct { const char *t; int64_t ms; } dur[] = {
        { "0ms", 0 }, { "250ms", 250 }, { "30s", 30000 }, { "5m", 300000 }, { "1h", 3600000 },
        { "1h30m", 5400000 }, { "2d", 172800000 }, { "1m30s500ms", 90500 },
    };
    for (size_t i = 0; i < sizeof dur / sizeof dur[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(ceb_parse_duration_ms(dur[i].t, &ms), 0);
        assert_int_equal(ms, dur[i].ms);
    }
    static const char *bad_dur[] = { "", "5", "ms", "-1s", "1.5s", "5 s", "5sec", "1y", "99999999999999999999ms",
                                     "9999999999999999999d" };
    for (size_t i = 0; i < sizeof bad_dur / sizeof bad_dur[0]; i++) {
        int64_t ms;
        assert_int_equal(ceb_parse_duration_ms(bad_dur[i], &ms), CEB_EINVAL);
    }
    static const struct { const char *t; uint64_t b; } sz[] = {
        { "100", 100 }, { "512B", 512 }, { "64KiB", 65536 }, { "1MiB", 1048576 }, { "1MB", 1000000 },
        { "2kb", 2000 }, { "1GiB", 1073741824ull }, { "1TB", 1000000000000ull },
    };
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        uint64_t b = 0;
        assert_int_equal(ceb_parse_size(sz[i].t, &b), 0);
        assert_int_equal(b, sz[i].b);
    }
    static const char *bad_sz[] = { "", "MiB", "1.5MiB", "-1", "1 MiB", "1XB", "99999999999TiB" };
    for (size_t i = 0; i < sizeof bad_sz / sizeof bad_sz[0]; i++) {
        uint64_t b;
        assert_int_equal(ceb_parse_size(bad_sz[i], &b), CEB_EINVAL);
    }
    assert_string_equal(ceb_opt_type_name(CEB_OPT_DURATION), "duration");
    assert_string_equal(ceb_opt_type_name(CEB_OPT_SECRET), "secret");
    assert_string_equal(ceb_opt_type_name((ceb_opt_type)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_deprecated_is_a_warning),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
