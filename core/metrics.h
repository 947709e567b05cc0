#ifndef CEB_CORE_METRICS_H
#define CEB_CORE_METRICS_H

#include <stddef.h>
#include <cebridge/buf.h>
#include <cebridge/host.h>

/*
 * The metrics registry (DESIGN §7): counters, gauges and histograms with
 * labels, written by the core and by plugins (through the host table) and
 * rendered in the Prometheus text exposition format by the metrics plugin.
 * Every name gets the "cebridge_" prefix. Series (label value tuples) are
 * created on first use. Metrics live until the registry is freed.
 * Thread: loop thread only (plugins on other threads post to the loop).
 */
typedef struct ceb_metrics ceb_metrics;

int  ceb_metrics_new(ceb_metrics **out);
void ceb_metrics_free(ceb_metrics *m);

/* Register, or return the existing metric when name, kind and label names
   match. CEB_EINVAL for a bad name or a clash. Details:
   - name [a-zA-Z_:][a-zA-Z0-9_:]*, stored as "cebridge_" + name (a name that
     already starts with "cebridge_" is not prefixed twice); label names
     [a-zA-Z_][a-zA-Z0-9_]*, unique, not "__*", not "le" on a histogram.
   - histograms: buckets NULL/0 = Prometheus' defaults .005 .01 .025 .05 .1
     .25 .5 1 2.5 5 10; otherwise strictly increasing and finite (a final
     +Inf is implied and may be given). Same name with other buckets, or a
     name that collides with a histogram's _bucket/_sum/_count, is a clash.
   - help and label names are copied; *out lives until ceb_metrics_free().
   Returns 0, CEB_EINVAL, CEB_ENOMEM. */
int  ceb_metrics_register(ceb_metrics *m, ceb_metric_kind kind, const char *name,
                          const char *help, const char *const *label_names, size_t nlabels,
                          const double *buckets, size_t nbuckets, ceb_metric **out);
/* Updates: label_values holds nlabels strings (NULL entries mean ""); the
   series is created on first use. Calls that do not fit the kind (set on a
   counter, a negative or NaN add to a counter, observe on a gauge, ...)
   are ignored, as is a sample when memory runs out. */
void ceb_metric_add(ceb_metric *metric, const char *const *label_values, double v);
void ceb_metric_set(ceb_metric *metric, const char *const *label_values, double v);
void ceb_metric_observe(ceb_metric *metric, const char *const *label_values, double v);
/* A handle on one series of `metric` (created on first use, as above) for
   repeated updates without the lookup: valid until ceb_metrics_free().
   NULL when `metric` is NULL, label_values is missing or memory ran out;
   ceb_metric_series_observe() ignores a NULL series like an ignored
   sample. Observing through the handle is ceb_metric_observe() exactly. */
typedef struct ceb_series ceb_metric_series;
ceb_metric_series *ceb_metric_series_get(ceb_metric *metric, const char *const *label_values);
void ceb_metric_series_observe(ceb_metric *metric, ceb_metric_series *series, double v);
/* Current value of one series (counter/gauge; histogram: sample count), 0 when absent. For tests. */
double ceb_metric_value(const ceb_metric *metric, const char *const *label_values);

/* Prometheus text exposition format 0.0.4, appended to `out`: metrics in
   name order, each "# HELP" (omitted for an empty help) and "# TYPE", then
   its series in label-value order; histograms as _bucket{...,le="..."}
   (cumulative, "+Inf" last), _sum, _count. A labelled metric with no series
   yet is omitted; an unlabelled one shows 0 from registration. Values in
   the shortest form that reads back exactly (10, 0.25, 1e+21, +Inf, NaN).
   Returns 0 or CEB_ENOMEM. */
int  ceb_metrics_render(const ceb_metrics *m, ceb_buf *out);

#endif
