/*-------------------------------------------------------------------------
 *
 * copy.c
 *	  COPY FROM into a hypertable, routed by tally instead of PostgreSQL.
 *
 * PostgreSQL 15 routes every row of a COPY into a partitioned table with a
 * binary search over all partition bounds, copies it into a per-partition
 * buffer and checks its constraints there (deforming it again), and gives
 * every partition its own bulk-insert ring.  A hypertable has hundreds of
 * chunks and rows that mostly arrive in time order, so each of those costs
 * shows: a load into a hypertable ran at 0.77-0.87 of the speed of a load
 * into a plain table (bench/hypertable.sh, profiled with perf).
 *
 * This path keeps PostgreSQL's parser (BeginCopyFrom/NextCopyFrom), its
 * permission checks, constraints, indexes and AFTER triggers, and replaces
 * the routing: the chunk of the previous row is tried first, with plain
 * int64 comparisons; constraints are checked on the parsed row before it is
 * copied; and all chunks share one bulk-insert state, so the whole load
 * cycles through one small ring of shared buffers, as a plain table's does.
 *
 * A row that no chunk covers starts a chunk of its own: PostgreSQL cannot
 * attach a partition to a table a running statement writes, so the chunk's
 * table is made at once (_tally_internal.create_pending_chunk), the range's
 * rows are written straight into it, and it is attached when the last row
 * has been read (attach_pending_chunk), its indexes built then in one pass.
 * A load into a fresh hypertable thus runs as a load into plain tables.
 * Where the hypertable has AFTER ROW triggers of its own, which a table not
 * yet attached would not fire, such rows go to the default partition as
 * they would through PostgreSQL, and its deferred trigger moves them into
 * new chunks at commit.  COPY statements this path does not handle exactly as PostgreSQL
 * would (WHERE, FREEZE, BEFORE ROW triggers, stored generated columns, row
 * security, partitions that are not plain tables) are left to PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/progress.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "executor/spi.h"
#include "catalog/partition.h"
#include "parser/parse_func.h"
#include "utils/snapmgr.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "extension_owner.h"
#include "hypertable/copy.h"
#include "hypertable/time_value.h"

/* PostgreSQL's own limits for one batch of buffered rows (copyfrom.c) */
#define MAX_BUFFERED_TUPLES		1000
#define MAX_BUFFERED_BYTES		65535
/* chunk buffers that keep their slots between batches */
#define MAX_KEPT_BUFFERS		32

/* The rows buffered for one chunk (or the default partition). */
typedef struct ChunkBuffer
{
	ResultRelInfo *rri;
	TupleConversionMap *map;	/* hypertable row -> chunk row, or NULL */
	int			ti_options;
	TupleTableSlot *slots[MAX_BUFFERED_TUPLES];
	uint64		linenos[MAX_BUFFERED_TUPLES];
	int			nslots;			/* slots made so far */
	int			nused;			/* slots holding a buffered row */
	uint64		last_used;		/* batch number of its last row */
} ChunkBuffer;

/* One bound of the hypertable's range partitioning, as int64 time. */
typedef struct RangeBound
{
	PartitionRangeDatumKind kind;
	int64		value;
} RangeBound;

/* A chunk's table made by this load, attached when the load is over. */
typedef struct PendingChunk
{
	int32		chunk_id;
	Oid			relid;
	int64		range_start;	/* internal time, [range_start, range_end) */
	int64		range_end;		/* PG_INT64_MAX: no upper bound */
	ChunkBuffer *buffer;
} PendingChunk;

typedef struct HypertableCopy
{
	CopyFromState cstate;
	EState	   *estate;
	ResultRelInfo *root;
	TransitionCaptureState *transition_capture;
	BulkInsertState bistate;
	CommandId	mycid;

	/* routing */
	PartitionDesc partdesc;
	AttrNumber	time_attno;
	Oid			time_type;
	RangeBound *bounds;			/* partdesc's bounds, in order */
	int			nbounds;
	ChunkBuffer **buffers;		/* by partition index, opened on first use */
	ChunkBuffer *last;			/* the target of the previous row */
	int64		last_lo;		/* last covers [last_lo, last_hi) ... */
	int64		last_hi;
	bool		last_lo_open;	/* ... with no lower bound */
	bool		last_hi_open;	/* ... with no upper bound */

	/* chunks made by this load (none when the hypertable has AFTER ROW triggers) */
	bool		make_chunks;
	int32		hypertable_id;
	List	   *pending;		/* PendingChunk *, outliving the executor state */
	MemoryContext pending_cxt;

	/* the batch being buffered */
	int			max_tuples;
	int			batch_tuples;
	int			batch_bytes;
	uint64		batch_number;
	ChunkBuffer *flushed;		/* target of the last multi-insert */
} HypertableCopy;

/* -- when this path applies ------------------------------------------------ */

/* The time type of relid if it is a hypertable, else InvalidOid; its id in *id. */
static Oid
hypertable_time_type(Oid relid, int32 *id)
{
	Oid			extension;
	Oid			catalog_ns;
	Oid			catalog;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	Oid			time_type = InvalidOid;

	extension = get_extension_oid("tally", true);
	if (!OidIsValid(extension))
		return InvalidOid;
	catalog_ns = get_namespace_oid("_tally_catalog", true);
	catalog = OidIsValid(catalog_ns) ? get_relname_relid("hypertable", catalog_ns) : InvalidOid;
	if (!OidIsValid(catalog))
		return InvalidOid;

	/* read without the user's privileges: this only decides how to route */
	rel = table_open(catalog, AccessShareLock);
	ScanKeyInit(&key, 2 /* relid */ , BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		type = heap_getattr(tuple, 4 /* time_type */ , RelationGetDescr(rel), &isnull);

		if (!isnull)
			time_type = DatumGetObjectId(type);
		*id = DatumGetInt32(heap_getattr(tuple, 1 /* id */ , RelationGetDescr(rel), &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return time_type;
}

static bool
time_type_routable(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

/* Whether relid has a BEFORE or INSTEAD OF ROW INSERT trigger, enabled or not. */
static bool
has_before_row_insert_trigger(Oid relid)
{
	Relation	pg_trigger;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	bool		found = false;

	pg_trigger = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(pg_trigger, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (!found && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		int16		type = ((Form_pg_trigger) GETSTRUCT(tuple))->tgtype;

		found = TRIGGER_FOR_ROW(type) && TRIGGER_FOR_INSERT(type) &&
			(TRIGGER_FOR_BEFORE(type) || TRIGGER_FOR_INSTEAD(type));
	}
	systable_endscan(scan);
	table_close(pg_trigger, AccessShareLock);
	return found;
}

/*
 * Whether every partition is a plain table without BEFORE ROW INSERT
 * triggers.  Partitions with no triggers at all are told apart by
 * pg_class.relhastriggers, so most chunks cost one syscache lookup.
 */
static bool
partitions_routable(PartitionDesc partdesc)
{
	for (int i = 0; i < partdesc->nparts; i++)
	{
		HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(partdesc->oids[i]));
		Form_pg_class form;
		bool		ok;

		if (!HeapTupleIsValid(tuple))
			return false;
		form = (Form_pg_class) GETSTRUCT(tuple);
		ok = form->relkind == RELKIND_RELATION &&
			(!form->relhastriggers || !has_before_row_insert_trigger(partdesc->oids[i]));
		ReleaseSysCache(tuple);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * Whether the hypertable is partitioned as create_hypertable makes it: by
 * range on one column of a routable type, ordered by the type's default
 * btree operator class (so that int64 comparison orders it the same way).
 */
static bool
partition_key_routable(Relation rel, Oid time_type)
{
	PartitionKey key = RelationGetPartitionKey(rel);
	Oid			opclass;

	if (key == NULL || key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] == 0 || key->parttypid[0] != time_type || !time_type_routable(time_type))
		return false;
	opclass = GetDefaultOpClass(time_type, BTREE_AM_OID);
	return OidIsValid(opclass) && get_opclass_family(opclass) == key->partopfamily[0];
}

static bool
option_given(const CopyStmt *stmt, const char *name)
{
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		if (strcmp(lfirst_node(DefElem, lc)->defname, name) == 0)
			return true;
	}
	return false;
}

/*
 * Whether this path handles the COPY: rel is a hypertable and nothing in the
 * statement or the table needs PostgreSQL's own per-row work.
 */
static bool
copy_routable(const CopyStmt *stmt, Relation rel, PartitionDesc partdesc, Oid *time_type,
			  int32 *hypertable_id)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (stmt->whereClause != NULL || option_given(stmt, "freeze"))
		return false;
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		return false;
	*time_type = hypertable_time_type(RelationGetRelid(rel), hypertable_id);
	if (!OidIsValid(*time_type) || !partition_key_routable(rel, *time_type))
		return false;
	if (desc->constr != NULL && desc->constr->has_generated_stored)
		return false;
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return false;
	if (rel->trigdesc != NULL &&
		(rel->trigdesc->trig_insert_before_row || rel->trigdesc->trig_insert_instead_row))
		return false;
	return partitions_routable(partdesc);
}

/* Whether relid has a foreign key whose check may be deferred. */
static bool
has_deferrable_foreign_key(Oid relid)
{
	Relation	pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	bool		found = false;

	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(pg_constraint, ConstraintRelidTypidNameIndexId, true, NULL, 1, &key);
	while (!found && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_constraint form = (Form_pg_constraint) GETSTRUCT(tuple);

		found = form->contype == CONSTRAINT_FOREIGN && form->condeferrable;
	}
	systable_endscan(scan);
	table_close(pg_constraint, AccessShareLock);
	return found;
}

/*
 * Whether a load may make chunks of its own: a table not yet attached fires
 * none of the hypertable's row triggers, so the hypertable must have no
 * AFTER ROW INSERT trigger of a user's; foreign keys are checked when the
 * chunk is attached, at once, so none may be deferrable; and this
 * database's extension must be a version that attaches them.
 */
static bool
may_make_chunks(ResultRelInfo *root)
{
	TriggerDesc *trigdesc = root->ri_TrigDesc;
	Oid			argtypes[2] = {INT4OID, INT8OID};

	if (has_deferrable_foreign_key(RelationGetRelid(root->ri_RelationDesc)))
		return false;

	if (trigdesc != NULL && trigdesc->trig_insert_after_row)
	{
		for (int i = 0; i < trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &trigdesc->triggers[i];

			if (!trigger->tgisinternal && TRIGGER_FOR_ROW(trigger->tgtype) &&
				TRIGGER_FOR_AFTER(trigger->tgtype) && TRIGGER_FOR_INSERT(trigger->tgtype))
				return false;
		}
	}
	return OidIsValid(LookupFuncName(list_make2(makeString("_tally_internal"),
												makeString("create_pending_chunk")),
									 2, argtypes, true));
}

/* -- routing ------------------------------------------------------------- */

static int64
time_datum_to_int64(Datum value, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
		case DATEOID:
			return DatumGetInt32(value);
		default:
			return DatumGetInt64(value);
	}
}

static void
load_bounds(HypertableCopy *copy)
{
	PartitionBoundInfo info = copy->partdesc->boundinfo;

	copy->nbounds = info ? info->ndatums : 0;
	copy->bounds = palloc(sizeof(RangeBound) * Max(copy->nbounds, 1));
	for (int i = 0; i < copy->nbounds; i++)
	{
		copy->bounds[i].kind = info->kind[i][0];
		copy->bounds[i].value = info->kind[i][0] == PARTITION_RANGE_DATUM_VALUE ?
			time_datum_to_int64(info->datums[i][0], copy->time_type) : 0;
	}
}

/* <0, 0 or >0 as value sorts before, at or after bound */
static inline int
compare_to_bound(int64 value, const RangeBound *bound)
{
	if (bound->kind == PARTITION_RANGE_DATUM_MINVALUE)
		return 1;
	if (bound->kind == PARTITION_RANGE_DATUM_MAXVALUE)
		return -1;
	return value < bound->value ? -1 : value > bound->value ? 1 : 0;
}

static inline bool
in_last_range(HypertableCopy *copy, int64 value)
{
	return copy->last != NULL &&
		(copy->last_lo_open || value >= copy->last_lo) &&
		(copy->last_hi_open || value < copy->last_hi);
}

static ChunkBuffer *open_buffer(HypertableCopy *copy, int partidx);
static ChunkBuffer *pending_buffer(HypertableCopy *copy, Datum time);
static ChunkBuffer *new_buffer(HypertableCopy *copy, Oid relid);

/*
 * The buffer of the partition for a time value: as get_partition_for_tuple()
 * finds it, the greatest bound at or below the value, then the partition
 * that bound starts.  A NULL time goes to the default partition, whose NOT
 * NULL constraint then rejects it.
 */
static ChunkBuffer *
route(HypertableCopy *copy, Datum time, bool isnull)
{
	PartitionBoundInfo info = copy->partdesc->boundinfo;
	int64		value;
	int			lo = -1,
				hi = copy->nbounds - 1;
	int			partidx;

	if (isnull)
		return open_buffer(copy, info ? info->default_index : -1);
	value = time_datum_to_int64(time, copy->time_type);
	if (in_last_range(copy, value))
		return copy->last;

	/* the greatest bound index lo with bound <= value, -1 if none */
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (compare_to_bound(value, &copy->bounds[mid]) >= 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	partidx = info ? info->indexes[lo + 1] : -1;
	if (partidx < 0 && copy->make_chunks)
	{
		ChunkBuffer *buffer = pending_buffer(copy, time);

		if (buffer != NULL)
			return buffer;
	}
	if (partidx < 0)
		partidx = info ? info->default_index : -1;

	/* lo never is a MAXVALUE bound: no value sorts at or above one */
	copy->last = open_buffer(copy, partidx);
	copy->last_lo_open = lo < 0 || copy->bounds[lo].kind == PARTITION_RANGE_DATUM_MINVALUE;
	copy->last_lo = lo >= 0 ? copy->bounds[lo].value : 0;
	copy->last_hi_open = lo + 1 >= copy->nbounds ||
		copy->bounds[lo + 1].kind == PARTITION_RANGE_DATUM_MAXVALUE;
	copy->last_hi = lo + 1 < copy->nbounds ? copy->bounds[lo + 1].value : 0;
	return copy->last;
}

/*
 * The buffer of partition partidx (-1: none, which is PostgreSQL's "no
 * partition found" error), opening the partition on first use.
 */
static ChunkBuffer *
open_buffer(HypertableCopy *copy, int partidx)
{
	ChunkBuffer *buffer;

	if (partidx < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("no partition of relation \"%s\" found for row",
						RelationGetRelationName(copy->root->ri_RelationDesc))));
	if (copy->buffers[partidx] != NULL)
		return copy->buffers[partidx];

	buffer = new_buffer(copy, copy->partdesc->oids[partidx]);
	copy->buffers[partidx] = buffer;
	return buffer;
}

/* A buffer for rows of table relid, with its ResultRelInfo. */
static ChunkBuffer *
new_buffer(HypertableCopy *copy, Oid relid)
{
	ChunkBuffer *buffer;
	Relation	rel;
	ResultRelInfo *rri;
	MemoryContext oldcxt;

	oldcxt = MemoryContextSwitchTo(copy->estate->es_query_cxt);
	rel = table_open(relid, RowExclusiveLock);
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, copy->root, copy->estate->es_instrument);
	CheckValidResultRel(rri, CMD_INSERT);
	if (rri->ri_TrigDesc != NULL &&
		(rri->ri_TrigDesc->trig_insert_before_row || rri->ri_TrigDesc->trig_insert_instead_row))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a BEFORE INSERT trigger was added to \"%s\" during COPY",
						RelationGetRelationName(rel)),
				 errhint("Run the COPY again.")));
	ExecOpenIndices(rri, false);
	/* found again by ExecGetTriggerResultRel() when AFTER triggers fire */
	copy->estate->es_tuple_routing_result_relations =
		lappend(copy->estate->es_tuple_routing_result_relations, rri);

	buffer = palloc0(sizeof(ChunkBuffer));
	buffer->rri = rri;
	buffer->map = convert_tuples_by_name(RelationGetDescr(copy->root->ri_RelationDesc),
										 RelationGetDescr(rel));
	/* read by ExecGetInsertedCols() when an error shows the failing row */
	rri->ri_RootToPartitionMap = buffer->map;
	if (rel->rd_createSubid != InvalidSubTransactionId ||
		rel->rd_firstRelfilenodeSubid != InvalidSubTransactionId)
		buffer->ti_options |= TABLE_INSERT_SKIP_FSM;
	MemoryContextSwitchTo(oldcxt);
	return buffer;
}

/* The column value as raw int64 units of route(), rounded up from internal time. */
static int64
internal_to_raw_ceiling(int64 internal, Oid type)
{
	if (type == DATEOID)
		return internal / USECS_PER_DAY + (internal % USECS_PER_DAY > 0);
	return internal;
}

static bool
time_is_finite(Datum time, Oid type)
{
	switch (type)
	{
		case DATEOID:
			return !DATE_NOT_FINITE(DatumGetDateADT(time));
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return !TIMESTAMP_NOT_FINITE(DatumGetTimestamp(time));
		default:
			return true;
	}
}

/*
 * The buffer of the chunk this load makes for a time that no chunk covers:
 * one made before, or a new one; NULL where the time can have no chunk.
 * Sets the range of the previous row to the chunk's.
 */
static ChunkBuffer *
pending_buffer(HypertableCopy *copy, Datum time)
{
	int64		point;
	PendingChunk *chunk = NULL;
	ListCell   *lc;

	if (!time_is_finite(time, copy->time_type))
		return NULL;
	point = tally_time_datum_to_internal(time, copy->time_type);
	foreach(lc, copy->pending)
	{
		PendingChunk *p = lfirst(lc);

		if (p->range_start <= point && (point < p->range_end || p->range_end == PG_INT64_MAX))
		{
			chunk = p;
			break;
		}
	}
	if (chunk == NULL)
	{
		Oid			types[2] = {INT4OID, INT8OID};
		Datum		values[2] = {Int32GetDatum(copy->hypertable_id), Int64GetDatum(point)};
		HeapTuple	row;
		TupleDesc	desc;
		bool		isnull;
		MemoryContext oldcxt;

		tally_select_as_extension_owner("SELECT chunk_id, chunk_rel, range_start, range_end"
							   "  FROM _tally_internal.create_pending_chunk($1, $2)",
							   2, types, values);
		row = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		(void) SPI_getbinval(row, desc, 1, &isnull);
		if (isnull)
		{
			SPI_finish();
			return NULL;
		}
		oldcxt = MemoryContextSwitchTo(copy->pending_cxt);
		chunk = palloc0(sizeof(PendingChunk));
		chunk->chunk_id = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
		chunk->relid = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		chunk->range_start = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
		chunk->range_end = DatumGetInt64(SPI_getbinval(row, desc, 4, &isnull));
		copy->pending = lappend(copy->pending, chunk);
		MemoryContextSwitchTo(oldcxt);
		SPI_finish();
		chunk->buffer = new_buffer(copy, chunk->relid);
	}
	copy->last = chunk->buffer;
	copy->last_lo_open = false;
	copy->last_lo = internal_to_raw_ceiling(chunk->range_start, copy->time_type);
	copy->last_hi_open = chunk->range_end == PG_INT64_MAX;
	copy->last_hi = internal_to_raw_ceiling(chunk->range_end, copy->time_type);
	return chunk->buffer;
}

/*
 * Moves the rows of a table this load made into the default partition,
 * where they would have gone through PostgreSQL's COPY: the table could
 * not be attached.  They were checked against the hypertable's constraints
 * when they were read, and against its foreign keys since; their triggers
 * fired with the COPY's.  So they are inserted as a row mover does, with
 * their indexes (unique ones checked) and the default partition's own
 * constraints, and no trigger: as the hypertable's owner, whose code that
 * is, restricted as owner_exec.c runs it.  Chunk maintenance gives them a
 * chunk later.
 */
static void
move_into_default(Oid hypertable, Oid table)
{
	Relation	source = table_open(table, AccessShareLock);
	Relation	target = table_open(get_default_partition_oid(hypertable), RowExclusiveLock);
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleConversionMap *map = convert_tuples_by_name(RelationGetDescr(source),
													 RelationGetDescr(target));
	TupleTableSlot *in = table_slot_create(source, NULL);
	TupleTableSlot *out = table_slot_create(target, NULL);
	BulkInsertState bistate = GetBulkInsertState();
	CommandId	cid = GetCurrentCommandId(true);
	Snapshot	snapshot;
	TableScanDesc scan;
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(target->rd_rel->relowner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	InitResultRelInfo(rri, target, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(source, snapshot, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, in))
	{
		TupleTableSlot *slot = out;

		if (map != NULL)
			execute_attr_map_slot(map->attrMap, in, out);
		else
			ExecCopySlot(out, in);
		if (target->rd_att->constr != NULL)
			ExecConstraints(rri, slot, estate);
		table_tuple_insert(target, slot, cid, 0, bistate);
		if (rri->ri_NumIndices > 0)
			list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
		ResetPerTupleExprContext(estate);
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	FreeBulkInsertState(bistate);
	ExecDropSingleTupleTableSlot(in);
	ExecDropSingleTupleTableSlot(out);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	table_close(target, NoLock);
	table_close(source, NoLock);
}

/*
 * Attaches the chunks this load made, once no relation of the COPY is open
 * any more; the rows of one that cannot be attached go to the default
 * partition.  Returns how many became chunks.
 */
static int
attach_pending(Oid hypertable, int32 hypertable_id, List *pending)
{
	ListCell   *lc;
	int			attached = 0;

	foreach(lc, pending)
	{
		PendingChunk *chunk = lfirst(lc);
		Oid			types[5] = {INT4OID, INT4OID, REGCLASSOID, INT8OID, INT8OID};
		Datum		values[5] = {Int32GetDatum(hypertable_id), Int32GetDatum(chunk->chunk_id),
			ObjectIdGetDatum(chunk->relid), Int64GetDatum(chunk->range_start),
		Int64GetDatum(chunk->range_end)};
		bool		isnull;

		tally_select_as_extension_owner("SELECT _tally_internal.attach_pending_chunk($1, $2, $3, $4, $5)",
							   5, types, values);
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		{
			attached++;
			SPI_finish();
			continue;
		}
		SPI_finish();
		move_into_default(hypertable, chunk->relid);
		tally_select_as_extension_owner("SELECT _tally_internal.drop_pending_chunk($1)", 1, &types[2], &values[2]);
		SPI_finish();
	}
	return attached;
}

/* -- buffering and flushing ------------------------------------------------ */

static void
flush_buffer(HypertableCopy *copy, ChunkBuffer *buffer)
{
	ResultRelInfo *rri = buffer->rri;
	EState	   *estate = copy->estate;
	TriggerDesc *trig = rri->ri_TrigDesc;
	bool		after_row = trig != NULL && (trig->trig_insert_after_row || trig->trig_insert_new_table);
	uint64		save_lineno = copy->cstate->cur_lineno;
	bool		save_line_valid = copy->cstate->line_buf_valid;
	MemoryContext oldcxt;

	if (buffer->nused == 0)
		return;
	/* the ring's current page belongs to the previous relation */
	if (copy->flushed != buffer)
		ReleaseBulkInsertStatePin(copy->bistate);
	copy->flushed = buffer;

	oldcxt = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	table_multi_insert(rri->ri_RelationDesc, buffer->slots, buffer->nused, copy->mycid,
					   buffer->ti_options, copy->bistate);
	MemoryContextSwitchTo(oldcxt);

	/* errors name the line the row came from, whose text is gone */
	copy->cstate->line_buf_valid = false;
	for (int i = 0; i < buffer->nused; i++)
	{
		List	   *recheck = NIL;

		copy->cstate->cur_lineno = buffer->linenos[i];
		if (rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(rri, buffer->slots[i], estate, false, false, NULL, NIL);
		if (after_row || copy->transition_capture != NULL)
			ExecARInsertTriggers(estate, rri, buffer->slots[i], recheck, copy->transition_capture);
		list_free(recheck);
		ExecClearTuple(buffer->slots[i]);
	}
	copy->cstate->cur_lineno = save_lineno;
	copy->cstate->line_buf_valid = save_line_valid;
	buffer->nused = 0;
}

static void
drop_slots(ChunkBuffer *buffer)
{
	for (int i = 0; i < buffer->nslots; i++)
		ExecDropSingleTupleTableSlot(buffer->slots[i]);
	buffer->nslots = 0;
}

/*
 * Flush every buffer.  Slots of chunks that received no row in this batch
 * are released when more than MAX_KEPT_BUFFERS buffers hold slots, so that
 * a load spread over many chunks does not keep a thousand slots for each.
 */
static void
flush_all(HypertableCopy *copy)
{
	int			kept = 0;
	int			nparts = copy->partdesc->nparts;

	ListCell   *lc;

	for (int i = 0; i < nparts; i++)
	{
		if (copy->buffers[i] != NULL)
		{
			flush_buffer(copy, copy->buffers[i]);
			if (copy->buffers[i]->nslots > 0)
				kept++;
		}
	}
	foreach(lc, copy->pending)
	{
		ChunkBuffer *buffer = ((PendingChunk *) lfirst(lc))->buffer;

		flush_buffer(copy, buffer);
		if (buffer->nslots > 0)
			kept++;
	}
	if (kept > MAX_KEPT_BUFFERS)
	{
		for (int i = 0; i < nparts; i++)
		{
			if (copy->buffers[i] != NULL && copy->buffers[i]->last_used != copy->batch_number)
				drop_slots(copy->buffers[i]);
		}
		foreach(lc, copy->pending)
		{
			ChunkBuffer *buffer = ((PendingChunk *) lfirst(lc))->buffer;

			if (buffer->last_used != copy->batch_number)
				drop_slots(buffer);
		}
	}
	copy->batch_tuples = 0;
	copy->batch_bytes = 0;
	copy->batch_number++;
}

/*
 * Adds the parsed row in root_slot to buffer: its constraints are checked
 * while it is still a virtual row, then it is copied into a slot that lives
 * until the buffer is flushed.
 */
static void
buffer_row(HypertableCopy *copy, ChunkBuffer *buffer, TupleTableSlot *root_slot)
{
	ResultRelInfo *rri = buffer->rri;
	Relation	rel = rri->ri_RelationDesc;
	TupleTableSlot *slot;

	if (buffer->nused == buffer->nslots)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(copy->estate->es_query_cxt);

		buffer->slots[buffer->nslots++] = table_slot_create(rel, NULL);
		MemoryContextSwitchTo(oldcxt);
	}
	slot = buffer->slots[buffer->nused];

	if (buffer->map != NULL)
	{
		execute_attr_map_slot(buffer->map->attrMap, root_slot, slot);
		if (rel->rd_att->constr != NULL)
			ExecConstraints(rri, slot, copy->estate);
		ExecMaterializeSlot(slot);
	}
	else
	{
		if (rel->rd_att->constr != NULL)
			ExecConstraints(rri, root_slot, copy->estate);
		ExecCopySlot(slot, root_slot);
	}
	slot->tts_tableOid = RelationGetRelid(rel);

	buffer->linenos[buffer->nused++] = copy->cstate->cur_lineno;
	buffer->last_used = copy->batch_number;
	copy->batch_tuples++;
	copy->batch_bytes += copy->cstate->line_buf.len;
	if (buffer->nused >= copy->max_tuples || copy->batch_tuples >= copy->max_tuples ||
		copy->batch_bytes >= MAX_BUFFERED_BYTES)
		flush_all(copy);
}

/* -- the COPY ------------------------------------------------------------ */

static uint64
copy_rows(HypertableCopy *copy)
{
	EState	   *estate = copy->estate;
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *root_slot;
	uint64		processed = 0;
	ErrorContextCallback errcallback;

	root_slot = MakeSingleTupleTableSlot(RelationGetDescr(copy->root->ri_RelationDesc),
										 &TTSOpsVirtual);

	errcallback.callback = CopyFromErrorCallback;
	errcallback.arg = (void *) copy->cstate;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (;;)
	{
		ChunkBuffer *buffer;
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		ResetPerTupleExprContext(estate);
		oldcxt = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
		ExecClearTuple(root_slot);
		if (!NextCopyFrom(copy->cstate, econtext, root_slot->tts_values, root_slot->tts_isnull))
		{
			MemoryContextSwitchTo(oldcxt);
			break;
		}
		ExecStoreVirtualTuple(root_slot);

		buffer = route(copy, root_slot->tts_values[copy->time_attno - 1],
					   root_slot->tts_isnull[copy->time_attno - 1]);
		buffer_row(copy, buffer, root_slot);
		MemoryContextSwitchTo(oldcxt);

		pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, ++processed);
	}
	flush_all(copy);

	error_context_stack = errcallback.previous;
	ExecDropSingleTupleTableSlot(root_slot);
	return processed;
}

static void
close_buffer(ChunkBuffer *buffer)
{
	drop_slots(buffer);
	ExecCloseIndices(buffer->rri);
	table_close(buffer->rri->ri_RelationDesc, NoLock);
}

static void
close_buffers(HypertableCopy *copy)
{
	ListCell   *lc;

	for (int i = 0; i < copy->partdesc->nparts; i++)
	{
		if (copy->buffers[i] != NULL)
			close_buffer(copy->buffers[i]);
	}
	foreach(lc, copy->pending)
		close_buffer(((PendingChunk *) lfirst(lc))->buffer);
}

/*
 * The checks DoCopy() makes before it reads a row: who may read a server
 * file or run a program, read-only transactions, INSERT privilege on the
 * columns given.  Returns the range table of the statement.
 */
static List *
check_copy_permissions(ParseState *pstate, const CopyStmt *stmt, Relation rel)
{
	ParseNamespaceItem *nsitem;
	RangeTblEntry *rte;
	List	   *attnums;
	ListCell   *lc;

	if (stmt->filename != NULL)
	{
		if (stmt->is_program && !has_privs_of_role(GetUserId(), ROLE_PG_EXECUTE_SERVER_PROGRAM))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be superuser or have privileges of the pg_execute_server_program role to COPY to or from an external program"),
					 errhint("Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.")));
		if (!stmt->is_program && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be superuser or have privileges of the pg_read_server_files role to COPY from a file"),
					 errhint("Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.")));
	}

	nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	rte = nsitem->p_rte;
	rte->requiredPerms = ACL_INSERT;
	attnums = CopyGetAttnums(RelationGetDescr(rel), rel, stmt->attlist);
	foreach(lc, attnums)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	ExecCheckRTPerms(pstate->p_rtable, true);

	if (XactReadOnly && !rel->rd_islocaltemp)
		PreventCommandIfReadOnly("COPY FROM");
	return pstate->p_rtable;
}

bool
tally_copy_targets_hypertable(const CopyStmt *stmt)
{
	Oid			relid;
	int32		id;

	if (!stmt->is_from || stmt->relation == NULL)
		return false;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	return OidIsValid(relid) && OidIsValid(hypertable_time_type(relid, &id));
}

bool
tally_copy_from_hypertable(ParseState *pstate, const CopyStmt *stmt, uint64 *processed)
{
	Relation	rel;
	PartitionDirectory partdir;
	PartitionDesc partdesc;
	Oid			time_type = InvalidOid;
	HypertableCopy copy = {0};
	List	   *range_table;
	TriggerDesc *trigdesc;
	Oid			relid;

	if (!stmt->is_from || stmt->relation == NULL)
		return false;

	rel = table_openrv(stmt->relation, RowExclusiveLock);
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		/* DoCopy() takes the same lock again: keep it, it is the same one */
		table_close(rel, NoLock);
		return false;
	}
	/* one view of the partitions for the whole statement, as the executor's */
	partdir = CreatePartitionDirectory(CurrentMemoryContext, true);
	partdesc = PartitionDirectoryLookup(partdir, rel);
	if (!copy_routable(stmt, rel, partdesc, &time_type, &copy.hypertable_id))
	{
		DestroyPartitionDirectory(partdir);
		table_close(rel, NoLock);
		return false;
	}

	range_table = check_copy_permissions(pstate, stmt, rel);
	ereport(DEBUG1,
			(errmsg_internal("COPY into hypertable \"%s\" is routed by tally",
							 RelationGetRelationName(rel))));

	copy.cstate = BeginCopyFrom(pstate, rel, NULL, stmt->filename, stmt->is_program, NULL,
								stmt->attlist, stmt->options);
	copy.estate = CreateExecutorState();
	ExecInitRangeTable(copy.estate, range_table);
	copy.root = makeNode(ResultRelInfo);
	ExecInitResultRelation(copy.estate, copy.root, 1);
	CheckValidResultRel(copy.root, CMD_INSERT);
	copy.estate->es_output_cid = copy.mycid = GetCurrentCommandId(true);

	copy.partdesc = partdesc;
	copy.time_type = time_type;
	copy.time_attno = RelationGetPartitionKey(rel)->partattrs[0];
	copy.buffers = palloc0(sizeof(ChunkBuffer *) * Max(partdesc->nparts, 1));
	load_bounds(&copy);
	copy.bistate = GetBulkInsertState();
	/* a volatile default may read the table: then each row is inserted before the next is read */
	copy.max_tuples = copy.cstate->volatile_defexprs ? 1 : MAX_BUFFERED_TUPLES;
	copy.make_chunks = may_make_chunks(copy.root);
	copy.pending_cxt = CurrentMemoryContext;

	AfterTriggerBeginQuery();
	trigdesc = copy.root->ri_TrigDesc;
	copy.transition_capture = MakeTransitionCaptureState(trigdesc, RelationGetRelid(rel), CMD_INSERT);
	ExecBSInsertTriggers(copy.estate, copy.root);
	*processed = copy_rows(&copy);
	ExecASInsertTriggers(copy.estate, copy.root, copy.transition_capture);
	AfterTriggerEndQuery(copy.estate);

	FreeBulkInsertState(copy.bistate);
	close_buffers(&copy);
	ExecResetTupleTable(copy.estate->es_tupleTable, false);
	ExecCloseResultRelations(copy.estate);
	ExecCloseRangeTableRelations(copy.estate);
	FreeExecutorState(copy.estate);
	EndCopyFrom(copy.cstate);
	DestroyPartitionDirectory(partdir);
	relid = RelationGetRelid(rel);
	table_close(rel, NoLock);
	if (copy.pending != NIL)
	{
		int			attached = attach_pending(relid, copy.hypertable_id, copy.pending);

		ereport(DEBUG1,
				(errmsg_internal("COPY made %d chunks, %d attached", list_length(copy.pending),
								 attached)));
	}
	return true;
}
