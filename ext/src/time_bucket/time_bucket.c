/*-------------------------------------------------------------------------
 *
 * time_bucket.c
 *	  time_bucket(): truncate a time value to the start of its bucket.
 *
 * Results match TimescaleDB's (2.25 and later) for the same arguments:
 * sub-month widths are aligned on an origin that defaults to Monday
 * 2000-01-03, month and year widths on calendar months counted from
 * 2000-01-01.  An "offset" shifts the bucket boundaries; a timezone makes
 * buckets follow local wall-clock time, so a daily bucket spans 23 or 25
 * hours across a DST change.  Infinite inputs are returned unchanged, as
 * nothing finite can contain them.
 *
 * On a timestamptz the offset is timestamptz arithmetic, as TimescaleDB
 * defines it (ts - offset, bucketed, + offset): its time part is elapsed
 * time, its days and months are calendar steps in the session's time zone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "time_bucket/time_bucket.h"

/* Default origins, as PostgreSQL timestamps (microseconds since 2000-01-01). */
#define DEFAULT_ORIGIN_SUBMONTH (2 * USECS_PER_DAY)	/* 2000-01-03, a Monday */
#define DEFAULT_ORIGIN_MONTH	INT64CONST(0)		/* 2000-01-01 */

PG_FUNCTION_INFO_V1(tally_time_bucket_ts);
PG_FUNCTION_INFO_V1(tally_time_bucket_ts_origin);
PG_FUNCTION_INFO_V1(tally_time_bucket_ts_offset);
PG_FUNCTION_INFO_V1(tally_time_bucket_tstz);
PG_FUNCTION_INFO_V1(tally_time_bucket_tstz_origin);
PG_FUNCTION_INFO_V1(tally_time_bucket_tstz_offset);
PG_FUNCTION_INFO_V1(tally_time_bucket_tstz_timezone);
PG_FUNCTION_INFO_V1(tally_time_bucket_date);
PG_FUNCTION_INFO_V1(tally_time_bucket_date_origin);
PG_FUNCTION_INFO_V1(tally_time_bucket_date_offset);
PG_FUNCTION_INFO_V1(tally_time_bucket_int16);
PG_FUNCTION_INFO_V1(tally_time_bucket_int16_offset);
PG_FUNCTION_INFO_V1(tally_time_bucket_int32);
PG_FUNCTION_INFO_V1(tally_time_bucket_int32_offset);
PG_FUNCTION_INFO_V1(tally_time_bucket_int64);
PG_FUNCTION_INFO_V1(tally_time_bucket_int64_offset);

static inline void
check_width_positive(bool positive)
{
	if (!positive)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket width must be greater than zero")));
}

static void timestamp_out_of_range(void) pg_attribute_noreturn();

static void
timestamp_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range")));
}

/*
 * Check that an interval is usable as a bucket width: positive, and either
 * purely months (calendar buckets) or purely days and time (fixed buckets).
 */
static void
check_width_interval(const Interval *width)
{
	if (width->month != 0 && (width->day != 0 || width->time != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket width cannot mix months with days or time"),
				 errdetail("The width was %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(width)))),
				 errhint("Use a width of whole months or years, or one without months.")));
	if (width->month != 0)
		check_width_positive(width->month > 0);
	else
	{
		int64		usecs;

		if (pg_mul_s64_overflow((int64) width->day, USECS_PER_DAY, &usecs) ||
			pg_add_s64_overflow(usecs, width->time, &usecs))
			ereport(ERROR,
					(errcode(ERRCODE_INTERVAL_FIELD_OVERFLOW),
					 errmsg("bucket width is out of range")));
		check_width_positive(usecs > 0);
	}
}

/* Microseconds of a width already checked not to contain months. */
static inline int64
width_usecs(const Interval *width)
{
	return (int64) width->day * USECS_PER_DAY + width->time;
}

/*
 * Start of the fixed-width bucket holding ts.  The origin is first reduced
 * modulo the width, so that ts - origin cannot overflow for any valid
 * timestamp, then the bucket start is origin + floor((ts - origin) / width).
 */
static Timestamp
bucket_fixed(int64 width, Timestamp ts, Timestamp origin)
{
	int64		delta;
	int64		start;

	origin = origin % width;
	if (pg_sub_s64_overflow(ts, origin, &delta))
		timestamp_out_of_range();
	if (pg_mul_s64_overflow(tally_floor_div(delta, width), width, &start) ||
		pg_add_s64_overflow(start, origin, &start) || !IS_VALID_TIMESTAMP(start))
		timestamp_out_of_range();
	return start;
}

/* Months since year 0 of a timestamp's calendar date. */
static int
timestamp_month_number(Timestamp ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		timestamp_out_of_range();
	return tm.tm_year * 12 + (tm.tm_mon - 1);
}

/*
 * Start of the calendar bucket of `months` months holding ts: midnight on
 * the first day of a month, counted in whole buckets from origin's month.
 * Like TimescaleDB, the origin's day and time of day are not used.
 */
static Timestamp
bucket_months(int32 months, Timestamp ts, Timestamp origin)
{
	int			ts_month = timestamp_month_number(ts);
	int			origin_month = timestamp_month_number(origin);
	int			start_month;
	struct pg_tm tm = {0};
	Timestamp	result;

	start_month = origin_month + (int) tally_floor_div((int64) ts_month - origin_month, months) * months;
	tm.tm_year = (int) tally_floor_div(start_month, 12);
	tm.tm_mon = start_month - tm.tm_year * 12 + 1;
	tm.tm_mday = 1;
	if (tm2timestamp(&tm, 0, NULL, &result) != 0 || !IS_VALID_TIMESTAMP(result))
		timestamp_out_of_range();
	return result;
}

/*
 * Bucket a finite timestamp (no time zone) by width, with an optional origin
 * and offset.  The offset moves the boundaries: ts - offset is bucketed and
 * the offset added back.
 */
Timestamp
tally_bucket_timestamp(const Interval *width, Timestamp ts, const Timestamp *origin,
					   const Interval *offset)
{
	Timestamp	shifted = ts;
	Timestamp	result;

	check_width_interval(width);
	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;

	if (offset != NULL)
		shifted = DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval,
														TimestampGetDatum(ts),
														IntervalPGetDatum(offset)));
	if (origin != NULL && TIMESTAMP_NOT_FINITE(*origin))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("origin must be finite")));

	if (width->month != 0)
		result = bucket_months(width->month, shifted,
							   origin ? *origin : DEFAULT_ORIGIN_MONTH);
	else
		result = bucket_fixed(width_usecs(width), shifted,
							  origin ? *origin : DEFAULT_ORIGIN_SUBMONTH);

	if (offset != NULL)
		result = DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval,
													   TimestampGetDatum(result),
													   IntervalPGetDatum(offset)));
	return result;
}

Datum
tally_time_bucket_ts(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMP(tally_bucket_timestamp(PG_GETARG_INTERVAL_P(0),
											   PG_GETARG_TIMESTAMP(1), NULL, NULL));
}

Datum
tally_time_bucket_ts_origin(PG_FUNCTION_ARGS)
{
	Timestamp	origin = PG_GETARG_TIMESTAMP(2);

	PG_RETURN_TIMESTAMP(tally_bucket_timestamp(PG_GETARG_INTERVAL_P(0),
											   PG_GETARG_TIMESTAMP(1), &origin, NULL));
}

Datum
tally_time_bucket_ts_offset(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMP(tally_bucket_timestamp(PG_GETARG_INTERVAL_P(0),
											   PG_GETARG_TIMESTAMP(1), NULL,
											   PG_GETARG_INTERVAL_P(2)));
}

/*
 * Without a timezone, a timestamptz is bucketed on its UTC value: the
 * internal representation of both types is microseconds since 2000-01-01,
 * UTC for timestamptz.
 */
Datum
tally_time_bucket_tstz(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(tally_bucket_timestamp(PG_GETARG_INTERVAL_P(0),
												 PG_GETARG_TIMESTAMPTZ(1), NULL, NULL));
}

Datum
tally_time_bucket_tstz_origin(PG_FUNCTION_ARGS)
{
	TimestampTz origin = PG_GETARG_TIMESTAMPTZ(2);

	PG_RETURN_TIMESTAMPTZ(tally_bucket_timestamp(PG_GETARG_INTERVAL_P(0),
												 PG_GETARG_TIMESTAMPTZ(1), &origin, NULL));
}

/*
 * time_bucket(width, timestamptz, "offset"): the buckets are UTC's, but the
 * offset is subtracted and added back with timestamptz arithmetic, so an
 * offset of days or months moves by calendar days or months of the session's
 * time zone (23 or 25 hours across its DST changes), as in TimescaleDB.  The
 * result therefore depends on the TimeZone setting when the offset has days
 * or months; TimescaleDB declares the function immutable all the same, and
 * so does this extension, to stay a drop-in replacement.
 */
Datum
tally_time_bucket_tstz_offset(PG_FUNCTION_ARGS)
{
	Interval   *width = PG_GETARG_INTERVAL_P(0);
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(1);
	Datum		offset = PG_GETARG_DATUM(2);
	TimestampTz shifted;
	TimestampTz bucket;

	check_width_interval(width);
	if (TIMESTAMP_NOT_FINITE(ts))
		PG_RETURN_TIMESTAMPTZ(ts);

	shifted = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													  TimestampTzGetDatum(ts), offset));
	bucket = tally_bucket_timestamp(width, shifted, NULL, NULL);
	PG_RETURN_DATUM(DirectFunctionCall2(timestamptz_pl_interval,
										TimestampTzGetDatum(bucket), offset));
}

/*
 * Move a local bucket start, converted back to an instant, to at or before
 * ts.  A local start that occurs twice (clocks set back) is read by
 * PostgreSQL as the later instant, which can lie after ts; TimescaleDB then
 * steps back by whole widths until the start is not after ts, and so does
 * this.  For a width longer than the DST shift that start is not a local
 * bucket boundary (a 2-hour bucket can start at an odd hour), but it is what
 * TimescaleDB returns.  Fixed widths step by their length in microseconds,
 * in one division rather than a loop, as a width of seconds may need
 * thousands of steps; month widths step by calendar months.
 */
static TimestampTz
step_back_to(const Interval *width, TimestampTz start, TimestampTz ts)
{
	if (width->month == 0)
	{
		int64		usecs = width_usecs(width);
		int64		late = start - ts;
		int64		steps = late / usecs + (late % usecs != 0);

		start -= steps * usecs;
		if (!IS_VALID_TIMESTAMP(start))
			timestamp_out_of_range();
		return start;
	}
	while (start > ts)
		start = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														TimestampTzGetDatum(start),
														IntervalPGetDatum(width)));
	return start;
}

/*
 * time_bucket(width, ts, timezone [, origin [, offset]]): the bucket is
 * computed on the wall-clock time in `timezone` and converted back, so
 * boundaries fall on local midnights (or local month starts) whatever the
 * UTC offset of the day.  Not strict: origin and offset may be NULL, which
 * means their defaults; a NULL width, ts or timezone gives NULL.
 *
 * As in TimescaleDB since 2.25 (its fix of issues #7059, #8851 and #9136),
 * the offset is applied to the instant, not to the local time: ts - offset
 * is bucketed in local time and the offset added back to the bucket's start
 * as an instant.  A boundary is thus a local bucket start plus the offset in
 * elapsed time, and never a local time that does not exist: with an offset
 * of 15 minutes the hour after a spring-forward change starts 15 minutes
 * after it, not at the skipped local 00:15.  The offset's days and months,
 * if any, are calendar steps in the session's time zone, as in the
 * three-argument form.
 */
Datum
tally_time_bucket_tstz_timezone(PG_FUNCTION_ARGS)
{
	Interval   *width;
	TimestampTz ts;
	text	   *zone;
	TimestampTz shifted;
	Timestamp	local;
	Timestamp	local_origin;
	Timestamp	bucket;
	TimestampTz result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	width = PG_GETARG_INTERVAL_P(0);
	ts = PG_GETARG_TIMESTAMPTZ(1);
	zone = PG_GETARG_TEXT_PP(2);

	check_width_interval(width);
	if (TIMESTAMP_NOT_FINITE(ts))
		PG_RETURN_TIMESTAMPTZ(ts);

	shifted = ts;
	if (!PG_ARGISNULL(4))
		shifted = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														  TimestampTzGetDatum(ts),
														  PG_GETARG_DATUM(4)));
	local = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
												  PointerGetDatum(zone),
												  TimestampTzGetDatum(shifted)));
	if (!PG_ARGISNULL(3))
		local_origin = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
															 PointerGetDatum(zone),
															 PG_GETARG_DATUM(3)));
	bucket = tally_bucket_timestamp(width, local,
									PG_ARGISNULL(3) ? NULL : &local_origin, NULL);

	result = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
													 PointerGetDatum(zone),
													 TimestampGetDatum(bucket)));
	if (result > shifted)
		result = step_back_to(width, result, shifted);

	if (!PG_ARGISNULL(4))
		result = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														 TimestampTzGetDatum(result),
														 PG_GETARG_DATUM(4)));
	PG_RETURN_TIMESTAMPTZ(result);
}

/*
 * Dates are bucketed as midnight timestamps.  A width with a time part has
 * no meaning for a date and is refused rather than silently rounded.
 */
static DateADT
bucket_date(const Interval *width, DateADT date, const DateADT *origin,
			const Interval *offset)
{
	Timestamp	ts;
	Timestamp	origin_ts;
	Timestamp	bucket;

	check_width_interval(width);
	if (width->time != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket width for a date must be whole days, months or years"),
				 errhint("Cast the date to timestamp to use a width with hours or smaller units.")));
	if (DATE_NOT_FINITE(date))
		return date;

	ts = date2timestamp_no_overflow(date);
	if (origin != NULL)
	{
		if (DATE_NOT_FINITE(*origin))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("origin must be finite")));
		origin_ts = date2timestamp_no_overflow(*origin);
	}
	bucket = tally_bucket_timestamp(width, ts, origin ? &origin_ts : NULL, offset);
	return DatumGetDateADT(DirectFunctionCall1(timestamp_date, TimestampGetDatum(bucket)));
}

Datum
tally_time_bucket_date(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATEADT(bucket_date(PG_GETARG_INTERVAL_P(0), PG_GETARG_DATEADT(1),
								  NULL, NULL));
}

Datum
tally_time_bucket_date_origin(PG_FUNCTION_ARGS)
{
	DateADT		origin = PG_GETARG_DATEADT(2);

	PG_RETURN_DATEADT(bucket_date(PG_GETARG_INTERVAL_P(0), PG_GETARG_DATEADT(1),
								  &origin, NULL));
}

Datum
tally_time_bucket_date_offset(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATEADT(bucket_date(PG_GETARG_INTERVAL_P(0), PG_GETARG_DATEADT(1),
								  NULL, PG_GETARG_INTERVAL_P(2)));
}

/*
 * Integer buckets: floor(value - offset, width) + offset, where the offset is
 * first reduced modulo the width.  An out-of-range result is an error, never
 * a wrapped value.
 */
int64
tally_bucket_integer(int64 width, int64 value, int64 offset, int64 min, int64 max)
{
	int64		shifted;
	int64		start;

	check_width_positive(width > 0);
	offset = offset % width;
	if (pg_sub_s64_overflow(value, offset, &shifted))
		goto out_of_range;
	if (pg_mul_s64_overflow(tally_floor_div(shifted, width), width, &start) ||
		pg_add_s64_overflow(start, offset, &start) || start < min || start > max)
		goto out_of_range;
	return start;

out_of_range:
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("time_bucket result is out of range for its type"),
			 errdetail("Bucketing %lld by width %lld does not fit.",
					   (long long) value, (long long) width)));
	pg_unreachable();
}

Datum
tally_time_bucket_int16(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT16((int16) tally_bucket_integer(PG_GETARG_INT16(0), PG_GETARG_INT16(1), 0,
												 PG_INT16_MIN, PG_INT16_MAX));
}

Datum
tally_time_bucket_int16_offset(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT16((int16) tally_bucket_integer(PG_GETARG_INT16(0), PG_GETARG_INT16(1),
												 PG_GETARG_INT16(2),
												 PG_INT16_MIN, PG_INT16_MAX));
}

Datum
tally_time_bucket_int32(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) tally_bucket_integer(PG_GETARG_INT32(0), PG_GETARG_INT32(1), 0,
												 PG_INT32_MIN, PG_INT32_MAX));
}

Datum
tally_time_bucket_int32_offset(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) tally_bucket_integer(PG_GETARG_INT32(0), PG_GETARG_INT32(1),
												 PG_GETARG_INT32(2),
												 PG_INT32_MIN, PG_INT32_MAX));
}

Datum
tally_time_bucket_int64(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(tally_bucket_integer(PG_GETARG_INT64(0), PG_GETARG_INT64(1), 0,
										 PG_INT64_MIN, PG_INT64_MAX));
}

Datum
tally_time_bucket_int64_offset(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(tally_bucket_integer(PG_GETARG_INT64(0), PG_GETARG_INT64(1),
										 PG_GETARG_INT64(2),
										 PG_INT64_MIN, PG_INT64_MAX));
}
