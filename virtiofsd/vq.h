/*
 * vq.h - one split virtqueue, device side: pop descriptor chains into
 * elements of iovecs over guest memory, push used entries, log the bytes
 * written, notify the driver (EVENT_IDX aware).
 *
 * Ring fields live in guest memory and may change under us at any time:
 * every index read from the guest is validated before use, and each
 * descriptor is copied out once.
 *
 * Locking: last_avail_idx belongs to the queue thread while the ring is
 * started (it alone pops); used_idx and signalled_used are changed under
 * push_lock (the queue thread and pool workers push); the message thread
 * touches them only while the ring is stopped and drained.  Pointers into
 * guest memory are valid while the caller is inside the device's mem_gate.
 * call_lock guards call_fd against replacement while a notification is
 * being sent.  inflight (under push_lock) counts popped requests not yet
 * pushed; drained is signalled when it drops to 0.
 */
#ifndef VQ_H
#define VQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "fuse_virtio.h"
#include "vu_proto.h"

#define VQ_MAX_SIZE 32768

struct vu_dev;
struct vu_mem;
struct vu_log;

/* One request: the chain's head and its two sides as iovecs. */
struct vq_elem {
	unsigned head;
	unsigned out_num;                 /* driver-readable segments */
	unsigned in_num;                  /* device-writable segments */
	struct iovec out[FV_MAX_IOV];
	struct iovec in[FV_MAX_IOV];
	uint64_t in_gpa[FV_MAX_IOV];      /* guest address of each in[] */
};

struct vq {
	struct vu_dev *dev;
	unsigned index;

	/* configuration from the front-end */
	unsigned num;                     /* 0 until SET_VRING_NUM; a power
					     of 2 (checked there): slots are
					     index & (num - 1) */
	uint64_t desc_uaddr, avail_uaddr, used_uaddr;
	uint64_t log_guest_addr;
	uint32_t addr_flags;
	bool addr_set;

	/* host pointers into guest memory (mem_lock), NULL when unmapped */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	uint16_t last_avail_idx;
	unsigned mem_hint;                /* queue thread: memory region of
					     the last descriptor (a hint for
					     vu_mem_gpa_hint) */
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool event_idx;                   /* cached from acked features */
	bool indirect;

	int kick_fd;
	int call_fd;
	int err_fd;
	pthread_mutex_t call_lock;

	atomic_bool enabled;
	bool started;                     /* queue thread running */
	atomic_bool stop;                 /* asks the queue thread to end */
	bool broken;                      /* unusable until reconfigured */
	int ctl_fd;                       /* eventfd waking the queue thread */
	pthread_t thread;

	pthread_mutex_t push_lock;
	pthread_cond_t drained;
	unsigned inflight;

	const struct vu_log *log;         /* the device's dirty log */
	const atomic_bool *log_on;        /* and whether it is on */

	struct fuse_worker *worker;
	struct vq_elem *elem;             /* scratch of the queue thread */
};

/* Initialise vq as number index of dev: stopped, disabled, no fds; log
 * and log_on are the device's dirty log and its on/off flag.
 * Returns 0 or a negative errno. */
int vq_init(struct vq *vq, struct vu_dev *dev, unsigned index,
	    const struct vu_log *log, const atomic_bool *log_on);

/* Release everything vq holds (it must be stopped). */
void vq_destroy(struct vq *vq);

/*
 * Recompute the ring pointers from the recorded user addresses against
 * mem (after SET_VRING_ADDR or a memory table change).  Returns 0,
 * -EFAULT when a ring is not (entirely) inside guest memory, or -EINVAL
 * when one is misaligned (descriptors 16, avail 2, used 4 bytes).
 */
int vq_map(struct vq *vq, const struct vu_mem *mem);

/*
 * Pop the next available chain into elem.
 * Returns 1 when an element was popped, 0 when the ring is empty, or a
 * negative errno when the chain was malformed (it has then been logged and
 * returned to the driver with length 0; the caller just goes on) or the
 * ring itself is unusable (-EIO: vq->broken is set).
 */
int vq_pop(struct vq *vq, const struct vu_mem *mem, struct vq_elem *elem);

/*
 * Put elem back on the used ring with len bytes written, then, if dirty
 * logging is on, mark the written bytes and the used ring in the log.  The
 * flag is read after the writes, so that a write made once logging was
 * switched on is never left unmarked.
 */
void vq_push(struct vq *vq, const struct vq_elem *elem, uint32_t len);

/*
 * With EVENT_IDX: publish that we want a kick for the next request, then
 * report whether more requests arrived meanwhile.  Without EVENT_IDX:
 * report whether the ring is non-empty.  Returns true if there is work.
 */
bool vq_enable_kick_and_recheck(struct vq *vq);

/* Notify the driver through call_fd if it asked for it. */
void vq_notify(struct vq *vq);

/* Signal the error eventfd (ring broken). */
void vq_signal_error(struct vq *vq);

#endif
