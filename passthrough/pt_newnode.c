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
 * Syscalls: getxattr, setxattr, fsetxattr.
 */
#include <stdio.h>
#include <string.h>
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
	char path[64];

	(void)fs;
	if (!(fuse_req_session_flags(req) & FUSE_DONT_MASK) || !um)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pt_inode_fd(parent));
	if (getxattr(path, "system.posix_acl_default", NULL, 0) >= 0)
		return 0;   /* the host applies the parent's default ACL */
	return um;
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

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		r = setxattr(path, hname, value, size, 0);
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
