/*
 * log.c - stderr/syslog logging with levels.
 *
 * Syscalls: clock_gettime, write (sendto with --syslog: see
 * seccomp/sc_filter.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* syslog.h's priority names clash with our LOG_* macros: keep the values. */
enum { SYS_ERR = LOG_ERR, SYS_WARNING = LOG_WARNING, SYS_INFO = LOG_INFO,
       SYS_DEBUG = LOG_DEBUG };
#undef LOG_ERR
#undef LOG_INFO

#include "log.h"

enum vlog_level vlog_threshold = VLOG_INFO;
static bool vlog_syslog;

static const char *const level_names[] = {
	[VLOG_OFF] = "off",     [VLOG_ERROR] = "error", [VLOG_WARN] = "warn",
	[VLOG_INFO] = "info",   [VLOG_DEBUG] = "debug", [VLOG_TRACE] = "trace",
};

int vlog_parse_level(const char *name)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

void vlog_init(enum vlog_level level, bool use_syslog)
{
	vlog_threshold = level;
	vlog_syslog = use_syslog;
	if (use_syslog)
		openlog("virtiofsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void vlog(enum vlog_level level, const char *fmt, ...)
{
	static const int prio[] = {
		[VLOG_OFF] = SYS_DEBUG,  [VLOG_ERROR] = SYS_ERR,
		[VLOG_WARN] = SYS_WARNING, [VLOG_INFO] = SYS_INFO,
		[VLOG_DEBUG] = SYS_DEBUG, [VLOG_TRACE] = SYS_DEBUG,
	};
	char line[1024];
	va_list ap;
	int saved = errno;

	if (level == VLOG_OFF || !vlog_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (vlog_syslog) {
		syslog(prio[level], "%s", line);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stderr, "[%lld.%03ld %s] %s\n", (long long)ts.tv_sec,
			ts.tv_nsec / 1000000, level_names[level], line);
	}
	errno = saved;
}
