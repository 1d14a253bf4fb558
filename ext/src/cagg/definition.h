/*-------------------------------------------------------------------------
 *
 * definition.h
 *	  What a continuous aggregate's defining query is made of (define.c),
 *	  and the SQL that maintains it (sql.c).  Private to src/cagg/.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_CAGG_DEFINITION_H
#define TALLY_CAGG_DEFINITION_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"

/* How an aggregate is kept. */
typedef enum CaggAggKind
{
	CAGG_COUNT_STAR,			/* state c: count */
	CAGG_COUNT,					/* state c: count */
	CAGG_SUM,					/* states s: sum, n: count of inputs */
	CAGG_AVG,					/* states s: sum, n: count of inputs */
	CAGG_VARIANCE,				/* states s: sum, q: sum of squares, n: count (exact types) */
	CAGG_MIN,					/* state m: min, merged while rows only arrive */
	CAGG_MAX,					/* state m: max, likewise */
	CAGG_OTHER					/* state a: the aggregate itself, recomputed */
} CaggAggKind;

typedef struct CaggAggregate
{
	Aggref	   *aggref;			/* in CaggDefinition.query */
	CaggAggKind kind;
	char	   *arg_sql;		/* its argument (not for count(*)) */
	char	   *filter_sql;		/* " FILTER (WHERE ...)" or "" */
	char	   *whole_sql;		/* the whole aggregate */
	char	   *result_type;	/* SQL type of the aggregate's result */
	char	   *state_type;		/* SQL type of s, m or a, without modifier */
	char	   *sum_arg_sql;	/* what s sums: the argument, cast for avg of float4 */
	bool		may_be_nonfinite;	/* a numeric sum: old NaN or infinity marks the group */
	bool		population;		/* variance: var_pop or stddev_pop, not the sample's */
	bool		root;			/* variance: the standard deviation */
} CaggAggregate;

typedef struct CaggDefinition
{
	Query	   *query;			/* the defining query (a copy, owned here) */
	int			nrtes;
	Oid		   *rte_relid;		/* by range table index - 1: the table, or 0 */
	List	   *sources;		/* Oids of the tables it reads, each once */
	Oid			source;			/* the one whose time column is bucketed */
	List	   *dpcontext;		/* deparses with the n-th table as alias rn */
	Node	   *where_quals;	/* join conditions and WHERE, or NULL */
	char	   *where_sql;		/* the same, deparsed */
	int			ngroups;
	List	   *group_exprs;	/* Expr * of each GROUP BY item, in order */
	char	  **group_sql;		/* each, deparsed */
	char	  **group_type;		/* each one's SQL type, with its modifier */
	char	  **group_typed_sql;	/* each, cast to that type if it has a modifier */
	int			bucket;			/* index of the time bucket among the groups */
	char	   *time_column_sql;	/* r<n>.<time column> */
	Oid			time_type;
	bool		time_not_null;
	char	   *bucket_type;	/* SQL type of the bucket */
	char	   *bucket_width_sql;	/* what to add to a bucket to reach the next */
	bool		width_is_interval;
	List	   *aggregates;		/* CaggAggregate * */
	bool		delta_mode;		/* every aggregate kept by deltas */
	bool		has_min_max;
} CaggDefinition;

/* Checks the defining query and takes it apart; errors name what is unsupported. */
extern CaggDefinition *cagg_define(Query *query);

/*
 * The FROM list of the defining query, each table as alias r<n>; the table
 * replaced (if valid) reads the transition table of that name instead.
 */
extern char *cagg_from_clause(CaggDefinition *def, Oid replaced, const char *transition);

/* What a statement on one source table appends. */
typedef struct CaggCapture
{
	Oid			relid;
	char	   *capture_new;	/* run with transition table tally_new_rows */
	char	   *capture_old;	/* run with transition table tally_old_rows */
} CaggCapture;

/* The SQL of a continuous aggregate with identifier id. */
typedef struct CaggSql
{
	char	   *mat_table;		/* qualified names of its objects */
	char	   *delta_table;
	char	   *inval_table;
	char	   *final_view;
	List	   *create_tables;	/* DDL of the three tables and their indexes */
	char	   *realtime_body;	/* body of the final view in each mode */
	char	   *materialized_body;
	char	   *initial_select; /* the materialization's rows, from the source */
	List	   *captures;		/* CaggCapture * of each source table */
	char	   *capture_truncate;	/* after TRUNCATE of any of them */
	char	   *pending_function;	/* what pending changes make of the groups they touched */
	char	   *create_pending_function;	/* or replaces it */
	/* a refresh of the buckets in [$1, $2): lock, then each list if its probe finds work */
	char	   *refresh_lock;
	char	   *refresh_invalidated_probe;
	List	   *refresh_invalidated;
	char	   *refresh_deltas_probe;	/* NULL without deltas */
	List	   *refresh_deltas;
	char	   *invalidate_all; /* marks every source group stale (WITH NO DATA) */
} CaggSql;

extern CaggSql *cagg_sql(CaggDefinition *def, int id);

/*
 * The user's view over the final view: the defining query with every
 * aggregate and GROUP BY expression replaced by a column of final_view.
 */
extern char *cagg_user_view_sql(CaggDefinition *def, Oid final_view);

#endif							/* TALLY_CAGG_DEFINITION_H */
