/*
 * vq_pool.c - worker pool for FUSE requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuse_virtio.h"
#include "log.h"
#include "vq_pool.h"

struct vq_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;         /* a job was queued, or stop */
	pthread_cond_t freed;        /* a slot became free */
	struct vq_job *free_list;
	struct vq_job *head, *tail;  /* FIFO of submitted jobs */
	bool stop;
	unsigned nthreads;
	pthread_t *threads;
	struct fuse_session *se;
	void (*done)(struct vq_job *job, size_t written);
	struct vq_job *slots;
};

struct worker_arg {
	struct vq_pool *pool;
	unsigned index;
};

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct vq_pool *p = wa->pool;
	struct fuse_worker *w = fuse_worker_new(p->se);
	char name[16];

	snprintf(name, sizeof(name), "pool-%u", wa->index);
	pthread_setname_np(pthread_self(), name);
	free(wa);
	if (!w) {
		LOG_ERR("pool worker: out of memory");
		return NULL;
	}
	for (;;) {
		struct vq_job *job;
		size_t written = 0;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		job = p->head;
		if (!job) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		p->head = job->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);

		if (fuse_session_process(w, job->elem.out, job->elem.out_num,
					 job->elem.in, job->elem.in_num,
					 &written) < 0)
			written = 0;
		p->done(job, written);
	}
	fuse_worker_free(w);
	return NULL;
}

struct vq_pool *vq_pool_new(struct fuse_session *se, unsigned nthreads,
			    void (*done)(struct vq_job *job, size_t written))
{
	struct vq_pool *p = calloc(1, sizeof(*p));
	unsigned nslots = 2 * nthreads;

	if (!p)
		return NULL;
	p->se = se;
	p->done = done;
	p->slots = calloc(nslots, sizeof(*p->slots));
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->slots || !p->threads) {
		free(p->slots);
		free(p->threads);
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->freed, NULL);
	for (unsigned i = 0; i < nslots; i++) {
		p->slots[i].next = p->free_list;
		p->free_list = &p->slots[i];
	}
	for (unsigned i = 0; i < nthreads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		int ret;

		if (!wa) {
			vq_pool_free(p);
			errno = ENOMEM;
			return NULL;
		}
		wa->pool = p;
		wa->index = i;
		ret = pthread_create(&p->threads[i], NULL, worker_main, wa);
		if (ret) {
			free(wa);
			vq_pool_free(p);
			errno = ret;
			return NULL;
		}
		p->nthreads++;
	}
	return p;
}

void vq_pool_free(struct vq_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->slots);
	free(p);
}

struct vq_job *vq_pool_get(struct vq_pool *p)
{
	struct vq_job *job;

	pthread_mutex_lock(&p->lock);
	while (!p->free_list)
		pthread_cond_wait(&p->freed, &p->lock);
	job = p->free_list;
	p->free_list = job->next;
	pthread_mutex_unlock(&p->lock);
	job->next = NULL;
	job->pool = p;
	return job;
}

void vq_pool_put(struct vq_pool *p, struct vq_job *job)
{
	pthread_mutex_lock(&p->lock);
	job->next = p->free_list;
	p->free_list = job;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

void vq_pool_submit(struct vq_pool *p, struct vq_job *job)
{
	pthread_mutex_lock(&p->lock);
	job->next = NULL;
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}
