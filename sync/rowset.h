/*
 * rowset.h -- one table's changes within a batch, folded to one final state
 * per key.
 *
 * The applier writes a batch set-wise rather than a statement per change:
 * the rows that may be on the target are deleted by key in one statement,
 * then every final row image goes in by one COPY.  For that a batch must
 * hold at most one state per key, which is what this module keeps: an
 * insert, the updates that follow it and a delete fold into the last of
 * them, an update's unchanged TOASTed values are filled from an earlier
 * image of the row where the batch has one.  A change that cannot fold (it
 * contradicts the state it meets, or it needs values only the target has)
 * is refused; the caller writes what the set holds, then applies that
 * change by itself.
 *
 * Without a key (REPLICA IDENTITY FULL) a set only collects inserts, and
 * refuses every update and delete.
 *
 * The set copies what it keeps: the tuples given to it may be freed after
 * the call.
 */
#ifndef TALLY_SYNC_ROWSET_H
#define TALLY_SYNC_ROWSET_H

#include <stdbool.h>
#include <stddef.h>

#include "sync/decode.h"

typedef enum SyncRowState
{
	SYNC_ROW_IMAGE = 'i',		/* every value known */
	SYNC_ROW_PARTIAL = 'p',		/* updated; UNCHANGED values are the target's */
	SYNC_ROW_DELETED = 'd'		/* gone; only the key values are kept */
} SyncRowState;

typedef struct SyncRow
{
	SyncRowState state;
	/*
	 * The target may hold the row as it was before the batch (the first
	 * change the batch saw of it was an update or a delete): it is deleted
	 * before the images are written.
	 */
	bool		on_target;
	SyncValue  *values;			/* one per column */
} SyncRow;

/* What a change did to a set. */
typedef enum SyncFold
{
	SYNC_FOLD_ERROR = -1,		/* out of memory; the set is unchanged */
	SYNC_FOLDED = 0,
	SYNC_FOLD_REFUSED = 1		/* the set is unchanged: write it, then apply the change alone */
} SyncFold;

typedef struct SyncRowSet SyncRowSet;

/*
 * A set for rows of ncolumns columns; is_key marks the replica identity's
 * columns, or is NULL for a table without a key.  NULL when out of memory.
 */
extern SyncRowSet *sync_rowset_create(int ncolumns, const bool *is_key);
extern void sync_rowset_free(SyncRowSet *set);
extern void sync_rowset_clear(SyncRowSet *set);

extern SyncFold sync_rowset_insert(SyncRowSet *set, const SyncTuple *new);
/* old is the UPDATE's old tuple (key or full), or NULL when it has none */
extern SyncFold sync_rowset_update(SyncRowSet *set, const SyncTuple *old, const SyncTuple *new);
extern SyncFold sync_rowset_delete(SyncRowSet *set, const SyncTuple *old);

/* Rows held, in the order their keys were first changed. */
extern long sync_rowset_count(const SyncRowSet *set);
extern const SyncRow *sync_rowset_row(const SyncRowSet *set, long i);
/* Memory held by the rows' values, in bytes. */
extern size_t sync_rowset_bytes(const SyncRowSet *set);

#endif
