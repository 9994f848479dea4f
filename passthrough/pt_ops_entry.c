/*
 * pt_ops_entry.c - ops on directory entries: LOOKUP, FORGET,
 * BATCH_FORGET, MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME(2).
 *
 * Every op that creates or removes a name runs with the caller's
 * credentials (pt_cred.c).  Every entry reply takes one lookup count
 * before replying, undone if the reply could not be sent.
 *
 * Syscalls: openat, statx, mknodat, mkdirat, symlinkat, linkat, unlinkat,
 * renameat2, close.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

/* Reply with an entry from pt_do_lookup(); undo its count on failure. */
static void reply_entry(fuse_req_t req, struct pt_fs *fs,
			const struct fuse_entry_param *e)
{
	if (fuse_reply_entry(req, e))
		pt_entry_undo(fs, e);
}

/* LOOKUP name in parent. */
void pt_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct fuse_entry_param e;
	struct pt_inode *p = pt_inode_get(fs, parent), *in;
	int r;

	if (!p) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	r = pt_do_lookup(fs, p, name, &e, &in, PT_LOOKUP_PROBE);
	if (!r) {
		fuse_req_set_attr_flags(req, pt_attr_flags(fs, p, in));
		pt_inode_put(fs, in);
	}
	pt_inode_put(fs, p);
	if (r)
		pt_reply_err(req, r);
	else
		reply_entry(req, fs, &e);
}

/* FORGET: drop nlookup counts of ino. */
void pt_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pt_inode_forget(pt_req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

/* BATCH_FORGET. */
void pt_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets)
{
	struct pt_fs *fs = pt_req_fs(req);

	for (size_t i = 0; i < count; i++)
		pt_inode_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Store the request's security context on the node just created as
 * name in pfd; undo the creation if that fails.  0 or negative errno. */
static int new_node_secctx(struct pt_fs *fs, fuse_req_t req, int pfd,
			   const char *name, bool is_dir)
{
	int fd, r;

	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
	} else {
		r = pt_newnode_secctx(fs, req, fd, true);
		close(fd);
	}
	if (r)
		unlinkat(pfd, name, is_dir ? AT_REMOVEDIR : 0);
	return r;
}

/*
 * The checks before a new or removed name: a read-only share (EROFS) and
 * the name itself.  Replies to req and returns false when one fails.
 */
static bool name_writable(fuse_req_t req, struct pt_fs *fs, const char *name)
{
	int r;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return false;
	}
	r = pt_check_name(name, false);
	if (r) {
		pt_reply_err(req, r);
		return false;
	}
	return true;
}

/*
 * name_writable(), then the parent inode (with a reference the caller
 * puts).  Replies to req and returns NULL when a check fails or the
 * parent is unknown.
 */
static struct pt_inode *name_parent_get(fuse_req_t req, struct pt_fs *fs,
					fuse_ino_t parent, const char *name)
{
	struct pt_inode *p;

	if (!name_writable(req, fs, name))
		return NULL;
	p = pt_inode_get(fs, parent);
	if (!p)
		fuse_reply_err(req, pt_miss_err());
	return p;
}

/*
 * Common part of the ops creating a name: checks, credentials, the
 * syscall (by mode type: dir, symlink or mknod), the security context,
 * then a lookup and the entry reply.
 */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *target)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct fuse_entry_param e;
	struct pt_inode *p;
	struct pt_cred cred;
	int r, pfd;

	p = name_parent_get(req, fs, parent, name);
	if (!p)
		return;
	pfd = pt_inode_fd_get(fs, p);
	if (!target)
		mode &= ~pt_newnode_umask(fs, req, p);
	r = pfd < 0 ? pfd : pt_cred_enter(fs, req, &cred);
	if (!r) {
		if (target)
			r = symlinkat(target, pfd, name);
		else if (S_ISDIR(mode))
			r = mkdirat(pfd, name, mode & 07777);
		else
			r = mknodat(pfd, name, mode, rdev);
		r = r < 0 ? -errno : 0;
		pt_cred_leave(fs, &cred);
	}
	if (!r)
		r = new_node_secctx(fs, req, pfd, name, S_ISDIR(mode));
	pt_inode_fd_put(fs, p, pfd);
	if (!r)
		r = pt_do_lookup(fs, p, name, &e, NULL, PT_LOOKUP_NEW);
	pt_inode_put(fs, p);
	if (r)
		pt_reply_err(req, r);
	else
		reply_entry(req, fs, &e);
}

/* MKNOD (regular files, FIFOs, sockets, devices). */
void pt_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev)
{
	if (S_ISDIR(mode) || S_ISLNK(mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	make_node(req, parent, name, mode, rdev, NULL);
}

/* MKDIR. */
void pt_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode)
{
	make_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

/* SYMLINK name -> link in parent. */
void pt_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name)
{
	if (!link[0]) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

/* LINK: a new name newparent/newname for ino. */
void pt_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct fuse_entry_param e;
	struct pt_inode *in, *np;
	struct pt_cred cred;
	char fdn[24];
	int r, ifd, nfd;

	if (!name_writable(req, fs, newname))
		return;
	in = pt_inode_get(fs, ino);
	np = pt_inode_get(fs, newparent);
	if (!in || !np) {
		r = -pt_miss_err();
		goto out;
	}
	/* linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the
	 * /proc/self/fd magic link gives the same without it. */
	ifd = pt_inode_fd_get(fs, in);
	nfd = pt_inode_fd_get(fs, np);
	pt_fdname(ifd, fdn, sizeof(fdn));
	r = ifd < 0 ? ifd : nfd < 0 ? nfd : pt_cred_enter(fs, req, &cred);
	if (!r) {
		r = linkat(fs->proc_self_fd, fdn, nfd, newname,
			   AT_SYMLINK_FOLLOW);
		r = r < 0 ? -errno : 0;
		pt_cred_leave(fs, &cred);
	}
	pt_inode_fd_put(fs, in, ifd);
	pt_inode_fd_put(fs, np, nfd);
	if (!r)
		r = pt_do_lookup(fs, np, newname, &e, NULL,
				 PT_LOOKUP_PROBE);
out:
	if (in)
		pt_inode_put(fs, in);
	if (np)
		pt_inode_put(fs, np);
	if (r)
		pt_reply_err(req, r);
	else
		reply_entry(req, fs, &e);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name,
			int flags)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *p;
	struct pt_cred cred;
	int r, pfd;

	p = name_parent_get(req, fs, parent, name);
	if (!p)
		return;
	pfd = pt_inode_fd_get(fs, p);
	r = pfd < 0 ? pfd : pt_cred_enter(fs, req, &cred);
	if (!r) {
		r = unlinkat(pfd, name, flags) < 0 ? -errno : 0;
		pt_cred_leave(fs, &cred);
	}
	pt_inode_fd_put(fs, p, pfd);
	if (!r && atomic_load(&fs->mig_tracking))
		pt_track_remove(fs, p, name);
	pt_inode_put(fs, p);
	pt_reply_err(req, r);
}

/* UNLINK. */
void pt_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

/* RMDIR. */
void pt_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, AT_REMOVEDIR);
}

/* RENAME / RENAME2 (flags: RENAME_NOREPLACE, EXCHANGE, WHITEOUT). */
void pt_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname,
		  unsigned int flags)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *p, *np;
	struct pt_cred cred;
	int r;

	if (fs->cfg.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = pt_check_name(name, false);
	if (!r)
		r = pt_check_name(newname, false);
	if (r) {
		pt_reply_err(req, r);
		return;
	}
	p = pt_inode_get(fs, parent);
	np = pt_inode_get(fs, newparent);
	if (!p || !np) {
		r = -pt_miss_err();
	} else {
		int pfd = pt_inode_fd_get(fs, p);
		int nfd = pt_inode_fd_get(fs, np);

		r = pfd < 0 ? pfd : nfd < 0 ? nfd :
		    pt_cred_enter(fs, req, &cred);
		if (!r) {
			r = renameat2(pfd, name, nfd, newname, flags) < 0 ?
			    -errno : 0;
			pt_cred_leave(fs, &cred);
		}
		pt_inode_fd_put(fs, p, pfd);
		pt_inode_fd_put(fs, np, nfd);
		if (!r && atomic_load(&fs->mig_tracking))
			pt_track_rename(fs, p, name, np, newname, flags);
	}
	if (p)
		pt_inode_put(fs, p);
	if (np)
		pt_inode_put(fs, np);
	pt_reply_err(req, r);
}
