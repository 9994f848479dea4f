/*
 * pt_lock.c - state behind host-side locks: the owner table and the
 * registry of blocked lock waits.
 *
 * Owner table.  POSIX record locks belong to the guest's lock owner
 * (fuse lock_owner: one per guest files_struct), not to our process.  For
 * each (inode, owner) that takes a lock we open one more open file
 * description of the inode and put OFD locks (F_OFD_SETLK...) on it: the
 * host kernel then merges and splits one owner's ranges as POSIX says,
 * and two owners (or an owner and a host process) conflict.  An entry
 * holds an inode reference and lives until the owner's FLUSH of the file
 * (unlock on close), a reset or the fs going away.
 *
 * Blocked waits.  F_OFD_SETLKW runs only on pool workers, at most
 * fs->locks.max_waits at a time (pt_fs_set_lock_waits()).  Each wait is
 * registered; pt_fs_cancel_lock_waits() (the device must quiesce: ring
 * stop, memory table change) marks every registered wait cancelled and
 * sends its thread PT_LOCK_SIG, whose handler does nothing and is
 * installed without SA_RESTART so fcntl() returns EINTR.  A signal that
 * arrives just before the fcntl() is lost, so the canceller calls again
 * until the registry is empty (vq_thread_stop() / vu_gate_close() do).
 *
 * Locking: locks.lock (mutex) guards the table and the registry; it is a
 * leaf (no other lock is taken under it; pt_inode_put() of a removed
 * entry happens after it is released).
 *
 * Syscalls: openat, close, fcntl(F_OFD_SETLK), rt_sigaction, tgkill.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

static void lock_sig_handler(int sig)
{
	(void)sig;
}

/* Set up the owner table and the wake-up signal.  0 or negative errno. */
int pt_locks_init(struct pt_fs *fs)
{
	struct sigaction sa;
	int r;

	pthread_mutex_init(&fs->locks.lock, NULL);
	r = pt_htab_init(&fs->locks.tab, 64);
	if (r)
		return r;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lock_sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;   /* no SA_RESTART: interrupt fcntl(F_OFD_SETLKW) */
	if (sigaction(PT_LOCK_SIG, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static uint64_t owner_hash(uint64_t nodeid, uint64_t owner)
{
	return pt_hash64(nodeid * 0x9e3779b97f4a7c15ULL ^ owner);
}

static void owner_free(struct pt_fs *fs, struct pt_lock_owner *o)
{
	close(o->fd);
	pt_inode_put(fs, o->in);
	free(o);
}

/* Drop a reference taken by pt_lock_owner_get(). */
void pt_lock_owner_put(struct pt_fs *fs, struct pt_lock_owner *o)
{
	if (atomic_fetch_sub(&o->refcount, 1) == 1)
		owner_free(fs, o);
}

static struct pt_lock_owner *owner_find(struct pt_fs *fs, uint64_t nodeid,
					uint64_t owner)
{
	uint64_t h = owner_hash(nodeid, owner);
	struct pt_hlink *l;

	for (l = pt_htab_chain(&fs->locks.tab, h); l; l = l->next) {
		struct pt_lock_owner *o = (struct pt_lock_owner *)l;

		if (l->hash == h && o->in->nodeid == nodeid &&
		    o->owner == owner)
			return o;
	}
	return NULL;
}

/* Open a description of in for locking only: read-write when we may
 * (both lock types then work), else read-only or write-only. */
static int owner_open(struct pt_fs *fs, struct pt_inode *in)
{
	static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY };
	int fd = -EINVAL;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fd = pt_inode_open(fs, in, modes[i] | O_NONBLOCK | O_NOCTTY);
		if (fd >= 0 || (fd != -EACCES && fd != -EISDIR &&
				fd != -EROFS && fd != -ETXTBSY && fd != -EPERM))
			break;
	}
	return fd;
}

/*
 * The lock description of (in, owner) with a reference; created when
 * create is set (else NULL and -ENOENT when there is none).  *err gets
 * a negative errno when NULL is returned.
 */
struct pt_lock_owner *pt_lock_owner_get(struct pt_fs *fs, struct pt_inode *in,
					uint64_t owner, bool create, int *err)
{
	struct pt_lock_owner *o, *n;
	int fd;

	pthread_mutex_lock(&fs->locks.lock);
	o = owner_find(fs, in->nodeid, owner);
	if (o)
		atomic_fetch_add(&o->refcount, 1);
	pthread_mutex_unlock(&fs->locks.lock);
	if (o || !create) {
		*err = o ? 0 : -ENOENT;
		return o;
	}
	fd = owner_open(fs, in);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	n->fd = fd;
	n->owner = owner;
	n->in = in;
	pt_inode_ref(in);
	atomic_store(&n->refcount, 2);   /* the table + the caller */
	n->link.hash = owner_hash(in->nodeid, owner);
	pthread_mutex_lock(&fs->locks.lock);
	o = owner_find(fs, in->nodeid, owner);
	if (o) {
		/* Lost a race with the same owner: use the winner's. */
		atomic_fetch_add(&o->refcount, 1);
	} else {
		pt_htab_insert(&fs->locks.tab, &n->link);
		o = n;
		n = NULL;
	}
	pthread_mutex_unlock(&fs->locks.lock);
	if (n) {
		atomic_store(&n->refcount, 1);
		pt_lock_owner_put(fs, n);
	}
	*err = 0;
	return o;
}

/*
 * Unlock on close (FLUSH of owner): drop every POSIX lock owner holds on
 * in and forget its description unless an op still uses it.
 */
void pt_lock_owner_flush(struct pt_fs *fs, struct pt_inode *in, uint64_t owner)
{
	struct flock l = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
	struct pt_lock_owner *o;
	bool drop = false;

	pthread_mutex_lock(&fs->locks.lock);
	o = owner_find(fs, in->nodeid, owner);
	if (o) {
		if (fcntl(o->fd, F_OFD_SETLK, &l) < 0)
			LOG_WARN("passthrough: unlock on close: %m");
		/* Only the table's reference left: nobody waits on it. */
		if (atomic_load(&o->refcount) == 1) {
			pt_htab_remove(&fs->locks.tab, &o->link);
			drop = true;
		}
	}
	pthread_mutex_unlock(&fs->locks.lock);
	if (drop)
		pt_lock_owner_put(fs, o);
}

/* Call cb for every description of node id nodeid other than skip's
 * owner (locks.lock held; cb must not take it).  Stops at a non-zero
 * return, which is returned. */
int pt_lock_owner_foreach(struct pt_fs *fs, uint64_t nodeid, uint64_t skip,
			  int (*cb)(struct pt_lock_owner *o, void *arg),
			  void *arg)
{
	int r = 0;

	pthread_mutex_lock(&fs->locks.lock);
	for (size_t b = 0; b < fs->locks.tab.nb && !r; b++) {
		for (struct pt_hlink *l = fs->locks.tab.b[b]; l && !r;
		     l = l->next) {
			struct pt_lock_owner *o = (struct pt_lock_owner *)l;

			if (o->in->nodeid == nodeid && o->owner != skip)
				r = cb(o, arg);
		}
	}
	pthread_mutex_unlock(&fs->locks.lock);
	return r;
}

/* Drop every description (reset, fs going away): their locks go with
 * them.  Descriptions an op still uses are freed by its last put. */
void pt_locks_clear(struct pt_fs *fs)
{
	struct pt_lock_owner *list = NULL, *o;

	pthread_mutex_lock(&fs->locks.lock);
	for (size_t b = 0; b < fs->locks.tab.nb; b++) {
		struct pt_hlink *l = fs->locks.tab.b[b];

		while (l) {
			struct pt_hlink *next = l->next;

			o = (struct pt_lock_owner *)l;
			o->next_free = list;
			list = o;
			l = next;
		}
		fs->locks.tab.b[b] = NULL;
	}
	fs->locks.tab.n = 0;
	pthread_mutex_unlock(&fs->locks.lock);
	while (list) {
		o = list;
		list = o->next_free;
		pt_lock_owner_put(fs, o);
	}
}

/* Free the table (fs going away, no op running). */
void pt_locks_destroy(struct pt_fs *fs)
{
	pt_locks_clear(fs);
	pt_htab_destroy(&fs->locks.tab);
	pthread_mutex_destroy(&fs->locks.lock);
}

/* Register the calling thread as about to block in a lock wait.
 * 0, or -ENOLCK when the limit of concurrent waits is reached. */
int pt_lock_wait_begin(struct pt_fs *fs, struct pt_lock_wait *w)
{
	int r = 0;

	w->thread = pthread_self();
	atomic_store(&w->cancelled, false);
	pthread_mutex_lock(&fs->locks.lock);
	if (fs->locks.n_waits >= atomic_load(&fs->locks.max_waits)) {
		r = -ENOLCK;
	} else {
		w->next = fs->locks.waits;
		fs->locks.waits = w;
		fs->locks.n_waits++;
	}
	pthread_mutex_unlock(&fs->locks.lock);
	return r;
}

/* Unregister a wait registered by pt_lock_wait_begin(). */
void pt_lock_wait_end(struct pt_fs *fs, struct pt_lock_wait *w)
{
	pthread_mutex_lock(&fs->locks.lock);
	for (struct pt_lock_wait **p = &fs->locks.waits; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			fs->locks.n_waits--;
			break;
		}
	}
	pthread_mutex_unlock(&fs->locks.lock);
}

/* Cancel every blocked lock wait; see passthrough.h. */
unsigned pt_fs_cancel_lock_waits(struct pt_fs *fs)
{
	unsigned n = 0;

	pthread_mutex_lock(&fs->locks.lock);
	for (struct pt_lock_wait *w = fs->locks.waits; w; w = w->next) {
		atomic_store(&w->cancelled, true);
		pthread_kill(w->thread, PT_LOCK_SIG);
		n++;
	}
	pthread_mutex_unlock(&fs->locks.lock);
	return n;
}

/* How many lock waits may block at once; see passthrough.h. */
void pt_fs_set_lock_waits(struct pt_fs *fs, unsigned max)
{
	atomic_store(&fs->locks.max_waits, max);
}
