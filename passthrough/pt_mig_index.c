/*
 * pt_mig_index.c - helpers shared by the parts of migration
 * (pt_mig_save.c, pt_mig_load.c, pt_mig_track.c, pt_mig_fh.c): an
 * open-addressing map from a 64-bit hash to array indices (several
 * indices per hash), inode identity, array growth, and paths below the
 * shared dir taken apart component by component.
 *
 * Threading: an index or array belongs to one save or load; no lock.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pt_internal.h"
#include "pt_mig_index.h"

/* Free the index and leave it empty (reusable). */
void pt_imap_free(struct imap *m)
{
	free(m->h);
	free(m->idx);
	memset(m, 0, sizeof(*m));
}

static int pt_imap_grow(struct imap *m)
{
	struct imap nm = { 0 };

	nm.cap = m->cap ? m->cap * 2 : 64;
	nm.h = calloc(nm.cap, sizeof(*nm.h));
	nm.idx = calloc(nm.cap, sizeof(*nm.idx));
	if (!nm.h || !nm.idx) {
		pt_imap_free(&nm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->h[i])
			continue;
		for (j = m->h[i] & (nm.cap - 1); nm.h[j]; j = (j + 1) & (nm.cap - 1))
			;
		nm.h[j] = m->h[i];
		nm.idx[j] = m->idx[i];
	}
	nm.n = m->n;
	pt_imap_free(m);
	*m = nm;
	return 0;
}

/* Store idx under hash (several may share one); 0 or -ENOMEM. */
int pt_imap_add(struct imap *m, uint64_t hash, size_t idx)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap && pt_imap_grow(m))
		return -ENOMEM;
	hash = pt_hash64(hash) | 1;
	for (j = hash & (m->cap - 1); m->h[j]; j = (j + 1) & (m->cap - 1))
		;
	m->h[j] = hash;
	m->idx[j] = idx;
	m->n++;
	return 0;
}

/* Iterate the indices stored under hash: start with *pos = SIZE_MAX. */
bool pt_imap_next(const struct imap *m, uint64_t hash, size_t *pos,
		 size_t *idx)
{
	size_t j;

	if (!m->cap)
		return false;
	hash = pt_hash64(hash) | 1;
	j = *pos == SIZE_MAX ? (hash & (m->cap - 1)) : ((*pos + 1) & (m->cap - 1));
	for (; m->h[j]; j = (j + 1) & (m->cap - 1)) {
		if (m->h[j] == hash) {
			*pos = j;
			*idx = m->idx[j];
			return true;
		}
	}
	return false;
}

/* Grow an array by doubling; see pt_mig_index.h. */
void *pt_mig_grow(void *v, size_t *cap, size_t n, size_t elsize,
		  size_t cap0)
{
	size_t nc;

	if (n < *cap)
		return v;
	nc = *cap ? *cap * 2 : cap0;
	if (nc < *cap || nc > SIZE_MAX / elsize)
		return NULL;
	v = realloc(v, nc * elsize);
	if (v)
		*cap = nc;
	return v;
}

/* The path below the shared dir; see pt_mig_index.h. */
char *pt_mig_below_root(char *path, size_t n, const char *root_path,
			size_t root_len)
{
	if (root_len == 1 && path[0] == '/')
		return path + 1;
	if (n > root_len && !memcmp(path, root_path, root_len) &&
	    path[root_len] == '/')
		return path + root_len + 1;
	return NULL;
}

/* The next path component; see pt_mig_index.h. */
char *pt_mig_path_next(char **p, bool *last)
{
	char *c = *p, *end;

	while (*c == '/')
		c++;
	if (!*c)
		return NULL;
	end = strchr(c, '/');
	if (end) {
		*end = 0;
		*p = end + 1;
		while (**p == '/')
			(*p)++;
	} else {
		*p = c + strlen(c);
	}
	*last = !**p;
	return c;
}

/* The index hash of an inode key. */
uint64_t pt_mig_key_hash(const struct pt_key *k)
{
	return k->dev * 0x9e3779b97f4a7c15ULL ^ k->ino ^ (k->mnt_id << 40);
}

/* True when in is the file that st (on mount mnt_id) describes. */
bool pt_mig_same_key(const struct pt_inode *in, const struct stat *st,
		     uint64_t mnt_id)
{
	return in->key.dev == (uint64_t)st->st_dev &&
	       in->key.ino == (uint64_t)st->st_ino && in->key.mnt_id == mnt_id;
}
