#ifndef CEBRIDGE_VERSION_H
#define CEBRIDGE_VERSION_H

#define CEB_VERSION_MAJOR 0
#define CEB_VERSION_MINOR 1
#define CEB_VERSION_PATCH 0
#define CEB_VERSION_STRING "0.1.0"

/*
 * Bump on ANY incompatible change to a header in sdk/include/cebridge/.
 * The loader refuses a plugin built for another ABI, naming both numbers;
 * libcebridge-sdk's SONAME carries the same number.
 */
#define CEB_ABI_VERSION 1

/* The SDK library's version as (major << 16) | (minor << 8) | patch. */
unsigned ceb_version(void);
const char *ceb_version_string(void);

#endif
