/*
 * metrics.c -- counters and the Prometheus endpoint (see metrics.h).
 */
#include "sync/metrics.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

typedef struct TableCounter
{
	char	   *schema;
	char	   *name;
	char	   *mode;
	long long	rows;
} TableCounter;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static TableCounter *tables;
static int	ntables;
static long long batches;
static long long errors;
static long long lag_bytes;
static double lag_seconds;
static struct MHD_Daemon *daemon_handle;

void
sync_metrics_add_rows(const char *schema, const char *name, const char *mode, long rows)
{
	TableCounter *counter = NULL;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < ntables && counter == NULL; i++)
		if (strcmp(tables[i].schema, schema) == 0 && strcmp(tables[i].name, name) == 0)
			counter = &tables[i];
	if (counter == NULL)
	{
		TableCounter *grown = realloc(tables, sizeof(TableCounter) * (ntables + 1));

		if (grown != NULL)
		{
			tables = grown;
			counter = &grown[ntables];
			counter->schema = strdup(schema);
			counter->name = strdup(name);
			counter->mode = strdup(mode);
			counter->rows = 0;
			if (counter->schema && counter->name && counter->mode)
				ntables++;
			else
				counter = NULL;
		}
	}
	if (counter != NULL)
		counter->rows += rows;
	pthread_mutex_unlock(&lock);
}

void
sync_metrics_add_batch(void)
{
	pthread_mutex_lock(&lock);
	batches++;
	pthread_mutex_unlock(&lock);
}

void
sync_metrics_add_error(void)
{
	pthread_mutex_lock(&lock);
	errors++;
	pthread_mutex_unlock(&lock);
}

void
sync_metrics_set_lag(long long bytes, double seconds)
{
	pthread_mutex_lock(&lock);
	lag_bytes = bytes;
	lag_seconds = seconds;
	pthread_mutex_unlock(&lock);
}

/* A label value: backslash, double quote and newline escaped. */
static void
append_label(PQExpBuffer out, const char *value)
{
	for (const char *p = value; *p; p++)
	{
		if (*p == '\\' || *p == '"')
			appendPQExpBufferChar(out, '\\');
		if (*p == '\n')
			appendPQExpBufferStr(out, "\\n");
		else
			appendPQExpBufferChar(out, *p);
	}
}

char *
sync_metrics_render(void)
{
	PQExpBufferData out;
	char	   *text;

	initPQExpBuffer(&out);
	pthread_mutex_lock(&lock);
	appendPQExpBufferStr(&out,
						 "# HELP tally_sync_rows_applied_total Rows written to the target, per table.\n"
						 "# TYPE tally_sync_rows_applied_total counter\n");
	for (int i = 0; i < ntables; i++)
	{
		appendPQExpBufferStr(&out, "tally_sync_rows_applied_total{table=\"");
		append_label(&out, tables[i].schema);
		appendPQExpBufferChar(&out, '.');
		append_label(&out, tables[i].name);
		appendPQExpBuffer(&out, "\",mode=\"%s\"} %lld\n", tables[i].mode, tables[i].rows);
	}
	appendPQExpBuffer(&out,
					  "# HELP tally_sync_lag_bytes WAL between the source's position and the target's.\n"
					  "# TYPE tally_sync_lag_bytes gauge\n"
					  "tally_sync_lag_bytes %lld\n"
					  "# HELP tally_sync_lag_seconds From the source's commit of the last applied transaction to its commit on the target; 0 when caught up.\n"
					  "# TYPE tally_sync_lag_seconds gauge\n"
					  "tally_sync_lag_seconds %.3f\n"
					  "# HELP tally_sync_batches_total Target transactions committed with source changes.\n"
					  "# TYPE tally_sync_batches_total counter\n"
					  "tally_sync_batches_total %lld\n"
					  "# HELP tally_sync_errors_total Failed sessions (each is retried or ends the run).\n"
					  "# TYPE tally_sync_errors_total counter\n"
					  "tally_sync_errors_total %lld\n",
					  lag_bytes, lag_seconds, batches, errors);
	pthread_mutex_unlock(&lock);
	text = PQExpBufferBroken(&out) ? NULL : strdup(out.data);
	termPQExpBuffer(&out);
	return text;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	struct MHD_Response *response;
	enum MHD_Result ret;
	char	   *text = NULL;
	unsigned int status = MHD_HTTP_OK;
	static const char not_found[] = "not found: the metrics are at /metrics\n";
	static const char bad_method[] = "only GET is served\n";

	(void) cls;
	(void) version;
	(void) upload_data;
	(void) upload_data_size;
	(void) state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
	{
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		response = MHD_create_response_from_buffer(strlen(bad_method), (void *) bad_method,
												   MHD_RESPMEM_PERSISTENT);
	}
	else if (strcmp(url, "/metrics") != 0)
	{
		status = MHD_HTTP_NOT_FOUND;
		response = MHD_create_response_from_buffer(strlen(not_found), (void *) not_found,
												   MHD_RESPMEM_PERSISTENT);
	}
	else
	{
		text = sync_metrics_render();
		if (text == NULL)
			return MHD_NO;
		response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(response, "Content-Type", "text/plain; version=0.0.4");
	}
	if (response == NULL)
	{
		free(text);
		return MHD_NO;
	}
	ret = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return ret;
}

int
sync_metrics_serve(int port, SyncError *error)
{
	if (daemon_handle != NULL)
		return 0;
	daemon_handle = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
									 (uint16_t) port, NULL, NULL, answer, NULL,
									 MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
	if (daemon_handle == NULL)
		return sync_fail(error, 2, "could not serve metrics on port %d (is it in use?)", port);
	return 0;
}

void
sync_metrics_stop(void)
{
	if (daemon_handle != NULL)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < ntables; i++)
	{
		free(tables[i].schema);
		free(tables[i].name);
		free(tables[i].mode);
	}
	free(tables);
	tables = NULL;
	ntables = 0;
	pthread_mutex_unlock(&lock);
}
