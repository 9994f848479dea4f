/*
 * fuse_req.c - accessors of a request for the file system: libfuse's
 * fuse_req_* functions and the virtio-fs extensions of fuse_virtio.h.
 * No locking: a request is owned by its worker thread.
 */
#include <errno.h>

#include "fuse_i.h"

/* The userdata given to fuse_virtio_session_new(). */
void *fuse_req_userdata(fuse_req_t req)
{
	return req->se->userdata;
}

/* The caller's uid, gid, pid (from the request header) and umask (from
 * MKNOD/MKDIR/CREATE/TMPFILE, else 0). */
const struct fuse_ctx *fuse_req_ctx(fuse_req_t req)
{
	return &req->ctx;
}

/* Supplementary groups of the caller: not available over virtio-fs.
 * Returns -ENOSYS (see fuse_req_supp_gid for the one group the guest may
 * send). */
int fuse_req_getgroups(fuse_req_t req, int size, gid_t list[])
{
	(void)req;
	(void)size;
	(void)list;
	return -ENOSYS;
}

/* Register an interrupt callback: requests are synchronous and virtio-fs
 * sends no INTERRUPT that could reach a running request, so it is never
 * called. */
void fuse_req_interrupt_func(fuse_req_t req, fuse_interrupt_func_t func,
			     void *data)
{
	(void)req;
	(void)func;
	(void)data;
}

/* Whether the request was interrupted: always 0 (see above). */
int fuse_req_interrupted(fuse_req_t req)
{
	(void)req;
	return 0;
}

/* Negotiated FUSE_* INIT flags of the session the request belongs to
 * (0 before INIT). */
uint64_t fuse_req_session_flags(fuse_req_t req)
{
	return req->flags;
}

/* The request's first security context: name, value, value size.
 * Returns 0, or -ENODATA if the request carried none. */
int fuse_req_secctx(fuse_req_t req, const char **name, const void **value,
		    size_t *size)
{
	if (!req->has_secctx)
		return -ENODATA;
	*name = req->secctx_name;
	*value = req->secctx_value;
	*size = req->secctx_size;
	return 0;
}

/* The supplementary group of a FUSE_CREATE_SUPP_GROUP extension.
 * Returns 0 with *gid set, or -ENODATA. */
int fuse_req_supp_gid(fuse_req_t req, gid_t *gid)
{
	if (!req->has_supp_gid)
		return -ENODATA;
	*gid = req->supp_gid;
	return 0;
}

/* Whether the guest asked to drop privileges (suid/sgid) on this request. */
bool fuse_req_kill_priv(fuse_req_t req)
{
	return req->kill_priv;
}

/* Set fuse_attr.flags for the attributes encoded by later replies and
 * direntries of this request. */
void fuse_req_set_attr_flags(fuse_req_t req, uint32_t attr_flags)
{
	req->attr_flags = attr_flags;
}
