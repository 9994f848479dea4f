/*
 * vq.c - split virtqueue processing (device side).
 *
 * Syscalls: write, close.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <endian.h>

#include "log.h"
#include "vq.h"
#include "vu_log.h"
#include "vu_mem.h"

int vq_init(struct vq *vq, struct vu_dev *dev, unsigned index,
	    const struct vu_log *log, const atomic_bool *log_on)
{
	memset(vq, 0, sizeof(*vq));
	vq->dev = dev;
	vq->index = index;
	vq->log = log;
	vq->log_on = log_on;
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
	vq->ctl_fd = -1;   /* created when the ring first starts */
	pthread_mutex_init(&vq->call_lock, NULL);
	pthread_mutex_init(&vq->push_lock, NULL);
	pthread_cond_init(&vq->drained, NULL);
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vq_destroy(struct vq *vq)
{
	close_fd(&vq->kick_fd);
	close_fd(&vq->call_fd);
	close_fd(&vq->err_fd);
	close_fd(&vq->ctl_fd);
	pthread_mutex_destroy(&vq->call_lock);
	pthread_mutex_destroy(&vq->push_lock);
	pthread_cond_destroy(&vq->drained);
	if (vq->worker)
		fuse_worker_free(vq->worker);
	vq->worker = NULL;
	free(vq->elem);
	vq->elem = NULL;
}

int vq_map(struct vq *vq, const struct vu_mem *mem)
{
	uint64_t n = vq->num;

	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	if (!vq->addr_set || n == 0)
		return 0;
	/* Include the event index fields whether or not EVENT_IDX is on. */
	vq->desc = vu_mem_uva(mem, vq->desc_uaddr, 16 * n);
	vq->avail = vu_mem_uva(mem, vq->avail_uaddr, 4 + 2 * n + 2);
	vq->used = vu_mem_uva(mem, vq->used_uaddr, 4 + 8 * n + 2);
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return -EFAULT;
	}
	/* The alignments the virtio spec requires of the split ring (2.7):
	 * every field is then accessed at its natural alignment. */
	if ((uintptr_t)vq->desc % 16 || (uintptr_t)vq->avail % 2 ||
	    (uintptr_t)vq->used % 4) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Read a 16-bit field of guest memory exactly once. */
static inline uint16_t guest_u16(const volatile uint16_t *p)
{
	return le16toh(*p);
}

/*
 * Append the guest buffer [addr, addr+len) (len > 0) to iov, whose first
 * *num entries are taken, splitting it where it crosses regions; gpa (NULL
 * for the readable side) receives each piece's guest address.  Returns 0,
 * -EFAULT (not entirely in guest memory) or -E2BIG (more than FV_MAX_IOV
 * pieces).  The general case of map_buf(), out of line.
 */
static __attribute__((noinline)) int map_buf_split(struct vq *vq,
						   const struct vu_mem *mem,
						   struct iovec *iov,
						   uint64_t *gpa,
						   unsigned *num,
						   uint64_t addr, uint32_t len)
{
	uint64_t left = len;
	unsigned k = *num;

	if (addr + len < addr)
		return -EFAULT;
	do {
		uint64_t chunk = left;
		void *p = vu_mem_gpa_hint(mem, &vq->mem_hint, addr, &chunk);

		if (!p)
			return -EFAULT;
		if (k >= FV_MAX_IOV)
			return -E2BIG;
		iov[k].iov_base = p;
		iov[k].iov_len = chunk;
		if (gpa)
			gpa[k] = addr;
		k++;
		addr += chunk;
		left -= chunk;
	} while (left);
	*num = k;
	return 0;
}

/*
 * map_buf_split() with the usual case inline: the whole buffer in the
 * region of the previous descriptor, one segment.  Same arguments and
 * return.
 */
static inline int map_buf(struct vq *vq, const struct vu_mem *mem,
			  struct iovec *iov, uint64_t *gpa, unsigned *num,
			  uint64_t addr, uint32_t len)
{
	unsigned k = *num;
	void *p = vu_mem_range_hinted(mem, vq->mem_hint, addr, len);

	if (__builtin_expect(p && k < FV_MAX_IOV, 1)) {
		iov[k].iov_base = p;
		iov[k].iov_len = len;
		if (gpa)
			gpa[k] = addr;
		*num = k + 1;
		return 0;
	}
	return map_buf_split(vq, mem, iov, gpa, num, addr, len);
}

/*
 * Copy descriptor i of a table of n entries out of guest memory: each
 * field is loaded exactly once (volatile), the checks use only the copy.
 */
static inline int read_desc(const struct vring_desc *table, unsigned n,
			    unsigned i, struct vring_desc *d)
{
	const volatile struct vring_desc *g;

	if (i >= n)
		return -EINVAL;
	g = &table[i];
	d->addr = le64toh(g->addr);
	d->len = le32toh(g->len);
	d->flags = le16toh(g->flags);
	d->next = le16toh(g->next);
	return 0;
}

/*
 * Check an indirect descriptor d met as descriptor number count of its
 * chain (nested: already inside a table) and translate its table into
 * *table and *n entries.  Returns 0, or -EINVAL / -EFAULT with *why set.
 */
static int indirect_table(struct vq *vq, const struct vu_mem *mem,
			  const struct vring_desc *d, unsigned count,
			  bool nested, const struct vring_desc **table,
			  unsigned *n, const char **why)
{
	uint64_t len = d->len;

	if (!vq->indirect) {
		*why = "indirect descriptor not negotiated";
		return -EINVAL;
	}
	if (nested) {
		*why = "nested indirect table";
		return -EINVAL;
	}
	if (count != 1 || (d->flags & VRING_DESC_F_NEXT)) {
		*why = "indirect descriptor not alone in its chain";
		return -EINVAL;
	}
	if (len == 0 || len % sizeof(struct vring_desc) ||
	    len / sizeof(struct vring_desc) > VQ_MAX_SIZE) {
		*why = "bad indirect table length";
		return -EINVAL;
	}
	*table = vu_mem_range_hinted(mem, vq->mem_hint, d->addr, len);
	if (*table)
		goto found;
	*table = vu_mem_gpa_hint(mem, &vq->mem_hint, d->addr, &len);
	if (!*table || len != d->len) {
		*why = "indirect table outside guest memory";
		return -EFAULT;
	}
found:
	*n = d->len / sizeof(struct vring_desc);
	return 0;
}

/*
 * Walk one chain starting at head (< vq->num) into elem.  Returns 0 or a
 * negative errno describing why the chain is malformed.
 *
 * Every descriptor is checked as it is met: its index against its table,
 * the chain length against the table size (loops), the flags (indirect
 * only alone, once, when negotiated; no readable after a writable one),
 * and its buffer against guest memory.  The segment counts live in locals
 * and reach elem once, at the end.
 */
static int walk_chain(struct vq *vq, const struct vu_mem *mem, unsigned head,
		      struct vq_elem *elem, const char **why)
{
	const struct vring_desc *table = vq->desc;
	unsigned n = vq->num, i = head, count = 0;
	unsigned out_num = 0, in_num = 0;
	bool in_indirect = false, seen_in = false;
	struct vring_desc d;
	int ret;

	for (;;) {
		if (read_desc(table, n, i, &d)) {
			*why = "descriptor index out of range";
			return -EINVAL;
		}
		if (++count > n) {
			*why = "descriptor loop or chain longer than the table";
			return -ELOOP;
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			ret = indirect_table(vq, mem, &d, count, in_indirect,
					     &table, &n, why);
			if (ret)
				return ret;
			in_indirect = true;
			count = 0;
			i = 0;
			continue;
		}
		if (d.flags & VRING_DESC_F_WRITE) {
			seen_in = true;
			ret = d.len ? map_buf(vq, mem, elem->in, elem->in_gpa,
					      &in_num, d.addr, d.len) : 0;
		} else if (seen_in) {
			*why = "driver-readable descriptor after a writable one";
			return -EINVAL;
		} else {
			ret = d.len ? map_buf(vq, mem, elem->out, NULL,
					      &out_num, d.addr, d.len) : 0;
		}
		if (__builtin_expect(ret, 0)) {
			*why = ret == -E2BIG ? "too many segments" :
					       "buffer outside guest memory";
			return ret;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
	}
	elem->head = head;
	elem->out_num = out_num;
	elem->in_num = in_num;
	return 0;
}

/*
 * Is dirty logging on?  Read after the guest-memory writes it covers (the
 * fence orders them): a write made after logging was switched on is then
 * always marked; one made just before may be marked too, which is harmless.
 */
static bool log_is_on(const struct vq *vq)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return atomic_load(vq->log_on);
}

/* Write a used entry and bump used->idx (not logged); returns the slot. */
static unsigned write_used(struct vq *vq, unsigned head, uint32_t len)
{
	unsigned slot = vq->used_idx & (vq->num - 1);
	struct vring_used_elem *ue = &vq->used->ring[slot];

	ue->id = htole32(head);
	ue->len = htole32(len);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vq->used_idx++;
	*(volatile uint16_t *)&vq->used->idx = htole16(vq->used_idx);
	return slot;
}

/* Mark used entry slot and used->idx in the dirty log (logging is on). */
static void log_used(struct vq *vq, unsigned slot)
{
	if (!(vq->addr_flags & VU_VRING_F_LOG_FLAG))
		return;
	vu_log_write(vq->log, vq->log_guest_addr +
			      offsetof(struct vring_used, ring) +
			      slot * sizeof(struct vring_used_elem),
		     sizeof(struct vring_used_elem));
	vu_log_write(vq->log, vq->log_guest_addr +
			      offsetof(struct vring_used, idx), 2);
}

/* Write a used entry and bump used->idx; log both when logging is on. */
static void put_used(struct vq *vq, unsigned head, uint32_t len)
{
	unsigned slot = write_used(vq, head, len);

	if (log_is_on(vq))
		log_used(vq, slot);
}

int vq_pop(struct vq *vq, const struct vu_mem *mem, struct vq_elem *elem)
{
	uint16_t avail_idx, pending;
	unsigned head;
	const char *why = "";
	int ret;

	if (vq->broken || !vq->avail)
		return -EIO;
	avail_idx = guest_u16(&vq->avail->idx);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0)
		return 0;
	if (pending > vq->num) {
		LOG_ERR("queue %u: avail index %u is %u ahead of %u (size %u)",
			vq->index, avail_idx, pending, vq->last_avail_idx,
			vq->num);
		vq->broken = true;
		vq_signal_error(vq);
		return -EIO;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = guest_u16(&vq->avail->ring[vq->last_avail_idx &
					  (vq->num - 1)]);
	vq->last_avail_idx++;
	if (head >= vq->num) {
		LOG_ERR("queue %u: head %u out of range (size %u), skipped",
			vq->index, head, vq->num);
		return -EINVAL;
	}
	ret = walk_chain(vq, mem, head, elem, &why);
	if (ret) {
		LOG_ERR("queue %u: malformed chain at head %u: %s; returned empty",
			vq->index, head, why);
		put_used(vq, head, 0);
		return ret;
	}
	return 1;
}

void vq_push(struct vq *vq, const struct vq_elem *elem, uint32_t len)
{
	uint64_t left = len;
	unsigned slot = write_used(vq, elem->head, len);

	/* One look at the flag, after both the reply and the used entry. */
	if (!log_is_on(vq))
		return;
	log_used(vq, slot);
	for (unsigned i = 0; i < elem->in_num && left; i++) {
		uint64_t n = elem->in[i].iov_len < left ?
			     elem->in[i].iov_len : left;

		vu_log_write(vq->log, elem->in_gpa[i], n);
		left -= n;
	}
}

/* Our avail_event field, after the used ring. */
static volatile uint16_t *avail_event(struct vq *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->num];
}

bool vq_enable_kick_and_recheck(struct vq *vq)
{
	if (vq->broken || !vq->avail)
		return false;
	/* Write (and dirty) the field only when it changes. */
	if (vq->event_idx &&
	    le16toh(*avail_event(vq)) != vq->last_avail_idx) {
		*avail_event(vq) = htole16(vq->last_avail_idx);
		if (log_is_on(vq) && (vq->addr_flags & VU_VRING_F_LOG_FLAG))
			vu_log_write(vq->log, vq->log_guest_addr +
					  offsetof(struct vring_used, ring) +
					  vq->num * sizeof(struct vring_used_elem),
				     2);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return guest_u16(&vq->avail->idx) != vq->last_avail_idx;
}

/* Should the driver be interrupted for the entries pushed so far? */
static bool need_notify(struct vq *vq)
{
	uint16_t old, new, event;
	bool valid;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(guest_u16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->used_idx;
	if (valid && old == new)
		return false;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	event = guest_u16(&vq->avail->ring[vq->num]);
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

void vq_notify(struct vq *vq)
{
	static const uint64_t one = 1;

	if (!vq->avail || !need_notify(vq))
		return;
	pthread_mutex_lock(&vq->call_lock);
	if (vq->call_fd >= 0 && write(vq->call_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		LOG_WARN("queue %u: call eventfd: %m", vq->index);
	pthread_mutex_unlock(&vq->call_lock);
}

void vq_signal_error(struct vq *vq)
{
	static const uint64_t one = 1;

	pthread_mutex_lock(&vq->call_lock);
	if (vq->err_fd >= 0 && write(vq->err_fd, &one, sizeof(one)) < 0)
		LOG_WARN("queue %u: error eventfd: %m", vq->index);
	pthread_mutex_unlock(&vq->call_lock);
}
