/*
 * test_confine.c - no request reaches outside the shared directory:
 * names with '/', empty names and "." / ".." where they mean nothing are
 * refused; a host symlink to / is looked up as itself (OPEN: ELOOP,
 * READLINK: its text, nothing behind it reached); ".." of a directory
 * the host moved outside the shared dir is refused (--sandbox=none, where
 * no bind-mounted root stops it); a directory swapped for a symlink in a
 * loop while the guest looks names up in it never yields a file outside.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID

static void env_up(struct vfe_env *e)
{
	struct vfe_env_opts o;

	memset(&o, 0, sizeof(o));
	o.daemon.extra[0] = "--sandbox=none";
	vfe_env_up(e, &o);
}

static const char *outside(const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/outside%s%s", vfe_test_dir(),
		 name ? "/" : "", name ? name : "");
	return buf;
}

static void t_names(void)
{
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	char buf[64];
	size_t n = 0;

	env_up(&e);
	CHECK(mkdir(vfe_shared_path(&e, "d"), 0755) == 0);
	CHECK(symlink("/", vfe_shared_path(&e, "toroot")) == 0);
	CHECK_ERR(vfe_fuse_lookup(&e.f, ROOT, "d/..", &ent), -EINVAL);
	CHECK_ERR(vfe_fuse_lookup(&e.f, ROOT, "../etc", &ent), -EINVAL);
	CHECK_ERR(vfe_fuse_mkdir(&e.f, ROOT, "a/b", 0755, &ent), -EINVAL);
	CHECK_ERR(vfe_fuse_mkdir(&e.f, ROOT, "..", 0755, &ent), -EINVAL);
	CHECK_ERR(vfe_fuse_unlink(&e.f, ROOT, "."), -EINVAL);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "..", &ent));
	CHECK_EQ(ent.nodeid, ROOT);
	/* The symlink itself, never what it points to. */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "toroot", &ent));
	CHECK(S_ISLNK(ent.attr.mode));
	CHECK_ERR(vfe_fuse_open(&e.f, ent.nodeid, O_RDONLY, &op), -ELOOP);
	CHECK_ERR(vfe_fuse_opendir(&e.f, ent.nodeid, &op), -ENOTDIR);
	CHECK_ERR(vfe_fuse_lookup(&e.f, ent.nodeid, "etc", &ent), -ENOTDIR);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "toroot", &ent));
	CHECK_OK(vfe_fuse_readlink(&e.f, ent.nodeid, buf, sizeof(buf), &n));
	CHECK_EQ(n, 1);
	CHECK(buf[0] == '/');
	vfe_env_down(&e);
}

static void t_moved_out(void)
{
	struct vfe_env e;
	struct fuse_entry_out a, b, up;
	char to[4096];

	env_up(&e);
	CHECK(mkdir(outside(NULL), 0755) == 0);
	CHECK(mkdir(vfe_shared_path(&e, "a"), 0755) == 0);
	CHECK(mkdir(vfe_shared_path(&e, "a/b"), 0755) == 0);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "a", &a));
	CHECK_OK(vfe_fuse_lookup(&e.f, a.nodeid, "b", &b));
	CHECK_OK(vfe_fuse_lookup(&e.f, b.nodeid, "..", &up));
	CHECK_EQ(up.nodeid, a.nodeid);
	CHECK_OK(vfe_fuse_lookup(&e.f, a.nodeid, "..", &up));
	CHECK_EQ(up.nodeid, ROOT);
	/* The host moves b out of the share; the guest still holds it. */
	snprintf(to, sizeof(to), "%s", outside("b"));
	CHECK(rename(vfe_shared_path(&e, "a/b"), to) == 0);
	CHECK_ERR(vfe_fuse_lookup(&e.f, b.nodeid, "..", &up), -ENOENT);
	/* Moved deeper inside: ".." is the new (legit) parent. */
	CHECK(rename(to, vfe_shared_path(&e, "a/b")) == 0);
	CHECK(mkdir(vfe_shared_path(&e, "c"), 0755) == 0);
	snprintf(to, sizeof(to), "%s", vfe_shared_path(&e, "c/b"));
	CHECK(rename(vfe_shared_path(&e, "a/b"), to) == 0);
	CHECK_OK(vfe_fuse_lookup(&e.f, b.nodeid, "..", &up));
	CHECKF(up.nodeid != ROOT && up.nodeid != a.nodeid, "up %llu a %llu b %llu",
	       (unsigned long long)up.nodeid, (unsigned long long)a.nodeid,
	       (unsigned long long)b.nodeid);
	vfe_env_down(&e);
}

static atomic_bool swap_stop;
static char swap_dir[4096], swap_link[4096], swap_tmp[4096];

/* Swap shared/d between a directory and a symlink to outside/. */
static void *swapper(void *arg)
{
	(void)arg;
	while (!atomic_load(&swap_stop)) {
		if (rename(swap_link, swap_tmp) < 0 ||
		    rename(swap_dir, swap_link) < 0 ||
		    rename(swap_tmp, swap_dir) < 0)
			break;
	}
	return NULL;
}

static void t_swap_race(void)
{
	struct vfe_env e;
	struct fuse_entry_out d, s;
	struct stat secret;
	pthread_t t;
	int fd, hits = 0;

	env_up(&e);
	CHECK(mkdir(outside(NULL), 0755) == 0);
	fd = open(outside("secret"), O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(stat(outside("secret"), &secret) == 0);
	CHECK(mkdir(vfe_shared_path(&e, "d"), 0755) == 0);
	fd = open(vfe_shared_path(&e, "d/secret"), O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(swap_dir, sizeof(swap_dir), "%s", vfe_shared_path(&e, "d"));
	snprintf(swap_link, sizeof(swap_link), "%s",
		 vfe_shared_path(&e, "l"));
	snprintf(swap_tmp, sizeof(swap_tmp), "%s",
		 vfe_shared_path(&e, "tmp"));
	CHECK(symlink(outside(NULL), swap_link) == 0);
	atomic_store(&swap_stop, false);
	CHECK(pthread_create(&t, NULL, swapper, NULL) == 0);
	for (int i = 0; i < 2000; i++) {
		if (vfe_fuse_lookup(&e.f, ROOT, "d", &d))
			continue;
		if (vfe_fuse_lookup(&e.f, d.nodeid, "secret", &s) == 0) {
			CHECK(s.attr.ino != secret.st_ino);
			hits++;
		}
		CHECK_OK(vfe_fuse_forget(&e.f, d.nodeid, 1));
	}
	atomic_store(&swap_stop, true);
	pthread_join(t, NULL);
	vfe_note("%d lookups of d/secret succeeded, none outside", hits);
	vfe_env_down(&e);
}

int main(int argc, char **argv)
{
	static const struct vfe_test tests[] = {
		{ "names", t_names, 0 },
		{ "moved_out", t_moved_out, 0 },
		{ "swap_race", t_swap_race, 0 },
	};

	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
