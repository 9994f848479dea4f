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
};

/* Initialise an open gate. */
void vu_gate_init(struct vu_gate *g);

/* Destroy the gate (nobody inside). */
void vu_gate_destroy(struct vu_gate *g);

/* Enter; waits while the gate is closed. */
void vu_gate_enter(struct vu_gate *g);

/* Leave an entry (possibly made by another thread). */
void vu_gate_leave(struct vu_gate *g);

/* Close the gate and wait until nobody is inside. */
void vu_gate_close(struct vu_gate *g);

/* Open the gate again. */
void vu_gate_open(struct vu_gate *g);

#endif
