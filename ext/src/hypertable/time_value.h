/*-------------------------------------------------------------------------
 *
 * time_value.h
 *	  Mapping between time column values and int64 internal time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_TIME_VALUE_H
#define TALLY_TIME_VALUE_H

#include "postgres.h"

/* True for the types a hypertable's time column may have. */
extern bool tally_time_type_supported(Oid type);

/* Internal time of a finite value of a supported type; raises an error otherwise. */
extern int64 tally_time_datum_to_internal(Datum value, Oid type);

/* The same, or false where the value has no internal time (infinite, a date past them). */
extern bool tally_try_time_datum_to_internal(Datum value, Oid type, int64 *result);

/*
 * The internal times that chunks of a column of type can cover, [*min, *end):
 * the finite timestamps for time types (and so for dates, whose later values
 * have no microseconds in an int64), the type's range for integers.  For
 * bigint *end is PG_INT64_MAX and inclusive, since one past the largest
 * bigint is no int64: a chunk whose range ends there is bounded by MAXVALUE.
 */
extern void tally_chunk_domain(Oid type, int64 *min, int64 *end);

#endif							/* TALLY_TIME_VALUE_H */
