/*
 * test_seccomp.c - the daemon's seccomp filter (seccomp/sc_filter.c with
 * the generated allow-list), installed in a child process that then makes
 * a syscall outside the list (reboot with a wrong magic number: harmless
 * even where it is allowed, it fails with EINVAL or EPERM).  The child's
 * fate shows the action: kill -> killed by SIGSYS (all threads, also one
 * created before the filter), log -> the call runs (and an audit record
 * appears when /dev/kmsg is readable), trap -> the SIGSYS handler reports
 * the syscall number and the call fails with ENOSYS, none -> no filter.
 * TAP output.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sc_filter.h"

static int n_test, n_fail;

static void result(bool ok, const char *name, const char *why)
{
	n_test++;
	if (!ok)
		n_fail++;
	printf("%sok %d %s%s%s\n", ok ? "" : "not ", n_test, name,
	       why ? " # " : "", why ? why : "");
	fflush(stdout);
}

/* The forbidden call; returns 0 when it failed as a harmless reboot
 * with a bad magic number does, else the errno (or -1 on success). */
static int forbidden(void)
{
	long r = syscall(SYS_reboot, 0, 0, 0, NULL);

	return r < 0 ? errno : -1;
}

/* An allowed call still works under the filter. */
static bool allowed_works(void)
{
	int fd = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return getpid() > 0;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool go;

static void *late_caller(void *arg)
{
	pthread_mutex_lock(&mu);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	forbidden();
	return arg;
}

/* Child: install action, check an allowed call, make the forbidden one
 * (from a thread created before the filter when in_thread).  Exit codes:
 * 0 the call returned with errno want, 2 setup failed, 3 wrong errno,
 * 4 allowed call failed. */
static __attribute__((noreturn)) void child(enum sc_action a, int want,
					    bool in_thread)
{
	pthread_t t;
	int e;

	if (in_thread && pthread_create(&t, NULL, late_caller, NULL))
		_exit(2);
	if (sc_install(a, false))
		_exit(2);
	if (!allowed_works())
		_exit(4);
	if (in_thread) {
		pthread_mutex_lock(&mu);
		go = true;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
		pthread_join(t, NULL);
		_exit(0);
	}
	e = forbidden();
	_exit(want == 0 ? (e == EINVAL || e == EPERM ? 0 : 3) :
			  (e == want ? 0 : 3));
}

/* Fork a child for action a; its stderr goes to *err_out (up to len). */
static int run(enum sc_action a, int want, bool in_thread, char *err_out,
	       size_t len)
{
	int p[2], st = 0;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		child(a, want, in_thread);
	}
	close(p[1]);
	while (len > 1 && (n = read(p[0], err_out + got,
				    len - 1 - (size_t)got)) > 0)
		got += n;
	if (len)
		err_out[got] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	return st;
}

/* /dev/kmsg positioned at its end, or -1 when it cannot be read. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* An audit record of type 1326 (seccomp) for the reboot syscall among
 * the kernel log records after fd's position. */
static bool kmsg_has_record(int fd)
{
	char want_nr[32], rec[2048];
	ssize_t n;

	snprintf(want_nr, sizeof(want_nr), " syscall=%d ", (int)SYS_reboot);
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;       /* records were overwritten */
		if (n <= 0)
			return false;
		rec[n] = '\0';
		if (strstr(rec, "type=1326") && strstr(rec, want_nr))
			return true;
	}
}

int main(void)
{
	char err[512], why[160];
	int st, kfd;

	printf("TAP version 13\n1..6\n");

	result(sc_allowlist_len > 40, "allow-list generated", NULL);

	st = run(SC_ACTION_KILL, 0, false, err, sizeof(err));
	snprintf(why, sizeof(why), "status %#x", st);
	result(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	       "kill: the process dies of SIGSYS", why);

	st = run(SC_ACTION_KILL, 0, true, err, sizeof(err));
	snprintf(why, sizeof(why), "status %#x", st);
	result(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	       "kill: also from a thread started before the filter (TSYNC)",
	       why);

	kfd = kmsg_open();
	st = run(SC_ACTION_LOG, 0, false, err, sizeof(err));
	snprintf(why, sizeof(why), "status %#x", st);
	result(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "log: the call is made and fails as without a filter", why);
	if (kfd >= 0) {
		/* The record may come a little later than the exit. */
		bool seen = false;

		for (int i = 0; i < 50 && !seen; i++) {
			seen = kmsg_has_record(kfd);
			if (!seen)
				usleep(10000);
		}
		printf("# audit record for syscall %d in the kernel log: %s\n",
		       (int)SYS_reboot, seen ? "yes" : "no (auditd running?)");
		close(kfd);
	}

	st = run(SC_ACTION_TRAP, ENOSYS, false, err, sizeof(err));
	snprintf(why, sizeof(why), "blocked syscall %d", (int)SYS_reboot);
	result(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(err, why),
	       "trap: the handler reports it and the call fails ENOSYS",
	       err[0] ? NULL : "nothing on stderr");

	st = run(SC_ACTION_NONE, 0, false, err, sizeof(err));
	snprintf(why, sizeof(why), "status %#x", st);
	result(WIFEXITED(st) && WEXITSTATUS(st) == 0, "none: no filter", why);

	return n_fail ? 1 : 0;
}
