/*
 * vu_dev.h - the vhost-user back-end device: negotiated features, the
 * memory table, the dirty log and the virtqueues, driven by messages from
 * one front-end connection.
 *
 * Locking (order: mem_gate entry, then a vq's push_lock, then its
 * call_lock):
 * - mem_gate (vu_gate.h): the memory table, the dirty log and every ring's
 *   pointers into guest memory.  Queue threads and pool workers are inside
 *   the gate while they touch guest memory; the message thread closes it
 *   to change the table, the log or ring addresses.
 * - everything else in struct vu_dev is owned by the message thread; queue
 *   threads read only `log_all` (atomic) and their own struct vq.
 */
#ifndef VU_DEV_H
#define VU_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vq.h"
#include "vu_gate.h"
#include "vu_log.h"
#include "vu_mem.h"

struct vfs_cpus;

/* Queues: hiprio + up to 63 request queues. */
#define VU_MAX_QUEUES 64

struct fuse_session;

/*
 * Device-state migration hooks (VHOST_USER_PROTOCOL_F_DEVICE_STATE is
 * offered only when these are installed).  save/load run in a transfer
 * thread started after SET_DEVICE_STATE_FD was answered, while every ring
 * is stopped; CHECK_DEVICE_STATE waits for them and reports their result.
 */
struct vu_state_ops {
	/* Dirty logging started (migration begins) or stopped (cancelled or
	 * finished).  Called on the message thread. */
	void (*log_start)(void *opaque);
	void (*log_stop)(void *opaque);
	/* Write the whole state to fd.  Returns 0 or a negative errno.  The
	 * caller closes fd afterwards (EOF ends the transfer). */
	int (*save)(void *opaque, int fd);
	/* Read the state from fd up to EOF, validate and apply it.
	 * Returns 0 or a negative errno (then nothing was applied). */
	int (*load)(void *opaque, int fd);
	/* A ring was started again after a save: the migration failed or
	 * was cancelled and this daemon goes on serving (drop whatever the
	 * save left for the destination).  May be NULL.  Called on the
	 * message thread, after the transfer thread has ended. */
	void (*resumed)(void *opaque);
};

struct vu_dev {
	int sock;                     /* connection to the front-end */
	uint64_t features;            /* acked virtio features */
	uint64_t protocol_features;   /* acked protocol features */
	struct vu_gate mem_gate;
	struct vu_mem mem;
	struct vu_log log;
	atomic_bool log_all;          /* VHOST_F_LOG_ALL acked */
	struct vq vqs[VU_MAX_QUEUES];
	struct fuse_session *se;
	struct vq_pool *pool;         /* NULL: requests run in queue threads */
	struct vq_pool *block_pool;   /* requests that may block (lock waits) */
	const struct vfs_cpus *ring_cpus;   /* --queue-affinity; NULL: none */

	const struct vu_state_ops *state_ops;   /* NULL: no migration */
	void *state_opaque;
	pthread_t xfer_thread;        /* device-state transfer in progress */
	bool xfer_running;
	bool xfer_done;               /* a transfer finished since the last check */
	int xfer_result;
	int xfer_fd;
	uint32_t xfer_direction;
	bool xfer_saved;              /* a save ran; rings not restarted since */
};

/* Virtio feature bits we offer. */
uint64_t vu_dev_offered_features(void);

/* Protocol feature bits dev offers (DEVICE_STATE only with state_ops). */
uint64_t vu_dev_offered_protocol_features(const struct vu_dev *dev);

/*
 * Initialise dev for serving the session se over the connected socket
 * sock.  Returns 0 or a negative errno.
 */
int vu_dev_init(struct vu_dev *dev, int sock, struct fuse_session *se);

/* Install migration hooks (before vu_dev_serve). */
void vu_dev_set_state_ops(struct vu_dev *dev, const struct vu_state_ops *ops,
			  void *opaque);

/* Stop every queue and release everything (the socket is not closed). */
void vu_dev_destroy(struct vu_dev *dev);

/*
 * Serve messages until the front-end disconnects.
 * Returns 0 on a clean disconnect, or a negative errno on a protocol
 * error that made the connection unusable.
 */
int vu_dev_serve(struct vu_dev *dev);

/* Lock waits (SETLKW) that may block at once, on the blocking pool's
 * workers (one more than this), whatever --thread-pool-size says. */
#define VQ_BLOCK_WORKERS 8

/* Start the shared worker pool with nthreads threads (0: none, requests
 * run in the queue threads) and the pool for blocking requests
 * (VQ_BLOCK_WORKERS + 1).  Call before serving.  0 or -errno. */
int vq_pool_start(struct vu_dev *dev, unsigned nthreads);

/* Start the queue thread of vq (ring configured and kick fd set).
 * Returns 0 or a negative errno. */
int vq_thread_start(struct vq *vq);

/* Stop the queue thread of vq: it finishes the request in hand, pushes it
 * and exits; returns when it has.  No-op if not started. */
void vq_thread_stop(struct vq *vq);

/* Wake the queue thread so it re-checks its ring (enable changed). */
void vq_thread_wake(struct vq *vq);

#endif
