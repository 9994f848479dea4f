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
 *
 * Metadata ops (for bench/daemon.sh): --op=lookup (random names among
 * --files=N files in a directory), --op=readdirplus (each slot lists the
 * same N-entry directory through its own OPENDIR handle, --size bytes per
 * request, from offset 0 again at the end), --op=create (one operation is
 * CREATE + RELEASE + UNLINK of a new name, the nodes forgotten in batches
 * of 64 on the hiprio queue).  --pid=PID (the daemon's process; default
 * the spawned one) adds its CPU time (utime + stime) over the measured
 * window, per operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
#include "vfe_test.h"

#define MAX_SAMPLES 200000

enum op { OP_GETATTR, OP_READ, OP_WRITE, OP_LOOKUP, OP_READDIRPLUS,
	   OP_CREATE };

struct cfg {
	const char *daemon, *socket, *shared;
	enum op op;
	uint32_t size;
	unsigned queues, depth, pool;
	double seconds;
	uint64_t file_size;
	bool direct;
	unsigned files;     /* entries of the lookup / readdirplus directory */
	pid_t pid;          /* daemon process for the CPU figure; 0 = none */
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
	uint64_t dir;                   /* the metadata ops' directory */
	uint64_t *dfh;                  /* readdirplus: one handle per slot */
	uint64_t seq;                   /* create: next name */
	struct fuse_forget_one fq[64];  /* create: nodes to forget */
	unsigned nfq;
};

/* The hiprio queue is shared by every worker: one BATCH_FORGET at a time. */
static pthread_mutex_t hiprio_lock = PTHREAD_MUTEX_INITIALIZER;

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
		struct fuse_create_in cr;
		struct fuse_release_in rl;
	} in;
	union {
		struct fuse_attr_out a;
		struct fuse_write_out w;
		struct fuse_entry_out e;
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} __attribute__((packed)) cr;
	} out;
	struct vfe_fuse_call c;
	struct vfe_fuse_req *req;
	int64_t t0;
	unsigned step;          /* create: 0 CREATE, 1 RELEASE, 2 UNLINK */
	char name[48];
	uint64_t node, fh;      /* create: the new file */
	uint64_t dir_off;       /* readdirplus: next offset */
	uint64_t dfh;           /* readdirplus: this slot's handle */
	void *rdbuf;            /* readdirplus: reply entries */
};

/* The request of the create cycle's current step. */
static void prep_create(struct worker *w, struct inflight *x)
{
	x->c.nodeid = w->dir;
	x->c.nin = 1;
	switch (x->step) {
	case 0:
		snprintf(x->name, sizeof(x->name), "c%u.%" PRIu64, w->queue,
			 w->seq++);
		x->in.cr = (struct fuse_create_in){
			.flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0644,
		};
		x->c.opcode = FUSE_CREATE;
		x->c.in[0] = (struct iovec){ &x->in.cr, sizeof(x->in.cr) };
		x->c.in[1] = (struct iovec){ x->name, strlen(x->name) + 1 };
		x->c.nin = 2;
		x->c.out = &x->out.cr;
		x->c.out_cap = sizeof(x->out.cr);
		break;
	case 1:
		x->in.rl = (struct fuse_release_in){ .fh = x->fh, .flags = O_RDWR };
		x->c.opcode = FUSE_RELEASE;
		x->c.nodeid = x->node;
		x->c.in[0] = (struct iovec){ &x->in.rl, sizeof(x->in.rl) };
		break;
	default:
		x->c.opcode = FUSE_UNLINK;
		x->c.in[0] = (struct iovec){ x->name, strlen(x->name) + 1 };
		break;
	}
}

/* Forget the queued nodes (BATCH_FORGET on the hiprio queue). */
static int flush_forgets(struct worker *w)
{
	int r;

	if (!w->nfq)
		return 0;
	pthread_mutex_lock(&hiprio_lock);
	r = vfe_fuse_batch_forget(&w->f, w->fq, w->nfq);
	pthread_mutex_unlock(&hiprio_lock);
	w->nfq = 0;
	return r;
}

/*
 * A finished request of a multi-step op: advance its state.  Returns true
 * when the operation is complete (count it), false when the slot goes on
 * with its next step.
 */
static bool advance(struct worker *w, struct inflight *x)
{
	size_t pos = 0;
	struct vfe_dirent de;
	int k;

	switch (w->cfg->op) {
	case OP_READDIRPLUS:
		while ((k = vfe_dirent_next(x->rdbuf, x->c.out_len, &pos, true,
					    &de)) == 1)
			x->dir_off = de.off;
		if (k < 0 || !x->c.out_len)
			x->dir_off = 0;
		return true;
	case OP_CREATE:
		if (x->step == 0) {
			x->node = x->out.cr.e.nodeid;
			x->fh = x->out.cr.o.fh;
		}
		if (x->step < 2) {
			x->step++;
			return false;
		}
		x->step = 0;
		w->fq[w->nfq++] = (struct fuse_forget_one){ .nodeid = x->node,
							    .nlookup = 1 };
		if (w->nfq == sizeof(w->fq) / sizeof(w->fq[0]) && flush_forgets(w))
			snprintf(w->err, sizeof(w->err), "BATCH_FORGET: %s",
				 vfe_msg_last_error());
		return true;
	default:
		return true;
	}
}

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
	case OP_LOOKUP:
		snprintf(x->name, sizeof(x->name), "f%" PRIu64,
			 xorshift(&w->rng) % c->files);
		x->c.opcode = FUSE_LOOKUP;
		x->c.nodeid = w->dir;
		x->c.in[0] = (struct iovec){ x->name, strlen(x->name) + 1 };
		x->c.out = &x->out.e;
		x->c.out_cap = sizeof(x->out.e);
		break;
	case OP_READDIRPLUS:
		x->in.r = (struct fuse_read_in){ .fh = x->dfh,
						 .offset = x->dir_off,
						 .size = c->size };
		x->c.opcode = FUSE_READDIRPLUS;
		x->c.nodeid = w->dir;
		x->c.in[0] = (struct iovec){ &x->in.r, sizeof(x->in.r) };
		x->c.out = x->rdbuf;
		x->c.out_cap = c->size;
		break;
	case OP_CREATE:
		prep_create(w, x);
		return;
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
	for (unsigned i = 0; c->op == OP_READDIRPLUS && i < c->depth; i++) {
		x[i].dfh = w->dfh[i];
		x[i].rdbuf = malloc(c->size);
		if (!x[i].rdbuf) {
			snprintf(w->err, sizeof(w->err), "out of memory");
			goto out;
		}
	}
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
			if (x[i].step == 0)
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
				x[i].step = 0;
				continue;
			}
			if (!advance(w, &x[i]))
				continue;
			w->ops++;
			w->bytes += c->op == OP_READ ? x[i].c.rgot :
				    c->op == OP_WRITE ? x[i].out.w.size : 0;
			if (w->nlat < MAX_SAMPLES)
				w->lat_us[w->nlat++] = (uint32_t)(now_us() - x[i].t0);
		}
	}
out:
	if (c->op == OP_CREATE)
		flush_forgets(w);
	for (unsigned i = 0; x && c->op == OP_READDIRPLUS && i < c->depth; i++)
		free(x[i].rdbuf);
	free(x);
	free(wbuf);
	return NULL;
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
		"       [--op=getattr|read|write|lookup|readdirplus|create]\n"
		"       [--size=BYTES] [--queues=N] [--depth=N] [--seconds=S]\n"
		"       [--file-size=BYTES] [--direct] [--files=N] [--pid=PID]\n",
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

/*
 * The metadata ops' directory vfe_load.d (created, or found again), with
 * c->files empty files f0.. for lookup / readdirplus; readdirplus opens
 * it once per slot.
 */
static int prepare_dir(struct worker *ws, const struct cfg *c)
{
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	char name[32];
	uint64_t dir;
	int r;

	r = vfe_fuse_mkdir(&ws[0].f, FUSE_ROOT_ID, "vfe_load.d", 0755, &ent);
	if (r == -EEXIST)
		r = vfe_fuse_lookup(&ws[0].f, FUSE_ROOT_ID, "vfe_load.d", &ent);
	if (r)
		return r;
	dir = ent.nodeid;
	for (unsigned i = 0; c->op != OP_CREATE && i < c->files; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		r = vfe_fuse_create(&ws[0].f, dir, name, O_RDWR | O_CREAT,
				    S_IFREG | 0644, &ent, &op);
		if (r)
			return r;
		r = vfe_fuse_release(&ws[0].f, ent.nodeid, op.fh, O_RDWR);
		if (r)
			return r;
	}
	for (unsigned q = 0; q < c->queues; q++) {
		ws[q].dir = dir;
		if (c->op != OP_READDIRPLUS)
			continue;
		ws[q].dfh = calloc(c->depth, sizeof(uint64_t));
		if (!ws[q].dfh)
			return -ENOMEM;
		for (unsigned i = 0; i < c->depth; i++) {
			r = vfe_fuse_opendir(&ws[q].f, dir, &op);
			if (r)
				return r;
			ws[q].dfh[i] = op.fh;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cfg c = {
		.op = OP_READ, .size = 4096, .queues = 1, .depth = 16,
		.seconds = 5, .file_size = 64ull << 20, .files = 1000,
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
		{ "files", required_argument, NULL, 'n' },
		{ "pid", required_argument, NULL, 'P' },
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
	long long cpu0 = -1, cpu1 = -1;

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
			else if (!strcmp(optarg, "lookup"))
				c.op = OP_LOOKUP;
			else if (!strcmp(optarg, "readdirplus"))
				c.op = OP_READDIRPLUS;
			else if (!strcmp(optarg, "create"))
				c.op = OP_CREATE;
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
		case 'n': c.files = (unsigned)atoi(optarg); break;
		case 'P': c.pid = (pid_t)atoi(optarg); break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (!c.daemon && !c.socket)
		c.daemon = getenv("VFE_VIRTIOFSD");
	if ((!c.daemon && !c.socket) || !c.queues || c.queues + 1 > VFE_MAX_VQS ||
	    !c.depth || c.depth > 1024 || !c.size || c.size > (1u << 20) ||
	    c.file_size < c.size || !c.files ||
	    (c.op == OP_READDIRPLUS && c.size > 65536)) {
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
		/* One slot more than the depth: create's BATCH_FORGET. */
		r = vfe_fuse_client_init(&ws[q].f, &dev, c.depth + 1, c.size + 4096);
		ws[q].f.default_queue = q + 1;
	}
	if (!r)
		r = vfe_fuse_init(&ws[0].f);
	if (!r && (c.op == OP_READ || c.op == OP_WRITE))
		r = prepare_file(ws, &c);
	if (!r && (c.op == OP_LOOKUP || c.op == OP_READDIRPLUS ||
		   c.op == OP_CREATE))
		r = prepare_dir(ws, &c);
	if (r) {
		fprintf(stderr, "setup: %d: %s\n", r, vfe_msg_last_error());
		vfe_daemon_kill(&d);
		return 1;
	}
	if (!c.pid && !c.socket)
		c.pid = d.pid;
	if (c.pid)
		cpu0 = vfe_proc_cpu_ticks(c.pid);
	t0 = now_us();
	for (unsigned q = 0; q < c.queues; q++)
		pthread_create(&ws[q].tid, NULL, run_worker, &ws[q]);
	for (unsigned q = 0; q < c.queues; q++)
		pthread_join(ws[q].tid, NULL);
	t1 = now_us();
	if (c.pid)
		cpu1 = vfe_proc_cpu_ticks(c.pid);
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
		static const char *names[] = { "getattr", "read", "write",
					       "lookup", "readdirplus", "create" };
		double cpu_s = cpu0 >= 0 && cpu1 >= cpu0 ?
			(double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) : -1;

		printf("op=%s size=%u queues=%u depth=%u seconds=%.2f ops=%llu "
		       "ops_per_s=%.0f MiB_per_s=%.1f lat_p50_us=%u lat_p99_us=%u errors=%llu\n",
		       names[c.op], c.size, c.queues, c.depth, secs,
		       (unsigned long long)ops, (double)ops / secs,
		       (double)bytes / secs / (1 << 20),
		       nall ? all[nall / 2] : 0, nall ? all[nall * 99 / 100] : 0,
		       (unsigned long long)errors);
		if (cpu_s >= 0)
			printf("daemon_cpu_s=%.2f cpu_us_per_op=%.2f\n", cpu_s,
			       ops ? cpu_s * 1e6 / (double)ops : 0.0);
	}
	if (!ops)
		ret = 1;
	for (unsigned q = 0; q < c.queues; q++) {
		vfe_fuse_client_destroy(&ws[q].f);
		free(ws[q].lat_us);
		free(ws[q].dfh);
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
		vfe_rm_tree(tmpl);
	}
	return ret;
}
