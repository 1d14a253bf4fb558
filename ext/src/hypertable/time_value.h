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

#endif							/* TALLY_TIME_VALUE_H */
