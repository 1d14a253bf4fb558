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

#endif							/* TALLY_EXTENSION_OWNER_H */
