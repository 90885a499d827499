/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Secrets never enter the journal (REQUIREMENTS L4). Heuristics, listed in
 * docs/journal.md:
 *  1. "password=...", "pwd: ...", "secret=...", "token=...", "api_key=...",
 *     "mot de passe: ..." (keyword, then ':' or '=', then a value);
 *  2. credentials in URLs, "scheme://user:PASSWORD@host";
 *  3. PEM private keys ("-----BEGIN ... PRIVATE KEY-----");
 *  4. password hashes in crypt(3) / LDAP form ("$6$...", "$2b$...",
 *     "$argon2id$...", "{SSHA}...");
 *  5. long random-looking tokens: 32+ characters of [A-Za-z0-9+/=_-] mixing
 *     upper case, lower case and digits (keys, bearer tokens). Lower-case
 *     hex (SHA-256 digests of images, which reasons legitimately cite) is
 *     not matched.
 * What matches is replaced by "[redacted]" (for 1 and 2, only the value).
 */
#include <regex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

#define REDACTED "[redacted]"

struct pattern {
	const char *what;
	const char *re;
	int group; /* sub-match to redact (0 = whole match) */
	bool to_end_marker; /* PEM: redact up to the END line */
	const char *needs; /* cheap pre-filter: one of these chars occurs */
};

static const struct pattern patterns[] = {
	{"password or key assignment",
	 "(^|[^[:alnum:]_])(password|passwd|passphrase|passwort|mot de passe|mdp|pwd|pass|"
	 "secret|token|api[-_ ]?key|secret[-_ ]?key|private[-_ ]?key|"
	 "access[-_ ]?key|client[-_ ]?secret|community|psk)"
	 "[[:space:]]*[:=][[:space:]]*([^[:space:],;]+)",
	 3, false, ":="},
	{"password in a URL",
	 "[a-z][a-z0-9+.-]*://[^/[:space:]:@]+:([^/[:space:]@]+)@", 1, false,
	 "@"},
	{"private key", "-----BEGIN [A-Z ]*PRIVATE KEY-----", 0, true, "-"},
	{"password hash",
	 "\\$(1|2[abxy]|5|6|7|y|gy|sha1|md5|argon2(id|i|d)?|pbkdf2[-a-z0-9]*|"
	 "scrypt)\\$[./A-Za-z0-9$=,+-]{8,}",
	 0, false, "$"},
	{"password hash", "\\{(SSHA|SHA|SMD5|MD5|CRYPT|SSHA256|SSHA512|PBKDF2)"
			  "\\}[A-Za-z0-9+/=.$]{8,}",
	 0, false, "{"},
};
#define N_PATTERNS (sizeof(patterns) / sizeof(patterns[0]))

static regex_t compiled[N_PATTERNS];
static bool compiled_ok;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compile_all(void)
{
	for (size_t i = 0; i < N_PATTERNS; i++)
		if (regcomp(&compiled[i], patterns[i].re,
			    REG_EXTENDED | REG_ICASE))
			return;
	compiled_ok = true;
}

static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
	       c == '_' || c == '-';
}

/* Next random-looking token at or after @from: sets [*b, *e). */
static bool find_token(const char *s, size_t from, size_t *b, size_t *e)
{
	size_t i = from;

	while (s[i]) {
		size_t j = i;
		bool up = false, lo = false, dig = false;

		while (s[j] && token_char(s[j])) {
			up |= s[j] >= 'A' && s[j] <= 'Z';
			lo |= s[j] >= 'a' && s[j] <= 'z';
			dig |= s[j] >= '0' && s[j] <= '9';
			j++;
		}
		if (j - i >= 32 && up && lo && dig) {
			*b = i;
			*e = j;
			return true;
		}
		i = j > i ? j : i + 1;
	}
	return false;
}

/* Find the earliest secret at or after @from: [*b, *e), its kind. */
static bool find_next(const char *s, size_t from, size_t *b, size_t *e,
		      const char **what)
{
	bool found = false;

	pthread_once(&once, compile_all);
	if (compiled_ok) {
		for (size_t i = 0; i < N_PATTERNS; i++) {
			const struct pattern *p = &patterns[i];
			regmatch_t m[4];

			size_t at = from, gb, ge;

			/* A value already redacted is no secret. */
			for (;;) {
				if (!strpbrk(s + at, p->needs) ||
				    regexec(&compiled[i], s + at, 4, m, 0)) {
					gb = SIZE_MAX;
					break;
				}
				gb = at + (size_t)m[p->group].rm_so;
				ge = at + (size_t)m[p->group].rm_eo;
				if (strncmp(s + gb, REDACTED,
					    sizeof(REDACTED) - 1))
					break;
				at = gb + sizeof(REDACTED) - 1;
			}
			if (gb == SIZE_MAX)
				continue;

			if (p->to_end_marker) {
				const char *end = strstr(s + ge, "-----END ");
				const char *close =
					end ? strstr(end + 9, "-----") : NULL;

				ge = close ? (size_t)(close + 5 - s)
					   : strlen(s);
			}
			if (!found || gb < *b) {
				*b = gb;
				*e = ge;
				*what = p->what;
				found = true;
			}
		}
	}
	{
		size_t tb, te;

		if (find_token(s, from, &tb, &te) && (!found || tb < *b)) {
			*b = tb;
			*e = te;
			*what = "random-looking token (key or password)";
			found = true;
		}
	}
	return found;
}

bool zw_secret__find(const char *text, char *what, size_t what_len)
{
	size_t b, e;
	const char *w = NULL;

	if (!text || !find_next(text, 0, &b, &e, &w))
		return false;
	if (what && what_len)
		snprintf(what, what_len, "%s", w);
	return true;
}

char *zw_secret__scrub(const char *text)
{
	static const char mark[] = REDACTED;
	size_t len = strlen(text), cap = len + 1, n = 0, from = 0, b, e;
	const char *w;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (from <= len && find_next(text, from, &b, &e, &w)) {
		size_t need = n + (b - from) + sizeof(mark) + (len - e) + 1;

		if (need > cap) {
			char *x = realloc(out, need);

			if (!x) {
				free(out);
				return NULL;
			}
			out = x;
			cap = need;
		}
		memcpy(out + n, text + from, b - from);
		n += b - from;
		memcpy(out + n, mark, sizeof(mark) - 1);
		n += sizeof(mark) - 1;
		from = e > b ? e : b + 1;
	}
	if (n + (len - from) + 1 > cap) {
		char *x = realloc(out, n + (len - from) + 1);

		if (!x) {
			free(out);
			return NULL;
		}
		out = x;
	}
	memcpy(out + n, text + from, len - from);
	out[n + len - from] = '\0';
	return out;
}
