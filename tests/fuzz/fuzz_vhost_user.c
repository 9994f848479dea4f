/*
 * fuzz_vhost_user.c - libFuzzer target: the vhost-user message loop
 * (vu_dev_serve, the daemon's own) in a thread, fed over a socketpair with
 * messages and fds built from the input, then disconnected; the device is
 * destroyed (queue threads, transfer thread, mappings) after each input.
 * The input is a sequence of messages, each:
 *   u8 fds: bits 0-1 how many fds (0..3), bit 2 memfds (guest RAM,
 *      16 MiB) instead of eventfds, bit 3 force a valid version in flags;
 *   u32 request, u32 flags, u32 size; then up to `size` payload bytes
 *   (fewer when the input ends: a truncated message).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "fuse_virtio.h"
#include "fuzz_fs.h"
#include "vu_dev.h"
#include "vu_proto.h"

#define RAM_SIZE (16u << 20)

static struct fuzz_fs *F;
static struct vu_dev dev;
static int ram_fd = -1;

/* Device-state hooks: a few bytes out, everything in up to EOF. */
static int st_save(void *opaque, int fd)
{
	return write(fd, "state", 5) == 5 ? 0 : -5;
}

static int st_load(void *opaque, int fd)
{
	char buf[256];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n < 0 ? -5 : 0;
}

static const struct vu_state_ops ops = { .save = st_save, .load = st_load };

/* libFuzzer: one-time set-up. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Before the set-up limits the file size. */
	ram_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (ram_fd < 0 || ftruncate(ram_fd, RAM_SIZE) < 0)
		abort();
	F = fuzz_fs_setup();
	return 0;
}

static void *serve(void *arg)
{
	vu_dev_serve(&dev);
	return NULL;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Send one message with nfds fds of the kind asked; false when the
 * daemon side is gone. */
static bool send_one(int sock, const uint8_t *hdr, const uint8_t *payload,
		     size_t plen, unsigned nfds, bool mem)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = { { (void *)hdr, 12 }, { (void *)payload, plen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	int fds[3];
	ssize_t n;

	for (unsigned i = 0; i < nfds; i++) {
		fds[i] = mem ? dup(ram_fd) : eventfd(0, EFD_CLOEXEC);
		if (fds[i] < 0)
			abort();
	}
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return n >= 0;
}

/* libFuzzer: one input = one connection's worth of messages. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pthread_t th;
	int sv[2];

	fuzz_fs_reset(F, false);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (vu_dev_init(&dev, sv[0], F->se))
		abort();
	vu_dev_set_state_ops(&dev, &ops, NULL);
	if (pthread_create(&th, NULL, serve, NULL))
		abort();
	while (size >= 13) {
		uint8_t hdr[12];
		unsigned spec = data[0];
		size_t plen;

		memcpy(hdr, data + 1, 12);
		if (spec & 8)
			hdr[4] = (uint8_t)((hdr[4] & ~VU_VERSION_MASK) | VU_VERSION);
		data += 13;
		size -= 13;
		plen = le32(hdr + 8);
		if (plen > size)
			plen = size;
		if (!send_one(sv[1], hdr, data, plen, spec & 3, spec & 4))
			break;
		data += plen;
		size -= plen;
	}
	/* Disconnect: the loop sees EOF (or has already stopped). */
	shutdown(sv[1], SHUT_WR);
	pthread_join(th, NULL);
	vu_dev_destroy(&dev);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
