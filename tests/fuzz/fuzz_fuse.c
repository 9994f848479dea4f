/*
 * fuzz_fuse.c - libFuzzer target: the FUSE request decoder and dispatch
 * (fuse_session_process) against a passthrough fs on a temporary tree,
 * after an INIT.  The input is up to 4 requests, each:
 *   u16 request length L, u16 reply room R, u8 splits (low nibble: cuts
 *   in the request, high nibble: cuts in the reply), one byte per cut
 *   (its position, scaled), then L request bytes.
 * The request is copied into separate buffers (one per iovec, so that a
 * read past an iovec's end is caught), the reply gets R bytes split the
 * same way.  Each input starts from a fresh session (reset + INIT).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fuse_virtio.h"
#include "fuzz_fs.h"

#define MAX_CUTS 15

static struct fuzz_fs *F;

/* libFuzzer: one-time set-up. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	F = fuzz_fs_setup();
	fuzz_fs_reset(F, true);
	return 0;
}

/* Cut [0, len) at ncuts positions from cuts[] into iov (each piece its own
 * heap buffer, filled from src when given).  Returns the iovec count. */
static unsigned split(const uint8_t *src, size_t len, const uint8_t *cuts,
		      unsigned ncuts, struct iovec *iov)
{
	size_t prev = 0;
	unsigned n = 0;

	for (unsigned i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] * len / 256 : len;
		uint8_t *b;

		if (end < prev)
			end = prev;
		b = malloc(end - prev ? end - prev : 1);
		if (!b)
			abort();
		if (src)
			memcpy(b, src + prev, end - prev);
		else
			memset(b, 0xa5, end - prev);
		iov[n++] = (struct iovec){ b, end - prev };
		prev = end;
	}
	return n;
}

static void free_iov(struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(iov[i].iov_base);
}

/* libFuzzer: one input = a few requests on a fresh session. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_fs_reset(F, true);
	for (int k = 0; k < 4 && size >= 5; k++) {
		struct iovec out[MAX_CUTS + 1], in[MAX_CUTS + 1];
		size_t len = data[0] | (size_t)data[1] << 8;
		size_t room = data[2] | (size_t)data[3] << 8;
		unsigned ocuts = data[4] & 15, icuts = data[4] >> 4;
		unsigned on, inn;
		size_t written = 0;

		data += 5;
		size -= 5;
		if (size < ocuts + icuts)
			break;
		if (len > size - ocuts - icuts)
			len = size - ocuts - icuts;
		on = split(data + ocuts + icuts, len, data, ocuts, out);
		inn = split(NULL, room, data + ocuts, icuts, in);
		fuse_session_process(F->w, out, on, in, inn, &written);
		if (written > room)
			abort();
		free_iov(out, on);
		free_iov(in, inn);
		data += ocuts + icuts + len;
		size -= ocuts + icuts + len;
	}
	return 0;
}
