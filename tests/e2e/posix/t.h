/*
 * tests/e2e/posix/t.h: the posix suite's tiny assertion framework.
 *
 * Every check prints nothing when it passes and one line when it fails:
 *   FAIL file:line [section] expression: got ..., want ... (errno N NAME)
 * XFAIL(name) marks the next check as a known failure: the check
 * still runs; a failure prints "xfail" (and does not count as failed), a
 * pass prints "XPASS" (the finding may be fixed: drop the XFAIL).
 * t_finish() prints "posix: N passed, M failed (X xfail, Y xpass, S skipped)"
 * and returns the exit status (1 when M > 0).
 *
 * The checks are functions taking the value already computed, so errno is
 * read before anything else can change it: OK(expr) wants expr != -1,
 * ERR(expr, E) wants -1 with errno E, EQ(got, want) compares integers,
 * TRUE(cond) a condition, STREQ/MEMEQ strings and bytes. Each returns true
 * when the check passed (an XFAIL'd check returns its real outcome).
 */
#ifndef POSIX_T_H
#define POSIX_T_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What the daemon under test was started with (suite options). */
struct t_config {
	const char *dir;      /* test directory inside the share (-d) */
	const char *cache;    /* auto|always|never|metadata (-c) */
	bool xattr;           /* --xattr (-x) */
	bool writeback;       /* --writeback (-w) */
	bool direct_io;       /* --allow-direct-io (-D) */
	bool allow_mmap;      /* --allow-mmap (-m) */
	bool killpriv_v2;     /* --killpriv-v2 (-k) */
	bool verbose;         /* print every section (-v) */
};
extern struct t_config t_cfg;

/* t_section NAME: start a named group of checks (shown in failure lines). */
void t_section(const char *name);
/* t_info FMT...: an informational line ("posix: info ..."), e.g. what a host
 * file system did not support. */
void t_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* t_skip WHAT, WHY: count and print a skipped check. */
void t_skip(const char *what, const char *why);
/* t_xfail NAME: the next check is the known failure NAME (use XFAIL). */
void t_xfail(const char *name);
/* t_finish: print the summary line; returns the exit status. */
int t_finish(void);
/* t_fork_sync: called in a forked child before it runs checks; the child
 * reports its counters to the parent through t_child_exit. */
void t_child_begin(void);
/* t_child_exit: end a child started after t_child_begin: exits with a status
 * that t_child_wait turns back into counters. */
void t_child_exit(void) __attribute__((noreturn));
/* t_child_wait PID: wait for a child and add its counters; false (and a
 * failed check) when it died or timed out. */
bool t_child_wait(pid_t pid, const char *file, int line);

bool t_ok(long r, const char *expr, const char *file, int line);
bool t_err(long r, int want, const char *expr, const char *file, int line);
bool t_err2(long r, int want1, int want2, const char *expr, const char *file, int line);
bool t_eq(long long got, long long want, const char *expr, const char *file, int line);
bool t_true(bool c, const char *expr, const char *file, int line);
bool t_streq(const char *got, const char *want, const char *expr, const char *file, int line);
bool t_memeq(const void *got, const void *want, size_t n, const char *expr,
	     const char *file, int line);

#define OK(expr) t_ok((long)(expr), #expr, __FILE__, __LINE__)
#define ERR(expr, e) t_err((long)(expr), (e), #expr, __FILE__, __LINE__)
/* ERR2: POSIX allows either of two errors (e.g. ENOTEMPTY or EEXIST). */
#define ERR2(expr, e1, e2) t_err2((long)(expr), (e1), (e2), #expr, __FILE__, __LINE__)
#define EQ(got, want) t_eq((long long)(got), (long long)(want), #got " == " #want, __FILE__, __LINE__)
#define TRUE(c) t_true((c), #c, __FILE__, __LINE__)
#define STREQ(got, want) t_streq((got), (want), #got, __FILE__, __LINE__)
#define MEMEQ(got, want, n) t_memeq((got), (want), (n), #got, __FILE__, __LINE__)
#define XFAIL(name) t_xfail(name)

/* Known failures of the daemon (findings; their reasons are in t.c's
 * table, printed once at the end of a run that saw them). Each is used with
 * XFAIL() right before a check it explains, under the daemon settings where
 * it shows. */
#define XF_SUPP "supp-groups"
#define CHILD_WAIT(pid) t_child_wait((pid), __FILE__, __LINE__)

/* Helpers shared by the test files (t.c). */
/* p_path FMT...: DIR/FMT, a new string (never freed). */
const char *p_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* p_write_file PATH, DATA, MODE: create/truncate PATH with DATA; -1 on error. */
int p_write_file(const char *path, const char *data, mode_t mode);
/* p_read_file PATH, BUF, SIZE: read up to SIZE-1 bytes, NUL-terminate;
 * returns the length or -1. */
ssize_t p_read_file(const char *path, char *buf, size_t size);
/* p_rm_rf PATH: remove a tree (best effort). */
void p_rm_rf(const char *path);
/* p_msleep MS: sleep MS milliseconds. */
void p_msleep(int ms);
/* p_drop_caches: drop the guest's page cache, dentries and inodes. */
void p_drop_caches(void);
/* p_become UID, GID, SUPP: in a child: set groups (SUPP may be -1 for none),
 * gid and uid; exits the child on failure. */
void p_become(uid_t uid, gid_t gid, gid_t supp);
/* p_mode PATH: permission bits (07777) of PATH (lstat), or -1. */
long p_mode(const char *path);
/* p_nlink PATH: link count of PATH (lstat), or -1. */
long p_nlink(const char *path);
/* Timestamp comparison: a > b. */
struct timespec;
bool p_ts_after(const struct timespec *a, const struct timespec *b);
bool p_ts_equal(const struct timespec *a, const struct timespec *b);

/* The test groups (one per area). */
void t_perm(void);
void t_umask(void);
void t_times(void);
void t_links(void);
void t_rename(void);
void t_unlink(void);
void t_open(void);
void t_symlink(void);
void t_sparse(void);
void t_truncate(void);
void t_large(void);
void t_readdir(void);
void t_fifo(void);
void t_xattr(void);
void t_locks(void);
void t_direct(void);
void t_mmap(void);
void t_statfs(void);
void t_sync(void);
void t_access(void);
void t_tmpfile(void);
void t_copy_range(void);
void t_statx(void);
void t_keep(void);

#endif
