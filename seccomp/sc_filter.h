/*
 * sc_filter.h - the seccomp filter of the daemon (libseccomp).
 *
 * The allow-list is generated at build time (gen-allowlist.py) from the
 * `Syscalls:` / `@syscalls:` comment tags next to the code that makes the
 * calls; the runtime's own needs (glibc, threads, malloc, logging) are
 * tagged in sc_filter.c.  Everything else gets the configured action.
 */
#ifndef SC_FILTER_H
#define SC_FILTER_H

#include <stdbool.h>

/* What happens on a syscall outside the list (--seccomp). */
enum sc_action {
	SC_ACTION_KILL = 0,  /* kill the whole process (SIGSYS status) */
	SC_ACTION_LOG,       /* allow it, and log it to the audit log */
	SC_ACTION_TRAP,      /* SIGSYS to the thread: logged, fails ENOSYS */
	SC_ACTION_NONE,      /* no filter at all */
};

/* One allowed syscall: number for the build's native arch (a negative
 * pseudo number when that arch lacks it) and its name. */
struct sc_syscall {
	int nr;
	const char *name;
};

/* The generated allow-list. */
extern const struct sc_syscall sc_allowlist[];
extern const unsigned sc_allowlist_len;

/*
 * Install the filter on every thread of the process (TSYNC) and on every
 * thread created later; sets no_new_privs.  with_syslog also allows what
 * syslog(3) needs to reconnect (socket, connect, sendto).  With
 * SC_ACTION_TRAP a SIGSYS handler is installed that writes the syscall
 * number to stderr and makes the call fail with ENOSYS.  Call after the
 * sandbox and the capability drop, before serving.
 * Returns 0 or a negative errno (logged).
 */
int sc_install(enum sc_action action, bool with_syslog);

#endif
