/*
 * fuzz_vq.c - libFuzzer target: descriptor-chain walking (vq_pop) and the
 * used-ring side (vq_push, event index, dirty log) over a fake guest
 * memory map whose regions and rings all live in a fuzz-controlled buffer.
 * Input: a 24-byte header, then the guest RAM bytes:
 *   u8 log2 of the queue size (mod 9), u8 flags (bit 0 indirect, bit 1
 *   event idx, bit 2 dirty log on, bit 3 used-ring logging), u16 last
 *   avail idx, u16 used idx, 2 bytes unused, u8 regions (1 + n % 3),
 *   u8 log size (bytes),
 *   u16 first region's page, u8 gap pages, u8 region split,
 *   u32 desc / avail / used offsets (front-end addresses), u16 log addr.
 * Every popped element's buffers are read and written whole, so that an
 * iovec past its region is caught by ASan (each region ends the buffer
 * or is followed by the next one, which is allowed).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fs.h"
#include "vq.h"
#include "vu_log.h"
#include "vu_mem.h"

#define UADDR_BASE (1ULL << 40)

static struct vq vq;
static struct vu_log vlog_;
static atomic_bool log_on;
static struct vq_elem elem;

/* libFuzzer: one-time set-up. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fs_setup();   /* quiet logs, limits (the fs is unused) */
	return vq_init(&vq, NULL, 0, &vlog_, &log_on) ? 1 : 0;
}

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

/* libFuzzer: one input = one ring state over one memory map. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vu_region regs[3];
	struct vu_mem mem = { .regions = regs, .max = 3 };
	uint8_t *ram, *bits;
	size_t ramlen, off = 0;
	uint64_t gpa;
	unsigned nreg;

	if (size < 24)
		return 0;
	ramlen = size - 24;
	ram = malloc(ramlen ? ramlen : 1);
	bits = malloc(data[9] ? data[9] : 1);
	if (!ram || !bits)
		abort();
	memcpy(ram, data + 24, ramlen);
	memset(bits, 0, data[9] ? data[9] : 1);
	vlog_.bits = data[9] ? bits : NULL;
	vlog_.size = data[9];
	atomic_store(&log_on, (data[1] & 4) != 0);

	/* Regions: consecutive pieces of ram, increasing guest addresses. */
	nreg = 1 + data[8] % 3;
	gpa = (uint64_t)le(data + 10, 2) * 4096;
	for (unsigned i = 0; i < nreg; i++) {
		size_t len = i + 1 < nreg ? (ramlen - off) * data[13] / 256 :
			     ramlen - off;

		if (len == 0)
			break;
		regs[mem.nregions++] = (struct vu_region){
			.gpa = gpa, .size = len, .uaddr = UADDR_BASE + gpa,
			.host = ram + off,
		};
		off += len;
		gpa += len + (uint64_t)data[12] * 4096;
	}

	vq.num = 1u << (data[0] % 9);
	vq.indirect = data[1] & 1;
	vq.event_idx = data[1] & 2;
	vq.addr_flags = data[1] & 8 ? VU_VRING_F_LOG_FLAG : 0;
	vq.last_avail_idx = (uint16_t)le(data + 2, 2);
	vq.used_idx = (uint16_t)le(data + 4, 2);
	vq.signalled_used_valid = false;
	vq.broken = false;
	vq.desc_uaddr = UADDR_BASE + le(data + 14, 3);
	vq.avail_uaddr = UADDR_BASE + le(data + 17, 3);
	vq.used_uaddr = UADDR_BASE + le(data + 20, 2) * 4u;
	vq.log_guest_addr = (uint64_t)le(data + 22, 2) * 8;
	vq.addr_set = true;
	if (vq_map(&vq, &mem) == 0 && vq.avail) {
		for (unsigned k = 0; k < 2 * vq.num + 2; k++) {
			int r = vq_pop(&vq, &mem, &elem);
			volatile uint8_t sink = 0;
			uint32_t len = 0;

			if (r == 0 || r == -EIO)
				break;
			if (r < 0)
				continue;
			for (unsigned i = 0; i < elem.out_num; i++)
				for (size_t j = 0; j < elem.out[i].iov_len; j++)
					sink ^= ((uint8_t *)elem.out[i].iov_base)[j];
			for (unsigned i = 0; i < elem.in_num; i++) {
				memset(elem.in[i].iov_base, sink,
				       elem.in[i].iov_len);
				len += (uint32_t)elem.in[i].iov_len;
			}
			vq_push(&vq, &elem, len);
			vq_notify(&vq);
		}
		vq_enable_kick_and_recheck(&vq);
	}
	vq.desc = NULL;
	vq.avail = NULL;
	vq.used = NULL;
	free(bits);
	free(ram);
	return 0;
}
