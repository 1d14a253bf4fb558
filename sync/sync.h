/*
 * sync.h -- tally sync and tally status: the entry points of the pipeline.
 */
#ifndef TALLY_SYNC_SYNC_H
#define TALLY_SYNC_SYNC_H

#include "sync/config.h"

typedef struct SyncOptions
{
	bool		once;			/* apply up to the source's current WAL position, then exit */
	bool		resync;			/* drop the slot and the stored position, snapshot again */
} SyncOptions;

/*
 * Runs the pipeline until SIGTERM or SIGINT (or, with once, until caught
 * up).  Returns the process exit status: 0 on a clean stop, 1 on an error
 * (logged), 2 when the configuration or the source is unusable as it is.
 */
int			sync_run(const SyncConfig *config, const SyncOptions *options);

/* Prints one line per table to stdout; returns the exit status. */
int			sync_status(const SyncConfig *config);

#endif
