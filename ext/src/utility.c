/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  Tally's ProcessUtility hook: the one place where utility statements
 *	  are seen, each handed to the module that cares about it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "parser/parse_node.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"

#include "cagg/cagg.h"
#include "hypertable/copy.h"
#include "hypertable/stray_rows.h"
#include "scheduler/scheduler.h"
#include "utility.h"

static ProcessUtility_hook_type prev_process_utility_hook = NULL;

/* COPY FROM into a hypertable, run by tally; false when PostgreSQL should run it. */
static bool
copy_into_hypertable(PlannedStmt *pstmt, const char *queryString, QueryEnvironment *queryEnv,
					 QueryCompletion *qc)
{
	CopyStmt   *stmt = (CopyStmt *) pstmt->utilityStmt;
	ParseState *pstate;
	uint64		processed = 0;
	bool		done;

	if (!stmt->is_from || stmt->relation == NULL)
		return false;
	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = queryString;
	pstate->p_queryEnv = queryEnv;
	done = tally_copy_from_hypertable(pstate, stmt, &processed);
	free_parsestate(pstate);
	if (done && qc != NULL)
		SetQueryCompletion(qc, CMDTAG_COPY, processed);
	return done;
}

static void
tally_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	List	   *renamed_caggs;

	if (IsA(parsetree, CopyStmt) && copy_into_hypertable(pstmt, queryString, queryEnv, qc))
		return;
	if (tally_cagg_utility(pstmt, queryString, qc))
		return;
	renamed_caggs = tally_cagg_before_rename(parsetree);

	if (IsA(parsetree, TruncateStmt))
		tally_hypertable_before_truncate((TruncateStmt *) parsetree);
	tally_scheduler_before_utility(parsetree);
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params,
								  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
	tally_cagg_after_rename(renamed_caggs);
	tally_scheduler_after_utility(parsetree);
}

void
tally_utility_init(void)
{
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = tally_process_utility;
}
