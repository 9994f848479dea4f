/*
 * pt_mig_load.c - the destination side of live migration: rebuilding the
 * inode and handle tables from a stream (the source side is
 * pt_mig_save.c).
 *
 * pt_mig_load_* stage every entry: it is opened and stat'ed while it is
 * staged, checked against the others (node ids, fh values and host
 * identities unique, parents loaded before children), and only
 * pt_mig_load_commit() touches the tables.  The loader applies
 * --migration-on-error to entries it cannot restore.  In
 * --migration-mode=file-handles the mounts are opened first, then the
 * handles (pt_mig_fh.c).
 *
 * Locking: called from the vhost-user transfer thread while the rings are
 * stopped, on a file system that holds nothing but its root.
 *
 * Syscalls: openat, statx, newfstatat, name_to_handle_at,
 * open_by_handle_at, unlinkat, close.
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
#include "pt_mig_index.h"
#include "log.h"

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif

#define KIND_UNSET 0xff

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

	while (pt_imap_next(&l->by_id, nodeid, &pos, &idx))
		if (l->iv[idx].nodeid == nodeid)
			return (ssize_t)idx;
	return -1;
}

static bool ld_key_taken(const struct pt_mig_load *l, const struct stat *st,
			 uint64_t mnt_id)
{
	struct pt_key k = { st->st_dev, st->st_ino, mnt_id };
	size_t pos = SIZE_MAX, idx;

	if (pt_mig_same_key(l->fs->root, st, mnt_id))
		return true;
	while (pt_imap_next(&l->by_key, pt_mig_key_hash(&k), &pos, &idx)) {
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
	while (pt_imap_next(&l->by_fhn, h->nodeid, &pos, &idx)) {
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
	if (pt_imap_add(&l->by_fhn, h->nodeid, l->fn))
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

	while (pt_imap_next(&l->by_fhn, nodeid, &pos, &idx)) {
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
	if (pt_imap_add(&l->by_id, x.nodeid, l->in))
		goto nomem;
	if (x.fd >= 0 || x.fhb) {
		struct pt_key k = { x.st.st_dev, x.st.st_ino, x.mnt_id };

		if (pt_imap_add(&l->by_key, pt_mig_key_hash(&k), l->in))
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
	while (pt_imap_next(&l->by_fh, h->fh, &pos, &idx)) {
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
	if (pt_imap_add(&l->by_fh, y.fh, l->hn)) {
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
	pt_imap_free(&l->by_id);
	pt_imap_free(&l->by_key);
	pt_imap_free(&l->by_fh);
	pt_imap_free(&l->by_fhn);
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
