/*
 * test_cli.c - the command line as the callers use it (docs/cli.md):
 * libvirt's --fd command line (new and -o style), Kata's (fd 3 inherited,
 * --syslog), the README's --socket-path one, each serving INIT + LOOKUP +
 * READ; one-line errors with exit status 1; --print-capabilities with
 * anything else on the line; --version; the socket's mode and
 * --socket-group; the pid-file lock; a stale socket; SIGTERM, SIGINT and
 * SIGHUP while waiting and while serving; --syslog reaching /dev/log (in
 * a private mount namespace); a quiet log at info level.
 *
 * Unlike the other programs, the daemon gets exactly the caller's argv
 * (vfe_daemon_start() adds its own options).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfe_msg.h"
#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID
#define HELLO "hello from the host\n"
#define MAXARG 24

static void need_root(void)
{
	if (geteuid() != 0)
		vfe_skip("needs root");
}

/* A daemon whose argv is given verbatim ("@SOCK", "@DIR" and "@FD" in
 * arguments are replaced by the socket path, the shared directory and
 * the listening fd's number). */
struct cli {
	struct vfe_env e;
	char args[MAXARG][600];
	const char *argv[MAXARG + 2];
};

static void subst(char *out, size_t len, const char *in, const char *sock,
		  const char *dir, int fd)
{
	size_t at = 0;

	while (*in && at + 1 < len) {
		const char *val = NULL;
		char num[16];

		if (strncmp(in, "@SOCK", 5) == 0)
			val = sock;
		else if (strncmp(in, "@DIR", 4) == 0)
			val = dir;
		else if (strncmp(in, "@FD", 3) == 0) {
			snprintf(num, sizeof(num), "%d", fd);
			val = num;
		}
		if (val) {
			at += (size_t)snprintf(out + at, len - at, "%s", val);
			in += val == sock ? 5 : val == dir ? 4 : 3;
		} else {
			out[at++] = *in++;
		}
	}
	out[at < len ? at : len - 1] = '\0';
}

/* A listening socket at path, bound like libvirt does (not CLOEXEC). */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECKF(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	       listen(fd, 1) == 0, "bind %s: %s", path, strerror(errno));
	return fd;
}

/*
 * Start the daemon with args (NULL-terminated).  lfd >= 0: a listening
 * socket handed down as fd number at (or its own number when at < 0).
 * sub: the name of the test directory's socket ("vhost.sock").
 */
static void cli_start(struct cli *c, const char *const *args, int lfd,
		      int at)
{
	struct vfe_daemon *d = &c->e.d;
	unsigned n = 0;
	pid_t pid;
	int logfd, fdno = at >= 0 ? at : lfd;

	memset(c, 0, sizeof(*c));
	c->e.dev.sock = -1;
	snprintf(d->dir, sizeof(d->dir), "%s", vfe_test_dir());
	snprintf(d->sock_path, sizeof(d->sock_path), "%s/vhost.sock",
		 vfe_test_dir());
	snprintf(d->log_path, sizeof(d->log_path), "%s/daemon.log",
		 vfe_test_dir());
	snprintf(d->shared_dir, sizeof(d->shared_dir), "%s/shared",
		 vfe_test_dir());
	c->argv[n++] = vfe_daemon_exe();
	for (; *args && n <= MAXARG; args++, n++) {
		subst(c->args[n - 1], sizeof(c->args[0]), *args, d->sock_path,
		      d->shared_dir, fdno);
		c->argv[n] = c->args[n - 1];
	}
	c->argv[n] = NULL;
	logfd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		     0644);
	CHECK(logfd >= 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (lfd >= 0 && at >= 0 && lfd != at) {
			dup2(lfd, at);   /* dup2 clears CLOEXEC */
			close(lfd);
		}
		signal(SIGPIPE, SIG_DFL);
		execv(c->argv[0], (char *const *)c->argv);
		_exit(127);
	}
	close(logfd);
	if (lfd >= 0)
		close(lfd);
	d->pid = pid;
}

/* The file the READ checks, in <test dir>/shared. */
static void make_share(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/shared", vfe_test_dir());
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/shared/hello.txt", vfe_test_dir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, HELLO, strlen(HELLO)) == (ssize_t)strlen(HELLO));
	close(fd);
}

/* Connect, negotiate, start, INIT (as QEMU and the guest would). */
static void cli_connect(struct cli *c)
{
	struct vfe_env *e = &c->e;
	struct vfe_dev_opts dopts = { 0 };
	int sock = vfe_daemon_connect(&e->d, 10000);

	CHECKF(sock >= 0, "connect: %s", vfe_msg_last_error());
	CHECK_OK(vfe_dev_init(&e->dev, &dopts));
	e->have_dev = true;
	CHECK_OK(vfe_dev_negotiate(&e->dev, sock));
	CHECK_OK(vfe_dev_start(&e->dev));
	CHECK_OK(vfe_fuse_client_init(&e->f, &e->dev, 0, 0));
	e->have_fuse = true;
	CHECK_OK(vfe_fuse_init(&e->f));
}

/* LOOKUP + OPEN + READ of hello.txt. */
static void read_hello(struct cli *c)
{
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	char buf[256];
	size_t got = 0;

	CHECK_OK(vfe_fuse_lookup(&c->e.f, ROOT, "hello.txt", &ent));
	CHECK_OK(vfe_fuse_open(&c->e.f, ent.nodeid, O_RDONLY, &op));
	CHECK_OK(vfe_fuse_read(&c->e.f, ent.nodeid, op.fh, 0, buf,
			       sizeof(buf), &got));
	CHECK_EQ(got, strlen(HELLO));
	CHECK(memcmp(buf, HELLO, got) == 0);
	CHECK_OK(vfe_fuse_release(&c->e.f, ent.nodeid, op.fh, 0));
}

/* The whole check for one caller's command line. */
static void serves(const char *const *args, int lfd, int at)
{
	struct cli c;

	make_share();
	cli_start(&c, args, lfd, at);
	cli_connect(&c);
	read_hello(&c);
	vfe_env_down(&c.e);
}

static int sock_fd(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/vhost.sock", vfe_test_dir());
	return listen_at(path);
}

/* libvirt (qemu_virtiofs.c), new style, socket bound by the caller. */
static void t_libvirt(void)
{
	need_root();   /* --sandbox=chroot */
	serves((const char *const[]){ "--fd=@FD", "--shared-dir", "@DIR",
		"--cache=always", "--sandbox=chroot", "--xattr",
		"--thread-pool-size=4", "--log-level=debug", NULL },
	       sock_fd(), -1);
}

/* libvirt before 9 with <lock posix='on' flock='on'/>. */
static void t_libvirt_old(void)
{
	need_root();
	serves((const char *const[]){ "-o",
		"source=@DIR,cache=always,sandbox=chroot,xattr,flock,posix_lock",
		"--fd=@FD", NULL }, sock_fd(), -1);
}

/* ... and with the locks off, as most configurations sent it. */
static void t_libvirt_old_nolock(void)
{
	need_root();
	serves((const char *const[]){ "-o",
		"source=@DIR,cache=none,sandbox=chroot,no_flock,no_posix_lock",
		"--fd=@FD", NULL }, sock_fd(), -1);
}

/* Kata (virtiofsd.go + the default virtio_fs_extra_args): fd 3. */
static void t_kata(void)
{
	serves((const char *const[]){ "--syslog", "--cache=auto",
		"--shared-dir=@DIR", "--fd=3", "--thread-pool-size=1",
		"--announce-submounts", "--inode-file-handles=prefer",
		geteuid() ? "--sandbox=none" : "--sandbox=namespace", NULL },
	       sock_fd(), 3);
}

/* The Rust README's example minus the file handles, and with them (as
 * root they work; unprivileged, CAP_DAC_READ_SEARCH is missing and the
 * daemon refuses to start with one line naming the option). */
static void t_readme(void)
{
	struct cli c;
	int st;

	serves((const char *const[]){ "--socket-path=@SOCK", "--shared-dir",
		"@DIR", geteuid() ? "--sandbox=none" : "--seccomp=kill",
		NULL }, -1, -1);
	if (geteuid() == 0) {
		serves((const char *const[]){ "--socket-path=@SOCK",
			"--shared-dir", "@DIR", "--inode-file-handles=mandatory",
			NULL }, -1, -1);
		return;
	}
	cli_start(&c, (const char *const[]){ "--socket-path=@SOCK",
		"--shared-dir", "@DIR", "--inode-file-handles=mandatory",
		"--sandbox=none", NULL }, -1, -1);
	CHECK_OK(vfe_daemon_wait(&c.e.d, 5000, &st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	CHECK(vfe_daemon_log_contains(&c.e.d, "--inode-file-handles"));
}

/* Run the daemon with args to completion; its output in out.  Returns
 * the wait status. */
static int run(const char *const *args, char *out, size_t len)
{
	struct cli c;
	int st, fd;
	ssize_t n;

	cli_start(&c, args, -1, -1);
	CHECKF(vfe_daemon_wait(&c.e.d, 5000, &st) == 0,
	       "the daemon did not exit");
	fd = open(c.e.d.log_path, O_RDONLY);
	CHECK(fd >= 0);
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(c.e.d.log_path);
	return st;
}

/* Every usage error: exit status 1, one line that names the option. */
static void t_errors(void)
{
	static const struct { const char *args[6]; const char *names; } cases[] = {
		{ { "--bogus", NULL }, "--bogus" },
		{ { "--bogus=1", NULL }, "--bogus" },
		{ { "--shared", "@DIR", "--socket-path=@SOCK", NULL }, "--shared" },
		{ { "--xattr=yes", NULL }, "--xattr" },
		{ { "--fd=3", "--socket-path=@SOCK", "--shared-dir=@DIR", NULL }, "--fd" },
		{ { "--fd=3", "--socket=@SOCK", "--shared-dir=@DIR", NULL }, "--fd" },
		{ { "--fd=3", "--socket-group=root", "--shared-dir=@DIR", NULL }, "--socket-group" },
		{ { "--fd=x", NULL }, "--fd" },
		{ { "--shared-dir=@DIR", NULL }, "--socket-path" },
		{ { "--socket-path=@SOCK", NULL }, "--shared-dir" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--cache=sometimes", NULL }, "--cache" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--sandbox=jail", NULL }, "--sandbox" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--log-level=loud", NULL }, "--log-level" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--thread-pool-size=-1", NULL }, "--thread-pool-size" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--tag=0123456789012345678901234567890123456", NULL }, "--tag" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--inode-file-handles=sometimes", NULL }, "--inode-file-handles" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--migration-mode=file-handles", "--migration-verify-handles", NULL }, "--migration-verify-handles" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--migration-mode=file-handles", "--migration-confirm-paths", NULL }, "--migration-confirm-paths" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "--posix-acl", "--translate-uid=map:0:1000:1", NULL }, "--translate-uid" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "-o", "bogus", NULL }, "bogus" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "-o", "cache=sometimes", NULL }, "cache" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "-o", NULL }, "-o" },
		{ { "--socket-path=@SOCK", "--shared-dir=@DIR", "positional", NULL }, "positional" },
	};
	char out[2048];

	make_share();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = run(cases[i].args, out, sizeof(out));
		const char *nl = strchr(out, '\n');

		CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		       "case %zu (%s): status 0x%x", i, cases[i].names, st);
		CHECKF(nl && !nl[1], "case %zu: not one line: %s", i, out);
		CHECKF(strstr(out, cases[i].names), "case %zu: '%s' not in: %s",
		       i, cases[i].names, out);
	}
	/* A failure at start-up is logged (after the start line at info:
	 * one line at --log-level=error). */
	CHECK(WEXITSTATUS(run((const char *const[]){ "--socket-path=@SOCK",
		"--shared-dir=@DIR", "--socket-group=no-such-group-xyz",
		"--log-level=error", NULL }, out, sizeof(out))) == 1);
	CHECKF(strstr(out, "no-such-group-xyz") && !strchr(out, '\n')[1],
	       "%s", out);
}

static void t_print_caps(void)
{
	static const char want[] = "{\"type\": \"fs\", \"features\": "
		"[\"migrate-precopy\", \"separate-options\"]}\n";
	char out[512];

	CHECK(run((const char *const[]){ "--print-capabilities", NULL }, out,
		  sizeof(out)) == 0);
	CHECK(strcmp(out, want) == 0);
	CHECK(run((const char *const[]){ "--bogus", "--fd=x", "-o", "nope",
		"--print-capabilities", "--cache=sometimes", NULL }, out,
		  sizeof(out)) == 0);
	CHECKF(strcmp(out, want) == 0, "%s", out);
}

static void t_version_help(void)
{
	char out[8192];
	unsigned maj, min, pat;
	char nl;

	CHECK(run((const char *const[]){ "--version", NULL }, out,
		  sizeof(out)) == 0);
	CHECKF(sscanf(out, "virtiofsd-c %u.%u.%u%c", &maj, &min, &pat, &nl) == 4
	       && nl == '\n' && !strchr(out, '\n')[1], "%s", out);
	CHECK(run((const char *const[]){ "-V", NULL }, out, sizeof(out)) == 0);
	CHECK(strncmp(out, "virtiofsd-c ", 12) == 0);
	CHECK(run((const char *const[]){ "-h", NULL }, out, sizeof(out)) == 0);
	CHECK(strstr(out, "--shared-dir") && strstr(out, "--print-capabilities"));
	/* -f and -d are accepted (here with -V, which stops early) */
	CHECK(run((const char *const[]){ "-f", "-d", "-V", NULL }, out,
		  sizeof(out)) == 0);
}

/* Start with --socket-path, wait for the socket. */
static void start_sock(struct cli *c, const char *extra1, const char *extra2)
{
	struct stat st;
	int64_t end = vfe_now_ms() + 10000;

	make_share();
	cli_start(c, (const char *const[]){ "--socket-path=@SOCK",
		"--shared-dir=@DIR", extra1 ? extra1 : "--log-level=info",
		extra2 ? extra2 : "--log-level=info", NULL }, -1, -1);
	while (stat(c->e.d.sock_path, &st) != 0) {
		CHECKF(vfe_daemon_alive(&c->e.d), "the daemon exited");
		CHECK(vfe_now_ms() < end);
		usleep(5000);
	}
}

static void t_socket_mode(void)
{
	struct cli c;
	struct stat st;

	start_sock(&c, NULL, NULL);
	CHECK(stat(c.e.d.sock_path, &st) == 0);
	CHECKF((st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	cli_connect(&c);
	read_hello(&c);
	vfe_env_down(&c.e);
}

static void t_socket_group(void)
{
	struct group *g;
	struct cli c;
	struct stat st;
	char arg[300];
	gid_t gid = 0;

	need_root();   /* chown to another group */
	setgrent();
	while ((g = getgrent()) && g->gr_gid == getegid())
		;
	/* endgrent() frees what g points to: copy first. */
	if (g) {
		snprintf(arg, sizeof(arg), "--socket-group=%s", g->gr_name);
		gid = g->gr_gid;
	}
	endgrent();
	if (!g)
		vfe_skip("no second group in the group database");
	start_sock(&c, arg, NULL);
	CHECK(stat(c.e.d.sock_path, &st) == 0);
	CHECKF((st.st_mode & 0777) == 0660, "mode %o", st.st_mode & 0777);
	CHECK_EQ(st.st_gid, gid);
	cli_connect(&c);
	read_hello(&c);
	vfe_env_down(&c.e);
}

/* A second daemon on the same socket refuses; the first still serves. */
static void t_pid_lock(void)
{
	struct cli a, b;
	char pid_path[PATH_MAX], out[64] = "";
	int st, fd;

	start_sock(&a, NULL, NULL);
	cli_start(&b, (const char *const[]){ "--socket-path=@SOCK",
		"--shared-dir=@DIR", NULL }, -1, -1);
	CHECK_OK(vfe_daemon_wait(&b.e.d, 5000, &st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	CHECK(vfe_daemon_log_contains(&b.e.d, "another virtiofsd"));
	snprintf(pid_path, sizeof(pid_path), "%s.pid", a.e.d.sock_path);
	fd = open(pid_path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, out, sizeof(out) - 1) > 0);
	close(fd);
	CHECK(atoi(out) > 0);
	cli_connect(&a);
	read_hello(&a);
	vfe_env_down(&a.e);
}

/* A socket file left behind by a killed daemon is replaced. */
static void t_stale_socket(void)
{
	char path[PATH_MAX];
	struct cli c;

	snprintf(path, sizeof(path), "%s/vhost.sock", vfe_test_dir());
	close(listen_at(path));
	start_sock(&c, NULL, NULL);
	cli_connect(&c);
	read_hello(&c);
	vfe_env_down(&c.e);
}

/* sig ends the daemon within 3 s, killed by that signal (docs/cli.md). */
static void check_signal(bool serving, int sig, const char *sandbox)
{
	struct cli c;
	struct stat st;
	char pid_path[PATH_MAX], b[64];
	int ws;

	start_sock(&c, sandbox, NULL);
	if (serving) {
		cli_connect(&c);
		read_hello(&c);
	} else {
		usleep(100 * 1000);   /* let it reach accept() */
	}
	CHECK(kill(c.e.d.pid, sig) == 0);
	CHECKF(vfe_daemon_wait(&c.e.d, 3000, &ws) == 0,
	       "%s: not gone 3 s after signal %d", sandbox, sig);
	CHECKF(WIFSIGNALED(ws) && WTERMSIG(ws) == sig, "%s, signal %d: %s",
	       sandbox, sig, vfe_status_str(ws, b, sizeof(b)));
	snprintf(pid_path, sizeof(pid_path), "%s.pid", c.e.d.sock_path);
	if (strcmp(sandbox, "--sandbox=namespace") == 0) {
		CHECK(stat(c.e.d.sock_path, &st) < 0 && errno == ENOENT);
		CHECK(stat(pid_path, &st) < 0 && errno == ENOENT);
	}
	if (c.e.have_dev) {
		vfe_fuse_client_destroy(&c.e.f);
		vfe_dev_destroy(&c.e.dev);
	}
	unlink(c.e.d.log_path);
}

static void t_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	const char *modes[] = { "--sandbox=none", "--sandbox=namespace" };

	for (unsigned m = 0; m < (geteuid() ? 1u : 2u); m++)
		for (unsigned s = 0; s < 3; s++)
			for (int serving = 0; serving < 2; serving++)
				check_signal(serving, sigs[s], modes[m]);
}

/* Lines in the daemon's log. */
static unsigned log_lines(const struct cli *c, size_t *bytes)
{
	FILE *f = fopen(c->e.d.log_path, "r");
	unsigned n = 0;
	int ch;

	*bytes = 0;
	CHECK(f);
	while ((ch = fgetc(f)) != EOF) {
		++*bytes;
		n += ch == '\n';
	}
	fclose(f);
	return n;
}

/* Info level: a start line, a connection line, one negotiation summary,
 * the INIT line; nothing per request. */
static void t_log_quiet(void)
{
	struct cli c;
	size_t bytes;
	unsigned lines;

	start_sock(&c, geteuid() ? "--sandbox=none" : NULL, NULL);
	cli_connect(&c);
	for (int i = 0; i < 300; i++)
		read_hello(&c);
	/* a second start (QEMU sends the features again) */
	CHECK_OK(vfe_dev_stop(&c.e.dev, NULL));
	CHECK_OK(vfe_dev_start(&c.e.dev));
	read_hello(&c);
	lines = log_lines(&c, &bytes);
	CHECK(vfe_daemon_log_contains(&c.e.d, "starting"));
	CHECK(vfe_daemon_log_contains(&c.e.d, "features acked: "));
	CHECK(vfe_daemon_log_contains(&c.e.d, "VERSION_1"));
	CHECK(vfe_daemon_log_contains(&c.e.d, "REPLY_ACK"));
	vfe_env_down(&c.e);
	CHECKF(lines <= 12 && bytes < 4096, "%u lines, %zu bytes at info level",
	       lines, bytes);
}

/* Bind-mount src over dst (dst created as an empty file). */
static void bind_file(const char *src, const char *dst)
{
	int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0)
		close(fd);
	CHECKF(mount(src, dst, NULL, MS_BIND, NULL) == 0, "bind %s: %s", src,
	       strerror(errno));
}

/*
 * --syslog: a private mount namespace (this case's process only) gets a
 * tmpfs on /dev holding the usual device nodes (bind mounts of the real
 * ones) and our datagram socket as /dev/log.  Nothing outside changes.
 */
static void t_syslog(void)
{
	static const char *const nodes[] = { "null", "zero", "full", "random",
					     "urandom" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char olddev[PATH_MAX], src[PATH_MAX + 16], msgs[16384] = "", buf[2048];
	struct cli c;
	struct pollfd p;
	size_t used = 0;
	int s;

	need_root();
	if (unshare(CLONE_NEWNS) < 0)
		vfe_skip("unshare(CLONE_NEWNS): %s", strerror(errno));
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	snprintf(olddev, sizeof(olddev), "%s/olddev", vfe_test_dir());
	CHECK(mkdir(olddev, 0755) == 0);
	CHECK(mount("/dev", olddev, NULL, MS_BIND | MS_REC, NULL) == 0);
	CHECK(mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") == 0);
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", olddev, nodes[i]);
		snprintf(buf, sizeof(buf), "/dev/%s", nodes[i]);
		bind_file(src, buf);
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/dev/log");
	CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);

	start_sock(&c, "--syslog", NULL);
	cli_connect(&c);
	read_hello(&c);
	vfe_env_down(&c.e);
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	while (poll(&p, 1, 500) == 1) {
		ssize_t n = recv(s, buf, sizeof(buf) - 1, 0);

		if (n <= 0)
			break;
		buf[n] = '\0';
		used += (size_t)snprintf(msgs + used, sizeof(msgs) - used,
					 "%s\n", buf);
		if (used >= sizeof(msgs))
			break;
	}
	CHECKF(strstr(msgs, "virtiofsd[") && strstr(msgs, "starting") &&
	       strstr(msgs, "front-end connected"), "syslog got: %s", msgs);
	/* nothing on stderr */
	CHECKF(!vfe_daemon_log_contains(&c.e.d, "starting"),
	       "--syslog also logged to stderr");
}

static const struct vfe_test tests[] = {
	{ "libvirt", t_libvirt, 0 },
	{ "libvirt_old", t_libvirt_old, 0 },
	{ "libvirt_old_nolock", t_libvirt_old_nolock, 0 },
	{ "kata", t_kata, 0 },
	{ "readme", t_readme, 0 },
	{ "errors", t_errors, 0 },
	{ "print_caps", t_print_caps, 0 },
	{ "version_help", t_version_help, 0 },
	{ "socket_mode", t_socket_mode, 0 },
	{ "socket_group", t_socket_group, 0 },
	{ "pid_lock", t_pid_lock, 0 },
	{ "stale_socket", t_stale_socket, 0 },
	{ "signals", t_signals, 90 },
	{ "log_quiet", t_log_quiet, 0 },
	{ "syslog", t_syslog, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
