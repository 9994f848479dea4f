/*
 * vu_dev.h - the vhost-user back-end device: negotiated features, the
 * memory table, the dirty log and the virtqueues, driven by messages from
 * one front-end connection.
 *
 * Locking (lock order: mem_lock before a vq's call_lock):
 * - mem_lock (rwlock, writer-preferring): the memory table, the dirty log
 *   and every ring's pointers into guest memory.  Queue threads hold it for
 *   reading while they touch guest memory; the message thread takes it for
 *   writing to change the table or the log.
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
#include "vu_log.h"
#include "vu_mem.h"

/* Queues: hiprio + up to 63 request queues. */
#define VU_MAX_QUEUES 64

struct fuse_session;

struct vu_dev {
	int sock;                     /* connection to the front-end */
	uint64_t features;            /* acked virtio features */
	uint64_t protocol_features;   /* acked protocol features */
	pthread_rwlock_t mem_lock;
	struct vu_mem mem;
	struct vu_log log;
	atomic_bool log_all;          /* VHOST_F_LOG_ALL acked */
	struct vq vqs[VU_MAX_QUEUES];
	struct fuse_session *se;
};

/* Virtio feature bits we offer. */
uint64_t vu_dev_offered_features(void);

/* Protocol feature bits we offer. */
uint64_t vu_dev_offered_protocol_features(void);

/*
 * Initialise dev for serving the session se over the connected socket
 * sock.  Returns 0 or a negative errno.
 */
int vu_dev_init(struct vu_dev *dev, int sock, struct fuse_session *se);

/* Stop every queue and release everything (the socket is not closed). */
void vu_dev_destroy(struct vu_dev *dev);

/*
 * Serve messages until the front-end disconnects.
 * Returns 0 on a clean disconnect, or a negative errno on a protocol
 * error that made the connection unusable.
 */
int vu_dev_serve(struct vu_dev *dev);

/* Start the queue thread of vq (ring configured and kick fd set).
 * Returns 0 or a negative errno. */
int vq_thread_start(struct vq *vq);

/* Stop the queue thread of vq: it finishes the request in hand, pushes it
 * and exits; returns when it has.  No-op if not started. */
void vq_thread_stop(struct vq *vq);

/* Wake the queue thread so it re-checks its ring (enable changed). */
void vq_thread_wake(struct vq *vq);

#endif
