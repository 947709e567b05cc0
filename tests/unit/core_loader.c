/* Unit tests for core/loader.c: every refusal with its exact message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cebridge/errors.h>
#include "fixture_dir.h"
#include "loader.h"

typedef struct {
    char dir[200];
    ceb_loader *l;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_int_equal(ceb_test_fixture_dir(fx->dir, sizeof fx->dir, ceb_test_fixtures), 0);
    assert_int_equal(ceb_loader_new(fx->dir, &fx->l), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ceb_loader_free(fx->l);
    chmod(fx->dir, 0700);
    ceb_test_rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Load `name` expecting failure `code` with exactly `want` (printf format
   with the fixture directory as its only %s ... once per occurrence). */
static void expect_refusal(fixture *fx, const char *name, int code, const char *want)
{
    for (int round = 0; round < 2; round++) {   /* a refused plugin stays refused */
        const ceb_plugin *p = NULL;
        ceb_diag d = {0};
        assert_int_equal(ceb_loader_get(fx->l, name, &p, &d), code);
        assert_null(p);
        assert_int_equal(d.code, code);
        assert_string_equal(d.message, want);
    }
}

static void test_good(void **state)
{
    fixture *fx = *state;
    const ceb_plugin *p = NULL, *again = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_loader_get(fx->l, "good", &p, &d), 0);
    assert_non_null(p);
    assert_string_equal(d.message, "");
    assert_int_equal(p->abi, CEB_ABI_VERSION);
    assert_string_equal(p->name, "good");
    assert_string_equal(p->version, "1.2.3");
    assert_non_null(p->source);
    assert_non_null(p->sink);
    assert_string_equal(p->source->options[0].name, "path");
    /* cached */
    assert_int_equal(ceb_loader_get(fx->l, "good", &again, &d), 0);
    assert_ptr_equal(p, again);
    char path[300];
    snprintf(path, sizeof path, "%s/good.so", fx->dir);
    assert_int_equal(ceb_loader_open_path(fx->l, path, &again, &d), 0);
    assert_ptr_equal(p, again);
    assert_string_equal(ceb_loader_dir(fx->l), fx->dir);
}

static void test_list(void **state)
{
    fixture *fx = *state;
    char p[300];
    /* not listed: other extensions, bad stems, directories named *.so */
    snprintf(p, sizeof p, "%s/README.txt", fx->dir);
    assert_int_equal(ceb_test_copy_file(CEB_FIXTURE_DIR "/good.so", p, 0644), 0);
    snprintf(p, sizeof p, "%s/bad name.so", fx->dir);
    assert_int_equal(ceb_test_copy_file(CEB_FIXTURE_DIR "/good.so", p, 0644), 0);
    snprintf(p, sizeof p, "%s/sub.so", fx->dir);
    assert_int_equal(mkdir(p, 0700), 0);

    char **names = NULL;
    size_t n = 0;
    assert_int_equal(ceb_loader_list(fx->l, &names, &n), 0);
    const char *want[] = { "bad_abi", "bad_default", "bad_size", "good", "no_deliver",
                           "no_entry", "no_roles", "wrong_name" };
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    ceb_loader_names_free(names, n);
    rmdir(p);

    ceb_loader *l = NULL;
    assert_int_equal(ceb_loader_new("/nonexistent/cebridge/plugins/", &l), 0);
    assert_string_equal(ceb_loader_dir(l), "/nonexistent/cebridge/plugins");
    assert_int_equal(ceb_loader_list(l, &names, &n), CEB_ENOENT);
    assert_int_equal(n, 0);
    ceb_loader_free(l);
}

static void test_unknown_plugin(void **state)
{
    fixture *fx = *state;
    char want[1024];
    snprintf(want, sizeof want,
             "plugin kafak: no such plugin in %s (available: bad_abi, bad_default, bad_size, good, "
             "no_deliver, no_entry, no_roles, wrong_name)", fx->dir);
    expect_refusal(fx, "kafak", CEB_ENOENT, want);

    ceb_loader *l = NULL;
    ceb_diag d = {0};
    const ceb_plugin *p = NULL;
    assert_int_equal(ceb_loader_new("/nonexistent", &l), 0);
    assert_int_equal(ceb_loader_get(l, "file", &p, &d), CEB_ENOENT);
    assert_string_equal(d.message, "plugin file: no such plugin in /nonexistent (available: none)");
    ceb_loader_free(l);
}

static void test_invalid_name(void **state)
{
    fixture *fx = *state;
    expect_refusal(fx, "../good", CEB_EINVAL,
                   "plugin \"../good\": invalid plugin name (letters, digits, '_' and '-' only)");
    expect_refusal(fx, "", CEB_EINVAL,
                   "plugin \"\": invalid plugin name (letters, digits, '_' and '-' only)");
}

static void test_bad_abi(void **state)
{
    fixture *fx = *state;
    char want[1024];
    snprintf(want, sizeof want,
             "plugin bad_abi (%s/bad_abi.so) was built for cebridge ABI 99; this cebridge has ABI 1 "
             "\xe2\x80\x94 rebuild it against cebridge 1.x headers", fx->dir);
    expect_refusal(fx, "bad_abi", CEB_EABI, want);
}

static void test_no_entry(void **state)
{
    fixture *fx = *state;
    char want[1024];
    snprintf(want, sizeof want,
             "plugin no_entry: %s/no_entry.so: no ceb_plugin_entry(); not a cebridge plugin "
             "(was it built with CEB_PLUGIN()?)", fx->dir);
    expect_refusal(fx, "no_entry", CEB_EPLUGIN, want);
}

static void test_bad_size(void **state)
{
    fixture *fx = *state;
    char want[1024];
    snprintf(want, sizeof want,
             "plugin bad_size (%s/bad_size.so): descriptor size %zu, expected %zu "
             "(built against different headers)", fx->dir, sizeof(ceb_plugin) - 8, sizeof(ceb_plugin));
    expect_refusal(fx, "bad_size", CEB_EABI, want);
}

static void test_wrong_name(void **state)
{
    fixture *fx = *state;
    char want[1024];
    /* "renamed" lives in the unloaded file: the message must have been copied (ASan) */
    snprintf(want, sizeof want,
             "plugin wrong_name (%s/wrong_name.so): descriptor name \"renamed\" does not match "
             "the file name (expected renamed.so)", fx->dir);
    expect_refusal(fx, "wrong_name", CEB_EPLUGIN, want);
}

static void test_no_deliver(void **state)
{
    fixture *fx = *state;
    char want[1024];
    snprintf(want, sizeof want, "plugin no_deliver (%s/no_deliver.so): sink ops lack deliver()", fx->dir);
    expect_refusal(fx, "no_deliver", CEB_EPLUGIN, want);
}

static void test_no_roles(void **state)
{
    fixture *fx = *state;
    char want[1024];
    snprintf(want, sizeof want, "plugin no_roles (%s/no_roles.so): neither source nor sink ops are set",
             fx->dir);
    expect_refusal(fx, "no_roles", CEB_EPLUGIN, want);
}

static void test_bad_default(void **state)
{
    fixture *fx = *state;
    const ceb_plugin *p = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_loader_get(fx->l, "bad_default", &p, &d), CEB_EPLUGIN);
    assert_null(p);
    /* The rest of the text is the SDK's table check (ceb__options_check_table). */
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "plugin bad_default (%s/bad_default.so): sink option", fx->dir);
    assert_memory_equal(d.message, prefix, strlen(prefix));
    assert_non_null(strstr(d.message, "timeout"));
}

static void test_writable_file(void **state)
{
    fixture *fx = *state;
    char path[300], want[1024];
    snprintf(path, sizeof path, "%s/good.so", fx->dir);

    assert_int_equal(chmod(path, 0666), 0);
    snprintf(want, sizeof want, "plugin good: %s is writable by others (mode 0666); refusing to load", path);
    expect_refusal(fx, "good", CEB_EPERM, want);

    assert_int_equal(chmod(path, 0664), 0);
    snprintf(want, sizeof want, "plugin good: %s is writable by group (mode 0664); refusing to load", path);
    expect_refusal(fx, "good", CEB_EPERM, want);

    /* by path too */
    const ceb_plugin *p = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_loader_open_path(fx->l, path, &p, &d), CEB_EPERM);
    assert_string_equal(d.message, want);

    assert_int_equal(chmod(path, 0755), 0);
    d = (ceb_diag){0};
    assert_int_equal(ceb_loader_get(fx->l, "good", &p, &d), 0);
}

static void test_writable_dir(void **state)
{
    fixture *fx = *state;
    char want[1024];
    assert_int_equal(chmod(fx->dir, 0777), 0);
    snprintf(want, sizeof want, "plugin good: directory %s is writable by others (mode 0777); refusing to load",
             fx->dir);
    expect_refusal(fx, "good", CEB_EPERM, want);
    assert_int_equal(chmod(fx->dir, 01777), 0);   /* sticky does not make it safe */
    snprintf(want, sizeof want, "plugin good: directory %s is writable by others (mode 1777); refusing to load",
             fx->dir);
    expect_refusal(fx, "good", CEB_EPERM, want);
    assert_int_equal(chmod(fx->dir, 0770), 0);
    snprintf(want, sizeof want, "plugin good: directory %s is writable by group (mode 0770); refusing to load",
             fx->dir);
    expect_refusal(fx, "good", CEB_EPERM, want);
    assert_int_equal(chmod(fx->dir, 0700), 0);
}

static void test_symlink_target_dir(void **state)
{
    fixture *fx = *state;
    /* good.so in an unsafe directory, reached through a symlink in the safe one */
    char other[200], target[300], link[300], want[1024];
    static const char *const names[] = { "good", NULL };
    assert_int_equal(ceb_test_fixture_dir(other, sizeof other, names), 0);
    snprintf(target, sizeof target, "%s/good.so", other);
    snprintf(link, sizeof link, "%s/linked.so", fx->dir);
    assert_int_equal(symlink(target, link), 0);
    /* the link's stem is "linked" but the descriptor says "good": use a safe dir first */
    const ceb_plugin *p = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_loader_get(fx->l, "linked", &p, &d), CEB_EPLUGIN);
    assert_non_null(strstr(d.message, "descriptor name \"good\""));

    assert_int_equal(chmod(other, 0777), 0);
    snprintf(want, sizeof want,
             "plugin linked: directory %s (of symlink target %s) is writable by others (mode 0777); "
             "refusing to load", other, target);
    expect_refusal(fx, "linked", CEB_EPERM, want);
    unlink(link);
    chmod(other, 0700);
    ceb_test_rmdir(other);
}

static void test_not_a_shared_object(void **state)
{
    fixture *fx = *state;
    char path[300];
    snprintf(path, sizeof path, "%s/broken.so", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0644), 0);

    const ceb_plugin *p = NULL;
    ceb_diag d = {0};
    assert_int_equal(ceb_loader_get(fx->l, "broken", &p, &d), CEB_EPLUGIN);
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "plugin broken: cannot load %s: ", path);
    assert_memory_equal(d.message, prefix, strlen(prefix));
    assert_true(strlen(d.message) > strlen(prefix));   /* dlerror()'s text follows */

    /* a directory named like a plugin */
    snprintf(path, sizeof path, "%s/adir.so", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    d = (ceb_diag){0};
    assert_int_equal(ceb_loader_get(fx->l, "adir", &p, &d), CEB_EPLUGIN);
    char want[1024];
    snprintf(want, sizeof want, "plugin adir: %s is not a regular file", path);
    assert_string_equal(d.message, want);
    rmdir(path);
}

static void test_open_path(void **state)
{
    fixture *fx = *state;
    const ceb_plugin *p = NULL;
    ceb_diag d = {0};
    char path[300], want[1024];
    snprintf(path, sizeof path, "%s/nope.so", fx->dir);
    assert_int_equal(ceb_loader_open_path(fx->l, path, &p, &d), CEB_ENOENT);
    snprintf(want, sizeof want, "plugin nope: cannot open %s: No such file or directory", path);
    assert_string_equal(d.message, want);

    snprintf(path, sizeof path, "%s/no_deliver.so", fx->dir);
    d = (ceb_diag){0};
    assert_int_equal(ceb_loader_open_path(fx->l, path, &p, &d), CEB_EPLUGIN);
    snprintf(want, sizeof want, "plugin no_deliver (%s): sink ops lack deliver()", path);
    assert_string_equal(d.message, want);
}

static void test_default_dir(void **state)
{
    (void)state;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    char parent[PATH_MAX + 4], real[PATH_MAX], want[PATH_MAX + 32];
    snprintf(parent, sizeof parent, "%s/..", exe);
    assert_non_null(realpath(parent, real));
    snprintf(want, sizeof want, "%s/lib/cebridge/plugins", real);

    char got[PATH_MAX];
    assert_int_equal(ceb_loader_default_dir(got, sizeof got), 0);
    struct stat st;
    if (stat(got, &st) == 0)
        assert_string_equal(got, want);               /* canonical when it exists */
    else {
        char raw[PATH_MAX + 32];
        snprintf(raw, sizeof raw, "%s/../lib/cebridge/plugins", exe);
        assert_string_equal(got, raw);
    }
    assert_int_equal(ceb_loader_default_dir(got, 4), CEB_ERANGE);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_good), T(test_list), T(test_unknown_plugin), T(test_invalid_name),
        T(test_bad_abi), T(test_no_entry), T(test_bad_size), T(test_wrong_name),
        T(test_no_deliver), T(test_no_roles), T(test_bad_default), T(test_writable_file),
        T(test_writable_dir), T(test_symlink_target_dir), T(test_not_a_shared_object), T(test_open_path),
        cmocka_unit_test(test_default_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
