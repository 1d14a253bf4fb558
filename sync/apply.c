/*
 * apply.c -- writes decoded source changes into the target.
 *
 * A batch is one target transaction holding whole source transactions.
 * Consecutive inserts into one table stream through a single COPY; any
 * other change ends that COPY first, so changes keep their source order.
 */
#include "sync/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

#include "common/log.h"
#include "sync/target.h"

/* A source relation as the last RELATION message described it. */
typedef struct ApplyRelation
{
	uint32_t	relid;
	SyncTableDef *table;		/* NULL when not replicated: changes ignored */
	int			ncolumns;
	char	  **names;			/* quoted column names */
	bool	   *is_key;
	uint32_t   *type_oids;
	char	   *column_list;	/* "(a, b, c)" */
	long		batch_rows;
} ApplyRelation;

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

	ApplyRelation *copying;		/* relation whose COPY is open, or NULL */
	PQExpBufferData copy_buf;
	PQExpBufferData sql;
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
	initPQExpBuffer(&applier->copy_buf);
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
	free(relation->type_oids);
	free(relation->column_list);
}

void
sync_applier_free(SyncApplier *applier)
{
	if (applier == NULL)
		return;
	for (int i = 0; i < applier->nrelations; i++)
		free_relation(&applier->relations[i]);
	free(applier->relations);
	termPQExpBuffer(&applier->copy_buf);
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

static ApplyRelation *
find_relation(SyncApplier *applier, uint32_t relid)
{
	for (int i = 0; i < applier->nrelations; i++)
		if (applier->relations[i].relid == relid)
			return &applier->relations[i];
	return NULL;
}

static int
end_copy(SyncApplier *applier, SyncError *error)
{
	PGresult   *result;
	int			rc = 0;

	if (applier->copying == NULL)
		return 0;
	if (applier->copy_buf.len > 0 &&
		PQputCopyData(applier->target, applier->copy_buf.data, (int) applier->copy_buf.len) != 1)
		rc = sync_fail(error, 1, "could not send rows to the target: %s",
					   PQerrorMessage(applier->target));
	resetPQExpBuffer(&applier->copy_buf);
	if (PQputCopyEnd(applier->target, NULL) != 1)
		rc = sync_fail(error, 1, "could not end COPY on the target: %s",
					   PQerrorMessage(applier->target));
	while ((result = PQgetResult(applier->target)) != NULL)
	{
		if (PQresultStatus(result) != PGRES_COMMAND_OK)
			rc = sync_fail(error, 1, "COPY into %s failed on the target: %s",
						   applier->copying->table->qualified, PQresultErrorMessage(result));
		PQclear(result);
	}
	applier->copying = NULL;
	return rc;
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

	if (end_copy(applier, error) != 0)
		return -1;
	fresh.relid = rel->relid;
	fresh.table = sync_tables_find(applier->tables, rel->schema[0] ? rel->schema : "pg_catalog",
								   rel->name);
	fresh.ncolumns = rel->ncolumns;
	fresh.names = calloc(rel->ncolumns + 1, sizeof(char *));
	fresh.is_key = calloc(rel->ncolumns + 1, sizeof(bool));
	fresh.type_oids = calloc(rel->ncolumns + 1, sizeof(uint32_t));
	if (fresh.names == NULL || fresh.is_key == NULL || fresh.type_oids == NULL)
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
		fresh.type_oids[i] = rel->columns[i].type_oid;
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
	if (value->kind == SYNC_VALUE_NULL)
	{
		appendPQExpBufferStr(buf, "\\N");
		return;
	}
	for (uint32_t i = 0; i < value->len; i++)
	{
		char		c = value->data[i];

		switch (c)
		{
			case '\\':
				appendPQExpBufferStr(buf, "\\\\");
				break;
			case '\n':
				appendPQExpBufferStr(buf, "\\n");
				break;
			case '\r':
				appendPQExpBufferStr(buf, "\\r");
				break;
			case '\t':
				appendPQExpBufferStr(buf, "\\t");
				break;
			default:
				appendPQExpBufferChar(buf, c);
		}
	}
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
	if (applier->copying != relation)
	{
		PGresult   *result;

		if (end_copy(applier, error) != 0)
			return -1;
		resetPQExpBuffer(&applier->sql);
		appendPQExpBuffer(&applier->sql, "COPY %s %s FROM STDIN", relation->table->qualified,
						  relation->column_list);
		result = pg_query(applier->target, applier->sql.data, PGRES_COPY_IN, error);
		if (result == NULL)
			return -1;
		PQclear(result);
		applier->copying = relation;
	}
	for (int i = 0; i < tuple->ncolumns; i++)
	{
		if (i > 0)
			appendPQExpBufferChar(&applier->copy_buf, '\t');
		append_copy_value(&applier->copy_buf, &tuple->values[i]);
	}
	appendPQExpBufferChar(&applier->copy_buf, '\n');
	if (applier->copy_buf.len >= 64 * 1024)
	{
		if (PQputCopyData(applier->target, applier->copy_buf.data, (int) applier->copy_buf.len) != 1)
			return sync_fail(error, 1, "could not send rows to the target: %s",
							 PQerrorMessage(applier->target));
		resetPQExpBuffer(&applier->copy_buf);
	}
	return 0;
}

/*
 * Appends "WHERE key = $n AND ..." matching the row that key identifies.
 * Without a key (REPLICA IDENTITY FULL) every sent column is matched, and
 * only one of several identical rows is touched, as the source did.
 */
static void
append_where(SyncApplier *applier, ApplyRelation *relation, const SyncTuple *key, bool full,
			 const char **params, int *nparams)
{
	PQExpBuffer sql = &applier->sql;
	int			matched = 0;

	if (full)
		appendPQExpBuffer(sql, " WHERE ctid = (SELECT ctid FROM %s", relation->table->qualified);
	for (int i = 0; i < key->ncolumns && i < relation->ncolumns; i++)
	{
		const SyncValue *value = &key->values[i];

		if ((!full && !relation->is_key[i]) || value->kind == SYNC_VALUE_UNCHANGED)
			continue;
		appendPQExpBuffer(sql, "%s%s", matched++ == 0 ? " WHERE " : " AND ", relation->names[i]);
		if (value->kind == SYNC_VALUE_NULL)
			appendPQExpBufferStr(sql, " IS NULL");
		else
		{
			params[*nparams] = NULL;	/* filled by the caller from key */
			appendPQExpBuffer(sql, " = $%d", ++*nparams);
		}
	}
	if (full)
		appendPQExpBufferStr(sql, " LIMIT 1)");
}

/* Copies a value into a NUL-terminated parameter; returns NULL for NULL. */
static char *
param_text(const SyncValue *value)
{
	if (value->kind != SYNC_VALUE_TEXT)
		return NULL;
	return strndup(value->data, value->len);
}

static int
run_change(SyncApplier *applier, ApplyRelation *relation, int nparams, char **params,
		   const char *what, SyncError *error)
{
	PGresult   *result = pg_query_params(applier->target, applier->sql.data, nparams,
										 (const char *const *) params, PGRES_COMMAND_OK, error);
	int			rc = 0;

	for (int i = 0; i < nparams; i++)
		free(params[i]);
	if (result == NULL)
		return -1;
	if (strcmp(PQcmdTuples(result), "0") == 0)
		log_event(LOG_WARNING, "row_missing",
				  "table=%s change=%s detail=%s", log_quote(relation->table->qualified), what,
				  log_quote("the target has no row with this key: the tables had diverged"));
	PQclear(result);
	return rc;
}

static int
apply_update_or_delete(SyncApplier *applier, ApplyRelation *relation,
					   const SyncMessage *message, SyncError *error)
{
	const __typeof__(message->u.change) *change = &message->u.change;
	bool		is_update = message->kind == SYNC_MSG_UPDATE;
	const SyncTuple *key = change->old_kind ? &change->old : &change->new;
	bool		full = relation->table->nkeys == 0;
	char	  **params;
	const char **dummy;
	int			nparams = 0;
	int			set = 0;

	if (end_copy(applier, error) != 0)
		return -1;
	params = calloc(2 * (size_t) relation->ncolumns + 1, sizeof(char *));
	dummy = calloc(2 * (size_t) relation->ncolumns + 1, sizeof(char *));
	if (params == NULL || dummy == NULL)
	{
		free(params);
		free(dummy);
		return sync_fail(error, 1, "out of memory");
	}
	resetPQExpBuffer(&applier->sql);
	if (is_update)
	{
		appendPQExpBuffer(&applier->sql, "UPDATE %s SET ", relation->table->qualified);
		for (int i = 0; i < change->new.ncolumns && i < relation->ncolumns; i++)
		{
			const SyncValue *value = &change->new.values[i];

			if (value->kind == SYNC_VALUE_UNCHANGED)
				continue;		/* a TOASTed value the update did not touch */
			appendPQExpBuffer(&applier->sql, "%s%s = ", set++ > 0 ? ", " : "", relation->names[i]);
			if (value->kind == SYNC_VALUE_NULL)
				appendPQExpBufferStr(&applier->sql, "NULL");
			else
			{
				params[nparams] = param_text(value);
				appendPQExpBuffer(&applier->sql, "$%d", ++nparams);
			}
		}
		if (set == 0)
		{
			free(params);
			free(dummy);
			return 0;
		}
	}
	else
		appendPQExpBuffer(&applier->sql, "DELETE FROM %s", relation->table->qualified);

	{
		int			first_key = nparams;

		append_where(applier, relation, key, full, dummy, &nparams);
		for (int i = 0, p = first_key; i < key->ncolumns && i < relation->ncolumns; i++)
		{
			const SyncValue *value = &key->values[i];

			if ((!full && !relation->is_key[i]) || value->kind != SYNC_VALUE_TEXT)
				continue;
			params[p++] = param_text(value);
		}
	}
	free(dummy);
	{
		int			rc = run_change(applier, relation, nparams, params,
									is_update ? "update" : "delete", error);

		free(params);
		return rc;
	}
}

static int
apply_truncate(SyncApplier *applier, const SyncMessage *message, SyncError *error)
{
	int			n = 0;

	if (end_copy(applier, error) != 0)
		return -1;
	resetPQExpBuffer(&applier->sql);
	appendPQExpBufferStr(&applier->sql, "TRUNCATE ");
	for (int i = 0; i < message->u.truncate.nrelids; i++)
	{
		ApplyRelation *relation = find_relation(applier, message->u.truncate.relids[i]);

		if (relation == NULL || relation->table == NULL)
			continue;
		appendPQExpBuffer(&applier->sql, "%s%s", n++ > 0 ? ", " : "", relation->table->qualified);
	}
	if (n == 0)
		return 0;
	if (message->u.truncate.options & 2)
		appendPQExpBufferStr(&applier->sql, " RESTART IDENTITY");
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
			if (end_copy(applier, error) != 0)
				return -1;
			applier->batch_txns++;
			applier->batch_end = message->u.commit.end_lsn;
			return 0;
		case SYNC_MSG_RELATION:
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
	if (end_copy(applier, error) != 0)
		return -1;
	if (applier->batch_txns > 0 &&
		sync_target_write_position(applier->target, applier->slot, applier->batch_end,
								   false, error) != 0)
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
		applier->relations[i].batch_rows = 0;
	applier->in_batch = false;
	if (applier->batch_txns > 0)
		applier->committed = applier->batch_end;
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
	if (sync_target_write_position(applier->target, applier->slot, lsn, false, error) != 0)
		return -1;
	applier->committed = lsn;
	return 0;
}
