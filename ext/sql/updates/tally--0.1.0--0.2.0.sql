-- tally 0.1.0 -> 0.2.0: the job scheduler, retention policies and chunk
-- maintenance as a job; row moves run as the table's owner; internal
-- functions revoked from PUBLIC.  The Makefile appends the current
-- definitions of the 0.1.0 functions (as CREATE OR REPLACE) and the files
-- new in 0.2.0.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tally UPDATE TO '0.2.0'" to load this file. \quit

