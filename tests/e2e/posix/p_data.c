/*
 * tests/e2e/posix/p_data.c: data checks of the posix suite: sparse files
 * (SEEK_DATA/SEEK_HOLE, fallocate), truncate, offsets past 4 GiB, FIFOs and
 * device nodes, xattrs, POSIX/OFD locks and flock between processes,
 * O_DIRECT, shared mmap, fsync and friends, copy_file_range.
 */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define KiB 1024L
#define MiB (1024L * 1024L)
#define GiB (1024L * 1024L * 1024L)

/* fresh NAME: remove and recreate DIR/NAME (0755). */
static void fresh(const char *name)
{
	p_rm_rf(p_path("%s", name));
	OK(mkdir(p_path("%s", name), 0755));
}

/* all_zero BUF N: every byte of BUF is 0. */
static bool all_zero(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i])
			return false;
	return true;
}

/* all_byte BUF N C: every byte of BUF is C. */
static bool all_byte(const char *buf, size_t n, char c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != c)
			return false;
	return true;
}

/* ---- sparse files ---------------------------------------------------- */

void t_sparse(void)
{
	static char buf[8192];
	const char *f = p_path("sparse/s");
	struct stat st;
	off_t size = MiB + 4096, r;
	int fd;

	fresh("sparse");
	fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!OK(fd))
		return;
	memset(buf, 'D', 4096);
	EQ(pwrite(fd, buf, 4096, MiB), 4096);
	OK(fsync(fd));
	OK(fstat(fd, &st));
	EQ(st.st_size, size);
	TRUE(st.st_blocks * 512 < 512 * KiB);
	EQ(lseek(fd, 0, SEEK_DATA), MiB);
	EQ(lseek(fd, 0, SEEK_HOLE), 0);
	EQ(lseek(fd, MiB, SEEK_HOLE), size);
	EQ(lseek(fd, MiB + 100, SEEK_DATA), MiB + 100);
	ERR(lseek(fd, size, SEEK_DATA), ENXIO);
	ERR(lseek(fd, size + 10, SEEK_HOLE), ENXIO);
	EQ(pread(fd, buf, 4096, 4096), 4096);
	TRUE(all_zero(buf, 4096));
	EQ(pread(fd, buf, 4096, MiB), 4096);
	TRUE(all_byte(buf, 4096, 'D'));

	t_section("sparse-fallocate");
	OK(fallocate(fd, 0, 2 * MiB, MiB));
	OK(fstat(fd, &st));
	EQ(st.st_size, 3 * MiB);
	TRUE(st.st_blocks * 512 >= MiB);
	EQ(pread(fd, buf, 4096, 2 * MiB + 4096), 4096);
	TRUE(all_zero(buf, 4096));
	OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 3 * MiB, MiB));
	OK(fstat(fd, &st));
	EQ(st.st_size, 3 * MiB);
	TRUE(st.st_blocks * 512 >= 2 * MiB);
	ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, MiB, 4096), EOPNOTSUPP);
	ERR(fallocate(fd, 0, 0, 0), EINVAL);
	ERR(fallocate(fd, 0, -1, 4096), EINVAL);

	r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MiB, 4096);
	if (r < 0 && errno == EOPNOTSUPP) {
		t_info("fallocate PUNCH_HOLE|KEEP_SIZE: EOPNOTSUPP");
		t_skip("punch-hole", "EOPNOTSUPP");
	} else if (OK(r)) {
		OK(fstat(fd, &st));
		EQ(st.st_size, 3 * MiB);
		EQ(pread(fd, buf, 4096, MiB), 4096);
		TRUE(all_zero(buf, 4096));
		EQ(lseek(fd, MiB - 4096, SEEK_HOLE), MiB - 4096);
		EQ(lseek(fd, MiB, SEEK_HOLE), MiB);
	}

	memset(buf, 'Z', 8192);
	EQ(pwrite(fd, buf, 8192, 0), 8192);
	r = fallocate(fd, FALLOC_FL_ZERO_RANGE, 1024, 4096);
	if (r < 0 && errno == EOPNOTSUPP) {
		t_info("fallocate ZERO_RANGE: EOPNOTSUPP");
		t_skip("zero-range", "EOPNOTSUPP");
	} else if (OK(r)) {
		EQ(pread(fd, buf, 8192, 0), 8192);
		TRUE(all_byte(buf, 1024, 'Z'));
		TRUE(all_zero(buf + 1024, 4096));
		TRUE(all_byte(buf + 5120, 3072, 'Z'));
		OK(fstat(fd, &st));
		EQ(st.st_size, 3 * MiB);
	}
	close(fd);
	fd = open(f, O_RDONLY);
	if (OK(fd)) {
		ERR(fallocate(fd, 0, 0, 4096), EBADF);
		close(fd);
	}
}

/* ---- truncate -------------------------------------------------------- */

void t_truncate(void)
{
	static char buf[16384];
	const char *f = p_path("truncate/t");
	struct stat st;
	int fd;

	fresh("truncate");
	fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!OK(fd))
		return;
	EQ(write(fd, "0123456789", 10), 10);
	OK(ftruncate(fd, 4));
	OK(fstat(fd, &st));
	EQ(st.st_size, 4);
	EQ(pread(fd, buf, sizeof(buf), 0), 4);
	TRUE(memcmp(buf, "0123", 4) == 0);
	OK(ftruncate(fd, 100));
	EQ(pread(fd, buf, sizeof(buf), 0), 100);
	TRUE(memcmp(buf, "0123", 4) == 0);
	TRUE(all_zero(buf + 4, 96));
	/* Down then up: the cut bytes do not come back. */
	OK(ftruncate(fd, 2));
	OK(ftruncate(fd, 10));
	EQ(pread(fd, buf, sizeof(buf), 0), 10);
	TRUE(memcmp(buf, "01", 2) == 0);
	TRUE(all_zero(buf + 2, 8));
	/* The same inside a cached page. */
	memset(buf, 'A', 8192);
	EQ(pwrite(fd, buf, 8192, 0), 8192);
	EQ(pread(fd, buf, 8192, 0), 8192);
	OK(ftruncate(fd, 5000));
	OK(ftruncate(fd, 8192));
	EQ(pread(fd, buf, 8192, 0), 8192);
	TRUE(all_byte(buf, 5000, 'A'));
	TRUE(all_zero(buf + 5000, 3192));
	OK(truncate(f, 0));
	OK(fstat(fd, &st));
	EQ(st.st_size, 0);
	EQ(pread(fd, buf, sizeof(buf), 0), 0);
	OK(truncate(f, 12345));
	OK(stat(f, &st));
	EQ(st.st_size, 12345);
	EQ(lseek(fd, 0, SEEK_END), 12345);
	ERR(ftruncate(fd, -1), EINVAL);
	ERR(truncate(p_path("truncate"), 0), EISDIR);
	ERR(truncate(p_path("truncate/missing"), 0), ENOENT);
	close(fd);
	fd = open(f, O_RDONLY);
	if (OK(fd)) {
		ERR(ftruncate(fd, 0), EINVAL);
		close(fd);
	}
	p_drop_caches();
	OK(stat(f, &st));
	EQ(st.st_size, 12345);
	EQ(p_read_file(f, buf, sizeof(buf)), 12345);
	TRUE(all_zero(buf, 12345));
}

/* ---- offsets past 4 GiB ---------------------------------------------- */

void t_large(void)
{
	const char *f = p_path("large/big");
	const off_t off = 5 * GiB + 7;
	char buf[4096];
	struct stat st;
	off_t r;
	int fd;

	fresh("large");
	fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!OK(fd))
		return;
	EQ(pwrite(fd, "BIG", 3, off), 3);
	OK(fsync(fd));
	OK(fstat(fd, &st));
	EQ(st.st_size, off + 3);
	TRUE(st.st_blocks < 1024);
	memset(buf, 1, sizeof(buf));
	EQ(pread(fd, buf, 3, off), 3);
	TRUE(memcmp(buf, "BIG", 3) == 0);
	EQ(pread(fd, buf, sizeof(buf), 4 * GiB), sizeof(buf));
	TRUE(all_zero(buf, sizeof(buf)));
	EQ(pread(fd, buf, sizeof(buf), off + 3), 0);
	r = lseek(fd, 0, SEEK_DATA);
	TRUE(r > 4 * GiB && r <= off);
	EQ(lseek(fd, 0, SEEK_END), off + 3);
	EQ(lseek(fd, 4 * GiB + 1, SEEK_SET), 4 * GiB + 1);
	EQ(write(fd, "x", 1), 1);
	EQ(pread(fd, buf, 1, 4 * GiB + 1), 1);
	EQ(buf[0], 'x');
	OK(ftruncate(fd, 6 * GiB));
	OK(fstat(fd, &st));
	EQ(st.st_size, 6 * GiB);
	close(fd);
	p_drop_caches();
	fd = open(f, O_RDONLY);
	if (OK(fd)) {
		EQ(pread(fd, buf, 3, off), 3);
		TRUE(memcmp(buf, "BIG", 3) == 0);
		close(fd);
	}
	OK(truncate(f, 4096));
	OK(stat(f, &st));
	EQ(st.st_size, 4096);
	OK(unlink(f));
}

/* ---- FIFOs and device nodes ----------------------------------------- */

void t_fifo(void)
{
	static char buf[4096], want[4096];
	const char *p = p_path("fifo/p");
	struct stat st;
	size_t len = 0, got = 0;
	ssize_t n;
	pid_t pid;
	int fd, i;

	fresh("fifo");
	OK(mkfifo(p, 0600));
	OK(lstat(p, &st));
	TRUE(S_ISFIFO(st.st_mode));
	EQ(st.st_mode & 07777, 0600);
	EQ(st.st_size, 0);
	OK(mknod(p_path("fifo/p2"), S_IFIFO | 0640, 0));
	OK(lstat(p_path("fifo/p2"), &st));
	TRUE(S_ISFIFO(st.st_mode));
	ERR(mkfifo(p, 0600), EEXIST);

	for (i = 0; i < 100; i++)
		len += snprintf(want + len, sizeof(want) - len, "fifo line %03d\n", i);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int w = open(p, O_WRONLY);

		if (w < 0 || write(w, want, len) != (ssize_t)len)
			_exit(4);
		close(w);
		_exit(0);
	}
	fd = open(p, O_RDONLY);
	if (OK(fd)) {
		while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += n;
		EQ(got, len);
		MEMEQ(buf, want, len);
		ERR(lseek(fd, 0, SEEK_SET), ESPIPE);
		close(fd);
	}
	if (OK(pid))
		CHILD_WAIT(pid);

	fd = open(p, O_RDONLY | O_NONBLOCK);
	if (OK(fd)) {
		EQ(read(fd, buf, 1), 0);
		close(fd);
	}
	ERR(open(p, O_WRONLY | O_NONBLOCK), ENXIO);

	/* A character device node: the guest's driver behind it. */
	OK(mknod(p_path("fifo/null"), S_IFCHR | 0666, makedev(1, 3)));
	OK(lstat(p_path("fifo/null"), &st));
	TRUE(S_ISCHR(st.st_mode));
	EQ(major(st.st_rdev), 1);
	EQ(minor(st.st_rdev), 3);
	fd = open(p_path("fifo/null"), O_RDWR);
	if (OK(fd)) {
		EQ(write(fd, "discard", 7), 7);
		EQ(read(fd, buf, 10), 0);
		close(fd);
	}
	OK(unlink(p_path("fifo/null")));
	OK(mknod(p_path("fifo/sock"), S_IFSOCK | 0644, 0));
	OK(lstat(p_path("fifo/sock"), &st));
	TRUE(S_ISSOCK(st.st_mode));
}

/* ---- xattrs ---------------------------------------------------------- */

static void xattr_child(void)
{
	char buf[64];

	t_section("xattr-uid1000");
	ERR(setxattr(p_path("xattr/f"), "user.other", "x", 1, 0), EACCES);
	EQ(getxattr(p_path("xattr/f"), "user.b", buf, sizeof(buf)), 3);
	t_child_exit();
}

void t_xattr(void)
{
	static char big[4000], buf[8192];
	const char *f = p_path("xattr/f");
	struct stat st, st2;
	ssize_t n;
	pid_t pid;
	int fd;

	fresh("xattr");
	OK(p_write_file(f, "x", 0644));
	if (!t_cfg.xattr) {
		ERR(setxattr(f, "user.a", "va", 2, 0), EOPNOTSUPP);
		return;
	}
	OK(setxattr(f, "user.a", "va", 2, 0));
	EQ(getxattr(f, "user.a", buf, sizeof(buf)), 2);
	TRUE(memcmp(buf, "va", 2) == 0);
	EQ(getxattr(f, "user.a", NULL, 0), 2);
	ERR(getxattr(f, "user.a", buf, 1), ERANGE);
	ERR(setxattr(f, "user.a", "vx", 2, XATTR_CREATE), EEXIST);
	ERR(setxattr(f, "user.nope", "v", 1, XATTR_REPLACE), ENODATA);
	ERR(getxattr(f, "user.nope", buf, sizeof(buf)), ENODATA);
	OK(setxattr(f, "user.a", "vb2", 3, XATTR_REPLACE));
	EQ(getxattr(f, "user.a", buf, sizeof(buf)), 3);
	TRUE(memcmp(buf, "vb2", 3) == 0);
	OK(setxattr(f, "user.b", "bbb", 3, XATTR_CREATE));

	n = listxattr(f, buf, sizeof(buf));
	TRUE(n > 0);
	EQ(listxattr(f, NULL, 0), n);
	{
		int have_a = 0, have_b = 0;
		ssize_t i;

		for (i = 0; i < n; i += strlen(buf + i) + 1) {
			have_a += !strcmp(buf + i, "user.a");
			have_b += !strcmp(buf + i, "user.b");
		}
		EQ(have_a, 1);
		EQ(have_b, 1);
	}
	if (n > 1)
		ERR(listxattr(f, buf, 1), ERANGE);

	OK(removexattr(f, "user.a"));
	ERR(getxattr(f, "user.a", buf, sizeof(buf)), ENODATA);
	ERR(removexattr(f, "user.a"), ENODATA);
	n = listxattr(f, buf, sizeof(buf));
	TRUE(n > 0 && memmem(buf, n, "user.a", 7) == NULL);

	OK(setxattr(f, "user.empty", "", 0, 0));
	EQ(getxattr(f, "user.empty", buf, sizeof(buf)), 0);
	memset(big, 'v', sizeof(big));
	big[0] = 'B';
	OK(setxattr(f, "user.big", big, sizeof(big), 0));
	EQ(getxattr(f, "user.big", buf, sizeof(buf)), sizeof(big));
	MEMEQ(buf, big, sizeof(big));
	{
		char name[300] = "user.";

		memset(name + 5, 'n', 260);
		name[265] = 0;
		ERR(setxattr(f, name, "v", 1, 0), ERANGE);
	}

	/* fd variants, directories, symlinks. */
	fd = open(f, O_RDONLY);
	if (OK(fd)) {
		OK(fsetxattr(fd, "user.fd", "by fd", 5, 0));
		EQ(fgetxattr(fd, "user.fd", buf, sizeof(buf)), 5);
		OK(fremovexattr(fd, "user.fd"));
		ERR(fgetxattr(fd, "user.fd", buf, sizeof(buf)), ENODATA);
		close(fd);
	}
	OK(mkdir(p_path("xattr/d"), 0755));
	OK(setxattr(p_path("xattr/d"), "user.dir", "dv", 2, 0));
	EQ(getxattr(p_path("xattr/d"), "user.dir", buf, sizeof(buf)), 2);
	OK(symlink("f", p_path("xattr/l")));
	ERR(lsetxattr(p_path("xattr/l"), "user.l", "v", 1, 0), EPERM);
	ERR(lgetxattr(p_path("xattr/l"), "user.l", buf, sizeof(buf)), ENODATA);
	EQ(getxattr(p_path("xattr/l"), "user.b", buf, sizeof(buf)), 3);

	/* ctime moves on a change; the values survive a cache drop. */
	OK(stat(f, &st));
	p_msleep(30);
	OK(setxattr(f, "user.c", "c", 1, 0));
	OK(stat(f, &st2));
	TRUE(p_ts_after(&st2.st_ctim, &st.st_ctim));
	p_drop_caches();
	EQ(getxattr(f, "user.b", buf, sizeof(buf)), 3);
	TRUE(memcmp(buf, "bbb", 3) == 0);

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		t_child_begin();
		p_become(1000, 1000, (gid_t)-1);
		xattr_child();
	}
	if (OK(pid))
		CHILD_WAIT(pid);
}

/* ---- locks ----------------------------------------------------------- */

/* A child lock holder, driven over two pipes: the parent writes a command
 * byte, the child answers one byte when done. */
struct holder {
	pid_t pid;
	int cmd, ack;
};

/* lk FD CMD TYPE START LEN: fcntl lock call. */
static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, cmd, &fl);
}

/* holder_main PATH CMD ACK: commands: 'w' write-lock [0,50) + flock EX,
 * 'r' read-lock [0,100), 'c' close the fds (drops every lock),
 * 'd' lock via fd1 and close fd2, 'W' blocking F_SETLKW [0,1), 'q' quit. */
static void holder_main(const char *path, int cmd, int ack)
{
	int fd = -1, fd2 = -1, rc;
	char c, a;

	while (read(cmd, &c, 1) == 1) {
		rc = 0;
		if (fd < 0)
			fd = open(path, O_RDWR);
		switch (c) {
		case 'w':
			rc = lk(fd, F_SETLK, F_WRLCK, 0, 50) | flock(fd, LOCK_EX | LOCK_NB);
			break;
		case 'r':
			rc = lk(fd, F_SETLK, F_RDLCK, 0, 100);
			break;
		case 'c':
			close(fd);
			fd = -1;
			break;
		case 'd':
			fd2 = open(path, O_RDONLY);
			rc = lk(fd, F_SETLK, F_WRLCK, 0, 10);
			close(fd2);
			break;
		case 'W': {
			struct timespec t0, t1;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			rc = lk(fd, F_SETLKW, F_WRLCK, 0, 1);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			/* Report whether it had to wait (the parent held it 300 ms). */
			if (rc == 0 && (t1.tv_sec - t0.tv_sec) * 1000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000000 < 150)
				rc = -2;
			break;
		}
		case 'q':
			_exit(0);
		}
		a = rc == 0 ? 'k' : rc == -2 ? 's' : 'e';
		if (write(ack, &a, 1) != 1)
			_exit(5);
	}
	_exit(0);
}

static bool holder_start(struct holder *h, const char *path)
{
	int c[2], a[2];

	if (pipe(c) < 0 || pipe(a) < 0)
		return false;
	fflush(stdout);
	h->pid = fork();
	if (h->pid == 0) {
		close(c[1]);
		close(a[0]);
		holder_main(path, c[0], a[1]);
	}
	close(c[0]);
	close(a[1]);
	h->cmd = c[1];
	h->ack = a[0];
	return h->pid > 0;
}

/* holder_do H C: send command C; returns the child's answer byte. */
static char holder_do(struct holder *h, char c)
{
	char a = '?';

	if (write(h->cmd, &c, 1) != 1 || read(h->ack, &a, 1) != 1)
		return '!';
	return a;
}

static void holder_stop(struct holder *h)
{
	char q = 'q';

	if (write(h->cmd, &q, 1) != 1)
		kill(h->pid, SIGKILL);
	CHILD_WAIT(h->pid);
	close(h->cmd);
	close(h->ack);
}

void t_locks(void)
{
	const char *f = p_path("locks/f");
	struct flock fl;
	struct holder h = { -1, -1, -1 };
	int fd, fd2;

	fresh("locks");
	OK(p_write_file(f, "0123456789012345678901234567890123456789"
			   "0123456789012345678901234567890123456789"
			   "01234567890123456789", 0644));
	fd = open(f, O_RDWR);
	fd2 = open(f, O_RDWR);
	if (!OK(fd) || !OK(fd2) || !TRUE(holder_start(&h, f)))
		return;

	t_section("locks-posix");
	EQ(holder_do(&h, 'w'), 'k');
	ERR(lk(fd, F_SETLK, F_WRLCK, 0, 10), EAGAIN);
	ERR(lk(fd, F_SETLK, F_RDLCK, 40, 20), EAGAIN);
	OK(lk(fd, F_SETLK, F_WRLCK, 50, 50));
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 100;
	OK(fcntl(fd, F_GETLK, &fl));
	EQ(fl.l_type, F_WRLCK);
	EQ(fl.l_pid, h.pid);
	EQ(fl.l_start, 0);
	EQ(fl.l_len, 50);
	fl.l_type = F_RDLCK;
	fl.l_start = 60;
	fl.l_len = 10;
	OK(fcntl(fd, F_GETLK, &fl));
	EQ(fl.l_type, F_UNLCK);
	OK(lk(fd, F_SETLK, F_UNLCK, 50, 50));

	t_section("locks-flock");
	ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK);

	t_section("locks-close");
	EQ(holder_do(&h, 'c'), 'k');
	OK(lk(fd, F_SETLK, F_WRLCK, 0, 10));
	OK(flock(fd, LOCK_EX | LOCK_NB));
	ERR(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	OK(flock(fd, LOCK_UN));
	OK(flock(fd2, LOCK_SH | LOCK_NB));
	OK(flock(fd, LOCK_SH | LOCK_NB));
	OK(flock(fd, LOCK_UN));
	OK(flock(fd2, LOCK_UN));
	OK(lk(fd, F_SETLK, F_UNLCK, 0, 0));

	t_section("locks-shared");
	EQ(holder_do(&h, 'r'), 'k');
	OK(lk(fd, F_SETLK, F_RDLCK, 0, 100));
	ERR(lk(fd, F_SETLK, F_WRLCK, 90, 10), EAGAIN);
	OK(lk(fd, F_SETLK, F_UNLCK, 0, 0));
	EQ(holder_do(&h, 'c'), 'k');

	/* Closing any fd of the file drops the process's POSIX locks. */
	t_section("locks-any-close");
	EQ(holder_do(&h, 'd'), 'k');
	OK(lk(fd, F_SETLK, F_WRLCK, 0, 10));
	OK(lk(fd, F_SETLK, F_UNLCK, 0, 0));

	/* F_SETLKW waits for the holder. */
	t_section("locks-wait");
	OK(lk(fd, F_SETLK, F_WRLCK, 0, 1));
	{
		char c = 'W', a = '?';

		if (TRUE(write(h.cmd, &c, 1) == 1)) {
			p_msleep(300);
			OK(lk(fd, F_SETLK, F_UNLCK, 0, 1));
			TRUE(read(h.ack, &a, 1) == 1);
			EQ(a, 'k');
		}
	}
	ERR(lk(fd, F_SETLK, F_WRLCK, 0, 1), EAGAIN);
	holder_stop(&h);
	OK(lk(fd, F_SETLK, F_WRLCK, 0, 1));

	/* Open file description locks: two descriptions in one process. */
	t_section("locks-ofd");
	OK(lk(fd, F_SETLK, F_UNLCK, 0, 0));
	{
		struct flock o = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };

		OK(fcntl(fd, F_OFD_SETLK, &o));
		ERR(fcntl(fd2, F_OFD_SETLK, &o), EAGAIN);
		o.l_type = F_UNLCK;
		OK(fcntl(fd, F_OFD_SETLK, &o));
		o.l_type = F_WRLCK;
		OK(fcntl(fd2, F_OFD_SETLK, &o));
	}
	close(fd);
	close(fd2);
}

/* ---- O_DIRECT -------------------------------------------------------- */

void t_direct(void)
{
	const char *f = p_path("direct/d");
	char *wbuf = NULL, *rbuf = NULL, cmp[4096];
	int fd, fd2, i;

	fresh("direct");
	if (!TRUE(posix_memalign((void **)&wbuf, 4096, 64 * KiB) == 0) ||
	    !TRUE(posix_memalign((void **)&rbuf, 4096, 64 * KiB) == 0))
		return;
	for (i = 0; i < 64 * KiB; i++)
		wbuf[i] = (char)(i * 7 + 3);
	fd = open(f, O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (!OK(fd))
		goto out;
	TRUE(fcntl(fd, F_GETFL) & O_DIRECT);
	EQ(pwrite(fd, wbuf, 64 * KiB, 0), 64 * KiB);
	memset(rbuf, 0, 64 * KiB);
	EQ(pread(fd, rbuf, 64 * KiB, 0), 64 * KiB);
	MEMEQ(rbuf, wbuf, 64 * KiB);
	/* Coherent with buffered I/O both ways. */
	fd2 = open(f, O_RDWR);
	if (OK(fd2)) {
		EQ(pread(fd2, cmp, sizeof(cmp), 8192), sizeof(cmp));
		MEMEQ(cmp, wbuf + 8192, sizeof(cmp));
		memset(cmp, 'b', sizeof(cmp));
		EQ(pwrite(fd2, cmp, sizeof(cmp), 4096), sizeof(cmp));
		OK(fsync(fd2));
		EQ(pread(fd, rbuf, 4096, 4096), 4096);
		MEMEQ(rbuf, cmp, 4096);
		memset(wbuf, 'c', 4096);
		EQ(pwrite(fd, wbuf, 4096, 12288), 4096);
		EQ(pread(fd2, cmp, sizeof(cmp), 12288), sizeof(cmp));
		MEMEQ(cmp, wbuf, 4096);
		close(fd2);
	}
	/* Extending write and read at EOF. */
	EQ(pwrite(fd, wbuf, 4096, 64 * KiB), 4096);
	EQ(pread(fd, rbuf, 8192, 64 * KiB), 4096);
	EQ(pread(fd, rbuf, 4096, 128 * KiB), 0);
	close(fd);
	t_info("O_DIRECT with allow_direct_io=%d: aligned I/O ok", t_cfg.direct_io);
out:
	free(wbuf);
	free(rbuf);
}

/* ---- mmap ------------------------------------------------------------ */

void t_mmap(void)
{
	const char *f = p_path("mmap/m");
	static char buf[8192];
	bool never = !strcmp(t_cfg.cache, "never");
	char *p;
	int fd, fd2;

	fresh("mmap");
	memset(buf, 'a', sizeof(buf));
	fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!OK(fd))
		return;
	EQ(write(fd, buf, sizeof(buf)), sizeof(buf));
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (never && !t_cfg.allow_mmap) {
		/* cache=never opens with FOPEN_DIRECT_IO: Linux refuses shared
		 * mappings unless the daemon allows them (--allow-mmap). */
		TRUE(p == MAP_FAILED && errno == ENODEV);
		t_info("MAP_SHARED with cache=never: %s", p == MAP_FAILED ? strerror(errno) : "mapped");
		if (p != MAP_FAILED)
			munmap(p, 8192);
		p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
		if (TRUE(p != MAP_FAILED)) {
			EQ(p[8191], 'a');
			munmap(p, 8192);
		}
		close(fd);
		return;
	}
	if (!TRUE(p != MAP_FAILED)) {
		close(fd);
		return;
	}
	EQ(p[0], 'a');
	memcpy(p + 100, "mmapped", 7);
	EQ(pread(fd, buf, 7, 100), 7);
	TRUE(memcmp(buf, "mmapped", 7) == 0);
	OK(msync(p, 8192, MS_SYNC));
	fd2 = open(f, O_RDONLY);
	if (OK(fd2)) {
		EQ(pread(fd2, buf, 7, 100), 7);
		TRUE(memcmp(buf, "mmapped", 7) == 0);
		close(fd2);
	}
	/* write() is seen through the mapping. */
	EQ(pwrite(fd, "written", 7, 5000), 7);
	TRUE(memcmp(p + 5000, "written", 7) == 0);
	memcpy(p + 8000, "tail", 4);
	OK(munmap(p, 8192));
	close(fd);

	/* MAP_PRIVATE writes stay private. */
	fd = open(f, O_RDWR);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (TRUE(p != MAP_FAILED)) {
		memcpy(p, "private", 7);
		EQ(pread(fd, buf, 7, 0), 7);
		TRUE(memcmp(buf, "aaaaaaa", 7) == 0);
		munmap(p, 8192);
	}
	close(fd);

	p_drop_caches();
	EQ(p_read_file(f, buf, sizeof(buf)), 8191);
	TRUE(memcmp(buf + 100, "mmapped", 7) == 0);
	TRUE(memcmp(buf + 5000, "written", 7) == 0);
	TRUE(memcmp(buf + 8000, "tail", 4) == 0);
}

/* ---- fsync and friends ---------------------------------------------- */

void t_sync(void)
{
	const char *f = p_path("sync/s");
	int fd, dfd;

	fresh("sync");
	fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!OK(fd))
		return;
	EQ(write(fd, "sync me", 7), 7);
	OK(fsync(fd));
	EQ(write(fd, " again", 6), 6);
	OK(fdatasync(fd));
	/* syncfs reports writeback errors of the whole file system since the
	 * descriptor was opened. */
	OK(syncfs(fd));
	OK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	close(fd);
	fd = open(f, O_RDONLY);
	if (OK(fd)) {
		OK(fsync(fd));
		OK(fdatasync(fd));
		close(fd);
	}
	dfd = open(p_path("sync"), O_RDONLY | O_DIRECTORY);
	if (OK(dfd)) {
		OK(fsync(dfd));
		OK(fdatasync(dfd));
		OK(syncfs(dfd));
		close(dfd);
	}
	fd = open(f, O_WRONLY | O_SYNC | O_APPEND);
	if (OK(fd)) {
		EQ(write(fd, "!", 1), 1);
		close(fd);
	}
	fd = open(f, O_WRONLY | O_DSYNC | O_APPEND);
	if (OK(fd)) {
		EQ(write(fd, "?", 1), 1);
		close(fd);
	}
	{
		char buf[32];

		EQ(p_read_file(f, buf, sizeof(buf)), 15);
		STREQ(buf, "sync me again!?");
	}
}

/* ---- copy_file_range ------------------------------------------------- */

void t_copy_range(void)
{
	static char src[200 * 1024], got[200 * 1024];
	const char *a = p_path("copy/a"), *b = p_path("copy/b");
	loff_t in = 4096, out = 0;
	ssize_t n, total = 0;
	int fa, fb, i;

	fresh("copy");
	for (i = 0; i < (int)sizeof(src); i++)
		src[i] = (char)(i % 251);
	fa = open(a, O_RDWR | O_CREAT | O_TRUNC, 0644);
	fb = open(b, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!OK(fa) || !OK(fb))
		return;
	EQ(write(fa, src, sizeof(src)), sizeof(src));
	while (total < 100000) {
		n = copy_file_range(fa, &in, fb, &out, 100000 - total, 0);
		if (n <= 0)
			break;
		total += n;
	}
	EQ(total, 100000);
	EQ(in, 4096 + 100000);
	EQ(out, 100000);
	EQ(lseek(fa, 0, SEEK_CUR), sizeof(src));
	EQ(lseek(fb, 0, SEEK_CUR), 0);
	EQ(pread(fb, got, sizeof(got), 0), 100000);
	MEMEQ(got, src + 4096, 100000);

	/* NULL offsets: the file offsets are used and advanced. */
	EQ(lseek(fa, 0, SEEK_SET), 0);
	EQ(lseek(fb, 100000, SEEK_SET), 100000);
	n = copy_file_range(fa, NULL, fb, NULL, 1000, 0);
	EQ(n, 1000);
	EQ(lseek(fa, 0, SEEK_CUR), 1000);
	EQ(lseek(fb, 0, SEEK_CUR), 101000);
	EQ(pread(fb, got, 1000, 100000), 1000);
	MEMEQ(got, src, 1000);

	in = sizeof(src);
	out = 0;
	EQ(copy_file_range(fa, &in, fb, &out, 100, 0), 0);
	in = 0;
	out = 10;
	ERR(copy_file_range(fa, &in, fa, &out, 100, 0), EINVAL);
	in = 0;
	ERR(copy_file_range(fa, &in, fb, &out, 100, 1), EINVAL);
	close(fb);
	fb = open(b, O_WRONLY | O_APPEND);
	if (OK(fb)) {
		in = 0;
		ERR(copy_file_range(fa, &in, fb, NULL, 100, 0), EBADF);
		close(fb);
	}
	close(fa);
	p_drop_caches();
	EQ(p_read_file(b, got, sizeof(got)), 101000);
	MEMEQ(got, src + 4096, 100000);
}
