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

/* Whether tally_cagg_utility() would run this statement itself. */
extern bool tally_cagg_statement(Node *parsetree);

/*
 * Before a RenameStmt or AlterObjectSchemaStmt runs: the identifiers of the
 * continuous aggregates whose SQL names what it renames or moves (refusing
 * it for those made before 0.4.0).  After it has run, given them,
 * tally_cagg_after_rename() writes their SQL again with the new names.
 */
extern List *tally_cagg_before_rename(Node *parsetree);
extern void tally_cagg_after_rename(List *cagg_ids);

#endif							/* TALLY_CAGG_H */
