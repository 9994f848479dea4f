/*
 * test_locks.c - host-side locks: INIT negotiation (on by default, off
 * with -o no_posix_lock / no_flock), POSIX record locks per guest lock
 * owner (conflicts between owners and with host processes, merge and
 * split within one owner, GETLK and the holder's pid, unlock on FLUSH),
 * flock per FUSE handle, and SETLKW: it waits on a worker of the blocking
 * pool while other requests go on (no request pool needed), is granted on
 * unlock, eight can wait at once and a ninth is refused (ENOLCK), and
 * every waiter is answered ENOLCK within a bounded time when the rings
 * are suspended (GET_VRING_BASE).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID
#define OWNER_A 0xa11ceULL
#define OWNER_B 0xb0bULL
#define PID_A 4242
#define PID_B 4343
#define OFFSET_MAX 0x7fffffffffffffffULL

struct lk_file {
	uint64_t nodeid, fh1, fh2;
};

static void env_up(struct vfe_env *e, unsigned pool, const char *extra)
{
	struct vfe_env_opts o;

	memset(&o, 0, sizeof(o));
	o.daemon.thread_pool_size = pool;
	o.daemon.extra[0] = extra;
	vfe_env_up(e, &o);
}

static void file_up(struct vfe_env *e, struct lk_file *lf)
{
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	int fd = open(vfe_shared_path(e, "f"), O_RDWR | O_CREAT, 0644);

	CHECK(fd >= 0);
	CHECK(write(fd, "0123456789", 10) == 10);
	close(fd);
	CHECK_OK(vfe_fuse_lookup(&e->f, ROOT, "f", &ent));
	lf->nodeid = ent.nodeid;
	CHECK_OK(vfe_fuse_open(&e->f, ent.nodeid, O_RDWR, &op));
	lf->fh1 = op.fh;
	CHECK_OK(vfe_fuse_open(&e->f, ent.nodeid, O_RDWR, &op));
	lf->fh2 = op.fh;
}

static void lk_call(struct vfe_fuse_call *c, struct fuse_lk_in *in,
		    struct fuse_lk_out *out, uint32_t opcode, uint64_t nodeid,
		    uint64_t fh, uint64_t owner, uint32_t type, uint64_t start,
		    uint64_t end, uint32_t pid, bool flock)
{
	memset(c, 0, sizeof(*c));
	memset(in, 0, sizeof(*in));
	in->fh = fh;
	in->owner = owner;
	in->lk.start = start;
	in->lk.end = end;
	in->lk.type = type;
	in->lk.pid = pid;
	in->lk_flags = flock ? FUSE_LK_FLOCK : 0;
	c->opcode = opcode;
	c->nodeid = nodeid;
	c->in[0].iov_base = in;
	c->in[0].iov_len = sizeof(*in);
	c->nin = 1;
	c->out = out;
	c->out_cap = out ? sizeof(*out) : 0;
	c->queue = VFE_Q_DEFAULT;
}

/* SETLK (or SETLKW when wait) of [start, end] for owner; 0 or -errno. */
static int setlk(struct vfe_env *e, const struct lk_file *lf, uint64_t fh,
		 uint64_t owner, uint32_t type, uint64_t start, uint64_t end,
		 uint32_t pid)
{
	struct vfe_fuse_call c;
	struct fuse_lk_in in;

	lk_call(&c, &in, NULL, FUSE_SETLK, lf->nodeid, fh, owner, type, start,
		end, pid, false);
	return vfe_fuse_call(&e->f, &c);
}

static int getlk(struct vfe_env *e, const struct lk_file *lf, uint64_t owner,
		 uint32_t type, uint64_t start, uint64_t end,
		 struct fuse_file_lock *got)
{
	struct vfe_fuse_call c;
	struct fuse_lk_in in;
	struct fuse_lk_out out;
	int r;

	memset(&out, 0, sizeof(out));
	lk_call(&c, &in, &out, FUSE_GETLK, lf->nodeid, lf->fh1, owner, type,
		start, end, 1, false);
	r = vfe_fuse_call(&e->f, &c);
	*got = out.lk;
	return r;
}

static int flock_req(struct vfe_env *e, const struct lk_file *lf, uint64_t fh,
		     uint32_t type, bool wait)
{
	struct vfe_fuse_call c;
	struct fuse_lk_in in;

	lk_call(&c, &in, NULL, wait ? FUSE_SETLKW : FUSE_SETLK, lf->nodeid,
		fh, fh, type, 0, OFFSET_MAX, 1, true);
	return vfe_fuse_call(&e->f, &c);
}

static int host_ofd(int fd, short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET,
			   .l_start = start, .l_len = len };

	return fcntl(fd, F_OFD_SETLK, &l) < 0 ? -errno : 0;
}

static void t_negotiation(void)
{
	struct vfe_env e;

	/* On by default, with or without a request pool: lock waits have
	 * workers of their own. */
	env_up(&e, 0, NULL);
	CHECK(e.f.init.flags & FUSE_POSIX_LOCKS);
	CHECK(e.f.init.flags & FUSE_FLOCK_LOCKS);
	vfe_env_down(&e);
	env_up(&e, 2, NULL);
	CHECK(e.f.init.flags & FUSE_POSIX_LOCKS);
	CHECK(e.f.init.flags & FUSE_FLOCK_LOCKS);
	vfe_env_down(&e);
	env_up(&e, 2, "-ono_posix_lock,no_flock");
	CHECK(!(e.f.init.flags & FUSE_POSIX_LOCKS));
	CHECK(!(e.f.init.flags & FUSE_FLOCK_LOCKS));
	vfe_env_down(&e);
}

static void t_posix(void)
{
	struct vfe_env e;
	struct lk_file lf;
	struct fuse_file_lock got;
	int hfd;

	env_up(&e, 4, NULL);
	file_up(&e, &lf);
	/* Two owners conflict, also through different handles. */
	CHECK_OK(setlk(&e, &lf, lf.fh1, OWNER_A, F_WRLCK, 0, 49, PID_A));
	CHECK_ERR(setlk(&e, &lf, lf.fh2, OWNER_B, F_WRLCK, 0, 9, PID_B),
		  -EAGAIN);
	CHECK_ERR(setlk(&e, &lf, lf.fh1, OWNER_B, F_RDLCK, 40, 59, PID_B),
		  -EAGAIN);
	/* One owner merges and splits: [0,99], then unlock [0,49]. */
	CHECK_OK(setlk(&e, &lf, lf.fh2, OWNER_A, F_WRLCK, 50, 99, PID_A));
	CHECK_OK(getlk(&e, &lf, OWNER_B, F_WRLCK, 0, OFFSET_MAX, &got));
	CHECK_EQ(got.type, F_WRLCK);
	CHECK_EQ(got.start, 0);
	CHECK_EQ(got.end, 99);
	CHECK_EQ(got.pid, PID_A);
	CHECK_OK(getlk(&e, &lf, OWNER_A, F_WRLCK, 0, OFFSET_MAX, &got));
	CHECK_EQ(got.type, F_UNLCK);
	CHECK_OK(setlk(&e, &lf, lf.fh1, OWNER_A, F_UNLCK, 0, 49, PID_A));
	CHECK_OK(setlk(&e, &lf, lf.fh1, OWNER_B, F_WRLCK, 0, 9, PID_B));
	CHECK_ERR(setlk(&e, &lf, lf.fh1, OWNER_B, F_WRLCK, 60, 60, PID_B),
		  -EAGAIN);
	/* Unlocking what one does not hold is fine. */
	CHECK_OK(setlk(&e, &lf, lf.fh1, 0x777, F_UNLCK, 0, OFFSET_MAX, 9));

	/* Host processes see the guest's locks, and the other way round. */
	hfd = open(vfe_shared_path(&e, "f"), O_RDWR);
	CHECK(hfd >= 0);
	CHECK_ERR(host_ofd(hfd, F_WRLCK, 60, 1), -EAGAIN);
	CHECK_ERR(host_ofd(hfd, F_RDLCK, 5, 1), -EAGAIN);
	CHECK_OK(host_ofd(hfd, F_WRLCK, 200, 10));
	CHECK_ERR(setlk(&e, &lf, lf.fh1, OWNER_A, F_RDLCK, 205, 205, PID_A),
		  -EAGAIN);
	CHECK_OK(getlk(&e, &lf, OWNER_A, F_RDLCK, 150, 300, &got));
	CHECK_EQ(got.type, F_WRLCK);
	CHECK_EQ(got.start, 200);
	CHECK_EQ(got.end, 209);
	CHECK_EQ(got.pid, 0);

	/* FLUSH of owner B (a close in the guest) drops B's locks only. */
	{
		struct vfe_fuse_call c;
		struct fuse_flush_in fl = { .fh = lf.fh2,
					    .lock_owner = OWNER_B };

		memset(&c, 0, sizeof(c));
		c.opcode = FUSE_FLUSH;
		c.nodeid = lf.nodeid;
		c.in[0].iov_base = &fl;
		c.in[0].iov_len = sizeof(fl);
		c.nin = 1;
		c.queue = VFE_Q_DEFAULT;
		CHECK_OK(vfe_fuse_call(&e.f, &c));
	}
	CHECK_OK(host_ofd(hfd, F_RDLCK, 5, 1));
	CHECK_ERR(host_ofd(hfd, F_WRLCK, 60, 1), -EAGAIN);

	/* flock belongs to the handle (open file description). */
	CHECK_OK(flock_req(&e, &lf, lf.fh1, F_WRLCK, false));
	CHECK_ERR(flock_req(&e, &lf, lf.fh2, F_RDLCK, false), -EAGAIN);
	CHECK_ERR(flock(hfd, LOCK_SH | LOCK_NB) < 0 ? -errno : 0,
		  -EWOULDBLOCK);
	CHECK_OK(flock_req(&e, &lf, lf.fh1, F_UNLCK, false));
	CHECK_OK(flock_req(&e, &lf, lf.fh2, F_RDLCK, false));
	CHECK_OK(flock(hfd, LOCK_SH | LOCK_NB) < 0 ? -errno : 0);
	CHECK_ERR(flock_req(&e, &lf, lf.fh1, F_WRLCK, false), -EAGAIN);
	close(hfd);
	CHECK_OK(vfe_fuse_release(&e.f, lf.nodeid, lf.fh1, 0));
	CHECK_OK(vfe_fuse_release(&e.f, lf.nodeid, lf.fh2, 0));
	vfe_env_down(&e);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct vfe_fuse_req *submit_setlkw_as(struct vfe_env *e,
					     const struct lk_file *lf,
					     struct vfe_fuse_call *c,
					     struct fuse_lk_in *in,
					     uint64_t owner, uint32_t pid)
{
	struct vfe_fuse_req *r;
	int err = 0;

	lk_call(c, in, NULL, FUSE_SETLKW, lf->nodeid, lf->fh2, owner,
		F_WRLCK, 0, 0, pid, false);
	r = vfe_fuse_submit(&e->f, c, &err);
	CHECKF(r, "submit SETLKW: %s", vfe_errname(err));
	return r;
}

/* Owner B waits for the whole file. */
static struct vfe_fuse_req *submit_setlkw(struct vfe_env *e,
					  const struct lk_file *lf,
					  struct vfe_fuse_call *c,
					  struct fuse_lk_in *in)
{
	return submit_setlkw_as(e, lf, c, in, OWNER_B, PID_B);
}

static void t_setlkw(void)
{
	struct vfe_env e;
	struct lk_file lf;
	struct vfe_fuse_call c;
	struct fuse_lk_in in;
	struct fuse_attr_out a;
	struct vfe_fuse_req *r;
	uint16_t base[8];
	double t0;

	/* No request pool: the wait must still not stall the ring. */
	env_up(&e, 0, NULL);
	file_up(&e, &lf);
	/* Granted on unlock; other requests go on meanwhile. */
	CHECK_OK(setlk(&e, &lf, lf.fh1, OWNER_A, F_WRLCK, 0, 0, PID_A));
	r = submit_setlkw(&e, &lf, &c, &in);
	usleep(200 * 1000);
	CHECK(!r->done);
	CHECK_OK(vfe_fuse_getattr(&e.f, lf.nodeid, false, 0, &a));
	CHECK_OK(setlk(&e, &lf, lf.fh1, OWNER_A, F_UNLCK, 0, 0, PID_A));
	CHECK_OK(vfe_fuse_wait(&e.f, r, 5000));
	CHECK_OK(vfe_fuse_result(&e.f, r, &c));
	vfe_fuse_put(&e.f, r);
	CHECK_ERR(setlk(&e, &lf, lf.fh1, OWNER_A, F_WRLCK, 0, 0, PID_A),
		  -EAGAIN);
	CHECK_OK(setlk(&e, &lf, lf.fh2, OWNER_B, F_UNLCK, 0, 0, PID_B));

	/* Eight owners wait at once (the blocking workers); a ninth wait
	 * is refused rather than queued behind them.  Then a suspend: every
	 * waiter has its answer (ENOLCK) when GET_VRING_BASE returns, soon,
	 * and nothing is held for them afterwards. */
	CHECK_OK(setlk(&e, &lf, lf.fh1, OWNER_A, F_WRLCK, 0, 0, PID_A));
	{
		struct vfe_fuse_call cw[8];
		struct fuse_lk_in inw[8];
		struct vfe_fuse_req *rw[8];

		for (unsigned i = 0; i < 8; i++)
			rw[i] = submit_setlkw_as(&e, &lf, &cw[i], &inw[i],
						 0xb000 + i, 200 + i);
		usleep(300 * 1000);
		for (unsigned i = 0; i < 8; i++)
			CHECKF(!rw[i]->done, "wait %u answered early", i);
		{
			struct vfe_fuse_call c9;
			struct fuse_lk_in in9;

			lk_call(&c9, &in9, NULL, FUSE_SETLKW, lf.nodeid, lf.fh2,
				0xc0c0, F_WRLCK, 0, 0, 77, false);
			CHECK_ERR(vfe_fuse_call(&e.f, &c9), -ENOLCK);
		}
		t0 = now_s();
		CHECK_OK(vfe_dev_stop(&e.dev, base));
		CHECKF(now_s() - t0 < 2.0, "GET_VRING_BASE took %.2f s",
		       now_s() - t0);
		for (unsigned i = 0; i < 8; i++) {
			CHECK_OK(vfe_fuse_wait(&e.f, rw[i], 1000));
			CHECK_ERR(vfe_fuse_result(&e.f, rw[i], &cw[i]), -ENOLCK);
			vfe_fuse_put(&e.f, rw[i]);
		}
	}
	CHECK_OK(vfe_dev_start(&e.dev));
	CHECK_OK(setlk(&e, &lf, lf.fh1, OWNER_A, F_UNLCK, 0, 0, PID_A));
	CHECK_OK(setlk(&e, &lf, lf.fh2, OWNER_B, F_WRLCK, 0, 0, PID_B));

	/* Blocking flock waits too, and is granted on unlock. */
	CHECK_OK(flock_req(&e, &lf, lf.fh1, F_WRLCK, false));
	lk_call(&c, &in, NULL, FUSE_SETLKW, lf.nodeid, lf.fh2, lf.fh2,
		F_WRLCK, 0, OFFSET_MAX, 1, true);
	{
		int err = 0;

		r = vfe_fuse_submit(&e.f, &c, &err);
		CHECK(r);
	}
	usleep(100 * 1000);
	CHECK(!r->done);
	CHECK_OK(flock_req(&e, &lf, lf.fh1, F_UNLCK, false));
	CHECK_OK(vfe_fuse_wait(&e.f, r, 5000));
	CHECK_OK(vfe_fuse_result(&e.f, r, &c));
	vfe_fuse_put(&e.f, r);
	CHECK_OK(vfe_fuse_release(&e.f, lf.nodeid, lf.fh1, 0));
	CHECK_OK(vfe_fuse_release(&e.f, lf.nodeid, lf.fh2, 0));
	vfe_env_down(&e);
}

int main(int argc, char **argv)
{
	static const struct vfe_test tests[] = {
		{ "negotiation", t_negotiation, 0 },
		{ "posix", t_posix, 0 },
		{ "setlkw", t_setlkw, 0 },
	};

	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
