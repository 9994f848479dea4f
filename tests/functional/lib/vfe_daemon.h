/*
 * vfe_daemon.h - spawn and supervise the daemon under test.
 *
 * The daemon runs as a child process with its stdout/stderr in a log file
 * inside the test's directory, and dies with its parent (PR_SET_PDEATHSIG).
 * Every wait is bounded; only the process started here is ever signalled.
 */
#ifndef VFE_DAEMON_H
#define VFE_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define VFE_MAX_ARGS 32

struct vfe_daemon {
	pid_t pid;              /* 0 when not running / reaped */
	int status;             /* wait status once reaped */
	bool reaped;
	char dir[PATH_MAX];     /* the test's directory */
	char sock_path[108];
	char log_path[PATH_MAX];
	char shared_dir[PATH_MAX];
};

struct vfe_daemon_opts {
	const char *exe;              /* daemon binary */
	const char *shared_dir;       /* NULL: <dir>/shared (created) */
	unsigned thread_pool_size;    /* 0: not passed */
	bool use_fd;                  /* --fd=N with our listening socket */
	const char *extra[VFE_MAX_ARGS]; /* more arguments, NULL-terminated */
	bool as_user;                 /* exec as uid/gid, no supplementary */
	uid_t uid;                    /*   groups (the caller must be root) */
	gid_t gid;
};

/*
 * Start the daemon.  dir: an existing directory for socket, log and (by
 * default) the shared directory.  Waits (bounded) until its socket exists.
 * Returns 0 or a negative errno (-ECHILD if it exited during startup).
 */
int vfe_daemon_start(struct vfe_daemon *d, const char *dir,
		     const struct vfe_daemon_opts *o);

/*
 * Connect to the daemon's socket, retrying until timeout_ms.
 * Returns the connected socket fd or a negative errno.
 */
int vfe_daemon_connect(struct vfe_daemon *d, int timeout_ms);

/*
 * Wait until the daemon exits, at most timeout_ms; *status receives the
 * wait status (may be NULL).  Returns 0, or -ETIMEDOUT (still running).
 */
int vfe_daemon_wait(struct vfe_daemon *d, int timeout_ms, int *status);

/* True while the daemon runs (reaps it if it has exited). */
bool vfe_daemon_alive(struct vfe_daemon *d);

/* SIGKILL the daemon if it still runs and reap it. */
void vfe_daemon_kill(struct vfe_daemon *d);

/* Describe a wait status ("exit 0", "signal 11 (core)") into buf. */
const char *vfe_status_str(int status, char *buf, size_t len);

/*
 * CPU time of process pid (any process, not only a vfe_daemon): utime +
 * stime from /proc/PID/stat in clock ticks.  Returns -1 when unreadable.
 */
long long vfe_proc_cpu_ticks(pid_t pid);

/* Print the last max_bytes of the daemon's log to stderr, "# "-prefixed. */
void vfe_daemon_print_log(const struct vfe_daemon *d, size_t max_bytes);

/*
 * Search the daemon's log for a string.  Returns true when found.
 */
bool vfe_daemon_log_contains(const struct vfe_daemon *d, const char *needle);

#endif
