/*
 * pt_invalid.c - node ids and file handles that a migration could not
 * restore (--migration-on-error=guest-error) or that the source had
 * already lost: every access gives the guest the stored errno, FORGET and
 * RELEASE drop them, and a later outgoing migration forwards them as
 * INVALID entries.
 *
 * Lock: fs->inval_lock (mutex) protects fs->inval_ino and fs->inval_hnd.
 * It is a leaf: nothing else is taken and no syscall is made under it.
 * fs->n_invalid (atomic) is the number of entries in both tables, so that
 * the miss path of pt_inode_get()/pt_handle_get() costs one atomic load
 * when nothing is invalid (the normal case).
 *
 * The errno of the last failed table lookup of the calling thread is kept
 * in a thread-local variable (pt_miss_err()): EBADF for unknown ids, the
 * stored errno for invalid ones.
 */
#include <stdlib.h>
#include "pt_internal.h"
#include "log.h"

struct inval_ino {
	struct pt_hlink link;   /* hash = pt_hash64(nodeid) */
	uint64_t nodeid, nlookup, generation;
	int err;
};

struct inval_hnd {
	struct pt_hlink link;   /* hash = pt_hash64(fh) */
	uint64_t fh, nodeid;
	uint32_t flags;
	bool is_dir;
	int err;
};

#define INO_OF(l) ((struct inval_ino *)(l))
#define HND_OF(l) ((struct inval_hnd *)(l))

static __thread int miss_err = EBADF;

/* Errno for the guest after the calling thread's last failed lookup. */
int pt_miss_err(void)
{
	return miss_err;
}

/* Set up the (empty) tables.  0 or -ENOMEM. */
int pt_invalid_init(struct pt_fs *fs)
{
	pthread_mutex_init(&fs->inval_lock, NULL);
	if (pt_htab_init(&fs->inval_ino, 16))
		return -ENOMEM;
	if (pt_htab_init(&fs->inval_hnd, 16)) {
		pt_htab_destroy(&fs->inval_ino);
		return -ENOMEM;
	}
	return 0;
}

static void clear_tab(struct pt_htab *t)
{
	for (size_t b = 0; b < t->nb; b++) {
		struct pt_hlink *l = t->b[b];

		while (l) {
			struct pt_hlink *n = l->next;

			free(l);
			l = n;
		}
		t->b[b] = NULL;
	}
	t->n = 0;
}

/* Drop every entry (reset). */
void pt_invalid_clear(struct pt_fs *fs)
{
	pthread_mutex_lock(&fs->inval_lock);
	clear_tab(&fs->inval_ino);
	clear_tab(&fs->inval_hnd);
	atomic_store(&fs->n_invalid, 0);
	pthread_mutex_unlock(&fs->inval_lock);
}

/* Free the tables (fs going away). */
void pt_invalid_destroy(struct pt_fs *fs)
{
	clear_tab(&fs->inval_ino);
	clear_tab(&fs->inval_hnd);
	pt_htab_destroy(&fs->inval_ino);
	pt_htab_destroy(&fs->inval_hnd);
	pthread_mutex_destroy(&fs->inval_lock);
}

static struct inval_ino *ino_find(struct pt_fs *fs, uint64_t nodeid)
{
	uint64_t h = pt_hash64(nodeid);

	for (struct pt_hlink *l = pt_htab_chain(&fs->inval_ino, h); l; l = l->next)
		if (l->hash == h && INO_OF(l)->nodeid == nodeid)
			return INO_OF(l);
	return NULL;
}

static struct inval_hnd *hnd_find(struct pt_fs *fs, uint64_t fh)
{
	uint64_t h = pt_hash64(fh);

	for (struct pt_hlink *l = pt_htab_chain(&fs->inval_hnd, h); l; l = l->next)
		if (l->hash == h && HND_OF(l)->fh == fh)
			return HND_OF(l);
	return NULL;
}

static int clamp_err(int err)
{
	return err > 0 && err < 4096 ? err : EIO;
}

/* Install node id nodeid as invalid (guest accesses get err).  0,
 * -EEXIST or -ENOMEM. */
int pt_invalid_add_inode(struct pt_fs *fs, uint64_t nodeid, uint64_t nlookup,
			 uint64_t generation, int err)
{
	struct inval_ino *x = calloc(1, sizeof(*x));
	int ret = 0;

	if (!x)
		return -ENOMEM;
	x->nodeid = nodeid;
	x->nlookup = nlookup;
	x->generation = generation;
	x->err = clamp_err(err);
	x->link.hash = pt_hash64(nodeid);
	pthread_mutex_lock(&fs->inval_lock);
	if (ino_find(fs, nodeid)) {
		ret = -EEXIST;
	} else {
		pt_htab_insert(&fs->inval_ino, &x->link);
		atomic_fetch_add(&fs->n_invalid, 1);
	}
	pthread_mutex_unlock(&fs->inval_lock);
	if (ret)
		free(x);
	return ret;
}

/* Install handle fh (of node id nodeid) as invalid.  0, -EEXIST or
 * -ENOMEM. */
int pt_invalid_add_handle(struct pt_fs *fs, uint64_t fh, uint64_t nodeid,
			  uint32_t flags, bool is_dir, int err)
{
	struct inval_hnd *x = calloc(1, sizeof(*x));
	int ret = 0;

	if (!x)
		return -ENOMEM;
	x->fh = fh;
	x->nodeid = nodeid;
	x->flags = flags;
	x->is_dir = is_dir;
	x->err = clamp_err(err);
	x->link.hash = pt_hash64(fh);
	pthread_mutex_lock(&fs->inval_lock);
	if (hnd_find(fs, fh)) {
		ret = -EEXIST;
	} else {
		pt_htab_insert(&fs->inval_hnd, &x->link);
		atomic_fetch_add(&fs->n_invalid, 1);
	}
	pthread_mutex_unlock(&fs->inval_lock);
	if (ret)
		free(x);
	return ret;
}

/* Record the errno for a failed lookup of node id nodeid (see
 * pt_miss_err()). */
void pt_invalid_miss_inode(struct pt_fs *fs, uint64_t nodeid)
{
	struct inval_ino *x;

	miss_err = EBADF;
	if (!atomic_load(&fs->n_invalid))
		return;
	pthread_mutex_lock(&fs->inval_lock);
	x = ino_find(fs, nodeid);
	if (x)
		miss_err = x->err;
	pthread_mutex_unlock(&fs->inval_lock);
}

/* Record the errno for a failed lookup of handle fh. */
void pt_invalid_miss_handle(struct pt_fs *fs, uint64_t fh)
{
	struct inval_hnd *x;

	miss_err = EBADF;
	if (!atomic_load(&fs->n_invalid))
		return;
	pthread_mutex_lock(&fs->inval_lock);
	x = hnd_find(fs, fh);
	if (x)
		miss_err = x->err;
	pthread_mutex_unlock(&fs->inval_lock);
}

/* FORGET of an invalid node id: drop n counts, the entry at 0.  True
 * when nodeid was invalid. */
bool pt_invalid_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t n)
{
	struct inval_ino *x;
	bool found = false;

	if (!atomic_load(&fs->n_invalid))
		return false;
	pthread_mutex_lock(&fs->inval_lock);
	x = ino_find(fs, nodeid);
	if (x) {
		found = true;
		x->nlookup = n >= x->nlookup ? 0 : x->nlookup - n;
		if (!x->nlookup) {
			pt_htab_remove(&fs->inval_ino, &x->link);
			atomic_fetch_sub(&fs->n_invalid, 1);
		} else {
			x = NULL;
		}
	} else {
		x = NULL;
	}
	pthread_mutex_unlock(&fs->inval_lock);
	free(x);
	return found;
}

/* RELEASE of an invalid handle (must belong to nodeid): true when it was
 * one (then it is gone). */
bool pt_invalid_release(struct pt_fs *fs, uint64_t fh, uint64_t nodeid)
{
	struct inval_hnd *x;

	if (!atomic_load(&fs->n_invalid))
		return false;
	pthread_mutex_lock(&fs->inval_lock);
	x = hnd_find(fs, fh);
	if (x && x->nodeid == nodeid) {
		pt_htab_remove(&fs->inval_hnd, &x->link);
		atomic_fetch_sub(&fs->n_invalid, 1);
	} else {
		x = NULL;
	}
	pthread_mutex_unlock(&fs->inval_lock);
	free(x);
	return x != NULL;
}

/* Call cb for every invalid node id (lock held: cb must not re-enter).
 * A non-zero return stops the walk and is returned. */
int pt_invalid_foreach_inode(struct pt_fs *fs,
			     int (*cb)(uint64_t nodeid, uint64_t nlookup,
				       uint64_t generation, int err, void *arg),
			     void *arg)
{
	int ret = 0;

	pthread_mutex_lock(&fs->inval_lock);
	for (size_t b = 0; b < fs->inval_ino.nb && !ret; b++)
		for (struct pt_hlink *l = fs->inval_ino.b[b]; l && !ret;
		     l = l->next)
			ret = cb(INO_OF(l)->nodeid, INO_OF(l)->nlookup,
				 INO_OF(l)->generation, INO_OF(l)->err, arg);
	pthread_mutex_unlock(&fs->inval_lock);
	return ret;
}

/* Call cb for every invalid handle (as pt_invalid_foreach_inode()). */
int pt_invalid_foreach_handle(struct pt_fs *fs,
			      int (*cb)(const struct pt_mig_handle *h,
					void *arg),
			      void *arg)
{
	int ret = 0;

	pthread_mutex_lock(&fs->inval_lock);
	for (size_t b = 0; b < fs->inval_hnd.nb && !ret; b++) {
		for (struct pt_hlink *l = fs->inval_hnd.b[b]; l && !ret;
		     l = l->next) {
			struct pt_mig_handle e = {
				.fh = HND_OF(l)->fh, .nodeid = HND_OF(l)->nodeid,
				.flags = HND_OF(l)->flags,
				.is_dir = HND_OF(l)->is_dir,
			};

			ret = cb(&e, arg);
		}
	}
	pthread_mutex_unlock(&fs->inval_lock);
	return ret;
}
