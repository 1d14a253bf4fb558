/*-------------------------------------------------------------------------
 *
 * search_path.h
 *	  Running SQL of the extension's under a search_path of its own.
 *
 * Whatever tally runs with someone else's rights (a capture as the
 * aggregate's owner, a refresh, a job) or on someone's behalf must not
 * resolve a name through the caller's search_path: an ordinary role could
 * put a count() or an = of hers first and have it run as the owner.  The
 * SQL tally generates names every user object with its schema, so it runs
 * under pg_catalog and pg_temp alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TALLY_SEARCH_PATH_H
#define TALLY_SEARCH_PATH_H

/*
 * Sets search_path to "pg_catalog, pg_temp" and returns the GUC nest level
 * to give tally_restore_search_path; an error undoes it with the
 * (sub)transaction.
 */
extern int	tally_pin_search_path(void);
extern void tally_restore_search_path(int nest_level);

#endif							/* TALLY_SEARCH_PATH_H */
