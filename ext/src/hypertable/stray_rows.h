/*-------------------------------------------------------------------------
 *
 * stray_rows.h
 *	  TRUNCATE of a hypertable with rows waiting for their chunk
 *	  (see stray_rows.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_HYPERTABLE_STRAY_ROWS_H
#define TALLY_HYPERTABLE_STRAY_ROWS_H

#include "nodes/parsenodes.h"

/* Moves the waiting rows of the hypertables stmt truncates, if any wait. */
extern void tally_hypertable_before_truncate(TruncateStmt *stmt);

#endif							/* TALLY_HYPERTABLE_STRAY_ROWS_H */
