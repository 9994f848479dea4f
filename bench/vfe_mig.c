/*
 * bench/vfe_mig.c - migration and memory benchmark driver on the vhost-user
 * test front-end (tests/functional/lib).  It plays QEMU and the guest
 * against daemons that are already listening, so every back-end is driven
 * the same way:
 *
 *   1. source: negotiate, start one request queue, FUSE INIT; VmRSS of the
 *      source (--pid) = the idle baseline;
 *   2. LOOKUP d<K> and then every file d<K>/<N> (N < --files, 1000 a
 *      directory, created on the host by --populate), 64 in flight; VmRSS
 *      again (--rss-only stops here);
 *   3. --precopy: dirty logging on (SET_LOG_BASE + LOG_ALL), then wait
 *      until the source's CPU time stops growing (its pre-copy work done);
 *   4. downtime: stop the rings (GET_VRING_BASE), SET_DEVICE_STATE_FD SAVE
 *      into a pipe, read to EOF, CHECK_DEVICE_STATE;
 *   5. destination (--dest-socket, a fresh daemon on the same directory):
 *      negotiate, SET_DEVICE_STATE_FD LOAD, write the blob, CHECK.
 *
 * Output: one line of key=value pairs (times in ms, sizes in bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vfe_daemon.h"
#include "vfe_dev.h"
#include "vfe_fuse.h"

#define PER_DIR 1000u

struct opts {
	const char *sock, *dest_sock, *shared;
	pid_t pid, dest_pid;
	unsigned files;
	bool populate, precopy, rss_only;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A field of /proc/PID/status in KiB ("VmRSS:"), or -1. */
static long status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen)) {
			v = strtol(line + klen, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static double ticks_ms(long long a, long long b)
{
	if (a < 0 || b < a)
		return -1;
	return (double)(b - a) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/* Create dirs d0.. and files d<K>/<N> on the host under shared. */
static int populate(const char *shared, unsigned n)
{
	char path[4096];

	for (unsigned i = 0; i < n; i++) {
		int fd;

		if (i % PER_DIR == 0) {
			snprintf(path, sizeof(path), "%s/d%u", shared, i / PER_DIR);
			if (mkdir(path, 0755) && errno != EEXIST)
				return -errno;
		}
		snprintf(path, sizeof(path), "%s/d%u/%u", shared, i / PER_DIR, i);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

/* LOOKUP every directory, then every file, many in flight. */
static int lookup_all(struct vfe_fuse *f, unsigned n)
{
	static struct fuse_entry_out ent;
	unsigned ndirs = (n + PER_DIR - 1) / PER_DIR, sent = 0, done = 0;
	uint64_t *dirs = calloc(ndirs ? ndirs : 1, sizeof(*dirs));
	char name[32];
	int r = 0;

	if (!dirs)
		return -ENOMEM;
	for (unsigned d = 0; d < ndirs && !r; d++) {
		snprintf(name, sizeof(name), "d%u", d);
		r = vfe_fuse_lookup(f, FUSE_ROOT_ID, name, &ent);
		dirs[d] = ent.nodeid;
	}
	while (!r && done < n) {
		struct vfe_fuse_req *q;
		int err;

		while (sent < n) {
			struct vfe_fuse_call c = {
				.opcode = FUSE_LOOKUP,
				.nodeid = dirs[sent / PER_DIR],
				.out = &ent, .out_cap = sizeof(ent),
				.queue = VFE_Q_DEFAULT,
			};
			int len = snprintf(name, sizeof(name), "%u", sent);

			c.in[0].iov_base = name;
			c.in[0].iov_len = (size_t)len + 1;
			c.nin = 1;
			if (!vfe_fuse_submit(f, &c, &err)) {
				if (err != -EBUSY && err != -ENOSPC)
					r = err;
				break;
			}
			sent++;
		}
		if (r)
			break;
		r = vfe_fuse_poll(f, f->default_queue, 30000, &q);
		if (r)
			break;
		if (q->status || q->oh.error) {
			fprintf(stderr, "LOOKUP %u: status %d error %d\n", done,
				q->status, q->oh.error);
			r = q->status ? q->status : q->oh.error;
		}
		vfe_fuse_put(f, q);
		done++;
	}
	free(dirs);
	return r;
}

/* SET_DEVICE_STATE_FD(direction, STOPPED, fd); returns the reply or ~0. */
static uint64_t set_state_fd(struct vfe_dev *dev, uint32_t dir, int fd)
{
	uint32_t p[2] = { dir, 0 };
	uint64_t v = ~0ull;

	if (vfe_msg_send(dev->sock, VU_SET_DEVICE_STATE_FD, 0, p, sizeof(p),
			 &fd, 1) ||
	    vfe_msg_recv_reply(dev->sock, VU_SET_DEVICE_STATE_FD, &v, 8, 600000))
		return ~0ull;
	return v;
}

static uint64_t check_state(struct vfe_dev *dev)
{
	uint64_t v = ~0ull;

	if (vfe_msg_get_u64(dev->sock, VU_CHECK_DEVICE_STATE, &v, 600000))
		return ~0ull;
	return v;
}

/* Wait until pid's CPU time has not grown for 500 ms (at most 600 s). */
static void wait_quiet(pid_t pid)
{
	long long last = vfe_proc_cpu_ticks(pid);
	double t_last = now_ms(), t_end = t_last + 600000;

	while (now_ms() < t_end) {
		long long c;

		usleep(100000);
		c = vfe_proc_cpu_ticks(pid);
		if (c != last) {
			last = c;
			t_last = now_ms();
		} else if (now_ms() - t_last >= 500) {
			return;
		}
	}
}

/*
 * Dirty logging on, as QEMU does it: SET_LOG_BASE with the log memfd, then
 * SET_FEATURES with LOG_ALL and the rings' addresses with F_LOG.  The
 * reply to SET_LOG_BASE is checked as loosely as QEMU does (request only):
 * the Rust daemon answers with 16 bytes, the spec says 8.
 */
static int log_start(struct vfe_dev *dev)
{
	struct vu_log l;
	struct vu_msg m;
	int r;

	r = vfe_dev_log_prepare(dev);
	if (r)
		return r;
	l.mmap_size = dev->log.size;
	l.mmap_offset = dev->log.offset;
	r = vfe_msg_send(dev->sock, VU_SET_LOG_BASE, 0, &l, sizeof(l),
			 &dev->log.fd, 1);
	if (!r)
		r = vfe_msg_recv(dev->sock, &m, NULL, NULL, dev->timeout_ms);
	if (!r && m.hdr.request != VU_SET_LOG_BASE)
		r = -EPROTO;
	if (!r)
		r = vfe_dev_set_features(dev);
	for (unsigned i = 0; !r && i < dev->nvqs; i++)
		r = vfe_dev_set_vring_addr(dev, i);
	return r;
}

static int connect_dev(const char *path, struct vfe_dev *dev, bool start)
{
	struct vfe_daemon d = { 0 };
	struct vfe_dev_opts o = { .nvqs = 2, .queue_size = 1024,
				  .ram_size = 256ull << 20,
				  .timeout_ms = 600000 };
	int sock, r;

	snprintf(d.sock_path, sizeof(d.sock_path), "%s", path);
	sock = vfe_daemon_connect(&d, 10000);
	if (sock < 0)
		return sock;
	r = vfe_dev_init(dev, &o);
	if (!r)
		r = vfe_dev_negotiate(dev, sock);
	if (!r && start)
		r = vfe_dev_start(dev);
	return r;
}

static void usage(const char *p)
{
	fprintf(stderr,
		"usage: %s --socket=PATH --pid=PID --files=N [--shared-dir=DIR --populate]\n"
		"       [--rss-only | [--precopy] --dest-socket=PATH [--dest-pid=PID]]\n",
		p);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "dest-socket", required_argument, NULL, 'S' },
		{ "pid", required_argument, NULL, 'p' },
		{ "dest-pid", required_argument, NULL, 'P' },
		{ "shared-dir", required_argument, NULL, 'D' },
		{ "files", required_argument, NULL, 'n' },
		{ "populate", no_argument, NULL, 'c' },
		{ "precopy", no_argument, NULL, 'l' },
		{ "rss-only", no_argument, NULL, 'r' },
		{ 0 },
	};
	struct opts o = { 0 };
	struct vfe_dev src, dst;
	struct vfe_fuse f;
	uint8_t *blob = NULL;
	size_t len = 0, cap = 1 << 20;
	double t, t_lookup, t_pre = 0, t_stop, t_save, t_check, t_load;
	long rss0, rss1, drss = -1;
	long long c0, c1, d0 = -1, d1 = -1;
	uint64_t v;
	int opt, r, p[2];
	ssize_t n;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': o.sock = optarg; break;
		case 'S': o.dest_sock = optarg; break;
		case 'p': o.pid = (pid_t)atoi(optarg); break;
		case 'P': o.dest_pid = (pid_t)atoi(optarg); break;
		case 'D': o.shared = optarg; break;
		case 'n': o.files = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'c': o.populate = true; break;
		case 'l': o.precopy = true; break;
		case 'r': o.rss_only = true; break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (!o.sock || !o.pid || !o.files || (o.populate && !o.shared) ||
	    (!o.rss_only && !o.dest_sock)) {
		usage(argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (o.populate && (r = populate(o.shared, o.files))) {
		fprintf(stderr, "populate: %s\n", strerror(-r));
		return 1;
	}
	r = connect_dev(o.sock, &src, true);
	if (!r)
		r = vfe_fuse_client_init(&f, &src, 64, 4096);
	if (!r) {
		f.timeout_ms = 600000;
		r = vfe_fuse_init(&f);
	}
	if (r) {
		fprintf(stderr, "source setup: %d: %s\n", r, vfe_msg_last_error());
		return 1;
	}
	rss0 = status_kib(o.pid, "VmRSS:");
	t = now_ms();
	r = lookup_all(&f, o.files);
	t_lookup = now_ms() - t;
	if (r) {
		fprintf(stderr, "lookups: %d: %s\n", r, vfe_msg_last_error());
		return 1;
	}
	rss1 = status_kib(o.pid, "VmRSS:");
	if (o.rss_only) {
		printf("files=%u lookup_ms=%.0f rss_idle_kib=%ld rss_kib=%ld "
		       "bytes_per_inode=%.0f\n", o.files, t_lookup, rss0, rss1,
		       (double)(rss1 - rss0) * 1024 / o.files);
		vfe_fuse_client_destroy(&f);
		vfe_dev_destroy(&src);
		return 0;
	}
	if (o.precopy) {
		t = now_ms();
		r = log_start(&src);
		if (r) {
			fprintf(stderr, "log start: %s\n", vfe_msg_last_error());
			return 1;
		}
		wait_quiet(o.pid);
		t_pre = now_ms() - t - 500;
	}
	/* Downtime starts: stop the rings, save, check. */
	c0 = vfe_proc_cpu_ticks(o.pid);
	t = now_ms();
	r = vfe_dev_stop(&src, NULL);
	t_stop = now_ms() - t;
	blob = malloc(cap);
	if (r || !blob || pipe2(p, O_CLOEXEC)) {
		fprintf(stderr, "stop: %s\n", vfe_msg_last_error());
		return 1;
	}
	t = now_ms();
	v = set_state_fd(&src, 0, p[1]);
	close(p[1]);
	if (v != 0x100) {
		fprintf(stderr, "SET_DEVICE_STATE_FD SAVE: %#llx: %s\n",
			(unsigned long long)v, vfe_msg_last_error());
		return 1;
	}
	while ((n = read(p[0], blob + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			blob = realloc(blob, cap);
			if (!blob)
				return 1;
		}
	}
	close(p[0]);
	t_save = now_ms() - t;
	t = now_ms();
	v = check_state(&src);
	t_check = now_ms() - t;
	c1 = vfe_proc_cpu_ticks(o.pid);
	if (v) {
		fprintf(stderr, "source CHECK_DEVICE_STATE: %#llx\n",
			(unsigned long long)v);
		return 1;
	}
	/* The destination. */
	r = connect_dev(o.dest_sock, &dst, false);
	if (r || pipe2(p, O_CLOEXEC)) {
		fprintf(stderr, "destination setup: %s\n", vfe_msg_last_error());
		return 1;
	}
	if (o.dest_pid)
		d0 = vfe_proc_cpu_ticks(o.dest_pid);
	t = now_ms();
	v = set_state_fd(&dst, 1, p[0]);
	close(p[0]);
	if (v != 0x100) {
		fprintf(stderr, "SET_DEVICE_STATE_FD LOAD: %#llx: %s\n",
			(unsigned long long)v, vfe_msg_last_error());
		return 1;
	}
	for (size_t off = 0; off < len;) {
		n = write(p[1], blob + off, len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(p[1]);
	v = check_state(&dst);
	t_load = now_ms() - t;
	if (o.dest_pid) {
		d1 = vfe_proc_cpu_ticks(o.dest_pid);
		drss = status_kib(o.dest_pid, "VmRSS:");
	}
	if (v) {
		fprintf(stderr, "destination CHECK_DEVICE_STATE: %#llx\n",
			(unsigned long long)v);
		return 1;
	}
	printf("files=%u mode=%s lookup_ms=%.0f precopy_ms=%.0f stop_ms=%.1f "
	       "save_ms=%.1f check_ms=%.1f load_ms=%.1f downtime_ms=%.1f "
	       "blob_bytes=%zu src_cpu_ms=%.0f dst_cpu_ms=%.0f rss_idle_kib=%ld "
	       "rss_kib=%ld dst_rss_kib=%ld\n",
	       o.files, o.precopy ? "precopy" : "snapshot", t_lookup, t_pre,
	       t_stop, t_save, t_check, t_load,
	       t_stop + t_save + t_check + t_load, len, ticks_ms(c0, c1),
	       ticks_ms(d0, d1), rss0, rss1, drss);
	free(blob);
	vfe_dev_destroy(&dst);
	vfe_fuse_client_destroy(&f);
	vfe_dev_destroy(&src);
	return 0;
}
