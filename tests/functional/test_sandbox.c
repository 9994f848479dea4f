/*
 * test_sandbox.c - the daemon's isolation as the host sees it (as root;
 * skipped otherwise): the namespace sandbox (daemon in new pid, mount and
 * network namespaces, its root is the shared directory), the capability
 * set (default and --modcaps), the seccomp filter in force (--seccomp
 * kill and trap both serve), and --sandbox=chroot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "vfe_proc.h"
#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID
/* CHOWN DAC_OVERRIDE FOWNER FSETID SETGID SETUID MKNOD SETFCAP */
#define KEPT_CAPS 0x880000dbULL
#define CAP_BIT(n) (1ULL << (n))

static void need_root(void)
{
	if (geteuid() != 0)
		vfe_skip("needs root");
}

/* The process doing the work: the daemon itself, or with the namespace
 * sandbox the (only) child of the waiting process. */
static pid_t worker_pid(struct vfe_env *e, bool forked)
{
	return forked ? vfe_proc_child(e->d.pid) : e->d.pid;
}



/* The worker's root directory is the shared directory. */
static void check_root(struct vfe_env *e, pid_t pid)
{
	char path[64];
	struct stat r, s;

	snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
	CHECK_OK(stat(path, &r) ? -errno : 0);
	CHECK_OK(stat(e->d.shared_dir, &s) ? -errno : 0);
	CHECKF(r.st_dev == s.st_dev && r.st_ino == s.st_ino,
	       "the daemon's root is not the shared directory");
}

/* A file made on the host is visible through the daemon. */
static void check_serves(struct vfe_env *e)
{
	struct fuse_entry_out ent;
	int fd = open(vfe_shared_path(e, "visible"), O_CREAT | O_WRONLY, 0644);

	CHECK(fd >= 0);
	close(fd);
	CHECK_OK(vfe_fuse_lookup(&e->f, ROOT, "visible", &ent));
}

static void up_with(struct vfe_env *e, const char *a1, const char *a2)
{
	struct vfe_env_opts o = { 0 };

	o.daemon.extra[0] = a1;
	o.daemon.extra[1] = a1 ? a2 : NULL;
	vfe_env_up(e, &o);
}

static void t_namespace(void)
{
	struct vfe_env e;
	pid_t w;

	need_root();
	up_with(&e, NULL, NULL);
	w = worker_pid(&e, true);
	CHECKF(!vfe_proc_same_ns(w, "pid") && !vfe_proc_same_ns(w, "mnt") && !vfe_proc_same_ns(w, "net"),
	       "the daemon shares a pid, mount or network namespace");
	check_root(&e, w);
	CHECK_EQ(vfe_proc_status(w, "CapEff", true), KEPT_CAPS);
	CHECK_EQ(vfe_proc_status(w, "CapPrm", true), KEPT_CAPS);
	CHECK_EQ(vfe_proc_status(w, "CapBnd", true), KEPT_CAPS);
	CHECK_EQ(vfe_proc_status(w, "CapInh", true), 0);
	CHECK_EQ(vfe_proc_status(w, "Seccomp", false), 2);
	CHECK_EQ(vfe_proc_status(w, "NoNewPrivs", false), 1);
	CHECK_EQ(vfe_proc_status(w, "Groups", false), 0);
	check_serves(&e);
	vfe_env_down(&e);
}

static void t_modcaps(void)
{
	struct vfe_env e;
	pid_t w;

	need_root();
	up_with(&e, "--modcaps=+SYS_ADMIN:-mknod", NULL);
	w = worker_pid(&e, true);
	CHECK_EQ(vfe_proc_status(w, "CapEff", true),
		 (KEPT_CAPS | CAP_BIT(21)) & ~CAP_BIT(27));
	check_serves(&e);
	vfe_env_down(&e);
}

static void t_seccomp_trap(void)
{
	struct vfe_env e;

	need_root();
	up_with(&e, "--seccomp=trap", NULL);
	CHECK_EQ(vfe_proc_status(worker_pid(&e, true), "Seccomp", false), 2);
	check_serves(&e);
	vfe_env_down(&e);
}

static void t_chroot(void)
{
	struct vfe_env e;

	need_root();
	up_with(&e, "--sandbox=chroot", NULL);
	check_root(&e, e.d.pid);
	CHECK_EQ(vfe_proc_status(e.d.pid, "CapEff", true), KEPT_CAPS);
	CHECK_EQ(vfe_proc_status(e.d.pid, "Seccomp", false), 2);
	check_serves(&e);
	vfe_env_down(&e);
}

static void t_none(void)
{
	struct vfe_env e;

	need_root();
	up_with(&e, "--sandbox=none", "--seccomp=none");
	CHECK_EQ(vfe_proc_status(e.d.pid, "Seccomp", false), 0);
	check_serves(&e);
	vfe_env_down(&e);
}

static const struct vfe_test tests[] = {
	{ "namespace", t_namespace, 0 },
	{ "modcaps", t_modcaps, 0 },
	{ "seccomp_trap", t_seccomp_trap, 0 },
	{ "chroot", t_chroot, 0 },
	{ "none", t_none, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
