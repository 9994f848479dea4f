/*
 * vfe_proc.h - looking at a running daemon from the host through /proc:
 * its worker process, status fields, namespaces.  Failures end the test
 * case (vfe_fail).
 */
#ifndef VFE_PROC_H
#define VFE_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/* The only child of process pid (the daemon's worker under the namespace
 * sandbox, whose parent just waits). */
pid_t vfe_proc_child(pid_t pid);

/* The first number of the "name:" line of /proc/pid/status, read as hex
 * when hex. */
unsigned long long vfe_proc_status(pid_t pid, const char *name, bool hex);

/* True when pid is in the same namespace of kind ns ("user", "mnt", ...)
 * as the calling process. */
bool vfe_proc_same_ns(pid_t pid, const char *ns);

#endif
