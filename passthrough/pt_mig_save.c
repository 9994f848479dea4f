/*
 * pt_mig_save.c - the source side of live migration: describing every
 * inode and handle for the save.
 *
 * pt_mig_prepare runs at save time with every ring stopped, so no guest op
 * runs concurrently: every inode in the table gets a record {nodeid,
 * nlookup, generation, kind, parent, name}.
 *
 * With a pre-copy tracker (pt_mig_track.c) the tracked parent + name of
 * an inode is taken as it is, without a syscall (use_tracked; one statx
 * for an inode an open handle holds); only what the tracker does not
 * know (or invalidated) is resolved as below.
 *
 * Resolving (a snapshot: no pre-copy) goes directories first, then the
 * files held by file handles found in the directories' listings
 * (scan_dirs: no open_by_handle_at for them), then the rest, by path:
 * the path comes from readlink of the inode's fd in /proc/self/fd, made
 * relative to the shared dir (with a '/' boundary).  When the directory part is a directory already
 * resolved in this save (a cache from path string to record), one statx
 * of the last name in that directory checks the identity (dev, ino,
 * mount id); otherwise the path is walked from the longest cached prefix
 * (or the root): each directory on the way is looked up by identity in
 * the table; one the guest does not hold becomes an "anchor" (inserted
 * with lookup count 0, so the guest's counts are not touched; the
 * reference we hold keeps it, dropping it frees it).  A file whose path
 * is gone ("(deleted)" or nlink 0) is made reachable in the hidden
 * directory PT_MIG_DIR at the top of the shared dir: a hard link when
 * the kernel allows one (nlink > 0), else a copy of its content and
 * metadata (Linux refuses to link an inode with nlink 0).  Records are
 * kept in fs->mig until the save is done (anchors dropped) or the source
 * resumes (links removed too: pt_mig_abort).
 *
 * Invalid ids of an earlier load (pt_invalid.c) are forwarded as
 * INVALID; with --migration-verify-handles each record carries a file
 * handle, and with --migration-confirm-paths every path is checked once
 * more.  --migration-mode=file-handles: no path is looked for; every
 * inode but the root is sent as {mount id, file handle} (pt_mig_fh.c).
 * The destination side is pt_mig_load.c.
 *
 * Locking: called from the vhost-user transfer thread while the rings are
 * stopped; pt_mig_prepare holds fs->mig_lock (the tracker cannot be
 * started or stopped meanwhile); the table functions take their own shard
 * locks.
 *
 * Syscalls: readlinkat, openat, statx, newfstatat, name_to_handle_at,
 * open_by_handle_at, mkdirat,
 * linkat, unlinkat, getdents64, copy_file_range, read, write, fchmod,
 * fchown, futimens, close.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include <linux/fuse.h>
#include "pt_internal.h"
#include "pt_mig_fh.h"
#include "pt_mig_index.h"
#include "log.h"

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif

#define KIND_UNSET 0xff

/* ---- source ---- */

struct src_rec {
	struct pt_inode *in;     /* referenced until pt_mig_save_done();
				  * NULL for a forwarded invalid id */
	uint64_t nodeid, nlookup, generation, parent;
	char *name;
	uint16_t namelen;
	uint8_t kind;
	bool forwarded;          /* INVALID already on arrival */
	bool held_open;          /* an open handle holds the inode */
	uint32_t depth;
	uint8_t *fh;             /* --migration-verify-handles */
	uint16_t fh_len;
	int32_t fh_type;
};

struct pt_mig_src {
	struct src_rec *v;
	size_t n, cap;
	size_t *order;           /* emission order (by depth) */
	struct imap by_id;
	char **links;            /* names created in PT_MIG_DIR */
	size_t nlinks;
	int hidden_fd;           /* O_RDONLY|O_DIRECTORY of PT_MIG_DIR or -1 */
	char root_path[PATH_MAX];
	size_t root_len;
	size_t root_idx;         /* the root's record */
	unsigned seq;
	/* Directory cache, during pt_mig_prepare only (see dc_find). */
	struct imap dc_map;
	struct dc_ent *dc;
	size_t ndc, dccap;
	char *dc_buf;
	size_t dc_len, dc_cap;
	struct src_mnt {        /* file-handles mode: mounts in the records */
		uint64_t mnt_id;
		char *path;
		int err;        /* no path: its inodes are invalid */
	} *mnts;
	size_t nmnts;
};

/* True when name in parent is the hidden migration directory. */
bool pt_mig_hidden(const struct pt_inode *parent, const char *name)
{
	return parent->is_root && !strcmp(name, PT_MIG_DIR);
}

/* A new zeroed record for nodeid, indexed by id; NULL when out of memory. */
static struct src_rec *src_rec_new(struct pt_mig_src *s, uint64_t nodeid)
{
	struct src_rec *r, *nv;

	nv = pt_mig_grow(s->v, &s->cap, s->n, sizeof(*s->v), 256);
	if (!nv)
		return NULL;
	s->v = nv;
	if (pt_imap_add(&s->by_id, nodeid, s->n))
		return NULL;
	r = &s->v[s->n++];
	memset(r, 0, sizeof(*r));
	r->nodeid = nodeid;
	return r;
}

static int src_add(struct pt_mig_src *s, struct pt_inode *in)
{
	struct src_rec *r = src_rec_new(s, in->nodeid);

	if (!r)
		return -ENOMEM;
	r->in = in;
	r->nlookup = atomic_load(&in->nlookup);
	r->generation = in->generation;
	r->kind = KIND_UNSET;
	return 0;
}

/* pt_invalid_foreach_inode callback: forward an invalid id. */
static int add_invalid_cb(uint64_t nodeid, uint64_t nlookup,
			  uint64_t generation, int err, void *arg)
{
	struct src_rec *r = src_rec_new(arg, nodeid);

	if (!r)
		return -ENOMEM;
	r->nlookup = nlookup;
	r->generation = generation;
	r->kind = PT_MIG_INVALID;
	r->parent = (uint64_t)err;
	r->depth = 1;
	r->forwarded = true;
	return 0;
}

static ssize_t src_find(struct pt_mig_src *s, uint64_t nodeid)
{
	size_t pos = SIZE_MAX, idx;

	while (pt_imap_next(&s->by_id, nodeid, &pos, &idx))
		if (s->v[idx].nodeid == nodeid)
			return (ssize_t)idx;
	return -1;
}

struct collect_arg {
	struct pt_mig_src *s;
	int err;
};

/* pt_inode_foreach callback: reference and record every inode. */
static int collect_cb(struct pt_inode *in, void *arg)
{
	struct collect_arg *a = arg;

	a->err = src_add(a->s, in);
	if (a->err)
		return 1;
	pt_inode_ref(in);   /* the inode is live: refcount > 0 */
	return 0;
}

static void set_loc(struct src_rec *r, uint8_t kind, uint64_t parent,
		    const char *name, size_t len, uint32_t depth)
{
	r->kind = kind;
	r->parent = parent;
	r->depth = depth;
	free(r->name);
	r->name = NULL;
	r->namelen = 0;
	if (name && len) {
		r->name = malloc(len);
		if (r->name) {
			memcpy(r->name, name, len);
			r->namelen = (uint16_t)len;
		} else {
			r->kind = PT_MIG_INVALID;
			r->parent = ENOMEM;
		}
	}
}

static void set_invalid(struct src_rec *r, int err, const char *why)
{
	LOG_WARN("migration: inode %llu cannot be migrated (%s: %s); the guest "
		 "will get errors for it after the migration",
		 (unsigned long long)r->nodeid, why, strerror(err));
	set_loc(r, PT_MIG_INVALID, (uint64_t)err, NULL, 0, 1);
}

static int open_hidden(struct pt_fs *fs, struct pt_mig_src *s)
{
	int rfd = pt_root_fd(fs);

	if (s->hidden_fd >= 0)
		return 0;
	if (mkdirat(rfd, PT_MIG_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	s->hidden_fd = openat(rfd, PT_MIG_DIR,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return s->hidden_fd < 0 ? -errno : 0;
}

/* Copy the content and metadata of the open file src into dst. */
static int copy_file(int src, int dst, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);
		if (n > 0)
			continue;
		if (n == 0)
			break;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP)
			return -errno;
		/* No in-kernel copy here: fall back to read/write. */
		while ((n = read(src, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < n;) {
				ssize_t w = write(dst, buf + off, (size_t)(n - off));

				if (w < 0)
					return -errno;
				off += w;
			}
		}
		if (n < 0)
			return -errno;
		break;
	}
	if (fchown(dst, st->st_uid, st->st_gid) < 0)
		LOG_DBG("migration: fchown of a copied file: %m");
	if (fchmod(dst, st->st_mode & 07777) < 0)
		return -errno;
	if (futimens(dst, ts) < 0)
		return -errno;
	return 0;
}

static int make_unlinked_fd(struct pt_fs *fs, struct pt_mig_src *s,
			    struct src_rec *r, const struct stat *st, int ifd,
			    const char *name);

/* Make an unlinked-but-open regular file reachable in PT_MIG_DIR. */
static int make_unlinked(struct pt_fs *fs, struct pt_mig_src *s,
			 struct src_rec *r, const struct stat *st)
{
	char name[64];
	char **nl;
	int ret, ifd;

	if (!S_ISREG(r->in->ftype)) {
		set_invalid(r, ENOENT, "removed, not a regular file");
		return 0;
	}
	ret = open_hidden(fs, s);
	if (ret) {
		set_invalid(r, -ret, "cannot create " PT_MIG_DIR);
		return 0;
	}
	nl = realloc(s->links, (s->nlinks + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	s->links = nl;
	snprintf(name, sizeof(name), "%llu-%d-%u",
		 (unsigned long long)r->nodeid, (int)getpid(), s->seq++);
	ifd = pt_inode_fd_get(fs, r->in);
	if (ifd < 0) {
		set_invalid(r, -ifd, "reopen of an unlinked file");
		return 0;
	}
	ret = make_unlinked_fd(fs, s, r, st, ifd, name);
	pt_inode_fd_put(fs, r->in, ifd);
	if (ret)
		return ret < 0 ? ret : 0;   /* 1: r marked invalid */
	s->links[s->nlinks] = strdup(name);
	if (!s->links[s->nlinks]) {
		unlinkat(s->hidden_fd, name, 0);
		return -ENOMEM;
	}
	s->nlinks++;
	set_loc(r, PT_MIG_UNLINKED, 0, name, strlen(name), 1);
	return 0;
}

/* make_unlinked()'s link or copy from the borrowed O_PATH fd ifd: 0
 * with the name in place, 1 when r was marked invalid, or -errno. */
static int make_unlinked_fd(struct pt_fs *fs, struct pt_mig_src *s,
			    struct src_rec *r, const struct stat *st, int ifd,
			    const char *name)
{
	char fdn[24];
	int ret, src, dst;

	pt_fdname(ifd, fdn, sizeof(fdn));
	if (linkat(fs->proc_self_fd, fdn, s->hidden_fd, name,
		   AT_SYMLINK_FOLLOW) < 0) {
		if (errno != ENOENT) {
			set_invalid(r, errno, "linkat into " PT_MIG_DIR);
			return 1;
		}
		/* nlink 0: the kernel refuses a new link; copy it. */
		src = openat(fs->proc_self_fd, fdn, O_RDONLY | O_CLOEXEC);
		if (src < 0) {
			set_invalid(r, errno, "reopen of an unlinked file");
			return 1;
		}
		dst = openat(s->hidden_fd, name, O_WRONLY | O_CREAT | O_EXCL |
			     O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dst < 0) {
			ret = -errno;
			close(src);
			set_invalid(r, -ret, "create in " PT_MIG_DIR);
			return 1;
		}
		ret = copy_file(src, dst, st);
		close(src);
		close(dst);
		if (ret) {
			unlinkat(s->hidden_fd, name, 0);
			set_invalid(r, -ret, "copy of an unlinked file");
			return 1;
		}
		LOG_INFO("migration: inode %llu is unlinked (nlink 0): copied "
			 "%lld bytes to " PT_MIG_DIR "/%s",
			 (unsigned long long)r->nodeid, (long long)st->st_size,
			 name);
	}
	return 0;
}

/* ---- the directory cache of a snapshot save ----
 *
 * During pt_mig_prepare, the path (relative to the shared dir, as readlink
 * of /proc/self/fd gives it) of every directory resolved so far, mapped to
 * its record.  An inode whose parent path is cached costs one statx of its
 * last component in that directory instead of a walk from the root.  A
 * hit is only a guess (a third party may rename directories during the
 * save): the statx from the cached directory's own fd must lead to the
 * inode's key, so a stale entry costs a miss, never a wrong record.
 */
struct dc_ent {
	size_t rec;       /* record index */
	size_t off;       /* path bytes in dc_buf */
	uint32_t len;
};

static uint64_t path_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ULL;
	return h;
}

/* The record cached for path p[0..len), or -1. */
static ssize_t dc_find(const struct pt_mig_src *s, const char *p, size_t len)
{
	size_t pos = SIZE_MAX, e;

	while (pt_imap_next(&s->dc_map, path_hash(p, len), &pos, &e)) {
		const struct dc_ent *d = &s->dc[e];

		if (d->len == len && !memcmp(s->dc_buf + d->off, p, len))
			return (ssize_t)d->rec;
	}
	return -1;
}

/* Cache directory record rec under path p[0..len) (a cache: out of
 * memory only loses the entry). */
static void dc_add(struct pt_mig_src *s, const char *p, size_t len, size_t rec)
{
	if (!len || dc_find(s, p, len) >= 0)
		return;
	struct dc_ent *nv = pt_mig_grow(s->dc, &s->dccap, s->ndc,
					sizeof(*s->dc), 256);

	if (!nv)
		return;
	s->dc = nv;
	if (s->dc_len + len > s->dc_cap) {
		size_t nc = s->dc_cap ? s->dc_cap : 16384;
		char *nb;

		while (nc < s->dc_len + len)
			nc *= 2;
		nb = realloc(s->dc_buf, nc);
		if (!nb)
			return;
		s->dc_buf = nb;
		s->dc_cap = nc;
	}
	if (pt_imap_add(&s->dc_map, path_hash(p, len), s->ndc))
		return;
	memcpy(s->dc_buf + s->dc_len, p, len);
	s->dc[s->ndc++] = (struct dc_ent){ rec, s->dc_len, (uint32_t)len };
	s->dc_len += len;
}

static void dc_free(struct pt_mig_src *s)
{
	pt_imap_free(&s->dc_map);
	free(s->dc);
	free(s->dc_buf);
	s->dc = NULL;
	s->dc_buf = NULL;
	s->ndc = s->dccap = s->dc_len = s->dc_cap = 0;
}

/*
 * True when name in the directory dfd is in's host file: one statx
 * (AT_SYMLINK_NOFOLLOW) compared with the whole key.  The mount id comes
 * in the same syscall (STATX_MNT_ID, 0 where the kernel lacks it, as in
 * pt_stat_fd): dev + ino alone would take a directory that another mount
 * covers (`mount --bind d d`: same dev and ino above and below) for the
 * one below, and the save would name two inodes by one path, which the
 * destination refuses.  A name is on its directory's mount unless it is
 * a mount point, so only mount points can differ, but telling them apart
 * would cost a syscall of its own.  *err: the errno when false (ESTALE:
 * another file).
 */
static bool name_is(int dfd, const char *name, const struct pt_inode *in,
		    int *err)
{
	struct statx stx;
	uint64_t mnt;

	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		  STATX_TYPE | STATX_INO | STATX_MNT_ID, &stx) < 0) {
		*err = errno;
		return false;
	}
	mnt = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
	if (in->key.dev != (uint64_t)makedev(stx.stx_dev_major,
					     stx.stx_dev_minor) ||
	    in->key.ino != stx.stx_ino || in->key.mnt_id != mnt) {
		*err = ESTALE;
		return false;
	}
	return true;
}

static bool bad_name(const char *p, size_t len)
{
	return !len || len > NAME_MAX || (p[0] == '.' && (len == 1 ||
					  (len == 2 && p[1] == '.')));
}

/* A directory fd of the walk: the root's, or borrowed from `in`. */
struct walk_dir {
	struct pt_inode *in;
	int fd;
};

static void walk_dir_put(struct pt_fs *fs, struct walk_dir *w)
{
	if (w->in)
		pt_inode_fd_put(fs, w->in, w->fd);
	w->in = NULL;
}

/*
 * Walk the relative path p[0..plen) of record idx, from the longest
 * prefix in the directory cache (use_cache; else from the root): every directory on
 * the way is found in the table by identity (an anchor when the guest
 * does not hold it), recorded and cached; the last component must be
 * idx's inode.  0: record set; 1: failed, *err and *why say why (the
 * caller decides: unlinked or invalid); negative errno: the save fails.
 */
static int walk_path(struct pt_fs *fs, struct pt_mig_src *s, size_t idx,
		     const char *p, size_t plen, bool use_cache, int *err,
		     const char **why)
{
	struct walk_dir w = { NULL, pt_root_fd(fs) };
	char comp[NAME_MAX + 1];
	uint64_t pid = FUSE_ROOT_ID;
	uint32_t depth = 1;
	size_t pos = 0, k;

	/* Longest cached directory prefix (each ends before a '/'). */
	for (k = use_cache ? plen : 0; k > 0; k--) {
		ssize_t di;

		if (p[k - 1] != '/' || k - 1 == 0)
			continue;
		di = dc_find(s, p, k - 1);
		if (di < 0 || s->v[di].kind != PT_MIG_PATH || !s->v[di].in)
			continue;
		w.fd = pt_inode_fd_get(fs, s->v[di].in);
		if (w.fd < 0) {
			w.fd = pt_root_fd(fs);
			continue;
		}
		w.in = s->v[di].in;
		pid = s->v[di].nodeid;
		depth = s->v[di].depth + 1;
		pos = k;
		break;
	}
	for (;;) {
		struct stat st;
		struct pt_inode *x;
		uint64_t mnt_id;
		const char *end;
		size_t clen;
		ssize_t xi;
		int fd, ret;

		while (pos < plen && p[pos] == '/')
			pos++;
		if (pos >= plen) {
			*err = ENOENT;
			*why = "empty path";
			goto failed;
		}
		end = memchr(p + pos, '/', plen - pos);
		clen = end ? (size_t)(end - (p + pos)) : plen - pos;
		if (bad_name(p + pos, clen)) {
			*err = EINVAL;
			*why = "path component";
			goto failed;
		}
		memcpy(comp, p + pos, clen);
		comp[clen] = 0;
		if (!end || end + 1 == p + plen) {
			/* The last component: one statx, no open. */
			if (!name_is(w.fd, comp, s->v[idx].in, err)) {
				*why = *err == ESTALE ?
				       "path leads to another file" :
				       "path walk";
				goto failed;
			}
			walk_dir_put(fs, &w);
			set_loc(&s->v[idx], PT_MIG_PATH, pid, comp, clen, depth);
			if (S_ISDIR(s->v[idx].in->ftype))
				dc_add(s, p, pos + clen, idx);
			return 0;
		}
		fd = openat(w.fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			*err = errno;
			*why = "path walk";
			goto failed;
		}
		ret = pt_stat_fd(fd, &st, &mnt_id);
		if (ret || !S_ISDIR(st.st_mode)) {
			close(fd);
			*err = ret ? -ret : ENOTDIR;
			*why = "path walk";
			goto failed;
		}
		/* Intermediate directory: in the table, or an anchor. */
		ret = pt_inode_find_or_insert(fs, fd, &st, mnt_id, &x);
		if (ret) {
			walk_dir_put(fs, &w);
			return ret;
		}
		xi = src_find(s, x->nodeid);
		if (xi < 0) {
			ret = src_add(s, x);   /* the reference moves in */
			if (ret) {
				pt_inode_put(fs, x);
				walk_dir_put(fs, &w);
				return ret;
			}
			xi = (ssize_t)s->n - 1;
		} else {
			pt_inode_put(fs, x);   /* the record holds one */
		}
		if (s->v[xi].kind == KIND_UNSET || s->v[xi].kind == PT_MIG_INVALID)
			set_loc(&s->v[xi], PT_MIG_PATH, pid, comp, clen, depth);
		else if (s->v[xi].kind != PT_MIG_PATH) {
			*err = EIO;
			*why = "path through the root or a removed directory";
			goto failed;
		}
		dc_add(s, p, pos + clen, (size_t)xi);
		walk_dir_put(fs, &w);
		w.fd = pt_inode_fd_get(fs, s->v[xi].in);
		if (w.fd < 0) {
			*err = -w.fd;
			*why = "open by handle";
			return 1;
		}
		w.in = s->v[xi].in;
		pid = s->v[xi].nodeid;
		depth = s->v[xi].depth + 1;
		pos += clen + 1;
	}
failed:
	walk_dir_put(fs, &w);
	return 1;
}

/* stat of record r's own inode (fd borrowed and given back). */
static int rec_stat(struct pt_fs *fs, struct src_rec *r, struct stat *st)
{
	int fd = pt_inode_fd_get(fs, r->in), ret;

	if (fd < 0)
		return fd;
	ret = pt_stat_fd(fd, st, NULL);
	pt_inode_fd_put(fs, r->in, fd);
	return ret;
}

/*
 * Find parent + name of record idx from the /proc/self/fd path of its fd.
 * Common case: one readlinkat and, the parent directory's path being in
 * the cache, one statx of the last name in it.  Else the walk.  No stat
 * of the inode itself up front: a file without a name shows " (deleted)"
 * in its path (the kernel unhashed its dentry: unlink, or rename over
 * it, even when a new file took the name since), and a path that does
 * not lead back to the inode is caught by the identity check; nlink is
 * looked at only then (a kernel or file system that kept the dentry of a
 * file with nlink 0: still made reachable, not declared lost).
 */
static int resolve(struct pt_fs *fs, struct pt_mig_src *s, size_t idx)
{
	struct src_rec *r = &s->v[idx];
	char fdn[24], path[PATH_MAX];
	const char *p, *name, *why = "outside the shared dir";
	struct stat st;
	size_t plen, nlen;
	ssize_t n, pi;
	int ifd, ret, err = EXDEV;

	if (r->in->is_root) {
		set_loc(r, PT_MIG_ROOT, 0, NULL, 0, 0);
		return 0;
	}
	ifd = pt_inode_fd_get(fs, r->in);
	if (ifd < 0) {
		set_invalid(r, -ifd, "open by handle");
		return 0;
	}
	pt_fdname(ifd, fdn, sizeof(fdn));
	n = readlinkat(fs->proc_self_fd, fdn, path, sizeof(path) - 1);
	if (n < 0)
		n = -errno;
	pt_inode_fd_put(fs, r->in, ifd);
	if (n < 0 || n >= (ssize_t)sizeof(path) - 1) {
		set_invalid(r, n < 0 ? (int)-n : ENAMETOOLONG, "readlink");
		return 0;
	}
	path[n] = 0;
	if (n > 10 && !strcmp(path + n - 10, " (deleted)"))
		goto slow;
	p = pt_mig_below_root(path, (size_t)n, s->root_path, s->root_len);
	if (!p)
		goto slow;
	plen = (size_t)n - (size_t)(p - path);
	name = memrchr(p, '/', plen);
	name = name ? name + 1 : p;
	nlen = plen - (size_t)(name - p);
	pi = name == p ? (ssize_t)s->root_idx : dc_find(s, p, (size_t)(name - p) - 1);
	if (pi >= 0 && s->v[pi].in && !bad_name(name, nlen) &&
	    (s->v[pi].kind == PT_MIG_PATH || s->v[pi].kind == PT_MIG_ROOT)) {
		struct src_rec *pr = &s->v[pi];
		int pfd = pt_inode_fd_get(fs, pr->in);
		bool hit = pfd >= 0 && name_is(pfd, name, r->in, &err);

		pt_inode_fd_put(fs, pr->in, pfd);
		if (hit) {
			set_loc(r, PT_MIG_PATH, pr->nodeid, name, nlen,
				pr->depth + 1);
			if (S_ISDIR(r->in->ftype))
				dc_add(s, p, plen, idx);
			return 0;
		}
	}
	/* From the root when the cached parent said no: its path may be
	 * stale (a third party renaming directories during the save). */
	ret = walk_path(fs, s, idx, p, plen, pi < 0, &err, &why);
	if (ret <= 0)
		return ret;
slow:
	/* No path (yet): unlinked-but-open, or lost. */
	ret = rec_stat(fs, r, &st);
	if (ret) {
		set_invalid(r, -ret, "statx");
		return 0;
	}
	if (st.st_nlink == 0 ||
	    (n > 10 && !strcmp(path + n - 10, " (deleted)")))
		return make_unlinked(fs, s, r, &st);
	set_invalid(r, err, why);
	return 0;
}

static uint64_t dev_ino_hash(uint64_t dev, uint64_t ino)
{
	return ino * 0x9e3779b97f4a7c15ULL ^ dev;
}

/*
 * Handle-held inodes (--inode-file-handles) would each cost an
 * open_by_handle_at (and the fd cache's close of another fd) only to
 * read their /proc path.  Instead, list the directories resolved so far
 * and match their entries by (directory's dev, d_ino) with the
 * handle-held records still unresolved: d_ino is only a hint (a mount
 * point shows the inode below it, a file system may differ), every match
 * is confirmed by name_is() (one statx, the whole key), and what is not
 * found this way is resolved by its path afterwards.  The listing is
 * bounded: at most 4 entries per wanted inode plus 64 Ki in all, so a
 * huge directory the guest holds few children of cannot cost more than
 * the opens it saves.  0 or -ENOMEM.
 */
static int scan_dirs(struct pt_fs *fs, struct pt_mig_src *s, size_t *found)
{
	struct imap want = { 0 };
	size_t nwant = 0, budget, nrec = s->n;
	char *buf;

	for (size_t i = 0; i < s->n; i++) {
		const struct src_rec *r = &s->v[i];

		if (r->kind != KIND_UNSET || !r->in || !r->in->fh_len ||
		    S_ISDIR(r->in->ftype))
			continue;
		if (pt_imap_add(&want, dev_ino_hash(r->in->key.dev,
						    r->in->key.ino), i)) {
			pt_imap_free(&want);
			return -ENOMEM;
		}
		nwant++;
	}
	if (nwant < 64) {   /* not worth a listing */
		pt_imap_free(&want);
		return 0;
	}
	buf = malloc(65536);
	if (!buf) {
		pt_imap_free(&want);
		return -ENOMEM;
	}
	budget = 4 * nwant + 65536;
	for (size_t d = 0; d < nrec && budget && *found < nwant; d++) {
		const struct src_rec *dr = &s->v[d];
		int dfd, lfd;
		ssize_t n;

		if (!dr->in || !S_ISDIR(dr->in->ftype) ||
		    (dr->kind != PT_MIG_PATH && dr->kind != PT_MIG_ROOT))
			continue;
		dfd = pt_inode_fd_get(fs, dr->in);
		if (dfd < 0)
			continue;
		lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		while (lfd >= 0 && budget &&
		       (n = getdents64(lfd, buf, 65536)) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *de = (void *)(buf + off);
				size_t pos = SIZE_MAX, ci, len;

				off += de->d_reclen;
				if (budget)
					budget--;
				if (de->d_type == DT_DIR)
					continue;
				len = strlen(de->d_name);
				if (bad_name(de->d_name, len) ||
				    pt_mig_hidden(dr->in, de->d_name))
					continue;
				while (pt_imap_next(&want,
						    dev_ino_hash(dr->in->key.dev,
								 de->d_ino),
						    &pos, &ci)) {
					struct src_rec *c = &s->v[ci];
					int err;

					if (c->kind != KIND_UNSET ||
					    c->in->key.ino != de->d_ino ||
					    c->in->key.dev != dr->in->key.dev ||
					    !name_is(dfd, de->d_name, c->in, &err))
						continue;
					set_loc(c, PT_MIG_PATH, dr->nodeid,
						de->d_name, len, dr->depth + 1);
					(*found)++;
				}
			}
		}
		if (lfd >= 0)
			close(lfd);
		pt_inode_fd_put(fs, dr->in, dfd);
	}
	free(buf);
	pt_imap_free(&want);
	return 0;
}

/* s->order: record indices by depth (root first, parents before their
 * children), in one counting pass instead of a comparison sort.  0 or
 * -ENOMEM. */
static int order_by_depth(struct pt_mig_src *s)
{
	uint32_t maxd = 0;
	size_t *start;

	s->order = malloc((s->n ? s->n : 1) * sizeof(*s->order));
	if (!s->order)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].depth > maxd)
			maxd = s->v[i].depth;
	start = calloc((size_t)maxd + 2, sizeof(*start));
	if (!start)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		start[s->v[i].depth + 1]++;
	for (uint32_t d = 1; d <= maxd + 1; d++)
		start[d] += start[d - 1];
	for (size_t i = 0; i < s->n; i++)
		s->order[start[s->v[i].depth]++] = i;
	free(start);
	return 0;
}

static void src_free(struct pt_fs *fs, struct pt_mig_src *s, bool put)
{
	for (size_t i = 0; i < s->n; i++) {
		if (put && s->v[i].in)
			pt_inode_put(fs, s->v[i].in);
		free(s->v[i].name);
		free(s->v[i].fh);
	}
	free(s->v);
	free(s->order);
	pt_imap_free(&s->by_id);
	dc_free(s);
	for (size_t i = 0; i < s->nmnts; i++)
		free(s->mnts[i].path);
	free(s->mnts);
	s->mnts = NULL;
	s->nmnts = 0;
	s->v = NULL;
	s->order = NULL;
	s->n = s->cap = 0;
}

/* file-handles mode: the mount entry of mnt_id, its path looked up when
 * new.  NULL on ENOMEM. */
static struct src_mnt *src_mount(struct pt_fs *fs, struct pt_mig_src *s,
				 uint64_t mnt_id)
{
	char path[PATH_MAX];
	struct src_mnt *m, *nv;
	int r;

	for (size_t i = 0; i < s->nmnts; i++)
		if (s->mnts[i].mnt_id == mnt_id)
			return &s->mnts[i];
	nv = realloc(s->mnts, (s->nmnts + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	s->mnts = nv;
	m = &s->mnts[s->nmnts];
	memset(m, 0, sizeof(*m));
	m->mnt_id = mnt_id;
	r = pt_migfh_mount_path(fs, s->root_path, s->root_len, mnt_id, path,
				sizeof(path));
	if (r < 0 || r > UINT16_MAX) {
		m->err = r < 0 ? -r : ENAMETOOLONG;
		LOG_WARN("migration: mount %llu: no path in the shared dir "
			 "(%s); its inodes cannot be migrated",
			 (unsigned long long)mnt_id, strerror(m->err));
	} else {
		m->path = strdup(path);
		if (!m->path)
			return NULL;
		LOG_DBG("migration: mount %llu at \"%s\"",
			(unsigned long long)mnt_id, path);
	}
	s->nmnts++;
	return m;
}

/* file-handles mode: every record is its file handle + mount. */
static int prepare_fhandles(struct pt_fs *fs, struct pt_mig_src *s)
{
	uint8_t buf[PT_MIGFH_MAX];

	for (size_t i = 0; i < s->n; i++) {
		struct src_rec *r = &s->v[i];
		struct src_mnt *m;
		uint64_t mnt_id;
		int len;

		if (r->kind != KIND_UNSET)
			continue;   /* forwarded invalid id */
		if (r->in->is_root) {
			set_loc(r, PT_MIG_ROOT, 0, NULL, 0, 0);
			continue;
		}
		len = pt_migfh_record(fs, r->in, &mnt_id, buf);
		if (len < 0) {
			set_invalid(r, -len, "no file handle");
			continue;
		}
		m = src_mount(fs, s, mnt_id);
		if (!m)
			return -ENOMEM;
		if (m->err) {
			set_invalid(r, m->err, "its mount has no path");
			continue;
		}
		set_loc(r, PT_MIG_FHANDLE, mnt_id, (const char *)buf,
			(size_t)len, 1);
	}
	return 0;
}

static void links_remove(struct pt_fs *fs, struct pt_mig_src *s)
{
	for (size_t i = 0; i < s->nlinks; i++) {
		if (s->hidden_fd >= 0 &&
		    unlinkat(s->hidden_fd, s->links[i], 0) < 0 && errno != ENOENT)
			LOG_WARN("migration: cannot remove " PT_MIG_DIR "/%s: %m",
				 s->links[i]);
		free(s->links[i]);
	}
	free(s->links);
	s->links = NULL;
	s->nlinks = 0;
	if (s->hidden_fd >= 0) {
		close(s->hidden_fd);
		s->hidden_fd = -1;
		if (unlinkat(pt_root_fd(fs), PT_MIG_DIR, AT_REMOVEDIR) < 0 &&
		    errno != ENOENT && errno != ENOTEMPTY)
			LOG_DBG("migration: rmdir " PT_MIG_DIR ": %m");
	}
}

/* pt_handle_foreach callback: mark the records of inodes held open. */
static int mark_open_cb(struct pt_handle *h, void *arg)
{
	struct pt_mig_src *s = arg;
	ssize_t i = src_find(s, h->inode->nodeid);

	if (i >= 0)
		s->v[i].held_open = true;
	return 0;
}

/*
 * Take the pre-copy record of r as it is: the tracker followed every
 * guest RENAME, UNLINK, RMDIR, LINK and creation, so a record that is
 * still set (not invalidated or queued for the thread) is where the guest
 * left the inode.  Only third-party changes on the host escape it (the
 * Rust virtiofsd does not check either); --migration-confirm-paths checks
 * every path afterwards.  Without a syscall, except for an inode that an
 * open handle holds: one statx of its name in the parent, because a
 * stale name there would break a file the guest has open (a lookup-only
 * inode costs the guest an error at most, and there are many more of
 * them).  The parent must be a directory in the save; rec_depth() then
 * drops records whose parent chain does not reach the root.  True when r
 * was set.
 */
static bool use_tracked(struct pt_fs *fs, struct pt_mig_src *s,
			struct src_rec *r, const struct pt_track_loc *loc)
{
	if (!loc->parent || bad_name(loc->name, loc->namelen) ||
	    memchr(loc->name, '/', loc->namelen) ||
	    memchr(loc->name, 0, loc->namelen) ||
	    !S_ISDIR(loc->parent->ftype) || src_find(s, loc->parent->nodeid) < 0)
		return false;
	if (r->held_open) {
		char name[NAME_MAX + 1];
		int pfd = pt_inode_fd_get(fs, loc->parent), err;
		bool same;

		memcpy(name, loc->name, loc->namelen);
		name[loc->namelen] = 0;
		same = pfd >= 0 && name_is(pfd, name, r->in, &err);
		pt_inode_fd_put(fs, loc->parent, pfd);
		if (!same)
			return false;
	}
	set_loc(r, PT_MIG_PATH, loc->parent->nodeid, loc->name, loc->namelen,
		0);
	return r->kind == PT_MIG_PATH;
}

/* Depth of record i (root 0) through its parents' records; 0 and the
 * record unset again when the chain is broken or loops. */
static uint32_t rec_depth(struct pt_mig_src *s, size_t i, unsigned guard)
{
	struct src_rec *r = &s->v[i];
	ssize_t pi;
	uint32_t d;

	if (r->kind == PT_MIG_ROOT)
		return 0;
	if (r->kind != PT_MIG_PATH)
		return UINT32_MAX;
	if (r->depth)
		return r->depth;
	pi = src_find(s, r->parent);
	d = pi < 0 || guard > 4096 ? UINT32_MAX :
	    rec_depth(s, (size_t)pi, guard + 1);
	if (d == UINT32_MAX) {
		set_loc(r, KIND_UNSET, 0, NULL, 0, 0);
		return UINT32_MAX;
	}
	r->depth = d + 1;
	return r->depth;
}

/* --migration-confirm-paths: every path must still lead to its inode.
 * 0 or -ESTALE (logged). */
static int confirm_paths(struct pt_fs *fs, struct pt_mig_src *s)
{
	char name[NAME_MAX + 1];
	struct stat st;

	for (size_t i = 0; i < s->n; i++) {
		const struct src_rec *r = &s->v[i];
		const struct src_rec *p;
		ssize_t pi;
		int pfd, sr;

		if (r->kind == PT_MIG_INVALID && !r->forwarded) {
			LOG_ERR("migration: --migration-confirm-paths: inode "
				"%llu has no path; failing the save",
				(unsigned long long)r->nodeid);
			return -ESTALE;
		}
		if (r->kind != PT_MIG_PATH)
			continue;
		pi = src_find(s, r->parent);
		if (pi < 0)
			return -ESTALE;
		p = &s->v[pi];
		pfd = pt_inode_fd_get(fs, p->in);
		memcpy(name, r->name, r->namelen);
		name[r->namelen] = 0;
		sr = pfd < 0 ? -1 : fstatat(pfd, name, &st,
					    AT_SYMLINK_NOFOLLOW);
		pt_inode_fd_put(fs, p->in, pfd);
		if (sr < 0 ||
		    r->in->key.dev != (uint64_t)st.st_dev ||
		    r->in->key.ino != (uint64_t)st.st_ino) {
			LOG_ERR("migration: --migration-confirm-paths: inode "
				"%llu is no longer \"%s\" in %llu; failing the "
				"save", (unsigned long long)r->nodeid, name,
				(unsigned long long)r->parent);
			return -ESTALE;
		}
	}
	return 0;
}

/* --migration-verify-handles: a file handle for every inode, from the
 * pre-copy when it made one. */
static void attach_handles(struct pt_fs *fs, struct pt_mig_src *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct src_rec *r = &s->v[i];
		struct pt_track_loc loc;
		uint8_t buf[PT_FH_MAX];
		int32_t type = 0;
		int len;

		if (!r->in || r->kind == PT_MIG_INVALID)
			continue;
		if (!r->in->is_root && pt_track_get(fs, r->nodeid, &loc) &&
		    loc.fh_len) {
			len = loc.fh_len;
			type = loc.fh_type;
			memcpy(buf, loc.fh, (size_t)len);
		} else {
			len = pt_inode_handle(fs, r->in, buf, &type);
		}
		if (len <= 0) {
			LOG_WARN("migration: inode %llu: no file handle to "
				 "verify (%s)", (unsigned long long)r->nodeid,
				 strerror(len < 0 ? -len : EINVAL));
			continue;
		}
		r->fh = malloc((size_t)len);
		if (!r->fh)
			continue;
		memcpy(r->fh, buf, (size_t)len);
		r->fh_len = (uint16_t)len;
		r->fh_type = type;
	}
}

static double ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Describe every inode for the save; see passthrough.h. */
int pt_mig_prepare(struct pt_fs *fs)
{
	struct pt_mig_src *s;
	struct collect_arg ca;
	struct pt_track_loc loc;
	size_t verified = 0, walked = 0, scanned = 0;
	uint64_t trecs;
	double t0 = ms_now(), tcoll;
	bool tracked;
	char fdn[24];
	ssize_t n;
	int ret;

	if (fs->mig)
		pt_mig_abort(fs);   /* an earlier save the source resumed from */
	pthread_mutex_lock(&fs->mig_lock);
	tracked = pt_track_active(fs);
	pt_track_pause(fs);
	pt_track_stats(fs, &trecs, &tcoll);
	if (!tracked && fs->cfg.mig_mode != PT_MIG_MODE_FILE_HANDLES)
		LOG_WARN("migration: no dirty logging before the save (a "
			 "snapshot?): collecting the paths now, during the "
			 "downtime");
	s = calloc(1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&fs->mig_lock);
		return -ENOMEM;
	}
	s->hidden_fd = -1;
	fs->mig = s;
	pt_fdname(pt_root_fd(fs), fdn, sizeof(fdn));
	n = readlinkat(fs->proc_self_fd, fdn, s->root_path,
		       sizeof(s->root_path) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(s->root_path) - 1) {
		ret = n < 0 ? -errno : -ENAMETOOLONG;
		LOG_ERR("migration: readlink of the shared dir: %s",
			strerror(-ret));
		goto fail;
	}
	s->root_path[n] = 0;
	s->root_len = (size_t)n;

	/* Room for the table (the walks may add anchors: it grows). */
	s->cap = (size_t)atomic_load(&fs->n_inodes) +
		 (size_t)atomic_load(&fs->n_invalid) + 256;
	s->v = malloc(s->cap * sizeof(*s->v));
	if (!s->v) {
		ret = -ENOMEM;
		goto fail;
	}
	ca.s = s;
	ca.err = 0;
	pt_inode_foreach(fs, collect_cb, &ca);
	if (ca.err) {
		ret = ca.err;
		goto fail;
	}
	ret = pt_invalid_foreach_inode(fs, add_invalid_cb, s);
	if (ret)
		goto fail;
	{
		ssize_t ri = src_find(s, FUSE_ROOT_ID);

		if (ri < 0 || !s->v[ri].in || !s->v[ri].in->is_root) {
			ret = -EIO;
			LOG_ERR("migration: the root is not in the table");
			goto fail;
		}
		s->root_idx = (size_t)ri;
		set_loc(&s->v[ri], PT_MIG_ROOT, 0, NULL, 0, 0);
	}
	if (fs->cfg.mig_mode == PT_MIG_MODE_FILE_HANDLES) {
		ret = prepare_fhandles(fs, s);
		if (ret)
			goto fail;
		tracked = false;
	}
	/* Pre-copy records: taken as they are (use_tracked). */
	if (tracked) {
		ret = pt_handle_foreach(fs, mark_open_cb, s);
		if (ret)
			goto fail;
	}
	for (size_t i = 0; tracked && i < s->n; i++) {
		struct src_rec *r = &s->v[i];

		if (r->kind != KIND_UNSET)
			continue;
		if (pt_track_get(fs, r->nodeid, &loc) &&
		    use_tracked(fs, s, r, &loc))
			verified++;
	}
	for (size_t i = 0; tracked && i < s->n; i++)
		rec_depth(s, i, 0);
	/* Everything else: by the /proc path (resolve), directories first,
	 * then handle-held files found in their listings (scan_dirs), then
	 * the rest.  Records appended by the walks (anchors) are resolved by
	 * them. */
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].kind != KIND_UNSET || !S_ISDIR(s->v[i].in->ftype))
			continue;
		walked++;
		ret = resolve(fs, s, i);
		if (ret) {
			LOG_ERR("migration: inode %llu: %s",
				(unsigned long long)s->v[i].nodeid,
				strerror(-ret));
			goto fail;
		}
	}
	ret = scan_dirs(fs, s, &scanned);
	if (ret)
		goto fail;
	walked += scanned;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].kind != KIND_UNSET)
			continue;
		walked++;
		ret = resolve(fs, s, i);
		if (ret) {
			LOG_ERR("migration: inode %llu: %s",
				(unsigned long long)s->v[i].nodeid,
				strerror(-ret));
			goto fail;
		}
	}
	if (fs->cfg.mig_confirm_paths) {
		ret = confirm_paths(fs, s);
		if (ret)
			goto fail;
	}
	if (fs->cfg.mig_verify_handles)
		attach_handles(fs, s);
	dc_free(s);
	ret = order_by_depth(s);
	if (ret)
		goto fail;
	pthread_mutex_unlock(&fs->mig_lock);
	if (tracked)
		LOG_INFO("migration: pre-copy %s (%llu records%s): %zu of %zu "
			 "inodes as tracked, %zu resolved at save; prepared in "
			 "%.1f ms", tcoll >= 0 ? "complete" : "incomplete",
			 (unsigned long long)trecs, "", verified, s->n, walked,
			 ms_now() - t0);
	else if (fs->cfg.mig_mode == PT_MIG_MODE_FILE_HANDLES)
		LOG_INFO("migration: %zu inodes by file handle on %zu mount(s); "
			 "prepared in %.1f ms", s->n, s->nmnts, ms_now() - t0);
	else
		LOG_INFO("migration: %zu inodes resolved at save (%zu found in "
			 "directory listings); prepared in %.1f ms", s->n,
			 scanned, ms_now() - t0);
	return 0;
fail:
	pthread_mutex_unlock(&fs->mig_lock);
	pt_mig_abort(fs);
	return ret;
}

/* Emit every mount of the prepared FHANDLE records. */
int pt_mig_foreach_mount(struct pt_fs *fs,
			 int (*cb)(const struct pt_mig_mount *m, void *arg),
			 void *arg)
{
	struct pt_mig_src *s = fs->mig;

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < s->nmnts; i++) {
		struct pt_mig_mount m = { s->mnts[i].mnt_id, s->mnts[i].path,
					  0 };
		int r;

		if (s->mnts[i].err)
			continue;
		m.pathlen = (uint16_t)strlen(m.path);
		r = cb(&m, arg);
		if (r)
			return r;
	}
	return 0;
}

/* Emit every prepared inode, parents first. */
int pt_mig_foreach_inode(struct pt_fs *fs,
			 int (*cb)(const struct pt_mig_inode *in, void *arg),
			 void *arg)
{
	struct pt_mig_src *s = fs->mig;

	if (!s || !s->order)
		return -EINVAL;
	for (size_t i = 0; i < s->n; i++) {
		const struct src_rec *r = &s->v[s->order[i]];
		struct pt_mig_inode e = {
			.nodeid = r->nodeid, .nlookup = r->nlookup,
			.generation = r->generation, .parent = r->parent,
			.kind = r->kind, .name = r->name,
			.namelen = r->namelen,
		};
		int ret = cb(&e, arg);

		if (ret)
			return ret;
	}
	return 0;
}

/* Emit the file handle of every prepared inode that has one. */
int pt_mig_foreach_fhandle(struct pt_fs *fs,
			   int (*cb)(const struct pt_mig_fhandle *h, void *arg),
			   void *arg)
{
	struct pt_mig_src *s = fs->mig;

	if (!s || !s->order)
		return -EINVAL;
	for (size_t i = 0; i < s->n; i++) {
		const struct src_rec *r = &s->v[i];
		struct pt_mig_fhandle e = {
			.nodeid = r->nodeid, .type = r->fh_type,
			.len = r->fh_len, .bytes = r->fh,
		};
		int ret;

		if (!r->fh_len)
			continue;
		ret = cb(&e, arg);
		if (ret)
			return ret;
	}
	return 0;
}

struct hcb_arg {
	int (*cb)(const struct pt_mig_handle *h, void *arg);
	void *arg;
};

static int handle_cb(struct pt_handle *h, void *arg)
{
	struct hcb_arg *a = arg;
	struct pt_mig_handle e = {
		.fh = h->fh, .nodeid = h->inode->nodeid,
		.flags = (uint32_t)h->flags, .is_dir = h->is_dir,
	};

	return a->cb(&e, a->arg);
}

/* Emit every open handle. */
int pt_mig_foreach_handle(struct pt_fs *fs,
			  int (*cb)(const struct pt_mig_handle *h, void *arg),
			  void *arg)
{
	struct hcb_arg a = { cb, arg };
	int ret = pt_handle_foreach(fs, handle_cb, &a);

	/* Handles the destination could not restore go on as they are. */
	return ret ? ret : pt_invalid_foreach_handle(fs, cb, arg);
}

/* The counters to continue from. */
void pt_mig_next_ids(struct pt_fs *fs, uint64_t *next_nodeid,
		     uint64_t *next_fh)
{
	*next_nodeid = pt_inode_next_id(fs);
	*next_fh = pt_handle_next_id(fs);
}

/* Drop anchors and records after a save; the links stay. */
void pt_mig_save_done(struct pt_fs *fs)
{
	if (fs->mig)
		src_free(fs, fs->mig, true);
}

/* Forget a save: records, anchors and hidden links. */
void pt_mig_abort(struct pt_fs *fs)
{
	struct pt_mig_src *s = fs->mig;

	if (!s)
		return;
	src_free(fs, s, true);
	if (s->nlinks)
		LOG_INFO("migration: removing %zu hidden link(s) of unlinked files",
			 s->nlinks);
	links_remove(fs, s);
	free(s);
	fs->mig = NULL;
}

/* Free the save state at exit (links are left for the destination). */
void pt_mig_free(struct pt_fs *fs)
{
	struct pt_mig_src *s = fs->mig;

	if (!s)
		return;
	src_free(fs, s, false);   /* the tables are freed wholesale */
	for (size_t i = 0; i < s->nlinks; i++)
		free(s->links[i]);
	free(s->links);
	if (s->hidden_fd >= 0)
		close(s->hidden_fd);
	free(s);
	fs->mig = NULL;
}

/* Remove a stale PT_MIG_DIR (its entries, then itself). */
void pt_mig_cleanup_stale(struct pt_fs *fs)
{
	int rfd = pt_root_fd(fs), dfd;
	unsigned removed = 0;
	DIR *d;
	struct dirent *de;

	dfd = openat(rfd, PT_MIG_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		     O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	if (unlinkat(rfd, PT_MIG_DIR, AT_REMOVEDIR) < 0)
		LOG_WARN("migration: cannot remove stale " PT_MIG_DIR ": %m");
	else
		LOG_INFO("migration: removed a stale " PT_MIG_DIR " (%u entries)",
			 removed);
}

