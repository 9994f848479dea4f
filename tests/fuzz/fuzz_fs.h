/*
 * fuzz_fs.h - shared set-up of the libFuzzer targets: a passthrough file
 * system on a small temporary tree, its FUSE session and a worker.
 */
#ifndef FUZZ_FS_H
#define FUZZ_FS_H

#include <stdbool.h>
#include <stdint.h>

#include "passthrough.h"

struct fuse_session;
struct fuse_worker;

struct fuzz_fs {
	char dir[64];                 /* the shared directory */
	struct pt_config cfg;
	struct pt_fs *fs;
	struct fuse_session *se;
	struct fuse_worker *w;
};

/*
 * Create the tree (a file, nested directories, a symlink, a file in the
 * migration's hidden directory), the file system, the session and a
 * worker; quiet logging; file size limited to 1 MiB.  Exits on failure.
 * Returns the fixture (never freed: one per process).
 */
struct fuzz_fs *fuzz_fs_setup(void);

/* Put back the tree's hidden-directory file that a migration load
 * consumes (cheap when it is there). */
void fuzz_fs_restore_tree(struct fuzz_fs *f);

/* Forget all FUSE state (as RESET_DEVICE) and, when init, negotiate INIT
 * again.  Exits if the tables do not go back to the root alone. */
void fuzz_fs_reset(struct fuzz_fs *f, bool init);

#endif
