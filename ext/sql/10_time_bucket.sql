-- time_bucket(): TimescaleDB's signatures and argument names.

CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz, origin timestamptz)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz_origin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz, "offset" interval)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz, timezone text,
                                        origin timestamptz DEFAULT NULL,
                                        "offset" interval DEFAULT NULL)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz_timezone'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamp)
    RETURNS timestamp AS 'MODULE_PATHNAME', 'tally_time_bucket_ts'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamp, origin timestamp)
    RETURNS timestamp AS 'MODULE_PATHNAME', 'tally_time_bucket_ts_origin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamp, "offset" interval)
    RETURNS timestamp AS 'MODULE_PATHNAME', 'tally_time_bucket_ts_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts date)
    RETURNS date AS 'MODULE_PATHNAME', 'tally_time_bucket_date'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts date, origin date)
    RETURNS date AS 'MODULE_PATHNAME', 'tally_time_bucket_date_origin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width interval, ts date, "offset" interval)
    RETURNS date AS 'MODULE_PATHNAME', 'tally_time_bucket_date_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width smallint, ts smallint)
    RETURNS smallint AS 'MODULE_PATHNAME', 'tally_time_bucket_int16'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width smallint, ts smallint, "offset" smallint)
    RETURNS smallint AS 'MODULE_PATHNAME', 'tally_time_bucket_int16_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width integer, ts integer)
    RETURNS integer AS 'MODULE_PATHNAME', 'tally_time_bucket_int32'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width integer, ts integer, "offset" integer)
    RETURNS integer AS 'MODULE_PATHNAME', 'tally_time_bucket_int32_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width bigint, ts bigint)
    RETURNS bigint AS 'MODULE_PATHNAME', 'tally_time_bucket_int64'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.time_bucket(bucket_width bigint, ts bigint, "offset" bigint)
    RETURNS bigint AS 'MODULE_PATHNAME', 'tally_time_bucket_int64_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
