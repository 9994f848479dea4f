/*
 * sandbox.h - isolation of the daemon (--sandbox namespace|chroot|none).
 *
 * Two steps around the opening of the shared directory:
 *
 *   vfs_sandbox_enter()   namespace: new user (when not root), mount, pid
 *                         and network namespaces; the caller continues as
 *                         pid 1 of the new pid namespace while the original
 *                         process waits for it; mounts made slave, a fresh
 *                         /proc, the shared directory bind-mounted onto
 *                         itself.  chroot, none: nothing.
 *   ... pt_fs_new() opens /proc/self/fd and the shared directory ...
 *   vfs_sandbox_seal()    namespace: pivot_root into the shared directory
 *                         and detach the old root; chroot: chroot into it.
 *
 * So passthrough's root fd is the sandbox's "/" (".." stops there) and its
 * /proc/self/fd fd belongs to the daemon's own pid namespace.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include "options.h"

/*
 * First step (see above).  With namespace, forks: the original process
 * never returns from here; it forwards SIGTERM, SIGINT and SIGHUP to the
 * daemon and exits with its status.  The caller must have created its
 * listening socket and taken its pid file already, and must not have
 * started threads.  pid_fd (or -1): the pid-file lock, which the waiting
 * process keeps until it has removed the socket and the pid file after
 * the daemon ended.  Returns 0 (in the daemon) or a negative errno
 * (logged).
 */
int vfs_sandbox_enter(const struct vfs_options *o, int pid_fd);

/*
 * Second step: make the shared directory the root.  Call after the shared
 * directory was opened and before anything guest-facing runs.  Returns 0
 * or a negative errno (logged).
 */
int vfs_sandbox_seal(const struct vfs_options *o);

#endif
