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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "tcop/cmdtag.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "cagg/cagg.h"
#include "cagg/definition.h"
#include "forward_args.h"
#include "search_path.h"

PG_FUNCTION_INFO_V1(tally_refresh_continuous_aggregate);

#define CATALOG_FIELDS 19

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

/* The extension's owner: the owner of the schema its script made. */
static Oid
extension_owner(void)
{
	Oid			ns = get_namespace_oid("_tally_internal", false);
	HeapTuple	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(ns));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for schema %u", ns);
	owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);
	return owner;
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
}

static char *
quoted_role(Oid role)
{
	return (char *) quote_identifier(GetUserNameFromId(role, false));
}

static void
create_cagg(CreateTableAsStmt *stmt, CaggOptions opts)
{
	IntoClause *into = stmt->into;
	Oid			user = GetUserId();
	Oid			owner = extension_owner();
	CaggDefinition *def;
	CaggSql    *sql;
	ListCell   *lc;
	int			id;
	bool		isnull;
	Oid			final_view;
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
			psprintf("%u", relation_oid(view_name)),
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
			text_array_literal(sql->refresh_deltas)
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
						  " refresh_deltas_probe, refresh_deltas)"
						  " VALUES ($1::integer, $2::oid::regclass, $3::oid::regclass, $4::oid::regclass,"
						  " $5::regclass, nullif($6, '')::regclass, $7::regclass, $8::name,"
						  " $9::regtype, $10::boolean, $11::boolean, $12, $13, $14, $15, $16, $17::text[],"
						  " nullif($18, ''), $19::text[])",
						  false, CATALOG_FIELDS, argtypes, values);
		foreach(lc, sql->captures)
		{
			CaggCapture *capture = lfirst(lc);
			Oid			types[4] = {INT4OID, OIDOID, TEXTOID, TEXTOID};
			Datum		capture_values[4] = {Int32GetDatum(id), ObjectIdGetDatum(capture->relid),
				CStringGetTextDatum(capture->capture_new),
			CStringGetTextDatum(capture->capture_old)};

			exec_as_with_args(owner,
							  "INSERT INTO _tally_catalog.continuous_agg_source"
							  " (cagg_id, source, capture_new, capture_old) VALUES ($1, $2, $3, $4)",
							  false, 4, types, capture_values);
		}
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
		exec_as(extension_owner(),
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
	exec_as(extension_owner(), psprintf("CREATE OR REPLACE VIEW %s AS %s", final_view, body), false);
	exec_as(extension_owner(),
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
