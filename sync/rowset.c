/*
 * rowset.c -- one table's changes within a batch, folded to one final state
 * per key (see rowset.h).
 *
 * Rows live in a vector in the order their keys were first changed, so that
 * a batch is written in a stable order; an open-addressing table of vector
 * indexes finds a row by its key.  A row's values and their bytes are one
 * allocation, replaced whole when the row changes.  Rows are never removed
 * before the set is cleared: a deleted row stays, as the key to delete.
 */
#include "sync/rowset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct RowEntry
{
	SyncRow		row;			/* row.values is the entry's one allocation */
	uint64_t	hash;
	size_t		bytes;
} RowEntry;

struct SyncRowSet
{
	int			ncolumns;
	bool	   *is_key;			/* NULL: no key, inserts only */
	RowEntry   *rows;
	long		nrows;
	long		capacity;
	long	   *slots;			/* indexes into rows, -1 when free */
	long		nslots;			/* a power of two, at least twice nrows */
	size_t		bytes;
};

SyncRowSet *
sync_rowset_create(int ncolumns, const bool *is_key)
{
	SyncRowSet *set = calloc(1, sizeof(SyncRowSet));
	bool		keyed = false;

	if (set == NULL)
		return NULL;
	set->ncolumns = ncolumns;
	for (int i = 0; is_key != NULL && i < ncolumns; i++)
		keyed |= is_key[i];
	if (keyed)
	{
		set->is_key = malloc(sizeof(bool) * ncolumns);
		if (set->is_key == NULL)
			goto err;
		memcpy(set->is_key, is_key, sizeof(bool) * ncolumns);
	}
	return set;
err:
	free(set);
	return NULL;
}

void
sync_rowset_clear(SyncRowSet *set)
{
	for (long i = 0; i < set->nrows; i++)
		free(set->rows[i].row.values);
	set->nrows = 0;
	set->bytes = 0;
	for (long i = 0; i < set->nslots; i++)
		set->slots[i] = -1;
}

void
sync_rowset_free(SyncRowSet *set)
{
	if (set == NULL)
		return;
	sync_rowset_clear(set);
	free(set->rows);
	free(set->slots);
	free(set->is_key);
	free(set);
}

long
sync_rowset_count(const SyncRowSet *set)
{
	return set->nrows;
}

const SyncRow *
sync_rowset_row(const SyncRowSet *set, long i)
{
	return &set->rows[i].row;
}

size_t
sync_rowset_bytes(const SyncRowSet *set)
{
	return set->bytes;
}

/* ---- keys ---- */

/* Whether every key value of the tuple is there (not an unchanged TOASTed value). */
static bool
key_complete(const SyncRowSet *set, const SyncTuple *tuple)
{
	for (int i = 0; i < set->ncolumns; i++)
		if (set->is_key[i] && tuple->values[i].kind == SYNC_VALUE_UNCHANGED)
			return false;
	return true;
}

/* FNV-1a over the key values' kinds and bytes. */
static uint64_t
key_hash(const SyncRowSet *set, const SyncValue *values)
{
	uint64_t	h = 14695981039346656037u;

	for (int i = 0; i < set->ncolumns; i++)
	{
		if (!set->is_key[i])
			continue;
		h = (h ^ (unsigned char) values[i].kind) * 1099511628211u;
		for (uint32_t b = 0; b < values[i].len; b++)
			h = (h ^ (unsigned char) values[i].data[b]) * 1099511628211u;
	}
	return h;
}

static bool
same_key(const SyncRowSet *set, const SyncValue *a, const SyncValue *b)
{
	for (int i = 0; i < set->ncolumns; i++)
		if (set->is_key[i] &&
			(a[i].kind != b[i].kind || a[i].len != b[i].len ||
			 (a[i].len > 0 && memcmp(a[i].data, b[i].data, a[i].len) != 0)))
			return false;
	return true;
}

/* The slot holding the key's row, or the free slot where it would go. */
static long *
find_slot(const SyncRowSet *set, const SyncValue *key, uint64_t hash)
{
	long		mask = set->nslots - 1;

	for (long s = (long) (hash & (uint64_t) mask);; s = (s + 1) & mask)
	{
		long		i = set->slots[s];

		if (i < 0 || (set->rows[i].hash == hash && same_key(set, set->rows[i].row.values, key)))
			return &set->slots[s];
	}
}

static RowEntry *
find_row(const SyncRowSet *set, const SyncValue *key, uint64_t hash)
{
	long		i;

	if (set->nslots == 0)
		return NULL;
	i = *find_slot(set, key, hash);
	return i < 0 ? NULL : &set->rows[i];
}

/* ---- rows ---- */

/*
 * Copies values into one new allocation: each value of from, or where from
 * has an unchanged value, fill's (when given).  With key_only, the values
 * of other columns become NULL.  Stores the allocation's size in *bytes.
 */
static SyncValue *
copy_values(const SyncRowSet *set, const SyncValue *from, const SyncValue *fill, bool key_only,
			size_t *bytes)
{
	size_t		size = sizeof(SyncValue) * set->ncolumns;
	SyncValue  *values;
	char	   *data;

	for (int i = 0; i < set->ncolumns; i++)
	{
		const SyncValue *v = from[i].kind == SYNC_VALUE_UNCHANGED && fill ? &fill[i] : &from[i];

		if (!key_only || set->is_key[i])
			size += v->len;
	}
	values = malloc(size);
	if (values == NULL)
		return NULL;
	data = (char *) (values + set->ncolumns);
	for (int i = 0; i < set->ncolumns; i++)
	{
		const SyncValue *v = from[i].kind == SYNC_VALUE_UNCHANGED && fill ? &fill[i] : &from[i];

		if (key_only && !set->is_key[i])
		{
			values[i] = (SyncValue) {.kind = SYNC_VALUE_NULL};
			continue;
		}
		values[i] = *v;
		if (v->len > 0)
		{
			memcpy(data, v->data, v->len);
			values[i].data = data;
			data += v->len;
		}
	}
	*bytes = size;
	return values;
}

static bool
has_unchanged(const SyncRowSet *set, const SyncValue *values)
{
	for (int i = 0; i < set->ncolumns; i++)
		if (values[i].kind == SYNC_VALUE_UNCHANGED)
			return true;
	return false;
}

/* Gives an entry new values (already copied), freeing its old ones. */
static void
replace_values(SyncRowSet *set, RowEntry *entry, SyncValue *values, size_t bytes)
{
	free(entry->row.values);
	set->bytes -= entry->bytes;
	entry->row.values = values;
	entry->bytes = bytes;
	set->bytes += bytes;
}

/* Makes room for extra more rows, so that adding them cannot fail. */
static bool
reserve(SyncRowSet *set, long extra)
{
	if (set->nrows + extra > set->capacity)
	{
		long		capacity = set->capacity ? set->capacity : 256;
		RowEntry   *rows;

		while (set->nrows + extra > capacity)
			capacity *= 2;
		rows = realloc(set->rows, sizeof(RowEntry) * capacity);
		if (rows == NULL)
			return false;
		set->rows = rows;
		set->capacity = capacity;
	}
	if (set->is_key != NULL && 2 * (set->nrows + extra) > set->nslots)
	{
		long		nslots = set->nslots ? set->nslots : 512;
		long	   *slots;

		while (2 * (set->nrows + extra) > nslots)
			nslots *= 2;
		slots = malloc(sizeof(long) * nslots);
		if (slots == NULL)
			return false;
		free(set->slots);
		set->slots = slots;
		set->nslots = nslots;
		for (long s = 0; s < nslots; s++)
			slots[s] = -1;
		for (long i = 0; i < set->nrows; i++)
			*find_slot(set, set->rows[i].row.values, set->rows[i].hash) = i;
	}
	return true;
}

/*
 * Adds a row (its values already copied) under a key not in the set;
 * frees the values when out of memory.
 */
static RowEntry *
add_row(SyncRowSet *set, SyncRowState state, bool on_target, SyncValue *values, size_t bytes)
{
	RowEntry   *entry;
	uint64_t	hash = 0;

	if (!reserve(set, 1))
	{
		free(values);
		return NULL;
	}
	if (set->is_key != NULL)
	{
		hash = key_hash(set, values);
		*find_slot(set, values, hash) = set->nrows;
	}
	entry = &set->rows[set->nrows++];
	*entry = (RowEntry) {.row = {.state = state, .on_target = on_target, .values = values},
	.hash = hash, .bytes = bytes};
	set->bytes += bytes;
	return entry;
}

/* ---- changes ---- */

SyncFold
sync_rowset_insert(SyncRowSet *set, const SyncTuple *new)
{
	RowEntry   *entry = NULL;
	SyncValue  *values;
	size_t		bytes;

	if (set->is_key != NULL)
	{
		if (!key_complete(set, new))
			return SYNC_FOLD_REFUSED;
		entry = find_row(set, new->values, key_hash(set, new->values));
		if (entry != NULL && entry->row.state != SYNC_ROW_DELETED)
			return SYNC_FOLD_REFUSED;	/* the key is taken: let the target say so */
	}
	values = copy_values(set, new->values, NULL, false, &bytes);
	if (values == NULL)
		return SYNC_FOLD_ERROR;
	if (entry != NULL)
	{
		/* deleted earlier in the batch: the delete still goes first */
		replace_values(set, entry, values, bytes);
		entry->row.state = SYNC_ROW_IMAGE;
		return SYNC_FOLDED;
	}
	return add_row(set, SYNC_ROW_IMAGE, false, values, bytes) ? SYNC_FOLDED : SYNC_FOLD_ERROR;
}

/* An update that keeps its key. */
static SyncFold
update_in_place(SyncRowSet *set, const SyncTuple *new)
{
	RowEntry   *entry = find_row(set, new->values, key_hash(set, new->values));
	SyncValue  *values;
	size_t		bytes;

	if (entry != NULL && entry->row.state == SYNC_ROW_DELETED)
		return SYNC_FOLD_REFUSED;	/* an update of a deleted row: let the target say so */
	values = copy_values(set, new->values, entry ? entry->row.values : NULL, false, &bytes);
	if (values == NULL)
		return SYNC_FOLD_ERROR;
	if (entry == NULL)
		return add_row(set, has_unchanged(set, values) ? SYNC_ROW_PARTIAL : SYNC_ROW_IMAGE, true,
					   values, bytes) ? SYNC_FOLDED : SYNC_FOLD_ERROR;
	replace_values(set, entry, values, bytes);
	entry->row.state = has_unchanged(set, values) ? SYNC_ROW_PARTIAL : SYNC_ROW_IMAGE;
	return SYNC_FOLDED;
}

/*
 * An update that changes the key: the old key's row is deleted, the new
 * key's row gets the image.  An unchanged TOASTed value is only known
 * when the batch holds the old row's image.
 */
static SyncFold
update_key(SyncRowSet *set, const SyncTuple *old, const SyncTuple *new)
{
	RowEntry   *from;
	RowEntry   *to;
	SyncValue  *image;
	SyncValue  *key;
	size_t		image_bytes;
	size_t		key_bytes;

	/* room for both rows first, so that nothing changes unless everything can */
	if (!reserve(set, 2))
		return SYNC_FOLD_ERROR;
	from = find_row(set, old->values, key_hash(set, old->values));
	to = find_row(set, new->values, key_hash(set, new->values));
	if ((from != NULL && from->row.state == SYNC_ROW_DELETED) ||
		(to != NULL && to->row.state != SYNC_ROW_DELETED))
		return SYNC_FOLD_REFUSED;
	if (has_unchanged(set, new->values) && (from == NULL || from->row.state != SYNC_ROW_IMAGE))
		return SYNC_FOLD_REFUSED;
	image = copy_values(set, new->values, from ? from->row.values : NULL, false, &image_bytes);
	key = copy_values(set, from ? from->row.values : old->values, NULL, true, &key_bytes);
	if (image == NULL || key == NULL)
	{
		free(image);
		free(key);
		return SYNC_FOLD_ERROR;
	}
	if (from == NULL)
		add_row(set, SYNC_ROW_DELETED, true, key, key_bytes);
	else
	{
		replace_values(set, from, key, key_bytes);
		from->row.state = SYNC_ROW_DELETED;
	}
	if (to == NULL)
		add_row(set, SYNC_ROW_IMAGE, false, image, image_bytes);
	else
	{
		replace_values(set, to, image, image_bytes);
		to->row.state = SYNC_ROW_IMAGE;
	}
	return SYNC_FOLDED;
}

SyncFold
sync_rowset_update(SyncRowSet *set, const SyncTuple *old, const SyncTuple *new)
{
	if (set->is_key == NULL || !key_complete(set, new) || (old != NULL && !key_complete(set, old)))
		return SYNC_FOLD_REFUSED;
	if (old != NULL && !same_key(set, old->values, new->values))
		return update_key(set, old, new);
	return update_in_place(set, new);
}

SyncFold
sync_rowset_delete(SyncRowSet *set, const SyncTuple *old)
{
	RowEntry   *entry;
	SyncValue  *key;
	size_t		bytes;

	if (set->is_key == NULL || !key_complete(set, old))
		return SYNC_FOLD_REFUSED;
	entry = find_row(set, old->values, key_hash(set, old->values));
	if (entry != NULL && entry->row.state == SYNC_ROW_DELETED)
		return SYNC_FOLD_REFUSED;	/* deleted twice: let the target say so */
	key = copy_values(set, old->values, NULL, true, &bytes);
	if (key == NULL)
		return SYNC_FOLD_ERROR;
	if (entry == NULL)
		return add_row(set, SYNC_ROW_DELETED, true, key, bytes) ? SYNC_FOLDED : SYNC_FOLD_ERROR;
	replace_values(set, entry, key, bytes);
	entry->row.state = SYNC_ROW_DELETED;
	return SYNC_FOLDED;
}
