/*
 * apply.c -- writes decoded source changes into the target.
 *
 * A batch is one target transaction holding whole source transactions.
 * A table's changes are written set-wise, not a statement per change: they
 * are folded per key into the rows' final states (rowset.h), and a table's
 * set is written as one DELETE of the keys whose rows the target may hold,
 * one COPY of every final row image, and, rarely, an UPDATE per row whose
 * unchanged TOASTed values only the target has.  A change the set cannot
 * fold (and every update and delete of a table without a key) is applied
 * alone, as a prepared statement in libpq's pipeline mode, after the
 * table's set is written.  Order is kept where it matters: a table's set is
 * written before a change applied alone, before a truncate of the table
 * and before a change of its schema.  (Across tables the target has no
 * constraints to order, and the batch commits as a whole.)
 */
#include "sync/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

#include "common/log.h"
#include "sync/metrics.h"
#include "sync/rowset.h"
#include "sync/target.h"

/*
 * A table's set is written once it holds this many rows or its values take
 * this much memory: often enough that the target works on one set while
 * the next is read from the stream, seldom enough that a statement's own
 * cost is spread over many rows.
 */
#define ROWSET_ROWS_MAX 2000
#define ROWSET_BYTES_MAX (4 * 1024 * 1024)
/* Results are read back after this many pipelined statements. */
#define PIPELINE_READ_EVERY 64

/* A prepared UPDATE or DELETE of one shape. */
typedef struct ApplyStatement
{
	char		kind;			/* 'U' or 'D' */
	char	   *shape;			/* which columns it sets and matches */
	char		name[24];
} ApplyStatement;

/* A source relation as the last RELATION message described it. */
typedef struct ApplyRelation
{
	uint32_t	relid;
	SyncTableDef *table;		/* NULL when not replicated: changes ignored */
	int			ncolumns;
	char	  **names;			/* quoted column names */
	char	  **types;			/* format_type() of each column; NULL unless replicated */
	bool	   *is_key;
	char	   *column_list;	/* "(a, b, c)" */
	long		batch_rows;
	SyncRowSet *rows;			/* the batch's changes not yet written; NULL unless replicated */
	/*
	 * Whether rows can travel as one array per column: not when a column is
	 * itself an array, which unnest() would flatten, or of a composite type,
	 * whose fields unnest() in FROM would spread over columns (or a domain
	 * over either).  Such a table's set holds inserts only, written by COPY.
	 */
	bool		unnests;
	ApplyStatement *statements;
	int			nstatements;
} ApplyRelation;

/* What a pipelined result belongs to. */
typedef struct PendingResult
{
	/*
	 * 'P' prepare, 'S' setting, 'U' update, 'D' delete, a SetPart, 'T' a
	 * transaction's BEGIN, COMMIT or row counts, 'L' the position, 'Y' a
	 * sync point
	 */
	char		kind;
	uint32_t	relid;
	long		expected;		/* a SetPart's rows */
	SyncLsn		lsn;			/* 'Y' ending a batch: the position it commits, else 0 */
	SyncTimestamp commit_time;	/* 'Y' ending a batch: its last source commit time */
} PendingResult;

struct SyncApplier
{
	PGconn	   *target;
	PGconn	   *source;
	const char *slot;
	SyncTableList *tables;
	ApplyRelation *relations;
	int			nrelations;

	SyncLsn		committed;		/* position the target holds */
	bool		in_batch;		/* target transaction open */
	bool		index_scans;	/* the open target transaction has sequential scans off */
	bool		in_source_txn;
	bool		skipping;		/* the open source transaction is already applied */
	int			batch_txns;
	long		batch_rows;
	SyncLsn		batch_end;
	SyncTimestamp batch_commit_time;
	SyncTimestamp committed_time;

	bool		pipeline;		/* the target connection is in pipeline mode */
	int			syncs;			/* sync points sent whose results are still to come */
	bool		failed;			/* a pipelined statement failed: no later commit counts */
	PendingResult *pending;		/* FIFO of results still to read */
	int			pending_head;
	int			pending_count;
	int			pending_capacity;
	int			sent_since_read;
	int			statement_counter;

	PQExpBufferData sql;
	char	  **params;			/* scratch: parameter values of one change */
	int			params_capacity;
};

SyncApplier *
sync_applier_create(PGconn *target, PGconn *source, const char *slot,
					SyncTableList *tables, SyncLsn start)
{
	SyncApplier *applier = calloc(1, sizeof(SyncApplier));

	if (applier == NULL)
		return NULL;
	applier->target = target;
	applier->source = source;
	applier->slot = slot;
	applier->tables = tables;
	applier->committed = start;
	initPQExpBuffer(&applier->sql);
	return applier;
}

static void
free_relation(ApplyRelation *relation)
{
	for (int i = 0; i < relation->ncolumns; i++)
	{
		PQfreemem(relation->names[i]);
		if (relation->types != NULL)
			free(relation->types[i]);
	}
	free(relation->names);
	free(relation->types);
	free(relation->is_key);
	free(relation->column_list);
	sync_rowset_free(relation->rows);
	for (int i = 0; i < relation->nstatements; i++)
		free(relation->statements[i].shape);
	free(relation->statements);
}

void
sync_applier_free(SyncApplier *applier)
{
	if (applier == NULL)
		return;
	for (int i = 0; i < applier->nrelations; i++)
		free_relation(&applier->relations[i]);
	free(applier->relations);
	free(applier->pending);
	free(applier->params);
	termPQExpBuffer(&applier->sql);
	free(applier);
}

bool
sync_apply_in_source_transaction(const SyncApplier *applier)
{
	return applier->in_source_txn;
}

int
sync_apply_pending_transactions(const SyncApplier *applier)
{
	return applier->batch_txns;
}

long
sync_apply_pending_rows(const SyncApplier *applier)
{
	return applier->batch_rows;
}

SyncLsn
sync_apply_committed(const SyncApplier *applier)
{
	return applier->committed;
}

SyncTimestamp
sync_apply_committed_time(const SyncApplier *applier)
{
	return applier->committed_time;
}

static ApplyRelation *
find_relation(SyncApplier *applier, uint32_t relid)
{
	for (int i = 0; i < applier->nrelations; i++)
		if (applier->relations[i].relid == relid)
			return &applier->relations[i];
	return NULL;
}

static const char *
relation_name(SyncApplier *applier, uint32_t relid)
{
	ApplyRelation *relation = find_relation(applier, relid);

	return relation && relation->table ? relation->table->qualified : "(unknown)";
}

/* ---- pipeline ---- */

static int
push_result(SyncApplier *applier, PendingResult what, SyncError *error)
{
	if (applier->pending_count == applier->pending_capacity)
	{
		int			capacity = applier->pending_capacity ? applier->pending_capacity * 2 : 256;
		PendingResult *grown = malloc(sizeof(PendingResult) * capacity);

		if (grown == NULL)
			return sync_fail(error, 1, "out of memory");
		for (int i = 0; i < applier->pending_count; i++)
			grown[i] = applier->pending[(applier->pending_head + i) % applier->pending_capacity];
		free(applier->pending);
		applier->pending = grown;
		applier->pending_head = 0;
		applier->pending_capacity = capacity;
	}
	applier->pending[(applier->pending_head + applier->pending_count) % applier->pending_capacity] = what;
	applier->pending_count++;
	return 0;
}

static int
push_pending(SyncApplier *applier, char kind, uint32_t relid, long expected, SyncError *error)
{
	return push_result(applier, (PendingResult) {.kind = kind, .relid = relid, .expected = expected},
					   error);
}

/* Sends a statement without parameters into the pipeline. */
static int
send_simple(SyncApplier *applier, const char *sql, char kind, SyncError *error)
{
	if (PQsendQueryParams(applier->target, sql, 0, NULL, NULL, NULL, NULL, 0) != 1)
		return sync_fail(error, 1, "could not send to the target: %s", PQerrorMessage(applier->target));
	return push_pending(applier, kind, 0, 0, error);
}

/*
 * Marks a sync point: the target ends its pipeline work there and reports
 * back.  lsn (when not 0) is the position the batch before it commits.
 */
static int
send_sync(SyncApplier *applier, SyncLsn lsn, SyncTimestamp commit_time, SyncError *error)
{
	if (PQpipelineSync(applier->target) != 1)
		return sync_fail(error, 1, "could not send to the target: %s", PQerrorMessage(applier->target));
	applier->syncs++;
	return push_result(applier, (PendingResult) {.kind = 'Y', .lsn = lsn, .commit_time = commit_time},
					   error);
}

/* Checks one pipelined result against what it was for. */
static int
take_result(SyncApplier *applier, PGresult *result, SyncError *error)
{
	PendingResult what;
	ExecStatusType status = PQresultStatus(result);

	if (applier->pending_count == 0)
		return sync_fail(error, 1, "the target sent a result nothing was waiting for");
	what = applier->pending[applier->pending_head];
	applier->pending_head = (applier->pending_head + 1) % applier->pending_capacity;
	applier->pending_count--;
	if (status == PGRES_PIPELINE_SYNC)
	{
		if (what.kind != 'Y')
			return sync_fail(error, 1, "the target's results are out of step with what was sent");
		applier->syncs--;
		if (what.lsn != 0 && !applier->failed)
		{
			applier->committed = what.lsn;
			applier->committed_time = what.commit_time;
			sync_metrics_add_batch();
		}
		return 0;
	}
	if (what.kind == 'Y')
		return sync_fail(error, 1, "the target's results are out of step with what was sent");
	if (status == PGRES_PIPELINE_ABORTED)
		return 0;				/* the first failure was reported */
	if (status != PGRES_COMMAND_OK)
	{
		applier->failed = true;
		if (what.kind == 'T' || what.kind == 'L')
			return sync_fail(error, 1, "committing a batch failed on the target: %s",
							 PQresultErrorMessage(result));
		return sync_fail(error, 1, "%s of %s failed on the target: %s",
						 what.kind == 'P' ? "preparing a change" : what.kind == 'S' ? "a setting" :
						 what.kind == 'U' || what.kind == 'W' ? "UPDATE" :
						 what.kind == 'I' ? "INSERT" : "DELETE",
						 relation_name(applier, what.relid), PQresultErrorMessage(result));
	}
	if (what.kind == 'L' && sync_target_check_position(result, applier->slot, error) != 0)
	{
		applier->failed = true;
		return -1;
	}
	if ((what.kind == 'U' || what.kind == 'D') && strcmp(PQcmdTuples(result), "0") == 0)
		log_event(LOG_WARNING, "row_missing", "table=%s change=%s detail=%s",
				  log_quote(relation_name(applier, what.relid)),
				  what.kind == 'U' ? "update" : "delete",
				  log_quote("the target has no row with this key: the tables had diverged"));
	if ((what.kind == 'K' || what.kind == 'W') && atol(PQcmdTuples(result)) < what.expected)
		log_event(LOG_WARNING, "row_missing", "table=%s change=update_or_delete rows=%ld detail=%s",
				  log_quote(relation_name(applier, what.relid)),
				  what.expected - atol(PQcmdTuples(result)),
				  log_quote("the target had no row with these keys: the tables had diverged"));
	return 0;
}

/*
 * Reads pipelined results: with max_syncs < 0 those already arrived,
 * otherwise all of them until at most max_syncs sync points are still to
 * come back.
 */
static int
read_results(SyncApplier *applier, int max_syncs, SyncError *error)
{
	int			rc = 0;

	while (max_syncs < 0 || applier->syncs > max_syncs)
	{
		PGresult   *result;

		if (max_syncs < 0)
		{
			if (PQconsumeInput(applier->target) == 0)
				return sync_fail(error, 1, "lost the connection to the target: %s",
								 PQerrorMessage(applier->target));
			if (PQisBusy(applier->target))
				return rc;
		}
		result = PQgetResult(applier->target);
		if (result == NULL)
		{
			/* NULL ends each statement's results */
			if (max_syncs < 0 && applier->pending_count == 0)
				return rc;
			if (PQstatus(applier->target) != CONNECTION_OK)
				return sync_fail(error, 1, "lost the connection to the target: %s",
								 PQerrorMessage(applier->target));
			continue;
		}
		if (take_result(applier, result, error) != 0)
			rc = -1;
		PQclear(result);
	}
	return rc;
}

static int
enter_pipeline(SyncApplier *applier, SyncError *error)
{
	if (applier->pipeline)
		return 0;
	if (PQenterPipelineMode(applier->target) != 1)
		return sync_fail(error, 1, "could not enter pipeline mode on the target: %s",
						 PQerrorMessage(applier->target));
	applier->pipeline = true;
	applier->sent_since_read = 0;
	return 0;
}

/* Waits for every pipelined statement and leaves pipeline mode. */
static int
leave_pipeline(SyncApplier *applier, SyncError *error)
{
	int			rc;

	if (!applier->pipeline)
		return 0;
	if (send_sync(applier, 0, 0, error) != 0)
		return -1;
	rc = read_results(applier, 0, error);
	if (PQexitPipelineMode(applier->target) != 1 && rc == 0)
		rc = sync_fail(error, 1, "could not leave pipeline mode on the target: %s",
					   PQerrorMessage(applier->target));
	applier->pipeline = false;
	applier->pending_count = 0;
	return rc;
}

/* ---- changes applied alone ---- */

/*
 * The shape of an UPDATE or DELETE: which columns it sets (those sent; an
 * unchanged TOASTed value is not) and, without a key, which columns it
 * matches on.  One prepared statement serves every change of one shape.
 * key holds the values that identify the row, new (NULL for a delete) the
 * row's new values.
 */
static void
change_shape(const ApplyRelation *relation, char kind, const SyncValue *key, const SyncValue *new,
			 PQExpBuffer shape)
{
	resetPQExpBuffer(shape);
	appendPQExpBufferChar(shape, kind);
	if (kind == SYNC_MSG_UPDATE)
		for (int i = 0; i < relation->ncolumns; i++)
			appendPQExpBufferChar(shape, new[i].kind == SYNC_VALUE_UNCHANGED ? 'u' : 's');
	if (relation->table->nkeys == 0)
	{
		appendPQExpBufferChar(shape, '/');
		for (int i = 0; i < relation->ncolumns; i++)
			appendPQExpBufferChar(shape, key[i].kind == SYNC_VALUE_UNCHANGED ? 'u' : 'm');
	}
}

/*
 * The SQL of a shape.  With a key, rows are matched on it; without one
 * (REPLICA IDENTITY FULL) on every sent column, one row at a time, as the
 * source changed one row.
 */
static void
change_sql(const ApplyRelation *relation, const char *shape, PQExpBuffer sql)
{
	bool		is_update = shape[0] == SYNC_MSG_UPDATE;
	bool		full = relation->table->nkeys == 0;
	const char *match = full ? strchr(shape, '/') + 1 : NULL;
	int			n = 0;
	int			matched = 0;

	resetPQExpBuffer(sql);
	if (is_update)
	{
		appendPQExpBuffer(sql, "UPDATE %s SET ", relation->table->qualified);
		for (int i = 0; i < relation->ncolumns; i++)
			if (shape[1 + i] == 's')
				appendPQExpBuffer(sql, "%s%s = $%d", n > 0 ? ", " : "", relation->names[i], n + 1), n++;
	}
	else
		appendPQExpBuffer(sql, "DELETE FROM %s", relation->table->qualified);
	if (full)
		appendPQExpBuffer(sql, " WHERE ctid = (SELECT ctid FROM %s", relation->table->qualified);
	for (int i = 0; i < relation->ncolumns; i++)
	{
		if (full ? match[i] != 'm' : !relation->is_key[i])
			continue;
		appendPQExpBuffer(sql, "%s%s %s $%d", matched++ == 0 ? " WHERE " : " AND ",
						  relation->names[i], full ? "IS NOT DISTINCT FROM" : "=", ++n);
	}
	if (full)
		appendPQExpBufferStr(sql, " LIMIT 1)");
}

static const ApplyStatement *
statement_for(SyncApplier *applier, ApplyRelation *relation, const char *shape, SyncError *error)
{
	ApplyStatement *grown;
	ApplyStatement *statement;

	for (int i = 0; i < relation->nstatements; i++)
		if (strcmp(relation->statements[i].shape, shape) == 0)
			return &relation->statements[i];
	grown = realloc(relation->statements, sizeof(ApplyStatement) * (relation->nstatements + 1));
	if (grown == NULL)
	{
		sync_fail(error, 1, "out of memory");
		return NULL;
	}
	relation->statements = grown;
	statement = &grown[relation->nstatements];
	statement->kind = shape[0];
	statement->shape = strdup(shape);
	snprintf(statement->name, sizeof(statement->name), "tally_%d", ++applier->statement_counter);
	if (statement->shape == NULL)
	{
		sync_fail(error, 1, "out of memory");
		return NULL;
	}
	change_sql(relation, shape, &applier->sql);
	if (PQsendPrepare(applier->target, statement->name, applier->sql.data, 0, NULL) != 1 ||
		push_pending(applier, 'P', relation->relid, 0, error) != 0)
	{
		sync_fail(error, 1, "could not prepare a change on the target: %s",
				  PQerrorMessage(applier->target));
		free(statement->shape);
		return NULL;
	}
	relation->nstatements++;
	return statement;
}

static int
ensure_params(SyncApplier *applier, int n, SyncError *error)
{
	if (applier->params_capacity < n)
	{
		char	  **grown = realloc(applier->params, sizeof(char *) * n);

		if (grown == NULL)
			return sync_fail(error, 1, "out of memory");
		applier->params = grown;
		applier->params_capacity = n;
	}
	return 0;
}

static char *
param_text(const SyncValue *value)
{
	if (value->kind != SYNC_VALUE_TEXT)
		return NULL;
	return strndup(value->data, value->len);
}

static int	pipeline_sent(SyncApplier *applier, SyncError *error);

/*
 * Sends one UPDATE (new given) or DELETE (new NULL) of the row key
 * identifies, into the pipeline.
 */
static int
send_change(SyncApplier *applier, ApplyRelation *relation, const SyncValue *key,
			const SyncValue *new, SyncError *error)
{
	char		kind = new != NULL ? SYNC_MSG_UPDATE : SYNC_MSG_DELETE;
	bool		full = relation->table->nkeys == 0;
	PQExpBufferData shape;
	const ApplyStatement *statement;
	int			nparams = 0;
	int			rc = 0;

	if (ensure_params(applier, 2 * relation->ncolumns, error) != 0 ||
		enter_pipeline(applier, error) != 0)
		return -1;
	initPQExpBuffer(&shape);
	change_shape(relation, kind, key, new, &shape);
	statement = statement_for(applier, relation, shape.data, error);
	termPQExpBuffer(&shape);
	if (statement == NULL)
		return -1;
	if (new != NULL)
		for (int i = 0; i < relation->ncolumns; i++)
			if (new[i].kind != SYNC_VALUE_UNCHANGED)
				applier->params[nparams++] = param_text(&new[i]);
	for (int i = 0; i < relation->ncolumns; i++)
	{
		if (full ? key[i].kind == SYNC_VALUE_UNCHANGED : !relation->is_key[i])
			continue;
		applier->params[nparams++] = param_text(&key[i]);
	}
	if (PQsendQueryPrepared(applier->target, statement->name, nparams,
							(const char *const *) applier->params, NULL, NULL, 0) != 1 ||
		push_pending(applier, kind, relation->relid, 0, error) != 0)
		rc = sync_fail(error, 1, "could not send a change to the target: %s",
					   PQerrorMessage(applier->target));
	for (int i = 0; i < nparams; i++)
		free(applier->params[i]);
	return rc == 0 ? pipeline_sent(applier, error) : rc;
}

/* Counts a pipelined statement; reads arrived results now and then. */
static int
pipeline_sent(SyncApplier *applier, SyncError *error)
{
	if (++applier->sent_since_read < PIPELINE_READ_EVERY)
		return 0;
	applier->sent_since_read = 0;
	return read_results(applier, -1, error);
}


/* ---- writing a table's set ---- */

/* Appends a value in COPY's text format. */
static void
append_copy_value(PQExpBuffer buf, const SyncValue *value)
{
	const char *p = value->data;
	const char *end = p + value->len;
	const char *run = p;

	if (value->kind == SYNC_VALUE_NULL)
	{
		appendPQExpBufferStr(buf, "\\N");
		return;
	}
	for (; p < end; p++)
	{
		const char *escaped;

		switch (*p)
		{
			case '\\':
				escaped = "\\\\";
				break;
			case '\n':
				escaped = "\\n";
				break;
			case '\r':
				escaped = "\\r";
				break;
			case '\t':
				escaped = "\\t";
				break;
			default:
				continue;
		}
		appendBinaryPQExpBuffer(buf, run, p - run);
		appendPQExpBufferStr(buf, escaped);
		run = p + 1;
	}
	appendBinaryPQExpBuffer(buf, run, end - run);
}

/* Appends a value as an element of an array's text form. */
static void
append_array_element(PQExpBuffer buf, const SyncValue *value)
{
	if (value->kind == SYNC_VALUE_NULL)
	{
		appendPQExpBufferStr(buf, "NULL");
		return;
	}
	appendPQExpBufferChar(buf, '"');
	for (uint32_t i = 0; i < value->len; i++)
	{
		if (value->data[i] == '"' || value->data[i] == '\\')
			appendPQExpBufferChar(buf, '\\');
		appendPQExpBufferChar(buf, value->data[i]);
	}
	appendPQExpBufferChar(buf, '"');
}

/* The rows of a set one statement writes. */
typedef enum SetPart
{
	PART_DELETE = 'K',			/* deleted rows the target holds */
	PART_UPDATE = 'W',			/* images of rows the target holds */
	PART_INSERT = 'I'			/* images of rows new to the target */
} SetPart;

static bool
in_part(const SyncRow *row, SetPart part)
{
	if (part == PART_DELETE)
		return row->state == SYNC_ROW_DELETED && row->on_target;
	return row->state == SYNC_ROW_IMAGE && row->on_target == (part == PART_UPDATE);
}

/*
 * The SQL of a part: the rows come as one array per column (the key's
 * columns only for a delete), cast to the column's type and unnested
 * side by side into k(v1, v2, ...).
 */
static void
part_sql(const ApplyRelation *relation, SetPart part, PQExpBuffer sql)
{
	const char *table = relation->table->qualified;
	int			n = 0;
	int			matched = 0;

	resetPQExpBuffer(sql);
	if (part == PART_DELETE)
		appendPQExpBuffer(sql, "DELETE FROM %s AS t USING unnest(", table);
	else if (part == PART_UPDATE)
	{
		appendPQExpBuffer(sql, "UPDATE %s AS t SET ", table);
		for (int c = 0; c < relation->ncolumns; c++)
			if (!relation->is_key[c])
				appendPQExpBuffer(sql, "%s%s = k.v%d", n++ > 0 ? ", " : "", relation->names[c], c + 1);
		appendPQExpBufferStr(sql, " FROM unnest(");
	}
	else
		appendPQExpBuffer(sql, "INSERT INTO %s %s SELECT * FROM unnest(", table, relation->column_list);
	n = 0;
	for (int c = 0; c < relation->ncolumns; c++)
		if (part != PART_DELETE || relation->is_key[c])
			appendPQExpBuffer(sql, "%s$%d::%s[]", n > 0 ? ", " : "", n + 1, relation->types[c]), n++;
	appendPQExpBufferStr(sql, ") AS k(");
	for (int c = 0, i = 0; c < relation->ncolumns; c++)
		if (part != PART_DELETE || relation->is_key[c])
			appendPQExpBuffer(sql, "%sv%d", i++ > 0 ? ", " : "", c + 1);
	appendPQExpBufferChar(sql, ')');
	if (part == PART_INSERT)
		return;
	for (int c = 0; c < relation->ncolumns; c++)
		if (relation->is_key[c])
			appendPQExpBuffer(sql, " %s t.%s = k.v%d", matched++ == 0 ? "WHERE" : "AND",
							  relation->names[c], c + 1);
}

/*
 * Sends, into the pipeline, the one statement that writes a part of a set:
 * its n rows.  The target looks rows up by the key's index, whatever the
 * planner thinks of the table's size, so that a batch costs time in
 * proportion to its rows, never to the table's.
 */
static int
send_part(SyncApplier *applier, ApplyRelation *relation, SetPart part, long n, SyncError *error)
{
	const SyncRowSet *set = relation->rows;
	PQExpBufferData *arrays = calloc(relation->ncolumns, sizeof(PQExpBufferData));
	const char **params = calloc(relation->ncolumns, sizeof(char *));
	int			nparams = 0;
	int			rc = 0;

	if (arrays == NULL || params == NULL)
	{
		free(arrays);
		free(params);
		return sync_fail(error, 1, "out of memory");
	}
	for (int c = 0; c < relation->ncolumns; c++)
	{
		PQExpBuffer array = &arrays[nparams];

		if (part == PART_DELETE && !relation->is_key[c])
			continue;
		initPQExpBuffer(array);
		appendPQExpBufferChar(array, '{');
		for (long r = 0; r < sync_rowset_count(set); r++)
		{
			const SyncRow *row = sync_rowset_row(set, r);

			if (!in_part(row, part))
				continue;
			if (array->len > 1)
				appendPQExpBufferChar(array, ',');
			append_array_element(array, &row->values[c]);
		}
		appendPQExpBufferChar(array, '}');
		if (PQExpBufferBroken(array))
			rc = sync_fail(error, 1, "out of memory");
		params[nparams++] = array->data;
	}
	part_sql(relation, part, &applier->sql);
	if (rc == 0)
		rc = enter_pipeline(applier, error);
	if (rc == 0 && part != PART_INSERT && !applier->index_scans)
	{
		if (PQsendQueryParams(applier->target, "SET LOCAL enable_seqscan = off", 0, NULL, NULL, NULL,
							  NULL, 0) != 1 ||
			push_pending(applier, 'S', relation->relid, 0, error) != 0)
			rc = sync_fail(error, 1, "could not send to the target: %s", PQerrorMessage(applier->target));
		applier->index_scans = true;
	}
	if (rc == 0 &&
		(PQsendQueryParams(applier->target, applier->sql.data, nparams, NULL, params, NULL, NULL, 0) != 1 ||
		 push_pending(applier, (char) part, relation->relid, n, error) != 0))
		rc = sync_fail(error, 1, "could not send a change to the target: %s",
					   PQerrorMessage(applier->target));
	for (int i = 0; i < nparams; i++)
		termPQExpBuffer(&arrays[i]);
	free(arrays);
	free(params);
	return rc == 0 ? pipeline_sent(applier, error) : rc;
}

/*
 * Writes the image of every row of the set that has one by COPY, for
 * tables whose rows cannot travel as arrays (see ApplyRelation.unnests);
 * their sets hold inserts only.
 */
static int
copy_images(SyncApplier *applier, ApplyRelation *relation, SyncError *error)
{
	const SyncRowSet *set = relation->rows;
	PQExpBufferData chunk;
	PGresult   *result;
	long		n = sync_rowset_count(set);
	int			rc = 0;

	if (leave_pipeline(applier, error) != 0)
		return -1;
	resetPQExpBuffer(&applier->sql);
	appendPQExpBuffer(&applier->sql, "COPY %s %s FROM STDIN", relation->table->qualified,
					  relation->column_list);
	result = pg_query(applier->target, applier->sql.data, PGRES_COPY_IN, error);
	if (result == NULL)
		return -1;
	PQclear(result);
	initPQExpBuffer(&chunk);
	for (long r = 0; r < n && rc == 0; r++)
	{
		const SyncRow *row = sync_rowset_row(set, r);

		if (row->state == SYNC_ROW_IMAGE)
		{
			for (int i = 0; i < relation->ncolumns; i++)
			{
				if (i > 0)
					appendPQExpBufferChar(&chunk, '\t');
				append_copy_value(&chunk, &row->values[i]);
			}
			appendPQExpBufferChar(&chunk, '\n');
		}
		if (chunk.len >= 256 * 1024 || (r == n - 1 && chunk.len > 0))
		{
			if (PQputCopyData(applier->target, chunk.data, (int) chunk.len) != 1)
				rc = sync_fail(error, 1, "could not send rows to the target: %s",
							   PQerrorMessage(applier->target));
			resetPQExpBuffer(&chunk);
		}
	}
	termPQExpBuffer(&chunk);
	if (PQputCopyEnd(applier->target, rc == 0 ? NULL : "sending failed") != 1 && rc == 0)
		rc = sync_fail(error, 1, "could not send rows to the target: %s",
					   PQerrorMessage(applier->target));
	while ((result = PQgetResult(applier->target)) != NULL)
	{
		if (PQresultStatus(result) != PGRES_COMMAND_OK)
			rc = sync_fail(error, 1, "COPY into %s failed on the target: %s",
						   relation->table->qualified, PQresultErrorMessage(result));
		PQclear(result);
	}
	return rc;
}

/*
 * Writes a table's set: the deleted rows deleted, the images of rows the
 * target holds updated, the others inserted, one statement each, and each
 * partial row updated alone (its unchanged values are only on the target).
 * The rows of a set have distinct keys, so the order does not matter;
 * deletes go first all the same.  A table with no column to set but its
 * key has nothing to update.
 */
static int
write_set(SyncApplier *applier, ApplyRelation *relation, SyncError *error)
{
	const SyncRowSet *set = relation->rows;
	long		deletes = 0;
	long		updates = 0;
	long		inserts = 0;
	bool		sets_columns = false;
	int			rc = 0;

	if (set == NULL || sync_rowset_count(set) == 0)
		return 0;
	for (long r = 0; r < sync_rowset_count(set); r++)
	{
		const SyncRow *row = sync_rowset_row(set, r);

		deletes += in_part(row, PART_DELETE);
		updates += in_part(row, PART_UPDATE);
		inserts += in_part(row, PART_INSERT);
	}
	for (int c = 0; c < relation->ncolumns; c++)
		sets_columns |= !relation->is_key[c];
	if (deletes > 0)
		rc = send_part(applier, relation, PART_DELETE, deletes, error);
	if (rc == 0 && updates > 0 && sets_columns)
		rc = send_part(applier, relation, PART_UPDATE, updates, error);
	if (rc == 0 && inserts > 0)
		rc = relation->unnests ? send_part(applier, relation, PART_INSERT, inserts, error)
			: copy_images(applier, relation, error);
	for (long r = 0; rc == 0 && r < sync_rowset_count(set); r++)
	{
		const SyncRow *row = sync_rowset_row(set, r);

		if (row->state == SYNC_ROW_PARTIAL)
			rc = send_change(applier, relation, row->values, row->values, error);
	}
	sync_rowset_clear(relation->rows);
	return rc;
}

/* Writes every table's set and ends the pipeline. */
static int
flush_all(SyncApplier *applier, SyncError *error)
{
	for (int i = 0; i < applier->nrelations; i++)
		if (write_set(applier, &applier->relations[i], error) != 0)
			return -1;
	return leave_pipeline(applier, error);
}

static int
begin_batch(SyncApplier *applier, SyncError *error)
{
	if (applier->in_batch)
		return 0;
	if (enter_pipeline(applier, error) != 0 || send_simple(applier, "BEGIN", 'T', error) != 0)
		return -1;
	applier->in_batch = true;
	return 0;
}

/*
 * Adds a column the source added.  Rows that existed on the source when the
 * column was added hold its "missing value" (the default evaluated once by
 * ALTER TABLE ... ADD COLUMN); the target's existing rows get the same.  A
 * volatile default made the source rewrite its rows with values the stream
 * never carries, so that column cannot be followed exactly.
 */
static int
add_column(SyncApplier *applier, ApplyRelation *relation, const char *quoted_name,
		   const char *name, const char *type, SyncError *error)
{
	const SyncTableDef *table = relation->table;
	const char *params[3] = {table->schema, table->name, name};
	PGresult   *missing;
	int			rc = 0;

	missing = pg_query_params(applier->source,
							  "SELECT a.atthasmissing, a.attmissingval::text, d.oid IS NOT NULL "
							  "  FROM pg_catalog.pg_attribute a "
							  "  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
							  " WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass "
							  "   AND a.attname = $3 AND NOT a.attisdropped",
							  3, params, PGRES_TUPLES_OK, error);
	if (missing == NULL)
		return -1;
	resetPQExpBuffer(&applier->sql);
	appendPQExpBuffer(&applier->sql, "ALTER TABLE %s ADD COLUMN %s %s", table->qualified,
					  quoted_name, type);
	if (PQntuples(missing) == 1 && PQgetvalue(missing, 0, 0)[0] == 't')
	{
		char	   *literal = PQescapeLiteral(applier->target, PQgetvalue(missing, 0, 1),
											  strlen(PQgetvalue(missing, 0, 1)));

		appendPQExpBuffer(&applier->sql, " DEFAULT (%s::%s[])[1]; ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT",
						  literal, type, table->qualified, quoted_name);
		PQfreemem(literal);
	}
	else if (PQntuples(missing) == 1 && PQgetvalue(missing, 0, 2)[0] == 't')
		rc = sync_fail(error, 2,
					   "column \"%s\" was added to table %s on the source with a volatile default, "
					   "which gave existing rows values the replication stream does not carry; "
					   "run tally sync --resync to copy the table again",
					   name, table->qualified);
	PQclear(missing);
	if (rc == 0 && (begin_batch(applier, error) != 0 || leave_pipeline(applier, error) != 0 ||
					pg_command(applier->target, applier->sql.data, error) != 0))
		rc = -1;
	if (rc == 0)
		log_event(LOG_INFO, "column_added", "table=%s column=%s type=%s",
				  log_quote(table->qualified), log_quote(name), log_quote(type));
	return rc;
}

/* The target table's columns: name, type, and whether unnest() would take its values apart. */
static const char target_columns_sql[] =
"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
"       b.typcategory = 'A' OR b.typtype = 'c' "
"  FROM pg_catalog.pg_attribute a "
"  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
"  JOIN pg_catalog.pg_type b ON b.oid = CASE t.typtype WHEN 'd' THEN t.typbasetype ELSE t.oid END "
" WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped";

/*
 * Brings the target table in line with a RELATION message, which describes
 * the table as of its place in the stream: a column the target lacks is
 * added; a column whose type differs stops the pipeline before any later
 * change is applied.  Types are compared by name (format_type on each
 * side), since type OIDs differ between databases for user-defined types.
 */
static int
reconcile_columns(SyncApplier *applier, ApplyRelation *relation, const SyncMessage *message,
				  SyncError *error)
{
	const __typeof__(message->u.relation) *rel = &message->u.relation;
	PQExpBufferData oids;
	PQExpBufferData typmods;
	const char *params[2];
	const char *target_params[1] = {relation->table->qualified};
	PGresult   *source_types = NULL;
	PGresult   *target_columns = NULL;
	bool		added = false;
	int			rc = 0;

	initPQExpBuffer(&oids);
	initPQExpBuffer(&typmods);
	appendPQExpBufferChar(&oids, '{');
	appendPQExpBufferChar(&typmods, '{');
	for (int i = 0; i < rel->ncolumns; i++)
	{
		appendPQExpBuffer(&oids, "%s%u", i ? "," : "", rel->columns[i].type_oid);
		appendPQExpBuffer(&typmods, "%s%d", i ? "," : "", rel->columns[i].type_modifier);
	}
	appendPQExpBufferChar(&oids, '}');
	appendPQExpBufferChar(&typmods, '}');
	params[0] = oids.data;
	params[1] = typmods.data;
	source_types = pg_query_params(applier->source,
								   "SELECT pg_catalog.format_type(t, m) "
								   "  FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY u(t, m, n) ORDER BY n",
								   2, params, PGRES_TUPLES_OK, error);
	if (source_types != NULL)
		target_columns = pg_query_params(applier->target,
										 target_columns_sql,
										 1, target_params, PGRES_TUPLES_OK, error);
	if (target_columns == NULL)
		rc = -1;
	for (int i = 0; rc == 0 && i < rel->ncolumns; i++)
	{
		const char *name = rel->columns[i].name;
		const char *type = PQgetvalue(source_types, i, 0);
		int			found = -1;

		relation->types[i] = strdup(type);
		if (relation->types[i] == NULL)
		{
			rc = sync_fail(error, 1, "out of memory");
			break;
		}

		for (int r = 0; r < PQntuples(target_columns); r++)
			if (strcmp(PQgetvalue(target_columns, r, 0), name) == 0)
				found = r;
		if (found < 0)
		{
			rc = add_column(applier, relation, relation->names[i], name, type, error);
			added = true;
		}
		else if (strcmp(PQgetvalue(target_columns, found, 1), type) != 0)
			rc = sync_fail(error, 2,
						   "column \"%s\" of table %s changed type on the source to %s (the target's "
						   "is %s); tally sync stopped before applying any change made after it, and "
						   "the position is kept. Change the target's column to the new type, then "
						   "start tally sync again",
						   name, relation->table->qualified, type, PQgetvalue(target_columns, found, 1));
	}
	if (rc == 0 && added)
	{
		PQclear(target_columns);
		target_columns = pg_query_params(applier->target, target_columns_sql, 1, target_params,
										 PGRES_TUPLES_OK, error);
		if (target_columns == NULL)
			rc = -1;
	}
	for (int r = 0; rc == 0 && r < PQntuples(target_columns); r++)
		if (PQgetvalue(target_columns, r, 2)[0] == 't')
			relation->unnests = false;
	PQclear(source_types);
	PQclear(target_columns);
	termPQExpBuffer(&oids);
	termPQExpBuffer(&typmods);
	return rc;
}

/*
 * Takes a RELATION message: the source's description of a table, sent
 * before its first change in a session and after every change of its
 * schema.
 */
static int
apply_relation(SyncApplier *applier, const SyncMessage *message, SyncError *error)
{
	const __typeof__(message->u.relation) *rel = &message->u.relation;
	ApplyRelation *relation = find_relation(applier, rel->relid);
	ApplyRelation fresh = {0};
	PQExpBufferData list;

	fresh.relid = rel->relid;
	fresh.table = sync_tables_find(applier->tables, rel->schema[0] ? rel->schema : "pg_catalog",
								   rel->name);
	fresh.ncolumns = rel->ncolumns;
	fresh.names = calloc(rel->ncolumns + 1, sizeof(char *));
	fresh.is_key = calloc(rel->ncolumns + 1, sizeof(bool));
	if (fresh.names == NULL || fresh.is_key == NULL)
	{
		free_relation(&fresh);
		return sync_fail(error, 1, "out of memory");
	}
	initPQExpBuffer(&list);
	appendPQExpBufferChar(&list, '(');
	for (int i = 0; i < rel->ncolumns; i++)
	{
		fresh.names[i] = PQescapeIdentifier(applier->target, rel->columns[i].name,
											strlen(rel->columns[i].name));
		fresh.is_key[i] = rel->columns[i].is_key;
		appendPQExpBuffer(&list, "%s%s", i > 0 ? ", " : "", fresh.names[i]);
	}
	appendPQExpBufferChar(&list, ')');
	fresh.column_list = strdup(list.data);
	termPQExpBuffer(&list);

	if (fresh.table != NULL && (fresh.types = calloc(fresh.ncolumns + 1, sizeof(char *))) == NULL)
	{
		free_relation(&fresh);
		return sync_fail(error, 1, "out of memory");
	}
	fresh.unnests = true;
	if (fresh.table != NULL && reconcile_columns(applier, &fresh, message, error) != 0)
	{
		free_relation(&fresh);
		return -1;
	}
	if (fresh.table != NULL)
	{
		fresh.rows = sync_rowset_create(fresh.ncolumns, fresh.table->nkeys > 0 && fresh.unnests
										? fresh.is_key : NULL);
		if (fresh.rows == NULL)
		{
			free_relation(&fresh);
			return sync_fail(error, 1, "out of memory");
		}
	}
	if (relation != NULL)
	{
		fresh.batch_rows = relation->batch_rows;
		free_relation(relation);
		*relation = fresh;
	}
	else
	{
		ApplyRelation *grown = realloc(applier->relations,
									   sizeof(ApplyRelation) * (applier->nrelations + 1));

		if (grown == NULL)
		{
			free_relation(&fresh);
			return sync_fail(error, 1, "out of memory");
		}
		applier->relations = grown;
		grown[applier->nrelations++] = fresh;
	}
	return 0;
}

static ApplyRelation *
relation_for_change(SyncApplier *applier, uint32_t relid, SyncError *error)
{
	ApplyRelation *relation = find_relation(applier, relid);

	if (relation == NULL)
		sync_fail(error, 1, "the source sent a change of relation %u before describing it", relid);
	return relation;
}

/*
 * Folds a change into its table's set.  A change the set refuses is
 * applied alone, after the set is written; an insert then starts the
 * emptied set.
 */
static int
apply_change(SyncApplier *applier, ApplyRelation *relation, const SyncMessage *message,
			 SyncError *error)
{
	const __typeof__(message->u.change) *change = &message->u.change;
	const SyncTuple *old = change->old_kind ? &change->old : NULL;
	SyncFold	fold;

	if ((old != NULL && old->ncolumns != relation->ncolumns) ||
		(message->kind != SYNC_MSG_DELETE && change->new.ncolumns != relation->ncolumns))
		return sync_fail(error, 1, "a change of %s has %d columns, its description %d",
						 relation->table->qualified,
						 message->kind == SYNC_MSG_DELETE ? old->ncolumns : change->new.ncolumns,
						 relation->ncolumns);
	if (message->kind == SYNC_MSG_INSERT)
		for (int i = 0; i < relation->ncolumns; i++)
			if (change->new.values[i].kind != SYNC_VALUE_TEXT &&
				change->new.values[i].kind != SYNC_VALUE_NULL)
				return sync_fail(error, 1, "an insert into %s carries a value of kind '%c'",
								 relation->table->qualified, (char) change->new.values[i].kind);
	if (message->kind == SYNC_MSG_INSERT)
		fold = sync_rowset_insert(relation->rows, &change->new);
	else if (message->kind == SYNC_MSG_UPDATE)
		fold = sync_rowset_update(relation->rows, old, &change->new);
	else if (old == NULL)
		return sync_fail(error, 1, "a delete from %s carries no key", relation->table->qualified);
	else
		fold = sync_rowset_delete(relation->rows, old);
	if (fold == SYNC_FOLD_ERROR)
		return sync_fail(error, 1, "out of memory");
	if (fold == SYNC_FOLDED)
		return sync_rowset_bytes(relation->rows) >= ROWSET_BYTES_MAX ||
			sync_rowset_count(relation->rows) >= ROWSET_ROWS_MAX
			? write_set(applier, relation, error) : 0;
	if (write_set(applier, relation, error) != 0)
		return -1;
	if (message->kind == SYNC_MSG_INSERT)
		return sync_rowset_insert(relation->rows, &change->new) == SYNC_FOLDED
			? 0 : sync_fail(error, 1, "out of memory");
	return send_change(applier, relation, old ? old->values : change->new.values,
					   message->kind == SYNC_MSG_UPDATE ? change->new.values : NULL, error);
}

static int
apply_truncate(SyncApplier *applier, const SyncMessage *message, SyncError *error)
{
	int			n = 0;

	resetPQExpBuffer(&applier->sql);
	appendPQExpBufferStr(&applier->sql, "TRUNCATE ");
	for (int i = 0; i < message->u.truncate.nrelids; i++)
	{
		ApplyRelation *relation = find_relation(applier, message->u.truncate.relids[i]);

		if (relation == NULL || relation->table == NULL)
			continue;
		/* changes collected before the TRUNCATE are truncated with the rest */
		sync_rowset_clear(relation->rows);
		appendPQExpBuffer(&applier->sql, "%s%s", n++ > 0 ? ", " : "", relation->table->qualified);
	}
	if (n == 0)
		return 0;
	if (message->u.truncate.options & 2)
		appendPQExpBufferStr(&applier->sql, " RESTART IDENTITY");
	if (leave_pipeline(applier, error) != 0)
		return -1;
	return pg_command(applier->target, applier->sql.data, error);
}

int
sync_apply_message(SyncApplier *applier, const SyncMessage *message, SyncError *error)
{
	ApplyRelation *relation;

	switch (message->kind)
	{
		case SYNC_MSG_BEGIN:
			applier->in_source_txn = true;
			/* The target already has every transaction that ended before its position. */
			applier->skipping = message->u.begin.final_lsn < applier->committed;
			if (applier->skipping)
				return 0;
			return begin_batch(applier, error);
		case SYNC_MSG_COMMIT:
			applier->in_source_txn = false;
			if (applier->skipping)
			{
				applier->skipping = false;
				return 0;
			}
			applier->batch_txns++;
			applier->batch_end = message->u.commit.end_lsn;
			applier->batch_commit_time = message->u.commit.commit_time;
			return 0;
		case SYNC_MSG_RELATION:
			if (flush_all(applier, error) != 0)
				return -1;
			return apply_relation(applier, message, error);
		case SYNC_MSG_INSERT:
		case SYNC_MSG_UPDATE:
		case SYNC_MSG_DELETE:
			if (applier->skipping)
				return 0;
			relation = relation_for_change(applier, message->u.change.relid, error);
			if (relation == NULL)
				return -1;
			if (relation->table == NULL)
				return 0;
			relation->batch_rows++;
			applier->batch_rows++;
			return apply_change(applier, relation, message, error);
		case SYNC_MSG_TRUNCATE:
			if (applier->skipping)
				return 0;
			return apply_truncate(applier, message, error);
		case SYNC_MSG_ORIGIN:
		case SYNC_MSG_TYPE:
		case SYNC_MSG_LOGICAL:
			return 0;
		case SYNC_MSG_STREAM_START:
		case SYNC_MSG_STREAM_STOP:
		case SYNC_MSG_STREAM_COMMIT:
		case SYNC_MSG_STREAM_ABORT:
			/* the session spools streamed transactions and replays their commits */
			return sync_fail(error, 1, "stream message '%c' reached the applier", (char) message->kind);
	}
	return sync_fail(error, 1, "unexpected message kind '%c'", (char) message->kind);
}

int
sync_apply_commit(SyncApplier *applier, bool wait, SyncLsn *committed, SyncError *error)
{
	int			rc = 0;

	if (applier->in_batch)
	{
		for (int i = 0; i < applier->nrelations && rc == 0; i++)
			rc = write_set(applier, &applier->relations[i], error);
		if (rc == 0)
			rc = enter_pipeline(applier, error);
		if (rc == 0 && applier->batch_txns > 0 &&
			(sync_target_send_position(applier->target, applier->slot, applier->batch_end,
									   applier->batch_commit_time, error) != 0 ||
			 push_pending(applier, 'L', 0, 0, error) != 0))
			rc = -1;
		for (int i = 0; i < applier->nrelations && rc == 0; i++)
		{
			ApplyRelation *relation = &applier->relations[i];

			if (relation->batch_rows > 0 && relation->table != NULL &&
				(sync_target_send_add_rows(applier->target, applier->slot, relation->table,
										   relation->batch_rows, error) != 0 ||
				 push_pending(applier, 'T', relation->relid, 0, error) != 0))
				rc = -1;
		}
		if (rc == 0 &&
			(send_simple(applier, "COMMIT", 'T', error) != 0 ||
			 send_sync(applier, applier->batch_txns > 0 ? applier->batch_end : 0,
					   applier->batch_commit_time, error) != 0))
			rc = -1;
		if (rc != 0)
			return -1;
		for (int i = 0; i < applier->nrelations; i++)
		{
			ApplyRelation *relation = &applier->relations[i];

			if (relation->batch_rows > 0 && relation->table != NULL)
				sync_metrics_add_rows(relation->table->schema, relation->table->name, "cdc",
									  relation->batch_rows);
			relation->batch_rows = 0;
		}
		applier->in_batch = false;
		applier->index_scans = false;
		applier->batch_txns = 0;
		applier->batch_rows = 0;
	}
	/*
	 * Without waiting, only the batch committed before this one must be
	 * done: the target works on this one while the stream is read on.
	 */
	if (wait)
		rc = leave_pipeline(applier, error);
	else
		rc = read_results(applier, 1, error);
	*committed = applier->committed;
	return rc;
}

bool
sync_apply_committing(const SyncApplier *applier)
{
	return applier->syncs > 0;
}

int
sync_apply_advance(SyncApplier *applier, SyncLsn lsn, SyncError *error)
{
	if (applier->in_batch || applier->in_source_txn)
		return 0;
	if (leave_pipeline(applier, error) != 0)
		return -1;
	if (lsn <= applier->committed)
		return 0;
	if (sync_target_write_position(applier->target, applier->slot, lsn, 0, false, error) != 0)
		return -1;
	applier->committed = lsn;
	return 0;
}
