#ifndef CEBRIDGE_OPTIONS_H
#define CEBRIDGE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "json.h"

/*
 * Options are declared, not parsed by hand (DESIGN §3). A plugin role gives
 * a CEB_OPTION_END-terminated table; the core validates each drop-in against
 * it, fills the role's config struct (`config_size` bytes, zeroed, then
 * defaults, then the user's values) and only then calls create(). The same
 * table renders `cebridge --describe PLUGIN` and the README's options table.
 *
 * Dotted names ("wrap.type", "auth.bearer") are paths into nested JSON
 * objects: { "wrap": { "type": "..." } }.
 *
 * Ownership: every value placed in the config struct (strings, lists,
 * templates, secrets, JSON) belongs to the core and stays valid from
 * create() until destroy() returns. Copy what you need longer.
 */
typedef enum ceb_opt_type {
    CEB_OPT_STRING = 1, /* "..."                          -> const char *          */
    CEB_OPT_INT,        /* 42                             -> int64_t               */
    CEB_OPT_BOOL,       /* true / false                   -> bool                  */
    CEB_OPT_DURATION,   /* "250ms" "30s" "5m" "1h" or ms  -> int64_t milliseconds  */
    CEB_OPT_SIZE,       /* "64KiB" "1MiB" "1MB" or bytes  -> uint64_t bytes        */
    CEB_OPT_ENUM,       /* one of `choices`               -> int (index)           */
    CEB_OPT_LIST,       /* ["a","b"] (a lone "a" too)     -> ceb_strlist           */
    CEB_OPT_OBJECT,     /* {...} passed through           -> const ceb_json *      */
    CEB_OPT_TEMPLATE,   /* "ci.{type}"                    -> const ceb_template *  */
    CEB_OPT_SECRET      /* "lit", "${env:N}", "${file:P}" -> const ceb_secret *    */
} ceb_opt_type;

enum {
    CEB_OPT_REQUIRED   = 1u << 0,
    CEB_OPT_DEPRECATED = 1u << 1  /* accepted with a warning naming `replacement` */
};

typedef struct ceb_option {
    const char *name;          /* JSON key, lower_snake_case; dots = nesting        */
    ceb_opt_type type;
    const char *default_json;  /* JSON text parsed like user input; NULL = none     */
    unsigned flags;
    size_t offset;             /* offsetof(config struct, field)                    */
    int64_t min, max;          /* int/duration/size bounds; both 0 = unbounded      */
    const char *const *choices;/* enum: NULL-terminated                             */
    const char *replacement;   /* for CEB_OPT_DEPRECATED                            */
    const char *help;          /* one line, for --describe and the README           */
} ceb_option;

typedef struct ceb_strlist {
    const char *const *v;
    size_t n;
} ceb_strlist;

typedef struct ceb_template ceb_template;
typedef struct ceb_secret ceb_secret;

/*
 * A secret's value: literal text, ${env:NAME} or ${file:PATH} resolved at
 * validation. Never logged; --describe prints <secret>. Borrowed, valid
 * like any option value. Named so that every read is easy to find in review.
 */
const char *ceb_secret_reveal(const ceb_secret *s, size_t *len);

#define CEB_OPTION_END { .name = NULL }

/* Compile-time check that the field has the C type the option type fills. */
#define CEB__FIELD_IS(T, f, ctype) \
    (0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((T *)0)->f), ctype) ? 1 : -1]))

#define CEB__OPT(name_, type_, def_, flags_, T, f, ctype, help_)                   \
    .name = name_, .type = type_, .default_json = def_, .flags = flags_,             \
    .offset = offsetof(T, f) + CEB__FIELD_IS(T, f, ctype), .help = help_

#define CEB_OPT_STRING_FIELD(name, def, flags, T, f, help) \
    { CEB__OPT(name, CEB_OPT_STRING, def, flags, T, f, const char *, help) }
#define CEB_OPT_INT_FIELD(name, def, flags, T, f, min_, max_, help) \
    { CEB__OPT(name, CEB_OPT_INT, def, flags, T, f, int64_t, help), .min = min_, .max = max_ }
#define CEB_OPT_BOOL_FIELD(name, def, flags, T, f, help) \
    { CEB__OPT(name, CEB_OPT_BOOL, def, flags, T, f, bool, help) }
#define CEB_OPT_DURATION_FIELD(name, def, flags, T, f, min_, max_, help) \
    { CEB__OPT(name, CEB_OPT_DURATION, def, flags, T, f, int64_t, help), .min = min_, .max = max_ }
#define CEB_OPT_SIZE_FIELD(name, def, flags, T, f, min_, max_, help) \
    { CEB__OPT(name, CEB_OPT_SIZE, def, flags, T, f, uint64_t, help), .min = min_, .max = max_ }
#define CEB_OPT_ENUM_FIELD(name, def, flags, T, f, choices_, help) \
    { CEB__OPT(name, CEB_OPT_ENUM, def, flags, T, f, int, help), .choices = choices_ }
#define CEB_OPT_LIST_FIELD(name, def, flags, T, f, help) \
    { CEB__OPT(name, CEB_OPT_LIST, def, flags, T, f, ceb_strlist, help) }
#define CEB_OPT_OBJECT_FIELD(name, def, flags, T, f, help) \
    { CEB__OPT(name, CEB_OPT_OBJECT, def, flags, T, f, const ceb_json *, help) }
#define CEB_OPT_TEMPLATE_FIELD(name, def, flags, T, f, help) \
    { CEB__OPT(name, CEB_OPT_TEMPLATE, def, flags, T, f, const ceb_template *, help) }
#define CEB_OPT_SECRET_FIELD(name, def, flags, T, f, help) \
    { CEB__OPT(name, CEB_OPT_SECRET, def, flags, T, f, const ceb_secret *, help) }

/*
 * Parsers shared by the core's validator and by plugins reading values of
 * their own (e.g. inside an object option). Each returns 0 or CEB_EINVAL.
 */
int ceb_parse_duration_ms(const char *text, int64_t *out_ms); /* "250ms" "30s" "5m" "1h" "1h30m" */
int ceb_parse_size(const char *text, uint64_t *out_bytes);    /* "1MiB" "64KiB" "1MB" "512B" "100" */
const char *ceb_opt_type_name(ceb_opt_type t);                  /* "duration", ... */

#endif
