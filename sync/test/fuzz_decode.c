/*
 * fuzz_decode.c -- libFuzzer target for the pgoutput decoder.
 *
 * Each input is decoded twice: by a decoder outside a stream block and by
 * one put inside a block by a real STREAM START, since inside a block the
 * data messages are laid out differently (an xid after the kind byte).  The
 * input is copied to a heap block of exactly its size so that a read past
 * the end is caught by AddressSanitizer whatever libFuzzer's buffer is.
 * Beyond not crashing, the decoder's own promises are checked: a result
 * points into the input, a tuple has no more columns than the limit, a
 * failure says why.
 *
 * Seeds: sync/test/corpus/decode/, written by capture-fixtures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/decode.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A STREAM START of xid 749, first segment, as PostgreSQL 15 sent it. */
static const unsigned char stream_start[] = {'S', 0x00, 0x00, 0x02, 0xed, 0x01};

static SyncDecoder decoder;

static void
check_inside(const char *p, size_t n, const char *input, size_t size)
{
	if (p == NULL)
		return;
	if (p < input || n > size || (size_t) (p - input) > size - n)
		abort();
}

static void
check_tuple(const SyncTuple *tuple, const char *input, size_t size)
{
	if (tuple->ncolumns < 0 || tuple->ncolumns > SYNC_MAX_COLUMNS)
		abort();
	for (int i = 0; i < tuple->ncolumns; i++)
		check_inside(tuple->values[i].data, tuple->values[i].len, input, size);
}

/* A string must start in the input and end with a NUL inside it. */
static void
check_string(const char *s, const char *input, size_t size)
{
	size_t		room;

	if (s < input || s >= input + size)
		abort();
	room = (size_t) (input + size - s);
	if (strnlen(s, room) == room)
		abort();
}

static void
check_message(const SyncMessage *m, const char *input, size_t size)
{
	switch (m->kind)
	{
		case SYNC_MSG_ORIGIN:
			check_string(m->u.origin.name, input, size);
			break;
		case SYNC_MSG_RELATION:
			check_string(m->u.relation.schema, input, size);
			check_string(m->u.relation.name, input, size);
			if (m->u.relation.ncolumns < 0 ||
				m->u.relation.ncolumns > SYNC_MAX_COLUMNS)
				abort();
			for (int i = 0; i < m->u.relation.ncolumns; i++)
				check_string(m->u.relation.columns[i].name, input, size);
			break;
		case SYNC_MSG_TYPE:
			check_string(m->u.type.schema, input, size);
			check_string(m->u.type.name, input, size);
			break;
		case SYNC_MSG_INSERT:
		case SYNC_MSG_UPDATE:
		case SYNC_MSG_DELETE:
			check_tuple(&m->u.change.old, input, size);
			check_tuple(&m->u.change.new, input, size);
			break;
		case SYNC_MSG_TRUNCATE:
			if (m->u.truncate.nrelids < 0 ||
				(size_t) m->u.truncate.nrelids > size / 4)
				abort();
			break;
		case SYNC_MSG_LOGICAL:
			check_string(m->u.logical.prefix, input, size);
			check_inside(m->u.logical.content, m->u.logical.len, input, size);
			break;
		default:
			break;
	}
}

static void
decode_one(const char *input, size_t size)
{
	SyncMessage message;

	if (sync_decode(&decoder, input, size, &message) == 0)
		check_message(&message, input, size);
	else if (decoder.error[0] == '\0')
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	sync_decoder_init(&decoder);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *input = malloc(size > 0 ? size : 1);
	SyncMessage message;

	if (input == NULL)
		return 0;
	memcpy(input, data, size);

	/* the relids array is kept: its reuse across inputs is tested too */
	decoder.in_stream = false;
	decode_one(input, size);

	decoder.in_stream = false;
	if (sync_decode(&decoder, (const char *) stream_start,
					sizeof(stream_start), &message) != 0)
		abort();
	decode_one(input, size);

	free(input);
	return 0;
}
