/*
 * libFuzzer target for core/cesql: parser, compiler, evaluator, explain and
 * the dialect compiler. Built only with CEB_BUILD_FUZZ=ON (clang).
 *
 * Input: byte 0 selects the mode, the rest is the payload.
 *   mode & 1   compile with CEB_CESQL_STRICT
 *   mode & 2   the payload is a JSON filter object for ceb_cesql_compile_dialect
 *   otherwise  the payload is CESQL text
 * Every compiled expression is explained and evaluated (eval and match)
 * against a fixed event with extensions of each type and JSON data, and
 * the two evaluations must agree.
 */
#include "cesql.h"
#include "cesql_json_event.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char EVENT[] =
    "{\"specversion\":\"1.0\",\"id\":\"id-1\",\"source\":\"https://example.com/src\","
    "\"type\":\"com.example.order.created\",\"subject\":\"sub\xc3\xa9\",\"time\":\"2018-04-26T14:48:09+02:00\","
    "\"n\":42,\"neg\":-2147483648,\"flag\":true,\"s\":\"5\",\"bin\":\"a\\u00ff\","
    "\"datacontenttype\":\"application/json\","
    "\"data\":{\"a\":{\"b\":\"x\"},\"n\":7,\"f\":1.5,\"t\":false,\"nul\":null,"
    "\"items\":[{\"name\":\"first\"},{\"name\":\"second\"}],\"k y\":\"v\"}}";

static void run(ceb_cesql_expr *x, const cJSON *ev)
{
    char buf[512];
    int need = ceb_cesql_explain(x, buf, sizeof(buf));
    if (need < 0)
        abort();
    (void)ceb_cesql_static_type(x);
    ceb_cesql_json_event je;
    ceb_cesql_json_event_init(&je, ev);
    ceb_cesql_result r;
    int rc = ceb_cesql_eval(x, &ceb_cesql_json_accessor, &je, &r);
    int nerr = 0;
    bool m = ceb_cesql_match(x, &ceb_cesql_json_accessor, &je, &nerr);
    if (rc == 0) {
        bool want = r.value.type == CEB_CESQL_T_BOOL && r.value.b && r.nerrors == 0;
        if (m != want || (size_t)nerr != r.nerrors)
            abort(); /* eval and match disagree */
        if (r.value.type == CEB_CESQL_T_STRING && r.value.len && !r.value.s)
            abort();
    }
    ceb_cesql_result_release(&r);
    ceb_cesql_json_event_reset(&je);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cJSON *ev;
    if (!ev)
        ev = cJSON_Parse(EVENT);
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    unsigned flags = (mode & 1u) ? CEB_CESQL_STRICT : 0;
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error err;
    if (mode & 2u) {
        cJSON *f = cJSON_ParseWithLength(text, len);
        if (f && ceb_cesql_compile_dialect(f, flags, &x, &err) == 0) {
            run(x, ev);
            ceb_cesql_free(x);
        }
        cJSON_Delete(f);
        return 0;
    }
    int rc = ceb_cesql_compile(text, len, flags, &x, &err);
    if (rc == 0) {
        run(x, ev);
        ceb_cesql_free(x);
    } else if (err.kind != CEB_CESQL_ERR_PARSE || err.offset > len || err.column < 1) {
        abort();
    }
    return 0;
}
