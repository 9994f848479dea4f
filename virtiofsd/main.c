/*
 * main.c - virtiofsd: options, start-up, wiring of the layers, one
 * front-end connection, exit when it goes away.
 *
 * Syscalls: accept4, unlink, close (serving starts at accept4, under
 * the seccomp filter).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "caps.h"
#include "fuse_virtio.h"
#include "log.h"
#include "mig_print.h"
#include "mig_state.h"
#include "options.h"
#include "passthrough.h"
#include "sandbox.h"
#include "sc_filter.h"
#include "vu_dev.h"

#ifndef VIRTIOFSD_VERSION
#define VIRTIOFSD_VERSION "0.1.0"
#endif

/* Create, bind and listen on path (mode 0600, stale socket replaced);
 * with a group (gid != -1) mode 0660 and owned by that group.
 * Returns the listening fd or a negative errno. */
static int listen_on(const char *path, gid_t gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret, n;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		LOG_ERR("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			LOG_ERR("%s exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	/*
	 * Bind under a temporary name, set the group, listen, then rename:
	 * a front-end never sees the socket before its owner and mode are
	 * final (when the temporary name does not fit, bind in place).
	 */
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.%d.tmp", path,
		     (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		strcpy(sa.sun_path, path);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Only write permission matters for connect(). */
	old = umask(gid == (gid_t)-1 ? 0177 : 0117);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0) {
		ret = -errno;
		LOG_ERR("cannot listen on %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	if ((gid != (gid_t)-1 && chown(sa.sun_path, (uid_t)-1, gid) < 0) ||
	    listen(fd, 1) < 0 ||
	    (strcmp(sa.sun_path, path) && rename(sa.sun_path, path) < 0)) {
		ret = -errno;
		LOG_ERR("cannot listen on %s (group %d): %s", path,
			gid == (gid_t)-1 ? -1 : (int)gid, strerror(-ret));
		unlink(sa.sun_path);
		close(fd);
		return ret;
	}
	return fd;
}

/* Take <socket>.pid with an exclusive lock so that two daemons cannot
 * share a socket by accident.  Returns the fd (kept open) or -errno. */
static int lock_pid_file(const char *socket_path)
{
	char path[4096 + 8];
	char buf[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s.pid", socket_path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;

		LOG_ERR("cannot create %s: %s", path, strerror(err));
		return -err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		LOG_ERR("%s is locked: another virtiofsd serves this socket",
			path);
		close(fd);
		return -err;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		LOG_WARN("cannot write %s: %m", path);
	return fd;
}

/*
 * Device-state hooks (vu_state_ops) over the migration context.
 * log_start/log_stop run the pre-copy collection of paths (pt_mig_track.c);
 * the save verifies and completes it while the rings are stopped.
 */
static void state_log_start(void *opaque)
{
	struct mig_ctx *ctx = opaque;

	pt_mig_track_start(ctx->fs);   /* on failure the save does it all */
}

static void state_log_stop(void *opaque)
{
	struct mig_ctx *ctx = opaque;

	pt_mig_track_stop(ctx->fs);
}

static int state_save(void *opaque, int fd)
{
	struct mig_ctx *ctx = opaque;
	int ret = pt_mig_prepare(ctx->fs);

	if (ret)
		return ret;
	ret = mig_save(ctx, fd);
	if (ret)
		pt_mig_abort(ctx->fs);
	else
		pt_mig_save_done(ctx->fs);   /* links stay for the destination */
	return ret;
}

static int state_load(void *opaque, int fd)
{
	return mig_load(opaque, fd);
}

/* The source resumes after a save (migration failed or cancelled). */
static void state_resumed(void *opaque)
{
	struct mig_ctx *ctx = opaque;

	LOG_INFO("migration: rings restarted after a save, resuming");
	pt_mig_abort(ctx->fs);
}

/* Blocked lock waits are interrupted whenever the device must quiesce. */
static void kick_lock_waits(void *arg)
{
	pt_fs_cancel_lock_waits(arg);
}

/* Host-side lock waits (SETLKW) block on the workers of the device's
 * blocking pool, never on a ring thread or a request-pool worker, so
 * unlocks always get through; at most VQ_BLOCK_WORKERS wait at once. */
static void wire_lock_waits(struct vu_dev *dev, struct pt_fs *fs)
{
	vu_gate_set_kick(&dev->mem_gate, kick_lock_waits, fs);
	pt_fs_set_lock_waits(fs, VQ_BLOCK_WORKERS);
}

static const struct vu_state_ops state_ops = {
	.log_start = state_log_start,
	.log_stop = state_log_stop,
	.save = state_save,
	.load = state_load,
	.resumed = state_resumed,
};

/* --print-state FILE: decode the blob in FILE ('-': stdin) to stdout.
 * Returns the exit status: 0 valid, 1 invalid or unreadable. */
static int print_state(const char *path)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO :
		 open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		fprintf(stderr, "virtiofsd: cannot open %s: %m\n", path);
		return 1;
	}
	ret = mig_print(fd, stdout);
	if (fd != STDIN_FILENO)
		close(fd);
	return fflush(stdout) ? 1 : ret;
}

static int set_rlimit(const struct vfs_options *o)
{
	struct rlimit rl;
	unsigned long want = o->rlimit_nofile;

	if (o->rlimit_nofile_set && want == 0)
		return 0;
	if (!o->rlimit_nofile_set) {
		/* default: min(1,000,000, fs.nr_open), as the Rust daemon */
		FILE *f = fopen("/proc/sys/fs/nr_open", "re");
		unsigned long nr_open = 1000000;

		if (f) {
			if (fscanf(f, "%lu", &nr_open) != 1)
				nr_open = 1000000;
			fclose(f);
		}
		want = nr_open < 1000000 ? nr_open : 1000000;
	}
	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		if (o->rlimit_nofile_set) {
			LOG_ERR("cannot set RLIMIT_NOFILE to %lu: %m", want);
			return -errno;
		}
		LOG_DBG("cannot raise RLIMIT_NOFILE to %lu: %m", want);
	}
	return 0;
}

/* --socket-group: a group name, or a number.  Returns the gid, or
 * (gid_t)-1 with the error logged. */
static gid_t resolve_group(const char *name)
{
	struct group *g = getgrnam(name);
	char *end;
	unsigned long v;

	if (g)
		return g->gr_gid;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (!errno && *name && !*end && v < (gid_t)-1)
		return (gid_t)v;
	LOG_ERR("--socket-group: no group named '%s'", name);
	return (gid_t)-1;
}

static const char *on_off(bool b)
{
	return b ? "on" : "off";
}

/* One line with what this daemon is about to do. */
static void log_start(const struct vfs_options *o)
{
	static const char *const sandbox[] = { "namespace", "chroot", "none" };
	static const char *const seccomp[] = { "kill", "log", "trap", "none" };
	static const char *const cache[] = { "auto", "always", "never",
					     "metadata" };
	static const char *const ifh[] = { "never", "prefer", "mandatory" };
	char where[4200];

	if (o->socket_path)
		snprintf(where, sizeof(where), "socket %s", o->socket_path);
	else
		snprintf(where, sizeof(where), "fd %d", o->fd);
	LOG_INFO("virtiofsd-c %s starting (pid %d): shared dir %s, %s, sandbox "
		 "%s, seccomp %s, cache %s, thread pool %u, xattr %s%s, "
		 "posix-acl %s, security-label %s, readonly %s, writeback %s, "
		 "readdirplus %s, announce-submounts %s, killpriv-v2 %s, "
		 "allow-direct-io %s, allow-mmap %s, inode-file-handles %s",
		 VIRTIOFSD_VERSION, (int)getpid(), o->pt.shared_dir, where,
		 sandbox[o->sandbox], seccomp[o->seccomp], cache[o->pt.cache],
		 o->thread_pool_size, on_off(o->pt.xattr),
		 o->xattrmap ? " (mapped)" : "", on_off(o->pt.posix_acl),
		 on_off(o->pt.security_label), on_off(o->pt.readonly),
		 on_off(o->pt.writeback), on_off(o->pt.readdirplus),
		 on_off(o->pt.announce_submounts), on_off(o->pt.killpriv_v2),
		 on_off(o->pt.allow_direct_io), on_off(o->pt.allow_mmap),
		 ifh[o->pt.inode_file_handles]);
	if (o->tag)
		LOG_INFO("--tag %s: accepted, not advertised (no "
			 "VHOST_USER_PROTOCOL_F_CONFIG; the front-end's tag= is "
			 "what the guest sees)", o->tag);
}

int main(int argc, char **argv)
{
	struct vfs_options o;
	struct fuse_session *se;
	struct pt_fs *fs;
	struct vu_dev *dev;
	struct mig_ctx mig;
	gid_t group = (gid_t)-1;
	int listen_fd, conn, pid_fd = -1, err = 0, ret;

	if (vfs_parse_options(argc, argv, &o))
		return 1;
	if (o.print_state)
		return print_state(o.print_state);
	if (o.print_capabilities) {
		printf("{\"type\": \"fs\", \"features\": [\"migrate-precopy\", \"separate-options\"]}\n");
		return 0;
	}
	if (o.help) {
		vfs_print_help(argv[0]);
		return 0;
	}
	if (o.version) {
		/* "NAME VERSION", the format of the Rust one (clap). */
		printf("virtiofsd-c %s\n", VIRTIOFSD_VERSION);
		return 0;
	}
	vlog_init(o.log_level, o.syslog);
	log_start(&o);
	signal(SIGPIPE, SIG_IGN);
	if (set_rlimit(&o))
		return 1;
	if (o.queue_cpus.n) {
		unsigned bad = 0;

		ret = vfs_cpus_check(&o.queue_cpus, &bad);
		if (ret) {
			if (ret == -EINVAL)
				LOG_ERR("--queue-affinity: CPU %u is not available "
					"to this process", bad);
			else
				LOG_ERR("--queue-affinity: %s", strerror(-ret));
			return 1;
		}
	}
	/* The socket is created outside the sandbox (its path is not in the
	 * shared dir); see docs/security.md for the order of the steps. */
	if (o.socket_group) {
		group = resolve_group(o.socket_group);
		if (group == (gid_t)-1)
			return 1;
	}
	if (o.socket_path) {
		pid_fd = lock_pid_file(o.socket_path);
		if (pid_fd < 0)
			return 1;
		listen_fd = listen_on(o.socket_path, group);
		if (listen_fd < 0)
			return 1;
	} else {
		listen_fd = o.fd;
	}
	if (vfs_sandbox_enter(&o, pid_fd))
		return 1;

	fs = pt_fs_new(&o.pt, &err);
	if (!fs) {
		LOG_ERR("cannot serve %s: %s", o.pt.shared_dir, strerror(-err));
		return 1;
	}
	if (vfs_sandbox_seal(&o) ||
	    vfs_caps_drop(o.pt.inode_file_handles != PT_FH_NEVER, &o.modcaps) ||
	    pt_fs_start(fs) ||
	    sc_install((enum sc_action)o.seccomp, o.syslog))
		return 1;
	se = fuse_virtio_session_new(pt_lowlevel_ops(),
				     sizeof(struct fuse_lowlevel_ops),
				     pt_virtio_ops(), fs);
	dev = calloc(1, sizeof(*dev));
	if (!se || !dev) {
		LOG_ERR("out of memory");
		return 1;
	}

	if (o.socket_path)
		LOG_INFO("serving %s on %s, waiting for the front-end",
			 o.pt.shared_dir, o.socket_path);
	else
		LOG_INFO("serving %s on fd %d, waiting for the front-end",
			 o.pt.shared_dir, o.fd);
	do {
		conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	} while (conn < 0 && errno == EINTR);
	if (conn < 0) {
		LOG_ERR("accept: %m");
		return 1;
	}
	close(listen_fd);
	/* Sandboxed, the path is not ours to unlink (the waiting parent of
	 * the namespace sandbox does it at the end). */
	if (o.socket_path && o.sandbox == SANDBOX_NONE)
		unlink(o.socket_path);
	LOG_INFO("front-end connected");

	ret = vu_dev_init(dev, conn, se);
	if (!ret)
		ret = vq_pool_start(dev, o.thread_pool_size);
	if (!ret)
		wire_lock_waits(dev, fs);
	if (ret) {
		LOG_ERR("device init: %s", strerror(-ret));
		return 1;
	}
	dev->ring_cpus = &o.queue_cpus;
	mig = (struct mig_ctx){ .se = se, .fs = fs, .cfg = &o.pt };
	vu_dev_set_state_ops(dev, &state_ops, &mig);
	ret = vu_dev_serve(dev);
	vu_dev_destroy(dev);
	close(conn);
	fuse_virtio_session_free(se);
	pt_fs_free(fs);
	free(dev);
	if (pid_fd >= 0) {
		char path[4096 + 8];

		snprintf(path, sizeof(path), "%s.pid", o.socket_path);
		if (o.sandbox == SANDBOX_NONE)
			unlink(path);
		close(pid_fd);
	}
	return ret ? 1 : 0;
}
