/*
 * test_idmap.c - --translate-uid/gid specs: parsing (good and bad),
 * overlapping ranges, and every type's effect in both directions.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pt_idmap.h"

#include "unit_check.h"

/* Guest id g maps to host id want. */
static bool g2h(const struct pt_idmap *m, uint32_t g, uint32_t want)
{
	uint32_t h = 12345;

	return pt_idmap_to_host(m, g, &h) == 0 && h == want;
}

static bool forbidden(const struct pt_idmap *m, uint32_t g)
{
	uint32_t h;

	return pt_idmap_to_host(m, g, &h) == -EPERM;
}

static int add(struct pt_idmap *m, const char *spec)
{
	char err[160];

	err[0] = '\0';
	int r = pt_idmap_add(m, spec, err, sizeof(err));

	if (r && !err[0]) {
		fprintf(stderr, "no message for '%s'\n", spec);
		failures++;
	}
	return r;
}

static void test_bad_specs(void)
{
	static const char *const bad[] = {
		"",                       /* empty */
		"guest",                  /* no fields */
		"guest:",                 /* empty field */
		"guest:1:2",              /* too few */
		"guest:1:2:3:4",          /* too many */
		"forbid-guest:1:2:3",     /* forbid takes two */
		"forbid-guest:1",
		"guests:1:2:3",           /* unknown type */
		"squash:1:2:3",
		":1:2:3",                 /* no type */
		"guest:a:2:3",            /* not a number */
		"guest:-1:2:3",
		"guest:1:2:3x",
		"guest:1::3",
		"guest:1:2:4294967296",   /* beyond 32 bits */
		"guest:4294967295:0:1",   /* reaches -1 */
		"guest:4294967290:0:10",  /* wraps */
		"host:0:4294967290:10",   /* target reaches -1 */
		"map:0:4294967295:1",
		"squash-guest:0:4294967295:10", /* squash onto -1 */
		"guest:1:2/3",            /* mixed separators */
		"guest:1 :2:3",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pt_idmap *m = pt_idmap_new();

		CHECK(m);
		if (add(m, bad[i]) != -EINVAL) {
			fprintf(stderr, "accepted bad spec '%s'\n", bad[i]);
			failures++;
		}
		/* A refused spec leaves the map unchanged. */
		CHECK(pt_idmap_empty(m));
		pt_idmap_free(m);
	}
}

static void test_overlap(void)
{
	struct pt_idmap *m = pt_idmap_new();
	char err[160];

	CHECK(add(m, "guest:1000:2000:10") == 0);
	CHECK(add(m, "guest:1009:0:1") == -EINVAL);        /* last id */
	CHECK(add(m, "squash-guest:990:0:11") == -EINVAL); /* first id */
	CHECK(add(m, "forbid-guest:1005:1") == -EINVAL);
	CHECK(add(m, "guest:1010:0:1") == 0);              /* adjacent */
	CHECK(add(m, "guest:989:0:1") == 0);
	/* Host ranges are another direction: no conflict. */
	CHECK(add(m, "host:1000:0:10") == 0);
	CHECK(add(m, "squash-host:1005:0:1") == -EINVAL);
	/* map adds both directions, or neither. */
	CHECK(add(m, "map:5000:1000:1") == -EINVAL);
	CHECK(g2h(m, 5000, 5000));
	CHECK(add(m, "map:5000:6000:1") == 0);
	/* The message names the spec. */
	CHECK(pt_idmap_add(m, "guest:1000:0:1", err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "guest:1000:0:1") && strstr(err, "overlap"));
	/* Empty ranges map nothing and never conflict. */
	CHECK(add(m, "guest:1000:0:0") == 0);
	pt_idmap_free(m);
}

static void test_types(void)
{
	struct pt_idmap *m = pt_idmap_new();

	CHECK(pt_idmap_empty(m) && pt_idmap_empty(NULL));
	/* identity by default, also with no map at all */
	CHECK(g2h(m, 42, 42) && pt_idmap_to_guest(m, 42) == 42);
	CHECK(g2h(NULL, 7, 7) && pt_idmap_to_guest(NULL, 7) == 7);

	CHECK(add(m, "guest:100:1100:10") == 0);
	CHECK(add(m, "host:2100:200:10") == 0);
	CHECK(add(m, "squash-guest:300:1300:10") == 0);
	CHECK(add(m, "squash-host:2400:400:10") == 0);
	CHECK(add(m, "forbid-guest:500:10") == 0);
	CHECK(add(m, "map:600:1600:10") == 0);
	CHECK(!pt_idmap_empty(m));

	/* guest: one direction only */
	CHECK(g2h(m, 100, 1100) && g2h(m, 109, 1109) && g2h(m, 110, 110));
	CHECK(g2h(m, 99, 99));
	CHECK(pt_idmap_to_guest(m, 1100) == 1100);
	/* host */
	CHECK(pt_idmap_to_guest(m, 2100) == 200);
	CHECK(pt_idmap_to_guest(m, 2109) == 209);
	CHECK(pt_idmap_to_guest(m, 2110) == 2110);
	CHECK(g2h(m, 200, 200));
	/* squash-guest */
	CHECK(g2h(m, 300, 1300) && g2h(m, 309, 1300) && g2h(m, 310, 310));
	CHECK(pt_idmap_to_guest(m, 1300) == 1300);
	/* squash-host */
	CHECK(pt_idmap_to_guest(m, 2400) == 400);
	CHECK(pt_idmap_to_guest(m, 2409) == 400);
	CHECK(pt_idmap_to_guest(m, 2410) == 2410);
	/* forbid-guest */
	CHECK(forbidden(m, 500) && forbidden(m, 509) && g2h(m, 510, 510));
	CHECK(g2h(m, 499, 499));
	CHECK(pt_idmap_to_guest(m, 500) == 500);
	/* map: both ways */
	CHECK(g2h(m, 600, 1600) && g2h(m, 609, 1609) && g2h(m, 610, 610));
	CHECK(pt_idmap_to_guest(m, 1600) == 600);
	CHECK(pt_idmap_to_guest(m, 1609) == 609);
	CHECK(pt_idmap_to_guest(m, 600) == 600);
	pt_idmap_free(m);

	/* The README's example: squash everything, show 1001 as 1000. */
	m = pt_idmap_new();
	CHECK(add(m, "squash-guest:0:1001:4294967295") == 0);
	CHECK(add(m, "host:1001:1000:1") == 0);
	CHECK(g2h(m, 0, 1001) && g2h(m, 4294967294u, 1001));
	CHECK(g2h(m, 4294967295u, 4294967295u));   /* -1 is never mapped */
	CHECK(pt_idmap_to_guest(m, 1001) == 1000);
	CHECK(pt_idmap_to_guest(m, 0) == 0);
	pt_idmap_free(m);

	/* Any non-alphanumeric separator, types case-insensitive, '+'. */
	m = pt_idmap_new();
	CHECK(add(m, "MAP/10/20/+5") == 0);
	CHECK(add(m, "forbid-guest,100,1") == 0);
	CHECK(g2h(m, 14, 24) && pt_idmap_to_guest(m, 20) == 10);
	CHECK(forbidden(m, 100));
	pt_idmap_free(m);
	pt_idmap_free(NULL);
}

int main(void)
{
	test_bad_specs();
	test_overlap();
	test_types();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("idmap: all checks passed\n");
	return 0;
}
