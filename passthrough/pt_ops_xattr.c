/*
 * pt_ops_xattr.c - GETXATTR, SETXATTR, LISTXATTR, REMOVEXATTR (only with
 * cfg.xattr; ENOSYS otherwise, which the guest remembers).
 *
 * Regular files and directories are opened O_RDONLY with the daemon's
 * credentials and used with f*xattr(); SETXATTR/REMOVEXATTR then switch
 * to the caller's credentials around the f*xattr() call, so the host
 * checks the caller's permission for that name.  Other file types cannot
 * be opened safely (FIFOs, devices) and O_PATH fds do not support
 * f*xattr(): for them the /proc/self/fd/N path is used, which needs /proc
 * at its usual place in the (sandboxed) mount namespace.
 *
 * Names (as the Rust virtiofsd):
 *  - with --xattrmap, guest names are mapped to host names for GET, SET
 *    and REMOVE, and LISTXATTR results are mapped back (pt_xattrmap.c);
 *    GETXATTR turns the map's EPERM into ENODATA, SET/REMOVE keep it;
 *  - unless POSIX_ACL was negotiated, system.posix_acl_access/_default
 *    are refused (ENOTSUP) and hidden: the guest kernel does not enforce
 *    them then, so they must not reach the host;
 *  - LISTXATTR always lists the whole host list into scratch, maps it,
 *    then answers the size probe / checks the guest's size (ERANGE).
 * SETXATTR also removes a renamed security.capability first, and honours
 * FUSE_SETXATTR_ACL_KILL_SGID: after a successful set of the access ACL
 * it clears S_ISGID with the daemon's credentials.
 *
 * Syscalls: openat, close, fgetxattr, fsetxattr, flistxattr,
 * fremovexattr, getxattr, setxattr, listxattr, removexattr, fchmod,
 * fstat.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/limits.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fuse.h>
#include "pt_internal.h"
#include "pt_xattrmap.h"
#include "log.h"

#define ACL_ACCESS "system.posix_acl_access"
#define ACL_DEFAULT "system.posix_acl_default"
#define CAP_NAME "security.capability"

enum xop { X_GET, X_SET, X_LIST, X_REMOVE };

struct xreq {
	enum xop op;
	const char *name;
	void *buf;          /* GET/LIST: output; SET: value */
	size_t size;
	int flags;
	bool kill_sgid;     /* SET: clear S_ISGID after success */
};

static ssize_t xcall_fd(int fd, const struct xreq *x)
{
	switch (x->op) {
	case X_GET:
		return fgetxattr(fd, x->name, x->buf, x->size);
	case X_SET:
		return fsetxattr(fd, x->name, x->buf, x->size, x->flags);
	case X_LIST:
		return flistxattr(fd, x->buf, x->size);
	case X_REMOVE:
	default:
		return fremovexattr(fd, x->name);
	}
}

static ssize_t xcall_path(const char *path, const struct xreq *x)
{
	switch (x->op) {
	case X_GET:
		return getxattr(path, x->name, x->buf, x->size);
	case X_SET:
		return setxattr(path, x->name, x->buf, x->size, x->flags);
	case X_LIST:
		return listxattr(path, x->buf, x->size);
	case X_REMOVE:
	default:
		return removexattr(path, x->name);
	}
}

/* Clear S_ISGID of the regular file or directory open on fd. */
static int clear_sgid(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!(st.st_mode & S_ISGID))
		return 0;
	return fchmod(fd, st.st_mode & 07777 & ~S_ISGID) < 0 ? -errno : 0;
}

/* Run x on inode ino; returns the syscall's result or negative errno. */
static ssize_t do_xattr(fuse_req_t req, struct pt_fs *fs, fuse_ino_t ino,
			const struct xreq *x)
{
	bool as_caller = x->op == X_SET || x->op == X_REMOVE;
	struct pt_inode *in = pt_inode_get(fs, ino);
	struct pt_cred cred;
	ssize_t r;
	int fd = -1;

	if (!in)
		return -pt_miss_err();
	if (S_ISREG(in->ftype) || S_ISDIR(in->ftype)) {
		fd = pt_inode_open(fs, in, O_RDONLY | O_NONBLOCK |
				   (S_ISDIR(in->ftype) ? O_DIRECTORY : 0));
		if (fd < 0) {
			pt_inode_put(fs, in);
			return fd;
		}
	}
	r = 0;
	if (x->op == X_SET)
		r = pt_xattr_clear_caps(fs, in, fd);
	if (!r && as_caller)
		r = pt_cred_enter(fs, req, &cred);
	if (!r) {
		if (fd >= 0) {
			r = xcall_fd(fd, x);
		} else {
			char path[64];
			int pfd = pt_inode_fd_get(fs, in);

			snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
			r = pfd < 0 ? (errno = -pfd, -1) : xcall_path(path, x);
			pt_inode_fd_put(fs, in, pfd);
		}
		if (r < 0)
			r = -errno;
		if (as_caller)
			pt_cred_leave(fs, &cred);
	}
	if (r >= 0 && x->kill_sgid && (S_ISREG(in->ftype) ||
				       S_ISDIR(in->ftype)))
		r = clear_sgid(fd);
	if (fd >= 0)
		close(fd);
	pt_inode_put(fs, in);
	return r;
}

static int check_xname(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return -EINVAL;
	if (n > XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

static bool is_acl_name(const char *name)
{
	return !strcmp(name, ACL_ACCESS) || !strcmp(name, ACL_DEFAULT);
}

/* POSIX ACL xattrs reach the host only when the guest enforces them. */
static bool acls_on(fuse_req_t req)
{
	return fuse_req_session_flags(req) & FUSE_POSIX_ACL;
}

/*
 * Check a guest name and map it to the host name: *host points to name
 * or to buf (XATTR_NAME_MAX + 1 bytes).  0 or negative errno.
 */
static int host_name(fuse_req_t req, struct pt_fs *fs, const char *name,
		     char *buf, const char **host)
{
	int r = check_xname(name);

	if (r)
		return r;
	if (!acls_on(req) && is_acl_name(name))
		return -ENOTSUP;
	*host = name;
	if (!fs->cfg.xattrmap)
		return 0;
	*host = buf;
	return pt_xattrmap_to_host(fs->cfg.xattrmap, name, buf,
				   XATTR_NAME_MAX + 1);
}

static bool keep_listed(const char *guest_name, void *arg)
{
	return *(bool *)arg || !is_acl_name(guest_name);
}

/* Find the host name of security.capability; see pt_internal.h. */
int pt_xattr_setup(struct pt_fs *fs)
{
	char buf[XATTR_NAME_MAX + 1];

	fs->xattr_cap_name = NULL;
	if (!fs->cfg.xattrmap ||
	    pt_xattrmap_to_host(fs->cfg.xattrmap, CAP_NAME, buf,
				sizeof(buf)) ||
	    !strcmp(buf, CAP_NAME))
		return 0;
	fs->xattr_cap_name = strdup(buf);
	if (!fs->xattr_cap_name)
		return -ENOMEM;
	LOG_INFO("passthrough: security.capability is stored as %s; the "
		 "daemon removes it on write, truncate and chown", buf);
	return 0;
}

/* Remove the renamed security.capability; see pt_internal.h. */
int pt_xattr_clear_caps(struct pt_fs *fs, struct pt_inode *in, int fd)
{
	int r, e, ofd = fd;

	if (!fs->xattr_cap_name)
		return 0;
	if (ofd < 0) {
		/* File capabilities exist on regular files only. */
		if (!S_ISREG(in->ftype))
			return 0;
		ofd = pt_inode_open(fs, in, O_RDONLY | O_NONBLOCK);
		if (ofd < 0)
			return ofd;
	}
	r = fremovexattr(ofd, fs->xattr_cap_name);
	e = errno;
	if (ofd != fd)
		close(ofd);
	if (r < 0 && e != ENODATA && e != ENOTSUP)
		return -e;
	return 0;
}

/* Reply a GET or LIST: size probe (size 0) or the data. */
static void xattr_get_list(fuse_req_t req, fuse_ino_t ino, const char *name,
			   size_t size, enum xop op)
{
	struct pt_fs *fs = pt_req_fs(req);
	char hbuf[XATTR_NAME_MAX + 1];
	struct pt_scratch *t;
	struct xreq x = { .op = op };
	ssize_t r;

	if (!fs->cfg.xattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (name) {
		r = host_name(req, fs, name, hbuf, &x.name);
		if (r) {
			pt_reply_err(req, r == -EPERM ? -ENODATA : (int)r);
			return;
		}
	}
	t = pt_scratch();
	if (!t) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (size > PT_XATTR_MAX)
		size = PT_XATTR_MAX;
	/* LIST: the whole host list, mapped and filtered below. */
	x.size = op == X_LIST ? PT_XATTR_MAX : size;
	x.buf = x.size ? t->xattr : NULL;
	r = do_xattr(req, fs, ino, &x);
	if (r >= 0 && op == X_LIST) {
		bool acls = acls_on(req);

		r = (ssize_t)pt_xattrmap_list(fs->cfg.xattrmap, t->xattr,
					      (size_t)r, keep_listed, &acls);
		if (size && (size_t)r > size)
			r = -ERANGE;
	}
	if (r < 0)
		pt_reply_err(req, (int)r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, t->xattr, (size_t)r);
}

/* GETXATTR. */
void pt_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size)
{
	xattr_get_list(req, ino, name, size, X_GET);
}

/* LISTXATTR. */
void pt_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_get_list(req, ino, NULL, size, X_LIST);
}

/* SETXATTR. */
void pt_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags)
{
	struct pt_fs *fs = pt_req_fs(req);
	char hbuf[XATTR_NAME_MAX + 1];
	struct xreq x = { .op = X_SET, .buf = (void *)value,
			  .size = size, .flags = flags };
	ssize_t r;

	if (!fs->cfg.xattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* FUSE_SETXATTR_ACL_KILL_SGID: the guest's kernel decided that
	 * setting this access ACL must clear S_ISGID (we run privileged). */
	x.kill_sgid = acls_on(req) && fuse_req_kill_priv(req) &&
		      !strcmp(name, ACL_ACCESS);
	r = host_name(req, fs, name, hbuf, &x.name);
	if (!r && (size > PT_XATTR_MAX ||
		   (flags & ~(XATTR_CREATE | XATTR_REPLACE))))
		r = -EINVAL;
	if (!r)
		r = do_xattr(req, fs, ino, &x);
	pt_reply_err(req, r < 0 ? (int)r : 0);
}

/* REMOVEXATTR. */
void pt_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct pt_fs *fs = pt_req_fs(req);
	char hbuf[XATTR_NAME_MAX + 1];
	struct xreq x = { .op = X_REMOVE };
	ssize_t r;

	if (!fs->cfg.xattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	r = host_name(req, fs, name, hbuf, &x.name);
	if (!r)
		r = do_xattr(req, fs, ino, &x);
	pt_reply_err(req, r < 0 ? (int)r : 0);
}
