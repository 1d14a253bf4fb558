/*
 * apply.h -- applies decoded changes to the target, several source
 * transactions per target transaction.
 *
 * Inserts go through COPY; an UPDATE or DELETE is matched on the replica
 * identity; unchanged TOASTed columns are left alone.  The end position of
 * the last source commit of a batch is written to _tally_sync.slots in the
 * batch's own transaction.
 */
#ifndef TALLY_SYNC_APPLY_H
#define TALLY_SYNC_APPLY_H

#include "sync/decode.h"
#include "sync/pg.h"
#include "sync/source.h"

typedef struct SyncApplier SyncApplier;

/*
 * Creates an applier writing into target.  source is an ordinary
 * connection to the source, used to name the types of added columns.
 * tables says which tables are replicated.  Changes of transactions that
 * committed before start are skipped: the target has them.  Returns NULL
 * when out of memory.  The caller keeps ownership of everything passed in.
 */
SyncApplier *sync_applier_create(PGconn *target, PGconn *source, const char *slot,
								 SyncTableList *tables, SyncLsn start);
void		sync_applier_free(SyncApplier *applier);

/* Applies one message.  Returns 0, or -1 after filling error. */
int			sync_apply_message(SyncApplier *applier, const SyncMessage *message,
							   SyncError *error);

/* Whether a source transaction is open (between BEGIN and COMMIT). */
bool		sync_apply_in_source_transaction(const SyncApplier *applier);

/* Source transactions applied but not yet committed on the target. */
int			sync_apply_pending_transactions(const SyncApplier *applier);

/* Rows applied in the open batch. */
long		sync_apply_pending_rows(const SyncApplier *applier);

/*
 * Commits the batch of whole source transactions applied so far, and
 * returns in *committed the position the target is known to hold.  The
 * commit goes into the target's pipeline: with wait, it returns once the
 * target has committed it; without, once the batch before it is committed,
 * so that the target works on one batch while the next is read, and
 * *committed may still be short of this batch.  Must not be called inside
 * a source transaction.
 */
int			sync_apply_commit(SyncApplier *applier, bool wait, SyncLsn *committed, SyncError *error);

/* Whether a batch sent to the target has not been confirmed committed yet. */
bool		sync_apply_committing(const SyncApplier *applier);

/*
 * Records lsn as the target's position without data (the source has been
 * idle up to there), so that the slot may be confirmed that far.  Waits
 * for a batch still committing first.
 */
int			sync_apply_advance(SyncApplier *applier, SyncLsn lsn, SyncError *error);

/* Position committed on the target. */
SyncLsn		sync_apply_committed(const SyncApplier *applier);

/* Source commit time of the last transaction committed on the target, or 0. */
SyncTimestamp sync_apply_committed_time(const SyncApplier *applier);

#endif
