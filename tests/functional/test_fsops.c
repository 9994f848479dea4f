/*
 * test_fsops.c - every opcode of the foundation list against the real
 * daemon, success and error cases, with the effect checked on the host
 * side of the shared directory.
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID

static struct stat host_stat(struct vfe_env *e, const char *name)
{
	struct stat st;

	CHECKF(lstat(vfe_shared_path(e, name), &st) == 0, "host lstat %s: %s",
	       name, strerror(errno));
	return st;
}

static bool host_exists(struct vfe_env *e, const char *name)
{
	struct stat st;

	return lstat(vfe_shared_path(e, name), &st) == 0;
}

static void host_write(struct vfe_env *e, const char *name, const void *buf,
		       size_t len)
{
	int fd = open(vfe_shared_path(e, name), O_WRONLY | O_CREAT | O_TRUNC,
		      0644);

	CHECKF(fd >= 0, "host create %s: %s", name, strerror(errno));
	CHECK_EQ(write(fd, buf, len), len);
	close(fd);
}

static size_t host_read(struct vfe_env *e, const char *name, void *buf,
			size_t cap)
{
	int fd = open(vfe_shared_path(e, name), O_RDONLY);
	size_t got = 0;
	ssize_t n;

	CHECKF(fd >= 0, "host open %s: %s", name, strerror(errno));
	while (got < cap && (n = read(fd, (char *)buf + got, cap - got)) > 0)
		got += (size_t)n;
	close(fd);
	return got;
}

static void host_mkdir(struct vfe_env *e, const char *name)
{
	CHECKF(mkdir(vfe_shared_path(e, name), 0755) == 0, "host mkdir %s: %s",
	       name, strerror(errno));
}

/* The attributes the daemon reports must be the host's. */
static void check_attr(const struct fuse_attr *a, const struct stat *st)
{
	CHECK_EQ(a->ino, st->st_ino);
	CHECK_EQ(a->mode, st->st_mode);
	CHECK_EQ(a->nlink, st->st_nlink);
	CHECK_EQ(a->uid, st->st_uid);
	CHECK_EQ(a->gid, st->st_gid);
	if (S_ISREG(st->st_mode))
		CHECK_EQ(a->size, st->st_size);
	CHECK_EQ(a->mtime, st->st_mtim.tv_sec);
	CHECK_EQ(a->mtimensec, st->st_mtim.tv_nsec);
}

static void t_lookup_getattr(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent, ent2;
	struct fuse_attr_out a;
	struct stat st;

	vfe_env_up(&e, NULL);
	host_write(&e, "file", "hello", 5);
	host_mkdir(&e, "dir");
	host_write(&e, "dir/inner", "x", 1);

	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "file", &ent));
	CHECKF(ent.nodeid != 0 && ent.nodeid != ROOT, "nodeid %llu",
	       (unsigned long long)ent.nodeid);
	st = host_stat(&e, "file");
	check_attr(&ent.attr, &st);
	CHECK_OK(vfe_fuse_getattr(&e.f, ent.nodeid, false, 0, &a));
	check_attr(&a.attr, &st);

	/* Same file, same node id. */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "file", &ent2));
	CHECK_EQ(ent2.nodeid, ent.nodeid);
	CHECK_EQ(ent2.generation, ent.generation);

	/* Nested. */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "dir", &ent));
	CHECKF(S_ISDIR(ent.attr.mode), "dir mode 0%o", ent.attr.mode);
	CHECK_OK(vfe_fuse_lookup(&e.f, ent.nodeid, "inner", &ent2));
	st = host_stat(&e, "dir/inner");
	check_attr(&ent2.attr, &st);

	/* Errors. */
	CHECK_ERR(vfe_fuse_lookup(&e.f, ROOT, "missing", &ent), -ENOENT);
	CHECK_ERR(vfe_fuse_lookup(&e.f, ent2.nodeid, "x", &ent), -ENOTDIR);
	CHECKF(vfe_fuse_getattr(&e.f, 0x7fffffff12345ull, false, 0, &a) < 0,
	       "GETATTR of an unknown node id succeeded");
	CHECK_OK(vfe_fuse_getattr(&e.f, ROOT, false, 0, &a));
	vfe_env_down(&e);
}

/* Lookup counts: a node lives until FORGET brings its count to zero. */
static void t_forget_lookup_count(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent, x;
	struct fuse_attr_out a;
	struct fuse_forget_one batch[2];
	int r;

	vfe_env_up(&e, NULL);
	host_write(&e, "f", "abc", 3);
	host_write(&e, "g", "abc", 3);
	for (int i = 0; i < 3; i++) {
		CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &x));
		if (i)
			CHECK_EQ(x.nodeid, ent.nodeid);
		ent = x;
	}
	/* Count 3: forget 2, the node must still be usable. */
	CHECK_OK(vfe_fuse_forget(&e.f, ent.nodeid, 2));
	CHECK_OK(vfe_fuse_getattr(&e.f, ent.nodeid, false, 0, &a));
	CHECK_EQ(a.attr.size, 3);
	/* A new lookup gives the same node id back (count 2 now). */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &x));
	CHECK_EQ(x.nodeid, ent.nodeid);
	/* Forget everything: the id is no longer valid. */
	CHECK_OK(vfe_fuse_forget(&e.f, ent.nodeid, 2));
	r = vfe_fuse_getattr(&e.f, ent.nodeid, false, 0, &a);
	CHECKF(r < 0 && r != -VFE_ETRANSPORT && r != -VFE_EPROTO,
	       "GETATTR of a forgotten node id: %s", vfe_errname(r));
	/* Forgetting more than looked up / an unknown id: no harm. */
	CHECK_OK(vfe_fuse_forget(&e.f, ent.nodeid, 5));
	CHECK_OK(vfe_fuse_forget(&e.f, 0x7fffffff00001ull, 1));
	CHECK_OK(vfe_fuse_forget(&e.f, ROOT, 1));
	CHECK_OK(vfe_fuse_getattr(&e.f, ROOT, false, 0, &a));

	/* BATCH_FORGET. */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &ent));
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "g", &x));
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "g", &x));
	batch[0] = (struct fuse_forget_one){ .nodeid = ent.nodeid, .nlookup = 1 };
	batch[1] = (struct fuse_forget_one){ .nodeid = x.nodeid, .nlookup = 1 };
	CHECK_OK(vfe_fuse_batch_forget(&e.f, batch, 2));
	r = vfe_fuse_getattr(&e.f, ent.nodeid, false, 0, &a);
	CHECKF(r < 0 && r != -VFE_ETRANSPORT && r != -VFE_EPROTO,
	       "GETATTR after BATCH_FORGET to zero: %s", vfe_errname(r));
	CHECK_OK(vfe_fuse_getattr(&e.f, x.nodeid, false, 0, &a));
	vfe_env_down(&e);
}

static void t_setattr(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	struct fuse_attr_out a;
	struct fuse_setattr_in in;
	struct stat st;

	vfe_env_up(&e, NULL);
	host_write(&e, "f", "0123456789", 10);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &ent));

	in = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = S_IFREG | 0600 };
	CHECK_OK(vfe_fuse_setattr(&e.f, ent.nodeid, &in, &a));
	st = host_stat(&e, "f");
	CHECK_EQ(st.st_mode & 07777, 0600);
	check_attr(&a.attr, &st);

	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 4 };
	CHECK_OK(vfe_fuse_setattr(&e.f, ent.nodeid, &in, &a));
	CHECK_EQ(host_stat(&e, "f").st_size, 4);
	CHECK_EQ(a.attr.size, 4);

	in = (struct fuse_setattr_in){
		.valid = FATTR_ATIME | FATTR_MTIME,
		.atime = 1000000000, .atimensec = 5,
		.mtime = 1200000000, .mtimensec = 7,
	};
	CHECK_OK(vfe_fuse_setattr(&e.f, ent.nodeid, &in, &a));
	st = host_stat(&e, "f");
	CHECK_EQ(st.st_atim.tv_sec, 1000000000);
	CHECK_EQ(st.st_atim.tv_nsec, 5);
	CHECK_EQ(st.st_mtim.tv_sec, 1200000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 7);
	CHECK_EQ(a.attr.mtime, 1200000000);

	if (getuid() == 0) {
		in = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID,
					       .uid = 4321, .gid = 8765 };
		CHECK_OK(vfe_fuse_setattr(&e.f, ent.nodeid, &in, &a));
		st = host_stat(&e, "f");
		CHECK_EQ(st.st_uid, 4321);
		CHECK_EQ(st.st_gid, 8765);
		CHECK_EQ(a.attr.uid, 4321);
	}

	/* Truncate through an open handle (FATTR_FH). */
	CHECK_OK(vfe_fuse_open(&e.f, ent.nodeid, O_RDWR, &op));
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_FH,
				       .size = 1, .fh = op.fh };
	CHECK_OK(vfe_fuse_setattr(&e.f, ent.nodeid, &in, &a));
	CHECK_EQ(host_stat(&e, "f").st_size, 1);
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, O_RDWR));

	/* Errors: unknown node; size on a directory. */
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 0 };
	CHECKF(vfe_fuse_setattr(&e.f, 0x7fffffff12345ull, &in, &a) < 0,
	       "SETATTR on an unknown node id succeeded");
	CHECK_ERR(vfe_fuse_setattr(&e.f, ROOT, &in, &a), -EISDIR);
	vfe_env_down(&e);
}

static void t_create_open_rw(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent, ent2;
	struct fuse_open_out op, op2;
	struct fuse_attr_out a;
	char buf[64];
	size_t n = 0;
	struct stat st;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_create(&e.f, ROOT, "new", O_RDWR | O_CREAT | O_EXCL,
				 S_IFREG | 0640, &ent, &op));
	st = host_stat(&e, "new");
	CHECKF(S_ISREG(st.st_mode), "host mode 0%o", st.st_mode);
	CHECK_EQ(st.st_mode & 0777, 0640);
	check_attr(&ent.attr, &st);
	CHECK_ERR(vfe_fuse_create(&e.f, ROOT, "new", O_RDWR | O_CREAT | O_EXCL,
				  S_IFREG | 0640, &ent2, &op2), -EEXIST);

	CHECK_OK(vfe_fuse_write(&e.f, ent.nodeid, op.fh, 0, "hello world", 11, &n));
	CHECK_EQ(n, 11);
	CHECK_OK(vfe_fuse_write(&e.f, ent.nodeid, op.fh, 20, "tail", 4, &n));
	CHECK_EQ(n, 4);
	CHECK_EQ(host_read(&e, "new", buf, sizeof(buf)), 24);
	CHECK(!memcmp(buf, "hello world", 11));
	CHECK(!memcmp(buf + 11, "\0\0\0\0\0\0\0\0\0", 9));
	CHECK(!memcmp(buf + 20, "tail", 4));

	memset(buf, 0, sizeof(buf));
	CHECK_OK(vfe_fuse_read(&e.f, ent.nodeid, op.fh, 6, buf, 5, &n));
	CHECK_EQ(n, 5);
	CHECK(!memcmp(buf, "world", 5));
	/* Short read at EOF, empty read past it. */
	CHECK_OK(vfe_fuse_read(&e.f, ent.nodeid, op.fh, 22, buf, 100, &n));
	CHECK_EQ(n, 2);
	CHECK_OK(vfe_fuse_read(&e.f, ent.nodeid, op.fh, 1000, buf, 100, &n));
	CHECK_EQ(n, 0);

	CHECK_OK(vfe_fuse_flush(&e.f, ent.nodeid, op.fh));
	CHECK_OK(vfe_fuse_fsync(&e.f, ent.nodeid, op.fh, false));
	CHECK_OK(vfe_fuse_fsync(&e.f, ent.nodeid, op.fh, true));
	CHECK_OK(vfe_fuse_getattr(&e.f, ent.nodeid, true, op.fh, &a));
	CHECK_EQ(a.attr.size, 24);
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, O_RDWR));

	/* OPEN read-only: writing through it fails, reading works. */
	CHECK_OK(vfe_fuse_open(&e.f, ent.nodeid, O_RDONLY, &op));
	CHECK_ERR(vfe_fuse_write(&e.f, ent.nodeid, op.fh, 0, "x", 1, &n), -EBADF);
	CHECK_OK(vfe_fuse_read(&e.f, ent.nodeid, op.fh, 0, buf, 5, &n));
	CHECK_EQ(n, 5);
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, O_RDONLY));

	/* O_TRUNC on open. */
	CHECK_OK(vfe_fuse_open(&e.f, ent.nodeid, O_WRONLY | O_TRUNC, &op));
	CHECK_EQ(host_stat(&e, "new").st_size, 0);
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, O_WRONLY));

	/* A handle that was never opened / already released. */
	CHECKF(vfe_fuse_read(&e.f, ent.nodeid, op.fh, 0, buf, 5, &n) < 0,
	       "READ through a released handle succeeded");
	CHECKF(vfe_fuse_read(&e.f, ent.nodeid, 0xdeadbeef, 0, buf, 5, &n) < 0,
	       "READ through a bogus handle succeeded");
	/* OPEN of a directory for writing. */
	CHECK_ERR(vfe_fuse_open(&e.f, ROOT, O_WRONLY, &op), -EISDIR);
	/* CREATE in a non-directory. */
	CHECK_ERR(vfe_fuse_create(&e.f, ent.nodeid, "x", O_RDWR | O_CREAT,
				  S_IFREG | 0644, &ent2, &op2), -ENOTDIR);
	/* Unlinked but open: GETATTR through the handle still works. */
	CHECK_OK(vfe_fuse_open(&e.f, ent.nodeid, O_RDWR, &op));
	CHECK_EQ(unlink(vfe_shared_path(&e, "new")), 0);
	CHECK_OK(vfe_fuse_getattr(&e.f, ent.nodeid, true, op.fh, &a));
	CHECK_EQ(a.attr.nlink, 0);
	CHECK_OK(vfe_fuse_write(&e.f, ent.nodeid, op.fh, 0, "ok", 2, &n));
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, O_RDWR));
	vfe_env_down(&e);
}

/* 1 MiB WRITE and READ across many descriptors, direct and indirect. */
static void large_rw(struct vfe_env *e, const char *name, uint32_t seg,
		     unsigned flags)
{
	const size_t len = 1 << 20;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	struct fuse_write_in wi = { .size = len };
	struct fuse_write_out wo;
	struct fuse_read_in ri = { .size = len };
	unsigned char *buf = malloc(len), *back = malloc(len), *host = malloc(len + 1);
	struct vfe_fuse_call c;

	CHECK(buf && back && host);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 131) ^ (i >> 9) ^ seg);
	CHECK_OK(vfe_fuse_create(&e->f, ROOT, name, O_RDWR | O_CREAT,
				 S_IFREG | 0644, &ent, &op));
	wi.fh = op.fh;
	c = (struct vfe_fuse_call){
		.opcode = FUSE_WRITE, .nodeid = ent.nodeid,
		.queue = VFE_Q_DEFAULT, .in = { { &wi, sizeof(wi) } }, .nin = 1,
		.wdata = buf, .wlen = len, .out = &wo, .out_cap = sizeof(wo),
		.seg = seg, .flags = flags,
	};
	CHECK_OK(vfe_fuse_call(&e->f, &c));
	CHECK_EQ(wo.size, len);
	CHECK_EQ(host_read(e, name, host, len + 1), len);
	CHECKF(!memcmp(host, buf, len), "host file differs (seg %u, flags 0x%x)",
	       seg, flags);
	ri.fh = op.fh;
	c = (struct vfe_fuse_call){
		.opcode = FUSE_READ, .nodeid = ent.nodeid,
		.queue = VFE_Q_DEFAULT, .in = { { &ri, sizeof(ri) } }, .nin = 1,
		.rdata = back, .rlen = len, .seg = seg, .flags = flags,
	};
	CHECK_OK(vfe_fuse_call(&e->f, &c));
	CHECK_EQ(c.rgot, len);
	CHECKF(!memcmp(back, buf, len), "READ data differs (seg %u, flags 0x%x)",
	       seg, flags);
	CHECK_OK(vfe_fuse_release(&e->f, ent.nodeid, op.fh, O_RDWR));
	free(buf);
	free(back);
	free(host);
}

static void t_large_rw(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .dev = { .queue_size = 1024 } };

	vfe_env_up(&e, &o);
	CHECKF(e.f.init.max_write >= (1u << 20),
	       "INIT max_write %u < 1 MiB", e.f.init.max_write);
	/* 256 direct descriptors of 4 KiB per side (+ header). */
	large_rw(&e, "direct4k", 4096, VFE_DIRECT);
	/* Indirect table of 256 + 2 entries. */
	large_rw(&e, "indirect4k", 4096, VFE_INDIRECT);
	/* Odd segment sizes, header split from the arguments. */
	large_rw(&e, "odd", 3001, VFE_INDIRECT | VFE_SPLIT_HDR);
	large_rw(&e, "odd-direct", 7777, VFE_DIRECT | VFE_SPLIT_HDR);
	/* One descriptor for all the data. */
	large_rw(&e, "single", 0, VFE_DIRECT);
	vfe_env_down(&e);
}

/* Collect the names of a directory through READDIR(PLUS) with a small buffer. */
static unsigned list_dir(struct vfe_env *e, const char *hostdir,
			 uint64_t nodeid, bool plus, char names[][256],
			 unsigned max)
{
	struct fuse_open_out op;
	char *buf = malloc(4096);
	uint64_t off = 0;
	unsigned n = 0;

	CHECK(buf);
	CHECK_OK(vfe_fuse_opendir(&e->f, nodeid, &op));
	for (int rounds = 0; rounds < 1000; rounds++) {
		size_t len = 0, pos = 0;
		struct vfe_dirent d;
		int r;

		if (plus)
			CHECK_OK(vfe_fuse_readdirplus(&e->f, nodeid, op.fh, off,
						      1024, buf, &len));
		else
			CHECK_OK(vfe_fuse_readdir(&e->f, nodeid, op.fh, off, 512,
						  buf, &len));
		CHECKF(len <= (plus ? 1024u : 512u), "READDIR returned %zu bytes", len);
		if (!len)
			break;
		while ((r = vfe_dirent_next(buf, len, &pos, plus, &d)) == 1) {
			CHECK(n < max);
			snprintf(names[n++], 256, "%s", d.name);
			CHECKF(d.off != 0, "dirent %s with offset 0", d.name);
			off = d.off;
			if (plus && strcmp(d.name, ".") && strcmp(d.name, "..")) {
				char path[300];
				struct stat st;

				CHECKF(d.entry.nodeid != 0, "READDIRPLUS entry %s without node id",
				       d.name);
				snprintf(path, sizeof(path), "%s/%s", hostdir, d.name);
				st = host_stat(e, path);
				CHECK_EQ(d.entry.attr.ino, st.st_ino);
				CHECK_EQ(d.ino, st.st_ino);
			}
		}
		CHECKF(r == 0, "malformed dirent at %zu of %zu", pos, len);
	}
	CHECK_OK(vfe_fuse_releasedir(&e->f, nodeid, op.fh));
	free(buf);
	return n;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void t_readdir(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	static char names[200][256];
	char path[64];
	unsigned n;

	vfe_env_up(&e, NULL);
	host_mkdir(&e, "dir");
	for (int i = 0; i < 60; i++) {
		snprintf(path, sizeof(path), "dir/entry-%03d-with-a-longer-name", i);
		host_write(&e, path, "x", 1);
	}
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "dir", &ent));
	for (int plus = 0; plus < 2; plus++) {
		n = list_dir(&e, "dir", ent.nodeid, plus, names, 200);
		CHECKF(n == 62, "%s listed %u entries, expected 62",
		       plus ? "READDIRPLUS" : "READDIR", n);
		qsort(names, n, 256, cmp_names);
		CHECK(!strcmp(names[0], "."));
		CHECK(!strcmp(names[1], ".."));
		for (int i = 0; i < 60; i++) {
			snprintf(path, sizeof(path), "entry-%03d-with-a-longer-name", i);
			CHECKF(!strcmp(names[i + 2], path), "entry %d is %s", i,
			       names[i + 2]);
		}
	}
	/* OPENDIR of a file; READDIR with a bogus handle. */
	CHECK_OK(vfe_fuse_lookup(&e.f, ent.nodeid, "entry-000-with-a-longer-name",
				 &ent));
	CHECK_ERR(vfe_fuse_opendir(&e.f, ent.nodeid, &op), -ENOTDIR);
	{
		char buf[512];
		size_t len;

		CHECKF(vfe_fuse_readdir(&e.f, ROOT, 0xdeadbeef, 0, 512, buf, &len) < 0,
		       "READDIR through a bogus handle succeeded");
	}
	vfe_env_down(&e);
}

/* rename(2) or link(2) of two names in the shared dir, on the host
 * (vfe_shared_path() returns one static buffer). */
static int host_2(struct vfe_env *e, int (*fn)(const char *, const char *),
		  const char *from, const char *to)
{
	char a[PATH_MAX * 2];

	snprintf(a, sizeof(a), "%s", vfe_shared_path(e, from));
	return fn(a, vfe_shared_path(e, to));
}

/* The node id READDIRPLUS of directory nodeid gives name (0: not listed). */
static uint64_t plus_nodeid(struct vfe_env *e, uint64_t nodeid,
			    const char *name, struct fuse_entry_out *out)
{
	struct fuse_open_out op;
	static char buf[4096];
	uint64_t off = 0, found = 0;

	CHECK_OK(vfe_fuse_opendir(&e->f, nodeid, &op));
	for (int rounds = 0; rounds < 1000; rounds++) {
		size_t len = 0, pos = 0;
		struct vfe_dirent d;

		CHECK_OK(vfe_fuse_readdirplus(&e->f, nodeid, op.fh, off, 4096,
					      buf, &len));
		if (!len)
			break;
		while (vfe_dirent_next(buf, len, &pos, true, &d) == 1) {
			off = d.off;
			if (!strcmp(d.name, name)) {
				found = d.entry.nodeid;
				*out = d.entry;
			}
		}
	}
	CHECK_OK(vfe_fuse_releasedir(&e->f, nodeid, op.fh));
	return found;
}

/*
 * LOOKUP and READDIRPLUS first stat the name and reuse an inode the table
 * holds (no open): the identity must still be the file the name leads to
 * now - a name replaced on the host, a hard link, a symlink (not
 * followed), a mount point over a directory (its mounted root, whose d_ino
 * in the listing is the directory under it).
 */
static void t_lookup_probe(void)
{
	struct vfe_env e;
	struct vfe_env_opts o;
	struct fuse_entry_out a, b, c;
	struct stat st;
	bool mounted = false;

	/* --sandbox=none: the daemon shares our mount namespace, so it sees
	 * the tmpfs mounted below while it runs (and the sanitizer builds'
	 * leak check, which needs /proc, keeps working). */
	memset(&o, 0, sizeof(o));
	o.daemon.extra[0] = "--sandbox=none";
	vfe_env_up(&e, &o);
	host_write(&e, "a", "one", 3);
	host_write(&e, "b", "two!", 4);
	host_mkdir(&e, "mnt");
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "a", &a));
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "b", &b));
	/* "b" renamed over "a" on the host: LOOKUP "a" is b's inode. */
	CHECK(host_2(&e, rename, "b", "a") == 0);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "a", &c));
	CHECK_EQ(c.nodeid, b.nodeid);
	CHECK_EQ(c.attr.size, 4);
	/* A file the daemon never saw replaces it: a new inode. */
	host_write(&e, "new", "three", 5);
	CHECK(host_2(&e, rename, "new", "a") == 0);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "a", &c));
	CHECKF(c.nodeid != a.nodeid && c.nodeid != b.nodeid,
	       "replaced name kept node id %llu", (unsigned long long)c.nodeid);
	st = host_stat(&e, "a");
	check_attr(&c.attr, &st);
	/* A hard link made on the host: the same inode. */
	CHECK(host_2(&e, link, "a", "a2") == 0);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "a2", &b));
	CHECK_EQ(b.nodeid, c.nodeid);
	CHECK_EQ(b.attr.nlink, 2);
	/* A symlink to "a" is itself. */
	CHECK(symlink("a", vfe_shared_path(&e, "ln")) == 0);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "ln", &b));
	CHECKF(S_ISLNK(b.attr.mode) && b.nodeid != c.nodeid,
	       "symlink looked up as mode 0%o", b.attr.mode);
	/* Listed after a LOOKUP: the same node id as the LOOKUP gave. */
	CHECK_EQ(plus_nodeid(&e, ROOT, "a2", &b), c.nodeid);
	/* A tmpfs mounted on "mnt" after the daemon knew the directory. */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "mnt", &a));
	if (geteuid() == 0 && mount("tmpfs", vfe_shared_path(&e, "mnt"),
				    "tmpfs", 0, "size=64k") == 0)
		mounted = true;
	if (mounted) {
		st = host_stat(&e, "mnt");
		CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "mnt", &b));
		CHECKF(b.nodeid != a.nodeid, "mount point kept the node id of "
		       "the directory under it");
		CHECK_EQ(b.attr.ino, st.st_ino);
		CHECK_EQ(plus_nodeid(&e, ROOT, "mnt", &c), b.nodeid);
		CHECK_EQ(c.attr.ino, st.st_ino);
		umount2(vfe_shared_path(&e, "mnt"), MNT_DETACH);
		/* Unmounted: the directory under it again. */
		CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "mnt", &c));
		CHECK_EQ(c.nodeid, a.nodeid);
	}
	vfe_env_down(&e);
}

static void t_mkdir_rmdir(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent, sub;
	struct stat st;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_mkdir(&e.f, ROOT, "d", S_IFDIR | 0750, &ent));
	st = host_stat(&e, "d");
	CHECKF(S_ISDIR(st.st_mode), "host mode 0%o", st.st_mode);
	CHECK_EQ(st.st_mode & 0777, 0750);
	check_attr(&ent.attr, &st);
	CHECK_ERR(vfe_fuse_mkdir(&e.f, ROOT, "d", S_IFDIR | 0755, &sub), -EEXIST);
	CHECK_OK(vfe_fuse_mkdir(&e.f, ent.nodeid, "sub", S_IFDIR | 0755, &sub));
	CHECK(host_exists(&e, "d/sub"));
	CHECK_ERR(vfe_fuse_rmdir(&e.f, ROOT, "d"), -ENOTEMPTY);
	CHECK_OK(vfe_fuse_rmdir(&e.f, ent.nodeid, "sub"));
	CHECK(!host_exists(&e, "d/sub"));
	CHECK_OK(vfe_fuse_rmdir(&e.f, ROOT, "d"));
	CHECK(!host_exists(&e, "d"));
	CHECK_ERR(vfe_fuse_rmdir(&e.f, ROOT, "d"), -ENOENT);
	host_write(&e, "file", "x", 1);
	CHECK_ERR(vfe_fuse_rmdir(&e.f, ROOT, "file"), -ENOTDIR);
	CHECK(host_exists(&e, "file"));
	vfe_env_down(&e);
}

static void t_unlink(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_attr_out a;

	vfe_env_up(&e, NULL);
	host_write(&e, "f", "x", 1);
	host_mkdir(&e, "d");
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &ent));
	CHECK_OK(vfe_fuse_unlink(&e.f, ROOT, "f"));
	CHECK(!host_exists(&e, "f"));
	/* The node stays valid while looked up. */
	CHECK_OK(vfe_fuse_getattr(&e.f, ent.nodeid, false, 0, &a));
	CHECK_EQ(a.attr.nlink, 0);
	CHECK_ERR(vfe_fuse_unlink(&e.f, ROOT, "f"), -ENOENT);
	CHECK_ERR(vfe_fuse_unlink(&e.f, ROOT, "d"), -EISDIR);
	CHECK(host_exists(&e, "d"));
	CHECK_ERR(vfe_fuse_lookup(&e.f, ROOT, "f", &ent), -ENOENT);
	vfe_env_down(&e);
}

static void t_rename(void)
{
	struct vfe_env e;
	struct fuse_entry_out f, d, x;
	struct fuse_attr_out a;
	char buf[16];

	vfe_env_up(&e, NULL);
	host_write(&e, "a", "AAAA", 4);
	host_write(&e, "b", "BB", 2);
	host_mkdir(&e, "d");
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "a", &f));
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "d", &d));

	CHECK_OK(vfe_fuse_rename(&e.f, ROOT, "a", ROOT, "a2"));
	CHECK(!host_exists(&e, "a"));
	CHECK_EQ(host_read(&e, "a2", buf, sizeof(buf)), 4);
	/* The node follows the file. */
	CHECK_OK(vfe_fuse_getattr(&e.f, f.nodeid, false, 0, &a));
	CHECK_EQ(a.attr.size, 4);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "a2", &x));
	CHECK_EQ(x.nodeid, f.nodeid);

	CHECK_OK(vfe_fuse_rename(&e.f, ROOT, "a2", d.nodeid, "moved"));
	CHECK(host_exists(&e, "d/moved"));
	CHECK_OK(vfe_fuse_lookup(&e.f, d.nodeid, "moved", &x));
	CHECK_EQ(x.nodeid, f.nodeid);
	CHECK_ERR(vfe_fuse_rename(&e.f, ROOT, "nothing", ROOT, "z"), -ENOENT);
	CHECK_ERR(vfe_fuse_rename(&e.f, ROOT, "d", d.nodeid, "inside"), -EINVAL);

	/* RENAME2: NOREPLACE and EXCHANGE. */
	CHECK_OK(vfe_fuse_rename(&e.f, d.nodeid, "moved", ROOT, "a"));
	CHECK_ERR(vfe_fuse_rename2(&e.f, ROOT, "a", ROOT, "b", RENAME_NOREPLACE),
		  -EEXIST);
	CHECK_EQ(host_read(&e, "b", buf, sizeof(buf)), 2);
	CHECK_OK(vfe_fuse_rename2(&e.f, ROOT, "a", ROOT, "b", RENAME_EXCHANGE));
	CHECK_EQ(host_read(&e, "b", buf, sizeof(buf)), 4);
	CHECK(!memcmp(buf, "AAAA", 4));
	CHECK_EQ(host_read(&e, "a", buf, sizeof(buf)), 2);
	CHECK_OK(vfe_fuse_rename2(&e.f, ROOT, "a", ROOT, "c", RENAME_NOREPLACE));
	CHECK(host_exists(&e, "c") && !host_exists(&e, "a"));
	CHECK_ERR(vfe_fuse_rename2(&e.f, ROOT, "c", ROOT, "b",
				   RENAME_NOREPLACE | RENAME_EXCHANGE), -EINVAL);
	/* Plain rename replaces. */
	CHECK_OK(vfe_fuse_rename(&e.f, ROOT, "c", ROOT, "b"));
	CHECK_EQ(host_read(&e, "b", buf, sizeof(buf)), 2);
	vfe_env_down(&e);
}

static void t_link(void)
{
	struct vfe_env e;
	struct fuse_entry_out f, l, d;
	struct stat st;

	vfe_env_up(&e, NULL);
	host_write(&e, "f", "data", 4);
	host_mkdir(&e, "d");
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &f));
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "d", &d));
	CHECK_OK(vfe_fuse_link(&e.f, f.nodeid, d.nodeid, "hard", &l));
	st = host_stat(&e, "d/hard");
	CHECK_EQ(st.st_ino, host_stat(&e, "f").st_ino);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(l.attr.ino, st.st_ino);
	CHECK_EQ(l.attr.nlink, 2);
	CHECK_ERR(vfe_fuse_link(&e.f, f.nodeid, ROOT, "f", &l), -EEXIST);
	CHECK_ERR(vfe_fuse_link(&e.f, d.nodeid, ROOT, "dirlink", &l), -EPERM);
	CHECK(!host_exists(&e, "dirlink"));
	vfe_env_down(&e);
}

static void t_symlink_readlink(void)
{
	struct vfe_env e;
	struct fuse_entry_out s, f;
	char buf[256], host[256];
	size_t len = 0;
	ssize_t n;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_symlink(&e.f, ROOT, "sl", "some/target/../x", &s));
	CHECKF(S_ISLNK(s.attr.mode), "mode 0%o", s.attr.mode);
	n = readlink(vfe_shared_path(&e, "sl"), host, sizeof(host));
	CHECK_EQ(n, 16);
	CHECK(!memcmp(host, "some/target/../x", 16));
	CHECK_OK(vfe_fuse_readlink(&e.f, s.nodeid, buf, sizeof(buf), &len));
	CHECK_EQ(len, 16);
	CHECK(!memcmp(buf, "some/target/../x", 16));
	CHECK_ERR(vfe_fuse_symlink(&e.f, ROOT, "sl", "y", &s), -EEXIST);
	host_write(&e, "f", "x", 1);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &f));
	CHECK_ERR(vfe_fuse_readlink(&e.f, f.nodeid, buf, sizeof(buf), &len),
		  -EINVAL);
	/* Absolute targets are stored verbatim (never followed by the daemon). */
	CHECK_OK(vfe_fuse_symlink(&e.f, ROOT, "abs", "/etc/passwd", &s));
	CHECK_OK(vfe_fuse_readlink(&e.f, s.nodeid, buf, sizeof(buf), &len));
	CHECK_EQ(len, 11);
	vfe_env_down(&e);
}

static void t_mknod(void)
{
	struct vfe_env e;
	struct fuse_entry_out n;
	struct stat st;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_mknod(&e.f, ROOT, "fifo", S_IFIFO | 0640, 0, &n));
	st = host_stat(&e, "fifo");
	CHECKF(S_ISFIFO(st.st_mode), "host mode 0%o", st.st_mode);
	CHECK_EQ(st.st_mode & 0777, 0640);
	check_attr(&n.attr, &st);
	CHECK_OK(vfe_fuse_mknod(&e.f, ROOT, "reg", S_IFREG | 0600, 0, &n));
	st = host_stat(&e, "reg");
	CHECK(S_ISREG(st.st_mode));
	CHECK_OK(vfe_fuse_mknod(&e.f, ROOT, "sock", S_IFSOCK | 0600, 0, &n));
	CHECK(S_ISSOCK(host_stat(&e, "sock").st_mode));
	CHECK_ERR(vfe_fuse_mknod(&e.f, ROOT, "fifo", S_IFIFO | 0640, 0, &n),
		  -EEXIST);
	vfe_env_down(&e);
}

static void t_statfs_access(void)
{
	struct vfe_env e;
	struct fuse_statfs_out s;
	struct fuse_entry_out f, x;
	struct statvfs sv;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_statfs(&e.f, ROOT, &s));
	CHECK_EQ(statvfs(e.d.shared_dir, &sv), 0);
	CHECK_EQ(s.st.bsize, sv.f_bsize);
	CHECK_EQ(s.st.frsize, sv.f_frsize);
	CHECK_EQ(s.st.blocks, sv.f_blocks);
	CHECK_EQ(s.st.namelen, sv.f_namemax);
	CHECKF(s.st.files == sv.f_files, "files %llu vs %llu",
	       (unsigned long long)s.st.files, (unsigned long long)sv.f_files);

	host_write(&e, "f", "x", 1);
	CHECK_EQ(chmod(vfe_shared_path(&e, "f"), 0644), 0);
	host_write(&e, "exe", "x", 1);
	CHECK_EQ(chmod(vfe_shared_path(&e, "exe"), 0755), 0);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &f));
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "exe", &x));
	CHECK_OK(vfe_fuse_statfs(&e.f, f.nodeid, &s));
	CHECK_OK(vfe_fuse_access(&e.f, f.nodeid, F_OK));
	CHECK_OK(vfe_fuse_access(&e.f, f.nodeid, R_OK | W_OK));
	CHECK_OK(vfe_fuse_access(&e.f, x.nodeid, X_OK));
	/* Not even root may execute a file without any x bit. */
	CHECK_ERR(vfe_fuse_access(&e.f, f.nodeid, X_OK), -EACCES);
	if (getuid() == 0) {
		/* As another user, the owner-only bits count. */
		struct vfe_fuse_call c;
		struct fuse_access_in in = { .mask = W_OK };

		CHECK_EQ(chmod(vfe_shared_path(&e, "f"), 0600), 0);
		c = (struct vfe_fuse_call){
			.opcode = FUSE_ACCESS, .nodeid = f.nodeid,
			.queue = VFE_Q_DEFAULT, .in = { { &in, sizeof(in) } },
			.nin = 1, .uid = 5555, .gid = 5555,
		};
		CHECK_ERR(vfe_fuse_call(&e.f, &c), -EACCES);
	}
	vfe_env_down(&e);
}

/* Names carrying '/' or being "." / ".." must never reach the host as paths. */
static void t_bad_names(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent, d, root;
	struct fuse_open_out op;
	struct fuse_attr_out a;
	struct stat st;
	char outside[PATH_MAX * 2];
	int r;

	vfe_env_up(&e, NULL);
	host_mkdir(&e, "d");
	host_write(&e, "d/x", "secret", 6);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "d", &d));
	CHECK_OK(vfe_fuse_getattr(&e.f, ROOT, false, 0, &a));
	root.attr = a.attr;

	/* Lookups with a slash. */
	r = vfe_fuse_lookup(&e.f, ROOT, "d/x", &ent);
	CHECKF(r < 0, "LOOKUP \"d/x\" succeeded (node %llu)",
	       (unsigned long long)ent.nodeid);
	CHECK(r != -VFE_ETRANSPORT && r != -VFE_EPROTO);
	r = vfe_fuse_lookup(&e.f, ROOT, "/etc", &ent);
	CHECKF(r < 0, "LOOKUP \"/etc\" succeeded");

	/* ".." from the root must not leave the shared directory. */
	r = vfe_fuse_lookup(&e.f, ROOT, "..", &ent);
	if (r == 0)
		CHECKF(ent.attr.ino == root.attr.ino,
		       "LOOKUP(root, \"..\") escaped: ino %llu, root ino %llu",
		       (unsigned long long)ent.attr.ino,
		       (unsigned long long)root.attr.ino);
	r = vfe_fuse_lookup(&e.f, d.nodeid, "../..", &ent);
	CHECKF(r < 0, "LOOKUP \"../..\" succeeded");

	/* Creating entries with such names. */
	snprintf(outside, sizeof(outside), "%s/escaped", e.d.dir);
	r = vfe_fuse_create(&e.f, ROOT, "../escaped", O_RDWR | O_CREAT,
			    S_IFREG | 0644, &ent, &op);
	CHECKF(r < 0, "CREATE \"../escaped\" succeeded");
	CHECKF(lstat(outside, &st) < 0, "a file was created outside the shared dir");
	CHECKF(vfe_fuse_mkdir(&e.f, ROOT, "../escaped", S_IFDIR | 0755, &ent) < 0,
	       "MKDIR \"../escaped\" succeeded");
	CHECKF(lstat(outside, &st) < 0, "a dir was created outside the shared dir");
	CHECKF(vfe_fuse_mkdir(&e.f, ROOT, "d/sub", S_IFDIR | 0755, &ent) < 0,
	       "MKDIR \"d/sub\" succeeded");
	CHECK(!host_exists(&e, "d/sub"));
	CHECKF(vfe_fuse_mkdir(&e.f, ROOT, "..", S_IFDIR | 0755, &ent) < 0,
	       "MKDIR \"..\" succeeded");
	CHECKF(vfe_fuse_mkdir(&e.f, ROOT, ".", S_IFDIR | 0755, &ent) < 0,
	       "MKDIR \".\" succeeded");
	CHECKF(vfe_fuse_symlink(&e.f, ROOT, "../escaped", "x", &ent) < 0,
	       "SYMLINK named \"../escaped\" succeeded");
	CHECKF(lstat(outside, &st) < 0, "a symlink was created outside the shared dir");
	CHECKF(vfe_fuse_mknod(&e.f, ROOT, "../escaped", S_IFIFO | 0644, 0, &ent) < 0,
	       "MKNOD \"../escaped\" succeeded");
	CHECKF(lstat(outside, &st) < 0, "a fifo was created outside the shared dir");

	/* Removing / renaming through such names. */
	CHECKF(vfe_fuse_unlink(&e.f, ROOT, "d/x") < 0, "UNLINK \"d/x\" succeeded");
	CHECK(host_exists(&e, "d/x"));
	CHECKF(vfe_fuse_unlink(&e.f, d.nodeid, "../d/x") < 0,
	       "UNLINK \"../d/x\" succeeded");
	CHECK(host_exists(&e, "d/x"));
	CHECKF(vfe_fuse_rmdir(&e.f, d.nodeid, "..") < 0, "RMDIR \"..\" succeeded");
	CHECKF(vfe_fuse_rename(&e.f, d.nodeid, "x", ROOT, "../escaped") < 0,
	       "RENAME to \"../escaped\" succeeded");
	CHECKF(lstat(outside, &st) < 0, "RENAME moved a file outside the shared dir");
	CHECK(host_exists(&e, "d/x"));
	CHECKF(vfe_fuse_rename(&e.f, ROOT, "d/x", ROOT, "y") < 0,
	       "RENAME from \"d/x\" succeeded");
	CHECK(host_exists(&e, "d/x"));
	CHECKF(vfe_fuse_link(&e.f, d.nodeid, ROOT, "../escaped", &ent) < 0,
	       "LINK to \"../escaped\" succeeded");
	/* Empty name. */
	CHECKF(vfe_fuse_lookup(&e.f, ROOT, "", &ent) < 0, "LOOKUP \"\" succeeded");
	CHECKF(vfe_fuse_mkdir(&e.f, ROOT, "", S_IFDIR | 0755, &ent) < 0,
	       "MKDIR \"\" succeeded");
	/* Still serving. */
	CHECK_OK(vfe_fuse_lookup(&e.f, d.nodeid, "x", &ent));
	vfe_env_down(&e);
}

/* POLL on a regular file reports it ready; a bad fh is EBADF; BMAP is
 * answered ENOSYS on purpose (see pt_ops_poll.c). */
static void t_poll_bmap(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	struct fuse_poll_in pin;
	struct fuse_poll_out pout;
	struct fuse_bmap_in bin;
	struct fuse_bmap_out bout;
	struct vfe_fuse_call c;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_create(&e.f, ROOT, "p", O_RDWR | O_CREAT | O_EXCL,
				 S_IFREG | 0644, &ent, &op));
	memset(&pin, 0, sizeof(pin));
	pin.fh = op.fh;
	pin.events = POLLIN | POLLOUT;
	memset(&c, 0, sizeof(c));
	c.opcode = FUSE_POLL;
	c.nodeid = ent.nodeid;
	c.in[0] = (struct iovec){ &pin, sizeof(pin) };
	c.nin = 1;
	c.out = &pout;
	c.out_cap = sizeof(pout);
	c.queue = VFE_Q_DEFAULT;
	CHECK_OK(vfe_fuse_call(&e.f, &c));
	CHECK_EQ(c.out_len, sizeof(pout));
	CHECK_EQ(pout.revents & (POLLIN | POLLOUT), POLLIN | POLLOUT);
	pin.fh = op.fh + 1000;
	CHECK_ERR(vfe_fuse_call(&e.f, &c), -EBADF);

	memset(&bin, 0, sizeof(bin));
	bin.block = 0;
	bin.blocksize = 4096;
	memset(&c, 0, sizeof(c));
	c.opcode = FUSE_BMAP;
	c.nodeid = ent.nodeid;
	c.in[0] = (struct iovec){ &bin, sizeof(bin) };
	c.nin = 1;
	c.out = &bout;
	c.out_cap = sizeof(bout);
	c.queue = VFE_Q_DEFAULT;
	CHECK_ERR(vfe_fuse_call(&e.f, &c), -ENOSYS);
	vfe_env_down(&e);
}

/*
 * Errors that come from the host file system reach the guest as they
 * are: a full file system (ENOSPC) and a rename across two mounts of the
 * share (EXDEV).  A 64 KiB tmpfs is mounted inside the shared directory
 * before the daemon starts (root only).
 */
static void t_enospc_exdev(void)
{
	struct vfe_env e;
	struct vfe_env_opts o;
	struct fuse_entry_out dir, ent;
	struct fuse_open_out op;
	static char chunk[16384];
	char sh[512], small[600];
	size_t n = 0;
	int err = 0;

	if (geteuid() != 0)
		vfe_skip("needs root to mount a small tmpfs");
	snprintf(sh, sizeof(sh), "%s/sh", vfe_test_dir());
	snprintf(small, sizeof(small), "%s/small", sh);
	CHECK(mkdir(sh, 0755) == 0 && mkdir(small, 0755) == 0);
	if (mount("tmpfs", small, "tmpfs", 0, "size=64k") < 0)
		vfe_skip("cannot mount a tmpfs: %s", strerror(errno));
	memset(&o, 0, sizeof(o));
	o.daemon.shared_dir = sh;
	vfe_env_up(&e, &o);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "small", &dir));
	CHECK_OK(vfe_fuse_create(&e.f, dir.nodeid, "f", O_RDWR | O_CREAT,
				 S_IFREG | 0644, &ent, &op));
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 16 && !err; i++)
		err = vfe_fuse_write(&e.f, ent.nodeid, op.fh,
				     (uint64_t)i * sizeof(chunk), chunk,
				     sizeof(chunk), &n);
	CHECK_ERR(err, -ENOSPC);
	CHECK(vfe_daemon_alive(&e.d));
	CHECK_ERR(vfe_fuse_rename(&e.f, dir.nodeid, "f", ROOT, "moved"),
		  -EXDEV);
	CHECK(access(vfe_shared_path(&e, "small/f"), F_OK) == 0);
	vfe_env_down(&e);
	umount2(small, MNT_DETACH);
}

static const struct vfe_test tests[] = {
	{ "lookup_getattr", t_lookup_getattr, 0 },
	{ "forget_lookup_count", t_forget_lookup_count, 0 },
	{ "setattr", t_setattr, 0 },
	{ "create_open_rw", t_create_open_rw, 0 },
	{ "large_rw", t_large_rw, 0 },
	{ "readdir", t_readdir, 0 },
	{ "lookup_probe", t_lookup_probe, 0 },
	{ "mkdir_rmdir", t_mkdir_rmdir, 0 },
	{ "unlink", t_unlink, 0 },
	{ "rename", t_rename, 0 },
	{ "link", t_link, 0 },
	{ "symlink_readlink", t_symlink_readlink, 0 },
	{ "mknod", t_mknod, 0 },
	{ "statfs_access", t_statfs_access, 0 },
	{ "bad_names", t_bad_names, 0 },
	{ "poll_bmap", t_poll_bmap, 0 },
	{ "enospc_exdev", t_enospc_exdev, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
