/*
 * pt_ops_ioctl.c - IOCTL: the inode-flag ioctls only (FS_IOC_GETFLAGS,
 * FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR), on the handle's
 * fd; everything else is ENOTTY.  Setting runs with the caller's
 * credentials (owner or CAP_FOWNER, CAP_LINUX_IMMUTABLE for i/a flags).
 *
 * Syscalls: ioctl (the four commands above).
 */
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include "pt_internal.h"
#include "log.h"

/* IOCTL on an open file or directory. */
void pt_op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		 struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		 size_t in_bufsz, size_t out_bufsz)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h;
	struct pt_cred cred;
	struct fsxattr fsx;
	bool set;
	int iflags = 0, r;

	if (flags & FUSE_IOCTL_COMPAT) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	switch (cmd) {
	case FS_IOC_GETFLAGS:
		set = false;
		if (out_bufsz < sizeof(int)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		break;
	case FS_IOC_FSGETXATTR:
		set = false;
		if (out_bufsz < sizeof(fsx)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		break;
	case FS_IOC_SETFLAGS:
		set = true;
		if (in_bufsz < sizeof(int)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		memcpy(&iflags, in_buf, sizeof(int));
		break;
	case FS_IOC_FSSETXATTR:
		set = true;
		if (in_bufsz < sizeof(fsx)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		memcpy(&fsx, in_buf, sizeof(fsx));
		break;
	default:
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (set && fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	h = fi ? pt_handle_get_any(fs, fi->fh, ino) : NULL;
	if (!h) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	r = set ? pt_cred_enter(fs, req, &cred) : 0;
	if (!r) {
		switch (cmd) {
		case FS_IOC_GETFLAGS:
		case FS_IOC_SETFLAGS:
			r = ioctl(h->fd, cmd, &iflags);
			break;
		default:
			r = ioctl(h->fd, cmd, &fsx);
			break;
		}
		r = r < 0 ? -errno : 0;
		if (set)
			pt_cred_leave(fs, &cred);
	}
	pt_handle_put(fs, h);
	if (r)
		pt_reply_err(req, r);
	else if (cmd == FS_IOC_GETFLAGS)
		fuse_reply_ioctl(req, 0, &iflags, sizeof(iflags));
	else if (cmd == FS_IOC_FSGETXATTR)
		fuse_reply_ioctl(req, 0, &fsx, sizeof(fsx));
	else
		fuse_reply_ioctl(req, 0, NULL, 0);
}
