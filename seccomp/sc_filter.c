/*
 * sc_filter.c - build and load the seccomp filter.
 *
 * The runtime's own syscalls, which no tag in the layers names because no
 * function of ours calls them directly:
 *
 * Syscalls: brk, mmap, munmap, mprotect, madvise, mremap, futex,
 * set_robust_list, get_robust_list, rseq, clone, clone3, exit, exit_group,
 * rt_sigreturn, rt_sigprocmask, rt_sigaction, sigaltstack,
 * restart_syscall, sched_yield, sched_getaffinity, getpid, gettid, tgkill,
 * getrandom, clock_gettime, clock_nanosleep, nanosleep, gettimeofday,
 * getuid, geteuid, getgid, getegid, read, write, writev, close, fstat,
 * newfstatat, lseek, fcntl.
 *
 * What they are for: thread stacks and malloc arenas (mmap, munmap,
 * mprotect, madvise, mremap, brk), thread creation and exit in glibc
 * (clone3 with a clone fallback, set_robust_list, rseq, exit, futex for
 * every lock and condition variable), abort() and raise() (rt_sigprocmask,
 * getpid, gettid, tgkill), malloc's tcache seed (getrandom), the log
 * lines' time stamps and sleeps, stdio on stderr (write, fstat).
 *
 * Locking: none; sc_install() runs once, before the daemon's threads.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <seccomp.h>

#include "log.h"
#include "sc_filter.h"

/* Only with --syslog: glibc reconnects to /dev/log when the daemon's
 * logger went away.  Syscalls are added in sc_install(), not tagged. */
static const int syslog_syscalls[] = {
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(sendto),
};

#ifdef SC_SANITIZER_RUNTIME
/*
 * Sanitizer builds only (seccomp/meson.build defines SC_SANITIZER_RUNTIME
 * when b_sanitize is set; a normal build's list never has these): what
 * the ASan/UBSan runtime calls while it writes a report from inside the
 * sandbox, to name the modules of a stack (/proc/self/maps, the
 * executable's name).  In the sandbox /proc is gone, so the calls just
 * fail and the report goes on with module+offset frames; without them the
 * report would end in a SIGSYS kill before its first line.  LeakSanitizer
 * cannot run in the sandbox at all (it needs /proc/self/task and ptrace):
 * sanitizer test runs check leaks with --sandbox=none --seccomp=none.
 */
static const int sanitizer_runtime_syscalls[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
};
#endif

/* Write the decimal value v into buf (async-signal-safe); returns the
 * end of the digits. */
static char *put_uint(char *buf, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*buf++ = tmp[--n];
	return buf;
}

/* --seccomp=trap: report the call and make it fail with ENOSYS, so the
 * daemon goes on and the operation fails visibly.
 * Syscalls: write, rt_sigreturn. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	static const char pre[] = "virtiofsd: seccomp: blocked syscall ";
	char buf[sizeof(pre) + 32], *p = buf;
	ucontext_t *uc = ctx;

	memcpy(p, pre, sizeof(pre) - 1);
	p += sizeof(pre) - 1;
	p = put_uint(p, (unsigned long)(unsigned)si->si_syscall);
	*p++ = '\n';
	if (write(STDERR_FILENO, buf, (size_t)(p - buf)) < 0) {
		/* nothing to do about it */
	}
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uc;
	_exit(128 + SIGSYS);
#endif
	(void)sig;
}

static int add_rule(scmp_filter_ctx f, int nr, const char *name)
{
	int ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);

	if (ret)
		LOG_ERR("seccomp: cannot allow %s: %s", name, strerror(-ret));
	return ret;
}

int sc_install(enum sc_action action, bool with_syslog)
{
	uint32_t deflt;
	scmp_filter_ctx f;
	int ret = 0;

	switch (action) {
	case SC_ACTION_NONE:
		return 0;
	case SC_ACTION_LOG:
		deflt = SCMP_ACT_LOG;
		break;
	case SC_ACTION_TRAP: {
		struct sigaction sa = { .sa_sigaction = on_sigsys,
					.sa_flags = SA_SIGINFO };

		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return -errno;
		deflt = SCMP_ACT_TRAP;
		break;
	}
	case SC_ACTION_KILL:
	default:
		deflt = SCMP_ACT_KILL_PROCESS;
		break;
	}
	f = seccomp_init(deflt);
	if (!f) {
		LOG_ERR("seccomp: cannot create the filter");
		return -ENOMEM;
	}
	for (unsigned i = 0; !ret && i < sc_allowlist_len; i++)
		ret = add_rule(f, sc_allowlist[i].nr, sc_allowlist[i].name);
	for (unsigned i = 0; !ret && with_syslog &&
	     i < sizeof(syslog_syscalls) / sizeof(syslog_syscalls[0]); i++)
		ret = add_rule(f, syslog_syscalls[i], "a syslog syscall");
#ifdef SC_SANITIZER_RUNTIME
	for (unsigned i = 0; !ret && i < sizeof(sanitizer_runtime_syscalls) /
					 sizeof(sanitizer_runtime_syscalls[0]); i++)
		ret = add_rule(f, sanitizer_runtime_syscalls[i],
			       "a sanitizer runtime syscall");
#endif
	if (!ret) {
		ret = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
		if (ret)
			LOG_ERR("seccomp: no thread synchronisation: %s",
				strerror(-ret));
	}
	if (!ret) {
		ret = seccomp_load(f);
		if (ret)
			LOG_ERR("seccomp: cannot load the filter: %s",
				strerror(-ret));
	}
	seccomp_release(f);
	if (!ret)
		LOG_DBG("seccomp: %u syscalls allowed", sc_allowlist_len);
	return ret;
}
