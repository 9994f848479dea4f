/*
 * vq_thread.c - one thread per started virtqueue: wait for kicks, pop
 * requests, run them through the FUSE session (inline, or on the worker
 * pool when there is one), push replies, notify.
 *
 * Suspend guarantee: vq_thread_stop() (GET_VRING_BASE) first joins the
 * queue thread, which pushes the request in hand before it looks at its
 * stop flag again, then waits until every request handed to the pool has
 * been pushed.  When it returns, the ring writes no more guest memory.
 * Requests blocked on the host (lock waits) are kicked while it waits
 * (vu_gate_wait_kicking()), so the drain takes a bounded time.
 *
 * Gate and in-flight accounting: a ring with requests handed to a pool
 * (inflight > 0, under push_lock) holds one memory-gate entry for all of
 * them, taken when inflight leaves 0 and left by the pool worker that
 * brings it back to 0 (add_inflight(), vq_pool.c).  A request is
 * counted until it is pushed and its notification decided, so the drain
 * also waits for notifications a worker holds back (vq_pool.c).
 *
 * Syscalls: poll, read, write, eventfd2 (+ the thread runtime of
 * seccomp/sc_filter.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "fuse_virtio.h"
#include "log.h"
#include "vq_pool.h"
#include "vu_dev.h"

/* Requests handled per entry into the memory gate (inline mode). */
#define VQ_BATCH 64

static void drain_eventfd(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

static bool keep_going(struct vq *vq)
{
	return !atomic_load(&vq->stop) && atomic_load(&vq->enabled);
}

/*
 * Count n more requests of vq in flight on a pool, before they are
 * submitted (the caller is inside the gate and holds no lock).  While any
 * is in flight the ring holds one gate entry of its own: taken here when
 * the count leaves 0, left by the pool worker that brings it back to 0
 * (vq_pool.c), so a batch costs the gate lock twice, not twice per
 * request.  The entry is taken after push_lock is dropped (lock order:
 * gate, then push_lock); nobody can bring the count back to 0 meanwhile,
 * as the jobs counted are not submitted yet.
 */
static void add_inflight(struct vq *vq, unsigned n)
{
	bool first;

	pthread_mutex_lock(&vq->push_lock);
	first = !vq->inflight && n;
	vq->inflight += n;
	pthread_mutex_unlock(&vq->push_lock);
	if (first)
		vu_gate_enter_nested(&vq->dev->mem_gate);
}

/*
 * Give a request that may block (see fuse_request_may_block()) popped
 * into e to the blocking pool, in a slot of its own (the caller keeps
 * e).  The caller is inside the gate and does not hold push_lock.
 */
static void hand_off_blocking(struct vq *vq, const struct vq_elem *e)
{
	struct vu_dev *dev = vq->dev;
	struct vq_job *job;

	vq_pool_get(dev->block_pool, 1, &job);
	memcpy(&job->elem, e, sizeof(*e));
	job->vq = vq;
	add_inflight(vq, 1);
	vq_pool_submit(dev->block_pool, job, NULL);
}

/* Process what the ring holds in this thread.  Returns true when the ring
 * ran dry or processing must pause; false after a full batch. */
static bool process_inline(struct vq *vq)
{
	struct vu_dev *dev = vq->dev;
	bool dry = false;
	unsigned done = 0;

	vu_gate_enter(&dev->mem_gate);
	pthread_mutex_lock(&vq->push_lock);
	while (done < VQ_BATCH && keep_going(vq)) {
		struct vq_elem *e = vq->elem;
		size_t written = 0;
		int r = vq_pop(vq, &dev->mem, e);

		if (r == 0) {
			if (!vq_enable_kick_and_recheck(vq)) {
				dry = true;
				break;
			}
			continue;
		}
		if (r == -EIO) {
			dry = true;
			break;
		}
		if (r < 0)
			continue;
		done++;
		pthread_mutex_unlock(&vq->push_lock);
		if (dev->block_pool &&
		    fuse_request_may_block(e->out, e->out_num)) {
			hand_off_blocking(vq, e);
			pthread_mutex_lock(&vq->push_lock);
			continue;
		}
		if (fuse_session_process(vq->worker, e->out, e->out_num, e->in,
					 e->in_num, &written) < 0)
			written = 0;
		pthread_mutex_lock(&vq->push_lock);
		vq_push(vq, e, (uint32_t)written);
		/* With EVENT_IDX the driver asks for the entries it has not
		 * seen yet (used_event): asking after every push costs a few
		 * loads while it is busy (it did not move used_event, no
		 * write) and lets it start on the first reply while the
		 * batch goes on, instead of receiving the whole batch at
		 * once.  Without it, one notification per batch. */
		if (vq->event_idx)
			vq_notify(vq);
	}
	vq_notify(vq);
	pthread_mutex_unlock(&vq->push_lock);
	vu_gate_leave(&dev->mem_gate);
	return dry || !keep_going(vq);
}

/*
 * Pool mode, one round: take free job slots (waiting for one if need be),
 * pop what the ring holds into them, up to VQ_BATCH requests.  A quick
 * request (see fuse_request_is_slow(): a hand-over costs more than a
 * cached GETATTR) runs right here in the slot it was popped into; a lock
 * wait is copied to the blocking pool at once (so that request slots are
 * never held by a wait); the others are queued for the request pool in
 * one batch at the end of the round, together with the slots left unused
 * (one lock, at most one wake-up).  push_lock is held for each pop only,
 * so that workers pushing replies meanwhile do not wait for the round.
 * Returns true when the ring ran dry or processing must pause, false after
 * a full round.
 */
static bool pool_round(struct vq *vq)
{
	struct vu_dev *dev = vq->dev;
	struct vq_job *slots, *batch = NULL, **tail = &batch;
	unsigned popped = 0, quick = 0, nbatch = 0;
	bool dry = false;

	vq_pool_get(dev->pool, VQ_BATCH, &slots);
	vu_gate_enter(&dev->mem_gate);
	while (slots && popped < VQ_BATCH && keep_going(vq)) {
		struct vq_job *job = slots;
		size_t written = 0;
		bool more = false;
		int r;

		pthread_mutex_lock(&vq->push_lock);
		r = vq_pop(vq, &dev->mem, &job->elem);
		if (r == 0)
			more = vq_enable_kick_and_recheck(vq);
		pthread_mutex_unlock(&vq->push_lock);
		if (r == 0 && more)
			continue;
		if (r == 0 || r == -EIO) {
			dry = true;
			break;
		}
		popped++;
		if (r < 0) {
			quick++;        /* returned to the driver by vq_pop */
			continue;
		}
		if (!fuse_request_is_slow(job->elem.out, job->elem.out_num)) {
			if (fuse_session_process(vq->worker, job->elem.out,
						 job->elem.out_num, job->elem.in,
						 job->elem.in_num, &written) < 0)
				written = 0;
			pthread_mutex_lock(&vq->push_lock);
			vq_push(vq, &job->elem, (uint32_t)written);
			if (vq->event_idx)   /* as in process_inline() */
				vq_notify(vq);
			pthread_mutex_unlock(&vq->push_lock);
			quick++;
			continue;
		}
		if (fuse_request_may_block(job->elem.out, job->elem.out_num)) {
			hand_off_blocking(vq, &job->elem);
			continue;
		}
		slots = job->next;
		job->next = NULL;
		job->vq = vq;
		*tail = job;
		tail = &job->next;
		nbatch++;
	}
	if (quick) {
		pthread_mutex_lock(&vq->push_lock);
		vq_notify(vq);
		pthread_mutex_unlock(&vq->push_lock);
	}
	if (nbatch)
		add_inflight(vq, nbatch);
	vq_pool_submit(dev->pool, batch, slots);
	vu_gate_leave(&dev->mem_gate);
	return dry || !keep_going(vq);
}

static void *queue_main(void *arg)
{
	struct vq *vq = arg;
	char name[16];

	snprintf(name, sizeof(name), "vq-%u", vq->index);
	pthread_setname_np(pthread_self(), name);
	while (!atomic_load(&vq->stop)) {
		struct pollfd pfd[2] = {
			{ .fd = vq->ctl_fd, .events = POLLIN },
			{ .fd = vq->kick_fd, .events = POLLIN },
		};

		if (atomic_load(&vq->enabled)) {
			if (vq->dev->pool)
				while (!pool_round(vq))
					;
			else
				while (!process_inline(vq))
					;
		}
		if (atomic_load(&vq->stop))
			break;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			LOG_ERR("queue %u: poll: %m", vq->index);
			break;
		}
		if (pfd[0].revents & POLLIN)
			drain_eventfd(vq->ctl_fd);
		if (pfd[1].revents & POLLIN)
			drain_eventfd(vq->kick_fd);
		if (pfd[1].revents & (POLLERR | POLLNVAL)) {
			LOG_ERR("queue %u: kick fd unusable", vq->index);
			break;
		}
	}
	return NULL;
}

int vq_pool_start(struct vu_dev *dev, unsigned nthreads)
{
	/* One worker more than waits may block: the spare one answers a wait
	 * over the limit at once instead of queuing it. */
	dev->block_pool = vq_pool_new(dev->se, VQ_BLOCK_WORKERS + 1, true);
	if (!dev->block_pool)
		return -errno;
	if (!nthreads)
		return 0;
	dev->pool = vq_pool_new(dev->se, nthreads, false);
	if (!dev->pool)
		return -errno;
	LOG_INFO("request pool: %u threads", nthreads);
	return 0;
}

int vq_thread_start(struct vq *vq)
{
	int ret;

	if (vq->started)
		return 0;
	if (!vq->dev->pool && !vq->elem) {
		vq->elem = malloc(sizeof(*vq->elem));
		if (!vq->elem)
			return -ENOMEM;
	}
	if (!vq->worker) {
		vq->worker = fuse_worker_new(vq->dev->se);
		if (!vq->worker)
			return -ENOMEM;
	}
	/* Only rings that are used cost an fd. */
	if (vq->ctl_fd < 0) {
		vq->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->ctl_fd < 0)
			return -errno;
	}
	drain_eventfd(vq->ctl_fd);
	atomic_store(&vq->stop, false);
	ret = pthread_create(&vq->thread, NULL, queue_main, vq);
	if (ret)
		return -ret;
	vq->started = true;
	return 0;
}

static bool ring_drained(void *arg)
{
	return ((struct vq *)arg)->inflight == 0;
}

void vq_thread_stop(struct vq *vq)
{
	static const uint64_t one = 1;

	if (!vq->started)
		return;
	atomic_store(&vq->stop, true);
	if (write(vq->ctl_fd, &one, sizeof(one)) < 0)
		LOG_WARN("queue %u: wake: %m", vq->index);
	pthread_join(vq->thread, NULL);
	pthread_mutex_lock(&vq->push_lock);
	vu_gate_wait_kicking(&vq->dev->mem_gate, &vq->drained, &vq->push_lock,
			     ring_drained, vq);
	pthread_mutex_unlock(&vq->push_lock);
	vq->started = false;
}

void vq_thread_wake(struct vq *vq)
{
	static const uint64_t one = 1;

	if (vq->started && write(vq->ctl_fd, &one, sizeof(one)) < 0)
		LOG_WARN("queue %u: wake: %m", vq->index);
}
