/*-------------------------------------------------------------------------
 *
 * tally.c
 *	  Entry point of the tally extension: each feature module registers
 *	  itself here and nowhere else.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "scheduler/scheduler.h"
#include "utility.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	tally_utility_init();
	tally_scheduler_init();
}
