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
 * Copies the CDC tables of the list as of snapshot_name, the snapshot the
 * replication slot exported.  Each table is emptied first; each piece (a
 * table, or a range of a large table's blocks) is filled in its own target
 * transaction.  Returns 0 or -1.
 */
int			sync_snapshot_copy(const SyncConfig *config, SyncTableList *tables,
							   const char *snapshot_name, SyncError *error);

#endif
