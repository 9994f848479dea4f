/*
 * mig_stream.c - device-state stream writer and reader.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig_stream.h"

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_table[i] = c;
	}
}

uint32_t mig_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Write all of buf to fd.  Returns 0 or a negative errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		/* EINTR is not retried: the daemon signals the transfer
		 * thread only to cancel it. */
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes.  Returns 0, -EBADMSG on early EOF, or -errno. */
static int read_all(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n < 0)   /* EINTR included: a cancel, see write_all() */
			return -errno;
		if (n == 0)
			return -EBADMSG;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void w_reserve(struct mig_writer *w, size_t more)
{
	size_t need = w->len + more, cap = w->cap;
	uint8_t *nb;

	if (w->err || need <= cap)
		return;
	while (cap < need)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		w->err = -ENOMEM;
		return;
	}
	w->buf = nb;
	w->cap = cap;
}

/* Send the buffered bytes, folding them into the checksum. */
static void w_flush(struct mig_writer *w)
{
	if (w->err || !w->len)
		return;
	w->crc = mig_crc32c(w->crc, w->buf, w->len);
	w->err = write_all(w->fd, w->buf, w->len);
	w->total += w->len;
	w->len = 0;
}

int mig_w_init(struct mig_writer *w, int fd, uint32_t version,
	       uint32_t oldest_compatible)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->cap = 64 * 1024;
	w->buf = malloc(w->cap);
	if (!w->buf)
		return -ENOMEM;
	memcpy(w->buf, MIG_MAGIC, MIG_MAGIC_LEN);
	put_le(w->buf + 8, version, 4);
	put_le(w->buf + 12, oldest_compatible, 4);
	w->len = MIG_HEADER_LEN;
	return 0;
}

void mig_w_begin(struct mig_writer *w, uint32_t type, uint32_t flags)
{
	if (w->in_section && !w->err)
		w->err = -EINVAL;
	w_flush(w);
	w_reserve(w, MIG_SECTION_HDR_LEN);
	if (w->err)
		return;
	put_le(w->buf, type, 4);
	put_le(w->buf + 4, flags, 4);
	put_le(w->buf + 8, 0, 4);
	w->len = MIG_SECTION_HDR_LEN;
	w->in_section = true;
}

static void w_put(struct mig_writer *w, uint64_t v, unsigned n)
{
	w_reserve(w, n);
	if (w->err)
		return;
	put_le(w->buf + w->len, v, n);
	w->len += n;
}

void mig_w_u8(struct mig_writer *w, uint8_t v) { w_put(w, v, 1); }
void mig_w_u16(struct mig_writer *w, uint16_t v) { w_put(w, v, 2); }
void mig_w_u32(struct mig_writer *w, uint32_t v) { w_put(w, v, 4); }
void mig_w_u64(struct mig_writer *w, uint64_t v) { w_put(w, v, 8); }

void mig_w_bytes(struct mig_writer *w, const void *p, size_t len)
{
	w_reserve(w, len);
	if (w->err || !len)
		return;
	memcpy(w->buf + w->len, p, len);
	w->len += len;
}

size_t mig_uv_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void mig_w_uv(struct mig_writer *w, uint64_t v)
{
	uint8_t b[MIG_UV_MAX];
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	mig_w_bytes(w, b, n);
}

void mig_w_sv(struct mig_writer *w, int64_t v)
{
	/* Shift as unsigned (no signed overflow), then fold the sign in. */
	mig_w_uv(w, ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0));
}

size_t mig_w_section_size(const struct mig_writer *w)
{
	return w->in_section ? w->len - MIG_SECTION_HDR_LEN : 0;
}

void mig_w_end(struct mig_writer *w)
{
	size_t payload = mig_w_section_size(w);

	if (!w->in_section && !w->err)
		w->err = -EINVAL;
	if (payload > MIG_MAX_SECTION && !w->err)
		w->err = -EMSGSIZE;
	w->in_section = false;
	if (w->err)
		return;
	put_le(w->buf + 8, payload, 4);
	w_flush(w);
}

int mig_w_finish(struct mig_writer *w)
{
	uint32_t crc;
	int err;

	if (w->in_section && !w->err)
		w->err = -EINVAL;
	w_flush(w);
	crc = w->crc;
	w_reserve(w, MIG_SECTION_HDR_LEN + 4);
	if (!w->err) {
		put_le(w->buf, MIG_SEC_END, 4);
		put_le(w->buf + 4, MIG_SECF_MUST_UNDERSTAND, 4);
		put_le(w->buf + 8, 4, 4);
		put_le(w->buf + 12, crc, 4);
		w->len = MIG_SECTION_HDR_LEN + 4;
		w_flush(w);
	}
	err = w->err;
	mig_w_abort(w);
	return err;
}

void mig_w_abort(struct mig_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

int mig_r_init(struct mig_reader *r, int fd, uint32_t max_version)
{
	uint8_t h[MIG_HEADER_LEN];
	uint32_t oldest;
	int ret;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	ret = read_all(fd, h, sizeof(h));
	if (ret) {
		r->why = "truncated header";
		return ret;
	}
	memcpy(r->magic, h, MIG_MAGIC_LEN);
	r->version = (uint32_t)get_le(h + 8, 4);
	r->oldest = oldest = (uint32_t)get_le(h + 12, 4);
	if (memcmp(h, MIG_MAGIC, MIG_MAGIC_LEN) != 0) {
		r->why = "bad magic";
		return -EBADMSG;
	}
	if (oldest > r->version) {
		r->why = "oldest compatible version above the version";
		return -EBADMSG;
	}
	if (oldest > max_version) {
		r->why = "needs a newer reader";
		return -EPROTO;
	}
	r->crc = mig_crc32c(0, h, sizeof(h));
	r->total = sizeof(h);
	return 0;
}

int mig_r_next(struct mig_reader *r, uint32_t *type, uint32_t *flags,
	       struct mig_cur *cur)
{
	uint8_t h[MIG_SECTION_HDR_LEN];
	uint32_t len, before;
	int ret;

	r->why = NULL;
	if (r->done)
		return 0;
	ret = read_all(r->fd, h, sizeof(h));
	if (ret) {
		r->why = "truncated: no END section";
		return ret;
	}
	*type = (uint32_t)get_le(h, 4);
	*flags = (uint32_t)get_le(h + 4, 4);
	len = (uint32_t)get_le(h + 8, 4);
	if (len > MIG_MAX_SECTION) {
		r->why = "section longer than 16 MiB";
		return -EBADMSG;
	}
	before = r->crc;
	r->crc = mig_crc32c(r->crc, h, sizeof(h));
	if (len > r->cap) {
		uint8_t *nb = realloc(r->buf, len);

		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = len;
	}
	ret = read_all(r->fd, r->buf, len);
	if (ret) {
		r->why = "truncated section payload";
		return ret;
	}
	r->total += sizeof(h) + len;
	if (*type == MIG_SEC_END) {
		uint8_t extra;

		if (len != 4) {
			r->why = "END section of a wrong length";
			return -EBADMSG;
		}
		r->end_read = true;
		r->end_crc_stored = (uint32_t)get_le(r->buf, 4);
		r->end_crc_computed = before;
		if (r->end_crc_stored != before) {
			r->why = "checksum mismatch";
			return -EBADMSG;
		}
		/* Nothing may follow the end section. */
		if (read(r->fd, &extra, 1) != 0) {
			r->why = "data after the END section";
			return -EBADMSG;
		}
		r->done = true;
		return 0;
	}
	r->crc = mig_crc32c(r->crc, r->buf, len);
	cur->p = r->buf;
	cur->left = len;
	cur->bad = false;
	return 1;
}

void mig_r_free(struct mig_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

static uint64_t c_get(struct mig_cur *c, unsigned n)
{
	uint64_t v;

	if (c->bad || c->left < n) {
		c->bad = true;
		return 0;
	}
	v = get_le(c->p, n);
	c->p += n;
	c->left -= n;
	return v;
}

uint8_t mig_c_u8(struct mig_cur *c) { return (uint8_t)c_get(c, 1); }
uint16_t mig_c_u16(struct mig_cur *c) { return (uint16_t)c_get(c, 2); }
uint32_t mig_c_u32(struct mig_cur *c) { return (uint32_t)c_get(c, 4); }
uint64_t mig_c_u64(struct mig_cur *c) { return c_get(c, 8); }

uint64_t mig_c_uv(struct mig_cur *c)
{
	uint64_t v = 0;

	if (c->bad)
		return 0;
	for (size_t i = 0; i < MIG_UV_MAX; i++) {
		uint8_t b;

		if (i >= c->left)
			break;               /* truncated */
		b = c->p[i];
		/* The 10th byte holds bit 63 only. */
		if (i == MIG_UV_MAX - 1 && b > 1)
			break;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i && !b)
				break;       /* overlong: a 0x00 last group */
			c->p += i + 1;
			c->left -= i + 1;
			return v;
		}
	}
	c->bad = true;
	return 0;
}

int64_t mig_c_sv(struct mig_cur *c)
{
	uint64_t u = mig_c_uv(c);

	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

const void *mig_c_bytes(struct mig_cur *c, size_t len)
{
	const void *p = c->p;

	if (c->bad || c->left < len) {
		c->bad = true;
		return NULL;
	}
	c->p += len;
	c->left -= len;
	return p;
}
