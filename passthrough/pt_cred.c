/*
 * pt_cred.c - run an op with the credentials of the guest caller.
 *
 * Approach.  When the daemon runs as root, ops that create files or check
 * permissions switch the *calling thread's* effective ids (and so its
 * fsuid/fsgid) to the caller's with raw syscalls:
 *     syscall(SYS_setresgid, -1, gid, -1); syscall(SYS_setresuid, -1, uid, -1)
 * glibc's wrappers would broadcast the change to every thread.  Real and
 * saved ids stay 0, so switching back is always allowed.
 *
 * Capabilities: we rely on the kernel's "setuid fixup": when the effective
 * uid goes from 0 to non-zero, the effective capability set is cleared, so
 * the host kernel checks permissions exactly as for that user (no
 * CAP_DAC_OVERRIDE, CAP_FOWNER, ...); when it goes back to 0 the effective
 * set is restored from the permitted set, which the daemon never lowers
 * while serving.  A caller with uid 0 keeps the daemon's capabilities, as
 * guest root should.  For this to hold, SECBIT_NO_SETUID_FIXUP must be
 * off: pt_cred_setup() checks it and clears it if it can (an earlier
 * sandbox step could have set it), and refuses to start otherwise.
 *
 * Supplementary groups: the daemon drops its own at start (else every
 * caller would inherit root's groups).  With FUSE_CREATE_SUPP_GROUP the
 * request's supplementary group is installed per thread with
 * syscall(SYS_setgroups) for the duration of the op.
 *
 * When the daemon is not root, nothing is switched: the host checks
 * permissions as the daemon's user.
 *
 * --translate-uid/gid (pt_idmap.c): the caller's uid, gid and
 * supplementary group are mapped guest -> host before the switch (a
 * forbid-guest id fails the request with EPERM, root daemon or not);
 * pt_attr_to_guest() / pt_ids_to_host() map the ids of attributes and of
 * chown.
 *
 * Syscalls: setresuid, setresgid, setgroups, prctl(PR_GET/SET_SECUREBITS).
 */
#include <grp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include "pt_internal.h"
#include "pt_idmap.h"
#include "log.h"

/* Prepare credential switching (once, before threads). 0 or errno. */
int pt_cred_setup(struct pt_fs *fs)
{
	int bits;

	fs->switch_creds = geteuid() == 0;
	fs->daemon_gid = getegid();
	if (!fs->switch_creds)
		return 0;
	if (setgroups(0, NULL) < 0)
		LOG_WARN("passthrough: cannot drop supplementary groups: %m");
	bits = prctl(PR_GET_SECUREBITS);
	if (bits < 0)
		return -errno;
	if (bits & (1 << SECURE_NO_SETUID_FIXUP)) {
		if (prctl(PR_SET_SECUREBITS,
			  bits & ~(1 << SECURE_NO_SETUID_FIXUP)) < 0) {
			int e = errno;

			LOG_ERR("passthrough: SECBIT_NO_SETUID_FIXUP is set and "
				"cannot be cleared; per-request credentials would "
				"keep root's capabilities");
			return -e;
		}
	}
	return 0;
}

/* Switch this thread to the caller of req. 0 or negative errno. */
int pt_cred_enter(struct pt_fs *fs, fuse_req_t req, struct pt_cred *save)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	uid_t uid = ctx->uid;
	gid_t gid = ctx->gid, sg;
	bool has_sg;
	int r;

	save->switched = false;
	save->groups = false;
	has_sg = atomic_load(&fs->supp_group) && fuse_req_supp_gid(req, &sg) == 0;
	r = pt_ids_to_host(fs, &uid, &gid);
	if (!r && has_sg)
		r = pt_idmap_to_host(fs->cfg.gid_map, sg, &sg);
	if (r || !fs->switch_creds)
		return r;
	if (has_sg) {
		if (syscall(SYS_setgroups, 1, &sg) < 0)
			return -errno;
		save->groups = true;
	}
	if (uid == 0 && gid == fs->daemon_gid) {
		save->switched = save->groups;
		return 0;
	}
	if (syscall(SYS_setresgid, -1, gid, -1) < 0) {
		int e = errno;

		if (save->groups && syscall(SYS_setgroups, 0, NULL) < 0)
			abort();
		save->groups = false;
		return -e;
	}
	if (syscall(SYS_setresuid, -1, uid, -1) < 0) {
		int e = errno;

		if (syscall(SYS_setresgid, -1, fs->daemon_gid, -1) < 0)
			abort();
		if (save->groups && syscall(SYS_setgroups, 0, NULL) < 0)
			abort();
		save->groups = false;
		return -e;
	}
	save->switched = true;
	return 0;
}

/* Map the ids of attributes going to the guest (host -> guest). */
void pt_attr_to_guest(struct pt_fs *fs, struct stat *st)
{
	if (fs->cfg.uid_map)
		st->st_uid = pt_idmap_to_guest(fs->cfg.uid_map, st->st_uid);
	if (fs->cfg.gid_map)
		st->st_gid = pt_idmap_to_guest(fs->cfg.gid_map, st->st_gid);
}

/*
 * Map guest ids to host ids in place; (uid_t)-1 / (gid_t)-1 ("leave
 * unchanged") stay as they are.  0 or -EPERM (a forbid-guest id).
 */
int pt_ids_to_host(struct pt_fs *fs, uid_t *uid, gid_t *gid)
{
	int r = 0;

	if (uid && *uid != (uid_t)-1)
		r = pt_idmap_to_host(fs->cfg.uid_map, *uid, uid);
	if (!r && gid && *gid != (gid_t)-1)
		r = pt_idmap_to_host(fs->cfg.gid_map, *gid, gid);
	return r;
}

/* Switch this thread back to the daemon's credentials. */
void pt_cred_leave(struct pt_fs *fs, struct pt_cred *save)
{
	if (!save->switched)
		return;
	/* uid first: getting euid 0 back restores the capabilities that
	 * setresgid/setgroups need. */
	if (syscall(SYS_setresuid, -1, 0, -1) < 0 ||
	    syscall(SYS_setresgid, -1, fs->daemon_gid, -1) < 0 ||
	    (save->groups && syscall(SYS_setgroups, 0, NULL) < 0)) {
		/* A thread stuck with a guest user's ids must not serve. */
		LOG_ERR("passthrough: cannot restore credentials: %m");
		abort();
	}
	save->switched = false;
	save->groups = false;
}

/*
 * Kill suid/sgid: when the guest flags a WRITE (FUSE_WRITE_KILL_SUIDGID,
 * also without HANDLE_KILLPRIV_V2: direct writes carry it) or, with
 * HANDLE_KILLPRIV_V2, a truncating OPEN / SETATTR(size), the syscall runs
 * with CAP_FSETID removed from this thread's effective set (capset acts
 * on the calling thread only), so the host kernel clears the bits as it
 * would for an unprivileged writer.  Syscalls: capget, capset.
 */
static int caps_get(struct __user_cap_header_struct *h,
		    struct __user_cap_data_struct d[2])
{
	h->version = _LINUX_CAPABILITY_VERSION_3;
	h->pid = 0;
	return (int)syscall(SYS_capget, h, d);
}

/* Drop CAP_FSETID from this thread's effective set if it is there.
 * *dropped tells pt_cap_restore_fsetid() what to undo. 0 or errno. */
int pt_cap_drop_fsetid(bool *dropped)
{
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct d[2];

	*dropped = false;
	if (caps_get(&h, d) < 0)
		return -errno;
	if (!(d[0].effective & (1u << CAP_FSETID)))
		return 0;
	d[0].effective &= ~(1u << CAP_FSETID);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	*dropped = true;
	return 0;
}

/* Give CAP_FSETID back after pt_cap_drop_fsetid(). */
void pt_cap_restore_fsetid(bool dropped)
{
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct d[2];

	if (!dropped)
		return;
	if (caps_get(&h, d) < 0)
		abort();
	d[0].effective |= 1u << CAP_FSETID;
	if (syscall(SYS_capset, &h, d) < 0) {
		LOG_ERR("passthrough: cannot restore CAP_FSETID: %m");
		abort();
	}
}
