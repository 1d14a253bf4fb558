/*
 * spool.h -- transactions the source streams before they commit, kept on
 * disk until their commit or abort arrives.
 *
 * With pgoutput's streaming on, a large transaction reaches us in pieces
 * while it is still running, interleaved with other transactions.  Each
 * piece is appended to the transaction's spool file; the commit replays
 * the file through the applier in order; an abort deletes it, and a
 * subtransaction's abort cuts the file back to where that subtransaction
 * began (a subtransaction's changes are contiguous and follow all earlier
 * changes of its parent).  Memory stays bounded by the stdio buffer,
 * whatever the size of the transaction.
 */
#ifndef TALLY_SYNC_SPOOL_H
#define TALLY_SYNC_SPOOL_H

#include <stddef.h>

#include "sync/decode.h"
#include "sync/pg.h"

typedef struct SyncSpoolSet SyncSpoolSet;

/*
 * Opens the set of spools in dir (created if missing) for slot, deleting
 * files a previous run left: the source streams those transactions again.
 * Returns NULL after filling error.
 */
SyncSpoolSet *sync_spool_set_open(const char *dir, const char *slot, SyncError *error);
void		sync_spool_set_close(SyncSpoolSet *set);

/* Starts (first_segment) or continues the spool of transaction xid. */
int			sync_spool_begin(SyncSpoolSet *set, SyncXid xid, bool first_segment,
							 SyncError *error);

/* Appends one message of (sub)transaction subxid to transaction xid's spool. */
int			sync_spool_append(SyncSpoolSet *set, SyncXid xid, SyncXid subxid,
							  const char *data, size_t len, SyncError *error);

/* Forgets subtransaction subxid of xid, or all of xid when subxid == xid. */
int			sync_spool_abort(SyncSpoolSet *set, SyncXid xid, SyncXid subxid, SyncError *error);

/*
 * Calls apply for every message of xid's spool in order, then deletes the
 * spool.  apply returns 0 or -1 (after filling error).  A transaction
 * with nothing spooled is valid and applies nothing.
 */
int			sync_spool_replay(SyncSpoolSet *set, SyncXid xid,
							  int (*apply) (void *arg, const char *data, size_t len,
											SyncError *error),
							  void *arg, SyncError *error);

/* Bytes currently spooled over all transactions. */
long long	sync_spool_bytes(const SyncSpoolSet *set);

#endif
