/*
 * vfe_test.c - the harness of the functional tests (TAP, one process and
 * one temporary directory per case).
 */
#include "vfe_test.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SKIP 77
#define LOG_TAIL 6000

static char test_dir[PATH_MAX];
static const char *daemon_exe;
static struct vfe_env *cur_env;
static pid_t cur_pid;   /* the daemon of the last env brought up */

const char *vfe_test_dir(void)
{
	return test_dir;
}

const char *vfe_daemon_exe(void)
{
	return daemon_exe;
}

const char *vfe_errname(long err)
{
	static __thread char buf[64];

	if (err == 0)
		return "ok";
	if (err == -VFE_ETRANSPORT)
		return "no reply (transport)";
	if (err == -VFE_EPROTO)
		return "invalid reply";
	if (err < 0 && err > -4096) {
		snprintf(buf, sizeof(buf), "-%s", strerrorname_np((int)-err) ?
			 strerrorname_np((int)-err) : "?");
		return buf;
	}
	return "value";
}

void vfe_note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print what is known about the daemon of the current env. */
static void report_daemon(void)
{
	char b[80];

	if (!cur_env || !cur_env->d.pid)
		return;
	if (vfe_daemon_alive(&cur_env->d))
		vfe_note("daemon pid %d still running", (int)cur_env->d.pid);
	else
		vfe_note("daemon pid %d ended: %s", (int)cur_env->d.pid,
			 vfe_status_str(cur_env->d.status, b, sizeof(b)));
	vfe_daemon_print_log(&cur_env->d, LOG_TAIL);
}

void vfe_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	const char *le = vfe_msg_last_error();

	fprintf(stderr, "# FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (le && *le)
		vfe_note("last front-end error: %s", le);
	report_daemon();
	fflush(NULL);
	if (cur_env)
		vfe_daemon_kill(&cur_env->d);
	exit(1);
}

void vfe_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("# SKIP ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	if (cur_env)
		vfe_daemon_kill(&cur_env->d);
	exit(EXIT_SKIP);
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "# FAIL: case timed out\n");
	if (vfe_msg_last_error()[0])
		vfe_note("last front-end error: %s", vfe_msg_last_error());
	report_daemon();
	fflush(NULL);
	if (cur_env && cur_env->d.pid && !cur_env->d.reaped)
		kill(cur_env->d.pid, SIGKILL);
	_exit(1);
}

int vfe_env_spawn(struct vfe_env *e, const struct vfe_env_opts *o)
{
	struct vfe_daemon_opts dopts = { 0 };
	int r, sock;

	memset(e, 0, sizeof(*e));
	e->dev.sock = -1;
	if (o)
		dopts = o->daemon;
	dopts.exe = daemon_exe;
	cur_env = e;
	r = vfe_daemon_start(&e->d, test_dir, &dopts);
	cur_pid = e->d.pid;
	CHECKF(r == 0, "starting the daemon: %s: %s", vfe_errname(r),
	       vfe_msg_last_error());
	sock = vfe_daemon_connect(&e->d, 5000);
	CHECKF(sock >= 0, "connecting to the daemon: %s: %s", vfe_errname(sock),
	       vfe_msg_last_error());
	return sock;
}

void vfe_env_up(struct vfe_env *e, const struct vfe_env_opts *o)
{
	struct vfe_env_opts def = { 0 };
	int sock, r;

	if (!o)
		o = &def;
	sock = vfe_env_spawn(e, o);
	r = vfe_dev_init(&e->dev, &o->dev);
	CHECKF(r == 0, "vfe_dev_init: %s", vfe_errname(r));
	e->have_dev = true;
	r = vfe_dev_negotiate(&e->dev, sock);
	CHECKF(r == 0, "negotiation: %s", vfe_errname(r));
	if (o->no_start)
		return;
	r = vfe_dev_start(&e->dev);
	CHECKF(r == 0, "device start: %s", vfe_errname(r));
	r = vfe_fuse_client_init(&e->f, &e->dev, o->nslots, o->data_cap);
	CHECKF(r == 0, "FUSE client setup: %s", vfe_errname(r));
	e->have_fuse = true;
	if (o->no_init)
		return;
	r = vfe_fuse_init(&e->f);
	CHECKF(r == 0, "FUSE_INIT: %s", vfe_errname(r));
}

/* vfe_env_up() with extra daemon arguments only (vfe_test.h). */
void vfe_env_up_args(struct vfe_env *e, const char *const *extra)
{
	struct vfe_env_opts o = { 0 };

	for (unsigned i = 0; extra && extra[i] && i + 1 < VFE_MAX_ARGS; i++)
		o.daemon.extra[i] = extra[i];
	vfe_env_up(e, &o);
}

void vfe_env_down(struct vfe_env *e)
{
	char b[80];
	int st = 0, r;

	if (e->have_dev) {
		if (e->have_fuse)
			vfe_fuse_client_destroy(&e->f);
		vfe_dev_destroy(&e->dev);
		e->have_dev = e->have_fuse = false;
	} else if (e->dev.sock >= 0) {
		close(e->dev.sock);
		e->dev.sock = -1;
	}
	r = vfe_daemon_wait(&e->d, 5000, &st);
	CHECKF(r == 0, "daemon did not exit within 5 s of the disconnect");
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "daemon ended with %s after the disconnect (expected exit 0)",
	       vfe_status_str(st, b, sizeof(b)));
	if (cur_env == e)
		cur_env = NULL;
}

const char *vfe_shared_path(struct vfe_env *e, const char *name)
{
	static char buf[PATH_MAX * 2];

	snprintf(buf, sizeof(buf), "%s/%s", e->d.shared_dir, name);
	return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Remove the tree at dir, best effort (vfe_test.h). */
void vfe_rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Markers of a sanitizer report (ASan, LSan, UBSan) in a daemon log. */
static const char *const san_markers[] = {
	"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
	"Sanitizer has encountered a fatal error", "runtime error:",
};
static int san_reports;

/* nftw callback: print the sanitizer report lines of a *.log file. */
static int scan_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	size_t len = strlen(path);
	char line[1024];
	int shown = 0;
	FILE *f;

	(void)st;
	(void)ftw;
	if (flag != FTW_F || len < 4 || strcmp(path + len - 4, ".log"))
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		bool hit = false;

		for (size_t i = 0; i < sizeof(san_markers) / sizeof(*san_markers); i++)
			hit |= strstr(line, san_markers[i]) != NULL;
		if (hit && shown == 0) {
			vfe_note("sanitizer report in %s:", path);
			san_reports++;
			shown = 1;
		}
		/* The report and its stack, bounded. */
		if (shown && shown++ < 60)
			vfe_note("  %s", strtok(line, "\n") ? line : "");
	}
	fclose(f);
	return 0;
}

/*
 * Look for sanitizer reports in every *.log file under dir (the daemons'
 * logs): a report fails the case even when the daemon's exit status was
 * not checked.  Returns the number of logs with a report.
 */
static int scan_sanitizer_reports(const char *dir)
{
	san_reports = 0;
	nftw(dir, scan_one, 16, FTW_PHYS);
	return san_reports;
}

/* Run one case in a child; returns 0 pass, 1 fail, 2 skip. */
static int run_case(const struct vfe_test *t)
{
	const char *tmp = getenv("TMPDIR");
	unsigned timeout = t->timeout_s ? t->timeout_s : 60;
	int64_t deadline;
	pid_t pid;
	int st = 0;

	snprintf(test_dir, sizeof(test_dir), "%s/vfe-%s-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp", t->name);
	if (!mkdtemp(test_dir)) {
		vfe_note("mkdtemp %s: %s", test_dir, strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		vfe_note("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGALRM, on_alarm);
		alarm(timeout);
		t->fn();
		/* cur_env may point into the case's finished stack frame (a
		 * case that ends without vfe_env_down): use only the pid kept
		 * aside, and only while it is still our unreaped child. */
		cur_env = NULL;
		if (cur_pid > 0 && waitpid(cur_pid, NULL, WNOHANG) == 0) {
			kill(cur_pid, SIGKILL);
			waitpid(cur_pid, NULL, 0);
		}
		fflush(NULL);
		exit(0);
	}
	/* The child has its own alarm; this is the backstop. */
	deadline = vfe_now_ms() + (int64_t)(timeout + 15) * 1000;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (vfe_now_ms() > deadline) {
			vfe_note("case %s did not end; killing it", t->name);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (scan_sanitizer_reports(test_dir) && WIFEXITED(st) &&
	    (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == EXIT_SKIP)) {
		vfe_note("case %s: failed by the sanitizer report above", t->name);
		st = 1 << 8;
	}
	if (getenv("VFE_KEEP") && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		vfe_note("kept %s", test_dir);
	else
		vfe_rm_tree(test_dir);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SKIP)
		return 2;
	if (WIFSIGNALED(st))
		vfe_note("case %s: test process killed by signal %d (%s)",
			 t->name, WTERMSIG(st), strsignal(WTERMSIG(st)));
	return 1;
}

int vfe_main(int argc, char **argv, const struct vfe_test *tests, size_t n)
{
	const struct vfe_test *sel[256];
	size_t nsel = 0;
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	daemon_exe = getenv("VFE_VIRTIOFSD");
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--daemon=", 9))
			daemon_exe = argv[i] + 9;
	}
	for (size_t i = 0; i < n && nsel < 256; i++) {
		bool want = true;

		for (int a = 1; a < argc; a++) {
			if (!strncmp(argv[a], "--", 2))
				continue;
			want = false;
			if (strstr(tests[i].name, argv[a])) {
				want = true;
				break;
			}
		}
		if (want)
			sel[nsel++] = &tests[i];
	}
	printf("TAP version 13\n");
	if (!daemon_exe || access(daemon_exe, X_OK) != 0) {
		printf("Bail out! daemon binary not found (VFE_VIRTIOFSD=%s)\n",
		       daemon_exe ? daemon_exe : "(unset)");
		return 1;
	}
	printf("1..%zu\n", nsel);
	for (size_t i = 0; i < nsel; i++) {
		int64_t t0 = vfe_now_ms();
		int r = run_case(sel[i]);
		double secs = (double)(vfe_now_ms() - t0) / 1000.0;

		if (r == 0)
			printf("ok %zu %s # %.2fs\n", i + 1, sel[i]->name, secs);
		else if (r == 2)
			printf("ok %zu %s # SKIP\n", i + 1, sel[i]->name);
		else
			printf("not ok %zu %s\n", i + 1, sel[i]->name);
		failed += r == 1;
	}
	return failed ? 1 : 0;
}
