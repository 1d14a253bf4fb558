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

/*
 * Every session tally opens writes and reads values in the same text
 * formats, whatever the servers' defaults: the source's output functions
 * (in the walsender, and in text COPY) must write what the target's input
 * functions read back as the same value.  A source with DateStyle 'SQL,
 * DMY' would otherwise send 01/02/2024 for the 1st of February, which a
 * target with 'ISO, MDY' reads as the 2nd of January.  These are the
 * settings PostgreSQL's own subscriptions use.
 */
static const char text_formats[] = "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3";

PGconn *
pg_connect(const char *conninfo, const char *side, bool replication, SyncError *error)
{
	const char *keywords[] = {"dbname", "application_name", "options", "replication", NULL};
	const char *values[] = {conninfo, "tally sync", text_formats, "database", NULL};
	PQconninfoOption *given = PQconninfoParse(conninfo, NULL);
	PQExpBufferData options;
	PGconn	   *conn;
	char		reason[1024];

	/* the user's own options come first */
	initPQExpBuffer(&options);
	for (PQconninfoOption *o = given; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val != NULL && o->val[0] != '\0')
			appendPQExpBuffer(&options, "%s ", o->val);
	appendPQExpBufferStr(&options, text_formats);
	values[2] = options.data;
	if (!replication)
		keywords[3] = NULL;
	conn = PQconnectdbParams(keywords, values, 1);
	PQconninfoFree(given);
	termPQExpBuffer(&options);
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

int
pg_command_params(PGconn *conn, const char *sql, int nparams, const char *const *params,
				  SyncError *error)
{
	PGresult   *result = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (result != NULL && PQresultStatus(result) == PGRES_TUPLES_OK)
	{
		PQclear(result);
		return 0;
	}
	result = check_result(conn, result, sql, PGRES_COMMAND_OK, error);
	PQclear(result);
	return result ? 0 : -1;
}

/* Reads a connection's results to the end, recording the first failure in error. */
static void
finish_results(PGconn *conn, const char *what, const char *side, SyncError *error)
{
	PGresult   *result;

	while ((result = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(result) != PGRES_COMMAND_OK)
			sync_fail(error, 1, "could not copy %s %s: %s", what, side,
					  PQresultErrorMessage(result));
		PQclear(result);
	}
}

int
pg_pipe_copy(PGconn *from, PGconn *to, const char *what, bool (*on_row) (void *arg), void *arg,
			 long *rows, SyncError *error)
{
	const char *stopped = NULL;
	PGresult   *result;
	char	   *buf;
	int			n;

	*rows = 0;
	while ((n = PQgetCopyData(from, &buf, 0)) > 0)
	{
		int			sent = PQputCopyData(to, buf, n);

		PQfreemem(buf);
		if (sent != 1)
		{
			stopped = "sending failed";
			sync_fail(error, 1, "could not send %s to the target: %s", what, PQerrorMessage(to));
			break;
		}
		if (on_row != NULL && !on_row(arg))
		{
			stopped = "cancelled";
			break;
		}
	}
	if (stopped != NULL)
	{
		/* drain the source's COPY so that its connection is usable again */
		while ((n = PQgetCopyData(from, &buf, 0)) > 0)
			PQfreemem(buf);
	}
	else if (n == -2)
	{
		stopped = "reading failed";
		sync_fail(error, 1, "could not read %s from the source: %s", what, PQerrorMessage(from));
	}
	finish_results(from, what, "from the source", error);
	if (PQputCopyEnd(to, stopped) != 1)
		sync_fail(error, 1, "could not end COPY of %s on the target: %s", what, PQerrorMessage(to));
	result = PQgetResult(to);
	if (stopped == NULL && PQresultStatus(result) == PGRES_COMMAND_OK)
		*rows = atol(PQcmdTuples(result));	/* COPY's tag counts rows */
	else if (stopped == NULL)
		sync_fail(error, 1, "could not copy %s into the target: %s", what,
				  PQresultErrorMessage(result));
	PQclear(result);
	finish_results(to, what, "into the target", error);
	return error->status != 0 || stopped != NULL ? -1 : 0;
}

bool
pg_connection_lost(PGconn *conn)
{
	return conn == NULL || PQstatus(conn) != CONNECTION_OK;
}
