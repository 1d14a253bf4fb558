/*
 * snapshot.h -- the initial copy of the source's tables.
 *
 * Workers, each with its own pair of connections, take tables from a
 * shared queue (largest first) and pipe binary COPY out of the source into
 * COPY into the target, every source transaction importing the same
 * snapshot, the one the replication slot exported at its consistent point.
 */
#ifndef TALLY_SYNC_SNAPSHOT_H
#define TALLY_SYNC_SNAPSHOT_H

#include "sync/config.h"
#include "sync/pg.h"
#include "sync/source.h"

/*
 * Copies the given tables as of snapshot_name (NULL: a fresh snapshot of
 * each worker's own, for batch mode's first pull).  Each table is emptied
 * and filled in one target transaction.  Returns 0 or -1.
 */
int			sync_snapshot_copy(const SyncConfig *config, SyncTableList *tables,
							   SyncMode mode, const char *snapshot_name, SyncError *error);

#endif
