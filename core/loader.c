/*
 * Plugin loader (DESIGN §3, STYLE §9.3): resolves "<dir>/<name>.so", keeps
 * what it loaded, lists a directory. The checks themselves (permissions,
 * dlopen, ABI first, descriptor, option tables) are ceb__plugin_open() in
 * the SDK, shared with the test host.
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
    if (l->n == l->cap) {   /* before opening: no failure path after a successful load */
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
    void *h = NULL;
    const ceb_plugin *p = NULL;
    int rc = ceb__plugin_open(stem, path, &h, &p, d);
    if (rc < 0) {
        free(path_copy);
        return rc;
    }
    l->v[l->n++] = (loaded){ .path = path_copy, .handle = h, .plugin = p };
    *out = p;
    return 0;
}

int ceb_loader_open_path(ceb_loader *l, const char *path, const ceb_plugin **out, ceb_diag *d)
{
    if (l == NULL || path == NULL || out == NULL)
        return ceb_diag_set(d, CEB_EINVAL, "plugin loader: invalid argument");
    char stem[NAME_MAX + 1];
    ceb__plugin_stem(path, stem, sizeof stem);
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
