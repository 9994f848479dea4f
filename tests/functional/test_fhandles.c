/*
 * test_fhandles.c - inodes held by file handles (--inode-file-handles)
 * and --migration-mode=file-handles:
 *   rlimit       with --rlimit-nofile=256 the guest caches 2000 inodes
 *                (and uses them) with handles; without, lookups hit EMFILE
 *   ops          a few ops on inodes whose cached fds were evicted
 *   migrate      A -> B in file-handles mode: a file unlinked while open
 *                and a file the host renamed keep working on B; the blob
 *                has MOUNTS and FHANDLE entries (--print-state)
 *   no_cap       a destination without CAP_DAC_READ_SEARCH refuses the
 *                state with one clear line
 * (tests/functional/meson.build also runs test_fsops with
 * --inode-file-handles=mandatory.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfe_mig.h"
#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID
#define NFILES 2000

static const char *const mandatory = "--inode-file-handles=mandatory";

static void host_file(struct vfe_env *e, const char *name, const char *s)
{
	int fd = open(vfe_shared_path(e, name), O_WRONLY | O_CREAT | O_TRUNC,
		      0644);

	CHECKF(fd >= 0, "create %s: %s", name, strerror(errno));
	CHECK_EQ(write(fd, s, strlen(s)), strlen(s));
	close(fd);
}

/* ---- cases ---- */

/* Look up NFILES files under --rlimit-nofile=256: all with handles (and
 * they stay usable), EMFILE without. */
static void lookups(const char *const *extra, bool handles)
{
	struct fuse_entry_out ent;
	struct fuse_attr_out attr;
	static uint64_t ids[NFILES];
	unsigned ok = 0, errs = 0;
	struct vfe_env e;
	char name[32];

	vfe_env_up_args(&e, extra);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		host_file(&e, name, "x");
	}
	for (int i = 0; i < NFILES; i++) {
		int r;

		snprintf(name, sizeof(name), "f%d", i);
		r = vfe_fuse_lookup(&e.f, ROOT, name, &ent);
		if (!r) {
			ids[ok++] = ent.nodeid;
			continue;
		}
		CHECKF(r == -EMFILE || r == -ENFILE, "f%d: %s", i,
		       vfe_errname(r));
		errs++;
	}
	vfe_note("%s: %u lookups cached, %u errors", handles ? "handles" :
		 "fds", ok, errs);
	if (handles) {
		struct fuse_open_out op;
		char buf[4];
		size_t got;

		CHECK_EQ(ok, NFILES);
		CHECK(vfe_daemon_log_contains(&e.d, "held by file handles"));
		/* The oldest ones' fds were evicted: reopened by handle. */
		for (unsigned i = 0; i < ok; i += 97) {
			CHECK_OK(vfe_fuse_getattr(&e.f, ids[i], false, 0, &attr));
			CHECK_OK(vfe_fuse_open(&e.f, ids[i], O_RDONLY, &op));
			CHECK_OK(vfe_fuse_read(&e.f, ids[i], op.fh, 0, buf, 4,
					       &got));
			CHECK_EQ(got, 1);
			CHECK_OK(vfe_fuse_release(&e.f, ids[i], op.fh, 0));
		}
	} else {
		CHECK(errs > 0);
	}
	for (unsigned i = 0; i < ok; i++)
		CHECK_OK(vfe_fuse_forget(&e.f, ids[i], 1));
	CHECK(vfe_daemon_alive(&e.d));
	vfe_env_down(&e);
}

static void t_rlimit(void)
{
	static const char *const fh[] = { "--rlimit-nofile=256",
					  "--inode-file-handles=mandatory",
					  NULL };
	static const char *const fd[] = { "--rlimit-nofile=256", NULL };

	lookups(fh, true);
	lookups(fd, false);
}

/* Ops through handle-held inodes whose fds left the cache: a tiny
 * rlimit (cache of 16) and more inodes than that. */
static void t_ops(void)
{
	static const char *const a[] = { "--rlimit-nofile=64", mandatory,
					 "--xattr", NULL };
	struct fuse_entry_out d, ent, l;
	struct fuse_attr_out attr;
	struct vfe_env e;
	char name[32], buf[64];
	uint64_t ids[40];
	size_t got;

	vfe_env_up_args(&e, a);
	CHECK_OK(vfe_fuse_mkdir(&e.f, ROOT, "dir", 0755, &d));
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "dir/g%d", i);
		host_file(&e, name, "hello");
		snprintf(name, sizeof(name), "g%d", i);
		CHECK_OK(vfe_fuse_lookup(&e.f, d.nodeid, name, &ent));
		ids[i] = ent.nodeid;
	}
	CHECK_OK(vfe_fuse_symlink(&e.f, d.nodeid, "ln", "g0", &l));
	for (int i = 0; i < 40; i++) {
		CHECK_OK(vfe_fuse_getattr(&e.f, ids[i], false, 0, &attr));
		CHECK_EQ(attr.attr.size, 5);
	}
	CHECK_OK(vfe_fuse_readlink(&e.f, l.nodeid, buf, sizeof(buf), &got));
	CHECK(strcmp(buf, "g0") == 0);
	CHECK_OK(vfe_fuse_rename(&e.f, d.nodeid, "g1", d.nodeid, "g1b"));
	CHECK_OK(vfe_fuse_unlink(&e.f, d.nodeid, "g2"));
	CHECK_OK(vfe_fuse_link(&e.f, ids[3], ROOT, "g3link", &ent));
	CHECK_EQ(ent.nodeid, ids[3]);
	CHECK_OK(vfe_fuse_setxattr(&e.f, ids[4], "user.k", "v", 1, 0, 0));
	CHECK_OK(vfe_fuse_access(&e.f, ids[5], 4));
	CHECK(vfe_daemon_alive(&e.d));
	vfe_env_down(&e);
}

/* A -> B in file-handles mode. */
static void t_migrate(void)
{
	static const char *const a[] = { mandatory,
					 "--migration-mode=file-handles",
					 NULL };
	static const char *const b[] = { mandatory, NULL };
	struct fuse_entry_out dir, ent, unl, ren;
	struct fuse_open_out op;
	struct fuse_attr_out attr;
	struct vfe_env A, B;
	struct stat st;
	char path[PATH_MAX], buf[64], out[8192];
	size_t got, len;
	uint8_t *blob;
	FILE *p;
	int fd;

	vfe_env_up_args(&A, a);
	CHECK(mkdir(vfe_shared_path(&A, "d"), 0755) == 0);
	host_file(&A, "d/keep", "keep");
	host_file(&A, "unlinked", "still here");
	host_file(&A, "renamed", "moved");
	CHECK_OK(vfe_fuse_lookup(&A.f, ROOT, "d", &dir));
	CHECK_OK(vfe_fuse_lookup(&A.f, dir.nodeid, "keep", &ent));
	CHECK_OK(vfe_fuse_lookup(&A.f, ROOT, "unlinked", &unl));
	CHECK_OK(vfe_fuse_open(&A.f, unl.nodeid, O_RDONLY, &op));
	CHECK_OK(vfe_fuse_lookup(&A.f, ROOT, "renamed", &ren));
	/* Third parties: unlink one (the guest holds it open), move the
	 * other into d under another name. */
	CHECK(unlink(vfe_shared_path(&A, "unlinked")) == 0);
	snprintf(path, sizeof(path), "%s", vfe_shared_path(&A, "d/moved"));
	CHECK(rename(vfe_shared_path(&A, "renamed"), path) == 0);

	blob = vfe_mig_save(&A, &len);
	vfe_note("file-handles state: %zu bytes", len);
	CHECK(vfe_daemon_log_contains(&A.d, "by file handle on"));
	/* No hidden links in this mode. */
	CHECK(stat(vfe_shared_path(&A, ".virtiofsd-c-migration"), &st) < 0);

	/* The decoder shows every section. */
	snprintf(path, sizeof(path), "%s/state.bin", vfe_test_dir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, blob, len), len);
	close(fd);
	snprintf(out, sizeof(out), "%s --print-state %s", vfe_daemon_exe(),
		 path);
	p = popen(out, "r");
	CHECK(p != NULL);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = 0;
	CHECK_EQ(WEXITSTATUS(pclose(p)), 0);
	CHECKF(strstr(out, "MOUNTS") && strstr(out, "kind FHANDLE") &&
	       strstr(out, "mount ") && strstr(out, "path \"\""),
	       "--print-state output:\n%s", out);

	/* The source keeps running (it holds the unlinked file) while B
	 * loads. */
	vfe_mig_dest_up(&B, &A, "dest", b);
	CHECK_EQ(vfe_mig_load(&B, blob, len), 0);
	free(blob);
	vfe_mig_dest_start(&B, &A);
	CHECK_OK(vfe_fuse_getattr(&B.f, ent.nodeid, false, 0, &attr));
	CHECK_EQ(attr.attr.size, 4);
	CHECK_OK(vfe_fuse_getattr(&B.f, ren.nodeid, false, 0, &attr));
	CHECK_EQ(attr.attr.size, 5);
	CHECK(stat(vfe_shared_path(&A, "d/moved"), &st) == 0);
	CHECK_EQ(attr.attr.ino, st.st_ino);
	CHECK_OK(vfe_fuse_read(&B.f, unl.nodeid, op.fh, 0, buf, sizeof(buf),
			       &got));
	CHECK_EQ(got, strlen("still here"));
	CHECK(memcmp(buf, "still here", got) == 0);
	CHECK_OK(vfe_fuse_getattr(&B.f, unl.nodeid, false, 0, &attr));
	CHECK_EQ(attr.attr.nlink, 0);
	CHECK_OK(vfe_fuse_release(&B.f, unl.nodeid, op.fh, 0));
	/* New lookups on B in the moved name. */
	CHECK_OK(vfe_fuse_lookup(&B.f, dir.nodeid, "moved", &ent));
	CHECK_EQ(ent.nodeid, ren.nodeid);
	vfe_env_down(&B);
	vfe_env_down(&A);
}

/* A destination without CAP_DAC_READ_SEARCH: one clear line. */
static void t_no_cap(void)
{
	static const char *const a[] = { "--migration-mode=file-handles",
					 NULL };
	static const char *const b[] = { "--modcaps=-dac_read_search", NULL };
	struct fuse_entry_out ent;
	struct vfe_env A, B;
	uint8_t *blob;
	size_t len;

	if (geteuid() != 0)
		vfe_skip("needs root (capabilities)");
	vfe_env_up_args(&A, a);
	host_file(&A, "f", "x");
	CHECK_OK(vfe_fuse_lookup(&A.f, ROOT, "f", &ent));
	blob = vfe_mig_save(&A, &len);
	vfe_mig_dest_up(&B, &A, "dest", b);
	CHECK(vfe_mig_load(&B, blob, len) != 0);
	free(blob);
	CHECK(vfe_daemon_log_contains(&B.d, "needs CAP_DAC_READ_SEARCH"));
	vfe_env_down(&B);
	vfe_env_down(&A);
}

int main(int argc, char **argv)
{
	static const struct vfe_test tests[] = {
		{ "rlimit", t_rlimit, 120 },
		{ "ops", t_ops, 60 },
		{ "migrate", t_migrate, 60 },
		{ "no_cap", t_no_cap, 60 },
	};

	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
