/*
 * test_mig_state.c - the state loader against hand-made streams: a valid
 * one is applied; hostile ones (bad counts, names, ids, order, counters,
 * sections) are refused with nothing applied.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fuse_virtio.h"
#include "log.h"
#include "mig_compact.h"
#include "mig_state.h"
#include "mig_stream.h"
#include "passthrough.h"

#include "unit_check.h"

struct ent {
	uint64_t nodeid, nlookup, parent;
	uint8_t kind;
	const char *name;
	uint16_t namelen;   /* 0: strlen(name) */
	uint64_t generation;
};

/* Stream options for one case. */
struct spec {
	unsigned version;           /* format: 1 (fixed-width) or 2 (compact) */
	const struct ent *ents;
	unsigned nents;
	int64_t count_delta;        /* INODES count as written minus real */
	bool inodes_first;          /* INODES before SESSION */
	bool no_counters;
	uint64_t next_nodeid, next_fh;
	uint64_t handle_fh, handle_node;   /* one handle when handle_fh */
	uint32_t extra_type, extra_flags;  /* an extra section when type */
	const void *raw;            /* version 2: this INODES2 payload */
	size_t rawlen;              /* instead of ents */
	const void *raw_h;          /* version 2: this HANDLES2 payload */
	size_t rawlen_h;
};

/* Version 1 entry: fixed-width fields. */
static void w_inode1(struct mig_writer *w, const struct ent *e, uint16_t len)
{
	mig_w_u64(w, e->nodeid);
	mig_w_u64(w, e->nlookup);
	mig_w_u64(w, e->generation);
	mig_w_u8(w, e->kind);
	mig_w_u64(w, e->parent);
	mig_w_u16(w, len);
}

/* Version 2 entry, encoded here by hand from the documented layout (not
 * with mig_compact.c's encoder): zig-zag node id delta, flags byte (kind,
 * generation present, same parent, lookup count 0..2 or 3 = varint),
 * [lookup count], [generation], [zig-zag parent delta], name length. */
static void w_inode2(struct mig_writer *w, const struct ent *e, uint16_t len,
		     uint64_t *prev_id, uint64_t *prev_parent)
{
	uint8_t flags = e->kind;

	mig_w_sv(w, (int64_t)(e->nodeid - *prev_id));
	if (e->generation)
		flags |= 0x08;
	if (e->parent == *prev_parent)
		flags |= 0x10;
	flags |= (uint8_t)((e->nlookup < 3 ? e->nlookup : 3) << 5);
	mig_w_u8(w, flags);
	if (e->nlookup >= 3)
		mig_w_uv(w, e->nlookup);
	if (e->generation)
		mig_w_uv(w, e->generation);
	if (e->parent != *prev_parent)
		mig_w_sv(w, (int64_t)(e->parent - *prev_parent));
	mig_w_uv(w, len);
	*prev_id = e->nodeid;
	*prev_parent = e->parent;
}

static void w_inodes(struct mig_writer *w, const struct spec *s)
{
	uint64_t prev_id = 0, prev_parent = 0;

	if (s->raw) {
		mig_w_begin(w, MIG_SEC_INODES2, MIG_SECF_MUST_UNDERSTAND);
		mig_w_bytes(w, s->raw, s->rawlen);
		mig_w_end(w);
		return;
	}
	mig_w_begin(w, s->version == 1 ? MIG_SEC_INODES : MIG_SEC_INODES2,
		    MIG_SECF_MUST_UNDERSTAND);
	mig_w_u32(w, (uint32_t)((int64_t)s->nents + s->count_delta));
	for (unsigned i = 0; i < s->nents; i++) {
		const struct ent *e = &s->ents[i];
		uint16_t len = e->namelen ? e->namelen :
			       (uint16_t)(e->name ? strlen(e->name) : 0);

		if (s->version == 1)
			w_inode1(w, e, len);
		else
			w_inode2(w, e, len, &prev_id, &prev_parent);
		if (len)
			mig_w_bytes(w, e->name, e->name ? strlen(e->name) : 0);
	}
	mig_w_end(w);
}

static void w_handles(struct mig_writer *w, const struct spec *s)
{
	if (s->raw_h) {
		mig_w_begin(w, MIG_SEC_HANDLES2, MIG_SECF_MUST_UNDERSTAND);
		mig_w_bytes(w, s->raw_h, s->rawlen_h);
		mig_w_end(w);
		return;
	}
	if (!s->handle_fh)
		return;
	if (s->version == 1) {
		mig_w_begin(w, MIG_SEC_HANDLES, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(w, 1);
		mig_w_u64(w, s->handle_fh);
		mig_w_u64(w, s->handle_node);
		mig_w_u32(w, 0);   /* O_RDONLY */
		mig_w_u8(w, 0);
	} else {
		/* fh and node id as zig-zag deltas from 0, flags << 1 | dir */
		mig_w_begin(w, MIG_SEC_HANDLES2, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(w, 1);
		mig_w_sv(w, (int64_t)s->handle_fh);
		mig_w_sv(w, (int64_t)s->handle_node);
		mig_w_uv(w, 0);
	}
	mig_w_end(w);
}

static int make_stream(const struct spec *s)
{
	int fd = memfd_create("state", 0);
	struct mig_writer w;

	/* Version 1 as the sources before the compact format wrote it. */
	CHECK(mig_w_init(&w, fd, s->version == 1 ? 1 : MIG_STATE_VERSION,
			 s->version == 1 ? 1 : MIG_STATE_OLDEST) == 0);
	if (s->inodes_first)
		w_inodes(&w, s);
	mig_w_begin(&w, MIG_SEC_SESSION, MIG_SECF_MUST_UNDERSTAND);
	mig_w_u8(&w, 1);
	mig_w_u32(&w, 38);
	mig_w_u64(&w, 0);
	mig_w_u32(&w, 1 << 20);
	mig_w_u32(&w, 0);
	mig_w_u32(&w, 1);
	mig_w_u16(&w, 16);
	mig_w_u16(&w, 12);
	mig_w_end(&w);
	if (s->extra_type) {
		mig_w_begin(&w, s->extra_type, s->extra_flags);
		mig_w_u32(&w, 42);
		mig_w_end(&w);
	}
	if (!s->inodes_first)
		w_inodes(&w, s);
	w_handles(&w, s);
	if (!s->no_counters) {
		mig_w_begin(&w, MIG_SEC_COUNTERS, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u64(&w, s->next_nodeid ? s->next_nodeid : 100);
		mig_w_u64(&w, s->next_fh ? s->next_fh : 100);
		mig_w_end(&w);
	}
	CHECK(mig_w_finish(&w) == 0);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static char dir[64];

/* Load spec into a fresh fs; returns mig_load's result, checks that a
 * failure applied nothing. */
static int run(const struct spec *s, struct pt_stats *after)
{
	struct pt_config cfg = { .shared_dir = dir, .readdirplus = true };
	struct fuse_session *se;
	struct pt_fs *fs;
	struct mig_ctx ctx;
	int err = 0, fd, r;

	fs = pt_fs_new(&cfg, &err);
	CHECK(fs != NULL);
	if (!fs)
		exit(1);
	se = fuse_virtio_session_new(pt_lowlevel_ops(),
				     sizeof(struct fuse_lowlevel_ops),
				     pt_virtio_ops(), fs);
	ctx = (struct mig_ctx){ .se = se, .fs = fs, .cfg = &cfg };
	fd = make_stream(s);
	r = mig_load(&ctx, fd);
	close(fd);
	pt_fs_stats(fs, after);
	if (r) {
		CHECK(after->inodes == 1 && after->handles == 0);
		CHECK(!fuse_session_initialized(se));
	} else {
		CHECK(fuse_session_initialized(se));
	}
	fuse_virtio_session_free(se);
	pt_fs_free(fs);
	return r;
}

/* The loader's checks, on a stream of the given format version: every
 * case holds for a version-1 stream (an older source's) and for a
 * version-2 one. */
static void cases(unsigned version)
{
	static const struct ent good[] = {
		{ 1, 1, 0, 0, NULL, 0, 0 },
		{ 5, 2, 1, 1, "d", 0, 0 },
		{ 7, 0, 5, 1, "caf\xe9", 0, 0 },
		{ 9, 1, 5, 1, "f", 0, 0 },
		{ 11, 1, 2, 3, NULL, 0, 0 },   /* INVALID (ENOENT) */
	};
	/* Ids and parents going down as well as up (negative deltas), a
	 * lookup count and a generation that take varints. */
	static const struct ent shuffled[] = {
		{ 1, 7, 0, 0, NULL, 0, 0 },
		{ 9000000000ull, 300, 1, 1, "d", 0, 0 },
		{ 3, 1, 9000000000ull, 1, "f", 0, 1ull << 40 },
		{ 2, 0, 9000000000ull, 1, "caf\xe9", 0, 5 },
		{ 11, 1, 2, 3, NULL, 0, 0 },
	};
	struct ent bad[3];
	struct pt_stats st;
	struct spec s;

	/* Valid: root, d (count 2), an anchor-like entry, f with a handle. */
	s = (struct spec){ .version = version, .ents = good, .nents = 5,
			   .handle_fh = 3, .handle_node = 9 };
	CHECK(run(&s, &st) == 0);
	/* root + d + f (7 has no lookup count and no handle; 11 is lost) */
	CHECK(st.inodes == 3 && st.handles == 1);
	s.ents = shuffled;
	s.handle_node = 3;
	s.next_nodeid = 9000000001ull;
	CHECK(run(&s, &st) == 0);
	CHECK(st.inodes == 3 && st.handles == 1);
	s.ents = good;
	s.handle_node = 9;
	s.next_nodeid = 0;
	/* Unknown optional section: skipped. */
	s.extra_type = 77;
	CHECK(run(&s, &st) == 0);
	/* Unknown must-understand section: refused. */
	s.extra_flags = MIG_SECF_MUST_UNDERSTAND;
	CHECK(run(&s, &st) == -EPROTO);
	s.extra_type = s.extra_flags = 0;

	/* Counts that do not match the section. */
	s.count_delta = 1;
	CHECK(run(&s, &st) == -EBADMSG);
	s.count_delta = -1;
	CHECK(run(&s, &st) == -EBADMSG);
	s.count_delta = 0x7fffffff;
	CHECK(run(&s, &st) == -EBADMSG);
	s.count_delta = 0;
	/* Order and presence of sections. */
	s.inodes_first = true;
	CHECK(run(&s, &st) == -EBADMSG);
	s.inodes_first = false;
	s.no_counters = true;
	CHECK(run(&s, &st) == -EBADMSG);
	s.no_counters = false;
	/* Counters not past the ids. */
	s.next_nodeid = 9;
	CHECK(run(&s, &st) == -EINVAL);
	s.next_nodeid = 0;
	s.next_fh = 3;
	CHECK(run(&s, &st) == -EINVAL);
	s.next_fh = 0;
	/* Handles: unknown inode, fh 0. */
	s.handle_node = 8;
	CHECK(run(&s, &st) == -EINVAL);
	s.handle_node = 9;
	s.handle_fh = 0;
	CHECK(run(&s, &st) == 0);

	/* Hostile entries after a good root. */
	bad[0] = good[0];
	s = (struct spec){ .version = version, .ents = bad, .nents = 2 };
	bad[1] = (struct ent){ 5, 1, 1, 1, "a/b", 0, 0 };
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 1, 1, "..", 0, 0 };
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 1, 1, ".virtiofsd-c-migration", 0, 0 };
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 4, 1, "d", 0, 0 };   /* parent unknown */
	CHECK(run(&s, &st) == -EINVAL);
	/* node id 0: the loader refuses it (version 1), the compact decoder
	 * already (a delta that wraps to 0) */
	bad[1] = (struct ent){ 0, 1, 1, 1, "d", 0, 0 };
	CHECK(run(&s, &st) == (version == 1 ? -EINVAL : -EBADMSG));
	bad[1] = (struct ent){ 1, 1, 1, 1, "d", 0, 0 };   /* root id again */
	CHECK(run(&s, &st) == -EEXIST);
	bad[1] = (struct ent){ 5, 1, 1, 5, "d", 0, 0 };   /* unknown kind */
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 1, 1, "missing", 0, 0 };
	CHECK(run(&s, &st) == -ENOENT);
	bad[1] = (struct ent){ 5, 1, 1, 1, "d", 300, 0 }; /* namelen > 255 */
	CHECK(run(&s, &st) == -EBADMSG);
	bad[1] = (struct ent){ 5, 1, 1, 1, "d", 256, 0 };
	CHECK(run(&s, &st) == -EBADMSG);
	s.nents = 3;
	bad[1] = (struct ent){ 5, 1, 1, 1, "d", 0, 0 };
	bad[2] = (struct ent){ 5, 1, 1, 1, "d", 0, 0 };   /* duplicate id */
	CHECK(run(&s, &st) == -EEXIST);
	bad[2] = (struct ent){ 6, 1, 1, 1, "d", 0, 0 };   /* same host file */
	CHECK(run(&s, &st) == -EEXIST);
	bad[2] = (struct ent){ 6, 1, 1, 2, "nope", 0, 0 }; /* no hidden dir */
	CHECK(run(&s, &st) == -ENOENT);
}

/* Load a version-2 stream whose INODES2 payload and HANDLES2 payload
 * (when h) are the given raw bytes. */
static int run_raw(const void *in, size_t inlen, const void *h, size_t hlen)
{
	struct spec s = { .version = 2, .raw = in, .rawlen = inlen,
			  .raw_h = h, .rawlen_h = hlen };
	struct pt_stats st;

	return run(&s, &st);
}

/* Malformed compact entries: each refused as a malformed stream. */
static void compact_cases(void)
{
	/* count 2: root (+1, ROOT, 1 lookup, same parent 0, no name), d
	 * (+4, PATH, 1 lookup, parent +1, "d") */
#define ROOT_D 2, 0, 0, 0, 2, 0x30, 0, 8, 0x21, 2, 1, 'd'
	static const uint8_t ok[] = { ROOT_D };
	/* fh 1, node id 5 (d), flags 0, a directory */
	static const uint8_t h_ok[] = { 1, 0, 0, 0, 2, 10, 1 };
	/* and f: id 7 (+2), parent 5 (+4) */
	static const uint8_t ok3[] = { 3, 0, 0, 0, 2, 0x30, 0, 8, 0x21, 2, 1,
				       'd', 4, 0x21, 8, 1, 'f' };
	static const uint8_t count_big[] = { 5, 0, 0, 0, 2, 0x30, 0, 8, 0x21,
					     2, 1, 'd' };
	static const uint8_t count_huge[] = { 0xff, 0xff, 0xff, 0x7f, 2, 0x30,
					      0 };
	static const uint8_t trailing[] = { ROOT_D, 0 };
	/* third entry cut in its name / in its flags / after its id */
	static const uint8_t cut_name[] = { 3, 0, 0, 0, 2, 0x30, 0, 8, 0x21,
					    2, 1, 'd', 4, 0x31, 2, 'f' };
	static const uint8_t cut_flags[] = { 3, 0, 0, 0, 2, 0x30, 0, 8, 0x21,
					     2, 1, 'd', 4 };
	/* a node id varint of 11 bytes; an overlong one (0x84 0x00) */
	static const uint8_t long_id[] = { 2, 0, 0, 0, 2, 0x30, 0, 0x88, 0x80,
					   0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					   0x80, 0x80, 0, 0x21, 2, 1, 'd' };
	static const uint8_t overlong[] = { 2, 0, 0, 0, 2, 0x30, 0, 0x88, 0,
					    0x21, 2, 1, 'd' };
	/* delta -1 from the root: node id 0; deltas INT64_MIN (to id
	 * 2^63 + 1, valid) then INT64_MAX, wrapping 2^64 to 0 */
	static const uint8_t to_zero[] = { 2, 0, 0, 0, 2, 0x30, 0, 1, 0x21, 2,
					   1, 'd' };
	static const uint8_t wraps[] = { 3, 0, 0, 0, 2, 0x30, 0,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0x01, 0x21, 2, 1, 'd',
					 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0x01, 0x31, 1, 'f' };
	/* reserved flag bit; name length 256 as a varint */
	static const uint8_t reserved[] = { 2, 0, 0, 0, 2, 0xb0, 0, 8, 0x21, 2,
					    1, 'd' };
	static const uint8_t name256[] = { 2, 0, 0, 0, 2, 0x30, 0, 8, 0x21, 2,
					   0x80, 0x02, 'd' };
	/* names sharing a prefix with the previous entry's: file1 whole
	 * (+1 -> 6, parent 5), file2 as 4 shared bytes + "2" (+1 -> 7, same
	 * parent; 4 << 8 | 1 = 0x401 as a varint: 0x81 0x08) */
	static const uint8_t prefix[] = { 4, 0, 0, 0, 2, 0x30, 0, 8, 0x21, 2, 1,
					  'd', 2, 0x21, 8, 5, 'f', 'i', 'l',
					  'e', '1', 2, 0x31, 0x81, 0x08, '2' };
	/* a shared prefix longer than the previous name ("d": 1 byte) */
	static const uint8_t shared_long[] = { 3, 0, 0, 0, 2, 0x30, 0, 8, 0x21,
					       2, 1, 'd', 2, 0x21, 8, 0x81,
					       0x04, 'x' };
	/* 5 shared bytes + 251 more: a name of 256 bytes */
	static const uint8_t shared_256[] = { 4, 0, 0, 0, 2, 0x30, 0, 8, 0x21,
					      2, 1, 'd', 2, 0x21, 8, 5, 'f',
					      'i', 'l', 'e', '1', 2, 0x31, 0xfb,
					      0x0b };
	/* handles: open flags above 32 bits, fh 0, node id 0, cut */
	static const uint8_t h_flags[] = { 1, 0, 0, 0, 2, 10, 0x80, 0x80, 0x80,
					   0x80, 0x40 };
	static const uint8_t h_fh0[] = { 1, 0, 0, 0, 0, 10, 0 };
	static const uint8_t h_id0[] = { 1, 0, 0, 0, 2, 0, 0 };
	static const uint8_t h_cut[] = { 1, 0, 0, 0, 2, 10 };
	static const uint8_t h_count[] = { 2, 0, 0, 0, 2, 10, 0 };

	CHECK(run_raw(ok, sizeof(ok), NULL, 0) == 0);
	CHECK(run_raw(ok, sizeof(ok), h_ok, sizeof(h_ok)) == 0);
	CHECK(run_raw(ok3, sizeof(ok3), h_ok, sizeof(h_ok)) == 0);
	CHECK(run_raw(count_big, sizeof(count_big), NULL, 0) == -EBADMSG);
	CHECK(run_raw(count_huge, sizeof(count_huge), NULL, 0) == -EBADMSG);
	CHECK(run_raw(trailing, sizeof(trailing), NULL, 0) == -EBADMSG);
	CHECK(run_raw(cut_name, sizeof(cut_name), NULL, 0) == -EBADMSG);
	CHECK(run_raw(cut_flags, sizeof(cut_flags), NULL, 0) == -EBADMSG);
	CHECK(run_raw(long_id, sizeof(long_id), NULL, 0) == -EBADMSG);
	CHECK(run_raw(overlong, sizeof(overlong), NULL, 0) == -EBADMSG);
	CHECK(run_raw(to_zero, sizeof(to_zero), NULL, 0) == -EBADMSG);
	CHECK(run_raw(wraps, sizeof(wraps), NULL, 0) == -EBADMSG);
	CHECK(run_raw(reserved, sizeof(reserved), NULL, 0) == -EBADMSG);
	CHECK(run_raw(name256, sizeof(name256), NULL, 0) == -EBADMSG);
	CHECK(run_raw(prefix, sizeof(prefix), NULL, 0) == 0);
	CHECK(run_raw(shared_long, sizeof(shared_long), NULL, 0) == -EBADMSG);
	CHECK(run_raw(shared_256, sizeof(shared_256), NULL, 0) == -EBADMSG);
	CHECK(run_raw(ok, sizeof(ok), h_flags, sizeof(h_flags)) == -EBADMSG);
	CHECK(run_raw(ok, sizeof(ok), h_fh0, sizeof(h_fh0)) == -EBADMSG);
	CHECK(run_raw(ok, sizeof(ok), h_id0, sizeof(h_id0)) == -EBADMSG);
	CHECK(run_raw(ok, sizeof(ok), h_cut, sizeof(h_cut)) == -EBADMSG);
	CHECK(run_raw(ok, sizeof(ok), h_count, sizeof(h_count)) == -EBADMSG);
#undef ROOT_D
}

/* Depth of entry i of v[0..n) as mig_order_inodes() defines it, found by
 * a linear search (independent of its hash map). */
static unsigned depth_of(const struct pt_mig_inode *v, size_t n, size_t i)
{
	if (v[i].kind == PT_MIG_ROOT)
		return 0;
	if (v[i].kind != PT_MIG_PATH)
		return 1;
	for (size_t j = 0; j < n; j++)
		if (v[j].nodeid == v[i].parent)
			return depth_of(v, n, j) + 1;
	return 1000;
}

/* Random trees, shuffled inside each depth as the passthrough hands them
 * over: the save order must be a permutation, keep every parent before
 * its children, and sort by (depth, kind, parent, node id), whichever
 * map and sort mig_order_inodes() picks for the ids. */
static void order_cases(void)
{
	enum { N = 600 };
	static struct pt_mig_inode v[N], orig[N];
	static unsigned dep[N];
	unsigned seed = 7;

	for (int round = 0; round < 40; round++) {
		/* ids: dense (direct depth array, radix sort), sparse
		 * (hash map, radix sort), past 2^40 (hash map, merge sort) */
		uint64_t base = round % 3 == 2 ? (1ull << 40) : 0;
		uint64_t spread = round % 3 ? 1000 : 0;
		size_t n = 1 + (size_t)(rand_r(&seed) % (N - 1));
		size_t start;

		v[0] = (struct pt_mig_inode){ .nodeid = 1, .kind = PT_MIG_ROOT };
		dep[0] = 0;
		for (size_t i = 1; i < n; i++) {
			size_t p = (size_t)rand_r(&seed) % i;
			unsigned r = (unsigned)rand_r(&seed) % 10;

			v[i] = (struct pt_mig_inode){
				.nodeid = spread ? base + 2 + (uint64_t)(rand_r(
						&seed) % spread) * N + i :
					  2 + 2 * i + (uint64_t)(rand_r(&seed) % 2),
				.nlookup = (uint64_t)(rand_r(&seed) % 4),
				.kind = PT_MIG_PATH, .name = "x", .namelen = 1,
			};
			/* ~1/10 other kinds (no parent), else a PATH child
			 * of an earlier PATH entry or the root */
			if (r == 0) {
				v[i].kind = PT_MIG_INVALID;
				v[i].parent = 2 + (uint64_t)(rand_r(&seed) % 3);
				dep[i] = 1;
			} else if (r == 1) {
				v[i].kind = PT_MIG_UNLINKED;
				dep[i] = 1;
			} else {
				while (v[p].kind != PT_MIG_PATH &&
				       v[p].kind != PT_MIG_ROOT)
					p--;
				v[i].parent = v[p].nodeid;
				dep[i] = dep[p] + 1;
			}
		}
		/* depth order (stable), then shuffled inside each depth */
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && dep[j - 1] > dep[j]; j--) {
				struct pt_mig_inode t = v[j];
				unsigned td = dep[j];

				v[j] = v[j - 1];
				v[j - 1] = t;
				dep[j] = dep[j - 1];
				dep[j - 1] = td;
			}
		for (start = 0; start < n;) {
			size_t end = start;

			while (end < n && dep[end] == dep[start])
				end++;
			for (size_t i = end - 1; i > start; i--) {
				size_t j = start + (size_t)rand_r(&seed) %
					   (i - start + 1);
				struct pt_mig_inode t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
			start = end;
		}
		memcpy(orig, v, n * sizeof(*v));
		CHECK(mig_order_inodes(v, n) == 0);
		for (size_t i = 0; i < n; i++) {
			bool found = false;

			for (size_t j = 0; j < n && !found; j++)
				found = orig[j].nodeid == v[i].nodeid &&
					orig[j].parent == v[i].parent &&
					orig[j].kind == v[i].kind;
			CHECK(found);
			dep[i] = depth_of(v, i + 1, i);   /* parents before */
			CHECK(dep[i] < 1000);
			if (i && (dep[i - 1] > dep[i] ||
				  (dep[i - 1] == dep[i] &&
				   (v[i - 1].kind > v[i].kind ||
				    (v[i - 1].kind == v[i].kind &&
				     (v[i - 1].parent > v[i].parent ||
				      (v[i - 1].parent == v[i].parent &&
				       v[i - 1].nodeid >= v[i].nodeid))))))) {
				CHECK(!"save order");
				break;
			}
		}
	}
}

#define NAME64 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
#define NAME255 NAME64 NAME64 NAME64 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

/* The compact codec round trip on extreme values and on names that share
 * prefixes with the previous entry's. */
static void codec_cases(void)
{
	static const struct pt_mig_inode ins[] = {
		{ .nodeid = 1, .kind = PT_MIG_ROOT },
		{ .nodeid = UINT64_MAX, .nlookup = UINT64_MAX, .generation = 1,
		  .parent = 1, .kind = PT_MIG_PATH, .name = "a", .namelen = 1 },
		{ .nodeid = 2, .nlookup = 2, .parent = UINT64_MAX,
		  .kind = PT_MIG_PATH, .name = "b\xff", .namelen = 2 },
		{ .nodeid = 1ull << 63, .nlookup = 3, .generation = UINT64_MAX,
		  .parent = 116, .kind = PT_MIG_INVALID },
		{ .nodeid = 7, .kind = PT_MIG_FHANDLE, .parent = 76,
		  .name = "\x01\0\0\0\x0c\0\0\0\0\0\0\0", .namelen = 12 },
		/* shared prefixes: 11 bytes, none (one byte only), all */
		{ .nodeid = 8, .kind = PT_MIG_FHANDLE, .parent = 76,
		  .name = "\x01\0\0\0\x0c\0\0\0\0\0\0\x01", .namelen = 12 },
		{ .nodeid = 9, .kind = PT_MIG_PATH, .parent = 8,
		  .name = "\x01x", .namelen = 2 },
		{ .nodeid = 10, .kind = PT_MIG_PATH, .parent = 8,
		  .name = "\x01x", .namelen = 2 },
		{ .nodeid = 11, .kind = PT_MIG_PATH, .parent = 8,
		  .name = "\x01xyz", .namelen = 4 },
		{ .nodeid = 12, .kind = PT_MIG_PATH, .parent = 8,
		  .name = "\x01x", .namelen = 2 },
		{ .nodeid = 13, .kind = PT_MIG_PATH, .parent = 8,
		  .name = NAME255, .namelen = 255 },
		{ .nodeid = 14, .kind = PT_MIG_PATH, .parent = 8,
		  .name = NAME255, .namelen = 254 },
	};
	static const struct pt_mig_handle hs[] = {
		{ .fh = 5, .nodeid = 7, .flags = 02 | 02000, .is_dir = 0 },
		{ .fh = 1, .nodeid = UINT64_MAX, .flags = UINT32_MAX,
		  .is_dir = 1 },
		{ .fh = UINT64_MAX, .nodeid = 1, .flags = 0, .is_dir = 1 },
	};
	int fd = memfd_create("codec", 0);
	struct mig_delta d = { 0 };
	struct mig_writer w;
	struct mig_reader r;
	struct mig_cur c;
	uint32_t type, flags;
	size_t sizes = 0;

	CHECK(mig_w_init(&w, fd, 2, 2) == 0);
	mig_w_begin(&w, MIG_SEC_INODES2, 0);
	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++)
		sizes += mig_in2_put(&w, &d, &ins[i]);
	d = (struct mig_delta){ 0 };
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		sizes += mig_h2_put(&w, &d, &hs[i]);
	CHECK(mig_w_section_size(&w) == sizes);
	mig_w_end(&w);
	CHECK(mig_w_finish(&w) == 0);
	lseek(fd, 0, SEEK_SET);
	CHECK(mig_r_init(&r, fd, 2) == 0);
	CHECK(mig_r_next(&r, &type, &flags, &c) == 1);
	d = (struct mig_delta){ 0 };
	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		struct pt_mig_inode e;

		CHECK(mig_in2_get(&c, &d, &e) == NULL);
		CHECK(e.nodeid == ins[i].nodeid && e.nlookup == ins[i].nlookup &&
		      e.generation == ins[i].generation &&
		      e.parent == ins[i].parent && e.kind == ins[i].kind &&
		      e.namelen == ins[i].namelen &&
		      memcmp(e.name, ins[i].name ? ins[i].name : "",
			     e.namelen) == 0);
	}
	d = (struct mig_delta){ 0 };
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		struct pt_mig_handle h;

		CHECK(mig_h2_get(&c, &d, &h) == NULL);
		CHECK(h.fh == hs[i].fh && h.nodeid == hs[i].nodeid &&
		      h.flags == hs[i].flags && h.is_dir == hs[i].is_dir);
	}
	CHECK(!c.bad && c.left == 0);
	mig_r_free(&r);
	close(fd);
}

/* A stream that needs a newer reader is refused before any section. */
static void version_cases(void)
{
	struct mig_writer w;
	int fd = memfd_create("v3", 0);
	struct pt_config cfg = { .shared_dir = dir };
	struct pt_fs *fs;
	struct mig_ctx ctx;
	int err = 0;

	fs = pt_fs_new(&cfg, &err);
	CHECK(fs != NULL);
	if (!fs)
		return;
	ctx = (struct mig_ctx){ .se = NULL, .fs = fs, .cfg = &cfg };
	CHECK(mig_w_init(&w, fd, MIG_STATE_VERSION + 1,
			 MIG_STATE_VERSION + 1) == 0);
	CHECK(mig_w_finish(&w) == 0);
	lseek(fd, 0, SEEK_SET);
	CHECK(mig_load(&ctx, fd) == -EPROTO);
	close(fd);
	pt_fs_free(fs);
}

int main(void)
{
	char p[128];
	FILE *f;

	vlog_init(getenv("MIG_TEST_DEBUG") ? VLOG_DEBUG : VLOG_OFF, false);
	snprintf(dir, sizeof(dir), "/tmp/test_mig_state.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(p, sizeof(p), "%s/d", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/d/caf\xe9", dir);
	f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof(p), "%s/d/f", dir);
	f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof(p), "%s/d/file1", dir);
	f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof(p), "%s/d/file2", dir);
	f = fopen(p, "w");
	fclose(f);

	/* The format this daemon writes, and the older one it still loads. */
	CHECK(MIG_STATE_VERSION == 2 && MIG_STATE_OLDEST == 2);
	cases(1);
	cases(2);
	compact_cases();
	version_cases();
	order_cases();
	codec_cases();

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	if (system(p) != 0)
		failures++;
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
