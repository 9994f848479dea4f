/*
 * sandbox.c - isolation of the daemon: namespaces + pivot_root, chroot,
 * or nothing; see sandbox.h for the two steps.
 *
 * Everything here runs before the seccomp filter is installed, so its
 * syscalls (unshare, mount, pivot_root, ...) are deliberately not on the
 * allow-list, with one exception: the signal handler of the daemon (pid 1
 * of its namespace) exits with _exit().
 *
 * The waiting parent.  unshare(CLONE_NEWPID) only puts our *children* in
 * the new pid namespace, so we fork: the child is the daemon (pid 1 in
 * there) and creates the mount and network namespaces; the original
 * process stays outside (in the host's mount namespace too), closes every
 * fd but stdio and the pid-file lock, forwards SIGTERM/SIGINT/SIGHUP and
 * ends the way the daemon ended.  Afterwards it removes the socket and the pid file,
 * which the daemon cannot reach from inside its new root.  A pid 1 ignores
 * signals it has no handler for, so the daemon handles those three by
 * exiting at once.
 *
 * Unprivileged start (not root): a user namespace comes first.  Without
 * --uid-map/--gid-map (or with one single mapping of our own id each) we
 * write our own one-line maps; several ranges need the setuid helpers
 * newuidmap/newgidmap (and /etc/subuid, /etc/subgid), run by a helper
 * process that stays in the parent namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "idmap.h"
#include "log.h"
#include "sandbox.h"

static pid_t daemon_pid;
static volatile sig_atomic_t forwarded;
static const int fwd_signals[] = { SIGTERM, SIGINT, SIGHUP };

/* Write the whole string s to path.  0 or -errno. */
static int write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? -errno : -EIO;

		close(fd);
		return e;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* True when maps is empty or one range of length 1 for host id self. */
static bool self_map(const struct vfs_idmaps *maps, unsigned self)
{
	return maps->n == 0 ||
	       (maps->n == 1 && maps->m[0].host_id == self &&
		maps->m[0].count == 1);
}

/* Run "tool pid ns host count ..." and wait for it.  0 or -errno. */
static int run_map_tool(const char *tool, pid_t pid,
			const struct vfs_idmaps *maps)
{
	char nums[VFS_IDMAP_MAX * 3 + 1][12];
	char *argv[VFS_IDMAP_MAX * 3 + 3];
	unsigned argc = 0, k = 0;
	pid_t c;
	int st;

	argv[argc++] = (char *)tool;
	snprintf(nums[k], sizeof(nums[k]), "%d", (int)pid);
	argv[argc++] = nums[k++];
	for (unsigned i = 0; i < maps->n; i++) {
		const uint32_t v[3] = { maps->m[i].ns_id, maps->m[i].host_id,
					maps->m[i].count };

		for (unsigned j = 0; j < 3; j++) {
			snprintf(nums[k], sizeof(nums[k]), "%u", v[j]);
			argv[argc++] = nums[k++];
		}
	}
	argv[argc] = NULL;
	c = fork();
	if (c < 0)
		return -errno;
	if (c == 0) {
		execvp(tool, argv);
		fprintf(stderr, "virtiofsd: cannot run %s: %s\n", tool,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

/*
 * Enter a new user namespace with the maps of o (our own ids mapped to
 * themselves by default).  Returns 0 or a negative errno (logged).
 */
static int enter_userns(const struct vfs_options *o)
{
	unsigned uid = geteuid(), gid = getegid();
	struct vfs_idmaps own_u = { 1, { { uid, uid, 1 } } };
	struct vfs_idmaps own_g = { 1, { { gid, gid, 1 } } };
	const struct vfs_idmaps *um = o->ns_uid_map.n ? &o->ns_uid_map : &own_u;
	const struct vfs_idmaps *gm = o->ns_gid_map.n ? &o->ns_gid_map : &own_g;
	int go[2], done[2], ret;
	char buf[VFS_IDMAP_MAX * 36];
	pid_t helper = -1, self = getpid();
	char st = 1;

	if (self_map(um, uid) && self_map(gm, gid)) {
		if (unshare(CLONE_NEWUSER) < 0) {
			ret = -errno;
			LOG_ERR("sandbox: cannot create a user namespace: %s "
				"(try --sandbox=none)", strerror(-ret));
			return ret;
		}
		ret = write_file("/proc/self/setgroups", "deny");
		if (!ret) {
			vfs_idmap_format(um, buf, sizeof(buf));
			ret = write_file("/proc/self/uid_map", buf);
		}
		if (!ret) {
			vfs_idmap_format(gm, buf, sizeof(buf));
			ret = write_file("/proc/self/gid_map", buf);
		}
		if (ret)
			LOG_ERR("sandbox: cannot write the user namespace's id "
				"maps: %s", strerror(-ret));
		return ret;
	}

	/* Several ranges: newuidmap/newgidmap must run from outside. */
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0)
		return -errno;
	helper = fork();
	if (helper < 0) {
		ret = -errno;
		LOG_ERR("sandbox: fork: %s", strerror(-ret));
		return ret;
	}
	if (helper == 0) {
		char c;

		close(go[1]);
		close(done[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		c = run_map_tool("newuidmap", self, um) == 0 &&
		    run_map_tool("newgidmap", self, gm) == 0 ? 0 : 1;
		if (write(done[1], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	close(done[1]);
	ret = unshare(CLONE_NEWUSER) < 0 ? -errno : 0;
	if (ret)
		LOG_ERR("sandbox: cannot create a user namespace: %s "
			"(try --sandbox=none)", strerror(-ret));
	else if (write(go[1], "g", 1) != 1 || read(done[0], &st, 1) != 1 || st)
		ret = -EPERM;
	if (!ret)
		LOG_DBG("sandbox: id maps set by newuidmap/newgidmap");
	else if (st)
		LOG_ERR("sandbox: newuidmap/newgidmap failed to set the id maps "
			"(check /etc/subuid and /etc/subgid)");
	close(go[1]);
	close(done[0]);
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	return ret;
}

static void forward_signal(int sig)
{
	forwarded = sig;
	if (daemon_pid > 0)
		kill(daemon_pid, sig);
}

/* The daemon is pid 1 of its namespace: without a handler, the signals
 * that should end it would be ignored.
 * Syscalls: exit_group. */
static void daemon_signal(int sig)
{
	_exit(128 + sig);
}

static void set_handlers(void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fwd_signals) / sizeof(fwd_signals[0]); i++)
		sigaction(fwd_signals[i], &sa, NULL);
}

/* The original process: wait for the daemon, clean up, end as it did. */
static __attribute__((noreturn)) void wait_daemon(const struct vfs_options *o,
						   int pid_fd)
{
	struct rlimit no_core = { 0, 0 };
	int st, sig;

	/* Keep stdio and the pid-file lock (held until we have cleaned
	 * up), nothing else: the listening socket is the daemon's. */
	if (pid_fd > 3)
		close_range(3, (unsigned)pid_fd - 1, 0);
	close_range(pid_fd >= 3 ? (unsigned)pid_fd + 1 : 3, ~0U, 0);
	while (waitpid(daemon_pid, &st, 0) < 0) {
		if (errno != EINTR) {
			LOG_ERR("sandbox: waitpid: %m");
			_exit(1);
		}
	}
	if (o->socket_path) {
		char path[4096 + 8];

		snprintf(path, sizeof(path), "%s.pid", o->socket_path);
		unlink(o->socket_path);
		unlink(path);
	}
	if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);

		/* The daemon ended because of a signal we forwarded: end
		 * the same way as an unsandboxed daemon would. */
		if (!forwarded || code != 128 + forwarded)
			exit(code);
		sig = forwarded;
	} else {
		sig = WTERMSIG(st);
		if (sig == SIGSYS)
			LOG_ERR("sandbox: the daemon was killed by SIGSYS: a "
				"syscall outside the seccomp allow-list (find it "
				"with --seccomp=log and the audit log)");
		else
			LOG_ERR("sandbox: the daemon was killed by signal %d",
				sig);
	}
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

/* Fork; the parent waits in wait_daemon(), the child returns 0. */
static int fork_daemon(const struct vfs_options *o, int pid_fd)
{
	sigset_t block, old;
	pid_t pid;

	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(fwd_signals) / sizeof(fwd_signals[0]); i++)
		sigaddset(&block, fwd_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		sigprocmask(SIG_SETMASK, &old, NULL);
		LOG_ERR("sandbox: fork: %s", strerror(-e));
		return e;
	}
	if (pid > 0) {
		daemon_pid = pid;
		set_handlers(forward_signal);
		sigprocmask(SIG_SETMASK, &old, NULL);
		wait_daemon(o, pid_fd);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	set_handlers(daemon_signal);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/* In the new mount namespace: stop propagation back to the host, a fresh
 * /proc for our pid namespace, the shared dir as a mount of its own. */
static int setup_mounts(const char *shared)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		LOG_ERR("sandbox: cannot make the mounts slaves: %m");
		return -errno;
	}
	if (mount("proc", "/proc", "proc",
		  MS_NODEV | MS_NOEXEC | MS_NOSUID | MS_RELATIME, NULL) < 0) {
		LOG_ERR("sandbox: cannot mount /proc: %m");
		return -errno;
	}
	if (mount(shared, shared, NULL, MS_BIND | MS_REC, NULL) < 0) {
		LOG_ERR("sandbox: cannot bind-mount %s: %m", shared);
		return -errno;
	}
	return 0;
}

int vfs_sandbox_enter(const struct vfs_options *o, int pid_fd)
{
	int ret;

	if (o->sandbox != SANDBOX_NAMESPACE)
		return 0;
	if (geteuid() != 0) {
		ret = enter_userns(o);
		if (ret)
			return ret;
	} else if (o->ns_uid_map.n || o->ns_gid_map.n) {
		LOG_ERR("sandbox: --uid-map/--gid-map are for an unprivileged "
			"start only");
		return -EINVAL;
	}
	/* The waiting parent keeps the host's mount namespace: pivot_root
	 * would move its root too, and it must reach the socket path. */
	if (unshare(CLONE_NEWPID) < 0) {
		ret = -errno;
		LOG_ERR("sandbox: cannot create a pid namespace: %s (try "
			"--sandbox=chroot or --sandbox=none)", strerror(-ret));
		return ret;
	}
	ret = fork_daemon(o, pid_fd);
	if (ret)
		return ret;
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0) {
		ret = -errno;
		LOG_ERR("sandbox: cannot create mount and network namespaces: "
			"%s", strerror(-ret));
		return ret;
	}
	return setup_mounts(o->pt.shared_dir);
}

int vfs_sandbox_seal(const struct vfs_options *o)
{
	const char *shared = o->pt.shared_dir;

	switch (o->sandbox) {
	case SANDBOX_NAMESPACE:
		/* pivot_root(".", "."): the old root ends up on top of the
		 * new one, and is detached right away. */
		if (chdir(shared) < 0 ||
		    syscall(SYS_pivot_root, ".", ".") < 0 ||
		    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
			LOG_ERR("sandbox: cannot pivot_root into %s: %m", shared);
			return -errno;
		}
		break;
	case SANDBOX_CHROOT:
		if (chroot(shared) < 0 || chdir("/") < 0) {
			LOG_ERR("sandbox: cannot chroot into %s: %m", shared);
			return -errno;
		}
		break;
	case SANDBOX_NONE:
		break;
	}
	return 0;
}
