/*
 * bench/guest/vbench.c - the workloads of bench/guest.sh, as one static
 * binary (the guest is a busybox initramfs: no fio, and a shell loop forks
 * per file).  Also run on the host for the native ceiling.
 *
 *   vbench create DIR N            create + fstat + close + unlink N files
 *   vbench readdir DIR             list DIR (getdents64 until the end)
 *   vbench stat DIR                stat every entry of DIR
 *   vbench write FILE MiB [direct] sequential 1 MiB writes (+ fsync)
 *   vbench read FILE [direct]      sequential 1 MiB reads to the end
 *   vbench rand FILE JOBS SECS     4 KiB random O_DIRECT preads, JOBS threads
 *   vbench randw FILE JOBS SECS    4 KiB random O_DIRECT pwrites, JOBS threads
 *
 * Prints one line "ops=N ms=T" (bytes=B for data): T is wall time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1u << 20)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail(const char *what)
{
	fprintf(stderr, "vbench: %s: %s\n", what, strerror(errno));
	return 1;
}

static int do_create(const char *dir, unsigned n)
{
	char path[4096];
	struct stat st;
	double t = now_ms();

	for (unsigned i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/c%u", dir, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail(path);
		if (fstat(fd, &st))
			return fail("fstat");
		close(fd);
		if (unlink(path))
			return fail("unlink");
	}
	printf("ops=%u ms=%.1f\n", n, now_ms() - t);
	return 0;
}

static int do_list(const char *dir, int with_stat)
{
	double t = now_ms();
	unsigned n = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return fail(dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (with_stat && fstatat(dirfd(d), de->d_name, &st, 0))
			return fail(de->d_name);
		n++;
	}
	closedir(d);
	printf("ops=%u ms=%.1f\n", n, now_ms() - t);
	return 0;
}

static void *alloc_buf(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len))
		return NULL;
	memset(p, 'v', len);
	return p;
}

static int do_write(const char *file, unsigned mib, int direct)
{
	char *buf = alloc_buf(MIB);
	double t = now_ms();
	int fd = open(file, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC |
		      (direct ? O_DIRECT : 0), 0644);

	if (fd < 0 || !buf)
		return fail(file);
	for (unsigned i = 0; i < mib; i++)
		if (write(fd, buf, MIB) != (ssize_t)MIB)
			return fail("write");
	if (fsync(fd))
		return fail("fsync");
	close(fd);
	printf("ops=%u bytes=%llu ms=%.1f\n", mib,
	       (unsigned long long)mib * MIB, now_ms() - t);
	return 0;
}

static int do_read(const char *file, int direct)
{
	char *buf = alloc_buf(MIB);
	double t = now_ms();
	unsigned long long bytes = 0;
	unsigned ops = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	ssize_t n;

	if (fd < 0 || !buf)
		return fail(file);
	while ((n = read(fd, buf, MIB)) > 0) {
		bytes += (unsigned long long)n;
		ops++;
	}
	if (n < 0)
		return fail("read");
	close(fd);
	printf("ops=%u bytes=%llu ms=%.1f\n", ops, bytes, now_ms() - t);
	return 0;
}

struct job {
	pthread_t tid;
	int fd;
	off_t blocks;
	double end;
	unsigned long long ops;
	uint64_t rng;
	int err;
	bool write;
};

static void *rand_job(void *arg)
{
	struct job *j = arg;
	char *buf = alloc_buf(4096);

	if (!buf) {
		j->err = ENOMEM;
		return NULL;
	}
	while (now_ms() < j->end) {
		for (int k = 0; k < 16; k++) {
			j->rng ^= j->rng << 13;
			j->rng ^= j->rng >> 7;
			j->rng ^= j->rng << 17;
			off_t at = (off_t)(j->rng % (uint64_t)j->blocks) * 4096;

			if ((j->write ? pwrite(j->fd, buf, 4096, at) :
			     pread(j->fd, buf, 4096, at)) != 4096) {
				j->err = errno ? errno : EIO;
				free(buf);
				return NULL;
			}
			j->ops++;
		}
	}
	free(buf);
	return NULL;
}

static int do_rand(const char *file, unsigned jobs, double secs, bool write)
{
	struct job js[64];
	struct stat st;
	unsigned long long ops = 0;
	double t;
	int fd = open(file, (write ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || st.st_size < 4096 || !jobs || jobs > 64)
		return fail(file);
	t = now_ms();
	for (unsigned i = 0; i < jobs; i++) {
		js[i] = (struct job){ .fd = fd, .blocks = st.st_size / 4096,
				      .end = t + secs * 1e3,
				      .rng = 0x9e3779b97f4a7c15ull * (i + 1),
				      .write = write };
		pthread_create(&js[i].tid, NULL, rand_job, &js[i]);
	}
	for (unsigned i = 0; i < jobs; i++) {
		pthread_join(js[i].tid, NULL);
		ops += js[i].ops;
		if (js[i].err) {
			errno = js[i].err;
			return fail(write ? "pwrite" : "pread");
		}
	}
	close(fd);
	printf("ops=%llu bytes=%llu ms=%.1f\n", ops, ops * 4096, now_ms() - t);
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	if (!strcmp(m, "create") && argc == 4)
		return do_create(argv[2], (unsigned)atoi(argv[3]));
	if (!strcmp(m, "readdir") && argc == 3)
		return do_list(argv[2], 0);
	if (!strcmp(m, "stat") && argc == 3)
		return do_list(argv[2], 1);
	if (!strcmp(m, "write") && (argc == 4 || argc == 5))
		return do_write(argv[2], (unsigned)atoi(argv[3]), argc == 5);
	if (!strcmp(m, "read") && (argc == 3 || argc == 4))
		return do_read(argv[2], argc == 4);
	if (!strcmp(m, "rand") && argc == 5)
		return do_rand(argv[2], (unsigned)atoi(argv[3]), atof(argv[4]),
			       false);
	if (!strcmp(m, "randw") && argc == 5)
		return do_rand(argv[2], (unsigned)atoi(argv[3]), atof(argv[4]),
			       true);
	fprintf(stderr, "usage: see bench/guest/vbench.c\n");
	return 2;
}
