/*
 * vfe_load.c - a load generator on the test front-end: keeps `depth` FUSE
 * requests in flight on each of `queues` request queues (one thread per
 * queue) for a while and prints throughput and latency.
 *
 * It either spawns the daemon (--daemon=EXE, like the tests) or connects
 * to one already listening (--socket=PATH), so that other virtio-fs
 * back-ends can be measured the same way.
 *
 *   vfe_load --daemon=build/virtiofsd/virtiofsd --op=read --size=4096 \
 *            --queues=2 --depth=32 --seconds=10
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfe_daemon.h"
#include "vfe_dev.h"
#include "vfe_fuse.h"

#define MAX_SAMPLES 200000

enum op { OP_GETATTR, OP_READ, OP_WRITE };

struct cfg {
	const char *daemon, *socket, *shared;
	enum op op;
	uint32_t size;
	unsigned queues, depth, pool;
	double seconds;
	uint64_t file_size;
	bool direct;
};

struct worker {
	pthread_t tid;
	const struct cfg *cfg;
	struct vfe_fuse f;
	unsigned queue;
	uint64_t nodeid, fh;
	uint64_t ops, bytes, errors;
	uint32_t *lat_us;
	size_t nlat;
	char err[256];
	uint64_t rng;
};

static volatile sig_atomic_t stop_now;

static void on_sig(int sig)
{
	(void)sig;
	stop_now = 1;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Per in-flight request state. */
struct inflight {
	union {
		struct fuse_getattr_in g;
		struct fuse_read_in r;
		struct fuse_write_in w;
	} in;
	union {
		struct fuse_attr_out a;
		struct fuse_write_out w;
	} out;
	struct vfe_fuse_call c;
	struct vfe_fuse_req *req;
	int64_t t0;
};

static void prep(struct worker *w, struct inflight *x, const char *wbuf)
{
	const struct cfg *c = w->cfg;
	uint64_t blocks = c->file_size / c->size;
	uint64_t off = blocks ? (xorshift(&w->rng) % blocks) * c->size : 0;

	memset(&x->c, 0, sizeof(x->c));
	x->c.queue = w->queue;
	x->c.flags = VFE_NOKICK | (c->direct ? VFE_DIRECT : 0);
	switch (c->op) {
	case OP_GETATTR:
		x->in.g = (struct fuse_getattr_in){ 0 };
		x->c.opcode = FUSE_GETATTR;
		x->c.nodeid = FUSE_ROOT_ID;
		x->c.in[0] = (struct iovec){ &x->in.g, sizeof(x->in.g) };
		x->c.out = &x->out.a;
		x->c.out_cap = sizeof(x->out.a);
		break;
	case OP_READ:
		x->in.r = (struct fuse_read_in){ .fh = w->fh, .offset = off,
						 .size = c->size };
		x->c.opcode = FUSE_READ;
		x->c.nodeid = w->nodeid;
		x->c.in[0] = (struct iovec){ &x->in.r, sizeof(x->in.r) };
		x->c.rlen = c->size;
		break;
	case OP_WRITE:
		x->in.w = (struct fuse_write_in){ .fh = w->fh, .offset = off,
						  .size = c->size };
		x->c.opcode = FUSE_WRITE;
		x->c.nodeid = w->nodeid;
		x->c.in[0] = (struct iovec){ &x->in.w, sizeof(x->in.w) };
		x->c.wdata = wbuf;
		x->c.wlen = c->size;
		x->c.out = &x->out.w;
		x->c.out_cap = sizeof(x->out.w);
		break;
	}
	x->c.nin = 1;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	const struct cfg *c = w->cfg;
	struct inflight *x = calloc(c->depth, sizeof(*x));
	char *wbuf = malloc(c->size);
	int64_t end = now_us() + (int64_t)(c->seconds * 1e6);
	unsigned busy = 0;
	int err;

	if (!x || !wbuf) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		goto out;
	}
	memset(wbuf, 'L', c->size);
	for (;;) {
		bool stopping = stop_now || now_us() >= end;
		struct vfe_fuse_req *d;

		/* Refill. */
		for (unsigned i = 0; !stopping && i < c->depth; i++) {
			if (x[i].req)
				continue;
			prep(w, &x[i], wbuf);
			x[i].req = vfe_fuse_submit(&w->f, &x[i].c, &err);
			if (!x[i].req) {
				snprintf(w->err, sizeof(w->err), "submit: %s",
					 strerror(-err));
				goto out;
			}
			x[i].t0 = now_us();
			busy++;
		}
		vfe_fuse_kick(&w->f, w->queue);
		if (!busy)
			break;
		err = vfe_fuse_poll(&w->f, w->queue, 10000, &d);
		if (err) {
			snprintf(w->err, sizeof(w->err), "queue %u: %s", w->queue,
				 vfe_msg_last_error());
			goto out;
		}
		for (unsigned i = 0; i < c->depth; i++) {
			int r;

			if (x[i].req != d)
				continue;
			r = vfe_fuse_result(&w->f, d, &x[i].c);
			vfe_fuse_put(&w->f, d);
			x[i].req = NULL;
			busy--;
			if (r) {
				w->errors++;
				snprintf(w->err, sizeof(w->err), "opcode %u: error %d",
					 x[i].c.opcode, r);
				if (r == -VFE_EPROTO)
					goto out;
				continue;
			}
			w->ops++;
			w->bytes += c->op == OP_READ ? x[i].c.rgot :
				    c->op == OP_WRITE ? x[i].out.w.size : 0;
			if (w->nlat < MAX_SAMPLES)
				w->lat_us[w->nlat++] = (uint32_t)(now_us() - x[i].t0);
		}
	}
out:
	free(x);
	free(wbuf);
	return NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(const char *p)
{
	fprintf(stderr,
		"usage: %s (--daemon=EXE [--shared-dir=DIR] [--pool=N] | --socket=PATH)\n"
		"       [--op=getattr|read|write] [--size=BYTES] [--queues=N]\n"
		"       [--depth=N] [--seconds=S] [--file-size=BYTES] [--direct]\n",
		p);
}

/* Prepare the data file through FUSE; open it for each worker. */
static int prepare_file(struct worker *ws, const struct cfg *c)
{
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	static char chunk[1 << 20];
	int r;

	memset(chunk, 'D', sizeof(chunk));
	r = vfe_fuse_create(&ws[0].f, FUSE_ROOT_ID, "vfe_load.dat",
			    O_RDWR | O_CREAT, S_IFREG | 0644, &ent, &op);
	if (r)
		return r;
	for (uint64_t off = 0; c->op == OP_READ && off < c->file_size;) {
		size_t got = 0, len = sizeof(chunk);

		if (len > ws[0].f.data_cap)
			len = ws[0].f.data_cap;
		if (len > c->file_size - off)
			len = c->file_size - off;
		r = vfe_fuse_write(&ws[0].f, ent.nodeid, op.fh, off, chunk, len,
				   &got);
		if (r)
			return r;
		if (!got)
			return -EIO;
		off += got;
	}
	r = vfe_fuse_release(&ws[0].f, ent.nodeid, op.fh, O_RDWR);
	for (unsigned q = 0; !r && q < c->queues; q++) {
		ws[q].nodeid = ent.nodeid;
		r = vfe_fuse_open(&ws[q].f, ent.nodeid, O_RDWR, &op);
		ws[q].fh = op.fh;
	}
	return r;
}

int main(int argc, char **argv)
{
	struct cfg c = {
		.op = OP_READ, .size = 4096, .queues = 1, .depth = 16,
		.seconds = 5, .file_size = 64ull << 20,
	};
	static const struct option lo[] = {
		{ "daemon", required_argument, NULL, 'x' },
		{ "socket", required_argument, NULL, 's' },
		{ "shared-dir", required_argument, NULL, 'D' },
		{ "pool", required_argument, NULL, 'p' },
		{ "op", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, 'b' },
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 't' },
		{ "file-size", required_argument, NULL, 'F' },
		{ "direct", no_argument, NULL, 'r' },
		{ 0 },
	};
	struct vfe_daemon d = { 0 };
	struct vfe_daemon_opts dopts = { 0 };
	struct vfe_dev_opts devo = { 0 };
	struct vfe_dev dev;
	struct worker *ws;
	char tmpl[] = "/tmp/vfe-load-XXXXXX";
	int64_t t0, t1;
	uint64_t ops = 0, bytes = 0, errors = 0;
	uint32_t *all;
	size_t nall = 0;
	int opt, sock, r, ret = 0;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'x': c.daemon = optarg; break;
		case 's': c.socket = optarg; break;
		case 'D': c.shared = optarg; break;
		case 'p': c.pool = (unsigned)atoi(optarg); break;
		case 'o':
			if (!strcmp(optarg, "getattr"))
				c.op = OP_GETATTR;
			else if (!strcmp(optarg, "read"))
				c.op = OP_READ;
			else if (!strcmp(optarg, "write"))
				c.op = OP_WRITE;
			else {
				usage(argv[0]);
				return 2;
			}
			break;
		case 'b': c.size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': c.queues = (unsigned)atoi(optarg); break;
		case 'd': c.depth = (unsigned)atoi(optarg); break;
		case 't': c.seconds = atof(optarg); break;
		case 'F': c.file_size = strtoull(optarg, NULL, 0); break;
		case 'r': c.direct = true; break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (!c.daemon && !c.socket)
		c.daemon = getenv("VFE_VIRTIOFSD");
	if ((!c.daemon && !c.socket) || !c.queues || c.queues + 1 > VFE_MAX_VQS ||
	    !c.depth || c.depth > 1024 || !c.size || c.size > (1u << 20) ||
	    c.file_size < c.size) {
		usage(argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sig);
	if (c.socket) {
		snprintf(d.sock_path, sizeof(d.sock_path), "%s", c.socket);
	} else {
		if (!mkdtemp(tmpl)) {
			perror("mkdtemp");
			return 1;
		}
		dopts.exe = c.daemon;
		dopts.shared_dir = c.shared;
		dopts.thread_pool_size = c.pool;
		r = vfe_daemon_start(&d, tmpl, &dopts);
		if (r) {
			fprintf(stderr, "daemon: %s: %s\n", strerror(-r),
				vfe_msg_last_error());
			return 1;
		}
	}
	sock = vfe_daemon_connect(&d, 5000);
	if (sock < 0) {
		fprintf(stderr, "connect: %s\n", vfe_msg_last_error());
		vfe_daemon_kill(&d);
		return 1;
	}
	devo.nvqs = c.queues + 1;
	devo.queue_size = c.depth * 2 > 256 ? 1024 : 256;
	devo.ram_size = (uint64_t)c.queues * c.depth *
			((uint64_t)c.size + VFE_REQ_CAP + VFE_REP_CAP + 8192) +
			(uint64_t)devo.nvqs * vfe_vring_mem_size(devo.queue_size) +
			(16ull << 20);
	r = vfe_dev_init(&dev, &devo);
	if (!r)
		r = vfe_dev_negotiate(&dev, sock);
	if (!r && dev.queue_num && dev.queue_num < c.queues + 1) {
		fprintf(stderr, "the back-end supports %llu queues\n",
			(unsigned long long)dev.queue_num);
		r = -EINVAL;
	}
	if (!r)
		r = vfe_dev_start(&dev);
	ws = calloc(c.queues, sizeof(*ws));
	for (unsigned q = 0; !r && q < c.queues; q++) {
		ws[q].cfg = &c;
		ws[q].queue = q + 1;
		ws[q].rng = 0x9e3779b97f4a7c15ull * (q + 1);
		ws[q].lat_us = malloc(MAX_SAMPLES * sizeof(uint32_t));
		r = vfe_fuse_client_init(&ws[q].f, &dev, c.depth, c.size + 4096);
		ws[q].f.default_queue = q + 1;
	}
	if (!r)
		r = vfe_fuse_init(&ws[0].f);
	if (!r && c.op != OP_GETATTR)
		r = prepare_file(ws, &c);
	if (r) {
		fprintf(stderr, "setup: %d: %s\n", r, vfe_msg_last_error());
		vfe_daemon_kill(&d);
		return 1;
	}
	t0 = now_us();
	for (unsigned q = 0; q < c.queues; q++)
		pthread_create(&ws[q].tid, NULL, run_worker, &ws[q]);
	for (unsigned q = 0; q < c.queues; q++)
		pthread_join(ws[q].tid, NULL);
	t1 = now_us();
	all = malloc((size_t)c.queues * MAX_SAMPLES * sizeof(uint32_t));
	for (unsigned q = 0; q < c.queues; q++) {
		ops += ws[q].ops;
		bytes += ws[q].bytes;
		errors += ws[q].errors;
		memcpy(all + nall, ws[q].lat_us, ws[q].nlat * sizeof(uint32_t));
		nall += ws[q].nlat;
		if (ws[q].err[0]) {
			fprintf(stderr, "queue %u: %s\n", ws[q].queue, ws[q].err);
			ret = 1;
		}
	}
	qsort(all, nall, sizeof(*all), cmp_u32);
	{
		double secs = (double)(t1 - t0) / 1e6;
		static const char *names[] = { "getattr", "read", "write" };

		printf("op=%s size=%u queues=%u depth=%u seconds=%.2f ops=%llu "
		       "ops_per_s=%.0f MiB_per_s=%.1f lat_p50_us=%u lat_p99_us=%u errors=%llu\n",
		       names[c.op], c.size, c.queues, c.depth, secs,
		       (unsigned long long)ops, (double)ops / secs,
		       (double)bytes / secs / (1 << 20),
		       nall ? all[nall / 2] : 0, nall ? all[nall * 99 / 100] : 0,
		       (unsigned long long)errors);
	}
	if (!ops)
		ret = 1;
	for (unsigned q = 0; q < c.queues; q++) {
		vfe_fuse_client_destroy(&ws[q].f);
		free(ws[q].lat_us);
	}
	free(ws);
	free(all);
	vfe_dev_destroy(&dev);
	if (!c.socket) {
		int st = 0;

		if (vfe_daemon_wait(&d, 5000, &st)) {
			fprintf(stderr, "daemon did not exit after the disconnect\n");
			vfe_daemon_kill(&d);
			ret = 1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			char b[64];

			fprintf(stderr, "daemon ended with %s\n",
				vfe_status_str(st, b, sizeof(b)));
			ret = 1;
		}
		/* Our own temporary directory (with the shared dir if we
		 * made it there). */
		nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	return ret;
}
