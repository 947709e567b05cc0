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
   match. CEB_EINVAL for a bad name or a clash. */
int  ceb_metrics_register(ceb_metrics *m, ceb_metric_kind kind, const char *name,
                          const char *help, const char *const *label_names, size_t nlabels,
                          const double *buckets, size_t nbuckets, ceb_metric **out);
void ceb_metric_add(ceb_metric *metric, const char *const *label_values, double v);
void ceb_metric_set(ceb_metric *metric, const char *const *label_values, double v);
void ceb_metric_observe(ceb_metric *metric, const char *const *label_values, double v);
/* Current value of one series (counter/gauge; histogram: sample count), 0 when absent. For tests. */
double ceb_metric_value(const ceb_metric *metric, const char *const *label_values);

/* Prometheus text exposition format 0.0.4, appended to `out`. */
int  ceb_metrics_render(const ceb_metrics *m, ceb_buf *out);

#endif
