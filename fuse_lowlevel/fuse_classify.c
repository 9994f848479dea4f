/*
 * fuse_classify.c - tell quick requests from ones that may take time, so
 * that the queue layer can run the quick ones inline and hand only the
 * others to its worker pool (a hand-over costs more than a cached GETATTR).
 *
 * Only the opcode is read, from a private copy of the header's first bytes:
 * the answer is advice, never trusted for anything else (the request is
 * validated again, completely, when it is processed).
 */
#include <stddef.h>
#include <string.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"

/* True for opcodes that never wait for data I/O or block. */
static bool quick_opcode(uint32_t op)
{
	switch (op) {
	case FUSE_INIT: case FUSE_DESTROY:
	case FUSE_LOOKUP: case FUSE_GETATTR: case FUSE_READLINK:
	case FUSE_ACCESS: case FUSE_STATFS:
	case FUSE_GETXATTR: case FUSE_LISTXATTR:
	case FUSE_GETLK: case FUSE_LSEEK: case FUSE_POLL:
	case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT:
	case FUSE_OPENDIR: case FUSE_RELEASEDIR:
		return true;
	default:
		return false;
	}
}

/* The request's opcode from a private copy, or 0 when it is too short
 * to have one (a malformed request is answered at once, inline). */
static uint32_t peek_opcode(const struct iovec *out, unsigned out_num)
{
	const size_t at = offsetof(struct fuse_in_header, opcode);
	struct fuse_in_header h;
	size_t got = 0;
	uint32_t op;

	/* The usual case: the header starts in one segment; copy only the
	 * opcode (read once: the guest may change its memory meanwhile). */
	if (out_num && out[0].iov_len >= at + sizeof(op)) {
		memcpy(&op, (const char *)out[0].iov_base + at, sizeof(op));
		return op;
	}
	for (unsigned i = 0; i < out_num && got < sizeof(h); i++) {
		size_t n = out[i].iov_len;

		if (n > sizeof(h) - got)
			n = sizeof(h) - got;
		memcpy((char *)&h + got, out[i].iov_base, n);
		got += n;
	}
	if (got < offsetof(struct fuse_in_header, opcode) + sizeof(h.opcode))
		return 0;
	return h.opcode;
}

bool fuse_request_is_slow(const struct iovec *out, unsigned out_num)
{
	uint32_t op = peek_opcode(out, out_num);

	return op && !quick_opcode(op);
}

bool fuse_request_may_block(const struct iovec *out, unsigned out_num)
{
	return peek_opcode(out, out_num) == FUSE_SETLKW;
}
