/*
 * fuzz_fs.c - shared set-up of the libFuzzer targets (see fuzz_fs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"
#include "fuzz_fs.h"
#include "log.h"

static void mk(const char *dir, const char *rel, int dirmode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (dirmode) {
		if (mkdir(p, (mode_t)dirmode) < 0 && errno != EEXIST)
			goto fail;
		return;
	}
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "hello\n", 6) != 6)
		goto fail;
	close(fd);
	return;
fail:
	fprintf(stderr, "fuzz: cannot create %s: %m\n", p);
	exit(1);
}

void fuzz_fs_restore_tree(struct fuzz_fs *f)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/" PT_MIG_DIR "/u1", f->dir);
	if (access(p, F_OK) == 0)
		return;
	mk(f->dir, PT_MIG_DIR, 0700);
	mk(f->dir, PT_MIG_DIR "/u1", 0);
}

/* INIT as a 7.38 guest offering everything. */
static void do_init(struct fuzz_fs *f)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} req;
	uint8_t rep[256];
	struct iovec out = { &req, sizeof(req) }, in = { rep, sizeof(rep) };
	size_t written = 0;

	memset(&req, 0, sizeof(req));
	req.h.len = sizeof(req);
	req.h.opcode = FUSE_INIT;
	req.h.unique = 1;
	req.in.major = 7;
	req.in.minor = 38;
	req.in.max_readahead = 65536;
	req.in.flags = 0x7fffffffu | FUSE_INIT_EXT;
	req.in.flags2 = 0xffffffffu;
	if (fuse_session_process(f->w, &out, 1, &in, 1, &written) ||
	    !fuse_session_initialized(f->se)) {
		fprintf(stderr, "fuzz: INIT failed\n");
		exit(1);
	}
}

void fuzz_fs_reset(struct fuzz_fs *f, bool init)
{
	struct pt_stats st;

	fuse_session_reset_state(f->se);
	pt_fs_stats(f->fs, &st);
	if (st.inodes != 1 || st.handles != 0) {
		fprintf(stderr, "fuzz: after reset %llu inodes, %llu handles\n",
			(unsigned long long)st.inodes,
			(unsigned long long)st.handles);
		abort();
	}
	if (init)
		do_init(f);
}

struct fuzz_fs *fuzz_fs_setup(void)
{
	static struct fuzz_fs f;
	struct rlimit fsize = { 1 << 20, 1 << 20 };
	int err = 0;

	vlog_init(getenv("FUZZ_LOG") ? VLOG_DEBUG : VLOG_OFF, false);
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &fsize);
	strcpy(f.dir, "/tmp/vfsd-fuzz.XXXXXX");
	if (!mkdtemp(f.dir)) {
		perror("mkdtemp");
		exit(1);
	}
	mk(f.dir, "a", 0);
	mk(f.dir, "d", 0755);
	mk(f.dir, "d/b", 0);
	mk(f.dir, "d/e", 0755);
	mk(f.dir, "d/e/f", 0);
	mk(f.dir, "d/caf\xe9", 0);
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/d/link", f.dir);
		if (symlink("e/f", p) < 0 && errno != EEXIST)
			exit(1);
	}
	f.cfg.shared_dir = f.dir;
	f.cfg.readdirplus = true;
	f.cfg.writeback = true;
	f.cfg.xattr = true;
	f.cfg.posix_acl = false;
	f.cfg.killpriv_v2 = true;
	f.cfg.announce_submounts = true;
	f.fs = pt_fs_new(&f.cfg, &err);
	if (!f.fs) {
		fprintf(stderr, "fuzz: pt_fs_new: %s\n", strerror(-err));
		exit(1);
	}
	/* After pt_fs_new, which removes a stale hidden directory. */
	fuzz_fs_restore_tree(&f);
	f.se = fuse_virtio_session_new(pt_lowlevel_ops(),
				       sizeof(struct fuse_lowlevel_ops),
				       pt_virtio_ops(), f.fs);
	f.w = f.se ? fuse_worker_new(f.se) : NULL;
	if (!f.w) {
		fprintf(stderr, "fuzz: out of memory\n");
		exit(1);
	}
	return &f;
}
