/*
 * bench_cesql: evaluations per second of typical route filters, one core.
 *
 *   bench_cesql [-n EVALUATIONS]
 *
 * Five filters over an in-memory event read through a minimal accessor
 * (what the router's accessor does: slots for context attributes, a short
 * list for extensions, data parsed lazily once per event):
 *   exact type, LIKE prefix, IN of 10 values, AND/OR of three attribute
 *   tests, and a data. comparison. The data filter is measured twice: with
 *   the event's parse cached (many routes evaluating one event: the JSON is
 *   parsed once per event) and with a fresh event per evaluation (the
 *   parse counted in every evaluation).
 *
 * The data is parsed and freed by the daemon's own functions
 * (ceb__json_arena_parse / ceb__json_arena_free, what ceb_event_data_json
 * and the event's free path call), compiled in from sdk/src/json_arena.c
 * because this program links only the CESQL engine.
 */
#include "cesql.h"

#define CEB_JSON_ARENA_STANDALONE
const cJSON *ceb__json_arena_parse(const char *text, size_t len);
void ceb__json_arena_free(const cJSON *root);
#include "../../sdk/src/json_arena.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *attr[CEB_CESQL_ATTR__COUNT];
    const char *ext_name[4];
    ceb_cesql_value ext[4];
    int next;
    const char *data_text;
    size_t data_len;
    const cJSON *data;
    bool parsed;
} bench_event;

static bool b_attr(void *event, int slot, const char *name, size_t name_len, ceb_cesql_value *out)
{
    bench_event *ev = event;
    if (slot >= 0) {
        const char *s = ev->attr[slot];
        if (!s)
            return false;
        out->type = CEB_CESQL_T_STRING;
        out->s = s;
        out->len = strlen(s);
        return true;
    }
    for (int i = 0; i < ev->next; i++) {
        if (strlen(ev->ext_name[i]) == name_len && memcmp(ev->ext_name[i], name, name_len) == 0) {
            *out = ev->ext[i];
            return true;
        }
    }
    return false;
}

static const cJSON *b_data(void *event)
{
    bench_event *ev = event;
    if (!ev->parsed) {
        ev->parsed = true;
        ev->data = ceb__json_arena_parse(ev->data_text, ev->data_len);
    }
    return ev->data;
}

static const ceb_cesql_accessor acc = { .attr = b_attr, .data_json = b_data };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *label, const char *text, bench_event *ev, long n, bool fresh)
{
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error err;
    if (ceb_cesql_compile(text, strlen(text), 0, &x, &err) < 0) {
        fprintf(stderr, "bench_cesql: %s: %s (column %zu)\n", label, err.message, err.column);
        return -1;
    }
    int nerr = 0;
    bool first = ceb_cesql_match(x, &acc, ev, &nerr);
    long matched = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (fresh && ev->parsed) {
            ceb__json_arena_free(ev->data);
            ev->data = NULL;
            ev->parsed = false;
        }
        matched += ceb_cesql_match(x, &acc, ev, &nerr);
    }
    double dt = now() - t0;
    printf("%-34s %12.0f eval/s  %6.1f ns/eval  (match=%s, errors=%d)\n", label,
           (double)n / dt, dt * 1e9 / (double)n, first ? "true" : "false", nerr);
    if (matched != n)
        printf("  warning: matched %ld of %ld\n", matched, n);
    ceb_cesql_free(x);
    return 0;
}

int main(int argc, char **argv)
{
    long n = 20000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_cesql [-n EVALUATIONS]\n");
            return 64;
        }
    }
    if (n <= 0)
        n = 1;
    bench_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.attr[CEB_CESQL_ATTR_ID] = "7d3c9a4e-1f0b-4c55-9a57-3c2e8f1a0b6d";
    ev.attr[CEB_CESQL_ATTR_SOURCE] = "/shop/orders/eu-west-1";
    ev.attr[CEB_CESQL_ATTR_SPECVERSION] = "1.0";
    ev.attr[CEB_CESQL_ATTR_TYPE] = "com.example.shop.order.created";
    ev.attr[CEB_CESQL_ATTR_SUBJECT] = "eu-order-18830";
    ev.attr[CEB_CESQL_ATTR_DATACONTENTTYPE] = "application/json";
    ev.ext_name[0] = "tenant";
    ev.ext[0] = (ceb_cesql_value){ .type = CEB_CESQL_T_STRING, .s = "acme", .len = 4 };
    ev.ext_name[1] = "priority";
    ev.ext[1] = (ceb_cesql_value){ .type = CEB_CESQL_T_INT, .i = 3 };
    ev.next = 2;
    ev.data_text = "{\"order\":{\"id\":18830,\"total\":129,\"currency\":\"EUR\","
                   "\"items\":[{\"sku\":\"A-1\",\"qty\":2},{\"sku\":\"B-7\",\"qty\":1}]},"
                   "\"customer\":{\"tier\":\"gold\"}}";
    ev.data_len = strlen(ev.data_text);

    printf("bench_cesql: %ld evaluations per filter, one thread\n", n);
    int rc = 0;
    rc |= run("exact type", "type = 'com.example.shop.order.created'", &ev, n, false);
    rc |= run("LIKE prefix", "type LIKE 'com.example.shop.%'", &ev, n, false);
    rc |= run("IN of 10 values",
              "source IN ('/a', '/b', '/c', '/d', '/e', '/f', '/g', "
              "'/shop/orders/eu-west-1', '/h', '/i')", &ev, n, false);
    rc |= run("AND/OR of three attribute tests",
              "type = 'com.example.shop.order.created' AND "
              "(tenant = 'globex' OR subject LIKE 'eu-%')", &ev, n, false);
    rc |= run("data. comparison (parse cached)", "data.order.total > 100", &ev, n, false);
    long nf = n / 10 > 0 ? n / 10 : 1;
    rc |= run("data. comparison (parse per event)", "data.order.total > 100", &ev, nf, true);
    ceb__json_arena_free(ev.data);
    return rc ? 1 : 0;
}
