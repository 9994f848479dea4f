/*
 * vq_pool.h - worker pools for FUSE requests: the optional request pool
 * (--thread-pool-size N > 0), shared by every ring, so that requests of one
 * ring run in parallel and a slow one does not hold up the others; and the
 * blocking pool, whose jobs may wait without bound (lock waits), one
 * worker per job.
 *
 * A pool owns preallocated job slots (2 per worker; at least 64 for the
 * request pool): a queue thread takes free slots, pops requests into them
 * and submits them in batches; a queue thread that finds no slot free
 * waits, which is the back-pressure on a guest queuing faster than
 * requests complete.  The pool completes a job itself: it
 * pushes the reply on the job's ring, notifies the driver, retires the
 * ring's in-flight count and leaves the job's gate entry.
 *
 * Locking: each pool's lock guards its free list, its work queue and its
 * idle workers; it is taken alone (never with a ring's push_lock or the
 * gate's lock held, and neither is taken while holding it).
 */
#ifndef VQ_POOL_H
#define VQ_POOL_H

#include <stdbool.h>

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
 * Start a pool of nthreads workers (2 * nthreads job slots, at least 64
 * unless may_block) processing
 * requests of session se.  may_block: the jobs may wait without bound, so
 * every job gets a worker of its own at once and is notified alone; else
 * workers are woken sparingly and batch their notifications (see
 * vq_pool.c).  Returns the pool or NULL (errno set).
 */
struct vq_pool *vq_pool_new(struct fuse_session *se, unsigned nthreads,
			    bool may_block);

/* Stop the workers (after every ring was stopped) and free the pool p
 * (NULL: nothing). */
void vq_pool_free(struct vq_pool *p);

/*
 * Take free job slots of p: wait until at least one is free (or, while
 * other callers wait for slots, until woken after them), then take up to
 * max (>= 1) of them, and no more than half of those free (rounded up).  *list receives them linked through ->next.
 * Returns how many were taken.
 */
unsigned vq_pool_get(struct vq_pool *p, unsigned max, struct vq_job **list);

/*
 * Queue the jobs of the list jobs (linked through ->next, NULL-terminated;
 * may be NULL) for p's workers and give back the slots of the list unused
 * (slots of p never submitted; may be NULL), under one lock and with at
 * most one worker woken (one per job when p may block).  Each job must
 * have job->vq and job->elem filled and be counted in its ring's inflight
 * (the ring holding a gate entry while its inflight is not 0, see
 * vq_thread.c); the pool pushes, notifies, retires it from inflight and
 * leaves the ring's entry when inflight drops to 0.  A job may come from
 * another pool's slots: it goes back to job->pool.
 */
void vq_pool_submit(struct vq_pool *p, struct vq_job *jobs,
		    struct vq_job *unused);

#endif
