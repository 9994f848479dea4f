/*
 * mig_compact.h - the compact entries of format version 2: INODES2 and
 * HANDLES2 (docs/migration.md, "Stream format").  Varints (mig_stream.h),
 * deltas from the previous entry of the same section and names that
 * share their leading bytes with the previous entry's, so that a table
 * sorted the way mig_order_inodes() sorts it costs a few bytes per entry
 * plus what differs in the names.  Shared by the writer (mig_state.c),
 * the loader (mig_state.c) and the printer (mig_print.c).
 */
#ifndef MIG_COMPACT_H
#define MIG_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "mig_stream.h"

struct pt_mig_inode;
struct pt_mig_handle;

/* INODES2 entry flags byte. */
#define MIG_IN2_KIND 0x07u          /* enum pt_mig_kind (0..4 known) */
#define MIG_IN2_GEN 0x08u           /* a generation varint follows */
#define MIG_IN2_SAME_PARENT 0x10u   /* parent field as the previous entry's */
#define MIG_IN2_LOOKUP_SHIFT 5      /* bits 5-6: lookup count 0, 1, 2, or */
#define MIG_IN2_LOOKUP_MASK 0x60u   /* 3 = a lookup count varint follows */
#define MIG_IN2_RESERVED 0x80u      /* must be 0 */

/* Smallest INODES2 entry (node id delta, flags, name length: one byte
 * each) and smallest HANDLES2 entry (fh delta, node id delta, flags: one
 * byte each): counts are bounded by the section's bytes with these. */
#define MIG_INODE2_MIN 3
#define MIG_HANDLE2_MIN 3

/* Longest name an INODES2 entry carries (NAME_MAX; a file handle's
 * 4 + 128 bytes fit too). */
#define MIG_IN2_NAME_MAX 255

/* Names sharing fewer leading bytes with the previous entry's are sent
 * whole: a shared prefix makes the length field 2 bytes. */
#define MIG_IN2_MIN_SHARED 2

/* Delta bases of one section: zero (and an empty name) at the start of
 * every section, so that each section decodes on its own. */
struct mig_delta {
	uint64_t nodeid;   /* previous entry's node id */
	uint64_t other;    /* INODES2: previous parent field; HANDLES2: fh */
	/* INODES2: the previous entry's name.  Writer: a pointer to it;
	 * reader: a copy (an entry's name is rebuilt here). */
	const char *prev;
	size_t prevlen;
	char name[MIG_IN2_NAME_MAX];
};

/*
 * Encode inode e after the entries that left *d as it is; advance *d.
 * w NULL: only count.  Returns the entry's size in bytes.
 */
size_t mig_in2_put(struct mig_writer *w, struct mig_delta *d,
		   const struct pt_mig_inode *e);

/*
 * Decode one INODES2 entry into *e and advance *d; e->name points into
 * d (valid until the next call on d).  Returns NULL, or a short reason
 * why the entry is malformed (truncated, a varint over 10 bytes or
 * overlong, reserved flag bits, a shared prefix longer than the previous
 * name, a name longer than 255 bytes, node id 0); then c->bad is set.
 * The kind is not checked (the loader and the printer do).
 */
const char *mig_in2_get(struct mig_cur *c, struct mig_delta *d,
			struct pt_mig_inode *e);

/* Encode handle h after *d (w NULL: only count); returns its size. */
size_t mig_h2_put(struct mig_writer *w, struct mig_delta *d,
		  const struct pt_mig_handle *h);

/* Decode one HANDLES2 entry; NULL or a reason as mig_in2_get() (open
 * flags above 32 bits, fh 0, node id 0). */
const char *mig_h2_get(struct mig_cur *c, struct mig_delta *d,
		       struct pt_mig_handle *h);

/* Decode one version-1 INODES entry (fixed width; e->name points into
 * the section).  NULL, or "truncated" with c->bad set. */
const char *mig_in1_get(struct mig_cur *c, struct pt_mig_inode *e);

/* Decode one version-1 HANDLES entry (21 bytes); as mig_in1_get(). */
const char *mig_h1_get(struct mig_cur *c, struct pt_mig_handle *h);

/*
 * Reorder v (n inodes, parents before their children) into the order
 * that encodes smallest while keeping every PATH entry after its parent:
 * by depth (root 0, a PATH entry one deeper than its parent, any other
 * kind 1), then kind, parent field, node id.  Returns 0 or -ENOMEM (v
 * then unchanged).
 */
int mig_order_inodes(struct pt_mig_inode *v, size_t n);

/* Sort handles by fh (any order loads; this one encodes smallest).
 * Returns 0 or -ENOMEM (v then unchanged). */
int mig_order_handles(struct pt_mig_handle *v, size_t n);

#endif
