/*
 * pt_ops_lock.c - GETLK / SETLK / SETLKW / FLOCK on the host.
 *
 * POSIX record locks: OFD locks on the description of (inode, guest lock
 * owner) kept by pt_lock.c, so guest processes conflict with each other
 * and with host processes, and one owner's ranges merge and split as
 * POSIX requires.  FLUSH drops the owner's locks (unlock on close,
 * pt_ops_file.c).  flock: flock() on the handle's own fd, the FUSE handle
 * being the guest's open file description.
 *
 * Blocking requests (SETLKW, flock without LOCK_NB) first try without
 * blocking; when that would block they wait on the host, registered in
 * pt_lock.c so that a suspend can interrupt them (answer ENOLCK, see
 * docs/migration.md), and only up to the pool's limit (else ENOLCK at
 * once: blocking every worker would starve the request that unlocks).
 *
 * GETLK reports the conflicting lock; its pid is the guest pid of the
 * owner holding it when that owner is one of the guest's (found by
 * probing the other owners' descriptions), else 0 (a host process).
 *
 * Locks are not migrated: the destination holds none.
 *
 * Syscalls: fcntl(F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW), flock.
 */
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

static struct pt_handle *lock_handle(fuse_req_t req, struct pt_fs *fs,
				     fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_handle *h = fi ? pt_handle_get_any(fs, fi->fh, ino) : NULL;

	if (!h)
		fuse_reply_err(req, pt_miss_err());
	return h;
}

static bool lock_type_ok(short t)
{
	return t == F_RDLCK || t == F_WRLCK || t == F_UNLCK;
}

struct holder_probe {
	const struct flock *conflict;
	pid_t pid;
};

/* Is o the owner of the conflicting lock?  Seen from o's own
 * description its lock is no conflict, so the same probe gives another
 * answer than the conflict itself. */
static int holder_cb(struct pt_lock_owner *o, void *arg)
{
	struct holder_probe *p = arg;
	struct flock q = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET,
		.l_start = p->conflict->l_start, .l_len = p->conflict->l_len,
	};

	if (fcntl(o->fd, F_OFD_GETLK, &q) < 0)
		return 0;
	if (q.l_type == F_UNLCK || q.l_start != p->conflict->l_start ||
	    q.l_len != p->conflict->l_len ||
	    q.l_type != p->conflict->l_type) {
		p->pid = atomic_load(&o->pid);
		return 1;
	}
	return 0;
}

/* GETLK: test for a conflicting lock of another owner. */
void pt_op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_lock_owner *o;
	struct pt_handle *h;
	struct flock l = *lock;
	int r;

	if (!lock_type_ok(l.l_type)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	h = lock_handle(req, fs, ino, fi);
	if (!h)
		return;
	o = pt_lock_owner_get(fs, h->inode, fi->lock_owner, false, &r);
	l.l_pid = 0;
	/* No description yet: the owner holds nothing; the handle's fd
	 * carries no POSIX lock either. */
	r = fcntl(o ? o->fd : h->fd, F_OFD_GETLK, &l) < 0 ? -errno : 0;
	if (!r && l.l_type != F_UNLCK) {
		struct holder_probe p = { .conflict = &l, .pid = 0 };

		/* -1: an OFD lock (ours or a host one); else a host pid,
		 * meaningless in the guest. */
		if (l.l_pid == -1)
			pt_lock_owner_foreach(fs, h->inode->nodeid,
					      fi->lock_owner, holder_cb, &p);
		l.l_pid = p.pid;
	}
	if (o)
		pt_lock_owner_put(fs, o);
	pt_handle_put(fs, h);
	if (r) {
		pt_reply_err(req, r);
		return;
	}
	fuse_reply_lock(req, &l);
}

/* Wait in F_OFD_SETLKW (sleep) or flock(kind) until granted or
 * cancelled.  0 or negative errno (-ENOLCK when cancelled or when too
 * many waits block already). */
static int lock_wait(struct pt_fs *fs, int fd, struct flock *l, int kind)
{
	struct pt_lock_wait w;
	int r = pt_lock_wait_begin(fs, &w);

	if (r)
		return r;
	for (;;) {
		if (atomic_load(&w.cancelled)) {
			r = -ENOLCK;
			break;
		}
		if (l)
			r = fcntl(fd, F_OFD_SETLKW, l) < 0 ? -errno : 0;
		else
			r = flock(fd, kind) < 0 ? -errno : 0;
		if (r != -EINTR)
			break;
	}
	pt_lock_wait_end(fs, &w);
	return r;
}

/* SETLK / SETLKW of the request's lock owner. */
void pt_op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock, int sleep)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_lock_owner *o;
	struct pt_handle *h;
	struct flock l = *lock;
	bool unlock = l.l_type == F_UNLCK;
	int r;

	if (!lock_type_ok(l.l_type)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	h = lock_handle(req, fs, ino, fi);
	if (!h)
		return;
	o = pt_lock_owner_get(fs, h->inode, fi->lock_owner, !unlock, &r);
	pt_handle_put(fs, h);
	if (!o) {
		/* Unlocking what an owner without locks does not hold. */
		pt_reply_err(req, unlock && r == -ENOENT ? 0 : r);
		return;
	}
	l.l_pid = 0;
	r = fcntl(o->fd, F_OFD_SETLK, &l) < 0 ? -errno : 0;
	if (r == -EACCES)
		r = -EAGAIN;
	if (r == -EAGAIN && sleep)
		r = lock_wait(fs, o->fd, &l, 0);
	if (!r && !unlock)
		atomic_store(&o->pid, (int32_t)lock->l_pid);
	pt_lock_owner_put(fs, o);
	pt_reply_err(req, r);
}

/* FLOCK (BSD locks) on the handle's open file description. */
void pt_op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 int op)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h;
	int kind = op & ~LOCK_NB, r;

	if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	h = lock_handle(req, fs, ino, fi);
	if (!h)
		return;
	r = flock(h->fd, kind | LOCK_NB) < 0 ? -errno : 0;
	if (r == -EWOULDBLOCK && !(op & LOCK_NB))
		r = lock_wait(fs, h->fd, NULL, kind);
	pt_handle_put(fs, h);
	pt_reply_err(req, r);
}
