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
 * Syscalls: openat, close, fgetxattr, fsetxattr, flistxattr,
 * fremovexattr, getxattr, setxattr, listxattr, removexattr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/limits.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

enum xop { X_GET, X_SET, X_LIST, X_REMOVE };

struct xreq {
	enum xop op;
	const char *name;
	void *buf;          /* GET/LIST: output; SET: value */
	size_t size;
	int flags;
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
		return -EBADF;
	if (S_ISREG(in->ftype) || S_ISDIR(in->ftype)) {
		fd = pt_inode_open(fs, in, O_RDONLY | O_NONBLOCK |
				   (S_ISDIR(in->ftype) ? O_DIRECTORY : 0));
		if (fd < 0) {
			pt_inode_put(fs, in);
			return fd;
		}
	}
	r = as_caller ? pt_cred_enter(fs, req, &cred) : 0;
	if (!r) {
		if (fd >= 0) {
			r = xcall_fd(fd, x);
		} else {
			char path[64];

			snprintf(path, sizeof(path), "/proc/self/fd/%d",
				 pt_inode_fd(in));
			r = xcall_path(path, x);
		}
		if (r < 0)
			r = -errno;
		if (as_caller)
			pt_cred_leave(fs, &cred);
	}
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

/* Reply a GET or LIST: size probe (size 0) or the data. */
static void xattr_get_list(fuse_req_t req, fuse_ino_t ino, const char *name,
			   size_t size, enum xop op)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_scratch *t;
	struct xreq x = { .op = op, .name = name };
	ssize_t r;

	if (!fs->cfg.xattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (name) {
		r = check_xname(name);
		if (r) {
			pt_reply_err(req, (int)r);
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
	x.buf = size ? t->xattr : NULL;
	x.size = size;
	r = do_xattr(req, fs, ino, &x);
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
	struct xreq x = { .op = X_SET, .name = name, .buf = (void *)value,
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
	r = check_xname(name);
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
	struct xreq x = { .op = X_REMOVE, .name = name };
	ssize_t r;

	if (!fs->cfg.xattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	r = check_xname(name);
	if (!r)
		r = do_xattr(req, fs, ino, &x);
	pt_reply_err(req, r < 0 ? (int)r : 0);
}
