/*
 * pt_mig_load.c - the destination side of live migration: rebuilding the
 * inode and handle tables from a stream (the source side is
 * pt_mig_save.c).
 *
 * Three steps, nothing applied before the last:
 *
 * 1. Parsing (pt_mig_load_inode/_handle/_fhandle/_mount, as the stream
 *    arrives): every check that needs only the stream (node ids, fh
 *    values, names, parents staged before their children) and a compact
 *    record per entry (about 130 bytes + its name).  No syscall touches
 *    the shared dir: the stream may still turn out corrupt.
 * 2. pt_mig_load_finish (the END checksum verified): the files are opened
 *    depth by depth, parents before children, by up to LD_MAX_THREADS
 *    threads (min with the CPUs we may run on): the per-entry syscalls and
 *    the checks that need nothing but the entry (stat, the source's file
 *    handle, our own handle) run in the threads; after each depth, in one
 *    thread and in stream order, failures are applied under
 *    --migration-on-error (one log line naming the entry), host identities
 *    are checked unique and indexed.  Then the handles are reopened the
 *    same way.
 * 3. pt_mig_load_commit: the tables.
 *
 * Opening one entry is what LOOKUP does for a new name (pt_fd.c):
 * openat(parent, name, O_PATH|O_NOFOLLOW) + statx of the fd, and with
 * --inode-file-handles name_to_handle_at of that fd.  With handles on, a
 * leaf (an entry no other entry names as its parent) takes a shorter way:
 * name_to_handle_at(parent, name) + statx(parent, name), two lookups of
 * the name and no fd.  The name could change between the two (the guest is
 * stopped, the host is not), so the result is kept only when the two
 * agree on the mount, the mount is known, and the parent directory
 * did not change meanwhile: its ctime, taken when the parent itself was
 * opened, is compared after its children with one more statx (any
 * create, unlink, link or rename in a directory sets its ctime to the
 * current time).  A ctime too close to the time it was read could be set
 * again to the same value by a change within the same clock tick (or the
 * same second on a file system with 1 s timestamps): such a directory's
 * children take the long way; so do the children of a directory whose
 * second statx differs, again.  On ext4, xfs and tmpfs, where a
 * directory listing gives a child's st_ino (d_ino) and file type (d_type)
 * and a mount has one st_dev, a stable directory with 16 or more children
 * in the stream is listed once first (job_list), and its listed leaves on
 * the directory's own mount skip the statx: one name_to_handle_at each,
 * under the same ctime check.  Directories with children keep their
 * O_PATH fd until the children are open (at most fs->fh.max of them under
 * handles; the others are reopened by handle).  The fd table is grown
 * once, up front (fd_table_reserve).
 *
 * Locking: called from the vhost-user transfer thread while the rings are
 * stopped, on a file system that holds nothing but its root.  The worker
 * threads of a step write only their own entries (and their own arena);
 * the indexes are read-only while they run.
 *
 * Syscalls: openat, statx, newfstatat, name_to_handle_at,
 * open_by_handle_at, unlinkat, close, fcntl, prlimit64, fstatfs,
 * getdents64, sched_getaffinity,
 * clock_gettime, rt_sigprocmask, clone, clone3, futex, mmap, mprotect,
 * munmap, madvise, set_robust_list, rseq.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

#define NO_IDX UINT32_MAX
#define LD_MAX_THREADS 4
#define LD_CHUNK 256         /* entries of one job */
#define LD_MIN_PAR 512       /* a step with fewer entries runs inline */
#define LD_ARENA 65536       /* bytes of one arena chunk */
#define LD_MOUNTS 64         /* mounts the short way knows */

/* Bump allocator: names and file handles, freed all at once. */
struct ld_chunk {
	struct ld_chunk *next;
	char b[];
};

struct ld_arena {
	struct ld_chunk *head;
	size_t used, cap;
};

/* A file handle an inode is held by (in an arena). */
struct ld_fhd {
	struct pt_mount *mnt;
	int32_t type;
	uint16_t len;
	uint8_t b[];
};

struct ld_ino {
	uint64_t nodeid, nlookup, generation;
	uint64_t dev, ino, mnt_id;  /* host identity, once opened */
	const char *name;           /* PATH/UNLINKED: NUL-terminated; FHANDLE:
				     * the record (type + handle); arena */
	struct ld_fhd *fh;          /* handles on: held by this, else NULL */
	const char *why;            /* what failed (NULL with res: fatal) */
	int64_t ctime_s;            /* a directory with children: its ctime */
	uint32_t ctime_ns;          /* when opened */
	uint32_t ref;               /* PATH: parent index; FHANDLE: mount */
	uint32_t depth;             /* ROOT 0, PATH parent + 1, others 1 */
	uint32_t nchild, kid0;      /* PATH children; the first in l->kids */
	uint32_t mode;
	int fd;                     /* O_PATH: held by it (handles off or
				     * none), or kept for the children */
	int res;                    /* opening: 0 or a negative errno */
	int err;                    /* invalid: the errno the guest gets */
	uint16_t namelen;
	uint8_t kind;
	bool invalid, is_root, used, stable, fast, kept;
	bool dent;                  /* ino, mode: from its directory's listing */
};

struct ld_hnd {
	uint64_t fh;
	uint32_t ino;
	int fd, flags;              /* fd -1: invalid */
	int err, res;
	bool is_dir, skip;
};

struct ld_fh {
	uint64_t nodeid;
	int32_t type;
	uint16_t len;
	uint8_t b[PT_FH_MAX];
};

/* One job of a step: n entries (indices) sharing the parent p. */
struct ld_job {
	uint32_t p;                 /* NO_IDX: not PATH entries */
	uint32_t n;
	const uint32_t *idx;
};

struct pt_mig_load;

struct ld_run {
	struct pt_mig_load *l;
	void (*fn)(struct pt_mig_load *l, struct ld_arena *a,
		   const struct ld_job *job);
	const struct ld_job *jobs;
	size_t njobs;
	_Atomic size_t next;
};

struct ld_worker {
	struct ld_run *run;
	struct ld_arena arena;
	pthread_t th;
};

struct pt_mig_load {
	struct pt_fs *fs;
	struct ld_ino *iv;
	size_t in, icap;
	struct ld_hnd *hv;
	size_t hn, hcap;
	struct imap by_id, by_key, by_fh, by_fhn;
	struct ld_fh *fv;       /* file handles to verify */
	size_t fn, fcap;
	_Atomic size_t fh_checked;
	struct ld_arena names;
	int hidden_fd, hidden_res;
	uint64_t max_nodeid, max_fh;
	size_t skipped, n_unlinked;
	uint32_t root_idx;
	bool old_wb, old_sg, old_kp, cap_ok, finished, failed;
	struct ld_mnt {         /* file-handles mode: the source's mounts */
		uint64_t mnt_id;
		char *path;
		uint16_t pathlen;
		int fd, err;
	} *mv;
	size_t mn;
	/* pt_mig_load_finish */
	uint32_t *kids;         /* PATH children, grouped by parent */
	struct ld_job *jobs;
	size_t njobs, jcap;
	struct {                /* mounts known to the fs (short way) */
		uint64_t id;
		struct pt_mount *m;
	} mc[LD_MOUNTS];
	unsigned nmc, nthreads;
	_Atomic size_t kept, redone;
	size_t keep_max, n_fast, n_listed;
	struct ld_worker wk[LD_MAX_THREADS];
};

static void *arena_alloc(struct ld_arena *a, size_t n)
{
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!a->head || a->cap - a->used < n) {
		size_t cap = n > LD_ARENA ? n : LD_ARENA;
		struct ld_chunk *c = malloc(sizeof(*c) + cap);

		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
		a->used = 0;
		a->cap = cap;
	}
	p = a->head->b + a->used;
	a->used += n;
	return p;
}

static void arena_free(struct ld_arena *a)
{
	while (a->head) {
		struct ld_chunk *c = a->head;

		a->head = c->next;
		free(c);
	}
	a->used = a->cap = 0;
}

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
	l->root_idx = NO_IDX;
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

/* A name from the stream: one component, not "." / "..", no NUL. */
static int check_name(const char *name, uint16_t len)
{
	if (!name || len == 0 || len > NAME_MAX)
		return -EINVAL;
	if (memchr(name, '/', len) || memchr(name, 0, len))
		return -EINVAL;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	return 0;
}

/* Stage the file handle the source saw for an inode; see passthrough.h. */
int pt_mig_load_fhandle(struct pt_mig_load *l, const struct pt_mig_fhandle *h)
{
	size_t pos = SIZE_MAX, idx;
	struct ld_fh *x, *nv;

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
	nv = pt_mig_grow(l->fv, &l->fcap, l->fn, sizeof(*l->fv), 256);
	if (!nv)
		return -ENOMEM;
	l->fv = nv;
	if (pt_imap_add(&l->by_fhn, h->nodeid, l->fn))
		return -ENOMEM;
	x = &l->fv[l->fn++];
	x->nodeid = h->nodeid;
	x->type = h->type;
	x->len = h->len;
	memcpy(x->b, h->bytes, h->len);
	return 0;
}

/* The handle the source sent for nodeid (--migration-verify-handles), or
 * NULL.  Read-only: safe in the worker threads. */
static const struct ld_fh *expected_fh(struct pt_mig_load *l, uint64_t nodeid)
{
	size_t pos = SIZE_MAX, idx;

	while (pt_imap_next(&l->by_fhn, nodeid, &pos, &idx))
		if (l->fv[idx].nodeid == nodeid)
			return &l->fv[idx];
	return NULL;
}

/* Compare fd with the handle the source sent for nodeid (if any).
 * 0 when it matches or none was sent, -ESTALE (or the errno of
 * name_to_handle_at) when not. */
static int check_fhandle(struct pt_mig_load *l, uint64_t nodeid, int fd)
{
	const struct ld_fh *x = expected_fh(l, nodeid);
	uint8_t buf[PT_FH_MAX];
	int32_t type;
	int len;

	if (!x)
		return 0;
	atomic_fetch_add(&l->fh_checked, 1);
	len = pt_fd_handle(fd, buf, &type);
	if (len < 0)
		return len;
	if (type != x->type || len != x->len || memcmp(buf, x->b, x->len))
		return -ESTALE;
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
	x = &l->mv[l->mn];
	x->mnt_id = m->mnt_id;
	x->fd = -1;
	x->err = 0;
	x->pathlen = m->pathlen;
	x->path = malloc(m->pathlen + 1u);
	if (!x->path)
		return -ENOMEM;
	memcpy(x->path, m->path, m->pathlen);
	x->path[m->pathlen] = 0;
	l->mn++;
	return 0;
}

/* Append x to the staged inodes, indexed by node id.  0 or -ENOMEM. */
static int ld_append(struct pt_mig_load *l, const struct ld_ino *x)
{
	struct ld_ino *nv;

	if (l->in >= NO_IDX - 1)
		return -ENOMEM;
	nv = pt_mig_grow(l->iv, &l->icap, l->in, sizeof(*l->iv), 1024);
	if (!nv)
		return -ENOMEM;
	l->iv = nv;
	if (pt_imap_add(&l->by_id, x->nodeid, l->in))
		return -ENOMEM;
	l->iv[l->in++] = *x;
	if (x->nodeid > l->max_nodeid)
		l->max_nodeid = x->nodeid;
	return 0;
}

/* Stage one inode; see passthrough.h. */
int pt_mig_load_inode(struct pt_mig_load *l, const struct pt_mig_inode *e)
{
	struct ld_ino x = { .nodeid = e->nodeid, .nlookup = e->nlookup,
			    .generation = e->generation, .fd = -1,
			    .ref = NO_IDX, .depth = 1, .kind = e->kind };
	char *name;
	ssize_t pi;

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
		x.is_root = true;
		x.depth = 0;
		x.mode = S_IFDIR;
		l->root_idx = (uint32_t)l->in;
		return ld_append(l, &x);
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
		return ld_append(l, &x);
	case PT_MIG_PATH:
	case PT_MIG_UNLINKED:
		if (e->nodeid == FUSE_ROOT_ID)
			return -EINVAL;
		if (check_name(e->name, e->namelen)) {
			LOG_ERR("migration: inode %llu: invalid name",
				(unsigned long long)e->nodeid);
			return -EINVAL;
		}
		if (e->kind == PT_MIG_UNLINKED) {
			l->n_unlinked++;
			break;
		}
		pi = ld_find(l, e->parent);
		if (pi < 0) {
			LOG_ERR("migration: inode %llu (\"%.*s\"): parent %llu "
				"not loaded before it or not a directory",
				(unsigned long long)e->nodeid, (int)e->namelen,
				e->name, (unsigned long long)e->parent);
			return -EINVAL;
		}
		if (l->iv[pi].is_root && e->namelen == strlen(PT_MIG_DIR) &&
		    !memcmp(e->name, PT_MIG_DIR, e->namelen))
			return -EINVAL;
		if (l->iv[pi].nchild == NO_IDX - 1)
			return -ENOMEM;
		x.ref = (uint32_t)pi;
		x.depth = l->iv[pi].depth + 1;
		l->iv[pi].nchild++;
		break;
	case PT_MIG_FHANDLE:
		if (e->nodeid == FUSE_ROOT_ID)
			return -EINVAL;
		if (e->namelen < 5 || e->namelen > PT_MIGFH_MAX) {
			LOG_ERR("migration: inode %llu: invalid file handle",
				(unsigned long long)e->nodeid);
			return -EINVAL;
		}
		for (size_t i = 0; i < l->mn; i++)
			if (l->mv[i].mnt_id == e->parent)
				x.ref = (uint32_t)i;
		if (x.ref == NO_IDX) {
			LOG_ERR("migration: inode %llu: its mount is not in the "
				"stream", (unsigned long long)e->nodeid);
			return -EINVAL;
		}
		break;
	default:
		LOG_ERR("migration: inode %llu: unknown kind %u",
			(unsigned long long)e->nodeid, e->kind);
		return -EINVAL;
	}
	name = arena_alloc(&l->names, e->namelen + 1u);
	if (!name)
		return -ENOMEM;
	memcpy(name, e->name, e->namelen);
	name[e->namelen] = 0;
	x.name = name;
	x.namelen = e->namelen;
	return ld_append(l, &x);
}

/* Stage one handle; see passthrough.h. */
int pt_mig_load_handle(struct pt_mig_load *l, const struct pt_mig_handle *h)
{
	size_t pos = SIZE_MAX, idx;
	struct ld_hnd y = { 0 }, *nv;
	ssize_t ii;

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
	if (l->iv[ii].is_root && !h->is_dir)
		return -EINVAL;
	y.fh = h->fh;
	y.ino = (uint32_t)ii;
	y.flags = (int)h->flags;
	y.is_dir = h->is_dir;
	y.fd = -1;
	nv = pt_mig_grow(l->hv, &l->hcap, l->hn, sizeof(*l->hv), 64);
	if (!nv)
		return -ENOMEM;
	l->hv = nv;
	if (pt_imap_add(&l->by_fh, y.fh, l->hn))
		return -ENOMEM;
	l->hv[l->hn++] = y;
	l->iv[ii].used = true;
	if (h->fh > l->max_fh)
		l->max_fh = h->fh;
	return 0;
}

/* ---- opening (pt_mig_load_finish) ---- */

/* A file handle in arena a; NULL on ENOMEM. */
static struct ld_fhd *fhd_new(struct ld_arena *a, struct pt_mount *mnt,
			      int32_t type, const uint8_t *b, uint16_t len)
{
	struct ld_fhd *h = arena_alloc(a, sizeof(*h) + len);

	if (!h)
		return NULL;
	h->mnt = mnt;
	h->type = type;
	h->len = len;
	memcpy(h->b, b, len);
	return h;
}

/* Open the inode held by h with flags (as the daemon); fd or -errno. */
static int fhd_open(struct pt_fs *fs, const struct ld_fhd *h, int flags)
{
	return pt_fh_open_raw(fs, h->mnt->fd, h->type, h->b, h->len, flags);
}

/*
 * May the entries of the directory with stat st be trusted to change its
 * ctime when they change after that statx?  Not when the ctime is so
 * recent that a change now could get the same value: the kernel stamps
 * with a clock that ticks every few ms (1 s on file systems without
 * sub-second stamps, told by a zero nanosecond part).  Call right after
 * the statx.
 */
static bool dir_stable(const struct stat *st)
{
	struct timespec now;
	int64_t age_ns, margin;

	if (clock_gettime(CLOCK_REALTIME_COARSE, &now) < 0)
		return false;
	margin = st->st_ctim.tv_nsec ? 20 * 1000000LL : 2000 * 1000000LL;
	age_ns = ((int64_t)now.tv_sec - (int64_t)st->st_ctim.tv_sec) *
		 1000000000LL + (now.tv_nsec - st->st_ctim.tv_nsec);
	return age_ns > margin;
}

/* Has the directory p (open as pfd) kept the ctime it had when opened? */
static bool dir_unchanged(int pfd, const struct ld_ino *p)
{
	struct stat st;

	if (pt_stat_fd(pfd, &st, NULL))
		return false;
	return (uint64_t)st.st_dev == p->dev && (uint64_t)st.st_ino == p->ino &&
	       (int64_t)st.st_ctim.tv_sec == p->ctime_s &&
	       (uint32_t)st.st_ctim.tv_nsec == p->ctime_ns;
}

/* The mount mnt_id as the fs knows it, if this load saw it. */
static struct pt_mount *mount_known(const struct pt_mig_load *l,
				    uint64_t mnt_id)
{
	for (unsigned i = 0; i < l->nmc; i++)
		if (l->mc[i].id == mnt_id)
			return l->mc[i].m;
	return NULL;
}

/* Remember mount m for the short way (between steps only). */
static void mount_learn(struct pt_mig_load *l, struct pt_mount *m)
{
	if (mount_known(l, m->mnt_id) || l->nmc == LD_MOUNTS)
		return;
	l->mc[l->nmc].id = m->mnt_id;
	l->mc[l->nmc].m = m;
	l->nmc++;
}

/* The entry x is open as x->fd: stat it, compare it with the source's
 * handle, and hold it (by a handle of ours when handles are on).  Sets
 * x->res / x->why on failure (x->fd closed then). */
static void stage_fd(struct pt_mig_load *l, struct ld_arena *a,
		     struct ld_ino *x)
{
	struct pt_fs *fs = l->fs;
	struct pt_fh_buf b;
	struct stat st;
	uint64_t mnt_id;
	int r;

	r = pt_stat_fd(x->fd, &st, &mnt_id);
	if (r) {
		x->why = "statx";
		goto fail;
	}
	x->dev = st.st_dev;
	x->ino = st.st_ino;
	x->mnt_id = mnt_id;
	x->mode = st.st_mode;
	if (S_ISDIR(st.st_mode) && x->nchild) {
		x->ctime_s = st.st_ctim.tv_sec;
		x->ctime_ns = (uint32_t)st.st_ctim.tv_nsec;
		x->stable = dir_stable(&st);
	}
	if (x->kind != PT_MIG_FHANDLE) {
		r = check_fhandle(l, x->nodeid, x->fd);
		if (r) {
			x->why = "not the source's file (file handle differs)";
			goto fail;
		}
	}
	if (!pt_fh_on(fs))
		return;
	r = pt_fh_make(fs, x->fd, mnt_id, &b);
	if (r) {
		if (fs->cfg.inode_file_handles != PT_FH_MANDATORY)
			return;   /* prefer: held by the fd */
		x->why = "no file handle";
		goto fail;
	}
	x->fh = fhd_new(a, b.mnt, b.type, b.bytes, b.len);
	if (!x->fh) {
		r = -ENOMEM;
		x->why = NULL;
		goto fail;
	}
	/* A directory keeps its fd for its children, within the budget. */
	if (S_ISDIR(st.st_mode) && x->nchild &&
	    atomic_fetch_add(&l->kept, 1) < l->keep_max) {
		x->kept = true;
		return;
	}
	if (S_ISDIR(st.st_mode) && x->nchild)
		atomic_fetch_sub(&l->kept, 1);
	close(x->fd);
	x->fd = -1;
	return;
fail:
	close(x->fd);
	x->fd = -1;
	x->res = r;
}

/* The long way: openat(pfd, name) and stage_fd(). */
static void stage_open(struct pt_mig_load *l, struct ld_arena *a, int pfd,
		       struct ld_ino *x)
{
	x->fd = openat(pfd, x->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (x->fd < 0) {
		x->res = -errno;
		x->why = x->kind == PT_MIG_UNLINKED ?
			 "cannot open it in " PT_MIG_DIR :
			 "cannot open it in its parent";
		return;
	}
	stage_fd(l, a, x);
}

/*
 * The short way for a leaf under handles (see the header): 0 when x is
 * done (opened, or failed with x->res), 1 when the long way must be taken.
 */
static int stage_short(struct pt_mig_load *l, struct ld_arena *a, int pfd,
		       const struct ld_ino *p, struct ld_ino *x)
{
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + PT_FH_MAX];
	} u;
	const struct ld_fh *want;
	struct pt_mount *m;
	struct stat st;
	uint64_t mnt_id;
	int mid;

	u.fh.handle_bytes = PT_FH_MAX;
	if (name_to_handle_at(pfd, x->name, &u.fh, &mid, 0) < 0 ||
	    u.fh.handle_bytes == 0 || u.fh.handle_bytes > PT_FH_MAX)
		return 1;
	if (mid <= 0)
		return 1;
	if (x->dent && (uint64_t)mid == p->mnt_id) {
		/* Listed in its directory, on the same mount: the same
		 * superblock, whose st_dev the parent has. */
		mnt_id = (uint64_t)mid;
		x->dev = p->dev;
	} else {
		if (pt_stat_at(pfd, x->name, &st, &mnt_id) ||
		    mnt_id != (uint64_t)mid)
			return 1;
		x->dev = st.st_dev;
		x->ino = st.st_ino;
		x->mode = st.st_mode;
	}
	m = mount_known(l, mnt_id);
	if (!m)
		return 1;
	x->mnt_id = mnt_id;
	x->fast = true;
	want = expected_fh(l, x->nodeid);
	if (want) {
		atomic_fetch_add(&l->fh_checked, 1);
		if (want->type != u.fh.handle_type ||
		    want->len != u.fh.handle_bytes ||
		    memcmp(want->b, u.fh.f_handle, want->len)) {
			x->res = -ESTALE;
			x->why = "not the source's file (file handle differs)";
			return 0;
		}
	}
	x->fh = fhd_new(a, m, u.fh.handle_type, (const uint8_t *)u.fh.f_handle,
			(uint16_t)u.fh.handle_bytes);
	if (!x->fh) {
		x->res = -ENOMEM;
		x->why = NULL;
	}
	return 0;
}

/* Forget what the short way found for x (the parent changed). */
static void unstage_short(struct ld_ino *x)
{
	x->fh = NULL;   /* in the arena: freed with it */
	x->res = 0;
	x->why = NULL;
	x->fast = false;
}

/* FHANDLE entry x: open_by_handle_at on its mount, then stage_fd(). */
static void stage_fhandle(struct pt_mig_load *l, struct ld_arena *a,
			  struct ld_ino *x)
{
	const struct ld_mnt *m = &l->mv[x->ref];
	const uint8_t *b = (const uint8_t *)x->name;
	int32_t type;

	if (m->err) {
		x->res = -m->err;
		x->why = "cannot open its mount";
		return;
	}
	type = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
			 (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
	x->fd = pt_fh_open_raw(l->fs, m->fd, type, b + 4,
			       (uint16_t)(x->namelen - 4), O_PATH);
	if (x->fd < 0) {
		x->res = x->fd;
		x->fd = -1;
		x->why = "open_by_handle_at";
		return;
	}
	stage_fd(l, a, x);
}

/* Hash of a name (FNV-1a). */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* File systems whose listing gives what statx would: d_ino is st_ino,
 * d_type the file type, and every file of one mount has the st_dev of
 * its superblock. */
static bool listing_trusted(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf))
		return false;
	return sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC ||
	       sf.f_type == TMPFS_MAGIC;
}

/*
 * Job of a listing step (under handles, before the children of a stable
 * directory p are opened the short way): read p once and take the inode
 * number and type of each child it lists (x->dent), which spares the
 * short way its statx.  Binding changes after p's ctime was read are
 * caught by the same check as the short way's (job_inodes).  At most
 * 4 entries read per child in the stream (+ 4096), so that a few
 * children of a huge directory do not list all of it.
 */
static void job_list(struct pt_mig_load *l, struct ld_arena *a,
		     const struct ld_job *jb)
{
	const struct ld_ino *p = &l->iv[jb->p];
	size_t cap = 64, budget = (size_t)jb->n * 4 + 4096;
	int pfd, tfd = -1, dfd;
	uint32_t *tab;
	char *buf;

	(void)a;
	pfd = p->is_root ? pt_root_fd(l->fs) : p->fd;
	if (pfd < 0)
		pfd = tfd = fhd_open(l->fs, p->fh, O_PATH | O_DIRECTORY);
	if (pfd < 0)
		return;
	dfd = listing_trusted(pfd) ?
	      openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (tfd >= 0)
		close(tfd);
	if (dfd < 0)
		return;
	while (cap < (size_t)jb->n * 2)
		cap *= 2;
	tab = malloc(cap * sizeof(*tab));
	buf = malloc(32768);
	if (!tab || !buf)
		goto out;
	memset(tab, 0xff, cap * sizeof(*tab));
	for (uint32_t i = 0; i < jb->n; i++) {
		size_t k = name_hash(l->iv[jb->idx[i]].name) & (cap - 1);

		while (tab[k] != NO_IDX)
			k = (k + 1) & (cap - 1);
		tab[k] = jb->idx[i];
	}
	while (budget) {
		long n = syscall(SYS_getdents64, dfd, buf, 32768);

		if (n <= 0)
			break;
		for (long off = 0; off < n && budget; budget--) {
			const struct dirent64 *de =
				(const struct dirent64 *)(buf + off);
			size_t k = name_hash(de->d_name) & (cap - 1);

			off += de->d_reclen;
			if (de->d_type == DT_UNKNOWN)
				continue;
			for (; tab[k] != NO_IDX; k = (k + 1) & (cap - 1)) {
				struct ld_ino *x = &l->iv[tab[k]];

				if (!strcmp(x->name, de->d_name)) {
					x->ino = de->d_ino;
					x->mode = DTTOIF(de->d_type);
					x->dent = true;
					break;
				}
			}
		}
	}
out:
	free(tab);
	free(buf);
	close(dfd);
}

/* Job of an inode step: open its entries. */
static void job_inodes(struct pt_mig_load *l, struct ld_arena *a,
		       const struct ld_job *jb)
{
	struct pt_fs *fs = l->fs;
	const struct ld_ino *p;
	int pfd, tfd = -1, pres = 0;
	size_t nshort = 0;
	bool fast;

	if (jb->p == NO_IDX) {
		for (uint32_t i = 0; i < jb->n; i++) {
			struct ld_ino *x = &l->iv[jb->idx[i]];

			if (x->kind == PT_MIG_FHANDLE) {
				stage_fhandle(l, a, x);
			} else if (l->hidden_fd < 0) {
				x->res = l->hidden_res;
				x->why = "cannot open " PT_MIG_DIR;
			} else {
				stage_open(l, a, l->hidden_fd, x);
			}
		}
		return;
	}
	p = &l->iv[jb->p];
	if (p->invalid || !S_ISDIR(p->mode))
		return;   /* the step's check reports it */
	pfd = p->is_root ? pt_root_fd(fs) : p->fd;
	if (pfd < 0) {
		tfd = fhd_open(fs, p->fh, O_PATH | O_DIRECTORY);
		pfd = tfd;
		pres = tfd < 0 ? tfd : 0;
	}
	fast = pt_fh_on(fs) && p->stable && !pres;
	for (uint32_t i = 0; i < jb->n; i++) {
		struct ld_ino *x = &l->iv[jb->idx[i]];

		if (pres) {
			x->res = pres;
			x->why = "cannot open it in its parent";
			continue;
		}
		if (fast && !x->nchild && !stage_short(l, a, pfd, p, x)) {
			nshort++;
			continue;
		}
		stage_open(l, a, pfd, x);
	}
	if (nshort && !dir_unchanged(pfd, p)) {
		for (uint32_t i = 0; i < jb->n; i++) {
			struct ld_ino *x = &l->iv[jb->idx[i]];

			if (!x->fast)
				continue;
			unstage_short(x);
			stage_open(l, a, pfd, x);
		}
		atomic_fetch_add(&l->redone, nshort);
	}
	if (tfd >= 0)
		close(tfd);
}

static void *worker_main(void *arg)
{
	struct ld_worker *w = arg;
	struct ld_run *r = w->run;
	size_t j;

	while ((j = atomic_fetch_add(&r->next, 1)) < r->njobs)
		r->fn(r->l, &w->arena, &r->jobs[j]);
	return NULL;
}

/* Run fn on jobs[0..njobs): in this thread alone when the step is small
 * (work entries), else with up to l->nthreads threads. */
static void run_jobs(struct pt_mig_load *l, const struct ld_job *jobs,
		     size_t njobs, size_t work,
		     void (*fn)(struct pt_mig_load *, struct ld_arena *,
				const struct ld_job *))
{
	struct ld_run r = { .l = l, .fn = fn, .jobs = jobs, .njobs = njobs };
	unsigned nt = work >= LD_MIN_PAR ? l->nthreads : 1, started = 0;
	sigset_t all, old;

	atomic_init(&r.next, 0);
	if (nt > njobs)
		nt = (unsigned)njobs;
	if (nt > 1) {
		/* Signals stay with the threads that handle them. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (unsigned i = 1; i < nt; i++) {
			l->wk[i].run = &r;
			if (pthread_create(&l->wk[i].th, NULL, worker_main,
					   &l->wk[i]))
				break;
			started++;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	l->wk[0].run = &r;
	worker_main(&l->wk[0]);
	for (unsigned i = 1; i <= started; i++)
		pthread_join(l->wk[i].th, NULL);
}

/* One job of n entries idx[] under parent p.  0 or -ENOMEM. */
static int push_job(struct pt_mig_load *l, uint32_t p, const uint32_t *idx,
		    uint32_t n)
{
	struct ld_job *nv = pt_mig_grow(l->jobs, &l->jcap, l->njobs,
					sizeof(*l->jobs), 64);

	if (!nv)
		return -ENOMEM;
	l->jobs = nv;
	l->jobs[l->njobs++] = (struct ld_job){ .p = p, .n = n, .idx = idx };
	return 0;
}

/* Jobs of at most LD_CHUNK entries for idx[0..n).  0 or -ENOMEM. */
static int add_job(struct pt_mig_load *l, uint32_t p, const uint32_t *idx,
		   uint32_t n)
{
	while (n) {
		uint32_t k = n < LD_CHUNK ? n : LD_CHUNK;

		if (push_job(l, p, idx, k))
			return -ENOMEM;
		idx += k;
		n -= k;
	}
	return 0;
}

static void ld_ino_close(struct ld_ino *x)
{
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	x->fh = NULL;
}

/*
 * An entry that cannot be restored: fatal under --migration-on-error=
 * abort (returns err), else staged as invalid (returns 0).
 */
static int entry_failed(struct pt_mig_load *l, struct ld_ino *x, int err,
			const char *why)
{
	const char *name = x->kind == PT_MIG_FHANDLE ? "(file handle)" :
			   x->name;

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

static bool key_taken(const struct pt_mig_load *l, const struct ld_ino *x)
{
	struct pt_key k = { x->dev, x->ino, x->mnt_id };
	size_t pos = SIZE_MAX, idx;
	const struct pt_inode *root = l->fs->root;

	if (root->key.dev == x->dev && root->key.ino == x->ino &&
	    root->key.mnt_id == x->mnt_id)
		return true;
	while (pt_imap_next(&l->by_key, pt_mig_key_hash(&k), &pos, &idx)) {
		const struct ld_ino *e = &l->iv[idx];

		if (e->dev == x->dev && e->ino == x->ino &&
		    e->mnt_id == x->mnt_id)
			return true;
	}
	return false;
}

/* After a step: apply its results in stream order (entries idx[0..n)). */
static int check_step(struct pt_mig_load *l, const uint32_t *idx, size_t n)
{
	int ret;

	for (size_t i = 0; i < n; i++) {
		struct ld_ino *x = &l->iv[idx[i]];
		struct pt_key k;

		if (x->invalid)
			continue;   /* sent as INVALID */
		if (x->fast) {   /* the short way, whatever it found */
			l->n_fast++;
			l->n_listed += x->dent;
		}
		if (x->kind == PT_MIG_PATH) {
			const struct ld_ino *p = &l->iv[x->ref];

			if (p->invalid) {
				ret = entry_failed(l, x, -p->err,
						   "its parent was not restored");
				if (ret)
					return ret;
				continue;
			}
			if (!S_ISDIR(p->mode)) {
				LOG_ERR("migration: inode %llu (\"%s\"): parent "
					"%llu not loaded before it or not a "
					"directory", (unsigned long long)x->nodeid,
					x->name, (unsigned long long)p->nodeid);
				return -EINVAL;
			}
		}
		if (x->res) {
			if (!x->why)
				return x->res;
			ret = entry_failed(l, x, x->res, x->why);
			if (ret)
				return ret;
			continue;
		}
		if (key_taken(l, x)) {
			ret = entry_failed(l, x, -EEXIST, "same host file as "
					   "another migrated inode");
			if (ret)
				return ret;
			continue;
		}
		k = (struct pt_key){ x->dev, x->ino, x->mnt_id };
		if (pt_imap_add(&l->by_key, pt_mig_key_hash(&k), idx[i]))
			return -ENOMEM;
		if (x->fh)
			mount_learn(l, x->fh->mnt);
	}
	return 0;
}

/* Job of the handle step: reopen its handles with their flags. */
static void job_handles(struct pt_mig_load *l, struct ld_arena *a,
			const struct ld_job *jb)
{
	struct pt_fs *fs = l->fs;

	(void)a;
	for (uint32_t i = 0; i < jb->n; i++) {
		struct ld_hnd *y = &l->hv[jb->idx[i]];
		const struct ld_ino *x = &l->iv[y->ino];
		int flags, fd, tfd = -1;
		char fdn[24];

		if (y->skip)
			continue;
		fd = x->is_root ? pt_root_fd(fs) : x->fd;
		if (fd < 0) {
			tfd = fhd_open(fs, x->fh, O_PATH);
			if (tfd < 0) {
				y->res = tfd;
				continue;
			}
			fd = tfd;
		}
		pt_fdname(fd, fdn, sizeof(fdn));
		if (y->is_dir)
			flags = O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC;
		else   /* never truncate again, never create */
			flags = pt_open_flags(fs, y->flags) &
				~(O_TRUNC | O_DIRECTORY);
		y->fd = openat(fs->proc_self_fd, fdn, flags);
		if (y->fd < 0)
			y->res = -errno;
		if (tfd >= 0)
			close(tfd);
	}
}

/* The handles: checks, then reopened in parallel, then their failures in
 * stream order. */
static int finish_handles(struct pt_mig_load *l, uint32_t *hidx)
{
	struct pt_fs *fs = l->fs;

	for (size_t i = 0; i < l->hn; i++) {
		struct ld_hnd *y = &l->hv[i];
		const struct ld_ino *x = &l->iv[y->ino];

		hidx[i] = (uint32_t)i;
		if (x->invalid) {
			LOG_WARN("migration: handle %llu of lost inode %llu: the "
				 "guest will get errors for it",
				 (unsigned long long)y->fh,
				 (unsigned long long)x->nodeid);
			l->skipped++;
			y->skip = true;
			y->err = x->err;
			continue;
		}
		if (!x->is_root &&
		    (y->is_dir ? !S_ISDIR(x->mode) : !S_ISREG(x->mode))) {
			LOG_ERR("migration: handle %llu: inode %llu has the "
				"wrong type", (unsigned long long)y->fh,
				(unsigned long long)x->nodeid);
			return -EINVAL;
		}
	}
	l->njobs = 0;
	if (add_job(l, NO_IDX, hidx, (uint32_t)l->hn))
		return -ENOMEM;
	run_jobs(l, l->jobs, l->njobs, l->hn, job_handles);
	for (size_t i = 0; i < l->hn; i++) {
		struct ld_hnd *y = &l->hv[i];
		uint64_t nodeid = l->iv[y->ino].nodeid;

		if (!y->res)
			continue;
		if (fs->cfg.mig_on_error != PT_MIG_ERR_GUEST) {
			LOG_ERR("migration: handle %llu of inode %llu: reopen "
				"with flags %#x: %s", (unsigned long long)y->fh,
				(unsigned long long)nodeid, (unsigned)y->flags,
				strerror(-y->res));
			return y->res;
		}
		LOG_WARN("migration: handle %llu of inode %llu: reopen with "
			 "flags %#x: %s; the guest will get errors for it",
			 (unsigned long long)y->fh, (unsigned long long)nodeid,
			 (unsigned)y->flags, strerror(-y->res));
		l->skipped++;
		y->err = -y->res;
	}
	return 0;
}

/* The root entry (if any) and what the children of the root need. */
static int finish_root(struct pt_mig_load *l)
{
	struct pt_fs *fs = l->fs;
	struct ld_ino *x;
	struct pt_fh_buf b;
	struct stat st;
	int ret;

	if (pt_fh_on(fs) &&
	    !pt_fh_make(fs, pt_root_fd(fs), fs->root->key.mnt_id, &b))
		mount_learn(l, b.mnt);
	if (l->root_idx == NO_IDX)
		return 0;
	x = &l->iv[l->root_idx];
	ret = check_fhandle(l, FUSE_ROOT_ID, pt_root_fd(fs));
	if (ret) {
		LOG_ERR("migration: the shared directory is not the source's "
			"(file handle: %s)", strerror(-ret));
		return ret;
	}
	ret = pt_stat_fd(pt_root_fd(fs), &st, NULL);
	if (ret) {
		LOG_ERR("migration: statx of the shared directory: %s",
			strerror(-ret));
		return ret;
	}
	x->dev = fs->root->key.dev;
	x->ino = fs->root->key.ino;
	x->mnt_id = fs->root->key.mnt_id;
	x->ctime_s = st.st_ctim.tv_sec;
	x->ctime_ns = (uint32_t)st.st_ctim.tv_nsec;
	x->stable = (uint64_t)st.st_dev == x->dev &&
		    (uint64_t)st.st_ino == x->ino && dir_stable(&st);
	return 0;
}

/* Open the mounts of FHANDLE entries and the hidden directory. */
static void finish_dirs(struct pt_mig_load *l)
{
	struct pt_fs *fs = l->fs;

	for (size_t i = 0; i < l->mn; i++) {
		struct ld_mnt *m = &l->mv[i];

		m->fd = pt_migfh_open_mount(fs, m->path, m->pathlen);
		if (m->fd < 0) {
			m->err = -m->fd;
			LOG_WARN("migration: mount %llu (\"%s\"): cannot open "
				 "it in the shared dir: %s",
				 (unsigned long long)m->mnt_id, m->path,
				 strerror(m->err));
		}
	}
	if (l->n_unlinked) {
		l->hidden_fd = openat(pt_root_fd(fs), PT_MIG_DIR, O_RDONLY |
				      O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		l->hidden_res = l->hidden_fd < 0 ? -errno : 0;
	}
}

/*
 * Grow this process's fd table once to hold about n more fds.  The kernel
 * grows it by doubling, and with several threads every growth waits for an
 * RCU grace period (milliseconds each on a busy host): opening ten
 * thousand fds one by one spent most of its time there.  A table never
 * shrinks, so one F_DUPFD at the top leaves room for all of them.
 */
static void fd_table_reserve(size_t n)
{
	struct rlimit rl;
	size_t top;
	int fd;

	if (n < 256 || getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 128)
		return;
	top = n + 64;
	if (rl.rlim_cur != RLIM_INFINITY && top >= rl.rlim_cur)
		top = rl.rlim_cur - 1;
	if (top > INT_MAX)
		top = INT_MAX;
	fd = fcntl(0, F_DUPFD_CLOEXEC, (int)top);
	if (fd >= 0)
		close(fd);
}

static unsigned ld_threads(void)
{
	cpu_set_t set;
	int n = 1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > LD_MAX_THREADS ? LD_MAX_THREADS : (unsigned)n;
}

static double ld_now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Open everything staged; see passthrough.h. */
int pt_mig_load_finish(struct pt_mig_load *l)
{
	uint32_t *order = NULL, *solo = NULL, maxd = 0;
	size_t *lvl = NULL, nsolo = 0, pos;
	double t0 = ld_now_ms(CLOCK_MONOTONIC);
	double c0 = ld_now_ms(CLOCK_PROCESS_CPUTIME_ID);
	int ret = -ENOMEM;

	if (!l)
		return 0;
	if (l->finished || l->failed)
		return l->failed ? -EINVAL : 0;
	l->failed = true;   /* until it succeeds */
	l->nthreads = ld_threads();
	l->keep_max = pt_fh_on(l->fs) ? l->fs->fh.max : SIZE_MAX;
	ret = finish_root(l);
	if (ret)
		return ret;
	finish_dirs(l);
	/* Every inode held by an fd, the directories kept, the handles. */
	fd_table_reserve((pt_fh_on(l->fs) ? (l->in < l->keep_max ? l->in :
					    l->keep_max) : l->in) + l->hn);
	ret = -ENOMEM;

	/* Entries by depth (stream order within one), and the children of
	 * every parent together (l->kids, stream order within one). */
	for (size_t i = 0; i < l->in; i++)
		if (l->iv[i].depth > maxd)
			maxd = l->iv[i].depth;
	order = malloc((l->in ? l->in : 1) * sizeof(*order));
	solo = malloc((l->in ? l->in : 1) * sizeof(*solo));
	l->kids = malloc((l->in ? l->in : 1) * sizeof(*l->kids));
	lvl = calloc((size_t)maxd + 2, sizeof(*lvl));
	if (!order || !solo || !l->kids || !lvl)
		goto out;
	for (size_t i = 0; i < l->in; i++)
		lvl[l->iv[i].depth + 1]++;
	for (uint32_t d = 0; d <= maxd; d++)
		lvl[d + 1] += lvl[d];
	for (size_t i = 0; i < l->in; i++)
		order[lvl[l->iv[i].depth]++] = (uint32_t)i;
	for (uint32_t d = maxd + 1; d > 0; d--)
		lvl[d] = lvl[d - 1];
	lvl[0] = 0;
	pos = 0;
	for (size_t i = 0; i < l->in; i++) {
		l->iv[i].kid0 = (uint32_t)pos;
		pos += l->iv[i].nchild;
		l->iv[i].nchild = 0;   /* counted again while filling */
	}
	for (size_t i = 0; i < l->in; i++) {
		struct ld_ino *x = &l->iv[i];

		if (x->kind == PT_MIG_PATH) {
			struct ld_ino *p = &l->iv[x->ref];

			l->kids[p->kid0 + p->nchild++] = (uint32_t)i;
		} else if (!x->invalid && !x->is_root) {
			solo[nsolo++] = (uint32_t)i;
		}
	}

	for (uint32_t d = 1; d <= maxd; d++) {
		const uint32_t *up = order + lvl[d - 1];
		size_t nup = lvl[d] - lvl[d - 1];

		l->njobs = 0;
		if (d == 1 && add_job(l, NO_IDX, solo, (uint32_t)nsolo))
			goto out;
		for (size_t i = 0; i < nup; i++) {
			const struct ld_ino *p = &l->iv[up[i]];

			if (p->nchild &&
			    add_job(l, up[i], l->kids + p->kid0, p->nchild))
				goto out;
		}
		if (pt_fh_on(l->fs)) {
			size_t nopen = l->njobs, work = 0;

			/* Listing step: one job per stable parent with enough
			 * children, after the open jobs in l->jobs. */
			for (size_t i = 0; i < nup; i++) {
				const struct ld_ino *p = &l->iv[up[i]];

				if (p->nchild < 16 || !p->stable || p->invalid ||
				    !S_ISDIR(p->mode))
					continue;
				if (push_job(l, up[i], l->kids + p->kid0,
					     p->nchild))
					goto out;
				work += p->nchild;
			}
			run_jobs(l, l->jobs + nopen, l->njobs - nopen, work,
				 job_list);
			l->njobs = nopen;
		}
		run_jobs(l, l->jobs, l->njobs, lvl[d + 1] - lvl[d], job_inodes);
		ret = check_step(l, order + lvl[d], lvl[d + 1] - lvl[d]);
		/* The parents' fds kept for this step are done with. */
		for (size_t i = 0; i < nup; i++) {
			struct ld_ino *p = &l->iv[up[i]];

			if (p->kept) {
				if (p->fd >= 0)
					close(p->fd);
				p->fd = -1;
				p->kept = false;
				atomic_fetch_sub(&l->kept, 1);
			}
		}
		if (ret)
			goto out;
		ret = -ENOMEM;
	}
	free(order);
	order = malloc((l->hn ? l->hn : 1) * sizeof(*order));
	ret = order ? finish_handles(l, order) : -ENOMEM;
	if (ret)
		goto out;
	l->finished = true;
	l->failed = false;
	LOG_DBG("migration: opened %zu inodes (%zu by name_to_handle_at, "
		"%zu of them without statx (listed); %zu again the long way) "
		"and %zu handles with %u thread(s) in %.1f ms (CPU %.1f ms)",
		l->in, l->n_fast, l->n_listed, (size_t)atomic_load(&l->redone),
		l->hn, l->nthreads,
		ld_now_ms(CLOCK_MONOTONIC) - t0,
		ld_now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0);
out:
	free(order);
	free(solo);
	free(lvl);
	free(l->kids);
	l->kids = NULL;
	free(l->jobs);
	l->jobs = NULL;
	l->njobs = l->jcap = 0;
	return ret;
}

static void ld_free(struct pt_mig_load *l)
{
	for (size_t i = 0; i < l->in; i++)
		ld_ino_close(&l->iv[i]);
	for (size_t i = 0; i < l->hn; i++)
		if (l->hv[i].fd >= 0)
			close(l->hv[i].fd);
	for (size_t i = 0; i < l->mn; i++) {
		if (l->mv[i].fd >= 0)
			close(l->mv[i].fd);
		free(l->mv[i].path);
	}
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
	arena_free(&l->names);
	for (unsigned i = 0; i < LD_MAX_THREADS; i++)
		arena_free(&l->wk[i].arena);
	free(l->kids);
	free(l->jobs);
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
	double t0, c0;
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
	if (!l->finished) {
		ret = pt_mig_load_finish(l);
		if (ret) {
			pt_mig_load_abort(l);
			return ret;
		}
	}
	t0 = ld_now_ms(CLOCK_MONOTONIC);
	c0 = ld_now_ms(CLOCK_PROCESS_CPUTIME_ID);
	ins = calloc(l->in ? l->in : 1, sizeof(*ins));
	if (!ins) {
		pt_mig_load_abort(l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->in && !ret; i++) {
		struct ld_ino *x = &l->iv[i];
		struct pt_fh_buf b;
		struct stat st;

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
		memset(&st, 0, sizeof(st));
		st.st_dev = (dev_t)x->dev;
		st.st_ino = (ino_t)x->ino;
		st.st_mode = (mode_t)x->mode;
		if (x->fh) {
			b.mnt = x->fh->mnt;
			b.type = x->fh->type;
			b.len = x->fh->len;
			memcpy(b.bytes, x->fh->b, x->fh->len);
		}
		ret = pt_inode_insert_with_id(fs, x->nodeid, x->fd,
					      x->fh ? &b : NULL, &st, x->mnt_id,
					      x->nlookup, &ins[i]);
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
		const struct ld_ino *x = &l->iv[i];

		if (x->kind == PT_MIG_UNLINKED && !x->invalid &&
		    l->hidden_fd >= 0 && unlinkat(l->hidden_fd, x->name, 0) < 0)
			LOG_WARN("migration: cannot remove " PT_MIG_DIR "/%s: %m",
				 x->name);
	}
	if (l->hidden_fd >= 0 &&
	    unlinkat(pt_root_fd(fs), PT_MIG_DIR, AT_REMOVEDIR) < 0 &&
	    errno != ENOTEMPTY && errno != ENOENT)
		LOG_DBG("migration: rmdir " PT_MIG_DIR ": %m");
	if (l->skipped)
		LOG_WARN("migration: %zu inode(s)/handle(s) installed as invalid "
			 "(the guest gets errors for them)", l->skipped);
	if (l->fn)
		LOG_INFO("migration: %zu file handle(s) verified",
			 (size_t)atomic_load(&l->fh_checked));
	LOG_DBG("migration: tables installed in %.1f ms (CPU %.1f ms)",
		ld_now_ms(CLOCK_MONOTONIC) - t0,
		ld_now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0);
	ld_free(l);
	return 0;
}
