/*
 * passthrough.h - the passthrough file system: serves a host directory
 * through the libfuse lowlevel API (struct fuse_lowlevel_ops) plus the
 * virtio-fs extensions of fuse_virtio.h.
 *
 * Node ids and file handle numbers are allocated from counters, are never
 * reused while the guest may hold them, and lookup counts are exact: live
 * migration saves and restores all three.
 */
#ifndef PASSTHROUGH_H
#define PASSTHROUGH_H

#include <stdbool.h>
#include <stdint.h>
#include "fuse_virtio.h"

enum pt_cache {
	PT_CACHE_AUTO = 0,
	PT_CACHE_ALWAYS,
	PT_CACHE_NEVER,
	PT_CACHE_METADATA,
};

enum pt_inode_file_handles {
	PT_FH_NEVER = 0,
	PT_FH_PREFER,
	PT_FH_MANDATORY,
};

/* Configuration, filled from the command line. */
struct pt_config {
	const char *shared_dir;      /* absolute path of the directory served */
	enum pt_cache cache;
	bool readdirplus;            /* default true; forced off by cache=never */
	bool writeback;
	bool allow_direct_io;
	bool allow_mmap;
	bool xattr;
	bool posix_acl;
	bool security_label;
	bool killpriv_v2;
	bool announce_submounts;     /* default true */
	bool readonly;
	bool preserve_noatime;
	enum pt_inode_file_handles inode_file_handles;
};

struct pt_fs;

/*
 * Open the shared directory and create the file system.
 * cfg is copied.  Returns the fs, or NULL with *err set to a negative errno.
 */
struct pt_fs *pt_fs_new(const struct pt_config *cfg, int *err);

/* Close every fd and free the fs. */
void pt_fs_free(struct pt_fs *fs);

/* The lowlevel ops; userdata for the session must be the struct pt_fs. */
const struct fuse_lowlevel_ops *pt_lowlevel_ops(void);

/* The virtio-fs extension ops (init_ext, syncfs, tmpfile, reset). */
const struct fuse_virtio_ops *pt_virtio_ops(void);

/* Counts of live objects, for logs and tests. */
struct pt_stats {
	uint64_t inodes;   /* including the root */
	uint64_t handles;  /* open file and directory handles */
};

/* Fill *st with the current counts. */
void pt_fs_stats(struct pt_fs *fs, struct pt_stats *st);

#endif
