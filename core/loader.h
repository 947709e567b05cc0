#ifndef CEB_CORE_LOADER_H
#define CEB_CORE_LOADER_H

#include <cebridge/diag.h>
#include <cebridge/plugin.h>

/*
 * Plugin loader (DESIGN §3, STYLE §9.3): resolves "<dir>/<name>.so",
 * refuses files or directories writable by group or others, dlopen()s with
 * RTLD_NOW|RTLD_LOCAL, checks the ABI before reading any other field, the
 * descriptor size, name == file stem, required callbacks, and self-checks
 * the option tables. Every refusal's message names the path and both sides
 * of a mismatch. Loaded plugins stay loaded until ceb_loader_free().
 * Thread: loop thread (or main before the loop runs).
 */
typedef struct ceb_loader ceb_loader;

int  ceb_loader_new(const char *plugin_dir, ceb_loader **out);
void ceb_loader_free(ceb_loader *l);
const char *ceb_loader_dir(const ceb_loader *l);

/* Load (once; later calls return the cached descriptor) plugin `name`.
   Returns 0, CEB_ENOENT, CEB_EPERM (writable), CEB_EABI, CEB_EPLUGIN, with `d`
   set to e.g. "plugin redis: /x/redis.so is writable by others (mode 0666); refusing to load". */
int  ceb_loader_get(ceb_loader *l, const char *name, const ceb_plugin **out, ceb_diag *d);

/* Load one file by path with all checks (tests, testhost, --describe). */
int  ceb_loader_open_path(ceb_loader *l, const char *path, const ceb_plugin **out, ceb_diag *d);

/* Names of the loadable *.so files in the directory, sorted (for --describe).
   *names is an array of n strings released with ceb_loader_names_free(). */
int  ceb_loader_list(ceb_loader *l, char ***names, size_t *n);
void ceb_loader_names_free(char **names, size_t n);

/* The directory of the running executable + "/../lib/cebridge/plugins"
   into buf. Returns 0 or CEB_ENOENT. */
int  ceb_loader_default_dir(char *buf, size_t cap);

#endif
