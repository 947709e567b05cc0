#ifndef CEBRIDGE_ERRORS_H
#define CEBRIDGE_ERRORS_H

#include <errno.h>

/*
 * Error codes. Every cebridge function returns 0 on success or a negative
 * CEB_E* code (libuv style); a positive value only where a count is
 * documented. System errors are -errno, the same numbers libuv uses, so a
 * libuv error passes through unchanged and ceb_strerror() names it.
 * cebridge's own codes start at -10001, away from errno and libuv's range.
 */
#define CEB_ERRNO_MAP(XX)                                                     \
    XX(ENOMEM,     -ENOMEM,     "out of memory")                              \
    XX(EINVAL,     -EINVAL,     "invalid argument")                           \
    XX(ENOENT,     -ENOENT,     "no such file, attribute or entry")           \
    XX(EEXIST,     -EEXIST,     "already exists")                             \
    XX(EAGAIN,     -EAGAIN,     "resource temporarily unavailable")           \
    XX(EIO,        -EIO,        "i/o error")                                  \
    XX(EPERM,      -EPERM,      "operation not permitted")                    \
    XX(ERANGE,     -ERANGE,     "value out of range")                         \
    XX(E2BIG,      -E2BIG,      "too large")                                  \
    XX(ECANCELED,  -ECANCELED,  "operation canceled")                         \
    XX(ETIMEDOUT,  -ETIMEDOUT,  "operation timed out")                        \
    XX(ESHUTDOWN,  -ESHUTDOWN,  "instance is stopping")                       \
    XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                     \
    XX(ENOTSUP,    -ENOTSUP,    "operation not supported")                    \
    XX(ECONFIG,    -10001,      "invalid configuration")                      \
    XX(EABI,       -10002,      "plugin ABI mismatch")                        \
    XX(EIMMUTABLE, -10003,      "event is immutable once emitted")            \
    XX(ETEMPLATE,  -10004,      "template error")                             \
    XX(ECESQL,     -10005,      "CESQL error")                                \
    XX(ESPEC,      -10006,      "not a valid CloudEvent")                     \
    XX(EDECODE,    -10007,      "cannot decode payload")                      \
    XX(EPLUGIN,    -10008,      "plugin error")

typedef enum ceb_errno {
#define CEB__ERRNO_ENUM(name, value, text) CEB_##name = (value),
    CEB_ERRNO_MAP(CEB__ERRNO_ENUM)
#undef CEB__ERRNO_ENUM
    CEB_ERRNO_MAX_ = -10009
} ceb_errno;

/*
 * Text for an error code: cebridge's own, then errno's (through libuv's
 * uv_strerror for codes it knows). Never NULL; static storage.
 * Thread: any.
 */
const char *ceb_strerror(int err);

/* The symbolic name, e.g. "ECONFIG", "ENOMEM"; "UNKNOWN" otherwise. Thread: any. */
const char *ceb_err_name(int err);

#endif
