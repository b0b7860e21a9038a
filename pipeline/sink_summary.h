/*
 * sink_summary.h - `scan --summary`: a sink that feeds every batch to a
 * per-IOC summary (summary.h) as the collector writes it, then hands the
 * batch on to the real output, if there is one.
 *
 * Sits in front of the sink the scan writes to (sink.h); the pipeline sees
 * one sink. With an output, its format, positions and acknowledgements are
 * the output's; without one (the summary alone), batches are msgpack and
 * acknowledged at once. A batch written again after its output failed is
 * not counted twice. Driven by the collector thread only, like any sink.
 */
#ifndef IOCS_SINK_SUMMARY_H
#define IOCS_SINK_SUMMARY_H

#include "pipeline/sink.h"
#include "pipeline/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Make a sink that adds each batch to sum, then writes it to out (NULL:
 * nowhere). The new sink owns out (closing it closes out); sum stays the
 * caller's and must outlive it. Returns 0 or -ENOMEM (out is then still
 * the caller's).
 */
int iocs_sink_summary_open(struct iocs_sink **sink, struct iocs_sink *out,
                           struct iocs_summary *sum);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_SINK_SUMMARY_H */
