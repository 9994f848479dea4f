/*
 * fuse_iov.c - cursors over iovec arrays: reading the request out of the
 * driver-readable buffers and writing the reply into the device-writable
 * ones.  The buffers point into guest memory that the guest may change at
 * any time: every byte is read exactly once by the copy functions here and
 * the callers use only the copies.  No locking: a cursor belongs to one
 * request.
 */
#include <errno.h>
#include <string.h>

#include "fuse_i.h"

/* Sum of the iovec lengths (saturating at SIZE_MAX). */
size_t fv_iov_total(const struct iovec *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Start cursor c at the beginning of iov, allowed to read limit bytes. */
void fv_rcur_init(struct fv_rcur *c, const struct iovec *iov, unsigned n,
		  size_t limit)
{
	c->iov = iov;
	c->n = n;
	c->i = 0;
	c->off = 0;
	c->left = limit;
}

/* Walk len bytes from the cursor position, calling fn on each contiguous
 * piece, optionally advancing the cursor.  The caller checked len <= left. */
static void rcur_walk(struct fv_rcur *c, size_t len, bool advance,
		      void (*fn)(void *ctx, const void *p, size_t l), void *ctx)
{
	unsigned i = c->i;
	size_t off = c->off;
	size_t done = 0;

	while (done < len && i < c->n) {
		size_t seg = c->iov[i].iov_len - off;
		size_t l = len - done < seg ? len - done : seg;

		if (l && fn)
			fn(ctx, (const char *)c->iov[i].iov_base + off, l);
		done += l;
		off += l;
		if (off == c->iov[i].iov_len) {
			i++;
			off = 0;
		}
	}
	if (advance) {
		c->i = i;
		c->off = off;
		c->left -= done;
	}
}

static void copy_piece(void *ctx, const void *p, size_t l)
{
	char **dst = ctx;

	memcpy(*dst, p, l);
	*dst += l;
}

/* Copy len bytes to dst and advance; -EINVAL (nothing consumed) if fewer
 * are left, else 0. */
int fv_rcur_copy(struct fv_rcur *c, void *dst, size_t len)
{
	char *d = dst;

	if (len > c->left)
		return -EINVAL;
	rcur_walk(c, len, true, copy_piece, &d);
	return 0;
}

/* Copy up to len bytes to dst without advancing; returns bytes copied. */
size_t fv_rcur_peek(const struct fv_rcur *c, void *dst, size_t len)
{
	struct fv_rcur tmp = *c;
	char *d = dst;

	if (len > c->left)
		len = c->left;
	rcur_walk(&tmp, len, false, copy_piece, &d);
	return len;
}

/* Advance by len bytes; 0, or -EINVAL if fewer are left. */
int fv_rcur_skip(struct fv_rcur *c, size_t len)
{
	if (len > c->left)
		return -EINVAL;
	rcur_walk(c, len, true, NULL, NULL);
	return 0;
}

/* Describe the next len bytes as memory fuse_bufs (at most max) and
 * advance; returns the count, -EINVAL if short, -E2BIG if max is too small. */
int fv_rcur_bufs(struct fv_rcur *c, size_t len, struct fuse_buf *bufs,
		 unsigned max)
{
	unsigned i = c->i, nb = 0;
	size_t off = c->off, done = 0;

	if (len > c->left)
		return -EINVAL;
	while (done < len && i < c->n) {
		size_t seg = c->iov[i].iov_len - off;
		size_t l = len - done < seg ? len - done : seg;

		if (l) {
			if (nb == max)
				return -E2BIG;
			memset(&bufs[nb], 0, sizeof(bufs[nb]));
			bufs[nb].size = l;
			bufs[nb].mem = (char *)c->iov[i].iov_base + off;
			bufs[nb].fd = -1;
			nb++;
		}
		done += l;
		off += l;
		if (off == c->iov[i].iov_len) {
			i++;
			off = 0;
		}
	}
	c->i = i;
	c->off = off;
	c->left -= done;
	return (int)nb;
}

/* Copy len bytes of src into iov at byte offset off; returns bytes copied
 * (short only if iov ends first). */
size_t fv_iov_write(const struct iovec *iov, unsigned n, size_t off,
		    const void *src, size_t len)
{
	const char *s = src;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t l = seg - off;

		if (l > len - done)
			l = len - done;
		memcpy((char *)iov[i].iov_base + off, s + done, l);
		done += l;
		off = 0;
	}
	return done;
}

/* Fill dst (max entries) with the pieces of iov covering [off, off+len);
 * returns the number of entries. */
unsigned fv_iov_slice(const struct iovec *iov, unsigned n, size_t off,
		      size_t len, struct iovec *dst, unsigned max)
{
	unsigned nd = 0;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len && nd < max; i++) {
		size_t seg = iov[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t l = seg - off;

		if (l > len - done)
			l = len - done;
		dst[nd].iov_base = (char *)iov[i].iov_base + off;
		dst[nd].iov_len = l;
		nd++;
		done += l;
		off = 0;
	}
	return nd;
}
