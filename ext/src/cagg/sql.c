/*-------------------------------------------------------------------------
 *
 * sql.c
 *	  The SQL that keeps a continuous aggregate: its tables, the capture of
 *	  changes from transition tables, the refresh, and the view that reads
 *	  it.  See README.md beside this file for the design.
 *
 * Every group is a row of the materialization (g0..gN, its states, _rows =
 * the source rows it has).  A statement on the source appends either a
 * delta (the states of its new rows, and of its old rows negated) or the
 * groups it touched to the invalidation table.  A group in the invalidation
 * table is recomputed from the source; any other group is its materialized
 * states combined with its deltas.  Both reads and refreshes use that rule,
 * so the view is exact before and after a refresh.
 *
 * Also here: _tally_internal.cagg_stddev(), which that SQL calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "lib/stringinfo.h"
#include "storage/lockdefs.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/ruleutils.h"

#include "cagg/definition.h"

PG_FUNCTION_INFO_V1(tally_cagg_stddev);

#define FOREACH_AGG(def, i, agg) \
	for (int i = 0; i < list_length((def)->aggregates) && \
		 ((agg) = list_nth((def)->aggregates, i)) != NULL; i++)

/* "g0, g1, ..." */
static void
append_groups(StringInfo buf, CaggDefinition *def)
{
	for (int j = 0; j < def->ngroups; j++)
		appendStringInfo(buf, "%sg%d", j > 0 ? ", " : "", j);
}

/* the state columns of the aggregates, with a prefix, and optionally negated */
static void
append_states(StringInfo buf, CaggDefinition *def, const char *prefix, bool negate)
{
	CaggAggregate *agg;
	const char *minus = negate ? "-" : "";

	FOREACH_AGG(def, i, agg)
	{
		switch (agg->kind)
		{
			case CAGG_COUNT_STAR:
			case CAGG_COUNT:
				appendStringInfo(buf, ", %s%sc%d", minus, prefix, i);
				break;
			case CAGG_SUM:
			case CAGG_AVG:
				appendStringInfo(buf, ", %s%ss%d, %s%sn%d", minus, prefix, i, minus, prefix, i);
				break;
			case CAGG_VARIANCE:
				appendStringInfo(buf, ", %s%ss%d, %s%sq%d, %s%sn%d", minus, prefix, i, minus, prefix, i,
								 minus, prefix, i);
				break;
			case CAGG_MIN:
			case CAGG_MAX:
				appendStringInfo(buf, ", %sm%d", prefix, i);
				break;
			case CAGG_OTHER:
				appendStringInfo(buf, ", %sa%d", prefix, i);
				break;
		}
	}
}

/*
 * SELECT g..., states..., count(*) AS _rows FROM <from> [WHERE ...]
 * GROUP BY g...: the states of the rows of <from>, by group.
 */
static char *
partial_query(CaggDefinition *def, const char *from, const char *extra_where)
{
	StringInfoData buf;
	CaggAggregate *agg;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (int j = 0; j < def->ngroups; j++)
		appendStringInfo(&buf, "%s%s AS g%d", j > 0 ? ", " : "", def->group_typed_sql[j], j);
	FOREACH_AGG(def, i, agg)
	{
		switch (agg->kind)
		{
			case CAGG_COUNT_STAR:
				appendStringInfo(&buf, ", count(*)%s AS c%d", agg->filter_sql, i);
				break;
			case CAGG_COUNT:
				appendStringInfo(&buf, ", count(%s)%s AS c%d", agg->arg_sql, agg->filter_sql, i);
				break;
			case CAGG_SUM:
			case CAGG_AVG:
				appendStringInfo(&buf, ", sum(%s)%s::%s AS s%d, count(%s)%s AS n%d",
								 agg->sum_arg_sql, agg->filter_sql, agg->state_type, i,
								 agg->arg_sql, agg->filter_sql, i);
				break;
			case CAGG_VARIANCE:
				appendStringInfo(&buf, ", sum(%s)%s AS s%d, sum(%s * %s)%s AS q%d, count(%s)%s AS n%d",
								 agg->sum_arg_sql, agg->filter_sql, i,
								 agg->sum_arg_sql, agg->sum_arg_sql, agg->filter_sql, i,
								 agg->arg_sql, agg->filter_sql, i);
				break;
			case CAGG_MIN:
			case CAGG_MAX:
				appendStringInfo(&buf, ", %s(%s)%s AS m%d", agg->kind == CAGG_MIN ? "min" : "max",
								 agg->arg_sql, agg->filter_sql, i);
				break;
			case CAGG_OTHER:
				appendStringInfo(&buf, ", %s AS a%d", agg->whole_sql, i);
				break;
		}
	}
	appendStringInfo(&buf, ", count(*) AS _rows FROM %s", from);
	if (def->where_sql || extra_where)
		appendStringInfo(&buf, " WHERE %s%s%s",
						 def->where_sql ? psprintf("(%s)", def->where_sql) : "",
						 def->where_sql && extra_where ? " AND " : "",
						 extra_where ? extra_where : "");
	appendStringInfoString(&buf, " GROUP BY ");
	for (int j = 0; j < def->ngroups; j++)
		appendStringInfo(&buf, "%s%d", j > 0 ? ", " : "", j + 1);
	return buf.data;
}

/*
 * The groups of the rows of <from> (that also meet extra, if given):
 * SELECT g... FROM <from> ... GROUP BY g...
 */
static char *
group_query_where(CaggDefinition *def, const char *from, const char *extra)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (int j = 0; j < def->ngroups; j++)
		appendStringInfo(&buf, "%s%s", j > 0 ? ", " : "", def->group_sql[j]);
	appendStringInfo(&buf, " FROM %s", from);
	if (def->where_sql || extra)
		appendStringInfo(&buf, " WHERE %s%s%s",
						 def->where_sql ? psprintf("(%s)", def->where_sql) : "",
						 def->where_sql && extra ? " AND " : "", extra ? extra : "");
	appendStringInfoString(&buf, " GROUP BY ");
	for (int j = 0; j < def->ngroups; j++)
		appendStringInfo(&buf, "%s%d", j > 0 ? ", " : "", j + 1);
	return buf.data;
}

static char *
group_query(CaggDefinition *def, const char *from)
{
	return group_query_where(def, from, NULL);
}

/* a row whose numeric sum arguments include NaN or an infinity, or NULL if none can */
static char *
nonfinite_condition(CaggDefinition *def)
{
	StringInfoData buf;
	CaggAggregate *agg;

	initStringInfo(&buf);
	FOREACH_AGG(def, i, agg)
	{
		if (agg->may_be_nonfinite)
			appendStringInfo(&buf, "%s(%s) IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)",
							 buf.len ? " OR " : "", agg->arg_sql);
	}
	return buf.len ? psprintf("(%s)", buf.data) : NULL;
}

/* a.gj = b.gj for every group, NULLs equal; b's columns may be expressions */
static char *
group_match(CaggDefinition *def, const char *a, const char *b, bool b_is_source)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int j = 0; j < def->ngroups; j++)
	{
		char	   *right = b_is_source ? psprintf("(%s)", def->group_sql[j]) : psprintf("%s.g%d", b, j);
		bool		never_null = j == def->bucket && def->time_not_null;

		appendStringInfo(&buf, "%s%s.g%d %s %s", j > 0 ? " AND " : "", a, j,
						 never_null ? "=" : "IS NOT DISTINCT FROM", right);
	}
	return buf.data;
}

/* the refresh window $1..$2 on the bucket of alias a */
static char *
in_window(CaggDefinition *def, const char *a)
{
	return psprintf("($1::%s IS NULL OR %s.g%d >= $1::%s) AND ($2::%s IS NULL OR %s.g%d < $2::%s)",
					def->bucket_type, a, def->bucket, def->bucket_type,
					def->bucket_type, a, def->bucket, def->bucket_type);
}

/*
 * The rows of the source in the groups of the invalidation table (those in
 * window, or all): by the groups, and by a range of the time column that
 * lets chunks be pruned at run time.
 */
static char *
invalidated_rows(CaggDefinition *def, const char *inval, const char *window)
{
	const char *w = window ? psprintf(" WHERE %s", window) : "";
	const char *slack = def->width_is_interval ? " + interval '1 day'" : "";
	char	   *range = psprintf("%s >= (SELECT min(i.g%d) FROM %s i%s) AND "
								 "%s < (SELECT max(i.g%d) FROM %s i%s) + %s%s",
								 def->time_column_sql, def->bucket, inval, w,
								 def->time_column_sql, def->bucket, inval, w,
								 def->bucket_width_sql, slack);

	if (!def->time_not_null)
		range = psprintf("(%s IS NULL OR (%s))", def->time_column_sql, range);
	return psprintf("EXISTS (SELECT FROM %s i%s) AND %s AND EXISTS (SELECT FROM %s i WHERE %s%s%s)",
					inval, w, range, inval, window ? window : "", window ? " AND " : "",
					group_match(def, "i", "src", true));
}

/* the states of the rows of alias u combined: sum of counts and sums, min of mins */
static void
append_combined(StringInfo buf, CaggDefinition *def)
{
	CaggAggregate *agg;

	FOREACH_AGG(def, i, agg)
	{
		switch (agg->kind)
		{
			case CAGG_COUNT_STAR:
			case CAGG_COUNT:
				appendStringInfo(buf, ", sum(c%d)::bigint AS c%d", i, i);
				break;
			case CAGG_SUM:
			case CAGG_AVG:
				appendStringInfo(buf, ", sum(s%d)::%s AS s%d, sum(n%d)::bigint AS n%d",
								 i, agg->state_type, i, i, i);
				break;
			case CAGG_VARIANCE:
				appendStringInfo(buf, ", sum(s%d) AS s%d, sum(q%d) AS q%d, sum(n%d)::bigint AS n%d",
								 i, i, i, i, i, i);
				break;
			case CAGG_MIN:
			case CAGG_MAX:
				appendStringInfo(buf, ", %s(m%d) AS m%d", agg->kind == CAGG_MIN ? "min" : "max", i, i);
				break;
			case CAGG_OTHER:
				elog(ERROR, "aggregate %d of a continuous aggregate cannot be combined", i);
		}
	}
	appendStringInfoString(buf, ", sum(_rows)::bigint AS _rows");
}

/* g0 AS g0, ..., final value of each aggregate AS f<i>, from state columns */
static char *
finalized(CaggDefinition *def, const char *from)
{
	StringInfoData buf;
	CaggAggregate *agg;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	append_groups(&buf, def);
	FOREACH_AGG(def, i, agg)
	{
		switch (agg->kind)
		{
			case CAGG_COUNT_STAR:
			case CAGG_COUNT:
				appendStringInfo(&buf, ", c%d AS f%d", i, i);
				break;
			case CAGG_SUM:
				appendStringInfo(&buf, ", (CASE WHEN n%d > 0 THEN s%d END)::%s AS f%d",
								 i, i, agg->result_type, i);
				break;
			case CAGG_AVG:
				appendStringInfo(&buf, ", (CASE WHEN n%d > 0 THEN s%d::%s / n%d END)::%s AS f%d",
								 i, i, agg->result_type, i, agg->result_type, i);
				break;
			case CAGG_VARIANCE:
				{
					/*
					 * numeric_stddev_internal(): (n*q - s*s) / (n*(n-1)), or
					 * n*n for the population; 0 when rounding makes it <= 0;
					 * the root rounded once at the variance's scale
					 */
					char	   *variance = psprintf("(n%d * q%d - s%d * s%d) / (n%d::numeric * %s)",
													i, i, i, i, i,
													agg->population ? psprintf("n%d", i) :
													psprintf("(n%d - 1)", i));

					appendStringInfo(&buf, ", CASE WHEN n%d = 0 OR n%d IS NULL%s THEN NULL"
									 " WHEN n%d * q%d - s%d * s%d <= 0 THEN 0::numeric ELSE %s END AS f%d",
									 i, i, agg->population ? "" : psprintf(" OR n%d = 1", i),
									 i, i, i, i,
									 agg->root ? psprintf("_tally_internal.cagg_stddev(%s)", variance) :
									 variance, i);
				}
				break;
			case CAGG_MIN:
			case CAGG_MAX:
				appendStringInfo(&buf, ", m%d AS f%d", i, i);
				break;
			case CAGG_OTHER:
				appendStringInfo(&buf, ", a%d AS f%d", i, i);
				break;
		}
	}
	appendStringInfo(&buf, " FROM %s", from);
	return buf.data;
}

static void
append_state_columns(StringInfo buf, CaggDefinition *def)
{
	CaggAggregate *agg;

	for (int j = 0; j < def->ngroups; j++)
		appendStringInfo(buf, "%sg%d %s", j > 0 ? ", " : "", j, def->group_type[j]);
	FOREACH_AGG(def, i, agg)
	{
		switch (agg->kind)
		{
			case CAGG_COUNT_STAR:
			case CAGG_COUNT:
				appendStringInfo(buf, ", c%d bigint", i);
				break;
			case CAGG_SUM:
			case CAGG_AVG:
				appendStringInfo(buf, ", s%d %s, n%d bigint", i, agg->state_type, i);
				break;
			case CAGG_VARIANCE:
				appendStringInfo(buf, ", s%d numeric, q%d numeric, n%d bigint", i, i, i);
				break;
			case CAGG_MIN:
			case CAGG_MAX:
				appendStringInfo(buf, ", m%d %s", i, agg->state_type);
				break;
			case CAGG_OTHER:
				appendStringInfo(buf, ", a%d %s", i, agg->state_type);
				break;
		}
	}
	appendStringInfoString(buf, ", _rows bigint NOT NULL");
}

/* ON CONFLICT assignments merging EXCLUDED's states into the row's */
static char *
merge_assignments(CaggDefinition *def)
{
	StringInfoData buf;
	CaggAggregate *agg;

	initStringInfo(&buf);
	FOREACH_AGG(def, i, agg)
	{
		switch (agg->kind)
		{
			case CAGG_COUNT_STAR:
			case CAGG_COUNT:
				appendStringInfo(&buf, "c%d = m.c%d + EXCLUDED.c%d, ", i, i, i);
				break;
			case CAGG_SUM:
			case CAGG_AVG:
				appendStringInfo(&buf, "s%d = CASE WHEN m.s%d IS NULL THEN EXCLUDED.s%d "
								 "WHEN EXCLUDED.s%d IS NULL THEN m.s%d ELSE m.s%d + EXCLUDED.s%d END, "
								 "n%d = m.n%d + EXCLUDED.n%d, ", i, i, i, i, i, i, i, i, i, i);
				break;
			case CAGG_VARIANCE:
				appendStringInfo(&buf, "s%d = coalesce(m.s%d, 0) + coalesce(EXCLUDED.s%d, 0), "
								 "q%d = coalesce(m.q%d, 0) + coalesce(EXCLUDED.q%d, 0), "
								 "n%d = m.n%d + EXCLUDED.n%d, ", i, i, i, i, i, i, i, i, i);
				break;
			case CAGG_MIN:
				appendStringInfo(&buf, "m%d = least(m.m%d, EXCLUDED.m%d), ", i, i, i);
				break;
			case CAGG_MAX:
				appendStringInfo(&buf, "m%d = greatest(m.m%d, EXCLUDED.m%d), ", i, i, i);
				break;
			case CAGG_OTHER:
				elog(ERROR, "aggregate %d of a continuous aggregate cannot be merged", i);
		}
	}
	appendStringInfoString(&buf, "_rows = m._rows + EXCLUDED._rows");
	return buf.data;
}

CaggSql *
cagg_sql(CaggDefinition *def, int id)
{
	CaggSql    *sql = palloc0(sizeof(CaggSql));
	StringInfoData buf;
	char	   *groups;
	char	   *sources;
	ListCell   *lc;

	sql->mat_table = psprintf("_tally_internal._materialized_%d", id);
	sql->delta_table = psprintf("_tally_internal._delta_%d", id);
	sql->inval_table = psprintf("_tally_internal._invalidated_%d", id);
	sql->final_view = psprintf("_tally_internal._final_%d", id);
	initStringInfo(&buf);
	append_groups(&buf, def);
	groups = buf.data;

	/* tables */
	initStringInfo(&buf);
	append_state_columns(&buf, def);
	sql->create_tables = list_make3(psprintf("CREATE TABLE %s (%s)", sql->mat_table, buf.data),
									psprintf("CREATE UNIQUE INDEX ON %s (%s) NULLS NOT DISTINCT",
											 sql->mat_table, groups),
									psprintf("CREATE INDEX ON %s (g%d)", sql->mat_table, def->bucket));
	if (def->delta_mode)
		sql->create_tables = lappend(sql->create_tables,
									 psprintf("CREATE TABLE %s (%s)", sql->delta_table, buf.data));
	resetStringInfo(&buf);
	for (int j = 0; j < def->ngroups; j++)
		appendStringInfo(&buf, "%sg%d %s", j > 0 ? ", " : "", j, def->group_type[j]);
	/* no indexes: every statement writes these, and refreshes empty them */
	sql->create_tables = lappend(sql->create_tables,
								 psprintf("CREATE TABLE %s (%s)", sql->inval_table, buf.data));

	sources = cagg_from_clause(def, InvalidOid, NULL);
	sql->initial_select = partial_query(def, sources, NULL);
	sql->invalidate_all = psprintf("INSERT INTO %s %s", sql->inval_table,
								   group_query(def, sources));

	/* capture: per table, the query with that table read from a transition table */
	foreach(lc, def->sources)
	{
		CaggCapture *capture = palloc0(sizeof(CaggCapture));
		Oid			relid = lfirst_oid(lc);
		char	   *new_rows = cagg_from_clause(def, relid, "tally_new_rows");
		char	   *old_rows = cagg_from_clause(def, relid, "tally_old_rows");

		capture->relid = relid;
		if (def->delta_mode)
		{
			capture->capture_new = psprintf("INSERT INTO %s %s", sql->delta_table,
											partial_query(def, new_rows, NULL));
			if (def->has_min_max)
				capture->capture_old = psprintf("INSERT INTO %s %s", sql->inval_table,
												group_query(def, old_rows));
			else
			{
				char	   *nonfinite = nonfinite_condition(def);

				resetStringInfo(&buf);
				/* groups that lose a NaN or an infinity are recomputed instead */
				if (nonfinite != NULL)
					appendStringInfo(&buf, "INSERT INTO %s %s; ", sql->inval_table,
									 group_query_where(def, old_rows, nonfinite));
				appendStringInfo(&buf, "INSERT INTO %s SELECT %s", sql->delta_table, groups);
				append_states(&buf, def, "", true);
				appendStringInfo(&buf, ", -_rows FROM (%s) p", partial_query(def, old_rows, NULL));
				capture->capture_old = pstrdup(buf.data);
			}
		}
		else
		{
			capture->capture_new = psprintf("INSERT INTO %s %s", sql->inval_table,
											group_query(def, new_rows));
			capture->capture_old = psprintf("INSERT INTO %s %s", sql->inval_table,
											group_query(def, old_rows));
		}
		sql->captures = lappend(sql->captures, capture);
	}
	if (def->delta_mode)
		sql->capture_truncate = psprintf("INSERT INTO %s SELECT %s FROM %s UNION SELECT %s FROM %s",
										 sql->inval_table, groups, sql->mat_table, groups,
										 sql->delta_table);
	else
		sql->capture_truncate = psprintf("INSERT INTO %s SELECT %s FROM %s", sql->inval_table,
										 groups, sql->mat_table);

	/* the final view: materialized rows, with or without what is pending */
	sql->materialized_body = finalized(def, psprintf("%s m", sql->mat_table));
	{
		StringInfoData q;
		char	   *recomputed = partial_query(def, sources,
											   invalidated_rows(def, sql->inval_table, NULL));
		char	   *pending = def->delta_mode ?
			psprintf("(EXISTS (SELECT FROM %s) OR EXISTS (SELECT FROM %s))",
					 sql->inval_table, sql->delta_table) :
			psprintf("EXISTS (SELECT FROM %s)", sql->inval_table);
		char	   *mat_rows;

		/*
		 * The groups a pending change touched, each once: materialized states
		 * combined with deltas, or recomputed.  A function, so that reading
		 * the view plans this part (and its scan of the source) only when
		 * something is pending; it runs as the aggregate's owner.
		 */
		initStringInfo(&q);
		if (def->delta_mode)
		{
			appendStringInfo(&q, "SELECT %s", groups);
			append_combined(&q, def);
			appendStringInfo(&q, " FROM (SELECT %s", groups);
			append_states(&q, def, "", false);
			appendStringInfo(&q, ", _rows FROM %s m WHERE EXISTS (SELECT FROM %s d WHERE %s)"
							 " AND NOT EXISTS (SELECT FROM %s i WHERE %s) UNION ALL SELECT %s",
							 sql->mat_table, sql->delta_table, group_match(def, "d", "m", false),
							 sql->inval_table, group_match(def, "i", "m", false), groups);
			append_states(&q, def, "", false);
			appendStringInfo(&q, ", _rows FROM %s d WHERE NOT EXISTS (SELECT FROM %s i WHERE %s)) u"
							 " GROUP BY %s HAVING sum(_rows) > 0 UNION ALL ",
							 sql->delta_table, sql->inval_table, group_match(def, "i", "d", false),
							 groups);
		}
		appendStringInfoString(&q, recomputed);
		sql->pending_function = psprintf("_tally_internal._pending_%d", id);
		sql->create_pending_function =
			psprintf("CREATE OR REPLACE FUNCTION %s() RETURNS SETOF %s LANGUAGE plpgsql STABLE SECURITY DEFINER"
					 " SET search_path = pg_catalog, pg_temp AS %s",
					 sql->pending_function, sql->mat_table,
					 quote_literal_cstr(psprintf(
											 /*
											  * it runs as the aggregate's owner and anyone may
											  * call it (readers of the view must): it answers
											  * only those who may read the view
											  */
											 "BEGIN IF NOT has_table_privilege(session_user, (SELECT user_view"
											 " FROM _tally_catalog.continuous_agg WHERE id = %d), 'SELECT') THEN"
											 " RAISE EXCEPTION 'permission denied for continuous aggregate %d'"
											 " USING ERRCODE = 'insufficient_privilege'; END IF;"
											 " RETURN QUERY %s; END", id, id, q.data)));

		/* nothing pending: every row as it is; else the untouched rows and the function's */
		initStringInfo(&q);
		appendStringInfo(&q, "SELECT %s", groups);
		append_states(&q, def, "", false);
		appendStringInfo(&q, ", _rows FROM %s m", sql->mat_table);
		mat_rows = pstrdup(q.data);
		resetStringInfo(&q);
		appendStringInfo(&q, "(%s WHERE NOT %s UNION ALL %s WHERE %s AND NOT EXISTS (SELECT FROM %s i WHERE %s)",
						 mat_rows, pending, mat_rows, pending, sql->inval_table,
						 group_match(def, "i", "m", false));
		if (def->delta_mode)
			appendStringInfo(&q, " AND NOT EXISTS (SELECT FROM %s d WHERE %s)", sql->delta_table,
							 group_match(def, "d", "m", false));
		appendStringInfo(&q, " UNION ALL SELECT * FROM %s() p WHERE %s) c", sql->pending_function, pending);
		sql->realtime_body = finalized(def, q.data);
	}

	/* refresh of the buckets in [$1, $2): invalidated groups, then deltas */
	sql->refresh_lock = psprintf("LOCK TABLE %s%s%s IN EXCLUSIVE MODE", sql->inval_table,
								 def->delta_mode ? ", " : "",
								 def->delta_mode ? sql->delta_table : "");
	sql->refresh_invalidated_probe = psprintf("SELECT EXISTS (SELECT FROM %s i WHERE %s)",
											  sql->inval_table, in_window(def, "i"));
	sql->refresh_invalidated = list_make1(psprintf("DELETE FROM %s m WHERE EXISTS (SELECT FROM %s i WHERE %s AND %s)",
												   sql->mat_table, sql->inval_table, in_window(def, "i"),
												   group_match(def, "i", "m", false)));
	if (def->delta_mode)
		sql->refresh_invalidated = lappend(sql->refresh_invalidated,
										   psprintf("DELETE FROM %s d WHERE EXISTS (SELECT FROM %s i WHERE %s AND %s)",
													sql->delta_table, sql->inval_table, in_window(def, "i"),
													group_match(def, "i", "d", false)));
	sql->refresh_invalidated = lappend(sql->refresh_invalidated,
									   psprintf("INSERT INTO %s %s", sql->mat_table,
												partial_query(def, sources,
															  invalidated_rows(def, sql->inval_table,
																			   in_window(def, "i")))));
	sql->refresh_invalidated = lappend(sql->refresh_invalidated,
									   psprintf("DELETE FROM %s i WHERE %s", sql->inval_table,
												in_window(def, "i")));
	if (def->delta_mode)
	{
		sql->refresh_deltas_probe = psprintf("SELECT EXISTS (SELECT FROM %s d WHERE %s)",
											 sql->delta_table, in_window(def, "d"));
		resetStringInfo(&buf);
		appendStringInfo(&buf, "INSERT INTO %s AS m SELECT %s", sql->mat_table, groups);
		append_combined(&buf, def);
		appendStringInfo(&buf, " FROM %s d WHERE %s GROUP BY %s ON CONFLICT (%s) DO UPDATE SET %s",
						 sql->delta_table, in_window(def, "d"), groups, groups,
						 merge_assignments(def));
		sql->refresh_deltas = list_make1(pstrdup(buf.data));
		sql->refresh_deltas = lappend(sql->refresh_deltas,
									  psprintf("DELETE FROM %s m WHERE m._rows <= 0 AND EXISTS"
											   " (SELECT FROM %s d WHERE %s AND %s)",
											   sql->mat_table, sql->delta_table, in_window(def, "d"),
											   group_match(def, "d", "m", false)));
		sql->refresh_deltas = lappend(sql->refresh_deltas,
									  psprintf("DELETE FROM %s d WHERE %s", sql->delta_table,
											   in_window(def, "d")));
	}
	return sql;
}

/* -- the user's view ----------------------------------------------------- */

typedef struct ReplaceContext
{
	CaggDefinition *def;
} ReplaceContext;

static Node *
replace_mutator(Node *node, ReplaceContext *context)
{
	CaggDefinition *def = context->def;
	ListCell   *lc;
	int			j;

	if (node == NULL)
		return NULL;
	j = 0;
	foreach(lc, def->group_exprs)
	{
		Node	   *group = lfirst(lc);

		if (equal(node, group))
			return (Node *) makeVar(1, j + 1, exprType(group), exprTypmod(group),
									exprCollation(group), 0);
		j++;
	}
	if (IsA(node, Aggref))
	{
		CaggAggregate *agg;

		FOREACH_AGG(def, i, agg)
		{
			if (agg->aggref == (Aggref *) node)
				return (Node *) makeVar(1, def->ngroups + i + 1, agg->aggref->aggtype,
										exprTypmod(node), agg->aggref->aggcollid, 0);
		}
		elog(ERROR, "aggregate not found among those of the continuous aggregate");
	}
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;
		Oid			relid = var->varno >= 1 && var->varno <= def->nrtes ?
			def->rte_relid[var->varno - 1] : InvalidOid;

		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"%s\" of a continuous aggregate must be in its GROUP BY or in an aggregate",
						OidIsValid(relid) && var->varattno > 0 ?
						get_attname(relid, var->varattno, false) : "?")));
	}
	return expression_tree_mutator(node, replace_mutator, context);
}

char *
cagg_user_view_sql(CaggDefinition *def, Oid final_view)
{
	Query	   *query = copyObject(def->query);
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	RangeTblRef *ref = makeNode(RangeTblRef);
	ReplaceContext context = {def};
	List	   *colnames = NIL;
	ListCell   *lc;
	Node	   *having;

	for (int j = 0; j < def->ngroups; j++)
		colnames = lappend(colnames, makeString(psprintf("g%d", j)));
	for (int i = 0; i < list_length(def->aggregates); i++)
		colnames = lappend(colnames, makeString(psprintf("f%d", i)));

	rte->rtekind = RTE_RELATION;
	rte->relid = final_view;
	rte->relkind = RELKIND_VIEW;
	rte->rellockmode = AccessShareLock;
	rte->eref = makeAlias(get_rel_name(final_view), colnames);
	rte->inh = true;
	rte->inFromCl = true;
	rte->requiredPerms = ACL_SELECT;
	ref->rtindex = 1;

	/* the copy's aggregates are not the ones def points to: walk the original */
	foreach(lc, def->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		TargetEntry *copy = list_nth_node(TargetEntry, query->targetList, foreach_current_index(lc));

		copy->expr = (Expr *) replace_mutator((Node *) tle->expr, &context);
	}
	having = replace_mutator(def->query->havingQual, &context);

	query->rtable = list_make1(rte);
	query->jointree = makeFromExpr(list_make1(ref), having);
	query->groupClause = NIL;
	query->havingQual = NULL;
	query->hasAggs = false;
	return pg_get_querydef(query, true);
}

/* -- functions the SQL calls ---------------------------------------------- */

/*
 * _tally_internal.cagg_stddev(variance numeric): the standard deviation as
 * stddev() prints it, the square root rounded once at the variance's scale
 * (numeric_stddev_internal() and sqrt_var()).  round(sqrt(v), scale(v))
 * rounds sqrt()'s longer result again, and can differ in the last digit:
 * 136.0614868359155 gives 136.061486835916 for 136.06148683591547...  Here
 * the root is taken 30 digits further and truncated at the scale, then
 * raised by a unit when its square shows it reaches the half-way point.
 */
Datum
tally_cagg_stddev(PG_FUNCTION_ARGS)
{
	Numeric		variance = PG_GETARG_NUMERIC(0);
	Datum		scale;
	Datum		low;
	Datum		half;
	Datum		middle;

	if (numeric_is_nan(variance) || numeric_is_inf(variance))
		PG_RETURN_NUMERIC(variance);
	scale = DirectFunctionCall1(numeric_scale, NumericGetDatum(variance));
	low = DirectFunctionCall2(numeric_trunc,
							  DirectFunctionCall1(numeric_sqrt,
												  DirectFunctionCall2(numeric_round, NumericGetDatum(variance),
																	  Int32GetDatum(DatumGetInt32(scale) + 30))),
							  scale);
	half = DirectFunctionCall3(numeric_in, CStringGetDatum(psprintf("5e-%d", DatumGetInt32(scale) + 1)),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	middle = DirectFunctionCall2(numeric_add, low, half);
	if (DatumGetBool(DirectFunctionCall2(numeric_le, DirectFunctionCall2(numeric_mul, middle, middle),
										 NumericGetDatum(variance))))
		PG_RETURN_DATUM(DirectFunctionCall2(numeric_round, DirectFunctionCall2(numeric_add, middle, half),
											scale));
	PG_RETURN_DATUM(low);
}
