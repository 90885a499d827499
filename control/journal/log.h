/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld's log of its own operation (not the change journal): one line
 * per event in logfmt, "ts=... level=info event=commit key=value ...",
 * easy to grep and to feed to a log collector. Private to control/. */
#ifndef ZONEWALL_CONTROL_LOG_H
#define ZONEWALL_CONTROL_LOG_H

#include <stdio.h>

enum zw_log_level {
	ZW_LOG_ERR,
	ZW_LOG_WARN,
	ZW_LOG_INFO,
	ZW_LOG_DEBUG,
};

/* Where lines go (default stderr); the daemon points it at its log file. */
void zw_log__set_file(FILE *f);
void zw_log__set_level(enum zw_log_level max);

/*
 * Log @event with key=value pairs built from @fmt, which must itself be
 * logfmt ("version=%lld backend=%s"); use zw_log__q() to quote free text.
 * Thread-safe.
 */
void zw_log(enum zw_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Quote @s for logfmt into @buf ("..." with \" and \\ escaped, control
 * characters dropped). Returns @buf. */
const char *zw_log__q(const char *s, char *buf, size_t len);

#endif
