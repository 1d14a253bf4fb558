/*-------------------------------------------------------------------------
 *
 * chunk_range.c
 *	  Chunk widths, and the aligned chunk that holds a point of internal time.
 *
 * A chunk width is either fixed, in internal units, or a number of calendar
 * months.  Chunks of a fixed width are aligned on the Unix epoch for time
 * types (as TimescaleDB's are) and on zero for integers.  Calendar chunks
 * run from the first of a month to the first of the month N later, N
 * months counted from 2000-01-01 (as time_bucket counts them), reading
 * internal time without a time zone: in UTC for timestamptz, in the plain
 * calendar for timestamp and date.  A chunk at either end of
 * the time column's type is clipped to the type's range
 * (tally_chunk_domain), so that the catalog records exactly which values a
 * chunk can hold and drop_chunks can compare bounds exactly.
 * chunk_for_point (sql/30_chunk.sql) then clips the range again against
 * the chunks that already exist.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "hypertable/time_value.h"
#include "time_bucket/time_bucket.h"

PG_FUNCTION_INFO_V1(tally_interval_to_chunk_width);
PG_FUNCTION_INFO_V1(tally_interval_to_internal);
PG_FUNCTION_INFO_V1(tally_chunk_range);
PG_FUNCTION_INFO_V1(tally_chunk_number);
PG_FUNCTION_INFO_V1(tally_chunk_domain_of);

/* The Unix epoch in internal time: fixed-width chunks are aligned on it. */
#define UNIX_EPOCH_INTERNAL ((int64) (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)

/* Calendar chunks count months from 2000-01-01, as time_bucket does. */
#define MONTH_ORIGIN_YEAR 2000

static inline bool
is_integer_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/*
 * The chunk width an interval gives a time column of the given type: whole
 * months (and years) make calendar chunks (*months), days and time a fixed
 * width in microseconds (*usecs).  A month has no fixed length, so an
 * interval mixing the two has no meaning as a width and is refused.
 */
static void
interval_chunk_width(const Interval *interval, Oid type, int64 *usecs, int32 *months)
{
	if (!tally_time_type_supported(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot use type %s as a hypertable time column", format_type_be(type))));
	if (is_integer_type(type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an interval cannot be the chunk interval of a time column of type %s",
						format_type_be(type)),
				 errhint("Give the chunk interval as an integer in the column's units.")));
	if (interval->month != 0 && (interval->day != 0 || interval->time != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chunk interval \"%s\" mixes months with days or time",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(interval)))),
				 errdetail("A month has no fixed length."),
				 errhint("Give whole months or years for calendar chunks, or days and time for chunks of a fixed width.")));
	*months = interval->month;
	*usecs = 0;
	if (interval->month == 0 &&
		(pg_mul_s64_overflow((int64) interval->day, USECS_PER_DAY, usecs) ||
		 pg_add_s64_overflow(*usecs, interval->time, usecs)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERVAL_FIELD_OVERFLOW),
				 errmsg("chunk interval out of range")));
	if (*months < 0 || (*months == 0 && *usecs <= 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chunk interval must be greater than zero")));
	if (type == DATEOID && *usecs % USECS_PER_DAY != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chunk interval for a date column must be whole days")));
}

/*
 * _tally_internal.interval_to_chunk_width(width interval, time_type regtype,
 *     OUT chunk_interval bigint, OUT chunk_months integer)
 */
Datum
tally_interval_to_chunk_width(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int64		usecs;
	int32		months;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	interval_chunk_width(PG_GETARG_INTERVAL_P(0), PG_GETARG_OID(1), &usecs, &months);
	values[0] = Int64GetDatum(usecs);
	values[1] = Int32GetDatum(months);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * _tally_internal.interval_to_internal(interval, regtype) returns bigint
 *
 * The fixed width of an interval, months refused: the SQL of versions
 * before 0.4.0 calls it, and the library must load their scripts until
 * ALTER EXTENSION ... UPDATE replaces them.
 */
Datum
tally_interval_to_internal(PG_FUNCTION_ARGS)
{
	Interval   *interval = PG_GETARG_INTERVAL_P(0);
	int64		usecs;
	int32		months;

	if (interval->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chunk interval cannot be given in months or years"),
				 errhint("Calendar chunks need the extension updated: ALTER EXTENSION tally UPDATE.")));
	interval_chunk_width(interval, PG_GETARG_OID(1), &usecs, &months);
	PG_RETURN_INT64(usecs);
}

/*
 * Internal time of midnight on the first of the month that is `months`
 * months after the origin's month, clipped to [min, end].
 */
static int64
month_start(int64 months, int64 min, int64 end)
{
	int64		year = MONTH_ORIGIN_YEAR + tally_floor_div(months, 12);
	int			month = (int) (months - tally_floor_div(months, 12) * 12) + 1;
	int64		result;

	/* beyond these years lies no timestamp, and the product might overflow */
	if (year < -4713)
		return min;
	if (year >= 294277)
		return end;
	result = (int64) (date2j((int) year, month, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
	return Min(Max(result, min), end);
}

/*
 * The aligned chunk holding point: its number (chunks are numbered
 * consecutively from an aligned origin) and its range [*start, *end),
 * clipped to the type's domain.  A point outside the domain has no chunk:
 * an error.
 */
static void
aligned_chunk(int64 point, int64 width, int32 months, Oid type, int64 *number, int64 *start,
			  int64 *end)
{
	int64		min;
	int64		domain_end;
	bool		is_integer = is_integer_type(type);
	int64		origin;
	int64		q;

	tally_chunk_domain(type, &min, &domain_end);
	if (months < 0 || (months == 0 && width <= 0) || (months > 0 && width != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid chunk width: " INT64_FORMAT " and %d months", width, months)));
	if (months > 0 && is_integer)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an integer time column cannot have calendar chunks")));
	if (point < min || (point >= domain_end && domain_end != PG_INT64_MAX))
	{
		if (is_integer)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value " INT64_FORMAT " is out of range for type %s",
							point, format_type_be(type))));
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("no chunk can hold a %s beyond the range of timestamps",
						format_type_be(type)),
				 errdetail("Chunks cover 4714-11-24 BC to 294276-12-31 AD.")));
	}

	if (months > 0)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int64		month;

		/* a point in the domain is a valid timestamp */
		if (timestamp2tm(point, NULL, &tm, &fsec, NULL, NULL) != 0)
			elog(ERROR, "could not split internal time " INT64_FORMAT, point);
		month = (int64) (tm.tm_year - MONTH_ORIGIN_YEAR) * 12 + (tm.tm_mon - 1);
		q = tally_floor_div(month, months);
		*number = q;
		*start = month_start(q * months, min, domain_end);
		*end = month_start((q + 1) * months, min, domain_end);
		return;
	}

	/* the largest bigint belongs to the chunk before it, bounded by MAXVALUE */
	if (point == PG_INT64_MAX)
		point--;

	/*
	 * The same alignment from the origin's remainder, in [0, width): then
	 * point - origin can only fall below the int64 range, for a time point
	 * and a width wider than all timestamps, and lies in (-2 width, -width).
	 */
	origin = is_integer ? 0 : UNIX_EPOCH_INTERNAL % width;
	if (origin < 0)
		origin += width;
	if (pg_sub_s64_overflow(point, origin, &q))
		q = -2;
	else
		q = tally_floor_div(q, width);
	*number = q;
	/* the start can fall below the domain, the end above it: clip */
	if (pg_mul_s64_overflow(q, width, start) || *start + origin < min)
		*start = min;
	else
		*start += origin;
	if (pg_mul_s64_overflow(q + 1, width, end) || pg_add_s64_overflow(*end, origin, end) ||
		*end > domain_end)
		*end = domain_end;
}

/*
 * _tally_internal.chunk_range(point bigint, chunk_interval bigint,
 *     chunk_months integer, time_type regtype,
 *     OUT range_start bigint, OUT range_end bigint)
 *
 * The range of the aligned chunk holding point, before any clipping
 * against existing chunks.
 */
Datum
tally_chunk_range(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int64		number;
	int64		start;
	int64		end;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	aligned_chunk(PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_INT32(2), PG_GETARG_OID(3),
				  &number, &start, &end);
	values[0] = Int64GetDatum(start);
	values[1] = Int64GetDatum(end);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * _tally_internal.chunk_number(point bigint, chunk_interval bigint,
 *     chunk_months integer, time_type regtype) returns bigint
 *
 * The number of the aligned chunk holding point: consecutive chunks have
 * consecutive numbers, so ensure_chunks can count before it creates.
 */
Datum
tally_chunk_number(PG_FUNCTION_ARGS)
{
	int64		number;
	int64		start;
	int64		end;

	aligned_chunk(PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_INT32(2), PG_GETARG_OID(3),
				  &number, &start, &end);
	PG_RETURN_INT64(number);
}

/*
 * _tally_internal.chunk_domain(time_type regtype, OUT range_start bigint,
 *     OUT range_end bigint)
 *
 * What chunks of a column of time_type can cover (tally_chunk_domain):
 * where a partition bounded by MINVALUE or MAXVALUE starts or ends.
 */
Datum
tally_chunk_domain_of(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int64		min;
	int64		end;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tally_chunk_domain(PG_GETARG_OID(0), &min, &end);
	values[0] = Int64GetDatum(min);
	values[1] = Int64GetDatum(end);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
