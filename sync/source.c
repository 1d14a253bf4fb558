/*
 * source.c -- reads the source's catalog and prepares its publication.
 *
 * The key of a table is its primary key, or the index named by REPLICA
 * IDENTITY USING INDEX; with REPLICA IDENTITY FULL there is no key and rows
 * are matched on all their columns.  Generated columns are left out: PG15's
 * pgoutput does not send them.
 */
#include "sync/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

static const char tables_sql[] =
	"SELECT c.oid, n.nspname, c.relname, c.relreplident, "
	"       greatest(c.reltuples, 0)::bigint, "
	"       coalesce((SELECT conindid FROM pg_catalog.pg_constraint "
	"                  WHERE conrelid = c.oid AND contype = 'p'), "
	"                (SELECT indexrelid FROM pg_catalog.pg_index "
	"                  WHERE indrelid = c.oid AND indisreplident), 0) "
	"  FROM pg_catalog.pg_class c "
	"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	" WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
	"   AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
	"   AND n.nspname !~ '^pg_' "
	" ORDER BY n.nspname, c.relname";

static const char columns_sql[] =
	"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid, "
	"       a.attnotnull, coalesce((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
	"                                WHERE k.attnum = a.attnum), 0) "
	"  FROM pg_catalog.pg_attribute a "
	"  LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = $2::oid "
	" WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
	"   AND a.attgenerated = '' "
	" ORDER BY a.attnum";

static char *
quote_qualified(PGconn *conn, const char *schema, const char *name)
{
	char	   *s = PQescapeIdentifier(conn, schema, strlen(schema));
	char	   *n = PQescapeIdentifier(conn, name, strlen(name));
	char	   *result = NULL;

	if (s != NULL && n != NULL && asprintf(&result, "%s.%s", s, n) < 0)
		result = NULL;
	PQfreemem(s);
	PQfreemem(n);
	return result;
}

static int
read_columns(PGconn *source, SyncTableDef *table, const char *key_index, SyncError *error)
{
	char		relid[16];
	const char *params[2] = {relid, key_index};
	PGresult   *result;

	snprintf(relid, sizeof(relid), "%u", table->relid);
	result = pg_query_params(source, columns_sql, 2, params, PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	table->ncolumns = PQntuples(result);
	table->columns = calloc(table->ncolumns > 0 ? table->ncolumns : 1, sizeof(SyncColumnDef));
	if (table->columns == NULL)
	{
		PQclear(result);
		return sync_fail(error, 1, "out of memory");
	}
	for (int i = 0; i < table->ncolumns; i++)
	{
		SyncColumnDef *column = &table->columns[i];

		column->name = strdup(PQgetvalue(result, i, 0));
		column->type = strdup(PQgetvalue(result, i, 1));
		column->type_oid = (uint32_t) strtoul(PQgetvalue(result, i, 2), NULL, 10);
		column->not_null = PQgetvalue(result, i, 3)[0] == 't';
		column->key_position = atoi(PQgetvalue(result, i, 4));
		if (column->key_position > 0)
			table->nkeys++;
	}
	PQclear(result);
	return 0;
}

int
sync_source_list_tables(PGconn *source, const SyncConfig *config, SyncTableList *tables,
						SyncError *error)
{
	PGresult   *result;
	int			n;

	memset(tables, 0, sizeof(*tables));
	result = pg_query(source, tables_sql, PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	n = PQntuples(result);
	tables->tables = calloc(n > 0 ? n : 1, sizeof(SyncTableDef));
	if (tables->tables == NULL)
	{
		PQclear(result);
		return sync_fail(error, 1, "out of memory");
	}
	for (int i = 0; i < n; i++)
	{
		const char *schema = PQgetvalue(result, i, 1);
		const char *name = PQgetvalue(result, i, 2);
		SyncTableDef *table;

		if (!sync_config_selects(config, schema, name))
			continue;
		table = &tables->tables[tables->count++];
		table->relid = (uint32_t) strtoul(PQgetvalue(result, i, 0), NULL, 10);
		table->schema = strdup(schema);
		table->name = strdup(name);
		table->qualified = quote_qualified(source, schema, name);
		table->replica_identity = PQgetvalue(result, i, 3)[0];
		table->estimated_rows = strtoll(PQgetvalue(result, i, 4), NULL, 10);
		table->config = sync_config_table(config, schema, name);
		table->mode = table->config ? table->config->mode : SYNC_MODE_CDC;
		if (table->schema == NULL || table->name == NULL || table->qualified == NULL)
		{
			PQclear(result);
			return sync_fail(error, 1, "out of memory");
		}
		if (read_columns(source, table,
						 table->replica_identity == 'f' ? "0" : PQgetvalue(result, i, 5),
						 error) != 0)
		{
			PQclear(result);
			return -1;
		}
	}
	PQclear(result);

	/* A [table] section that names no selected table is a mistake worth stopping for. */
	for (int i = 0; i < config->ntable_configs; i++)
	{
		const SyncTableConfig *section = &config->table_configs[i];

		if (sync_tables_find(tables, section->schema, section->name) == NULL)
			return sync_fail(error, 2,
							 "%s:%d: [table %s.%s] names no table that the source has and [sync] tables selects",
							 config->path, section->line, section->schema, section->name);
	}
	return 0;
}

void
sync_tables_free(SyncTableList *tables)
{
	for (int i = 0; i < tables->count; i++)
	{
		SyncTableDef *table = &tables->tables[i];

		for (int c = 0; c < table->ncolumns; c++)
		{
			free(table->columns[c].name);
			free(table->columns[c].type);
		}
		free(table->columns);
		free(table->schema);
		free(table->name);
		free(table->qualified);
	}
	free(tables->tables);
	memset(tables, 0, sizeof(*tables));
}

SyncTableDef *
sync_tables_find(const SyncTableList *tables, const char *schema, const char *name)
{
	for (int i = 0; i < tables->count; i++)
		if (strcmp(tables->tables[i].schema, schema) == 0 &&
			strcmp(tables->tables[i].name, name) == 0)
			return &tables->tables[i];
	return NULL;
}

static bool
has_cdc_tables(const SyncTableList *tables)
{
	for (int i = 0; i < tables->count; i++)
		if (tables->tables[i].mode == SYNC_MODE_CDC)
			return true;
	return false;
}

int
sync_source_check(PGconn *source, const SyncTableList *tables, SyncError *error)
{
	PGresult   *result;

	if (!has_cdc_tables(tables))
		return 0;
	result = pg_query(source,
					  "SELECT current_setting('wal_level'), "
					  "       (SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles "
					  "         WHERE rolname = current_user), current_user",
					  PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	if (strcmp(PQgetvalue(result, 0, 0), "logical") != 0)
	{
		sync_fail(error, 2,
				  "the source has wal_level = %s; change data capture needs logical. "
				  "Run on the source: ALTER SYSTEM SET wal_level = logical; then restart it "
				  "(or set mode = batch for every table)",
				  PQgetvalue(result, 0, 0));
		PQclear(result);
		return -1;
	}
	if (PQgetvalue(result, 0, 1)[0] != 't')
	{
		sync_fail(error, 2,
				  "role \"%s\" on the source may not use replication. "
				  "Run on the source: ALTER ROLE \"%s\" REPLICATION;",
				  PQgetvalue(result, 0, 2), PQgetvalue(result, 0, 2));
		PQclear(result);
		return -1;
	}
	PQclear(result);

	for (int i = 0; i < tables->count; i++)
	{
		const SyncTableDef *table = &tables->tables[i];
		char		relid[16];
		const char *params[1] = {relid};

		if (table->mode != SYNC_MODE_CDC)
			continue;
		if (table->nkeys == 0 && table->replica_identity != 'f')
			return sync_fail(error, 2,
							 "table %s has no primary key and no replica identity, so its updates "
							 "and deletes cannot be matched on the target. Add a primary key, or run "
							 "on the source: ALTER TABLE %s REPLICA IDENTITY FULL;",
							 table->qualified, table->qualified);
		snprintf(relid, sizeof(relid), "%u", table->relid);
		result = pg_query_params(source, "SELECT pg_catalog.has_table_privilege($1::oid, 'SELECT')",
								 1, params, PGRES_TUPLES_OK, error);
		if (result == NULL)
			return -1;
		if (PQgetvalue(result, 0, 0)[0] != 't')
		{
			PQclear(result);
			return sync_fail(error, 2,
							 "permission denied for table %s on the source. Run on the source: "
							 "GRANT SELECT ON %s TO CURRENT_USER;",
							 table->qualified, table->qualified);
		}
		PQclear(result);
	}
	return 0;
}

static bool
published(PGresult *result, const SyncTableDef *table)
{
	for (int r = 0; r < PQntuples(result); r++)
		if (strcmp(PQgetvalue(result, r, 0), table->schema) == 0 &&
			strcmp(PQgetvalue(result, r, 1), table->name) == 0)
			return true;
	return false;
}

int
sync_source_ensure_publication(PGconn *source, const char *publication,
							   const SyncTableList *tables, SyncError *error)
{
	const char *params[1] = {publication};
	PQExpBufferData sql;
	PGresult   *exists;
	PGresult   *members;
	char	   *quoted;
	int			missing = 0;
	int			rc = 0;

	if (!has_cdc_tables(tables))
		return 0;
	exists = pg_query_params(source, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
							 1, params, PGRES_TUPLES_OK, error);
	if (exists == NULL)
		return -1;
	members = pg_query_params(source,
							  "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables "
							  " WHERE pubname = $1",
							  1, params, PGRES_TUPLES_OK, error);
	if (members == NULL)
	{
		PQclear(exists);
		return -1;
	}
	quoted = PQescapeIdentifier(source, publication, strlen(publication));
	initPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, PQntuples(exists) > 0 ? "ALTER PUBLICATION %s ADD TABLE "
					  : "CREATE PUBLICATION %s FOR TABLE ", quoted);
	for (int i = 0; i < tables->count; i++)
	{
		const SyncTableDef *table = &tables->tables[i];

		if (table->mode != SYNC_MODE_CDC || published(members, table))
			continue;
		appendPQExpBuffer(&sql, "%s%s", missing > 0 ? ", " : "", table->qualified);
		missing++;
	}
	PQclear(exists);
	PQclear(members);
	if (missing > 0)
	{
		rc = pg_command(source, sql.data, error);
		if (rc != 0)
		{
			error->status = 2;
			snprintf(error->message + strlen(error->message),
					 sizeof(error->message) - strlen(error->message),
					 ". Run on the source as the tables' owner: %s;", sql.data);
		}
	}
	PQfreemem(quoted);
	termPQExpBuffer(&sql);
	return rc;
}
