/*
 * log.c -- structured logging: one "key=value" line per event on stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static LogLevel min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warning", "error"};

void
log_set_level(LogLevel level)
{
	min_level = level;
}

LogLevel
log_get_level(void)
{
	return min_level;
}

int
log_level_parse(const char *name, LogLevel *level)
{
	for (int i = 0; i < (int) (sizeof(level_names) / sizeof(level_names[0])); i++)
	{
		if (strcmp(name, level_names[i]) == 0)
		{
			*level = (LogLevel) i;
			return 0;
		}
	}
	return -1;
}

void
log_event(LogLevel level, const char *event, const char *fmt, ...)
{
	char		line[4096];
	char		stamp[32];
	struct timeval now;
	struct tm	tm;
	int			used;
	va_list		args;

	if (level < min_level)
		return;
	gettimeofday(&now, NULL);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	used = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s event=%s",
					stamp, (long) (now.tv_usec / 1000), level_names[level], event);
	if (fmt != NULL && fmt[0] != '\0' && used < (int) sizeof(line) - 2)
	{
		line[used++] = ' ';
		va_start(args, fmt);
		vsnprintf(line + used, sizeof(line) - used, fmt, args);
		va_end(args);
	}
	fprintf(stderr, "%s\n", line);
}

const char *
log_quote(const char *value)
{
	static __thread char buffers[4][1024];
	static __thread int next;
	char	   *out = buffers[next];
	size_t		o = 0;
	bool		plain = value[0] != '\0';

	next = (next + 1) % 4;
	for (const char *p = value; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
			(unsigned char) *p < 0x20 || *p == 0x7f)
			plain = false;
	if (plain && strlen(value) < sizeof(buffers[0]))
		return value;

	out[o++] = '"';
	for (const char *p = value; *p && o < sizeof(buffers[0]) - 6; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"' || c == '\\')
		{
			out[o++] = '\\';
			out[o++] = (char) c;
		}
		else if (c == '\n')
		{
			out[o++] = '\\';
			out[o++] = 'n';
		}
		else if (c < 0x20 || c == 0x7f)
			o += (size_t) snprintf(out + o, 5, "\\x%02x", c);
		else
			out[o++] = (char) c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
