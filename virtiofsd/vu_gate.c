/*
 * vu_gate.c - enter/leave/close/open gate over guest memory.
 */
#include "vu_gate.h"

void vu_gate_init(struct vu_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->users = 0;
	g->closed = false;
}

void vu_gate_destroy(struct vu_gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

void vu_gate_enter(struct vu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (g->closed)
		pthread_cond_wait(&g->cond, &g->lock);
	g->users++;
	pthread_mutex_unlock(&g->lock);
}

void vu_gate_leave(struct vu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	if (--g->users == 0 && g->closed)
		pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

void vu_gate_close(struct vu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->closed = true;
	while (g->users)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

void vu_gate_open(struct vu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->closed = false;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}
