/*
 * pt_fd.c - reaching host files: stat, lookup of a name, reopening an
 * inode for I/O, open-flag and cache policy.
 *
 * Inodes are held by O_PATH|O_NOFOLLOW fds or by file handles
 * (pt_fhandle.c); either way an op borrows an O_PATH fd of the inode with
 * pt_inode_fd_get() and gives it back.  Opening one for I/O goes
 * through fs->proc_self_fd (an fd of /proc/self/fd kept from start, so the
 * daemon keeps working when /proc is no longer visible): the magic link
 * reopens exactly the inode, whatever its current name, and never follows
 * a symlink (symlinks and special files are refused before that).
 *
 * Syscalls: openat, statx, close.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <linux/fuse.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

/* Write fd's decimal name into buf. */
void pt_fdname(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "%d", fd);
}

/* statx of name in dirfd (not following a symlink; "" = dirfd itself)
 * into st, mount id into *mnt_id (may be NULL).  0 or negative errno. */
int pt_stat_at(int dirfd, const char *name, struct stat *st,
	       uint64_t *mnt_id)
{
	struct statx stx;

	if (statx(dirfd, name, (name[0] ? 0 : AT_EMPTY_PATH) |
		  AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		  STATX_BASIC_STATS | STATX_MNT_ID, &stx) < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	st->st_ino = stx.stx_ino;
	st->st_mode = stx.stx_mode;
	st->st_nlink = stx.stx_nlink;
	st->st_uid = stx.stx_uid;
	st->st_gid = stx.stx_gid;
	st->st_rdev = makedev(stx.stx_rdev_major, stx.stx_rdev_minor);
	st->st_size = (off_t)stx.stx_size;
	st->st_blksize = stx.stx_blksize;
	st->st_blocks = (blkcnt_t)stx.stx_blocks;
	st->st_atim.tv_sec = stx.stx_atime.tv_sec;
	st->st_atim.tv_nsec = stx.stx_atime.tv_nsec;
	st->st_mtim.tv_sec = stx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = stx.stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = stx.stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = stx.stx_ctime.tv_nsec;
	if (mnt_id)
		*mnt_id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
	return 0;
}

/* statx of fd into st, mount id into *mnt_id (may be NULL). 0 or errno. */
int pt_stat_fd(int fd, struct stat *st, uint64_t *mnt_id)
{
	return pt_stat_at(fd, "", st, mnt_id);
}

/* statx of an inode. 0 or negative errno. */
int pt_inode_stat(struct pt_fs *fs, struct pt_inode *in, struct stat *st,
		  uint64_t *mnt_id)
{
	int fd = pt_inode_fd_get(fs, in), r;

	if (fd < 0)
		return fd;
	r = pt_stat_fd(fd, st, mnt_id);
	pt_inode_fd_put(fs, in, fd);
	return r;
}

/* Open inode in for I/O with host flags; fd or negative errno. */
int pt_inode_open(struct pt_fs *fs, struct pt_inode *in, int flags)
{
	char name[24];
	int fd, pfd;

	if (S_ISLNK(in->ftype))
		return -ELOOP;
	if (!S_ISREG(in->ftype) && !S_ISDIR(in->ftype))
		/* FIFOs, devices and sockets are opened by the guest
		 * kernel itself; never open them on the host. */
		return -EOPNOTSUPP;
	pfd = pt_inode_fd_get(fs, in);
	if (pfd < 0)
		return pfd;
	pt_fdname(pfd, name, sizeof(name));
	fd = openat(fs->proc_self_fd, name,
		    (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL)) | O_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && pt_fh_shrink(fs))
		fd = openat(fs->proc_self_fd, name,
			    (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL)) |
			    O_CLOEXEC);
	fd = fd < 0 ? -errno : fd;
	pt_inode_fd_put(fs, in, pfd);
	return fd;
}

/* Validate one path component from the guest. */
int pt_check_name(const char *name, bool dots_ok)
{
	if (!name[0] || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (!dots_ok && name[0] == '.' &&
	    (!name[1] || (name[1] == '.' && !name[2])))
		return -EINVAL;
	return 0;
}

/*
 * ".." of a directory the host moved out of the shared dir would lead
 * outside (the namespace sandbox's root stops it, --sandbox=none and
 * chroot do not: a chroot is escaped by ".." from a directory outside
 * it).  RESOLVE_BENEATH cannot help (it refuses any ".." above the
 * starting fd), so the result is checked instead: walking up from it by
 * "..", the shared dir's root must come before the file system's root.
 * The walk costs one openat+statx per level, only on ".." lookups (rare:
 * the guest kernel resolves ".." from its own dentries).  Returns 0, or
 * -ENOENT when the directory is outside (the guest sees its parent
 * vanish, as for a directory removed under it).
 */
#define PT_MAX_DEPTH 4096

static int pt_check_beneath(struct pt_fs *fs, int fd, const struct stat *st)
{
	struct stat cur = *st, up;
	int dfd = -1, r = -ENOENT;

	for (int i = 0; i < PT_MAX_DEPTH; i++) {
		int nfd;

		if ((uint64_t)cur.st_dev == fs->root->key.dev &&
		    (uint64_t)cur.st_ino == fs->root->key.ino) {
			r = 0;
			break;
		}
		nfd = openat(dfd >= 0 ? dfd : fd, "..",
			     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			r = -errno;
			break;
		}
		if (pt_stat_fd(nfd, &up, NULL) < 0 ||
		    (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino)) {
			/* The top of the host's tree: not beneath. */
			close(nfd);
			break;
		}
		if (dfd >= 0)
			close(dfd);
		dfd = nfd;
		cur = up;
	}
	if (dfd >= 0)
		close(dfd);
	if (r == -ENOENT)
		LOG_WARN("passthrough: \"..\" of a directory outside the "
			 "shared dir refused");
	return r;
}

/*
 * The probe of PT_LOOKUP_PROBE: statx name in pfd and, when the table
 * holds that file, take it.  The identity comes from the statx of the
 * name, mount id included, so a mount point is found as its mounted root
 * (as an O_PATH open would); the inode's own fd or handle is the file
 * itself.  1 with *inp (referenced) and *st set, 0 when the table has no
 * such inode (the caller opens the name), negative errno when the name
 * does not stat.
 */
static int lookup_probe(struct pt_fs *fs, int pfd, const char *name,
			struct stat *st, struct pt_inode **inp)
{
	uint64_t mnt_id;
	int r = pt_stat_at(pfd, name, st, &mnt_id);

	if (r)
		return r;
	*inp = pt_inode_find_key(fs, (uint64_t)st->st_dev,
				 (uint64_t)st->st_ino, mnt_id);
	return *inp ? 1 : 0;
}

/* Open name in pfd (O_PATH|O_NOFOLLOW), statx it and find or create its
 * inode.  0 with *inp (referenced) and *st set, or negative errno. */
static int lookup_open(struct pt_fs *fs, int pfd, const char *name,
		       struct stat *st, struct pt_inode **inp)
{
	uint64_t mnt_id;
	int fd, r;

	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && pt_fh_shrink(fs))
		fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = pt_stat_fd(fd, st, &mnt_id);
	if (!r && name[0] == '.' && name[1] == '.')
		r = pt_check_beneath(fs, fd, st);
	if (r) {
		close(fd);
		return r;
	}
	return pt_inode_find_or_insert(fs, fd, st, mnt_id, inp);
}

/* Look name up in parent and fill *e; see pt_internal.h. */
int pt_do_lookup(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		 struct fuse_entry_param *e, struct pt_inode **inp,
		 enum pt_lookup_how how)
{
	struct pt_inode *in = NULL;
	struct stat st;
	int r;

	memset(e, 0, sizeof(*e));
	r = pt_check_name(name, true);
	if (r)
		return r;
	if (!S_ISDIR(parent->ftype))
		return -ENOTDIR;
	if (pt_mig_hidden(parent, name))
		return -ENOENT;

	if (!strcmp(name, ".") ||
	    (!strcmp(name, "..") && parent->is_root)) {
		/* "." is the parent; the root's ".." stays the root. */
		in = !strcmp(name, ".") ? parent : fs->root;
		pt_inode_ref(in);
		r = pt_inode_stat(fs, in, &st, NULL);
		if (r) {
			pt_inode_put(fs, in);
			return r;
		}
	} else {
		int pfd = pt_inode_fd_get(fs, parent);

		if (pfd < 0)
			return pfd;
		/* ".." is always opened: it must be checked to stay
		 * beneath the shared dir. */
		r = how == PT_LOOKUP_PROBE && strcmp(name, "..") ?
		    lookup_probe(fs, pfd, name, &st, &in) : 0;
		if (r == 0)
			r = lookup_open(fs, pfd, name, &st, &in);
		else if (r == 1)
			r = 0;
		pt_inode_fd_put(fs, parent, pfd);
		if (r)
			return r;
		if (atomic_load(&fs->mig_tracking))
			pt_track_name(fs, parent, name, in);
	}
	e->ino = in->nodeid;
	e->generation = in->generation;
	e->attr = st;
	pt_attr_to_guest(fs, &e->attr);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	pt_inode_lookup_inc(in);
	if (inp)
		*inp = in;
	else
		pt_inode_put(fs, in);
	return 0;
}

/* FUSE_ATTR_SUBMOUNT for a directory on another mount than its parent. */
uint32_t pt_attr_flags(struct pt_fs *fs, const struct pt_inode *parent,
		       const struct pt_inode *in)
{
	if (!fs->cfg.announce_submounts || !S_ISDIR(in->ftype) ||
	    in == parent || in->is_root)
		return 0;
	if (in->key.dev != parent->key.dev ||
	    in->key.mnt_id != parent->key.mnt_id)
		return FUSE_ATTR_SUBMOUNT;
	return 0;
}

/* Undo the lookup count of an entry whose reply failed. */
void pt_entry_undo(struct pt_fs *fs, const struct fuse_entry_param *e)
{
	if (e->ino)
		pt_inode_forget(fs, e->ino, 1);
}

/* Guest open flags -> host flags for reopening an inode. */
int pt_open_flags(struct pt_fs *fs, int flags)
{
	int f = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_PATH |
			  (O_TMPFILE & ~O_DIRECTORY));

	if (!fs->cfg.allow_direct_io)
		f &= ~O_DIRECT;
	if (!fs->cfg.preserve_noatime)
		f &= ~O_NOATIME;
	if (atomic_load(&fs->writeback)) {
		/* The guest page cache may read back to fill partial
		 * pages, and appends are positioned by the guest. */
		if ((f & O_ACCMODE) == O_WRONLY)
			f = (f & ~O_ACCMODE) | O_RDWR;
		f &= ~O_APPEND;
	}
	return f | O_CLOEXEC;
}

/* Cache policy of OPEN/CREATE/OPENDIR replies. */
void pt_set_open_cache(struct pt_fs *fs, struct fuse_file_info *fi,
		       bool is_dir)
{
	switch (fs->cfg.cache) {
	case PT_CACHE_NEVER:
		if (!is_dir)
			fi->direct_io = 1;
		break;
	case PT_CACHE_METADATA:
		if (is_dir) {
			fi->cache_readdir = 1;
			fi->keep_cache = 1;
		} else {
			fi->direct_io = 1;
		}
		break;
	case PT_CACHE_ALWAYS:
		fi->keep_cache = 1;
		if (is_dir)
			fi->cache_readdir = 1;
		break;
	case PT_CACHE_AUTO:
	default:
		break;
	}
}

/* Entry for the file open on fd (a new file from CREATE or TMPFILE):
 * an O_PATH fd of the same file through /proc, then as pt_do_lookup(). */
int pt_entry_from_fd(struct pt_fs *fs, int fd, struct fuse_entry_param *e,
		     struct pt_inode **inp)
{
	struct pt_inode *in;
	struct stat st;
	uint64_t mnt_id;
	char name[24];
	int pfd, r;

	memset(e, 0, sizeof(*e));
	pt_fdname(fd, name, sizeof(name));
	pfd = openat(fs->proc_self_fd, name, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	r = pt_stat_fd(pfd, &st, &mnt_id);
	if (r) {
		close(pfd);
		return r;
	}
	r = pt_inode_find_or_insert(fs, pfd, &st, mnt_id, &in);
	if (r)
		return r;
	e->ino = in->nodeid;
	e->generation = in->generation;
	e->attr = st;
	pt_attr_to_guest(fs, &e->attr);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	pt_inode_lookup_inc(in);
	*inp = in;
	return 0;
}
