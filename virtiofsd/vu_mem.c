/*
 * vu_mem.c - guest memory table and address translation.
 *
 * Syscalls: mmap, munmap, close, fstat.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log.h"
#include "vu_mem.h"

/* True when fd is a regular file (memfd, shm, hugetlbfs) shorter than
 * len bytes: mapping len bytes of it would fault past its end. */
bool vu_fd_too_small(int fd, uint64_t len)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size < len;
}

int vu_mem_init(struct vu_mem *mem, unsigned max)
{
	mem->regions = calloc(max, sizeof(*mem->regions));
	mem->nregions = 0;
	mem->max = max;
	return mem->regions ? 0 : -ENOMEM;
}

static void region_unmap(struct vu_region *r)
{
	if (r->map)
		munmap(r->map, r->map_size);
	r->map = NULL;
}

void vu_mem_clear(struct vu_mem *mem)
{
	for (unsigned i = 0; i < mem->nregions; i++)
		region_unmap(&mem->regions[i]);
	mem->nregions = 0;
}

void vu_mem_destroy(struct vu_mem *mem)
{
	vu_mem_clear(mem);
	free(mem->regions);
	mem->regions = NULL;
	mem->max = 0;
}

/* True when [a, a+alen) and [b, b+blen) intersect (no wraps: checked). */
static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vu_mem_add(struct vu_mem *mem, const struct vu_region *r, int fd)
{
	struct vu_region n = *r;
	unsigned pos;
	void *map;

	if (n.size == 0 || n.gpa + n.size < n.gpa ||
	    n.uaddr + n.size < n.uaddr ||
	    n.mmap_offset + n.size < n.mmap_offset ||
	    n.mmap_offset + n.size > (uint64_t)SIZE_MAX)
		return -EINVAL;
	if (mem->nregions >= mem->max)
		return -ENOSPC;
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct vu_region *o = &mem->regions[i];

		if (overlaps(n.gpa, n.size, o->gpa, o->size) ||
		    overlaps(n.uaddr, n.size, o->uaddr, o->size))
			return -EINVAL;
	}
	n.map_size = n.mmap_offset + n.size;
	/* A mapping past the end of a file faults (SIGBUS) when touched:
	 * refuse it here rather than die on the first request. */
	if (vu_fd_too_small(fd, n.map_size)) {
		LOG_ERR("memory region of %llu bytes at offset %llu: past the "
			"end of its file", (unsigned long long)n.size,
			(unsigned long long)n.mmap_offset);
		return -EINVAL;
	}
	map = mmap(NULL, n.map_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	n.map = map;
	n.host = (uint8_t *)map + n.mmap_offset;
	for (pos = 0; pos < mem->nregions; pos++)
		if (mem->regions[pos].gpa > n.gpa)
			break;
	memmove(&mem->regions[pos + 1], &mem->regions[pos],
		(mem->nregions - pos) * sizeof(n));
	mem->regions[pos] = n;
	mem->nregions++;
	return 0;
}

int vu_mem_remove(struct vu_mem *mem, uint64_t gpa, uint64_t size,
		  uint64_t uaddr)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		struct vu_region *r = &mem->regions[i];

		if (r->gpa != gpa || r->size != size || r->uaddr != uaddr)
			continue;
		region_unmap(r);
		memmove(r, r + 1, (mem->nregions - i - 1) * sizeof(*r));
		mem->nregions--;
		return 0;
	}
	return -ENOENT;
}

/* Binary search for the region containing gpa: its index, or
 * mem->nregions when there is none. */
static unsigned find_gpa(const struct vu_mem *mem, uint64_t gpa)
{
	unsigned lo = 0, hi = mem->nregions;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct vu_region *r = &mem->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return mid;
	}
	return mem->nregions;
}

/* Pointer to gpa inside region i (which contains it); clamps *len to the
 * bytes left in the region. */
static void *region_ptr(const struct vu_mem *mem, unsigned i, uint64_t gpa,
			uint64_t *len)
{
	const struct vu_region *r = &mem->regions[i];
	uint64_t off = gpa - r->gpa;

	if (*len > r->size - off)
		*len = r->size - off;
	return r->host + off;
}

void *vu_mem_gpa(const struct vu_mem *mem, uint64_t gpa, uint64_t *len)
{
	unsigned i = find_gpa(mem, gpa);

	return i < mem->nregions ? region_ptr(mem, i, gpa, len) : NULL;
}

void *vu_mem_gpa_search(const struct vu_mem *mem, unsigned *hint,
			uint64_t gpa, uint64_t *len)
{
	unsigned i = find_gpa(mem, gpa);

	if (i >= mem->nregions)
		return NULL;
	*hint = i;
	return region_ptr(mem, i, gpa, len);
}

void *vu_mem_uva(const struct vu_mem *mem, uint64_t uaddr, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct vu_region *r = &mem->regions[i];
		uint64_t off;

		if (uaddr < r->uaddr)
			continue;
		off = uaddr - r->uaddr;
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}
