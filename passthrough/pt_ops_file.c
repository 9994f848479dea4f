/*
 * pt_ops_file.c - file I/O ops: OPEN, CREATE, TMPFILE, READ, WRITE,
 * FLUSH, RELEASE, FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS.
 *
 * READ is zero-copy: the reply is a bufvec naming the handle's fd and the
 * offset, and the session preadv()s straight into the guest's buffers.
 * WRITE pwritev()s straight from the guest's buffers (the bufvec's memory
 * buffers point into guest RAM).  The handle reference is held across the
 * syscall and the reply, so a racing RELEASE cannot close the fd early.
 * WRITE runs with the daemon's ids; with FUSE_WRITE_KILL_SUIDGID with
 * the caller's and without CAP_FSETID, so that the host kernel clears
 * set-user/group-ID as it would for that writer.
 *
 * Syscalls: openat, close, pwritev, dup, fsync, fdatasync, fallocate,
 * lseek, copy_file_range, syncfs, unlinkat, flock (+ preadv in the
 * session for READ).
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fuse.h>
#include "pt_internal.h"
#include "log.h"

#define ACC_WRITES(f) (((f) & O_ACCMODE) != O_RDONLY || ((f) & O_TRUNC))

/* OPEN an existing file. */
void pt_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *in;
	struct pt_cred cred;
	uint64_t fh;
	int fd, r;

	if (fs->cfg.readonly && ACC_WRITES(fi->flags)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	in = pt_inode_get(fs, ino);
	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	fd = pt_cred_enter(fs, req, &cred);
	if (!fd) {
		bool nofsetid = false;

		if ((fi->flags & O_TRUNC) && pt_req_kill_priv(fs, req))
			fd = pt_cap_drop_fsetid(&nofsetid);
		if (!fd)
			fd = pt_inode_open(fs, in, pt_open_flags(fs, fi->flags));
		pt_cap_restore_fsetid(nofsetid);
		pt_cred_leave(fs, &cred);
	}
	if (fd >= 0 && (fi->flags & O_TRUNC)) {
		r = pt_xattr_clear_caps(fs, in, fd);
		if (r) {
			close(fd);
			fd = r;
		}
	}
	if (fd < 0) {
		pt_inode_put(fs, in);
		pt_reply_err(req, fd);
		return;
	}
	r = pt_handle_new(fs, in, fd,
			  fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY), false, &fh);
	pt_inode_put(fs, in);
	if (r) {
		pt_reply_err(req, r);
		return;
	}
	fi->fh = fh;
	pt_set_open_cache(fs, fi, false);
	if (fuse_reply_open(req, fi))
		pt_handle_release(fs, fh, ino);
}

/* Register fd as a handle of the new file and reply CREATE/TMPFILE
 * (parent/name: where CREATE made it, for migration tracking; NULL for
 * TMPFILE). */
static void reply_created(fuse_req_t req, struct pt_fs *fs, int fd,
			  struct fuse_file_info *fi, struct pt_inode *parent,
			  const char *name)
{
	struct fuse_entry_param e;
	struct pt_inode *in;
	uint64_t fh;
	int r;

	r = pt_entry_from_fd(fs, fd, &e, &in);
	if (r) {
		close(fd);
		pt_reply_err(req, r);
		return;
	}
	if (parent && atomic_load(&fs->mig_tracking))
		pt_track_name(fs, parent, name, in);
	r = pt_handle_new(fs, in, fd,
			  fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY), false, &fh);
	pt_inode_put(fs, in);
	if (r) {
		pt_entry_undo(fs, &e);
		pt_reply_err(req, r);
		return;
	}
	fi->fh = fh;
	pt_set_open_cache(fs, fi, false);
	if (fuse_reply_create(req, &e, fi)) {
		pt_handle_release(fs, fh, e.ino);
		pt_entry_undo(fs, &e);
	}
}

/* CREATE name in parent and open it. */
void pt_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *p;
	struct pt_cred cred;
	const char *sname;
	const void *sval;
	size_t ssize;
	bool secctx, created = false;
	int fd, flags, pfd;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fd = pt_check_name(name, false);
	if (fd) {
		pt_reply_err(req, fd);
		return;
	}
	p = pt_inode_get(fs, parent);
	if (!p) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	/* O_NOFOLLOW: an existing symlink under that name is not followed.
	 * With a security context to store, create with O_EXCL so that we
	 * know whether the file is new (an existing one is then opened). */
	secctx = (fuse_req_session_flags(req) & FUSE_SECURITY_CTX) &&
		 !fuse_req_secctx(req, &sname, &sval, &ssize);
	flags = pt_open_flags(fs, fi->flags) | O_CREAT | O_NOFOLLOW |
		(secctx ? O_EXCL : fi->flags & O_EXCL);
	mode &= ~pt_newnode_umask(fs, req, p);
	pfd = pt_inode_fd_get(fs, p);
	fd = pfd < 0 ? pfd : pt_cred_enter(fs, req, &cred);
	if (!fd) {
		fd = openat(pfd, name, flags, mode & 07777);
		if (fd < 0)
			fd = -errno;
		else
			created = secctx;
		if (fd == -EEXIST && secctx && !(fi->flags & O_EXCL)) {
			fd = openat(pfd, name,
				    flags & ~(O_CREAT | O_EXCL), 0);
			if (fd < 0)
				fd = -errno;
		}
		pt_cred_leave(fs, &cred);
	}
	if (created) {
		int r = pt_newnode_secctx(fs, req, fd, false);

		if (r) {
			close(fd);
			unlinkat(pfd, name, 0);
			fd = r;
		}
	}
	pt_inode_fd_put(fs, p, pfd);
	if (fd < 0)
		pt_reply_err(req, fd);
	else
		reply_created(req, fs, fd, fi, p, name);
	pt_inode_put(fs, p);
}

/* TMPFILE: an unnamed file in parent, opened. */
void pt_op_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode,
		   struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *p;
	struct pt_cred cred;
	int fd, pfd;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	p = pt_inode_get(fs, parent);
	if (!p) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	mode &= ~pt_newnode_umask(fs, req, p);
	pfd = pt_inode_fd_get(fs, p);
	fd = pfd < 0 ? pfd : pt_cred_enter(fs, req, &cred);
	if (!fd) {
		fd = openat(pfd, ".",
			    pt_open_flags(fs, fi->flags) | O_TMPFILE,
			    mode & 07777);
		if (fd < 0)
			fd = -errno;
		pt_cred_leave(fs, &cred);
	}
	pt_inode_fd_put(fs, p, pfd);
	if (fd >= 0) {
		/* Unnamed: closing it is the undo. */
		int r = pt_newnode_secctx(fs, req, fd, false);

		if (r) {
			close(fd);
			fd = r;
		}
	}
	pt_inode_put(fs, p);
	if (fd < 0) {
		pt_reply_err(req, fd);
		return;
	}
	reply_created(req, fs, fd, fi, NULL, NULL);
}

static struct pt_handle *file_handle(fuse_req_t req, struct pt_fs *fs,
				     fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_handle *h = fi ? pt_handle_get(fs, fi->fh, ino, false) : NULL;

	if (!h)
		fuse_reply_err(req, pt_miss_err());
	return h;
}

/* READ: zero-copy reply from the handle's fd at off. */
void pt_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct pt_handle *h;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	h = file_handle(req, fs, ino, fi);
	if (!h)
		return;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = h->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	pt_handle_put(fs, h);
}

/* Gather iovecs from a memory bufvec; returns the count (<= max). */
static unsigned bufvec_iov(const struct fuse_bufvec *bv, size_t idx,
			   size_t off, struct iovec *iov, unsigned max,
			   size_t *total, bool *bad)
{
	unsigned n = 0;

	*total = 0;
	for (size_t i = idx; i < bv->count && n < max; i++, off = 0) {
		const struct fuse_buf *b = &bv->buf[i];

		if (b->flags & FUSE_BUF_IS_FD) {
			*bad = true;
			break;
		}
		if (off >= b->size)
			continue;
		iov[n].iov_base = (char *)b->mem + off;
		iov[n].iov_len = b->size - off;
		*total += iov[n].iov_len;
		n++;
	}
	return n;
}

/* WRITE from guest memory: pwritev() straight from the bufvec. */
void pt_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		     off_t off, struct fuse_file_info *fi)
{
	static __thread struct iovec iov[IOV_MAX];
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h;
	struct pt_cred cred;
	size_t idx = bufv->idx, boff = bufv->off, done = 0;
	bool bad = false, nofsetid = false;
	ssize_t r = 0;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	h = file_handle(req, fs, ino, fi);
	if (!h)
		return;
	/* A renamed security.capability goes away on write, as the real
	 * one would (one syscall per write, only with such a map). */
	r = pt_xattr_clear_caps(fs, h->inode, h->fd);
	if (r < 0) {
		pt_handle_put(fs, h);
		pt_reply_err(req, (int)r);
		return;
	}
	/* FUSE_WRITE_KILL_SUIDGID: the guest sets it on direct writes of a
	 * process without CAP_FSETID whether HANDLE_KILLPRIV_V2 was
	 * negotiated or not (cache=never has no other way to clear the
	 * bits).  The write then runs with the caller's ids and without
	 * CAP_FSETID, so the host kernel clears what it would for that
	 * writer: set-user-ID, and set-group-ID when group-executable or
	 * when the writer is not in the file's group.  (An id the caller
	 * may not use: the daemon's ids, still without CAP_FSETID.) */
	cred.switched = false;
	if (fuse_req_kill_priv(req)) {
		if (pt_cred_enter(fs, req, &cred))
			cred.switched = false;
		r = pt_cap_drop_fsetid(&nofsetid);
		if (r < 0) {
			pt_cred_leave(fs, &cred);
			pt_handle_put(fs, h);
			pt_reply_err(req, (int)r);
			return;
		}
	}
	/* Usually one pwritev; more only for bufvecs beyond IOV_MAX. */
	for (;;) {
		size_t total;
		unsigned n = bufvec_iov(bufv, idx, boff, iov, IOV_MAX, &total,
					&bad);

		if (!n || bad)
			break;
		r = pwritev(h->fd, iov, (int)n, off + (off_t)done);
		if (r < 0) {
			r = -errno;
			break;
		}
		done += (size_t)r;
		if ((size_t)r < total)
			break;
		/* Advance past the n buffers written. */
		for (unsigned k = 0; k < n; idx++) {
			if (boff < bufv->buf[idx].size)
				k++;
			boff = 0;
		}
	}
	pt_cap_restore_fsetid(nofsetid);
	pt_cred_leave(fs, &cred);
	pt_handle_put(fs, h);
	if (done) {
		fuse_reply_write(req, done);
	} else if (bad) {
		fuse_reply_err(req, EINVAL);
	} else if (r < 0) {
		pt_reply_err(req, (int)r);
	} else {
		fuse_reply_write(req, 0);
	}
}

/* FLUSH: close a duplicate, as close(2) in the guest would. */
void pt_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h = file_handle(req, fs, ino, fi);
	int fd, r;

	if (!h)
		return;
	/* The guest closed a descriptor: its POSIX locks on the file go
	 * (not only when negotiated now: a migrated session may hold
	 * locks the INIT of this process did not see). */
	pt_lock_owner_flush(fs, h->inode, fi->lock_owner);
	fd = dup(h->fd);
	r = fd < 0 ? -errno : (close(fd) < 0 ? -errno : 0);
	pt_handle_put(fs, h);
	pt_reply_err(req, r);
}

/* RELEASE a file handle. */
void pt_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h;

	/* FLOCK_UNLOCK: drop the flock now, not when the last op using
	 * the handle lets go of its fd. */
	if (fi->flock_release && (h = pt_handle_get_any(fs, fi->fh, ino))) {
		if (flock(h->fd, LOCK_UN) < 0)
			LOG_DBG("passthrough: release: flock unlock: %m");
		pt_handle_put(fs, h);
	}
	pt_reply_err(req, pt_handle_release(fs, fi->fh, ino));
}

/* FSYNC / FDATASYNC a file handle. */
void pt_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h = file_handle(req, fs, ino, fi);
	int r;

	if (!h)
		return;
	r = (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	pt_reply_err(req, r);
}

/* FALLOCATE (all modes the host supports). */
void pt_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		     off_t length, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h;
	int r;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	h = file_handle(req, fs, ino, fi);
	if (!h)
		return;
	r = fallocate(h->fd, mode, offset, length) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	pt_reply_err(req, r);
}

/* LSEEK: SEEK_DATA / SEEK_HOLE (and plain whences) on the handle. */
void pt_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h;
	off_t r;

	if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END &&
	    whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	h = file_handle(req, fs, ino, fi);
	if (!h)
		return;
	r = lseek(h->fd, off, whence);
	if (r < 0)
		r = -errno;
	pt_handle_put(fs, h);
	if (r < 0)
		pt_reply_err(req, (int)r);
	else
		fuse_reply_lseek(req, r);
}

/* COPY_FILE_RANGE between two handles, on the host. */
void pt_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			   off_t off_out, struct fuse_file_info *fi_out,
			   size_t len, int flags)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *hi, *ho;
	loff_t oi = off_in, oo = off_out;
	ssize_t r;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (off_in < 0 || off_out < 0 || flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	hi = file_handle(req, fs, ino_in, fi_in);
	if (!hi)
		return;
	ho = fi_out ? pt_handle_get(fs, fi_out->fh, ino_out, false) : NULL;
	if (!ho) {
		pt_handle_put(fs, hi);
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	r = copy_file_range(hi->fd, &oi, ho->fd, &oo, len, 0);
	if (r < 0)
		r = -errno;
	pt_handle_put(fs, hi);
	pt_handle_put(fs, ho);
	if (r < 0)
		pt_reply_err(req, (int)r);
	else
		fuse_reply_write(req, (size_t)r);
}

/* SYNCFS: sync the host file system that holds ino. */
void pt_op_syncfs(fuse_req_t req, fuse_ino_t ino)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *in = pt_inode_get(fs, ino);
	int fd, r;

	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	/* syncfs() refuses O_PATH fds: open the inode, or the root when it
	 * is not something we may open. */
	if (!S_ISDIR(in->ftype) && !S_ISREG(in->ftype)) {
		pt_inode_put(fs, in);
		in = pt_inode_get(fs, FUSE_ROOT_ID);
	}
	fd = pt_inode_open(fs, in, S_ISDIR(in->ftype) ?
			   O_RDONLY | O_DIRECTORY | O_NONBLOCK :
			   O_RDONLY | O_NONBLOCK);
	pt_inode_put(fs, in);
	if (fd < 0) {
		pt_reply_err(req, fd);
		return;
	}
	r = syncfs(fd) < 0 ? -errno : 0;
	close(fd);
	pt_reply_err(req, r);
}
