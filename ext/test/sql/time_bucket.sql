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

-- timezone with an offset: the offset applies to the instant, as in
-- TimescaleDB 2.25+ (its issues #7059, #8851, #9136): ts - offset is
-- bucketed in local time and the offset added back to the bucket's start.
-- Europe/Berlin went back from +02 to +01 at 2025-10-26 01:00 UTC; the
-- hours start 15 minutes after each local hour, also across the change.
SELECT time_bucket('1 hour', '2025-10-26 01:00:00+00'::timestamptz,
                   timezone := 'Europe/Berlin', "offset" := '15 minutes') AS berlin_fall_back;

-- #7059: Asia/Amman skipped from 00:00 (+02) to 01:00 (+03) on 2021-03-26;
-- its day with a 15-minute offset ends 15 minutes after the skip, at 22:15 UTC
SELECT ts, time_bucket('1 day', ts, 'Asia/Amman', "offset" => '15 minutes') AS amman_day
  FROM unnest(ARRAY['2021-03-25 21:45+00', '2021-03-25 22:00+00',
                    '2021-03-25 22:15+00']::timestamptz[]) AS ts;

-- #8851: 30-second buckets centred on the minute, across Berlin's fall-back
SELECT ts, time_bucket('30 seconds', ts, 'Europe/Berlin', "offset" => '-15 seconds') AS berlin_30s
  FROM unnest(ARRAY['2025-10-26 00:59:40+00', '2025-10-26 00:59:50+00',
                    '2025-10-26 01:00:05+00', '2025-10-26 01:00:20+00']::timestamptz[]) AS ts;

-- #9136: a bucket never starts after its value.  The local start of a
-- bucket that occurs twice is read as the later instant; TimescaleDB then
-- steps back by whole widths, so a 2-hour bucket from the first 01:00-02:00
-- of New York's 2024-11-03 starts at 04:00 UTC (00:00 EDT).
SELECT ts,
       time_bucket('1 hour', ts, 'America/New_York',
                   '2000-01-01 00:00 America/New_York'::timestamptz) AS ny_hour,
       time_bucket('2 hours', ts, 'America/New_York',
                   '2000-01-01 01:00 America/New_York'::timestamptz) AS ny_2h_odd
  FROM unnest(ARRAY['2024-11-03 04:30+00', '2024-11-03 05:00+00', '2024-11-03 05:30+00',
                    '2024-11-03 06:30+00', '2024-11-03 07:30+00']::timestamptz[]) AS ts;

-- widths from 15 minutes to a month, with offsets and origins, across the
-- DST changes of 2024 in Berlin, New York and Sydney (which falls back in
-- April and springs forward in October); the 3-hour grid starts at a local
-- 02:00, which all three skip in spring and Berlin and Sydney repeat in
-- autumn
SELECT zone, ts,
       time_bucket('15 minutes', ts, zone, "offset" => '5 minutes') AS q15_off5m,
       time_bucket('1 hour', ts, zone, "offset" => '15 minutes') AS h1_off15m,
       time_bucket('3 hours', ts, zone, origin => ('2000-01-01 02:00 ' || zone)::timestamptz) AS h3_from_2am,
       time_bucket('1 day', ts, zone, "offset" => '2 hours') AS d1_off2h,
       time_bucket('1 week', ts, zone, origin => ('2000-01-02 00:00 ' || zone)::timestamptz,
                   "offset" => '30 minutes') AS w1_sunday_off30m,
       time_bucket('1 month', ts, zone, "offset" => '3 hours') AS m1_off3h
  FROM (VALUES ('Europe/Berlin', '2024-03-31 00:40+00'::timestamptz),
               ('Europe/Berlin', '2024-03-31 01:00+00'),
               ('Europe/Berlin', '2024-03-31 01:10+00'),
               ('Europe/Berlin', '2024-03-31 01:20+00'),
               ('Europe/Berlin', '2024-10-27 00:10+00'),
               ('Europe/Berlin', '2024-10-27 00:50+00'),
               ('Europe/Berlin', '2024-10-27 01:10+00'),
               ('Europe/Berlin', '2024-10-27 01:30+00'),
               ('Europe/Berlin', '2024-10-27 02:05+00'),
               ('America/New_York', '2024-03-10 06:50+00'),
               ('America/New_York', '2024-03-10 07:00+00'),
               ('America/New_York', '2024-03-10 07:10+00'),
               ('America/New_York', '2024-11-03 05:10+00'),
               ('America/New_York', '2024-11-03 05:50+00'),
               ('America/New_York', '2024-11-03 06:10+00'),
               ('America/New_York', '2024-11-03 06:50+00'),
               ('America/New_York', '2024-11-03 07:05+00'),
               ('Australia/Sydney', '2024-04-06 15:10+00'),
               ('Australia/Sydney', '2024-04-06 15:50+00'),
               ('Australia/Sydney', '2024-04-06 16:10+00'),
               ('Australia/Sydney', '2024-04-06 16:50+00'),
               ('Australia/Sydney', '2024-04-06 17:05+00'),
               ('Australia/Sydney', '2024-10-05 15:50+00'),
               ('Australia/Sydney', '2024-10-05 16:00+00'),
               ('Australia/Sydney', '2024-10-05 16:10+00')) AS t(zone, ts);

-- an offset of days is elapsed days here (the session is in UTC): monthly
-- buckets that start a week before each Berlin month start, 2024-04-01
-- 00:00 CEST less 7 x 24 hours = 2024-03-24 22:00 UTC, not local midnight
SELECT ts, time_bucket('1 month', ts, 'Europe/Berlin', "offset" => '-7 days') AS month_less_week
  FROM unnest(ARRAY['2024-03-24 21:30+00', '2024-03-24 22:30+00',
                    '2024-03-24 23:30+00']::timestamptz[]) AS ts;

-- every bucket starts at or before its value and holds it within a width
-- (plus the hour of a DST change), minute by minute over each change
SELECT zone, width, count(*) AS minutes,
       bool_and(b <= ts AND ts < b + width + interval '1 hour') AS holds
  FROM (VALUES ('Europe/Berlin', '2024-03-31 00:00+00'::timestamptz),
               ('Europe/Berlin', '2024-10-27 00:00+00'),
               ('America/New_York', '2024-03-10 06:00+00'),
               ('America/New_York', '2024-11-03 05:00+00'),
               ('Australia/Sydney', '2024-04-06 15:00+00'),
               ('Australia/Sydney', '2024-10-05 15:00+00')) AS c(zone, around),
       unnest(ARRAY['15 minutes', '1 hour', '3 hours']::interval[]) AS width,
       generate_series(around, around + interval '3 hours', interval '1 minute') AS ts,
       time_bucket(width, ts, zone, ('2000-01-01 02:00 ' || zone)::timestamptz,
                   interval '10 minutes') AS b
 GROUP BY zone, width
 ORDER BY zone, width;

-- time_bucket(width, timestamptz, "offset") without a zone buckets on UTC,
-- but takes the offset with timestamptz arithmetic, as TimescaleDB does
-- (ts - offset, bucketed, + offset): an offset of days or months is counted
-- in calendar days or months of the session's time zone.  Weeks that start
-- on Sunday evening in New York start an hour later once DST has begun.
SET timezone = 'America/New_York';
SELECT time_bucket('1 week', '2024-03-06 12:00+00'::timestamptz, '-1 day'::interval) AS ny_before_dst,
       time_bucket('1 week', '2024-03-12 12:00+00'::timestamptz, '-1 day'::interval) AS ny_after_dst,
       time_bucket('1 month', '2024-03-20 12:00+00'::timestamptz, '10 days'::interval) AS ny_month_plus_10d,
       time_bucket('1 hour', '2024-03-10 07:20+00'::timestamptz, '15 minutes'::interval) AS ny_quarter_past;
SET timezone = 'Europe/Berlin';
SELECT time_bucket('1 day', '2024-10-27 12:00+00'::timestamptz, '1 day'::interval) AS berlin_autumn_day,
       time_bucket('1 week', '2024-10-28 12:00+00'::timestamptz, '-1 day'::interval) AS berlin_autumn_week,
       time_bucket('1 month', '2024-04-05 00:00+00'::timestamptz, '-10 days'::interval) AS berlin_month_less_10d,
       time_bucket('3 hours', '2024-03-31 01:40+00'::timestamptz, '30 minutes'::interval) AS berlin_3h_off30m;
SET timezone = 'Australia/Sydney';
SELECT time_bucket('1 day', '2024-04-07 12:00+00'::timestamptz, '1 day'::interval) AS sydney_autumn_day,
       time_bucket('1 week', '2024-04-10 12:00+00'::timestamptz, '-2 days'::interval) AS sydney_saturday_week,
       time_bucket('1 month', '2024-10-20 00:00+00'::timestamptz, '10 days'::interval) AS sydney_month_plus_10d,
       time_bucket('15 minutes', '2024-10-05 16:20+00'::timestamptz, '5 minutes'::interval) AS sydney_15m_off5m;

-- the same as TimescaleDB's definition, every 7 hours through 2024, in
-- several session zones; a NULL offset still gives NULL
CREATE TEMP VIEW offset_as_timescaledb AS
SELECT current_setting('timezone') AS zone, count(*) AS cases,
       bool_and(time_bucket(width, ts, off) IS NOT DISTINCT FROM
                time_bucket(width, ts - off) + off) AS as_timescaledb
  FROM (VALUES ('1 day'::interval, '1 day'::interval), ('1 week', '-1 day'), ('1 month', '-10 days'),
               ('1 month', '1 month 2 days'), ('3 hours', '30 minutes'), ('1 day', NULL)) AS w(width, off),
       generate_series('2024-01-01 00:00+00'::timestamptz, '2024-12-31 00:00+00', interval '7 hours') AS ts;
SET timezone = 'Europe/Berlin';
TABLE offset_as_timescaledb;
SET timezone = 'America/New_York';
TABLE offset_as_timescaledb;
SET timezone = 'Australia/Sydney';
TABLE offset_as_timescaledb;
SET timezone = 'Asia/Kolkata';
TABLE offset_as_timescaledb;
SET timezone = 'UTC';
TABLE offset_as_timescaledb;
DROP VIEW offset_as_timescaledb;

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
