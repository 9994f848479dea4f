/*
 * test_pt_ops.c - the passthrough file system driven through the FUSE
 * session (fuse_session_process) with requests built in ordinary memory,
 * against a temporary directory.
 *
 * Needs root for the credential tests (skipped otherwise).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"
#include "passthrough.h"
#include "log.h"

static int failures;

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #c);                            \
			failures++;                                       \
		}                                                         \
	} while (0)
#define CHECK_EQ(a, b)                                                    \
	do {                                                              \
		long long _a = (long long)(a), _b = (long long)(b);       \
		if (_a != _b) {                                           \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);      \
			failures++;                                       \
		}                                                         \
	} while (0)

struct t {
	struct pt_fs *fs;
	struct fuse_session *se;
	struct fuse_worker *w;
	uint64_t unique;
	uint32_t uid, gid;
	uint64_t init_flags;
};

static char rep[2 * 1024 * 1024 + 4096];

/*
 * Send one request: header + the pieces (each its own iovec, to exercise
 * split buffers).  The reply payload (after fuse_out_header) is copied to
 * out (up to outsz).  Returns the payload length, or -errno from the reply
 * header, or 1000000 when no reply was written.
 */
static long callv(struct t *t, uint32_t op, uint64_t nodeid, size_t reply_room,
		  void *out, size_t outsz, int n, ...)
{
	struct iovec iov[16], in;
	struct fuse_in_header h;
	struct fuse_out_header oh;
	size_t written = 0, len = sizeof(h);
	va_list ap;
	int r;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		iov[i + 1].iov_base = va_arg(ap, void *);
		iov[i + 1].iov_len = va_arg(ap, size_t);
		len += iov[i + 1].iov_len;
	}
	va_end(ap);
	memset(&h, 0, sizeof(h));
	h.len = (uint32_t)len;
	h.opcode = op;
	h.unique = ++t->unique;
	h.nodeid = nodeid;
	h.uid = t->uid;
	h.gid = t->gid;
	h.pid = 1;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	in.iov_base = rep;
	in.iov_len = sizeof(oh) + reply_room;
	memset(rep, 0xa5, sizeof(oh));
	r = fuse_session_process(t->w, iov, (unsigned)n + 1, &in, 1, &written);
	if (r)
		return r;
	if (written == 0)
		return 1000000;
	memcpy(&oh, rep, sizeof(oh));
	if (oh.unique != h.unique || oh.len != written)
		return -1000;
	if (oh.error)
		return oh.error;
	if (out)
		memcpy(out, rep + sizeof(oh),
		       written - sizeof(oh) < outsz ? written - sizeof(oh) : outsz);
	return (long)(written - sizeof(oh));
}

#define ROOM 65536

static long do_init(struct t *t)
{
	struct fuse_init_in in;
	struct fuse_init_out out;
	long r;

	memset(&in, 0, sizeof(in));
	in.major = 7;
	in.minor = 38;
	in.max_readahead = 65536;
	in.flags = 0x7fffffffu; /* all but FUSE_INIT_RESERVED */
	in.flags |= FUSE_INIT_EXT;
	in.flags2 = 0;
	memset(&out, 0, sizeof(out));
	r = callv(t, FUSE_INIT, 0, sizeof(out), &out, sizeof(out), 1, &in,
		  sizeof(in));
	if (r >= 0)
		t->init_flags = out.flags | ((uint64_t)out.flags2 << 32);
	return r;
}

static long lookup(struct t *t, uint64_t parent, const char *name,
		   struct fuse_entry_out *e)
{
	return callv(t, FUSE_LOOKUP, parent, ROOM, e, sizeof(*e), 1, name,
		     strlen(name) + 1);
}

static void forget(struct t *t, uint64_t ino, uint64_t n)
{
	struct fuse_forget_in f = { .nlookup = n };

	CHECK_EQ(callv(t, FUSE_FORGET, ino, ROOM, NULL, 0, 1, &f, sizeof(f)),
		 1000000);
}

static long mkdir_(struct t *t, uint64_t parent, const char *name, mode_t m,
		   struct fuse_entry_out *e)
{
	struct fuse_mkdir_in a = { .mode = m, .umask = 0 };

	return callv(t, FUSE_MKDIR, parent, ROOM, e, sizeof(*e), 2, &a,
		     sizeof(a), name, strlen(name) + 1);
}

struct create_out {
	struct fuse_entry_out e;
	struct fuse_open_out o;
};

static long create_(struct t *t, uint64_t parent, const char *name, int flags,
		    mode_t m, struct create_out *co)
{
	struct fuse_create_in a = { .flags = (uint32_t)flags, .mode = m };

	return callv(t, FUSE_CREATE, parent, ROOM, co, sizeof(*co), 2, &a,
		     sizeof(a), name, strlen(name) + 1);
}

static long open_(struct t *t, uint64_t ino, int flags, uint64_t *fh,
		  uint32_t *oflags)
{
	struct fuse_open_in a = { .flags = (uint32_t)flags };
	struct fuse_open_out o;
	long r = callv(t, FUSE_OPEN, ino, ROOM, &o, sizeof(o), 1, &a, sizeof(a));

	if (r >= 0) {
		*fh = o.fh;
		if (oflags)
			*oflags = o.open_flags;
	}
	return r;
}

static long opendir_(struct t *t, uint64_t ino, uint64_t *fh)
{
	struct fuse_open_in a = { .flags = O_RDONLY };
	struct fuse_open_out o;
	long r = callv(t, FUSE_OPENDIR, ino, ROOM, &o, sizeof(o), 1, &a,
		       sizeof(a));

	if (r >= 0)
		*fh = o.fh;
	return r;
}

static long release_(struct t *t, uint32_t op, uint64_t ino, uint64_t fh)
{
	struct fuse_release_in a = { .fh = fh };

	return callv(t, op, ino, ROOM, NULL, 0, 1, &a, sizeof(a));
}

static long getattr_(struct t *t, uint64_t ino, struct fuse_attr_out *ao)
{
	struct fuse_getattr_in a = { 0 };

	return callv(t, FUSE_GETATTR, ino, ROOM, ao, sizeof(*ao), 1, &a,
		     sizeof(a));
}

static long setattr_(struct t *t, uint64_t ino, struct fuse_setattr_in *a,
		     struct fuse_attr_out *ao)
{
	return callv(t, FUSE_SETATTR, ino, ROOM, ao, sizeof(*ao), 1, a,
		     sizeof(*a));
}

static long access_(struct t *t, uint64_t ino, int mask)
{
	struct fuse_access_in a = { .mask = (uint32_t)mask };

	return callv(t, FUSE_ACCESS, ino, ROOM, NULL, 0, 1, &a, sizeof(a));
}

static long unlink_(struct t *t, uint32_t op, uint64_t parent,
		    const char *name)
{
	return callv(t, op, parent, ROOM, NULL, 0, 1, name, strlen(name) + 1);
}

static long rename2_(struct t *t, uint64_t p, const char *a, uint64_t np,
		     const char *b, uint32_t flags)
{
	struct fuse_rename2_in r = { .newdir = np, .flags = flags };

	return callv(t, FUSE_RENAME2, p, ROOM, NULL, 0, 3, &r, sizeof(r), a,
		     strlen(a) + 1, b, strlen(b) + 1);
}

static struct pt_stats stats(struct t *t)
{
	struct pt_stats s;

	pt_fs_stats(t->fs, &s);
	return s;
}

/* Parse a READDIR(PLUS) reply: count entries, collect names (joined by
 * '/') and, for PLUS, the node ids; returns the last d_off. */
static uint64_t parse_dir(const char *buf, long len, bool plus, char *names,
			  size_t nsz, uint64_t *ids, int *nids, int *count)
{
	long pos = 0;
	uint64_t last = 0;

	while (pos < len) {
		const struct fuse_dirent *d;
		uint64_t id = 0;

		if (plus) {
			const struct fuse_direntplus *dp =
				(const void *)(buf + pos);

			d = &dp->dirent;
			id = dp->entry_out.nodeid;
			pos += FUSE_DIRENTPLUS_SIZE(dp);
		} else {
			d = (const void *)(buf + pos);
			pos += FUSE_DIRENT_SIZE(d);
		}
		(*count)++;
		strncat(names, "/", nsz - strlen(names) - 1);
		strncat(names, d->name,
			d->namelen < nsz - strlen(names) - 1 ?
			d->namelen : nsz - strlen(names) - 1);
		if (plus && id && ids)
			ids[(*nids)++] = id;
		last = d->off;
	}
	return last;
}

static char dir[256];
static bool g_killpriv;

static void setup_cfg(struct t *t, const char *dir, bool readonly,
		      enum pt_cache cache, bool writeback)
{
	struct pt_config cfg;
	int err = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.shared_dir = dir;
	cfg.cache = cache;
	cfg.readdirplus = true;
	cfg.xattr = true;
	cfg.announce_submounts = true;
	cfg.readonly = readonly;
	cfg.writeback = writeback;
	cfg.killpriv_v2 = g_killpriv;
	memset(t, 0, sizeof(*t));
	t->fs = pt_fs_new(&cfg, &err);
	if (!t->fs) {
		fprintf(stderr, "pt_fs_new: %s\n", strerror(-err));
		exit(1);
	}
	t->se = fuse_virtio_session_new(pt_lowlevel_ops(),
					sizeof(struct fuse_lowlevel_ops),
					pt_virtio_ops(), t->fs);
	t->w = fuse_worker_new(t->se);
	if (!t->se || !t->w)
		exit(1);
	CHECK(do_init(t) >= 0);
}

static void setup(struct t *t, const char *dir, bool readonly)
{
	setup_cfg(t, dir, readonly, PT_CACHE_AUTO, false);
}

static void teardown(struct t *t)
{
	fuse_worker_free(t->w);
	fuse_virtio_session_free(t->se);
	pt_fs_free(t->fs);
}


static void hpath(char *buf, size_t n, const char *rel)
{
	snprintf(buf, n, "%s/%s", dir, rel);
}

static void test_basic(void)
{
	struct t t;
	struct fuse_entry_out e, e2, ed;
	struct create_out co;
	struct fuse_attr_out ao;
	struct stat st;
	char p[512], buf[8192];
	uint64_t fh, dfh;
	long r;

	setup(&t, dir, false);
	CHECK(t.init_flags & FUSE_DO_READDIRPLUS);
	CHECK(t.init_flags & FUSE_PARALLEL_DIROPS);
	CHECK(!(t.init_flags & FUSE_WRITEBACK_CACHE));
	CHECK(!(t.init_flags & FUSE_EXPORT_SUPPORT));
	CHECK_EQ(stats(&t).inodes, 1);

	/* lookup errors */
	CHECK_EQ(lookup(&t, 1, "nonexistent", &e), -ENOENT);
	CHECK_EQ(lookup(&t, 1, "a/b", &e), -EINVAL);
	CHECK_EQ(lookup(&t, 12345, "x", &e), -EBADF);
	CHECK(lookup(&t, 1, "..", &e) >= 0);
	CHECK_EQ(e.nodeid, 1);
	forget(&t, 1, 1);
	CHECK(lookup(&t, 1, ".", &e) >= 0);
	CHECK_EQ(e.nodeid, 1);
	forget(&t, 1, 1);

	/* mkdir, create, write, read back */
	CHECK(mkdir_(&t, 1, "d", 0755, &ed) >= 0);
	CHECK(ed.nodeid >= 2);
	hpath(p, sizeof(p), "d");
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
	      (st.st_mode & 07777) == 0755);
	CHECK_EQ(mkdir_(&t, 1, "d", 0755, &e), -EEXIST);
	CHECK_EQ(mkdir_(&t, 1, "..", 0755, &e), -EINVAL);
	CHECK_EQ(mkdir_(&t, 1, "x/y", 0755, &e), -EINVAL);

	/* ".." of a subdirectory is the root, same node id */
	CHECK(lookup(&t, ed.nodeid, "..", &e) >= 0);
	CHECK_EQ(e.nodeid, 1);
	forget(&t, 1, 1);

	r = create_(&t, ed.nodeid, "f", O_RDWR | O_CREAT | O_EXCL, 0640, &co);
	CHECK(r >= 0);
	{
		struct create_out cx;

		CHECK_EQ(create_(&t, ed.nodeid, "f", O_RDWR | O_CREAT | O_EXCL,
				 0640, &cx), -EEXIST);
	}
	hpath(p, sizeof(p), "d/f");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640);
	fh = co.o.fh;
	{
		struct fuse_write_in w = { .fh = fh, .offset = 0, .size = 11 };
		struct fuse_write_out wo;

		r = callv(&t, FUSE_WRITE, co.e.nodeid, ROOM, &wo, sizeof(wo), 4,
			  &w, sizeof(w), "hel", (size_t)3, "lo w", (size_t)4,
			  "orld", (size_t)4);
		CHECK_EQ(r, sizeof(wo));
		CHECK_EQ(wo.size, 11);
		/* a bad fh */
		w.fh = 999999;
		w.size = 1;
		CHECK_EQ(callv(&t, FUSE_WRITE, co.e.nodeid, ROOM, &wo,
			       sizeof(wo), 2, &w, sizeof(w), "x", (size_t)1),
			 -EBADF);
	}
	{
		struct fuse_read_in rd = { .fh = fh, .offset = 0, .size = 100 };

		memset(buf, 0, sizeof(buf));
		r = callv(&t, FUSE_READ, co.e.nodeid, ROOM, buf, sizeof(buf), 1,
			  &rd, sizeof(rd));
		CHECK_EQ(r, 11);
		CHECK(!memcmp(buf, "hello world", 11));
		rd.offset = 6;
		r = callv(&t, FUSE_READ, co.e.nodeid, ROOM, buf, sizeof(buf), 1,
			  &rd, sizeof(rd));
		CHECK_EQ(r, 5);
		CHECK(!memcmp(buf, "world", 5));
	}
	CHECK(getattr_(&t, co.e.nodeid, &ao) >= 0);
	CHECK_EQ(ao.attr.size, 11);
	CHECK_EQ(ao.attr_valid, 1);
	{
		struct fuse_flush_in fl = { .fh = fh };
		struct fuse_fsync_in fs = { .fh = fh, .fsync_flags = 1 };

		CHECK_EQ(callv(&t, FUSE_FLUSH, co.e.nodeid, ROOM, NULL, 0, 1,
			       &fl, sizeof(fl)), 0);
		CHECK_EQ(callv(&t, FUSE_FSYNC, co.e.nodeid, ROOM, NULL, 0, 1,
			       &fs, sizeof(fs)), 0);
	}
	{
		struct fuse_fallocate_in fa = { .fh = fh, .offset = 0,
						.length = 8192 };
		struct fuse_lseek_in ls = { .fh = fh, .offset = 0,
					    .whence = SEEK_DATA };
		struct fuse_lseek_out lo;

		CHECK_EQ(callv(&t, FUSE_FALLOCATE, co.e.nodeid, ROOM, NULL, 0,
			       1, &fa, sizeof(fa)), 0);
		CHECK(callv(&t, FUSE_LSEEK, co.e.nodeid, ROOM, &lo, sizeof(lo),
			    1, &ls, sizeof(ls)) >= 0);
		CHECK_EQ(lo.offset, 0);
	}

	/* setattr: truncate through the inode, chmod, utimens */
	{
		struct fuse_setattr_in sa;

		memset(&sa, 0, sizeof(sa));
		sa.valid = FATTR_SIZE;
		sa.size = 5;
		CHECK(setattr_(&t, co.e.nodeid, &sa, &ao) >= 0);
		CHECK_EQ(ao.attr.size, 5);
		memset(&sa, 0, sizeof(sa));
		sa.valid = FATTR_MODE;
		sa.mode = S_IFREG | 0600;
		CHECK(setattr_(&t, co.e.nodeid, &sa, &ao) >= 0);
		CHECK_EQ(ao.attr.mode & 07777, 0600);
		memset(&sa, 0, sizeof(sa));
		sa.valid = FATTR_MTIME | FATTR_ATIME;
		sa.mtime = 12345;
		sa.atime = 54321;
		CHECK(setattr_(&t, co.e.nodeid, &sa, &ao) >= 0);
		CHECK_EQ(ao.attr.mtime, 12345);
		CHECK_EQ(ao.attr.atime, 54321);
		memset(&sa, 0, sizeof(sa));
		sa.valid = FATTR_MTIME | FATTR_MTIME_NOW;
		CHECK(setattr_(&t, co.e.nodeid, &sa, &ao) >= 0);
		CHECK(ao.attr.mtime > 12345);
		/* truncate through the handle */
		memset(&sa, 0, sizeof(sa));
		sa.valid = FATTR_SIZE | FATTR_FH;
		sa.fh = fh;
		sa.size = 3;
		CHECK(setattr_(&t, co.e.nodeid, &sa, &ao) >= 0);
		CHECK_EQ(ao.attr.size, 3);
		hpath(p, sizeof(p), "d/f");
		CHECK(stat(p, &st) == 0 && st.st_size == 3 &&
		      (st.st_mode & 07777) == 0600);
	}
	CHECK_EQ(release_(&t, FUSE_RELEASE, co.e.nodeid, fh), 0);
	CHECK_EQ(release_(&t, FUSE_RELEASE, co.e.nodeid, fh), -EBADF);
	CHECK_EQ(stats(&t).handles, 0);

	/* the same file by a second lookup and by a hard link: one inode */
	CHECK(lookup(&t, ed.nodeid, "f", &e) >= 0);
	CHECK_EQ(e.nodeid, co.e.nodeid);
	{
		struct fuse_link_in li = { .oldnodeid = co.e.nodeid };

		r = callv(&t, FUSE_LINK, ed.nodeid, ROOM, &e2, sizeof(e2), 2,
			  &li, sizeof(li), "g", (size_t)2);
		CHECK(r >= 0);
		CHECK_EQ(e2.nodeid, co.e.nodeid);
		CHECK_EQ(e2.attr.nlink, 2);
	}
	/* f: create + lookup + link = 3 */
	CHECK_EQ(stats(&t).inodes, 3);

	/* symlink + readlink */
	r = callv(&t, FUSE_SYMLINK, ed.nodeid, ROOM, &e, sizeof(e), 2, "s",
		  (size_t)2, "f", (size_t)2);
	CHECK(r >= 0);
	CHECK(S_ISLNK(e.attr.mode));
	{
		uint64_t sid = e.nodeid;

		r = callv(&t, FUSE_READLINK, sid, ROOM, buf, sizeof(buf), 0);
		CHECK_EQ(r, 1);
		CHECK(buf[0] == 'f');
		/* lookup does not follow the symlink */
		CHECK(lookup(&t, ed.nodeid, "s", &e) >= 0);
		CHECK_EQ(e.nodeid, sid);
		CHECK_EQ(open_(&t, sid, O_RDONLY, &fh, NULL), -ELOOP);
		forget(&t, sid, 2);
	}

	/* mknod fifo: created, never opened on the host */
	{
		struct fuse_mknod_in mk = { .mode = S_IFIFO | 0644 };

		r = callv(&t, FUSE_MKNOD, ed.nodeid, ROOM, &e, sizeof(e), 2,
			  &mk, sizeof(mk), "p", (size_t)2);
		CHECK(r >= 0);
		CHECK(S_ISFIFO(e.attr.mode));
		CHECK(open_(&t, e.nodeid, O_RDONLY, &fh, NULL) < 0);
		forget(&t, e.nodeid, 1);
		hpath(p, sizeof(p), "d/p");
		CHECK(stat(p, &st) == 0 && S_ISFIFO(st.st_mode));
	}

	/* statfs, access */
	{
		struct fuse_statfs_out so;

		CHECK(callv(&t, FUSE_STATFS, ed.nodeid, ROOM, &so, sizeof(so),
			    0) >= 0);
		CHECK(so.st.bsize > 0);
		CHECK_EQ(access_(&t, ed.nodeid, R_OK | W_OK | X_OK), 0);
		CHECK_EQ(access_(&t, co.e.nodeid, X_OK), -EACCES);
	}

	/* readdir: ".", "..", f, g, s, p */
	CHECK(opendir_(&t, ed.nodeid, &dfh) >= 0);
	{
		struct fuse_read_in rd = { .fh = dfh, .offset = 0, .size = 4096 };
		char names[512] = "";
		int count = 0, nids = 0;

		r = callv(&t, FUSE_READDIR, ed.nodeid, ROOM, buf, sizeof(buf),
			  1, &rd, sizeof(rd));
		CHECK(r > 0);
		parse_dir(buf, r, false, names, sizeof(names), NULL, &nids,
			  &count);
		CHECK_EQ(count, 6);
		CHECK(strstr(names, "/f") && strstr(names, "/g") &&
		      strstr(names, "/s") && strstr(names, "/p") &&
		      strstr(names, "/..") && strstr(names, "/."));
	}
	/* readdirplus in small chunks: every entry but . and .. counted
	 * once, none counted twice, none lost */
	{
		struct pt_stats before = stats(&t);
		uint64_t ids[64], off = 0;
		char names[512] = "";
		int count = 0, nids = 0, rounds = 0;

		for (;;) {
			struct fuse_read_in rd = { .fh = dfh, .offset = off,
						   .size = 200 };

			r = callv(&t, FUSE_READDIRPLUS, ed.nodeid, ROOM, buf,
				  sizeof(buf), 1, &rd, sizeof(rd));
			CHECK(r >= 0);
			if (r <= 0)
				break;
			CHECK(r <= 200);
			off = parse_dir(buf, r, true, names, sizeof(names), ids,
					&nids, &count);
			if (++rounds > 20)
				break;
		}
		CHECK_EQ(count, 6);
		CHECK_EQ(nids, 4);
		/* s and p were forgotten above: 2 new inodes */
		CHECK_EQ(stats(&t).inodes, before.inodes + 2);
		for (int i = 0; i < nids; i++)
			forget(&t, ids[i], 1);
		CHECK_EQ(stats(&t).inodes, before.inodes);
	}
	/* a bad dir handle */
	{
		struct fuse_read_in rd = { .fh = dfh + 100, .size = 4096 };

		CHECK_EQ(callv(&t, FUSE_READDIR, ed.nodeid, ROOM, buf,
			       sizeof(buf), 1, &rd, sizeof(rd)), -EBADF);
	}
	{
		struct fuse_fsync_in fs = { .fh = dfh };

		CHECK_EQ(callv(&t, FUSE_FSYNCDIR, ed.nodeid, ROOM, NULL, 0, 1,
			       &fs, sizeof(fs)), 0);
	}
	CHECK_EQ(release_(&t, FUSE_RELEASEDIR, ed.nodeid, dfh), 0);

	/* rename */
	CHECK_EQ(rename2_(&t, ed.nodeid, "f", ed.nodeid, "g", RENAME_NOREPLACE),
		 -EEXIST);
	CHECK_EQ(rename2_(&t, ed.nodeid, "f", ed.nodeid, "h", 0), 0);
	CHECK_EQ(rename2_(&t, ed.nodeid, "h", ed.nodeid, "s", RENAME_EXCHANGE),
		 0);
	hpath(p, sizeof(p), "d/h");
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK_EQ(rename2_(&t, ed.nodeid, "..", ed.nodeid, "x", 0), -EINVAL);
	CHECK_EQ(rename2_(&t, ed.nodeid, "s", 1, "moved", 0x80), -EINVAL);
	CHECK_EQ(rename2_(&t, ed.nodeid, "s", 1, "moved", 0), 0);
	/* the inode followed the file: getattr still works */
	CHECK(getattr_(&t, co.e.nodeid, &ao) >= 0);
	CHECK_EQ(ao.attr.size, 3);

	/* unlink / rmdir */
	CHECK_EQ(unlink_(&t, FUSE_RMDIR, 1, "d"), -ENOTEMPTY);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, ed.nodeid, "nothere"), -ENOENT);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, ed.nodeid, "g"), 0);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, ed.nodeid, "h"), 0);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, ed.nodeid, "p"), 0);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, 1, "moved"), 0);
	CHECK_EQ(unlink_(&t, FUSE_RMDIR, 1, "d"), 0);
	hpath(p, sizeof(p), "d");
	CHECK(stat(p, &st) < 0 && errno == ENOENT);

	/* forget everything: back to the root alone */
	forget(&t, co.e.nodeid, 3);
	{
		struct fuse_batch_forget_in bf = { .count = 1 };
		struct fuse_forget_one one = { .nodeid = ed.nodeid,
					       .nlookup = 1 };

		CHECK_EQ(callv(&t, FUSE_BATCH_FORGET, 0, ROOM, NULL, 0, 2, &bf,
			       sizeof(bf), &one, sizeof(one)), 1000000);
	}
	CHECK_EQ(stats(&t).inodes, 1);
	CHECK_EQ(stats(&t).handles, 0);
	/* forgotten ids are not reused */
	CHECK(mkdir_(&t, 1, "d2", 0700, &e) >= 0);
	CHECK(e.nodeid > co.e.nodeid && e.nodeid > ed.nodeid);
	CHECK_EQ(getattr_(&t, ed.nodeid, &ao), -EBADF);
	forget(&t, e.nodeid, 1);
	CHECK_EQ(unlink_(&t, FUSE_RMDIR, 1, "d2"), 0);
	teardown(&t);
}

static void test_extra(void)
{
	struct t t;
	struct fuse_entry_out e;
	struct create_out co, co2;
	char buf[4096];
	long r;

	setup(&t, dir, false);
	/* xattr */
	CHECK(create_(&t, 1, "x", O_RDWR | O_CREAT, 0644, &co) >= 0);
	{
		struct fuse_setxattr_in sx = { .size = 3 };
		struct fuse_getxattr_in gx = { .size = 0 };
		struct fuse_getxattr_out gxo;

		r = callv(&t, FUSE_SETXATTR, co.e.nodeid, ROOM, NULL, 0, 3, &sx,
			  (size_t)FUSE_COMPAT_SETXATTR_IN_SIZE, "user.t",
			  (size_t)7, "abc", (size_t)3);
		if (r == -ENOTSUP || r == -EOPNOTSUPP) {
			fprintf(stderr, "note: no user xattrs on %s\n", dir);
		} else {
			CHECK_EQ(r, 0);
			r = callv(&t, FUSE_GETXATTR, co.e.nodeid, ROOM, &gxo,
				  sizeof(gxo), 2, &gx, sizeof(gx), "user.t",
				  (size_t)7);
			CHECK(r >= 0);
			CHECK_EQ(gxo.size, 3);
			gx.size = 100;
			r = callv(&t, FUSE_GETXATTR, co.e.nodeid, ROOM, buf,
				  sizeof(buf), 2, &gx, sizeof(gx), "user.t",
				  (size_t)7);
			CHECK_EQ(r, 3);
			CHECK(!memcmp(buf, "abc", 3));
			r = callv(&t, FUSE_LISTXATTR, co.e.nodeid, ROOM, buf,
				  sizeof(buf), 1, &gx, sizeof(gx));
			CHECK(r >= 7 && memmem(buf, (size_t)r, "user.t", 7));
			CHECK_EQ(callv(&t, FUSE_REMOVEXATTR, co.e.nodeid, ROOM,
				       NULL, 0, 1, "user.t", (size_t)7), 0);
			gx.size = 100;
			CHECK_EQ(callv(&t, FUSE_GETXATTR, co.e.nodeid, ROOM,
				       buf, sizeof(buf), 2, &gx, sizeof(gx),
				       "user.t", (size_t)7), -ENODATA);
		}
	}
	/* copy_file_range */
	{
		struct fuse_write_in w = { .fh = co.o.fh, .size = 6 };
		struct fuse_write_out wo;
		struct fuse_copy_file_range_in cf;
		struct fuse_read_in rd;

		CHECK(callv(&t, FUSE_WRITE, co.e.nodeid, ROOM, &wo, sizeof(wo),
			    2, &w, sizeof(w), "abcdef", (size_t)6) >= 0);
		CHECK(create_(&t, 1, "y", O_RDWR | O_CREAT, 0644, &co2) >= 0);
		memset(&cf, 0, sizeof(cf));
		cf.fh_in = co.o.fh;
		cf.off_in = 2;
		cf.nodeid_out = co2.e.nodeid;
		cf.fh_out = co2.o.fh;
		cf.len = 4;
		r = callv(&t, FUSE_COPY_FILE_RANGE, co.e.nodeid, ROOM, &wo,
			  sizeof(wo), 1, &cf, sizeof(cf));
		CHECK(r >= 0);
		CHECK_EQ(wo.size, 4);
		memset(&rd, 0, sizeof(rd));
		rd.fh = co2.o.fh;
		rd.size = 100;
		r = callv(&t, FUSE_READ, co2.e.nodeid, ROOM, buf, sizeof(buf),
			  1, &rd, sizeof(rd));
		CHECK_EQ(r, 4);
		CHECK(!memcmp(buf, "cdef", 4));
	}
	/* tmpfile */
	{
		struct fuse_create_in a = { .flags = O_RDWR, .mode = 0600 };
		struct create_out ct;

		r = callv(&t, FUSE_TMPFILE, 1, ROOM, &ct, sizeof(ct), 1, &a,
			  sizeof(a));
		CHECK(r >= 0);
		if (r >= 0) {
			CHECK_EQ(ct.e.attr.nlink, 0);
			CHECK_EQ(release_(&t, FUSE_RELEASE, ct.e.nodeid,
					  ct.o.fh), 0);
			forget(&t, ct.e.nodeid, 1);
		}
	}
	/* syncfs */
	{
		struct fuse_syncfs_in sf = { 0 };

		CHECK_EQ(callv(&t, FUSE_SYNCFS, 1, ROOM, NULL, 0, 1, &sf,
			       sizeof(sf)), 0);
	}
	/* flock + OFD locks */
	{
		struct fuse_lk_in lk;

		memset(&lk, 0, sizeof(lk));
		lk.fh = co.o.fh;
		lk.lk.type = F_WRLCK;
		lk.lk.end = ~0ULL >> 1;
		CHECK_EQ(callv(&t, FUSE_SETLK, co.e.nodeid, ROOM, NULL, 0, 1,
			       &lk, sizeof(lk)), 0);
		lk.lk_flags = FUSE_LK_FLOCK;
		CHECK_EQ(callv(&t, FUSE_SETLK, co.e.nodeid, ROOM, NULL, 0, 1,
			       &lk, sizeof(lk)), 0);
	}
	/* open with O_TRUNC truncates */
	{
		uint64_t fh;
		struct fuse_attr_out ao;

		CHECK(open_(&t, co.e.nodeid, O_WRONLY | O_TRUNC, &fh, NULL) >= 0);
		CHECK(getattr_(&t, co.e.nodeid, &ao) >= 0);
		CHECK_EQ(ao.attr.size, 0);
		CHECK_EQ(stats(&t).handles, 3);
		/* reset: every handle and inode but the root goes */
		fuse_session_reset_state(t.se);
		CHECK_EQ(stats(&t).handles, 0);
		CHECK_EQ(stats(&t).inodes, 1);
		CHECK(do_init(&t) >= 0);
	}
	CHECK_EQ(lookup(&t, 1, "x", &e), sizeof(e));
	CHECK(e.nodeid > co2.e.nodeid);
	forget(&t, e.nodeid, 1);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, 1, "x"), 0);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, 1, "y"), 0);
	teardown(&t);
}

static void test_readonly(void)
{
	struct t t;
	struct fuse_entry_out e;
	struct create_out co;
	uint64_t fh;
	char p[512];
	int fd;

	hpath(p, sizeof(p), "ro");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	close(fd);
	setup(&t, dir, true);
	CHECK_EQ(mkdir_(&t, 1, "nd", 0755, &e), -EROFS);
	CHECK_EQ(create_(&t, 1, "nf", O_RDWR | O_CREAT, 0644, &co), -EROFS);
	CHECK(lookup(&t, 1, "ro", &e) >= 0);
	CHECK_EQ(open_(&t, e.nodeid, O_WRONLY, &fh, NULL), -EROFS);
	CHECK_EQ(open_(&t, e.nodeid, O_RDONLY | O_TRUNC, &fh, NULL), -EROFS);
	CHECK(open_(&t, e.nodeid, O_RDONLY, &fh, NULL) >= 0);
	CHECK_EQ(release_(&t, FUSE_RELEASE, e.nodeid, fh), 0);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, 1, "ro"), -EROFS);
	CHECK_EQ(access_(&t, e.nodeid, W_OK), -EROFS);
	{
		struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0600 };
		struct fuse_attr_out ao;

		CHECK_EQ(setattr_(&t, e.nodeid, &sa, &ao), -EROFS);
	}
	forget(&t, e.nodeid, 1);
	teardown(&t);
	CHECK(unlink(p) == 0);
}

/* Cache policy: timeouts, open flags, INIT flags. */
static void test_cache(void)
{
	static const struct {
		enum pt_cache c;
		uint64_t timeout;
		uint32_t file_flags, dir_flags;
		bool rdplus;
	} cases[] = {
		{ PT_CACHE_NEVER, 0, FOPEN_DIRECT_IO, 0, false },
		{ PT_CACHE_AUTO, 1, 0, 0, true },
		{ PT_CACHE_ALWAYS, 86400, FOPEN_KEEP_CACHE,
		  FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, true },
		{ PT_CACHE_METADATA, 86400, FOPEN_DIRECT_IO,
		  FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t t;
		struct create_out co;
		uint32_t of = 0;
		uint64_t fh;

		setup_cfg(&t, dir, false, cases[i].c, i == 2);
		CHECK_EQ(!!(t.init_flags & FUSE_DO_READDIRPLUS),
			 cases[i].rdplus);
		CHECK_EQ(!!(t.init_flags & FUSE_WRITEBACK_CACHE), i == 2);
		CHECK(create_(&t, 1, "c", O_WRONLY | O_CREAT, 0644, &co) >= 0);
		CHECK_EQ(co.e.entry_valid, cases[i].timeout);
		CHECK_EQ(co.e.attr_valid, cases[i].timeout);
		CHECK_EQ(co.o.open_flags & (FOPEN_DIRECT_IO | FOPEN_KEEP_CACHE),
			 cases[i].file_flags);
		if (i == 2) {
			/* writeback: O_WRONLY became O_RDWR, reads work */
			struct fuse_read_in rd = { .fh = co.o.fh, .size = 10 };
			char b[16];

			CHECK_EQ(callv(&t, FUSE_READ, co.e.nodeid, ROOM, b,
				       sizeof(b), 1, &rd, sizeof(rd)), 0);
		}
		CHECK_EQ(release_(&t, FUSE_RELEASE, co.e.nodeid, co.o.fh), 0);
		{
			struct fuse_open_in a = { .flags = O_RDONLY };
			struct fuse_open_out o;

			CHECK(callv(&t, FUSE_OPENDIR, 1, ROOM, &o, sizeof(o), 1,
				    &a, sizeof(a)) >= 0);
			of = o.open_flags;
			fh = o.fh;
		}
		CHECK_EQ(of & (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR |
			       FOPEN_DIRECT_IO), cases[i].dir_flags);
		CHECK_EQ(release_(&t, FUSE_RELEASEDIR, 1, fh), 0);
		forget(&t, co.e.nodeid, 1);
		CHECK_EQ(unlink_(&t, FUSE_UNLINK, 1, "c"), 0);
		CHECK_EQ(stats(&t).inodes, 1);
		teardown(&t);
	}
}

/* announce_submounts: a directory that is a mount point gets
 * FUSE_ATTR_SUBMOUNT, others do not (needs permission to mount). */
static void test_submount(void)
{
	struct t t;
	struct fuse_entry_out e;
	char p[512];

	hpath(p, sizeof(p), "mnt");
	CHECK(mkdir(p, 0755) == 0);
	if (mount("tmpfs", p, "tmpfs", 0, "size=1m") < 0) {
		fprintf(stderr, "note: cannot mount tmpfs, submount test skipped\n");
		rmdir(p);
		return;
	}
	setup(&t, dir, false);
	CHECK(lookup(&t, 1, "mnt", &e) >= 0);
	CHECK(e.attr.flags & FUSE_ATTR_SUBMOUNT);
	forget(&t, e.nodeid, 1);
	CHECK(mkdir_(&t, 1, "plain", 0755, &e) >= 0);
	CHECK(lookup(&t, 1, "plain", &e) >= 0);
	CHECK(!(e.attr.flags & FUSE_ATTR_SUBMOUNT));
	forget(&t, e.nodeid, 2);
	CHECK_EQ(unlink_(&t, FUSE_RMDIR, 1, "plain"), 0);
	teardown(&t);
	CHECK(umount(p) == 0);
	CHECK(rmdir(p) == 0);
}

/* HANDLE_KILLPRIV_V2: a write flagged KILL_SUIDGID clears the suid bit
 * even though the daemon is root; an unflagged one does not. */
static void test_killpriv(void)
{
	struct t t;
	struct create_out co;
	struct stat st;
	char p[512];

	if (geteuid() != 0)
		return;
	g_killpriv = true;
	setup(&t, dir, false);
	g_killpriv = false;
	CHECK(t.init_flags & FUSE_HANDLE_KILLPRIV_V2);
	CHECK(create_(&t, 1, "suid", O_RDWR | O_CREAT, 04755, &co) >= 0);
	hpath(p, sizeof(p), "suid");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 04755);
	{
		struct fuse_write_in w = { .fh = co.o.fh, .size = 1 };
		struct fuse_write_out wo;

		CHECK(callv(&t, FUSE_WRITE, co.e.nodeid, ROOM, &wo, sizeof(wo),
			    2, &w, sizeof(w), "a", (size_t)1) >= 0);
		CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 04755);
		w.write_flags = FUSE_WRITE_KILL_SUIDGID;
		CHECK(callv(&t, FUSE_WRITE, co.e.nodeid, ROOM, &wo, sizeof(wo),
			    2, &w, sizeof(w), "b", (size_t)1) >= 0);
		CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
	}
	CHECK_EQ(release_(&t, FUSE_RELEASE, co.e.nodeid, co.o.fh), 0);
	forget(&t, co.e.nodeid, 1);
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, 1, "suid"), 0);
	teardown(&t);
}

static void test_creds(void)
{
	struct t t;
	struct fuse_entry_out e, ep, eo;
	struct create_out co;
	struct stat st;
	char p[512];

	if (geteuid() != 0) {
		fprintf(stderr, "note: not root, credential tests skipped\n");
		return;
	}
	setup(&t, dir, false);
	CHECK(mkdir_(&t, 1, "priv", 0700, &ep) >= 0);
	CHECK(mkdir_(&t, 1, "open", 0777, &eo) >= 0);
	t.uid = 1000;
	t.gid = 1000;
	CHECK_EQ(create_(&t, ep.nodeid, "f", O_RDWR | O_CREAT, 0644, &co),
		 -EACCES);
	CHECK_EQ(mkdir_(&t, ep.nodeid, "sub", 0755, &e), -EACCES);
	CHECK_EQ(access_(&t, ep.nodeid, R_OK), -EACCES);
	CHECK_EQ(access_(&t, eo.nodeid, R_OK | W_OK | X_OK), 0);
	{
		uint64_t fh;

		CHECK_EQ(opendir_(&t, ep.nodeid, &fh), -EACCES);
	}
	{
		struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
		struct fuse_attr_out ao;

		CHECK_EQ(setattr_(&t, ep.nodeid, &sa, &ao), -EPERM);
	}
	/* files created by the caller belong to the caller */
	CHECK(create_(&t, eo.nodeid, "mine", O_RDWR | O_CREAT, 0600, &co) >= 0);
	hpath(p, sizeof(p), "open/mine");
	CHECK(stat(p, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000);
	CHECK_EQ(release_(&t, FUSE_RELEASE, co.e.nodeid, co.o.fh), 0);
	/* another user may not open it */
	t.uid = 1001;
	t.gid = 1001;
	{
		uint64_t fh;

		CHECK_EQ(open_(&t, co.e.nodeid, O_RDONLY, &fh, NULL), -EACCES);
	}
	/* the thread is root again afterwards */
	CHECK(geteuid() == 0 && getegid() == 0);
	t.uid = 0;
	t.gid = 0;
	CHECK_EQ(unlink_(&t, FUSE_UNLINK, eo.nodeid, "mine"), 0);
	CHECK_EQ(unlink_(&t, FUSE_RMDIR, 1, "open"), 0);
	CHECK_EQ(unlink_(&t, FUSE_RMDIR, 1, "priv"), 0);
	forget(&t, co.e.nodeid, 1);
	forget(&t, ep.nodeid, 1);
	forget(&t, eo.nodeid, 1);
	CHECK_EQ(stats(&t).inodes, 1);
	teardown(&t);
}

int main(void)
{
	char cmd[300];

	vlog_init(getenv("PT_TEST_DEBUG") ? VLOG_DEBUG : VLOG_WARN, false);
	snprintf(dir, sizeof(dir), "/tmp/test_pt_ops.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_basic();
	test_extra();
	test_readonly();
	test_cache();
	test_submount();
	test_killpriv();
	test_creds();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("test_pt_ops: all checks passed\n");
	return 0;
}
