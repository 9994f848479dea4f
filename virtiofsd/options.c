/*
 * options.c - command-line parsing compatible with the Rust virtiofsd 1.13.
 * The last occurrence of an option wins, as there.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "pt_idmap.h"
#include "pt_xattrmap.h"

enum {
	OPT_SHARED_DIR = 256, OPT_TAG, OPT_SOCKET, OPT_SOCKET_PATH,
	OPT_SOCKET_GROUP, OPT_FD, OPT_THREAD_POOL, OPT_XATTR, OPT_POSIX_ACL,
	OPT_XATTRMAP, OPT_SANDBOX, OPT_READONLY, OPT_SECCOMP,
	OPT_ANNOUNCE, OPT_NO_ANNOUNCE, OPT_IFH, OPT_CACHE, OPT_ALLOW_MMAP,
	OPT_NO_RDP, OPT_WRITEBACK, OPT_DIRECT_IO, OPT_PRINT_CAPS, OPT_MODCAPS,
	OPT_LOG_LEVEL, OPT_SYSLOG, OPT_RLIMIT, OPT_KILLPRIV, OPT_NO_KILLPRIV,
	OPT_SECLABEL, OPT_UID_MAP, OPT_GID_MAP, OPT_TRANSLATE_UID,
	OPT_TRANSLATE_GID, OPT_NOATIME, OPT_MIG_MODE, OPT_MIG_ON_ERROR,
	OPT_MIG_VERIFY, OPT_MIG_CONFIRM, OPT_PRINT_STATE, OPT_QUEUE_AFFINITY,
};

static const struct option long_opts[] = {
	{ "shared-dir", required_argument, NULL, OPT_SHARED_DIR },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "thread-pool-size", required_argument, NULL, OPT_THREAD_POOL },
	{ "queue-affinity", required_argument, NULL, OPT_QUEUE_AFFINITY },
	{ "xattr", no_argument, NULL, OPT_XATTR },
	{ "posix-acl", no_argument, NULL, OPT_POSIX_ACL },
	{ "xattrmap", required_argument, NULL, OPT_XATTRMAP },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "readonly", no_argument, NULL, OPT_READONLY },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "announce-submounts", no_argument, NULL, OPT_ANNOUNCE },
	{ "no-announce-submounts", no_argument, NULL, OPT_NO_ANNOUNCE },
	{ "inode-file-handles", required_argument, NULL, OPT_IFH },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "allow-mmap", no_argument, NULL, OPT_ALLOW_MMAP },
	{ "no-readdirplus", no_argument, NULL, OPT_NO_RDP },
	{ "writeback", no_argument, NULL, OPT_WRITEBACK },
	{ "allow-direct-io", no_argument, NULL, OPT_DIRECT_IO },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
	{ "print-state", required_argument, NULL, OPT_PRINT_STATE },
	{ "modcaps", required_argument, NULL, OPT_MODCAPS },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "rlimit-nofile", required_argument, NULL, OPT_RLIMIT },
	{ "killpriv-v2", no_argument, NULL, OPT_KILLPRIV },
	{ "no-killpriv-v2", no_argument, NULL, OPT_NO_KILLPRIV },
	{ "security-label", no_argument, NULL, OPT_SECLABEL },
	{ "uid-map", required_argument, NULL, OPT_UID_MAP },
	{ "gid-map", required_argument, NULL, OPT_GID_MAP },
	{ "translate-uid", required_argument, NULL, OPT_TRANSLATE_UID },
	{ "translate-gid", required_argument, NULL, OPT_TRANSLATE_GID },
	{ "preserve-noatime", no_argument, NULL, OPT_NOATIME },
	{ "migration-mode", required_argument, NULL, OPT_MIG_MODE },
	{ "migration-on-error", required_argument, NULL, OPT_MIG_ON_ERROR },
	{ "migration-verify-handles", no_argument, NULL, OPT_MIG_VERIFY },
	{ "migration-confirm-paths", no_argument, NULL, OPT_MIG_CONFIRM },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Index of value in names[n], or -1. */
static int pick(const char *value, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(value, names[i]) == 0)
			return i;
	return -1;
}

static int bad_value(const char *opt, const char *value)
{
	fprintf(stderr, "virtiofsd: invalid value '%s' for '%s'\n", value, opt);
	return -EINVAL;
}

/* --xattrmap / -o xattrmap=: parse now, so that errors name the option;
 * the last occurrence wins. */
static int set_xattrmap(struct vfs_options *o, const char *opt,
			const char *v)
{
	char err[160];
	struct pt_xattrmap *m = pt_xattrmap_parse(v, err, sizeof(err));

	if (!m) {
		fprintf(stderr, "virtiofsd: invalid value for '%s': %s\n",
			opt, err);
		return -EINVAL;
	}
	pt_xattrmap_free(o->xattrmap);
	o->xattrmap = m;
	return 0;
}

/* --translate-uid / --translate-gid (repeatable): add one entry. */
static int add_translate(struct pt_idmap **map, const char *opt,
			 const char *v)
{
	char err[160];
	int r;

	if (!*map) {
		*map = pt_idmap_new();
		if (!*map)
			return -ENOMEM;
	}
	r = pt_idmap_add(*map, v, err, sizeof(err));
	if (r)
		fprintf(stderr, "virtiofsd: invalid value for '%s': %s\n",
			opt, err);
	return r;
}

static int parse_ulong(const char *opt, const char *s, unsigned long max,
		       unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return bad_value(opt, s);
	*out = v;
	return 0;
}

static int set_cache(struct vfs_options *o, const char *opt, const char *v)
{
	static const char *const names[] = { "auto", "always", "never",
					     "metadata" };
	int i = pick(v, names, 4);

	if (i < 0 && strcmp(v, "none") == 0 && strcmp(opt, "-o cache") == 0)
		i = PT_CACHE_NEVER;
	if (i < 0)
		return bad_value(opt, v);
	o->pt.cache = (enum pt_cache)i;
	return 0;
}

static int set_sandbox(struct vfs_options *o, const char *opt, const char *v)
{
	static const char *const names[] = { "namespace", "chroot", "none" };
	int i = pick(v, names, 3);

	if (i < 0)
		return bad_value(opt, v);
	o->sandbox = (enum vfs_sandbox)i;
	return 0;
}

static int set_log_level(struct vfs_options *o, const char *opt, const char *v)
{
	int l = vlog_parse_level(v);

	if (l < 0)
		return bad_value(opt, v);
	o->log_level = (enum vlog_level)l;
	return 0;
}

/* The legacy "-o a,b=c" forms of the old C daemon. */
static int parse_compat(struct vfs_options *o, char *list)
{
	char *save = NULL;

	for (char *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *val = eq ? eq + 1 : NULL;
		int ret = 0;

		if (eq)
			*eq = '\0';
		if (val && strcmp(tok, "source") == 0)
			o->pt.shared_dir = val;
		else if (val && strcmp(tok, "cache") == 0)
			ret = set_cache(o, "-o cache", val);
		else if (val && strcmp(tok, "sandbox") == 0)
			ret = set_sandbox(o, "-o sandbox", val);
		else if (val && (strcmp(tok, "log_level") == 0 ||
				 strcmp(tok, "loglevel") == 0))
			ret = set_log_level(o, strcmp(tok, "loglevel") ?
					    "-o log_level" : "-o loglevel",
					    strcmp(val, "err") ? val : "error");
		else if (val && strcmp(tok, "xattrmap") == 0)
			ret = set_xattrmap(o, "-o xattrmap", val);
		else if (val && strcmp(tok, "modcaps") == 0)
			ret = vfs_modcaps_parse("-o modcaps", val, &o->modcaps);
		else if (!val && strcmp(tok, "xattr") == 0)
			o->pt.xattr = true;
		else if (!val && strcmp(tok, "no_xattr") == 0)
			o->pt.xattr = false;
		else if (!val && strcmp(tok, "readdirplus") == 0)
			o->pt.readdirplus = true;
		else if (!val && strcmp(tok, "no_readdirplus") == 0)
			o->pt.readdirplus = false;
		else if (!val && strcmp(tok, "writeback") == 0)
			o->pt.writeback = true;
		else if (!val && strcmp(tok, "no_writeback") == 0)
			o->pt.writeback = false;
		else if (!val && strcmp(tok, "allow_direct_io") == 0)
			o->pt.allow_direct_io = true;
		else if (!val && strcmp(tok, "no_allow_direct_io") == 0)
			o->pt.allow_direct_io = false;
		else if (!val && strcmp(tok, "announce_submounts") == 0)
			o->pt.announce_submounts = true;
		else if (!val && strcmp(tok, "killpriv_v2") == 0)
			o->pt.killpriv_v2 = true;
		else if (!val && strcmp(tok, "no_killpriv_v2") == 0)
			o->pt.killpriv_v2 = false;
		else if (!val && strcmp(tok, "posix_acl") == 0)
			o->pt.posix_acl = true;
		else if (!val && strcmp(tok, "no_posix_acl") == 0)
			o->pt.posix_acl = false;
		else if (!val && strcmp(tok, "security_label") == 0)
			o->pt.security_label = true;
		else if (!val && strcmp(tok, "no_security_label") == 0)
			o->pt.security_label = false;
		else if (!val && strcmp(tok, "posix_lock") == 0)
			o->pt.no_posix_lock = false;
		else if (!val && strcmp(tok, "no_posix_lock") == 0)
			o->pt.no_posix_lock = true;
		else if (!val && strcmp(tok, "flock") == 0)
			o->pt.no_flock = false;
		else if (!val && strcmp(tok, "no_flock") == 0)
			o->pt.no_flock = true;
		else {
			fprintf(stderr, "virtiofsd: unknown -o option '%s'\n", tok);
			ret = -EINVAL;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* The name of the option in token ("--name=value" -> "--name"), for
 * error messages, in buf. */
static const char *opt_name(const char *token, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(token, "="), token);
	return buf;
}

/* getopt_long() also takes unique prefixes ("--shared" for
 * "--shared-dir"); clap does not, so neither do we.  token: the argument
 * that getopt just matched to long_opts[li].  Returns 0 or -EINVAL. */
static int exact_name(const char *token, int li)
{
	char buf[64];

	if (li < 0 || strncmp(token, "--", 2) != 0 ||
	    strcspn(token + 2, "=") == strlen(long_opts[li].name))
		return 0;
	fprintf(stderr, "virtiofsd: unknown option '%s'\n",
		opt_name(token, buf, sizeof(buf)));
	return -EINVAL;
}

int vfs_parse_options(int argc, char **argv, struct vfs_options *o)
{
	static const char *const ifh[] = { "never", "prefer", "mandatory" };
	unsigned long v;
	int c, li, ret = 0;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->log_level = VLOG_INFO;
	o->pt.readdirplus = true;
	o->pt.announce_submounts = true;
	/* libvirt probes with --print-capabilities alone, but answer it
	 * whatever else is on the line, even invalid options. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--print-capabilities") == 0) {
			o->print_capabilities = true;
			return 0;
		}
	}
	optind = 1;
	opterr = 0;
	/* '+': no permutation, so argv[prev] is the token getopt matched;
	 * positional arguments are an error anyway. */
	for (int prev = optind; !ret && (li = -1, c = getopt_long(
		     argc, argv, "+:hVdfo:", long_opts, &li)) != -1;
	     prev = optind) {
		const char *token = prev < argc ? argv[prev] : "?";
		char nbuf[64];
		const char *name = opt_name(token, nbuf, sizeof(nbuf));

		ret = exact_name(token, li);
		if (ret)
			break;
		switch (c) {
		case OPT_SHARED_DIR: o->pt.shared_dir = optarg; break;
		case OPT_TAG:
			/* Not advertised (no VHOST_USER_PROTOCOL_F_CONFIG):
			 * see docs/cli.md. */
			if (!optarg[0] || strlen(optarg) > 36)
				ret = bad_value("--tag", optarg);
			o->tag = optarg;
			break;
		case OPT_SOCKET:
		case OPT_SOCKET_PATH: o->socket_path = optarg; break;
		case OPT_SOCKET_GROUP: o->socket_group = optarg; break;
		case OPT_FD:
			ret = parse_ulong("--fd", optarg, INT_MAX, &v);
			o->fd = (int)v;
			break;
		case OPT_THREAD_POOL:
			ret = parse_ulong("--thread-pool-size", optarg, 1024, &v);
			o->thread_pool_size = (unsigned)v;
			break;
		case OPT_XATTR: o->pt.xattr = true; break;
		case OPT_POSIX_ACL: o->pt.posix_acl = true; break;
		case OPT_XATTRMAP:
			ret = set_xattrmap(o, "--xattrmap", optarg);
			break;
		case OPT_SANDBOX: ret = set_sandbox(o, "--sandbox", optarg); break;
		case OPT_READONLY: o->pt.readonly = true; break;
		case OPT_SECCOMP: {
			static const char *const n[] = { "kill", "log", "trap",
							 "none" };
			int i = pick(optarg, n, 4);

			if (i < 0)
				ret = bad_value("--seccomp", optarg);
			else
				o->seccomp = (enum vfs_seccomp)i;
			break;
		}
		case OPT_ANNOUNCE: o->pt.announce_submounts = true; break;
		case OPT_NO_ANNOUNCE: o->pt.announce_submounts = false; break;
		case OPT_IFH: {
			int i = pick(optarg, ifh, 3);

			if (i < 0 && strcmp(optarg, "fallback") == 0)
				i = PT_FH_PREFER;
			/* prefer: file handles where they work, O_PATH fds
			 * elsewhere; mandatory: handles or no start
			 * (passthrough/pt_fhandle.c decides at start). */
			if (i < 0)
				ret = bad_value("--inode-file-handles", optarg);
			else
				o->pt.inode_file_handles =
					(enum pt_inode_file_handles)i;
			break;
		}
		case OPT_CACHE: ret = set_cache(o, "--cache", optarg); break;
		case OPT_ALLOW_MMAP: o->pt.allow_mmap = true; break;
		case OPT_NO_RDP: o->pt.readdirplus = false; break;
		case OPT_WRITEBACK: o->pt.writeback = true; break;
		case OPT_DIRECT_IO: o->pt.allow_direct_io = true; break;
		case OPT_PRINT_CAPS: o->print_capabilities = true; break;
		case OPT_PRINT_STATE: o->print_state = optarg; break;
		case OPT_QUEUE_AFFINITY:
			if (vfs_cpus_parse(optarg, &o->queue_cpus))
				ret = bad_value("--queue-affinity", optarg);
			break;
		case OPT_MODCAPS:
			ret = vfs_modcaps_parse("--modcaps", optarg, &o->modcaps);
			break;
		case 'd': o->log_level = VLOG_DEBUG; break;
		case 'f': break;
		case OPT_LOG_LEVEL:
			ret = set_log_level(o, "--log-level", optarg);
			break;
		case OPT_SYSLOG: o->syslog = true; break;
		case OPT_RLIMIT:
			ret = parse_ulong("--rlimit-nofile", optarg, ULONG_MAX, &v);
			o->rlimit_nofile = v;
			o->rlimit_nofile_set = true;
			break;
		case OPT_KILLPRIV: o->pt.killpriv_v2 = true; break;
		case OPT_NO_KILLPRIV: o->pt.killpriv_v2 = false; break;
		case OPT_SECLABEL: o->pt.security_label = true; break;
		case OPT_UID_MAP:
			ret = vfs_idmap_parse("--uid-map", optarg, &o->ns_uid_map);
			break;
		case OPT_GID_MAP:
			ret = vfs_idmap_parse("--gid-map", optarg, &o->ns_gid_map);
			break;
		case OPT_TRANSLATE_UID:
			ret = add_translate(&o->uid_map, "--translate-uid",
					    optarg);
			break;
		case OPT_TRANSLATE_GID:
			ret = add_translate(&o->gid_map, "--translate-gid",
					    optarg);
			break;
		case OPT_NOATIME: o->pt.preserve_noatime = true; break;
		case OPT_MIG_MODE: {
			static const char *const n[] = { "find-paths",
							 "file-handles" };
			int i = pick(optarg, n, 2);

			if (i < 0)
				ret = bad_value("--migration-mode", optarg);
			else
				o->pt.mig_mode = (enum pt_mig_mode)i;
			break;
		}
		case OPT_MIG_ON_ERROR: {
			static const char *const n[] = { "abort", "guest-error" };
			int i = pick(optarg, n, 2);

			if (i < 0)
				ret = bad_value("--migration-on-error", optarg);
			else
				o->pt.mig_on_error = (enum pt_mig_on_error)i;
			break;
		}
		case OPT_MIG_VERIFY: o->pt.mig_verify_handles = true; break;
		case OPT_MIG_CONFIRM: o->pt.mig_confirm_paths = true; break;
		case 'o': {
			char *copy = strdup(optarg);

			if (!copy)
				return -ENOMEM;
			ret = parse_compat(o, copy);
			/* values point into copy: keep it for the process */
			break;
		}
		case 'h': o->help = true; break;
		case 'V': o->version = true; break;
		case ':':
			fprintf(stderr, "virtiofsd: option '%s' needs a value\n",
				name);
			ret = -EINVAL;
			break;
		default:
			/* glibc: optopt is the option's val when a value was
			 * given to a long option that takes none. */
			if (optopt >= OPT_SHARED_DIR && strchr(token, '='))
				fprintf(stderr, "virtiofsd: option '%s' takes no "
					"value\n", name);
			else
				fprintf(stderr, "virtiofsd: unknown option '%s'\n",
					name);
			ret = -EINVAL;
			break;
		}
	}
	if (ret || o->print_capabilities || o->print_state || o->help ||
	    o->version)
		return ret;
	if (optind < argc) {
		fprintf(stderr, "virtiofsd: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!o->pt.shared_dir) {
		fprintf(stderr, "virtiofsd: missing '--shared-dir' (or '-o source=')\n");
		return -EINVAL;
	}
	if (o->fd >= 0 && (o->socket_path || o->socket_group)) {
		fprintf(stderr, "virtiofsd: '--fd' cannot be used with '%s'\n",
			o->socket_path ? "--socket-path" : "--socket-group");
		return -EINVAL;
	}
	if (!o->socket_path && o->fd < 0) {
		fprintf(stderr, "virtiofsd: missing '--socket-path' (or '--fd')\n");
		return -EINVAL;
	}
	if (o->pt.cache == PT_CACHE_NEVER)
		o->pt.readdirplus = false;
	if (o->pt.mig_mode == PT_MIG_MODE_FILE_HANDLES &&
	    (o->pt.mig_verify_handles || o->pt.mig_confirm_paths)) {
		fprintf(stderr, "virtiofsd: '--migration-verify-handles' and "
			"'--migration-confirm-paths' cannot be used with "
			"'--migration-mode=file-handles'\n");
		return -EINVAL;
	}
	if (o->pt.posix_acl && (o->uid_map || o->gid_map)) {
		fprintf(stderr, "virtiofsd: '--posix-acl' cannot be used with "
			"'%s'\n", o->uid_map ? "--translate-uid" :
			"--translate-gid");
		return -EINVAL;
	}
	/* As in the Rust daemon: these imply --xattr whatever -o no_xattr
	 * says. */
	if (o->xattrmap || o->pt.posix_acl || o->pt.security_label)
		o->pt.xattr = true;
	o->pt.xattrmap = o->xattrmap;
	o->pt.uid_map = o->uid_map;
	o->pt.gid_map = o->gid_map;
	return 0;
}

void vfs_print_help(const char *prog)
{
	printf("Usage: %s --shared-dir DIR (--socket-path PATH | --fd N) [options]\n\n"
	       "virtio-fs vhost-user back-end (virtiofsd-c)\n\n"
	       "  --shared-dir DIR          directory to share with the guest\n"
	       "  --socket-path PATH        create and listen on a UNIX socket\n"
	       "  --socket PATH             deprecated alias of --socket-path\n"
	       "  --socket-group GROUP      group owning the socket (mode 0660)\n"
	       "  --fd N                    use the already-listening socket N\n"
	       "  --tag TAG                 file system tag (<= 36 bytes; accepted,\n"
	       "                            not advertised: no CONFIG feature)\n"
	       "  --thread-pool-size N      worker threads (0: inline in queue threads)\n"
	       "  --queue-affinity CPULIST  pin ring k's thread to the k-th CPU of the list\n"
	       "                            (e.g. 0-3 or 2,3; wraps around)\n"
	       "  --cache auto|always|never|metadata  guest caching (default auto)\n"
	       "  --writeback               enable the guest's writeback cache\n"
	       "  --allow-direct-io         honour O_DIRECT from the guest\n"
	       "  --allow-mmap              allow shared mmap with cache=never\n"
	       "  --no-readdirplus          disable READDIRPLUS\n"
	       "  --xattr                   enable extended attributes\n"
	       "  --xattrmap RULES          xattr name mapping rules, e.g.\n"
	       "                            ':map::user.virtiofs.:' (implies --xattr)\n"
	       "  --posix-acl               POSIX ACLs (implies --xattr; needs the\n"
	       "                            guest's POSIX_ACL, DONT_MASK, SETXATTR_EXT)\n"
	       "  --security-label          store the guest's security context on\n"
	       "                            new files (implies --xattr)\n"
	       "  --translate-uid TYPE:SRC:DST:COUNT  in-daemon uid translation;\n"
	       "                            TYPE: guest, host, squash-guest, squash-host,\n"
	       "                            map; or forbid-guest:SRC:COUNT (repeatable)\n"
	       "  --translate-gid TYPE:SRC:DST:COUNT  same for gids\n"
	       "  --readonly                refuse every modification (EROFS)\n"
	       "  --announce-submounts      flag mount points to the guest (default)\n"
	       "  --no-announce-submounts   do not flag mount points\n"
	       "  --killpriv-v2 | --no-killpriv-v2  server-side suid/sgid clearing\n"
	       "  --preserve-noatime        keep O_NOATIME\n"
	       "  --inode-file-handles=never|prefer|mandatory  hold inodes by\n"
	       "                            file handles instead of O_PATH fds\n"
	       "                            (needs CAP_DAC_READ_SEARCH)\n"
	       "  --migration-mode find-paths|file-handles  how the source\n"
	       "                            describes inodes (default find-paths)\n"
	       "  --migration-on-error abort|guest-error  destination policy\n"
	       "  --migration-verify-handles  check file handles on the destination\n"
	       "  --migration-confirm-paths   re-check paths at switch-over\n"
	       "  --rlimit-nofile N         set RLIMIT_NOFILE (0: unchanged)\n"
	       "  --sandbox namespace|chroot|none  isolation mode\n"
	       "  --seccomp kill|log|trap|none     syscall filter action\n"
	       "  --modcaps +CAP:-CAP       change the kept capabilities (e.g. +sys_admin)\n"
	       "  --uid-map :NS:HOST:COUNT: user-namespace uid range (unprivileged\n"
	       "                            --sandbox=namespace; repeatable)\n"
	       "  --gid-map :NS:HOST:COUNT: same for gids\n"
	       "  --log-level error|warn|info|debug|trace|off\n"
	       "  --syslog                  log to syslog instead of stderr\n"
	       "  --print-capabilities      print vhost-user capabilities as JSON\n"
	       "  --print-state FILE        decode a saved device-state blob (- for\n"
	       "                            stdin) and exit: 0 valid, 1 invalid\n"
	       "  -o OPT[,OPT...]           legacy options (source=, cache=, ...)\n"
	       "  -d                        same as --log-level debug\n"
	       "  -f                        ignored (never daemonises)\n"
	       "  -h, --help                this help\n"
	       "  -V, --version             version\n", prog);
}
