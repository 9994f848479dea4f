/*
 * vu_gate.c - enter/leave/close/open gate over guest memory.
 *
 * Locking: g->lock guards users and closed; the kick hook is called
 * without it.
 *
 * Syscalls: clock_gettime, futex.
 */
#include <errno.h>
#include <time.h>
#include "vu_gate.h"

void vu_gate_init(struct vu_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->users = 0;
	g->closed = false;
	g->kick = NULL;
	g->kick_arg = NULL;
}

/* Set the kick hook; see vu_gate.h. */
void vu_gate_set_kick(struct vu_gate *g, void (*kick)(void *arg), void *arg)
{
	g->kick = kick;
	g->kick_arg = arg;
}

/* Timed wait with kicks; see vu_gate.h. */
void vu_gate_wait_kicking(struct vu_gate *g, pthread_cond_t *cond,
			  pthread_mutex_t *m, bool (*done)(void *arg),
			  void *arg)
{
	while (!done(arg)) {
		struct timespec ts;
		int r;

		if (!g->kick) {
			pthread_cond_wait(cond, m);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += VU_GATE_KICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		r = pthread_cond_timedwait(cond, m, &ts);
		if (r == ETIMEDOUT && !done(arg)) {
			pthread_mutex_unlock(m);
			g->kick(g->kick_arg);
			pthread_mutex_lock(m);
		}
	}
}

static bool gate_empty(void *arg)
{
	return ((struct vu_gate *)arg)->users == 0;
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

void vu_gate_enter_nested(struct vu_gate *g)
{
	pthread_mutex_lock(&g->lock);
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
	vu_gate_wait_kicking(g, &g->cond, &g->lock, gate_empty, g);
	pthread_mutex_unlock(&g->lock);
}

void vu_gate_open(struct vu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->closed = false;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}
