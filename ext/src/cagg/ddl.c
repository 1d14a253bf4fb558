/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  CREATE, DROP and ALTER of continuous aggregates, seen in the utility
 *	  hook; the refresh procedure's front end; the trigger that captures
 *	  changes of the source.
 *
 * Objects in _tally_internal are made by the extension's owner and given to
 * the aggregate's creator; everything that runs the creator's expressions
 * (the initial load, the capture, the refresh) runs as that creator.
 *
 * The defining query is kept as a view, the direct view, internal to the
 * user's view: PostgreSQL keeps its tree through renames, refuses to drop a
 * column it reads without dropping the aggregate, and dumps it.  All SQL is
 * written from its tree, at CREATE and again after a rename of something
 * it reads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/cmdtag.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "cagg/cagg.h"
#include "cagg/definition.h"
#include "extension_owner.h"
#include "forward_args.h"
#include "search_path.h"

PG_FUNCTION_INFO_V1(tally_refresh_continuous_aggregate);

#define CATALOG_FIELDS 20

/* -- running SQL ---------------------------------------------------------- */

static void
exec_sql(const char *sql)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret < 0)
		elog(ERROR, "continuous aggregate: \"%s\" failed: %s", sql, SPI_result_code_string(ret));
}

/*
 * Runs sql, with nargs parameters, as role; restricted when it may run
 * someone else's code.  The caller's search_path never reaches it: the SQL
 * names the user's objects with their schemas, and a view or function made
 * here must not bind a name to whatever the caller's path put first.
 */
static void
exec_as_with_args(Oid role, const char *sql, bool restricted, int nargs, Oid *types, Datum *values)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int			ret;

	save_nestlevel = tally_pin_search_path();
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
	ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);
	if (ret < 0)
		elog(ERROR, "continuous aggregate: \"%s\" failed: %s", sql, SPI_result_code_string(ret));
	SetUserIdAndSecContext(save_userid, save_sec_context);
	tally_restore_search_path(save_nestlevel);
}

static void
exec_as(Oid role, const char *sql, bool restricted)
{
	exec_as_with_args(role, sql, restricted, 0, NULL, NULL);
}

/* Whether this database has the extension in a version with continuous aggregates. */
static bool
cagg_catalog_exists(void)
{
	Oid			catalog_ns = get_namespace_oid("_tally_catalog", true);

	return OidIsValid(catalog_ns) && OidIsValid(get_relname_relid("continuous_agg", catalog_ns));
}

/*
 * Whether its aggregates keep their definitions (0.4.0 and later): before
 * ALTER EXTENSION UPDATE, this library may run on an older catalog.
 */
static bool
cagg_catalog_has_direct_views(void)
{
	Oid			catalog_ns = get_namespace_oid("_tally_catalog", true);
	Oid			catalog = OidIsValid(catalog_ns) ? get_relname_relid("continuous_agg", catalog_ns) : InvalidOid;

	return OidIsValid(catalog) && get_attnum(catalog, "direct_view") != InvalidAttrNumber;
}

/* The text of a text[] holding items. */
static char *
text_array_literal(List *items)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, items)
	{
		appendStringInfo(&buf, "%s\"", foreach_current_index(lc) > 0 ? "," : "");
		for (const char *p = lfirst(lc); *p; p++)
		{
			if (*p == '"' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

static Oid
relation_oid(const char *qualified)
{
	return RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified)),
							NoLock, false);
}

/* The id of the continuous aggregate whose view is relid, or 0. */
static int
cagg_id_of(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	int			id = 0;
	int			nest_level;

	if (!cagg_catalog_exists())
		return 0;
	nest_level = tally_pin_search_path();
	if (SPI_execute_with_args("SELECT id FROM _tally_catalog.continuous_agg WHERE user_view = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "continuous aggregate lookup failed");
	tally_restore_search_path(nest_level);
	if (SPI_processed == 1)
	{
		bool		isnull;

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return id;
}

/* -- options --------------------------------------------------------------- */

typedef struct CaggOptions
{
	bool		any;			/* an option of ours was given */
	bool		continuous;
	bool		materialized_only;
	bool		materialized_only_given;
} CaggOptions;

static bool
our_namespace(const char *ns)
{
	return ns != NULL && (strcmp(ns, "tally") == 0 || strcmp(ns, "timescaledb") == 0 ||
						  strcmp(ns, "tsdb") == 0);
}

static CaggOptions
parse_options(List *options)
{
	CaggOptions opts = {0};
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (!our_namespace(opt->defnamespace))
			continue;
		opts.any = true;
		if (strcmp(opt->defname, "continuous") == 0)
			opts.continuous = defGetBoolean(opt);
		else if (strcmp(opt->defname, "materialized_only") == 0)
		{
			opts.materialized_only = defGetBoolean(opt);
			opts.materialized_only_given = true;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized continuous aggregate option \"%s.%s\"",
							opt->defnamespace, opt->defname),
					 errhint("Continuous aggregates take the options continuous and materialized_only.")));
	}
	if (opts.any)
	{
		foreach(lc, options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (!our_namespace(opt->defnamespace))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" is not supported for continuous aggregates", opt->defname)));
		}
	}
	return opts;
}

/* -- CREATE ------------------------------------------------------------- */

/*
 * Fills the materialization.  INSERT ... SELECT never runs in parallel in
 * PostgreSQL 15, CREATE TABLE AS does: through a temporary table, the first
 * aggregation of a large source takes a fraction of the time.
 */
static void
load_materialization(CaggSql *sql, int id)
{
	if (pg_database_aclcheck(MyDatabaseId, GetUserId(), ACL_CREATE_TEMP) != ACLCHECK_OK)
	{
		exec_sql(psprintf("INSERT INTO %s %s", sql->mat_table, sql->initial_select));
		return;
	}
	exec_sql(psprintf("CREATE TEMPORARY TABLE tally_initial_%d AS %s", id, sql->initial_select));
	exec_sql(psprintf("INSERT INTO %s SELECT * FROM pg_temp.tally_initial_%d", sql->mat_table, id));
	exec_sql(psprintf("DROP TABLE pg_temp.tally_initial_%d", id));
}

/* The extension, in a version that has continuous aggregates, is installed here. */
static void
require_cagg_catalog(void)
{
	if (!OidIsValid(get_extension_oid("tally", true)) ||
		!OidIsValid(get_namespace_oid("_tally_catalog", true)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous aggregates need the tally extension in this database"),
				 errhint("Run CREATE EXTENSION tally.")));
	if (!cagg_catalog_exists())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the tally extension installed in this database predates continuous aggregates"),
				 errhint("Run ALTER EXTENSION tally UPDATE.")));
	if (!cagg_catalog_has_direct_views())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the tally extension installed in this database is older than its library"),
				 errhint("Run ALTER EXTENSION tally UPDATE.")));
}

/* Writes the capture SQL of each source table of aggregate id into the catalog, as owner. */
static void
store_captures(Oid owner, int id, List *captures)
{
	ListCell   *lc;

	foreach(lc, captures)
	{
		CaggCapture *capture = lfirst(lc);
		Oid			types[4] = {INT4OID, OIDOID, TEXTOID, TEXTOID};
		Datum		values[4] = {Int32GetDatum(id), ObjectIdGetDatum(capture->relid),
			CStringGetTextDatum(capture->capture_new),
		CStringGetTextDatum(capture->capture_old)};

		exec_as_with_args(owner,
						  "INSERT INTO _tally_catalog.continuous_agg_source"
						  " (cagg_id, source, capture_new, capture_old) VALUES ($1, $2, $3, $4)"
						  " ON CONFLICT (cagg_id, source) DO UPDATE"
						  " SET capture_new = EXCLUDED.capture_new, capture_old = EXCLUDED.capture_old",
						  false, 4, types, values);
	}
}

static char *
quoted_role(Oid role)
{
	return (char *) quote_identifier(GetUserNameFromId(role, false));
}

/*
 * The text of the direct view: the defining query as cagg_define() left it
 * (columns of joins flattened, date_trunc()'s zone fixed), its columns
 * named as the user's view names them.
 */
static char *
direct_view_sql(Query *query, List *colnames)
{
	Query	   *copy = copyObject(query);
	ListCell   *name = list_head(colnames);
	ListCell   *lc;

	foreach(lc, copy->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk || name == NULL)
			continue;
		tle->resname = strVal(lfirst(name));
		name = lnext(colnames, name);
	}
	return pg_get_querydef(copy, false);
}

/*
 * The defining query of a direct view, taken apart.  Call with search_path
 * set to pg_catalog, so that every name is written qualified.
 */
static CaggDefinition *
definition_of(Oid direct_view, LOCKMODE lockmode)
{
	Relation	rel = relation_open(direct_view, lockmode);
	Query	   *query = copyObject(get_view_query(rel));

	relation_close(rel, NoLock);
	return cagg_define(query);
}

static void
create_cagg(CreateTableAsStmt *stmt, CaggOptions opts)
{
	IntoClause *into = stmt->into;
	Oid			user = GetUserId();
	Oid			owner = tally_extension_owner();
	CaggDefinition *def;
	CaggSql    *sql;
	ListCell   *lc;
	int			id;
	bool		isnull;
	Oid			final_view;
	Oid			direct_view;
	Oid			user_view;
	char	   *direct_view_name;
	char	   *view_name;
	int			save_nestlevel;
	StringInfoData columns;
	Oid			argtypes[CATALOG_FIELDS];
	Datum		values[CATALOG_FIELDS];
	const char *events[4][2] = {
		{"insert", "AFTER INSERT ON %s REFERENCING NEW TABLE AS tally_new_rows"},
		{"update", "AFTER UPDATE ON %s REFERENCING OLD TABLE AS tally_old_rows NEW TABLE AS tally_new_rows"},
		{"delete", "AFTER DELETE ON %s REFERENCING OLD TABLE AS tally_old_rows"},
		{"truncate", "AFTER TRUNCATE ON %s"}
	};

	if (into->tableSpaceName != NULL || into->accessMethod != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous aggregates take no TABLESPACE or USING clause")));
	view_name = quote_qualified_identifier(get_namespace_name(RangeVarGetCreationNamespace(into->rel)),
										   into->rel->relname);

	/* deparse with every name qualified: the SQL will run under other search paths */
	save_nestlevel = tally_pin_search_path();
	def = cagg_define(castNode(Query, stmt->query));
	foreach(lc, def->sources)
	{
		if (!pg_class_ownercheck(lfirst_oid(lc), user))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of table %s to create a continuous aggregate on it",
							get_rel_name(lfirst_oid(lc)))));
	}

	exec_as(owner, "SELECT nextval('_tally_catalog.continuous_agg_id_seq')::integer", false);
	if (SPI_processed != 1)
		elog(ERROR, "could not allocate a continuous aggregate id");
	id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* the definition, kept as a view: all SQL is written from its tree */
	direct_view_name = psprintf("_tally_internal._direct_%d", id);
	exec_as(owner, psprintf("CREATE VIEW %s AS %s", direct_view_name,
							direct_view_sql(def->query, into->colNames)),
			false);
	exec_as(owner, psprintf("ALTER VIEW %s OWNER TO %s", direct_view_name, quoted_role(user)), false);
	direct_view = relation_oid(direct_view_name);
	def = definition_of(direct_view, AccessShareLock);
	sql = cagg_sql(def, id);

	/* the tables and the final view, made by the extension's owner, given to the user */
	foreach(lc, sql->create_tables)
		exec_as(owner, lfirst(lc), false);
	exec_as(owner, sql->create_pending_function, false);
	exec_as(owner, psprintf("ALTER FUNCTION %s() OWNER TO %s", sql->pending_function, quoted_role(user)),
			false);
	exec_as(owner, psprintf("CREATE VIEW %s AS %s", sql->final_view,
							opts.materialized_only ? sql->materialized_body : sql->realtime_body),
			false);
	exec_as(owner, psprintf("ALTER TABLE %s OWNER TO %s", sql->mat_table, quoted_role(user)), false);
	exec_as(owner, psprintf("ALTER TABLE %s OWNER TO %s", sql->inval_table, quoted_role(user)), false);
	if (def->delta_mode)
		exec_as(owner, psprintf("ALTER TABLE %s OWNER TO %s", sql->delta_table, quoted_role(user)), false);
	exec_as(owner, psprintf("ALTER VIEW %s OWNER TO %s", sql->final_view, quoted_role(user)), false);
	final_view = relation_oid(sql->final_view);
	/* the final view reads its sources through a function: say so to DROP */
	foreach(lc, def->sources)
	{
		ObjectAddress view_address;
		ObjectAddress source_address;

		ObjectAddressSet(view_address, RelationRelationId, final_view);
		ObjectAddressSet(source_address, RelationRelationId, lfirst_oid(lc));
		recordDependencyOn(&view_address, &source_address, DEPENDENCY_NORMAL);
	}
	CommandCounterIncrement();

	/* the user's view, made by the user */
	initStringInfo(&columns);
	foreach(lc, into->colNames)
		appendStringInfo(&columns, "%s%s", columns.len ? ", " : "(",
						 quote_identifier(strVal(lfirst(lc))));
	if (columns.len)
		appendStringInfoChar(&columns, ')');
	exec_sql(psprintf("CREATE VIEW %s %s AS %s", view_name, columns.data,
					  cagg_user_view_sql(def, final_view)));
	user_view = relation_oid(view_name);
	/* the direct view is part of the user's view: a column it reads is dropped only with it */
	{
		ObjectAddress direct_address;
		ObjectAddress user_address;

		ObjectAddressSet(direct_address, RelationRelationId, direct_view);
		ObjectAddressSet(user_address, RelationRelationId, user_view);
		recordDependencyOn(&direct_address, &user_address, DEPENDENCY_INTERNAL);
	}

	/* capture of every change of every source table */
	foreach(lc, def->sources)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													   get_rel_name(relid));

		for (int e = 0; e < 4; e++)
			exec_as(owner, psprintf("CREATE TRIGGER tally_cagg_%d_%s %s FOR EACH STATEMENT "
									"EXECUTE FUNCTION _tally_internal.cagg_capture('%d')",
									id, events[e][0], psprintf(events[e][1], table), id),
					false);
	}

	/* the catalog, written by the extension's owner */
	{
		const char *fields[CATALOG_FIELDS] = {
			psprintf("%d", id),
			psprintf("%u", user_view),
			psprintf("%u", final_view),
			psprintf("%u", def->source),
			sql->mat_table,
			def->delta_mode ? sql->delta_table : "",
			sql->inval_table,
			psprintf("g%d", def->bucket),
			def->bucket_type,
			opts.materialized_only ? "true" : "false",
			def->delta_mode ? "true" : "false",
			sql->realtime_body,
			sql->materialized_body,
			sql->capture_truncate,
			sql->refresh_lock,
			sql->refresh_invalidated_probe,
			text_array_literal(sql->refresh_invalidated),
			sql->refresh_deltas_probe ? sql->refresh_deltas_probe : "",
			text_array_literal(sql->refresh_deltas),
			psprintf("%u", direct_view)
		};

		for (int i = 0; i < CATALOG_FIELDS; i++)
		{
			argtypes[i] = TEXTOID;
			values[i] = CStringGetTextDatum(fields[i]);
		}
		exec_as_with_args(owner, "INSERT INTO _tally_catalog.continuous_agg (id, user_view, final_view,"
						  " source, mat_table, delta_table, inval_table, bucket_column, bucket_type,"
						  " materialized_only, delta_mode, realtime_body, materialized_body,"
						  " capture_truncate, refresh_lock, refresh_invalidated_probe, refresh_invalidated,"
						  " refresh_deltas_probe, refresh_deltas, direct_view)"
						  " VALUES ($1::integer, $2::oid::regclass, $3::oid::regclass, $4::oid::regclass,"
						  " $5::regclass, nullif($6, '')::regclass, $7::regclass, $8::name,"
						  " $9::regtype, $10::boolean, $11::boolean, $12, $13, $14, $15, $16, $17::text[],"
						  " nullif($18, ''), $19::text[], $20::oid::regclass)",
						  false, CATALOG_FIELDS, argtypes, values);
		store_captures(owner, id, sql->captures);
	}

	/* the data, or the promise to compute it from the source until a refresh */
	if (into->skipData)
		exec_sql(sql->invalidate_all);
	else
		load_materialization(sql, id);
	tally_restore_search_path(save_nestlevel);
}

/* -- DROP and ALTER ------------------------------------------------------- */

static void
drop_caggs(DropStmt *stmt, List **remaining)
{
	ListCell   *lc;
	List	   *ids = NIL;

	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList(lfirst(lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);
		int			id = OidIsValid(relid) ? cagg_id_of(relid) : 0;

		if (id == 0)
		{
			*remaining = lappend(*remaining, lfirst(lc));
			continue;
		}
		if (!pg_class_ownercheck(relid, GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_MATVIEW, get_rel_name(relid));
		ids = lappend_int(ids, id);
	}
	foreach(lc, ids)
		exec_as(tally_extension_owner(),
				psprintf("SELECT _tally_internal.drop_continuous_aggregate(%d, %s)", lfirst_int(lc),
						 stmt->behavior == DROP_CASCADE ? "true" : "false"),
				false);
}

/* Points the final view at the materialization alone, or at it and what is pending. */
static void
set_materialized_only(int id, bool materialized_only)
{
	char	   *final_view;
	char	   *body;
	int			nest_level = tally_pin_search_path();

	if (SPI_execute(psprintf("SELECT final_view::text, %s FROM _tally_catalog.continuous_agg WHERE id = %d",
							 materialized_only ? "materialized_body" : "realtime_body", id),
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "continuous aggregate %d not found", id);
	final_view = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	body = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	/* the final view is the aggregate owner's, in _tally_internal: replaced by the extension's owner */
	exec_as(tally_extension_owner(), psprintf("CREATE OR REPLACE VIEW %s AS %s", final_view, body), false);
	exec_as(tally_extension_owner(),
			psprintf("UPDATE _tally_catalog.continuous_agg SET materialized_only = %s WHERE id = %d",
					 materialized_only ? "true" : "false", id),
			false);
	tally_restore_search_path(nest_level);
}

static void
alter_cagg(AlterTableStmt *stmt, int id, Oid view)
{
	ListCell   *lc;

	if (!pg_class_ownercheck(view, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_MATVIEW, get_rel_name(view));
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		CaggOptions opts;

		if (cmd->subtype != AT_SetRelOptions)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ALTER MATERIALIZED VIEW on a continuous aggregate supports only SET (materialized_only = ...)")));
		opts = parse_options((List *) cmd->def);
		if (!opts.materialized_only_given)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ALTER MATERIALIZED VIEW on a continuous aggregate supports only SET (materialized_only = ...)")));
		set_materialized_only(id, opts.materialized_only);
	}
}

/* -- changes of what an aggregate reads ------------------------------------ */

/*
 * Refuses a change of a table that an aggregate made before 0.4.0 reads:
 * it has no direct view, so neither its SQL nor its columns can follow.
 */
static void
refuse_for_old_cagg(const char *view)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("continuous aggregate \"%s\" cannot follow this change of a table it reads", view),
			 errdetail("It was created before tally 0.4.0, which did not keep its definition."),
			 errhint("Drop the continuous aggregate, make the change, and create the aggregate again.")));
}

/*
 * Writes the SQL of aggregate id again from its direct view, after a rename
 * of something it reads: the catalog's statements, the pending function and
 * the final view.  Every backend forgets the capture SQL it keeps on the
 * relcache invalidation of the materialization.  Called inside SPI.
 */
static void
rewrite_cagg_sql(int id)
{
	Oid			owner = tally_extension_owner();
	Oid			types[9] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[9];
	Oid			direct_view;
	Oid			mat_table;
	bool		materialized_only;
	bool		isnull;
	CaggDefinition *def;
	CaggSql    *sql;
	int			save_nestlevel;

	/* deparses with every name qualified, and reads nothing through the caller's path */
	save_nestlevel = tally_pin_search_path();
	values[0] = Int32GetDatum(id);
	if (SPI_execute_with_args("SELECT direct_view, mat_table, materialized_only"
							  "  FROM _tally_catalog.continuous_agg WHERE id = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "continuous aggregate %d not found", id);
	direct_view = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
	{
		tally_restore_search_path(save_nestlevel);
		return;
	}
	mat_table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	materialized_only = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	/*
	 * one writer at a time: the second sees the names the first committed
	 * (taking a lock reads the invalidations)
	 */
	def = definition_of(direct_view, ShareUpdateExclusiveLock);
	sql = cagg_sql(def, id);

	exec_as(owner, sql->create_pending_function, false);
	exec_as(owner, psprintf("CREATE OR REPLACE VIEW %s AS %s", sql->final_view,
							materialized_only ? sql->materialized_body : sql->realtime_body),
			false);
	values[1] = CStringGetTextDatum(sql->realtime_body);
	values[2] = CStringGetTextDatum(sql->materialized_body);
	values[3] = CStringGetTextDatum(sql->capture_truncate);
	values[4] = CStringGetTextDatum(sql->refresh_lock);
	values[5] = CStringGetTextDatum(sql->refresh_invalidated_probe);
	values[6] = CStringGetTextDatum(text_array_literal(sql->refresh_invalidated));
	values[7] = CStringGetTextDatum(sql->refresh_deltas_probe ? sql->refresh_deltas_probe : "");
	values[8] = CStringGetTextDatum(text_array_literal(sql->refresh_deltas));
	exec_as_with_args(owner, "UPDATE _tally_catalog.continuous_agg SET realtime_body = $2,"
					  " materialized_body = $3, capture_truncate = $4, refresh_lock = $5,"
					  " refresh_invalidated_probe = $6, refresh_invalidated = $7::text[],"
					  " refresh_deltas_probe = nullif($8, ''), refresh_deltas = $9::text[] WHERE id = $1",
					  false, 9, types, values);
	store_captures(owner, id, sql->captures);
	CacheInvalidateRelcacheByRelid(mat_table);
	tally_restore_search_path(save_nestlevel);
}

/*
 * The object that a RenameStmt or an AlterObjectSchemaStmt is about to
 * rename or move, found before it runs (a renamed table is not found by its
 * name afterwards); false for objects no aggregate's SQL names.
 */
static bool
object_to_rename(Node *parsetree, ObjectAddress *address)
{
	ObjectType	type;
	RangeVar   *relation;
	Node	   *object;
	Relation	unused = NULL;

	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;

		if (stmt->renameType == OBJECT_SCHEMA)
		{
			ObjectAddressSet(*address, NamespaceRelationId, get_namespace_oid(stmt->subname, true));
			return OidIsValid(address->objectId);
		}
		type = stmt->renameType;
		relation = stmt->relation;
		object = stmt->object;
	}
	else
	{
		AlterObjectSchemaStmt *stmt = castNode(AlterObjectSchemaStmt, parsetree);

		type = stmt->objectType;
		relation = stmt->relation;
		object = stmt->object;
	}
	switch (type)
	{
		case OBJECT_TABLE:
		case OBJECT_COLUMN:
		case OBJECT_ATTRIBUTE:
			ObjectAddressSet(*address, RelationRelationId, RangeVarGetRelid(relation, NoLock, true));
			break;
		case OBJECT_TYPE:
		case OBJECT_DOMAIN:
			/* named by a list here, as get_object_address() does not take it */
			object = (Node *) makeTypeNameFromNameList(castNode(List, object));
			/* FALLTHROUGH */
		case OBJECT_FUNCTION:
		case OBJECT_AGGREGATE:
		case OBJECT_ROUTINE:
		case OBJECT_OPERATOR:
		case OBJECT_COLLATION:
			/* with the lock the statement takes next */
			*address = get_object_address(type, object, &unused, AccessExclusiveLock, true);
			break;
		default:
			return false;
	}
	return OidIsValid(address->objectId);
}

/*
 * The aggregates whose SQL names an object, or an object of a schema: those
 * whose direct view depends on it.  An aggregate made before 0.4.0 refuses
 * a rename or move of a table it reads, or of its schema.
 */
static List *
caggs_naming(const ObjectAddress *address)
{
	Oid			types[3] = {OIDOID, OIDOID, TEXTOID};
	Datum		values[3];
	MemoryContext caller = CurrentMemoryContext;
	List	   *ids = NIL;

	values[0] = ObjectIdGetDatum(address->classId);
	values[1] = ObjectIdGetDatum(address->objectId);
	values[2] = CStringGetTextDatum(address->classId == NamespaceRelationId ?
									get_namespace_name(address->objectId) : "");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT a.id, a.direct_view IS NULL, c.relname::text"
							  "  FROM _tally_catalog.continuous_agg a"
							  "  JOIN pg_catalog.pg_class c ON c.oid = a.user_view"
							  " WHERE EXISTS (SELECT FROM pg_catalog.pg_rewrite r"
							  "                 JOIN pg_catalog.pg_depend d ON d.objid = r.oid"
							  "                WHERE r.ev_class = a.direct_view AND d.deptype = 'n'"
							  "                  AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
							  "                  AND (d.refclassid = $1 AND d.refobjid = $2"
							  "                       OR $1 = 'pg_catalog.pg_namespace'::pg_catalog.regclass"
							  "                          AND (pg_catalog.pg_identify_object(d.refclassid, d.refobjid, 0)).schema = $3))"
							  "    OR a.direct_view IS NULL"
							  "       AND EXISTS (SELECT FROM _tally_catalog.continuous_agg_source s"
							  "                     JOIN pg_catalog.pg_class t ON t.oid = s.source"
							  "                    WHERE s.cagg_id = a.id"
							  "                      AND ($1 = 'pg_catalog.pg_class'::pg_catalog.regclass AND t.oid = $2"
							  "                           OR $1 = 'pg_catalog.pg_namespace'::pg_catalog.regclass"
							  "                              AND t.relnamespace = $2))"
							  " ORDER BY a.id",
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "continuous aggregate lookup failed");
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		bool		isnull;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		if (DatumGetBool(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull)))
			refuse_for_old_cagg(SPI_getvalue(tuple, SPI_tuptable->tupdesc, 3));
		ids = lappend_int(ids, DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull)));
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return ids;
}

List *
tally_cagg_before_rename(Node *parsetree)
{
	ObjectAddress address;

	if ((!IsA(parsetree, RenameStmt) && !IsA(parsetree, AlterObjectSchemaStmt)) ||
		!cagg_catalog_has_direct_views() || !object_to_rename(parsetree, &address))
		return NIL;
	return caggs_naming(&address);
}

void
tally_cagg_after_rename(List *cagg_ids)
{
	ListCell   *lc;

	if (cagg_ids == NIL)
		return;
	/* see the new names */
	CommandCounterIncrement();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, cagg_ids)
		rewrite_cagg_sql(lfirst_int(lc));
	SPI_finish();
}

/*
 * ALTER COLUMN TYPE of a column an aggregate reads is refused here, before
 * it runs, naming the aggregate (PostgreSQL would name its direct view).
 * DROP COLUMN of such a column PostgreSQL refuses itself, naming the
 * aggregate's view, of which the direct view is part; with CASCADE it drops
 * the aggregate.  An aggregate made before 0.4.0 does not say which columns
 * it reads: both are refused on every column of its tables.
 */
static void
check_column_changes(AlterTableStmt *stmt)
{
	Oid			relid = InvalidOid;
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		AttrNumber	attnum;
		Oid			types[3] = {OIDOID, INT2OID, BOOLOID};
		Datum		values[3];

		if (cmd->subtype != AT_AlterColumnType && cmd->subtype != AT_DropColumn)
			continue;
		if (!OidIsValid(relid))
		{
			if (!cagg_catalog_has_direct_views())
				return;
			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
			if (!OidIsValid(relid))
				return;
		}
		attnum = get_attnum(relid, cmd->name);
		if (attnum == InvalidAttrNumber)
			continue;
		values[0] = ObjectIdGetDatum(relid);
		values[1] = Int16GetDatum(attnum);
		values[2] = BoolGetDatum(cmd->subtype == AT_AlterColumnType);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT c.relname::text, a.direct_view IS NULL"
								  "  FROM _tally_catalog.continuous_agg a"
								  "  JOIN pg_catalog.pg_class c ON c.oid = a.user_view"
								  " WHERE $3 AND EXISTS (SELECT FROM pg_catalog.pg_rewrite r"
								  "                        JOIN pg_catalog.pg_depend d ON d.objid = r.oid"
								  "                       WHERE r.ev_class = a.direct_view"
								  "                         AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
								  "                         AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
								  "                         AND d.refobjid = $1 AND d.refobjsubid = $2)"
								  "    OR a.direct_view IS NULL"
								  "       AND EXISTS (SELECT FROM _tally_catalog.continuous_agg_source s"
								  "                    WHERE s.cagg_id = a.id AND s.source = $1)"
								  " ORDER BY a.id LIMIT 1",
								  3, types, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "continuous aggregate lookup failed");
		if (SPI_processed == 1)
		{
			bool		isnull;
			char	   *view = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
				refuse_for_old_cagg(view);
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot alter type of a column used by a continuous aggregate"),
					 errdetail("Continuous aggregate \"%s\" depends on column \"%s\".", view, cmd->name),
					 errhint("Drop the continuous aggregate, alter the column, and create the aggregate again.")));
		}
		SPI_finish();
	}
}

/* Whether relation names a continuous aggregate. */
static bool
names_cagg(RangeVar *relation)
{
	Oid			relid = RangeVarGetRelid(relation, NoLock, true);
	int			id;

	if (!OidIsValid(relid))
		return false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	id = cagg_id_of(relid);
	SPI_finish();
	return id != 0;
}

bool
tally_cagg_statement(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_CreateTableAsStmt:
			return ((CreateTableAsStmt *) parsetree)->objtype == OBJECT_MATVIEW &&
				parse_options(((CreateTableAsStmt *) parsetree)->into->options).any;
		case T_DropStmt:
			if (((DropStmt *) parsetree)->removeType != OBJECT_MATVIEW)
				return false;
			foreach(lc, ((DropStmt *) parsetree)->objects)
			{
				if (names_cagg(makeRangeVarFromNameList(lfirst(lc))))
					return true;
			}
			return false;
		case T_AlterTableStmt:
			return ((AlterTableStmt *) parsetree)->objtype == OBJECT_MATVIEW &&
				names_cagg(((AlterTableStmt *) parsetree)->relation);
		default:
			return false;
	}
}

bool
tally_cagg_utility(PlannedStmt *pstmt, const char *query_string, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		done = false;

	switch (nodeTag(parsetree))
	{
		case T_CreateTableAsStmt:
			{
				CreateTableAsStmt *stmt = (CreateTableAsStmt *) parsetree;
				CaggOptions opts;

				if (stmt->objtype != OBJECT_MATVIEW)
					return false;
				opts = parse_options(stmt->into->options);
				if (!opts.any)
					return false;
				if (!opts.continuous)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("materialized_only applies to continuous aggregates only"),
							 errhint("Add the option tally.continuous.")));
				if (stmt->if_not_exists &&
					OidIsValid(RangeVarGetRelid(stmt->into->rel, NoLock, true)))
				{
					ereport(NOTICE,
							(errcode(ERRCODE_DUPLICATE_TABLE),
							 errmsg("relation \"%s\" already exists, skipping", stmt->into->rel->relname)));
					return true;
				}
				require_cagg_catalog();
				if (SPI_connect() != SPI_OK_CONNECT)
					elog(ERROR, "SPI_connect failed");
				create_cagg(stmt, opts);
				SPI_finish();
				if (qc)
					SetQueryCompletion(qc, CMDTAG_CREATE_MATERIALIZED_VIEW, 0);
				return true;
			}
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) parsetree;
				List	   *remaining = NIL;

				if (stmt->removeType != OBJECT_MATVIEW)
					return false;
				if (SPI_connect() != SPI_OK_CONNECT)
					elog(ERROR, "SPI_connect failed");
				drop_caggs(stmt, &remaining);
				SPI_finish();
				if (list_length(remaining) == list_length(stmt->objects))
					return false;
				if (remaining != NIL)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("drop continuous aggregates and other materialized views in separate statements")));
				if (qc)
					SetQueryCompletion(qc, CMDTAG_DROP_MATERIALIZED_VIEW, 0);
				return true;
			}
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
				Oid			relid;
				int			id;

				if (stmt->objtype == OBJECT_TABLE)
					check_column_changes(stmt);
				if (stmt->objtype != OBJECT_MATVIEW)
					return false;
				relid = RangeVarGetRelid(stmt->relation, NoLock, stmt->missing_ok);
				if (!OidIsValid(relid))
					return false;
				if (SPI_connect() != SPI_OK_CONNECT)
					elog(ERROR, "SPI_connect failed");
				id = cagg_id_of(relid);
				if (id != 0)
				{
					alter_cagg(stmt, id, relid);
					done = true;
				}
				SPI_finish();
				if (done && qc)
					SetQueryCompletion(qc, CMDTAG_ALTER_MATERIALIZED_VIEW, 0);
				return done;
			}
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) parsetree;
				Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
				int			id = 0;

				if (!OidIsValid(relid))
					return false;
				if (SPI_connect() != SPI_OK_CONNECT)
					elog(ERROR, "SPI_connect failed");
				id = cagg_id_of(relid);
				SPI_finish();
				if (id != 0)
					ereport(ERROR,
							(errcode(ERRCODE_WRONG_OBJECT_TYPE),
							 errmsg("\"%s\" is a continuous aggregate", stmt->relation->relname),
							 errhint("Refresh it with CALL refresh_continuous_aggregate('%s', NULL, NULL).",
									 stmt->relation->relname)));
				return false;
			}
		default:
			return false;
	}
}

/* -- refresh ------------------------------------------------------------------ */

/*
 * CALL refresh_continuous_aggregate(continuous_aggregate, window_start, window_end)
 *
 * The refresh runs the defining query, so it runs as the aggregate's owner,
 * under SECURITY_RESTRICTED_OPERATION, whoever calls it (as PostgreSQL's
 * REFRESH MATERIALIZED VIEW does): a superuser refreshing someone's
 * aggregate must not run their functions as superuser.
 */
Datum
tally_refresh_continuous_aggregate(PG_FUNCTION_ARGS)
{
	ForwardedArgs args = {0};
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1];
	Oid			owner = InvalidOid;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("continuous_aggregate must not be null")));
	values[0] = PG_GETARG_DATUM(0);
	forward_value(&args, REGCLASSOID, PG_GETARG_DATUM(0), false);
	forward_any(&args, fcinfo, 1);
	forward_any(&args, fcinfo, 2);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	save_nestlevel = tally_pin_search_path();
	if (cagg_catalog_exists())
	{
		bool		isnull;

		if (SPI_execute_with_args("SELECT c.relowner FROM _tally_catalog.continuous_agg a"
								  "  JOIN pg_catalog.pg_class c ON c.oid = a.mat_table WHERE a.user_view = $1",
								  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "continuous aggregate lookup failed");
		if (SPI_processed == 1)
			owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
												   &isnull));
	}
	if (OidIsValid(owner) && !has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of continuous aggregate \"%s\"",
						get_rel_name(DatumGetObjectId(values[0])))));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (OidIsValid(owner))
		SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute_with_args("SELECT _tally_internal.refresh_continuous_aggregate($1, $2, $3, $4, $5)",
							  args.count, args.types, args.values, args.nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "refresh_continuous_aggregate failed");
	SetUserIdAndSecContext(save_userid, save_sec_context);
	tally_restore_search_path(save_nestlevel);
	SPI_finish();
	PG_RETURN_VOID();
}
