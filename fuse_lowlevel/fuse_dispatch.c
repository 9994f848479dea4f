/*
 * fuse_dispatch.c - decode the arguments of each FUSE opcode out of the
 * request buffers and call the file system (struct fuse_lowlevel_ops, or
 * struct fuse_virtio_ops for syncfs/tmpfile).
 *
 * Every fixed-size argument struct, name and small payload is copied once
 * into the worker's scratch (fuse_i.h) and only the copy is used: the guest
 * can change its memory while we look.  WRITE payloads stay in guest memory
 * (zero copy) and are handed over as a fuse_bufvec of memory buffers.
 *
 * Argument rules (violations are answered EINVAL unless noted):
 *  - the opcode's fixed struct must be complete: sizeof() of the 7.38
 *    struct, except INIT (16 bytes before 7.36, see fv_do_init) and
 *    SETXATTR (FUSE_COMPAT_SETXATTR_IN_SIZE unless FUSE_SETXATTR_EXT was
 *    negotiated); with minor >= 27 every other struct has its full size;
 *  - a name must be NUL-terminated inside the argument bytes, be at most
 *    PATH_MAX bytes with the NUL (else ENAMETOOLONG); names of directory
 *    entries must be non-empty and contain no '/' ("." and ".." are left
 *    to the file system, the kernel sends them for NFS export lookups);
 *  - bytes after the last argument are ignored, except where they are the
 *    security context of a 7.36/7.37 guest;
 *  - offsets that become off_t must be <= INT64_MAX;
 *  - WRITE: size <= the data bytes present and <= the negotiated
 *    max_write; SETXATTR value: size <= the bytes present, <= 64 KiB (E2BIG);
 *    IOCTL input <= 64 KiB; BATCH_FORGET count * 16 <= the bytes present;
 *  - READ/READDIR/READDIRPLUS sizes are lowered to what the reply buffers
 *    can hold (the fs is never asked for more than fits); IOCTL out_size
 *    likewise.
 * No locking here: a request is owned by its worker; the session's
 * negotiated flags are the snapshot taken by fuse_session_process().
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

#include "fuse_i.h"
#include "log.h"

_Static_assert(sizeof(struct fuse_forget_data) ==
		       sizeof(struct fuse_forget_one) &&
	       offsetof(struct fuse_forget_data, nlookup) ==
		       offsetof(struct fuse_forget_one, nlookup),
	       "fuse_forget_data must match fuse_forget_one");

typedef int (*fv_handler)(struct fuse_req *req, struct fv_rcur *c,
			  struct fv_rcur *ext);

#define OPS(req) (&(req)->se->op)
#define XOPS(req) (&(req)->se->xop)
#define UNIQ(req) ((unsigned long long)(req)->unique)

/* Copy the fixed argument struct. */
static int take(struct fuse_req *req, struct fv_rcur *c, void *dst,
		size_t size)
{
	if (fv_rcur_copy(c, dst, size) < 0) {
		LOG_DBG("fuse: %s unique %llu: argument truncated (%zu < %zu)",
			fv_opcode_name(req->opcode), UNIQ(req), c->left, size);
		return -EINVAL;
	}
	return 0;
}

/* Copy a NUL-terminated name into buf (FV_NAME_BUF bytes); component:
 * a directory entry name (non-empty, no '/'). */
static int take_name(struct fuse_req *req, struct fv_rcur *c, char *buf,
		     bool component)
{
	size_t n = fv_rcur_peek(c, buf, FV_NAME_BUF);
	const char *nul = memchr(buf, '\0', n);
	size_t len;

	if (!nul) {
		LOG_DBG("fuse: %s unique %llu: name not terminated",
			fv_opcode_name(req->opcode), UNIQ(req));
		return n == FV_NAME_BUF ? -ENAMETOOLONG : -EINVAL;
	}
	len = (size_t)(nul - buf);
	fv_rcur_skip(c, len + 1);
	if (component && (len == 0 || memchr(buf, '/', len))) {
		LOG_DBG("fuse: %s unique %llu: invalid name",
			fv_opcode_name(req->opcode), UNIQ(req));
		return -EINVAL;
	}
	return 0;
}

/* A u64 offset that becomes an off_t. */
static int check_off(struct fuse_req *req, uint64_t off)
{
	if (off > INT64_MAX) {
		LOG_DBG("fuse: %s unique %llu: offset out of range",
			fv_opcode_name(req->opcode), UNIQ(req));
		return -EINVAL;
	}
	return 0;
}

/* Reply payload room after the fuse_out_header. */
static size_t reply_room(const struct fuse_req *req)
{
	return req->in_cap - FV_OUT_HDR;
}

/* ---- request extensions ---- */

/* Parse a security context block (fuse_secctx_header, then nr_secctx
 * times {fuse_secctx, name, value} each padded to 8) of size bytes at p,
 * which lies in the worker's scratch. */
static int parse_secctx(struct fuse_req *req, const char *p, size_t size)
{
	struct fuse_secctx_header h;
	size_t pos = sizeof(h);

	if (size < sizeof(h))
		return -EINVAL;
	memcpy(&h, p, sizeof(h));
	if (h.nr_secctx > FUSE_MAX_NR_SECCTX)
		return -EINVAL;
	for (uint32_t i = 0; i < h.nr_secctx; i++) {
		struct fuse_secctx sc;
		const char *name, *nul;

		if (size - pos < sizeof(sc))
			return -EINVAL;
		memcpy(&sc, p + pos, sizeof(sc));
		pos += sizeof(sc);
		name = p + pos;
		nul = memchr(name, '\0', size - pos);
		if (!nul || nul == name)
			return -EINVAL;
		pos += (size_t)(nul - name) + 1;
		if (sc.size > size - pos)
			return -EINVAL;
		if (i == 0) {
			req->secctx_name = name;
			req->secctx_value = p + pos;
			req->secctx_size = sc.size;
			req->has_secctx = true;
		}
		pos += sc.size;
		pos = FUSE_REC_ALIGN(pos);
		if (pos > size)
			pos = size;
	}
	return 0;
}

/* Parse the extension area (in.total_extlen != 0): a sequence of
 * fuse_ext_header-led records. */
static int parse_ext_area(struct fuse_req *req, struct fv_rcur *ext)
{
	char *p = req->w->ext;
	size_t len = ext->left, pos = 0;
	int err;

	if (len > FV_EXT_BUF || fv_rcur_copy(ext, p, len) < 0)
		return -EINVAL;
	while (pos < len) {
		struct fuse_ext_header eh;

		if (len - pos < sizeof(eh))
			return -EINVAL;
		memcpy(&eh, p + pos, sizeof(eh));
		if (eh.size < sizeof(eh) || eh.size % 8 || eh.size > len - pos)
			return -EINVAL;
		if (eh.type <= FUSE_MAX_NR_SECCTX) {
			err = parse_secctx(req, p + pos, eh.size);
			if (err)
				return err;
		} else if (eh.type == FV_EXT_GROUPS) {
			uint32_t nr, gid;

			if (eh.size < sizeof(eh) + sizeof(nr))
				return -EINVAL;
			memcpy(&nr, p + pos + sizeof(eh), sizeof(nr));
			if (nr > (eh.size - sizeof(eh) - sizeof(nr)) / 4)
				return -EINVAL;
			if (nr) {
				memcpy(&gid, p + pos + sizeof(eh) + sizeof(nr),
				       sizeof(gid));
				req->supp_gid = gid;
				req->has_supp_gid = true;
			}
		} /* unknown extensions are skipped */
		pos += eh.size;
	}
	return 0;
}

/* Extensions of create/mkdir/mknod/symlink/tmpfile: the extension area,
 * or for 7.36/7.37 guests the security context right after the names. */
static int parse_create_ext(struct fuse_req *req, struct fv_rcur *c,
			    struct fv_rcur *ext)
{
	struct fuse_secctx_header h;
	int err = 0;

	if (ext->left)
		err = parse_ext_area(req, ext);
	else if (req->minor < 38 && (req->flags & FUSE_SECURITY_CTX) &&
		 c->left) {
		if (fv_rcur_peek(c, &h, sizeof(h)) < sizeof(h) ||
		    h.size < sizeof(h) || h.size > c->left ||
		    h.size > FV_EXT_BUF)
			err = -EINVAL;
		else {
			fv_rcur_copy(c, req->w->ext, h.size);
			err = parse_secctx(req, req->w->ext, h.size);
		}
	}
	if (err)
		LOG_DBG("fuse: %s unique %llu: malformed request extension",
			fv_opcode_name(req->opcode), UNIQ(req));
	return err;
}

/* ---- handlers ---- */

static int do_lookup(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	int err = take_name(req, c, req->w->name, true);

	(void)ext;
	if (err)
		return err;
	if (!OPS(req)->lookup)
		return -ENOSYS;
	OPS(req)->lookup(req, req->nodeid, req->w->name);
	return 0;
}

static int do_forget(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	struct fuse_forget_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if (OPS(req)->forget)
		OPS(req)->forget(req, req->nodeid, a.nlookup);
	else
		fuse_reply_none(req);
	return 0;
}

static int do_batch_forget(struct fuse_req *req, struct fv_rcur *c,
			   struct fv_rcur *ext)
{
	struct fuse_batch_forget_in a;
	struct fuse_forget_data *fd = (struct fuse_forget_data *)req->w->data;
	const size_t chunk = FV_DATA_BUF / sizeof(*fd);
	size_t left;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if ((uint64_t)a.count * sizeof(struct fuse_forget_one) > c->left) {
		LOG_DBG("fuse: BATCH_FORGET unique %llu: count %u beyond "
			"the request", UNIQ(req), a.count);
		return -EINVAL;
	}
	for (left = a.count; left;) {
		size_t n = left < chunk ? left : chunk;

		fv_rcur_copy(c, fd, n * sizeof(*fd));
		if (OPS(req)->forget_multi) {
			req->replied = false;
			OPS(req)->forget_multi(req, n, fd);
		} else if (OPS(req)->forget) {
			for (size_t i = 0; i < n; i++) {
				req->replied = false;
				OPS(req)->forget(req, fd[i].ino, fd[i].nlookup);
			}
		}
		left -= n;
	}
	req->replied = true;
	return 0;
}

static int do_getattr(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	struct fuse_getattr_in a;
	struct fuse_file_info fi, *pfi = NULL;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if (a.getattr_flags & FUSE_GETATTR_FH) {
		memset(&fi, 0, sizeof(fi));
		fi.fh = a.fh;
		pfi = &fi;
	}
	if (!OPS(req)->getattr)
		return -ENOSYS;
	OPS(req)->getattr(req, req->nodeid, pfi);
	return 0;
}

static int do_setattr(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	static const struct {
		uint32_t fattr;
		int set;
	} map[] = {
		{ FATTR_MODE, FUSE_SET_ATTR_MODE },
		{ FATTR_UID, FUSE_SET_ATTR_UID },
		{ FATTR_GID, FUSE_SET_ATTR_GID },
		{ FATTR_SIZE, FUSE_SET_ATTR_SIZE },
		{ FATTR_ATIME, FUSE_SET_ATTR_ATIME },
		{ FATTR_MTIME, FUSE_SET_ATTR_MTIME },
		{ FATTR_ATIME_NOW, FUSE_SET_ATTR_ATIME_NOW },
		{ FATTR_MTIME_NOW, FUSE_SET_ATTR_MTIME_NOW },
		{ FATTR_CTIME, FUSE_SET_ATTR_CTIME },
		{ FATTR_KILL_SUIDGID,
		  FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID },
	};
	struct fuse_setattr_in a;
	struct fuse_file_info fi, *pfi = NULL;
	struct stat st;
	int to_set = 0;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if ((a.valid & FATTR_SIZE) && (err = check_off(req, a.size)))
		return err;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (a.valid & map[i].fattr)
			to_set |= map[i].set;
	memset(&st, 0, sizeof(st));
	st.st_mode = a.mode;
	st.st_uid = a.uid;
	st.st_gid = a.gid;
	st.st_size = (off_t)a.size;
	st.st_atim.tv_sec = (time_t)a.atime;
	st.st_atim.tv_nsec = a.atimensec;
	st.st_mtim.tv_sec = (time_t)a.mtime;
	st.st_mtim.tv_nsec = a.mtimensec;
	st.st_ctim.tv_sec = (time_t)a.ctime;
	st.st_ctim.tv_nsec = a.ctimensec;
	if (a.valid & FATTR_FH) {
		memset(&fi, 0, sizeof(fi));
		fi.fh = a.fh;
		if (a.valid & FATTR_LOCKOWNER)
			fi.lock_owner = a.lock_owner;
		pfi = &fi;
	}
	if (!OPS(req)->setattr)
		return -ENOSYS;
	OPS(req)->setattr(req, req->nodeid, &st, to_set, pfi);
	return 0;
}

static int do_readlink(struct fuse_req *req, struct fv_rcur *c,
		       struct fv_rcur *ext)
{
	(void)c;
	(void)ext;
	if (!OPS(req)->readlink)
		return -ENOSYS;
	OPS(req)->readlink(req, req->nodeid);
	return 0;
}

static int do_symlink(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	int err = take_name(req, c, req->w->name, true);

	if (!err)
		err = take_name(req, c, req->w->name2, false);
	if (!err)
		err = parse_create_ext(req, c, ext);
	if (err)
		return err;
	if (!OPS(req)->symlink)
		return -ENOSYS;
	OPS(req)->symlink(req, req->w->name2, req->nodeid, req->w->name);
	return 0;
}

static int do_mknod(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	struct fuse_mknod_in a;
	int err = take(req, c, &a, sizeof(a));

	if (!err)
		err = take_name(req, c, req->w->name, true);
	if (!err)
		err = parse_create_ext(req, c, ext);
	if (err)
		return err;
	req->ctx.umask = a.umask;
	if (!OPS(req)->mknod)
		return -ENOSYS;
	OPS(req)->mknod(req, req->nodeid, req->w->name, a.mode, a.rdev);
	return 0;
}

static int do_mkdir(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	struct fuse_mkdir_in a;
	int err = take(req, c, &a, sizeof(a));

	if (!err)
		err = take_name(req, c, req->w->name, true);
	if (!err)
		err = parse_create_ext(req, c, ext);
	if (err)
		return err;
	req->ctx.umask = a.umask;
	if (!OPS(req)->mkdir)
		return -ENOSYS;
	OPS(req)->mkdir(req, req->nodeid, req->w->name, a.mode);
	return 0;
}

static int do_unlink(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	int err = take_name(req, c, req->w->name, true);

	(void)ext;
	if (err)
		return err;
	if (!OPS(req)->unlink)
		return -ENOSYS;
	OPS(req)->unlink(req, req->nodeid, req->w->name);
	return 0;
}

static int do_rmdir(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	int err = take_name(req, c, req->w->name, true);

	(void)ext;
	if (err)
		return err;
	if (!OPS(req)->rmdir)
		return -ENOSYS;
	OPS(req)->rmdir(req, req->nodeid, req->w->name);
	return 0;
}

/* RENAME and RENAME2 after their fixed struct. */
static int rename_common(struct fuse_req *req, struct fv_rcur *c,
			 uint64_t newdir, unsigned flags)
{
	int err = take_name(req, c, req->w->name, true);

	if (!err)
		err = take_name(req, c, req->w->name2, true);
	if (err)
		return err;
	if (!OPS(req)->rename)
		return -ENOSYS;
	OPS(req)->rename(req, req->nodeid, req->w->name, newdir,
			 req->w->name2, flags);
	return 0;
}

static int do_rename(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	struct fuse_rename_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	return err ? err : rename_common(req, c, a.newdir, 0);
}

static int do_rename2(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	struct fuse_rename2_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	return err ? err : rename_common(req, c, a.newdir, a.flags);
}

static int do_link(struct fuse_req *req, struct fv_rcur *c,
		   struct fv_rcur *ext)
{
	struct fuse_link_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (!err)
		err = take_name(req, c, req->w->name, true);
	if (err)
		return err;
	if (!OPS(req)->link)
		return -ENOSYS;
	OPS(req)->link(req, a.oldnodeid, req->nodeid, req->w->name);
	return 0;
}

static int do_open(struct fuse_req *req, struct fv_rcur *c,
		   struct fv_rcur *ext)
{
	struct fuse_open_in a;
	struct fuse_file_info fi;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.flags = (int)a.flags;
	req->kill_priv = a.open_flags & FUSE_OPEN_KILL_SUIDGID;
	if (OPS(req)->open)
		OPS(req)->open(req, req->nodeid, &fi);
	else
		fuse_reply_open(req, &fi);
	return 0;
}

static int do_read(struct fuse_req *req, struct fv_rcur *c,
		   struct fv_rcur *ext)
{
	struct fuse_read_in a;
	struct fuse_file_info fi;
	size_t size;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err || (err = check_off(req, a.offset)))
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	fi.flags = (int)a.flags;
	if (a.read_flags & FUSE_READ_LOCKOWNER)
		fi.lock_owner = a.lock_owner;
	size = a.size < reply_room(req) ? a.size : reply_room(req);
	if (!OPS(req)->read)
		return -ENOSYS;
	OPS(req)->read(req, req->nodeid, size, (off_t)a.offset, &fi);
	return 0;
}

static int do_write(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	struct fuse_worker *w = req->w;
	struct fuse_write_in a;
	struct fuse_file_info fi;
	uint32_t max_write;
	int nb, err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err || (err = check_off(req, a.offset)))
		return err;
	max_write = atomic_load_explicit(&req->se->max_write,
					 memory_order_relaxed);
	if (a.size > c->left || a.size > max_write) {
		LOG_DBG("fuse: WRITE unique %llu: size %u (data %zu, "
			"max_write %u)", UNIQ(req), a.size, c->left, max_write);
		return -EINVAL;
	}
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	fi.flags = (int)a.flags;
	fi.writepage = !!(a.write_flags & FUSE_WRITE_CACHE);
	if (a.write_flags & FUSE_WRITE_LOCKOWNER)
		fi.lock_owner = a.lock_owner;
	req->kill_priv = a.write_flags & FUSE_WRITE_KILL_SUIDGID;

	if (OPS(req)->write_buf) {
		nb = fv_rcur_bufs(c, a.size, w->bufv->buf, FV_MAX_IOV);
		if (nb < 0)
			return -EINVAL;
		if (nb == 0) {
			memset(&w->bufv->buf[0], 0, sizeof(w->bufv->buf[0]));
			w->bufv->buf[0].mem = w->data;
			w->bufv->buf[0].fd = -1;
			nb = 1;
		}
		w->bufv->count = (size_t)nb;
		w->bufv->idx = 0;
		w->bufv->off = 0;
		OPS(req)->write_buf(req, req->nodeid, w->bufv,
				    (off_t)a.offset, &fi);
		return 0;
	}
	if (!OPS(req)->write)
		return -ENOSYS;
	{
		struct fv_rcur peek = *c;

		nb = fv_rcur_bufs(&peek, a.size, w->bufv->buf, 1);
	}
	if (nb == 1) {
		/* One contiguous piece: hand out guest memory directly. */
		OPS(req)->write(req, req->nodeid, w->bufv->buf[0].mem, a.size,
				(off_t)a.offset, &fi);
	} else {
		if (!w->wbuf || fv_rcur_copy(c, w->wbuf, a.size) < 0)
			return -EIO;
		OPS(req)->write(req, req->nodeid, w->wbuf, a.size,
				(off_t)a.offset, &fi);
	}
	return 0;
}

static int do_statfs(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	(void)c;
	(void)ext;
	if (OPS(req)->statfs) {
		OPS(req)->statfs(req, req->nodeid);
	} else {
		struct statvfs sv;

		memset(&sv, 0, sizeof(sv));
		sv.f_namemax = 255;
		sv.f_bsize = 512;
		fuse_reply_statfs(req, &sv);
	}
	return 0;
}

static int do_release(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	struct fuse_release_in a;
	struct fuse_file_info fi;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.flags = (int)a.flags;
	fi.fh = a.fh;
	fi.flush = !!(a.release_flags & FUSE_RELEASE_FLUSH);
	fi.flock_release = !!(a.release_flags & FUSE_RELEASE_FLOCK_UNLOCK);
	fi.lock_owner = a.lock_owner;
	if (req->opcode == FUSE_RELEASEDIR) {
		if (OPS(req)->releasedir)
			OPS(req)->releasedir(req, req->nodeid, &fi);
		else
			fuse_reply_err(req, 0);
	} else {
		if (OPS(req)->release)
			OPS(req)->release(req, req->nodeid, &fi);
		else
			fuse_reply_err(req, 0);
	}
	return 0;
}

static int do_fsync(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	struct fuse_fsync_in a;
	struct fuse_file_info fi;
	int datasync, err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	datasync = !!(a.fsync_flags & FUSE_FSYNC_FDATASYNC);
	if (req->opcode == FUSE_FSYNCDIR) {
		if (!OPS(req)->fsyncdir)
			return -ENOSYS;
		OPS(req)->fsyncdir(req, req->nodeid, datasync, &fi);
	} else {
		if (!OPS(req)->fsync)
			return -ENOSYS;
		OPS(req)->fsync(req, req->nodeid, datasync, &fi);
	}
	return 0;
}

static int do_setxattr(struct fuse_req *req, struct fv_rcur *c,
		       struct fv_rcur *ext)
{
	struct fuse_setxattr_in a;
	size_t asize = (req->flags & FUSE_SETXATTR_EXT) ?
		       sizeof(a) : FUSE_COMPAT_SETXATTR_IN_SIZE;
	int err;

	(void)ext;
	memset(&a, 0, sizeof(a));
	err = take(req, c, &a, asize);
	if (!err)
		err = take_name(req, c, req->w->name, false);
	if (err)
		return err;
	if (a.size > FV_DATA_BUF)
		return -E2BIG;
	if (fv_rcur_copy(c, req->w->data, a.size) < 0) {
		LOG_DBG("fuse: SETXATTR unique %llu: value truncated",
			UNIQ(req));
		return -EINVAL;
	}
	req->kill_priv = a.setxattr_flags & FUSE_SETXATTR_ACL_KILL_SGID;
	if (!OPS(req)->setxattr)
		return -ENOSYS;
	OPS(req)->setxattr(req, req->nodeid, req->w->name, req->w->data,
			   a.size, (int)a.flags);
	return 0;
}

static int do_getxattr(struct fuse_req *req, struct fv_rcur *c,
		       struct fv_rcur *ext)
{
	struct fuse_getxattr_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (!err)
		err = take_name(req, c, req->w->name, false);
	if (err)
		return err;
	req->overflow_err = ERANGE;
	if (!OPS(req)->getxattr)
		return -ENOSYS;
	OPS(req)->getxattr(req, req->nodeid, req->w->name, a.size);
	return 0;
}

static int do_listxattr(struct fuse_req *req, struct fv_rcur *c,
			struct fv_rcur *ext)
{
	struct fuse_getxattr_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	req->overflow_err = ERANGE;
	if (!OPS(req)->listxattr)
		return -ENOSYS;
	OPS(req)->listxattr(req, req->nodeid, a.size);
	return 0;
}

static int do_removexattr(struct fuse_req *req, struct fv_rcur *c,
			  struct fv_rcur *ext)
{
	int err = take_name(req, c, req->w->name, false);

	(void)ext;
	if (err)
		return err;
	if (!OPS(req)->removexattr)
		return -ENOSYS;
	OPS(req)->removexattr(req, req->nodeid, req->w->name);
	return 0;
}

static int do_flush(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	struct fuse_flush_in a;
	struct fuse_file_info fi;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	fi.flush = 1;
	fi.lock_owner = a.lock_owner;
	if (!OPS(req)->flush)
		return -ENOSYS;
	OPS(req)->flush(req, req->nodeid, &fi);
	return 0;
}

static int do_opendir(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	struct fuse_open_in a;
	struct fuse_file_info fi;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.flags = (int)a.flags;
	if (OPS(req)->opendir)
		OPS(req)->opendir(req, req->nodeid, &fi);
	else
		fuse_reply_open(req, &fi);
	return 0;
}

/* READDIR and READDIRPLUS. */
static int do_readdir(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	struct fuse_read_in a;
	struct fuse_file_info fi;
	size_t size;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	size = a.size < reply_room(req) ? a.size : reply_room(req);
	if (req->opcode == FUSE_READDIRPLUS) {
		if (!OPS(req)->readdirplus)
			return -ENOSYS;
		OPS(req)->readdirplus(req, req->nodeid, size, (off_t)a.offset,
				      &fi);
	} else {
		if (!OPS(req)->readdir)
			return -ENOSYS;
		OPS(req)->readdir(req, req->nodeid, size, (off_t)a.offset, &fi);
	}
	return 0;
}

/* fuse_file_lock (inclusive end, OFFSET_MAX = to EOF) -> struct flock. */
static int lock_to_flock(struct fuse_req *req, const struct fuse_file_lock *l,
			 struct flock *f)
{
	memset(f, 0, sizeof(*f));
	if ((l->type != F_RDLCK && l->type != F_WRLCK && l->type != F_UNLCK) ||
	    l->start > FV_OFFSET_MAX ||
	    (l->end < l->start && l->type != F_UNLCK)) {
		LOG_DBG("fuse: %s unique %llu: invalid lock",
			fv_opcode_name(req->opcode), UNIQ(req));
		return -EINVAL;
	}
	f->l_type = (short)l->type;
	f->l_whence = SEEK_SET;
	f->l_start = (off_t)l->start;
	if (l->end >= FV_OFFSET_MAX || l->end < l->start)
		f->l_len = 0;
	else
		f->l_len = (off_t)(l->end - l->start + 1);
	f->l_pid = (pid_t)l->pid;
	return 0;
}

/* GETLK, SETLK, SETLKW. */
static int do_lk(struct fuse_req *req, struct fv_rcur *c, struct fv_rcur *ext)
{
	struct fuse_lk_in a;
	struct fuse_file_info fi;
	struct flock fl;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	fi.lock_owner = a.owner;
	if (req->opcode != FUSE_GETLK && (a.lk_flags & FUSE_LK_FLOCK)) {
		int op;

		switch (a.lk.type) {
		case F_RDLCK:
			op = LOCK_SH;
			break;
		case F_WRLCK:
			op = LOCK_EX;
			break;
		case F_UNLCK:
			op = LOCK_UN;
			break;
		default:
			return -EINVAL;
		}
		if (req->opcode == FUSE_SETLK)
			op |= LOCK_NB;
		if (!OPS(req)->flock)
			return -ENOSYS;
		OPS(req)->flock(req, req->nodeid, &fi, op);
		return 0;
	}
	err = lock_to_flock(req, &a.lk, &fl);
	if (err)
		return err;
	if (req->opcode == FUSE_GETLK) {
		if (!OPS(req)->getlk)
			return -ENOSYS;
		OPS(req)->getlk(req, req->nodeid, &fi, &fl);
	} else {
		if (!OPS(req)->setlk)
			return -ENOSYS;
		OPS(req)->setlk(req, req->nodeid, &fi, &fl,
				req->opcode == FUSE_SETLKW);
	}
	return 0;
}

static int do_access(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	struct fuse_access_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if (!OPS(req)->access)
		return -ENOSYS;
	OPS(req)->access(req, req->nodeid, (int)a.mask);
	return 0;
}

/* CREATE and TMPFILE. */
static int do_create(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	struct fuse_create_in a;
	struct fuse_file_info fi;
	bool tmp = req->opcode == FUSE_TMPFILE;
	int err = take(req, c, &a, sizeof(a));

	if (err)
		return err;
	/* TMPFILE carries the dentry name "/" (ignored); tolerate none. */
	if (!tmp || c->left)
		err = take_name(req, c, req->w->name, !tmp);
	if (!err)
		err = parse_create_ext(req, c, ext);
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.flags = (int)a.flags;
	req->ctx.umask = a.umask;
	req->kill_priv = a.open_flags & FUSE_OPEN_KILL_SUIDGID;
	if (tmp) {
		if (!XOPS(req)->tmpfile)
			return -ENOSYS;
		XOPS(req)->tmpfile(req, req->nodeid, a.mode, &fi);
	} else {
		if (!OPS(req)->create)
			return -ENOSYS;
		OPS(req)->create(req, req->nodeid, req->w->name, a.mode, &fi);
	}
	return 0;
}

static int do_interrupt(struct fuse_req *req, struct fv_rcur *c,
			struct fv_rcur *ext)
{
	struct fuse_interrupt_in a;

	(void)ext;
	/* Requests are answered synchronously: nothing to interrupt. */
	if (take(req, c, &a, sizeof(a)))
		return -EINVAL;
	LOG_DBG("fuse: INTERRUPT of unique %llu ignored",
		(unsigned long long)a.unique);
	return 0;
}

static int do_bmap(struct fuse_req *req, struct fv_rcur *c,
		   struct fv_rcur *ext)
{
	struct fuse_bmap_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if (!OPS(req)->bmap)
		return -ENOSYS;
	OPS(req)->bmap(req, req->nodeid, a.blocksize, a.block);
	return 0;
}

static int do_ioctl(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	struct fuse_ioctl_in a;
	struct fuse_file_info fi;
	size_t room, out_size;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if ((a.flags & FUSE_IOCTL_DIR) && !(req->flags & FUSE_HAS_IOCTL_DIR))
		return -ENOTTY;
	if (a.in_size > FV_DATA_BUF ||
	    fv_rcur_copy(c, req->w->data, a.in_size) < 0) {
		LOG_DBG("fuse: IOCTL unique %llu: bad in_size %u", UNIQ(req),
			a.in_size);
		return -EINVAL;
	}
	room = reply_room(req) > sizeof(struct fuse_ioctl_out) ?
	       reply_room(req) - sizeof(struct fuse_ioctl_out) : 0;
	out_size = a.out_size < room ? a.out_size : room;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	if (!OPS(req)->ioctl)
		return -ENOSYS;
	OPS(req)->ioctl(req, req->nodeid, a.cmd, (void *)(uintptr_t)a.arg, &fi,
			a.flags, a.in_size ? req->w->data : NULL, a.in_size,
			out_size);
	return 0;
}

static int do_poll(struct fuse_req *req, struct fv_rcur *c,
		   struct fv_rcur *ext)
{
	struct fuse_poll_in a;
	struct fuse_file_info fi;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	fi.poll_events = a.events;
	if (!OPS(req)->poll)
		return -ENOSYS;
	/* No poll handle: virtio-fs has no notifications. */
	OPS(req)->poll(req, req->nodeid, &fi, NULL);
	return 0;
}

static int do_fallocate(struct fuse_req *req, struct fv_rcur *c,
			struct fv_rcur *ext)
{
	struct fuse_fallocate_in a;
	struct fuse_file_info fi;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err || (err = check_off(req, a.offset)) ||
	    (err = check_off(req, a.length)))
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	if (!OPS(req)->fallocate)
		return -ENOSYS;
	OPS(req)->fallocate(req, req->nodeid, (int)a.mode, (off_t)a.offset,
			    (off_t)a.length, &fi);
	return 0;
}

static int do_lseek(struct fuse_req *req, struct fv_rcur *c,
		    struct fv_rcur *ext)
{
	struct fuse_lseek_in a;
	struct fuse_file_info fi;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	memset(&fi, 0, sizeof(fi));
	fi.fh = a.fh;
	if (!OPS(req)->lseek)
		return -ENOSYS;
	OPS(req)->lseek(req, req->nodeid, (off_t)a.offset, (int)a.whence, &fi);
	return 0;
}

static int do_copy_file_range(struct fuse_req *req, struct fv_rcur *c,
			      struct fv_rcur *ext)
{
	struct fuse_copy_file_range_in a;
	struct fuse_file_info fi_in, fi_out;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err || (err = check_off(req, a.off_in)) ||
	    (err = check_off(req, a.off_out)))
		return err;
	if (a.flags > INT_MAX || a.len > SIZE_MAX)
		return -EINVAL;
	memset(&fi_in, 0, sizeof(fi_in));
	memset(&fi_out, 0, sizeof(fi_out));
	fi_in.fh = a.fh_in;
	fi_out.fh = a.fh_out;
	if (!OPS(req)->copy_file_range)
		return -ENOSYS;
	OPS(req)->copy_file_range(req, req->nodeid, (off_t)a.off_in, &fi_in,
				  a.nodeid_out, (off_t)a.off_out, &fi_out,
				  (size_t)a.len, (int)a.flags);
	return 0;
}

static int do_syncfs(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	struct fuse_syncfs_in a;
	int err = take(req, c, &a, sizeof(a));

	(void)ext;
	if (err)
		return err;
	if (!XOPS(req)->syncfs)
		return -ENOSYS;
	XOPS(req)->syncfs(req, req->nodeid);
	return 0;
}

static int do_init(struct fuse_req *req, struct fv_rcur *c,
		   struct fv_rcur *ext)
{
	(void)ext;
	return fv_do_init(req, c);
}

static int do_destroy(struct fuse_req *req, struct fv_rcur *c,
		      struct fv_rcur *ext)
{
	(void)ext;
	return fv_do_destroy(req, c);
}

static int do_notify_reply(struct fuse_req *req, struct fv_rcur *c,
			   struct fv_rcur *ext)
{
	(void)c;
	(void)ext;
	/* We never send FUSE_NOTIFY_RETRIEVE: nothing to match it with. */
	LOG_DBG("fuse: unexpected NOTIFY_REPLY unique %llu", UNIQ(req));
	return 0;
}

static int do_enosys(struct fuse_req *req, struct fv_rcur *c,
		     struct fv_rcur *ext)
{
	(void)req;
	(void)c;
	(void)ext;
	return -ENOSYS;
}

static const struct {
	fv_handler fn;
	const char *name;
	bool noreply;
} fv_optab[] = {
	[FUSE_LOOKUP] = { do_lookup, "LOOKUP", false },
	[FUSE_FORGET] = { do_forget, "FORGET", true },
	[FUSE_GETATTR] = { do_getattr, "GETATTR", false },
	[FUSE_SETATTR] = { do_setattr, "SETATTR", false },
	[FUSE_READLINK] = { do_readlink, "READLINK", false },
	[FUSE_SYMLINK] = { do_symlink, "SYMLINK", false },
	[FUSE_MKNOD] = { do_mknod, "MKNOD", false },
	[FUSE_MKDIR] = { do_mkdir, "MKDIR", false },
	[FUSE_UNLINK] = { do_unlink, "UNLINK", false },
	[FUSE_RMDIR] = { do_rmdir, "RMDIR", false },
	[FUSE_RENAME] = { do_rename, "RENAME", false },
	[FUSE_LINK] = { do_link, "LINK", false },
	[FUSE_OPEN] = { do_open, "OPEN", false },
	[FUSE_READ] = { do_read, "READ", false },
	[FUSE_WRITE] = { do_write, "WRITE", false },
	[FUSE_STATFS] = { do_statfs, "STATFS", false },
	[FUSE_RELEASE] = { do_release, "RELEASE", false },
	[FUSE_FSYNC] = { do_fsync, "FSYNC", false },
	[FUSE_SETXATTR] = { do_setxattr, "SETXATTR", false },
	[FUSE_GETXATTR] = { do_getxattr, "GETXATTR", false },
	[FUSE_LISTXATTR] = { do_listxattr, "LISTXATTR", false },
	[FUSE_REMOVEXATTR] = { do_removexattr, "REMOVEXATTR", false },
	[FUSE_FLUSH] = { do_flush, "FLUSH", false },
	[FUSE_INIT] = { do_init, "INIT", false },
	[FUSE_OPENDIR] = { do_opendir, "OPENDIR", false },
	[FUSE_READDIR] = { do_readdir, "READDIR", false },
	[FUSE_RELEASEDIR] = { do_release, "RELEASEDIR", false },
	[FUSE_FSYNCDIR] = { do_fsync, "FSYNCDIR", false },
	[FUSE_GETLK] = { do_lk, "GETLK", false },
	[FUSE_SETLK] = { do_lk, "SETLK", false },
	[FUSE_SETLKW] = { do_lk, "SETLKW", false },
	[FUSE_ACCESS] = { do_access, "ACCESS", false },
	[FUSE_CREATE] = { do_create, "CREATE", false },
	[FUSE_INTERRUPT] = { do_interrupt, "INTERRUPT", true },
	[FUSE_BMAP] = { do_bmap, "BMAP", false },
	[FUSE_DESTROY] = { do_destroy, "DESTROY", false },
	[FUSE_IOCTL] = { do_ioctl, "IOCTL", false },
	[FUSE_POLL] = { do_poll, "POLL", false },
	[FUSE_NOTIFY_REPLY] = { do_notify_reply, "NOTIFY_REPLY", true },
	[FUSE_BATCH_FORGET] = { do_batch_forget, "BATCH_FORGET", true },
	[FUSE_FALLOCATE] = { do_fallocate, "FALLOCATE", false },
	[FUSE_READDIRPLUS] = { do_readdir, "READDIRPLUS", false },
	[FUSE_RENAME2] = { do_rename2, "RENAME2", false },
	[FUSE_LSEEK] = { do_lseek, "LSEEK", false },
	[FUSE_COPY_FILE_RANGE] = { do_copy_file_range, "COPY_FILE_RANGE",
				   false },
	[FUSE_SETUPMAPPING] = { do_enosys, "SETUPMAPPING", false },
	[FUSE_REMOVEMAPPING] = { do_enosys, "REMOVEMAPPING", false },
	[FUSE_SYNCFS] = { do_syncfs, "SYNCFS", false },
	[FUSE_TMPFILE] = { do_create, "TMPFILE", false },
};

#define FV_NOPS (sizeof(fv_optab) / sizeof(fv_optab[0]))

/* True if opcode is answered without a reply (FORGET, BATCH_FORGET,
 * INTERRUPT, NOTIFY_REPLY). */
bool fv_opcode_noreply(uint32_t opcode)
{
	return opcode < FV_NOPS && fv_optab[opcode].noreply;
}

/* Name of opcode for logs ("UNKNOWN" for opcodes we do not know). */
const char *fv_opcode_name(uint32_t opcode)
{
	if (opcode < FV_NOPS && fv_optab[opcode].name)
		return fv_optab[opcode].name;
	return "UNKNOWN";
}

/* Decode and dispatch one request; unknown opcodes get -ENOSYS.
 * Returns 0 when answered, or a negative errno to answer. */
int fv_dispatch(struct fuse_req *req, struct fv_rcur *c, struct fv_rcur *ext)
{
	if (req->opcode >= FV_NOPS || !fv_optab[req->opcode].fn) {
		LOG_DBG("fuse: unknown opcode %u (unique %llu)", req->opcode,
			UNIQ(req));
		return -ENOSYS;
	}
	LOG_TRACE("fuse: %s unique %llu nodeid %llu",
		  fv_optab[req->opcode].name, UNIQ(req),
		  (unsigned long long)req->nodeid);
	return fv_optab[req->opcode].fn(req, c, ext);
}
