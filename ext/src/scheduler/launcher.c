/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: one background worker per cluster that starts a
 *	  scheduler for every database that may have the extension.
 *
 * The launcher cannot see per-database catalogs, so it starts a scheduler
 * for each connectable, non-template database; a scheduler whose database
 * lacks the extension exits at once and pauses its database for ten
 * minutes, a pause that CREATE EXTENSION lifts.
 * CREATE EXTENSION and job changes wake the launcher or the scheduler
 * through latches in shared memory, so nothing waits for a poll in the
 * common case.  Commands that need a database free of connections (DROP
 * DATABASE, CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME) stop
 * its scheduler first through the utility hook.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "scheduler/scheduler.h"

#define LAUNCHER_POLL_MS 30000
#define DATABASE_PAUSE_MS 30000
#define STOP_WAIT_MS 10000

TallySchedulerShared *tally_scheduler_shared = NULL;
bool		tally_scheduler_enabled = false;

/* tally.job_scheduler: whether schedulers run jobs (tests turn it off) */
static bool job_scheduler_on = true;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(tally_wake_scheduler);
PG_FUNCTION_INFO_V1(tally_scheduler_available);

bool
tally_job_scheduler_on(void)
{
	return job_scheduler_on;
}

static void
tally_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(TallySchedulerShared)));
}

static void
tally_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	tally_scheduler_shared = ShmemInitStruct("tally scheduler",
											 sizeof(TallySchedulerShared), &found);
	if (!found)
	{
		memset(tally_scheduler_shared, 0, sizeof(TallySchedulerShared));
		SpinLockInit(&tally_scheduler_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

TallySchedulerSlot *
tally_scheduler_slot(Oid dboid, bool create)
{
	TallySchedulerSlot *free_slot = NULL;

	for (int i = 0; i < TALLY_MAX_SCHEDULERS; i++)
	{
		TallySchedulerSlot *slot = &tally_scheduler_shared->slots[i];

		if (slot->dboid == dboid)
			return slot;
		if (free_slot == NULL && !OidIsValid(slot->dboid))
			free_slot = slot;
	}
	if (create && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->dboid = dboid;
	}
	return create ? free_slot : NULL;
}

static void
wake_launcher(void)
{
	Latch	   *latch;

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	latch = tally_scheduler_shared->launcher_latch;
	SpinLockRelease(&tally_scheduler_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Ask the scheduler of dboid to exit, keep the launcher from starting a new
 * one for DATABASE_PAUSE_MS, and wait (bounded) until it is gone, so that a
 * command needing the database to itself does not fail on our connection.
 */
void
tally_scheduler_stop_database(Oid dboid)
{
	TallySchedulerSlot *slot;
	Latch	   *latch = NULL;
	pid_t		pid = 0;

	TimestampTz pause_end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DATABASE_PAUSE_MS);

	if (tally_scheduler_shared == NULL)
		return;
	SpinLockAcquire(&tally_scheduler_shared->mutex);
	slot = tally_scheduler_slot(dboid, true);
	if (slot != NULL)
	{
		slot->paused_until = pause_end;
		slot->stop_requested = true;
		latch = slot->latch;
		pid = slot->pid;
	}
	SpinLockRelease(&tally_scheduler_shared->mutex);
	if (latch == NULL || pid == 0)
		return;
	SetLatch(latch);

	for (int waited = 0; waited < STOP_WAIT_MS; waited += 10)
	{
		bool		running;

		SpinLockAcquire(&tally_scheduler_shared->mutex);
		running = (slot->dboid == dboid && slot->pid == pid);
		SpinLockRelease(&tally_scheduler_shared->mutex);
		if (!running)
			return;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10 * 1000L);
	}
}

/*
 * Only for a role that may run the command anyway (the database's owner or
 * a superuser): anyone else's failing DROP DATABASE must not stop jobs.
 */
static void
stop_scheduler_for_named_database(const char *name)
{
	Oid			dboid;

	if (name == NULL)
		return;
	dboid = get_database_oid(name, true);
	if (OidIsValid(dboid) && pg_database_ownercheck(dboid, GetUserId()))
		tally_scheduler_stop_database(dboid);
}

void
tally_scheduler_before_utility(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			stop_scheduler_for_named_database(((DropdbStmt *) parsetree)->dbname);
			break;
		case T_CreatedbStmt:
			{
				ListCell   *lc;

				foreach(lc, ((CreatedbStmt *) parsetree)->options)
				{
					DefElem    *option = lfirst_node(DefElem, lc);

					if (strcmp(option->defname, "template") == 0 && option->arg != NULL)
						stop_scheduler_for_named_database(defGetString(option));
				}
			}
			break;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				stop_scheduler_for_named_database(((RenameStmt *) parsetree)->subname);
			break;
		case T_AlterDatabaseStmt:
			stop_scheduler_for_named_database(((AlterDatabaseStmt *) parsetree)->dbname);
			break;
		default:
			break;
	}
}

void
tally_scheduler_after_utility(Node *parsetree)
{
	/* a scheduler whose extension is dropped should not wait for its poll */
	if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
		DirectFunctionCall1(tally_wake_scheduler, (Datum) 0);
}

void
tally_scheduler_init(void)
{
	BackgroundWorker worker = {0};

	if (!process_shared_preload_libraries_in_progress)
		return;
	tally_scheduler_enabled = true;

	DefineCustomBoolVariable("tally.job_scheduler",
							 "Runs the jobs of every database with the tally extension.",
							 "When off, no scheduler runs and jobs wait; run_job() still works.",
							 &job_scheduler_on, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("tally");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = tally_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = tally_shmem_startup;

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "tally");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "tally_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "tally launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "tally launcher");
	RegisterBackgroundWorker(&worker);
}

/* Databases a scheduler may connect to: connectable and not templates. */
static List *
list_candidate_databases(void)
{
	List	   *dboids = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	MemoryContext caller = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		if (db->datallowconn && !db->datistemplate)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			dboids = lappend_oid(dboids, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return dboids;
}

/*
 * Free the slots of databases that have no scheduler and are no longer
 * paused (dropped databases, or ones without the extension whose pause has
 * run out), so that slots do not run out over time.
 */
static void
release_stale_slots(void)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	for (int i = 0; i < TALLY_MAX_SCHEDULERS; i++)
	{
		TallySchedulerSlot *slot = &tally_scheduler_shared->slots[i];

		if (OidIsValid(slot->dboid) && slot->pid == 0 && slot->paused_until <= now)
			slot->dboid = InvalidOid;
	}
	SpinLockRelease(&tally_scheduler_shared->mutex);
}

typedef struct LaunchedScheduler
{
	Oid			dboid;			/* hash key */
	BackgroundWorkerHandle *handle;
} LaunchedScheduler;

static bool
scheduler_alive(LaunchedScheduler *entry)
{
	pid_t		pid;

	return entry->handle != NULL &&
		GetBackgroundWorkerPid(entry->handle, &pid) != BGWH_STOPPED;
}

static void
start_scheduler(LaunchedScheduler *entry)
{
	BackgroundWorker worker = {0};
	TallySchedulerSlot *slot;
	bool		paused;

	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	slot = tally_scheduler_slot(entry->dboid, false);
	paused = slot != NULL && slot->paused_until > now;
	if (slot != NULL && !paused)
		slot->stop_requested = false;
	SpinLockRelease(&tally_scheduler_shared->mutex);
	if (paused)
		return;

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = ObjectIdGetDatum(entry->dboid);
	worker.bgw_notify_pid = MyProcPid;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "tally");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "tally_scheduler_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "tally scheduler for database %u", entry->dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "tally scheduler");
	if (entry->handle != NULL)
		pfree(entry->handle);
	entry->handle = NULL;
	if (!RegisterDynamicBackgroundWorker(&worker, &entry->handle))
		ereport(LOG,
				(errmsg("tally launcher could not start a scheduler for database %u",
						entry->dboid),
				 errhint("Raise max_worker_processes.")));
}

void
tally_launcher_main(Datum main_arg)
{
	HTAB	   *launched;
	HASHCTL		ctl = {0};

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	tally_scheduler_shared->launcher_pid = MyProcPid;
	tally_scheduler_shared->launcher_latch = MyLatch;
	SpinLockRelease(&tally_scheduler_shared->mutex);

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LaunchedScheduler);
	launched = hash_create("tally launched schedulers", 16, &ctl, HASH_ELEM | HASH_BLOBS);

	for (;;)
	{
		List	   *dboids;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		release_stale_slots();
		dboids = job_scheduler_on ? list_candidate_databases() : NIL;
		foreach(lc, dboids)
		{
			bool		found;
			LaunchedScheduler *entry = hash_search(launched, &lfirst_oid(lc), HASH_ENTER, &found);

			if (!found)
				entry->handle = NULL;
			if (!scheduler_alive(entry))
				start_scheduler(entry);
		}
		list_free(dboids);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * _tally_internal.wake_scheduler() returns boolean
 *
 * Wake this database's scheduler so it rereads the jobs, or the launcher
 * when there is none yet (just after CREATE EXTENSION), when the current
 * transaction commits.  False when the scheduler is not available at all.
 */
static void
wake_now(void)
{
	TallySchedulerSlot *slot;
	Latch	   *latch = NULL;

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	slot = tally_scheduler_slot(MyDatabaseId, false);
	if (slot != NULL && slot->pid != 0)
		latch = slot->latch;
	else if (slot != NULL && !slot->stop_requested)
		slot->paused_until = 0; /* the extension may be here now */
	SpinLockRelease(&tally_scheduler_shared->mutex);
	if (latch)
		SetLatch(latch);
	else
		wake_launcher();
}

static bool wake_at_commit = false;

/*
 * A scheduler woken before the waking transaction commits would look for
 * the extension or the job it was woken for, not find it, and sleep (for
 * ten minutes, when the extension seems absent).  So the wake waits for
 * the commit.
 */
static void
wake_at_commit_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
			{
				wake_at_commit = false;
				wake_now();
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

Datum
tally_wake_scheduler(PG_FUNCTION_ARGS)
{
	static bool callback_registered = false;

	if (tally_scheduler_shared == NULL)
		PG_RETURN_BOOL(false);
	if (!callback_registered)
	{
		RegisterXactCallback(wake_at_commit_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_BOOL(true);
}

/* _tally_internal.scheduler_available() returns boolean */
Datum
tally_scheduler_available(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(tally_scheduler_enabled && tally_scheduler_shared != NULL);
}
