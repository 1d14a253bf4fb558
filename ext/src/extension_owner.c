/*-------------------------------------------------------------------------
 *
 * extension_owner.c
 *	  The role the extension's own objects belong to (extension_owner.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/syscache.h"

#include "extension_owner.h"
#include "search_path.h"

Oid
tally_extension_owner(void)
{
	Oid			ns = get_namespace_oid("_tally_internal", false);
	HeapTuple	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(ns));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for schema %u", ns);
	owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);
	return owner;
}

void
tally_select_as_extension_owner(const char *sql, int nargs, Oid *types, Datum *values)
{
	Oid			save_userid;
	int			save_sec_context;
	int			nest_level;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = tally_pin_search_path();
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(tally_extension_owner(), save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "\"%s\" failed", sql);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	tally_restore_search_path(nest_level);
}
