/*
 * vfe_mem.c - guest RAM (memfd regions), allocator, dirty log.
 */
#include "vfe_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void vfe_mem_init(struct vfe_mem *m)
{
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < VFE_MAX_REGIONS; i++)
		m->r[i].fd = -1;
}

int vfe_mem_add_region(struct vfe_mem *m, uint64_t gpa, uint64_t size,
		       uint64_t mmap_offset)
{
	struct vfe_region *r;
	void *map;
	int fd;

	if (m->n >= VFE_MAX_REGIONS)
		return -ENOSPC;
	if (!size || (gpa | size | mmap_offset) % VFE_PAGE)
		return -EINVAL;
	for (unsigned i = 0; i < m->n; i++) {
		if (gpa < m->r[i].gpa + m->r[i].size &&
		    m->r[i].gpa < gpa + size)
			return -EEXIST;
	}
	fd = memfd_create("vfe-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)(mmap_offset + size)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	map = mmap(NULL, mmap_offset + size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		int e = -errno;

		close(fd);
		return e;
	}
	r = &m->r[m->n];
	r->fd = fd;
	r->map = map;
	r->map_len = mmap_offset + size;
	r->base = r->map + mmap_offset;
	r->gpa = gpa;
	r->size = size;
	r->mmap_offset = mmap_offset;
	r->next = gpa;
	return (int)m->n++;
}

void vfe_mem_destroy(struct vfe_mem *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		munmap(m->r[i].map, m->r[i].map_len);
		close(m->r[i].fd);
	}
	vfe_mem_init(m);
}

struct vu_region vfe_mem_region_desc(const struct vfe_mem *m, unsigned i)
{
	const struct vfe_region *r = &m->r[i];
	struct vu_region d = {
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (uint64_t)(uintptr_t)r->base,
		.mmap_offset = r->mmap_offset,
	};

	return d;
}

int vfe_mem_alloc_in(struct vfe_mem *m, unsigned region, uint64_t size,
		     uint64_t align, uint64_t *gpa)
{
	struct vfe_region *r;
	uint64_t at;

	if (!align)
		align = 1;
	if ((align & (align - 1)) || region >= m->n)
		return -EINVAL;
	r = &m->r[region];
	at = (r->next + align - 1) & ~(align - 1);
	if (at < r->next || at + size > r->gpa + r->size || at + size < at)
		return -ENOMEM;
	r->next = at + size;
	*gpa = at;
	return 0;
}

int vfe_mem_alloc(struct vfe_mem *m, uint64_t size, uint64_t align,
		  uint64_t *gpa)
{
	for (unsigned i = 0; i < m->n; i++) {
		int r = vfe_mem_alloc_in(m, i, size, align, gpa);

		if (r != -ENOMEM)
			return r;
	}
	return -ENOMEM;
}

int vfe_mem_zalloc(struct vfe_mem *m, uint64_t size, uint64_t align,
		   uint64_t *gpa)
{
	int r = vfe_mem_alloc(m, size, align, gpa);

	if (!r)
		memset(vfe_mem_ptr(m, *gpa, size), 0, size);
	return r;
}

void vfe_mem_mark(const struct vfe_mem *m, struct vfe_mem_mark *mk)
{
	memset(mk, 0, sizeof(*mk));
	for (unsigned i = 0; i < m->n; i++)
		mk->next[i] = m->r[i].next;
}

void vfe_mem_release(struct vfe_mem *m, const struct vfe_mem_mark *mk)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (mk->next[i] >= m->r[i].gpa && mk->next[i] < m->r[i].next)
			m->r[i].next = mk->next[i];
	}
}

/* The region holding gpa, or NULL. */
static const struct vfe_region *find(const struct vfe_mem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (gpa >= m->r[i].gpa && gpa - m->r[i].gpa < m->r[i].size)
			return &m->r[i];
	}
	return NULL;
}

void *vfe_mem_ptr(const struct vfe_mem *m, uint64_t gpa, uint64_t len)
{
	const struct vfe_region *r = find(m, gpa);

	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->base + (gpa - r->gpa);
}

uint64_t vfe_mem_uaddr(const struct vfe_mem *m, uint64_t gpa)
{
	const struct vfe_region *r = find(m, gpa);

	if (!r)
		return 0;
	return (uint64_t)(uintptr_t)(r->base + (gpa - r->gpa));
}

/* Walk [gpa, gpa+len) region by region; op 0 write, 1 read, 2 fill. */
static int walk(const struct vfe_mem *m, uint64_t gpa, void *buf,
		uint64_t len, int op, int c)
{
	uint8_t *p = buf;

	while (len) {
		const struct vfe_region *r = find(m, gpa);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		if (op == 0)
			memcpy(r->base + off, p, chunk);
		else if (op == 1)
			memcpy(p, r->base + off, chunk);
		else
			memset(r->base + off, c, chunk);
		if (p)
			p += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

int vfe_mem_write(struct vfe_mem *m, uint64_t gpa, const void *buf,
		  uint64_t len)
{
	return walk(m, gpa, (void *)buf, len, 0, 0);
}

int vfe_mem_read(const struct vfe_mem *m, uint64_t gpa, void *buf,
		 uint64_t len)
{
	return walk(m, gpa, buf, len, 1, 0);
}

int vfe_mem_fill(struct vfe_mem *m, uint64_t gpa, int c, uint64_t len)
{
	return walk(m, gpa, NULL, len, 2, c);
}

uint64_t vfe_mem_top(const struct vfe_mem *m)
{
	uint64_t top = 0;

	for (unsigned i = 0; i < m->n; i++) {
		if (m->r[i].gpa + m->r[i].size > top)
			top = m->r[i].gpa + m->r[i].size;
	}
	return top;
}

int vfe_log_create(struct vfe_log *l, uint64_t top, uint64_t offset)
{
	uint64_t pages = (top + VFE_PAGE - 1) / VFE_PAGE;
	void *map;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	/* QEMU sizes the log in 64-bit chunks. */
	l->size = (pages + 63) / 64 * 8;
	l->offset = offset;
	l->map_len = offset + l->size;
	l->fd = memfd_create("vfe-dirty-log", MFD_CLOEXEC);
	if (l->fd < 0)
		return -errno;
	if (ftruncate(l->fd, (off_t)l->map_len) < 0)
		goto fail;
	map = mmap(NULL, l->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   l->fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	l->map = map;
	return 0;
fail:;
	int e = -errno;

	close(l->fd);
	l->fd = -1;
	return e;
}

void vfe_log_clear(struct vfe_log *l)
{
	for (uint64_t i = 0; i < l->size; i++)
		__atomic_store_n(&l->map[l->offset + i], 0, __ATOMIC_RELAXED);
}

bool vfe_log_test(const struct vfe_log *l, uint64_t gpa)
{
	uint64_t page = gpa / VFE_PAGE;
	uint8_t b;

	if (page / 8 >= l->size)
		return false;
	b = __atomic_load_n(&l->map[l->offset + page / 8], __ATOMIC_ACQUIRE);
	return b & (1u << (page % 8));
}

uint64_t vfe_log_count(const struct vfe_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t n = 0;

	if (!len)
		return 0;
	for (uint64_t p = gpa / VFE_PAGE; p <= (gpa + len - 1) / VFE_PAGE; p++)
		n += vfe_log_test(l, p * VFE_PAGE);
	return n;
}

uint64_t vfe_log_count_all(const struct vfe_log *l)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < l->size; i++)
		n += (uint64_t)__builtin_popcount(l->map[l->offset + i]);
	return n;
}

void vfe_log_destroy(struct vfe_log *l)
{
	if (l->map)
		munmap(l->map, l->map_len);
	if (l->fd >= 0)
		close(l->fd);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}
