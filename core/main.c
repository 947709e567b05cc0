/*
 * cebridge: the daemon's entry point. Everything the process owns lives in
 * one context struct (no global mutable state); signals arrive as
 * uv_signal_t handles. Exit codes: 0 ok, 1 configuration or runtime
 * failure, 64 usage.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <cebridge/buf.h>
#include <cebridge/errors.h>
#include <cebridge/version.h>
#include "config.h"
#include "describe.h"
#include "loader.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "runtime.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 64 };

typedef struct ceb_main {
    uv_loop_t loop;
    ceb_log log;
    ceb_metrics *metrics;
    ceb_loader *loader;
    ceb_runtime *rt;
    ceb_sigs sigs;
    bool sigs_open;
    const char *conf_dir;
    const char *plugin_dir_opt;     /* --plugin-dir */
    char plugin_dir[PATH_MAX];
    bool log_level_opt, log_format_opt;
    /* settings.log_level/log_format of the configuration being loaded:
       applied only once that configuration is running */
    bool want_level, want_format;
    ceb_log_level level_setting;
    ceb_log_format format_setting;
    int64_t drain_ms;
    int exit_code;
    int term_signals;
    bool done;
} ceb_main;

static void usage(FILE *f)
{
    fputs("usage: cebridge [-c DIR] [--plugin-dir DIR] [--log-level LEVEL] [--log-format logfmt|json]\n"
          "       cebridge --check [-c DIR]\n"
          "       cebridge --describe [PLUGIN] [--format text|markdown] [-c DIR]\n"
          "       cebridge --version | --help\n"
          "\n"
          "  -c, --config DIR     drop-in directory (default ./conf.d) or one file\n"
          "      --check          validate the configuration, print every error\n"
          "      --describe       list plugins and the routing graph; with PLUGIN its options\n"
          "      --format FMT     --describe output: text (default) or markdown\n"
          "      --plugin-dir DIR plugin directory (overrides settings.plugin_dir)\n"
          "      --log-level L    error|warn|info|debug|trace (default info)\n"
          "      --log-format F   logfmt (default) or json\n"
          "      --version        print the version\n"
          "  -h, --help           this text\n", f);
}

/* ---- configuration ------------------------------------------------------- */

static int open_loader(ceb_main *m, const char *settings_dir, ceb_diag *d)
{
    const char *dir = m->plugin_dir_opt ? m->plugin_dir_opt : settings_dir;
    if (dir == NULL) {
        if (ceb_loader_default_dir(m->plugin_dir, sizeof(m->plugin_dir)) < 0)
            return ceb_diag_set(d, CEB_ENOENT, "cannot find the plugin directory; use --plugin-dir");
        dir = m->plugin_dir;
    } else if (dir != m->plugin_dir) {
        snprintf(m->plugin_dir, sizeof(m->plugin_dir), "%s", dir);
    }
    if (m->loader != NULL) {
        if (strcmp(ceb_loader_dir(m->loader), dir) != 0)
            ceb_log_write(&m->log, CEB_LOG_WARN, "core", NULL,
                          "settings.plugin_dir changed to %s; it takes effect on restart", dir);
        return 0;
    }
    int rc = ceb_loader_new(dir, &m->loader);
    if (rc < 0)
        return ceb_diag_set(d, rc, "plugin directory %s: %s", dir, ceb_strerror(rc));
    return 0;
}

/* The loaded configuration is now the running one: its log settings apply
   (not before: a reload that fails must leave the logging as it was). */
static void apply_log_settings(ceb_main *m)
{
    if (m->want_level)
        m->log.level = m->level_setting;
    if (m->want_format)
        m->log.format = m->format_setting;
    m->want_level = m->want_format = false;
}

static int on_settings(void *arg, const ceb_conf_settings *s, ceb_diag *d)
{
    ceb_main *m = arg;
    m->want_level = !m->log_level_opt && s->log_level != NULL &&
                    ceb_log_parse_level(s->log_level, &m->level_setting) == 0;
    m->want_format = !m->log_format_opt && s->log_format != NULL &&
                     ceb_log_parse_format(s->log_format, &m->format_setting) == 0;
    if (m->rt == NULL)          /* first load: nothing running to keep */
        apply_log_settings(m);
    return open_loader(m, s->plugin_dir, d);
}

static int resolve(void *arg, const char *name, const ceb_plugin **out, ceb_diag *d)
{
    ceb_main *m = arg;
    if (m->loader == NULL) {
        int rc = open_loader(m, NULL, d);
        if (rc < 0)
            return rc;
    }
    return ceb_loader_get(m->loader, name, out, d);
}

static int load_conf(ceb_main *m, ceb_conf **out, ceb_conf_errors *errs)
{
    ceb_conf_load_opts o = { .resolve = resolve, .settings = on_settings, .arg = m };
    return ceb_conf_load_with(m->conf_dir, &o, out, errs);
}

static void print_errors(const ceb_conf_errors *e, FILE *f)
{
    for (size_t i = 0; i < e->nwarnings; i++)
        fprintf(f, "warning: %s\n", e->warnings[i]);
    for (size_t i = 0; i < e->n; i++)
        fprintf(f, "%s\n", e->lines[i]);
}

static void log_errors(ceb_main *m, const ceb_conf_errors *e)
{
    for (size_t i = 0; i < e->nwarnings; i++)
        ceb_log_write(&m->log, CEB_LOG_WARN, "config", NULL, "%s", e->warnings[i]);
    for (size_t i = 0; i < e->n; i++)
        ceb_log_write(&m->log, CEB_LOG_ERROR, "config", NULL, "%s", e->lines[i]);
}

/* ---- modes ---------------------------------------------------------------- */

static int do_check(ceb_main *m)
{
    ceb_conf *c = NULL;
    ceb_conf_errors errs = {0};
    int rc = load_conf(m, &c, &errs);
    print_errors(&errs, stderr);
    ceb_conf_errors_free(&errs);
    if (rc < 0) {
        fprintf(stderr, "configuration invalid: %s\n", m->conf_dir);
        return EXIT_FAIL;
    }
    printf("configuration OK: %zu files, %zu sources, %zu sinks, %zu routes\n",
           c->nfiles, c->nsources, c->nsinks, c->nroutes);
    ceb_conf_free(c);
    return EXIT_OK;
}

static int do_describe(ceb_main *m, const char *plugin, ceb_describe_format fmt)
{
    ceb_diag d;
    ceb_diag_clear(&d);
    ceb_buf out = {0};
    int rc;
    if (plugin != NULL) {
        if ((rc = open_loader(m, NULL, &d)) == 0)
            rc = ceb_describe_plugin(m->loader, plugin, fmt, &out, &d);
        if (rc < 0) {
            fprintf(stderr, "cebridge: %s\n", d.message[0] ? d.message : ceb_strerror(rc));
            ceb_buf_free(&out);
            return EXIT_FAIL;
        }
        fwrite(out.data, 1, out.len, stdout);
        ceb_buf_free(&out);
        return EXIT_OK;
    }
    /* the configuration first, so settings.plugin_dir applies */
    ceb_conf *c = NULL;
    ceb_conf_errors errs = {0};
    int crc = load_conf(m, &c, &errs);
    if ((rc = open_loader(m, NULL, &d)) < 0) {
        fprintf(stderr, "cebridge: %s\n", d.message);
        ceb_conf_errors_free(&errs);
        ceb_conf_free(c);
        return EXIT_FAIL;
    }
    rc = ceb_describe_plugins(m->loader, &out);
    if (rc == 0 && crc == 0) {
        ceb_buf_append_str(&out, "\n");
        rc = ceb_describe_routes(c, &out);
    }
    if (out.len > 0)
        fwrite(out.data, 1, out.len, stdout);
    if (crc < 0)
        fprintf(stderr, "cebridge: configuration %s not loaded (%zu error(s); see --check)\n",
                m->conf_dir, errs.n);
    ceb_buf_free(&out);
    ceb_conf_errors_free(&errs);
    ceb_conf_free(c);
    return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

static void shutdown_done(ceb_runtime *rt, void *arg, int status)
{
    ceb_main *m = arg;
    (void)rt;
    if (status < 0 && m->exit_code == EXIT_OK)
        m->exit_code = EXIT_FAIL;
    m->done = true;
    ceb_log_write(&m->log, CEB_LOG_INFO, "core", NULL, "stopped");
    if (m->sigs_open) {
        ceb_sigs_close(&m->sigs);
        m->sigs_open = false;
    }
}

static void begin_shutdown(ceb_main *m)
{
    if (ceb_runtime_shutting_down(m->rt))
        return;
    ceb_runtime_shutdown(m->rt, m->drain_ms, shutdown_done, m);
}

static void on_idle(ceb_runtime *rt, void *arg, int status)
{
    (void)rt;
    (void)status;
    begin_shutdown(arg);
}

static void reload(ceb_main *m)
{
    ceb_log_write(&m->log, CEB_LOG_INFO, "core", NULL, "SIGHUP: reloading %s", m->conf_dir);
    ceb_conf *c = NULL;
    ceb_conf_errors errs = {0};
    int rc = load_conf(m, &c, &errs);
    log_errors(m, &errs);
    ceb_conf_errors_free(&errs);
    if (rc < 0) {
        m->want_level = m->want_format = false;
        ceb_log_write(&m->log, CEB_LOG_ERROR, "core", NULL,
                      "reload failed; the running configuration is kept");
        return;
    }
    int64_t drain = c->settings.drain_timeout_ms;
    ceb_diag d;
    ceb_diag_clear(&d);
    rc = ceb_runtime_apply(m->rt, c, &d);
    if (rc < 0) {
        m->want_level = m->want_format = false;
        ceb_log_write(&m->log, CEB_LOG_ERROR, "core", NULL,
                      "reload failed: %s; the running configuration is kept",
                      d.message[0] ? d.message : ceb_strerror(rc));
        return;
    }
    apply_log_settings(m);
    m->drain_ms = drain;
    ceb_log_write(&m->log, CEB_LOG_INFO, "core", NULL, "configuration reloaded");
}

static void on_signal(void *arg, int signum)
{
    ceb_main *m = arg;
    if (signum == SIGHUP) {
        if (ceb_runtime_shutting_down(m->rt))
            ceb_log_write(&m->log, CEB_LOG_WARN, "core", NULL,
                          "SIGHUP ignored: shutting down");
        else
            reload(m);
        return;
    }
    if (++m->term_signals > 1) {
        ceb_log_write(&m->log, CEB_LOG_WARN, "core", NULL,
                      "second %s: exiting immediately without draining",
                      signum == SIGINT ? "SIGINT" : "SIGTERM");
        fflush(stdout);
        exit(EXIT_FAIL);
    }
    ceb_log_write(&m->log, CEB_LOG_INFO, "core", NULL, "%s: draining for up to %lld ms",
                  signum == SIGINT ? "SIGINT" : "SIGTERM", (long long)m->drain_ms);
    begin_shutdown(m);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    ceb_main *m = arg;
    if (!uv_is_closing(h)) {
        ceb_log_write(&m->log, CEB_LOG_WARN, "core", NULL,
                      "a %s handle was left open at exit; closing it",
                      uv_handle_type_name(uv_handle_get_type(h)));
        uv_close(h, NULL);
    }
}

static int do_run(ceb_main *m)
{
    ceb_conf *c = NULL;
    ceb_conf_errors errs = {0};
    int rc = load_conf(m, &c, &errs);
    log_errors(m, &errs);
    ceb_conf_errors_free(&errs);
    if (rc < 0) {
        ceb_log_write(&m->log, CEB_LOG_ERROR, "core", NULL, "configuration %s is invalid",
                      m->conf_dir);
        return EXIT_FAIL;
    }
    m->drain_ms = c->settings.drain_timeout_ms;
    /* A peer that closes while we write (an HTTP client gone mid-pipeline, a
       broker connection reset) must cost that connection an EPIPE, not the
       process its life: plugins write to sockets with write(2). */
    signal(SIGPIPE, SIG_IGN);
    size_t nsrc = c->nsources, nsnk = c->nsinks, nrt = c->nroutes;
    if ((rc = uv_loop_init(&m->loop)) != 0 || (rc = ceb_metrics_new(&m->metrics)) < 0) {
        ceb_log_write(&m->log, CEB_LOG_ERROR, "core", NULL, "init: %s", ceb_strerror(rc));
        ceb_conf_free(c);
        return EXIT_FAIL;
    }
    ceb_runtime_opts o = { .loop = &m->loop, .log = &m->log, .metrics = m->metrics };
    if ((rc = ceb_runtime_new(&o, &m->rt)) < 0) {
        ceb_log_write(&m->log, CEB_LOG_ERROR, "core", NULL, "init: %s", ceb_strerror(rc));
        ceb_conf_free(c);
        return EXIT_FAIL;
    }
    if ((rc = ceb_sigs_init(&m->sigs, &m->loop, on_signal, m)) == 0)
        m->sigs_open = true;
    ceb_diag d;
    ceb_diag_clear(&d);
    rc = ceb_runtime_apply(m->rt, c, &d);
    if (rc < 0) {
        ceb_log_write(&m->log, CEB_LOG_ERROR, "core", NULL, "%s",
                      d.message[0] ? d.message : ceb_strerror(rc));
        m->exit_code = EXIT_FAIL;
        begin_shutdown(m);
    } else {
        ceb_log_write(&m->log, CEB_LOG_INFO, "core", NULL,
                      "running: %zu sources, %zu sinks, %zu routes", nsrc, nsnk, nrt);
        ceb_runtime_on_idle(m->rt, on_idle, m);
    }
    while (!m->done)
        uv_run(&m->loop, UV_RUN_ONCE);
    ceb_runtime_free(m->rt);
    m->rt = NULL;
    uv_run(&m->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&m->loop) != 0) {
        uv_walk(&m->loop, close_walk, m);
        uv_run(&m->loop, UV_RUN_DEFAULT);
        uv_loop_close(&m->loop);
    }
    ceb_metrics_free(m->metrics);
    fflush(stdout);
    return m->exit_code;
}

int main(int argc, char **argv)
{
    ceb_main m;
    memset(&m, 0, sizeof(m));
    ceb_log_init(&m.log, stderr);
    m.conf_dir = "./conf.d";
    bool check = false, describe = false;
    const char *format = NULL;
    enum { O_CHECK = 256, O_DESCRIBE, O_FORMAT, O_PLUGIN_DIR, O_LOG_LEVEL, O_LOG_FORMAT,
           O_VERSION };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, O_CHECK },
        { "describe", no_argument, NULL, O_DESCRIBE },
        { "format", required_argument, NULL, O_FORMAT },
        { "plugin-dir", required_argument, NULL, O_PLUGIN_DIR },
        { "log-level", required_argument, NULL, O_LOG_LEVEL },
        { "log-format", required_argument, NULL, O_LOG_FORMAT },
        { "version", no_argument, NULL, O_VERSION },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': m.conf_dir = optarg; break;
        case O_CHECK: check = true; break;
        case O_DESCRIBE: describe = true; break;
        case O_FORMAT: format = optarg; break;
        case O_PLUGIN_DIR: m.plugin_dir_opt = optarg; break;
        case O_LOG_LEVEL:
            if (ceb_log_parse_level(optarg, &m.log.level) < 0) {
                fprintf(stderr, "cebridge: --log-level: unknown level '%s' "
                        "(error, warn, info, debug, trace)\n", optarg);
                return EXIT_USAGE;
            }
            m.log_level_opt = true;
            break;
        case O_LOG_FORMAT:
            if (ceb_log_parse_format(optarg, &m.log.format) < 0) {
                fprintf(stderr, "cebridge: --log-format: unknown format '%s' (logfmt, json)\n",
                        optarg);
                return EXIT_USAGE;
            }
            m.log_format_opt = true;
            break;
        case O_VERSION:
            printf("cebridge %s (plugin ABI %d, allocator %s)\n", CEB_VERSION_STRING,
                   CEB_ABI_VERSION, CEB_ALLOCATOR_NAME);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            if (optopt != 0 && optopt < 256 && optopt != '?')
                fprintf(stderr, "cebridge: option -%c needs an argument or is unknown\n", optopt);
            else
                fprintf(stderr, "cebridge: unknown option or missing argument: %s\n",
                        argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    const char *plugin = NULL;
    if (optind < argc) {
        if (!describe || argc - optind > 1) {
            fprintf(stderr, "cebridge: unexpected argument: %s\n", argv[optind]);
            usage(stderr);
            return EXIT_USAGE;
        }
        plugin = argv[optind];
    }
    if (check && describe) {
        fprintf(stderr, "cebridge: --check and --describe cannot be combined\n");
        return EXIT_USAGE;
    }
    ceb_describe_format fmt = CEB_DESCRIBE_TEXT;
    if (format != NULL) {
        if (!describe) {
            fprintf(stderr, "cebridge: --format only applies to --describe\n");
            return EXIT_USAGE;
        }
        if (ceb_describe_parse_format(format, &fmt) < 0) {
            fprintf(stderr, "cebridge: --format: unknown format '%s' (text, markdown)\n", format);
            return EXIT_USAGE;
        }
    }
    int code;
    if (check)
        code = do_check(&m);
    else if (describe)
        code = do_describe(&m, plugin, fmt);
    else
        code = do_run(&m);
    ceb_loader_free(m.loader);
    return code;
}
