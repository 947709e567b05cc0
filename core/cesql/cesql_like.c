/*
 * LIKE patterns: analysed once at compile time into exact / prefix / suffix
 * / contains / match-all forms (a memcmp or memmem at run time), or a code
 * array for the general matcher.
 *
 * Escapes (spec §3.4.3): "\%" and "\_" match '%' and '_' literally; a
 * backslash before any other character is an ordinary character. '_'
 * matches one character (a UTF-8 code point; an invalid byte counts as one
 * character), '%' any run of characters. The general matcher is iterative
 * (greedy with backtracking to the last '%'): O(n*m) worst case, no
 * recursion, no allocation.
 */
#include "cesql_internal.h"

#include <errno.h>
#include <string.h>

int ceb_cesql__like_compile(ceb_cesql_expr *x, const char *pat, size_t len, ceb_cesql__like *out)
{
    memset(out, 0, sizeof(*out));
    uint16_t *codes = ceb_cesql__expr_alloc(x, (len + 1) * sizeof(uint16_t));
    if (!codes)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pat[i];
        if (c == '\\' && i + 1 < len && (pat[i + 1] == '%' || pat[i + 1] == '_')) {
            codes[n++] = (unsigned char)pat[++i];
        } else if (c == '%') {
            if (n == 0 || codes[n - 1] != CEB__LC_ANY) /* %% == % */
                codes[n++] = CEB__LC_ANY;
        } else if (c == '_') {
            codes[n++] = CEB__LC_ONE;
        } else {
            codes[n++] = c;
        }
    }
    out->codes = codes;
    out->ncodes = n;
    out->src = ceb_cesql__expr_strdup(x, pat, len);
    if (!out->src)
        return -ENOMEM;
    out->src_len = len;

    /* Classify: wildcards only at the ends, no '_' at all. */
    size_t lo = 0, hi = n;
    bool lead = n > 0 && codes[0] == CEB__LC_ANY;
    if (lead)
        lo = 1;
    bool trail = hi > lo && codes[hi - 1] == CEB__LC_ANY;
    if (trail)
        hi--;
    bool plain = true;
    for (size_t i = lo; i < hi; i++)
        if (codes[i] >= 256)
            plain = false;
    if (!plain) {
        out->kind = CEB__LIKE_GENERAL;
        return 0;
    }
    char *lit = ceb_cesql__expr_alloc(x, hi - lo + 1);
    if (!lit)
        return -ENOMEM;
    for (size_t i = lo; i < hi; i++)
        lit[i - lo] = (char)codes[i];
    lit[hi - lo] = '\0';
    out->lit = lit;
    out->lit_len = hi - lo;
    if (lead && (trail || hi == lo))
        out->kind = out->lit_len ? CEB__LIKE_CONTAINS : CEB__LIKE_ANY;
    else if (lead)
        out->kind = CEB__LIKE_SUFFIX;
    else if (trail)
        out->kind = CEB__LIKE_PREFIX;
    else
        out->kind = CEB__LIKE_EXACT;
    return 0;
}

static bool general(const uint16_t *p, size_t np, const char *s, size_t ns)
{
    size_t si = 0, pi = 0;
    size_t star_p = (size_t)-1, star_s = 0;
    while (si < ns) {
        if (pi < np && p[pi] == CEB__LC_ANY) {
            star_p = pi++;
            star_s = si;
            continue;
        }
        if (pi < np && p[pi] == CEB__LC_ONE) {
            si += ceb_cesql__utf8_step(s + si, ns - si);
            pi++;
            continue;
        }
        if (pi < np && p[pi] == (unsigned char)s[si]) {
            si++;
            pi++;
            continue;
        }
        if (star_p == (size_t)-1)
            return false;
        /* Let the last '%' swallow one more character and retry. */
        star_s += ceb_cesql__utf8_step(s + star_s, ns - star_s);
        si = star_s;
        pi = star_p + 1;
    }
    while (pi < np && p[pi] == CEB__LC_ANY)
        pi++;
    return pi == np;
}

bool ceb_cesql__like_match(const ceb_cesql__like *l, const char *s, size_t n)
{
    switch (l->kind) {
    case CEB__LIKE_EXACT:
        return n == l->lit_len && (n == 0 || memcmp(s, l->lit, n) == 0);
    case CEB__LIKE_PREFIX:
        return n >= l->lit_len && memcmp(s, l->lit, l->lit_len) == 0;
    case CEB__LIKE_SUFFIX:
        return n >= l->lit_len && memcmp(s + n - l->lit_len, l->lit, l->lit_len) == 0;
    case CEB__LIKE_CONTAINS:
        return n >= l->lit_len && memmem(s, n, l->lit, l->lit_len) != NULL;
    case CEB__LIKE_ANY:
        return true;
    default:
        return general(l->codes, l->ncodes, s, n);
    }
}
