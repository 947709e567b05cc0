/*
 * Opening a plugin file with every check of DESIGN §3 / STYLE §9.3, shared
 * by the core's loader and the SDK's test host so both refuse the same
 * files with the same words. Project-internal (declared in optval.h).
 *
 *   1. the file is a regular file and neither it, its directory, nor a
 *      symlink target's directory is writable by group or others
 *   2. dlopen(RTLD_NOW | RTLD_LOCAL)
 *   3. dlsym("ceb_plugin_entry")
 *   4. `abi` read before any other field
 *   5. `size` == sizeof(ceb_plugin)
 *   6. name == file stem, at least one role, required callbacks
 *   7. option tables self-check
 *   8. on failure the message is formatted into the diag (copied) before
 *      dlclose(), since the descriptor's strings live in the unloaded file
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cebridge/errors.h>
#include <cebridge/plugin.h>
#include "optval.h"

/* The file stem of `path` ("/x/redis.so" -> "redis") into buf. */
void ceb__plugin_stem(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, base, n);
    buf[n] = '\0';
}

/* The directory part of `path` ("." when there is none) into buf. */
static void path_dir(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(buf, cap, ".");
        return;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;  /* "/redis.so" -> "/" */
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, path, n);
    buf[n] = '\0';
}

static const char *writable_by(mode_t mode)
{
    if (mode & S_IWOTH)
        return "others";
    if (mode & S_IWGRP)
        return "group";
    return NULL;
}

/* Step 1 on an existing path. */
static int check_permissions(const char *stem, const char *path, ceb_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ceb_diag_set(d, CEB_ENOENT, "plugin %s: cannot stat %s: %s", stem, path,
                            strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s: %s is not a regular file", stem, path);
    const char *who = writable_by(st.st_mode);
    if (who != NULL)
        return ceb_diag_set(d, CEB_EPERM,
                            "plugin %s: %s is writable by %s (mode %04o); refusing to load",
                            stem, path, who, (unsigned)(st.st_mode & 07777));

    char dir[PATH_MAX];
    path_dir(path, dir, sizeof dir);
    if (stat(dir, &st) != 0)
        return ceb_diag_set(d, CEB_ENOENT, "plugin %s: cannot stat directory %s: %s", stem, dir,
                            strerror(errno));
    who = writable_by(st.st_mode);
    if (who != NULL)
        return ceb_diag_set(d, CEB_EPERM,
                            "plugin %s: directory %s is writable by %s (mode %04o); refusing to load",
                            stem, dir, who, (unsigned)(st.st_mode & 07777));

    /* A symlink: whoever can write the target's directory can swap the target. */
    char real[PATH_MAX], realdir[PATH_MAX];
    if (realpath(path, real) != NULL) {
        path_dir(real, realdir, sizeof realdir);
        char absdir[PATH_MAX];
        if ((realpath(dir, absdir) == NULL || strcmp(absdir, realdir) != 0) &&
            stat(realdir, &st) == 0 && (who = writable_by(st.st_mode)) != NULL)
            return ceb_diag_set(d, CEB_EPERM,
                                "plugin %s: directory %s (of symlink target %s) is writable by %s"
                                " (mode %04o); refusing to load",
                                stem, realdir, real, who, (unsigned)(st.st_mode & 07777));
    }
    return 0;
}

/* `offset` plus the size of the field the option type fills. */
static size_t option_end(const ceb_option *o)
{
    size_t sz;
    switch (o->type) {
    case CEB_OPT_INT:
    case CEB_OPT_DURATION: sz = sizeof(int64_t); break;
    case CEB_OPT_SIZE:     sz = sizeof(uint64_t); break;
    case CEB_OPT_BOOL:     sz = sizeof(bool); break;
    case CEB_OPT_ENUM:     sz = sizeof(int); break;
    case CEB_OPT_LIST:     sz = sizeof(ceb_strlist); break;
    default:               sz = sizeof(void *); break;
    }
    return o->offset + sz;
}

/* Steps 6 (callbacks) and 7 (option table) for one role. */
static int check_role(const char *stem, const char *path, const char *role,
                      const ceb_option *options, size_t config_size,
                      const char *const *cb_names, const bool *cb_present, size_t ncb, ceb_diag *d)
{
    for (size_t i = 0; i < ncb; i++) {
        if (!cb_present[i])
            return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s (%s): %s ops lack %s()", stem, path,
                                role, cb_names[i]);
    }
    if (options == NULL)
        return 0;
    for (const ceb_option *o = options; o->name != NULL; o++) {
        if (option_end(o) > config_size)
            return ceb_diag_set(d, CEB_EPLUGIN,
                                "plugin %s (%s): %s option %s lies outside config_size %zu",
                                stem, path, role, o->name, config_size);
    }
    ceb_diag od = {0};
    if (ceb__options_check_table(options, &od) < 0) {
        if (od.field[0] != '\0')
            return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s (%s): %s option %s: %s", stem, path,
                                role, od.field, od.message);
        return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s (%s): %s options: %s", stem, path, role,
                            od.message);
    }
    return 0;
}

/* Steps 4-7 on a resolved descriptor. Reads only what each step allows. */
static int check_descriptor(const char *stem, const char *path, const ceb_plugin *p, ceb_diag *d)
{
    /* ABI first: in another ABI every other field may mean something else. */
    uint32_t abi = *(const volatile uint32_t *)&p->abi;
    if (abi != CEB_ABI_VERSION)
        return ceb_diag_set(d, CEB_EABI,
                            "plugin %s (%s) was built for cebridge ABI %u; this cebridge has ABI %u"
                            " \u2014 rebuild it against cebridge %u.x headers",
                            stem, path, (unsigned)abi, (unsigned)CEB_ABI_VERSION,
                            (unsigned)CEB_ABI_VERSION);
    if (p->size != sizeof(ceb_plugin))
        return ceb_diag_set(d, CEB_EABI,
                            "plugin %s (%s): descriptor size %u, expected %zu (built against different headers)",
                            stem, path, (unsigned)p->size, sizeof(ceb_plugin));
    if (p->name == NULL || strcmp(p->name, stem) != 0)
        return ceb_diag_set(d, CEB_EPLUGIN,
                            "plugin %s (%s): descriptor name \"%s\" does not match the file name"
                            " (expected %s.so)",
                            stem, path, p->name ? p->name : "", p->name ? p->name : "");
    if (p->source == NULL && p->sink == NULL)
        return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s (%s): neither source nor sink ops are set",
                            stem, path);
    int rc;
    if (p->source != NULL) {
        const ceb_source_ops *s = p->source;
        static const char *const names[] = { "create", "start", "ack", "stop", "destroy" };
        const bool present[] = { s->create != NULL, s->start != NULL, s->ack != NULL,
                                 s->stop != NULL, s->destroy != NULL };
        if ((rc = check_role(stem, path, "source", s->options, s->config_size, names, present, 5, d)) < 0)
            return rc;
        if ((s->pause == NULL) != (s->resume == NULL))
            return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s (%s): source ops have %s() without %s()",
                                stem, path, s->pause ? "pause" : "resume",
                                s->pause ? "resume" : "pause");
    }
    if (p->sink != NULL) {
        const ceb_sink_ops *s = p->sink;
        static const char *const names[] = { "create", "start", "deliver", "stop", "destroy" };
        const bool present[] = { s->create != NULL, s->start != NULL, s->deliver != NULL,
                                 s->stop != NULL, s->destroy != NULL };
        if ((rc = check_role(stem, path, "sink", s->options, s->config_size, names, present, 5, d)) < 0)
            return rc;
    }
    return 0;
}

int ceb__plugin_open(const char *stem, const char *path, void **handle,
                     const ceb_plugin **out, ceb_diag *d)
{
    *handle = NULL;
    *out = NULL;
    int rc = check_permissions(stem, path, d);
    if (rc < 0)
        return rc;
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *err = dlerror();
        return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s: cannot load %s: %s", stem, path,
                            err ? err : "unknown error");
    }
    /* A function, not a data symbol: dlsym of functions is what POSIX guarantees. */
    ceb_plugin_entry_fn entry;
    void *sym = dlsym(h, CEB_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    const ceb_plugin *p = NULL;
    if (entry == NULL) {
        rc = ceb_diag_set(d, CEB_EPLUGIN,
                          "plugin %s: %s: no ceb_plugin_entry(); not a cebridge plugin"
                          " (was it built with CEB_PLUGIN()?)", stem, path);
    } else if ((p = entry()) == NULL) {
        rc = ceb_diag_set(d, CEB_EPLUGIN, "plugin %s: %s: ceb_plugin_entry() returned NULL",
                          stem, path);
    } else {
        /* The message is copied into `d` here, before dlclose unmaps p->name. */
        rc = check_descriptor(stem, path, p, d);
    }
    if (rc < 0) {
        dlclose(h);
        return rc;
    }
    *handle = h;
    *out = p;
    return 0;
}
