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
#include "mig_state.h"
#include "mig_stream.h"
#include "passthrough.h"

#include "unit_check.h"

struct ent {
	uint64_t nodeid, nlookup, parent;
	uint8_t kind;
	const char *name;
	uint16_t namelen;   /* 0: strlen(name) */
};

/* Stream options for one case. */
struct spec {
	const struct ent *ents;
	unsigned nents;
	int64_t count_delta;        /* INODES count as written minus real */
	bool inodes_first;          /* INODES before SESSION */
	bool no_counters;
	uint64_t next_nodeid, next_fh;
	uint64_t handle_fh, handle_node;   /* one handle when handle_fh */
	uint32_t extra_type, extra_flags;  /* an extra section when type */
};

static void w_inodes(struct mig_writer *w, const struct spec *s)
{
	mig_w_begin(w, MIG_SEC_INODES, MIG_SECF_MUST_UNDERSTAND);
	mig_w_u32(w, (uint32_t)((int64_t)s->nents + s->count_delta));
	for (unsigned i = 0; i < s->nents; i++) {
		const struct ent *e = &s->ents[i];
		uint16_t len = e->namelen ? e->namelen :
			       (uint16_t)(e->name ? strlen(e->name) : 0);

		mig_w_u64(w, e->nodeid);
		mig_w_u64(w, e->nlookup);
		mig_w_u64(w, 0);
		mig_w_u8(w, e->kind);
		mig_w_u64(w, e->parent);
		mig_w_u16(w, len);
		if (len)
			mig_w_bytes(w, e->name, e->name ? strlen(e->name) : 0);
	}
	mig_w_end(w);
}

static int make_stream(const struct spec *s)
{
	int fd = memfd_create("state", 0);
	struct mig_writer w;

	CHECK(mig_w_init(&w, fd, MIG_STATE_VERSION, MIG_STATE_OLDEST) == 0);
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
	if (s->handle_fh) {
		mig_w_begin(&w, MIG_SEC_HANDLES, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(&w, 1);
		mig_w_u64(&w, s->handle_fh);
		mig_w_u64(&w, s->handle_node);
		mig_w_u32(&w, 0);   /* O_RDONLY */
		mig_w_u8(&w, 0);
		mig_w_end(&w);
	}
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

int main(void)
{
	static const struct ent good[] = {
		{ 1, 1, 0, 0, NULL, 0 },
		{ 5, 2, 1, 1, "d", 0 },
		{ 7, 0, 5, 1, "caf\xe9", 0 },
		{ 9, 1, 5, 1, "f", 0 },
		{ 11, 1, 2, 3, NULL, 0 },   /* INVALID (ENOENT) */
	};
	struct ent bad[3];
	struct pt_stats st;
	struct spec s;
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

	/* Valid: root, d (count 2), an anchor-like entry, f with a handle. */
	s = (struct spec){ .ents = good, .nents = 5, .handle_fh = 3,
			   .handle_node = 9 };
	CHECK(run(&s, &st) == 0);
	/* root + d + f (7 has no lookup count and no handle; 11 is lost) */
	CHECK(st.inodes == 3 && st.handles == 1);
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
	s = (struct spec){ .ents = bad, .nents = 2 };
	bad[1] = (struct ent){ 5, 1, 1, 1, "a/b", 0 };
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 1, 1, "..", 0 };
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 1, 1, ".virtiofsd-c-migration", 0 };
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 4, 1, "d", 0 };      /* parent unknown */
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 0, 1, 1, 1, "d", 0 };      /* node id 0 */
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 1, 1, 1, 1, "d", 0 };      /* root id again */
	CHECK(run(&s, &st) == -EEXIST);
	bad[1] = (struct ent){ 5, 1, 1, 9, "d", 0 };      /* unknown kind */
	CHECK(run(&s, &st) == -EINVAL);
	bad[1] = (struct ent){ 5, 1, 1, 1, "missing", 0 };
	CHECK(run(&s, &st) == -ENOENT);
	bad[1] = (struct ent){ 5, 1, 1, 1, "d", 300 };    /* namelen > 255 */
	CHECK(run(&s, &st) == -EBADMSG);
	s.nents = 3;
	bad[1] = (struct ent){ 5, 1, 1, 1, "d", 0 };
	bad[2] = (struct ent){ 5, 1, 1, 1, "d", 0 };      /* duplicate id */
	CHECK(run(&s, &st) == -EEXIST);
	bad[2] = (struct ent){ 6, 1, 1, 1, "d", 0 };      /* same host file */
	CHECK(run(&s, &st) == -EEXIST);
	bad[2] = (struct ent){ 6, 1, 1, 2, "nope", 0 };   /* no hidden dir */
	CHECK(run(&s, &st) == -ENOENT);

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	if (system(p) != 0)
		failures++;
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
