/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xdp-bench: the XDP engine's cost, beside baselines measured in the same
 * run (root; everything in network namespaces and bpffs directories it
 * creates and removes).
 *
 * 1. ns per packet through BPF_PROG_TEST_RUN (repeat), for matrices of
 *    10, 1 000 and 10 000 flows (tests/gen, 50 zones for the large ones):
 *      zonewall  established: a packet of an open connection (the common
 *                case: parse, block-list check, connection lookup,
 *                counters)
 *      zonewall  new, denied: a SYN no flow allows, judged from scratch
 *                every time (zones by LPM, rule lookup, same-zone rule;
 *                drop records off)
 *      xdp-filter (xdp-tools) in allow-list mode (-p deny) with one
 *                destination-port rule and one source-address rule per
 *                flow: an allowed packet and a denied one
 *      XDP_PASS  a program that does nothing (the test_run floor)
 * 2. packets per second forwarded by an appliance namespace between two
 *    veths (sender → appliance → receiver), 64-byte UDP frames injected
 *    with BPF_PROG_TEST_RUN live frames on the sender's veth: no filter
 *    (XDP_PASS), the zonewall XDP engine, and the nftables engine when this
 *    build has it (zw-nft-apply), same frames, same run.
 *
 * 3. with --logging (instead of 1 and 2): the cost of flow records, every
 *    new connection logged (log_all_new, zonewalld --log-all-flows) vs
 *    none, same run, medians of interleaved rounds: an established packet
 *    (BPF_PROG_TEST_RUN repeat, best of 9), and new allowed connections,
 *    each a distinct SYN run once (the kernel's own duration per run, so
 *    the syscall is left out), the ring buffer drained between batches as
 *    zonewalld drains it.
 *
 * Usage: xdp-bench [--seconds N] [--repeat N] [--flows 10,1000,10000]
 *                  [--logging]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <stddef.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "gen.h"
#include "pkt_build.h"
#include "xdp.h"

static int repeat = 200000;
static int seconds = 3;
static char tag[32];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Enter network namespace @name (this thread only); -1 on failure. */
static int enter_ns(const char *name)
{
	char path[256];
	int fd, rc;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	rc = setns(fd, CLONE_NEWNET);
	close(fd);
	return rc;
}

static int self_ns = -1;

static void leave_ns(void)
{
	if (setns(self_ns, CLONE_NEWNET))
		perror("setns back");
}

static int trivial_prog(int action)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = action},
		{.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, action == XDP_PASS ? "zwb_pass"
					       : action == XDP_TX ? "zwb_tx" : "zwb_drop",
			     "GPL", insns, 2, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The best of 9 runs of the average ns per run (the machine is shared:
 * the minimum is the figure least disturbed by other tenants), and the
 * action. */
static double ns_per_pkt(int prog_fd, const uint8_t *frame, size_t len,
			 int *action)
{
	double v[9];

	for (int i = 0; i < 9; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .data_size_in = (__u32)len, .repeat = (__u32)repeat);

		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			perror("bpf_prog_test_run");
			return -1;
		}
		v[i] = o.duration;
		if (action)
			*action = (int)o.retval;
	}
	qsort(v, 9, sizeof(v[0]), cmp_double);
	return v[0];
}

static size_t build(uint8_t *buf, size_t cap, uint8_t family, const uint8_t *src,
		    const uint8_t *dst, uint8_t proto, uint16_t sport,
		    uint16_t dport, uint8_t flags)
{
	struct zw_pb s;

	memset(&s, 0, sizeof(s));
	s.family = family;
	memcpy(s.src, src, 16);
	memcpy(s.dst, dst, 16);
	s.proto = proto;
	s.sport = sport;
	s.dport = dport;
	s.tcp_flags = flags;
	return zw_pb__build(&s, buf, cap);
}

static struct zw_image *compile_text(const char *yaml, struct zw_matrix **mo)
{
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	char err[256];

	zw_diags__init(&d, "bench");
	m = zw_matrix__parse(yaml, strlen(yaml), "bench", &d);
	if (!m || zw_matrix__validate(m, zw_date__today(), &d)) {
		zw_diags__print_text(&d, stderr);
		exit(1);
	}
	zw_diags__fini(&d);
	if (zw_policy__compile(m, &b, &n) ||
	    !(img = zw_image__open(b, n, err, sizeof(err)))) {
		fprintf(stderr, "compile failed\n");
		exit(1);
	}
	free(b);
	*mo = m;
	return img;
}

/* An allowed TCP question of @img (a rule without narrowing, a port
 * rule) and a denied one, with addresses. */
static int pick_queries(const struct zw_matrix *m, const struct zw_image *img,
			struct zw_query *allow, struct zw_query *deny)
{
	uint64_t st = 99;
	int have_a = 0, have_d = 0;

	for (int i = 0; i < 200000 && !(have_a && have_d); i++) {
		struct zw_query q;
		struct zw_verdict v;

		zw_gen__query(m, &st, zw_date__today(), &q);
		q.day = zw_date__today();
		if (q.proto != 6 || q.family != 4)
			continue;
		zw_eval__image(img, &q, &v);
		if (v.allow && v.reason == ZW_VERDICT_FLOW && !have_a) {
			*allow = q;
			have_a = 1;
		}
		if (!v.allow && v.reason == ZW_VERDICT_NO_FLOW && !have_d &&
		    v.src_zone != 0 && v.dst_zone != 0) {
			*deny = q;
			have_d = 1;
		}
	}
	return have_a && have_d ? 0 : -1;
}

/* ---- xdp-filter with N rules, in its own namespace ---- */

struct xf {
	char ns[64];
	int prog_fd;
};

static int xdp_filter_setup(struct xf *xf, size_t n, const struct zw_query *allow)
{
	char script[256];
	FILE *f;
	int rc;

	snprintf(xf->ns, sizeof(xf->ns), "zwbf-%s", tag);
	snprintf(script, sizeof(script), "/tmp/zwbf-%s.sh", tag);
	f = fopen(script, "w");
	if (!f)
		return -1;
	fprintf(f, "set -e\nmount -t bpf bpf /sys/fs/bpf\nmount -t tmpfs tmpfs /run\n"
		   "xdp-filter load -m native -p deny -f ipv4,tcp,udp va\n");
	/* the allowed packet's port and source first, then n-1 others */
	fprintf(f, "xdp-filter port %u -m dst -p tcp\n", allow->port);
	fprintf(f, "xdp-filter ip %u.%u.%u.%u -m src\n", allow->src[0], allow->src[1],
		allow->src[2], allow->src[3]);
	for (size_t i = 1; i < n; i++) {
		fprintf(f, "xdp-filter port %zu -m dst -p tcp\n", 20000 + i % 40000);
		fprintf(f, "xdp-filter ip 172.%zu.%zu.%zu -m src\n", 16 + (i >> 16) % 16,
			(i >> 8) & 255, i & 255);
	}
	fclose(f);
	if (sh("ip netns add %s && ip -n %s link add va type veth peer name vb && "
	       "ip -n %s link set va up && ip -n %s link set vb up", xf->ns, xf->ns,
	       xf->ns, xf->ns))
		return -1;
	rc = sh("ip netns exec %s sh %s >/dev/null 2>&1", xf->ns, script);
	unlink(script);
	if (rc)
		return -1;
	if (enter_ns(xf->ns))
		return -1;
	{
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		int idx = (int)if_nametoindex("va");

		rc = bpf_xdp_query(idx, 0, &q);
		leave_ns();
		if (rc || !q.prog_id)
			return -1;
		xf->prog_fd = bpf_prog_get_fd_by_id(q.prog_id);
	}
	return xf->prog_fd < 0 ? -1 : 0;
}

static void xdp_filter_teardown(struct xf *xf)
{
	if (xf->prog_fd >= 0)
		close(xf->prog_fd);
	sh("ip netns del %s 2>/dev/null", xf->ns);
}

/* ---- part 1 ---- */

static void part1(const size_t *flows, int n_flows)
{
	int pass_fd = trivial_prog(XDP_PASS);
	uint8_t f1[128], f2[128], f3[128], f4[128];
	double base;

	printf("\n1. ns/packet through BPF_PROG_TEST_RUN (best of 9 x %d runs; "
	       "64-byte TCP/IPv4 frames)\n\n", repeat);
	printf("%7s %8s | %12s %12s | %12s %12s | %9s\n", "flows", "zones",
	       "zonewall est", "zonewall new", "xdp-filter", "xdp-filter", "XDP_PASS");
	printf("%7s %8s | %12s %12s | %12s %12s | %9s\n", "", "", "(pass)",
	       "(deny)", "(pass)", "(deny)", "(floor)");
	for (int k = 0; k < n_flows; k++) {
		struct zw_gen_opts o = {.seed = 4242 + (uint64_t)k,
					.n_zones = flows[k] >= 1000 ? 50 : 8,
					.n_flows = flows[k],
					.n_services = 20,
					.ipv6 = true,
					.narrowing = true};
		char *yaml = zw_gen__matrix(&o);
		struct zw_matrix *m;
		struct zw_image *img = compile_text(yaml, &m);
		struct zw_query qa = {0}, qd = {0};
		struct zw_xdp *x;
		struct xf xf = {.prog_fd = -1};
		char dir[128], err[512];
		double est, nw, xa = -1, xd = -1;
		size_t l1, l2, l3, l4;
		int a1, a2, a3 = -1, a4 = -1;

		free(yaml);
		if (pick_queries(m, img, &qa, &qd)) {
			fprintf(stderr, "no allowed/denied TCP question found\n");
			exit(1);
		}
		snprintf(dir, sizeof(dir), "/sys/fs/bpf/zwbench-%s", tag);
		if (zw_xdp__open(dir, NULL, &x, err, sizeof(err)) ||
		    zw_xdp__apply(x, img, zw_date__today(), err, sizeof(err))) {
			fprintf(stderr, "zonewall: %s\n", err);
			exit(1);
		}
		zw_xdp__set_records(x, 0, 0);
		/* open the connection, then time its ACKs */
		l1 = build(f1, sizeof(f1), 4, qa.src, qa.dst, 6, 40000, qa.port, 0x02);
		ns_per_pkt(zw_xdp__prog_fd(x), f1, l1, &a1);
		l1 = build(f1, sizeof(f1), 4, qa.src, qa.dst, 6, 40000, qa.port, 0x10);
		est = ns_per_pkt(zw_xdp__prog_fd(x), f1, l1, &a1);
		l2 = build(f2, sizeof(f2), 4, qd.src, qd.dst, 6, 40001, qd.port, 0x02);
		nw = ns_per_pkt(zw_xdp__prog_fd(x), f2, l2, &a2);

		if (!xdp_filter_setup(&xf, flows[k], &qa)) {
			l3 = build(f3, sizeof(f3), 4, qa.src, qa.dst, 6, 40000, qa.port, 0x10);
			xa = ns_per_pkt(xf.prog_fd, f3, l3, &a3);
			l4 = build(f4, sizeof(f4), 4, qd.src, qd.dst, 6, 40001, 1, 0x02);
			xd = ns_per_pkt(xf.prog_fd, f4, l4, &a4);
		}
		xdp_filter_teardown(&xf);
		base = ns_per_pkt(pass_fd, f1, l1, NULL);
		printf("%7zu %8u | %9.1f %s | %9.1f %s | ", flows[k], img->n_zones, est,
		       a1 == XDP_PASS ? "ok" : "!!", nw, a2 == XDP_DROP ? "ok" : "!!");
		if (xa >= 0)
			printf("%9.1f %s | %9.1f %s | ", xa, a3 == XDP_PASS ? "ok" : "!!",
			       xd, a4 == XDP_DROP ? "ok" : "!!");
		else
			printf("%12s %12s | ", "n/a", "n/a");
		printf("%9.1f\n", base);
		zw_xdp__destroy(x, err, sizeof(err));
		zw_xdp__close(x);
		zw_image__free(img);
		zw_matrix__free(m);
	}
	printf("\n(ok: the expected verdict; zonewall does zone-pair classification "
	       "with narrowing and\nstate, xdp-filter matches ports and addresses "
	       "independently, statelessly)\n");
	close(pass_fd);
}

/* ---- part 3: the cost of logging ---- */

#define LOG_ROUNDS 5
#define LOG_NEW 20000 /* distinct new connections per mode and round */

static int count_rec(const struct zw_flow_record *r, void *arg)
{
	(void)r;
	++*(uint64_t *)arg;
	return 0;
}

/* @n distinct allowed SYNs of @qa (source port and address varied from
 * @salt), each run once: the kernel's ns per run, median of the batches'
 * averages is left to the caller; the records drained into *@recs. */
static double new_conns(struct zw_xdp *x, const struct zw_query *qa,
			uint32_t salt, uint64_t *recs)
{
	uint8_t f[128], src[16];
	uint64_t dur = 0;

	memcpy(src, qa->src, 16);
	*recs = 0;
	zw_xdp__poll_records(x, count_rec, &(uint64_t){0}, 0);
	for (uint32_t i = 0; i < LOG_NEW; i++) {
		uint32_t k = salt * LOG_NEW + i;
		size_t l;

		/* the host byte stays inside a /24 zone prefix */
		src[3] = (uint8_t)(qa->src[3] ^ ((k / 60000) & 0x7f));
		l = build(f, sizeof(f), 4, src, qa->dst, 6,
			  (uint16_t)(1024 + k % 60000), qa->port, 0x02);
		{
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
				    .data_size_in = (__u32)l, .repeat = 1);

			if (bpf_prog_test_run_opts(zw_xdp__prog_fd(x), &o))
				return -1;
			dur += o.duration;
		}
		if (i % 512 == 511)
			zw_xdp__poll_records(x, count_rec, recs, 0);
	}
	zw_xdp__poll_records(x, count_rec, recs, 0);
	return (double)dur / LOG_NEW;
}

static void part3(size_t flows)
{
	struct zw_gen_opts o = {.seed = 4242, .n_zones = flows >= 1000 ? 50 : 8,
				.n_flows = flows, .n_services = 20,
				.ipv6 = true, .narrowing = true};
	char *yaml = zw_gen__matrix(&o), *p;
	struct zw_matrix *m;
	struct zw_image *img;
	struct zw_query qa = {0}, qd = {0};
	struct zw_xdp *x;
	char dir[128], err[512];
	double en[LOG_ROUNDS], ea[LOG_ROUNDS], nn[LOG_ROUNDS], na[LOG_ROUNDS];
	uint64_t rn = 0, ra = 0, r;
	uint8_t f[128];
	size_t l;
	int act;
	const char *fs = getenv("ZONEWALL_TEST_BPFFS"); /* tests/with_bpffs.sh */

	/* "none" is none: no flow of the matrix has log: true */
	while ((p = strstr(yaml, "log: true"))) {
		yaml = realloc(yaml, strlen(yaml) + 2);
		p = strstr(yaml, "log: true");
		memmove(p + 10, p + 9, strlen(p + 9) + 1);
		memcpy(p, "log: false", 10);
	}
	img = compile_text(yaml, &m);

	free(yaml);
	if (pick_queries(m, img, &qa, &qd)) {
		fprintf(stderr, "no allowed/denied TCP question found\n");
		exit(1);
	}
	snprintf(dir, sizeof(dir), "%s/zwbench-%s", fs ? fs : "/sys/fs/bpf",
		 tag);
	if (zw_xdp__open(dir, NULL, &x, err, sizeof(err)) ||
	    zw_xdp__apply(x, img, zw_date__today(), err, sizeof(err))) {
		fprintf(stderr, "zonewall: %s\n", err);
		exit(1);
	}
	printf("\n3. the cost of logging: %zu flows, TCP/IPv4 64-byte frames; "
	       "every new connection logged (log_all_new) vs none, medians of "
	       "%d interleaved rounds\n\n", flows, LOG_ROUNDS);
	for (int k = 0; k < LOG_ROUNDS; k++) {
		for (int mode = 0; mode < 2; mode++) {
			uint16_t sp = (uint16_t)(30000 + 2 * k + mode);

			zw_xdp__set_records(x, 0, mode);
			/* an established packet of a connection opened in
			 * this mode */
			l = build(f, sizeof(f), 4, qa.src, qa.dst, 6, sp,
				  qa.port, 0x02);
			ns_per_pkt(zw_xdp__prog_fd(x), f, l, &act);
			l = build(f, sizeof(f), 4, qa.src, qa.dst, 6, sp,
				  qa.port, 0x10);
			(mode ? ea : en)[k] = ns_per_pkt(zw_xdp__prog_fd(x), f, l,
							 &act);
			(mode ? na : nn)[k] = new_conns(
				x, &qa, (uint32_t)(2 * k + mode), &r);
			*(mode ? &ra : &rn) += r;
		}
	}
	zw_xdp__poll_records(x, count_rec, &r, 0);
	qsort(en, LOG_ROUNDS, sizeof(double), cmp_double);
	qsort(ea, LOG_ROUNDS, sizeof(double), cmp_double);
	qsort(nn, LOG_ROUNDS, sizeof(double), cmp_double);
	qsort(na, LOG_ROUNDS, sizeof(double), cmp_double);
	printf("  %-44s %8s %8s %8s\n", "", "none", "logged", "cost");
	printf("  %-44s %8.1f %8.1f %+7.1f %%\n",
	       "established packet, ns", en[LOG_ROUNDS / 2],
	       ea[LOG_ROUNDS / 2],
	       100.0 * (ea[LOG_ROUNDS / 2] - en[LOG_ROUNDS / 2]) /
		       en[LOG_ROUNDS / 2]);
	printf("  %-44s %8.1f %8.1f %+7.1f %%\n",
	       "new allowed connection (one record), ns", nn[LOG_ROUNDS / 2],
	       na[LOG_ROUNDS / 2],
	       100.0 * (na[LOG_ROUNDS / 2] - nn[LOG_ROUNDS / 2]) /
		       nn[LOG_ROUNDS / 2]);
	printf("  records received: none %" PRIu64 ", logged %" PRIu64
	       " of %d new connections; at %.1f ns per new connection one core "
	       "would make %.0f records/s\n", rn, ra, LOG_ROUNDS * LOG_NEW,
	       na[LOG_ROUNDS / 2], 1e9 / na[LOG_ROUNDS / 2]);
	zw_xdp__destroy(x, err, sizeof(err));
	zw_xdp__close(x);
	zw_image__free(img);
	zw_matrix__free(m);
}

/* ---- part 2: forwarding ---- */

struct flood {
	char ns[64];
	int ifindex;
	uint8_t frame[128];
	size_t len;
	atomic_int stop;
	unsigned long long sent;
};

/*
 * The traffic generator: BPF_PROG_TEST_RUN in live-frames mode on the
 * sender's veth with a program that writes the whole 60-byte frame, then
 * XDP_TX. (Writing it each time matters: live-frames pages are recycled
 * without being re-initialised, and frames that went up the appliance's
 * stack come back with its rewritten headers.)
 */
static int writer_prog(const uint8_t *frame)
{
	struct bpf_insn insns[32];
	int n = 0;

	/* r2 = data, r3 = data_end, r4 = data + 60 */
	insns[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2,
				       .src_reg = 1, .off = offsetof(struct xdp_md, data)};
	insns[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3,
				       .src_reg = 1, .off = offsetof(struct xdp_md, data_end)};
	insns[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 4,
				       .src_reg = 2};
	insns[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 4,
				       .imm = 60};
	/* if r4 > r3 goto drop (skips 15 stores + 2) */
	insns[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_JGT | BPF_X, .dst_reg = 4,
				       .src_reg = 3, .off = 17};
	for (int k = 0; k < 60; k += 4) {
		int32_t imm;

		memcpy(&imm, frame + k, 4);
		insns[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_W,
					       .dst_reg = 2, .off = (int16_t)k, .imm = imm};
	}
	insns[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0,
				       .imm = XDP_TX};
	insns[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_EXIT};
	insns[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0,
				       .imm = XDP_DROP};
	insns[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_EXIT};
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "zwb_gen", "GPL", insns, (size_t)n, NULL);
}

static void *flood_thread(void *arg)
{
	struct flood *fl = arg;
	int tx;

	if (enter_ns(fl->ns)) {
		perror("flood setns");
		return NULL;
	}
	tx = writer_prog(fl->frame);
	if (tx < 0) {
		perror("generator program");
		return NULL;
	}
	while (!atomic_load(&fl->stop)) {
		struct xdp_md ctx = {.data_end = (__u32)fl->len,
				     .ingress_ifindex = (__u32)fl->ifindex};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fl->frame,
			    .data_size_in = (__u32)fl->len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1u << 18,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);

		if (bpf_prog_test_run_opts(tx, &o)) {
			perror("live frames");
			break;
		}
		fl->sent += 1u << 18;
	}
	close(tx);
	return NULL;
}

static uint64_t tx_packets(const char *ns, const char *ifname)
{
	struct nl_sock *sk;
	struct rtnl_link *l = NULL;
	uint64_t v = 0;

	if (enter_ns(ns))
		return 0;
	sk = nl_socket_alloc();
	if (sk && !nl_connect(sk, NETLINK_ROUTE) &&
	    !rtnl_link_get_kernel(sk, 0, ifname, &l)) {
		v = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
		rtnl_link_put(l);
	}
	nl_socket_free(sk);
	leave_ns();
	return v;
}

static double measure(struct flood *fl, const char *rns, const char *r1)
{
	pthread_t t;
	uint64_t a, b;
	struct timespec t0, t1;

	atomic_store(&fl->stop, 0);
	pthread_create(&t, NULL, flood_thread, fl);
	usleep(300000); /* warm up */
	a = tx_packets(rns, r1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sleep((unsigned)seconds);
	b = tx_packets(rns, r1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_store(&fl->stop, 1);
	pthread_join(t, NULL);
	if (getenv("ZW_BENCH_DEBUG"))
		fprintf(stderr, "sent %llu, forwarded %llu\n", fl->sent,
			(unsigned long long)(b - a));
	return (double)(b - a) /
	       ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static int attach_in(const char *ns, const char *ifname, int prog_fd)
{
	int rc;

	if (enter_ns(ns))
		return -1;
	rc = bpf_xdp_attach((int)if_nametoindex(ifname), prog_fd, XDP_FLAGS_DRV_MODE,
			    NULL);
	leave_ns();
	return rc;
}

static int detach_in(const char *ns, const char *ifname)
{
	int rc;

	if (enter_ns(ns))
		return -1;
	rc = bpf_xdp_detach((int)if_nametoindex(ifname), XDP_FLAGS_DRV_MODE, NULL);
	leave_ns();
	return rc;
}

static void part2(void)
{
	char na[64], nr[64], nb[64], a0[16], r0[16], r1[16], b0[16], dir[128], err[512];
	char yaml_extra[512];
	const char *nft = getenv("ZW_NFT_APPLY");
	char nft_path[4200];
	struct flood fl = {0};
	struct zw_matrix *m;
	struct zw_image *img;
	struct zw_xdp *x = NULL;
	int pass_fd = trivial_prog(XDP_PASS), drop_fd = trivial_prog(XDP_DROP);
	uint8_t src[16] = {10, 0, 1, 2}, dst[16] = {10, 0, 2, 2};
	uint8_t rmac[6];
	double p_none, p_xdp, p_nft = -1;
	int ok = 1;

	if (!nft) {
		/* this build's zw-nft-apply, next to us */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = 0;
			*strrchr(self, '/') = 0;
			snprintf(nft_path, sizeof(nft_path), "%s/../dataplane/nft/zw-nft-apply",
				 self);
			if (!access(nft_path, X_OK))
				nft = nft_path;
		}
	}
	snprintf(na, sizeof(na), "zwbA-%s", tag);
	snprintf(nr, sizeof(nr), "zwbR-%s", tag);
	snprintf(nb, sizeof(nb), "zwbB-%s", tag);
	snprintf(a0, sizeof(a0), "a0-%.8s", tag);
	snprintf(r0, sizeof(r0), "r0-%.8s", tag);
	snprintf(r1, sizeof(r1), "r1-%.8s", tag);
	snprintf(b0, sizeof(b0), "b0-%.8s", tag);
	printf("\n2. packets/s forwarded by an appliance namespace (veth in, veth out), "
	       "64-byte UDP/IPv4,\n   one flow, best of 3 interleaved rounds of %d s, frames "
	       "injected with BPF_PROG_TEST_RUN live frames\n\n", seconds);
	if (sh("ip netns add %s && ip netns add %s && ip netns add %s", na, nr, nb) ||
	    sh("ip link add %s netns %s type veth peer name %s netns %s", a0, na, r0, nr) ||
	    sh("ip link add %s netns %s type veth peer name %s netns %s", r1, nr, b0, nb) ||
	    sh("ip -n %s link set %s up && ip -n %s link set %s up && "
	       "ip -n %s link set %s up && ip -n %s link set %s up",
	       na, a0, nr, r0, nr, r1, nb, b0) ||
	    sh("ip -n %s addr add 10.0.1.2/24 dev %s && ip -n %s addr add 10.0.1.1/24 dev %s && "
	       "ip -n %s addr add 10.0.2.1/24 dev %s && ip -n %s addr add 10.0.2.2/24 dev %s",
	       na, a0, nr, r0, nr, r1, nb, b0) ||
	    sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1", nr) ||
	    sh("ip -n %s neigh replace 10.0.2.2 lladdr $(ip -n %s -br link show %s | "
	       "awk '{print $3}') dev %s", nr, nb, b0, r1)) {
		printf("   SKIP: cannot build the namespaces\n");
		goto out;
	}
	/* frame: a0 → r0's MAC */
	{
		FILE *p;
		char cmd[256], mac[64] = "";
		unsigned v[6];

		snprintf(cmd, sizeof(cmd), "ip -n %s -br link show %s | awk '{print $3}'", nr, r0);
		p = popen(cmd, "r");
		if (!p || !fgets(mac, sizeof(mac), p) ||
		    sscanf(mac, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
			printf("   SKIP: no MAC\n");
			if (p)
				pclose(p);
			goto out;
		}
		pclose(p);
		for (int i = 0; i < 6; i++)
			rmac[i] = (uint8_t)v[i];
	}
	fl.len = build(fl.frame, sizeof(fl.frame), 4, src, dst, 17, 40000, 53, 0);
	memcpy(fl.frame, rmac, 6);
	snprintf(fl.ns, sizeof(fl.ns), "%s", na);
	if (enter_ns(na))
		goto out;
	fl.ifindex = (int)if_nametoindex(a0);
	leave_ns();
	/* the receiver drops in XDP: what is measured is the appliance */
	ok = !attach_in(nb, b0, drop_fd);

	/* zonewall XDP with a 1 000-flow matrix plus the flow used */
	{
		struct zw_gen_opts o = {.seed = 7, .n_zones = 50, .n_flows = 1000,
					.n_services = 10, .ipv6 = true, .narrowing = true};
		char *yaml = zw_gen__matrix(&o);
		char *full = malloc(strlen(yaml) + sizeof(yaml_extra));

		snprintf(yaml_extra, sizeof(yaml_extra),
			 "  - id: BENCH-DNS\n    from: z1\n    to: z2\n    services: [dns]\n"
			 "    justification: benchmark flow\n");
		sprintf(full, "%s%s", yaml, yaml_extra);
		img = compile_text(full, &m);
		free(yaml);
		free(full);
	}
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/zwbench-fwd-%s", tag);
	if (!ok || zw_xdp__open(dir, NULL, &x, err, sizeof(err)) ||
	    zw_xdp__apply(x, img, zw_date__today(), err, sizeof(err))) {
		printf("   zonewall: %s\n", err);
		zw_xdp__close(x);
		x = NULL;
	} else {
		zw_xdp__set_records(x, 0, 0);
	}
	char imgpath[128];

	snprintf(imgpath, sizeof(imgpath), "/tmp/zwbench-%s.img", tag);
	if (nft && *nft) {
		FILE *f = fopen(imgpath, "wb");

		if (f) {
			fwrite(img->bytes, 1, img->size, f);
			fclose(f);
		}
	}

	/*
	 * The three configurations take turns, round after round, and the best
	 * round of each is kept: the machine's background load then weighs on
	 * all of them alike. Every configuration has an XDP program on both
	 * appliance veths (XDP_PASS for "no filter" and nftables), so the veth
	 * receive path is the same and only the filtering differs.
	 */
	p_none = p_xdp = -1;
	for (int round = 0; ok && round < 3; round++) {
		double v;

		if (!attach_in(nr, r0, pass_fd) && !attach_in(nr, r1, pass_fd)) {
			v = measure(&fl, nr, r1);
			p_none = v > p_none ? v : p_none;
		}
		if (nft && *nft &&
		    !sh("ip netns exec %s %s %s >/dev/null", nr, nft, imgpath)) {
			v = measure(&fl, nr, r1);
			p_nft = v > p_nft ? v : p_nft;
			sh("ip netns exec %s nft delete table inet zonewall 2>/dev/null", nr);
		}
		detach_in(nr, r0);
		detach_in(nr, r1);
		if (x && !enter_ns(nr)) {
			const char *mode = NULL;
			int rc = zw_xdp__attach(x, r0, ZW_XDP_MODE_NATIVE, &mode, err, sizeof(err));

			if (!rc)
				rc = zw_xdp__attach(x, r1, ZW_XDP_MODE_NATIVE, &mode, err, sizeof(err));
			leave_ns();
			if (!rc) {
				v = measure(&fl, nr, r1);
				p_xdp = v > p_xdp ? v : p_xdp;
			}
			if (!enter_ns(nr)) {
				zw_xdp__detach(x, r0, err, sizeof(err));
				zw_xdp__detach(x, r1, err, sizeof(err));
				leave_ns();
			}
		}
	}
	if (x) {
		uint64_t st[ZW_XDP_N_STATS];

		if (!zw_xdp__stats(x, st) && st[1] + st[3])
			printf("   (zonewall dropped %llu packets: check the flow)\n",
			       (unsigned long long)(st[1] + st[3]));
		zw_xdp__destroy(x, err, sizeof(err));
		zw_xdp__close(x);
	}
	unlink(imgpath);
	printf("%-34s %14s %10s\n", "configuration", "packets/s", "vs none");
	printf("%-34s %14.0f %10s\n", "no filter (XDP_PASS)", p_none, "1.00");
	printf("%-34s %14.0f %10.2f\n", "zonewall XDP engine (1001 flows)", p_xdp,
	       p_none > 0 ? p_xdp / p_none : 0);
	if (p_nft >= 0)
		printf("%-34s %14.0f %10.2f\n", "zonewall nftables engine", p_nft,
		       p_none > 0 ? p_nft / p_none : 0);
	else
		printf("%-34s %14s\n", "zonewall nftables engine",
		       nft && *nft ? "failed" : "not in this build");
	zw_image__free(img);
	zw_matrix__free(m);
out:
	if (getenv("ZW_BENCH_KEEP"))
		return;
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; "
	   "ip netns del %s 2>/dev/null", na, nr, nb);
	close(pass_fd);
	close(drop_fd);
}

int main(int argc, char **argv)
{
	size_t flows[8] = {10, 1000, 10000};
	int n_flows = 3, logging = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--logging"))
			logging = 1;
		else if (!strcmp(argv[i], "--flows") && i + 1 < argc) {
			char *s = argv[++i], *tok, *save = NULL;

			n_flows = 0;
			for (tok = strtok_r(s, ",", &save); tok && n_flows < 8;
			     tok = strtok_r(NULL, ",", &save))
				flows[n_flows++] = strtoul(tok, NULL, 10);
		} else {
			fprintf(stderr, "usage: xdp-bench [--seconds N] [--repeat N] "
					"[--flows 10,1000,10000] [--logging]\n");
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "xdp-bench: needs root\n");
		return 3;
	}
	snprintf(tag, sizeof(tag), "%d", (int)getpid());
	self_ns = open("/proc/self/ns/net", O_RDONLY);
	printf("xdp-bench: zonewall XDP engine vs baselines, same run (%ld CPUs, kernel BPF JIT)\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	if (logging) {
		part3(flows[0]);
		return 0;
	}
	part1(flows, n_flows);
	part2();
	return 0;
}
