/*
 * vfe_msg.h - vhost-user messages over a UNIX socket, front-end side.
 *
 * Part of the functional-test front-end (vfe_*): it plays QEMU against the
 * daemon.  Messages are a 12-byte header {request, flags, size} followed by
 * `size` payload bytes, host byte order, file descriptors as SCM_RIGHTS.
 * Replies are checked strictly, the way QEMU checks them: flags exactly
 * VERSION|REPLY (0x5), the same request id, and the exact payload size.
 *
 * Every function returns 0 (or a non-negative count) on success and a
 * negative errno on failure; protocol violations by the back-end are
 * -EPROTO and a description is left in vfe_msg_last_error().
 */
#ifndef VFE_MSG_H
#define VFE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request ids (docs/interop/vhost-user.rst, "Front-end message types"). */
enum vfe_req {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SEND_RARP = 19,
	VU_NET_SET_MTU = 20,
	VU_SET_BACKEND_REQ_FD = 21,
	VU_IOTLB_MSG = 22,
	VU_SET_VRING_ENDIAN = 23,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
	VU_SET_DEVICE_STATE_FD = 42,
	VU_CHECK_DEVICE_STATE = 43,
};

/* Header flags. */
#define VU_VERSION 0x1u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u
#define VU_REPLY_FLAGS (VU_VERSION | VU_FLAG_REPLY)

/* Virtio / vhost feature bits. */
#define VU_F_RING_INDIRECT_DESC 28
#define VU_F_RING_EVENT_IDX 29
#define VU_F_PROTOCOL_FEATURES 30
#define VU_F_LOG_ALL 26
#define VU_F_VERSION_1 32

/* Protocol feature bits. */
#define VU_PF_MQ 0
#define VU_PF_LOG_SHMFD 1
#define VU_PF_REPLY_ACK 3
#define VU_PF_BACKEND_REQ 5
#define VU_PF_CONFIG 9
#define VU_PF_RESET_DEVICE 13
#define VU_PF_CONFIGURE_MEM_SLOTS 15
#define VU_PF_STATUS 16
#define VU_PF_DEVICE_STATE 19

/* SET_VRING_KICK/CALL/ERR payload: bit 8 = no fd. */
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD 0x100u
/* SET_VRING_ADDR flags: log used-ring writes. */
#define VU_VRING_F_LOG 0x1u

/* Most fds one message carries (QEMU's VHOST_MEMORY_BASELINE_NREGIONS). */
#define VU_MAX_FDS 8
#define VU_MAX_REGIONS 8

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region regions[VU_MAX_REGIONS];
};

struct vu_mem_reg {
	uint64_t padding;
	struct vu_region region;
};

struct vu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct vu_state_params {
	uint32_t direction;
	uint32_t phase;
};

/* Largest payload we ever send or accept (QEMU's VhostUserPayload bound). */
#define VU_MAX_PAYLOAD 4096

/* A received message (the payload is not contiguous with the header). */
struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		struct vu_mem_reg memreg;
		struct vu_log log;
		struct vu_state_params params;
		uint8_t raw[VU_MAX_PAYLOAD];
	} p;
};

/* The name of a request id ("GET_FEATURES"), or "?" when unknown. */
const char *vfe_req_name(uint32_t req);

/* A description of the last -EPROTO/-ETIMEDOUT failure of this thread. */
const char *vfe_msg_last_error(void);

/* Record a formatted description as the last error (printf-like). */
void vfe_msg_set_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Send raw bytes on the socket with optional fds (SCM_RIGHTS), in one
 * sendmsg.  For well-formed and malformed messages alike.
 * sock: connected socket; buf/len: bytes; fds/nfds: descriptors (nfds may
 * be 0).  Returns 0 or a negative errno (-EPIPE when the peer is gone).
 */
int vfe_msg_send_raw(int sock, const void *buf, size_t len,
		     const int *fds, unsigned nfds);

/*
 * Send one message: header {req, VERSION|extra_flags, size} + payload.
 * extra_flags: e.g. VU_FLAG_NEED_REPLY.  Returns 0 or a negative errno.
 */
int vfe_msg_send(int sock, uint32_t req, uint32_t extra_flags,
		 const void *payload, uint32_t size,
		 const int *fds, unsigned nfds);

/*
 * Receive one message (any), waiting at most timeout_ms.
 * m: filled with header and payload; fds/nfds: received descriptors (may be
 * NULL; extra ones are closed).  Returns 0, -ETIMEDOUT, -ECONNRESET when the
 * peer closed the connection, -EPROTO on a short or oversized message.
 */
int vfe_msg_recv(int sock, struct vu_msg *m, int *fds, unsigned *nfds,
		 int timeout_ms);

/*
 * Receive the reply to `req` and check it like QEMU: flags exactly 0x5,
 * request == req, size == expect_size.  Payload copied to `payload`.
 * Returns 0 or a negative errno (-EPROTO on any mismatch).
 */
int vfe_msg_recv_reply(int sock, uint32_t req, void *payload,
		       uint32_t expect_size, int timeout_ms);

/*
 * Send `req` without need_reply and wait for its u64 reply (GET_FEATURES,
 * GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, ...).
 * val: the value.  Returns 0 or a negative errno.
 */
int vfe_msg_get_u64(int sock, uint32_t req, uint64_t *val, int timeout_ms);

/*
 * Send a request; when need_reply is true, set NEED_REPLY and wait for the
 * u64 ack.  ack: the acked value (0 = success), may be NULL.
 * Returns 0 when sent (and acked, whatever its value), or a negative errno.
 */
int vfe_msg_request(int sock, uint32_t req, bool need_reply,
		    const void *payload, uint32_t size,
		    const int *fds, unsigned nfds, uint64_t *ack,
		    int timeout_ms);

/*
 * Wait until the peer closes the connection: drains and discards anything
 * it still sends.  Returns 0 on EOF, -ETIMEDOUT otherwise.
 */
int vfe_msg_wait_eof(int sock, int timeout_ms);

/* Monotonic milliseconds, for deadlines. */
int64_t vfe_now_ms(void);

#endif
