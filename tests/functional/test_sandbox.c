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
	char path[80];
	FILE *f;
	int pid = 0;

	if (!forked)
		return e->d.pid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)e->d.pid,
		 (int)e->d.pid);
	f = fopen(path, "re");
	CHECKF(f, "cannot open %s", path);
	CHECKF(fscanf(f, "%d", &pid) == 1, "the daemon has no child process");
	fclose(f);
	return pid;
}

/* Value of "Name:" in /proc/pid/status, parsed as hex when hex. */
static unsigned long long status_field(pid_t pid, const char *name, bool hex)
{
	char path[64], line[256];
	size_t n = strlen(name);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	CHECKF(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			fclose(f);
			return strtoull(line + n + 1, NULL, hex ? 16 : 10);
		}
	}
	fclose(f);
	vfe_fail(__FILE__, __LINE__, "no %s in %s", name, path);
}

static bool same_ns(pid_t pid, const char *ns)
{
	char a[64], b[64], la[64] = "", lb[64] = "";

	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", ns);
	CHECK(readlink(a, la, sizeof(la) - 1) > 0);
	CHECK(readlink(b, lb, sizeof(lb) - 1) > 0);
	return strcmp(la, lb) == 0;
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
	CHECKF(!same_ns(w, "pid") && !same_ns(w, "mnt") && !same_ns(w, "net"),
	       "the daemon shares a pid, mount or network namespace");
	check_root(&e, w);
	CHECK_EQ(status_field(w, "CapEff", true), KEPT_CAPS);
	CHECK_EQ(status_field(w, "CapPrm", true), KEPT_CAPS);
	CHECK_EQ(status_field(w, "CapBnd", true), KEPT_CAPS);
	CHECK_EQ(status_field(w, "CapInh", true), 0);
	CHECK_EQ(status_field(w, "Seccomp", false), 2);
	CHECK_EQ(status_field(w, "NoNewPrivs", false), 1);
	CHECK_EQ(status_field(w, "Groups", false), 0);
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
	CHECK_EQ(status_field(w, "CapEff", true),
		 (KEPT_CAPS | CAP_BIT(21)) & ~CAP_BIT(27));
	check_serves(&e);
	vfe_env_down(&e);
}

static void t_seccomp_trap(void)
{
	struct vfe_env e;

	need_root();
	up_with(&e, "--seccomp=trap", NULL);
	CHECK_EQ(status_field(worker_pid(&e, true), "Seccomp", false), 2);
	check_serves(&e);
	vfe_env_down(&e);
}

static void t_chroot(void)
{
	struct vfe_env e;

	need_root();
	up_with(&e, "--sandbox=chroot", NULL);
	check_root(&e, e.d.pid);
	CHECK_EQ(status_field(e.d.pid, "CapEff", true), KEPT_CAPS);
	CHECK_EQ(status_field(e.d.pid, "Seccomp", false), 2);
	check_serves(&e);
	vfe_env_down(&e);
}

static void t_none(void)
{
	struct vfe_env e;

	need_root();
	up_with(&e, "--sandbox=none", "--seccomp=none");
	CHECK_EQ(status_field(e.d.pid, "Seccomp", false), 0);
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
