#ifndef CEB_CESQL_H
#define CEB_CESQL_H

/*
 * CloudEvents SQL (CESQL v1) filter engine: lexer, parser, compiler and
 * evaluator, plus the Subscriptions API filter dialects.
 *
 * A library of its own: it depends on cJSON only, not on the daemon or the
 * SDK. Expressions are compiled once (ceb_cesql_compile) and evaluated many
 * times against events read through a small accessor interface
 * (ceb_cesql_accessor), so the same engine runs on the daemon's event type,
 * on the CLI's JSON events and in the tests.
 *
 * Threads: a compiled ceb_cesql_expr is immutable and may be evaluated from
 * several threads at once. Everything else (results, error structs) belongs
 * to the caller. The library holds no global mutable state.
 *
 * Errors: functions return 0 or a negative code: -EINVAL for invalid
 * arguments and parse errors (== CEB_EINVAL of the SDK), -ENOMEM when an
 * allocation fails (== CEB_ENOMEM). Evaluation errors of the language itself
 * (math, cast, missingAttribute, ...) are not return codes: they are part of
 * the result, as CESQL defines them (a value plus a list of errors).
 *
 * See README.md beside this file for the decisions taken where the spec
 * leaves room, and for the `data.` extension (beyond CESQL v1).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ceb_cesql_expr ceb_cesql_expr; /* opaque, immutable after compile */

typedef enum {
    CEB_CESQL_T_BOOL = 1,
    CEB_CESQL_T_INT,
    CEB_CESQL_T_STRING
} ceb_cesql_type;

/* A CESQL value. For strings, s/len is a borrowed byte range (not
 * necessarily NUL-terminated). Only the member matching `type` is used. */
typedef struct {
    ceb_cesql_type type;
    bool b;
    int32_t i;
    const char *s;
    size_t len;
} ceb_cesql_value;

/* Well-known context attributes, resolved to slots at compile time. */
typedef enum {
    CEB_CESQL_ATTR_EXT = -1,
    CEB_CESQL_ATTR_ID = 0,
    CEB_CESQL_ATTR_SOURCE,
    CEB_CESQL_ATTR_SPECVERSION,
    CEB_CESQL_ATTR_TYPE,
    CEB_CESQL_ATTR_DATACONTENTTYPE,
    CEB_CESQL_ATTR_DATASCHEMA,
    CEB_CESQL_ATTR_SUBJECT,
    CEB_CESQL_ATTR_TIME,
    CEB_CESQL_ATTR__COUNT
} ceb_cesql_attr;

/* How the evaluator reads an event. */
typedef struct ceb_cesql_accessor {
    /* Look an attribute up. slot is a ceb_cesql_attr (CEB_CESQL_ATTR_EXT for
     * extensions); name is always the lower-case attribute name, also
     * NUL-terminated (name[name_len] == '\0'). Returns true and fills *out
     * (strings borrowed from the event, valid during the evaluation) or
     * false when the attribute is absent. Must not be NULL. */
    bool (*attr)(void *event, int slot, const char *name, size_t name_len,
                 ceb_cesql_value *out);
    /* The event's data parsed as JSON, or NULL when the data is absent or
     * not JSON (content type application/json or *+json). Called at most
     * once per evaluation, only when the expression reaches into `data`;
     * the accessor caches the parse on the event. May be NULL (no data). */
    const cJSON *(*data_json)(void *event);
} ceb_cesql_accessor;

/* Compile flags. */
enum {
    CEB_CESQL_STRICT = 1u << 0,  /* plain CESQL v1: disables the data extension */
    CEB_CESQL_NO_FOLD = 1u << 1  /* keep the tree as parsed (no constant folding,
                                    no LIKE specialisation in explain output) */
};

/* Error kinds, spelled as in the TCK by ceb_cesql_error_kind_name(). */
typedef enum {
    CEB_CESQL_ERR_PARSE = 1,          /* "parse" */
    CEB_CESQL_ERR_MATH,               /* "math" */
    CEB_CESQL_ERR_CAST,               /* "cast" */
    CEB_CESQL_ERR_MISSING_ATTRIBUTE,  /* "missingAttribute" */
    CEB_CESQL_ERR_MISSING_FUNCTION,   /* "missingFunction" */
    CEB_CESQL_ERR_FUNCTION_EVALUATION,/* "functionEvaluation" */
    CEB_CESQL_ERR_GENERIC             /* "generic" */
} ceb_cesql_error_kind;

/* One error. For parse errors, column (1-based, in characters) and offset
 * (0-based, in bytes) point at the offending token, length is its length in
 * characters (at least 1); for dialect errors, path is the JSON path of the
 * offending member inside the filter object ("all[1].exact.type"; "" for the
 * object itself). Fields that do not apply are 0 / "". */
typedef struct ceb_cesql_error {
    int kind;             /* ceb_cesql_error_kind */
    char message[160];
    size_t column;
    size_t offset;
    size_t length;
    char path[96];
} ceb_cesql_error;

/* Maximum nesting depth of an expression (parentheses, unary operators,
 * function calls, operator chains). Deeper input is a parse error. */
#define CEB_CESQL_MAX_DEPTH 256
/* Errors kept in a result (the evaluator is fail-fast: one in practice). */
#define CEB_CESQL_MAX_ERRORS 4
/* Bytes of string result kept inside the result struct before the heap. */
#define CEB_CESQL_RESULT_INLINE 256

/* The result of a full evaluation. Fill it with ceb_cesql_eval() and release
 * it with ceb_cesql_result_release(). value.s of a String result points into
 * the result itself (inline buffer or heap block it owns): do not copy the
 * struct by value while using value.s. */
typedef struct ceb_cesql_result {
    ceb_cesql_value value;
    size_t nerrors;                 /* errors raised (may exceed the stored ones) */
    ceb_cesql_error errors[CEB_CESQL_MAX_ERRORS];
    char *heap_;                    /* private */
    char inline_[CEB_CESQL_RESULT_INLINE]; /* private */
} ceb_cesql_result;

/* Name of an error kind as in the TCK ("parse", "missingAttribute", ...);
 * "unknown" for other values. Static string, thread-safe. */
const char *ceb_cesql_error_kind_name(int kind);

/*
 * Compile CESQL text (len bytes, need not be NUL-terminated; valid UTF-8).
 * flags: CEB_CESQL_STRICT, CEB_CESQL_NO_FOLD.
 * On success stores a new expression in *out (free with ceb_cesql_free) and
 * returns 0. On a parse error returns -EINVAL, sets *out to NULL and fills
 * *err (may be NULL) with kind CEB_CESQL_ERR_PARSE, message, column, offset
 * and length. Returns -ENOMEM if an allocation fails. Unknown functions are
 * not parse errors: they raise missingFunction at evaluation, as the spec
 * says. Thread-safe (no shared state).
 */
int ceb_cesql_compile(const char *text, size_t len, unsigned flags,
                      ceb_cesql_expr **out, ceb_cesql_error *err);

/*
 * Compile a Subscriptions API filter object into the same evaluator:
 * {"exact": {"attr": "value", ...}}, {"prefix": {...}}, {"suffix": {...}},
 * {"all": [filter, ...]}, {"any": [filter, ...]}, {"not": filter},
 * {"cesql": "expression"}. One dialect key per object; attribute names must
 * be valid CloudEvents names (a-z0-9); values of exact/prefix/suffix strings.
 * exact/prefix/suffix compare the attribute's canonical string form; an
 * absent attribute does not match and is not an error. all([]) is true,
 * any([]) false. flags apply to embedded cesql expressions.
 * Returns 0 and *out, or -EINVAL with *err (may be NULL) holding the
 * message and the JSON path of the offending member (for an embedded cesql
 * parse error, also its column), or -ENOMEM.
 */
int ceb_cesql_compile_dialect(const cJSON *filter, unsigned flags,
                              ceb_cesql_expr **out, ceb_cesql_error *err);

/* Free a compiled expression. NULL is ignored. */
void ceb_cesql_free(ceb_cesql_expr *expr);

/* Static type of the expression's result, or 0 when it depends on the event
 * (a bare attribute reference). Lets a config loader warn about filters that
 * can never pass (non-Boolean). */
int ceb_cesql_static_type(const ceb_cesql_expr *expr);

/*
 * Full evaluation of expr over event, read through acc. Fills *res with the
 * value and the errors (res->nerrors; the first CEB_CESQL_MAX_ERRORS kept
 * with messages). Evaluation is fail-fast (spec §4.1): on the first error
 * the enclosing operators return the zero value of their type. A String
 * result is copied into res (inline, or a heap block it owns).
 * Always call ceb_cesql_result_release(res) afterwards, even on error.
 * Returns 0 (also when the language raised errors), -EINVAL if an argument
 * is NULL, -ENOMEM if an allocation failed (then a generic error is also
 * recorded and the value is the zero value). Reentrant; expr is read-only.
 */
int ceb_cesql_eval(const ceb_cesql_expr *expr, const ceb_cesql_accessor *acc,
                   void *event, ceb_cesql_result *res);

/* Release what ceb_cesql_eval() allocated for res. Safe to call twice and on
 * a zeroed result. */
void ceb_cesql_result_release(ceb_cesql_result *res);

/*
 * Routing fast path. True iff the evaluation produced the Boolean true and
 * no error (spec §1.2: a non-Boolean result, or any error, does not pass).
 * *nerrors (may be NULL) receives the number of errors raised, so the router
 * can count them. Does no heap allocation unless intermediate strings exceed
 * a 512-byte stack scratch area (e.g. CONCAT of long strings, data. objects).
 * Reentrant; expr is read-only.
 */
bool ceb_cesql_match(const ceb_cesql_expr *expr, const ceb_cesql_accessor *acc,
                     void *event, int *nerrors);

/*
 * Write the compiled tree: first line the expression fully parenthesized
 * (precedence made explicit), then one line per node, indented two spaces
 * per level. Writes at most cap bytes including a terminating NUL (buf may
 * be NULL when cap is 0). Returns the length the full text needs (excluding
 * the NUL), like snprintf, or -EINVAL.
 */
int ceb_cesql_explain(const ceb_cesql_expr *expr, char *buf, size_t cap);

/* Same, to a stdio stream. Returns 0, -EINVAL or -EIO. */
int ceb_cesql_explain_file(const ceb_cesql_expr *expr, FILE *fp);

#ifdef __cplusplus
}
#endif

#endif /* CEB_CESQL_H */
