/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Secrets never enter the journal (REQUIREMENTS L4). Heuristics, listed in
 * docs/journal.md:
 *  1. "password=...", "pwd: ...", "pw=...", "secret=...", "token=...",
 *     "api_key=...", "mot de passe: ..." (keyword, then ':' or '=', then a
 *     value);
 *  2. credentials in URLs, "scheme://user:PASSWORD@host";
 *  3. PEM private keys ("-----BEGIN ... PRIVATE KEY-----");
 *  4. password hashes in crypt(3) / LDAP form ("$6$...", "$2b$...",
 *     "$argon2id$...", "{SSHA}...");
 *  5. a password glued to a -p option ("mysql -pS3cret"): not a port list
 *     ("-p2222"), not an option word ("-prune") unless a MySQL client is
 *     named on the line;
 *  6. long random-looking tokens: 32+ characters of [A-Za-z0-9+/=_-] mixing
 *     upper case, lower case and digits (keys, bearer tokens). Lower-case
 *     hex (SHA-256 digests of images, which reasons legitimately cite) is
 *     not matched.
 * Matching runs on a folded copy of the text (fold() below): zero-width and
 * other invisible format characters and combining marks removed, full-width
 * and mathematical letters, look-alike Cyrillic and Greek letters, odd
 * spaces, colons, equals signs and dashes mapped to ASCII, so
 * "pass<U+200B>word=", "ｐａｓｓｗｏｒｄ＝" and "pаssword=" (Cyrillic a)
 * are caught. What matches is replaced by "[redacted]" in the original text
 * (for 1 and 2, only the value).
 */
#include <regex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "journal.h"

#define REDACTED "[redacted]"

struct pattern {
	const char *what;
	const char *re;
	int group; /* sub-match to redact (0 = whole match) */
	bool to_end_marker; /* PEM: redact up to the END line */
	const char *needs; /* cheap pre-filter: one of these chars occurs */
	/* when set, a match it refuses is no secret (the search goes on) */
	bool (*accept)(const char *s, size_t gb, size_t ge, bool lines);
};

/* Keyword assignments: the keyword list, then ':' or '=' and a value.
 * KW_SEP spans lines in free text (a reason, a description), not in a
 * document scanned line by line (zw_secret__find_lines). */
#define KW "(^|[^[:alnum:]_])(password|passwd|passphrase|passwort|mot de passe|mdp|pwd|pw|pass|" \
	   "secret|token|api[-_ ]?key|secret[-_ ]?key|private[-_ ]?key|" \
	   "access[-_ ]?key|client[-_ ]?secret|community|psk)"
#define KW_VALUE "[:=][[:space:]]*([^[:space:],;]+)"

static bool yaml_collection(const char *s, size_t gb, size_t ge, bool lines)
{
	(void)ge;
	/* In a YAML document, "token: {proto: tcp, ...}" is a zone or service
	 * named like a keyword, whose value is a collection: no assignment. */
	return !lines || (s[gb] != '{' && s[gb] != '[');
}

static bool dash_p(const char *s, size_t gb, size_t ge, bool lines);

static const struct pattern patterns[] = {
	{"password or key assignment", KW "[[:space:]]*" KW_VALUE, 3, false,
	 ":=", yaml_collection},
	{"password in a URL",
	 "[a-z][a-z0-9+.-]*://[^/[:space:]:@]+:([^/[:space:]@]+)@", 1, false,
	 "@", NULL},
	{"private key", "-----BEGIN [A-Z ]*PRIVATE KEY-----", 0, true, "-",
	 NULL},
	{"password hash",
	 "\\$(1|2[abxy]|5|6|7|y|gy|sha1|md5|argon2(id|i|d)?|pbkdf2[-a-z0-9]*|"
	 "scrypt)\\$[./A-Za-z0-9$=,+-]{8,}",
	 0, false, "$", NULL},
	{"password hash", "\\{(SSHA|SHA|SMD5|MD5|CRYPT|SSHA256|SSHA512|PBKDF2)"
			  "\\}[A-Za-z0-9+/=.$]{8,}",
	 0, false, "{", NULL},
	{"password after -p",
	 "(^|[[:space:]\"'(=|;&])-p([^[:space:],;\"')|&]{4,})", 2, false, "-",
	 dash_p},
};
#define N_PATTERNS (sizeof(patterns) / sizeof(patterns[0]))

/* The keyword pattern again, its value on the same line. */
static const char *const kw_line_re = KW "[ \t]*[:=][ \t]*([^[:space:],;]+)";

static regex_t compiled[N_PATTERNS], kw_line;
static bool compiled_ok;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compile_all(void)
{
	for (size_t i = 0; i < N_PATTERNS; i++)
		if (regcomp(&compiled[i], patterns[i].re,
			    REG_EXTENDED | REG_ICASE))
			return;
	if (regcomp(&kw_line, kw_line_re, REG_EXTENDED | REG_ICASE))
		return;
	compiled_ok = true;
}

/* "-pVALUE": a secret unless VALUE is a port list ("-p2222", "-p1-1024")
 * or an option word ("-prune", "-print") on a line that names no MySQL
 * client (whose -p takes the password glued to it). */
static bool dash_p(const char *s, size_t gb, size_t ge, bool lines)
{
	bool port = true, word = true;
	size_t bol = gb;

	(void)lines;
	for (size_t i = gb; i < ge; i++) {
		char c = s[i];

		port &= (c >= '0' && c <= '9') || c == '-' || c == ':';
		word &= (c >= 'a' && c <= 'z') || c == '-';
	}
	if (port)
		return false;
	if (!word)
		return true;
	while (bol && s[bol - 1] != '\n')
		bol--;
	for (size_t i = bol; i + 5 <= gb; i++)
		if (!strncasecmp(s + i, "mysql", 5) ||
		    (i + 7 <= gb && !strncasecmp(s + i, "mariadb", 7)))
			return true;
	return false;
}

/* ---- folding ---- */

/* Latin-1 Supplement and Latin Extended-A letters without their marks
 * (U+00C0..U+017F); '.' for the few that are not letters. */
static const char latin_base[193] =
	"AAAAAAACEEEEIIIIDNOOOOO.OUUUUYTs" /* C0-DF */
	"aaaaaaaceeeeiiiidnooooo.ouuuuyty" /* E0-FF */
	"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGg" /* 100-11F */
	"GgGgHhHhIiIiIiIiIiJjJjKkkLlLlLlL" /* 120-13F */
	"lLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSs" /* 140-15F */
	"SsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs"; /* 160-17F */

/* Look-alike Cyrillic and Greek letters (not NFKC, but the same trick). */
static const struct {
	uint32_t cp;
	char c;
} lookalike[] = {
	{0x0391, 'A'}, {0x0392, 'B'}, {0x0395, 'E'}, {0x0396, 'Z'},
	{0x0397, 'H'}, {0x0399, 'I'}, {0x039a, 'K'}, {0x039c, 'M'},
	{0x039d, 'N'}, {0x039f, 'O'}, {0x03a1, 'P'}, {0x03a4, 'T'},
	{0x03a5, 'Y'}, {0x03a7, 'X'}, {0x03b1, 'a'}, {0x03bf, 'o'},
	{0x03c1, 'p'}, {0x0405, 'S'}, {0x0406, 'I'}, {0x0408, 'J'},
	{0x0410, 'A'}, {0x0412, 'B'}, {0x0415, 'E'}, {0x041a, 'K'},
	{0x041c, 'M'}, {0x041d, 'H'}, {0x041e, 'O'}, {0x0420, 'P'},
	{0x0421, 'C'}, {0x0422, 'T'}, {0x0425, 'X'}, {0x0430, 'a'},
	{0x0435, 'e'}, {0x043e, 'o'}, {0x0440, 'p'}, {0x0441, 'c'},
	{0x0443, 'y'}, {0x0445, 'x'}, {0x0455, 's'}, {0x0456, 'i'},
	{0x0458, 'j'}, {0x0501, 'd'}, {0x051b, 'q'}, {0x051d, 'w'},
};

/* Invisible: default-ignorable code points (format characters, zero-width
 * spaces and joiners, bidi controls, variation selectors, tags) and
 * combining marks. */
static bool invisible(uint32_t c)
{
	return c == 0xad || c == 0x34f || c == 0x61c || c == 0x115f ||
	       c == 0x1160 || c == 0x17b4 || c == 0x17b5 ||
	       (c >= 0x180b && c <= 0x180f) || (c >= 0x200b && c <= 0x200f) ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) ||
	       c == 0x3164 || (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff ||
	       c == 0xffa0 || (c >= 0xfff0 && c <= 0xfff8) ||
	       (c >= 0x1bca0 && c <= 0x1bca3) ||
	       (c >= 0x1d173 && c <= 0x1d17a) ||
	       (c >= 0xe0000 && c <= 0xe0fff) ||
	       (c >= 0x300 && c <= 0x36f) || (c >= 0x1ab0 && c <= 0x1aff) ||
	       (c >= 0x1dc0 && c <= 0x1dff) || (c >= 0x20d0 && c <= 0x20ff) ||
	       (c >= 0xfe20 && c <= 0xfe2f);
}

/* ASCII text for code point @c into @out (at most 3 bytes), or 0 when it
 * has none (kept as it is). */
static size_t to_ascii(uint32_t c, char *out)
{
	static const char *const lig[] = {"ff", "fi", "fl", "ffi", "ffl", "st",
					  "st"};

	if (c >= 0xff01 && c <= 0xff5e) /* full-width ASCII */
		return out[0] = (char)(c - 0xfee0), 1;
	if (c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x202f || c == 0x205f || c == 0x3000)
		return out[0] = ' ', 1;
	if (c == 0xfe55 || c == 0xfe13 || c == 0x2236 || c == 0xa789)
		return out[0] = ':', 1;
	if (c == 0xfe66 || c == 0x207c || c == 0x208c || c == 0x2261)
		return out[0] = '=', 1;
	if ((c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0xfe63 ||
	    c == 0xfe58)
		return out[0] = '-', 1;
	if (c >= 0xc0 && c <= 0x17f && latin_base[c - 0xc0] != '.')
		return out[0] = latin_base[c - 0xc0], 1;
	if (c >= 0x1d400 && c <= 0x1d6a3) { /* mathematical letters */
		unsigned k = (c - 0x1d400) % 52;

		return out[0] = (char)(k < 26 ? 'A' + k : 'a' + k - 26), 1;
	}
	if (c >= 0x1d7ce && c <= 0x1d7ff) /* mathematical digits */
		return out[0] = (char)('0' + (c - 0x1d7ce) % 10), 1;
	if (c >= 0x24b6 && c <= 0x24cf) /* circled letters */
		return out[0] = (char)('A' + c - 0x24b6), 1;
	if (c >= 0x24d0 && c <= 0x24e9)
		return out[0] = (char)('a' + c - 0x24d0), 1;
	if (c >= 0xfb00 && c <= 0xfb06) {
		size_t n = strlen(lig[c - 0xfb00]);

		memcpy(out, lig[c - 0xfb00], n);
		return n;
	}
	for (size_t i = 0; i < sizeof(lookalike) / sizeof(lookalike[0]); i++)
		if (lookalike[i].cp == c)
			return out[0] = lookalike[i].c, 1;
	return 0;
}

/* A folded copy of @len bytes of @text for matching (NUL-terminated), with
 * map[i] the offset in @text of what produced folded byte i and map[n] =
 * @len. */
struct folded {
	char *s;
	size_t *map;
	size_t n;
};

static int fold(const char *text, size_t len, struct folded *f)
{
	const unsigned char *t = (const unsigned char *)text;

	f->s = malloc(len * 3 + 1);
	f->map = malloc((len * 3 + 1) * sizeof(*f->map));
	f->n = 0;
	if (!f->s || !f->map) {
		free(f->s);
		free(f->map);
		return -1;
	}
	for (size_t i = 0, k; i < len; i += k) {
		uint32_t cp;
		char a[4];
		size_t na;

		k = zw_utf8__decode(t + i, len - i, &cp);
		if (k <= 1) { /* ASCII, or a stray byte: as it is */
			k = 1;
			f->map[f->n] = i;
			f->s[f->n++] = (char)t[i];
			continue;
		}
		if (invisible(cp))
			continue;
		na = to_ascii(cp, a);
		if (!na) {
			memcpy(a, t + i, k);
			na = k;
		}
		for (size_t j = 0; j < na; j++) {
			f->map[f->n] = i;
			f->s[f->n++] = a[j];
		}
	}
	f->map[f->n] = len;
	f->s[f->n] = '\0';
	return 0;
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

/* Find the earliest secret at or after @from in folded text @s: [*b, *e),
 * its kind. @lines: a document read line by line (a keyword's value on its
 * line; a random-looking token right after "id:" is a flow id). */
static bool find_next(const char *s, size_t from, bool lines, size_t *b,
		      size_t *e, const char **what)
{
	bool found = false;

	pthread_once(&once, compile_all);
	if (compiled_ok) {
		for (size_t i = 0; i < N_PATTERNS; i++) {
			const struct pattern *p = &patterns[i];
			const regex_t *re = lines && i == 0 ? &kw_line : &compiled[i];
			regmatch_t m[4];

			size_t at = from, gb, ge;

			/* A value already redacted is no secret, nor one the
			 * pattern's own test refuses. */
			for (;;) {
				if (!strpbrk(s + at, p->needs) ||
				    regexec(re, s + at, 4, m, 0)) {
					gb = SIZE_MAX;
					break;
				}
				gb = at + (size_t)m[p->group].rm_so;
				ge = at + (size_t)m[p->group].rm_eo;
				if (!strncmp(s + gb, REDACTED,
					     sizeof(REDACTED) - 1)) {
					at = gb + sizeof(REDACTED) - 1;
					continue;
				}
				if (p->accept && !p->accept(s, gb, ge, lines)) {
					at = gb + 1;
					continue;
				}
				break;
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
		size_t tb, te, at = from;

		while (find_token(s, at, &tb, &te)) {
			size_t k = tb;

			/* "id: Backup-Nightly-Server01-To-Storage02" */
			while (lines && k && (s[k - 1] == ' ' || s[k - 1] == '"' ||
					      s[k - 1] == '\''))
				k--;
			if (lines && k >= 3 && !strncmp(s + k - 3, "id:", 3) &&
			    (k == 3 || !token_char(s[k - 4]))) {
				at = te;
				continue;
			}
			if (!found || tb < *b) {
				*b = tb;
				*e = te;
				*what = "random-looking token (key or password)";
				found = true;
			}
			break;
		}
	}
	return found;
}

static bool find_in(const char *text, size_t len, bool lines, size_t *line,
		    char *what, size_t what_len)
{
	struct folded f;
	size_t b, e;
	const char *w = NULL;
	bool found;

	if (!text)
		return false;
	if (fold(text, len, &f) < 0)
		return true; /* cannot tell: fail closed */
	found = find_next(f.s, 0, lines, &b, &e, &w);
	if (found && line) {
		*line = 1;
		for (size_t i = 0; i < f.map[b]; i++)
			*line += text[i] == '\n';
	}
	free(f.s);
	free(f.map);
	if (found && what && what_len)
		snprintf(what, what_len, "%s", w ? w : "out of memory");
	return found;
}

bool zw_secret__find(const char *text, char *what, size_t what_len)
{
	return text && find_in(text, strlen(text), false, NULL, what, what_len);
}

bool zw_secret__find_lines(const char *text, size_t len, size_t *line,
			   char *what, size_t what_len)
{
	return find_in(text, len, true, line, what, what_len);
}

char *zw_secret__scrub(const char *text)
{
	static const char mark[] = REDACTED;
	size_t len = strlen(text), cap = len + 1, n = 0, from = 0, b, e;
	size_t ofrom = 0; /* where the original's next copy starts */
	const char *w;
	struct folded f;
	char *out;

	if (fold(text, len, &f) < 0)
		return NULL;
	out = malloc(cap);
	if (!out)
		goto oom;
	while (from <= f.n && find_next(f.s, from, false, &b, &e, &w)) {
		size_t ob = f.map[b], oe = f.map[e], need;

		if (ob < ofrom) /* inside what was already redacted */
			ob = ofrom;
		if (oe < ob)
			oe = ob;
		need = n + (ob - ofrom) + sizeof(mark) + (len - oe) + 1;
		if (need > cap) {
			char *x = realloc(out, need);

			if (!x)
				goto oom;
			out = x;
			cap = need;
		}
		memcpy(out + n, text + ofrom, ob - ofrom);
		n += ob - ofrom;
		memcpy(out + n, mark, sizeof(mark) - 1);
		n += sizeof(mark) - 1;
		ofrom = oe;
		from = e > b ? e : b + 1;
	}
	if (n + (len - ofrom) + 1 > cap) {
		char *x = realloc(out, n + (len - ofrom) + 1);

		if (!x)
			goto oom;
		out = x;
	}
	memcpy(out + n, text + ofrom, len - ofrom);
	out[n + len - ofrom] = '\0';
	free(f.s);
	free(f.map);
	return out;
oom:
	free(out);
	free(f.s);
	free(f.map);
	return NULL;
}
