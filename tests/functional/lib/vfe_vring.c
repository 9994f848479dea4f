/*
 * vfe_vring.c - the driver side of a virtio split ring in guest RAM.
 */
#include "vfe_vring.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The 16-bit event fields that follow the two rings. */
static volatile uint16_t *used_event_ptr(struct vfe_vring *vr)
{
	return &vr->avail->ring[vr->num];
}

static volatile uint16_t *avail_event_ptr(struct vfe_vring *vr)
{
	return (volatile uint16_t *)&vr->used->ring[vr->num];
}

uint64_t vfe_vring_mem_size(uint16_t num)
{
	uint64_t desc = ((uint64_t)num * 16 + VFE_PAGE - 1) & ~(VFE_PAGE - 1);
	uint64_t avail = (6 + 2 * (uint64_t)num + VFE_PAGE - 1) & ~(VFE_PAGE - 1);
	uint64_t used = (6 + 8 * (uint64_t)num + VFE_PAGE - 1) & ~(VFE_PAGE - 1);

	return desc + avail + used +
	       (uint64_t)num * VFE_MAX_INDIRECT * sizeof(struct vring_desc);
}

int vfe_vring_init(struct vfe_vring *vr, struct vfe_mem *mem, unsigned index,
		   uint16_t num)
{
	int r;

	memset(vr, 0, sizeof(*vr));
	vr->kick_fd = vr->call_fd = -1;
	if (!num || (num & (num - 1)))
		return -EINVAL;
	vr->mem = mem;
	vr->index = index;
	vr->num = num;
	/* Each ring on its own pages: dirty-log tests tell them apart. */
	r = vfe_mem_zalloc(mem, (uint64_t)num * 16, VFE_PAGE, &vr->desc_gpa);
	if (!r)
		r = vfe_mem_zalloc(mem, 6 + 2 * (uint64_t)num, VFE_PAGE,
				   &vr->avail_gpa);
	if (!r)
		r = vfe_mem_zalloc(mem, 6 + 8 * (uint64_t)num, VFE_PAGE,
				   &vr->used_gpa);
	if (!r)
		r = vfe_mem_zalloc(mem, (uint64_t)num * VFE_MAX_INDIRECT *
				   sizeof(struct vring_desc), VFE_PAGE,
				   &vr->ind_gpa);
	if (r)
		return r;
	vr->desc = vfe_mem_ptr(mem, vr->desc_gpa, (uint64_t)num * 16);
	vr->avail = vfe_mem_ptr(mem, vr->avail_gpa, 6 + 2 * (uint64_t)num);
	vr->used = vfe_mem_ptr(mem, vr->used_gpa, 6 + 8 * (uint64_t)num);
	vr->heads = calloc(num, sizeof(*vr->heads));
	if (!vr->heads)
		return -ENOMEM;
	vr->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vr->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->kick_fd < 0 || vr->call_fd < 0) {
		r = -errno;
		vfe_vring_destroy(vr);
		return r;
	}
	vfe_vring_reset(vr, 0);
	return 0;
}

void vfe_vring_destroy(struct vfe_vring *vr)
{
	if (vr->kick_fd >= 0)
		close(vr->kick_fd);
	if (vr->call_fd >= 0)
		close(vr->call_fd);
	vr->kick_fd = vr->call_fd = -1;
	free(vr->heads);
	vr->heads = NULL;
}

void vfe_vring_reset(struct vfe_vring *vr, uint16_t base)
{
	memset(vr->desc, 0, (size_t)vr->num * 16);
	memset(vr->avail, 0, 6 + 2 * (size_t)vr->num);
	memset(vr->used, 0, 6 + 8 * (size_t)vr->num);
	memset(vr->heads, 0, (size_t)vr->num * sizeof(*vr->heads));
	for (unsigned i = 0; i < vr->num; i++)
		vr->desc[i].next = (uint16_t)((i + 1) % vr->num);
	vr->free_head = 0;
	vr->num_free = vr->num;
	vr->avail_idx = vr->kicked_idx = vr->last_used = base;
	vr->avail->idx = base;
	vr->used->idx = base;
}

void vfe_vring_user_addrs(const struct vfe_vring *vr, uint64_t *desc,
			  uint64_t *avail, uint64_t *used)
{
	*desc = vfe_mem_uaddr(vr->mem, vr->desc_gpa);
	*avail = vfe_mem_uaddr(vr->mem, vr->avail_gpa);
	*used = vfe_mem_uaddr(vr->mem, vr->used_gpa);
}

uint64_t vfe_vring_indirect_gpa(const struct vfe_vring *vr, uint16_t head)
{
	return vr->ind_gpa +
	       (uint64_t)head * VFE_MAX_INDIRECT * sizeof(struct vring_desc);
}

/* Pop one descriptor off the free list. */
static uint16_t take_one(struct vfe_vring *vr)
{
	uint16_t id = vr->free_head;

	vr->free_head = vr->desc[id].next;
	vr->num_free--;
	return id;
}

/* Put head into the next avail slot and publish the new avail idx. */
static void publish(struct vfe_vring *vr, uint16_t head)
{
	vr->avail->ring[vr->avail_idx % vr->num] = head;
	vr->avail_idx++;
	__atomic_store_n(&vr->avail->idx, vr->avail_idx, __ATOMIC_RELEASE);
}

int vfe_vring_add(struct vfe_vring *vr, const struct vfe_sg *sg,
		  unsigned n_out, unsigned n_in, bool indirect, void *cookie)
{
	unsigned n = n_out + n_in;
	uint16_t head, prev = 0, id;

	if (!n)
		return -EINVAL;
	if (indirect) {
		struct vring_desc *t;

		if (n > VFE_MAX_INDIRECT)
			return -EINVAL;
		if (!vr->num_free)
			return -ENOSPC;
		head = take_one(vr);
		t = vfe_mem_ptr(vr->mem, vfe_vring_indirect_gpa(vr, head),
				(uint64_t)n * sizeof(*t));
		for (unsigned i = 0; i < n; i++) {
			t[i].addr = sg[i].gpa;
			t[i].len = sg[i].len;
			t[i].flags = (uint16_t)((i >= n_out ? VRING_DESC_F_WRITE : 0) |
				     (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			t[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
		}
		vr->desc[head].addr = vfe_vring_indirect_gpa(vr, head);
		vr->desc[head].len = n * (uint32_t)sizeof(*t);
		vr->desc[head].flags = VRING_DESC_F_INDIRECT;
		vr->heads[head] = (struct vfe_head_info){
			.cookie = cookie, .ndesc = 1, .busy = true,
		};
		publish(vr, head);
		return head;
	}
	if (n > vr->num_free)
		return -ENOSPC;
	head = vr->free_head;
	for (unsigned i = 0; i < n; i++) {
		id = take_one(vr);
		if (i)
			vr->desc[prev].next = id;
		vr->desc[id].addr = sg[i].gpa;
		vr->desc[id].len = sg[i].len;
		vr->desc[id].flags = (uint16_t)((i >= n_out ? VRING_DESC_F_WRITE : 0) |
				     (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		prev = id;
	}
	/* Keep the free list linked through the last descriptor's next. */
	vr->heads[head] = (struct vfe_head_info){
		.cookie = cookie, .ndesc = (uint16_t)n, .busy = true,
	};
	publish(vr, head);
	return head;
}

int vfe_vring_take(struct vfe_vring *vr, unsigned n, uint16_t *ids)
{
	if (n > vr->num_free)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++)
		ids[i] = take_one(vr);
	return 0;
}

void vfe_vring_publish(struct vfe_vring *vr, uint16_t head, void *cookie)
{
	vr->heads[head] = (struct vfe_head_info){
		.cookie = cookie, .ndesc = 0, .busy = true, .raw = true,
	};
	publish(vr, head);
}

bool vfe_vring_kick(struct vfe_vring *vr)
{
	uint16_t old = vr->kicked_idx, new = vr->avail_idx;
	bool need;
	uint64_t one = 1;

	/* Publish avail->idx before reading the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vr->kicked_idx = new;
	if (vr->force_kick)
		need = true;
	else if (vr->event_idx)
		need = vring_need_event(*avail_event_ptr(vr), new, old);
	else
		need = !(__atomic_load_n(&vr->used->flags, __ATOMIC_ACQUIRE) &
			 VRING_USED_F_NO_NOTIFY);
	if (!need)
		return false;
	if (write(vr->kick_fd, &one, sizeof(one)) == sizeof(one))
		vr->kicks++;
	return true;
}

uint16_t vfe_vring_used_idx(const struct vfe_vring *vr)
{
	return __atomic_load_n(&vr->used->idx, __ATOMIC_ACQUIRE);
}

uint16_t vfe_vring_avail_event(struct vfe_vring *vr)
{
	return __atomic_load_n(avail_event_ptr(vr), __ATOMIC_ACQUIRE);
}

bool vfe_vring_has_used(struct vfe_vring *vr)
{
	return vfe_vring_used_idx(vr) != vr->last_used;
}

int vfe_vring_get_used(struct vfe_vring *vr, uint32_t *len, void **cookie)
{
	struct vring_used_elem e;
	struct vfe_head_info *h;
	uint16_t id;

	if (!vfe_vring_has_used(vr))
		return -EAGAIN;
	e = vr->used->ring[vr->last_used % vr->num];
	if (e.id >= vr->num || !vr->heads[e.id].busy) {
		vfe_msg_set_error("vring %u: used entry %u has id %u which is not in flight",
				  vr->index, vr->last_used, e.id);
		vr->last_used++;
		return -EPROTO;
	}
	vr->last_used++;
	h = &vr->heads[e.id];
	if (len)
		*len = e.len;
	if (cookie)
		*cookie = h->cookie;
	if (!h->raw) {
		/* Return the chain to the free list. */
		id = (uint16_t)e.id;
		for (unsigned i = 1; i < h->ndesc; i++)
			id = vr->desc[id].next;
		vr->desc[id].next = vr->free_head;
		vr->free_head = (uint16_t)e.id;
		vr->num_free += h->ndesc;
	}
	h->busy = false;
	return (int)e.id;
}

bool vfe_vring_drain_call(struct vfe_vring *vr)
{
	uint64_t v;

	if (read(vr->call_fd, &v, sizeof(v)) == sizeof(v)) {
		vr->notifies += v;
		return true;
	}
	return false;
}

void vfe_vring_arm(struct vfe_vring *vr)
{
	if (vr->event_idx) {
		*used_event_ptr(vr) = vr->last_used;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
}

int vfe_vring_wait(struct vfe_vring *vr, int timeout_ms)
{
	int64_t deadline = vfe_now_ms() + timeout_ms;

	vfe_vring_arm(vr);
	for (;;) {
		struct pollfd pfd = { .fd = vr->call_fd, .events = POLLIN };
		int64_t left;
		int r;

		if (vfe_vring_has_used(vr)) {
			vfe_vring_drain_call(vr);
			return 0;
		}
		left = deadline - vfe_now_ms();
		if (left <= 0)
			break;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			vfe_vring_drain_call(vr);
	}
	if (vfe_vring_has_used(vr)) {
		/* Grace period: the call may trail the used-idx write. */
		struct pollfd pfd = { .fd = vr->call_fd, .events = POLLIN };

		if (poll(&pfd, 1, 100) > 0 && vfe_vring_drain_call(vr))
			return 0;
		vfe_msg_set_error("vring %u: used idx %u advanced but no call notification came",
				  vr->index, vfe_vring_used_idx(vr));
		return -ENOMSG;
	}
	vfe_msg_set_error("vring %u: no used entry within %d ms (used idx %u, avail idx %u)",
			  vr->index, timeout_ms, vfe_vring_used_idx(vr),
			  vr->avail_idx);
	return -ETIMEDOUT;
}

unsigned vfe_vring_in_flight(const struct vfe_vring *vr)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vr->num; i++)
		n += vr->heads[i].busy;
	return n;
}
