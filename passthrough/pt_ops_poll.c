/*
 * pt_ops_poll.c - POLL and BMAP for a passthrough file system.
 *
 * POLL reports the readiness of the handle's host fd at the time of the
 * request.  Only regular files and directories are ever opened for I/O
 * (FIFOs, sockets and devices are refused at open), and those are always
 * ready, so the answer never needs a later wake-up; virtio-fs has no
 * notification channel for one anyway (no poll handle is passed).
 * BMAP is left unimplemented on purpose: block numbers only mean something
 * for a block-device-backed FUSE file system, and reading them on the host
 * (FIBMAP) would need CAP_SYS_RAWIO and disclose host disk layout; the
 * session answers ENOSYS, which makes the guest kernel stop asking.
 *
 * Syscalls: poll.
 */
#include <errno.h>
#include <poll.h>
#include "pt_internal.h"

/* POLL: readiness of the handle's fd, without waiting. */
void pt_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct fuse_pollhandle *ph)
{
	struct pt_fs *fs = pt_req_fs(req);
	struct pt_handle *h = pt_handle_get_any(fs, fi->fh, ino);
	struct pollfd pfd;
	int r;

	(void)ph;
	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pfd.fd = h->fd;
	pfd.events = (short)fi->poll_events;
	pfd.revents = 0;
	do {
		r = poll(&pfd, 1, 0);
	} while (r < 0 && errno == EINTR);
	pt_handle_put(fs, h);
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_poll(req, (unsigned)pfd.revents);
}
