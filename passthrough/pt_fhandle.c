/*
 * pt_fhandle.c - inodes held by file handles (--inode-file-handles=
 * prefer|mandatory): the mount table, the cache of O_PATH fds, and
 * borrowing an inode's fd.
 *
 * An inode held by a handle keeps {mount, handle type, handle bytes}
 * (name_to_handle_at(AT_EMPTY_PATH) of the O_PATH fd its lookup opened)
 * instead of that fd, so the guest can cache far more inodes than the
 * daemon may have fds.  The fd is reopened with open_by_handle_at(mount
 * fd, handle, O_PATH) when an op needs it.  Mounts: one fd per mount id
 * seen, the first file looked up on it (its root: a directory, or a
 * regular file bind-mounted) reopened O_RDONLY (open_by_handle_at
 * refuses O_PATH mount fds), never closed before the fs.  Cache: the recently used O_PATH fds stay open, at most
 * fs->fh.max (a quarter of RLIMIT_NOFILE, 16..16384), least recently
 * used first out; an fd borrowed by an op (fd_users > 0) is never closed
 * under it.  When an open fails with EMFILE / ENFILE every unused cached
 * fd is closed and the open retried once (the cache gives its budget
 * back before the guest sees an error).
 *
 * Credentials: open_by_handle_at needs CAP_DAC_READ_SEARCH, which the
 * kernel clears from the effective set while a thread runs with a guest
 * caller's euid (pt_cred.c).  Opening an O_PATH fd checks no permission
 * on the file, so a thread that borrows an fd while switched goes back
 * to euid 0 for the open_by_handle_at alone (real and saved uid are 0,
 * so the permitted set comes back) and returns to the caller's euid;
 * a later reopen for I/O through /proc/self/fd is checked as the caller.
 *
 * Locks (both leaves; never held together, never with a table lock):
 *   fs->fh.mnt_lock  the mount list (append only).
 *   fs->fh.lru_lock  the cache list, fs->fh.n, and in->fd / in->lru_* of
 *                    handle-held inodes.  in->fd_users is atomic: taken
 *                    under the lock, dropped without it; eviction (under
 *                    the lock) skips inodes with borrowers.
 *
 * Syscalls: name_to_handle_at, open_by_handle_at, openat, close, statx,
 * prlimit64, geteuid, setresuid.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "pt_internal.h"
#include "log.h"

union pt_fh_u {
	struct file_handle fh;
	char space[sizeof(struct file_handle) + PT_FH_MAX];
};

/* Set up the handle state of fs (handles off until pt_fh_setup). */
int pt_fh_init(struct pt_fs *fs)
{
	struct rlimit rl;
	size_t max = 1024;

	atomic_init(&fs->fh.on, false);
	pthread_mutex_init(&fs->fh.mnt_lock, NULL);
	pthread_mutex_init(&fs->fh.lru_lock, NULL);
	fs->fh.mounts = NULL;
	fs->fh.head = fs->fh.tail = NULL;
	fs->fh.n = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = (size_t)rl.rlim_cur / 4;
	if (max < 16)
		max = 16;
	if (max > 16384)
		max = 16384;
	fs->fh.max = max;
	return 0;
}

/* Close the mount fds; every inode (and so every cached fd) is gone. */
void pt_fh_destroy(struct pt_fs *fs)
{
	struct pt_mount *m = fs->fh.mounts;

	while (m) {
		struct pt_mount *next = m->next;

		close(m->fd);
		free(m);
		m = next;
	}
	fs->fh.mounts = NULL;
	pthread_mutex_destroy(&fs->fh.mnt_lock);
	pthread_mutex_destroy(&fs->fh.lru_lock);
}

/*
 * Run as the daemon: a thread switched to a guest caller's euid goes back
 * to 0 (see the header).  Returns the euid to give to as_caller(), or
 * (uid_t)-1 with errno set.
 */
static uid_t as_daemon(struct pt_fs *fs)
{
	uid_t euid = fs->switch_creds ? (uid_t)syscall(SYS_geteuid) : 0;

	if (euid != 0 && syscall(SYS_setresuid, -1, 0, -1) < 0)
		return (uid_t)-1;
	return euid;
}

static void as_caller(uid_t euid)
{
	if (euid != 0 && syscall(SYS_setresuid, -1, euid, -1) < 0) {
		/* Going on as root would skip the caller's permission
		 * checks: never. */
		LOG_ERR("passthrough: cannot return to euid %u: %m",
			(unsigned)euid);
		abort();
	}
}

/*
 * A mount fd for open_by_handle_at, which refuses O_PATH fds: the O_PATH
 * fd fd (a directory or a regular file: the first file met on a mount is
 * its root) reopened read-only through /proc/self/fd.
 */
static int mount_fd_open(struct pt_fs *fs, int fd)
{
	struct stat st;
	char name[24];
	uid_t euid;
	int mfd, r = pt_stat_fd(fd, &st, NULL);

	if (r)
		return r;
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	pt_fdname(fd, name, sizeof(name));
	euid = as_daemon(fs);
	if (euid == (uid_t)-1)
		return -errno;
	mfd = openat(fs->proc_self_fd, name, O_RDONLY | O_NONBLOCK |
		     O_NOCTTY | O_CLOEXEC |
		     (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	r = mfd < 0 ? -errno : mfd;
	as_caller(euid);
	return r;
}

/* The mount entry of mnt_id, created from fd (an O_PATH fd on it) when
 * new. */
static struct pt_mount *mount_get(struct pt_fs *fs, uint64_t mnt_id, int fd,
				  int *err)
{
	struct pt_mount *m;

	pthread_mutex_lock(&fs->fh.mnt_lock);
	for (m = fs->fh.mounts; m; m = m->next)
		if (m->mnt_id == mnt_id)
			break;
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m) {
			*err = -ENOMEM;
		} else {
			m->mnt_id = mnt_id;
			m->fd = mount_fd_open(fs, fd);
			if (m->fd < 0) {
				*err = m->fd;
				free(m);
				m = NULL;
			} else {
				m->next = fs->fh.mounts;
				fs->fh.mounts = m;
				LOG_DBG("passthrough: mount %llu: fd %d",
					(unsigned long long)mnt_id, m->fd);
			}
		}
	}
	pthread_mutex_unlock(&fs->fh.mnt_lock);
	return m;
}

/* The mount fd of mnt_id or -1. */
int pt_fh_mount_fd(struct pt_fs *fs, uint64_t mnt_id)
{
	int fd = -1;

	pthread_mutex_lock(&fs->fh.mnt_lock);
	for (struct pt_mount *m = fs->fh.mounts; m; m = m->next)
		if (m->mnt_id == mnt_id) {
			fd = m->fd;
			break;
		}
	pthread_mutex_unlock(&fs->fh.mnt_lock);
	return fd;
}

/* Walk the mounts (the list is append-only: walked without the lock
 * after reading its head). */
int pt_fh_foreach_mount(struct pt_fs *fs,
			int (*cb)(uint64_t mnt_id, int fd, void *arg),
			void *arg)
{
	struct pt_mount *m;
	int r = 0;

	pthread_mutex_lock(&fs->fh.mnt_lock);
	m = fs->fh.mounts;
	pthread_mutex_unlock(&fs->fh.mnt_lock);
	for (; m && !r; m = m->next)
		r = cb(m->mnt_id, m->fd, arg);
	return r;
}

/* Make the handle of fd; see pt_internal.h. */
int pt_fh_make(struct pt_fs *fs, int fd, uint64_t mnt_id,
	       struct pt_fh_buf *out)
{
	union pt_fh_u u;
	int mid, err = 0;

	u.fh.handle_bytes = PT_FH_MAX;
	if (name_to_handle_at(fd, "", &u.fh, &mid, AT_EMPTY_PATH) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
	if (u.fh.handle_bytes == 0 || u.fh.handle_bytes > PT_FH_MAX)
		return -EOVERFLOW;
	if (mnt_id && (uint64_t)mid != mnt_id)
		LOG_DBG("passthrough: handle mount %d, statx mount %llu", mid,
			(unsigned long long)mnt_id);
	out->mnt = mount_get(fs, (uint64_t)mid, fd, &err);
	if (!out->mnt)
		return err;
	out->type = u.fh.handle_type;
	out->len = (uint16_t)u.fh.handle_bytes;
	memcpy(out->bytes, u.fh.f_handle, out->len);
	return 0;
}

/*
 * open_by_handle_at as the daemon: a thread switched to a guest caller's
 * euid goes back to 0 for the call (see the header).  Retries once after
 * emptying the cache on EMFILE / ENFILE.
 */
static int open_handle(struct pt_fs *fs, int mount_fd, int32_t type,
		       const uint8_t *bytes, uint16_t len, int flags)
{
	union pt_fh_u u;
	uid_t euid;
	int fd, err;

	u.fh.handle_bytes = len;
	u.fh.handle_type = type;
	memcpy(u.fh.f_handle, bytes, len);
	euid = as_daemon(fs);
	if (euid == (uid_t)-1)
		return -errno;
	for (int tries = 0;; tries++) {
		fd = open_by_handle_at(mount_fd, &u.fh, flags | O_CLOEXEC);
		err = fd < 0 ? errno : 0;
		if (fd >= 0 || tries || (err != EMFILE && err != ENFILE) ||
		    !pt_fh_shrink(fs))
			break;
	}
	as_caller(euid);
	atomic_fetch_add(&fs->fh.opens, 1);
	return fd < 0 ? -err : fd;
}

/* Open a raw handle; see pt_internal.h. */
int pt_fh_open_raw(struct pt_fs *fs, int mount_fd, int32_t type,
		   const uint8_t *bytes, uint16_t len, int flags)
{
	if (!len || len > PT_FH_MAX)
		return -EINVAL;
	return open_handle(fs, mount_fd, type, bytes, len, flags);
}

/* Open in by its handle with flags. */
int pt_fh_open(struct pt_fs *fs, const struct pt_inode *in, int flags)
{
	return open_handle(fs, in->mnt->fd, in->fh_type, in->fh, in->fh_len,
			   flags);
}

/* Open the handle b with flags. */
int pt_fh_open_buf(struct pt_fs *fs, const struct pt_fh_buf *b, int flags)
{
	return open_handle(fs, b->mnt->fd, b->type, b->bytes, b->len, flags);
}

static void lru_unlink(struct pt_fs *fs, struct pt_inode *in)
{
	if (in->lru_prev)
		in->lru_prev->lru_next = in->lru_next;
	else
		fs->fh.head = in->lru_next;
	if (in->lru_next)
		in->lru_next->lru_prev = in->lru_prev;
	else
		fs->fh.tail = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
}

static void lru_push(struct pt_fs *fs, struct pt_inode *in)
{
	in->lru_prev = NULL;
	in->lru_next = fs->fh.head;
	if (fs->fh.head)
		fs->fh.head->lru_prev = in;
	else
		fs->fh.tail = in;
	fs->fh.head = in;
}

/* Close cached fds from the cold end until at most keep remain (those
 * borrowed are skipped).  lru_lock held.  Returns how many. */
static size_t evict_locked(struct pt_fs *fs, size_t keep)
{
	struct pt_inode *in = fs->fh.tail;
	size_t n = 0;

	while (in && fs->fh.n > keep) {
		struct pt_inode *prev = in->lru_prev;

		if (atomic_load(&in->fd_users) == 0) {
			lru_unlink(fs, in);
			close(in->fd);
			in->fd = -1;
			fs->fh.n--;
			n++;
		}
		in = prev;
	}
	if (n)
		atomic_fetch_add(&fs->fh.evictions, n);
	return n;
}

/* Put fd (taken over) in the cache as in's fd unless it has one; with
 * borrow, one borrower is added.  Returns the fd in the cache. */
static int cache_insert(struct pt_fs *fs, struct pt_inode *in, int fd,
			bool borrow)
{
	int spare = -1, ret;

	pthread_mutex_lock(&fs->fh.lru_lock);
	if (in->fd >= 0) {
		spare = fd;
		lru_unlink(fs, in);
	} else {
		in->fd = fd;
		fs->fh.n++;
	}
	lru_push(fs, in);
	if (borrow)
		atomic_fetch_add(&in->fd_users, 1);
	ret = in->fd;
	if (fs->fh.n > fs->fh.max)
		evict_locked(fs, fs->fh.max);
	pthread_mutex_unlock(&fs->fh.lru_lock);
	if (spare >= 0)
		close(spare);
	return ret;
}

/* Offer an fd of in to the cache; see pt_internal.h. */
void pt_fh_cache_offer(struct pt_fs *fs, struct pt_inode *in, int fd)
{
	if (!in->fh_len) {
		close(fd);
		return;
	}
	cache_insert(fs, in, fd, false);
}

/* Borrow in's O_PATH fd; see pt_internal.h. */
int pt_inode_fd_get(struct pt_fs *fs, struct pt_inode *in)
{
	int fd;

	if (!in->fh_len)
		return in->fd;
	pthread_mutex_lock(&fs->fh.lru_lock);
	fd = in->fd;
	if (fd >= 0) {
		atomic_fetch_add(&in->fd_users, 1);
		if (fs->fh.head != in) {
			lru_unlink(fs, in);
			lru_push(fs, in);
		}
	}
	pthread_mutex_unlock(&fs->fh.lru_lock);
	if (fd >= 0) {
		atomic_fetch_add(&fs->fh.hits, 1);
		return fd;
	}
	fd = pt_fh_open(fs, in, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	return cache_insert(fs, in, fd, true);
}

/* Give back a borrowed fd. */
void pt_inode_fd_put(struct pt_fs *fs, struct pt_inode *in, int fd)
{
	(void)fs;
	if (fd < 0 || !in->fh_len)
		return;
	atomic_fetch_sub(&in->fd_users, 1);
}

/* Drop in's cached fd (the inode is being freed). */
void pt_fh_inode_gone(struct pt_fs *fs, struct pt_inode *in)
{
	if (!in->fh_len)
		return;
	pthread_mutex_lock(&fs->fh.lru_lock);
	if (in->fd >= 0) {
		lru_unlink(fs, in);
		close(in->fd);
		in->fd = -1;
		fs->fh.n--;
	}
	pthread_mutex_unlock(&fs->fh.lru_lock);
}

/* Close every unused cached fd. */
size_t pt_fh_shrink(struct pt_fs *fs)
{
	size_t n;

	pthread_mutex_lock(&fs->fh.lru_lock);
	n = evict_locked(fs, 0);
	pthread_mutex_unlock(&fs->fh.lru_lock);
	if (n)
		LOG_DBG("passthrough: out of fds: closed %zu cached fds", n);
	return n;
}

/* Decide about handles once the capabilities are final. */
int pt_fh_setup(struct pt_fs *fs)
{
	enum pt_inode_file_handles mode = fs->cfg.inode_file_handles;
	struct pt_fh_buf b;
	struct stat st;
	int r, fd;

	if (mode == PT_FH_NEVER)
		return 0;
	r = pt_fh_make(fs, pt_root_fd(fs), fs->root->key.mnt_id, &b);
	if (!r) {
		/* The handle must open (CAP_DAC_READ_SEARCH) and lead back
		 * to the shared dir. */
		fd = open_handle(fs, b.mnt->fd, b.type, b.bytes, b.len,
				 O_PATH | O_DIRECTORY);
		if (fd < 0) {
			r = fd;
		} else {
			r = pt_stat_fd(fd, &st, NULL);
			if (!r && ((uint64_t)st.st_dev != fs->root->key.dev ||
				   (uint64_t)st.st_ino != fs->root->key.ino))
				r = -ESTALE;
			close(fd);
		}
	}
	if (r) {
		const char *why = r == -EPERM ? " (CAP_DAC_READ_SEARCH missing?)" :
			r == -EOPNOTSUPP ? " (the file system has none)" : "";

		if (mode == PT_FH_MANDATORY) {
			LOG_ERR("--inode-file-handles=mandatory: file handles do "
				"not work on %s: %s%s", fs->shared_dir,
				strerror(-r), why);
			return r;
		}
		LOG_INFO("--inode-file-handles=prefer: file handles do not "
			 "work on %s (%s%s): inodes are held by O_PATH fds",
			 fs->shared_dir, strerror(-r), why);
		return 0;
	}
	atomic_store(&fs->fh.on, true);
	LOG_INFO("inodes are held by file handles (O_PATH fd cache of %zu)",
		 fs->fh.max);
	return 0;
}

/* The file handle of in; see pt_internal.h. */
int pt_inode_handle(struct pt_fs *fs, struct pt_inode *in, uint8_t *buf,
		    int32_t *type)
{
	int fd, r;

	if (in->fh_len) {
		memcpy(buf, in->fh, in->fh_len);
		*type = in->fh_type;
		return in->fh_len;
	}
	fd = pt_inode_fd_get(fs, in);
	if (fd < 0)
		return fd;
	r = pt_fd_handle(fd, buf, type);
	pt_inode_fd_put(fs, in, fd);
	return r;
}
