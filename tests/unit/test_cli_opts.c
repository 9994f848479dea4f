/*
 * test_cli_opts.c - the parser of virtiofsd/options.c against the Rust
 * virtiofsd 1.13 syntax (docs/cli.md): both value forms, last one wins,
 * exact names only, defaults, the legacy -o forms, --print-capabilities
 * before anything else, the conflicts.
 */
#include <stdio.h>
#include <string.h>

#include "options.h"

#include "unit_check.h"

#define EXPECT(c) CHECK(c)

static int parse_v(struct vfs_options *o, const char *const *args)
{
	char *argv[40] = { "virtiofsd" };
	int argc = 1;

	while (*args && argc < 39)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return vfs_parse_options(argc, argv, o);
}

#define PARSE(o, ...) parse_v(o, (const char *const[]){ __VA_ARGS__, NULL })
#define BASE "--shared-dir=/tmp", "--socket-path=/tmp/s"

static void t_defaults(void)
{
	struct vfs_options o;

	EXPECT(PARSE(&o, BASE) == 0);
	EXPECT(o.fd == -1 && o.thread_pool_size == 0);
	EXPECT(o.log_level == VLOG_INFO && !o.syslog);
	EXPECT(o.pt.cache == PT_CACHE_AUTO && o.pt.readdirplus);
	EXPECT(o.pt.announce_submounts && !o.pt.killpriv_v2 && !o.pt.xattr);
	EXPECT(o.pt.inode_file_handles == PT_FH_NEVER);
	EXPECT(o.sandbox == SANDBOX_NAMESPACE && o.seccomp == SECCOMP_KILL);
	EXPECT(!o.rlimit_nofile_set && !o.tag && !o.socket_group);
}

static void t_syntax(void)
{
	struct vfs_options o;

	/* --opt=v and --opt v; the last occurrence wins */
	EXPECT(PARSE(&o, "--shared-dir", "/a", "--fd", "7", "--cache",
		     "never", "--cache=always", "--thread-pool-size", "3") == 0);
	EXPECT(strcmp(o.pt.shared_dir, "/a") == 0 && o.fd == 7);
	EXPECT(o.pt.cache == PT_CACHE_ALWAYS && o.thread_pool_size == 3);
	EXPECT(PARSE(&o, BASE, "--no-announce-submounts",
		     "--announce-submounts", "--killpriv-v2",
		     "--no-killpriv-v2") == 0);
	EXPECT(o.pt.announce_submounts && !o.pt.killpriv_v2);
	EXPECT(PARSE(&o, BASE, "--cache=never") == 0 && !o.pt.readdirplus);
	EXPECT(PARSE(&o, BASE, "--socket", "/tmp/t") == 0 &&
	       strcmp(o.socket_path, "/tmp/t") == 0);
	EXPECT(PARSE(&o, BASE, "--rlimit-nofile=0") == 0 &&
	       o.rlimit_nofile_set && o.rlimit_nofile == 0);
	EXPECT(PARSE(&o, BASE, "--log-level", "trace", "-d") == 0 &&
	       o.log_level == VLOG_DEBUG);
	EXPECT(PARSE(&o, BASE, "--tag=myfs") == 0 && strcmp(o.tag, "myfs") == 0);
	EXPECT(PARSE(&o, BASE, "--tag=012345678901234567890123456789012345") == 0);
	EXPECT(PARSE(&o, BASE, "--tag=0123456789012345678901234567890123456") != 0);
	EXPECT(PARSE(&o, BASE, "--tag=") != 0);
	EXPECT(PARSE(&o, BASE, "--inode-file-handles=prefer") == 0 &&
	       o.pt.inode_file_handles == PT_FH_PREFER);
	EXPECT(PARSE(&o, BASE, "--inode-file-handles=fallback") == 0 &&
	       o.pt.inode_file_handles == PT_FH_PREFER);
	EXPECT(PARSE(&o, BASE, "--inode-file-handles=mandatory") == 0 &&
	       o.pt.inode_file_handles == PT_FH_MANDATORY);
	EXPECT(PARSE(&o, BASE, "--migration-mode=file-handles") == 0 &&
	       o.pt.mig_mode == PT_MIG_MODE_FILE_HANDLES);
	EXPECT(PARSE(&o, BASE, "--socket-group", "kvm") == 0 &&
	       strcmp(o.socket_group, "kvm") == 0);
	EXPECT(PARSE(&o, BASE, "--xattrmap=:map::user.virtiofs.:") == 0 &&
	       o.pt.xattr);
	EXPECT(PARSE(&o, BASE, "-f", "-d") == 0);
	/* exact names only (getopt would take a unique prefix) */
	EXPECT(PARSE(&o, BASE, "--writeb") != 0);
	EXPECT(PARSE(&o, "--shared=/tmp", "--socket-path=/tmp/s") != 0);
	EXPECT(PARSE(&o, BASE, "--xattr=1") != 0);
	EXPECT(PARSE(&o, BASE, "stray") != 0);
	EXPECT(PARSE(&o, BASE, "--thread-pool-size=-1") != 0);
}

static void t_conflicts(void)
{
	struct vfs_options o;

	EXPECT(PARSE(&o, "--shared-dir=/tmp") != 0);
	EXPECT(PARSE(&o, "--socket-path=/tmp/s") != 0);
	EXPECT(PARSE(&o, BASE, "--fd=3") != 0);
	EXPECT(PARSE(&o, "--shared-dir=/tmp", "--fd=3", "--socket=/s") != 0);
	EXPECT(PARSE(&o, "--shared-dir=/tmp", "--fd=3",
		     "--socket-group=kvm") != 0);
	EXPECT(PARSE(&o, "--shared-dir=/tmp", "--fd=3") == 0);
	EXPECT(PARSE(&o, BASE, "--posix-acl", "--translate-gid=map:0:0:1") != 0);
	EXPECT(PARSE(&o, BASE, "--migration-mode=file-handles",
		     "--migration-confirm-paths") != 0);
	EXPECT(PARSE(&o, BASE, "--migration-mode=file-handles",
		     "--migration-verify-handles") != 0);
}

static void t_print_caps(void)
{
	struct vfs_options o;

	EXPECT(PARSE(&o, "--print-capabilities") == 0 && o.print_capabilities);
	EXPECT(PARSE(&o, "--bogus", "--fd=x", "--print-capabilities",
		     "-o", "nope") == 0 && o.print_capabilities);
	EXPECT(PARSE(&o, "-V") == 0 && o.version);
	EXPECT(PARSE(&o, "--help") == 0 && o.help);
}

static void t_compat(void)
{
	struct vfs_options o;

	EXPECT(PARSE(&o, "--fd=3", "-o",
		     "source=/srv,cache=none,sandbox=chroot,xattr,flock,posix_lock") == 0);
	EXPECT(strcmp(o.pt.shared_dir, "/srv") == 0);
	EXPECT(o.pt.cache == PT_CACHE_NEVER && o.sandbox == SANDBOX_CHROOT);
	EXPECT(o.pt.xattr && !o.pt.readdirplus);
	EXPECT(PARSE(&o, "--fd=3", "-o", "source=/srv,no_flock,no_posix_lock",
		     "-o", "loglevel=err,announce_submounts") == 0);
	EXPECT(o.log_level == VLOG_ERROR && o.pt.announce_submounts);
	EXPECT(PARSE(&o, "--fd=3", "-o", "source=/srv,log_level=debug") == 0 &&
	       o.log_level == VLOG_DEBUG);
	EXPECT(PARSE(&o, "--fd=3", "-o", "source=/srv,writeback,no_writeback,"
		     "killpriv_v2,allow_direct_io,no_readdirplus,posix_acl,"
		     "security_label,modcaps=+sys_admin") == 0);
	EXPECT(!o.pt.writeback && o.pt.killpriv_v2 && o.pt.allow_direct_io &&
	       !o.pt.readdirplus && o.pt.posix_acl && o.pt.security_label);
	EXPECT(PARSE(&o, "--fd=3", "-o", "source=/srv,xattrmap=:map::user.x.:,no_xattr") == 0 &&
	       o.pt.xattr);   /* --xattrmap implies --xattr, as in Rust */
	EXPECT(PARSE(&o, "--fd=3", "-o", "source=/srv,bogus") != 0);
	EXPECT(PARSE(&o, "--fd=3", "-o", "source=/srv,cache=sometimes") != 0);
	EXPECT(PARSE(&o, "--fd=3", "-o", "cache=auto") != 0);   /* no source */
}

int main(void)
{
	t_defaults();
	t_syntax();
	t_conflicts();
	t_print_caps();
	t_compat();
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
