/*-------------------------------------------------------------------------
 *
 * stray_rows.c
 *	  TRUNCATE of a hypertable whose default partition holds rows waiting
 *	  for their chunk.
 *
 * Such rows are moved by a deferred constraint trigger at commit.  While
 * its events are pending, PostgreSQL refuses to truncate the default
 * partition ("pending trigger events"), so a transaction that wrote a row
 * without a chunk and then truncates the hypertable would fail.  Before
 * such a TRUNCATE, the pending moves run now (SET CONSTRAINTS ... IMMEDIATE),
 * and the trigger is deferred again for the rest of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"

#include "hypertable/stray_rows.h"

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
