/*
 * vfe_msg.c - vhost-user messages over a UNIX socket, front-end side.
 */
#include "vfe_msg.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static __thread char last_error[512];

const char *vfe_msg_last_error(void)
{
	return last_error;
}

void vfe_msg_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

int64_t vfe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *vfe_req_name(uint32_t req)
{
	static const char *const names[] = {
		[VU_GET_FEATURES] = "GET_FEATURES",
		[VU_SET_FEATURES] = "SET_FEATURES",
		[VU_SET_OWNER] = "SET_OWNER",
		[VU_RESET_OWNER] = "RESET_OWNER",
		[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VU_SET_LOG_BASE] = "SET_LOG_BASE",
		[VU_SET_LOG_FD] = "SET_LOG_FD",
		[VU_SET_VRING_NUM] = "SET_VRING_NUM",
		[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VU_SET_VRING_BASE] = "SET_VRING_BASE",
		[VU_GET_VRING_BASE] = "GET_VRING_BASE",
		[VU_SET_VRING_KICK] = "SET_VRING_KICK",
		[VU_SET_VRING_CALL] = "SET_VRING_CALL",
		[VU_SET_VRING_ERR] = "SET_VRING_ERR",
		[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
		[VU_GET_CONFIG] = "GET_CONFIG",
		[VU_SET_CONFIG] = "SET_CONFIG",
		[VU_RESET_DEVICE] = "RESET_DEVICE",
		[VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
		[VU_ADD_MEM_REG] = "ADD_MEM_REG",
		[VU_REM_MEM_REG] = "REM_MEM_REG",
		[VU_SET_STATUS] = "SET_STATUS",
		[VU_GET_STATUS] = "GET_STATUS",
		[VU_SET_DEVICE_STATE_FD] = "SET_DEVICE_STATE_FD",
		[VU_CHECK_DEVICE_STATE] = "CHECK_DEVICE_STATE",
	};

	if (req < sizeof(names) / sizeof(names[0]) && names[req])
		return names[req];
	return "?";
}

int vfe_msg_send_raw(int sock, const void *buf, size_t len,
		     const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > VU_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len) {
		/* A UNIX stream socket sends small messages whole; finish
		 * the rest without fds should it ever split. */
		const char *p = (const char *)buf + n;
		size_t left = len - (size_t)n;

		while (left) {
			n = send(sock, p, left, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			p += n;
			left -= (size_t)n;
		}
	}
	return 0;
}

int vfe_msg_send(int sock, uint32_t req, uint32_t extra_flags,
		 const void *payload, uint32_t size,
		 const int *fds, unsigned nfds)
{
	uint8_t buf[sizeof(struct vu_hdr) + VU_MAX_PAYLOAD];
	struct vu_hdr h = {
		.request = req, .flags = VU_VERSION | extra_flags, .size = size,
	};

	if (size > VU_MAX_PAYLOAD)
		return -EINVAL;
	/* struct vu_msg has padding after the 12-byte header: flatten. */
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	return vfe_msg_send_raw(sock, buf, sizeof(h) + size, fds, nfds);
}

/* Wait for input until the deadline. 0 readable, -ETIMEDOUT, -errno. */
static int wait_readable(int sock, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		int64_t left = deadline - vfe_now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

/* Read exactly len bytes (no fds) before the deadline. */
static int read_full(int sock, void *buf, size_t len, int64_t deadline)
{
	char *p = buf;

	while (len) {
		ssize_t n;
		int r = wait_readable(sock, deadline);

		if (r)
			return r;
		n = recv(sock, p, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vfe_msg_recv(int sock, struct vu_msg *m, int *fds, unsigned *nfds,
		 int timeout_ms)
{
	int64_t deadline = vfe_now_ms() + timeout_ms;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	unsigned got = 0;
	ssize_t n;
	int r;

	if (nfds)
		*nfds = 0;
	r = wait_readable(sock, deadline);
	if (r) {
		if (r == -ETIMEDOUT)
			vfe_msg_set_error("no message from the back-end within %d ms",
					  timeout_ms);
		return r;
	}
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		vfe_msg_set_error("back-end closed the connection");
		return -ECONNRESET;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *in = (int *)CMSG_DATA(c);

		for (unsigned i = 0; i < cnt; i++) {
			if (fds && nfds && got < VU_MAX_FDS)
				fds[got++] = in[i];
			else
				close(in[i]);
		}
	}
	if (nfds)
		*nfds = got;
	if ((size_t)n < sizeof(m->hdr)) {
		r = read_full(sock, (char *)&m->hdr + n,
			      sizeof(m->hdr) - (size_t)n, deadline);
		if (r) {
			vfe_msg_set_error("short message header (%zd bytes)", n);
			return r == -ETIMEDOUT ? -EPROTO : r;
		}
	}
	if (m->hdr.size > VU_MAX_PAYLOAD) {
		vfe_msg_set_error("reply to %s: payload size %u exceeds %u",
				  vfe_req_name(m->hdr.request), m->hdr.size,
				  VU_MAX_PAYLOAD);
		return -EPROTO;
	}
	r = read_full(sock, m->p.raw, m->hdr.size, deadline);
	if (r) {
		vfe_msg_set_error("message %s: payload of %u bytes incomplete",
				  vfe_req_name(m->hdr.request), m->hdr.size);
		return r == -ETIMEDOUT ? -EPROTO : r;
	}
	return 0;
}

int vfe_msg_recv_reply(int sock, uint32_t req, void *payload,
		       uint32_t expect_size, int timeout_ms)
{
	struct vu_msg m;
	int fds[VU_MAX_FDS];
	unsigned nfds = 0;
	int r = vfe_msg_recv(sock, &m, fds, &nfds, timeout_ms);

	if (r) {
		if (r == -ETIMEDOUT)
			vfe_msg_set_error("no reply to %s within %d ms",
					  vfe_req_name(req), timeout_ms);
		else if (r == -ECONNRESET)
			vfe_msg_set_error("back-end closed the connection instead of replying to %s",
					  vfe_req_name(req));
		return r;
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (m.hdr.flags != VU_REPLY_FLAGS) {
		vfe_msg_set_error("reply to %s: flags 0x%x instead of 0x%x",
				  vfe_req_name(req), m.hdr.flags, VU_REPLY_FLAGS);
		return -EPROTO;
	}
	if (m.hdr.request != req) {
		vfe_msg_set_error("reply to %s carries request %u (%s)",
				  vfe_req_name(req), m.hdr.request,
				  vfe_req_name(m.hdr.request));
		return -EPROTO;
	}
	if (m.hdr.size != expect_size) {
		vfe_msg_set_error("reply to %s: size %u instead of %u",
				  vfe_req_name(req), m.hdr.size, expect_size);
		return -EPROTO;
	}
	if (nfds) {
		vfe_msg_set_error("reply to %s carries %u unexpected fds",
				  vfe_req_name(req), nfds);
		return -EPROTO;
	}
	if (payload && expect_size)
		memcpy(payload, m.p.raw, expect_size);
	return 0;
}

int vfe_msg_get_u64(int sock, uint32_t req, uint64_t *val, int timeout_ms)
{
	int r = vfe_msg_send(sock, req, 0, NULL, 0, NULL, 0);

	if (r)
		return r;
	return vfe_msg_recv_reply(sock, req, val, sizeof(*val), timeout_ms);
}

int vfe_msg_request(int sock, uint32_t req, bool need_reply,
		    const void *payload, uint32_t size,
		    const int *fds, unsigned nfds, uint64_t *ack,
		    int timeout_ms)
{
	uint64_t v = 0;
	int r = vfe_msg_send(sock, req, need_reply ? VU_FLAG_NEED_REPLY : 0,
			     payload, size, fds, nfds);

	if (r || !need_reply)
		return r;
	r = vfe_msg_recv_reply(sock, req, &v, sizeof(v), timeout_ms);
	if (!r && ack)
		*ack = v;
	return r;
}

int vfe_msg_wait_eof(int sock, int timeout_ms)
{
	int64_t deadline = vfe_now_ms() + timeout_ms;
	char buf[4096];

	for (;;) {
		int r = wait_readable(sock, deadline);
		ssize_t n;

		if (r)
			return r;
		n = recv(sock, buf, sizeof(buf), 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno == ECONNRESET)
			return 0;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}
