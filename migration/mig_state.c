/*
 * mig_state.c - encoding and decoding of virtiofsd's device state (see
 * mig_state.h; the format is in docs/migration.md).
 *
 * The stream is hostile input: every count is bounded by its section's
 * length before anything is allocated, every field is read through a
 * bounds-checked cursor, every id and name is checked by the passthrough
 * loader, and nothing is applied before the END checksum is verified.
 *
 * Threading: runs in the vhost-user transfer thread while every ring is
 * stopped; no lock of its own.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"
#include "log.h"
#include "mig_compact.h"
#include "mig_state.h"
#include "mig_stream.h"
#include "passthrough.h"

#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void config_bytes(const struct pt_config *c, uint8_t *b)
{
	b[CFG_CACHE] = (uint8_t)c->cache;
	b[CFG_WRITEBACK] = c->writeback;
	b[CFG_XATTR] = c->xattr;
	b[CFG_POSIX_ACL] = c->posix_acl;
	b[CFG_READDIRPLUS] = c->readdirplus;
	b[CFG_ANNOUNCE_SUBMOUNTS] = c->announce_submounts;
	b[CFG_READONLY] = c->readonly;
	b[CFG_KILLPRIV_V2] = c->killpriv_v2;
	b[CFG_ALLOW_DIRECT_IO] = c->allow_direct_io;
	b[CFG_ALLOW_MMAP] = c->allow_mmap;
	b[CFG_SECURITY_LABEL] = c->security_label;
}

/* ---- save ---- */

/* The entries of one table (INODES2 or HANDLES2), gathered for the save
 * so that they can be ordered; names point into the prepared table. */
struct entry_list {
	void *v;
	size_t n, cap, size;     /* size: bytes of one entry */
	uint64_t sections;
};

/* Append the entry e (l->size bytes).  0 or -ENOMEM. */
static int list_add(struct entry_list *l, const void *e)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 1024;
		void *nv = nc > SIZE_MAX / l->size ? NULL :
			   realloc(l->v, nc * l->size);

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = nc;
	}
	memcpy((char *)l->v + l->n++ * l->size, e, l->size);
	return 0;
}

static int inode_cb(const struct pt_mig_inode *e, void *arg)
{
	return list_add(arg, e);
}

static int handle_cb(const struct pt_mig_handle *h, void *arg)
{
	return list_add(arg, h);
}

/* mig_in2_put / mig_h2_put over an untyped entry (write_table()). */
typedef size_t (*put_fn)(struct mig_writer *w, struct mig_delta *d,
			 const void *e);

static size_t put_inode(struct mig_writer *w, struct mig_delta *d,
			const void *e)
{
	return mig_in2_put(w, d, e);
}

static size_t put_handle(struct mig_writer *w, struct mig_delta *d,
			 const void *e)
{
	return mig_h2_put(w, d, e);
}

/* Sections of type `type` of about MIG_STATE_CHUNK bytes each: the
 * entries of one section are sized first (its count comes before them),
 * then written; the deltas restart at every section. */
static void write_table(struct mig_writer *w, uint32_t type,
			struct entry_list *l, put_fn put)
{
	const char *v = l->v;

	for (size_t i = 0; i < l->n;) {
		struct mig_delta d = { 0 };
		size_t end = i, bytes = 0;

		while (end < l->n && bytes < MIG_STATE_CHUNK &&
		       end - i < UINT32_MAX)
			bytes += put(NULL, &d, v + end++ * l->size);
		mig_w_begin(w, type, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(w, (uint32_t)(end - i));
		d = (struct mig_delta){ 0 };
		for (; i < end; i++)
			put(w, &d, v + i * l->size);
		mig_w_end(w);
		l->sections++;
	}
}

struct fh_batch {
	struct mig_writer *w;
	size_t bytes;
	uint64_t total;
	bool open;
};

/* FHANDLES sections: a u32 count is not known in advance, so every
 * section is a run of entries up to its length (no count field). */
static int fhandle_cb(const struct pt_mig_fhandle *h, void *arg)
{
	struct fh_batch *b = arg;

	if (!b->open) {
		mig_w_begin(b->w, MIG_SEC_FHANDLES, 0);
		b->open = true;
	}
	mig_w_u64(b->w, h->nodeid);
	mig_w_u32(b->w, (uint32_t)h->type);
	mig_w_u16(b->w, h->len);
	mig_w_bytes(b->w, h->bytes, h->len);
	b->bytes += MIG_FHANDLE_FIXED + h->len;
	b->total++;
	if (b->bytes >= MIG_STATE_CHUNK) {
		mig_w_end(b->w);
		b->open = false;
		b->bytes = 0;
	}
	return 0;
}

struct mount_list {
	struct mig_writer *w;
	uint32_t n;
	bool open;
};

/* MOUNTS: one section, u32 count then {u64 mount id, u16 length, path}. */
static int mount_cb(const struct pt_mig_mount *m, void *arg)
{
	struct mount_list *l = arg;

	l->n++;
	mig_w_u64(l->w, m->mnt_id);
	mig_w_u16(l->w, m->pathlen);
	mig_w_bytes(l->w, m->path, m->pathlen);
	return 0;
}

static int count_cb(const struct pt_mig_mount *m, void *arg)
{
	(void)m;
	(*(uint32_t *)arg)++;
	return 0;
}

/* Write the whole state to fd; see mig_state.h. */
int mig_save(struct mig_ctx *ctx, int fd)
{
	struct fv_session_state st;
	struct mig_writer w;
	struct entry_list il = { .size = sizeof(struct pt_mig_inode) };
	struct entry_list hl = { .size = sizeof(struct pt_mig_handle) };
	struct fh_batch fb = { .w = &w };
	uint8_t cfg[CFG_N];
	uint64_t next_nodeid, next_fh;
	uint32_t nmounts = 0;
	double t0 = now_ms();
	int ret;

	ret = mig_w_init(&w, fd, MIG_STATE_VERSION, MIG_STATE_OLDEST);
	if (ret)
		return ret;
	fuse_session_get_state(ctx->se, &st);
	mig_w_begin(&w, MIG_SEC_SESSION, MIG_SECF_MUST_UNDERSTAND);
	mig_w_u8(&w, st.initialized);
	mig_w_u32(&w, st.minor);
	mig_w_u64(&w, st.flags);
	mig_w_u32(&w, st.max_write);
	mig_w_u32(&w, st.max_readahead);
	mig_w_u32(&w, st.time_gran);
	mig_w_u16(&w, st.max_background);
	mig_w_u16(&w, st.congestion_threshold);
	mig_w_end(&w);

	config_bytes(ctx->cfg, cfg);
	mig_w_begin(&w, MIG_SEC_CONFIG, 0);
	for (unsigned i = 0; i < CFG_N; i++)
		mig_w_u8(&w, cfg[i]);
	mig_w_end(&w);

	ret = pt_mig_foreach_fhandle(ctx->fs, fhandle_cb, &fb);
	if (ret)
		goto fail;
	if (fb.open)
		mig_w_end(&w);

	ret = pt_mig_foreach_mount(ctx->fs, count_cb, &nmounts);
	if (ret)
		goto fail;
	if (nmounts) {
		struct mount_list ml = { .w = &w };

		mig_w_begin(&w, MIG_SEC_MOUNTS, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(&w, nmounts);
		ret = pt_mig_foreach_mount(ctx->fs, mount_cb, &ml);
		mig_w_end(&w);
		if (ret)
			goto fail;
	}

	ret = pt_mig_foreach_inode(ctx->fs, inode_cb, &il);
	if (!ret)
		ret = mig_order_inodes(il.v, il.n);
	if (ret)
		goto fail;
	write_table(&w, MIG_SEC_INODES2, &il, put_inode);

	ret = pt_mig_foreach_handle(ctx->fs, handle_cb, &hl);
	if (!ret)
		ret = mig_order_handles(hl.v, hl.n);
	if (ret)
		goto fail;
	write_table(&w, MIG_SEC_HANDLES2, &hl, put_handle);

	pt_mig_next_ids(ctx->fs, &next_nodeid, &next_fh);
	mig_w_begin(&w, MIG_SEC_COUNTERS, MIG_SECF_MUST_UNDERSTAND);
	mig_w_u64(&w, next_nodeid);
	mig_w_u64(&w, next_fh);
	mig_w_end(&w);

	free(il.v);
	il.v = NULL;
	ret = mig_w_finish(&w);
	if (ret) {
		LOG_ERR("migration: writing the state: %s", strerror(-ret));
		goto out;
	}
	LOG_INFO("migration: saved %llu inodes (%llu sections), %zu handles, "
		 "%llu file handles, next node id %llu, next fh %llu: %llu "
		 "bytes in %.1f ms",
		 (unsigned long long)il.n, (unsigned long long)il.sections,
		 hl.n, (unsigned long long)fb.total, (unsigned long long)next_nodeid,
		 (unsigned long long)next_fh, (unsigned long long)w.total,
		 now_ms() - t0);
	goto out;
fail:
	LOG_ERR("migration: collecting the state: %s", strerror(-ret));
	mig_w_abort(&w);
out:
	free(il.v);
	free(hl.v);
	return ret;
}

/* ---- load ---- */

struct loader {
	struct mig_ctx *ctx;
	struct pt_mig_load *pl;
	struct fv_session_state st;
	uint8_t src_cfg[CFG_N];
	uint64_t next_nodeid, next_fh;
	uint64_t inodes, handles;
	bool have_session, have_config, have_counters;
};

/* A must-understand section must be consumed exactly. */
static int cur_done(const struct mig_cur *c, const char *what)
{
	if (c->bad || c->left) {
		LOG_ERR("migration: malformed %s section (%s)", what,
			c->bad ? "truncated" : "trailing bytes");
		return -EBADMSG;
	}
	return 0;
}

static int load_session(struct loader *L, struct mig_cur *c)
{
	struct fv_session_state *s = &L->st;
	int err = 0;
	uint8_t init;

	if (L->have_session) {
		LOG_ERR("migration: two SESSION sections");
		return -EBADMSG;
	}
	init = mig_c_u8(c);
	s->minor = mig_c_u32(c);
	s->flags = mig_c_u64(c);
	s->max_write = mig_c_u32(c);
	s->max_readahead = mig_c_u32(c);
	s->time_gran = mig_c_u32(c);
	s->max_background = mig_c_u16(c);
	s->congestion_threshold = mig_c_u16(c);
	if (cur_done(c, "SESSION"))
		return -EBADMSG;
	if (init > 1) {
		LOG_ERR("migration: SESSION: bad initialized flag %u", init);
		return -EBADMSG;
	}
	s->initialized = init;
	L->have_session = true;
	L->pl = pt_mig_load_begin(L->ctx->fs, s->initialized ? s->flags : 0,
				  &err);
	return L->pl ? 0 : err;
}

static int load_config(struct loader *L, struct mig_cur *c)
{
	const uint8_t *b;

	/* Informational and extensible: newer sources may append fields. */
	b = mig_c_bytes(c, CFG_N);
	if (!b || L->have_config) {
		LOG_ERR("migration: malformed CONFIG section");
		return -EBADMSG;
	}
	memcpy(L->src_cfg, b, CFG_N);
	L->have_config = true;
	return 0;
}

/*
 * Open a table section (INODES, HANDLES; both versions): SESSION must
 * have come first, then the u32 count, bounded by the bytes left at min
 * bytes an entry (exact: every entry is exactly min bytes).  Returns 0
 * with *count, or -EBADMSG (logged).
 */
static int table_count(struct loader *L, struct mig_cur *c, const char *what,
		       size_t min, bool exact, uint32_t *count)
{
	if (!L->pl) {
		LOG_ERR("migration: %s before SESSION", what);
		return -EBADMSG;
	}
	*count = mig_c_u32(c);
	if (c->bad || *count > c->left / min ||
	    (exact && *count * min != c->left)) {
		LOG_ERR("migration: %s: count %u does not fit the section "
			"(%zu bytes)", what, *count, c->left);
		return -EBADMSG;
	}
	return 0;
}

static int load_inodes(struct loader *L, struct mig_cur *c)
{
	uint32_t count;

	if (table_count(L, c, "INODES", MIG_INODE_FIXED, false, &count))
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_inode e;
		int ret;

		if (mig_in1_get(c, &e)) {
			LOG_ERR("migration: INODES section truncated at entry %u",
				i);
			return -EBADMSG;
		}
		if (e.namelen > NAME_MAX) {
			LOG_ERR("migration: inode %llu: name length %u",
				(unsigned long long)e.nodeid, e.namelen);
			return -EBADMSG;
		}
		ret = pt_mig_load_inode(L->pl, &e);
		if (ret)
			return ret;   /* logged with the node id and name */
	}
	L->inodes += count;
	return cur_done(c, "INODES");
}

/* INODES2: u32 count, then count compact entries (mig_compact.h). */
static int load_inodes2(struct loader *L, struct mig_cur *c)
{
	struct mig_delta d = { 0 };
	uint32_t count;

	if (table_count(L, c, "INODES", MIG_INODE2_MIN, false, &count))
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_inode e;
		const char *why = mig_in2_get(c, &d, &e);
		int ret;

		if (why) {
			LOG_ERR("migration: INODES: entry %u of %u: %s", i, count,
				why);
			return -EBADMSG;
		}
		ret = pt_mig_load_inode(L->pl, &e);
		if (ret)
			return ret;   /* logged with the node id and name */
	}
	L->inodes += count;
	return cur_done(c, "INODES");
}

static int load_mounts(struct loader *L, struct mig_cur *c)
{
	uint32_t count;

	if (!L->pl) {
		LOG_ERR("migration: MOUNTS before SESSION");
		return -EBADMSG;
	}
	count = mig_c_u32(c);
	if (c->bad || count > c->left / 10) {
		LOG_ERR("migration: MOUNTS: count %u does not fit the section",
			count);
		return -EBADMSG;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_mount m;
		int ret;

		m.mnt_id = mig_c_u64(c);
		m.pathlen = mig_c_u16(c);
		m.path = (const char *)mig_c_bytes(c, m.pathlen);
		if (c->bad) {
			LOG_ERR("migration: MOUNTS section truncated");
			return -EBADMSG;
		}
		ret = pt_mig_load_mount(L->pl, &m);
		if (ret)
			return ret;
	}
	return cur_done(c, "MOUNTS");
}

static int load_fhandles(struct loader *L, struct mig_cur *c)
{
	if (!L->pl) {
		LOG_ERR("migration: FHANDLES before SESSION");
		return -EBADMSG;
	}
	while (c->left) {
		struct pt_mig_fhandle h;
		int ret;

		h.nodeid = mig_c_u64(c);
		h.type = (int32_t)mig_c_u32(c);
		h.len = mig_c_u16(c);
		h.bytes = mig_c_bytes(c, h.len);
		if (c->bad) {
			LOG_ERR("migration: FHANDLES section truncated");
			return -EBADMSG;
		}
		ret = pt_mig_load_fhandle(L->pl, &h);
		if (ret)
			return ret;
	}
	return 0;
}

static int load_handles(struct loader *L, struct mig_cur *c)
{
	uint32_t count;

	if (table_count(L, c, "HANDLES", MIG_HANDLE_LEN, true, &count))
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_handle h;
		int ret;

		mig_h1_get(c, &h);   /* the count filled the section exactly */
		ret = pt_mig_load_handle(L->pl, &h);
		if (ret)
			return ret;
	}
	L->handles += count;
	return cur_done(c, "HANDLES");
}

/* HANDLES2: u32 count, then count compact entries (mig_compact.h). */
static int load_handles2(struct loader *L, struct mig_cur *c)
{
	struct mig_delta d = { 0 };
	uint32_t count;

	if (table_count(L, c, "HANDLES", MIG_HANDLE2_MIN, false, &count))
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_handle h;
		const char *why = mig_h2_get(c, &d, &h);
		int ret;

		if (why) {
			LOG_ERR("migration: HANDLES: entry %u of %u: %s", i,
				count, why);
			return -EBADMSG;
		}
		ret = pt_mig_load_handle(L->pl, &h);
		if (ret)
			return ret;
	}
	L->handles += count;
	return cur_done(c, "HANDLES");
}

static int load_counters(struct loader *L, struct mig_cur *c)
{
	if (L->have_counters) {
		LOG_ERR("migration: two COUNTERS sections");
		return -EBADMSG;
	}
	L->next_nodeid = mig_c_u64(c);
	L->next_fh = mig_c_u64(c);
	L->have_counters = true;
	return cur_done(c, "COUNTERS");
}

/* Can this daemon serve what the guest negotiated with the source? */
static int check_compat(struct loader *L)
{
	const struct pt_config *cfg = L->ctx->cfg;
	uint64_t f = L->st.initialized ? L->st.flags : 0;

	if ((f & FUSE_WRITEBACK_CACHE) && !cfg->writeback) {
		LOG_ERR("migration: the guest negotiated the writeback cache but "
			"this daemon runs without --writeback");
		return -EINVAL;
	}
	if ((f & FUSE_HANDLE_KILLPRIV_V2) && !cfg->killpriv_v2)
		LOG_WARN("migration: the guest negotiated HANDLE_KILLPRIV_V2, "
			 "this daemon runs without it; honouring it anyway");
	if ((f & FUSE_DIRECT_IO_ALLOW_MMAP) && !cfg->allow_mmap)
		LOG_WARN("migration: the guest negotiated DIRECT_IO_ALLOW_MMAP, "
			 "this daemon runs without --allow-mmap");
	if (!L->have_config)
		return 0;
	if (L->src_cfg[CFG_XATTR] && !cfg->xattr)
		LOG_WARN("migration: the source served xattrs, this daemon "
			 "does not (the guest will get ENOSYS)");
	if (!L->src_cfg[CFG_READONLY] && cfg->readonly)
		LOG_WARN("migration: the source was writable, this daemon is "
			 "--readonly (the guest will get EROFS)");
	if (L->src_cfg[CFG_CACHE] != (uint8_t)cfg->cache)
		LOG_WARN("migration: cache mode differs from the source's "
			 "(%u here, %u there)", (unsigned)cfg->cache,
			 L->src_cfg[CFG_CACHE]);
	if (L->src_cfg[CFG_ANNOUNCE_SUBMOUNTS] != cfg->announce_submounts)
		LOG_WARN("migration: --announce-submounts differs from the "
			 "source's");
	return 0;
}

/* Read, validate and apply a state; see mig_state.h. */
int mig_load(struct mig_ctx *ctx, int fd)
{
	struct loader L = { .ctx = ctx };
	struct mig_reader r;
	struct mig_cur c;
	uint32_t type, flags;
	double t0 = now_ms();
	int ret;

	ret = mig_r_init(&r, fd, MIG_STATE_VERSION);
	if (ret) {
		LOG_ERR("migration: state header: %s", ret == -EPROTO ?
			"needs a newer virtiofsd" : strerror(-ret));
		return ret;
	}
	while ((ret = mig_r_next(&r, &type, &flags, &c)) == 1) {
		switch (type) {
		case MIG_SEC_SESSION:
			ret = load_session(&L, &c);
			break;
		case MIG_SEC_CONFIG:
			ret = load_config(&L, &c);
			break;
		case MIG_SEC_INODES:
			ret = load_inodes(&L, &c);
			break;
		case MIG_SEC_HANDLES:
			ret = load_handles(&L, &c);
			break;
		case MIG_SEC_INODES2:
			ret = load_inodes2(&L, &c);
			break;
		case MIG_SEC_HANDLES2:
			ret = load_handles2(&L, &c);
			break;
		case MIG_SEC_COUNTERS:
			ret = load_counters(&L, &c);
			break;
		case MIG_SEC_FHANDLES:
			ret = load_fhandles(&L, &c);
			break;
		case MIG_SEC_MOUNTS:
			ret = load_mounts(&L, &c);
			break;
		default:
			if (flags & MIG_SECF_MUST_UNDERSTAND) {
				LOG_ERR("migration: unknown must-understand "
					"section %u", type);
				ret = -EPROTO;
			} else {
				LOG_DBG("migration: skipping unknown section %u",
					type);
				ret = 0;
			}
			break;
		}
		if (ret)
			goto fail;
	}
	if (ret < 0) {
		LOG_ERR("migration: state stream: %s", ret == -EBADMSG ?
			"truncated or corrupt (checksum)" : strerror(-ret));
		goto fail;
	}
	ret = pt_mig_load_finish(L.pl);
	if (ret)
		goto fail;
	if (!L.have_session || !L.have_counters) {
		LOG_ERR("migration: state without %s section",
			L.have_session ? "COUNTERS" : "SESSION");
		ret = -EBADMSG;
		goto fail;
	}
	ret = check_compat(&L);
	if (ret)
		goto fail;
	ret = pt_mig_load_commit(L.pl, L.next_nodeid, L.next_fh);
	L.pl = NULL;
	if (ret)
		goto fail;
	fuse_session_set_state(ctx->se, &L.st);
	LOG_INFO("migration: loaded %llu inodes, %llu handles, next node id "
		 "%llu, next fh %llu: %llu bytes in %.1f ms",
		 (unsigned long long)L.inodes, (unsigned long long)L.handles,
		 (unsigned long long)L.next_nodeid,
		 (unsigned long long)L.next_fh, (unsigned long long)r.total,
		 now_ms() - t0);
	mig_r_free(&r);
	return 0;
fail:
	pt_mig_load_abort(L.pl);
	mig_r_free(&r);
	return ret;
}
