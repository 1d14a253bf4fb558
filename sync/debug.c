/*
 * debug.c -- crash points for tests (see debug.h).
 */
#include "sync/debug.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static pthread_once_t parsed = PTHREAD_ONCE_INIT;
static char point[64];
static long countdown;
static atomic_long passes;

static void
parse(void)
{
	const char *spec = getenv("TALLY_SYNC_CRASH");
	const char *colon;

	if (spec == NULL || (colon = strchr(spec, ':')) == NULL ||
		(size_t) (colon - spec) >= sizeof(point))
		return;
	memcpy(point, spec, colon - spec);
	point[colon - spec] = '\0';
	countdown = strtol(colon + 1, NULL, 10);
}

void
sync_debug_point(const char *name)
{
	pthread_once(&parsed, parse);
	if (point[0] == '\0' || strcmp(point, name) != 0)
		return;
	if (atomic_fetch_add(&passes, 1) + 1 == countdown)
	{
		log_event(LOG_WARNING, "crash_point", "point=%s pass=%ld", name, countdown);
		kill(getpid(), SIGKILL);
	}
}
