/*
 * mig-dirhold: hold a directory stream half read across a live migration.
 * Runs in the e2e guest (static binary in the busybox initramfs).
 *
 *   mig-dirhold DIR COUNT FIRST GOFILE SECONDS READYFILE
 *
 * Opens DIR, reads entries with getdents64 through a small buffer (so that
 * every call after the first few needs a new FUSE READDIR from the daemon)
 * until at least FIRST names are seen, creates READYFILE, then polls for
 * GOFILE (up to SECONDS) with the stream still open, reads the rest, and
 * checks that the names f000..f(COUNT-1) were each seen exactly once (".",
 * ".." and nothing else allowed). Prints one "@@VFS:INFO dirhold ..." line;
 * exit 0 on success, 1 on a wrong listing, 2 on a usage or system error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_NAMES 4096

struct linux_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static unsigned char seen[MAX_NAMES];
static long nseen, extra, dups, calls;

/* Account one name; returns nothing, updates the counters. */
static void account(const char *name, long count)
{
	char *end;
	long i;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return;
	if (name[0] != 'f' || strlen(name) != 4) {
		extra++;
		return;
	}
	i = strtol(name + 1, &end, 10);
	if (*end || i < 0 || i >= count) {
		extra++;
		return;
	}
	if (seen[i]++)
		dups++;
	else
		nseen++;
}

/* Read one small batch; returns the number of bytes (0 at the end), -1. */
static long batch(int fd, long count)
{
	char buf[512] __attribute__((aligned(8)));
	long n, off;

	n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	if (n < 0)
		return -1;
	calls++;
	for (off = 0; off < n;) {
		struct linux_dirent64 *d = (void *)(buf + off);

		account(d->d_name, count);
		off += d->d_reclen;
	}
	return n;
}

/* Sleep for MS milliseconds. */
static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	long count, first, limit_ms, waited = 0, before, n;
	struct stat st;
	int fd, rfd;

	if (argc != 7) {
		fprintf(stderr, "usage: %s DIR COUNT FIRST GOFILE SECONDS READYFILE\n",
			argv[0]);
		return 2;
	}
	count = atol(argv[2]);
	first = atol(argv[3]);
	limit_ms = atol(argv[5]) * 1000;
	if (count <= 0 || count > MAX_NAMES || first <= 0 || first >= count) {
		fprintf(stderr, "mig-dirhold: bad COUNT or FIRST\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mig-dirhold: open %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	while (nseen < first) {
		n = batch(fd, count);
		if (n <= 0) {
			fprintf(stderr, "mig-dirhold: listing ended after %ld names (%s)\n",
				nseen, n < 0 ? strerror(errno) : "EOF");
			return 1;
		}
	}
	before = nseen;
	rfd = open(argv[6], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (rfd < 0) {
		fprintf(stderr, "mig-dirhold: create %s: %s\n", argv[6], strerror(errno));
		return 2;
	}
	close(rfd);
	while (stat(argv[4], &st) < 0) {
		if (waited >= limit_ms) {
			fprintf(stderr, "mig-dirhold: no %s after %ld s\n", argv[4],
				limit_ms / 1000);
			return 2;
		}
		nap(100);
		waited += 100;
	}
	while ((n = batch(fd, count)) > 0)
		;
	if (n < 0) {
		fprintf(stderr, "mig-dirhold: getdents64 after the wait: %s\n",
			strerror(errno));
		return 1;
	}
	close(fd);
	printf("@@VFS:INFO dirhold before=%ld total=%ld want=%ld dups=%ld extra=%ld calls=%ld\n",
	       before, nseen, count, dups, extra, calls);
	return (nseen == count && !dups && !extra) ? 0 : 1;
}
