/*
 * Structured logs (DESIGN §7): logfmt or JSON lines, one fwrite per line.
 */
#include "log.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cebridge/buf.h>
#include <cebridge/errors.h>

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

void ceb_log_init(ceb_log *log, FILE *out)
{
    log->level = CEB_LOG_INFO;
    log->format = CEB_LOGFMT_LOGFMT;
    log->out = out ? out : stderr;
}

int ceb_log_parse_level(const char *s, ceb_log_level *out)
{
    if (s == NULL)
        return CEB_EINVAL;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (ceb_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = CEB_LOG_WARN;
        return 0;
    }
    return CEB_EINVAL;
}

int ceb_log_parse_format(const char *s, ceb_log_format *out)
{
    if (s == NULL)
        return CEB_EINVAL;
    if (strcasecmp(s, "logfmt") == 0) {
        *out = CEB_LOGFMT_LOGFMT;
        return 0;
    }
    if (strcasecmp(s, "json") == 0) {
        *out = CEB_LOGFMT_JSON;
        return 0;
    }
    return CEB_EINVAL;
}

bool ceb_log_enabled(const ceb_log *log, ceb_log_level level)
{
    return log != NULL && level <= log->level;
}

static const char *level_name(ceb_log_level level)
{
    if ((unsigned)level < sizeof level_names / sizeof level_names[0])
        return level_names[level];
    return "trace";
}

/* RFC 3339, UTC, milliseconds: 2026-11-23T13:00:00.123Z */
static void format_ts(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* ---- logfmt ---------------------------------------------------------- */

static bool logfmt_needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
            return true;
    }
    return false;
}

static void append_escaped_char(ceb_buf *b, unsigned char c)
{
    switch (c) {
    case '"':  ceb_buf_append(b, "\\\"", 2); break;
    case '\\': ceb_buf_append(b, "\\\\", 2); break;
    case '\n': ceb_buf_append(b, "\\n", 2); break;
    case '\r': ceb_buf_append(b, "\\r", 2); break;
    case '\t': ceb_buf_append(b, "\\t", 2); break;
    default:
        if (c < 0x20 || c == 0x7f)
            ceb_buf_printf(b, "\\u%04x", c);
        else
            ceb_buf_append(b, &c, 1);
    }
}

static void logfmt_value(ceb_buf *b, const char *s)
{
    if (s == NULL)
        s = "";
    if (!logfmt_needs_quotes(s)) {
        ceb_buf_append_str(b, s);
        return;
    }
    ceb_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        append_escaped_char(b, *p);
    ceb_buf_append(b, "\"", 1);
}

/* Keys are programmer-chosen; anything outside [A-Za-z0-9_.-/] becomes '_'
   so a bad key cannot break the line's structure. */
static void logfmt_key(ceb_buf *b, const char *k)
{
    if (k == NULL || *k == '\0') {
        ceb_buf_append(b, "_", 1);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
        unsigned char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-' || c == '/';
        char o = ok ? (char)c : '_';
        ceb_buf_append(b, &o, 1);
    }
}

static void logfmt_pair(ceb_buf *b, const char *k, const char *v)
{
    if (b->len > 0)
        ceb_buf_append(b, " ", 1);
    logfmt_key(b, k);
    ceb_buf_append(b, "=", 1);
    logfmt_value(b, v);
}

/* ---- JSON ------------------------------------------------------------ */

/* Length of a valid UTF-8 sequence at p, 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void json_string(ceb_buf *b, const char *s)
{
    ceb_buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        if (*p < 0x80) {
            if (*p == '\b')
                ceb_buf_append(b, "\\b", 2);
            else if (*p == '\f')
                ceb_buf_append(b, "\\f", 2);
            else if (*p == 0x7f)
                ceb_buf_append(b, "\x7f", 1);
            else
                append_escaped_char(b, *p);
            p++;
            continue;
        }
        size_t n = utf8_seq_len(p);
        if (n == 0) {
            ceb_buf_append_str(b, "\\ufffd");   /* invalid byte: keep the line valid JSON */
            p++;
        } else {
            ceb_buf_append(b, p, n);
            p += n;
        }
    }
    ceb_buf_append(b, "\"", 1);
}

static void json_pair(ceb_buf *b, const char *k, const char *v)
{
    ceb_buf_append(b, b->len > 1 ? "," : "", b->len > 1 ? 1 : 0);
    json_string(b, k ? k : "_");
    ceb_buf_append(b, ":", 1);
    json_string(b, v);
}

/* ---- lines ----------------------------------------------------------- */

void ceb_log_writev(ceb_log *log, ceb_log_level level, const char *component,
                    const char *const *kv, const char *fmt, va_list ap)
{
    if (!ceb_log_enabled(log, level))
        return;
    FILE *out = log->out ? log->out : stderr;

    char ts[40];
    format_ts(ts, sizeof ts);

    ceb_buf msg = {0};
    if (fmt != NULL) {
        va_list aq;
        va_copy(aq, ap);
        char small[256];
        int n = vsnprintf(small, sizeof small, fmt, aq);
        va_end(aq);
        if (n >= 0 && (size_t)n < sizeof small) {
            ceb_buf_append(&msg, small, (size_t)n);
        } else if (n >= 0 && ceb_buf_reserve(&msg, (size_t)n + 1) == 0) {
            vsnprintf(msg.data, (size_t)n + 1, fmt, ap);
            msg.len = (size_t)n;
        }
        /* Strip trailing newlines: the line ends here. */
        while (msg.len > 0 && (msg.data[msg.len - 1] == '\n' || msg.data[msg.len - 1] == '\r'))
            msg.data[--msg.len] = '\0';
    }

    ceb_buf line = {0};
    void (*pair)(ceb_buf *, const char *, const char *) =
        log->format == CEB_LOGFMT_JSON ? json_pair : logfmt_pair;
    if (log->format == CEB_LOGFMT_JSON)
        ceb_buf_append(&line, "{", 1);
    pair(&line, "ts", ts);
    pair(&line, "level", level_name(level));
    if (component != NULL)
        pair(&line, "component", component);
    if (fmt != NULL)
        pair(&line, "msg", msg.data ? msg.data : "");
    for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2) {
        pair(&line, kv[i], kv[i + 1]);
        if (kv[i + 1] == NULL)      /* odd list: the last key gets "" */
            break;
    }
    if (log->format == CEB_LOGFMT_JSON)
        ceb_buf_append(&line, "}", 1);
    ceb_buf_append(&line, "\n", 1);

    if (line.data != NULL) {
        fwrite(line.data, 1, line.len, out);
        fflush(out);
    }
    ceb_buf_free(&line);
    ceb_buf_free(&msg);
}

void ceb_log_write(ceb_log *log, ceb_log_level level, const char *component,
                   const char *const *kv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ceb_log_writev(log, level, component, kv, fmt, ap);
    va_end(ap);
}
