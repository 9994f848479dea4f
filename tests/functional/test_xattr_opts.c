/*
 * test_xattr_opts.c - the xattr-related options on a live daemon:
 * --xattrmap (names both ways, bad/unsupported, LISTXATTR, a renamed
 * security.capability), --posix-acl
 * (INIT refused without POSIX_ACL|DONT_MASK|SETXATTR_EXT, accepted with
 * them, the daemon's umask, SETXATTR_ACL_KILL_SGID, the conflict with
 * --translate-uid), --security-label (INIT refusal, the security context
 * of CREATE / MKDIR stored through the map, the undo on failure) and
 * --translate-uid/gid (GETATTR, the credentials of CREATE, chown,
 * forbid-guest).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID

/* What vfe_fuse_init() offers, plus the bits --posix-acl needs. */
#define BASE_FLAGS                                                        \
	((uint64_t)FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DONT_MASK |     \
	 FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_ASYNC_DIO |      \
	 FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_SUBMOUNTS |           \
	 FUSE_INIT_EXT)
#define ACL_FLAGS ((uint64_t)FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT)

static void host_create(struct vfe_env *e, const char *name, mode_t mode)
{
	int fd = open(vfe_shared_path(e, name), O_WRONLY | O_CREAT | O_TRUNC,
		      mode);

	CHECKF(fd >= 0, "host create %s: %s", name, strerror(errno));
	close(fd);
	CHECK(chmod(vfe_shared_path(e, name), mode) == 0);
}

static mode_t host_mode(struct vfe_env *e, const char *name)
{
	struct stat st;

	CHECKF(lstat(vfe_shared_path(e, name), &st) == 0, "host lstat %s: %s",
	       name, strerror(errno));
	return st.st_mode;
}

/* Host xattr value as a string ("" when absent). */
static const char *host_getx(struct vfe_env *e, const char *name,
			     const char *xname)
{
	static char buf[256];
	ssize_t n = lgetxattr(vfe_shared_path(e, name), xname, buf,
			      sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Skip when the shared directory's file system has no user xattrs. */
static void need_user_xattrs(struct vfe_env *e)
{
	host_create(e, ".probe", 0644);
	if (lsetxattr(vfe_shared_path(e, ".probe"), "user.probe", "1", 1,
		      0) < 0)
		vfe_skip("no user xattrs on the test file system: %s",
			 strerror(errno));
	unlink(vfe_shared_path(e, ".probe"));
}

/* True when the NUL-separated list holds name. */
static bool listed(const char *list, size_t len, const char *name)
{
	for (size_t pos = 0; pos < len; pos += strlen(list + pos) + 1)
		if (!strcmp(list + pos, name))
			return true;
	return false;
}

static void t_xattrmap(void)
{
	struct vfe_env_opts o = { 0 };
	struct vfe_env e;
	struct fuse_entry_out ent;
	char buf[512];
	size_t len, probe;
	int n = 0;

	o.daemon.extra[n++] = "--xattrmap="
		":unsupported:all:security.selinux:security.selinux: "
		":bad:client:user.secret.:: "
		":map:trusted.:user.virtiofs.:";
	vfe_env_up(&e, &o);
	need_user_xattrs(&e);
	host_create(&e, "f", 0644);
	CHECK(lsetxattr(vfe_shared_path(&e, "f"), "user.virtiofs.trusted.a",
			"A", 1, 0) == 0);
	CHECK(lsetxattr(vfe_shared_path(&e, "f"), "user.plain", "P", 1,
			0) == 0);
	/* Unprefixed trusted.* on the host is hidden (may need privilege
	 * to set; then there is nothing to hide). */
	(void)lsetxattr(vfe_shared_path(&e, "f"), "trusted.host", "T", 1, 0);

	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "f", &ent));
	/* guest -> host */
	CHECK_OK(vfe_fuse_setxattr(&e.f, ent.nodeid, "trusted.b", "BB", 2, 0,
				   0));
	CHECK(!strcmp(host_getx(&e, "f", "user.virtiofs.trusted.b"), "BB"));
	CHECK_OK(vfe_fuse_getxattr(&e.f, ent.nodeid, "trusted.a", buf,
				   sizeof(buf), &len));
	CHECK(len == 1 && buf[0] == 'A');
	CHECK_OK(vfe_fuse_getxattr(&e.f, ent.nodeid, "user.plain", buf,
				   sizeof(buf), &len));
	CHECK(len == 1 && buf[0] == 'P');
	CHECK_OK(vfe_fuse_getxattr(&e.f, ent.nodeid, "trusted.a", NULL, 0,
				   &len));
	CHECK_EQ(len, 1);
	/* the map's target namespace is closed to the guest: EPERM, and
	 * ENODATA for GETXATTR */
	CHECK_ERR(vfe_fuse_setxattr(&e.f, ent.nodeid, "user.virtiofs.x", "1",
				    1, 0, 0), -EPERM);
	CHECK_ERR(vfe_fuse_getxattr(&e.f, ent.nodeid, "user.virtiofs.trusted.a",
				    buf, sizeof(buf), &len), -ENODATA);
	/* bad and unsupported rules */
	CHECK_ERR(vfe_fuse_setxattr(&e.f, ent.nodeid, "user.secret.k", "1", 1,
				    0, 0), -EPERM);
	CHECK_ERR(vfe_fuse_removexattr(&e.f, ent.nodeid, "user.secret.k"),
		  -EPERM);
	CHECK_ERR(vfe_fuse_setxattr(&e.f, ent.nodeid, "security.selinux", "x",
				    1, 0, 0), -ENOTSUP);
	CHECK_ERR(vfe_fuse_getxattr(&e.f, ent.nodeid, "security.selinux", buf,
				    sizeof(buf), &len), -ENOTSUP);
	/* without --posix-acl the ACL xattrs never reach the host */
	CHECK_ERR(vfe_fuse_getxattr(&e.f, ent.nodeid,
				    "system.posix_acl_access", buf,
				    sizeof(buf), &len), -ENOTSUP);

	/* host -> guest: mapped, filtered; size probe of the mapped list */
	CHECK_OK(vfe_fuse_listxattr(&e.f, ent.nodeid, NULL, 0, &probe));
	CHECK_OK(vfe_fuse_listxattr(&e.f, ent.nodeid, buf, sizeof(buf), &len));
	CHECK_EQ(len, probe);
	CHECK(listed(buf, len, "trusted.a"));
	CHECK(listed(buf, len, "trusted.b"));
	CHECK(listed(buf, len, "user.plain"));
	CHECK(!listed(buf, len, "trusted.host"));
	CHECK(!listed(buf, len, "user.virtiofs.trusted.a"));
	CHECK_EQ(len, sizeof("trusted.a") + sizeof("trusted.b") +
		      sizeof("user.plain"));
	CHECK_ERR(vfe_fuse_listxattr(&e.f, ent.nodeid, buf, len - 1, &len),
		  -ERANGE);

	CHECK_OK(vfe_fuse_removexattr(&e.f, ent.nodeid, "trusted.b"));
	CHECK(!strcmp(host_getx(&e, "f", "user.virtiofs.trusted.b"), ""));
	CHECK(!strcmp(host_getx(&e, "f", "user.virtiofs.trusted.a"), "A"));
	vfe_env_down(&e);
}

/* A renamed security.capability is removed by the daemon where the host
 * kernel removes the real one: write, truncate, chown. */
static void t_capability(void)
{
	struct vfe_env_opts o = { 0 };
	struct vfe_env e;
	struct fuse_entry_out ent;
	struct fuse_open_out op;
	struct fuse_attr_out a;
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 1 };
	const char *cap = "user.virtiofs.security.capability";
	size_t n;

	o.daemon.extra[0] = "--xattrmap=:map::user.virtiofs.:";
	vfe_env_up(&e, &o);
	need_user_xattrs(&e);
	host_create(&e, "w", 0644);
	host_create(&e, "t", 0644);
	CHECK(lsetxattr(vfe_shared_path(&e, "w"), cap, "c", 1, 0) == 0);
	CHECK(lsetxattr(vfe_shared_path(&e, "t"), cap, "c", 1, 0) == 0);

	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "w", &ent));
	CHECK_OK(vfe_fuse_open(&e.f, ent.nodeid, O_RDWR, &op));
	CHECK(!strcmp(host_getx(&e, "w", cap), "c"));
	CHECK_OK(vfe_fuse_write(&e.f, ent.nodeid, op.fh, 0, "x", 1, &n));
	CHECK(!strcmp(host_getx(&e, "w", cap), ""));
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, 0));

	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "t", &ent));
	CHECK_OK(vfe_fuse_setattr(&e.f, ent.nodeid, &sa, &a));
	CHECK(!strcmp(host_getx(&e, "t", cap), ""));
	vfe_env_down(&e);
}

/* A malformed map stops the daemon at start-up, naming the option. */
static void t_bad_options(void)
{
	static const char *const cases[][3] = {
		{ "--xattrmap=:prefix:all:a.", NULL, "--xattrmap" },
		{ "--translate-uid=guest:1:2", NULL, "--translate-uid" },
		{ "--posix-acl", "--translate-gid=map:0:0:1", "--translate-gid" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vfe_daemon_opts o = { 0 };
		struct vfe_daemon d;
		char dir[4096], log[4096];
		int status = 0, r;
		FILE *fp;
		size_t n;

		snprintf(dir, sizeof(dir), "%s/bad%zu", vfe_test_dir(), i);
		CHECK(mkdir(dir, 0755) == 0);
		o.exe = vfe_daemon_exe();
		o.extra[0] = cases[i][0];
		o.extra[1] = cases[i][1];
		r = vfe_daemon_start(&d, dir, &o);
		CHECKF(r < 0, "daemon started with %s %s", cases[i][0],
		       cases[i][1] ? cases[i][1] : "");
		CHECK_OK(vfe_daemon_wait(&d, 5000, &status));
		CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		       "exit status %#x", status);
		fp = fopen(d.log_path, "r");
		CHECK(fp);
		n = fread(log, 1, sizeof(log) - 1, fp);
		fclose(fp);
		log[n] = '\0';
		CHECKF(strstr(log, cases[i][2]), "log lacks %s: %s",
		       cases[i][2], log);
		if (i == 2)
			CHECKF(strstr(log, "--posix-acl"), "log: %s", log);
		vfe_note("%s", log);
	}
}

/* MKDIR / MKNOD with an explicit umask. */
static int mk_umask(struct vfe_env *e, uint32_t op, uint64_t parent,
		    const char *name, uint32_t mode, uint32_t umask,
		    struct fuse_entry_out *ent)
{
	struct fuse_mkdir_in md = { .mode = mode, .umask = umask };
	struct fuse_mknod_in mn = { .mode = mode, .umask = umask };
	struct vfe_fuse_call c = {
		.opcode = op, .nodeid = parent, .queue = VFE_Q_DEFAULT,
		.out = ent, .out_cap = sizeof(*ent),
	};

	if (op == FUSE_MKDIR)
		c.in[c.nin++] = (struct iovec){ &md, sizeof(md) };
	else
		c.in[c.nin++] = (struct iovec){ &mn, sizeof(mn) };
	c.in[c.nin++] = (struct iovec){ (void *)name, strlen(name) + 1 };
	return vfe_fuse_call(&e->f, &c);
}

/* An ACL xattr value (version 2) with owner/group/other permissions. */
static size_t acl_value(char *buf, unsigned u, unsigned g, unsigned o)
{
	struct { uint16_t tag, perm; uint32_t id; } ent[3] = {
		{ 0x01, (uint16_t)u, 0xffffffff },   /* ACL_USER_OBJ */
		{ 0x04, (uint16_t)g, 0xffffffff },   /* ACL_GROUP_OBJ */
		{ 0x20, (uint16_t)o, 0xffffffff },   /* ACL_OTHER */
	};
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	memcpy(buf + 4, ent, sizeof(ent));
	return 4 + sizeof(ent);
}

static void t_posix_acl(void)
{
	struct vfe_env_opts o = { .no_init = true };
	struct vfe_env e;
	struct fuse_entry_out ent, dir;
	struct fuse_attr_out a;
	char acl[64], buf[64];
	size_t alen, len;

	o.daemon.extra[0] = "--posix-acl";
	vfe_env_up(&e, &o);
	/* The usual INIT lacks POSIX_ACL and SETXATTR_EXT: refused. */
	CHECK_ERR(vfe_fuse_init(&e.f), -EPROTO);
	CHECK_ERR(vfe_fuse_getattr(&e.f, ROOT, false, 0, &a), -EIO);
	CHECK_ERR(vfe_fuse_init_flags(&e.f, BASE_FLAGS | FUSE_POSIX_ACL),
		  -EPROTO);
	CHECK_OK(vfe_fuse_init_flags(&e.f, BASE_FLAGS | ACL_FLAGS));
	CHECKF((e.f.init.flags & ACL_FLAGS) == ACL_FLAGS, "INIT flags %#x",
	       e.f.init.flags);
	CHECK_OK(vfe_fuse_getattr(&e.f, ROOT, false, 0, &a));

	/* DONT_MASK: the daemon applies the umask itself. */
	CHECK_OK(mk_umask(&e, FUSE_MKDIR, ROOT, "d", 0777, 022, &dir));
	CHECK_EQ(host_mode(&e, "d") & 07777, 0755);
	CHECK_EQ(dir.attr.mode & 07777, 0755);
	CHECK_OK(mk_umask(&e, FUSE_MKNOD, ROOT, "n", S_IFREG | 0666, 027,
			  &ent));
	CHECK_EQ(host_mode(&e, "n") & 07777, 0640);
	CHECK_OK(mk_umask(&e, FUSE_MKNOD, ROOT, "n0", S_IFREG | 0666, 0,
			  &ent));
	CHECK_EQ(host_mode(&e, "n0") & 07777, 0666);

	/* ACL xattrs pass now. */
	CHECK(vfe_fuse_getxattr(&e.f, ent.nodeid, "system.posix_acl_access",
				buf, sizeof(buf), &len) != -ENOTSUP);

	/* SETXATTR_ACL_KILL_SGID: S_ISGID goes with the access ACL. */
	host_create(&e, "sg", 02770);
	CHECK_EQ(host_mode(&e, "sg") & 07777, 02770);
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "sg", &ent));
	alen = acl_value(acl, 6, 6, 0);
	if (vfe_fuse_setxattr(&e.f, ent.nodeid, "system.posix_acl_access",
			      acl, alen, 0, FUSE_SETXATTR_ACL_KILL_SGID)) {
		vfe_note("no POSIX ACLs on the test file system: %s",
			 vfe_msg_last_error());
		vfe_env_down(&e);
		return;
	}
	CHECK_EQ(host_mode(&e, "sg") & 07777, 0660);

	/* A default ACL on the parent: the host applies it, not the umask. */
	alen = acl_value(acl, 7, 7, 7);
	CHECK_OK(vfe_fuse_setxattr(&e.f, dir.nodeid, "system.posix_acl_default",
				   acl, alen, 0, 0));
	CHECK_OK(mk_umask(&e, FUSE_MKDIR, dir.nodeid, "sub", 0777, 022, &ent));
	CHECK_EQ(host_mode(&e, "d/sub") & 07777, 0777);
	vfe_env_down(&e);
}

/* CREATE or MKDIR carrying a security context extension. */
static int create_secctx(struct vfe_env *e, uint32_t op, uint64_t parent,
			 const char *name, const char *ctxname,
			 const char *ctx, void *out, size_t out_cap)
{
	char req[1024];
	struct fuse_in_header h = { 0 };
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT | O_EXCL,
				     .mode = S_IFREG | 0644 };
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_secctx_header sh;
	struct fuse_secctx sc = { .size = (uint32_t)strlen(ctx) + 1 };
	struct vfe_fuse_call c = {
		.opcode = op, .nodeid = parent, .queue = VFE_Q_DEFAULT,
		.out = out, .out_cap = out_cap, .flags = VFE_RAW,
	};
	size_t pos = sizeof(h), ext;

	if (op == FUSE_CREATE) {
		memcpy(req + pos, &ci, sizeof(ci));
		pos += sizeof(ci);
	} else {
		memcpy(req + pos, &mi, sizeof(mi));
		pos += sizeof(mi);
	}
	memcpy(req + pos, name, strlen(name) + 1);
	pos += strlen(name) + 1;
	/* The extension area: 8-byte aligned records after the args. */
	pos = (pos + 7) & ~(size_t)7;
	ext = pos;
	pos += sizeof(sh);
	memcpy(req + pos, &sc, sizeof(sc));
	pos += sizeof(sc);
	memcpy(req + pos, ctxname, strlen(ctxname) + 1);
	pos += strlen(ctxname) + 1;
	memcpy(req + pos, ctx, sc.size);
	pos += sc.size;
	while (pos % 8)
		req[pos++] = 0;
	sh.size = (uint32_t)(pos - ext);
	sh.nr_secctx = 1;
	memcpy(req + ext, &sh, sizeof(sh));
	h.len = (uint32_t)pos;
	h.opcode = op;
	h.unique = e->f.next_unique;
	h.nodeid = parent;
	h.uid = e->f.uid;
	h.gid = e->f.gid;
	h.pid = e->f.pid;
	h.total_extlen = (uint16_t)((pos - ext) / 8);
	memcpy(req, &h, sizeof(h));
	c.in[c.nin++] = (struct iovec){ req, pos };
	return vfe_fuse_call(&e->f, &c);
}

static void t_security_label(void)
{
	struct vfe_env_opts o = { .no_init = true };
	struct vfe_env e;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} __attribute__((packed)) cr;
	struct fuse_entry_out ent;
	const char *ctx = "system_u:object_r:virt_t:s0";

	o.daemon.extra[0] = "--security-label";
	o.daemon.extra[1] = "--xattrmap=:map:security.selinux:user.virtiofs.:";
	vfe_env_up(&e, &o);
	need_user_xattrs(&e);
	CHECK_ERR(vfe_fuse_init(&e.f), -EPROTO);
	CHECK_OK(vfe_fuse_init_flags(&e.f, BASE_FLAGS | FUSE_SECURITY_CTX));
	CHECK(((uint64_t)e.f.init.flags2 << 32) & FUSE_SECURITY_CTX);

	/* The context lands on the new file under its mapped name. */
	CHECK_OK(create_secctx(&e, FUSE_CREATE, ROOT, "lab", "security.selinux",
			       ctx, &cr, sizeof(cr)));
	CHECK(!strcmp(host_getx(&e, "lab", "user.virtiofs.security.selinux"),
		      ctx));
	CHECK_OK(vfe_fuse_release(&e.f, cr.e.nodeid, cr.o.fh, 0));
	CHECK_OK(create_secctx(&e, FUSE_MKDIR, ROOT, "labdir",
			       "security.selinux", ctx, &ent, sizeof(ent)));
	CHECK(!strcmp(host_getx(&e, "labdir",
				"user.virtiofs.security.selinux"), ctx));

	/* A context the map refuses: the creation is undone. */
	CHECK_ERR(create_secctx(&e, FUSE_CREATE, ROOT, "nolab",
				"user.virtiofs.x", ctx, &cr, sizeof(cr)),
		  -EPERM);
	CHECK(access(vfe_shared_path(&e, "nolab"), F_OK) < 0);
	CHECK_ERR(create_secctx(&e, FUSE_MKDIR, ROOT, "nolabdir",
				"user.virtiofs.x", ctx, &ent, sizeof(ent)),
		  -EPERM);
	CHECK(access(vfe_shared_path(&e, "nolabdir"), F_OK) < 0);
	vfe_env_down(&e);
}

static void t_translate_ids(void)
{
	struct vfe_env_opts o = { 0 };
	struct vfe_env e;
	struct fuse_entry_out ent, pub;
	struct fuse_open_out op;
	struct fuse_attr_out a;
	struct fuse_setattr_in sa = { .valid = FATTR_UID, .uid = 1003 };
	struct stat st;

	if (geteuid() != 0)
		vfe_skip("needs root (per-request credentials)");
	o.daemon.extra[0] = "--translate-uid=map:1000:2000:10";
	o.daemon.extra[1] = "--translate-gid=map:100:3000:1";
	o.daemon.extra[2] = "--translate-uid=forbid-guest:666:1";
	vfe_env_up(&e, &o);
	CHECK(mkdir(vfe_shared_path(&e, "pub"), 0777) == 0);
	CHECK(chmod(vfe_shared_path(&e, "pub"), 0777) == 0);
	host_create(&e, "own", 0644);
	CHECK(chown(vfe_shared_path(&e, "own"), 2005, 3000) == 0);

	/* host -> guest in attributes */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "own", &ent));
	CHECK_EQ(ent.attr.uid, 1005);
	CHECK_EQ(ent.attr.gid, 100);
	CHECK_OK(vfe_fuse_getattr(&e.f, ent.nodeid, false, 0, &a));
	CHECK_EQ(a.attr.uid, 1005);
	CHECK_EQ(a.attr.gid, 100);

	/* guest -> host in the credentials of CREATE */
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "pub", &pub));
	e.f.uid = 1001;
	e.f.gid = 100;
	CHECK_OK(vfe_fuse_create(&e.f, pub.nodeid, "mine", O_RDWR | O_EXCL,
				 S_IFREG | 0644, &ent, &op));
	CHECK(lstat(vfe_shared_path(&e, "pub/mine"), &st) == 0);
	CHECK_EQ(st.st_uid, 2001);
	CHECK_EQ(st.st_gid, 3000);
	CHECK_EQ(ent.attr.uid, 1001);
	CHECK_EQ(ent.attr.gid, 100);
	CHECK_OK(vfe_fuse_release(&e.f, ent.nodeid, op.fh, 0));

	/* forbid-guest */
	e.f.uid = 666;
	CHECK_ERR(vfe_fuse_create(&e.f, pub.nodeid, "no", O_RDWR | O_EXCL,
				  S_IFREG | 0644, &ent, &op), -EPERM);
	CHECK(access(vfe_shared_path(&e, "pub/no"), F_OK) < 0);

	/* chown from the guest, as root */
	e.f.uid = 0;
	e.f.gid = 0;
	CHECK_OK(vfe_fuse_lookup(&e.f, ROOT, "own", &ent));
	CHECK_OK(vfe_fuse_setattr(&e.f, ent.nodeid, &sa, &a));
	CHECK(lstat(vfe_shared_path(&e, "own"), &st) == 0);
	CHECK_EQ(st.st_uid, 2003);
	CHECK_EQ(a.attr.uid, 1003);
	sa.uid = 666;
	CHECK_ERR(vfe_fuse_setattr(&e.f, ent.nodeid, &sa, &a), -EPERM);
	vfe_env_down(&e);
}

static const struct vfe_test tests[] = {
	{ "xattrmap", t_xattrmap, 0 },
	{ "capability", t_capability, 0 },
	{ "bad_options", t_bad_options, 0 },
	{ "posix_acl", t_posix_acl, 0 },
	{ "security_label", t_security_label, 0 },
	{ "translate_ids", t_translate_ids, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
