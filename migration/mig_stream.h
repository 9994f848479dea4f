/*
 * mig_stream.h - the device-state stream: a versioned container of typed
 * sections with a checksum, written and parsed incrementally over a pipe.
 *
 * Layout (all integers little-endian, written field by field):
 *   header:  magic "VFSDSTAT" (8 bytes), u32 format version,
 *            u32 oldest version able to read this stream
 *   section: u32 type, u32 flags, u32 payload length, payload
 *   ...
 *   end:     a section of type MIG_SEC_END whose 4-byte payload is the
 *            CRC-32C of every byte before that section's own header
 * A section flagged MIG_SECF_MUST_UNDERSTAND that the reader does not know
 * makes the stream unreadable; other unknown sections are skipped.
 * Large tables are split into many sections of bounded size, so neither
 * side ever buffers more than one section.
 */
#ifndef MIG_STREAM_H
#define MIG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_MAGIC "VFSDSTAT"
#define MIG_MAGIC_LEN 8
#define MIG_HEADER_LEN 16
#define MIG_SECTION_HDR_LEN 12
#define MIG_MAX_SECTION (16u << 20)   /* bytes of one section's payload */

#define MIG_SECF_MUST_UNDERSTAND 1u

#define MIG_SEC_END 0xffffffffu

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (start with 0). */
uint32_t mig_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- writing ---- */

struct mig_writer {
	int fd;
	uint8_t *buf;        /* the section being built (header included) */
	size_t len, cap;
	uint32_t crc;        /* over everything flushed so far */
	uint64_t total;      /* bytes written to fd */
	int err;             /* first error, sticky */
	bool in_section;
};

/* Start a stream on fd with the given versions; the header is written at
 * the first flush.  Returns 0 or -ENOMEM. */
int mig_w_init(struct mig_writer *w, int fd, uint32_t version,
	       uint32_t oldest_compatible);

/* Open a section (the previous one must be closed). */
void mig_w_begin(struct mig_writer *w, uint32_t type, uint32_t flags);

/* Append fields to the open section. */
void mig_w_u8(struct mig_writer *w, uint8_t v);
void mig_w_u16(struct mig_writer *w, uint16_t v);
void mig_w_u32(struct mig_writer *w, uint32_t v);
void mig_w_u64(struct mig_writer *w, uint64_t v);
void mig_w_bytes(struct mig_writer *w, const void *p, size_t len);

/* Longest LEB128 encoding of a u64: 10 bytes (7 bits each). */
#define MIG_UV_MAX 10

/* Append v as an unsigned LEB128 varint: 7 bits per byte, least
 * significant group first, bit 7 set on every byte but the last; the
 * shortest form (1..MIG_UV_MAX bytes). */
void mig_w_uv(struct mig_writer *w, uint64_t v);

/* Append v as a zig-zag varint (0, -1, 1, -2, ... as 0, 1, 2, 3, ...). */
void mig_w_sv(struct mig_writer *w, int64_t v);

/* Bytes mig_w_uv() would write for v (1..MIG_UV_MAX). */
size_t mig_uv_len(uint64_t v);

/* Bytes in the open section's payload so far (to split big tables). */
size_t mig_w_section_size(const struct mig_writer *w);

/* Close the section and write it out. */
void mig_w_end(struct mig_writer *w);

/* Write the END section and free the writer (the fd is not closed).
 * Returns 0 or the first error met (negative errno). */
int mig_w_finish(struct mig_writer *w);

/* Free the writer after an error without writing anything more. */
void mig_w_abort(struct mig_writer *w);

/* ---- reading ---- */

struct mig_reader {
	int fd;
	uint8_t *buf;
	size_t cap;
	uint32_t crc;
	uint64_t total;      /* bytes consumed */
	uint32_t version;    /* the stream's format version */
	bool done;           /* END seen and verified */
	/* For diagnostics (mig_print.c): what the header said, why the last
	 * call failed, and the END section's checksums once it was read. */
	char magic[MIG_MAGIC_LEN];
	uint32_t oldest;
	const char *why;     /* NULL, or a short reason for the last error */
	bool end_read;       /* END's payload read (end_crc* valid) */
	uint32_t end_crc_stored, end_crc_computed;
};

/* A cursor over one section's payload; errors are sticky in `bad`. */
struct mig_cur {
	const uint8_t *p;
	size_t left;
	bool bad;
};

/*
 * Read and check the header from fd.  max_version is the newest format we
 * understand.  Returns 0, -EBADMSG (bad magic or truncated), -EPROTO (the
 * stream needs a newer reader) or another negative errno.
 */
int mig_r_init(struct mig_reader *r, int fd, uint32_t max_version);

/*
 * Read the next section.  On 1, *type and *flags are set and *cur covers the
 * payload (valid until the next call); on an error r->why says why.  Returns 0 after a verified END
 * section, -EBADMSG for a truncated or corrupt stream (checksum
 * mismatch, oversized section), or another negative errno.
 */
int mig_r_next(struct mig_reader *r, uint32_t *type, uint32_t *flags,
	       struct mig_cur *cur);

/* Free the reader (the fd is not closed). */
void mig_r_free(struct mig_reader *r);

uint8_t mig_c_u8(struct mig_cur *c);
uint16_t mig_c_u16(struct mig_cur *c);
uint32_t mig_c_u32(struct mig_cur *c);
uint64_t mig_c_u64(struct mig_cur *c);
/* Read an unsigned LEB128 varint.  A truncated one, one longer than
 * MIG_UV_MAX bytes, one whose value does not fit 64 bits, and an overlong
 * one (a trailing 0x00 group: not the shortest form) set c->bad and give
 * 0. */
uint64_t mig_c_uv(struct mig_cur *c);
/* Read a zig-zag varint (see mig_w_sv()); errors as mig_c_uv(). */
int64_t mig_c_sv(struct mig_cur *c);
/* Point *out at len bytes of the payload (not copied); NULL if short. */
const void *mig_c_bytes(struct mig_cur *c, size_t len);

#endif
