/*
 * vfe_daemon.c - spawn and supervise the daemon under test.
 */
#include "vfe_daemon.h"
#include "vfe_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A bound, listening socket at path, for --fd. */
static int listen_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* In the child before exec: append $VFE_DAEMON_ASAN_OPTIONS to
 * $ASAN_OPTIONS (later flags win), so that a sanitizer run can set the
 * daemon's options apart from the test program's (leak checking). */
static void daemon_asan_options(void)
{
	const char *add = getenv("VFE_DAEMON_ASAN_OPTIONS");
	const char *cur = getenv("ASAN_OPTIONS");
	char buf[1024];

	if (!add)
		return;
	snprintf(buf, sizeof(buf), "%s%s%s", cur ? cur : "", cur ? ":" : "",
		 add);
	setenv("ASAN_OPTIONS", buf, 1);
}

/*
 * Append the blank-separated words of $VFE_DAEMON_ARGS (at most
 * VFE_MAX_ARGS, copied into buf) to argv[argc...]: options a whole test
 * run gives every daemon (the sanitizer runs).  Returns the new argc.
 */
static unsigned add_env_args(const char **argv, unsigned argc, char *buf,
			     size_t cap)
{
	const char *env = getenv("VFE_DAEMON_ARGS");
	char *save = NULL;
	unsigned n = 0;

	if (!env || snprintf(buf, cap, "%s", env) >= (int)cap)
		return argc;
	for (char *w = strtok_r(buf, " \t", &save); w && n < VFE_MAX_ARGS;
	     w = strtok_r(NULL, " \t", &save), n++)
		argv[argc++] = w;
	return argc;
}

int vfe_daemon_start(struct vfe_daemon *d, const char *dir,
		     const struct vfe_daemon_opts *o)
{
	char a_sock[160], a_shared[PATH_MAX + 16], a_pool[48], a_fd[32];
	char env_args[512];
	const char *argv[2 * VFE_MAX_ARGS + 8];
	unsigned argc = 0;
	int64_t deadline;
	int lfd = -1, logfd;
	pid_t pid;

	memset(d, 0, sizeof(*d));
	if (!o->exe)
		return -EINVAL;
	if (snprintf(d->dir, sizeof(d->dir), "%s", dir) >= (int)sizeof(d->dir) ||
	    snprintf(d->sock_path, sizeof(d->sock_path), "%s/vhost.sock", dir) >=
		    (int)sizeof(d->sock_path))
		return -ENAMETOOLONG;
	snprintf(d->log_path, sizeof(d->log_path), "%s/daemon.log", dir);
	if (o->shared_dir) {
		snprintf(d->shared_dir, sizeof(d->shared_dir), "%s",
			 o->shared_dir);
	} else {
		snprintf(d->shared_dir, sizeof(d->shared_dir), "%s/shared", dir);
		if (mkdir(d->shared_dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}

	argv[argc++] = o->exe;
	if (o->use_fd) {
		lfd = listen_socket(d->sock_path);
		if (lfd < 0)
			return lfd;
		snprintf(a_fd, sizeof(a_fd), "--fd=%d", lfd);
		argv[argc++] = a_fd;
	} else {
		snprintf(a_sock, sizeof(a_sock), "--socket-path=%s", d->sock_path);
		argv[argc++] = a_sock;
	}
	snprintf(a_shared, sizeof(a_shared), "--shared-dir=%s", d->shared_dir);
	argv[argc++] = a_shared;
	/* As root the daemon runs with its defaults (namespace sandbox,
	 * seccomp kill), as in production; unprivileged hosts may lack
	 * user namespaces. */
	if (geteuid() != 0)
		argv[argc++] = "--sandbox=none";
	argv[argc++] = "--log-level=debug";
	if (o->thread_pool_size) {
		snprintf(a_pool, sizeof(a_pool), "--thread-pool-size=%u",
			 o->thread_pool_size);
		argv[argc++] = a_pool;
	}
	argc = add_env_args(argv, argc, env_args, sizeof(env_args));
	for (unsigned i = 0; i < VFE_MAX_ARGS && o->extra[i]; i++)
		argv[argc++] = o->extra[i];
	argv[argc] = NULL;

	logfd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		int e = -errno;

		if (lfd >= 0)
			close(lfd);
		return e;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(logfd);
		if (lfd >= 0)
			close(lfd);
		return e;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		signal(SIGPIPE, SIG_DFL);
		daemon_asan_options();
		if (o->as_user) {
			if (setgroups(0, NULL) < 0 ||
			    setresgid(o->gid, o->gid, o->gid) < 0 ||
			    setresuid(o->uid, o->uid, o->uid) < 0) {
				dprintf(2, "vfe: cannot become %u:%u: %s\n",
					(unsigned)o->uid, (unsigned)o->gid,
					strerror(errno));
				_exit(126);
			}
			/* The credential change has cleared it. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		}
		execv(o->exe, (char *const *)argv);
		dprintf(2, "vfe: exec %s: %s\n", o->exe, strerror(errno));
		_exit(127);
	}
	close(logfd);
	if (lfd >= 0)
		close(lfd);
	d->pid = pid;

	/* Wait for the socket to appear (or for an early death). */
	deadline = vfe_now_ms() + START_TIMEOUT_MS;
	for (;;) {
		struct stat st;

		if (stat(d->sock_path, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (!vfe_daemon_alive(d)) {
			char b[64];

			vfe_msg_set_error("daemon exited during startup: %s",
					  vfe_status_str(d->status, b, sizeof(b)));
			return -ECHILD;
		}
		if (vfe_now_ms() > deadline) {
			vfe_msg_set_error("daemon socket %s did not appear within %d ms",
					  d->sock_path, START_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		sleep_ms(5);
	}
}

int vfe_daemon_connect(struct vfe_daemon *d, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = vfe_now_ms() + timeout_ms;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock_path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int e;

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		e = -errno;
		close(fd);
		if ((e != -ECONNREFUSED && e != -ENOENT) ||
		    vfe_now_ms() > deadline || !vfe_daemon_alive(d)) {
			vfe_msg_set_error("connect %s: %s", d->sock_path,
					  strerror(-e));
			return e;
		}
		sleep_ms(5);
	}
}

bool vfe_daemon_alive(struct vfe_daemon *d)
{
	int st;
	pid_t r;

	if (d->reaped || !d->pid)
		return false;
	r = waitpid(d->pid, &st, WNOHANG);
	if (r == d->pid) {
		d->status = st;
		d->reaped = true;
		return false;
	}
	return true;
}

int vfe_daemon_wait(struct vfe_daemon *d, int timeout_ms, int *status)
{
	int64_t deadline = vfe_now_ms() + timeout_ms;

	while (vfe_daemon_alive(d)) {
		if (vfe_now_ms() > deadline)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
	if (status)
		*status = d->status;
	return 0;
}

void vfe_daemon_kill(struct vfe_daemon *d)
{
	if (!vfe_daemon_alive(d))
		return;
	kill(d->pid, SIGKILL);
	if (vfe_daemon_wait(d, 10000, NULL))
		fprintf(stderr, "# vfe: daemon %d survived SIGKILL?\n", (int)d->pid);
}

/* utime + stime of pid in clock ticks, or -1 (vfe_daemon.h). */
long long vfe_proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After the command: state (3) ... utime (14), stime (15). */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

const char *vfe_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)),
			 WCOREDUMP(status) ? " core dumped" : "");
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

void vfe_daemon_print_log(const struct vfe_daemon *d, size_t max_bytes)
{
	FILE *f = fopen(d->log_path, "r");
	char line[1024];
	bool bol = true;
	long size;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	if (size > (long)max_bytes) {
		fseek(f, size - (long)max_bytes, SEEK_SET);
		/* Skip the partial first line. */
		if (!fgets(line, sizeof(line), f)) {
			fclose(f);
			return;
		}
	} else {
		fseek(f, 0, SEEK_SET);
	}
	fprintf(stderr, "# ---- daemon log (%s, last %zu bytes) ----\n",
		d->log_path, max_bytes);
	while (fgets(line, sizeof(line), f)) {
		fprintf(stderr, "%s%s", bol ? "#   " : "", line);
		bol = strchr(line, '\n') != NULL;
	}
	if (!bol)
		fputc('\n', stderr);
	fprintf(stderr, "# ---- end of daemon log ----\n");
	fclose(f);
}

bool vfe_daemon_log_contains(const struct vfe_daemon *d, const char *needle)
{
	FILE *f = fopen(d->log_path, "r");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}
