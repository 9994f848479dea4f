/*
 * mig_compact.c - the table entries: INODES2 / HANDLES2 (see
 * mig_compact.h; the byte layout is in docs/migration.md), the decoding
 * of version 1's fixed-width INODES / HANDLES entries (the loader and
 * --print-state share it), and the save order that keeps the deltas
 * small.
 *
 * Deltas are taken modulo 2^64 and written zig-zag, so every value is
 * representable; the decoder refuses what would be node id 0 or fh 0.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mig_compact.h"
#include "passthrough.h"

/* Zig-zag varint size / write of the delta from base to v. */
static size_t put_delta(struct mig_writer *w, uint64_t base, uint64_t v)
{
	int64_t d = (int64_t)(v - base);
	uint64_t z = ((uint64_t)d << 1) ^ (d < 0 ? UINT64_MAX : 0);

	if (w)
		mig_w_uv(w, z);
	return mig_uv_len(z);
}

static size_t put_uv(struct mig_writer *w, uint64_t v)
{
	if (w)
		mig_w_uv(w, v);
	return mig_uv_len(v);
}

/* Encode one inode entry; see mig_compact.h. */
size_t mig_in2_put(struct mig_writer *w, struct mig_delta *d,
		   const struct pt_mig_inode *e)
{
	uint8_t flags = e->kind & MIG_IN2_KIND;
	size_t n = put_delta(w, d->nodeid, e->nodeid) + 1;

	if (e->generation)
		flags |= MIG_IN2_GEN;
	if (e->parent == d->other)
		flags |= MIG_IN2_SAME_PARENT;
	flags |= (uint8_t)((e->nlookup < 3 ? e->nlookup : 3) <<
			   MIG_IN2_LOOKUP_SHIFT);
	if (w)
		mig_w_u8(w, flags);
	if (e->nlookup >= 3)
		n += put_uv(w, e->nlookup);
	if (e->generation)
		n += put_uv(w, e->generation);
	if (e->parent != d->other)
		n += put_delta(w, d->other, e->parent);
	/* name: (shared prefix << 8 | suffix length), then the suffix */
	size_t shared = 0;

	while (shared < e->namelen && shared < d->prevlen &&
	       e->name[shared] == d->prev[shared])
		shared++;
	if (shared < MIG_IN2_MIN_SHARED)
		shared = 0;
	n += put_uv(w, (uint64_t)shared << 8 | (e->namelen - shared)) +
	     e->namelen - shared;
	if (w)
		mig_w_bytes(w, e->name + shared, e->namelen - shared);
	d->nodeid = e->nodeid;
	d->other = e->parent;
	d->prev = e->name;
	d->prevlen = e->namelen;
	return n;
}

/* Decode one version-1 inode entry; see mig_compact.h. */
const char *mig_in1_get(struct mig_cur *c, struct pt_mig_inode *e)
{
	e->nodeid = mig_c_u64(c);
	e->nlookup = mig_c_u64(c);
	e->generation = mig_c_u64(c);
	e->kind = mig_c_u8(c);
	e->parent = mig_c_u64(c);
	e->namelen = mig_c_u16(c);
	e->name = c->bad ? NULL : mig_c_bytes(c, e->namelen);
	return c->bad ? "truncated" : NULL;
}

/* Decode one version-1 handle entry; see mig_compact.h. */
const char *mig_h1_get(struct mig_cur *c, struct pt_mig_handle *h)
{
	h->fh = mig_c_u64(c);
	h->nodeid = mig_c_u64(c);
	h->flags = mig_c_u32(c);
	h->is_dir = mig_c_u8(c);
	return c->bad ? "truncated" : NULL;
}

/* Decode one inode entry; see mig_compact.h. */
const char *mig_in2_get(struct mig_cur *c, struct mig_delta *d,
			struct pt_mig_inode *e)
{
	uint64_t namelen, shared, suffix;
	const void *p;
	uint8_t flags;

	memset(e, 0, sizeof(*e));
	e->nodeid = d->nodeid + (uint64_t)mig_c_sv(c);
	flags = mig_c_u8(c);
	if (c->bad)
		return "truncated or bad varint";
	if (flags & MIG_IN2_RESERVED) {
		c->bad = true;
		return "reserved flag bits set";
	}
	e->kind = flags & MIG_IN2_KIND;
	e->nlookup = (flags & MIG_IN2_LOOKUP_MASK) >> MIG_IN2_LOOKUP_SHIFT;
	if (e->nlookup == 3)
		e->nlookup = mig_c_uv(c);
	if (flags & MIG_IN2_GEN)
		e->generation = mig_c_uv(c);
	e->parent = d->other;
	if (!(flags & MIG_IN2_SAME_PARENT))
		e->parent += (uint64_t)mig_c_sv(c);
	namelen = mig_c_uv(c);
	if (c->bad)
		return "truncated or bad varint";
	shared = namelen >> 8;
	suffix = namelen & 0xff;
	if (shared > d->prevlen) {
		c->bad = true;
		return "shared prefix longer than the previous name";
	}
	if (shared + suffix > MIG_IN2_NAME_MAX) {
		c->bad = true;
		return "name longer than 255 bytes";
	}
	p = mig_c_bytes(c, (size_t)suffix);
	if (c->bad)
		return "truncated name";
	/* The prefix is in d->name already (the previous name). */
	memcpy(d->name + shared, p, (size_t)suffix);
	e->namelen = (uint16_t)(shared + suffix);
	e->name = d->name;
	if (!e->nodeid) {
		c->bad = true;
		return "node id 0";
	}
	d->nodeid = e->nodeid;
	d->other = e->parent;
	d->prevlen = e->namelen;
	return NULL;
}

/* Encode one handle entry; see mig_compact.h. */
size_t mig_h2_put(struct mig_writer *w, struct mig_delta *d,
		  const struct pt_mig_handle *h)
{
	size_t n = put_delta(w, d->other, h->fh) +
		   put_delta(w, d->nodeid, h->nodeid) +
		   put_uv(w, (uint64_t)h->flags << 1 | (h->is_dir ? 1 : 0));

	d->other = h->fh;
	d->nodeid = h->nodeid;
	return n;
}

/* Decode one handle entry; see mig_compact.h. */
const char *mig_h2_get(struct mig_cur *c, struct mig_delta *d,
		       struct pt_mig_handle *h)
{
	uint64_t fl;

	h->fh = d->other + (uint64_t)mig_c_sv(c);
	h->nodeid = d->nodeid + (uint64_t)mig_c_sv(c);
	fl = mig_c_uv(c);
	if (c->bad)
		return "truncated or bad varint";
	if (fl >> 33) {
		c->bad = true;
		return "open flags above 32 bits";
	}
	if (!h->fh || !h->nodeid) {
		c->bad = true;
		return h->fh ? "node id 0" : "fh 0";
	}
	h->flags = (uint32_t)(fl >> 1);
	h->is_dir = fl & 1;
	d->other = h->fh;
	d->nodeid = h->nodeid;
	return NULL;
}

/* ---- save order ---- */

struct okey {
	uint64_t parent, nodeid;
	uint32_t depth;
	uint32_t idx;       /* position in the caller's order: ties */
	uint8_t kind;
};

static bool okey_less(const struct okey *x, const struct okey *y)
{
	if (x->depth != y->depth)
		return x->depth < y->depth;
	if (x->kind != y->kind)
		return x->kind < y->kind;
	if (x->parent != y->parent)
		return x->parent < y->parent;
	if (x->nodeid != y->nodeid)
		return x->nodeid < y->nodeid;
	return x->idx < y->idx;
}

/*
 * Sort a[0..n) with tmp (n entries) as scratch: a bottom-up merge sort.
 * Not qsort(): glibc's asks sysinfo() for the memory size on large
 * arrays, which the seccomp filter does not allow in the transfer thread.
 */
static void okey_sort(struct okey *a, struct okey *tmp, size_t n)
{
	struct okey *src = a, *dst = tmp;

	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				dst[k++] = okey_less(&src[j], &src[i]) ?
					   src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		struct okey *t = src;

		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

static unsigned bits_of(uint64_t v)
{
	return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

struct rkey {
	uint64_t key;
	uint32_t idx;
};

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

/*
 * The same order as okey_sort() when (depth, kind, parent, node id) packs
 * into 64 bits (ids below about 2^24 with a shallow tree: the usual case):
 * an LSD radix sort, RADIX_BITS a pass, a few times cheaper than the
 * merge sort.  Stable, so equal keys keep the caller's order as the idx
 * tie-break does.  Writes the sorted positions into k[i].idx.  Returns
 * false (nothing done) when the key does not fit or memory is short.
 */
static bool radix_order(struct okey *k, size_t n)
{
	uint64_t maxp = 0, maxn = 0;
	uint32_t maxd = 0;
	unsigned bp, bn, bd, total;
	struct rkey *a, *b;
	size_t *count;

	for (size_t i = 0; i < n; i++) {
		maxp |= k[i].parent;
		maxn |= k[i].nodeid;
		maxd |= k[i].depth;
	}
	bp = bits_of(maxp);
	bn = bits_of(maxn);
	bd = bits_of(maxd);
	total = bd + 3 + bp + bn;
	if (total > 64)
		return false;
	a = malloc(2 * n * sizeof(*a));
	count = malloc(RADIX_SIZE * sizeof(*count));
	if (!a || !count) {
		free(a);
		free(count);
		return false;
	}
	b = a + n;
	for (size_t i = 0; i < n; i++) {
		uint64_t key = k[i].nodeid;

		if (bp)
			key |= k[i].parent << bn;
		key |= (uint64_t)(k[i].kind & 7) << (bn + bp);
		if (bd)
			key |= (uint64_t)k[i].depth << (bn + bp + 3);
		a[i] = (struct rkey){ key, k[i].idx };
	}
	for (unsigned shift = 0; shift < total; shift += RADIX_BITS) {
		size_t sum = 0;
		struct rkey *t;

		memset(count, 0, RADIX_SIZE * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].key >> shift) & (RADIX_SIZE - 1)]++;
		for (size_t d = 0; d < RADIX_SIZE; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			b[count[(a[i].key >> shift) & (RADIX_SIZE - 1)]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n; i++)
		k[i].idx = a[i].idx;
	free(a < b ? a : b);
	free(count);
	return true;
}

/*
 * Node id -> depth + 1 (0: not seen).  Dense ids (the usual case: below
 * four times the entry count) index an array directly; others go through
 * open addressing, node id 0 marking a free slot.
 */
struct dmap {
	uint64_t *id;        /* NULL: direct */
	uint32_t *depth;
	size_t mask;         /* direct: the largest id */
};

static int dmap_init(struct dmap *m, const struct pt_mig_inode *v, size_t n)
{
	uint64_t maxid = 0;
	size_t cap = 16;

	for (size_t i = 0; i < n; i++)
		if (v[i].nodeid > maxid)
			maxid = v[i].nodeid;
	if (maxid / 4 < n) {
		m->id = NULL;
		m->mask = (size_t)maxid;
		m->depth = calloc((size_t)maxid + 1, sizeof(*m->depth));
		return m->depth ? 0 : -ENOMEM;
	}
	/* a lookup claims a slot too: at most 2n ids, half full at most */
	while (cap < 4 * n)
		cap *= 2;
	m->mask = cap - 1;
	m->id = calloc(cap, sizeof(*m->id));
	m->depth = calloc(cap, sizeof(*m->depth));
	return m->id && m->depth ? 0 : -ENOMEM;
}

/* Where id's depth is (or goes); NULL for id 0 or an id past the direct
 * array. */
static uint32_t *dmap_at(struct dmap *m, uint64_t id)
{
	size_t i;

	if (!id)
		return NULL;
	if (!m->id)
		return id <= m->mask ? &m->depth[id] : NULL;
	i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & m->mask;
	while (m->id[i] && m->id[i] != id)
		i = (i + 1) & m->mask;
	m->id[i] = id;
	return &m->depth[i];
}

/* Reorder for the smallest encoding; see mig_compact.h. */
int mig_order_inodes(struct pt_mig_inode *v, size_t n)
{
	struct dmap m = { 0 };
	struct pt_mig_inode *out;
	struct okey *k;

	if (n < 2 || n > UINT32_MAX)
		return 0;            /* nothing to do / keep the valid order */
	k = malloc(2 * n * sizeof(*k));
	out = malloc(n * sizeof(*out));
	if (dmap_init(&m, v, n) || !k || !out) {
		free(m.id);
		free(m.depth);
		free(k);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pt_mig_inode *e = &v[i];
		uint32_t dep = 1, *at;

		if (e->kind == PT_MIG_ROOT) {
			dep = 0;
		} else if (e->kind == PT_MIG_PATH) {
			/* stored as depth + 1; a parent not seen before
			 * (the stream fails to load either way): last */
			uint32_t *pd = dmap_at(&m, e->parent);
			uint32_t d1 = pd && *pd ? *pd : UINT32_MAX;

			dep = d1 < UINT32_MAX - 1 ? d1 : UINT32_MAX - 1;
		}
		k[i] = (struct okey){ .parent = e->parent, .nodeid = e->nodeid,
				      .depth = dep, .idx = (uint32_t)i,
				      .kind = e->kind };
		at = dmap_at(&m, e->nodeid);
		if (at && !*at)      /* a duplicate id keeps the first */
			*at = dep + 1;
	}
	if (!radix_order(k, n))
		okey_sort(k, k + n, n);
	for (size_t i = 0; i < n; i++)
		out[i] = v[k[i].idx];
	memcpy(v, out, n * sizeof(*v));
	free(m.id);
	free(m.depth);
	free(k);
	free(out);
	return 0;
}

/* Sort handles by fh; see mig_compact.h. */
int mig_order_handles(struct pt_mig_handle *v, size_t n)
{
	struct pt_mig_handle *out;
	struct okey *k;

	if (n < 2 || n > UINT32_MAX)
		return 0;
	k = malloc(2 * n * sizeof(*k));
	out = malloc(n * sizeof(*out));
	if (!k || !out) {
		free(k);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		k[i] = (struct okey){ .parent = v[i].fh, .idx = (uint32_t)i };
	if (!radix_order(k, n))
		okey_sort(k, k + n, n);
	for (size_t i = 0; i < n; i++)
		out[i] = v[k[i].idx];
	memcpy(v, out, n * sizeof(*v));
	free(k);
	free(out);
	return 0;
}
