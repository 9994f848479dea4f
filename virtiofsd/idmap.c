/*
 * idmap.c - parsing and formatting of user-namespace id maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

static int bad(const char *opt, const char *s, const char *why)
{
	fprintf(stderr, "virtiofsd: invalid value '%s' for '%s': %s "
		"(expected :namespace_id:host_id:count:)\n", s, opt, why);
	return -EINVAL;
}

/* One decimal field ending at ':'; *p advances past the ':'. */
static int field(const char **p, uint32_t *out)
{
	const char *s = *p;
	unsigned long long v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
		s++;
	}
	if (*s != ':')
		return -EINVAL;
	*out = (uint32_t)v;
	*p = s + 1;
	return 0;
}

static int overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return (uint64_t)a < (uint64_t)b + blen &&
	       (uint64_t)b < (uint64_t)a + alen;
}

int vfs_idmap_parse(const char *opt, const char *s, struct vfs_idmaps *maps)
{
	struct vfs_idmap m;
	const char *p = s;

	if (*p++ != ':')
		return bad(opt, s, "must start with ':'");
	if (field(&p, &m.ns_id) || field(&p, &m.host_id) ||
	    field(&p, &m.count) || *p)
		return bad(opt, s, "three decimal numbers, each followed by ':'");
	if (m.count == 0)
		return bad(opt, s, "count is 0");
	/* 2^32 - 1 is (uid_t)-1, never a valid id. */
	if ((uint64_t)m.ns_id + m.count > UINT32_MAX ||
	    (uint64_t)m.host_id + m.count > UINT32_MAX)
		return bad(opt, s, "range ends beyond 4294967294");
	for (unsigned i = 0; i < maps->n; i++) {
		const struct vfs_idmap *o = &maps->m[i];

		if (overlap(m.ns_id, m.count, o->ns_id, o->count) ||
		    overlap(m.host_id, m.count, o->host_id, o->count))
			return bad(opt, s, "overlaps an earlier range");
	}
	if (maps->n >= VFS_IDMAP_MAX)
		return bad(opt, s, "too many ranges");
	maps->m[maps->n++] = m;
	return 0;
}

int vfs_idmap_format(const struct vfs_idmaps *maps, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < maps->n; i++) {
		int n = snprintf(buf + used, len - used, "%u %u %u\n",
				 maps->m[i].ns_id, maps->m[i].host_id,
				 maps->m[i].count);

		if (n < 0 || (size_t)n >= len - used)
			return -ENAMETOOLONG;
		used += (size_t)n;
	}
	return (int)used;
}
