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

	if (n == 1)
		return iov[0].iov_len;

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

/*
 * Walk len bytes from the cursor position, copying them to dst unless it
 * is NULL, and advance the cursor when advance is set.  The caller checked
 * len <= left.  Kept out of line: the callers' fast paths below handle a
 * piece inside the current segment without saving registers.
 */
static __attribute__((noinline)) void rcur_walk(struct fv_rcur *c, size_t len,
						bool advance, char *dst)
{
	unsigned i = c->i;
	size_t off = c->off;
	size_t done = 0;

	while (done < len && i < c->n) {
		size_t seg = c->iov[i].iov_len - off;
		size_t l = len - done < seg ? len - done : seg;

		if (l && dst)
			memcpy(dst + done,
			       (const char *)c->iov[i].iov_base + off, l);
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

/*
 * The usual case: the len bytes lie inside the current segment (a request
 * header or its arguments in one descriptor).  Returns the address of the
 * bytes and advances the cursor over them (to the next segment when they
 * end this one), or returns NULL and changes nothing.  len <= left.
 */
static inline const char *rcur_take_inside(struct fv_rcur *c, size_t len)
{
	const struct iovec *v;
	size_t off = c->off;

	if (__builtin_expect(c->i >= c->n, 0))
		return NULL;
	v = &c->iov[c->i];
	if (__builtin_expect(len > v->iov_len - off, 0))
		return NULL;
	c->left -= len;
	if (off + len == v->iov_len) {
		c->i++;
		c->off = 0;
	} else {
		c->off = off + len;
	}
	return (const char *)v->iov_base + off;
}

/* Copy len bytes to dst and advance; -EINVAL (nothing consumed) if fewer
 * are left, else 0.  (fv_rcur_copy() handled the piece inside the current
 * segment already.) */
int fv_rcur_copy_slow(struct fv_rcur *c, void *dst, size_t len)
{
	const char *p;

	if (len > c->left)
		return -EINVAL;
	p = rcur_take_inside(c, len);
	if (__builtin_expect(p != NULL, 1))
		memcpy(dst, p, len);
	else
		rcur_walk(c, len, true, dst);
	return 0;
}

/* Copy up to len bytes to dst without advancing; returns bytes copied. */
size_t fv_rcur_peek(const struct fv_rcur *c, void *dst, size_t len)
{
	struct fv_rcur tmp = *c;
	const char *p;

	if (len > c->left)
		len = c->left;
	p = rcur_take_inside(&tmp, len);
	if (p)
		memcpy(dst, p, len);
	else
		rcur_walk(&tmp, len, false, dst);
	return len;
}

/* Advance by len bytes; 0, or -EINVAL if fewer are left.  (fv_rcur_skip()
 * handled a skip that stays inside the current segment already.) */
int fv_rcur_skip_slow(struct fv_rcur *c, size_t len)
{
	if (len > c->left)
		return -EINVAL;
	if (!rcur_take_inside(c, len))
		rcur_walk(c, len, true, NULL);
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

/* The general case of fv_iov_write(): from segment i at offset off
 * (off < its length), copy up to len bytes. */
static __attribute__((noinline)) size_t iov_write_segs(const struct iovec *iov,
							unsigned n, unsigned i,
							size_t off,
							const char *s,
							size_t len)
{
	size_t done = 0;

	for (; i < n && done < len; i++) {
		size_t l = iov[i].iov_len - off;

		if (l > len - done)
			l = len - done;
		memcpy((char *)iov[i].iov_base + off, s + done, l);
		done += l;
		off = 0;
	}
	return done;
}

/* Copy len bytes of src into iov at byte offset off; returns bytes copied
 * (short only if iov ends first).  A piece inside one segment (a reply's
 * payload after its header) is found by skipping whole segments, then one
 * memcpy. */
size_t fv_iov_write_slow(const struct iovec *iov, unsigned n, size_t off,
			 const void *src, size_t len)
{
	unsigned i = 0;

	while (i < n && off >= iov[i].iov_len)
		off -= iov[i++].iov_len;
	if (__builtin_expect(i < n && len <= iov[i].iov_len - off, 1)) {
		memcpy((char *)iov[i].iov_base + off, src, len);
		return len;
	}
	return iov_write_segs(iov, n, i, off, src, len);
}

/* Fill dst (max entries) with the pieces of iov covering [off, off+len);
 * returns the number of entries.  Whole segments before off are skipped
 * first; the usual case (a READ reply's data in one segment) is then a
 * single entry. */
unsigned fv_iov_slice(const struct iovec *iov, unsigned n, size_t off,
		      size_t len, struct iovec *dst, unsigned max)
{
	unsigned i = 0, nd = 0;
	size_t done = 0;

	while (i < n && off >= iov[i].iov_len)
		off -= iov[i++].iov_len;
	for (; i < n && done < len && nd < max; i++) {
		size_t l = iov[i].iov_len - off;

		if (l == 0)
			continue;   /* an empty segment: no entry */
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
