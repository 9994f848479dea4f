/*
 * mig_print.c - `virtiofsd --print-state`: decode a saved device-state
 * blob and print it for a human (see mig_print.h; the format is in
 * docs/migration.md).
 *
 * The container is read with mig_stream's reader, section by section; the
 * payloads are decoded here, on their own, not by mig_state.c's loader: the
 * point is to show blobs that the loader refuses, and why.  Only the format
 * constants are shared (mig_state.h, passthrough.h).  The input is hostile:
 * every field goes through the bounds-checked cursor and every count is
 * checked against the bytes left before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <linux/fuse.h>

#include "mig_compact.h"
#include "mig_print.h"
#include "mig_state.h"
#include "mig_stream.h"
#include "passthrough.h"

/* INIT flags newer than some <linux/fuse.h> copies. */
#ifndef FUSE_SECURITY_CTX
#define FUSE_SECURITY_CTX (1ULL << 32)
#endif
#ifndef FUSE_HAS_INODE_DAX
#define FUSE_HAS_INODE_DAX (1ULL << 33)
#endif
#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif
#ifndef FUSE_HAS_EXPIRE_ONLY
#define FUSE_HAS_EXPIRE_ONLY (1ULL << 35)
#endif
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
#ifndef FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)
#endif
#ifndef FUSE_NO_EXPORT_SUPPORT
#define FUSE_NO_EXPORT_SUPPORT (1ULL << 38)
#endif
#ifndef FUSE_HAS_RESEND
#define FUSE_HAS_RESEND (1ULL << 39)
#endif
#ifndef FUSE_ALLOW_IDMAP
#define FUSE_ALLOW_IDMAP (1ULL << 40)
#endif
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif
#ifndef FUSE_REQUEST_TIMEOUT
#define FUSE_REQUEST_TIMEOUT (1ULL << 42)
#endif

struct flag_name {
	uint64_t bit;
	const char *name;
};

#define F(x) { (uint64_t)(x), #x }
static const struct flag_name fuse_flags[] = {
	F(FUSE_ASYNC_READ), F(FUSE_POSIX_LOCKS), F(FUSE_FILE_OPS),
	F(FUSE_ATOMIC_O_TRUNC), F(FUSE_EXPORT_SUPPORT), F(FUSE_BIG_WRITES),
	F(FUSE_DONT_MASK), F(FUSE_SPLICE_WRITE), F(FUSE_SPLICE_MOVE),
	F(FUSE_SPLICE_READ), F(FUSE_FLOCK_LOCKS), F(FUSE_HAS_IOCTL_DIR),
	F(FUSE_AUTO_INVAL_DATA), F(FUSE_DO_READDIRPLUS),
	F(FUSE_READDIRPLUS_AUTO), F(FUSE_ASYNC_DIO), F(FUSE_WRITEBACK_CACHE),
	F(FUSE_NO_OPEN_SUPPORT), F(FUSE_PARALLEL_DIROPS),
	F(FUSE_HANDLE_KILLPRIV), F(FUSE_POSIX_ACL), F(FUSE_ABORT_ERROR),
	F(FUSE_MAX_PAGES), F(FUSE_CACHE_SYMLINKS), F(FUSE_NO_OPENDIR_SUPPORT),
	F(FUSE_EXPLICIT_INVAL_DATA), F(FUSE_MAP_ALIGNMENT), F(FUSE_SUBMOUNTS),
	F(FUSE_HANDLE_KILLPRIV_V2), F(FUSE_SETXATTR_EXT), F(FUSE_INIT_EXT),
	F(FUSE_INIT_RESERVED),
	/* flags2 (bits 32..63) */
	F(FUSE_SECURITY_CTX), F(FUSE_HAS_INODE_DAX), F(FUSE_CREATE_SUPP_GROUP),
	F(FUSE_HAS_EXPIRE_ONLY), F(FUSE_DIRECT_IO_ALLOW_MMAP),
	F(FUSE_PASSTHROUGH), F(FUSE_NO_EXPORT_SUPPORT), F(FUSE_HAS_RESEND),
	F(FUSE_ALLOW_IDMAP), F(FUSE_OVER_IO_URING), F(FUSE_REQUEST_TIMEOUT),
};

/* Open flags of a handle (the access mode is printed apart). */
static const struct flag_name open_flags[] = {
	F(O_CREAT), F(O_EXCL), F(O_NOCTTY), F(O_TRUNC), F(O_APPEND),
	F(O_NONBLOCK), F(O_DSYNC), F(O_ASYNC), F(O_DIRECT), F(O_LARGEFILE),
	F(O_DIRECTORY), F(O_NOFOLLOW), F(O_NOATIME), F(O_CLOEXEC), F(O_PATH),
	{ O_SYNC & ~O_DSYNC, "O_SYNC" }, { O_TMPFILE & ~O_DIRECTORY, "O_TMPFILE" },
};
#undef F

static const char *const config_names[CFG_N] = {
	[CFG_CACHE] = "cache", [CFG_WRITEBACK] = "writeback",
	[CFG_XATTR] = "xattr", [CFG_POSIX_ACL] = "posix_acl",
	[CFG_READDIRPLUS] = "readdirplus",
	[CFG_ANNOUNCE_SUBMOUNTS] = "announce_submounts",
	[CFG_READONLY] = "readonly", [CFG_KILLPRIV_V2] = "killpriv_v2",
	[CFG_ALLOW_DIRECT_IO] = "allow_direct_io",
	[CFG_ALLOW_MMAP] = "allow_mmap", [CFG_SECURITY_LABEL] = "security_label",
};

static const char *const cache_names[] = { "auto", "always", "never",
					   "metadata" };
static const char *const kind_names[] = {
	[PT_MIG_ROOT] = "ROOT", [PT_MIG_PATH] = "PATH",
	[PT_MIG_UNLINKED] = "UNLINKED", [PT_MIG_INVALID] = "INVALID",
	[PT_MIG_FHANDLE] = "FHANDLE",
};

struct printer {
	FILE *out;
	unsigned errors;
	uint64_t sections, unknown, inodes, handles;
	unsigned sessions, configs, counters;
};

static void err_line(struct printer *P, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One "error: ..." line; the blob is then invalid. */
static void err_line(struct printer *P, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("error: ", P->out);
	vfprintf(P->out, fmt, ap);
	fputc('\n', P->out);
	va_end(ap);
	P->errors++;
}

static const char *section_name(uint32_t type)
{
	switch (type) {
	case MIG_SEC_SESSION: return "SESSION";
	case MIG_SEC_CONFIG: return "CONFIG";
	case MIG_SEC_INODES: return "INODES";
	case MIG_SEC_HANDLES: return "HANDLES";
	case MIG_SEC_INODES2: return "INODES2";
	case MIG_SEC_HANDLES2: return "HANDLES2";
	case MIG_SEC_COUNTERS: return "COUNTERS";
	case MIG_SEC_FHANDLES: return "FHANDLES";
	case MIG_SEC_MOUNTS: return "MOUNTS";
	case MIG_SEC_END: return "END";
	default: return "unknown";
	}
}

/* Print the names of the bits of v found in tab, '|'-separated, and the
 * remaining bits in hex. */
static void print_flags(FILE *out, uint64_t v, const struct flag_name *tab,
			size_t n)
{
	const char *sep = "";

	for (size_t i = 0; i < n; i++) {
		if (tab[i].bit && (v & tab[i].bit) == tab[i].bit) {
			fprintf(out, "%s%s", sep, tab[i].name);
			sep = "|";
			v &= ~tab[i].bit;
		}
	}
	if (v)
		fprintf(out, "%s0x%" PRIx64, sep, v);
	else if (!*sep)
		fputs("none", out);
}

/* Length of the valid UTF-8 sequence of a printable character at p (at
 * most n bytes), or 0: overlong forms, surrogates, values above
 * U+10FFFF and C1 controls are not accepted. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp < 0xa0)
		return 0;
	return len;
}

/* Print name between quotes: printable ASCII and valid UTF-8 as they are,
 * '"' and '\' backslashed, every other byte as \xNN. */
static void print_name(FILE *out, const uint8_t *p, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n;) {
		size_t u;

		if (p[i] == '"' || p[i] == '\\') {
			fprintf(out, "\\%c", p[i]);
			i++;
		} else if (p[i] >= 0x20 && p[i] < 0x7f) {
			fputc(p[i], out);
			i++;
		} else if ((u = utf8_len(p + i, n - i)) != 0) {
			fwrite(p + i, 1, u, out);
			i += u;
		} else {
			fprintf(out, "\\x%02x", p[i]);
			i++;
		}
	}
	fputc('"', out);
}

/* Hex dump of the first 64 bytes of the payload. */
static void hex_dump(FILE *out, const uint8_t *p, size_t n)
{
	size_t shown = n < 64 ? n : 64;

	for (size_t off = 0; off < shown; off += 16) {
		size_t k = shown - off < 16 ? shown - off : 16;

		fprintf(out, "    %04zx:", off);
		for (size_t i = 0; i < 16; i++) {
			if (i < k)
				fprintf(out, " %02x", p[off + i]);
			else
				fputs("   ", out);
		}
		fputs("  |", out);
		for (size_t i = 0; i < k; i++) {
			uint8_t c = p[off + i];

			fputc(c >= 0x20 && c < 0x7f ? c : '.', out);
		}
		fputs("|\n", out);
	}
	if (n > shown)
		fprintf(out, "    ... %zu more bytes\n", n - shown);
}

/* A section of fixed layout must be consumed exactly. */
static void check_done(struct printer *P, const struct mig_cur *c,
		       const char *what)
{
	if (c->bad)
		err_line(P, "%s section truncated", what);
	else if (c->left)
		err_line(P, "%s section has %zu trailing bytes", what, c->left);
}

static void print_session(struct printer *P, struct mig_cur *c)
{
	FILE *out = P->out;
	uint8_t init = mig_c_u8(c);
	uint32_t minor = mig_c_u32(c);
	uint64_t flags = mig_c_u64(c);
	uint32_t max_write = mig_c_u32(c);
	uint32_t max_readahead = mig_c_u32(c);
	uint32_t time_gran = mig_c_u32(c);
	uint16_t max_background = mig_c_u16(c);
	uint16_t congestion = mig_c_u16(c);

	if (P->sessions++)
		err_line(P, "more than one SESSION section");
	if (c->bad) {
		check_done(P, c, "SESSION");
		return;
	}
	fprintf(out, "  initialized: %u%s\n", init,
		init > 1 ? " (invalid: not 0/1)" : "");
	if (init > 1)
		err_line(P, "SESSION: initialized flag %u", init);
	fprintf(out, "  FUSE version: 7.%" PRIu32 "\n", minor);
	fprintf(out, "  flags: 0x%016" PRIx64 "\n    ", flags);
	print_flags(out, flags, fuse_flags,
		    sizeof(fuse_flags) / sizeof(fuse_flags[0]));
	fputc('\n', out);
	fprintf(out, "  max_write: %" PRIu32 "\n", max_write);
	fprintf(out, "  max_readahead: %" PRIu32 "\n", max_readahead);
	fprintf(out, "  time_gran: %" PRIu32 "\n", time_gran);
	fprintf(out, "  max_background: %u\n", max_background);
	fprintf(out, "  congestion_threshold: %u\n", congestion);
	check_done(P, c, "SESSION");
}

static void print_config(struct printer *P, struct mig_cur *c)
{
	FILE *out = P->out;

	if (P->configs++)
		err_line(P, "more than one CONFIG section");
	if (c->left < CFG_N)
		err_line(P, "CONFIG section of %zu bytes, at least %d expected",
			 c->left, CFG_N);
	for (unsigned i = 0; i < CFG_N && c->left; i++) {
		uint8_t v = mig_c_u8(c);

		if (i == CFG_CACHE)
			fprintf(out, "  %s: %s (%u)\n", config_names[i],
				v < 4 ? cache_names[v] : "unknown", v);
		else
			fprintf(out, "  %s: %u\n", config_names[i], v);
	}
	if (c->left) {
		fprintf(out, "  %zu more bytes (fields of a newer source):\n",
			c->left);
		hex_dump(out, c->p, c->left);
	}
}

/* One inode line, and the errors of its fields. */
static void print_inode(struct printer *P, const struct pt_mig_inode *e)
{
	FILE *out = P->out;
	const uint8_t *name = (const uint8_t *)e->name;
	uint64_t parent = e->parent;
	unsigned namelen = e->namelen;
	uint8_t kind = e->kind;

	fprintf(out, "  inode %" PRIu64 ": lookups %" PRIu64
		", generation %" PRIu64 ", kind %s", e->nodeid, e->nlookup,
		e->generation, kind <= PT_MIG_FHANDLE ? kind_names[kind] :
		"unknown");
	if (kind == PT_MIG_INVALID)
		fprintf(out, ", errno %" PRIu64 " (%s)", parent,
			parent < 4096 ? strerror((int)parent) : "?");
	else if (kind == PT_MIG_FHANDLE)
		fprintf(out, ", mount %" PRIu64, parent);
	else
		fprintf(out, ", parent %" PRIu64, parent);
	if (kind == PT_MIG_FHANDLE && namelen >= 5) {
		fprintf(out, ", handle type %" PRId32 ", %u bytes ",
			(int32_t)((uint32_t)name[0] | (uint32_t)name[1] << 8 |
				  (uint32_t)name[2] << 16 |
				  (uint32_t)name[3] << 24), namelen - 4u);
		for (unsigned k = 4; k < namelen; k++)
			fprintf(out, "%02x", name[k]);
	} else {
		fputs(", name ", out);
		print_name(out, name, namelen);
	}
	fputc('\n', out);
	P->inodes++;
	if (kind > PT_MIG_FHANDLE)
		err_line(P, "inode %" PRIu64 ": unknown kind %u", e->nodeid,
			 kind);
	if (kind == PT_MIG_FHANDLE && (namelen < 5 || namelen > 132))
		err_line(P, "inode %" PRIu64 ": file handle of %u bytes",
			 e->nodeid, namelen);
	else if (kind != PT_MIG_FHANDLE && namelen > 255)
		err_line(P, "inode %" PRIu64 ": name of %u bytes", e->nodeid,
			 namelen);
	if (e->nodeid == 0)
		err_line(P, "inode with node id 0");
}

/*
 * Print the u32 count that opens a table section (INODES, HANDLES; both
 * versions) and say what is wrong with it: not bounded by the bytes left
 * at min bytes an entry (exact: every entry is min bytes), or no SESSION
 * before.  False when the section has no count at all.
 */
static bool table_count(struct printer *P, struct mig_cur *c, const char *what,
			size_t min, bool exact, uint32_t *count)
{
	*count = mig_c_u32(c);
	if (c->bad) {
		err_line(P, "%s section without a count", what);
		return false;
	}
	fprintf(P->out, "  count: %" PRIu32 "\n", *count);
	if (*count > c->left / min || (exact && *count * min != c->left))
		err_line(P, "%s: count %" PRIu32 " does not fit the "
			 "section's %zu bytes", what, *count, c->left);
	if (!P->sessions)
		err_line(P, "%s before SESSION", what);
	return true;
}

/* Version 1 INODES: u32 count, fixed-width entries. */
static void print_inodes(struct printer *P, struct mig_cur *c)
{
	uint32_t count;

	if (!table_count(P, c, "INODES", MIG_INODE_FIXED, false, &count))
		return;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_inode e;

		if (mig_in1_get(c, &e)) {
			err_line(P, "INODES: truncated at entry %" PRIu32 " of %"
				 PRIu32, i, count);
			return;
		}
		print_inode(P, &e);
	}
	check_done(P, c, "INODES");
}

/* Version 2 INODES2: u32 count, compact entries (mig_compact.h). */
static void print_inodes2(struct printer *P, struct mig_cur *c)
{
	struct mig_delta d = { 0 };
	uint32_t count;

	if (!table_count(P, c, "INODES2", MIG_INODE2_MIN, false, &count))
		return;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_inode e;
		const char *why = mig_in2_get(c, &d, &e);

		if (why) {
			err_line(P, "INODES2: entry %" PRIu32 " of %" PRIu32
				 ": %s", i, count, why);
			return;
		}
		print_inode(P, &e);
	}
	check_done(P, c, "INODES2");
}

static void print_mounts(struct printer *P, struct mig_cur *c)
{
	FILE *out = P->out;
	uint32_t count = mig_c_u32(c);

	if (c->bad) {
		err_line(P, "MOUNTS section without a count");
		return;
	}
	fprintf(out, "  count: %" PRIu32 "\n", count);
	if (!P->sessions)
		err_line(P, "MOUNTS before SESSION");
	for (uint32_t i = 0; i < count; i++) {
		uint64_t id = mig_c_u64(c);
		uint16_t len = mig_c_u16(c);
		const uint8_t *path = c->bad ? NULL : mig_c_bytes(c, len);

		if (c->bad) {
			err_line(P, "MOUNTS: truncated at entry %" PRIu32 " of %"
				 PRIu32, i, count);
			return;
		}
		fprintf(out, "  mount %" PRIu64 ": path ", id);
		print_name(out, path, len);
		fputc('\n', out);
	}
	check_done(P, c, "MOUNTS");
}

static void print_fhandles(struct printer *P, struct mig_cur *c)
{
	FILE *out = P->out;

	while (c->left) {
		uint64_t nodeid = mig_c_u64(c);
		int32_t type = (int32_t)mig_c_u32(c);
		uint16_t len = mig_c_u16(c);
		const uint8_t *b = c->bad ? NULL : mig_c_bytes(c, len);

		if (c->bad) {
			err_line(P, "FHANDLES: truncated");
			return;
		}
		fprintf(out, "  inode %" PRIu64 ": handle type %" PRId32
			", %u bytes ", nodeid, type, len);
		for (unsigned k = 0; k < len; k++)
			fprintf(out, "%02x", b[k]);
		fputc('\n', out);
	}
}

/* One handle line, and the errors of its fields. */
static void print_handle(struct printer *P, const struct pt_mig_handle *h)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR",
					   "O_ACCMODE" };
	FILE *out = P->out;

	fprintf(out, "  handle %" PRIu64 ": inode %" PRIu64 ", %s, flags 0x%"
		PRIx32 " %s", h->fh, h->nodeid,
		h->is_dir ? "directory" : "file", h->flags, acc[h->flags & 3]);
	if (h->flags & ~3u) {
		fputc('|', out);
		print_flags(out, h->flags & ~3u, open_flags,
			    sizeof(open_flags) / sizeof(open_flags[0]));
	}
	fputc('\n', out);
	P->handles++;
	if (h->is_dir > 1)
		err_line(P, "handle %" PRIu64 ": is_dir %u", h->fh, h->is_dir);
	if (h->fh == 0)
		err_line(P, "handle with fh 0");
}

/* Version 1 HANDLES: u32 count, 21-byte entries. */
static void print_handles(struct printer *P, struct mig_cur *c)
{
	uint32_t count;

	if (!table_count(P, c, "HANDLES", MIG_HANDLE_LEN, true, &count))
		return;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_handle h;

		if (mig_h1_get(c, &h)) {
			err_line(P, "HANDLES: truncated at entry %" PRIu32 " of %"
				 PRIu32, i, count);
			return;
		}
		print_handle(P, &h);
	}
	check_done(P, c, "HANDLES");
}

/* Version 2 HANDLES2: u32 count, compact entries (mig_compact.h). */
static void print_handles2(struct printer *P, struct mig_cur *c)
{
	struct mig_delta d = { 0 };
	uint32_t count;

	if (!table_count(P, c, "HANDLES2", MIG_HANDLE2_MIN, false, &count))
		return;
	for (uint32_t i = 0; i < count; i++) {
		struct pt_mig_handle h;
		const char *why = mig_h2_get(c, &d, &h);

		if (why) {
			err_line(P, "HANDLES2: entry %" PRIu32 " of %" PRIu32
				 ": %s", i, count, why);
			return;
		}
		print_handle(P, &h);
	}
	check_done(P, c, "HANDLES2");
}

static void print_counters(struct printer *P, struct mig_cur *c)
{
	uint64_t next_nodeid = mig_c_u64(c);
	uint64_t next_fh = mig_c_u64(c);

	if (P->counters++)
		err_line(P, "more than one COUNTERS section");
	if (!c->bad)
		fprintf(P->out, "  next node id: %" PRIu64 "\n  next fh: %"
			PRIu64 "\n", next_nodeid, next_fh);
	check_done(P, c, "COUNTERS");
}

static void print_unknown(struct printer *P, uint32_t type, uint32_t flags,
			  struct mig_cur *c)
{
	P->unknown++;
	if (flags & MIG_SECF_MUST_UNDERSTAND)
		err_line(P, "unknown section %" PRIu32 " is must-understand: "
			 "no reader of this version can load the blob", type);
	else
		fprintf(P->out, "  unknown, not must-understand: a reader "
			"skips it\n");
	hex_dump(P->out, c->p, c->left);
}

/* Decode and print the stream on fd; see mig_print.h. */
int mig_print(int fd, FILE *out)
{
	struct printer P = { .out = out };
	struct mig_reader r;
	struct mig_cur c;
	uint32_t type = 0, flags = 0;
	uint64_t offset;
	int ret;

	/* Any version: we print what we can, and say so. */
	ret = mig_r_init(&r, fd, UINT32_MAX);
	if (!ret || !r.why || strcmp(r.why, "truncated header") != 0) {
		fputs("header: magic ", out);
		print_name(out, (const uint8_t *)r.magic, MIG_MAGIC_LEN);
		fprintf(out, ", version %" PRIu32 ", oldest compatible %" PRIu32
			"\n", r.version, r.oldest);
	}
	if (ret) {
		err_line(&P, "header: %s", ret == -EBADMSG && r.why ? r.why :
			 strerror(-ret));
		goto summary;
	}
	if (r.oldest > MIG_STATE_VERSION)
		err_line(&P, "the stream needs a reader of version %" PRIu32
			 " at least; this one reads version %d",
			 r.oldest, MIG_STATE_VERSION);
	for (;;) {
		offset = r.total;
		ret = mig_r_next(&r, &type, &flags, &c);
		if (ret != 1)
			break;
		P.sections++;
		fprintf(out, "section %s (type %" PRIu32 ") at offset %" PRIu64
			": flags 0x%" PRIx32 "%s, %zu bytes\n",
			section_name(type), type, offset, flags,
			flags & MIG_SECF_MUST_UNDERSTAND ?
			" (must-understand)" : "", c.left);
		switch (type) {
		case MIG_SEC_SESSION: print_session(&P, &c); break;
		case MIG_SEC_CONFIG: print_config(&P, &c); break;
		case MIG_SEC_INODES: print_inodes(&P, &c); break;
		case MIG_SEC_HANDLES: print_handles(&P, &c); break;
		case MIG_SEC_INODES2: print_inodes2(&P, &c); break;
		case MIG_SEC_HANDLES2: print_handles2(&P, &c); break;
		case MIG_SEC_COUNTERS: print_counters(&P, &c); break;
		case MIG_SEC_MOUNTS: print_mounts(&P, &c); break;
		case MIG_SEC_FHANDLES: print_fhandles(&P, &c); break;
		default: print_unknown(&P, type, flags, &c); break;
		}
	}
	if (r.end_read)
		fprintf(out, "section END at offset %" PRIu64 ": checksum %s "
			"(stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")\n",
			offset, r.end_crc_stored == r.end_crc_computed ? "OK" :
			"MISMATCH", r.end_crc_stored, r.end_crc_computed);
	if (ret < 0)
		err_line(&P, "stream after %" PRIu64 " bytes: %s", offset,
			 ret == -EBADMSG && r.why ? r.why : strerror(-ret));
	if (!P.sessions)
		err_line(&P, "no SESSION section");
	if (!P.counters)
		err_line(&P, "no COUNTERS section");
summary:
	fprintf(out, "summary: %" PRIu64 " sections (%" PRIu64 " unknown), %"
		PRIu64 " inodes, %" PRIu64 " handles, %" PRIu64 " bytes: %s"
		"\n", P.sections, P.unknown, P.inodes, P.handles, r.total,
		P.errors ? "INVALID" : "valid");
	if (P.errors)
		fprintf(out, "%u error%s\n", P.errors, P.errors == 1 ? "" : "s");
	mig_r_free(&r);
	return P.errors ? 1 : 0;
}
