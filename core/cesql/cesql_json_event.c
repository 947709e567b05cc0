/*
 * Accessor over a structured-mode JSON CloudEvent (see cesql_json_event.h).
 */
#include "cesql_json_event.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_data_key(const char *name)
{
    return strcmp(name, "data") == 0 || strcmp(name, "data_base64") == 0;
}

static bool int32_number(const cJSON *it, int32_t *out)
{
    double d = it->valuedouble;
    if (d != floor(d) || d < INT32_MIN || d > INT32_MAX)
        return false;
    *out = (int32_t)d;
    return true;
}

static bool json_attr(void *event, int slot, const char *name, size_t name_len,
                      ceb_cesql_value *out)
{
    (void)slot;
    ceb_cesql_json_event *ev = event;
    if (!ev || !ev->root || strlen(name) != name_len || is_data_key(name))
        return false;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(ev->root, name);
    if (!it)
        return false;
    memset(out, 0, sizeof(*out));
    if (cJSON_IsString(it)) {
        out->type = CEB_CESQL_T_STRING;
        out->s = it->valuestring;
        out->len = strlen(it->valuestring);
        return true;
    }
    if (cJSON_IsBool(it)) {
        out->type = CEB_CESQL_T_BOOL;
        out->b = cJSON_IsTrue(it);
        return true;
    }
    if (cJSON_IsNumber(it) && int32_number(it, &out->i)) {
        out->type = CEB_CESQL_T_INT;
        return true;
    }
    return false;
}

bool ceb_cesql_json_content_type(const char *ct)
{
    if (!ct)
        return true;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decode base64 (standard or URL alphabet, padding optional). */
static char *b64decode(const char *s, size_t *outlen)
{
    size_t n = strlen(s);
    char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=' || c == '\n' || c == '\r' || c == ' ')
            continue;
        int v = b64val(c);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFFu);
        }
    }
    *outlen = o;
    return out;
}

static const cJSON *json_data(void *event)
{
    ceb_cesql_json_event *ev = event;
    if (!ev || !ev->root)
        return NULL;
    if (ev->data_done)
        return ev->data;
    ev->data_done = true;
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(ev->root, "datacontenttype");
    if (!ceb_cesql_json_content_type(cJSON_IsString(ct) ? ct->valuestring : NULL))
        return NULL;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev->root, "data");
    if (d) {
        ev->data = d;
        return d;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(ev->root, "data_base64");
    if (!cJSON_IsString(b))
        return NULL;
    size_t n;
    char *raw = b64decode(b->valuestring, &n);
    if (!raw)
        return NULL;
    ev->owned = cJSON_ParseWithLength(raw, n);
    free(raw);
    ev->data = ev->owned;
    return ev->data;
}

const ceb_cesql_accessor ceb_cesql_json_accessor = {
    .attr = json_attr,
    .data_json = json_data,
};

void ceb_cesql_json_event_init(ceb_cesql_json_event *ev, const cJSON *root)
{
    memset(ev, 0, sizeof(*ev));
    ev->root = root;
}

void ceb_cesql_json_event_reset(ceb_cesql_json_event *ev)
{
    if (!ev)
        return;
    cJSON_Delete(ev->owned);
    ev->owned = NULL;
    ev->data = NULL;
    ev->data_done = false;
}

int ceb_cesql_json_event_check(const cJSON *root, char *msg, size_t cap)
{
    if (!cJSON_IsObject(root)) {
        if (cap)
            snprintf(msg, cap, "the event is not a JSON object");
        return -EINVAL;
    }
    for (const cJSON *m = root->child; m; m = m->next) {
        if (is_data_key(m->string))
            continue;
        int32_t i;
        if (cJSON_IsString(m) || cJSON_IsBool(m) || (cJSON_IsNumber(m) && int32_number(m, &i)))
            continue;
        if (cap)
            snprintf(msg, cap, "attribute '%s': %s", m->string,
                     cJSON_IsNumber(m) ? "number is not a 32-bit integer"
                                       : "must be a string, a boolean or an integer");
        return -EINVAL;
    }
    return 0;
}
