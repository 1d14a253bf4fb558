/*
 * log.h -- structured logging for Tally's programs.
 *
 * One line per event on stderr: "ts=... level=... event=NAME key=value ...".
 * Values that may hold spaces or quotes go through log_quote(), so that a
 * line always splits into pairs.  Safe to call from several threads: each
 * line is written with a single stdio call.
 */
#ifndef TALLY_COMMON_LOG_H
#define TALLY_COMMON_LOG_H

#include <stddef.h>

typedef enum LogLevel
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR
} LogLevel;

/* Lines below this level are dropped; LOG_INFO unless changed. */
void		log_set_level(LogLevel level);
LogLevel	log_get_level(void);

/* Parses "debug", "info", "warning" or "error"; returns -1 otherwise. */
int			log_level_parse(const char *name, LogLevel *level);

/*
 * Logs one event.  fmt holds the rest of the line as key=value pairs, for
 * instance "table=%s rows=%ld".
 */
void		log_event(LogLevel level, const char *event, const char *fmt, ...)
			__attribute__((format(printf, 3, 4)));

/*
 * Returns value as a log value: unchanged when it is a plain token, else in
 * double quotes with quotes, backslashes and control characters escaped.
 * The result lives in one of a few rotating thread-local buffers, so up to
 * four quoted values may appear in one log_event() call.  Long values are
 * cut at 1000 bytes.
 */
const char *log_quote(const char *value);

#endif
