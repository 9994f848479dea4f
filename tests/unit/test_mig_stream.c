/*
 * test_mig_stream.c - the device-state container: round trip, checksum,
 * truncation, corruption, version gates, section bounds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "mig_stream.h"

#include "unit_check.h"

/* Write a sample stream into a memfd; return the fd rewound. */
static int sample_stream(uint32_t version, uint32_t oldest, size_t *len)
{
	int fd = memfd_create("stream", 0);
	struct mig_writer w;

	CHECK(mig_w_init(&w, fd, version, oldest) == 0);
	mig_w_begin(&w, 1, MIG_SECF_MUST_UNDERSTAND);
	mig_w_u8(&w, 0xab);
	mig_w_u16(&w, 0xbeef);
	mig_w_u32(&w, 0xdeadbeef);
	mig_w_u64(&w, 0x0123456789abcdefull);
	mig_w_bytes(&w, "na\xffme", 5);
	mig_w_end(&w);
	mig_w_begin(&w, 2, 0);
	for (int i = 0; i < 100000; i++)
		mig_w_u64(&w, (uint64_t)i * 3);
	mig_w_end(&w);
	CHECK(mig_w_finish(&w) == 0);
	*len = (size_t)lseek(fd, 0, SEEK_CUR);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Read fd to the end, checking the sample's content when verify (a
 * corrupt stream's payloads are only known bad at its end); returns the
 * final status of the reader. */
static int read_stream(int fd, uint32_t max_version, int *sections,
		       bool verify)
{
	struct mig_reader r;
	struct mig_cur c;
	uint32_t type, flags;
	int ret;

	*sections = 0;
	ret = mig_r_init(&r, fd, max_version);
	if (ret) {
		mig_r_free(&r);
		return ret;
	}
	while ((ret = mig_r_next(&r, &type, &flags, &c)) == 1) {
		(*sections)++;
		if (!verify)
			continue;
		if (type == 1) {
			const char *name;

			CHECK(flags == MIG_SECF_MUST_UNDERSTAND);
			CHECK(mig_c_u8(&c) == 0xab);
			CHECK(mig_c_u16(&c) == 0xbeef);
			CHECK(mig_c_u32(&c) == 0xdeadbeef);
			CHECK(mig_c_u64(&c) == 0x0123456789abcdefull);
			name = mig_c_bytes(&c, 5);
			CHECK(name && memcmp(name, "na\xffme", 5) == 0);
			CHECK(!c.bad && c.left == 0);
			mig_c_u8(&c);
			CHECK(c.bad);
		} else if (type == 2) {
			for (int i = 0; i < 100000; i++)
				if (mig_c_u64(&c) != (uint64_t)i * 3)
					break;
			CHECK(!c.bad && c.left == 0);
		}
	}
	mig_r_free(&r);
	return ret;
}

/* A cursor over n bytes of p. */
static struct mig_cur cur_of(const void *p, size_t n)
{
	return (struct mig_cur){ .p = p, .left = n };
}

/* Decode one unsigned varint from the n bytes at p; *ok: accepted, *used:
 * bytes consumed. */
static uint64_t uv_of(const char *p, size_t n, bool *ok, size_t *used)
{
	struct mig_cur c = cur_of(p, n);
	uint64_t v = mig_c_uv(&c);

	*ok = !c.bad;
	*used = n - c.left;
	return v;
}

static const uint64_t uv_samples[] = {
	0, 1, 2, 63, 64, 127, 128, 129, 255, 256, 300, 16383, 16384,
	(1ull << 21) - 1, 1ull << 21, (1ull << 28) - 1, 1ull << 28,
	(1ull << 35) - 1, 1ull << 35, (1ull << 42) + 5, (1ull << 49) - 1,
	1ull << 56, (1ull << 63) - 1, 1ull << 63, UINT64_MAX - 1, UINT64_MAX,
};
static const int64_t sv_samples[] = {
	0, -1, 1, -2, 2, -64, 63, -65, 64, 1000000, -1000000,
	INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1,
};

/* Varints: lengths, known encodings, a round trip through a stream, and
 * every malformed form refused through the sticky `bad`. */
static void test_varints(void)
{
	const size_t nu = sizeof(uv_samples) / sizeof(uv_samples[0]);
	const size_t ns = sizeof(sv_samples) / sizeof(sv_samples[0]);
	int fd = memfd_create("uv", 0);
	struct mig_writer w;
	struct mig_reader r;
	struct mig_cur c;
	uint32_t type, flags;
	size_t used, expect_len;
	bool ok;
	uint64_t v;

	/* Lengths: 7 bits per byte. */
	CHECK(mig_uv_len(0) == 1 && mig_uv_len(127) == 1);
	CHECK(mig_uv_len(128) == 2 && mig_uv_len(16383) == 2);
	CHECK(mig_uv_len(16384) == 3);
	CHECK(mig_uv_len(1ull << 63) == 10 && mig_uv_len(UINT64_MAX) == 10);
	CHECK(mig_uv_len((1ull << 63) - 1) == 9);

	/* Known encodings. */
	CHECK(uv_of("", 1, &ok, &used) == 0 && ok && used == 1);
	CHECK(uv_of("\x7f", 1, &ok, &used) == 127 && ok && used == 1);
	CHECK(uv_of("\xac\x02", 2, &ok, &used) == 300 && ok && used == 2);
	CHECK(uv_of("\x80\x01\x55", 3, &ok, &used) == 128 && ok && used == 2);
	v = uv_of("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, &ok, &used);
	CHECK(v == UINT64_MAX && ok && used == 10);

	/* Refused: empty, truncated, overlong (a final zero group), 11
	 * bytes, a 10th byte carrying more than bit 63. */
	uv_of("", 0, &ok, &used);
	CHECK(!ok && used == 0);
	uv_of("\x80", 1, &ok, &used);
	CHECK(!ok && used == 0);
	uv_of("\xff\xff\xff", 3, &ok, &used);
	CHECK(!ok);
	uv_of("\x80", 2, &ok, &used);             /* 0x80 0x00 */
	CHECK(!ok && used == 0);
	uv_of("\xff\x80", 3, &ok, &used);         /* 0xff 0x80 0x00 */
	CHECK(!ok);
	uv_of("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11, &ok, &used);
	CHECK(!ok);
	uv_of("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, &ok, &used);
	CHECK(!ok);
	uv_of("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81", 11, &ok, &used);
	CHECK(!ok);
	/* Sticky: after an error nothing more is read. */
	c = cur_of("\x80\x05", 1);
	mig_c_uv(&c);
	c.left = 2;
	CHECK(c.bad && mig_c_uv(&c) == 0 && c.left == 2);
	/* Zig-zag: small magnitudes stay small. */
	c = cur_of("\x01\x02\x03\x04\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01"
		   "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 24);
	CHECK(mig_c_sv(&c) == -1 && mig_c_sv(&c) == 1);
	CHECK(mig_c_sv(&c) == -2 && mig_c_sv(&c) == 2);
	CHECK(mig_c_sv(&c) == INT64_MAX && mig_c_sv(&c) == INT64_MIN);
	CHECK(!c.bad && c.left == 0);

	/* Round trip through the writer and the reader, with the lengths
	 * mig_uv_len() announces. */
	CHECK(mig_w_init(&w, fd, 1, 1) == 0);
	mig_w_begin(&w, 9, 0);
	expect_len = 0;
	for (size_t i = 0; i < nu; i++) {
		mig_w_uv(&w, uv_samples[i]);
		expect_len += mig_uv_len(uv_samples[i]);
		CHECK(mig_w_section_size(&w) == expect_len);
	}
	for (size_t i = 0; i < ns; i++)
		mig_w_sv(&w, sv_samples[i]);
	for (uint64_t x = 0; x < 70000; x += 7)
		mig_w_uv(&w, x * x * x * x);
	mig_w_end(&w);
	CHECK(mig_w_finish(&w) == 0);
	lseek(fd, 0, SEEK_SET);
	CHECK(mig_r_init(&r, fd, 1) == 0);
	CHECK(mig_r_next(&r, &type, &flags, &c) == 1 && type == 9);
	for (size_t i = 0; i < nu; i++) {
		size_t before = c.left;

		CHECK(mig_c_uv(&c) == uv_samples[i]);
		CHECK(before - c.left == mig_uv_len(uv_samples[i]));
	}
	for (size_t i = 0; i < ns; i++)
		CHECK(mig_c_sv(&c) == sv_samples[i]);
	for (uint64_t x = 0; x < 70000; x += 7)
		if (mig_c_uv(&c) != x * x * x * x) {
			CHECK(!"varint round trip");
			break;
		}
	CHECK(!c.bad && c.left == 0);
	CHECK(mig_r_next(&r, &type, &flags, &c) == 0);
	mig_r_free(&r);
	close(fd);
}

/* Copy the first n bytes of src into a fresh memfd, optionally flipping
 * the byte at flip (if flip < n). */
static int copy_stream(int src, size_t n, size_t flip)
{
	int fd = memfd_create("copy", 0);
	uint8_t *buf = malloc(n ? n : 1);

	CHECK(pread(src, buf, n, 0) == (ssize_t)n);
	if (flip < n)
		buf[flip] ^= 0x40;
	CHECK(write(fd, buf, n) == (ssize_t)n);
	lseek(fd, 0, SEEK_SET);
	free(buf);
	return fd;
}

int main(void)
{
	size_t len;
	int fd = sample_stream(1, 1, &len), sections, bad;

	test_varints();

	/* CRC-32C check value of "123456789". */
	CHECK(mig_crc32c(0, "123456789", 9) == 0xE3069283u);

	CHECK(read_stream(fd, 1, &sections, true) == 0);
	CHECK(sections == 2);

	/* Every truncation is refused. */
	for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 4093)) {
		int t = copy_stream(fd, cut, (size_t)-1);

		CHECK(read_stream(t, 1, &sections, false) == -EBADMSG);
		close(t);
	}
	/* Every single-byte corruption in the first part, and a sample
	 * of the rest, is refused. */
	bad = 0;
	for (size_t at = 0; at < len; at += (at < 200 ? 1 : 997)) {
		int t = copy_stream(fd, len, at);
		int r = read_stream(t, 1, &sections, false);

		if (r >= 0)
			bad++;
		close(t);
	}
	CHECK(bad == 0);
	/* Trailing garbage after END is refused. */
	{
		int t = copy_stream(fd, len, (size_t)-1);

		lseek(t, 0, SEEK_END);
		CHECK(write(t, "x", 1) == 1);
		lseek(t, 0, SEEK_SET);
		CHECK(read_stream(t, 1, &sections, false) == -EBADMSG);
		close(t);
	}
	close(fd);

	/* A stream that needs a newer reader is refused as such; a newer
	 * stream readable by older readers is accepted. */
	fd = sample_stream(3, 2, &len);
	CHECK(read_stream(fd, 1, &sections, false) == -EPROTO);
	lseek(fd, 0, SEEK_SET);
	CHECK(read_stream(fd, 2, &sections, true) == 0);
	close(fd);

	/* An oversized section length is refused before allocating. */
	{
		uint8_t blob[MIG_HEADER_LEN + MIG_SECTION_HDR_LEN];
		int t = memfd_create("big", 0);

		memcpy(blob, MIG_MAGIC, 8);
		memset(blob + 8, 0, sizeof(blob) - 8);
		blob[8] = 1;
		blob[12] = 1;
		blob[16] = 7;
		memset(blob + 24, 0xff, 4);
		CHECK(write(t, blob, sizeof(blob)) == (ssize_t)sizeof(blob));
		lseek(t, 0, SEEK_SET);
		CHECK(read_stream(t, 1, &sections, false) == -EBADMSG);
		close(t);
	}

	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	else
		printf("ok - mig_stream\n");
	return failures ? 1 : 0;
}
