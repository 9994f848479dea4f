/*
 * fuse_buf.c - libfuse's fuse_buf_size() and fuse_buf_copy(), which file
 * systems use with the bufvecs of WRITE (write_buf) and READ
 * (fuse_reply_data).  A run of memory buffers against one fd buffer is
 * moved with a single pwritev()/preadv(): a WRITE's guest buffers go to
 * the file without a bounce copy.  fd to fd goes through a small stack
 * buffer.  No allocation, no locking.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fuse_i.h"

#define FV_COPY_IOV 64     /* iovecs per pwritev/preadv */
#define FV_FD_BOUNCE 16384 /* fd to fd chunk */

/* Sum of the sizes of all buffers of bufv (SIZE_MAX if any is SIZE_MAX or
 * the sum overflows). */
size_t fuse_buf_size(const struct fuse_bufvec *bufv)
{
	size_t size = 0;

	for (size_t i = 0; i < bufv->count; i++) {
		if (bufv->buf[i].size > SIZE_MAX - size)
			return SIZE_MAX;
		size += bufv->buf[i].size;
	}
	return size;
}

static const struct fuse_buf *cur(const struct fuse_bufvec *v)
{
	return v->idx < v->count ? &v->buf[v->idx] : NULL;
}

/* Advance v by len bytes (within the current and following buffers). */
static void advance(struct fuse_bufvec *v, size_t len)
{
	while (len && v->idx < v->count) {
		size_t l = v->buf[v->idx].size - v->off;

		if (len < l) {
			v->off += len;
			return;
		}
		len -= l;
		v->off = 0;
		v->idx++;
	}
	/* skip exhausted buffers so that cur() finds data */
	while (v->idx < v->count && v->off >= v->buf[v->idx].size) {
		v->off = 0;
		v->idx++;
	}
}

/* iovecs over the memory buffers of v from its position, at most max
 * bytes; returns the count (stops at the first fd buffer). */
static int mem_iov(const struct fuse_bufvec *v, size_t max, struct iovec *iov,
		   size_t *total)
{
	size_t off = v->off, sum = 0;
	int n = 0;

	for (size_t i = v->idx; i < v->count && n < FV_COPY_IOV && sum < max;
	     i++) {
		const struct fuse_buf *b = &v->buf[i];
		size_t l;

		if (b->flags & FUSE_BUF_IS_FD)
			break;
		if (off < b->size) {
			l = b->size - off;
			if (l > max - sum)
				l = max - sum;
			iov[n].iov_base = (char *)b->mem + off;
			iov[n].iov_len = l;
			n++;
			sum += l;
		}
		off = 0;
	}
	*total = sum;
	return n;
}

/* Move between the memory run of m and the fd buffer f (at f_off) of at
 * most len bytes; to_fd selects the direction; *wantp gets the size of the
 * run.  Returns bytes moved or -errno.
 * @syscalls: pwritev writev preadv readv */
static ssize_t mem_fd(const struct fuse_bufvec *m, const struct fuse_buf *f,
		      size_t f_off, size_t len, bool to_fd, size_t *wantp)
{
	struct iovec iov[FV_COPY_IOV];
	size_t want, done = 0;
	int n = mem_iov(m, len, iov, &want);

	*wantp = want;
	while (done < want) {
		ssize_t r;
		off_t pos = f->pos + (off_t)(f_off + done);

		if (to_fd)
			r = (f->flags & FUSE_BUF_FD_SEEK) ?
			    pwritev(f->fd, iov, n, pos) : writev(f->fd, iov, n);
		else
			r = (f->flags & FUSE_BUF_FD_SEEK) ?
			    preadv(f->fd, iov, n, pos) : readv(f->fd, iov, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
		if (!(f->flags & FUSE_BUF_FD_RETRY))
			break;
		/* drop what was moved from the iovecs and retry the rest */
		for (size_t k = (size_t)r; k && n;) {
			if (k >= iov[0].iov_len) {
				k -= iov[0].iov_len;
				memmove(iov, iov + 1, (size_t)(n - 1) * sizeof(*iov));
				n--;
			} else {
				iov[0].iov_base = (char *)iov[0].iov_base + k;
				iov[0].iov_len -= k;
				k = 0;
			}
		}
	}
	return (ssize_t)done;
}

/* fd to fd through a bounce buffer.
 * @syscalls: pread read pwrite write */
static ssize_t fd_fd(const struct fuse_buf *d, size_t d_off,
		     const struct fuse_buf *s, size_t s_off, size_t len)
{
	char bounce[FV_FD_BOUNCE];
	size_t done = 0;

	while (done < len) {
		size_t l = len - done < sizeof(bounce) ? len - done :
			   sizeof(bounce);
		ssize_t r, w;

		r = (s->flags & FUSE_BUF_FD_SEEK) ?
		    pread(s->fd, bounce, l, s->pos + (off_t)(s_off + done)) :
		    read(s->fd, bounce, l);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return done ? (ssize_t)done : (r < 0 ? -errno : 0);
		for (ssize_t wd = 0; wd < r; wd += w) {
			w = (d->flags & FUSE_BUF_FD_SEEK) ?
			    pwrite(d->fd, bounce + wd, (size_t)(r - wd),
				   d->pos + (off_t)(d_off + done + (size_t)wd)) :
			    write(d->fd, bounce + wd, (size_t)(r - wd));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				done += (size_t)wd;
				return done ? (ssize_t)done :
				       (w < 0 ? -errno : 0);
			}
		}
		done += (size_t)r;
		if ((size_t)r < l)
			break;
	}
	return (ssize_t)done;
}

/*
 * Copy data from src to dst (libfuse semantics): both vectors advance by
 * the amount copied; copying stops at the end of either, at a short read or
 * write, or at an error.  Returns the bytes copied, or a negative errno if
 * nothing could be copied.
 */
ssize_t fuse_buf_copy(struct fuse_bufvec *dstv, struct fuse_bufvec *srcv,
		      enum fuse_buf_copy_flags flags)
{
	size_t copied = 0;

	(void)flags;
	advance(srcv, 0);
	advance(dstv, 0);
	for (;;) {
		const struct fuse_buf *s = cur(srcv), *d = cur(dstv);
		size_t s_len, d_len, len;
		ssize_t r;

		if (!s || !d)
			break;
		s_len = s->size - srcv->off;
		d_len = d->size - dstv->off;
		len = s_len < d_len ? s_len : d_len;
		if (!(s->flags & FUSE_BUF_IS_FD) && !(d->flags & FUSE_BUF_IS_FD)) {
			if (s->mem != d->mem || srcv->off != dstv->off)
				memmove((char *)d->mem + dstv->off,
					(const char *)s->mem + srcv->off, len);
			r = (ssize_t)len;
		} else if (!(s->flags & FUSE_BUF_IS_FD)) {
			/* memory run -> fd: may span several src buffers */
			r = mem_fd(srcv, d, dstv->off, d_len, true, &len);
		} else if (!(d->flags & FUSE_BUF_IS_FD)) {
			r = mem_fd(dstv, s, srcv->off, s_len, false, &len);
		} else {
			r = fd_fd(d, dstv->off, s, srcv->off, len);
		}
		if (r < 0)
			return copied ? (ssize_t)copied : r;
		copied += (size_t)r;
		advance(srcv, (size_t)r);
		advance(dstv, (size_t)r);
		if (r == 0 || (size_t)r < len)
			break;
	}
	return (ssize_t)copied;
}
