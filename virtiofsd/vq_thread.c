/*
 * vq_thread.c - one thread per started virtqueue: wait for kicks, pop
 * requests, run them through the FUSE session, push replies, notify.
 *
 * A request is completed and pushed before the thread looks at the stop
 * flag again, so vq_thread_stop() (GET_VRING_BASE) returns only once every
 * popped request is on the used ring.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_virtio.h"
#include "log.h"
#include "vu_dev.h"

/* Requests handled per hold of the memory lock. */
#define VQ_BATCH 64

static void drain_eventfd(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* Process what the ring holds.  Returns true when it ran dry. */
static bool process_batch(struct vq *vq)
{
	struct vu_dev *dev = vq->dev;
	const struct vu_log *log;
	bool dry = false;
	unsigned done = 0;

	pthread_rwlock_rdlock(&dev->mem_lock);
	log = atomic_load(&dev->log_all) ? &dev->log : NULL;
	while (done < VQ_BATCH && !atomic_load(&vq->stop) &&
	       atomic_load(&vq->enabled)) {
		struct vq_elem *e = vq->elem;
		size_t written = 0;
		int r = vq_pop(vq, &dev->mem, e);

		if (r == 0) {
			if (!vq_enable_kick_and_recheck(vq, log)) {
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
		if (fuse_session_process(vq->worker, e->out, e->out_num, e->in,
					 e->in_num, &written) < 0)
			written = 0;
		vq_push(vq, e, (uint32_t)written, log);
	}
	vq_notify(vq);
	pthread_rwlock_unlock(&dev->mem_lock);
	return dry || atomic_load(&vq->stop) || !atomic_load(&vq->enabled);
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

		if (atomic_load(&vq->enabled))
			while (!process_batch(vq))
				;
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

int vq_thread_start(struct vq *vq)
{
	int ret;

	if (vq->started)
		return 0;
	if (!vq->elem) {
		vq->elem = malloc(sizeof(*vq->elem));
		if (!vq->elem)
			return -ENOMEM;
	}
	if (!vq->worker) {
		vq->worker = fuse_worker_new(vq->dev->se);
		if (!vq->worker)
			return -ENOMEM;
	}
	drain_eventfd(vq->ctl_fd);
	atomic_store(&vq->stop, false);
	ret = pthread_create(&vq->thread, NULL, queue_main, vq);
	if (ret)
		return -ret;
	vq->started = true;
	return 0;
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
	vq->started = false;
}

void vq_thread_wake(struct vq *vq)
{
	static const uint64_t one = 1;

	if (vq->started && write(vq->ctl_fd, &one, sizeof(one)) < 0)
		LOG_WARN("queue %u: wake: %m", vq->index);
}
