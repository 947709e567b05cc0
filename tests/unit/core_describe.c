/* Unit tests for core/describe.c against the loader fixtures and a
   hand-built configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/errors.h>
#include "describe.h"
#include "fixture_dir.h"
#include "optval.h"

typedef struct {
    char dir[200];
    ceb_loader *l;
    ceb_buf out;
} fixture;

static int setup_with(void **state, const char *const *names)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_int_equal(ceb_test_fixture_dir(fx->dir, sizeof fx->dir, names), 0);
    assert_int_equal(ceb_loader_new(fx->dir, &fx->l), 0);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, ceb_test_fixtures);
}

static int setup_good_only(void **state)
{
    static const char *const names[] = { "good", "no_roles", NULL };
    return setup_with(state, names);
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ceb_buf_free(&fx->out);
    ceb_loader_free(fx->l);
    ceb_test_rmdir(fx->dir);
    free(fx);
    return 0;
}

static void test_plugins_list(void **state)
{
    fixture *fx = *state;
    assert_int_equal(ceb_describe_plugins(fx->l, &fx->out), 0);
    char want[2048];
    snprintf(want, sizeof want,
             "plugins in %s:\n"
             "  good      1.2.3  source, sink  Loader test fixture: a minimal source and sink\n"
             "  no_roles  (not loadable: plugin no_roles (%s/no_roles.so): neither source nor sink ops are set)\n",
             fx->dir, fx->dir);
    assert_string_equal(fx->out.data, want);
}

static void test_plugins_list_all_fixtures(void **state)
{
    fixture *fx = *state;
    assert_int_equal(ceb_describe_plugins(fx->l, &fx->out), 0);
    /* every file gets a line, loadable or not, in name order */
    const char *order[] = { "  bad_abi ", "  bad_default ", "  bad_size ", "  good ", "  no_deliver ",
                            "  no_entry ", "  no_roles ", "  wrong_name " };
    const char *p = fx->out.data;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        p = strstr(p, order[i]);
        assert_non_null(p);
    }
    assert_non_null(strstr(fx->out.data, "was built for cebridge ABI 99"));
    assert_non_null(strstr(fx->out.data, "  good         1.2.3  source, sink  "));
}

static void test_plugins_empty_dir(void **state)
{
    (void)state;
    char dir[200];
    static const char *const none[] = { NULL };
    assert_int_equal(ceb_test_fixture_dir(dir, sizeof dir, none), 0);
    ceb_loader *l = NULL;
    ceb_buf b = {0};
    assert_int_equal(ceb_loader_new(dir, &l), 0);
    assert_int_equal(ceb_describe_plugins(l, &b), 0);
    char want[300];
    snprintf(want, sizeof want, "plugins in %s:\n  (none)\n", dir);
    assert_string_equal(b.data, want);
    ceb_buf_free(&b);
    ceb_loader_free(l);
    ceb_test_rmdir(dir);

    assert_int_equal(ceb_loader_new("/nonexistent", &l), 0);
    assert_int_equal(ceb_describe_plugins(l, &b), CEB_ENOENT);
    ceb_buf_free(&b);
    ceb_loader_free(l);
}

static void test_plugin_text(void **state)
{
    fixture *fx = *state;
    ceb_diag d = {0};
    assert_int_equal(ceb_describe_plugin(fx->l, "good", CEB_DESCRIBE_TEXT, &fx->out, &d), 0);
    const ceb_plugin *p = NULL;
    assert_int_equal(ceb_loader_get(fx->l, "good", &p, &d), 0);

    /* header, then each role's table exactly as the SDK renders it */
    ceb_buf want = {0};
    ceb_buf_printf(&want, "plugin good 1.2.3 (source, sink)\n"
                          "  Loader test fixture: a minimal source and sink\n"
                          "  file: %s/good.so\n\nsource options:\n", fx->dir);
    assert_int_equal(ceb__options_describe(p->source->options, false, &want), 0);
    ceb_buf_append_str(&want, "\nsink options:\n");
    assert_int_equal(ceb__options_describe(p->sink->options, false, &want), 0);
    assert_string_equal(fx->out.data, want.data);
    ceb_buf_free(&want);
    /* and the tables name the options */
    assert_non_null(strstr(fx->out.data, "lines"));
    assert_non_null(strstr(fx->out.data, "Write timeout."));
}

static void test_plugin_markdown(void **state)
{
    fixture *fx = *state;
    ceb_diag d = {0};
    ceb_describe_format f;
    assert_int_equal(ceb_describe_parse_format("markdown", &f), 0);
    assert_int_equal(f, CEB_DESCRIBE_MARKDOWN);
    assert_int_equal(ceb_describe_plugin(fx->l, "good", f, &fx->out, &d), 0);
    const ceb_plugin *p = NULL;
    assert_int_equal(ceb_loader_get(fx->l, "good", &p, &d), 0);

    ceb_buf want = {0};
    ceb_buf_append_str(&want, "## good 1.2.3\n\nLoader test fixture: a minimal source and sink\n\n"
                              "Roles: source, sink.\n\n### Source options\n\n");
    assert_int_equal(ceb__options_describe(p->source->options, true, &want), 0);
    ceb_buf_append_str(&want, "\n### Sink options\n\n");
    assert_int_equal(ceb__options_describe(p->sink->options, true, &want), 0);
    assert_string_equal(fx->out.data, want.data);
    ceb_buf_free(&want);
    assert_non_null(strstr(fx->out.data, "| `path` |"));
}

static void test_plugin_errors(void **state)
{
    fixture *fx = *state;
    ceb_diag d = {0};
    char want[600];
    assert_int_equal(ceb_describe_plugin(fx->l, "kafak", CEB_DESCRIBE_TEXT, &fx->out, &d), CEB_ENOENT);
    snprintf(want, sizeof want, "plugin kafak: no such plugin in %s (available: good, no_roles)", fx->dir);
    assert_string_equal(d.message, want);
    assert_null(fx->out.data);

    ceb_describe_format f;
    assert_int_equal(ceb_describe_parse_format("text", &f), 0);
    assert_int_equal(f, CEB_DESCRIBE_TEXT);
    assert_int_equal(ceb_describe_parse_format("html", &f), CEB_EINVAL);
    assert_int_equal(ceb_describe_parse_format(NULL, &f), CEB_EINVAL);
}

static void test_routes(void **state)
{
    (void)state;
    ceb_conf_instance sources[] = {
        { .name = "ci-redis", .plugin_name = "redis", .role = CEB_ROLE_SOURCE },
        { .name = "stdin", .plugin_name = "file", .role = CEB_ROLE_SOURCE },
        { .name = "spare", .plugin_name = "file", .role = CEB_ROLE_SOURCE },
    };
    ceb_conf_instance sinks[] = {
        { .name = "ci-kafka", .plugin_name = "kafka", .role = CEB_ROLE_SINK, .max_inflight = 1000 },
        { .name = "dlq-file", .plugin_name = "file", .role = CEB_ROLE_SINK, .max_inflight = 10 },
        { .name = "stdout", .plugin_name = "file", .role = CEB_ROLE_SINK, .max_inflight = 1 },
        { .name = "idle", .plugin_name = "file", .role = CEB_ROLE_SINK, .max_inflight = 5 },
    };
    char *from1[] = { "ci-redis" }, *to1[] = { "ci-kafka" };
    char *from2[] = { "ci-redis", "stdin" }, *to2[] = { "stdout", "ci-kafka" };
    ceb_conf_transform_op ops[2] = {{ .attr = "subject" }, { .attr = "x" }};
    ceb_conf_route routes[] = {
        { .name = "builds-to-kafka", .from = from1, .nfrom = 1, .to = to1, .nto = 1,
          .filter_text = "type LIKE 'dev.tekton.%'\n  AND subject <> ''",
          .retry = { .attempts = 8, .backoff = CEB_BACKOFF_EXPONENTIAL, .initial_ms = 200,
                     .max_ms = 30000, .timeout_ms = 30000 },
          .dead_letter = "dlq-file" },
        { .name = "all", .from = from2, .nfrom = 2, .to = to2, .nto = 2,
          .retry = { .attempts = 1, .backoff = CEB_BACKOFF_CONSTANT, .initial_ms = 1500,
                     .max_ms = 7200000, .timeout_ms = 0 },
          .transform = ops, .ntransform = 2 },
    };
    ceb_conf c = { .sources = sources, .nsources = 3, .sinks = sinks, .nsinks = 4,
                   .routes = routes, .nroutes = 2 };
    ceb_buf b = {0};
    assert_int_equal(ceb_describe_routes(&c, &b), 0);
    assert_string_equal(b.data,
        "sources:\n"
        "  ci-redis  (redis)\n"
        "  stdin     (file)\n"
        "  spare     (file) (unused)\n"
        "sinks:\n"
        "  ci-kafka  (kafka, max_inflight 1000)\n"
        "  dlq-file  (file, max_inflight 10)\n"
        "  stdout    (file, max_inflight 1)\n"
        "  idle      (file, max_inflight 5) (unused)\n"
        "routes:\n"
        "  builds-to-kafka: ci-redis -> [type LIKE 'dev.tekton.%'   AND subject <> ''] -> ci-kafka;"
        " dead letter -> dlq-file\n"
        "    retry: 8 attempts, exponential backoff 200ms..30s, timeout 30s\n"
        "  all: ci-redis, stdin -> stdout, ci-kafka; transform 2 attributes\n"
        "    retry: 1 attempt, constant backoff 1500ms..2h, timeout none\n");
    ceb_buf_free(&b);

    ceb_conf empty = {0};
    assert_int_equal(ceb_describe_routes(&empty, &b), 0);
    assert_string_equal(b.data, "sources:\n  (none)\nsinks:\n  (none)\nroutes:\n  (none)\n");
    ceb_buf_free(&b);
}

#ifdef CEB_HAVE_CONFIG
static int resolve(void *arg, const char *plugin_name, const ceb_plugin **out, ceb_diag *d)
{
    return ceb_loader_get(arg, plugin_name, out, d);
}

/* The same graph from a real drop-in, with the config loader's defaults. */
static void test_routes_from_config(void **state)
{
    fixture *fx = *state;
    const char *text =
        "{\n"
        "  // two sinks and a dead letter\n"
        "  \"sources\": { \"in\": { \"plugin\": \"good\", \"lines\": 5 } },\n"
        "  \"sinks\": { \"out\": { \"plugin\": \"good\", \"path\": \"/tmp/out\" },\n"
        "             \"dlq\": { \"plugin\": \"good\", \"path\": \"/tmp/dlq\", \"max_inflight\": 7 } },\n"
        "  \"routes\": { \"r1\": { \"from\": \"in\", \"filter\": \"type = 'a'\", \"to\": [\"out\"],\n"
        "                          \"dead_letter\": \"dlq\" } }\n"
        "}\n";
    ceb_conf *c = NULL;
    ceb_conf_errors errs = {0};
    int rc = ceb_conf_load_text("10-test.json", text, resolve, fx->l, &c, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.lines[i]);
    assert_int_equal(rc, 0);
    assert_int_equal(ceb_describe_routes(c, &fx->out), 0);
    assert_string_equal(fx->out.data,
        "sources:\n"
        "  in  (good)\n"
        "sinks:\n"
        "  out  (good, max_inflight 1000)\n"
        "  dlq  (good, max_inflight 7)\n"
        "routes:\n"
        "  r1: in -> [type = 'a'] -> out; dead letter -> dlq\n"
        "    retry: 5 attempts, exponential backoff 200ms..30s, timeout 30s\n");
    ceb_conf_errors_free(&errs);
    ceb_conf_free(c);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plugins_list, setup_good_only, teardown),
        cmocka_unit_test_setup_teardown(test_plugins_list_all_fixtures, setup, teardown),
        cmocka_unit_test(test_plugins_empty_dir),
        cmocka_unit_test_setup_teardown(test_plugin_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_markdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_errors, setup_good_only, teardown),
        cmocka_unit_test(test_routes),
#ifdef CEB_HAVE_CONFIG
        cmocka_unit_test_setup_teardown(test_routes_from_config, setup_good_only, teardown),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
