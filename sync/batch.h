/*
 * batch.h -- mode = batch: pulling a table's changed rows on a watermark.
 *
 * Each pull reads, in one source transaction, the rows whose (watermark,
 * key) passed the stored one, in that order, and upserts them into the
 * target in one target transaction together with the new watermark.  It
 * needs only SELECT on the source, so a read replica will do.  Deletes are
 * not seen.
 */
#ifndef TALLY_SYNC_BATCH_H
#define TALLY_SYNC_BATCH_H

#include "sync/pg.h"
#include "sync/source.h"

/*
 * Checks that a batch table can be pulled: a key to upsert on and the
 * watermark column.  Returns 0, or -1 with error status 2.
 */
int			sync_batch_check(const SyncTableDef *table, SyncError *error);

/*
 * Pulls the rows of table changed since the stored watermark (all rows the
 * first time) into the target.  *rows is set to the rows pulled.
 */
int			sync_batch_pull(PGconn *source, PGconn *target, const char *slot,
							const SyncTableDef *table, long *rows, SyncError *error);

#endif
