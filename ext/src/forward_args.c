/*-------------------------------------------------------------------------
 *
 * forward_args.c
 *	  Arguments of a C front end passed on to an SQL implementation.
 *
 * Functions that take "any" arguments, as TimescaleDB's do, cannot be
 * written in PL/pgSQL.  Their C front ends pass each such argument on as its
 * text and its type; the SQL side converts it, accepting built-in types only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "forward_args.h"

void
forward_value(ForwardedArgs *args, Oid type, Datum value, bool isnull)
{
	Assert(args->count < MAX_FORWARDED_ARGS);
	args->types[args->count] = type;
	args->values[args->count] = value;
	args->nulls[args->count] = isnull ? 'n' : ' ';
	args->count++;
}

/*
 * Forward argument argno of an "any" parameter as (text, regtype).  A string
 * literal arrives with type unknown, as a C string.
 */
void
forward_any(ForwardedArgs *args, FunctionCallInfo fcinfo, int argno)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, argno);
	Oid			output;
	bool		varlena;
	char	   *text;

	if (PG_ARGISNULL(argno) || !OidIsValid(type))
	{
		forward_value(args, TEXTOID, (Datum) 0, true);
		forward_value(args, REGTYPEOID, (Datum) 0, true);
		return;
	}
	if (type == UNKNOWNOID)
		text = pstrdup(DatumGetCString(PG_GETARG_DATUM(argno)));
	else
	{
		getTypeOutputInfo(type, &output, &varlena);
		text = OidOutputFunctionCall(output, PG_GETARG_DATUM(argno));
	}
	forward_value(args, TEXTOID, CStringGetTextDatum(text), false);
	forward_value(args, REGTYPEOID, ObjectIdGetDatum(type), false);
}

