/*
 * mig_state.h - the device state of virtiofsd: the FUSE session, the
 * source's configuration, the inode and handle tables and the id counters,
 * written into and read from the versioned container of mig_stream.h.
 * The byte-level format is documented in docs/migration.md.
 */
#ifndef MIG_STATE_H
#define MIG_STATE_H

#include <stdint.h>

struct fuse_session;
struct pt_fs;
struct pt_config;

/* Format version written, and the oldest reader version that can load it
 * (2: compact INODES2 / HANDLES2, which a version-1 reader cannot read).
 * This reader loads versions 1 and 2. */
#define MIG_STATE_VERSION 2
#define MIG_STATE_OLDEST 2

/* Section types. */
enum mig_section {
	MIG_SEC_SESSION = 1,    /* must-understand */
	MIG_SEC_CONFIG = 2,     /* informational, checked when present */
	MIG_SEC_INODES = 3,     /* version 1: must-understand, repeated */
	MIG_SEC_HANDLES = 4,    /* version 1: must-understand, repeated */
	MIG_SEC_COUNTERS = 5,   /* must-understand */
	MIG_SEC_FHANDLES = 6,   /* optional, before INODES: file handles to
				 * verify (--migration-verify-handles) */
	MIG_SEC_MOUNTS = 7,     /* must-understand, before INODES: the mounts
				 * of FHANDLE inodes (file-handles mode) */
	MIG_SEC_INODES2 = 8,    /* version 2: compact INODES, mig_compact.h */
	MIG_SEC_HANDLES2 = 9,   /* version 2: compact HANDLES */
};

/* CONFIG section: one byte per field, in this order (the cache mode is
 * enum pt_cache; the others are 0/1). */
enum {
	CFG_CACHE, CFG_WRITEBACK, CFG_XATTR, CFG_POSIX_ACL, CFG_READDIRPLUS,
	CFG_ANNOUNCE_SUBMOUNTS, CFG_READONLY, CFG_KILLPRIV_V2,
	CFG_ALLOW_DIRECT_IO, CFG_ALLOW_MMAP, CFG_SECURITY_LABEL, CFG_N
};

/* INODES entry kinds: enum pt_mig_kind (passthrough.h). */

/* Bytes of table entries per INODES / HANDLES section. */
#define MIG_STATE_CHUNK (1u << 20)

/* Fixed part of one version-1 INODES entry (the name follows) and one
 * HANDLES entry. */
#define MIG_INODE_FIXED 35
#define MIG_HANDLE_LEN 21
/* Fixed part of one FHANDLES entry (u64 node id, i32 type, u16 length;
 * the handle bytes follow). */
#define MIG_FHANDLE_FIXED 14

/* What the state is made of (owned by the caller, outlives the migration). */
struct mig_ctx {
	struct fuse_session *se;
	struct pt_fs *fs;
	const struct pt_config *cfg;   /* this daemon's configuration */
};

/*
 * Write the whole state to fd (the rings are stopped and pt_mig_prepare()
 * has run).  Returns 0 or a negative errno.
 */
int mig_save(struct mig_ctx *ctx, int fd);

/*
 * Read a state from fd up to EOF, validate all of it, and only then apply
 * it (tables, counters, session).  Returns 0, or a negative errno with
 * nothing applied (one line logged saying what failed).
 */
int mig_load(struct mig_ctx *ctx, int fd);

#endif
