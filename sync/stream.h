/*
 * stream.h -- the replication connection: slot creation, START_REPLICATION,
 * the CopyBoth message loop and standby status feedback.
 *
 * Modelled on pg_recvlogical: the position received and the position the
 * target has committed (flushed) are tracked apart, and only the latter is
 * ever confirmed to the server.
 */
#ifndef TALLY_SYNC_STREAM_H
#define TALLY_SYNC_STREAM_H

#include <stddef.h>

#include "sync/decode.h"
#include "sync/pg.h"

typedef struct SyncStream
{
	PGconn	   *conn;
	char	   *buffer;			/* the last CopyData message, owned by libpq */
	SyncLsn		received;		/* end of the WAL the server has sent us */
	SyncLsn		flushed;		/* committed on the target: safe to confirm */
	SyncLsn		server_wal_end; /* the server's position in its last message */
	long long	last_feedback_us;
	bool		reply_requested;
	bool		flowing;		/* the last read found data: more is likely on its way */
} SyncStream;

typedef struct SyncSlotInfo
{
	SyncLsn		consistent_point;
	char		snapshot_name[64];
} SyncSlotInfo;

/* Identifies the server: its system identifier (IDENTIFY_SYSTEM). */
int			sync_stream_identify(PGconn *replication, char *system_identifier,
								 size_t len, SyncError *error);

/*
 * Creates a pgoutput slot exporting its snapshot.  The snapshot is usable
 * by other sessions only until the next command on this connection.
 */
int			sync_stream_create_slot(PGconn *replication, const char *slot,
									SyncSlotInfo *info, SyncError *error);

/* Starts streaming the slot's changes from start. */
int			sync_stream_start(SyncStream *stream, PGconn *replication, const char *slot,
							  const char *publication, SyncLsn start, SyncError *error);

/*
 * Waits up to timeout_ms for the next pgoutput message.  Returns 1 with the
 * payload in *data and *len (valid until the next call), 0 on timeout or
 * after a keepalive (which updates server_wal_end, and may set
 * reply_requested: the caller answers with sync_stream_send_feedback), -1
 * on error or when the server
 * ended the stream.  Sends feedback every few seconds by itself.
 */
int			sync_stream_next(SyncStream *stream, int timeout_ms, const char **data,
							 size_t *len, SyncError *error);

/* Records that the target has committed everything up to lsn. */
void		sync_stream_set_flushed(SyncStream *stream, SyncLsn lsn);

/* Sends standby status feedback now. */
int			sync_stream_send_feedback(SyncStream *stream, SyncError *error);

/* Ends the CopyBoth stream cleanly and frees the stream's buffers. */
void		sync_stream_end(SyncStream *stream);

/* Microseconds on a monotonic clock. */
long long	sync_now_us(void);

/* The wall clock as PostgreSQL sends times: microseconds since 2000-01-01 UTC. */
long long	sync_postgres_now(void);

#endif
