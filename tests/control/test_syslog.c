/* SPDX-License-Identifier: BSD-2-Clause */
/* Syslog forwarding: RFC 5424 fields, SD escaping, RFC 6587 octet
 * counting; the forwarder against small TCP servers (a server that drops
 * every connection, one that never reads, an entry that is not JSON); the
 * control protocol's framing. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

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

/* ---- the forwarder against test servers ---- */

enum srv_mode {
	SRV_DROP,	/* accept and close at once */
	SRV_STALL,	/* accept and never read */
	SRV_COLLECT,	/* read everything */
};

struct srv {
	int lfd;
	enum srv_mode mode;
	pthread_t th;
	int accepted;
	int held[64];
	int n_held;
	pthread_mutex_t mu;
	char *got;
	size_t got_len;
};

static void *srv_main(void *arg)
{
	struct srv *sv = arg;

	for (;;) {
		int fd = accept(sv->lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&sv->mu);
		sv->accepted++;
		pthread_mutex_unlock(&sv->mu);
		if (sv->mode == SRV_DROP) {
			close(fd);
		} else if (sv->mode == SRV_STALL) {
			if (sv->n_held < 64)
				sv->held[sv->n_held++] = fd;
			else
				close(fd);
		} else {
			char buf[65536];
			ssize_t n;
			struct timeval tv = {.tv_usec = 200000};

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			for (;;) {
				n = read(fd, buf, sizeof(buf));
				if (n < 0 && errno == EAGAIN) {
					int stop;

					pthread_mutex_lock(&sv->mu);
					stop = sv->lfd < 0;
					pthread_mutex_unlock(&sv->mu);
					if (stop)
						break;
					continue;
				}
				if (n <= 0)
					break;
				pthread_mutex_lock(&sv->mu);
				sv->got = realloc(sv->got, sv->got_len + (size_t)n + 1);
				memcpy(sv->got + sv->got_len, buf, (size_t)n);
				sv->got_len += (size_t)n;
				sv->got[sv->got_len] = '\0';
				pthread_mutex_unlock(&sv->mu);
			}
			close(fd);
		}
	}
}

/* Listen on 127.0.0.1 (an ephemeral port, written to @port). */
static void srv_start(struct srv *sv, enum srv_mode mode, char port[8])
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int small = 4096;

	memset(sv, 0, sizeof(*sv));
	pthread_mutex_init(&sv->mu, NULL);
	sv->mode = mode;
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(sv->lfd >= 0);
	if (mode == SRV_STALL)
		setsockopt(sv->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	CU_ASSERT_EQUAL_FATAL(bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	CU_ASSERT_EQUAL_FATAL(listen(sv->lfd, 16), 0);
	getsockname(sv->lfd, (struct sockaddr *)&a, &al);
	snprintf(port, 8, "%u", ntohs(a.sin_port));
	CU_ASSERT_EQUAL_FATAL(pthread_create(&sv->th, NULL, srv_main, sv), 0);
}

static void srv_stop(struct srv *sv)
{
	int lfd = sv->lfd;

	pthread_mutex_lock(&sv->mu);
	sv->lfd = -1;
	pthread_mutex_unlock(&sv->mu);
	shutdown(lfd, SHUT_RDWR);
	close(lfd);
	pthread_join(sv->th, NULL);
	for (int i = 0; i < sv->n_held; i++)
		close(sv->held[i]);
	free(sv->got);
	pthread_mutex_destroy(&sv->mu);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* A journal of @n entries (with a long detail each) in a fresh directory. */
static void journal_of(char *db, size_t len, int n)
{
	char dir[256], err[256], detail[2048];
	struct zw_journal *j;

	zwt_tmpdir(dir, sizeof(dir), "fwd");
	snprintf(db, len, "%s/zonewall.db", dir);
	j = zw_journal__open(db, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	CU_ASSERT_EQUAL(zw_journal__begin(j), 0);
	for (int i = 0; i < n; i++) {
		struct zw_journal_entry e = {.action = ZW_JA_COMMIT,
					     .user = "alice",
					     .reason = "r",
					     .detail = detail};

		CU_ASSERT_EQUAL_FATAL(zw_journal__append(j, &e, NULL), 0);
	}
	CU_ASSERT_EQUAL(zw_journal__commit(j), 0);
	zw_journal__free(j);
}

static struct zw_fwd *fwd_to(const char *db, const char *port)
{
	struct zw_fwd_opts o = {.db_path = db, .host = "127.0.0.1",
				.port = port};
	char err[256];
	struct zw_fwd *f = zw_fwd__start(&o, err, sizeof(err));

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	return f;
}

/* A server that accepts and drops every connection: the forwarder backs
 * off between attempts instead of reconnecting in a tight loop. */
static void test_fwd_backoff_when_dropped(void)
{
	char db[300], port[8];
	struct srv sv;
	struct zw_fwd *f;
	int n;

	journal_of(db, sizeof(db), 3);
	srv_start(&sv, SRV_DROP, port);
	f = fwd_to(db, port);
	sleep_ms(1500);
	zw_fwd__stop(f);
	pthread_mutex_lock(&sv.mu);
	n = sv.accepted;
	pthread_mutex_unlock(&sv.mu);
	if (n > 6)
		fprintf(stderr, "%d connections in 1.5 s\n", n);
	CU_ASSERT(n >= 1 && n <= 6);
	srv_stop(&sv);
}

/* A server that stops reading: stopping the forwarder (daemon SIGTERM)
 * does not wait for the send and acknowledgement timeouts. */
static void test_fwd_stops_promptly_when_stalled(void)
{
	char db[300], port[8];
	struct srv sv;
	struct zw_fwd *f;
	int64_t t0;

	journal_of(db, sizeof(db), 600);
	srv_start(&sv, SRV_STALL, port);
	f = fwd_to(db, port);
	sleep_ms(1000);
	t0 = mono_ms();
	zw_fwd__stop(f);
	if (mono_ms() - t0 >= 3000)
		fprintf(stderr, "stop took %lld ms\n", (long long)(mono_ms() - t0));
	CU_ASSERT(mono_ms() - t0 < 3000);
	srv_stop(&sv);
}

/* An entry whose content is not JSON (corrupted or tampered with) is
 * forwarded as it is, flagged, and does not hold back those after it. */
static void test_fwd_unparsable_entry(void)
{
	char db[300], port[8];
	struct srv sv;
	struct zw_fwd *f;
	sqlite3 *h;
	bool got3 = false;

	journal_of(db, sizeof(db), 3);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "DROP TRIGGER journal_no_update;"
					"UPDATE journal SET content='not json'"
					" WHERE seq=2",
				     NULL, NULL, NULL),
			SQLITE_OK);
	sqlite3_close(h);
	srv_start(&sv, SRV_COLLECT, port);
	f = fwd_to(db, port);
	for (int i = 0; i < 40 && !got3; i++) {
		sleep_ms(50);
		pthread_mutex_lock(&sv.mu);
		got3 = sv.got && strstr(sv.got, "seq=\"3\"");
		pthread_mutex_unlock(&sv.mu);
	}
	zw_fwd__stop(f);
	pthread_mutex_lock(&sv.mu);
	CU_ASSERT_TRUE(got3);
	CU_ASSERT_PTR_NOT_NULL(sv.got && strstr(sv.got, "seq=\"1\""));
	CU_ASSERT_PTR_NOT_NULL(sv.got && strstr(sv.got, "seq=\"2\""));
	CU_ASSERT_PTR_NOT_NULL(sv.got && strstr(sv.got, "\xEF\xBB\xBFnot json"));
	pthread_mutex_unlock(&sv.mu);
	srv_stop(&sv);
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
	CU_add_test(s, "forwarder: backs off when dropped", test_fwd_backoff_when_dropped);
	CU_add_test(s, "forwarder: stops promptly when stalled", test_fwd_stops_promptly_when_stalled);
	CU_add_test(s, "forwarder: unparsable entry", test_fwd_unparsable_entry);
	return zwt_run();
}
