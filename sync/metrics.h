/*
 * metrics.h -- tally sync's counters, served as Prometheus text.
 *
 * The counters are process-wide and thread-safe: the snapshot's workers
 * and the apply loop both count.  sync_metrics_serve() starts an HTTP
 * server (libmicrohttpd, its own thread) answering GET /metrics.
 */
#ifndef TALLY_SYNC_METRICS_H
#define TALLY_SYNC_METRICS_H

#include <stddef.h>

#include "sync/pg.h"

/* Starts serving on port (all interfaces).  Returns 0, or -1 with error. */
int			sync_metrics_serve(int port, SyncError *error);
void		sync_metrics_stop(void);

/* rows applied to table (schema.name) in mode "cdc" or "batch" */
void		sync_metrics_add_rows(const char *schema, const char *name, const char *mode, long rows);
void		sync_metrics_add_batch(void);
void		sync_metrics_add_error(void);

/*
 * The source's position minus the target's, in bytes, and the time from
 * the source's commit of the last applied transaction to its commit on the
 * target (0 when caught up).
 */
void		sync_metrics_set_lag(long long bytes, double seconds);

/* The Prometheus text of the counters; the caller frees it. */
char	   *sync_metrics_render(void);

#endif
