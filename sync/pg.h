/*
 * pg.h -- what tally sync needs around libpq: connections described
 * without their passwords, and statements whose failure becomes a message.
 */
#ifndef TALLY_SYNC_PG_H
#define TALLY_SYNC_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

/*
 * An error on its way to the one place that logs it.  status is the exit
 * status it deserves: 1 for a failure that a retry may cure, 2 for one
 * that needs a person (a bad configuration, a source that cannot be
 * replicated as it is, a lost position).
 */
typedef struct SyncError
{
	int			status;
	char		message[2048];
} SyncError;

/* Records an error, keeping the first one.  Returns -1 for "return sync_fail(...)". */
int			sync_fail(SyncError *error, int status, const char *fmt, ...)
			__attribute__((format(printf, 3, 4)));

/*
 * The connection string as it can be logged: every keyword but password,
 * in "host=... dbname=..." form.  Returns a malloc'd string.
 */
char	   *pg_describe_conninfo(const char *conninfo);

/*
 * Connects.  side names the database in messages ("source" or "target").
 * replication opens a logical replication connection.  Returns NULL after
 * filling error.
 */
PGconn	   *pg_connect(const char *conninfo, const char *side, bool replication,
					   SyncError *error);

/*
 * Runs sql and checks that it ended with expect (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK).  Returns the result, which the caller clears, or NULL
 * after filling error with what failed.
 */
PGresult   *pg_query(PGconn *conn, const char *sql, ExecStatusType expect,
					 SyncError *error);

/* Same with text parameters. */
PGresult   *pg_query_params(PGconn *conn, const char *sql, int nparams,
							const char *const *params, ExecStatusType expect,
							SyncError *error);

/* Runs a statement for its effect, discarding any rows.  Returns 0 or -1. */
int			pg_command(PGconn *conn, const char *sql, SyncError *error);

/* Same with text parameters. */
int			pg_command_params(PGconn *conn, const char *sql, int nparams,
							  const char *const *params, SyncError *error);

/*
 * Pipes a COPY: from has started COPY ... TO STDOUT, to has started COPY
 * ... FROM STDIN; every row goes across as it arrives.  on_row, when not
 * NULL, is called after each row and may stop the copy by returning false.
 * what names the data in messages.  *rows is set to the rows the target
 * took.  Returns 0, or -1 with error; both connections are then out of
 * COPY state either way.
 */
int			pg_pipe_copy(PGconn *from, PGconn *to, const char *what,
						 bool (*on_row) (void *arg), void *arg, long *rows, SyncError *error);

/* Whether the connection is gone (so that a retry means reconnecting). */
bool		pg_connection_lost(PGconn *conn);

#endif
