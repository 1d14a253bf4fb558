/*
 * test_rowset.c -- folding a table's changes within a batch to one final
 * state per key: what each sequence of changes leaves, which changes are
 * refused, and that a refusal leaves the set as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sync/rowset.h"

/* rows of (id, name, body): id is the key, body a TOASTable value */
#define NCOLUMNS 3
static const bool is_key[NCOLUMNS] = {true, false, false};
/* stands for an unchanged TOASTed value in row() */
static const char UNCHANGED[] = "<unchanged>";

/* A tuple of three values, each NULL, UNCHANGED or text; kept until the next call with the same slot. */
static SyncTuple *
row(int slot, const char *id, const char *name, const char *body)
{
	static SyncValue values[4][NCOLUMNS];
	static SyncTuple tuples[4];
	const char *texts[NCOLUMNS] = {id, name, body};

	for (int i = 0; i < NCOLUMNS; i++)
	{
		SyncValue  *v = &values[slot][i];

		if (texts[i] == NULL)
			*v = (SyncValue) {.kind = SYNC_VALUE_NULL};
		else if (texts[i] == UNCHANGED)
			*v = (SyncValue) {.kind = SYNC_VALUE_UNCHANGED};
		else
			*v = (SyncValue) {.kind = SYNC_VALUE_TEXT, .len = (uint32_t) strlen(texts[i]), .data = texts[i]};
	}
	tuples[slot] = (SyncTuple) {.ncolumns = NCOLUMNS, .values = values[slot]};
	return &tuples[slot];
}

static void
assert_value(const SyncValue *value, const char *text)
{
	if (text == NULL)
		assert_int_equal(value->kind, SYNC_VALUE_NULL);
	else if (text == UNCHANGED)
		assert_int_equal(value->kind, SYNC_VALUE_UNCHANGED);
	else
	{
		assert_int_equal(value->kind, SYNC_VALUE_TEXT);
		assert_int_equal(value->len, strlen(text));
		assert_memory_equal(value->data, text, value->len);
	}
}

static void
assert_row(const SyncRowSet *set, long i, SyncRowState state, bool on_target,
		   const char *id, const char *name, const char *body)
{
	const SyncRow *r;

	assert_true(i < sync_rowset_count(set));
	r = sync_rowset_row(set, i);
	assert_int_equal(r->state, state);
	assert_int_equal(r->on_target, on_target);
	assert_value(&r->values[0], id);
	assert_value(&r->values[1], name);
	assert_value(&r->values[2], body);
}

static void
test_insert_then_updates_fold_into_one_new_row(void **state)
{
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, is_key);

	(void) state;
	assert_int_equal(sync_rowset_insert(set, row(0, "1", "a", "long text")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "1", "b", UNCHANGED)), SYNC_FOLDED);
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "1", "c", "other text")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_count(set), 1);
	/* the row was not on the target before the batch: nothing to delete */
	assert_row(set, 0, SYNC_ROW_IMAGE, false, "1", "c", "other text");
	assert_int_equal(sync_rowset_count(set), 1);
	sync_rowset_free(set);
}

static void
test_unchanged_value_is_taken_from_the_batch_image(void **state)
{
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, is_key);

	(void) state;
	assert_int_equal(sync_rowset_insert(set, row(0, "1", "a", "long text")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "1", "b", UNCHANGED)), SYNC_FOLDED);
	assert_row(set, 0, SYNC_ROW_IMAGE, false, "1", "b", "long text");
	sync_rowset_free(set);
}

static void
test_update_of_a_row_before_the_batch(void **state)
{
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, is_key);

	(void) state;
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "1", "a", "x")), SYNC_FOLDED);
	assert_row(set, 0, SYNC_ROW_IMAGE, true, "1", "a", "x");
	/* an unchanged TOASTed value only the target has: the row stays partial */
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "2", "b", UNCHANGED)), SYNC_FOLDED);
	assert_row(set, 1, SYNC_ROW_PARTIAL, true, "2", "b", UNCHANGED);
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "2", NULL, UNCHANGED)), SYNC_FOLDED);
	assert_row(set, 1, SYNC_ROW_PARTIAL, true, "2", NULL, UNCHANGED);
	/* until an update sends the value */
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "2", "c", "y")), SYNC_FOLDED);
	assert_row(set, 1, SYNC_ROW_IMAGE, true, "2", "c", "y");
	assert_int_equal(sync_rowset_count(set), 2);
	assert_row(set, 0, SYNC_ROW_IMAGE, true, "1", "a", "x");
	sync_rowset_free(set);
}

static void
test_deletes(void **state)
{
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, is_key);

	(void) state;
	/* inserted and deleted within the batch: nothing reaches the target */
	assert_int_equal(sync_rowset_insert(set, row(0, "1", "a", "x")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_delete(set, row(0, "1", NULL, NULL)), SYNC_FOLDED);
	assert_row(set, 0, SYNC_ROW_DELETED, false, "1", NULL, NULL);
	/* a row from before the batch: deleted on the target; only the key is kept */
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "2", "b", "y")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_delete(set, row(0, "2", NULL, NULL)), SYNC_FOLDED);
	assert_row(set, 1, SYNC_ROW_DELETED, true, "2", NULL, NULL);
	/* inserted again: the delete still goes first */
	assert_int_equal(sync_rowset_insert(set, row(0, "2", "c", "z")), SYNC_FOLDED);
	assert_row(set, 1, SYNC_ROW_IMAGE, true, "2", "c", "z");
	assert_int_equal(sync_rowset_delete(set, row(0, "3", NULL, NULL)), SYNC_FOLDED);
	assert_row(set, 2, SYNC_ROW_DELETED, true, "3", NULL, NULL);
	assert_int_equal(sync_rowset_count(set), 3);
	assert_row(set, 0, SYNC_ROW_DELETED, false, "1", NULL, NULL);
	sync_rowset_free(set);
}

static void
test_key_change_moves_the_row(void **state)
{
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, is_key);

	(void) state;
	assert_int_equal(sync_rowset_update(set, row(0, "1", NULL, NULL), row(1, "5", "a", "x")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_count(set), 2);
	assert_row(set, 0, SYNC_ROW_DELETED, true, "1", NULL, NULL);
	assert_row(set, 1, SYNC_ROW_IMAGE, false, "5", "a", "x");
	/* and back, an unchanged value taken from the batch's image */
	assert_int_equal(sync_rowset_update(set, row(0, "5", NULL, NULL), row(1, "1", "b", UNCHANGED)), SYNC_FOLDED);
	assert_int_equal(sync_rowset_count(set), 2);
	assert_row(set, 0, SYNC_ROW_IMAGE, true, "1", "b", "x");
	assert_row(set, 1, SYNC_ROW_DELETED, false, "5", NULL, NULL);
	sync_rowset_free(set);
}

static void
test_refused_changes_leave_the_set_alone(void **state)
{
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, is_key);

	(void) state;
	assert_int_equal(sync_rowset_insert(set, row(0, "1", "a", "x")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_delete(set, row(0, "2", NULL, NULL)), SYNC_FOLDED);
	/* a key already taken, a deleted row updated or deleted again */
	assert_int_equal(sync_rowset_insert(set, row(0, "1", "b", "y")), SYNC_FOLD_REFUSED);
	assert_int_equal(sync_rowset_update(set, NULL, row(0, "2", "b", "y")), SYNC_FOLD_REFUSED);
	assert_int_equal(sync_rowset_delete(set, row(0, "2", NULL, NULL)), SYNC_FOLD_REFUSED);
	/* a key change onto a live key, or from a deleted one */
	assert_int_equal(sync_rowset_update(set, row(0, "3", NULL, NULL), row(1, "1", "b", "y")), SYNC_FOLD_REFUSED);
	assert_int_equal(sync_rowset_update(set, row(0, "2", NULL, NULL), row(1, "4", "b", "y")), SYNC_FOLD_REFUSED);
	/* a key change whose unchanged value only the target has */
	assert_int_equal(sync_rowset_update(set, row(0, "7", NULL, NULL), row(1, "8", "b", UNCHANGED)), SYNC_FOLD_REFUSED);
	/* a key whose own value was not sent */
	assert_int_equal(sync_rowset_update(set, NULL, row(0, UNCHANGED, "b", "y")), SYNC_FOLD_REFUSED);
	assert_int_equal(sync_rowset_count(set), 2);
	assert_row(set, 0, SYNC_ROW_IMAGE, false, "1", "a", "x");
	assert_row(set, 1, SYNC_ROW_DELETED, true, "2", NULL, NULL);
	sync_rowset_free(set);
}

static void
test_without_a_key_only_inserts_are_collected(void **state)
{
	static const bool no_key[NCOLUMNS] = {false, false, false};
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, no_key);

	(void) state;
	assert_int_equal(sync_rowset_insert(set, row(0, "1", "a", "x")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_insert(set, row(0, "1", "a", "x")), SYNC_FOLDED);
	assert_int_equal(sync_rowset_update(set, row(0, "1", "a", "x"), row(1, "1", "b", "x")), SYNC_FOLD_REFUSED);
	assert_int_equal(sync_rowset_delete(set, row(0, "1", "a", "x")), SYNC_FOLD_REFUSED);
	assert_int_equal(sync_rowset_count(set), 2);
	assert_row(set, 1, SYNC_ROW_IMAGE, false, "1", "a", "x");
	sync_rowset_free(set);
}

static void
test_many_keys_keep_first_change_order_and_clear(void **state)
{
	SyncRowSet *set = sync_rowset_create(NCOLUMNS, is_key);
	char		id[32];
	char		name[32];

	(void) state;
	for (int i = 0; i < 100000; i++)
	{
		snprintf(id, sizeof(id), "%d", i);
		assert_int_equal(sync_rowset_update(set, NULL, row(0, id, "a", "x")), SYNC_FOLDED);
	}
	for (int i = 99999; i >= 0; i -= 3)
	{
		snprintf(id, sizeof(id), "%d", i);
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(sync_rowset_update(set, NULL, row(0, id, name, UNCHANGED)), SYNC_FOLDED);
	}
	assert_int_equal(sync_rowset_count(set), 100000);
	for (int i = 0; i < 100000; i++)
	{
		snprintf(id, sizeof(id), "%d", i);
		snprintf(name, sizeof(name), "n%d", i);
		assert_row(set, i, SYNC_ROW_IMAGE, true, id, (99999 - i) % 3 == 0 ? name : "a", "x");
	}
	assert_true(sync_rowset_bytes(set) > 0);
	sync_rowset_clear(set);
	assert_int_equal(sync_rowset_count(set), 0);
	assert_int_equal(sync_rowset_bytes(set), 0);
	/* a cleared set forgets its keys */
	assert_int_equal(sync_rowset_delete(set, row(0, "5", NULL, NULL)), SYNC_FOLDED);
	assert_row(set, 0, SYNC_ROW_DELETED, true, "5", NULL, NULL);
	sync_rowset_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_then_updates_fold_into_one_new_row),
		cmocka_unit_test(test_unchanged_value_is_taken_from_the_batch_image),
		cmocka_unit_test(test_update_of_a_row_before_the_batch),
		cmocka_unit_test(test_deletes),
		cmocka_unit_test(test_key_change_moves_the_row),
		cmocka_unit_test(test_refused_changes_leave_the_set_alone),
		cmocka_unit_test(test_without_a_key_only_inserts_are_collected),
		cmocka_unit_test(test_many_keys_keep_first_change_order_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
