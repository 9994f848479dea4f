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

struct pt_xattrmap;
struct pt_idmap;

/* --migration-mode */
enum pt_mig_mode {
	PT_MIG_MODE_FIND_PATHS = 0,
	PT_MIG_MODE_FILE_HANDLES,
};

/* --migration-on-error (destination) */
enum pt_mig_on_error {
	PT_MIG_ERR_ABORT = 0,      /* any entry not restored fails the load */
	PT_MIG_ERR_GUEST,          /* such entries give the guest an error */
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
	/* Host-side locks (-o no_posix_lock / no_flock turn them off); they
	 * also need pool workers that may block, pt_fs_set_lock_waits(). */
	bool no_posix_lock;
	bool no_flock;
	enum pt_inode_file_handles inode_file_handles;
	/* --xattrmap (pt_xattrmap.h) and --translate-uid/gid (pt_idmap.h):
	 * NULL when not given; owned by the caller, which keeps them alive
	 * as long as the fs. */
	const struct pt_xattrmap *xattrmap;
	const struct pt_idmap *uid_map;
	const struct pt_idmap *gid_map;
	/* Migration (docs/migration.md). */
	enum pt_mig_mode mig_mode;
	enum pt_mig_on_error mig_on_error;
	bool mig_verify_handles;     /* source: send file handles to check */
	bool mig_confirm_paths;      /* source: re-check every path at save */
};

struct pt_fs;

/*
 * Open the shared directory and create the file system.
 * cfg is copied.  Returns the fs, or NULL with *err set to a negative errno.
 */
struct pt_fs *pt_fs_new(const struct pt_config *cfg, int *err);

/*
 * Finish start-up once the sandbox and the capabilities are final (before
 * the seccomp filter): with --inode-file-handles, check that file handles
 * work.  0, or a negative errno (logged) when the daemon must not start.
 */
int pt_fs_start(struct pt_fs *fs);

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

/*
 * Host-side locks (pt_lock.c).  How many F_SETLKW / blocking flock
 * requests may wait at once on the host: they run on pool workers only,
 * and at least one worker must stay free for the request that unlocks
 * (so the pool size minus one).  0 (the default, no pool): locks are
 * not negotiated and stay guest-local.  Call before the guest's INIT.
 */
void pt_fs_set_lock_waits(struct pt_fs *fs, unsigned max);

/*
 * Interrupt every blocked lock wait: each is answered ENOLCK (the device
 * must quiesce: ring stop, memory table change).  Any thread; returns how
 * many waits were still registered (call again until 0, a wait may
 * register just after).
 */
unsigned pt_fs_cancel_lock_waits(struct pt_fs *fs);

/* ---- live migration (pt_mig_save.c, pt_mig_load.c); see docs/migration.md ---- */

/* Hidden directory at the top of the shared dir holding links to
 * unlinked-but-open files during a migration. */
#define PT_MIG_DIR ".virtiofsd-c-migration"

/* How the destination finds an inode. */
enum pt_mig_kind {
	PT_MIG_ROOT = 0,      /* the shared directory itself */
	PT_MIG_PATH = 1,      /* name in directory node `parent` */
	PT_MIG_UNLINKED = 2,  /* name in PT_MIG_DIR; removed after loading */
	PT_MIG_INVALID = 3,   /* lost on the source: `parent` holds the errno */
	PT_MIG_FHANDLE = 4,   /* --migration-mode=file-handles: `parent` is
			       * the source's mount id, `name` the i32 handle
			       * type (little-endian) + the handle bytes */
};

/* One mount of FHANDLE inodes: its source mount id and the path, relative
 * to the shared dir (raw bytes, "" = the shared dir), to open it by. */
struct pt_mig_mount {
	uint64_t mnt_id;
	const char *path;
	uint16_t pathlen;
};

/* One inode as migrated.  name is raw bytes (not NUL-terminated, any
 * encoding), valid during the callback / call only. */
struct pt_mig_inode {
	uint64_t nodeid, nlookup, generation, parent;
	uint8_t kind;
	const char *name;
	uint16_t namelen;
};

/* One open handle as migrated. */
struct pt_mig_handle {
	uint64_t fh, nodeid;
	uint32_t flags;       /* the guest's open flags */
	uint8_t is_dir;
};

/* One inode's file handle (--migration-verify-handles), raw bytes. */
struct pt_mig_fhandle {
	uint64_t nodeid;
	int32_t type;
	uint16_t len;            /* 1..128 */
	const uint8_t *bytes;
};

/*
 * Source: dirty logging started, a migration begins: start collecting in
 * a background thread how to reach every inode, and keep it current as
 * the guest renames, links and removes names.  Called on the message
 * thread; restarts a running collection.  0 or a negative errno (then the
 * save collects everything itself).
 */
int pt_mig_track_start(struct pt_fs *fs);

/* Source: dirty logging stopped (migration cancelled or finished): stop
 * and join the thread, drop what it collected. */
void pt_mig_track_stop(struct pt_fs *fs);

/*
 * Source, at save time (rings stopped): find how to reach every inode
 * (parent + name, linking unlinked-but-open files into PT_MIG_DIR,
 * inserting "anchor" inodes with lookup count 0 for directories on the
 * way that the guest does not hold).  Returns 0 or a negative errno.
 */
int pt_mig_prepare(struct pt_fs *fs);

/* Call cb for every prepared inode, parents before children (root first).
 * A non-zero return of cb stops the walk and is returned.  -EINVAL when
 * pt_mig_prepare() has not run. */
int pt_mig_foreach_inode(struct pt_fs *fs,
			 int (*cb)(const struct pt_mig_inode *in, void *arg),
			 void *arg);

/* Call cb for every prepared inode that has a file handle to verify
 * (--migration-verify-handles); as pt_mig_foreach_inode(). */
int pt_mig_foreach_fhandle(struct pt_fs *fs,
			   int (*cb)(const struct pt_mig_fhandle *h, void *arg),
			   void *arg);

/* Call cb for every mount the prepared FHANDLE inodes are on (file-handles
 * mode; none otherwise); as pt_mig_foreach_inode(). */
int pt_mig_foreach_mount(struct pt_fs *fs,
			 int (*cb)(const struct pt_mig_mount *m, void *arg),
			 void *arg);

/* Call cb for every open handle; as pt_mig_foreach_inode(). */
int pt_mig_foreach_handle(struct pt_fs *fs,
			  int (*cb)(const struct pt_mig_handle *h, void *arg),
			  void *arg);

/* The next node id and fh the source would hand out. */
void pt_mig_next_ids(struct pt_fs *fs, uint64_t *next_nodeid,
		     uint64_t *next_fh);

/* Source: the state was written; drop the anchors and the prepared table
 * (the hidden links stay: the destination needs them). */
void pt_mig_save_done(struct pt_fs *fs);

/* Source: the migration failed and the source goes on (rings restarted):
 * drop the prepared state and remove the hidden links. */
void pt_mig_abort(struct pt_fs *fs);

struct pt_mig_load;

/*
 * Destination: start staging a migrated state.  fuse_flags: the FUSE_*
 * flags the migrated session negotiated (reopen policy).  The tables must
 * hold nothing but the root.  Returns the loader, or NULL with *err set.
 */
struct pt_mig_load *pt_mig_load_begin(struct pt_fs *fs, uint64_t fuse_flags,
				      int *err);

/* Stage the file handle the source saw for node id h->nodeid (before the
 * inode itself): the staged inode is compared with it.  0 or a negative
 * errno. */
int pt_mig_load_fhandle(struct pt_mig_load *l, const struct pt_mig_fhandle *h);

/* Stage one mount of FHANDLE inodes (before them): checks
 * CAP_DAC_READ_SEARCH once, opens the path beneath the shared dir (a
 * failure is applied to its inodes under --migration-on-error).  0 or a
 * negative errno. */
int pt_mig_load_mount(struct pt_mig_load *l, const struct pt_mig_mount *m);

/* Stage one inode (its parent must be staged already): checks it against
 * the stream and records it; opened by pt_mig_load_finish().  0 or a
 * negative errno (the caller then aborts). */
int pt_mig_load_inode(struct pt_mig_load *l, const struct pt_mig_inode *in);

/* Stage one handle (its inode must be staged): checks and records it;
 * reopened with the saved flags by pt_mig_load_finish().  0 or a negative
 * errno. */
int pt_mig_load_handle(struct pt_mig_load *l, const struct pt_mig_handle *h);

/*
 * The whole stream was staged and its checksum verified: open every inode
 * (parents before children, several threads) and reopen every handle,
 * applying --migration-on-error; nothing is installed.  l NULL: 0.
 * Returns 0 or a negative errno (the caller then aborts).
 */
int pt_mig_load_finish(struct pt_mig_load *l);

/* Install everything staged (opened by pt_mig_load_finish(), which runs
 * here if it has not) into the tables, set the counters to at least
 * next_nodeid / next_fh, remove the hidden links, free l.  Returns 0 or a
 * negative errno (then nothing is applied and l is freed). */
int pt_mig_load_commit(struct pt_mig_load *l, uint64_t next_nodeid,
		       uint64_t next_fh);

/* Close everything staged and free l; the tables are untouched. */
void pt_mig_load_abort(struct pt_mig_load *l);

#endif
