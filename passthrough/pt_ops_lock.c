/*
 * pt_ops_lock.c - host-side locks: GETLK/SETLK as OFD locks on the
 * handle's fd, FLOCK as flock() on it.
 *
 * Limits (why FUSE_POSIX_LOCKS / FUSE_FLOCK_LOCKS are not negotiated yet,
 * see pt_fs.c host_locks): OFD locks belong to the handle, not to the
 * guest's lock owner, so two guest processes sharing one open file share
 * its locks; blocking requests (SETLKW, flock without LOCK_NB) would stall
 * a queue thread, so they are tried without blocking and answered
 * EOPNOTSUPP when they would block.  Locks are not migrated.
 *
 * Syscalls: fcntl(F_OFD_GETLK, F_OFD_SETLK), flock.
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

/* GETLK: test for a conflicting lock. */
void pt_op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock)
{
	struct pt_fs *fs = pt_req_fs(req);
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
	l.l_pid = 0;
	r = fcntl(h->fd, F_OFD_GETLK, &l) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	if (r) {
		pt_reply_err(req, r);
		return;
	}
	if (l.l_type != F_UNLCK)
		l.l_pid = 0;   /* the holder is not a guest pid we know */
	fuse_reply_lock(req, &l);
}

/* SETLK / SETLKW (blocking only when uncontended, see above). */
void pt_op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock, int sleep)
{
	struct pt_fs *fs = pt_req_fs(req);
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
	l.l_pid = 0;
	r = fcntl(h->fd, F_OFD_SETLK, &l) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	if (sleep && (r == -EAGAIN || r == -EACCES))
		r = -EOPNOTSUPP;
	pt_reply_err(req, r);
}

/* FLOCK (BSD locks) on the handle. */
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
	pt_handle_put(fs, h);
	if (!(op & LOCK_NB) && r == -EWOULDBLOCK)
		r = -EOPNOTSUPP;
	pt_reply_err(req, r);
}
