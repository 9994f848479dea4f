/*
 * test_pt_concurrency.c - many threads hammering the passthrough inode and
 * handle tables through the FUSE session: lookups, getattrs and forgets of
 * the same few files (so inodes die and are re-created concurrently),
 * opens/reads/releases, readdirplus + forgets.  Every getattr done while
 * the thread holds a lookup count must succeed, and at the end only the
 * root is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"
#include "passthrough.h"
#include "log.h"

#define THREADS 8
#define ITERS 3000

static struct fuse_session *se;
static struct pt_fs *fs;
static _Atomic int failures;
static _Atomic uint64_t uniq;

struct worker {
	struct fuse_worker *w;
	char rep[70000];
	int id;
};

static long call(struct worker *wk, uint32_t op, uint64_t nodeid,
		 const void *a, size_t al, const void *b, size_t bl,
		 void *out, size_t outsz)
{
	struct fuse_in_header h;
	struct fuse_out_header oh;
	struct iovec iov[3], in;
	size_t written = 0;
	unsigned n = 1;
	int r;

	memset(&h, 0, sizeof(h));
	h.len = (uint32_t)(sizeof(h) + al + bl);
	h.opcode = op;
	h.unique = ++uniq;
	h.nodeid = nodeid;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	if (al) {
		iov[n].iov_base = (void *)a;
		iov[n++].iov_len = al;
	}
	if (bl) {
		iov[n].iov_base = (void *)b;
		iov[n++].iov_len = bl;
	}
	in.iov_base = wk->rep;
	in.iov_len = sizeof(wk->rep);
	r = fuse_session_process(wk->w, iov, n, &in, 1, &written);
	if (r)
		return r;
	if (!written)
		return 0;
	memcpy(&oh, wk->rep, sizeof(oh));
	if (oh.error)
		return oh.error;
	if (out)
		memcpy(out, wk->rep + sizeof(oh),
		       written - sizeof(oh) < outsz ? written - sizeof(oh) : outsz);
	return (long)(written - sizeof(oh));
}

static void fail(const char *what, long r)
{
	fprintf(stderr, "FAIL: %s: %ld\n", what, r);
	failures++;
}

static void *run(void *arg)
{
	struct worker *wk = arg;
	static const char *names[] = { "a", "b", "c", "d" };

	for (int i = 0; i < ITERS; i++) {
		const char *nm = names[(i + wk->id) % 4];
		struct fuse_entry_out e;
		struct fuse_getattr_in ga = { 0 };
		struct fuse_attr_out ao;
		struct fuse_forget_in f = { .nlookup = 1 };
		long r = call(wk, FUSE_LOOKUP, 1, nm, strlen(nm) + 1, NULL, 0,
			      &e, sizeof(e));

		if (r < 0) {
			fail("lookup", r);
			continue;
		}
		r = call(wk, FUSE_GETATTR, e.nodeid, &ga, sizeof(ga), NULL, 0,
			 &ao, sizeof(ao));
		if (r < 0)
			fail("getattr", r);
		if (i % 3 == 0) {
			struct fuse_open_in o = { .flags = O_RDONLY };
			struct fuse_open_out oo;
			struct fuse_read_in rd = { .size = 16 };
			struct fuse_release_in rl = { 0 };
			char buf[32];

			r = call(wk, FUSE_OPEN, e.nodeid, &o, sizeof(o), NULL, 0,
				 &oo, sizeof(oo));
			if (r < 0) {
				fail("open", r);
			} else {
				rd.fh = oo.fh;
				r = call(wk, FUSE_READ, e.nodeid, &rd, sizeof(rd),
					 NULL, 0, buf, sizeof(buf));
				if (r != 1)
					fail("read", r);
				rl.fh = oo.fh;
				r = call(wk, FUSE_RELEASE, e.nodeid, &rl,
					 sizeof(rl), NULL, 0, NULL, 0);
				if (r < 0)
					fail("release", r);
			}
		}
		if (wk->id == 0 && i % 50 == 0) {
			/* readdirplus of the root, then forget what it gave */
			struct fuse_open_in o = { .flags = O_RDONLY };
			struct fuse_open_out oo;
			struct fuse_read_in rd = { .size = 4096 };
			struct fuse_release_in rl = { 0 };
			char buf[4096];

			r = call(wk, FUSE_OPENDIR, 1, &o, sizeof(o), NULL, 0,
				 &oo, sizeof(oo));
			if (r < 0) {
				fail("opendir", r);
			} else {
				rd.fh = oo.fh;
				r = call(wk, FUSE_READDIRPLUS, 1, &rd, sizeof(rd),
					 NULL, 0, buf, sizeof(buf));
				for (long pos = 0; r > 0 && pos < r;) {
					struct fuse_direntplus *dp =
						(void *)(buf + pos);

					if (dp->entry_out.nodeid)
						call(wk, FUSE_FORGET,
						     dp->entry_out.nodeid, &f,
						     sizeof(f), NULL, 0, NULL, 0);
					pos += FUSE_DIRENTPLUS_SIZE(dp);
				}
				if (r < 0)
					fail("readdirplus", r);
				rl.fh = oo.fh;
				call(wk, FUSE_RELEASEDIR, 1, &rl, sizeof(rl),
				     NULL, 0, NULL, 0);
			}
		}
		call(wk, FUSE_FORGET, e.nodeid, &f, sizeof(f), NULL, 0, NULL, 0);
	}
	return NULL;
}

int main(void)
{
	static struct worker wk[THREADS];
	pthread_t th[THREADS];
	struct pt_config cfg;
	struct pt_stats st;
	struct fuse_init_in in;
	char dir[64] = "/tmp/test_pt_conc.XXXXXX", p[128], cmd[128];
	int err = 0;

	vlog_init(VLOG_WARN, false);
	if (!mkdtemp(dir))
		return 1;
	for (char c = 'a'; c <= 'd'; c++) {
		int fd;

		snprintf(p, sizeof(p), "%s/%c", dir, c);
		fd = open(p, O_CREAT | O_WRONLY, 0644);
		if (fd < 0 || write(fd, "x", 1) != 1)
			return 1;
		close(fd);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.shared_dir = dir;
	cfg.readdirplus = true;
	fs = pt_fs_new(&cfg, &err);
	if (!fs)
		return 1;
	se = fuse_virtio_session_new(pt_lowlevel_ops(),
				     sizeof(struct fuse_lowlevel_ops),
				     pt_virtio_ops(), fs);
	for (int i = 0; i < THREADS; i++) {
		wk[i].w = fuse_worker_new(se);
		wk[i].id = i;
	}
	memset(&in, 0, sizeof(in));
	in.major = 7;
	in.minor = 38;
	in.flags = FUSE_DO_READDIRPLUS | FUSE_INIT_EXT;
	if (call(&wk[0], FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0) < 0)
		return 1;
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, run, &wk[i]);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pt_fs_stats(fs, &st);
	if (st.inodes != 1 || st.handles != 0) {
		fprintf(stderr, "FAIL: %llu inodes, %llu handles left\n",
			(unsigned long long)st.inodes,
			(unsigned long long)st.handles);
		failures++;
	}
	for (int i = 0; i < THREADS; i++)
		fuse_worker_free(wk[i].w);
	fuse_virtio_session_free(se);
	pt_fs_free(fs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	if (failures) {
		fprintf(stderr, "%d failure(s)\n", (int)failures);
		return 1;
	}
	printf("test_pt_concurrency: ok\n");
	return 0;
}
