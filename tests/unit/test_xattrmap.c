/*
 * test_xattrmap.c - the --xattrmap parser (good and bad rule strings, the
 * map shorthand) and the mapping of names both ways.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_xattrmap.h"

#include "unit_check.h"

/* Map a guest name; returns the errno (0) and the host name in out. */
static int to_host(const struct pt_xattrmap *m, const char *name,
		   char out[256])
{
	out[0] = '\0';
	return pt_xattrmap_to_host(m, name, out, 256);
}

static bool host_is(const struct pt_xattrmap *m, const char *name,
		    const char *want)
{
	char out[256];

	return to_host(m, name, out) == 0 && strcmp(out, want) == 0;
}

static bool guest_is(const struct pt_xattrmap *m, const char *name,
		     const char *want)
{
	const char *g = pt_xattrmap_to_guest(m, name);

	return want ? g && !strcmp(g, want) : g == NULL;
}

static void test_bad_strings(void)
{
	static const char *const bad[] = {
		"",                                 /* empty */
		"   \n\t ",                         /* only blanks */
		":prefix:client:trusted.:user.vm.", /* last field unterminated */
		":prefix:client:hi",                /* missing fields */
		":ok:all::",                        /* missing prepend */
		":ok",                              /* type only */
		":",                                /* separator only */
		":TOMATO:all:::",                   /* unknown type */
		":Prefix:all:::",                   /* types are exact */
		"/prefix/helloworld///",            /* unknown scope */
		":ok:ALL:::",                       /* scopes are exact */
		":prefix/all/a./b./",               /* mixed separators */
		":map:a.:b.::ok:all:::",            /* map not last */
		":map:a.:b.::map:a.:b.:",           /* two maps */
		":map:a.:b.",                       /* map incomplete */
		":ok:all::: junk",                  /* trailing garbage */
	};
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pt_xattrmap *m;

		err[0] = '\0';
		m = pt_xattrmap_parse(bad[i], err, sizeof(err));
		if (m) {
			fprintf(stderr, "accepted bad rules '%s'\n", bad[i]);
			failures++;
			pt_xattrmap_free(m);
		}
		CHECK(err[0] != '\0');
	}
	CHECK(pt_xattrmap_parse(NULL, err, sizeof(err)) == NULL);
	CHECK(pt_xattrmap_parse(":ok:TOMATO:::", NULL, 0) == NULL);

	/* The messages name the culprit. */
	pt_xattrmap_parse(":ok:all::: :TOMATO:all:::", err, sizeof(err));
	CHECK(strstr(err, "rule 2") && strstr(err, "TOMATO"));
	pt_xattrmap_parse("/prefix/helloworld///", err, sizeof(err));
	CHECK(strstr(err, "scope") && strstr(err, "helloworld"));
	pt_xattrmap_parse(":map:a.:b.::ok:all:::", err, sizeof(err));
	CHECK(strstr(err, "map") && strstr(err, "last"));

	/* A key longer than any xattr name. */
	{
		char big[600];

		memset(big, 'k', sizeof(big));
		memcpy(big, ":ok:all:", 8);
		strcpy(big + 400, "::");
		CHECK(pt_xattrmap_parse(big, err, sizeof(err)) == NULL);
	}
}

static void test_good_strings(void)
{
	struct pt_xattrmap *m;

	m = pt_xattrmap_parse(":prefix:client:trusted.:user.virtiofs.:",
			      NULL, 0);
	CHECK(m && pt_xattrmap_nrules(m) == 1);
	pt_xattrmap_free(m);

	/* Blanks and new lines between rules, other separators, one
	 * separator per rule. */
	m = pt_xattrmap_parse("\n  /prefix/all/trusted./user.virtiofs./\n"
			      "\t/bad/server//trusted./\n"
			      "  |bad|client|user.virtiofs.||\n"
			      "  :ok:all:::  \n", NULL, 0);
	CHECK(m && pt_xattrmap_nrules(m) == 4);
	pt_xattrmap_free(m);

	/* The separator may be any character, even a letter. */
	m = pt_xattrmap_parse("xokxallxxx", NULL, 0);
	CHECK(m && pt_xattrmap_nrules(m) == 1);
	pt_xattrmap_free(m);

	/* map expands as documented. */
	m = pt_xattrmap_parse(":map::user.virtiofs.:", NULL, 0);
	CHECK(m && pt_xattrmap_nrules(m) == 2);
	pt_xattrmap_free(m);
	m = pt_xattrmap_parse(":ok:client:user.:: :map:trusted.:user.vfs.:",
			      NULL, 0);
	CHECK(m && pt_xattrmap_nrules(m) == 5);
	pt_xattrmap_free(m);
	pt_xattrmap_free(NULL);
}

/* Example 1 of the documentation: prefix everything. */
static void test_prefix_all(void)
{
	struct pt_xattrmap *m =
		pt_xattrmap_parse(":prefix:all::user.virtiofs.::bad:all:::",
				  NULL, 0);
	char out[256];

	CHECK(m);
	if (!m)
		return;
	CHECK(host_is(m, "trusted.x", "user.virtiofs.trusted.x"));
	CHECK(host_is(m, "security.selinux",
		      "user.virtiofs.security.selinux"));
	CHECK(host_is(m, "user.virtiofs.x", "user.virtiofs.user.virtiofs.x"));
	CHECK(guest_is(m, "user.virtiofs.trusted.x", "trusted.x"));
	CHECK(guest_is(m, "user.other", NULL));    /* hidden by bad */
	CHECK(guest_is(m, "user.virtiofs.", NULL)); /* nothing left */

	/* Too long after prefixing. */
	{
		char name[256];

		memset(name, 'a', 250);
		name[250] = '\0';
		CHECK(to_host(m, name, out) == -ERANGE);
		CHECK(pt_xattrmap_to_host(m, "a", out, 5) == -ERANGE);
	}
	pt_xattrmap_free(m);
}

/* Example 2: prefix trusted., allow others through. */
static void test_prefix_some(void)
{
	const char *rules = "/prefix/all/trusted./user.virtiofs./\n"
			    "/bad/server//trusted./\n"
			    "/bad/client/user.virtiofs.//\n"
			    "/ok/all///";
	struct pt_xattrmap *m = pt_xattrmap_parse(rules, NULL, 0);
	struct pt_xattrmap *mm = pt_xattrmap_parse(
		"/map/trusted./user.virtiofs./", NULL, 0);
	const struct pt_xattrmap *both[2] = { m, mm };
	char out[256];

	CHECK(m && mm);
	if (!m || !mm)
		goto out;
	/* The map shorthand behaves exactly like the four rules. */
	for (int i = 0; i < 2; i++) {
		const struct pt_xattrmap *x = both[i];

		CHECK(host_is(x, "trusted.a", "user.virtiofs.trusted.a"));
		CHECK(host_is(x, "user.a", "user.a"));
		CHECK(host_is(x, "security.selinux", "security.selinux"));
		CHECK(to_host(x, "user.virtiofs.a", out) == -EPERM);
		CHECK(guest_is(x, "user.virtiofs.trusted.a", "trusted.a"));
		CHECK(guest_is(x, "trusted.host", NULL));
		CHECK(guest_is(x, "user.a", "user.a"));
	}
out:
	pt_xattrmap_free(m);
	pt_xattrmap_free(mm);
}

/* bad / unsupported / ok and rule order; no rule matching. */
static void test_types(void)
{
	struct pt_xattrmap *m = pt_xattrmap_parse(
		":unsupported:all:security.selinux:security.selinux:"
		" :bad:client:trusted.::"
		" :bad:server::security.:"
		" :ok:client:user.::"
		" :ok:server::user.:", NULL, 0);
	char out[256];

	CHECK(m);
	if (!m)
		return;
	CHECK(to_host(m, "security.selinux", out) == -ENOTSUP);
	CHECK(to_host(m, "trusted.x", out) == -EPERM);
	CHECK(host_is(m, "user.x", "user.x"));
	CHECK(to_host(m, "system.x", out) == -EPERM);   /* no rule */
	CHECK(guest_is(m, "security.selinux", NULL));
	CHECK(guest_is(m, "security.ima", NULL));
	CHECK(guest_is(m, "user.x", "user.x"));
	CHECK(guest_is(m, "trusted.x", NULL));           /* no rule */
	pt_xattrmap_free(m);

	/* The SELinux recipe of the README. */
	m = pt_xattrmap_parse(":map:security.selinux:trusted.virtiofs.:",
			      NULL, 0);
	CHECK(m);
	if (!m)
		return;
	CHECK(host_is(m, "security.selinux",
		      "trusted.virtiofs.security.selinux"));
	CHECK(host_is(m, "security.capability", "security.capability"));
	CHECK(to_host(m, "trusted.virtiofs.x", out) == -EPERM);
	CHECK(guest_is(m, "trusted.virtiofs.security.selinux",
		       "security.selinux"));
	CHECK(guest_is(m, "security.selinux", NULL));
	CHECK(guest_is(m, "user.y", "user.y"));
	pt_xattrmap_free(m);
}

static bool no_acl(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "system.posix_acl_access") != 0;
}

/* LISTXATTR rewriting in place. */
static void test_list(void)
{
	struct pt_xattrmap *m = pt_xattrmap_parse(":map::user.virtiofs.:",
						  NULL, 0);
	static const char in[] = "user.virtiofs.trusted.a\0security.selinux\0"
				 "user.virtiofs.system.posix_acl_access\0"
				 "user.virtiofs.user.b\0user.virtiofs.\0";
	static const char want[] = "trusted.a\0user.b\0";
	static const char want_all[] = "trusted.a\0"
				       "system.posix_acl_access\0user.b\0";
	char buf[sizeof(in)];
	size_t n;

	CHECK(m);
	memcpy(buf, in, sizeof(in) - 1);
	n = pt_xattrmap_list(m, buf, sizeof(in) - 1, no_acl, NULL);
	CHECK(n == sizeof(want) - 1 && !memcmp(buf, want, n));

	memcpy(buf, in, sizeof(in) - 1);
	n = pt_xattrmap_list(m, buf, sizeof(in) - 1, NULL, NULL);
	CHECK(n == sizeof(want_all) - 1 && !memcmp(buf, want_all, n));

	/* Without a map only the filter applies; an unterminated tail is
	 * dropped; empty lists stay empty. */
	memcpy(buf, "a\0system.posix_acl_access\0b\0cc", 30);
	n = pt_xattrmap_list(NULL, buf, 30, no_acl, NULL);
	CHECK(n == 4 && !memcmp(buf, "a\0b\0", 4));
	CHECK(pt_xattrmap_list(m, buf, 0, NULL, NULL) == 0);
	memcpy(buf, "security.x\0", 11);
	CHECK(pt_xattrmap_list(m, buf, 11, NULL, NULL) == 0);
	pt_xattrmap_free(m);
}

int main(void)
{
	test_bad_strings();
	test_good_strings();
	test_prefix_all();
	test_prefix_some();
	test_types();
	test_list();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("xattrmap: all checks passed\n");
	return 0;
}
