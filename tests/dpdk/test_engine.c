// SPDX-License-Identifier: BSD-2-Clause
/*
 * The DPDK engine in-process, on net_ring ports: the real worker loop on
 * its own lcore, packets injected into port A's rx ring and collected from
 * port B's tx ring (and back), policy swaps through the real RCU path.
 * Checks stateful sequences (handshake, replies, unsolicited packets, ICMP
 * errors, fragments), flow removal cutting a live connection mid-stream,
 * a swap under load where no burst is judged by a mix of policies, and
 * the table-full early drop. Expected verdicts of opening packets come
 * from the reference evaluator.
 *
 * Needs EAL with --no-huge and two lcores; exits 77 when it cannot have
 * them (SKIP-HARDWARE when the machine has a single CPU: scripts/test.sh).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_thash.h>
#include <rte_ring_elem.h>

#include <zonewall/backend.h>
#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "corpus.h"
#include "ctl_proto.h"
#include "gen.h"
#include "tmatrix.h"
#include "zw_conn.h"
#ifdef ZW_HAVE_L7
#include <zonewall/l7.h>
#endif
#include "zwdpdk.h"

static struct rte_mempool *pool;
static struct rte_ring *rx_a, *tx_a, *rx_b, *tx_b;
/* a third port, a mirror port (--mirror-port ALIAS=ztmN, or without
 * an alias when it is ""), when mirror_alias is set before engine_start */
static struct rte_ring *rx_m, *tx_m;
static const char *mirror_alias;
static char *yaml;
static struct zw_image *full; /* minimal.yaml, every flow */
static int32_t day;
static int run_id;

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

/* Start the engine on fresh ring ports with @img (copied). */
static int engine_start(const struct zw_image *img, uint32_t conns)
{
	struct zw_engine_cfg cfg = { .conns = conns, .rxd = 256, .txd = 256,
				     .mbufs = 4096, .day = day };
	struct zw_image *copy = zw_image__open(img->bytes, img->size, NULL, 0);
	char name[32], err[256];
	int a, b, i;

	run_id++;
	snprintf(name, sizeof(name), "rxa%d", run_id);
	rx_a = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "txa%d", run_id);
	tx_a = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "rxb%d", run_id);
	rx_b = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "txb%d", run_id);
	tx_b = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "zta%d", run_id);
	a = rte_eth_from_rings(name, &rx_a, 1, &tx_a, 1, 0);
	snprintf(name, sizeof(name), "ztb%d", run_id);
	b = rte_eth_from_rings(name, &rx_b, 1, &tx_b, 1, 0);
	if (a < 0 || b < 0 || !copy)
		return -1;
	for (i = 0; i < ZW_MAX_PORTS; i++)
		zw_eng.peer[i] = UINT16_MAX;
	zw_eng.n_ports = 2;
	zw_eng.ports[0] = (uint16_t)a;
	zw_eng.ports[1] = (uint16_t)b;
	zw_eng.peer[a] = (uint16_t)b;
	zw_eng.peer[b] = (uint16_t)a;
	zw_eng.n_mirrors = 0;
	if (mirror_alias) {
		int m;

		snprintf(name, sizeof(name), "rxm%d", run_id);
		rx_m = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "txm%d", run_id);
		tx_m = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "ztm%d", run_id);
		m = rte_eth_from_rings(name, &rx_m, 1, &tx_m, 1, 0);
		if (m < 0)
			return -1;
		zw_eng.ports[zw_eng.n_ports++] = (uint16_t)m;
		zw_eng.mirrors[0].port = (uint16_t)m;
		snprintf(zw_eng.mirrors[0].alias, sizeof(zw_eng.mirrors[0].alias),
			 "%s", mirror_alias);
		zw_eng.n_mirrors = 1;
	}
	if (zw_engine__init(&cfg, copy, err, sizeof(err))) {
		fprintf(stderr, "engine init: %s\n", err);
		zw_image__free(copy);
		return -1;
	}
	zw_engine__launch();
	return 0;
}

static void engine_end(void)
{
	zw_engine__stop();
	zw_engine__fini();
	rte_ring_free(rx_a);
	rte_ring_free(tx_a);
	rte_ring_free(rx_b);
	rte_ring_free(tx_b);
	rte_ring_free(rx_m);
	rte_ring_free(tx_m);
	rx_m = tx_m = NULL;
}

static uint64_t rx_total(void)
{
	return __atomic_load_n(&zw_eng.workers[0]->st.done, __ATOMIC_ACQUIRE);
}

static uint64_t drops(int reason)
{
	return zw_eng.workers[0]->st.drops[reason];
}

/* Wait (at most 5 s) for the worker to have received @n packets in all
 * and for its output to settle. */
static void wait_rx(uint64_t n)
{
	uint64_t end = rte_get_timer_cycles() + 5 * rte_get_timer_hz();

	while (rx_total() < n && rte_get_timer_cycles() < end)
		rte_pause();
}

static struct rte_mbuf *mk(const uint8_t *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *d;

	if (!m)
		return NULL;
	d = rte_pktmbuf_append(m, (uint16_t)len);
	memcpy(d, frame, len);
	return m;
}

/* Send frames into port A (@side 0) or B (1); returns how many of them
 * left by the other port (tags matched in order into @passed[]). */
static int xfer(int side, uint8_t (*frames)[256], const size_t *lens, int n,
		int *passed)
{
	struct rte_ring *in = side ? rx_b : rx_a, *out = side ? tx_a : tx_b;
	uint64_t before = rx_total();
	struct rte_mbuf *m;
	int i, got = 0;

	for (i = 0; i < n; i++) {
		passed[i] = 0;
		m = mk(frames[i], lens[i]);
		CU_ASSERT_FATAL(m != NULL);
		CU_ASSERT_FATAL(rte_ring_sp_enqueue(in, m) == 0);
	}
	wait_rx(before + (uint64_t)n);
	while (rte_ring_sc_dequeue(out, (void **)&m) == 0) {
		uint32_t tag = zt_frame_tag(rte_pktmbuf_mtod(m, uint8_t *),
					    rte_pktmbuf_data_len(m));

		for (i = 0; i < n; i++)
			if ((uint32_t)i + 1000 * (uint32_t)run_id == tag - 1)
				passed[i] = 1;
		got++;
		rte_pktmbuf_free(m);
	}
	return got;
}

/* One packet; returns 1 if it passed. */
static int one(int side, const struct zt_pkt *p)
{
	uint8_t f[1][256];
	size_t len;
	int passed;
	struct zt_pkt q = *p;

	q.tag = 1000u * (uint32_t)run_id + 1;
	len = zt_frame(&q, f[0], sizeof(f[0]));
	xfer(side, f, &len, 1, &passed);
	return passed;
}

static void v4(uint8_t *a, const char *s)
{
	memset(a, 0, 16);
	inet_pton(AF_INET, s, a);
}

static struct zt_pkt tcp(const char *s, const char *d, uint16_t sp,
			 uint16_t dp, uint8_t flags)
{
	struct zt_pkt p = { .family = 4, .proto = 6, .sport = sp, .dport = dp,
			    .tcp_flags = flags };

	v4(p.src, s);
	v4(p.dst, d);
	return p;
}

static struct zt_pkt udp(const char *s, const char *d, uint16_t sp,
			 uint16_t dp)
{
	struct zt_pkt p = tcp(s, d, sp, dp, 0);

	p.proto = 17;
	return p;
}

static int oracle_allows(const struct zw_image *img, const struct zt_pkt *p)
{
	struct zw_query q = { .family = p->family, .proto = p->proto,
			      .port = p->dport, .day = day };
	struct zw_verdict v;

	memcpy(q.src, p->src, 16);
	memcpy(q.dst, p->dst, 16);
	zw_eval__image(img, &q, &v);
	return v.allow;
}

#define SYN 0x02
#define ACK 0x10
#define RST 0x04
#define FIN 0x01
#define OPS "10.1.0.5"
#define JUMP "10.2.0.7"
#define ADM "10.3.0.9"

static void test_stateful(void)
{
	struct zt_pkt syn = tcp(OPS, JUMP, 40000, 22, SYN);
	struct zt_pkt back = tcp(JUMP, OPS, 50000, 22, SYN);

	CU_ASSERT_FATAL(engine_start(full, 4096) == 0);
	/* The oracle agrees with what the sequence assumes. */
	CU_ASSERT_FATAL(oracle_allows(full, &syn));
	CU_ASSERT_FATAL(!oracle_allows(full, &back));

	CU_ASSERT(one(0, &syn));
	{
		struct zt_pkt sa = tcp(JUMP, OPS, 22, 40000, SYN | ACK);
		struct zt_pkt a = tcp(OPS, JUMP, 40000, 22, ACK);
		struct zt_pkt dr = tcp(JUMP, OPS, 22, 40000, ACK);

		CU_ASSERT(one(1, &sa));
		CU_ASSERT(one(0, &a));
		CU_ASSERT(one(1, &dr));
		CU_ASSERT(one(0, &a));
	}
	/* Unsolicited: an ACK and a SYN-ACK of no connection, a reverse SYN
	 * the policy denies. */
	{
		uint64_t ns = drops(ZW_DROP_NOT_SYN), nf = drops(ZW_DROP_NO_FLOW);
		struct zt_pkt u = tcp(OPS, JUMP, 40001, 22, ACK);
		struct zt_pkt usa = tcp(JUMP, OPS, 22, 40002, SYN | ACK);

		CU_ASSERT(!one(0, &u));
		CU_ASSERT(!one(1, &usa));
		CU_ASSERT(!one(1, &back));
		CU_ASSERT_EQUAL(drops(ZW_DROP_NOT_SYN), ns + 2);
		CU_ASSERT(drops(ZW_DROP_NO_FLOW) >= nf + 1);
	}
	/* RST closes; a new SYN on the same tuple reopens it. */
	{
		struct zt_pkt r = tcp(JUMP, OPS, 22, 40000, RST);
		struct zt_pkt a = tcp(OPS, JUMP, 40000, 22, ACK);

		CU_ASSERT(one(1, &r));
		CU_ASSERT(one(0, &syn));
		CU_ASSERT(one(0, &a));
	}
	/* UDP: a same-zone request and its reply; isolated zone denied. */
	{
		struct zt_pkt q = udp(JUMP, "10.2.0.8", 5000, 53);
		struct zt_pkt r = udp("10.2.0.8", JUMP, 53, 5000);
		struct zt_pkt iso = udp(OPS, "10.1.0.6", 5000, 53);

		CU_ASSERT_FATAL(oracle_allows(full, &q));
		CU_ASSERT_FATAL(!oracle_allows(full, &iso));
		CU_ASSERT(one(0, &q));
		CU_ASSERT(one(1, &r));
		CU_ASSERT(!one(0, &iso));
		CU_ASSERT(drops(ZW_DROP_ISOLATED) >= 1);
	}
	engine_end();
}

/* Raw IPv4 frames for ICMP errors and fragments. */
static size_t raw4(uint8_t *f, const char *s, const char *d, uint8_t proto,
		   uint16_t frag, uint16_t id, const uint8_t *l4, size_t l4len,
		   uint32_t tag)
{
	size_t tot = 20 + l4len + 6;

	memset(f, 0, 256);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8), f[17] = (uint8_t)tot;
	f[18] = (uint8_t)(id >> 8), f[19] = (uint8_t)id;
	f[20] = (uint8_t)(frag >> 8), f[21] = (uint8_t)frag;
	f[22] = 64, f[23] = proto;
	inet_pton(AF_INET, s, f + 26);
	inet_pton(AF_INET, d, f + 30);
	memcpy(f + 34, l4, l4len);
	f[34 + l4len] = 'Z', f[35 + l4len] = 'T';
	f[36 + l4len] = (uint8_t)(tag >> 24), f[37 + l4len] = (uint8_t)(tag >> 16);
	f[38 + l4len] = (uint8_t)(tag >> 8), f[39 + l4len] = (uint8_t)tag;
	return 14 + tot < 60 ? 60 : 14 + tot;
}

static int raw_one(int side, uint8_t *f, size_t len)
{
	uint8_t fr[1][256];
	int passed;

	memcpy(fr[0], f, 256);
	xfer(side, fr, &len, 1, &passed);
	return passed;
}

static void test_icmp_frag(void)
{
	uint32_t tag;
	uint8_t f[256], l4[64];
	size_t len;

	CU_ASSERT_FATAL(engine_start(full, 4096) == 0);
	tag = 1000u * (uint32_t)run_id + 1;
	{
		struct zt_pkt syn = tcp(OPS, JUMP, 41000, 22, SYN);

		CU_ASSERT(one(0, &syn));
	}
	/* ICMP port unreachable from the jump host back to the sender,
	 * quoting the SYN: related, passes. */
	memset(l4, 0, sizeof(l4));
	l4[0] = 3, l4[1] = 3;
	{
		uint8_t *q = l4 + 8;

		q[0] = 0x45, q[3] = 40, q[8] = 64, q[9] = 6;
		inet_pton(AF_INET, OPS, q + 12);
		inet_pton(AF_INET, JUMP, q + 16);
		q[20] = 41000 >> 8, q[21] = 41000 & 0xff, q[22] = 0, q[23] = 22;
	}
	len = raw4(f, JUMP, OPS, 1, 0, 1, l4, 36, tag);
	CU_ASSERT(raw_one(1, f, len));
	/* The same error about a connection that does not exist. */
	l4[8 + 21] ^= 1;
	len = raw4(f, JUMP, OPS, 1, 0, 2, l4, 36, tag);
	CU_ASSERT(!raw_one(1, f, len));
	/* ... and one going the wrong way (not to the quoted sender). */
	l4[8 + 21] ^= 1;
	len = raw4(f, OPS, JUMP, 1, 0, 3, l4, 36, tag);
	CU_ASSERT(!raw_one(0, f, len));
	CU_ASSERT_EQUAL(drops(ZW_DROP_UNRELATED_ICMP), 2);

	/* Fragments: the first (same-zone UDP, allowed) lets its later
	 * fragments pass; a later fragment of another datagram does not. */
	memset(l4, 0, sizeof(l4));
	l4[0] = 0x13, l4[1] = 0x88, l4[2] = 0, l4[3] = 53, l4[5] = 200;
	len = raw4(f, JUMP, "10.2.0.9", 17, 0x2000, 777, l4, 16, tag);
	CU_ASSERT(raw_one(0, f, len));
	len = raw4(f, JUMP, "10.2.0.9", 17, 0x2000 | 3, 777, l4, 16, tag);
	CU_ASSERT(raw_one(0, f, len));
	len = raw4(f, JUMP, "10.2.0.9", 17, 5, 777, l4, 16, tag);
	CU_ASSERT(raw_one(0, f, len));
	len = raw4(f, JUMP, "10.2.0.9", 17, 5, 778, l4, 16, tag);
	CU_ASSERT(!raw_one(0, f, len));
	CU_ASSERT_EQUAL(drops(ZW_DROP_FRAGMENT), 1);
	engine_end();
}

static struct zw_image *without(const char *flow_id)
{
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img;
	bool *ex;
	size_t i;

	zw_diags__init(&d, "m");
	m = zw_matrix__parse(yaml, strlen(yaml), "m", &d);
	ex = calloc(m->n_flows, sizeof(bool));
	for (i = 0; i < m->n_flows; i++)
		ex[i] = !strcmp(m->flows[i].id, flow_id);
	{
		struct zw_compile_opts o = { .exclude = ex };

		img = zt_compile_opts(yaml, day, &o);
	}
	free(ex);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return img;
}

static int load(const struct zw_image *img)
{
	char err[256];
	int rc = zw_engine__load(img->bytes, img->size, day, err, sizeof(err));

	if (rc)
		fprintf(stderr, "load: %s\n", err);
	return rc;
}

static void test_flow_removal(void)
{
	struct zw_image *no1 = without("F-001");
	struct zt_pkt s1 = tcp(OPS, JUMP, 42000, 22, SYN);
	struct zt_pkt sa1 = tcp(JUMP, OPS, 22, 42000, SYN | ACK);
	struct zt_pkt d1 = tcp(OPS, JUMP, 42000, 22, ACK);
	struct zt_pkt r1 = tcp(JUMP, OPS, 22, 42000, ACK);
	struct zt_pkt s2 = tcp(JUMP, ADM, 43000, 22, SYN);
	struct zt_pkt sa2 = tcp(ADM, JUMP, 22, 43000, SYN | ACK);
	struct zt_pkt d2 = tcp(JUMP, ADM, 43000, 22, ACK);
	struct zw_flow_counters c;
	uint32_t gen;

	CU_ASSERT_PTR_NOT_NULL_FATAL(no1);
	CU_ASSERT_FATAL(oracle_allows(full, &s1) && !oracle_allows(no1, &s1));
	CU_ASSERT_FATAL(oracle_allows(no1, &s2));
	CU_ASSERT_FATAL(engine_start(full, 4096) == 0);
	CU_ASSERT(one(0, &s1));
	CU_ASSERT(one(1, &sa1));
	CU_ASSERT(one(0, &d1));
	CU_ASSERT(one(0, &s2));
	CU_ASSERT(one(1, &sa2));
	CU_ASSERT(one(0, &d2));
	/* Mid-stream: F-001 leaves the policy. */
	gen = zw_eng.generation;
	CU_ASSERT_EQUAL_FATAL(load(no1), 0);
	CU_ASSERT_EQUAL(zw_eng.generation, gen + 1);
	CU_ASSERT(!one(1, &r1)); /* cut at its next packet, either side */
	CU_ASSERT_EQUAL(drops(ZW_DROP_FLOW_REMOVED), 1);
	CU_ASSERT(!one(0, &d1)); /* and stays cut: no connection */
	CU_ASSERT_EQUAL(drops(ZW_DROP_NOT_SYN), 1);
	CU_ASSERT(one(0, &d2)); /* F-002's connection lives on */
	/* F-002's counters survived the swap (carried by flow id). */
	zw_ctx__flow_total(zw_eng.ctx, 1, &c);
	CU_ASSERT_STRING_EQUAL(zw_image__str(zw_eng.ctx->img,
					     zw_eng.ctx->img->flows[1].id), "F-002");
	CU_ASSERT_EQUAL(c.packets, 4);
	CU_ASSERT_EQUAL(c.new_conns, 1);
	/* F-001 back: a new SYN opens again. */
	CU_ASSERT_EQUAL_FATAL(load(full), 0);
	CU_ASSERT(one(0, &s1));
	CU_ASSERT(one(0, &d2)); /* re-checked under the new generation */
	engine_end();
	zw_image__free(no1);
}

/* Swap under load: classes X (allowed by P1 only) and Y (P2 only)
 * alternate; each output tells which policy judged its packet. The
 * sequence of judging policies must change only at swaps, in order. */
static void test_swap_under_load(void)
{
	struct zw_image *p1 = without("F-002"), *p2 = without("F-001");
	enum { N = 200000, CHUNK = 512 };
	uint8_t *seen = calloc(N, 1);
	int sent = 0, swaps = 0, cur = 1, got = 0;
	int next_swap = 20000;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p2);
	CU_ASSERT_FATAL(engine_start(p1, 1 << 18) == 0);
	for (;;) {
		struct rte_mbuf *m[CHUNK];
		unsigned k, n;

		for (k = 0; k < CHUNK && sent < N && rte_ring_free_count(rx_a) > 0; k++) {
			/* X: ops -> jump ssh (F-001); Y: jump -> adm ssh (F-002) */
			struct zt_pkt p = (sent & 1) ?
				tcp(JUMP, ADM, (uint16_t)(1024 + sent / 2 % 60000), 22, SYN) :
				tcp(OPS, JUMP, (uint16_t)(1024 + sent / 2 % 60000), 22, SYN);
			uint8_t f[256];
			size_t len;

			p.src[3] = (uint8_t)(sent / 120000 + 1);
			p.tag = (uint32_t)sent + 1;
			len = zt_frame(&p, f, sizeof(f));
			m[0] = mk(f, len);
			if (!m[0] || rte_ring_sp_enqueue(rx_a, m[0])) {
				rte_pktmbuf_free(m[0]);
				break;
			}
			sent++;
		}
		n = rte_ring_sc_dequeue_burst(tx_b, (void **)m, CHUNK, NULL);
		for (k = 0; k < n; k++) {
			uint32_t t = zt_frame_tag(rte_pktmbuf_mtod(m[k], uint8_t *),
						  rte_pktmbuf_data_len(m[k]));

			if (t >= 1 && t <= N)
				seen[t - 1] = 1;
			rte_pktmbuf_free(m[k]);
		}
		got = (int)(rx_total());
		/* Swap while the worker is busy with what is queued. */
		if (sent >= next_swap && sent < N) {
			cur = 3 - cur;
			CU_ASSERT_EQUAL_FATAL(load(cur == 1 ? p1 : p2), 0);
			swaps++;
			next_swap += 20000;
		}
		if (sent >= N && got >= N) {
			n = rte_ring_sc_dequeue_burst(tx_b, (void **)m, CHUNK, NULL);
			for (k = 0; k < n; k++) {
				uint32_t t = zt_frame_tag(rte_pktmbuf_mtod(m[k], uint8_t *),
							  rte_pktmbuf_data_len(m[k]));

				if (t >= 1 && t <= N)
					seen[t - 1] = 1;
				rte_pktmbuf_free(m[k]);
			}
			if (!n)
				break;
		}
	}
	{
		/* Policy of packet i: X passed or Y dropped -> P1. */
		int i, pol = 1, changes = 0, bad = 0;

		for (i = 0; i < N; i++) {
			int x = !(i & 1);
			int p = (x == !!seen[i]) ? 1 : 2;

			if (p != pol) {
				changes++;
				pol = p;
			}
		}
		for (i = 1; i < ZW_DROP__COUNT; i++)
			if (drops(i))
				printf("drop %d: %llu\n", i, (unsigned long long)drops(i));
		printf("worker rx %llu done %llu tx %llu tx_fail %llu sent %d\n",
		       (unsigned long long)zw_eng.workers[0]->st.rx,
		       (unsigned long long)zw_eng.workers[0]->st.done,
		       (unsigned long long)zw_eng.workers[0]->st.tx,
		       (unsigned long long)zw_eng.workers[0]->st.tx_fail, sent);
		printf("\nswap under load: %d packets, %d swaps, %d policy changes "
		       "seen in the output, table-full drops %llu\n",
		       N, swaps, changes,
		       (unsigned long long)drops(ZW_DROP_TABLE_FULL));
		CU_ASSERT(swaps >= 3);
		/* Never more changes than swaps (a mixed burst would add
		 * back-and-forth changes). */
		CU_ASSERT(changes <= swaps);
		CU_ASSERT(changes >= 1);
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT_EQUAL(drops(ZW_DROP_TABLE_FULL), 0);
	}
	engine_end();
	free(seen);
	zw_image__free(p1);
	zw_image__free(p2);
}

static void test_table_full(void)
{
	int i, passed = 0;
	uint64_t tf;

	CU_ASSERT_FATAL(engine_start(full, 64) == 0);
	/* 64 embryonic UDP connections fill the table; more still pass,
	 * evicting the oldest embryonic ones. */
	for (i = 0; i < 80; i++) {
		struct zt_pkt q = udp(JUMP, "10.2.0.8", (uint16_t)(6000 + i), 53);

		passed += one(0, &q);
	}
	CU_ASSERT_EQUAL(passed, 80);
	CU_ASSERT_EQUAL(zw_eng.workers[0]->st.evicted, 16);
	CU_ASSERT_EQUAL(zw_eng.workers[0]->t4.count, 64);
	/* Fill it with established TCP connections: they evict the UDP
	 * ones, and are never evicted themselves. */
	for (i = 0; i < 64; i++) {
		struct zt_pkt s = tcp(OPS, JUMP, (uint16_t)(7000 + i), 22, SYN);
		struct zt_pkt sa = tcp(JUMP, OPS, 22, (uint16_t)(7000 + i), SYN | ACK);
		struct zt_pkt a = tcp(OPS, JUMP, (uint16_t)(7000 + i), 22, ACK);

		CU_ASSERT(one(0, &s));
		CU_ASSERT(one(1, &sa));
		CU_ASSERT(one(0, &a));
	}
	tf = drops(ZW_DROP_TABLE_FULL);
	{
		struct zt_pkt s = tcp(OPS, JUMP, 9000, 22, SYN);
		struct zt_pkt q = udp(JUMP, "10.2.0.8", 9000, 53);
		struct zt_pkt a = tcp(OPS, JUMP, 7005, 22, ACK);

		CU_ASSERT(!one(0, &s));
		CU_ASSERT(!one(0, &q));
		CU_ASSERT_EQUAL(drops(ZW_DROP_TABLE_FULL), tf + 2);
		CU_ASSERT(one(0, &a)); /* established ones keep working */
	}
	engine_end();
}

/*
 * The shared differential corpus across policy swaps: phase 0 under a
 * generated matrix, phase 1 under its variant (a third of the flows left
 * out, a host blocked), phase 2 under the first again; each phase replays
 * the connections opened before. Every frame's fate (pass/drop, in order)
 * and the drop counters per reason must be what the reference model
 * expects.
 */
static void test_corpus_phases(void)
{
	struct zw_gen_opts o = { .seed = 21, .n_zones = 12, .n_flows = 80,
				 .n_services = 8, .ipv6 = true,
				 .narrowing = true, .expiry = true };
	char *y = zw_gen__matrix(&o);
	struct zw_image *img0 = zt_compile(y, day, NULL, 0), *img1 = NULL;
	struct zw_corpus *c = zw_corpus__new(day);
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *vb = NULL;
	size_t vlen = 0, i, n;
	uint32_t ph;
	int bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img0);
	zw_diags__init(&d, "m");
	m = zw_matrix__parse(y, strlen(y), "m", &d);
	CU_ASSERT_FATAL(zw_corpus__variant(m, 22, &vb, &vlen) == 0);
	img1 = zw_image__open(vb, vlen, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img1);
	CU_ASSERT_FATAL(zw_corpus__add_phase(c, img0, 1, 400) == 0);
	CU_ASSERT_FATAL(zw_corpus__add_phase(c, img1, 2, 400) == 0);
	CU_ASSERT_FATAL(zw_corpus__add_phase(c, img0, 3, 400) == 0);
	n = zw_corpus__count(c);
	CU_ASSERT_FATAL(engine_start(img0, 1 << 16) == 0);
	i = 0;
	for (ph = 0; ph < zw_corpus__phases(c); ph++) {
		size_t first = i, last, next;
		uint64_t before[ZW_DROP__COUNT], want[ZW_DROP__COUNT] = { 0 };
		uint64_t base = rx_total();
		struct rte_mbuf *mb;
		int r;

		if (ph)
			CU_ASSERT_EQUAL_FATAL(load(ph == 1 ? img1 : img0), 0);
		for (r = 0; r < ZW_DROP__COUNT; r++)
			before[r] = drops(r);
		while (i < n && zw_corpus__pkt(c, i)->phase == ph)
			i++;
		last = i;
		/* feed in chunks the pool and ring can hold, collect */
		next = first;
		for (size_t k = first; k < last;) {
			size_t chunk = RTE_MIN((size_t)8192, last - k), j;

			for (j = 0; j < chunk; j++) {
				const struct zw_cx_pkt *p = zw_corpus__pkt(c, k + j);

				mb = mk(p->frame, p->len);
				CU_ASSERT_FATAL(mb != NULL);
				CU_ASSERT_FATAL(rte_ring_sp_enqueue(rx_a, mb) == 0);
			}
			k += chunk;
			wait_rx(base + (k - first));
			while (rte_ring_sc_dequeue(tx_b, (void **)&mb) == 0) {
				const uint8_t *dta = rte_pktmbuf_mtod(mb, uint8_t *);
				uint32_t len = rte_pktmbuf_data_len(mb);
				size_t q = next;

				while (q < k && !zw_corpus__pkt(c, q)->pass)
					q++;
				if (q < k && zw_corpus__pkt(c, q)->len == len &&
				    !memcmp(zw_corpus__pkt(c, q)->frame, dta, len)) {
					next = q + 1;
				} else {
					for (q = first; q < k; q++)
						if (zw_corpus__pkt(c, q)->len == len &&
						    !memcmp(zw_corpus__pkt(c, q)->frame,
							    dta, len))
							break;
					if (++bad <= 10)
						fprintf(stderr, "phase %u: frame %zu "
								"(%s) passed, expected "
								"drop %u\n",
							ph, q,
							q < k ? zw_corpus__pkt(c, q)->label : "?",
							q < k ? zw_corpus__pkt(c, q)->reason : 0);
					if (q < k)
						next = q + 1;
				}
				rte_pktmbuf_free(mb);
			}
		}
		for (size_t q = next; q < last; q++)
			if (zw_corpus__pkt(c, q)->pass && ++bad <= 10)
				fprintf(stderr, "phase %u: frame %zu (%s) dropped, "
						"expected to pass\n",
					ph, q, zw_corpus__pkt(c, q)->label);
		for (size_t q = first; q < last; q++)
			if (!zw_corpus__pkt(c, q)->pass)
				want[zw_corpus__pkt(c, q)->reason]++;
		for (r = 1; r < ZW_DROP__COUNT; r++)
			if (drops(r) - before[r] != want[r]) {
				fprintf(stderr, "phase %u: reason %d: engine %llu, "
						"expected %llu\n",
					ph, r,
					(unsigned long long)(drops(r) - before[r]),
					(unsigned long long)want[r]);
				bad++;
			}
		printf("\ncorpus phase %u: %zu frames, %s", ph, last - first,
		       bad ? "DISAGREE" : "100% agreement");
	}
	printf("\n");
	CU_ASSERT_EQUAL(bad, 0);
	engine_end();
	zw_corpus__free(c);
	zw_image__free(img0);
	zw_image__free(img1);
	free(vb);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	free(y);
}

/* The RSS key makes the Toeplitz hash symmetric on the addresses (the
 * hash the ports are configured for, RTE_ETH_RSS_IP): both directions of
 * a connection, and a datagram's later fragments, reach one worker. */
static void test_rss_symmetric(void)
{
	uint8_t key[40];
	uint64_t s = 5;
	int i, k, same = 0;

	zw_engine__rss_key(key, sizeof(key));
	for (i = 0; i < 10000; i++) {
		uint32_t a[8], b[8];

		for (k = 0; k < 8; k++)
			a[k] = (uint32_t)zt_rand(&s);
		/* IPv4: src, dst; IPv6: src[4], dst[4] (host-order words) */
		b[0] = a[1], b[1] = a[0];
		same += rte_softrss(a, 2, key) == rte_softrss(b, 2, key);
		for (k = 0; k < 4; k++)
			b[k] = a[4 + k], b[4 + k] = a[k];
		same += rte_softrss(a, 8, key) == rte_softrss(b, 8, key);
	}
	CU_ASSERT_EQUAL(same, 20000);
}

/* The connection-table key is the core's normalised tuple (the XDP
 * program's key), packed: same order of the ends, same swap bit, and both
 * directions of a connection give the same key bytes. Addresses and ports
 * equal in part or in full on purpose (the order's tie-breaks). */
static void test_conn_key_is_core(void)
{
	uint64_t s = 11;
	int i, k, bad = 0;

	for (i = 0; i < 20000; i++) {
		union {
			struct zw_key4 k4;
			struct zw_key6 k6;
		} a, b;
		struct zw_tuple t, r, n;
		int alen = i & 1 ? 16 : 4, sw, swr, swn;

		memset(&t, 0, sizeof(t));
		t.family = alen == 4 ? 4 : 6;
		t.proto = i & 2 ? ZW_IPPROTO_UDP : ZW_IPPROTO_TCP;
		for (k = 0; k < alen; k++) {
			t.src[k] = (uint8_t)zt_rand(&s);
			t.dst[k] = i % 5 == 0 ? t.src[k] : (uint8_t)zt_rand(&s);
		}
		if (i % 3 == 0) /* differ in the last byte only */
			memcpy(t.dst, t.src, (size_t)alen - 1);
		t.sport = (uint16_t)zt_rand(&s);
		t.dport = i % 7 == 0 ? t.sport : (uint16_t)zt_rand(&s);
		memset(&r, 0, sizeof(r));
		memcpy(r.src, t.dst, 16);
		memcpy(r.dst, t.src, 16);
		r.sport = t.dport;
		r.dport = t.sport;
		r.proto = t.proto;
		r.family = t.family;
		memset(&a, 0xa5, sizeof(a));
		memset(&b, 0x5a, sizeof(b));

		swn = zw_tuple__normalise(&t, &n);
		sw = zw_pipeline__conn_key(&t, &a);
		swr = zw_pipeline__conn_key(&r, &b);
		if (sw != swn)
			bad++;
		else if (alen == 4 &&
			 (memcmp(&a.k4.a, n.src, 4) || memcmp(&a.k4.b, n.dst, 4) ||
			  a.k4.pa != n.sport || a.k4.pb != n.dport ||
			  a.k4.proto != n.proto || a.k4.kind || a.k4.pad ||
			  memcmp(&a.k4, &b.k4, sizeof(a.k4))))
			bad++;
		else if (alen == 16 &&
			 (memcmp(a.k6.a, n.src, 16) || memcmp(a.k6.b, n.dst, 16) ||
			  a.k6.pa != n.sport || a.k6.pb != n.dport ||
			  a.k6.proto != n.proto || a.k6.kind || a.k6.frag_id ||
			  memcmp(&a.k6, &b.k6, sizeof(a.k6))))
			bad++;
		else if (memcmp(&t, &r, sizeof(t)) && sw == swr)
			bad++; /* distinct ends: exactly one direction swaps */
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* Timeouts, without waiting: the pipeline driven directly on a private
 * worker with a clock we choose; the expiry scan removes what idled past
 * the core's ZW_TO_* and keeps the rest. */
static void test_expiry(void)
{
	struct zw_image *copy = zw_image__open(full->bytes, full->size, NULL, 0);
	char err[256];
	struct zw_ctx *ctx = zw_ctx__new(copy, day, 500, 1, err, sizeof(err));
	struct zw_worker *w = rte_zmalloc("tw", sizeof(*w), RTE_CACHE_LINE_SIZE);
	struct zt_pkt pk[4] = {
		udp(JUMP, "10.2.0.8", 7000, 53),	 /* unreplied UDP: 30 s */
		tcp(OPS, JUMP, 47000, 22, SYN),		 /* SYN_SENT: 120 s */
		tcp(JUMP, OPS, 22, 47000, SYN | ACK),
		tcp(OPS, JUMP, 47000, 22, ACK),		 /* established: 5 days */
	};
	struct rte_mbuf *m[4], *out[4];
	const uint64_t s = 1000000000ull;
	uint64_t t0 = 1000 * s;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_FATAL(zw_ctab__init(&w->t4, "tx4", 4, 1024, 0) == 0);
	CU_ASSERT_FATAL(zw_ctab__init(&w->t6, "tx6", 6, 1024, 0) == 0);
	for (i = 0; i < 4; i++) {
		uint8_t f[256];
		size_t len = zt_frame(&pk[i], f, sizeof(f));

		m[i] = mk(f, len);
	}
	CU_ASSERT_EQUAL(zw_pipeline__burst(w, ctx, m, 4, out, t0), 4);
	rte_pktmbuf_free_bulk(out, 4);
	CU_ASSERT_EQUAL(w->t4.count, 2);
	/* 60 s later: the UDP entry is gone, the TCP one stays. */
	for (i = 0; i < 4; i++)
		zw_ctab__expire(&w->t4, w, t0 + 60 * s, 2048);
	CU_ASSERT_EQUAL(w->t4.count, 1);
	/* a day later: established TCP still there; 6 days: gone. */
	zw_ctab__expire(&w->t4, w, t0 + 86400 * s, 2048);
	CU_ASSERT_EQUAL(w->t4.count, 1);
	zw_ctab__expire(&w->t4, w, t0 + 6 * 86400 * s, 2048);
	CU_ASSERT_EQUAL(w->t4.count, 0);
	/* and its packets are unsolicited again */
	{
		uint8_t f[256];
		size_t len = zt_frame(&pk[3], f, sizeof(f));

		m[0] = mk(f, len);
		CU_ASSERT_EQUAL(zw_pipeline__burst(w, ctx, m, 1, out,
						   t0 + 6 * 86400 * s), 0);
		CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_NOT_SYN], 1);
	}
	zw_ctab__fini(&w->t4);
	zw_ctab__fini(&w->t6);
	rte_free(w);
	zw_ctx__free(ctx);
}

/* A private worker (no engine, no lcore) whose pipeline a test drives
 * burst by burst with a clock it chooses. */
static struct zw_worker *tw_new(uint32_t conns)
{
	struct zw_worker *w = rte_zmalloc("tw", sizeof(*w), RTE_CACHE_LINE_SIZE);
	char n4[32], n6[32];

	if (!w)
		return NULL;
	snprintf(n4, sizeof(n4), "tw4_%d", ++run_id);
	snprintf(n6, sizeof(n6), "tw6_%d", run_id);
	if (zw_ctab__init(&w->t4, n4, 4, conns, 0) ||
	    zw_ctab__init(&w->t6, n6, 6, conns, 0)) {
		zw_ctab__fini(&w->t4);
		rte_free(w);
		return NULL;
	}
	return w;
}

static void tw_free(struct zw_worker *w)
{
	if (!w)
		return;
	zw_ctab__fini(&w->t4);
	zw_ctab__fini(&w->t6);
	rte_free(w);
}

/* One burst of @n packets (frames built from @p) through @w under @ctx at
 * @now; returns how many passed (and frees them). */
static unsigned tw_burst(struct zw_worker *w, const struct zw_ctx *ctx,
			 const struct zt_pkt *p, unsigned n, uint64_t now)
{
	struct rte_mbuf *m[ZW_BURST], *out[ZW_BURST];
	unsigned i, nout;

	CU_ASSERT_FATAL(n <= ZW_BURST);
	for (i = 0; i < n; i++) {
		uint8_t f[256];
		size_t len = zt_frame(&p[i], f, sizeof(f));

		m[i] = mk(f, len);
		CU_ASSERT_FATAL(m[i] != NULL);
	}
	nout = zw_pipeline__burst(w, ctx, m, (uint16_t)n, out, now);
	rte_pktmbuf_free_bulk(out, nout);
	return nout;
}

static struct zw_ctx *tctx(const struct zw_image *img, uint32_t gen)
{
	struct zw_image *copy = zw_image__open(img->bytes, img->size, NULL, 0);
	char err[256];
	struct zw_ctx *ctx = copy ? zw_ctx__new(copy, day, gen, 1, err,
						 sizeof(err)) : NULL;

	if (!ctx)
		zw_image__free(copy);
	return ctx;
}

/*
 * A connection idle past its timeout is no connection any more (the
 * core's order of checks: "known connection (found, not expired)"), even
 * before the expiry scan has reached its entry: its late SYN-ACK is
 * NOT_SYN, an ICMP error about it UNRELATED_ICMP, and a new SYN on its
 * tuple is judged (and counted) as a new connection.
 */
static void test_expired_lookup(void)
{
	struct zw_ctx *ctx = tctx(full, 600);
	struct zw_worker *w = tw_new(1024);
	const uint64_t s = 1000000000ull, t0 = 1000 * s;
	struct zt_pkt syn[3] = {
		tcp(OPS, JUMP, 48000, 22, SYN),
		tcp(OPS, JUMP, 48001, 22, SYN),
		tcp(OPS, JUMP, 48002, 22, SYN),
	};
	struct zt_pkt sa0 = tcp(JUMP, OPS, 22, 48000, SYN | ACK);
	struct zt_pkt sa2 = tcp(JUMP, OPS, 22, 48002, SYN | ACK);
	struct zw_flow_counters c;
	uint8_t f[256], l4[64];
	struct rte_mbuf *m, *out[1];
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(tw_burst(w, ctx, syn, 3, t0), 3);
	/* SYN_SENT lives 120 s: at 60 s the SYN-ACK passes ... */
	CU_ASSERT_EQUAL(tw_burst(w, ctx, &sa2, 1, t0 + 60 * s), 1);
	/* ... at 121 s it is unsolicited (no expiry scan ran) */
	CU_ASSERT_EQUAL(tw_burst(w, ctx, &sa0, 1, t0 + 121 * s), 0);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_NOT_SYN], 1);
	/* an ICMP error about the other expired SYN is unrelated */
	memset(l4, 0, sizeof(l4));
	l4[0] = 3, l4[1] = 3;
	l4[8] = 0x45, l4[11] = 40, l4[16] = 64, l4[17] = 6;
	inet_pton(AF_INET, OPS, l4 + 20);
	inet_pton(AF_INET, JUMP, l4 + 24);
	l4[28] = 48001 >> 8, l4[29] = 48001 & 0xff, l4[31] = 22;
	len = raw4(f, JUMP, OPS, 1, 0, 9, l4, 36, 1);
	m = mk(f, len);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(zw_pipeline__burst(w, ctx, &m, 1, out, t0 + 121 * s), 0);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_UNRELATED_ICMP], 1);
	/* a new SYN on the expired tuple opens a new connection */
	CU_ASSERT_EQUAL(tw_burst(w, ctx, &syn[0], 1, t0 + 121 * s), 1);
	zw_ctx__flow_total(ctx, 0, &c);
	CU_ASSERT_EQUAL(c.new_conns, 4);
	CU_ASSERT_EQUAL(tw_burst(w, ctx, &sa0, 1, t0 + 122 * s), 1);
	tw_free(w);
	zw_ctx__free(ctx);
}

/*
 * A packet whose entry was found by the burst's bulk lookup but went away
 * earlier in the same burst (evicted by a new connection, cut by a policy
 * swap) is judged as what it now is: a packet of no connection, which
 * opens one when it may (core order of checks, step 5), not NOT_SYN.
 */
static void test_burst_rejudge(void)
{
	struct zw_image *no1 = without("F-001");
	struct zw_ctx *ctx = tctx(full, 610), *ctx2 = NULL;
	struct zw_worker *w = tw_new(64);
	const uint64_t s = 1000000000ull, t0 = 1000 * s;
	struct zt_pkt q[32], b[2];
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(no1);
	ctx2 = tctx(no1, 611);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	/* 64 unreplied same-zone UDP connections fill the table */
	for (i = 0; i < 64; i += 32) {
		int k;

		for (k = 0; k < 32; k++)
			q[k] = udp(JUMP, "10.2.0.8", (uint16_t)(6000 + i + k), 53);
		CU_ASSERT_EQUAL(tw_burst(w, ctx, q, 32, t0), 32);
	}
	CU_ASSERT_EQUAL(w->t4.count, 64);
	/* a new one evicts the oldest (port 6000), whose next packet is in
	 * the same burst: allowed anew, as the policy says */
	b[0] = udp(JUMP, "10.2.0.8", 9000, 53);
	b[1] = udp(JUMP, "10.2.0.8", 6000, 53);
	CU_ASSERT(oracle_allows(full, &b[1]));
	CU_ASSERT_EQUAL(tw_burst(w, ctx, b, 2, t0 + s), 2);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_NOT_SYN], 0);
	/* F-001 leaves: the first packet of its connection is cut, a SYN
	 * behind it in the same burst is a new connection the policy denies */
	b[0] = tcp(OPS, JUMP, 48100, 22, SYN);
	CU_ASSERT_EQUAL(tw_burst(w, ctx, b, 1, t0 + s), 1);
	b[0] = tcp(OPS, JUMP, 48100, 22, ACK);
	b[1] = tcp(OPS, JUMP, 48100, 22, SYN);
	CU_ASSERT(!oracle_allows(no1, &b[1]));
	CU_ASSERT_EQUAL(tw_burst(w, ctx2, b, 2, t0 + 2 * s), 0);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_FLOW_REMOVED], 1);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_NO_FLOW], 1);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_NOT_SYN], 0);
	tw_free(w);
	zw_ctx__free(ctx);
	zw_ctx__free(ctx2);
	zw_image__free(no1);
}

/*
 * Early drop spares connections that were established: one half-closed
 * (a FIN one way, data still flowing the other way: `ssh host cmd <
 * /dev/null`) is not "embryonic" however full the table gets.
 */
static void test_table_full_half_closed(void)
{
	struct zw_ctx *ctx = tctx(full, 630);
	struct zw_worker *w = tw_new(64);
	struct zt_pkt hs[4] = {
		tcp(OPS, JUMP, 48300, 22, SYN),
		tcp(JUMP, OPS, 22, 48300, SYN | ACK),
		tcp(OPS, JUMP, 48300, 22, ACK),
		tcp(OPS, JUMP, 48300, 22, FIN | ACK),
	};
	struct zt_pkt data = tcp(JUMP, OPS, 22, 48300, ACK);
	struct zt_pkt q[32];
	int i, k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(tw_burst(w, ctx, hs, 4, 1000), 4);
	/* 8 x 32 new same-zone UDP connections through a 64-entry table */
	for (i = 0; i < 8; i++) {
		for (k = 0; k < 32; k++)
			q[k] = udp(JUMP, "10.2.0.8", (uint16_t)(6000 + 32 * i + k),
				   53);
		CU_ASSERT_EQUAL(tw_burst(w, ctx, q, 32, 2000), 32);
	}
	CU_ASSERT(w->st.evicted >= 190);
	/* the responder still sends: its connection is there */
	CU_ASSERT_EQUAL(tw_burst(w, ctx, &data, 1, 3000), 1);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_NOT_SYN], 0);
	tw_free(w);
	zw_ctx__free(ctx);
}

/*
 * Per-flow bytes are IP bytes (the core's l3_len: header + payload), as
 * the XDP and nftables engines count them, not the Ethernet frame (its
 * header, VLAN tags and padding to 60 bytes are not the flow's traffic).
 */
static void test_counter_bytes(void)
{
	struct zw_ctx *ctx = tctx(full, 620);
	struct zw_worker *w = tw_new(1024);
	struct zt_pkt p[2] = {
		tcp(OPS, JUMP, 48200, 22, SYN),
		tcp(JUMP, OPS, 22, 48200, SYN | ACK),
	};
	struct zw_flow_counters c;
	uint8_t f[256];
	size_t len = zt_frame(&p[0], f, sizeof(f));

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL_FATAL(len, 60); /* 14 + 20 + 20 + 6, no padding */
	CU_ASSERT_EQUAL(tw_burst(w, ctx, p, 2, 1000), 2);
	zw_ctx__flow_total(ctx, 0, &c);
	CU_ASSERT_EQUAL(c.packets, 2);
	CU_ASSERT_EQUAL(c.bytes, 2 * 46);
	tw_free(w);
	zw_ctx__free(ctx);
}

/* One request on a new connection; the status line into @reply. Returns
 * the connection (or -errno). */
static int ctl_req(const char *path, const char *line, const void *body,
		   size_t len, char *reply, size_t n, int timeout_ms)
{
	int fd = zw_ctl__connect(path, timeout_ms), rc;

	if (fd < 0)
		return fd;
	rc = zw_ctl__printf(fd, "%s\n", line);
	if (!rc && len)
		rc = zw_ctl__write_full(fd, body, len);
	/* (a refused LOAD closes before reading the body: read the reply) */
	if (!rc || rc == -EPIPE || rc == -ECONNRESET)
		rc = zw_ctl__read_line(fd, reply, n);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

static int ctl_status(const char *path, char *reply, size_t n)
{
	int fd = ctl_req(path, "STATUS", NULL, 0, reply, n, 2000);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/*
 * The control socket: a LOAD it refuses before reading the image closes
 * the connection (the image bytes that follow are never read as
 * requests); LOAD's day and size are numbers, nothing else; a client idle
 * between requests does not keep the others waiting.
 */
static void test_control_socket(void)
{
	char path[108], reply[ZW_CTL_LINE_MAX], line[128], gen[32];
	uint64_t t0;
	int fd, idle, rc;

	snprintf(path, sizeof(path), "/tmp/zwdpdk-engine-%d.sock", (int)getpid());
	CU_ASSERT_FATAL(engine_start(full, 4096) == 0);
	CU_ASSERT_FATAL(zw_ctl_server__start(path) == 0);
	CU_ASSERT_EQUAL_FATAL(ctl_status(path, reply, sizeof(reply)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "enforcing=1"));
	snprintf(gen, sizeof(gen), "generation=%u ", zw_eng.generation);

	/* refused LOAD header, then bytes that read like a request */
	fd = ctl_req(path, "LOAD 20000 999999999999", "UNLOAD\n", 7, reply,
		     sizeof(reply), 2000);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(strncmp(reply, "ERR ", 4), 0);
	rc = zw_ctl__read_line(fd, reply, sizeof(reply));
	CU_ASSERT(rc == -EPIPE || rc == -ECONNRESET);
	close(fd);
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "enforcing=1"));

	/* a day that is not a number: refused, policy unchanged */
	snprintf(line, sizeof(line), "LOAD 2026-11-01 %zu", full->size);
	fd = ctl_req(path, line, full->bytes, full->size, reply, sizeof(reply),
		     2000);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(strncmp(reply, "ERR ", 4), 0);
	snprintf(line, sizeof(line), "LOAD %d %zux", (int)day, full->size);
	fd = ctl_req(path, line, full->bytes, full->size, reply, sizeof(reply),
		     2000);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(strncmp(reply, "ERR ", 4), 0);
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, gen));
	/* a well-formed one goes through */
	snprintf(line, sizeof(line), "LOAD %d %zu", (int)day, full->size);
	fd = ctl_req(path, line, full->bytes, full->size, reply, sizeof(reply),
		     5000);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(strncmp(reply, "OK generation=", 14), 0);

	/* zonewalld's client gets the reason of a LOAD refused before its
	 * body was read (its write fails once the engine has closed) */
	{
		size_t big = ZW_CTL_IMAGE_MAX + 4096;
		void *b = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		struct zw_image fake = { .bytes = b, .size = big };
		struct zw_backend *be = NULL;
		char err[256] = "";

		CU_ASSERT_FATAL(b != MAP_FAILED);
		CU_ASSERT_EQUAL_FATAL(zw_backend_dpdk.open(path, &be, err,
							   sizeof(err)), 0);
		CU_ASSERT_EQUAL(zw_backend__apply(be, &fake, day, err,
						  sizeof(err)), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad image size"));
		zw_backend_dpdk.close(be);
		munmap(b, big);
	}
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "enforcing=1"));

	/* an idle client (an open interactive session) ... */
	idle = ctl_req(path, "HELLO", NULL, 0, reply, sizeof(reply), 2000);
	CU_ASSERT_FATAL(idle >= 0);
	CU_ASSERT_EQUAL(strncmp(reply, "OK zonewall-dpdk", 16), 0);
	/* ... does not hold the others */
	t0 = rte_get_timer_cycles();
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	CU_ASSERT(rte_get_timer_cycles() - t0 < 2 * rte_get_timer_hz());
	close(idle);

	/* an idle session does not hold the shutdown either */
	idle = ctl_req(path, "HELLO", NULL, 0, reply, sizeof(reply), 2000);
	CU_ASSERT(idle >= 0);
	t0 = rte_get_timer_cycles();
	zw_ctl_server__stop();
	CU_ASSERT(rte_get_timer_cycles() - t0 < 2 * rte_get_timer_hz());
	if (idle >= 0)
		close(idle);
	engine_end();
}

/* A client that sends its request @req slowly: one byte every @gap_ms
 * until it is all sent or the engine closes the connection. */
struct trickle {
	const char *path;
	const char *req;
	int gap_ms;
	int sent;
	int closed_after_ms; /* when the engine closed it (-1: never) */
};

static void *trickle_main(void *arg)
{
	struct trickle *t = arg;
	int n = (int)strlen(t->req);
	uint64_t t0 = rte_get_timer_cycles();
	int fd = zw_ctl__connect(t->path, 10000);

	t->closed_after_ms = -1;
	if (fd < 0)
		return NULL;
	for (t->sent = 0; t->sent < n; t->sent++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (send(fd, &t->req[t->sent], 1, MSG_NOSIGNAL) != 1)
			break;
		/* closed by the engine meanwhile? */
		if (poll(&p, 1, t->gap_ms) > 0) {
			char c;

			if (recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
				break;
		}
	}
	t->closed_after_ms = (int)((rte_get_timer_cycles() - t0) * 1000 /
				   rte_get_timer_hz());
	close(fd);
	return NULL;
}

/*
 * Each request has a deadline (issue 10 item 11): a client that sends a
 * byte every few seconds holds no one. One that stalls mid-request while
 * another waits is cut at once; one that trickles steadily is cut when its
 * request's deadline passes; the others' STATUS is answered meanwhile.
 */
static void test_control_deadline(void)
{
	char path[108], reply[ZW_CTL_LINE_MAX];
	struct trickle slow = { .req = "STATUS\n", .gap_ms = 4000 };
	struct trickle steady = { .req = "STATUS               \n",
				  .gap_ms = 300 }; /* 22 bytes: 6.6 s */
	pthread_t th;
	uint64_t t0, ms;

	snprintf(path, sizeof(path), "/tmp/zwdpdk-engine-%d.dl", (int)getpid());
	CU_ASSERT_FATAL(engine_start(full, 4096) == 0);
	CU_ASSERT_FATAL(zw_ctl_server__start(path) == 0);

	/* one byte every 4 s */
	slow.path = path;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, trickle_main, &slow) == 0);
	usleep(300 * 1000); /* the engine is reading its request */
	t0 = rte_get_timer_cycles();
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	ms = (rte_get_timer_cycles() - t0) * 1000 / rte_get_timer_hz();
	printf("\n    STATUS behind a 4 s trickler: %llu ms\n",
	       (unsigned long long)ms);
	CU_ASSERT(ms < 1500);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "enforcing=1"));
	pthread_join(th, NULL);
	CU_ASSERT(slow.sent < 7);
	CU_ASSERT(slow.closed_after_ms >= 0 && slow.closed_after_ms < 6000);

	/* one byte every 300 ms, never silent for long */
	steady.path = path;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, trickle_main, &steady) == 0);
	usleep(300 * 1000);
	t0 = rte_get_timer_cycles();
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	ms = (rte_get_timer_cycles() - t0) * 1000 / rte_get_timer_hz();
	printf("    STATUS behind a 300 ms trickler: %llu ms\n",
	       (unsigned long long)ms);
	CU_ASSERT(ms < 3000);
	pthread_join(th, NULL);
	CU_ASSERT(steady.sent < 22); /* cut before its request was whole */
	CU_ASSERT(steady.closed_after_ms >= 0 &&
		  steady.closed_after_ms < 4000);

	/* and the engine still serves */
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	zw_ctl_server__stop();
	engine_end();
}

/*
 * --control PATH replaces only a stale socket: never a file of another
 * kind (a mistyped path must not delete it), never a socket someone still
 * listens on (another engine's).
 */
static void test_control_path(void)
{
	char path[108];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	FILE *f;
	int l;

	snprintf(path, sizeof(path), "/tmp/zwdpdk-engine-%d.file", (int)getpid());
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("precious\n", f);
	fclose(f);
	CU_ASSERT_NOT_EQUAL(zw_ctl_server__start(path), 0);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT(S_ISREG(sb.st_mode) && sb.st_size == 9);
	unlink(path);

	/* a live listener */
	snprintf(path, sizeof(path), "/tmp/zwdpdk-engine-%d.live", (int)getpid());
	strcpy(sa.sun_path, path);
	unlink(path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(l, 4) == 0);
	CU_ASSERT_NOT_EQUAL(zw_ctl_server__start(path), 0);
	CU_ASSERT_EQUAL(errno, EADDRINUSE);
	{
		int c = zw_ctl__connect(path, 1000);

		CU_ASSERT(c >= 0); /* still the listener's */
		if (c >= 0)
			close(c);
	}
	close(l);
	/* now stale: replaced */
	CU_ASSERT_EQUAL(zw_ctl_server__start(path), 0);
	zw_ctl_server__stop();
	CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);
}

/* Telemetry: a new connection of a `log: true` flow gives a ZW_EV_NEW
 * record, a denied packet a ZW_EV_DROP record, through the rte_ring. */
/* The matrix with F-001 logged (log: true), compiled. */
static struct zw_image *logged_f001(void)
{
	char *y = malloc(strlen(yaml) + 64), *p;
	struct zw_image *img;

	strcpy(y, yaml);
	p = strstr(y, "  - id: F-001\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p += strlen("  - id: F-001\n");
	memmove(p + 14, p, strlen(p) + 1);
	memcpy(p, "    log: true\n", 14);
	img = zt_compile(y, day, NULL, 0);
	free(y);
	return img;
}

static void test_records(void)
{
	struct zw_image *img = logged_f001();
	struct zw_flow_record r;
	int n_new = 0, n_drop = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_FATAL(engine_start(img, 4096) == 0);
	{
		struct zt_pkt s = tcp(OPS, JUMP, 46000, 22, SYN);
		struct zt_pkt d = tcp(JUMP, OPS, 46001, 22, SYN);

		CU_ASSERT(one(0, &s));
		CU_ASSERT(!one(1, &d));
	}
	while (rte_ring_sc_dequeue_elem(zw_eng.events, &r, sizeof(r)) == 0) {
		CU_ASSERT_EQUAL(r.engine, 2);
		if (r.event == ZW_EV_NEW) {
			n_new++;
			CU_ASSERT_EQUAL(r.flow, 0);
			CU_ASSERT_EQUAL(r.proto, 6);
			CU_ASSERT_EQUAL(r.sport, 46000);
			CU_ASSERT_EQUAL(r.dport, 22);
			CU_ASSERT_EQUAL(r.family, 4);
			CU_ASSERT_EQUAL(r.generation, zw_eng.generation);
		} else if (r.event == ZW_EV_DROP) {
			n_drop++;
			CU_ASSERT_EQUAL(r.reason, ZW_DROP_NO_FLOW);
			CU_ASSERT_EQUAL(r.flow, ZW_NO_FLOW);
		}
	}
	CU_ASSERT_EQUAL(n_new, 1);
	CU_ASSERT_EQUAL(n_drop, 1);
	engine_end();
	zw_image__free(img);
}

/* Count the NEW and END records waiting; keep the last END. */
static void drain(int *n_new, int *n_end, struct zw_flow_record *end)
{
	struct zw_flow_record r;

	*n_new = *n_end = 0;
	while (rte_ring_sc_dequeue_elem(zw_eng.events, &r, sizeof(r)) == 0) {
		if (r.event == ZW_EV_NEW)
			(*n_new)++;
		if (r.event == ZW_EV_END) {
			(*n_end)++;
			*end = r;
		}
	}
}

/* Every end of a logged connection is reported once, whatever ends it:
 * cut by a policy change, reopened by a SYN after RST, evicted early. */
static void test_end_records(void)
{
	struct zw_image *img = logged_f001(), *no1 = without("F-001");
	struct zw_flow_record e = { 0 };
	struct zw_flow_counters c;
	int n_new, n_end, i, passed = 0;
	uint32_t gen;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(no1);
	CU_ASSERT_FATAL(engine_start(img, 64) == 0);
	{
		struct zt_pkt s = tcp(OPS, JUMP, 46100, 22, SYN);
		struct zt_pkt sa = tcp(JUMP, OPS, 22, 46100, SYN | ACK);
		struct zt_pkt a = tcp(OPS, JUMP, 46100, 22, ACK);
		struct zt_pkt r = tcp(JUMP, OPS, 22, 46100, ACK);

		CU_ASSERT(one(0, &s));
		CU_ASSERT(one(1, &sa));
		CU_ASSERT(one(0, &a));
		drain(&n_new, &n_end, &e);
		CU_ASSERT_EQUAL(n_new, 1);
		CU_ASSERT_EQUAL(n_end, 0);
		/* F-001 has only this connection: its counters are the
		 * connection's (3 packets, IP bytes) */
		zw_ctx__flow_total(zw_eng.ctx, 0, &c);
		CU_ASSERT_EQUAL(c.packets, 3);
		/* cut: F-001 leaves the policy, the next packet ends it */
		gen = zw_eng.generation;
		CU_ASSERT_EQUAL_FATAL(load(no1), 0);
		CU_ASSERT(!one(1, &r));
		drain(&n_new, &n_end, &e);
		CU_ASSERT_EQUAL(n_end, 1);
		CU_ASSERT_EQUAL(e.generation, gen);
		CU_ASSERT_EQUAL(e.sport, 46100); /* the initiator's side */
		CU_ASSERT_EQUAL(e.dport, 22);
		CU_ASSERT_EQUAL(e.proto, 6);
		CU_ASSERT_EQUAL(e.engine, 2);
		CU_ASSERT_EQUAL(e.packets, 3);
		CU_ASSERT_EQUAL(e.bytes, c.bytes);
		CU_ASSERT(e.bytes >= 3 * 40);
		CU_ASSERT_FATAL(load(img) == 0);
	}
	{
		/* reopen: RST closes, a SYN on the same tuple ends the old
		 * connection and opens a new one */
		struct zt_pkt s = tcp(OPS, JUMP, 46200, 22, SYN);
		struct zt_pkt sa = tcp(JUMP, OPS, 22, 46200, SYN | ACK);
		struct zt_pkt rst = tcp(JUMP, OPS, 22, 46200, RST);

		CU_ASSERT(one(0, &s));
		CU_ASSERT(one(1, &sa));
		CU_ASSERT(one(1, &rst));
		drain(&n_new, &n_end, &e);
		CU_ASSERT_EQUAL(n_new, 1);
		CU_ASSERT_EQUAL(n_end, 0);
		CU_ASSERT(one(0, &s));
		drain(&n_new, &n_end, &e);
		CU_ASSERT_EQUAL(n_end, 1);
		CU_ASSERT_EQUAL(n_new, 1);
		CU_ASSERT_EQUAL(e.sport, 46200);
		CU_ASSERT_EQUAL(e.packets, 3); /* SYN, SYN-ACK, RST */
	}
	{
		/* early drop: 80 embryonic logged connections through a
		 * table of 64 (one entry already taken) */
		uint64_t ev0 = zw_eng.workers[0]->st.evicted;

		for (i = 0; i < 80; i++) {
			struct zt_pkt s = tcp(OPS, JUMP, (uint16_t)(50000 + i),
					      22, SYN);

			passed += one(0, &s);
		}
		CU_ASSERT_EQUAL(passed, 80);
		drain(&n_new, &n_end, &e);
		CU_ASSERT_EQUAL(n_new, 80);
		CU_ASSERT(zw_eng.workers[0]->st.evicted > ev0);
		CU_ASSERT_EQUAL((uint64_t)n_end,
				zw_eng.workers[0]->st.evicted - ev0);
	}
	engine_end();
	zw_image__free(img);
	zw_image__free(no1);
}

/* Records as zonewalld reads them: the backend's records op. */
struct rec_sink {
	struct zw_flow_record r[512];
	int n;
	uint64_t mine; /* records of the full-ring check (sport 7) */
};

static int sink_take(void *ctx, const struct zw_flow_record *r)
{
	struct rec_sink *k = ctx;

	k->mine += r->event == ZW_EV_DROP && r->sport == 7;
	if (k->n < (int)(sizeof(k->r) / sizeof(k->r[0])))
		k->r[k->n++] = *r;
	return 0;
}

/* The first record of @ev with source port @sport in @k, or NULL. */
static const struct zw_flow_record *find_rec(const struct rec_sink *k,
					     uint8_t ev, uint16_t sport)
{
	for (int i = 0; i < k->n; i++)
		if (k->r[i].event == ev && k->r[i].sport == sport)
			return &k->r[i];
	return NULL;
}

/* Pull through @be until a record of @ev with source port @sport came, at
 * most @ms milliseconds (records leave the workers asynchronously). */
static const struct zw_flow_record *pull_until(struct zw_backend *be,
					       struct rec_sink *k, uint8_t ev,
					       uint16_t sport, int ms)
{
	uint64_t end = rte_get_timer_cycles() +
		       (uint64_t)ms * rte_get_timer_hz() / 1000;
	const struct zw_flow_record *r;

	for (;;) {
		int n = zw_backend_dpdk.records(be, sink_take, k, 4096);

		CU_ASSERT(n >= 0);
		r = find_rec(k, ev, sport);
		if (r || rte_get_timer_cycles() > end)
			return r;
		usleep(20000);
	}
}

/*
 * The daemon's path: records of a connection opened, carried and closed
 * through the engine, read with the backend's records op over the control
 * socket (RECORDS, protocol 3), the record settings sent with PREPARE: a
 * created and an ended record with both directions' counts, an update
 * record every active timeout, denied records for denied probes; with
 * log_all every flow's connections. A full ring is counted, never silent.
 */
static void test_records_daemon_path(void)
{
	struct zw_image *img = logged_f001();
	struct zw_backend *be = NULL;
	struct zw_engine_stats es;
	struct rec_sink *k = calloc(1, sizeof(*k));
	const struct zw_flow_record *r;
	char path[108], err[256] = "", reply[ZW_CTL_LINE_MAX];
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	snprintf(path, sizeof(path), "/tmp/zwdpdk-rec-%d.sock", (int)getpid());
	CU_ASSERT_FATAL(engine_start(img, 4096) == 0);
	CU_ASSERT_FATAL(zw_ctl_server__start(path) == 0);
	CU_ASSERT_EQUAL_FATAL(zw_backend_dpdk.open(path, &be, err, sizeof(err)),
			      0);
	be->rec.active_timeout_s = 1; /* as zonewalld sets it after open */
	CU_ASSERT_EQUAL_FATAL(zw_backend__apply(be, img, day, err, sizeof(err)),
			      0);
	CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, " active_timeout=1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, " log_all=0"));
	{
		/* F-001 (log: true): SYN, SYN-ACK, ACK, 2 data, 1 reply, RST
		 * from the responder; a new SYN on the tuple ends it */
		struct zt_pkt syn = tcp(OPS, JUMP, 46300, 22, SYN);
		struct zt_pkt sa = tcp(JUMP, OPS, 22, 46300, SYN | ACK);
		struct zt_pkt a = tcp(OPS, JUMP, 46300, 22, ACK);
		struct zt_pkt da = tcp(JUMP, OPS, 22, 46300, ACK);
		struct zt_pkt rst = tcp(JUMP, OPS, 22, 46300, RST);
		uint32_t gen = zw_eng.generation;

		CU_ASSERT(one(0, &syn));
		CU_ASSERT(one(1, &sa));
		CU_ASSERT(one(0, &a));
		CU_ASSERT(one(0, &a));
		CU_ASSERT(one(0, &a));
		CU_ASSERT(one(1, &da));
		CU_ASSERT(one(1, &rst));
		r = pull_until(be, k, ZW_EV_NEW, 46300, 2000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->flow, 0);
		CU_ASSERT_EQUAL(r->generation, gen);
		CU_ASSERT_EQUAL(r->engine, 2);
		CU_ASSERT_EQUAL(r->dport, 22);
		CU_ASSERT_PTR_NULL(find_rec(k, ZW_EV_END, 46300));
		CU_ASSERT(one(0, &syn)); /* reopens: the old one ended */
		r = pull_until(be, k, ZW_EV_END, 46300, 2000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->flow, 0);
		CU_ASSERT_EQUAL(r->packets, 7);
		CU_ASSERT(r->flags & ZW_REC_F_EXT);
		CU_ASSERT_EQUAL(r->rev_packets, 3); /* SYN-ACK, reply, RST */
		CU_ASSERT(r->bytes >= 7 * 40);
		/* every packet here has one size: the responder's share */
		CU_ASSERT_EQUAL(r->rev_bytes * 7, r->bytes * 3);
		CU_ASSERT_EQUAL(r->end_reason, ZW_END_CLOSED);
		CU_ASSERT(r->start_ns > 0 && r->start_ns <= r->ts_ns);
		/* exactly one each, and the reopened one was created */
		{
			int nn = 0, ne = 0;

			for (i = 0; i < k->n; i++) {
				nn += k->r[i].event == ZW_EV_NEW &&
				      k->r[i].sport == 46300;
				ne += k->r[i].event == ZW_EV_END &&
				      k->r[i].sport == 46300;
			}
			CU_ASSERT_EQUAL(ne, 1);
			CU_ASSERT(nn == 1 || nn == 2); /* the 2nd may lag */
		}
	}
	{
		/* a long-lived connection: an update record after the active
		 * timeout (1 s), with the counts so far */
		struct zt_pkt syn = tcp(OPS, JUMP, 46301, 22, SYN);
		struct zt_pkt sa = tcp(JUMP, OPS, 22, 46301, SYN | ACK);
		struct zt_pkt a = tcp(OPS, JUMP, 46301, 22, ACK);

		CU_ASSERT(one(0, &syn));
		CU_ASSERT(one(1, &sa));
		CU_ASSERT(one(0, &a));
		r = pull_until(be, k, ZW_EV_UPDATE, 46301, 4000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->packets, 3);
		CU_ASSERT_EQUAL(r->rev_packets, 1);
		CU_ASSERT_EQUAL(r->end_reason, ZW_END_ACTIVE);
		CU_ASSERT(r->ts_ns - r->start_ns >= 1000000000ull);
	}
	{
		/* denied probes: denied records; an unlogged flow's
		 * connection (F-002): none */
		struct zt_pkt d1 = tcp(JUMP, OPS, 46302, 22, SYN);
		struct zt_pkt d2 = tcp(JUMP, OPS, 46303, 3389, SYN);
		struct zt_pkt f2 = tcp(JUMP, ADM, 46304, 22, SYN);

		CU_ASSERT(!one(1, &d1));
		CU_ASSERT(!one(1, &d2));
		CU_ASSERT(one(0, &f2));
		r = pull_until(be, k, ZW_EV_DROP, 46302, 2000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->reason, ZW_DROP_NO_FLOW);
		r = pull_until(be, k, ZW_EV_DROP, 46303, 2000);
		CU_ASSERT_PTR_NOT_NULL(r);
		CU_ASSERT_PTR_NULL(find_rec(k, ZW_EV_NEW, 46304));
	}
	{
		/* log_all (zonewalld --log-all-flows), sent with PREPARE:
		 * F-002's connections are logged too */
		struct zt_pkt f2 = tcp(JUMP, ADM, 46305, 22, SYN);

		be->rec.log_all = true;
		CU_ASSERT_EQUAL_FATAL(zw_backend__apply(be, full, day, err,
							sizeof(err)), 0);
		CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(reply, " log_all=1"));
		CU_ASSERT(one(0, &f2));
		r = pull_until(be, k, ZW_EV_NEW, 46305, 2000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->flow, 1);
	}
	{
		/* a full ring: every record is either read or counted lost
		 * (emitted here by a worker of our own: the real one's staging
		 * buffer is its lcore's) */
		struct zw_flow_record x = { .event = ZW_EV_DROP, .engine = 2,
					    .sport = 7 };
		struct zw_worker *fw = rte_zmalloc("fake", sizeof(*fw),
						   RTE_CACHE_LINE_SIZE);
		uint64_t lost0, read = 0;
		const uint64_t N = 200000;
		int n;

		CU_ASSERT_EQUAL_FATAL(zw_backend_dpdk.stats(be, &es), 0);
		CU_ASSERT(es.has_records_lost);
		lost0 = es.records_lost;
		while (zw_backend_dpdk.records(be, sink_take, k, 4096) > 0)
			k->n = 0;
		k->n = 0;
		k->mine = 0;
		CU_ASSERT_PTR_NOT_NULL_FATAL(fw);
		for (uint64_t j = 0; j < N; j++)
			zw_worker__emit(fw, &x);
		zw_worker__flush(fw);
		/* (records of the live connection may come in between: only
		 * ours are counted) */
		while ((n = zw_backend_dpdk.records(be, sink_take, k, 4096)) > 0)
			k->n = 0;
		read = k->mine;
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT_EQUAL_FATAL(zw_backend_dpdk.stats(be, &es), 0);
		/* the ring refused some (counted by the worker that emitted
		 * them), the control thread's buffer overwrote others
		 * (records_lost, which may also hold an update record of the
		 * live connection above); nothing went missing uncounted */
		CU_ASSERT(fw->st.events_lost > 0);
		CU_ASSERT(read + fw->st.events_lost <= N);
		CU_ASSERT(read + fw->st.events_lost + (es.records_lost - lost0) >= N);
		CU_ASSERT(read + fw->st.events_lost + (es.records_lost - lost0) <=
			  N + 2);
		rte_free(fw);
		CU_ASSERT_EQUAL(ctl_status(path, reply, sizeof(reply)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(reply, " records_lost="));
	}
	zw_backend_dpdk.close(be);
	zw_ctl_server__stop();
	memset(&zw_eng.rec, 0, sizeof(zw_eng.rec));
	engine_end();
	zw_image__free(img);
	free(k);
}

/* UNLOAD (zonewalld's destroy): back to fail closed, then a policy again. */
static void test_unload(void)
{
	struct zt_pkt s = tcp(OPS, JUMP, 45000, 22, SYN);
	struct zt_pkt q = udp(JUMP, "10.2.0.8", 5001, 53);
	uint8_t arp[1][256] = { { 0 } };
	size_t len = 60;
	int passed;

	memset(arp[0], 0xff, 6);
	memcpy(arp[0] + 6, "\x02\0\0\0\0\x01\x08\x06", 8);
	CU_ASSERT_FATAL(engine_start(full, 4096) == 0);
	CU_ASSERT(one(0, &q));
	zw_engine__unload();
	CU_ASSERT_PTR_NULL(zw_eng.ctx);
	CU_ASSERT(!one(0, &s));
	CU_ASSERT(!one(0, &q));
	xfer(0, arp, &len, 1, &passed);
	CU_ASSERT_EQUAL(zw_eng.workers[0]->st.passed_nonip, 1);
	CU_ASSERT_EQUAL_FATAL(load(full), 0);
	CU_ASSERT(one(0, &s));
	CU_ASSERT(one(0, &q)); /* its old connection was re-checked: allowed */
	engine_end();
}

/* A flow with `rate: 2/s`: the third new connection within the second
 * from one source is dropped (RATE), another source is not affected. */
static void test_rate(void)
{
	char *y = malloc(strlen(yaml) + 64), *p;
	struct zw_image *img;
	int i, passed = 0;
	uint64_t r0;

	strcpy(y, yaml);
	p = strstr(y, "  - id: F-001\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p += strlen("  - id: F-001\n");
	memmove(p + 14, p, strlen(p) + 1);
	memcpy(p, "    rate: 2/s\n", 14);
	img = zt_compile(y, day, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL(img->flows[0].rate, 2);
	CU_ASSERT_FATAL(engine_start(img, 4096) == 0);
	r0 = drops(ZW_DROP_RATE);
	for (i = 0; i < 3; i++) {
		struct zt_pkt s = tcp(OPS, JUMP, (uint16_t)(44000 + i), 22, SYN);

		passed += one(0, &s);
	}
	CU_ASSERT_EQUAL(passed, 2);
	CU_ASSERT_EQUAL(drops(ZW_DROP_RATE), r0 + 1);
	{
		struct zt_pkt s = tcp("10.1.0.6", JUMP, 44000, 22, SYN);

		CU_ASSERT(one(0, &s));
	}
	engine_end();
	zw_image__free(img);
	free(y);
}

/* ---- L7 inspection (l7.c): the fast path against the oracle ---- */

#ifdef ZW_HAVE_L7
static const char l7_yaml[] =
	"zonewall: 1\n"
	"name: l7dpdk\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/24], isolate: true}\n"
	"  srv: {kind: servers, networks: [10.2.0.0/24]}\n"
	"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
	"services:\n"
	"  app: {proto: tcp, ports: [8080]}\n"
	"  rdns: {proto: udp, ports: [5353], inspect: dns}\n"
	"flows:\n"
	"  - id: F-1\n"
	"    from: ops\n"
	"    to: srv\n"
	"    services: [ssh, http, app, rdns]\n"
	"    compensating: lab\n"
	"    justification: admin\n";

/* The lab image, with a block-file measure on ops -> srv when @types. */
static struct zw_image *l7_image(uint32_t types)
{
	struct zw_fileblock fb = { .types = types, .from = "ops", .to = "srv" };
	struct zw_compile_opts o = { .fileblock = &fb, .n_fileblock = types ? 1 : 0 };

	return zt_compile_opts(l7_yaml, day, &o);
}

#define CLI "10.1.0.5"
#define SRV "10.2.0.9"
#define ISN_C 1000u
#define ISN_S 5000u

/* An Ethernet + IPv4 + TCP (or UDP: @proto 17) frame with @len bytes of
 * payload, checksums left zero (the engine does not verify them). */
static size_t seg4(uint8_t *f, int reply, uint8_t proto, uint16_t cport,
		   uint16_t sport, uint8_t flags, uint32_t seq,
		   const void *data, size_t len)
{
	size_t hl = proto == 6 ? 20 : 8, tot = 20 + hl + len;
	uint8_t *l4 = f + 34;
	uint16_t a = reply ? sport : cport, b = reply ? cport : sport;

	memset(f, 0, 14 + tot < 60 ? 60 : 14 + tot);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8), f[17] = (uint8_t)tot;
	f[22] = 64, f[23] = proto;
	inet_pton(AF_INET, reply ? SRV : CLI, f + 26);
	inet_pton(AF_INET, reply ? CLI : SRV, f + 30);
	l4[0] = (uint8_t)(a >> 8), l4[1] = (uint8_t)a;
	l4[2] = (uint8_t)(b >> 8), l4[3] = (uint8_t)b;
	if (proto == 6) {
		l4[4] = (uint8_t)(seq >> 24), l4[5] = (uint8_t)(seq >> 16);
		l4[6] = (uint8_t)(seq >> 8), l4[7] = (uint8_t)seq;
		l4[12] = 5 << 4;
		l4[13] = flags;
		l4[14] = 0xff, l4[15] = 0xff;
	} else {
		l4[4] = (uint8_t)((8 + len) >> 8), l4[5] = (uint8_t)(8 + len);
	}
	memcpy(l4 + hl, data, len);
	return 14 + tot < 60 ? 60 : 14 + tot;
}

/* One frame through @w in a burst of its own: 1 if it passed. */
static int l7_send(struct zw_worker *w, const struct zw_ctx *ctx,
		   const uint8_t *f, size_t len, uint64_t now)
{
	struct rte_mbuf *m = mk(f, len), *out[1];
	uint16_t n;

	CU_ASSERT_FATAL(m != NULL);
	n = zw_pipeline__burst(w, ctx, &m, 1, out, now);
	rte_pktmbuf_free_bulk(out, n);
	return n;
}

struct l7_step {
	int reply;	/* 1: server to client */
	uint8_t flags;	/* TCP flags */
	int32_t off;	/* sequence offset from the sender's ISN + 1 */
	const char *data;
	size_t len;
	int pass;	/* what this packet must do: 1 pass, 0 dropped, -1
			 * the oracle's verdict (the packet that decides) */
};

struct l7_case {
	const char *name;
	uint8_t proto;
	uint16_t port;
	const char *c2s; /* the streams as the oracle sees them */
	size_t c2s_len;
	const char *s2c;
	size_t s2c_len;
	struct l7_step st[10];
};

#define B(x) x, sizeof(x) - 1
#define SYNP { 0, SYN, -1, "", 0, 1 }
#define SYNACK { 1, SYN | ACK, -1, "", 0, 1 }
#define ACKP { 0, ACK, 0, "", 0, 1 }
#define ELF "\x7f" "ELF\x02\x01\x01\x00\x00\x00"
#define HTTP_ELF "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" ELF
#define HTTP_TXT "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n"
#define GET "GET /f HTTP/1.1\r\nHost: s\r\n\r\n"

static const struct l7_case l7_cases[] = {
	{ "ssh, right protocol", 6, 22, B("SSH-2.0-cli\r\n"), B("SSH-2.0-srv\r\n"),
	  { SYNP, SYNACK, ACKP, { 1, ACK, 0, B("SSH-2.0-srv\r\n"), 1 },
	    { 0, ACK, 0, B("SSH-2.0-cli\r\n"), -1 } } },
	{ "ssh port, HTTP sent", 6, 22, B(GET), B(""),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B(GET), -1 } } },
	{ "ssh, wrong server", 6, 22, B("SSH-2.0-cli\r\n"), B("220 smtp\r\n"),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B("SSH-2.0-cli\r\n"), 1 },
	    { 1, ACK, 0, B("220 smtp\r\n"), -1 } } },
	{ "ssh, split across packets", 6, 22, B("SSH-2.0-cli\r\n"),
	  B("SSH-2.0-srv\r\n"),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B("SSH-2."), 1 },
	    { 1, ACK, 0, B("SSH-2.0-s"), 1 }, { 0, ACK, 6, B("0-cli\r\n"), 1 },
	    { 1, ACK, 9, B("rv\r\n"), -1 } } },
	{ "ssh, retransmitted and overlapping segments", 6, 22,
	  B("SSH-2.0-cli\r\n"), B("SSH-2.0-srv\r\n"),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B("SSH-2.0-"), 1 },
	    { 0, ACK, 0, B("SSH-2.0-"), 1 }, /* retransmission: passes */
	    { 0, ACK, 0, B("SSH-2.0-cl"), 1 }, /* overlap: the new bytes */
	    { 1, ACK, 0, B("SSH-2.0-srv\r\n"), 1 },
	    { 0, ACK, 10, B("i\r\n"), -1 } } },
	{ "ssh, retransmission of a wrong protocol after a good start", 6, 22,
	  B("SSH-2.0-cli\r\n1\r\n"), B("SSH-2.0-srv\r\n"),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B("SSH-2.0-cli\r\n"), 1 },
	    /* a "retransmission" with other bytes is not fed again */
	    { 0, ACK, 0, B("GET / HTTP/1.1\r\n"), 1 },
	    { 1, ACK, 0, B("SSH-2.0-srv\r\n"), -1 } } },
	{ "ssh, empty first segments", 6, 22, B("SSH-2.0-cli\r\n"),
	  B("SSH-2.0-srv\r\n"),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B(""), 1 }, { 1, ACK, 0, B(""), 1 },
	    { 1, ACK, 0, B("SSH-2.0-srv\r\n"), 1 },
	    { 0, ACK, 0, B("SSH-2.0-cli\r\n"), -1 } } },
	{ "ssh, empty first segment then wrong protocol", 6, 22, B("hello\r\n"),
	  B(""),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B(""), 1 },
	    { 0, ACK, 0, B("hello\r\n"), -1 } } },
	{ "ssh, data before the handshake ends", 6, 22, B("SSH-2.0-cli\r\n"),
	  B("SSH-2.0-srv\r\n"),
	  { SYNP, { 0, ACK, 0, B("SSH-2.0-cli\r\n"), 1 }, /* fed */
	    { 1, ACK, 0, B("SSH-2.0-srv\r\n"), 0 }, /* before its SYN-ACK */
	    SYNACK, { 1, ACK, 0, B("SSH-2.0-srv\r\n"), -1 } } },
	{ "ssh, wrong protocol before the handshake ends", 6, 22,
	  B("GET / HTTP/1.0\r\n\r\n"), B(""),
	  { SYNP, { 0, ACK, 0, B("GET / HTTP/1.0\r\n\r\n"), -1 },
	    { 1, SYN | ACK, -1, "", 0, 0 } /* cut: even its SYN-ACK */ } },
	{ "ssh, data in the SYN-ACK: held", 6, 22, B("SSH-2.0-cli\r\n"),
	  B("SSH-2.0-srv\r\n"),
	  { SYNP, { 1, SYN | ACK, -1, B("SSH-2.0-srv\r\n"), 0 }, SYNACK, ACKP,
	    { 1, ACK, 0, B("SSH-2.0-srv\r\n"), 1 },
	    { 0, ACK, 0, B("SSH-2.0-cli\r\n"), -1 } } },
	{ "ssh, data in the SYN: refused", 6, 22, B("SSH-2.0-cli\r\n"), B(""),
	  { { 0, SYN, -1, B("SSH-2.0-cli\r\n"), 0 }, SYNP, ACKP,
	    { 0, ACK, 0, B("SSH-2.0-cli\r\n"), -1 } } },
	{ "ssh, a hole: held until sent again", 6, 22, B("SSH-2.0-cli\r\n"),
	  B("SSH-2.0-srv\r\n"),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 8, B("cli\r\n"), 0 },
	    { 0, ACK, 0, B("SSH-2.0-"), 1 }, { 1, ACK, 0, B("SSH-2.0-srv\r\n"), 1 },
	    { 0, ACK, 8, B("cli\r\n"), -1 } } },
	{ "http, right protocol", 6, 80, B(GET), B(HTTP_TXT),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B(GET), 1 },
	    { 1, ACK, 0, B(HTTP_TXT), -1 } } },
	{ "http port, SSH sent", 6, 80, B("SSH-2.0-cli\r\n"), B(""),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B("SSH-2.0-cli\r\n"), -1 } } },
	{ "plain tcp, not inspected", 6, 8080, B("anything"), B(ELF),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B("anything"), 1 },
	    { 1, ACK, 0, B(ELF), -1 } } },
	{ "dns over udp, right protocol", 17, 5353,
	  B("\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
	  B("\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"),
	  { { 0, 0, 0, B("\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"), 1 },
	    { 1, 0, 0, B("\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"), -1 } } },
	{ "dns over udp, wrong protocol", 17, 5353, B("hello there!"), B(""),
	  { { 0, 0, 0, B("hello there!"), -1 } } },
};

/* The same, during a block-file executable crisis on ops -> srv. */
static const struct l7_case l7_file_cases[] = {
	{ "http, ELF download", 6, 80, B(GET), B(HTTP_ELF),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B(GET), 1 },
	    { 1, ACK, 0, B(HTTP_ELF), -1 } } },
	{ "http, ELF download, magic split across packets", 6, 80, B(GET),
	  B(HTTP_ELF),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B(GET), 1 },
	    { 1, ACK, 0, B("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\x7f" "E"), 1 },
	    { 1, ACK, 41, B("LF\x02\x01\x01\x00\x00\x00"), -1 } } },
	{ "http, text download", 6, 80, B(GET), B(HTTP_TXT),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B(GET), 1 },
	    { 1, ACK, 0, B(HTTP_TXT), -1 } } },
	{ "plain tcp, ELF at the stream start", 6, 8080, B("x"), B(ELF),
	  { SYNP, SYNACK, ACKP, { 0, ACK, 0, B("x"), 1 },
	    { 1, ACK, 0, B(ELF), -1 } } },
	{ "ssh during the crisis (encrypted: no file seen)", 6, 22,
	  B("SSH-2.0-cli\r\n"), B("SSH-2.0-srv\r\n"),
	  { SYNP, SYNACK, ACKP, { 1, ACK, 0, B("SSH-2.0-srv\r\n"), 1 },
	    { 0, ACK, 0, B("SSH-2.0-cli\r\n"), -1 } } },
};

/* The record's l7_seen for the oracle's result (flow_record.h): 1 + the
 * file type, or 1 + the index of the protocol seen in zw_inspect_names. */
static uint8_t l7_seen_want(const struct zw_l7_result *r)
{
	if (r->reason == ZW_DROP_FILE_TYPE)
		return r->ftype >= 0 ? (uint8_t)(r->ftype + 1) : 0;
	for (unsigned i = 0; r->seen >= 0 && zw_inspect_names[i]; i++)
		if (!strcmp(zw_inspect_names[i], zw_l7_proto__name(r->seen)))
			return (uint8_t)(i + 1);
	return 0;
}

/*
 * Each case's packets one burst at a time through a worker's pipeline,
 * then a probe (one more in-sequence client segment): the connection
 * lives iff the oracle (zw_l7__eval on the streams) allows it; the packet
 * that decides and the probe are dropped with the oracle's reason, counted
 * in the flow's drops; held and retransmitted segments as the case says.
 */
static void run_l7_cases(const struct zw_image *img, const struct l7_case *cs,
			 size_t n, uint16_t port0)
{
	struct zw_ctx *ctx = tctx(img, 700);
	struct zw_worker *w = tw_new(4096);
	struct zw_l7_db *db;
	char err[256];
	const uint64_t t0 = 5000000000000ull;
	uint64_t now = t0;

	db = zw_l7_db__new(err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	/* the denied records go to the engine's ring (none in a private
	 * worker otherwise) */
	CU_ASSERT_PTR_NULL_FATAL(zw_eng.events);
	zw_eng.events = rte_ring_create_elem("zt_l7ev",
					     sizeof(struct zw_flow_record),
					     4096, 0, RING_F_SC_DEQ);
	CU_ASSERT_PTR_NOT_NULL_FATAL(zw_eng.events);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_FATAL(ctx->l7);
	for (size_t i = 0; i < n; i++) {
		const struct l7_case *c = &cs[i];
		uint16_t cport = (uint16_t)(port0 + i);
		struct zw_query q = { .family = 4, .proto = c->proto,
				      .port = c->port, .day = day };
		struct zw_l7_result r;
		uint64_t d0[ZW_DROP__COUNT];
		struct zw_flow_counters fc0, fc1;
		uint32_t next_c = 0;
		int bad = 0, probe, decided = 0, cut_drops = 1; /* + probe */
		uint8_t f[1600];
		size_t len;

		v4(q.src, CLI);
		v4(q.dst, SRV);
		CU_ASSERT_EQUAL_FATAL(zw_l7__eval(img, db, &q, c->c2s, c->c2s_len,
						  c->s2c, c->s2c_len, &r), 0);
		memcpy(d0, w->st.drops, sizeof(d0));
		zw_ctx__flow_total(ctx, 0, &fc0);
		for (int k = 0; k < 10 && (c->st[k].flags || c->st[k].len); k++) {
			const struct l7_step *s = &c->st[k];
			uint32_t isn = s->reply ? ISN_S : ISN_C;
			uint32_t seq = s->off < 0 ? isn : isn + 1 + (uint32_t)s->off;
			int want = s->pass < 0 ? r.allow : s->pass, got;

			len = seg4(f, s->reply, c->proto, cport, c->port, s->flags,
				   seq, s->data, s->len);
			got = l7_send(w, ctx, f, len, now += 1000);
			if (got != want) {
				fprintf(stderr, "\n%s: step %d %s, expected %s\n",
					c->name, k, got ? "passed" : "dropped",
					want ? "pass" : "drop");
				bad++;
			}
			if (!r.allow && (s->pass < 0 || decided) && !want)
				cut_drops++;
			if (s->pass < 0)
				decided = 1;
			if (!s->reply && s->off >= 0 &&
			    (uint32_t)s->off + s->len > next_c)
				next_c = (uint32_t)s->off + (uint32_t)s->len;
		}
		/* the probe: is the connection alive? */
		len = seg4(f, 0, c->proto, cport, c->port, ACK,
			   ISN_C + 1 + next_c, "z", 1);
		probe = l7_send(w, ctx, f, len, now += 1000);
		if (probe != r.allow) {
			fprintf(stderr, "\n%s: connection %s, oracle %s (reason %u, "
				"l7 %d, seen %d, file %d)\n", c->name,
				probe ? "alive" : "cut", r.allow ? "allows" : "denies",
				r.reason, r.l7, r.seen, r.ftype);
			bad++;
		}
		if (!r.allow) {
			/* the deciding packet and the probe, by its reason,
			 * and in the flow's drops */
			CU_ASSERT_EQUAL(w->st.drops[r.reason] - d0[r.reason],
					(uint64_t)cut_drops);
			zw_ctx__flow_total(ctx, 0, &fc1);
			CU_ASSERT_EQUAL(fc1.drops - fc0.drops, (uint64_t)cut_drops);
		}
		{
			/* one denied record, the cut, with its reason and flow
			 * (later packets' records are sampled: none here) */
			struct zw_flow_record ev;
			int n_drop = 0;

			while (!rte_ring_sc_dequeue_elem(zw_eng.events, &ev,
							 sizeof(ev))) {
				if (ev.event != ZW_EV_DROP)
					continue;
				n_drop++;
				CU_ASSERT_EQUAL(ev.reason, r.reason);
				/* what the cut saw, as the oracle saw it */
				CU_ASSERT_EQUAL(ev.l7_seen, l7_seen_want(&r));
				CU_ASSERT_EQUAL(ev.flow, 0);
				CU_ASSERT(ev.dport == c->port ||
					  ev.sport == c->port);
			}
			CU_ASSERT_EQUAL(n_drop, r.allow ? 0 : 1);
		}
		CU_ASSERT_EQUAL(bad, 0);
	}
	/* every judged or cut connection gave its slot back: only those
	 * still watched (HTTP under a block-file measure) hold one */
	CU_ASSERT(zw_l7__used(0) <= 3);
	tw_free(w);
	zw_ctx__free(ctx);
	zw_l7_db__free(db);
	zw_l7__fini();
	rte_ring_free(zw_eng.events);
	zw_eng.events = NULL;
}

static void test_l7_oracle(void)
{
	struct zw_image *img = l7_image(0), *fimg = l7_image(ZW_FT_EXECUTABLE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fimg);
	zw_l7_opts.off = false;
	zw_l7_opts.conns = ZW_L7_CONNS_DEFAULT;
	run_l7_cases(img, l7_cases, sizeof(l7_cases) / sizeof(l7_cases[0]),
		     41000);
	run_l7_cases(fimg, l7_file_cases,
		     sizeof(l7_file_cases) / sizeof(l7_file_cases[0]), 42000);
	zw_l7_opts.off = true;
	zw_image__free(img);
	zw_image__free(fimg);
}

/*
 * A bounded pool per worker: when every slot is taken, a new inspected
 * connection is refused (fail closed: dropped, counted), an uninspected
 * one still opens, and a slot comes back when its connection is judged,
 * cut or removed.
 */
static void test_l7_pool_full(void)
{
	struct zw_image *img = l7_image(0);
	struct zw_ctx *ctx;
	struct zw_worker *w = tw_new(1024);
	const uint64_t s = 1000000000ull;
	uint64_t now = 7000 * s, full0;
	uint8_t f[256];
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	zw_l7__fini();
	zw_l7_opts.off = false;
	zw_l7_opts.conns = 2;
	CU_ASSERT_PTR_NULL_FATAL(zw_eng.events);
	zw_eng.events = rte_ring_create_elem("zt_l7ev2",
					     sizeof(struct zw_flow_record),
					     1024, 0, RING_F_SC_DEQ);
	CU_ASSERT_PTR_NOT_NULL_FATAL(zw_eng.events);
	ctx = tctx(img, 800);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_EQUAL(zw_l7__size(0), 2);
	full0 = w->st.drops[ZW_DROP_TABLE_FULL];
	for (uint16_t p = 0; p < 2; p++) {
		len = seg4(f, 0, 6, (uint16_t)(43000 + p), 22, SYN, ISN_C, "", 0);
		CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 1);
	}
	CU_ASSERT_EQUAL(zw_l7__used(0), 2);
	/* exhausted: the third inspected connection is refused */
	len = seg4(f, 0, 6, 43002, 22, SYN, ISN_C, "", 0);
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 0);
	CU_ASSERT_EQUAL(w->st.l7_pool_full, 1);
	CU_ASSERT_EQUAL(w->st.drops[ZW_DROP_TABLE_FULL] - full0, 1);
	/* its retransmitted SYN too (no entry was made) */
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 0);
	CU_ASSERT_EQUAL(w->st.l7_pool_full, 2);
	/* an uninspected connection opens */
	len = seg4(f, 0, 6, 43003, 8080, SYN, ISN_C, "", 0);
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 1);
	/* the first is judged (both banners): its slot comes back */
	len = seg4(f, 1, 6, 43000, 22, SYN | ACK, ISN_S, "", 0);
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 1);
	len = seg4(f, 0, 6, 43000, 22, ACK, ISN_C + 1, B("SSH-2.0-a\r\n"));
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 1);
	len = seg4(f, 1, 6, 43000, 22, ACK, ISN_S + 1, B("SSH-2.0-b\r\n"));
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 1);
	CU_ASSERT_EQUAL(w->st.l7_judged, 1);
	CU_ASSERT_EQUAL(zw_l7__used(0), 1);
	/* fast path: more data passes, no slot taken */
	len = seg4(f, 0, 6, 43000, 22, ACK, ISN_C + 12, B("\x00\x00\x01\x0c"));
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 1);
	CU_ASSERT_EQUAL(zw_l7__used(0), 1);
	/* so the refused one may open now */
	len = seg4(f, 0, 6, 43002, 22, SYN, ISN_C, "", 0);
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 1);
	CU_ASSERT_EQUAL(zw_l7__used(0), 2);
	/* a cut gives its slot back too */
	len = seg4(f, 0, 6, 43001, 22, ACK, ISN_C + 1, B("GET / HTTP/1.1\r\n"));
	CU_ASSERT_EQUAL(l7_send(w, ctx, f, len, now += 1000), 0);
	CU_ASSERT_EQUAL(w->st.l7_cut, 1);
	CU_ASSERT_EQUAL(zw_l7__used(0), 1);
	/* and so does an entry's removal (expiry of the pending SYN) */
	zw_ctab__expire_ctx(&w->t4, w, ctx, now + 200 * s, w->t4.nslots);
	CU_ASSERT_EQUAL(zw_l7__used(0), 0);
	tw_free(w);
	zw_ctx__free(ctx);
	zw_l7__fini();
	zw_l7_opts.conns = ZW_L7_CONNS_DEFAULT;
	zw_l7_opts.off = true;
	zw_image__free(img);
	rte_ring_free(zw_eng.events);
	zw_eng.events = NULL;
}

/*
 * A policy swap (a new context, as PREPARE/COMMIT builds it) hands the
 * Hyperscan database and the pools on: a connection under inspection
 * keeps its state and is judged by it under the new policy, and one
 * judged before stays fast-pathed.
 */
static void test_l7_swap(void)
{
	struct zw_image *img = l7_image(0);
	struct zw_ctx *c1, *c2;
	struct zw_worker *w = tw_new(1024);
	uint64_t now = 9000000000000ull;
	uint8_t f[256];
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	zw_l7_opts.off = false;
	CU_ASSERT_PTR_NULL_FATAL(zw_eng.events);
	zw_eng.events = rte_ring_create_elem("zt_l7ev3",
					     sizeof(struct zw_flow_record),
					     1024, 0, RING_F_SC_DEQ);
	CU_ASSERT_PTR_NOT_NULL_FATAL(zw_eng.events);
	c1 = tctx(img, 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
	/* A: judged under c1; B, C: pending (client banner only) */
	for (uint16_t cp = 44000; cp < 44003; cp++) {
		len = seg4(f, 0, 6, cp, 22, SYN, ISN_C, "", 0);
		CU_ASSERT_EQUAL(l7_send(w, c1, f, len, now += 1000), 1);
		len = seg4(f, 1, 6, cp, 22, SYN | ACK, ISN_S, "", 0);
		CU_ASSERT_EQUAL(l7_send(w, c1, f, len, now += 1000), 1);
		len = seg4(f, 0, 6, cp, 22, ACK, ISN_C + 1, B("SSH-2.0-a\r\n"));
		CU_ASSERT_EQUAL(l7_send(w, c1, f, len, now += 1000), 1);
	}
	len = seg4(f, 1, 6, 44000, 22, ACK, ISN_S + 1, B("SSH-2.0-b\r\n"));
	CU_ASSERT_EQUAL(l7_send(w, c1, f, len, now += 1000), 1);
	CU_ASSERT_EQUAL(zw_l7__used(0), 2);
	c2 = tctx(img, 1001); /* the swap: c1 retired */
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	zw_ctx__free(c1);
	CU_ASSERT_EQUAL(zw_l7__used(0), 2);
	/* B passes, judged by the state begun under c1 */
	len = seg4(f, 1, 6, 44001, 22, ACK, ISN_S + 1, B("SSH-2.0-b\r\n"));
	CU_ASSERT_EQUAL(l7_send(w, c2, f, len, now += 1000), 1);
	CU_ASSERT_EQUAL(w->st.l7_judged, 2);
	/* C is cut: its server is not SSH */
	len = seg4(f, 1, 6, 44002, 22, ACK, ISN_S + 1, B("220 smtp\r\n"));
	CU_ASSERT_EQUAL(l7_send(w, c2, f, len, now += 1000), 0);
	CU_ASSERT_EQUAL(w->st.l7_cut, 1);
	CU_ASSERT_EQUAL(zw_l7__used(0), 0);
	/* A stays on the fast path */
	len = seg4(f, 0, 6, 44000, 22, ACK, ISN_C + 12, B("\x00\x00\x00\x0c"));
	CU_ASSERT_EQUAL(l7_send(w, c2, f, len, now += 1000), 1);
	tw_free(w);
	zw_ctx__free(c2);
	zw_l7__fini();
	zw_l7_opts.off = true;
	zw_image__free(img);
	rte_ring_free(zw_eng.events);
	zw_eng.events = NULL;
}

/* --no-l7 refuses a block-file measure; an image whose inspected service
 * cannot be checked over its transport is refused, the flow named. */
static void test_l7_refusals(void)
{
	static const char bad_yaml[] =
		"zonewall: 1\n"
		"name: l7bad\n"
		"zones:\n"
		"  ops: {kind: operations, networks: [10.1.0.0/24], isolate: true}\n"
		"  srv: {kind: servers, networks: [10.2.0.0/24]}\n"
		"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
		"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
		"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
		"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
		"services:\n"
		"  ussh: {proto: udp, ports: [2222], inspect: ssh}\n"
		"flows:\n"
		"  - id: F-UDP\n"
		"    from: ops\n"
		"    to: srv\n"
		"    services: [ussh]\n"
		"    justification: test\n";
	struct zw_image *fimg = l7_image(ZW_FT_EXECUTABLE);
	struct zw_image *bimg = zt_compile(bad_yaml, day, NULL, 0), *copy;
	struct zw_ctx *ctx;
	char err[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(fimg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bimg);
	zw_l7_opts.off = true;
	copy = zw_image__open(fimg->bytes, fimg->size, NULL, 0);
	ctx = zw_ctx__new(copy, day, 900, 1, err, sizeof(err));
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "block-file"));
	zw_ctx__free(ctx);
	if (!ctx)
		zw_image__free(copy);
	zw_l7_opts.off = false;
	copy = zw_image__open(bimg->bytes, bimg->size, NULL, 0);
	ctx = zw_ctx__new(copy, day, 901, 1, err, sizeof(err));
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "F-UDP"));
	zw_ctx__free(ctx);
	if (!ctx)
		zw_image__free(copy);
	zw_l7__fini();
	zw_l7_opts.off = true;
	zw_image__free(fimg);
	zw_image__free(bimg);
}
#endif

/* An image with a probe naming no mirror port of the engine (here: it
 * has none) is refused where its context is built, naming the probe:
 * PREPARE (the daemon's commit) and the start-up policy alike; the
 * enforced policy and its generation are unchanged. */
static void test_probes_refused(void)
{
	const char *src = getenv("ZONEWALL_SRCDIR");
	char path[512], err[512] = "", sha[65];
	char *base, *text;
	struct zw_image *img, *copy;
	uint32_t gen = zw_eng.generation;

	snprintf(path, sizeof(path), "%s/matrix/examples/minimal.yaml",
		 src ? src : ".");
	base = read_file(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	text = malloc(strlen(base) + 128);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	sprintf(text, "%s\nprobes:\n  ids: {interface: mirror0, zones: [jump]}\n",
		base);
	img = zt_compile(text, day, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	CU_ASSERT_EQUAL(img->n_probes, 1);
	copy = zw_image__open(img->bytes, img->size, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	CU_ASSERT_PTR_NULL(zw_ctx__new(copy, day, 900, 1, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "probe 'ids' (interface mirror0)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "DPDK"));
	zw_image__free(copy);
	err[0] = '\0';
	CU_ASSERT_NOT_EQUAL(zw_engine__prepare(img->bytes, img->size, day, sha,
					       err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "probe 'ids'"));
	CU_ASSERT_EQUAL(zw_eng.generation, gen);
	zw_image__free(img);
	free(text);
	free(base);
}

/* The tags of what the mirror port sent since the last call, as a bit
 * set of packet numbers (tag - 1000 * run_id - 1); -1 on a packet
 * without a tag or sent twice. */
static int64_t mirrored_tags(void)
{
	struct rte_mbuf *m;
	int64_t set = 0;

	while (rte_ring_sc_dequeue(tx_m, (void **)&m) == 0) {
		uint32_t tag = zt_frame_tag(rte_pktmbuf_mtod(m, uint8_t *),
					    rte_pktmbuf_data_len(m));
		uint32_t k = tag - 1000u * (uint32_t)run_id - 1;

		if (tag == UINT32_MAX || k >= 63 || (set >> k & 1))
			set = -1;
		if (set >= 0)
			set |= (int64_t)1 << k;
		rte_pktmbuf_free(m);
	}
	return set;
}

/* Packet number @k of the mirror test, its tag set. */
static int send_k(int side, struct zt_pkt p, uint32_t k)
{
	uint8_t f[1][256];
	size_t len;
	int passed;

	p.tag = 1000u * (uint32_t)run_id + 1 + k;
	len = zt_frame(&p, f[0], sizeof(f[0]));
	return xfer(side, f, &len, 1, &passed); /* frames that left */
}

/*
 * Mirroring (docs/dpdk-engine.md "Probes"): a probe watching `adm` on the
 * mirror port receives, for `traffic: all`, every packet to or from adm
 * whatever its verdict (a connection both ways, a denied opening, an ACK
 * of no connection, a denied one from another zone), and nothing of a
 * connection between two other zones; for `traffic: allowed` only the
 * forwarded ones. Each once, unmodified; the counters say so. The
 * interface is mapped by --mirror-port IF=PORT (alias), then named by the
 * port's device name.
 */
static void mirror_run(const char *traffic, const char *iface,
		       const char *alias)
{
	const char *src = getenv("ZONEWALL_SRCDIR");
	char path[512], *base, *text;
	struct zw_image *img;
	int all = !strcmp(traffic, "all");
	struct {
		int side;
		struct zt_pkt p;
		int pass, watched;
	} seq[] = {
		/* jump -> adm ssh, allowed (F-002), both directions */
		{ 0, tcp(JUMP, ADM, 41000, 22, SYN), 1, 1 },
		{ 1, tcp(ADM, JUMP, 22, 41000, SYN | ACK), 1, 1 },
		{ 0, tcp(JUMP, ADM, 41000, 22, ACK), 1, 1 },
		{ 1, tcp(ADM, JUMP, 22, 41000, ACK), 1, 1 },
		/* ops -> jump ssh, allowed, unwatched zones */
		{ 0, tcp(OPS, JUMP, 41001, 22, SYN), 1, 0 },
		{ 1, tcp(JUMP, OPS, 22, 41001, SYN | ACK), 1, 0 },
		{ 0, tcp(OPS, JUMP, 41001, 22, ACK), 1, 0 },
		/* denied: adm -> jump (no flow), an ACK of no connection to
		 * adm, ops -> adm (no flow); and unwatched denied */
		{ 1, tcp(ADM, JUMP, 41002, 22, SYN), 0, 1 },
		{ 0, tcp(JUMP, ADM, 41003, 22, ACK), 0, 1 },
		{ 0, tcp(OPS, ADM, 41004, 22, SYN), 0, 1 },
		{ 1, tcp(JUMP, OPS, 41005, 22, SYN), 0, 0 },
	};
	unsigned n = sizeof(seq) / sizeof(seq[0]), k;
	int64_t want = 0, got;
	uint64_t sel = 0;

	snprintf(path, sizeof(path), "%s/matrix/examples/minimal.yaml",
		 src ? src : ".");
	base = read_file(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	text = malloc(strlen(base) + 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	sprintf(text, "%s\nprobes:\n  ids: {interface: %s, zones: [adm], "
		      "traffic: %s}\n", base, iface, traffic);
	img = zt_compile(text, day, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	mirror_alias = alias;
	CU_ASSERT_FATAL(engine_start(img, 4096) == 0);
	mirror_alias = NULL;
	for (k = 0; k < n; k++) {
		if (seq[k].p.tcp_flags == SYN) /* an opening: the oracle's */
			CU_ASSERT_EQUAL(oracle_allows(img, &seq[k].p),
					seq[k].pass);
		CU_ASSERT_EQUAL(send_k(seq[k].side, seq[k].p, k), seq[k].pass);
		if (seq[k].watched && (seq[k].pass || all)) {
			want |= (int64_t)1 << k;
			sel++;
		}
	}
	got = mirrored_tags();
	CU_ASSERT_EQUAL(got, want);
	if (got != want)
		fprintf(stderr, "mirror (%s): got %#llx want %#llx\n", traffic,
			(long long)got, (long long)want);
	CU_ASSERT_EQUAL(zw_eng.workers[0]->st.mirrored, sel);
	CU_ASSERT_EQUAL(zw_eng.workers[0]->st.mirror_drops, 0);
	engine_end();
	zw_image__free(img);
	free(text);
	free(base);
}

static void test_mirror(void)
{
	char name[32], sha[65];

	mirror_run("all", "probe0", "probe0");
	mirror_run("allowed", "probe0", "probe0");
	/* no alias: the probe names the port's device (net_ring_ztm<run>,
	 * the next run's) */
	snprintf(name, sizeof(name), "net_ring_ztm%d", run_id + 1);
	mirror_run("all", name, "");
	/* a probe naming another interface than the mirror port: refused
	 * at start-up, naming it */
	{
		const char *src = getenv("ZONEWALL_SRCDIR");
		char path[512], err[512] = "", *base, *text;
		struct zw_image *img;

		snprintf(path, sizeof(path), "%s/matrix/examples/minimal.yaml",
			 src ? src : ".");
		base = read_file(path);
		CU_ASSERT_PTR_NOT_NULL_FATAL(base);
		text = malloc(strlen(base) + 256);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		sprintf(text, "%s\nprobes:\n  ids: {interface: probe0, "
			      "zones: [adm]}\n  soc: {interface: probe9, "
			      "zones: [jump]}\n", base);
		img = zt_compile(text, day, NULL, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(img);
		mirror_alias = "probe0";
		CU_ASSERT_FATAL(engine_start(full, 4096) == 0);
		mirror_alias = NULL;
		CU_ASSERT_NOT_EQUAL(zw_engine__prepare(img->bytes, img->size,
						       day, sha, err,
						       sizeof(err)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "probe 'soc' (interface probe9)"));
		engine_end();
		zw_image__free(img);
		free(text);
		free(base);
	}
}

int main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "1024", "--no-shconf",
			"--no-pci", "-l", "0-1", "--log-level", "lib.eal:error",
			NULL };
	const char *src = getenv("ZONEWALL_SRCDIR");
	char path[1024];
	CU_pSuite s;
	unsigned fails;

	(void)argc;
	if (geteuid() != 0) {
		printf("SKIP: needs root for DPDK's EAL\n");
		return 77;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("SKIP-HARDWARE: needs 2 CPUs (a worker lcore beside the main one)\n");
		return 77;
	}
	if (rte_eal_init(10, eal) < 0) {
		printf("SKIP: DPDK EAL init failed (no-huge, 2 lcores)\n");
		return 77;
	}
	if (rte_lcore_count() < 2) {
		printf("SKIP: needs 2 lcores\n");
		return 77;
	}
	day = zt_today();
	/* The L3/L4 tests send "ZT"+tag payloads, no service's protocol: L7
	 * inspection off for them (as zonewall-dpdk --no-l7); the L7 tests
	 * turn it on for themselves. */
	zw_l7_opts.off = true;
	snprintf(path, sizeof(path), "%s/matrix/examples/minimal.yaml",
		 src ? src : ".");
	yaml = read_file(path);
	full = yaml ? zt_compile(yaml, day, NULL, 0) : NULL;
	if (!full) {
		fprintf(stderr, "cannot compile %s\n", path);
		return 1;
	}
	pool = rte_pktmbuf_pool_create("zt_pool", 32767, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!pool) {
		fprintf(stderr, "no test mempool\n");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("dpdk_engine", NULL, NULL);
	CU_add_test(s, "stateful sequences (handshake, replies, unsolicited)",
		    test_stateful);
	CU_add_test(s, "ICMP errors and fragments", test_icmp_frag);
	CU_add_test(s, "flow removal cuts a live connection mid-stream",
		    test_flow_removal);
	CU_add_test(s, "swap under load: no burst judged by a mix",
		    test_swap_under_load);
	CU_add_test(s, "table full: early drop of embryonic entries",
		    test_table_full);
	CU_add_test(s, "flow rate limit per source (GCRA)", test_rate);
	CU_add_test(s, "unload: fail closed, then load again", test_unload);
	CU_add_test(s, "a probe naming no mirror port is refused",
		    test_probes_refused);
	CU_add_test(s, "mirroring to probes: exactly the selected packets",
		    test_mirror);
	CU_add_test(s, "flow records through the rte_ring", test_records);
	CU_add_test(s, "records through the control socket, as zonewalld reads them",
		    test_records_daemon_path);
	CU_add_test(s, "END records for every end of a logged connection",
		    test_end_records);
	CU_add_test(s, "connection timeouts (expiry scan)", test_expiry);
	CU_add_test(s, "an expired entry is no connection, scanned or not",
		    test_expired_lookup);
	CU_add_test(s, "entries gone earlier in the burst: judged anew",
		    test_burst_rejudge);
	CU_add_test(s, "per-flow bytes are IP bytes", test_counter_bytes);
	CU_add_test(s, "table full: a half-closed connection is not evicted",
		    test_table_full_half_closed);
	CU_add_test(s, "control socket: refused LOAD, bad numbers, idle client",
		    test_control_socket);
	CU_add_test(s, "control socket: per-request deadline, slow clients",
		    test_control_deadline);
	CU_add_test(s, "control socket path: only a stale socket is replaced",
		    test_control_path);
	CU_add_test(s, "RSS key: symmetric hash on addresses", test_rss_symmetric);
	CU_add_test(s, "connection key: the core's normalised tuple",
		    test_conn_key_is_core);
	CU_add_test(s, "shared corpus across policy swaps (3 phases)",
		    test_corpus_phases);
#ifdef ZW_HAVE_L7
	CU_add_test(s, "L7: payloads against the oracle (inspect:, block-file)",
		    test_l7_oracle);
	CU_add_test(s, "L7: pool exhausted, fail closed; slots come back",
		    test_l7_pool_full);
	CU_add_test(s, "L7: a policy swap keeps connections under inspection",
		    test_l7_swap);
	CU_add_test(s, "L7: refusals (--no-l7 and block-file, uncheckable)",
		    test_l7_refusals);
#endif
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	zw_image__free(full);
	free(yaml);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return fails ? 1 : 0;
}
