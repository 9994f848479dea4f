/*
 * vfe_test.h - the harness of the functional tests.
 *
 * A test program is a table of named cases run by vfe_main(): each case
 * runs in its own child process with its own temporary directory and
 * its own daemon, bounded by a timeout; results are printed as TAP (meson
 * protocol 'tap').  A failed CHECK prints the condition, the front-end's
 * last error and the tail of the daemon's log, and ends the case.
 *
 * The daemon binary comes from $VFE_VIRTIOFSD or --daemon=PATH.
 */
#ifndef VFE_TEST_H
#define VFE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include "vfe_daemon.h"
#include "vfe_dev.h"
#include "vfe_fuse.h"

struct vfe_test {
	const char *name;
	void (*fn)(void);
	unsigned timeout_s;     /* 0 = 60 */
};

/* A daemon with a configured device and a FUSE client. */
struct vfe_env {
	struct vfe_daemon d;
	struct vfe_dev dev;
	struct vfe_fuse f;
	bool have_dev, have_fuse;
};

struct vfe_env_opts {
	struct vfe_dev_opts dev;
	struct vfe_daemon_opts daemon;   /* exe is filled in */
	unsigned nslots;                 /* FUSE client slots (0 = 16) */
	uint64_t data_cap;               /* per-slot data buffer (0 = default) */
	bool no_start;                   /* stop after negotiate */
	bool no_init;                    /* don't send FUSE_INIT */
};

/*
 * Run the cases of tests[0..n) (those named on the command line, or all)
 * and print TAP.  Returns the process exit status (0 all passed).
 */
int vfe_main(int argc, char **argv, const struct vfe_test *tests, size_t n);

/* The running case's private directory. */
const char *vfe_test_dir(void);

/* The daemon binary under test. */
const char *vfe_daemon_exe(void);

/*
 * Bring an environment up: start the daemon, connect, negotiate, start the
 * device, set up the FUSE client and send INIT (per opts; NULL = all
 * defaults).  Any failure fails the case.  The env is registered so that
 * failures print its daemon's log.
 */
void vfe_env_up(struct vfe_env *e, const struct vfe_env_opts *o);

/*
 * vfe_env_up() with default options but for the daemon's extra arguments
 * (NULL-terminated, may be NULL; at most VFE_MAX_ARGS - 1 are used).
 */
void vfe_env_up_args(struct vfe_env *e, const char *const *extra);

/* Start the daemon and connect only.  Returns the socket (fails the case). */
int vfe_env_spawn(struct vfe_env *e, const struct vfe_env_opts *o);

/*
 * Tear down: close the connection and check that the daemon exits with
 * status 0 within 5 s (fails the case otherwise).
 */
void vfe_env_down(struct vfe_env *e);

/*
 * Remove the directory tree at dir, not following links, best effort
 * (what cannot be removed stays; nothing is reported).
 */
void vfe_rm_tree(const char *dir);

/* Path of name inside the daemon's shared directory (static buffer). */
const char *vfe_shared_path(struct vfe_env *e, const char *name);

/* Fail the running case: print where and why, the log tail; exit. */
void vfe_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/* Skip the running case with a reason. */
void vfe_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Print a diagnostic line ("# ..."). */
void vfe_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A readable name for a negative error code of the library. */
const char *vfe_errname(long err);

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond))                                             \
			vfe_fail(__FILE__, __LINE__, "CHECK(%s) failed", \
				 #cond);                                 \
	} while (0)

#define CHECKF(cond, ...)                                                \
	do {                                                             \
		if (!(cond))                                             \
			vfe_fail(__FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)

/* expr must evaluate to 0. */
#define CHECK_OK(expr)                                                   \
	do {                                                             \
		long _r = (long)(expr);                                  \
		if (_r != 0)                                             \
			vfe_fail(__FILE__, __LINE__,                     \
				 "%s returned %ld (%s)", #expr, _r,      \
				 vfe_errname(_r));                       \
	} while (0)

/* expr must evaluate to exactly `want` (e.g. -ENOENT). */
#define CHECK_ERR(expr, want)                                            \
	do {                                                             \
		long _r = (long)(expr), _w = (long)(want);               \
		if (_r != _w)                                            \
			vfe_fail(__FILE__, __LINE__,                     \
				 "%s returned %ld (%s), expected %ld (%s)", \
				 #expr, _r, vfe_errname(_r), _w,         \
				 vfe_errname(_w));                       \
	} while (0)

#define CHECK_EQ(a, b)                                                   \
	do {                                                             \
		unsigned long long _a = (unsigned long long)(a);         \
		unsigned long long _b = (unsigned long long)(b);         \
		if (_a != _b)                                            \
			vfe_fail(__FILE__, __LINE__,                     \
				 "%s == %s failed: 0x%llx (%llu) != 0x%llx (%llu)", \
				 #a, #b, _a, _a, _b, _b);                \
	} while (0)

#endif
