/*
 * pt_internal.h - shared definitions of the passthrough file system.
 *
 * Objects:
 *   struct pt_inode   one host file known to the guest (pt_inode.c)
 *   struct pt_handle  one open file or directory (pt_handle.c)
 *   struct pt_fs      the file system: config, tables, counters (pt_fs.c)
 *
 * Reference counting (see pt_inode.c for the full rules):
 *   inode->refcount counts every holder: one for "the guest holds a lookup
 *   count" (nlookup > 0), one per open handle, one per op in flight that
 *   got the inode from pt_inode_get() / pt_do_lookup().  The inode leaves
 *   the tables and is freed when refcount drops to 0.  The root holds a
 *   permanent reference and is never freed.
 *
 * Lock order (documented in the owning files):
 *   handle shard lock, then inode shard locks (never held together in
 *   practice: every table function takes at most one shard lock at a time);
 *   dir_lock of a handle is taken outside of any table lock.
 *   Migration: fs->mig_lock (message / transfer thread only) before the
 *   tracker's lock (pt_mig_track.c), which is taken without any table
 *   lock and under which no table lock is taken; fs->inval_lock
 *   (pt_invalid.c) is a leaf.
 */
#ifndef PT_INTERNAL_H
#define PT_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "passthrough.h"

#define PT_SHARDS 64u

/* Intrusive hash chain link (pt_htab.c). */
struct pt_hlink {
	struct pt_hlink *next;
	uint64_t hash;
};

/* A growable chained hash table without locking of its own. */
struct pt_htab {
	struct pt_hlink **b;
	size_t nb;   /* number of buckets, a power of two */
	size_t n;    /* number of entries */
};

/* Identity of a host file: same key = same inode. */
struct pt_key {
	uint64_t dev;
	uint64_t ino;
	uint64_t mnt_id;
};

struct pt_inode {
	struct pt_hlink id_link;    /* in the id table, hash = nodeid */
	struct pt_hlink key_link;   /* in the key table, hash = hash(key) */
	uint64_t nodeid;            /* fuse_ino_t the guest sees */
	uint64_t generation;
	struct pt_key key;
	mode_t ftype;               /* S_IFMT bits, fixed for the inode's life */
	_Atomic uint64_t nlookup;   /* exact FUSE lookup count */
	_Atomic uint64_t refcount;  /* see the header comment */
	bool is_root;
	/*
	 * How the inode is held (pt_fhandle.c).  fh_len == 0: by the
	 * O_PATH|O_NOFOLLOW fd `fd`, open for the inode's life.  fh_len > 0
	 * (--inode-file-handles): by the file handle fh on mount `mnt`; `fd`
	 * is then a cached O_PATH fd or -1 (guarded by the fd cache's lock,
	 * fd_users borrowers keep it open, lru links it in the cache).
	 * Every user borrows the fd with pt_inode_fd_get()/_put() or opens
	 * the inode with pt_inode_open(), never reads fd directly outside
	 * pt_inode.c / pt_fd.c / pt_fhandle.c.  The root always keeps its fd
	 * (pt_root_fd()) and may also have a handle.
	 */
	int fd;
	_Atomic uint32_t fd_users;
	struct pt_inode *lru_prev, *lru_next;
	struct pt_mount *mnt;
	int32_t fh_type;
	uint16_t fh_len;
	uint8_t fh[];               /* fh_len bytes, allocated with the inode */
};

/* One mount seen by handle-held inodes (pt_fhandle.c): an O_PATH fd of
 * the first file looked up on it, for open_by_handle_at(). */
struct pt_mount {
	struct pt_mount *next;
	uint64_t mnt_id;
	int fd;
};

/* Handle mode state (pt_fhandle.c). */
struct pt_fh_state {
	_Atomic bool on;            /* new inodes get handles */
	pthread_mutex_t mnt_lock;   /* leaf: the mount list */
	struct pt_mount *mounts;
	pthread_mutex_t lru_lock;   /* leaf: the fd cache */
	struct pt_inode *head, *tail;   /* most / least recently used */
	size_t n, max;              /* cached fds, bound */
	_Atomic uint64_t opens, hits, evictions;
};

/* One guest lock owner's open file description of an inode (pt_lock.c):
 * its POSIX locks are OFD locks on fd. */
struct pt_lock_owner {
	struct pt_hlink link;       /* first: hash = (nodeid, owner) */
	struct pt_inode *in;        /* holds one inode reference */
	uint64_t owner;             /* FUSE lock_owner */
	int fd;                     /* opened for locking only */
	_Atomic int32_t pid;        /* guest pid of its last lock (GETLK) */
	_Atomic uint64_t refcount;  /* 1 for the table + 1 per op */
	struct pt_lock_owner *next_free;
};

/* A thread blocked in F_OFD_SETLKW (pt_lock.c). */
struct pt_lock_wait {
	struct pt_lock_wait *next;
	pthread_t thread;
	_Atomic bool cancelled;
};

/* Signal that interrupts a blocked lock wait (handler does nothing). */
#define PT_LOCK_SIG SIGUSR2

struct pt_locks {
	pthread_mutex_t lock;       /* leaf; guards tab and waits */
	struct pt_htab tab;         /* struct pt_lock_owner */
	struct pt_lock_wait *waits;
	unsigned n_waits;
	_Atomic unsigned max_waits; /* 0: no blocking waits, no host locks */
	_Atomic bool posix;         /* negotiated FUSE_POSIX_LOCKS */
	_Atomic bool flock;         /* negotiated FUSE_FLOCK_LOCKS */
};

struct pt_handle {
	struct pt_hlink link;       /* hash = fh */
	uint64_t fh;
	struct pt_inode *inode;     /* holds one inode reference */
	int fd;                     /* opened fd (file or directory) */
	int flags;                  /* guest open flags minus O_CREAT|O_EXCL|O_NOCTTY */
	bool is_dir;
	_Atomic uint64_t refcount;  /* 1 for the table + 1 per op in flight */
	pthread_mutex_t dir_lock;   /* directories: serializes lseek+getdents */
};

/* A sharded table: each shard has its own rwlock. */
struct pt_shard {
	pthread_rwlock_t lock;
	struct pt_htab tab;
} __attribute__((aligned(64)));

struct pt_fs {
	struct pt_config cfg;
	char *shared_dir;           /* owned copy of cfg.shared_dir */
	int proc_self_fd;           /* O_PATH of /proc/self/fd, opened at start */
	struct pt_inode *root;

	struct pt_shard ino_id[PT_SHARDS];   /* nodeid -> inode */
	struct pt_shard ino_key[PT_SHARDS];  /* (dev, ino, mnt) -> inode */
	struct pt_shard hnd[PT_SHARDS];      /* fh -> handle */
	_Atomic uint64_t next_nodeid;        /* next id to hand out, >= 2 */
	_Atomic uint64_t next_fh;            /* next fh to hand out, >= 1 */
	_Atomic uint64_t n_inodes;           /* live inodes incl. root */
	_Atomic uint64_t n_handles;

	double timeout;             /* entry and attr timeout, seconds */
	bool switch_creds;          /* daemon is root: run ops as the caller */
	gid_t daemon_gid;           /* egid to return to after an op */
	/* Negotiated at INIT (atomic: INIT may race with nothing, but reads
	 * happen on every queue thread). */
	_Atomic bool writeback;
	_Atomic bool supp_group;
	_Atomic bool killpriv_v2;
	/* Host-side locks (pt_lock.c): the (inode, lock owner) table and
	 * the blocked waits. */
	struct pt_locks locks;
	/* Migration save state between pt_mig_prepare() and the end of the
	 * migration (pt_mig_save.c); owned by the message/transfer thread. */
	struct pt_mig_src *mig;
	/* Pre-copy tracking (pt_mig_track.c): mig_lock serializes
	 * start/stop/save on the tracker pointer (taken by the message and
	 * transfer threads, never by ops); mig_tracking (atomic) tells the
	 * ops to report name changes. */
	pthread_mutex_t mig_lock;
	struct pt_mig_track *track;
	_Atomic bool mig_tracking;
	/* Node ids / handles a migration could not restore (pt_invalid.c). */
	pthread_mutex_t inval_lock;
	struct pt_htab inval_ino, inval_hnd;
	_Atomic uint64_t n_invalid;
	/* Host name of "security.capability" when --xattrmap renames it:
	 * the daemon then removes it where the host kernel would have
	 * removed security.capability (pt_ops_xattr.c); else NULL. */
	char *xattr_cap_name;
	/* --inode-file-handles: mounts and the O_PATH fd cache. */
	struct pt_fh_state fh;
};

/* ---- pt_htab.c ---- */

/* Initialise an empty table with nb (power of two) buckets. 0 or -ENOMEM. */
int pt_htab_init(struct pt_htab *t, size_t nb);
/* Free the bucket array (entries are not touched). */
void pt_htab_destroy(struct pt_htab *t);
/* Insert l (l->hash set by the caller); grows the table when loaded. */
void pt_htab_insert(struct pt_htab *t, struct pt_hlink *l);
/* Remove l if present. Returns true if it was found. */
bool pt_htab_remove(struct pt_htab *t, struct pt_hlink *l);
/* First link of the chain that may hold hash (walk ->next, compare hash). */
struct pt_hlink *pt_htab_chain(const struct pt_htab *t, uint64_t hash);

/* 64-bit mixer used for shard and bucket selection. */
static inline uint64_t pt_hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* ---- pt_inode.c ---- */

/* Set up the inode tables. 0 or negative errno. */
int pt_itab_init(struct pt_fs *fs);
/* Free every inode (the fs is going away; no op runs). */
void pt_itab_destroy(struct pt_fs *fs);
/*
 * Create the root inode from an O_PATH fd of the shared dir (fd is taken
 * over).  0 or negative errno.
 */
int pt_inode_make_root(struct pt_fs *fs, int fd);
/* Inode with node id nodeid, with a reference; NULL if unknown. */
struct pt_inode *pt_inode_get(struct pt_fs *fs, uint64_t nodeid);
/* Take one more reference on an inode the caller already holds. */
void pt_inode_ref(struct pt_inode *in);
/* Drop a reference; frees the inode when it was the last one. */
void pt_inode_put(struct pt_fs *fs, struct pt_inode *in);
/* The live inode with identity (dev, ino, mnt_id), with a reference, or
 * NULL when the table has none (a memory lookup, no syscall). */
struct pt_inode *pt_inode_find_key(struct pt_fs *fs, uint64_t dev,
				   uint64_t ino, uint64_t mnt_id);
/*
 * Find the inode of the host file behind fd (O_PATH|O_NOFOLLOW, taken
 * over: closed if an inode already exists) with identity st/mnt_id, or
 * create it with a fresh node id.  Returns it with a reference in *out.
 * 0 or negative errno.
 */
int pt_inode_find_or_insert(struct pt_fs *fs, int fd, const struct stat *st,
			    uint64_t mnt_id, struct pt_inode **out);
/* Add one guest lookup count (before replying with the entry). */
void pt_inode_lookup_inc(struct pt_inode *in);
/*
 * Drop n guest lookup counts from in (clamped at 0; the root keeps its
 * permanent reference whatever the guest says).
 */
void pt_inode_lookup_dec(struct pt_fs *fs, struct pt_inode *in, uint64_t n);
/* FORGET: drop n lookup counts of node id nodeid (unknown ids ignored). */
void pt_inode_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t n);
/*
 * Call cb(inode, arg) for every live inode, shard by shard, with the shard
 * lock held for reading: cb must not call back into the inode table.  A
 * non-zero return from cb stops the walk and is returned.
 */
int pt_inode_foreach(struct pt_fs *fs,
		     int (*cb)(struct pt_inode *in, void *arg), void *arg);
/*
 * Insert an inode with a given node id and lookup count (migration load).
 * fd is taken over in all cases; with fh non-NULL (fd -1) the inode is
 * held by that handle.  The id counter is raised past nodeid.
 * out (may be NULL): receives the inode with a reference; nlookup may
 * then be 0 (an inode only held by handles).  Node id 1 only sets the
 * root's lookup count.
 * Returns 0, -EINVAL, -EEXIST (id or key already present) or -ENOMEM.
 */
struct pt_fh_buf;
int pt_inode_insert_with_id(struct pt_fs *fs, uint64_t nodeid, int fd,
			    const struct pt_fh_buf *fh, const struct stat *st,
			    uint64_t mnt_id, uint64_t nlookup,
			    struct pt_inode **out);
/* Next node id to hand out / set it (migration). */
uint64_t pt_inode_next_id(struct pt_fs *fs);
void pt_inode_set_next_id(struct pt_fs *fs, uint64_t next);
/* Drop every guest lookup count (reset): all inodes but the root go once
 * no handle or op holds them. */
void pt_inode_forget_all(struct pt_fs *fs);

/* ---- pt_handle.c ---- */

/* Set up the handle table. 0 or negative errno. */
int pt_htable_init(struct pt_fs *fs);
/* Close and free every handle (fs going away). */
void pt_htable_destroy(struct pt_fs *fs);
/*
 * Register an open fd (taken over) for inode in (a reference is taken).
 * flags: the guest's open flags to remember.  Returns 0 and *fh, or a
 * negative errno (fd closed).
 */
int pt_handle_new(struct pt_fs *fs, struct pt_inode *in, int fd, int flags,
		  bool is_dir, uint64_t *fh);
/*
 * Handle fh with a reference, checked to belong to node id nodeid (and to
 * be a directory handle iff want_dir).  NULL if not.
 */
struct pt_handle *pt_handle_get(struct pt_fs *fs, uint64_t fh, uint64_t nodeid,
				bool want_dir);
/* Same, file or directory handle alike. */
struct pt_handle *pt_handle_get_any(struct pt_fs *fs, uint64_t fh,
				    uint64_t nodeid);
/* Drop a reference; the last one closes the fd and releases the inode. */
void pt_handle_put(struct pt_fs *fs, struct pt_handle *h);
/* RELEASE: remove fh from the table.  0 or -EBADF. */
int pt_handle_release(struct pt_fs *fs, uint64_t fh, uint64_t nodeid);
/* Release every handle (reset). */
void pt_handle_release_all(struct pt_fs *fs);
/* Walk every handle (read lock held per shard; cb must not re-enter). */
int pt_handle_foreach(struct pt_fs *fs,
		      int (*cb)(struct pt_handle *h, void *arg), void *arg);
/* Insert a handle with a given fh (migration load); fd taken over. */
int pt_handle_insert_with_id(struct pt_fs *fs, uint64_t fh,
			     struct pt_inode *in, int fd, int flags,
			     bool is_dir);
/* Next fh to hand out / set it (migration). */
uint64_t pt_handle_next_id(struct pt_fs *fs);
void pt_handle_set_next_id(struct pt_fs *fs, uint64_t next);

/* ---- pt_mig_save.c, pt_mig_load.c ---- */

/* True when name in parent is the hidden migration directory (the guest
 * never sees it: LOOKUP gives ENOENT, READDIR skips it). */
bool pt_mig_hidden(const struct pt_inode *parent, const char *name);
/* Remove a stale hidden directory left by an earlier run (start-up). */
void pt_mig_cleanup_stale(struct pt_fs *fs);
/* Free the save state at exit (hidden links are left for the peer). */
void pt_mig_free(struct pt_fs *fs);

/* Source: stop the pre-copy thread and hand the tracked records to the
 * save (called by pt_mig_prepare with mig_lock held).  See pt_mig_track.c. */
struct pt_track_loc {
	struct pt_inode *parent;    /* NULL: unknown */
	const char *name;
	uint16_t namelen;
	const void *fh;             /* file handle bytes or NULL */
	uint16_t fh_len;
	int32_t fh_type;
};
/* Stop the collecting thread (tracking of ops goes on).  mig_lock held. */
void pt_track_pause(struct pt_fs *fs);
/* The tracked location of nodeid: true and *loc filled (valid until the
 * tracker is dropped; mig_lock held, rings stopped). */
bool pt_track_get(struct pt_fs *fs, uint64_t nodeid, struct pt_track_loc *loc);
/* Statistics of the tracker for the save's log line. */
void pt_track_stats(struct pt_fs *fs, uint64_t *records, double *ms);

/* Hooks of the ops while fs->mig_tracking is set (cheap: memory only
 * under the tracker's lock).  in was reached as name in parent. */
void pt_track_name(struct pt_fs *fs, struct pt_inode *parent,
		   const char *name, struct pt_inode *in);
/* A successful RENAME(2) of parent/name to newparent/newname. */
void pt_track_rename(struct pt_fs *fs, struct pt_inode *parent,
		     const char *name, struct pt_inode *newparent,
		     const char *newname, unsigned flags);
/* A successful UNLINK / RMDIR of parent/name. */
void pt_track_remove(struct pt_fs *fs, struct pt_inode *parent,
		     const char *name);
/* True while a pre-copy tracker runs (log_start without log_stop). */
bool pt_track_active(struct pt_fs *fs);
/* Free everything of the tracker (fs going away). */
void pt_track_free(struct pt_fs *fs);

/* Compute the file handle of fd (name_to_handle_at AT_EMPTY_PATH) into
 * buf (PT_FH_MAX bytes).  Returns its length, or a negative errno. */
#define PT_FH_MAX 128
int pt_fd_handle(int fd, uint8_t *buf, int32_t *type);

/* ---- pt_invalid.c ---- */

int pt_miss_err(void);
int pt_invalid_init(struct pt_fs *fs);
void pt_invalid_clear(struct pt_fs *fs);
void pt_invalid_destroy(struct pt_fs *fs);
int pt_invalid_add_inode(struct pt_fs *fs, uint64_t nodeid, uint64_t nlookup,
			 uint64_t generation, int err);
int pt_invalid_add_handle(struct pt_fs *fs, uint64_t fh, uint64_t nodeid,
			  uint32_t flags, bool is_dir, int err);
void pt_invalid_miss_inode(struct pt_fs *fs, uint64_t nodeid);
void pt_invalid_miss_handle(struct pt_fs *fs, uint64_t fh);
bool pt_invalid_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t n);
bool pt_invalid_release(struct pt_fs *fs, uint64_t fh, uint64_t nodeid);
int pt_invalid_foreach_inode(struct pt_fs *fs,
			     int (*cb)(uint64_t nodeid, uint64_t nlookup,
				       uint64_t generation, int err, void *arg),
			     void *arg);
int pt_invalid_foreach_handle(struct pt_fs *fs,
			      int (*cb)(const struct pt_mig_handle *h,
					void *arg),
			      void *arg);

/* ---- pt_lock.c ---- */

/* Set up the owner table and the wake-up signal.  0 or negative errno. */
int pt_locks_init(struct pt_fs *fs);
/* Drop every lock description (reset). */
void pt_locks_clear(struct pt_fs *fs);
/* Free the table (fs going away). */
void pt_locks_destroy(struct pt_fs *fs);
/* The description of (in, owner) with a reference, created when create
 * is set; NULL with *err set otherwise. */
struct pt_lock_owner *pt_lock_owner_get(struct pt_fs *fs, struct pt_inode *in,
					uint64_t owner, bool create, int *err);
/* Drop a reference from pt_lock_owner_get(). */
void pt_lock_owner_put(struct pt_fs *fs, struct pt_lock_owner *o);
/* FLUSH: unlock every POSIX lock of owner on in (unlock on close). */
void pt_lock_owner_flush(struct pt_fs *fs, struct pt_inode *in,
			 uint64_t owner);
/* Call cb for every description of nodeid whose owner is not skip, with
 * the table lock held (cb must not re-enter); stops at non-zero. */
int pt_lock_owner_foreach(struct pt_fs *fs, uint64_t nodeid, uint64_t skip,
			  int (*cb)(struct pt_lock_owner *o, void *arg),
			  void *arg);
/* Register / unregister the calling thread as blocked in a lock wait.
 * begin: 0 or -ENOLCK (limit of concurrent waits reached). */
int pt_lock_wait_begin(struct pt_fs *fs, struct pt_lock_wait *w);
void pt_lock_wait_end(struct pt_fs *fs, struct pt_lock_wait *w);

/* ---- pt_cred.c ---- */

/* Saved state of one credential switch. */
struct pt_cred {
	bool switched;
	bool groups;
};

/*
 * Prepare the process for per-thread credential switches (called once at
 * start, before any thread).  Sets fs->switch_creds.  0 or negative errno.
 */
int pt_cred_setup(struct pt_fs *fs);
/*
 * Run the calling thread as the request's caller (fsuid/fsgid, plus the
 * supplementary group of FUSE_CREATE_SUPP_GROUP if any).  Returns 0 or a
 * negative errno (then nothing is switched).
 */
int pt_cred_enter(struct pt_fs *fs, fuse_req_t req, struct pt_cred *save);
/* Switch the calling thread back to the daemon's credentials. */
void pt_cred_leave(struct pt_fs *fs, struct pt_cred *save);

/*
 * Run the calling thread without CAP_FSETID (HANDLE_KILLPRIV_V2 requests)
 * and give it back.  drop: 0 or negative errno, *dropped set when there
 * was something to drop.
 */
int pt_cap_drop_fsetid(bool *dropped);
void pt_cap_restore_fsetid(bool dropped);

/* True when this request asks the server to kill suid/sgid (only with
 * HANDLE_KILLPRIV_V2 negotiated). */
static inline bool pt_req_kill_priv(struct pt_fs *fs, fuse_req_t req)
{
	return atomic_load(&fs->killpriv_v2) && fuse_req_kill_priv(req);
}

/*
 * --translate-uid/gid.  pt_cred_enter() maps the caller's ids; these map
 * ids going to the guest (attributes) and coming from it (chown).
 * pt_ids_to_host: 0 or -EPERM (forbid-guest).
 */
void pt_attr_to_guest(struct pt_fs *fs, struct stat *st);
int pt_ids_to_host(struct pt_fs *fs, uid_t *uid, gid_t *gid);

/* ---- pt_newnode.c: what a new node gets besides its name ---- */

/*
 * The permission bits to clear from the mode of a node created in
 * parent: with FUSE_DONT_MASK negotiated (--posix-acl) the guest leaves
 * the umask to us, and it applies unless parent has a default ACL (then
 * the host kernel applies the ACL).  0 otherwise.
 */
mode_t pt_newnode_umask(struct pt_fs *fs, fuse_req_t req,
			struct pt_inode *parent);
/*
 * Store the request's security context (FUSE_SECURITY_CTX, through the
 * xattr map) on the node just created: fd is an fd of it, O_PATH when
 * o_path.  Runs with the daemon's credentials.  0 when there is none or
 * it was stored, else negative errno (the caller undoes the creation).
 */
int pt_newnode_secctx(struct pt_fs *fs, fuse_req_t req, int fd, bool o_path);

/* ---- pt_ops_xattr.c: helpers for other ops ---- */

/* Start-up: find the host name of security.capability under the xattr
 * map (fs->xattr_cap_name).  0 or -ENOMEM. */
int pt_xattr_setup(struct pt_fs *fs);
/* Remove the renamed security.capability from inode in, through fd when
 * fd >= 0 (an fd open for I/O) else by reopening in, as the host kernel
 * does on write, truncate and chown.  No-op unless it is renamed.
 * 0 or negative errno. */
int pt_xattr_clear_caps(struct pt_fs *fs, struct pt_inode *in, int fd);

/* ---- pt_fd.c: opening inodes, paths, stat ---- */

/* Format "N" for fd into buf (at least 16 bytes). */
void pt_fdname(int fd, char *buf, size_t len);
/*
 * Borrow the O_PATH fd of inode in (the caller holds a reference): its
 * own fd, or with a file handle a cached one or one opened through the
 * handle (the thread may run with a guest caller's ids).  Returns the fd
 * or a negative errno; give it back with pt_inode_fd_put().
 */
int pt_inode_fd_get(struct pt_fs *fs, struct pt_inode *in);
/* Give back an fd from pt_inode_fd_get() (fd < 0 is ignored). */
void pt_inode_fd_put(struct pt_fs *fs, struct pt_inode *in, int fd);
/* The root's O_PATH fd: always open, never given back. */
static inline int pt_root_fd(const struct pt_fs *fs)
{
	return fs->root->fd;
}
/*
 * Open inode in for I/O with flags (through /proc/self/fd, never following
 * symlinks, refusing special files).  Returns the fd or negative errno.
 */
int pt_inode_open(struct pt_fs *fs, struct pt_inode *in, int flags);
/* statx of an inode into st (and mount id into *mnt_id if non-NULL). */
int pt_inode_stat(struct pt_fs *fs, struct pt_inode *in, struct stat *st,
		  uint64_t *mnt_id);
/* statx of fd (AT_EMPTY_PATH) into st and *mnt_id (may be NULL). */
int pt_stat_fd(int fd, struct stat *st, uint64_t *mnt_id);
/* statx of name in dirfd (no symlink followed; "" = dirfd itself); as
 * pt_stat_fd(). */
int pt_stat_at(int dirfd, const char *name, struct stat *st,
	       uint64_t *mnt_id);
/* How pt_do_lookup() finds an inode. */
enum pt_lookup_how {
	PT_LOOKUP_PROBE,   /* statx the name first: an inode the table holds
			    * costs that one syscall (LOOKUP, LINK) */
	PT_LOOKUP_NEW,     /* the name was just made: open it directly */
};
/*
 * Look name up in parent, find or create its inode, fill *e (one lookup
 * count taken, to be undone with pt_entry_undo() if the reply fails).
 * Handles "." and "..".  With PT_LOOKUP_PROBE a statx of the name comes
 * first and an inode already in the table is used without opening
 * anything; otherwise (or when the table has none) the name is opened
 * O_PATH|O_NOFOLLOW and the fd statx'ed.  Returns 0 or negative errno;
 * *inp gets the inode with a reference when inp is non-NULL (else the op
 * reference is dropped).
 */
int pt_do_lookup(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		 struct fuse_entry_param *e, struct pt_inode **inp,
		 enum pt_lookup_how how);
/*
 * fuse_attr.flags for an entry in of parent: FUSE_ATTR_SUBMOUNT when
 * announce_submounts is on and in is a directory on another mount or
 * device than parent (the guest then gives it its own submount).
 */
uint32_t pt_attr_flags(struct pt_fs *fs, const struct pt_inode *parent,
		       const struct pt_inode *in);
/*
 * Like pt_do_lookup() for a file we just opened on fd (CREATE, TMPFILE):
 * no name is looked up again, so nothing can race in between.  *inp gets
 * the inode with a reference.  0 or negative errno.
 */
int pt_entry_from_fd(struct pt_fs *fs, int fd, struct fuse_entry_param *e,
		     struct pt_inode **inp);
/* Undo the lookup count taken by pt_do_lookup() after a failed reply. */
void pt_entry_undo(struct pt_fs *fs, const struct fuse_entry_param *e);
/* Check a single path component from the guest: 0, or -EINVAL for an
 * empty name, "/" in it, or (when !dots_ok) "." / "..". */
int pt_check_name(const char *name, bool dots_ok);
/* Convert guest open flags into host flags for reopening (policy of
 * O_DIRECT, O_NOATIME, writeback). */
int pt_open_flags(struct pt_fs *fs, int flags);
/* Apply the cache policy to an open reply. */
void pt_set_open_cache(struct pt_fs *fs, struct fuse_file_info *fi,
		       bool is_dir);

/* ---- pt_fhandle.c: inodes held by file handles ---- */

/* Set up the (empty) mount table and fd cache.  0 or negative errno. */
int pt_fh_init(struct pt_fs *fs);
/* Close the mount fds (every inode is gone). */
void pt_fh_destroy(struct pt_fs *fs);
/*
 * Start-up, after the capabilities are final: decide whether new inodes
 * get file handles (--inode-file-handles prefer / mandatory) by making
 * and opening the root's handle.  0, or a negative errno when mandatory
 * and handles do not work (logged).
 */
int pt_fh_setup(struct pt_fs *fs);
/* True when new inodes are held by file handles. */
static inline bool pt_fh_on(struct pt_fs *fs)
{
	return atomic_load(&fs->fh.on);
}
/* A file handle as made by pt_fh_make(). */
struct pt_fh_buf {
	struct pt_mount *mnt;
	int32_t type;
	uint16_t len;
	uint8_t bytes[PT_FH_MAX];
};
/*
 * The file handle of the O_PATH fd fd on mount mnt_id (registering the
 * mount, with a dup of fd, when it is new).  0 or negative errno
 * (-EOPNOTSUPP: the file system has no handles).
 */
int pt_fh_make(struct pt_fs *fs, int fd, uint64_t mnt_id,
	       struct pt_fh_buf *out);
/* Open inode in (which has a handle) with open_by_handle_at(flags), as
 * the daemon.  fd or negative errno. */
int pt_fh_open(struct pt_fs *fs, const struct pt_inode *in, int flags);
/* Open a raw handle on the mount fd mount_fd with flags (as the daemon,
 * emptying the cache and retrying once on EMFILE).  fd or -errno. */
int pt_fh_open_raw(struct pt_fs *fs, int mount_fd, int32_t type,
		   const uint8_t *bytes, uint16_t len, int flags);
/* Same for a handle from pt_fh_make(). */
int pt_fh_open_buf(struct pt_fs *fs, const struct pt_fh_buf *b, int flags);
/* Offer an O_PATH fd of in (taken over) to the cache: kept when in has
 * none cached, else closed. */
void pt_fh_cache_offer(struct pt_fs *fs, struct pt_inode *in, int fd);
/* Inode in is being freed: drop its cached fd. */
void pt_fh_inode_gone(struct pt_fs *fs, struct pt_inode *in);
/* Close every unused cached fd (an open failed with EMFILE / ENFILE).
 * Returns how many were closed. */
size_t pt_fh_shrink(struct pt_fs *fs);
/* Call cb(mnt_id, fd, arg) for every mount seen; stops at non-zero. */
int pt_fh_foreach_mount(struct pt_fs *fs,
			int (*cb)(uint64_t mnt_id, int fd, void *arg),
			void *arg);
/* The file handle of in into buf (PT_FH_MAX bytes): its own when it is
 * held by one, else made from its fd.  Length or negative errno. */
int pt_inode_handle(struct pt_fs *fs, struct pt_inode *in, uint8_t *buf,
		    int32_t *type);
/* The mount fd for mnt_id, or -1 (valid for the fs' life). */
int pt_fh_mount_fd(struct pt_fs *fs, uint64_t mnt_id);

/* ---- pt_tls.c: per-thread scratch buffers ---- */

#define PT_RD_MAX (64 * 1024)       /* largest READDIR reply we build */
#define PT_RD_DENTS (32 * 1024)     /* getdents64 buffer */
#define PT_XATTR_MAX (64 * 1024)    /* XATTR_SIZE_MAX / XATTR_LIST_MAX */

struct pt_scratch {
	char rd_reply[PT_RD_MAX];
	char rd_dents[PT_RD_DENTS];
	uint64_t rd_counted[PT_RD_MAX / 144 + 1];  /* see pt_ops_dir.c */
	char xattr[PT_XATTR_MAX];
};

/* This thread's scratch buffers (allocated on first use, freed at thread
 * exit); NULL when out of memory. */
struct pt_scratch *pt_scratch(void);

/* ---- helpers shared by the ops ---- */

/* The fs of a request. */
static inline struct pt_fs *pt_req_fs(fuse_req_t req)
{
	return (struct pt_fs *)fuse_req_userdata(req);
}

/* Reply with a negative errno value (as returned by our helpers). */
static inline void pt_reply_err(fuse_req_t req, int neg)
{
	fuse_reply_err(req, neg < 0 ? -neg : neg);
}

/* ---- the op implementations (pt_ops_*.c) ---- */

/* pt_ops_entry.c */
void pt_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void pt_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void pt_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets);
void pt_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev);
void pt_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode);
void pt_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name);
void pt_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname);
void pt_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void pt_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void pt_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname,
		  unsigned int flags);

/* pt_ops_attr.c */
void pt_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pt_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int valid, struct fuse_file_info *fi);
void pt_op_readlink(fuse_req_t req, fuse_ino_t ino);
void pt_op_statfs(fuse_req_t req, fuse_ino_t ino);
void pt_op_access(fuse_req_t req, fuse_ino_t ino, int mask);

/* pt_ops_file.c */
void pt_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pt_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void pt_op_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode,
		   struct fuse_file_info *fi);
void pt_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void pt_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		     off_t off, struct fuse_file_info *fi);
void pt_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pt_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pt_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void pt_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		     off_t length, struct fuse_file_info *fi);
void pt_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi);
void pt_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			   off_t off_out, struct fuse_file_info *fi_out,
			   size_t len, int flags);
void pt_op_syncfs(fuse_req_t req, fuse_ino_t ino);

/* pt_ops_lock.c */
void pt_op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock);
void pt_op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock, int sleep);
void pt_op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 int op);

/* pt_ops_dir.c */
void pt_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pt_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void pt_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void pt_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void pt_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi);

/* pt_ops_xattr.c */
void pt_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void pt_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size);
void pt_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void pt_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* pt_ops_poll.c */
void pt_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct fuse_pollhandle *ph);

/* pt_ops_ioctl.c */
void pt_op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		 struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		 size_t in_bufsz, size_t out_bufsz);

#endif
