/*
 * vfe_mig.c - the QEMU side of device-state migration for the functional
 * tests (see vfe_mig.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfe_mig.h"
#include "vfe_msg.h"

/* Send SET_DEVICE_STATE_FD and return the reply's value (vfe_mig.h). */
uint64_t vfe_mig_set_state_fd(struct vfe_dev *dev, uint32_t dir, int fd)
{
	uint32_t p[2] = { dir, 0 };
	uint64_t v = ~0ull;

	CHECK_OK(vfe_msg_send(dev->sock, VU_SET_DEVICE_STATE_FD, 0, p,
			      sizeof(p), &fd, 1));
	CHECK_OK(vfe_msg_recv_reply(dev->sock, VU_SET_DEVICE_STATE_FD, &v, 8,
				    10000));
	return v;
}

/* Send CHECK_DEVICE_STATE and return the reply's value (vfe_mig.h). */
uint64_t vfe_mig_check_state(struct vfe_dev *dev)
{
	uint64_t v = ~0ull;

	CHECK_OK(vfe_msg_get_u64(dev->sock, VU_CHECK_DEVICE_STATE, &v, 30000));
	return v;
}

/* Save e's state through a pipe; returns the blob (vfe_mig.h). */
uint8_t *vfe_mig_save(struct vfe_env *e, size_t *len)
{
	size_t cap = 1 << 16;
	uint8_t *b;
	ssize_t n;
	int p[2];

	if (e->dev.started)
		CHECK_OK(vfe_dev_stop(&e->dev, NULL));
	CHECK_OK(pipe2(p, O_CLOEXEC));
	CHECK_EQ(vfe_mig_set_state_fd(&e->dev, VFE_MIG_SAVE, p[1]), 0x100);
	close(p[1]);
	b = malloc(cap);
	CHECK(b != NULL);
	*len = 0;
	while ((n = read(p[0], b + *len, cap - *len)) > 0) {
		*len += (size_t)n;
		if (*len == cap) {
			cap *= 2;
			b = realloc(b, cap);
			CHECK(b != NULL);
		}
	}
	CHECK(n == 0);
	close(p[0]);
	CHECK_EQ(vfe_mig_check_state(&e->dev), 0);
	return b;
}

/* Load a blob into e through a pipe; returns CHECK's value (vfe_mig.h). */
uint64_t vfe_mig_load(struct vfe_env *e, const uint8_t *p, size_t len)
{
	size_t off = 0;
	int fds[2];

	CHECK_OK(pipe2(fds, O_CLOEXEC));
	CHECK_EQ(vfe_mig_set_state_fd(&e->dev, VFE_MIG_LOAD, fds[0]), 0x100);
	close(fds[0]);
	while (off < len) {
		ssize_t n = write(fds[1], p + off, len - off);

		if (n <= 0)
			break;   /* the daemon gave up reading: EPIPE */
		off += (size_t)n;
	}
	close(fds[1]);
	return vfe_mig_check_state(&e->dev);
}

/* Start a negotiated destination daemon on src's directory (vfe_mig.h). */
void vfe_mig_dest_up(struct vfe_env *e, const struct vfe_env *src,
		     const char *sub, const char *const *extra)
{
	struct vfe_daemon_opts o = { 0 };
	char dir[PATH_MAX];
	int sock;

	memset(e, 0, sizeof(*e));
	e->dev.sock = -1;
	snprintf(dir, sizeof(dir), "%s/%s", vfe_test_dir(), sub);
	CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
	o.exe = vfe_daemon_exe();
	o.shared_dir = src->d.shared_dir;
	for (unsigned i = 0; extra && extra[i] && i + 1 < VFE_MAX_ARGS; i++)
		o.extra[i] = extra[i];
	CHECK_OK(vfe_daemon_start(&e->d, dir, &o));
	sock = vfe_daemon_connect(&e->d, 5000);
	CHECK(sock >= 0);
	CHECK_OK(vfe_dev_init(&e->dev, NULL));
	e->have_dev = true;
	CHECK_OK(vfe_dev_negotiate(&e->dev, sock));
}

/* Start e's rings with src's FUSE session, no new INIT (vfe_mig.h). */
void vfe_mig_dest_start(struct vfe_env *e, const struct vfe_env *src)
{
	CHECK_OK(vfe_dev_start(&e->dev));
	CHECK_OK(vfe_fuse_client_init(&e->f, &e->dev, 0, 0));
	e->have_fuse = true;
	e->f.init = src->f.init;
	e->f.minor = src->f.minor;
	e->f.next_unique = src->f.next_unique + 1000;
}
