/*
 * test_vu_mem.c - checks on mapping guest memory: the memory table and
 * the dirty log refuse a mapping past the end of their file (it would
 * fault with SIGBUS when touched; found by tests/fuzz/fuzz_vhost_user),
 * and vq_map refuses misaligned rings (undefined behaviour on access;
 * found by tests/fuzz/fuzz_vq).
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>

#include "log.h"
#include "vq.h"
#include "vu_log.h"
#include "vu_mem.h"

#include "unit_check.h"

int main(void)
{
	struct vu_mem mem;
	struct vu_log log = { 0 };
	struct vu_region r = { .gpa = 0, .size = 4096, .uaddr = 1 << 20,
			       .mmap_offset = 4096 };
	int fd = memfd_create("ram", 0);

	vlog_init(VLOG_OFF, false);
	CHECK(fd >= 0 && ftruncate(fd, 8192) == 0);
	CHECK(vu_mem_init(&mem, 4) == 0);
	/* offset 4096 + 4096 bytes: the whole file */
	CHECK(vu_mem_add(&mem, &r, fd) == 0);
	CHECK(mem.nregions == 1);
	/* one page more than the file holds */
	r.gpa = 1 << 20;
	r.uaddr = 2 << 20;
	r.size = 8192;
	CHECK(vu_mem_add(&mem, &r, fd) == -EINVAL);
	r.size = 4096;
	r.mmap_offset = 8192;
	CHECK(vu_mem_add(&mem, &r, fd) == -EINVAL);
	CHECK(mem.nregions == 1);
	/* the region that was accepted is usable end to end */
	{
		uint64_t len = 4096;
		volatile uint8_t *p = vu_mem_gpa(&mem, 0, &len);

		CHECK(p && len == 4096);
		if (p)
			p[4095] = 1;
	}
	/* rings: aligned accepted, misaligned refused */
	{
		static const struct { uint64_t d, a, u; int ret; } c[] = {
			{ 0, 1024, 2048, 0 }, { 8, 1024, 2048, -EINVAL },
			{ 0, 1025, 2048, -EINVAL }, { 0, 1024, 2050, -EINVAL },
			{ 0, 1026, 2052, 0 }, { 0, 1024, 4040, -EFAULT },
		};
		atomic_bool on = false;
		struct vq vq;

		CHECK(vq_init(&vq, NULL, 0, &log, &on) == 0);
		vq.num = 8;
		vq.addr_set = true;
		for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			vq.desc_uaddr = (1 << 20) + c[i].d;
			vq.avail_uaddr = (1 << 20) + c[i].a;
			vq.used_uaddr = (1 << 20) + c[i].u;
			int r = vq_map(&vq, &mem);

			if (r != c[i].ret)
				fprintf(stderr, "case %u: %d\n", i, r);
			CHECK(r == c[i].ret);
			CHECK((vq.desc != NULL) == (c[i].ret == 0));
		}
		vq_destroy(&vq);
	}
	vu_mem_destroy(&mem);

	CHECK(vu_log_set(&log, fd, 4096, 4096) == 0);
	CHECK(vu_log_set(&log, fd, 4096, 8192) == -EINVAL);
	CHECK(vu_log_set(&log, fd, 16384, 0) == -EINVAL);
	CHECK(log.size == 4096);   /* the old log kept */
	vu_log_clear(&log);
	close(fd);
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
