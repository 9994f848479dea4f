/*
 * fuse_i.h - internals shared by the files of fuse_lowlevel/ (never
 * included from other layers).
 *
 * Files:
 *   fuse_iov.c       cursors over iovec arrays (read the request, write the
 *                    reply), no knowledge of FUSE
 *   fuse_session.c   session, worker, fuse_session_process(), header
 *                    validation, INIT/DESTROY, migration state
 *   fuse_dispatch.c  per-opcode decoding of the arguments and the call into
 *                    struct fuse_lowlevel_ops / struct fuse_virtio_ops
 *   fuse_reply.c     fuse_reply_* and fuse_add_direntry*
 *   fuse_req.c       fuse_req_* accessors
 *   fuse_buf.c       fuse_buf_size() / fuse_buf_copy()
 */
#ifndef FUSE_I_H
#define FUSE_I_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <linux/fuse.h>
#include <linux/limits.h>

#include "fuse_virtio.h"

/* 7.39 additions we implement although linux/fuse.h 7.38 lacks them. */
#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif
#define FV_EXT_GROUPS 32
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

/* Largest offset a lock may describe (the kernel's OFFSET_MAX). */
#define FV_OFFSET_MAX INT64_MAX

/* Sizes of the worker's scratch buffers. */
#define FV_NAME_BUF (PATH_MAX + 1)  /* one name or symlink target + NUL */
#define FV_DATA_BUF XATTR_SIZE_MAX  /* xattr value, ioctl input, forgets */
#define FV_EXT_BUF (XATTR_SIZE_MAX + 4096) /* request extensions */

#define FV_OUT_HDR sizeof(struct fuse_out_header)

/* Read cursor over the request (driver-readable) iovecs. */
struct fv_rcur {
	const struct iovec *iov;
	unsigned n;
	unsigned i;      /* current segment */
	size_t off;      /* offset inside segment i */
	size_t left;     /* bytes the cursor may still consume */
};

/* The request being processed; lives in its worker. */
struct fuse_req {
	struct fuse_session *se;
	struct fuse_worker *w;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t opcode;
	struct fuse_ctx ctx;
	const struct iovec *in;      /* reply buffers */
	unsigned in_num;
	size_t in_cap;               /* total bytes of in */
	size_t written;              /* bytes written into in */
	bool replied;
	bool noreply;                /* opcode has no reply */
	int overflow_err;            /* errno when a reply does not fit */
	uint64_t flags;              /* negotiated flags (snapshot) */
	uint32_t minor;              /* negotiated minor (snapshot) */
	uint32_t attr_flags;         /* fuse_attr.flags for encoded attrs */
	bool kill_priv;
	bool has_secctx;
	bool has_supp_gid;
	const char *secctx_name;
	const void *secctx_value;
	size_t secctx_size;
	gid_t supp_gid;
};

/*
 * Session.  `lock` serializes INIT, DESTROY, reset and set_state (the
 * only writers of the negotiated state); it is never taken on the request
 * path.  Requests read `ready`, `flags`, `minor` and `max_write` lock-free:
 * writers store the fields, then `ready` with release order; readers load
 * `ready` with acquire order.  Lock order: se->lock is a leaf except that
 * the fs's init_ext/init/destroy/reset callbacks run under it (they must
 * not call back into the session).
 */
struct fuse_session {
	struct fuse_lowlevel_ops op;
	struct fuse_virtio_ops xop;
	void *userdata;
	pthread_mutex_t lock;
	struct fv_session_state st;  /* under lock */
	bool need_reset;             /* under lock: fs holds state of an
				        earlier session */
	atomic_bool ready;
	_Atomic uint64_t flags;
	_Atomic uint32_t minor;
	_Atomic uint32_t max_write;
};

/* Per-thread scratch: everything a request needs, allocated once. */
struct fuse_worker {
	struct fuse_session *se;
	struct fuse_req req;
	struct fuse_in_header ih;
	char name[FV_NAME_BUF];
	char name2[FV_NAME_BUF];
	char data[FV_DATA_BUF] __attribute__((aligned(16)));
	char ext[FV_EXT_BUF] __attribute__((aligned(16)));
	struct iovec iov[FV_MAX_IOV];
	struct fuse_bufvec *bufv;    /* FV_MAX_IOV buffers */
	char *wbuf;                  /* FV_MAX_WRITE bounce for ops->write,
				        only when the fs has no write_buf */
};

/* fuse_iov.c */

/* Sum of the iovec lengths, saturating at SIZE_MAX. */
size_t fv_iov_total(const struct iovec *iov, unsigned n);

/* Start a read cursor at the beginning of iov, allowed to read `limit`
 * bytes (the caller guarantees limit <= fv_iov_total()). */
void fv_rcur_init(struct fv_rcur *c, const struct iovec *iov, unsigned n,
		  size_t limit);

/* fv_rcur_copy() for bytes that cross segments (or are fewer than len
 * left): same arguments and return. */
int fv_rcur_copy_slow(struct fv_rcur *c, void *dst, size_t len);

/* Copy len bytes and advance.  Returns 0, or -EINVAL (nothing consumed)
 * when fewer than len bytes are left.  Inline because the usual piece (a
 * header, an op's arguments) lies inside the current segment and has a
 * constant size: then it is one small memcpy. */
static inline int fv_rcur_copy(struct fv_rcur *c, void *dst, size_t len)
{
	if (__builtin_expect(len <= c->left && c->i < c->n, 1)) {
		const struct iovec *v = &c->iov[c->i];
		size_t off = c->off, room = v->iov_len - off;

		if (__builtin_expect(len <= room, 1)) {
			memcpy(dst, (const char *)v->iov_base + off, len);
			c->left -= len;
			if (len == room) {
				c->i++;
				c->off = 0;
			} else {
				c->off = off + len;
			}
			return 0;
		}
	}
	return fv_rcur_copy_slow(c, dst, len);
}

/* Copy up to len bytes without advancing; returns the number copied. */
size_t fv_rcur_peek(const struct fv_rcur *c, void *dst, size_t len);

/* fv_rcur_skip() across segments (or past the end: -EINVAL): same
 * arguments and return. */
int fv_rcur_skip_slow(struct fv_rcur *c, size_t len);

/* Advance by len bytes.  Returns 0 or -EINVAL if fewer are left.  Inline
 * for a skip inside the current segment. */
static inline int fv_rcur_skip(struct fv_rcur *c, size_t len)
{
	if (__builtin_expect(len <= c->left && c->i < c->n, 1)) {
		size_t room = c->iov[c->i].iov_len - c->off;

		if (__builtin_expect(len <= room, 1)) {
			c->left -= len;
			if (len == room) {
				c->i++;
				c->off = 0;
			} else {
				c->off += len;
			}
			return 0;
		}
	}
	return fv_rcur_skip_slow(c, len);
}

/* Describe the next len bytes as memory fuse_bufs (pointers into the
 * request buffers) and advance.  Returns the number of bufs used (>= 0),
 * or -EINVAL if fewer than len bytes are left, -E2BIG if more than max
 * buffers would be needed. */
int fv_rcur_bufs(struct fv_rcur *c, size_t len, struct fuse_buf *bufs,
		 unsigned max);

/* fv_iov_write() for bytes past the first segment or crossing segments:
 * same arguments and return. */
size_t fv_iov_write_slow(const struct iovec *iov, unsigned n, size_t off,
			 const void *src, size_t len);

/* Copy len bytes from src into iov starting at byte offset off.  Returns
 * the number of bytes copied (less than len only when iov is too short).
 * Inline for the reply header: inside the first segment, one memcpy. */
static inline size_t fv_iov_write(const struct iovec *iov, unsigned n,
				  size_t off, const void *src, size_t len)
{
	if (__builtin_expect(n && off <= iov[0].iov_len &&
			     len <= iov[0].iov_len - off, 1)) {
		memcpy((char *)iov[0].iov_base + off, src, len);
		return len;
	}
	return fv_iov_write_slow(iov, n, off, src, len);
}

/* Build into dst (max entries) the iovecs covering bytes [off, off+len)
 * of iov.  Returns the number of entries; the covered length may be less
 * than len if iov is shorter or max is reached. */
unsigned fv_iov_slice(const struct iovec *iov, unsigned n, size_t off,
		      size_t len, struct iovec *dst, unsigned max);

/* fuse_session.c */

/* Handle FUSE_INIT (and the answer to unsupported versions).  Returns 0
 * when a reply was sent, or a negative errno to answer. */
int fv_do_init(struct fuse_req *req, struct fv_rcur *c);

/* Handle FUSE_DESTROY.  Returns 0 when a reply was sent. */
int fv_do_destroy(struct fuse_req *req, struct fv_rcur *c);

/* fuse_dispatch.c */

/* True if opcode is answered without a reply. */
bool fv_opcode_noreply(uint32_t opcode);

/* Name of an opcode, for logs. */
const char *fv_opcode_name(uint32_t opcode);

/* Decode the arguments of req (cursor c over its argument bytes, ext over
 * its extension area) and call the file system.  Returns 0 when the
 * request was answered (or needs no answer), or a negative errno to reply. */
int fv_dispatch(struct fuse_req *req, struct fv_rcur *c, struct fv_rcur *ext);

/* fuse_reply.c */

/* Send a successful reply made of the given payload pieces.
 * Returns 0, or a negative errno (see fuse_reply_iov). */
int fv_reply_ok(struct fuse_req *req, const void *arg, size_t size);

#endif
