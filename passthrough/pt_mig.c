/*
 * pt_mig.c - the passthrough side of live migration: describing every
 * inode and handle on the source, rebuilding them on the destination.
 *
 * Source (pt_mig_prepare, at save time with every ring stopped, so no
 * guest op runs concurrently):
 *   every inode in the table gets a record {nodeid, nlookup, generation,
 *   kind, parent, name}.  The path comes from readlink of its O_PATH fd in
 *   /proc/self/fd, made relative to the shared dir (with a '/' boundary),
 *   and is walked from the root: each directory on the way is looked up by
 *   identity in the table; one the guest does not hold becomes an
 *   "anchor" (inserted with lookup count 0, so the guest's counts are not
 *   touched; the reference we hold keeps it, dropping it frees it).  The
 *   last component must lead back to the same inode (dev, ino, mount id).
 *   A file whose path is gone ("(deleted)" or nlink 0) is made reachable
 *   in the hidden directory PT_MIG_DIR at the top of the shared dir: a
 *   hard link when the kernel allows one (nlink > 0), else a copy of its
 *   content and metadata (Linux refuses to link an inode with nlink 0).
 *   Records are kept in fs->mig until the save is done (anchors dropped)
 *   or the source resumes (links removed too: pt_mig_abort).
 *
 * Destination (pt_mig_load_*): every entry is opened and stat'ed while it
 * is staged, checked against the others (node ids, fh values and host
 * identities unique, parents loaded before children), and only
 * pt_mig_load_commit() touches the tables.
 *
 * With a pre-copy tracker (pt_mig_track.c) the save first checks each
 * tracked parent + name with one fstatat and walks only the rest; invalid
 * ids of an earlier load (pt_invalid.c) are forwarded as INVALID; with
 * --migration-verify-handles each record carries a file handle, and with
 * --migration-confirm-paths every path is checked once more.  The loader
 * applies --migration-on-error to entries it cannot restore.
 *
 * --migration-mode=file-handles: no path is looked for; every inode but
 * the root is sent as {mount id, file handle} and every mount used by a
 * path to open it by (pt_mig_fh.c); the destination opens the mounts,
 * then the handles.
 *
 * Locking: called from the vhost-user transfer thread while the rings are
 * stopped; pt_mig_prepare holds fs->mig_lock (the tracker cannot be
 * started or stopped meanwhile); the table functions take their own shard
 * locks.
 *
 * Syscalls: readlinkat, openat, statx, newfstatat, name_to_handle_at,
 * open_by_handle_at,
 * sysinfo (glibc's qsort of a large table), mkdirat, linkat, unlinkat,
 * getdents64, copy_file_range, read, write, fchmod, fchown, futimens,
 * close.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>
#include "pt_internal.h"
#include "pt_mig_fh.h"
#include "log.h"

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif

#define KIND_UNSET 0xff

/* ---- a small open-addressing index: 64-bit hash -> array index ---- */

struct imap {
	uint64_t *h;     /* hash + 1 (0 = empty slot) */
	size_t *idx;
	size_t cap, n;   /* cap: power of two */
};

static void imap_free(struct imap *m)
{
	free(m->h);
	free(m->idx);
	memset(m, 0, sizeof(*m));
}

static int imap_grow(struct imap *m)
{
	struct imap nm = { 0 };

	nm.cap = m->cap ? m->cap * 2 : 64;
	nm.h = calloc(nm.cap, sizeof(*nm.h));
	nm.idx = calloc(nm.cap, sizeof(*nm.idx));
	if (!nm.h || !nm.idx) {
		imap_free(&nm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->h[i])
			continue;
		for (j = m->h[i] & (nm.cap - 1); nm.h[j]; j = (j + 1) & (nm.cap - 1))
			;
		nm.h[j] = m->h[i];
		nm.idx[j] = m->idx[i];
	}
	nm.n = m->n;
	imap_free(m);
	*m = nm;
	return 0;
}

static int imap_add(struct imap *m, uint64_t hash, size_t idx)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap && imap_grow(m))
		return -ENOMEM;
	hash = pt_hash64(hash) | 1;
	for (j = hash & (m->cap - 1); m->h[j]; j = (j + 1) & (m->cap - 1))
		;
	m->h[j] = hash;
	m->idx[j] = idx;
	m->n++;
	return 0;
}

/* Iterate the indices stored under hash: start with *pos = SIZE_MAX. */
static bool imap_next(const struct imap *m, uint64_t hash, size_t *pos,
		      size_t *idx)
{
	size_t j;

	if (!m->cap)
		return false;
	hash = pt_hash64(hash) | 1;
	j = *pos == SIZE_MAX ? (hash & (m->cap - 1)) : ((*pos + 1) & (m->cap - 1));
	for (; m->h[j]; j = (j + 1) & (m->cap - 1)) {
		if (m->h[j] == hash) {
			*pos = j;
			*idx = m->idx[j];
			return true;
		}
	}
	return false;
}

static uint64_t key_hash(const struct pt_key *k)
{
	return k->dev * 0x9e3779b97f4a7c15ULL ^ k->ino ^ (k->mnt_id << 40);
}

/* ---- source ---- */

struct src_rec {
	struct pt_inode *in;     /* referenced until pt_mig_save_done();
				  * NULL for a forwarded invalid id */
	uint64_t nodeid, nlookup, generation, parent;
	char *name;
	uint16_t namelen;
	uint8_t kind;
	bool forwarded;          /* INVALID already on arrival */
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
	unsigned seq;
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
	struct src_rec *r;

	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 256;
		struct src_rec *nv = realloc(s->v, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		s->v = nv;
		s->cap = nc;
	}
	if (imap_add(&s->by_id, nodeid, s->n))
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

	while (imap_next(&s->by_id, nodeid, &pos, &idx))
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

static bool same_key(const struct pt_inode *in, const struct stat *st,
		     uint64_t mnt_id)
{
	return in->key.dev == (uint64_t)st->st_dev &&
	       in->key.ino == (uint64_t)st->st_ino && in->key.mnt_id == mnt_id;
}

/* The directory fd resolve() walks from: the root's, or one borrowed
 * from inode `in`. */
struct walk_dir {
	struct pt_inode *in;
	int fd;
};

static int resolve_walk(struct pt_fs *fs, struct pt_mig_src *s, size_t idx,
			struct walk_dir *w);

/* Find parent + name of record idx by walking its /proc path. */
static int resolve(struct pt_fs *fs, struct pt_mig_src *s, size_t idx)
{
	struct walk_dir w = { NULL, pt_root_fd(fs) };
	int ret = resolve_walk(fs, s, idx, &w);

	if (w.in)
		pt_inode_fd_put(fs, w.in, w.fd);
	return ret;
}

static int resolve_walk(struct pt_fs *fs, struct pt_mig_src *s, size_t idx,
			struct walk_dir *w)
{
	char fdn[24], path[PATH_MAX];
	struct stat st;
	uint64_t mnt_id, pid = FUSE_ROOT_ID;
	int ret, ifd;
	uint32_t depth = 1;
	ssize_t n;
	char *p, *end;

	if (s->v[idx].in->is_root) {
		set_loc(&s->v[idx], PT_MIG_ROOT, 0, NULL, 0, 0);
		return 0;
	}
	ifd = pt_inode_fd_get(fs, s->v[idx].in);
	if (ifd < 0) {
		set_invalid(&s->v[idx], -ifd, "open by handle");
		return 0;
	}
	pt_fdname(ifd, fdn, sizeof(fdn));
	ret = pt_stat_fd(ifd, &st, NULL);
	n = ret ? 0 : readlinkat(fs->proc_self_fd, fdn, path, sizeof(path) - 1);
	if (n < 0)
		n = -errno;
	pt_inode_fd_put(fs, s->v[idx].in, ifd);
	if (ret) {
		set_invalid(&s->v[idx], -ret, "statx");
		return 0;
	}
	if (n < 0 || n >= (ssize_t)sizeof(path) - 1) {
		set_invalid(&s->v[idx], n < 0 ? (int)-n : ENAMETOOLONG,
			    "readlink");
		return 0;
	}
	path[n] = 0;
	if (st.st_nlink == 0 ||
	    (n > 10 && !strcmp(path + n - 10, " (deleted)")))
		return make_unlinked(fs, s, &s->v[idx], &st);
	/* Relative to the shared dir, at a '/' boundary. */
	if (s->root_len == 1) {
		p = path + 1;
	} else if ((size_t)n > s->root_len &&
		   !memcmp(path, s->root_path, s->root_len) &&
		   path[s->root_len] == '/') {
		p = path + s->root_len + 1;
	} else {
		set_invalid(&s->v[idx], EXDEV, "outside the shared dir");
		return 0;
	}
	for (;;) {
		struct pt_inode *x;
		ssize_t xi;
		bool last;
		int fd;

		while (*p == '/')
			p++;
		if (!*p) {
			set_invalid(&s->v[idx], ENOENT, "empty path");
			return 0;
		}
		end = strchr(p, '/');
		if (end)
			*end = 0;
		last = !end || !end[1];
		if (strlen(p) > NAME_MAX || !strcmp(p, ".") || !strcmp(p, "..")) {
			set_invalid(&s->v[idx], EINVAL, "path component");
			return 0;
		}
		fd = openat(w->fd, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			set_invalid(&s->v[idx], errno, "path walk");
			return 0;
		}
		ret = pt_stat_fd(fd, &st, &mnt_id);
		if (ret) {
			close(fd);
			set_invalid(&s->v[idx], -ret, "path walk");
			return 0;
		}
		if (last) {
			close(fd);
			if (!same_key(s->v[idx].in, &st, mnt_id)) {
				set_invalid(&s->v[idx], ESTALE,
					    "path leads to another file");
				return 0;
			}
			set_loc(&s->v[idx], PT_MIG_PATH, pid, p, strlen(p),
				depth);
			return 0;
		}
		if (!S_ISDIR(st.st_mode)) {
			close(fd);
			set_invalid(&s->v[idx], ENOTDIR, "path walk");
			return 0;
		}
		/* Intermediate directory: in the table, or an anchor. */
		ret = pt_inode_find_or_insert(fs, fd, &st, mnt_id, &x);
		if (ret)
			return ret;
		xi = src_find(s, x->nodeid);
		if (xi < 0) {
			ret = src_add(s, x);   /* the reference moves in */
			if (ret) {
				pt_inode_put(fs, x);
				return ret;
			}
			xi = (ssize_t)s->n - 1;
		} else {
			pt_inode_put(fs, x);   /* the record holds one */
		}
		if (s->v[xi].kind == KIND_UNSET || s->v[xi].kind == PT_MIG_INVALID)
			set_loc(&s->v[xi], PT_MIG_PATH, pid, p, strlen(p),
				depth);
		else if (s->v[xi].kind != PT_MIG_PATH) {
			set_invalid(&s->v[idx], EIO, "path through the root "
				    "or a removed directory");
			return 0;
		}
		if (w->in)
			pt_inode_fd_put(fs, w->in, w->fd);
		w->in = s->v[xi].in;
		w->fd = pt_inode_fd_get(fs, w->in);
		if (w->fd < 0) {
			set_invalid(&s->v[idx], -w->fd, "open by handle");
			w->in = NULL;
			return 0;
		}
		pid = s->v[xi].nodeid;
		depth = s->v[xi].depth + 1;
		p = end + 1;
	}
}

static struct pt_mig_src *src_sort_ctx;

static int by_depth(const void *a, const void *b)
{
	const struct src_rec *x = &src_sort_ctx->v[*(const size_t *)a];
	const struct src_rec *y = &src_sort_ctx->v[*(const size_t *)b];

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->nodeid < y->nodeid ? -1 : x->nodeid > y->nodeid;
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
	imap_free(&s->by_id);
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

/* Use the pre-copy record of r when it still holds: its parent inode is
 * in the save and parent/name leads to r's inode.  True when it did. */
static bool use_tracked(struct pt_fs *fs, struct pt_mig_src *s,
			struct src_rec *r, const struct pt_track_loc *loc)
{
	char name[NAME_MAX + 1];
	struct stat st;
	ssize_t pi;
	int pfd, sr;

	if (!loc->parent || !loc->namelen || loc->namelen > NAME_MAX)
		return false;
	pi = src_find(s, loc->parent->nodeid);
	if (pi < 0 || !S_ISDIR(loc->parent->ftype))
		return false;
	memcpy(name, loc->name, loc->namelen);
	name[loc->namelen] = 0;
	pfd = pt_inode_fd_get(fs, loc->parent);
	sr = pfd < 0 ? -1 : fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW);
	pt_inode_fd_put(fs, loc->parent, pfd);
	if (sr < 0 ||
	    r->in->key.dev != (uint64_t)st.st_dev ||
	    r->in->key.ino != (uint64_t)st.st_ino)
		return false;
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
	size_t verified = 0, walked = 0;
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
	if (fs->cfg.mig_mode == PT_MIG_MODE_FILE_HANDLES) {
		ret = prepare_fhandles(fs, s);
		if (ret)
			goto fail;
		tracked = false;
	}
	/* Pre-copy records: one fstatat each. */
	for (size_t i = 0; tracked && i < s->n; i++) {
		struct src_rec *r = &s->v[i];

		if (r->kind != KIND_UNSET)
			continue;
		if (r->in->is_root) {
			set_loc(r, PT_MIG_ROOT, 0, NULL, 0, 0);
			continue;
		}
		if (pt_track_get(fs, r->nodeid, &loc) && use_tracked(fs, s, r, &loc))
			verified++;
	}
	for (size_t i = 0; tracked && i < s->n; i++)
		rec_depth(s, i, 0);
	/* Everything else: walk the /proc path.  Records appended by the
	 * walks (anchors) are resolved by them. */
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
	s->order = malloc((s->n ? s->n : 1) * sizeof(*s->order));
	if (!s->order) {
		ret = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < s->n; i++)
		s->order[i] = i;
	src_sort_ctx = s;
	qsort(s->order, s->n, sizeof(*s->order), by_depth);
	src_sort_ctx = NULL;
	pthread_mutex_unlock(&fs->mig_lock);
	if (tracked)
		LOG_INFO("migration: pre-copy %s (%llu records%s): %zu of %zu "
			 "inodes verified, %zu resolved at save; prepared in "
			 "%.1f ms", tcoll >= 0 ? "complete" : "incomplete",
			 (unsigned long long)trecs, "", verified, s->n, walked,
			 ms_now() - t0);
	else if (fs->cfg.mig_mode == PT_MIG_MODE_FILE_HANDLES)
		LOG_INFO("migration: %zu inodes by file handle on %zu mount(s); "
			 "prepared in %.1f ms", s->n, s->nmnts, ms_now() - t0);
	else
		LOG_INFO("migration: %zu inodes resolved at save; prepared in "
			 "%.1f ms", s->n, ms_now() - t0);
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

/* ---- destination ---- */

struct ld_ino {
	uint64_t nodeid, nlookup, generation;
	int fd;                 /* O_PATH; -1 for the root and INVALID */
	struct pt_fh_buf *fhb;  /* handles on: held by this instead of fd */
	struct stat st;
	uint64_t mnt_id;
	char *unlink_name;      /* UNLINKED: name in PT_MIG_DIR */
	int err;                /* invalid: the errno the guest gets */
	bool invalid, is_root, used;
};

struct ld_hnd {
	uint64_t fh;
	size_t ino;
	int fd, flags;          /* fd -1: invalid */
	int err;
	bool is_dir;
};

struct ld_fh {
	uint64_t nodeid;
	int32_t type;
	uint16_t len;
	uint8_t b[PT_FH_MAX];
};

struct pt_mig_load {
	struct pt_fs *fs;
	struct ld_ino *iv;
	size_t in, icap;
	struct ld_hnd *hv;
	size_t hn, hcap;
	struct imap by_id, by_key, by_fh, by_fhn;
	struct ld_fh *fv;       /* file handles to verify */
	size_t fn, fcap, fh_checked;
	int hidden_fd;
	uint64_t max_nodeid, max_fh;
	size_t skipped;
	bool old_wb, old_sg, old_kp;
	struct ld_mnt {         /* file-handles mode: the source's mounts */
		uint64_t mnt_id;
		int fd, err;
	} *mv;
	size_t mn;
	bool cap_ok;
};

/* Stage a migrated state; see passthrough.h. */
struct pt_mig_load *pt_mig_load_begin(struct pt_fs *fs, uint64_t fuse_flags,
				      int *err)
{
	struct pt_mig_load *l;

	if (atomic_load(&fs->n_inodes) != 1 || atomic_load(&fs->n_handles) ||
	    atomic_load(&fs->n_invalid)) {
		LOG_ERR("migration: load into a file system in use (%llu inodes, "
			"%llu handles)",
			(unsigned long long)atomic_load(&fs->n_inodes),
			(unsigned long long)atomic_load(&fs->n_handles));
		*err = -EBUSY;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	l->fs = fs;
	l->hidden_fd = -1;
	/* The reopen policy (pt_open_flags) follows the migrated session. */
	l->old_wb = atomic_exchange(&fs->writeback,
				    !!(fuse_flags & FUSE_WRITEBACK_CACHE));
	l->old_sg = atomic_exchange(&fs->supp_group,
				    !!(fuse_flags & FUSE_CREATE_SUPP_GROUP));
	l->old_kp = atomic_exchange(&fs->killpriv_v2,
				    !!(fuse_flags & FUSE_HANDLE_KILLPRIV_V2));
	return l;
}

static ssize_t ld_find(const struct pt_mig_load *l, uint64_t nodeid)
{
	size_t pos = SIZE_MAX, idx;

	while (imap_next(&l->by_id, nodeid, &pos, &idx))
		if (l->iv[idx].nodeid == nodeid)
			return (ssize_t)idx;
	return -1;
}

static bool ld_key_taken(const struct pt_mig_load *l, const struct stat *st,
			 uint64_t mnt_id)
{
	struct pt_key k = { st->st_dev, st->st_ino, mnt_id };
	size_t pos = SIZE_MAX, idx;

	if (same_key(l->fs->root, st, mnt_id))
		return true;
	while (imap_next(&l->by_key, key_hash(&k), &pos, &idx)) {
		const struct ld_ino *e = &l->iv[idx];

		if (e->st.st_dev == st->st_dev && e->st.st_ino == st->st_ino &&
		    e->mnt_id == mnt_id)
			return true;
	}
	return false;
}

/* A name from the stream: one component, not "." / "..", no NUL. */
static int check_name(const char *name, uint16_t len, char *out)
{
	if (!name || len == 0 || len > NAME_MAX)
		return -EINVAL;
	if (memchr(name, '/', len) || memchr(name, 0, len))
		return -EINVAL;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	memcpy(out, name, len);
	out[len] = 0;
	return 0;
}

/* Stage the file handle the source saw for an inode; see passthrough.h. */
int pt_mig_load_fhandle(struct pt_mig_load *l, const struct pt_mig_fhandle *h)
{
	size_t pos = SIZE_MAX, idx;
	struct ld_fh *x;

	if (l->in) {
		LOG_ERR("migration: file handle of inode %llu after the inodes",
			(unsigned long long)h->nodeid);
		return -EBADMSG;
	}
	if (!h->nodeid || !h->len || h->len > PT_FH_MAX) {
		LOG_ERR("migration: file handle of inode %llu: bad length %u",
			(unsigned long long)h->nodeid, h->len);
		return -EBADMSG;
	}
	while (imap_next(&l->by_fhn, h->nodeid, &pos, &idx)) {
		if (l->fv[idx].nodeid == h->nodeid) {
			LOG_ERR("migration: two file handles for inode %llu",
				(unsigned long long)h->nodeid);
			return -EBADMSG;
		}
	}
	if (l->fn == l->fcap) {
		size_t nc = l->fcap ? l->fcap * 2 : 256;
		struct ld_fh *nv = realloc(l->fv, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->fv = nv;
		l->fcap = nc;
	}
	if (imap_add(&l->by_fhn, h->nodeid, l->fn))
		return -ENOMEM;
	x = &l->fv[l->fn++];
	x->nodeid = h->nodeid;
	x->type = h->type;
	x->len = h->len;
	memcpy(x->b, h->bytes, h->len);
	return 0;
}

/* Compare fd with the handle the source sent for nodeid (if any).
 * 0 when it matches or none was sent, -ESTALE (or the errno of
 * name_to_handle_at) when not. */
static int check_fhandle(struct pt_mig_load *l, uint64_t nodeid, int fd)
{
	size_t pos = SIZE_MAX, idx;
	uint8_t buf[PT_FH_MAX];
	int32_t type;
	int len;

	while (imap_next(&l->by_fhn, nodeid, &pos, &idx)) {
		const struct ld_fh *x = &l->fv[idx];

		if (x->nodeid != nodeid)
			continue;
		l->fh_checked++;
		len = pt_fd_handle(fd, buf, &type);
		if (len < 0)
			return len;
		if (type != x->type || len != x->len || memcmp(buf, x->b, x->len))
			return -ESTALE;
		return 0;
	}
	return 0;
}

/*
 * An entry that cannot be restored: fatal under --migration-on-error=
 * abort (returns err), else staged as invalid (returns 0).
 */
static void ld_ino_close(struct ld_ino *x)
{
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	free(x->fhb);
	x->fhb = NULL;
}

/*
 * With handles on, hold the staged inode x by a file handle instead of
 * its fd (a destination that restores many inodes must not need an fd
 * each).  0, or a negative errno under --inode-file-handles=mandatory
 * (prefer keeps the fd).
 */
static int ld_hold(struct pt_mig_load *l, struct ld_ino *x)
{
	struct pt_fs *fs = l->fs;
	int ret;

	if (!pt_fh_on(fs))
		return 0;
	x->fhb = malloc(sizeof(*x->fhb));
	if (!x->fhb)
		return -ENOMEM;
	ret = pt_fh_make(fs, x->fd, x->mnt_id, x->fhb);
	if (ret) {
		free(x->fhb);
		x->fhb = NULL;
		return fs->cfg.inode_file_handles == PT_FH_MANDATORY ? ret : 0;
	}
	close(x->fd);
	x->fd = -1;
	return 0;
}

static int entry_failed(struct pt_mig_load *l, struct ld_ino *x, int err,
			const char *name, const char *why)
{
	ld_ino_close(x);
	if (l->fs->cfg.mig_on_error != PT_MIG_ERR_GUEST) {
		LOG_ERR("migration: inode %llu (\"%s\"): %s: %s",
			(unsigned long long)x->nodeid, name, why,
			strerror(-err));
		return err;
	}
	LOG_WARN("migration: inode %llu (\"%s\"): %s: %s; the guest will get "
		 "errors for it (--migration-on-error=guest-error)",
		 (unsigned long long)x->nodeid, name, why, strerror(-err));
	x->invalid = true;
	x->err = err == -EEXIST ? ESTALE : -err;
	l->skipped++;
	return 0;
}

/* Stage one mount; see passthrough.h. */
int pt_mig_load_mount(struct pt_mig_load *l, const struct pt_mig_mount *m)
{
	struct ld_mnt *nv, *x;
	int ret;

	if (!l->cap_ok) {
		ret = pt_migfh_check_cap();
		if (ret)
			return ret;
		l->cap_ok = true;
	}
	for (size_t i = 0; i < l->mn; i++)
		if (l->mv[i].mnt_id == m->mnt_id) {
			LOG_ERR("migration: mount %llu: duplicate",
				(unsigned long long)m->mnt_id);
			return -EEXIST;
		}
	nv = realloc(l->mv, (l->mn + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	l->mv = nv;
	x = &l->mv[l->mn++];
	x->mnt_id = m->mnt_id;
	x->err = 0;
	x->fd = pt_migfh_open_mount(l->fs, m->path, m->pathlen);
	if (x->fd < 0) {
		x->err = -x->fd;
		LOG_WARN("migration: mount %llu (\"%.*s\"): cannot open it in "
			 "the shared dir: %s", (unsigned long long)m->mnt_id,
			 (int)m->pathlen, m->path, strerror(x->err));
	}
	return 0;
}

/* Open a FHANDLE entry e into x (O_PATH fd); 0, or -errno with *why. */
static int ld_open_fhandle(struct pt_mig_load *l, const struct pt_mig_inode *e,
			   struct ld_ino *x, const char **why)
{
	const uint8_t *b = (const uint8_t *)e->name;
	struct ld_mnt *m = NULL;
	int32_t type;

	*why = "invalid file handle";
	if (e->namelen < 5 || e->namelen > PT_MIGFH_MAX)
		return -EINVAL;
	for (size_t i = 0; i < l->mn; i++)
		if (l->mv[i].mnt_id == e->parent)
			m = &l->mv[i];
	*why = "its mount is not in the stream";
	if (!m)
		return -EINVAL;
	*why = "cannot open its mount";
	if (m->err)
		return -m->err;
	type = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
			 (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
	*why = "open_by_handle_at";
	x->fd = pt_fh_open_raw(l->fs, m->fd, type, b + 4,
			       (uint16_t)(e->namelen - 4), O_PATH);
	return x->fd < 0 ? x->fd : 0;
}

/* Stage one inode; see passthrough.h. */
int pt_mig_load_inode(struct pt_mig_load *l, const struct pt_mig_inode *e)
{
	struct pt_fs *fs = l->fs;
	struct ld_ino x = { .nodeid = e->nodeid, .nlookup = e->nlookup,
			    .generation = e->generation, .fd = -1 };
	char name[NAME_MAX + 1];
	int ret, pfd, tfd = -1;

	if (e->nodeid == 0 || ld_find(l, e->nodeid) >= 0) {
		LOG_ERR("migration: inode %llu: invalid or duplicate node id",
			(unsigned long long)e->nodeid);
		return e->nodeid ? -EEXIST : -EINVAL;
	}
	switch (e->kind) {
	case PT_MIG_ROOT:
		if (e->nodeid != FUSE_ROOT_ID || e->namelen) {
			LOG_ERR("migration: root entry with node id %llu",
				(unsigned long long)e->nodeid);
			return -EINVAL;
		}
		ret = check_fhandle(l, FUSE_ROOT_ID, pt_root_fd(fs));
		if (ret) {
			LOG_ERR("migration: the shared directory is not the "
				"source's (file handle: %s)", strerror(-ret));
			return ret;
		}
		x.is_root = true;
		break;
	case PT_MIG_INVALID:
		if (e->nodeid == FUSE_ROOT_ID)
			return -EINVAL;
		LOG_WARN("migration: inode %llu was lost on the source (%s); the "
			 "guest will get errors for it",
			 (unsigned long long)e->nodeid,
			 e->parent > 0 && e->parent < 4096 ?
			 strerror((int)e->parent) : "?");
		x.invalid = true;
		x.err = e->parent > 0 && e->parent < 4096 ? (int)e->parent : EIO;
		l->skipped++;
		break;
	case PT_MIG_PATH:
	case PT_MIG_UNLINKED:
		if (e->nodeid == FUSE_ROOT_ID)
			return -EINVAL;
		ret = check_name(e->name, e->namelen, name);
		if (ret) {
			LOG_ERR("migration: inode %llu: invalid name",
				(unsigned long long)e->nodeid);
			return ret;
		}
		if (e->kind == PT_MIG_UNLINKED) {
			if (l->hidden_fd < 0)
				l->hidden_fd = openat(pt_root_fd(fs),
						      PT_MIG_DIR, O_RDONLY |
						      O_DIRECTORY | O_NOFOLLOW |
						      O_CLOEXEC);
			if (l->hidden_fd < 0) {
				ret = entry_failed(l, &x, -errno, name,
						   "cannot open " PT_MIG_DIR);
				if (ret)
					return ret;
				break;
			}
			pfd = l->hidden_fd;
		} else {
			ssize_t pi = ld_find(l, e->parent);

			if (pi < 0 ||
			    (!l->iv[pi].invalid &&
			     !S_ISDIR(l->iv[pi].is_root ? S_IFDIR :
				      l->iv[pi].st.st_mode))) {
				LOG_ERR("migration: inode %llu (\"%s\"): parent "
					"%llu not loaded before it or not a "
					"directory", (unsigned long long)e->nodeid,
					name, (unsigned long long)e->parent);
				return -EINVAL;
			}
			if (l->iv[pi].is_root && !strcmp(name, PT_MIG_DIR))
				return -EINVAL;
			if (l->iv[pi].invalid) {
				ret = entry_failed(l, &x, -l->iv[pi].err, name,
						   "its parent was not restored");
				if (ret)
					return ret;
				break;
			}
			pfd = l->iv[pi].is_root ? pt_root_fd(fs) :
						  l->iv[pi].fd;
			if (pfd < 0) {
				tfd = pt_fh_open_buf(fs, l->iv[pi].fhb,
						     O_PATH | O_DIRECTORY);
				pfd = tfd;
			}
		}
		x.fd = pfd < 0 ? (errno = -pfd, -1) :
			openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (tfd >= 0)
			close(tfd);
		if (x.fd < 0) {
			ret = entry_failed(l, &x, -errno, name,
					   e->kind == PT_MIG_UNLINKED ?
					   "cannot open it in " PT_MIG_DIR :
					   "cannot open it in its parent");
			if (ret)
				return ret;
			break;
		}
		ret = pt_stat_fd(x.fd, &x.st, &x.mnt_id);
		if (ret) {
			ret = entry_failed(l, &x, ret, name, "statx");
			if (ret)
				return ret;
			break;
		}
		if (ld_key_taken(l, &x.st, x.mnt_id)) {
			ret = entry_failed(l, &x, -EEXIST, name, "same host "
					   "file as another migrated inode");
			if (ret)
				return ret;
			break;
		}
		ret = check_fhandle(l, e->nodeid, x.fd);
		if (ret) {
			ret = entry_failed(l, &x, ret == -ESTALE ? -ESTALE : ret,
					   name, "not the source's file (file "
					   "handle differs)");
			if (ret)
				return ret;
			break;
		}
		ret = ld_hold(l, &x);
		if (ret) {
			ret = entry_failed(l, &x, ret, name, "no file handle");
			if (ret)
				return ret;
			break;
		}
		if (e->kind == PT_MIG_UNLINKED) {
			x.unlink_name = strdup(name);
			if (!x.unlink_name) {
				ld_ino_close(&x);
				return -ENOMEM;
			}
		}
		break;
	case PT_MIG_FHANDLE: {
		const char *why;

		strcpy(name, "(file handle)");
		if (e->nodeid == FUSE_ROOT_ID)
			return -EINVAL;
		ret = ld_open_fhandle(l, e, &x, &why);
		if (ret == -EINVAL) {
			LOG_ERR("migration: inode %llu: %s",
				(unsigned long long)e->nodeid, why);
			return ret;
		}
		if (!ret)
			ret = pt_stat_fd(x.fd, &x.st, &x.mnt_id);
		if (!ret && ld_key_taken(l, &x.st, x.mnt_id)) {
			ret = -EEXIST;
			why = "same host file as another migrated inode";
		}
		if (!ret) {
			ret = ld_hold(l, &x);
			why = "no file handle";
		}
		if (ret) {
			ret = entry_failed(l, &x, ret, name, why);
			if (ret)
				return ret;
		}
		break;
	}
	default:
		LOG_ERR("migration: inode %llu: unknown kind %u",
			(unsigned long long)e->nodeid, e->kind);
		return -EINVAL;
	}
	if (l->in == l->icap) {
		size_t nc = l->icap ? l->icap * 2 : 256;
		struct ld_ino *nv = realloc(l->iv, nc * sizeof(*nv));

		if (!nv)
			goto nomem;
		l->iv = nv;
		l->icap = nc;
	}
	if (imap_add(&l->by_id, x.nodeid, l->in))
		goto nomem;
	if (x.fd >= 0 || x.fhb) {
		struct pt_key k = { x.st.st_dev, x.st.st_ino, x.mnt_id };

		if (imap_add(&l->by_key, key_hash(&k), l->in))
			goto nomem;   /* by_id holds a stale index: abort only */
	}
	l->iv[l->in++] = x;
	if (x.nodeid > l->max_nodeid)
		l->max_nodeid = x.nodeid;
	return 0;
nomem:
	ld_ino_close(&x);
	free(x.unlink_name);
	return -ENOMEM;
}

/* Stage one handle; see passthrough.h. */
int pt_mig_load_handle(struct pt_mig_load *l, const struct pt_mig_handle *h)
{
	struct pt_fs *fs = l->fs;
	size_t pos = SIZE_MAX, idx;
	struct ld_ino *x;
	struct ld_hnd y;
	ssize_t ii;
	char fdn[24];
	int flags, tfd = -1;

	if (h->fh == 0 || h->is_dir > 1) {
		LOG_ERR("migration: handle %llu: invalid", (unsigned long long)h->fh);
		return -EINVAL;
	}
	while (imap_next(&l->by_fh, h->fh, &pos, &idx)) {
		if (l->hv[idx].fh == h->fh) {
			LOG_ERR("migration: handle %llu: duplicate",
				(unsigned long long)h->fh);
			return -EEXIST;
		}
	}
	ii = ld_find(l, h->nodeid);
	if (ii < 0) {
		LOG_ERR("migration: handle %llu: inode %llu not in the stream",
			(unsigned long long)h->fh, (unsigned long long)h->nodeid);
		return -EINVAL;
	}
	x = &l->iv[ii];
	y.fh = h->fh;
	y.ino = (size_t)ii;
	y.flags = (int)h->flags;
	y.is_dir = h->is_dir;
	y.err = 0;
	if (x->invalid) {
		LOG_WARN("migration: handle %llu of lost inode %llu: the guest "
			 "will get errors for it", (unsigned long long)h->fh,
			 (unsigned long long)h->nodeid);
		l->skipped++;
		y.fd = -1;
		y.err = x->err;
		goto add;
	}
	if (x->is_root) {
		if (!h->is_dir)
			return -EINVAL;
		pt_fdname(pt_root_fd(fs), fdn, sizeof(fdn));
	} else {
		if (h->is_dir ? !S_ISDIR(x->st.st_mode) : !S_ISREG(x->st.st_mode)) {
			LOG_ERR("migration: handle %llu: inode %llu has the "
				"wrong type", (unsigned long long)h->fh,
				(unsigned long long)h->nodeid);
			return -EINVAL;
		}
		if (x->fd < 0)
			tfd = pt_fh_open_buf(fs, x->fhb, O_PATH);
		pt_fdname(x->fd >= 0 ? x->fd : tfd, fdn, sizeof(fdn));
	}
	if (h->is_dir)
		flags = O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC;
	else   /* never truncate again, never create */
		flags = pt_open_flags(fs, (int)h->flags) & ~(O_TRUNC | O_DIRECTORY);
	y.fd = x->fd < 0 && !x->is_root && tfd < 0 ? (errno = -tfd, -1) :
	       openat(fs->proc_self_fd, fdn, flags);
	if (y.fd < 0) {
		int ret = -errno;

		if (fs->cfg.mig_on_error != PT_MIG_ERR_GUEST) {
			LOG_ERR("migration: handle %llu of inode %llu: reopen "
				"with flags %#x: %s", (unsigned long long)h->fh,
				(unsigned long long)h->nodeid, h->flags,
				strerror(-ret));
			return ret;
		}
		LOG_WARN("migration: handle %llu of inode %llu: reopen with "
			 "flags %#x: %s; the guest will get errors for it",
			 (unsigned long long)h->fh,
			 (unsigned long long)h->nodeid, h->flags,
			 strerror(-ret));
		l->skipped++;
		y.err = -ret;
	}
	if (tfd >= 0)
		close(tfd);
add:
	if (l->hn == l->hcap) {
		size_t nc = l->hcap ? l->hcap * 2 : 64;
		struct ld_hnd *nv = realloc(l->hv, nc * sizeof(*nv));

		if (!nv) {
			if (y.fd >= 0)
				close(y.fd);
			return -ENOMEM;
		}
		l->hv = nv;
		l->hcap = nc;
	}
	if (imap_add(&l->by_fh, y.fh, l->hn)) {
		if (y.fd >= 0)
			close(y.fd);
		return -ENOMEM;
	}
	l->hv[l->hn++] = y;
	x->used = true;
	if (h->fh > l->max_fh)
		l->max_fh = h->fh;
	return 0;
}

static void ld_free(struct pt_mig_load *l)
{
	for (size_t i = 0; i < l->in; i++) {
		ld_ino_close(&l->iv[i]);
		free(l->iv[i].unlink_name);
	}
	for (size_t i = 0; i < l->hn; i++)
		if (l->hv[i].fd >= 0)
			close(l->hv[i].fd);
	for (size_t i = 0; i < l->mn; i++)
		if (l->mv[i].fd >= 0)
			close(l->mv[i].fd);
	free(l->mv);
	if (l->hidden_fd >= 0)
		close(l->hidden_fd);
	free(l->iv);
	free(l->hv);
	imap_free(&l->by_id);
	imap_free(&l->by_key);
	imap_free(&l->by_fh);
	imap_free(&l->by_fhn);
	free(l->fv);
	free(l);
}

/* Close everything staged; the tables are untouched. */
void pt_mig_load_abort(struct pt_mig_load *l)
{
	if (!l)
		return;
	atomic_store(&l->fs->writeback, l->old_wb);
	atomic_store(&l->fs->supp_group, l->old_sg);
	atomic_store(&l->fs->killpriv_v2, l->old_kp);
	ld_free(l);
}

/* Install the staged state; see passthrough.h. */
int pt_mig_load_commit(struct pt_mig_load *l, uint64_t next_nodeid,
		       uint64_t next_fh)
{
	struct pt_fs *fs = l->fs;
	struct pt_inode **ins;
	int ret = 0;

	if (next_nodeid <= l->max_nodeid || next_nodeid <= FUSE_ROOT_ID ||
	    next_fh <= l->max_fh || next_fh == 0) {
		LOG_ERR("migration: counters (next node id %llu, next fh %llu) "
			"not past the migrated ids (%llu, %llu)",
			(unsigned long long)next_nodeid,
			(unsigned long long)next_fh,
			(unsigned long long)l->max_nodeid,
			(unsigned long long)l->max_fh);
		pt_mig_load_abort(l);
		return -EINVAL;
	}
	ins = calloc(l->in ? l->in : 1, sizeof(*ins));
	if (!ins) {
		pt_mig_load_abort(l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->in && !ret; i++) {
		struct ld_ino *x = &l->iv[i];

		if (x->invalid) {
			if (x->nlookup || x->used)
				ret = pt_invalid_add_inode(fs, x->nodeid,
							   x->nlookup,
							   x->generation,
							   x->err);
			continue;
		}
		if (x->is_root) {
			atomic_store(&fs->root->nlookup, x->nlookup);
			pt_inode_ref(fs->root);
			ins[i] = fs->root;
			continue;
		}
		if (!x->nlookup && !x->used)
			continue;   /* an anchor: only needed to open children */
		ret = pt_inode_insert_with_id(fs, x->nodeid, x->fd, x->fhb,
					      &x->st, x->mnt_id, x->nlookup,
					      &ins[i]);
		x->fd = -1;   /* taken over */
		if (!ret)
			ins[i]->generation = x->generation;
	}
	for (size_t i = 0; i < l->hn && !ret; i++) {
		struct ld_hnd *y = &l->hv[i];

		if (y->fd < 0) {
			ret = pt_invalid_add_handle(fs, y->fh,
						    l->iv[y->ino].nodeid,
						    (uint32_t)y->flags,
						    y->is_dir, y->err);
			continue;
		}
		ret = pt_handle_insert_with_id(fs, y->fh, ins[y->ino], y->fd,
					       y->flags, y->is_dir);
		y->fd = -1;
	}
	for (size_t i = 0; i < l->in; i++)
		if (ins[i])
			pt_inode_put(fs, ins[i]);
	free(ins);
	if (ret) {
		/* Only possible on ENOMEM (everything else was checked while
		 * staging): back to the empty tables we started from. */
		LOG_ERR("migration: installing the tables: %s", strerror(-ret));
		pt_handle_release_all(fs);
		pt_inode_forget_all(fs);
		pt_invalid_clear(fs);
		atomic_store(&fs->root->nlookup, 0);
		pt_mig_load_abort(l);
		return ret;
	}
	if (pt_inode_next_id(fs) < next_nodeid)
		pt_inode_set_next_id(fs, next_nodeid);
	if (pt_handle_next_id(fs) < next_fh)
		pt_handle_set_next_id(fs, next_fh);
	/* The unlinked files are held by our fds now: drop their names. */
	for (size_t i = 0; i < l->in; i++) {
		if (l->iv[i].unlink_name && l->hidden_fd >= 0 &&
		    unlinkat(l->hidden_fd, l->iv[i].unlink_name, 0) < 0)
			LOG_WARN("migration: cannot remove " PT_MIG_DIR "/%s: %m",
				 l->iv[i].unlink_name);
	}
	if (l->hidden_fd >= 0 &&
	    unlinkat(pt_root_fd(fs), PT_MIG_DIR, AT_REMOVEDIR) < 0 &&
	    errno != ENOTEMPTY && errno != ENOENT)
		LOG_DBG("migration: rmdir " PT_MIG_DIR ": %m");
	if (l->skipped)
		LOG_WARN("migration: %zu inode(s)/handle(s) installed as invalid "
			 "(the guest gets errors for them)", l->skipped);
	if (l->fn)
		LOG_INFO("migration: %zu file handle(s) verified", l->fh_checked);
	ld_free(l);
	return 0;
}
