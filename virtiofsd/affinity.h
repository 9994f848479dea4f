/*
 * affinity.h - --queue-affinity: pinning the ring threads to CPUs.
 */
#ifndef AFFINITY_H
#define AFFINITY_H

#include <pthread.h>
#include <stdint.h>

#define VFS_MAX_CPUS 1024   /* CPU_SETSIZE */

/* An ordered list of CPU numbers (ring k runs on cpu[k % n]). */
struct vfs_cpus {
	uint16_t cpu[VFS_MAX_CPUS];
	unsigned n;
};

/*
 * Parse a CPU list in the kernel's cpulist syntax ("0-3,6", ranges
 * ascending, each CPU below VFS_MAX_CPUS, at most VFS_MAX_CPUS entries)
 * into *out, in the order written.  Returns 0 or -EINVAL.
 */
int vfs_cpus_parse(const char *s, struct vfs_cpus *out);

/*
 * Check that every CPU of c is in this process's affinity mask.
 * Returns 0, or -EINVAL with *bad set to the first CPU that is not
 * (or another negative errno from sched_getaffinity).
 */
int vfs_cpus_check(const struct vfs_cpus *c, unsigned *bad);

/*
 * Pin thread t, the thread of ring `ring` (0 = the high-priority queue),
 * to CPU c->cpu[ring % c->n].  Returns 0 or a negative errno.
 */
int vfs_cpus_pin(pthread_t t, const struct vfs_cpus *c, unsigned ring);

#endif
