-- tally 0.3.0 -> 0.4.0: the catalog changes of this step.  The Makefile
-- appends every file of sql/ (functions, views, event triggers and
-- privileges, all replaceable), so a function changes by editing its file.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tally UPDATE TO '0.4.0'" to load this file. \quit
