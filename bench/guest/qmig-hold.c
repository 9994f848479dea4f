/*
 * bench/guest/qmig-hold.c - the guest side of bench/qemu-migration.sh: give
 * the virtio-fs daemon N cached node ids and K open files to carry across a
 * QEMU live migration, then check them. Static, in the busybox initramfs.
 *
 *   qmig-hold DIR N K GOFILE SECONDS
 *
 * DIR holds N files d<i/1000>/f<i%1000>, each containing "qmig <i>\n" (the
 * host wrote them). The program stats all N (one LOOKUP each: the guest now
 * holds N node ids), opens K of them spread over the tree and keeps them
 * open, prints "@@VFS:INFO qmig_ready ...", and polls for GOFILE (up to
 * SECONDS; the host creates it after the migration). Then it drops the page
 * cache (so that the reads go to the daemon through the migrated handles),
 * reads and fstats every open file, stats all N files again and lists every
 * directory. Prints "@@VFS:INFO qmig_after ..."; exit 0 when everything
 * matched, 1 on a mismatch, 2 on a usage or setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PER_DIR 1000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* path_of: write file i's path under dir into buf. */
static void path_of(char *buf, size_t len, const char *dir, long i)
{
	snprintf(buf, len, "%s/d%ld/f%ld", dir, i / PER_DIR, i % PER_DIR);
}

/* stat_all: lstat the n files; returns how many succeeded as regular files. */
static long stat_all(const char *dir, long n)
{
	char p[4096];
	struct stat st;
	long i, good = 0;

	for (i = 0; i < n; i++) {
		path_of(p, sizeof(p), dir, i);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			good++;
		else if (good + 5 > i)
			fprintf(stderr, "@@VFS:INFO qmig stat %s: %s\n", p, strerror(errno));
	}
	return good;
}

/* check_fd: true when fd (file i) reads back "qmig <i>\n" from offset 0. */
static int check_fd(int fd, long i)
{
	char want[64], got[64];
	ssize_t r;
	int len;

	len = snprintf(want, sizeof(want), "qmig %ld\n", i);
	r = pread(fd, got, sizeof(got), 0);
	return r == len && memcmp(got, want, (size_t)len) == 0;
}

/* list_dirs: count the entries (without . and ..) of every directory. */
static long list_dirs(const char *dir, long n)
{
	char p[4096];
	struct dirent *de;
	long d, total = 0;
	DIR *dp;

	for (d = 0; d * PER_DIR < n; d++) {
		snprintf(p, sizeof(p), "%s/d%ld", dir, d);
		dp = opendir(p);
		if (!dp)
			continue;
		while ((de = readdir(dp)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				total++;
		closedir(dp);
	}
	return total;
}

int main(int argc, char **argv)
{
	long n, k, i, step, good, open_ok = 0, fstat_ok = 0, listed;
	double t0, stat_ms, after_ms;
	int *fds, waited, limit, fd;
	const char *dir, *go;
	char p[4096];
	struct stat st;

	if (argc != 6) {
		fprintf(stderr, "usage: qmig-hold DIR N K GOFILE SECONDS\n");
		return 2;
	}
	dir = argv[1];
	n = atol(argv[2]);
	k = atol(argv[3]);
	go = argv[4];
	limit = atoi(argv[5]);
	if (n <= 0 || k <= 0 || k > n || limit <= 0) {
		fprintf(stderr, "qmig-hold: bad N, K or SECONDS\n");
		return 2;
	}
	fds = calloc((size_t)k, sizeof(*fds));
	if (!fds)
		return 2;

	t0 = now_ms();
	good = stat_all(dir, n);
	stat_ms = now_ms() - t0;
	if (good != n) {
		printf("@@VFS:FAIL qmig: only %ld of %ld files stat before the migration\n", good, n);
		return 2;
	}
	step = n / k;
	for (i = 0; i < k; i++) {
		path_of(p, sizeof(p), dir, i * step);
		fds[i] = open(p, O_RDONLY);
		if (fds[i] < 0 || !check_fd(fds[i], i * step)) {
			printf("@@VFS:FAIL qmig: open/read %s before the migration: %s\n", p,
			       fds[i] < 0 ? strerror(errno) : "wrong content");
			return 2;
		}
	}
	printf("@@VFS:INFO qmig_ready files=%ld stat_ms=%.0f open=%ld\n", n, stat_ms, k);
	fflush(stdout);

	for (waited = 0; access(go, F_OK) != 0; waited++) {
		if (waited >= limit * 10) {
			printf("@@VFS:FAIL qmig: no %s after %d s\n", go, limit);
			return 2;
		}
		usleep(100000);
	}

	/* Read through the daemon, not the page cache (the inodes stay). */
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			printf("@@VFS:INFO qmig: drop_caches failed: %s\n", strerror(errno));
		close(fd);
	}
	t0 = now_ms();
	for (i = 0; i < k; i++) {
		if (check_fd(fds[i], i * step))
			open_ok++;
		if (fstat(fds[i], &st) == 0 && S_ISREG(st.st_mode))
			fstat_ok++;
	}
	good = stat_all(dir, n);
	listed = list_dirs(dir, n);
	after_ms = now_ms() - t0;
	for (i = 0; i < k; i++)
		close(fds[i]);
	printf("@@VFS:INFO qmig_after open_read_ok=%ld/%ld fstat_ok=%ld/%ld stat_ok=%ld/%ld listed=%ld/%ld ms=%.0f\n",
	       open_ok, k, fstat_ok, k, good, n, listed, n, after_ms);
	return open_ok == k && fstat_ok == k && good == n && listed == n ? 0 : 1;
}
