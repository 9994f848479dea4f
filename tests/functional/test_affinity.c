/*
 * test_affinity.c - --queue-affinity: each ring thread runs on its CPU of
 * the list (ring k on the k-th, wrapping around), the others are not
 * pinned, and bad lists are refused at start with one line.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfe_test.h"

/* The Cpus_allowed_list of the daemon's thread named name ("" when
 * there is none). */
static void thread_cpus(pid_t pid, const char *name, char *out, size_t len)
{
	char path[400], line[256], comm[64];
	struct dirent *de;
	DIR *d;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	CHECKF(d, "opendir %s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid,
			 de->d_name);
		f = fopen(path, "r");
		if (!f || !fgets(comm, sizeof(comm), f)) {
			if (f)
				fclose(f);
			continue;
		}
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, name))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, de->d_name);
		f = fopen(path, "r");
		CHECK(f);
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "Cpus_allowed_list:", 18))
				snprintf(out, len, "%s", line + 18 +
					 strspn(line + 18, " \t"));
		fclose(f);
		out[strcspn(out, "\n")] = 0;
	}
	closedir(d);
}

/* The first two CPUs this process may use; skips with fewer. */
static void two_cpus(unsigned *a, unsigned *b)
{
	cpu_set_t set;
	int n = 0;

	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	for (unsigned c = 0; c < CPU_SETSIZE && n < 2; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (n++ == 0)
			*a = c;
		else
			*b = c;
	}
	if (n < 2)
		vfe_skip("needs two CPUs");
}

static void t_pinned(void)
{
	struct vfe_env e;
	struct vfe_env_opts o;
	struct fuse_entry_out ent;
	char list[48], got[64], want[16], all[64], name[16];
	unsigned a = 0, b = 0;

	two_cpus(&a, &b);
	/* Ring 0 (hiprio) on b, ring 1 on a, ring 2 on b again. */
	snprintf(list, sizeof(list), "--queue-affinity=%u,%u", b, a);
	memset(&o, 0, sizeof(o));
	o.dev.nvqs = 3;
	o.daemon.extra[0] = "--sandbox=none";   /* one process, /proc works */
	o.daemon.extra[1] = list;
	vfe_env_up(&e, &o);
	CHECK_ERR(vfe_fuse_lookup(&e.f, FUSE_ROOT_ID, "none", &ent), -ENOENT);
	for (unsigned ring = 0; ring < 3; ring++) {
		snprintf(name, sizeof(name), "vq-%u", ring);
		snprintf(want, sizeof(want), "%u", ring % 2 ? a : b);
		/* A ring thread names itself when it starts running: the
		 * rings without traffic may not have yet. */
		for (int i = 0; i < 2000; i++) {
			thread_cpus(e.d.pid, name, got, sizeof(got));
			if (got[0])
				break;
			usleep(1000);
		}
		CHECKF(!strcmp(got, want), "%s runs on CPUs \"%s\", expected "
		       "\"%s\"", name, got, want);
	}
	/* The main thread keeps every CPU. */
	thread_cpus(e.d.pid, "virtiofsd", all, sizeof(all));
	CHECKF(strcmp(all, want) && strlen(all) > 0,
	       "the main thread is pinned too (\"%s\")", all);
	vfe_env_down(&e);
}

/* Start the daemon with one bad --queue-affinity value: it must exit 1
 * with a line naming the option. */
static void refused(const char *value)
{
	char arg[64], out[4096], cmd[1024];
	FILE *p;
	size_t n;
	int st;

	snprintf(arg, sizeof(arg), "--queue-affinity=%s", value);
	snprintf(cmd, sizeof(cmd), "'%s' --socket-path=%s/s --shared-dir=%s "
		 "'%s' 2>&1", vfe_daemon_exe(), vfe_test_dir(), vfe_test_dir(),
		 arg);
	p = popen(cmd, "r");
	CHECK(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	st = pclose(p);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status 0x%x", arg,
	       st);
	CHECKF(strstr(out, "--queue-affinity"), "%s: no error naming the "
	       "option in: %s", arg, out);
}

static void t_refused(void)
{
	refused("");
	refused("x");
	refused("3-1");
	refused("0,");
	refused("1024");
	refused("0-99999");
	refused("1023");   /* valid syntax, not a CPU this machine has */
}

static const struct vfe_test tests[] = {
	{ "pinned", t_pinned, 0 },
	{ "refused", t_refused, 0 },
};

int main(int argc, char **argv)
{
	return vfe_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
