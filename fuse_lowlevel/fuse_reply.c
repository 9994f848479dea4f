/*
 * fuse_reply.c - the fuse_reply_* family of libfuse's lowlevel API and the
 * directory entry packers, writing into the request's reply buffers (the
 * device-writable iovecs of the element, possibly split anywhere).
 *
 * Rules:
 *  - a request is answered once; a second reply is an fs bug: logged,
 *    ignored, -EINVAL returned;
 *  - nothing is written past the reply buffers: a reply that does not fit
 *    becomes an error reply (ERANGE for GETXATTR/LISTXATTR, EIO otherwise)
 *    and the reply function returns -EOVERFLOW;  fuse_reply_data() is the
 *    exception: it is the READ reply and stops where the buffers end (a
 *    short read);
 *  - replies to requests that take none (FORGET, ...) are swallowed.
 * No locking: a request is owned by its worker thread.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fuse_i.h"
#include "log.h"

/* Write the header and the payload pieces; the caller checked they fit. */
static void put_reply(struct fuse_req *req, int error,
		      const struct iovec *iov, int count, size_t payload)
{
	struct fuse_out_header oh;
	size_t off = FV_OUT_HDR;

	oh.len = (uint32_t)(FV_OUT_HDR + payload);
	oh.error = error;
	oh.unique = req->unique;
	fv_iov_write(req->in, req->in_num, 0, &oh, sizeof(oh));
	for (int i = 0; i < count; i++) {
		fv_iov_write(req->in, req->in_num, off, iov[i].iov_base,
			     iov[i].iov_len);
		off += iov[i].iov_len;
	}
	req->written = FV_OUT_HDR + payload;
}

/* Claim the right to reply; false if the request was answered already or
 * takes no reply. */
static bool claim(struct fuse_req *req, int *ret)
{
	if (req->replied) {
		LOG_ERR("fuse: %s unique %llu answered twice",
			fv_opcode_name(req->opcode),
			(unsigned long long)req->unique);
		*ret = -EINVAL;
		return false;
	}
	req->replied = true;
	*ret = 0;
	return !req->noreply;
}

/* Send error (<= 0, negative errno) with payload iov (only when 0). */
static int send_reply(struct fuse_req *req, int error,
		      const struct iovec *iov, int count)
{
	size_t payload = 0;
	int ret;

	if (!claim(req, &ret))
		return ret;
	for (int i = 0; i < count; i++) {
		if (iov[i].iov_len > SIZE_MAX - payload) {
			payload = SIZE_MAX;
			break;
		}
		payload += iov[i].iov_len;
	}
	if (payload > req->in_cap - FV_OUT_HDR || payload > UINT32_MAX / 2) {
		LOG_DBG("fuse: %s unique %llu: reply of %zu bytes does not "
			"fit in %zu", fv_opcode_name(req->opcode),
			(unsigned long long)req->unique, payload,
			req->in_cap - FV_OUT_HDR);
		put_reply(req, -req->overflow_err, NULL, 0, 0);
		return -EOVERFLOW;
	}
	put_reply(req, error, iov, count, payload);
	return 0;
}

/* Successful reply carrying size bytes at arg.  Returns 0 or -errno. */
int fv_reply_ok(struct fuse_req *req, const void *arg, size_t size)
{
	struct iovec iov = { .iov_base = (void *)arg, .iov_len = size };

	return send_reply(req, 0, &iov, size ? 1 : 0);
}

/* ---- conversions ---- */

static uint64_t timeout_sec(double t)
{
	if (!(t > 0.0)) /* also NaN */
		return 0;
	if (t >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)t;
}

static uint32_t timeout_nsec(double t)
{
	double f;

	if (!(t > 0.0) || t >= 18446744073709551615.0)
		return 0;
	f = t - (double)timeout_sec(t);
	if (f >= 0.999999999)
		return 999999999;
	return (uint32_t)(f * 1.0e9);
}

static void fill_attr(const struct fuse_req *req, struct fuse_attr *a,
		      const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->size = (uint64_t)st->st_size;
	a->blksize = (uint32_t)st->st_blksize;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->flags = req->attr_flags;
}

static void fill_entry(const struct fuse_req *req, struct fuse_entry_out *o,
		       const struct fuse_entry_param *e)
{
	memset(o, 0, sizeof(*o));
	o->nodeid = e->ino;
	o->generation = e->generation;
	o->entry_valid = timeout_sec(e->entry_timeout);
	o->entry_valid_nsec = timeout_nsec(e->entry_timeout);
	o->attr_valid = timeout_sec(e->attr_timeout);
	o->attr_valid_nsec = timeout_nsec(e->attr_timeout);
	fill_attr(req, &o->attr, &e->attr);
}

static void fill_open(struct fuse_open_out *o, const struct fuse_file_info *f)
{
	memset(o, 0, sizeof(*o));
	o->fh = f->fh;
	if (f->direct_io)
		o->open_flags |= FOPEN_DIRECT_IO;
	if (f->keep_cache)
		o->open_flags |= FOPEN_KEEP_CACHE;
	if (f->cache_readdir)
		o->open_flags |= FOPEN_CACHE_DIR;
	if (f->nonseekable)
		o->open_flags |= FOPEN_NONSEEKABLE;
	if (f->noflush)
		o->open_flags |= FOPEN_NOFLUSH;
}

/* ---- the reply family ---- */

/* Answer err (a positive errno, or 0 for success without data).  Values
 * outside [0, 1000) are a file system bug and become ERANGE.  Returns 0 or
 * a negative errno. */
int fuse_reply_err(fuse_req_t req, int err)
{
	if (err < 0 || err >= 1000) {
		LOG_ERR("fuse: %s: bad error value %d",
			fv_opcode_name(req->opcode), err);
		err = ERANGE;
	}
	return send_reply(req, -err, NULL, 0);
}

/* No reply (FORGET and friends): just mark the request answered. */
void fuse_reply_none(fuse_req_t req)
{
	int ret;

	claim(req, &ret);
}

/* Reply with a directory entry (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK);
 * e->ino == 0 is a negative entry.  Returns 0 or a negative errno. */
int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	struct fuse_entry_out o;

	fill_entry(req, &o, e);
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply to CREATE/TMPFILE: entry plus open handle.  Returns 0 or -errno. */
int fuse_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		      const struct fuse_file_info *fi)
{
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} r;

	_Static_assert(sizeof(r) == sizeof(r.e) + sizeof(r.o),
		       "no padding between entry and open");

	fill_entry(req, &r.e, e);
	fill_open(&r.o, fi);
	return fv_reply_ok(req, &r, sizeof(r));
}

/* Reply with attributes valid for attr_timeout seconds.  Returns 0 or
 * -errno. */
int fuse_reply_attr(fuse_req_t req, const struct stat *attr,
		    double attr_timeout)
{
	struct fuse_attr_out o;

	memset(&o, 0, sizeof(o));
	o.attr_valid = timeout_sec(attr_timeout);
	o.attr_valid_nsec = timeout_nsec(attr_timeout);
	fill_attr(req, &o.attr, attr);
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply with a symlink target (without its NUL).  Returns 0 or -errno. */
int fuse_reply_readlink(fuse_req_t req, const char *link)
{
	return fv_reply_ok(req, link, strlen(link));
}

/* Reply to OPEN/OPENDIR with fi's fh and FOPEN_* flags.  Returns 0 or
 * -errno. */
int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	struct fuse_open_out o;

	fill_open(&o, fi);
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply to WRITE: count bytes written.  Returns 0 or -errno. */
int fuse_reply_write(fuse_req_t req, size_t count)
{
	struct fuse_write_out o;

	memset(&o, 0, sizeof(o));
	o.size = (uint32_t)count;
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply with size bytes of buf.  Returns 0 or -errno. */
int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	return fv_reply_ok(req, buf, size);
}

/* Reply with the concatenation of count iovecs.  Returns 0 or -errno. */
int fuse_reply_iov(fuse_req_t req, const struct iovec *iov, int count)
{
	if (count < 0)
		count = 0;
	return send_reply(req, 0, iov, count);
}

/* Read len bytes from fd buffer b (skipping skip bytes of it) straight into
 * the reply buffers at offset off.  Returns bytes read (short at EOF) or a
 * negative errno when nothing could be read.
 * @syscalls: preadv readv */
static ssize_t read_fd_into_reply(struct fuse_req *req,
				  const struct fuse_buf *b, size_t skip,
				  size_t off, size_t len)
{
	struct iovec *iov = req->w->iov;
	size_t got = 0;

	while (got < len) {
		unsigned n = fv_iov_slice(req->in, req->in_num, off + got,
					  len - got, iov, FV_MAX_IOV);
		ssize_t r;

		if (b->flags & FUSE_BUF_FD_SEEK)
			r = preadv(b->fd, iov, (int)n,
				   b->pos + (off_t)(skip + got));
		else
			r = readv(b->fd, iov, (int)n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (got)
				break;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Reply with the data of bufv (memory or fd buffers, from bufv->idx/off);
 * fd buffers are read straight into the reply buffers.  Stops at the end
 * of the reply buffers or at EOF (short reply).  A read error before any
 * byte becomes an error reply.  Returns 0 or -errno. */
int fuse_reply_data(fuse_req_t req, struct fuse_bufvec *bufv,
		    enum fuse_buf_copy_flags flags)
{
	size_t room = req->in_cap - FV_OUT_HDR, done = 0;
	int ret;

	(void)flags;
	if (req->replied || req->noreply || req->in_cap < FV_OUT_HDR)
		goto plain;
	for (size_t i = bufv->idx; i < bufv->count && done < room; i++) {
		const struct fuse_buf *b = &bufv->buf[i];
		size_t skip = i == bufv->idx ? bufv->off : 0;
		size_t len;

		if (skip >= b->size)
			continue;
		len = b->size - skip;
		if (len > room - done)
			len = room - done;
		if (b->flags & FUSE_BUF_IS_FD) {
			ssize_t r = read_fd_into_reply(req, b, skip,
						       FV_OUT_HDR + done, len);

			if (r < 0) {
				if (done)
					break;
				return fuse_reply_err(req, (int)-r);
			}
			done += (size_t)r;
			if ((size_t)r < len)
				break;
		} else {
			fv_iov_write(req->in, req->in_num, FV_OUT_HDR + done,
				     (const char *)b->mem + skip, len);
			done += len;
		}
	}
	if (!claim(req, &ret))
		return ret;
	put_reply(req, 0, NULL, 0, done);
	return 0;
plain:
	/* answered already / no reply: let send_reply report it */
	return send_reply(req, 0, NULL, 0);
}

/* Reply to STATFS.  Returns 0 or -errno. */
int fuse_reply_statfs(fuse_req_t req, const struct statvfs *stbuf)
{
	struct fuse_statfs_out o;

	memset(&o, 0, sizeof(o));
	o.st.blocks = stbuf->f_blocks;
	o.st.bfree = stbuf->f_bfree;
	o.st.bavail = stbuf->f_bavail;
	o.st.files = stbuf->f_files;
	o.st.ffree = stbuf->f_ffree;
	o.st.bsize = (uint32_t)stbuf->f_bsize;
	o.st.namelen = (uint32_t)stbuf->f_namemax;
	o.st.frsize = (uint32_t)stbuf->f_frsize;
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply to a GETXATTR/LISTXATTR size query with count.  Returns 0 or
 * -errno. */
int fuse_reply_xattr(fuse_req_t req, size_t count)
{
	struct fuse_getxattr_out o;

	memset(&o, 0, sizeof(o));
	o.size = (uint32_t)count;
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply to GETLK with the conflicting lock (or F_UNLCK).  Returns 0 or
 * -errno. */
int fuse_reply_lock(fuse_req_t req, const struct flock *lock)
{
	struct fuse_lk_out o;

	memset(&o, 0, sizeof(o));
	o.lk.type = (uint32_t)lock->l_type;
	if (lock->l_type != F_UNLCK) {
		o.lk.start = (uint64_t)lock->l_start;
		if (lock->l_len == 0)
			o.lk.end = FV_OFFSET_MAX;
		else
			o.lk.end = (uint64_t)(lock->l_start + lock->l_len - 1);
	}
	o.lk.pid = (uint32_t)lock->l_pid;
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply to BMAP.  Returns 0 or -errno. */
int fuse_reply_bmap(fuse_req_t req, uint64_t idx)
{
	struct fuse_bmap_out o;

	memset(&o, 0, sizeof(o));
	o.block = idx;
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply to IOCTL with result and size bytes of output.  Returns 0 or
 * -errno. */
int fuse_reply_ioctl(fuse_req_t req, int result, const void *buf, size_t size)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = size };

	return fuse_reply_ioctl_iov(req, result, &iov, size ? 1 : 0);
}

/* Reply to IOCTL with result and the concatenated iovecs as output.
 * Returns 0 or -errno. */
int fuse_reply_ioctl_iov(fuse_req_t req, int result, const struct iovec *iov,
			 int count)
{
	struct iovec v[1 + FUSE_IOCTL_MAX_IOV];
	struct fuse_ioctl_out o;

	if (count < 0 || count > FUSE_IOCTL_MAX_IOV)
		return fuse_reply_err(req, EINVAL);
	memset(&o, 0, sizeof(o));
	o.result = result;
	v[0].iov_base = &o;
	v[0].iov_len = sizeof(o);
	for (int i = 0; i < count; i++)
		v[1 + i] = iov[i];
	return send_reply(req, 0, v, count + 1);
}

/* Unrestricted ioctl retry: not available on virtio-fs (the kernel sends
 * restricted ioctls only and would fail a retry with EIO itself); answers
 * EIO.  Returns 0 or -errno. */
int fuse_reply_ioctl_retry(fuse_req_t req, const struct iovec *in_iov,
			   size_t in_count, const struct iovec *out_iov,
			   size_t out_count)
{
	(void)in_iov;
	(void)in_count;
	(void)out_iov;
	(void)out_count;
	LOG_DBG("fuse: ioctl retry requested, answering EIO");
	return fuse_reply_err(req, EIO);
}

/* Reply to POLL with revents.  Returns 0 or -errno. */
int fuse_reply_poll(fuse_req_t req, unsigned revents)
{
	struct fuse_poll_out o;

	memset(&o, 0, sizeof(o));
	o.revents = revents;
	return fv_reply_ok(req, &o, sizeof(o));
}

/* Reply to LSEEK with the resulting offset.  Returns 0 or -errno. */
int fuse_reply_lseek(fuse_req_t req, off_t off)
{
	struct fuse_lseek_out o;

	memset(&o, 0, sizeof(o));
	o.offset = (uint64_t)off;
	return fv_reply_ok(req, &o, sizeof(o));
}

/* ---- directory entries ---- */

/* Pack one fuse_dirent (name, ino and type from stbuf, next offset off)
 * into buf if it fits in bufsize.  Returns the entry's size whether it fit
 * or not (buf may be NULL to ask for the size); the caller detects a full
 * buffer by a return value > bufsize. */
size_t fuse_add_direntry(fuse_req_t req, char *buf, size_t bufsize,
			 const char *name, const struct stat *stbuf,
			 off_t off)
{
	struct fuse_dirent d;
	size_t namelen = strlen(name);
	size_t len = FUSE_NAME_OFFSET + namelen;
	size_t padded = FUSE_DIRENT_ALIGN(len);

	(void)req;
	if (!buf || padded > bufsize)
		return padded;
	d.ino = stbuf->st_ino;
	d.off = (uint64_t)off;
	d.namelen = (uint32_t)namelen;
	d.type = (stbuf->st_mode & S_IFMT) >> 12;
	memcpy(buf, &d, FUSE_NAME_OFFSET);
	memcpy(buf + FUSE_NAME_OFFSET, name, namelen);
	memset(buf + len, 0, padded - len);
	return padded;
}

/* Pack one fuse_direntplus (entry from e, next offset off) into buf if it
 * fits.  Returns the entry's size whether it fit or not (see
 * fuse_add_direntry). */
size_t fuse_add_direntry_plus(fuse_req_t req, char *buf, size_t bufsize,
			      const char *name,
			      const struct fuse_entry_param *e, off_t off)
{
	struct fuse_direntplus dp;
	size_t namelen = strlen(name);
	size_t len = FUSE_NAME_OFFSET_DIRENTPLUS + namelen;
	size_t padded = FUSE_DIRENT_ALIGN(len);

	if (!buf || padded > bufsize)
		return padded;
	fill_entry(req, &dp.entry_out, e);
	dp.dirent.ino = e->attr.st_ino;
	dp.dirent.off = (uint64_t)off;
	dp.dirent.namelen = (uint32_t)namelen;
	dp.dirent.type = (e->attr.st_mode & S_IFMT) >> 12;
	memcpy(buf, &dp, FUSE_NAME_OFFSET_DIRENTPLUS);
	memcpy(buf + FUSE_NAME_OFFSET_DIRENTPLUS, name, namelen);
	memset(buf + len, 0, padded - len);
	return padded;
}
