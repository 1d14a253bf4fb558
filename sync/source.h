/*
 * source.h -- the source database: which tables to replicate, whether they
 * can be replicated correctly, and the publication that carries them.
 */
#ifndef TALLY_SYNC_SOURCE_H
#define TALLY_SYNC_SOURCE_H

#include <stdint.h>

#include "sync/config.h"
#include "sync/pg.h"

typedef struct SyncColumnDef
{
	char	   *name;
	char	   *type;			/* format_type(): "numeric(12,2)" */
	uint32_t	type_oid;
	bool		not_null;
	int			key_position;	/* 1-based position in the key, 0 if not in it */
} SyncColumnDef;

typedef struct SyncTableDef
{
	char	   *schema;
	char	   *name;
	char	   *qualified;		/* quoted: "public"."time_entries" */
	uint32_t	relid;			/* on the source */
	char		replica_identity;	/* 'd', 'i', 'f' or 'n' */
	int			nkeys;			/* columns in the key; 0 with REPLICA IDENTITY FULL */
	int64_t		estimated_rows;
	int			ncolumns;
	SyncColumnDef *columns;
	const SyncTableConfig *config;	/* its [table] section, or NULL */
	SyncMode	mode;
} SyncTableDef;

typedef struct SyncTableList
{
	int			count;
	SyncTableDef *tables;
} SyncTableList;

/*
 * Lists the tables the configuration selects, with their columns and keys.
 * Returns 0, or -1 after filling error.  Free the list with
 * sync_tables_free().
 */
int			sync_source_list_tables(PGconn *source, const SyncConfig *config,
									SyncTableList *tables, SyncError *error);

void		sync_tables_free(SyncTableList *tables);

/* The table of a quoted or unquoted schema and name, or NULL. */
SyncTableDef *sync_tables_find(const SyncTableList *tables, const char *schema,
							   const char *name);

/*
 * Checks that the source can feed the CDC tables of the list: wal_level,
 * the replication privilege, SELECT on every table, and a key or replica
 * identity on every table.  A table that cannot be replicated correctly is
 * refused with the statement that would fix it.
 */
int			sync_source_check(PGconn *source, const SyncTableList *tables,
							  SyncError *error);

/*
 * Creates the publication for the CDC tables, or adds the tables it lacks.
 */
int			sync_source_ensure_publication(PGconn *source, const char *publication,
										   const SyncTableList *tables, SyncError *error);

#endif
