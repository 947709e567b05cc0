/* version.c - the SDK library's version (version.h). */
#include <cebridge/version.h>

unsigned ceb_version(void)
{
    return ((unsigned)CEB_VERSION_MAJOR << 16) | ((unsigned)CEB_VERSION_MINOR << 8) |
           (unsigned)CEB_VERSION_PATCH;
}

const char *ceb_version_string(void)
{
    return CEB_VERSION_STRING;
}
