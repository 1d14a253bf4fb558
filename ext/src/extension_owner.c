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
#include "utils/syscache.h"

#include "extension_owner.h"

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
