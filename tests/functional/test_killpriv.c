/*
 * test_killpriv.c - set-user/group-ID clearing and the guest kernel's own
 * SETATTRs, at the FUSE level, as the guest's virtiofs driver sends them:
 *
 * - write_kill_flag: a WRITE flagged FUSE_WRITE_KILL_SUIDGID (what Linux
 *   sends for a direct write of a process without CAP_FSETID, with or
 *   without HANDLE_KILLPRIV_V2) clears the bits as for that writer;
 * - setattr_killpriv: without KILLPRIV_V2 the guest clears them after a
 *   write/truncate with a SETATTR(mode) in the writer's name: allowed to a
 *   non-owner who may write the file, for those bits only;
 * - writeback_times: with the writeback cache the guest flushes mtime and
 *   ctime as explicit times in the name of whoever triggers the flush;
 * - killpriv_v2_chown: FATTR_KILL_SUIDGID on chown keeps set-group-ID of
 *   a file without group execute (root's chown on a local file system);
 *   on truncate it clears the bits.
 *
 * The guest-side checks of these are tests/e2e/posix (perm group).  The
 * cases need root (the daemon switches to the caller's ids only then).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID

/* What vfe_fuse_init() offers, for INITs with extra flags. */
#define BASE_FLAGS                                                        \
	((uint64_t)FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC | \
	 FUSE_AUTO_INVAL_DATA | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS |     \
	 FUSE_MAX_PAGES | FUSE_SUBMOUNTS | FUSE_INIT_EXT)

static void need_root(void)
{
	if (geteuid() != 0)
		vfe_skip("needs root (per-request credentials)");
}

/* Create name on the host with content, owner and mode (after chown, so
 * that chown does not clear the bits). */
static void host_file(struct vfe_env *e, const char *name, const char *data,
		      uid_t uid, gid_t gid, mode_t mode)
{
	const char *p = vfe_shared_path(e, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECKF(fd >= 0, "host create %s: %s", name, strerror(errno));
	CHECK_EQ(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
	CHECK_EQ(chown(p, uid, gid), 0);
	CHECK_EQ(chmod(p, mode), 0);
}

static struct stat host_stat(struct vfe_env *e, const char *name)
{
	struct stat st;

	CHECKF(lstat(vfe_shared_path(e, name), &st) == 0, "host lstat %s: %s",
	       name, strerror(errno));
	return st;
}

static mode_t host_mode(struct vfe_env *e, const char *name)
{
	return host_stat(e, name).st_mode & 07777;
}

/* Requests in the name of uid/gid (the client's default ids). */
static void as(struct vfe_env *e, uid_t uid, gid_t gid)
{
	e->f.uid = uid;
	e->f.gid = gid;
}

static uint64_t lookup(struct vfe_env *e, const char *name)
{
	struct fuse_entry_out ent;

	CHECK_OK(vfe_fuse_lookup(&e->f, ROOT, name, &ent));
	return ent.nodeid;
}

static uint64_t open_fh(struct vfe_env *e, uint64_t nodeid, uint32_t flags)
{
	struct fuse_open_out o;

	CHECK_OK(vfe_fuse_open(&e->f, nodeid, flags, &o));
	return o.fh;
}

/* WRITE with write_flags; returns the FUSE error or 0. */
static int write_flags(struct vfe_env *e, uint64_t nodeid, uint64_t fh,
		       const char *data, uint32_t wflags)
{
	struct fuse_write_in in = { .fh = fh, .size = (uint32_t)strlen(data),
				    .write_flags = wflags };
	struct fuse_write_out out;
	struct vfe_fuse_call c = {
		.opcode = FUSE_WRITE, .nodeid = nodeid,
		.queue = VFE_Q_DEFAULT,
		.in = { { &in, sizeof(in) } }, .nin = 1,
		.wdata = data, .wlen = strlen(data),
		.out = &out, .out_cap = sizeof(out),
	};
	int r = vfe_fuse_call(&e->f, &c);

	if (!r)
		CHECK_EQ(out.size, strlen(data));
	return r;
}

static int setattr(struct vfe_env *e, uint64_t nodeid,
		   const struct fuse_setattr_in *in)
{
	struct fuse_attr_out a;

	return vfe_fuse_setattr(&e->f, nodeid, in, &a);
}

static void t_write_kill_flag(void)
{
	struct vfe_env e;
	uint64_t n, fh;

	need_root();
	vfe_env_up(&e, NULL);
	host_file(&e, "own", "x", 1000, 1000, 06755);
	host_file(&e, "grp", "x", 1000, 1000, 02644);
	host_file(&e, "other", "x", 0, 0, 06777);
	host_file(&e, "noflag", "x", 1000, 1000, 06755);

	/* The owner, without CAP_FSETID in the guest: both bits go. */
	as(&e, 1000, 1000);
	n = lookup(&e, "own");
	fh = open_fh(&e, n, O_WRONLY);
	CHECK_OK(write_flags(&e, n, fh, "own", FUSE_WRITE_KILL_SUIDGID));
	CHECK_EQ(host_mode(&e, "own"), 0755);
	/* Set-group-ID without group execute stays for a writer in the
	 * file's group. */
	n = lookup(&e, "grp");
	fh = open_fh(&e, n, O_WRONLY);
	CHECK_OK(write_flags(&e, n, fh, "grp", FUSE_WRITE_KILL_SUIDGID));
	CHECK_EQ(host_mode(&e, "grp"), 02644);
	/* A writer that does not own the file. */
	n = lookup(&e, "other");
	fh = open_fh(&e, n, O_WRONLY);
	CHECK_OK(write_flags(&e, n, fh, "other", FUSE_WRITE_KILL_SUIDGID));
	CHECK_EQ(host_mode(&e, "other"), 0777);
	/* Without the flag (a writer with CAP_FSETID): the bits stay. */
	as(&e, 0, 0);
	n = lookup(&e, "noflag");
	fh = open_fh(&e, n, O_WRONLY);
	CHECK_OK(write_flags(&e, n, fh, "noflag", 0));
	CHECK_EQ(host_mode(&e, "noflag"), 06755);
	vfe_env_down(&e);
}

static void t_setattr_killpriv(void)
{
	struct fuse_setattr_in in;
	struct vfe_env e;
	struct stat st;
	uint64_t n;

	need_root();
	vfe_env_up(&e, NULL);
	host_file(&e, "s", "abc", 0, 0, 06777);
	host_file(&e, "t", "abc", 0, 0, 06777);
	host_file(&e, "ro", "abc", 0, 0, 06755);
	host_file(&e, "sg", "abc", 0, 0, 02666);
	host_file(&e, "sgx", "abc", 0, 0, 02777);

	as(&e, 1000, 1000);
	/* Anything but clearing the two bits stays a chmod by a non-owner. */
	n = lookup(&e, "s");
	in = (struct fuse_setattr_in){ .valid = FATTR_MODE,
				       .mode = S_IFREG | 0666 };
	CHECK_ERR(setattr(&e, n, &in), -EPERM);
	in.mode = S_IFREG | 07777;
	CHECK_ERR(setattr(&e, n, &in), -EPERM);
	/* set-group-ID alone: a write clears both. */
	in.mode = S_IFREG | 04777;
	CHECK_ERR(setattr(&e, n, &in), -EPERM);
	CHECK_EQ(host_mode(&e, "s"), 06777);
	/* The killpriv SETATTR after a write. */
	in.mode = S_IFREG | 0777;
	CHECK_OK(setattr(&e, n, &in));
	CHECK_EQ(host_mode(&e, "s"), 0777);
	/* Again (a second writer raced the first): nothing left to do. */
	CHECK_OK(setattr(&e, n, &in));
	CHECK_EQ(host_mode(&e, "s"), 0777);
	/* ... after a truncate (size, mode, mtime now). */
	n = lookup(&e, "t");
	in = (struct fuse_setattr_in){
		.valid = FATTR_MODE | FATTR_SIZE | FATTR_MTIME |
			 FATTR_MTIME_NOW,
		.mode = S_IFREG | 0777, .size = 1,
	};
	CHECK_OK(setattr(&e, n, &in));
	st = host_stat(&e, "t");
	CHECK_EQ(st.st_mode & 07777, 0777);
	CHECK_EQ(st.st_size, 1);
	/* The guest's ftruncate() of a writer that is not the owner: size
	 * and "mtime now" (ftruncate() sets it). */
	host_file(&e, "plain", "abcdef", 0, 0, 0666);
	n = lookup(&e, "plain");
	in = (struct fuse_setattr_in){
		.valid = FATTR_SIZE | FATTR_MTIME | FATTR_MTIME_NOW |
			 FATTR_FH,
		.fh = open_fh(&e, n, O_WRONLY), .size = 2,
	};
	CHECK_OK(setattr(&e, n, &in));
	CHECK_EQ(host_stat(&e, "plain").st_size, 2);
	/* No write access: refused, nothing changes. */
	n = lookup(&e, "ro");
	in = (struct fuse_setattr_in){ .valid = FATTR_MODE,
				       .mode = S_IFREG | 0755 };
	CHECK_ERR(setattr(&e, n, &in), -EPERM);
	CHECK_EQ(host_mode(&e, "ro"), 06755);
	/* Set-group-ID without group execute is not a write's to clear;
	 * with group execute it is. */
	n = lookup(&e, "sg");
	in.mode = S_IFREG | 0666;
	CHECK_ERR(setattr(&e, n, &in), -EPERM);
	CHECK_EQ(host_mode(&e, "sg"), 02666);
	n = lookup(&e, "sgx");
	in.mode = S_IFREG | 0777;
	CHECK_OK(setattr(&e, n, &in));
	CHECK_EQ(host_mode(&e, "sgx"), 0777);
	vfe_env_down(&e);
}

/* A time flush: explicit mtime (and ctime), maybe through a handle. */
static int flush_times(struct vfe_env *e, uint64_t nodeid, uint64_t fh,
		       bool has_fh, const struct timespec *mt)
{
	struct fuse_setattr_in in = {
		.valid = FATTR_MTIME | FATTR_CTIME | (has_fh ? FATTR_FH : 0),
		.fh = fh,
		.mtime = (uint64_t)mt->tv_sec, .mtimensec = (uint32_t)mt->tv_nsec,
		.ctime = (uint64_t)mt->tv_sec, .ctimensec = (uint32_t)mt->tv_nsec,
	};

	return setattr(e, nodeid, &in);
}

static void t_writeback_times(void)
{
	struct vfe_env_opts o = { .no_init = true };
	struct timespec t1 = { 1234567, 891000000 }, t2 = { 2345678, 0 };
	struct vfe_env e;
	struct stat st;
	uint64_t w, r, fh;

	need_root();
	o.daemon.extra[0] = "--writeback";
	vfe_env_up(&e, &o);
	CHECK_OK(vfe_fuse_init_flags(&e.f, BASE_FLAGS | FUSE_WRITEBACK_CACHE));
	CHECK(e.f.init.flags & FUSE_WRITEBACK_CACHE);
	host_file(&e, "w", "x", 1000, 1000, 0666);
	host_file(&e, "r", "x", 1000, 1000, 0644);

	/* uid 1001 wrote uid 1000's world-writable file: its close() flushes
	 * the guest's mtime through its handle. */
	as(&e, 1001, 1001);
	w = lookup(&e, "w");
	fh = open_fh(&e, w, O_WRONLY);
	CHECK_OK(flush_times(&e, w, fh, true, &t1));
	st = host_stat(&e, "w");
	CHECK_EQ(st.st_mtim.tv_sec, t1.tv_sec);
	CHECK_EQ(st.st_mtim.tv_nsec, t1.tv_nsec);
	/* Without the handle: write permission is enough. */
	CHECK_OK(flush_times(&e, w, 0, false, &t2));
	CHECK_EQ(host_stat(&e, "w").st_mtim.tv_sec, t2.tv_sec);
	/* A file it may not write: only a flush that leaves the mtime as it
	 * is (a rename moved the ctime) succeeds. */
	r = lookup(&e, "r");
	CHECK_ERR(flush_times(&e, r, 0, false, &t1), -EPERM);
	st = host_stat(&e, "r");
	CHECK(st.st_mtim.tv_sec != t1.tv_sec);
	CHECK_OK(flush_times(&e, r, 0, false, &st.st_mtim));
	/* Times a caller sets itself (with an atime) stay the owner's. */
	{
		struct fuse_setattr_in in = {
			.valid = FATTR_ATIME | FATTR_MTIME,
			.atime = 5, .mtime = 5,
		};

		CHECK_ERR(setattr(&e, w, &in), -EPERM);
	}
	vfe_env_down(&e);

	/* Without the writeback cache nothing is the guest kernel's. */
	vfe_env_up(&e, NULL);
	host_file(&e, "w", "x", 1000, 1000, 0666);
	as(&e, 1001, 1001);
	w = lookup(&e, "w");
	fh = open_fh(&e, w, O_WRONLY);
	CHECK_ERR(flush_times(&e, w, fh, true, &t1), -EPERM);
	vfe_env_down(&e);
}

static void t_killpriv_v2_chown(void)
{
	struct vfe_env_opts o = { .no_init = true };
	struct fuse_setattr_in in;
	struct vfe_env e;

	need_root();
	o.daemon.extra[0] = "--killpriv-v2";
	vfe_env_up(&e, &o);
	CHECK_OK(vfe_fuse_init_flags(&e.f, BASE_FLAGS |
				     FUSE_HANDLE_KILLPRIV_V2));
	CHECK(e.f.init.flags & FUSE_HANDLE_KILLPRIV_V2);
	/* In a group the daemon is not in (else the host keeps
	 * set-group-ID whatever the capabilities). */
	host_file(&e, "c1", "x", 0, 5, 02644);
	host_file(&e, "c2", "x", 0, 5, 06755);
	host_file(&e, "t1", "abc", 0, 0, 06755);
	host_file(&e, "t2", "abc", 0, 0, 06755);

	/* Root's chown: the guest sets FATTR_KILL_SUIDGID on every chown of
	 * a non-directory.  set-user-ID goes, set-group-ID only with group
	 * execute. */
	in = (struct fuse_setattr_in){
		.valid = FATTR_UID | FATTR_GID | FATTR_KILL_SUIDGID,
		.uid = 1, .gid = 1,
	};
	CHECK_OK(setattr(&e, lookup(&e, "c1"), &in));
	CHECK_EQ(host_mode(&e, "c1"), 02644);
	CHECK_OK(setattr(&e, lookup(&e, "c2"), &in));
	CHECK_EQ(host_mode(&e, "c2"), 0755);
	/* Truncate by a root process without CAP_FSETID (flagged) clears
	 * them; one with it (not flagged) does not. */
	in = (struct fuse_setattr_in){
		.valid = FATTR_SIZE | FATTR_KILL_SUIDGID, .size = 1,
	};
	CHECK_OK(setattr(&e, lookup(&e, "t1"), &in));
	CHECK_EQ(host_mode(&e, "t1"), 0755);
	in.valid = FATTR_SIZE;
	CHECK_OK(setattr(&e, lookup(&e, "t2"), &in));
	CHECK_EQ(host_mode(&e, "t2"), 06755);
	vfe_env_down(&e);
}

static const struct vfe_test tests[] = {
	{ "write_kill_flag", t_write_kill_flag, 0 },
	{ "setattr_killpriv", t_setattr_killpriv, 0 },
	{ "writeback_times", t_writeback_times, 0 },
	{ "killpriv_v2_chown", t_killpriv_v2_chown, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
