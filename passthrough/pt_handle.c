/*
 * pt_handle.c - the handle table (open files and directories).
 *
 * fh numbers come from fs->next_fh (atomic, starts at 1), are never reused
 * and are not pointers (migration keeps them: pt_handle_foreach,
 * pt_handle_insert_with_id, pt_handle_set_next_id).
 *
 * Locks:
 *   hnd[i].lock  rwlock of shard i (by hash of fh).  Readers take
 *                references, writers insert and remove.
 *   h->dir_lock  mutex of one directory handle: serializes lseek+getdents
 *                on its fd.  Taken with no table lock held.
 *   Order: a shard lock is never held while taking another lock; the
 *   inode table is only entered (pt_inode_put) after the shard lock is
 *   dropped.
 *
 * Reference counting: 1 for the table + 1 per op in flight.  RELEASE
 * removes the handle from the table and drops the table's reference; the
 * last reference closes the fd and drops the handle's inode reference, so
 * a READ racing with a RELEASE of the same fh never sees a closed fd.
 */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

#define H_OF(l) ((struct pt_handle *)((char *)(l) - offsetof(struct pt_handle, link)))

static struct pt_shard *hshard(struct pt_fs *fs, uint64_t hash)
{
	return &fs->hnd[hash & (PT_SHARDS - 1)];
}

/* Set up the handle table of fs. 0 or -ENOMEM. */
int pt_htable_init(struct pt_fs *fs)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		int r = pt_htab_init(&fs->hnd[i].tab, 16);

		if (r) {
			for (unsigned j = 0; j < i; j++) {
				pthread_rwlock_destroy(&fs->hnd[j].lock);
				pt_htab_destroy(&fs->hnd[j].tab);
			}
			return r;
		}
		pthread_rwlock_init(&fs->hnd[i].lock, NULL);
	}
	atomic_init(&fs->next_fh, 1);
	atomic_init(&fs->n_handles, 0);
	return 0;
}

static void handle_free(struct pt_fs *fs, struct pt_handle *h)
{
	if (h->fd >= 0)
		close(h->fd);
	pthread_mutex_destroy(&h->dir_lock);
	if (h->inode)
		pt_inode_put(fs, h->inode);
	atomic_fetch_sub(&fs->n_handles, 1);
	free(h);
}

/* Close every handle and free the table (no op may run any more). */
void pt_htable_destroy(struct pt_fs *fs)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		struct pt_htab *t = &fs->hnd[i].tab;

		for (size_t b = 0; b < t->nb; b++) {
			struct pt_hlink *l = t->b[b];

			while (l) {
				struct pt_hlink *next = l->next;

				handle_free(fs, H_OF(l));
				l = next;
			}
			t->b[b] = NULL;
		}
		pthread_rwlock_destroy(&fs->hnd[i].lock);
		pt_htab_destroy(t);
	}
}

static struct pt_handle *handle_alloc(struct pt_inode *in, int fd, int flags,
				      bool is_dir)
{
	struct pt_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pt_inode_ref(in);
	h->inode = in;
	h->fd = fd;
	h->flags = flags;
	h->is_dir = is_dir;
	atomic_init(&h->refcount, 1);
	pthread_mutex_init(&h->dir_lock, NULL);
	return h;
}

static void handle_insert(struct pt_fs *fs, struct pt_handle *h)
{
	struct pt_shard *s;

	h->link.hash = pt_hash64(h->fh);
	s = hshard(fs, h->link.hash);
	pthread_rwlock_wrlock(&s->lock);
	pt_htab_insert(&s->tab, &h->link);
	pthread_rwlock_unlock(&s->lock);
	atomic_fetch_add(&fs->n_handles, 1);
}

/* Register fd (taken over) as a new handle of in; *fh gets its number. */
int pt_handle_new(struct pt_fs *fs, struct pt_inode *in, int fd, int flags,
		  bool is_dir, uint64_t *fh)
{
	struct pt_handle *h = handle_alloc(in, fd, flags, is_dir);

	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fh = atomic_fetch_add(&fs->next_fh, 1);
	handle_insert(fs, h);
	*fh = h->fh;
	return 0;
}

static struct pt_handle *find_locked(struct pt_shard *s, uint64_t fh,
				     uint64_t hash)
{
	for (struct pt_hlink *l = pt_htab_chain(&s->tab, hash); l; l = l->next)
		if (l->hash == hash && H_OF(l)->fh == fh)
			return H_OF(l);
	return NULL;
}

static struct pt_handle *handle_get(struct pt_fs *fs, uint64_t fh,
				     uint64_t nodeid, int want_dir)
{
	uint64_t hash = pt_hash64(fh);
	struct pt_shard *s = hshard(fs, hash);
	struct pt_handle *h;

	pthread_rwlock_rdlock(&s->lock);
	h = find_locked(s, fh, hash);
	/* In the table means the table's reference is still there. */
	if (h && h->inode->nodeid == nodeid &&
	    (want_dir < 0 || h->is_dir == !!want_dir))
		atomic_fetch_add(&h->refcount, 1);
	else
		h = NULL;
	pthread_rwlock_unlock(&s->lock);
	if (!h)
		pt_invalid_miss_handle(fs, fh);
	return h;
}

/* Handle fh of nodeid, referenced; NULL if unknown or mismatched. */
struct pt_handle *pt_handle_get(struct pt_fs *fs, uint64_t fh, uint64_t nodeid,
				bool want_dir)
{
	return handle_get(fs, fh, nodeid, want_dir);
}

/* Handle fh of nodeid, file or directory, referenced; NULL if none. */
struct pt_handle *pt_handle_get_any(struct pt_fs *fs, uint64_t fh,
				    uint64_t nodeid)
{
	return handle_get(fs, fh, nodeid, -1);
}

/* Drop a reference to h; the last one closes it. */
void pt_handle_put(struct pt_fs *fs, struct pt_handle *h)
{
	if (atomic_fetch_sub(&h->refcount, 1) == 1)
		handle_free(fs, h);
}

/* RELEASE / RELEASEDIR of fh (must belong to nodeid). 0 or -EBADF. */
int pt_handle_release(struct pt_fs *fs, uint64_t fh, uint64_t nodeid)
{
	uint64_t hash = pt_hash64(fh);
	struct pt_shard *s = hshard(fs, hash);
	struct pt_handle *h;

	pthread_rwlock_wrlock(&s->lock);
	h = find_locked(s, fh, hash);
	if (h && h->inode->nodeid == nodeid)
		pt_htab_remove(&s->tab, &h->link);
	else
		h = NULL;
	pthread_rwlock_unlock(&s->lock);
	if (!h)
		return pt_invalid_release(fs, fh, nodeid) ? 0 : -EBADF;
	pt_handle_put(fs, h);
	return 0;
}

/* Release every handle (reset). */
void pt_handle_release_all(struct pt_fs *fs)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		struct pt_shard *s = &fs->hnd[i];
		struct pt_hlink *all = NULL;

		/* Unhook everything under the lock, put outside it. */
		pthread_rwlock_wrlock(&s->lock);
		for (size_t b = 0; b < s->tab.nb; b++) {
			struct pt_hlink *l = s->tab.b[b];

			while (l) {
				struct pt_hlink *next = l->next;

				l->next = all;
				all = l;
				l = next;
			}
			s->tab.b[b] = NULL;
		}
		s->tab.n = 0;
		pthread_rwlock_unlock(&s->lock);
		while (all) {
			struct pt_hlink *next = all->next;

			pt_handle_put(fs, H_OF(all));
			all = next;
		}
	}
}

/* Walk every handle; cb's non-zero return stops the walk. */
int pt_handle_foreach(struct pt_fs *fs,
		      int (*cb)(struct pt_handle *h, void *arg), void *arg)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		struct pt_shard *s = &fs->hnd[i];
		int r = 0;

		pthread_rwlock_rdlock(&s->lock);
		for (size_t b = 0; b < s->tab.nb && !r; b++)
			for (struct pt_hlink *l = s->tab.b[b]; l && !r;
			     l = l->next)
				r = cb(H_OF(l), arg);
		pthread_rwlock_unlock(&s->lock);
		if (r)
			return r;
	}
	return 0;
}

/* Insert a handle with a given fh (migration). 0, -EEXIST, -ENOMEM. */
int pt_handle_insert_with_id(struct pt_fs *fs, uint64_t fh,
			     struct pt_inode *in, int fd, int flags,
			     bool is_dir)
{
	uint64_t hash = pt_hash64(fh);
	struct pt_shard *s = hshard(fs, hash);
	struct pt_handle *h, *other;
	uint64_t next;

	h = handle_alloc(in, fd, flags, is_dir);
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fh = fh;
	h->link.hash = hash;
	pthread_rwlock_wrlock(&s->lock);
	other = find_locked(s, fh, hash);
	if (!other)
		pt_htab_insert(&s->tab, &h->link);
	pthread_rwlock_unlock(&s->lock);
	if (other) {
		atomic_fetch_add(&fs->n_handles, 1);   /* balanced by free */
		handle_free(fs, h);
		return -EEXIST;
	}
	atomic_fetch_add(&fs->n_handles, 1);
	next = atomic_load(&fs->next_fh);
	while (next <= fh &&
	       !atomic_compare_exchange_weak(&fs->next_fh, &next, fh + 1))
		;
	return 0;
}

/* The next fh that will be handed out. */
uint64_t pt_handle_next_id(struct pt_fs *fs)
{
	return atomic_load(&fs->next_fh);
}

/* Set the next fh (migration; at least 1). */
void pt_handle_set_next_id(struct pt_fs *fs, uint64_t next)
{
	atomic_store(&fs->next_fh, next ? next : 1);
}
