/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's flow records of connections (docs/telemetry.md), through
 * BPF_PROG_TEST_RUN, the ring buffer and the sweep of the connection
 * tables. The sweep's clock is a parameter (zw_xdp_sweep_opts.now_ns):
 * passing a later time ages the connections without waiting, so that
 * idle and active timeouts are reached at once and nothing here depends on
 * how fast the machine is.
 *  - update records: none before the active timeout; one per active
 *    timeout crossed, with the counters so far; crossings a late pass
 *    merged are counted (records_sweep_behind);
 *  - a TCP connection opened, carried both ways and closed (FIN both ways,
 *    last ACK) gives exactly one created and one ended record, reason
 *    closed, with each direction's packets and bytes, start and end times,
 *    flow, zones, generation; once TIME_WAIT is over, not before; the
 *    entry is removed;
 *  - a UDP exchange left idle ends with reason idle (IPv4, IPv6);
 *  - a connection whose flow a new policy removes ends with reason forced
 *    (cut), counted up to the cut, at its next packet;
 *  - a flow without log: true gives no record, unless every flow is
 *    logged: through the backend, --log-all-flows (struct zw_backend.rec)
 *    reaches the program at prepare, and the backend's records op hands
 *    the ring's and the sweep's records; records lost (ring full, updates
 *    merged) are in the stats op and the read-back line;
 *  - a sweep call examines at most its budget of entries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <zonewall/backend.h>
#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

#include "harness.h"
#include "pkt_build.h"
#include "xdp.h"
#include "zw_bpf_abi.h"

#define SEC_NS 1000000000ull
#define A "10.1.0.5"
#define B "10.2.0.1"
#define TCP 6
#define UDP 17
#define SYN 0x02
#define ACK 0x10
#define FIN 0x01

static const char *const matrix =
	"zonewall: 1\nname: records-test\nzones:\n"
	"  za:\n    kind: internal-service\n    networks: [10.1.0.0/16, \"fd00:1::/64\"]\n"
	"  zb:\n    kind: internal-service\n    networks: [10.2.0.0/16, \"fd00:2::/64\"]\n"
	"  ops:\n    kind: operations\n    networks: [10.90.0.0/24]\n    isolate: true\n"
	"  srv:\n    kind: servers\n    networks: [10.91.0.0/24]\n"
	"  adm:\n    kind: admin\n    networks: [10.92.0.0/24]\n"
	"  upd:\n    kind: update\n    networks: [10.93.0.0/24]\n"
	"  ra:\n    kind: remote-access\n    networks: [10.94.0.0/24]\n"
	"  ex:\n    kind: client-exchange\n    networks: [10.95.0.0/24]\n"
	"services:\n"
	"  app:\n    proto: tcp\n    ports: [\"1000-1999\"]\n"
	"  feed:\n    proto: udp\n    ports: [5000]\n"
	"  quiet:\n    proto: tcp\n    ports: [2000]\n"
	"flows:\n"
	"  - id: F-L\n    from: za\n    to: zb\n    services: [app]\n"
	"    log: true\n    justification: records test\n"
	"  - id: F-U\n    from: za\n    to: zb\n    services: [feed]\n"
	"    log: true\n    justification: records test, udp\n"
	"  - id: F-Q\n    from: za\n    to: zb\n    services: [quiet]\n"
	"    justification: records test, not logged\n";

/* The same without F-L: its connections are cut. */
static const char *const matrix_cut =
	"zonewall: 1\nname: records-test-cut\nzones:\n"
	"  za:\n    kind: internal-service\n    networks: [10.1.0.0/16, \"fd00:1::/64\"]\n"
	"  zb:\n    kind: internal-service\n    networks: [10.2.0.0/16, \"fd00:2::/64\"]\n"
	"  ops:\n    kind: operations\n    networks: [10.90.0.0/24]\n    isolate: true\n"
	"  srv:\n    kind: servers\n    networks: [10.91.0.0/24]\n"
	"  adm:\n    kind: admin\n    networks: [10.92.0.0/24]\n"
	"  upd:\n    kind: update\n    networks: [10.93.0.0/24]\n"
	"  ra:\n    kind: remote-access\n    networks: [10.94.0.0/24]\n"
	"  ex:\n    kind: client-exchange\n    networks: [10.95.0.0/24]\n"
	"services:\n"
	"  feed:\n    proto: udp\n    ports: [5000]\n"
	"  quiet:\n    proto: tcp\n    ports: [2000]\n"
	"flows:\n"
	"  - id: F-U\n    from: za\n    to: zb\n    services: [feed]\n"
	"    log: true\n    justification: records test, udp\n"
	"  - id: F-Q\n    from: za\n    to: zb\n    services: [quiet]\n"
	"    justification: records test, not logged\n";

static int failures;

#define CHECK(c, ...)                                                     \
	do {                                                              \
		if (!(c)) {                                               \
			failures++;                                       \
			fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)

/* Every record handed, in order. */
#define MAX_RECS 64
struct recs {
	struct zw_flow_record r[MAX_RECS];
	int n;
};

static int collect(const struct zw_flow_record *r, void *arg)
{
	struct recs *rs = arg;

	if (rs->n < MAX_RECS)
		rs->r[rs->n] = *r;
	rs->n++;
	return 0;
}

static int collect_be(void *arg, const struct zw_flow_record *r)
{
	return collect(r, arg);
}

/* Records of @event among @rs; the last in *@out. */
static int count_ev(const struct recs *rs, uint8_t event,
		    struct zw_flow_record *out)
{
	int n = 0;

	for (int i = 0; i < rs->n && i < MAX_RECS; i++)
		if (rs->r[i].event == event) {
			n++;
			if (out)
				*out = rs->r[i];
		}
	return n;
}

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec;
}

/* One frame through the program; its ring records into @rs. Returns the
 * XDP action and adds the frame's IP bytes to *@bytes when it passed. */
static int send_pkt(struct zw_xdp *x, uint8_t proto, const char *src,
		    const char *dst, uint16_t sport, uint16_t dport,
		    uint8_t flags, uint16_t payload, uint64_t *bytes,
		    struct recs *rs)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);
	struct zw_pb s;
	uint8_t f[ZW_PB_MAX];
	size_t n;

	zw_pb__init(&s, src, dst, proto, sport, dport);
	s.tcp_flags = flags;
	s.payload = payload;
	n = zw_pb__build(&s, f, sizeof(f));
	o.data_in = f;
	o.data_size_in = (__u32)n;
	if (!n || bpf_prog_test_run_opts(zw_xdp__prog_fd(x), &o))
		return -1;
	if (rs) /* (NULL: leave the ring's records to another consumer) */
		zw_xdp__poll_records(x, collect, rs, 0);
	if (o.retval == XDP_PASS && bytes)
		/* the record counts IP bytes (the frame may be padded):
		 * IPv4 and TCP or UDP headers without options, the payload */
		*bytes += (proto == TCP ? 40u : 28u) + payload;
	return (int)o.retval;
}

static int sweep_budget(struct zw_xdp *x, uint64_t now, uint32_t active_s,
			uint32_t budget, struct recs *rs)
{
	struct zw_xdp_sweep_opts o = {
		.now_ns = now, .active_timeout_s = active_s, .budget = budget,
	};

	return zw_xdp__sweep(x, &o, collect, rs);
}

static int sweep(struct zw_xdp *x, uint64_t now, uint32_t active_s,
		 struct recs *rs)
{
	return sweep_budget(x, now, active_s, 1u << 20, rs);
}

static char inst_dir[512]; /* the instance's bpffs directory */

/* 1 if the connection table holds A:@sport <-> B:@dport (either order of
 * the key's ends: the table's own order is an implementation detail). */
static int conn_present(uint16_t sport, uint16_t dport, uint8_t proto)
{
	char path[600];
	struct zw_bpf_ckey4 k = {0};
	struct zw_bpf_conn e;
	int fd, found;

	snprintf(path, sizeof(path), "%s/maps/zw_conns4", inst_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	inet_pton(AF_INET, A, k.src);
	inet_pton(AF_INET, B, k.dst);
	k.sport = sport;
	k.dport = dport;
	k.proto = proto;
	found = !bpf_map_lookup_elem(fd, &k, &e);
	inet_pton(AF_INET, B, k.src);
	inet_pton(AF_INET, A, k.dst);
	k.sport = dport;
	k.dport = sport;
	found |= !bpf_map_lookup_elem(fd, &k, &e);
	close(fd);
	return found;
}

static uint64_t stat(struct zw_xdp *x, int idx)
{
	uint64_t st[ZW_XDP_N_STATS];

	return zw_xdp__stats(x, st) ? ~0ull : st[idx];
}


/* Three-way handshake on @sport → @dport; packets and bytes each way. */
static void handshake(struct zw_xdp *x, uint16_t sport, uint16_t dport,
		      uint64_t pk[2], uint64_t by[2], struct recs *rs)
{
	CHECK(send_pkt(x, TCP, A, B, sport, dport, SYN, 0, &by[0], rs) == XDP_PASS,
	      "SYN %u passes", dport);
	CHECK(send_pkt(x, TCP, B, A, dport, sport, SYN | ACK, 0, &by[1], rs) ==
		      XDP_PASS,
	      "SYN+ACK passes");
	CHECK(send_pkt(x, TCP, A, B, sport, dport, ACK, 0, &by[0], rs) == XDP_PASS,
	      "ACK passes");
	pk[0] += 2;
	pk[1] += 1;
}

/* @r is the ended/update record of A:@sport → B:@dport with @pk, @by. */
static void check_conn_record(const struct zw_flow_record *r, uint16_t sport,
			      uint16_t dport, uint8_t proto, uint32_t flow,
			      const uint64_t pk[2], const uint64_t by[2],
			      const char *what)
{
	uint8_t a[4], b[4];

	inet_pton(AF_INET, A, a);
	inet_pton(AF_INET, B, b);
	CHECK(r->flags & ZW_REC_F_EXT, "%s: extension filled", what);
	CHECK(r->family == 4 && r->proto == proto && !memcmp(r->src, a, 4) &&
		      !memcmp(r->dst, b, 4) && r->sport == sport &&
		      r->dport == dport,
	      "%s: the initiator's tuple (%u -> %u)", what, r->sport, r->dport);
	CHECK(r->flow == flow && r->src_zone != r->dst_zone && r->generation,
	      "%s: flow %u (%u), zones %u -> %u, generation %u", what, flow,
	      r->flow, r->src_zone, r->dst_zone, r->generation);
	CHECK(r->packets == pk[0] + pk[1] && r->rev_packets == pk[1],
	      "%s: packets %llu (%llu back), want %llu (%llu back)", what,
	      (unsigned long long)r->packets, (unsigned long long)r->rev_packets,
	      (unsigned long long)(pk[0] + pk[1]), (unsigned long long)pk[1]);
	CHECK(r->bytes == by[0] + by[1] && r->rev_bytes == by[1],
	      "%s: bytes %llu (%llu back), want %llu (%llu back)", what,
	      (unsigned long long)r->bytes, (unsigned long long)r->rev_bytes,
	      (unsigned long long)(by[0] + by[1]), (unsigned long long)by[1]);
	CHECK(r->start_ns && r->start_ns <= r->ts_ns, "%s: start %llu <= %llu",
	      what, (unsigned long long)r->start_ns,
	      (unsigned long long)r->ts_ns);
	CHECK(r->engine == 1, "%s: engine xdp", what);
}

static void test_update(struct zw_xdp *x)
{
	struct recs rs = {0};
	struct zw_flow_record r;
	uint64_t pk[2] = {0}, by[2] = {0}, t0, behind0;

	handshake(x, 41000, 1100, pk, by, &rs);
	CHECK(count_ev(&rs, ZW_EV_NEW, NULL) == 1, "one created record (%d)",
	      rs.n);
	t0 = mono();
	behind0 = stat(x, ZW_BPF_ST_SWEEP_BEHIND);
	rs.n = 0;
	CHECK(sweep(x, t0, 2, &rs) == 0 && rs.n == 0,
	      "before the active timeout: no record (%d)", rs.n);
	CHECK(sweep(x, t0 + 2500000000ull, 2, &rs) == 1 &&
		      count_ev(&rs, ZW_EV_UPDATE, &r) == 1,
	      "active timeout crossed: one update record (%d)", rs.n);
	if (rs.n == 1) {
		check_conn_record(&r, 41000, 1100, TCP, 0, pk, by, "update 1");
		CHECK(r.end_reason == ZW_END_ACTIVE, "update: reason active");
	}
	CHECK(send_pkt(x, TCP, B, A, 1100, 41000, ACK, 200, &by[1], &rs) ==
		      XDP_PASS,
	      "data back");
	pk[1]++;
	rs.n = 0;
	CHECK(sweep(x, t0 + 3 * SEC_NS, 2, &rs) == 0 && rs.n == 0,
	      "same period: no record (%d)", rs.n);
	CHECK(sweep(x, t0 + 4600000000ull, 2, &rs) == 1 &&
		      count_ev(&rs, ZW_EV_UPDATE, &r) == 1,
	      "second period: one update record (%d)", rs.n);
	if (rs.n == 1)
		check_conn_record(&r, 41000, 1100, TCP, 0, pk, by, "update 2");
	rs.n = 0;
	CHECK(sweep(x, t0 + 11 * SEC_NS, 2, &rs) == 1 &&
		      count_ev(&rs, ZW_EV_UPDATE, NULL) == 1,
	      "three periods in one pass: one update record (%d)", rs.n);
	CHECK(stat(x, ZW_BPF_ST_SWEEP_BEHIND) == behind0 + 2,
	      "the two merged updates are counted: %llu",
	      (unsigned long long)(stat(x, ZW_BPF_ST_SWEEP_BEHIND) - behind0));
	/* established times out after 5 days: ended, idle */
	rs.n = 0;
	CHECK(sweep(x, t0 + 432100 * SEC_NS, 2, &rs) == 1 &&
		      count_ev(&rs, ZW_EV_END, &r) == 1,
	      "established, idle for 5 days: ended (%d records)", rs.n);
	if (rs.n == 1) {
		check_conn_record(&r, 41000, 1100, TCP, 0, pk, by, "idle tcp");
		CHECK(r.end_reason == ZW_END_IDLE, "reason idle (%u)", r.end_reason);
	}
}

static void test_closed(struct zw_xdp *x)
{
	struct recs rs = {0};
	struct zw_flow_record r, created;
	uint64_t pk[2] = {0}, by[2] = {0}, t0, last;
	int n;

	handshake(x, 42000, 1200, pk, by, &rs);
	CHECK(send_pkt(x, TCP, A, B, 42000, 1200, ACK, 100, &by[0], &rs) ==
		      XDP_PASS, "data");
	CHECK(send_pkt(x, TCP, B, A, 1200, 42000, ACK, 300, &by[1], &rs) ==
		      XDP_PASS, "data back");
	CHECK(send_pkt(x, TCP, A, B, 42000, 1200, FIN | ACK, 0, &by[0], &rs) ==
		      XDP_PASS, "FIN");
	CHECK(send_pkt(x, TCP, B, A, 1200, 42000, FIN | ACK, 0, &by[1], &rs) ==
		      XDP_PASS, "FIN back");
	CHECK(send_pkt(x, TCP, A, B, 42000, 1200, ACK, 0, &by[0], &rs) ==
		      XDP_PASS, "last ACK");
	pk[0] += 3;
	pk[1] += 2;
	last = mono();
	t0 = last;
	CHECK(count_ev(&rs, ZW_EV_NEW, &created) == 1 && rs.n == 1,
	      "one created record, nothing else (%d)", rs.n);
	CHECK(created.flow == 0 && created.sport == 42000 && created.dport == 1200,
	      "created: flow F-L, initiator's ports");
	/* TIME_WAIT lasts 120 s: the last ACK may still be retransmitted */
	rs.n = 0;
	CHECK(sweep(x, t0 + 60 * SEC_NS, 0, &rs) == 0 && rs.n == 0,
	      "in TIME_WAIT: not ended yet (%d)", rs.n);
	n = sweep(x, t0 + 121 * SEC_NS, 0, &rs);
	CHECK(n == 1 && count_ev(&rs, ZW_EV_END, &r) == 1 && rs.n == 1,
	      "TIME_WAIT over: exactly one ended record (%d, %d)", n, rs.n);
	if (count_ev(&rs, ZW_EV_END, &r) == 1) {
		check_conn_record(&r, 42000, 1200, TCP, 0, pk, by, "closed");
		CHECK(r.end_reason == ZW_END_CLOSED, "reason closed (%u)",
		      r.end_reason);
		CHECK(r.ts_ns <= last && r.ts_ns >= r.start_ns &&
			      r.generation == created.generation &&
			      r.src_zone == created.src_zone &&
			      r.dst_zone == created.dst_zone,
		      "end = the last packet, same generation and zones as created");
	}
	CHECK(!conn_present(42000, 1200, TCP), "the entry is removed");
	rs.n = 0;
	CHECK(sweep(x, t0 + 300 * SEC_NS, 0, &rs) == 0 && rs.n == 0,
	      "no second ended record (%d)", rs.n);
}

static void test_idle(struct zw_xdp *x)
{
	struct recs rs = {0};
	struct zw_flow_record r;
	uint64_t pk[2] = {1, 1}, by[2] = {0}, t0;

	CHECK(send_pkt(x, UDP, A, B, 43000, 5000, 0, 64, &by[0], &rs) == XDP_PASS,
	      "udp out");
	CHECK(send_pkt(x, UDP, B, A, 5000, 43000, 0, 512, &by[1], &rs) ==
		      XDP_PASS, "udp back");
	CHECK(count_ev(&rs, ZW_EV_NEW, NULL) == 1 && rs.n == 1,
	      "one created record (%d)", rs.n);
	t0 = mono();
	rs.n = 0;
	CHECK(sweep(x, t0 + 100 * SEC_NS, 0, &rs) == 0 && rs.n == 0,
	      "replied UDP, idle 100 s: still open (%d)", rs.n);
	CHECK(sweep(x, t0 + 181 * SEC_NS, 0, &rs) == 1 &&
		      count_ev(&rs, ZW_EV_END, &r) == 1,
	      "idle 181 s: ended (%d)", rs.n);
	if (rs.n == 1) {
		check_conn_record(&r, 43000, 5000, UDP, 1, pk, by, "idle udp");
		CHECK(r.end_reason == ZW_END_IDLE, "reason idle (%u)", r.end_reason);
	}
	CHECK(!conn_present(43000, 5000, UDP), "the entry is removed");
}

/* The IPv6 table is swept too: a UDP exchange over IPv6 left idle. */
static void test_idle6(struct zw_xdp *x)
{
	struct recs rs = {0};
	struct zw_flow_record r;
	uint8_t a6[16];

	CHECK(send_pkt(x, UDP, "fd00:1::5", "fd00:2::1", 43100, 5000, 0, 64,
		       NULL, &rs) == XDP_PASS, "udp6 out");
	CHECK(send_pkt(x, UDP, "fd00:2::1", "fd00:1::5", 5000, 43100, 0, 100,
		       NULL, &rs) == XDP_PASS, "udp6 back");
	CHECK(count_ev(&rs, ZW_EV_NEW, NULL) == 1, "one created record (%d)",
	      rs.n);
	rs.n = 0;
	CHECK(sweep(x, mono() + 181 * SEC_NS, 0, &rs) == 1 &&
		      count_ev(&rs, ZW_EV_END, &r) == 1,
	      "idle: ended (%d)", rs.n);
	inet_pton(AF_INET6, "fd00:1::5", a6);
	if (rs.n == 1)
		CHECK(r.family == 6 && !memcmp(r.src, a6, 16) && r.sport == 43100 &&
			      r.dport == 5000 && r.packets == 2 &&
			      r.rev_packets == 1 && r.bytes == 48 + 64 + 48 + 100 &&
			      r.rev_bytes == 148 && r.end_reason == ZW_END_IDLE,
		      "ipv6: initiator's tuple, counts both ways (%llu/%llu "
		      "packets, %llu/%llu bytes), reason idle",
		      (unsigned long long)r.packets,
		      (unsigned long long)r.rev_packets,
		      (unsigned long long)r.bytes,
		      (unsigned long long)r.rev_bytes);
}

static void test_cut(struct zw_xdp *x, const struct zw_image *img)
{
	struct zw_image *cut = zwt_image_of_text(matrix_cut, "records-test-cut",
						 NULL);
	struct recs rs = {0};
	struct zw_flow_record r;
	uint64_t pk[2] = {0}, by[2] = {0}, t0;
	char err[512];

	handshake(x, 44000, 1300, pk, by, &rs);
	CHECK(count_ev(&rs, ZW_EV_NEW, NULL) == 1, "one created record");
	CHECK(zw_xdp__apply(x, cut, zw_date__today(), err, sizeof(err)) == 0,
	      "apply without F-L: %s", err);
	rs.n = 0;
	CHECK(send_pkt(x, TCP, A, B, 44000, 1300, ACK, 10, NULL, &rs) == XDP_DROP,
	      "its next packet is dropped");
	CHECK(count_ev(&rs, ZW_EV_END, &r) == 1, "one ended record (%d)", rs.n);
	if (count_ev(&rs, ZW_EV_END, &r) == 1) {
		check_conn_record(&r, 44000, 1300, TCP, 0, pk, by, "cut");
		CHECK(r.end_reason == ZW_END_FORCED, "reason forced (%u)",
		      r.end_reason);
	}
	CHECK(!conn_present(44000, 1300, TCP), "the entry is removed");
	t0 = mono();
	rs.n = 0;
	CHECK(sweep(x, t0 + 432100 * SEC_NS, 0, &rs) == 0 && rs.n == 0,
	      "the sweep has nothing more to say about it (%d)", rs.n);
	CHECK(zw_xdp__apply(x, img, zw_date__today(), err, sizeof(err)) == 0,
	      "back to the first image: %s", err);
	zw_image__free(cut);
}

/* Bounded work: a call examines at most its budget of entries and
 * continues where the previous one stopped; every connection is ended
 * once. */
static void test_budget(struct zw_xdp *x)
{
	struct recs rs = {0};
	uint64_t t;
	int n, calls = 0, total = 0;

	for (uint16_t i = 0; i < 12; i++)
		CHECK(send_pkt(x, UDP, A, B, (uint16_t)(47000 + i), 5000, 0, 10,
			       NULL, &rs) == XDP_PASS, "udp %u", i);
	CHECK(count_ev(&rs, ZW_EV_NEW, NULL) == 12, "12 created (%d)", rs.n);
	t = mono() + 31 * SEC_NS; /* unreplied UDP: 30 s */
	do {
		rs.n = 0;
		n = sweep_budget(x, t, 0, 5, &rs);
		CHECK(n >= 0 && n <= 5 && n == rs.n,
		      "call %d: at most 5 entries examined (%d records)", calls, n);
		total += n > 0 ? n : 0;
	} while (n > 0 && ++calls < 10);
	CHECK(total == 12 && calls == 3,
	      "12 ended records from 3 calls of 5 entries, then none (%d "
	      "from %d calls)", total, calls);
	rs.n = 0;
	CHECK(sweep(x, t + SEC_NS, 0, &rs) == 0 && rs.n == 0,
	      "none twice (%d)", rs.n);
}

/* F-Q has no log: true: no record, but the entry goes all the same. */
static void test_not_logged(struct zw_xdp *x)
{
	struct recs rs = {0};
	uint64_t pk[2] = {0}, by[2] = {0};

	handshake(x, 45000, 2000, pk, by, &rs);
	CHECK(rs.n == 0, "not logged: no created record (%d)", rs.n);
	CHECK(sweep(x, mono() + 432100 * SEC_NS, 0, &rs) == 0 && rs.n == 0,
	      "not logged: no ended record (%d)", rs.n);
	CHECK(!conn_present(45000, 2000, TCP), "the expired entry is removed");
}

/* --log-all-flows through the backend: the daemon sets be->rec after
 * open; prepare hands it to the program; the records op hands the ring's
 * records and the sweep's. In a network namespace of our own (the
 * backend attaches the program to its loopback). */
static void test_backend(struct zw_xdp *x, const struct zw_image *img)
{
	struct zw_backend *be = NULL;
	struct zw_ticket *t = NULL;
	struct zw_xdp_status st;
	struct zw_flow_record r;
	struct recs rs = {0};
	uint64_t pk[2] = {0}, by[2] = {0};
	char arg[700], err[512];
	int n;

	if (unshare(CLONE_NEWNET)) {
		CHECK(0, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return;
	}
	/* records of the XDP program: inspect: waived, no L7 table */
	snprintf(arg, sizeof(arg), "lo,dir=%s,mode=generic,l7=off", inst_dir);
	CHECK(zw_backend_xdp.open(arg, &be, err, sizeof(err)) == 0, "open: %s",
	      err);
	if (!be)
		return;
	be->rec.log_all = true;
	CHECK(zw_backend_xdp.prepare(be, img, zw_date__today(), &t, err,
				     sizeof(err)) == 0 &&
		      zw_backend_xdp.commit(be, t, err, sizeof(err)) == 0,
	      "prepare, commit: %s", err);
	CHECK(zw_xdp__status(x, &st) == 0 && st.log_all_new == 1,
	      "--log-all-flows reached the program (%u)", st.log_all_new);
	/* F-Q has no log: true; every flow is logged now */
	handshake(x, 46000, 2000, pk, by, NULL);
	n = zw_backend_xdp.records(be, collect_be, &rs, 100);
	CHECK(n == 1 && count_ev(&rs, ZW_EV_NEW, &r) == 1 && r.flow == 2 &&
		      r.sport == 46000 && r.dport == 2000,
	      "the records op hands its created record (%d, %d)", n, rs.n);
	rs.n = 0;
	CHECK(zw_backend_xdp.records(be, collect_be, &rs, 100) == 0 && rs.n == 0,
	      "nothing more: the connection is open (%d)", rs.n);
	be->rec.log_all = false;
	CHECK(zw_backend_xdp.prepare(be, img, zw_date__today(), &t, err,
				     sizeof(err)) == 0 &&
		      zw_backend_xdp.commit(be, t, err, sizeof(err)) == 0,
	      "prepare, commit: %s", err);
	CHECK(zw_xdp__status(x, &st) == 0 && st.log_all_new == 0,
	      "without --log-all-flows: off again (%u)", st.log_all_new);
	/* what could not be handed is shown: stats (metrics), read-back
	 * (zonectl status); test_update left 2 merged updates */
	{
		struct zw_engine_stats es;
		struct zw_backend_state bs;
		uint64_t want = stat(x, ZW_BPF_ST_EVENTS_LOST) +
				stat(x, ZW_BPF_ST_SWEEP_BEHIND);

		CHECK(zw_backend_xdp.stats(be, &es) == 0 && es.has_records_lost &&
			      es.records_lost == want && want >= 2,
		      "stats: records lost %llu, want %llu",
		      (unsigned long long)es.records_lost,
		      (unsigned long long)want);
		CHECK(zw_backend_xdp.read_back(be, img, &bs) == 0 &&
			      strstr(bs.detail, "updates merged by a late sweep"),
		      "read-back shows the losses: %s", bs.detail);
		zw_backend_state__fini(&bs);
	}
	/* its created record went out: its ended record follows */
	rs.n = 0;
	CHECK(sweep(x, mono() + 432100 * SEC_NS, 0, &rs) == 1 &&
		      count_ev(&rs, ZW_EV_END, &r) == 1 && r.flow == 2,
	      "logged when it opened: ended record (%d)", rs.n);
	zw_backend_xdp.close(be);
}

int main(void)
{
	struct zw_image *img;
	struct zw_xdp *x;
	char err[512];

	zwt_require_bpf("bpf-records");
	x = zwt_instance_new(inst_dir, sizeof(inst_dir));
	/* records of log: true flows only, drops not sampled */
	CHECK(zw_xdp__set_records(x, 0, 0) == 0, "record settings");
	img = zwt_image_of_text(matrix, "records-test", NULL);
	if (zw_xdp__apply(x, img, zw_date__today(), err, sizeof(err))) {
		fprintf(stderr, "apply: %s\n", err);
		return 1;
	}
	/* the active timeout first: later tests move the sweep's clock days
	 * ahead, and a pass's time never goes back for the update rule */
	test_update(x);
	test_closed(x);
	test_idle(x);
	test_idle6(x);
	test_cut(x, img);
	test_not_logged(x);
	test_budget(x);
	test_backend(x, img);
	zwt_instance_free(x);
	zw_image__free(img);
	if (failures) {
		fprintf(stderr, "bpf-records: %d failure(s)\n", failures);
		return 1;
	}
	printf("bpf-records: ok\n");
	return 0;
}
