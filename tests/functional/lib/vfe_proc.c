/*
 * vfe_proc.c - /proc inspection of a daemon under test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfe_proc.h"
#include "vfe_test.h"

pid_t vfe_proc_child(pid_t pid)
{
	char path[80];
	FILE *f;
	int child = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	f = fopen(path, "re");
	CHECKF(f, "cannot open %s", path);
	CHECKF(fscanf(f, "%d", &child) == 1, "the daemon has no child process");
	fclose(f);
	return child;
}

unsigned long long vfe_proc_status(pid_t pid, const char *name, bool hex)
{
	char path[64], line[256];
	size_t n = strlen(name);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	CHECKF(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			fclose(f);
			return strtoull(line + n + 1, NULL, hex ? 16 : 10);
		}
	}
	fclose(f);
	vfe_fail(__FILE__, __LINE__, "no %s in %s", name, path);
}

bool vfe_proc_same_ns(pid_t pid, const char *ns)
{
	char a[64], b[64], la[64] = "", lb[64] = "";

	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", ns);
	CHECK(readlink(a, la, sizeof(la) - 1) > 0);
	CHECK(readlink(b, lb, sizeof(lb) - 1) > 0);
	return strcmp(la, lb) == 0;
}
