/*-------------------------------------------------------------------------
 *
 * stray_rows.c
 *	  Rows waiting in a hypertable's default partition for their chunk: the
 *	  trigger that moves them at commit, and TRUNCATE while they wait.
 *
 * A row that an INSERT or a replicated change sends to the default
 * partition fires a deferred constraint trigger there, at commit, which
 * creates the row's chunk (moving every waiting row of its range into it)
 * without waiting for a lock.  The trigger fires once per row, so a bulk
 * INSERT into a new interval fires it hundreds of thousands of times; all
 * but the first of a range find a chunk.  So the trigger is C, and keeps
 * the ranges it has found covered for the rest of the transaction: a row
 * of one costs a lookup in that list; only the others reach the SQL that
 * reads the catalog and creates the chunk
 * (_tally_internal.place_stray_point), as the extension's owner.
 *
 * While the trigger's events are pending,
 * its events are pending, PostgreSQL refuses to truncate the default
 * partition ("pending trigger events"), so a transaction that wrote a row
 * without a chunk and then truncates the hypertable would fail.  Before
 * such a TRUNCATE, the pending moves run now (SET CONSTRAINTS ... IMMEDIATE),
 * and the trigger is deferred again for the rest of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"

#include "extension_owner.h"
#include "hypertable/stray_rows.h"
#include "hypertable/time_value.h"

PG_FUNCTION_INFO_V1(tally_place_stray_row);

/* A range of internal time that a chunk of a hypertable covers. */
typedef struct CoveredRange
{
	int32		hypertable_id;
	int64		start;
	int64		end;			/* PG_INT64_MAX: no upper bound */
} CoveredRange;

/* Ranges found covered in this transaction (in TopTransactionContext). */
static List *covered = NIL;
static LocalTransactionId covered_lxid = InvalidLocalTransactionId;

static bool
is_covered(int32 hypertable_id, int64 point)
{
	ListCell   *lc;

	if (covered_lxid != MyProc->lxid)
	{
		covered = NIL;			/* freed with the transaction that made it */
		covered_lxid = MyProc->lxid;
	}
	foreach(lc, covered)
	{
		CoveredRange *range = lfirst(lc);

		if (range->hypertable_id == hypertable_id && range->start <= point &&
			(point < range->end || range->end == PG_INT64_MAX))
			return true;
	}
	return false;
}

/*
 * Finds or creates the chunk of point (place_stray_point, as the extension's
 * owner); remembers its range when there is one.
 */
static void
place_point(int32 hypertable_id, Oid default_partition, int64 point)
{
	Oid			types[3] = {INT4OID, REGCLASSOID, INT8OID};
	Datum		values[3] = {Int32GetDatum(hypertable_id), ObjectIdGetDatum(default_partition),
	Int64GetDatum(point)};
	bool		start_null;
	bool		end_null;
	Datum		start;
	Datum		end;

	tally_select_as_extension_owner("SELECT range_start, range_end"
									"  FROM _tally_internal.place_stray_point($1, $2, $3)",
									3, types, values);
	start = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &start_null);
	end = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &end_null);
	if (!start_null && !end_null)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		CoveredRange *range = palloc(sizeof(CoveredRange));

		range->hypertable_id = hypertable_id;
		range->start = DatumGetInt64(start);
		range->end = DatumGetInt64(end);
		(void) is_covered(hypertable_id, range->start);	/* resets a stale list */
		covered = lappend(covered, range);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
}

/*
 * _tally_internal.place_stray_row(hypertable_id, time_column, hypertable)
 *	  returns trigger
 *
 * The deferred constraint trigger of a default partition (see the banner).
 * It never raises for the row: a row that stays is moved later.
 */
Datum
tally_place_stray_row(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	HeapTuple	tuple;
	AttrNumber	attnum;
	Datum		value;
	bool		isnull;
	int32		hypertable_id;
	int64		point;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || trigdata->tg_trigger->tgnargs < 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("place_stray_row() is only a trigger of a hypertable's default partition")));
	rel = trigdata->tg_relation;
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	hypertable_id = pg_strtoint32(trigdata->tg_trigger->tgargs[0]);
	attnum = get_attnum(RelationGetRelid(rel), trigdata->tg_trigger->tgargs[1]);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("place_stray_row(): column \"%s\" of \"%s\" does not exist",
						trigdata->tg_trigger->tgargs[1], RelationGetRelationName(rel))));
	value = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	if (!tally_try_time_datum_to_internal(value, TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid,
										  &point))
	{
		ereport(WARNING,
				(errmsg("row of hypertable %s stays in its default partition: date out of range for a chunk",
						trigdata->tg_trigger->tgnargs > 2 ? trigdata->tg_trigger->tgargs[2] : "?"),
				 errdetail("Its time is beyond the range that chunks can cover.")));
		return PointerGetDatum(NULL);
	}
	if (!is_covered(hypertable_id, point))
		place_point(hypertable_id, RelationGetRelid(rel), point);
	return PointerGetDatum(NULL);
}

void
tally_hypertable_before_truncate(TruncateStmt *stmt)
{
	ListCell   *lc;
	bool		pending = false;

	if (!OidIsValid(get_namespace_oid("_tally_internal", true)))
		return;
	foreach(lc, stmt->relations)
	{
		Oid			relid = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);
		Oid			default_partition;

		if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
			continue;
		default_partition = get_default_partition_oid(relid);
		if (OidIsValid(default_partition) && AfterTriggerPendingOnRel(default_partition))
			pending = true;
	}
	if (!pending)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SET CONSTRAINTS _tally_internal.tally_place_stray_row IMMEDIATE", false, 0) < 0 ||
		SPI_execute("SET CONSTRAINTS _tally_internal.tally_place_stray_row DEFERRED", false, 0) < 0)
		elog(ERROR, "could not move the rows waiting in a default partition");
	SPI_finish();
}
