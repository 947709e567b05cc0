/*
 * errors.c - names and texts of error codes (errors.h).
 *
 * cebridge's own codes and the errno values of CEB_ERRNO_MAP come from the
 * X-macro table; any other code goes to libuv, which knows every errno it
 * maps. uv_strerror()/uv_err_name() allocate (and leak) a string for a code
 * they do not know, so we ask uv_err_name_r() first and answer "unknown
 * error" ourselves in that case.
 */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include <cebridge/errors.h>

static int uv_knows(int err)
{
    char name[64];
    if (err >= 0)
        return 0;
    uv_err_name_r(err, name, sizeof name);
    return strncmp(name, "Unknown system error", 20) != 0;
}

const char *ceb_strerror(int err)
{
    if (err == 0)
        return "success";
    switch (err) {
#define CEB__ERRNO_TEXT(name, value, text) case (value): return text;
        CEB_ERRNO_MAP(CEB__ERRNO_TEXT)
#undef CEB__ERRNO_TEXT
    default:
        break;
    }
    if (uv_knows(err))
        return uv_strerror(err);
    return "unknown error";
}

const char *ceb_err_name(int err)
{
    switch (err) {
#define CEB__ERRNO_NAME(name, value, text) case (value): return #name;
        CEB_ERRNO_MAP(CEB__ERRNO_NAME)
#undef CEB__ERRNO_NAME
    default:
        break;
    }
    if (uv_knows(err))
        return uv_err_name(err);
    return "UNKNOWN";
}
