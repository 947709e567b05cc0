/*
 * Plugin loader (DESIGN §3, STYLE §9.3). Each refusal names the plugin and
 * the path; the steps run in the documented order:
 *
 *   1. <dir>/<name>.so exists, is a regular file, and neither it nor its
 *      directory is writable by group or others
 *   2. dlopen(RTLD_NOW | RTLD_LOCAL)
 *   3. dlsym("ceb_plugin_entry")
 *   4. `abi` read before any other field
 *   5. `size` == sizeof(ceb_plugin)
 *   6. name == file stem, at least one role, required callbacks
 *   7. option tables self-check
 *   8. on failure the message is formatted into the diag (copied) before
 *      dlclose(), since the descriptor's strings live in the unloaded file
 */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cebridge/errors.h>
#include "optval.h"

typedef struct loaded {
    char *path;                 /* as opened: "<dir>/<name>.so" or the caller's path */
    void *handle;
    const ceb_plugin *plugin;
} loaded;

struct ceb_loader {
    char *dir;
    loaded *v;
    size_t n, cap;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

int ceb_loader_new(const char *plugin_dir, ceb_loader **out)
{
    if (plugin_dir == NULL || out == NULL)
        return CEB_EINVAL;
    ceb_loader *l = calloc(1, sizeof *l);
    if (l == NULL)
        return CEB_ENOMEM;
    l->dir = dup_str(plugin_dir);
    if (l->dir == NULL) {
        free(l);
        return CEB_ENOMEM;
    }
    /* "/x/plugins/" and "/x/plugins" name the same directory in messages. */
    size_t len = strlen(l->dir);
    while (len > 1 && l->dir[len - 1] == '/')
        l->dir[--len] = '\0';
    *out = l;
    return 0;
}

void ceb_loader_free(ceb_loader *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        dlclose(l->v[i].handle);
        free(l->v[i].path);
    }
    free(l->v);
    free(l->dir);
    free(l);
}

const char *ceb_loader_dir(const ceb_loader *l)
{
    return l->dir;
}

/* A plugin name as a file stem: [A-Za-z0-9_-]+, so no path can be smuggled in. */
static bool valid_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The file stem of `path` ("/x/redis.so" -> "redis") into buf. */
static void path_stem(const char *path, char *buf, size_t cap)
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

static const loaded *find_loaded(const ceb_loader *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].path, path) == 0)
            return &l->v[i];
    return NULL;
}

/* Steps 1-8 on `path`, known to exist. `stem` names the plugin in messages. */
static int open_checked(ceb_loader *l, const char *stem, const char *path,
                        const ceb_plugin **out, ceb_diag *d)
{
    const loaded *have = find_loaded(l, path);
    if (have != NULL) {
        *out = have->plugin;
        return 0;
    }
    int rc = check_permissions(stem, path, d);
    if (rc < 0)
        return rc;

    if (l->n == l->cap) {   /* before dlopen: no failure path after a successful load */
        size_t cap = l->cap ? l->cap * 2 : 8;
        loaded *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return ceb_diag_set(d, CEB_ENOMEM, "plugin %s: out of memory", stem);
        l->v = v;
        l->cap = cap;
    }
    char *path_copy = dup_str(path);
    if (path_copy == NULL)
        return ceb_diag_set(d, CEB_ENOMEM, "plugin %s: out of memory", stem);

    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *err = dlerror();
        free(path_copy);
        return ceb_diag_set(d, CEB_EPLUGIN, "plugin %s: cannot load %s: %s", stem, path,
                            err ? err : "unknown error");
    }
    /* A function, not a data symbol: dlsym of functions is what POSIX guarantees. */
    ceb_plugin_entry_fn entry;
    void *sym = dlsym(h, CEB_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    if (entry == NULL) {
        rc = ceb_diag_set(d, CEB_EPLUGIN,
                          "plugin %s: %s: no ceb_plugin_entry(); not a cebridge plugin"
                          " (was it built with CEB_PLUGIN()?)", stem, path);
        goto fail;
    }
    const ceb_plugin *p = entry();
    if (p == NULL) {
        rc = ceb_diag_set(d, CEB_EPLUGIN, "plugin %s: %s: ceb_plugin_entry() returned NULL",
                          stem, path);
        goto fail;
    }
    /* The message is copied into `d` here, before dlclose unmaps p->name. */
    if ((rc = check_descriptor(stem, path, p, d)) < 0)
        goto fail;

    l->v[l->n++] = (loaded){ .path = path_copy, .handle = h, .plugin = p };
    *out = p;
    return 0;
fail:
    dlclose(h);
    free(path_copy);
    return rc;
}

int ceb_loader_open_path(ceb_loader *l, const char *path, const ceb_plugin **out, ceb_diag *d)
{
    if (l == NULL || path == NULL || out == NULL)
        return ceb_diag_set(d, CEB_EINVAL, "plugin loader: invalid argument");
    char stem[NAME_MAX + 1];
    path_stem(path, stem, sizeof stem);
    struct stat st;
    if (stat(path, &st) != 0)
        return ceb_diag_set(d, CEB_ENOENT, "plugin %s: cannot open %s: %s", stem, path,
                            strerror(errno));
    return open_checked(l, stem, path, out, d);
}

/* ", "-separated list of the plugins in the directory, or "none". */
static void available_list(ceb_loader *l, char *buf, size_t cap)
{
    char **names = NULL;
    size_t n = 0;
    buf[0] = '\0';
    if (ceb_loader_list(l, &names, &n) < 0 || n == 0) {
        snprintf(buf, cap, "none");
        ceb_loader_names_free(names, n);
        return;
    }
    size_t len = 0;
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    ceb_loader_names_free(names, n);
}

int ceb_loader_get(ceb_loader *l, const char *name, const ceb_plugin **out, ceb_diag *d)
{
    if (l == NULL || out == NULL)
        return ceb_diag_set(d, CEB_EINVAL, "plugin loader: invalid argument");
    if (!valid_name(name))
        return ceb_diag_set(d, CEB_EINVAL,
                            "plugin \"%s\": invalid plugin name (letters, digits, '_' and '-' only)",
                            name ? name : "");
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s.so", l->dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return ceb_diag_set(d, CEB_EINVAL, "plugin %s: path too long", name);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return ceb_diag_set(d, CEB_ENOENT, "plugin %s: cannot open %s: %s", name, path,
                                strerror(errno));
        char avail[400];
        available_list(l, avail, sizeof avail);
        return ceb_diag_set(d, CEB_ENOENT, "plugin %s: no such plugin in %s (available: %s)",
                            name, l->dir, avail);
    }
    return open_checked(l, name, path, out, d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ceb_loader_list(ceb_loader *l, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *dir = opendir(l->dir);
    if (dir == NULL)
        return errno == ENOMEM ? CEB_ENOMEM : CEB_ENOENT;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 3 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        char stem[NAME_MAX + 1];
        memcpy(stem, e->d_name, len - 3);
        stem[len - 3] = '\0';
        if (!valid_name(stem))
            continue;
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", l->dir, e->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof *nv);
            if (nv == NULL) {
                rc = CEB_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        if ((v[cnt] = dup_str(stem)) == NULL) {
            rc = CEB_ENOMEM;
            break;
        }
        cnt++;
    }
    closedir(dir);
    if (rc < 0) {
        ceb_loader_names_free(v, cnt);
        return rc;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return 0;
}

void ceb_loader_names_free(char **names, size_t n)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int ceb_loader_default_dir(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return CEB_ENOENT;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return CEB_ENOENT;
    *slash = '\0';   /* exe now holds the executable's directory */

    char joined[PATH_MAX];
    int w = snprintf(joined, sizeof joined, "%s/../lib/cebridge/plugins", exe[0] ? exe : "/");
    if (w < 0 || (size_t)w >= sizeof joined)
        return CEB_ERANGE;
    /* Prefer the canonical spelling when the directory exists, for clearer messages. */
    char real[PATH_MAX];
    const char *res = realpath(joined, real) ? real : joined;
    if (strlen(res) >= cap)
        return CEB_ERANGE;
    strcpy(buf, res);
    return 0;
}
