/*
 * pt_idmap.c - parser and lookup of --translate-uid / --translate-gid
 * entries (see pt_idmap.h for the syntax and semantics).
 *
 * Each direction is a small array of entries searched linearly: there are
 * as many entries as command-line options, and the array never changes
 * once the daemon serves requests.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_idmap.h"

enum idm_kind { IDM_RANGE, IDM_SQUASH, IDM_FAIL };

struct idm_entry {
	enum idm_kind kind;
	uint32_t from;   /* first source id */
	uint32_t count;  /* > 0 */
	uint32_t to;     /* first target id, or the single target */
};

struct idm_dir {
	struct idm_entry *e;
	size_t n;
};

struct pt_idmap {
	struct idm_dir g2h;   /* guest -> host */
	struct idm_dir h2g;   /* host -> guest */
};

#define IDM_NOID 0xffffffffu

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A new empty map. */
struct pt_idmap *pt_idmap_new(void)
{
	return calloc(1, sizeof(struct pt_idmap));
}

/* Free a map (NULL is ignored). */
void pt_idmap_free(struct pt_idmap *m)
{
	if (!m)
		return;
	free(m->g2h.e);
	free(m->h2g.e);
	free(m);
}

/* True when m maps nothing. */
bool pt_idmap_empty(const struct pt_idmap *m)
{
	return !m || (!m->g2h.n && !m->h2g.n);
}

/* Entry of d covering id, or NULL. */
static const struct idm_entry *lookup(const struct idm_dir *d, uint32_t id)
{
	for (size_t i = 0; i < d->n; i++)
		if (id >= d->e[i].from && id - d->e[i].from < d->e[i].count)
			return &d->e[i];
	return NULL;
}

static uint32_t apply(const struct idm_entry *e, uint32_t id)
{
	return e->kind == IDM_SQUASH ? e->to : e->to + (id - e->from);
}

/* Guest id -> host id; see pt_idmap.h. */
int pt_idmap_to_host(const struct pt_idmap *m, uint32_t guest,
		     uint32_t *host)
{
	const struct idm_entry *e = m ? lookup(&m->g2h, guest) : NULL;

	if (!e) {
		*host = guest;
		return 0;
	}
	if (e->kind == IDM_FAIL)
		return -EPERM;
	*host = apply(e, guest);
	return 0;
}

/* Host id -> guest id; see pt_idmap.h. */
uint32_t pt_idmap_to_guest(const struct pt_idmap *m, uint32_t host)
{
	const struct idm_entry *e = m ? lookup(&m->h2g, host) : NULL;

	return e ? apply(e, host) : host;
}

/* Append e to d unless its source range overlaps an entry. */
static int push(struct idm_dir *d, const struct idm_entry *e,
		const char *dirname, const char *spec, char *err,
		size_t errlen)
{
	struct idm_entry *ne;

	for (size_t i = 0; i < d->n; i++) {
		const struct idm_entry *o = &d->e[i];

		if ((uint64_t)e->from < (uint64_t)o->from + o->count &&
		    (uint64_t)o->from < (uint64_t)e->from + e->count) {
			seterr(err, errlen, "'%s': %s range overlaps an "
			       "earlier mapping", spec, dirname);
			return -EINVAL;
		}
	}
	ne = realloc(d->e, (d->n + 1) * sizeof(*ne));
	if (!ne) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->e = ne;
	d->e[d->n++] = *e;
	return 0;
}

/* Parse "123" (an optional '+' then decimal digits) as a u32. */
static int parse_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (len && s[0] == '+')
		i++;
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Check [base, base+count) fits below the "no id" value -1. */
static bool range_ok(uint32_t base, uint32_t count)
{
	return (uint64_t)base + count <= IDM_NOID;
}

/* Parse one spec into m; see pt_idmap.h. */
int pt_idmap_add(struct pt_idmap *m, const char *spec, char *err,
		 size_t errlen)
{
	static const char *const types[] = { "guest", "host", "squash-guest",
					     "squash-host", "forbid-guest",
					     "map" };
	char type[16];
	uint32_t v[3];
	size_t tl = 0, nv = 0, want;
	const char *p = spec;
	struct idm_entry e;
	char sep;
	int t = -1, r;

	while (*p && (isalnum((unsigned char)*p) || *p == '-' || *p == '_')) {
		if (tl + 1 < sizeof(type))
			type[tl] = (char)tolower((unsigned char)*p);
		tl++;
		p++;
	}
	if (tl < sizeof(type)) {
		type[tl] = '\0';
		for (int i = 0; i < 6; i++)
			if (!strcmp(type, types[i]))
				t = i;
	}
	if (t < 0) {
		seterr(err, errlen, "'%s': unknown type (guest, host, "
		       "squash-guest, squash-host, forbid-guest, map)", spec);
		return -EINVAL;
	}
	want = t == 4 ? 2 : 3;
	if (!*p) {
		seterr(err, errlen, "'%s': expected %zu numbers", spec, want);
		return -EINVAL;
	}
	sep = *p++;
	for (;;) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (nv == want) {
			nv++;
			break;
		}
		if (parse_u32(p, len, &v[nv])) {
			seterr(err, errlen, "'%s': invalid number '%.*s'", spec,
			       (int)(len > 16 ? 16 : len), p);
			return -EINVAL;
		}
		nv++;
		if (!end)
			break;
		p = end + 1;
	}
	if (nv != want) {
		seterr(err, errlen, "'%s': expected %zu numbers", spec, want);
		return -EINVAL;
	}
	memset(&e, 0, sizeof(e));
	e.from = v[0];
	e.count = v[want - 1];
	e.to = want == 3 ? v[1] : 0;
	e.kind = t == 2 || t == 3 ? IDM_SQUASH : t == 4 ? IDM_FAIL : IDM_RANGE;
	if (!range_ok(e.from, e.count) ||
	    (e.kind == IDM_RANGE && !range_ok(e.to, e.count)) ||
	    (e.kind == IDM_SQUASH && e.to == IDM_NOID)) {
		seterr(err, errlen, "'%s': range beyond id 4294967294", spec);
		return -EINVAL;
	}
	if (!e.count)
		return 0;   /* an empty range maps nothing */
	switch (t) {
	case 1: /* host */
	case 3: /* squash-host */
		return push(&m->h2g, &e, "host", spec, err, errlen);
	case 5: { /* map: both directions */
		struct idm_entry back = { IDM_RANGE, e.to, e.count, e.from };

		r = push(&m->g2h, &e, "guest", spec, err, errlen);
		if (r)
			return r;
		r = push(&m->h2g, &back, "host", spec, err, errlen);
		if (r)
			m->g2h.n--;  /* all or nothing */
		return r;
	}
	default: /* guest, squash-guest, forbid-guest */
		return push(&m->g2h, &e, "guest", spec, err, errlen);
	}
}
