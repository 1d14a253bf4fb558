/*-------------------------------------------------------------------------
 *
 * time_value.c
 *	  Conversions between the values of a hypertable's time column and the
 *	  int64 "internal time" in which chunk ranges and intervals are stored.
 *
 * Internal time is microseconds since 2000-01-01 (PostgreSQL's own epoch)
 * for timestamp, timestamptz and date columns (a date is its midnight), and
 * the value itself for smallint, integer and bigint columns.  Storing every
 * range as int64 keeps the catalog and the chunk arithmetic type-agnostic;
 * these functions are the only place that knows the mapping.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "hypertable/time_value.h"

PG_FUNCTION_INFO_V1(tally_time_to_internal);
PG_FUNCTION_INFO_V1(tally_time_to_internal_or_null);
PG_FUNCTION_INFO_V1(tally_internal_to_bound);
PG_FUNCTION_INFO_V1(tally_internal_to_timestamptz);

bool
tally_time_type_supported(Oid type)
{
	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
		case DATEOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return true;
		default:
			return false;
	}
}

static void
check_time_type(Oid type)
{
	if (!tally_time_type_supported(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot use type %s as a hypertable time column", format_type_be(type)),
				 errhint("Use timestamptz, timestamp, date, smallint, integer or bigint.")));
}

static void infinite_time(void) pg_attribute_noreturn();

static void
infinite_time(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("an infinite time value has no chunk"),
			 errdetail("Chunks cover finite ranges of time.")));
}

/*
 * Internal time of value, or false when it has none: infinite, or a date
 * too far out for microseconds in an int64.
 */
bool
tally_try_time_datum_to_internal(Datum value, Oid type, int64 *result)
{
	check_time_type(type);
	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			*result = DatumGetTimestamp(value);
			return !TIMESTAMP_NOT_FINITE(*result);
		case DATEOID:
			return !DATE_NOT_FINITE(DatumGetDateADT(value)) &&
				!pg_mul_s64_overflow((int64) DatumGetDateADT(value), USECS_PER_DAY, result);
		case INT2OID:
			*result = DatumGetInt16(value);
			return true;
		case INT4OID:
			*result = DatumGetInt32(value);
			return true;
		default:
			*result = DatumGetInt64(value);
			return true;
	}
}

int64
tally_time_datum_to_internal(Datum value, Oid type)
{
	int64		result;

	if (tally_try_time_datum_to_internal(value, type, &result))
		return result;
	if (type == DATEOID && !DATE_NOT_FINITE(DatumGetDateADT(value)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date out of range for a chunk")));
	infinite_time();
	pg_unreachable();
}

/* _tally_internal.time_to_internal(anyelement) returns bigint */
Datum
tally_time_to_internal(PG_FUNCTION_ARGS)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);

	PG_RETURN_INT64(tally_time_datum_to_internal(PG_GETARG_DATUM(0), type));
}

/* See time_value.h. */
void
tally_chunk_domain(Oid type, int64 *min, int64 *end)
{
	check_time_type(type);
	switch (type)
	{
		case INT2OID:
			*min = PG_INT16_MIN;
			*end = (int64) PG_INT16_MAX + 1;
			break;
		case INT4OID:
			*min = PG_INT32_MIN;
			*end = (int64) PG_INT32_MAX + 1;
			break;
		case INT8OID:
			*min = PG_INT64_MIN;
			*end = PG_INT64_MAX;
			break;
		default:
			*min = MIN_TIMESTAMP;
			*end = END_TIMESTAMP;
			break;
	}
}

/*
 * _tally_internal.time_to_internal_or_null(anyelement) returns bigint
 *
 * As time_to_internal, but NULL for a value that no chunk can hold
 * (infinite, or a date beyond the range of timestamps), so that one such
 * row cannot stop chunk maintenance for all the others.
 */
Datum
tally_time_to_internal_or_null(PG_FUNCTION_ARGS)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	int64		result;
	int64		min;
	int64		end;

	if (!tally_try_time_datum_to_internal(PG_GETARG_DATUM(0), type, &result))
		PG_RETURN_NULL();
	tally_chunk_domain(type, &min, &end);
	if (result < min || (result >= end && end != PG_INT64_MAX))
		PG_RETURN_NULL();
	PG_RETURN_INT64(result);
}

/*
 * _tally_internal.internal_to_bound(bigint, regtype) returns text
 *
 * A partition bound for internal time, exact for every value of the time
 * column: a quoted literal of the column's type, in ISO format whatever
 * DateStyle says and with an explicit +00 for timestamptz, so that it means
 * the same in every session.  Beyond the type's range it is MINVALUE or
 * MAXVALUE for integers; for time types the earliest timestamp, or
 * 'infinity' as an exclusive upper bound, which keeps infinite values out
 * of every chunk.  The largest bigint is a literal, not MAXVALUE: the
 * caller that means "through the end" says MAXVALUE itself.
 */
Datum
tally_internal_to_bound(PG_FUNCTION_ARGS)
{
	int64		internal = PG_GETARG_INT64(0);
	Oid			type = PG_GETARG_OID(1);
	int64		min;
	int64		end;
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[MAXDATELEN + 1];

	tally_chunk_domain(type, &min, &end);
	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			if (internal >= END_TIMESTAMP)
				PG_RETURN_TEXT_P(cstring_to_text("'infinity'"));
			if (internal < MIN_TIMESTAMP)
				internal = MIN_TIMESTAMP;
			if (timestamp2tm(internal, NULL, &tm, &fsec, NULL, NULL) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("chunk boundary out of range for type %s",
								format_type_be(type))));
			EncodeDateTime(&tm, fsec, type == TIMESTAMPTZOID, 0, NULL, USE_ISO_DATES, buf);
			PG_RETURN_TEXT_P(cstring_to_text(quote_literal_cstr(buf)));
		case DATEOID:
			/* every int64 of whole days at or after the earliest date is a date */
			if (internal < MIN_TIMESTAMP)
				internal = MIN_TIMESTAMP;
			memset(&tm, 0, sizeof(tm));
			j2date((int) (internal / USECS_PER_DAY + (internal % USECS_PER_DAY < 0 ? -1 : 0)
						  + POSTGRES_EPOCH_JDATE),
				   &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
			EncodeDateOnly(&tm, USE_ISO_DATES, buf);
			PG_RETURN_TEXT_P(cstring_to_text(quote_literal_cstr(buf)));
		default:
			if (internal < min)
				PG_RETURN_TEXT_P(cstring_to_text("MINVALUE"));
			if (internal >= end && end != PG_INT64_MAX)
				PG_RETURN_TEXT_P(cstring_to_text("MAXVALUE"));
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("'" INT64_FORMAT "'", internal)));
	}
}

/*
 * _tally_internal.internal_to_timestamptz(bigint) returns timestamptz
 *
 * For display in information views: internal time of a timestamp or date
 * column shown as the timestamptz with the same microseconds.  A chunk
 * that runs to the end of time ends at 'infinity'.
 */
Datum
tally_internal_to_timestamptz(PG_FUNCTION_ARGS)
{
	int64		internal = PG_GETARG_INT64(0);

	if (internal >= END_TIMESTAMP)
		PG_RETURN_TIMESTAMPTZ(DT_NOEND);
	if (internal < MIN_TIMESTAMP)
		PG_RETURN_TIMESTAMPTZ(DT_NOBEGIN);
	PG_RETURN_TIMESTAMPTZ(internal);
}
