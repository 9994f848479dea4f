/*
 * vu_log.c - dirty page logging for live migration.
 *
 * Syscalls: mmap, munmap, close, fstat.
 */
#include <errno.h>
#include <sys/mman.h>

#include "vu_log.h"
#include "vu_mem.h"
#include "vu_proto.h"

int vu_log_set(struct vu_log *log, int fd, uint64_t size, uint64_t offset)
{
	void *map;
	size_t map_size;

	if (size == 0 || offset + size < offset ||
	    offset + size > (uint64_t)SIZE_MAX)
		return -EINVAL;
	map_size = offset + size;
	if (vu_fd_too_small(fd, map_size))
		return -EINVAL;   /* would fault past the file's end */
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	vu_log_clear(log);
	log->map = map;
	log->map_size = map_size;
	log->bits = (uint8_t *)map + offset;
	log->size = size;
	return 0;
}

void vu_log_clear(struct vu_log *log)
{
	if (log->map)
		munmap(log->map, log->map_size);
	log->map = NULL;
	log->bits = NULL;
	log->size = 0;
	log->map_size = 0;
}

void vu_log_write(const struct vu_log *log, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!log->bits || len == 0)
		return;
	page = gpa / VU_LOG_PAGE;
	last = (gpa + len - 1) / VU_LOG_PAGE;
	if (gpa + len - 1 < gpa)
		last = UINT64_MAX / VU_LOG_PAGE;
	for (; page <= last; page++) {
		uint64_t byte = page / 8;

		if (byte >= log->size)
			break;
		__atomic_fetch_or(&log->bits[byte], (uint8_t)(1u << (page % 8)),
				  __ATOMIC_RELAXED);
	}
}
