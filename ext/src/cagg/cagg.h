/*-------------------------------------------------------------------------
 *
 * cagg.h
 *	  Continuous aggregates: materialized views kept current by deltas.
 *	  See README.md beside this file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_CAGG_H
#define TALLY_CAGG_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"

/*
 * Handles CREATE MATERIALIZED VIEW ... WITH (tally.continuous), and DROP and
 * ALTER ... SET of continuous aggregates.  Returns false, having done
 * nothing, for every other statement.
 */
extern bool tally_cagg_utility(PlannedStmt *pstmt, const char *query_string,
							   QueryCompletion *qc);

#endif							/* TALLY_CAGG_H */
