/*
 * test_fdbudget.c - near its fd limit (--rlimit-nofile 128) the daemon
 * answers the guest EMFILE / ENFILE and keeps serving: LOOKUP and OPEN
 * until errors come, then FORGET / RELEASE, and everything works again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID
#define NFILES 300

static void t_budget(void)
{
	struct vfe_env e;
	struct vfe_env_opts o;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	uint64_t ids[NFILES], fhs[NFILES];
	unsigned nids = 0, nfh = 0, errs = 0;
	char name[32];

	memset(&o, 0, sizeof(o));
	o.daemon.extra[0] = "--rlimit-nofile=128";
	vfe_env_up(&e, &o);
	for (int i = 0; i < NFILES; i++) {
		int fd;

		snprintf(name, sizeof(name), "f%d", i);
		fd = open(vfe_shared_path(&e, name), O_CREAT | O_WRONLY, 0644);
		CHECK(fd >= 0);
		close(fd);
	}
	for (int i = 0; i < NFILES; i++) {
		int r;

		snprintf(name, sizeof(name), "f%d", i);
		r = vfe_fuse_lookup(&e.f, ROOT, name, &ent);
		if (r == 0) {
			ids[nids++] = ent.nodeid;
			r = vfe_fuse_open(&e.f, ent.nodeid, O_RDONLY, &op);
			if (r == 0)
				fhs[nfh++] = op.fh;
		}
		if (r) {
			CHECKF(r == -EMFILE || r == -ENFILE, "f%d: %s", i,
			       vfe_errname(r));
			errs++;
		}
	}
	CHECK(errs > 0);
	CHECK(vfe_daemon_alive(&e.d));
	vfe_note("%u lookups, %u opens succeeded, %u errors", nids, nfh,
		 errs);
	for (unsigned i = 0; i < nfh; i++)
		CHECK_OK(vfe_fuse_release(&e.f, ids[i], fhs[i], 0));
	for (unsigned i = 0; i < nids; i++)
		CHECK_OK(vfe_fuse_forget(&e.f, ids[i], 1));
	/* Serves again. */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%d", NFILES - 1 - i);
		CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, name, &ent));
		CHECK_OK(vfe_fuse_open(&e.f, ent.nodeid, O_RDONLY, &op));
		CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, 0));
		CHECK_OK(vfe_fuse_forget(&e.f, ent.nodeid, 1));
	}
	vfe_env_down(&e);
}

int main(int argc, char **argv)
{
	static const struct vfe_test tests[] = {
		{ "budget", t_budget, 0 },
	};

	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
