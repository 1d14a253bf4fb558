/*
 * batch.c -- pulls on a watermark column (see batch.h).
 *
 * The stored watermark is the (watermark, key...) of the last row pulled,
 * as text.  A pull copies the newer rows out of the source ordered by
 * (watermark, key), into a temporary table on the target, then upserts
 * them and records the largest (watermark, key) among them, all in one
 * target transaction: a pull interrupted anywhere is simply done again.
 */
#include "sync/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strbuf.h"

/* Key columns in key order, and the watermark column, as indexes. */
static int
key_columns(const SyncTableDef *table, int *keys)
{
	int			n = 0;

	for (int k = 1; k <= table->nkeys; k++)
		for (int c = 0; c < table->ncolumns; c++)
			if (table->columns[c].key_position == k)
				keys[n++] = c;
	return n;
}

static int
watermark_column(const SyncTableDef *table)
{
	for (int c = 0; c < table->ncolumns; c++)
		if (strcmp(table->columns[c].name, table->config->watermark) == 0)
			return c;
	return -1;
}

int
sync_batch_check(const SyncTableDef *table, SyncError *error)
{
	if (table->nkeys == 0)
		return sync_fail(error, 2,
						 "table %s is in mode = batch but has no primary key to match pulled rows on; "
						 "add one on the source, or use mode = cdc",
						 table->qualified);
	if (watermark_column(table) < 0)
		return sync_fail(error, 2, "[table %s.%s] (line %d): watermark = %s names no column of the table",
						 table->schema, table->name, table->config->line, table->config->watermark);
	return 0;
}

static void
append_quoted(PGconn *conn, PQExpBuffer buf, const char *name)
{
	char	   *quoted = PQescapeIdentifier(conn, name, strlen(name));

	appendPQExpBufferStr(buf, quoted ? quoted : "\"\"");
	PQfreemem(quoted);
}

/* "w, k1, k2" in pull order, each column followed by suffix. */
static void
append_order(PGconn *conn, PQExpBuffer buf, const SyncTableDef *table, const int *keys,
			 int nkeys, const char *suffix)
{
	for (int i = 0; i <= nkeys; i++)
	{
		if (i > 0)
			appendPQExpBufferStr(buf, ", ");
		append_quoted(conn, buf, table->columns[i == 0 ? watermark_column(table) : keys[i - 1]].name);
		appendPQExpBufferStr(buf, suffix);
	}
}

int
sync_batch_pull(PGconn *source, PGconn *target, const char *slot, const SyncTableDef *table,
				long *rows, SyncError *error)
{
	int		   *keys = calloc(table->ncolumns + 1, sizeof(int));
	int			nkeys = key_columns(table, keys);
	const char *state_params[3] = {slot, table->schema, table->name};
	PQExpBufferData order;
	PQExpBufferData order_desc;
	PQExpBufferData columns;
	PQExpBufferData sql;
	PGresult   *stored = NULL;
	PGresult   *result = NULL;
	const char **mark = NULL;
	bool		have_mark = false;
	char	   *buf;
	int			n;
	int			rc = -1;

	*rows = 0;
	initPQExpBuffer(&order);
	initPQExpBuffer(&order_desc);
	initPQExpBuffer(&columns);
	initPQExpBuffer(&sql);
	append_order(source, &order, table, keys, nkeys, "");
	append_order(source, &order_desc, table, keys, nkeys, " DESC");
	for (int c = 0; c < table->ncolumns; c++)
	{
		if (c > 0)
			appendPQExpBufferStr(&columns, ", ");
		append_quoted(source, &columns, table->columns[c].name);
	}

	stored = pg_query_params(target,
							 "SELECT watermark FROM _tally_sync.tables "
							 " WHERE slot = $1 AND schema_name = $2 AND table_name = $3 AND watermark IS NOT NULL",
							 3, state_params, PGRES_TUPLES_OK, error);
	if (stored == NULL)
		goto done;
	if (PQntuples(stored) == 1)
	{
		/* stored as a text array: watermark, then the key values */
		PGresult   *parts;
		const char *p[1] = {PQgetvalue(stored, 0, 0)};

		parts = pg_query_params(target, "SELECT unnest($1::text[])", 1, p, PGRES_TUPLES_OK, error);
		if (parts == NULL)
			goto done;
		if (PQntuples(parts) != nkeys + 1)
		{
			PQclear(parts);
			sync_fail(error, 2, "the stored watermark of %s does not fit its key; run tally sync --resync",
					  table->qualified);
			goto done;
		}
		mark = calloc(nkeys + 2, sizeof(char *));
		for (int i = 0; i <= nkeys; i++)
			mark[i] = strdup(PQgetvalue(parts, i, 0));
		PQclear(parts);
		have_mark = true;
	}

	/* the source side: one snapshot for the rows */
	if (pg_command(source, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", error) != 0)
		goto done;
	if (pg_command(target, "BEGIN", error) != 0)
		goto rollback;
	resetPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, "CREATE TEMPORARY TABLE tally_pulled (LIKE %s) ON COMMIT DROP",
					  table->qualified);
	if (pg_command(target, sql.data, error) != 0)
		goto rollback;
	resetPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, "COPY (SELECT %s FROM %s", columns.data, table->qualified);
	if (have_mark)
	{
		/* the stored values are quoted as literals: COPY takes no parameters */
		appendPQExpBuffer(&sql, " WHERE (%s) > (", order.data);
		for (int i = 0; i <= nkeys; i++)
		{
			int			c = i == 0 ? watermark_column(table) : keys[i - 1];
			char	   *literal = PQescapeLiteral(source, mark[i], strlen(mark[i]));

			appendPQExpBuffer(&sql, "%s%s::%s", i > 0 ? ", " : "", literal, table->columns[c].type);
			PQfreemem(literal);
		}
		appendPQExpBufferChar(&sql, ')');
	}
	appendPQExpBuffer(&sql, " ORDER BY %s) TO STDOUT", order.data);
	result = pg_query(source, sql.data, PGRES_COPY_OUT, error);
	if (result == NULL)
		goto rollback;
	PQclear(result);
	result = pg_query(target, "COPY tally_pulled FROM STDIN", PGRES_COPY_IN, error);
	if (result == NULL)
	{
		/* end the source's COPY before giving the connection back */
		while ((n = PQgetCopyData(source, &buf, 0)) > 0)
			PQfreemem(buf);
		while ((result = PQgetResult(source)) != NULL)
			PQclear(result);
		goto rollback;
	}
	PQclear(result);
	if (pg_pipe_copy(source, target, table->qualified, NULL, NULL, rows, error) != 0)
		goto rollback;

	if (*rows > 0)
	{
		const char *upsert_params[3] = {slot, table->schema, table->name};

		/* upsert on the key, then remember the last (watermark, key) pulled */
		resetPQExpBuffer(&sql);
		appendPQExpBuffer(&sql, "INSERT INTO %s (%s) SELECT %s FROM tally_pulled ON CONFLICT (",
						  table->qualified, columns.data, columns.data);
		for (int k = 0; k < nkeys; k++)
		{
			if (k > 0)
				appendPQExpBufferStr(&sql, ", ");
			append_quoted(target, &sql, table->columns[keys[k]].name);
		}
		if (table->config->hypertable != NULL)
		{
			bool		time_in_key = false;

			for (int k = 0; k < nkeys; k++)
				time_in_key |= strcmp(table->columns[keys[k]].name, table->config->hypertable) == 0;
			if (!time_in_key)
			{
				appendPQExpBufferStr(&sql, ", ");
				append_quoted(target, &sql, table->config->hypertable);
			}
		}
		appendPQExpBufferStr(&sql, ") DO UPDATE SET ");
		for (int c = 0; c < table->ncolumns; c++)
		{
			if (c > 0)
				appendPQExpBufferStr(&sql, ", ");
			append_quoted(target, &sql, table->columns[c].name);
			appendPQExpBufferStr(&sql, " = EXCLUDED.");
			append_quoted(target, &sql, table->columns[c].name);
		}
		if (pg_command(target, sql.data, error) != 0)
			goto rollback;
		resetPQExpBuffer(&sql);
		appendPQExpBufferStr(&sql, "UPDATE _tally_sync.tables SET watermark = (SELECT ARRAY[");
		append_quoted(target, &sql, table->columns[watermark_column(table)].name);
		appendPQExpBufferStr(&sql, "::text");
		for (int k = 0; k < nkeys; k++)
		{
			appendPQExpBufferStr(&sql, ", ");
			append_quoted(target, &sql, table->columns[keys[k]].name);
			appendPQExpBufferStr(&sql, "::text");
		}
		appendPQExpBuffer(&sql, "] FROM tally_pulled ORDER BY %s LIMIT 1)::text, "
						  "rows_applied = rows_applied + %ld, updated_at = now() "
						  "WHERE slot = $1 AND schema_name = $2 AND table_name = $3",
						  order_desc.data, *rows);
		result = pg_query_params(target, sql.data, 3, upsert_params, PGRES_COMMAND_OK, error);
		if (result == NULL)
			goto rollback;
		PQclear(result);
	}
	if (pg_command(target, "COMMIT", error) != 0)
		goto rollback;
	pg_command(source, "COMMIT", error);
	rc = error->status == 0 ? 0 : -1;
	goto done;

rollback:
	PQclear(PQexec(target, "ROLLBACK"));
	PQclear(PQexec(source, "ROLLBACK"));
done:
	if (mark != NULL)
		for (int i = 0; i <= nkeys; i++)
			free((char *) mark[i]);
	free(mark);
	free(keys);
	PQclear(stored);
	termPQExpBuffer(&order);
	termPQExpBuffer(&order_desc);
	termPQExpBuffer(&columns);
	termPQExpBuffer(&sql);
	return rc;
}
