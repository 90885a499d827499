// SPDX-License-Identifier: BSD-2-Clause
/*
 * l7-bench: inspector throughput, connections judged per second, beside a
 * baseline from the same run: the same connections with no inspection
 * (the evaluator's lookup of the connection's flow and service, which
 * zw-inspect does for every new connection). Each judged connection is
 * what zw-inspect does per connection in user space: find its protocol,
 * open the streams, feed the first packet of each direction, free.
 * The NFQUEUE round trips are not in it (docs/l7.md).
 * Usage: build/perf/l7-bench [CONNECTIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zonewall/eval.h>
#include <zonewall/l7.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

static const char yaml[] =
	"zonewall: 1\nname: bench\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/16], isolate: true}\n"
	"  srv: {kind: servers, networks: [10.2.0.0/16]}\n"
	"flows:\n"
	"  - {id: B-1, from: ops, to: srv, services: [ssh, https, http], "
	"compensating: bench, justification: bench}\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct kind {
	const char *name;
	int port;
	const char *c2s, *s2c;
	size_t c2s_len, s2c_len;
	uint32_t ftypes;
};

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	struct zw_diags dg;
	struct zw_matrix *m;
	struct zw_compile_opts o = {0};
	struct zw_fileblock fb = {ZW_FT_EXECUTABLE, NULL, NULL};
	uint8_t *bytes;
	size_t len;
	char err[256];
	struct zw_image *img;
	struct zw_l7_db *db;
	static const char tls_c[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
				    "0123456789abcdef0123456789abcdef";
	static const char tls_s[] = "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"
				    "0123456789abcdef0123456789abcdef";
	static const char http_s[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	const struct kind kinds[] = {
		{"ssh", 22, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
		 "SSH-2.0-OpenSSH_9.2p1\r\n", 40, 23, 0},
		{"tls", 443, tls_c, tls_s, sizeof(tls_c) - 1, sizeof(tls_s) - 1, 0},
		{"http+block-file", 80, "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
		 http_s, 37, sizeof(http_s) - 1, ZW_FT_EXECUTABLE},
	};

	zw_diags__init(&dg, "bench.yaml");
	m = zw_matrix__parse(yaml, strlen(yaml), "bench.yaml", &dg);
	if (!m || dg.n_errors) {
		zw_diags__print_text(&dg, stderr);
		return 1;
	}
	o.fileblock = &fb;
	o.n_fileblock = 1;
	if (zw_policy__compile_opts(m, &o, &bytes, &len) ||
	    !(img = zw_image__open(bytes, len, err, sizeof(err)))) {
		fprintf(stderr, "compile: %s\n", err);
		return 1;
	}
	db = zw_l7_db__new(err, sizeof(err));
	if (!db) {
		fprintf(stderr, "l7-bench: %s\n", err);
		return 1;
	}
	printf("%-18s %14s %14s %10s\n", "connections", "baseline c/s",
	       "judged c/s", "judged");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct kind *x = &kinds[k];
		struct zw_query q;
		struct zw_verdict v;
		double t0, base, insp;
		long ok = 0;
		char ps[8];

		snprintf(ps, sizeof(ps), "%d", x->port);
		zw_query__parse(&q, "10.1.0.1", "10.2.0.1", "tcp", ps, err, sizeof(err));
		t0 = now_s();
		for (long i = 0; i < n; i++) {
			q.src[3] = (uint8_t)i;
			zw_eval__image(img, &q, &v);
			ok += v.allow;
		}
		base = now_s() - t0;
		ok = 0;
		t0 = now_s();
		for (long i = 0; i < n; i++) {
			struct zw_l7_conn *c;

			q.src[3] = (uint8_t)i;
			zw_eval__image(img, &q, &v);
			c = zw_l7_conn__new(db, zw_l7__service_proto(img, v.service),
					    6, x->ftypes);
			zw_l7_conn__feed(c, ZW_L7_C2S, x->c2s, x->c2s_len);
			ok += zw_l7_conn__feed(c, ZW_L7_S2C, x->s2c, x->s2c_len) ==
			      ZW_L7_PASS;
			zw_l7_conn__free(c);
		}
		insp = now_s() - t0;
		printf("%-18s %14.0f %14.0f %9.1f%%\n", x->name, (double)n / base,
		       (double)n / insp, 100.0 * (double)ok / (double)n);
	}
	zw_l7_db__free(db);
	zw_image__free(img);
	free(bytes);
	zw_matrix__free(m);
	zw_diags__fini(&dg);
	return 0;
}
