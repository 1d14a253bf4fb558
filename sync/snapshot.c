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

typedef struct SnapshotJob
{
	const SyncConfig *config;
	SyncTableList *tables;
	SyncMode	mode;
	const char *snapshot_name;
	SyncTableDef **queue;
	int			nqueue;
	atomic_int	next;
	atomic_long rows_done;
	int64_t		rows_estimated;
	pthread_mutex_t error_lock;
	SyncError	error;
	atomic_bool failed;
	atomic_int	workers_left;
} SnapshotJob;

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

static int
copy_table(SnapshotJob *job, PGconn *source, PGconn *target, SyncTableDef *table,
		   SyncError *error)
{
	PQExpBufferData columns;
	PQExpBufferData sql;
	PGresult   *result;
	const char *format = binary_safe(table) ? " (FORMAT binary)" : "";
	long		rows = 0;
	int			rc = -1;
	char	   *buf;
	int			n;

	initPQExpBuffer(&columns);
	initPQExpBuffer(&sql);
	appendPQExpBufferChar(&columns, '(');
	for (int c = 0; c < table->ncolumns; c++)
	{
		char	   *quoted = PQescapeIdentifier(source, table->columns[c].name,
												strlen(table->columns[c].name));

		appendPQExpBuffer(&columns, "%s%s", c > 0 ? ", " : "", quoted);
		PQfreemem(quoted);
	}
	appendPQExpBufferChar(&columns, ')');

	if (sync_target_create_table(target, table, error) != 0)
		goto done;
	if (pg_command(target, "BEGIN", error) != 0)
		goto done;
	appendPQExpBuffer(&sql, "TRUNCATE %s", table->qualified);
	if (pg_command(target, sql.data, error) != 0)
		goto done;
	if (table->config && table->config->hypertable)
	{
		/* Chunks for the whole range first: the copy then never waits in the default partition. */
		char	   *time_column = PQescapeIdentifier(source, table->config->hypertable,
													 strlen(table->config->hypertable));
		const char *params[3] = {table->qualified, NULL, NULL};

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
			char		query[300];

			params[1] = PQgetvalue(result, 0, 0);
			params[2] = PQgetvalue(result, 0, 1);
			/* ensure_chunks takes values of the time column's own type. */
			for (int c = 0; c < table->ncolumns; c++)
				if (strcmp(table->columns[c].name, table->config->hypertable) == 0)
					snprintf(query, sizeof(query),
							 "SELECT count(*) FROM ensure_chunks($1::regclass, $2::%s, $3::%s)",
							 table->columns[c].type, table->columns[c].type);
			chunks = pg_query_params(target, query, 3, params, PGRES_TUPLES_OK, error);
			PQclear(chunks);
			if (chunks == NULL)
			{
				PQclear(result);
				goto done;
			}
		}
		PQclear(result);
	}

	resetPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, "COPY %s %s TO STDOUT%s", table->qualified, columns.data, format);
	result = pg_query(source, sql.data, PGRES_COPY_OUT, error);
	if (result == NULL)
		goto done;
	PQclear(result);
	resetPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, "COPY %s %s FROM STDIN%s", table->qualified, columns.data, format);
	result = pg_query(target, sql.data, PGRES_COPY_IN, error);
	if (result == NULL)
		goto done;
	PQclear(result);

	while ((n = PQgetCopyData(source, &buf, 0)) > 0)
	{
		if (PQputCopyData(target, buf, n) != 1)
		{
			PQfreemem(buf);
			sync_fail(error, 1, "could not send rows of %s to the target: %s",
					  table->qualified, PQerrorMessage(target));
			goto done;
		}
		PQfreemem(buf);
		rows++;					/* the server sends one row per message */
		if ((rows & 1023) == 0)
			atomic_fetch_add(&job->rows_done, 1024);
		if (atomic_load(&job->failed))
		{
			PQputCopyEnd(target, "another table's copy failed");
			goto done;
		}
	}
	atomic_fetch_add(&job->rows_done, rows & 1023);
	if (n == -2)
	{
		sync_fail(error, 1, "could not read %s from the source: %s", table->qualified,
				  PQerrorMessage(source));
		goto done;
	}
	result = PQgetResult(source);
	if (PQresultStatus(result) != PGRES_COMMAND_OK)
	{
		sync_fail(error, 1, "could not read %s from the source: %s", table->qualified,
				  PQresultErrorMessage(result));
		PQclear(result);
		goto done;
	}
	PQclear(result);
	while ((result = PQgetResult(source)) != NULL)
		PQclear(result);
	if (PQputCopyEnd(target, NULL) != 1)
	{
		sync_fail(error, 1, "could not end COPY into %s: %s", table->qualified,
				  PQerrorMessage(target));
		goto done;
	}
	result = PQgetResult(target);
	if (PQresultStatus(result) != PGRES_COMMAND_OK)
	{
		sync_fail(error, 1, "could not copy into %s on the target: %s", table->qualified,
				  PQresultErrorMessage(result));
		PQclear(result);
		goto done;
	}
	/* COPY's command tag counts rows; binary COPY sends them in one message each. */
	rows = atol(PQcmdTuples(result));
	PQclear(result);
	while ((result = PQgetResult(target)) != NULL)
		PQclear(result);

	if (sync_target_set_table_state(target, job->config->slot, table,
									job->mode == SYNC_MODE_CDC ? "streaming" : "batch",
									NULL, error) != 0 ||
		sync_target_add_rows(target, job->config->slot, table, rows, error) != 0 ||
		pg_command(target, "COMMIT", error) != 0)
		goto done;
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

static void *
worker_main(void *arg)
{
	SnapshotJob *job = arg;
	SyncError	error = {0};
	PGconn	   *source = pg_connect(job->config->source_conninfo, "source", false, &error);
	PGconn	   *target = source ? pg_connect(job->config->target_conninfo, "target", false, &error) : NULL;

	if (target == NULL)
		goto done;
	if (pg_command(source, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &error) != 0)
		goto done;
	if (job->snapshot_name != NULL)
	{
		char		sql[128];

		snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", job->snapshot_name);
		if (pg_command(source, sql, &error) != 0)
			goto done;
	}
	for (;;)
	{
		int			i = atomic_fetch_add(&job->next, 1);

		if (i >= job->nqueue || atomic_load(&job->failed))
			break;
		if (copy_table(job, source, target, job->queue[i], &error) != 0)
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
	const SyncTableDef *x = *(SyncTableDef *const *) a;
	const SyncTableDef *y = *(SyncTableDef *const *) b;

	return (x->estimated_rows < y->estimated_rows) - (x->estimated_rows > y->estimated_rows);
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

int
sync_snapshot_copy(const SyncConfig *config, SyncTableList *tables, SyncMode mode,
				   const char *snapshot_name, SyncError *error)
{
	SnapshotJob job = {.config = config, .tables = tables, .mode = mode,
	.snapshot_name = snapshot_name};
	pthread_t  *threads;
	int			nworkers;
	long long	started = sync_now_us();
	long long	last_report = started;

	job.queue = calloc(tables->count + 1, sizeof(SyncTableDef *));
	if (job.queue == NULL)
		return sync_fail(error, 1, "out of memory");
	for (int i = 0; i < tables->count; i++)
		if (tables->tables[i].mode == mode)
		{
			job.queue[job.nqueue++] = &tables->tables[i];
			job.rows_estimated += tables->tables[i].estimated_rows;
		}
	qsort(job.queue, job.nqueue, sizeof(SyncTableDef *), by_size_descending);
	nworkers = config->snapshot_workers < job.nqueue ? config->snapshot_workers : job.nqueue;
	threads = calloc(nworkers + 1, sizeof(pthread_t));
	pthread_mutex_init(&job.error_lock, NULL);
	atomic_store(&job.workers_left, nworkers);
	log_event(LOG_INFO, "snapshot_start", "tables=%d workers=%d estimated_rows=%lld",
			  job.nqueue, nworkers, (long long) job.rows_estimated);
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
	free(job.queue);
	pthread_mutex_destroy(&job.error_lock);
	if (job.error.status != 0)
	{
		*error = job.error;
		return -1;
	}
	report_progress(&job, started, true);
	log_event(LOG_INFO, "snapshot_done", "rows=%ld seconds=%.1f",
			  atomic_load(&job.rows_done), (sync_now_us() - started) / 1e6);
	return 0;
}
