/*
 * sync.c -- tally sync: the pipeline from start to stop.
 *
 * A session connects both sides, checks the source, brings the target to
 * a known position (the initial snapshot, or the position it committed
 * last time, compared with the slot's), then streams.  A session that
 * fails for a reason a retry may cure (a lost connection, a restarted
 * server) is started again after a backoff; nothing it did is lost or
 * repeated, since the target's position moves only with its data.
 */
#include "sync/sync.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "sync/apply.h"
#include "sync/batch.h"
#include "sync/debug.h"
#include "sync/decode.h"
#include "sync/metrics.h"
#include "sync/pg.h"
#include "sync/snapshot.h"
#include "sync/source.h"
#include "sync/spool.h"
#include "sync/stream.h"
#include "sync/target.h"

/*
 * A batch commits when the source has sent nothing more for BATCH_LINGER_MS,
 * or at these sizes.  Committing the moment the socket is empty made
 * batches of a few transactions whenever decoding ran slower than apply,
 * and each commit is a pipeline sync, three round trips and a WAL flush.
 */
#define BATCH_MAX_ROWS 100000
#define BATCH_MAX_US 500000LL
#define BATCH_LINGER_MS 20
/* An idle source's position is recorded (and its slot confirmed) this often. */
#define HEARTBEAT_US 10000000LL

static volatile sig_atomic_t stop_requested = 0;

static void
handle_stop(int signo)
{
	(void) signo;
	stop_requested = 1;
}

typedef struct Session
{
	const SyncConfig *config;
	const SyncOptions *options;
	PGconn	   *source;
	PGconn	   *target;
	PGconn	   *replication;
	SyncTableList tables;
	SyncApplier *applier;
	SyncStream	stream;
	bool		streaming;
	SyncSpoolSet *spools;		/* transactions streamed before their commit */
	SyncXid		stream_xid;		/* the one whose block is open, or 0 */
	SyncDecoder *replay_decoder;
	long long	next_pull_us;	/* when batch tables are pulled next */
	char		system_identifier[32];
} Session;

typedef struct SlotState
{
	bool		exists;
	bool		lost;
	SyncLsn		confirmed;
	char		database[128];
} SlotState;

static int
read_slot(Session *session, SlotState *slot, SyncError *error)
{
	const char *params[1] = {session->config->slot};
	PGresult   *result;

	memset(slot, 0, sizeof(*slot));
	result = pg_query_params(session->source,
							 "SELECT coalesce(confirmed_flush_lsn, '0/0')::text, "
							 "       coalesce(wal_status = 'lost', false), database, plugin "
							 "  FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
							 1, params, PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	if (PQntuples(result) == 1)
	{
		slot->exists = true;
		sync_lsn_parse(PQgetvalue(result, 0, 0), &slot->confirmed);
		slot->lost = PQgetvalue(result, 0, 1)[0] == 't';
		snprintf(slot->database, sizeof(slot->database), "%s", PQgetvalue(result, 0, 2));
		if (strcmp(PQgetvalue(result, 0, 3), "pgoutput") != 0)
		{
			sync_fail(error, 2,
					  "replication slot \"%s\" on the source uses plugin %s, not pgoutput; "
					  "set another slot name in [source] slot",
					  session->config->slot, PQgetvalue(result, 0, 3));
			PQclear(result);
			return -1;
		}
	}
	PQclear(result);
	return 0;
}

static int
drop_slot(Session *session, SyncError *error)
{
	const char *params[1] = {session->config->slot};
	PGresult   *result;

	result = pg_query_params(session->source,
							 "SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
							 "  FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
							 1, params, PGRES_TUPLES_OK, error);
	PQclear(result);
	return result ? 0 : -1;
}

/*
 * Creates the slot and copies every CDC table as of its snapshot; the
 * target then holds the slot's consistent point.
 */
static int
take_snapshot(Session *session, SyncError *error)
{
	SyncSlotInfo info;
	char		lsn[20];

	if (sync_target_reset(session->target, session->config->slot, session->system_identifier,
						  error) != 0)
		return -1;
	for (int i = 0; i < session->tables.count; i++)
		if (session->tables.tables[i].mode == SYNC_MODE_CDC &&
			sync_target_set_table_state(session->target, session->config->slot,
										&session->tables.tables[i], "snapshotting", NULL,
										error) != 0)
			return -1;
	if (sync_stream_create_slot(session->replication, session->config->slot, &info, error) != 0)
		return -1;
	sync_lsn_format(info.consistent_point, lsn);
	log_event(LOG_INFO, "slot_created", "slot=%s consistent_point=%s snapshot=%s",
			  session->config->slot, lsn, info.snapshot_name);
	if (sync_snapshot_copy(session->config, &session->tables, info.snapshot_name, error) != 0)
		return -1;
	return sync_target_write_position(session->target, session->config->slot,
									  info.consistent_point, 0, true, error);
}

/*
 * Brings the target to a position the slot can continue from: the
 * committed one, or a fresh snapshot.  A gap between the two is refused.
 */
static int
establish_position(Session *session, SyncLsn *start, SyncError *error)
{
	const char *slot_name = session->config->slot;
	SyncPosition position;
	SlotState	slot;
	char		have[20];
	char		confirmed[20];

	if (sync_target_read_position(session->target, slot_name, &position, error) != 0 ||
		read_slot(session, &slot, error) != 0)
		return -1;
	if (session->options->resync && (position.exists || slot.exists))
	{
		log_event(LOG_WARNING, "resync", "slot=%s detail=%s", slot_name,
				  log_quote("dropping the slot and the stored position; every table is copied again"));
		if (drop_slot(session, error) != 0)
			return -1;
		slot.exists = false;
		position.snapshot_done = false;
		position.exists = false;
	}

	if (position.exists &&
		strcmp(position.system_identifier, session->system_identifier) != 0)
		return sync_fail(error, 2,
						 "the target holds slot \"%s\" of another source server (system identifier %s, "
						 "this source is %s); use another slot name, or start over with --resync",
						 slot_name, position.system_identifier, session->system_identifier);

	if (!position.snapshot_done)
	{
		if (slot.exists && !position.exists)
			return sync_fail(error, 2,
							 "replication slot \"%s\" already exists on the source, but the target "
							 "has no record of it: it belongs to something else, or the target was "
							 "emptied. Choose another slot name in [source] slot, or run "
							 "tally sync --resync to drop it and copy every table again",
							 slot_name);
		if (slot.exists)
		{
			log_event(LOG_WARNING, "snapshot_restart", "slot=%s detail=%s", slot_name,
					  log_quote("the last initial copy was interrupted; starting it again"));
			if (drop_slot(session, error) != 0)
				return -1;
		}
		if (take_snapshot(session, error) != 0)
			return -1;
		return sync_target_read_position(session->target, slot_name, &position, error) == 0
			? (*start = position.lsn, 0) : -1;
	}

	sync_lsn_format(position.lsn, have);
	sync_lsn_format(slot.confirmed, confirmed);
	if (!slot.exists || slot.lost)
		return sync_fail(error, 2,
						 "replication slot \"%s\" %s on the source, so the changes after %s, where "
						 "the target stands, cannot be streamed. Run tally sync --resync to copy "
						 "every table again",
						 slot_name, slot.exists ? "has lost required WAL" : "does not exist", have);
	if (slot.confirmed > position.lsn)
		return sync_fail(error, 2,
						 "replication slot \"%s\" was confirmed up to %s, but the target has applied "
						 "changes only up to %s: the changes in between are gone from the slot. "
						 "Run tally sync --resync to copy every table again",
						 slot_name, confirmed, have);
	*start = position.lsn;
	return 0;
}

static int
current_wal_lsn(PGconn *source, SyncLsn *lsn, SyncError *error)
{
	PGresult   *result = pg_query(source, "SELECT pg_catalog.pg_current_wal_lsn()::text",
								  PGRES_TUPLES_OK, error);

	if (result == NULL)
		return -1;
	sync_lsn_parse(PQgetvalue(result, 0, 0), lsn);
	PQclear(result);
	return 0;
}

/* Publishes how far behind the source the target is. */
static void
update_lag(Session *session)
{
	SyncLsn		committed = sync_apply_committed(session->applier);
	SyncLsn		source = session->stream.server_wal_end;
	SyncTimestamp commit_time = sync_apply_committed_time(session->applier);
	bool		caught_up = source <= committed && !sync_apply_in_source_transaction(session->applier);
	double		seconds = 0;

	if (!caught_up && commit_time != 0)
		seconds = (sync_postgres_now() - commit_time) / 1e6;
	sync_metrics_set_lag(source > committed ? (long long) (source - committed) : 0,
						 seconds > 0 ? seconds : 0);
}

/*
 * Commits the open batch (with wait, waits until the target has) and tells
 * the source how far the target is.
 */
static int
commit_batch(Session *session, bool wait, SyncError *error)
{
	SyncLsn		before = sync_apply_committed(session->applier);
	SyncLsn		committed;
	long		rows = sync_apply_pending_rows(session->applier);
	int			txns = sync_apply_pending_transactions(session->applier);

	if (sync_apply_commit(session->applier, wait, &committed, error) != 0)
		return -1;
	update_lag(session);
	if (committed > before)
		sync_debug_point("batch_committed");
	sync_stream_set_flushed(&session->stream, committed);
	if (txns > 0)
	{
		char		lsn[20];

		sync_lsn_format(committed, lsn);
		log_event(LOG_DEBUG, "batch_sent", "transactions=%d rows=%ld committed=%s", txns, rows, lsn);
	}
	return sync_stream_send_feedback(&session->stream, error);
}

/* Pulls every batch table once. */
static int
pull_batch_tables(Session *session, SyncError *error)
{
	for (int i = 0; i < session->tables.count; i++)
	{
		const SyncTableDef *table = &session->tables.tables[i];
		long		rows;
		long long	started = sync_now_us();

		if (table->mode != SYNC_MODE_BATCH)
			continue;
		if (sync_batch_pull(session->source, session->target, session->config->slot, table,
							&rows, error) != 0)
			return -1;
		sync_metrics_add_rows(table->schema, table->name, "batch", rows);
		log_event(rows > 0 ? LOG_INFO : LOG_DEBUG, "batch_pulled", "table=%s rows=%ld ms=%.1f",
				  log_quote(table->qualified), rows, (sync_now_us() - started) / 1000.0);
	}
	session->next_pull_us = sync_now_us() + (long long) session->config->batch_interval_ms * 1000;
	return 0;
}

static bool
has_mode(const SyncTableList *tables, SyncMode mode)
{
	for (int i = 0; i < tables->count; i++)
		if (tables->tables[i].mode == mode)
			return true;
	return false;
}

/* Without CDC tables: after the first pull, pull on the schedule until stopped. */
static int
pull_only(Session *session, SyncError *error)
{
	while (!session->options->once)
	{
		while (!stop_requested && sync_now_us() < session->next_pull_us)
			usleep(100 * 1000);
		if (stop_requested)
			break;
		if (pull_batch_tables(session, error) != 0)
			return -1;
	}
	return 0;
}

static int
replay_message(void *arg, const char *data, size_t len, SyncError *error)
{
	Session    *session = arg;
	SyncMessage message;

	/* spooled messages were written inside stream blocks, with their xid */
	session->replay_decoder->in_stream = true;
	if (sync_decode(session->replay_decoder, data, len, &message) != 0)
		return sync_fail(error, 1, "could not decode a spooled message: %s",
						 session->replay_decoder->error);
	return sync_apply_message(session->applier, &message, error);
}

/*
 * Takes one decoded message: messages of streamed transactions go to their
 * spool until the transaction's commit replays them; the rest are applied.
 */
static int
handle_message(Session *session, const SyncMessage *message, const char *data, size_t len,
			   SyncError *error)
{
	SyncMessage begin = {.kind = SYNC_MSG_BEGIN};
	SyncMessage commit = {.kind = SYNC_MSG_COMMIT};

	switch (message->kind)
	{
		case SYNC_MSG_STREAM_START:
			session->stream_xid = message->xid;
			return sync_spool_begin(session->spools, message->xid,
									message->u.stream_start.first_segment, error);
		case SYNC_MSG_STREAM_STOP:
			session->stream_xid = 0;
			return 0;
		case SYNC_MSG_STREAM_ABORT:
			return sync_spool_abort(session->spools, message->xid,
									message->u.stream_abort.subxid, error);
		case SYNC_MSG_STREAM_COMMIT:
			begin.u.begin.final_lsn = message->u.commit.commit_lsn;
			begin.u.begin.commit_time = message->u.commit.commit_time;
			commit.u.commit = message->u.commit;
			if (sync_apply_message(session->applier, &begin, error) != 0 ||
				sync_spool_replay(session->spools, message->xid, replay_message, session,
								  error) != 0)
				return -1;
			return sync_apply_message(session->applier, &commit, error);
		default:
			if (message->in_stream)
				return sync_spool_append(session->spools, session->stream_xid,
										 message->xid, data, len, error);
			return sync_apply_message(session->applier, message, error);
	}
}

static int
stream_changes(Session *session, SyncLsn start, SyncError *error)
{
	SyncDecoder *decoder = malloc(sizeof(SyncDecoder));
	SyncLsn		end = 0;
	long long	batch_started = 0;
	long long	last_heartbeat = sync_now_us();
	int			rc = -1;

	session->replay_decoder = calloc(1, sizeof(SyncDecoder));
	if (decoder == NULL || session->replay_decoder == NULL)
	{
		free(decoder);
		return sync_fail(error, 1, "out of memory");
	}
	sync_decoder_init(decoder);
	sync_decoder_init(session->replay_decoder);
	session->spools = sync_spool_set_open(session->config->spool_directory,
										  session->config->slot, error);
	if (session->spools == NULL)
		goto done;
	if (session->options->once && current_wal_lsn(session->source, &end, error) != 0)
		goto done;
	session->applier = sync_applier_create(session->target, session->source,
										   session->config->slot, &session->tables, start);
	if (session->applier == NULL)
	{
		sync_fail(error, 1, "out of memory");
		goto done;
	}
	if (sync_stream_start(&session->stream, session->replication, session->config->slot,
						  session->config->publication, start, error) != 0)
		goto done;
	session->streaming = true;
	{
		char		from[20];

		sync_lsn_format(start, from);
		log_event(LOG_INFO, "streaming", "slot=%s from=%s", session->config->slot, from);
	}

	for (;;)
	{
		bool		in_txn = sync_apply_in_source_transaction(session->applier);
		int			pending = sync_apply_pending_transactions(session->applier);
		const char *data;
		size_t		len;
		SyncMessage message;
		int			got;

		if (!in_txn && (stop_requested ||
						(session->options->once && session->stream.server_wal_end >= end &&
						 session->stream.server_wal_end > 0)))
		{
			if (commit_batch(session, true, error) != 0)
				goto done;
			rc = 0;
			break;
		}
		if (!in_txn && pending == 0 && session->next_pull_us != 0 &&
			sync_now_us() >= session->next_pull_us && !session->options->once)
		{
			/* the pulls use the target connection: the last batch must be done */
			if (commit_batch(session, true, error) != 0 || pull_batch_tables(session, error) != 0)
				goto done;
			continue;
		}
		if (!in_txn && pending > 0 &&
			(sync_apply_pending_rows(session->applier) >= BATCH_MAX_ROWS ||
			 sync_now_us() - batch_started >= BATCH_MAX_US))
		{
			if (commit_batch(session, false, error) != 0)
				goto done;
			continue;
		}

		/*
		 * With a batch open and nothing more to read for a moment, commit
		 * it; with one committing, see it done.
		 */
		got = sync_stream_next(&session->stream,
							   (pending > 0 || sync_apply_committing(session->applier)) && !in_txn
							   ? BATCH_LINGER_MS : 1000,
							   &data, &len, error);
		if (got < 0)
			goto done;
		if (got == 0)
		{
			bool		idle = !in_txn && pending == 0;

			if (!in_txn && (pending > 0 || sync_apply_committing(session->applier)))
			{
				/* the source is quiet: no reason not to wait for the target */
				if (commit_batch(session, true, error) != 0)
					goto done;
			}
			else if (idle && session->stream.server_wal_end > sync_apply_committed(session->applier) &&
					 (session->stream.reply_requested ||
					  sync_now_us() - last_heartbeat >= HEARTBEAT_US))
			{
				/*
				 * Nothing is in flight and the source has sent everything up
				 * to server_wal_end: record that position on the target, so
				 * that the slot can be confirmed that far and release WAL (and
				 * a shutting-down source, which waits for its walsenders'
				 * clients to confirm everything, is not kept waiting).
				 */
				if (sync_apply_advance(session->applier, session->stream.server_wal_end, error) != 0)
					goto done;
				sync_stream_set_flushed(&session->stream, sync_apply_committed(session->applier));
				if (sync_stream_send_feedback(&session->stream, error) != 0)
					goto done;
				update_lag(session);
				last_heartbeat = sync_now_us();
			}
			else if (session->stream.reply_requested &&
					 sync_stream_send_feedback(&session->stream, error) != 0)
				goto done;
			continue;
		}
		if (sync_decode(decoder, data, len, &message) != 0)
		{
			sync_fail(error, 1, "could not decode a message from the source: %s", decoder->error);
			goto done;
		}
		if ((message.kind == SYNC_MSG_BEGIN || message.kind == SYNC_MSG_STREAM_COMMIT) &&
			pending == 0)
			batch_started = sync_now_us();
		if (handle_message(session, &message, data, len, error) != 0)
			goto done;
		sync_debug_point("change_applied");
		last_heartbeat = sync_now_us();
	}

done:
	sync_decoder_free(decoder);
	free(decoder);
	return rc;
}

static void
end_session(Session *session)
{
	if (session->streaming)
		sync_stream_end(&session->stream);
	sync_applier_free(session->applier);
	sync_spool_set_close(session->spools);
	if (session->replay_decoder != NULL)
		sync_decoder_free(session->replay_decoder);
	free(session->replay_decoder);
	sync_tables_free(&session->tables);
	PQfinish(session->replication);
	PQfinish(session->target);
	PQfinish(session->source);
	memset(session, 0, sizeof(*session));
}

static int
run_session(const SyncConfig *config, const SyncOptions *options, SyncError *error)
{
	Session		session = {.config = config, .options = options};
	SyncLsn		start = 0;
	int			rc = -1;

	session.source = pg_connect(config->source_conninfo, "source", false, error);
	if (session.source == NULL)
		goto done;
	session.target = pg_connect(config->target_conninfo, "target", false, error);
	if (session.target == NULL)
		goto done;
	if (sync_source_list_tables(session.source, config, &session.tables, error) != 0)
		goto done;
	if (session.tables.count == 0)
	{
		sync_fail(error, 2, "[sync] tables selects no table of the source");
		goto done;
	}
	if (sync_target_prepare(session.target, error) != 0)
		goto done;
	if (options->resync && sync_target_forget_watermarks(session.target, config->slot, error) != 0)
		goto done;
	for (int i = 0; i < session.tables.count; i++)
	{
		SyncTableDef *table = &session.tables.tables[i];

		if (table->mode == SYNC_MODE_BATCH &&
			(sync_batch_check(table, error) != 0 ||
			 sync_target_create_table(session.target, table, error) != 0 ||
			 sync_target_set_table_state(session.target, config->slot, table, "batch", NULL,
										 error) != 0))
			goto done;
	}
	if (has_mode(&session.tables, SYNC_MODE_BATCH))
	{
		/* the first pull (a full copy) before streaming starts */
		if (pull_batch_tables(&session, error) != 0)
			goto done;
	}
	if (!has_mode(&session.tables, SYNC_MODE_CDC))
	{
		rc = pull_only(&session, error);
		goto done;
	}
	if (sync_source_check(session.source, &session.tables, error) != 0 ||
		sync_source_ensure_publication(session.source, config->publication, &session.tables,
									   error) != 0)
		goto done;
	session.replication = pg_connect(config->source_conninfo, "source", true, error);
	if (session.replication == NULL ||
		sync_stream_identify(session.replication, session.system_identifier,
							 sizeof(session.system_identifier), error) != 0)
		goto done;
	if (establish_position(&session, &start, error) != 0)
		goto done;
	if (stop_requested)
		rc = 0;
	else
		rc = stream_changes(&session, start, error);

done:
	end_session(&session);
	return rc;
}

static int	run_sessions(const SyncConfig *config, const SyncOptions *options, SyncOptions *first);

int
sync_run(const SyncConfig *config, const SyncOptions *options)
{
	struct sigaction action = {.sa_handler = handle_stop};
	char	   *source = pg_describe_conninfo(config->source_conninfo);
	char	   *target = pg_describe_conninfo(config->target_conninfo);
	SyncOptions first = *options;
	int			status;

	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_event(LOG_INFO, "start", "config=%s source=%s target=%s slot=%s once=%s",
			  log_quote(config->path), log_quote(source), log_quote(target), config->slot,
			  options->once ? "true" : "false");
	free(source);
	free(target);
	if (config->metrics_port > 0)
	{
		SyncError	error = {0};

		if (sync_metrics_serve(config->metrics_port, &error) != 0)
		{
			log_event(LOG_ERROR, "error", "status=2 message=%s", log_quote(error.message));
			return 2;
		}
		log_event(LOG_INFO, "metrics", "url=http://localhost:%d/metrics", config->metrics_port);
	}
	status = run_sessions(config, options, &first);
	sync_metrics_stop();
	return status;
}

/* Runs sessions until one ends cleanly or with an error no retry can cure. */
static int
run_sessions(const SyncConfig *config, const SyncOptions *options, SyncOptions *first)
{
	int			backoff_ms = 500;
	int			attempts = 0;

	for (;;)
	{
		SyncError	error = {0};

		if (run_session(config, first, &error) == 0)
		{
			log_event(LOG_INFO, "stop", "reason=%s", stop_requested ? "signal" : "caught_up");
			return 0;
		}
		sync_metrics_add_error();
		first->resync = false;	/* a retry continues what the resync started */
		log_event(LOG_ERROR, "error", "status=%d message=%s", error.status,
				  log_quote(error.message));
		if (error.status == 2)
			return 2;
		if (stop_requested || (options->once && ++attempts >= 5))
			return 1;
		log_event(LOG_INFO, "retry", "in_ms=%d", backoff_ms);
		for (int waited = 0; waited < backoff_ms && !stop_requested; waited += 100)
			usleep(100 * 1000);
		if (stop_requested)
			return 1;
		backoff_ms = backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2;
	}
}

int
sync_status(const SyncConfig *config)
{
	SyncError	error = {0};
	PGconn	   *target = pg_connect(config->target_conninfo, "target", false, &error);
	PGconn	   *source = NULL;
	PGresult   *result = NULL;
	const char *params[1] = {config->slot};
	SyncLsn		source_lsn = 0;
	int			rc = 1;

	if (target == NULL)
		goto done;
	result = pg_query(target, "SELECT to_regclass('_tally_sync.tables') IS NOT NULL",
					  PGRES_TUPLES_OK, &error);
	if (result == NULL)
		goto done;
	if (PQgetvalue(result, 0, 0)[0] != 't')
	{
		printf("tally sync has not run against this target yet\n");
		rc = 0;
		goto done;
	}
	PQclear(result);
	source = pg_connect(config->source_conninfo, "source", false, &error);
	if (source == NULL || current_wal_lsn(source, &source_lsn, &error) != 0)
	{
		log_event(LOG_WARNING, "source_unreachable", "message=%s", log_quote(error.message));
		memset(&error, 0, sizeof(error));
	}
	result = pg_query_params(target,
							 "SELECT t.schema_name || '.' || t.table_name, t.mode, t.state, t.rows_applied, "
							 "       s.lsn::text, "
							 "       round(extract(epoch FROM now() - s.applied_at)::numeric, 1), "
							 "       round(extract(epoch FROM s.applied_at - s.source_commit_time)::numeric, 3), "
							 "       coalesce(t.last_error, ''), "
							 "       round(extract(epoch FROM now() - t.updated_at)::numeric, 1) "
							 "  FROM _tally_sync.tables t LEFT JOIN _tally_sync.slots s USING (slot) "
							 " WHERE t.slot = $1 ORDER BY 1",
							 1, params, PGRES_TUPLES_OK, &error);
	if (result == NULL)
		goto done;
	/*
	 * lag_s: for a CDC table, from the source's commit of the last applied
	 * transaction to its commit on the target; for a batch table, the time
	 * since its last pull.
	 */
	printf("%-40s %-6s %-13s %12s %14s %10s  %s\n", "table", "mode", "state", "rows",
		   "lag_bytes", "lag_s", "last_error");
	for (int i = 0; i < PQntuples(result); i++)
	{
		bool		batch = strcmp(PQgetvalue(result, i, 1), "batch") == 0;
		SyncLsn		applied = 0;
		char		lag[32] = "?";
		const char *seconds = batch ? PQgetvalue(result, i, 8) : PQgetvalue(result, i, 6);

		if (batch)
			snprintf(lag, sizeof(lag), "-");
		else if (!PQgetisnull(result, i, 4) && source_lsn != 0 &&
				 sync_lsn_parse(PQgetvalue(result, i, 4), &applied) == 0)
			snprintf(lag, sizeof(lag), "%llu",
					 (unsigned long long) (source_lsn > applied ? source_lsn - applied : 0));
		printf("%-40s %-6s %-13s %12s %14s %10s  %s\n", PQgetvalue(result, i, 0),
			   PQgetvalue(result, i, 1), PQgetvalue(result, i, 2), PQgetvalue(result, i, 3),
			   lag, seconds[0] ? seconds : "-", PQgetvalue(result, i, 7));
	}
	rc = 0;

done:
	if (error.status != 0)
		fprintf(stderr, "tally: %s\n", error.message);
	PQclear(result);
	PQfinish(source);
	PQfinish(target);
	return rc;
}
