/*
 * fuse_session.c - the FUSE session over virtqueue elements: session and
 * worker objects, fuse_session_process() (header validation, the INIT
 * gate, dispatch), INIT/DESTROY negotiation and the negotiated state used
 * by live migration.
 *
 * Locking: se->lock (a mutex) serializes the writers of the negotiated
 * state: INIT, DESTROY, fuse_session_reset_state() and
 * fuse_session_set_state().  The request path never takes it; it reads the
 * atomics se->ready (acquire) and then se->flags / se->minor /
 * se->max_write, which writers store before releasing se->ready.  The
 * file system's init_ext / init / destroy / reset callbacks run with
 * se->lock held and must not call back into the session.  No other lock is
 * taken while se->lock is held by this layer, so the lock order is simply
 * "se->lock, then whatever the fs takes inside those callbacks".
 *
 * Validation rules of a request (see fuse_session_process()):
 *  - the element has at most FV_MAX_IOV buffers per side;
 *  - the request holds a whole fuse_in_header, else -EINVAL, no reply;
 *  - an opcode that needs a reply needs >= sizeof(fuse_out_header) bytes
 *    of reply buffers, else -EINVAL, no reply (and no op is called);
 *  - in.len >= sizeof(fuse_in_header) and in.len <= the total length of
 *    the request buffers; the request is exactly the first in.len bytes
 *    (Linux sends in.len == total; trailing bytes are ignored), else EINVAL;
 *  - in.total_extlen * 8 <= in.len - header; the extensions are the last
 *    total_extlen * 8 bytes of the request, the arguments are what lies
 *    between the header and them;
 *  - before INIT, every opcode but INIT is answered EIO (FORGET,
 *    BATCH_FORGET, INTERRUPT are dropped silently);
 *  - the per-opcode argument checks are in fuse_dispatch.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_i.h"
#include "log.h"

/* INIT flags this layer implements or that need nothing from it (pure
 * kernel behaviour such as DIRECT_IO_ALLOW_MMAP); others are never offered
 * to the fs: SPLICE_* (no pipe), MAP_ALIGNMENT / HAS_INODE_DAX (no DAX
 * window), HAS_EXPIRE_ONLY (no notifications), FILE_OPS. */
#define FV_SUPPORTED_FLAGS                                                   \
	((uint64_t)FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC |   \
	 FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES | FUSE_DONT_MASK |             \
	 FUSE_FLOCK_LOCKS | FUSE_HAS_IOCTL_DIR | FUSE_AUTO_INVAL_DATA |       \
	 FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO |        \
	 FUSE_WRITEBACK_CACHE | FUSE_NO_OPEN_SUPPORT | FUSE_PARALLEL_DIROPS |  \
	 FUSE_HANDLE_KILLPRIV | FUSE_POSIX_ACL | FUSE_ABORT_ERROR |            \
	 FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS | FUSE_NO_OPENDIR_SUPPORT |      \
	 FUSE_EXPLICIT_INVAL_DATA | FUSE_SUBMOUNTS | FUSE_HANDLE_KILLPRIV_V2 | \
	 FUSE_SETXATTR_EXT | FUSE_INIT_EXT | FUSE_SECURITY_CTX |               \
	 FUSE_CREATE_SUPP_GROUP | FUSE_DIRECT_IO_ALLOW_MMAP)

/* Flags set whenever the guest offers them, whatever the fs says. */
#define FV_ALWAYS_FLAGS ((uint64_t)FUSE_MAX_PAGES | FUSE_INIT_EXT)

#define FV_DEFAULT_MAX_BACKGROUND 65535
#define FV_DEFAULT_CONGESTION 49149 /* 3/4 of max_background */

/* FUSE_* INIT flag <-> libfuse FUSE_CAP_* for file systems using ->init. */
static const struct {
	uint64_t flag;
	unsigned cap;
} fv_cap_map[] = {
	{ FUSE_ASYNC_READ, FUSE_CAP_ASYNC_READ },
	{ FUSE_POSIX_LOCKS, FUSE_CAP_POSIX_LOCKS },
	{ FUSE_ATOMIC_O_TRUNC, FUSE_CAP_ATOMIC_O_TRUNC },
	{ FUSE_EXPORT_SUPPORT, FUSE_CAP_EXPORT_SUPPORT },
	{ FUSE_DONT_MASK, FUSE_CAP_DONT_MASK },
	{ FUSE_FLOCK_LOCKS, FUSE_CAP_FLOCK_LOCKS },
	{ FUSE_HAS_IOCTL_DIR, FUSE_CAP_IOCTL_DIR },
	{ FUSE_AUTO_INVAL_DATA, FUSE_CAP_AUTO_INVAL_DATA },
	{ FUSE_DO_READDIRPLUS, FUSE_CAP_READDIRPLUS },
	{ FUSE_READDIRPLUS_AUTO, FUSE_CAP_READDIRPLUS_AUTO },
	{ FUSE_ASYNC_DIO, FUSE_CAP_ASYNC_DIO },
	{ FUSE_WRITEBACK_CACHE, FUSE_CAP_WRITEBACK_CACHE },
	{ FUSE_NO_OPEN_SUPPORT, FUSE_CAP_NO_OPEN_SUPPORT },
	{ FUSE_PARALLEL_DIROPS, FUSE_CAP_PARALLEL_DIROPS },
	{ FUSE_POSIX_ACL, FUSE_CAP_POSIX_ACL },
	{ FUSE_HANDLE_KILLPRIV, FUSE_CAP_HANDLE_KILLPRIV },
	{ FUSE_CACHE_SYMLINKS, FUSE_CAP_CACHE_SYMLINKS },
	{ FUSE_NO_OPENDIR_SUPPORT, FUSE_CAP_NO_OPENDIR_SUPPORT },
	{ FUSE_EXPLICIT_INVAL_DATA, FUSE_CAP_EXPLICIT_INVAL_DATA },
};

/*
 * Create a session: copy the ops tables (op_size bytes of op, the rest of
 * our struct zeroed so that a smaller table from an older API works).
 * Returns the session or NULL.
 */
struct fuse_session *fuse_virtio_session_new(const struct fuse_lowlevel_ops *op,
					     size_t op_size,
					     const struct fuse_virtio_ops *xop,
					     void *userdata)
{
	struct fuse_session *se = calloc(1, sizeof(*se));

	if (!se) {
		LOG_ERR("fuse: cannot allocate the session");
		return NULL;
	}
	if (op) {
		if (op_size > sizeof(se->op)) {
			LOG_WARN("fuse: ops table larger than expected "
				 "(%zu > %zu), extra members ignored",
				 op_size, sizeof(se->op));
			op_size = sizeof(se->op);
		}
		memcpy(&se->op, op, op_size);
	}
	if (xop)
		se->xop = *xop;
	se->userdata = userdata;
	pthread_mutex_init(&se->lock, NULL);
	atomic_init(&se->ready, false);
	atomic_init(&se->flags, 0);
	atomic_init(&se->minor, 0);
	atomic_init(&se->max_write, FV_MAX_WRITE);
	return se;
}

/* Free a session (no worker may still use it).  NULL is ignored. */
void fuse_virtio_session_free(struct fuse_session *se)
{
	if (!se)
		return;
	pthread_mutex_destroy(&se->lock);
	free(se);
}

/*
 * Allocate a worker (the per-thread scratch of fuse_session_process()).
 * Returns it, or NULL on allocation failure.
 */
struct fuse_worker *fuse_worker_new(struct fuse_session *se)
{
	struct fuse_worker *w;

	if (!se)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto fail;
	w->se = se;
	w->bufv = calloc(1, sizeof(struct fuse_bufvec) +
			       (FV_MAX_IOV - 1) * sizeof(struct fuse_buf));
	if (!w->bufv)
		goto fail;
	if (!se->op.write_buf && se->op.write) {
		w->wbuf = malloc(FV_MAX_WRITE);
		if (!w->wbuf)
			goto fail;
	}
	return w;
fail:
	LOG_ERR("fuse: cannot allocate a worker");
	fuse_worker_free(w);
	return NULL;
}

/* Free a worker.  NULL is ignored. */
void fuse_worker_free(struct fuse_worker *w)
{
	if (!w)
		return;
	free(w->bufv);
	free(w->wbuf);
	free(w);
}

/* Publish st as the negotiated state; se->lock held. */
static void publish_state(struct fuse_session *se,
			  const struct fv_session_state *st)
{
	se->st = *st;
	atomic_store_explicit(&se->flags, st->flags, memory_order_relaxed);
	atomic_store_explicit(&se->minor, st->minor, memory_order_relaxed);
	atomic_store_explicit(&se->max_write, st->max_write,
			      memory_order_relaxed);
	atomic_store_explicit(&se->ready, st->initialized, memory_order_release);
}

/* Forget the negotiated state; se->lock held. */
static void clear_state(struct fuse_session *se)
{
	struct fv_session_state st = { .initialized = false,
				       .max_write = FV_MAX_WRITE };

	publish_state(se, &st);
}

/*
 * RESET_DEVICE: forget the negotiated session and every fs object (fs
 * reset op).  The queues are stopped by the caller.
 */
void fuse_session_reset_state(struct fuse_session *se)
{
	pthread_mutex_lock(&se->lock);
	if (se->xop.reset)
		se->xop.reset(se->userdata);
	se->need_reset = false;
	clear_state(se);
	pthread_mutex_unlock(&se->lock);
}

/* True once INIT completed (and no DESTROY/reset since). */
bool fuse_session_initialized(const struct fuse_session *se)
{
	return atomic_load_explicit(&((struct fuse_session *)se)->ready,
				    memory_order_acquire);
}

/* Copy the negotiated state out of se into *st. */
void fuse_session_get_state(const struct fuse_session *se,
			    struct fv_session_state *st)
{
	struct fuse_session *mse = (struct fuse_session *)se;

	pthread_mutex_lock(&mse->lock);
	*st = mse->st;
	pthread_mutex_unlock(&mse->lock);
}

/*
 * Install a migrated negotiated state.  Values outside what this layer
 * could have negotiated are clamped (and logged): the state loader
 * validates the blob, this only keeps the session self-consistent.
 */
void fuse_session_set_state(struct fuse_session *se,
			    const struct fv_session_state *st)
{
	struct fv_session_state s = *st;

	if (s.initialized) {
		if (s.minor < FV_PROTO_MINOR_MIN || s.minor > FV_PROTO_MINOR) {
			LOG_WARN("fuse: migrated minor %u out of range, "
				 "clamped", s.minor);
			s.minor = s.minor < FV_PROTO_MINOR_MIN ?
				  FV_PROTO_MINOR_MIN : FV_PROTO_MINOR;
		}
		if (s.flags & ~FV_SUPPORTED_FLAGS) {
			LOG_WARN("fuse: migrated flags 0x%llx include "
				 "unsupported 0x%llx, dropped",
				 (unsigned long long)s.flags,
				 (unsigned long long)(s.flags & ~FV_SUPPORTED_FLAGS));
			s.flags &= FV_SUPPORTED_FLAGS;
		}
		if (s.max_write < 4096 || s.max_write > FV_MAX_WRITE) {
			LOG_WARN("fuse: migrated max_write %u clamped",
				 s.max_write);
			s.max_write = s.max_write < 4096 ? 4096 : FV_MAX_WRITE;
		}
	} else {
		memset(&s, 0, sizeof(s));
		s.max_write = FV_MAX_WRITE;
	}
	pthread_mutex_lock(&se->lock);
	se->need_reset = false;
	publish_state(se, &s);
	pthread_mutex_unlock(&se->lock);
}

/* ---- INIT ---- */

/* Default wants when the fs offers no init callback at all. */
static uint64_t default_want(const struct fuse_session *se)
{
	uint64_t w = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_AUTO_INVAL_DATA |
		     FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS;

	if (se->op.getlk && se->op.setlk)
		w |= FUSE_POSIX_LOCKS;
	if (se->op.flock)
		w |= FUSE_FLOCK_LOCKS;
	if (se->op.readdirplus)
		w |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
	if (se->op.ioctl)
		w |= FUSE_HAS_IOCTL_DIR;
	return w;
}

/* Negotiate through libfuse's ->init(fuse_conn_info) for file systems
 * that do not implement init_ext; se->lock held. */
static void init_via_conn(struct fuse_session *se, struct fv_init *ini)
{
	struct fuse_conn_info conn;
	uint64_t want = default_want(se) & ini->offered;

	memset(&conn, 0, sizeof(conn));
	conn.proto_major = FV_PROTO_MAJOR;
	conn.proto_minor = ini->minor;
	conn.max_write = ini->max_write;
	conn.max_read = 0;
	conn.max_readahead = ini->max_readahead;
	conn.max_background = ini->max_background;
	conn.congestion_threshold = ini->congestion_threshold;
	conn.time_gran = ini->time_gran;
	for (size_t i = 0; i < sizeof(fv_cap_map) / sizeof(fv_cap_map[0]); i++) {
		if (ini->offered & fv_cap_map[i].flag)
			conn.capable |= fv_cap_map[i].cap;
		if (want & fv_cap_map[i].flag)
			conn.want |= fv_cap_map[i].cap;
	}
	se->op.init(se->userdata, &conn);

	ini->want = 0;
	for (size_t i = 0; i < sizeof(fv_cap_map) / sizeof(fv_cap_map[0]); i++)
		if (conn.want & fv_cap_map[i].cap)
			ini->want |= fv_cap_map[i].flag;
	ini->max_write = conn.max_write;
	ini->max_readahead = conn.max_readahead;
	ini->max_background = conn.max_background > UINT16_MAX ?
			      UINT16_MAX : (uint16_t)conn.max_background;
	ini->congestion_threshold = conn.congestion_threshold > UINT16_MAX ?
				    UINT16_MAX :
				    (uint16_t)conn.congestion_threshold;
	ini->time_gran = conn.time_gran;
}

/*
 * FUSE_INIT.  Version rules: major < 7 or minor < FV_PROTO_MINOR_MIN ->
 * EPROTO; major > 7 -> reply with our major/minor only (8 bytes) and stay
 * uninitialized, the guest re-sends INIT with major 7.  An INIT on an
 * initialized session, or after DESTROY, first calls the fs reset op.
 * The fs may refuse INIT (fv_init.error): that errno is answered and the
 * session stays uninitialized.
 */
int fv_do_init(struct fuse_req *req, struct fv_rcur *c)
{
	struct fuse_session *se = req->se;
	struct fuse_init_in in;
	struct fuse_init_out out;
	struct fv_session_state st;
	struct fv_init ini;
	size_t got = c->left < sizeof(in) ? c->left : sizeof(in);
	uint64_t gflags;

	memset(&in, 0, sizeof(in));
	if (got < 2 * sizeof(uint32_t) || fv_rcur_copy(c, &in, got) < 0) {
		LOG_DBG("fuse: INIT: short argument (%zu bytes)", got);
		return -EINVAL;
	}
	memset(&out, 0, sizeof(out));
	out.major = FV_PROTO_MAJOR;
	out.minor = FV_PROTO_MINOR;
	if (in.major > FV_PROTO_MAJOR) {
		LOG_INFO("fuse: guest offers protocol %u.%u, answering %u.%u",
			 in.major, in.minor, FV_PROTO_MAJOR, FV_PROTO_MINOR);
		return fv_reply_ok(req, &out, FUSE_COMPAT_INIT_OUT_SIZE);
	}
	if (in.major < FV_PROTO_MAJOR || in.minor < FV_PROTO_MINOR_MIN) {
		LOG_ERR("fuse: guest protocol %u.%u unsupported (need %u.%u+)",
			in.major, in.minor, FV_PROTO_MAJOR, FV_PROTO_MINOR_MIN);
		return -EPROTO;
	}
	if (got < offsetof(struct fuse_init_in, flags2)) {
		LOG_DBG("fuse: INIT: short argument (%zu bytes)", got);
		return -EINVAL;
	}
	gflags = in.flags;
	if ((in.flags & FUSE_INIT_EXT) &&
	    got >= offsetof(struct fuse_init_in, flags2) + sizeof(in.flags2))
		gflags |= (uint64_t)in.flags2 << 32;

	memset(&ini, 0, sizeof(ini));
	ini.minor = in.minor;
	ini.offered = gflags & FV_SUPPORTED_FLAGS;
	ini.max_write = FV_MAX_WRITE;
	ini.max_readahead = in.max_readahead;
	ini.time_gran = 1;
	ini.max_background = FV_DEFAULT_MAX_BACKGROUND;
	ini.congestion_threshold = FV_DEFAULT_CONGESTION;

	pthread_mutex_lock(&se->lock);
	if (se->need_reset || atomic_load(&se->ready)) {
		LOG_INFO("fuse: new INIT, forgetting the previous session");
		atomic_store_explicit(&se->ready, false, memory_order_release);
		if (se->xop.reset)
			se->xop.reset(se->userdata);
		se->need_reset = false;
	}
	if (se->xop.init_ext)
		se->xop.init_ext(se->userdata, &ini);
	else if (se->op.init)
		init_via_conn(se, &ini);
	else
		ini.want = default_want(se);
	if (ini.error < 0) {
		/* The fs refused (it logged why): stay uninitialized. */
		clear_state(se);
		pthread_mutex_unlock(&se->lock);
		LOG_DBG("fuse: INIT refused by the file system: %s",
			 strerror(-ini.error));
		return ini.error;
	}

	ini.want &= ini.offered;
	ini.want |= ini.offered & FV_ALWAYS_FLAGS;
	if (ini.max_write < 4096)
		ini.max_write = 4096;
	if (ini.max_write > FV_MAX_WRITE)
		ini.max_write = FV_MAX_WRITE;
	if (ini.max_write > 4096)
		ini.want |= ini.offered & FUSE_BIG_WRITES;
	if (ini.max_readahead > in.max_readahead)
		ini.max_readahead = in.max_readahead;
	if (ini.time_gran == 0 || ini.time_gran > 1000000000)
		ini.time_gran = 1;

	out.minor = in.minor < FV_PROTO_MINOR ? in.minor : FV_PROTO_MINOR;
	out.max_readahead = ini.max_readahead;
	out.flags = (uint32_t)ini.want;
	out.flags2 = (uint32_t)(ini.want >> 32);
	out.max_background = ini.max_background;
	out.congestion_threshold = ini.congestion_threshold;
	out.max_write = ini.max_write;
	out.time_gran = ini.time_gran;
	out.max_pages = (uint16_t)((ini.max_write + 4095) / 4096);
	out.map_alignment = 0;

	memset(&st, 0, sizeof(st));
	st.initialized = true;
	st.minor = out.minor;
	st.flags = ini.want;
	st.max_write = ini.max_write;
	st.max_readahead = ini.max_readahead;
	st.time_gran = ini.time_gran;
	st.max_background = ini.max_background;
	st.congestion_threshold = ini.congestion_threshold;
	publish_state(se, &st);
	pthread_mutex_unlock(&se->lock);

	LOG_INFO("fuse: INIT %u.%u, flags 0x%llx, max_write %u",
		 out.major, out.minor, (unsigned long long)ini.want,
		 ini.max_write);
	/* The session is live from here: the reply carries this request's
	 * own flags snapshot. */
	req->flags = ini.want;
	req->minor = out.minor;
	return fv_reply_ok(req, &out, sizeof(out));
}

/* FUSE_DESTROY: call the fs destroy op, become uninitialized; the next
 * INIT resets the fs first. */
int fv_do_destroy(struct fuse_req *req, struct fv_rcur *c)
{
	struct fuse_session *se = req->se;

	(void)c;
	pthread_mutex_lock(&se->lock);
	if (atomic_load(&se->ready)) {
		if (se->op.destroy)
			se->op.destroy(se->userdata);
		se->need_reset = true;
		clear_state(se);
	}
	pthread_mutex_unlock(&se->lock);
	LOG_INFO("fuse: DESTROY");
	return fuse_reply_err(req, 0);
}

/* ---- request processing ---- */

/* Prepare w->req for one element; returns it. */
static struct fuse_req *req_start(struct fuse_worker *w,
				  const struct iovec *in, unsigned in_num,
				  size_t in_cap)
{
	struct fuse_req *req = &w->req;
	struct fuse_session *se = w->se;

	memset(req, 0, sizeof(*req));
	req->se = se;
	req->w = w;
	req->unique = w->ih.unique;
	req->nodeid = w->ih.nodeid;
	req->opcode = w->ih.opcode;
	req->ctx.uid = w->ih.uid;
	req->ctx.gid = w->ih.gid;
	req->ctx.pid = (pid_t)w->ih.pid;
	req->ctx.umask = 0;
	req->in = in;
	req->in_num = in_num;
	req->in_cap = in_cap;
	req->noreply = fv_opcode_noreply(req->opcode);
	req->overflow_err = EIO;
	return req;
}

/*
 * Process one request: validate, dispatch, reply into `in`.  See the top
 * of the file for the rules.  Returns 0 (with *written the reply length,
 * 0 for requests without reply) or a negative errno when the element was
 * unusable (nothing written).
 */
int fuse_session_process(struct fuse_worker *w,
			 const struct iovec *out, unsigned out_num,
			 const struct iovec *in, unsigned in_num,
			 size_t *written)
{
	struct fuse_session *se;
	struct fuse_req *req;
	struct fv_rcur c, ext;
	size_t out_total, in_total, extlen;
	bool ready;
	int err;

	*written = 0;
	if (!w || out_num > FV_MAX_IOV || in_num > FV_MAX_IOV ||
	    (out_num && !out) || (in_num && !in)) {
		LOG_DBG("fuse: bad element (%u out, %u in buffers)",
			out_num, in_num);
		return -EINVAL;
	}
	se = w->se;
	out_total = fv_iov_total(out, out_num);
	in_total = fv_iov_total(in, in_num);

	fv_rcur_init(&c, out, out_num, out_total);
	if (fv_rcur_copy(&c, &w->ih, sizeof(w->ih)) < 0) {
		LOG_DBG("fuse: request shorter than its header (%zu bytes)",
			out_total);
		return -EINVAL;
	}
	req = req_start(w, in, in_num, in_total);
	if (!req->noreply && in_total < FV_OUT_HDR) {
		LOG_DBG("fuse: %s unique %llu: reply buffers too small "
			"(%zu bytes)", fv_opcode_name(req->opcode),
			(unsigned long long)req->unique, in_total);
		return -EINVAL;
	}

	if (w->ih.len < sizeof(w->ih) || w->ih.len > out_total) {
		LOG_DBG("fuse: %s unique %llu: in.len %u but %zu bytes",
			fv_opcode_name(req->opcode),
			(unsigned long long)req->unique, w->ih.len, out_total);
		err = -EINVAL;
		goto reply_err;
	}
	extlen = (size_t)w->ih.total_extlen * 8;
	if (extlen > w->ih.len - sizeof(w->ih)) {
		LOG_DBG("fuse: %s unique %llu: extensions (%zu) beyond in.len",
			fv_opcode_name(req->opcode),
			(unsigned long long)req->unique, extlen);
		err = -EINVAL;
		goto reply_err;
	}
	/* c: the arguments; ext: the extension area at the end. */
	ext = c;
	c.left = w->ih.len - sizeof(w->ih) - extlen;
	fv_rcur_skip(&ext, c.left);
	ext.left = extlen;

	ready = atomic_load_explicit(&se->ready, memory_order_acquire);
	if (ready) {
		req->flags = atomic_load_explicit(&se->flags,
						  memory_order_relaxed);
		req->minor = atomic_load_explicit(&se->minor,
						  memory_order_relaxed);
	}
	if (!ready && req->opcode != FUSE_INIT) {
		LOG_DBG("fuse: %s before INIT", fv_opcode_name(req->opcode));
		if (req->noreply)
			return 0;
		err = -EIO;
		goto reply_err;
	}

	err = fv_dispatch(req, &c, &ext);
	if (err)
		goto reply_err;
	if (!req->replied && !req->noreply) {
		LOG_ERR("fuse: %s unique %llu: the file system did not reply",
			fv_opcode_name(req->opcode),
			(unsigned long long)req->unique);
		fuse_reply_err(req, EIO);
	}
	*written = req->written;
	return 0;

reply_err:
	if (req->noreply)
		return err; /* malformed request without reply: dropped */
	if (!req->replied)
		fuse_reply_err(req, -err);
	*written = req->written;
	return 0;
}
