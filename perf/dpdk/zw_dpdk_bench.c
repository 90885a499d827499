// SPDX-License-Identifier: BSD-2-Clause
/*
 * zonewall-dpdk pipeline benchmark, figures side by side in one run:
 *
 *  - the full pipeline (parse, connection lookup, state, counters; LPM and
 *    ACL for new connections) on one core with packets from memory, for
 *    IPv4 and IPv6 minimum-size frames, matrices of 10 / 1 000 / 10 000
 *    flows (tests/gen), 1 000 and 1 000 000 live connections;
 *  - beside it, the baseline: rte_acl alone classifying the same packets
 *    against the equivalent 5-tuple rule set (zone prefixes expanded),
 *    directly on the packet headers (l3fwd-acl style), no state, no
 *    counters;
 *  - the same with the connection tables on transparent huge pages (an
 *    external DPDK heap), to tell page walks from cache misses;
 *  - the ns/packet budget: parse, connection lookup (bulk rte_hash), zone
 *    LPM, rte_acl, counters, measured stage by stage on the same packets;
 *  - new, denied connections (every packet goes through LPM and ACL);
 *  - the real worker loop through ports: net_ring rx -> net_null tx.
 *
 *  - --mirror: the cost of mirroring to probes for packets it does not
 *    copy: established ns/packet with a probe watching a zone none of the
 *    connections touches, beside the same policy without probes, same run.
 *
 *  - --l7: L7 inspection (`inspect: ssh`) beside an uninspected service,
 *    same flow, same run: ns/packet of a new connection's first packets
 *    (handshake and banners, judged on them) and of established ones
 *    (judged: fast path).
 *  - --logging: the cost of flow records (issue 11): the same traffic
 *    through a worker whose connections are all logged (log_all) and one
 *    whose connections are not, same run, interleaved, medians:
 *    established packets (the responder's counts kept beside the table),
 *    and a mix with new connections at about 1 000 000 records/s (a
 *    created record per new connection, an ended one per early drop of
 *    the oldest embryonic entry of a full table).
 *
 * Usage: zw-dpdk-bench [--quick] [--l7] [--logging] [--mirror]   (root for the EAL; --no-huge)
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_acl.h>
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "acl_layout.h"
#include "gen.h"
#include "rules.h"
#include "tmatrix.h"
#include "zw_conn.h"
#include "zw_parse.h"
#include "zwdpdk.h"

#define BURST ZW_BURST
#define REPS 5 /* every figure is the median of REPS runs */

static struct rte_mempool *pool;
static int32_t day;
static uint64_t hz;
static int quick;
static unsigned only_flows, only_family;
static uint32_t only_conns;
static int denied_rounds = 64;
static struct rte_ring *bench_events;
static int thp = -1; /* socket of the THP heap, or < 0 */

/*
 * A malloc heap on transparent huge pages, to test whether page walks are
 * what a million connections cost: 2 MiB-aligned anonymous memory advised
 * MADV_HUGEPAGE, added to DPDK as an external heap (as testpmd's
 * --mp-alloc=xmem does), so that rte_hash and rte_zmalloc place the
 * connection tables there when given its socket id. -errno on failure.
 */
#define THP_PAGE (2u << 20)

static int thp_heap(size_t len)
{
	static const char name[] = "zw_thp";
	void *va;
	uintptr_t a;

	len = RTE_ALIGN_CEIL(len, THP_PAGE);
	va = mmap(NULL, len + THP_PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (va == MAP_FAILED)
		return -errno;
	a = RTE_ALIGN_CEIL((uintptr_t)va, THP_PAGE);
	if (a > (uintptr_t)va)
		munmap(va, a - (uintptr_t)va);
	munmap((void *)(a + len), (uintptr_t)va + THP_PAGE - a);
	va = (void *)a;
	if (madvise(va, len, MADV_HUGEPAGE) || rte_malloc_heap_create(name) ||
	    rte_malloc_heap_memory_add(name, va, len, NULL,
				       (unsigned)(len / THP_PAGE), THP_PAGE)) {
		int e = rte_errno ? -rte_errno : -errno;

		munmap(va, len);
		return e;
	}
	return rte_malloc_heap_get_socket(name);
}

/* Anonymous memory of this process in transparent huge pages, in MiB. */
static unsigned long thp_mib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	unsigned long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb / 1024;
}

static double ns_per(uint64_t cycles, uint64_t n)
{
	return (double)cycles * 1e9 / (double)hz / (double)n;
}

/* ---- matrix and traffic ---- */

static struct zw_image *gen_image(unsigned flows, struct zw_matrix **mout)
{
	struct zw_gen_opts o = { .seed = flows, .n_zones = 8 + flows / 80,
				 .n_flows = flows, .n_services = 20,
				 .ipv6 = true, .narrowing = true };
	char *y = zw_gen__matrix(&o);
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *bytes = NULL;
	size_t len = 0;
	struct zw_image *img = NULL;

	/* The generator writes matrices that validate (tests/gen checks
	 * it); validating 10 000 flows (exact redundancy) takes ~30 s, so
	 * the benchmark compiles directly. */
	zw_diags__init(&d, "bench");
	m = zw_matrix__parse(y, strlen(y), "bench", &d);
	if (m && !d.n_errors && !zw_policy__compile(m, &bytes, &len))
		img = zw_image__open(bytes, len, NULL, 0);
	free(bytes);
	free(y);
	zw_diags__fini(&d);
	*mout = m;
	return img;
}

struct conn {
	struct zt_pkt p; /* the opening packet (initiator's direction) */
};

/* @n distinct allowed TCP/UDP connections of @family. */
static struct conn *make_conns(const struct zw_image *img,
			       const struct zw_matrix *m, uint8_t family,
			       uint32_t n)
{
	struct conn *c = calloc(n, sizeof(*c));
	struct zt_pkt *base = calloc(4096, sizeof(*base));
	uint64_t s = 12345 + family;
	uint32_t nb = 0, i, tries = 0;

	while (nb < 4096 && tries++ < 4000000) {
		struct zw_query q;
		struct zw_verdict v;

		zw_gen__query(m, &s, day, &q);
		q.day = day;
		if (q.family != family || (q.proto != 6 && q.proto != 17))
			continue;
		zw_eval__image(img, &q, &v);
		if (!v.allow)
			continue;
		zt_pkt_of_query(&q, 0, 0, &base[nb]);
		nb++;
	}
	if (!nb) {
		free(c);
		free(base);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		c[i].p = base[i % nb];
		/* distinct tuples: vary the source port and a host byte */
		c[i].p.sport = (uint16_t)(1024 + (i / nb) % 60000);
		if (i / nb >= 60000)
			c[i].p.src[family == 4 ? 3 : 15] ^=
				(uint8_t)(1 + (i / nb) / 60000);
		c[i].p.tcp_flags = 0x02;
	}
	free(base);
	return c;
}

static void reverse(struct zt_pkt *p)
{
	uint8_t a[16];
	uint16_t x;

	memcpy(a, p->src, 16);
	memcpy(p->src, p->dst, 16);
	memcpy(p->dst, a, 16);
	x = p->sport;
	p->sport = p->dport;
	p->dport = x;
}

static struct rte_mbuf *mbuf_of(const struct zt_pkt *p)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t f[256];
	size_t len;

	if (!m)
		return NULL;
	len = zt_frame(p, f, sizeof(f));
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	return m;
}

/* Run @pkts through the pipeline once, in bursts; frees what passed. */
static void pass_through(struct zw_worker *w, const struct zw_ctx *ctx,
			 struct rte_mbuf **pkts, uint32_t n)
{
	struct rte_mbuf *out[BURST];
	uint32_t i;

	for (i = 0; i < n; i += BURST) {
		uint16_t k = (uint16_t)RTE_MIN(BURST, n - i);
		uint16_t o = zw_pipeline__burst(w, ctx, pkts + i, k, out, 1);

		rte_pktmbuf_free_bulk(out, o);
	}
}

/* Open every connection: request, reply (SYN-ACK), ACK. */
static void open_conns(struct zw_worker *w, const struct zw_ctx *ctx,
		       const struct conn *c, uint32_t n)
{
	struct rte_mbuf *b[BURST * 3];
	uint32_t i, k;

	for (i = 0; i < n; i += BURST) {
		uint32_t cnt = RTE_MIN(BURST, n - i);

		for (k = 0; k < cnt; k++) {
			struct zt_pkt p = c[i + k].p;

			b[k] = mbuf_of(&p);
		}
		pass_through(w, ctx, b, cnt);
		for (k = 0; k < cnt; k++) {
			struct zt_pkt p = c[i + k].p;

			reverse(&p);
			p.tcp_flags = 0x12;
			b[k] = mbuf_of(&p);
		}
		pass_through(w, ctx, b, cnt);
		for (k = 0; k < cnt; k++) {
			struct zt_pkt p = c[i + k].p;

			p.tcp_flags = 0x10;
			b[k] = mbuf_of(&p);
		}
		pass_through(w, ctx, b, cnt);
	}
}

/*
 * Hot packets, cold connections: a NIC writes frames into the cache
 * (DDIO) and the engine reads them once, so the benchmark keeps a window
 * of WIN mbufs that stays in cache and, between timed passes (untimed),
 * rewrites them with the next packets of a long random sequence over all
 * live connections. Connection lookups thus miss the cache as they would
 * on a real link; packet reads do not.
 */
#define WIN 4096
#define FRAME 128 /* room for one frame of the recirculation sequence */

struct seq {
	const struct conn *c;
	uint32_t nc;
	uint32_t *idx; /* connection of each packet; bit 31: reply direction */
	uint32_t n, pos;
	struct rte_mbuf *win[WIN];
};

static void seq_init(struct seq *q, const struct conn *c, uint32_t nc,
		     uint32_t n)
{
	uint64_t s = 777;
	uint32_t i;

	q->c = c;
	q->nc = nc;
	q->n = n;
	q->pos = 0;
	q->idx = malloc(n * sizeof(*q->idx));
	for (i = 0; i < n; i++)
		q->idx[i] = (nc >= n ? i : zt_below(&s, nc)) |
			    (zt_below(&s, 2) ? 1u << 31 : 0);
	for (i = n - 1; i > 0; i--) { /* random order */
		uint32_t j = zt_below(&s, i + 1), t = q->idx[i];

		q->idx[i] = q->idx[j];
		q->idx[j] = t;
	}
	for (i = 0; i < WIN; i++) {
		q->win[i] = rte_pktmbuf_alloc(pool);
		if (!q->win[i]) {
			fprintf(stderr, "mempool exhausted\n");
			exit(1);
		}
	}
}

static void seq_fini(struct seq *q)
{
	rte_pktmbuf_free_bulk(q->win, WIN);
	free(q->idx);
}

/* Rewrite the window with the next WIN packets (untimed). */
static void seq_next(struct seq *q)
{
	uint32_t i;

	for (i = 0; i < WIN; i++) {
		uint32_t x = q->idx[(q->pos + i) % q->n];
		struct zt_pkt p = q->c[x & ~(1u << 31)].p;
		struct rte_mbuf *m = q->win[i];
		uint8_t f[256];
		size_t len;

		if (x >> 31)
			reverse(&p);
		p.tcp_flags = 0x10;
		p.tag = i;
		len = zt_frame(&p, f, sizeof(f));
		rte_pktmbuf_reset(m);
		memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	}
	q->pos = (q->pos + WIN) % q->n;
	/* warm the window as a NIC's DDIO would */
	for (i = 0; i < WIN; i++) {
		volatile uint8_t x = *rte_pktmbuf_mtod(q->win[i], uint8_t *);
		(void)x;
	}
}

/* ---- the baseline: rte_acl on the 5-tuple rule set ---- */

struct base4_in { /* the IPv4 header from its protocol field on */
	uint8_t proto;
};

static struct rte_acl_ctx *baseline_acl(const struct zw_image *img,
					uint8_t family, uint32_t *n_rules)
{
	/* 5-tuple over the packet itself: proto, src, dst, sport, dport,
	 * offsets from the IPv4 protocol byte / the IPv6 next-header byte. */
	struct rte_acl_field_def d4[5] = {
		{ RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, 0 },
		{ RTE_ACL_FIELD_TYPE_MASK, 4, 1, 1, 3 },
		{ RTE_ACL_FIELD_TYPE_MASK, 4, 2, 2, 7 },
		{ RTE_ACL_FIELD_TYPE_RANGE, 2, 3, 3, 11 },
		{ RTE_ACL_FIELD_TYPE_RANGE, 2, 4, 3, 13 },
	};
	struct rte_acl_field_def d6[11];
	struct rte_acl_config cfg = { .num_categories = 1 };
	struct rte_acl_param prm = { .name = family == 4 ? "base4" : "base6",
				     .socket_id = 0, .max_rule_num = 1u << 22 };
	struct rte_acl_ctx *acl;
	struct zw_acl_rule *r = NULL;
	size_t n = 0, i;
	uint32_t added = 0;
	int k;

	for (k = 0; k < 11; k++) {
		d6[k].type = k == 0 ? RTE_ACL_FIELD_TYPE_BITMASK :
			     k < 9 ? RTE_ACL_FIELD_TYPE_MASK :
				     RTE_ACL_FIELD_TYPE_RANGE;
		d6[k].size = k == 0 ? 1 : k < 9 ? 4 : 2;
		d6[k].field_index = (uint8_t)k;
		d6[k].input_index = (uint8_t)(k < 9 ? k : 9);
		d6[k].offset = k == 0 ? 0 : k < 9 ? 2 + 4 * (k - 1) :
			       34 + 2 * (k - 9);
	}
	prm.rule_size = RTE_ACL_RULE_SZ(family == 4 ? 5 : 11);
	acl = rte_acl_create(&prm);
	zw_acl_rules__build(img, day, family, ZW_NO_FLOW, &r, &n);
	for (i = 0; i < n; i++) {
		/* Expand the zone pair into the zones' prefixes (the ACL has no
		 * zones): every (from prefix x to prefix) pair, or the flow's
		 * narrowing. "outside" becomes ::/0 (lowest priority wins
		 * nothing it should not: the rule order is kept). */
		uint32_t sp, dp;
		uint32_t np = family == 4 ? img->n_prefix4 : img->n_prefix6;

		for (sp = 0; sp <= np; sp++) {
			const uint8_t *sa;
			unsigned sl;
			uint16_t sz;

			if (sp == np) {
				if (r[i].src_zone != 0 || r[i].src_len)
					continue;
				sa = r[i].src, sl = 0;
			} else {
				sz = family == 4 ? img->prefix4[sp].zone :
						   img->prefix6[sp].zone;
				if (r[i].src_len || sz != r[i].src_zone)
					continue;
				sa = family == 4 ? img->prefix4[sp].addr :
						   img->prefix6[sp].addr;
				sl = family == 4 ? img->prefix4[sp].len :
						   img->prefix6[sp].len;
			}
			if (r[i].src_len)
				sa = r[i].src, sl = r[i].src_len;
			for (dp = 0; dp <= np; dp++) {
				const uint8_t *da;
				unsigned dl;
				uint16_t dz;
				union {
					struct rte_acl_rule r;
					uint8_t b[RTE_ACL_RULE_SZ(11)];
				} u;
				struct rte_acl_field *f;

				if (dp == np) {
					if (r[i].dst_zone != 0 || r[i].dst_len)
						continue;
					da = r[i].dst, dl = 0;
				} else {
					dz = family == 4 ? img->prefix4[dp].zone :
							   img->prefix6[dp].zone;
					if (r[i].dst_len || dz != r[i].dst_zone)
						continue;
					da = family == 4 ? img->prefix4[dp].addr :
							   img->prefix6[dp].addr;
					dl = family == 4 ? img->prefix4[dp].len :
							   img->prefix6[dp].len;
				}
				if (r[i].dst_len)
					da = r[i].dst, dl = r[i].dst_len;
				memset(&u, 0, sizeof(u));
				u.r.data.category_mask = 1;
				u.r.data.priority = (int32_t)r[i].priority;
				u.r.data.userdata = r[i].rule + 1;
				f = u.r.field;
				f[0].value.u8 = r[i].proto;
				f[0].mask_range.u8 = 0xff;
				for (k = 0; k < (family == 4 ? 1 : 4); k++) {
					int l = (int)sl - 32 * k, m = (int)dl - 32 * k;

					f[1 + k].value.u32 = ntohl(((const uint32_t *)sa)[k]);
					f[1 + k].mask_range.u32 = l <= 0 ? 0 : l > 32 ? 32 : (uint32_t)l;
					f[(family == 4 ? 2 : 5) + k].value.u32 =
						ntohl(((const uint32_t *)da)[k]);
					f[(family == 4 ? 2 : 5) + k].mask_range.u32 =
						m <= 0 ? 0 : m > 32 ? 32 : (uint32_t)m;
				}
				k = family == 4 ? 3 : 9;
				f[k].value.u16 = 0;
				f[k].mask_range.u16 = 0xffff;
				f[k + 1].value.u16 = r[i].lo;
				f[k + 1].mask_range.u16 = r[i].hi;
				if (rte_acl_add_rules(acl, &u.r, 1) == 0)
					added++;
				if (sl == 0 && sp == np)
					break;
			}
		}
	}
	free(r);
	cfg.num_fields = family == 4 ? 5 : 11;
	memcpy(cfg.defs, family == 4 ? d4 : d6,
	       cfg.num_fields * sizeof(cfg.defs[0]));
	if (!added || rte_acl_build(acl, &cfg)) {
		rte_acl_free(acl);
		return NULL;
	}
	*n_rules = added;
	return acl;
}

static double bench_baseline_pkts(struct rte_acl_ctx *acl, uint8_t family,
				  struct rte_mbuf **pkts, uint32_t n,
				  int rounds);

static double bench_baseline(struct rte_acl_ctx *acl, uint8_t family,
			     struct seq *q, uint32_t total)
{
	double sum = 0;
	uint32_t done = 0;

	q->pos = 0;
	while (done < total) {
		seq_next(q);
		sum += bench_baseline_pkts(acl, family, q->win, WIN, 1) * WIN;
		done += WIN;
	}
	return sum / done;
}

static double bench_baseline_pkts(struct rte_acl_ctx *acl, uint8_t family,
				  struct rte_mbuf **pkts, uint32_t n,
				  int rounds)
{
	const uint8_t *data[BURST];
	uint32_t res[BURST], i, k;
	uint64_t t0, t = 0, cnt = 0;
	volatile uint32_t sink = 0;
	int r;

	for (r = 0; r < rounds; r++) {
		t0 = rte_rdtsc();
		for (i = 0; i + BURST <= n; i += BURST) {
			for (k = 0; k < BURST; k++)
				data[k] = rte_pktmbuf_mtod(pkts[i + k], uint8_t *) +
					  (family == 4 ? 14 + 9 : 14 + 6);
			rte_acl_classify(acl, data, res, BURST, 1);
			sink += res[0];
		}
		t += rte_rdtsc() - t0;
		cnt += i;
	}
	(void)sink;
	return ns_per(t, cnt);
}

/* ---- the pipeline and its stages ---- */

static double bench_pipeline(struct zw_worker *w, const struct zw_ctx *ctx,
			     struct rte_mbuf **pkts, uint32_t n, int rounds,
			     int refcnt)
{
	struct rte_mbuf *out[BURST];
	uint64_t t0, t = 0, cnt = 0, now = 2;
	uint32_t i, k;
	int r;

	for (r = 0; r < rounds; r++) {
		t0 = rte_rdtsc();
		for (i = 0; i + BURST <= n; i += BURST) {
			if (refcnt) /* dropped packets are freed: keep them */
				for (k = 0; k < BURST; k++)
					rte_mbuf_refcnt_update(pkts[i + k], 1);
			zw_pipeline__burst(w, ctx, pkts + i, BURST, out, now);
		}
		t += rte_rdtsc() - t0;
		cnt += i;
		now += 1000;
	}
	return ns_per(t, cnt);
}

static double bench_pipeline_seq(struct zw_worker *w, const struct zw_ctx *ctx,
				 struct seq *q, uint32_t total)
{
	double sum = 0;
	uint32_t done = 0, i;

	q->pos = 0;
	while (done < total) {
		seq_next(q);
		/* the pipeline frees nothing here (all pass), but keep the
		 * window's mbufs ours whatever happens */
		for (i = 0; i < WIN; i++)
			rte_mbuf_refcnt_update(q->win[i], 1);
		sum += bench_pipeline(w, ctx, q->win, WIN, 1, 0) * WIN;
		for (i = 0; i < WIN; i++)
			if (rte_mbuf_refcnt_read(q->win[i]) > 1)
				rte_mbuf_refcnt_update(q->win[i], -1);
		done += WIN;
	}
	return sum / done;
}

/* The per-packet budget of an established packet, stage by stage on the
 * same packets: parse, connection key and hash, table lookup (bucket
 * prefetch a burst ahead, then the entry with key and state inline),
 * state and counters (zw_conn__track, the entry's packet and byte
 * counts); the rest of the pipeline's total (verdicts, burst bookkeeping,
 * mbuf handling) is printed as the difference, so the budget adds up to
 * the total. LPM and ACL are what a new connection adds. */
struct stages {
	double parse, key, lookup, state, lpm, acl;
};

static void bench_stages_pkts(struct zw_worker *w, const struct zw_ctx *ctx,
			      uint8_t family, struct rte_mbuf **pkts,
			      uint32_t n, struct stages *st);

static void bench_stages(struct zw_worker *w, const struct zw_ctx *ctx,
			 uint8_t family, struct seq *q, uint32_t total,
			 struct stages *st)
{
	struct stages sum = { 0 }, one;
	uint32_t done = 0;

	q->pos = 0;
	while (done < total) {
		seq_next(q);
		bench_stages_pkts(w, ctx, family, q->win, WIN, &one);
		sum.parse += one.parse;
		sum.key += one.key;
		sum.lookup += one.lookup;
		sum.state += one.state;
		sum.lpm += one.lpm;
		sum.acl += one.acl;
		done += WIN;
	}
	st->parse = sum.parse * WIN / done;
	st->key = sum.key * WIN / done;
	st->lookup = sum.lookup * WIN / done;
	st->state = sum.state * WIN / done;
	st->lpm = sum.lpm * WIN / done;
	st->acl = sum.acl * WIN / done;
}

static void bench_stages_pkts(struct zw_worker *w, const struct zw_ctx *ctx,
			      uint8_t family, struct rte_mbuf **pkts,
			      uint32_t n, struct stages *st)
{
	struct zw_pkt *p = malloc((size_t)n * sizeof(*p));
	uint8_t (*keys)[48] = malloc((size_t)n * 48);
	uint32_t *hs = malloc((size_t)n * sizeof(*hs));
	int32_t *pos = malloc((size_t)n * sizeof(*pos));
	uint8_t *sw = malloc(n);
	uint32_t i, k;
	uint64_t t0;
	volatile uint64_t sink = 0;
	struct zw_ctab *tab = family == 4 ? &w->t4 : &w->t6;

	t0 = rte_rdtsc();
	for (i = 0; i < n; i++) {
		const uint8_t *d = rte_pktmbuf_mtod(pkts[i], const uint8_t *);

		sink += (uint64_t)zw_parse__fast(d, d + rte_pktmbuf_data_len(pkts[i]),
						 &p[i]);
	}
	st->parse = ns_per(rte_rdtsc() - t0, n);
	t0 = rte_rdtsc();
	for (i = 0; i < n; i++) {
		sw[i] = (uint8_t)zw_pipeline__conn_key(&p[i].t, keys[i]);
		hs[i] = zw_ctab__hash(tab, keys[i]);
	}
	st->key = ns_per(rte_rdtsc() - t0, n);
	/* as the pipeline: a burst's buckets prefetched, then looked up */
	t0 = rte_rdtsc();
	for (i = 0; i + BURST <= n; i += BURST) {
		for (k = 0; k < BURST; k++)
			zw_ctab__prefetch(tab, hs[i + k]);
		for (k = 0; k < BURST; k++)
			pos[i + k] = zw_ctab__lookup(tab, keys[i + k], hs[i + k]);
	}
	st->lookup = ns_per(rte_rdtsc() - t0, i);
	/* the entries are in cache now, as in the pipeline's decide step */
	t0 = rte_rdtsc();
	for (i = 0; i < n; i++) {
		struct zw_dconn *d;

		if (pos[i] < 0)
			continue;
		d = zw_ctab__entry(tab, (uint32_t)pos[i]);
		sink += (uint64_t)zw_conn__track(&d->c, &p[i],
						 zw_conn__is_reply(&d->c, sw[i]), 3);
		d->packets++;
		d->bytes += p[i].l3_len;
	}
	st->state = ns_per(rte_rdtsc() - t0, n);
	free(hs);
	free(pos);
	free(sw);
	/* zones of both ends */
	t0 = rte_rdtsc();
	if (family == 4) {
		for (i = 0; i < n; i++) {
			uint32_t a, b;

			rte_lpm_lookup(ctx->lpm4, ntohl(*(uint32_t *)p[i].t.src), &a);
			rte_lpm_lookup(ctx->lpm4, ntohl(*(uint32_t *)p[i].t.dst), &b);
			sink += a + b;
		}
	} else {
		uint8_t ips[2 * BURST][16];
		int32_t nh[2 * BURST];

		for (i = 0; i + BURST <= n; i += BURST) {
			for (k = 0; k < BURST; k++) {
				memcpy(ips[2 * k], p[i + k].t.src, 16);
				memcpy(ips[2 * k + 1], p[i + k].t.dst, 16);
			}
			rte_lpm6_lookup_bulk_func(ctx->lpm6, ips, nh, 2 * BURST);
			sink += (uint64_t)nh[0];
		}
	}
	st->lpm = ns_per(rte_rdtsc() - t0, n);
	/* ACL on the pipeline's own input layout */
	{
		struct zw_acl4_in in4[BURST];
		struct zw_acl6_in in6[BURST];
		const uint8_t *data[BURST];
		uint32_t res[BURST];
		struct rte_acl_ctx *acl = family == 4 ? ctx->acl4 : ctx->acl6;

		t0 = rte_rdtsc();
		for (i = 0; acl && i + BURST <= n; i += BURST) {
			for (k = 0; k < BURST; k++) {
				const struct zw_pkt *q = &p[i + k];

				if (family == 4) {
					in4[k].proto = q->t.proto;
					in4[k].szone = 0x0100;
					in4[k].dzone = 0x0200;
					memcpy(&in4[k].src, q->t.src, 4);
					memcpy(&in4[k].dst, q->t.dst, 4);
					in4[k].any = 0;
					in4[k].dport = htons(q->match_port);
					data[k] = &in4[k].proto;
				} else {
					in6[k].proto = q->t.proto;
					in6[k].szone = 0x0100;
					in6[k].dzone = 0x0200;
					memcpy(in6[k].src, q->t.src, 16);
					memcpy(in6[k].dst, q->t.dst, 16);
					in6[k].any = 0;
					in6[k].dport = htons(q->match_port);
					data[k] = &in6[k].proto;
				}
			}
			rte_acl_classify(acl, data, res, BURST, 1);
			sink += res[0];
		}
		st->acl = acl ? ns_per(rte_rdtsc() - t0, i) : 0;
	}
	(void)sink;
	free(p);
	free(keys);
}

/* Connection tables on heap @sock: socket 0 (the EAL's memory, 4 KiB
 * pages under --no-huge) or the engine's transparent-huge-page heap. */
static struct zw_worker *new_worker(uint32_t conns, int sock)
{
	struct zw_worker *w = rte_zmalloc("bw", sizeof(*w), RTE_CACHE_LINE_SIZE);
	static int id;
	char name[32];

	snprintf(name, sizeof(name), "b4_%d", ++id);
	if (zw_ctab__init(&w->t4, name, 4, conns, sock))
		return NULL;
	snprintf(name, sizeof(name), "b6_%d", id);
	if (zw_ctab__init(&w->t6, name, 6, conns, sock))
		return NULL;
	return w;
}

static void free_worker(struct zw_worker *w)
{
	zw_ctab__fini(&w->t4);
	zw_ctab__fini(&w->t6);
	rte_free(w);
}

static void free_pkts(struct rte_mbuf **v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		rte_pktmbuf_free(v[i]);
	free(v);
}

/* ---- through ports: the real worker loop on lcore 1 ---- */

/*
 * The real worker loop on lcore 1 between two ports. @null: rx from a
 * net_ring port preloaded with 64k packets, tx to a net_null port (which
 * frees them), timed until all were judged. Else: net_ring on both sides,
 * the main lcore moving what leaves port B back into port A's rx ring
 * (pointer moves only), timed over one second.
 */
static double bench_ports(struct zw_image *img, const struct conn *c,
			  uint32_t nc, uint32_t conns, int null)
{
	struct zw_engine_cfg cfg = { .conns = conns, .rxd = 1024, .txd = 1024,
				     .mbufs = 8192, .day = day };
	struct zw_image *copy = zw_image__open(img->bytes, img->size, NULL, 0);
	enum { NPRE = 65535 };
	static int run;
	struct rte_ring *rxa, *txa, *rxb, *txb;
	struct seq sq;
	char name[64], err[256];
	uint64_t t0, t1, d0, d1, end;
	int a, b, i;
	uint16_t nb;
	uint32_t k, nfr = 0, fpos = 0;
	uint8_t *frames = NULL;
	uint16_t *flen = NULL;

	run++;
	snprintf(name, sizeof(name), "bprxa%d", run);
	rxa = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "bptxa%d", run);
	txa = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "bprxb%d", run);
	rxb = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "bptxb%d", run);
	txb = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "bpa%d", run);
	a = rte_eth_from_rings(name, &rxa, 1, &txa, 1, 0);
	if (null) {
		snprintf(name, sizeof(name), "net_null_b%d", run);
		if (rte_vdev_init(name, "no-rx=1") ||
		    rte_eth_dev_get_port_by_name(name, &nb))
			a = -1;
		b = nb;
	} else {
		snprintf(name, sizeof(name), "bpb%d", run);
		b = rte_eth_from_rings(name, &rxb, 1, &txb, 1, 0);
	}
	if (a < 0 || b < 0) {
		fprintf(stderr, "ports: cannot create net_ring/net_null\n");
		return 0;
	}
	for (i = 0; i < ZW_MAX_PORTS; i++)
		zw_eng.peer[i] = UINT16_MAX;
	zw_eng.n_ports = 2;
	zw_eng.ports[0] = (uint16_t)a;
	zw_eng.ports[1] = (uint16_t)b;
	zw_eng.peer[a] = (uint16_t)b;
	zw_eng.peer[b] = (uint16_t)a;
	if (zw_engine__init(&cfg, copy, err, sizeof(err))) {
		fprintf(stderr, "engine: %s\n", err);
		return 0;
	}
	open_conns(zw_eng.workers[0], zw_eng.ctx, c, nc);
	seq_init(&sq, c, nc, 1u << 20);
	/* Preload port A's rx ring with copies of the traffic window. */
	/* net_null one-shot: 64k packets (cold in cache by then); ring loop:
	 * 4k packets in flight, hot like a NIC's. */
	for (k = 0; k < (null ? (uint32_t)NPRE : WIN); k++) {
		struct rte_mbuf *m;

		if (k % WIN == 0)
			seq_next(&sq);
		m = rte_pktmbuf_copy(sq.win[k % WIN], pool, 0, UINT32_MAX);
		if (!m || rte_ring_sp_enqueue(rxa, m)) {
			rte_pktmbuf_free(m);
			break;
		}
	}
	if (!null) {
		/* The recirculation's sequence: one frame per packet of a
		 * random walk over all connections (both directions), at
		 * least one per connection. */
		uint32_t j, *idx;
		uint64_t rs = 4242;

		nfr = rte_align32pow2(nc > WIN ? nc : WIN);
		frames = malloc((size_t)nfr * FRAME);
		flen = malloc(nfr * sizeof(*flen));
		idx = malloc(nfr * sizeof(*idx));
		if (!idx) {
			fprintf(stderr, "no memory for the frame sequence\n");
			exit(1);
		}
		/* every connection at least once, in random order */
		for (j = 0; j < nfr; j++)
			idx[j] = (j % nc) | (zt_below(&rs, 2) ? 1u << 31 : 0);
		for (j = nfr - 1; j > 0; j--) {
			uint32_t r = zt_below(&rs, j + 1), t = idx[j];

			idx[j] = idx[r];
			idx[r] = t;
		}
		for (j = 0; frames && flen && j < nfr; j++) {
			uint32_t x = idx[j];
			struct zt_pkt pk = c[x & ~(1u << 31)].p;

			if (x >> 31)
				reverse(&pk);
			pk.tcp_flags = 0x10;
			pk.tag = j;
			flen[j] = (uint16_t)zt_frame(&pk, frames + (size_t)j * FRAME,
						     FRAME);
		}
		free(idx);
		if (!frames || !flen) {
			fprintf(stderr, "no memory for the frame sequence\n");
			exit(1);
		}
	}
	/* Opening the connections counts as work done: start from there. */
	d0 = __atomic_load_n(&zw_eng.workers[0]->st.done, __ATOMIC_ACQUIRE);
	if (null && k < NPRE / 2) {
		/* The mbuf pool ran dry while preloading: a one-shot run over
		 * a handful of packets would measure nothing. */
		printf("    (net_null run skipped: only %u of %u packets could be preloaded)\n",
		       k, (unsigned)NPRE);
		null = -1;
	}
	zw_engine__launch();
	t0 = rte_rdtsc();
	end = t0 + (null > 0 ? 10 : null < 0 ? 0 : 1) * hz;
	while (rte_rdtsc() < end) {
		if (null) {
			if (__atomic_load_n(&zw_eng.workers[0]->st.done,
					    __ATOMIC_ACQUIRE) >= d0 + k)
				break;
		} else {
			struct rte_mbuf *m[BURST];
			unsigned n = rte_ring_sc_dequeue_burst(txb, (void **)m,
							       BURST, NULL);
			unsigned j;

			/* each packet goes round again as the next packet of
			 * the sequence: the worker cycles through every
			 * connection, not through the WIN packets in flight */
			for (j = 0; j < n; j++) {
				uint32_t x = fpos++ & (nfr - 1);

				memcpy(rte_pktmbuf_mtod(m[j], uint8_t *),
				       frames + (size_t)x * FRAME, flen[x]);
				m[j]->data_len = flen[x];
				m[j]->pkt_len = flen[x];
			}
			if (n)
				rte_ring_sp_enqueue_burst(rxa, (void **)m, n, NULL);
		}
	}
	t1 = rte_rdtsc();
	d1 = __atomic_load_n(&zw_eng.workers[0]->st.done, __ATOMIC_ACQUIRE);
	zw_engine__stop();
	printf("    (average rx burst %.1f packets, tx failures %llu)\n",
	       (double)zw_eng.workers[0]->st.rx /
		       (double)(zw_eng.workers[0]->st.bursts + 1),
	       (unsigned long long)zw_eng.workers[0]->st.tx_fail);
	{
		void *left = NULL;

		while (rte_ring_sc_dequeue(rxa, &left) == 0)
			rte_pktmbuf_free(left);
		while (rte_ring_sc_dequeue(txb, &left) == 0)
			rte_pktmbuf_free(left);
	}
	zw_engine__fini();
	zw_eng.events = bench_events;
	seq_fini(&sq);
	free(frames);
	free(flen);
	rte_ring_free(rxa);
	rte_ring_free(txa);
	rte_ring_free(rxb);
	rte_ring_free(txb);
	return null >= 0 && d1 > d0 ? ns_per(t1 - t0, d1 - d0) : 0;
}

static void budget(const char *what, const struct stages *st, double total)
{
	double sum = st->parse + st->key + st->lookup + st->state;

	printf("    %s: parse %.1f + key/hash %.1f + lookup (bucket, entry) %.1f"
	       " + state/counters %.1f + rest of the burst %.1f = %.1f ns\n",
	       what, st->parse, st->key, st->lookup, st->state, total - sum,
	       total);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void line(const char *what, double ns, double base_ns)
{
	printf("  %-44s %7.1f ns/pkt %7.2f Mpps", what, ns, 1000.0 / ns);
	if (base_ns > 0)
		printf("   (x%.2f of rte_acl alone)", base_ns / ns);
	printf("\n");
}

/* ---- L7 inspection (--l7): inspected connections beside uninspected ---- */

static const char l7_yaml[] =
	"zonewall: 1\n"
	"name: l7bench\n"
	"zones:\n"
	"  ops: {kind: operations, networks: [10.1.0.0/16], isolate: true}\n"
	"  srv: {kind: servers, networks: [10.2.0.0/24]}\n"
	"  adm: {kind: admin, networks: [10.3.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.4.0.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.5.0.0/24]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.6.0.0/24]}\n"
	"services:\n"
	"  app: {proto: tcp, ports: [8080]}\n"
	"flows:\n"
	"  - id: F-1\n"
	"    from: ops\n"
	"    to: srv\n"
	"    services: [ssh, app]\n"
	"    justification: bench\n";

#define L7_BATCH 4096u	/* connections opened at once (the pool's size) */
#define L7_CONNS 65536u /* established connections, both kinds */

/* Ethernet + IPv4 + TCP frame, connection @i (client 10.1.x.y:40000+,
 * server 10.2.0.9:@port), @reply from the server, @len payload bytes. */
static struct rte_mbuf *l7_frame(uint32_t i, uint16_t port, int reply,
				 uint8_t flags, uint32_t seq, const char *data,
				 size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	size_t tot = 40 + len, fl = 14 + tot < 60 ? 60 : 14 + tot;
	uint8_t *f, cli[4] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
	uint8_t srv[4] = { 10, 2, 0, 9 };
	uint16_t cp = (uint16_t)(40000 + (i >> 16)), a = reply ? port : cp,
		 b = reply ? cp : port;

	if (!m)
		return NULL;
	f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)fl);
	if (!f) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(f, 0, fl);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8), f[17] = (uint8_t)tot;
	f[22] = 64, f[23] = 6;
	memcpy(f + 26, reply ? srv : cli, 4);
	memcpy(f + 30, reply ? cli : srv, 4);
	f[34] = (uint8_t)(a >> 8), f[35] = (uint8_t)a;
	f[36] = (uint8_t)(b >> 8), f[37] = (uint8_t)b;
	f[38] = (uint8_t)(seq >> 24), f[39] = (uint8_t)(seq >> 16);
	f[40] = (uint8_t)(seq >> 8), f[41] = (uint8_t)seq;
	f[46] = 5 << 4, f[47] = flags, f[48] = 0xff, f[49] = 0xff;
	memcpy(f + 54, data, len);
	return m;
}

#define L7_PHASES 5 /* SYN, SYN-ACK, ACK, client data, server data */

/* The first packets of connections @i0 .. @i0 + @n on @port, phase by
 * phase (every SYN, then every SYN-ACK...): [phase * n + k]. */
static struct rte_mbuf **l7_first(uint32_t i0, uint32_t n, uint16_t port)
{
	static const char cb[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
	static const char sb[] = "SSH-2.0-OpenSSH_9.2p1\r\n";
	struct rte_mbuf **v = calloc((size_t)n * L7_PHASES, sizeof(*v));

	for (uint32_t k = 0; v && k < n; k++) {
		uint32_t i = i0 + k;

		v[k] = l7_frame(i, port, 0, 0x02, 1000, "", 0);
		v[n + k] = l7_frame(i, port, 1, 0x12, 5000, "", 0);
		v[2 * n + k] = l7_frame(i, port, 0, 0x10, 1001, "", 0);
		v[3 * n + k] = l7_frame(i, port, 0, 0x18, 1001, cb, sizeof(cb) - 1);
		v[4 * n + k] = l7_frame(i, port, 1, 0x18, 5001, sb, sizeof(sb) - 1);
	}
	return v;
}

/* One established data packet (64 bytes, as an SSH record) per
 * connection @i0 .. @i0 + @n. */
static struct rte_mbuf **l7_data(uint32_t i0, uint32_t n, uint16_t port)
{
	static const char rec[64] = { 0, 0, 0, 60, 10 };
	struct rte_mbuf **v = calloc(n, sizeof(*v));

	for (uint32_t k = 0; v && k < n; k++)
		v[k] = l7_frame(i0 + k, port, (k & 1), 0x18,
				(k & 1) ? 5100 : 1100, rec, sizeof(rec));
	return v;
}

/* Time the pipeline over @pkts once (bursts of BURST); all must pass.
 * Returns ns per packet; *@passed the packets that passed. */
static double l7_time(struct zw_worker *w, const struct zw_ctx *ctx,
		      struct rte_mbuf **pkts, uint32_t n, uint32_t *passed)
{
	struct rte_mbuf *out[BURST];
	uint64_t t0, t = 0;
	uint32_t i, p = 0;

	for (i = 0; i < n; i += BURST) {
		uint16_t k = (uint16_t)RTE_MIN(BURST, n - i);

		for (uint16_t j = 0; j < k; j++) /* ours, passed or not */
			rte_mbuf_refcnt_update(pkts[i + j], 1);
		t0 = rte_rdtsc();
		p += zw_pipeline__burst(w, ctx, pkts + i, k, out, 2);
		t += rte_rdtsc() - t0;
		for (uint16_t j = 0; j < k; j++)
			if (rte_mbuf_refcnt_read(pkts[i + j]) > 1)
				rte_mbuf_refcnt_update(pkts[i + j], -1);
	}
	if (passed)
		*passed = p;
	return ns_per(t, n);
}

static int bench_l7(void)
{
	struct zw_image *img = zt_compile(l7_yaml, day, NULL, 0);
	struct zw_ctx *ctx;
	char err[256];
	double first_u[REPS], first_i[REPS], est_u[REPS], est_i[REPS];
	struct rte_mbuf **du, **di;
	struct zw_worker *weu, *wei;
	uint32_t bad = 0, p;
	int rounds = quick ? 4 : 16;

	zw_l7_opts.off = false;
	zw_l7_opts.conns = L7_BATCH;
	ctx = img ? zw_ctx__new(zw_image__open(img->bytes, img->size, NULL, 0),
				day, 900, 1, err, sizeof(err)) : NULL;
	if (!ctx || !ctx->l7) {
		fprintf(stderr, "zw-dpdk-bench --l7: %s\n",
			ctx ? "no L7 in the context" : err);
		return 1;
	}
	printf("L7 inspection: `inspect: ssh` (port 22) beside an uninspected "
	       "TCP service (port 8080), same flow, same run; medians of %d\n",
	       REPS);
	/* established: L7_CONNS of each kind, each kind in a table of its
	 * own (the same fill, so the same bucket layout), the inspected ones
	 * judged (banners both ways) batch by batch, so the pool suffices */
	weu = new_worker(L7_CONNS + L7_CONNS / 4 + 1024, 0);
	wei = new_worker(L7_CONNS + L7_CONNS / 4 + 1024, 0);
	if (!weu || !wei)
		return 1;
	for (uint32_t i0 = 0; i0 < L7_CONNS; i0 += L7_BATCH) {
		struct rte_mbuf **fu = l7_first(i0, L7_BATCH, 8080);
		struct rte_mbuf **fi = l7_first(i0, L7_BATCH, 22);

		l7_time(weu, ctx, fu, L7_BATCH * L7_PHASES, &p);
		bad += L7_BATCH * L7_PHASES - p;
		l7_time(wei, ctx, fi, L7_BATCH * L7_PHASES, &p);
		bad += L7_BATCH * L7_PHASES - p;
		free_pkts(fu, L7_BATCH * L7_PHASES);
		free_pkts(fi, L7_BATCH * L7_PHASES);
	}
	if (zw_l7__used(0) || wei->st.l7_judged != L7_CONNS)
		bad++;
	du = l7_data(0, L7_CONNS, 8080);
	di = l7_data(0, L7_CONNS, 22);
	for (int rep = 0; rep < REPS; rep++) {
		struct zw_worker *w = new_worker(2 * L7_BATCH + 1024, 0);
		struct rte_mbuf **fu = l7_first(L7_CONNS + 4096u * (uint32_t)rep,
						L7_BATCH, 8080);
		struct rte_mbuf **fi = l7_first(L7_CONNS + 4096u * (uint32_t)rep,
						L7_BATCH, 22);
		double su = 0, si = 0;

		if (!w || !fu || !fi)
			return 1;
		/* first packets: a fresh table, new connections */
		first_u[rep] = l7_time(w, ctx, fu, L7_BATCH * L7_PHASES, &p);
		bad += L7_BATCH * L7_PHASES - p;
		first_i[rep] = l7_time(w, ctx, fi, L7_BATCH * L7_PHASES, &p);
		bad += L7_BATCH * L7_PHASES - p;
		/* established, interleaved round by round */
		for (int r = 0; r < rounds; r++) {
			su += l7_time(weu, ctx, du, L7_CONNS, &p);
			bad += L7_CONNS - p;
			si += l7_time(wei, ctx, di, L7_CONNS, &p);
			bad += L7_CONNS - p;
		}
		est_u[rep] = su / rounds;
		est_i[rep] = si / rounds;
		free_pkts(fu, L7_BATCH * L7_PHASES);
		free_pkts(fi, L7_BATCH * L7_PHASES);
		free_worker(w);
	}
	{
		double fu = median(first_u, REPS), fi = median(first_i, REPS);
		double eu = median(est_u, REPS), ei = median(est_i, REPS);

		printf(" first %d packets of %u new connections (SYN, SYN-ACK, "
		       "ACK, client data, server data):\n", L7_PHASES, L7_BATCH);
		printf("  %-52s %7.1f ns/pkt\n", "uninspected (port 8080)", fu);
		printf("  %-52s %7.1f ns/pkt  (x%.2f)\n",
		       "inspected, judged on them (ssh banners)", fi, fi / fu);
		printf(" established, %u connections of each kind, 64-byte "
		       "payload, both directions:\n", L7_CONNS);
		printf("  %-52s %7.1f ns/pkt\n", "uninspected (port 8080)", eu);
		printf("  %-52s %7.1f ns/pkt  (%+.1f %%)\n",
		       "inspected, judged: fast path", ei, (ei / eu - 1) * 100);
	}
	if (bad)
		printf("  WARNING: %u packets did not pass as expected\n", bad);
	free_pkts(du, L7_CONNS);
	free_pkts(di, L7_CONNS);
	free_worker(weu);
	free_worker(wei);
	zw_ctx__free(ctx);
	zw_image__free(img);
	zw_l7__fini();
	return bad ? 1 : 0;
}

/* ---- the cost of logging (--logging) ---- */

/* Take every record out of the ring (untimed: in zonewall-dpdk the control
 * thread does it on another core); returns how many. */
static uint64_t drain_ring(void)
{
	static struct zw_flow_record r[256];
	uint64_t n = 0;
	unsigned k;

	while ((k = rte_ring_sc_dequeue_burst_elem(bench_events, r, sizeof(r[0]),
						   256, NULL)) > 0) {
		n += k;
	}
	return n;
}

/*
 * @total packets of @q through @w, @per_win of every WIN replaced by the
 * opening packet of a connection never seen (from @fresh, in turn): ns per
 * packet, and the records the worker produced into *@records (lost ones
 * included: none, the ring is drained between windows).
 */
static double bench_mix(struct zw_worker *w, const struct zw_ctx *ctx,
			struct seq *q, const struct conn *fresh, uint32_t nfresh,
			uint32_t *fpos, uint32_t per_win, uint32_t total,
			uint64_t *records)
{
	double sum = 0;
	uint32_t done = 0, i;
	uint64_t lost0 = w->st.events_lost;

	*records = 0;
	q->pos = 0;
	drain_ring();
	/* the engine's context in force (END records name their flow in it) */
	zw_eng.ctx = (struct zw_ctx *)ctx;
	while (done < total) {
		seq_next(q);
		for (i = 0; i < per_win; i++) {
			struct rte_mbuf *m = q->win[(uint64_t)i * WIN / per_win];
			struct zt_pkt p = fresh[*fpos].p;
			uint8_t f[256];
			size_t len;

			*fpos = (*fpos + 1) % nfresh;
			p.tag = i;
			len = zt_frame(&p, f, sizeof(f));
			rte_pktmbuf_reset(m);
			memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
		}
		for (i = 0; i < WIN; i++)
			rte_mbuf_refcnt_update(q->win[i], 1);
		sum += bench_pipeline(w, ctx, q->win, WIN, 1, 0) * WIN;
		for (i = 0; i < WIN; i++)
			if (rte_mbuf_refcnt_read(q->win[i]) > 1)
				rte_mbuf_refcnt_update(q->win[i], -1);
		*records += drain_ring();
		done += WIN;
	}
	*records += w->st.events_lost - lost0;
	return sum / done;
}

static int bench_logging(unsigned flows, uint32_t nconn)
{
	const uint32_t nfresh = 1u << 18, slack = 8192;
	uint32_t npkt = quick ? 1u << 19 : 1u << 21, fpos_n = 0, fpos_a = 0;
	struct zw_matrix *m = NULL;
	struct zw_image *img = gen_image(flows, &m);
	struct zw_ctx *cn, *ca;
	struct zw_worker *wn, *wa;
	struct conn *c;
	struct seq sq;
	double vn[REPS], va[REPS], en, ea, mn, ma, rate_n, rate_a;
	uint64_t rn[REPS], ra[REPS], recs, lost0;
	uint32_t per_win;
	char err[256];

	if (!img)
		return -1;
	zw_eng.rec.log_all = false;
	cn = zw_ctx__new(zw_image__open(img->bytes, img->size, NULL, 0), day,
			 200, 1, err, sizeof(err));
	zw_eng.rec.log_all = true;
	ca = zw_ctx__new(zw_image__open(img->bytes, img->size, NULL, 0), day,
			 201, 1, err, sizeof(err));
	zw_eng.rec.log_all = false;
	/* none: not even the generated flows that have log: true */
	for (uint32_t f = 0; cn && f < cn->n_flows; f++)
		cn->flows[f].log = 0;
	c = make_conns(img, m, 4, nconn + nfresh);
	wn = new_worker(nconn + slack, 0);
	wa = new_worker(nconn + slack, 0);
	if (!cn || !ca || !c || !wn || !wa) {
		fprintf(stderr, "logging bench: no memory\n");
		return -1;
	}
	open_conns(wn, cn, c, nconn);
	open_conns(wa, ca, c, nconn);
	drain_ring();
	printf("== cost of logging: IPv4, %u flows, %u live connections, one "
	       "core; every flow logged (log_all) vs none, same packets, "
	       "medians of %d interleaved runs\n", img->n_flows, nconn, REPS);
	seq_init(&sq, c, nconn, npkt);
	for (int rep = 0; rep < REPS; rep++) {
		vn[rep] = bench_pipeline_seq(wn, cn, &sq, npkt / 2);
		va[rep] = bench_pipeline_seq(wa, ca, &sq, npkt / 2);
	}
	en = median(vn, REPS);
	ea = median(va, REPS);
	printf("  established (half of them replies), no record:\n");
	printf("    %-42s %7.1f ns/pkt\n", "no flow logged", en);
	printf("    %-42s %7.1f ns/pkt   %+.1f %%\n",
	       "every flow logged (responder's counts)", ea,
	       100.0 * (ea - en) / en);
	/* new connections at about 1 M records/s of this core's rate: two
	 * records (created, ended) per new connection */
	per_win = (uint32_t)(0.5e6 * en * WIN / 1e9 + 0.5);
	if (per_win < 1)
		per_win = 1;
	if (getenv("ZW_BENCH_PER_WIN")) /* new connections per WIN, fixed */
		per_win = (uint32_t)atoi(getenv("ZW_BENCH_PER_WIN"));
	for (int pass = 0; pass < 3; pass++) {
		lost0 = wa->st.events_lost; /* (not those of open_conns) */
		for (int rep = 0; rep < REPS; rep++) {
			vn[rep] = bench_mix(wn, cn, &sq, c + nconn, nfresh,
					    &fpos_n, per_win, npkt / 2, &recs);
			rn[rep] = recs;
			va[rep] = bench_mix(wa, ca, &sq, c + nconn, nfresh,
					    &fpos_a, per_win, npkt / 2, &recs);
			ra[rep] = recs;
		}
		mn = median(vn, REPS);
		ma = median(va, REPS);
		rate_n = (double)rn[REPS / 2] / ((double)(npkt / 2) * mn / 1e9);
		rate_a = (double)ra[REPS / 2] / ((double)(npkt / 2) * ma / 1e9);
		if (pass < 2 && rate_a > 0 && !getenv("ZW_BENCH_PER_WIN") &&
		    (rate_a < 0.9e6 || rate_a > 1.1e6)) {
			/* the mix is slower than established traffic: aim
			 * again from what it produced */
			per_win = (uint32_t)(per_win * 1e6 / rate_a + 0.5);
			continue;
		}
		break;
	}
	printf("  with %u new connections in every %d packets (%.2f %%):\n",
	       per_win, WIN, 100.0 * per_win / WIN);
	printf("    %-42s %7.1f ns/pkt   %.0f records/s\n", "no flow logged",
	       mn, rate_n);
	printf("    %-42s %7.1f ns/pkt   %.0f records/s   %+.1f %%\n",
	       "every flow logged (created + ended)", ma, rate_a,
	       100.0 * (ma - mn) / mn);
	printf("    (records lost to a full ring in these runs: %" PRIu64 ")\n",
	       wa->st.events_lost - lost0);
	zw_eng.ctx = NULL;
	seq_fini(&sq);
	free_worker(wn);
	free_worker(wa);
	zw_ctx__free(cn);
	zw_ctx__free(ca);
	free(c);
	zw_image__free(img);
	zw_matrix__free(m);
	return 0;
}

/* ---- mirroring (--mirror): a probe on other zones costs a flag test ---- */

static struct zw_image *compile_text(const char *y)
{
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *bytes = NULL;
	size_t len = 0;
	struct zw_image *img = NULL;

	zw_diags__init(&d, "bench");
	m = zw_matrix__parse(y, strlen(y), "bench", &d);
	if (m && !d.n_errors && !zw_policy__compile(m, &bytes, &len))
		img = zw_image__open(bytes, len, NULL, 0);
	else
		zw_diags__print_text(&d, stderr);
	free(bytes);
	zw_diags__fini(&d);
	zw_matrix__free(m);
	return img;
}

/*
 * One matrix of 1 000 flows (tests/gen), twice: as is, and with a probe
 * (`traffic: all`) watching one zone, on a mirror port. The connections
 * are allowed ones of the other zones only, so nothing is copied (checked:
 * the copies counter stays 0): the figure is what mirroring costs a packet
 * it does not copy, the context's flag and the entry's ZW_CF_MIRROR test.
 * Both run interleaved on the same packets, medians of REPS.
 */
static int bench_mirror(void)
{
	struct zw_gen_opts o = { .seed = 1000, .n_zones = 8 + 1000 / 80,
				 .n_flows = 1000, .n_services = 20,
				 .ipv6 = true, .narrowing = true };
	static const uint32_t conn_counts[] = { 1000, 1000000 };
	char *y = zw_gen__matrix(&o), *yp, err[256];
	struct zw_image *img = compile_text(y), *pimg;
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_ctx *c0, *c1;
	uint32_t watched;
	const char *zname;
	unsigned fam, ci;

	if (!img)
		return 1;
	/* the last zone is watched */
	watched = img->n_zones - 1;
	zname = zw_image__str(img, img->zones[watched].name);
	yp = malloc(strlen(y) + 256);
	sprintf(yp, "%s\nprobes:\n  bench: {interface: mirror0, zones: [%s], "
		    "traffic: all}\n", y, zname);
	pimg = compile_text(yp);
	zw_diags__init(&d, "bench");
	m = zw_matrix__parse(y, strlen(y), "bench", &d);
	zw_diags__fini(&d);
	if (!pimg || !m || pimg->n_probes != 1)
		return 1;
	/* the mirror port: mapped, never sent to (nothing is copied) */
	zw_eng.n_mirrors = 1;
	zw_eng.mirrors[0].port = 0;
	snprintf(zw_eng.mirrors[0].alias, sizeof(zw_eng.mirrors[0].alias),
		 "mirror0");
	c0 = zw_ctx__new(zw_image__open(img->bytes, img->size, NULL, 0), day,
			 200, 1, err, sizeof(err));
	c1 = zw_ctx__new(zw_image__open(pimg->bytes, pimg->size, NULL, 0), day,
			 201, 1, err, sizeof(err));
	if (!c0 || !c1) {
		fprintf(stderr, "ctx: %s\n", err);
		return 1;
	}
	printf("zonewall-dpdk mirroring benchmark: %u flows, %u zones; a probe "
	       "(traffic: all) on zone %s, connections of the other zones\n"
	       "established packets, same run, medians of %d interleaved runs; "
	       "packets hot in cache, connections drawn at random\n\n",
	       img->n_flows, img->n_zones, zname, REPS);
	for (fam = 4; fam <= 6; fam += 2) {
		for (ci = 0; ci < 2; ci++) {
			uint32_t nconn = conn_counts[ci], i, k = 0;
			uint32_t npkt = quick ? 1u << 19 : 1u << 22;
			struct conn *all = make_conns(img, m, (uint8_t)fam,
						      nconn * 2), *c;
			struct zw_worker *w0, *w1;
			double v0[REPS], v1[REPS], a, b;
			struct seq sq;

			if (!all)
				continue;
			/* keep the connections of unwatched zones */
			c = calloc(nconn, sizeof(*c));
			for (i = 0; i < nconn * 2 && k < nconn; i++) {
				uint32_t zs = zw_image__zone_of(img, (uint8_t)fam,
								all[i].p.src);
				uint32_t zd = zw_image__zone_of(img, (uint8_t)fam,
								all[i].p.dst);

				if (zs != watched && zd != watched)
					c[k++] = all[i];
			}
			free(all);
			w0 = new_worker(nconn + nconn / 4 + 1024, 0);
			w1 = new_worker(nconn + nconn / 4 + 1024, 0);
			if (!w0 || !w1) {
				fprintf(stderr, "no memory for tables\n");
				return 1;
			}
			open_conns(w0, c0, c, k);
			open_conns(w1, c1, c, k);
			seq_init(&sq, c, k, npkt);
			for (int rep = 0; rep < REPS; rep++) {
				v0[rep] = bench_pipeline_seq(w0, c0, &sq, npkt / 2);
				v1[rep] = bench_pipeline_seq(w1, c1, &sq, npkt / 2);
			}
			seq_fini(&sq);
			a = median(v0, REPS);
			b = median(v1, REPS);
			printf(" IPv%u, %u live connections (%u copies made):\n",
			       fam, k, (unsigned)w1->st.mirrored + w1->mq_used);
			line("no probes (baseline)", a, 0);
			line("a probe on another zone", b, 0);
			printf("  %-44s %+7.1f ns/pkt (%+.1f %%)\n",
			       "difference", b - a, 100.0 * (b - a) / a);
			free_worker(w0);
			free_worker(w1);
			free(c);
		}
	}
	zw_ctx__free(c0);
	zw_ctx__free(c1);
	zw_eng.n_mirrors = 0;
	zw_matrix__free(m);
	zw_image__free(img);
	zw_image__free(pimg);
	free(y);
	free(yp);
	return 0;
}

int main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "6144", "--no-shconf",
			"--no-pci", "-l", "0-1", "--log-level", "lib.eal:error",
			NULL };
	static const unsigned flow_counts[] = { 10, 1000, 10000 };
	static const uint32_t conn_counts[] = { 1000, 1000000 };
	unsigned fi, ci, fam;

	int l7 = 0, logging = 0, mirror = 0;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick"))
			quick = 1;
		else if (!strcmp(argv[a], "--l7"))
			l7 = 1;
		else if (!strcmp(argv[a], "--logging"))
			logging = 1;
		else if (!strcmp(argv[a], "--mirror"))
			mirror = 1;
	}
	/* ZW_BENCH_FLOWS / _FAMILY / _CONNS: run one scenario only. */
	only_flows = getenv("ZW_BENCH_FLOWS") ? (unsigned)atoi(getenv("ZW_BENCH_FLOWS")) : 0;
	only_family = getenv("ZW_BENCH_FAMILY") ? (unsigned)atoi(getenv("ZW_BENCH_FAMILY")) : 0;
	if (getenv("ZW_BENCH_DENIED_ROUNDS"))
		denied_rounds = atoi(getenv("ZW_BENCH_DENIED_ROUNDS"));
	only_conns = getenv("ZW_BENCH_CONNS") ? (uint32_t)atoi(getenv("ZW_BENCH_CONNS")) : 0;
	if (geteuid() != 0) {
		fprintf(stderr, "zw-dpdk-bench: needs root (DPDK EAL)\n");
		return 77;
	}
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "zw-dpdk-bench: EAL init failed\n");
		return 77;
	}
	hz = rte_get_tsc_hz();
	day = zt_today();
	/* Small mbufs (64-byte frames), enough for 1M distinct packets. */
	pool = rte_pktmbuf_pool_create("bench", (1u << 21) - 1, 512, 0,
				       RTE_PKTMBUF_HEADROOM + 128, 0);
	if (!pool) {
		fprintf(stderr, "zw-dpdk-bench: no mempool\n");
		return 1;
	}
	/* The telemetry ring the pipeline writes to (new connections of
	 * logged flows, drops), drained by nobody here: when full, the
	 * pipeline counts lost events, as in production under a flood. */
	bench_events = rte_ring_create_elem("bench_events",
					    sizeof(struct zw_flow_record), 16384,
					    0, RING_F_SC_DEQ);
	zw_eng.events = bench_events;
	/* Tables for up to 1.25 M connections per family (about 160 bytes
	 * each, powers of two rounded up): 1 GiB of address space. */
	if (l7) {
		int rc = bench_l7();

		rte_eal_cleanup();
		return rc;
	}
	/* The L3/L4 figures: frames carry a 6-byte tag, no service's
	 * protocol, so L7 inspection is off for them (--no-l7); --l7 has its
	 * own figures. */
	zw_l7_opts.off = true;
	if (mirror) {
		int rc = bench_mirror();

		rte_eal_cleanup();
		return rc;
	}
	thp = thp_heap((size_t)1 << 30);
	if (thp < 0)
		printf("no heap on transparent huge pages (%s): tables on 4 KiB "
		       "pages only\n", rte_strerror(-thp));
	if (logging) {
		int rc = 0;

		printf("zonewall-dpdk: the cost of logging, one core, TSC %.2f "
		       "GHz, packets from memory, bursts of %d\n\n",
		       (double)hz / 1e9, BURST);
		for (ci = 0; ci < 2 && !rc; ci++)
			if (!only_conns || only_conns == conn_counts[ci])
				rc = bench_logging(only_flows ? only_flows : 10,
						   conn_counts[ci]);
		rte_eal_cleanup();
		return rc ? 1 : 0;
	}
	printf("zonewall-dpdk pipeline benchmark: one core (%s), TSC %.2f GHz, "
	       "packets from memory, bursts of %d\n",
	       "lcore 0", (double)hz / 1e9, BURST);
	printf("* net_null runs are one-shot over 64k preloaded packets that are "
	       "cold in cache: a lower bound\n");
	printf("frames: IPv4 TCP/UDP 60 bytes (64 on the wire), IPv6 80 bytes "
	       "(the smallest IPv6 TCP frame with our 6-byte tag)\n");
	printf("packets hot in cache (a window of %d rewritten between timed "
	       "passes, as DDIO delivers them), connections drawn at random\n"
	       "over the whole table; --no-huge: DPDK memory on 4 KiB pages "
	       "(a memfd)\n\n", WIN);
	for (fi = 0; fi < 3; fi++) {
		struct zw_matrix *m = NULL;
		struct zw_image *img = gen_image(flow_counts[fi], &m);
		struct zw_ctx *ctx;
		char err[256];

		if (only_flows && flow_counts[fi] != only_flows) {
			zw_image__free(img);
			zw_matrix__free(m);
			continue;
		}
		if (!img) {
			fprintf(stderr, "cannot build a %u-flow matrix\n",
				flow_counts[fi]);
			return 1;
		}
		ctx = zw_ctx__new(zw_image__open(img->bytes, img->size, NULL, 0),
				  day, 100 + fi, 1, err, sizeof(err));
		if (!ctx) {
			fprintf(stderr, "ctx: %s\n", err);
			return 1;
		}
		printf("== %u flows: %u rules, %u zones; pipeline ACL %u (v4) + %u "
		       "(v6) rules, %u LPM entries\n",
		       img->n_flows, img->n_rules, img->n_zones, ctx->n_acl4,
		       ctx->n_acl6, ctx->n_lpm);
		for (fam = 4; fam <= 6; fam += 2) {
			uint32_t nbr = 0;
			struct rte_acl_ctx *base;

			if (only_family && fam != only_family)
				continue;
			base = baseline_acl(img, (uint8_t)fam, &nbr);

			for (ci = 0; ci < 2; ci++) {
				uint32_t nconn = conn_counts[ci];
				uint32_t npkt = quick ? 1u << 19 : 1u << 22;
				struct conn *c;
				struct zw_worker *w, *wt;
				struct rte_mbuf **pkts;
				struct stages st, sthp;
				struct seq sq;
				double pipe, bl, pthp;
				char what[128];

				if (only_conns && nconn != only_conns)
					continue;
				c = make_conns(img, m, (uint8_t)fam, nconn);
				if (!c) {
					printf("  IPv%u: no allowed TCP/UDP query\n", fam);
					continue;
				}
				w = new_worker(nconn + nconn / 4 + 1024, 0);
				wt = thp >= 0 ? new_worker(nconn + nconn / 4 + 1024,
							   thp) : NULL;
				if (!w || (thp >= 0 && !wt)) {
					fprintf(stderr, "no memory for tables\n");
					return 1;
				}
				open_conns(w, ctx, c, nconn);
				if (wt) {
					open_conns(wt, ctx, c, nconn);
					printf("  (%lu MiB of memory in transparent "
					       "huge pages)\n", thp_mib());
				}
				if (getenv("ZW_BENCH_TABLE")) { /* where the entries sit */
					struct zw_ctab *tt = fam == 4 ? &w->t4 : &w->t6;
					uint32_t hw[5] = {0}, pos;

					for (pos = 0; pos < tt->nslots; pos++) {
						const uint8_t *kk = zw_ctab__key(tt, pos);
						uint32_t hh;

						if (!zw_ctab__entry(tt, pos)->used)
							continue;
						hh = zw_ctab__hash(tt, kk);
						hw[pos / ZW_CT_WAYS == zw_ctab__b1(tt, hh) ?
						   pos % ZW_CT_WAYS : 4]++;
					}
					printf("  table: entries in way 0-3 of their primary bucket %u %u %u %u, in the secondary %u, slots %u\n",
					       hw[0], hw[1], hw[2], hw[3], hw[4], tt->nslots);
				}
				seq_init(&sq, c, nconn, npkt);
				/* medians of REPS runs, interleaved, so the
				 * pipeline and its baseline see the same load */
				{
					double vp[REPS], vt[REPS], vb[REPS];

					for (int rep = 0; rep < REPS; rep++) {
						vp[rep] = bench_pipeline_seq(w, ctx, &sq,
									     npkt / 2);
						vt[rep] = wt ? bench_pipeline_seq(wt, ctx, &sq,
										  npkt / 2) : 0;
						vb[rep] = base ? bench_baseline(base, (uint8_t)fam,
										&sq, npkt / 2) : 0;
					}
					pipe = median(vp, REPS);
					pthp = median(vt, REPS);
					bl = median(vb, REPS);
				}
				bench_stages(w, ctx, (uint8_t)fam, &sq, npkt, &st);
				if (wt)
					bench_stages(wt, ctx, (uint8_t)fam, &sq, npkt,
						     &sthp);
				seq_fini(&sq);
				printf(" IPv%u, %u live connections (%u live in the "
				       "table), traffic over all of them:\n",
				       fam, nconn,
				       fam == 4 ? w->t4.count : w->t6.count);
				line("zonewall pipeline (established)", pipe, bl);
				if (wt)
					line("  same, tables on the THP heap", pthp,
					     bl);
				if (base) {
					snprintf(what, sizeof(what),
						 "baseline: rte_acl alone, %u 5-tuple rules",
						 nbr);
					line(what, bl, 0);
				}
				budget("budget", &st, pipe);
				if (wt)
					budget("budget, THP heap", &sthp, pthp);
				printf("    a new connection adds LPM %.1f + ACL %.1f ns\n",
				       st.lpm, st.acl);
				/* New connections the policy denies: every
				 * packet through LPM and ACL. */
				if (ci == 0) {
					uint64_t s = 99;
					uint32_t k = 0, tries = 0;

					pkts = malloc(WIN * sizeof(*pkts));
					while (k < WIN && tries++ < 10000000) {
						struct zw_query q;
						struct zw_verdict v;
						struct zt_pkt p;

						zw_gen__query(m, &s, day, &q);
						q.day = day;
						if (q.family != fam ||
						    (q.proto != 6 && q.proto != 17))
							continue;
						zw_eval__image(img, &q, &v);
						if (v.allow)
							continue;
						zt_pkt_of_query(&q, (uint16_t)(1024 + k % 60000),
								k, &p);
						pkts[k++] = mbuf_of(&p);
					}
					if (k >= BURST) {
						double vp[REPS], vb[REPS];
						int rounds = denied_rounds / REPS > 0 ?
							     denied_rounds / REPS : 1;

						for (int rep = 0; rep < REPS; rep++) {
							vp[rep] = bench_pipeline(w, ctx, pkts, k,
										 rounds, 1);
							vb[rep] = base ? bench_baseline_pkts(
									 base, (uint8_t)fam,
									 pkts, k, rounds) : 0;
						}
						pipe = median(vp, REPS);
						bl = median(vb, REPS);
						line("zonewall pipeline (new, denied: LPM+ACL)",
						     pipe, bl);
						if (base)
							line("baseline: rte_acl alone, same packets",
							     bl, 0);
					}
					free_pkts(pkts, k);
				}
				free_worker(w);
				if (wt)
					free_worker(wt);
				free(c);
			}
			rte_acl_free(base);
		}
		/* Through ports, IPv4, on the worker lcore. */
		if (!getenv("ZW_BENCH_NO_PORTS") && (fi == 2 || (fi == 1 && !quick))) {
			for (ci = 0; ci < 2; ci++) {
				uint32_t nconn = conn_counts[ci];
				struct conn *c = make_conns(img, m, 4, nconn);
				double ns;
				char what[128];

				if (!c)
					continue;
				ns = bench_ports(img, c, nconn,
						 nconn + nconn / 4 + 1024, 1);
				snprintf(what, sizeof(what),
					 "lcore 1: net_ring -> net_null, %u conns*",
					 nconn);
				if (ns > 0)
					line(what, ns, 0);
				ns = bench_ports(img, c, nconn,
						 nconn + nconn / 4 + 1024, 0);
				snprintf(what, sizeof(what),
					 "lcore 1: net_ring <-> net_ring, %u conns",
					 nconn);
				if (ns > 0)
					line(what, ns, 0);
				free(c);
			}
		}
		zw_ctx__free(ctx);
		zw_image__free(img);
		zw_matrix__free(m);
		printf("\n");
		fflush(stdout);
	}
	rte_eal_cleanup();
	return 0;
}
