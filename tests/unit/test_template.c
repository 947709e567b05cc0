/* Unit tests for sdk/src/template.c (cebridge/template.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <cebridge/cebridge.h>

static ceb_event *make_event(void)
{
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_new(&ev), 0);
    assert_int_equal(ceb_event_set(ev, "id", "42-a", &d), 0);
    assert_int_equal(ceb_event_set(ev, "source", "https://ci.example/jobs/7", &d), 0);
    assert_int_equal(ceb_event_set(ev, "type", "dev.tekton.Run", &d), 0);
    assert_int_equal(ceb_event_set(ev, "subject", "Main Build", &d), 0);
    assert_int_equal(ceb_event_set(ev, "time", "2024-05-01T10:00:00Z", &d), 0);
    assert_int_equal(ceb_event_set(ev, "team", "qe", &d), 0);
    assert_int_equal(ceb_event_set_int(ev, "count", 7, &d), 0);
    static const char data[] =
        "{\"a\":{\"b\":[\"first\",2,true]},\"key with space\":\"v s\","
        "\"num\":1.5,\"nil\":null,\"q\":\"say \\\"hi\\\"\",\"obj\":{\"x\":1}}";
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_JSON, data, sizeof(data) - 1), 0);
    return ev;
}

/* Compile `tpl`, render against `ev`, compare with `want`. */
static void check(const ceb_event *ev, const char *tpl, const char *want)
{
    ceb_template *t = NULL;
    ceb_diag d = {0};
    int rc = ceb_template_compile(tpl, &t, &d);
    if (rc != 0)
        fail_msg("compile '%s': %s", tpl, d.message);
    ceb_buf out = {0};
    assert_int_equal(ceb_template_render(t, ev, &out), 0);
    if (strcmp(out.data, want) != 0)
        fail_msg("template '%s': got '%s', want '%s'", tpl, out.data, want);
    ceb_buf_free(&out);
    ceb_template_free(t);
}

static void check_error(const char *tpl, const char *want_msg)
{
    ceb_template *t = (ceb_template *)0x1;
    ceb_diag d = {0};
    assert_int_equal(ceb_template_compile(tpl, &t, &d), CEB_ETEMPLATE);
    assert_null(t);
    assert_int_equal(d.code, CEB_ETEMPLATE);
    if (strcmp(d.message, want_msg) != 0)
        fail_msg("template '%s': got error '%s', want '%s'", tpl, d.message, want_msg);
}

static void test_attributes(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    check(ev, "ci.{type}", "ci.dev.tekton.Run");
    check(ev, "{source}|{subject}|{id}|{time}", "https://ci.example/jobs/7|Main Build|42-a|2024-05-01T10:00:00Z");
    check(ev, "{specversion}", "1.0");
    check(ev, "{team}/{ext.team}/{ext.count}", "qe/qe/7");
    check(ev, "[{dataschema}]", "[]");
    check(ev, "[{ext.nope}]", "[]");
    check(ev, "{ type }", "dev.tekton.Run");
    ceb_event_unref(ev);
}

static void test_literals_and_braces(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    check(ev, "", "");
    check(ev, "plain text", "plain text");
    check(ev, "{{type}}", "{type}");
    check(ev, "{{{type}}}", "{dev.tekton.Run}");
    check(ev, "a}}b{{c", "a}b{c");

    ceb_template *t = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_template_compile("x{{y}}", &t, &d), 0);
    assert_true(ceb_template_is_constant(t));
    assert_string_equal(ceb_template_text(t), "x{{y}}");
    ceb_template_free(t);
    assert_int_equal(ceb_template_compile("x{id}", &t, &d), 0);
    assert_false(ceb_template_is_constant(t));
    ceb_template_free(t);
    ceb_event_unref(ev);
}

static void test_data_paths(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    check(ev, "{data.a.b[0]}", "first");
    check(ev, "{data.a.b[1]}", "2");
    check(ev, "{data.a.b[2]}", "true");
    check(ev, "{data.a.b.0}", "first");
    check(ev, "{data.a.b[9]}", "");
    check(ev, "{data['key with space']}", "v s");
    check(ev, "{data[\"key with space\"]}", "v s");
    check(ev, "{data.num}", "1.5");
    check(ev, "{data.obj}", "{\"x\":1}");
    check(ev, "{data.q}", "say \"hi\"");
    check(ev, "{data.nil}", "");
    check(ev, "{data.nil|default:none}", "none");
    check(ev, "{data.missing.deeper}", "");
    check(ev, "{data.a.b[0].x}", "");
    ceb_event_unref(ev);
}

static void test_whole_data(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    check(ev, "{data.obj|json}", "{\"x\":1}");
    ceb_event_unref(ev);

    ceb_event *tx = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_new(&tx), 0);
    assert_int_equal(ceb_event_set_data(tx, CEB_DATA_TEXT, "hello \"you\"", 11), 0);
    check(tx, "{data}", "hello \"you\"");
    check(tx, "{data|json}", "\"hello \\\"you\\\"\"");
    check(tx, "{data.x}", "");
    ceb_event_unref(tx);

    ceb_event *js = NULL;
    assert_int_equal(ceb_event_new(&js), 0);
    assert_int_equal(ceb_event_set_data(js, CEB_DATA_JSON, "{\"k\": [1, 2]}", 13), 0);
    check(js, "{data}", "{\"k\": [1, 2]}");
    check(js, "{data|json}", "{\"k\":[1,2]}");
    check(js, "{data.k[1]}", "2");
    ceb_event_unref(js);

    ceb_event *bin = NULL;
    assert_int_equal(ceb_event_new(&bin), 0);
    assert_int_equal(ceb_event_set_data(bin, CEB_DATA_BINARY, "\x01\x02\x03", 3), 0);
    check(bin, "{data}", "AQID");
    ceb_event_unref(bin);

    ceb_event *none = NULL;
    assert_int_equal(ceb_event_new(&none), 0);
    check(none, "[{data}]", "[]");
    check(none, "{data|default:empty}", "empty");
    ceb_event_unref(none);
    (void)d;
}

static void test_filters(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    check(ev, "{subject|lower}", "main build");
    check(ev, "{subject|upper}", "MAIN BUILD");
    check(ev, "{subject|urlencode}", "Main%20Build");
    check(ev, "{source|urlencode}", "https%3A%2F%2Fci.example%2Fjobs%2F7");
    check(ev, "{subject|lower|urlencode}", "main%20build");
    check(ev, "{subject|json}", "\"Main Build\"");
    check(ev, "{ext.count|json}", "7");
    check(ev, "{data.q|json}", "\"say \\\"hi\\\"\"");
    check(ev, "{data.a|json}", "{\"b\":[\"first\",2,true]}");
    check(ev, "{data.a.b|json|urlencode}", "%5B%22first%22%2C2%2Ctrue%5D");
    check(ev, "{dataschema|json}", "null");
    check(ev, "{ subject | upper }", "MAIN BUILD");
    check(ev, "{data.q|upper}", "SAY \"HI\"");
    ceb_event_unref(ev);
}

static void test_default(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    check(ev, "{dataschema|default:none}", "none");
    check(ev, "{subject|default:none}", "Main Build");
    check(ev, "{dataschema|default:No Schema|upper}", "NO SCHEMA");
    check(ev, "{dataschema|default:}", "");
    check(ev, "{dataschema|default:a\\|b\\}c}", "a|b}c");
    check(ev, "{dataschema|lower|default:x}", "x");
    check(ev, "{ext.missing|default:0|json}", "\"0\"");
    ceb_event_unref(ev);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    check_error("ci.{type", "column 4: unterminated '{' (write '{{' for a literal brace)");
    check_error("ci.}", "column 4: unmatched '}' (write '}}' for a literal brace)");
    check_error("a{}", "column 3: empty reference");
    check_error("{  }", "column 4: empty reference");
    check_error("{type|foo}",
                "column 7: unknown filter (known: json, urlencode, lower, upper, default:TEXT): 'foo'");
    check_error("{type|}", "column 7: expected a filter name after '|'");
    check_error("{type|default}", "column 14: expected ':' after 'default'");
    check_error("{type|json x}", "column 12: unexpected character after filter 'x'");
    check_error("{data.}", "column 7: expected a key name after '.'");
    check_error("{data[x]}", "column 7: expected an array index or a quoted key after '['");
    check_error("{data[1}", "column 8: expected ']'");
    check_error("{data['k}", "column 7: unterminated quoted key");
    check_error("{data['k'x]}", "column 10: expected ']' after quoted key");
    check_error("{data!}", "column 6: unexpected character in data path '!'");
    check_error("{ext.Team}", "column 6: invalid extension name (lower-case a-z and 0-9 only) 'Team'");
    check_error("{ext.a.b}", "column 7: unexpected character after extension name '.'");
    check_error("{.x}", "column 2: a reference must start with a name, got '.'");
    check_error("{a{b}}", "column 3: '{' inside a reference (write '{{' for a literal brace)");
    check_error("{type|json", "column 1: unterminated '{' (write '{{' for a literal brace)");
    check_error("{type|default:x", "column 1: unterminated '{' (write '{{' for a literal brace)");

    ceb_template *t = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_template_compile(NULL, &t, &d), CEB_EINVAL);
}

static bool lookup(void *arg, const char *ref, size_t len, const char **val, size_t *vlen)
{
    int *calls = arg;
    (*calls)++;
    if (len == 11 && memcmp(ref, "header.x-id", 11) == 0) {
        *val = "Abc 1";
        *vlen = 5;
        return true;
    }
    if (len == 4 && memcmp(ref, "path", 4) == 0) {
        *val = "/hooks/ci";
        *vlen = 9;
        return true;
    }
    return false;
}

static void test_lookup_roots(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    ceb_template *t = NULL;
    ceb_diag d = {0};
    int calls = 0;
    assert_int_equal(
        ceb_template_compile("{header.x-id|lower|urlencode}@{path}:{type}:{other|default:-}", &t, &d), 0);
    ceb_buf out = {0};
    assert_int_equal(ceb_template_render_with(t, ev, lookup, &calls, &out), 0);
    assert_string_equal(out.data, "abc%201@/hooks/ci:dev.tekton.Run:-");
    assert_int_equal(calls, 3); /* type is an attribute: no lookup */
    ceb_buf_reset(&out);
    /* without an event only lookup roots resolve */
    assert_int_equal(ceb_template_render_with(t, NULL, lookup, &calls, &out), 0);
    assert_string_equal(out.data, "abc%201@/hooks/ci::-");
    /* plain render: unknown roots are missing */
    ceb_buf_reset(&out);
    assert_int_equal(ceb_template_render(t, ev, &out), 0);
    assert_string_equal(out.data, "@:dev.tekton.Run:-");
    ceb_buf_free(&out);
    ceb_template_free(t);
    ceb_event_unref(ev);
}

static void test_strict(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    ceb_template *t = NULL;
    ceb_diag d = {0};
    ceb_buf out = {0};
    assert_int_equal(ceb_buf_append_str(&out, "keep:"), 0);

    assert_int_equal(ceb_template_compile("{type}/{dataschema}", &t, &d), 0);
    assert_int_equal(ceb_template_render_strict(t, ev, NULL, NULL, &out, &d), CEB_ENOENT);
    assert_string_equal(d.field, "dataschema");
    assert_string_equal(d.message,
                        "template '{type}/{dataschema}': {dataschema} has no value and no default");
    /* the buffer is left as it was */
    assert_int_equal(out.len, 5);
    assert_string_equal(out.data, "keep:");
    ceb_template_free(t);

    ceb_diag_clear(&d);
    assert_int_equal(ceb_template_compile("{type}/{dataschema|default:x}", &t, &d), 0);
    assert_int_equal(ceb_template_render_strict(t, ev, NULL, NULL, &out, &d), 0);
    assert_string_equal(out.data, "keep:dev.tekton.Run/x");
    ceb_template_free(t);
    ceb_buf_free(&out);
    ceb_event_unref(ev);
}

static void test_frozen_event_and_reuse(void **state)
{
    (void)state;
    ceb_event *ev = make_event();
    ceb_event_freeze(ev);
    ceb_template *t = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_template_compile("{data.a.b[0]}-{data['key with space']|upper}", &t, &d), 0);
    for (int i = 0; i < 3; i++) {
        ceb_buf out = {0};
        assert_int_equal(ceb_template_render(t, ev, &out), 0);
        assert_string_equal(out.data, "first-V S");
        ceb_buf_free(&out);
    }
    ceb_template_free(t);
    ceb_event_unref(ev);
    ceb_template_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_literals_and_braces),
        cmocka_unit_test(test_data_paths),
        cmocka_unit_test(test_whole_data),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_lookup_roots),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_frozen_event_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
