/*
 * options.h - the command line, with the Rust virtiofsd's option names,
 * syntax and defaults (plus its legacy -o forms).
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>

#include "affinity.h"
#include "caps.h"
#include "idmap.h"
#include "log.h"
#include "passthrough.h"

enum vfs_sandbox { SANDBOX_NAMESPACE = 0, SANDBOX_CHROOT, SANDBOX_NONE };
/* In the order of enum sc_action (seccomp/sc_filter.h). */
enum vfs_seccomp { SECCOMP_KILL = 0, SECCOMP_LOG, SECCOMP_TRAP, SECCOMP_NONE };

struct vfs_options {
	const char *socket_path;
	const char *socket_group;
	int fd;                        /* -1 unless --fd */
	const char *tag;
	unsigned thread_pool_size;
	struct vfs_cpus queue_cpus;    /* --queue-affinity (n 0: none) */
	enum vlog_level log_level;
	bool syslog;
	enum vfs_sandbox sandbox;
	enum vfs_seccomp seccomp;
	unsigned long rlimit_nofile;   /* 0: leave unchanged */
	bool rlimit_nofile_set;
	bool print_capabilities;
	const char *print_state;       /* --print-state FILE ('-': stdin) */
	bool help;
	bool version;
	struct pt_config pt;
	struct vfs_modcaps modcaps;    /* --modcaps */
	struct vfs_idmaps ns_uid_map;  /* --uid-map (user namespace) */
	struct vfs_idmaps ns_gid_map;  /* --gid-map */
	/* Owned for the process's life; pt.xattrmap / uid_map / gid_map
	 * point to them. */
	struct pt_xattrmap *xattrmap;
	struct pt_idmap *uid_map;
	struct pt_idmap *gid_map;
};

/*
 * Parse argv into *o (defaults first).  On error prints one line naming
 * the option to stderr.  Returns 0 or -EINVAL.
 */
int vfs_parse_options(int argc, char **argv, struct vfs_options *o);

/* Print the --help text to stdout. */
void vfs_print_help(const char *prog);

#endif
