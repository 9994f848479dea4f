/*
 * vfe_mem.h - guest RAM for the test front-end.
 *
 * Guest RAM is one or more regions, each a memfd mapped MAP_SHARED in this
 * process and handed to the daemon (SET_MEM_TABLE / ADD_MEM_REG).  A region
 * has a guest-physical base (GPA), a size, an mmap offset into its memfd
 * and a "user address": like QEMU, the front-end announces the address at
 * which it has mapped the region itself, and ring addresses
 * (SET_VRING_ADDR) are given in that address space.
 *
 * Guest-physical ranges are handed out by a bump allocator (with marks to
 * release everything allocated after a point).  A dirty log (SET_LOG_BASE)
 * is a memfd bitmap with one bit per 4 KiB guest page.
 */
#ifndef VFE_MEM_H
#define VFE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vfe_msg.h"

#define VFE_PAGE 4096ull
#define VFE_MAX_REGIONS 8

struct vfe_region {
	int fd;              /* memfd */
	uint8_t *map;        /* mapping of the whole memfd */
	uint64_t map_len;
	uint8_t *base;       /* = map + mmap_offset: GPA `gpa` lives here */
	uint64_t gpa;
	uint64_t size;
	uint64_t mmap_offset;
	uint64_t next;       /* bump pointer (GPA) */
};

struct vfe_mem {
	struct vfe_region r[VFE_MAX_REGIONS];
	unsigned n;
};

/* An allocator mark: everything allocated after it can be released. */
struct vfe_mem_mark {
	uint64_t next[VFE_MAX_REGIONS];
};

/* Initialise an empty guest memory. */
void vfe_mem_init(struct vfe_mem *m);

/*
 * Add a region: a new memfd of mmap_offset + size bytes, mapped shared.
 * gpa: its guest-physical base (page aligned); size: bytes (page multiple);
 * mmap_offset: where in the memfd the region starts (page multiple).
 * Returns the region index, or a negative errno.
 */
int vfe_mem_add_region(struct vfe_mem *m, uint64_t gpa, uint64_t size,
		       uint64_t mmap_offset);

/* Unmap and close every region. */
void vfe_mem_destroy(struct vfe_mem *m);

/* The vhost-user description of region i (gpa, size, user addr, offset). */
struct vu_region vfe_mem_region_desc(const struct vfe_mem *m, unsigned i);

/*
 * Allocate `size` bytes of guest-physical memory aligned to `align` (a power
 * of two), inside one region, from the first region with room.
 * gpa: the result.  Returns 0 or -ENOMEM.
 */
int vfe_mem_alloc(struct vfe_mem *m, uint64_t size, uint64_t align,
		  uint64_t *gpa);

/* vfe_mem_alloc() inside region `region` only. */
int vfe_mem_alloc_in(struct vfe_mem *m, unsigned region, uint64_t size,
		     uint64_t align, uint64_t *gpa);

/* Zero-filling vfe_mem_alloc(). */
int vfe_mem_zalloc(struct vfe_mem *m, uint64_t size, uint64_t align,
		   uint64_t *gpa);

/* Save the allocator position in *mk. */
void vfe_mem_mark(const struct vfe_mem *m, struct vfe_mem_mark *mk);

/* Release everything allocated since vfe_mem_mark(mk). */
void vfe_mem_release(struct vfe_mem *m, const struct vfe_mem_mark *mk);

/*
 * The local pointer for guest range [gpa, gpa+len), or NULL when the range
 * is not inside a single region.
 */
void *vfe_mem_ptr(const struct vfe_mem *m, uint64_t gpa, uint64_t len);

/* The user address (as announced to the daemon) of gpa, or 0 if unmapped. */
uint64_t vfe_mem_uaddr(const struct vfe_mem *m, uint64_t gpa);

/*
 * Copy into / out of guest memory; the range may span regions that are
 * contiguous in GPA.  Returns 0 or -EFAULT when a byte is unmapped.
 */
int vfe_mem_write(struct vfe_mem *m, uint64_t gpa, const void *buf,
		  uint64_t len);
int vfe_mem_read(const struct vfe_mem *m, uint64_t gpa, void *buf,
		 uint64_t len);

/* Fill a guest range with byte c. Returns 0 or -EFAULT. */
int vfe_mem_fill(struct vfe_mem *m, uint64_t gpa, int c, uint64_t len);

/* One past the highest guest-physical address of all regions. */
uint64_t vfe_mem_top(const struct vfe_mem *m);

/* A dirty log: bit (gpa / 4096) set when the daemon wrote that page. */
struct vfe_log {
	int fd;
	uint8_t *map;
	uint64_t size;    /* bytes of bitmap */
	uint64_t offset;  /* mmap_offset announced (bitmap starts here) */
	uint64_t map_len;
};

/*
 * Create a log memfd covering guest addresses [0, top), its bitmap starting
 * `offset` bytes into the memfd.  Returns 0 or a negative errno.
 */
int vfe_log_create(struct vfe_log *l, uint64_t top, uint64_t offset);

/* Clear every bit. */
void vfe_log_clear(struct vfe_log *l);

/* True when the page containing gpa is marked dirty. */
bool vfe_log_test(const struct vfe_log *l, uint64_t gpa);

/* Number of dirty pages in [gpa, gpa+len). */
uint64_t vfe_log_count(const struct vfe_log *l, uint64_t gpa, uint64_t len);

/* Number of dirty pages in the whole log. */
uint64_t vfe_log_count_all(const struct vfe_log *l);

/* Unmap and close the log. */
void vfe_log_destroy(struct vfe_log *l);

#endif
