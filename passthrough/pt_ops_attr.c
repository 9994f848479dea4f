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
 * Two SETATTRs come from the guest kernel rather than from a syscall of
 * the caller, and a local file system would not refuse them:
 *
 * - Killpriv (without HANDLE_KILLPRIV_V2): after a write or truncate by a
 *   process without CAP_FSETID, the guest clears set-user-ID (and
 *   set-group-ID when group-executable) itself, with a SETATTR of the
 *   mode it just read minus those bits, in the writer's name.  A writer
 *   that does not own the file may not chmod it on the host (EPERM).
 *   When the new mode is exactly the current one minus the bits the
 *   host kernel clears on chown(-1, -1), and the caller may write the
 *   file (a handle open for writing, or faccessat(W_OK) as the caller),
 *   the bits are cleared with fchownat(-1, -1) as the daemon: the host
 *   kernel computes the new mode from the inode's under its lock, so
 *   nothing but S_ISUID / S_ISGID (and security.capability, as a write
 *   would) can go, whatever happens to the mode meanwhile.
 * - Writeback cache: the guest keeps mtime/ctime itself and flushes them
 *   (fuse_flush_times(), truncate) as explicit times in the name of
 *   whoever makes it write the inode back: the writer's close(), but
 *   also an fsync() by a reader or the unlink/rename that moved the
 *   ctime.  Explicit times need ownership; a non-owner gets EPERM
 *   (close() fails, the error reaches syncfs()).  When such a SETATTR
 *   (explicit mtime and ctime, no atime; with FUSE_WRITEBACK_CACHE) is
 *   refused with EPERM, the daemon applies the mtime itself if the
 *   caller may write the file (a handle open for writing, or write
 *   permission), and does nothing if the mtime is the host's already
 *   (the host set its own ctime); otherwise EPERM stays.  The guest
 *   refuses explicit times to non-owners before sending a request, so
 *   only its kernel sends these (docs/security.md).
 *
 * HANDLE_KILLPRIV_V2: FATTR_KILL_SUIDGID drops CAP_FSETID for the
 * truncate only; on chown the guest sets it unconditionally, and the
 * host kernel's chown already clears what it must (S_ISUID always,
 * S_ISGID only when group-executable for a privileged caller).
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

/* Truncate to size; kill: without CAP_FSETID (KILLPRIV_V2), so that the
 * host kernel clears set-user/group-ID as for an unprivileged caller. */
static int do_truncate(struct pt_fs *fs, struct pt_inode *in,
		       struct pt_handle *h, off_t size, bool kill)
{
	bool nofsetid = false;
	int fd, r;

	if (size < 0)
		return -EINVAL;
	if (!h && S_ISDIR(in->ftype))
		return -EISDIR;
	if (!h && !S_ISREG(in->ftype))
		return -EINVAL;
	fd = h ? h->fd : pt_inode_open(fs, in, O_WRONLY);
	if (fd < 0)
		return fd;
	r = kill ? pt_cap_drop_fsetid(&nofsetid) : 0;
	if (!r)
		r = ftruncate(fd, size) < 0 ? -errno : 0;
	pt_cap_restore_fsetid(nofsetid);
	if (!h)
		close(fd);
	return r;
}

/* Set atime/mtime per valid (attr: the explicit values). */
static int do_utimes(struct pt_fs *fs, struct pt_handle *h, const char *fdn,
		     const struct stat *attr, int valid)
{
	struct timespec tv[2];

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
	if ((h ? futimens(h->fd, tv) :
		 utimensat(fs->proc_self_fd, fdn, tv, 0)) < 0)
		return -errno;
	return 0;
}

/* The guest kernel's own time flush (writeback cache): an explicit mtime
 * and ctime, no atime. */
#define TIMES_FLUSH(v)                                                  \
	(((v) & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW |        \
		 FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW |        \
		 FUSE_SET_ATTR_CTIME)) ==                               \
	 (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME))

/* May the caller (the thread runs with its ids) write the file?  A
 * handle open for writing, or write permission on the host (fdn: the
 * inode's name in /proc/self/fd).  0 or -EPERM. */
static int may_write(struct pt_fs *fs, struct pt_handle *h, const char *fdn)
{
	if (h && (h->flags & O_ACCMODE) != O_RDONLY)
		return 0;
	if (faccessat(fs->proc_self_fd, fdn, W_OK, AT_EACCESS) < 0)
		return -EPERM;
	return 0;
}

/*
 * A time flush refused to the caller (EPERM: not the owner).  Returns
 * 1 when the daemon may apply it (the caller may write the file, so the
 * times come from writes it could make), 0 when there is nothing to do
 * (the mtime is the host's already: only the ctime moved, e.g. by a
 * rename, and the host moved its own), else -EPERM.
 */
static int times_flush_check(struct pt_fs *fs, struct pt_inode *in,
			     struct pt_handle *h, const char *fdn,
			     const struct stat *attr)
{
	struct stat st;

	if (!pt_inode_stat(fs, in, &st, NULL) &&
	    st.st_mtim.tv_sec == attr->st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == attr->st_mtim.tv_nsec)
		return 0;
	if (!S_ISREG(in->ftype) || may_write(fs, h, fdn))
		return -EPERM;
	return 1;
}

/* Mode, owner, size, times (in that order), as the thread's ids are now
 * (ifd: in's O_PATH fd, borrowed).  kill_size: truncate without
 * CAP_FSETID.  *times_daemon: set when the
 * times are left to be applied with the daemon's ids. */
static int do_setattr(struct pt_fs *fs, struct pt_inode *in,
		      struct pt_handle *h, int ifd, const struct stat *attr,
		      int valid, bool kill_size, bool *times_daemon)
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
		int r = do_truncate(fs, in, h, attr->st_size, kill_size);

		if (r)
			return r;
		/* "mtime now" with a truncate (the guest's ftruncate(),
		 * open(O_TRUNC)): ftruncate() just set mtime and ctime to
		 * now.  Setting mtime alone to now would need ownership. */
		if ((valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW |
			      FUSE_SET_ATTR_MTIME_NOW)) ==
		    FUSE_SET_ATTR_MTIME_NOW)
			valid &= ~(FUSE_SET_ATTR_MTIME |
				   FUSE_SET_ATTR_MTIME_NOW);
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
		int r = do_utimes(fs, h, fdn, attr, valid);

		if (r == -EPERM && TIMES_FLUSH(valid) &&
		    atomic_load(&fs->writeback)) {
			r = times_flush_check(fs, in, h, fdn, attr);
			*times_daemon = r == 1;
			if (r > 0)
				r = 0;
		}
		if (r)
			return r;
	}
	return 0;
}

/*
 * Killpriv SETATTR of a non-owner (see the top of the file): true when
 * valid sets the mode only (times and size may come along), st is a
 * regular file the caller (host uid) neither owns nor is root for, and
 * want is st's mode minus exactly the bits chown(-1, -1) clears (maybe
 * none: another writer was first).
 */
static bool killpriv_mode(const struct stat *st, uid_t caller, int valid,
			  mode_t want)
{
	mode_t cur = st->st_mode & 07777, kill = cur & S_ISUID;

	if (!(valid & FUSE_SET_ATTR_MODE) ||
	    (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		return false;
	if (!S_ISREG(st->st_mode) || caller == 0 || caller == st->st_uid)
		return false;
	if ((cur & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	return (want & 07777) == (cur & ~kill);
}

/* Clear set-user-ID / set-group-ID of in (ifd: its O_PATH fd) as the
 * daemon (want: the mode the guest asked for): the host kernel's chown(-1, -1) does it
 * atomically.  0 or negative errno. */
static int killpriv_clear(struct pt_fs *fs, struct pt_inode *in, int ifd,
			  mode_t want)
{
	struct stat st;
	int r;

	if (fchownat(ifd, "", (uid_t)-1, (gid_t)-1,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* A kernel whose chown(-1, -1) changed nothing: fail closed rather
	 * than chmod from a mode that may be stale. */
	r = pt_inode_stat(fs, in, &st, NULL);
	if (!r && (st.st_mode & (S_ISUID | S_ISGID) & ~want)) {
		LOG_WARN("passthrough: chown(-1, -1) left set-user/group-ID "
			 "set");
		r = -EPERM;
	}
	return r;
}

/* SETATTR: mode, owner, size, times (in that order), then the new attrs
 * (killpriv of a non-owner: after the rest, as the daemon). */
void pt_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int valid, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h = NULL;
	struct pt_inode *in;
	struct pt_cred cred;
	struct stat st;
	bool killpriv = false, check_write = false, times_daemon = false;
	char fdn[24];
	int r, ifd;

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
	ifd = pt_inode_fd_get(fs, in);
	r = ifd < 0 ? ifd : 0;
	pt_fdname(ifd, fdn, sizeof(fdn));
	/* A renamed security.capability goes on chown and truncate, as
	 * the real one would; with the daemon's credentials. */
	if (!r && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
			    FUSE_SET_ATTR_SIZE)))
		r = pt_xattr_clear_caps(fs, in, h ? h->fd : -1);
	/* A killpriv mode change of a non-owner: checked as the caller,
	 * done as the daemon after the rest. */
	if (!r && (valid & FUSE_SET_ATTR_MODE) && fs->switch_creds) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		uid_t caller = ctx->uid;

		if (!pt_ids_to_host(fs, &caller, NULL) &&
		    !pt_inode_stat(fs, in, &st, NULL) &&
		    killpriv_mode(&st, caller, valid, attr->st_mode)) {
			valid &= ~FUSE_SET_ATTR_MODE;
			killpriv = (st.st_mode & 07777) != (attr->st_mode & 07777);
			check_write = true;
		}
	}
	if (!r)
		r = pt_cred_enter(fs, req, &cred);
	if (!r) {
		/* KILL_SUID/SGID come with HANDLE_KILLPRIV_V2 only. */
		bool kill = (valid & (FUSE_SET_ATTR_KILL_SUID |
				      FUSE_SET_ATTR_KILL_SGID)) &&
			    atomic_load(&fs->killpriv_v2);

		if (check_write)
			r = may_write(fs, h, fdn);
		if (!r)
			r = do_setattr(fs, in, h, ifd, attr, valid, kill,
				       &times_daemon);
		pt_cred_leave(fs, &cred);
	}
	if (!r && times_daemon)
		r = do_utimes(fs, h, fdn, attr, valid);
	if (!r && killpriv)
		r = killpriv_clear(fs, in, ifd, attr->st_mode);
	pt_inode_fd_put(fs, in, ifd);
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
