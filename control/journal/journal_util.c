/* SPDX-License-Identifier: BSD-2-Clause */
/* Journal helpers: clock state, time stamps, reasons, CSV. Secrets are in
 * secret.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "journal.h"

void zw_clock__read(struct zw_clock_state *cs)
{
	struct timex tx = {0};
	int st = ntp_adjtime(&tx);

	memset(cs, 0, sizeof(*cs));
	cs->state = st;
	if (st < 0) {
		cs->synced = false;
		return;
	}
	/* The kernel's view, as chronyd/ntpd/systemd-timesyncd maintain it:
	 * STA_UNSYNC cleared and not TIME_ERROR means synchronised. */
	cs->synced = st != TIME_ERROR && !(tx.status & STA_UNSYNC);
	cs->maxerror_us = tx.maxerror;
	cs->esterror_us = tx.esterror;
}

const char *zw_clock__state_name(int state)
{
	switch (state) {
	case TIME_OK:
		return "TIME_OK";
	case TIME_INS:
		return "TIME_INS";
	case TIME_DEL:
		return "TIME_DEL";
	case TIME_OOP:
		return "TIME_OOP";
	case TIME_WAIT:
		return "TIME_WAIT";
	case TIME_ERROR:
		return "TIME_ERROR";
	default:
		return "unknown";
	}
}

/* The test hook of zw_time__now_us(): seconds read from
 * $ZONEWALL_CLOCK_OFFSET_FILE at each call (0 without it). */
static int64_t clock_offset_us(void)
{
	const char *path = getenv("ZONEWALL_CLOCK_OFFSET_FILE");
	char buf[64];
	long long s = 0;
	FILE *f;

	if (!path || !*path || !(f = fopen(path, "re")))
		return 0;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%lld", &s) != 1)
		s = 0;
	fclose(f);
	return (int64_t)s * 1000000;
}

int64_t zw_time__now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 +
	       clock_offset_us();
}

const char *zw_time__format(int64_t us, char buf[32])
{
	time_t s = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		s -= 1;
	}
	gmtime_r(&s, &tm);
	{
		char tmp[96];

		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
		snprintf(buf, 32, "%.31s", tmp);
	}
	return buf;
}

int zw_time__parse(const char *s, int64_t *us)
{
	struct tm tm = {0};
	long frac = 0;
	int n = 0, y, mo, d, h, mi, se;
	const char *p;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
			 &se, &n) != 6 || n != 19)
		return -EINVAL;
	p = s + n;
	if (*p == '.') {
		int digits = 0;

		p++;
		while (*p >= '0' && *p <= '9') {
			if (digits < 6) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		if (!digits)
			return -EINVAL;
		while (digits++ < 6)
			frac *= 10;
	}
	if (strcmp(p, "Z") || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || se > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*us = (int64_t)timegm(&tm) * 1000000 + frac;
	return 0;
}

size_t zw_utf8__decode(const void *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = s;
	size_t len;
	uint32_t c;

	if (!n)
		return 0;
	if (p[0] < 0x80)
		return *cp = p[0], 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return len;
}

/* Control characters (C0 with tab, DEL, C1) and the bidirectional
 * formatting characters that reorder what a terminal shows. */
static bool cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

int zw_text__check(const char *s, size_t max, const char *what, char *err,
		   size_t err_len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;

	if (!s)
		return 0;
	len = strlen(s);
	if (len > max) {
		snprintf(err, err_len, "%s is %zu bytes long; keep it under %zu",
			 what, len, max + 1);
		return -EINVAL;
	}
	while (*p) {
		uint32_t cp;
		size_t n = zw_utf8__decode(p, len - (size_t)(p - (const unsigned char *)s),
					   &cp);

		if (!n) {
			snprintf(err, err_len, "%s is not valid UTF-8", what);
			return -EINVAL;
		}
		if (cp_unsafe(cp)) {
			snprintf(err, err_len,
				 "%s contains a control or bidirectional "
				 "character (U+%04X): write it on one line, as "
				 "plain text",
				 what, cp);
			return -EINVAL;
		}
		p += n;
	}
	return 0;
}

char *zw_text__escape(const char *s, size_t max)
{
	const unsigned char *base = (const unsigned char *)(s ? s : ""),
			    *p = base;
	size_t len = strlen((const char *)p), cut = max && len > max ? max : len;
	/* worst case: every byte as \xNN, plus the cut note */
	char *out = malloc(cut * 4 + 48), *o = out;

	if (!out)
		return NULL;
	while ((size_t)(p - base) < cut && *p) {
		uint32_t cp = 0;
		size_t n = zw_utf8__decode(p, len - (size_t)(p - base), &cp);

		if (n && (size_t)(p - base) + n > cut)
			break; /* never cut a character in two */
		if (!n) {
			o += sprintf(o, "\\x%02x", *p);
			p++;
		} else if (cp == '\n' || cp == '\r' || cp == '\t') {
			*o++ = '\\';
			*o++ = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
			p++;
		} else if (cp < 0x80 && cp_unsafe(cp)) {
			o += sprintf(o, "\\x%02x", cp);
			p++;
		} else if (cp_unsafe(cp)) {
			o += sprintf(o, "\\u%04x", cp);
			p += n;
		} else {
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	if (cut < len)
		o += sprintf(o, "... (%zu bytes)", len);
	*o = '\0';
	return out;
}

int zw_reason__check(const char *reason, char *err, size_t err_len)
{
	const unsigned char *p = (const unsigned char *)reason;
	char what[64];
	bool blank = true;

	if (!reason) {
		snprintf(err, err_len, "a reason is required (-m REASON)");
		return -EINVAL;
	}
	if (zw_text__check(reason, ZW_REASON_MAX, "reason", err, err_len))
		return -EINVAL;
	for (; *p; p++)
		if (*p != ' ')
			blank = false;
	if (blank) {
		snprintf(err, err_len,
			 "reason is empty: say why the rules change "
			 "(-m REASON)");
		return -EINVAL;
	}
	if (zw_secret__find(reason, what, sizeof(what))) {
		snprintf(err, err_len,
			 "reason seems to contain a secret (%s): never write "
			 "passwords or keys in a reason",
			 what);
		return -EINVAL;
	}
	return 0;
}

int zw_journal_format__parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "text"))
		return ZW_JF_TEXT;
	if (!strcmp(s, "json"))
		return ZW_JF_JSON;
	if (!strcmp(s, "csv"))
		return ZW_JF_CSV;
	return -1;
}

void zw_csv__field(FILE *out, const char *s)
{
	bool formula;

	if (!s)
		return;
	/* A cell spreadsheet software would evaluate as a formula (=, +, -,
	 * @, or a tab or carriage return before one) gets a leading
	 * apostrophe, as zonectl show --format csv does: opening the
	 * evidence must not run it. The JSON export keeps the exact values
	 * (the ones the hash covers). */
	formula = *s == '=' || *s == '+' || *s == '-' || *s == '@' ||
		  *s == '\t' || *s == '\r';
	/* RFC 4180: quote when needed, double the quotes. */
	if (!strpbrk(s, ",\"\r\n")) {
		if (formula)
			fputc('\'', out);
		fputs(s, out);
		return;
	}
	fputc('"', out);
	if (formula)
		fputc('\'', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}
