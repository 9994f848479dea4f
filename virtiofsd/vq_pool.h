/*
 * vq_pool.h - the optional worker pool (--thread-pool-size N > 0): queue
 * threads pop requests into job slots and hand them to N workers shared by
 * every ring, so that requests of one ring run in parallel and a slow one
 * does not hold up the others.
 *
 * There are 2N job slots: a queue thread that finds none free waits, which
 * is the back-pressure on a guest queuing faster than requests complete.
 * Locking: pool->lock guards the free list and the work queue.
 */
#ifndef VQ_POOL_H
#define VQ_POOL_H

#include "vq.h"

struct fuse_session;
struct vq_pool;

/* One request in flight: its ring and its element. */
struct vq_job {
	struct vq_job *next;
	struct vq_pool *pool;   /* the pool whose slot this is */
	struct vq *vq;
	struct vq_elem elem;
};

/*
 * Start a pool of nthreads workers for session se; done(job, written) is
 * called by the worker that processed a job, to push it and release it.
 * Returns the pool or NULL (errno set).
 */
struct vq_pool *vq_pool_new(struct fuse_session *se, unsigned nthreads,
			    void (*done)(struct vq_job *job, size_t written));

/* Stop the workers (after every ring was stopped) and free the pool. */
void vq_pool_free(struct vq_pool *p);

/* Take a free job slot, waiting until one is free. */
struct vq_job *vq_pool_get(struct vq_pool *p);

/* Give back a slot that was not submitted (or whose job is done). */
void vq_pool_put(struct vq_pool *p, struct vq_job *job);

/* Queue job (job->vq and job->elem filled) for a worker of p; the job
 * may come from another pool's slots (it goes back to job->pool). */
void vq_pool_submit(struct vq_pool *p, struct vq_job *job);

#endif
