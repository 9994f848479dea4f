/*
 * pt_mig_track.c - pre-copy work of a migration on the source: from the
 * moment dirty logging starts (log_start) a background thread finds, for
 * every inode the guest holds, a parent inode and a name that reach it
 * (the /proc/self/fd path walked from the root, as pt_mig_prepare does),
 * and from then on the ops keep those records current: lookups and
 * creations record parent + name directly, RENAME moves a record (and
 * invalidates the one it overwrote), UNLINK / RMDIR invalidate the record
 * of the removed name and queue its inode for the thread to re-resolve.
 * At save time pt_mig_prepare() takes every record as it is, without a
 * syscall (changes made by third parties on the host are not tracked;
 * --migration-confirm-paths checks them all), and resolves what is
 * missing.
 *
 * The thread's walks race with the ops: a walk that read a path, then a
 * guest RENAME / UNLINK whose hook found no record yet, then the walk's
 * record would keep a name that no longer holds.  So the hooks that
 * change names count in t->seq, and a walk records nothing when the count
 * moved since it read its path: the inode is queued and walked again.
 *
 * Records: by node id and by (parent node id, name).  A record holds a
 * reference on its parent inode, so a parent the guest forgets stays in
 * the table (lookup count 0) until the tracker is dropped; the record's
 * own inode is not referenced (a record of a freed inode is ignored).
 *
 * Locks:
 *   t->lock (mutex) protects the two record tables, the dirty list and
 *   t->active.  Taken by ops (hooks), the thread and the save; no table
 *   lock is taken and no syscall is made while it is held (inode
 *   references dropped by a hook are put after unlocking).
 *   fs->mig_lock (pt_internal.h) serializes start / stop / save around
 *   the thread's life; taken before t->lock, never by ops.
 *
 * Syscalls: readlinkat, openat, statx, name_to_handle_at, close, clone,
 * clone3, futex, mmap, mprotect, munmap, madvise, set_robust_list, rseq.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pt_internal.h"
#include "pt_mig_index.h"
#include "log.h"

struct trk_rec {
	struct pt_hlink id_link;     /* hash = pt_hash64(nodeid) */
	struct pt_hlink nm_link;     /* hash = name_hash(parent, name) */
	uint64_t nodeid;
	struct pt_inode *parent;     /* referenced; NULL: unknown */
	char *name;
	uint16_t namelen;
	uint16_t fh_len;             /* 0: no file handle */
	int32_t fh_type;
	uint8_t *fh;
};

struct pt_mig_track {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pt_htab by_id, by_name;
	uint64_t *dirty;             /* node ids to re-resolve */
	size_t ndirty, dcap;
	bool active;                 /* records are being kept */
	bool stop;                   /* the thread must end */
	bool thread_on;
	bool collected;              /* the first full pass finished */
	bool verify_handles;
	uint64_t seq;                /* RENAME / UNLINK / RMDIR hooks so far */
	pthread_t thr;
	double t_start, t_collect;   /* ms */
	char root_path[PATH_MAX];
	size_t root_len;
};

#define REC_OF_ID(l) ((struct trk_rec *)(l))
#define REC_OF_NM(l) \
	((struct trk_rec *)((char *)(l) - offsetof(struct trk_rec, nm_link)))

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t name_hash(uint64_t parent, const char *name, size_t len)
{
	uint64_t h = pt_hash64(parent) ^ 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ULL;
	return pt_hash64(h);
}

static struct trk_rec *find_id(struct pt_mig_track *t, uint64_t nodeid)
{
	uint64_t h = pt_hash64(nodeid);

	for (struct pt_hlink *l = pt_htab_chain(&t->by_id, h); l; l = l->next)
		if (l->hash == h && REC_OF_ID(l)->nodeid == nodeid)
			return REC_OF_ID(l);
	return NULL;
}

static struct trk_rec *find_name(struct pt_mig_track *t, uint64_t parent,
				 const char *name, size_t len)
{
	uint64_t h = name_hash(parent, name, len);

	for (struct pt_hlink *l = pt_htab_chain(&t->by_name, h); l;
	     l = l->next) {
		struct trk_rec *r = REC_OF_NM(l);

		if (l->hash == h && r->parent && r->parent->nodeid == parent &&
		    r->namelen == len && !memcmp(r->name, name, len))
			return r;
	}
	return NULL;
}

/* Forget r's location; its parent reference goes to *put. */
static void unset_loc(struct pt_mig_track *t, struct trk_rec *r,
		      struct pt_inode **put)
{
	if (r->parent) {
		pt_htab_remove(&t->by_name, &r->nm_link);
		*put = r->parent;
		r->parent = NULL;
	}
	free(r->name);
	r->name = NULL;
	r->namelen = 0;
}

/* Set r's location to parent (reference moves in) / name (copied into
 * nm, allocated by the caller, moves in).  The old parent goes to *put. */
static void set_loc(struct pt_mig_track *t, struct trk_rec *r,
		    struct pt_inode *parent, char *nm, size_t len,
		    struct pt_inode **put)
{
	unset_loc(t, r, put);
	r->parent = parent;
	r->name = nm;
	r->namelen = (uint16_t)len;
	r->nm_link.hash = name_hash(parent->nodeid, nm, len);
	pt_htab_insert(&t->by_name, &r->nm_link);
}

static struct trk_rec *get_rec(struct pt_mig_track *t, uint64_t nodeid,
			       struct trk_rec **spare)
{
	struct trk_rec *r = find_id(t, nodeid);

	if (r || !*spare)
		return r;
	r = *spare;
	*spare = NULL;
	memset(r, 0, sizeof(*r));
	r->nodeid = nodeid;
	r->id_link.hash = pt_hash64(nodeid);
	pt_htab_insert(&t->by_id, &r->id_link);
	return r;
}

static void queue_dirty(struct pt_mig_track *t, uint64_t nodeid)
{
	uint64_t *nv = pt_mig_grow(t->dirty, &t->dcap, t->ndirty,
				   sizeof(*t->dirty), 64);

	if (!nv)
		return;   /* the save re-resolves it anyway */
	t->dirty = nv;
	t->dirty[t->ndirty++] = nodeid;
	pthread_cond_signal(&t->cond);
}

/*
 * Record in as name[0..len) in parent.  force: replace an existing
 * location (ops know the current truth); else only fill a missing one
 * (the thread's walk may be older than an op's change).  walk (the
 * thread, NULL for ops): the t->seq its walk started at and the node id
 * it walks for; when a hook changed names since, nothing is recorded and
 * that node id is queued again.  Takes its own reference on parent.
 * False when the walk must stop.
 */
struct walk_ctx {
	uint64_t seq;
	uint64_t target;
};

static bool record(struct pt_fs *fs, struct pt_inode *parent,
		   const char *name, size_t len, struct pt_inode *in,
		   bool force, const uint8_t *fh, int fh_len, int32_t fh_type,
		   const struct walk_ctx *walk)
{
	bool ok = true;

	struct pt_mig_track *t = fs->track;
	struct trk_rec *spare = NULL, *r;
	struct pt_inode *put = NULL;
	char *nm = NULL;
	uint8_t *fhc = NULL;

	if (!force) {
		/* The thread passes every directory of every path: most of
		 * them are recorded already, skip the allocations. */
		pthread_mutex_lock(&t->lock);
		r = find_id(t, in->nodeid);
		if (t->active && r && r->parent && (fh_len <= 0 || r->fh_len) &&
		    (!walk || walk->seq == t->seq)) {
			pthread_mutex_unlock(&t->lock);
			return true;
		}
		pthread_mutex_unlock(&t->lock);
	}
	spare = malloc(sizeof(*spare));
	nm = malloc(len ? len : 1);
	fhc = fh_len > 0 ? malloc((size_t)fh_len) : NULL;
	if (!spare || !nm || (fh_len > 0 && !fhc))
		goto out;
	memcpy(nm, name, len);
	if (fhc)
		memcpy(fhc, fh, (size_t)fh_len);
	pthread_mutex_lock(&t->lock);
	if (!t->active) {
		pthread_mutex_unlock(&t->lock);
		goto out;
	}
	if (walk && walk->seq != t->seq) {
		queue_dirty(t, walk->target);
		pthread_mutex_unlock(&t->lock);
		ok = false;
		goto out;
	}
	r = get_rec(t, in->nodeid, &spare);
	if (r && (force || !r->parent)) {
		pt_inode_ref(parent);
		set_loc(t, r, parent, nm, len, &put);
		nm = NULL;
	}
	if (r && fhc && !r->fh_len) {
		r->fh = fhc;
		r->fh_len = (uint16_t)fh_len;
		r->fh_type = fh_type;
		fhc = NULL;
	}
	pthread_mutex_unlock(&t->lock);
out:
	if (put)
		pt_inode_put(fs, put);
	free(spare);
	free(nm);
	free(fhc);
	return ok;
}

/* File handle of fd; see pt_internal.h. */
int pt_fd_handle(int fd, uint8_t *buf, int32_t *type)
{
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + PT_FH_MAX];
	} u;
	int mnt;

	u.fh.handle_bytes = PT_FH_MAX;
	if (name_to_handle_at(fd, "", &u.fh, &mnt, AT_EMPTY_PATH) < 0)
		return -errno;
	if (u.fh.handle_bytes == 0 || u.fh.handle_bytes > PT_FH_MAX)
		return -EOVERFLOW;
	memcpy(buf, u.fh.f_handle, u.fh.handle_bytes);
	*type = u.fh.handle_type;
	return (int)u.fh.handle_bytes;
}

static bool is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* Hook: in was reached as name in parent (LOOKUP, MKNOD, CREATE, ...). */
void pt_track_name(struct pt_fs *fs, struct pt_inode *parent,
		   const char *name, struct pt_inode *in)
{
	uint8_t fh[PT_FH_MAX];
	int32_t type = 0;
	int len = 0;

	if (!atomic_load(&fs->mig_tracking) || in->is_root || is_dot(name) ||
	    pt_mig_hidden(parent, name))
		return;
	if (fs->track->verify_handles)
		len = pt_inode_handle(fs, in, fh, &type);
	record(fs, parent, name, strlen(name), in, true, fh, len, type, NULL);
}

/* Hook: parent/name was renamed to newparent/newname. */
void pt_track_rename(struct pt_fs *fs, struct pt_inode *parent,
		     const char *name, struct pt_inode *newparent,
		     const char *newname, unsigned flags)
{
	struct pt_mig_track *t = fs->track;
	struct pt_inode *put[4] = { NULL };
	size_t len = strlen(name), nlen = strlen(newname);
	char *n1 = NULL, *n2 = NULL;
	struct trk_rec *a, *b;

	if (!atomic_load(&fs->mig_tracking))
		return;
	n1 = malloc(nlen + 1);
	n2 = malloc(len + 1);
	pthread_mutex_lock(&t->lock);
	if (!t->active)
		goto unlock;
	t->seq++;
	a = find_name(t, parent->nodeid, name, len);
	b = find_name(t, newparent->nodeid, newname, nlen);
	if (a == b)
		goto unlock;   /* both absent, or two names of one inode */
	if (b) {
		if ((flags & RENAME_EXCHANGE) && n2) {
			memcpy(n2, name, len);
			pt_inode_ref(parent);
			set_loc(t, b, parent, n2, len, &put[0]);
			n2 = NULL;
		} else {
			unset_loc(t, b, &put[0]);   /* overwritten */
			queue_dirty(t, b->nodeid);
		}
	}
	if (a) {
		if (n1) {
			memcpy(n1, newname, nlen);
			pt_inode_ref(newparent);
			set_loc(t, a, newparent, n1, nlen, &put[1]);
			n1 = NULL;
		} else {
			unset_loc(t, a, &put[1]);
			queue_dirty(t, a->nodeid);
		}
	}
unlock:
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < 4; i++)
		if (put[i])
			pt_inode_put(fs, put[i]);
	free(n1);
	free(n2);
}

/* Hook: parent/name was removed. */
void pt_track_remove(struct pt_fs *fs, struct pt_inode *parent,
		     const char *name)
{
	struct pt_mig_track *t = fs->track;
	struct pt_inode *put = NULL;
	struct trk_rec *r;

	if (!atomic_load(&fs->mig_tracking))
		return;
	pthread_mutex_lock(&t->lock);
	if (t->active) {
		t->seq++;
		r = find_name(t, parent->nodeid, name, strlen(name));
		if (r) {
			unset_loc(t, r, &put);
			queue_dirty(t, r->nodeid);   /* another name? */
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (put)
		pt_inode_put(fs, put);
}

/* ---- the collecting thread ---- */

static bool needs_work(struct pt_mig_track *t, uint64_t nodeid)
{
	struct trk_rec *r;
	bool need;

	pthread_mutex_lock(&t->lock);
	r = find_id(t, nodeid);
	need = !r || !r->parent || (t->verify_handles && !r->fh_len);
	pthread_mutex_unlock(&t->lock);
	return need;
}

static bool stopping(struct pt_mig_track *t)
{
	bool s;

	pthread_mutex_lock(&t->lock);
	s = t->stop;
	pthread_mutex_unlock(&t->lock);
	return s;
}

/* Walk in's /proc path from the root, recording every directory on the
 * way and in itself (only where no record exists). */
static void resolve_one(struct pt_fs *fs, struct pt_mig_track *t,
			struct pt_inode *in)
{
	char fdn[24], path[PATH_MAX];
	uint8_t fh[PT_FH_MAX];
	struct pt_inode *parent;
	struct walk_ctx wc = { 0, in->nodeid };
	int32_t type = 0;
	int fh_len = 0, ifd;
	ssize_t n;
	char *p, *c;
	bool last;

	pthread_mutex_lock(&t->lock);
	wc.seq = t->seq;   /* before the path is read */
	pthread_mutex_unlock(&t->lock);
	if (t->verify_handles)
		fh_len = pt_inode_handle(fs, in, fh, &type);
	ifd = pt_inode_fd_get(fs, in);
	if (ifd < 0)
		return;
	pt_fdname(ifd, fdn, sizeof(fdn));
	n = readlinkat(fs->proc_self_fd, fdn, path, sizeof(path) - 1);
	pt_inode_fd_put(fs, in, ifd);
	if (n <= 0 || n >= (ssize_t)sizeof(path) - 1)
		return;
	path[n] = 0;
	if (n > 10 && !strcmp(path + n - 10, " (deleted)"))
		return;   /* the save makes it reachable */
	p = pt_mig_below_root(path, (size_t)n, t->root_path, t->root_len);
	if (!p)
		return;
	parent = fs->root;
	pt_inode_ref(parent);
	while ((c = pt_mig_path_next(&p, &last))) {
		struct pt_inode *x;
		struct stat st;
		uint64_t mnt_id;
		int fd, pfd;

		if (strlen(c) > NAME_MAX || is_dot(c))
			break;
		pfd = pt_inode_fd_get(fs, parent);
		if (pfd < 0)
			break;
		fd = openat(pfd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		pt_inode_fd_put(fs, parent, pfd);
		if (fd < 0)
			break;
		if (pt_stat_fd(fd, &st, &mnt_id)) {
			close(fd);
			break;
		}
		if (last) {
			close(fd);
			if (in->key.dev == (uint64_t)st.st_dev &&
			    in->key.ino == (uint64_t)st.st_ino &&
			    in->key.mnt_id == mnt_id)
				record(fs, parent, c, strlen(c), in, false, fh,
				       fh_len, type, &wc);
			break;
		}
		if (!S_ISDIR(st.st_mode) ||
		    pt_inode_find_or_insert(fs, fd, &st, mnt_id, &x)) {
			if (!S_ISDIR(st.st_mode))
				close(fd);
			break;
		}
		if (!x->is_root) {
			uint8_t xfh[PT_FH_MAX];
			int32_t xt = 0;
			int xl = 0;

			if (t->verify_handles && needs_work(t, x->nodeid))
				xl = pt_inode_handle(fs, x, xfh, &xt);
			if (!record(fs, parent, c, strlen(c), x, false, xfh,
				    xl, xt, &wc)) {
				pt_inode_put(fs, x);
				break;
			}
		}
		pt_inode_put(fs, parent);
		parent = x;
	}
	pt_inode_put(fs, parent);
}

struct snap {
	struct pt_inode **v;
	size_t n, cap;
};

static int snap_cb(struct pt_inode *in, void *arg)
{
	struct snap *s = arg;

	if (s->n == s->cap)
		return 1;   /* the rest on the next pass */
	pt_inode_ref(in);
	s->v[s->n++] = in;
	return 0;
}

/* One pass over the table; true when every inode was looked at. */
static bool collect_pass(struct pt_fs *fs, struct pt_mig_track *t)
{
	struct snap s = { 0 };
	bool complete;
	size_t i;

	s.cap = atomic_load(&fs->n_inodes) + 1024;
	s.v = malloc(s.cap * sizeof(*s.v));
	if (!s.v)
		return true;   /* the save does it */
	pt_inode_foreach(fs, snap_cb, &s);
	complete = s.n < s.cap;
	for (i = 0; i < s.n && !stopping(t); i++)
		if (!s.v[i]->is_root && needs_work(t, s.v[i]->nodeid))
			resolve_one(fs, t, s.v[i]);
	if (i < s.n)
		complete = false;
	for (i = 0; i < s.n; i++)
		pt_inode_put(fs, s.v[i]);
	free(s.v);
	return complete;
}

static void *track_main(void *arg)
{
	struct pt_fs *fs = arg;
	struct pt_mig_track *t = fs->track;
	uint64_t ids[64];

	while (!stopping(t) && !collect_pass(fs, t))
		;
	pthread_mutex_lock(&t->lock);
	if (!t->stop) {
		t->collected = true;
		t->t_collect = now_ms() - t->t_start;
		LOG_INFO("migration: pre-copy: paths of %zu inodes collected "
			 "in %.1f ms", t->by_id.n, t->t_collect);
	}
	/* Then re-resolve what the ops invalidated, until stopped. */
	while (!t->stop) {
		size_t n = 0;

		if (!t->ndirty) {
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		while (t->ndirty && n < 64)
			ids[n++] = t->dirty[--t->ndirty];
		pthread_mutex_unlock(&t->lock);
		for (size_t i = 0; i < n; i++) {
			struct pt_inode *in = pt_inode_get(fs, ids[i]);

			if (in) {
				resolve_one(fs, t, in);
				pt_inode_put(fs, in);
			}
		}
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void join_thread(struct pt_mig_track *t)
{
	if (!t->thread_on)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thr, NULL);
	t->thread_on = false;
}

/* Drop every record (thread joined); parents are put after unlocking. */
static void clear_records(struct pt_fs *fs, struct pt_mig_track *t)
{
	struct pt_inode **put;
	size_t np = 0;

	pthread_mutex_lock(&t->lock);
	t->active = false;
	put = malloc((t->by_id.n + 1) * sizeof(*put));
	for (size_t b = 0; b < t->by_id.nb; b++) {
		struct pt_hlink *l = t->by_id.b[b];

		while (l) {
			struct trk_rec *r = REC_OF_ID(l);

			l = l->next;
			if (r->parent) {
				if (put)
					put[np++] = r->parent;
				else   /* out of memory: leak a reference */
					LOG_WARN("migration: cannot drop a "
						 "tracker reference");
			}
			free(r->name);
			free(r->fh);
			free(r);
		}
		t->by_id.b[b] = NULL;
	}
	t->by_id.n = 0;
	for (size_t b = 0; b < t->by_name.nb; b++)
		t->by_name.b[b] = NULL;
	t->by_name.n = 0;
	t->ndirty = 0;
	t->collected = false;
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < np; i++)
		pt_inode_put(fs, put[i]);
	free(put);
}

/* Start the pre-copy collection; see passthrough.h. */
int pt_mig_track_start(struct pt_fs *fs)
{
	struct pt_mig_track *t;
	char fdn[24];
	ssize_t n;
	int ret;

	pthread_mutex_lock(&fs->mig_lock);
	if (!fs->track) {
		t = calloc(1, sizeof(*t));
		if (!t || pt_htab_init(&t->by_id, 1024) ||
		    pt_htab_init(&t->by_name, 1024)) {
			if (t) {
				pt_htab_destroy(&t->by_id);
				free(t);
			}
			pthread_mutex_unlock(&fs->mig_lock);
			return -ENOMEM;
		}
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->cond, NULL);
		fs->track = t;
	}
	t = fs->track;
	atomic_store(&fs->mig_tracking, false);
	join_thread(t);
	clear_records(fs, t);
	pt_fdname(pt_root_fd(fs), fdn, sizeof(fdn));
	n = readlinkat(fs->proc_self_fd, fdn, t->root_path,
		       sizeof(t->root_path) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(t->root_path) - 1) {
		pthread_mutex_unlock(&fs->mig_lock);
		return n < 0 ? -errno : -ENAMETOOLONG;
	}
	t->root_path[n] = 0;
	t->root_len = (size_t)n;
	t->verify_handles = fs->cfg.mig_verify_handles;
	t->t_start = now_ms();
	t->stop = false;
	t->active = true;
	atomic_store(&fs->mig_tracking, true);
	ret = -pthread_create(&t->thr, NULL, track_main, fs);
	if (ret) {
		atomic_store(&fs->mig_tracking, false);
		t->active = false;
		LOG_WARN("migration: cannot start the pre-copy thread: %s",
			 strerror(-ret));
	} else {
		t->thread_on = true;
		LOG_INFO("migration: pre-copy: collecting paths in the "
			 "background");
	}
	pthread_mutex_unlock(&fs->mig_lock);
	return ret;
}

/* Stop the pre-copy collection and drop it; see passthrough.h. */
void pt_mig_track_stop(struct pt_fs *fs)
{
	pthread_mutex_lock(&fs->mig_lock);
	if (fs->track) {
		atomic_store(&fs->mig_tracking, false);
		join_thread(fs->track);
		if (fs->track->active)
			LOG_INFO("migration: pre-copy: stopped, tracked paths "
				 "dropped");
		clear_records(fs, fs->track);
	}
	pthread_mutex_unlock(&fs->mig_lock);
}

/* Stop the thread for the save; records stay.  mig_lock held. */
void pt_track_pause(struct pt_fs *fs)
{
	if (!fs->track)
		return;
	join_thread(fs->track);
}

/* The tracked location of nodeid; see pt_internal.h. */
bool pt_track_get(struct pt_fs *fs, uint64_t nodeid, struct pt_track_loc *loc)
{
	struct pt_mig_track *t = fs->track;
	struct trk_rec *r;

	memset(loc, 0, sizeof(*loc));
	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	r = t->active ? find_id(t, nodeid) : NULL;
	if (r) {
		loc->parent = r->parent;
		loc->name = r->name;
		loc->namelen = r->namelen;
		loc->fh = r->fh;
		loc->fh_len = r->fh_len;
		loc->fh_type = r->fh_type;
	}
	pthread_mutex_unlock(&t->lock);
	return r != NULL;
}

/* Tracker statistics: records kept, and the time of the first full pass
 * (negative when it did not finish or no tracker ran). */
void pt_track_stats(struct pt_fs *fs, uint64_t *records, double *ms)
{
	struct pt_mig_track *t = fs->track;

	*records = 0;
	*ms = -1;
	if (!t || !t->active)
		return;
	pthread_mutex_lock(&t->lock);
	*records = t->by_id.n;
	if (t->collected)
		*ms = t->t_collect;
	pthread_mutex_unlock(&t->lock);
}

/* True when a tracker is running (log_start without log_stop). */
bool pt_track_active(struct pt_fs *fs)
{
	return fs->track && fs->track->active;
}

/* Free the tracker (fs going away; no op runs). */
void pt_track_free(struct pt_fs *fs)
{
	struct pt_mig_track *t = fs->track;

	if (!t)
		return;
	atomic_store(&fs->mig_tracking, false);
	join_thread(t);
	/* The tables are freed wholesale: drop the records only. */
	for (size_t b = 0; b < t->by_id.nb; b++) {
		struct pt_hlink *l = t->by_id.b[b];

		while (l) {
			struct trk_rec *r = REC_OF_ID(l);

			l = l->next;
			free(r->name);
			free(r->fh);
			free(r);
		}
	}
	pt_htab_destroy(&t->by_id);
	pt_htab_destroy(&t->by_name);
	free(t->dirty);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
	fs->track = NULL;
}
