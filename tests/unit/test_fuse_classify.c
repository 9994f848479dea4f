/*
 * test_fuse_classify.c - the queue layer's advice (fuse_classify.c): which
 * requests are slow (go to a pool), which may block (the blocking pool),
 * read from the opcode whether the header lies in one segment or is
 * split, and a request too short to have an opcode counts as quick.
 */
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"
#include "unit_check.h"

/* Classify a request of opcode op whose 40-byte header (+ 16 argument
 * bytes) is cut into segments after each length in cuts (0-terminated). */
static void classify(uint32_t op, const size_t *cuts, bool *slow,
		     bool *block)
{
	static unsigned char buf[sizeof(struct fuse_in_header) + 16];
	struct fuse_in_header h = { .len = sizeof(buf), .opcode = op,
				    .unique = 2 };
	struct iovec iov[8];
	size_t at = 0;
	unsigned n = 0;

	memcpy(buf, &h, sizeof(h));
	for (; cuts && *cuts && n < 7; cuts++) {
		iov[n++] = (struct iovec){ buf + at, *cuts };
		at += *cuts;
	}
	iov[n++] = (struct iovec){ buf + at, sizeof(buf) - at };
	*slow = fuse_request_is_slow(iov, n);
	*block = fuse_request_may_block(iov, n);
}

static void check_op(uint32_t op, bool want_slow, bool want_block)
{
	static const size_t one[] = { 0 };
	static const size_t split_opcode[] = { 5, 2, 0 };  /* opcode at 4..8 */
	static const size_t tiny[] = { 1, 1, 1, 1, 1, 1, 1, 0 };
	const size_t *shapes[] = { one, split_opcode, tiny };

	for (unsigned i = 0; i < 3; i++) {
		bool slow, block;

		classify(op, shapes[i], &slow, &block);
		CHECK(slow == want_slow);
		CHECK(block == want_block);
	}
}

int main(void)
{
	unsigned char b[6] = { 0 };
	struct iovec shortreq = { b, sizeof(b) };

	check_op(FUSE_GETATTR, false, false);
	check_op(FUSE_LOOKUP, false, false);
	check_op(FUSE_READ, true, false);
	check_op(FUSE_WRITE, true, false);
	check_op(FUSE_CREATE, true, false);
	check_op(FUSE_SETLKW, true, true);
	/* Shorter than the opcode's end (offset 4 + 4): quick, no block. */
	CHECK(!fuse_request_is_slow(&shortreq, 1));
	CHECK(!fuse_request_may_block(&shortreq, 1));
	CHECK(!fuse_request_is_slow(NULL, 0));
	return failures != 0;
}
