/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  The statement trigger that records what a statement on a source table
 *	  did to a continuous aggregate: it runs the aggregate's capture SQL for
 *	  that table over the statement's transition tables, as the aggregate's
 *	  owner.
 *
 * A trigger fires for every statement, so each backend keeps the capture
 * SQL of the aggregates it has written to, and their prepared plans (which
 * the plan cache replans when a table they read changes).  An entry is
 * forgotten when the relcache says its materialization changed: dropping
 * the aggregate does (identifiers start again at 1 after DROP EXTENSION),
 * and so does writing its SQL again after a rename (ddl.c).  The catalog is
 * read with the latest snapshot, as PostgreSQL reads its own: a transaction
 * whose snapshot is older than a rename it now sees (REPEATABLE READ) must
 * not run the SQL with the old names.
 *
 * The capture runs with the owner's rights but was started by whoever
 * wrote, so nothing of the writer's session may reach it: it runs under
 * search_path = pg_catalog, pg_temp (the SQL names every object of the
 * user's with its schema).  It locks the aggregate's invalidation table,
 * then its delta table, before writing either, in the order a refresh
 * locks them: a writer whose statements touch both in the other order
 * would otherwise deadlock with a refresh that waits for it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "search_path.h"

PG_FUNCTION_INFO_V1(tally_cagg_capture);

typedef enum CaptureKind
{
	CAPTURE_NEW,				/* over tally_new_rows */
	CAPTURE_OLD,				/* over tally_old_rows */
	CAPTURE_TRUNCATE,
	CAPTURE_KINDS
} CaptureKind;

typedef struct CaptureKey
{
	int32		cagg_id;
	Oid			source;
} CaptureKey;

typedef struct CaptureEntry
{
	CaptureKey	key;			/* hash key: must be first */
	Oid			mat_table;		/* whose owner runs the capture */
	Oid			inval_table;	/* locked first, then delta_table */
	Oid			delta_table;	/* InvalidOid without deltas */
	char	   *sql[CAPTURE_KINDS];
	SPIPlanPtr	plan[CAPTURE_KINDS];	/* prepared on first use */
	bool		stale;			/* its aggregate may be gone */
} CaptureEntry;

static HTAB *capture_cache = NULL;

static void
forget_stale_captures(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	CaptureEntry *entry;

	hash_seq_init(&status, capture_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!OidIsValid(relid) || entry->mat_table == relid)
			entry->stale = true;
	}
}

static void
remove_entry(CaptureEntry *entry)
{
	for (int kind = 0; kind < CAPTURE_KINDS; kind++)
	{
		if (entry->plan[kind] != NULL)
			SPI_freeplan(entry->plan[kind]);
		pfree(entry->sql[kind]);
	}
	hash_search(capture_cache, &entry->key, HASH_REMOVE, NULL);
}

/*
 * The capture of aggregate cagg_id for source, from the catalog on first
 * use; NULL when the catalog does not know it.  Called inside SPI.
 */
static CaptureEntry *
capture_entry(int32 cagg_id, Oid source)
{
	CaptureKey	key = {cagg_id, source};
	CaptureEntry *entry;
	bool		found;
	Oid			types[2] = {INT4OID, OIDOID};
	Datum		values[2] = {Int32GetDatum(cagg_id), ObjectIdGetDatum(source)};
	bool		isnull;

	if (capture_cache == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(CaptureKey);
		ctl.entrysize = sizeof(CaptureEntry);
		ctl.hcxt = CacheMemoryContext;
		capture_cache = hash_create("tally continuous aggregate captures", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(forget_stale_captures, (Datum) 0);
	}
	entry = hash_search(capture_cache, &key, HASH_FIND, NULL);
	if (entry != NULL && !entry->stale)
		return entry;
	if (entry != NULL)
		remove_entry(entry);

	PushActiveSnapshot(GetLatestSnapshot());
	if (SPI_execute_with_args("SELECT s.capture_new, s.capture_old, a.capture_truncate, a.mat_table,"
							  "       a.inval_table, a.delta_table"
							  "  FROM _tally_catalog.continuous_agg a"
							  "  JOIN _tally_catalog.continuous_agg_source s ON s.cagg_id = a.id"
							  " WHERE a.id = $1 AND s.source = $2",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "continuous aggregate lookup failed");
	PopActiveSnapshot();
	if (SPI_processed != 1)
		return NULL;

	entry = hash_search(capture_cache, &key, HASH_ENTER, &found);
	entry->mat_table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
													  4, &isnull));
	entry->inval_table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
														5, &isnull));
	entry->delta_table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
														6, &isnull));
	if (isnull)
		entry->delta_table = InvalidOid;
	for (int kind = 0; kind < CAPTURE_KINDS; kind++)
	{
		entry->sql[kind] = MemoryContextStrdup(CacheMemoryContext,
											   SPI_getvalue(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, kind + 1));
		entry->plan[kind] = NULL;
	}
	entry->stale = false;
	return entry;
}

static void
run_capture(CaptureEntry *entry, CaptureKind kind)
{
	int			ret;

	if (entry->plan[kind] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(entry->sql[kind], 0, NULL);

		if (plan == NULL)
			elog(ERROR, "continuous aggregate capture: \"%s\" failed: %s", entry->sql[kind],
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep the plan of a continuous aggregate capture");
		entry->plan[kind] = plan;
	}
	ret = SPI_execute_plan(entry->plan[kind], NULL, NULL, false, 0);
	if (ret < 0)
		elog(ERROR, "continuous aggregate capture failed: %s", SPI_result_code_string(ret));
}

static Oid
owner_of(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Statement trigger on each table a continuous aggregate (tgargs[0]) reads. */
Datum
tally_cagg_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	CaptureEntry *entry;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	if (!CALLED_AS_TRIGGER(fcinfo) || trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cagg_capture() must be called as tally's trigger")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* undone below, or with the transaction on error */
	save_nestlevel = tally_pin_search_path();
	entry = capture_entry(pg_strtoint32(trigdata->tg_trigger->tgargs[0]),
						  RelationGetRelid(trigdata->tg_relation));
	if (entry == NULL)
	{
		/* on a table that is not its source, or left behind: nothing to do */
		tally_restore_search_path(save_nestlevel);
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register transition tables");

	/* held to the end of the transaction: a no-op after the first statement */
	LockRelationOid(entry->inval_table, RowExclusiveLock);
	if (OidIsValid(entry->delta_table))
		LockRelationOid(entry->delta_table, RowExclusiveLock);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner_of(entry->mat_table), save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		run_capture(entry, CAPTURE_TRUNCATE);
	else
	{
		if (trigdata->tg_oldtable != NULL)
			run_capture(entry, CAPTURE_OLD);
		if (trigdata->tg_newtable != NULL)
			run_capture(entry, CAPTURE_NEW);
	}
	SetUserIdAndSecContext(save_userid, save_sec_context);
	tally_restore_search_path(save_nestlevel);
	SPI_finish();
	return PointerGetDatum(NULL);
}
