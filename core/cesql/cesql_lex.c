/*
 * CESQL lexer (CESQLLexer.g4, case-insensitive keywords).
 *
 * - Words are [A-Za-z0-9_]+: all digits is an integer literal, a keyword
 *   (AND OR XOR NOT LIKE EXISTS IN TRUE FALSE, any case) its token, a word
 *   with '_' a function name, anything else an identifier.
 * - A sign is never part of an integer token: the parser folds "-" and "+"
 *   in front of an integer literal, so "4-1" is a subtraction and
 *   "-2147483648" is a valid literal.
 * - String literals: '...' or "...". Inside, \' (resp. \") and a doubled
 *   delimiter stand for the delimiter; any other backslash is kept as is
 *   (so LIKE patterns see \% and \_). Strings must be valid UTF-8.
 */
#include "cesql_internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static bool is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static const struct {
    const char *kw;
    int kind;
} keywords[] = {
    { "AND", CEB__T_AND }, { "OR", CEB__T_OR }, { "XOR", CEB__T_XOR },
    { "NOT", CEB__T_NOT }, { "LIKE", CEB__T_LIKE }, { "EXISTS", CEB__T_EXISTS },
    { "IN", CEB__T_IN }, { "TRUE", CEB__T_TRUE }, { "FALSE", CEB__T_FALSE },
};

size_t ceb_cesql__column(const char *text, size_t len, size_t off)
{
    size_t col = 1, i = 0;
    if (off > len)
        off = len;
    while (i < off) {
        i += ceb_cesql__utf8_step(text + i, len - i);
        col++;
    }
    return col;
}

static int lex_string(ceb_cesql_expr *x, const char *s, size_t len, size_t pos,
                      ceb_cesql__tok *t)
{
    char q = s[pos];
    size_t i = pos + 1;
    for (;;) {
        if (i >= len) {
            t->kind = CEB__T_ERR;
            t->len = len - pos;
            t->errmsg = "unterminated string literal";
            return 0;
        }
        if (s[i] == '\\' && i + 1 < len) {
            i += 2;
        } else if (s[i] == q) {
            if (i + 1 < len && s[i + 1] == q)
                i += 2;
            else
                break;
        } else {
            i++;
        }
    }
    /* s[pos] and s[i] are the delimiters. */
    t->len = i + 1 - pos;
    size_t raw = i - pos - 1;
    if (!ceb_cesql__utf8_valid(s + pos + 1, raw)) {
        t->kind = CEB__T_ERR;
        t->errmsg = "invalid UTF-8 in string literal";
        return 0;
    }
    char *out = ceb_cesql__expr_alloc(x, raw + 1);
    if (!out)
        return -ENOMEM;
    size_t n = 0;
    for (size_t j = pos + 1; j < i; j++) {
        if (s[j] == '\\' && j + 1 < i && s[j + 1] == q) {
            out[n++] = q;
            j++;
        } else if (s[j] == q) { /* doubled delimiter */
            out[n++] = q;
            j++;
        } else if (s[j] == '\\' && j + 1 < i) {
            out[n++] = s[j++];
            out[n++] = s[j];
        } else {
            out[n++] = s[j];
        }
    }
    out[n] = '\0';
    t->kind = CEB__T_STR;
    t->sval = out;
    t->slen = n;
    return 0;
}

int ceb_cesql__lex(ceb_cesql_expr *x, const char *s, size_t len, size_t pos, ceb_cesql__tok *t)
{
    memset(t, 0, sizeof(*t));
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r' || s[pos] == '\n'))
        pos++;
    t->off = pos;
    t->len = 1;
    if (pos >= len) {
        t->kind = CEB__T_EOF;
        t->len = 0;
        return 0;
    }
    unsigned char c = (unsigned char)s[pos];
    char n1 = pos + 1 < len ? s[pos + 1] : '\0';
    switch (c) {
    case '(': t->kind = CEB__T_LP; return 0;
    case ')': t->kind = CEB__T_RP; return 0;
    case ',': t->kind = CEB__T_COMMA; return 0;
    case '.': t->kind = CEB__T_DOT; return 0;
    case '[': t->kind = CEB__T_LBRACK; return 0;
    case ']': t->kind = CEB__T_RBRACK; return 0;
    case '*': t->kind = CEB__T_STAR; return 0;
    case '/': t->kind = CEB__T_SLASH; return 0;
    case '%': t->kind = CEB__T_PCT; return 0;
    case '+': t->kind = CEB__T_PLUS; return 0;
    case '-': t->kind = CEB__T_MINUS; return 0;
    case '=': t->kind = CEB__T_EQ; return 0;
    case '!':
        if (n1 == '=') {
            t->kind = CEB__T_NE;
            t->len = 2;
        } else {
            t->kind = CEB__T_ERR;
            t->errmsg = "unexpected character '!' (did you mean '!='?)";
        }
        return 0;
    case '<':
        if (n1 == '=' || n1 == '>') {
            t->kind = n1 == '=' ? CEB__T_LE : CEB__T_NE;
            t->len = 2;
        } else {
            t->kind = CEB__T_LT;
        }
        return 0;
    case '>':
        if (n1 == '=') {
            t->kind = CEB__T_GE;
            t->len = 2;
        } else {
            t->kind = CEB__T_GT;
        }
        return 0;
    case '\'':
    case '"':
        return lex_string(x, s, len, pos, t);
    default:
        break;
    }
    if (!is_word(c)) {
        t->kind = CEB__T_ERR;
        t->len = ceb_cesql__utf8_step(s + pos, len - pos);
        t->errmsg = "unexpected character";
        return 0;
    }
    size_t e = pos;
    bool digits = true, under = false, has_digit = false;
    while (e < len && is_word((unsigned char)s[e])) {
        if (s[e] < '0' || s[e] > '9')
            digits = false;
        else
            has_digit = true;
        if (s[e] == '_')
            under = true;
        e++;
    }
    t->len = e - pos;
    if (digits) {
        int64_t v = 0;
        for (size_t i = pos; i < e; i++) {
            if (v <= INT64_MAX / 20)
                v = v * 10 + (s[i] - '0');
        }
        t->kind = CEB__T_INT;
        t->ival = v;
        return 0;
    }
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
        if (strlen(keywords[k].kw) == t->len && strncasecmp(keywords[k].kw, s + pos, t->len) == 0) {
            t->kind = keywords[k].kind;
            return 0;
        }
    }
    if (under) {
        if (has_digit || s[pos] == '_') {
            t->kind = CEB__T_ERR;
            t->errmsg = "invalid name (identifiers are letters and digits; "
                        "function names letters and '_')";
            return 0;
        }
        t->kind = CEB__T_FNAME;
        return 0;
    }
    t->kind = CEB__T_IDENT;
    return 0;
}
