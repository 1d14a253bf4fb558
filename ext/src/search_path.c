/*-------------------------------------------------------------------------
 *
 * search_path.c
 *	  Running SQL of the extension's under a search_path of its own (see
 *	  search_path.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "search_path.h"

int
tally_pin_search_path(void)
{
	int			nest_level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest_level;
}

void
tally_restore_search_path(int nest_level)
{
	AtEOXact_GUC(true, nest_level);
}
