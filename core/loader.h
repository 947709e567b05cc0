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

/* Ownership: `plugin_dir` is copied (trailing slashes dropped); *out is the
   caller's, released with ceb_loader_free(), which dlclose()s every plugin
   it loaded: call it only after every instance is destroyed.
   Returns 0, CEB_EINVAL, CEB_ENOMEM. The directory is not touched yet. */
int  ceb_loader_new(const char *plugin_dir, ceb_loader **out);
void ceb_loader_free(ceb_loader *l);
const char *ceb_loader_dir(const ceb_loader *l);

/* Load (once; later calls return the cached descriptor) plugin `name`.
   Returns 0, CEB_ENOENT, CEB_EPERM (writable), CEB_EABI, CEB_EPLUGIN, with `d`
   set to e.g. "plugin redis: /x/redis.so is writable by others (mode 0666); refusing to load".
   Also CEB_EINVAL for a name that is not [A-Za-z0-9_-]+ (no paths), CEB_ENOMEM.
   A refused plugin is not cached: it is unloaded and a later call checks again.
   The messages, in check order (each tested in tests/unit/core_loader.c):
     plugin N: no such plugin in DIR (available: a, b)            ENOENT
     plugin N: PATH is not a regular file                          EPLUGIN
     plugin N: PATH is writable by others|group (mode 0666); refusing to load          EPERM
     plugin N: directory DIR is writable by others|group (mode 0777); refusing to load EPERM
     plugin N: directory D (of symlink target T) is writable by others (mode 0777); refusing to load
     plugin N: cannot load PATH: <dlerror()>                       EPLUGIN
     plugin N: PATH: no ceb_plugin_entry(); not a cebridge plugin (was it built with CEB_PLUGIN()?)
     plugin N (PATH) was built for cebridge ABI 2; this cebridge has ABI 1 — rebuild it against cebridge 1.x headers  EABI
     plugin N (PATH): descriptor size 40, expected 48 (built against different headers)             EABI
     plugin N (PATH): descriptor name "x" does not match the file name (expected x.so)
     plugin N (PATH): neither source nor sink ops are set
     plugin N (PATH): sink ops lack deliver()      (source: create start ack stop destroy;
                                                    sink: create start deliver stop destroy)
     plugin N (PATH): source ops have pause() without resume()
     plugin N (PATH): sink option NAME lies outside config_size 16
     plugin N (PATH): sink option NAME: <ceb__options_check_table's message>
   Ownership: *out is borrowed from the loader (valid until ceb_loader_free). */
int  ceb_loader_get(ceb_loader *l, const char *name, const ceb_plugin **out, ceb_diag *d);

/* Load one file by path with all checks (tests, testhost, --describe). */
int  ceb_loader_open_path(ceb_loader *l, const char *path, const ceb_plugin **out, ceb_diag *d);

/* Names of the *.so regular files in the directory whose stem is a valid
   plugin name, sorted (for --describe and "available: ..."); nothing is
   loaded. *names is an array of n strings released with
   ceb_loader_names_free(). Returns 0, CEB_ENOENT (unreadable dir), CEB_ENOMEM. */
int  ceb_loader_list(ceb_loader *l, char ***names, size_t *n);
void ceb_loader_names_free(char **names, size_t n);

/* The directory of the running executable + "/../lib/cebridge/plugins"
   into buf (canonicalised with realpath() when it exists). Returns 0,
   CEB_ENOENT (/proc/self/exe unreadable) or CEB_ERANGE (buf too small). */
int  ceb_loader_default_dir(char *buf, size_t cap);

#endif
