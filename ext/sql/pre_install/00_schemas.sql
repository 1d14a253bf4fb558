-- Schemas: user-facing functions live in the extension's schema; catalog
-- tables in _tally_catalog; helpers and chunks in _tally_internal; views for
-- users in tally_information.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION tally" to load this file. \quit

CREATE SCHEMA _tally_catalog;
CREATE SCHEMA _tally_internal;
CREATE SCHEMA tally_information;

GRANT USAGE ON SCHEMA _tally_catalog, _tally_internal, tally_information TO PUBLIC;
