/*
 * vfe_fuse.h - a small FUSE client over the test front-end's vrings.
 *
 * It plays the guest's virtiofs driver: a request is built from
 * <linux/fuse.h> structs into a slot's request buffer in guest RAM, the
 * reply goes into the slot's reply buffer, bulk data (WRITE payload, READ
 * data) into the slot's data buffer, split into descriptors of `seg` bytes;
 * the whole chain is direct or through an indirect table.  Queue 0 is
 * hiprio (FORGET, BATCH_FORGET: no reply), queues 1..N carry requests.
 *
 * Every reply is validated: used length == out.len, unique matches, error
 * in (-4096, 0], error replies carry only the header, and requests without
 * reply come back with used length 0.
 *
 * Return convention of the op helpers: 0 or the FUSE error (-errno from
 * the reply), or -VFE_ETRANSPORT (no reply: timeout, ring trouble) or
 * -VFE_EPROTO (an invalid reply); the text is in vfe_msg_last_error().
 */
#ifndef VFE_FUSE_H
#define VFE_FUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/fuse.h>
#include "vfe_dev.h"

/* Errors outside the errno range, returned negated. */
#define VFE_ETRANSPORT 10001
#define VFE_EPROTO 10002

/* Slot buffers. */
#define VFE_REQ_CAP (16u * 1024)          /* request header + args */
#define VFE_REP_CAP (64u * 1024 + 4096)   /* reply header + small bodies */

/* vfe_fuse_call.queue: use the client's default request queue. */
#define VFE_Q_DEFAULT (~0u)

/* vfe_fuse_call.flags */
#define VFE_NOREPLY 0x1u      /* no reply expected (FORGET, BATCH_FORGET) */
#define VFE_INDIRECT 0x2u     /* force an indirect table */
#define VFE_DIRECT 0x4u       /* force direct descriptors */
#define VFE_SPLIT_HDR 0x8u    /* header and args in separate descriptors */
#define VFE_NOKICK 0x10u      /* publish but don't kick (batching) */
#define VFE_RAW 0x20u         /* in[] is the whole request, header included */

struct vfe_fuse_call {
	uint32_t opcode;
	uint64_t nodeid;
	struct iovec in[4];       /* argument parts after fuse_in_header */
	unsigned nin;
	const void *wdata;        /* WRITE payload (data buffer, readable) */
	size_t wlen;
	void *out;                /* reply body (after fuse_out_header) */
	size_t out_cap;           /* reply area size beyond the header */
	size_t out_len;           /* result: body bytes copied to out */
	void *rdata;              /* READ data (data buffer, writable) */
	size_t rlen;              /* writable data bytes offered */
	size_t rgot;              /* result: data bytes received */
	unsigned queue;           /* vring index, or VFE_Q_DEFAULT */
	unsigned flags;           /* VFE_* */
	uint32_t seg;             /* data bytes per descriptor; 0 = client's */
	uint32_t uid, gid;        /* 0 = client's */
	uint64_t data_gpa;        /* data buffer GPA; 0 = the slot's */
};

struct vfe_fuse_req {
	/* guest buffers of the slot */
	uint64_t req_gpa, rep_gpa, data_gpa;
	uint64_t data_used_gpa;   /* data buffer of the current request */
	bool busy;                /* slot taken */
	bool done;                /* used entry seen */
	unsigned queue;
	int head;
	unsigned flags;
	uint64_t unique;
	uint32_t opcode;
	size_t rep_cap;           /* reply-area bytes offered */
	size_t data_in;           /* writable data bytes offered */
	uint32_t used_len;
	int status;               /* 0 or -VFE_ETRANSPORT/-VFE_EPROTO */
	struct fuse_out_header oh;
};

struct vfe_fuse {
	struct vfe_dev *dev;
	uint64_t next_unique;
	uint32_t uid, gid, pid;
	int timeout_ms;
	unsigned default_queue;   /* 1 */
	uint32_t seg;             /* default data bytes per descriptor */
	bool indirect;            /* default: indirect tables (if negotiated) */
	unsigned nslots;
	uint64_t data_cap;
	struct vfe_fuse_req *slots;
	struct fuse_init_out init; /* the INIT reply */
	uint32_t minor;
};

/*
 * Set up a client on dev with nslots request slots (0 = 16) whose data
 * buffers hold data_cap bytes each (0 = 1 MiB + 64 KiB), allocated in
 * guest RAM.  Returns 0 or a negative errno.
 */
int vfe_fuse_client_init(struct vfe_fuse *f, struct vfe_dev *dev,
			 unsigned nslots, uint64_t data_cap);

/* Free the slot table (guest memory stays with the device). */
void vfe_fuse_client_destroy(struct vfe_fuse *f);

/*
 * Submit one request without waiting.  Returns the request (its slot), or
 * NULL with *err set (-EBUSY: no free slot, -ENOSPC: ring full, -EINVAL).
 */
struct vfe_fuse_req *vfe_fuse_submit(struct vfe_fuse *f,
				     const struct vfe_fuse_call *c, int *err);

/* Kick queue q (after VFE_NOKICK submissions). */
void vfe_fuse_kick(struct vfe_fuse *f, unsigned q);

/*
 * Wait for any completion on queue q.  *done receives the finished request
 * (already validated: see ->status).  Returns 0, or -VFE_ETRANSPORT on
 * timeout / notification trouble.
 */
int vfe_fuse_poll(struct vfe_fuse *f, unsigned q, int timeout_ms,
		  struct vfe_fuse_req **done);

/*
 * Collect a completion on queue q without waiting.  Returns 0 with *done
 * set, -EAGAIN when none is pending, -VFE_EPROTO on a bad used entry.
 */
int vfe_fuse_reap(struct vfe_fuse *f, unsigned q, struct vfe_fuse_req **done);

/*
 * Wait until r completes, collecting other completions on its queue.
 * Returns r->status, or -VFE_ETRANSPORT on timeout.
 */
int vfe_fuse_wait(struct vfe_fuse *f, struct vfe_fuse_req *r, int timeout_ms);

/*
 * The result of a finished request: copies the reply body to c->out
 * (c->out_len) and READ data to c->rdata (c->rgot).  Returns the FUSE
 * error (0 / -errno) or r->status when that is not 0.
 */
int vfe_fuse_result(struct vfe_fuse *f, struct vfe_fuse_req *r,
		    struct vfe_fuse_call *c);

/* Release a request slot. */
void vfe_fuse_put(struct vfe_fuse *f, struct vfe_fuse_req *r);

/* submit + wait + result + put.  Returns as vfe_fuse_result(). */
int vfe_fuse_call(struct vfe_fuse *f, struct vfe_fuse_call *c);

/* Number of requests submitted and not yet put. */
unsigned vfe_fuse_busy(const struct vfe_fuse *f);

/* --- operations (return: see top of file) --- */

/* FUSE_INIT with protocol 7.38 and the usual flags; fills f->init. */
int vfe_fuse_init(struct vfe_fuse *f);
int vfe_fuse_lookup(struct vfe_fuse *f, uint64_t parent, const char *name,
		    struct fuse_entry_out *e);
/* FORGET / BATCH_FORGET go to the hiprio queue (0) and have no reply. */
int vfe_fuse_forget(struct vfe_fuse *f, uint64_t nodeid, uint64_t nlookup);
int vfe_fuse_batch_forget(struct vfe_fuse *f,
			  const struct fuse_forget_one *items, unsigned n);
/* fh: with FUSE_GETATTR_FH when has_fh. */
int vfe_fuse_getattr(struct vfe_fuse *f, uint64_t nodeid, bool has_fh,
		     uint64_t fh, struct fuse_attr_out *a);
int vfe_fuse_setattr(struct vfe_fuse *f, uint64_t nodeid,
		     const struct fuse_setattr_in *in, struct fuse_attr_out *a);
int vfe_fuse_mknod(struct vfe_fuse *f, uint64_t parent, const char *name,
		   uint32_t mode, uint32_t rdev, struct fuse_entry_out *e);
int vfe_fuse_mkdir(struct vfe_fuse *f, uint64_t parent, const char *name,
		   uint32_t mode, struct fuse_entry_out *e);
int vfe_fuse_unlink(struct vfe_fuse *f, uint64_t parent, const char *name);
int vfe_fuse_rmdir(struct vfe_fuse *f, uint64_t parent, const char *name);
int vfe_fuse_symlink(struct vfe_fuse *f, uint64_t parent, const char *name,
		     const char *target, struct fuse_entry_out *e);
/* buf receives the target (NUL-terminated when it fits); *len its length. */
int vfe_fuse_readlink(struct vfe_fuse *f, uint64_t nodeid, char *buf,
		      size_t cap, size_t *len);
int vfe_fuse_rename(struct vfe_fuse *f, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname);
int vfe_fuse_rename2(struct vfe_fuse *f, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname, uint32_t flags);
int vfe_fuse_link(struct vfe_fuse *f, uint64_t nodeid, uint64_t newparent,
		  const char *newname, struct fuse_entry_out *e);
int vfe_fuse_open(struct vfe_fuse *f, uint64_t nodeid, uint32_t flags,
		  struct fuse_open_out *o);
int vfe_fuse_create(struct vfe_fuse *f, uint64_t parent, const char *name,
		    uint32_t flags, uint32_t mode, struct fuse_entry_out *e,
		    struct fuse_open_out *o);
/* *got: bytes read into buf. */
int vfe_fuse_read(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		  uint64_t off, void *buf, size_t size, size_t *got);
/* *written: the size the reply reports. */
int vfe_fuse_write(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		   uint64_t off, const void *buf, size_t size,
		   size_t *written);
int vfe_fuse_flush(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh);
int vfe_fuse_fsync(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		   bool datasync);
int vfe_fuse_release(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		     uint32_t flags);
int vfe_fuse_opendir(struct vfe_fuse *f, uint64_t nodeid,
		     struct fuse_open_out *o);
/* buf receives up to size bytes of dirents; *len their length. */
int vfe_fuse_readdir(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		     uint64_t off, uint32_t size, void *buf, size_t *len);
int vfe_fuse_readdirplus(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
			 uint64_t off, uint32_t size, void *buf, size_t *len);
int vfe_fuse_releasedir(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh);
int vfe_fuse_statfs(struct vfe_fuse *f, uint64_t nodeid,
		    struct fuse_statfs_out *s);
int vfe_fuse_access(struct vfe_fuse *f, uint64_t nodeid, uint32_t mask);

/* One parsed directory entry. */
struct vfe_dirent {
	uint64_t ino, off;
	uint32_t type;
	char name[256];
	size_t namelen;
	struct fuse_entry_out entry;   /* READDIRPLUS only */
};

/*
 * Parse the entry at *pos of a READDIR(PLUS) reply buf[0..len) and advance
 * *pos.  Returns 1 with *d filled, 0 at the end, -EPROTO when malformed.
 */
int vfe_dirent_next(const void *buf, size_t len, size_t *pos, bool plus,
		    struct vfe_dirent *d);

/* FUSE_INIT offering exactly flags (64 bits); fills f->init. */
int vfe_fuse_init_flags(struct vfe_fuse *f, uint64_t flags);
/* SETXATTR; the extended argument (setxattr_flags) is sent only when
 * FUSE_SETXATTR_EXT was negotiated. */
int vfe_fuse_setxattr(struct vfe_fuse *f, uint64_t nodeid, const char *name,
		      const void *value, size_t size, uint32_t flags,
		      uint32_t setxattr_flags);
/* GETXATTR / LISTXATTR: size 0 asks for the size, returned in *len;
 * otherwise *len is the number of bytes received into buf. */
int vfe_fuse_getxattr(struct vfe_fuse *f, uint64_t nodeid, const char *name,
		      void *buf, size_t size, size_t *len);
int vfe_fuse_listxattr(struct vfe_fuse *f, uint64_t nodeid, void *buf,
		       size_t size, size_t *len);
int vfe_fuse_removexattr(struct vfe_fuse *f, uint64_t nodeid,
			 const char *name);

#endif
