/*
 * vu_gate.h - the gate guarding guest memory mappings.
 *
 * Queue threads and pool workers "enter" the gate before they touch guest
 * memory (pop, process, push) and "leave" when done; a request handed from
 * a queue thread to a pool worker carries its entry with it.  The message
 * thread "closes" the gate to change the memory table, the dirty log or
 * ring addresses: it waits until nobody is inside, new entries wait until
 * it "opens" the gate again.  Unlike an rwlock, an entry may be left by
 * another thread than the one that entered.
 *
 * An entry may be held by a request blocked on the host (a lock wait):
 * the kick hook, when set, asks such requests to finish (every
 * VU_GATE_KICK_MS while somebody is still inside), so that closing the
 * gate and draining a ring take a bounded time.
 */
#ifndef VU_GATE_H
#define VU_GATE_H

#include <pthread.h>
#include <stdbool.h>

struct vu_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned users;
	bool closed;
	void (*kick)(void *arg);   /* NULL: none */
	void *kick_arg;
};

#define VU_GATE_KICK_MS 10

/* Set the hook that makes blocked requests finish (before serving). */
void vu_gate_set_kick(struct vu_gate *g, void (*kick)(void *arg), void *arg);

/* Wait on cond (mutex m held) until done(arg) or for VU_GATE_KICK_MS,
 * calling g's kick hook (without m) after each period that ends with
 * done(arg) still false.  Used by vu_gate_close() and ring draining. */
void vu_gate_wait_kicking(struct vu_gate *g, pthread_cond_t *cond,
			  pthread_mutex_t *m, bool (*done)(void *arg),
			  void *arg);

/* Initialise an open gate. */
void vu_gate_init(struct vu_gate *g);

/* Destroy the gate (nobody inside). */
void vu_gate_destroy(struct vu_gate *g);

/* Enter; waits while the gate is closed. */
void vu_gate_enter(struct vu_gate *g);

/* Enter once more while already inside (never waits: the gate cannot
 * finish closing while the caller is inside anyway). */
void vu_gate_enter_nested(struct vu_gate *g);

/* Leave an entry (possibly made by another thread). */
void vu_gate_leave(struct vu_gate *g);

/* Close the gate and wait until nobody is inside. */
void vu_gate_close(struct vu_gate *g);

/* Open the gate again. */
void vu_gate_open(struct vu_gate *g);

#endif
