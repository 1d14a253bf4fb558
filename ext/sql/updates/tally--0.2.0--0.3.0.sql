-- tally 0.2.0 -> 0.3.0: continuous aggregates (CREATE MATERIALIZED VIEW ...
-- WITH (tally.continuous), refresh_continuous_aggregate, refresh policies,
-- tally_information.continuous_aggregates).  The Makefile appends the files
-- new in 0.3.0 and the privileges file.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tally UPDATE TO '0.3.0'" to load this file. \quit

