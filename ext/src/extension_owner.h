/*-------------------------------------------------------------------------
 *
 * extension_owner.h
 *	  The role the extension's own objects belong to.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_EXTENSION_OWNER_H
#define TALLY_EXTENSION_OWNER_H

#include "postgres.h"

/*
 * The owner of schema _tally_internal, which the extension's script made:
 * who creates chunks and the objects of continuous aggregates, and writes
 * the catalog.
 */
extern Oid	tally_extension_owner(void);

/*
 * Connects to SPI and runs sql, a SELECT of one row, as the extension's
 * owner under search_path = pg_catalog, pg_temp: for the catalog work the
 * extension does on a user's behalf, through functions not granted to
 * PUBLIC.  The caller reads SPI_tuptable, then calls SPI_finish().
 */
extern void tally_select_as_extension_owner(const char *sql, int nargs, Oid *types, Datum *values);

#endif							/* TALLY_EXTENSION_OWNER_H */
