/*
 * stream.c -- the logical replication protocol on a libpq connection.
 */
#include "sync/stream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/strbuf.h"

/* Seconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
#define POSTGRES_EPOCH_OFFSET_US 946684800000000LL
/*
 * While the source streams, a read that finds nothing waits this long for
 * more to gather before it reads again, instead of sleeping in poll() and
 * being woken for every message the walsender sends: a wakeup per message
 * costs both processes more CPU than the messages themselves.
 */
#define GATHER_US 1000
#define FEEDBACK_INTERVAL_US 5000000LL

long long
sync_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

long long
sync_postgres_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long) tv.tv_sec * 1000000LL + tv.tv_usec - POSTGRES_EPOCH_OFFSET_US;
}

static void
put_uint64(char *buf, uint64_t value)
{
	for (int i = 7; i >= 0; i--)
	{
		buf[i] = (char) (value & 0xff);
		value >>= 8;
	}
}

static uint64_t
get_uint64(const char *buf)
{
	uint64_t	value = 0;

	for (int i = 0; i < 8; i++)
		value = (value << 8) | (unsigned char) buf[i];
	return value;
}

int
sync_stream_identify(PGconn *replication, char *system_identifier, size_t len,
					 SyncError *error)
{
	PGresult   *result = pg_query(replication, "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, error);

	if (result == NULL)
		return -1;
	snprintf(system_identifier, len, "%s", PQgetvalue(result, 0, 0));
	PQclear(result);
	return 0;
}

int
sync_stream_create_slot(PGconn *replication, const char *slot, SyncSlotInfo *info,
						SyncError *error)
{
	char		sql[200];
	PGresult   *result;

	snprintf(sql, sizeof(sql),
			 "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput (SNAPSHOT 'export')", slot);
	result = pg_query(replication, sql, PGRES_TUPLES_OK, error);
	if (result == NULL)
		return -1;
	if (sync_lsn_parse(PQgetvalue(result, 0, 1), &info->consistent_point) != 0)
	{
		PQclear(result);
		return sync_fail(error, 1, "CREATE_REPLICATION_SLOT returned an invalid position \"%s\"",
						 PQgetvalue(result, 0, 1));
	}
	snprintf(info->snapshot_name, sizeof(info->snapshot_name), "%s", PQgetvalue(result, 0, 2));
	PQclear(result);
	return 0;
}

int
sync_stream_start(SyncStream *stream, PGconn *replication, const char *slot,
				  const char *publication, SyncLsn start, SyncError *error)
{
	PQExpBufferData sql;
	char		lsn[20];
	char	   *name = PQescapeIdentifier(replication, publication, strlen(publication));
	char	   *names = NULL;
	PGresult   *result;
	int			rc = 0;

	memset(stream, 0, sizeof(*stream));
	stream->conn = replication;
	stream->received = start;
	stream->flushed = start;
	stream->last_feedback_us = sync_now_us();
	if (name != NULL)
		names = PQescapeLiteral(replication, name, strlen(name));
	if (names == NULL)
	{
		PQfreemem(name);
		return sync_fail(error, 1, "out of memory");
	}
	sync_lsn_format(start, lsn);
	initPQExpBuffer(&sql);
	appendPQExpBuffer(&sql,
					  "START_REPLICATION SLOT \"%s\" LOGICAL %s (proto_version '2', publication_names %s, streaming 'on')",
					  slot, lsn, names);
	result = pg_query(replication, sql.data, PGRES_COPY_BOTH, error);
	if (result == NULL)
		rc = -1;
	PQclear(result);
	termPQExpBuffer(&sql);
	PQfreemem(name);
	PQfreemem(names);
	return rc;
}

void
sync_stream_set_flushed(SyncStream *stream, SyncLsn lsn)
{
	if (lsn > stream->flushed)
		stream->flushed = lsn;
	if (stream->flushed > stream->received)
		stream->received = stream->flushed;
}

int
sync_stream_send_feedback(SyncStream *stream, SyncError *error)
{
	char		reply[1 + 8 * 4 + 1];

	reply[0] = 'r';
	put_uint64(reply + 1, stream->received);
	put_uint64(reply + 9, stream->flushed);
	put_uint64(reply + 17, stream->flushed);
	put_uint64(reply + 25, (uint64_t) sync_postgres_now());
	reply[33] = 0;
	if (PQputCopyData(stream->conn, reply, sizeof(reply)) <= 0 || PQflush(stream->conn) != 0)
		return sync_fail(error, 1, "could not send feedback to the source: %s",
						 PQerrorMessage(stream->conn));
	stream->last_feedback_us = sync_now_us();
	stream->reply_requested = false;
	return 0;
}

static int
wait_readable(PGconn *conn, int timeout_ms, SyncError *error)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
	int			rc = poll(&pfd, 1, timeout_ms);

	if (rc < 0 && errno != EINTR)
		return sync_fail(error, 1, "could not wait for the source: %s", strerror(errno));
	if (rc > 0 && PQconsumeInput(conn) == 0)
		return sync_fail(error, 1, "lost the replication connection to the source: %s",
						 PQerrorMessage(conn));
	return rc > 0 ? 1 : 0;
}

int
sync_stream_next(SyncStream *stream, int timeout_ms, const char **data, size_t *len,
				 SyncError *error)
{
	long long	deadline = sync_now_us() + (long long) timeout_ms * 1000;

	for (;;)
	{
		int			n;

		if (stream->buffer != NULL)
		{
			PQfreemem(stream->buffer);
			stream->buffer = NULL;
		}
		if (sync_now_us() - stream->last_feedback_us > FEEDBACK_INTERVAL_US)
		{
			if (sync_stream_send_feedback(stream, error) != 0)
				return -1;
		}

		n = PQgetCopyData(stream->conn, &stream->buffer, 1);
		if (n == 0)
		{
			long long	left = deadline - sync_now_us();
			int			rc;

			if (left <= 0)
				return 0;
			if (stream->flowing)
			{
				struct timespec pause = {.tv_nsec = 1000L * (left < GATHER_US ? left : GATHER_US)};

				stream->flowing = false;
				nanosleep(&pause, NULL);
				if (PQconsumeInput(stream->conn) == 0)
					return sync_fail(error, 1, "lost the replication connection to the source: %s",
									 PQerrorMessage(stream->conn));
				continue;
			}
			rc = wait_readable(stream->conn, (int) (left / 1000) + 1, error);
			if (rc < 0)
				return -1;
			continue;
		}
		if (n == -1)
		{
			PGresult   *result = PQgetResult(stream->conn);
			const char *reason = result ? PQresultErrorMessage(result) : "";

			sync_fail(error, 1, "the source ended the replication stream%s%s",
					  reason[0] ? ": " : "", reason);
			PQclear(result);
			return -1;
		}
		if (n < 0)
			return sync_fail(error, 1, "lost the replication connection to the source: %s",
							 PQerrorMessage(stream->conn));

		if (stream->buffer[0] == 'k' && n >= 18)
		{
			stream->server_wal_end = get_uint64(stream->buffer + 1);
			/* the caller decides how far it may confirm, and whether it is done */
			if (stream->buffer[17])
				stream->reply_requested = true;
			return 0;
		}
		if (stream->buffer[0] == 'w' && n >= 25)
		{
			SyncLsn		start = get_uint64(stream->buffer + 1);

			stream->server_wal_end = get_uint64(stream->buffer + 9);
			if (start > stream->received)
				stream->received = start;
			*data = stream->buffer + 25;
			*len = (size_t) n - 25;
			stream->flowing = true;
			return 1;
		}
		return sync_fail(error, 1, "unexpected replication message of type '%c' from the source",
						 stream->buffer[0]);
	}
}

void
sync_stream_end(SyncStream *stream)
{
	if (stream->buffer != NULL)
		PQfreemem(stream->buffer);
	stream->buffer = NULL;
}
