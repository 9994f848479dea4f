/*
 * pt_ops_dir.c - directory handle ops: OPENDIR, READDIR, READDIRPLUS,
 * RELEASEDIR, FSYNCDIR.
 *
 * A directory handle owns an O_RDONLY|O_DIRECTORY fd.  Each READDIR seeks
 * it to the guest's offset (the d_off cookie of the last entry it got)
 * and reads with getdents64, under the handle's dir_lock (lock order:
 * dir_lock before any inode-table shard lock, which READDIRPLUS takes for
 * its lookups).  Nothing is cached between requests, so the position
 * survives migration as long as the host's cookies are stable.
 *
 * READDIRPLUS: each entry but "." and ".." is looked up and gets one
 * lookup count.  The size is checked before the lookup, so no count is
 * taken for an entry that does not fit; if the reply cannot be sent, the
 * counts taken are undone.
 *
 * Buffers: per-thread, allocated once (no malloc per request).
 *
 * Syscalls: openat, lseek, getdents64, fsync, fdatasync, close (+ the
 * lookup syscalls of pt_fd.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fuse.h>
#include "pt_internal.h"
#include "log.h"

#define RD_MAX PT_RD_MAX
#define RD_DENTS PT_RD_DENTS
_Static_assert(FUSE_NAME_OFFSET_DIRENTPLUS + 8 >= 144,
	       "pt_scratch.rd_counted is too small");

struct linux_dirent64_ {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* OPENDIR. */
void pt_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_inode *in = pt_inode_get(fs, ino);
	struct pt_cred cred;
	uint64_t fh;
	int fd, r;

	if (!in) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	if (!S_ISDIR(in->ftype)) {
		pt_inode_put(fs, in);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fd = pt_cred_enter(fs, req, &cred);
	if (!fd) {
		fd = pt_inode_open(fs, in, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
		pt_cred_leave(fs, &cred);
	}
	if (fd < 0) {
		pt_inode_put(fs, in);
		pt_reply_err(req, fd);
		return;
	}
	r = pt_handle_new(fs, in, fd, fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY),
			  true, &fh);
	pt_inode_put(fs, in);
	if (r) {
		pt_reply_err(req, r);
		return;
	}
	fi->fh = fh;
	pt_set_open_cache(fs, fi, true);
	if (fuse_reply_open(req, fi))
		pt_handle_release(fs, fh, ino);
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/*
 * How READDIRPLUS looks an entry up: probe (one statx, no open) when the
 * table already holds a file with the entry's inode number on the
 * directory's device and mount (a second listing, or names the guest
 * looked up), else open it directly (a first listing).  d_ino is only a
 * hint: a mount point's d_ino is the directory under it, and the probe
 * takes the identity from its own statx either way.
 */
static enum pt_lookup_how dirent_known(struct pt_fs *fs,
				       const struct pt_inode *dir,
				       const struct linux_dirent64_ *d)
{
	struct pt_inode *in = pt_inode_find_key(fs, dir->key.dev, d->d_ino,
						dir->key.mnt_id);

	if (!in)
		return PT_LOOKUP_NEW;
	pt_inode_put(fs, in);
	return PT_LOOKUP_PROBE;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h;
	struct pt_scratch *t = pt_scratch();
	size_t used = 0, ncounted = 0, dlen;
	bool full = false;
	int err = 0;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!t) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h = fi ? pt_handle_get(fs, fi->fh, ino, true) : NULL;
	if (!h) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	if (size > RD_MAX)
		size = RD_MAX;
	/* An entry of READDIRPLUS is ~6 times larger than its dirent. */
	dlen = plus ? size / 4 : size;
	if (dlen < 1024)
		dlen = 1024;
	if (dlen > RD_DENTS)
		dlen = RD_DENTS;

	pthread_mutex_lock(&h->dir_lock);
	if (lseek(h->fd, off, SEEK_SET) < 0)
		err = -errno;
	while (!err && !full) {
		ssize_t n = getdents64(h->fd, t->rd_dents, dlen);

		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t pos = 0; pos < n && !full;) {
			struct linux_dirent64_ *d =
				(struct linux_dirent64_ *)(t->rd_dents + pos);
			size_t nl = strlen(d->d_name), es;

			pos += d->d_reclen;
			if (pt_mig_hidden(h->inode, d->d_name))
				continue;
			if (!plus) {
				struct stat st = { 0 };

				es = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nl);
				if (used + es > size) {
					full = true;
					break;
				}
				st.st_ino = d->d_ino;
				st.st_mode = (mode_t)d->d_type << 12;
				fuse_add_direntry(req, t->rd_reply + used,
						  size - used, d->d_name, &st,
						  d->d_off);
			} else {
				struct fuse_entry_param e;

				es = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nl);
				if (used + es > size) {
					full = true;
					break;
				}
				uint32_t af = 0;

				if (is_dot(d->d_name)) {
					memset(&e, 0, sizeof(e));
					e.attr.st_ino = d->d_ino;
					e.attr.st_mode = (mode_t)d->d_type << 12;
				} else {
					struct pt_inode *in;
					int r = pt_do_lookup(fs, h->inode,
							     d->d_name, &e,
							     &in,
							     dirent_known(fs, h->inode, d));

					if (r == -ENOENT)
						continue; /* raced an unlink */
					if (r) {
						if (!used)
							err = r;
						full = true;
						break;
					}
					t->rd_counted[ncounted++] = e.ino;
					af = pt_attr_flags(fs, h->inode, in);
					pt_inode_put(fs, in);
				}
				fuse_req_set_attr_flags(req, af);
				fuse_add_direntry_plus(req, t->rd_reply + used,
						       size - used, d->d_name,
						       &e, d->d_off);
			}
			used += es;
		}
	}
	pthread_mutex_unlock(&h->dir_lock);
	pt_handle_put(fs, h);

	if (err && !used) {
		pt_reply_err(req, err);
		return;
	}
	if (fuse_reply_buf(req, t->rd_reply, used)) {
		for (size_t i = 0; i < ncounted; i++)
			pt_inode_forget(fs, t->rd_counted[i], 1);
	}
}

/* READDIR from offset off. */
void pt_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

/* READDIRPLUS from offset off (entries get a lookup count). */
void pt_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

/* RELEASEDIR. */
void pt_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	pt_reply_err(req, pt_handle_release(pt_req_fs(req), fi->fh, ino));
}

/* FSYNCDIR. */
void pt_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h = fi ? pt_handle_get(fs, fi->fh, ino, true) : NULL;
	int r;

	if (!h) {
		fuse_reply_err(req, pt_miss_err());
		return;
	}
	r = (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	pt_reply_err(req, r);
}
