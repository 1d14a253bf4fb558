/*
 * config.c -- reads tally sync's INI file with libinih.
 *
 * libinih calls us once per key; the line number comes from our own reader,
 * which libinih calls once per line, so that every error can name the file,
 * the line and the key.  Values are checked as they are read; the checks
 * that need the whole file (a batch table needs a watermark) run at the end.
 */
#include "sync/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ParseState
{
	SyncConfig *config;
	const char *path;
	int			line;
	int			section_seq;	/* bumped at every [section] line */
	int			section_line;	/* line of the last [section] */
	int			table_seq;		/* section_seq of the last [table] */
	bool		failed;
	char	   *errbuf;
	size_t		errlen;
	/* string reader */
	const char *cursor;
	/* file reader */
	FILE	   *file;
} ParseState;

static void
fail(ParseState *state, const char *fmt, ...)
{
	int			used;
	va_list		args;

	if (state->failed)
		return;
	state->failed = true;
	used = snprintf(state->errbuf, state->errlen, "%s:%d: ", state->path, state->line);
	if (used < 0 || (size_t) used >= state->errlen)
		return;
	va_start(args, fmt);
	vsnprintf(state->errbuf + used, state->errlen - used, fmt, args);
	va_end(args);
}

static char *
xstrdup(ParseState *state, const char *s)
{
	char	   *copy = strdup(s);

	if (copy == NULL)
		fail(state, "out of memory");
	return copy;
}

static void
set_string(ParseState *state, char **field, const char *value)
{
	char	   *copy = xstrdup(state, value);

	if (copy == NULL)
		return;
	free(*field);
	*field = copy;
}

static void
set_int(ParseState *state, int *field, const char *section, const char *key,
		const char *value, int min, int max)
{
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || n < min || n > max)
	{
		fail(state, "invalid value \"%s\" for key \"%s\" in [%s]: expected an integer from %d to %d",
			 value, key, section, min, max);
		return;
	}
	*field = (int) n;
}

/*
 * Parses a duration such as "500ms", "30s", "5min", "1h" or a bare number of
 * seconds into milliseconds.
 */
static int
parse_duration_ms(const char *value, int *ms)
{
	static const struct
	{
		const char *unit;
		long		ms;
	}			units[] = {{"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"", 1000}};
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno != 0 || end == value || n < 0)
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
	{
		if (strcmp(end, units[i].unit) == 0)
		{
			if (n > INT_MAX / units[i].ms)
				return -1;
			*ms = (int) (n * units[i].ms);
			return 0;
		}
	}
	return -1;
}

/* Splits a comma-separated list of patterns. */
static void
set_patterns(ParseState *state, SyncPatternList *list, const char *section,
			 const char *key, const char *value)
{
	const char *p = value;

	for (int i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;

	while (*p)
	{
		const char *start;
		const char *end;
		char	  **grown;
		char	   *item;

		while (*p == ',' || isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && isspace((unsigned char) end[-1]))
			end--;
		if (memchr(start, '.', end - start) == NULL)
		{
			fail(state, "invalid pattern \"%.*s\" for key \"%s\" in [%s]: expected SCHEMA.NAME, where '*' matches any run of characters",
				 (int) (end - start), start, key, section);
			return;
		}
		grown = realloc(list->items, sizeof(char *) * (list->count + 1));
		item = grown ? strndup(start, end - start) : NULL;
		if (grown)
			list->items = grown;
		if (item == NULL)
		{
			fail(state, "out of memory");
			return;
		}
		list->items[list->count++] = item;
	}
}

static void
unknown_key(ParseState *state, const char *section, const char *key)
{
	fail(state, "unknown key \"%s\" in [%s]", key, section);
}

static SyncTableConfig *
current_table(SyncConfig *config)
{
	return &config->table_configs[config->ntable_configs - 1];
}

/*
 * Starts a [table SCHEMA.NAME] section.  libinih reports a section only
 * through its keys, so a section is started when its first key arrives.
 */
static SyncTableConfig *
table_section(ParseState *state, const char *section)
{
	SyncConfig *config = state->config;
	const char *qualified = section + strlen("table");
	const char *dot;
	SyncTableConfig *table;
	SyncTableConfig *grown;

	while (*qualified == ' ')
		qualified++;
	if (config->ntable_configs > 0 && state->table_seq == state->section_seq)
		return current_table(config);
	dot = strchr(qualified, '.');
	if (dot == NULL || dot == qualified || dot[1] == '\0' || strchr(dot + 1, '.') != NULL ||
		strchr(qualified, ' ') != NULL)
	{
		fail(state, "invalid section [%s]: expected [table SCHEMA.NAME]", section);
		return NULL;
	}
	for (int i = 0; i < config->ntable_configs; i++)
	{
		table = &config->table_configs[i];
		if (strncmp(table->schema, qualified, dot - qualified) == 0 &&
			table->schema[dot - qualified] == '\0' && strcmp(table->name, dot + 1) == 0)
		{
			fail(state, "duplicate section [%s], first at line %d", section, table->line);
			return NULL;
		}
	}
	grown = realloc(config->table_configs, sizeof(SyncTableConfig) * (config->ntable_configs + 1));
	if (grown == NULL)
	{
		fail(state, "out of memory");
		return NULL;
	}
	config->table_configs = grown;
	table = &grown[config->ntable_configs++];
	memset(table, 0, sizeof(*table));
	table->mode = SYNC_MODE_CDC;
	table->line = state->section_line;
	state->table_seq = state->section_seq;
	table->schema = strndup(qualified, dot - qualified);
	table->name = strdup(dot + 1);
	if (table->schema == NULL || table->name == NULL)
		fail(state, "out of memory");
	return table;
}

static int
handle_key(void *user, const char *section, const char *key, const char *value)
{
	ParseState *state = user;
	SyncConfig *config = state->config;

	if (state->failed)
		return 0;
	if (key == NULL)
		return 1;				/* a section header alone */

	if (section[0] == '\0')
		fail(state, "key \"%s\" outside any section: keys belong under [source], [target], [sync] or [table SCHEMA.NAME]", key);
	else if (strcmp(section, "source") == 0)
	{
		if (strcmp(key, "conninfo") == 0)
			set_string(state, &config->source_conninfo, value);
		else if (strcmp(key, "publication") == 0)
			set_string(state, &config->publication, value);
		else if (strcmp(key, "slot") == 0)
		{
			for (const char *p = value; *p; p++)
				if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '_'))
				{
					fail(state, "invalid value \"%s\" for key \"slot\" in [source]: a slot name may contain only lower-case letters, digits and underscores", value);
					return 0;
				}
			if (value[0] == '\0' || strlen(value) > 63)
			{
				fail(state, "invalid value \"%s\" for key \"slot\" in [source]: expected 1 to 63 characters", value);
				return 0;
			}
			set_string(state, &config->slot, value);
		}
		else
			unknown_key(state, section, key);
	}
	else if (strcmp(section, "target") == 0)
	{
		if (strcmp(key, "conninfo") == 0)
			set_string(state, &config->target_conninfo, value);
		else
			unknown_key(state, section, key);
	}
	else if (strcmp(section, "sync") == 0)
	{
		if (strcmp(key, "tables") == 0)
			set_patterns(state, &config->tables, section, key, value);
		else if (strcmp(key, "exclude") == 0)
			set_patterns(state, &config->exclude, section, key, value);
		else if (strcmp(key, "snapshot_workers") == 0)
			set_int(state, &config->snapshot_workers, section, key, value, 1, 64);
		else if (strcmp(key, "metrics_port") == 0)
			set_int(state, &config->metrics_port, section, key, value, 0, 65535);
		else if (strcmp(key, "spool_directory") == 0)
			set_string(state, &config->spool_directory, value);
		else if (strcmp(key, "batch_interval") == 0)
		{
			if (parse_duration_ms(value, &config->batch_interval_ms) != 0 ||
				config->batch_interval_ms == 0)
				fail(state, "invalid value \"%s\" for key \"batch_interval\" in [sync]: expected a positive duration such as 500ms, 30s, 5min or 1h", value);
		}
		else
			unknown_key(state, section, key);
	}
	else if (strncmp(section, "table", 5) == 0 && (section[5] == ' ' || section[5] == '\0'))
	{
		SyncTableConfig *table = table_section(state, section);

		if (table == NULL)
			return 0;
		if (strcmp(key, "mode") == 0)
		{
			if (strcmp(value, "cdc") == 0)
				table->mode = SYNC_MODE_CDC;
			else if (strcmp(value, "batch") == 0)
				table->mode = SYNC_MODE_BATCH;
			else
				fail(state, "invalid value \"%s\" for key \"mode\" in [%s]: expected cdc or batch", value, section);
		}
		else if (strcmp(key, "watermark") == 0)
			set_string(state, &table->watermark, value);
		else if (strcmp(key, "hypertable") == 0)
			set_string(state, &table->hypertable, value);
		else if (strcmp(key, "chunk_interval") == 0)
			set_string(state, &table->chunk_interval, value);
		else
			unknown_key(state, section, key);
	}
	else
		fail(state, "unknown section [%s]", section);

	if (!state->failed && value[0] == '\0' &&
		strcmp(key, "exclude") != 0 && strcmp(key, "tables") != 0)
		fail(state, "empty value for key \"%s\" in [%s]", key, section);
	return state->failed ? 0 : 1;
}

static void
count_line(ParseState *state, const char *line)
{
	state->line++;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '[')
	{
		state->section_seq++;
		state->section_line = state->line;
	}
}

static char *
read_string_line(char *line, int size, void *stream)
{
	ParseState *state = stream;
	const char *newline;
	size_t		n;

	if (*state->cursor == '\0')
		return NULL;
	newline = strchr(state->cursor, '\n');
	n = newline ? (size_t) (newline - state->cursor + 1) : strlen(state->cursor);
	if (n > (size_t) size - 1)
		n = (size_t) size - 1;
	memcpy(line, state->cursor, n);
	line[n] = '\0';
	state->cursor += n;
	count_line(state, line);
	if (line[n - 1] != '\n' && *state->cursor != '\0')
		fail(state, "line longer than %d characters", size - 2);
	return line;
}

static char *
read_file_line(char *line, int size, void *stream)
{
	ParseState *state = stream;
	char	   *got = fgets(line, size, state->file);

	if (got != NULL)
	{
		size_t		n = strlen(got);

		count_line(state, line);
		if (n == (size_t) size - 1 && got[n - 1] != '\n' && !feof(state->file))
			fail(state, "line longer than %d characters", size - 2);
	}
	return got;
}

static void
set_defaults(SyncConfig *config)
{
	memset(config, 0, sizeof(*config));
	config->snapshot_workers = 2;
	config->metrics_port = 0;
	config->batch_interval_ms = 60000;
}

/* The checks that need the whole file, and defaults for what is unset. */
static void
finish(ParseState *state)
{
	SyncConfig *config = state->config;

	if (state->failed)
		return;
	if (config->publication == NULL)
		set_string(state, &config->publication, "tally");
	if (config->slot == NULL)
		set_string(state, &config->slot, "tally");
	if (config->tables.count == 0)
		set_patterns(state, &config->tables, "sync", "tables", "public.*");
	if (config->spool_directory == NULL)
	{
		const char *tmp = getenv("TMPDIR");
		char		dir[4096];

		snprintf(dir, sizeof(dir), "%s/tally-spool", tmp && tmp[0] ? tmp : "/tmp");
		set_string(state, &config->spool_directory, dir);
	}
	config->path = xstrdup(state, state->path);
	if (state->failed)
		return;

	if (config->source_conninfo == NULL)
	{
		snprintf(state->errbuf, state->errlen, "%s: missing key \"conninfo\" in [source]", state->path);
		state->failed = true;
		return;
	}
	if (config->target_conninfo == NULL)
	{
		snprintf(state->errbuf, state->errlen, "%s: missing key \"conninfo\" in [target]", state->path);
		state->failed = true;
		return;
	}
	for (int i = 0; i < config->ntable_configs; i++)
	{
		SyncTableConfig *table = &config->table_configs[i];

		if (table->mode == SYNC_MODE_BATCH && table->watermark == NULL)
		{
			snprintf(state->errbuf, state->errlen,
					 "%s:%d: [table %s.%s] has mode = batch but no watermark: name the column that grows with every change, such as updated_at",
					 state->path, table->line, table->schema, table->name);
			state->failed = true;
			return;
		}
		if (table->chunk_interval != NULL && table->hypertable == NULL)
		{
			snprintf(state->errbuf, state->errlen,
					 "%s:%d: [table %s.%s] sets chunk_interval but not hypertable: name the time column with hypertable = COLUMN",
					 state->path, table->line, table->schema, table->name);
			state->failed = true;
			return;
		}
	}
}

static int
parse(ParseState *state, ini_reader reader)
{
	int			rc;

	set_defaults(state->config);
	rc = ini_parse_stream(reader, state, handle_key, state);
	if (rc > 0 && !state->failed)
	{
		state->line = rc;
		fail(state, "syntax error: expected [section] or key = value");
	}
	else if (rc < 0 && !state->failed)
		fail(state, "out of memory");
	finish(state);
	if (state->failed)
	{
		sync_config_free(state->config);
		return -1;
	}
	return 0;
}

int
sync_config_parse(const char *text, const char *path, SyncConfig *config,
				  char *errbuf, size_t errlen)
{
	ParseState	state = {.config = config, .path = path, .errbuf = errbuf,
	.errlen = errlen, .cursor = text};

	return parse(&state, read_string_line);
}

int
sync_config_load(const char *path, SyncConfig *config, char *errbuf, size_t errlen)
{
	ParseState	state = {.config = config, .path = path, .errbuf = errbuf, .errlen = errlen};
	int			rc;

	state.file = fopen(path, "r");
	if (state.file == NULL)
	{
		set_defaults(config);
		snprintf(errbuf, errlen, "could not open configuration file \"%s\": %s",
				 path, strerror(errno));
		return -1;
	}
	rc = parse(&state, read_file_line);
	fclose(state.file);
	return rc;
}

static void
free_patterns(SyncPatternList *list)
{
	for (int i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
}

void
sync_config_free(SyncConfig *config)
{
	free(config->path);
	free(config->source_conninfo);
	free(config->publication);
	free(config->slot);
	free(config->target_conninfo);
	free(config->spool_directory);
	free_patterns(&config->tables);
	free_patterns(&config->exclude);
	for (int i = 0; i < config->ntable_configs; i++)
	{
		SyncTableConfig *table = &config->table_configs[i];

		free(table->schema);
		free(table->name);
		free(table->watermark);
		free(table->hypertable);
		free(table->chunk_interval);
	}
	free(config->table_configs);
	set_defaults(config);
}

const SyncTableConfig *
sync_config_table(const SyncConfig *config, const char *schema, const char *name)
{
	for (int i = 0; i < config->ntable_configs; i++)
	{
		const SyncTableConfig *table = &config->table_configs[i];

		if (strcmp(table->schema, schema) == 0 && strcmp(table->name, name) == 0)
			return table;
	}
	return NULL;
}

bool
sync_pattern_match(const char *pattern, const char *text)
{
	const char *star = NULL;
	const char *resume = NULL;

	while (*text)
	{
		if (*pattern == '*')
		{
			star = pattern++;
			resume = text;
		}
		else if (*pattern == *text)
		{
			pattern++;
			text++;
		}
		else if (star != NULL)
		{
			pattern = star + 1;
			text = ++resume;
		}
		else
			return false;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

static bool
matches_any(const SyncPatternList *list, const char *qualified)
{
	for (int i = 0; i < list->count; i++)
		if (sync_pattern_match(list->items[i], qualified))
			return true;
	return false;
}

bool
sync_config_selects(const SyncConfig *config, const char *schema, const char *name)
{
	char		qualified[256];

	snprintf(qualified, sizeof(qualified), "%s.%s", schema, name);
	return matches_any(&config->tables, qualified) && !matches_any(&config->exclude, qualified);
}
