/*
 * pt_mig_fh.c - --migration-mode=file-handles: describing an inode by its
 * file handle and mount, the mounts by a path relative to the shared dir,
 * and opening both on the destination.
 *
 * Source: an inode's record is {mount id, handle type, handle bytes}; no
 * path is looked for, so renames by third parties do not matter and an
 * unlinked-but-open file stays reachable as long as the source holds it
 * (until the migration completes).  Each mount id in the records gets
 * the path (relative to the shared dir) of the topmost directory of the
 * shared tree that is on that mount: found from the mount fd's /proc path
 * walked down from the shared dir, the first component on that mount.
 *
 * Destination: every mount path is opened beneath the shared dir
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, read-only: the fd is
 * open_by_handle_at's mount fd), then every handle with open_by_handle_at,
 * which needs CAP_DAC_READ_SEARCH: checked once up front.
 *
 * Locking: runs on the transfer thread with the rings stopped, as
 * pt_mig_save.c and pt_mig_load.c; no lock of its own.
 *
 * Syscalls: readlinkat, openat, openat2, statx, capget, close.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include "pt_internal.h"
#include "pt_mig_fh.h"
#include "pt_mig_index.h"
#include "log.h"

/* The record of inode in; see pt_mig_fh.h. */
int pt_migfh_record(struct pt_fs *fs, struct pt_inode *in, uint64_t *mnt_id,
		    uint8_t *buf)
{
	struct pt_fh_buf b;
	int fd, r;

	if (in->fh_len) {
		*mnt_id = in->mnt->mnt_id;
		b.type = in->fh_type;
		b.len = in->fh_len;
		memcpy(b.bytes, in->fh, in->fh_len);
	} else {
		fd = in->is_root ? pt_root_fd(fs) : pt_inode_fd_get(fs, in);
		if (fd < 0)
			return fd;
		r = pt_fh_make(fs, fd, in->key.mnt_id, &b);
		if (!in->is_root)
			pt_inode_fd_put(fs, in, fd);
		if (r)
			return r;
		*mnt_id = b.mnt->mnt_id;
	}
	buf[0] = (uint8_t)b.type;
	buf[1] = (uint8_t)((uint32_t)b.type >> 8);
	buf[2] = (uint8_t)((uint32_t)b.type >> 16);
	buf[3] = (uint8_t)((uint32_t)b.type >> 24);
	memcpy(buf + 4, b.bytes, b.len);
	return 4 + b.len;
}

/* The mount path of mnt_id; see pt_mig_fh.h. */
int pt_migfh_mount_path(struct pt_fs *fs, const char *root_path,
			size_t root_len, uint64_t mnt_id, char *out,
			size_t cap)
{
	char fdn[24], path[PATH_MAX], *p, *c;
	bool last;
	int mfd = pt_fh_mount_fd(fs, mnt_id), dfd, r;
	struct stat st;
	uint64_t mid;
	ssize_t n;
	size_t used = 0;

	if (mnt_id == fs->root->key.mnt_id) {
		out[0] = 0;
		return 0;
	}
	if (mfd < 0)
		return -ENOENT;
	pt_fdname(mfd, fdn, sizeof(fdn));
	n = readlinkat(fs->proc_self_fd, fdn, path, sizeof(path) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(path) - 1)
		return n < 0 ? -errno : -ENAMETOOLONG;
	path[n] = 0;
	p = pt_mig_below_root(path, (size_t)n, root_path, root_len);
	if (!p)
		return -EXDEV;   /* "(deleted)" or outside the shared dir */
	dfd = -1;
	r = -ENOENT;
	while ((c = pt_mig_path_next(&p, &last))) {
		int nfd;

		nfd = openat(dfd >= 0 ? dfd : pt_root_fd(fs), c,
			     O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			r = -errno;
			break;
		}
		if (dfd >= 0)
			close(dfd);
		dfd = nfd;
		if (used + strlen(c) + 2 > cap) {
			r = -ENAMETOOLONG;
			break;
		}
		used += (size_t)snprintf(out + used, cap - used, "%s%s",
					 used ? "/" : "", c);
		r = pt_stat_fd(dfd, &st, &mid);
		if (r)
			break;
		if (mid == mnt_id) {
			r = (int)used;
			break;
		}
		r = -ENOENT;
		if (last)
			break;
	}
	if (dfd >= 0)
		close(dfd);
	return r;
}

/* Check CAP_DAC_READ_SEARCH; see pt_mig_fh.h. */
int pt_migfh_check_cap(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	if (!(d[CAP_DAC_READ_SEARCH / 32].effective &
	      (1u << (CAP_DAC_READ_SEARCH % 32)))) {
		LOG_ERR("migration: the state describes inodes by file handles "
			"(--migration-mode=file-handles on the source); opening "
			"them needs CAP_DAC_READ_SEARCH here (run as root with "
			"--inode-file-handles=prefer|mandatory or "
			"--modcaps=+dac_read_search)");
		return -EPERM;
	}
	return 0;
}

/* Open a mount path beneath the shared dir; see pt_mig_fh.h. */
int pt_migfh_open_mount(struct pt_fs *fs, const char *path, uint16_t len)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW |
			 O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	char name[PATH_MAX];
	int fd;

	if (!len)
		strcpy(name, ".");
	else if (len >= sizeof(name) || memchr(path, 0, len))
		return -EINVAL;
	else {
		memcpy(name, path, len);
		name[len] = 0;
	}
	fd = (int)syscall(SYS_openat2, pt_root_fd(fs), name, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		return -EOPNOTSUPP;
	return fd < 0 ? -errno : fd;
}
