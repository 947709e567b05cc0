/*
 * Test helper for the loader and --describe tests: a private copy of the
 * fixture plugins (tests/plugins/fixtures.cmake) in a fresh mkdtemp
 * directory (mode 0700, files 0644), so results do not depend on the umask
 * the build ran with. Header-only, test code only.
 */
#ifndef CEB_TEST_FIXTURE_DIR_H
#define CEB_TEST_FIXTURE_DIR_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const ceb_test_fixtures[] = {
    "good", "bad_abi", "no_entry", "bad_size", "wrong_name", "no_deliver", "bad_default",
    "no_roles", NULL
};

static int ceb_test_copy_file(const char *from, const char *to, mode_t mode)
{
    FILE *in = fopen(from, "rb");
    if (in == NULL)
        return -1;
    FILE *out = fopen(to, "wb");
    if (out == NULL) {
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    fclose(in);
    if (fclose(out) != 0)
        rc = -1;
    if (rc == 0)
        rc = chmod(to, mode);
    return rc;
}

/* mkdtemp + copies of the named fixtures (NULL-terminated); dir gets the path. */
static int ceb_test_fixture_dir(char *dir, size_t cap, const char *const *names)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/cebtest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return -1;
    for (size_t i = 0; names[i] != NULL; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(from, sizeof from, "%s/%s.so", CEB_FIXTURE_DIR, names[i]);
        snprintf(to, sizeof to, "%s/%s.so", dir, names[i]);
        if (ceb_test_copy_file(from, to, 0644) != 0)
            return -1;
    }
    return 0;
}

/* Remove the directory and every file in it (flat). */
static void ceb_test_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

#endif
