/*
 * Unit tests for core/config.c: drop-in reading, the JSON-with-comments
 * reader and its positions, structure, option validation through a fixture
 * plugin (no .so: the resolver returns static descriptors), routes,
 * settings, warnings, fingerprints and secrets.
 *
 * Every expected message is exact: they are the user interface of --check.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <cebridge/errors.h>
#include <cebridge/options.h>
#include <cebridge/plugin.h>
#include "config.h"

/* ---- fixture plugins ---------------------------------------------------- */

typedef struct ksink_cfg {
    const char *brokers;
    const char *topic;
    int acks;
    const ceb_secret *password;
    int64_t timeout;
} ksink_cfg;

typedef struct ksrc_cfg {
    const char *brokers;
    const char *group;
} ksrc_cfg;

typedef struct path_cfg {
    const char *path;
    uint64_t max_bytes;
} path_cfg;

typedef struct redis_cfg {
    const char *url;
} redis_cfg;

static const char *const acks_choices[] = { "all", "leader", "none", NULL };

static const ceb_option ksink_opts[] = {
    CEB_OPT_STRING_FIELD("brokers", NULL, CEB_OPT_REQUIRED, ksink_cfg, brokers, "bootstrap servers"),
    CEB_OPT_STRING_FIELD("topic", "\"events\"", 0, ksink_cfg, topic, "topic"),
    CEB_OPT_ENUM_FIELD("acks", "\"all\"", 0, ksink_cfg, acks, acks_choices, "acks"),
    CEB_OPT_SECRET_FIELD("password", NULL, 0, ksink_cfg, password, "SASL password"),
    CEB_OPT_DURATION_FIELD("timeout", "\"5s\"", 0, ksink_cfg, timeout, 0, 0, "request timeout"),
    CEB_OPTION_END
};
static const ceb_option ksrc_opts[] = {
    CEB_OPT_STRING_FIELD("brokers", NULL, CEB_OPT_REQUIRED, ksrc_cfg, brokers, "bootstrap servers"),
    CEB_OPT_STRING_FIELD("group", "\"cebridge\"", 0, ksrc_cfg, group, "consumer group"),
    CEB_OPTION_END
};
static const ceb_option path_opts[] = {
    CEB_OPT_STRING_FIELD("path", "\"-\"", 0, path_cfg, path, "file path"),
    CEB_OPT_SIZE_FIELD("max_bytes", "\"1MiB\"", 0, path_cfg, max_bytes, 1024, 1 << 30, "file size cap"),
    CEB_OPTION_END
};
static const ceb_option redis_opts[] = {
    CEB_OPT_STRING_FIELD("url", NULL, CEB_OPT_REQUIRED, redis_cfg, url, "redis URL"),
    CEB_OPTION_END
};

static const ceb_sink_ops ksink_ops = { .options = ksink_opts, .config_size = sizeof(ksink_cfg) };
static const ceb_source_ops ksrc_ops = { .options = ksrc_opts, .config_size = sizeof(ksrc_cfg) };
static const ceb_sink_ops fsink_ops = { .options = path_opts, .config_size = sizeof(path_cfg) };
static const ceb_source_ops fsrc_ops = { .options = path_opts, .config_size = sizeof(path_cfg) };
static const ceb_source_ops rsrc_ops = { .options = redis_opts, .config_size = sizeof(redis_cfg) };

static const ceb_plugin fixture_plugins[] = {
    { .abi = CEB_ABI_VERSION, .size = sizeof(ceb_plugin), .name = "kafka", .version = "1",
      .source = &ksrc_ops, .sink = &ksink_ops },
    { .abi = CEB_ABI_VERSION, .size = sizeof(ceb_plugin), .name = "file", .version = "1",
      .source = &fsrc_ops, .sink = &fsink_ops },
    { .abi = CEB_ABI_VERSION, .size = sizeof(ceb_plugin), .name = "redis", .version = "1",
      .source = &rsrc_ops },
};

typedef struct resolver_state {
    int calls;
    char plugin_dir_seen[256];
} resolver_state;

static int resolve(void *arg, const char *name, const ceb_plugin **out, ceb_diag *d)
{
    resolver_state *st = arg;
    if (st)
        st->calls++;
    for (size_t i = 0; i < sizeof fixture_plugins / sizeof fixture_plugins[0]; i++)
        if (!strcmp(fixture_plugins[i].name, name)) {
            *out = &fixture_plugins[i];
            return 0;
        }
    return ceb_diag_set(d, CEB_ENOENT, "plugin %s: /test/plugins/%s.so: No such file or directory",
                        name, name);
}

/* ---- helpers ------------------------------------------------------------- */

static int load(const char *text, ceb_conf **c, ceb_conf_errors *e)
{
    return ceb_conf_load_text("t.json", text, resolve, NULL, c, e);
}

/* The text being loaded, to show the source at each reported position. */
static const char *current_text;

static void dump(const char *what, char **lines, size_t n)
{
    fprintf(stderr, "%s (%zu):\n", what, n);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "  [%s]\n", lines[i]);
        int line, col;
        if (current_text && sscanf(lines[i], "t.json:%d:%d:", &line, &col) == 2) {
            const char *p = current_text;
            for (int l = 1; l < line && p; l++)
                p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
            if (p && (size_t)col - 1 <= strlen(p))
                fprintf(stderr, "      at: %.20s\n", p + col - 1);
        }
    }
}

/* Compare a message list with a NULL-terminated list of expected lines. */
static void expect_lines(char **lines, size_t n, const char *const *want, const char *what)
{
    size_t nw = 0;
    while (want[nw])
        nw++;
    bool same = n == nw;
    for (size_t i = 0; same && i < n; i++)
        same = !strcmp(lines[i], want[i]);
    if (!same) {
        dump(what, lines, n);
        for (size_t i = 0; i < nw; i++)
            fprintf(stderr, "  want [%s]\n", want[i]);
    }
    assert_true(same);
}

#define EXPECT_ERRORS(e, ...) \
    expect_lines((e)->lines, (e)->n, (const char *const[]){ __VA_ARGS__, NULL }, "errors")
#define EXPECT_WARNINGS(e, ...) \
    expect_lines((e)->warnings, (e)->nwarnings, (const char *const[]){ __VA_ARGS__, NULL }, "warnings")
#define EXPECT_NO_WARNINGS(e) \
    expect_lines((e)->warnings, (e)->nwarnings, (const char *const[]){ NULL }, "warnings")

/* Load text that must fail with exactly these errors. */
#define EXPECT_LOAD_ERRORS(text, ...)                       \
    do {                                                    \
        ceb_conf *c_ = (ceb_conf *)1;                       \
        ceb_conf_errors e_;                                 \
        current_text = (text);                              \
        assert_int_equal(load(text, &c_, &e_), CEB_ECONFIG); \
        assert_null(c_);                                    \
        EXPECT_ERRORS(&e_, __VA_ARGS__);                    \
        ceb_conf_errors_free(&e_);                          \
    } while (0)

/* A minimal valid preamble: a source, two sinks and a route using them. */
#define BASE_SOURCES "\"sources\": {\"in\": {\"plugin\": \"file\"}},\n"
#define BASE_SINKS "\"sinks\": {\"out\": {\"plugin\": \"file\"}, \"kafka\": {\"plugin\": \"kafka\", \"brokers\": \"b:9092\"}},\n"

static char tmpdir[64];

static void write_file(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ceb_test_config_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *fmt(const char *f, ...) CEB_ATTR_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof bufs[0], f, ap);
    va_end(ap);
    return b;
}

/* ---- the JSON reader ------------------------------------------------------ */

static void parse_error_is(const char *text, int line, int col, const char *msg)
{
    cJSON *j = (cJSON *)1;
    ceb_conf_pos pos = { 0 };
    ceb_diag d;
    memset(&d, 0, sizeof d);
    assert_int_equal(ceb_conf_parse_json("x.json", text, strlen(text), &j, &pos, &d), CEB_ECONFIG);
    assert_null(j);
    if (pos.line != line || pos.col != col || strcmp(d.message, msg))
        fprintf(stderr, "got %d:%d: [%s]\nwant %d:%d: [%s]\n", pos.line, pos.col, d.message, line, col, msg);
    assert_string_equal(pos.file, "x.json");
    assert_int_equal(pos.line, line);
    assert_int_equal(pos.col, col);
    assert_string_equal(d.message, msg);
}

static void test_json_syntax_errors(void **state)
{
    (void)state;
    parse_error_is("{\n  \"sinks\": {\n    \"a\": {\"plugin\": \"file\" \"path\": \"x\"}\n  }\n}\n",
                   3, 28, "expected ',' or '}' after object member");
    parse_error_is("[1, 2 3]", 1, 7, "expected ',' or ']' after array element");
    parse_error_is("{\"a\": \"abc\n}", 1, 7, "unterminated string");
    parse_error_is("{\"a\": \"abc", 1, 7, "unterminated string");
    parse_error_is("{\n /* never closed\n \"a\": 1 }", 2, 2, "unterminated comment");
    parse_error_is("{} x", 1, 4, "unexpected 'x' after the top-level value");
    parse_error_is("{}\n}", 2, 1, "unexpected '}' after the top-level value");
    parse_error_is("{\"a\": tru}", 1, 7, "invalid literal 'tru'; expected true, false or null");
    parse_error_is("{\"a\": True}", 1, 7, "invalid literal 'True'; expected true, false or null");
    parse_error_is("{\"a\": 1,}", 1, 8, "trailing comma before '}'");
    parse_error_is("[1,\n 2,\n]", 2, 3, "trailing comma before ']'");
    parse_error_is("{\"a\": 'x'}", 1, 7, "expected a JSON value, found \"'\" (strings use double quotes)");
    parse_error_is("{a: 1}", 1, 2, "expected a string key, found 'a'");
    parse_error_is("{\"a\" 1}", 1, 6, "expected ':' after object key");
    parse_error_is("{\"a\": 1", 1, 8, "unexpected end of input; '{' at 1:1 is not closed");
    parse_error_is("{\"a\": [1,\n", 2, 1, "unexpected end of input; '[' at 1:7 is not closed");
    parse_error_is("", 1, 1, "expected a JSON value, found end of input");
    parse_error_is("// only a comment\n", 2, 1, "expected a JSON value, found end of input");
    parse_error_is("{\"a\": 01}", 1, 7, "invalid number '01'");
    parse_error_is("{\"a\": 1.}", 1, 7, "invalid number '1.'");
    parse_error_is("{\"a\": -}", 1, 7, "invalid number '-'");
    parse_error_is("{\"a\": -1e999}", 1, 7, "number out of range '-1e999'");
    parse_error_is("{\"a\": \"x\\qy\"}", 1, 9, "invalid escape '\\q' in string");
    parse_error_is("{\"a\": \"\\u12\"}", 1, 8, "invalid \\u escape: expected 4 hex digits");
    parse_error_is("{\"a\": \"\\ud800x\"}", 1, 8, "invalid \\u escape: high surrogate without a low surrogate");
    parse_error_is("{\"a\": \"\\u0000\"}", 1, 8, "\\u0000 is not allowed in strings");
    parse_error_is("{\"a\": \"x\ty\"}", 1, 9, "unescaped control character byte 0x09 in string");
    parse_error_is("{\"a\": \"\xff\"}", 1, 8, "invalid UTF-8 in string");
    parse_error_is("{\"a\": @}", 1, 7, "expected a JSON value, found '@'");
    /* duplicate keys: the path and both positions */
    parse_error_is("{\"sinks\": {\"a\": {},\n           \"a\": {}}}", 2, 12,
                   "sinks.a: duplicate key (first at 1:12)");
    parse_error_is("{\"x\": [{\"k\": 1, \"k\": 2}]}", 1, 17, "x[0].k: duplicate key (first at 1:9)");
}

static void test_json_depth_limit(void **state)
{
    (void)state;
    char deep[200];
    memset(deep, '[', 150);
    deep[150] = '\0';
    parse_error_is(deep, 1, 65, "nesting deeper than 64 levels");
    /* 64 levels are fine */
    char ok[200];
    memset(ok, '[', 64);
    memset(ok + 64, ']', 64);
    ok[128] = '\0';
    cJSON *j = NULL;
    assert_int_equal(ceb_conf_parse_json("x.json", ok, strlen(ok), &j, NULL, NULL), 0);
    cJSON_Delete(j);
}

static void test_json_comments_and_values(void **state)
{
    (void)state;
    const char *text =
        "\xef\xbb\xbf// leading comment\n"
        "{ /* block\n comment */ \"s\": \"a\\u00e9\\ud83d\\ude00\\n\", // trailing\n"
        "  \"n\": -1.5e2, \"t\": true, \"f\": false, \"z\": null, \"l\": [ ], \"o\": { },\n"
        "  \"url\": \"http://x/*not a comment*/\" }";
    cJSON *j = NULL;
    assert_int_equal(ceb_conf_parse_json("x.json", text, strlen(text), &j, NULL, NULL), 0);
    assert_string_equal(cJSON_GetObjectItem(j, "s")->valuestring, "a\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_true(cJSON_GetObjectItem(j, "n")->valuedouble == -150.0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "t")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "f")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "z")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "l")), 0);
    assert_string_equal(cJSON_GetObjectItem(j, "url")->valuestring, "http://x/*not a comment*/");
    cJSON_Delete(j);
}

/* ---- loading text --------------------------------------------------------- */

static void test_syntax_error_through_load(void **state)
{
    (void)state;
    EXPECT_LOAD_ERRORS("{\n  \"sinks\": {\n    \"a\": {\"plugin\": \"file\" \"path\": \"x\"}\n  }\n}\n",
                       "t.json:3:28: expected ',' or '}' after object member");
}

static void test_valid_config(void **state)
{
    (void)state;
    resolver_state rs = { 0 };
    const char *text =
        "{\n"
        "  // comments are fine\n"
        "  \"settings\": {\"drain_timeout\": \"3s\", \"max_inflight\": 50, \"log_level\": \"debug\",\n"
        "               \"log_format\": \"json\", \"plugin_dir\": \"/opt/p\"},\n"
        "  \"sources\": {\"in\": {\"plugin\": \"kafka\", \"brokers\": \"b:9092\", \"group\": \"g\"}},\n"
        "  \"sinks\": {\n"
        "    \"out\": {\"plugin\": \"file\", \"path\": \"/tmp/x\", \"max_inflight\": 7},\n"
        "    \"k\": {\"plugin\": \"kafka\", \"brokers\": \"b:9092\", \"acks\": \"leader\", \"timeout\": \"2s\"},\n"
        "    \"dlq\": {\"plugin\": \"file\"}\n"
        "  },\n"
        "  \"routes\": {\n"
        "    \"r1\": {\"from\": \"in\", \"to\": [\"out\", \"k\"],\n"
        "           \"filter\": \"type LIKE 'dev.%' AND data.x = 1\",\n"
        "           \"retry\": {\"attempts\": 8, \"backoff\": \"linear\", \"initial\": \"100ms\",\n"
        "                     \"max\": \"10s\", \"timeout\": 2500},\n"
        "           \"dead_letter\": \"dlq\",\n"
        "           \"transform\": {\"set\": {\"subject\": \"{type}-x\", \"myext\": \"v\"},\n"
        "                         \"remove\": [\"dataschema\"]}},\n"
        "    \"r2\": {\"from\": [\"in\"], \"to\": \"out\", \"filter\": {\"all\": [{\"prefix\": {\"type\": \"dev.\"}}]}}\n"
        "  }\n"
        "}\n";
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    int rc = ceb_conf_load_text("t.json", text, resolve, &rs, &c, &e);
    if (rc)
        dump("errors", e.lines, e.n);
    assert_int_equal(rc, 0);
    EXPECT_NO_WARNINGS(&e);
    assert_int_equal(rs.calls, 4);
    assert_int_equal(c->nfiles, 1);
    assert_string_equal(c->files[0], "t.json");
    assert_int_equal(c->settings.drain_timeout_ms, 3000);
    assert_int_equal(c->settings.max_inflight, 50);
    assert_string_equal(c->settings.log_level, "debug");
    assert_string_equal(c->settings.log_format, "json");
    assert_string_equal(c->settings.plugin_dir, "/opt/p");

    assert_int_equal(c->nsources, 1);
    const ceb_conf_instance *in = ceb_conf_find_source(c, "in");
    assert_non_null(in);
    assert_int_equal(in->role, CEB_ROLE_SOURCE);
    assert_string_equal(in->plugin_name, "kafka");
    assert_ptr_equal(in->plugin, &fixture_plugins[0]);
    assert_string_equal(((const ksrc_cfg *)in->config)->group, "g");
    assert_string_equal(in->pos.file, "t.json");
    assert_int_equal(in->pos.line, 5);
    assert_int_equal(in->pos.col, 15);
    assert_null(ceb_conf_find_sink(c, "in"));

    assert_int_equal(c->nsinks, 3);
    const ceb_conf_instance *out = ceb_conf_find_sink(c, "out");
    assert_int_equal(out->max_inflight, 7);
    assert_string_equal(((const path_cfg *)out->config)->path, "/tmp/x");
    const ceb_conf_instance *k = ceb_conf_find_sink(c, "k");
    assert_int_equal(k->max_inflight, 50);      /* settings.max_inflight */
    assert_int_equal(((const ksink_cfg *)k->config)->acks, 1);
    assert_int_equal(((const ksink_cfg *)k->config)->timeout, 2000);
    assert_string_equal(k->fingerprint,
                        "{\"acks\":\"leader\",\"brokers\":\"b:9092\",\"plugin\":\"kafka\",\"timeout\":\"2s\"}");

    assert_int_equal(c->nroutes, 2);
    const ceb_conf_route *r = &c->routes[0];
    assert_string_equal(r->name, "r1");
    assert_int_equal(r->pos.line, 12);
    assert_int_equal(r->pos.col, 5);
    assert_int_equal(r->nfrom, 1);
    assert_string_equal(r->from[0], "in");
    assert_int_equal(r->nto, 2);
    assert_string_equal(r->to[1], "k");
    assert_non_null(r->filter);
    assert_string_equal(r->filter_text, "type LIKE 'dev.%' AND data.x = 1");
    assert_int_equal(r->retry.attempts, 8);
    assert_int_equal(r->retry.backoff, CEB_BACKOFF_LINEAR);
    assert_int_equal(r->retry.initial_ms, 100);
    assert_int_equal(r->retry.max_ms, 10000);
    assert_int_equal(r->retry.timeout_ms, 2500);
    assert_string_equal(r->dead_letter, "dlq");
    assert_int_equal(r->ntransform, 3);
    assert_string_equal(r->transform[0].attr, "subject");
    assert_string_equal(ceb_template_text(r->transform[0].value), "{type}-x");
    assert_string_equal(r->transform[1].attr, "myext");
    assert_string_equal(r->transform[2].attr, "dataschema");
    assert_null(r->transform[2].value);

    r = &c->routes[1];
    assert_string_equal(r->to[0], "out");
    assert_non_null(r->filter);
    assert_string_equal(r->filter_text, "{\"all\":[{\"prefix\":{\"type\":\"dev.\"}}]}");
    /* defaults */
    assert_int_equal(r->retry.attempts, 5);
    assert_int_equal(r->retry.backoff, CEB_BACKOFF_EXPONENTIAL);
    assert_int_equal(r->retry.initial_ms, 200);
    assert_int_equal(r->retry.max_ms, 30000);
    assert_int_equal(r->retry.timeout_ms, 30000);
    assert_null(r->dead_letter);
    assert_int_equal(r->ntransform, 0);
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
}

static void test_defaults_and_empty(void **state)
{
    (void)state;
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    assert_int_equal(load("{}", &c, &e), 0);
    assert_int_equal(c->settings.drain_timeout_ms, 10000);
    assert_int_equal(c->settings.max_inflight, 1000);
    assert_null(c->settings.plugin_dir);
    assert_null(c->settings.log_level);
    assert_null(c->settings.log_format);
    assert_int_equal(c->nsources + c->nsinks + c->nroutes, 0);
    assert_int_equal(e.n, 0);
    EXPECT_NO_WARNINGS(&e);
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
}

static void test_structure_errors(void **state)
{
    (void)state;
    EXPECT_LOAD_ERRORS("{\"sink\": {}, \"routes\": []}",
                       "t.json:1:2: unknown top-level key 'sink'; did you mean 'sinks'? "
                       "(allowed: sources, sinks, routes, settings)",
                       "t.json:1:24: routes: expected an object keyed by route name, found an array");
    EXPECT_LOAD_ERRORS("[1]",
                       "t.json:1:1: expected an object with \"sources\", \"sinks\", \"routes\" or "
                       "\"settings\" at the top level, found an array");
    EXPECT_LOAD_ERRORS("{\"sources\": {\"Bad Name\": {\"plugin\": \"file\"}, \"ok\": 3, \"x\": {}}}",
                       "t.json:1:14: sources.Bad Name: invalid name: use 1 to 64 characters a-z 0-9 _ . - "
                       "starting with a letter or digit",
                       "t.json:1:52: sources.ok: expected an object with \"plugin\" and its options, "
                       "found a number",
                       "t.json:1:55: sources.x: missing \"plugin\" (the plugin that implements this source, "
                       "e.g. \"file\")");
    EXPECT_LOAD_ERRORS("{\"sinks\": {\"s\": {\"plugin\": 3}, \"t\": {\"plugin\": \"\"}}}",
                       "t.json:1:28: sinks.s.plugin: expected a plugin name (a non-empty string), found a number",
                       "t.json:1:48: sinks.t.plugin: expected a plugin name (a non-empty string), "
                       "found an empty string");
}

static void test_unknown_plugin_and_role(void **state)
{
    (void)state;
    EXPECT_LOAD_ERRORS(
        "{\"sinks\": {\n"
        "  \"a\": {\"plugin\": \"kafak\", \"brokers\": \"x\"},\n"
        "  \"r\": {\"plugin\": \"redis\", \"url\": \"redis://x\"}\n"
        "}}",
        "t.json:2:19: sinks.a.plugin: plugin kafak: /test/plugins/kafak.so: No such file or directory",
        "t.json:3:19: sinks.r.plugin: plugin redis has no sink role (it provides: source)");
}

static void test_option_errors(void **state)
{
    (void)state;
    /* unknown option with a suggestion, wrong types, bad enum, bad duration,
       an option of the other role, a required option missing (reported at
       the instance), all collected and sorted by position */
    EXPECT_LOAD_ERRORS(
        "{\"sinks\": {\n"
        "  \"k1\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"topik\": \"t\"},\n"
        "  \"k2\": {\"plugin\": \"kafka\", \"brokers\": 9092, \"acks\": \"some\"},\n"
        "  \"k3\": {\"plugin\": \"kafka\", \"timeout\": \"soon\", \"group\": \"g\"},\n"
        "  \"k4\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"max_inflight\": 0}\n"
        "}}",
        "t.json:2:45: sinks.k1.topik: unknown option; did you mean 'topic'? "
        "(allowed: brokers, topic, acks, password, timeout)",
        "t.json:3:29: sinks.k2.brokers: expected a string, got 9092",
        "t.json:3:46: sinks.k2.acks: expected one of: all, leader, none (got \"some\")",
        "t.json:4:3: sinks.k3.brokers: required option missing",
        "t.json:4:29: sinks.k3.timeout: expected a duration like \"5ms\" or \"2s\", got \"soon\"",
        "t.json:4:48: sinks.k3.group: option belongs to kafka sources, this is a sink",
        "t.json:5:61: sinks.k4.max_inflight: 0 is out of range [1, 1000000]");
}

static void test_size_options(void **state)
{
    (void)state;
    EXPECT_LOAD_ERRORS("{\"sinks\": {\"a\": {\"plugin\": \"file\", \"max_bytes\": \"big\"},\n"
                       "           \"b\": {\"plugin\": \"file\", \"max_bytes\": \"2GiB\"}}}",
                       "t.json:1:36: sinks.a.max_bytes: expected a size like \"64KiB\" or \"1MB\", got \"big\"",
                       "t.json:2:36: sinks.b.max_bytes: must be between 1KiB and 1GiB, got 2GiB");
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    assert_int_equal(load("{\"sinks\": {\"a\": {\"plugin\": \"file\", \"max_bytes\": \"64KiB\"},\n"
                          "           \"b\": {\"plugin\": \"file\"}}}", &c, &e), 0);
    assert_int_equal(((const path_cfg *)ceb_conf_find_sink(c, "a")->config)->max_bytes, 65536);
    assert_int_equal(((const path_cfg *)ceb_conf_find_sink(c, "b")->config)->max_bytes, 1048576);
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
}

static void test_duplicates_in_one_text(void **state)
{
    (void)state;
    /* within one file, a duplicate name is a duplicate JSON key */
    EXPECT_LOAD_ERRORS("{\"sinks\": {\"out\": {\"plugin\": \"file\"},\n"
                       "           \"out\": {\"plugin\": \"file\"}}}",
                       "t.json:2:12: sinks.out: duplicate key (first at 1:12)");
    /* a source and a sink may share a name */
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    assert_int_equal(load("{" BASE_SOURCES "\"sinks\": {\"in\": {\"plugin\": \"file\"}},\n"
                          "\"routes\": {\"r\": {\"from\": \"in\", \"to\": \"in\"}}}", &c, &e), 0);
    assert_non_null(ceb_conf_find_source(c, "in"));
    assert_non_null(ceb_conf_find_sink(c, "in"));
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
}

static void test_settings_errors(void **state)
{
    (void)state;
    EXPECT_LOAD_ERRORS(
        "{\"settings\": {\"drain_timout\": \"5s\", \"drain_timeout\": \"soon\",\n"
        "  \"max_inflight\": -1, \"log_level\": \"verbose\", \"log_format\": \"jsn\",\n"
        "  \"plugin_dir\": 5}}",
        "t.json:1:15: settings: unknown setting 'drain_timout'; did you mean 'drain_timeout'? "
        "(allowed: plugin_dir, drain_timeout, max_inflight, log_level, log_format)",
        "t.json:1:54: settings.drain_timeout: invalid duration \"soon\" (use e.g. \"250ms\", \"30s\", "
        "\"5m\", \"1h\")",
        "t.json:2:19: settings.max_inflight: -1 is out of range [1, 1000000]",
        "t.json:2:36: settings.log_level: invalid value \"verbose\" (allowed: error, warn, info, debug, trace)",
        "t.json:2:61: settings.log_format: invalid value \"jsn\" (allowed: logfmt, json); did you mean 'json'?",
        "t.json:3:17: settings.plugin_dir: expected a directory path (a non-empty string)");
    EXPECT_LOAD_ERRORS("{\"settings\": [], \"sources\": \"x\"}",
                       "t.json:1:14: settings: expected an object, found an array",
                       "t.json:1:29: sources: expected an object keyed by source name, found a string");
    /* durations as integers of milliseconds; fractions and negatives refused */
    EXPECT_LOAD_ERRORS("{\"settings\": {\"drain_timeout\": 1.5, \"max_inflight\": 2.5}}",
                       "t.json:1:32: settings.drain_timeout: invalid duration 1.5: use a non-negative number "
                       "of milliseconds or a string such as \"250ms\", \"30s\", \"5m\"",
                       "t.json:1:53: settings.max_inflight: expected an integer, found a fraction");
    EXPECT_LOAD_ERRORS("{\"settings\": {\"drain_timeout\": 1e300, \"max_inflight\": 1e300}}",
                       "t.json:1:32: settings.drain_timeout: invalid duration 1e+300: use a non-negative number "
                       "of milliseconds or a string such as \"250ms\", \"30s\", \"5m\"",
                       "t.json:1:55: settings.max_inflight: 1e+300 is out of range [1, 1000000]");
}

static void test_route_ends(void **state)
{
    (void)state;
    EXPECT_LOAD_ERRORS(
        "{" BASE_SOURCES BASE_SINKS
        "\"routes\": {\n"
        "  \"r1\": {\"from\": \"inn\", \"to\": [\"out\", \"kafak\", \"out\", 3]},\n"
        "  \"r2\": {\"from\": [], \"to\": {}},\n"
        "  \"r3\": {\"filter\": \"true\"},\n"
        "  \"r4\": {\"from\": \"in\", \"to\": \"out\", \"dead_letter\": \"dlq\", \"sinks\": 1},\n"
        "  \"r5\": {\"from\": \"in\", \"to\": \"out\", \"dead_letter\": \"out\"}\n"
        "}}",
        "t.json:4:18: routes.r1.from: unknown source 'inn'; did you mean 'in'?",
        "t.json:4:39: routes.r1.to[1]: unknown sink 'kafak'; did you mean 'kafka'?",
        "t.json:4:48: routes.r1.to[2]: sink 'out' is listed twice",
        "t.json:4:55: routes.r1.to[3]: expected a sink name, found a number",
        "t.json:5:18: routes.r2.from: empty list: name at least one source",
        "t.json:5:28: routes.r2.to: expected a sink name or a list of sink names, found an object",
        "t.json:6:3: routes.r3: missing \"from\" (the source or sources this route reads)",
        "t.json:6:3: routes.r3: missing \"to\" (the sink or sinks this route delivers to)",
        "t.json:7:52: routes.r4.dead_letter: unknown sink 'dlq'",
        "t.json:7:59: routes.r4: unknown key 'sinks' (allowed: from, to, filter, retry, dead_letter, transform)",
        "t.json:8:52: routes.r5.dead_letter: sink 'out' is also a destination of this route; "
        "dead letters must go to another sink");
}

static void test_route_filters(void **state)
{
    (void)state;
    ceb_cesql_error ce;
    ceb_cesql_expr *x = NULL;
    const char *bad = "type = 'a' AND AND";
    assert_int_equal(ceb_cesql_compile(bad, strlen(bad), 0, &x, &ce), CEB_EINVAL);
    /* the column inside the file is that of the offending token */
    char want[400];
    snprintf(want, sizeof want, "t.json:4:%d: routes.r1.filter: %s", 30 + (int)ce.offset, ce.message);
    EXPECT_LOAD_ERRORS("{" BASE_SOURCES BASE_SINKS
                       "\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"out\",\n"
                       "                  \"filter\": \"type = 'a' AND AND\"}}}",
                       want);
    /* escapes before the error shift the column in the file */
    const char *bad2 = "subject = 'a\"b' AND";
    assert_int_equal(ceb_cesql_compile(bad2, strlen(bad2), 0, &x, &ce), CEB_EINVAL);
    snprintf(want, sizeof want, "t.json:3:%d: routes.r1.filter: %s", 57 + (int)ce.offset + 1, ce.message);
    EXPECT_LOAD_ERRORS("{" BASE_SOURCES BASE_SINKS
                       "\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"out\", \"filter\": \"subject = 'a\\\"b' AND\"}}}",
                       want);
    EXPECT_LOAD_ERRORS("{" BASE_SOURCES BASE_SINKS
                       "\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"out\", \"filter\": \"\"},\n"
                       "            \"r2\": {\"from\": \"in\", \"to\": \"out\", \"filter\": 3},\n"
                       "            \"r3\": {\"from\": \"in\", \"to\": \"out\", \"filter\": \"1 + 2\"}}}",
                       "t.json:3:56: routes.r1.filter: empty filter; omit \"filter\" to match every event",
                       "t.json:4:57: routes.r2.filter: expected a CESQL expression (string) or a filter object "
                       "({\"exact\": ...}, {\"all\": [...]}, ...), found a number",
                       "t.json:5:57: routes.r3.filter: the filter yields an Integer, not a Boolean: it would "
                       "never match");
    /* a dialect error names the member's path and position */
    cJSON *dj = cJSON_Parse("{\"all\": [{\"exact\": {\"type\": \"a\"}}, {\"exakt\": {}}]}");
    assert_int_equal(ceb_cesql_compile_dialect(dj, 0, &x, &ce), CEB_EINVAL);
    cJSON_Delete(dj);
    assert_string_equal(ce.path, "all[1].exakt");
    snprintf(want, sizeof want, "t.json:3:92: routes.r1.filter.all[1].exakt: %s", ce.message);
    const char *dtext = "{" BASE_SOURCES BASE_SINKS
                        "\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"out\", \"filter\": "
                        "{\"all\": [{\"exact\": {\"type\": \"a\"}}, {\"exakt\": {}}]}}}}";
    EXPECT_LOAD_ERRORS(dtext, want);
    /* an embedded cesql expression: the column inside its string */
    dj = cJSON_Parse("{\"not\": {\"cesql\": \"type = \"}}");
    assert_int_equal(ceb_cesql_compile_dialect(dj, 0, &x, &ce), CEB_EINVAL);
    cJSON_Delete(dj);
    assert_string_equal(ce.path, "not.cesql");
    assert_int_equal(ce.offset, 7);
    snprintf(want, sizeof want, "t.json:4:%d: routes.r1.filter.not.cesql: %s", 32 + 7, ce.message);
    EXPECT_LOAD_ERRORS("{" BASE_SOURCES BASE_SINKS
                       "\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"out\", \"filter\": {\"not\":\n"
                       "                    {\"cesql\": \"type = \"}}}}}",
                       want);
}

static void test_route_retry(void **state)
{
    (void)state;
    EXPECT_LOAD_ERRORS("{" BASE_SOURCES BASE_SINKS
                       "\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"out\", \"retry\": {\n"
                       "  \"attempts\": 0, \"backoff\": \"exponental\", \"initial\": \"5 parsecs\",\n"
                       "  \"max\": true, \"timout\": \"1s\"}},\n"
                       "  \"r2\": {\"from\": \"in\", \"to\": \"out\", \"retry\": {\"initial\": \"1m\"}},\n"
                       "  \"r3\": {\"from\": \"in\", \"to\": \"out\", \"retry\": 5}}}",
                       "t.json:4:15: routes.r1.retry.attempts: 0 is out of range [1, 1000000]",
                       "t.json:4:29: routes.r1.retry.backoff: invalid value \"exponental\" (allowed: exponential, "
                       "linear, constant); did you mean 'exponential'?",
                       "t.json:4:54: routes.r1.retry.initial: invalid duration \"5 parsecs\" (use e.g. \"250ms\", "
                       "\"30s\", \"5m\", \"1h\")",
                       "t.json:5:10: routes.r1.retry.max: expected a duration such as \"250ms\", \"30s\", \"5m\", "
                       "found a boolean",
                       "t.json:5:16: routes.r1.retry: unknown key 'timout'; did you mean 'timeout'? "
                       "(allowed: attempts, backoff, initial, max, timeout)",
                       "t.json:6:58: routes.r2.retry.initial: initial delay 60000ms exceeds the cap max 30000ms "
                       "(default)",
                       "t.json:7:46: routes.r3.retry: expected an object {\"attempts\", \"backoff\", \"initial\", "
                       "\"max\", \"timeout\"}, found a number");
}

static void test_route_transform(void **state)
{
    (void)state;
    ceb_template *t = NULL;
    ceb_diag td;
    memset(&td, 0, sizeof td);
    assert_true(ceb_template_compile("{type", &t, &td) < 0);
    char want[600];
    snprintf(want, sizeof want, "t.json:4:54: routes.r1.transform.set.subject: %s", td.message);
    ceb_diag ad;
    memset(&ad, 0, sizeof ad);
    assert_true(ceb_attr_name_check("Bad", 3, &ad) < 0);
    char want_attr[600];
    snprintf(want_attr, sizeof want_attr, "t.json:4:11: routes.r1.transform.set.Bad: %s", ad.message);
    EXPECT_LOAD_ERRORS("{" BASE_SOURCES BASE_SINKS
                       "\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"out\", \"transform\": {\n"
                       "  \"set\": {\"Bad\": \"x\", \"specversion\": \"2\", \"subject\": \"{type\", \"myext\": 3},\n"
                       "  \"remove\": [\"id\", \"myext\", \"time\", \"time\", 4], \"rename\": {}}}}}",
                       want_attr,
                       "t.json:4:23: routes.r1.transform.set.specversion: cannot set specversion (always \"1.0\")",
                       want,
                       "t.json:4:72: routes.r1.transform.set.myext: expected a template string, found a number",
                       "t.json:5:14: routes.r1.transform.remove[0]: cannot remove required attribute 'id'",
                       "t.json:5:20: routes.r1.transform.remove[1]: attribute 'myext' is both set and removed",
                       "t.json:5:37: routes.r1.transform.remove[3]: attribute 'time' is listed twice",
                       "t.json:5:45: routes.r1.transform.remove[4]: expected an attribute name, found a number",
                       "t.json:5:49: routes.r1.transform: unknown key 'rename' (allowed: set, remove)");
}

static void test_unused_warnings(void **state)
{
    (void)state;
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    assert_int_equal(load("{\"sources\": {\"in\": {\"plugin\": \"file\"}, \"idle\": {\"plugin\": \"file\"}},\n"
                          " \"sinks\": {\"out\": {\"plugin\": \"file\"}, \"spare\": {\"plugin\": \"file\"},\n"
                          "           \"dlq\": {\"plugin\": \"file\"}},\n"
                          " \"routes\": {\"r\": {\"from\": \"in\", \"to\": \"out\", \"dead_letter\": \"dlq\"}}}",
                          &c, &e), 0);
    assert_non_null(c);
    assert_int_equal(e.n, 0);
    EXPECT_WARNINGS(&e, "t.json:1:40: sources.idle: not used by any route",
                    "t.json:2:39: sinks.spare: not used by any route");
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
}

static void test_fingerprints_and_secrets(void **state)
{
    (void)state;
    setenv("CEB_TEST_CONF_PW", "s3cr3t-env", 1);
    const char *a =
        "{\"sinks\": {\"k\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"password\": \"hunter2\",\n"
        "                   \"acks\": \"all\"},\n"
        "             \"e\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"password\": \"${env:CEB_TEST_CONF_PW}\"}}}";
    const char *b = /* same options, other order, other layout */
        "{\"sinks\": {\"k\": {\"acks\": \"all\", \"password\": \"hunter2\", \"brokers\": \"b\",\n"
        "                   \"plugin\": \"kafka\"},\n"
        "             \"e\": {\"password\": \"${env:CEB_TEST_CONF_PW}\", \"plugin\": \"kafka\", \"brokers\": \"b\"}}}";
    const char *c3 = /* another password */
        "{\"sinks\": {\"k\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"password\": \"hunter3\", \"acks\": \"all\"}}}";
    ceb_conf *ca = NULL, *cb = NULL, *cc = NULL;
    ceb_conf_errors e;
    assert_int_equal(load(a, &ca, &e), 0);
    ceb_conf_errors_free(&e);
    assert_int_equal(load(b, &cb, &e), 0);
    ceb_conf_errors_free(&e);
    assert_int_equal(load(c3, &cc, &e), 0);
    ceb_conf_errors_free(&e);
    const ceb_conf_instance *ka = ceb_conf_find_sink(ca, "k"), *kb = ceb_conf_find_sink(cb, "k");
    const ceb_conf_instance *kc = ceb_conf_find_sink(cc, "k");
    assert_string_equal(ka->fingerprint, kb->fingerprint);
    assert_string_equal(ceb_conf_find_sink(ca, "e")->fingerprint, ceb_conf_find_sink(cb, "e")->fingerprint);
    assert_string_not_equal(ka->fingerprint, kc->fingerprint);
    assert_null(strstr(ka->fingerprint, "hunter2"));
    assert_non_null(strstr(ka->fingerprint, "\"password\":\"<secret:"));
    assert_null(strstr(ceb_conf_find_sink(ca, "e")->fingerprint, "s3cr3t-env"));
    assert_null(strstr(ceb_conf_find_sink(ca, "e")->fingerprint, "CEB_TEST_CONF_PW"));
    size_t len = 0;
    assert_string_equal(ceb_secret_reveal(((const ksink_cfg *)ceb_conf_find_sink(ca, "e")->config)->password,
                                          &len), "s3cr3t-env");
    ceb_conf_free(ca);
    ceb_conf_free(cb);
    ceb_conf_free(cc);

    /* a changed environment value changes the fingerprint of an env secret */
    ceb_conf *c1 = NULL, *c2 = NULL;
    assert_int_equal(load(a, &c1, &e), 0);
    ceb_conf_errors_free(&e);
    setenv("CEB_TEST_CONF_PW", "rotated", 1);
    assert_int_equal(load(a, &c2, &e), 0);
    ceb_conf_errors_free(&e);
    assert_string_not_equal(ceb_conf_find_sink(c1, "e")->fingerprint, ceb_conf_find_sink(c2, "e")->fingerprint);
    ceb_conf_free(c1);
    ceb_conf_free(c2);

    /* errors never show a secret's value */
    unsetenv("CEB_TEST_CONF_NOPE");
    ceb_conf *cx = NULL;
    assert_int_equal(load("{\"sinks\": {\"k\": {\"plugin\": \"kafka\", \"password\": \"hunter2\", \"acks\": 1},\n"
                          "  \"j\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"password\": \"${env:CEB_TEST_CONF_NOPE}\"},\n"
                          "  \"l\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"password\": [\"hunter2\"]}}}",
                          &cx, &e), CEB_ECONFIG);
    EXPECT_ERRORS(&e,
                  "t.json:1:12: sinks.k.brokers: required option missing",
                  "t.json:1:60: sinks.k.acks: expected one of: all, leader, none (got 1)",
                  "t.json:2:44: sinks.j.password: environment variable CEB_TEST_CONF_NOPE is not set",
                  "t.json:3:44: sinks.l.password: expected a string (literal, ${env:NAME} or ${file:PATH})");
    for (size_t i = 0; i < e.n; i++)
        assert_null(strstr(e.lines[i], "hunter2"));
    ceb_conf_errors_free(&e);
    unsetenv("CEB_TEST_CONF_PW");
}

static int settings_hook(void *arg, const ceb_conf_settings *s, ceb_diag *d)
{
    resolver_state *rs = arg;
    assert_int_equal(rs->calls, 0);   /* before any resolve */
    snprintf(rs->plugin_dir_seen, sizeof rs->plugin_dir_seen, "%s", s->plugin_dir ? s->plugin_dir : "");
    if (s->plugin_dir && !strcmp(s->plugin_dir, "/nonexistent"))
        return ceb_diag_set(d, CEB_ENOENT, "plugin_dir /nonexistent: No such file or directory");
    return 0;
}

static void test_settings_hook_and_no_resolver(void **state)
{
    (void)state;
    resolver_state rs = { 0 };
    ceb_conf_load_opts o = { .resolve = resolve, .settings = settings_hook, .arg = &rs };
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    assert_int_equal(ceb_conf_load_text_with("t.json", "{\"settings\": {\"plugin_dir\": \"/p\"}," BASE_SOURCES
                                             "\"routes\": {}}", &o, &c, &e), 0);
    assert_string_equal(rs.plugin_dir_seen, "/p");
    assert_int_equal(rs.calls, 1);
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
    memset(&rs, 0, sizeof rs);
    assert_int_equal(ceb_conf_load_text_with("t.json", "{\"settings\": {\"plugin_dir\": \"/nonexistent\"}}",
                                             &o, &c, &e), CEB_ECONFIG);
    EXPECT_ERRORS(&e, "settings: plugin_dir /nonexistent: No such file or directory");
    ceb_conf_errors_free(&e);

    /* without a resolver, structure is checked but options are not */
    ceb_conf_load_opts none = { 0 };
    assert_int_equal(ceb_conf_load_text_with("t.json", "{\"sinks\": {\"k\": {\"plugin\": \"nope\", \"x\": 1}}}",
                                             &none, &c, &e), 0);
    assert_null(c->sinks[0].plugin);
    assert_null(c->sinks[0].config);
    assert_string_equal(c->sinks[0].plugin_name, "nope");
    assert_string_equal(c->sinks[0].fingerprint, "{\"plugin\":\"nope\",\"x\":1}");
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
}

/* ---- directories ----------------------------------------------------------- */

static void test_dir_lexical_order_and_ignored(void **state)
{
    (void)state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/examples", tmpdir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(sub, sizeof sub, "%s/dir.json", tmpdir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file("examples/99-broken.json", "{ broken");
    write_file(".hidden.json", "{ broken");
    write_file("notes.txt", "{ broken");
    write_file("50-x.json.bak", "{ broken");
    write_file("20-routes.json", "{\"routes\": {\"r\": {\"from\": \"in\", \"to\": \"out\"}},\n"
                                 " \"settings\": {\"log_level\": \"warn\"}}");
    write_file("10-io.json", "// sources and sinks\n{" BASE_SOURCES "\"sinks\": {\"out\": {\"plugin\": \"file\"}},\n"
                             " \"settings\": {\"log_level\": \"info\", \"max_inflight\": 9}}");
    write_file("100-late.json", "{\"settings\": {\"log_level\": \"trace\"}}");
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    int rc = ceb_conf_load(tmpdir, resolve, NULL, &c, &e);
    if (rc)
        dump("errors", e.lines, e.n);
    assert_int_equal(rc, 0);
    assert_int_equal(c->nfiles, 3);
    /* strcmp order: "10-io" < "100-late" ('-' < '0') < "20-routes" */
    assert_string_equal(c->files[0], fmt("%s/10-io.json", tmpdir));
    assert_string_equal(c->files[1], fmt("%s/100-late.json", tmpdir));
    assert_string_equal(c->files[2], fmt("%s/20-routes.json", tmpdir));
    /* later files win for settings */
    assert_string_equal(c->settings.log_level, "warn");
    assert_int_equal(c->settings.max_inflight, 9);
    assert_int_equal(c->sinks[0].max_inflight, 9);
    /* a route refers to instances of an earlier file */
    assert_int_equal(c->nroutes, 1);
    assert_string_equal(c->routes[0].pos.file, c->files[2]);
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);

    /* a single file path loads that file alone */
    rc = ceb_conf_load(fmt("%s/10-io.json", tmpdir), resolve, NULL, &c, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(c->nfiles, 1);
    EXPECT_WARNINGS(&e, fmt("%s/10-io.json:2:14: sources.in: not used by any route", tmpdir),
                    fmt("%s/10-io.json:3:11: sinks.out: not used by any route", tmpdir));
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
}

static void test_dir_duplicates_and_all_errors(void **state)
{
    (void)state;
    write_file("10-a.json",
               "{\n"
               "  \"sources\": {\"in\": {\"plugin\": \"file\"}},\n"
               "  \"sinks\": {\n"
               "    \"kafka\": {\"plugin\": \"kafka\", \"brokers\": \"b\"},\n"
               "    \"x\": {\"plugin\": \"nope\"},\n"
               "    \"y\": {\"plugin\": \"file\"},\n"
               "    \"out\": {\"plugin\": \"file\"}\n"
               "  }\n"
               "}\n");
    write_file("20-b.json",
               "{\n"
               "  \"sinks\": {\n"
               "    \"y\": {\"plugin\": \"file\", \"pth\": \"/x\"},\n"
               "    \"out\": {\"plugin\": \"file\"}\n"
               "  },\n"
               "  \"routes\": {\"r1\": {\"from\": \"in\", \"to\": [\"out\", \"kafak\"]}}\n"
               "}\n");
    write_file("15-bad.json", "{\"routes\": {\"r0\": {\"from\": \"in\" \"to\": \"out\"}}}");
    write_file("30-c.json", "{\"routes\": {\"r1\": {\"from\": \"in\", \"to\": \"y\"}}}");
    ceb_conf *c = (ceb_conf *)1;
    ceb_conf_errors e;
    assert_int_equal(ceb_conf_load(tmpdir, resolve, NULL, &c, &e), CEB_ECONFIG);
    assert_null(c);
    EXPECT_ERRORS(&e,
                  fmt("%s/10-a.json:5:21: sinks.x.plugin: plugin nope: /test/plugins/nope.so: "
                      "No such file or directory", tmpdir),
                  fmt("%s/15-bad.json:1:33: expected ',' or '}' after object member", tmpdir),
                  fmt("%s/20-b.json:3:5: sinks.y: already defined at %s/10-a.json:6:5", tmpdir, tmpdir),
                  fmt("%s/20-b.json:4:5: sinks.out: already defined at %s/10-a.json:7:5", tmpdir, tmpdir),
                  fmt("%s/20-b.json:6:49: routes.r1.to[1]: unknown sink 'kafak'; did you mean 'kafka'?", tmpdir),
                  fmt("%s/30-c.json:1:13: routes.r1: already defined at %s/20-b.json:6:14", tmpdir, tmpdir));
    ceb_conf_errors_free(&e);
}

static void test_dir_empty_and_missing(void **state)
{
    (void)state;
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    assert_int_equal(ceb_conf_load(tmpdir, resolve, NULL, &c, &e), 0);
    assert_non_null(c);
    assert_int_equal(c->nfiles, 0);
    assert_int_equal(c->nroutes, 0);
    assert_int_equal(e.n, 0);
    EXPECT_WARNINGS(&e, fmt("%s: no drop-in files (*.json); nothing to run", tmpdir));
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);

    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", tmpdir);
    c = (ceb_conf *)1;
    assert_int_equal(ceb_conf_load(missing, resolve, NULL, &c, &e), CEB_ENOENT);
    assert_null(c);
    EXPECT_ERRORS(&e, fmt("%s: cannot read configuration: No such file or directory", missing));
    ceb_conf_errors_free(&e);
}

static void test_dir_unreadable_file(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip();   /* root reads mode-000 files */
    write_file("10-a.json", "{}");
    char p[128];
    snprintf(p, sizeof p, "%s/10-a.json", tmpdir);
    assert_int_equal(chmod(p, 0), 0);
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    assert_int_equal(ceb_conf_load(tmpdir, resolve, NULL, &c, &e), CEB_ECONFIG);
    EXPECT_ERRORS(&e, fmt("%s: cannot read: Permission denied", p));
    ceb_conf_errors_free(&e);
}

static void test_dir_broken_symlink(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/10-gone.json", tmpdir);
    assert_int_equal(symlink("/nonexistent/ceb-test.json", p), 0);
    write_file("20-ok.json", "{}");
    ceb_conf *c = (ceb_conf *)1;
    ceb_conf_errors e;
    assert_int_equal(ceb_conf_load(tmpdir, resolve, NULL, &c, &e), CEB_ECONFIG);
    assert_null(c);
    EXPECT_ERRORS(&e, fmt("%s: cannot read: No such file or directory", p));
    ceb_conf_errors_free(&e);
}

/* Every prefix and many one-byte mutations of a full configuration go
   through the whole pipeline: no crash or leak (ASan), either a valid
   configuration or errors that all carry a position. */
static void test_robust_prefixes_and_mutations(void **state)
{
    (void)state;
    const char *base =
        "// c\n{\"settings\": {\"drain_timeout\": \"3s\"}, /* b */\n"
        "\"sources\": {\"in\": {\"plugin\": \"kafka\", \"brokers\": \"b\"}},\n"
        "\"sinks\": {\"k\": {\"plugin\": \"kafka\", \"brokers\": \"b\", \"password\": \"p\", \"acks\": \"all\"},\n"
        "          \"d\": {\"plugin\": \"file\", \"path\": \"-\"}},\n"
        "\"routes\": {\"r\": {\"from\": [\"in\"], \"to\": \"k\", \"filter\": \"type = 'a\\u00e9'\",\n"
        "  \"retry\": {\"attempts\": 3, \"initial\": \"1s\"}, \"dead_letter\": \"d\",\n"
        "  \"transform\": {\"set\": {\"subject\": \"{type}\"}, \"remove\": [\"time\"]}}}}\n";
    size_t n = strlen(base);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    static const char repl[] = { '"', '{', '}', '[', ']', ',', ':', '/', '*', '\\', 'x', '0', '\n', '\0' };
    size_t ok = 0, bad = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        for (size_t r = 0; r <= sizeof repl; r++) {
            memcpy(buf, base, n + 1);
            if (r == sizeof repl)
                buf[cut] = '\0';                 /* a prefix */
            else if (cut < n)
                buf[cut] = repl[r];              /* a mutation ('\0' also cuts) */
            else
                continue;
            ceb_conf *c = NULL;
            ceb_conf_errors e;
            int rc = load(buf, &c, &e);
            if (rc == 0) {
                assert_non_null(c);
                ok++;
            } else {
                assert_int_equal(rc, CEB_ECONFIG);
                assert_null(c);
                assert_true(e.n > 0);
                for (size_t i = 0; i < e.n; i++) {
                    int line, col;
                    assert_int_equal(sscanf(e.lines[i], "t.json:%d:%d: ", &line, &col), 2);
                    assert_true(line >= 1 && col >= 1);
                }
                bad++;
            }
            ceb_conf_free(c);
            ceb_conf_errors_free(&e);
        }
    }
    free(buf);
    assert_true(ok > 0);
    assert_true(bad > 0);
}

/* The default conf.d/ the quickstart runs is structurally valid and
   examples/ is not loaded. Structure only (NULL resolver): its plugins'
   options are checked against the real plugins by the check_conf_d_* tests
   (tests/integration/examples.cmake). */
static void test_shipped_conf_d(void **state)
{
    (void)state;
#ifdef CEB_SOURCE_DIR
    ceb_conf *c = NULL;
    ceb_conf_errors e;
    int rc = ceb_conf_load(CEB_SOURCE_DIR "/conf.d", NULL, NULL, &c, &e);
    if (rc)
        dump("errors", e.lines, e.n);
    assert_int_equal(rc, 0);
    assert_true(c->nfiles >= 1);
    assert_true(c->nroutes >= 1);
    for (size_t i = 0; i < c->nfiles; i++)
        assert_null(strstr(c->files[i], "/examples/"));
    ceb_conf_free(c);
    ceb_conf_errors_free(&e);
#else
    skip();
#endif
}

static void test_errors_free_zeroed(void **state)
{
    (void)state;
    ceb_conf_errors e = { 0 };
    ceb_conf_errors_free(&e);
    ceb_conf_errors_free(NULL);
    ceb_conf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_syntax_errors),
        cmocka_unit_test(test_json_depth_limit),
        cmocka_unit_test(test_json_comments_and_values),
        cmocka_unit_test(test_syntax_error_through_load),
        cmocka_unit_test(test_valid_config),
        cmocka_unit_test(test_defaults_and_empty),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_unknown_plugin_and_role),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_size_options),
        cmocka_unit_test(test_duplicates_in_one_text),
        cmocka_unit_test(test_settings_errors),
        cmocka_unit_test(test_route_ends),
        cmocka_unit_test(test_route_filters),
        cmocka_unit_test(test_route_retry),
        cmocka_unit_test(test_route_transform),
        cmocka_unit_test(test_unused_warnings),
        cmocka_unit_test(test_fingerprints_and_secrets),
        cmocka_unit_test(test_settings_hook_and_no_resolver),
        cmocka_unit_test_setup_teardown(test_dir_lexical_order_and_ignored, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dir_duplicates_and_all_errors, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dir_empty_and_missing, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dir_unreadable_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dir_broken_symlink, setup_dir, teardown_dir),
        cmocka_unit_test(test_robust_prefixes_and_mutations),
        cmocka_unit_test(test_shipped_conf_d),
        cmocka_unit_test(test_errors_free_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
