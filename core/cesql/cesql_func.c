/*
 * The built-in function table (spec §3.5 and the casting functions):
 * dispatch by name (case-insensitive) and arity. The bodies are in
 * cesql_eval.c, next to the casts they share.
 */
#include "cesql_internal.h"

#include <string.h>
#include <strings.h>

static const ceb_cesql__fn_info fns[] = {
    { "LENGTH",    CEB__FN_LENGTH,    1, 1,  CEB_CESQL_T_INT },
    { "CONCAT",    CEB__FN_CONCAT,    0, -1, CEB_CESQL_T_STRING },
    { "CONCAT_WS", CEB__FN_CONCAT_WS, 1, -1, CEB_CESQL_T_STRING },
    { "LOWER",     CEB__FN_LOWER,     1, 1,  CEB_CESQL_T_STRING },
    { "UPPER",     CEB__FN_UPPER,     1, 1,  CEB_CESQL_T_STRING },
    { "TRIM",      CEB__FN_TRIM,      1, 1,  CEB_CESQL_T_STRING },
    { "LEFT",      CEB__FN_LEFT,      2, 2,  CEB_CESQL_T_STRING },
    { "RIGHT",     CEB__FN_RIGHT,     2, 2,  CEB_CESQL_T_STRING },
    { "SUBSTRING", CEB__FN_SUBSTRING, 2, 3,  CEB_CESQL_T_STRING },
    { "ABS",       CEB__FN_ABS,       1, 1,  CEB_CESQL_T_INT },
    { "INT",       CEB__FN_INT,       1, 1,  CEB_CESQL_T_INT },
    { "BOOL",      CEB__FN_BOOL,      1, 1,  CEB_CESQL_T_BOOL },
    { "STRING",    CEB__FN_STRING,    1, 1,  CEB_CESQL_T_STRING },
    { "IS_BOOL",   CEB__FN_IS_BOOL,   1, 1,  CEB_CESQL_T_BOOL },
    { "IS_INT",    CEB__FN_IS_INT,    1, 1,  CEB_CESQL_T_BOOL },
};

const ceb_cesql__fn_info *ceb_cesql__fn_lookup(const char *name, size_t len, int nargs,
                                   bool *name_known)
{
    *name_known = false;
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (strlen(fns[i].name) != len || strncasecmp(fns[i].name, name, len) != 0)
            continue;
        *name_known = true;
        if (nargs >= fns[i].min_args && (fns[i].max_args < 0 || nargs <= fns[i].max_args))
            return &fns[i];
    }
    return NULL;
}

const ceb_cesql__fn_info *ceb_cesql__fn_by_id(int fn)
{
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        if (fns[i].fn == fn)
            return &fns[i];
    return NULL;
}
