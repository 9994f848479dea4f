/*
 * vu_mem.h - the guest memory table: regions mapped from the front-end's
 * fds, and translation of guest-physical and front-end virtual addresses
 * into pointers of our own mapping, always bounds checked.
 *
 * The table itself is not locked here; struct vu_dev protects it with its
 * mem_lock (readers: queue threads; writer: the message thread).
 */
#ifndef VU_MEM_H
#define VU_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vu_region {
	uint64_t gpa;        /* guest physical start */
	uint64_t size;       /* bytes */
	uint64_t uaddr;      /* start in the front-end's address space */
	uint64_t mmap_offset;
	void *map;           /* our mapping (covers mmap_offset + size) */
	size_t map_size;
	uint8_t *host;       /* == map + mmap_offset: byte for gpa */
};

struct vu_mem {
	struct vu_region *regions; /* sorted by gpa */
	unsigned nregions;
	unsigned max;
};

/* True when fd is a regular file shorter than len bytes (mapping len
 * bytes of it would fault past its end). */
bool vu_fd_too_small(int fd, uint64_t len);

/* Initialise an empty table that can hold up to max regions.
 * Returns 0 or -ENOMEM. */
int vu_mem_init(struct vu_mem *mem, unsigned max);

/* Unmap every region and free the table. */
void vu_mem_destroy(struct vu_mem *mem);

/* Unmap every region, keeping the table usable. */
void vu_mem_clear(struct vu_mem *mem);

/*
 * Map fd as a new region described by r (fd is not consumed).
 * Returns 0, -EINVAL for an empty, wrapping or overlapping region or one
 * past the end of a regular file,
 * -ENOSPC when the table is full, or the mmap error.
 */
int vu_mem_add(struct vu_mem *mem, const struct vu_region *r, int fd);

/*
 * Remove the region with the given gpa and size (uaddr must match too).
 * Returns 0 or -ENOENT.
 */
int vu_mem_remove(struct vu_mem *mem, uint64_t gpa, uint64_t size,
		  uint64_t uaddr);

/*
 * Translate guest-physical gpa.  On success returns a pointer and stores
 * in *len the number of bytes contiguous from there, at most the *len
 * asked for (the rest of the range lies in another region or nowhere).
 * Returns NULL when gpa is in no region.
 */
void *vu_mem_gpa(const struct vu_mem *mem, uint64_t gpa, uint64_t *len);

/*
 * vu_mem_gpa() that remembers where it found the last address: the
 * caller keeps *hint (any value to start with, typically 0) and passes it
 * on every call.  The region at index *hint is tried first; on a miss the
 * table is searched and *hint updated.  The hint is checked against the
 * current table each time, so a stale one (the table changed since) only
 * costs the search.  Same arguments and return as vu_mem_gpa().
 */
void *vu_mem_gpa_search(const struct vu_mem *mem, unsigned *hint,
			uint64_t gpa, uint64_t *len);

/* The hit test of vu_mem_gpa_search(), inlined into the descriptor walk:
 * translate gpa through the hinted region, or search. */
static inline void *vu_mem_gpa_hint(const struct vu_mem *mem, unsigned *hint,
				    uint64_t gpa, uint64_t *len)
{
	unsigned i = *hint;

	if (__builtin_expect(i < mem->nregions, 1)) {
		const struct vu_region *r = &mem->regions[i];
		/* Wraps to a huge value when gpa < r->gpa: gpa + size never
		 * wraps (vu_mem_add), so one comparison tests both ends. */
		uint64_t off = gpa - r->gpa;

		if (__builtin_expect(off < r->size, 1)) {
			if (*len > r->size - off)
				*len = r->size - off;
			return r->host + off;
		}
	}
	return vu_mem_gpa_search(mem, hint, gpa, len);
}

/*
 * The pointer to the whole range [gpa, gpa+len) when it lies inside the
 * region at index hint of the current table, else NULL (the caller then
 * takes the general way, vu_mem_gpa_hint()).  No side effect, no call:
 * the common case of the descriptor walk stays in registers.
 */
static inline void *vu_mem_range_hinted(const struct vu_mem *mem,
					unsigned hint, uint64_t gpa,
					uint64_t len)
{
	const struct vu_region *r;
	uint64_t off;

	if (__builtin_expect(hint >= mem->nregions, 0))
		return NULL;
	r = &mem->regions[hint];
	off = gpa - r->gpa;   /* huge when gpa < r->gpa: see above */
	if (__builtin_expect(off >= r->size || len > r->size - off, 0))
		return NULL;
	return r->host + off;
}

/*
 * Translate a front-end virtual range [uaddr, uaddr+len) that must lie
 * within a single region.  Returns the pointer or NULL.
 */
void *vu_mem_uva(const struct vu_mem *mem, uint64_t uaddr, uint64_t len);

#endif
