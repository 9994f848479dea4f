/*
 * test_sc_arch.c - the generated seccomp allow-list on the other supported
 * architecture: every name is known to libseccomp for aarch64 too, the
 * system calls glibc uses on aarch64 instead of x86_64's legacy ones are
 * in the list, and an aarch64 filter with the whole list compiles.  (The
 * x86_64 filter itself is exercised by every functional and e2e test,
 * which run with --seccomp=kill.)
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <seccomp.h>

#include "sc_filter.h"
#include "unit_check.h"

static bool listed(const char *name)
{
	for (unsigned i = 0; i < sc_allowlist_len; i++)
		if (strcmp(sc_allowlist[i].name, name) == 0)
			return true;
	return false;
}

int main(void)
{
	/* x86_64 legacy call -> what glibc calls on aarch64 instead. */
	static const char *const pairs[][2] = {
		{ "poll", "ppoll" }, { "open", "openat" },
		{ "dup2", "dup3" }, { "pipe", "pipe2" },
		{ "eventfd", "eventfd2" }, { "renameat", "renameat2" },
		{ "readlink", "readlinkat" }, { "unlink", "unlinkat" },
		{ "mkdir", "mkdirat" }, { "rmdir", "unlinkat" },
		{ "symlink", "symlinkat" }, { "link", "linkat" },
		{ "access", "faccessat" }, { "stat", "newfstatat" },
		{ "lstat", "newfstatat" },
	};
	scmp_filter_ctx f;
	unsigned missing_on_arm = 0;
	int devnull;

	CHECK(sc_allowlist_len > 50);
	for (unsigned i = 0; i < sc_allowlist_len; i++) {
		const char *name = sc_allowlist[i].name;
		int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_AARCH64,
							   name);

		/* Unknown name: a typo the x86_64 build happened to accept. */
		CHECK(seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR);
		if (nr < 0)
			missing_on_arm++;   /* x86-only legacy call */
	}
	for (unsigned i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (listed(pairs[i][0]) && !listed(pairs[i][1])) {
			fprintf(stderr, "%s is allowed but not %s (aarch64)\n",
				pairs[i][0], pairs[i][1]);
			failures++;
		}

	f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	CHECK(f != NULL);
	CHECK(seccomp_arch_add(f, SCMP_ARCH_AARCH64) == 0);
	CHECK(seccomp_arch_remove(f, SCMP_ARCH_NATIVE) == 0);
	for (unsigned i = 0; i < sc_allowlist_len; i++) {
		int nr = seccomp_syscall_resolve_name(sc_allowlist[i].name);
		int r = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);

		if (r != 0) {
			fprintf(stderr, "aarch64 rule for %s: %s\n",
				sc_allowlist[i].name, strerror(-r));
			failures++;
		}
	}
	devnull = open("/dev/null", O_WRONLY);
	CHECK(devnull >= 0);
	CHECK(seccomp_export_bpf(f, devnull) == 0);
	close(devnull);
	seccomp_release(f);
	printf("%u syscalls listed, %u of them x86_64-only\n", sc_allowlist_len,
	       missing_on_arm);
	return failures ? 1 : 0;
}
