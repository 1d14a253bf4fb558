/*
 * target.c -- tally sync's state in the target database, and the target's
 * tables.
 */
#include "sync/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

static const char prepare_sql[] =
	"CREATE SCHEMA IF NOT EXISTS _tally_sync;"
	"CREATE TABLE IF NOT EXISTS _tally_sync.slots ("
	"  slot text PRIMARY KEY,"
	"  source_system_identifier text NOT NULL,"
	"  lsn pg_lsn,"
	"  snapshot_done boolean NOT NULL DEFAULT false,"
	"  applied_at timestamptz,"
	"  source_commit_time timestamptz);"
	"CREATE TABLE IF NOT EXISTS _tally_sync.tables ("
	"  slot text NOT NULL,"
	"  schema_name text NOT NULL,"
	"  table_name text NOT NULL,"
	"  mode text NOT NULL,"
	"  state text NOT NULL,"
	"  rows_applied bigint NOT NULL DEFAULT 0,"
	"  last_error text,"
	"  watermark text,"
	"  updated_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (slot, schema_name, table_name));";

int
sync_target_prepare(PGconn *target, SyncError *error)
{
	/* Two daemons preparing at once would collide on CREATE ... IF NOT EXISTS. */
	PGresult   *result = pg_query(target,
								  "SELECT to_regclass('_tally_sync.tables') IS NOT NULL",
								  PGRES_TUPLES_OK, error);
	bool		ready;

	if (result == NULL)
		return -1;
	ready = PQgetvalue(result, 0, 0)[0] == 't';
	PQclear(result);
	if (ready)
		return 0;
	if (pg_command(target, "BEGIN", error) != 0)
		return -1;
	if (pg_command(target, "SELECT pg_advisory_xact_lock(hashtext('_tally_sync'))", error) != 0 ||
		pg_command(target, prepare_sql, error) != 0 ||
		pg_command(target, "COMMIT", error) != 0)
	{
		PQclear(PQexec(target, "ROLLBACK"));
		return -1;
	}
	return 0;
}

int
sync_target_read_position(PGconn *target, const char *slot, SyncPosition *position,
						  SyncError *error)
{
	const char *params[1] = {slot};
	PGresult   *result;

	memset(position, 0, sizeof(*position));
	result = pg_query_params(target,
							 "SELECT coalesce(lsn, '0/0')::text, snapshot_done, source_system_identifier "
							 "  FROM _tally_sync.slots WHERE slot = $1",
							 1, params, PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	if (PQntuples(result) == 1)
	{
		position->exists = true;
		sync_lsn_parse(PQgetvalue(result, 0, 0), &position->lsn);
		position->snapshot_done = PQgetvalue(result, 0, 1)[0] == 't';
		snprintf(position->system_identifier, sizeof(position->system_identifier), "%s",
				 PQgetvalue(result, 0, 2));
	}
	PQclear(result);
	return 0;
}

int
sync_target_reset(PGconn *target, const char *slot, const char *system_identifier,
				  SyncError *error)
{
	const char *params[2] = {slot, system_identifier};

	return pg_command_params(target,
							 "WITH forget AS (DELETE FROM _tally_sync.tables WHERE slot = $1 AND mode = 'cdc') "
							 "INSERT INTO _tally_sync.slots (slot, source_system_identifier) "
							 "VALUES ($1, $2) ON CONFLICT (slot) DO UPDATE "
							 "   SET source_system_identifier = $2, lsn = NULL, "
							 "       snapshot_done = false, applied_at = NULL",
							 2, params, error);
}

int
sync_target_forget_watermarks(PGconn *target, const char *slot, SyncError *error)
{
	const char *params[1] = {slot};

	return pg_command_params(target,
							 "UPDATE _tally_sync.tables SET watermark = NULL, rows_applied = 0 "
							 " WHERE slot = $1 AND mode = 'batch'",
							 1, params, error);
}

static const char position_sql[] =
"UPDATE _tally_sync.slots SET lsn = $2::pg_lsn, applied_at = now(), "
"       snapshot_done = snapshot_done OR $3::boolean, "
"       source_commit_time = coalesce(timestamptz '2000-01-01 00:00:00+00' "
"                          + $4::bigint * interval '1 microsecond', source_commit_time) "
" WHERE slot = $1";

/* The parameters of position_sql, in texts (of 20 and 24 bytes) the caller provides. */
static void
position_params(const char *slot, SyncLsn lsn, SyncTimestamp commit_time, bool snapshot_done,
				char *lsn_text, char *time_text, const char *params[4])
{
	sync_lsn_format(lsn, lsn_text);
	snprintf(time_text, 24, "%lld", (long long) commit_time);
	params[0] = slot;
	params[1] = lsn_text;
	params[2] = snapshot_done ? "true" : "false";
	params[3] = commit_time != 0 ? time_text : NULL;
}

int
sync_target_check_position(PGresult *result, const char *slot, SyncError *error)
{
	if (strcmp(PQcmdTuples(result), "1") != 0)
		return sync_fail(error, 1, "the target lost the state row of slot \"%s\" in _tally_sync.slots",
						 slot);
	return 0;
}

int
sync_target_write_position(PGconn *target, const char *slot, SyncLsn lsn,
						   SyncTimestamp commit_time, bool snapshot_done, SyncError *error)
{
	char		lsn_text[20];
	char		time_text[24];
	const char *params[4];
	PGresult   *result;
	int			rc;

	position_params(slot, lsn, commit_time, snapshot_done, lsn_text, time_text, params);
	result = pg_query_params(target, position_sql, 4, params, PGRES_COMMAND_OK, error);
	if (result == NULL)
		return -1;
	rc = sync_target_check_position(result, slot, error);
	PQclear(result);
	return rc;
}

int
sync_target_send_position(PGconn *target, const char *slot, SyncLsn lsn,
						  SyncTimestamp commit_time, SyncError *error)
{
	char		lsn_text[20];
	char		time_text[24];
	const char *params[4];

	position_params(slot, lsn, commit_time, false, lsn_text, time_text, params);
	if (PQsendQueryParams(target, position_sql, 4, NULL, params, NULL, NULL, 0) != 1)
		return sync_fail(error, 1, "could not send to the target: %s", PQerrorMessage(target));
	return 0;
}

int
sync_target_set_table_state(PGconn *target, const char *slot, const SyncTableDef *table,
							const char *state, const char *last_error, SyncError *error)
{
	const char *params[6] = {slot, table->schema, table->name,
	table->mode == SYNC_MODE_CDC ? "cdc" : "batch", state, last_error};

	return pg_command_params(target,
							 "INSERT INTO _tally_sync.tables (slot, schema_name, table_name, mode, state, last_error) "
							 "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (slot, schema_name, table_name) "
							 "DO UPDATE SET mode = $4, state = $5, last_error = $6, updated_at = now()",
							 6, params, error);
}

static const char add_rows_sql[] =
"UPDATE _tally_sync.tables SET rows_applied = rows_applied + $4::bigint, "
"       updated_at = now() "
" WHERE slot = $1 AND schema_name = $2 AND table_name = $3";

int
sync_target_add_rows(PGconn *target, const char *slot, const SyncTableDef *table, long rows,
					 SyncError *error)
{
	char		count[24];
	const char *params[4] = {slot, table->schema, table->name, count};

	snprintf(count, sizeof(count), "%ld", rows);
	return pg_command_params(target, add_rows_sql, 4, params, error);
}

int
sync_target_send_add_rows(PGconn *target, const char *slot, const SyncTableDef *table, long rows,
						  SyncError *error)
{
	char		count[24];
	const char *params[4] = {slot, table->schema, table->name, count};

	snprintf(count, sizeof(count), "%ld", rows);
	if (PQsendQueryParams(target, add_rows_sql, 4, NULL, params, NULL, NULL, 0) != 1)
		return sync_fail(error, 1, "could not send to the target: %s", PQerrorMessage(target));
	return 0;
}

static int
append_identifier(PGconn *conn, PQExpBuffer buf, const char *name)
{
	char	   *quoted = PQescapeIdentifier(conn, name, strlen(name));

	if (quoted == NULL)
		return -1;
	appendPQExpBufferStr(buf, quoted);
	PQfreemem(quoted);
	return 0;
}

/* Compares an existing target table's columns with the source's. */
static int
check_existing_table(PGconn *target, const SyncTableDef *table, SyncError *error)
{
	const char *params[1] = {table->qualified};
	PGresult   *result;
	int			rc = 0;

	result = pg_query_params(target,
							 "SELECT attname, pg_catalog.format_type(atttypid, atttypmod) "
							 "  FROM pg_catalog.pg_attribute "
							 " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
							 1, params, PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	for (int c = 0; c < table->ncolumns && rc == 0; c++)
	{
		const SyncColumnDef *column = &table->columns[c];
		int			found = -1;

		for (int r = 0; r < PQntuples(result); r++)
			if (strcmp(PQgetvalue(result, r, 0), column->name) == 0)
				found = r;
		if (found < 0)
			rc = sync_fail(error, 2,
						   "target table %s exists without column \"%s\" of the source; "
						   "add it (ALTER TABLE %s ADD COLUMN ...) or drop the target table to have it created",
						   table->qualified, column->name, table->qualified);
		else if (strcmp(PQgetvalue(result, found, 1), column->type) != 0)
			rc = sync_fail(error, 2,
						   "column \"%s\" of target table %s has type %s, but the source's has type %s",
						   column->name, table->qualified, PQgetvalue(result, found, 1), column->type);
	}
	PQclear(result);
	return rc;
}

static int
make_hypertable(PGconn *target, const SyncTableDef *table, SyncError *error)
{
	const SyncTableConfig *config = table->config;
	const char *params[3] = {table->qualified, config->hypertable, config->chunk_interval};
	PGresult   *result;

	result = pg_query(target,
					  "SELECT e.extnamespace::regnamespace::text FROM pg_catalog.pg_extension e "
					  " WHERE e.extname = 'tally'",
					  PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	if (PQntuples(result) == 0)
	{
		PQclear(result);
		return sync_fail(error, 2,
						 "table %s is configured as a hypertable, but the target database lacks "
						 "the tally extension. Run on the target: CREATE EXTENSION tally;",
						 table->qualified);
	}
	PQclear(result);
	result = pg_query_params(target,
							 config->chunk_interval
							 ? "SELECT create_hypertable($1::regclass, $2::name, chunk_time_interval => $3::interval)"
							 : "SELECT create_hypertable($1::regclass, $2::name)",
							 config->chunk_interval ? 3 : 2, params, PGRES_TUPLES_OK, error);
	PQclear(result);
	return result ? 0 : -1;
}

int
sync_target_create_table(PGconn *target, const SyncTableDef *table, SyncError *error)
{
	const char *hypertable = table->config ? table->config->hypertable : NULL;
	const char *params[1] = {table->qualified};
	PQExpBufferData sql;
	PGresult   *result;
	bool		exists;
	bool		time_in_key = false;
	int			rc = 0;

	result = pg_query_params(target, "SELECT to_regclass($1) IS NOT NULL", 1, params,
							 PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	exists = PQgetvalue(result, 0, 0)[0] == 't';
	PQclear(result);
	if (exists)
		return check_existing_table(target, table, error);

	if (hypertable != NULL)
	{
		bool		found = false;

		for (int c = 0; c < table->ncolumns; c++)
			if (strcmp(table->columns[c].name, hypertable) == 0)
			{
				found = true;
				time_in_key = table->columns[c].key_position > 0;
			}
		if (!found)
			return sync_fail(error, 2, "[table %s.%s] (line %d): hypertable = %s names no column of the table",
							 table->schema, table->name, table->config->line, hypertable);
	}

	initPQExpBuffer(&sql);
	appendPQExpBufferStr(&sql, "CREATE SCHEMA IF NOT EXISTS ");
	append_identifier(target, &sql, table->schema);
	appendPQExpBuffer(&sql, "; CREATE TABLE %s (", table->qualified);
	for (int c = 0; c < table->ncolumns; c++)
	{
		const SyncColumnDef *column = &table->columns[c];

		if (c > 0)
			appendPQExpBufferStr(&sql, ", ");
		append_identifier(target, &sql, column->name);
		appendPQExpBuffer(&sql, " %s%s", column->type, column->not_null ? " NOT NULL" : "");
	}
	if (table->nkeys > 0)
	{
		/*
		 * The key in its own order.  A partitioned table's key must hold the
		 * partitioning column, so a hypertable's key gets its time column.
		 */
		appendPQExpBufferStr(&sql, ", PRIMARY KEY (");
		for (int k = 1; k <= table->nkeys; k++)
			for (int c = 0; c < table->ncolumns; c++)
				if (table->columns[c].key_position == k)
				{
					if (k > 1)
						appendPQExpBufferStr(&sql, ", ");
					append_identifier(target, &sql, table->columns[c].name);
				}
		if (hypertable != NULL && !time_in_key)
		{
			appendPQExpBufferStr(&sql, ", ");
			append_identifier(target, &sql, hypertable);
		}
		appendPQExpBufferChar(&sql, ')');
	}
	appendPQExpBufferChar(&sql, ')');

	if (pg_command(target, "BEGIN", error) != 0 ||
		pg_command(target, sql.data, error) != 0 ||
		(hypertable != NULL && make_hypertable(target, table, error) != 0) ||
		pg_command(target, "COMMIT", error) != 0)
	{
		PQclear(PQexec(target, "ROLLBACK"));
		rc = -1;
	}
	termPQExpBuffer(&sql);
	return rc;
}
