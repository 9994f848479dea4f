/*
 * pt_newnode.c - what a node created by the guest gets besides its name
 * (CREATE, MKNOD, MKDIR, SYMLINK, TMPFILE):
 *
 *  - the umask under FUSE_DONT_MASK (--posix-acl).  The guest then sends
 *    the mode unmasked plus its umask; the daemon's own umask is 0.  As
 *    the host kernel does for a local process, the umask applies unless
 *    the parent directory has a default ACL, in which case the host
 *    kernel derives the permissions from the ACL.  (The Rust daemon gets
 *    the same result by setting a per-thread umask around the syscall.)
 *
 *  - the security context (FUSE_SECURITY_CTX, --security-label): the
 *    first context of the request is stored as an xattr named by the
 *    guest (e.g. security.selinux), mapped through --xattrmap, with the
 *    daemon's credentials, before the entry reply.  The caller undoes
 *    the creation when this fails.
 *
 * Syscalls: openat, close, fstat, fgetxattr, setxattr, fsetxattr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>
#include <linux/fuse.h>
#include <linux/limits.h>
#include "pt_internal.h"
#include "pt_xattrmap.h"
#include "log.h"

/* Bits to clear from a new node's mode; see pt_internal.h. */
mode_t pt_newnode_umask(struct pt_fs *fs, fuse_req_t req,
			struct pt_inode *parent)
{
	mode_t um = fuse_req_ctx(req)->umask & 0777;
	ssize_t n;
	int fd;

	if (!(fuse_req_session_flags(req) & FUSE_DONT_MASK) || !um)
		return 0;
	/* O_PATH fds have no xattrs and /proc may be gone (sandbox):
	 * reopen the directory through the kept /proc/self/fd. */
	fd = pt_inode_open(fs, parent, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
	if (fd < 0)
		return um;  /* the create fails on the parent anyway */
	n = fgetxattr(fd, "system.posix_acl_default", NULL, 0);
	close(fd);
	return n >= 0 ? 0 : um;  /* default ACL: the host applies it */
}

/* Store the request's security context; see pt_internal.h. */
int pt_newnode_secctx(struct pt_fs *fs, fuse_req_t req, int fd, bool o_path)
{
	char hbuf[XATTR_NAME_MAX + 1];
	const char *name, *hname;
	const void *value;
	size_t size, nl;
	int r;

	if (!(fuse_req_session_flags(req) & FUSE_SECURITY_CTX) ||
	    fuse_req_secctx(req, &name, &value, &size))
		return 0;
	/* The session checked the layout; the name is NUL-terminated. */
	nl = strlen(name);
	if (!nl || nl > XATTR_NAME_MAX || size > XATTR_SIZE_MAX)
		return -EINVAL;
	hname = name;
	if (fs->cfg.xattrmap) {
		r = pt_xattrmap_to_host(fs->cfg.xattrmap, name, hbuf,
					sizeof(hbuf));
		if (r)
			return r;
		hname = hbuf;
	}
	if (o_path) {
		char path[64];
		struct stat st;
		int ofd = -1;

		/* Directories, regular files and FIFOs can be reopened
		 * without side effects (/proc may be gone in the sandbox);
		 * symlinks and devices only by their /proc path. */
		if (fstat(fd, &st) == 0 && (S_ISDIR(st.st_mode) ||
					    S_ISREG(st.st_mode) ||
					    S_ISFIFO(st.st_mode))) {
			snprintf(path, sizeof(path), "%d", fd);
			ofd = openat(fs->proc_self_fd, path, O_RDONLY |
				     O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		}
		if (ofd >= 0) {
			r = fsetxattr(ofd, hname, value, size, 0);
			close(ofd);
		} else {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			r = setxattr(path, hname, value, size, 0);
		}
	} else {
		r = fsetxattr(fd, hname, value, size, 0);
	}
	if (r < 0) {
		r = -errno;
		LOG_DBG("passthrough: cannot store security context %s: %s",
			hname, strerror(-r));
		return r;
	}
	return 0;
}
