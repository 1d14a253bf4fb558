/*-------------------------------------------------------------------------
 *
 * copy.h
 *	  COPY FROM into a hypertable, routed by tally (see copy.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_HYPERTABLE_COPY_H
#define TALLY_HYPERTABLE_COPY_H

#include "nodes/parsenodes.h"
#include "parser/parse_node.h"

/*
 * Runs stmt if it is a COPY FROM into a hypertable that tally can route, and
 * returns true with the number of rows in *processed.  Returns false, having
 * done nothing, for every other statement: PostgreSQL runs it as usual.
 */
extern bool tally_copy_from_hypertable(ParseState *pstate, const CopyStmt *stmt,
									   uint64 *processed);

/* Whether stmt is a COPY FROM into a hypertable (which tally may then run). */
extern bool tally_copy_targets_hypertable(const CopyStmt *stmt);

#endif							/* TALLY_HYPERTABLE_COPY_H */
