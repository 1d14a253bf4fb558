/*
 * spool.c -- streamed transactions on disk (see spool.h).
 *
 * File format: a sequence of records [uint32 length][payload], native byte
 * order, since a spool never outlives the process that wrote it.
 */
#include "sync/spool.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Subxact
{
	SyncXid		subxid;
	long long	offset;			/* where its first change starts */
} Subxact;

typedef struct Spool
{
	SyncXid		xid;
	FILE	   *file;
	char	   *path;
	long long	size;
	Subxact    *subxacts;
	int			nsubxacts;
	int			subxacts_capacity;
} Spool;

struct SyncSpoolSet
{
	char	   *dir;
	char	   *prefix;			/* "tally-<slot>-" */
	Spool	   *spools;
	int			nspools;
};

static void
close_spool(Spool *spool)
{
	if (spool->file != NULL)
		fclose(spool->file);
	if (spool->path != NULL)
		unlink(spool->path);
	free(spool->path);
	free(spool->subxacts);
	memset(spool, 0, sizeof(*spool));
}

SyncSpoolSet *
sync_spool_set_open(const char *dir, const char *slot, SyncError *error)
{
	SyncSpoolSet *set = calloc(1, sizeof(SyncSpoolSet));
	DIR		   *d;
	struct dirent *entry;

	if (set == NULL || (set->dir = strdup(dir)) == NULL ||
		asprintf(&set->prefix, "tally-%s-", slot) < 0)
	{
		if (set)
			free(set->dir);
		free(set);
		sync_fail(error, 1, "out of memory");
		return NULL;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		sync_fail(error, 2, "could not create spool directory \"%s\": %s", dir, strerror(errno));
		sync_spool_set_close(set);
		return NULL;
	}
	d = opendir(dir);
	if (d == NULL)
	{
		sync_fail(error, 2, "could not open spool directory \"%s\": %s", dir, strerror(errno));
		sync_spool_set_close(set);
		return NULL;
	}
	while ((entry = readdir(d)) != NULL)
	{
		char	   *path;

		if (strncmp(entry->d_name, set->prefix, strlen(set->prefix)) != 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, entry->d_name) >= 0)
		{
			unlink(path);
			free(path);
		}
	}
	closedir(d);
	return set;
}

void
sync_spool_set_close(SyncSpoolSet *set)
{
	if (set == NULL)
		return;
	for (int i = 0; i < set->nspools; i++)
		close_spool(&set->spools[i]);
	free(set->spools);
	free(set->dir);
	free(set->prefix);
	free(set);
}

static Spool *
find_spool(SyncSpoolSet *set, SyncXid xid)
{
	for (int i = 0; i < set->nspools; i++)
		if (set->spools[i].xid == xid)
			return &set->spools[i];
	return NULL;
}

static void
remove_spool(SyncSpoolSet *set, Spool *spool)
{
	close_spool(spool);
	*spool = set->spools[--set->nspools];
}

int
sync_spool_begin(SyncSpoolSet *set, SyncXid xid, bool first_segment, SyncError *error)
{
	Spool	   *spool = find_spool(set, xid);
	Spool	   *grown;

	if (spool != NULL && !first_segment)
		return 0;
	if (spool != NULL)
		remove_spool(set, spool);	/* the source starts this transaction over */
	grown = realloc(set->spools, sizeof(Spool) * (set->nspools + 1));
	if (grown == NULL)
		return sync_fail(error, 1, "out of memory");
	set->spools = grown;
	spool = &grown[set->nspools];
	memset(spool, 0, sizeof(*spool));
	spool->xid = xid;
	if (asprintf(&spool->path, "%s/%s%u", set->dir, set->prefix, xid) < 0)
	{
		spool->path = NULL;
		return sync_fail(error, 1, "out of memory");
	}
	spool->file = fopen(spool->path, "w+");
	if (spool->file == NULL)
	{
		int			rc = sync_fail(error, 1, "could not create spool file \"%s\": %s",
								   spool->path, strerror(errno));

		free(spool->path);
		return rc;
	}
	set->nspools++;
	return 0;
}

static Spool *
spool_of(SyncSpoolSet *set, SyncXid xid, SyncError *error)
{
	Spool	   *spool = find_spool(set, xid);

	if (spool == NULL)
		sync_fail(error, 1, "the source streamed a change of transaction %u without starting it", xid);
	return spool;
}

int
sync_spool_append(SyncSpoolSet *set, SyncXid xid, SyncXid subxid, const char *data,
				  size_t len, SyncError *error)
{
	Spool	   *spool = spool_of(set, xid, error);
	uint32_t	length = (uint32_t) len;

	if (spool == NULL)
		return -1;
	if (subxid != xid && subxid != 0)
	{
		bool		known = false;

		for (int i = spool->nsubxacts - 1; i >= 0 && !known; i--)
			known = spool->subxacts[i].subxid == subxid;
		if (!known)
		{
			if (spool->nsubxacts == spool->subxacts_capacity)
			{
				int			capacity = spool->subxacts_capacity ? spool->subxacts_capacity * 2 : 16;
				Subxact    *grown = realloc(spool->subxacts, sizeof(Subxact) * capacity);

				if (grown == NULL)
					return sync_fail(error, 1, "out of memory");
				spool->subxacts = grown;
				spool->subxacts_capacity = capacity;
			}
			spool->subxacts[spool->nsubxacts].subxid = subxid;
			spool->subxacts[spool->nsubxacts].offset = spool->size;
			spool->nsubxacts++;
		}
	}
	if (fwrite(&length, sizeof(length), 1, spool->file) != 1 ||
		fwrite(data, 1, len, spool->file) != len)
		return sync_fail(error, 1, "could not write spool file \"%s\": %s", spool->path,
						 strerror(errno));
	spool->size += (long long) (sizeof(length) + len);
	return 0;
}

int
sync_spool_abort(SyncSpoolSet *set, SyncXid xid, SyncXid subxid, SyncError *error)
{
	Spool	   *spool = find_spool(set, xid);

	if (spool == NULL)
		return 0;				/* nothing of it was streamed */
	if (subxid == xid)
	{
		remove_spool(set, spool);
		return 0;
	}
	for (int i = 0; i < spool->nsubxacts; i++)
	{
		if (spool->subxacts[i].subxid != subxid)
			continue;
		/* its changes, and those of every subtransaction after it, go */
		if (fflush(spool->file) != 0 ||
			ftruncate(fileno(spool->file), spool->subxacts[i].offset) != 0 ||
			fseeko(spool->file, spool->subxacts[i].offset, SEEK_SET) != 0)
			return sync_fail(error, 1, "could not truncate spool file \"%s\": %s", spool->path,
							 strerror(errno));
		spool->size = spool->subxacts[i].offset;
		spool->nsubxacts = i;
		break;
	}
	return 0;
}

int
sync_spool_replay(SyncSpoolSet *set, SyncXid xid,
				  int (*apply) (void *arg, const char *data, size_t len, SyncError *error),
				  void *arg, SyncError *error)
{
	Spool	   *spool = find_spool(set, xid);
	char	   *buffer = NULL;
	size_t		capacity = 0;
	long long	offset = 0;
	int			rc = 0;

	if (spool == NULL)
		return 0;
	if (fflush(spool->file) != 0 || fseeko(spool->file, 0, SEEK_SET) != 0)
		return sync_fail(error, 1, "could not read spool file \"%s\": %s", spool->path,
						 strerror(errno));
	while (offset < spool->size)
	{
		uint32_t	length;

		if (fread(&length, sizeof(length), 1, spool->file) != 1)
		{
			rc = sync_fail(error, 1, "spool file \"%s\" is truncated", spool->path);
			break;
		}
		if (length > capacity)
		{
			char	   *grown = realloc(buffer, length);

			if (grown == NULL)
			{
				rc = sync_fail(error, 1, "out of memory");
				break;
			}
			buffer = grown;
			capacity = length;
		}
		if (fread(buffer, 1, length, spool->file) != length)
		{
			rc = sync_fail(error, 1, "spool file \"%s\" is truncated", spool->path);
			break;
		}
		offset += (long long) sizeof(length) + length;
		if ((rc = apply(arg, buffer, length, error)) != 0)
			break;
	}
	free(buffer);
	if (rc == 0)
		remove_spool(set, spool);
	return rc;
}

long long
sync_spool_bytes(const SyncSpoolSet *set)
{
	long long	total = 0;

	for (int i = 0; i < set->nspools; i++)
		total += set->spools[i].size;
	return total;
}
