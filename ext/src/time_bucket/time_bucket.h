/*-------------------------------------------------------------------------
 *
 * time_bucket.h
 *	  Bucketing of time values, shared by time_bucket() and the features
 *	  that need bucket boundaries (continuous aggregates).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_TIME_BUCKET_H
#define TALLY_TIME_BUCKET_H

#include "datatype/timestamp.h"

/*
 * Start of the bucket of `width` holding ts.  origin and offset may be NULL
 * for their defaults.  Raises an error for an invalid width or a result out
 * of range; an infinite ts is returned as is.
 */
extern Timestamp tally_bucket_timestamp(const Interval *width, Timestamp ts,
										const Timestamp *origin,
										const Interval *offset);

/*
 * Start of the integer bucket of `width` holding value, shifted by offset;
 * raises an error unless the result lies in [min, max].
 */
extern int64 tally_bucket_integer(int64 width, int64 value, int64 offset,
								  int64 min, int64 max);

/* Floor of a divided by b, for b > 0: the bucket or chunk number of a. */
static inline int64
tally_floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b) != 0 && a < 0)
		q--;
	return q;
}

#endif							/* TALLY_TIME_BUCKET_H */
