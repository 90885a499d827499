/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine against the oracle, packet by packet, through
 * BPF_PROG_TEST_RUN: for every example matrix and for random matrices, the
 * shared corpus (tests/corpus) of two phases (the matrix, then a variant
 * with flows removed and a host blocked, applied between the phases) must
 * get, on 100 % of frames:
 *   - the expected action (XDP_PASS / XDP_DROP);
 *   - for drops, one drop record with the expected reason and the
 *     generation in force;
 *   - for new connections, one new-connection record with the flow the
 *     reference evaluator names (or none for same-zone traffic);
 *   - for other passing frames, no record;
 * and the engine's counters must agree with the corpus: drops by reason,
 * new connections per flow.
 *
 * Then the payload cases (payload_cases(), with L7 inspection built).
 *
 * Environment: ZW_BPF_RANDOM (random matrices, default 6), ZW_BPF_SEED.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/flow_record.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "corpus.h"
#include "gen.h"
#include "harness.h"
#include "xdp.h"

static unsigned long total, mismatches;

static void report(const struct zw_cx_pkt *p, size_t i, const struct zwt_result *r,
		   const char *what)
{
	mismatches++;
	if (mismatches > 25)
		return;
	fprintf(stderr,
		"  MISMATCH #%zu (%s) phase %u: %s\n"
		"    expected %s reason %u new %u flow %d; got action %d, %d record(s)"
		" [event %u reason %u flow %d gen %u]\n",
		i, p->label, p->phase, what, p->pass ? "pass" : "drop", p->reason,
		p->is_new, p->flow == ZW_NO_FLOW ? -1 : (int)p->flow, r->action,
		r->n_records, r->rec.event, r->rec.reason,
		r->rec.flow == ZW_NO_FLOW ? -1 : (int)r->rec.flow, r->rec.generation);
}

static int run_matrix(const char *name, struct zw_image *a, struct zw_image *b,
		      uint64_t seed)
{
	int32_t day = zw_date__today();
	struct zw_corpus *c = zw_corpus__new(day);
	unsigned long before = mismatches;
	uint64_t want_drops[ZW_DROP__COUNT] = {0}, stats[ZW_XDP_N_STATS];
	uint64_t *want_new = calloc(a->n_flows + 1, sizeof(*want_new));
	struct zw_flow_counters *cnt = calloc(a->n_flows + 1, sizeof(*cnt));
	struct zw_xdp *x;
	char dir[256], err[512];
	uint32_t phase = 0, gen;
	size_t n;

	if (!c || !want_new || !cnt || zw_corpus__add_phase(c, a, seed, 3000) ||
	    zw_corpus__add_phase(c, b, seed + 1, 3000)) {
		fprintf(stderr, "%s: cannot build the corpus\n", name);
		exit(1);
	}
	x = zwt_instance_new(dir, sizeof(dir));
	if (zw_xdp__apply(x, a, day, err, sizeof(err))) {
		fprintf(stderr, "%s: apply: %s\n", name, err);
		exit(1);
	}
	gen = 1;
	n = zw_corpus__count(c);
	for (size_t i = 0; i < n; i++) {
		const struct zw_cx_pkt *p = zw_corpus__pkt(c, i);
		struct zwt_result r;

		if (p->phase != phase) {
			/* counters of phase 0 before the swap */
			if (zw_xdp__counters(x, cnt, a->n_flows)) {
				fprintf(stderr, "%s: counters\n", name);
				exit(1);
			}
			for (uint32_t f = 0; f < a->n_flows; f++)
				if (cnt[f].new_conns != want_new[f]) {
					mismatches++;
					fprintf(stderr, "  %s: flow %u counted %llu new "
						"connections, corpus says %llu\n", name, f,
						(unsigned long long)cnt[f].new_conns,
						(unsigned long long)want_new[f]);
				}
			if (zw_xdp__apply(x, b, day, err, sizeof(err))) {
				fprintf(stderr, "%s: apply: %s\n", name, err);
				exit(1);
			}
			phase = p->phase;
			gen++;
		}
		zwt_run(x, p->frame, p->len, &r);
		total++;
		if (!p->pass)
			want_drops[p->reason]++;
		if (p->is_new && p->phase == 0 && p->flow != ZW_NO_FLOW)
			want_new[p->flow]++;
		if (r.action != (p->pass ? XDP_PASS : XDP_DROP)) {
			report(p, i, &r, "action");
			continue;
		}
		if (!p->pass) {
			if (r.n_records != 1 || r.rec.event != ZW_EV_DROP ||
			    r.rec.reason != p->reason || r.rec.generation != gen)
				report(p, i, &r, "drop record");
		} else if (p->is_new) {
			if (r.n_records != 1 || r.rec.event != ZW_EV_NEW ||
			    r.rec.flow != p->flow || r.rec.generation != gen)
				report(p, i, &r, "new-connection record");
		} else if (r.n_records) {
			report(p, i, &r, "unexpected record");
		}
	}
	if (zw_xdp__stats(x, stats)) {
		fprintf(stderr, "%s: stats\n", name);
		exit(1);
	}
	for (int k = 1; k < ZW_DROP__COUNT; k++)
		if (stats[k] != want_drops[k]) {
			mismatches++;
			fprintf(stderr, "  %s: %llu drops counted with reason %d, corpus says %llu\n",
				name, (unsigned long long)stats[k], k,
				(unsigned long long)want_drops[k]);
		}
	{
		char *drift = zw_xdp__drift(x, b);

		if (drift) {
			mismatches++;
			fprintf(stderr, "  %s: drift after apply:\n%s", name, drift);
			free(drift);
		}
	}
	printf("%-40s %6zu frames (%u flows, %u zones): %s\n", name, n, a->n_flows,
	       a->n_zones, mismatches == before ? "all agree" : "MISMATCHES");
	zwt_instance_free(x);
	zw_corpus__free(c);
	free(want_new);
	free(cnt);
	return 0;
}

static void one(const char *name, struct zw_image *a, struct zw_matrix *m,
		uint64_t seed)
{
	struct zw_image *b;
	uint8_t *bytes;
	size_t len;
	char err[256];

	if (zw_corpus__variant(m, seed, &bytes, &len) ||
	    !(b = zw_image__open(bytes, len, err, sizeof(err)))) {
		fprintf(stderr, "%s: cannot build the variant\n", name);
		exit(1);
	}
	free(bytes);
	run_matrix(name, a, b, seed);
	zw_image__free(b);
}

#ifdef ZWT_L7
/*
 * Payload cases (docs/l7.md, "The XDP engine"): the engine is the XDP
 * program, then for the flows its L7 table sends to NFQUEUE, zw-inspect.
 * BPF_PROG_TEST_RUN runs only the first, so each connection is judged
 * here as the engine does: every frame through the program (it must pass
 * what L3/L4 allows, whatever the payload, and drop the rest with the
 * reference reason); the flow must be one the L7 table (built by the
 * nftables engine with opts.l7_only, as the XDP engine does) queues
 * exactly when the oracle looks at its payload; and the segments the
 * inspector keeps (stream order: a retransmission is not fed again, an
 * empty segment is no data packet, data sent before the handshake ends
 * is dropped and sent again) go through libzwl7. The result must be the
 * verdict and reason of zw_l7__eval(), given the same bytes. The
 * inspector's own packet handling is exercised with real traffic by
 * tests/bpf/netns_xdp_l7.sh.
 */
#include <zonewall/eval.h>
#include <zonewall/l7.h>

#include "pkt_build.h"
#include "zwnft.h"

static const char l7_yaml[] =
	"zonewall: 1\n"
	"name: xdp-l7-diff\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.73.1.0/24], isolate: true}\n"
	"  srv: {kind: servers, networks: [10.73.2.0/24]}\n"
	"  adm: {kind: admin, networks: [10.73.3.0/24]}\n"
	"  upd: {kind: update, networks: [10.73.4.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.73.5.0/24]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.73.6.0/24]}\n"
	"services:\n"
	"  ssh-lab: {proto: tcp, ports: [2222], inspect: ssh}\n"
	"  web: {proto: tcp, ports: [8080]}\n"
	"flows:\n"
	"  - id: L7-SSH\n"
	"    from: ops\n"
	"    to: srv\n"
	"    services: [ssh-lab]\n"
	"    justification: administration\n"
	"  - id: L7-WEB\n"
	"    from: ops\n"
	"    to: srv\n"
	"    services: [web]\n"
	"    justification: downloads\n";

enum { SYN = 0x02, PSH = 0x08, ACKF = 0x10 };

struct seg {
	int s2c;	   /* server to client */
	const char *data;  /* NULL: no payload */
	size_t len;
	bool retransmit;   /* the same bytes again */
	bool early;	   /* sent before the handshake ended (with the SYN) */
};

struct pcase {
	const char *label;
	const char *src, *dst;
	uint16_t port;
	bool crisis; /* block-file executable ops -> srv */
	struct seg segs[5];
};

#define D(s) s, sizeof(s) - 1
#define C2S(s) {0, D(s), false, false}
#define S2C(s) {1, D(s), false, false}
#define RETX(s) {0, D(s), true, false}
#define EARLY(s) {0, D(s), false, true}
#define EMPTY {0, "", 0, false, false}
#define HTTP_ELF "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\x7f" "ELF\x02\x01\x01\x00"

static const struct pcase pcases[] = {
	{"ssh: right protocol", "10.73.1.2", "10.73.2.2", 2222, false,
	 {C2S("SSH-2.0-OpenSSH_9.2\r\n"), S2C("SSH-2.0-srv\r\n")}},
	{"ssh: wrong protocol (http)", "10.73.1.2", "10.73.2.2", 2222, false,
	 {C2S("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}},
	{"ssh: split across packets", "10.73.1.2", "10.73.2.2", 2222, false,
	 {C2S("SSH-2."), C2S("0-client\r\n"), S2C("SSH-2.0-srv\r\n")}},
	{"ssh: wrong protocol split", "10.73.1.2", "10.73.2.2", 2222, false,
	 {C2S("GE"), C2S("T / HTTP/1.1\r\n\r\n")}},
	{"ssh: retransmitted", "10.73.1.2", "10.73.2.2", 2222, false,
	 {C2S("SSH-2.0-a\r\n"), RETX("SSH-2.0-a\r\n"),
	  S2C("SSH-2.0-b\r\n")}},
	{"ssh: empty first segment", "10.73.1.2", "10.73.2.2", 2222, false,
	 {EMPTY, C2S("SSH-2.0-a\r\n"), S2C("SSH-2.0-b\r\n")}},
	{"ssh: data before the handshake ends", "10.73.1.2", "10.73.2.2", 2222,
	 false,
	 {EARLY("GET / HTTP/1.1\r\n\r\n"),
	  C2S("SSH-2.0-a\r\n"), S2C("SSH-2.0-b\r\n")}},
	{"ssh: no flow back (L3/L4)", "10.73.2.2", "10.73.1.2", 2222, false,
	 {C2S("SSH-2.0-a\r\n")}},
	{"web: ELF, no crisis", "10.73.1.2", "10.73.2.2", 8080, false,
	 {C2S("GET /a HTTP/1.1\r\n\r\n"), S2C(HTTP_ELF)}},
	{"web: ELF under block-file", "10.73.1.2", "10.73.2.2", 8080, true,
	 {C2S("GET /a HTTP/1.1\r\n\r\n"), S2C(HTTP_ELF)}},
	{"web: text under block-file", "10.73.1.2", "10.73.2.2", 8080, true,
	 {C2S("GET /a HTTP/1.1\r\n\r\n"),
	  S2C("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")}},
	{"web: ELF split under block-file", "10.73.1.2", "10.73.2.2", 8080, true,
	 {C2S("GET /a HTTP/1.1\r\n\r\n"),
	  S2C("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\x7f" "E"),
	  S2C("LF\x02\x01\x01\x00")}},
};

static struct zw_image *l7_image(bool crisis)
{
	struct zw_fileblock fb = {ZW_FT_EXECUTABLE, "ops", "srv"};
	struct zw_compile_opts o = {.fileblock = crisis ? &fb : NULL,
				    .n_fileblock = crisis ? 1 : 0};
	struct zw_matrix *m;
	struct zw_image *tmp = zwt_image_of_text(l7_yaml, "xdp-l7-diff", &m);
	struct zw_image *img;
	uint8_t *bytes = NULL;
	size_t len = 0;
	char err[256];

	zw_image__free(tmp);
	if (zw_policy__compile_opts(m, &o, &bytes, &len) ||
	    !(img = zw_image__open(bytes, len, err, sizeof(err)))) {
		fprintf(stderr, "payload cases: cannot compile the lab\n");
		exit(1);
	}
	free(bytes);
	zw_matrix__free(m);
	return img;
}

/* The L7 table the XDP engine installs for @img queues flow @f. */
static bool l7_table_queues(const struct zw_image *img, int32_t day,
			    uint32_t f)
{
	struct zwnft_opts o;
	struct zwnft_ruleset *rs;
	bool q = false;

	zwnft_opts__init(&o);
	o.queue_set = true;
	o.queue = 7;
	o.l7_only = true;
	if (zwnft_ruleset__build_mode(img, day, &o, ZWNFT_BUILD_TEXT, &rs)) {
		fprintf(stderr, "payload cases: cannot build the L7 table\n");
		exit(1);
	}
	for (size_t i = 0; i < rs->n[ZWNFT_RULE]; i++)
		if (rs->v[ZWNFT_RULE][i].flow == f &&
		    strstr(rs->v[ZWNFT_RULE][i].text, "queue num 7"))
			q = true;
	zwnft_ruleset__free(rs);
	return q;
}

static int frame(const struct pcase *c, bool s2c, uint8_t flags,
		 const char *data, size_t len, uint8_t *buf, size_t cap,
		 size_t *out)
{
	struct zw_pb s;

	if (zw_pb__init(&s, s2c ? c->dst : c->src, s2c ? c->src : c->dst, 6,
			s2c ? c->port : 40000, s2c ? 40000 : c->port))
		return -1;
	s.tcp_flags = flags;
	s.payload = (uint16_t)len;
	*out = zw_pb__build(&s, buf, cap);
	if (!*out)
		return -1;
	/* the payload is the last @len bytes (the program does not check
	 * the TCP checksum) */
	memcpy(buf + *out - len, data, len);
	return 0;
}

static unsigned long payload_cases(struct zw_l7_db *db)
{
	int32_t day = zw_date__today();
	unsigned long bad = 0;

	for (size_t k = 0; k < sizeof(pcases) / sizeof(pcases[0]); k++) {
		const struct pcase *c = &pcases[k];
		struct zw_image *img = l7_image(c->crisis);
		char dir[256], err[512], c2s[2048], s2c[2048];
		size_t n_c2s = 0, n_s2c = 0, len;
		struct zw_xdp *x = zwt_instance_new(dir, sizeof(dir));
		struct zw_query q = {.family = ZW_AF_INET, .proto = 6,
				     .port = c->port, .day = day};
		struct zw_verdict v;
		struct zw_l7_result want;
		struct zw_l7_conn *conn = NULL;
		enum zw_l7_verdict lv = ZW_L7_PENDING;
		bool l4_allow, queued, allow, ok = true;
		uint8_t buf[ZW_PB_MAX];
		struct zwt_result r;
		unsigned reason = 0, syn_reason = 0;

		if (zw_xdp__apply(x, img, day, err, sizeof(err))) {
			fprintf(stderr, "payload cases: apply: %s\n", err);
			exit(1);
		}
		inet_pton(AF_INET, c->src, q.src);
		inet_pton(AF_INET, c->dst, q.dst);
		zw_eval__image(img, &q, &v);
		l4_allow = v.allow;
		queued = v.flow != ZW_NO_FLOW && l7_table_queues(img, day, v.flow);
		if (queued) {
			int p = v.reason == ZW_VERDICT_FLOW ?
					zw_l7__service_proto(img, v.service) : -1;
			uint32_t ft = zw_l7__blocked_types(img, v.src_zone,
							   v.dst_zone);

			conn = zw_l7_conn__new(db, p, 6, ft);
		}
		/* the handshake; an early segment rides on the SYN */
		const struct seg *early = NULL;

		for (int i = 0; i < 5; i++)
			if (c->segs[i].early)
				early = &c->segs[i];
		const struct {
			bool s2c;
			uint8_t flags;
			const char *d;
			size_t l;
		} hs[3] = {
			{false, SYN, early ? early->data : "", early ? early->len : 0},
			{true, SYN | ACKF, "", 0},
			{false, ACKF, "", 0},
		};
		for (int i = 0; i < 3 && ok; i++) {
			if (frame(c, hs[i].s2c, hs[i].flags, hs[i].d, hs[i].l, buf,
				  sizeof(buf), &len)) {
				fprintf(stderr, "payload cases: frame\n");
				exit(1);
			}
			zwt_run(x, buf, len, &r);
			total++;
			if (i == 0 && r.n_records)
				syn_reason = r.rec.reason;
			if (r.action != (l4_allow ? XDP_PASS : XDP_DROP)) {
				fprintf(stderr, "  MISMATCH %s: handshake frame %d: action %d\n",
					c->label, i, r.action);
				ok = false;
			}
		}
		for (int i = 0; i < 5 && ok && l4_allow; i++) {
			const struct seg *s = &c->segs[i];

			if (!s->data || s->early)
				continue;
			if (frame(c, s->s2c, PSH | ACKF, s->data, s->len, buf,
				  sizeof(buf), &len)) {
				fprintf(stderr, "payload cases: frame\n");
				exit(1);
			}
			zwt_run(x, buf, len, &r);
			total++;
			if (r.action != XDP_PASS) {
				fprintf(stderr, "  MISMATCH %s: segment %d dropped by XDP\n",
					c->label, i);
				ok = false;
			}
			if (s->retransmit)
				continue; /* not fed again */
			if (s->s2c && n_s2c + s->len <= sizeof(s2c)) {
				memcpy(s2c + n_s2c, s->data, s->len);
				n_s2c += s->len;
			} else if (!s->s2c && n_c2s + s->len <= sizeof(c2s)) {
				memcpy(c2s + n_c2s, s->data, s->len);
				n_c2s += s->len;
			}
			if (conn && s->len)
				lv = zw_l7_conn__feed(conn, s->s2c ? ZW_L7_S2C : ZW_L7_C2S,
						      s->data, s->len);
		}
		/* the engine's verdict */
		if (!l4_allow) {
			allow = false;
			reason = syn_reason; /* the program's, for the SYN */
		} else {
			allow = lv != ZW_L7_MISMATCH && lv != ZW_L7_FILE;
			reason = lv == ZW_L7_MISMATCH ? ZW_DROP_L7_MISMATCH :
				 lv == ZW_L7_FILE ? ZW_DROP_FILE_TYPE : 0;
		}
		if (zw_l7__eval(img, db, &q, c2s, n_c2s, s2c, n_s2c, &want)) {
			fprintf(stderr, "payload cases: zw_l7__eval failed\n");
			exit(1);
		}
		/* the oracle looks at the payload of the flow: it is queued */
		if (want.allow && (want.proto >= 0 || want.ftypes) && !queued) {
			fprintf(stderr, "  MISMATCH %s: the oracle inspects flow %u, "
				"the L7 table does not queue it\n", c->label, v.flow);
			ok = false;
		}
		if (allow != want.allow || (!allow && reason != want.reason)) {
			fprintf(stderr, "  MISMATCH %s: engine %s (reason %u), oracle %s "
				"(reason %u)\n", c->label, allow ? "allow" : "deny",
				reason, want.allow ? "allow" : "deny", want.reason);
			ok = false;
		}
		printf("%-40s %s %s%s\n", c->label, want.allow ? "allow" : "deny ",
		       queued ? "(queued) " : "", ok ? "agree" : "MISMATCH");
		bad += !ok;
		zw_l7_conn__free(conn);
		zwt_instance_free(x);
		zw_image__free(img);
	}
	return bad;
}
#endif

int main(void)
{
	const char *src = getenv("ZONEWALL_SRCDIR");
	const char *nr = getenv("ZW_BPF_RANDOM");
	const char *sd = getenv("ZW_BPF_SEED");
	int n_random = nr ? atoi(nr) : 6;
	uint64_t seed = sd ? strtoull(sd, NULL, 0) : 20261101;
	char path[4096];
	DIR *d;
	struct dirent *e;
	int examples = 0;

	zwt_require_bpf("bpf-diff");
	snprintf(path, sizeof(path), "%s/matrix/examples", src ? src : ".");
	d = opendir(path);
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct zw_matrix *m;
		struct zw_image *a;
		char file[4096 + 256];

		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		a = zwt_image_of_file(file, &m);
		one(e->d_name, a, m, seed);
		zw_image__free(a);
		zw_matrix__free(m);
		examples++;
	}
	if (d)
		closedir(d);
	if (!examples) {
		fprintf(stderr, "no example matrix in %s\n", path);
		return 1;
	}
	for (int i = 0; i < n_random; i++) {
		struct zw_gen_opts o = {
			.seed = seed + (uint64_t)i * 7919,
			.n_zones = 7 + (size_t)(i * 5) % 20,
			.n_flows = 10 + (size_t)(i * 37) % 120,
			.n_services = (size_t)i % 8,
			.ipv6 = i % 2 == 0,
			.narrowing = i % 3 != 2,
			.expiry = i % 2 == 1,
		};
		char *yaml = zw_gen__matrix(&o);
		char name[64];
		struct zw_matrix *m;
		struct zw_image *a;

		snprintf(name, sizeof(name), "random-%d (seed %llu)", i,
			 (unsigned long long)o.seed);
		a = zwt_image_of_text(yaml, name, &m);
		one(name, a, m, o.seed);
		zw_image__free(a);
		zw_matrix__free(m);
		free(yaml);
	}
#ifdef ZWT_L7
	{
		char err[256];
		struct zw_l7_db *db = zw_l7_db__new(err, sizeof(err));

		if (!db) {
			fprintf(stderr, "payload cases: %s\n", err);
			return 1;
		}
		mismatches += payload_cases(db);
		zw_l7_db__free(db);
	}
#else
	printf("payload cases: not built (no libzwl7 or nftables engine)\n");
#endif
	printf("bpf-diff: %lu frames, %lu mismatches\n", total, mismatches);
	return mismatches ? 1 : 0;
}
