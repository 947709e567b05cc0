/*
 * secret.c - option values that must never be logged (options.h).
 *
 * A secret is given as literal text, "${env:NAME}" or "${file:PATH}" and
 * resolved once, at validation. Error messages name the variable or the
 * path, never a value. The value is wiped when the secret is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cebridge/errors.h>
#include <cebridge/options.h>
#include "optval.h"

#define CEB__SECRET_FILE_MAX (1u << 20)

struct ceb_secret {
    char *value;
    size_t len;
};

const char *ceb_secret_reveal(const ceb_secret *s, size_t *len)
{
    if (s == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    if (len != NULL)
        *len = s->len;
    return s->value;
}

void ceb__secret_free(ceb_secret *s)
{
    if (s == NULL)
        return;
    if (s->value != NULL) {
        explicit_bzero(s->value, s->len);
        free(s->value);
    }
    free(s);
}

static int read_file(const char *path, char **out, size_t *outlen, ceb_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ceb_diag_set(d, CEB_ECONFIG, "cannot read secret file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ceb_diag_set(d, CEB_ECONFIG, "cannot read secret file %s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > CEB__SECRET_FILE_MAX) {
        close(fd);
        return ceb_diag_set(d, CEB_ECONFIG, "secret file %s is larger than 1 MiB", path);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return CEB_ENOMEM;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            explicit_bzero(buf, n);
            free(buf);
            return ceb_diag_set(d, CEB_ECONFIG, "cannot read secret file %s: %s", path, strerror(e));
        }
        if (r == 0 || (n += (size_t)r) == (size_t)st.st_size)
            break;
    }
    close(fd);
    /* One trailing newline (as `echo` writes) is not part of the secret. */
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

int ceb__secret_resolve(const char *text, ceb_secret **out, ceb_diag *d)
{
    size_t tlen = strlen(text);
    char *value = NULL;
    size_t len = 0;
    int rc;
    if (tlen >= 3 && text[0] == '$' && text[1] == '{' && text[tlen - 1] == '}') {
        const char *body = text + 2;
        size_t blen = tlen - 3;
        if (blen > 4 && memcmp(body, "env:", 4) == 0) {
            char name[256];
            if (blen - 4 >= sizeof name)
                return ceb_diag_set(d, CEB_ECONFIG, "environment variable name is too long");
            memcpy(name, body + 4, blen - 4);
            name[blen - 4] = '\0';
            const char *v = getenv(name);
            if (v == NULL)
                return ceb_diag_set(d, CEB_ECONFIG, "environment variable %s is not set", name);
            if (v[0] == '\0')
                return ceb_diag_set(d, CEB_ECONFIG, "environment variable %s is empty", name);
            len = strlen(v);
            if ((value = strdup(v)) == NULL)
                return CEB_ENOMEM;
        } else if (blen > 5 && memcmp(body, "file:", 5) == 0) {
            char *path = strndup(body + 5, blen - 5);
            if (path == NULL)
                return CEB_ENOMEM;
            rc = read_file(path, &value, &len, d);
            free(path);
            if (rc < 0)
                return rc;
        } else {
            return ceb_diag_set(d, CEB_ECONFIG, "unknown secret reference; "
                                "use ${env:NAME}, ${file:PATH} or literal text");
        }
    } else {
        len = tlen;
        if ((value = strdup(text)) == NULL)
            return CEB_ENOMEM;
    }
    ceb_secret *s = malloc(sizeof *s);
    if (s == NULL) {
        explicit_bzero(value, len);
        free(value);
        return CEB_ENOMEM;
    }
    s->value = value;
    s->len = len;
    *out = s;
    return 0;
}
