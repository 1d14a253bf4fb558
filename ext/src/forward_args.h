/*-------------------------------------------------------------------------
 *
 * forward_args.h
 *	  Arguments of a C front end passed on to an SQL implementation
 *	  (see forward_args.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_FORWARD_ARGS_H
#define TALLY_FORWARD_ARGS_H

#include "fmgr.h"

#define MAX_FORWARDED_ARGS 12

/* Arguments for an SPI call, built up one at a time. */
typedef struct ForwardedArgs
{
	int			count;
	Oid			types[MAX_FORWARDED_ARGS];
	Datum		values[MAX_FORWARDED_ARGS];
	char		nulls[MAX_FORWARDED_ARGS];
} ForwardedArgs;

/* Appends one value. */
extern void forward_value(ForwardedArgs *args, Oid type, Datum value, bool isnull);

/* Appends argument argno of an "any" parameter as two: (text, regtype). */
extern void forward_any(ForwardedArgs *args, FunctionCallInfo fcinfo, int argno);

#endif							/* TALLY_FORWARD_ARGS_H */
