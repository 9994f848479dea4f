/*
 * test_fuse_iov.c - the iovec cursors of fuse_lowlevel/fuse_iov.c against
 * a flat reference: copy, peek, skip and bufs over segments of any length
 * (empty ones included, pieces ending exactly at a segment's end, a limit
 * shorter than the segments), and fv_iov_write / fv_iov_slice / fv_iov_total.
 * A few fixed cases, then many random ones (fixed seed).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_i.h"

#include "unit_check.h"

#define MAXSEG 8
#define MAXLEN 64

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Cut flat[0..total) into n segments of the given lengths. */
static void cut(struct iovec *iov, const size_t *lens, unsigned n, char *flat)
{
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = flat;
		iov[i].iov_len = lens[i];
		flat += lens[i];
	}
}

static void fixed(void)
{
	char flat[] = "0123456789abcdefXYZ";
	size_t lens[] = { 10, 0, 6, 3 };
	struct iovec iov[4];
	struct fv_rcur c;
	char b[32];

	cut(iov, lens, 4, flat);
	CHECK(fv_iov_total(iov, 4) == 19);
	fv_rcur_init(&c, iov, 4, 19);
	CHECK(fv_rcur_copy(&c, b, 4) == 0 && !memcmp(b, "0123", 4));
	CHECK(fv_rcur_copy(&c, b, 6) == 0 && !memcmp(b, "456789", 6));
	CHECK(fv_rcur_copy(&c, b, 3) == 0 && !memcmp(b, "abc", 3));
	CHECK(fv_rcur_peek(&c, b, 5) == 5 && !memcmp(b, "defXY", 5));
	CHECK(fv_rcur_skip(&c, 3) == 0 && c.left == 3);
	CHECK(fv_rcur_copy(&c, b, 4) == -EINVAL && c.left == 3);
	CHECK(fv_rcur_skip(&c, 4) == -EINVAL && c.left == 3);
	CHECK(fv_rcur_peek(&c, b, 9) == 3 && !memcmp(b, "XYZ", 3));
	CHECK(fv_rcur_copy(&c, b, 3) == 0 && !memcmp(b, "XYZ", 3));
	CHECK(c.left == 0 && fv_rcur_copy(&c, b, 0) == 0);
	CHECK(fv_rcur_copy(&c, b, 1) == -EINVAL);

	/* a limit inside the first segment */
	fv_rcur_init(&c, iov, 4, 5);
	CHECK(fv_rcur_copy(&c, b, 6) == -EINVAL);
	CHECK(fv_rcur_skip(&c, 6) == -EINVAL);
	CHECK(fv_rcur_copy(&c, b, 5) == 0 && c.left == 0);

	/* writes: the header across segments, a piece past the end */
	{
		char out[16];
		size_t ol[] = { 4, 0, 8, 4 };
		struct iovec o[4];

		memset(out, '.', sizeof(out));
		cut(o, ol, 4, out);
		CHECK(fv_iov_write(o, 4, 0, "ABCDEF", 6) == 6);
		CHECK(fv_iov_write(o, 4, 11, "ghijk", 5) == 5);
		CHECK(fv_iov_write(o, 4, 14, "uvw", 3) == 2);
		CHECK(fv_iov_write(o, 4, 16, "z", 1) == 0);
		CHECK(!memcmp(out, "ABCDEF.....ghiuv", 16));
	}
	/* slices: no entry for an empty segment, max respected */
	{
		struct iovec d[4];

		CHECK(fv_iov_slice(iov, 4, 4, 10, d, 4) == 2);
		CHECK(d[0].iov_base == flat + 4 && d[0].iov_len == 6);
		CHECK(d[1].iov_base == flat + 10 && d[1].iov_len == 4);
		CHECK(fv_iov_slice(iov, 4, 10, 9, d, 4) == 2);
		CHECK(d[0].iov_base == flat + 10 && d[0].iov_len == 6);
		CHECK(d[1].iov_base == flat + 16 && d[1].iov_len == 3);
		CHECK(fv_iov_slice(iov, 4, 4, 10, d, 1) == 1);
		CHECK(fv_iov_slice(iov, 4, 19, 1, d, 4) == 0);
	}
	/* totals saturate */
	{
		struct iovec big[2] = { { NULL, SIZE_MAX / 2 + 1 },
					{ NULL, SIZE_MAX / 2 + 1 } };

		CHECK(fv_iov_total(big, 1) == SIZE_MAX / 2 + 1);
		CHECK(fv_iov_total(big, 2) == SIZE_MAX);
	}
}

/* One random layout and a random sequence of cursor operations, checked
 * against the flat buffer and a position. */
static void random_case(void)
{
	char flat[MAXSEG * MAXLEN], b[MAXSEG * MAXLEN];
	size_t lens[MAXSEG], total = 0, limit, pos = 0;
	struct iovec iov[MAXSEG];
	unsigned n = 1 + rnd(MAXSEG);
	struct fv_rcur c;

	for (unsigned i = 0; i < n; i++) {
		lens[i] = rnd(4) == 0 ? 0 : rnd(MAXLEN);
		total += lens[i];
	}
	for (size_t i = 0; i < total; i++)
		flat[i] = (char)rnd(256);
	cut(iov, lens, n, flat);
	limit = total ? rnd((unsigned)total + 1) : 0;
	CHECK(fv_iov_total(iov, n) == total);
	fv_rcur_init(&c, iov, n, limit);
	for (unsigned k = 0; k < 12; k++) {
		size_t left = limit - pos, len = rnd(20);
		unsigned op = rnd(4);

		if (op == 0) {
			int r = fv_rcur_copy(&c, b, len);

			if (len > left) {
				CHECK(r == -EINVAL);
				continue;
			}
			CHECK(r == 0 && !memcmp(b, flat + pos, len));
			pos += len;
		} else if (op == 1) {
			size_t got = fv_rcur_peek(&c, b, len);

			CHECK(got == (len < left ? len : left));
			CHECK(!memcmp(b, flat + pos, got));
		} else if (op == 2) {
			int r = fv_rcur_skip(&c, len);

			CHECK(r == (len > left ? -EINVAL : 0));
			if (!r)
				pos += len;
		} else {
			struct fuse_buf bufs[MAXSEG];
			int nb = fv_rcur_bufs(&c, len, bufs, MAXSEG);
			size_t at = pos;

			if (len > left) {
				CHECK(nb == -EINVAL);
				continue;
			}
			CHECK(nb >= 0);
			for (int i = 0; i < nb; i++) {
				CHECK(bufs[i].size > 0 &&
				      bufs[i].mem == flat + at);
				at += bufs[i].size;
			}
			CHECK(at == pos + len);
			pos += len;
		}
		CHECK(c.left == limit - pos);
	}

	/* writes and slices at a random offset */
	{
		char out[MAXSEG * MAXLEN], src[MAXSEG * MAXLEN];
		struct iovec d[MAXSEG];
		size_t off = rnd((unsigned)total + 2), len = rnd(40);
		size_t want = off >= total ? 0 : (len < total - off ?
						  len : total - off);
		size_t got = 0;
		unsigned nd;

		memset(out, 0, sizeof(out));
		for (size_t i = 0; i < len; i++)
			src[i] = (char)rnd(256);
		cut(iov, lens, n, out);
		CHECK(fv_iov_write(iov, n, off, src, len) == want);
		if (want)
			CHECK(!memcmp(out + off, src, want));
		for (size_t i = 0; i < total; i++)
			if (i < off || i >= off + want)
				CHECK(out[i] == 0);
		nd = fv_iov_slice(iov, n, off, len, d, MAXSEG);
		for (unsigned i = 0; i < nd; i++) {
			CHECK(d[i].iov_len > 0 &&
			      d[i].iov_base == out + off + got);
			got += d[i].iov_len;
		}
		CHECK(got == want);
	}
}

int main(void)
{
	fixed();
	for (unsigned i = 0; i < 20000 && !failures; i++)
		random_case();
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
