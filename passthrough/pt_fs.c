/*
 * pt_fs.c - the passthrough file system object: creation and teardown,
 * configuration, INIT negotiation, DESTROY/reset, statistics and the op
 * tables handed to the session.
 *
 * Locking: struct pt_fs itself is immutable after pt_fs_new() except for
 * the atomics (counters, negotiated flags) and the tables, whose locks are
 * documented in pt_inode.c and pt_handle.c.
 *
 * Syscalls: open, close, umask, statx, prctl, setgroups.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fuse.h>
#include "pt_internal.h"
#include "pt_xattrmap.h"
#include "log.h"

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

/* What --posix-acl needs from the guest. */
#define PT_ACL_FLAGS \
	((uint64_t)FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT)

static double cache_timeout(enum pt_cache c)
{
	switch (c) {
	case PT_CACHE_NEVER:
		return 0.0;
	case PT_CACHE_ALWAYS:
	case PT_CACHE_METADATA:
		return 86400.0;
	case PT_CACHE_AUTO:
	default:
		return 1.0;
	}
}

/* Create the file system for cfg->shared_dir; see passthrough.h. */
struct pt_fs *pt_fs_new(const struct pt_config *cfg, int *err)
{
	struct pt_fs *fs;
	int fd, r;

	if (!cfg || !cfg->shared_dir) {
		*err = -EINVAL;
		return NULL;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		*err = -ENOMEM;
		return NULL;
	}
	fs->cfg = *cfg;
	fs->shared_dir = strdup(cfg->shared_dir);
	fs->proc_self_fd = -1;
	if (!fs->shared_dir) {
		free(fs);
		*err = -ENOMEM;
		return NULL;
	}
	fs->cfg.shared_dir = fs->shared_dir;
	if (fs->cfg.cache == PT_CACHE_NEVER)
		fs->cfg.readdirplus = false;
	fs->timeout = cache_timeout(fs->cfg.cache);
	if (fs->cfg.xattrmap || fs->cfg.posix_acl || fs->cfg.security_label)
		fs->cfg.xattr = true;
	r = pt_xattr_setup(fs);
	if (r) {
		free(fs->shared_dir);
		free(fs);
		*err = r;
		return NULL;
	}

	/* The guest's mode arrives with the guest's umask applied: the
	 * host umask must not mask it a second time. */
	umask(0);

	pthread_mutex_init(&fs->mig_lock, NULL);
	r = pt_locks_init(fs);
	if (r)
		goto fail_free;
	r = pt_invalid_init(fs);
	if (r)
		goto fail_locks;
	r = pt_itab_init(fs);
	if (r)
		goto fail_inval;
	r = pt_htable_init(fs);
	if (r)
		goto fail_itab;
	pt_fh_init(fs);
	fs->proc_self_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_self_fd < 0) {
		r = -errno;
		LOG_ERR("passthrough: cannot open /proc/self/fd: %s", strerror(-r));
		goto fail_htab;
	}
	fd = open(fs->shared_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		LOG_ERR("passthrough: cannot open shared dir %s: %s",
			fs->shared_dir, strerror(-r));
		goto fail_proc;
	}
	r = pt_inode_make_root(fs, fd);
	if (r) {
		LOG_ERR("passthrough: shared dir %s: %s", fs->shared_dir,
			strerror(-r));
		goto fail_proc;
	}
	r = pt_cred_setup(fs);
	if (r)
		goto fail_proc;
	pt_mig_cleanup_stale(fs);
	return fs;

fail_proc:
	close(fs->proc_self_fd);
	pt_fh_destroy(fs);
fail_htab:
	pt_htable_destroy(fs);
fail_itab:
	pt_itab_destroy(fs);
fail_inval:
	pt_invalid_destroy(fs);
fail_locks:
	pt_locks_destroy(fs);
fail_free:
	free(fs->xattr_cap_name);
	free(fs->shared_dir);
	free(fs);
	*err = r;
	return NULL;
}

/* Close every fd and free fs (no op may be running). */
void pt_fs_free(struct pt_fs *fs)
{
	if (!fs)
		return;
	pt_track_free(fs);
	pt_mig_free(fs);
	pt_locks_destroy(fs);
	pt_htable_destroy(fs);
	pt_itab_destroy(fs);
	pt_fh_destroy(fs);
	pt_invalid_destroy(fs);
	pthread_mutex_destroy(&fs->mig_lock);
	if (fs->proc_self_fd >= 0)
		close(fs->proc_self_fd);
	free(fs->xattr_cap_name);
	free(fs->shared_dir);
	free(fs);
}

/* Finish start-up once sandbox and capabilities are final. */
int pt_fs_start(struct pt_fs *fs)
{
	return pt_fh_setup(fs);
}

/* Fill *st with the live object counts of fs. */
void pt_fs_stats(struct pt_fs *fs, struct pt_stats *st)
{
	st->inodes = atomic_load(&fs->n_inodes);
	st->handles = atomic_load(&fs->n_handles);
}

/* INIT: choose the flags we want among those offered. */
static void pt_init_ext(void *userdata, struct fv_init *init)
{
	struct pt_fs *fs = userdata;
	uint64_t want = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS |
			FUSE_BIG_WRITES | FUSE_AUTO_INVAL_DATA |
			FUSE_ASYNC_DIO | FUSE_ATOMIC_O_TRUNC | FUSE_MAX_PAGES |
			FUSE_SUBMOUNTS | FUSE_HAS_IOCTL_DIR |
			FUSE_CREATE_SUPP_GROUP;

	if (fs->cfg.readdirplus)
		want |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
	if (fs->cfg.writeback)
		want |= FUSE_WRITEBACK_CACHE;
	if (fs->cfg.killpriv_v2)
		want |= FUSE_HANDLE_KILLPRIV_V2;
	if (fs->cfg.allow_mmap)
		want |= FUSE_DIRECT_IO_ALLOW_MMAP;
	/* Host locks need workers that may block in F_SETLKW (else they
	 * stay guest-local, as with the Rust daemon). */
	if (atomic_load(&fs->locks.max_waits) > 0) {
		if (!fs->cfg.no_posix_lock)
			want |= FUSE_POSIX_LOCKS;
		if (!fs->cfg.no_flock)
			want |= FUSE_FLOCK_LOCKS;
	}
	/* --posix-acl and --security-label are promises to the user: a
	 * guest that cannot keep them does not mount (as the Rust daemon). */
	if (fs->cfg.posix_acl) {
		if ((init->offered & PT_ACL_FLAGS) != PT_ACL_FLAGS) {
			LOG_ERR("passthrough: --posix-acl: the guest does not "
				"offer POSIX_ACL, DONT_MASK and SETXATTR_EXT; "
				"refusing INIT");
			init->error = -EPROTO;
			return;
		}
		want |= PT_ACL_FLAGS;
	}
	if (fs->cfg.security_label) {
		if (!(init->offered & FUSE_SECURITY_CTX)) {
			LOG_ERR("passthrough: --security-label: the guest does "
				"not offer SECURITY_CTX; refusing INIT");
			init->error = -EPROTO;
			return;
		}
		want |= FUSE_SECURITY_CTX;
	}
	init->want = init->offered & want;
	atomic_store(&fs->writeback, !!(init->want & FUSE_WRITEBACK_CACHE));
	atomic_store(&fs->supp_group, !!(init->want & FUSE_CREATE_SUPP_GROUP));
	atomic_store(&fs->killpriv_v2,
		     !!(init->want & FUSE_HANDLE_KILLPRIV_V2));
	atomic_store(&fs->locks.posix, !!(init->want & FUSE_POSIX_LOCKS));
	atomic_store(&fs->locks.flock, !!(init->want & FUSE_FLOCK_LOCKS));
	LOG_DBG("passthrough: INIT offered %#llx want %#llx",
		(unsigned long long)init->offered,
		(unsigned long long)init->want);
}

/* Forget all FUSE state but the root (RESET_DEVICE, DESTROY). */
static void pt_reset(void *userdata)
{
	struct pt_fs *fs = userdata;
	struct pt_stats st;

	pt_locks_clear(fs);
	pt_handle_release_all(fs);
	pt_inode_forget_all(fs);
	pt_invalid_clear(fs);
	atomic_store(&fs->writeback, false);
	atomic_store(&fs->supp_group, false);
	atomic_store(&fs->killpriv_v2, false);
	atomic_store(&fs->locks.posix, false);
	atomic_store(&fs->locks.flock, false);
	pt_fs_stats(fs, &st);
	LOG_DBG("passthrough: reset, %llu inodes and %llu handles left",
		(unsigned long long)st.inodes,
		(unsigned long long)st.handles);
}

static void pt_destroy(void *userdata)
{
	pt_reset(userdata);
}

static const struct fuse_lowlevel_ops pt_ops = {
	.destroy = pt_destroy,
	.lookup = pt_op_lookup,
	.forget = pt_op_forget,
	.forget_multi = pt_op_forget_multi,
	.getattr = pt_op_getattr,
	.setattr = pt_op_setattr,
	.readlink = pt_op_readlink,
	.mknod = pt_op_mknod,
	.mkdir = pt_op_mkdir,
	.unlink = pt_op_unlink,
	.rmdir = pt_op_rmdir,
	.symlink = pt_op_symlink,
	.rename = pt_op_rename,
	.link = pt_op_link,
	.open = pt_op_open,
	.read = pt_op_read,
	.write_buf = pt_op_write_buf,
	.flush = pt_op_flush,
	.release = pt_op_release,
	.fsync = pt_op_fsync,
	.opendir = pt_op_opendir,
	.readdir = pt_op_readdir,
	.readdirplus = pt_op_readdirplus,
	.releasedir = pt_op_releasedir,
	.fsyncdir = pt_op_fsyncdir,
	.statfs = pt_op_statfs,
	.setxattr = pt_op_setxattr,
	.getxattr = pt_op_getxattr,
	.listxattr = pt_op_listxattr,
	.removexattr = pt_op_removexattr,
	.access = pt_op_access,
	.create = pt_op_create,
	.getlk = pt_op_getlk,
	.setlk = pt_op_setlk,
	.flock = pt_op_flock,
	.ioctl = pt_op_ioctl,
	.poll = pt_op_poll,
	.fallocate = pt_op_fallocate,
	.copy_file_range = pt_op_copy_file_range,
	.lseek = pt_op_lseek,
};

static const struct fuse_virtio_ops pt_xops = {
	.init_ext = pt_init_ext,
	.syncfs = pt_op_syncfs,
	.tmpfile = pt_op_tmpfile,
	.reset = pt_reset,
};

/* The lowlevel ops table (userdata must be the struct pt_fs). */
const struct fuse_lowlevel_ops *pt_lowlevel_ops(void)
{
	return &pt_ops;
}

/* The virtio-fs extension ops table. */
const struct fuse_virtio_ops *pt_virtio_ops(void)
{
	return &pt_xops;
}
