-- time_bucket(): every signature, edge cases, and the errors.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- sub-month widths align on Monday 2000-01-03
SELECT time_bucket('1 week', '2024-01-10 12:00'::timestamp) AS monday,
       time_bucket('1 day', '2024-01-10 12:00'::timestamp) AS day,
       time_bucket('15 minutes', '2024-01-10 12:44:59.999999'::timestamp) AS quarter_hour,
       time_bucket('1 microsecond', '2024-01-10 12:00:00.123456'::timestamp) AS usec;

-- before the origin, buckets still start at or before the value
SELECT time_bucket('1 day', '1999-12-31 23:00'::timestamp) AS day_before_origin,
       time_bucket('1 week', '2000-01-02 23:59'::timestamp) AS week_before_origin,
       time_bucket('5 minutes', '1999-12-31 23:58'::timestamp) AS five_min,
       time_bucket('1 hour', '1900-06-15 10:30'::timestamp) AS long_ago,
       time_bucket('1 day', '0044-03-15 12:00 BC'::timestamp) AS bc;

-- months and years: calendar months counted from 2000-01-01
SELECT time_bucket('1 month', '2024-02-29 23:59'::timestamp) AS leap_day,
       time_bucket('1 month', '2024-01-31'::timestamp) AS month_end,
       time_bucket('3 months', '2024-05-15'::timestamp) AS quarter,
       time_bucket('1 year', '2024-12-31 23:59:59'::timestamp) AS year,
       time_bucket('2 years', '2023-06-01'::timestamp) AS two_years,
       time_bucket('1 month', '1999-12-31'::timestamp) AS month_before_origin,
       time_bucket('5 months', '1999-09-01'::timestamp) AS five_months_before_origin;

-- origin and offset
SELECT time_bucket('1 day', '2024-01-10 05:00'::timestamp, '2000-01-01 06:00'::timestamp) AS day_from_6am,
       time_bucket('1 day', '2024-01-10 05:00'::timestamp, '6 hours'::interval) AS day_offset_6h,
       time_bucket('1 week', '2024-01-10'::timestamp, '2024-01-07'::timestamp) AS sunday_weeks,
       time_bucket('1 month', '2024-01-10'::timestamp, '2000-01-15'::timestamp) AS month_origin_day_ignored,
       time_bucket('1 month', '2024-01-10'::timestamp, '-10 days'::interval) AS month_offset;

-- timestamptz without a timezone buckets on UTC
SELECT time_bucket('1 day', '2024-01-10 23:30+00'::timestamptz) AS day,
       time_bucket('1 month', '2024-02-01 00:30+02'::timestamptz) AS month_utc,
       time_bucket('1 hour', '2024-01-10 10:45+00'::timestamptz, '2000-01-01 00:30+00'::timestamptz) AS half_past,
       time_bucket('1 hour', '2024-01-10 10:45+00'::timestamptz, '15 minutes'::interval) AS offset_15;

-- timezone: buckets follow local wall-clock time across DST changes.
-- Europe/Berlin went from +01 to +02 on 2024-03-31 and back on 2024-10-27.
SELECT ts,
       time_bucket('1 day', ts, 'Europe/Berlin') AS berlin_day,
       time_bucket('1 hour', ts, 'Europe/Berlin') AS berlin_hour,
       time_bucket('1 month', ts, 'Europe/Berlin') AS berlin_month
  FROM (VALUES ('2024-03-30 22:59:59+00'::timestamptz),
               ('2024-03-30 23:00:00+00'),
               ('2024-03-31 00:59:59+00'),
               ('2024-03-31 01:00:00+00'),
               ('2024-03-31 21:59:59+00'),
               ('2024-03-31 22:00:00+00'),
               ('2024-10-27 00:30:00+00'),
               ('2024-10-27 01:30:00+00'),
               ('2024-10-31 23:30:00+00')) AS t(ts);

-- a DST day is 23 or 25 hours long
SELECT time_bucket('1 day', '2024-04-01 12:00+00'::timestamptz, 'Europe/Berlin')
     - time_bucket('1 day', '2024-03-31 12:00+00'::timestamptz, 'Europe/Berlin') AS spring_day,
       time_bucket('1 day', '2024-10-28 12:00+00'::timestamptz, 'Europe/Berlin')
     - time_bucket('1 day', '2024-10-27 12:00+00'::timestamptz, 'Europe/Berlin') AS autumn_day;

-- timezone with origin and offset, NULLs meaning the defaults
SELECT time_bucket('1 day', '2024-06-10 03:00+00'::timestamptz, 'America/New_York') AS ny_day,
       time_bucket('1 day', '2024-06-10 03:00+00'::timestamptz, 'America/New_York', NULL, NULL) AS ny_day_nulls,
       time_bucket('1 day', '2024-06-10 03:00+00'::timestamptz, 'America/New_York', "offset" => '2 hours') AS ny_offset,
       time_bucket('1 week', '2024-06-10 03:00+00'::timestamptz, 'UTC', origin => '2024-01-07 00:00+00') AS utc_sunday_weeks;

-- dates
SELECT time_bucket('1 week', '2024-01-10'::date) AS week,
       time_bucket('1 month', '2024-02-29'::date) AS month,
       time_bucket('1 year', '2024-12-31'::date) AS year,
       time_bucket('2 days', '2024-01-10'::date, '2024-01-01'::date) AS origin,
       time_bucket('1 month', '2024-01-10'::date, '14 days'::interval) AS offset_month,
       time_bucket('1 day', '1999-01-01'::date) AS day;

-- integers, including negative values and offsets
SELECT time_bucket(10, 5) AS i5, time_bucket(10, -5) AS i_neg5, time_bucket(10, -10) AS i_neg10,
       time_bucket(10, -11) AS i_neg11, time_bucket(10, 5, 2) AS off2, time_bucket(10, 1, 2) AS off2_below,
       time_bucket(10, 1, -2) AS off_neg2, time_bucket(10, 1, 25) AS off_wide;
SELECT time_bucket(7::smallint, (-1)::smallint) AS small,
       time_bucket(7::smallint, 30::smallint, 3::smallint) AS small_offset,
       time_bucket(1000000000000::bigint, -1::bigint) AS big,
       time_bucket(3::bigint, 9223372036854775807::bigint) AS big_max,
       time_bucket(3::bigint, -9223372036854775806::bigint) AS big_near_min;

-- infinity and NULL
SELECT time_bucket('1 day', 'infinity'::timestamptz) AS inf,
       time_bucket('1 day', '-infinity'::timestamp) AS neg_inf,
       time_bucket('1 month', 'infinity'::date) AS date_inf,
       time_bucket('1 day', 'infinity'::timestamptz, 'Europe/Berlin') AS tz_inf;
SELECT time_bucket('1 day', NULL::timestamptz) IS NULL AS null_ts,
       time_bucket(NULL::interval, now()) IS NULL AS null_width,
       time_bucket('1 day', now(), NULL::text) IS NULL AS null_zone,
       time_bucket(10, NULL::int) IS NULL AS null_int;

-- errors
SELECT time_bucket('0 days', now());
SELECT time_bucket('-1 hour', '2024-01-01'::timestamp);
SELECT time_bucket('1 month 2 days', now());
SELECT time_bucket('-1 month', now());
SELECT time_bucket('6 hours', '2024-01-01'::date);
SELECT time_bucket(0, 5);
SELECT time_bucket(-3::bigint, 5::bigint);
SELECT time_bucket(10::smallint, (-32768)::smallint);
SELECT time_bucket(3::bigint, (-9223372036854775807 - 1)::bigint);
SELECT time_bucket('1 day', '4714-11-24 00:00 BC'::timestamp) AS earliest_day;
SELECT time_bucket('1 month', '4714-11-24 00:00 BC'::timestamp);
SELECT time_bucket(3::bigint, -9223372036854775807::bigint);
SELECT time_bucket('1 day', now(), 'No/Such_Zone');
SELECT time_bucket('1 day', '2024-01-01'::timestamp, '-infinity'::timestamp);
DROP EXTENSION tally;
