/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *	  The per-database scheduler: runs due jobs, each in its own
 *	  transaction as the job's owner, and records the outcome.
 *
 * The bookkeeping (what is due, when to run next, backoff after failures,
 * statistics, errors) is SQL in _tally_internal (sql/70_jobs.sql), so that
 * run_job() in a session and the scheduler share it.  This file only
 * drives it: sleep until the next job is due or a latch wakes us, then for
 * each due job
 *
 *	  1. job_started():  mark it running, in its own committed transaction,
 *						 so a crash mid-run is seen on restart;
 *	  2. the job itself: in a new transaction, as its owner;
 *	  3. job_finished(): record success, or the error and the backoff.
 *
 * Jobs run one at a time: a long job delays the others of its database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "scheduler/scheduler.h"

#define MAX_SLEEP_MS 60000
#define NO_EXTENSION_PAUSE_MS (10 * 60 * 1000)

static TallySchedulerSlot *my_slot = NULL;

static void
release_slot(int code, Datum arg)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	if (my_slot != NULL && my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
		if (my_slot->paused_until <= now)
			my_slot->dboid = InvalidOid;
	}
	SpinLockRelease(&tally_scheduler_shared->mutex);
}

static bool
stop_requested(void)
{
	bool		stop;

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	stop = my_slot->stop_requested;
	SpinLockRelease(&tally_scheduler_shared->mutex);
	return stop;
}

static void
begin_transaction(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
commit_transaction(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

static void
run_sql(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (ret != expected)
		elog(ERROR, "tally scheduler: \"%s\" failed: %s", sql, SPI_result_code_string(ret));
}

/* True when the extension is installed in this database. */
static bool
extension_present(void)
{
	bool		present;
	bool		isnull;

	begin_transaction("tally scheduler: checking for the extension");
	run_sql("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'tally')"
			" AND pg_catalog.to_regclass('_tally_catalog.bgw_job') IS NOT NULL",
			0, NULL, NULL, SPI_OK_SELECT);
	present = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										 &isnull));
	commit_transaction();
	return present;
}

/*
 * Ids of the jobs due now, and the milliseconds until the next one after
 * them is due (capped at MAX_SLEEP_MS).  The list is allocated in the
 * caller's memory context.
 */
static List *
due_jobs(long *sleep_ms)
{
	List	   *jobs = NIL;
	MemoryContext caller = CurrentMemoryContext;
	bool		isnull;
	Datum		next;

	begin_transaction("tally scheduler: reading jobs");
	run_sql("SELECT job_id FROM _tally_internal.jobs_due()", 0, NULL, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int32		job_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(caller);

		jobs = lappend_int(jobs, job_id);
		MemoryContextSwitchTo(old);
	}
	run_sql("SELECT _tally_internal.next_job_start()", 0, NULL, NULL, SPI_OK_SELECT);
	next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*sleep_ms = MAX_SLEEP_MS;
	if (!isnull)
	{
		long		secs;
		int			usecs;

		TimestampDifference(GetCurrentTimestamp(), DatumGetTimestampTz(next), &secs, &usecs);
		*sleep_ms = Min(*sleep_ms, secs * 1000 + usecs / 1000 + 1);
	}
	commit_transaction();
	return jobs;
}

/*
 * Run a job's statement in its own transaction as owner.  Returns NULL on
 * success; on error, the transaction is rolled back and the error returned,
 * copied into `context`: whatever the job does, the scheduler survives it.
 */
static ErrorData *
execute_job(const char *call, Oid owner, MemoryContext context)
{
	ErrorData  *volatile error = NULL;

	PG_TRY();
	{
		Oid			save_userid;
		int			save_sec_context;

		begin_transaction(call);
		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		run_sql(call, 0, NULL, NULL, SPI_OK_SELECT);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		commit_transaction();
	}
	PG_CATCH();
	{
		MemoryContext old = MemoryContextSwitchTo(context);

		error = CopyErrorData();
		MemoryContextSwitchTo(old);
		FlushErrorState();
		AbortOutOfAnyTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_END_TRY();
	return error;
}

PG_FUNCTION_INFO_V1(tally_run_job_as_owner);

/*
 * _tally_internal.run_job_as_owner(call text, owner regrole) returns void
 *
 * run_job's counterpart of execute_job: runs a job's statement (from
 * job_started) in this session as the job's owner, so that a job does in
 * run_job exactly what the scheduler would let it do, whoever calls it.
 * run_job is SECURITY DEFINER: without this, the job would run with the
 * extension owner's rights.  Not for PUBLIC.
 */
Datum
tally_run_job_as_owner(PG_FUNCTION_ARGS)
{
	char	   *call = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			owner = PG_GETARG_OID(1);
	Oid			save_userid;
	int			save_sec_context;
	int			ret;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute(call, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "run_job: \"%s\" failed: %s", call, SPI_result_code_string(ret));
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	PG_RETURN_VOID();
}

/*
 * Run one job: mark it started, execute it, record the outcome and when it
 * runs next.
 */
static void
run_job(int32 job_id)
{
	Oid			argtypes[4] = {INT4OID, BOOLOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', 'n', 'n'};
	char	   *call = NULL;
	Oid			owner = InvalidOid;
	ErrorData  *error;
	MemoryContext job_context = AllocSetContextCreate(TopMemoryContext, "tally job",
													  ALLOCSET_DEFAULT_SIZES);

	begin_transaction("tally scheduler: starting job");
	args[0] = Int32GetDatum(job_id);
	run_sql("SELECT call, owner FROM _tally_internal.job_started($1)", 1, argtypes, args,
			SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			call = MemoryContextStrdup(job_context, TextDatumGetCString(value));
		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
											   &isnull));
	}
	commit_transaction();
	if (call == NULL)
	{
		MemoryContextDelete(job_context);
		return;
	}

	error = execute_job(call, owner, job_context);
	if (error != NULL)
		ereport(LOG,
				(errmsg("tally job %d failed: %s", job_id, error->message)));

	begin_transaction("tally scheduler: finishing job");
	args[1] = BoolGetDatum(error == NULL);
	if (error != NULL)
	{
		args[2] = CStringGetTextDatum(unpack_sql_state(error->sqlerrcode));
		args[3] = CStringGetTextDatum(error->message ? error->message : "unknown error");
		nulls[2] = nulls[3] = ' ';
	}
	if (SPI_execute_with_args("SELECT _tally_internal.job_finished($1, $2, $3, $4)",
							  4, argtypes, args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "tally scheduler: could not record the outcome of job %d", job_id);
	commit_transaction();
	MemoryContextDelete(job_context);
}

void
tally_scheduler_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	bool		first = true;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&tally_scheduler_shared->mutex);
	my_slot = tally_scheduler_slot(dboid, true);
	if (my_slot != NULL && my_slot->pid == 0 && !my_slot->stop_requested)
	{
		my_slot->pid = MyProcPid;
		my_slot->latch = MyLatch;
	}
	else
		my_slot = NULL;
	SpinLockRelease(&tally_scheduler_shared->mutex);
	if (my_slot == NULL)
	{
		/* another scheduler has this database, it is paused, or no slot is free */
		ereport(DEBUG1,
				(errmsg("tally scheduler for database %u not started: no free slot, or already running",
						dboid)));
		proc_exit(0);
	}
	before_shmem_exit(release_slot, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("tally scheduler");
	/*
	 * Jobs run as their owners, in a session whose search_path a database
	 * owner may have set (ALTER DATABASE ... SET): nothing of it may reach
	 * the scheduler's statements or the jobs it calls.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	for (;;)
	{
		List	   *jobs;
		ListCell   *lc;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (stop_requested() || !tally_job_scheduler_on())
			proc_exit(0);
		if (!extension_present())
		{
			/*
			 * Nothing to do here until CREATE EXTENSION, which wakes the
			 * launcher and lifts the pause; until then, no new scheduler
			 * process for this database at every launcher poll.
			 */
			TimestampTz pause_end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																NO_EXTENSION_PAUSE_MS);

			SpinLockAcquire(&tally_scheduler_shared->mutex);
			my_slot->paused_until = pause_end;
			SpinLockRelease(&tally_scheduler_shared->mutex);
			proc_exit(0);
		}

		if (first)
		{
			/* jobs that were running when a scheduler died count as crashed */
			begin_transaction("tally scheduler: recovering jobs");
			run_sql("SELECT _tally_internal.jobs_recover_crashed()", 0, NULL, NULL, SPI_OK_SELECT);
			commit_transaction();
			first = false;
		}

		jobs = due_jobs(&sleep_ms);
		foreach(lc, jobs)
		{
			CHECK_FOR_INTERRUPTS();
			if (stop_requested())
				proc_exit(0);
			run_job(lfirst_int(lc));
		}
		if (jobs != NIL)
		{
			list_free(jobs);
			continue;			/* running took time: look again before sleeping */
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
