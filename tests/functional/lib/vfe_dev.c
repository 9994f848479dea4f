/*
 * vfe_dev.c - the vhost-user device as QEMU drives it.
 */
#include "vfe_dev.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BIT(n) (1ull << (n))

int vfe_dev_init(struct vfe_dev *dev, const struct vfe_dev_opts *opts)
{
	struct vfe_dev_opts o = { 0 };
	uint64_t per;
	int r;

	memset(dev, 0, sizeof(*dev));
	dev->sock = -1;
	dev->log.fd = -1;
	for (unsigned i = 0; i < VFE_MAX_VQS; i++)
		dev->err_fd[i] = -1;
	if (opts)
		o = *opts;
	if (!o.nvqs)
		o.nvqs = 2;
	if (!o.queue_size)
		o.queue_size = 128;
	if (!o.ram_size)
		o.ram_size = 64ull << 20;
	if (!o.nregions)
		o.nregions = 1;
	if (!o.timeout_ms)
		o.timeout_ms = 5000;
	if (o.nvqs > VFE_MAX_VQS || o.nregions > VFE_MAX_REGIONS)
		return -EINVAL;
	dev->o = o;
	dev->timeout_ms = o.timeout_ms;
	dev->nvqs = o.nvqs;
	vfe_mem_init(&dev->mem);
	per = (o.ram_size / o.nregions) & ~(VFE_PAGE - 1);
	for (unsigned i = 0; i < o.nregions; i++) {
		r = vfe_mem_add_region(&dev->mem, o.ram_base + i * per, per,
				       o.mmap_offset);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < dev->nvqs; i++) {
		r = vfe_vring_init(&dev->vq[i], &dev->mem, i, o.queue_size);
		if (r)
			return r;
		dev->err_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (dev->err_fd[i] < 0)
			return -errno;
	}
	return 0;
}

void vfe_dev_destroy(struct vfe_dev *dev)
{
	if (dev->sock >= 0)
		close(dev->sock);
	dev->sock = -1;
	for (unsigned i = 0; i < dev->nvqs; i++) {
		vfe_vring_destroy(&dev->vq[i]);
		if (dev->err_fd[i] >= 0)
			close(dev->err_fd[i]);
		dev->err_fd[i] = -1;
	}
	if (dev->log.map)
		vfe_log_destroy(&dev->log);
	vfe_mem_destroy(&dev->mem);
}

bool vfe_dev_reply_ack(const struct vfe_dev *dev)
{
	return dev->acked_pfeatures & BIT(VU_PF_REPLY_ACK);
}

int vfe_dev_set(struct vfe_dev *dev, uint32_t req, bool ack,
		const void *payload, uint32_t size, const int *fds,
		unsigned nfds)
{
	bool need = ack && vfe_dev_reply_ack(dev);
	uint64_t v = 0;
	int r = vfe_msg_request(dev->sock, req, need, payload, size, fds, nfds,
				&v, dev->timeout_ms);

	if (r)
		return r;
	if (need && v != 0) {
		vfe_msg_set_error("%s was refused by the back-end (ack 0x%llx)",
				  vfe_req_name(req), (unsigned long long)v);
		return -EREMOTEIO;
	}
	return 0;
}

/* SET_VRING_CALL / SET_VRING_ERR / SET_VRING_KICK with an fd. */
static int set_vring_fd(struct vfe_dev *dev, uint32_t req, unsigned i, int fd)
{
	uint64_t v = i;

	if (fd < 0)
		v |= VU_VRING_NOFD;
	return vfe_dev_set(dev, req, false, &v, sizeof(v), fd >= 0 ? &fd : NULL,
			   fd >= 0 ? 1 : 0);
}

int vfe_dev_negotiate(struct vfe_dev *dev, int sock)
{
	uint64_t want = BIT(VU_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES);
	uint64_t pwant = BIT(VU_PF_MQ) | BIT(VU_PF_LOG_SHMFD) |
			 BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_RESET_DEVICE) |
			 BIT(VU_PF_CONFIGURE_MEM_SLOTS) | BIT(VU_PF_DEVICE_STATE);
	int r;

	dev->sock = sock;
	r = vfe_msg_get_u64(sock, VU_GET_FEATURES, &dev->features,
			    dev->timeout_ms);
	if (r)
		return r;
	if (!(dev->features & BIT(VU_F_PROTOCOL_FEATURES)) ||
	    !(dev->features & BIT(VU_F_VERSION_1))) {
		vfe_msg_set_error("GET_FEATURES 0x%llx lacks PROTOCOL_FEATURES or VERSION_1",
				  (unsigned long long)dev->features);
		return -EPROTO;
	}
	r = vfe_msg_get_u64(sock, VU_GET_PROTOCOL_FEATURES, &dev->pfeatures,
			    dev->timeout_ms);
	if (r)
		return r;
	if (dev->o.no_mem_slots)
		pwant &= ~BIT(VU_PF_CONFIGURE_MEM_SLOTS);
	if (dev->o.no_reply_ack)
		pwant &= ~BIT(VU_PF_REPLY_ACK);
	dev->acked_pfeatures = dev->pfeatures & pwant;
	r = vfe_dev_set(dev, VU_SET_PROTOCOL_FEATURES, false,
			&dev->acked_pfeatures, 8, NULL, 0);
	if (r)
		return r;
	if (dev->acked_pfeatures & BIT(VU_PF_MQ)) {
		r = vfe_msg_get_u64(sock, VU_GET_QUEUE_NUM, &dev->queue_num,
				    dev->timeout_ms);
		if (r)
			return r;
	}
	if (dev->acked_pfeatures & BIT(VU_PF_CONFIGURE_MEM_SLOTS)) {
		r = vfe_msg_get_u64(sock, VU_GET_MAX_MEM_SLOTS,
				    &dev->max_mem_slots, dev->timeout_ms);
		if (r)
			return r;
	}
	r = vfe_dev_set(dev, VU_SET_OWNER, false, NULL, 0, NULL, 0);
	if (r)
		return r;
	r = vfe_msg_get_u64(sock, VU_GET_FEATURES, &dev->features,
			    dev->timeout_ms);
	if (r)
		return r;
	if (!dev->o.no_indirect)
		want |= BIT(VU_F_RING_INDIRECT_DESC);
	if (!dev->o.no_event_idx)
		want |= BIT(VU_F_RING_EVENT_IDX);
	dev->acked_features = dev->features & want;
	for (unsigned i = 0; i < dev->nvqs; i++) {
		dev->vq[i].event_idx =
			dev->acked_features & BIT(VU_F_RING_EVENT_IDX);
		r = set_vring_fd(dev, VU_SET_VRING_CALL, i, dev->vq[i].call_fd);
		if (!r)
			r = set_vring_fd(dev, VU_SET_VRING_ERR, i, dev->err_fd[i]);
		if (r)
			return r;
	}
	if (!dev->o.no_reset &&
	    (dev->acked_pfeatures & BIT(VU_PF_RESET_DEVICE))) {
		r = vfe_dev_set(dev, VU_RESET_DEVICE, false, NULL, 0, NULL, 0);
		if (r)
			return r;
	}
	return 0;
}

int vfe_dev_set_features(struct vfe_dev *dev)
{
	uint64_t f = dev->acked_features;

	if (dev->logging)
		f |= BIT(VU_F_LOG_ALL);
	return vfe_dev_set(dev, VU_SET_FEATURES, dev->logging, &f, sizeof(f),
			   NULL, 0);
}

int vfe_dev_add_mem_reg(struct vfe_dev *dev, unsigned i)
{
	struct vu_mem_reg m = { .region = vfe_mem_region_desc(&dev->mem, i) };

	int r = vfe_dev_set(dev, VU_ADD_MEM_REG, true, &m, sizeof(m),
			    &dev->mem.r[i].fd, 1);

	if (!r)
		dev->mem_added[i] = true;
	return r;
}

int vfe_dev_rem_mem_reg(struct vfe_dev *dev, unsigned i)
{
	struct vu_mem_reg m = { .region = vfe_mem_region_desc(&dev->mem, i) };

	int r = vfe_dev_set(dev, VU_REM_MEM_REG, true, &m, sizeof(m), NULL, 0);

	if (!r)
		dev->mem_added[i] = false;
	return r;
}

int vfe_dev_set_mem(struct vfe_dev *dev)
{
	struct vu_mem_table t = { .nregions = dev->mem.n };
	int fds[VU_MAX_REGIONS];

	if (dev->acked_pfeatures & BIT(VU_PF_CONFIGURE_MEM_SLOTS)) {
		for (unsigned i = 0; i < dev->mem.n; i++) {
			int r = dev->mem_added[i] ? 0 : vfe_dev_add_mem_reg(dev, i);

			if (r)
				return r;
		}
		return 0;
	}
	for (unsigned i = 0; i < dev->mem.n; i++) {
		t.regions[i] = vfe_mem_region_desc(&dev->mem, i);
		fds[i] = dev->mem.r[i].fd;
	}
	/* Like QEMU: nregions + padding + one entry per region. */
	return vfe_dev_set(dev, VU_SET_MEM_TABLE, true, &t,
			   (uint32_t)(8 + dev->mem.n * sizeof(struct vu_region)),
			   fds, dev->mem.n);
}

int vfe_dev_set_vring_addr(struct vfe_dev *dev, unsigned i)
{
	struct vfe_vring *vr = &dev->vq[i];
	struct vu_vring_addr a = {
		.index = i,
		.flags = dev->vring_flags,
		.log_guest_addr = vr->used_gpa,
	};

	vfe_vring_user_addrs(vr, &a.desc_user_addr, &a.avail_user_addr,
			     &a.used_user_addr);
	return vfe_dev_set(dev, VU_SET_VRING_ADDR,
			   dev->vring_flags & VU_VRING_F_LOG, &a, sizeof(a),
			   NULL, 0);
}

int vfe_dev_setup_ring(struct vfe_dev *dev, unsigned i)
{
	struct vu_vring_state s = { .index = i, .num = dev->vq[i].num };
	int r;

	r = vfe_dev_set(dev, VU_SET_VRING_NUM, false, &s, sizeof(s), NULL, 0);
	if (r)
		return r;
	s.num = dev->base[i];
	r = vfe_dev_set(dev, VU_SET_VRING_BASE, false, &s, sizeof(s), NULL, 0);
	if (!r)
		r = vfe_dev_set_vring_addr(dev, i);
	if (!r)
		r = set_vring_fd(dev, VU_SET_VRING_KICK, i, dev->vq[i].kick_fd);
	if (!r)
		r = set_vring_fd(dev, VU_SET_VRING_CALL, i, dev->vq[i].call_fd);
	return r;
}

int vfe_dev_enable_ring(struct vfe_dev *dev, unsigned i, bool on)
{
	struct vu_vring_state s = { .index = i, .num = on };

	return vfe_dev_set(dev, VU_SET_VRING_ENABLE, true, &s, sizeof(s),
			   NULL, 0);
}

int vfe_dev_get_vring_base(struct vfe_dev *dev, unsigned i, uint16_t *base)
{
	struct vu_vring_state s = { .index = i, .num = 0 };
	int r = vfe_msg_send(dev->sock, VU_GET_VRING_BASE, 0, &s, sizeof(s),
			     NULL, 0);

	if (r)
		return r;
	r = vfe_msg_recv_reply(dev->sock, VU_GET_VRING_BASE, &s, sizeof(s),
			       dev->timeout_ms);
	if (r)
		return r;
	if (s.index != i || s.num > 0xffff) {
		vfe_msg_set_error("GET_VRING_BASE(%u) replied {index %u, num %u}",
				  i, s.index, s.num);
		return -EPROTO;
	}
	if (i < VFE_MAX_VQS)
		dev->base[i] = (uint16_t)s.num;
	if (base)
		*base = (uint16_t)s.num;
	return 0;
}

int vfe_dev_start(struct vfe_dev *dev)
{
	int r = vfe_dev_set_features(dev);

	if (!r)
		r = vfe_dev_set_mem(dev);
	for (unsigned i = 0; !r && i < dev->nvqs; i++)
		r = vfe_dev_setup_ring(dev, i);
	if (!r && dev->logging) {
		struct vu_log l = { .mmap_size = dev->log.size,
				    .mmap_offset = dev->log.offset };

		r = vfe_msg_send(dev->sock, VU_SET_LOG_BASE, 0, &l, sizeof(l),
				 &dev->log.fd, 1);
		if (!r)
			r = vfe_msg_recv_reply(dev->sock, VU_SET_LOG_BASE, NULL,
					       8, dev->timeout_ms);
	}
	for (unsigned i = 0; !r && i < dev->nvqs; i++)
		r = vfe_dev_enable_ring(dev, i, true);
	if (!r)
		dev->started = true;
	return r;
}

int vfe_dev_stop(struct vfe_dev *dev, uint16_t *bases)
{
	int r = 0;

	for (unsigned i = 0; !r && i < dev->nvqs; i++)
		r = vfe_dev_enable_ring(dev, i, false);
	for (unsigned i = 0; !r && i < dev->nvqs; i++)
		r = vfe_dev_get_vring_base(dev, i, bases ? &bases[i] : NULL);
	if (!r)
		dev->started = false;
	return r;
}

int vfe_dev_reset(struct vfe_dev *dev)
{
	int r = vfe_dev_set(dev, VU_RESET_DEVICE, false, NULL, 0, NULL, 0);

	if (r)
		return r;
	dev->started = false;
	for (unsigned i = 0; i < dev->nvqs; i++) {
		vfe_vring_reset(&dev->vq[i], 0);
		dev->base[i] = 0;
	}
	return 0;
}

int vfe_dev_log_start(struct vfe_dev *dev)
{
	struct vu_log l;
	uint64_t v = ~0ull;
	int r;

	if (!dev->log.map) {
		r = vfe_log_create(&dev->log, vfe_mem_top(&dev->mem), 0);
		if (r)
			return r;
	}
	l.mmap_size = dev->log.size;
	l.mmap_offset = dev->log.offset;
	r = vfe_msg_send(dev->sock, VU_SET_LOG_BASE, 0, &l, sizeof(l),
			 &dev->log.fd, 1);
	if (!r)
		r = vfe_msg_recv_reply(dev->sock, VU_SET_LOG_BASE, &v, 8,
				       dev->timeout_ms);
	if (r)
		return r;
	if (v != 0) {
		vfe_msg_set_error("SET_LOG_BASE replied 0x%llx", (unsigned long long)v);
		return -EREMOTEIO;
	}
	dev->logging = true;
	r = vfe_dev_set_features(dev);
	if (r)
		return r;
	dev->vring_flags |= VU_VRING_F_LOG;
	for (unsigned i = 0; !r && i < dev->nvqs; i++)
		r = vfe_dev_set_vring_addr(dev, i);
	return r;
}

int vfe_dev_log_prepare(struct vfe_dev *dev)
{
	if (!dev->log.map) {
		int r = vfe_log_create(&dev->log, vfe_mem_top(&dev->mem), 0);

		if (r)
			return r;
	}
	dev->logging = true;
	dev->vring_flags |= VU_VRING_F_LOG;
	return 0;
}

int vfe_dev_log_stop(struct vfe_dev *dev)
{
	int r;

	dev->logging = false;
	r = vfe_dev_set_features(dev);
	dev->vring_flags &= ~VU_VRING_F_LOG;
	for (unsigned i = 0; !r && i < dev->nvqs; i++)
		r = vfe_dev_set_vring_addr(dev, i);
	return r;
}
