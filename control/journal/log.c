/* SPDX-License-Identifier: BSD-2-Clause */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

#include "log.h"

static FILE *log_file;
static enum zw_log_level log_max = ZW_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void zw_log__set_file(FILE *f)
{
	log_file = f;
}

void zw_log__set_level(enum zw_log_level max)
{
	log_max = max;
}

const char *zw_log__q(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (; s && *s && n + 3 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == '"' || c == '\\')
			buf[n++] = '\\';
		buf[n++] = (char)c;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

void zw_log(enum zw_log_level level, const char *event, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	FILE *out = log_file ? log_file : stderr;
	char ts[32];
	va_list ap;

	if (level > log_max)
		return;
	pthread_mutex_lock(&log_lock);
	fprintf(out, "ts=%s level=%s event=%s", zw_time__format(zw_time__now_us(), ts),
		names[level], event);
	if (fmt && *fmt) {
		fputc(' ', out);
		va_start(ap, fmt);
		vfprintf(out, fmt, ap);
		va_end(ap);
	}
	fputc('\n', out);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
}
