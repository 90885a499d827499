// SPDX-License-Identifier: BSD-2-Clause
/*
 * libzwl7: every protocol's positive and negative corpus, every magic
 * number, every split of each sample into two packets, HTTP bodies
 * (Content-Length, chunked, HEAD), the bounded depth, and the oracle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <zonewall/eval.h>
#include <zonewall/flow_record.h>
#include <zonewall/l7.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

static struct zw_l7_db *db;

#define S(x) x, sizeof(x) - 1

struct sample {
	const char *proto;
	uint8_t l4;
	const char *c2s;
	size_t c2s_len;
	const char *s2c;
	size_t s2c_len;
};

/* One good exchange per protocol (both directions, as a real peer sends
 * them first). */
static const struct sample good[] = {
	{"ssh", 6, S("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
	 S("SSH-2.0-OpenSSH_9.2p1\r\n")},
	{"ssh", 6, S("SSH-1.99-PuTTY_Release_0.78\n"), S("SSH-2.0-dropbear\r\n")},
	{"tls", 6,
	 S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" "0123456789abcdef"),
	 S("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03" "0123456789abcdef")},
	{"http", 6, S("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"),
	 S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
	{"http", 6, S("POST /x HTTP/1.0\n\n"), S("HTTP/1.0 404\r\n\r\n")},
	{"rdp", 6, S("\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00"),
	 S("\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00")},
	{"dns", 6, S("\x00\x1d\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" "\x07" "example\x03" "com\x00\x00\x01\x00\x01"),
	 S("\x00\x2d\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00")},
	{"dns", 17, S("\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
	 S("\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00")},
	{"smtp", 6, S("EHLO client.example\r\n"),
	 S("220 mail.example ESMTP Postfix\r\n")},
	{"imap", 6, S("a1 CAPABILITY\r\n"),
	 S("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n")},
	{"ldap", 6, S("\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"),
	 S("\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00")},
	{"ldap", 6, S("\x30\x84\x00\x00\x00\x0c\x02\x02\x01\x00\x63\x07"),
	 S("\x30\x81\x0c\x02\x02\x01\x00\x65\x07")},
	{"ntp", 17,
	 S("\x23\x00\x06\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	 S("\x24\x02\x06\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
};

/* What must not pass as each protocol (first bytes of the client or the
 * server). */
static const struct sample bad[] = {
	{"ssh", 6, S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), S("")},
	{"ssh", 6, S("SSH-3.0-x\r\n"), S("")},
	{"ssh", 6, S("SSH-2.0-OpenSSH\r\n"), S("HTTP/1.1 400 Bad\r\n\r\n")},
	{"tls", 6, S("GET / HTTP/1.1\r\n\r\n"), S("")},
	{"tls", 6, S("\x16\x03\x01\x02\x00\x02\x00\x01\xfc\x03\x03"), S("")},
	{"tls", 6, S("\x15\x03\x03\x00\x02\x02\x28"), S("")},
	{"tls", 6, S("SSH-2.0-x\r\n"), S("")},
	{"http", 6, S("SSH-2.0-OpenSSH_9.2\r\n"), S("")},
	{"http", 6, S("get / HTTP/1.1\r\n\r\n"), S("")},
	{"http", 6, S("GET / HTTP/2.0\r\n\r\n"), S("")},
	{"http", 6, S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), S("")},
	{"rdp", 6, S("\x03\x00\x00\x13\x0e\xf0\x00"), S("")},
	{"rdp", 6, S("GET / HTTP/1.1\r\n\r\n"), S("")},
	{"dns", 6, S("GET / HTTP/1.1\r\n\r\n"), S("")},
	{"dns", 17, S("\xab\xcd\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00"), S("")},
	{"smtp", 6, S(""), S("SSH-2.0-OpenSSH\r\n")},
	{"smtp", 6, S(""), S("554 go away\r\n")},
	{"imap", 6, S(""), S("+OK POP3 ready\r\n")},
	{"ldap", 6, S("GET / HTTP/1.1\r\n\r\n"), S("")},
	{"ldap", 6, S("\x30\x0c\x04\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"), S("")},
	{"ntp", 17, S("\x13\x00\x06\x20"), S("")},
};

static struct zw_l7_conn *conn_of(const char *proto, uint8_t l4, uint32_t ft)
{
	struct zw_l7_conn *c = zw_l7_conn__new(db, zw_l7_proto__find(proto), l4, ft);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* Feed @s whole; the verdict. */
static enum zw_l7_verdict run(const struct sample *s, size_t split,
			      int *seen)
{
	struct zw_l7_conn *c = conn_of(s->proto, s->l4, 0);
	enum zw_l7_verdict v;

	if (split && split < s->c2s_len) {
		zw_l7_conn__feed(c, ZW_L7_C2S, s->c2s, split);
		zw_l7_conn__feed(c, ZW_L7_C2S, s->c2s + split, s->c2s_len - split);
	} else {
		zw_l7_conn__feed(c, ZW_L7_C2S, s->c2s, s->c2s_len);
	}
	if (split && split < s->s2c_len) {
		zw_l7_conn__feed(c, ZW_L7_S2C, s->s2c, split);
		v = zw_l7_conn__feed(c, ZW_L7_S2C, s->s2c + split,
				     s->s2c_len - split);
	} else {
		v = zw_l7_conn__feed(c, ZW_L7_S2C, s->s2c, s->s2c_len);
	}
	v = zw_l7_conn__verdict(c);
	if (seen)
		*seen = zw_l7_conn__seen(c);
	zw_l7_conn__free(c);
	return v;
}

static void test_names(void)
{
	/* every value the language allows has a protocol, and back */
	const char *list = ZW_INSPECT_NAMES;

	CU_ASSERT_EQUAL(zw_l7_proto__count(), 9);
	for (unsigned p = 0; p < zw_l7_proto__count(); p++) {
		CU_ASSERT(zw_inspect__known(zw_l7_proto__name((int)p)));
		CU_ASSERT_PTR_NOT_NULL(strstr(list, zw_l7_proto__name((int)p)));
		CU_ASSERT(zw_l7_proto__checks((int)p, 6) ||
			  zw_l7_proto__checks((int)p, 17));
	}
	CU_ASSERT(zw_l7_proto__find("gopher") < 0);
	CU_ASSERT(!zw_l7_proto__checks(zw_l7_proto__find("ssh"), 17));
	CU_ASSERT(zw_l7_proto__checks(zw_l7_proto__find("dns"), 17));
	CU_ASSERT_STRING_EQUAL(zw_drop_reason__name(ZW_DROP_L7_MISMATCH), "l7-mismatch");
	CU_ASSERT_STRING_EQUAL(zw_drop_reason__name(ZW_DROP_FILE_TYPE), "file-type");
}

static void test_good(void)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int seen = -1;
		enum zw_l7_verdict v = run(&good[i], 0, &seen);

		if (v != ZW_L7_PASS)
			fprintf(stderr, "\ngood sample %zu (%s): verdict %d\n", i,
				good[i].proto, v);
		CU_ASSERT_EQUAL(v, ZW_L7_PASS);
		CU_ASSERT_STRING_EQUAL(zw_l7_proto__name(seen), good[i].proto);
	}
}

static void test_good_split(void)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t max = good[i].c2s_len > good[i].s2c_len ? good[i].c2s_len
							       : good[i].s2c_len;

		for (size_t k = 1; k < max; k++) {
			enum zw_l7_verdict v = run(&good[i], k, NULL);

			if (v != ZW_L7_PASS)
				fprintf(stderr, "\ngood sample %zu (%s) split at %zu: %d\n",
					i, good[i].proto, k, v);
			CU_ASSERT_EQUAL(v, ZW_L7_PASS);
		}
	}
}

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum zw_l7_verdict v = run(&bad[i], 0, NULL);

		if (v != ZW_L7_MISMATCH)
			fprintf(stderr, "\nbad sample %zu (%s): verdict %d\n", i,
				bad[i].proto, v);
		CU_ASSERT_EQUAL(v, ZW_L7_MISMATCH);
		for (size_t k = 1; k < bad[i].c2s_len; k++)
			CU_ASSERT_NOT_EQUAL(run(&bad[i], k, NULL), ZW_L7_PASS);
	}
}

static void test_seen(void)
{
	int seen;
	/* HTTP on an ssh service: cut at the first bytes, and named */
	struct sample s = {"ssh", 6, S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), S("")};

	CU_ASSERT_EQUAL(run(&s, 0, &seen), ZW_L7_MISMATCH);
	CU_ASSERT_STRING_EQUAL(zw_l7_proto__name(seen), "http");
	/* a wrong protocol is cut at its first bytes: the lead */
	struct zw_l7_conn *c = conn_of("ssh", 6, 0);

	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "GET", 3), ZW_L7_PENDING);
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, " ", 1), ZW_L7_MISMATCH);
	CU_ASSERT(zw_l7_conn__done(c));
	zw_l7_conn__free(c);
}

static void test_depth(void)
{
	/* a banner that never ends: cut after 4 data packets */
	struct zw_l7_conn *c = conn_of("ssh", 6, 0);

	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "SSH-2.0-", 8), ZW_L7_PENDING);
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "aaaa", 4), ZW_L7_PENDING);
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "", 0), ZW_L7_PENDING); /* no data packet */
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "aaaa", 4), ZW_L7_PENDING);
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "aaaa", 4), ZW_L7_MISMATCH);
	zw_l7_conn__free(c);
	/* or after 1 024 bytes */
	char big[1100];

	memset(big, 'a', sizeof(big));
	memcpy(big, "SSH-2.0-", 8);
	c = conn_of("ssh", 6, 0);
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, big, sizeof(big)), ZW_L7_MISMATCH);
	zw_l7_conn__free(c);
	/* smtp: the client may not run on while the server has not greeted */
	c = conn_of("smtp", 6, 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "x", 1), ZW_L7_PENDING);
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, "x", 1), ZW_L7_MISMATCH);
	zw_l7_conn__free(c);
	/* no protocol for the transport: cut */
	c = conn_of("ssh", 17, 0);
	CU_ASSERT_EQUAL(zw_l7_conn__verdict(c), ZW_L7_MISMATCH);
	zw_l7_conn__free(c);
	/* judged: done (fast path) */
	c = conn_of("ssh", 6, 0);
	zw_l7_conn__feed(c, ZW_L7_S2C, S("SSH-2.0-x\r\n"));
	CU_ASSERT(!zw_l7_conn__done(c));
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, S("SSH-2.0-y\r\n")), ZW_L7_PASS);
	CU_ASSERT(zw_l7_conn__done(c));
	zw_l7_conn__free(c);
}

/* ---- file types ---- */

struct magic_sample {
	unsigned type;
	const char *bytes;
	size_t len;
};

static const char pe_sample[] =
	"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
	"\xb8\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00"
	"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This prog"
	"ram cannot be run in DOS mode.\r\r\n$\x00\x00\x00\x00\x00\x00\x00"
	"PE\x00\x00\x64\x86";

static const struct magic_sample magics[] = {
	{ZW_FT_PE, pe_sample, sizeof(pe_sample) - 1},
	{ZW_FT_ELF, S("\x7f" "ELF\x02\x01\x01\x00")},
	{ZW_FT_MACHO, S("\xcf\xfa\xed\xfe\x07\x00\x00\x01")},
	{ZW_FT_MACHO, S("\xfe\xed\xfa\xce\x00\x00\x00\x07")},
	{ZW_FT_MACHO, S("\xca\xfe\xba\xbe\x00\x00\x00\x02")},
	{ZW_FT_SCRIPT, S("#!/bin/sh\necho hi\n")},
	{ZW_FT_ZIP, S("PK\x03\x04\x14\x00\x00\x00")},
	{ZW_FT_RAR, S("Rar!\x1a\x07\x01\x00\x33")},
	{ZW_FT_RAR, S("Rar!\x1a\x07\x00\xcf")},
	{ZW_FT_7Z, S("7z\xbc\xaf\x27\x1c\x00\x04")},
	{ZW_FT_GZIP, S("\x1f\x8b\x08\x00\x00\x00\x00\x00")},
	{ZW_FT_XZ, S("\xfd" "7zXZ\x00\x00\x04")},
	{ZW_FT_BZIP2, S("BZh91AY&SY\x12\x34")},
	{ZW_FT_ZSTD, S("\x28\xb5\x2f\xfd\x04\x58")},
	{ZW_FT_CAB, S("MSCF\x00\x00\x00\x00\x12\x34")},
	{ZW_FT_OLE2, S("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00")},
};

/* A raw TCP stream (not HTTP) starting with @b, split at @split. */
static enum zw_l7_verdict raw(const char *b, size_t len, size_t split,
			      uint32_t ft, int *type)
{
	struct zw_l7_conn *c = conn_of("none", 6, ft);
	enum zw_l7_verdict v;

	zw_l7_conn__feed(c, ZW_L7_C2S, "RETR file\r\n", 11);
	if (split && split < len) {
		zw_l7_conn__feed(c, ZW_L7_S2C, b, split);
		zw_l7_conn__feed(c, ZW_L7_S2C, b + split, len - split);
	} else {
		zw_l7_conn__feed(c, ZW_L7_S2C, b, len);
	}
	v = zw_l7_conn__verdict(c);
	*type = zw_l7_conn__ftype(c);
	zw_l7_conn__free(c);
	return v;
}

static void test_magic(void)
{
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		const struct magic_sample *m = &magics[i];
		int type;

		for (size_t k = 0; k < m->len; k++) {
			enum zw_l7_verdict v = raw(m->bytes, m->len, k,
						   ZW_FT_BIT(m->type), &type);

			if (v != ZW_L7_FILE || type != (int)m->type)
				fprintf(stderr, "\nmagic %s split at %zu: %d\n",
					zw_l7_ftype__name(m->type), k, v);
			CU_ASSERT_EQUAL(v, ZW_L7_FILE);
			CU_ASSERT_EQUAL(type, (int)m->type);
		}
		/* not blocked: passes */
		CU_ASSERT_NOT_EQUAL(raw(m->bytes, m->len, 0,
					ZW_FT_ALL & ~ZW_FT_BIT(m->type), &type),
				    ZW_L7_FILE);
	}
	int type;

	CU_ASSERT_NOT_EQUAL(raw(S("hello, world\n"), 0, ZW_FT_ALL, &type), ZW_L7_FILE);
	/* a magic number not at the start is no file start */
	CU_ASSERT_NOT_EQUAL(raw(S("xx\x7f" "ELF"), 0, ZW_FT_ALL, &type), ZW_L7_FILE);
	/* TLS: nothing to see */
	struct zw_l7_conn *c = conn_of("none", 6, ZW_FT_ALL);

	zw_l7_conn__feed(c, ZW_L7_C2S, good[2].c2s, good[2].c2s_len);
	CU_ASSERT(zw_l7_conn__done(c));
	zw_l7_conn__free(c);
}

static void test_ftypes_parse(void)
{
	uint32_t m;
	char err[200], buf[200];

	CU_ASSERT_EQUAL(zw_l7_ftypes__parse("executable", &m, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(m, ZW_FT_EXECUTABLE);
	CU_ASSERT_STRING_EQUAL(zw_l7_ftypes__format(m, buf, sizeof(buf)),
			       "pe,elf,macho,script");
	CU_ASSERT_EQUAL(zw_l7_ftypes__parse("zip,ole2,archive", &m, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(m, ZW_FT_ARCHIVE | ZW_FT_BIT(ZW_FT_OLE2));
	CU_ASSERT_EQUAL(zw_l7_ftypes__parse("exe", &m, err, sizeof(err)), -22);
	CU_ASSERT_EQUAL(zw_l7_ftypes__parse("elf,", &m, err, sizeof(err)), -22);
	CU_ASSERT_EQUAL(zw_l7_ftypes__parse("", &m, err, sizeof(err)), -22);
}

/* An HTTP exchange whose response body is @body, sent in packets of
 * @chunk bytes (0: whole). */
static enum zw_l7_verdict http_get(const char *head, const char *body,
				   size_t blen, size_t chunk, int *type)
{
	/* no conformance check: one byte per packet is allowed here */
	struct zw_l7_conn *c = conn_of("none", 6, ZW_FT_EXECUTABLE);
	char *resp = malloc(strlen(head) + blen);
	size_t n = strlen(head) + blen;
	enum zw_l7_verdict v;

	memcpy(resp, head, strlen(head));
	memcpy(resp + strlen(head), body, blen);
	zw_l7_conn__feed(c, ZW_L7_C2S, S("GET /f HTTP/1.1\r\nHost: a\r\n\r\n"));
	if (!chunk)
		chunk = n;
	for (size_t o = 0; o < n; o += chunk)
		zw_l7_conn__feed(c, ZW_L7_S2C, resp + o, n - o < chunk ? n - o : chunk);
	v = zw_l7_conn__verdict(c);
	*type = zw_l7_conn__ftype(c);
	CU_ASSERT(!zw_l7_conn__done(c) || v == ZW_L7_FILE);
	zw_l7_conn__free(c);
	free(resp);
	return v;
}

static void test_http_bodies(void)
{
	int type;
	static const char elf[] = "\x7f" "ELF\x02\x01\x01\x00\x00\x00";

	for (size_t k = 1; k <= 60; k++) {
		CU_ASSERT_EQUAL(http_get("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
					 elf, 10, k, &type), ZW_L7_FILE);
		CU_ASSERT_EQUAL(type, ZW_FT_ELF);
		/* chunked: the magic split across two chunks */
		CU_ASSERT_EQUAL(http_get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
					 S("2\r\n\x7f" "E\r\n8\r\nLF\x02\x01\x01\x00\x00\x00\r\n0\r\n\r\n"),
					 k, &type), ZW_L7_FILE);
		CU_ASSERT_EQUAL(http_get("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
					 S("hello world\n"), k, &type), ZW_L7_PASS);
	}
	/* close-delimited, and a second response on the connection */
	CU_ASSERT_EQUAL(http_get("HTTP/1.0 200 OK\r\n\r\n", elf, 10, 3, &type), ZW_L7_FILE);
	CU_ASSERT_EQUAL(http_get("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
				 "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
				 elf, 10, 7, &type), ZW_L7_FILE);
	/* 304 and a HEAD response have no body: the next bytes are a head */
	CU_ASSERT_EQUAL(http_get("HTTP/1.1 304 Not Modified\r\n\r\n", S(""), 0, &type),
			ZW_L7_PASS);
	/* an upload: the request body */
	struct zw_l7_conn *c = conn_of("http", 6, ZW_FT_EXECUTABLE);

	zw_l7_conn__feed(c, ZW_L7_C2S, S("PUT /f HTTP/1.1\r\nContent-Length: 4\r\n\r\n"));
	CU_ASSERT_EQUAL(zw_l7_conn__feed(c, ZW_L7_C2S, S("#!/b")), ZW_L7_FILE);
	zw_l7_conn__free(c);
}

/* ---- the oracle ---- */

static const char lab_yaml[] =
	"zonewall: 1\n"
	"name: l7\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/24], isolate: true}\n"
	"  srv: {kind: servers, networks: [10.2.0.0/24]}\n"
	"flows:\n"
	"  - id: F-1\n"
	"    from: ops\n"
	"    to: srv\n"
	"    services: [ssh, http]\n"
	"    compensating: lab\n"
	"    justification: admin\n";

static struct zw_image *lab_image(const struct zw_fileblock *fb, size_t n)
{
	struct zw_diags dg;
	struct zw_matrix *m;
	struct zw_compile_opts o = {.fileblock = fb, .n_fileblock = n};
	uint8_t *bytes = NULL;
	size_t len = 0;
	struct zw_image *img;
	char err[256];

	zw_diags__init(&dg, "l7.yaml");
	m = zw_matrix__parse(lab_yaml, strlen(lab_yaml), "l7.yaml", &dg);
	if (!m || dg.n_errors)
		zw_diags__print_text(&dg, stderr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL_FATAL(zw_policy__compile_opts(m, &o, &bytes, &len), 0);
	img = zw_image__open(bytes, len, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	free(bytes);
	zw_matrix__free(m);
	zw_diags__fini(&dg);
	return img;
}

static void query(struct zw_query *q, const char *src, const char *dst,
		  int port)
{
	char err[128], ps[8];

	snprintf(ps, sizeof(ps), "%d", port);
	CU_ASSERT_EQUAL_FATAL(zw_query__parse(q, src, dst, "tcp", ps, err, sizeof(err)), 0);
}

/* The pool (a packet path that must not allocate): same verdicts as
 * malloc'd connections, a bounded number of them, exhaustion reported. */
static void test_pool(void)
{
	struct zw_l7_pool *p = zw_l7_pool__new(db, 3);
	struct zw_l7_conn *c[4];
	uint32_t idx[4];
	int ssh = zw_l7_proto__find("ssh"), http = zw_l7_proto__find("http");
	static const char elf[] = "\x7f" "ELF\x02\x01\x01\x00\x00\x00";

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(zw_l7_pool__size(p), 3);
	for (int round = 0; round < 50; round++) {
		c[0] = zw_l7_pool__get(p, ssh, 6, 0, &idx[0]);
		c[1] = zw_l7_pool__get(p, ssh, 6, 0, &idx[1]);
		c[2] = zw_l7_pool__get(p, http, 6, ZW_FT_EXECUTABLE, &idx[2]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c[0]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c[1]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c[2]);
		CU_ASSERT_EQUAL(zw_l7_pool__used(p), 3);
		CU_ASSERT_PTR_EQUAL(zw_l7_pool__at(p, idx[1]), c[1]);
		/* exhausted: refused, counted */
		c[3] = zw_l7_pool__get(p, ssh, 6, 0, &idx[3]);
		CU_ASSERT_PTR_NULL(c[3]);
		CU_ASSERT_EQUAL(zw_l7_pool__exhausted(p), (uint64_t)round + 1);
		CU_ASSERT_EQUAL(zw_l7_conn__feed(c[0], ZW_L7_C2S,
						 S("SSH-2.0-x\r\n")), ZW_L7_PENDING);
		CU_ASSERT_EQUAL(zw_l7_conn__feed(c[0], ZW_L7_S2C,
						 S("SSH-2.0-y\r\n")), ZW_L7_PASS);
		CU_ASSERT(zw_l7_conn__done(c[0]));
		CU_ASSERT_EQUAL(zw_l7_conn__feed(c[1], ZW_L7_C2S,
						 S("GET / HTTP/1.1\r\n")),
				ZW_L7_MISMATCH);
		CU_ASSERT_EQUAL(zw_l7_conn__seen(c[1]), http);
		/* an ELF download split in two packets, HTTP head buffers and
		 * the magic stream from the pool */
		zw_l7_conn__feed(c[2], ZW_L7_C2S, S("GET /a HTTP/1.1\r\n\r\n"));
		zw_l7_conn__feed(c[2], ZW_L7_S2C,
				 S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\x7f" "E"));
		CU_ASSERT_EQUAL(zw_l7_conn__feed(c[2], ZW_L7_S2C, elf + 2, 8),
				ZW_L7_FILE);
		CU_ASSERT_EQUAL(zw_l7_conn__ftype(c[2]), ZW_FT_ELF);
		for (int i = 0; i < 3; i++)
			zw_l7_conn__free(c[i]);
		CU_ASSERT_EQUAL(zw_l7_pool__used(p), 0);
	}
	zw_l7_pool__free(p);
}

static void test_oracle(void)
{
	struct zw_image *img = lab_image(NULL, 0);
	struct zw_query q;
	struct zw_l7_result r;

	query(&q, "10.1.0.1", "10.2.0.1", 22);
	CU_ASSERT_EQUAL(zw_l7__eval(img, db, &q, S("SSH-2.0-x\r\n"),
				    S("SSH-2.0-y\r\n"), &r), 0);
	CU_ASSERT(r.allow);
	CU_ASSERT_EQUAL(r.l7, ZW_L7_PASS);
	CU_ASSERT_STRING_EQUAL(zw_l7_proto__name(r.proto), "ssh");
	CU_ASSERT_EQUAL(zw_l7__eval(img, db, &q, S("GET / HTTP/1.1\r\n\r\n"),
				    S(""), &r), 0);
	CU_ASSERT(!r.allow);
	CU_ASSERT_EQUAL(r.reason, ZW_DROP_L7_MISMATCH);
	CU_ASSERT_STRING_EQUAL(zw_l7_proto__name(r.seen), "http");
	/* nothing sent yet: allowed, not judged */
	CU_ASSERT_EQUAL(zw_l7__eval(img, db, &q, S(""), S(""), &r), 0);
	CU_ASSERT(r.allow);
	CU_ASSERT_EQUAL(r.l7, ZW_L7_PENDING);
	/* no flow: the L3/L4 reason */
	query(&q, "10.2.0.1", "10.1.0.1", 22);
	CU_ASSERT_EQUAL(zw_l7__eval(img, db, &q, S("SSH-2.0-x\r\n"), S(""), &r), 0);
	CU_ASSERT(!r.allow);
	CU_ASSERT_EQUAL(r.reason, ZW_DROP_NO_FLOW);
	zw_image__free(img);

	/* block-file executable from ops to srv */
	struct zw_fileblock fb[] = {{ZW_FT_EXECUTABLE, "ops", "srv"},
				    {ZW_FT_ALL, "nowhere", NULL}};

	img = lab_image(fb, 2);
	CU_ASSERT_EQUAL(img->n_fileblock, 1);
	CU_ASSERT_EQUAL(zw_l7__blocked_types(img, 1, 2), ZW_FT_EXECUTABLE);
	CU_ASSERT_EQUAL(zw_l7__blocked_types(img, 2, 1), 0);
	query(&q, "10.1.0.1", "10.2.0.1", 80);
	CU_ASSERT_EQUAL(zw_l7__eval(img, db, &q, S("GET /a HTTP/1.1\r\n\r\n"),
				    S("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\x7f" "ELF\x02\x01\x01\x00"),
				    &r), 0);
	CU_ASSERT(!r.allow);
	CU_ASSERT_EQUAL(r.reason, ZW_DROP_FILE_TYPE);
	CU_ASSERT_EQUAL(r.ftype, ZW_FT_ELF);
	CU_ASSERT_EQUAL(zw_l7__eval(img, db, &q, S("GET /a HTTP/1.1\r\n\r\n"),
				    S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
				    &r), 0);
	CU_ASSERT(r.allow);
	zw_image__free(img);
}

int main(void)
{
	char err[256];
	CU_pSuite s;
	unsigned fails;

	db = zw_l7_db__new(err, sizeof(err));
	if (!db) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("l7", NULL, NULL);
	CU_add_test(s, "names", test_names);
	CU_add_test(s, "good corpus", test_good);
	CU_add_test(s, "good corpus, every split", test_good_split);
	CU_add_test(s, "bad corpus", test_bad);
	CU_add_test(s, "protocol seen", test_seen);
	CU_add_test(s, "depth", test_depth);
	CU_add_test(s, "magic numbers, every split", test_magic);
	CU_add_test(s, "file type lists", test_ftypes_parse);
	CU_add_test(s, "HTTP bodies", test_http_bodies);
	CU_add_test(s, "oracle", test_oracle);
	CU_add_test(s, "pool: preallocated, bounded, exhaustion", test_pool);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	zw_l7_db__free(db);
	return fails ? 1 : 0;
}
