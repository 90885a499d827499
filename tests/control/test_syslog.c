/* SPDX-License-Identifier: BSD-2-Clause */
/* Syslog forwarding: RFC 5424 fields, SD escaping, RFC 6587 octet
 * counting; the control protocol's framing. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zonewall/journal.h>

#include "proto.h"
#include "syslogfwd.h"
#include "testutil.h"

static char *entry(const char *reason, bool synced)
{
	json_t *o = json_pack(
		"{s:I, s:s, s:{s:b, s:s, s:I, s:I}, s:I, s:s, s:s, s:I, s:s,"
		" s:s, s:n, s:n, s:n, s:n, s:n, s:s}",
		"seq", (json_int_t)42, "time", "2026-11-01T12:00:00.000123Z",
		"clock", "synced", synced, "state", "TIME_OK", "maxerror_us",
		(json_int_t)1500, "esterror_us", (json_int_t)10, "uid",
		(json_int_t)1000, "user", "alice", "action", "flow-added",
		"version", (json_int_t)7, "reason", reason, "flow", "F-001",
		"zone", "before", "after", "impl", "detail", "prev",
		ZW_JOURNAL_GENESIS);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);

	json_decref(o);
	return s;
}

static void test_format_fields(void)
{
	char *c = entry("open ssh \"now\" [CHG-1] back\\slash", true);
	size_t len, flen;
	char *m = zw_syslog__format(c, "abcd", "host one", "zonewalld", 123,
				    &len);
	char *bom;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(strlen(m), len);
	/* PRI (facility 13 log audit, notice), version 1, timestamp, host
	 * with the space dropped, app, procid, msgid = action. */
	CU_ASSERT_EQUAL(strncmp(m, "<109>1 2026-11-01T12:00:00.000123Z hostone "
				   "zonewalld 123 flow-added [timeQuality "
				   "tzKnown=\"1\" isSynced=\"1\" "
				   "syncAccuracy=\"1500\"][zonewall@32473 "
				   "seq=\"42\" hash=\"abcd\"",
				strlen("<109>1 2026-11-01T12:00:00.000123Z hostone "
				       "zonewalld 123 flow-added [timeQuality "
				       "tzKnown=\"1\" isSynced=\"1\" "
				       "syncAccuracy=\"1500\"][zonewall@32473 "
				       "seq=\"42\" hash=\"abcd\"")),
			0);
	/* SD-PARAM escaping of '"', '\' and ']' (RFC 5424 §6.3.3). */
	CU_ASSERT_PTR_NOT_NULL(strstr(
		m, "reason=\"open ssh \\\"now\\\" [CHG-1\\] back\\\\slash\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, " version=\"7\" flow=\"F-001\" "));
	/* MSG is BOM + the canonical content, byte for byte. */
	bom = strstr(m, "] \xEF\xBB\xBF");
	CU_ASSERT_PTR_NOT_NULL_FATAL(bom);
	CU_ASSERT_STRING_EQUAL(bom + 5, c);
	/* Octet counting: "LEN SP MSG" with LEN the byte count of MSG. */
	char *fr = zw_syslog__frame(m, len, &flen);
	char expect[32];
	snprintf(expect, sizeof(expect), "%zu ", len);
	CU_ASSERT_EQUAL(strncmp(fr, expect, strlen(expect)), 0);
	CU_ASSERT_EQUAL(flen, strlen(expect) + len);
	CU_ASSERT_EQUAL(memcmp(fr + strlen(expect), m, len), 0);
	free(fr);
	free(m);
	free(c);
}

static void test_format_unsynced_and_refused(void)
{
	char *c = entry("r", false);
	size_t len;
	json_t *o = json_loads(c, 0, NULL);
	char *c2, *m;

	json_object_set_new(o, "action", json_string("commit-refused"));
	c2 = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	m = zw_syslog__format(c2, "h", "", "zonewalld", 1, &len);
	/* Warning severity; NILVALUE hostname; no syncAccuracy. */
	CU_ASSERT_EQUAL(strncmp(m, "<108>1 ", 7), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(m, " - zonewalld 1 commit-refused "));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "isSynced=\"0\"]"));
	CU_ASSERT_PTR_NULL(strstr(m, "syncAccuracy"));
	free(m);
	free(c2);
	free(c);
	json_decref(o);
}

static void test_sd_escape(void)
{
	char buf[64];

	CU_ASSERT_EQUAL(zw_syslog__sd_escape(buf, sizeof(buf), "a\"b\\c]d"), 10);
	CU_ASSERT_STRING_EQUAL(buf, "a\\\"b\\\\c\\]d");
	zw_syslog__sd_escape(buf, 4, "abcdef");
	CU_ASSERT_EQUAL(strlen(buf), 2);
}

static void test_proto_roundtrip(void)
{
	int sv[2];
	json_t *req = json_pack("{s:s, s:s}", "op", "commit", "reason", "é ok");
	json_t *got = NULL;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL(zw_proto__send(sv[0], req), 0);
	CU_ASSERT_EQUAL(zw_proto__recv(sv[1], &got, 0), 0);
	CU_ASSERT_TRUE(json_equal(req, got));
	json_decref(got);
	/* Clean end of stream before a frame. */
	shutdown(sv[0], SHUT_WR);
	CU_ASSERT_EQUAL(zw_proto__recv(sv[1], &got, 0), -ENODATA);
	close(sv[0]);
	close(sv[1]);
	json_decref(req);
}

static void test_proto_bad_frames(void)
{
	int sv[2];
	json_t *got = NULL;
	static const unsigned char big[4] = {0x7f, 0xff, 0xff, 0xff};
	static const unsigned char trunc[] = {0, 0, 0, 10, '{', '}'};
	static const unsigned char notobj[] = {0, 0, 0, 3, '[', '1', ']'};
	static const unsigned char dup[] = {0, 0, 0, 13, '{', '"', 'a', '"',
					    ':', '1', ',', '"', 'a', '"',
					    ':', '2', '}'};

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CU_ASSERT_EQUAL(write(sv[0], big, 4), 4);
	CU_ASSERT_EQUAL(zw_proto__recv(sv[1], &got, 0), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CU_ASSERT_EQUAL(write(sv[0], trunc, sizeof(trunc)), (ssize_t)sizeof(trunc));
	shutdown(sv[0], SHUT_WR);
	CU_ASSERT_EQUAL(zw_proto__recv(sv[1], &got, 0), -EPROTO);
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CU_ASSERT_EQUAL(write(sv[0], notobj, sizeof(notobj)), (ssize_t)sizeof(notobj));
	CU_ASSERT_EQUAL(zw_proto__recv(sv[1], &got, 0), -EBADMSG);
	CU_ASSERT_EQUAL(write(sv[0], dup, sizeof(dup)), (ssize_t)sizeof(dup));
	CU_ASSERT_EQUAL(zw_proto__recv(sv[1], &got, 0), -EBADMSG);
	close(sv[0]);
	close(sv[1]);

	/* An error response carries the exit status and one line. */
	json_t *e = zw_proto__error(3, "backend %s failed", "nft");
	CU_ASSERT_TRUE(json_is_false(json_object_get(e, "ok")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "status")), 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "error")),
			       "backend nft failed");
	json_decref(e);
}

static void test_proto_call_unreachable(void)
{
	char err[512];
	json_t *resp = NULL, *req = json_pack("{s:s}", "op", "status");

	CU_ASSERT_EQUAL(zw_proto__call("/nonexistent/zw.sock", req, &resp, err,
				       sizeof(err)),
			-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot reach zonewalld"));
	json_decref(req);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("syslog+proto", NULL, NULL);
	CU_add_test(s, "RFC 5424 fields and octet counting", test_format_fields);
	CU_add_test(s, "unsynced clock, refused commit", test_format_unsynced_and_refused);
	CU_add_test(s, "SD value escaping", test_sd_escape);
	CU_add_test(s, "protocol round trip", test_proto_roundtrip);
	CU_add_test(s, "protocol bad frames", test_proto_bad_frames);
	CU_add_test(s, "protocol: daemon unreachable", test_proto_call_unreachable);
	return zwt_run();
}
