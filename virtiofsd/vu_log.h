/*
 * vu_log.h - the dirty page log shared with the front-end (LOG_SHMFD):
 * one bit per 4 KiB guest page, set atomically for every byte of guest
 * memory the daemon writes while logging is on.
 */
#ifndef VU_LOG_H
#define VU_LOG_H

#include <stddef.h>
#include <stdint.h>

struct vu_log {
	uint8_t *bits;   /* bitmap start (map + offset) */
	uint64_t size;   /* bitmap size in bytes */
	void *map;
	size_t map_size;
};

/*
 * Map a new log from fd (size bytes at offset) into *log, replacing and
 * unmapping the old one.  Returns 0 or a negative errno (old log kept;
 * -EINVAL when the log would go past the end of a regular file).
 */
int vu_log_set(struct vu_log *log, int fd, uint64_t size, uint64_t offset);

/* Unmap the log. */
void vu_log_clear(struct vu_log *log);

/*
 * Mark the pages of [gpa, gpa+len) dirty.  Pages beyond the bitmap are
 * ignored (the front-end sized the log for all of guest memory).
 */
void vu_log_write(const struct vu_log *log, uint64_t gpa, uint64_t len);

#endif
