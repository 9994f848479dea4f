/*
 * test_queues.c - several request queues at once, many requests in flight,
 * the GET_VRING_BASE drain (every popped request completed and pushed
 * before the reply, no guest-memory write after it), stop/restart cycles.
 */
#include <errno.h>
#include <fcntl.h>
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

static const struct vfe_test tests[] = {
	{ "two_queues_concurrent", t_two_queues_concurrent, 0 },
	{ "many_in_flight", t_many_in_flight, 0 },
	{ "get_vring_base_drains", t_get_vring_base_drains, 0 },
	{ "stop_restart_cycles", t_stop_restart_cycles, 0 },
	{ "disconnect_in_flight", t_disconnect_in_flight, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
