/*
 * snapshot.c -- the initial copy, in parallel.
 */
#include "sync/snapshot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"

#include "common/log.h"
#include "sync/debug.h"
#include "sync/metrics.h"
#include "sync/stream.h"
#include "sync/target.h"

/*
 * A piece of the copy: a whole table, or a range of a large table's blocks
 * (a TID range scan), so that one large table keeps every worker busy.
 */
typedef struct SnapshotPiece
{
	SyncTableDef *table;
	char		relkind;
	long		first_block;	/* -1: the whole table */
	long		end_block;		/* exclusive; -1: to the end */
	long		blocks;			/* its size, for ordering */
} SnapshotPiece;

typedef struct SnapshotJob
{
	const SyncConfig *config;
	const char *snapshot_name;
	SnapshotPiece *pieces;
	int			npieces;
	atomic_int	next;
	atomic_long rows_done;
	int64_t		rows_estimated;
	pthread_mutex_t error_lock;
	SyncError	error;
	atomic_bool failed;
	atomic_int	workers_left;
} SnapshotJob;

/*
 * Tables of at least this many 8 kB blocks (1 GB) are copied in ranges.
 * Tests lower it with TALLY_SYNC_RANGE_BLOCKS to cut small tables.
 */
static long
range_min_blocks(void)
{
	const char *setting = getenv("TALLY_SYNC_RANGE_BLOCKS");
	long		blocks = setting ? atol(setting) : 0;

	return blocks >= 4 ? blocks : 131072L;
}

static void
record_error(SnapshotJob *job, const SyncError *error)
{
	pthread_mutex_lock(&job->error_lock);
	if (job->error.status == 0)
		job->error = *error;
	pthread_mutex_unlock(&job->error_lock);
	atomic_store(&job->failed, true);
}

/* Whether binary COPY can carry the table: array_recv and record_recv check type OIDs. */
static bool
binary_safe(const SyncTableDef *table)
{
	for (int c = 0; c < table->ncolumns; c++)
		if (table->columns[c].type_oid >= 16384)
			return false;
	return true;
}

static void
append_columns(PGconn *conn, PQExpBuffer buf, const SyncTableDef *table)
{
	for (int c = 0; c < table->ncolumns; c++)
	{
		char	   *quoted = PQescapeIdentifier(conn, table->columns[c].name,
												strlen(table->columns[c].name));

		appendPQExpBuffer(buf, "%s%s", c > 0 ? ", " : "", quoted);
		PQfreemem(quoted);
	}
}

/*
 * Readies a table for its copy, before any worker starts: created on the
 * target, emptied (an interrupted snapshot may have left rows), and as a
 * hypertable given its chunks for the whole time range, so that the copy
 * never waits in the default partition.
 */
static int
prepare_table(PGconn *source, PGconn *target, SyncTableDef *table, char *relkind,
			  long *blocks, SyncError *error)
{
	PQExpBufferData sql;
	PGresult   *result;
	char		relid[16];
	const char *params[3] = {relid, NULL, NULL};
	int			rc = -1;

	initPQExpBuffer(&sql);
	if (sync_target_create_table(target, table, error) != 0)
		goto done;
	appendPQExpBuffer(&sql, "TRUNCATE %s", table->qualified);
	if (pg_command(target, sql.data, error) != 0)
		goto done;
	snprintf(relid, sizeof(relid), "%u", table->relid);
	result = pg_query_params(source,
							 "SELECT relkind, pg_catalog.pg_relation_size(oid) / "
							 "       current_setting('block_size')::bigint "
							 "  FROM pg_catalog.pg_class WHERE oid = $1::oid",
							 1, params, PGRES_TUPLES_OK, error);
	if (result == NULL)
		goto done;
	*relkind = PQgetvalue(result, 0, 0)[0];
	*blocks = atol(PQgetvalue(result, 0, 1));
	PQclear(result);

	if (table->config && table->config->hypertable)
	{
		char	   *time_column = PQescapeIdentifier(source, table->config->hypertable,
													 strlen(table->config->hypertable));

		resetPQExpBuffer(&sql);
		appendPQExpBuffer(&sql, "SELECT min(%s)::text, max(%s)::text FROM %s",
						  time_column, time_column, table->qualified);
		PQfreemem(time_column);
		result = pg_query(source, sql.data, PGRES_TUPLES_OK, error);
		if (result == NULL)
			goto done;
		if (!PQgetisnull(result, 0, 0))
		{
			PGresult   *chunks;

			params[0] = table->qualified;
			params[1] = PQgetvalue(result, 0, 0);
			params[2] = PQgetvalue(result, 0, 1);
			/* ensure_chunks takes values of the time column's own type */
			resetPQExpBuffer(&sql);
			for (int c = 0; c < table->ncolumns; c++)
				if (strcmp(table->columns[c].name, table->config->hypertable) == 0)
					appendPQExpBuffer(&sql,
									  "SELECT count(*) FROM ensure_chunks($1::regclass, $2::%s, $3::%s)",
									  table->columns[c].type, table->columns[c].type);
			chunks = pg_query_params(target, sql.data, 3, params, PGRES_TUPLES_OK, error);
			PQclear(chunks);
			if (chunks == NULL)
			{
				PQclear(result);
				goto done;
			}
		}
		PQclear(result);
	}
	rc = 0;
done:
	termPQExpBuffer(&sql);
	return rc;
}

/* Counts rows into the shared progress in steps of 1024, and stops when another piece failed. */
typedef struct RowProgress
{
	SnapshotJob *job;
	long		uncounted;
	long		seen;			/* messages, which may include a binary COPY's trailer */
} RowProgress;

static bool
count_row(void *arg)
{
	RowProgress *progress = arg;

	progress->seen++;
	if (++progress->uncounted == 1024)
	{
		atomic_fetch_add(&progress->job->rows_done, 1024);
		progress->uncounted = 0;
	}
	return !atomic_load(&progress->job->failed);
}

static int
copy_piece(SnapshotJob *job, PGconn *source, PGconn *target, const SnapshotPiece *piece,
		   SyncError *error)
{
	SyncTableDef *table = piece->table;
	PQExpBufferData columns;
	PQExpBufferData sql;
	PGresult   *result;
	const char *format = binary_safe(table) ? " (FORMAT binary)" : "";
	long		rows = 0;
	RowProgress progress = {0};
	int			rc = -1;

	initPQExpBuffer(&columns);
	initPQExpBuffer(&sql);
	append_columns(source, &columns, table);
	if (pg_command(target, "BEGIN", error) != 0)
		goto done;
	if (piece->first_block >= 0)
	{
		appendPQExpBuffer(&sql, "COPY (SELECT %s FROM ONLY %s WHERE ctid >= '(%ld,0)'::tid",
						  columns.data, table->qualified, piece->first_block);
		if (piece->end_block >= 0)
			appendPQExpBuffer(&sql, " AND ctid < '(%ld,0)'::tid", piece->end_block);
		appendPQExpBuffer(&sql, ") TO STDOUT%s", format);
	}
	else if (piece->relkind == 'p')
		appendPQExpBuffer(&sql, "COPY (SELECT %s FROM %s) TO STDOUT%s", columns.data,
						  table->qualified, format);
	else
		appendPQExpBuffer(&sql, "COPY %s (%s) TO STDOUT%s", table->qualified, columns.data, format);
	result = pg_query(source, sql.data, PGRES_COPY_OUT, error);
	if (result == NULL)
		goto done;
	PQclear(result);
	resetPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, "COPY %s (%s) FROM STDIN%s", table->qualified, columns.data, format);
	result = pg_query(target, sql.data, PGRES_COPY_IN, error);
	if (result == NULL)
		goto done;
	PQclear(result);

	progress.job = job;
	if (pg_pipe_copy(source, target, table->qualified, count_row, &progress, &rows, error) != 0)
	{
		if (error->status == 0)
			sync_fail(error, 1, "the copy of %s stopped: another piece failed", table->qualified);
		goto done;
	}
	/* the progress counted messages; the target's COPY tag counts rows */
	atomic_fetch_add(&job->rows_done, progress.uncounted + rows - progress.seen);

	if (sync_target_add_rows(target, job->config->slot, table, rows, error) != 0 ||
		pg_command(target, "COMMIT", error) != 0)
		goto done;
	if (piece->first_block >= 0)
		log_event(LOG_INFO, "range_copied", "table=%s blocks=%ld-%ld rows=%ld",
				  log_quote(table->qualified), piece->first_block, piece->end_block, rows);
	else
		log_event(LOG_INFO, "table_copied", "table=%s rows=%ld", log_quote(table->qualified), rows);
	sync_metrics_add_rows(table->schema, table->name, "cdc", rows);
	sync_debug_point("table_copied");
	rc = 0;

done:
	if (rc != 0)
		PQclear(PQexec(target, "ROLLBACK"));
	termPQExpBuffer(&columns);
	termPQExpBuffer(&sql);
	return rc;
}

static int
import_snapshot(PGconn *source, const char *snapshot_name, SyncError *error)
{
	char		sql[128];

	if (pg_command(source, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", error) != 0)
		return -1;
	if (snapshot_name == NULL)
		return 0;
	snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snapshot_name);
	return pg_command(source, sql, error);
}

static void *
worker_main(void *arg)
{
	SnapshotJob *job = arg;
	SyncError	error = {0};
	PGconn	   *source = pg_connect(job->config->source_conninfo, "source", false, &error);
	PGconn	   *target = source ? pg_connect(job->config->target_conninfo, "target", false, &error) : NULL;

	if (target == NULL || import_snapshot(source, job->snapshot_name, &error) != 0)
		goto done;
	for (;;)
	{
		int			i = atomic_fetch_add(&job->next, 1);

		if (i >= job->npieces || atomic_load(&job->failed))
			break;
		if (copy_piece(job, source, target, &job->pieces[i], &error) != 0)
			break;
	}
	pg_command(source, "COMMIT", &error);

done:
	if (error.status != 0)
		record_error(job, &error);
	PQfinish(source);
	PQfinish(target);
	atomic_fetch_sub(&job->workers_left, 1);
	return NULL;
}

static int
by_size_descending(const void *a, const void *b)
{
	const SnapshotPiece *x = a;
	const SnapshotPiece *y = b;

	return (x->blocks < y->blocks) - (x->blocks > y->blocks);
}

/*
 * Readies every table and cuts the copy into pieces: a table of at least
 * range_min_blocks() becomes ranges of blocks, about four per worker, the
 * last one open-ended.
 */
static int
plan_pieces(SnapshotJob *job, SyncTableList *tables, int workers, SyncError *error)
{
	PGconn	   *source = pg_connect(job->config->source_conninfo, "source", false, error);
	PGconn	   *target = source ? pg_connect(job->config->target_conninfo, "target", false, error) : NULL;
	int			capacity = 0;
	int			rc = -1;

	if (target == NULL || import_snapshot(source, job->snapshot_name, error) != 0)
		goto done;
	for (int i = 0; i < tables->count; i++)
	{
		SyncTableDef *table = &tables->tables[i];
		char		relkind;
		long		blocks;
		long		step;
		int			count;

		if (table->mode != SYNC_MODE_CDC)
			continue;
		if (prepare_table(source, target, table, &relkind, &blocks, error) != 0)
			goto done;
		job->rows_estimated += table->estimated_rows;
		step = blocks / (4L * workers);
		if (step < range_min_blocks() / 4)
			step = range_min_blocks() / 4;
		count = relkind == 'r' && blocks >= range_min_blocks() ? (int) ((blocks + step - 1) / step) : 1;
		if (job->npieces + count > capacity)
		{
			SnapshotPiece *grown;

			capacity = (job->npieces + count) * 2;
			grown = realloc(job->pieces, sizeof(SnapshotPiece) * capacity);
			if (grown == NULL)
			{
				sync_fail(error, 1, "out of memory");
				goto done;
			}
			job->pieces = grown;
		}
		for (int k = 0; k < count; k++)
			job->pieces[job->npieces++] = (SnapshotPiece) {
				.table = table,
				.relkind = relkind,
				.first_block = count > 1 ? k * step : -1,
				.end_block = count > 1 && k < count - 1 ? (k + 1) * step : -1,
				.blocks = count > 1 ? step : blocks,
			};
	}
	qsort(job->pieces, job->npieces, sizeof(SnapshotPiece), by_size_descending);
	rc = 0;
done:
	if (source != NULL)
		pg_command(source, "COMMIT", error);
	PQfinish(source);
	PQfinish(target);
	return rc;
}

static void
report_progress(SnapshotJob *job, long long started_us, bool final)
{
	long		done = atomic_load(&job->rows_done);
	double		seconds = (sync_now_us() - started_us) / 1e6;
	double		rate = seconds > 0 ? done / seconds : 0;
	int64_t		total = job->rows_estimated > done ? job->rows_estimated : done;
	double		eta = rate > 0 ? (total - done) / rate : 0;

	if (isatty(STDERR_FILENO))
	{
		int			width = 30;
		int			filled = total > 0 ? (int) (width * (double) done / total) : width;

		fprintf(stderr, "\rsnapshot [%.*s%*s] %ld/%lld rows  %.0f rows/s  ETA %.0fs   %s",
				filled, "##############################", width - filled, "",
				done, (long long) total, rate, final ? 0.0 : eta, final ? "\n" : "");
		fflush(stderr);
	}
	else
		log_event(LOG_INFO, "snapshot_progress", "rows=%ld estimated=%lld rows_per_s=%.0f eta_s=%.0f",
				  done, (long long) total, rate, eta);
}

/* Every piece committed: the tables move on to streaming. */
static int
mark_tables_done(const SyncConfig *config, SyncTableList *tables, SyncError *error)
{
	PGconn	   *target = pg_connect(config->target_conninfo, "target", false, error);
	int			rc = target ? 0 : -1;

	for (int i = 0; i < tables->count && rc == 0; i++)
		if (tables->tables[i].mode == SYNC_MODE_CDC)
			rc = sync_target_set_table_state(target, config->slot, &tables->tables[i],
											 "streaming", NULL, error);
	PQfinish(target);
	return rc;
}

int
sync_snapshot_copy(const SyncConfig *config, SyncTableList *tables, const char *snapshot_name,
				   SyncError *error)
{
	SnapshotJob job = {.config = config, .snapshot_name = snapshot_name};
	pthread_t  *threads;
	int			nworkers;
	long long	started = sync_now_us();
	long long	last_report = started;

	if (plan_pieces(&job, tables, config->snapshot_workers, error) != 0)
	{
		free(job.pieces);
		return -1;
	}
	nworkers = config->snapshot_workers < job.npieces ? config->snapshot_workers : job.npieces;
	threads = calloc(nworkers + 1, sizeof(pthread_t));
	pthread_mutex_init(&job.error_lock, NULL);
	atomic_store(&job.workers_left, nworkers);
	log_event(LOG_INFO, "snapshot_start", "pieces=%d workers=%d estimated_rows=%lld",
			  job.npieces, nworkers, (long long) job.rows_estimated);
	for (int i = 0; i < nworkers; i++)
		if (pthread_create(&threads[i], NULL, worker_main, &job) != 0)
		{
			SyncError	failed = {0};

			sync_fail(&failed, 1, "could not start a snapshot worker");
			record_error(&job, &failed);
			atomic_fetch_sub(&job.workers_left, nworkers - i);
			nworkers = i;
			break;
		}
	while (atomic_load(&job.workers_left) > 0)
	{
		usleep(100 * 1000);
		if (sync_now_us() - last_report >= (isatty(STDERR_FILENO) ? 500000 : 10000000))
		{
			report_progress(&job, started, false);
			last_report = sync_now_us();
		}
	}
	for (int i = 0; i < nworkers; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	free(job.pieces);
	pthread_mutex_destroy(&job.error_lock);
	if (job.error.status != 0)
	{
		*error = job.error;
		return -1;
	}
	if (mark_tables_done(config, tables, error) != 0)
		return -1;
	report_progress(&job, started, true);
	log_event(LOG_INFO, "snapshot_done", "rows=%ld seconds=%.1f",
			  atomic_load(&job.rows_done), (sync_now_us() - started) / 1e6);
	return 0;
}
