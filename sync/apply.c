/*
 * apply.c -- writes decoded source changes into the target.
 *
 * A batch is one target transaction holding whole source transactions.
 * Inserts are collected per table and written by one COPY per table; an
 * UPDATE or DELETE goes out as a prepared statement in libpq's pipeline
 * mode, so that a batch costs a few round trips, not one per row.  Order is
 * kept where it matters: a table's collected inserts are written before
 * any update, delete or truncate of that table, and before a change of its
 * schema.  (Across tables the target has no constraints to order, and the
 * batch commits as a whole.)
 */
#include "sync/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

#include "common/log.h"
#include "sync/metrics.h"
#include "sync/target.h"

/* A table's collected inserts are written once they reach this size. */
#define INSERT_BUFFER_BYTES (4 * 1024 * 1024)
/* Results are read back after this many pipelined statements. */
#define PIPELINE_READ_EVERY 64
/*
 * When an update or delete of a table follows collected inserts into it,
 * up to this many of them go out as pipelined INSERTs rather than a COPY,
 * which would need the pipeline drained first.
 */
#define PIPELINED_INSERTS_MAX 2000

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
	bool	   *is_key;
	char	   *column_list;	/* "(a, b, c)" */
	long		batch_rows;
	PQExpBufferData inserts;	/* collected inserts, encoded by collect_insert(); data NULL until used */
	long		ninserts;
	char		insert_statement[24];	/* prepared INSERT, "" until prepared */
	ApplyStatement *statements;
	int			nstatements;
} ApplyRelation;

/* What a pipelined result belongs to. */
typedef struct PendingResult
{
	char		kind;			/* 'P' prepare, 'I' insert, 'U' update, 'D' delete */
	uint32_t	relid;
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
	bool		in_source_txn;
	bool		skipping;		/* the open source transaction is already applied */
	int			batch_txns;
	long		batch_rows;
	SyncLsn		batch_end;
	SyncTimestamp batch_commit_time;
	SyncTimestamp committed_time;

	bool		pipeline;		/* the target connection is in pipeline mode */
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
		PQfreemem(relation->names[i]);
	free(relation->names);
	free(relation->is_key);
	free(relation->column_list);
	if (relation->inserts.data != NULL)
		termPQExpBuffer(&relation->inserts);
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
push_pending(SyncApplier *applier, char kind, uint32_t relid, SyncError *error)
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
	applier->pending[(applier->pending_head + applier->pending_count) % applier->pending_capacity] =
		(PendingResult) {.kind = kind, .relid = relid};
	applier->pending_count++;
	return 0;
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
	if (status == PGRES_PIPELINE_ABORTED)
		return 0;				/* the first failure was reported */
	if (status != PGRES_COMMAND_OK)
		return sync_fail(error, 1, "%s of %s failed on the target: %s",
						 what.kind == 'P' ? "preparing a change" : what.kind == 'U' ? "UPDATE" :
						 what.kind == 'I' ? "INSERT" : "DELETE",
						 relation_name(applier, what.relid), PQresultErrorMessage(result));
	if ((what.kind == 'U' || what.kind == 'D') && strcmp(PQcmdTuples(result), "0") == 0)
		log_event(LOG_WARNING, "row_missing", "table=%s change=%s detail=%s",
				  log_quote(relation_name(applier, what.relid)),
				  what.kind == 'U' ? "update" : "delete",
				  log_quote("the target has no row with this key: the tables had diverged"));
	return 0;
}

/*
 * Reads pipelined results: those already arrived, or with until_sync all of
 * them up to the pipeline's sync point.
 */
static int
read_results(SyncApplier *applier, bool until_sync, SyncError *error)
{
	int			rc = 0;

	for (;;)
	{
		PGresult   *result;

		if (!until_sync)
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
			if (!until_sync && applier->pending_count == 0)
				return rc;
			if (until_sync && PQstatus(applier->target) != CONNECTION_OK)
				return sync_fail(error, 1, "lost the connection to the target: %s",
								 PQerrorMessage(applier->target));
			continue;
		}
		if (PQresultStatus(result) == PGRES_PIPELINE_SYNC)
		{
			PQclear(result);
			if (until_sync)
				return rc;
			continue;
		}
		if (take_result(applier, result, error) != 0)
			rc = -1;
		PQclear(result);
	}
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
	if (PQpipelineSync(applier->target) != 1)
		return sync_fail(error, 1, "could not send to the target: %s", PQerrorMessage(applier->target));
	rc = read_results(applier, true, error);
	if (PQexitPipelineMode(applier->target) != 1 && rc == 0)
		rc = sync_fail(error, 1, "could not leave pipeline mode on the target: %s",
					   PQerrorMessage(applier->target));
	applier->pipeline = false;
	applier->pending_count = 0;
	return rc;
}

/* ---- inserts ---- */

/*
 * Collected inserts are kept as their values: per value a kind byte ('n' or
 * 't'), then for text a 4-byte length and the bytes.  They can then go out
 * either as COPY text or as parameters of a prepared INSERT.
 */
static void
collect_insert(ApplyRelation *relation, const SyncTuple *tuple)
{
	for (int i = 0; i < tuple->ncolumns; i++)
	{
		const SyncValue *value = &tuple->values[i];
		uint32_t	len = value->len;

		appendPQExpBufferChar(&relation->inserts, value->kind == SYNC_VALUE_TEXT ? 't' : 'n');
		if (value->kind == SYNC_VALUE_TEXT)
		{
			appendBinaryPQExpBuffer(&relation->inserts, (const char *) &len, sizeof(len));
			appendBinaryPQExpBuffer(&relation->inserts, value->data, len);
		}
	}
}

/* Reads the next collected value at *cursor; returns its bytes or NULL for NULL. */
static const char *
next_value(const char **cursor, uint32_t *len)
{
	const char *p = *cursor;

	if (*p++ == 'n')
	{
		*cursor = p;
		*len = 0;
		return NULL;
	}
	memcpy(len, p, sizeof(*len));
	p += sizeof(*len);
	*cursor = p + *len;
	return p;
}

static void append_copy_value(PQExpBuffer buf, const SyncValue *value);

static int
copy_inserts(SyncApplier *applier, ApplyRelation *relation, SyncError *error)
{
	PQExpBufferData chunk;
	const char *cursor = relation->inserts.data;
	const char *end = cursor + relation->inserts.len;
	PGresult   *result;
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
	while (cursor < end && rc == 0)
	{
		for (int i = 0; i < relation->ncolumns; i++)
		{
			SyncValue	value = {.kind = SYNC_VALUE_TEXT};

			value.data = next_value(&cursor, &value.len);
			if (value.data == NULL)
				value.kind = SYNC_VALUE_NULL;
			if (i > 0)
				appendPQExpBufferChar(&chunk, '\t');
			append_copy_value(&chunk, &value);
		}
		appendPQExpBufferChar(&chunk, '\n');
		if (chunk.len >= 256 * 1024 || cursor >= end)
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

static int	pipeline_sent(SyncApplier *applier, SyncError *error);

static int
pipeline_inserts(SyncApplier *applier, ApplyRelation *relation, SyncError *error)
{
	const char *cursor = relation->inserts.data;
	const char *end = cursor + relation->inserts.len;
	int			rc = 0;

	if (enter_pipeline(applier, error) != 0)
		return -1;
	if (relation->insert_statement[0] == '\0')
	{
		resetPQExpBuffer(&applier->sql);
		appendPQExpBuffer(&applier->sql, "INSERT INTO %s %s VALUES (", relation->table->qualified,
						  relation->column_list);
		for (int i = 0; i < relation->ncolumns; i++)
			appendPQExpBuffer(&applier->sql, "%s$%d", i > 0 ? ", " : "", i + 1);
		appendPQExpBufferChar(&applier->sql, ')');
		snprintf(relation->insert_statement, sizeof(relation->insert_statement), "tally_%d",
				 ++applier->statement_counter);
		if (PQsendPrepare(applier->target, relation->insert_statement, applier->sql.data, 0, NULL) != 1 ||
			push_pending(applier, 'P', relation->relid, error) != 0)
			return sync_fail(error, 1, "could not prepare an insert on the target: %s",
							 PQerrorMessage(applier->target));
	}
	while (cursor < end && rc == 0)
	{
		for (int i = 0; i < relation->ncolumns; i++)
		{
			uint32_t	len;
			const char *data = next_value(&cursor, &len);

			applier->params[i] = data ? strndup(data, len) : NULL;
		}
		if (PQsendQueryPrepared(applier->target, relation->insert_statement, relation->ncolumns,
								(const char *const *) applier->params, NULL, NULL, 0) != 1 ||
			push_pending(applier, 'I', relation->relid, error) != 0)
			rc = sync_fail(error, 1, "could not send an insert to the target: %s",
						   PQerrorMessage(applier->target));
		for (int i = 0; i < relation->ncolumns; i++)
			free(applier->params[i]);
		if (rc == 0)
			rc = pipeline_sent(applier, error);
	}
	return rc;
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

/*
 * Writes a table's collected inserts: by COPY, or, when few and
 * pipelining is allowed, as pipelined INSERTs.
 */
static int
write_inserts(SyncApplier *applier, ApplyRelation *relation, bool may_pipeline, SyncError *error)
{
	int			rc;

	if (relation->ninserts == 0)
		return 0;
	if (may_pipeline && relation->ninserts <= PIPELINED_INSERTS_MAX)
		rc = ensure_params(applier, 2 * relation->ncolumns, error) == 0
			? pipeline_inserts(applier, relation, error) : -1;
	else
		rc = copy_inserts(applier, relation, error);
	resetPQExpBuffer(&relation->inserts);
	relation->ninserts = 0;
	return rc;
}

/* Writes every table's collected inserts and ends the pipeline. */
static int
flush_all(SyncApplier *applier, SyncError *error)
{
	if (leave_pipeline(applier, error) != 0)
		return -1;
	for (int i = 0; i < applier->nrelations; i++)
		if (write_inserts(applier, &applier->relations[i], false, error) != 0)
			return -1;
	return 0;
}

static int
begin_batch(SyncApplier *applier, SyncError *error)
{
	if (applier->in_batch)
		return 0;
	if (pg_command(applier->target, "BEGIN", error) != 0)
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
	if (rc == 0 && (begin_batch(applier, error) != 0 ||
					pg_command(applier->target, applier->sql.data, error) != 0))
		rc = -1;
	if (rc == 0)
		log_event(LOG_INFO, "column_added", "table=%s column=%s type=%s",
				  log_quote(table->qualified), log_quote(name), log_quote(type));
	return rc;
}

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
										 "SELECT attname, pg_catalog.format_type(atttypid, atttypmod) "
										 "  FROM pg_catalog.pg_attribute "
										 " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
										 1, target_params, PGRES_TUPLES_OK, error);
	if (target_columns == NULL)
		rc = -1;
	for (int i = 0; rc == 0 && i < rel->ncolumns; i++)
	{
		const char *name = rel->columns[i].name;
		const char *type = PQgetvalue(source_types, i, 0);
		int			found = -1;

		for (int r = 0; r < PQntuples(target_columns); r++)
			if (strcmp(PQgetvalue(target_columns, r, 0), name) == 0)
				found = r;
		if (found < 0)
			rc = add_column(applier, relation, relation->names[i], name, type, error);
		else if (strcmp(PQgetvalue(target_columns, found, 1), type) != 0)
			rc = sync_fail(error, 2,
						   "column \"%s\" of table %s changed type on the source to %s (the target's "
						   "is %s); tally sync stopped before applying any change made after it, and "
						   "the position is kept. Change the target's column to the new type, then "
						   "start tally sync again",
						   name, relation->table->qualified, type, PQgetvalue(target_columns, found, 1));
	}
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

	if (fresh.table != NULL && reconcile_columns(applier, &fresh, message, error) != 0)
	{
		free_relation(&fresh);
		return -1;
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

static ApplyRelation *
relation_for_change(SyncApplier *applier, uint32_t relid, SyncError *error)
{
	ApplyRelation *relation = find_relation(applier, relid);

	if (relation == NULL)
		sync_fail(error, 1, "the source sent a change of relation %u before describing it", relid);
	return relation;
}

static int
apply_insert(SyncApplier *applier, ApplyRelation *relation, const SyncTuple *tuple,
			 SyncError *error)
{
	if (tuple->ncolumns != relation->ncolumns)
		return sync_fail(error, 1, "an insert into %s has %d columns, its description %d",
						 relation->table->qualified, tuple->ncolumns, relation->ncolumns);
	for (int i = 0; i < tuple->ncolumns; i++)
		if (tuple->values[i].kind != SYNC_VALUE_TEXT && tuple->values[i].kind != SYNC_VALUE_NULL)
			return sync_fail(error, 1, "an insert into %s carries a value of kind '%c'",
							 relation->table->qualified, (char) tuple->values[i].kind);
	if (relation->inserts.data == NULL)
		initPQExpBuffer(&relation->inserts);
	collect_insert(relation, tuple);
	relation->ninserts++;
	if (PQExpBufferBroken(&relation->inserts))
		return sync_fail(error, 1, "out of memory");
	if (relation->inserts.len >= INSERT_BUFFER_BYTES)
		return write_inserts(applier, relation, false, error);
	return 0;
}

/*
 * The shape of an UPDATE or DELETE: which columns it sets (those sent; an
 * unchanged TOASTed value is not) and, without a key, which columns it
 * matches on.  One prepared statement serves every change of one shape.
 */
static void
change_shape(const ApplyRelation *relation, const SyncMessage *message, PQExpBuffer shape)
{
	const SyncTuple *old = message->u.change.old_kind ? &message->u.change.old : NULL;

	resetPQExpBuffer(shape);
	appendPQExpBufferChar(shape, (char) message->kind);
	if (message->kind == SYNC_MSG_UPDATE)
		for (int i = 0; i < relation->ncolumns; i++)
			appendPQExpBufferChar(shape, message->u.change.new.values[i].kind == SYNC_VALUE_UNCHANGED ? 'u' : 's');
	if (relation->table->nkeys == 0)
	{
		const SyncTuple *key = old ? old : &message->u.change.new;

		appendPQExpBufferChar(shape, '/');
		for (int i = 0; i < relation->ncolumns; i++)
			appendPQExpBufferChar(shape, key->values[i].kind == SYNC_VALUE_UNCHANGED ? 'u' : 'm');
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
		push_pending(applier, 'P', relation->relid, error) != 0)
	{
		sync_fail(error, 1, "could not prepare a change on the target: %s",
				  PQerrorMessage(applier->target));
		free(statement->shape);
		return NULL;
	}
	relation->nstatements++;
	return statement;
}

static char *
param_text(const SyncValue *value)
{
	if (value->kind != SYNC_VALUE_TEXT)
		return NULL;
	return strndup(value->data, value->len);
}

static int
apply_update_or_delete(SyncApplier *applier, ApplyRelation *relation,
					   const SyncMessage *message, SyncError *error)
{
	const __typeof__(message->u.change) *change = &message->u.change;
	bool		is_update = message->kind == SYNC_MSG_UPDATE;
	const SyncTuple *key = change->old_kind ? &change->old : &change->new;
	bool		full = relation->table->nkeys == 0;
	PQExpBufferData shape;
	const ApplyStatement *statement;
	int			nparams = 0;
	int			rc = 0;

	if (key->ncolumns != relation->ncolumns ||
		(is_update && change->new.ncolumns != relation->ncolumns))
		return sync_fail(error, 1, "a change of %s has %d columns, its description %d",
						 relation->table->qualified, key->ncolumns, relation->ncolumns);
	/* this table's collected inserts come first */
	if (ensure_params(applier, 2 * relation->ncolumns, error) != 0 ||
		write_inserts(applier, relation, true, error) != 0 ||
		enter_pipeline(applier, error) != 0)
		return -1;
	initPQExpBuffer(&shape);
	change_shape(relation, message, &shape);
	statement = statement_for(applier, relation, shape.data, error);
	termPQExpBuffer(&shape);
	if (statement == NULL)
		return -1;

	if (is_update)
		for (int i = 0; i < relation->ncolumns; i++)
			if (change->new.values[i].kind != SYNC_VALUE_UNCHANGED)
				applier->params[nparams++] = param_text(&change->new.values[i]);
	for (int i = 0; i < relation->ncolumns; i++)
	{
		if (full ? key->values[i].kind == SYNC_VALUE_UNCHANGED : !relation->is_key[i])
			continue;
		applier->params[nparams++] = param_text(&key->values[i]);
	}
	if (PQsendQueryPrepared(applier->target, statement->name, nparams,
							(const char *const *) applier->params, NULL, NULL, 0) != 1 ||
		push_pending(applier, (char) message->kind, relation->relid, error) != 0)
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
	return read_results(applier, false, error);
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
		/* inserts collected before the TRUNCATE are truncated with the rest */
		if (relation->inserts.data != NULL)
			resetPQExpBuffer(&relation->inserts);
		relation->ninserts = 0;
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
			if (message->kind == SYNC_MSG_INSERT)
				return apply_insert(applier, relation, &message->u.change.new, error);
			return apply_update_or_delete(applier, relation, message, error);
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
sync_apply_commit(SyncApplier *applier, SyncLsn *committed, SyncError *error)
{
	if (!applier->in_batch)
	{
		*committed = applier->committed;
		return 0;
	}
	if (flush_all(applier, error) != 0)
		return -1;
	if (applier->batch_txns > 0 &&
		sync_target_write_position(applier->target, applier->slot, applier->batch_end,
								   applier->batch_commit_time, false, error) != 0)
		return -1;
	for (int i = 0; i < applier->nrelations; i++)
	{
		ApplyRelation *relation = &applier->relations[i];

		if (relation->batch_rows > 0 && relation->table != NULL &&
			sync_target_add_rows(applier->target, applier->slot, relation->table,
								 relation->batch_rows, error) != 0)
			return -1;
	}
	if (pg_command(applier->target, "COMMIT", error) != 0)
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
	if (applier->batch_txns > 0)
	{
		applier->committed = applier->batch_end;
		applier->committed_time = applier->batch_commit_time;
		sync_metrics_add_batch();
	}
	applier->batch_txns = 0;
	applier->batch_rows = 0;
	*committed = applier->committed;
	return 0;
}

int
sync_apply_advance(SyncApplier *applier, SyncLsn lsn, SyncError *error)
{
	if (applier->in_batch || applier->in_source_txn || lsn <= applier->committed)
		return 0;
	if (sync_target_write_position(applier->target, applier->slot, lsn, 0, false, error) != 0)
		return -1;
	applier->committed = lsn;
	return 0;
}
