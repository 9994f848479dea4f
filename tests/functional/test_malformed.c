/*
 * test_malformed.c - hostile input from the front-end and from the guest.
 *
 * vhost-user level: unknown requests, bad sizes, missing or surplus fds,
 * bad vring indices and sizes, ring addresses outside guest memory.
 * Virtqueue level: descriptor loops, over-long chains, addresses outside
 * every region, nested indirect tables, zero-length and misordered
 * descriptors, out-of-range heads.  FUSE level: truncated headers, length
 * mismatches, reply buffers too small.  Memory table: overlapping and
 * huge regions, the ring's region removed under a running ring and added
 * back, a dirty log smaller than guest memory, regions changing while
 * dirty logging is on.
 *
 * In every case the daemon must survive and then serve a valid request;
 * where it chooses to drop the connection instead (protocol garbage), it
 * must exit on its own, without a signal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfe_test.h"

#define BIT(n) (1ull << (n))
#define ROOT FUSE_ROOT_ID

/* ---------- helpers: vhost-user level ---------- */

/* The daemon still answers the control plane and a FUSE request. */
static void check_serving(struct vfe_env *e)
{
	struct fuse_attr_out a;
	uint64_t f = 0;

	CHECKF(vfe_daemon_alive(&e->d), "daemon died");
	CHECK_OK(vfe_msg_get_u64(e->dev.sock, VU_GET_FEATURES, &f, 5000));
	CHECK_EQ(f, e->dev.features);
	if (e->have_fuse && e->dev.started)
		CHECK_OK(vfe_fuse_getattr(&e->f, ROOT, false, 0, &a));
}

/* The daemon closed the connection: it must exit by itself, no signal. */
static void check_clean_close(struct vfe_env *e, const char *what)
{
	char b[80];
	int st = 0;

	CHECKF(vfe_daemon_wait(&e->d, 5000, &st) == 0,
	       "%s: daemon closed the connection but did not exit", what);
	CHECKF(WIFEXITED(st), "%s: daemon ended with %s", what,
	       vfe_status_str(st, b, sizeof(b)));
	vfe_note("%s: daemon closed the connection, %s", what,
		 vfe_status_str(st, b, sizeof(b)));
}

enum outcome { REFUSED, CLOSED };

/*
 * After a bad message sent with need_reply: either a well-formed error
 * reply (ack != 0) or a closed connection.  Returns which.
 */
static enum outcome expect_refusal(struct vfe_env *e, uint32_t req,
				   const char *what)
{
	struct vu_msg m;
	int fds[VU_MAX_FDS];
	unsigned nfds = 0;
	int r = vfe_msg_recv(e->dev.sock, &m, fds, &nfds, 3000);

	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (r == -ECONNRESET) {
		check_clean_close(e, what);
		return CLOSED;
	}
	CHECKF(r == 0, "%s: no reply to a need_reply message: %s", what,
	       vfe_errname(r));
	CHECKF(m.hdr.flags == VU_REPLY_FLAGS, "%s: reply flags 0x%x", what,
	       m.hdr.flags);
	CHECKF(m.hdr.request == req, "%s: reply for request %u, sent %u", what,
	       m.hdr.request, req);
	CHECKF(m.hdr.size == 8, "%s: reply size %u", what, m.hdr.size);
	CHECKF(m.p.u64 != 0, "%s: the back-end acked it as success", what);
	return REFUSED;
}

/* Open fds of the daemon (from /proc).  With the namespace sandbox the
 * process we started only waits: the daemon is its child. */
static int count_fds(struct vfe_env *e)
{
	char path[64];
	struct dirent *de;
	FILE *f;
	DIR *d;
	int n = 0, pid = (int)e->d.pid, child;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &child) == 1)
			pid = child;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A device up to INIT with REPLY_ACK. */
static void up(struct vfe_env *e, struct vfe_env_opts *o)
{
	vfe_env_up(e, o);
	CHECKF(vfe_dev_reply_ack(&e->dev), "REPLY_ACK not negotiated");
}

/* ---------- vhost-user level cases ---------- */

static void t_unknown_request(void)
{
	struct vfe_env e;
	enum outcome oc;

	up(&e, NULL);
	CHECK_OK(vfe_msg_send(e.dev.sock, 999, VU_FLAG_NEED_REPLY, NULL, 0,
			      NULL, 0));
	oc = expect_refusal(&e, 999, "unknown request 999");
	CHECKF(oc == REFUSED, "the daemon dropped the connection on an unknown request");
	check_serving(&e);
	/* With a payload, and a request id that QEMU knows but we never
	 * negotiated (SET_STATUS). */
	{
		uint64_t v = 0xf;

		CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_STATUS, VU_FLAG_NEED_REPLY,
				      &v, 8, NULL, 0));
		oc = expect_refusal(&e, VU_SET_STATUS, "SET_STATUS not negotiated");
		CHECK(oc == REFUSED);
	}
	check_serving(&e);
	/* Without need_reply: silently refused, no stray reply. */
	CHECK_OK(vfe_msg_send(e.dev.sock, 1234, 0, NULL, 0, NULL, 0));
	check_serving(&e);
	vfe_env_down(&e);
}

/* A header whose size is beyond any payload: the daemon may only close. */
static void t_oversized_size(void)
{
	struct vfe_env e;
	struct vu_hdr h = { .request = VU_GET_FEATURES, .flags = VU_VERSION,
			    .size = 0x10000000 };
	uint8_t junk[512];
	int r;

	up(&e, NULL);
	memset(junk, 0x5a, sizeof(junk));
	CHECK_OK(vfe_msg_send_raw(e.dev.sock, &h, sizeof(h), NULL, 0));
	(void)vfe_msg_send_raw(e.dev.sock, junk, sizeof(junk), NULL, 0);
	r = vfe_msg_wait_eof(e.dev.sock, 3000);
	if (r == 0) {
		check_clean_close(&e, "size 0x10000000");
	} else {
		/* Still reading?  Then our close must end it cleanly. */
		CHECKF(vfe_daemon_alive(&e.d), "daemon died");
		vfe_note("daemon kept the connection open after an oversized size");
		close(e.dev.sock);
		e.dev.sock = -1;
		check_clean_close(&e, "close after oversized size");
	}
	e.have_dev = false;
	vfe_dev_destroy(&e.dev);
}

/* A payload shorter than the request needs. */
static void t_truncated_payload(void)
{
	struct vfe_env e;
	struct vu_vring_state st = { .index = 1, .num = 64 };
	struct vu_vring_addr a = { .index = 1 };
	enum outcome oc;

	up(&e, NULL);
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY,
			      &st, 4, NULL, 0));
	oc = expect_refusal(&e, VU_SET_VRING_NUM, "SET_VRING_NUM with 4 bytes");
	if (oc == CLOSED)
		return;
	check_serving(&e);
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_ADDR, VU_FLAG_NEED_REPLY,
			      &a, 24, NULL, 0));
	oc = expect_refusal(&e, VU_SET_VRING_ADDR, "SET_VRING_ADDR with 24 bytes");
	if (oc == CLOSED)
		return;
	check_serving(&e);
	/* Memory table claiming two regions, carrying one. */
	{
		struct vu_mem_table t = { .nregions = 2 };
		int fd = e.dev.mem.r[0].fd;

		t.regions[0] = vfe_mem_region_desc(&e.dev.mem, 0);
		CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_MEM_TABLE,
				      VU_FLAG_NEED_REPLY, &t, 8 + 32, &fd, 1));
		oc = expect_refusal(&e, VU_SET_MEM_TABLE, "SET_MEM_TABLE 2 regions / 1 entry");
		if (oc == CLOSED)
			return;
	}
	check_serving(&e);
	/* A header cut short, then the connection closed. */
	{
		struct vu_hdr h = { .request = VU_GET_FEATURES, .flags = 1, .size = 0 };

		CHECK_OK(vfe_msg_send_raw(e.dev.sock, &h, 7, NULL, 0));
		close(e.dev.sock);
		e.dev.sock = -1;
		check_clean_close(&e, "header of 7 bytes then EOF");
	}
	e.have_dev = false;
	vfe_dev_destroy(&e.dev);
}

/* Messages that need an fd arriving without one; surplus fds. */
static void t_missing_and_surplus_fd(void)
{
	struct vfe_env e;
	struct vu_mem_reg mr;
	struct vu_log l = { .mmap_size = 4096 };
	uint64_t v;
	enum outcome oc;
	int before, after;

	up(&e, NULL);
	/* ADD_MEM_REG without its fd. */
	CHECK(e.dev.acked_pfeatures & BIT(VU_PF_CONFIGURE_MEM_SLOTS));
	memset(&mr, 0, sizeof(mr));
	mr.region = (struct vu_region){ .guest_phys_addr = 0x40000000000ull,
					.memory_size = 1 << 20,
					.userspace_addr = 0x7000000000ull };
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_ADD_MEM_REG, VU_FLAG_NEED_REPLY,
			      &mr, sizeof(mr), NULL, 0));
	oc = expect_refusal(&e, VU_ADD_MEM_REG, "ADD_MEM_REG without fd");
	if (oc == CLOSED)
		return;
	check_serving(&e);

	/* SET_VRING_CALL without fd and without the NOFD bit. */
	v = 1;
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_CALL, VU_FLAG_NEED_REPLY,
			      &v, 8, NULL, 0));
	oc = expect_refusal(&e, VU_SET_VRING_CALL, "SET_VRING_CALL without fd");
	if (oc == CLOSED)
		return;
	/* The ring's call fd must still be the old one: restore it anyway. */
	v = 1;
	CHECK_OK(vfe_dev_set(&e.dev, VU_SET_VRING_CALL, false, &v, 8,
			     &e.dev.vq[1].call_fd, 1));
	check_serving(&e);

	/* SET_LOG_BASE without fd: an error reply (it always replies). */
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_LOG_BASE, 0, &l, sizeof(l),
			      NULL, 0));
	oc = expect_refusal(&e, VU_SET_LOG_BASE, "SET_LOG_BASE without fd");
	if (oc == CLOSED)
		return;
	check_serving(&e);

	/* Surplus fds on messages that take none must be closed. */
	before = count_fds(&e);
	CHECK(before > 0);
	for (int i = 0; i < 32; i++) {
		int fd = eventfd(0, EFD_CLOEXEC);
		uint64_t f = 0;

		CHECK(fd >= 0);
		CHECK_OK(vfe_msg_send(e.dev.sock, VU_GET_FEATURES, 0, NULL, 0,
				      &fd, 1));
		close(fd);
		CHECK_OK(vfe_msg_recv_reply(e.dev.sock, VU_GET_FEATURES, &f, 8,
					    5000));
	}
	/* REM_MEM_REG with an fd: "the back-end MUST close it". */
	{
		int idx = vfe_mem_add_region(&e.dev.mem, 0x900000000ull, 1 << 20, 0);

		CHECK(idx >= 0);
		CHECK_OK(vfe_dev_add_mem_reg(&e.dev, (unsigned)idx));
		memset(&mr, 0, sizeof(mr));
		mr.region = vfe_mem_region_desc(&e.dev.mem, (unsigned)idx);
		for (int i = 0; i < 8; i++) {
			int fd = eventfd(0, EFD_CLOEXEC);

			CHECK_OK(vfe_msg_send(e.dev.sock, VU_REM_MEM_REG,
					      VU_FLAG_NEED_REPLY, &mr, sizeof(mr),
					      &fd, 1));
			close(fd);
			/* The first succeeds, the others name an absent region. */
			CHECK_OK(vfe_msg_recv_reply(e.dev.sock, VU_REM_MEM_REG, &v,
						    8, 5000));
			if (i == 0)
				CHECK_EQ(v, 0);
		}
	}
	after = count_fds(&e);
	CHECKF(after <= before + 2, "daemon fds grew from %d to %d: surplus fds leak",
	       before, after);
	check_serving(&e);
	vfe_env_down(&e);
}

/* Vring indices and sizes out of range. */
static void t_bad_vring_index(void)
{
	struct vfe_env e;
	struct vu_vring_state st;
	struct vu_vring_addr a;
	uint64_t v;
	int fd;

	up(&e, NULL);
	st = (struct vu_vring_state){ .index = 200, .num = 64 };
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY,
			      &st, sizeof(st), NULL, 0));
	if (expect_refusal(&e, VU_SET_VRING_NUM, "SET_VRING_NUM index 200") == CLOSED)
		return;
	st = (struct vu_vring_state){ .index = 0x80000001u, .num = 1 };
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_ENABLE, VU_FLAG_NEED_REPLY,
			      &st, sizeof(st), NULL, 0));
	if (expect_refusal(&e, VU_SET_VRING_ENABLE, "SET_VRING_ENABLE index 0x80000001") == CLOSED)
		return;
	memset(&a, 0, sizeof(a));
	a.index = 77;
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_ADDR, VU_FLAG_NEED_REPLY,
			      &a, sizeof(a), NULL, 0));
	if (expect_refusal(&e, VU_SET_VRING_ADDR, "SET_VRING_ADDR index 77") == CLOSED)
		return;
	fd = eventfd(0, EFD_CLOEXEC);
	v = 0xff;
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_KICK, VU_FLAG_NEED_REPLY,
			      &v, 8, &fd, 1));
	close(fd);
	if (expect_refusal(&e, VU_SET_VRING_KICK, "SET_VRING_KICK index 255") == CLOSED)
		return;
	check_serving(&e);
	/* Sizes: 0, not a power of two, above 32768. */
	{
		const uint32_t bad[] = { 0, 100, 65536, 0xffffffffu };

		for (unsigned i = 0; i < 4; i++) {
			char what[64];

			snprintf(what, sizeof(what), "SET_VRING_NUM num %u", bad[i]);
			st = (struct vu_vring_state){ .index = 1, .num = bad[i] };
			CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_VRING_NUM,
					      VU_FLAG_NEED_REPLY, &st, sizeof(st),
					      NULL, 0));
			if (expect_refusal(&e, VU_SET_VRING_NUM, what) == CLOSED)
				return;
		}
	}
	/* GET_VRING_BASE of a ring that does not exist: an answer or a close. */
	st = (struct vu_vring_state){ .index = 250, .num = 0 };
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_GET_VRING_BASE, 0, &st, sizeof(st),
			      NULL, 0));
	{
		struct vu_msg m;
		int r = vfe_msg_recv(e.dev.sock, &m, NULL, NULL, 3000);

		if (r == -ECONNRESET) {
			check_clean_close(&e, "GET_VRING_BASE index 250");
			return;
		}
		CHECKF(r == 0, "GET_VRING_BASE index 250: no reply (%s)",
		       vfe_errname(r));
		CHECKF(m.hdr.flags == VU_REPLY_FLAGS && m.hdr.request == VU_GET_VRING_BASE,
		       "GET_VRING_BASE index 250: reply flags 0x%x request %u",
		       m.hdr.flags, m.hdr.request);
	}
	/* The real rings were untouched by all this. */
	check_serving(&e);
	vfe_env_down(&e);
}

/* Ring addresses that are not inside guest memory. */
static void t_ring_outside_memory(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .no_start = true };
	struct vu_vring_addr a;
	uint64_t ack = 0;
	uint64_t top;
	const struct vfe_region *r0;

	up(&e, &o);
	CHECK_OK(vfe_dev_set_features(&e.dev));
	CHECK_OK(vfe_dev_set_mem(&e.dev));
	r0 = &e.dev.mem.r[0];
	top = (uint64_t)(uintptr_t)r0->base + r0->size;
	CHECK_OK(vfe_dev_setup_ring(&e.dev, 0));

	/* Descriptor table nowhere; used ring straddling the region end;
	 * avail ring at the top of the address space. */
	for (int k = 0; k < 3; k++) {
		struct vu_vring_state st = { .index = 1, .num = e.dev.vq[1].num };
		uint64_t one = 1, idx = 1;

		/* NUM, BASE, bad ADDR, then KICK (which starts the ring). */
		CHECK_OK(vfe_dev_set(&e.dev, VU_SET_VRING_NUM, true, &st,
				     sizeof(st), NULL, 0));
		st.num = 0;
		CHECK_OK(vfe_dev_set(&e.dev, VU_SET_VRING_BASE, true, &st,
				     sizeof(st), NULL, 0));
		a = (struct vu_vring_addr){ .index = 1 };
		vfe_vring_user_addrs(&e.dev.vq[1], &a.desc_user_addr,
				     &a.avail_user_addr, &a.used_user_addr);
		if (k == 0)
			a.desc_user_addr = 0x10;
		else if (k == 1)
			a.used_user_addr = top - 16;
		else
			a.avail_user_addr = ~0ull - 8;
		CHECK_OK(vfe_msg_request(e.dev.sock, VU_SET_VRING_ADDR, true, &a,
					 sizeof(a), NULL, 0, &ack, 5000));
		vfe_note("SET_VRING_ADDR case %d acked 0x%llx", k,
			 (unsigned long long)ack);
		CHECK_OK(vfe_dev_set(&e.dev, VU_SET_VRING_KICK, false, &idx, 8,
				     &e.dev.vq[1].kick_fd, 1));
		CHECK_OK(vfe_dev_set(&e.dev, VU_SET_VRING_CALL, false, &idx, 8,
				     &e.dev.vq[1].call_fd, 1));
		/* Enable and kick it: nothing may be touched through it. */
		CHECK_OK(vfe_dev_enable_ring(&e.dev, 1, true));
		CHECK_OK(vfe_dev_enable_ring(&e.dev, 0, true));
		CHECK_EQ(write(e.dev.vq[1].kick_fd, &one, 8), 8);
		usleep(100 * 1000);
		CHECKF(vfe_daemon_alive(&e.d), "daemon died with a bad ring address");
		CHECK_OK(vfe_dev_enable_ring(&e.dev, 1, false));
		CHECK_OK(vfe_dev_get_vring_base(&e.dev, 1, NULL));
	}
	/* Now configure it properly: the ring works. */
	e.dev.base[1] = 0;
	CHECK_OK(vfe_dev_setup_ring(&e.dev, 1));
	CHECK_OK(vfe_dev_enable_ring(&e.dev, 1, true));
	e.dev.started = true;
	CHECK_OK(vfe_fuse_client_init(&e.f, &e.dev, 4, 1 << 16));
	e.have_fuse = true;
	CHECK_OK(vfe_fuse_init(&e.f));
	check_serving(&e);
	vfe_env_down(&e);
}

/* ---------- helpers: virtqueue level ---------- */

/* A valid GETATTR(root) request and a reply buffer in guest memory. */
struct raw_req {
	uint64_t req_gpa, rep_gpa;
	uint32_t req_len, rep_len;
	uint64_t unique;
};

static void make_getattr(struct vfe_env *e, struct raw_req *rr)
{
	struct {
		struct fuse_in_header h;
		struct fuse_getattr_in g;
	} __attribute__((packed)) req;

	memset(&req, 0, sizeof(req));
	rr->unique = 0x10000000ull + (uint64_t)rand();
	req.h.len = sizeof(req);
	req.h.opcode = FUSE_GETATTR;
	req.h.unique = rr->unique;
	req.h.nodeid = ROOT;
	rr->req_len = sizeof(req);
	rr->rep_len = sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out);
	CHECK_OK(vfe_mem_zalloc(&e->dev.mem, 4096, 4096, &rr->req_gpa));
	CHECK_OK(vfe_mem_zalloc(&e->dev.mem, 4096, 4096, &rr->rep_gpa));
	CHECK_OK(vfe_mem_write(&e->dev.mem, rr->req_gpa, &req, sizeof(req)));
}

/* Local descriptor spec: next is an index into the local array. */
struct rd {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/*
 * Write n descriptors into free slots of ring q (next fields translated to
 * the slot ids, or taken verbatim when raw_next), publish the first, kick.
 * Returns the head.
 */
static uint16_t submit_raw(struct vfe_env *e, unsigned q, const struct rd *d,
			   unsigned n, bool raw_next)
{
	struct vfe_vring *vr = &e->dev.vq[q];
	uint16_t ids[64];

	CHECK(n <= 64);
	CHECK_OK(vfe_vring_take(vr, n, ids));
	for (unsigned i = 0; i < n; i++) {
		vr->desc[ids[i]].addr = d[i].addr;
		vr->desc[ids[i]].len = d[i].len;
		vr->desc[ids[i]].flags = d[i].flags;
		vr->desc[ids[i]].next = raw_next ? d[i].next :
					(d[i].next < n ? ids[d[i].next] : d[i].next);
	}
	vfe_vring_publish(vr, ids[0], NULL);
	vfe_vring_kick(vr);
	return ids[0];
}

/*
 * Wait up to timeout_ms for head to come back on ring q.  Returns 0 with
 * *len, or -ETIMEDOUT when the daemon did not return it.
 */
static int wait_raw(struct vfe_env *e, unsigned q, uint16_t head,
		    int timeout_ms, uint32_t *len)
{
	struct vfe_vring *vr = &e->dev.vq[q];
	int64_t deadline = vfe_now_ms() + timeout_ms;

	for (;;) {
		uint32_t l;
		int h = vfe_vring_get_used(vr, &l, NULL);

		if (h == head) {
			*len = l;
			return 0;
		}
		CHECKF(h == -EAGAIN, "unexpected used entry %d on ring %u", h, q);
		if (vfe_now_ms() > deadline)
			return -ETIMEDOUT;
		(void)vfe_vring_wait(vr, 50);
	}
}

/* Submit a malformed chain; whatever happens to it, the daemon must live. */
static void bad_chain(struct vfe_env *e, const char *what, const struct rd *d,
		      unsigned n, bool raw_next, const struct raw_req *rr)
{
	uint32_t len = 0;
	uint16_t head = submit_raw(e, 1, d, n, raw_next);
	int r = wait_raw(e, 1, head, 1000, &len);

	if (r == 0) {
		vfe_note("%s: chain returned with used len %u", what, len);
		if (len && rr) {
			struct fuse_out_header oh;

			CHECK_OK(vfe_mem_read(&e->dev.mem, rr->rep_gpa, &oh,
					      sizeof(oh)));
			CHECKF(oh.unique == rr->unique && oh.len == len,
			       "%s: reply {len %u, unique %llu} does not match used len %u",
			       what, oh.len, (unsigned long long)oh.unique, len);
		}
	} else {
		vfe_note("%s: chain not returned", what);
	}
	CHECKF(vfe_daemon_alive(&e->d), "%s: the daemon died", what);
	/* A valid request on the same queue must still be served. */
	{
		struct fuse_attr_out a;
		int r2 = vfe_fuse_getattr(&e->f, ROOT, false, 0, &a);

		CHECKF(r2 == 0, "%s: the next valid request failed: %s (%s)", what,
		       vfe_errname(r2), vfe_msg_last_error());
	}
}

#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT
#define I VRING_DESC_F_INDIRECT

static void t_desc_loop(void)
{
	struct vfe_env e;
	struct raw_req rr;

	up(&e, NULL);
	make_getattr(&e, &rr);
	{
		/* 0 -> 1 -> 0 ... */
		struct rd d[2] = {
			{ rr.req_gpa, rr.req_len, N, 1 },
			{ rr.rep_gpa, rr.rep_len, W | N, 0 },
		};
		bad_chain(&e, "two-descriptor loop", d, 2, false, &rr);
	}
	{
		/* A descriptor pointing at itself. */
		struct rd d[1] = { { rr.req_gpa, rr.req_len, N, 0 } };

		bad_chain(&e, "self loop", d, 1, false, &rr);
	}
	{
		/* next beyond the table. */
		struct rd d[2] = {
			{ rr.req_gpa, rr.req_len, N, 9999 },
			{ rr.rep_gpa, rr.rep_len, W, 0 },
		};
		bad_chain(&e, "next out of range", d, 2, true, &rr);
	}
	{
		/* A loop inside an indirect table. */
		struct vring_desc t[3] = {
			{ rr.req_gpa, rr.req_len, N, 1 },
			{ rr.rep_gpa, 16, W | N, 2 },
			{ rr.rep_gpa + 16, rr.rep_len - 16, W | N, 1 },
		};
		uint64_t tg;
		struct rd d[1];

		CHECK_OK(vfe_mem_zalloc(&e.dev.mem, sizeof(t), 16, &tg));
		CHECK_OK(vfe_mem_write(&e.dev.mem, tg, t, sizeof(t)));
		d[0] = (struct rd){ tg, sizeof(t), I, 0 };
		bad_chain(&e, "loop in an indirect table", d, 1, false, &rr);
		/* next out of the indirect table. */
		t[2].next = 3;
		CHECK_OK(vfe_mem_write(&e.dev.mem, tg, t, sizeof(t)));
		bad_chain(&e, "next beyond an indirect table", d, 1, false, &rr);
	}
	vfe_env_down(&e);
}

/* Chains longer than the queue size (direct is impossible without a loop;
 * through an indirect table it is not). */
static void t_chain_too_long(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .dev = { .queue_size = 16 } };
	struct raw_req rr;
	struct vring_desc t[64];
	uint64_t tg;
	struct rd d[1];

	up(&e, &o);
	make_getattr(&e, &rr);
	/* 1-byte readable pieces of the request, then the reply buffer. */
	memset(t, 0, sizeof(t));
	for (unsigned i = 0; i < 63; i++) {
		t[i].addr = rr.req_gpa + (i < rr.req_len ? i : rr.req_len - 1);
		t[i].len = i < rr.req_len ? 1 : 0;
		t[i].flags = N;
		t[i].next = (uint16_t)(i + 1);
	}
	t[63] = (struct vring_desc){ rr.rep_gpa, rr.rep_len, W, 0 };
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, sizeof(t), 16, &tg));
	CHECK_OK(vfe_mem_write(&e.dev.mem, tg, t, sizeof(t)));
	d[0] = (struct rd){ tg, sizeof(t), I, 0 };
	bad_chain(&e, "indirect chain of 64 on a queue of 16", d, 1, false, &rr);
	/* A huge indirect table length. */
	d[0] = (struct rd){ tg, 0xfffffff0u, I, 0 };
	bad_chain(&e, "indirect table of 4 GiB", d, 1, false, &rr);
	/* Indirect length not a multiple of 16, and zero. */
	d[0] = (struct rd){ tg, 17, I, 0 };
	bad_chain(&e, "indirect table of 17 bytes", d, 1, false, &rr);
	d[0] = (struct rd){ tg, 0, I, 0 };
	bad_chain(&e, "indirect table of 0 bytes", d, 1, false, &rr);
	vfe_env_down(&e);
}

static void t_desc_outside_memory(void)
{
	struct vfe_env e;
	struct raw_req rr;
	uint64_t top;

	up(&e, NULL);
	make_getattr(&e, &rr);
	top = vfe_mem_top(&e.dev.mem);
	{
		struct rd d[2] = {
			{ 0x7fff00000000ull, rr.req_len, N, 1 },
			{ rr.rep_gpa, rr.rep_len, W, 0 },
		};
		bad_chain(&e, "request buffer outside memory", d, 2, false, &rr);
	}
	{
		struct rd d[2] = {
			{ rr.req_gpa, rr.req_len, N, 1 },
			{ top - 64, 4096, W, 0 },
		};
		bad_chain(&e, "reply buffer crossing the end of memory", d, 2,
			  false, NULL);
	}
	{
		struct rd d[2] = {
			{ rr.req_gpa, rr.req_len, N, 1 },
			{ ~0ull - 15, 4096, W, 0 },
		};
		bad_chain(&e, "reply buffer wrapping around 2^64", d, 2, false,
			  NULL);
	}
	{
		struct rd d[1] = { { 0xdead00000000ull, 64, I, 0 } };

		bad_chain(&e, "indirect table outside memory", d, 1, false, &rr);
	}
	vfe_env_down(&e);
}

static void t_nested_indirect(void)
{
	struct vfe_env e;
	struct raw_req rr;
	struct vring_desc inner[2], outer[1];
	uint64_t ig, og;
	struct rd d[1];

	up(&e, NULL);
	make_getattr(&e, &rr);
	inner[0] = (struct vring_desc){ rr.req_gpa, rr.req_len, N, 1 };
	inner[1] = (struct vring_desc){ rr.rep_gpa, rr.rep_len, W, 0 };
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, sizeof(inner), 16, &ig));
	CHECK_OK(vfe_mem_write(&e.dev.mem, ig, inner, sizeof(inner)));
	outer[0] = (struct vring_desc){ ig, sizeof(inner), I, 0 };
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, sizeof(outer), 16, &og));
	CHECK_OK(vfe_mem_write(&e.dev.mem, og, outer, sizeof(outer)));
	d[0] = (struct rd){ og, sizeof(outer), I, 0 };
	bad_chain(&e, "indirect inside indirect", d, 1, false, &rr);
	/* INDIRECT together with NEXT in the ring. */
	{
		struct rd d2[2] = {
			{ ig, sizeof(inner), I | N, 1 },
			{ rr.rep_gpa, rr.rep_len, W, 0 },
		};
		bad_chain(&e, "indirect with NEXT", d2, 2, false, &rr);
	}
	vfe_env_down(&e);
}

static void t_zero_length_desc(void)
{
	struct vfe_env e;
	struct raw_req rr;

	up(&e, NULL);
	make_getattr(&e, &rr);
	{
		/* Zero-length pieces between valid ones: a legal if odd chain. */
		struct rd d[5] = {
			{ rr.req_gpa, 0, N, 1 },
			{ rr.req_gpa, rr.req_len, N, 2 },
			{ rr.req_gpa, 0, N, 3 },
			{ rr.rep_gpa, 0, W | N, 4 },
			{ rr.rep_gpa, rr.rep_len, W, 0 },
		};
		bad_chain(&e, "zero-length descriptors", d, 5, false, &rr);
	}
	{
		/* Only zero-length descriptors. */
		struct rd d[2] = {
			{ rr.req_gpa, 0, N, 1 },
			{ rr.rep_gpa, 0, W, 0 },
		};
		bad_chain(&e, "all descriptors empty", d, 2, false, NULL);
	}
	{
		/* Zero-length at address 0 of nowhere. */
		struct rd d[3] = {
			{ 0xfffffffff000ull, 0, N, 1 },
			{ rr.req_gpa, rr.req_len, N, 2 },
			{ rr.rep_gpa, rr.rep_len, W, 0 },
		};
		bad_chain(&e, "zero-length descriptor outside memory", d, 3,
			  false, &rr);
	}
	vfe_env_down(&e);
}

static void t_write_before_read(void)
{
	struct vfe_env e;
	struct raw_req rr;
	uint8_t before[64], after[64];

	up(&e, NULL);
	make_getattr(&e, &rr);
	CHECK_OK(vfe_mem_read(&e.dev.mem, rr.req_gpa, before, sizeof(before)));
	{
		struct rd d[3] = {
			{ rr.rep_gpa, rr.rep_len, W | N, 1 },
			{ rr.req_gpa, rr.req_len, N, 2 },
			{ rr.rep_gpa + 2048, 512, W, 0 },
		};
		bad_chain(&e, "writable before readable", d, 3, false, NULL);
	}
	/* Driver-readable buffers are never written. */
	CHECK_OK(vfe_mem_read(&e.dev.mem, rr.req_gpa, after, sizeof(after)));
	CHECKF(!memcmp(before, after, sizeof(before)),
	       "the daemon wrote into a driver-readable buffer");
	{
		/* No writable descriptor at all for a request that needs one. */
		struct rd d[1] = { { rr.req_gpa, rr.req_len, 0, 0 } };

		bad_chain(&e, "no reply buffer", d, 1, false, NULL);
	}
	vfe_env_down(&e);
}

/* Heads >= queue size in the avail ring. */
static void t_bad_head(void)
{
	struct vfe_env e;
	struct vfe_vring *vr;
	struct fuse_attr_out a;

	up(&e, NULL);
	vr = &e.dev.vq[1];
	/* Publish head 5000 by hand (no descriptor behind it). */
	vr->avail->ring[vr->avail_idx % vr->num] = 5000;
	vr->avail_idx++;
	__atomic_store_n(&vr->avail->idx, vr->avail_idx, __ATOMIC_RELEASE);
	vfe_vring_kick(vr);
	usleep(100 * 1000);
	CHECKF(vfe_daemon_alive(&e.d), "daemon died on head 5000");
	if (vfe_vring_has_used(vr)) {
		/* It returned something: it must not be id 5000 with a write. */
		struct vring_used_elem u = vr->used->ring[vr->last_used % vr->num];

		vfe_note("head 5000 returned as id %u len %u", u.id, u.len);
		vr->last_used++;
	}
	CHECK_OK(vfe_fuse_getattr(&e.f, ROOT, false, 0, &a));
	vfe_env_down(&e);
}

/* ---------- FUSE level ---------- */

static void t_fuse_truncated_header(void)
{
	struct vfe_env e;
	struct raw_req rr;
	uint8_t guard[256], chk[256];

	up(&e, NULL);
	make_getattr(&e, &rr);
	memset(guard, 0xee, sizeof(guard));
	CHECK_OK(vfe_mem_write(&e.dev.mem, rr.rep_gpa, guard, sizeof(guard)));
	{
		struct rd d[2] = {
			{ rr.req_gpa, 20, N, 1 },
			{ rr.rep_gpa, rr.rep_len, W, 0 },
		};
		bad_chain(&e, "FUSE header of 20 bytes", d, 2, false, NULL);
	}
	{
		struct rd d[2] = {
			{ rr.req_gpa, 0, N, 1 },
			{ rr.rep_gpa, rr.rep_len, W, 0 },
		};
		bad_chain(&e, "empty request", d, 2, false, NULL);
	}
	{
		/* Reply buffer smaller than fuse_out_header: nothing may be
		 * written beyond its 8 bytes. */
		struct rd d[2] = {
			{ rr.req_gpa, rr.req_len, N, 1 },
			{ rr.rep_gpa, 8, W, 0 },
		};
		bad_chain(&e, "reply buffer of 8 bytes", d, 2, false, NULL);
		CHECK_OK(vfe_mem_read(&e.dev.mem, rr.rep_gpa + 8, chk, 200));
		CHECKF(!memcmp(chk, guard, 200),
		       "the daemon wrote past an 8-byte reply buffer");
	}
	vfe_env_down(&e);
}

/*
 * A raw request (header included) on queue 1.  oh/body receive the reply.
 * Returns the used length, or -VFE_ETRANSPORT when nothing came back.
 */
static int raw_call(struct vfe_env *e, const void *req, size_t len,
		    size_t out_cap, struct fuse_out_header *oh, void *body)
{
	struct vfe_fuse_call c = {
		.queue = VFE_Q_DEFAULT, .flags = VFE_RAW,
		.in = { { (void *)req, len } }, .nin = 1, .out_cap = out_cap,
	};
	struct vfe_fuse_req *r;
	int err, ret, used;

	r = vfe_fuse_submit(&e->f, &c, &err);
	CHECKF(r, "submit: %s", vfe_errname(err));
	/* Validation fails on the unique (ours is in the raw bytes): only
	 * the transport outcome matters here. */
	ret = vfe_fuse_wait(&e->f, r, 3000);
	if (ret == -VFE_ETRANSPORT && !r->done)
		return ret;
	memset(oh, 0, sizeof(*oh));
	used = (int)r->used_len;
	if (r->used_len >= sizeof(*oh))
		CHECK_OK(vfe_mem_read(&e->dev.mem, r->rep_gpa, oh, sizeof(*oh)));
	if (body && r->used_len > sizeof(*oh))
		CHECK_OK(vfe_mem_read(&e->dev.mem, r->rep_gpa + sizeof(*oh), body,
				      out_cap));
	vfe_fuse_put(&e->f, r);
	return used;
}

static void t_fuse_len_mismatch(void)
{
	struct vfe_env e;
	struct {
		struct fuse_in_header h;
		char name[16];
	} __attribute__((packed)) req;
	struct fuse_out_header oh;
	int used;

	up(&e, NULL);
	CHECK_EQ(mkdir(vfe_shared_path(&e, "victim"), 0755), 0);

	/* len larger than the bytes supplied. */
	memset(&req, 0, sizeof(req));
	req.h = (struct fuse_in_header){ .len = 4000, .opcode = FUSE_LOOKUP,
					 .unique = 77, .nodeid = ROOT };
	strcpy(req.name, "victim");
	used = raw_call(&e, &req, sizeof(req), 256, &oh, NULL);
	vfe_note("len 4000 > 56 supplied: used %d, error %d", used, oh.error);
	if (used > 0)
		CHECKF(oh.error < 0, "a LOOKUP with len beyond the buffer succeeded");
	check_serving(&e);

	/* len smaller than the header. */
	req.h.len = 20;
	req.h.unique = 78;
	used = raw_call(&e, &req, sizeof(req), 256, &oh, NULL);
	vfe_note("len 20: used %d, error %d", used, oh.error);
	if (used > 0)
		CHECKF(oh.error < 0, "a LOOKUP with len 20 succeeded");
	check_serving(&e);

	/* len covers the header only: the name is missing. */
	req.h.len = sizeof(req.h);
	req.h.unique = 79;
	used = raw_call(&e, &req, sizeof(req), 256, &oh, NULL);
	vfe_note("len = header only: used %d, error %d", used, oh.error);
	if (used > 0)
		CHECKF(oh.error < 0, "a LOOKUP without a name succeeded");

	/* Name without a terminating NUL inside len. */
	memset(req.name, 'A', sizeof(req.name));
	req.h.len = sizeof(req);
	req.h.unique = 80;
	used = raw_call(&e, &req, sizeof(req), 256, &oh, NULL);
	vfe_note("unterminated name: used %d, error %d", used, oh.error);
	if (used > 0)
		CHECKF(oh.error < 0, "a LOOKUP of an unterminated name succeeded");

	/* Unknown opcode: ENOSYS. */
	memset(&req, 0, sizeof(req));
	req.h = (struct fuse_in_header){ .len = sizeof(req.h), .opcode = 9999,
					 .unique = 81, .nodeid = ROOT };
	used = raw_call(&e, &req, sizeof(req.h), 256, &oh, NULL);
	CHECKF(used == (int)sizeof(oh), "unknown opcode: used %d", used);
	CHECK_EQ(oh.unique, 81);
	CHECK_ERR(oh.error, -ENOSYS);

	/* WRITE whose size field exceeds the data supplied. */
	{
		struct fuse_entry_out ent;
		struct fuse_open_out op;
		struct {
			struct fuse_in_header h;
			struct fuse_write_in w;
			char data[8];
		} __attribute__((packed)) wr;

		CHECK_OK(vfe_fuse_create(&e.f, ROOT, "wfile", O_RDWR | O_CREAT,
					 S_IFREG | 0644, &ent, &op));
		memset(&wr, 0, sizeof(wr));
		wr.h = (struct fuse_in_header){ .len = sizeof(wr), .opcode = FUSE_WRITE,
						.unique = 82, .nodeid = ent.nodeid };
		wr.w = (struct fuse_write_in){ .fh = op.fh, .size = 1 << 20 };
		memcpy(wr.data, "12345678", 8);
		{
			struct fuse_write_out wo = { 0 };

			used = raw_call(&e, &wr, sizeof(wr), sizeof(wo), &oh, &wo);
			vfe_note("WRITE size 1 MiB with 8 bytes: used %d, error %d",
				 used, oh.error);
			if (used > 0 && oh.error == 0)
				CHECKF(wo.size <= 8,
				       "WRITE claimed %u bytes from 8 supplied", wo.size);
		}
		{
			struct stat st;

			CHECK_EQ(stat(vfe_shared_path(&e, "wfile"), &st), 0);
			CHECKF(st.st_size <= 8, "host file grew to %lld bytes from 8 supplied",
			       (long long)st.st_size);
		}
	}
	check_serving(&e);
	vfe_env_down(&e);
}

/* READ asking for more than the reply buffers hold. */
static void t_read_larger_than_buffer(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	struct fuse_read_in ri;
	struct vfe_fuse_call c;
	uint64_t buf;
	uint8_t *p, big[65536];
	int r;

	up(&e, NULL);
	memset(big, 'Z', sizeof(big));
	CHECK_OK(vfe_fuse_create(&e.f, ROOT, "big", O_RDWR | O_CREAT,
				 S_IFREG | 0644, &ent, &op));
	{
		size_t n = 0;

		CHECK_OK(vfe_fuse_write(&e.f, ent.nodeid, op.fh, 0, big,
					sizeof(big), &n));
		CHECK_EQ(n, sizeof(big));
	}
	/* 4 KiB of writable data followed by a guard page. */
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, 8192, 4096, &buf));
	p = vfe_mem_ptr(&e.dev.mem, buf, 8192);
	memset(p, 0x11, 8192);
	ri = (struct fuse_read_in){ .fh = op.fh, .offset = 0, .size = 65536 };
	c = (struct vfe_fuse_call){
		.opcode = FUSE_READ, .nodeid = ent.nodeid, .queue = VFE_Q_DEFAULT,
		.in = { { &ri, sizeof(ri) } }, .nin = 1, .rlen = 4096,
		.data_gpa = buf,
	};
	r = vfe_fuse_call(&e.f, &c);
	vfe_note("READ 64 KiB into 4 KiB: %s, %zu bytes", vfe_errname(r), c.rgot);
	CHECKF(r != -VFE_ETRANSPORT, "READ into a small buffer got no reply");
	for (size_t i = 4096; i < 8192; i++)
		CHECKF(p[i] == 0x11, "the daemon wrote past the reply buffer (offset %zu)",
		       i);
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, O_RDWR));
	check_serving(&e);
	vfe_env_down(&e);
}

/* ---------- memory table ---------- */

/* ADD_MEM_REG of r with fd; returns the ack (0 = accepted). */
static uint64_t add_region(struct vfe_env *e, const struct vu_region *r, int fd)
{
	struct vu_mem_reg m = { .region = *r };
	uint64_t ack = 0;

	CHECK_OK(vfe_msg_request(e->dev.sock, VU_ADD_MEM_REG, true, &m,
				 sizeof(m), &fd, 1, &ack, 5000));
	return ack;
}

static void t_mem_overlap_huge(void)
{
	struct vfe_env e;
	struct vu_region r;
	uint64_t ack;
	int fd;

	up(&e, NULL);
	r = vfe_mem_region_desc(&e.dev.mem, 0);
	/* Guest-physical overlap (one page in), then front-end address
	 * overlap only: both refused. */
	r.guest_phys_addr += 4096;
	r.userspace_addr += 1ull << 40;
	ack = add_region(&e, &r, e.dev.mem.r[0].fd);
	CHECKF(ack != 0, "a region overlapping guest memory was accepted");
	r = vfe_mem_region_desc(&e.dev.mem, 0);
	r.guest_phys_addr += 1ull << 40;
	ack = add_region(&e, &r, e.dev.mem.r[0].fd);
	CHECKF(ack != 0, "a region overlapping in user addresses was accepted");
	check_serving(&e);

	/* 128 TiB backed by a (sparse) file that long: mmap fails. */
	fd = memfd_create("vfe-huge", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)(1ull << 47)), 0);
	r = (struct vu_region){ .guest_phys_addr = 1ull << 50,
				.memory_size = 1ull << 47,
				.userspace_addr = 1ull << 52 };
	ack = add_region(&e, &r, fd);
	CHECKF(ack != 0, "a 128 TiB region was accepted");
	/* Size up to the top of the address space (no wrap), 2^63 bytes. */
	r.memory_size = 1ull << 63;
	r.guest_phys_addr = 1ull << 62;
	r.userspace_addr = 0;
	ack = add_region(&e, &r, fd);
	CHECKF(ack != 0, "a 2^63-byte region was accepted");
	close(fd);
	CHECKF(vfe_daemon_alive(&e.d), "daemon died on a huge region");
	vfe_note("overlapping and huge regions refused, daemon serving");
	check_serving(&e);
	vfe_env_down(&e);
}

/*
 * REM_MEM_REG of the region holding the running rings: requests are not
 * processed (nothing is reachable) and nothing crashes; ADD_MEM_REG of the
 * same region maps the rings again and the next kick resumes service,
 * including the request queued while the region was gone.
 */
static void t_mem_rem_ring_region(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .dev = { .nregions = 2 } };
	struct fuse_getattr_in gin = { 0 };
	struct fuse_attr_out a;
	struct vfe_fuse_call c = {
		.opcode = FUSE_GETATTR, .nodeid = ROOT,
		.in = { { &gin, sizeof(gin) } }, .nin = 1,
		.out = &a, .out_cap = sizeof(a), .queue = 1,
	};
	struct vfe_fuse_req *r, *done = NULL;
	int err = 0;

	up(&e, &o);
	check_serving(&e);
	CHECK_OK(vfe_dev_rem_mem_reg(&e.dev, 0));
	r = vfe_fuse_submit(&e.f, &c, &err);
	CHECKF(r, "submit: %s", vfe_errname(err));
	CHECK_ERR(vfe_fuse_poll(&e.f, 1, 300, &done), -VFE_ETRANSPORT);
	CHECKF(vfe_daemon_alive(&e.d), "daemon died with its ring unmapped");
	CHECK_OK(vfe_dev_add_mem_reg(&e.dev, 0));
	vfe_fuse_kick(&e.f, 1);
	e.dev.vq[1].force_kick = true;
	vfe_vring_kick(&e.dev.vq[1]);
	e.dev.vq[1].force_kick = false;
	CHECK_OK(vfe_fuse_wait(&e.f, r, 5000));
	CHECK_OK(vfe_fuse_result(&e.f, r, &c));
	vfe_fuse_put(&e.f, r);
	vfe_note("ring region removed: no processing; added back: the queued "
		 "request was served after the next kick");
	check_serving(&e);
	vfe_env_down(&e);
}

/* A READ of 64 KiB of "data" (created by the caller) through the client. */
static void read_data(struct vfe_env *e, uint64_t node, uint64_t fh)
{
	static char buf[64 * 1024];
	size_t got = 0;

	CHECK_OK(vfe_fuse_read(&e->f, node, fh, 0, buf, sizeof(buf), &got));
	CHECK_EQ(got, sizeof(buf));
}

static void open_data(struct vfe_env *e, uint64_t *node, uint64_t *fh)
{
	struct fuse_entry_out ent;
	struct fuse_open_out oo;
	int fd = open(vfe_shared_path(e, "data"), O_CREAT | O_WRONLY | O_CLOEXEC,
		      0644);

	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 1 << 20), 0);
	close(fd);
	CHECK_OK(vfe_fuse_lookup(&e->f, ROOT, "data", &ent));
	CHECK_OK(vfe_fuse_open(&e->f, ent.nodeid, O_RDONLY, &oo));
	*node = ent.nodeid;
	*fh = oo.fh;
}

/*
 * A dirty log of 64 bytes (512 pages, 2 MiB) for 64 MiB of guest memory:
 * the daemon marks the low pages it writes and never writes a byte past
 * the bitmap, whatever guest address it writes.
 */
static void t_log_smaller_than_memory(void)
{
	struct vfe_env e;
	uint64_t node, fh, dirty = 0;
	uint8_t *view;

	up(&e, NULL);
	open_data(&e, &node, &fh);
	CHECK_OK(vfe_log_create(&e.dev.log, 512 * 4096, 0));
	CHECK_EQ(e.dev.log.size, 64);
	/* The file is a page long, the log announced is 64 bytes of it. */
	CHECK_EQ(ftruncate(e.dev.log.fd, 4096), 0);
	view = mmap(NULL, 4096, PROT_READ, MAP_SHARED, e.dev.log.fd, 0);
	CHECK(view != MAP_FAILED);
	CHECK_OK(vfe_dev_log_start(&e.dev));
	for (int i = 0; i < 20; i++)
		read_data(&e, node, fh);
	for (int i = 0; i < 64; i++)
		dirty += __builtin_popcount(view[i]);
	for (int i = 64; i < 4096; i++)
		CHECKF(view[i] == 0, "byte %d past the 64-byte log written (0x%x)",
		       i, view[i]);
	vfe_note("64-byte log: %llu low pages marked, nothing past the bitmap "
		 "(used ring of queue 1 at GPA 0x%llx)", (unsigned long long)dirty,
		 (unsigned long long)e.dev.vq[1].used_gpa);
	CHECKF(dirty > 0, "the rings' pages were not marked");
	munmap(view, 4096);
	CHECK_OK(vfe_dev_log_stop(&e.dev));
	check_serving(&e);
	vfe_env_down(&e);
}

struct reader {
	struct vfe_env *e;
	uint64_t node, fh;
	int n;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	for (int i = 0; i < rd->n; i++)
		read_data(rd->e, rd->node, rd->fh);
	return NULL;
}

/*
 * Dirty logging on while a second region is removed and added back over
 * and over, and READs run on the request queue: no crash, no lost mark.
 */
static void t_log_while_regions_change(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .dev = { .nregions = 2 } };
	struct reader rd = { .e = &e, .n = 300 };
	pthread_t t;

	up(&e, &o);
	open_data(&e, &rd.node, &rd.fh);
	CHECK_OK(vfe_dev_log_start(&e.dev));
	CHECK_EQ(pthread_create(&t, NULL, reader_main, &rd), 0);
	for (int i = 0; i < 100; i++) {
		CHECK_OK(vfe_dev_rem_mem_reg(&e.dev, 1));
		CHECK_OK(vfe_dev_add_mem_reg(&e.dev, 1));
	}
	pthread_join(t, NULL);
	vfe_log_clear(&e.dev.log);
	read_data(&e, rd.node, rd.fh);
	CHECKF(vfe_log_count_all(&e.dev.log) >= 16,
	       "a 64 KiB READ marked only %llu pages",
	       (unsigned long long)vfe_log_count_all(&e.dev.log));
	CHECK_OK(vfe_dev_log_stop(&e.dev));
	check_serving(&e);
	vfe_env_down(&e);
}

static const struct vfe_test tests[] = {
	{ "unknown_request", t_unknown_request, 0 },
	{ "oversized_size", t_oversized_size, 0 },
	{ "truncated_payload", t_truncated_payload, 0 },
	{ "missing_and_surplus_fd", t_missing_and_surplus_fd, 0 },
	{ "bad_vring_index", t_bad_vring_index, 0 },
	{ "ring_outside_memory", t_ring_outside_memory, 0 },
	{ "desc_loop", t_desc_loop, 0 },
	{ "chain_too_long", t_chain_too_long, 0 },
	{ "desc_outside_memory", t_desc_outside_memory, 0 },
	{ "nested_indirect", t_nested_indirect, 0 },
	{ "zero_length_desc", t_zero_length_desc, 0 },
	{ "write_before_read", t_write_before_read, 0 },
	{ "bad_head", t_bad_head, 0 },
	{ "fuse_truncated_header", t_fuse_truncated_header, 0 },
	{ "fuse_len_mismatch", t_fuse_len_mismatch, 0 },
	{ "read_larger_than_buffer", t_read_larger_than_buffer, 0 },
	{ "mem_overlap_huge", t_mem_overlap_huge, 0 },
	{ "mem_rem_ring_region", t_mem_rem_ring_region, 0 },
	{ "log_smaller_than_memory", t_log_smaller_than_memory, 0 },
	{ "log_while_regions_change", t_log_while_regions_change, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
