/*
 * test_unpriv.c - the unprivileged start (docs/security.md): the real
 * daemon started by root-run tests as a free uid/gid (no supplementary
 * groups) with the default --sandbox=namespace, so that it first enters
 * a user namespace of its own:
 *
 *  - self_map: no --uid-map/--gid-map, the daemon maps its own ids;
 *  - ns_root: --uid-map/--gid-map :0:ID:1:, the daemon is root inside and
 *    files created as guest root belong to ID on the host;
 *  - subid: several ranges set by newuidmap/newgidmap (package uidmap),
 *    with /etc/passwd, /etc/group, /etc/subuid and /etc/subgid replaced by
 *    temporary copies in a private mount namespace of the case.
 *
 * Each case drives the daemon through the front-end (handshake, INIT,
 * CREATE/WRITE/READ/LOOKUP), checks the owner of the file on the host
 * and, from the host, the daemon's user namespace, its uid_map/gid_map,
 * capabilities and seccomp mode.  Skipped when not root or when the
 * kernel refuses unprivileged user namespaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vfe_proc.h"
#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID
/* CHOWN DAC_OVERRIDE FOWNER FSETID SETGID SETUID MKNOD SETFCAP */
#define KEPT_CAPS 0x880000dbULL
/* Host ids of the subordinate range of the subid case. */
#define SUB_BASE 3100000u
#define SUB_COUNT 65536u

/* An id with neither a passwd nor a group entry, the same for both. */
static unsigned free_id(void)
{
	for (unsigned id = 4242; id < 60000; id++)
		if (!getpwuid(id) && !getgrgid(id))
			return id;
	vfe_skip("no free uid/gid");
}

/* Read a small /proc or sysctl file; false when missing. */
static bool read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return true;
}

/* In a child: drop to id:id (no groups) and run fn; its result (0 ok). */
static int as_user(unsigned id, int (*fn)(void *), void *arg)
{
	pid_t p;
	int st;

	fflush(NULL);
	p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 ||
		    setresuid(id, id, id) < 0)
			_exit(2);
		_exit(fn(arg));
	}
	CHECK(waitpid(p, &st, 0) == p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}

static int try_userns(void *arg)
{
	(void)arg;
	return unshare(CLONE_NEWUSER) < 0 ? 1 : 0;
}

static int try_dir(void *arg)
{
	return access(arg, R_OK | W_OK | X_OK) < 0 ? 1 : 0;
}

/*
 * Skip unless root and unprivileged user namespaces work; make the
 * case's directory (socket, pid file) and the shared directory the
 * user's.  Returns the user's id.
 */
static unsigned prepare(void)
{
	char buf[64], shared[PATH_MAX];
	unsigned id;

	if (geteuid() != 0)
		vfe_skip("needs root (to start the daemon as another user)");
	if (read_small("/proc/sys/kernel/unprivileged_userns_clone", buf,
		       sizeof(buf)) && atoi(buf) == 0)
		vfe_skip("kernel.unprivileged_userns_clone is 0");
	if (read_small("/proc/sys/user/max_user_namespaces", buf,
		       sizeof(buf)) && atoi(buf) == 0)
		vfe_skip("user.max_user_namespaces is 0");
	id = free_id();
	if (as_user(id, try_userns, NULL) != 0)
		vfe_skip("unprivileged user namespaces are refused here");
	snprintf(shared, sizeof(shared), "%s/shared", vfe_test_dir());
	CHECK_OK(mkdir(shared, 0755) ? -errno : 0);
	CHECK_OK(chown(shared, id, id) ? -errno : 0);
	/* Open to every guest id (the kernel checks as the caller). */
	CHECK_OK(chmod(shared, 0777) ? -errno : 0);
	CHECK_OK(chown(vfe_test_dir(), id, id) ? -errno : 0);
	if (as_user(id, try_dir, (void *)vfe_test_dir()) != 0)
		vfe_skip("%s cannot be reached by uid %u (TMPDIR?)",
			 vfe_test_dir(), id);
	return id;
}

static void up_as(struct vfe_env *e, unsigned id, const char *const *args)
{
	struct vfe_env_opts o = { 0 };

	o.daemon.as_user = true;
	o.daemon.uid = id;
	o.daemon.gid = id;
	for (unsigned i = 0; args && args[i] && i + 1 < VFE_MAX_ARGS; i++)
		o.daemon.extra[i] = args[i];
	vfe_env_up(e, &o);
}




/*
 * /proc/pid/<file> (uid_map or gid_map, as the host sees it) must hold
 * exactly the n lines "ns host count" of want[].
 */
static void check_map(pid_t pid, const char *file, const unsigned (*want)[3],
		      unsigned n)
{
	char path[64], line[128];
	unsigned got = 0, a, b, c;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "re");
	CHECKF(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		CHECKF(sscanf(line, "%u %u %u", &a, &b, &c) == 3,
		       "%s: bad line '%s'", path, line);
		CHECKF(got < n && a == want[got][0] && b == want[got][1] &&
		       c == want[got][2], "%s: unexpected line %u: '%u %u %u'",
		       path, got + 1, a, b, c);
		got++;
	}
	fclose(f);
	CHECKF(got == n, "%s has %u lines, expected %u", path, got, n);
}

/* After the disconnect: the daemon has exited 0 and its waiting parent,
 * unprivileged too, has removed the socket and the pid file. */
static void down_clean(struct vfe_env *e)
{
	char pid_path[sizeof(e->d.sock_path) + 8];

	vfe_env_down(e);
	snprintf(pid_path, sizeof(pid_path), "%s.pid", e->d.sock_path);
	CHECKF(access(e->d.sock_path, F_OK) < 0 && errno == ENOENT,
	       "the socket %s was left behind", e->d.sock_path);
	CHECKF(access(pid_path, F_OK) < 0 && errno == ENOENT,
	       "the pid file %s was left behind", pid_path);
}

/* /proc/pid/setgroups holds want ("allow" or "deny"). */
static void check_setgroups(pid_t pid, const char *want)
{
	char path[64], buf[32];

	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	CHECKF(read_small(path, buf, sizeof(buf)), "cannot read %s", path);
	CHECKF(strncmp(buf, want, strlen(want)) == 0, "%s: '%s', expected %s",
	       path, buf, want);
}

/* What every case checks of the daemon as the host sees it. */
static void check_daemon(struct vfe_env *e, unsigned id, uint64_t caps)
{
	pid_t w = vfe_proc_child(e->d.pid);

	CHECKF(!vfe_proc_same_ns(e->d.pid, "user") && !vfe_proc_same_ns(w, "user"),
	       "the daemon is not in a user namespace of its own");
	CHECKF(!vfe_proc_same_ns(w, "pid") && !vfe_proc_same_ns(w, "mnt") && !vfe_proc_same_ns(w, "net"),
	       "the daemon shares a pid, mount or network namespace");
	CHECK_EQ(vfe_proc_status(w, "Uid", false), id);
	CHECK_EQ(vfe_proc_status(w, "Gid", false), id);
	CHECK_EQ(vfe_proc_status(w, "CapEff", true), caps);
	CHECK_EQ(vfe_proc_status(w, "CapPrm", true), caps);
	CHECK_EQ(vfe_proc_status(w, "Seccomp", false), 2);
	CHECK_EQ(vfe_proc_status(w, "NoNewPrivs", false), 1);
}

/*
 * CREATE name as guest uid:gid, WRITE, READ back, LOOKUP; the host file
 * must belong to host_uid:host_gid and the guest see ns_uid:ns_gid.
 */
static void check_file(struct vfe_env *e, const char *name, uint32_t guid,
		       unsigned host_id, unsigned ns_id)
{
	static const char data[] = "written by an unprivileged daemon";
	struct fuse_entry_out ent, ent2;
	struct fuse_open_out op;
	char buf[64];
	size_t n = 0;
	struct stat st;

	e->f.uid = e->f.gid = guid;
	CHECK_OK(vfe_fuse_create(&e->f, ROOT, name, O_RDWR, 0644, &ent, &op));
	e->f.uid = e->f.gid = 0;
	CHECK_OK(vfe_fuse_write(&e->f, ent.nodeid, op.fh, 0, data,
				sizeof(data), &n));
	CHECK_EQ(n, sizeof(data));
	CHECK_OK(vfe_fuse_read(&e->f, ent.nodeid, op.fh, 0, buf, sizeof(buf),
			       &n));
	CHECK_EQ(n, sizeof(data));
	CHECK(memcmp(buf, data, sizeof(data)) == 0);
	CHECK_OK(vfe_fuse_release(&e->f, ent.nodeid, op.fh, 0));
	CHECK_OK(vfe_fuse_lookup(&e->f, ROOT, name, &ent2));
	CHECK_EQ(ent2.nodeid, ent.nodeid);
	CHECK_EQ(ent2.attr.uid, ns_id);
	CHECK_EQ(ent2.attr.gid, ns_id);
	CHECK_EQ(ent2.attr.size, sizeof(data));
	CHECK_OK(stat(vfe_shared_path(e, name), &st) ? -errno : 0);
	CHECK_EQ(st.st_uid, host_id);
	CHECK_EQ(st.st_gid, host_id);
	CHECK_EQ(st.st_size, sizeof(data));
}

static void t_self_map(void)
{
	unsigned id = prepare();
	struct fuse_entry_out ent;
	struct vfe_env e;
	int fd;

	up_as(&e, id, NULL);
	check_daemon(&e, id, 0);
	{
		const unsigned m[1][3] = { { id, id, 1 } };

		check_map(vfe_proc_child(e.d.pid), "uid_map", m, 1);
		check_map(vfe_proc_child(e.d.pid), "gid_map", m, 1);
	}
	check_setgroups(vfe_proc_child(e.d.pid), "deny");
	/* No credential switch: the guest's uid does not matter. */
	check_file(&e, "self", 0, id, id);
	check_file(&e, "self1000", 1000, id, id);
	/* A host file of an unmapped owner (root) shows the overflow id. */
	fd = open(vfe_shared_path(&e, "hostroot"), O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "hostroot", &ent));
	CHECK_EQ(ent.attr.uid, 65534);
	CHECK_EQ(ent.attr.gid, 65534);
	down_clean(&e);
}

static void t_ns_root(void)
{
	unsigned id = prepare();
	char um[48], gm[48];
	const char *args[3] = { um, gm, NULL };
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	struct vfe_env e;
	int r;

	snprintf(um, sizeof(um), "--uid-map=:0:%u:1:", id);
	snprintf(gm, sizeof(gm), "--gid-map=:0:%u:1:", id);
	up_as(&e, id, args);
	/* Root inside its namespace: the passthrough set, valid there. */
	check_daemon(&e, id, KEPT_CAPS);
	{
		const unsigned m[1][3] = { { 0, id, 1 } };

		check_map(vfe_proc_child(e.d.pid), "uid_map", m, 1);
		check_map(vfe_proc_child(e.d.pid), "gid_map", m, 1);
	}
	check_setgroups(vfe_proc_child(e.d.pid), "deny");
	check_file(&e, "nsroot", 0, id, 0);
	/* A guest id without a mapping cannot own a file. */
	e.f.uid = e.f.gid = 1000;
	r = vfe_fuse_create(&e.f, ROOT, "unmapped", O_RDWR, 0644, &ent, &op);
	e.f.uid = e.f.gid = 0;
	vfe_note("CREATE as unmapped guest uid 1000: %s", vfe_errname(r));
	CHECK(r < 0);
	CHECK(access(vfe_shared_path(&e, "unmapped"), F_OK) < 0);
	check_file(&e, "nsroot2", 0, id, 0);
	down_clean(&e);
}

/* Write a file; fails the case. */
static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	CHECKF(f, "cannot create %s", path);
	CHECK(fputs(text, f) >= 0);
	CHECK(fclose(f) == 0);
}

/* Copy of /etc/<name> with one more line, bind-mounted over it (the
 * mount namespace is the case's own). */
static void replace_etc(const char *name, const char *add, bool keep)
{
	char src[64], dst[PATH_MAX], text[1 << 16] = "";

	snprintf(src, sizeof(src), "/etc/%s", name);
	snprintf(dst, sizeof(dst), "%s/etc-%s", vfe_test_dir(), name);
	if (keep && !read_small(src, text, sizeof(text) - 256))
		vfe_skip("cannot read %s", src);
	if (*text && text[strlen(text) - 1] != '\n')
		strcat(text, "\n");
	strcat(text, add);
	put_file(dst, text);
	CHECK_OK(chmod(dst, 0644) ? -errno : 0);
	CHECKF(mount(dst, src, NULL, MS_BIND, NULL) == 0,
	       "cannot bind-mount over %s: %s", src, strerror(errno));
}

static void t_subid(void)
{
	unsigned id = prepare();
	char um0[48], um1[48], gm0[48], gm1[48], line[128];
	const char *args[5] = { um0, um1, gm0, gm1, NULL };
	struct vfe_env e;

	if (access("/usr/bin/newuidmap", X_OK) != 0 ||
	    access("/usr/bin/newgidmap", X_OK) != 0)
		vfe_skip("newuidmap/newgidmap not installed (package uidmap)");
	/* The helpers look the user up by name: a passwd and group entry,
	 * and the subordinate ranges, visible to this case only. */
	CHECK_OK(unshare(CLONE_NEWNS) ? -errno : 0);
	CHECK_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ? -errno : 0);
	snprintf(line, sizeof(line), "vfeunpriv:x:%u:%u::/nonexistent:"
		 "/usr/sbin/nologin\n", id, id);
	replace_etc("passwd", line, true);
	snprintf(line, sizeof(line), "vfeunpriv:x:%u:\n", id);
	replace_etc("group", line, true);
	snprintf(line, sizeof(line), "vfeunpriv:%u:%u\n", SUB_BASE, SUB_COUNT);
	replace_etc("subuid", line, false);
	replace_etc("subgid", line, false);

	snprintf(um0, sizeof(um0), "--uid-map=:0:%u:1:", id);
	snprintf(um1, sizeof(um1), "--uid-map=:1:%u:%u:", SUB_BASE, SUB_COUNT);
	snprintf(gm0, sizeof(gm0), "--gid-map=:0:%u:1:", id);
	snprintf(gm1, sizeof(gm1), "--gid-map=:1:%u:%u:", SUB_BASE, SUB_COUNT);
	up_as(&e, id, args);
	CHECKF(vfe_daemon_log_contains(&e.d, "newuidmap/newgidmap"),
	       "the maps were not set by newuidmap/newgidmap");
	check_daemon(&e, id, KEPT_CAPS);
	{
		const unsigned m[2][3] = { { 0, id, 1 },
					   { 1, SUB_BASE, SUB_COUNT } };

		check_map(vfe_proc_child(e.d.pid), "uid_map", m, 2);
		check_map(vfe_proc_child(e.d.pid), "gid_map", m, 2);
	}
	check_file(&e, "subroot", 0, id, 0);
	/* Guest uid 1000 is namespace uid 1000: host SUB_BASE + 999. */
	check_file(&e, "sub1000", 1000, SUB_BASE + 999, 1000);
	down_clean(&e);
}

static const struct vfe_test tests[] = {
	{ "self_map", t_self_map, 0 },
	{ "ns_root", t_ns_root, 0 },
	{ "subid", t_subid, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
