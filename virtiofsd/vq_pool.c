/*
 * vq_pool.c - worker pools for FUSE requests: hand-over from the queue
 * threads, who wakes whom, and completion (push, notify, retire).
 *
 * Hand-over.  A queue thread submits what it popped in one round (up to
 * the slots it holds) with one lock and at most one wake-up.  A worker
 * takes one job at a time from the FIFO and goes on taking until the queue
 * is empty; only then does it sleep.  Idle workers sleep on a condition
 * variable of their own and sit on a stack (the one idle for the shortest
 * time is woken first: its cache is warm); a wake-up picks one precise
 * worker, so there is no thundering herd.  `waking` counts workers woken
 * that have not run yet: as many queued jobs are "claimed" by them.
 * Request pool: a submitter wakes one idle worker when a queued job is
 * unclaimed; a worker taking a job wakes one more only when at least two
 * queued jobs are still unclaimed (it takes the next one itself when it is
 * done).  Blocking pool: every unclaimed job wakes a worker, since the job
 * in a worker's hand may never end.
 *
 * No lost wake-up.  All of the above changes under pool->lock.  Invariant:
 * while a job is queued, at least one worker is active (off the idle
 * stack: running, woken, or between two jobs) and will look at the queue
 * under the lock again before it sleeps.  A submitter queuing work finds
 * every worker active (idle stack empty), or a woken worker on its way
 * (waking >= queued), or else wakes one; a worker sleeps, or exits on
 * stop, only after it saw the queue empty under the lock.  A woken worker
 * waits for its own flag (`sleeping`, cleared by the waker under the
 * lock), so a spurious wake-up changes nothing.
 *
 * Notifications (request pool).  A worker pushes every reply at once
 * (vq_push: the used entry and the dirty log) and, with EVENT_IDX, asks
 * vq_notify() at once too (the driver's used_event suppresses the write
 * while it is busy); without EVENT_IDX it notifies once per drain.  The
 * retirement is what waits: while more jobs are queued, a ring's completions stay pending
 * (still counted in the ring's inflight, which keeps the ring's gate entry
 * and makes GET_VRING_BASE wait) and are retired - vq_notify(), which
 * applies EVENT_IDX, then inflight, then the gate entry when inflight
 * drops to 0 - when the worker finds the queue empty (always
 * before it sleeps or exits), after VQ_NOTIFY_MAX of them, or as soon as a
 * pending ring is being stopped (GET_VRING_BASE waits for its inflight).
 * No request-pool job waits without bound (lock waits go to the blocking
 * pool, whose workers notify each job as it completes), so a pending
 * notification waits at most for the finite jobs the worker runs
 * meanwhile.
 *
 * Locking: pool->lock (free list, FIFO, idle stack, waking, stop) is taken
 * alone; completion takes a ring's push_lock (never with pool->lock held)
 * and leaves the ring's gate entry after dropping it.  A worker's pending
 * table is its own.
 *
 * Syscalls: futex (+ the thread runtime of seccomp/sc_filter.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuse_virtio.h"
#include "log.h"
#include "vq_pool.h"
#include "vu_dev.h"

/*
 * Job slots of a request pool, at least: a queue thread out of slots
 * sleeps until half of them are free again, so a small pool (2 slots per
 * worker) would put it to sleep on every round of a guest keeping more
 * requests in flight than that; a slot is mostly untouched address space
 * (only the iovecs a request uses are written).
 */
#define VQ_POOL_MIN_SLOTS 64

/* Completions a request-pool worker holds back before notifying. */
#define VQ_NOTIFY_MAX 16

struct vq_worker {
	struct vq_pool *pool;
	unsigned index;
	pthread_t thread;
	struct fuse_worker *fw;
	pthread_cond_t wake;
	struct vq_worker *next_idle;    /* idle stack (pool->lock) */
	bool sleeping;                  /* on the idle stack (pool->lock) */
	/* Completions pushed but not notified yet (this worker only). */
	unsigned deferred;              /* in all rings */
	unsigned nrings;                /* rings in rings[] */
	struct vq *rings[VU_MAX_QUEUES];
	unsigned pending[VU_MAX_QUEUES];   /* by ring index */
};

struct vq_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;           /* a slot became free */
	struct vq_job *free_list;
	unsigned nfree;                 /* slots on free_list */
	unsigned wake_free;             /* wake a slot waiter from this many */
	unsigned free_waiters;          /* queue threads waiting for a slot */
	struct vq_job *head, *tail;     /* FIFO of submitted jobs */
	unsigned queued;                /* jobs in the FIFO (also read
					   without the lock, as a hint) */
	unsigned waking;                /* woken workers not yet running */
	struct vq_worker *idle;         /* stack of sleeping workers */
	bool stop;
	bool may_block;
	unsigned nthreads;              /* workers started */
	struct vq_worker *workers;
	unsigned nworkers;              /* workers allocated */
	struct fuse_session *se;
	struct vq_job *slots;
};

/* Jobs queued that no woken worker is on its way to take (lock held). */
static unsigned unclaimed(const struct vq_pool *p)
{
	return p->queued > p->waking ? p->queued - p->waking : 0;
}

/* Wake the worker that went idle last, if any (lock held). */
static void wake_one(struct vq_pool *p)
{
	struct vq_worker *w = p->idle;

	if (!w)
		return;
	p->idle = w->next_idle;
	w->sleeping = false;
	p->waking++;
	pthread_cond_signal(&w->wake);
}

/* Put a slot of p back on its free list (p's lock held). */
static void put_locked(struct vq_pool *p, struct vq_job *job)
{
	job->next = p->free_list;
	p->free_list = job;
	p->nfree++;
	if (p->free_waiters && p->nfree >= p->wake_free)
		pthread_cond_signal(&p->freed);
}

/* Give back the slot of a finished job to the pool it belongs to. */
static void put_foreign(struct vq_job *job)
{
	struct vq_pool *owner = job->pool;

	pthread_mutex_lock(&owner->lock);
	put_locked(owner, job);
	pthread_mutex_unlock(&owner->lock);
}

/*
 * Notify vq's driver if it asks for it, then retire n completions of vq
 * (push_lock held).  Returns true when vq has nothing in flight any more:
 * the caller then leaves the ring's gate entry (see add_inflight() in
 * vq_thread.c) once it has dropped push_lock.
 */
static bool retire_locked(struct vq *vq, unsigned n)
{
	vq_notify(vq);
	vq->inflight -= n;
	if (vq->inflight)
		return false;
	pthread_cond_broadcast(&vq->drained);
	return true;
}

/* Retire every completion w holds back, ring by ring. */
static void flush(struct vq_worker *w)
{
	for (unsigned i = 0; i < w->nrings; i++) {
		struct vq *vq = w->rings[i];
		unsigned n = w->pending[vq->index];
		bool idle;

		w->pending[vq->index] = 0;
		pthread_mutex_lock(&vq->push_lock);
		idle = retire_locked(vq, n);
		pthread_mutex_unlock(&vq->push_lock);
		if (idle)
			vu_gate_leave(&vq->dev->mem_gate);
	}
	w->nrings = 0;
	w->deferred = 0;
}

/* Is a ring w holds completions back for being stopped? */
static bool pending_ring_stopping(const struct vq_worker *w)
{
	for (unsigned i = 0; i < w->nrings; i++)
		if (atomic_load(&w->rings[i]->stop))
			return true;
	return false;
}

/*
 * Push the reply of job (written bytes) on its ring and either retire it
 * now or hold it back (request pool, more jobs queued: the worker will
 * take one of them next, or another worker will; see the header).
 */
static void complete(struct vq_worker *w, struct vq_job *job, size_t written)
{
	struct vq_pool *p = w->pool;
	struct vq *vq = job->vq;
	bool defer = !p->may_block &&
		     __atomic_load_n(&p->queued, __ATOMIC_RELAXED) &&
		     w->deferred + 1 < VQ_NOTIFY_MAX &&
		     !atomic_load(&vq->stop);
	unsigned n;
	bool idle;

	pthread_mutex_lock(&vq->push_lock);
	vq_push(vq, &job->elem, (uint32_t)written);
	if (defer) {
		/* The notification itself need not wait with EVENT_IDX: a
		 * busy driver has not moved used_event, so this is a few
		 * loads and no write; an idle one gets its reply now. */
		if (vq->event_idx)
			vq_notify(vq);
		pthread_mutex_unlock(&vq->push_lock);
		if (!w->pending[vq->index]++)
			w->rings[w->nrings++] = vq;
		w->deferred++;
		return;
	}
	/* Retire this ring's held-back completions with this one. */
	n = 1 + w->pending[vq->index];
	if (n > 1) {
		w->pending[vq->index] = 0;
		w->deferred -= n - 1;
		for (unsigned i = 0; i < w->nrings; i++)
			if (w->rings[i] == vq) {
				w->rings[i] = w->rings[--w->nrings];
				break;
			}
	}
	idle = retire_locked(vq, n);
	pthread_mutex_unlock(&vq->push_lock);
	if (idle)
		vu_gate_leave(&vq->dev->mem_gate);
	if (w->nrings)
		flush(w);
}

static void *worker_main(void *arg)
{
	struct vq_worker *w = arg;
	struct vq_pool *p = w->pool;
	struct vq_job *done = NULL;
	char name[16];

	snprintf(name, sizeof(name), "pool-%u", w->index);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct vq_job *job;
		size_t written = 0;

		if (done) {
			if (done->pool == p)
				put_locked(p, done);
			else {
				pthread_mutex_unlock(&p->lock);
				put_foreign(done);
				pthread_mutex_lock(&p->lock);
			}
			done = NULL;
			continue;
		}
		if (w->deferred && (!p->head || pending_ring_stopping(w))) {
			/* Never sleep (nor keep a stopping ring waiting) with
			 * a completion not notified. */
			pthread_mutex_unlock(&p->lock);
			flush(w);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (!p->head) {
			if (p->stop)
				break;
			w->sleeping = true;
			w->next_idle = p->idle;
			p->idle = w;
			while (w->sleeping)
				pthread_cond_wait(&w->wake, &p->lock);
			p->waking--;
			continue;
		}
		job = p->head;
		p->head = job->next;
		if (!p->head)
			p->tail = NULL;
		__atomic_store_n(&p->queued, p->queued - 1, __ATOMIC_RELAXED);
		if (unclaimed(p) >= (p->may_block ? 1u : 2u))
			wake_one(p);
		pthread_mutex_unlock(&p->lock);

		if (fuse_session_process(w->fw, job->elem.out,
					 job->elem.out_num, job->elem.in,
					 job->elem.in_num, &written) < 0)
			written = 0;
		complete(w, job, written);
		done = job;
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Create a pool; see vq_pool.h. */
struct vq_pool *vq_pool_new(struct fuse_session *se, unsigned nthreads,
			    bool may_block)
{
	struct vq_pool *p = calloc(1, sizeof(*p));
	unsigned nslots = 2 * nthreads;
	pthread_mutexattr_t attr;

	if (!may_block && nslots < VQ_POOL_MIN_SLOTS)
		nslots = VQ_POOL_MIN_SLOTS;

	if (!p)
		return NULL;
	p->se = se;
	p->may_block = may_block;
	/* A queue thread out of slots is woken when half of them are free
	 * again, not for each one: request-pool slots are only held by
	 * finite jobs (lock waits are copied to the blocking pool), so half
	 * of them (all but those in the workers' hands) come back.  The
	 * blocking pool wakes for every slot: its jobs may never end. */
	p->wake_free = may_block || nslots < 2 ? 1 : nslots / 2;
	pthread_mutexattr_init(&attr);
	/* Held for a few list operations at a time: spinning briefly beats
	 * sleeping in the kernel when a worker and a queue thread meet. */
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&p->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_cond_init(&p->freed, NULL);
	p->slots = calloc(nslots, sizeof(*p->slots));
	p->workers = calloc(nthreads, sizeof(*p->workers));
	if (!p->slots || !p->workers)
		goto nomem;
	for (unsigned i = 0; i < nslots; i++) {
		p->slots[i].pool = p;
		p->slots[i].next = p->free_list;
		p->free_list = &p->slots[i];
		p->nfree++;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		struct vq_worker *w = &p->workers[i];

		w->pool = p;
		w->index = i;
		pthread_cond_init(&w->wake, NULL);
		p->nworkers++;
		w->fw = fuse_worker_new(se);
		if (!w->fw)
			goto nomem;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		int ret = pthread_create(&p->workers[i].thread, NULL,
					 worker_main, &p->workers[i]);

		if (ret) {
			vq_pool_free(p);
			errno = ret;
			return NULL;
		}
		p->nthreads++;
	}
	return p;
nomem:
	vq_pool_free(p);
	errno = ENOMEM;
	return NULL;
}

/* Stop the workers and free the pool; see vq_pool.h. */
void vq_pool_free(struct vq_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	while (p->idle)
		wake_one(p);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->workers[i].thread, NULL);
	for (unsigned i = 0; i < p->nworkers; i++) {
		fuse_worker_free(p->workers[i].fw);
		pthread_cond_destroy(&p->workers[i].wake);
	}
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p->slots);
	free(p);
}

/* Take free slots; see vq_pool.h. */
unsigned vq_pool_get(struct vq_pool *p, unsigned max, struct vq_job **list)
{
	struct vq_job *first, *last;
	unsigned n = 1;

	pthread_mutex_lock(&p->lock);
	/* Queue threads already waiting go first: one that does not sleep
	 * while any slot is free would otherwise keep the free count below
	 * wake_free and starve them. */
	if (!p->free_list || p->free_waiters) {
		p->free_waiters++;
		do
			pthread_cond_wait(&p->freed, &p->lock);
		while (!p->free_list);
		p->free_waiters--;
	}
	/* Half of what is free at most, so that the queue threads of other
	 * rings find slots too (the unused ones come back at the end of the
	 * caller's round). */
	if (max > (p->nfree + 1) / 2)
		max = (p->nfree + 1) / 2;
	first = last = p->free_list;
	while (n < max && last->next) {
		last = last->next;
		n++;
	}
	p->free_list = last->next;
	p->nfree -= n;
	last->next = NULL;
	/* Slots left over: another waiter may use them. */
	if (p->free_waiters && p->free_list && p->nfree >= p->wake_free)
		pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
	*list = first;
	return n;
}

/* Queue jobs and give back unused slots; see vq_pool.h. */
void vq_pool_submit(struct vq_pool *p, struct vq_job *jobs,
		    struct vq_job *unused)
{
	struct vq_job *last = NULL;
	unsigned n = 0;

	for (struct vq_job *j = jobs; j; j = j->next) {
		last = j;
		n++;
	}
	pthread_mutex_lock(&p->lock);
	if (jobs) {
		if (p->tail)
			p->tail->next = jobs;
		else
			p->head = jobs;
		p->tail = last;
		__atomic_store_n(&p->queued, p->queued + n, __ATOMIC_RELAXED);
		if (p->may_block)
			while (p->idle && unclaimed(p))
				wake_one(p);
		else if (unclaimed(p))
			wake_one(p);
	}
	while (unused) {
		struct vq_job *next = unused->next;

		put_locked(p, unused);
		unused = next;
	}
	pthread_mutex_unlock(&p->lock);
}
