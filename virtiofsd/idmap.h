/*
 * idmap.h - user-namespace id maps (--uid-map / --gid-map), in the Rust
 * virtiofsd's syntax ":namespace_id:host_id:count:".
 */
#ifndef IDMAP_H
#define IDMAP_H

#include <stddef.h>
#include <stdint.h>

/* The kernel accepts up to 340 lines per map; callers pass a handful. */
#define VFS_IDMAP_MAX 32

struct vfs_idmap {
	uint32_t ns_id;    /* first id inside the namespace */
	uint32_t host_id;  /* first id outside (in the parent namespace) */
	uint32_t count;    /* length of the range, >= 1 */
};

struct vfs_idmaps {
	unsigned n;
	struct vfs_idmap m[VFS_IDMAP_MAX];
};

/*
 * Parse one ":ns:host:count:" value of option opt and append it to *maps
 * (the options are repeatable).  Ranges must not wrap around 2^32 - 1
 * (the invalid id) and must not overlap an earlier range inside or
 * outside.  Prints one line naming the option on error.
 * Returns 0 or -EINVAL.
 */
int vfs_idmap_parse(const char *opt, const char *s, struct vfs_idmaps *maps);

/*
 * Write maps as the kernel's /proc/<pid>/uid_map text ("ns host count\n"
 * per range) into buf of size len.  Returns the length written or
 * -ENAMETOOLONG when buf is too small.
 */
int vfs_idmap_format(const struct vfs_idmaps *maps, char *buf, size_t len);

#endif
