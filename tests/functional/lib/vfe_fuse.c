/*
 * vfe_fuse.c - a small FUSE client over the test front-end's vrings.
 */
#include "vfe_fuse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SG 1100
#define OUT_HDR sizeof(struct fuse_out_header)
#define IN_HDR sizeof(struct fuse_in_header)

int vfe_fuse_client_init(struct vfe_fuse *f, struct vfe_dev *dev,
			 unsigned nslots, uint64_t data_cap)
{
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->next_unique = 1;
	f->uid = getuid();
	f->gid = getgid();
	f->pid = (uint32_t)getpid();
	f->timeout_ms = 10000;
	f->default_queue = dev->nvqs > 1 ? 1 : 0;
	f->seg = 0;
	f->indirect = true;
	f->nslots = nslots ? nslots : 16;
	f->data_cap = data_cap ? data_cap : (1u << 20) + (64u << 10);
	f->slots = calloc(f->nslots, sizeof(*f->slots));
	if (!f->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < f->nslots; i++) {
		struct vfe_fuse_req *r = &f->slots[i];
		int e = vfe_mem_zalloc(&dev->mem, VFE_REQ_CAP, VFE_PAGE,
				       &r->req_gpa);

		if (!e)
			e = vfe_mem_zalloc(&dev->mem, VFE_REP_CAP, VFE_PAGE,
					   &r->rep_gpa);
		if (!e)
			e = vfe_mem_alloc(&dev->mem, f->data_cap, VFE_PAGE,
					  &r->data_gpa);
		if (e) {
			vfe_fuse_client_destroy(f);
			return e;
		}
	}
	return 0;
}

void vfe_fuse_client_destroy(struct vfe_fuse *f)
{
	free(f->slots);
	f->slots = NULL;
	f->nslots = 0;
}

unsigned vfe_fuse_busy(const struct vfe_fuse *f)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->nslots; i++)
		n += f->slots[i].busy;
	return n;
}

/* Append [gpa, gpa+len) to sg in pieces of at most seg bytes. */
static int add_segs(struct vfe_sg *sg, unsigned *n, uint64_t gpa,
		    uint64_t len, uint32_t seg)
{
	while (len) {
		uint64_t l = seg && seg < len ? seg : len;

		if (*n >= MAX_SG)
			return -EINVAL;
		sg[*n].gpa = gpa;
		sg[*n].len = (uint32_t)l;
		(*n)++;
		gpa += l;
		len -= l;
	}
	return 0;
}

struct vfe_fuse_req *vfe_fuse_submit(struct vfe_fuse *f,
				     const struct vfe_fuse_call *c, int *err)
{
	struct vfe_dev *dev = f->dev;
	struct vfe_fuse_req *r = NULL;
	struct vfe_sg sg[MAX_SG];
	unsigned q = c->queue == VFE_Q_DEFAULT ? f->default_queue : c->queue;
	unsigned n_out = 0, n_in = 0;
	uint32_t seg = c->seg ? c->seg : f->seg;
	size_t args = 0, pos = 0;
	uint8_t *req;
	uint64_t data_gpa;
	bool indirect;
	int head;

	if (q >= dev->nvqs) {
		*err = -EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < f->nslots; i++) {
		if (!f->slots[i].busy) {
			r = &f->slots[i];
			break;
		}
	}
	if (!r) {
		*err = -EBUSY;
		return NULL;
	}
	for (unsigned i = 0; i < c->nin; i++)
		args += c->in[i].iov_len;
	if (args + IN_HDR > VFE_REQ_CAP || c->wlen > f->data_cap ||
	    c->rlen > f->data_cap || (c->wlen && c->rlen) ||
	    c->out_cap + OUT_HDR > VFE_REP_CAP || c->nin > 4) {
		*err = -EINVAL;
		return NULL;
	}
	data_gpa = c->data_gpa ? c->data_gpa : r->data_gpa;
	req = vfe_mem_ptr(&dev->mem, r->req_gpa, VFE_REQ_CAP);
	r->unique = f->next_unique++;
	if (!(c->flags & VFE_RAW)) {
		struct fuse_in_header h = {
			.len = (uint32_t)(IN_HDR + args + c->wlen),
			.opcode = c->opcode,
			.unique = r->unique,
			.nodeid = c->nodeid,
			.uid = c->uid ? c->uid : f->uid,
			.gid = c->gid ? c->gid : f->gid,
			.pid = f->pid,
		};

		memcpy(req, &h, sizeof(h));
		pos = sizeof(h);
	}
	for (unsigned i = 0; i < c->nin; i++) {
		memcpy(req + pos, c->in[i].iov_base, c->in[i].iov_len);
		pos += c->in[i].iov_len;
	}
	if ((c->flags & VFE_SPLIT_HDR) && !(c->flags & VFE_RAW) && args) {
		sg[n_out++] = (struct vfe_sg){ r->req_gpa, IN_HDR };
		sg[n_out++] = (struct vfe_sg){ r->req_gpa + IN_HDR,
					       (uint32_t)args };
	} else if (pos) {
		sg[n_out++] = (struct vfe_sg){ r->req_gpa, (uint32_t)pos };
	}
	if (c->wlen) {
		vfe_mem_write(&dev->mem, data_gpa, c->wdata, c->wlen);
		if (add_segs(sg, &n_out, data_gpa, c->wlen, seg)) {
			*err = -EINVAL;
			return NULL;
		}
	}
	r->rep_cap = 0;
	r->data_in = 0;
	if (!(c->flags & VFE_NOREPLY)) {
		r->rep_cap = OUT_HDR + c->out_cap;
		/* Poison the reply area: stale bytes must not pass as a reply. */
		memset(vfe_mem_ptr(&dev->mem, r->rep_gpa, r->rep_cap), 0xa5,
		       r->rep_cap);
		sg[n_out + n_in++] = (struct vfe_sg){ r->rep_gpa,
						      (uint32_t)r->rep_cap };
		if (c->rlen) {
			unsigned k = n_out + n_in;

			r->data_in = c->rlen;
			if (add_segs(sg, &k, data_gpa, c->rlen, seg)) {
				*err = -EINVAL;
				return NULL;
			}
			n_in = k - n_out;
		}
	}
	if (c->flags & VFE_INDIRECT)
		indirect = true;
	else if (c->flags & VFE_DIRECT)
		indirect = false;
	else
		indirect = f->indirect && n_out + n_in > 1 &&
			   (dev->acked_features & (1ull << VU_F_RING_INDIRECT_DESC));
	r->queue = q;
	r->flags = c->flags;
	r->opcode = c->opcode;
	r->done = false;
	r->status = 0;
	r->used_len = 0;
	memset(&r->oh, 0, sizeof(r->oh));
	head = vfe_vring_add(&dev->vq[q], sg, n_out, n_in, indirect, r);
	if (head < 0) {
		*err = head;
		return NULL;
	}
	r->head = head;
	r->data_used_gpa = data_gpa;
	r->busy = true;
	if (!(c->flags & VFE_NOKICK))
		vfe_vring_kick(&dev->vq[q]);
	*err = 0;
	return r;
}

void vfe_fuse_kick(struct vfe_fuse *f, unsigned q)
{
	vfe_vring_kick(&f->dev->vq[q]);
}

/* Check a finished request's reply; sets r->status. */
static void validate(struct vfe_fuse *f, struct vfe_fuse_req *r)
{
	const char *op_err = NULL;

	r->done = true;
	if (r->flags & VFE_NOREPLY) {
		if (r->used_len != 0) {
			vfe_msg_set_error("request %llu (opcode %u) has no reply but came back with used len %u",
					  (unsigned long long)r->unique,
					  r->opcode, r->used_len);
			r->status = -VFE_EPROTO;
		}
		return;
	}
	if (r->used_len < OUT_HDR) {
		vfe_msg_set_error("request %llu (opcode %u): used len %u < out header",
				  (unsigned long long)r->unique, r->opcode,
				  r->used_len);
		r->status = -VFE_EPROTO;
		return;
	}
	if (r->used_len > r->rep_cap + r->data_in) {
		vfe_msg_set_error("request %llu (opcode %u): used len %u exceeds the %zu writable bytes",
				  (unsigned long long)r->unique, r->opcode,
				  r->used_len, r->rep_cap + r->data_in);
		r->status = -VFE_EPROTO;
		return;
	}
	vfe_mem_read(&f->dev->mem, r->rep_gpa, &r->oh, sizeof(r->oh));
	if (r->oh.len != r->used_len)
		op_err = "out.len differs from the used length";
	else if (r->oh.unique != r->unique)
		op_err = "unique mismatch";
	else if (r->oh.error > 0 || r->oh.error <= -4096)
		op_err = "error out of range";
	else if (r->oh.error && r->oh.len != OUT_HDR)
		op_err = "error reply carries a body";
	if (op_err) {
		vfe_msg_set_error("request %llu (opcode %u): %s: out {len %u, error %d, unique %llu}, used len %u",
				  (unsigned long long)r->unique, r->opcode, op_err,
				  r->oh.len, r->oh.error,
				  (unsigned long long)r->oh.unique, r->used_len);
		r->status = -VFE_EPROTO;
	}
}

/* Pop every used entry of queue q. Returns 0 or -VFE_EPROTO. */
static int harvest(struct vfe_fuse *f, unsigned q, struct vfe_fuse_req **first)
{
	struct vfe_vring *vr = &f->dev->vq[q];
	int ret = 0;

	for (;;) {
		void *cookie;
		uint32_t len;
		int h = vfe_vring_get_used(vr, &len, &cookie);
		struct vfe_fuse_req *r = cookie;

		if (h == -EAGAIN)
			break;
		if (h < 0) {
			ret = -VFE_EPROTO;
			continue;
		}
		if (!r)
			continue;   /* a hand-written chain */
		r->used_len = len;
		validate(f, r);
		if (first && !*first)
			*first = r;
	}
	return ret;
}

/* A finished request of queue q not handed out yet, or NULL. */
static struct vfe_fuse_req *take_done(struct vfe_fuse *f, unsigned q)
{
	for (unsigned i = 0; i < f->nslots; i++) {
		struct vfe_fuse_req *r = &f->slots[i];

		if (r->busy && r->done && r->queue == q && r->head >= 0) {
			r->head = -1;   /* handed out */
			return r;
		}
	}
	return NULL;
}

int vfe_fuse_reap(struct vfe_fuse *f, unsigned q, struct vfe_fuse_req **done)
{
	int e = harvest(f, q, NULL);

	*done = take_done(f, q);
	if (*done)
		return 0;
	return e ? e : -EAGAIN;
}

int vfe_fuse_poll(struct vfe_fuse *f, unsigned q, int timeout_ms,
		  struct vfe_fuse_req **done)
{
	int64_t deadline = vfe_now_ms() + timeout_ms;

	*done = take_done(f, q);
	if (*done)
		return 0;
	for (;;) {
		int64_t left = deadline - vfe_now_ms();
		int e;

		e = vfe_vring_wait(&f->dev->vq[q], left > 0 ? (int)left : 0);
		if (e)
			return -VFE_ETRANSPORT;
		if (harvest(f, q, NULL))
			return -VFE_EPROTO;
		*done = take_done(f, q);
		if (*done)
			return 0;
	}
}

int vfe_fuse_wait(struct vfe_fuse *f, struct vfe_fuse_req *r, int timeout_ms)
{
	int64_t deadline = vfe_now_ms() + timeout_ms;

	while (!r->done) {
		int64_t left = deadline - vfe_now_ms();
		int e = vfe_vring_wait(&f->dev->vq[r->queue],
				       left > 0 ? (int)left : 0);

		if (e)
			return -VFE_ETRANSPORT;
		if (harvest(f, r->queue, NULL))
			return -VFE_EPROTO;
	}
	return r->status;
}

int vfe_fuse_result(struct vfe_fuse *f, struct vfe_fuse_req *r,
		    struct vfe_fuse_call *c)
{
	size_t body, in_rep, in_data;

	c->out_len = 0;
	c->rgot = 0;
	if (!r->done)
		return -VFE_ETRANSPORT;
	if (r->status)
		return r->status;
	if (r->flags & VFE_NOREPLY)
		return 0;
	body = r->used_len - OUT_HDR;
	in_rep = r->rep_cap - OUT_HDR;
	if (in_rep > body)
		in_rep = body;
	in_data = body - in_rep;
	if (c->out && in_rep) {
		c->out_len = in_rep < c->out_cap ? in_rep : c->out_cap;
		vfe_mem_read(&f->dev->mem, r->rep_gpa + OUT_HDR, c->out,
			     c->out_len);
	}
	if (in_data) {
		c->rgot = in_data;
		if (c->rdata)
			vfe_mem_read(&f->dev->mem, r->data_used_gpa, c->rdata,
				     in_data < c->rlen ? in_data : c->rlen);
	}
	return r->oh.error;
}

void vfe_fuse_put(struct vfe_fuse *f, struct vfe_fuse_req *r)
{
	(void)f;
	r->busy = false;
	r->done = false;
}

int vfe_fuse_call(struct vfe_fuse *f, struct vfe_fuse_call *c)
{
	struct vfe_fuse_req *r;
	int err, ret;

	r = vfe_fuse_submit(f, c, &err);
	if (!r) {
		vfe_msg_set_error("submit opcode %u: %s", c->opcode,
				  strerror(-err));
		return -VFE_ETRANSPORT;
	}
	ret = vfe_fuse_wait(f, r, f->timeout_ms);
	if (ret == -VFE_ETRANSPORT && !r->done) {
		/* Leave the slot busy: the device may still write into it. */
		return ret;
	}
	ret = vfe_fuse_result(f, r, c);
	vfe_fuse_put(f, r);
	return ret;
}

/* --- operations --- */

#define IOV(p, l) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (l) })

/* A call carrying up to two argument parts and a fixed-size reply body. */
static int simple(struct vfe_fuse *f, uint32_t op, uint64_t nodeid,
		  const void *a1, size_t l1, const void *a2, size_t l2,
		  void *out, size_t out_cap)
{
	struct vfe_fuse_call c = {
		.opcode = op, .nodeid = nodeid, .queue = VFE_Q_DEFAULT,
		.out = out, .out_cap = out_cap,
	};
	int r;

	if (a1)
		c.in[c.nin++] = IOV(a1, l1);
	if (a2)
		c.in[c.nin++] = IOV(a2, l2);
	r = vfe_fuse_call(f, &c);
	if (r == 0 && out && c.out_len != out_cap) {
		vfe_msg_set_error("opcode %u: reply body of %zu bytes, expected %zu",
				  op, c.out_len, out_cap);
		return -VFE_EPROTO;
	}
	return r;
}

/* Send FUSE_INIT offering flags; the reply lands in f->init. */
static int send_init(struct vfe_fuse *f, uint64_t flags)
{
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 128 * 1024,
		.flags = (uint32_t)flags,
		.flags2 = (uint32_t)(flags >> 32),
	};

	return simple(f, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, &f->init,
		      sizeof(f->init));
}

int vfe_fuse_init(struct vfe_fuse *f)
{
	uint64_t flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS |
			 FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT |
			 FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_FLOCK_LOCKS |
			 FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS |
			 FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO |
			 FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES |
			 FUSE_CACHE_SYMLINKS | FUSE_SUBMOUNTS | FUSE_INIT_EXT;
	int r = send_init(f, flags);

	if (r)
		return r;
	if (f->init.major != FUSE_KERNEL_VERSION ||
	    f->init.minor > FUSE_KERNEL_MINOR_VERSION || f->init.minor < 27) {
		vfe_msg_set_error("INIT replied version %u.%u", f->init.major,
				  f->init.minor);
		return -VFE_EPROTO;
	}
	f->minor = f->init.minor;
	return 0;
}

int vfe_fuse_lookup(struct vfe_fuse *f, uint64_t parent, const char *name,
		    struct fuse_entry_out *e)
{
	return simple(f, FUSE_LOOKUP, parent, name, strlen(name) + 1, NULL, 0,
		      e, sizeof(*e));
}

int vfe_fuse_forget(struct vfe_fuse *f, uint64_t nodeid, uint64_t nlookup)
{
	struct fuse_forget_in in = { .nlookup = nlookup };
	struct vfe_fuse_call c = {
		.opcode = FUSE_FORGET, .nodeid = nodeid, .queue = 0,
		.flags = VFE_NOREPLY, .in = { IOV(&in, sizeof(in)) }, .nin = 1,
	};

	return vfe_fuse_call(f, &c);
}

int vfe_fuse_batch_forget(struct vfe_fuse *f,
			  const struct fuse_forget_one *items, unsigned n)
{
	struct fuse_batch_forget_in in = { .count = n };
	struct vfe_fuse_call c = {
		.opcode = FUSE_BATCH_FORGET, .queue = 0, .flags = VFE_NOREPLY,
		.in = { IOV(&in, sizeof(in)), IOV(items, n * sizeof(*items)) },
		.nin = 2,
	};

	return vfe_fuse_call(f, &c);
}

int vfe_fuse_getattr(struct vfe_fuse *f, uint64_t nodeid, bool has_fh,
		     uint64_t fh, struct fuse_attr_out *a)
{
	struct fuse_getattr_in in = {
		.getattr_flags = has_fh ? FUSE_GETATTR_FH : 0, .fh = fh,
	};

	return simple(f, FUSE_GETATTR, nodeid, &in, sizeof(in), NULL, 0, a,
		      sizeof(*a));
}

int vfe_fuse_setattr(struct vfe_fuse *f, uint64_t nodeid,
		     const struct fuse_setattr_in *in, struct fuse_attr_out *a)
{
	return simple(f, FUSE_SETATTR, nodeid, in, sizeof(*in), NULL, 0, a,
		      sizeof(*a));
}

int vfe_fuse_mknod(struct vfe_fuse *f, uint64_t parent, const char *name,
		   uint32_t mode, uint32_t rdev, struct fuse_entry_out *e)
{
	struct fuse_mknod_in in = { .mode = mode, .rdev = rdev, .umask = 0 };

	return simple(f, FUSE_MKNOD, parent, &in, sizeof(in), name,
		      strlen(name) + 1, e, sizeof(*e));
}

int vfe_fuse_mkdir(struct vfe_fuse *f, uint64_t parent, const char *name,
		   uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = 0 };

	return simple(f, FUSE_MKDIR, parent, &in, sizeof(in), name,
		      strlen(name) + 1, e, sizeof(*e));
}

int vfe_fuse_unlink(struct vfe_fuse *f, uint64_t parent, const char *name)
{
	return simple(f, FUSE_UNLINK, parent, name, strlen(name) + 1, NULL, 0,
		      NULL, 0);
}

int vfe_fuse_rmdir(struct vfe_fuse *f, uint64_t parent, const char *name)
{
	return simple(f, FUSE_RMDIR, parent, name, strlen(name) + 1, NULL, 0,
		      NULL, 0);
}

int vfe_fuse_symlink(struct vfe_fuse *f, uint64_t parent, const char *name,
		     const char *target, struct fuse_entry_out *e)
{
	return simple(f, FUSE_SYMLINK, parent, name, strlen(name) + 1, target,
		      strlen(target) + 1, e, sizeof(*e));
}

int vfe_fuse_readlink(struct vfe_fuse *f, uint64_t nodeid, char *buf,
		      size_t cap, size_t *len)
{
	struct vfe_fuse_call c = {
		.opcode = FUSE_READLINK, .nodeid = nodeid,
		.queue = VFE_Q_DEFAULT, .out = buf, .out_cap = cap,
	};
	int r = vfe_fuse_call(f, &c);

	if (r == 0) {
		*len = c.out_len;
		if (c.out_len < cap)
			buf[c.out_len] = '\0';
	}
	return r;
}

int vfe_fuse_rename(struct vfe_fuse *f, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname)
{
	struct fuse_rename_in in = { .newdir = newparent };
	struct vfe_fuse_call c = {
		.opcode = FUSE_RENAME, .nodeid = parent, .queue = VFE_Q_DEFAULT,
		.in = { IOV(&in, sizeof(in)), IOV(name, strlen(name) + 1),
			IOV(newname, strlen(newname) + 1) },
		.nin = 3,
	};

	return vfe_fuse_call(f, &c);
}

int vfe_fuse_rename2(struct vfe_fuse *f, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname, uint32_t flags)
{
	struct fuse_rename2_in in = { .newdir = newparent, .flags = flags };
	struct vfe_fuse_call c = {
		.opcode = FUSE_RENAME2, .nodeid = parent, .queue = VFE_Q_DEFAULT,
		.in = { IOV(&in, sizeof(in)), IOV(name, strlen(name) + 1),
			IOV(newname, strlen(newname) + 1) },
		.nin = 3,
	};

	return vfe_fuse_call(f, &c);
}

int vfe_fuse_link(struct vfe_fuse *f, uint64_t nodeid, uint64_t newparent,
		  const char *newname, struct fuse_entry_out *e)
{
	struct fuse_link_in in = { .oldnodeid = nodeid };

	return simple(f, FUSE_LINK, newparent, &in, sizeof(in), newname,
		      strlen(newname) + 1, e, sizeof(*e));
}

int vfe_fuse_open(struct vfe_fuse *f, uint64_t nodeid, uint32_t flags,
		  struct fuse_open_out *o)
{
	struct fuse_open_in in = { .flags = flags };

	return simple(f, FUSE_OPEN, nodeid, &in, sizeof(in), NULL, 0, o,
		      sizeof(*o));
}

int vfe_fuse_create(struct vfe_fuse *f, uint64_t parent, const char *name,
		    uint32_t flags, uint32_t mode, struct fuse_entry_out *e,
		    struct fuse_open_out *o)
{
	struct fuse_create_in in = { .flags = flags, .mode = mode };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} __attribute__((packed)) out;
	int r = simple(f, FUSE_CREATE, parent, &in, sizeof(in), name,
		       strlen(name) + 1, &out, sizeof(out));

	if (r == 0) {
		if (e)
			*e = out.e;
		if (o)
			*o = out.o;
	}
	return r;
}

int vfe_fuse_read(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		  uint64_t off, void *buf, size_t size, size_t *got)
{
	struct fuse_read_in in = { .fh = fh, .offset = off,
				   .size = (uint32_t)size };
	struct vfe_fuse_call c = {
		.opcode = FUSE_READ, .nodeid = nodeid, .queue = VFE_Q_DEFAULT,
		.in = { IOV(&in, sizeof(in)) }, .nin = 1,
		.rdata = buf, .rlen = size,
	};
	int r = vfe_fuse_call(f, &c);

	if (r == 0 && got)
		*got = c.rgot;
	return r;
}

int vfe_fuse_write(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		   uint64_t off, const void *buf, size_t size, size_t *written)
{
	struct fuse_write_in in = { .fh = fh, .offset = off,
				    .size = (uint32_t)size };
	struct fuse_write_out out;
	struct vfe_fuse_call c = {
		.opcode = FUSE_WRITE, .nodeid = nodeid, .queue = VFE_Q_DEFAULT,
		.in = { IOV(&in, sizeof(in)) }, .nin = 1,
		.wdata = buf, .wlen = size, .out = &out, .out_cap = sizeof(out),
	};
	int r = vfe_fuse_call(f, &c);

	if (r == 0 && c.out_len != sizeof(out)) {
		vfe_msg_set_error("WRITE: reply body of %zu bytes", c.out_len);
		return -VFE_EPROTO;
	}
	if (r == 0 && written)
		*written = out.size;
	return r;
}

int vfe_fuse_flush(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh)
{
	struct fuse_flush_in in = { .fh = fh };

	return simple(f, FUSE_FLUSH, nodeid, &in, sizeof(in), NULL, 0, NULL, 0);
}

int vfe_fuse_fsync(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		   bool datasync)
{
	struct fuse_fsync_in in = { .fh = fh, .fsync_flags = datasync ? 1 : 0 };

	return simple(f, FUSE_FSYNC, nodeid, &in, sizeof(in), NULL, 0, NULL, 0);
}

int vfe_fuse_release(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		     uint32_t flags)
{
	struct fuse_release_in in = { .fh = fh, .flags = flags };

	return simple(f, FUSE_RELEASE, nodeid, &in, sizeof(in), NULL, 0, NULL,
		      0);
}

int vfe_fuse_opendir(struct vfe_fuse *f, uint64_t nodeid,
		     struct fuse_open_out *o)
{
	struct fuse_open_in in = { .flags = 0 };

	return simple(f, FUSE_OPENDIR, nodeid, &in, sizeof(in), NULL, 0, o,
		      sizeof(*o));
}

/* READDIR / READDIRPLUS. */
static int readdir_common(struct vfe_fuse *f, uint32_t op, uint64_t nodeid,
			  uint64_t fh, uint64_t off, uint32_t size, void *buf,
			  size_t *len)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	struct vfe_fuse_call c = {
		.opcode = op, .nodeid = nodeid, .queue = VFE_Q_DEFAULT,
		.in = { IOV(&in, sizeof(in)) }, .nin = 1,
		.out = buf, .out_cap = size,
	};
	int r = vfe_fuse_call(f, &c);

	if (r == 0)
		*len = c.out_len;
	return r;
}

int vfe_fuse_readdir(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
		     uint64_t off, uint32_t size, void *buf, size_t *len)
{
	return readdir_common(f, FUSE_READDIR, nodeid, fh, off, size, buf, len);
}

int vfe_fuse_readdirplus(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh,
			 uint64_t off, uint32_t size, void *buf, size_t *len)
{
	return readdir_common(f, FUSE_READDIRPLUS, nodeid, fh, off, size, buf,
			      len);
}

int vfe_fuse_releasedir(struct vfe_fuse *f, uint64_t nodeid, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };

	return simple(f, FUSE_RELEASEDIR, nodeid, &in, sizeof(in), NULL, 0,
		      NULL, 0);
}

int vfe_fuse_statfs(struct vfe_fuse *f, uint64_t nodeid,
		    struct fuse_statfs_out *s)
{
	return simple(f, FUSE_STATFS, nodeid, NULL, 0, NULL, 0, s, sizeof(*s));
}

int vfe_fuse_access(struct vfe_fuse *f, uint64_t nodeid, uint32_t mask)
{
	struct fuse_access_in in = { .mask = mask };

	return simple(f, FUSE_ACCESS, nodeid, &in, sizeof(in), NULL, 0, NULL, 0);
}

int vfe_dirent_next(const void *buf, size_t len, size_t *pos, bool plus,
		    struct vfe_dirent *d)
{
	const uint8_t *p = buf;
	size_t hdr = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	struct fuse_dirent de;
	size_t rec;

	if (*pos >= len)
		return 0;
	if (len - *pos < hdr)
		return -EPROTO;
	memset(d, 0, sizeof(*d));
	if (plus) {
		memcpy(&d->entry, p + *pos, sizeof(d->entry));
		memcpy(&de, p + *pos + sizeof(d->entry), sizeof(de));
	} else {
		memcpy(&de, p + *pos, sizeof(de));
	}
	if (de.namelen == 0 || de.namelen > 255)
		return -EPROTO;
	rec = FUSE_DIRENT_ALIGN(hdr + de.namelen);
	if (rec > len - *pos)
		return -EPROTO;
	d->ino = de.ino;
	d->off = de.off;
	d->type = de.type;
	d->namelen = de.namelen;
	memcpy(d->name, p + *pos + hdr, de.namelen);
	d->name[de.namelen] = '\0';
	*pos += rec;
	return 1;
}

/* --- INIT with chosen flags, xattr ops --- */

int vfe_fuse_init_flags(struct vfe_fuse *f, uint64_t flags)
{
	int r = send_init(f, flags);

	if (r)
		return r;
	f->minor = f->init.minor;
	return 0;
}

int vfe_fuse_setxattr(struct vfe_fuse *f, uint64_t nodeid, const char *name,
		      const void *value, size_t size, uint32_t flags,
		      uint32_t setxattr_flags)
{
	struct fuse_setxattr_in in = {
		.size = (uint32_t)size,
		.flags = flags,
		.setxattr_flags = setxattr_flags,
	};
	struct vfe_fuse_call c = {
		.opcode = FUSE_SETXATTR, .nodeid = nodeid,
		.queue = VFE_Q_DEFAULT,
	};

	/* The extended argument only once SETXATTR_EXT is negotiated. */
	c.in[c.nin++] = IOV(&in, (f->init.flags & FUSE_SETXATTR_EXT) ?
			    sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE);
	c.in[c.nin++] = IOV(name, strlen(name) + 1);
	if (size)
		c.in[c.nin++] = IOV(value, size);
	return vfe_fuse_call(f, &c);
}

/* GETXATTR / LISTXATTR: size 0 asks for the size (*len). */
static int xattr_get(struct vfe_fuse *f, uint32_t op, uint64_t nodeid,
		     const char *name, void *buf, size_t size, size_t *len)
{
	struct fuse_getxattr_in in = { .size = (uint32_t)size };
	struct fuse_getxattr_out go;
	struct vfe_fuse_call c = {
		.opcode = op, .nodeid = nodeid, .queue = VFE_Q_DEFAULT,
	};
	int r;

	c.in[c.nin++] = IOV(&in, sizeof(in));
	if (name)
		c.in[c.nin++] = IOV(name, strlen(name) + 1);
	c.out = size ? buf : &go;
	c.out_cap = size ? size : sizeof(go);
	r = vfe_fuse_call(f, &c);
	if (r)
		return r;
	if (!size) {
		if (c.out_len != sizeof(go)) {
			vfe_msg_set_error("xattr size reply of %zu bytes",
					  c.out_len);
			return -VFE_EPROTO;
		}
		*len = go.size;
	} else {
		*len = c.out_len;
	}
	return 0;
}

int vfe_fuse_getxattr(struct vfe_fuse *f, uint64_t nodeid, const char *name,
		      void *buf, size_t size, size_t *len)
{
	return xattr_get(f, FUSE_GETXATTR, nodeid, name, buf, size, len);
}

int vfe_fuse_listxattr(struct vfe_fuse *f, uint64_t nodeid, void *buf,
		       size_t size, size_t *len)
{
	return xattr_get(f, FUSE_LISTXATTR, nodeid, NULL, buf, size, len);
}

int vfe_fuse_removexattr(struct vfe_fuse *f, uint64_t nodeid,
			 const char *name)
{
	return simple(f, FUSE_REMOVEXATTR, nodeid, name, strlen(name) + 1,
		      NULL, 0, NULL, 0);
}
