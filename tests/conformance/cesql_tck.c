/*
 * CESQL TCK conformance runner: runs every *.yaml file of the CloudEvents
 * SQL TCK (directory given as argv[1]) through core/cesql and prints
 * "N passed, N failed". Exits 1 on any failure, 0 otherwise; when the
 * directory is absent it says so and exits 0 (a plain clone still passes).
 *
 * YAML typing (libyaml gives untyped scalars): a quoted scalar is a String;
 * a plain true/false (any case) a Boolean; a plain integer an Integer;
 * anything else (e.g. time: 2018-04-26T14:48:09+02:00) the exact String.
 *
 * Known divergence, counted as the spec says: not_operator.yaml "Invalid
 * int cast" expects `NOT 10` to be true with a cast error, but spec §3.7
 * defines Integer -> Boolean as "false if 0, true otherwise" with no error,
 * so NOT 10 is false without error; the runner checks that instead.
 */
#include "cesql.h"
#include "cesql_json_event.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

typedef struct {
    const char *file;
    const char *test;
    const char *why;
    ceb_cesql_value result;
    const char *error; /* NULL: none */
} divergence;

static const divergence divergences[] = {
    { "not_operator.yaml", "Invalid int cast",
      "spec 3.7: Integer -> Boolean is false for 0 and true otherwise, without error",
      { .type = CEB_CESQL_T_BOOL, .b = false }, NULL },
};

static int passed, failed;

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool plain(yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_int_text(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* YAML scalar -> typed JSON value (see the typing rule above). */
static cJSON *typed_json(yaml_node_t *n)
{
    const char *s = scalar(n);
    if (!s)
        return NULL;
    if (plain(n)) {
        if (strcasecmp(s, "true") == 0)
            return cJSON_CreateTrue();
        if (strcasecmp(s, "false") == 0)
            return cJSON_CreateFalse();
        if (is_int_text(s))
            return cJSON_CreateNumber((double)strtoll(s, NULL, 10));
        if (strcmp(s, "~") == 0 || strcmp(s, "null") == 0)
            return cJSON_CreateNull();
    }
    return cJSON_CreateString(s);
}

static bool typed_value(yaml_node_t *n, ceb_cesql_value *v, char *buf, size_t cap)
{
    const char *s = scalar(n);
    if (!s)
        return false;
    memset(v, 0, sizeof(*v));
    if (plain(n) && (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0)) {
        v->type = CEB_CESQL_T_BOOL;
        v->b = strcasecmp(s, "true") == 0;
    } else if (plain(n) && is_int_text(s)) {
        v->type = CEB_CESQL_T_INT;
        v->i = (int32_t)strtol(s, NULL, 10);
    } else {
        snprintf(buf, cap, "%s", s);
        v->type = CEB_CESQL_T_STRING;
        v->s = buf;
        v->len = strlen(buf);
    }
    return true;
}

static yaml_node_t *get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(yaml_document_get_node(d, p->key));
        if (k && strcmp(k, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static void merge_mapping(yaml_document_t *d, yaml_node_t *map, cJSON *obj)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(yaml_document_get_node(d, p->key));
        cJSON *v = typed_json(yaml_document_get_node(d, p->value));
        if (!k || !v) {
            cJSON_Delete(v);
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
        cJSON_AddItemToObject(obj, k, v);
    }
}

static void show_value(const ceb_cesql_value *v, char *buf, size_t cap)
{
    if (v->type == CEB_CESQL_T_BOOL)
        snprintf(buf, cap, "Boolean %s", v->b ? "true" : "false");
    else if (v->type == CEB_CESQL_T_INT)
        snprintf(buf, cap, "Integer %d", v->i);
    else
        snprintf(buf, cap, "String \"%.*s\"", (int)v->len, v->s);
}

static bool same(const ceb_cesql_value *a, const ceb_cesql_value *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == CEB_CESQL_T_BOOL)
        return a->b == b->b;
    if (a->type == CEB_CESQL_T_INT)
        return a->i == b->i;
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static void run_test(const char *file, yaml_document_t *d, yaml_node_t *t)
{
    const char *name = scalar(get(d, t, "name"));
    const char *expr = scalar(get(d, t, "expression"));
    yaml_node_t *rn = get(d, t, "result");
    const char *want_err = scalar(get(d, t, "error"));
    char rbuf[512];
    ceb_cesql_value want;
    bool have_result = rn && typed_value(rn, &want, rbuf, sizeof(rbuf));
    const divergence *dv = NULL;
    for (size_t i = 0; i < sizeof(divergences) / sizeof(divergences[0]); i++)
        if (name && strcmp(divergences[i].file, file) == 0 && strcmp(divergences[i].test, name) == 0)
            dv = &divergences[i];
    if (dv) {
        want = dv->result;
        have_result = true;
        want_err = dv->error;
        printf("note: %s: %s: known divergence from the TCK (%s)\n", file, name, dv->why);
    }
    if (!expr) {
        printf("FAIL %s: %s: no expression\n", file, name ? name : "?");
        failed++;
        return;
    }

    cJSON *ev = cJSON_CreateObject();
    yaml_node_t *en = get(d, t, "event");
    if (en) {
        merge_mapping(d, en, ev);
    } else {
        cJSON_AddStringToObject(ev, "specversion", "1.0");
        cJSON_AddStringToObject(ev, "id", "tck-id");
        cJSON_AddStringToObject(ev, "source", "tck://source");
        cJSON_AddStringToObject(ev, "type", "tck.type");
    }
    merge_mapping(d, get(d, t, "eventOverrides"), ev);

    char why[800] = "";
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error perr;
    int rc = ceb_cesql_compile(expr, strlen(expr), CEB_CESQL_STRICT, &x, &perr);
    if (rc < 0) {
        ceb_cesql_value got = { .type = CEB_CESQL_T_BOOL, .b = false };
        if (!want_err || strcmp(want_err, "parse") != 0)
            snprintf(why, sizeof(why), "unexpected parse error at column %zu: %s", perr.column, perr.message);
        else if (have_result && !same(&got, &want))
            snprintf(why, sizeof(why), "parse error, but a non-false result is expected");
    } else {
        ceb_cesql_json_event je;
        ceb_cesql_json_event_init(&je, ev);
        ceb_cesql_result res;
        rc = ceb_cesql_eval(x, &ceb_cesql_json_accessor, &je, &res);
        char g[300], w[300];
        show_value(&res.value, g, sizeof(g));
        if (rc < 0) {
            snprintf(why, sizeof(why), "eval returned %d", rc);
        } else if (want_err && strcmp(want_err, "parse") == 0) {
            snprintf(why, sizeof(why), "expected a parse error, got %s", g);
        } else if (want_err && (res.nerrors == 0 ||
                                strcmp(ceb_cesql_error_kind_name(res.errors[0].kind), want_err) != 0)) {
            snprintf(why, sizeof(why), "expected error %s, got %s%s%s", want_err,
                     res.nerrors ? ceb_cesql_error_kind_name(res.errors[0].kind) : "none",
                     res.nerrors ? ": " : "", res.nerrors ? res.errors[0].message : "");
        } else if (!want_err && res.nerrors) {
            snprintf(why, sizeof(why), "unexpected error %s: %s",
                     ceb_cesql_error_kind_name(res.errors[0].kind), res.errors[0].message);
        } else if (have_result && !same(&res.value, &want)) {
            show_value(&want, w, sizeof(w));
            snprintf(why, sizeof(why), "expected %s, got %s", w, g);
        }
        ceb_cesql_result_release(&res);
        ceb_cesql_json_event_reset(&je);
        ceb_cesql_free(x);
    }
    cJSON_Delete(ev);
    if (why[0]) {
        printf("FAIL %s: %s: %s\n    expression: %s\n", file, name ? name : "?", why, expr);
        failed++;
    } else {
        passed++;
    }
}

static int run_file(const char *dir, const char *file)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("FAIL %s: cannot open\n", path);
        failed++;
        return -1;
    }
    yaml_parser_t p;
    yaml_document_t d;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, fp);
    if (!yaml_parser_load(&p, &d)) {
        printf("FAIL %s: YAML error: %s (line %zu)\n", path, p.problem ? p.problem : "?",
               p.problem_mark.line + 1);
        failed++;
        yaml_parser_delete(&p);
        fclose(fp);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d);
    yaml_node_t *tests = get(&d, root, "tests");
    if (!tests || tests->type != YAML_SEQUENCE_NODE) {
        printf("FAIL %s: no tests list\n", path);
        failed++;
    } else {
        for (yaml_node_item_t *it = tests->data.sequence.items.start; it < tests->data.sequence.items.top; it++)
            run_test(file, &d, yaml_document_get_node(&d, *it));
    }
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    fclose(fp);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TCK-DIRECTORY\n", argv[0]);
        return 64;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        printf("skipped: CESQL TCK directory %s not found\n", argv[1]);
        return 0;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < 256) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof(names[0]), cmp);
    for (size_t i = 0; i < n; i++) {
        run_file(argv[1], names[i]);
        free(names[i]);
    }
    printf("%d passed, %d failed (%zu files)\n", passed, failed, n);
    return failed ? 1 : 0;
}
