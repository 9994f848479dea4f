/*
 * caps.h - the daemon's capability set (libcap-ng): what it keeps when
 * started as root, and --modcaps.
 */
#ifndef CAPS_H
#define CAPS_H

#include <stdbool.h>
#include <stdint.h>

/* --modcaps, already resolved: bit n stands for capability n. */
struct vfs_modcaps {
	uint64_t add;
	uint64_t drop;
};

/*
 * Parse a --modcaps value "+name:-name:..." (names without the CAP_
 * prefix, case-insensitive, e.g. "+sys_admin:-mknod") into *m, replacing
 * what was there; later entries override earlier ones for the same
 * capability.  Prints one line naming opt on error.  Returns 0 or -EINVAL.
 */
int vfs_modcaps_parse(const char *opt, const char *s, struct vfs_modcaps *m);

/*
 * The capabilities the daemon keeps as root: CHOWN, DAC_OVERRIDE, FOWNER,
 * FSETID, SETGID, SETUID, MKNOD, SETFCAP, plus DAC_READ_SEARCH when
 * file_handles is set, then m applied (m may be NULL).  Bit n = cap n.
 */
uint64_t vfs_caps_kept(bool file_handles, const struct vfs_modcaps *m);

/*
 * Reduce the process to its working capability set.  Call once, after the
 * sandbox is set up and before any thread exists (capabilities are per
 * thread).  Effective ids 0: permitted = effective = bounding =
 * vfs_caps_kept(), inheritable and ambient empty; the securebits are not
 * touched, so the setuid fixup that passthrough's per-thread credential
 * switch relies on stays on.  Otherwise every capability is dropped (e.g.
 * those held inside our own user namespace).  Returns 0 or a negative
 * errno (logged).
 */
int vfs_caps_drop(bool file_handles, const struct vfs_modcaps *m);

#endif
