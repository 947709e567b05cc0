/*
 * json_arena.c (the lazy event data parse) against the cJSON parse it
 * replaces: event.c's former parse_json_exact(), i.e.
 * cJSON_ParseWithLengthOpts(p, len, &end, false) followed by only
 * ' ', '\t', '\n', '\r'. For every input both must make the same decision
 * and, when they accept, build the same tree: cJSON_PrintUnformatted output,
 * and node by node the type, valueint, valuedouble (bit for bit), strings
 * and the child/next/prev links (the first child's prev is the last).
 * Inputs: hand-written documents, nesting at and past the limit, and
 * deterministic random mutations of valid documents.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cebridge/cebridge.h>
#include "sdk_internal.h"

/* event.c's former lazy parse, the reference. `p` is NUL-terminated at
   p[len] as event data is (cJSON 1.7.15 may read that byte). */
static cJSON *ref_parse(const char *p, size_t len)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(p, len, &end, false);
    if (j == NULL)
        return NULL;
    for (const char *q = end; q < p + len; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

static int index_in(const cJSON *first, const cJSON *n)
{
    int i = 0;
    for (const cJSON *e = first; e != NULL; e = e->next, i++)
        if (e == n)
            return i;
    return -1;
}

/* Node by node; returns false (with a message) on the first difference. */
static bool same_tree(const cJSON *a, const cJSON *b, char *why, size_t whylen)
{
    if (a->type != b->type) {
        snprintf(why, whylen, "type %d vs %d", a->type, b->type);
        return false;
    }
    if (a->valueint != b->valueint) {
        snprintf(why, whylen, "valueint %d vs %d", a->valueint, b->valueint);
        return false;
    }
    if (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0) {
        snprintf(why, whylen, "valuedouble %.17g vs %.17g", a->valuedouble, b->valuedouble);
        return false;
    }
    if ((a->valuestring == NULL) != (b->valuestring == NULL) ||
        (a->valuestring != NULL && strcmp(a->valuestring, b->valuestring) != 0)) {
        snprintf(why, whylen, "valuestring differs");
        return false;
    }
    if ((a->string == NULL) != (b->string == NULL) ||
        (a->string != NULL && strcmp(a->string, b->string) != 0)) {
        snprintf(why, whylen, "string (key) differs");
        return false;
    }
    if ((a->child == NULL) != (b->child == NULL)) {
        snprintf(why, whylen, "child presence differs");
        return false;
    }
    const cJSON *x = a->child, *y = b->child;
    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
        if (index_in(a->child, x->prev) != index_in(b->child, y->prev) ||
            (x->prev == NULL) != (y->prev == NULL)) {
            snprintf(why, whylen, "prev link differs");
            return false;
        }
        if (!same_tree(x, y, why, whylen))
            return false;
    }
    if (x != NULL || y != NULL) {
        snprintf(why, whylen, "child count differs");
        return false;
    }
    return true;
}

typedef struct {
    long accepted, rejected;
} tally;

/* Compare both parsers on text[0..len); fails the test on a difference. */
static void check(const char *text, size_t len, tally *t)
{
    char *z = malloc(len + 1);          /* the reference's input, NUL after */
    char *exact = malloc(len ? len : 1); /* ours: not one byte more (ASan) */
    assert_non_null(z);
    assert_non_null(exact);
    memcpy(z, text, len);
    z[len] = '\0';
    memcpy(exact, text, len);
    cJSON *r = ref_parse(z, len);
    const cJSON *a = ceb__json_arena_parse(exact, len);
    if ((r == NULL) != (a == NULL)) {
        fail_msg("decision differs on %zu bytes \"%.*s\": cJSON %s, arena %s", len, (int)len,
                 text, r ? "accepts" : "rejects", a ? "accepts" : "rejects");
    }
    if (r != NULL) {
        char *pr = cJSON_PrintUnformatted(r);
        char *pa = cJSON_PrintUnformatted(a);
        assert_non_null(pr);
        assert_non_null(pa);
        if (strcmp(pr, pa) != 0)
            fail_msg("print differs on \"%.*s\":\n cJSON %s\n arena %s", (int)len, text, pr, pa);
        char why[128];
        if (!same_tree(r, a, why, sizeof why))
            fail_msg("tree differs on \"%.*s\": %s", (int)len, text, why);
        cJSON_free(pr);
        cJSON_free(pa);
        if (t != NULL)
            t->accepted++;
    } else if (t != NULL) {
        t->rejected++;
    }
    cJSON_Delete(r);
    ceb__json_arena_free(a);
    free(z);
    free(exact);
}

static void check_str(const char *s) { check(s, strlen(s), NULL); }

static const char *const docs[] = {
    /* scalars */
    "null", "true", "false", "0", "-0", "1", "-1", "42", "007", "-007", "1.", "1.5", "-1.5e3",
    "1e308", "1e309", "-1e309", "1e-400", "2.2250738585072014e-308", "4.9e-324",
    "2147483647", "2147483648", "-2147483648", "-2147483649", "9007199254740993",
    "123456789012345678", "1234567890123456789", "12345678901234567890123",
    "-123456789012345678", "18446744073709551616", "0.1", "0.30000000000000004",
    "3.141592653589793238462643383279", "1E5", "1e+5", "1e-5", "1e", "1e+", "-", "--1",
    "-.5", ".5", "+1", "1-2", "1+2", "1.2.3", "0x10", "1ee5", "1e5e5", "-e5", "1 2",
    "12345678901234567890123456789012345678901234567890123456789012345",
    "123456789012345678901234567890123456789012345678901234567890123",
    "1234567890123456789012345678901234567890123456789012345678901234",
    "0.000000000000000000000000000000000000000000000000000000000000001",
    "[0.0000000000000000000000000000000000000000000000000000000000000000001]",
    "nul", "nulls", "tru", "True", "fals", "NULL", "nan", "NaN", "Infinity", "-Infinity",
    /* strings */
    "\"\"", "\"abc\"", "\"a\\\"b\"", "\"\\\\\"", "\"\\/\"", "\"\\b\\f\\n\\r\\t\"",
    "\"\\u0041\"", "\"\\u00e9\"", "\"\\u20AC\"", "\"\\uD83D\\uDE00\"", "\"\\ud83d\\ude00x\"",
    "\"\\uDBFF\\uDFFF\"", "\"\\uD800\"", "\"\\uDC00\"", "\"\\uD800\\u0041\"", "\"\\uD800x\"",
    "\"\\uD800\\uDBFF\"", "\"\\u0000\"", "\"a\\u0000b\"", "\"\\uZZZZ\"", "\"\\u12\"",
    "\"\\u12\\\"ab\"", "\"\\u1\\\\\\\"x\"", "\"\\u123\"", "\"\\x41\"", "\"\\\"", "\"abc",
    "\"\\", "\"\\u", "\"tab\there\"", "\"nl\nhere\"", "\"caf\xC3\xA9\"", "\"\xE2\x82\xAC\"",
    "\"\xF0\x9F\x98\x80\"", "\"\\uFFFF\"", "\"\\uFEFF\"", "\"\\ud800\\udc00\"",
    /* containers */
    "[]", "{}", "[ ]", "{ }", "[[]]", "[{}]", "{\"a\":[]}", "{\"a\":{}}", "[1]", "[1,2,3]",
    "[1,]", "[,1]", "[1 2]", "[", "]", "[[", "[1", "[1,", "{", "}", "{\"a\"", "{\"a\":",
    "{\"a\":1", "{\"a\":1,", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{1:1}", "{\"a\":1 \"b\":2}",
    "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":2,\"a\":3}", "{\"\":0}", "{\"\\u0000\":1}",
    "{\"k\":\"v\",\"n\":null,\"t\":true,\"f\":false,\"x\":-0,\"y\":[1,{\"z\":[]}]}",
    "[null,true,false,\"s\",1.25,[],{}]", "[\"a\",\"b\",\"a\"]", "[[[[[[[[1]]]]]]]]",
    "{\"order\":{\"id\":18830,\"total\":129,\"currency\":\"EUR\",\"items\":[{\"sku\":\"A-1\","
    "\"qty\":2},{\"sku\":\"B-7\",\"qty\":1}]},\"customer\":{\"tier\":\"gold\"}}",
    /* whitespace, BOM, trailing bytes */
    " 1", "1 ", "\t\r\n 1 \t\r\n", " ", "\t", "", "1\x0b", "\x0b" "1", "[\x01" "1\x1f]",
    "{\x0c\"a\"\x0c:\x0c" "1\x0c}", "1x", "[]]", "{}}", "[] []", "nullx", "truefalse",
    "\xEF\xBB\xBF[1]", "\xEF\xBB\xBF" "1", "\xEF\xBB\xBF" "12", "\xEF\xBB\xBF", "\xEF\xBB\xBF ",
    "\xEF\xBB\xBF\xEF\xBB\xBF[]", "\xEF\xBB" "1", "//1", "/*x*/1", "'a'", "[1]\x00",
};

static void test_handwritten(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        check_str(docs[i]);
    /* embedded NUL bytes (lengths given explicitly) */
    check("[1]\0", 4, NULL);
    check("\0[1]", 4, NULL);
    check("\"a\0b\"", 5, NULL);
    check("[1,\0 2]", 7, NULL);
    check("{\"a\0\":1}", 8, NULL);
    check("1\0", 2, NULL);
}

/* `n` nested containers, alternating array/object when `mixed`. */
static char *nested(int n, bool mixed, size_t *len)
{
    char *s = malloc((size_t)n * 6 + 8);
    assert_non_null(s);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (mixed && i % 2) {
            memcpy(s + k, "{\"k\":", 5);
            k += 5;
        } else {
            s[k++] = '[';
        }
    }
    s[k++] = '1';
    for (int i = n - 1; i >= 0; i--)
        s[k++] = (mixed && i % 2) ? '}' : ']';
    *len = k;
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    static const int depths[] = { 1, 2, 999, 1000, 1001, 1002, 5000 };
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        for (int mixed = 0; mixed < 2; mixed++) {
            size_t len;
            char *s = nested(depths[i], mixed, &len);
            check(s, len, NULL);
            const cJSON *a = ceb__json_arena_parse(s, len);
            if (depths[i] <= CJSON_NESTING_LIMIT)
                assert_non_null(a);
            else
                assert_null(a);
            ceb__json_arena_free(a);
            free(s);
        }
    }
}

static void test_links_and_values(void **state)
{
    (void)state;
    const char *s = "{\"a\":[10,20,30],\"b\":{\"only\":-2147483649},\"c\":1e300,\"d\":\"x\\u00e9\"}";
    const cJSON *r = ceb__json_arena_parse(s, strlen(s));
    assert_non_null(r);
    assert_int_equal(r->type, cJSON_Object);
    assert_null(r->prev);
    assert_null(r->next);
    const cJSON *a = r->child, *d = r->child->next->next->next;
    assert_string_equal(a->string, "a");
    assert_ptr_equal(a->prev, d);              /* first child's prev: the last */
    assert_null(d->next);
    assert_ptr_equal(a->child->prev, a->child->next->next);
    assert_int_equal(a->child->next->valueint, 20);
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(r, "b")->child;
    assert_ptr_equal(only->prev, only);        /* a single child is its own prev */
    assert_int_equal(only->valueint, -2147483647 - 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(r, "c")->valueint, 2147483647);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "d")->valuestring, "x\xC3\xA9");
    assert_ptr_equal(cJSON_GetArrayItem(a, 2), a->child->next->next);
    assert_int_equal(cJSON_GetArraySize(a), 3);
    ceb__json_arena_free(r);
    ceb__json_arena_free(NULL);
    assert_null(ceb__json_arena_parse(NULL, 0));
    assert_null(ceb__json_arena_parse("1", 0));
}

/* A document needing many more nodes than the first block holds. */
static void test_many_nodes(void **state)
{
    (void)state;
    size_t n = 20000, k = 0;
    char *s = malloc(n * 4 + 4);
    assert_non_null(s);
    s[k++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            s[k++] = ',';
        s[k++] = (char)('0' + i % 10);
        if (i % 3 == 0) {
            s[k++] = ',';
            s[k++] = '[';
            s[k++] = ']';
        }
    }
    s[k++] = ']';
    check(s, k, NULL);
    free(s);
}

/* ---- random documents and mutations (deterministic) ----------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static const char *const atoms[] = {
    "null", "true", "false", "0", "-0", "1", "-12", "3.25", "1e3", "-2.5E-3", "1e308",
    "2147483648", "-2147483649", "12345678901234567890", "0.1", "\"\"", "\"s\"",
    "\"a\\\"b\"", "\"\\u00e9\\n\"", "\"\\uD83D\\uDE00\"", "\"caf\xC3\xA9\"", "\"\\/\\\\\"",
};
static const char *const keys[] = { "\"a\"", "\"b\"", "\"\"", "\"a\"", "\"k\\u0041\"", "\"x y\"" };
static const char *const ws[] = { "", "", "", " ", "\n", "\t", "\r\n  " };

static void gen(sbuf *b, int depth)
{
    uint32_t r = rnd() % 10;
    puts_(b, ws[rnd() % 7]);
    if (depth > 6 || r < 5) {
        puts_(b, atoms[rnd() % (sizeof atoms / sizeof atoms[0])]);
    } else if (r < 7) {
        puts_(b, "[");
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++) {
            if (i)
                puts_(b, ",");
            gen(b, depth + 1);
        }
        puts_(b, ws[rnd() % 7]);
        puts_(b, "]");
    } else {
        puts_(b, "{");
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++) {
            if (i)
                puts_(b, ",");
            puts_(b, ws[rnd() % 7]);
            puts_(b, keys[rnd() % (sizeof keys / sizeof keys[0])]);
            puts_(b, ws[rnd() % 7]);
            puts_(b, ":");
            gen(b, depth + 1);
        }
        puts_(b, ws[rnd() % 7]);
        puts_(b, "}");
    }
    puts_(b, ws[rnd() % 7]);
}

static const char *const inserts[] = {
    "\"", "\\", "\\u", "\\uD800", "\\uDC00", "\\u00", ",", ":", "[", "]", "{", "}", "-",
    ".", "e", "E", "+", "0", "9", " ", "\x01", "\x00", "n", "t", "f", "\xEF\xBB\xBF", "\xC3",
};

static void mutate(sbuf *b)
{
    int times = 1 + (int)(rnd() % 3);
    for (int t = 0; t < times; t++) {
        size_t at = b->len ? rnd() % (b->len + 1) : 0;
        switch (rnd() % 5) {
        case 0:     /* overwrite one byte */
            if (at < b->len)
                b->p[at] = (char)(rnd() % 4 ? "\"\\[]{},:-.eE0u "[rnd() % 16] : (char)rnd());
            break;
        case 1: {   /* insert a token */
            const char *s = inserts[rnd() % (sizeof inserts / sizeof inserts[0])];
            size_t n = s[0] ? strlen(s) : 1;
            put(b, s, n);                       /* grow, then move into place */
            memmove(b->p + at + n, b->p + at, b->len - n - at);
            memcpy(b->p + at, s, n);
            break;
        }
        case 2:     /* delete a few bytes */
            if (at < b->len) {
                size_t n = 1 + rnd() % 3;
                if (n > b->len - at)
                    n = b->len - at;
                memmove(b->p + at, b->p + at + n, b->len - at - n);
                b->len -= n;
            }
            break;
        case 3:     /* truncate */
            b->len = at;
            break;
        default: {  /* duplicate a span */
            if (at < b->len) {
                size_t n = 1 + rnd() % 8;
                if (n > b->len - at)
                    n = b->len - at;
                char tmp[8];
                memcpy(tmp, b->p + at, n);
                put(b, tmp, n);
                memmove(b->p + at + n, b->p + at, b->len - n - at);
                memcpy(b->p + at, tmp, n);
            }
            break;
        }
        }
    }
}

static void test_random_documents(void **state)
{
    (void)state;
    tally t = {0, 0};
    for (int i = 0; i < 5000; i++) {
        sbuf b = {0};
        gen(&b, 0);
        check(b.p, b.len, &t);
        free(b.p);
    }
    assert_int_equal(t.rejected, 0);
    print_message("random documents: %ld accepted\n", t.accepted);
}

static void test_random_mutations(void **state)
{
    (void)state;
    tally t = {0, 0};
    const long n = 30000;
    for (long i = 0; i < n; i++) {
        sbuf b = {0};
        if (i % 4 == 0) {
            puts_(&b, docs[rnd() % (sizeof docs / sizeof docs[0])]);
        } else {
            gen(&b, 0);
        }
        mutate(&b);
        check(b.p ? b.p : "", b.len, &t);
        free(b.p);
    }
    print_message("mutations: %ld accepted, %ld rejected\n", t.accepted, t.rejected);
    assert_int_equal(t.accepted + t.rejected, n);
    /* both outcomes well represented, or the comparison means little */
    assert_true(t.accepted > n / 10);
    assert_true(t.rejected > n / 10);
}

/* The daemon's path: an event's lazy data parse is an arena tree, cached,
   printed like cJSON's, and freed with the event (ASan checks leaks). */
static void test_event_lazy_parse(void **state)
{
    (void)state;
    const char *doc = "{\"order\":{\"total\":129,\"items\":[{\"sku\":\"A-1\"}]},\"s\":\"\\u20ac\"}";
    ceb_event *ev = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_event_wrap(doc, strlen(doc), "application/json", "t", "/s", NULL,
                                    &ev, &d), 0);
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_BINARY, doc, strlen(doc)), 0);
    const ceb_json *j = ceb_event_data_json(ev);
    assert_non_null(j);
    assert_ptr_equal(j, ceb_event_data_json(ev));
    ceb_buf out = {0};
    assert_int_equal(ceb_json_print(j, &out), 0);
    cJSON *r = cJSON_Parse(doc);
    char *pr = cJSON_PrintUnformatted(r);
    assert_string_equal(out.data, pr);
    cJSON_free(pr);
    cJSON_Delete(r);
    ceb_buf_free(&out);
    assert_int_equal(ceb_json_number(ceb_json_get(ceb_json_get(j, "order"), "total")), 129);
    /* replacing the data drops the arena tree; invalid JSON caches failure */
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_BINARY, "{\"a\":", 5), 0);
    assert_null(ceb_event_data_json(ev));
    assert_null(ceb_event_data_json(ev));
    assert_int_equal(ceb_event_set_data(ev, CEB_DATA_BINARY, "[1] ", 4), 0);
    assert_non_null(ceb_event_data_json(ev));
    ceb_event_unref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handwritten),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_links_and_values),
        cmocka_unit_test(test_many_nodes),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_event_lazy_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
