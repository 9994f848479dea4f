/*
 * test_sandbox_opts.c - parsing of --sandbox, --seccomp, --modcaps,
 * --uid-map and --gid-map (Rust virtiofsd syntax), the id-map text for
 * /proc/<pid>/uid_map and the kept capability set.
 */
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>

#include "caps.h"
#include "idmap.h"
#include "options.h"

#include "unit_check.h"

#define EXPECT(c) CHECK(c)

/* Parse a NULL-terminated argument list after the two required ones. */
static int parse(struct vfs_options *o, const char *const *extra)
{
	char *argv[32] = { "virtiofsd", "--shared-dir=/tmp",
			   "--socket-path=/tmp/s" };
	int argc = 3;

	while (*extra)
		argv[argc++] = (char *)*extra++;
	argv[argc] = NULL;
	return vfs_parse_options(argc, argv, o);
}

#define PARSE(o, ...) parse(o, (const char *const[]){ __VA_ARGS__, NULL })

static void t_defaults(void)
{
	struct vfs_options o;

	EXPECT(PARSE(&o, "-f") == 0);
	EXPECT(o.sandbox == SANDBOX_NAMESPACE);
	EXPECT(o.seccomp == SECCOMP_KILL);
	EXPECT(o.ns_uid_map.n == 0 && o.ns_gid_map.n == 0);
	EXPECT(o.modcaps.add == 0 && o.modcaps.drop == 0);
	EXPECT(PARSE(&o, "--sandbox=chroot", "--seccomp=trap") == 0);
	EXPECT(o.sandbox == SANDBOX_CHROOT && o.seccomp == SECCOMP_TRAP);
	EXPECT(PARSE(&o, "--sandbox", "none", "--seccomp", "log") == 0);
	EXPECT(o.sandbox == SANDBOX_NONE && o.seccomp == SECCOMP_LOG);
	EXPECT(PARSE(&o, "-o", "sandbox=chroot") == 0);
	EXPECT(o.sandbox == SANDBOX_CHROOT);
	EXPECT(PARSE(&o, "--sandbox=jail") != 0);
	EXPECT(PARSE(&o, "--seccomp=allow") != 0);
}

static void t_idmaps(void)
{
	struct vfs_options o;
	char buf[256];

	EXPECT(PARSE(&o, "--uid-map=:0:1000:1:", "--uid-map", ":1:100000:65536:",
		     "--gid-map=:0:1000:1:") == 0);
	EXPECT(o.ns_uid_map.n == 2 && o.ns_gid_map.n == 1);
	EXPECT(o.ns_uid_map.m[1].ns_id == 1 &&
	       o.ns_uid_map.m[1].host_id == 100000 &&
	       o.ns_uid_map.m[1].count == 65536);
	EXPECT(vfs_idmap_format(&o.ns_uid_map, buf, sizeof(buf)) > 0);
	EXPECT(strcmp(buf, "0 1000 1\n1 100000 65536\n") == 0);
	EXPECT(vfs_idmap_format(&o.ns_uid_map, buf, 10) < 0);

	/* Syntax errors. */
	EXPECT(PARSE(&o, "--uid-map=0:1000:1") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:1000:1") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:1000:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:1000:1:2:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:a:1000:1:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:-1:1000:1:") != 0);
	EXPECT(PARSE(&o, "--gid-map=::1000:1:") != 0);
	/* Range checks. */
	EXPECT(PARSE(&o, "--uid-map=:0:1000:0:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:4294967295:1:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:4294967294:1:") == 0);
	EXPECT(PARSE(&o, "--uid-map=:0:99999999999:1:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:1000:10:", "--uid-map=:5:2000:1:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:1000:10:", "--uid-map=:10:1005:1:") != 0);
	EXPECT(PARSE(&o, "--uid-map=:0:1000:10:", "--uid-map=:10:1010:1:") == 0);
}

static void t_modcaps(void)
{
	struct vfs_options o;
	uint64_t base = vfs_caps_kept(false, NULL);

	EXPECT(base == ((1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) |
			(1ULL << CAP_FOWNER) | (1ULL << CAP_FSETID) |
			(1ULL << CAP_SETGID) | (1ULL << CAP_SETUID) |
			(1ULL << CAP_MKNOD) | (1ULL << CAP_SETFCAP)));
	EXPECT(vfs_caps_kept(true, NULL) ==
	       (base | (1ULL << CAP_DAC_READ_SEARCH)));

	EXPECT(PARSE(&o, "--modcaps=+sys_admin:-MKNOD:+Dac_Read_Search") == 0);
	EXPECT(vfs_caps_kept(false, &o.modcaps) ==
	       ((base | (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_DAC_READ_SEARCH)) &
		~(1ULL << CAP_MKNOD)));
	/* Later entries win; the last option replaces earlier ones. */
	EXPECT(PARSE(&o, "--modcaps=+mknod:-mknod") == 0);
	EXPECT(!(vfs_caps_kept(false, &o.modcaps) & (1ULL << CAP_MKNOD)));
	EXPECT(PARSE(&o, "--modcaps=-chown", "--modcaps=+sys_admin") == 0);
	EXPECT(vfs_caps_kept(false, &o.modcaps) ==
	       (base | (1ULL << CAP_SYS_ADMIN)));
	EXPECT(PARSE(&o, "-o", "modcaps=-setfcap") == 0);
	EXPECT(vfs_caps_kept(false, &o.modcaps) ==
	       (base & ~(1ULL << CAP_SETFCAP)));

	EXPECT(PARSE(&o, "--modcaps=sys_admin") != 0);
	EXPECT(PARSE(&o, "--modcaps=+cap_sys_admin") != 0);
	EXPECT(PARSE(&o, "--modcaps=+nonsense") != 0);
	EXPECT(PARSE(&o, "--modcaps=+chown::-mknod") != 0);
	EXPECT(PARSE(&o, "--modcaps=") != 0);
	EXPECT(PARSE(&o, "--modcaps=+") != 0);
}

int main(void)
{
	t_defaults();
	t_idmaps();
	t_modcaps();
	if (failures)
		fprintf(stderr, "%d failed\n", failures);
	return failures ? 1 : 0;
}
