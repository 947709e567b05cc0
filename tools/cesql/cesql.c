/*
 * cesql: evaluate a CloudEvents SQL expression against an event.
 *
 *   cesql [--event FILE|-] [--strict] EXPRESSION
 *   cesql --explain [--strict] EXPRESSION
 *
 * The event is a structured-mode JSON CloudEvent (JSON numbers are Integer
 * extensions, booleans Boolean); without --event a minimal valid event is
 * used. stdout: line 1 the result as a JSON value (true, -3, "abc"), then
 * one line per error, "error: KIND: message" (KIND as in the TCK).
 * Exit status: 0 no error, 1 evaluation errors, 2 parse error (no result
 * line; the message gives the column and a caret marks the token), 64
 * usage error (bad arguments, unreadable or invalid event).
 * --explain prints the parsed tree with the precedence made explicit.
 * --strict disables the data. extension (plain CESQL v1).
 */
#include "cesql.h"
#include "cesql_json_event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX_OK 0
#define EX_EVAL 1
#define EX_PARSE 2
#define EX_USAGE 64

static const char *const DEFAULT_EVENT =
    "{\"specversion\":\"1.0\",\"id\":\"00000000-0000-4000-8000-000000000000\","
    "\"source\":\"cesql://cli\",\"type\":\"dev.cebridge.cesql.test\"}";

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: cesql [--event FILE|-] [--strict] EXPRESSION\n"
            "       cesql --explain [--strict] EXPRESSION\n"
            "\n"
            "Evaluate a CloudEvents SQL (CESQL v1) expression.\n"
            "  --event FILE  structured-mode JSON CloudEvent ('-': stdin);\n"
            "                default: a minimal valid event\n"
            "  --strict      plain CESQL v1: no data. extension\n"
            "  --explain     print the parsed tree with precedence made explicit\n"
            "\n"
            "Output: the result as JSON, then 'error: KIND: message' lines.\n"
            "Exit: 0 ok, 1 evaluation errors, 2 parse error, 64 usage error.\n");
}

static char *read_all(FILE *fp, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n - 1, fp);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(fp)) {
        free(b);
        return NULL;
    }
    b[n] = '\0';
    *len = n;
    return b;
}

/* Parse error: message with line/column, then the source line and a caret. */
static void print_parse_error(const char *expr, size_t len, const ceb_cesql_error *err)
{
    size_t off = err->offset > len ? len : err->offset;
    size_t ls = off;
    while (ls > 0 && expr[ls - 1] != '\n')
        ls--;
    size_t le = off;
    while (le < len && expr[le] != '\n')
        le++;
    size_t line = 1;
    for (size_t i = 0; i < ls; i++)
        line += expr[i] == '\n';
    /* Column within the line, in characters. */
    size_t col = 1;
    for (size_t i = ls; i < off; i++)
        if (((unsigned char)expr[i] & 0xC0u) != 0x80u)
            col++;
    if (line > 1)
        printf("error: parse: line %zu, column %zu: %s\n", line, col, err->message);
    else
        printf("error: parse: column %zu: %s\n", col, err->message);
    printf("  %.*s\n  ", (int)(le - ls), expr + ls);
    for (size_t i = ls; i < off; i++) {
        unsigned char c = (unsigned char)expr[i];
        if (c == '\t')
            putchar('\t');
        else if ((c & 0xC0u) != 0x80u)
            putchar(' ');
    }
    putchar('^');
    for (size_t i = 1; i < err->length && i < 200; i++)
        putchar('~');
    putchar('\n');
}

static void print_value(const ceb_cesql_value *v)
{
    if (v->type == CEB_CESQL_T_BOOL) {
        puts(v->b ? "true" : "false");
    } else if (v->type == CEB_CESQL_T_INT) {
        printf("%d\n", v->i);
    } else {
        char *s = malloc(v->len + 1);
        cJSON *j = NULL;
        if (s) {
            memcpy(s, v->s, v->len);
            s[v->len] = '\0';
            j = cJSON_CreateString(s);
        }
        char *out = j ? cJSON_PrintUnformatted(j) : NULL;
        puts(out ? out : "\"\"");
        free(out);
        cJSON_Delete(j);
        free(s);
    }
}

int main(int argc, char **argv)
{
    const char *event_path = NULL;
    const char *expr = NULL;
    unsigned flags = 0;
    bool explain = false, dashdash = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
        } else if (!dashdash && strcmp(a, "--event") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "cesql: --event needs a file name (or -)\n");
                return EX_USAGE;
            }
            event_path = argv[i];
        } else if (!dashdash && strncmp(a, "--event=", 8) == 0) {
            event_path = a + 8;
        } else if (!dashdash && strcmp(a, "--strict") == 0) {
            flags |= CEB_CESQL_STRICT;
        } else if (!dashdash && strcmp(a, "--explain") == 0) {
            explain = true;
        } else if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            usage(stdout);
            return EX_OK;
        } else if (!dashdash && a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "cesql: unknown option '%s'\n", a);
            usage(stderr);
            return EX_USAGE;
        } else if (!expr) {
            expr = a;
        } else {
            fprintf(stderr, "cesql: one EXPRESSION expected; quote it as a single argument\n");
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (!expr) {
        fprintf(stderr, "cesql: missing EXPRESSION\n");
        usage(stderr);
        return EX_USAGE;
    }
    if (explain && event_path) {
        fprintf(stderr, "cesql: --explain does not evaluate; drop --event\n");
        return EX_USAGE;
    }

    size_t len = strlen(expr);
    ceb_cesql_expr *x = NULL;
    ceb_cesql_error perr;
    int rc = ceb_cesql_compile(expr, len, flags | (explain ? CEB_CESQL_NO_FOLD : 0), &x, &perr);
    if (rc == -ENOMEM) {
        fprintf(stderr, "cesql: out of memory\n");
        return EX_EVAL;
    }
    if (rc < 0) {
        print_parse_error(expr, len, &perr);
        return EX_PARSE;
    }
    if (explain) {
        rc = ceb_cesql_explain_file(x, stdout);
        ceb_cesql_free(x);
        return rc < 0 ? EX_EVAL : EX_OK;
    }

    char *text = NULL;
    size_t tlen = 0;
    if (event_path) {
        FILE *fp = strcmp(event_path, "-") == 0 ? stdin : fopen(event_path, "rb");
        if (!fp) {
            fprintf(stderr, "cesql: cannot open event file '%s': %s\n", event_path, strerror(errno));
            ceb_cesql_free(x);
            return EX_USAGE;
        }
        text = read_all(fp, &tlen);
        if (fp != stdin)
            fclose(fp);
        if (!text) {
            fprintf(stderr, "cesql: cannot read event file '%s'\n", event_path);
            ceb_cesql_free(x);
            return EX_USAGE;
        }
    }
    const char *src = text ? text : DEFAULT_EVENT;
    cJSON *ev = cJSON_ParseWithLength(src, text ? tlen : strlen(src));
    char msg[200];
    if (!ev) {
        fprintf(stderr, "cesql: %s: not valid JSON\n", event_path ? event_path : "event");
        free(text);
        ceb_cesql_free(x);
        return EX_USAGE;
    }
    if (ceb_cesql_json_event_check(ev, msg, sizeof(msg)) < 0) {
        fprintf(stderr, "cesql: %s: %s\n", event_path, msg);
        cJSON_Delete(ev);
        free(text);
        ceb_cesql_free(x);
        return EX_USAGE;
    }

    ceb_cesql_json_event je;
    ceb_cesql_json_event_init(&je, ev);
    ceb_cesql_result res;
    rc = ceb_cesql_eval(x, &ceb_cesql_json_accessor, &je, &res);
    print_value(&res.value);
    for (size_t i = 0; i < res.nerrors && i < CEB_CESQL_MAX_ERRORS; i++)
        printf("error: %s: %s\n", ceb_cesql_error_kind_name(res.errors[i].kind), res.errors[i].message);
    int status = (rc < 0 || res.nerrors) ? EX_EVAL : EX_OK;
    ceb_cesql_result_release(&res);
    ceb_cesql_json_event_reset(&je);
    cJSON_Delete(ev);
    free(text);
    ceb_cesql_free(x);
    return status;
}
