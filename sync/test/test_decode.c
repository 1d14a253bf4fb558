/*
 * test_decode.c -- unit tests of the pgoutput decoder on messages captured
 * from a real PostgreSQL 15 server (fixtures_pgoutput.h, made by
 * capture-fixtures), and on real messages cut short, extended or altered.
 *
 * Every message given to the decoder sits in a heap block of exactly its
 * length, so that AddressSanitizer or valgrind catch a read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sync/decode.h"
#include "sync/test/fixtures_pgoutput.h"

#define NSCENARIOS ((int) (sizeof(pgoutput_scenarios) / sizeof(pgoutput_scenarios[0])))

/* 2024-01-02 03:04:05 UTC, the origin scenario's commit time */
#define ORIGIN_COMMIT_TIME INT64_C(757479845000000)

/* Per-test state: the decoder is big, so it lives on the heap. */
static int
setup_decoder(void **state)
{
	SyncDecoder *decoder = malloc(sizeof(SyncDecoder));

	if (decoder == NULL)
		return -1;
	sync_decoder_init(decoder);
	*state = decoder;
	return 0;
}

static int
teardown_decoder(void **state)
{
	sync_decoder_free(*state);
	free(*state);
	return 0;
}

/* Back to a new decoder's state, between scenarios. */
static void
reset_decoder(SyncDecoder *decoder)
{
	sync_decoder_free(decoder);
	sync_decoder_init(decoder);
}

static const PgoutputScenario *
find_scenario(const char *name)
{
	for (int i = 0; i < NSCENARIOS; i++)
		if (strcmp(pgoutput_scenarios[i].name, name) == 0)
			return &pgoutput_scenarios[i];
	fail_msg("no scenario \"%s\" in fixtures_pgoutput.h", name);
	return NULL;
}

/* Decodes len bytes from an exactly sized heap copy. */
static int
decode_copy(SyncDecoder *decoder, const void *bytes, size_t len,
			SyncMessage *message)
{
	char	   *copy = malloc(len > 0 ? len : 1);
	int			rc;

	assert_non_null(copy);
	memcpy(copy, bytes, len);
	rc = sync_decode(decoder, copy, len, message);
	free(copy);
	return rc;
}

/*
 * Decodes a scenario in order with one decoder up to its nth (from 0)
 * message of the kind, and leaves that message in *message.  The payload
 * must outlive the message, so the fixture itself is decoded here.
 */
static void
decode_until(SyncDecoder *decoder, const char *name, char kind, int nth,
			 SyncMessage *message)
{
	const PgoutputScenario *scenario = find_scenario(name);

	for (int i = 0; i < scenario->nmessages; i++)
	{
		const PgoutputFixture *fixture = &scenario->messages[i];

		if (sync_decode(decoder, (const char *) fixture->data, fixture->len,
						message) != 0)
			fail_msg("%s #%d: %s", name, i, decoder->error);
		if (fixture->kind == kind && nth-- == 0)
			return;
	}
	fail_msg("scenario %s has too few '%c' messages", name, kind);
}

static void
assert_text(const SyncValue *value, const char *text)
{
	assert_int_equal(value->kind, SYNC_VALUE_TEXT);
	assert_int_equal(value->len, strlen(text));
	assert_memory_equal(value->data, text, value->len);
}

static void
assert_sql_null(const SyncValue *value)
{
	assert_int_equal(value->kind, SYNC_VALUE_NULL);
	assert_int_equal(value->len, 0);
	assert_null(value->data);
}

static void
every_captured_message_decodes_in_order(void **state)
{
	SyncDecoder *decoder = *state;
	bool		seen[256] = {false};
	const char *kinds = "BCORYIUDTMSEcA";

	for (int s = 0; s < NSCENARIOS; s++)
	{
		const PgoutputScenario *scenario = &pgoutput_scenarios[s];

		reset_decoder(decoder);
		for (int i = 0; i < scenario->nmessages; i++)
		{
			const PgoutputFixture *fixture = &scenario->messages[i];
			SyncMessage message;

			if (decode_copy(decoder, fixture->data, fixture->len, &message) != 0)
				fail_msg("%s #%d: %s", scenario->name, i, decoder->error);
			assert_int_equal(message.kind, fixture->kind);
			assert_string_equal(decoder->error, "");
			seen[(unsigned char) fixture->kind] = true;
		}
		/* every scenario ends outside a stream block */
		assert_false(decoder->in_stream);
	}
	for (const char *k = kinds; *k != '\0'; k++)
		if (!seen[(unsigned char) *k])
			fail_msg("no captured '%c' message", *k);
}

static void
begin_and_commit_frame_a_transaction(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage begin;
	SyncMessage commit;
	const PgoutputFixture *fixtures = find_scenario("insert_proto1")->messages;

	assert_int_equal(sync_decode(decoder, (const char *) fixtures[0].data,
								 fixtures[0].len, &begin), 0);
	assert_int_equal(begin.kind, SYNC_MSG_BEGIN);
	assert_false(begin.in_stream);
	assert_true(begin.xid != 0);
	assert_true(begin.u.begin.final_lsn != 0);
	assert_true(begin.u.begin.commit_time > 0);

	decode_until(decoder, "insert_proto1", 'C', 0, &commit);
	assert_int_equal(commit.xid, 0);
	assert_int_equal(commit.u.commit.flags, 0);
	/* BEGIN announces the LSN of the commit record COMMIT then names */
	assert_int_equal(commit.u.commit.commit_lsn, begin.u.begin.final_lsn);
	assert_true(commit.u.commit.end_lsn > commit.u.commit.commit_lsn);
	assert_int_equal(commit.u.commit.commit_time, begin.u.begin.commit_time);
}

static void
relation_and_type_describe_the_table(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage type;
	SyncMessage rel;
	const SyncColumn *c;

	decode_until(decoder, "insert_proto1", 'Y', 0, &type);
	assert_string_equal(type.u.type.schema, "fx");
	assert_string_equal(type.u.type.name, "mood");
	assert_true(type.u.type.type_oid >= 16384);

	decode_until(decoder, "insert_proto1", 'R', 0, &rel);
	assert_string_equal(rel.u.relation.schema, "fx");
	assert_string_equal(rel.u.relation.name, "items");
	assert_int_equal(rel.u.relation.replica_identity, 'd');
	assert_int_equal(rel.u.relation.ncolumns, 5);
	c = rel.u.relation.columns;
	assert_string_equal(c[0].name, "id");
	assert_true(c[0].is_key);
	assert_int_equal(c[0].type_oid, 23);	/* int4 */
	assert_int_equal(c[0].type_modifier, -1);
	assert_string_equal(c[1].name, "name");
	assert_false(c[1].is_key);
	assert_int_equal(c[1].type_oid, 25);	/* text */
	assert_string_equal(c[2].name, "price");
	assert_int_equal(c[2].type_oid, 1700);	/* numeric */
	assert_int_equal(c[2].type_modifier, ((10 << 16) | 2) + 4);
	assert_string_equal(c[3].name, "mood");
	/* the TYPE message came first so that this oid means something */
	assert_int_equal(c[3].type_oid, type.u.type.type_oid);
	assert_string_equal(c[4].name, "note");
}

static void
insert_in_protocol_version_1(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage rel;
	SyncMessage insert;
	uint32_t	relid;

	decode_until(decoder, "insert_proto1", 'R', 0, &rel);
	relid = rel.u.relation.relid;
	decode_until(decoder, "insert_proto1", 'I', 0, &insert);
	assert_false(insert.in_stream);
	assert_int_equal(insert.xid, 0);
	assert_int_equal(insert.u.change.relid, relid);
	assert_int_equal(insert.u.change.old_kind, 0);
	assert_int_equal(insert.u.change.old.ncolumns, 0);
	assert_int_equal(insert.u.change.new.ncolumns, 5);
	assert_text(&insert.u.change.new.values[0], "1");
	assert_text(&insert.u.change.new.values[1], "widget");
	assert_text(&insert.u.change.new.values[2], "9.99");
	assert_text(&insert.u.change.new.values[3], "happy");
	assert_sql_null(&insert.u.change.new.values[4]);
}

static void
insert_with_nulls_and_utf8_text(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage insert;
	const SyncValue *v;

	decode_until(decoder, "insert_nulls", 'I', 0, &insert);
	v = insert.u.change.new.values;
	assert_text(&v[0], "2");
	assert_text(&v[1], "gadget");
	assert_sql_null(&v[2]);
	assert_sql_null(&v[3]);
	assert_text(&v[4], "caf\xc3\xa9 \"quoted\"");

	reset_decoder(decoder);
	decode_until(decoder, "insert_nulls", 'I', 1, &insert);
	v = insert.u.change.new.values;
	assert_text(&v[0], "3");
	assert_text(&v[2], "0.50");
	assert_text(&v[3], "sad");
	assert_sql_null(&v[4]);
}

static void
update_of_the_key_sends_the_old_key(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage update;
	const SyncValue *old;

	decode_until(decoder, "update_key", 'U', 0, &update);
	assert_int_equal(update.u.change.old_kind, 'K');
	assert_int_equal(update.u.change.old.ncolumns, 5);
	old = update.u.change.old.values;
	assert_text(&old[0], "1");
	/* only the key is sent; the other columns of the old key tuple are null */
	for (int i = 1; i < 5; i++)
		assert_sql_null(&old[i]);
	assert_int_equal(update.u.change.new.ncolumns, 5);
	assert_text(&update.u.change.new.values[0], "10");
	assert_text(&update.u.change.new.values[1], "widget");
}

static void
update_keeping_the_key_sends_no_old_tuple(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage update;

	decode_until(decoder, "update_no_key", 'U', 0, &update);
	assert_int_equal(update.u.change.old_kind, 0);
	assert_int_equal(update.u.change.old.ncolumns, 0);
	assert_text(&update.u.change.new.values[0], "2");
	assert_text(&update.u.change.new.values[2], "12.50");
	assert_sql_null(&update.u.change.new.values[4]);
}

static void
delete_sends_the_old_key(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage delete;

	decode_until(decoder, "delete_key", 'D', 0, &delete);
	assert_int_equal(delete.u.change.old_kind, 'K');
	assert_text(&delete.u.change.old.values[0], "3");
	assert_sql_null(&delete.u.change.old.values[1]);
	assert_int_equal(delete.u.change.new.ncolumns, 0);
}

static void
replica_identity_full_sends_whole_old_rows(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;

	decode_until(decoder, "replica_identity_full", 'R', 0, &msg);
	assert_int_equal(msg.u.relation.replica_identity, 'f');
	for (int i = 0; i < msg.u.relation.ncolumns; i++)
		assert_true(msg.u.relation.columns[i].is_key);

	reset_decoder(decoder);
	decode_until(decoder, "replica_identity_full", 'U', 0, &msg);
	assert_int_equal(msg.u.change.old_kind, 'O');
	assert_text(&msg.u.change.old.values[0], "1");
	assert_text(&msg.u.change.old.values[1], "100.25");
	assert_text(&msg.u.change.old.values[2], "opening");
	assert_text(&msg.u.change.new.values[1], "101");

	reset_decoder(decoder);
	decode_until(decoder, "replica_identity_full", 'D', 0, &msg);
	assert_int_equal(msg.u.change.old_kind, 'O');
	assert_text(&msg.u.change.old.values[0], "2");
	assert_text(&msg.u.change.old.values[1], "-3");
	assert_sql_null(&msg.u.change.old.values[2]);
}

static void
unchanged_toasted_value_is_not_sent(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;
	const SyncValue *body;

	decode_until(decoder, "toast", 'I', 0, &msg);
	body = &msg.u.change.new.values[2];
	assert_int_equal(body->kind, SYNC_VALUE_TEXT);
	assert_int_equal(body->len, 9600);
	/* md5('1') starts the body */
	assert_memory_equal(body->data, "c4ca4238a0b923820dcc509a6f75849b", 32);

	reset_decoder(decoder);
	decode_until(decoder, "toast", 'U', 0, &msg);
	assert_int_equal(msg.u.change.old_kind, 0);
	assert_text(&msg.u.change.new.values[1], "final");
	body = &msg.u.change.new.values[2];
	assert_int_equal(body->kind, SYNC_VALUE_UNCHANGED);
	assert_int_equal(body->len, 0);
	assert_null(body->data);
}

static void
truncate_of_several_relations_with_options(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;
	uint32_t	relids[3];

	for (int i = 0; i < 3; i++)
	{
		reset_decoder(decoder);
		decode_until(decoder, "truncate", 'R', i, &msg);
		relids[i] = msg.u.relation.relid;
	}
	decode_until(decoder, "truncate", 'T', 0, &msg);
	/* RESTART IDENTITY CASCADE */
	assert_int_equal(msg.u.truncate.options, 3);
	assert_int_equal(msg.u.truncate.nrelids, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(msg.u.truncate.relids[i], relids[i]);
}

static void
logical_messages_transactional_or_not(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;

	decode_until(decoder, "logical_message", 'M', 0, &msg);
	assert_false(msg.u.logical.transactional);
	assert_false(msg.in_stream);
	assert_int_equal(msg.xid, 0);
	assert_true(msg.u.logical.lsn != 0);
	assert_string_equal(msg.u.logical.prefix, "tally.nontx");
	assert_int_equal(msg.u.logical.len, 3);
	assert_memory_equal(msg.u.logical.content, "\x00\xff\x0a", 3);

	reset_decoder(decoder);
	decode_until(decoder, "logical_message", 'M', 1, &msg);
	assert_true(msg.u.logical.transactional);
	assert_string_equal(msg.u.logical.prefix, "tally");
	assert_int_equal(msg.u.logical.len, strlen("hello, transactional"));
	assert_memory_equal(msg.u.logical.content, "hello, transactional",
						msg.u.logical.len);
}

static void
origin_follows_begin(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;

	decode_until(decoder, "origin", 'B', 0, &msg);
	/* pg_replication_origin_xact_setup set the commit time too */
	assert_int_equal(msg.u.begin.commit_time, ORIGIN_COMMIT_TIME);

	reset_decoder(decoder);
	decode_until(decoder, "origin", 'O', 0, &msg);
	assert_int_equal(msg.u.origin.lsn, UINT64_C(0x1234ABCD));
	assert_string_equal(msg.u.origin.name, "tally_upstream");
}

static void
binary_values_keep_their_bytes(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;
	const SyncValue *v;

	decode_until(decoder, "binary", 'I', 0, &msg);
	v = msg.u.change.new.values;
	assert_int_equal(v[0].kind, SYNC_VALUE_BINARY);
	assert_int_equal(v[0].len, 4);
	assert_memory_equal(v[0].data, "\x00\x00\x00\x04", 4);
	assert_int_equal(v[1].kind, SYNC_VALUE_BINARY);
	assert_memory_equal(v[1].data, "binary", 6);
	/* numeric_send of 3.25: 2 digits, weight 0, sign +, dscale 2, 3 2500 */
	assert_int_equal(v[2].len, 12);
	assert_memory_equal(v[2].data,
						"\x00\x02\x00\x00\x00\x00\x00\x02\x00\x03\x09\xc4", 12);
	assert_int_equal(v[3].kind, SYNC_VALUE_BINARY);
	assert_memory_equal(v[3].data, "ok", 2);
	assert_sql_null(&v[4]);
}

/*
 * Walks a streamed scenario checking the block structure: which messages
 * are in a stream, and that every xid in a block is top or one of subxids.
 * Returns the top-level xid.
 */
static SyncXid
walk_stream(SyncDecoder *decoder, const char *name, int *nblocks)
{
	const PgoutputScenario *scenario = find_scenario(name);
	SyncXid		top = 0;

	*nblocks = 0;
	for (int i = 0; i < scenario->nmessages; i++)
	{
		const PgoutputFixture *fixture = &scenario->messages[i];
		bool		was_in_stream = decoder->in_stream;
		SyncMessage msg;

		if (sync_decode(decoder, (const char *) fixture->data, fixture->len,
						&msg) != 0)
			fail_msg("%s #%d: %s", name, i, decoder->error);
		switch (msg.kind)
		{
			case SYNC_MSG_STREAM_START:
				assert_false(was_in_stream);
				assert_true(decoder->in_stream);
				if (top == 0)
				{
					assert_true(msg.u.stream_start.first_segment);
					top = msg.xid;
				}
				else
				{
					assert_false(msg.u.stream_start.first_segment);
					assert_int_equal(msg.xid, top);
				}
				(*nblocks)++;
				break;
			case SYNC_MSG_STREAM_STOP:
				assert_true(msg.in_stream);
				assert_int_equal(msg.xid, 0);
				assert_false(decoder->in_stream);
				break;
			case SYNC_MSG_STREAM_COMMIT:
			case SYNC_MSG_STREAM_ABORT:
				assert_false(decoder->in_stream);
				assert_true(msg.in_stream);
				assert_int_equal(msg.xid, top);
				break;
			case SYNC_MSG_BEGIN:
			case SYNC_MSG_COMMIT:
				assert_false(msg.in_stream);
				break;
			default:
				assert_int_equal(msg.in_stream, was_in_stream);
				if (was_in_stream)
					assert_true(msg.xid >= top);
				else
					assert_int_equal(msg.xid, 0);
				break;
		}
	}
	return top;
}

static void
streamed_transaction_commits(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;
	SyncXid		top;
	int			nblocks;

	top = walk_stream(decoder, "stream_commit", &nblocks);
	assert_true(nblocks > 1);

	/* every kind of data message carries the xid inside a block */
	const char *data_kinds = "RYIUDMT";

	for (const char *k = data_kinds; *k != '\0'; k++)
	{
		reset_decoder(decoder);
		decode_until(decoder, "stream_commit", *k, 0, &msg);
		assert_true(msg.in_stream);
		assert_int_equal(msg.xid, top);
	}

	reset_decoder(decoder);
	decode_until(decoder, "stream_commit", 'U', 0, &msg);
	assert_int_equal(msg.u.change.old_kind, 'K');
	assert_text(&msg.u.change.old.values[0], "20");
	assert_text(&msg.u.change.new.values[0], "21");

	reset_decoder(decoder);
	decode_until(decoder, "stream_commit", 'U', 1, &msg);
	assert_int_equal(msg.u.change.old_kind, 0);
	assert_text(&msg.u.change.new.values[4], "kept key");

	reset_decoder(decoder);
	decode_until(decoder, "stream_commit", 'M', 0, &msg);
	assert_true(msg.u.logical.transactional);
	assert_memory_equal(msg.u.logical.content, "streamed message",
						msg.u.logical.len);

	reset_decoder(decoder);
	decode_until(decoder, "stream_commit", 'T', 0, &msg);
	assert_int_equal(msg.u.truncate.nrelids, 1);
	assert_int_equal(msg.u.truncate.options, 0);

	reset_decoder(decoder);
	decode_until(decoder, "stream_commit", 'c', 0, &msg);
	assert_int_equal(msg.xid, top);
	assert_int_equal(msg.u.commit.flags, 0);
	assert_true(msg.u.commit.commit_lsn != 0);
	assert_true(msg.u.commit.end_lsn > msg.u.commit.commit_lsn);
	assert_true(msg.u.commit.commit_time > 0);
}

static void
streamed_transaction_aborts(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;
	SyncXid		top;
	int			nblocks;

	top = walk_stream(decoder, "stream_abort", &nblocks);
	assert_true(nblocks > 1);

	reset_decoder(decoder);
	decode_until(decoder, "stream_abort", 'A', 0, &msg);
	assert_int_equal(msg.xid, top);
	assert_int_equal(msg.u.stream_abort.subxid, top);
}

static void
streamed_subtransaction_aborts(void **state)
{
	SyncDecoder *decoder = *state;
	const PgoutputScenario *scenario = find_scenario("stream_subxact_abort");
	SyncMessage msg;
	SyncXid		top;
	SyncXid		rolled_back = 0;
	int			nblocks;

	top = walk_stream(decoder, "stream_subxact_abort", &nblocks);

	/* the rows of the savepoint came with the subtransaction's xid */
	reset_decoder(decoder);
	for (int i = 0; i < scenario->nmessages; i++)
	{
		const PgoutputFixture *fixture = &scenario->messages[i];

		assert_int_equal(sync_decode(decoder, (const char *) fixture->data,
									 fixture->len, &msg), 0);
		if (msg.kind == SYNC_MSG_INSERT &&
			msg.u.change.new.values[1].len > 11 &&
			memcmp(msg.u.change.new.values[1].data, "rolled back", 11) == 0)
		{
			assert_int_not_equal(msg.xid, top);
			rolled_back = msg.xid;
		}
		if (msg.kind == SYNC_MSG_STREAM_ABORT)
		{
			assert_int_equal(msg.xid, top);
			assert_int_not_equal(rolled_back, 0);
			assert_int_equal(msg.u.stream_abort.subxid, rolled_back);
		}
	}

	reset_decoder(decoder);
	decode_until(decoder, "stream_subxact_abort", 'c', 0, &msg);
	assert_int_equal(msg.xid, top);
}

/*
 * Every strict prefix of every captured message, decoded in the stream
 * state the whole message was decoded in, is an error and leaves that
 * state alone.
 */
static void
every_strict_prefix_is_rejected(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;

	for (int s = 0; s < NSCENARIOS; s++)
	{
		const PgoutputScenario *scenario = &pgoutput_scenarios[s];

		reset_decoder(decoder);
		for (int i = 0; i < scenario->nmessages; i++)
		{
			const PgoutputFixture *fixture = &scenario->messages[i];
			bool		in_stream = decoder->in_stream;

			for (size_t len = 0; len < fixture->len; len++)
			{
				if (decode_copy(decoder, fixture->data, len, &msg) == 0)
					fail_msg("%s #%d: a %zu-byte prefix of %zu was accepted",
							 scenario->name, i, len, fixture->len);
				assert_true(decoder->error[0] != '\0');
				assert_int_equal(decoder->in_stream, in_stream);
			}
			assert_int_equal(decode_copy(decoder, fixture->data, fixture->len,
										 &msg), 0);
		}
	}
}

static void
trailing_bytes_are_rejected(void **state)
{
	SyncDecoder *decoder = *state;
	SyncMessage msg;

	for (int s = 0; s < NSCENARIOS; s++)
	{
		const PgoutputScenario *scenario = &pgoutput_scenarios[s];

		reset_decoder(decoder);
		for (int i = 0; i < scenario->nmessages; i++)
		{
			const PgoutputFixture *fixture = &scenario->messages[i];
			unsigned char *longer = malloc(fixture->len + 4);

			assert_non_null(longer);
			memcpy(longer, fixture->data, fixture->len);
			memcpy(longer + fixture->len, "N\0\0\0", 4);
			for (size_t extra = 1; extra <= 4; extra++)
			{
				if (decode_copy(decoder, longer, fixture->len + extra, &msg) == 0)
					fail_msg("%s #%d: %zu trailing bytes were accepted",
							 scenario->name, i, extra);
				assert_non_null(strstr(decoder->error, "trailing"));
			}
			free(longer);
			assert_int_equal(decode_copy(decoder, fixture->data, fixture->len,
										 &msg), 0);
		}
	}
}

static void
truncation_error_names_the_field(void **state)
{
	SyncDecoder *decoder = *state;
	const PgoutputFixture *update = &find_scenario("update_key")->messages[3];
	SyncMessage msg;

	assert_int_equal(update->kind, 'U');
	/* kind, relid, 'K', and one of the two bytes of the column count */
	assert_int_equal(decode_copy(decoder, update->data, 7, &msg), -1);
	assert_string_equal(decoder->error,
						"truncated UPDATE message: expected 2 bytes at offset 6, 1 left");
}

/* A copy of a real message with bytes changed, for the malformed cases. */
static unsigned char *
altered(const char *scenario, char kind, size_t *len)
{
	const PgoutputScenario *s = find_scenario(scenario);

	for (int i = 0; i < s->nmessages; i++)
	{
		if (s->messages[i].kind == kind)
		{
			unsigned char *copy = malloc(s->messages[i].len);

			assert_non_null(copy);
			memcpy(copy, s->messages[i].data, s->messages[i].len);
			*len = s->messages[i].len;
			return copy;
		}
	}
	fail_msg("no '%c' in %s", kind, scenario);
	return NULL;
}

static void
expect_rejected(SyncDecoder *decoder, unsigned char *bytes, size_t len,
				const char *error_part)
{
	SyncMessage msg;

	assert_int_equal(decode_copy(decoder, bytes, len, &msg), -1);
	if (strstr(decoder->error, error_part) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", decoder->error, error_part);
	free(bytes);
}

static void
put_uint32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

static void
malformed_messages_are_rejected(void **state)
{
	SyncDecoder *decoder = *state;
	unsigned char *m;
	size_t		len;

	expect_rejected(decoder, (unsigned char *) strdup(""), 0, "empty message");

	/* two-phase BEGIN PREPARE is not a kind this decoder knows */
	m = altered("insert_proto1", 'B', &len);
	m[0] = 'b';
	expect_rejected(decoder, m, len, "unknown message kind 'b'");
	m = altered("insert_proto1", 'B', &len);
	m[0] = 0x00;
	expect_rejected(decoder, m, len, "unknown message kind 0x00");

	/* insert_proto1 INSERT: I relid(4) N count(2) 't' len(4) "1" ... */
	m = altered("insert_proto1", 'I', &len);
	put_uint32(m + 9, 0xFFFFFFFF);
	expect_rejected(decoder, m, len, "negative value length -1 at offset 9");
	m = altered("insert_proto1", 'I', &len);
	put_uint32(m + 9, 0x7FFFFFFF);
	expect_rejected(decoder, m, len, "truncated INSERT message");
	m = altered("insert_proto1", 'I', &len);
	m[6] = m[7] = 0xFF;			/* column count -1 */
	expect_rejected(decoder, m, len, "column count -1 at offset 6");
	m = altered("insert_proto1", 'I', &len);
	m[6] = (SYNC_MAX_COLUMNS + 1) >> 8;
	m[7] = (SYNC_MAX_COLUMNS + 1) & 0xFF;
	expect_rejected(decoder, m, len, "column count 1665");
	m = altered("insert_proto1", 'I', &len);
	m[5] = 'K';					/* INSERT has only a new tuple */
	expect_rejected(decoder, m, len, "expected one of \"N\" at offset 5");
	m = altered("insert_proto1", 'I', &len);
	m[8] = 'x';
	expect_rejected(decoder, m, len, "unknown value kind 0x78 at offset 8");

	/* update_key UPDATE: the old key tuple must be followed by 'N' */
	m = altered("update_key", 'U', &len);
	m[5] = 'N';					/* the old key is then read as the new tuple */
	expect_rejected(decoder, m, len, "trailing bytes");
	m = altered("update_key", 'U', &len);
	m[5] = 'X';
	expect_rejected(decoder, m, len, "expected one of \"KON\"");
	m = altered("delete_key", 'D', &len);
	m[5] = 'N';
	expect_rejected(decoder, m, len, "expected one of \"KO\"");

	/* RELATION: replica identity, and a name with no NUL before the end */
	m = altered("insert_proto1", 'R', &len);
	m[14] = 'x';				/* R relid(4) "fx\0" "items\0" identity */
	expect_rejected(decoder, m, len, "unknown replica identity 0x78 at offset 14");
	m = altered("insert_proto1", 'Y', &len);
	m[len - 1] = 'd';
	expect_rejected(decoder, m, len, "type name at offset 8 has no terminating NUL");

	/* TRUNCATE: T count(4) options(1) relids */
	m = altered("truncate", 'T', &len);
	put_uint32(m + 1, 0x80000000);
	expect_rejected(decoder, m, len, "negative relation count");
	m = altered("truncate", 'T', &len);
	put_uint32(m + 1, 0x7FFFFFFF);
	expect_rejected(decoder, m, len, "2147483647 relation ids need");
	assert_null(decoder->relids);

	/* MESSAGE: M flags(1) lsn(8) prefix content length */
	m = altered("logical_message", 'M', &len);
	put_uint32(m + 22, 0xFFFFFFFE);
	expect_rejected(decoder, m, len, "negative content length -2");

	m = altered("stream_commit", 'S', &len);
	m[5] = 2;
	expect_rejected(decoder, m, len, "first segment flag 0x02");
	assert_false(decoder->in_stream);
}

static void
stream_block_order_is_enforced(void **state)
{
	SyncDecoder *decoder = *state;
	const PgoutputFixture *start = &find_scenario("stream_commit")->messages[0];
	SyncMessage msg;
	unsigned char *m;
	size_t		len;

	m = altered("stream_commit", 'E', &len);
	expect_rejected(decoder, m, len, "unexpected STREAM STOP message outside");

	assert_int_equal(decode_copy(decoder, start->data, start->len, &msg), 0);
	assert_true(decoder->in_stream);
	m = altered("stream_commit", 'S', &len);
	expect_rejected(decoder, m, len, "unexpected STREAM START message inside");
	m = altered("insert_proto1", 'B', &len);
	expect_rejected(decoder, m, len, "unexpected BEGIN message inside");
	m = altered("insert_proto1", 'C', &len);
	expect_rejected(decoder, m, len, "unexpected COMMIT message inside");
	m = altered("stream_commit", 'c', &len);
	expect_rejected(decoder, m, len, "unexpected STREAM COMMIT message inside");
	m = altered("stream_abort", 'A', &len);
	expect_rejected(decoder, m, len, "unexpected STREAM ABORT message inside");
	/* an INSERT captured outside a stream has no xid: its bytes do not fit */
	m = altered("insert_proto1", 'I', &len);
	expect_rejected(decoder, m, len, "INSERT message");
	assert_true(decoder->in_stream);
}

static void
truncate_relids_grow_and_are_reused(void **state)
{
	SyncDecoder *decoder = *state;
	const PgoutputFixture *real = &find_scenario("truncate")->messages[5];
	size_t		len = 6 + 100 * 4;
	unsigned char *big = malloc(len);
	SyncMessage msg;

	assert_int_equal(real->kind, 'T');
	assert_non_null(big);
	memcpy(big, real->data, 6);
	put_uint32(big + 1, 100);
	for (uint32_t i = 0; i < 100; i++)
		put_uint32(big + 6 + 4 * i, 16384 + i);
	assert_int_equal(sync_decode(decoder, (const char *) big, len, &msg), 0);
	assert_int_equal(msg.u.truncate.nrelids, 100);
	assert_int_equal(msg.u.truncate.relids[99], 16384 + 99);
	assert_true(decoder->relids_capacity >= 100);
	free(big);

	assert_int_equal(decode_copy(decoder, real->data, real->len, &msg), 0);
	assert_int_equal(msg.u.truncate.nrelids, 3);
	assert_true(decoder->relids_capacity >= 100);
}

static void
lsn_format_and_parse_round_trip(void **state)
{
	static const SyncLsn lsns[] = {
		0, 1, UINT64_C(0x16B374D848), UINT64_C(0xFFFFFFFF),
		UINT64_C(0x100000000), UINT64_MAX
	};
	char		buf[20];
	SyncLsn		lsn;

	(void) state;
	sync_lsn_format(0, buf);
	assert_string_equal(buf, "0/0");
	sync_lsn_format(UINT64_MAX, buf);
	assert_string_equal(buf, "FFFFFFFF/FFFFFFFF");
	sync_lsn_format(UINT64_C(0x16B374D848), buf);
	assert_string_equal(buf, "16/B374D848");

	for (size_t i = 0; i < sizeof(lsns) / sizeof(lsns[0]); i++)
	{
		sync_lsn_format(lsns[i], buf);
		assert_int_equal(sync_lsn_parse(buf, &lsn), 0);
		assert_int_equal(lsn, lsns[i]);
	}
	assert_int_equal(sync_lsn_parse("16/b374d848", &lsn), 0);
	assert_int_equal(lsn, UINT64_C(0x16B374D848));
	assert_int_equal(sync_lsn_parse("00000000/00000001", &lsn), 0);
	assert_int_equal(lsn, 1);
}

static void
lsn_parse_rejects_what_is_not_an_lsn(void **state)
{
	static const char *const bad[] = {
		"", "1/", "/1", "/", "G/1", "1/G", "1/2/3", "100000000/0",
		"0/100000000", " 1/2", "1/2 ", "1 /2", "-1/2", "+1/2", "0x1/2", "12",
	};
	SyncLsn		lsn = 42;

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		if (sync_lsn_parse(bad[i], &lsn) != -1)
			fail_msg("\"%s\" was taken for an LSN", bad[i]);
		assert_int_equal(lsn, 42);
	}
}

#define DECODER_TEST(name) \
	cmocka_unit_test_setup_teardown(name, setup_decoder, teardown_decoder)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DECODER_TEST(every_captured_message_decodes_in_order),
		DECODER_TEST(begin_and_commit_frame_a_transaction),
		DECODER_TEST(relation_and_type_describe_the_table),
		DECODER_TEST(insert_in_protocol_version_1),
		DECODER_TEST(insert_with_nulls_and_utf8_text),
		DECODER_TEST(update_of_the_key_sends_the_old_key),
		DECODER_TEST(update_keeping_the_key_sends_no_old_tuple),
		DECODER_TEST(delete_sends_the_old_key),
		DECODER_TEST(replica_identity_full_sends_whole_old_rows),
		DECODER_TEST(unchanged_toasted_value_is_not_sent),
		DECODER_TEST(truncate_of_several_relations_with_options),
		DECODER_TEST(logical_messages_transactional_or_not),
		DECODER_TEST(origin_follows_begin),
		DECODER_TEST(binary_values_keep_their_bytes),
		DECODER_TEST(streamed_transaction_commits),
		DECODER_TEST(streamed_transaction_aborts),
		DECODER_TEST(streamed_subtransaction_aborts),
		DECODER_TEST(every_strict_prefix_is_rejected),
		DECODER_TEST(trailing_bytes_are_rejected),
		DECODER_TEST(truncation_error_names_the_field),
		DECODER_TEST(malformed_messages_are_rejected),
		DECODER_TEST(stream_block_order_is_enforced),
		DECODER_TEST(truncate_relids_grow_and_are_reused),
		cmocka_unit_test(lsn_format_and_parse_round_trip),
		cmocka_unit_test(lsn_parse_rejects_what_is_not_an_lsn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
