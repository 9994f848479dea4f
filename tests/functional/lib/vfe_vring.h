/*
 * vfe_vring.h - the driver side of a virtio split ring in guest RAM.
 *
 * The descriptor table, available ring and used ring live in guest memory
 * (struct vfe_mem); the daemon reaches them through the memory table.  The
 * driver adds chains (direct, or through an indirect table), publishes
 * them in the available ring, kicks the kick eventfd (honouring
 * VRING_USED_F_NO_NOTIFY or, with EVENT_IDX, avail_event) and waits on the
 * call eventfd for used entries (setting used_event with EVENT_IDX).
 *
 * For malformed-input tests, descriptors can be taken from the free list
 * and written by hand (vfe_vring_take / vfe_vring_publish); such chains are
 * never walked by the driver when they come back.
 *
 * Not thread-safe: one thread drives a ring.
 */
#ifndef VFE_VRING_H
#define VFE_VRING_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>
#include "vfe_mem.h"

/* Entries of an indirect table (one per head, allocated with the ring). */
#define VFE_MAX_INDIRECT 512

/* One buffer of a chain: guest-physical address and length. */
struct vfe_sg {
	uint64_t gpa;
	uint32_t len;
};

struct vfe_head_info {
	void *cookie;
	uint16_t ndesc;   /* descriptors taken from the table */
	bool busy;
	bool raw;         /* hand-written chain: not walked on return */
};

struct vfe_vring {
	struct vfe_mem *mem;
	unsigned index;          /* vring index in the device */
	uint16_t num;            /* queue size (power of 2) */
	uint64_t desc_gpa, avail_gpa, used_gpa, ind_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kick_fd, call_fd;    /* eventfds (ours) */
	bool event_idx;          /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool force_kick;         /* kick on every vfe_vring_kick() */
	uint16_t avail_idx;      /* next free slot in avail ring */
	uint16_t kicked_idx;     /* avail_idx at the last kick decision */
	uint16_t last_used;      /* next used entry to consume */
	uint16_t free_head;
	uint16_t num_free;
	struct vfe_head_info *heads;
	uint64_t kicks;          /* eventfd writes */
	uint64_t notifies;       /* call eventfd counts consumed */
};

/* Guest-memory bytes the rings of size num need (for planning RAM). */
uint64_t vfe_vring_mem_size(uint16_t num);

/*
 * Allocate the rings of a queue of `num` entries (power of two) and its
 * indirect tables in guest memory, zeroed, and create kick/call eventfds.
 * index: the vring index.  Returns 0 or a negative errno.
 */
int vfe_vring_init(struct vfe_vring *vr, struct vfe_mem *mem, unsigned index,
		   uint16_t num);

/* Close the eventfds and free the bookkeeping (guest memory is not freed). */
void vfe_vring_destroy(struct vfe_vring *vr);

/*
 * Zero the rings and restart all indices at `base` (avail and used), as a
 * freshly reset device would see them.  Every head becomes free.
 */
void vfe_vring_reset(struct vfe_vring *vr, uint16_t base);

/* The front-end user addresses of the three rings, for SET_VRING_ADDR. */
void vfe_vring_user_addrs(const struct vfe_vring *vr, uint64_t *desc,
			  uint64_t *avail, uint64_t *used);

/*
 * Add a chain: sg[0..n_out) driver-readable, then sg[n_out..n_out+n_in)
 * device-writable.  indirect: put the buffers in an indirect table (one
 * ring descriptor).  cookie: returned with the used entry.
 * Publishes it in the available ring (no kick).
 * Returns the head index, -ENOSPC when the ring is full, -EINVAL.
 */
int vfe_vring_add(struct vfe_vring *vr, const struct vfe_sg *sg,
		  unsigned n_out, unsigned n_in, bool indirect, void *cookie);

/*
 * Take n free descriptors out of the free list for a hand-written chain;
 * ids receives their indices.  They come back only through
 * vfe_vring_reset().  Returns 0 or -ENOSPC.
 */
int vfe_vring_take(struct vfe_vring *vr, unsigned n, uint16_t *ids);

/* The guest-physical address of head's indirect table. */
uint64_t vfe_vring_indirect_gpa(const struct vfe_vring *vr, uint16_t head);

/*
 * Publish `head` (a hand-written chain) in the available ring with cookie
 * (no kick).  The head is marked raw: on return it is not walked.
 */
void vfe_vring_publish(struct vfe_vring *vr, uint16_t head, void *cookie);

/*
 * Notify the device of newly published chains if it wants a notification
 * (VRING_USED_F_NO_NOTIFY / avail_event), or always with force_kick.
 * Returns true when the kick eventfd was written.
 */
bool vfe_vring_kick(struct vfe_vring *vr);

/*
 * Pop one used entry.  len: the used length; cookie: the chain's cookie
 * (either may be NULL).  Returns the head, -EAGAIN when none is pending,
 * -EPROTO when the device returned an id that is not in flight.
 */
int vfe_vring_get_used(struct vfe_vring *vr, uint32_t *len, void **cookie);

/* True when a used entry is waiting to be popped. */
bool vfe_vring_has_used(struct vfe_vring *vr);

/*
 * Wait until a used entry is pending, arming used_event with EVENT_IDX.
 * Strict about notifications: returns 0 once an entry is pending and a
 * call notification has been seen for it; -ENOMSG if an entry is pending
 * but no notification came within timeout_ms; -ETIMEDOUT if nothing came.
 */
int vfe_vring_wait(struct vfe_vring *vr, int timeout_ms);

/*
 * Ask for a call notification for the next used entry (EVENT_IDX:
 * used_event = next entry to consume).  For callers polling several call
 * fds themselves; vfe_vring_wait() does it on its own.
 */
void vfe_vring_arm(struct vfe_vring *vr);

/* Consume pending call notifications; true if there were any. */
bool vfe_vring_drain_call(struct vfe_vring *vr);

/* used->idx as the device last wrote it. */
uint16_t vfe_vring_used_idx(const struct vfe_vring *vr);

/* The device's avail_event (EVENT_IDX): the avail index at which it asks
 * to be kicked next; a device that went idle has set it to avail_idx. */
uint16_t vfe_vring_avail_event(struct vfe_vring *vr);

/* Number of chains added and not yet returned. */
unsigned vfe_vring_in_flight(const struct vfe_vring *vr);

#endif
