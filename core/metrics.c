/*
 * The metrics registry (DESIGN §7) and its Prometheus text rendering
 * (exposition format 0.0.4).
 *
 * Metrics are kept in an array sorted by full name, and each metric's
 * series in an array sorted by label values (byte-wise, label by label), so
 * lookups are binary searches and the rendering order is deterministic.
 */
#include "metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/errors.h>

#define CEB_METRICS_PREFIX "cebridge_"

static const double default_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

typedef struct ceb_series {
    char **values;        /* nlabels strings */
    double value;         /* counter, gauge */
    uint64_t *counts;     /* histogram: nbuckets + 1 (last = +Inf), not cumulative */
    double sum;
    uint64_t count;
} ceb_series;

struct ceb_metric {
    ceb_metric_kind kind;
    char *name;           /* with the prefix */
    char *help;
    char **label_names;
    size_t nlabels;
    double *buckets;      /* histogram upper bounds, strictly increasing, no +Inf */
    size_t nbuckets;
    ceb_series **series;  /* sorted by label values */
    size_t nseries, capseries;
};

struct ceb_metrics {
    ceb_metric **metrics; /* sorted by name */
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

int ceb_metrics_new(ceb_metrics **out)
{
    ceb_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return CEB_ENOMEM;
    *out = m;
    return 0;
}

static void series_free(ceb_series *s, size_t nlabels)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->counts);
    free(s);
}

static void metric_free(ceb_metric *mt)
{
    if (mt == NULL)
        return;
    for (size_t i = 0; i < mt->nseries; i++)
        series_free(mt->series[i], mt->nlabels);
    free(mt->series);
    for (size_t i = 0; i < mt->nlabels; i++)
        free(mt->label_names[i]);
    free(mt->label_names);
    free(mt->buckets);
    free(mt->help);
    free(mt->name);
    free(mt);
}

void ceb_metrics_free(ceb_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        metric_free(m->metrics[i]);
    free(m->metrics);
    free(m);
}

/* ---- validation ------------------------------------------------------- */

static bool valid_metric_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    if (s == NULL || *s == '\0' || (s[0] == '_' && s[1] == '_'))   /* __x is reserved */
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Does `a` equal `b` + one of the histogram suffixes? */
static bool is_histogram_child(const char *a, const char *b)
{
    static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
    size_t lb = strlen(b);
    if (strncmp(a, b, lb) != 0)
        return false;
    for (size_t i = 0; i < 3; i++)
        if (strcmp(a + lb, suffixes[i]) == 0)
            return true;
    return false;
}

/* Binary search by name: index of the match, or of the insertion point. */
static size_t find_metric(const ceb_metrics *m, const char *name, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->metrics[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool same_shape(const ceb_metric *mt, ceb_metric_kind kind, const char *const *label_names,
                       size_t nlabels)
{
    if (mt->kind != kind || mt->nlabels != nlabels)
        return false;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(mt->label_names[i], label_names[i]) != 0)
            return false;
    return true;
}

static ceb_series *series_new(const ceb_metric *mt, const char *const *values)
{
    ceb_series *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if (mt->nlabels > 0) {
        s->values = calloc(mt->nlabels, sizeof *s->values);
        if (s->values == NULL)
            goto fail;
        for (size_t i = 0; i < mt->nlabels; i++) {
            s->values[i] = dup_str(values[i] ? values[i] : "");
            if (s->values[i] == NULL)
                goto fail;
        }
    }
    if (mt->kind == CEB_METRIC_HISTOGRAM) {
        s->counts = calloc(mt->nbuckets + 1, sizeof *s->counts);
        if (s->counts == NULL)
            goto fail;
    }
    return s;
fail:
    series_free(s, mt->nlabels);
    return NULL;
}

static int cmp_values(const ceb_metric *mt, char *const *a, const char *const *b)
{
    for (size_t i = 0; i < mt->nlabels; i++) {
        int c = strcmp(a[i], b[i] ? b[i] : "");
        if (c != 0)
            return c;
    }
    return 0;
}

/* The series for `values`, created on first use; NULL when out of memory. */
static ceb_series *series_get(ceb_metric *mt, const char *const *values)
{
    size_t lo = 0, hi = mt->nseries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_values(mt, mt->series[mid]->values, values);
        if (c == 0)
            return mt->series[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (mt->nseries == mt->capseries) {
        size_t cap = mt->capseries ? mt->capseries * 2 : 4;
        ceb_series **p = realloc(mt->series, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        mt->series = p;
        mt->capseries = cap;
    }
    ceb_series *s = series_new(mt, values);
    if (s == NULL)
        return NULL;
    memmove(mt->series + lo + 1, mt->series + lo, (mt->nseries - lo) * sizeof *mt->series);
    mt->series[lo] = s;
    mt->nseries++;
    return s;
}

static const ceb_series *series_find(const ceb_metric *mt, const char *const *values)
{
    size_t lo = 0, hi = mt->nseries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_values(mt, mt->series[mid]->values, values);
        if (c == 0)
            return mt->series[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int ceb_metrics_register(ceb_metrics *m, ceb_metric_kind kind, const char *name,
                         const char *help, const char *const *label_names, size_t nlabels,
                         const double *buckets, size_t nbuckets, ceb_metric **out)
{
    if (m == NULL || out == NULL || !valid_metric_name(name) ||
        (kind != CEB_METRIC_COUNTER && kind != CEB_METRIC_GAUGE && kind != CEB_METRIC_HISTOGRAM) ||
        (nlabels > 0 && label_names == NULL))
        return CEB_EINVAL;
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_label_name(label_names[i]))
            return CEB_EINVAL;
        if (kind == CEB_METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0)
            return CEB_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(label_names[i], label_names[j]) == 0)
                return CEB_EINVAL;
    }

    /* Histogram buckets: NULL/0 = defaults; strictly increasing; a final
       +Inf is implied and dropped if given. */
    if (kind == CEB_METRIC_HISTOGRAM) {
        if (buckets == NULL || nbuckets == 0) {
            buckets = default_buckets;
            nbuckets = sizeof default_buckets / sizeof default_buckets[0];
        }
        if (isinf(buckets[nbuckets - 1]) && buckets[nbuckets - 1] > 0)
            nbuckets--;
        for (size_t i = 0; i < nbuckets; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
                return CEB_EINVAL;
        }
    } else {
        buckets = NULL;
        nbuckets = 0;
    }

    size_t plen = strncmp(name, CEB_METRICS_PREFIX, strlen(CEB_METRICS_PREFIX)) == 0
                      ? 0 : strlen(CEB_METRICS_PREFIX);
    char *full = malloc(plen + strlen(name) + 1);
    if (full == NULL)
        return CEB_ENOMEM;
    memcpy(full, CEB_METRICS_PREFIX, plen);
    strcpy(full + plen, name);

    bool found;
    size_t at = find_metric(m, full, &found);
    if (found) {
        ceb_metric *mt = m->metrics[at];
        free(full);
        if (!same_shape(mt, kind, label_names, nlabels))
            return CEB_EINVAL;
        if (kind == CEB_METRIC_HISTOGRAM && buckets != NULL &&
            (mt->nbuckets != nbuckets || memcmp(mt->buckets, buckets, nbuckets * sizeof *buckets) != 0))
            return CEB_EINVAL;
        *out = mt;
        return 0;
    }
    /* A histogram's _bucket/_sum/_count series must not collide with another metric. */
    for (size_t i = 0; i < m->n; i++) {
        const ceb_metric *o = m->metrics[i];
        if ((kind == CEB_METRIC_HISTOGRAM && is_histogram_child(o->name, full)) ||
            (o->kind == CEB_METRIC_HISTOGRAM && is_histogram_child(full, o->name))) {
            free(full);
            return CEB_EINVAL;
        }
    }

    ceb_metric *mt = calloc(1, sizeof *mt);
    if (mt == NULL) {
        free(full);
        return CEB_ENOMEM;
    }
    mt->kind = kind;
    mt->name = full;
    mt->help = dup_str(help ? help : "");
    if (mt->help == NULL)
        goto nomem;
    if (nlabels > 0) {
        mt->label_names = calloc(nlabels, sizeof *mt->label_names);
        if (mt->label_names == NULL)
            goto nomem;
        mt->nlabels = nlabels;
        for (size_t i = 0; i < nlabels; i++)
            if ((mt->label_names[i] = dup_str(label_names[i])) == NULL)
                goto nomem;
    }
    if (nbuckets > 0) {
        mt->buckets = malloc(nbuckets * sizeof *mt->buckets);
        if (mt->buckets == NULL)
            goto nomem;
        memcpy(mt->buckets, buckets, nbuckets * sizeof *buckets);
        mt->nbuckets = nbuckets;
    }
    /* A metric without labels has exactly one series, shown from the start. */
    if (nlabels == 0 && series_get(mt, NULL) == NULL)
        goto nomem;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        ceb_metric **p = realloc(m->metrics, cap * sizeof *p);
        if (p == NULL)
            goto nomem;
        m->metrics = p;
        m->cap = cap;
    }
    memmove(m->metrics + at + 1, m->metrics + at, (m->n - at) * sizeof *m->metrics);
    m->metrics[at] = mt;
    m->n++;
    *out = mt;
    return 0;
nomem:
    metric_free(mt);
    return CEB_ENOMEM;
}

/* ---- updates ----------------------------------------------------------- */

void ceb_metric_add(ceb_metric *mt, const char *const *label_values, double v)
{
    if (mt == NULL || mt->kind == CEB_METRIC_HISTOGRAM || isnan(v) ||
        (mt->nlabels > 0 && label_values == NULL))
        return;
    if (mt->kind == CEB_METRIC_COUNTER && !(v >= 0))   /* counters never go down */
        return;
    ceb_series *s = series_get(mt, label_values);
    if (s != NULL)
        s->value += v;
}

void ceb_metric_set(ceb_metric *mt, const char *const *label_values, double v)
{
    if (mt == NULL || mt->kind != CEB_METRIC_GAUGE || (mt->nlabels > 0 && label_values == NULL))
        return;
    ceb_series *s = series_get(mt, label_values);
    if (s != NULL)
        s->value = v;
}

ceb_metric_series *ceb_metric_series_get(ceb_metric *mt, const char *const *label_values)
{
    if (mt == NULL || (mt->nlabels > 0 && label_values == NULL))
        return NULL;
    return series_get(mt, label_values);
}

void ceb_metric_series_observe(ceb_metric *mt, ceb_metric_series *s, double v)
{
    if (mt == NULL || s == NULL || mt->kind != CEB_METRIC_HISTOGRAM || isnan(v))
        return;
    size_t i = 0;
    while (i < mt->nbuckets && v > mt->buckets[i])
        i++;
    s->counts[i]++;     /* i == nbuckets: only +Inf */
    s->sum += v;
    s->count++;
}

void ceb_metric_observe(ceb_metric *mt, const char *const *label_values, double v)
{
    if (mt == NULL || mt->kind != CEB_METRIC_HISTOGRAM || isnan(v) ||
        (mt->nlabels > 0 && label_values == NULL))
        return;
    ceb_metric_series_observe(mt, series_get(mt, label_values), v);
}

double ceb_metric_value(const ceb_metric *mt, const char *const *label_values)
{
    if (mt == NULL || (mt->nlabels > 0 && label_values == NULL))
        return 0;
    const ceb_series *s = series_find(mt, label_values);
    if (s == NULL)
        return 0;
    return mt->kind == CEB_METRIC_HISTOGRAM ? (double)s->count : s->value;
}

/* ---- rendering --------------------------------------------------------- */

/* Shortest text that reads back as the same double; Prometheus spellings
   for the special values. */
static void format_double(char *buf, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == trunc(v) && fabs(v) < 1e15) {     /* integers in plain digits: 10, not 1e+01 */
        snprintf(buf, cap, "%.0f", v == 0 ? 0.0 : v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static int append_escaped(ceb_buf *out, const char *s, bool quote)
{
    int rc = 0;
    for (const char *p = s; *p && rc == 0; p++) {
        if (*p == '\\')
            rc = ceb_buf_append(out, "\\\\", 2);
        else if (*p == '\n')
            rc = ceb_buf_append(out, "\\n", 2);
        else if (*p == '"' && quote)
            rc = ceb_buf_append(out, "\\\"", 2);
        else
            rc = ceb_buf_append(out, p, 1);
    }
    return rc;
}

/* name{l1="v1",...[,le="x"]} value\n */
static int render_sample(ceb_buf *out, const ceb_metric *mt, const char *suffix,
                         const ceb_series *s, const char *le, double value)
{
    int rc = ceb_buf_printf(out, "%s%s", mt->name, suffix);
    if (rc == 0 && (mt->nlabels > 0 || le != NULL)) {
        rc = ceb_buf_append(out, "{", 1);
        for (size_t i = 0; rc == 0 && i < mt->nlabels; i++) {
            rc = ceb_buf_printf(out, "%s%s=\"", i ? "," : "", mt->label_names[i]);
            if (rc == 0)
                rc = append_escaped(out, s->values[i], true);
            if (rc == 0)
                rc = ceb_buf_append(out, "\"", 1);
        }
        if (rc == 0 && le != NULL)
            rc = ceb_buf_printf(out, "%sle=\"%s\"", mt->nlabels ? "," : "", le);
        if (rc == 0)
            rc = ceb_buf_append(out, "}", 1);
    }
    char num[40];
    format_double(num, sizeof num, value);
    if (rc == 0)
        rc = ceb_buf_printf(out, " %s\n", num);
    return rc;
}

static const char *kind_name(ceb_metric_kind k)
{
    switch (k) {
    case CEB_METRIC_COUNTER: return "counter";
    case CEB_METRIC_GAUGE: return "gauge";
    case CEB_METRIC_HISTOGRAM: return "histogram";
    }
    return "untyped";
}

int ceb_metrics_render(const ceb_metrics *m, ceb_buf *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        const ceb_metric *mt = m->metrics[i];
        if (mt->nseries == 0)
            continue;   /* a labelled metric nothing has written to yet */
        if (mt->help[0] != '\0') {
            rc = ceb_buf_printf(out, "# HELP %s ", mt->name);
            if (rc == 0)
                rc = append_escaped(out, mt->help, false);
            if (rc == 0)
                rc = ceb_buf_append(out, "\n", 1);
        }
        if (rc == 0)
            rc = ceb_buf_printf(out, "# TYPE %s %s\n", mt->name, kind_name(mt->kind));
        for (size_t j = 0; rc == 0 && j < mt->nseries; j++) {
            const ceb_series *s = mt->series[j];
            if (mt->kind != CEB_METRIC_HISTOGRAM) {
                rc = render_sample(out, mt, "", s, NULL, s->value);
                continue;
            }
            uint64_t cum = 0;
            char le[40];
            for (size_t b = 0; rc == 0 && b < mt->nbuckets; b++) {
                cum += s->counts[b];
                format_double(le, sizeof le, mt->buckets[b]);
                rc = render_sample(out, mt, "_bucket", s, le, (double)cum);
            }
            if (rc == 0)
                rc = render_sample(out, mt, "_bucket", s, "+Inf", (double)s->count);
            if (rc == 0)
                rc = render_sample(out, mt, "_sum", s, NULL, s->sum);
            if (rc == 0)
                rc = render_sample(out, mt, "_count", s, NULL, (double)s->count);
        }
    }
    return rc;
}
