/*
 * test_vq_pop.c - the descriptor walk (vq_pop) on the chain shapes the
 * guest drivers use and on every malformed shape it must refuse, over a
 * fake guest memory of three regions (two adjacent in guest-physical
 * space but not in ours, one after a gap), and the dirty log of vq_push.
 *
 * Guest memory map (guest-physical):
 *   0x00000-0x08000  region 0 (ram0): rings at 0, buffers, tables
 *   0x08000-0x10000  region 1 (ram1): adjacent, mapped elsewhere
 *   0x20000-0x21000  region 2 (ram2): after a gap
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "vq.h"
#include "vu_log.h"
#include "vu_mem.h"

#include "unit_check.h"

#define QSZ 8
#define UBASE 0x100000000ULL
#define DESC_GPA 0x0
#define AVAIL_GPA 0x100
#define USED_GPA 0x200
#define TABLE_GPA 0x1000      /* indirect tables: 0x1000-0x6000 */

static uint8_t ram0[0x8000] __attribute__((aligned(4096)));
static uint8_t ram1[0x8000] __attribute__((aligned(4096)));
static uint8_t ram2[0x1000] __attribute__((aligned(4096)));
static struct vu_region regs[3];
static struct vu_mem mem = { .regions = regs, .nregions = 3, .max = 3 };
static struct vq vq;
static struct vq_elem elem;
static uint8_t bits[8];
static struct vu_log vlog_ = { .bits = bits, .size = sizeof(bits) };
static atomic_bool log_on;

/* Our pointer to a guest-physical address (test layout only). */
static void *gp(uint64_t gpa)
{
	if (gpa < 0x8000)
		return ram0 + gpa;
	if (gpa < 0x10000)
		return ram1 + (gpa - 0x8000);
	return ram2 + (gpa - 0x20000);
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc *d = (struct vring_desc *)gp(table) + i;

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Offer head on the avail ring and pop once. */
static int offer_pop(unsigned head)
{
	struct vring_avail *a = gp(AVAIL_GPA);

	a->ring[a->idx % QSZ] = (uint16_t)head;
	a->idx++;
	return vq_pop(&vq, &mem, &elem);
}

/* The last used entry is {head, 0} (a refused chain). */
static bool last_used_empty(unsigned head)
{
	struct vring_used *u = gp(USED_GPA);
	struct vring_used_elem *e = &u->ring[(uint16_t)(u->idx - 1) % QSZ];

	return u->idx == vq.used_idx && e->id == head && e->len == 0;
}

/* Offer a chain expected to be refused with err; check it went back. */
static void refused(unsigned head, int err, int line)
{
	uint16_t before = vq.used_idx;
	int r = offer_pop(head);

	if (r != err || vq.used_idx != (uint16_t)(before + 1) ||
	    !last_used_empty(head)) {
		fprintf(stderr, "line %d: vq_pop %d, wanted %d\n", line, r, err);
		failures++;
	}
}

#define REFUSED(head, err) refused(head, err, __LINE__)

static void setup(void)
{
	regs[0] = (struct vu_region){ .gpa = 0, .size = 0x8000,
				      .uaddr = UBASE, .host = ram0 };
	regs[1] = (struct vu_region){ .gpa = 0x8000, .size = 0x8000,
				      .uaddr = UBASE + 0x8000, .host = ram1 };
	regs[2] = (struct vu_region){ .gpa = 0x20000, .size = 0x1000,
				      .uaddr = UBASE + 0x20000, .host = ram2 };
	vq_init(&vq, NULL, 0, &vlog_, &log_on);
	vq.num = QSZ;
	vq.addr_set = true;
	vq.indirect = true;
	vq.desc_uaddr = UBASE + DESC_GPA;
	vq.avail_uaddr = UBASE + AVAIL_GPA;
	vq.used_uaddr = UBASE + USED_GPA;
	vq.log_guest_addr = USED_GPA;
	vq.addr_flags = VU_VRING_F_LOG_FLAG;
	CHECK(vq_map(&vq, &mem) == 0);
}

/* The shapes of well-formed chains. */
static void good_shapes(void)
{
	/* empty ring */
	CHECK(vq_pop(&vq, &mem, &elem) == 0);

	/* direct: request in one readable, reply in one writable */
	set_desc(DESC_GPA, 0, 0x3000, 56, VRING_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, 0x9000, 120, VRING_DESC_F_WRITE, 0);
	CHECK(offer_pop(0) == 1);
	CHECK(elem.head == 0 && elem.out_num == 1 && elem.in_num == 1);
	CHECK(elem.out[0].iov_base == gp(0x3000) && elem.out[0].iov_len == 56);
	CHECK(elem.in[0].iov_base == gp(0x9000) && elem.in[0].iov_len == 120);
	CHECK(elem.in_gpa[0] == 0x9000);

	/* direct, 4 descriptors in reverse table order, a zero-length one */
	set_desc(DESC_GPA, 7, 0x3000, 40, VRING_DESC_F_NEXT, 5);
	set_desc(DESC_GPA, 5, 0x20010, 16, VRING_DESC_F_NEXT, 4);
	set_desc(DESC_GPA, 4, 0x3100, 0, VRING_DESC_F_NEXT, 3);
	set_desc(DESC_GPA, 3, 0x9100, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(DESC_GPA, 2, 0x9200, 104, VRING_DESC_F_WRITE, 0);
	CHECK(offer_pop(7) == 1);
	CHECK(elem.head == 7 && elem.out_num == 2 && elem.in_num == 2);
	CHECK(elem.out[1].iov_base == gp(0x20010) && elem.out[1].iov_len == 16);
	CHECK(elem.in[1].iov_base == gp(0x9200) && elem.in[1].iov_len == 104);
	CHECK(elem.in_gpa[1] == 0x9200);

	/* indirect: header, args, reply header, reply payload (Linux) */
	set_desc(DESC_GPA, 6, TABLE_GPA, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(TABLE_GPA, 0, 0x3000, 40, VRING_DESC_F_NEXT, 1);
	set_desc(TABLE_GPA, 1, 0x3028, 16, VRING_DESC_F_NEXT, 2);
	set_desc(TABLE_GPA, 2, 0x20100, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	set_desc(TABLE_GPA, 3, 0x9800, 104, VRING_DESC_F_WRITE, 0);
	CHECK(offer_pop(6) == 1);
	CHECK(elem.head == 6 && elem.out_num == 2 && elem.in_num == 2);
	CHECK(elem.out[0].iov_base == gp(0x3000) && elem.out[1].iov_base == gp(0x3028));
	CHECK(elem.in[0].iov_base == gp(0x20100) && elem.in[0].iov_len == 16);
	CHECK(elem.in[1].iov_base == gp(0x9800) && elem.in_gpa[1] == 0x9800);

	/* a chain through the whole table */
	for (unsigned i = 0; i < QSZ; i++)
		set_desc(DESC_GPA, i, 0x3000 + 16 * i, 16,
			 i + 1 < QSZ ? VRING_DESC_F_NEXT : 0, (i + 1) % QSZ);
	CHECK(offer_pop(0) == 1 && elem.out_num == QSZ);
	CHECK(elem.out[QSZ - 1].iov_base == gp(0x3000 + 16 * (QSZ - 1)));

	/* a buffer across regions 0 and 1 is split where they meet */
	set_desc(DESC_GPA, 0, 0x7ff0, 0x30, VRING_DESC_F_WRITE, 0);
	CHECK(offer_pop(0) == 1);
	CHECK(elem.out_num == 0 && elem.in_num == 2);
	CHECK(elem.in[0].iov_base == gp(0x7ff0) && elem.in[0].iov_len == 0x10);
	CHECK(elem.in[1].iov_base == gp(0x8000) && elem.in[1].iov_len == 0x20);
	CHECK(elem.in_gpa[0] == 0x7ff0 && elem.in_gpa[1] == 0x8000);

	/* exactly FV_MAX_IOV segments (indirect, one byte each) */
	for (unsigned i = 0; i < FV_MAX_IOV; i++)
		set_desc(TABLE_GPA, i, 0x3000 + i, 1,
			 i + 1 < FV_MAX_IOV ? VRING_DESC_F_NEXT : 0, i + 1);
	set_desc(DESC_GPA, 1, TABLE_GPA, FV_MAX_IOV * 16,
		 VRING_DESC_F_INDIRECT, 0);
	CHECK(offer_pop(1) == 1);
	CHECK(elem.out_num == FV_MAX_IOV && elem.in_num == 0);
	CHECK(elem.out[FV_MAX_IOV - 1].iov_base == gp(0x3000 + FV_MAX_IOV - 1));
}

/* Every malformed shape is refused and returned empty. */
static void bad_shapes(void)
{
	/* next out of the table */
	set_desc(DESC_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, QSZ);
	REFUSED(0, -EINVAL);
	/* loop */
	set_desc(DESC_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, 0x3000, 8, VRING_DESC_F_NEXT, 0);
	REFUSED(0, -ELOOP);
	/* readable after writable */
	set_desc(DESC_GPA, 0, 0x9000, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, 0x3000, 8, 0, 0);
	REFUSED(0, -EINVAL);
	/* buffers: in the gap, running into the gap, past the end, wrapping */
	set_desc(DESC_GPA, 0, 0x10000, 8, 0, 0);
	REFUSED(0, -EFAULT);
	set_desc(DESC_GPA, 0, 0xfff0, 0x20, VRING_DESC_F_WRITE, 0);
	REFUSED(0, -EFAULT);
	set_desc(DESC_GPA, 0, 0x20ff8, 9, 0, 0);
	REFUSED(0, -EFAULT);
	set_desc(DESC_GPA, 0, UINT64_MAX - 0x10, 0x20, 0, 0);
	REFUSED(0, -EFAULT);
	/* a good buffer, then a bad one: the first is not enough */
	set_desc(DESC_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, 0x30000, 8, VRING_DESC_F_WRITE, 0);
	REFUSED(0, -EFAULT);

	/* indirect: not negotiated */
	set_desc(DESC_GPA, 2, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	set_desc(TABLE_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(TABLE_GPA, 1, 0x9000, 8, VRING_DESC_F_WRITE, 0);
	vq.indirect = false;
	REFUSED(2, -EINVAL);
	vq.indirect = true;
	CHECK(offer_pop(2) == 1 && elem.out_num == 1 && elem.in_num == 1);
	/* with NEXT, or not first in its chain */
	set_desc(DESC_GPA, 2, TABLE_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 3);
	set_desc(DESC_GPA, 3, 0x9000, 8, VRING_DESC_F_WRITE, 0);
	REFUSED(2, -EINVAL);
	set_desc(DESC_GPA, 3, 0x3000, 8, VRING_DESC_F_NEXT, 2);
	set_desc(DESC_GPA, 2, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	REFUSED(3, -EINVAL);
	/* nested: first and alone in the table, or later in it */
	set_desc(TABLE_GPA + 0x100, 0, 0x3000, 8, 0, 0);
	set_desc(TABLE_GPA, 0, TABLE_GPA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EINVAL);
	set_desc(TABLE_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EINVAL);
	/* table lengths: 0, not a multiple of 16, more than VQ_MAX_SIZE */
	set_desc(TABLE_GPA, 1, 0x9000, 8, VRING_DESC_F_WRITE, 0);
	set_desc(DESC_GPA, 2, TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EINVAL);
	set_desc(DESC_GPA, 2, TABLE_GPA, 33, VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EINVAL);
	set_desc(DESC_GPA, 2, TABLE_GPA, (VQ_MAX_SIZE + 1) * 16,
		 VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EINVAL);
	/* table in the gap, across the end of region 1 into the gap, and
	 * across regions 0 and 1 (it must be contiguous in our mapping) */
	set_desc(DESC_GPA, 2, 0x18000, 32, VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EFAULT);
	set_desc(DESC_GPA, 2, 0xfff0, 32, VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EFAULT);
	set_desc(DESC_GPA, 2, 0x7ff0, 32, VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -EFAULT);
	/* inside the table: index past its end, a loop */
	set_desc(DESC_GPA, 2, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	set_desc(TABLE_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 2);
	REFUSED(2, -EINVAL);
	set_desc(TABLE_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(TABLE_GPA, 1, 0x3000, 8, VRING_DESC_F_NEXT, 0);
	REFUSED(2, -ELOOP);
	/* one segment too many, and too many through a region split */
	for (unsigned i = 0; i <= FV_MAX_IOV; i++)
		set_desc(TABLE_GPA, i, 0x3000 + i, 1,
			 i < FV_MAX_IOV ? VRING_DESC_F_NEXT : 0, i + 1);
	set_desc(DESC_GPA, 2, TABLE_GPA, (FV_MAX_IOV + 1) * 16,
		 VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -E2BIG);
	set_desc(TABLE_GPA, FV_MAX_IOV - 1, 0x7fff, 2, 0, 0);
	set_desc(DESC_GPA, 2, TABLE_GPA, FV_MAX_IOV * 16,
		 VRING_DESC_F_INDIRECT, 0);
	REFUSED(2, -E2BIG);

	/* a head out of range is skipped, not put on the used ring */
	{
		uint16_t before = vq.used_idx;

		CHECK(offer_pop(QSZ) == -EINVAL && vq.used_idx == before);
	}
	/* the queue goes on after all of that */
	set_desc(DESC_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, 0x9000, 8, VRING_DESC_F_WRITE, 0);
	CHECK(offer_pop(0) == 1 && !vq.broken);
	/* an avail index too far ahead breaks the ring */
	((struct vring_avail *)gp(AVAIL_GPA))->idx += QSZ + 1;
	CHECK(vq_pop(&vq, &mem, &elem) == -EIO && vq.broken);
	vq.broken = false;
	vq.last_avail_idx = ((struct vring_avail *)gp(AVAIL_GPA))->idx;
}

static bool page_dirty(uint64_t gpa)
{
	return bits[gpa / 4096 / 8] & (1u << (gpa / 4096 % 8));
}

/* vq_push marks exactly the written bytes' pages and the used ring. */
static void push_log(void)
{
	struct vring_used *u = gp(USED_GPA);

	/* reply over pages 4 and 5 of region 0, then page 0 of region 1 */
	set_desc(DESC_GPA, 0, 0x3000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, 0x4ff0, 0x20, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(DESC_GPA, 2, 0x8000, 0x100, VRING_DESC_F_WRITE, 0);
	CHECK(offer_pop(0) == 1 && elem.in_num == 2);

	atomic_store(&log_on, false);
	vq_push(&vq, &elem, 0x20);
	CHECK(u->ring[(uint16_t)(u->idx - 1) % QSZ].len == 0x20);
	for (unsigned i = 0; i < sizeof(bits); i++)
		CHECK(bits[i] == 0);

	atomic_store(&log_on, true);
	CHECK(offer_pop(0) == 1);
	vq_push(&vq, &elem, 0x10);
	CHECK(page_dirty(0x4000) && !page_dirty(0x5000) && !page_dirty(0x8000));
	CHECK(page_dirty(USED_GPA) && !page_dirty(0x3000));
	memset(bits, 0, sizeof(bits));
	CHECK(offer_pop(0) == 1);
	vq_push(&vq, &elem, 0x21);
	CHECK(page_dirty(0x4000) && page_dirty(0x5000) && page_dirty(0x8000));
	CHECK(!page_dirty(0x9000));
	CHECK(u->ring[(uint16_t)(u->idx - 1) % QSZ].id == 0 &&
	      u->ring[(uint16_t)(u->idx - 1) % QSZ].len == 0x21);
	atomic_store(&log_on, false);
}

/* The region hint: stale or out-of-range values only cost a search. */
static void hint(void)
{
	unsigned h = 2;
	uint64_t len = 0x100;

	CHECK(vu_mem_gpa_hint(&mem, &h, 0x7f80, &len) == gp(0x7f80));
	CHECK(h == 0 && len == 0x80);
	len = 0x100;
	CHECK(vu_mem_gpa_hint(&mem, &h, 0x8000, &len) == gp(0x8000));
	CHECK(h == 1 && len == 0x100);
	len = 1;
	CHECK(vu_mem_gpa_hint(&mem, &h, 0x10000, &len) == NULL && h == 1);
	h = 77;
	len = 0x2000;
	CHECK(vu_mem_gpa_hint(&mem, &h, 0x20800, &len) == gp(0x20800));
	CHECK(h == 2 && len == 0x800);
	/* the table shrinks under a hint */
	mem.nregions = 2;
	len = 1;
	CHECK(vu_mem_gpa_hint(&mem, &h, 0x20800, &len) == NULL);
	CHECK(vu_mem_gpa_hint(&mem, &h, 0x100, &len) == gp(0x100) && h == 0);
	mem.nregions = 3;
}

int main(void)
{
	vlog_init(VLOG_OFF, false);
	setup();
	good_shapes();
	bad_shapes();
	push_log();
	hint();
	vq_destroy(&vq);
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
