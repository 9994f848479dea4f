/*
 * tests/e2e/posix/t.c: the assertion framework, shared helpers and main()
 * of the guest-side POSIX behaviour suite (see t.h).
 *
 *   posix -d DIR [-c auto|always|never|metadata] [-x] [-w] [-D] [-m] [-k]
 *         [-v] [-s SECTION[,SECTION...]]
 *
 * Runs every group of checks in DIR (created if missing; a directory inside
 * a virtio-fs share), as root. The options say how the daemon was started
 * (-x --xattr, -w --writeback, -D --allow-direct-io, -m --allow-mmap,
 * -k --killpriv-v2), since
 * a few expectations depend on them. -s runs only the named groups.
 * Counters live in a shared anonymous mapping, so forked children (non-root
 * parts, lock holders, concurrent writers) count their checks too.
 */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct t_config t_cfg = { .cache = "auto" };

/* The known failures (see XF_* in t.h): name, what goes wrong. */
static const struct {
	const char *name, *reason;
} known[] = {
	{ "supp-groups",
	  "the caller's supplementary groups are not used on the host for open() of an "
	  "existing file (only FUSE_CREATE_SUPP_GROUP on create): EACCES" },
};
#define N_KNOWN (sizeof(known) / sizeof(known[0]))

struct t_counters {
	int pass, fail, xfail, xpass, skip;
	int seen[N_KNOWN];
};
static struct t_counters *cnt;
static const char *section = "-";
static const char *xf_name;

/* errno_name E: the symbolic name of a few errno values, else "". */
static const char *errno_name(int e)
{
	switch (e) {
#define N(x) case x: return #x
	N(EPERM); N(ENOENT); N(EIO); N(EBADF); N(EAGAIN); N(EACCES); N(EBUSY);
	N(EEXIST); N(EXDEV); N(ENODEV); N(ENOTDIR); N(EISDIR); N(EINVAL);
	N(EFBIG); N(ENOSPC); N(EROFS); N(EMLINK); N(ERANGE); N(ENAMETOOLONG);
	N(ENOSYS); N(ENOTEMPTY); N(ELOOP); N(ENODATA); N(EOPNOTSUPP);
	N(ENXIO); N(ESTALE); N(ETXTBSY); N(E2BIG); N(EFAULT);
#undef N
	default: return "";
	}
}

void t_section(const char *name)
{
	section = name;
	if (t_cfg.verbose)
		printf("posix: section %s\n", name);
}

void t_info(const char *fmt, ...)
{
	va_list ap;

	printf("posix: info [%s] ", section);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void t_skip(const char *what, const char *why)
{
	__atomic_fetch_add(&cnt->skip, 1, __ATOMIC_SEQ_CST);
	printf("posix: skip [%s] %s: %s\n", section, what, why);
	fflush(stdout);
}

void t_xfail(const char *name)
{
	size_t i;

	for (i = 0; i < N_KNOWN; i++)
		if (!strcmp(known[i].name, name))
			break;
	if (i == N_KNOWN) {
		printf("FAIL XFAIL(\"%s\"): not in the table of known failures\n", name);
		__atomic_fetch_add(&cnt->fail, 1, __ATOMIC_SEQ_CST);
	}
	xf_name = name;
}

/* known_seen NAME: count one outcome of the known failure NAME. */
static void known_seen(const char *name)
{
	size_t i;

	for (i = 0; i < N_KNOWN; i++)
		if (!strcmp(known[i].name, name))
			__atomic_fetch_add(&cnt->seen[i], 1, __ATOMIC_SEQ_CST);
}

/* report OK, FILE, LINE, EXPR, FMT...: count one check; print a line for a
 * failure, an expected failure or an unexpected pass. Returns OK. */
static bool report(bool ok, const char *file, int line, const char *expr,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static bool report(bool ok, const char *file, int line, const char *expr,
		   const char *fmt, ...)
{
	const char *xn = xf_name;
	char detail[512] = "";
	va_list ap;

	xf_name = NULL;
	if (ok && !xn) {
		__atomic_fetch_add(&cnt->pass, 1, __ATOMIC_SEQ_CST);
		return true;
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (xn)
		known_seen(xn);
	if (ok) {
		__atomic_fetch_add(&cnt->xpass, 1, __ATOMIC_SEQ_CST);
		printf("XPASS %s:%d [%s] %s (known failure '%s' passed)\n",
		       file, line, section, expr, xn);
	} else if (xn) {
		__atomic_fetch_add(&cnt->xfail, 1, __ATOMIC_SEQ_CST);
		printf("xfail %s:%d [%s] %s: %s (known: %s)\n",
		       file, line, section, expr, detail, xn);
	} else {
		__atomic_fetch_add(&cnt->fail, 1, __ATOMIC_SEQ_CST);
		printf("FAIL %s:%d [%s] %s: %s\n", file, line, section, expr, detail);
	}
	fflush(stdout);
	return ok;
}

bool t_ok(long r, const char *expr, const char *file, int line)
{
	int e = errno;

	return report(r != -1, file, line, expr, "returned -1, errno %d %s (%s)",
		      e, errno_name(e), strerror(e));
}

bool t_err(long r, int want, const char *expr, const char *file, int line)
{
	int e = errno;

	if (r != -1)
		return report(false, file, line, expr, "returned %ld, want -1 errno %d %s",
			      r, want, errno_name(want));
	return report(e == want, file, line, expr, "errno %d %s, want %d %s",
		      e, errno_name(e), want, errno_name(want));
}

bool t_err2(long r, int want1, int want2, const char *expr, const char *file, int line)
{
	int e = errno;

	if (r != -1)
		return report(false, file, line, expr, "returned %ld, want -1 errno %s or %s",
			      r, errno_name(want1), errno_name(want2));
	return report(e == want1 || e == want2, file, line, expr,
		      "errno %d %s, want %s or %s", e, errno_name(e),
		      errno_name(want1), errno_name(want2));
}

bool t_eq(long long got, long long want, const char *expr, const char *file, int line)
{
	int e = errno;

	return report(got == want, file, line, expr, "got %lld (%#llo), want %lld (%#llo) (errno %d %s)",
		      got, got, want, want, e, errno_name(e));
}

bool t_true(bool c, const char *expr, const char *file, int line)
{
	int e = errno;

	return report(c, file, line, expr, "false (errno %d %s)", e, errno_name(e));
}

bool t_streq(const char *got, const char *want, const char *expr, const char *file, int line)
{
	bool ok = got && want && strcmp(got, want) == 0;

	return report(ok, file, line, expr, "got '%.60s', want '%.60s'",
		      got ? got : "(null)", want ? want : "(null)");
}

bool t_memeq(const void *got, const void *want, size_t n, const char *expr,
	     const char *file, int line)
{
	const unsigned char *g = got, *w = want;
	size_t i;

	for (i = 0; i < n; i++)
		if (g[i] != w[i])
			break;
	return report(i == n, file, line, expr, "differs at byte %zu of %zu (got %#x, want %#x)",
		      i, n, i < n ? g[i] : 0, i < n ? w[i] : 0);
}

void t_child_begin(void)
{
	xf_name = NULL;
}

void t_child_exit(void)
{
	fflush(stdout);
	_exit(0);
}

bool t_child_wait(pid_t pid, const char *file, int line)
{
	int st = 0, i;
	pid_t r = 0;

	/* 30 s at most: a hung child must not hang the whole guest. */
	for (i = 0; i < 3000; i++) {
		r = waitpid(pid, &st, WNOHANG);
		if (r != 0)
			break;
		p_msleep(10);
	}
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return report(false, file, line, "child", "pid %d killed after 30 s", (int)pid);
	}
	if (r < 0)
		return report(false, file, line, "waitpid", "failed");
	return report(WIFEXITED(st) && WEXITSTATUS(st) == 0, file, line, "child exit",
		      "status %#x", st);
}

int t_finish(void)
{
	size_t i;

	for (i = 0; i < N_KNOWN; i++)
		if (cnt->seen[i])
			printf("posix: known failure %s: %s\n", known[i].name, known[i].reason);
	printf("posix: %d passed, %d failed (%d xfail, %d xpass, %d skipped)\n",
	       cnt->pass, cnt->fail, cnt->xfail, cnt->xpass, cnt->skip);
	fflush(stdout);
	return cnt->fail ? 1 : 0;
}

/* ---- helpers --------------------------------------------------------- */

const char *p_path(const char *fmt, ...)
{
	char tmp[4600], *b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Never freed: a few thousand short paths over a whole run. */
	if (asprintf(&b, "%s/%s", t_cfg.dir, tmp) < 0) {
		perror("asprintf");
		exit(2);
	}
	return b;
}

int p_write_file(const char *path, const char *data, mode_t mode)
{
	size_t len = strlen(data);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

ssize_t p_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

/* rm_one: nftw callback removing one entry. */
static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st; (void)f;
	if (type == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

void p_rm_rf(const char *path)
{
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

void p_msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void p_drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) < 0)
			t_info("drop_caches: %s", strerror(errno));
		close(fd);
	}
}

void p_become(uid_t uid, gid_t gid, gid_t supp)
{
	gid_t g[1] = { supp };

	if (setgroups(supp == (gid_t)-1 ? 0 : 1, g) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		printf("FAIL p_become(%u, %u): %s\n", uid, gid, strerror(errno));
		fflush(stdout);
		_exit(3);
	}
}

long p_mode(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? -1 : (long)(st.st_mode & 07777);
}

long p_nlink(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? -1 : (long)st.st_nlink;
}

bool p_ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

bool p_ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* ---- main ------------------------------------------------------------ */

static const struct {
	const char *name;
	void (*fn)(void);
} groups[] = {
	{ "perm", t_perm }, { "umask", t_umask }, { "times", t_times },
	{ "links", t_links }, { "rename", t_rename }, { "unlink", t_unlink },
	{ "open", t_open }, { "symlink", t_symlink }, { "sparse", t_sparse },
	{ "truncate", t_truncate }, { "large", t_large }, { "readdir", t_readdir },
	{ "fifo", t_fifo }, { "xattr", t_xattr }, { "locks", t_locks },
	{ "direct", t_direct }, { "mmap", t_mmap }, { "statfs", t_statfs },
	{ "sync", t_sync }, { "access", t_access }, { "tmpfile", t_tmpfile },
	{ "copy_range", t_copy_range }, { "statx", t_statx }, { "keep", t_keep },
};

/* selected ONLY NAME: true when NAME is in the comma list ONLY (or no list). */
static bool selected(const char *only, const char *name)
{
	size_t n = strlen(name);
	const char *p = only;

	if (!only)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
			return true;
		p += n;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	struct timespec t0, t1;
	size_t i;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "d:c:xwDmkvs:")) != -1) {
		switch (c) {
		case 'd': t_cfg.dir = optarg; break;
		case 'c': t_cfg.cache = optarg; break;
		case 'x': t_cfg.xattr = true; break;
		case 'w': t_cfg.writeback = true; break;
		case 'D': t_cfg.direct_io = true; break;
		case 'm': t_cfg.allow_mmap = true; break;
		case 'k': t_cfg.killpriv_v2 = true; break;
		case 'v': t_cfg.verbose = true; break;
		case 's': only = optarg; break;
		default:
			fprintf(stderr, "usage: %s -d DIR [-c CACHE] [-x] [-w] [-D] [-m] [-k] [-v] [-s LIST]\n",
				argv[0]);
			return 2;
		}
	}
	if (!t_cfg.dir) {
		fprintf(stderr, "%s: -d DIR is required\n", argv[0]);
		return 2;
	}
	cnt = mmap(NULL, sizeof(*cnt), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cnt == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (mkdir(t_cfg.dir, 0755) < 0 && errno != EEXIST) {
		perror(t_cfg.dir);
		return 2;
	}
	printf("posix: dir=%s cache=%s xattr=%d writeback=%d direct_io=%d allow_mmap=%d "
	       "killpriv_v2=%d\n",
	       t_cfg.dir, t_cfg.cache, t_cfg.xattr, t_cfg.writeback, t_cfg.direct_io,
	       t_cfg.allow_mmap, t_cfg.killpriv_v2);
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (!selected(only, groups[i].name))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		umask(022);
		t_section(groups[i].name);
		groups[i].fn();
		fflush(stdout);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t_cfg.verbose)
			printf("posix: %s took %ld ms\n", groups[i].name,
			       (long)((t1.tv_sec - t0.tv_sec) * 1000 +
				      (t1.tv_nsec - t0.tv_nsec) / 1000000));
	}
	return t_finish();
}
