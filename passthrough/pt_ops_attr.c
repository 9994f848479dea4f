/*
 * pt_ops_attr.c - attribute ops: GETATTR, SETATTR, READLINK, STATFS,
 * ACCESS.
 *
 * SETATTR runs with the caller's credentials so that the host kernel
 * decides chmod/chown/truncate/utimes permissions as for that user.
 * Without a handle it works on the O_PATH fd: fchownat(AT_EMPTY_PATH),
 * fchmodat/utimensat through /proc/self/fd/N, truncate through a
 * temporary O_WRONLY reopen.
 *
 * Syscalls: statx, fchmod, fchmodat, fchownat, ftruncate, openat,
 * utimensat, readlinkat, fstatfs, faccessat2, close.
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

/* GETATTR. */
void pt_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *in = pt_inode_get(fs, ino);
	struct stat st;
	int r;

	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	r = pt_inode_stat(fs, in, &st, NULL);
	pt_inode_put(fs, in);
	if (r) {
		pt_reply_err(req, r);
		return;
	}
	pt_attr_to_guest(fs, &st);
	fuse_reply_attr(req, &st, fs->timeout);
}

static int do_truncate(struct pt_fs *fs, struct pt_inode *in,
		       struct pt_handle *h, off_t size)
{
	int fd, r;

	if (size < 0)
		return -EINVAL;
	if (h)
		return ftruncate(h->fd, size) < 0 ? -errno : 0;
	if (S_ISDIR(in->ftype))
		return -EISDIR;
	if (!S_ISREG(in->ftype))
		return -EINVAL;
	fd = pt_inode_open(fs, in, O_WRONLY);
	if (fd < 0)
		return fd;
	r = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int setattr_fd(struct pt_fs *fs, struct pt_inode *in,
		      struct pt_handle *h, int ifd, const struct stat *attr,
		      int valid)
{
	char fdn[24];

	pt_fdname(ifd, fdn, sizeof(fdn));
	if (valid & FUSE_SET_ATTR_MODE) {
		mode_t m = attr->st_mode & 07777;
		int r = h ? fchmod(h->fd, m) :
			    fchmodat(fs->proc_self_fd, fdn, m, 0);

		if (r < 0)
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t u = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t g = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		int r = pt_ids_to_host(fs, &u, &g);

		if (r)
			return r;
		if (fchownat(h ? h->fd : ifd, "", u, g,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		int r = do_truncate(fs, in, h, attr->st_size);

		if (r)
			return r;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
		struct timespec tv[2];
		int r;

		tv[0].tv_sec = 0;
		tv[1].tv_sec = 0;
		tv[0].tv_nsec = UTIME_OMIT;
		tv[1].tv_nsec = UTIME_OMIT;
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if ((tv[0].tv_nsec != UTIME_NOW && tv[0].tv_nsec != UTIME_OMIT &&
		     (tv[0].tv_nsec < 0 || tv[0].tv_nsec > 999999999)) ||
		    (tv[1].tv_nsec != UTIME_NOW && tv[1].tv_nsec != UTIME_OMIT &&
		     (tv[1].tv_nsec < 0 || tv[1].tv_nsec > 999999999)))
			return -EINVAL;
		r = h ? futimens(h->fd, tv) :
			utimensat(fs->proc_self_fd, fdn, tv, 0);
		if (r < 0)
			return -errno;
	}
	return 0;
}

/* SETATTR's changes with in's O_PATH fd borrowed (ifd). */
static int do_setattr(struct pt_fs *fs, struct pt_inode *in,
		      struct pt_handle *h, const struct stat *attr, int valid)
{
	int ifd = pt_inode_fd_get(fs, in), r;

	if (ifd < 0)
		return ifd;
	r = setattr_fd(fs, in, h, ifd, attr, valid);
	pt_inode_fd_put(fs, in, ifd);
	return r;
}

/* SETATTR: mode, owner, size, times (in that order), then the new attrs. */
void pt_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int valid, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h = NULL;
	struct pt_inode *in;
	struct pt_cred cred;
	struct stat st;
	int r;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	in = pt_inode_get(fs, ino);
	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	if (fi) {
		h = pt_handle_get(fs, fi->fh, ino, false);
		if (!h) {
			pt_inode_put(fs, in);
			fuse_reply_err(req, pt_miss_err());
			return;
		}
	}
	/* A renamed security.capability goes on chown and truncate, as
	 * the real one would; with the daemon's credentials. */
	r = 0;
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
		     FUSE_SET_ATTR_SIZE))
		r = pt_xattr_clear_caps(fs, in, h ? h->fd : -1);
	if (!r)
		r = pt_cred_enter(fs, req, &cred);
	if (!r) {
		bool nofsetid = false;

		/* KILL_SUID/SGID come with HANDLE_KILLPRIV_V2 only. */
		if ((valid & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID)) &&
		    atomic_load(&fs->killpriv_v2))
			r = pt_cap_drop_fsetid(&nofsetid);
		if (!r)
			r = do_setattr(fs, in, h, attr, valid);
		pt_cap_restore_fsetid(nofsetid);
		pt_cred_leave(fs, &cred);
	}
	if (!r)
		r = pt_inode_stat(fs, in, &st, NULL);
	if (!r)
		pt_attr_to_guest(fs, &st);
	if (h)
		pt_handle_put(fs, h);
	pt_inode_put(fs, in);
	if (r)
		pt_reply_err(req, r);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

/* READLINK. */
void pt_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *in = pt_inode_get(fs, ino);
	char buf[PATH_MAX + 1];
	ssize_t n;
	int fd;

	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	if (!S_ISLNK(in->ftype)) {
		pt_inode_put(fs, in);
		fuse_reply_err(req, EINVAL);
		return;
	}
	fd = pt_inode_fd_get(fs, in);
	n = fd < 0 ? fd : readlinkat(fd, "", buf, sizeof(buf));
	pt_inode_fd_put(fs, in, fd);
	if (n < 0 && fd >= 0)
		n = -errno;
	else if ((size_t)n >= sizeof(buf))
		n = -ENAMETOOLONG;
	pt_inode_put(fs, in);
	if (n < 0) {
		pt_reply_err(req, (int)n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* STATFS of the file system holding ino. */
void pt_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *in = pt_inode_get(fs, ino);
	struct statvfs sv;
	int r, fd;

	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	fd = pt_inode_fd_get(fs, in);
	r = fd < 0 ? fd : fstatvfs(fd, &sv) < 0 ? -errno : 0;
	pt_inode_fd_put(fs, in, fd);
	pt_inode_put(fs, in);
	if (r)
		pt_reply_err(req, r);
	else
		fuse_reply_statfs(req, &sv);
}

/* ACCESS: faccessat as the caller, effective ids (AT_EACCESS). */
void pt_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *in;
	struct pt_cred cred;
	char fdn[24];
	int r, fd;

	if (mask & ~(R_OK | W_OK | X_OK)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (fs->cfg.readonly && (mask & W_OK)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	in = pt_inode_get(fs, ino);
	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	fd = pt_inode_fd_get(fs, in);
	pt_fdname(fd, fdn, sizeof(fdn));
	r = fd < 0 ? fd : pt_cred_enter(fs, req, &cred);
	if (!r) {
		/* Only euid/fsuid are switched (the real uid stays 0), so the
		 * check must use the effective ids. */
		r = faccessat(fs->proc_self_fd, fdn, mask, AT_EACCESS) < 0 ?
			    -errno : 0;
		pt_cred_leave(fs, &cred);
	}
	pt_inode_fd_put(fs, in, fd);
	pt_inode_put(fs, in);
	pt_reply_err(req, r);
}
