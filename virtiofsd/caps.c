/*
 * caps.c - capability set of the daemon, with libcap-ng.
 *
 * Why these capabilities: passthrough creates files for guest users and
 * then sets their owner (CHOWN), opens and checks on behalf of any guest
 * user with the kernel doing the final check after the per-thread id
 * switch (DAC_OVERRIDE, FOWNER for guest root), keeps suid/sgid bits the
 * guest asks for (FSETID), switches per-thread ids (SETUID, SETGID),
 * creates device nodes and FIFOs for guest root (MKNOD) and writes
 * security.capability (SETFCAP).  DAC_READ_SEARCH is what
 * open_by_handle_at() needs.  Everything else goes, the bounding set too.
 *
 * Syscalls: capget, capset, prctl (PR_CAPBSET_READ/DROP).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cap-ng.h>
#include <linux/capability.h>

#include "caps.h"
#include "log.h"

static const int base_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETGID,
	CAP_SETUID, CAP_MKNOD, CAP_SETFCAP,
};

int vfs_modcaps_parse(const char *opt, const char *s, struct vfs_modcaps *m)
{
	char *copy = strdup(s), *save = NULL, *tok;
	struct vfs_modcaps r = { 0, 0 };
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	if (!*copy) {
		fprintf(stderr, "virtiofsd: empty value for '%s'\n", opt);
		ret = -EINVAL;
	}
	/* strsep, not strtok: "+a::-b" has an empty entry, an error. */
	save = copy;
	while (!ret && (tok = strsep(&save, ":"))) {
		int cap;

		if ((tok[0] != '+' && tok[0] != '-') || !tok[1]) {
			fprintf(stderr, "virtiofsd: invalid entry '%s' in '%s': "
				"expected +capability or -capability\n", tok, opt);
			ret = -EINVAL;
			break;
		}
		cap = capng_name_to_capability(tok + 1);
		if (cap < 0 || cap > 63) {
			fprintf(stderr, "virtiofsd: unknown capability '%s' in '%s'\n",
				tok + 1, opt);
			ret = -EINVAL;
			break;
		}
		if (tok[0] == '+') {
			r.add |= 1ULL << cap;
			r.drop &= ~(1ULL << cap);
		} else {
			r.drop |= 1ULL << cap;
			r.add &= ~(1ULL << cap);
		}
	}
	free(copy);
	if (!ret)
		*m = r;
	return ret;
}

uint64_t vfs_caps_kept(bool file_handles, const struct vfs_modcaps *m)
{
	uint64_t set = 0;

	for (size_t i = 0; i < sizeof(base_caps) / sizeof(base_caps[0]); i++)
		set |= 1ULL << base_caps[i];
	if (file_handles)
		set |= 1ULL << CAP_DAC_READ_SEARCH;
	if (m)
		set = (set | m->add) & ~m->drop;
	return set;
}

int vfs_caps_drop(bool file_handles, const struct vfs_modcaps *m)
{
	uint64_t keep = vfs_caps_kept(file_handles, m);
	int ret;

	if (geteuid() != 0) {
		/* Nothing to keep: the host checks as the daemon's user.
		 * The bounding set needs CAP_SETPCAP; we may not have it. */
		capng_clear(CAPNG_SELECT_CAPS);
		ret = capng_apply(CAPNG_SELECT_CAPS);
		if (ret) {
			LOG_ERR("cannot drop capabilities (libcap-ng error %d)",
				ret);
			return -EPERM;
		}
		return 0;
	}
	capng_clear(CAPNG_SELECT_BOTH);
	for (int cap = 0; cap <= 63; cap++) {
		if (!(keep & (1ULL << cap)))
			continue;
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
				 CAPNG_BOUNDING_SET, (unsigned)cap)) {
			LOG_ERR("capability %d is unknown to this kernel", cap);
			return -EINVAL;
		}
	}
	ret = capng_apply(CAPNG_SELECT_BOTH);
	if (ret) {
		LOG_ERR("cannot apply the capability set (libcap-ng error %d)",
			ret);
		return -EPERM;
	}
	/* The inheritable set is now empty, so the kernel has emptied the
	 * ambient set too. */
	LOG_DBG("capabilities kept: %#llx", (unsigned long long)keep);
	return 0;
}
