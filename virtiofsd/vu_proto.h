/*
 * vu_proto.h - the vhost-user wire format (QEMU docs/interop/vhost-user.rst):
 * message ids, header flags, feature bits and payload layouts.  All fields
 * are in host byte order; the header is 12 packed bytes.
 */
#ifndef VU_PROTO_H
#define VU_PROTO_H

#include <stdint.h>

enum vu_request {
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
	VU_REQUEST_MAX = 64,
};

#define VU_VERSION 0x1u
#define VU_VERSION_MASK 0x3u
#define VU_REPLY_MASK (1u << 2)
#define VU_NEED_REPLY_MASK (1u << 3)

/* virtio / vhost feature bits we deal with */
#define VU_F_RING_INDIRECT_DESC 28
#define VU_F_RING_EVENT_IDX 29
#define VU_F_PROTOCOL_FEATURES 30
#define VU_F_LOG_ALL 26
#define VU_F_VERSION_1 32

/* protocol feature bits */
#define VU_PF_MQ 0
#define VU_PF_LOG_SHMFD 1
#define VU_PF_REPLY_ACK 3
#define VU_PF_CONFIGURE_MEM_SLOTS 15
#define VU_PF_RESET_DEVICE 13
#define VU_PF_DEVICE_STATE 19

/* SET_VRING_KICK/CALL/ERR payload bits */
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD_MASK (1u << 8)

/* SET_VRING_ADDR flags */
#define VU_VRING_F_LOG_FLAG 1u

/* Limits */
#define VU_MAX_FDS 8
#define VU_MEM_TABLE_MAX_REGIONS 8
#define VU_MAX_MEM_SLOTS 509
#define VU_LOG_PAGE 4096

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_region_wire {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_mem_table_wire {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region_wire regions[VU_MEM_TABLE_MAX_REGIONS];
};

struct vu_single_region_wire {
	uint64_t padding;
	struct vu_region_wire region;
};

struct vu_vring_state_wire {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr_wire {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vu_log_wire {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct vu_device_state_wire {
	uint32_t direction;
	uint32_t phase;
};

/* Largest payload we accept; anything bigger is a protocol error. */
#define VU_MAX_PAYLOAD 4096

#endif
