/*
 * config.h -- the INI configuration of tally sync.
 *
 *   [source]  conninfo, publication (tally), slot (tally)
 *   [target]  conninfo
 *   [sync]    tables (public.*), exclude, snapshot_workers (2),
 *             metrics_port (0 = off), batch_interval (60 s),
 *             spool_directory ($TMPDIR/tally-spool)
 *   [table SCHEMA.NAME]  mode (cdc | batch), watermark, hypertable,
 *                        chunk_interval
 *
 * Every key, its default and its meaning are documented in sync/README.md.
 */
#ifndef TALLY_SYNC_CONFIG_H
#define TALLY_SYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum SyncMode
{
	SYNC_MODE_CDC,
	SYNC_MODE_BATCH
} SyncMode;

/* One [table SCHEMA.NAME] section. */
typedef struct SyncTableConfig
{
	char	   *schema;
	char	   *name;
	SyncMode	mode;
	char	   *watermark;		/* column, NULL unless set */
	char	   *hypertable;		/* time column, NULL unless set */
	char	   *chunk_interval; /* interval text, NULL for the default */
	int			line;			/* line of the section header */
} SyncTableConfig;

/* A list of "schema.name" patterns where '*' matches any run of characters. */
typedef struct SyncPatternList
{
	char	  **items;
	int			count;
} SyncPatternList;

typedef struct SyncConfig
{
	char	   *path;
	char	   *source_conninfo;
	char	   *publication;
	char	   *slot;
	char	   *target_conninfo;
	SyncPatternList tables;
	SyncPatternList exclude;
	int			snapshot_workers;
	int			metrics_port;
	int			batch_interval_ms;
	char	   *spool_directory;
	SyncTableConfig *table_configs;
	int			ntable_configs;
} SyncConfig;

/*
 * Reads the file at path into *config.  On failure returns -1, leaves a
 * message naming the file, line and key in errbuf, and frees whatever it
 * had read; *config is then empty.
 */
int			sync_config_load(const char *path, SyncConfig *config,
							 char *errbuf, size_t errlen);

/* Same, from a string; path is used in messages only. */
int			sync_config_parse(const char *text, const char *path,
							  SyncConfig *config, char *errbuf, size_t errlen);

void		sync_config_free(SyncConfig *config);

/* The [table] section of schema.name, or NULL when there is none. */
const SyncTableConfig *sync_config_table(const SyncConfig *config,
										 const char *schema, const char *name);

/* Whether schema.name is selected by tables and not by exclude. */
bool		sync_config_selects(const SyncConfig *config,
								const char *schema, const char *name);

/* Whether "schema.name" matches pattern ('*' matches any run). */
bool		sync_pattern_match(const char *pattern, const char *qualified);

#endif
