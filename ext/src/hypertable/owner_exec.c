/*-------------------------------------------------------------------------
 *
 * owner_exec.c
 *	  Run a statement on a user's table as that table's owner.
 *
 * Chunk management runs in SECURITY DEFINER functions, as the extension's
 * owner, because it writes the catalog and creates chunks.  When it moves
 * rows (out of the default partition into a new chunk, or from a table
 * being converted), PostgreSQL evaluates the table's own code: CHECK
 * constraints, generated columns, triggers.  That code belongs to the
 * table's owner and must never run with more rights than theirs, so the
 * statement runs as the owner under SECURITY_RESTRICTED_OPERATION, as
 * PostgreSQL itself does for VACUUM and index builds.  Moving a row is not
 * a new insert or a delete, so ordinary triggers are off while it runs
 * (session_replication_role = replica); the row fired its triggers when it
 * was first written.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"

PG_FUNCTION_INFO_V1(tally_execute_as_owner);

/*
 * _tally_internal.execute_as_owner(relation regclass, command text)
 *	  returns bigint
 *
 * Runs command (built by the caller from quoted identifiers) as the owner
 * of relation and returns the number of rows it processed.
 */
Datum
tally_execute_as_owner(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *command = text_to_cstring(PG_GETARG_TEXT_PP(1));
	HeapTuple	tuple;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int			ret;
	uint64		processed;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	/* the GUC change is undone below, also on error, with the transaction */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("session_replication_role", "replica", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute(command, false, 0);
	if (ret < 0)
		elog(ERROR, "execute_as_owner: \"%s\" failed: %s", command,
			 SPI_result_code_string(ret));
	processed = SPI_processed;
	SPI_finish();

	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(true, save_nestlevel);

	PG_RETURN_INT64((int64) processed);
}
