#ifndef CEB_CESQL_INTERNAL_H
#define CEB_CESQL_INTERNAL_H

/*
 * Internals shared by the modules of the CESQL library (not installed, not
 * for other components). The compiled form is a flat array of nodes that
 * refer to each other by index; strings live in an arena of blocks that
 * never move, so node values can point into it.
 */

#include "cesql.h"

#include <stdarg.h>

/* ---- node operators ---------------------------------------------------- */
typedef enum {
    CEB__OP_CONST = 1,  /* v */
    CEB__OP_ATTR,       /* slot, name */
    CEB__OP_DATA,       /* data path: path_first, path_count */
    CEB__OP_EXISTS,     /* slot, name */
    CEB__OP_EXISTS_DATA,/* data path */
    CEB__OP_NOT,        /* a */
    CEB__OP_NEG,        /* a */
    CEB__OP_LIKE,       /* a, like = pattern; neg */
    CEB__OP_IN,         /* a, list first/count = set; neg */
    CEB__OP_MUL, CEB__OP_DIV, CEB__OP_MOD, CEB__OP_ADD, CEB__OP_SUB, /* a, b */
    CEB__OP_EQ, CEB__OP_NE, CEB__OP_LT, CEB__OP_LE, CEB__OP_GT, CEB__OP_GE,
    CEB__OP_AND, CEB__OP_OR, CEB__OP_XOR, /* list (n-ary, left to right) */
    CEB__OP_CALL,       /* fn, list */
    CEB__OP_NOFN,       /* name, list: missing function (raised at evaluation) */
    CEB__OP_D_EXACT, CEB__OP_D_PREFIX, CEB__OP_D_SUFFIX /* slot, name, v (string) */
} ceb_cesql__op;

/* Built-in functions. */
typedef enum {
    CEB__FN_LENGTH = 1, CEB__FN_CONCAT, CEB__FN_CONCAT_WS, CEB__FN_LOWER,
    CEB__FN_UPPER, CEB__FN_TRIM, CEB__FN_LEFT, CEB__FN_RIGHT, CEB__FN_SUBSTRING,
    CEB__FN_ABS, CEB__FN_INT, CEB__FN_BOOL, CEB__FN_STRING, CEB__FN_IS_BOOL,
    CEB__FN_IS_INT
} ceb_cesql__fn;

/* Pre-analysed LIKE pattern. */
typedef enum {
    CEB__LIKE_EXACT = 1, /* no wildcard: lit equals */
    CEB__LIKE_PREFIX,    /* lit% */
    CEB__LIKE_SUFFIX,    /* %lit */
    CEB__LIKE_CONTAINS,  /* %lit% */
    CEB__LIKE_ANY,       /* % (or %%...) */
    CEB__LIKE_GENERAL    /* codes[] */
} ceb_cesql__like_kind;

enum { CEB__LC_ONE = 256, CEB__LC_ANY = 257 };

typedef struct {
    int kind;              /* ceb_cesql__like_kind */
    const char *lit;       /* unescaped literal (EXACT/PREFIX/SUFFIX/CONTAINS) */
    size_t lit_len;
    const uint16_t *codes; /* GENERAL: bytes 0..255, CEB__LC_ONE, CEB__LC_ANY */
    size_t ncodes;
    const char *src;       /* pattern as written (unescaped literal value) */
    size_t src_len;
} ceb_cesql__like;

/* One step of a data path (at most CEB__MAX_PATH steps). */
#define CEB__MAX_PATH 64
typedef struct {
    bool is_index;
    int32_t index;
    const char *key;       /* NUL-terminated */
    size_t key_len;
} ceb_cesql__seg;

typedef struct {
    uint8_t op;     /* ceb_cesql__op */
    uint8_t type;   /* static result type (ceb_cesql_type) or 0: dynamic */
    uint8_t neg;    /* NOT LIKE / NOT IN */
    uint8_t fn;     /* ceb_cesql__fn */
    int32_t a, b;   /* children */
    int32_t first;  /* list (children, set, path) start index */
    int32_t count;
    int32_t slot;   /* attribute slot */
    int32_t like;   /* index into likes */
    const char *name; /* attribute / function name (NUL-terminated) */
    size_t name_len;
    ceb_cesql_value v;
    uint32_t off, len; /* source range (bytes) */
    uint16_t depth;
} ceb_cesql__node;

/* Arena of stable blocks. */
typedef struct ceb_cesql__block {
    struct ceb_cesql__block *next;
    size_t used, cap;
    char data[];
} ceb_cesql__block;

struct ceb_cesql_expr {
    ceb_cesql__node *nodes;
    int32_t nnodes, cap_nodes;
    int32_t *list;           /* child lists */
    int32_t nlist, cap_list;
    ceb_cesql__like *likes;
    int32_t nlikes, cap_likes;
    ceb_cesql__seg *segs;
    int32_t nsegs, cap_segs;
    ceb_cesql__block *blocks;      /* strings, like codes */
    int32_t root;
    unsigned flags;
    bool uses_data;
    char *text;              /* source text (NUL-terminated copy) */
    size_t text_len;
};

/* ---- builder (cesql_expr.c) ------------------------------------------- */
ceb_cesql_expr *ceb_cesql__expr_new(unsigned flags);
void *ceb_cesql__expr_alloc(ceb_cesql_expr *x, size_t n);           /* NULL: ENOMEM */
const char *ceb_cesql__expr_strdup(ceb_cesql_expr *x, const char *s, size_t n);
int32_t ceb_cesql__expr_node(ceb_cesql_expr *x, const ceb_cesql__node *n); /* -1: ENOMEM */
int32_t ceb_cesql__expr_list(ceb_cesql_expr *x, const int32_t *items, int32_t n); /* first or -1 */
int32_t ceb_cesql__expr_like(ceb_cesql_expr *x, const ceb_cesql__like *l);
int32_t ceb_cesql__expr_segs(ceb_cesql_expr *x, const ceb_cesql__seg *s, int32_t n);
int ceb_cesql__attr_slot(const char *lname, size_t len);
const char *ceb_cesql__attr_name(int slot);
int ceb_cesql__like_compile(ceb_cesql_expr *x, const char *pat, size_t len, ceb_cesql__like *out);
bool ceb_cesql__like_match(const ceb_cesql__like *l, const char *s, size_t len);
/* Fold node idx if all its operands are constants. 0 or -ENOMEM. */
int ceb_cesql__fold(ceb_cesql_expr *x, int32_t idx);
void ceb_cesql__set_error(ceb_cesql_error *err, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- lexer (cesql_lex.c) ---------------------------------------------- */
typedef enum {
    CEB__T_EOF = 1, CEB__T_ERR, CEB__T_INT, CEB__T_STR, CEB__T_IDENT, CEB__T_FNAME,
    CEB__T_AND, CEB__T_OR, CEB__T_XOR, CEB__T_NOT, CEB__T_LIKE, CEB__T_EXISTS,
    CEB__T_IN, CEB__T_TRUE, CEB__T_FALSE,
    CEB__T_LP, CEB__T_RP, CEB__T_COMMA, CEB__T_DOT, CEB__T_LBRACK, CEB__T_RBRACK,
    CEB__T_STAR, CEB__T_SLASH, CEB__T_PCT, CEB__T_PLUS, CEB__T_MINUS,
    CEB__T_EQ, CEB__T_NE, CEB__T_LT, CEB__T_LE, CEB__T_GT, CEB__T_GE
} ceb_cesql__tok_kind;

typedef struct {
    int kind;            /* ceb_cesql__tok_kind */
    size_t off, len;     /* bytes in the source text */
    int64_t ival;        /* CEB__T_INT: value, saturated at INT64 range */
    const char *sval;    /* CEB__T_STR: decoded value (in the expr arena) */
    size_t slen;
    const char *errmsg;  /* CEB__T_ERR: what is wrong (static) */
} ceb_cesql__tok;

/* Lex the token starting at or after pos. Strings are decoded into x's
 * arena (-ENOMEM on failure); lexical errors give CEB__T_ERR. */
int ceb_cesql__lex(ceb_cesql_expr *x, const char *text, size_t len, size_t pos,
             ceb_cesql__tok *t);
/* 1-based column (in characters) of byte offset off. */
size_t ceb_cesql__column(const char *text, size_t len, size_t off);

/* ---- parser (cesql_parse.c) ------------------------------------------- */
/* Parse text into x (nodes appended, root returned in *root). */
int ceb_cesql__parse(ceb_cesql_expr *x, const char *text, size_t len, int32_t *root,
               ceb_cesql_error *err);

/* ---- functions (cesql_func.c) ------------------------------------------ */
typedef struct {
    const char *name;
    int fn;                  /* ceb_cesql__fn */
    int min_args, max_args;  /* max -1: variadic */
    int ret;                 /* ceb_cesql_type */
} ceb_cesql__fn_info;
const ceb_cesql__fn_info *ceb_cesql__fn_lookup(const char *uname, size_t len, int nargs,
                                   bool *name_known);
const ceb_cesql__fn_info *ceb_cesql__fn_by_id(int fn);

/* ---- UTF-8 helpers (cesql_utf8.c) -------------------------------------- */
/* Decode one code point at s (n > 0 bytes left). Returns its length (1..4)
 * and *cp, or 0 when invalid (then *cp = 0xFFFD). */
size_t ceb_cesql__utf8_decode(const char *s, size_t n, uint32_t *cp);
size_t ceb_cesql__utf8_encode(uint32_t cp, char *out);
bool ceb_cesql__utf8_valid(const char *s, size_t n);
/* Code point count, or -1 when invalid. */
long ceb_cesql__utf8_count(const char *s, size_t n);
/* Byte offset of code point k (0-based, k <= count). */
size_t ceb_cesql__utf8_offset(const char *s, size_t n, size_t k);
bool ceb_cesql__uni_space(uint32_t cp);
uint32_t ceb_cesql__uni_lower(uint32_t cp);
uint32_t ceb_cesql__uni_upper(uint32_t cp);
/* Length of the code point at s for LIKE '_' (1 for an invalid byte). */
size_t ceb_cesql__utf8_step(const char *s, size_t n);

/* ---- explain (cesql_explain.c) ---------------------------------------- */
/* The data path of node n as text ("data.a[0]"), snprintf-like. */
int ceb_cesql__data_path_text(const ceb_cesql_expr *x, const ceb_cesql__node *n, char *buf, size_t cap);

/* ---- evaluator (cesql_eval.c) ------------------------------------------ */
/* Evaluate a constant subtree without an event; false if it raised an error.
 * String results are copied into x's arena. */
int ceb_cesql__eval_const(ceb_cesql_expr *x, int32_t idx, ceb_cesql_value *out,
                    bool *ok);

#endif /* CEB_CESQL_INTERNAL_H */
