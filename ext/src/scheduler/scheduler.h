/*-------------------------------------------------------------------------
 *
 * scheduler.h
 *	  The job scheduler: a launcher background worker that starts one
 *	  scheduler per database with the extension, which runs the jobs of
 *	  _tally_catalog.bgw_job.  See README.md beside this file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_SCHEDULER_H
#define TALLY_SCHEDULER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/nodes.h"
#include "storage/latch.h"
#include "storage/spin.h"

/* Shared memory for the launcher and the schedulers, and their latches. */
typedef struct TallySchedulerSlot
{
	Oid			dboid;			/* database, or InvalidOid when free */
	pid_t		pid;			/* scheduler process, 0 when not running */
	Latch	   *latch;			/* set to wake the scheduler */
	bool		stop_requested; /* scheduler must exit at its next wake */
	TimestampTz paused_until;	/* launcher must not start one before */
} TallySchedulerSlot;

#define TALLY_MAX_SCHEDULERS 64

typedef struct TallySchedulerShared
{
	slock_t		mutex;			/* protects everything below */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	TallySchedulerSlot slots[TALLY_MAX_SCHEDULERS];
} TallySchedulerShared;

/* Set up the launcher and its shared memory; call from _PG_init. */
extern void tally_scheduler_init(void);

/*
 * Called by the utility hook around every utility statement: before, to
 * stop the scheduler of a database about to be dropped, renamed or copied;
 * after, to wake schedulers when an extension was dropped.
 */
extern void tally_scheduler_before_utility(Node *parsetree);
extern void tally_scheduler_after_utility(Node *parsetree);

/* Shared state, attached at shared memory start-up (NULL without preload). */
extern TallySchedulerShared *tally_scheduler_shared;

/* True when tally is in shared_preload_libraries, so jobs can run. */
extern bool tally_scheduler_enabled;

/* Value of tally.job_scheduler. */
extern bool tally_job_scheduler_on(void);

/*
 * Slot of dboid, claimed when `create` and none exists.  Caller holds the
 * mutex.  NULL when there is none and none could be claimed.
 */
extern TallySchedulerSlot *tally_scheduler_slot(Oid dboid, bool create);

/* Stop the scheduler of a database and keep it stopped for a while. */
extern void tally_scheduler_stop_database(Oid dboid);

/* Background worker entry points. */
extern PGDLLEXPORT void tally_launcher_main(Datum main_arg);
extern PGDLLEXPORT void tally_scheduler_main(Datum main_arg);

#endif							/* TALLY_SCHEDULER_H */
