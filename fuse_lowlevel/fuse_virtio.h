/*
 * fuse_virtio.h - the FUSE session over virtqueue elements.
 *
 * This is the interface between the queue layer (virtiofsd/) and the FUSE
 * layer (fuse_lowlevel/), and the virtio-fs extensions offered to the file
 * system (passthrough/) beyond libfuse 3.14's struct fuse_lowlevel_ops.
 *
 * The queue layer hands over one request as two iovec arrays that point
 * into mapped guest memory: `out` is what the driver wrote (the FUSE
 * request), `in` is where the reply goes.  The session validates the
 * request, dispatches it to the file system, and writes the reply into
 * `in`.  It never sees descriptors, the memory table or the dirty log: the
 * queue layer logs the bytes reported as written.
 *
 * Threading: fuse_session_process() may be called concurrently from many
 * threads, each with its own struct fuse_worker.  Replies are synchronous:
 * every op must reply (or call fuse_reply_none) before it returns.
 */
#ifndef FUSE_VIRTIO_H
#define FUSE_VIRTIO_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 35
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <fuse3/fuse_lowlevel.h>

/* FUSE protocol version we speak, and the oldest minor we accept. */
#define FV_PROTO_MAJOR 7
#define FV_PROTO_MINOR 38
#define FV_PROTO_MINOR_MIN 27

/* Largest WRITE payload we negotiate (max_write), and max_pages for it. */
#define FV_MAX_WRITE (1024 * 1024)
#define FV_MAX_PAGES (FV_MAX_WRITE / 4096)

/* Maximum number of iovecs in one request or reply, per side. */
#define FV_MAX_IOV 1024

/*
 * INIT negotiation, as seen by the file system.  The session fills `offered`
 * with the kernel's FUSE_* INIT flags (from <linux/fuse.h>, 64 bits, already
 * restricted to what the session layer itself implements); the file system's
 * init_ext sets `want` to the flags it wants (a subset of `offered`) and may
 * lower max_write or set the timing fields.
 */
struct fv_init {
	uint32_t minor;          /* the guest's minor version */
	uint64_t offered;        /* FUSE_* flags the guest offers */
	uint64_t want;           /* FUSE_* flags the fs wants (subset) */
	uint32_t max_write;      /* in: FV_MAX_WRITE; fs may lower it */
	uint32_t max_readahead;  /* from the guest */
	uint32_t time_gran;      /* ns, default 1 */
	uint16_t max_background; /* default 65535 */
	uint16_t congestion_threshold;
	int error;               /* fs sets a negative errno to refuse INIT:
				    the guest gets that error, the session
				    stays uninitialized */
};

/*
 * Operations of virtio-fs that struct fuse_lowlevel_ops (libfuse 3.14)
 * lacks.  Any member may be NULL: the session then answers ENOSYS (or, for
 * init_ext, negotiates nothing optional).
 */
struct fuse_virtio_ops {
	/* INIT: choose flags. Called instead of fuse_lowlevel_ops.init. */
	void (*init_ext)(void *userdata, struct fv_init *init);
	/* FUSE_SYNCFS on the file system containing ino. */
	void (*syncfs)(fuse_req_t req, fuse_ino_t ino);
	/* FUSE_TMPFILE: like create, but the file has no name. */
	void (*tmpfile)(fuse_req_t req, fuse_ino_t parent, mode_t mode,
			struct fuse_file_info *fi);
	/* RESET_DEVICE or a new INIT after DESTROY: forget all FUSE state
	 * (every inode but the root, every handle). */
	void (*reset)(void *userdata);
};

struct fuse_session;
struct fuse_worker;

/*
 * Create a session.
 * op/op_size: the file system's lowlevel ops; xop: extensions (may be NULL);
 * userdata: returned by fuse_req_userdata().
 * Returns the session, or NULL on allocation failure.
 */
struct fuse_session *fuse_virtio_session_new(const struct fuse_lowlevel_ops *op,
					     size_t op_size,
					     const struct fuse_virtio_ops *xop,
					     void *userdata);

/* Free a session created by fuse_virtio_session_new(). */
void fuse_virtio_session_free(struct fuse_session *se);

/*
 * Create per-thread scratch state for fuse_session_process(), so that no
 * request needs an allocation.  Returns NULL on allocation failure.
 */
struct fuse_worker *fuse_worker_new(struct fuse_session *se);

/* Free a worker created by fuse_worker_new(). */
void fuse_worker_free(struct fuse_worker *w);

/*
 * Process one FUSE request.
 * w: this thread's worker; out/out_num: the request (driver-readable
 * buffers); in/in_num: the reply buffers (device-writable).
 * On return *written holds the number of bytes written into `in`, which the
 * queue layer reports as the used length (0 for requests without reply).
 * Returns 0, or a negative errno when the element was unusable (then no
 * reply was written; the error has been logged).
 */
int fuse_session_process(struct fuse_worker *w,
			 const struct iovec *out, unsigned out_num,
			 const struct iovec *in, unsigned in_num,
			 size_t *written);

/*
 * Advice for the queue layer: may the request in `out` take long (data
 * I/O, a blocking lock, directory changes) rather than a few microseconds?
 * Reads only the opcode; a malformed request counts as quick.
 */
bool fuse_request_is_slow(const struct iovec *out, unsigned out_num);

/*
 * May the request in `out` block for an unbounded time (SETLKW: a POSIX
 * or flock lock wait)?  Such requests never run in a ring's thread.
 */
bool fuse_request_may_block(const struct iovec *out, unsigned out_num);

/*
 * Forget all FUSE state: INIT must be done again and the file system's
 * reset op is called.  Used for RESET_DEVICE.  Must not race with
 * fuse_session_process() (queues are stopped).
 */
void fuse_session_reset_state(struct fuse_session *se);

/* True once INIT has completed (and no DESTROY/reset since). */
bool fuse_session_initialized(const struct fuse_session *se);

/*
 * The negotiated session, for migration: everything INIT decided.
 * Saved by the source, restored on the destination before any request.
 */
struct fv_session_state {
	bool initialized;
	uint32_t minor;
	uint64_t flags;          /* negotiated FUSE_* INIT flags */
	uint32_t max_write;
	uint32_t max_readahead;
	uint32_t time_gran;
	uint16_t max_background;
	uint16_t congestion_threshold;
};

/* Copy the negotiated session out of se into st. */
void fuse_session_get_state(const struct fuse_session *se,
			    struct fv_session_state *st);

/* Install a migrated negotiated session st into se (no INIT call on the fs;
 * the fs state is restored separately). */
void fuse_session_set_state(struct fuse_session *se,
			    const struct fv_session_state *st);

/* Negotiated FUSE_* flags of the session (0 before INIT). */
uint64_t fuse_req_session_flags(fuse_req_t req);

/*
 * Request extensions (FUSE_SECURITY_CTX, FUSE_CREATE_SUPP_GROUP).
 * fuse_req_secctx: the first security context's name and value, or
 * -ENODATA if the request carried none.
 * fuse_req_supp_gid: the supplementary group, or -ENODATA.
 */
int fuse_req_secctx(fuse_req_t req, const char **name, const void **value,
		    size_t *size);
int fuse_req_supp_gid(fuse_req_t req, gid_t *gid);

/*
 * True when the guest asked to drop privileges with this request:
 * WRITE with FUSE_WRITE_KILL_SUIDGID, OPEN/CREATE/TMPFILE with
 * FUSE_OPEN_KILL_SUIDGID, SETXATTR with FUSE_SETXATTR_ACL_KILL_SGID
 * (libfuse 3.14's fuse_file_info has no field for these).
 */
bool fuse_req_kill_priv(fuse_req_t req);

/*
 * Set fuse_attr.flags (FUSE_ATTR_SUBMOUNT, FUSE_ATTR_DAX) for the
 * attributes encoded by the following fuse_reply_entry/create/attr and
 * fuse_add_direntry_plus calls of this request (0 by default).
 */
void fuse_req_set_attr_flags(fuse_req_t req, uint32_t attr_flags);

#endif
