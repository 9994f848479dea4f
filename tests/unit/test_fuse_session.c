/*
 * test_fuse_session.c - unit tests of fuse_lowlevel/: requests built in
 * ordinary memory, split into iovecs at awkward places (each segment a
 * separate allocation followed by guard bytes), fed to
 * fuse_session_process() with a mock file system; the replies are
 * gathered back and decoded.  TAP output; exit status 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"

/* ---- tiny TAP harness ---- */

static int g_fail, g_test_fail, g_ntest;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			g_test_fail++;                                     \
			printf("#   %s:%d: check failed: %s\n", __FILE__,  \
			       __LINE__, #cond);                           \
		}                                                          \
	} while (0)

#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long _a = (long long)(a), _b = (long long)(b);        \
		if (_a != _b) {                                            \
			g_test_fail++;                                     \
			printf("#   %s:%d: %s == %lld, expected %s == %lld\n", \
			       __FILE__, __LINE__, #a, _a, #b, _b);        \
		}                                                          \
	} while (0)

static void run_test(const char *name, void (*fn)(void))
{
	g_test_fail = 0;
	fn();
	g_ntest++;
	printf("%sok %d - %s\n", g_test_fail ? "not " : "", g_ntest, name);
	if (g_test_fail)
		g_fail++;
}

/* ---- element construction ---- */

#define GUARD 32
#define GUARD_BYTE 0xA5
#define MAXSEG 64

struct elem {
	struct iovec out[MAXSEG], in[MAXSEG];
	unsigned out_num, in_num;
	size_t written;
	int ret;
	unsigned char reply[1 << 20] __attribute__((aligned(16))); /* gathered */
};

static struct elem E;

/* Split len bytes of src into separately allocated segments at cuts. */
static unsigned split(struct iovec *iov, const void *src, size_t len,
		      const size_t *cuts, int ncuts, bool fill)
{
	size_t start = 0;
	unsigned n = 0;

	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		unsigned char *p;

		if (end > len)
			end = len;
		if (end < start)
			continue;
		p = malloc(end - start + GUARD);
		memset(p, GUARD_BYTE, end - start + GUARD);
		if (!fill)
			memcpy(p, (const char *)src + start, end - start);
		iov[n].iov_base = p;
		iov[n].iov_len = end - start;
		n++;
		start = end;
	}
	return n;
}

static void elem_free(void)
{
	for (unsigned i = 0; i < E.out_num; i++)
		free(E.out[i].iov_base);
	for (unsigned i = 0; i < E.in_num; i++)
		free(E.in[i].iov_base);
	E.out_num = E.in_num = 0;
}

/* True if no byte after any reply segment was touched, and no byte of the
 * reply buffers past the reported length either. */
static bool guards_ok(void)
{
	size_t total = 0;

	for (unsigned i = 0; i < E.in_num; i++)
		total += E.in[i].iov_len;
	for (size_t k = E.written; k < total; k++)
		if (E.reply[k] != GUARD_BYTE)
			return false;
	for (unsigned i = 0; i < E.in_num; i++) {
		const unsigned char *p = E.in[i].iov_base;

		for (size_t k = 0; k < GUARD; k++)
			if (p[E.in[i].iov_len + k] != GUARD_BYTE)
				return false;
	}
	return true;
}

/* Process: request bytes req/len cut at ocuts, reply space in_len cut at
 * icuts.  The reply is gathered into E.reply. */
static int process_cut(struct fuse_worker *w, const void *req, size_t len,
		       const size_t *ocuts, int nocuts, size_t in_len,
		       const size_t *icuts, int nicuts)
{
	size_t off = 0;

	elem_free();
	E.out_num = split(E.out, req, len, ocuts, nocuts, false);
	E.in_num = in_len ? split(E.in, NULL, in_len, icuts, nicuts, true) : 0;
	E.written = (size_t)-1;
	E.ret = fuse_session_process(w, E.out, E.out_num, E.in, E.in_num,
				     &E.written);
	memset(E.reply, 0, sizeof(E.reply));
	for (unsigned i = 0; i < E.in_num; i++) {
		memcpy(E.reply + off, E.in[i].iov_base, E.in[i].iov_len);
		off += E.in[i].iov_len;
	}
	return E.ret;
}

static int process(struct fuse_worker *w, const void *req, size_t len,
		   size_t in_len)
{
	return process_cut(w, req, len, NULL, 0, in_len, NULL, 0);
}

static const struct fuse_out_header *oh(void)
{
	return (const struct fuse_out_header *)E.reply;
}

static const void *payload(void)
{
	return E.reply + sizeof(struct fuse_out_header);
}

/* Request builder. */
struct rb {
	unsigned char b[1 << 20] __attribute__((aligned(16)));
	size_t len;
};

static struct rb R;

static void rb_start(uint32_t opcode, uint64_t unique, uint64_t nodeid)
{
	struct fuse_in_header h;

	memset(&h, 0, sizeof(h));
	h.opcode = opcode;
	h.unique = unique;
	h.nodeid = nodeid;
	h.uid = 1000;
	h.gid = 100;
	h.pid = 4242;
	memcpy(R.b, &h, sizeof(h));
	R.len = sizeof(h);
}

static void rb_put(const void *p, size_t n)
{
	memcpy(R.b + R.len, p, n);
	R.len += n;
}

static void rb_str(const char *s)
{
	rb_put(s, strlen(s) + 1);
}

/* Set in.len to the built length (+ delta) and total_extlen. */
static void rb_fix(long delta, uint16_t extlen)
{
	struct fuse_in_header *h = (struct fuse_in_header *)R.b;

	h->len = (uint32_t)((long)R.len + delta);
	h->total_extlen = extlen;
}

static int rb_send(struct fuse_worker *w, size_t in_len)
{
	rb_fix(0, ((struct fuse_in_header *)R.b)->total_extlen);
	return process(w, R.b, R.len, in_len);
}

/* ---- mock file system ---- */

static struct mock {
	char op[32];
	fuse_ino_t ino, ino2;
	char name[4200], name2[4200];
	size_t size;
	off_t off;
	struct fuse_file_info fi;
	bool fi_null;
	int to_set;
	struct stat st;
	mode_t mode, umask;
	uid_t uid;
	pid_t pid;
	struct flock fl;
	int sleep, flock_op, xflags;
	unsigned char data[1 << 20] __attribute__((aligned(16)));
	size_t data_len;
	size_t nbufs, bufsizes[MAXSEG];
	uint64_t nforget, forget_sum;
	uint64_t offered, want_cfg;
	uint32_t max_write_cfg;
	int init_error;      /* init_ext refuses INIT with this */
	int read_fd;
	size_t read_extra;
	size_t xattr_reply;
	bool secctx;
	char sc_name[64];
	char sc_value[64];
	size_t sc_size;
	bool has_gid;
	gid_t gid;
	bool kill_priv;
	int ndestroy, nreset, ninit;
	int dir_entries;
} M;

static void rec(const char *op, fuse_req_t req, fuse_ino_t ino)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	snprintf(M.op, sizeof(M.op), "%s", op);
	M.ino = ino;
	M.uid = ctx->uid;
	M.pid = ctx->pid;
	M.umask = ctx->umask;
	M.kill_priv = fuse_req_kill_priv(req);
}

static void fill_stat(struct stat *st, fuse_ino_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_uid = 1000;
	st->st_gid = 100;
	st->st_size = 1234;
	st->st_blocks = 8;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = 1700000000;
	st->st_mtim.tv_nsec = 123456789;
}

static void entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.generation = 9;
	e.entry_timeout = 1.5;
	e.attr_timeout = 2.25;
	fill_stat(&e.attr, ino);
	fuse_reply_entry(req, &e);
}

static void m_init_ext(void *ud, struct fv_init *ini)
{
	(void)ud;
	M.ninit++;
	M.offered = ini->offered;
	ini->want = M.want_cfg & ini->offered;
	if (M.max_write_cfg)
		ini->max_write = M.max_write_cfg;
	if (M.init_error)
		ini->error = M.init_error;
}

static void m_reset(void *ud)
{
	(void)ud;
	M.nreset++;
}

static void m_destroy(void *ud)
{
	(void)ud;
	M.ndestroy++;
}

static void m_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	rec("lookup", req, parent);
	snprintf(M.name, sizeof(M.name), "%s", name);
	entry(req, 42);
}

static void m_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	rec("forget", req, ino);
	M.nforget++;
	M.forget_sum += n;
	fuse_reply_none(req);
}

static void m_forget_multi(fuse_req_t req, size_t count,
			   struct fuse_forget_data *f)
{
	rec("forget_multi", req, 0);
	for (size_t i = 0; i < count; i++) {
		M.nforget++;
		M.forget_sum += f[i].ino * 1000 + f[i].nlookup;
	}
	fuse_reply_none(req);
}

static void m_getattr(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct stat st;

	rec("getattr", req, ino);
	M.fi_null = !fi;
	if (fi)
		M.fi = *fi;
	fill_stat(&st, ino);
	fuse_reply_attr(req, &st, 3.0);
}

static void m_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		      int to_set, struct fuse_file_info *fi)
{
	rec("setattr", req, ino);
	M.to_set = to_set;
	M.st = *attr;
	M.fi_null = !fi;
	if (fi)
		M.fi = *fi;
	fuse_reply_attr(req, attr, 1.0);
}

static void m_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode)
{
	const char *n;
	const void *v;
	size_t sz;

	rec("mkdir", req, parent);
	snprintf(M.name, sizeof(M.name), "%s", name);
	M.mode = mode;
	M.secctx = fuse_req_secctx(req, &n, &v, &sz) == 0;
	if (M.secctx) {
		snprintf(M.sc_name, sizeof(M.sc_name), "%s", n);
		M.sc_size = sz;
		memcpy(M.sc_value, v, sz < sizeof(M.sc_value) ? sz : 0);
	}
	M.has_gid = fuse_req_supp_gid(req, &M.gid) == 0;
	entry(req, 50);
}

static void m_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		      const char *name)
{
	rec("symlink", req, parent);
	snprintf(M.name, sizeof(M.name), "%s", name);
	snprintf(M.name2, sizeof(M.name2), "%s", link);
	entry(req, 51);
}

static void m_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags)
{
	rec("rename", req, parent);
	M.ino2 = newparent;
	snprintf(M.name, sizeof(M.name), "%s", name);
	snprintf(M.name2, sizeof(M.name2), "%s", newname);
	M.xflags = (int)flags;
	fuse_reply_err(req, 0);
}

static void m_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	rec("open", req, ino);
	M.fi = *fi;
	fi->fh = 77;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void m_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;

	rec("create", req, parent);
	snprintf(M.name, sizeof(M.name), "%s", name);
	M.mode = mode;
	M.fi = *fi;
	memset(&e, 0, sizeof(e));
	e.ino = 60;
	e.attr_timeout = 1;
	e.entry_timeout = 1;
	fill_stat(&e.attr, 60);
	fi->fh = 7;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_create(req, &e, fi);
}

static void m_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size + M.read_extra);

	rec("read", req, ino);
	M.size = size;
	M.off = off;
	M.fi = *fi;
	if (M.read_fd >= 0) {
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = M.read_fd;
		bv.buf[0].pos = off;
	} else {
		for (size_t i = 0; i < size + M.read_extra && i < sizeof(M.data);
		     i++)
			M.data[i] = (unsigned char)(i * 7 + 1);
		bv.buf[0].mem = M.data;
	}
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

static void m_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		    size_t size, off_t off, struct fuse_file_info *fi)
{
	rec("write", req, ino);
	M.size = size;
	M.off = off;
	M.fi = *fi;
	memcpy(M.data, buf, size);
	M.data_len = size;
	fuse_reply_write(req, size);
}

static void m_write_buf(fuse_req_t req, fuse_ino_t ino,
			struct fuse_bufvec *bufv, off_t off,
			struct fuse_file_info *fi)
{
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(sizeof(M.data));
	ssize_t r;

	rec("write_buf", req, ino);
	M.off = off;
	M.fi = *fi;
	M.nbufs = bufv->count;
	for (size_t i = 0; i < bufv->count && i < MAXSEG; i++)
		M.bufsizes[i] = bufv->buf[i].size;
	M.size = fuse_buf_size(bufv);
	dst.buf[0].mem = M.data;
	r = fuse_buf_copy(&dst, bufv, 0);
	M.data_len = r > 0 ? (size_t)r : 0;
	fuse_reply_write(req, M.data_len);
}

static void m_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       const char *value, size_t size, int flags)
{
	rec("setxattr", req, ino);
	snprintf(M.name, sizeof(M.name), "%s", name);
	memcpy(M.data, value, size);
	M.data_len = size;
	M.xflags = flags;
	fuse_reply_err(req, 0);
}

static void m_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       size_t size)
{
	static char val[4096];

	rec("getxattr", req, ino);
	M.size = size;
	memset(val, 'x', sizeof(val));
	if (size == 0)
		fuse_reply_xattr(req, M.xattr_reply);
	else
		fuse_reply_buf(req, val, M.xattr_reply);
}

/* READDIR / READDIRPLUS: entries "e0", "e1", ... packed until full. */
static void m_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, bool plus)
{
	static char buf[65536];
	size_t pos = 0;

	rec(plus ? "readdirplus" : "readdir", req, ino);
	M.size = size;
	if (size > sizeof(buf))
		size = sizeof(buf);
	memset(buf, 0x5A, sizeof(buf));
	for (int i = (int)off; i < M.dir_entries; i++) {
		char name[32];
		size_t need;

		snprintf(name, sizeof(name), "entry%d", i);
		if (plus) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			e.ino = 100 + (fuse_ino_t)i;
			fill_stat(&e.attr, 100 + (fuse_ino_t)i);
			e.attr.st_mode = S_IFDIR | 0755;
			need = fuse_add_direntry_plus(req, buf + pos,
						      size - pos, name, &e,
						      i + 1);
		} else {
			struct stat st;

			fill_stat(&st, 100 + (fuse_ino_t)i);
			need = fuse_add_direntry(req, buf + pos, size - pos,
						 name, &st, i + 1);
		}
		if (need > size - pos) {
			/* must not have written anything */
			CHECK((unsigned char)buf[pos] == 0x5A);
			break;
		}
		pos += need;
	}
	fuse_reply_buf(req, buf, pos);
}

static void m_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		      off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	m_readdir_common(req, ino, size, off, false);
}

static void m_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	m_readdir_common(req, ino, size, off, true);
}

static void m_getlk(fuse_req_t req, fuse_ino_t ino,
		    struct fuse_file_info *fi, struct flock *lock)
{
	struct flock l = *lock;

	rec("getlk", req, ino);
	M.fl = *lock;
	M.fi = *fi;
	l.l_type = F_WRLCK;
	l.l_start = 10;
	l.l_len = 0;
	l.l_pid = 99;
	fuse_reply_lock(req, &l);
}

static void m_setlk(fuse_req_t req, fuse_ino_t ino,
		    struct fuse_file_info *fi, struct flock *lock, int sleep)
{
	rec("setlk", req, ino);
	M.fl = *lock;
	M.fi = *fi;
	M.sleep = sleep;
	fuse_reply_err(req, 0);
}

static void m_flock(fuse_req_t req, fuse_ino_t ino,
		    struct fuse_file_info *fi, int op)
{
	rec("flock", req, ino);
	M.fi = *fi;
	M.flock_op = op;
	fuse_reply_err(req, 0);
}

static void m_release(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	rec("release", req, ino);
	M.fi = *fi;
	fuse_reply_err(req, 0);
}

static void m_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	/* deliberately no reply: the session must answer EIO */
	rec("statfs", req, ino);
}

static void m_syncfs(fuse_req_t req, fuse_ino_t ino)
{
	rec("syncfs", req, ino);
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops mock_ops = {
	.destroy = m_destroy,
	.lookup = m_lookup,
	.forget = m_forget,
	.forget_multi = m_forget_multi,
	.getattr = m_getattr,
	.setattr = m_setattr,
	.mkdir = m_mkdir,
	.symlink = m_symlink,
	.rename = m_rename,
	.open = m_open,
	.create = m_create,
	.read = m_read,
	.write_buf = m_write_buf,
	.setxattr = m_setxattr,
	.getxattr = m_getxattr,
	.readdir = m_readdir,
	.readdirplus = m_readdirplus,
	.getlk = m_getlk,
	.setlk = m_setlk,
	.flock = m_flock,
	.release = m_release,
	.statfs = m_statfs,
};

static const struct fuse_virtio_ops mock_xops = {
	.init_ext = m_init_ext,
	.syncfs = m_syncfs,
	.reset = m_reset,
};

static int g_userdata;

static void mock_reset(void)
{
	memset(&M, 0, sizeof(M));
	M.read_fd = -1;
	M.want_cfg = ~0ULL;
	M.dir_entries = 10;
}

/* ---- helpers for common requests ---- */

#define IN_BIG 8192

static void send_init(struct fuse_worker *w, uint32_t major, uint32_t minor,
		      uint64_t flags, size_t in_struct_size)
{
	struct fuse_init_in in;

	memset(&in, 0, sizeof(in));
	in.major = major;
	in.minor = minor;
	in.max_readahead = 131072;
	in.flags = (uint32_t)flags;
	in.flags2 = (uint32_t)(flags >> 32);
	rb_start(FUSE_INIT, 1, 0);
	rb_put(&in, in_struct_size);
	rb_send(w, IN_BIG);
}

#define ALL_FLAGS                                                          \
	((uint64_t)FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_BIG_WRITES |     \
	 FUSE_MAX_PAGES | FUSE_INIT_EXT | FUSE_SETXATTR_EXT |                 \
	 FUSE_DO_READDIRPLUS | FUSE_SPLICE_READ | FUSE_SECURITY_CTX |         \
	 FUSE_HAS_INODE_DAX | FUSE_MAP_ALIGNMENT | (1ULL << 34) | (1ULL << 36))

static struct fuse_session *g_se;
static struct fuse_worker *g_w;

/* A session negotiated at 7.38 with the given wants. */
static void fresh_session(uint64_t want)
{
	if (g_w)
		fuse_worker_free(g_w);
	if (g_se)
		fuse_virtio_session_free(g_se);
	mock_reset();
	M.want_cfg = want;
	g_se = fuse_virtio_session_new(&mock_ops, sizeof(mock_ops), &mock_xops,
				       &g_userdata);
	g_w = fuse_worker_new(g_se);
	send_init(g_w, 7, 38, ALL_FLAGS, sizeof(struct fuse_init_in));
	M.op[0] = 0;
}

/* ---- tests ---- */

static void t_init_38(void)
{
	struct fuse_session *se = fuse_virtio_session_new(
		&mock_ops, sizeof(mock_ops), &mock_xops, &g_userdata);
	struct fuse_worker *w = fuse_worker_new(se);
	const struct fuse_init_out *o;
	struct fv_session_state st;
	size_t cuts[] = { 3, 41, 50 };
	size_t icuts[] = { 5, 17, 33 };
	struct fuse_init_in in;

	mock_reset();
	M.want_cfg = FUSE_ASYNC_READ | FUSE_SECURITY_CTX | FUSE_SPLICE_READ;
	M.max_write_cfg = 65536;
	memset(&in, 0, sizeof(in));
	in.major = 7;
	in.minor = 38;
	in.max_readahead = 131072;
	in.flags = (uint32_t)ALL_FLAGS;
	in.flags2 = (uint32_t)(ALL_FLAGS >> 32);
	rb_start(FUSE_INIT, 11, 0);
	rb_put(&in, sizeof(in));
	rb_fix(0, 0);
	CHECK(!fuse_session_initialized(se));
	process_cut(w, R.b, R.len, cuts, 3, IN_BIG, icuts, 3);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(E.written, sizeof(struct fuse_out_header) + sizeof(*o));
	CHECK_EQ(oh()->len, E.written);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(oh()->unique, 11);
	o = payload();
	CHECK_EQ(o->major, 7);
	CHECK_EQ(o->minor, 38);
	CHECK_EQ(o->max_write, 65536);
	CHECK_EQ(o->max_pages, 16);
	CHECK_EQ(o->max_readahead, 131072);
	CHECK_EQ(o->map_alignment, 0);
	CHECK(o->flags & FUSE_MAX_PAGES);
	CHECK(o->flags & FUSE_INIT_EXT);
	CHECK(o->flags & FUSE_ASYNC_READ);
	CHECK(!(o->flags & FUSE_SPLICE_READ));  /* this layer offers no splice */
	CHECK(!(o->flags & FUSE_POSIX_LOCKS));  /* fs did not want it */
	CHECK_EQ(o->flags2, FUSE_SECURITY_CTX >> 32);
	/* offered is restricted to what the session implements */
	CHECK(!(M.offered & FUSE_SPLICE_READ));
	CHECK(!(M.offered & FUSE_HAS_INODE_DAX));
	CHECK(!(M.offered & FUSE_MAP_ALIGNMENT));
	CHECK(M.offered & FUSE_SECURITY_CTX);
	CHECK(M.offered & FUSE_SETXATTR_EXT);
	CHECK(M.offered & (1ULL << 34)); /* CREATE_SUPP_GROUP */
	CHECK(M.offered & (1ULL << 36)); /* DIRECT_IO_ALLOW_MMAP */
	CHECK(fuse_session_initialized(se));
	fuse_session_get_state(se, &st);
	CHECK(st.initialized);
	CHECK_EQ(st.minor, 38);
	CHECK_EQ(st.max_write, 65536);
	CHECK_EQ(st.flags, ((uint64_t)o->flags2 << 32) | o->flags);
	CHECK(guards_ok());
	fuse_worker_free(w);
	fuse_virtio_session_free(se);
}

static void t_init_31(void)
{
	struct fuse_session *se = fuse_virtio_session_new(
		&mock_ops, sizeof(mock_ops), &mock_xops, &g_userdata);
	struct fuse_worker *w = fuse_worker_new(se);
	const struct fuse_init_out *o = payload();
	struct fv_session_state st;

	mock_reset();
	/* 7.31: 16-byte fuse_init_in, no flags2, no INIT_EXT */
	send_init(w, 7, 31,
		  FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS, 16);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(o->major, 7);
	CHECK_EQ(o->minor, 31);
	CHECK_EQ(o->max_write, FV_MAX_WRITE);
	CHECK_EQ(o->max_pages, FV_MAX_PAGES);
	CHECK(o->flags & FUSE_MAX_PAGES);
	CHECK(!(o->flags & FUSE_INIT_EXT));
	CHECK_EQ(o->flags2, 0);
	CHECK_EQ(M.offered,
		 FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS);
	fuse_session_get_state(se, &st);
	CHECK_EQ(st.minor, 31);
	/* without INIT_EXT the high flags of flags2 are not read */
	fuse_worker_free(w);
	fuse_virtio_session_free(se);

	se = fuse_virtio_session_new(&mock_ops, sizeof(mock_ops), &mock_xops,
				     NULL);
	w = fuse_worker_new(se);
	mock_reset();
	send_init(w, 7, 36, FUSE_ASYNC_READ | FUSE_SECURITY_CTX,
		  sizeof(struct fuse_init_in));
	CHECK_EQ(oh()->error, 0);
	CHECK(!(M.offered & FUSE_SECURITY_CTX));
	fuse_worker_free(w);
	fuse_virtio_session_free(se);
}

static void t_init_bad_versions(void)
{
	struct fuse_session *se = fuse_virtio_session_new(
		&mock_ops, sizeof(mock_ops), &mock_xops, &g_userdata);
	struct fuse_worker *w = fuse_worker_new(se);
	const struct fuse_init_out *o = payload();

	mock_reset();
	send_init(w, 7, 26, FUSE_ASYNC_READ, 16);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(oh()->error, -EPROTO);
	CHECK_EQ(E.written, sizeof(struct fuse_out_header));
	CHECK(!fuse_session_initialized(se));
	CHECK_EQ(M.ninit, 0);

	send_init(w, 6, 40, FUSE_ASYNC_READ, 16);
	CHECK_EQ(oh()->error, -EPROTO);

	send_init(w, 8, 1, FUSE_ASYNC_READ, sizeof(struct fuse_init_in));
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(E.written, sizeof(struct fuse_out_header) + 8);
	CHECK_EQ(o->major, 7);
	CHECK_EQ(o->minor, 38);
	CHECK(!fuse_session_initialized(se));
	CHECK_EQ(M.ninit, 0);

	/* then a proper INIT works */
	send_init(w, 7, 38, FUSE_ASYNC_READ, sizeof(struct fuse_init_in));
	CHECK_EQ(oh()->error, 0);
	CHECK(fuse_session_initialized(se));
	CHECK_EQ(M.ninit, 1);
	CHECK_EQ(M.nreset, 0);
	fuse_worker_free(w);
	fuse_virtio_session_free(se);
}

/* The fs refuses INIT (fv_init.error): the guest gets the errno, the
 * session stays (or becomes) uninitialized, a later INIT may succeed. */
static void t_init_refused(void)
{
	struct fuse_session *se = fuse_virtio_session_new(
		&mock_ops, sizeof(mock_ops), &mock_xops, &g_userdata);
	struct fuse_worker *w = fuse_worker_new(se);
	struct fuse_getattr_in ga;
	struct fv_session_state st;

	mock_reset();
	M.init_error = -EPROTO;
	send_init(w, 7, 38, ALL_FLAGS, sizeof(struct fuse_init_in));
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(oh()->error, -EPROTO);
	CHECK_EQ(E.written, sizeof(struct fuse_out_header));
	CHECK_EQ(M.ninit, 1);
	CHECK(!fuse_session_initialized(se));
	memset(&ga, 0, sizeof(ga));
	rb_start(FUSE_GETATTR, 2, 1);
	rb_put(&ga, sizeof(ga));
	rb_send(w, IN_BIG);
	CHECK_EQ(oh()->error, -EIO);
	CHECK_EQ(M.op[0], 0);

	/* accepted, then refused again: the old session is gone */
	M.init_error = 0;
	send_init(w, 7, 38, ALL_FLAGS, sizeof(struct fuse_init_in));
	CHECK_EQ(oh()->error, 0);
	CHECK(fuse_session_initialized(se));
	M.init_error = -EPROTO;
	send_init(w, 7, 38, FUSE_ASYNC_READ, sizeof(struct fuse_init_in));
	CHECK_EQ(oh()->error, -EPROTO);
	CHECK(!fuse_session_initialized(se));
	CHECK_EQ(M.nreset, 1);
	fuse_session_get_state(se, &st);
	CHECK(!st.initialized);
	CHECK_EQ(st.flags, 0);
	CHECK(guards_ok());
	fuse_worker_free(w);
	fuse_virtio_session_free(se);
}

static void t_before_init(void)
{
	struct fuse_session *se = fuse_virtio_session_new(
		&mock_ops, sizeof(mock_ops), &mock_xops, &g_userdata);
	struct fuse_worker *w = fuse_worker_new(se);
	struct fuse_getattr_in ga;
	struct fuse_forget_in fg = { .nlookup = 1 };

	mock_reset();
	memset(&ga, 0, sizeof(ga));
	rb_start(FUSE_GETATTR, 5, 1);
	rb_put(&ga, sizeof(ga));
	rb_send(w, IN_BIG);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(oh()->error, -EIO);
	CHECK_EQ(oh()->unique, 5);
	CHECK_EQ(E.written, 16);
	CHECK_EQ(M.op[0], 0);

	rb_start(FUSE_FORGET, 6, 1);
	rb_put(&fg, sizeof(fg));
	rb_send(w, 0);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(E.written, 0);
	CHECK_EQ(M.nforget, 0);
	fuse_worker_free(w);
	fuse_virtio_session_free(se);
}

static void t_header_validation(void)
{
	struct fuse_getattr_in ga;
	size_t cuts[] = { 7, 30 };

	fresh_session(~0ULL);
	memset(&ga, 0, sizeof(ga));

	/* shorter than the header: nothing can be answered */
	rb_start(FUSE_GETATTR, 7, 1);
	rb_fix(0, 0);
	CHECK_EQ(process_cut(g_w, R.b, 39, cuts, 2, IN_BIG, NULL, 0), -EINVAL);
	CHECK_EQ(E.written, 0);
	CHECK_EQ(((unsigned char *)E.in[0].iov_base)[0], GUARD_BYTE);

	/* in.len larger than the buffers */
	rb_start(FUSE_GETATTR, 8, 1);
	rb_put(&ga, sizeof(ga));
	rb_fix(+1, 0);
	process(g_w, R.b, R.len, IN_BIG);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(oh()->unique, 8);
	CHECK_EQ(M.op[0], 0);

	/* in.len smaller than a header */
	rb_fix(-(long)R.len + 20, 0);
	process(g_w, R.b, R.len, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);

	/* in.len shorter than the buffers: trailing bytes ignored, but then
	 * the argument is truncated */
	rb_fix(-8, 0);
	process(g_w, R.b, R.len, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);

	/* extension length beyond the request */
	rb_fix(0, 3);
	process(g_w, R.b, R.len, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);

	/* a correct one passes; buffer larger than in.len is fine */
	rb_fix(0, 0);
	R.b[R.len] = 0xEE;
	process(g_w, R.b, R.len + 1, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK(!strcmp(M.op, "getattr"));

	/* reply buffers smaller than an out header: unusable element */
	M.op[0] = 0;
	rb_fix(0, 0);
	CHECK_EQ(process(g_w, R.b, R.len, 15), -EINVAL);
	CHECK_EQ(E.written, 0);
	CHECK_EQ(M.op[0], 0);
	CHECK(guards_ok());

	/* unterminated name */
	rb_start(FUSE_LOOKUP, 9, 1);
	rb_put("abc", 3);
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);

	/* NUL only after in.len: still unterminated */
	rb_start(FUSE_LOOKUP, 9, 1);
	rb_put("abc", 4);
	rb_fix(-1, 0);
	process(g_w, R.b, R.len, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);

	/* slash or empty name */
	rb_start(FUSE_LOOKUP, 9, 1);
	rb_str("../etc");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	rb_start(FUSE_LOOKUP, 9, 1);
	rb_str("");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);

	/* name longer than PATH_MAX */
	rb_start(FUSE_LOOKUP, 9, 1);
	memset(R.b + R.len, 'a', 5000);
	R.len += 5000;
	rb_put("", 1);
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -ENAMETOOLONG);
	CHECK(guards_ok());
}

static void t_unknown_opcode(void)
{
	uint32_t ops[] = { 7, 19, 99, CUSE_INIT, FUSE_SETUPMAPPING,
			   FUSE_REMOVEMAPPING, 0 };

	fresh_session(~0ULL);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		rb_start(ops[i], 100 + i, 1);
		rb_put("\0\0\0\0\0\0\0\0", 8);
		rb_send(g_w, IN_BIG);
		CHECK_EQ(E.ret, 0);
		CHECK_EQ(oh()->error, -ENOSYS);
		CHECK_EQ(oh()->unique, 100 + i);
		CHECK_EQ(E.written, 16);
	}
	/* an op the fs does not implement */
	rb_start(FUSE_UNLINK, 5, 1);
	rb_str("x");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -ENOSYS);
}

static void t_lookup(void)
{
	const struct fuse_entry_out *o = payload();
	size_t ocuts[] = { 1, 3, 39, 41, 42 };
	size_t icuts[] = { 5, 16, 17, 100 };

	fresh_session(~0ULL);
	rb_start(FUSE_LOOKUP, 77, 5);
	rb_str("hello");
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, ocuts, 5, 16 + sizeof(*o) + 50, icuts, 4);
	CHECK_EQ(E.ret, 0);
	CHECK(!strcmp(M.op, "lookup"));
	CHECK(!strcmp(M.name, "hello"));
	CHECK_EQ(M.ino, 5);
	CHECK_EQ(M.uid, 1000);
	CHECK_EQ(M.pid, 4242);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(oh()->unique, 77);
	CHECK_EQ(oh()->len, 16 + sizeof(*o));
	CHECK_EQ(E.written, 16 + sizeof(*o));
	CHECK_EQ(o->nodeid, 42);
	CHECK_EQ(o->generation, 9);
	CHECK_EQ(o->entry_valid, 1);
	CHECK_EQ(o->entry_valid_nsec, 500000000);
	CHECK_EQ(o->attr_valid, 2);
	CHECK_EQ(o->attr_valid_nsec, 250000000);
	CHECK_EQ(o->attr.ino, 42);
	CHECK_EQ(o->attr.mode, S_IFREG | 0644);
	CHECK_EQ(o->attr.size, 1234);
	CHECK_EQ(o->attr.blocks, 8);
	CHECK_EQ(o->attr.mtime, 1700000000);
	CHECK_EQ(o->attr.mtimensec, 123456789);
	CHECK_EQ(o->attr.uid, 1000);
	CHECK_EQ(o->attr.nlink, 1);
	CHECK_EQ(o->attr.blksize, 4096);
	CHECK(guards_ok());
}

static void t_getattr(void)
{
	struct fuse_getattr_in ga;
	const struct fuse_attr_out *o = payload();

	fresh_session(~0ULL);
	memset(&ga, 0, sizeof(ga));
	ga.getattr_flags = FUSE_GETATTR_FH;
	ga.fh = 0xABCDEF;
	rb_start(FUSE_GETATTR, 3, 9);
	rb_put(&ga, sizeof(ga));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK(!M.fi_null);
	CHECK_EQ(M.fi.fh, 0xABCDEF);
	CHECK_EQ(E.written, 16 + sizeof(*o));
	CHECK_EQ(o->attr_valid, 3);
	CHECK_EQ(o->attr_valid_nsec, 0);
	CHECK_EQ(o->attr.ino, 9);

	ga.getattr_flags = 0;
	rb_start(FUSE_GETATTR, 3, 9);
	rb_put(&ga, sizeof(ga));
	rb_send(g_w, IN_BIG);
	CHECK(M.fi_null);

	/* reply buffer too small for fuse_attr_out: error reply, no overrun */
	rb_send(g_w, 16 + sizeof(*o) - 1);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(oh()->error, -EIO);
	CHECK_EQ(oh()->len, 16);
	CHECK_EQ(E.written, 16);
	CHECK(guards_ok());
}

static void t_create(void)
{
	struct fuse_create_in ci;
	const struct fuse_entry_out *e = payload();
	const struct fuse_open_out *o =
		(const void *)((const char *)payload() + sizeof(*e));

	fresh_session(~0ULL);
	memset(&ci, 0, sizeof(ci));
	ci.flags = O_RDWR | O_CREAT | O_EXCL;
	ci.mode = S_IFREG | 0640;
	ci.umask = 022;
	ci.open_flags = FUSE_OPEN_KILL_SUIDGID;
	rb_start(FUSE_CREATE, 21, 1);
	rb_put(&ci, sizeof(ci));
	rb_str("newfile");
	rb_send(g_w, IN_BIG);
	CHECK(!strcmp(M.op, "create"));
	CHECK(!strcmp(M.name, "newfile"));
	CHECK_EQ(M.mode, S_IFREG | 0640);
	CHECK_EQ(M.fi.flags, O_RDWR | O_CREAT | O_EXCL);
	CHECK_EQ(M.umask, 022);
	CHECK(M.kill_priv);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(E.written, 16 + sizeof(*e) + sizeof(*o));
	CHECK_EQ(e->nodeid, 60);
	CHECK_EQ(o->fh, 7);
	CHECK_EQ(o->open_flags, FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE);

	/* open: fi flags in, FOPEN flags out */
	{
		struct fuse_open_in oi = { .flags = O_RDONLY | O_NOATIME };
		const struct fuse_open_out *oo = payload();

		rb_start(FUSE_OPEN, 22, 60);
		rb_put(&oi, sizeof(oi));
		rb_send(g_w, IN_BIG);
		CHECK_EQ(M.fi.flags, O_RDONLY | O_NOATIME);
		CHECK(!M.kill_priv);
		CHECK_EQ(oo->fh, 77);
		CHECK_EQ(oo->open_flags, FOPEN_KEEP_CACHE | FOPEN_NOFLUSH);
	}
}

static void t_read_fd(void)
{
	char path[] = "/tmp/test_fuse_readXXXXXX";
	int fd = mkstemp(path);
	unsigned char content[20000];
	struct fuse_read_in ri;
	size_t icuts[] = { 19, 26, 1026, 1027 };

	CHECK(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (unsigned char)(i * 31 + 7);
	CHECK_EQ(write(fd, content, sizeof(content)), sizeof(content));

	fresh_session(~0ULL);
	M.read_fd = fd;
	memset(&ri, 0, sizeof(ri));
	ri.fh = 3;
	ri.offset = 100;
	ri.size = 5000;
	rb_start(FUSE_READ, 31, 60);
	rb_put(&ri, sizeof(ri));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, NULL, 0, 16 + 5000, icuts, 4);
	CHECK(!strcmp(M.op, "read"));
	CHECK_EQ(M.size, 5000);
	CHECK_EQ(M.off, 100);
	CHECK_EQ(M.fi.fh, 3);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(oh()->len, 16 + 5000);
	CHECK_EQ(E.written, 16 + 5000);
	CHECK(!memcmp(payload(), content + 100, 5000));
	CHECK(guards_ok());

	/* short read at EOF */
	ri.offset = sizeof(content) - 300;
	rb_start(FUSE_READ, 32, 60);
	rb_put(&ri, sizeof(ri));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, NULL, 0, 16 + 5000, icuts, 4);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(oh()->len, 16 + 300);
	CHECK_EQ(E.written, 16 + 300);
	CHECK(!memcmp(payload(), content + sizeof(content) - 300, 300));

	/* asked for more than the reply buffers hold: the fs gets less */
	ri.offset = 0;
	rb_start(FUSE_READ, 33, 60);
	rb_put(&ri, sizeof(ri));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, NULL, 0, 16 + 1000, icuts, 2);
	CHECK_EQ(M.size, 1000);
	CHECK_EQ(E.written, 16 + 1000);
	CHECK(!memcmp(payload(), content, 1000));
	CHECK(guards_ok());

	/* read error: EBADF reply */
	M.read_fd = 12345;
	rb_start(FUSE_READ, 34, 60);
	rb_put(&ri, sizeof(ri));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EBADF);
	CHECK_EQ(E.written, 16);

	/* memory buffer */
	M.read_fd = -1;
	ri.size = 333;
	rb_start(FUSE_READ, 35, 60);
	rb_put(&ri, sizeof(ri));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, NULL, 0, IN_BIG, icuts, 4);
	CHECK_EQ(E.written, 16 + 333);
	CHECK_EQ(((const unsigned char *)payload())[332], (unsigned char)(332 * 7 + 1));
	CHECK(guards_ok());

	/* a buggy fs replying more than asked: cut at the reply buffers */
	M.read_extra = 5000;
	for (int fdmode = 0; fdmode < 2; fdmode++) {
		M.read_fd = fdmode ? fd : -1;
		rb_start(FUSE_READ, 36, 60);
		rb_put(&ri, sizeof(ri));
		rb_fix(0, 0);
		process_cut(g_w, R.b, R.len, NULL, 0, 16 + 1000, icuts, 4);
		CHECK_EQ(oh()->error, 0);
		CHECK_EQ(oh()->len, 16 + 1000);
		CHECK_EQ(E.written, 16 + 1000);
		CHECK(guards_ok());
	}
	M.read_extra = 0;
	close(fd);
}

static void t_write_bufvec(void)
{
	struct fuse_write_in wi;
	const struct fuse_write_out *o = payload();
	static unsigned char data[10000];
	size_t ocuts[] = { 45, 80, 81, 4176, 4176, 9000 };

	fresh_session(~0ULL);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 13 + 5);
	memset(&wi, 0, sizeof(wi));
	wi.fh = 4;
	wi.offset = 4096;
	wi.size = sizeof(data);
	wi.write_flags = FUSE_WRITE_CACHE | FUSE_WRITE_LOCKOWNER |
			 FUSE_WRITE_KILL_SUIDGID;
	wi.lock_owner = 0x55;
	rb_start(FUSE_WRITE, 41, 60);
	rb_put(&wi, sizeof(wi));
	rb_put(data, sizeof(data));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, ocuts, 6, IN_BIG, NULL, 0);
	CHECK(!strcmp(M.op, "write_buf"));
	CHECK_EQ(M.off, 4096);
	CHECK_EQ(M.fi.fh, 4);
	CHECK_EQ(M.fi.writepage, 1);
	CHECK_EQ(M.fi.lock_owner, 0x55);
	CHECK(M.kill_priv);
	/* data segments: [80,81) [81,4176) [4176,9000) [9000,10080) */
	CHECK_EQ(M.nbufs, 4);
	CHECK_EQ(M.bufsizes[0], 1);
	CHECK_EQ(M.bufsizes[1], 4095);
	CHECK_EQ(M.bufsizes[2], 4824);
	CHECK_EQ(M.bufsizes[3], 1080);
	CHECK_EQ(M.size, sizeof(data));
	CHECK_EQ(M.data_len, sizeof(data));
	CHECK(!memcmp(M.data, data, sizeof(data)));
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(o->size, sizeof(data));

	/* size larger than the data present */
	wi.size = sizeof(data) + 1;
	rb_start(FUSE_WRITE, 42, 60);
	rb_put(&wi, sizeof(wi));
	rb_put(data, sizeof(data));
	rb_fix(0, 0);
	M.op[0] = 0;
	process_cut(g_w, R.b, R.len, ocuts, 6, IN_BIG, NULL, 0);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);
}

static void t_write_fallback(void)
{
	struct fuse_lowlevel_ops ops = mock_ops;
	struct fuse_session *se;
	struct fuse_worker *w;
	struct fuse_write_in wi;
	static unsigned char data[3000];
	size_t ocuts[] = { 80, 1000, 2000 };

	ops.write_buf = NULL;
	ops.write = m_write;
	mock_reset();
	se = fuse_virtio_session_new(&ops, sizeof(ops), &mock_xops, NULL);
	w = fuse_worker_new(se);
	send_init(w, 7, 38, ALL_FLAGS, sizeof(struct fuse_init_in));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i ^ 0x3C);
	memset(&wi, 0, sizeof(wi));
	wi.offset = 10;
	wi.size = sizeof(data);
	rb_start(FUSE_WRITE, 43, 60);
	rb_put(&wi, sizeof(wi));
	rb_put(data, sizeof(data));
	rb_fix(0, 0);
	process_cut(w, R.b, R.len, ocuts, 3, IN_BIG, NULL, 0);
	CHECK(!strcmp(M.op, "write"));
	CHECK_EQ(M.size, sizeof(data));
	CHECK(!memcmp(M.data, data, sizeof(data)));
	CHECK_EQ(((const struct fuse_write_out *)payload())->size,
		 sizeof(data));
	/* single segment */
	process_cut(w, R.b, R.len, ocuts, 1, IN_BIG, NULL, 0);
	CHECK_EQ(M.size, sizeof(data));
	CHECK(!memcmp(M.data, data, sizeof(data)));
	fuse_worker_free(w);
	fuse_virtio_session_free(se);
}

static void t_forget(void)
{
	struct fuse_forget_in fi = { .nlookup = 3 };
	struct fuse_batch_forget_in bi = { .count = 3 };
	struct fuse_forget_one one[3] = { { 10, 1 }, { 11, 2 }, { 12, 3 } };
	size_t ocuts[] = { 41, 50, 63 };

	fresh_session(~0ULL);
	rb_start(FUSE_FORGET, 51, 8);
	rb_put(&fi, sizeof(fi));
	rb_send(g_w, 0);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(E.written, 0);
	CHECK(!strcmp(M.op, "forget"));
	CHECK_EQ(M.ino, 8);
	CHECK_EQ(M.forget_sum, 3);

	M.nforget = M.forget_sum = 0;
	rb_start(FUSE_BATCH_FORGET, 52, 0);
	rb_put(&bi, sizeof(bi));
	rb_put(one, sizeof(one));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, ocuts, 3, 64, NULL, 0);
	CHECK_EQ(E.ret, 0);
	CHECK_EQ(E.written, 0);
	CHECK_EQ(M.nforget, 3);
	CHECK_EQ(M.forget_sum, 10001 + 11002 + 12003);
	CHECK(guards_ok());
	CHECK_EQ(((unsigned char *)E.in[0].iov_base)[0], GUARD_BYTE);

	/* count beyond the request: dropped */
	M.nforget = 0;
	bi.count = 4;
	rb_start(FUSE_BATCH_FORGET, 53, 0);
	rb_put(&bi, sizeof(bi));
	rb_put(one, sizeof(one));
	rb_send(g_w, 64);
	CHECK_EQ(E.ret, -EINVAL);
	CHECK_EQ(E.written, 0);
	CHECK_EQ(M.nforget, 0);

	/* huge count must not overflow the check */
	bi.count = 0x10000001; /* * 16 wraps to 16 in 32 bits */
	rb_start(FUSE_BATCH_FORGET, 54, 0);
	rb_put(&bi, sizeof(bi));
	rb_put(one, sizeof(one));
	rb_send(g_w, 64);
	CHECK_EQ(E.ret, -EINVAL);
	CHECK_EQ(M.nforget, 0);

	/* INTERRUPT: no reply */
	{
		struct fuse_interrupt_in ii = { .unique = 52 };

		rb_start(FUSE_INTERRUPT, 55, 0);
		rb_put(&ii, sizeof(ii));
		rb_send(g_w, 64);
		CHECK_EQ(E.ret, 0);
		CHECK_EQ(E.written, 0);
	}
}

static void t_setxattr(void)
{
	struct fuse_setxattr_in si;

	/* without SETXATTR_EXT: 8-byte struct */
	fresh_session(~0ULL & ~(uint64_t)FUSE_SETXATTR_EXT);
	memset(&si, 0, sizeof(si));
	si.size = 5;
	si.flags = 1;
	rb_start(FUSE_SETXATTR, 61, 3);
	rb_put(&si, FUSE_COMPAT_SETXATTR_IN_SIZE);
	rb_str("user.k");
	rb_put("v\0lue", 5);
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK(!strcmp(M.op, "setxattr"));
	CHECK(!strcmp(M.name, "user.k"));
	CHECK_EQ(M.data_len, 5);
	CHECK(!memcmp(M.data, "v\0lue", 5));
	CHECK_EQ(M.xflags, 1);

	/* value truncated */
	M.op[0] = 0;
	si.size = 6;
	rb_start(FUSE_SETXATTR, 62, 3);
	rb_put(&si, FUSE_COMPAT_SETXATTR_IN_SIZE);
	rb_str("user.k");
	rb_put("v\0lue", 5);
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);

	/* with SETXATTR_EXT: 16-byte struct */
	fresh_session(~0ULL);
	memset(&si, 0, sizeof(si));
	si.size = 3;
	si.flags = 2;
	si.setxattr_flags = FUSE_SETXATTR_ACL_KILL_SGID;
	rb_start(FUSE_SETXATTR, 63, 3);
	rb_put(&si, sizeof(si));
	rb_str("system.posix_acl_access");
	rb_put("abc", 3);
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK(!strcmp(M.name, "system.posix_acl_access"));
	CHECK_EQ(M.data_len, 3);
	CHECK(!memcmp(M.data, "abc", 3));
	CHECK_EQ(M.xflags, 2);
	CHECK(M.kill_priv);

	/* getxattr: value longer than the reply room -> ERANGE */
	{
		struct fuse_getxattr_in gi = { .size = 4096 };

		M.xattr_reply = 100;
		rb_start(FUSE_GETXATTR, 64, 3);
		rb_put(&gi, sizeof(gi));
		rb_str("user.k");
		rb_send(g_w, 16 + 50);
		CHECK_EQ(oh()->error, -ERANGE);
		CHECK_EQ(E.written, 16);
		CHECK(guards_ok());
		rb_send(g_w, 16 + 100);
		CHECK_EQ(oh()->error, 0);
		CHECK_EQ(E.written, 16 + 100);
		CHECK(guards_ok());
	}
}

/* Walk packed dirents, return the count; checks names and offsets. */
static int parse_dirents(const unsigned char *p, size_t len, bool plus,
			 int first)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		const struct fuse_dirent *d;
		char want[32];

		if (plus) {
			const struct fuse_direntplus *dp = (const void *)(p + pos);

			CHECK_EQ(dp->entry_out.nodeid, 100 + first + n);
			CHECK_EQ(dp->entry_out.attr.mode, S_IFDIR | 0755);
			d = &dp->dirent;
			CHECK_EQ(d->type, DT_DIR);
		} else {
			d = (const void *)(p + pos);
			CHECK_EQ(d->type, DT_REG);
		}
		snprintf(want, sizeof(want), "entry%d", first + n);
		CHECK_EQ(d->namelen, strlen(want));
		CHECK(!memcmp(d->name, want, strlen(want)));
		CHECK_EQ(d->ino, 100 + first + n);
		CHECK_EQ(d->off, first + n + 1);
		pos += plus ? FUSE_DIRENTPLUS_SIZE((const struct fuse_direntplus *)(p + pos))
			    : FUSE_DIRENT_SIZE(d);
		n++;
	}
	CHECK_EQ(pos, len);
	return n;
}

static void t_readdir(void)
{
	struct fuse_read_in ri;
	size_t icuts[] = { 3, 30, 31 };
	/* entry "entryN" (6 chars): 24 + 6 -> 32 bytes; plus: 152 + 6 -> 160 */

	fresh_session(~0ULL);
	memset(&ri, 0, sizeof(ri));
	ri.size = 100; /* room for 3 plain entries */
	rb_start(FUSE_READDIR, 71, 1);
	rb_put(&ri, sizeof(ri));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, NULL, 0, IN_BIG, icuts, 3);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(M.size, 100);
	CHECK_EQ(E.written, 16 + 96);
	CHECK_EQ(parse_dirents(payload(), E.written - 16, false, 0), 3);

	ri.offset = 8; /* entries 8 and 9 only */
	ri.size = 4096;
	rb_start(FUSE_READDIR, 72, 1);
	rb_put(&ri, sizeof(ri));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(parse_dirents(payload(), E.written - 16, false, 8), 2);

	ri.offset = 0;
	ri.size = 400; /* room for 2 plus entries */
	rb_start(FUSE_READDIRPLUS, 73, 1);
	rb_put(&ri, sizeof(ri));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, NULL, 0, IN_BIG, icuts, 3);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(E.written, 16 + 320);
	CHECK_EQ(parse_dirents(payload(), E.written - 16, true, 0), 2);

	/* size bigger than the reply buffers: fs gets the room */
	ri.size = 65536;
	rb_start(FUSE_READDIRPLUS, 74, 1);
	rb_put(&ri, sizeof(ri));
	rb_fix(0, 0);
	process_cut(g_w, R.b, R.len, NULL, 0, 16 + 500, icuts, 3);
	CHECK_EQ(M.size, 500);
	CHECK_EQ(E.written, 16 + 480);
	CHECK_EQ(parse_dirents(payload(), E.written - 16, true, 0), 3);
	CHECK(guards_ok());

	/* fuse_add_direntry size query with NULL buffer */
	{
		struct stat st;

		memset(&st, 0, sizeof(st));
		CHECK_EQ(fuse_add_direntry(NULL, NULL, 0, "abcdefghi", &st, 0),
			 40);
		CHECK_EQ(fuse_add_direntry(NULL, NULL, 0, "abcdefgh", &st, 0),
			 32);
	}
}

static void t_secctx(void)
{
	struct fuse_mkdir_in mi = { .mode = S_IFDIR | 0755, .umask = 077 };
	unsigned char ext[256];
	size_t elen = 0;
	struct fuse_secctx_header sh;
	struct fuse_secctx sc;
	struct fuse_ext_header gh;
	uint32_t g[2] = { 1, 555 };
	size_t ocuts[] = { 50, 61, 70 };

	fresh_session(~0ULL);
	/* security context: header, fuse_secctx, name, value, padded */
	memset(ext, 0, sizeof(ext));
	sc.size = 5;
	sc.padding = 0;
	sh.nr_secctx = 1;
	sh.size = (uint32_t)(sizeof(sh) +
			     ((sizeof(sc) + sizeof("security.selinux") + 5 + 7) & ~7u));
	memcpy(ext, &sh, sizeof(sh));
	memcpy(ext + 8, &sc, sizeof(sc));
	memcpy(ext + 16, "security.selinux", sizeof("security.selinux"));
	memcpy(ext + 16 + sizeof("security.selinux"), "ctx:1", 5);
	elen = sh.size;
	/* supplementary group extension */
	gh.size = 16;
	gh.type = 32;
	memcpy(ext + elen, &gh, sizeof(gh));
	memcpy(ext + elen + 8, g, sizeof(g));
	elen += 16;

	rb_start(FUSE_MKDIR, 81, 1);
	rb_put(&mi, sizeof(mi));
	rb_str("dir");
	rb_put(ext, elen);
	rb_fix(0, (uint16_t)(elen / 8));
	process_cut(g_w, R.b, R.len, ocuts, 3, IN_BIG, NULL, 0);
	CHECK_EQ(oh()->error, 0);
	CHECK(!strcmp(M.op, "mkdir"));
	CHECK(!strcmp(M.name, "dir"));
	CHECK_EQ(M.mode, S_IFDIR | 0755);
	CHECK_EQ(M.umask, 077);
	CHECK(M.secctx);
	CHECK(!strcmp(M.sc_name, "security.selinux"));
	CHECK_EQ(M.sc_size, 5);
	CHECK(!memcmp(M.sc_value, "ctx:1", 5));
	CHECK(M.has_gid);
	CHECK_EQ(M.gid, 555);

	/* no extension: none reported */
	rb_start(FUSE_MKDIR, 82, 1);
	rb_put(&mi, sizeof(mi));
	rb_str("dir2");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK(!M.secctx);
	CHECK(!M.has_gid);

	/* value size past the extension: EINVAL */
	sc.size = 200;
	memcpy(ext + 8, &sc, sizeof(sc));
	M.op[0] = 0;
	rb_start(FUSE_MKDIR, 83, 1);
	rb_put(&mi, sizeof(mi));
	rb_str("dir");
	rb_put(ext, elen);
	rb_fix(0, (uint16_t)(elen / 8));
	process(g_w, R.b, R.len, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);

	/* 7.36 guest: the security context follows the name in-line */
	{
		struct fuse_session *se = fuse_virtio_session_new(
			&mock_ops, sizeof(mock_ops), &mock_xops, NULL);
		struct fuse_worker *w = fuse_worker_new(se);
		size_t sclen;

		M.want_cfg = ~0ULL;
		send_init(w, 7, 36, FUSE_INIT_EXT | FUSE_SECURITY_CTX,
			  sizeof(struct fuse_init_in));
		CHECK_EQ(((const struct fuse_init_out *)payload())->flags2,
			 FUSE_SECURITY_CTX >> 32);
		sc.size = 5;
		memcpy(ext + 8, &sc, sizeof(sc));
		sclen = sh.size;
		rb_start(FUSE_MKDIR, 85, 1);
		rb_put(&mi, sizeof(mi));
		rb_str("old");
		rb_put(ext, sclen);
		rb_send(w, IN_BIG);
		CHECK_EQ(oh()->error, 0);
		CHECK(!strcmp(M.name, "old"));
		CHECK(M.secctx);
		CHECK(!strcmp(M.sc_name, "security.selinux"));
		CHECK(!memcmp(M.sc_value, "ctx:1", 5));
		/* in-line context claiming more bytes than present */
		M.op[0] = 0;
		rb_start(FUSE_MKDIR, 86, 1);
		rb_put(&mi, sizeof(mi));
		rb_str("old");
		rb_put(ext, sclen - 8);
		rb_send(w, IN_BIG);
		CHECK_EQ(oh()->error, -EINVAL);
		CHECK_EQ(M.op[0], 0);
		fuse_worker_free(w);
		fuse_virtio_session_free(se);
	}

	/* extension header size 0: EINVAL, no endless loop */
	memset(ext, 0, 16);
	rb_start(FUSE_MKDIR, 84, 1);
	rb_put(&mi, sizeof(mi));
	rb_str("dir");
	rb_put(ext, 16);
	rb_fix(0, 2);
	process(g_w, R.b, R.len, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
}

static void t_symlink_rename(void)
{
	struct fuse_rename2_in r2 = { .newdir = 9, .flags = 1 };
	struct fuse_rename_in r1 = { .newdir = 8 };

	fresh_session(~0ULL);
	rb_start(FUSE_SYMLINK, 91, 2);
	rb_str("lnk");
	rb_str("../some/where");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK(!strcmp(M.name, "lnk"));
	CHECK(!strcmp(M.name2, "../some/where"));
	CHECK_EQ(((const struct fuse_entry_out *)payload())->nodeid, 51);

	rb_start(FUSE_RENAME2, 92, 2);
	rb_put(&r2, sizeof(r2));
	rb_str("a");
	rb_str("b");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK(!strcmp(M.op, "rename"));
	CHECK_EQ(M.ino, 2);
	CHECK_EQ(M.ino2, 9);
	CHECK(!strcmp(M.name, "a"));
	CHECK(!strcmp(M.name2, "b"));
	CHECK_EQ(M.xflags, 1);

	rb_start(FUSE_RENAME, 93, 2);
	rb_put(&r1, sizeof(r1));
	rb_str("c");
	rb_str("d");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(M.ino2, 8);
	CHECK(!strcmp(M.name2, "d"));
	CHECK_EQ(M.xflags, 0);

	/* second name missing */
	M.op[0] = 0;
	rb_start(FUSE_RENAME, 94, 2);
	rb_put(&r1, sizeof(r1));
	rb_str("c");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);
}

static void t_setattr(void)
{
	struct fuse_setattr_in sa;

	fresh_session(~0ULL);
	memset(&sa, 0, sizeof(sa));
	sa.valid = FATTR_MODE | FATTR_SIZE | FATTR_ATIME | FATTR_ATIME_NOW |
		   FATTR_MTIME | FATTR_FH | FATTR_KILL_SUIDGID | FATTR_CTIME;
	sa.mode = 0600;
	sa.size = 4097;
	sa.mtime = 1234;
	sa.mtimensec = 5678;
	sa.fh = 66;
	rb_start(FUSE_SETATTR, 101, 60);
	rb_put(&sa, sizeof(sa));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(M.to_set, FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE |
				   FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW |
				   FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME |
				   FUSE_SET_ATTR_KILL_SUID |
				   FUSE_SET_ATTR_KILL_SGID);
	CHECK_EQ(M.st.st_mode, 0600);
	CHECK_EQ(M.st.st_size, 4097);
	CHECK_EQ(M.st.st_mtim.tv_sec, 1234);
	CHECK_EQ(M.st.st_mtim.tv_nsec, 5678);
	CHECK(!M.fi_null);
	CHECK_EQ(M.fi.fh, 66);

	sa.valid = FATTR_UID;
	rb_start(FUSE_SETATTR, 102, 60);
	rb_put(&sa, sizeof(sa));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(M.to_set, FUSE_SET_ATTR_UID);
	CHECK(M.fi_null);

	/* size beyond off_t */
	sa.valid = FATTR_SIZE;
	sa.size = 1ULL << 63;
	rb_start(FUSE_SETATTR, 103, 60);
	rb_put(&sa, sizeof(sa));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
}

static void t_locks(void)
{
	struct fuse_lk_in li;
	const struct fuse_lk_out *lo = payload();

	fresh_session(~0ULL);
	memset(&li, 0, sizeof(li));
	li.fh = 5;
	li.owner = 0x1234;
	li.lk.type = F_WRLCK;
	li.lk.start = 100;
	li.lk.end = 199;
	li.lk.pid = 77;
	rb_start(FUSE_SETLKW, 111, 60);
	rb_put(&li, sizeof(li));
	rb_send(g_w, IN_BIG);
	CHECK(!strcmp(M.op, "setlk"));
	CHECK_EQ(M.sleep, 1);
	CHECK_EQ(M.fl.l_type, F_WRLCK);
	CHECK_EQ(M.fl.l_start, 100);
	CHECK_EQ(M.fl.l_len, 100);
	CHECK_EQ(M.fl.l_whence, SEEK_SET);
	CHECK_EQ(M.fl.l_pid, 77);
	CHECK_EQ(M.fi.lock_owner, 0x1234);
	CHECK_EQ(M.fi.fh, 5);

	li.lk.end = INT64_MAX; /* to EOF */
	rb_start(FUSE_SETLK, 112, 60);
	rb_put(&li, sizeof(li));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(M.sleep, 0);
	CHECK_EQ(M.fl.l_len, 0);

	li.lk_flags = FUSE_LK_FLOCK;
	rb_start(FUSE_SETLK, 113, 60);
	rb_put(&li, sizeof(li));
	rb_send(g_w, IN_BIG);
	CHECK(!strcmp(M.op, "flock"));
	CHECK_EQ(M.flock_op, LOCK_EX | LOCK_NB);

	li.lk.type = F_UNLCK;
	rb_start(FUSE_SETLKW, 114, 60);
	rb_put(&li, sizeof(li));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(M.flock_op, LOCK_UN);

	li.lk_flags = 0;
	li.lk.type = F_RDLCK;
	li.lk.end = 150;
	rb_start(FUSE_GETLK, 115, 60);
	rb_put(&li, sizeof(li));
	rb_send(g_w, IN_BIG);
	CHECK(!strcmp(M.op, "getlk"));
	CHECK_EQ(M.fl.l_len, 51);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(lo->lk.type, F_WRLCK);
	CHECK_EQ(lo->lk.start, 10);
	CHECK_EQ(lo->lk.end, INT64_MAX);
	CHECK_EQ(lo->lk.pid, 99);

	/* bogus lock type */
	M.op[0] = 0;
	li.lk.type = 77;
	rb_start(FUSE_SETLK, 116, 60);
	rb_put(&li, sizeof(li));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EINVAL);
	CHECK_EQ(M.op[0], 0);
}

static void t_release_misc(void)
{
	struct fuse_release_in ri;
	struct fuse_syncfs_in si = { 0 };

	fresh_session(~0ULL);
	memset(&ri, 0, sizeof(ri));
	ri.fh = 88;
	ri.flags = O_WRONLY;
	ri.release_flags = FUSE_RELEASE_FLUSH | FUSE_RELEASE_FLOCK_UNLOCK;
	ri.lock_owner = 0x99;
	rb_start(FUSE_RELEASE, 121, 60);
	rb_put(&ri, sizeof(ri));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(M.fi.fh, 88);
	CHECK_EQ(M.fi.flags, O_WRONLY);
	CHECK_EQ(M.fi.flush, 1);
	CHECK_EQ(M.fi.flock_release, 1);
	CHECK_EQ(M.fi.lock_owner, 0x99);

	/* RELEASEDIR without an op: success */
	rb_start(FUSE_RELEASEDIR, 122, 60);
	rb_put(&ri, sizeof(ri));
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(E.written, 16);

	/* fs op that forgets to reply: EIO */
	rb_start(FUSE_STATFS, 123, 1);
	rb_send(g_w, IN_BIG);
	CHECK(!strcmp(M.op, "statfs"));
	CHECK_EQ(oh()->error, -EIO);
	CHECK_EQ(oh()->unique, 123);

	rb_start(FUSE_SYNCFS, 124, 1);
	rb_put(&si, sizeof(si));
	rb_send(g_w, IN_BIG);
	CHECK(!strcmp(M.op, "syncfs"));
	CHECK_EQ(oh()->error, 0);

	/* TMPFILE without xop->tmpfile: ENOSYS */
	{
		struct fuse_create_in ci;

		memset(&ci, 0, sizeof(ci));
		rb_start(FUSE_TMPFILE, 125, 1);
		rb_put(&ci, sizeof(ci));
		rb_str("/");
		rb_send(g_w, IN_BIG);
		CHECK_EQ(oh()->error, -ENOSYS);
	}
}

static void t_destroy_reinit(void)
{
	fresh_session(~0ULL);
	CHECK(fuse_session_initialized(g_se));
	rb_start(FUSE_DESTROY, 131, 0);
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(E.written, 16);
	CHECK_EQ(M.ndestroy, 1);
	CHECK(!fuse_session_initialized(g_se));

	/* requests after DESTROY: EIO */
	rb_start(FUSE_LOOKUP, 132, 1);
	rb_str("x");
	rb_send(g_w, IN_BIG);
	CHECK_EQ(oh()->error, -EIO);

	/* new INIT: fs reset first, then negotiate again */
	send_init(g_w, 7, 38, ALL_FLAGS, sizeof(struct fuse_init_in));
	CHECK_EQ(oh()->error, 0);
	CHECK_EQ(M.nreset, 1);
	CHECK_EQ(M.ninit, 2);
	CHECK(fuse_session_initialized(g_se));

	/* reset_state: uninitialized, fs reset */
	fuse_session_reset_state(g_se);
	CHECK(!fuse_session_initialized(g_se));
	CHECK_EQ(M.nreset, 2);

	/* set_state restores a session without INIT */
	{
		struct fv_session_state st = {
			.initialized = true, .minor = 38,
			.flags = FUSE_ASYNC_READ | FUSE_SETXATTR_EXT,
			.max_write = 131072, .time_gran = 1,
		};
		struct fv_session_state got;

		fuse_session_set_state(g_se, &st);
		CHECK(fuse_session_initialized(g_se));
		fuse_session_get_state(g_se, &got);
		CHECK_EQ(got.flags, st.flags);
		CHECK_EQ(got.max_write, 131072);
		rb_start(FUSE_LOOKUP, 133, 1);
		rb_str("x");
		rb_send(g_w, IN_BIG);
		CHECK_EQ(oh()->error, 0);
	}
}

static void t_buf_copy(void)
{
	char path[] = "/tmp/test_fuse_bufXXXXXX";
	int fd = mkstemp(path);
	char a[] = "hello ", b[] = "world", back[32];
	struct fuse_bufvec *sv = calloc(1, sizeof(*sv) + sizeof(struct fuse_buf));
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(100);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(sizeof(back));

	CHECK(fd >= 0);
	unlink(path);
	sv->count = 2;
	sv->buf[0].mem = a;
	sv->buf[0].size = 6;
	sv->buf[1].mem = b;
	sv->buf[1].size = 5;
	sv->off = 1; /* skip 'h' */
	CHECK_EQ(fuse_buf_size(sv), 11);
	dst.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	dst.buf[0].fd = fd;
	dst.buf[0].pos = 3;
	CHECK_EQ(fuse_buf_copy(&dst, sv, 0), 10);
	CHECK_EQ(sv->idx, 2);
	CHECK_EQ(pread(fd, back, sizeof(back), 3), 10);
	CHECK(!memcmp(back, "ello world", 10));

	/* fd -> mem */
	memset(back, 0, sizeof(back));
	dst.idx = 0;
	dst.off = 0;
	dst.buf[0].pos = 4;
	mem.buf[0].mem = back;
	CHECK_EQ(fuse_buf_copy(&mem, &dst, 0), 9);
	CHECK(!memcmp(back, "llo world", 9));

	/* mem -> fd at a bufvec offset */
	sv->idx = 0;
	sv->off = 0;
	dst.idx = 0;
	dst.off = 20;
	dst.buf[0].pos = 0;
	CHECK_EQ(fuse_buf_copy(&dst, sv, 0), 11);
	CHECK_EQ(dst.off, 31);
	CHECK_EQ(pread(fd, back, 11, 20), 11);
	CHECK(!memcmp(back, "hello world", 11));
	free(sv);
	close(fd);
}

/* Thread-safe getattr for the concurrency test. */
static void m_getattr_quiet(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill_stat(&st, ino);
	fuse_reply_attr(req, &st, 1.0);
}

/* Concurrent workers on one session. */
static void *hammer(void *arg)
{
	struct fuse_worker *w = fuse_worker_new(g_se);
	struct iovec out[2], in[1];
	struct {
		struct fuse_in_header h;
		struct fuse_getattr_in a;
	} rq;
	unsigned char rep[256];
	long bad = 0;

	memset(&rq, 0, sizeof(rq));
	rq.h.len = sizeof(rq);
	rq.h.opcode = FUSE_GETATTR;
	rq.h.nodeid = (uintptr_t)arg;
	for (int i = 0; i < 20000; i++) {
		size_t written = 0;
		const struct fuse_out_header *o = (const void *)rep;
		const struct fuse_attr_out *ao = (const void *)(rep + 16);

		rq.h.unique = (uint64_t)i;
		out[0].iov_base = &rq;
		out[0].iov_len = 10;
		out[1].iov_base = (char *)&rq + 10;
		out[1].iov_len = sizeof(rq) - 10;
		in[0].iov_base = rep;
		in[0].iov_len = sizeof(rep);
		if (fuse_session_process(w, out, 2, in, 1, &written) ||
		    written != 16 + sizeof(*ao) || o->error ||
		    o->unique != (uint64_t)i || ao->attr.ino != rq.h.nodeid)
			bad++;
	}
	fuse_worker_free(w);
	return (void *)bad;
}

static void t_threads(void)
{
	static const struct fuse_lowlevel_ops ops = { .getattr = m_getattr_quiet };
	struct fuse_worker *w;
	pthread_t th[4];

	fuse_worker_free(g_w);
	fuse_virtio_session_free(g_se);
	g_se = fuse_virtio_session_new(&ops, sizeof(ops), NULL, NULL);
	g_w = w = fuse_worker_new(g_se);
	send_init(w, 7, 38, ALL_FLAGS, sizeof(struct fuse_init_in));
	CHECK_EQ(oh()->error, 0);
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, (void *)(i + 1));
	for (int i = 0; i < 4; i++) {
		void *r;

		pthread_join(th[i], &r);
		CHECK_EQ((long)r, 0);
	}
}

int main(void)
{
	run_test("INIT 7.38 negotiation", t_init_38);
	run_test("INIT 7.31 / no INIT_EXT", t_init_31);
	run_test("INIT too old minor, old and new major", t_init_bad_versions);
	run_test("INIT refused by the file system", t_init_refused);
	run_test("EIO / silence before INIT", t_before_init);
	run_test("header and argument validation", t_header_validation);
	run_test("unknown opcodes ENOSYS", t_unknown_opcode);
	run_test("LOOKUP split request and reply", t_lookup);
	run_test("GETATTR and too small reply", t_getattr);
	run_test("CREATE / OPEN encoding", t_create);
	run_test("READ fd straight into split reply", t_read_fd);
	run_test("WRITE bufvec over split request", t_write_bufvec);
	run_test("WRITE fallback to ops->write", t_write_fallback);
	run_test("FORGET / BATCH_FORGET / INTERRUPT", t_forget);
	run_test("SETXATTR with/without SETXATTR_EXT, GETXATTR", t_setxattr);
	run_test("READDIR / READDIRPLUS packing", t_readdir);
	run_test("security context and supp group", t_secctx);
	run_test("SYMLINK / RENAME / RENAME2", t_symlink_rename);
	run_test("SETATTR conversion", t_setattr);
	run_test("locks and flock", t_locks);
	run_test("RELEASE flags, missing reply, SYNCFS", t_release_misc);
	run_test("DESTROY, re-INIT, reset, set_state", t_destroy_reinit);
	run_test("fuse_buf_copy", t_buf_copy);
	run_test("concurrent workers", t_threads);
	elem_free();
	fuse_worker_free(g_w);
	fuse_virtio_session_free(g_se);
	printf("1..%d\n", g_ntest);
	return g_fail ? 1 : 0;
}
