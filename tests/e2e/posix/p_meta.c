/*
 * tests/e2e/posix/p_meta.c: metadata checks of the posix suite: ownership
 * and permissions (as root and as other uids), umask, timestamps, hard links
 * and link counts, access(), statx, statfs, and the files left for the host.
 */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/* mode_of PATH: the permission bits (07777) of PATH (lstat), or -1. */
static long mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? -1 : (long)(st.st_mode & 07777);
}

/* uid_of / gid_of PATH: owner and group (lstat), or -1. */
static long uid_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? -1 : (long)st.st_uid;
}

static long gid_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? -1 : (long)st.st_gid;
}

/* nlink_of PATH: the link count (lstat), or -1. */
static long nlink_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? -1 : (long)st.st_nlink;
}

/* fresh_dir NAME: remove and recreate DIR/NAME (0755); returns its path. */
static const char *fresh_dir(const char *name)
{
	const char *d = p_path("%s", name);

	p_rm_rf(d);
	OK(mkdir(d, 0755));
	return d;
}

/* ---- ownership and permissions -------------------------------------- */

/* perm_as_root: create, chown and chmod as root, including the special bits. */
static void perm_as_root(void)
{
	const char *f = p_path("perm/rootfile"), *sg = p_path("perm/sgid");
	struct stat st;
	int fd;

	t_section("perm-root");
	OK(p_write_file(f, "root data\n", 0644));
	OK(stat(f, &st));
	TRUE(S_ISREG(st.st_mode));
	EQ(st.st_uid, 0);
	EQ(st.st_gid, 0);
	EQ(st.st_mode & 07777, 0644);
	EQ(st.st_size, 10);

	OK(chown(f, 1234, 5678));
	EQ(uid_of(f), 1234);
	EQ(gid_of(f), 5678);
	OK(chown(f, (uid_t)-1, 42));
	EQ(uid_of(f), 1234);
	EQ(gid_of(f), 42);
	OK(chown(f, 0, 0));
	fd = open(f, O_RDWR);
	OK(fd);
	OK(fchown(fd, 7, 8));
	OK(fstat(fd, &st));
	EQ(st.st_uid, 7);
	EQ(st.st_gid, 8);
	OK(fchmod(fd, 0600));
	OK(fstat(fd, &st));
	EQ(st.st_mode & 07777, 0600);
	close(fd);
	OK(lchown(f, 0, 0));
	EQ(uid_of(f), 0);

	OK(chmod(f, 04755));
	EQ(mode_of(f), 04755);
	OK(chmod(f, 02755));
	EQ(mode_of(f), 02755);
	OK(chmod(f, 01644));
	EQ(mode_of(f), 01644);
	OK(chmod(f, 07777));
	EQ(mode_of(f), 07777);
	OK(chmod(f, 0));
	EQ(mode_of(f), 0);
	/* Root reads and writes a mode-0 file (CAP_DAC_OVERRIDE). */
	fd = open(f, O_RDWR);
	if (OK(fd))
		close(fd);

	/* chown clears set-user-ID, and set-group-ID when group-executable,
	 * even for root; set-group-ID without group exec stays. */
	OK(chmod(f, 06755));
	OK(chown(f, 1, 1));
	EQ(mode_of(f), 0755);
	OK(chmod(f, 02644));
	OK(chown(f, 2, 2));
	EQ(mode_of(f), 02644);
	OK(chmod(f, 0644));
	OK(chown(f, 0, 0));

	/* A set-group-ID directory: new entries take its group; new
	 * subdirectories inherit the bit. */
	OK(mkdir(sg, 0775));
	OK(chown(sg, 0, 2000));
	OK(chmod(sg, 02775));
	EQ(mode_of(sg), 02775);
	OK(p_write_file(p_path("perm/sgid/file"), "x", 0644));
	EQ(gid_of(p_path("perm/sgid/file")), 2000);
	EQ(mode_of(p_path("perm/sgid/file")), 0644);
	OK(mkdir(p_path("perm/sgid/sub"), 0755));
	EQ(gid_of(p_path("perm/sgid/sub")), 2000);
	EQ(mode_of(p_path("perm/sgid/sub")), 02755);
	OK(mkdir(p_path("perm/dir"), 0700));
	OK(chmod(p_path("perm/dir"), 03755));
	EQ(mode_of(p_path("perm/dir")), 03755);
}

/* perm_child_other: uid 1000 without access: private dirs, others' files. */
static void perm_child_other(void)
{
	const char *own = p_path("perm/sticky/u1000");
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	char buf[64];
	int fd;

	t_section("perm-uid1000");
	ERR(open(p_path("perm/private/secret"), O_RDONLY), EACCES);
	ERR(open(p_path("perm/private"), O_RDONLY | O_DIRECTORY), EACCES);
	ERR(access(p_path("perm/private/secret"), F_OK), EACCES);
	ERR(mkdir(p_path("perm/private/x"), 0755), EACCES);
	ERR(open(p_path("perm/pub/rootfile"), O_WRONLY), EACCES);
	fd = open(p_path("perm/pub/rootfile"), O_RDONLY);
	if (OK(fd)) {
		EQ(read(fd, buf, sizeof(buf)), 4);
		close(fd);
	}
	ERR(chmod(p_path("perm/pub/rootfile"), 0666), EPERM);
	ERR(chown(p_path("perm/pub/rootfile"), 1000, 1000), EPERM);
	ERR(utimensat(AT_FDCWD, p_path("perm/pub/rootfile"), ts, 0), EPERM);
	ERR(utimensat(AT_FDCWD, p_path("perm/pub/rootfile"), NULL, 0), EACCES);
	ERR(truncate(p_path("perm/pub/rootfile"), 0), EACCES);
	ERR(unlink(p_path("perm/pub/rootfile")), EACCES);
	ERR(open(p_path("perm/pub/new"), O_WRONLY | O_CREAT, 0644), EACCES);
	ERR(open(p_path("perm/group.txt"), O_RDONLY), EACCES);
	EQ(mode_of(p_path("perm/pub/rootfile")), 0644);

	/* Files of its own, in the sticky directory. */
	OK(p_write_file(own, "mine\n", 0644));
	EQ(uid_of(own), 1000);
	EQ(gid_of(own), 1000);
	OK(chmod(own, 0600));
	EQ(mode_of(own), 0600);
	ERR(chown(own, 1001, (uid_t)-1), EPERM);
	OK(chown(own, (uid_t)-1, 1000));
	ERR(chown(own, (uid_t)-1, 2000), EPERM);
	OK(chmod(own, 02755));
	EQ(mode_of(own), 02755);
	OK(mkdir(p_path("perm/sticky/d1000"), 0755));
	EQ(uid_of(p_path("perm/sticky/d1000")), 1000);

	/* chmod g+s on an own file whose group it is not in: the bit is
	 * silently dropped. */
	OK(chmod(p_path("perm/sg2000.txt"), 02755));
	EQ(mode_of(p_path("perm/sg2000.txt")), 0755);

	/* Writing clears set-user-ID / set-group-ID (no CAP_FSETID), also
	 * for a writer that does not own the file. Without killpriv_v2 the
	 * guest asks for it with a SETATTR(mode) in the writer's name (page
	 * cache) or flags the WRITE (cache=never); with it, the daemon
	 * clears them on WRITE / truncate. */
	fd = open(p_path("perm/suid.bin"), O_WRONLY);
	if (OK(fd)) {
		EQ(write(fd, "w", 1), 1);
		close(fd);
	}
	EQ(mode_of(p_path("perm/suid.bin")), 0777);
	OK(chmod(own, 06755));
	fd = open(own, O_WRONLY | O_APPEND);
	if (OK(fd)) {
		EQ(write(fd, "more\n", 5), 5);
		close(fd);
	}
	EQ(mode_of(own), 0755);
	/* set-group-ID without group execute stays for a writer in the
	 * file's group (its mandatory-locking mark). */
	OK(chmod(own, 02644));
	fd = open(own, O_WRONLY | O_APPEND);
	if (OK(fd)) {
		EQ(write(fd, "again\n", 6), 6);
		close(fd);
	}
	EQ(mode_of(own), 02644);
	OK(chmod(own, 0600));
	/* truncate by a non-owner with write access clears them too. */
	OK(truncate(p_path("perm/suid2.bin"), 1));
	EQ(mode_of(p_path("perm/suid2.bin")), 0777);
	/* Without write access nothing changes: truncate is refused. */
	ERR(truncate(p_path("perm/suid3.bin"), 0), EACCES);
	EQ(mode_of(p_path("perm/suid3.bin")), 06755);
}

/* perm_child_group: group permissions through the primary gid (SUPP false)
 * or a supplementary group (SUPP true). */
static void perm_child_group(bool supp)
{
	char buf[64];
	int fd;

	t_section(supp ? "perm-supp-group" : "perm-primary-group");
	fd = open(p_path("perm/group.txt"), O_RDONLY);
	if (supp)
		XFAIL(XF_SUPP);
	if (OK(fd)) {
		EQ(read(fd, buf, sizeof(buf)), 6);
		close(fd);
	}
	ERR(open(p_path("perm/group.txt"), O_WRONLY), EACCES);
	fd = open(p_path("perm/gw.txt"), O_WRONLY | O_APPEND);
	if (supp)
		XFAIL(XF_SUPP);
	if (OK(fd)) {
		EQ(write(fd, supp ? "s" : "p", 1), 1);
		close(fd);
	}
	/* A group-writable directory: create in it. */
	fd = open(p_path("perm/gdir/%s", supp ? "supp" : "prim"), O_WRONLY | O_CREAT, 0640);
	if (OK(fd))
		close(fd);
	EQ(uid_of(p_path("perm/gdir/%s", supp ? "supp" : "prim")), 1000);
	EQ(gid_of(p_path("perm/gdir/%s", supp ? "supp" : "prim")), supp ? 1000 : 2000);
}

/* perm_child_sticky_other: uid 1001 in the sticky dir. */
static void perm_child_sticky_other(void)
{
	int fd;

	t_section("perm-sticky-uid1001");
	ERR(unlink(p_path("perm/sticky/u1000")), EPERM);
	ERR(rename(p_path("perm/sticky/u1000"), p_path("perm/sticky/x")), EPERM);
	ERR(rmdir(p_path("perm/sticky/d1000")), EPERM);
	OK(p_write_file(p_path("perm/sticky/u1001"), "other\n", 0666));
	ERR(rename(p_path("perm/sticky/u1001"), p_path("perm/sticky/u1000")), EPERM);
	/* Writing a world-writable file of someone else is fine. */
	fd = open(p_path("perm/sticky/u1000w"), O_WRONLY | O_TRUNC);
	if (OK(fd)) {
		EQ(write(fd, "written by 1001\n", 16), 16);
		/* ftruncate sets mtime: allowed to a writer, owner or not. */
		OK(ftruncate(fd, 16));
		OK(close(fd));
	}
	TRUE(access(p_path("perm/sticky/u1000"), F_OK) == 0);
}

/* perm_child_sticky_owner: uid 1000 removes its own entries; uid 1002 owns
 * the sticky dir stickyown and may remove anything in it. */
static void perm_child_sticky_owner(uid_t uid)
{
	t_section("perm-sticky-owner");
	if (uid == 1000) {
		OK(unlink(p_path("perm/sticky/u1000")));
		OK(rmdir(p_path("perm/sticky/d1000")));
	} else {
		OK(unlink(p_path("perm/stickyown/rootfile")));
		OK(rename(p_path("perm/stickyown/rootfile2"), p_path("perm/stickyown/mine")));
	}
}

/* run_as UID GID SUPP FN ARG: run FN(ARG) in a child with those ids. */
static void run_as(uid_t uid, gid_t gid, gid_t supp, void (*fn)(long), long arg)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		t_child_begin();
		p_become(uid, gid, supp);
		fn(arg);
		t_child_exit();
	}
	if (OK(pid))
		CHILD_WAIT(pid);
}

static void call_other(long a) { (void)a; perm_child_other(); }
static void call_group(long a) { perm_child_group(a != 0); }
static void call_sticky_other(long a) { (void)a; perm_child_sticky_other(); }
static void call_sticky_owner(long a) { perm_child_sticky_owner((uid_t)a); }

void t_perm(void)
{
	fresh_dir("perm");
	perm_as_root();

	t_section("perm-setup");
	OK(mkdir(p_path("perm/private"), 0700));
	OK(p_write_file(p_path("perm/private/secret"), "s", 0644));
	OK(mkdir(p_path("perm/pub"), 0755));
	OK(p_write_file(p_path("perm/pub/rootfile"), "root", 0644));
	OK(p_write_file(p_path("perm/group.txt"), "group\n", 0640));
	OK(chown(p_path("perm/group.txt"), 0, 2000));
	OK(p_write_file(p_path("perm/gw.txt"), "", 0660));
	OK(chown(p_path("perm/gw.txt"), 0, 2000));
	OK(chmod(p_path("perm/gw.txt"), 0660));
	OK(mkdir(p_path("perm/gdir"), 0770));
	OK(chown(p_path("perm/gdir"), 0, 2000));
	OK(chmod(p_path("perm/gdir"), 0770));
	OK(mkdir(p_path("perm/sticky"), 0777));
	OK(chmod(p_path("perm/sticky"), 01777));
	EQ(mode_of(p_path("perm/sticky")), 01777);
	OK(p_write_file(p_path("perm/sticky/u1000w"), "", 0666));
	OK(chown(p_path("perm/sticky/u1000w"), 1000, 1000));
	OK(chmod(p_path("perm/sticky/u1000w"), 0666));
	OK(p_write_file(p_path("perm/sg2000.txt"), "", 0644));
	OK(chown(p_path("perm/sg2000.txt"), 1000, 2000));
	OK(p_write_file(p_path("perm/suid.bin"), "", 0777));
	OK(chmod(p_path("perm/suid.bin"), 06777));
	EQ(mode_of(p_path("perm/suid.bin")), 06777);
	OK(p_write_file(p_path("perm/suid2.bin"), "abc", 0777));
	OK(chmod(p_path("perm/suid2.bin"), 06777));
	OK(p_write_file(p_path("perm/suid3.bin"), "abc", 0755));
	OK(chmod(p_path("perm/suid3.bin"), 06755));
	OK(mkdir(p_path("perm/stickyown"), 0777));
	OK(chown(p_path("perm/stickyown"), 1002, 1002));
	OK(chmod(p_path("perm/stickyown"), 01777));
	OK(p_write_file(p_path("perm/stickyown/rootfile"), "", 0644));
	OK(p_write_file(p_path("perm/stickyown/rootfile2"), "", 0644));

	run_as(1000, 1000, (gid_t)-1, call_other, 0);
	run_as(1000, 2000, (gid_t)-1, call_group, 0);
	run_as(1000, 1000, 2000, call_group, 1);
	run_as(1001, 1001, (gid_t)-1, call_sticky_other, 0);
	run_as(1000, 1000, (gid_t)-1, call_sticky_owner, 1000);
	run_as(1002, 1002, (gid_t)-1, call_sticky_owner, 1002);

	t_section("perm-after");
	ERR(access(p_path("perm/sticky/u1000"), F_OK), ENOENT);
	OK(unlink(p_path("perm/sticky/u1001")));
	EQ(uid_of(p_path("perm/stickyown/mine")), 0);
	{
		char buf[64];

		EQ(p_read_file(p_path("perm/sticky/u1000w"), buf, sizeof(buf)), 16);
		EQ(uid_of(p_path("perm/sticky/u1000w")), 1000);
		XFAIL(XF_SUPP);
		EQ(p_read_file(p_path("perm/gw.txt"), buf, sizeof(buf)), 2);
	}
}

/* ---- umask ----------------------------------------------------------- */

/* umask_case MASK FILEMODE DIRMODE: create a file, a dir, a FIFO and a
 * symlink under MASK and check the resulting modes. */
static void umask_case(mode_t mask, mode_t fmode, mode_t dmode)
{
	const char *f = p_path("umask/f%03o", mask), *d = p_path("umask/d%03o", mask);
	const char *p = p_path("umask/p%03o", mask), *l = p_path("umask/l%03o", mask);
	const char *g = p_path("umask/g%03o", mask);
	int fd;

	umask(mask);
	fd = open(f, O_WRONLY | O_CREAT | O_EXCL, fmode);
	if (OK(fd))
		close(fd);
	EQ(mode_of(f), fmode & ~mask);
	OK(mkdir(d, dmode));
	EQ(mode_of(d), dmode & ~mask);
	OK(mkfifo(p, 0666));
	EQ(mode_of(p), 0666 & ~mask);
	OK(mknod(g, S_IFREG | 0666, 0));
	EQ(mode_of(g), 0666 & ~mask);
	OK(symlink("target", l));
	EQ(mode_of(l), 0777);
	/* chmod ignores the umask. */
	OK(chmod(f, 0777));
	EQ(mode_of(f), 0777);
	umask(022);
}

void t_umask(void)
{
	fresh_dir("umask");
	umask_case(022, 0666, 0777);
	umask_case(077, 0666, 0777);
	umask_case(0, 0666, 0777);
	umask_case(027, 0777, 0750);
	umask_case(0777, 0644, 0755);
}

/* ---- timestamps ------------------------------------------------------ */

/* now_rt: CLOCK_REALTIME now. */
static struct timespec now_rt(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

/* near_now T: T within 10 s of the guest's clock (host and guest clocks
 * may differ slightly). */
static bool near_now(const struct timespec *t)
{
	struct timespec n = now_rt();

	return t->tv_sec > n.tv_sec - 10 && t->tv_sec < n.tv_sec + 10;
}

static const struct timespec old_times[2] = {
	{ 1000000000, 123456789 }, { 1100000000, 987654321 },
};

/* set_old FD: set atime/mtime of FD to old_times; returns its ctime. */
static struct timespec set_old(int fd)
{
	struct stat st;

	OK(futimens(fd, old_times));
	fstat(fd, &st);
	p_msleep(30);
	return st.st_ctim;
}

/* times_utimensat: explicit values, UTIME_NOW, UTIME_OMIT. */
static void times_utimensat(void)
{
	const char *f = p_path("times/u");
	struct timespec ts[2];
	struct stat st, st2;
	int fd;

	t_section("times-utimensat");
	OK(p_write_file(f, "x", 0644));
	OK(utimensat(AT_FDCWD, f, old_times, 0));
	OK(stat(f, &st));
	EQ(st.st_atim.tv_sec, old_times[0].tv_sec);
	EQ(st.st_atim.tv_nsec, old_times[0].tv_nsec);
	EQ(st.st_mtim.tv_sec, old_times[1].tv_sec);
	EQ(st.st_mtim.tv_nsec, old_times[1].tv_nsec);
	TRUE(near_now(&st.st_ctim));

	ts[0].tv_nsec = UTIME_OMIT;
	ts[0].tv_sec = 0;
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 5;
	OK(utimensat(AT_FDCWD, f, ts, 0));
	OK(stat(f, &st));
	TRUE(p_ts_equal(&st.st_atim, &old_times[0]));
	EQ(st.st_mtim.tv_sec, 1200000000);
	EQ(st.st_mtim.tv_nsec, 5);

	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	OK(utimensat(AT_FDCWD, f, ts, 0));
	OK(stat(f, &st));
	TRUE(p_ts_equal(&st.st_atim, &old_times[0]));
	TRUE(near_now(&st.st_mtim));

	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	OK(utimensat(AT_FDCWD, f, old_times, 0));
	OK(utimensat(AT_FDCWD, f, ts, 0));
	OK(stat(f, &st));
	TRUE(near_now(&st.st_atim));
	TRUE(p_ts_equal(&st.st_mtim, &old_times[1]));

	/* Both omitted: nothing changes, not even ctime. */
	ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
	OK(stat(f, &st));
	p_msleep(30);
	OK(utimensat(AT_FDCWD, f, ts, 0));
	OK(stat(f, &st2));
	TRUE(p_ts_equal(&st.st_ctim, &st2.st_ctim));
	TRUE(p_ts_equal(&st.st_mtim, &st2.st_mtim));

	/* NULL: both now. */
	OK(utimensat(AT_FDCWD, f, NULL, 0));
	OK(stat(f, &st));
	TRUE(near_now(&st.st_atim));
	TRUE(near_now(&st.st_mtim));

	fd = open(f, O_RDWR);
	if (OK(fd)) {
		OK(futimens(fd, old_times));
		OK(fstat(fd, &st));
		TRUE(p_ts_equal(&st.st_mtim, &old_times[1]));
		close(fd);
	}
	ERR(utimensat(AT_FDCWD, p_path("times/missing"), NULL, 0), ENOENT);
}

/* times_data: write, ftruncate, truncate and O_TRUNC update mtime and ctime
 * (to the same value) and leave atime alone. */
static void times_data(void)
{
	const char *f = p_path("times/w");
	struct timespec c0;
	struct stat st;
	int fd;

	t_section("times-data");
	fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!OK(fd))
		return;
	c0 = set_old(fd);
	EQ(write(fd, "hello", 5), 5);
	OK(fstat(fd, &st));
	TRUE(p_ts_after(&st.st_mtim, &old_times[1]));
	TRUE(near_now(&st.st_mtim));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	TRUE(p_ts_equal(&st.st_mtim, &st.st_ctim));
	TRUE(p_ts_equal(&st.st_atim, &old_times[0]));

	c0 = set_old(fd);
	OK(ftruncate(fd, 100));
	OK(fstat(fd, &st));
	EQ(st.st_size, 100);
	TRUE(near_now(&st.st_mtim));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	TRUE(p_ts_equal(&st.st_mtim, &st.st_ctim));

	c0 = set_old(fd);
	OK(truncate(f, 3));
	OK(stat(f, &st));
	EQ(st.st_size, 3);
	TRUE(near_now(&st.st_mtim));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	close(fd);

	fd = open(f, O_RDWR);
	c0 = set_old(fd);
	close(fd);
	fd = open(f, O_WRONLY | O_TRUNC);
	if (OK(fd)) {
		OK(fstat(fd, &st));
		EQ(st.st_size, 0);
		TRUE(near_now(&st.st_mtim));
		TRUE(p_ts_after(&st.st_ctim, &c0));
		close(fd);
	}

	/* pwrite at an offset also updates them. */
	fd = open(f, O_RDWR);
	c0 = set_old(fd);
	EQ(pwrite(fd, "z", 1, 4096), 1);
	OK(fsync(fd));
	OK(fstat(fd, &st));
	EQ(st.st_size, 4097);
	TRUE(near_now(&st.st_mtim));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	close(fd);
}

/* times_meta: chmod, chown, link, rename and unlink change ctime, not mtime;
 * creating and removing entries change the directory's mtime and ctime. */
static void times_meta(void)
{
	const char *f = p_path("times/m"), *d = p_path("times/dir");
	struct timespec c0, dm0, dc0;
	struct stat st;
	int fd;

	t_section("times-meta");
	OK(mkdir(d, 0755));
	OK(p_write_file(f, "meta", 0644));
	fd = open(f, O_RDONLY);
	if (!OK(fd))
		return;

	c0 = set_old(fd);
	OK(chmod(f, 0600));
	OK(stat(f, &st));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	TRUE(p_ts_equal(&st.st_mtim, &old_times[1]));
	TRUE(p_ts_equal(&st.st_atim, &old_times[0]));

	c0 = set_old(fd);
	OK(chown(f, 5, 5));
	OK(stat(f, &st));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	TRUE(p_ts_equal(&st.st_mtim, &old_times[1]));

	c0 = set_old(fd);
	OK(stat(d, &st));
	dm0 = st.st_mtim;
	dc0 = st.st_ctim;
	OK(link(f, p_path("times/dir/m2")));
	OK(stat(f, &st));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	TRUE(p_ts_equal(&st.st_mtim, &old_times[1]));
	OK(stat(d, &st));
	TRUE(p_ts_after(&st.st_mtim, &dm0));
	TRUE(p_ts_after(&st.st_ctim, &dc0));

	c0 = set_old(fd);
	OK(rename(f, p_path("times/m3")));
	OK(stat(p_path("times/m3"), &st));
	TRUE(p_ts_after(&st.st_ctim, &c0));
	TRUE(p_ts_equal(&st.st_mtim, &old_times[1]));

	c0 = set_old(fd);
	OK(stat(d, &st));
	dm0 = st.st_mtim;
	OK(unlink(p_path("times/dir/m2")));
	OK(fstat(fd, &st));
	EQ(st.st_nlink, 1);
	TRUE(p_ts_after(&st.st_ctim, &c0));
	OK(stat(d, &st));
	TRUE(p_ts_after(&st.st_mtim, &dm0));

	OK(stat(d, &st));
	dm0 = st.st_mtim;
	p_msleep(30);
	OK(mkdir(p_path("times/dir/sub"), 0755));
	OK(stat(d, &st));
	TRUE(p_ts_after(&st.st_mtim, &dm0));
	dm0 = st.st_mtim;
	p_msleep(30);
	OK(rmdir(p_path("times/dir/sub")));
	OK(stat(d, &st));
	TRUE(p_ts_after(&st.st_mtim, &dm0));
	close(fd);
}

/* times_atime: a read from the host file updates atime when it is older
 * than mtime (relatime or strictatime on the host); the page cache is
 * dropped first so that the read reaches the daemon. */
static void times_atime(void)
{
	const char *f = p_path("times/a");
	struct timespec ts[2] = { { 1000000000, 0 }, { 0, UTIME_NOW } };
	struct stat st;
	char buf[16];

	t_section("times-atime");
	OK(p_write_file(f, "atime", 0644));
	OK(utimensat(AT_FDCWD, f, ts, 0));
	p_drop_caches();
	EQ(p_read_file(f, buf, sizeof(buf)), 5);
	OK(stat(f, &st));
	TRUE(st.st_atim.tv_sec > 1000000000);
	TRUE(near_now(&st.st_atim));
}

void t_times(void)
{
	fresh_dir("times");
	times_utimensat();
	times_data();
	times_meta();
	times_atime();
}

/* ---- hard links and link counts ------------------------------------- */

void t_links(void)
{
	const char *a = p_path("links/a"), *b = p_path("links/b");
	const char *c = p_path("links/sub/c"), *sub = p_path("links/sub");
	struct stat sa, sb;
	char buf[64];
	int fd;

	fresh_dir("links");
	OK(mkdir(sub, 0755));
	OK(p_write_file(a, "linked\n", 0644));
	EQ(nlink_of(a), 1);
	OK(link(a, b));
	EQ(nlink_of(a), 2);
	EQ(nlink_of(b), 2);
	OK(stat(a, &sa));
	OK(stat(b, &sb));
	EQ(sa.st_ino, sb.st_ino);
	EQ(sa.st_dev, sb.st_dev);
	OK(link(a, c));
	EQ(nlink_of(b), 3);
	ERR(link(a, b), EEXIST);
	ERR(link(sub, p_path("links/dirlink")), EPERM);
	ERR(link(p_path("links/missing"), p_path("links/x")), ENOENT);
	ERR(link(a, p_path("links/missing/x")), ENOENT);

	/* One inode: a write through one name is seen through the others. */
	fd = open(b, O_WRONLY | O_APPEND);
	if (OK(fd)) {
		EQ(write(fd, "more\n", 5), 5);
		close(fd);
	}
	EQ(p_read_file(c, buf, sizeof(buf)), 12);
	STREQ(buf, "linked\nmore\n");
	OK(chmod(c, 0600));
	EQ(mode_of(a), 0600);

	OK(unlink(a));
	EQ(nlink_of(b), 2);
	OK(unlink(c));
	EQ(nlink_of(b), 1);
	fd = open(b, O_RDONLY);
	if (OK(fd)) {
		OK(unlink(b));
		OK(fstat(fd, &sb));
		EQ(sb.st_nlink, 0);
		EQ(pread(fd, buf, sizeof(buf), 0), 12);
		close(fd);
	}

	/* linkat on a symlink: the link itself, or its target with FOLLOW. */
	OK(p_write_file(a, "t", 0644));
	OK(symlink("a", p_path("links/sym")));
	OK(linkat(AT_FDCWD, p_path("links/sym"), AT_FDCWD, p_path("links/sym2"), 0));
	OK(lstat(p_path("links/sym2"), &sb));
	TRUE(S_ISLNK(sb.st_mode));
	EQ(nlink_of(p_path("links/sym")), 2);
	OK(linkat(AT_FDCWD, p_path("links/sym"), AT_FDCWD, p_path("links/tgt2"), AT_SYMLINK_FOLLOW));
	OK(lstat(p_path("links/tgt2"), &sb));
	TRUE(S_ISREG(sb.st_mode));
	EQ(nlink_of(a), 2);

	/* Directory link counts: 2 + subdirectories. */
	t_section("links-dir-nlink");
	OK(mkdir(p_path("links/D"), 0755));
	OK(mkdir(p_path("links/E"), 0755));
	EQ(nlink_of(p_path("links/D")), 2);
	OK(mkdir(p_path("links/D/s1"), 0755));
	OK(mkdir(p_path("links/D/s2"), 0755));
	OK(p_write_file(p_path("links/D/file"), "", 0644));
	EQ(nlink_of(p_path("links/D")), 4);
	EQ(nlink_of(p_path("links/D/s1")), 2);
	OK(rmdir(p_path("links/D/s1")));
	EQ(nlink_of(p_path("links/D")), 3);
	OK(rename(p_path("links/D/s2"), p_path("links/E/s2")));
	EQ(nlink_of(p_path("links/D")), 2);
	EQ(nlink_of(p_path("links/E")), 3);
	OK(rename(p_path("links/E/s2"), p_path("links/E/s3")));
	EQ(nlink_of(p_path("links/E")), 3);
	EQ(nlink_of(p_path("links")), 5);
}

/* ---- access ---------------------------------------------------------- */

/* access_child MODE: 0 plain uid 1000, 1 ruid 1000/euid 0, 2 ruid 0/euid 1000. */
static void access_child(long mode)
{
	const char *f = p_path("access/f600"), *g = p_path("access/f604");

	t_section(mode == 0 ? "access-uid1000" : mode == 1 ? "access-ruid1000" : "access-euid1000");
	if (mode == 0) {
		ERR(access(f, R_OK), EACCES);
		OK(access(f, F_OK));
		OK(access(g, R_OK));
		ERR(access(g, W_OK), EACCES);
		ERR(faccessat(AT_FDCWD, g, W_OK, AT_EACCESS), EACCES);
		ERR(access(p_path("access/ro/x"), F_OK), ENOENT);
		return;
	}
	if (mode == 1) {
		ERR(access(f, R_OK), EACCES);
		OK(faccessat(AT_FDCWD, f, R_OK | W_OK, AT_EACCESS));
		return;
	}
	OK(access(f, R_OK | W_OK));
	ERR(faccessat(AT_FDCWD, f, R_OK, AT_EACCESS), EACCES);
	OK(faccessat(AT_FDCWD, g, R_OK, AT_EACCESS));
}

void t_access(void)
{
	const char *f = p_path("access/f600"), *g = p_path("access/f604");
	pid_t pid;
	long m;

	fresh_dir("access");
	OK(p_write_file(f, "a", 0600));
	OK(p_write_file(g, "b", 0604));
	OK(mkdir(p_path("access/ro"), 0555));
	OK(access(f, F_OK));
	OK(access(f, R_OK | W_OK));
	ERR(access(f, X_OK), EACCES);
	OK(chmod(f, 0700));
	OK(access(f, X_OK));
	OK(chmod(f, 0600));
	ERR(access(p_path("access/missing"), F_OK), ENOENT);
	ERR(access(p_path("access/f600/x"), F_OK), ENOTDIR);
	OK(faccessat(AT_FDCWD, f, R_OK, AT_EACCESS));
	OK(access(p_path("access/ro"), W_OK));

	for (m = 0; m < 3; m++) {
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			t_child_begin();
			if (setgroups(0, NULL) < 0 || setresgid(1000, 1000, 1000) < 0)
				_exit(3);
			if (m == 0 && setresuid(1000, 1000, 1000) < 0)
				_exit(3);
			if (m == 1 && setresuid(1000, 0, 0) < 0)
				_exit(3);
			if (m == 2 && setresuid(0, 1000, 0) < 0)
				_exit(3);
			access_child(m);
			t_child_exit();
		}
		if (OK(pid))
			CHILD_WAIT(pid);
	}
}

/* ---- statx ----------------------------------------------------------- */

void t_statx(void)
{
	const char *f = p_path("statx/f");
	struct statx sx;
	struct stat st;

	fresh_dir("statx");
	OK(p_write_file(f, "statx data", 0640));
	OK(chown(f, 11, 22));
	OK(stat(f, &st));
	if (!OK(statx(AT_FDCWD, f, 0, STATX_BASIC_STATS | STATX_BTIME, &sx)))
		return;
	EQ(sx.stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
	EQ(sx.stx_size, 10);
	EQ(sx.stx_mode, S_IFREG | 0640);
	EQ(sx.stx_nlink, 1);
	EQ(sx.stx_uid, 11);
	EQ(sx.stx_gid, 22);
	EQ(sx.stx_ino, st.st_ino);
	EQ(sx.stx_blocks, st.st_blocks);
	EQ(sx.stx_mtime.tv_sec, st.st_mtim.tv_sec);
	EQ(sx.stx_mtime.tv_nsec, st.st_mtim.tv_nsec);
	EQ(sx.stx_ctime.tv_sec, st.st_ctim.tv_sec);
	EQ(makedev(sx.stx_dev_major, sx.stx_dev_minor), st.st_dev);
	TRUE(sx.stx_blksize > 0);
	if (sx.stx_mask & STATX_BTIME) {
		TRUE(sx.stx_btime.tv_sec <= sx.stx_mtime.tv_sec);
		TRUE(sx.stx_btime.tv_sec > 0);
		t_info("statx btime: provided");
	} else {
		t_info("statx btime: not provided");
	}
	OK(symlink("f", p_path("statx/l")));
	OK(statx(AT_FDCWD, p_path("statx/l"), AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_SIZE, &sx));
	TRUE(S_ISLNK(sx.stx_mode));
	EQ(sx.stx_size, 1);
	OK(statx(AT_FDCWD, p_path("statx/l"), 0, STATX_TYPE | STATX_SIZE, &sx));
	TRUE(S_ISREG(sx.stx_mode));
	OK(statx(AT_FDCWD, f, AT_STATX_FORCE_SYNC, STATX_ALL, &sx));
	EQ(sx.stx_size, 10);
	OK(statx(AT_FDCWD, p_path("statx"), AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx));
	TRUE(S_ISDIR(sx.stx_mode));
	ERR(statx(AT_FDCWD, p_path("statx/missing"), 0, STATX_BASIC_STATS, &sx), ENOENT);
}

/* ---- statfs ---------------------------------------------------------- */

void t_statfs(void)
{
	struct statfs sf, sf2;
	struct statvfs sv;
	int fd;

	if (!OK(statfs(t_cfg.dir, &sf)))
		return;
	EQ(sf.f_type, FUSE_SUPER_MAGIC);
	TRUE(sf.f_bsize > 0);
	TRUE(sf.f_blocks > 0);
	TRUE(sf.f_bfree <= sf.f_blocks);
	TRUE(sf.f_bavail <= sf.f_bfree);
	TRUE(sf.f_files > 0);
	TRUE(sf.f_ffree <= sf.f_files);
	EQ(sf.f_namelen, 255);
	OK(statvfs(t_cfg.dir, &sv));
	EQ(sv.f_blocks, sf.f_blocks);
	EQ(sv.f_namemax, 255);
	EQ(sv.f_frsize, sf.f_frsize);
	fd = open(t_cfg.dir, O_RDONLY | O_DIRECTORY);
	if (OK(fd)) {
		OK(fstatfs(fd, &sf2));
		EQ(sf2.f_blocks, sf.f_blocks);
		EQ(sf2.f_type, FUSE_SUPER_MAGIC);
		close(fd);
	}
	ERR(statfs(p_path("missing"), &sf2), ENOENT);
}

/* ---- files left for the host ---------------------------------------- */

void t_keep(void)
{
	const char *d = fresh_dir("keep");
	int fd;

	(void)d;
	OK(p_write_file(p_path("keep/hello.txt"), "posix keep\n", 0640));
	OK(chown(p_path("keep/hello.txt"), 1234, 5678));
	OK(chmod(p_path("keep/hello.txt"), 0640));
	OK(link(p_path("keep/hello.txt"), p_path("keep/hard")));
	OK(symlink("hello.txt", p_path("keep/link")));
	OK(mkdir(p_path("keep/sgid"), 0700));
	OK(chmod(p_path("keep/sgid"), 02770));
	OK(mkfifo(p_path("keep/fifo"), 0600));
	fd = open(p_path("keep/sparse"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (OK(fd)) {
		EQ(pwrite(fd, "E", 1, 8 << 20), 1);
		close(fd);
	}
	OK(p_write_file(p_path("keep/A"), "content A\n", 0644));
	OK(p_write_file(p_path("keep/B"), "content B\n", 0644));
	if (renameat2(AT_FDCWD, p_path("keep/A"), AT_FDCWD, p_path("keep/B"),
		      RENAME_EXCHANGE) < 0)
		t_info("keep: RENAME_EXCHANGE failed: %s", strerror(errno));
	OK(p_write_file(p_path("keep/done"), "ok\n", 0644));
	sync();
}
