// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests of the DPDK engine's parts that need no EAL: the image ->
 * LPM/ACL conversion (checked against the reference evaluator by emulating
 * longest-prefix and highest-priority match over the generated entries),
 * describe_flow, and the control protocol (client backend against a fake
 * zonewall-dpdk speaking the documented protocol).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <zonewall/backend.h>
#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "ctl_proto.h"
#include "rules.h"
#include "tmatrix.h"

extern const struct zw_backend_ops zw_backend_dpdk;

static bool covers(const uint8_t *a, unsigned len, const uint8_t *b)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full))
		return false;
	return !rest || ((a[full] ^ b[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

/* Longest match over the entries, as rte_lpm does. */
static uint32_t lpm_emul(const struct zw_lpm_entry *e, size_t n, uint8_t fam,
			 const uint8_t *addr)
{
	int best = -1;
	uint32_t nh = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (e[i].family == fam && (int)e[i].len > best &&
		    covers(e[i].addr, e[i].len, addr)) {
			best = e[i].len;
			nh = e[i].nh;
		}
	return nh;
}

/* Highest priority matching rule, as rte_acl does; returns its flow. */
static uint32_t acl_emul(const struct zw_acl_rule *r, size_t n,
			 const struct zw_query *q, uint32_t sz, uint32_t dz)
{
	uint32_t best = 0, flow = ZW_NO_FLOW;
	size_t i;

	for (i = 0; i < n; i++) {
		if (r[i].proto != q->proto || r[i].src_zone != sz ||
		    r[i].dst_zone != dz || q->port < r[i].lo ||
		    q->port > r[i].hi || !covers(r[i].src, r[i].src_len, q->src) ||
		    !covers(r[i].dst, r[i].dst_len, q->dst))
			continue;
		if (r[i].priority > best) {
			best = r[i].priority;
			flow = r[i].flow;
		}
	}
	return flow;
}

static void check_image(struct zw_image *img, uint64_t seed, int queries)
{
	struct zw_lpm_entry *lpm;
	struct zw_acl_rule *acl[2];
	size_t nl, na[2];
	int32_t day = zt_today();
	uint64_t s = seed;
	int i, agree = 0;

	CU_ASSERT_FATAL(zw_lpm_entries__build(img, &lpm, &nl) == 0);
	CU_ASSERT_FATAL(zw_acl_rules__build(img, day, 4, ZW_NO_FLOW, &acl[0], &na[0]) == 0);
	CU_ASSERT_FATAL(zw_acl_rules__build(img, day, 6, ZW_NO_FLOW, &acl[1], &na[1]) == 0);
	for (i = 0; i < queries; i++) {
		struct zw_query q;
		struct zw_verdict v;
		uint32_t nhs, nhd, sz, dz, flow;
		int allow, blocked;

		zt_query(img, &s, day, &q);
		zw_eval__image(img, &q, &v);
		nhs = lpm_emul(lpm, nl, q.family, q.src);
		nhd = lpm_emul(lpm, nl, q.family, q.dst);
		sz = nhs & ZW_NH_ZONE_MASK;
		dz = nhd & ZW_NH_ZONE_MASK;
		CU_ASSERT_EQUAL(sz, zw_image__zone_of(img, q.family, q.src));
		CU_ASSERT_EQUAL(dz, zw_image__zone_of(img, q.family, q.dst));
		blocked = !!((nhs | nhd) & ZW_NH_BLOCKED);
		CU_ASSERT_EQUAL(blocked, zw_image__blocked(img, q.family, q.src) ||
					 zw_image__blocked(img, q.family, q.dst));
		flow = blocked ? ZW_NO_FLOW :
			acl_emul(acl[q.family == 6], na[q.family == 6], &q, sz, dz);
		if (blocked)
			allow = 0;
		else if (flow != ZW_NO_FLOW)
			allow = 1;
		else
			allow = sz == dz && sz != 0 &&
				!(img->zones[sz].flags & ZW_IMG_ZONE_ISOLATE);
		if (allow == v.allow && (!allow || v.flow == flow))
			agree++;
		else
			fprintf(stderr, "seed %llu query %d: engine %s flow %d, "
					"oracle %s flow %d (reason %d)\n",
				(unsigned long long)seed, i, allow ? "allow" : "deny",
				(int)flow, v.allow ? "allow" : "deny", (int)v.flow,
				v.reason);
	}
	CU_ASSERT_EQUAL(agree, queries);
	free(lpm);
	free(acl[0]);
	free(acl[1]);
}

static void test_conversion_random(void)
{
	uint64_t seed;

	for (seed = 1; seed <= 12; seed++) {
		char *y = zt_matrix_yaml(seed, 8 + (unsigned)seed * 5);
		struct zw_image *img = zt_compile(y, zt_today(), NULL, 0);

		CU_ASSERT_PTR_NOT_NULL(img);
		if (img)
			check_image(img, seed, 3000);
		zw_image__free(img);
		free(y);
	}
}

static void test_conversion_block(void)
{
	struct zw_prefix b[4];
	char *y = zt_matrix_yaml(99, 40);
	struct zw_image *img;

	/* Inside a zone, around a zone, outside, IPv6. */
	CU_ASSERT_FATAL(zw_prefix__parse("10.2.3.0/24", &b[0]) == 0);
	CU_ASSERT_FATAL(zw_prefix__parse("10.0.0.0/8", &b[1]) == 0);
	CU_ASSERT_FATAL(zw_prefix__parse("203.0.113.64/26", &b[2]) == 0);
	CU_ASSERT_FATAL(zw_prefix__parse("fd00:4::/32", &b[3]) == 0);
	img = zt_compile(y, zt_today(), &b[0], 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL(img->n_block, 1);
	check_image(img, 7, 3000);
	zw_image__free(img);
	img = zt_compile(y, zt_today(), b, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	check_image(img, 8, 3000);
	zw_image__free(img);
	free(y);
}

static void test_examples(void)
{
	char path[1024];
	const char *src = getenv("ZONEWALL_SRCDIR");
	struct zw_image *img;

	snprintf(path, sizeof(path), "%s/matrix/examples/minimal.yaml",
		 src ? src : ".");
	img = zt_compile_file(path, zt_today());
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	check_image(img, 3, 5000);
	zw_image__free(img);
}

static void test_describe(void)
{
	char *y = zt_matrix_yaml(5, 20);
	struct zw_image *img = zt_compile(y, zt_today(), NULL, 0);
	struct zw_describer *ds;
	struct zw_acl_rule *all;
	size_t n_all;
	uint32_t f;
	int fam;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	/* The per-flow build (only the flow's pair) equals the full build
	 * filtered by flow. */
	for (fam = 4; fam <= 6; fam += 2) {
		CU_ASSERT_FATAL(zw_acl_rules__build(img, INT32_MIN, (uint8_t)fam,
						    ZW_NO_FLOW, &all, &n_all) == 0);
		for (f = 0; f < img->n_flows; f++) {
			struct zw_acl_rule *one;
			size_t n_one, i, k = 0;

			CU_ASSERT_FATAL(zw_acl_rules__build(img, INT32_MIN,
							    (uint8_t)fam, f, &one,
							    &n_one) == 0);
			for (i = 0; i < n_all; i++) {
				if (all[i].flow != f)
					continue;
				CU_ASSERT(k < n_one &&
					  !memcmp(&all[i], &one[k], sizeof(one[k])));
				k++;
			}
			CU_ASSERT_EQUAL(k, n_one);
			free(one);
		}
		free(all);
	}
	ds = zw_backend_dpdk.describer(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ds);
	for (f = 0; f < img->n_flows; f++) {
		char *t = zw_describer__describe(ds, f);
		struct zw_acl_rule *r;
		size_t n4, n6, lines = 0;
		const char *p;

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		CU_ASSERT_PTR_NOT_NULL(strstr(t, zw_image__str(img, img->flows[f].id)));
		zw_acl_rules__build(img, INT32_MIN, 4, f, &r, &n4);
		free(r);
		zw_acl_rules__build(img, INT32_MIN, 6, f, &r, &n6);
		free(r);
		for (p = t; (p = strstr(p, "\nacl")); p++)
			lines++;
		CU_ASSERT_EQUAL(lines, n4 + n6);
		free(t);
	}
	CU_ASSERT_PTR_NULL(zw_describer__describe(ds, img->n_flows));
	zw_describer__free(ds);
	zw_image__free(img);
	free(y);
}

static void test_proto_helpers(void)
{
	char line[] = "OK enforcing=1 sha256=ab n=3";
	char *w[8];
	uint8_t sha[32], back[32];
	char hex[65];
	int n, i, sv[2];
	char buf[16];

	n = zw_ctl__split(line, w, 8);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_STRING_EQUAL(zw_ctl__kv(w, n, "n"), "3");
	CU_ASSERT_STRING_EQUAL(zw_ctl__kv(w, n, "enforcing"), "1");
	CU_ASSERT_PTR_NULL(zw_ctl__kv(w, n, "sha"));
	for (i = 0; i < 32; i++)
		sha[i] = (uint8_t)(i * 37 + 1);
	zw_hex(sha, 32, hex);
	CU_ASSERT_EQUAL(strlen(hex), 64);
	CU_ASSERT_EQUAL(zw_unhex(hex, back, 32), 0);
	CU_ASSERT_EQUAL(memcmp(sha, back, 32), 0);
	CU_ASSERT_EQUAL(zw_unhex("zz", back, 32), -EINVAL);
	hex[3] = 'g';
	CU_ASSERT_EQUAL(zw_unhex(hex, back, 32), -EINVAL);

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_EQUAL(zw_ctl__printf(sv[0], "HELLO\r\nA-very-long-line\n"), 0);
	close(sv[0]);
	CU_ASSERT_EQUAL(zw_ctl__read_line(sv[1], buf, sizeof(buf)), 5);
	CU_ASSERT_STRING_EQUAL(buf, "HELLO");
	CU_ASSERT_EQUAL(zw_ctl__read_line(sv[1], buf, sizeof(buf)), -EMSGSIZE);
	{
		int r;

		while ((r = zw_ctl__read_line(sv[1], buf, sizeof(buf))) >= 0)
			;
		CU_ASSERT_EQUAL(r, -EPIPE);
	}
	close(sv[1]);
}

/* ---- a fake zonewall-dpdk: the documented protocol, canned state ---- */

struct fake {
	char path[108];
	int fd;
	uint8_t sha[32];
	int enforcing;
	int loads;
	int32_t last_day;
	size_t last_size;
	int proto;	    /* announced by HELLO */
	int staged;	    /* a PREPARE is held */
	uint8_t staged_sha[32];
	int32_t staged_day;
	int aborts;
	char prepare_opts[128]; /* PREPARE's words after DAY SIZE */
	int records;		/* RECORDS requests served */
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int c;

	while ((c = accept(f->fd, NULL, NULL)) >= 0) {
		char line[ZW_CTL_LINE_MAX], hex[65], *w[8];
		int n;

		while (zw_ctl__read_line(c, line, sizeof(line)) >= 0) {
			n = zw_ctl__split(line, w, 8);
			if (!n)
				continue;
			zw_hex(f->sha, 32, hex);
			if (!strcmp(w[0], "HELLO")) {
				zw_ctl__printf(c, "OK zonewall-dpdk proto=%d\n",
					       f->proto);
			} else if (!strcmp(w[0], "QUIT")) {
				close(c);
				return NULL;
			} else if (!strcmp(w[0], "STATUS")) {
				zw_ctl__printf(c, "OK enforcing=%d sha256=%s generation=%d\n",
					       f->enforcing, f->enforcing ? hex : "-",
					       f->loads + 1);
			} else if (!strcmp(w[0], "PREPARE") && n >= 3 &&
				   (n == 3 || f->proto >= 3)) {
				size_t sz = strtoul(w[2], NULL, 10);
				uint8_t *b = malloc(sz);
				struct zw_image *img;

				f->prepare_opts[0] = 0;
				for (int i = 3; i < n; i++) {
					strcat(f->prepare_opts, " ");
					strncat(f->prepare_opts, w[i], 40);
				}

				zw_ctl__read_full(c, b, sz);
				img = zw_image__open(b, sz, NULL, 0);
				free(b);
				if (!img) {
					zw_ctl__printf(c, "ERR %d bad image\n", EBADMSG);
					continue;
				}
				memcpy(f->staged_sha, img->sha256, 32);
				f->staged = 1;
				f->staged_day = (int32_t)strtol(w[1], NULL, 10);
				f->last_size = sz;
				zw_ctl__printf(c, "OK prepared sha256=%s\n",
					       img->sha256_hex);
				zw_image__free(img);
			} else if (!strcmp(w[0], "COMMIT") && n == 2) {
				char want[65];

				zw_hex(f->staged_sha, 32, want);
				if (!f->staged || strcmp(w[1], want)) {
					zw_ctl__printf(c, "ERR %d stale\n", ESTALE);
					continue;
				}
				f->staged = 0;
				memcpy(f->sha, f->staged_sha, 32);
				f->enforcing = 1;
				f->loads++;
				f->last_day = f->staged_day;
				zw_ctl__printf(c, "OK generation=%d sha256=%s\n",
					       f->loads + 1, want);
			} else if (!strcmp(w[0], "ABORT")) {
				f->staged = 0;
				f->aborts++;
				zw_ctl__printf(c, "OK\n");
			} else if (!strcmp(w[0], "UNLOAD")) {
				f->enforcing = 0;
				zw_ctl__printf(c, "OK enforcing=0\n");
			} else if (!strcmp(w[0], "RECORDS") && f->proto >= 3) {
				/* two records the first time, none after */
				struct zw_flow_record r[2];

				memset(r, 0, sizeof(r));
				r[0].event = ZW_EV_NEW;
				r[0].sport = 1001;
				r[1].event = ZW_EV_END;
				r[1].sport = 1001;
				r[1].packets = 9;
				r[1].rev_packets = 4;
				r[1].flags = ZW_REC_F_EXT;
				zw_ctl__printf(c, "OK n=%d size=%zu lost=0\n",
					       f->records ? 0 : 2, sizeof(r[0]));
				if (!f->records++)
					zw_ctl__write_full(c, r, sizeof(r));
			} else if (!strcmp(w[0], "COUNTERS")) {
				zw_ctl__printf(c, "OK sha256=%s n=2\n", hex);
				zw_ctl__printf(c, "0 F-0 10 1000 2 1\n");
				zw_ctl__printf(c, "1 F-1 20 2000 3 0\n");
			} else {
				zw_ctl__printf(c, "ERR %d unknown\n", EINVAL);
			}
		}
		close(c);
	}
	return NULL;
}

struct rec_got {
	struct zw_flow_record r[4];
	int n;
};

static int got_one(void *ctx, const struct zw_flow_record *r)
{
	struct rec_got *g = ctx;

	if (g->n < 4)
		g->r[g->n++] = *r;
	return 0;
}

static void test_client(void)
{
	struct fake f = { .enforcing = 0, .proto = ZW_CTL_PROTO_VERSION };
	struct zw_ticket *t = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct zw_backend *be = NULL;
	struct zw_backend_state st;
	struct zw_flow_counters c[3];
	char err[256] = "";
	char *y = zt_matrix_yaml(11, 10);
	struct zw_image *img = zt_compile(y, zt_today(), NULL, 0);
	pthread_t th;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	snprintf(f.path, sizeof(f.path), "/tmp/zwdpdk-unit-%d.sock", (int)getpid());
	strcpy(sa.sun_path, f.path);
	unlink(f.path);
	f.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(f.fd, 4) == 0);
	pthread_create(&th, NULL, fake_main, &f);

	CU_ASSERT(zw_backend_dpdk.open("", &be, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(zw_backend_dpdk.open("/nonexistent/zw.sock", &be, err,
				       sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot reach"));
	/* A server speaking another protocol version is refused at open. */
	f.proto = ZW_CTL_PROTO_VERSION + 1;
	CU_ASSERT_EQUAL(zw_backend_dpdk.open(f.path, &be, err, sizeof(err)),
			-EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "control protocol"));
	f.proto = ZW_CTL_PROTO_VERSION;
	CU_ASSERT_EQUAL_FATAL(zw_backend_dpdk.open(f.path, &be, err, sizeof(err)), 0);

	/* Nothing loaded: read_back says so, and reports drift. */
	CU_ASSERT_EQUAL(zw_backend_dpdk.read_back(be, img, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 0);
	CU_ASSERT_PTR_NOT_NULL(st.drift);
	zw_backend_state__fini(&st);

	/* Prepared then aborted: the engine built it, never switched. */
	CU_ASSERT_EQUAL_FATAL(zw_backend_dpdk.prepare(be, img, 20000, &t, err,
						      sizeof(err)), 0);
	CU_ASSERT_EQUAL(f.staged, 1);
	zw_backend_dpdk.abort(be, t);
	CU_ASSERT_EQUAL(f.staged, 0);
	CU_ASSERT_EQUAL(f.aborts, 1);
	CU_ASSERT_EQUAL(f.loads, 0);
	CU_ASSERT_EQUAL(f.enforcing, 0);

	CU_ASSERT_EQUAL(zw_backend__apply(be, img, 20000, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(f.loads, 1);
	CU_ASSERT_EQUAL(f.last_day, 20000);
	CU_ASSERT_EQUAL(f.last_size, img->size);
	CU_ASSERT_EQUAL(zw_backend_dpdk.read_back(be, img, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 1);
	CU_ASSERT_EQUAL(memcmp(st.sha256, img->sha256, 32), 0);
	CU_ASSERT_PTR_NULL(st.drift);
	CU_ASSERT_PTR_NOT_NULL(strstr(st.detail, "generation=2"));
	CU_ASSERT(st.rules_known);
	zw_backend_state__fini(&st);

	/* Drift: the engine enforces something else. */
	f.sha[0] ^= 1;
	CU_ASSERT_EQUAL(zw_backend_dpdk.read_back(be, img, &st), 0);
	CU_ASSERT_PTR_NOT_NULL(st.drift);
	if (st.drift)
		CU_ASSERT_PTR_NOT_NULL(strstr(st.drift, img->sha256_hex));
	zw_backend_state__fini(&st);

	memset(c, 0xff, sizeof(c));
	CU_ASSERT_EQUAL(zw_backend_dpdk.counters(be, c, 3), 0);
	CU_ASSERT_EQUAL(c[0].packets, 10);
	CU_ASSERT_EQUAL(c[0].bytes, 1000);
	CU_ASSERT_EQUAL(c[0].new_conns, 2);
	CU_ASSERT_EQUAL(c[0].drops, 1);
	CU_ASSERT_EQUAL(c[1].packets, 20);
	CU_ASSERT_EQUAL(c[2].packets, 0); /* not reported: zero */

	/* Protocol 3: PREPARE carries the record settings set after open,
	 * and records() hands RECORDS' binary batch. */
	be->rec.log_all = true;
	be->rec.active_timeout_s = 42;
	CU_ASSERT_EQUAL(zw_backend__apply(be, img, 20000, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(f.prepare_opts, " log_all=1 active_timeout=42");
	{
		struct rec_got g = { 0 };

		CU_ASSERT_EQUAL(zw_backend_dpdk.records(be, got_one, &g, 100), 2);
		CU_ASSERT_EQUAL(g.n, 2);
		CU_ASSERT_EQUAL(g.r[0].event, ZW_EV_NEW);
		CU_ASSERT_EQUAL(g.r[1].event, ZW_EV_END);
		CU_ASSERT_EQUAL(g.r[1].packets, 9);
		CU_ASSERT_EQUAL(g.r[1].rev_packets, 4);
		CU_ASSERT_EQUAL(zw_backend_dpdk.records(be, got_one, &g, 100), 0);
	}

	/* destroy() unloads: the engine is left enforcing nothing. */
	CU_ASSERT_EQUAL(zw_backend_dpdk.destroy(be, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(f.enforcing, 0);
	CU_ASSERT_EQUAL(zw_backend_dpdk.read_back(be, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 0);
	/* An error comes back with its errno and reason. */
	CU_ASSERT_EQUAL(zw_backend__apply(be, &(struct zw_image){
		.bytes = (const uint8_t *)"junk", .size = 4 }, 1, err,
		sizeof(err)), -EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad image"));
	zw_backend_dpdk.close(be);
	zw_backend_dpdk.close(NULL);

	/* A protocol-2 engine is still driven: PREPARE without the record
	 * settings, and records() says it has none to give (an error the
	 * daemon counts and shows, not a silent 0). */
	f.proto = 2;
	CU_ASSERT_EQUAL_FATAL(zw_backend_dpdk.open(f.path, &be, err, sizeof(err)), 0);
	be->rec.log_all = true;
	CU_ASSERT_EQUAL(zw_backend__apply(be, img, 20000, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(f.prepare_opts, "");
	{
		struct rec_got g = { 0 };

		CU_ASSERT_EQUAL(zw_backend_dpdk.records(be, got_one, &g, 100),
				-EPROTONOSUPPORT);
	}
	zw_backend_dpdk.close(be);

	fd = zw_ctl__connect(f.path, 1000);
	zw_ctl__printf(fd, "QUIT\n");
	close(fd);
	pthread_join(th, NULL);
	close(f.fd);
	unlink(f.path);
	zw_image__free(img);
	free(y);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("dpdk_unit", NULL, NULL);
	CU_add_test(s, "image -> LPM/ACL agrees with the oracle (random)",
		    test_conversion_random);
	CU_add_test(s, "crisis block list folded into the LPM", test_conversion_block);
	CU_add_test(s, "example matrices", test_examples);
	CU_add_test(s, "describe_flow lists every rule", test_describe);
	CU_add_test(s, "control protocol helpers", test_proto_helpers);
	CU_add_test(s, "backend client against the protocol", test_client);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
