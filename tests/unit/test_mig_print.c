/*
 * test_mig_print.c - `virtiofsd --print-state` (migration/mig_print.c) on
 * a real blob: a passthrough fs on a temporary tree gets INIT, lookups
 * (one of a non-UTF-8 name) and open handles through the FUSE session,
 * mig_save writes the state, and the printer's output must show every
 * part of it.  Then a corrupted, a truncated, a foreign and an extended
 * blob.  argv[1], when given, is the virtiofsd binary: its exit status
 * is checked too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/fuse.h>

#include "fuse_virtio.h"
#include "log.h"
#include "mig_print.h"
#include "mig_state.h"
#include "mig_stream.h"
#include "passthrough.h"

#include "unit_check.h"

static struct fuse_worker *worker;
static uint64_t unique;
static uint8_t reply[1 << 16];

/* One request: header + one argument block.  Returns the reply's payload
 * length or its negative error. */
static long call(uint32_t op, uint64_t nodeid, const void *arg, size_t len,
		 void *out, size_t outsz)
{
	struct fuse_in_header h = {
		.len = (uint32_t)(sizeof(h) + len), .opcode = op,
		.unique = ++unique, .nodeid = nodeid, .pid = 1,
	};
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)arg, len } };
	struct iovec in = { reply, sizeof(reply) };
	struct fuse_out_header oh;
	size_t written = 0;

	if (fuse_session_process(worker, iov, 2, &in, 1, &written) ||
	    written < sizeof(oh))
		return -1000;
	memcpy(&oh, reply, sizeof(oh));
	if (oh.error)
		return oh.error;
	if (out)
		memcpy(out, reply + sizeof(oh), outsz);
	return (long)(written - sizeof(oh));
}

static uint64_t lookup(uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	CHECK(call(FUSE_LOOKUP, parent, name, strlen(name) + 1, &e,
		   sizeof(e)) >= 0);
	return e.nodeid;
}

static uint64_t open_(uint32_t op, uint64_t ino, uint32_t flags)
{
	struct fuse_open_in oi = { .flags = flags };
	struct fuse_open_out oo;

	CHECK(call(op, ino, &oi, sizeof(oi), &oo, sizeof(oo)) >= 0);
	return oo.fh;
}

/* Print the blob in fd (from its start) into a string; *rc: mig_print's
 * result.  The caller frees the string. */
static char *print_fd(int fd, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	lseek(fd, 0, SEEK_SET);
	*rc = mig_print(fd, f);
	fclose(f);
	return buf;
}

/* A memfd holding len bytes of p. */
static int blob_fd(const void *p, size_t len)
{
	int fd = memfd_create("blob", 0);

	CHECK(fd >= 0 && write(fd, p, len) == (ssize_t)len);
	return fd;
}

/* Run `virtiofsd --print-state -` with fd as stdin; returns the exit
 * status (output discarded). */
static int run_binary(const char *exe, int fd)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		lseek(fd, 0, SEEK_SET);
		dup2(fd, 0);
		dup2(null, 1);
		execl(exe, exe, "--shared-dir", "/nonexistent", "--print-state",
		      "-", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

#define HAS(s, sub) do { \
	if (!strstr((s), (sub))) { \
		fprintf(stderr, "%s:%d: output lacks \"%s\"\n", __FILE__, \
			__LINE__, (sub)); \
		failures++; \
	} \
} while (0)

int main(int argc, char **argv)
{
	char dir[] = "/tmp/test_mig_print.XXXXXX", path[256], cmd[300];
	struct pt_config cfg = { .readdirplus = true, .writeback = true,
				 .xattr = true };
	struct fuse_init_in ii = { .major = 7, .minor = 38,
				   .max_readahead = 65536 };
	struct fuse_init_out io;
	const char *exe = argc > 1 ? argv[1] : NULL;
	struct fuse_session *se;
	struct mig_ctx ctx;
	struct pt_fs *fs;
	uint64_t sub, file, odd, fh, dfh;
	uint8_t *blob;
	char *text;
	off_t len;
	int err = 0, fd, rc;

	vlog_init(VLOG_ERROR, false);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/sub/file", dir);
	CHECK(close(open(path, O_CREAT | O_WRONLY, 0644)) == 0);
	snprintf(path, sizeof(path), "%s/caf\xe9\x01\xc3\xa9", dir);
	CHECK(close(open(path, O_CREAT | O_WRONLY, 0644)) == 0);

	cfg.shared_dir = dir;
	fs = pt_fs_new(&cfg, &err);
	CHECK(fs != NULL);
	if (!fs)
		return 1;
	se = fuse_virtio_session_new(pt_lowlevel_ops(),
				     sizeof(struct fuse_lowlevel_ops),
				     pt_virtio_ops(), fs);
	worker = fuse_worker_new(se);
	ii.flags = FUSE_ASYNC_READ | FUSE_WRITEBACK_CACHE | FUSE_INIT_EXT;
	ii.flags2 = (uint32_t)(FUSE_SECURITY_CTX >> 32);
	CHECK(call(FUSE_INIT, 0, &ii, sizeof(ii), &io, sizeof(io)) > 0);
	sub = lookup(1, "sub");
	file = lookup(sub, "file");
	odd = lookup(1, "caf\xe9\x01\xc3\xa9");
	lookup(sub, "file");
	fh = open_(FUSE_OPEN, file, O_RDWR | O_APPEND);
	dfh = open_(FUSE_OPENDIR, sub, O_RDONLY | O_DIRECTORY);

	/* A real blob, as the daemon saves it. */
	ctx = (struct mig_ctx){ .se = se, .fs = fs, .cfg = &cfg };
	fd = memfd_create("state", 0);
	CHECK(pt_mig_prepare(fs) == 0);
	CHECK(mig_save(&ctx, fd) == 0);
	pt_mig_save_done(fs);
	text = print_fd(fd, &rc);
	CHECK(rc == 0);
	HAS(text, "header: magic \"VFSDSTAT\", version 2, oldest compatible 2");
	HAS(text, "section SESSION (type 1) at offset 16: flags 0x1 "
		  "(must-understand), 29 bytes");
	HAS(text, "  initialized: 1\n");
	HAS(text, "  FUSE version: 7.38\n");
	HAS(text, "FUSE_ASYNC_READ|");
	HAS(text, "FUSE_WRITEBACK_CACHE");
	HAS(text, "section CONFIG (type 2)");
	HAS(text, "  cache: auto (0)\n  writeback: 1\n  xattr: 1\n");
	HAS(text, "section INODES2 (type 8)");
	HAS(text, "  inode 1: lookups ");
	snprintf(path, sizeof(path), "  inode %llu: lookups 2, generation 0, "
		 "kind PATH, parent %llu, name \"file\"\n",
		 (unsigned long long)file, (unsigned long long)sub);
	HAS(text, path);
	snprintf(path, sizeof(path), "  inode %llu: lookups 1, generation 0, "
		 "kind PATH, parent 1, name \"caf\\xe9\\x01\xc3\xa9\"\n",
		 (unsigned long long)odd);
	HAS(text, path);
	snprintf(path, sizeof(path), "  handle %llu: inode %llu, file, flags "
		 "0x%x O_RDWR|O_APPEND", (unsigned long long)fh,
		 (unsigned long long)file, O_RDWR | O_APPEND);
	HAS(text, path);
	snprintf(path, sizeof(path), "  handle %llu: inode %llu, directory",
		 (unsigned long long)dfh, (unsigned long long)sub);
	HAS(text, path);
	HAS(text, "section HANDLES2 (type 9)");
	HAS(text, "section COUNTERS (type 5)");
	HAS(text, "  next node id: ");
	HAS(text, ": checksum OK (stored 0x");
	HAS(text, "summary: 5 sections (0 unknown), 4 inodes, 2 handles, ");
	HAS(text, ": valid\n");
	if (getenv("V"))
		fputs(text, stdout);
	free(text);
	if (exe)
		CHECK(run_binary(exe, fd) == 0);

	len = lseek(fd, 0, SEEK_END);
	blob = malloc((size_t)len);
	CHECK(pread(fd, blob, (size_t)len, 0) == len);

	/* One flipped bit in the COUNTERS section: decoded, but the checksum says
	 * MISMATCH with both values. */
	{
		int cfd;

		blob[len - 40] ^= 0x20;
		cfd = blob_fd(blob, (size_t)len);
		blob[len - 40] ^= 0x20;
		text = print_fd(cfd, &rc);
		CHECK(rc == 1);
		HAS(text, ": checksum MISMATCH (stored 0x");
		HAS(text, "error: stream after ");
		HAS(text, "checksum mismatch");
		HAS(text, "INVALID");
		free(text);
		if (exe)
			CHECK(run_binary(exe, cfd) == 1);
		close(cfd);
	}
	/* Truncated in the middle of the INODES section: what came before
	 * is shown, then the error. */
	{
		int tfd = blob_fd(blob, 100);

		text = print_fd(tfd, &rc);
		CHECK(rc == 1);
		HAS(text, "section SESSION");
		HAS(text, "error: stream after ");
		HAS(text, "truncated section payload");
		CHECK(!strstr(text, "checksum OK"));
		free(text);
		if (exe)
			CHECK(run_binary(exe, tfd) == 1);
		close(tfd);
	}
	/* Every possible truncation must be an error, never a crash. */
	for (off_t cut = 0; cut < len; cut++) {
		int tfd = blob_fd(blob, (size_t)cut);

		text = print_fd(tfd, &rc);
		CHECK(rc == 1);
		CHECK(strstr(text, "error: ") != NULL);
		free(text);
		close(tfd);
	}
	/* Not a state blob at all. */
	{
		int ffd = blob_fd("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff"
				  "\x00", 17);

		text = print_fd(ffd, &rc);
		CHECK(rc == 1);
		HAS(text, "header: magic \"GIF89a\\x01\\x00\"");
		HAS(text, "error: header: bad magic");
		free(text);
		close(ffd);
	}
	/* A version-1 blob (as a source before the compact format wrote
	 * it), hand-built: decoded as well. */
	{
		struct mig_writer w;
		int vfd = memfd_create("v1", 0);

		CHECK(mig_w_init(&w, vfd, 1, 1) == 0);
		mig_w_begin(&w, MIG_SEC_SESSION, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u8(&w, 1);
		mig_w_u32(&w, 31);
		mig_w_u64(&w, FUSE_ASYNC_READ);
		mig_w_u32(&w, 4096);
		mig_w_u32(&w, 0);
		mig_w_u32(&w, 1);
		mig_w_u16(&w, 16);
		mig_w_u16(&w, 12);
		mig_w_end(&w);
		mig_w_begin(&w, MIG_SEC_INODES, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(&w, 2);
		mig_w_u64(&w, 1);   /* root */
		mig_w_u64(&w, 2);
		mig_w_u64(&w, 0);
		mig_w_u8(&w, PT_MIG_ROOT);
		mig_w_u64(&w, 0);
		mig_w_u16(&w, 0);
		mig_w_u64(&w, 300);
		mig_w_u64(&w, 4);
		mig_w_u64(&w, 77);
		mig_w_u8(&w, PT_MIG_PATH);
		mig_w_u64(&w, 1);
		mig_w_u16(&w, 3);
		mig_w_bytes(&w, "old", 3);
		mig_w_end(&w);
		mig_w_begin(&w, MIG_SEC_HANDLES, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(&w, 1);
		mig_w_u64(&w, 9);
		mig_w_u64(&w, 300);
		mig_w_u32(&w, O_WRONLY);
		mig_w_u8(&w, 0);
		mig_w_end(&w);
		mig_w_begin(&w, MIG_SEC_COUNTERS, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u64(&w, 301);
		mig_w_u64(&w, 10);
		mig_w_end(&w);
		CHECK(mig_w_finish(&w) == 0);
		text = print_fd(vfd, &rc);
		CHECK(rc == 0);
		HAS(text, "version 1, oldest compatible 1");
		HAS(text, "section INODES (type 3)");
		HAS(text, "  inode 1: lookups 2, generation 0, kind ROOT, "
			  "parent 0, name \"\"\n");
		HAS(text, "  inode 300: lookups 4, generation 77, kind PATH, "
			  "parent 1, name \"old\"\n");
		HAS(text, "section HANDLES (type 4)");
		HAS(text, "  handle 9: inode 300, file, flags 0x1 O_WRONLY\n");
		HAS(text, "summary: 4 sections (0 unknown), 2 inodes, 1 handles");
		HAS(text, ": valid\n");
		if (getenv("V"))
			fputs(text, stdout);
		free(text);
		if (exe)
			CHECK(run_binary(exe, vfd) == 0);
		close(vfd);
	}
	/* Compact sections in bad shape: an entry with reserved flag bits,
	 * a count the section cannot hold, an overlong varint. */
	{
		struct mig_writer w;
		int bfd = memfd_create("bad2", 0);

		CHECK(mig_w_init(&w, bfd, 2, 2) == 0);
		mig_w_begin(&w, MIG_SEC_INODES2, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(&w, 2);
		mig_w_u8(&w, 2);      /* node id +1 */
		mig_w_u8(&w, 0x30);   /* ROOT, same parent, 1 lookup */
		mig_w_u8(&w, 0);      /* no name */
		mig_w_u8(&w, 2);
		mig_w_u8(&w, 0x81);   /* reserved bit */
		mig_w_u8(&w, 0);
		mig_w_end(&w);
		mig_w_begin(&w, MIG_SEC_HANDLES2, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(&w, 3);
		mig_w_u8(&w, 2);
		mig_w_u8(&w, 2);
		mig_w_u8(&w, 0);
		mig_w_end(&w);
		mig_w_begin(&w, MIG_SEC_HANDLES2, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u32(&w, 1);
		mig_w_bytes(&w, "\x82\x00\x02\x00", 4);   /* fh +1, overlong */
		mig_w_end(&w);
		CHECK(mig_w_finish(&w) == 0);
		text = print_fd(bfd, &rc);
		CHECK(rc == 1);
		HAS(text, "section INODES2 (type 8)");
		HAS(text, "  inode 1: lookups 1, generation 0, kind ROOT");
		HAS(text, "error: INODES2: entry 1 of 2: reserved flag bits set");
		HAS(text, "error: HANDLES2: count 3 does not fit the section's "
			  "3 bytes");
		HAS(text, "error: HANDLES2: entry 0 of 1: truncated or bad "
			  "varint");
		free(text);
		close(bfd);
	}
	/* Sections a newer source might add, a section in bad shape. */
	{
		struct mig_writer w;
		int xfd = memfd_create("x", 0);

		CHECK(mig_w_init(&w, xfd, 2, 1) == 0);
		mig_w_begin(&w, 77, 0);
		mig_w_bytes(&w, "pre-copy hints", 14);
		mig_w_end(&w);
		mig_w_begin(&w, MIG_SEC_COUNTERS, MIG_SECF_MUST_UNDERSTAND);
		mig_w_u64(&w, 7);
		mig_w_end(&w);
		mig_w_begin(&w, 78, MIG_SECF_MUST_UNDERSTAND);
		mig_w_end(&w);
		CHECK(mig_w_finish(&w) == 0);
		text = print_fd(xfd, &rc);
		CHECK(rc == 1);
		HAS(text, "version 2, oldest compatible 1");
		HAS(text, "section unknown (type 77) at offset 16: flags 0x0, "
			  "14 bytes\n  unknown, not must-understand");
		HAS(text, "|pre-copy hints|");
		HAS(text, "error: COUNTERS section truncated");
		HAS(text, "error: unknown section 78 is must-understand");
		HAS(text, "error: no SESSION section");
		HAS(text, "checksum OK");
		free(text);
		close(xfd);
	}

	free(blob);
	close(fd);
	fuse_worker_free(worker);
	fuse_virtio_session_free(se);
	pt_fs_free(fs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
