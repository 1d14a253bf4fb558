/*-------------------------------------------------------------------------
 *
 * utility.h
 *	  Tally's ProcessUtility hook (see utility.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_UTILITY_H
#define TALLY_UTILITY_H

/* Install the hook; call from _PG_init. */
extern void tally_utility_init(void);

#endif							/* TALLY_UTILITY_H */
