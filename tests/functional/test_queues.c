/*
 * test_queues.c - several request queues at once, many requests in flight,
 * the GET_VRING_BASE drain (every popped request completed and pushed
 * before the reply, no guest-memory write after it), stop/restart cycles,
 * the worker pool's hand-over under a mixed load (pool_mixed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((i * 31 + seed * 7) ^ (i >> 11));
}

static bool host_equals(struct vfe_env *e, const char *name, const char *buf,
			size_t len)
{
	char *got = malloc(len + 1);
	int fd = open(vfe_shared_path(e, name), O_RDONLY);
	size_t n = 0;
	ssize_t r;
	bool ok;

	CHECK(got);
	CHECKF(fd >= 0, "open %s: %s", name, strerror(errno));
	while (n <= len && (r = read(fd, got + n, len + 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	ok = n == len && !memcmp(got, buf, len);
	free(got);
	return ok;
}

/* WRITE request description for the async API. */
struct wreq {
	struct fuse_write_in wi;
	struct fuse_write_out wo;
	struct vfe_fuse_call c;
	struct vfe_fuse_req *r;
	char *data;
	char name[32];
	uint64_t nodeid;
};

static void prep_write(struct vfe_env *e, struct wreq *w, unsigned queue,
		       unsigned i, size_t len)
{
	struct fuse_entry_out ent;
	struct fuse_open_out op;

	snprintf(w->name, sizeof(w->name), "q%u-file%u", queue, i);
	CHECK_OK(vfe_fuse_create(&e->f, ROOT, w->name, O_RDWR | O_CREAT,
				 S_IFREG | 0644, &ent, &op));
	w->nodeid = ent.nodeid;
	w->data = malloc(len);
	CHECK(w->data);
	fill(w->data, len, queue * 100 + i);
	w->wi = (struct fuse_write_in){ .fh = op.fh, .size = (uint32_t)len };
	w->c = (struct vfe_fuse_call){
		.opcode = FUSE_WRITE, .nodeid = ent.nodeid, .queue = queue,
		.in = { { &w->wi, sizeof(w->wi) } }, .nin = 1,
		.wdata = w->data, .wlen = len,
		.out = &w->wo, .out_cap = sizeof(w->wo), .flags = VFE_NOKICK,
	};
}

static void t_two_queues_concurrent(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .nvqs = 3, .ram_size = 256ull << 20 },
		.daemon = { .thread_pool_size = 4 },
		.nslots = 40, .data_cap = 256 * 1024,
	};
	enum { PER_Q = 16, LEN = 200 * 1024 };
	static struct wreq w[2][PER_Q];
	unsigned done[2] = { 0, 0 };
	int err;

	vfe_env_up(&e, &o);
	CHECKF(e.dev.queue_num >= 3, "GET_QUEUE_NUM %llu: two request queues unsupported",
	       (unsigned long long)e.dev.queue_num);
	for (unsigned q = 0; q < 2; q++)
		for (unsigned i = 0; i < PER_Q; i++)
			prep_write(&e, &w[q][i], q + 1, i, LEN);
	/* All 32 in flight on queues 1 and 2, then one kick each. */
	for (unsigned i = 0; i < PER_Q; i++) {
		for (unsigned q = 0; q < 2; q++) {
			w[q][i].r = vfe_fuse_submit(&e.f, &w[q][i].c, &err);
			CHECKF(w[q][i].r, "submit: %s", vfe_errname(err));
		}
	}
	vfe_fuse_kick(&e.f, 1);
	vfe_fuse_kick(&e.f, 2);
	while (done[0] + done[1] < 2 * PER_Q) {
		for (unsigned q = 0; q < 2; q++) {
			struct vfe_fuse_req *r;

			if (done[q] == PER_Q)
				continue;
			if (vfe_fuse_poll(&e.f, q + 1, 50, &r) == 0 && r) {
				bool found = false;

				for (unsigned i = 0; i < PER_Q; i++) {
					if (w[q][i].r != r)
						continue;
					found = true;
					CHECK_OK(vfe_fuse_result(&e.f, r, &w[q][i].c));
					CHECK_EQ(w[q][i].wo.size, LEN);
				}
				CHECKF(found, "queue %u completed a request it was not given",
				       q + 1);
				vfe_fuse_put(&e.f, r);
				done[q]++;
			}
		}
		CHECKF(vfe_daemon_alive(&e.d), "daemon died");
	}
	for (unsigned q = 0; q < 2; q++)
		for (unsigned i = 0; i < PER_Q; i++) {
			CHECKF(host_equals(&e, w[q][i].name, w[q][i].data, LEN),
			       "host file %s differs", w[q][i].name);
			free(w[q][i].data);
		}
	/* Both queues saw their share. */
	CHECK_EQ(vfe_vring_used_idx(&e.dev.vq[2]), e.dev.vq[2].avail_idx);
	vfe_env_down(&e);
}

/* Many requests in flight on one queue, completed possibly out of order. */
static void t_many_in_flight(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .queue_size = 256 },
		.daemon = { .thread_pool_size = 8 },
		.nslots = 128, .data_cap = 8192,
	};
	enum { N = 128 };
	static struct fuse_entry_out ent[N];
	static struct vfe_fuse_call c[N];
	static char names[N][16];
	struct vfe_fuse_req *r[N];
	unsigned got = 0;
	int err;

	vfe_env_up(&e, &o);
	for (unsigned i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "n%03u", i);
		c[i] = (struct vfe_fuse_call){
			.opcode = FUSE_MKDIR, .nodeid = ROOT, .queue = 1,
			.out = &ent[i], .out_cap = sizeof(ent[i]),
			.flags = VFE_NOKICK,
		};
	}
	for (unsigned i = 0; i < N; i++) {
		static struct fuse_mkdir_in mi = { .mode = S_IFDIR | 0755 };

		c[i].in[0] = (struct iovec){ &mi, sizeof(mi) };
		c[i].in[1] = (struct iovec){ names[i], strlen(names[i]) + 1 };
		c[i].nin = 2;
		r[i] = vfe_fuse_submit(&e.f, &c[i], &err);
		CHECKF(r[i], "submit %u: %s", i, vfe_errname(err));
	}
	vfe_fuse_kick(&e.f, 1);
	while (got < N) {
		struct vfe_fuse_req *d;
		int x = vfe_fuse_poll(&e.f, 1, 10000, &d);

		CHECKF(x == 0, "after %u of %u: %s (%s)", got, N, vfe_errname(x),
		       vfe_msg_last_error());
		for (unsigned i = 0; i < N; i++) {
			if (r[i] != d)
				continue;
			CHECK_OK(vfe_fuse_result(&e.f, d, &c[i]));
			CHECKF(S_ISDIR(ent[i].attr.mode), "reply %u is not a dir entry", i);
			vfe_fuse_put(&e.f, d);
			r[i] = NULL;
			got++;
		}
	}
	for (unsigned i = 0; i < N; i++) {
		struct stat st;

		CHECK_EQ(lstat(vfe_shared_path(&e, names[i]), &st), 0);
		CHECK_EQ(ent[i].attr.ino, st.st_ino);
	}
	vfe_env_down(&e);
}

/* Snapshot of everything the device may write on a ring. */
struct snap {
	uint8_t used[8 * 1024 + 8];
	uint8_t *replies;
	size_t rep_len;
};

static void take_snap(struct vfe_env *e, unsigned q, struct snap *s)
{
	struct vfe_vring *vr = &e->dev.vq[q];
	size_t used_len = 6 + 8 * (size_t)vr->num;

	CHECK(used_len <= sizeof(s->used));
	memcpy(s->used, vr->used, used_len);
	s->rep_len = (size_t)e->f.nslots * VFE_REP_CAP;
	if (!s->replies)
		s->replies = malloc(s->rep_len);
	CHECK(s->replies);
	for (unsigned i = 0; i < e->f.nslots; i++)
		CHECK_OK(vfe_mem_read(&e->dev.mem, e->f.slots[i].rep_gpa,
				      s->replies + (size_t)i * VFE_REP_CAP,
				      VFE_REP_CAP));
}

static bool same_snap(struct vfe_env *e, unsigned q, const struct snap *a,
		      const struct snap *b)
{
	size_t used_len = 6 + 8 * (size_t)e->dev.vq[q].num;

	return !memcmp(a->used, b->used, used_len) &&
	       !memcmp(a->replies, b->replies, a->rep_len);
}

/*
 * GET_VRING_BASE with requests in flight: when the reply arrives, every
 * request the daemon popped (the returned index) is in the used ring, and
 * nothing is written afterwards; the rest runs after the restart.
 */
static void t_get_vring_base_drains(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .queue_size = 128, .ram_size = 256ull << 20 },
		.daemon = { .thread_pool_size = 8 },
		.nslots = 48, .data_cap = 1 << 20,
	};
	enum { N = 48, LEN = 1 << 20 };
	static struct wreq w[N];
	static struct snap s1, s2;
	uint16_t base = 0, used_before, used_after;
	unsigned got = 0, max_pending = 0;
	int err;

	vfe_env_up(&e, &o);
	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < N; i++) {
			if (round == 0)
				prep_write(&e, &w[i], 1, i, LEN);
			w[i].r = vfe_fuse_submit(&e.f, &w[i].c, &err);
			CHECKF(w[i].r, "submit: %s", vfe_errname(err));
		}
		used_before = vfe_vring_used_idx(&e.dev.vq[1]);
		vfe_fuse_kick(&e.f, 1);
		/* Give the daemon a moment to pop some, not all. */
		usleep(round * 1000);
		CHECK_OK(vfe_dev_enable_ring(&e.dev, 1, false));
		CHECK_OK(vfe_dev_get_vring_base(&e.dev, 1, &base));
		used_after = vfe_vring_used_idx(&e.dev.vq[1]);
		vfe_note("round %d: avail %u, used before stop %u, base %u, used after %u",
			 round, e.dev.vq[1].avail_idx, used_before, base, used_after);
		if ((uint16_t)(base - used_before) > max_pending)
			max_pending = (uint16_t)(base - used_before);
		CHECKF(used_after == base,
		       "GET_VRING_BASE returned %u but used->idx is %u: popped requests not completed before the reply",
		       base, used_after);
		CHECKF((uint16_t)(e.dev.vq[1].avail_idx - base) <= N,
		       "base %u beyond avail %u", base, e.dev.vq[1].avail_idx);
		/* Nothing is written after the reply, even with a kick. */
		take_snap(&e, 1, &s1);
		{
			uint64_t one = 1;

			CHECK_EQ(write(e.dev.vq[1].kick_fd, &one, 8), 8);
		}
		usleep(300 * 1000);
		take_snap(&e, 1, &s2);
		CHECKF(same_snap(&e, 1, &s1, &s2),
		       "guest memory (used ring or reply buffers) changed after GET_VRING_BASE");
		/* Restart at base: the unpopped requests complete now. */
		CHECK_OK(vfe_dev_setup_ring(&e.dev, 1));
		CHECK_OK(vfe_dev_enable_ring(&e.dev, 1, true));
		vfe_fuse_kick(&e.f, 1);
		got = 0;
		while (got < N) {
			struct vfe_fuse_req *d;
			int x = vfe_fuse_poll(&e.f, 1, 10000, &d);

			CHECKF(x == 0, "after restart, %u of %u completed: %s (%s)",
			       got, N, vfe_errname(x), vfe_msg_last_error());
			for (unsigned i = 0; i < N; i++) {
				if (w[i].r != d)
					continue;
				CHECK_OK(vfe_fuse_result(&e.f, d, &w[i].c));
				CHECK_EQ(w[i].wo.size, LEN);
				vfe_fuse_put(&e.f, d);
				w[i].r = NULL;
				got++;
			}
		}
		CHECK_EQ(vfe_vring_used_idx(&e.dev.vq[1]), e.dev.vq[1].avail_idx);
	}
	vfe_note("at most %u requests were completed during a GET_VRING_BASE",
		 max_pending);
	for (unsigned i = 0; i < N; i++) {
		CHECKF(host_equals(&e, w[i].name, w[i].data, LEN),
		       "host file %s differs", w[i].name);
		free(w[i].data);
	}
	free(s1.replies);
	free(s2.replies);
	vfe_env_down(&e);
}

/* Stop and restart many times: node ids and handles survive. */
static void t_stop_restart_cycles(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent, again;
	struct fuse_open_out op;
	struct fuse_attr_out a;
	uint16_t base[VFE_MAX_VQS];
	char buf[16];
	size_t n = 0;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_create(&e.f, ROOT, "keep", O_RDWR | O_CREAT,
				 S_IFREG | 0644, &ent, &op));
	CHECK_OK(vfe_fuse_write(&e.f, ent.nodeid, op.fh, 0, "persist", 7, &n));
	for (int i = 0; i < 20; i++) {
		CHECK_OK(vfe_dev_stop(&e.dev, base));
		CHECK_EQ(base[1], e.dev.vq[1].avail_idx);
		CHECK_EQ(base[0], e.dev.vq[0].avail_idx);
		CHECK_OK(vfe_dev_start(&e.dev));
		CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "keep", &again));
		CHECK_EQ(again.nodeid, ent.nodeid);
		CHECK_OK(vfe_fuse_getattr(&e.f, ent.nodeid, true, op.fh, &a));
		CHECK_EQ(a.attr.size, 7);
		memset(buf, 0, sizeof(buf));
		CHECK_OK(vfe_fuse_read(&e.f, ent.nodeid, op.fh, 0, buf, 7, &n));
		CHECK_EQ(n, 7);
		CHECK(!memcmp(buf, "persist", 7));
		if (i % 5 == 4)
			CHECK_OK(vfe_fuse_forget(&e.f, ent.nodeid, 1));
	}
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, O_RDWR));
	vfe_env_down(&e);
}

/* The front-end disappears with requests in flight: a clean exit. */
static void t_disconnect_in_flight(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .ram_size = 256ull << 20 },
		.daemon = { .thread_pool_size = 4 },
		.nslots = 32, .data_cap = 1 << 20,
	};
	static struct wreq w[32];
	int err;

	vfe_env_up(&e, &o);
	for (unsigned i = 0; i < 32; i++)
		prep_write(&e, &w[i], 1, i, 1 << 20);
	for (unsigned i = 0; i < 32; i++) {
		w[i].r = vfe_fuse_submit(&e.f, &w[i].c, &err);
		CHECKF(w[i].r, "submit: %s", vfe_errname(err));
	}
	vfe_fuse_kick(&e.f, 1);
	/* Close right away; env_down checks exit status 0 within 5 s. */
	vfe_env_down(&e);
	for (unsigned i = 0; i < 32; i++)
		free(w[i].data);
}

/*
 * Pool hand-over under a mixed load: pools of 1, 2 and 4 workers, 1 and 4
 * request rings, MIX_PER_RING requests in flight on each ring.  READ,
 * WRITE, FSYNC and MKDIR go to the pool, GETATTR and LOOKUP run in the
 * ring thread.  Every request is answered exactly once with its own reply
 * (a used id not in flight or a second answer fails the harvest), every
 * completion is notified (the front-end sleeps on the call eventfds only:
 * a completion left without a notification times out), and GET_VRING_BASE
 * on every ring while the pool is busy returns only when each ring's
 * popped requests are all on its used ring, after which nothing moves.
 */
enum { MIX_PER_RING = 48, MIX_STATIC = 64 * 1024, MIX_WLEN = 8192,
       MIX_MAX_RINGS = 4 };

enum mix_kind { MIX_READ, MIX_WRITE, MIX_GETATTR, MIX_FSYNC, MIX_LOOKUP,
		MIX_MKDIR, MIX_KINDS };

struct mix_file {
	char name[16];
	uint64_t nodeid, fh, ino;
	char data[MIX_STATIC];
};

struct mix_req {
	struct vfe_fuse_call c;
	struct vfe_fuse_req *r;
	unsigned ring, kind, answers;
	uint64_t off;
	union {
		struct fuse_read_in ri;
		struct fuse_write_in wi;
		struct fuse_getattr_in gi;
		struct fuse_fsync_in fi;
		struct fuse_mkdir_in mi;
	} in;
	union {
		struct fuse_attr_out ao;
		struct fuse_entry_out eo;
		struct fuse_write_out wo;
	} out;
	char name[32];
	char buf[MIX_WLEN];
};

/* Request i of wave w on ring q (1-based) into m. */
static void mix_prep(struct mix_req *m, struct mix_file *mf, unsigned q,
		     unsigned w, unsigned i, bool writes_only)
{
	memset(m, 0, sizeof(*m));
	m->ring = q;
	m->kind = writes_only ? MIX_WRITE : i % MIX_KINDS;
	m->c = (struct vfe_fuse_call){ .nodeid = mf->nodeid, .queue = q,
				       .flags = VFE_NOKICK };
	switch (m->kind) {
	case MIX_READ:
		m->off = (uint64_t)(i * 4096) % MIX_STATIC;
		m->in.ri = (struct fuse_read_in){ .fh = mf->fh, .offset = m->off,
						  .size = 4096 };
		m->c.opcode = FUSE_READ;
		m->c.in[0] = (struct iovec){ &m->in.ri, sizeof(m->in.ri) };
		m->c.rdata = m->buf;
		m->c.rlen = 4096;
		break;
	case MIX_WRITE:
		m->off = MIX_STATIC + (uint64_t)(w * MIX_PER_RING + i) * MIX_WLEN;
		fill(m->buf, MIX_WLEN, q * 1000 + w * MIX_PER_RING + i);
		m->in.wi = (struct fuse_write_in){ .fh = mf->fh, .offset = m->off,
						   .size = MIX_WLEN };
		m->c.opcode = FUSE_WRITE;
		m->c.in[0] = (struct iovec){ &m->in.wi, sizeof(m->in.wi) };
		m->c.wdata = m->buf;
		m->c.wlen = MIX_WLEN;
		m->c.out = &m->out.wo;
		m->c.out_cap = sizeof(m->out.wo);
		break;
	case MIX_GETATTR:
		m->in.gi = (struct fuse_getattr_in){
			.getattr_flags = FUSE_GETATTR_FH, .fh = mf->fh };
		m->c.opcode = FUSE_GETATTR;
		m->c.in[0] = (struct iovec){ &m->in.gi, sizeof(m->in.gi) };
		m->c.out = &m->out.ao;
		m->c.out_cap = sizeof(m->out.ao);
		break;
	case MIX_FSYNC:
		m->in.fi = (struct fuse_fsync_in){ .fh = mf->fh, .fsync_flags = 1 };
		m->c.opcode = FUSE_FSYNC;
		m->c.in[0] = (struct iovec){ &m->in.fi, sizeof(m->in.fi) };
		break;
	case MIX_LOOKUP:
		m->c.opcode = FUSE_LOOKUP;
		m->c.nodeid = ROOT;
		m->c.in[0] = (struct iovec){ mf->name, strlen(mf->name) + 1 };
		m->c.out = &m->out.eo;
		m->c.out_cap = sizeof(m->out.eo);
		break;
	default:
		snprintf(m->name, sizeof(m->name), "%s-d%u-%u", mf->name, w, i);
		m->in.mi = (struct fuse_mkdir_in){ .mode = S_IFDIR | 0755 };
		m->c.opcode = FUSE_MKDIR;
		m->c.nodeid = ROOT;
		m->c.in[0] = (struct iovec){ &m->in.mi, sizeof(m->in.mi) };
		m->c.in[1] = (struct iovec){ m->name, strlen(m->name) + 1 };
		m->c.out = &m->out.eo;
		m->c.out_cap = sizeof(m->out.eo);
		break;
	}
	m->c.nin = m->kind == MIX_MKDIR ? 2 : 1;
}

/* Check the reply of m (finished as d) against what it asked. */
static void mix_check(struct vfe_env *e, struct mix_req *m,
		      struct mix_file *mf, struct vfe_fuse_req *d)
{
	CHECKF(m->answers++ == 0, "ring %u: a request (opcode %u) answered twice",
	       m->ring, m->c.opcode);
	CHECK_OK(vfe_fuse_result(&e->f, d, &m->c));
	switch (m->kind) {
	case MIX_READ:
		CHECK_EQ(m->c.rgot, 4096);
		CHECKF(!memcmp(m->buf, mf->data + m->off, 4096),
		       "ring %u: READ at %llu returned other bytes", m->ring,
		       (unsigned long long)m->off);
		break;
	case MIX_WRITE:
		CHECK_EQ(m->out.wo.size, MIX_WLEN);
		break;
	case MIX_GETATTR:
		CHECK_EQ(m->out.ao.attr.ino, mf->ino);
		break;
	case MIX_LOOKUP:
		CHECK_EQ(m->out.eo.nodeid, mf->nodeid);
		break;
	case MIX_MKDIR:
		CHECKF(S_ISDIR(m->out.eo.attr.mode), "MKDIR %s: not a directory",
		       m->name);
		break;
	default:
		break;
	}
	vfe_fuse_put(&e->f, d);
	m->r = NULL;
}

/*
 * Collect the n requests of reqs (rings 1..nrings), waking only on call
 * notifications: arm every ring, take what is on the used rings, and only
 * when nothing is, sleep on the call eventfds.
 */
static void mix_collect(struct vfe_env *e, struct mix_req *reqs, unsigned n,
			struct mix_file *files, unsigned nrings)
{
	unsigned got = 0;

	while (got < n) {
		struct pollfd pfd[MIX_MAX_RINGS];
		unsigned took = 0;
		int x;

		for (unsigned q = 1; q <= nrings; q++)
			vfe_vring_arm(&e->dev.vq[q]);
		for (unsigned q = 1; q <= nrings; q++) {
			struct vfe_fuse_req *d;

			while ((x = vfe_fuse_reap(&e->f, q, &d)) == 0) {
				bool found = false;

				for (unsigned i = 0; i < n && !found; i++) {
					if (reqs[i].r != d)
						continue;
					CHECKF(reqs[i].ring == q,
					       "ring %u completed a request of ring %u",
					       q, reqs[i].ring);
					mix_check(e, &reqs[i], &files[q - 1], d);
					found = true;
				}
				CHECKF(found, "ring %u completed a request it was not given", q);
				took++;
			}
			CHECKF(x == -EAGAIN, "ring %u: %s (%s)", q, vfe_errname(x),
			       vfe_msg_last_error());
		}
		got += took;
		if (took || got == n)
			continue;
		for (unsigned q = 1; q <= nrings; q++)
			pfd[q - 1] = (struct pollfd){ .fd = e->dev.vq[q].call_fd,
						      .events = POLLIN };
		x = poll(pfd, nrings, 10000);
		if (x == 0) {
			for (unsigned q = 1; q <= nrings; q++)
				CHECKF(!vfe_vring_has_used(&e->dev.vq[q]),
				       "ring %u: completions on the used ring but no notification in 10 s",
				       q);
			CHECKF(false, "%u of %u requests unanswered after 10 s", n - got, n);
		}
		CHECK(x > 0);
		for (unsigned q = 1; q <= nrings; q++)
			vfe_vring_drain_call(&e->dev.vq[q]);
		CHECKF(vfe_daemon_alive(&e->d), "daemon died");
	}
}

/* Submit requests [0, n) of reqs and kick their rings. */
static void mix_submit(struct vfe_env *e, struct mix_req *reqs, unsigned n,
		       unsigned nrings)
{
	int err;

	for (unsigned i = 0; i < n; i++) {
		reqs[i].r = vfe_fuse_submit(&e->f, &reqs[i].c, &err);
		CHECKF(reqs[i].r, "submit %u: %s", i, vfe_errname(err));
	}
	for (unsigned q = 1; q <= nrings; q++)
		vfe_fuse_kick(&e->f, q);
}

static void pool_mixed_one(unsigned pool, unsigned nrings)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .nvqs = nrings + 1, .queue_size = 256,
			 .ram_size = 256ull << 20 },
		.daemon = { .thread_pool_size = pool },
		.nslots = nrings * MIX_PER_RING, .data_cap = MIX_WLEN,
	};
	static struct mix_file files[MIX_MAX_RINGS];
	static struct mix_req reqs[MIX_MAX_RINGS * MIX_PER_RING];
	static struct mix_req wr[3][MIX_MAX_RINGS * MIX_PER_RING];
	const unsigned n = nrings * MIX_PER_RING;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	uint16_t base[MIX_MAX_RINGS + 1];
	size_t wn = 0;

	vfe_env_up(&e, &o);
	CHECKF(e.dev.queue_num >= nrings + 1, "GET_QUEUE_NUM %llu: %u request queues unsupported",
	       (unsigned long long)e.dev.queue_num, nrings);
	for (unsigned q = 1; q <= nrings; q++) {
		struct mix_file *mf = &files[q - 1];

		/* Names of their own: the cases share a directory. */
		snprintf(mf->name, sizeof(mf->name), "mix%u-%u-%u", pool,
			 nrings, q);
		CHECK_OK(vfe_fuse_create(&e.f, ROOT, mf->name, O_RDWR | O_CREAT,
					 S_IFREG | 0644, &ent, &op));
		mf->nodeid = ent.nodeid;
		mf->ino = ent.attr.ino;
		mf->fh = op.fh;
		fill(mf->data, MIX_STATIC, q);
		for (size_t off = 0; off < MIX_STATIC; off += 4096) {
			CHECK_OK(vfe_fuse_write(&e.f, mf->nodeid, mf->fh, off,
						mf->data + off, 4096, &wn));
			CHECK_EQ(wn, 4096);
		}
	}

	/* Mixed waves, every request answered once and notified. */
	for (unsigned w = 0; w < 3; w++) {
		for (unsigned q = 1; q <= nrings; q++)
			for (unsigned i = 0; i < MIX_PER_RING; i++)
				mix_prep(&reqs[(q - 1) * MIX_PER_RING + i],
					 &files[q - 1], q, w, i, false);
		mix_submit(&e, reqs, n, nrings);
		mix_collect(&e, reqs, n, files, nrings);
		for (unsigned q = 1; q <= nrings; q++)
			CHECK_EQ(vfe_vring_used_idx(&e.dev.vq[q]),
				 e.dev.vq[q].avail_idx);
	}

	/* GET_VRING_BASE on every ring with the pool busy with writes. */
	for (unsigned w = 0; w < 3; w++) {
		struct mix_req *b = wr[w];

		for (unsigned q = 1; q <= nrings; q++)
			for (unsigned i = 0; i < MIX_PER_RING; i++)
				mix_prep(&b[(q - 1) * MIX_PER_RING + i],
					 &files[q - 1], q, 3 + w, i, true);
		mix_submit(&e, b, n, nrings);
		usleep(w * 500);
		for (unsigned q = 1; q <= nrings; q++) {
			uint16_t used;

			CHECK_OK(vfe_dev_enable_ring(&e.dev, q, false));
			CHECK_OK(vfe_dev_get_vring_base(&e.dev, q, &base[q]));
			used = vfe_vring_used_idx(&e.dev.vq[q]);
			CHECKF(used == base[q],
			       "pool %u, ring %u: GET_VRING_BASE returned %u but used->idx is %u",
			       pool, q, base[q], used);
		}
		usleep(100 * 1000);
		for (unsigned q = 1; q <= nrings; q++)
			CHECKF(vfe_vring_used_idx(&e.dev.vq[q]) == base[q],
			       "ring %u: used->idx moved after GET_VRING_BASE", q);
		for (unsigned q = 1; q <= nrings; q++) {
			CHECK_OK(vfe_dev_setup_ring(&e.dev, q));
			CHECK_OK(vfe_dev_enable_ring(&e.dev, q, true));
			vfe_fuse_kick(&e.f, q);
		}
		mix_collect(&e, b, n, files, nrings);
		for (unsigned q = 1; q <= nrings; q++)
			CHECK_EQ(vfe_vring_used_idx(&e.dev.vq[q]),
				 e.dev.vq[q].avail_idx);
	}
	/* Every write reached the host at its place. */
	for (unsigned q = 1; q <= nrings; q++) {
		int fd = open(vfe_shared_path(&e, files[q - 1].name), O_RDONLY);
		char got[MIX_WLEN];

		CHECK(fd >= 0);
		for (unsigned w = 0; w < 3; w++)
			for (unsigned i = 0; i < MIX_PER_RING; i++) {
				const struct mix_req *m = &wr[w][(q - 1) * MIX_PER_RING + i];

				CHECK_EQ(pread(fd, got, MIX_WLEN, (off_t)m->off), MIX_WLEN);
				CHECKF(!memcmp(got, m->buf, MIX_WLEN),
				       "ring %u: write at %llu differs on the host", q,
				       (unsigned long long)m->off);
			}
		close(fd);
	}
	vfe_env_down(&e);
}

static void t_pool_mixed(void)
{
	static const unsigned pools[] = { 1, 2, 4 };

	for (unsigned p = 0; p < 3; p++)
		for (unsigned nrings = 1; nrings <= 4; nrings += 3) {
			vfe_note("pool %u, %u ring(s)", pools[p], nrings);
			pool_mixed_one(pools[p], nrings);
		}
}

static const struct vfe_test tests[] = {
	{ "two_queues_concurrent", t_two_queues_concurrent, 0 },
	{ "many_in_flight", t_many_in_flight, 0 },
	{ "get_vring_base_drains", t_get_vring_base_drains, 0 },
	{ "stop_restart_cycles", t_stop_restart_cycles, 0 },
	{ "disconnect_in_flight", t_disconnect_in_flight, 0 },
	{ "pool_mixed", t_pool_mixed, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
