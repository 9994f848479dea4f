/*
 * affinity.c - --queue-affinity: parse a CPU list, check it against the
 * CPUs this process may use, and pin each ring thread to one CPU of it
 * (ring k to the k-th CPU of the list, wrapping around), so that a
 * deployment can keep each queue's thread next to the vCPU that kicks it
 * or away from other work.
 *
 * Syscalls: sched_getaffinity, sched_setaffinity.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "affinity.h"

/* One decimal CPU number at *p (advanced); -1 when there is none. */
static long cpu_number(const char **p)
{
	char *end;
	long v;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtol(*p, &end, 10);
	if (errno || v >= VFS_MAX_CPUS)
		return -1;
	*p = end;
	return v;
}

/* Parse a CPU list; see affinity.h. */
int vfs_cpus_parse(const char *s, struct vfs_cpus *out)
{
	const char *p = s;

	out->n = 0;
	for (;;) {
		long a = cpu_number(&p), b;

		if (a < 0)
			return -EINVAL;
		b = a;
		if (*p == '-') {
			p++;
			b = cpu_number(&p);
			if (b < a)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++) {
			if (out->n == VFS_MAX_CPUS)
				return -EINVAL;
			out->cpu[out->n++] = (uint16_t)c;
		}
		if (!*p)
			return 0;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
}

/* Check the list against our affinity mask; see affinity.h. */
int vfs_cpus_check(const struct vfs_cpus *c, unsigned *bad)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	for (unsigned i = 0; i < c->n; i++) {
		if (!CPU_ISSET(c->cpu[i], &set)) {
			*bad = c->cpu[i];
			return -EINVAL;
		}
	}
	return 0;
}

/* Pin a ring thread; see affinity.h. */
int vfs_cpus_pin(pthread_t t, const struct vfs_cpus *c, unsigned ring)
{
	cpu_set_t set;

	if (!c->n)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(c->cpu[ring % c->n], &set);
	return -pthread_setaffinity_np(t, sizeof(set), &set);
}
