/*
 * test_migration.c - device-state migration between two daemons serving
 * the same shared directory: the test front-end plays both QEMUs (source:
 * stop rings, SET_DEVICE_STATE_FD SAVE, read the pipe, CHECK; destination:
 * fresh, SET_DEVICE_STATE_FD LOAD before any memory table, write the pipe,
 * CHECK, start rings without a new INIT) and the guest, whose node ids,
 * lookup counts and file handles must keep working on the destination.
 */
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfe_mig.h"
#include "vfe_test.h"

#define ROOT FUSE_ROOT_ID
#define HIDDEN ".virtiofsd-c-migration"
#define NONUTF8 "caf\xe9"

struct blob {
	uint8_t *p;
	size_t len;
};

/* ---- host helpers ---- */

static void host_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECKF(fd >= 0, "host create %s: %s", path, strerror(errno));
	CHECK_EQ(write(fd, s, strlen(s)), strlen(s));
	close(fd);
}

static ino_t host_ino(struct vfe_env *e, const char *name)
{
	struct stat st;

	CHECKF(lstat(vfe_shared_path(e, name), &st) == 0, "host lstat %s: %s",
	       name, strerror(errno));
	return st.st_ino;
}

static bool host_exists(struct vfe_env *e, const char *name)
{
	struct stat st;

	return lstat(vfe_shared_path(e, name), &st) == 0;
}

static size_t hidden_entries(struct vfe_env *e)
{
	char cmd[PATH_MAX + 64];
	size_t n = 0;
	FILE *p;
	int c;

	if (!host_exists(e, HIDDEN))
		return 0;
	snprintf(cmd, sizeof(cmd), "ls -A '%s'", vfe_shared_path(e, HIDDEN));
	p = popen(cmd, "r");
	CHECK(p != NULL);
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

/* Print the daemon's log lines containing needle (sizes and times). */
static void note_log(const struct vfe_daemon *d, const char *needle)
{
	FILE *f = fopen(d->log_path, "r");
	char line[1024];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			vfe_note("%s", strtok(line, "\n"));
	fclose(f);
}

/* ---- the QEMU side of device state ---- */

/* Stop the rings (if running), save into *b; CHECK must say 0. */
static void save_state(struct vfe_env *e, struct blob *b)
{
	b->p = vfe_mig_save(e, &b->len);
	vfe_note("state blob: %zu bytes", b->len);
}

static void dest_down(struct vfe_env *e)
{
	int st = 0;

	if (e->have_fuse)
		vfe_fuse_client_destroy(&e->f);
	vfe_dev_destroy(&e->dev);
	e->have_dev = e->have_fuse = false;
	CHECKF(vfe_daemon_wait(&e->d, 5000, &st) == 0 && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0, "destination daemon did not exit cleanly");
}

/* ---- the guest's state on the source ---- */

struct held {
	uint64_t top, caf, f, d1, d2, dd, gone, held, sub;
	uint64_t fh_caf, fh_f, fh_dd, fh_gone, fh_held;
	uint64_t rd_off;            /* offset after the first READDIR */
	unsigned rd_seen, dd_total;
};

static uint64_t lookup(struct vfe_fuse *f, uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	CHECK_OK(vfe_fuse_lookup(f, parent, name, &e));
	return e.nodeid;
}

static uint64_t open_fh(struct vfe_fuse *f, uint64_t node, uint32_t flags)
{
	struct fuse_open_out o;

	CHECK_OK(vfe_fuse_open(f, node, flags, &o));
	return o.fh;
}

static void populate(struct vfe_env *a, struct held *h)
{
	struct fuse_open_out o;
	char buf[4096], name[64], from[PATH_MAX];
	size_t len, pos = 0;
	struct vfe_dirent d;

	CHECK(mkdir(vfe_shared_path(a, "d1"), 0755) == 0);
	CHECK(mkdir(vfe_shared_path(a, "d1/d2"), 0755) == 0);
	CHECK(mkdir(vfe_shared_path(a, "dd"), 0755) == 0);
	host_write(vfe_shared_path(a, "d1/d2/f"), "deep file");
	host_write(vfe_shared_path(a, "top"), "top file");
	host_write(vfe_shared_path(a, NONUTF8), "latin-1 name");
	host_write(vfe_shared_path(a, "gone"), "unlinked but open");
	host_write(vfe_shared_path(a, "held"), "held by a handle only");
	h->dd_total = 40;
	for (unsigned i = 0; i < h->dd_total; i++) {
		snprintf(name, sizeof(name), "dd/entry-with-a-long-name-%03u", i);
		host_write(vfe_shared_path(a, name), "x");
	}

	h->top = lookup(&a->f, ROOT, "top");
	CHECK_EQ(lookup(&a->f, ROOT, "top"), h->top);
	CHECK_EQ(lookup(&a->f, ROOT, "top"), h->top);   /* count 3 */
	h->caf = lookup(&a->f, ROOT, NONUTF8);
	h->fh_caf = open_fh(&a->f, h->caf, O_RDWR);
	/* d1 and d2 forgotten: the path of f needs anchors. */
	h->d1 = lookup(&a->f, ROOT, "d1");
	h->d2 = lookup(&a->f, h->d1, "d2");
	h->f = lookup(&a->f, h->d2, "f");
	h->fh_f = open_fh(&a->f, h->f, O_RDONLY);
	CHECK_OK(vfe_fuse_forget(&a->f, h->d2, 1));
	CHECK_OK(vfe_fuse_forget(&a->f, h->d1, 1));
	/* A directory with a half-read listing. */
	h->dd = lookup(&a->f, ROOT, "dd");
	CHECK_OK(vfe_fuse_opendir(&a->f, h->dd, &o));
	h->fh_dd = o.fh;
	CHECK_OK(vfe_fuse_readdir(&a->f, h->dd, h->fh_dd, 0, 600, buf, &len));
	while (vfe_dirent_next(buf, len, &pos, false, &d) == 1) {
		h->rd_off = d.off;
		if (strcmp(d.name, ".") && strcmp(d.name, ".."))
			h->rd_seen++;
	}
	CHECKF(h->rd_seen > 0 && h->rd_seen < h->dd_total, "first READDIR got %u",
	       h->rd_seen);
	/* Unlinked while open. */
	h->gone = lookup(&a->f, ROOT, "gone");
	h->fh_gone = open_fh(&a->f, h->gone, O_RDWR);
	CHECK_OK(vfe_fuse_unlink(&a->f, ROOT, "gone"));
	CHECK(!host_exists(a, "gone"));
	/* Held by a handle only (lookup count 0). */
	h->held = lookup(&a->f, ROOT, "held");
	h->fh_held = open_fh(&a->f, h->held, O_RDONLY);
	CHECK_OK(vfe_fuse_forget(&a->f, h->held, 1));
	/* A directory only the guest holds, renamed on the host since. */
	CHECK(mkdir(vfe_shared_path(a, "sub"), 0755) == 0);
	h->sub = lookup(&a->f, ROOT, "sub");
	snprintf(from, sizeof(from), "%s", vfe_shared_path(a, "sub"));
	CHECK(rename(from, vfe_shared_path(a, "sub2")) == 0);
}

static void check_read(struct vfe_fuse *f, uint64_t node, uint64_t fh,
		       const char *want)
{
	char buf[256];
	size_t got = 0;

	CHECK_OK(vfe_fuse_read(f, node, fh, 0, buf, sizeof(buf), &got));
	CHECKF(got == strlen(want) && !memcmp(buf, want, got),
	       "READ of node %llu fh %llu: got %zu bytes \"%.*s\", want \"%s\"",
	       (unsigned long long)node, (unsigned long long)fh, got, (int)got,
	       buf, want);
}

static void check_ino(struct vfe_env *e, struct vfe_fuse *f, uint64_t node,
		      const char *host_name)
{
	struct fuse_attr_out a;

	CHECK_OK(vfe_fuse_getattr(f, node, false, 0, &a));
	CHECKF(a.attr.ino == host_ino(e, host_name),
	       "node %llu: st_ino %llu, host %s has %llu",
	       (unsigned long long)node, (unsigned long long)a.attr.ino,
	       host_name, (unsigned long long)host_ino(e, host_name));
}

static bool gone_id(struct vfe_fuse *f, uint64_t node)
{
	struct fuse_attr_out a;
	int r = vfe_fuse_getattr(f, node, false, 0, &a);

	CHECKF(r != -VFE_ETRANSPORT && r != -VFE_EPROTO, "GETATTR: %s",
	       vfe_errname(r));
	return r < 0;
}

/* Everything the guest held on the source works on dest. */
static void check_dest(struct vfe_env *a, struct vfe_env *b,
		       const struct held *h)
{
	struct vfe_fuse *f = &b->f;
	struct fuse_entry_out ent;
	char buf[8192], host[64];
	size_t len, pos = 0, w = 0;
	struct vfe_dirent d;
	unsigned rest = 0;
	int fd;

	check_ino(a, f, ROOT, ".");
	check_ino(a, f, h->top, "top");
	check_ino(a, f, h->caf, NONUTF8);
	check_ino(a, f, h->f, "d1/d2/f");
	check_ino(a, f, h->dd, "dd");
	check_ino(a, f, h->held, "held");
	check_ino(a, f, h->sub, "sub2");
	/* The anchors were not given to the guest. */
	CHECK(gone_id(f, h->d1));
	CHECK(gone_id(f, h->d2));

	check_read(f, h->caf, h->fh_caf, "latin-1 name");
	check_read(f, h->f, h->fh_f, "deep file");
	check_read(f, h->held, h->fh_held, "held by a handle only");
	check_read(f, h->gone, h->fh_gone, "unlinked but open");
	/* WRITE through the old fh lands in the host file. */
	CHECK_OK(vfe_fuse_write(f, h->caf, h->fh_caf, 0, "LATIN", 5, &w));
	CHECK_EQ(w, 5);
	fd = open(vfe_shared_path(a, NONUTF8), O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(read(fd, host, sizeof(host)), 12);
	close(fd);
	CHECK(!memcmp(host, "LATIN-1 name", 12));
	/* The unlinked file is writable too. */
	CHECK_OK(vfe_fuse_write(f, h->gone, h->fh_gone, 0, "UNLINKED", 8, &w));
	check_read(f, h->gone, h->fh_gone, "UNLINKED but open");

	/* READDIR continues where the source stopped. */
	CHECK_OK(vfe_fuse_readdir(f, h->dd, h->fh_dd, h->rd_off, sizeof(buf),
				  buf, &len));
	while (vfe_dirent_next(buf, len, &pos, false, &d) == 1)
		if (strcmp(d.name, ".") && strcmp(d.name, ".."))
			rest++;
	CHECKF(h->rd_seen + rest == h->dd_total,
	       "READDIR: %u entries before, %u after migration, %u exist",
	       h->rd_seen, rest, h->dd_total);

	/* The hidden directory is gone and would be invisible anyway. */
	CHECK(!host_exists(a, HIDDEN));
	CHECK_ERR(vfe_fuse_lookup(f, ROOT, HIDDEN, &ent), -ENOENT);

	/* New ids continue after the migrated ones. */
	CHECK_OK(vfe_fuse_lookup(f, ROOT, "d1", &ent));
	CHECKF(ent.nodeid > h->sub && ent.nodeid > h->d2,
	       "new node id %llu reuses an old one",
	       (unsigned long long)ent.nodeid);
	CHECK_OK(vfe_fuse_forget(f, ent.nodeid, 1));

	/* The migrated lookup counts: top had 3. */
	CHECK_OK(vfe_fuse_forget(f, h->top, 2));
	CHECK(!gone_id(f, h->top));
	CHECK_OK(vfe_fuse_forget(f, h->top, 1));
	CHECK(gone_id(f, h->top));
	/* Released handles free what only they held. */
	CHECK_OK(vfe_fuse_release(f, h->held, h->fh_held, 0));
	CHECK(gone_id(f, h->held));
	CHECK_OK(vfe_fuse_release(f, h->gone, h->fh_gone, 0));
	CHECK_OK(vfe_fuse_forget(f, h->gone, 1));
	CHECK(gone_id(f, h->gone));
}

static void t_save_load(void)
{
	struct vfe_env a, b, c;
	struct held h = { 0 };
	struct blob blob, blob2;

	vfe_env_up(&a, NULL);
	populate(&a, &h);
	vfe_mig_dest_up(&b, &a, "dest", NULL);

	save_state(&a, &blob);
	CHECK_EQ(hidden_entries(&a), 1);   /* the unlinked file */
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 0);
	vfe_mig_dest_start(&b, &a);
	check_dest(&a, &b, &h);
	CHECK(vfe_daemon_log_contains(&a.d, "migration: saved"));
	CHECK(vfe_daemon_log_contains(&b.d, "migration: loaded"));
	note_log(&a.d, "migration: saved");
	note_log(&b.d, "migration: loaded");

	/* And on to a third daemon (B -> C). */
	vfe_mig_dest_up(&c, &a, "dest2", NULL);
	save_state(&b, &blob2);
	CHECK_EQ(vfe_mig_load(&c, blob2.p, blob2.len), 0);
	vfe_mig_dest_start(&c, &b);
	check_ino(&a, &c.f, h.caf, NONUTF8);
	check_read(&c.f, h.caf, h.fh_caf, "LATIN-1 name");
	check_read(&c.f, h.f, h.fh_f, "deep file");
	dest_down(&c);
	dest_down(&b);
	free(blob.p);
	free(blob2.p);
	vfe_env_down(&a);
}

/* Corrupt, truncated and foreign blobs: CHECK fails, nothing applied, and
 * the destination still serves a fresh guest. */
static void t_bad_blobs(void)
{
	struct vfe_env a, b;
	struct held h = { 0 };
	struct blob blob;
	struct fuse_entry_out ent;
	uint8_t *bad;

	vfe_env_up(&a, NULL);
	populate(&a, &h);
	vfe_mig_dest_up(&b, &a, "dest", NULL);
	save_state(&a, &blob);
	bad = malloc(blob.len);
	CHECK(bad != NULL);

	memcpy(bad, blob.p, blob.len);
	bad[blob.len / 2] ^= 0x40;
	CHECK_EQ(vfe_mig_load(&b, bad, blob.len), 1);
	CHECK(vfe_daemon_alive(&b.d));
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len - 7), 1);
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len / 3), 1);
	memcpy(bad, blob.p, blob.len);
	bad[0] ^= 1;
	CHECK_EQ(vfe_mig_load(&b, bad, blob.len), 1);
	CHECK_EQ(vfe_mig_load(&b, bad, 0), 1);
	CHECK(vfe_daemon_alive(&b.d));
	CHECK(!vfe_daemon_log_contains(&b.d, "migration: loaded"));

	/* A fresh guest: INIT, and none of the source's ids exist. */
	CHECK_OK(vfe_dev_start(&b.dev));
	CHECK_OK(vfe_fuse_client_init(&b.f, &b.dev, 0, 0));
	b.have_fuse = true;
	CHECK_OK(vfe_fuse_init(&b.f));
	CHECK(gone_id(&b.f, h.top));
	CHECK_OK(vfe_fuse_lookup(&b.f, ROOT, "top", &ent));
	dest_down(&b);
	free(bad);
	free(blob.p);
	vfe_env_down(&a);
}

/* The migration fails after the save: the source restarts its rings and
 * goes on with the same ids; the hidden links are removed. */
static void t_source_resumes(void)
{
	struct vfe_env a;
	struct held h = { 0 };
	struct blob blob;

	vfe_env_up(&a, NULL);
	populate(&a, &h);
	save_state(&a, &blob);
	CHECK_EQ(hidden_entries(&a), 1);
	CHECK_OK(vfe_dev_start(&a.dev));
	check_read(&a.f, h.gone, h.fh_gone, "unlinked but open");
	CHECK(!host_exists(&a, HIDDEN));
	check_ino(&a, &a.f, h.top, "top");
	check_read(&a.f, h.f, h.fh_f, "deep file");
	/* The anchors of the save are gone again. */
	CHECK(gone_id(&a.f, h.d1));
	CHECK(gone_id(&a.f, h.d2));
	/* A second attempt works as well. */
	free(blob.p);
	save_state(&a, &blob);
	CHECK_OK(vfe_dev_start(&a.dev));
	CHECK(!host_exists(&a, HIDDEN));
	free(blob.p);
	vfe_env_down(&a);
}

static uint32_t crc32c(const uint8_t *p, size_t len)
{
	uint32_t c = ~0u;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

/*
 * The guest negotiated the writeback cache; the destination runs without
 * --writeback.  (The test guest does not offer writeback, so the SESSION
 * flags of a real blob are patched and the END checksum recomputed.)
 */
static void t_incompatible_dest(void)
{
	struct vfe_env a, b;
	struct blob blob;
	/* header 16 + section header 12 + initialized 1 + minor 4 */
	const size_t flags_off = 16 + 12 + 1 + 4;
	uint32_t crc;

	vfe_env_up(&a, NULL);
	vfe_mig_dest_up(&b, &a, "dest", NULL);
	save_state(&a, &blob);
	CHECK(blob.len > flags_off + 8 + 16);
	CHECK_EQ(blob.p[16], 1);   /* SESSION first */
	blob.p[flags_off + 2] |= 0x01;   /* FUSE_WRITEBACK_CACHE, bit 16 */
	crc = crc32c(blob.p, blob.len - 16);
	memcpy(blob.p + blob.len - 4, &crc, 4);   /* little-endian host */
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 1);
	CHECK(vfe_daemon_log_contains(&b.d, "without --writeback"));
	dest_down(&b);
	free(blob.p);
	vfe_env_down(&a);
}

/* A stale hidden directory is removed at start-up. */
static void t_stale_hidden_dir(void)
{
	struct vfe_env a;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/shared", vfe_test_dir());
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/shared/" HIDDEN, vfe_test_dir());
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/shared/" HIDDEN "/12-34-0", vfe_test_dir());
	host_write(p, "stale");
	vfe_env_up(&a, NULL);
	CHECK(!host_exists(&a, HIDDEN));
	vfe_env_down(&a);
}

/* ---- pre-copy, options, error policy, scale ---- */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* rename() on the host; to: relative to the shared dir unless absolute.
 * (vfe_shared_path() returns a static buffer: copy it first.) */
static void host_rename(struct vfe_env *e, const char *from, const char *to)
{
	char f[PATH_MAX], t[PATH_MAX];

	snprintf(f, sizeof(f), "%s", vfe_shared_path(e, from));
	snprintf(t, sizeof(t), "%s", to[0] == '/' ? to : vfe_shared_path(e, to));
	CHECKF(rename(f, t) == 0, "host rename %s -> %s: %s", f, t,
	       strerror(errno));
}

/* Wait (bounded) until the daemon's log contains needle. */
static bool wait_log(struct vfe_daemon *d, const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 10) {
		if (vfe_daemon_log_contains(d, needle))
			return true;
		usleep(10000);
	}
	return false;
}

static uint64_t create_fh(struct vfe_fuse *f, uint64_t parent,
			  const char *name, uint64_t *fh)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;

	CHECK_OK(vfe_fuse_create(f, parent, name, O_RDWR, 0644, &e, &o));
	*fh = o.fh;
	return e.nodeid;
}

/*
 * Dirty logging on, the thread collects; then the guest renames,
 * unlinks, creates and renames a directory through FUSE: after save +
 * load every id resolves to the right host file.
 */
static void t_precopy(void)
{
	struct vfe_env a, b;
	struct blob blob;
	char name[64];
	uint64_t id[8], p, q, nw, fh_nw, g;
	struct fuse_entry_out ent;

	vfe_env_up(&a, NULL);
	CHECK(mkdir(vfe_shared_path(&a, "p"), 0755) == 0);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "p/f%d", i);
		host_write(vfe_shared_path(&a, name), name);
	}
	p = lookup(&a.f, ROOT, "p");
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		id[i] = lookup(&a.f, p, name);
	}
	/* p is forgotten: its children's records keep it as the parent. */
	CHECK_OK(vfe_fuse_forget(&a.f, p, 1));
	CHECK_OK(vfe_dev_log_start(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: paths of", 5000));
	/* p is back for the guest (an id is not reused while held). */
	p = lookup(&a.f, ROOT, "p");
	CHECK_OK(vfe_fuse_rename(&a.f, p, "f1", p, "g1"));
	CHECK_OK(vfe_fuse_unlink(&a.f, p, "f2"));           /* nlink 0 */
	CHECK_OK(vfe_fuse_link(&a.f, id[3], ROOT, "l3", &ent));
	CHECK_OK(vfe_fuse_unlink(&a.f, p, "f3"));           /* name l3 left */
	CHECK_OK(vfe_fuse_mkdir(&a.f, ROOT, "q", 0755, &ent));
	q = lookup(&a.f, ROOT, "q");
	CHECK_OK(vfe_fuse_rename(&a.f, p, "f4", q, "f4"));
	CHECK_OK(vfe_fuse_rename(&a.f, p, "f5", p, "f6"));  /* f6 overwritten */
	nw = create_fh(&a.f, q, "new", &fh_nw);
	CHECK_OK(vfe_fuse_rename(&a.f, ROOT, "p", ROOT, "p2"));
	/* (A third-party rename is not tracked: t_precopy_trust.) */
	g = lookup(&a.f, ROOT, "l3");
	CHECK_EQ(g, id[3]);

	vfe_mig_dest_up(&b, &a, "dest", NULL);
	save_state(&a, &blob);
	CHECK(vfe_daemon_log_contains(&a.d, "migration: pre-copy complete"));
	note_log(&a.d, "migration: pre-copy complete");
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 0);
	vfe_mig_dest_start(&b, &a);
	check_ino(&a, &b.f, id[0], "p2/f0");
	check_ino(&a, &b.f, id[1], "p2/g1");
	check_ino(&a, &b.f, id[3], "l3");
	check_ino(&a, &b.f, id[4], "q/f4");
	check_ino(&a, &b.f, id[5], "p2/f6");
	check_ino(&a, &b.f, id[7], "p2/f7");
	check_ino(&a, &b.f, nw, "q/new");
	check_ino(&a, &b.f, p, "p2");
	check_ino(&a, &b.f, q, "q");
	/* f2 (unlinked) and the old f6 (overwritten) are held by the guest
	 * with nlink 0: they travel as copies (docs/migration.md). */
	CHECK(!gone_id(&b.f, id[2]));
	CHECK(!gone_id(&b.f, id[6]));
	check_read(&b.f, nw, fh_nw, "");
	dest_down(&b);
	free(blob.p);
	vfe_env_down(&a);
}

/* Logging on, then off again (cancel): a later save (a snapshot: no
 * logging) collects at save time and is still right. */
static void t_precopy_cancel(void)
{
	struct vfe_env a, b;
	struct blob blob;
	uint64_t x, y;

	vfe_env_up(&a, NULL);
	host_write(vfe_shared_path(&a, "x"), "x");
	x = lookup(&a.f, ROOT, "x");
	CHECK_OK(vfe_dev_log_start(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: paths of", 5000));
	CHECK_OK(vfe_dev_log_stop(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: stopped", 5000));
	CHECK_OK(vfe_fuse_rename(&a.f, ROOT, "x", ROOT, "y"));
	y = lookup(&a.f, ROOT, "y");
	CHECK_EQ(x, y);
	vfe_mig_dest_up(&b, &a, "dest", NULL);
	save_state(&a, &blob);
	CHECK(vfe_daemon_log_contains(&a.d, "no dirty logging before the save"));
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 0);
	vfe_mig_dest_start(&b, &a);
	check_ino(&a, &b.f, x, "y");
	dest_down(&b);
	free(blob.p);
	vfe_env_down(&a);
}

/* The guest holds "x" (with a handle) and "y"; x is deleted on the host
 * between save and load. */
static void held_pair(struct vfe_env *a, uint64_t *x, uint64_t *fh,
		      uint64_t *y, struct blob *blob)
{
	host_write(vfe_shared_path(a, "x"), "xx");
	host_write(vfe_shared_path(a, "y"), "yy");
	*x = lookup(&a->f, ROOT, "x");
	*fh = open_fh(&a->f, *x, O_RDONLY);
	*y = lookup(&a->f, ROOT, "y");
	save_state(a, blob);
	CHECK(unlink(vfe_shared_path(a, "x")) == 0);
}

static void t_on_error_guest(void)
{
	static const char *const ge[] = { "--migration-on-error=guest-error",
					  NULL };
	struct vfe_env a, b, c;
	struct blob blob, blob2;
	struct fuse_attr_out at;
	struct fuse_entry_out ent;
	uint64_t x, fh, y;
	char buf[16];
	size_t got;

	vfe_env_up(&a, NULL);
	held_pair(&a, &x, &fh, &y, &blob);
	vfe_mig_dest_up(&b, &a, "dest", ge);
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 0);
	CHECK(vfe_daemon_log_contains(&b.d, "installed as invalid"));
	vfe_mig_dest_start(&b, &a);
	CHECK_ERR(vfe_fuse_getattr(&b.f, x, false, 0, &at), -ENOENT);
	CHECK_ERR(vfe_fuse_read(&b.f, x, fh, 0, buf, sizeof(buf), &got),
		  -ENOENT);
	check_ino(&a, &b.f, y, "y");
	CHECK_OK(vfe_fuse_lookup(&b.f, ROOT, "y", &ent));
	/* On to C (default policy): x travels as INVALID. */
	vfe_mig_dest_up(&c, &a, "dest2", NULL);
	save_state(&b, &blob2);
	CHECK_EQ(vfe_mig_load(&c, blob2.p, blob2.len), 0);
	vfe_mig_dest_start(&c, &b);
	CHECK_ERR(vfe_fuse_getattr(&c.f, x, false, 0, &at), -ENOENT);
	check_ino(&a, &c.f, y, "y");
	CHECK_OK(vfe_fuse_release(&c.f, x, fh, 0));
	CHECK_OK(vfe_fuse_forget(&c.f, x, 1));
	CHECK_ERR(vfe_fuse_getattr(&c.f, x, false, 0, &at), -EBADF);
	dest_down(&c);
	dest_down(&b);
	free(blob.p);
	free(blob2.p);
	vfe_env_down(&a);
}

static void t_on_error_abort(void)
{
	struct vfe_env a, b;
	struct blob blob;
	uint64_t x, fh, y;

	vfe_env_up(&a, NULL);
	held_pair(&a, &x, &fh, &y, &blob);
	vfe_mig_dest_up(&b, &a, "dest", NULL);
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 1);
	CHECK(vfe_daemon_log_contains(&b.d, "cannot open it in its parent"));
	dest_down(&b);
	free(blob.p);
	vfe_env_down(&a);
}

/* A file replaced on the host by another of the same name. */
static void t_verify_handles(void)
{
	static const char *const vh[] = { "--migration-verify-handles", NULL };
	static const char *const ge[] = { "--migration-on-error=guest-error",
					  NULL };
	struct vfe_env a, b, c;
	struct fuse_attr_out at;
	struct blob blob;
	uint64_t v, w;

	vfe_env_up_args(&a, vh);
	host_write(vfe_shared_path(&a, "v"), "original");
	host_write(vfe_shared_path(&a, "w"), "kept");
	CHECK_OK(vfe_dev_log_start(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: paths of", 5000));
	v = lookup(&a.f, ROOT, "v");
	w = lookup(&a.f, ROOT, "w");
	save_state(&a, &blob);
	CHECK(vfe_daemon_log_contains(&a.d, "3 file handles"));
	CHECK(unlink(vfe_shared_path(&a, "v")) == 0);
	host_write(vfe_shared_path(&a, "v"), "impostor");
	vfe_mig_dest_up(&b, &a, "dest", NULL);
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 1);
	CHECK(vfe_daemon_log_contains(&b.d, "file handle differs"));
	dest_down(&b);
	vfe_mig_dest_up(&c, &a, "dest2", ge);
	CHECK_EQ(vfe_mig_load(&c, blob.p, blob.len), 0);
	vfe_mig_dest_start(&c, &a);
	CHECK_ERR(vfe_fuse_getattr(&c.f, v, false, 0, &at), -ESTALE);
	check_ino(&a, &c.f, w, "w");
	dest_down(&c);
	free(blob.p);
	vfe_env_down(&a);
}

/* A held file moved out of the shared dir: without confirm-paths the
 * save goes on (INVALID entry), with it the save fails. */
static void t_confirm_paths(void)
{
	static const char *const cp[] = { "--migration-confirm-paths", NULL };
	char out[PATH_MAX];
	struct vfe_env a;
	struct blob blob;
	int pp[2];

	vfe_env_up_args(&a, cp);
	host_write(vfe_shared_path(&a, "c"), "c");
	host_write(vfe_shared_path(&a, "d"), "d");
	lookup(&a.f, ROOT, "c");
	lookup(&a.f, ROOT, "d");
	/* Renamed by a third party: re-resolved, confirmed. */
	host_rename(&a, "d", "d2");
	save_state(&a, &blob);
	free(blob.p);
	CHECK_OK(vfe_dev_start(&a.dev));
	snprintf(out, sizeof(out), "%s/outside", vfe_test_dir());
	host_rename(&a, "c", out);
	CHECK_OK(vfe_dev_stop(&a.dev, NULL));
	CHECK_OK(pipe2(pp, O_CLOEXEC));
	CHECK_EQ(vfe_mig_set_state_fd(&a.dev, 0, pp[1]), 0x100);
	close(pp[1]);
	while (read(pp[0], out, sizeof(out)) > 0)
		;
	close(pp[0]);
	CHECK_EQ(vfe_mig_check_state(&a.dev), 1);
	CHECK(vfe_daemon_log_contains(&a.d, "--migration-confirm-paths: inode"));
	vfe_env_down(&a);
}

/* Stop the rings and save; the save must fail (CHECK 1). */
static void save_fails(struct vfe_env *e)
{
	char buf[4096];
	int pp[2];

	CHECK_OK(vfe_dev_stop(&e->dev, NULL));
	CHECK_OK(pipe2(pp, O_CLOEXEC));
	CHECK_EQ(vfe_mig_set_state_fd(&e->dev, 0, pp[1]), 0x100);
	close(pp[1]);
	while (read(pp[0], buf, sizeof(buf)) > 0)
		;
	close(pp[0]);
	CHECK_EQ(vfe_mig_check_state(&e->dev), 1);
}

/*
 * A pre-copy save takes the tracked records as they are (no syscall per
 * inode; docs/migration.md "Pre-copy"): a third party renaming a file on
 * the host after the pre-copy recorded it is not seen, the stale name is
 * sent and the destination cannot open it (abort: the load fails;
 * guest-error: that id fails for the guest).  Inodes held by an open
 * handle are the exception (one statx each): o, open and renamed the
 * same way, is found under its new name.  With --migration-confirm-paths
 * the rename of x fails the save instead.
 */
static void precopy_trust(bool confirm)
{
	static const char *const cp[] = { "--migration-confirm-paths", NULL };
	static const char *const ge[] = { "--migration-on-error=guest-error",
					  NULL };
	struct vfe_env a, b, c;
	struct fuse_attr_out at;
	struct blob blob;
	uint64_t t, x, y, o, ofh;

	vfe_env_up_args(&a, confirm ? cp : NULL);
	CHECK(mkdir(vfe_shared_path(&a, "t"), 0755) == 0);
	host_write(vfe_shared_path(&a, "t/x"), "x");
	host_write(vfe_shared_path(&a, "t/y"), "y");
	host_write(vfe_shared_path(&a, "t/o"), "open");
	t = lookup(&a.f, ROOT, "t");
	x = lookup(&a.f, t, "x");
	y = lookup(&a.f, t, "y");
	o = lookup(&a.f, t, "o");
	ofh = open_fh(&a.f, o, O_RDONLY);
	CHECK_OK(vfe_dev_log_start(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: paths of", 5000));
	host_rename(&a, "t/x", "t/x2");   /* behind the tracker */
	host_rename(&a, "t/o", "t/o2");
	if (confirm) {
		save_fails(&a);
		CHECK(vfe_daemon_log_contains(&a.d, "--migration-confirm-paths: "
					      "inode"));
		/* The source goes on. */
		CHECK_OK(vfe_dev_start(&a.dev));
		CHECK_OK(vfe_fuse_getattr(&a.f, x, false, 0, &at));
		vfe_env_down(&a);
		return;
	}
	save_state(&a, &blob);
	CHECK(vfe_daemon_log_contains(&a.d, "3 of 5 inodes as tracked, 1 "
				      "resolved at save"));
	vfe_mig_dest_up(&b, &a, "dest", NULL);
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 1);
	CHECK(vfe_daemon_log_contains(&b.d, "cannot open it in its parent"));
	dest_down(&b);
	vfe_mig_dest_up(&c, &a, "dest2", ge);
	CHECK_EQ(vfe_mig_load(&c, blob.p, blob.len), 0);
	vfe_mig_dest_start(&c, &a);
	CHECK_ERR(vfe_fuse_getattr(&c.f, x, false, 0, &at), -ENOENT);
	check_ino(&a, &c.f, y, "t/y");
	check_ino(&a, &c.f, o, "t/o2");
	check_read(&c.f, o, ofh, "open");
	dest_down(&c);
	free(blob.p);
	vfe_env_down(&a);
}

static void t_precopy_trust(void)
{
	precopy_trust(false);
}

static void t_precopy_confirm(void)
{
	precopy_trust(true);
}

/* The INODES lines of a blob as --print-state shows them, sorted, one
 * string; hidden-link names (they differ per save) cut off. */
static char *inode_lines(const struct blob *b)
{
	char path[PATH_MAX], cmd[2 * PATH_MAX], line[1024], *lines[256], *out;
	size_t n = 0, len = 0;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/blob.bin", vfe_test_dir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, b->p, b->len), (ssize_t)b->len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "'%s' --print-state '%s'", vfe_daemon_exe(),
		 path);
	f = popen(cmd, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		char *u = strstr(line, "kind UNLINKED");

		if (strncmp(line, "  inode ", 8) || !strstr(line, "kind "))
			continue;
		if (u)
			strcpy(u + strlen("kind UNLINKED"), "\n");
		CHECK(n < 256);
		lines[n++] = strdup(line);
		len += strlen(line);
	}
	CHECK_EQ(pclose(f), 0);
	qsort(lines, n, sizeof(*lines), cmp_str);
	out = calloc(1, len + 1);
	CHECK(out != NULL);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		free(lines[i]);
	}
	return out;
}

/*
 * Snapshot save (paths found at save time, the cached-parent fast path)
 * against the pre-copy thread's walks from the root (the slow path), on
 * tricky trees: a directory renamed by a third party before the save, a
 * hard link, a file replaced by another of the same name, a bind mount
 * (when this host lets the test mount), names with odd bytes (one of them
 * a live file named "... (deleted)").  Both saves must give the same
 * records, and the snapshot must load with every id on its host file.
 * fh: inodes held by file handles, 100 more files in "many": the save
 * finds them in directory listings (a hard link may then be found under
 * its other name: the records are not compared, the load checks them).
 */
static void snapshot_paths(bool fh)
{
	static const char *const fha[] = { "--inode-file-handles=mandatory",
					   NULL };
	static const char *const names[] = { "sp ace", "nl\nname", "bs\\x",
					     NONUTF8, "z (deleted)", "-" };
	char dir[PATH_MAX], mdir[PATH_MAX + 8], mnt[PATH_MAX + 8];
	uint64_t a1, b1, c1, f1, h, r, ids[6], md, mf, mn, mnf = 0, many[100];
	struct vfe_env a, b;
	struct blob snap, pre;
	char *l1, *l2;
	bool mounted;

	/* The bind mount exists before the daemons start (they see the
	 * mount tree of their start in their namespace). */
	snprintf(dir, sizeof(dir), "%s/shared", vfe_test_dir());
	snprintf(mdir, sizeof(mdir), "%s/mdir", dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	CHECK(mkdir(dir, 0755) == 0);
	CHECK(mkdir(mdir, 0755) == 0);
	CHECK(mkdir(mnt, 0755) == 0);
	snprintf(mdir + strlen(mdir), sizeof(mdir) - strlen(mdir), "/f");
	host_write(mdir, "mounted");
	snprintf(mdir, sizeof(mdir), "%s/mdir", dir);
	mounted = mount(mdir, mnt, NULL, MS_BIND, NULL) == 0;
	if (!mounted)
		vfe_note("no bind mount (%s): that case is skipped",
			 strerror(errno));
	vfe_env_up_args(&a, fh ? fha : NULL);
	CHECK(mkdir(vfe_shared_path(&a, "a"), 0755) == 0);
	CHECK(mkdir(vfe_shared_path(&a, "a/b"), 0755) == 0);
	CHECK(mkdir(vfe_shared_path(&a, "a/b/c"), 0755) == 0);
	host_write(vfe_shared_path(&a, "a/b/c/f"), "deep");
	host_write(vfe_shared_path(&a, "h"), "linked");
	host_write(vfe_shared_path(&a, "r"), "replaced");
	for (unsigned i = 0; i < 6; i++)
		host_write(vfe_shared_path(&a, names[i]), names[i]);
	a1 = lookup(&a.f, ROOT, "a");
	b1 = lookup(&a.f, a1, "b");
	c1 = lookup(&a.f, b1, "c");
	f1 = lookup(&a.f, c1, "f");
	h = lookup(&a.f, ROOT, "h");
	r = lookup(&a.f, ROOT, "r");
	for (unsigned i = 0; i < 6; i++)
		ids[i] = lookup(&a.f, ROOT, names[i]);
	if (fh) {
		uint64_t m;

		CHECK(mkdir(vfe_shared_path(&a, "many"), 0755) == 0);
		for (unsigned i = 0; i < 100; i++) {
			char nm[32];

			snprintf(nm, sizeof(nm), "many/%u", i);
			host_write(vfe_shared_path(&a, nm), "m");
		}
		m = lookup(&a.f, ROOT, "many");
		for (unsigned i = 0; i < 100; i++) {
			char nm[16];

			snprintf(nm, sizeof(nm), "%u", i);
			many[i] = lookup(&a.f, m, nm);
		}
	}
	md = lookup(&a.f, ROOT, "mdir");
	mf = lookup(&a.f, md, "f");
	mn = lookup(&a.f, ROOT, "mnt");
	if (mounted) {
		mnf = lookup(&a.f, mn, "f");
		CHECKF(mnf != mf, "the bind mount's f is not a node of its own");
	}
	/* Third parties, before the save. */
	host_rename(&a, "a/b", "a/b2");
	snprintf(dir, sizeof(dir), "%s", vfe_shared_path(&a, "h"));
	CHECK(link(dir, vfe_shared_path(&a, "a/hl")) == 0);
	CHECK(unlink(vfe_shared_path(&a, "r")) == 0);
	host_write(vfe_shared_path(&a, "r"), "impostor");

	vfe_mig_dest_up(&b, &a, "dest", fh ? fha : NULL);
	save_state(&a, &snap);
	CHECK(vfe_daemon_log_contains(&a.d, "resolved at save"));
	if (fh)
		CHECK(!vfe_daemon_log_contains(&a.d, "(0 found in directory"));
	CHECKF(fh || !vfe_daemon_log_contains(&a.d, "cannot be migrated"),
	       "an inode could not be migrated");
	CHECK_EQ(vfe_mig_load(&b, snap.p, snap.len), 0);
	vfe_mig_dest_start(&b, &a);
	check_ino(&a, &b.f, b1, "a/b2");
	check_ino(&a, &b.f, c1, "a/b2/c");
	check_ino(&a, &b.f, f1, "a/b2/c/f");
	check_ino(&a, &b.f, h, "a/hl");
	for (unsigned i = 0; i < 6; i++)
		check_ino(&a, &b.f, ids[i], names[i]);
	check_ino(&a, &b.f, mf, "mdir/f");
	check_ino(&a, &b.f, mn, mounted ? "mdir" : "mnt");
	if (mounted)
		check_ino(&a, &b.f, mnf, "mdir/f");
	for (unsigned i = 0; fh && i < 100; i++) {
		char nm[32];

		snprintf(nm, sizeof(nm), "many/%u", i);
		check_ino(&a, &b.f, many[i], nm);
	}
	/* The replaced file is the old one (a copy: content, not st_ino);
	 * held by its handle only, nothing kept it: stale. */
	if (fh) {
		struct fuse_attr_out at;

		CHECK_ERR(vfe_fuse_getattr(&b.f, r, false, 0, &at), -ESTALE);
	} else {
		struct fuse_attr_out at;
		uint64_t fh = open_fh(&b.f, r, O_RDONLY);

		check_read(&b.f, r, fh, "replaced");
		CHECK_OK(vfe_fuse_getattr(&b.f, r, false, 0, &at));
		CHECK(at.attr.ino != host_ino(&a, "r"));
	}
	dest_down(&b);

	/* The source again (its links were taken over by the load), with
	 * the pre-copy thread's walks from the root this time. */
	CHECK_OK(vfe_dev_start(&a.dev));
	CHECK_OK(vfe_dev_log_start(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: paths of", 5000));
	save_state(&a, &pre);
	l1 = inode_lines(&snap);
	l2 = inode_lines(&pre);
	CHECKF(fh || !strcmp(l1, l2), "snapshot records:\n%s\npre-copy "
	       "records:\n%s", l1, l2);
	CHECK(strstr(l1, "name \"c\"") && strstr(l1, "name \"b2\""));
	free(l1);
	free(l2);
	free(snap.p);
	free(pre.p);
	vfe_env_down(&a);
	if (mounted)
		CHECK(umount2(mnt, MNT_DETACH) == 0);
}

static void t_snapshot_paths(void)
{
	snapshot_paths(false);
}

static void t_snapshot_paths_fh(void)
{
	snapshot_paths(true);
}

/* Start-up checks of the migration options. */
static void t_options(void)
{
	static const char *const bad1[] = { "--migration-mode=file-handles",
					    "--migration-verify-handles",
					    NULL };
	static const char *const bad2[] = { "--migration-on-error=maybe",
					    NULL };
	static const char *const ok[] = { "--migration-mode=find-paths",
					  "--migration-on-error=abort",
					  "--migration-verify-handles",
					  "--migration-confirm-paths", NULL };
	const char *const *bad[] = { bad1, bad2 };
	struct vfe_daemon_opts o;
	struct vfe_daemon d;
	char dir[PATH_MAX];

	for (unsigned k = 0; k < 2; k++) {
		memset(&o, 0, sizeof(o));
		o.exe = vfe_daemon_exe();
		for (unsigned i = 0; bad[k][i]; i++)
			o.extra[i] = bad[k][i];
		snprintf(dir, sizeof(dir), "%s/bad%u", vfe_test_dir(), k);
		CHECK(mkdir(dir, 0755) == 0);
		CHECK_ERR(vfe_daemon_start(&d, dir, &o), -ECHILD);
		if (k == 0)
			CHECK(vfe_daemon_log_contains(&d, "cannot be used with "
						      "'--migration-mode=file-handles'"));
	}
	memset(&o, 0, sizeof(o));
	o.exe = vfe_daemon_exe();
	for (unsigned i = 0; ok[i]; i++)
		o.extra[i] = ok[i];
	snprintf(dir, sizeof(dir), "%s/good", vfe_test_dir());
	CHECK(mkdir(dir, 0755) == 0);
	CHECK_OK(vfe_daemon_start(&d, dir, &o));
	CHECK(vfe_daemon_alive(&d));
	vfe_daemon_kill(&d);
}

/* Look up n names "dK/N" through FUSE with many requests in flight. */
static void lookup_many(struct vfe_fuse *f, const uint64_t *dirs,
			unsigned ndirs, unsigned n)
{
	static struct fuse_entry_out ent;
	unsigned sent = 0, done = 0;
	char name[32];

	while (done < n) {
		struct vfe_fuse_req *r;
		int err;

		while (sent < n) {
			struct vfe_fuse_call c = {
				.opcode = FUSE_LOOKUP,
				.nodeid = dirs[sent % ndirs],
				.out = &ent, .out_cap = sizeof(ent),
				.queue = VFE_Q_DEFAULT,
			};
			int len = snprintf(name, sizeof(name), "%u", sent);

			c.in[0].iov_base = name;
			c.in[0].iov_len = (size_t)len + 1;
			c.nin = 1;
			if (!vfe_fuse_submit(f, &c, &err)) {
				CHECKF(err == -EBUSY || err == -ENOSPC,
				       "submit: %s", vfe_errname(err));
				break;
			}
			sent++;
		}
		CHECK_OK(vfe_fuse_poll(f, f->default_queue, 10000, &r));
		CHECK_OK(r->status);
		CHECKF(r->oh.error == 0, "LOOKUP %u: %d", done, r->oh.error);
		vfe_fuse_put(f, r);
		done++;
	}
}

/* n cached inodes: save without pre-copy (the rings restart), then with
 * pre-copy, then load on B; sizes and times from the daemons' logs.
 * extra: more daemon options for both (NULL-terminated) or NULL. */
static void scale(unsigned n, const char *const *extra)
{
	struct vfe_env_opts o;
	struct vfe_env a, b;
	struct blob blob;
	uint64_t dirs[4];
	char name[64];
	double t0;

	memset(&o, 0, sizeof(o));
	for (unsigned i = 0; extra && extra[i] && i + 1 < VFE_MAX_ARGS; i++)
		o.daemon.extra[i] = extra[i];
	vfe_env_up(&a, &o);
	for (unsigned d = 0; d < 4; d++) {
		snprintf(name, sizeof(name), "d%u", d);
		CHECK(mkdir(vfe_shared_path(&a, name), 0755) == 0);
	}
	for (unsigned i = 0; i < n; i++) {
		int fd;

		snprintf(name, sizeof(name), "d%u/%u", i % 4, i);
		fd = open(vfe_shared_path(&a, name), O_CREAT | O_WRONLY, 0644);
		CHECK(fd >= 0);
		close(fd);
	}
	for (unsigned d = 0; d < 4; d++) {
		snprintf(name, sizeof(name), "d%u", d);
		dirs[d] = lookup(&a.f, ROOT, name);
	}
	t0 = vfe_now_ms();
	lookup_many(&a.f, dirs, 4, n);
	vfe_note("%u LOOKUPs in %.0f ms", n, vfe_now_ms() - t0);

	save_state(&a, &blob);   /* no logging: collected at save */
	free(blob.p);
	note_log(&a.d, "inodes resolved at save");
	CHECK_OK(vfe_dev_start(&a.dev));
	CHECK_OK(vfe_dev_log_start(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: paths of", 30000));
	note_log(&a.d, "pre-copy: paths of");
	vfe_mig_dest_up(&b, &a, "dest", extra);
	save_state(&a, &blob);
	note_log(&a.d, "migration: pre-copy complete");
	note_log(&a.d, "migration: saved");
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 0);
	note_log(&b.d, "migration: loaded");
	vfe_mig_dest_start(&b, &a);
	check_ino(&a, &b.f, dirs[1], "d1");
	dest_down(&b);
	free(blob.p);
	vfe_env_down(&a);
}

/* How many inodes the daemon can hold: it inherits our RLIMIT_NOFILE
 * when it cannot raise it (no CAP_SYS_RESOURCE). */
static unsigned fd_room(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_max == RLIM_INFINITY ||
	    rl.rlim_max > 1000000)
		return 1000000;
	return rl.rlim_max > 2000 ? (unsigned)rl.rlim_max - 2000 : 0;
}

static void t_scale_20k(void)
{
	unsigned n = fd_room() < 20000 ? fd_room() : 20000;

	if (n < 20000)
		vfe_note("RLIMIT_NOFILE: %u inodes instead of 20000", n);
	scale(n, NULL);
}

/* 100k inodes: with O_PATH fds where the fd limit allows, else held by
 * file handles (the daemons then need only their fd cache). */
static void t_scale_100k(void)
{
	static const char *const fh[] = { "--inode-file-handles=mandatory",
					  NULL };

	if (fd_room() < 100000) {
		vfe_note("RLIMIT_NOFILE: %u fds of room, inodes held by file "
			 "handles", fd_room());
		scale(100000, fh);
		return;
	}
	scale(100000, NULL);
}

/* Seconds on the monotonic clock. */
static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A front-end that starts a transfer and never finishes it (its end of
 * the pipe stays open, nothing is written) must not hang the daemon:
 * RESET_DEVICE cancels the stalled load at once, and a disconnect during
 * another stalled load ends the daemon promptly with status 0.
 */
static void t_stalled_transfer(void)
{
	struct vfe_env a;
	uint16_t base[8];
	int p[2];
	double t0;

	vfe_env_up(&a, NULL);
	CHECK_OK(vfe_dev_stop(&a.dev, base));
	CHECK(pipe(p) == 0);
	CHECK_EQ(vfe_mig_set_state_fd(&a.dev, VFE_MIG_LOAD, p[0]), 0x100);
	close(p[0]);
	usleep(100 * 1000);
	t0 = mono_s();
	CHECK_OK(vfe_dev_reset(&a.dev));
	CHECKF(mono_s() - t0 < 2.0, "RESET_DEVICE took %.2f s", mono_s() - t0);
	CHECK(vfe_daemon_alive(&a.d));
	close(p[1]);

	CHECK(pipe(p) == 0);
	CHECK_EQ(vfe_mig_set_state_fd(&a.dev, VFE_MIG_LOAD, p[0]), 0x100);
	close(p[0]);
	usleep(100 * 1000);
	/* vfe_env_down disconnects and requires a clean exit in time. */
	vfe_env_down(&a);
	close(p[1]);
}

/* ---- the destination opens a large tree with several threads ---- */

#define PT_N 1200u   /* p/<even>, p/q/<odd>: over 512 entries per depth */

/* The guest's node ids in the tree of ptree_make(). */
struct ptree {
	uint64_t p, q, r, z, y, x, deep, f0, f1, f3, f1001, fh0, fh1;
	uint64_t ra[20];
	uint64_t sample[PT_N / 97 + 1];   /* the files 2 + 97 k */
};

/* Directory node and name of file i of the tree. */
static uint64_t ptree_file(const struct ptree *t, unsigned i, char *name,
			   size_t cap)
{
	snprintf(name, cap, "%u", i);
	return i % 2 ? t->q : t->p;
}

/* Host: p/<even> and p/q/<odd> (i < PT_N, each holding its own name),
 * p/r/a0..a19, p/q/z/y/x/deep; the guest looks all of them up and opens
 * p/0 and p/q/1. */
static void ptree_make(struct vfe_env *a, struct ptree *t)
{
	static const char *const dirs[] = { "p", "p/q", "p/r", "p/q/z",
					    "p/q/z/y", "p/q/z/y/x" };
	char name[64];
	uint64_t pq[2];

	for (unsigned i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		CHECK(mkdir(vfe_shared_path(a, dirs[i]), 0755) == 0);
	for (unsigned i = 0; i < PT_N; i++) {
		char txt[16];

		snprintf(name, sizeof(name), i % 2 ? "p/q/%u" : "p/%u", i);
		snprintf(txt, sizeof(txt), "%u", i);
		host_write(vfe_shared_path(a, name), txt);
	}
	for (unsigned i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "p/r/a%u", i);
		host_write(vfe_shared_path(a, name), "a");
	}
	host_write(vfe_shared_path(a, "p/q/z/y/x/deep"), "deep");
	t->p = lookup(&a->f, ROOT, "p");
	t->q = lookup(&a->f, t->p, "q");
	t->r = lookup(&a->f, t->p, "r");
	pq[0] = t->p;
	pq[1] = t->q;
	lookup_many(&a->f, pq, 2, PT_N);
	t->f0 = lookup(&a->f, t->p, "0");
	t->f1 = lookup(&a->f, t->q, "1");
	t->f3 = lookup(&a->f, t->q, "3");
	t->f1001 = lookup(&a->f, t->q, "1001");
	for (unsigned i = 2, k = 0; i < PT_N; i += 97, k++) {
		uint64_t dir = ptree_file(t, i, name, sizeof(name));

		t->sample[k] = lookup(&a->f, dir, name);
	}
	for (unsigned i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "a%u", i);
		t->ra[i] = lookup(&a->f, t->r, name);
	}
	t->z = lookup(&a->f, t->q, "z");
	t->y = lookup(&a->f, t->z, "y");
	t->x = lookup(&a->f, t->y, "x");
	t->deep = lookup(&a->f, t->x, "deep");
	t->fh0 = open_fh(&a->f, t->f0, O_RDONLY);
	t->fh1 = open_fh(&a->f, t->f1, O_RDWR);
}

/* Let the directories' ctimes age past what the destination trusts (see
 * pt_mig_load.c), so that it may open leaves the short way. */
static void ptree_settle(void)
{
	usleep(100 * 1000);
}

/* How many inodes the destination opened the short way (its debug line),
 * or -1 when it logged none. */
static long opened_short(const struct vfe_daemon *d)
{
	FILE *f = fopen(d->log_path, "r");
	char line[1024];
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *s = strstr(line, "migration: opened ");
		unsigned long all, fast;

		if (s && sscanf(s, "migration: opened %lu inodes (%lu by", &all,
				&fast) == 2)
			n = (long)fast;
	}
	fclose(f);
	return n;
}

/* What the guest held on the source works on the destination b, but for
 * the entries the host changed (gone: deep, r and its children, dup: one
 * of p/q/3 and p/q/1001 gives ESTALE). */
static void ptree_check(struct vfe_env *a, struct vfe_env *b,
			const struct ptree *t, bool deep_gone, bool dup,
			bool r_gone)
{
	struct fuse_attr_out at;
	char name[64];

	check_ino(a, &b->f, t->p, "p");
	check_ino(a, &b->f, t->q, "p/q");
	check_ino(a, &b->f, t->x, "p/q/z/y/x");
	check_read(&b->f, t->f0, t->fh0, "0");
	check_read(&b->f, t->f1, t->fh1, "1");
	/* LOOKUP finds the migrated inodes: same identity as its own. */
	CHECK_EQ(lookup(&b->f, t->p, "0"), t->f0);
	CHECK_EQ(lookup(&b->f, t->q, "1"), t->f1);
	for (unsigned i = 2, k = 0; i < PT_N; i += 97, k++) {
		uint64_t dir = ptree_file(t, i, name, sizeof(name));

		CHECK_EQ(lookup(&b->f, dir, name), t->sample[k]);
	}
	if (deep_gone)
		CHECK_ERR(vfe_fuse_getattr(&b->f, t->deep, false, 0, &at),
			  -ENOENT);
	else
		check_ino(a, &b->f, t->deep, "p/q/z/y/x/deep");
	if (dup) {
		bool g3 = gone_id(&b->f, t->f3), g1001 = gone_id(&b->f, t->f1001);

		CHECKF(g3 != g1001, "p/q/3 %s, p/q/1001 %s", g3 ? "gone" : "ok",
		       g1001 ? "gone" : "ok");
		CHECK_ERR(vfe_fuse_getattr(&b->f, g3 ? t->f3 : t->f1001, false,
					   0, &at), -ESTALE);
		check_ino(a, &b->f, g3 ? t->f1001 : t->f3, "p/q/3");
	}
	if (r_gone) {
		CHECK_ERR(vfe_fuse_getattr(&b->f, t->r, false, 0, &at), -ENOENT);
		for (unsigned i = 0; i < 20; i++)
			CHECK_ERR(vfe_fuse_getattr(&b->f, t->ra[i], false, 0,
						   &at), -ENOENT);
	} else {
		check_ino(a, &b->f, t->ra[19], "p/r/a19");
	}
}

/*
 * Load the blob twice with the host as it is: under abort (must fail with
 * a log line containing why_abort, or succeed when NULL) and under
 * guest-error (must succeed), then check the second destination.
 */
static void ptree_load(struct vfe_env *a, const struct blob *blob,
		       const char *handles, unsigned step, const char *why_abort,
		       const struct ptree *t, bool deep_gone, bool dup,
		       bool r_gone)
{
	const char *const ab[] = { handles, NULL };
	const char *const ge[] = { handles, "--migration-on-error=guest-error",
				   NULL };
	struct vfe_env b;
	char sub[32];

	ptree_settle();
	snprintf(sub, sizeof(sub), "dest%u", step);
	vfe_mig_dest_up(&b, a, sub, ab);
	CHECK_EQ(vfe_mig_load(&b, blob->p, blob->len), why_abort ? 1 : 0);
	if (why_abort)
		CHECKF(vfe_daemon_log_contains(&b.d, why_abort),
		       "the destination's log does not say: %s", why_abort);
	dest_down(&b);
	snprintf(sub, sizeof(sub), "dest%uge", step);
	vfe_mig_dest_up(&b, a, sub, ge);
	CHECK_EQ(vfe_mig_load(&b, blob->p, blob->len), 0);
	note_log(&b.d, "migration: opened");
	if (strstr(handles, "mandatory"))
		/* The leaves whose directory the host left alone. */
		CHECKF(opened_short(&b.d) >= (r_gone ? 600 : PT_N),
		       "%ld inodes opened by name_to_handle_at + statx",
		       opened_short(&b.d));
	vfe_mig_dest_start(&b, a);
	ptree_check(a, &b, t, deep_gone, dup, r_gone);
	dest_down(&b);
}

/* The parallel opener against host changes between save and load, one
 * more each time: a file deep in the tree removed; two entries of one
 * depth made the same host file (a hard link); a directory with children
 * moved away (so its children fail too). */
static void load_tree(const char *handles)
{
	const char *const src[] = { handles, NULL };
	char from[PATH_MAX];
	struct vfe_env a;
	struct ptree t;
	struct blob blob;

	vfe_env_up_args(&a, src);
	ptree_make(&a, &t);
	save_state(&a, &blob);
	ptree_load(&a, &blob, handles, 1, NULL, &t, false, false, false);
	CHECK(unlink(vfe_shared_path(&a, "p/q/z/y/x/deep")) == 0);
	ptree_load(&a, &blob, handles, 2, "(\"deep\"): cannot open it in its "
		   "parent", &t, true, false, false);
	snprintf(from, sizeof(from), "%s", vfe_shared_path(&a, "p/q/3"));
	CHECK(unlink(vfe_shared_path(&a, "p/q/1001")) == 0);
	CHECK(link(from, vfe_shared_path(&a, "p/q/1001")) == 0);
	ptree_load(&a, &blob, handles, 3, "same host file as another "
		   "migrated inode", &t, true, true, false);
	host_rename(&a, "p/r", "r2");
	ptree_load(&a, &blob, handles, 4, "(\"r\"): cannot open it in its "
		   "parent", &t, true, true, true);
	free(blob.p);
	vfe_env_down(&a);
}

static void t_load_tree_fds(void)
{
	load_tree("--inode-file-handles=never");
}

static void t_load_tree_handles(void)
{
	load_tree("--inode-file-handles=mandatory");
}

/* Under file handles, a replaced file opened the short way (its directory
 * old enough): the handle the source sent differs from the one
 * name_to_handle_at gives here. */
static void t_load_verify_short(void)
{
	static const char *const src[] = { "--inode-file-handles=mandatory",
					   "--migration-verify-handles", NULL };
	static const char *const ab[] = { "--inode-file-handles=mandatory",
					  NULL };
	static const char *const ge[] = { "--inode-file-handles=mandatory",
					  "--migration-on-error=guest-error",
					  NULL };
	struct fuse_attr_out at;
	struct vfe_env a, b;
	struct blob blob;
	uint64_t dir, v, w;

	vfe_env_up_args(&a, src);
	CHECK(mkdir(vfe_shared_path(&a, "vh"), 0755) == 0);
	host_write(vfe_shared_path(&a, "vh/v"), "original");
	host_write(vfe_shared_path(&a, "vh/w"), "kept");
	CHECK_OK(vfe_dev_log_start(&a.dev));
	CHECK(wait_log(&a.d, "pre-copy: paths of", 5000));
	dir = lookup(&a.f, ROOT, "vh");
	v = lookup(&a.f, dir, "v");
	w = lookup(&a.f, dir, "w");
	save_state(&a, &blob);
	CHECK(unlink(vfe_shared_path(&a, "vh/v")) == 0);
	host_write(vfe_shared_path(&a, "vh/v"), "impostor");
	ptree_settle();
	vfe_mig_dest_up(&b, &a, "dest", ab);
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 1);
	CHECK(vfe_daemon_log_contains(&b.d, "file handle differs"));
	dest_down(&b);
	vfe_mig_dest_up(&b, &a, "dest2", ge);
	CHECK_EQ(vfe_mig_load(&b, blob.p, blob.len), 0);
	note_log(&b.d, "migration: opened");
	CHECKF(opened_short(&b.d) >= 2, "%ld inodes opened the short way",
	       opened_short(&b.d));
	vfe_mig_dest_start(&b, &a);
	CHECK_ERR(vfe_fuse_getattr(&b.f, v, false, 0, &at), -ESTALE);
	check_ino(&a, &b.f, w, "vh/w");
	dest_down(&b);
	free(blob.p);
	vfe_env_down(&a);
}

static const struct vfe_test tests[] = {
	{ "save_load", t_save_load, 60 },
	{ "bad_blobs", t_bad_blobs, 60 },
	{ "stalled_transfer", t_stalled_transfer, 30 },
	{ "source_resumes", t_source_resumes, 60 },
	{ "incompatible_dest", t_incompatible_dest, 60 },
	{ "stale_hidden_dir", t_stale_hidden_dir, 30 },
	{ "precopy", t_precopy, 60 },
	{ "precopy_cancel", t_precopy_cancel, 60 },
	{ "on_error_guest", t_on_error_guest, 60 },
	{ "on_error_abort", t_on_error_abort, 60 },
	{ "verify_handles", t_verify_handles, 60 },
	{ "confirm_paths", t_confirm_paths, 60 },
	{ "options", t_options, 30 },
	{ "scale_20k", t_scale_20k, 60 },
	{ "scale_100k", t_scale_100k, 120 },
	{ "precopy_trust", t_precopy_trust, 60 },
	{ "precopy_confirm", t_precopy_confirm, 30 },
	{ "snapshot_paths", t_snapshot_paths, 60 },
	{ "snapshot_paths_fh", t_snapshot_paths_fh, 60 },
	{ "load_tree_fds", t_load_tree_fds, 120 },
	{ "load_tree_handles", t_load_tree_handles, 120 },
	{ "load_verify_short", t_load_verify_short, 60 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
