/*
 * tests/e2e/posix/p_names.c: name-space checks of the posix suite: rename
 * (incl. renameat2 flags), unlink/rmdir errors, open flags (incl. O_APPEND
 * from two processes), symlinks, readdir, O_TMPFILE.
 */
#include "t.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* fresh NAME: remove and recreate DIR/NAME (0755). */
static void fresh(const char *name)
{
	p_rm_rf(p_path("%s", name));
	OK(mkdir(p_path("%s", name), 0755));
}

/* content_is PATH WANT: PATH holds exactly WANT. */
static bool content_is(const char *path, const char *want)
{
	char buf[256];

	if (p_read_file(path, buf, sizeof(buf)) < 0)
		return false;
	return strcmp(buf, want) == 0;
}

/* exists PATH: lstat succeeds. */
static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- rename ---------------------------------------------------------- */

static void rename_basic(void)
{
	const char *a = p_path("rename/a"), *b = p_path("rename/b");
	struct stat st;
	char buf[16];
	int fd;

	t_section("rename-file");
	OK(p_write_file(a, "AAA", 0644));
	OK(p_write_file(b, "BBB", 0600));
	fd = open(b, O_RDONLY);
	OK(fd);
	OK(rename(a, b));
	ERR(access(a, F_OK), ENOENT);
	TRUE(content_is(b, "AAA"));
	EQ(p_mode(b), 0644);
	EQ(pread(fd, buf, sizeof(buf), 0), 3);
	TRUE(memcmp(buf, "BBB", 3) == 0);
	OK(fstat(fd, &st));
	EQ(st.st_nlink, 0);
	close(fd);

	/* To itself, and between two links of one inode: nothing happens. */
	OK(rename(b, b));
	TRUE(content_is(b, "AAA"));
	OK(link(b, a));
	OK(rename(a, b));
	TRUE(exists(a));
	TRUE(exists(b));
	EQ(p_nlink(b), 2);
	OK(unlink(a));

	ERR(rename(p_path("rename/missing"), a), ENOENT);
	ERR(rename(b, p_path("rename/nodir/x")), ENOENT);
	ERR(rename(p_path("rename/."), p_path("rename/dot")), EBUSY);

	/* A file kept open across its rename stays usable. */
	fd = open(b, O_RDWR);
	if (OK(fd)) {
		OK(rename(b, p_path("rename/c")));
		EQ(pwrite(fd, "Z", 1, 0), 1);
		OK(fsync(fd));
		close(fd);
		TRUE(content_is(p_path("rename/c"), "ZAA"));
	}
	/* A symlink is renamed, not its target. */
	OK(symlink("c", p_path("rename/sl")));
	OK(rename(p_path("rename/sl"), p_path("rename/sl2")));
	OK(lstat(p_path("rename/sl2"), &st));
	TRUE(S_ISLNK(st.st_mode));
	TRUE(exists(p_path("rename/c")));
}

static void rename_dirs(void)
{
	struct stat st;

	t_section("rename-dir");
	OK(mkdir(p_path("rename/d1"), 0755));
	OK(p_write_file(p_path("rename/d1/f"), "in d1", 0644));
	OK(mkdir(p_path("rename/d2"), 0700));
	OK(rename(p_path("rename/d1"), p_path("rename/d2")));
	ERR(access(p_path("rename/d1"), F_OK), ENOENT);
	TRUE(content_is(p_path("rename/d2/f"), "in d1"));
	EQ(p_mode(p_path("rename/d2")), 0755);

	OK(mkdir(p_path("rename/d3"), 0755));
	OK(mkdir(p_path("rename/d4"), 0755));
	OK(p_write_file(p_path("rename/d4/x"), "x", 0644));
	ERR2(rename(p_path("rename/d3"), p_path("rename/d4")), ENOTEMPTY, EEXIST);
	TRUE(exists(p_path("rename/d4/x")));
	TRUE(exists(p_path("rename/d3")));

	OK(p_write_file(p_path("rename/file"), "f", 0644));
	ERR(rename(p_path("rename/file"), p_path("rename/d3")), EISDIR);
	ERR(rename(p_path("rename/d3"), p_path("rename/file")), ENOTDIR);

	/* Into its own subdirectory. */
	OK(mkdir(p_path("rename/d3/q"), 0755));
	ERR(rename(p_path("rename/d3"), p_path("rename/d3/q/r")), EINVAL);
	ERR(rename(p_path("rename/d3"), p_path("rename/d3/r")), EINVAL);
	TRUE(exists(p_path("rename/d3/q")));

	/* Across directories (no EXDEV inside the share). */
	OK(mkdir(p_path("rename/x"), 0755));
	OK(mkdir(p_path("rename/y"), 0755));
	OK(p_write_file(p_path("rename/x/f"), "moving", 0644));
	OK(rename(p_path("rename/x/f"), p_path("rename/y/g")));
	TRUE(content_is(p_path("rename/y/g"), "moving"));
	ERR(access(p_path("rename/x/f"), F_OK), ENOENT);
	OK(rename(p_path("rename/d3"), p_path("rename/y/d3")));
	OK(stat(p_path("rename/y/d3/q"), &st));
	TRUE(S_ISDIR(st.st_mode));
	OK(rename(p_path("rename/y"), p_path("rename/x/y")));
	TRUE(content_is(p_path("rename/x/y/g"), "moving"));
	OK(rename(p_path("rename/x/y/g"), p_path("rename/g")));
	TRUE(content_is(p_path("rename/g"), "moving"));
}

static void rename_flags(void)
{
	const char *a = p_path("rename/na"), *b = p_path("rename/nb");
	struct stat st;

	t_section("rename-flags");
	OK(p_write_file(a, "na", 0644));
	OK(p_write_file(b, "nb", 0644));
	ERR(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE), EEXIST);
	TRUE(content_is(a, "na"));
	TRUE(content_is(b, "nb"));
	OK(renameat2(AT_FDCWD, a, AT_FDCWD, p_path("rename/nc"), RENAME_NOREPLACE));
	ERR(access(a, F_OK), ENOENT);
	TRUE(content_is(p_path("rename/nc"), "na"));

	OK(renameat2(AT_FDCWD, b, AT_FDCWD, p_path("rename/nc"), RENAME_EXCHANGE));
	TRUE(content_is(b, "na"));
	TRUE(content_is(p_path("rename/nc"), "nb"));
	OK(mkdir(p_path("rename/ed"), 0755));
	OK(p_write_file(p_path("rename/ed/inside"), "i", 0644));
	OK(renameat2(AT_FDCWD, b, AT_FDCWD, p_path("rename/ed"), RENAME_EXCHANGE));
	OK(stat(b, &st));
	TRUE(S_ISDIR(st.st_mode));
	TRUE(exists(p_path("rename/nb/inside")));
	TRUE(content_is(p_path("rename/ed"), "na"));
	ERR(renameat2(AT_FDCWD, b, AT_FDCWD, p_path("rename/absent"), RENAME_EXCHANGE), ENOENT);
	ERR(renameat2(AT_FDCWD, b, AT_FDCWD, p_path("rename/ed"),
		      RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
	TRUE(exists(b));
}

void t_rename(void)
{
	fresh("rename");
	rename_basic();
	rename_dirs();
	rename_flags();
}

/* ---- unlink / rmdir ------------------------------------------------- */

void t_unlink(void)
{
	const char *f = p_path("unlink/f"), *d = p_path("unlink/d");
	struct stat st;
	char buf[16];
	int fd;

	fresh("unlink");
	OK(p_write_file(f, "file", 0644));
	OK(mkdir(d, 0755));
	OK(p_write_file(p_path("unlink/d/x"), "x", 0644));
	ERR2(rmdir(d), ENOTEMPTY, EEXIST);
	ERR(unlink(d), EISDIR);
	ERR(rmdir(f), ENOTDIR);
	ERR(unlink(p_path("unlink/missing")), ENOENT);
	ERR(rmdir(p_path("unlink/missing")), ENOENT);
	ERR(unlink(p_path("unlink/f/x")), ENOTDIR);
	ERR(rmdir(p_path("unlink/d/.")), EINVAL);
	ERR(mkdir(d, 0755), EEXIST);
	ERR(mkdir(f, 0755), EEXIST);
	OK(symlink("d", p_path("unlink/dl")));
	ERR(rmdir(p_path("unlink/dl")), ENOTDIR);
	OK(unlink(p_path("unlink/dl")));
	TRUE(exists(d));
	OK(unlink(p_path("unlink/d/x")));
	fd = open(d, O_RDONLY | O_DIRECTORY);
	OK(rmdir(d));
	ERR(access(d, F_OK), ENOENT);
	if (fd >= 0) {
		OK(fstat(fd, &st));
		EQ(st.st_nlink, 0);
		ERR(openat(fd, "new", O_WRONLY | O_CREAT, 0644), ENOENT);
		close(fd);
	}

	/* An open, unlinked file stays usable; its name is free again. */
	fd = open(f, O_RDWR);
	if (OK(fd)) {
		struct stat st2;

		OK(fstat(fd, &st));
		OK(unlink(f));
		ERR(access(f, F_OK), ENOENT);
		EQ(pwrite(fd, "FILE", 4, 0), 4);
		EQ(pread(fd, buf, sizeof(buf), 0), 4);
		TRUE(memcmp(buf, "FILE", 4) == 0);
		OK(p_write_file(f, "new", 0644));
		OK(stat(f, &st2));
		TRUE(st2.st_ino != st.st_ino);
		TRUE(content_is(f, "new"));
		close(fd);
	}
}

/* ---- open flags ------------------------------------------------------ */

#define APP_RECS 150
#define APP_LEN 32

/* appender ID PATH: APP_RECS fixed-size records with O_APPEND. */
static void appender(int id, const char *path)
{
	char rec[APP_LEN + 1];
	int fd, i, bad = 0;

	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		_exit(4);
	for (i = 0; i < APP_RECS; i++) {
		snprintf(rec, sizeof(rec), "P%d-%04d-%-23s\n", id, i, "x");
		if (write(fd, rec, APP_LEN) != APP_LEN)
			bad++;
	}
	close(fd);
	_exit(bad ? 5 : 0);
}

static void open_append(void)
{
	const char *f = p_path("open/app");
	static char buf[2 * APP_RECS * APP_LEN + 64];
	int seen[2][APP_RECS] = { { 0 } };
	int fd, i, bad = 0, dup = 0, missing = 0;
	pid_t p[2];
	ssize_t n;

	t_section("open-append");
	fd = open(f, O_RDWR | O_CREAT | O_APPEND, 0644);
	if (!OK(fd))
		return;
	EQ(write(fd, "abc", 3), 3);
	EQ(lseek(fd, 0, SEEK_SET), 0);
	EQ(write(fd, "def", 3), 3);
	EQ(lseek(fd, 0, SEEK_CUR), 6);
	/* Linux: pwrite() on an O_APPEND descriptor appends too. */
	EQ(pwrite(fd, "g", 1, 0), 1);
	n = pread(fd, buf, sizeof(buf), 0);
	EQ(n, 7);
	TRUE(n == 7 && memcmp(buf, "abcdefg", 7) == 0);
	OK(ftruncate(fd, 0));
	close(fd);

	fflush(stdout);
	for (i = 0; i < 2; i++) {
		p[i] = fork();
		if (p[i] == 0)
			appender(i, f);
	}
	for (i = 0; i < 2; i++)
		if (OK(p[i]))
			CHILD_WAIT(p[i]);
	fd = open(f, O_RDONLY);
	if (!OK(fd))
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	EQ(n, 2 * APP_RECS * APP_LEN);
	for (i = 0; i + APP_LEN <= n; i += APP_LEN) {
		int id, seq;

		if (sscanf(buf + i, "P%d-%d-", &id, &seq) != 2 || id < 0 || id > 1 ||
		    seq < 0 || seq >= APP_RECS || buf[i + APP_LEN - 1] != '\n') {
			bad++;
			continue;
		}
		if (seen[id][seq]++)
			dup++;
	}
	for (i = 0; i < 2 * APP_RECS; i++)
		if (!seen[i / APP_RECS][i % APP_RECS])
			missing++;
	EQ(bad, 0);
	EQ(dup, 0);
	EQ(missing, 0);
}

/* open_create_ro_child: uid 1000 creates a file with mode 0444 and O_RDWR. */
static void open_create_ro_child(void)
{
	const char *f = p_path("open/pub/ro");
	int fd;

	t_section("open-create-0444");
	fd = open(f, O_RDWR | O_CREAT | O_EXCL, 0444);
	if (OK(fd)) {
		EQ(write(fd, "ro", 2), 2);
		close(fd);
	}
	EQ(p_mode(f), 0444);
	ERR(open(f, O_WRONLY), EACCES);
	TRUE(content_is(f, "ro"));
	t_child_exit();
}

void t_open(void)
{
	const char *f = p_path("open/f"), *l = p_path("open/dangling");
	struct stat st;
	pid_t pid;
	int fd;

	fresh("open");
	t_section("open-flags");
	fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (OK(fd))
		close(fd);
	ERR(open(f, O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	OK(p_write_file(f, "hello", 0644));
	fd = open(f, O_WRONLY | O_TRUNC);
	if (OK(fd)) {
		OK(fstat(fd, &st));
		EQ(st.st_size, 0);
		close(fd);
	}
	OK(stat(f, &st));
	EQ(st.st_size, 0);
	fd = open(f, O_WRONLY | O_CREAT, 0600);
	if (OK(fd))
		close(fd);
	EQ(p_mode(f), 0644);

	ERR(open(f, O_RDONLY | O_DIRECTORY), ENOTDIR);
	fd = open(p_path("open"), O_RDONLY | O_DIRECTORY);
	if (OK(fd))
		close(fd);
	ERR(open(p_path("open"), O_WRONLY), EISDIR);
	ERR(open(p_path("open"), O_RDWR), EISDIR);
	ERR(open(p_path("open/missing"), O_RDONLY), ENOENT);
	ERR(open(p_path("open/f/x"), O_RDONLY), ENOTDIR);
	ERR(open(p_path("open/nodir/x"), O_WRONLY | O_CREAT, 0644), ENOENT);

	OK(symlink("f", p_path("open/sym")));
	ERR(open(p_path("open/sym"), O_RDONLY | O_NOFOLLOW), ELOOP);
	fd = open(p_path("open/sym"), O_PATH | O_NOFOLLOW);
	if (OK(fd)) {
		OK(fstat(fd, &st));
		TRUE(S_ISLNK(st.st_mode));
		close(fd);
	}
	fd = open(p_path("open/sym"), O_RDONLY);
	if (OK(fd))
		close(fd);

	/* O_CREAT through a dangling symlink creates its target; with O_EXCL
	 * it fails and creates nothing. */
	OK(symlink("target", l));
	ERR(open(l, O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	ERR(access(p_path("open/target"), F_OK), ENOENT);
	fd = open(l, O_WRONLY | O_CREAT, 0640);
	if (OK(fd)) {
		EQ(write(fd, "via link", 8), 8);
		close(fd);
	}
	TRUE(content_is(p_path("open/target"), "via link"));
	EQ(p_mode(p_path("open/target")), 0640);
	OK(lstat(l, &st));
	TRUE(S_ISLNK(st.st_mode));

	open_append();

	OK(mkdir(p_path("open/pub"), 0777));
	OK(chmod(p_path("open/pub"), 0777));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		t_child_begin();
		p_become(1000, 1000, (gid_t)-1);
		open_create_ro_child();
	}
	if (OK(pid))
		CHILD_WAIT(pid);
}

/* ---- symlinks -------------------------------------------------------- */

void t_symlink(void)
{
	static char target[4097], buf[4200];
	const char *l = p_path("symlink/l");
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000001, 0 } };
	struct stat st, tst;
	ssize_t n;

	fresh("symlink");
	OK(p_write_file(p_path("symlink/t"), "target content", 0644));
	OK(symlink("t", l));
	memset(buf, 'X', sizeof(buf));
	n = readlink(l, buf, sizeof(buf));
	EQ(n, 1);
	EQ(buf[0], 't');
	EQ(buf[1], 'X');
	OK(lstat(l, &st));
	TRUE(S_ISLNK(st.st_mode));
	EQ(st.st_size, 1);
	EQ(st.st_mode & 07777, 0777);
	OK(stat(l, &st));
	TRUE(S_ISREG(st.st_mode));
	EQ(st.st_size, 14);
	TRUE(content_is(l, "target content"));
	ERR(symlink("other", l), EEXIST);
	ERR(readlink(p_path("symlink/t"), buf, sizeof(buf)), EINVAL);
	ERR(readlink(p_path("symlink/missing"), buf, sizeof(buf)), ENOENT);
	n = readlink(l, buf, 0);
	TRUE(n == -1 && errno == EINVAL);

	/* Dangling, loops, directories, relative paths. */
	OK(symlink("nowhere", p_path("symlink/dangling")));
	ERR(stat(p_path("symlink/dangling"), &st), ENOENT);
	OK(lstat(p_path("symlink/dangling"), &st));
	OK(symlink("loop2", p_path("symlink/loop1")));
	OK(symlink("loop1", p_path("symlink/loop2")));
	ERR(open(p_path("symlink/loop1"), O_RDONLY), ELOOP);
	OK(mkdir(p_path("symlink/dir"), 0755));
	OK(p_write_file(p_path("symlink/dir/in"), "in dir", 0644));
	OK(symlink("dir", p_path("symlink/dl")));
	TRUE(content_is(p_path("symlink/dl/in"), "in dir"));
	OK(mkdir(p_path("symlink/dir/sub"), 0755));
	OK(symlink("../in", p_path("symlink/dir/sub/up")));
	TRUE(content_is(p_path("symlink/dir/sub/up"), "in dir"));
	TRUE(content_is(p_path("symlink/dl/sub/up"), "in dir"));

	/* Long targets: 1000, 4095 (the limit), 4096 (too long). */
	memset(target, 'a', sizeof(target));
	for (n = 100; n < 4096; n += 100)
		target[n] = '/';
	target[1000] = 0;
	OK(symlink(target, p_path("symlink/long1000")));
	EQ(readlink(p_path("symlink/long1000"), buf, sizeof(buf)), 1000);
	MEMEQ(buf, target, 1000);
	target[1000] = 'a';
	target[4095] = 0;
	OK(symlink(target, p_path("symlink/long4095")));
	n = readlink(p_path("symlink/long4095"), buf, sizeof(buf));
	EQ(n, 4095);
	MEMEQ(buf, target, 4095);
	OK(lstat(p_path("symlink/long4095"), &st));
	EQ(st.st_size, 4095);
	p_drop_caches();
	EQ(readlink(p_path("symlink/long4095"), buf, sizeof(buf)), 4095);
	target[4095] = 'a';
	target[4096] = 0;
	ERR(symlink(target, p_path("symlink/long4096")), ENAMETOOLONG);

	/* Times and owner of the link itself. */
	OK(stat(p_path("symlink/t"), &tst));
	OK(utimensat(AT_FDCWD, l, old, AT_SYMLINK_NOFOLLOW));
	OK(lstat(l, &st));
	EQ(st.st_mtim.tv_sec, 1000000001);
	EQ(st.st_atim.tv_sec, 1000000000);
	OK(stat(p_path("symlink/t"), &st));
	EQ(st.st_mtim.tv_sec, tst.st_mtim.tv_sec);
	EQ(st.st_mtim.tv_nsec, tst.st_mtim.tv_nsec);
	OK(lchown(l, 77, 88));
	OK(lstat(l, &st));
	EQ(st.st_uid, 77);
	EQ(st.st_gid, 88);
	OK(stat(p_path("symlink/t"), &st));
	EQ(st.st_uid, 0);
	OK(utimensat(AT_FDCWD, l, old, 0));
	OK(stat(p_path("symlink/t"), &st));
	EQ(st.st_mtim.tv_sec, 1000000001);

	OK(unlink(l));
	TRUE(exists(p_path("symlink/t")));
}

/* ---- readdir --------------------------------------------------------- */

#define RD_N 400
#define RD_NEW 60

/* rd_scan DIR COUNTS NEWCOUNTS DOTS OTHERS: read DIR to the end from its
 * current position, counting eNNN in COUNTS and nNNN in NEWCOUNTS. */
static void rd_scan(DIR *d, int *counts, int *newcounts, int *dots, int *others)
{
	struct dirent *e;
	int i;

	while ((e = readdir(d))) {
		if (sscanf(e->d_name, "e%d", &i) == 1 && i >= 0 && i < RD_N)
			counts[i]++;
		else if (sscanf(e->d_name, "n%d", &i) == 1 && i >= 0 && i < RD_NEW)
			newcounts[i]++;
		else if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			(*dots)++;
		else
			(*others)++;
	}
}

/* rd_check COUNTS N LO HI: number of entries of COUNTS outside [LO, HI]. */
static int rd_bad(const int *counts, int n, int lo, int hi)
{
	int i, bad = 0;

	for (i = 0; i < n; i++)
		if (counts[i] < lo || counts[i] > hi)
			bad++;
	return bad;
}

void t_readdir(void)
{
	static int counts[RD_N], newcounts[RD_NEW];
	char names[2][50][256];
	struct dirent *e;
	int i, dots = 0, others = 0, fd, types_ok = 0, types_seen = 0;
	long pos;
	DIR *d;

	fresh("readdir");
	for (i = 0; i < RD_N; i++) {
		fd = open(p_path("readdir/e%03d", i), O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			break;
		close(fd);
	}
	EQ(i, RD_N);
	OK(mkdir(p_path("readdir/zdir"), 0755));
	OK(symlink("e000", p_path("readdir/zlink")));
	OK(mkfifo(p_path("readdir/zfifo"), 0644));

	d = opendir(p_path("readdir"));
	if (!TRUE(d != NULL))
		return;
	rd_scan(d, counts, newcounts, &dots, &others);
	EQ(rd_bad(counts, RD_N, 1, 1), 0);
	EQ(dots, 2);
	EQ(others, 3);

	/* d_type (DT_UNKNOWN is allowed). */
	rewinddir(d);
	while ((e = readdir(d))) {
		unsigned char want = e->d_name[0] == 'e' ? DT_REG :
			!strcmp(e->d_name, "zdir") || e->d_name[0] == '.' ? DT_DIR :
			!strcmp(e->d_name, "zlink") ? DT_LNK : DT_FIFO;

		types_seen++;
		if (e->d_type == want || e->d_type == DT_UNKNOWN)
			types_ok++;
	}
	EQ(types_ok, types_seen);
	EQ(types_seen, RD_N + 5);

	/* telldir / seekdir: the same 50 names again from a saved position. */
	rewinddir(d);
	for (i = 0; i < 150; i++)
		readdir(d);
	pos = telldir(d);
	TRUE(pos >= 0);
	for (i = 0; i < 50 && (e = readdir(d)); i++)
		snprintf(names[0][i], sizeof(names[0][i]), "%s", e->d_name);
	EQ(i, 50);
	seekdir(d, pos);
	for (i = 0; i < 50 && (e = readdir(d)); i++)
		snprintf(names[1][i], sizeof(names[1][i]), "%s", e->d_name);
	EQ(i, 50);
	{
		int diff = 0;

		for (i = 0; i < 50; i++)
			diff += strcmp(names[0][i], names[1][i]) != 0;
		EQ(diff, 0);
	}
	closedir(d);

	/* Entries created while iterating: each old name exactly once, each
	 * new one at most once; after rewinddir all of them once. */
	memset(counts, 0, sizeof(counts));
	dots = others = 0;
	d = opendir(p_path("readdir"));
	if (!TRUE(d != NULL))
		return;
	for (i = 0; i < 100 && (e = readdir(d)); i++) {
		int k;

		if (sscanf(e->d_name, "e%d", &k) == 1 && k >= 0 && k < RD_N)
			counts[k]++;
		else if (e->d_name[0] == '.')
			dots++;
		else
			others++;
	}
	for (i = 0; i < RD_NEW; i++) {
		fd = open(p_path("readdir/n%03d", i), O_WRONLY | O_CREAT, 0644);
		if (fd >= 0)
			close(fd);
	}
	rd_scan(d, counts, newcounts, &dots, &others);
	EQ(rd_bad(counts, RD_N, 1, 1), 0);
	EQ(rd_bad(newcounts, RD_NEW, 0, 1), 0);
	EQ(dots, 2);
	EQ(others, 3);
	rewinddir(d);
	memset(counts, 0, sizeof(counts));
	memset(newcounts, 0, sizeof(newcounts));
	dots = others = 0;
	rd_scan(d, counts, newcounts, &dots, &others);
	EQ(rd_bad(counts, RD_N, 1, 1), 0);
	EQ(rd_bad(newcounts, RD_NEW, 1, 1), 0);
	closedir(d);

	/* Entries removed while iterating: the others still exactly once. */
	memset(counts, 0, sizeof(counts));
	d = opendir(p_path("readdir"));
	if (!TRUE(d != NULL))
		return;
	for (i = 0; i < 50 && readdir(d); i++)
		;
	for (i = 0; i < RD_N; i += 2)
		unlink(p_path("readdir/e%03d", i));
	dots = others = 0;
	{
		int newc[RD_NEW] = { 0 }, odd_bad = 0;

		rd_scan(d, counts, newc, &dots, &others);
		for (i = 1; i < RD_N; i += 2)
			if (counts[i] > 1)
				odd_bad++;
		EQ(odd_bad, 0);
		rewinddir(d);
		memset(counts, 0, sizeof(counts));
		rd_scan(d, counts, newc, &dots, &others);
		odd_bad = 0;
		for (i = 0; i < RD_N; i++)
			if (counts[i] != (i & 1))
				odd_bad++;
		EQ(odd_bad, 0);
	}
	closedir(d);

	OK(mkdir(p_path("readdir/empty"), 0755));
	d = opendir(p_path("readdir/empty"));
	if (TRUE(d != NULL)) {
		dots = others = 0;
		rd_scan(d, counts, newcounts, &dots, &others);
		EQ(dots, 2);
		EQ(others, 0);
		closedir(d);
	}
	d = opendir(p_path("readdir/e001"));
	TRUE(d == NULL && errno == ENOTDIR);
	if (d)
		closedir(d);
	p_rm_rf(p_path("readdir"));
}

/* ---- O_TMPFILE ------------------------------------------------------- */

void t_tmpfile(void)
{
	char proc[64], buf[32];
	struct stat st;
	int fd, fd2;
	DIR *d;
	struct dirent *e;
	int n = 0;

	fresh("tmpfile");
	fd = open(p_path("tmpfile"), O_TMPFILE | O_RDWR, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		t_info("O_TMPFILE not supported: %s (guest kernel or daemon)", strerror(errno));
		t_skip("tmpfile", "O_TMPFILE unsupported");
		return;
	}
	if (!OK(fd))
		return;
	t_info("O_TMPFILE supported");
	EQ(write(fd, "tmp data", 8), 8);
	OK(fstat(fd, &st));
	EQ(st.st_nlink, 0);
	EQ(st.st_mode, S_IFREG | 0600);
	EQ(st.st_size, 8);
	d = opendir(p_path("tmpfile"));
	if (TRUE(d != NULL)) {
		while ((e = readdir(d)))
			n++;
		closedir(d);
		EQ(n, 2);
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	OK(linkat(AT_FDCWD, proc, AT_FDCWD, p_path("tmpfile/named"), AT_SYMLINK_FOLLOW));
	OK(fsync(fd));
	TRUE(content_is(p_path("tmpfile/named"), "tmp data"));
	OK(fstat(fd, &st));
	EQ(st.st_nlink, 1);
	OK(linkat(fd, "", AT_FDCWD, p_path("tmpfile/named2"), AT_EMPTY_PATH));
	EQ(p_nlink(p_path("tmpfile/named")), 2);
	close(fd);

	fd2 = open(p_path("tmpfile"), O_TMPFILE | O_RDWR | O_EXCL, 0644);
	if (OK(fd2)) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd2);
		ERR(linkat(AT_FDCWD, proc, AT_FDCWD, p_path("tmpfile/excl"), AT_SYMLINK_FOLLOW),
		    ENOENT);
		EQ(pwrite(fd2, "abc", 3, 0), 3);
		EQ(pread(fd2, buf, sizeof(buf), 0), 3);
		close(fd2);
	}
	ERR(open(p_path("tmpfile/named"), O_TMPFILE | O_RDWR, 0600), ENOTDIR);
}
