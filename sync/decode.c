/*
 * decode.c -- a decoder of pgoutput messages, protocol versions 1 and 2.
 *
 * The layouts are those PostgreSQL 15 writes (logicalrep_write_* in
 * src/backend/replication/logical/proto.c).  Every read goes through
 * MessageReader, which checks the bytes are there before touching them, so
 * a message cut short anywhere is an error naming the field's offset, never
 * a read past its end.  Strings are accepted only if their NUL lies inside
 * the message, which is what lets the output point into the payload.
 *
 * The two-phase messages ('b', 'P', 'K', 'r', 'p') are not decoded: tally
 * sync never asks for two_phase, so they are unknown kinds here.
 */
#include "sync/decode.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The position in one message and what to call the message in errors. */
typedef struct MessageReader
{
	SyncDecoder *decoder;
	const unsigned char *data;
	size_t		len;
	size_t		pos;
	const char *what;			/* "UPDATE", "STREAM COMMIT", ... */
} MessageReader;

static void
set_error(SyncDecoder *decoder, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static void
set_error(SyncDecoder *decoder, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(decoder->error, sizeof(decoder->error), fmt, args);
	va_end(args);
}

static bool
need(MessageReader *reader, size_t n)
{
	size_t		left = reader->len - reader->pos;

	if (n <= left)
		return true;
	set_error(reader->decoder,
			  "truncated %s message: expected %zu bytes at offset %zu, %zu left",
			  reader->what, n, reader->pos, left);
	return false;
}

static bool
read_uint8(MessageReader *reader, uint8_t *value)
{
	if (!need(reader, 1))
		return false;
	*value = reader->data[reader->pos++];
	return true;
}

static bool
read_uint16(MessageReader *reader, uint16_t *value)
{
	const unsigned char *p;

	if (!need(reader, 2))
		return false;
	p = reader->data + reader->pos;
	*value = (uint16_t) ((p[0] << 8) | p[1]);
	reader->pos += 2;
	return true;
}

static bool
read_uint32(MessageReader *reader, uint32_t *value)
{
	const unsigned char *p;

	if (!need(reader, 4))
		return false;
	p = reader->data + reader->pos;
	*value = ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
	reader->pos += 4;
	return true;
}

static bool
read_uint64(MessageReader *reader, uint64_t *value)
{
	uint32_t	high;
	uint32_t	low;

	if (!need(reader, 8))
		return false;
	read_uint32(reader, &high);
	read_uint32(reader, &low);
	*value = ((uint64_t) high << 32) | low;
	return true;
}

/*
 * The wire carries two's complement; a plain cast of a value above the
 * signed maximum is implementation-defined, this arithmetic is not.
 */
static int32_t
as_int32(uint32_t value)
{
	return value <= INT32_MAX ? (int32_t) value
		: (int32_t) (value - (uint32_t) INT32_MAX - 1) + INT32_MIN;
}

static int64_t
as_int64(uint64_t value)
{
	return value <= INT64_MAX ? (int64_t) value
		: (int64_t) (value - (uint64_t) INT64_MAX - 1) + INT64_MIN;
}

/* A NUL-terminated string; *value points into the message. */
static bool
read_string(MessageReader *reader, const char *field, const char **value)
{
	const unsigned char *start = reader->data + reader->pos;
	const unsigned char *nul = NULL;

	if (reader->pos < reader->len)
		nul = memchr(start, '\0', reader->len - reader->pos);
	if (nul == NULL)
	{
		set_error(reader->decoder,
				  "truncated %s message: %s at offset %zu has no terminating NUL",
				  reader->what, field, reader->pos);
		return false;
	}
	*value = (const char *) start;
	reader->pos += (size_t) (nul - start) + 1;
	return true;
}

/* A signed 32-bit length followed by that many bytes. */
static bool
read_counted_bytes(MessageReader *reader, const char *field,
				   uint32_t *len, const char **bytes)
{
	size_t		at = reader->pos;
	uint32_t	raw;
	int32_t		n;

	if (!read_uint32(reader, &raw))
		return false;
	n = as_int32(raw);
	if (n < 0)
	{
		set_error(reader->decoder,
				  "invalid %s message: negative %s length %" PRId32 " at offset %zu",
				  reader->what, field, n, at);
		return false;
	}
	if (!need(reader, (size_t) n))
		return false;
	*len = (uint32_t) n;
	*bytes = (const char *) reader->data + reader->pos;
	reader->pos += (size_t) n;
	return true;
}

/* A column or attribute count: int16, never negative nor above the limit. */
static bool
read_count(MessageReader *reader, const char *field, int *count)
{
	size_t		at = reader->pos;
	uint16_t	raw;
	int			n;

	if (!read_uint16(reader, &raw))
		return false;
	n = raw <= INT16_MAX ? (int) raw : (int) raw - 65536;
	if (n < 0 || n > SYNC_MAX_COLUMNS)
	{
		set_error(reader->decoder,
				  "invalid %s message: %s %d at offset %zu is outside 0..%d",
				  reader->what, field, n, at, SYNC_MAX_COLUMNS);
		return false;
	}
	*count = n;
	return true;
}

static bool
read_tuple(MessageReader *reader, SyncValue *values, SyncTuple *tuple)
{
	int			ncolumns;

	if (!read_count(reader, "column count", &ncolumns))
		return false;
	for (int i = 0; i < ncolumns; i++)
	{
		SyncValue  *value = &values[i];
		size_t		at = reader->pos;
		uint8_t		kind;

		if (!read_uint8(reader, &kind))
			return false;
		value->len = 0;
		value->data = NULL;
		switch (kind)
		{
			case SYNC_VALUE_NULL:
			case SYNC_VALUE_UNCHANGED:
				break;
			case SYNC_VALUE_TEXT:
			case SYNC_VALUE_BINARY:
				if (!read_counted_bytes(reader, "value", &value->len,
										&value->data))
					return false;
				break;
			default:
				set_error(reader->decoder,
						  "invalid %s message: unknown value kind 0x%02x at offset %zu",
						  reader->what, kind, at);
				return false;
		}
		value->kind = (SyncValueKind) kind;
	}
	tuple->ncolumns = ncolumns;
	tuple->values = values;
	return true;
}

/* One of the tuple markers 'K', 'O' or 'N' the caller allows in expected. */
static bool
read_tuple_marker(MessageReader *reader, const char *expected, char *marker)
{
	size_t		at = reader->pos;
	uint8_t		byte;

	if (!read_uint8(reader, &byte))
		return false;
	if (byte == '\0' || strchr(expected, byte) == NULL)
	{
		set_error(reader->decoder,
				  "invalid %s message: expected one of \"%s\" at offset %zu, got 0x%02x",
				  reader->what, expected, at, byte);
		return false;
	}
	*marker = (char) byte;
	return true;
}

static bool
decode_begin(MessageReader *reader, SyncMessage *message)
{
	uint64_t	commit_time;

	if (!read_uint64(reader, &message->u.begin.final_lsn) ||
		!read_uint64(reader, &commit_time) ||
		!read_uint32(reader, &message->xid))
		return false;
	message->u.begin.commit_time = as_int64(commit_time);
	return true;
}

/* COMMIT, and STREAM COMMIT after its xid. */
static bool
decode_commit(MessageReader *reader, SyncMessage *message)
{
	uint64_t	commit_time;

	if (!read_uint8(reader, &message->u.commit.flags) ||
		!read_uint64(reader, &message->u.commit.commit_lsn) ||
		!read_uint64(reader, &message->u.commit.end_lsn) ||
		!read_uint64(reader, &commit_time))
		return false;
	message->u.commit.commit_time = as_int64(commit_time);
	return true;
}

static bool
decode_relation(MessageReader *reader, SyncMessage *message)
{
	SyncDecoder *decoder = reader->decoder;
	size_t		at;
	uint8_t		identity;
	int			ncolumns;

	if (!read_uint32(reader, &message->u.relation.relid) ||
		!read_string(reader, "schema name", &message->u.relation.schema) ||
		!read_string(reader, "relation name", &message->u.relation.name))
		return false;
	at = reader->pos;
	if (!read_uint8(reader, &identity))
		return false;
	if (identity != 'd' && identity != 'n' && identity != 'f' && identity != 'i')
	{
		set_error(decoder,
				  "invalid RELATION message: unknown replica identity 0x%02x at offset %zu",
				  identity, at);
		return false;
	}
	message->u.relation.replica_identity = (char) identity;
	if (!read_count(reader, "column count", &ncolumns))
		return false;
	for (int i = 0; i < ncolumns; i++)
	{
		SyncColumn *column = &decoder->columns[i];
		uint8_t		flags;
		uint32_t	type_modifier;

		if (!read_uint8(reader, &flags) ||
			!read_string(reader, "column name", &column->name) ||
			!read_uint32(reader, &column->type_oid) ||
			!read_uint32(reader, &type_modifier))
			return false;
		/* bit 0 is the only flag PostgreSQL defines; others are ignored */
		column->is_key = (flags & 1) != 0;
		column->type_modifier = as_int32(type_modifier);
	}
	message->u.relation.ncolumns = ncolumns;
	message->u.relation.columns = decoder->columns;
	return true;
}

static bool
decode_type(MessageReader *reader, SyncMessage *message)
{
	return read_uint32(reader, &message->u.type.type_oid) &&
		read_string(reader, "schema name", &message->u.type.schema) &&
		read_string(reader, "type name", &message->u.type.name);
}

static bool
decode_insert(MessageReader *reader, SyncMessage *message)
{
	char		marker;

	return read_uint32(reader, &message->u.change.relid) &&
		read_tuple_marker(reader, "N", &marker) &&
		read_tuple(reader, reader->decoder->new_values, &message->u.change.new);
}

static bool
decode_update(MessageReader *reader, SyncMessage *message)
{
	char		marker;

	if (!read_uint32(reader, &message->u.change.relid) ||
		!read_tuple_marker(reader, "KON", &marker))
		return false;
	if (marker != 'N')
	{
		message->u.change.old_kind = marker;
		if (!read_tuple(reader, reader->decoder->old_values,
						&message->u.change.old) ||
			!read_tuple_marker(reader, "N", &marker))
			return false;
	}
	return read_tuple(reader, reader->decoder->new_values,
					  &message->u.change.new);
}

static bool
decode_delete(MessageReader *reader, SyncMessage *message)
{
	return read_uint32(reader, &message->u.change.relid) &&
		read_tuple_marker(reader, "KO", &message->u.change.old_kind) &&
		read_tuple(reader, reader->decoder->old_values, &message->u.change.old);
}

static bool
decode_truncate(MessageReader *reader, SyncMessage *message)
{
	SyncDecoder *decoder = reader->decoder;
	size_t		at = reader->pos;
	uint32_t	raw;
	int32_t		nrelids;

	if (!read_uint32(reader, &raw) ||
		!read_uint8(reader, &message->u.truncate.options))
		return false;
	nrelids = as_int32(raw);
	if (nrelids < 0)
	{
		set_error(decoder,
				  "invalid TRUNCATE message: negative relation count %" PRId32 " at offset %zu",
				  nrelids, at);
		return false;
	}
	/* checked before growing, so a lying count cannot make us allocate */
	if ((size_t) nrelids > (reader->len - reader->pos) / 4)
	{
		set_error(decoder,
				  "truncated TRUNCATE message: %" PRId32 " relation ids need %zu bytes at offset %zu, %zu left",
				  nrelids, (size_t) nrelids * 4, reader->pos,
				  reader->len - reader->pos);
		return false;
	}
	if (nrelids > decoder->relids_capacity)
	{
		uint32_t   *grown = realloc(decoder->relids,
									(size_t) nrelids * sizeof(uint32_t));

		if (grown == NULL)
		{
			set_error(decoder,
					  "could not allocate room for %" PRId32 " relation ids of a TRUNCATE message",
					  nrelids);
			return false;
		}
		decoder->relids = grown;
		decoder->relids_capacity = nrelids;
	}
	for (int32_t i = 0; i < nrelids; i++)
		read_uint32(reader, &decoder->relids[i]);
	message->u.truncate.nrelids = nrelids;
	message->u.truncate.relids = decoder->relids;
	return true;
}

static bool
decode_logical(MessageReader *reader, SyncMessage *message)
{
	uint8_t		flags;

	if (!read_uint8(reader, &flags) ||
		!read_uint64(reader, &message->u.logical.lsn) ||
		!read_string(reader, "prefix", &message->u.logical.prefix) ||
		!read_counted_bytes(reader, "content", &message->u.logical.len,
							&message->u.logical.content))
		return false;
	message->u.logical.transactional = (flags & 1) != 0;
	return true;
}

static bool
decode_stream_start(MessageReader *reader, SyncMessage *message)
{
	size_t		at;
	uint8_t		first_segment;

	if (!read_uint32(reader, &message->xid))
		return false;
	at = reader->pos;
	if (!read_uint8(reader, &first_segment))
		return false;
	if (first_segment > 1)
	{
		set_error(reader->decoder,
				  "invalid STREAM START message: first segment flag 0x%02x at offset %zu is not 0 or 1",
				  first_segment, at);
		return false;
	}
	message->u.stream_start.first_segment = first_segment == 1;
	return true;
}

static bool
decode_stream_abort(MessageReader *reader, SyncMessage *message)
{
	return read_uint32(reader, &message->xid) &&
		read_uint32(reader, &message->u.stream_abort.subxid);
}

static const char *
kind_name(uint8_t kind)
{
	switch (kind)
	{
		case SYNC_MSG_BEGIN:
			return "BEGIN";
		case SYNC_MSG_COMMIT:
			return "COMMIT";
		case SYNC_MSG_ORIGIN:
			return "ORIGIN";
		case SYNC_MSG_RELATION:
			return "RELATION";
		case SYNC_MSG_TYPE:
			return "TYPE";
		case SYNC_MSG_INSERT:
			return "INSERT";
		case SYNC_MSG_UPDATE:
			return "UPDATE";
		case SYNC_MSG_DELETE:
			return "DELETE";
		case SYNC_MSG_TRUNCATE:
			return "TRUNCATE";
		case SYNC_MSG_LOGICAL:
			return "MESSAGE";
		case SYNC_MSG_STREAM_START:
			return "STREAM START";
		case SYNC_MSG_STREAM_STOP:
			return "STREAM STOP";
		case SYNC_MSG_STREAM_COMMIT:
			return "STREAM COMMIT";
		case SYNC_MSG_STREAM_ABORT:
			return "STREAM ABORT";
	}
	return NULL;
}

/* The data messages: inside a stream block they start with an xid. */
static bool
carries_stream_xid(uint8_t kind)
{
	return kind == SYNC_MSG_RELATION || kind == SYNC_MSG_TYPE ||
		kind == SYNC_MSG_INSERT || kind == SYNC_MSG_UPDATE ||
		kind == SYNC_MSG_DELETE || kind == SYNC_MSG_TRUNCATE ||
		kind == SYNC_MSG_LOGICAL;
}

/*
 * Whether the kind may come where the decoder is.  A stream block holds
 * only data messages and ORIGIN; transactions begin and end outside one.
 * Checking it is what turns a lost STREAM STOP into an error instead of
 * every later message's first four bytes being taken for an xid.
 */
static bool
allowed_here(const SyncDecoder *decoder, uint8_t kind)
{
	switch (kind)
	{
		case SYNC_MSG_BEGIN:
		case SYNC_MSG_COMMIT:
		case SYNC_MSG_STREAM_START:
		case SYNC_MSG_STREAM_COMMIT:
		case SYNC_MSG_STREAM_ABORT:
			return !decoder->in_stream;
		case SYNC_MSG_STREAM_STOP:
			return decoder->in_stream;
		default:
			return true;
	}
}

void
sync_decoder_init(SyncDecoder *decoder)
{
	memset(decoder, 0, sizeof(*decoder));
}

void
sync_decoder_free(SyncDecoder *decoder)
{
	free(decoder->relids);
	decoder->relids = NULL;
	decoder->relids_capacity = 0;
}

/*
 * message->in_stream is set for everything that belongs to a streamed
 * transaction: the messages of a block, STREAM START and STOP included, and
 * STREAM COMMIT and ABORT.  Inside a block a data message's xid may be a
 * subtransaction's, not the one STREAM START named.  STREAM STOP has no
 * body, so its xid is 0.
 */
int
sync_decode(SyncDecoder *decoder, const char *data, size_t len,
			SyncMessage *message)
{
	MessageReader reader;
	uint8_t		kind;
	bool		ok;

	memset(message, 0, sizeof(*message));
	decoder->error[0] = '\0';
	if (len == 0)
	{
		set_error(decoder, "empty message");
		return -1;
	}
	kind = (uint8_t) data[0];
	if (kind_name(kind) == NULL)
	{
		if (isprint(kind))
			set_error(decoder, "unknown message kind '%c' (0x%02x)", kind, kind);
		else
			set_error(decoder, "unknown message kind 0x%02x", kind);
		return -1;
	}
	if (!allowed_here(decoder, kind))
	{
		set_error(decoder, "unexpected %s message %s a stream block",
				  kind_name(kind), decoder->in_stream ? "inside" : "outside");
		return -1;
	}

	reader.decoder = decoder;
	reader.data = (const unsigned char *) data;
	reader.len = len;
	reader.pos = 1;
	reader.what = kind_name(kind);
	message->kind = (SyncMessageKind) kind;
	message->in_stream = decoder->in_stream;
	if (decoder->in_stream && carries_stream_xid(kind) &&
		!read_uint32(&reader, &message->xid))
		return -1;

	switch (kind)
	{
		case SYNC_MSG_BEGIN:
			ok = decode_begin(&reader, message);
			break;
		case SYNC_MSG_COMMIT:
			ok = decode_commit(&reader, message);
			break;
		case SYNC_MSG_ORIGIN:
			ok = read_uint64(&reader, &message->u.origin.lsn) &&
				read_string(&reader, "origin name", &message->u.origin.name);
			break;
		case SYNC_MSG_RELATION:
			ok = decode_relation(&reader, message);
			break;
		case SYNC_MSG_TYPE:
			ok = decode_type(&reader, message);
			break;
		case SYNC_MSG_INSERT:
			ok = decode_insert(&reader, message);
			break;
		case SYNC_MSG_UPDATE:
			ok = decode_update(&reader, message);
			break;
		case SYNC_MSG_DELETE:
			ok = decode_delete(&reader, message);
			break;
		case SYNC_MSG_TRUNCATE:
			ok = decode_truncate(&reader, message);
			break;
		case SYNC_MSG_LOGICAL:
			ok = decode_logical(&reader, message);
			break;
		case SYNC_MSG_STREAM_START:
			ok = decode_stream_start(&reader, message);
			break;
		case SYNC_MSG_STREAM_STOP:
			ok = true;
			break;
		case SYNC_MSG_STREAM_COMMIT:
			ok = read_uint32(&reader, &message->xid) &&
				decode_commit(&reader, message);
			break;
		case SYNC_MSG_STREAM_ABORT:
			ok = decode_stream_abort(&reader, message);
			break;
		default:
			ok = false;			/* kind_name() let through no other kind */
			break;
	}
	if (!ok)
		return -1;
	if (reader.pos != len)
	{
		set_error(decoder,
				  "invalid %s message: %zu trailing bytes after offset %zu",
				  reader.what, len - reader.pos, reader.pos);
		return -1;
	}

	switch (kind)
	{
		case SYNC_MSG_STREAM_START:
			decoder->in_stream = true;
			message->in_stream = true;
			break;
		case SYNC_MSG_STREAM_STOP:
			decoder->in_stream = false;
			break;
		case SYNC_MSG_STREAM_COMMIT:
		case SYNC_MSG_STREAM_ABORT:
			message->in_stream = true;
			break;
		default:
			break;
	}
	return 0;
}

void
sync_lsn_format(SyncLsn lsn, char *buf)
{
	snprintf(buf, 20, "%" PRIX32 "/%" PRIX32,
			 (uint32_t) (lsn >> 32), (uint32_t) lsn);
}

/* One to eight hex digits, as pg_lsn_in takes them; returns the count. */
static size_t
parse_lsn_half(const char *text, uint32_t *value)
{
	size_t		n = 0;

	*value = 0;
	while (isxdigit((unsigned char) text[n]))
	{
		int			c = (unsigned char) text[n];
		int			digit = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;

		if (n == 8)
			return 9;
		*value = (*value << 4) | (uint32_t) digit;
		n++;
	}
	return n;
}

int
sync_lsn_parse(const char *text, SyncLsn *lsn)
{
	uint32_t	high;
	uint32_t	low;
	size_t		n;

	n = parse_lsn_half(text, &high);
	if (n < 1 || n > 8 || text[n] != '/')
		return -1;
	text += n + 1;
	n = parse_lsn_half(text, &low);
	if (n < 1 || n > 8 || text[n] != '\0')
		return -1;
	*lsn = ((SyncLsn) high << 32) | low;
	return 0;
}
