/*
 * fuzz_mig_load.c - libFuzzer target: the device-state loader (mig_load)
 * reading the input from a memfd, against a passthrough fs on a temporary
 * tree.  Each run starts from a root-only fs: a failed load must have
 * applied nothing (checked), a successful one is undone by a reset.
 * The same input then goes through `--print-state`'s decoder (mig_print),
 * which must agree: a stream the loader took is a valid blob.  Seeds
 * (make_corpus.py) cover format versions 1 and 2.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

#include "fuse_virtio.h"
#include "fuzz_fs.h"
#include "mig_print.h"
#include "mig_state.h"

static struct fuzz_fs *F;
static struct mig_ctx ctx;
static int memfd = -1;
static FILE *devnull;

/* libFuzzer: one-time set-up. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	F = fuzz_fs_setup();
	ctx = (struct mig_ctx){ .se = F->se, .fs = F->fs, .cfg = &F->cfg };
	memfd = memfd_create("fuzz-state", MFD_CLOEXEC);
	devnull = fopen("/dev/null", "we");
	return memfd < 0 || !devnull;
}

/* libFuzzer: one input = one state stream. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ret;

	if (ftruncate(memfd, 0) < 0 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size ||
	    lseek(memfd, 0, SEEK_SET) != 0)
		abort();
	ret = mig_load(&ctx, memfd);
	/* A failed load applied nothing: the reset finds the root alone.
	 * A good one filled the tables: the reset empties them again. */
	if (ret) {
		struct pt_stats st;

		pt_fs_stats(F->fs, &st);
		if (st.inodes != 1 || st.handles != 0)
			abort();
	}
	fuzz_fs_reset(F, false);
	if (ret == 0)
		fuzz_fs_restore_tree(F);
	if (lseek(memfd, 0, SEEK_SET) != 0)
		abort();
	if (mig_print(memfd, devnull) != 0 && ret == 0)
		abort();
	return 0;
}
