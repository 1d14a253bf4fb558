/*-------------------------------------------------------------------------
 *
 * define.c
 *	  Checks the defining query of a continuous aggregate and takes it
 *	  apart: the tables it reads (inner-joined), its conditions, the GROUP
 *	  BY expressions (one of them a time bucket) and the aggregates, each
 *	  deparsed with the n-th table of the range table as alias r<n>, so
 *	  that the same text can read a table or a transition table of it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "nodes/nodeFuncs.h"
#include "nodes/makefuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "cagg/definition.h"

static void
unsupported(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("continuous aggregates do not support %s", what)));
}

/*
 * The SQL name of a type without modifier: bpchar and "bit", not character
 * and bit, which mean character(1) and bit(1).
 */
static char *
type_without_modifier(Oid type)
{
	return format_type_with_typemod(type, -1);
}

static char *
deparse(CaggDefinition *def, Node *node)
{
	return deparse_expression(node, def->dpcontext, true, false);
}

char *
cagg_from_clause(CaggDefinition *def, Oid replaced, const char *transition)
{
	StringInfoData buf;
	int			n = 0;

	initStringInfo(&buf);
	for (int i = 0; i < def->nrtes; i++)
	{
		Oid			relid = def->rte_relid[i];

		if (!OidIsValid(relid))
			continue;
		appendStringInfo(&buf, "%s%s r%d", buf.len ? ", " : "",
						 relid == replaced ? quote_identifier(transition) :
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													get_rel_name(relid)),
						 ++n);
	}
	return buf.data;
}

/*
 * Collects the tables and the join conditions of a FROM item: inner joins
 * only, so that every condition can go to the WHERE clause.
 */
static void
collect_from(CaggDefinition *def, Node *item, List **quals)
{
	if (IsA(item, RangeTblRef))
	{
		int			rtindex = ((RangeTblRef *) item)->rtindex;
		RangeTblEntry *rte = rt_fetch(rtindex, def->query->rtable);

		if (rte->rtekind != RTE_RELATION ||
			(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_PARTITIONED_TABLE))
			unsupported("sources other than tables and hypertables (views, subqueries, functions)");
		if (!rte->inh)
			unsupported("FROM ONLY");
		if (rte->tablesample != NULL)
			unsupported("TABLESAMPLE");
		if (get_rel_persistence(rte->relid) == RELPERSISTENCE_TEMP)
			unsupported("temporary tables");
		if (list_member_oid(def->sources, rte->relid))
			unsupported("a table joined with itself");
		def->rte_relid[rtindex - 1] = rte->relid;
		def->sources = lappend_oid(def->sources, rte->relid);
	}
	else if (IsA(item, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) item;

		if (join->jointype != JOIN_INNER)
			unsupported("outer joins");
		collect_from(def, join->larg, quals);
		collect_from(def, join->rarg, quals);
		if (join->quals != NULL)
			*quals = lappend(*quals, join->quals);
	}
	else
		unsupported("this FROM clause");
}

static bool
is_exact_type(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return true;
		default:
			return false;
	}
}

static CaggAggKind
classify(Aggref *aggref)
{
	char	   *name;
	Oid			argtype = InvalidOid;

	if (aggref->aggdistinct != NIL || aggref->aggorder != NIL ||
		aggref->aggkind != AGGKIND_NORMAL || aggref->aggdirectargs != NIL ||
		get_func_namespace(aggref->aggfnoid) != PG_CATALOG_NAMESPACE)
		return CAGG_OTHER;
	name = get_func_name(aggref->aggfnoid);
	if (list_length(aggref->args) == 1)
		argtype = exprType((Node *) linitial_node(TargetEntry, aggref->args)->expr);
	if (strcmp(name, "count") == 0)
		return aggref->aggstar ? CAGG_COUNT_STAR : CAGG_COUNT;
	/*
	 * Floating-point sums cannot be taken back exactly (1 + 1e17 - 1e17 is
	 * 0): those of float4 and float8 are recomputed.
	 */
	if (strcmp(name, "sum") == 0 && is_exact_type(argtype))
		return CAGG_SUM;
	if (strcmp(name, "avg") == 0 && is_exact_type(argtype))
		return CAGG_AVG;
	/*
	 * numeric arithmetic on the sums reproduces these exactly when every
	 * input has the same scale (integers, numeric(p, s)); float8's
	 * accumulation it would not
	 */
	if ((strcmp(name, "stddev") == 0 || strcmp(name, "stddev_samp") == 0 ||
		 strcmp(name, "stddev_pop") == 0 || strcmp(name, "variance") == 0 ||
		 strcmp(name, "var_samp") == 0 || strcmp(name, "var_pop") == 0) &&
		(argtype == INT2OID || argtype == INT4OID || argtype == INT8OID ||
		 (argtype == NUMERICOID &&
		  exprTypmod((Node *) linitial_node(TargetEntry, aggref->args)->expr) >= 0)))
		return CAGG_VARIANCE;
	if (strcmp(name, "min") == 0 && OidIsValid(argtype))
		return CAGG_MIN;
	if (strcmp(name, "max") == 0 && OidIsValid(argtype))
		return CAGG_MAX;
	return CAGG_OTHER;
}

static bool
collect_aggrefs_walker(Node *node, List **aggrefs)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref))
	{
		*aggrefs = lappend(*aggrefs, node);
		return false;			/* PostgreSQL refuses nested aggregates */
	}
	return expression_tree_walker(node, collect_aggrefs_walker, aggrefs);
}

static CaggAggregate *
describe_aggregate(CaggDefinition *def, Aggref *aggref)
{
	CaggAggregate *agg = palloc0(sizeof(CaggAggregate));
	Node	   *arg = NULL;
	Oid			argtype = InvalidOid;

	agg->aggref = aggref;
	agg->kind = classify(aggref);
	agg->whole_sql = deparse(def, (Node *) aggref);
	agg->result_type = type_without_modifier(aggref->aggtype);
	agg->filter_sql = aggref->aggfilter ?
		psprintf(" FILTER (WHERE %s)", deparse(def, (Node *) aggref->aggfilter)) : "";
	if (list_length(aggref->args) == 1)
	{
		arg = (Node *) linitial_node(TargetEntry, aggref->args)->expr;
		argtype = exprType(arg);
		agg->arg_sql = deparse(def, arg);
	}
	/* NaN and infinity cannot be subtracted out of a numeric sum */
	agg->may_be_nonfinite = argtype == NUMERICOID &&
		(agg->kind == CAGG_SUM || agg->kind == CAGG_AVG || agg->kind == CAGG_VARIANCE);
	switch (agg->kind)
	{
		case CAGG_SUM:
			agg->state_type = agg->result_type;
			agg->sum_arg_sql = agg->arg_sql;
			break;
		case CAGG_AVG:
			/* what avg() itself accumulates */
			if (argtype == FLOAT4OID || argtype == FLOAT8OID)
			{
				agg->state_type = "double precision";
				agg->sum_arg_sql = psprintf("(%s)::double precision", agg->arg_sql);
			}
			else
			{
				agg->state_type = (argtype == INT2OID || argtype == INT4OID) ? "bigint" : "numeric";
				agg->sum_arg_sql = agg->arg_sql;
			}
			break;
		case CAGG_VARIANCE:
			{
				char	   *name = get_func_name(aggref->aggfnoid);

				agg->state_type = "numeric";
				agg->sum_arg_sql = psprintf("(%s)::numeric", agg->arg_sql);
				agg->population = strcmp(name, "stddev_pop") == 0 || strcmp(name, "var_pop") == 0;
				agg->root = strncmp(name, "stddev", 6) == 0;
			}
			break;
		case CAGG_MIN:
		case CAGG_MAX:
			/*
			 * what min() and max() return: their argument's type without its
			 * modifier (numeric, not numeric(10,2)), as a plain view has it;
			 * the pending function's rows must match the column exactly
			 */
			agg->state_type = type_without_modifier(aggref->aggtype);
			break;
		case CAGG_OTHER:
			agg->state_type = agg->result_type;
			break;
		default:
			break;
	}
	return agg;
}

/* The time bucket's function: time_bucket of this extension, or date_trunc. */
static bool
is_bucket_function(Oid funcid, bool *is_time_bucket)
{
	char	   *name = get_func_name(funcid);
	Oid			ns = get_func_namespace(funcid);
	Oid			extension = get_extension_oid("tally", true);

	if (name == NULL)
		return false;
	*is_time_bucket = strcmp(name, "time_bucket") == 0 && OidIsValid(extension) &&
		getExtensionOfObject(ProcedureRelationId, funcid) == extension;
	return *is_time_bucket || (strcmp(name, "date_trunc") == 0 && ns == PG_CATALOG_NAMESPACE);
}

/* interval text that takes a date_trunc() bucket to the next one */
static char *
date_trunc_width(Node *unit)
{
	char	   *u;

	if (!IsA(unit, Const) || ((Const *) unit)->constisnull)
		unsupported("a date_trunc() whose unit is not a constant");
	u = TextDatumGetCString(((Const *) unit)->constvalue);
	if (pg_strcasecmp(u, "quarter") == 0)
		return "interval '3 months'";
	if (pg_strcasecmp(u, "decade") == 0)
		return "interval '10 years'";
	if (pg_strcasecmp(u, "century") == 0)
		return "interval '100 years'";
	if (pg_strcasecmp(u, "millennium") == 0)
		return "interval '1000 years'";
	return psprintf("interval %s", quote_literal_cstr(psprintf("1 %s", u)));
}

/*
 * Whether expr, a GROUP BY expression, is the time bucket: time_bucket()
 * or date_trunc() of a column of the source.  Fills in the bucket fields.
 */
static bool
take_bucket(CaggDefinition *def, Node *expr)
{
	FuncExpr   *func;
	bool		is_time_bucket;
	Node	   *time_arg;
	Var		   *var;

	if (!IsA(expr, FuncExpr))
		return false;
	func = (FuncExpr *) expr;
	if (!is_bucket_function(func->funcid, &is_time_bucket) || list_length(func->args) < 2)
		return false;
	time_arg = lsecond(func->args);
	/* date_trunc(unit, date) reads the date through a cast */
	if (IsA(time_arg, FuncExpr) && ((FuncExpr *) time_arg)->funcformat != COERCE_EXPLICIT_CALL &&
		list_length(((FuncExpr *) time_arg)->args) == 1)
		time_arg = linitial(((FuncExpr *) time_arg)->args);
	if (IsA(time_arg, RelabelType))
		time_arg = (Node *) ((RelabelType *) time_arg)->arg;
	if (!IsA(time_arg, Var))
		return false;
	var = (Var *) time_arg;

	def->time_column_sql = deparse(def, (Node *) var);
	def->time_type = var->vartype;
	def->time_not_null = false;
	def->source = def->rte_relid[var->varno - 1];
	{
		HeapTuple	tuple = SearchSysCacheAttNum(def->source, var->varattno);

		if (HeapTupleIsValid(tuple))
		{
			def->time_not_null = ((Form_pg_attribute) GETSTRUCT(tuple))->attnotnull;
			ReleaseSysCache(tuple);
		}
	}
	def->bucket_type = type_without_modifier(func->funcresulttype);
	if (is_time_bucket)
	{
		def->bucket_width_sql = deparse(def, linitial(func->args));
		def->width_is_interval = exprType(linitial(func->args)) == INTERVALOID;
	}
	else
	{
		def->bucket_width_sql = date_trunc_width(linitial(func->args));
		def->width_is_interval = true;
	}
	return true;
}

/*
 * date_trunc() of a timestamptz depends on the session's time zone, so it
 * is only stable.  As a time bucket it is taken in the zone of the session
 * that creates the aggregate: date_trunc(unit, t) becomes date_trunc(unit,
 * t, '<that zone>'), whose result depends on its arguments alone.
 */
static Node *
fix_date_trunc_zone(Node *expr)
{
	FuncExpr   *func;
	FuncExpr   *fixed;
	const char *zone;

	if (!IsA(expr, FuncExpr) || ((FuncExpr *) expr)->funcid != F_DATE_TRUNC_TEXT_TIMESTAMPTZ)
		return expr;
	func = (FuncExpr *) expr;
	zone = pg_get_timezone_name(session_timezone);
	{
		/* date_trunc() reads a zone that is also an abbreviation (CET) as the fixed offset */
		char	   *lower = pstrdup(zone);
		int			offset;
		pg_tz	   *tz;

		for (char *c = lower; *c; c++)
			*c = pg_tolower((unsigned char) *c);
		if (DecodeTimezoneAbbrev(0, lower, &offset, &tz) != UNKNOWN_FIELD)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("date_trunc() buckets in the session's time zone, \"%s\", which is also the name of a fixed-offset abbreviation", zone),
					 errhint("SET timezone to a full name such as 'Europe/Paris' before creating the continuous aggregate, or use time_bucket().")));
	}
	fixed = makeFuncExpr(F_DATE_TRUNC_TEXT_TIMESTAMPTZ_TEXT, TIMESTAMPTZOID,
						 lappend(list_copy(func->args),
								 makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
										   CStringGetTextDatum(zone), false, false)),
						 InvalidOid, func->inputcollid, COERCE_EXPLICIT_CALL);
	fixed->location = func->location;
	return (Node *) fixed;
}

static bool
is_date_trunc_with_zone(Node *expr)
{
	return IsA(expr, FuncExpr) && ((FuncExpr *) expr)->funcid == F_DATE_TRUNC_TEXT_TIMESTAMPTZ_TEXT &&
		IsA(lthird(((FuncExpr *) expr)->args), Const);
}

static void
check_immutable(Node *node, const char *where)
{
	if (contain_mutable_functions(node))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("only immutable functions are supported in the %s of a continuous aggregate", where),
				 errhint("A value such as now() changes over time, so the stored result would be wrong later.")));
}

CaggDefinition *
cagg_define(Query *query)
{
	CaggDefinition *def = palloc0(sizeof(CaggDefinition));
	ListCell   *lc;
	List	   *aggrefs = NIL;
	int			i;

	def->query = query = copyObject(query);
	def->bucket = -1;

	if (query->commandType != CMD_SELECT)
		unsupported("statements other than SELECT");
	if (query->cteList != NIL)
		unsupported("WITH");
	if (query->setOperations != NULL)
		unsupported("UNION, INTERSECT or EXCEPT");
	if (query->hasWindowFuncs)
		unsupported("window functions");
	if (query->hasSubLinks)
		unsupported("subqueries");
	if (query->hasTargetSRFs)
		unsupported("set-returning functions");
	if (query->distinctClause != NIL)
		unsupported("SELECT DISTINCT");
	if (query->limitCount != NULL || query->limitOffset != NULL)
		unsupported("LIMIT or OFFSET");
	if (query->rowMarks != NIL)
		unsupported("FOR UPDATE or FOR SHARE");
	if (query->groupingSets != NIL)
		unsupported("GROUPING SETS, ROLLUP or CUBE");
	if (query->groupClause == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous aggregate needs a GROUP BY with a time bucket"),
				 errhint("Group by time_bucket(width, time_column) or date_trunc(unit, time_column).")));

	/* the tables, inner-joined, and all conditions as one WHERE clause */
	def->nrtes = list_length(query->rtable);
	def->rte_relid = palloc0(sizeof(Oid) * def->nrtes);
	{
		List	   *quals = NIL;
		PlannedStmt *names = makeNode(PlannedStmt);
		List	   *rtable_names = NIL;

		foreach(lc, query->jointree->fromlist)
			collect_from(def, lfirst(lc), &quals);
		if (query->jointree->quals != NULL)
			quals = lappend(quals, query->jointree->quals);
		/* columns of a JOIN ... USING are columns of its tables */
		query->targetList = (List *) flatten_join_alias_vars(query, (Node *) query->targetList);
		query->havingQual = flatten_join_alias_vars(query, query->havingQual);
		if (quals != NIL)
		{
			Node	   *where = flatten_join_alias_vars(query, (Node *) make_ands_explicit(quals));

			check_immutable(where, "WHERE clause");
			def->where_quals = where;
		}
		/*
		 * tables are r1, r2 ... in range table order; a view's query also
		 * has the view itself in its range table, twice (OLD and NEW)
		 */
		for (int rt = 1, n = 0; rt <= def->nrtes; rt++)
			rtable_names = lappend(rtable_names, OidIsValid(def->rte_relid[rt - 1]) ?
								   psprintf("r%d", ++n) : NULL);
		names->rtable = query->rtable;
		def->dpcontext = deparse_context_for_plan_tree(names, rtable_names);
		if (def->where_quals != NULL)
			def->where_sql = deparse(def, def->where_quals);
	}

	/* the groups */
	def->ngroups = list_length(query->groupClause);
	def->group_sql = palloc(sizeof(char *) * def->ngroups);
	def->group_type = palloc(sizeof(char *) * def->ngroups);
	def->group_typed_sql = palloc(sizeof(char *) * def->ngroups);
	i = 0;
	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, query->targetList);
		Node	   *expr;

		tle->expr = (Expr *) fix_date_trunc_zone((Node *) tle->expr);
		expr = (Node *) tle->expr;
		if (is_date_trunc_with_zone(expr))
			check_immutable((Node *) ((FuncExpr *) expr)->args, "GROUP BY");
		else
			check_immutable(expr, "GROUP BY");
		def->group_exprs = lappend(def->group_exprs, expr);
		def->group_sql[i] = deparse(def, expr);
		def->group_type[i] = format_type_with_typemod(exprType(expr), exprTypmod(expr));
		/* a no-op cast, that states the modifier the column has */
		def->group_typed_sql[i] = exprTypmod(expr) >= 0 ?
			psprintf("(%s)::%s", def->group_sql[i], def->group_type[i]) : def->group_sql[i];
		if (take_bucket(def, expr))
		{
			if (def->bucket >= 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("a continuous aggregate groups by one time bucket, not two")));
			def->bucket = i;
		}
		i++;
	}
	if (def->bucket < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous aggregate needs a GROUP BY with a time bucket"),
				 errhint("Group by time_bucket(width, time_column) or date_trunc(unit, time_column).")));

	/* the aggregates, in the select list and in HAVING */
	collect_aggrefs_walker((Node *) query->targetList, &aggrefs);
	collect_aggrefs_walker(query->havingQual, &aggrefs);
	if (aggrefs == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous aggregate needs at least one aggregate")));
	def->delta_mode = true;
	foreach(lc, aggrefs)
	{
		CaggAggregate *agg = describe_aggregate(def, lfirst_node(Aggref, lc));

		check_immutable((Node *) agg->aggref, "aggregates");
		def->aggregates = lappend(def->aggregates, agg);
		if (agg->kind == CAGG_OTHER)
			def->delta_mode = false;
		if (agg->kind == CAGG_MIN || agg->kind == CAGG_MAX)
			def->has_min_max = true;
	}
	return def;
}
