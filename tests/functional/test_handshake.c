/*
 * test_handshake.c - vhost-user negotiation and device life cycle against
 * the real daemon: offered features, reply format, REPLY_ACK, RESET_DEVICE,
 * both memory-table paths, multiple and spanning memory regions.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfe_test.h"

#define BIT(n) (1ull << (n))

/* Set to 1 once the daemon offers DEVICE_STATE (migration work). */
#ifndef VFE_EXPECT_DEVICE_STATE
#define VFE_EXPECT_DEVICE_STATE 1
#endif

/* Read a host file of the shared directory into buf; returns its size. */
static ssize_t host_read(struct vfe_env *e, const char *name, void *buf,
			 size_t cap)
{
	int fd = open(vfe_shared_path(e, name), O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap);
	close(fd);
	return n;
}

static void t_features_offered(void)
{
	struct vfe_env e;
	uint64_t f = 0, pf = 0, qn = 0, slots = 0, f2 = 0;
	int sock = vfe_env_spawn(&e, NULL);

	/* GET_PROTOCOL_FEATURES must work before SET_FEATURES; ask it first. */
	CHECK_OK(vfe_msg_get_u64(sock, VU_GET_PROTOCOL_FEATURES, &pf, 5000));
	CHECK_OK(vfe_msg_get_u64(sock, VU_GET_FEATURES, &f, 5000));
	vfe_note("features 0x%llx, protocol features 0x%llx",
		 (unsigned long long)f, (unsigned long long)pf);
	CHECKF(f & BIT(VU_F_VERSION_1), "VERSION_1 not offered");
	CHECKF(f & BIT(VU_F_PROTOCOL_FEATURES), "PROTOCOL_FEATURES not offered");
	CHECKF(f & BIT(VU_F_LOG_ALL), "VHOST_F_LOG_ALL not offered");
	CHECKF(f & BIT(VU_F_RING_INDIRECT_DESC), "RING_INDIRECT_DESC not offered");
	CHECKF(f & BIT(VU_F_RING_EVENT_IDX), "RING_EVENT_IDX not offered");
	CHECKF(pf & BIT(VU_PF_MQ), "MQ not offered");
	CHECKF(pf & BIT(VU_PF_REPLY_ACK), "REPLY_ACK not offered");
	CHECKF(pf & BIT(VU_PF_LOG_SHMFD), "LOG_SHMFD not offered");
	CHECKF(pf & BIT(VU_PF_CONFIGURE_MEM_SLOTS), "CONFIGURE_MEM_SLOTS not offered");
	CHECKF(pf & BIT(VU_PF_RESET_DEVICE), "RESET_DEVICE not offered");
	CHECKF(!(pf & BIT(VU_PF_STATUS)), "STATUS must not be offered (SET_STATUS 0 before save)");
	CHECKF(!(pf & BIT(VU_PF_CONFIG)), "CONFIG must not be offered to QEMU's vhost-user-fs");
	if (VFE_EXPECT_DEVICE_STATE)
		CHECKF(pf & BIT(VU_PF_DEVICE_STATE), "DEVICE_STATE not offered");
	else
		CHECKF(!(pf & BIT(VU_PF_DEVICE_STATE)),
		       "DEVICE_STATE offered (set VFE_EXPECT_DEVICE_STATE once migration lands)");

	pf &= BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_LOG_SHMFD) |
	      BIT(VU_PF_CONFIGURE_MEM_SLOTS) | BIT(VU_PF_RESET_DEVICE);
	CHECK_OK(vfe_msg_request(sock, VU_SET_PROTOCOL_FEATURES, false, &pf, 8,
				 NULL, 0, NULL, 5000));
	CHECK_OK(vfe_msg_get_u64(sock, VU_GET_QUEUE_NUM, &qn, 5000));
	CHECKF(qn >= 2, "GET_QUEUE_NUM %llu < 2 (hiprio + one request queue)",
	       (unsigned long long)qn);
	CHECKF(qn <= 0x100, "GET_QUEUE_NUM %llu is not plausible", (unsigned long long)qn);
	CHECK_OK(vfe_msg_get_u64(sock, VU_GET_MAX_MEM_SLOTS, &slots, 5000));
	CHECKF(slots >= 2 && slots <= 4096, "GET_MAX_MEM_SLOTS %llu",
	       (unsigned long long)slots);
	CHECK_OK(vfe_msg_request(sock, VU_SET_OWNER, false, NULL, 0, NULL, 0,
				 NULL, 5000));
	/* QEMU asks GET_FEATURES again after SET_OWNER: same answer. */
	CHECK_OK(vfe_msg_get_u64(sock, VU_GET_FEATURES, &f2, 5000));
	CHECK_EQ(f2, f);
	vfe_note("queue num %llu, max mem slots %llu", (unsigned long long)qn,
		 (unsigned long long)slots);
	close(sock);
	e.dev.sock = -1;
	vfe_env_down(&e);
}

/* need_reply: every message gets exactly one reply, flags 0x5, size 8. */
static void t_reply_ack(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .no_start = true };
	struct vu_vring_state st;
	struct vu_msg m;
	uint64_t ack = ~0ull, v = 0;
	int sock;

	vfe_env_up(&e, &o);
	sock = e.dev.sock;
	CHECKF(vfe_dev_reply_ack(&e.dev), "REPLY_ACK not negotiated");

	/* A message without its own reply body: ack 0. */
	st = (struct vu_vring_state){ .index = 1, .num = 64 };
	CHECK_OK(vfe_msg_request(sock, VU_SET_VRING_NUM, true, &st, sizeof(st),
				 NULL, 0, &ack, 5000));
	CHECK_EQ(ack, 0);
	ack = ~0ull;
	st = (struct vu_vring_state){ .index = 1, .num = 1 };
	CHECK_OK(vfe_msg_request(sock, VU_SET_VRING_ENABLE, true, &st,
				 sizeof(st), NULL, 0, &ack, 5000));
	CHECK_EQ(ack, 0);
	ack = ~0ull;
	st.num = 0;
	CHECK_OK(vfe_msg_request(sock, VU_SET_VRING_ENABLE, true, &st,
				 sizeof(st), NULL, 0, &ack, 5000));
	CHECK_EQ(ack, 0);
	ack = ~0ull;
	CHECK_OK(vfe_msg_request(sock, VU_SET_FEATURES, true,
				 &e.dev.acked_features, 8, NULL, 0, &ack, 5000));
	CHECK_EQ(ack, 0);

	/* A message with its own reply body and need_reply: one reply only. */
	CHECK_OK(vfe_msg_send(sock, VU_GET_FEATURES, VU_FLAG_NEED_REPLY, NULL, 0,
			      NULL, 0));
	CHECK_OK(vfe_msg_recv_reply(sock, VU_GET_FEATURES, &v, 8, 5000));
	CHECK_EQ(v, e.dev.features);
	CHECK_OK(vfe_msg_get_u64(sock, VU_GET_PROTOCOL_FEATURES, &v, 5000));
	CHECK_EQ(v, e.dev.pfeatures);

	/* Without need_reply, no ack may come: the next reply is GET's. */
	st = (struct vu_vring_state){ .index = 1, .num = 1 };
	CHECK_OK(vfe_msg_request(sock, VU_SET_VRING_ENABLE, false, &st,
				 sizeof(st), NULL, 0, NULL, 5000));
	CHECK_OK(vfe_msg_get_u64(sock, VU_GET_FEATURES, &v, 5000));
	CHECK_EQ(v, e.dev.features);
	/* And nothing else is pending on the socket. */
	CHECK_ERR(vfe_msg_recv(sock, &m, NULL, NULL, 200), -ETIMEDOUT);
	vfe_env_down(&e);
}

/* The whole QEMU sequence, FUSE INIT and a few requests; clean exit. */
static void t_start_init_exit(void)
{
	struct vfe_env e;
	struct fuse_attr_out a;
	struct fuse_statfs_out s;

	vfe_env_up(&e, NULL);
	vfe_note("INIT: %u.%u max_write %u flags 0x%x flags2 0x%x max_pages %u",
		 e.f.init.major, e.f.init.minor, e.f.init.max_write,
		 e.f.init.flags, e.f.init.flags2, e.f.init.max_pages);
	CHECKF(e.f.init.max_write >= 4096, "max_write %u", e.f.init.max_write);
	CHECK_OK(vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a));
	CHECKF((a.attr.mode & S_IFMT) == S_IFDIR, "root mode 0%o", a.attr.mode);
	CHECK_EQ(a.attr.ino != 0, 1);
	CHECK_OK(vfe_fuse_statfs(&e.f, FUSE_ROOT_ID, &s));
	CHECKF(s.st.bsize > 0 && s.st.namelen > 0, "statfs bsize %u namelen %u",
	       s.st.bsize, s.st.namelen);
	vfe_env_down(&e);
}

/* A write then read of `len` bytes through the client; checks host side. */
static void write_read_check(struct vfe_env *e, const char *name, size_t len,
			     uint64_t data_gpa)
{
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	char *buf = malloc(len), *back = malloc(len), *host = malloc(len + 1);
	struct fuse_write_in wi = { .size = (uint32_t)len };
	struct fuse_write_out wo;
	struct fuse_read_in ri = { .size = (uint32_t)len };
	struct vfe_fuse_call c;

	CHECK(buf && back && host);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 7 + 3);
	CHECK_OK(vfe_fuse_create(&e->f, FUSE_ROOT_ID, name, O_RDWR, 0644, &ent,
				 &op));
	wi.fh = op.fh;
	c = (struct vfe_fuse_call){
		.opcode = FUSE_WRITE, .nodeid = ent.nodeid,
		.queue = VFE_Q_DEFAULT, .in = { { &wi, sizeof(wi) } }, .nin = 1,
		.wdata = buf, .wlen = len, .out = &wo, .out_cap = sizeof(wo),
		.data_gpa = data_gpa, .flags = VFE_DIRECT,
	};
	CHECK_OK(vfe_fuse_call(&e->f, &c));
	CHECK_EQ(wo.size, len);
	CHECK_EQ(host_read(e, name, host, len + 1), len);
	CHECKF(!memcmp(host, buf, len), "host file differs from written data");
	ri.fh = op.fh;
	if (data_gpa)
		CHECK_OK(vfe_mem_fill(&e->dev.mem, data_gpa, 0, len));
	c = (struct vfe_fuse_call){
		.opcode = FUSE_READ, .nodeid = ent.nodeid,
		.queue = VFE_Q_DEFAULT, .in = { { &ri, sizeof(ri) } }, .nin = 1,
		.rdata = back, .rlen = len, .data_gpa = data_gpa,
		.flags = VFE_DIRECT,
	};
	CHECK_OK(vfe_fuse_call(&e->f, &c));
	CHECK_EQ(c.rgot, len);
	CHECKF(!memcmp(back, buf, len), "read data differs from written data");
	CHECK_OK(vfe_fuse_release(&e->f, ent.nodeid, op.fh, O_RDWR));
	free(buf);
	free(back);
	free(host);
}

/* Without CONFIGURE_MEM_SLOTS the table comes as SET_MEM_TABLE. */
static void t_set_mem_table(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .dev = { .no_mem_slots = true } };

	vfe_env_up(&e, &o);
	CHECK(!(e.dev.acked_pfeatures & BIT(VU_PF_CONFIGURE_MEM_SLOTS)));
	write_read_check(&e, "memtable", 10000, 0);
	vfe_env_down(&e);
}

/* SET_MEM_TABLE with two regions and a non-zero mmap offset. */
static void t_set_mem_table_two_regions(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .no_mem_slots = true, .nregions = 2,
			 .ram_base = 0x100000000ull, .mmap_offset = 2 << 20 },
	};
	uint64_t gpa;

	vfe_env_up(&e, &o);
	write_read_check(&e, "r0", 8192, 0);
	CHECK_OK(vfe_mem_alloc_in(&e.dev.mem, 1, 65536, VFE_PAGE, &gpa));
	write_read_check(&e, "r1", 65536, gpa);
	vfe_env_down(&e);
}

/* ADD_MEM_REG at start, then a region added and removed at run time. */
static void t_add_rem_mem_reg(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .dev = { .ram_size = 96ull << 20 } };
	struct fuse_attr_out a;
	uint64_t gpa;
	int idx;

	vfe_env_up(&e, &o);
	CHECK(e.dev.acked_pfeatures & BIT(VU_PF_CONFIGURE_MEM_SLOTS));
	write_read_check(&e, "base", 4096, 0);

	/* Hot-add a region far above the others, use a buffer inside it. */
	idx = vfe_mem_add_region(&e.dev.mem, 0x800000000ull, 4 << 20, 4096);
	CHECK(idx >= 0);
	CHECK_OK(vfe_dev_add_mem_reg(&e.dev, (unsigned)idx));
	CHECK_OK(vfe_mem_alloc_in(&e.dev.mem, (unsigned)idx, 1 << 20, VFE_PAGE,
				  &gpa));
	write_read_check(&e, "hot", 1 << 20, gpa);

	/* Remove it: the daemon must drop the mapping and keep serving. */
	CHECK_OK(vfe_dev_rem_mem_reg(&e.dev, (unsigned)idx));
	CHECK_OK(vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a));
	write_read_check(&e, "after", 12345, 0);
	vfe_env_down(&e);
}

/* Two contiguous regions and one descriptor spanning both of them. */
static void t_buffer_spanning_regions(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .nregions = 2, .ram_size = 128ull << 20 },
	};
	uint64_t boundary;

	vfe_env_up(&e, &o);
	boundary = e.dev.mem.r[1].gpa;
	CHECK_EQ(e.dev.mem.r[0].gpa + e.dev.mem.r[0].size, boundary);
	/* The data buffer starts 5000 bytes below the boundary: 1 descriptor. */
	write_read_check(&e, "span", 16384, boundary - 5000);
	vfe_env_down(&e);
}

/* RESET_DEVICE drops the FUSE session; INIT again and everything works. */
static void t_reset_device_reinit(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_attr_out a;
	int r;

	vfe_env_up(&e, NULL);
	CHECK_OK(vfe_fuse_mkdir(&e.f, FUSE_ROOT_ID, "before", 0755, &ent));
	CHECK_OK(vfe_dev_stop(&e.dev, NULL));
	CHECK_OK(vfe_dev_reset(&e.dev));
	CHECK_OK(vfe_dev_start(&e.dev));
	/* Before INIT, requests must not be served as if INIT had been done. */
	r = vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a);
	CHECKF(r != 0, "GETATTR before the second INIT succeeded");
	CHECKF(r != -VFE_ETRANSPORT && r != -VFE_EPROTO,
	       "GETATTR before INIT: %s", vfe_errname(r));
	CHECK_OK(vfe_fuse_init(&e.f));
	CHECK_OK(vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a));
	CHECK_OK(vfe_fuse_lookup(&e.f, FUSE_ROOT_ID, "before", &ent));
	CHECKF((ent.attr.mode & S_IFMT) == S_IFDIR, "mode 0%o", ent.attr.mode);
	vfe_env_down(&e);
}

/* --fd=N: the daemon serves an inherited listening socket. */
static void t_inherited_fd(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .daemon = { .use_fd = true } };
	struct fuse_attr_out a;

	vfe_env_up(&e, &o);
	CHECK_OK(vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a));
	vfe_env_down(&e);
}

/* Stop returns the next avail index; a restart at that base goes on. */
static void t_stop_restart_base(void)
{
	struct vfe_env e;
	struct fuse_attr_out a;
	uint16_t base[VFE_MAX_VQS];

	vfe_env_up(&e, NULL);
	for (int i = 0; i < 5; i++)
		CHECK_OK(vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a));
	CHECK_OK(vfe_dev_stop(&e.dev, base));
	CHECK_EQ(base[0], e.dev.vq[0].avail_idx);
	CHECK_EQ(base[1], e.dev.vq[1].avail_idx);
	CHECK_EQ(base[1], 6);   /* INIT + 5 GETATTR */
	CHECK_EQ(vfe_vring_used_idx(&e.dev.vq[1]), base[1]);
	CHECK_OK(vfe_dev_start(&e.dev));
	CHECK_OK(vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a));
	CHECK_OK(vfe_dev_stop(&e.dev, base));
	CHECK_EQ(base[1], 7);
	vfe_env_down(&e);
}

/* Without EVENT_IDX and INDIRECT the daemon must work the plain way. */
static void t_no_ring_features(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = {
		.dev = { .no_event_idx = true, .no_indirect = true,
			 .queue_size = 1024 },
	};

	vfe_env_up(&e, &o);
	CHECK(!(e.dev.acked_features & BIT(VU_F_RING_EVENT_IDX)));
	e.f.seg = 4096;
	write_read_check(&e, "plain", 256 * 1024, 0);
	vfe_env_down(&e);
}

/* QEMU re-sends SET_VRING_CALL while running (mask/unmask): the new fd
 * must be used from then on, the old one no more. */
static void t_call_fd_swap(void)
{
	struct vfe_env e;
	struct fuse_attr_out a;
	int oldfd, newfd;
	uint64_t v = 1;

	vfe_env_up(&e, NULL);
	for (int round = 0; round < 3; round++) {
		oldfd = e.dev.vq[1].call_fd;
		newfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(newfd >= 0);
		/* Ask for an ack: without one nothing orders the swap before
		 * the next requests (the message thread may read it later). */
		CHECK_OK(vfe_dev_set(&e.dev, VU_SET_VRING_CALL, true, &v, 8,
				     &newfd, 1));
		e.dev.vq[1].call_fd = newfd;
		/* Each request must be notified on the new fd (strict wait). */
		for (int i = 0; i < 5; i++)
			CHECK_OK(vfe_fuse_getattr(&e.f, FUSE_ROOT_ID, false, 0, &a));
		{
			uint64_t cnt = 0;
			ssize_t n = read(oldfd, &cnt, sizeof(cnt));

			CHECKF(n < 0 && errno == EAGAIN,
			       "the replaced call fd was signalled (%llu)",
			       (unsigned long long)cnt);
		}
		close(oldfd);
	}
	vfe_env_down(&e);
}

/* QEMU re-sends the whole SET_MEM_TABLE at run time (vhost_commit). */
static void t_mem_table_resend_running(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .dev = { .no_mem_slots = true } };

	vfe_env_up(&e, &o);
	write_read_check(&e, "one", 20000, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_OK(vfe_dev_set_mem(&e.dev));
		write_read_check(&e, i == 0 ? "two" : i == 1 ? "three" : "four",
				 30000, 0);
	}
	vfe_env_down(&e);
}

/* SIGTERM ends the daemon promptly ("Backend program conventions"). */
static void t_sigterm(void)
{
	struct vfe_env e;
	char b[80];
	int st = 0;

	vfe_env_up(&e, NULL);
	CHECK_EQ(kill(e.d.pid, SIGTERM), 0);
	CHECKF(vfe_daemon_wait(&e.d, 5000, &st) == 0,
	       "daemon still running 5 s after SIGTERM");
	CHECKF((WIFEXITED(st)) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM),
	       "daemon ended with %s after SIGTERM", vfe_status_str(st, b, sizeof(b)));
	vfe_note("after SIGTERM: %s", vfe_status_str(st, b, sizeof(b)));
	vfe_dev_destroy(&e.dev);
	e.have_dev = false;
}

static const struct vfe_test tests[] = {
	{ "features_offered", t_features_offered, 0 },
	{ "reply_ack", t_reply_ack, 0 },
	{ "start_init_exit", t_start_init_exit, 0 },
	{ "set_mem_table", t_set_mem_table, 0 },
	{ "set_mem_table_two_regions", t_set_mem_table_two_regions, 0 },
	{ "add_rem_mem_reg", t_add_rem_mem_reg, 0 },
	{ "buffer_spanning_regions", t_buffer_spanning_regions, 0 },
	{ "reset_device_reinit", t_reset_device_reinit, 0 },
	{ "inherited_fd", t_inherited_fd, 0 },
	{ "stop_restart_base", t_stop_restart_base, 0 },
	{ "no_ring_features", t_no_ring_features, 0 },
	{ "call_fd_swap", t_call_fd_swap, 0 },
	{ "mem_table_resend_running", t_mem_table_resend_running, 0 },
	{ "sigterm", t_sigterm, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
