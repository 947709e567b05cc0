/*
 * json.c - read-only JSON access over cJSON (json.h). A ceb_json is a cJSON
 * node behind an opaque type (see ceb__json_wrap in optval.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <cebridge/errors.h>
#include <cebridge/json.h>
#include "optval.h"
#include "sdk_internal.h"

ceb_json_type ceb_json_type_of(const ceb_json *j)
{
    const cJSON *c = ceb__json_unwrap(j);
    if (c == NULL)
        return CEB_JSON_INVALID;
    switch (c->type & 0xFF) {
    case cJSON_NULL:   return CEB_JSON_NULL;
    case cJSON_False:  return CEB_JSON_FALSE;
    case cJSON_True:   return CEB_JSON_TRUE;
    case cJSON_Number: return CEB_JSON_NUMBER;
    case cJSON_String: return CEB_JSON_STRING;
    case cJSON_Array:  return CEB_JSON_ARRAY;
    case cJSON_Object: return CEB_JSON_OBJECT;
    default:           return CEB_JSON_INVALID;
    }
}

const ceb_json *ceb_json_get(const ceb_json *j, const char *key)
{
    const cJSON *c = ceb__json_unwrap(j);
    if (c == NULL || !cJSON_IsObject(c) || key == NULL)
        return NULL;
    return ceb__json_wrap(cJSON_GetObjectItemCaseSensitive(c, key));
}

const ceb_json *ceb_json_at(const ceb_json *j, size_t index)
{
    const cJSON *c = ceb__json_unwrap(j);
    if (c == NULL || !cJSON_IsArray(c))
        return NULL;
    for (const cJSON *e = c->child; e != NULL; e = e->next, index--)
        if (index == 0)
            return ceb__json_wrap(e);
    return NULL;
}

size_t ceb_json_count(const ceb_json *j)
{
    const cJSON *c = ceb__json_unwrap(j);
    size_t n = 0;
    if (c == NULL || !(cJSON_IsArray(c) || cJSON_IsObject(c)))
        return 0;
    for (const cJSON *e = c->child; e != NULL; e = e->next)
        n++;
    return n;
}

const char *ceb_json_key_at(const ceb_json *j, size_t index, const ceb_json **value)
{
    const cJSON *c = ceb__json_unwrap(j);
    if (value != NULL)
        *value = NULL;
    if (c == NULL || !cJSON_IsObject(c))
        return NULL;
    for (const cJSON *e = c->child; e != NULL; e = e->next, index--) {
        if (index == 0) {
            if (value != NULL)
                *value = ceb__json_wrap(e);
            return e->string;
        }
    }
    return NULL;
}

const char *ceb_json_string(const ceb_json *j)
{
    const cJSON *c = ceb__json_unwrap(j);
    return (c != NULL && cJSON_IsString(c)) ? c->valuestring : NULL;
}

double ceb_json_number(const ceb_json *j)
{
    const cJSON *c = ceb__json_unwrap(j);
    return (c != NULL && cJSON_IsNumber(c)) ? c->valuedouble : 0.0;
}

int ceb_json_print(const ceb_json *j, ceb_buf *out)
{
    const cJSON *c = ceb__json_unwrap(j);
    if (c == NULL)
        return CEB_EINVAL;
    char *s = cJSON_PrintUnformatted(c);
    if (s == NULL)
        return CEB_ENOMEM;
    int rc = ceb_buf_append_str(out, s);
    cJSON_free(s);
    return rc;
}

int ceb_json_quote(ceb_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (len > (SIZE_MAX - 2) / 6)
        return CEB_ENOMEM;
    int rc = ceb_buf_reserve(out, len * 6 + 2);
    if (rc < 0)
        return rc;
    char *p = out->data + out->len;
    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"':  *p++ = '\\'; *p++ = '"'; break;
        case '\\': *p++ = '\\'; *p++ = '\\'; break;
        case '\b': *p++ = '\\'; *p++ = 'b'; break;
        case '\f': *p++ = '\\'; *p++ = 'f'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        case '\t': *p++ = '\\'; *p++ = 't'; break;
        default:
            if (ch < 0x20) {
                *p++ = '\\'; *p++ = 'u'; *p++ = '0'; *p++ = '0';
                *p++ = hex[ch >> 4]; *p++ = hex[ch & 15];
            } else {
                *p++ = (char)ch;
            }
        }
    }
    *p++ = '"';
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int ceb__json_minify(const char *text, size_t len, ceb_buf *out)
{
    int rc = ceb_buf_reserve(out, len);
    if (rc < 0)
        return rc;
    char *o = out->data + out->len;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            *o++ = c;
            if (c == '\\' && i + 1 < len)
                *o++ = text[++i];
            else if (c == '"')
                in_str = false;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else {
            if (c == '"')
                in_str = true;
            *o++ = c;
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}
