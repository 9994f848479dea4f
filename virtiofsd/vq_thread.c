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
 * Give a request that may block (see fuse_request_may_block()) popped
 * into e to the blocking pool.  The caller is inside the gate and does not
 * hold push_lock; the job takes a gate entry of its own until it is pushed.
 */
static void hand_off_blocking(struct vq *vq, const struct vq_elem *e)
{
	struct vu_dev *dev = vq->dev;
	struct vq_job *job = vq_pool_get(dev->block_pool);

	memcpy(&job->elem, e, sizeof(*e));
	job->vq = vq;
	vu_gate_enter_nested(&dev->mem_gate);
	pthread_mutex_lock(&vq->push_lock);
	vq->inflight++;
	pthread_mutex_unlock(&vq->push_lock);
	vq_pool_submit(dev->block_pool, job);
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
	}
	vq_notify(vq);
	pthread_mutex_unlock(&vq->push_lock);
	vu_gate_leave(&dev->mem_gate);
	return dry || !keep_going(vq);
}

/* Run a quick request (see fuse_request_is_slow()) in the ring's own
 * thread and push it; the caller is inside the gate and keeps the entry. */
static void run_inline(struct vq *vq, struct vq_elem *e)
{
	size_t written = 0;

	if (fuse_session_process(vq->worker, e->out, e->out_num, e->in,
				 e->in_num, &written) < 0)
		written = 0;
	pthread_mutex_lock(&vq->push_lock);
	vq_push(vq, e, (uint32_t)written);
	pthread_mutex_unlock(&vq->push_lock);
}

/*
 * Pool mode: pop requests into job slots; quick ones run right here (a
 * hand-over costs more than a cached GETATTR), the others go to the
 * workers.  Returns true when the ring ran dry or processing must pause.
 */
static bool process_pool(struct vq *vq)
{
	struct vu_dev *dev = vq->dev;
	unsigned unsignalled = 0;

	while (keep_going(vq)) {
		struct vq_job *job = vq_pool_get(dev->pool);
		int r;

		vu_gate_enter(&dev->mem_gate);
		pthread_mutex_lock(&vq->push_lock);
		r = vq_pop(vq, &dev->mem, &job->elem);
		if (r == 1 && !fuse_request_is_slow(job->elem.out,
						    job->elem.out_num)) {
			pthread_mutex_unlock(&vq->push_lock);
			run_inline(vq, &job->elem);
			vu_gate_leave(&dev->mem_gate);
			vq_pool_put(dev->pool, job);
			if (++unsignalled >= VQ_BATCH) {
				pthread_mutex_lock(&vq->push_lock);
				vq_notify(vq);
				pthread_mutex_unlock(&vq->push_lock);
				unsignalled = 0;
			}
			continue;
		}
		if (r == 1) {
			bool block = fuse_request_may_block(job->elem.out,
							    job->elem.out_num);

			vq->inflight++;
			pthread_mutex_unlock(&vq->push_lock);
			job->vq = vq;
			/* The job keeps the gate entry until it is pushed. */
			vq_pool_submit(block ? dev->block_pool : dev->pool, job);
			continue;
		}
		vq_pool_put(dev->pool, job);
		if (r == 0 && vq_enable_kick_and_recheck(vq))
			r = -EAGAIN;
		vq_notify(vq);
		unsignalled = 0;
		pthread_mutex_unlock(&vq->push_lock);
		vu_gate_leave(&dev->mem_gate);
		if (r == 0 || r == -EIO)
			return true;
	}
	if (unsignalled) {
		vu_gate_enter(&dev->mem_gate);
		pthread_mutex_lock(&vq->push_lock);
		vq_notify(vq);
		pthread_mutex_unlock(&vq->push_lock);
		vu_gate_leave(&dev->mem_gate);
	}
	return true;
}

/* Called by the pool worker that processed job: push, notify, release. */
static void job_done(struct vq_job *job, size_t written)
{
	struct vq *vq = job->vq;
	struct vu_dev *dev = vq->dev;

	pthread_mutex_lock(&vq->push_lock);
	vq_push(vq, &job->elem, (uint32_t)written);
	vq_notify(vq);
	if (--vq->inflight == 0)
		pthread_cond_broadcast(&vq->drained);
	pthread_mutex_unlock(&vq->push_lock);
	vu_gate_leave(&dev->mem_gate);
	vq_pool_put(job->pool, job);
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
				process_pool(vq);
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
	dev->block_pool = vq_pool_new(dev->se, VQ_BLOCK_WORKERS + 1, job_done);
	if (!dev->block_pool)
		return -errno;
	if (!nthreads)
		return 0;
	dev->pool = vq_pool_new(dev->se, nthreads, job_done);
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
