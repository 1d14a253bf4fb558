/*
 * pg.c -- libpq helpers for tally sync.
 */
#include "sync/pg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

int
sync_fail(SyncError *error, int status, const char *fmt, ...)
{
	va_list		args;

	if (error->status != 0)
		return -1;
	error->status = status;
	va_start(args, fmt);
	vsnprintf(error->message, sizeof(error->message), fmt, args);
	va_end(args);
	return -1;
}

char *
pg_describe_conninfo(const char *conninfo)
{
	PQconninfoOption *options = PQconninfoParse(conninfo, NULL);
	PQExpBufferData out;
	char	   *result;

	if (options == NULL)
		return strdup("(unparsable connection string)");
	initPQExpBuffer(&out);
	for (PQconninfoOption *o = options; o->keyword != NULL; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "password") == 0)
			continue;
		appendPQExpBuffer(&out, "%s%s=%s", out.len > 0 ? " " : "", o->keyword, o->val);
	}
	PQconninfoFree(options);
	result = strdup(out.len > 0 ? out.data : "(defaults)");
	termPQExpBuffer(&out);
	return result;
}

/* libpq's messages end in a newline; log lines must not. */
static const char *
trimmed(const char *message, char *buf, size_t len)
{
	size_t		n;

	snprintf(buf, len, "%s", message ? message : "");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

PGconn *
pg_connect(const char *conninfo, const char *side, bool replication, SyncError *error)
{
	const char *keywords[] = {"dbname", "application_name", "replication", NULL};
	const char *values[] = {conninfo, "tally sync", "database", NULL};
	PGconn	   *conn;
	char		reason[1024];

	if (!replication)
		keywords[2] = NULL;
	conn = PQconnectdbParams(keywords, values, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		char	   *described = pg_describe_conninfo(conninfo);

		sync_fail(error, 1, "could not connect to the %s database (%s): %s", side, described,
				  trimmed(conn ? PQerrorMessage(conn) : "out of memory", reason, sizeof(reason)));
		free(described);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static PGresult *
check_result(PGconn *conn, PGresult *result, const char *sql, ExecStatusType expect,
			 SyncError *error)
{
	char		reason[1024];

	if (result != NULL && PQresultStatus(result) == expect)
		return result;
	trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn), reason, sizeof(reason));
	if (reason[0] == '\0')
		snprintf(reason, sizeof(reason), "unexpected result %s",
				 result ? PQresStatus(PQresultStatus(result)) : "(none)");
	sync_fail(error, 1, "%s (while running: %.200s)", reason, sql);
	PQclear(result);
	return NULL;
}

PGresult *
pg_query(PGconn *conn, const char *sql, ExecStatusType expect, SyncError *error)
{
	return check_result(conn, PQexec(conn, sql), sql, expect, error);
}

PGresult *
pg_query_params(PGconn *conn, const char *sql, int nparams, const char *const *params,
				ExecStatusType expect, SyncError *error)
{
	return check_result(conn, PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0),
						sql, expect, error);
}

int
pg_command(PGconn *conn, const char *sql, SyncError *error)
{
	PGresult   *result = PQexec(conn, sql);

	/* a SELECT run for its effect (a lock, a function) returns rows: not an error */
	if (result != NULL && PQresultStatus(result) == PGRES_TUPLES_OK)
	{
		PQclear(result);
		return 0;
	}
	result = check_result(conn, result, sql, PGRES_COMMAND_OK, error);
	if (result == NULL)
		return -1;
	PQclear(result);
	return 0;
}

bool
pg_connection_lost(PGconn *conn)
{
	return conn == NULL || PQstatus(conn) != CONNECTION_OK;
}
