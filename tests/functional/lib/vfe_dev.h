/*
 * vfe_dev.h - the vhost-user device as QEMU drives it.
 *
 * A struct vfe_dev owns the guest memory, the vrings and the connection,
 * and sends the message sequences QEMU 10 sends:
 *   vfe_dev_negotiate(): GET_FEATURES, GET/SET_PROTOCOL_FEATURES,
 *     GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, SET_OWNER, GET_FEATURES, per ring
 *     SET_VRING_CALL + SET_VRING_ERR, then RESET_DEVICE (machine reset);
 *   vfe_dev_start(): SET_FEATURES, memory (ADD_MEM_REG per region, or
 *     SET_MEM_TABLE without CONFIGURE_MEM_SLOTS), per ring NUM, BASE, ADDR,
 *     KICK, CALL, then SET_VRING_ENABLE 1 per ring;
 *   vfe_dev_stop(): SET_VRING_ENABLE 0 and GET_VRING_BASE per ring.
 * Replies are checked strictly (see vfe_msg.h).  Functions return 0 or a
 * negative errno; the last error text is in vfe_msg_last_error().
 */
#ifndef VFE_DEV_H
#define VFE_DEV_H

#include <stdbool.h>
#include <stdint.h>
#include "vfe_mem.h"
#include "vfe_msg.h"
#include "vfe_vring.h"

#define VFE_MAX_VQS 16

struct vfe_dev_opts {
	unsigned nvqs;           /* rings to set up; 0 = 2 (hiprio + 1) */
	uint16_t queue_size;     /* 0 = 128 */
	uint64_t ram_size;       /* 0 = 64 MiB */
	unsigned nregions;       /* RAM split in contiguous regions; 0 = 1 */
	uint64_t ram_base;       /* GPA of the first region */
	uint64_t mmap_offset;    /* mmap_offset used in every region */
	bool no_mem_slots;       /* don't ack CONFIGURE_MEM_SLOTS */
	bool no_reply_ack;       /* don't ack REPLY_ACK */
	bool no_event_idx;       /* don't ack RING_EVENT_IDX */
	bool no_indirect;        /* don't ack RING_INDIRECT_DESC */
	bool no_reset;           /* skip the RESET_DEVICE after negotiate */
	int timeout_ms;          /* reply timeout; 0 = 5000 */
};

struct vfe_dev {
	int sock;
	int timeout_ms;
	struct vfe_dev_opts o;
	struct vfe_mem mem;
	uint64_t features;         /* offered by GET_FEATURES */
	uint64_t pfeatures;        /* offered by GET_PROTOCOL_FEATURES */
	uint64_t acked_features;   /* sent with SET_FEATURES */
	uint64_t acked_pfeatures;  /* sent with SET_PROTOCOL_FEATURES */
	uint64_t queue_num;        /* GET_QUEUE_NUM */
	uint64_t max_mem_slots;    /* GET_MAX_MEM_SLOTS */
	unsigned nvqs;
	struct vfe_vring vq[VFE_MAX_VQS];
	uint16_t base[VFE_MAX_VQS];   /* next SET_VRING_BASE value */
	int err_fd[VFE_MAX_VQS];      /* SET_VRING_ERR eventfds */
	bool mem_added[VFE_MAX_REGIONS]; /* region sent with ADD_MEM_REG */
	bool started;
	bool logging;                 /* LOG_ALL acked */
	uint32_t vring_flags;         /* flags for SET_VRING_ADDR */
	struct vfe_log log;
};

/*
 * Create guest memory and rings according to opts (NULL = defaults).
 * No message is sent; dev->sock is -1.  Returns 0 or a negative errno.
 */
int vfe_dev_init(struct vfe_dev *dev, const struct vfe_dev_opts *opts);

/* Close the connection, the eventfds, the log and guest memory. */
void vfe_dev_destroy(struct vfe_dev *dev);

/* True when REPLY_ACK was negotiated. */
bool vfe_dev_reply_ack(const struct vfe_dev *dev);

/*
 * QEMU's realize-time sequence on the connected socket `sock` (adopted;
 * closed by vfe_dev_destroy).  Checks the mandatory offered bits
 * (PROTOCOL_FEATURES, VERSION_1).  Returns 0 or a negative errno.
 */
int vfe_dev_negotiate(struct vfe_dev *dev, int sock);

/*
 * Send a "set" message, with need_reply when REPLY_ACK is negotiated and
 * `ack` asks for it; checks the acked value is 0 (else -EREMOTEIO).
 */
int vfe_dev_set(struct vfe_dev *dev, uint32_t req, bool ack,
		const void *payload, uint32_t size, const int *fds,
		unsigned nfds);

/* SET_FEATURES with dev->acked_features (| LOG_ALL while logging). */
int vfe_dev_set_features(struct vfe_dev *dev);

/*
 * The whole memory table: SET_MEM_TABLE, or (like QEMU's shadow table with
 * CONFIGURE_MEM_SLOTS) ADD_MEM_REG for each region not yet added.
 */
int vfe_dev_set_mem(struct vfe_dev *dev);

/* ADD_MEM_REG / REM_MEM_REG of region i. */
int vfe_dev_add_mem_reg(struct vfe_dev *dev, unsigned i);
int vfe_dev_rem_mem_reg(struct vfe_dev *dev, unsigned i);

/* SET_VRING_ADDR of ring i with dev->vring_flags. */
int vfe_dev_set_vring_addr(struct vfe_dev *dev, unsigned i);

/* SET_VRING_NUM/BASE/ADDR/KICK/CALL for ring i (no ENABLE). */
int vfe_dev_setup_ring(struct vfe_dev *dev, unsigned i);

/* SET_VRING_ENABLE of ring i (acked when REPLY_ACK). */
int vfe_dev_enable_ring(struct vfe_dev *dev, unsigned i, bool on);

/*
 * GET_VRING_BASE of ring i (stops it).  *base receives the next avail
 * index; it is also kept for the next start.  Returns 0 or -errno.
 */
int vfe_dev_get_vring_base(struct vfe_dev *dev, unsigned i, uint16_t *base);

/* QEMU's device start (see top of file). */
int vfe_dev_start(struct vfe_dev *dev);

/*
 * QEMU's device stop: SET_VRING_ENABLE 0 on every ring, then
 * GET_VRING_BASE on every ring.  bases (may be NULL) receives the values.
 */
int vfe_dev_stop(struct vfe_dev *dev, uint16_t *bases);

/*
 * RESET_DEVICE, then rings zeroed and restarted at base 0 (a guest driver
 * re-initialising the device).  The device must be started again.
 */
int vfe_dev_reset(struct vfe_dev *dev);

/*
 * Start dirty logging like QEMU: SET_LOG_BASE (memfd covering all guest
 * memory; reply required), SET_FEATURES with LOG_ALL, SET_VRING_ADDR with
 * VHOST_VRING_F_LOG on every ring.  Returns 0 or a negative errno.
 */
int vfe_dev_log_start(struct vfe_dev *dev);

/*
 * Prepare dirty logging for the next vfe_dev_start() (QEMU when migration
 * begins while the device is stopped): creates the log and sets the flags;
 * the start then sends SET_FEATURES with LOG_ALL, SET_VRING_ADDR with
 * F_LOG and SET_LOG_BASE.  Sends nothing.  Returns 0 or a negative errno.
 */
int vfe_dev_log_prepare(struct vfe_dev *dev);

/* Stop dirty logging: SET_FEATURES without LOG_ALL, SET_VRING_ADDR w/o F_LOG. */
int vfe_dev_log_stop(struct vfe_dev *dev);

#endif
