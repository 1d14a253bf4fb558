/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  Tally's ProcessUtility hook: the one place where utility statements
 *	  are seen, each handed to the module that cares about it.
 *
 * Some statements tally runs itself instead of PostgreSQL: a COPY into a
 * hypertable, CREATE, DROP and ALTER of a continuous aggregate.  The hooks
 * of libraries loaded before tally (pg_stat_statements, pgaudit) must still
 * see them: they time, count and log what they wrap, and PostgreSQL offers
 * no hook below theirs.  So tally hands them, in the statement's place, a
 * CALL of _tally_internal.run_utility() that carries the statement's text,
 * position and query id; when that CALL reaches standard_ProcessUtility,
 * run_utility() runs the statement as tally runs it.  Without an earlier
 * hook, tally runs the statement directly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "catalog/pg_proc.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
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

/* Runs pstmt if tally runs it itself; false when PostgreSQL should run it. */
static bool
run_own(PlannedStmt *pstmt, const char *queryString, QueryEnvironment *queryEnv,
		QueryCompletion *qc)
{
	if (IsA(pstmt->utilityStmt, CopyStmt) && copy_into_hypertable(pstmt, queryString, queryEnv, qc))
		return true;
	return tally_cagg_utility(pstmt, queryString, qc);
}

/* -- handing a statement to the earlier hooks -------------------------------- */

/* A statement handed over, until run_utility() takes it. */
typedef struct HeldStatement
{
	PlannedStmt *pstmt;
	const char *queryString;
	bool		readOnlyTree;
	ProcessUtilityContext context;
	ParamListInfo params;
	QueryEnvironment *queryEnv;
	DestReceiver *dest;
	QueryCompletion *qc;
	bool		taken;
} HeldStatement;

static HeldStatement *held = NULL;

PG_FUNCTION_INFO_V1(tally_run_utility);

/*
 * CALL _tally_internal.run_utility(): runs the statement held for it, and
 * refuses to run in any other case.
 */
Datum
tally_run_utility(PG_FUNCTION_ARGS)
{
	HeldStatement *statement = held;

	if (statement == NULL || statement->taken)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run_utility() runs only the statements tally hands to it")));
	statement->taken = true;
	held = NULL;
	if (!run_own(statement->pstmt, statement->queryString, statement->queryEnv, statement->qc))
		standard_ProcessUtility(statement->pstmt, statement->queryString, statement->readOnlyTree,
								statement->context, statement->params, statement->queryEnv,
								statement->dest, statement->qc);
	PG_RETURN_VOID();
}

/* Whether tally runs this statement itself (it may still decline then). */
static bool
runs_itself(Node *parsetree)
{
	if (IsA(parsetree, CopyStmt))
		return tally_copy_targets_hypertable((CopyStmt *) parsetree);
	return tally_cagg_statement(parsetree);
}

/* The procedure that runs a held statement, or InvalidOid (an older catalog). */
static Oid
run_utility_procedure(void)
{
	Oid			namespace = get_namespace_oid("_tally_internal", true);

	if (!OidIsValid(namespace))
		return InvalidOid;
	return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("run_utility"),
						   PointerGetDatum(buildoidvector(NULL, 0)), ObjectIdGetDatum(namespace));
}

/*
 * Passes pstmt to the earlier hooks as a CALL of run_utility(), which runs
 * it; returns false, having done nothing, when this database has no
 * run_utility().
 */
static bool
hand_over(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
		  ProcessUtilityContext context, ParamListInfo params,
		  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Oid			procedure = run_utility_procedure();
	HeldStatement statement = {pstmt, queryString, readOnlyTree, context, params, queryEnv,
	dest, qc, false};
	PlannedStmt *wrapper;
	CallStmt   *call;

	if (!OidIsValid(procedure))
		return false;
	call = makeNode(CallStmt);
	call->funccall = makeFuncCall(list_make2(makeString("_tally_internal"), makeString("run_utility")),
								  NIL, COERCE_EXPLICIT_CALL, -1);
	call->funcexpr = makeFuncExpr(procedure, VOIDOID, NIL, InvalidOid, InvalidOid,
								  COERCE_EXPLICIT_CALL);
	/* the statement's text, position and query id, for what the hooks record */
	wrapper = makeNode(PlannedStmt);
	memcpy(wrapper, pstmt, sizeof(PlannedStmt));
	wrapper->utilityStmt = (Node *) call;

	held = &statement;
	PG_TRY();
	{
		prev_process_utility_hook(wrapper, queryString, readOnlyTree, context, params,
								  queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		held = NULL;
	}
	PG_END_TRY();
	if (!statement.taken)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a ProcessUtility hook did not run the statement tally handed to it")));
	return true;
}

static void
tally_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	List	   *renamed_caggs;

	if (prev_process_utility_hook != NULL && held == NULL && runs_itself(parsetree) &&
		hand_over(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc))
		return;
	if (run_own(pstmt, queryString, queryEnv, qc))
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
