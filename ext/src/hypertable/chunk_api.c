/*-------------------------------------------------------------------------
 *
 * chunk_api.c
 *	  C front ends of show_chunks() and drop_chunks().
 *
 * Their bound arguments are declared "any", as TimescaleDB's are, so that
 * older_than may be an interval, a timestamp or an integer.  PL/pgSQL cannot
 * take "any", so these functions pass each argument on as its text and its
 * type to the implementations in _tally_internal, which convert it to the
 * hypertable's internal time (sql/30_chunk.sql).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "forward_args.h"
#include "search_path.h"

PG_FUNCTION_INFO_V1(tally_show_chunks);
PG_FUNCTION_INFO_V1(tally_drop_chunks);

/*
 * Run `query` with args and return its single-column result rows as this
 * function's result set.
 */
static Datum
return_query_rows(FunctionCallInfo fcinfo, const char *query, ForwardedArgs *args,
				  bool read_only)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			ret;
	uint64		i;
	int			nest_level;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = tally_pin_search_path();
	ret = SPI_execute_with_args(query, args->count, args->types, args->values, args->nulls,
								read_only, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
										  &isnull);

		/* text results live in SPI memory: copy them out via the tuplestore */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	tally_restore_search_path(nest_level);
	SPI_finish();
	return (Datum) 0;
}

/* show_chunks(relation, older_than, newer_than, created_before, created_after) */
Datum
tally_show_chunks(PG_FUNCTION_ARGS)
{
	ForwardedArgs args = {0};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be null")));
	forward_value(&args, REGCLASSOID, PG_GETARG_DATUM(0), false);
	for (int argno = 1; argno <= 4; argno++)
		forward_any(&args, fcinfo, argno);
	return return_query_rows(fcinfo,
							 "SELECT c FROM _tally_internal.show_chunks("
							 "$1, $2, $3, $4, $5, $6, $7, $8, $9) c",
							 &args, true);
}

/* drop_chunks(relation, older_than, newer_than, verbose, created_before, created_after) */
Datum
tally_drop_chunks(PG_FUNCTION_ARGS)
{
	ForwardedArgs args = {0};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be null")));
	forward_value(&args, REGCLASSOID, PG_GETARG_DATUM(0), false);
	forward_any(&args, fcinfo, 1);
	forward_any(&args, fcinfo, 2);
	forward_value(&args, BOOLOID, PG_ARGISNULL(3) ? BoolGetDatum(false) : PG_GETARG_DATUM(3),
				  false);
	forward_any(&args, fcinfo, 4);
	forward_any(&args, fcinfo, 5);
	return return_query_rows(fcinfo,
							 "SELECT c FROM _tally_internal.drop_chunks("
							 "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10) c",
							 &args, false);
}
