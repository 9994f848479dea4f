/*
 * vfe_mig.h - the QEMU side of device-state migration for the functional
 * tests: SET_DEVICE_STATE_FD / CHECK_DEVICE_STATE, saving a source's
 * state through a pipe, loading it into a destination, and bringing up a
 * destination daemon on the source's shared directory.  Every failure
 * fails the running case (CHECK).
 */
#ifndef VFE_MIG_H
#define VFE_MIG_H

#include <stddef.h>
#include <stdint.h>
#include "vfe_test.h"

/* SET_DEVICE_STATE_FD directions. */
#define VFE_MIG_SAVE 0u
#define VFE_MIG_LOAD 1u

/*
 * Send SET_DEVICE_STATE_FD(dir, phase STOPPED, fd) on dev and wait for the
 * reply.  Returns the reply's value (0x100: the back-end uses our fd).
 */
uint64_t vfe_mig_set_state_fd(struct vfe_dev *dev, uint32_t dir, int fd);

/* Send CHECK_DEVICE_STATE on dev; returns the reply's value (0 = ok). */
uint64_t vfe_mig_check_state(struct vfe_dev *dev);

/*
 * Stop e's rings (if running) and save its state through a pipe, as QEMU
 * does; CHECK_DEVICE_STATE must say 0.  Returns the blob (malloc'ed, the
 * caller frees it) and its size in *len.
 */
uint8_t *vfe_mig_save(struct vfe_env *e, size_t *len);

/*
 * Load p[0..len) into e (rings never started) through a pipe; a daemon
 * that stops reading ends the write early.  Returns CHECK_DEVICE_STATE's
 * value (0 = loaded).
 */
uint64_t vfe_mig_load(struct vfe_env *e, const uint8_t *p, size_t len);

/*
 * Start a destination daemon in the case's subdirectory sub, serving
 * src's shared directory with extra arguments (NULL-terminated, may be
 * NULL); connect and negotiate, start nothing.
 */
void vfe_mig_dest_up(struct vfe_env *e, const struct vfe_env *src,
		     const char *sub, const char *const *extra);

/*
 * Start e's rings and set up its FUSE client as the guest left it on src
 * (no new INIT; request ids go on from src's).
 */
void vfe_mig_dest_start(struct vfe_env *e, const struct vfe_env *src);

#endif
