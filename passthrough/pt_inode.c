/*
 * pt_inode.c - the inode table.
 *
 * Two indices over the same objects, each sharded PT_SHARDS ways:
 *   fs->ino_id[]  by node id (every request resolves its node id here)
 *   fs->ino_key[] by host identity (st_dev, st_ino, mount id), so that a
 *                 file looked up through two names is one inode.
 *
 * Locks:
 *   ino_id[i].lock   rwlock; protects the chains of id shard i.  Readers
 *                    take references (pt_inode_get), writers insert/remove.
 *   ino_key[i].lock  rwlock; same for key shard i.
 *   Lock order: no function holds two shard locks at the same time; no
 *   syscall and no allocation is done under a shard lock except the
 *   bucket-array growth of pt_htab_insert.
 *
 * Holding: with handles on (pt_fhandle.c) a new inode gets the file
 * handle of the fd its lookup opened (made before it is inserted, outside
 * the locks) and that fd goes to the fd cache; under
 * --inode-file-handles=prefer a file without a handle keeps its fd, under
 * mandatory its lookup fails.
 *
 * Node ids: from fs->next_nodeid (atomic counter, starts at 2; 1 is the
 * root, FUSE_ROOT_ID).  Never reused, never pointers: migration walks the
 * table (pt_inode_foreach) and re-creates it elsewhere with the same ids
 * (pt_inode_insert_with_id, pt_inode_set_next_id).
 *
 * Reference counting:
 *   refcount = (nlookup > 0 ? 1 : 0) + open handles + ops in flight
 *              (+ 1 permanent reference for the root).
 *   A reference is only taken from a table under the shard lock and only
 *   if refcount is not already 0 ("get unless zero"); the thread that
 *   drops refcount to 0 removes the inode from both indices (write locks,
 *   one after the other) and frees it.  Once refcount is 0 nobody can find
 *   the inode any more, so a concurrent lookup of the same file simply
 *   creates a new inode with a new node id.
 *   nlookup changes with atomics; the 0->1 transition takes the lookup
 *   reference and the ->0 transition drops it.  Every caller that changes
 *   nlookup holds its own op reference, so these can interleave safely.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

static uint64_t key_hash(const struct pt_key *k)
{
	return pt_hash64(k->dev * 0x9e3779b97f4a7c15ULL ^ k->ino ^
			 (k->mnt_id << 32 | k->mnt_id >> 32));
}

static bool key_eq(const struct pt_key *a, const struct pt_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mnt_id == b->mnt_id;
}

static uint64_t id_hash(uint64_t nodeid)
{
	return pt_hash64(nodeid);
}

static struct pt_shard *shard(struct pt_shard *s, uint64_t hash)
{
	return &s[hash & (PT_SHARDS - 1)];
}

#define IN_OF_ID(l) \
	((struct pt_inode *)((char *)(l) - offsetof(struct pt_inode, id_link)))
#define IN_OF_KEY(l) \
	((struct pt_inode *)((char *)(l) - offsetof(struct pt_inode, key_link)))

/* Take a reference unless the inode is already dying. */
static bool get_unless_zero(struct pt_inode *in)
{
	uint64_t c = atomic_load(&in->refcount);

	while (c) {
		if (atomic_compare_exchange_weak(&in->refcount, &c, c + 1))
			return true;
	}
	return false;
}

static void shards_destroy(struct pt_shard *s)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		pthread_rwlock_destroy(&s[i].lock);
		pt_htab_destroy(&s[i].tab);
	}
}

static int shards_init(struct pt_shard *s)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		int r = pt_htab_init(&s[i].tab, 16);

		if (r) {
			for (unsigned j = 0; j < i; j++) {
				pthread_rwlock_destroy(&s[j].lock);
				pt_htab_destroy(&s[j].tab);
			}
			return r;
		}
		pthread_rwlock_init(&s[i].lock, NULL);
	}
	return 0;
}

/* Set up the inode tables of fs. 0 or -ENOMEM. */
int pt_itab_init(struct pt_fs *fs)
{
	int r = shards_init(fs->ino_id);

	if (r)
		return r;
	r = shards_init(fs->ino_key);
	if (r) {
		shards_destroy(fs->ino_id);
		return r;
	}
	atomic_init(&fs->next_nodeid, FUSE_ROOT_ID + 1);
	atomic_init(&fs->n_inodes, 0);
	return 0;
}

static void inode_free(struct pt_fs *fs, struct pt_inode *in)
{
	if (in->fh_len)
		pt_fh_inode_gone(fs, in);
	else if (in->fd >= 0)
		close(in->fd);
	free(in);
}

/* Free every inode and the tables (no op may run any more). */
void pt_itab_destroy(struct pt_fs *fs)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		struct pt_htab *t = &fs->ino_id[i].tab;

		for (size_t b = 0; b < t->nb; b++) {
			struct pt_hlink *l = t->b[b];

			while (l) {
				struct pt_hlink *next = l->next;

				inode_free(fs, IN_OF_ID(l));
				l = next;
			}
			t->b[b] = NULL;
		}
	}
	shards_destroy(fs->ino_id);
	shards_destroy(fs->ino_key);
	fs->root = NULL;
}

/* A new inode held by fd, or by the handle fhb when non-NULL (then fd
 * is left to the caller and in->fd is -1). */
static struct pt_inode *inode_alloc(int fd, const struct stat *st,
				    uint64_t mnt_id,
				    const struct pt_fh_buf *fhb)
{
	struct pt_inode *in = calloc(1, sizeof(*in) + (fhb ? fhb->len : 0));

	if (!in)
		return NULL;
	in->fd = fhb ? -1 : fd;
	if (fhb) {
		in->mnt = fhb->mnt;
		in->fh_type = fhb->type;
		in->fh_len = fhb->len;
		memcpy(in->fh, fhb->bytes, fhb->len);
	}
	in->key.dev = st->st_dev;
	in->key.ino = st->st_ino;
	in->key.mnt_id = mnt_id;
	in->ftype = st->st_mode & S_IFMT;
	in->generation = 0;
	in->key_link.hash = key_hash(&in->key);
	atomic_init(&in->nlookup, 0);
	atomic_init(&in->refcount, 1);
	return in;
}

static void id_insert(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_shard *s;

	in->id_link.hash = id_hash(in->nodeid);
	s = shard(fs->ino_id, in->id_link.hash);
	pthread_rwlock_wrlock(&s->lock);
	pt_htab_insert(&s->tab, &in->id_link);
	pthread_rwlock_unlock(&s->lock);
}

static void id_remove(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_shard *s = shard(fs->ino_id, in->id_link.hash);

	pthread_rwlock_wrlock(&s->lock);
	pt_htab_remove(&s->tab, &in->id_link);
	pthread_rwlock_unlock(&s->lock);
}

/* Find a live inode with key k in its (locked) shard and reference it. */
static struct pt_inode *key_find_locked(struct pt_shard *s,
					const struct pt_key *k, uint64_t h)
{
	for (struct pt_hlink *l = pt_htab_chain(&s->tab, h); l; l = l->next) {
		struct pt_inode *in = IN_OF_KEY(l);

		if (l->hash == h && key_eq(&in->key, k) && get_unless_zero(in))
			return in;
	}
	return NULL;
}

/*
 * Insert in into the key shard s under hash h unless a live inode with key
 * k is there already: then return that one, referenced, and insert
 * nothing.  NULL when in was inserted.
 */
static struct pt_inode *key_insert_unless(struct pt_shard *s,
					  struct pt_inode *in,
					  const struct pt_key *k, uint64_t h)
{
	struct pt_inode *other;

	pthread_rwlock_wrlock(&s->lock);
	other = key_find_locked(s, k, h);
	if (!other)
		pt_htab_insert(&s->tab, &in->key_link);
	pthread_rwlock_unlock(&s->lock);
	return other;
}

/* Create the root inode (node id 1) from fd (taken over). 0 or errno. */
int pt_inode_make_root(struct pt_fs *fs, int fd)
{
	struct stat st;
	uint64_t mnt_id;
	struct pt_inode *in;
	struct pt_shard *s;
	int r = pt_stat_fd(fd, &st, &mnt_id);

	if (r) {
		close(fd);
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return -ENOTDIR;
	}
	in = inode_alloc(fd, &st, mnt_id, NULL);
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	in->nodeid = FUSE_ROOT_ID;
	in->is_root = true;   /* refcount 1 = the permanent reference */
	id_insert(fs, in);
	s = shard(fs->ino_key, in->key_link.hash);
	pthread_rwlock_wrlock(&s->lock);
	pt_htab_insert(&s->tab, &in->key_link);
	pthread_rwlock_unlock(&s->lock);
	atomic_fetch_add(&fs->n_inodes, 1);
	fs->root = in;
	return 0;
}

/* The inode with node id nodeid, referenced; NULL if none. */
struct pt_inode *pt_inode_get(struct pt_fs *fs, uint64_t nodeid)
{
	uint64_t h = id_hash(nodeid);
	struct pt_shard *s = shard(fs->ino_id, h);
	struct pt_inode *found = NULL;

	if (nodeid == FUSE_ROOT_ID && fs->root) {
		pt_inode_ref(fs->root);
		return fs->root;
	}
	pthread_rwlock_rdlock(&s->lock);
	for (struct pt_hlink *l = pt_htab_chain(&s->tab, h); l; l = l->next) {
		struct pt_inode *in = IN_OF_ID(l);

		if (in->nodeid == nodeid) {
			if (get_unless_zero(in))
				found = in;
			break;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	if (!found)
		pt_invalid_miss_inode(fs, nodeid);
	return found;
}

/* One more reference on an inode the caller already holds. */
void pt_inode_ref(struct pt_inode *in)
{
	atomic_fetch_add(&in->refcount, 1);
}

/* Drop one reference; the last one unlinks and frees the inode. */
void pt_inode_put(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_shard *s;
	uint64_t old = atomic_fetch_sub(&in->refcount, 1);

	if (old > 1)
		return;
	if (old == 0 || in->is_root) {
		/* Unbalanced put: a bug.  Keep the object alive. */
		LOG_ERR("passthrough: reference underflow on inode %llu",
			(unsigned long long)in->nodeid);
		atomic_fetch_add(&in->refcount, 1);
		return;
	}
	s = shard(fs->ino_key, in->key_link.hash);
	pthread_rwlock_wrlock(&s->lock);
	pt_htab_remove(&s->tab, &in->key_link);
	pthread_rwlock_unlock(&s->lock);
	id_remove(fs, in);
	atomic_fetch_sub(&fs->n_inodes, 1);
	LOG_TRACE("passthrough: inode %llu freed",
		  (unsigned long long)in->nodeid);
	inode_free(fs, in);
}

/*
 * With handles on: make the handle of fd into *b.  Returns 1 (hold by
 * handle), 0 (hold by fd: handles off, or prefer and this file has none)
 * or a negative errno (mandatory and no handle).
 */
static int hold_by_handle(struct pt_fs *fs, int fd, uint64_t mnt_id,
			  struct pt_fh_buf *b)
{
	int r;

	if (!pt_fh_on(fs))
		return 0;
	r = pt_fh_make(fs, fd, mnt_id, b);
	if (!r)
		return 1;
	if (fs->cfg.inode_file_handles == PT_FH_MANDATORY)
		return r;
	LOG_DBG("passthrough: no file handle (%s): held by an fd",
		strerror(-r));
	return 0;
}

/* Find or create the inode for fd (taken over) with identity st/mnt_id. */
int pt_inode_find_or_insert(struct pt_fs *fs, int fd, const struct stat *st,
			    uint64_t mnt_id, struct pt_inode **out)
{
	struct pt_key k = { st->st_dev, st->st_ino, mnt_id };
	uint64_t h = key_hash(&k);
	struct pt_shard *s = shard(fs->ino_key, h);
	struct pt_inode *in, *other;

	struct pt_fh_buf fhb;
	int r;

	pthread_rwlock_rdlock(&s->lock);
	in = key_find_locked(s, &k, h);
	pthread_rwlock_unlock(&s->lock);
	if (in) {
		pt_fh_cache_offer(fs, in, fd);
		*out = in;
		return 0;
	}

	r = hold_by_handle(fs, fd, mnt_id, &fhb);
	if (r < 0) {
		close(fd);
		return r;
	}
	in = inode_alloc(fd, st, mnt_id, r ? &fhb : NULL);
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	/* Visible by id first (nobody knows the id yet), then by key, so
	 * that an id handed out through the key index always resolves. */
	in->nodeid = atomic_fetch_add(&fs->next_nodeid, 1);
	id_insert(fs, in);

	other = key_insert_unless(s, in, &k, h);

	if (other) {
		/* Lost a race with another lookup of the same file; the
		 * node id we took is simply never used. */
		id_remove(fs, in);
		inode_free(fs, in);
		if (r)
			pt_fh_cache_offer(fs, other, fd);
		*out = other;
		return 0;
	}
	atomic_fetch_add(&fs->n_inodes, 1);
	if (r)
		pt_fh_cache_offer(fs, in, fd);
	*out = in;
	return 0;
}

/* The live inode with identity (dev, ino, mnt_id), referenced, or NULL. */
struct pt_inode *pt_inode_find_key(struct pt_fs *fs, uint64_t dev,
				   uint64_t ino, uint64_t mnt_id)
{
	struct pt_key k = { dev, ino, mnt_id };
	uint64_t h = key_hash(&k);
	struct pt_shard *s = shard(fs->ino_key, h);
	struct pt_inode *in;

	pthread_rwlock_rdlock(&s->lock);
	in = key_find_locked(s, &k, h);
	pthread_rwlock_unlock(&s->lock);
	return in;
}

/* One more guest lookup count on in (caller holds a reference). */
void pt_inode_lookup_inc(struct pt_inode *in)
{
	if (atomic_fetch_add(&in->nlookup, 1) == 0)
		pt_inode_ref(in);
}

/* Drop n guest lookup counts (clamped at zero). Caller holds a ref. */
void pt_inode_lookup_dec(struct pt_fs *fs, struct pt_inode *in, uint64_t n)
{
	uint64_t old = atomic_load(&in->nlookup), new;

	do {
		if (old == 0)
			return;
		new = old > n ? old - n : 0;
	} while (!atomic_compare_exchange_weak(&in->nlookup, &old, new));
	if (old < n)
		LOG_DBG("passthrough: forget %llu of inode %llu with count %llu",
			(unsigned long long)n, (unsigned long long)in->nodeid,
			(unsigned long long)old);
	if (new == 0)
		pt_inode_put(fs, in);
}

/* FORGET nodeid n times (unknown ids are ignored, no reply exists). */
void pt_inode_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t n)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);

	if (!in) {
		if (!pt_invalid_forget(fs, nodeid, n))
			LOG_DBG("passthrough: forget of unknown inode %llu",
				(unsigned long long)nodeid);
		return;
	}
	pt_inode_lookup_dec(fs, in, n);
	pt_inode_put(fs, in);
}

/* Walk every live inode; see passthrough/pt_internal.h. */
int pt_inode_foreach(struct pt_fs *fs,
		     int (*cb)(struct pt_inode *in, void *arg), void *arg)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		struct pt_shard *s = &fs->ino_id[i];
		int r = 0;

		pthread_rwlock_rdlock(&s->lock);
		for (size_t b = 0; b < s->tab.nb && !r; b++) {
			for (struct pt_hlink *l = s->tab.b[b]; l && !r;
			     l = l->next) {
				struct pt_inode *in = IN_OF_ID(l);

				if (atomic_load(&in->refcount))
					r = cb(in, arg);
			}
		}
		pthread_rwlock_unlock(&s->lock);
		if (r)
			return r;
	}
	return 0;
}

/* Insert an inode with a given id and lookup count (migration load). */
int pt_inode_insert_with_id(struct pt_fs *fs, uint64_t nodeid, int fd,
			    const struct pt_fh_buf *fh, const struct stat *st,
			    uint64_t mnt_id, uint64_t nlookup,
			    struct pt_inode **out)
{
	struct pt_key k = { st->st_dev, st->st_ino, mnt_id };
	uint64_t h = key_hash(&k);
	struct pt_shard *s = shard(fs->ino_key, h);
	struct pt_inode *in, *other;
	struct pt_fh_buf fhb;
	uint64_t next;
	int r;

	if (nodeid == FUSE_ROOT_ID) {
		/* The root exists already: only its lookup count moves. */
		if (fd >= 0)
			close(fd);
		atomic_store(&fs->root->nlookup, nlookup);
		if (out) {
			pt_inode_ref(fs->root);
			*out = fs->root;
		}
		return 0;
	}
	if (nodeid == 0 || (nlookup == 0 && !out)) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	in = pt_inode_get(fs, nodeid);
	if (in) {
		pt_inode_put(fs, in);
		if (fd >= 0)
			close(fd);
		return -EEXIST;
	}
	if (fh) {
		fhb = *fh;
		r = 1;
	} else {
		r = hold_by_handle(fs, fd, mnt_id, &fhb);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	in = inode_alloc(fd, st, mnt_id, r ? &fhb : NULL);
	if (!in) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	if (r && fd >= 0)
		close(fd);   /* the load opens what it needs again */
	in->nodeid = nodeid;
	/* refcount: 1 for the lookup count (if any) + 1 for *out (if any) */
	atomic_store(&in->nlookup, nlookup);
	atomic_store(&in->refcount, (uint64_t)(nlookup > 0) + (out != NULL));

	other = key_insert_unless(s, in, &k, h);
	if (other) {
		pt_inode_put(fs, other);
		inode_free(fs, in);
		return -EEXIST;
	}
	id_insert(fs, in);
	atomic_fetch_add(&fs->n_inodes, 1);
	if (out)
		*out = in;

	next = atomic_load(&fs->next_nodeid);
	while (next <= nodeid &&
	       !atomic_compare_exchange_weak(&fs->next_nodeid, &next,
					     nodeid + 1))
		;
	return 0;
}

/* The next node id that will be handed out. */
uint64_t pt_inode_next_id(struct pt_fs *fs)
{
	return atomic_load(&fs->next_nodeid);
}

/* Set the next node id (migration; never lowers it below 2). */
void pt_inode_set_next_id(struct pt_fs *fs, uint64_t next)
{
	if (next < FUSE_ROOT_ID + 1)
		next = FUSE_ROOT_ID + 1;
	atomic_store(&fs->next_nodeid, next);
}

struct collect {
	struct pt_inode **v;
	size_t n, cap;
};

/* Drop every guest lookup count (reset). */
void pt_inode_forget_all(struct pt_fs *fs)
{
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		struct pt_shard *s = &fs->ino_id[i];
		struct collect c = { NULL, 0, 0 };

		/* Collect referenced inodes under the lock, forget them
		 * outside it (a put may need the write locks). */
		pthread_rwlock_rdlock(&s->lock);
		c.cap = s->tab.n;
		c.v = c.cap ? malloc(c.cap * sizeof(*c.v)) : NULL;
		for (size_t b = 0; c.v && b < s->tab.nb; b++) {
			for (struct pt_hlink *l = s->tab.b[b]; l; l = l->next) {
				struct pt_inode *in = IN_OF_ID(l);

				if (c.n < c.cap && get_unless_zero(in))
					c.v[c.n++] = in;
			}
		}
		pthread_rwlock_unlock(&s->lock);
		if (c.cap && !c.v)
			LOG_ERR("passthrough: reset: out of memory, some inodes kept");
		for (size_t j = 0; j < c.n; j++) {
			pt_inode_lookup_dec(fs, c.v[j], UINT64_MAX);
			pt_inode_put(fs, c.v[j]);
		}
		free(c.v);
	}
}
