/*
 * vu_server.c - the vhost-user message loop: read one message (header,
 * payload, fds), validate it, apply it, reply exactly as QEMU expects
 * (flags VERSION|REPLY, the request's id, the exact payload size).
 *
 * Syscalls: recvmsg, sendmsg, read, write, close, poll, rt_sigaction,
 * tgkill, clock_gettime, futex.
 */
#include <errno.h>
#include <time.h>
#include <signal.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "affinity.h"
#include "fuse_virtio.h"
#include "log.h"
#include "vq_pool.h"
#include "vu_dev.h"
#include "vu_proto.h"

struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state_wire state;
		struct vu_vring_addr_wire addr;
		struct vu_mem_table_wire table;
		struct vu_single_region_wire region;
		struct vu_log_wire log;
		struct vu_device_state_wire dstate;
		uint8_t raw[VU_MAX_PAYLOAD];
	} p;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

/* What a handler asks the loop to do after it ran. */
enum {
	H_ACK = 0,   /* no reply payload: ack with 0 if need_reply */
	H_REPLY = 1, /* the handler filled a reply payload: send it */
};

#define BIT(n) (1ULL << (n))

/* The transfer thread's wake-up signal: it only interrupts a blocked
 * read or write on the transfer fd, which then gives up (EINTR). */
#define VU_XFER_SIG SIGUSR1

static void xfer_sig_handler(int sig)
{
	(void)sig;
}


uint64_t vu_dev_offered_features(void)
{
	return BIT(VU_F_VERSION_1) | BIT(VU_F_RING_INDIRECT_DESC) |
	       BIT(VU_F_RING_EVENT_IDX) | BIT(VU_F_PROTOCOL_FEATURES) |
	       BIT(VU_F_LOG_ALL);
}

uint64_t vu_dev_offered_protocol_features(const struct vu_dev *dev)
{
	uint64_t f = BIT(VU_PF_MQ) | BIT(VU_PF_LOG_SHMFD) | BIT(VU_PF_REPLY_ACK) |
		     BIT(VU_PF_CONFIGURE_MEM_SLOTS) | BIT(VU_PF_RESET_DEVICE);

	if (dev->state_ops)
		f |= BIT(VU_PF_DEVICE_STATE);
	return f;
}

void vu_dev_set_state_ops(struct vu_dev *dev, const struct vu_state_ops *ops,
			  void *opaque)
{
	dev->state_ops = ops;
	dev->state_opaque = opaque;
}

int vu_dev_init(struct vu_dev *dev, int sock, struct fuse_session *se)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->sock = sock;
	dev->se = se;
	vu_gate_init(&dev->mem_gate);
	{
		struct sigaction sa = { .sa_handler = xfer_sig_handler };

		/* No SA_RESTART: the signal must interrupt the transfer. */
		sigemptyset(&sa.sa_mask);
		if (sigaction(VU_XFER_SIG, &sa, NULL) < 0)
			return -errno;
	}
	dev->xfer_fd = -1;
	ret = vu_mem_init(&dev->mem, VU_MAX_MEM_SLOTS);
	if (ret)
		return ret;
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		ret = vq_init(&dev->vqs[i], dev, i, &dev->log, &dev->log_all);
		if (ret)
			return ret;
	}
	return 0;
}

static void xfer_join(struct vu_dev *dev);
static void xfer_cancel(struct vu_dev *dev);

static void stop_all(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		vq_thread_stop(&dev->vqs[i]);
}

void vu_dev_destroy(struct vu_dev *dev)
{
	xfer_cancel(dev);
	stop_all(dev);
	vq_pool_free(dev->pool);
	dev->pool = NULL;
	vq_pool_free(dev->block_pool);
	dev->block_pool = NULL;
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		vq_destroy(&dev->vqs[i]);
	vu_log_clear(&dev->log);
	vu_mem_destroy(&dev->mem);
	vu_gate_destroy(&dev->mem_gate);
}

static bool has_pf(const struct vu_dev *dev, unsigned bit)
{
	return dev->protocol_features & BIT(bit);
}

/* Take fd number i out of the message (the message no longer owns it). */
static int take_fd(struct vu_msg *m, unsigned i)
{
	int fd = m->fds[i];

	m->fds[i] = -1;
	return fd;
}

static void close_msg_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

static int reply_u64(struct vu_msg *m, uint64_t v)
{
	m->p.u64 = v;
	m->hdr.size = sizeof(uint64_t);
	return H_REPLY;
}

/* The vq addressed by a ring index, or NULL (logged) if out of range. */
static struct vq *msg_vq(struct vu_dev *dev, uint32_t index, const char *what)
{
	if (index >= VU_MAX_QUEUES) {
		LOG_ERR("%s: ring index %u out of range (max %u)", what, index,
			VU_MAX_QUEUES - 1);
		return NULL;
	}
	return &dev->vqs[index];
}

/* Remap every ring after the memory table changed (gate closed). */
static void remap_rings(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct vq *vq = &dev->vqs[i];

		if (vq->addr_set && vq_map(vq, &dev->mem))
			LOG_DBG("queue %u: rings not in guest memory yet", i);
	}
}

/* Append the names of the bits of f to buf (table: bit -> name). */
static void bit_names(char *buf, size_t len, uint64_t f,
		      const char *const *names, unsigned n)
{
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned b = 0; b < 64 && at < len; b++) {
		if (!(f & (1ULL << b)))
			continue;
		if (b < n && names[b])
			at += (size_t)snprintf(buf + at, len - at, "%s%s",
					       at ? " " : "", names[b]);
		else
			at += (size_t)snprintf(buf + at, len - at, "%sbit%u",
					       at ? " " : "", b);
	}
}

/* The negotiation summary, at info level once per process (QEMU sends
 * SET_FEATURES again at every start and for LOG_ALL). */
static void log_negotiated(const struct vu_dev *dev)
{
	static const char *const fnames[] = {
		[VU_F_LOG_ALL] = "LOG_ALL",
		[VU_F_RING_INDIRECT_DESC] = "RING_INDIRECT_DESC",
		[VU_F_RING_EVENT_IDX] = "RING_EVENT_IDX",
		[VU_F_PROTOCOL_FEATURES] = "PROTOCOL_FEATURES",
		[VU_F_VERSION_1] = "VERSION_1",
	};
	static const char *const pnames[] = {
		[VU_PF_MQ] = "MQ", [VU_PF_LOG_SHMFD] = "LOG_SHMFD",
		[VU_PF_REPLY_ACK] = "REPLY_ACK",
		[VU_PF_RESET_DEVICE] = "RESET_DEVICE",
		[VU_PF_CONFIGURE_MEM_SLOTS] = "CONFIGURE_MEM_SLOTS",
		[VU_PF_DEVICE_STATE] = "DEVICE_STATE",
	};
	static bool logged;
	char f[256], p[256];

	bit_names(f, sizeof(f), dev->features & ~BIT(VU_F_LOG_ALL), fnames,
		  sizeof(fnames) / sizeof(fnames[0]));
	bit_names(p, sizeof(p), dev->protocol_features, pnames,
		  sizeof(pnames) / sizeof(pnames[0]));
	if (!logged)
		LOG_INFO("vhost-user: features acked: %s; protocol features: %s",
			 f, p[0] ? p : "none");
	else
		LOG_DBG("vhost-user: features acked: %s; protocol features: %s",
			f, p[0] ? p : "none");
	logged = true;
}

static int h_get_features(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, vu_dev_offered_features());
}

static int h_set_features(struct vu_dev *dev, struct vu_msg *m)
{
	uint64_t f = m->p.u64, bad = f & ~vu_dev_offered_features();
	bool log_all = f & BIT(VU_F_LOG_ALL);

	if (bad) {
		LOG_ERR("SET_FEATURES: bits 0x%llx were not offered",
			(unsigned long long)bad);
		return -EINVAL;
	}
	if (log_all != atomic_load(&dev->log_all)) {
		LOG_INFO("dirty page logging %s", log_all ? "on" : "off");
		if (dev->state_ops && log_all && dev->state_ops->log_start)
			dev->state_ops->log_start(dev->state_opaque);
		if (dev->state_ops && !log_all && dev->state_ops->log_stop)
			dev->state_ops->log_stop(dev->state_opaque);
	}
	dev->features = f;
	atomic_store(&dev->log_all, log_all);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct vq *vq = &dev->vqs[i];

		if (vq->started)
			continue;
		vq->event_idx = f & BIT(VU_F_RING_EVENT_IDX);
		vq->indirect = f & BIT(VU_F_RING_INDIRECT_DESC);
		if (!(f & BIT(VU_F_PROTOCOL_FEATURES)))
			atomic_store(&vq->enabled, true);
	}
	log_negotiated(dev);
	return H_ACK;
}

static int h_get_protocol_features(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, vu_dev_offered_protocol_features(dev));
}

static int h_set_protocol_features(struct vu_dev *dev, struct vu_msg *m)
{
	uint64_t f = m->p.u64, bad = f & ~vu_dev_offered_protocol_features(dev);

	if (bad) {
		LOG_ERR("SET_PROTOCOL_FEATURES: bits 0x%llx were not offered",
			(unsigned long long)bad);
		return -EINVAL;
	}
	dev->protocol_features = f;
	LOG_DBG("protocol features acked: 0x%llx", (unsigned long long)f);
	return H_ACK;
}

static int h_set_owner(struct vu_dev *dev, struct vu_msg *m)
{
	return H_ACK;
}

static int h_reset_owner(struct vu_dev *dev, struct vu_msg *m)
{
	/* Deprecated; the spec recommends at most disabling the rings. */
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		atomic_store(&dev->vqs[i].enabled, false);
	return H_ACK;
}

static int h_reset_device(struct vu_dev *dev, struct vu_msg *m)
{
	xfer_cancel(dev);
	stop_all(dev);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct vq *vq = &dev->vqs[i];

		atomic_store(&vq->enabled, false);
		vq->broken = false;
		vq->last_avail_idx = vq->used_idx = 0;
	}
	fuse_session_reset_state(dev->se);
	LOG_INFO("device reset: FUSE state forgotten");
	return H_ACK;
}

static int h_get_queue_num(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, VU_MAX_QUEUES);
}

static int h_get_max_mem_slots(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, VU_MAX_MEM_SLOTS);
}

static void region_from_wire(struct vu_region *r, const struct vu_region_wire *w)
{
	memset(r, 0, sizeof(*r));
	r->gpa = w->guest_phys_addr;
	r->size = w->memory_size;
	r->uaddr = w->userspace_addr;
	r->mmap_offset = w->mmap_offset;
}

static int h_set_mem_table(struct vu_dev *dev, struct vu_msg *m)
{
	uint32_t n = m->p.table.nregions;
	int ret = 0;

	if (n == 0 || n > VU_MEM_TABLE_MAX_REGIONS ||
	    m->hdr.size != 8 + n * sizeof(struct vu_region_wire) ||
	    m->nfds != n) {
		LOG_ERR("SET_MEM_TABLE: %u regions, %u bytes, %u fds: malformed",
			n, m->hdr.size, m->nfds);
		return -EINVAL;
	}
	vu_gate_close(&dev->mem_gate);
	vu_mem_clear(&dev->mem);
	for (uint32_t i = 0; i < n && !ret; i++) {
		struct vu_region r;

		region_from_wire(&r, &m->p.table.regions[i]);
		ret = vu_mem_add(&dev->mem, &r, m->fds[i]);
		if (ret)
			LOG_ERR("SET_MEM_TABLE: region %u (gpa 0x%llx size 0x%llx): %s",
				i, (unsigned long long)r.gpa,
				(unsigned long long)r.size, strerror(-ret));
	}
	if (ret)
		vu_mem_clear(&dev->mem);
	remap_rings(dev);
	vu_gate_open(&dev->mem_gate);
	return ret ? ret : H_ACK;
}

static int h_add_mem_reg(struct vu_dev *dev, struct vu_msg *m)
{
	struct vu_region r;
	int ret;

	if (m->nfds != 1) {
		LOG_ERR("ADD_MEM_REG: %u fds instead of 1", m->nfds);
		return -EINVAL;
	}
	region_from_wire(&r, &m->p.region.region);
	vu_gate_close(&dev->mem_gate);
	ret = vu_mem_add(&dev->mem, &r, m->fds[0]);
	remap_rings(dev);
	vu_gate_open(&dev->mem_gate);
	if (ret) {
		LOG_ERR("ADD_MEM_REG gpa 0x%llx size 0x%llx: %s",
			(unsigned long long)r.gpa, (unsigned long long)r.size,
			strerror(-ret));
		return ret;
	}
	LOG_DBG("region added: gpa 0x%llx size 0x%llx",
		(unsigned long long)r.gpa, (unsigned long long)r.size);
	return H_ACK;
}

static int h_rem_mem_reg(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_region_wire *w = &m->p.region.region;
	int ret;

	vu_gate_close(&dev->mem_gate);
	ret = vu_mem_remove(&dev->mem, w->guest_phys_addr, w->memory_size,
			    w->userspace_addr);
	remap_rings(dev);
	vu_gate_open(&dev->mem_gate);
	if (ret)
		LOG_ERR("REM_MEM_REG gpa 0x%llx size 0x%llx: no such region",
			(unsigned long long)w->guest_phys_addr,
			(unsigned long long)w->memory_size);
	return ret ? ret : H_ACK;
}

static int h_set_log_base(struct vu_dev *dev, struct vu_msg *m)
{
	int ret;

	if (!has_pf(dev, VU_PF_LOG_SHMFD) || m->nfds != 1) {
		LOG_ERR("SET_LOG_BASE: needs LOG_SHMFD and one fd (%u fds)",
			m->nfds);
		return has_pf(dev, VU_PF_LOG_SHMFD) ? reply_u64(m, 1) : -EINVAL;
	}
	vu_gate_close(&dev->mem_gate);
	ret = vu_log_set(&dev->log, m->fds[0], m->p.log.mmap_size,
			 m->p.log.mmap_offset);
	vu_gate_open(&dev->mem_gate);
	if (ret)
		LOG_ERR("SET_LOG_BASE: size %llu: %s",
			(unsigned long long)m->p.log.mmap_size, strerror(-ret));
	else
		LOG_INFO("dirty log mapped: %llu bytes",
			 (unsigned long long)m->p.log.mmap_size);
	return reply_u64(m, ret ? 1 : 0);
}

static int h_set_log_fd(struct vu_dev *dev, struct vu_msg *m)
{
	/* We never need the log eventfd: just accept and close it. */
	return H_ACK;
}

static int h_set_vring_num(struct vu_dev *dev, struct vu_msg *m)
{
	struct vq *vq = msg_vq(dev, m->p.state.index, "SET_VRING_NUM");
	uint32_t num = m->p.state.num;

	if (!vq)
		return -EINVAL;
	if (vq->started) {
		LOG_ERR("SET_VRING_NUM: queue %u is running", vq->index);
		return -EBUSY;
	}
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1))) {
		LOG_ERR("SET_VRING_NUM: queue %u: bad size %u", vq->index, num);
		return -EINVAL;
	}
	vq->num = num;
	return H_ACK;
}

static int h_set_vring_addr(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_vring_addr_wire *a = &m->p.addr;
	struct vq *vq = msg_vq(dev, a->index, "SET_VRING_ADDR");
	int ret;

	if (!vq)
		return -EINVAL;
	/*
	 * QEMU re-sends the addresses of running rings to switch used-ring
	 * logging on or off when a migration starts or ends: the write lock
	 * keeps the queue thread off the ring while it changes.
	 */
	vu_gate_close(&dev->mem_gate);
	vq->desc_uaddr = a->desc_user_addr;
	vq->avail_uaddr = a->avail_user_addr;
	vq->used_uaddr = a->used_user_addr;
	vq->log_guest_addr = a->log_guest_addr;
	vq->addr_flags = a->flags;
	vq->addr_set = true;
	ret = vq_map(vq, &dev->mem);
	vu_gate_open(&dev->mem_gate);
	if (ret) {
		LOG_ERR("SET_VRING_ADDR: queue %u: rings outside guest memory",
			vq->index);
		return ret;
	}
	LOG_DBG("queue %u: ring addresses set, used-ring logging %s",
		vq->index, (a->flags & VU_VRING_F_LOG_FLAG) ? "on" : "off");
	return H_ACK;
}

static int h_set_vring_base(struct vu_dev *dev, struct vu_msg *m)
{
	struct vq *vq = msg_vq(dev, m->p.state.index, "SET_VRING_BASE");

	if (!vq)
		return -EINVAL;
	if (vq->started) {
		LOG_ERR("SET_VRING_BASE: queue %u is running", vq->index);
		return -EBUSY;
	}
	if (m->p.state.num > 0xffff) {
		LOG_ERR("SET_VRING_BASE: queue %u: base %u is not a split-ring index",
			vq->index, m->p.state.num);
		return -EINVAL;
	}
	vq->last_avail_idx = (uint16_t)m->p.state.num;
	return H_ACK;
}

static int h_get_vring_base(struct vu_dev *dev, struct vu_msg *m)
{
	struct vq *vq = msg_vq(dev, m->p.state.index, "GET_VRING_BASE");
	uint32_t index = m->p.state.index;

	if (!vq) {
		m->p.state.num = 0;
	} else {
		vq_thread_stop(vq);
		if (vq->kick_fd >= 0)
			close(vq->kick_fd);
		vq->kick_fd = -1;
		m->p.state.num = vq->last_avail_idx;
		LOG_DBG("queue %u stopped at avail %u used %u", index,
			vq->last_avail_idx, vq->used_idx);
	}
	m->p.state.index = index;
	m->hdr.size = sizeof(m->p.state);
	return H_REPLY;
}

static void xfer_join(struct vu_dev *dev);

/* Start vq if it is fully configured.  Returns 0 or a negative errno. */
static int try_start(struct vu_dev *dev, struct vq *vq)
{
	int ret;

	if (vq->started || vq->kick_fd < 0)
		return 0;
	if (dev->xfer_running || dev->xfer_saved) {
		/* Rings restart after a save: the source goes on. */
		xfer_join(dev);
		if (dev->xfer_saved && dev->state_ops &&
		    dev->state_ops->resumed)
			dev->state_ops->resumed(dev->state_opaque);
		dev->xfer_saved = false;
	}
	if (!vq->num || !vq->addr_set) {
		LOG_ERR("queue %u: kick before size and addresses", vq->index);
		return -EINVAL;
	}
	/* Only this thread changes the table: no need to close the gate. */
	ret = vq_map(vq, &dev->mem);
	if (!ret)
		vq->used_idx = le16toh(*(volatile uint16_t *)&vq->used->idx);
	if (ret) {
		LOG_ERR("queue %u: rings outside guest memory", vq->index);
		return ret;
	}
	vq->broken = false;
	vq->signalled_used_valid = false;
	vq->event_idx = dev->features & BIT(VU_F_RING_EVENT_IDX);
	vq->indirect = dev->features & BIT(VU_F_RING_INDIRECT_DESC);
	ret = vq_thread_start(vq);
	if (!ret && dev->ring_cpus && dev->ring_cpus->n) {
		int r = vfs_cpus_pin(vq->thread, dev->ring_cpus, vq->index);

		if (r)
			LOG_WARN("queue %u: --queue-affinity: %s", vq->index,
				 strerror(-r));
	}
	if (ret)
		LOG_ERR("queue %u: cannot start: %s", vq->index, strerror(-ret));
	else
		LOG_DBG("queue %u started: size %u avail %u used %u", vq->index,
			vq->num, vq->last_avail_idx, vq->used_idx);
	return ret;
}

/* Common part of SET_VRING_KICK/CALL/ERR: ring index and optional fd. */
static struct vq *vring_fd_msg(struct vu_dev *dev, struct vu_msg *m,
			       const char *what, int *fd)
{
	uint64_t v = m->p.u64;
	struct vq *vq = msg_vq(dev, (uint32_t)(v & VU_VRING_IDX_MASK), what);

	*fd = -1;
	if (!vq)
		return NULL;
	if (v & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK)) {
		LOG_ERR("%s: reserved bits set in 0x%llx", what,
			(unsigned long long)v);
		return NULL;
	}
	if (v & VU_VRING_NOFD_MASK) {
		if (m->nfds) {
			LOG_ERR("%s: fd sent with the no-fd flag", what);
			return NULL;
		}
		return vq;
	}
	if (m->nfds != 1) {
		LOG_ERR("%s: expected one fd, got %u", what, m->nfds);
		return NULL;
	}
	*fd = take_fd(m, 0);
	return vq;
}

static int h_set_vring_kick(struct vu_dev *dev, struct vu_msg *m)
{
	int fd;
	struct vq *vq = vring_fd_msg(dev, m, "SET_VRING_KICK", &fd);

	if (!vq)
		return -EINVAL;
	vq_thread_stop(vq);
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	vq->kick_fd = fd;
	if (fd < 0) {
		LOG_ERR("SET_VRING_KICK: queue %u: polling mode is not supported",
			vq->index);
		return -EINVAL;
	}
	return try_start(dev, vq) ? -EINVAL : H_ACK;
}

static int h_set_vring_call(struct vu_dev *dev, struct vu_msg *m)
{
	int fd, old;
	struct vq *vq = vring_fd_msg(dev, m, "SET_VRING_CALL", &fd);

	if (!vq)
		return -EINVAL;
	pthread_mutex_lock(&vq->call_lock);
	old = vq->call_fd;
	vq->call_fd = fd;
	/* A new call fd may have missed an interrupt: resend the next one. */
	vq->signalled_used_valid = false;
	pthread_mutex_unlock(&vq->call_lock);
	if (old >= 0)
		close(old);
	return H_ACK;
}

static int h_set_vring_err(struct vu_dev *dev, struct vu_msg *m)
{
	int fd, old;
	struct vq *vq = vring_fd_msg(dev, m, "SET_VRING_ERR", &fd);

	if (!vq)
		return -EINVAL;
	pthread_mutex_lock(&vq->call_lock);
	old = vq->err_fd;
	vq->err_fd = fd;
	pthread_mutex_unlock(&vq->call_lock);
	if (old >= 0)
		close(old);
	return H_ACK;
}

static int h_set_vring_enable(struct vu_dev *dev, struct vu_msg *m)
{
	struct vq *vq = msg_vq(dev, m->p.state.index, "SET_VRING_ENABLE");

	if (!vq)
		return -EINVAL;
	if (m->p.state.num > 1) {
		LOG_ERR("SET_VRING_ENABLE: bad value %u", m->p.state.num);
		return -EINVAL;
	}
	atomic_store(&vq->enabled, m->p.state.num == 1);
	vq_thread_wake(vq);
	return H_ACK;
}

/* Body of the transfer thread: run save or load on the fd. */
static void *xfer_main(void *arg)
{
	struct vu_dev *dev = arg;
	const struct vu_state_ops *ops = dev->state_ops;

	pthread_setname_np(pthread_self(), "state-xfer");
	if (dev->xfer_direction == 0) {
		dev->xfer_result = ops->save(dev->state_opaque, dev->xfer_fd);
		dev->xfer_saved = true;
	} else {
		dev->xfer_result = ops->load(dev->state_opaque, dev->xfer_fd);
	}
	close(dev->xfer_fd);
	dev->xfer_fd = -1;
	return NULL;
}

/* Wait for a running transfer (if any) to end. */
/* True when the front-end has hung up or the socket failed. */
static bool peer_gone(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLRDHUP };

	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/*
 * Wait for a running transfer (if any) to end.  With cancel, interrupt it
 * (a blocked read or write on its fd gives up); without, wait as long as
 * the front-end stays connected: one that hangs up mid-transfer, or never
 * closes its end of the pipe and goes away, cancels it.
 */
static void xfer_finish(struct vu_dev *dev, bool cancel)
{
	if (!dev->xfer_running)
		return;
	for (;;) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(dev->xfer_thread, NULL, &ts) == 0)
			break;
		if (!cancel && peer_gone(dev->sock)) {
			LOG_ERR("front-end gone during the device-state transfer: cancelling it");
			cancel = true;
		}
		if (cancel)
			pthread_kill(dev->xfer_thread, VU_XFER_SIG);
	}
	dev->xfer_running = false;
	dev->xfer_done = true;
}

/* Wait for a running transfer to end normally (see xfer_finish()). */
static void xfer_join(struct vu_dev *dev)
{
	xfer_finish(dev, false);
}

/* Interrupt a running transfer and wait for its thread to end. */
static void xfer_cancel(struct vu_dev *dev)
{
	xfer_finish(dev, true);
}

static bool all_rings_stopped(const struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		if (dev->vqs[i].started)
			return false;
	return true;
}

/* Reply value for SET_DEVICE_STATE_FD: error code, never an fd. */
#define XFER_REFUSED (VU_VRING_NOFD_MASK | 1)

static int h_set_device_state_fd(struct vu_dev *dev, struct vu_msg *m)
{
	uint32_t dir = m->p.dstate.direction, phase = m->p.dstate.phase;
	int ret;

	if (!has_pf(dev, VU_PF_DEVICE_STATE) || !dev->state_ops) {
		LOG_ERR("SET_DEVICE_STATE_FD: device state not negotiated");
		return reply_u64(m, XFER_REFUSED);
	}
	if (dir > 1 || phase != 0 || m->nfds != 1) {
		LOG_ERR("SET_DEVICE_STATE_FD: direction %u phase %u with %u fds refused",
			dir, phase, m->nfds);
		return reply_u64(m, XFER_REFUSED);
	}
	if (!all_rings_stopped(dev)) {
		LOG_ERR("SET_DEVICE_STATE_FD: rings still running");
		return reply_u64(m, XFER_REFUSED);
	}
	xfer_cancel(dev);
	dev->xfer_done = false;
	dev->xfer_direction = dir;
	dev->xfer_fd = take_fd(m, 0);
	/* The transfer must not start before the reply is sent: QEMU reads
	 * or writes the pipe only then.  The thread only touches the pipe,
	 * so starting it now and replying right after is equivalent. */
	ret = pthread_create(&dev->xfer_thread, NULL, xfer_main, dev);
	if (ret) {
		LOG_ERR("SET_DEVICE_STATE_FD: cannot start transfer: %s",
			strerror(ret));
		close(dev->xfer_fd);
		dev->xfer_fd = -1;
		return reply_u64(m, XFER_REFUSED);
	}
	dev->xfer_running = true;
	LOG_INFO("device state %s started", dir == 0 ? "save" : "load");
	return reply_u64(m, VU_VRING_NOFD_MASK);
}

static int h_check_device_state(struct vu_dev *dev, struct vu_msg *m)
{
	int result;

	xfer_join(dev);
	if (!dev->xfer_done) {
		LOG_ERR("CHECK_DEVICE_STATE without a transfer");
		return reply_u64(m, 1);
	}
	dev->xfer_done = false;
	result = dev->xfer_result;
	if (result)
		LOG_ERR("device state %s failed: %s",
			dev->xfer_direction == 0 ? "save" : "load",
			strerror(-result));
	else
		LOG_INFO("device state %s succeeded",
			 dev->xfer_direction == 0 ? "save" : "load");
	return reply_u64(m, result ? 1 : 0);
}

struct handler {
	const char *name;
	int (*fn)(struct vu_dev *dev, struct vu_msg *m);
	int size;       /* exact payload size; -1: variable (checked by fn) */
	unsigned nfds;  /* max fds accepted */
};

static const struct handler handlers[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = { "GET_FEATURES", h_get_features, -1, 0 },
	[VU_SET_FEATURES] = { "SET_FEATURES", h_set_features, 8, 0 },
	[VU_SET_OWNER] = { "SET_OWNER", h_set_owner, -1, 0 },
	[VU_RESET_OWNER] = { "RESET_OWNER", h_reset_owner, -1, 0 },
	[VU_SET_MEM_TABLE] = { "SET_MEM_TABLE", h_set_mem_table, -1,
			       VU_MEM_TABLE_MAX_REGIONS },
	[VU_SET_LOG_BASE] = { "SET_LOG_BASE", h_set_log_base,
			      sizeof(struct vu_log_wire), 1 },
	[VU_SET_LOG_FD] = { "SET_LOG_FD", h_set_log_fd, 8, 1 },
	[VU_SET_VRING_NUM] = { "SET_VRING_NUM", h_set_vring_num, 8, 0 },
	[VU_SET_VRING_ADDR] = { "SET_VRING_ADDR", h_set_vring_addr,
				sizeof(struct vu_vring_addr_wire), 0 },
	[VU_SET_VRING_BASE] = { "SET_VRING_BASE", h_set_vring_base, 8, 0 },
	[VU_GET_VRING_BASE] = { "GET_VRING_BASE", h_get_vring_base, 8, 0 },
	[VU_SET_VRING_KICK] = { "SET_VRING_KICK", h_set_vring_kick, 8, 1 },
	[VU_SET_VRING_CALL] = { "SET_VRING_CALL", h_set_vring_call, 8, 1 },
	[VU_SET_VRING_ERR] = { "SET_VRING_ERR", h_set_vring_err, 8, 1 },
	[VU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES",
				       h_get_protocol_features, -1, 0 },
	[VU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES",
				       h_set_protocol_features, 8, 0 },
	[VU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", h_get_queue_num, -1, 0 },
	[VU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", h_set_vring_enable, 8, 0 },
	[VU_RESET_DEVICE] = { "RESET_DEVICE", h_reset_device, -1, 0 },
	[VU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", h_get_max_mem_slots,
				   -1, 0 },
	[VU_ADD_MEM_REG] = { "ADD_MEM_REG", h_add_mem_reg,
			     sizeof(struct vu_single_region_wire), 1 },
	[VU_REM_MEM_REG] = { "REM_MEM_REG", h_rem_mem_reg,
			     sizeof(struct vu_single_region_wire), 1 },
	[VU_SET_DEVICE_STATE_FD] = { "SET_DEVICE_STATE_FD",
				     h_set_device_state_fd,
				     sizeof(struct vu_device_state_wire), 1 },
	[VU_CHECK_DEVICE_STATE] = { "CHECK_DEVICE_STATE",
				    h_check_device_state, -1, 0 },
};

/* Messages whose reply is due whatever need_reply says. */
static bool always_replies(uint32_t req)
{
	switch (req) {
	case VU_GET_FEATURES: case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_VRING_BASE: case VU_GET_QUEUE_NUM:
	case VU_GET_MAX_MEM_SLOTS: case VU_SET_DEVICE_STATE_FD:
	case VU_CHECK_DEVICE_STATE:
		return true;
	default:
		return false;
	}
}

/* Read exactly len bytes.  Returns 0, -EPIPE at EOF, or -errno. */
static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Receive one message.  Returns 1 for a message, 0 at a clean EOF, or a
 * negative errno for a broken stream.
 */
static int recv_msg(int sock, struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &m->hdr, sizeof(m->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	int ret;

	m->nfds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (m->nfds < VU_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0) {
		close_msg_fds(m);
		return 0;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		LOG_ERR("message with too many fds");
		close_msg_fds(m);
		return -EPROTO;
	}
	if (n < (ssize_t)sizeof(m->hdr)) {
		ret = read_full(sock, (uint8_t *)&m->hdr + n,
				sizeof(m->hdr) - (size_t)n);
		if (ret) {
			close_msg_fds(m);
			return ret == -EPIPE ? -EPROTO : ret;
		}
	}
	if ((m->hdr.flags & VU_VERSION_MASK) != VU_VERSION) {
		LOG_ERR("message %u: bad version in flags 0x%x", m->hdr.request,
			m->hdr.flags);
		close_msg_fds(m);
		return -EPROTO;
	}
	if (m->hdr.size > VU_MAX_PAYLOAD) {
		LOG_ERR("message %u: payload of %u bytes is too large",
			m->hdr.request, m->hdr.size);
		close_msg_fds(m);
		return -EPROTO;
	}
	memset(&m->p, 0, sizeof(m->p));
	ret = read_full(sock, &m->p, m->hdr.size);
	if (ret) {
		close_msg_fds(m);
		return ret == -EPIPE ? -EPROTO : ret;
	}
	return 1;
}

/* Send the reply held in m.  Returns 0 or a negative errno. */
static int send_reply(int sock, struct vu_msg *m)
{
	struct iovec iov[2] = {
		{ &m->hdr, sizeof(m->hdr) },
		{ &m->p, m->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t left = sizeof(m->hdr) + m->hdr.size;

	m->hdr.flags = VU_VERSION | VU_REPLY_MASK;
	while (left) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		left -= (size_t)n;
		while (n > 0 && mh.msg_iovlen) {
			size_t k = (size_t)n < mh.msg_iov->iov_len ?
				   (size_t)n : mh.msg_iov->iov_len;

			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= k;
			n -= (ssize_t)k;
			if (mh.msg_iov->iov_len == 0) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}

/* Validate and run one message, then reply as due.  Returns 0 or -errno
 * when the connection must be dropped. */
static int handle(struct vu_dev *dev, struct vu_msg *m)
{
	uint32_t req = m->hdr.request;
	bool need_reply = (m->hdr.flags & VU_NEED_REPLY_MASK) &&
			  has_pf(dev, VU_PF_REPLY_ACK);
	const struct handler *h = req < VU_REQUEST_MAX ? &handlers[req] : NULL;
	int ret;

	if (!h || !h->fn) {
		LOG_ERR("unsupported vhost-user message %u (size %u, %u fds)",
			req, m->hdr.size, m->nfds);
		ret = -EOPNOTSUPP;
	} else if (h->size >= 0 && m->hdr.size != (uint32_t)h->size) {
		LOG_ERR("%s: payload of %u bytes, expected %d", h->name,
			m->hdr.size, h->size);
		ret = -EINVAL;
	} else if (m->nfds > h->nfds) {
		LOG_ERR("%s: %u fds, at most %u expected", h->name, m->nfds,
			h->nfds);
		ret = -EINVAL;
	} else {
		LOG_TRACE("vhost-user %s size %u fds %u flags 0x%x", h->name,
			  m->hdr.size, m->nfds, m->hdr.flags);
		ret = h->fn(dev, m);
	}
	close_msg_fds(m);
	if (ret == H_REPLY)
		return send_reply(dev->sock, m);
	if (always_replies(req)) {
		/* A reply is due even on error: send a u64 failure. */
		reply_u64(m, req == VU_SET_DEVICE_STATE_FD ? XFER_REFUSED :
			     req == VU_CHECK_DEVICE_STATE ? 1 : 0);
		if (req == VU_GET_VRING_BASE) {
			m->p.state.num = 0;
			m->hdr.size = sizeof(m->p.state);
		}
		return send_reply(dev->sock, m);
	}
	if (need_reply) {
		reply_u64(m, ret < 0 ? 1 : 0);
		return send_reply(dev->sock, m);
	}
	return 0;
}

int vu_dev_serve(struct vu_dev *dev)
{
	struct vu_msg *m = malloc(sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	for (;;) {
		ret = recv_msg(dev->sock, m);
		if (ret <= 0)
			break;
		ret = handle(dev, m);
		if (ret) {
			LOG_ERR("sending reply: %s", strerror(-ret));
			break;
		}
	}
	free(m);
	if (ret == 0)
		LOG_INFO("front-end disconnected");
	return ret;
}
