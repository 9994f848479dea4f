/*
 * log.h - logging shared by every layer (a cross-cutting concern: the only
 * piece of virtiofsd/ that lower layers may include).
 *
 * Messages go to stderr (default) or syslog.  Levels follow the Rust
 * virtiofsd: error, warn, info, debug, trace, off.  Nothing per request is
 * logged above debug.
 */
#ifndef VLOG_H
#define VLOG_H

#include <stdbool.h>

enum vlog_level {
	VLOG_OFF = 0,
	VLOG_ERROR,
	VLOG_WARN,
	VLOG_INFO,
	VLOG_DEBUG,
	VLOG_TRACE,
};

/* Current threshold; messages above it are dropped. */
extern enum vlog_level vlog_threshold;

/*
 * Parse a level name ("error", "warn", "info", "debug", "trace", "off").
 * Returns the level, or -EINVAL for an unknown name.
 */
int vlog_parse_level(const char *name);

/* Set the threshold and the destination (syslog when use_syslog). */
void vlog_init(enum vlog_level level, bool use_syslog);

/* Log one line at level; printf-style format, no trailing newline needed. */
void vlog(enum vlog_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define vlog_enabled(l) ((l) <= vlog_threshold)
#define LOG_ERR(...) vlog(VLOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) vlog(VLOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) vlog(VLOG_INFO, __VA_ARGS__)
#define LOG_DBG(...) \
	do { if (vlog_enabled(VLOG_DEBUG)) vlog(VLOG_DEBUG, __VA_ARGS__); } while (0)
#define LOG_TRACE(...) \
	do { if (vlog_enabled(VLOG_TRACE)) vlog(VLOG_TRACE, __VA_ARGS__); } while (0)

#endif
