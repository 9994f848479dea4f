/*
 * test_dirtylog.c - dirty-page logging for live migration: SET_LOG_BASE +
 * SET_FEATURES(LOG_ALL) + SET_VRING_ADDR(VHOST_VRING_F_LOG), then every
 * guest page the daemon writes (reply buffers, used ring) must be marked in
 * the log bitmap, and pages it does not write must stay clear.
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
#define PAGE VFE_PAGE

/*
 * How logging is started: like QEMU when migration begins while the device
 * runs (SET_LOG_BASE, SET_FEATURES, SET_VRING_ADDR on running rings), or
 * while it is stopped (the flags come with the next device start).
 */
static bool log_at_start;

static void start_log(struct vfe_env *e)
{
	if (!log_at_start) {
		CHECK_OK(vfe_dev_log_start(&e->dev));
		return;
	}
	CHECK_OK(vfe_dev_stop(&e->dev, NULL));
	CHECK_OK(vfe_dev_log_prepare(&e->dev));
	CHECK_OK(vfe_dev_start(&e->dev));
	/* Starting may legitimately write the used rings (flags, avail_event),
	 * also from the queue threads later: a round trip on both rings, then
	 * until each ring thread went idle (its last act is to set avail_event
	 * to the avail index, and to log that write: the notification of the
	 * reply comes before it), before the log is cleared. */
	{
		struct fuse_attr_out a;

		CHECK_OK(vfe_fuse_getattr(&e->f, ROOT, false, 0, &a));
		CHECK_OK(vfe_fuse_forget(&e->f, 0x7ffffffff0000ull, 1));
		for (unsigned q = 0; q < e->dev.nvqs; q++) {
			struct vfe_vring *vr = &e->dev.vq[q];
			int i;

			for (i = 0; i < 2000 && vr->event_idx &&
			     vfe_vring_avail_event(vr) != vr->avail_idx; i++)
				usleep(1000);
			CHECKF(i < 2000, "ring %u: avail_event %u, avail %u", q,
			       vfe_vring_avail_event(vr), vr->avail_idx);
		}
		usleep(20000);   /* the log write that follows avail_event */
	}
	vfe_log_clear(&e->dev.log);
}

/* A file of `len` bytes of pattern, opened; returns node id and fh. */
static void make_file(struct vfe_env *e, const char *name, size_t len,
		      uint64_t *nodeid, uint64_t *fh)
{
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	char *buf = malloc(len);
	size_t n = 0;

	CHECK(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i % 251);
	CHECK_OK(vfe_fuse_create(&e->f, ROOT, name, O_RDWR | O_CREAT,
				 S_IFREG | 0644, &ent, &op));
	CHECK_OK(vfe_fuse_write(&e->f, ent.nodeid, op.fh, 0, buf, len, &n));
	CHECK_EQ(n, len);
	free(buf);
	*nodeid = ent.nodeid;
	*fh = op.fh;
}

/* READ `size` bytes at 0 into a buffer of `cap` bytes at gpa. */
static size_t read_into(struct vfe_env *e, uint64_t nodeid, uint64_t fh,
			uint32_t size, uint64_t gpa, size_t cap, uint32_t seg)
{
	struct fuse_read_in ri = { .fh = fh, .size = size };
	struct vfe_fuse_call c = {
		.opcode = FUSE_READ, .nodeid = nodeid, .queue = VFE_Q_DEFAULT,
		.in = { { &ri, sizeof(ri) } }, .nin = 1, .rlen = cap,
		.data_gpa = gpa, .seg = seg,
	};

	CHECK_OK(vfe_fuse_call(&e->f, &c));
	return c.rgot;
}

/* Check the dirty state of every page of [gpa, gpa+len). */
static void expect_pages(struct vfe_env *e, const char *what, uint64_t gpa,
			 uint64_t len, bool dirty)
{
	for (uint64_t p = gpa & ~(PAGE - 1); p < gpa + len; p += PAGE)
		CHECKF(vfe_log_test(&e->dev.log, p) == dirty,
		       "%s: page 0x%llx is %s in the dirty log", what,
		       (unsigned long long)p, dirty ? "not marked" : "marked");
}

/* Name the guest page at gpa, for diagnostics. */
static const char *page_name(struct vfe_env *e, uint64_t gpa, char *b, size_t n)
{
	for (unsigned q = 0; q < e->dev.nvqs; q++) {
		struct vfe_vring *vr = &e->dev.vq[q];

		if (gpa == (vr->desc_gpa & ~(PAGE - 1)))
			return snprintf(b, n, "desc table of ring %u", q), b;
		if (gpa == (vr->avail_gpa & ~(PAGE - 1)))
			return snprintf(b, n, "avail ring of ring %u", q), b;
		if (gpa == (vr->used_gpa & ~(PAGE - 1)))
			return snprintf(b, n, "used ring of ring %u", q), b;
	}
	for (unsigned i = 0; i < e->f.nslots; i++) {
		const struct vfe_fuse_req *r = &e->f.slots[i];

		if (gpa >= r->req_gpa && gpa < r->req_gpa + VFE_REQ_CAP)
			return snprintf(b, n, "request area of slot %u", i), b;
		if (gpa >= r->rep_gpa && gpa < r->rep_gpa + VFE_REP_CAP)
			return snprintf(b, n, "reply area of slot %u", i), b;
		if (gpa >= r->data_gpa && gpa < r->data_gpa + e->f.data_cap)
			return snprintf(b, n, "data area of slot %u", i), b;
	}
	return "other";
}

/* The number of dirty pages must be `want`; lists them otherwise. */
static void expect_count(struct vfe_env *e, uint64_t want)
{
	uint64_t n = vfe_log_count_all(&e->dev.log);
	char b[64];

	if (n == want)
		return;
	for (uint64_t p = 0; p < vfe_mem_top(&e->dev.mem); p += PAGE)
		if (vfe_log_test(&e->dev.log, p))
			vfe_note("dirty page 0x%llx: %s", (unsigned long long)p,
				 page_name(e, p, b, sizeof(b)));
	vfe_fail(__FILE__, __LINE__, "%llu pages marked dirty, expected %llu",
		 (unsigned long long)n, (unsigned long long)want);
}

/* The pages the device never writes: ring descriptors, avail, requests. */
static void expect_readonly_clean(struct vfe_env *e)
{
	for (unsigned q = 0; q < e->dev.nvqs; q++) {
		struct vfe_vring *vr = &e->dev.vq[q];

		expect_pages(e, "descriptor table", vr->desc_gpa,
			     (uint64_t)vr->num * 16, false);
		expect_pages(e, "avail ring", vr->avail_gpa,
			     6 + 2 * (uint64_t)vr->num, false);
		expect_pages(e, "indirect tables", vr->ind_gpa,
			     (uint64_t)vr->num * VFE_MAX_INDIRECT * 16, false);
	}
	for (unsigned i = 0; i < e->f.nslots; i++)
		expect_pages(e, "request buffer", e->f.slots[i].req_gpa,
			     VFE_REQ_CAP, false);
}

static void t_read_marks_pages(void)
{
	struct vfe_env e;
	struct vfe_env_opts o = { .nslots = 2 };
	uint64_t nodeid, fh, buf, guard;
	size_t got;
	struct vfe_fuse_req *slot;

	vfe_env_up(&e, &o);
	make_file(&e, "f", 64 * 1024, &nodeid, &fh);
	/* 32 pages of reply data buffer, then an untouched guard area. */
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, 32 * PAGE, PAGE, &buf));
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, 16 * PAGE, PAGE, &guard));
	start_log(&e);
	expect_count(&e, 0);

	/* The file has 64 KiB: offered 128 KiB, 16 pages are written. */
	got = read_into(&e, nodeid, fh, 128 * 1024, buf, 128 * 1024, 4096);
	CHECK_EQ(got, 64 * 1024);
	expect_pages(&e, "READ data", buf, 64 * 1024, true);
	expect_pages(&e, "unwritten part of the READ buffer", buf + 64 * 1024,
		     64 * 1024, false);
	expect_pages(&e, "guard", guard, 16 * PAGE, false);
	/* The reply header went into a slot's reply area. */
	slot = &e.f.slots[0];
	CHECKF(vfe_log_test(&e.dev.log, slot->rep_gpa) ||
	       vfe_log_test(&e.dev.log, e.f.slots[1].rep_gpa),
	       "the page of the READ reply header is not marked");
	/* Used ring of the request queue, not of the hiprio queue. */
	expect_pages(&e, "request queue used ring", e.dev.vq[1].used_gpa, 4 + 8, true);
	expect_pages(&e, "hiprio used ring", e.dev.vq[0].used_gpa, 4, false);
	expect_readonly_clean(&e);
	vfe_note("%llu pages marked in total",
		 (unsigned long long)vfe_log_count_all(&e.dev.log));
	expect_count(&e, 16 + 1 + 1);

	/* A FORGET on hiprio marks the hiprio used ring. */
	vfe_log_clear(&e.dev.log);
	CHECK_OK(vfe_fuse_forget(&e.f, nodeid, 1));
	expect_pages(&e, "hiprio used ring after FORGET", e.dev.vq[0].used_gpa, 4,
		     true);
	vfe_env_down(&e);
}

/* A buffer unaligned and spanning pages: exactly the touched pages. */
static void t_read_unaligned(void)
{
	struct vfe_env e;
	uint64_t nodeid, fh, buf;
	size_t got;

	vfe_env_up(&e, NULL);
	make_file(&e, "f", 5000, &nodeid, &fh);
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, 8 * PAGE, PAGE, &buf));
	start_log(&e);
	/* 5000 bytes from buf+PAGE+4000: pages 1, 2 and 3 of buf; 0, 4.. not. */
	got = read_into(&e, nodeid, fh, 8192, buf + PAGE + 4000, 8192, 0);
	CHECK_EQ(got, 5000);
	expect_pages(&e, "READ data", buf + PAGE + 4000, 5000, true);
	expect_pages(&e, "before the READ data", buf, PAGE, false);
	expect_pages(&e, "after the READ data", buf + 4 * PAGE, 4 * PAGE, false);
	vfe_env_down(&e);
}

/* A WRITE request: its data is read, not written, by the device. */
static void t_write_not_marked(void)
{
	struct vfe_env e;
	uint64_t nodeid, fh;
	static char data[256 * 1024];
	size_t n = 0;

	vfe_env_up(&e, NULL);
	make_file(&e, "f", 10, &nodeid, &fh);
	start_log(&e);
	memset(data, 'w', sizeof(data));
	CHECK_OK(vfe_fuse_write(&e.f, nodeid, fh, 0, data, sizeof(data), &n));
	CHECK_EQ(n, sizeof(data));
	for (unsigned i = 0; i < e.f.nslots; i++)
		expect_pages(&e, "WRITE data buffer", e.f.slots[i].data_gpa,
			     sizeof(data), false);
	expect_pages(&e, "request queue used ring", e.dev.vq[1].used_gpa, 12, true);
	expect_readonly_clean(&e);
	/* Reply header page + used ring page. */
	expect_count(&e, 2);
	vfe_env_down(&e);
}

/* Logging stopped (migration cancelled): nothing is marked any more. */
static void t_log_stop(void)
{
	struct vfe_env e;
	uint64_t nodeid, fh, buf;

	vfe_env_up(&e, NULL);
	make_file(&e, "f", 32768, &nodeid, &fh);
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, 8 * PAGE, PAGE, &buf));
	CHECK_OK(vfe_dev_log_start(&e.dev));
	CHECK_EQ(read_into(&e, nodeid, fh, 32768, buf, 32768, 0), 32768);
	CHECK(vfe_log_count_all(&e.dev.log) >= 8);
	CHECK_OK(vfe_dev_log_stop(&e.dev));
	/* Like QEMU, log_stop does not wait for acks; a round trip makes
	 * sure the daemon has seen LOG_ALL cleared before we look. */
	{
		uint64_t f;

		CHECK_OK(vfe_msg_get_u64(e.dev.sock, VU_GET_FEATURES, &f, 5000));
	}
	vfe_log_clear(&e.dev.log);
	CHECK_EQ(read_into(&e, nodeid, fh, 32768, buf, 32768, 0), 32768);
	expect_count(&e, 0);
	/* And on again. */
	CHECK_OK(vfe_dev_log_start(&e.dev));
	CHECK_EQ(read_into(&e, nodeid, fh, 32768, buf, 32768, 0), 32768);
	expect_pages(&e, "READ data after restarting the log", buf, 32768, true);
	vfe_env_down(&e);
}

/* Without VHOST_VRING_F_LOG the data is still logged. */
static void t_log_without_vring_flag(void)
{
	struct vfe_env e;
	uint64_t nodeid, fh, buf;

	vfe_env_up(&e, NULL);
	make_file(&e, "f", 8192, &nodeid, &fh);
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, 2 * PAGE, PAGE, &buf));
	CHECK_OK(vfe_dev_log_start(&e.dev));
	e.dev.vring_flags = 0;
	for (unsigned i = 0; i < e.dev.nvqs; i++)
		CHECK_OK(vfe_dev_set_vring_addr(&e.dev, i));
	vfe_log_clear(&e.dev.log);
	CHECK_EQ(read_into(&e, nodeid, fh, 8192, buf, 8192, 0), 8192);
	expect_pages(&e, "READ data", buf, 8192, true);
	vfe_note("used ring page %s without VHOST_VRING_F_LOG",
		 vfe_log_test(&e.dev.log, e.dev.vq[1].used_gpa) ? "marked" : "not marked");
	vfe_env_down(&e);
}

/* SET_LOG_BASE again (resize): the new log is used, the old one is not. */
static void t_log_resize(void)
{
	struct vfe_env e;
	struct vfe_log old;
	struct vu_log l;
	uint64_t nodeid, fh, buf, v = 1;

	vfe_env_up(&e, NULL);
	make_file(&e, "f", 4096, &nodeid, &fh);
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, PAGE, PAGE, &buf));
	CHECK_OK(vfe_dev_log_start(&e.dev));
	CHECK_EQ(read_into(&e, nodeid, fh, 4096, buf, 4096, 0), 4096);
	expect_pages(&e, "READ data", buf, 4096, true);
	old = e.dev.log;
	/* A new, bigger log whose bitmap starts 8 KiB into its memfd. */
	CHECK_OK(vfe_log_create(&e.dev.log, vfe_mem_top(&e.dev.mem) * 2, 8192));
	l.mmap_size = e.dev.log.size;
	l.mmap_offset = e.dev.log.offset;
	CHECK_OK(vfe_msg_send(e.dev.sock, VU_SET_LOG_BASE, 0, &l, sizeof(l),
			      &e.dev.log.fd, 1));
	CHECK_OK(vfe_msg_recv_reply(e.dev.sock, VU_SET_LOG_BASE, &v, 8, 5000));
	CHECK_EQ(v, 0);
	vfe_log_clear(&old);
	CHECK_EQ(read_into(&e, nodeid, fh, 4096, buf, 4096, 0), 4096);
	expect_pages(&e, "READ data in the new log", buf, 4096, true);
	CHECKF(vfe_log_count_all(&old) == 0, "the old log was written after the resize");
	/* The first 8 KiB of the new memfd are not the bitmap. */
	for (unsigned i = 0; i < 8192; i++)
		CHECKF(e.dev.log.map[i] == 0,
		       "byte %u before mmap_offset of the log was written", i);
	vfe_log_destroy(&old);
	vfe_env_down(&e);
}

/* Logging already on when the device starts (QEMU: SET_LOG_BASE in start). */
static void t_log_across_restart(void)
{
	struct vfe_env e;
	uint64_t nodeid, fh, buf;

	vfe_env_up(&e, NULL);
	make_file(&e, "f", 16384, &nodeid, &fh);
	CHECK_OK(vfe_mem_zalloc(&e.dev.mem, 4 * PAGE, PAGE, &buf));
	CHECK_OK(vfe_dev_log_start(&e.dev));
	CHECK_OK(vfe_dev_stop(&e.dev, NULL));
	vfe_log_clear(&e.dev.log);
	CHECK_OK(vfe_dev_start(&e.dev));
	CHECK_EQ(read_into(&e, nodeid, fh, 16384, buf, 16384, 0), 16384);
	expect_pages(&e, "READ data after restart", buf, 16384, true);
	expect_pages(&e, "used ring after restart", e.dev.vq[1].used_gpa, 12, true);
	vfe_env_down(&e);
}

static void t_read_marks_pages_at_start(void)
{
	log_at_start = true;
	t_read_marks_pages();
}

static void t_read_unaligned_at_start(void)
{
	log_at_start = true;
	t_read_unaligned();
}

static void t_write_not_marked_at_start(void)
{
	log_at_start = true;
	t_write_not_marked();
}

static const struct vfe_test tests[] = {
	{ "read_marks_pages", t_read_marks_pages, 0 },
	{ "read_unaligned", t_read_unaligned, 0 },
	{ "write_not_marked", t_write_not_marked, 0 },
	{ "log_stop", t_log_stop, 0 },
	{ "log_without_vring_flag", t_log_without_vring_flag, 0 },
	{ "log_resize", t_log_resize, 0 },
	{ "log_across_restart", t_log_across_restart, 0 },
	{ "read_marks_pages_at_start", t_read_marks_pages_at_start, 0 },
	{ "read_unaligned_at_start", t_read_unaligned_at_start, 0 },
	{ "write_not_marked_at_start", t_write_not_marked_at_start, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
