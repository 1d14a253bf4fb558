/*
 * decode.h -- a decoder of pgoutput messages, protocol versions 1 and 2.
 *
 * A pure module: no I/O, no libpq, no allocation per message.  The input is
 * the payload of one XLogData message (what pgoutput wrote for one change);
 * the output points into that payload, so it stays valid only as long as
 * the caller keeps the payload.  A malformed or truncated message is an
 * error, never a read past the end: the decoder is fuzzed.
 *
 * In protocol version 2 with streaming on, the server interleaves parts of
 * large transactions between 'S' (stream start) and 'E' (stream stop);
 * inside such a block every data message carries the transaction id of the
 * transaction it belongs to.  SyncDecoder tracks whether it is inside a
 * block from the messages it has decoded.
 */
#ifndef TALLY_SYNC_DECODE_H
#define TALLY_SYNC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t SyncLsn;
typedef uint32_t SyncXid;

/* Microseconds since 2000-01-01 00:00:00 UTC, as PostgreSQL sends them. */
typedef int64_t SyncTimestamp;

/* The most columns a PostgreSQL table may have. */
#define SYNC_MAX_COLUMNS 1664

typedef enum SyncMessageKind
{
	SYNC_MSG_BEGIN = 'B',
	SYNC_MSG_COMMIT = 'C',
	SYNC_MSG_ORIGIN = 'O',
	SYNC_MSG_RELATION = 'R',
	SYNC_MSG_TYPE = 'Y',
	SYNC_MSG_INSERT = 'I',
	SYNC_MSG_UPDATE = 'U',
	SYNC_MSG_DELETE = 'D',
	SYNC_MSG_TRUNCATE = 'T',
	SYNC_MSG_LOGICAL = 'M',
	SYNC_MSG_STREAM_START = 'S',
	SYNC_MSG_STREAM_STOP = 'E',
	SYNC_MSG_STREAM_COMMIT = 'c',
	SYNC_MSG_STREAM_ABORT = 'A'
} SyncMessageKind;

/* How one column of a tuple was sent. */
typedef enum SyncValueKind
{
	SYNC_VALUE_NULL = 'n',
	SYNC_VALUE_UNCHANGED = 'u', /* an unchanged TOASTed value: not sent */
	SYNC_VALUE_TEXT = 't',		/* the type's output function's text */
	SYNC_VALUE_BINARY = 'b'		/* the type's send function's bytes */
} SyncValueKind;

typedef struct SyncValue
{
	SyncValueKind kind;
	uint32_t	len;			/* 0 unless TEXT or BINARY */
	const char *data;			/* not NUL-terminated; NULL unless TEXT or BINARY */
} SyncValue;

typedef struct SyncTuple
{
	int			ncolumns;
	SyncValue  *values;			/* ncolumns entries, owned by the decoder */
} SyncTuple;

typedef struct SyncColumn
{
	bool		is_key;			/* part of the replica identity */
	const char *name;			/* NUL-terminated, in the payload */
	uint32_t	type_oid;
	int32_t		type_modifier;
} SyncColumn;

typedef struct SyncMessage
{
	SyncMessageKind kind;
	bool		in_stream;		/* part of a streamed transaction */
	SyncXid		xid;			/* BEGIN, streamed messages, STREAM_*; else 0 */
	union
	{
		struct
		{
			SyncLsn		final_lsn;
			SyncTimestamp commit_time;
		}			begin;
		struct					/* COMMIT and STREAM_COMMIT */
		{
			uint8_t		flags;
			SyncLsn		commit_lsn;
			SyncLsn		end_lsn;
			SyncTimestamp commit_time;
		}			commit;
		struct
		{
			SyncLsn		lsn;
			const char *name;
		}			origin;
		struct
		{
			uint32_t	relid;
			const char *schema;		/* "" means pg_catalog */
			const char *name;
			char		replica_identity;	/* 'd', 'n', 'f' or 'i' */
			int			ncolumns;
			SyncColumn *columns;	/* owned by the decoder */
		}			relation;
		struct
		{
			uint32_t	type_oid;
			const char *schema;
			const char *name;
		}			type;
		struct					/* INSERT, UPDATE and DELETE */
		{
			uint32_t	relid;
			/*
			 * UPDATE and DELETE: 'K' when old holds the key columns only
			 * (the others are NULL), 'O' when it holds the whole old row,
			 * 0 when there is no old tuple (an UPDATE that kept its key).
			 */
			char		old_kind;
			SyncTuple	old;		/* UPDATE, DELETE */
			SyncTuple	new;		/* INSERT, UPDATE */
		}			change;
		struct
		{
			uint8_t		options;	/* bit 1 CASCADE, bit 2 RESTART IDENTITY */
			int			nrelids;
			const uint32_t *relids; /* owned by the decoder */
		}			truncate;
		struct
		{
			bool		transactional;
			SyncLsn		lsn;
			const char *prefix;
			uint32_t	len;
			const char *content;
		}			logical;
		struct
		{
			bool		first_segment;
		}			stream_start;
		struct
		{
			SyncXid		subxid;		/* == xid when the whole transaction aborted */
		}			stream_abort;
	}			u;
} SyncMessage;

/*
 * The decoder's scratch space, reused from message to message: decoding a
 * message invalidates the arrays of the previous one.
 */
typedef struct SyncDecoder
{
	bool		in_stream;
	SyncValue	old_values[SYNC_MAX_COLUMNS];
	SyncValue	new_values[SYNC_MAX_COLUMNS];
	SyncColumn	columns[SYNC_MAX_COLUMNS];
	uint32_t   *relids;
	int			relids_capacity;
	char		error[200];
} SyncDecoder;

void		sync_decoder_init(SyncDecoder *decoder);
void		sync_decoder_free(SyncDecoder *decoder);

/*
 * Decodes one message of len bytes at data into *message.  Returns 0, or -1
 * with a description of what is wrong in decoder->error.
 */
int			sync_decode(SyncDecoder *decoder, const char *data, size_t len,
						SyncMessage *message);

/* Formats an LSN as PostgreSQL does ("16/B374D848"); buf holds 20 bytes. */
void		sync_lsn_format(SyncLsn lsn, char *buf);

/* Parses "16/B374D848"; returns -1 when text is not an LSN. */
int			sync_lsn_parse(const char *text, SyncLsn *lsn);

#endif
