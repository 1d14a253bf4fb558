/*
 * target.h -- the target database: tally sync's own state there, and the
 * tables it fills.
 *
 * The state lives in schema _tally_sync of the target, so that the source
 * position of the last applied change commits in the same transaction as
 * the change itself: that is what makes a restart exactly-once.
 */
#ifndef TALLY_SYNC_TARGET_H
#define TALLY_SYNC_TARGET_H

#include "sync/decode.h"
#include "sync/pg.h"
#include "sync/source.h"

/* Where a slot's pipeline stands, as the target has committed it. */
typedef struct SyncPosition
{
	bool		exists;			/* a row for the slot exists */
	bool		snapshot_done;	/* the initial copy has committed */
	SyncLsn		lsn;			/* end of the last applied source commit */
	char		system_identifier[32];	/* of the source */
} SyncPosition;

/* Creates _tally_sync and its tables when missing. */
int			sync_target_prepare(PGconn *target, SyncError *error);

int			sync_target_read_position(PGconn *target, const char *slot,
									  SyncPosition *position, SyncError *error);

/*
 * Starts a slot's CDC pipeline over: forgets its position and its CDC
 * tables' rows and state (not their data).
 */
int			sync_target_reset(PGconn *target, const char *slot,
							  const char *system_identifier, SyncError *error);

/* Forgets the watermarks of a slot's batch tables: the next pull reads every row. */
int			sync_target_forget_watermarks(PGconn *target, const char *slot, SyncError *error);

/*
 * Records the position in the caller's open transaction, with the source
 * commit time of the last transaction applied (0: unchanged).
 * snapshot_done marks the initial snapshot as committed.
 */
int			sync_target_write_position(PGconn *target, const char *slot, SyncLsn lsn,
									   SyncTimestamp commit_time, bool snapshot_done,
									   SyncError *error);

/*
 * The same, sent into the target's pipeline (libpq pipeline mode) without
 * the snapshot flag; the caller reads the result and passes it to
 * sync_target_check_position().
 */
int			sync_target_send_position(PGconn *target, const char *slot, SyncLsn lsn,
									  SyncTimestamp commit_time, SyncError *error);
int			sync_target_check_position(PGresult *result, const char *slot, SyncError *error);

/* Records a table's state ("snapshotting", "streaming", "batch", "stopped"). */
int			sync_target_set_table_state(PGconn *target, const char *slot,
										const SyncTableDef *table, const char *state,
										const char *last_error, SyncError *error);

/* Adds rows to a table's count of applied rows, in the caller's transaction. */
int			sync_target_add_rows(PGconn *target, const char *slot, const SyncTableDef *table,
								 long rows, SyncError *error);
/* The same, sent into the target's pipeline; the caller reads the result. */
int			sync_target_send_add_rows(PGconn *target, const char *slot, const SyncTableDef *table,
									  long rows, SyncError *error);

/*
 * Creates the table on the target when missing, with the source's column
 * types, NOT NULL and key; as a hypertable when its [table] section says so.
 * An existing table must have the same columns and types.
 */
int			sync_target_create_table(PGconn *target, const SyncTableDef *table,
									 SyncError *error);

#endif
