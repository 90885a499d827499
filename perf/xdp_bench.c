/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xdp-bench: the XDP engine's cost, beside baselines measured in the same
 * run (root; everything in network namespaces and bpffs directories it
 * creates and removes).
 *
 * 1. ns per packet through BPF_PROG_TEST_RUN, for a matrix of 1 000 flows
 *    (tests/gen, 50 zones; --flows for others), with 1 000, 100 000 and
 *    1 000 000 live connections (--conns) in the connection table:
 *      est        an ACK of a live connection drawn at random (every run a
 *                 different one: parse, block-list check, connection
 *                 lookup, counters, with the table's real cache misses)
 *      new allow  a SYN of a tuple never seen, of an allowed flow: judged
 *                 from scratch, entry created
 *      new deny   a SYN no flow allows (zones by LPM, rule lookup,
 *                 same-zone rule; drop records off)
 *      XDP_PASS   a program that does nothing, run the same way in the same
 *                 loop: the floor, subtracted in the 'net' columns
 *      xdp-filter (xdp-tools) in allow-list mode (-p deny) with one
 *                 destination-port rule and one source-address rule per
 *                 flow: an allowed packet and a denied one
 *    Every run is one frame with repeat = 1, timed by the kernel (the
 *    test_run duration: the program call only, no syscall); figures are
 *    medians over --samples runs. The live connections are written into
 *    the table in its own format (struct zw_bpf_conn), copies of an
 *    established connection the program opened (SYN, SYN/ACK, ACK). The
 *    old figure (one frame repeated, every map hot) is the '1 (hot)' row.
 * 2. packets per second forwarded by an appliance namespace between two
 *    veths (sender → appliance → receiver), 64-byte UDP frames injected
 *    with BPF_PROG_TEST_RUN live frames on the sender's veth: no filter
 *    (XDP_PASS), the zonewall XDP engine, and the nftables engine when this
 *    build has it (zw-nft-apply), same frames, same run, median of three
 *    interleaved rounds. Where the kernel refuses live frames, it prints
 *    "SKIP forwarding: <why>" and no ratio.
 *
 * 3. with --logging (instead of 1 and 2): the cost of flow records, every
 *    new connection logged (log_all_new, zonewalld --log-all-flows) vs
 *    none, same run, medians of interleaved rounds: an established packet
 *    (BPF_PROG_TEST_RUN repeat, best of 9), and new allowed connections,
 *    each a distinct SYN run once (the kernel's own duration per run, so
 *    the syscall is left out), the ring buffer drained between batches as
 *    zonewalld drains it.
 *
 * The bench mounts its own bpffs on a temporary directory (unmounted at
 * exit and on SIGINT/SIGTERM/SIGHUP) and prints the machine, the date and
 * the source's commit.
 *
 * Usage: xdp-bench [--flows 1000] [--conns 1000,100000,1000000]
 *                  [--samples 20000] [--repeat 200000] [--seconds 3]
 *                  [--table N] [--no-forward] [--logging]
 * --table: the connection table's size (default: the largest --conns plus
 * room for the new connections; --table equal to --conns measures new
 * connections that evict another: the table full).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <stddef.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
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
#include "zw_bpf_abi.h"
#include "zw_conn.h"

static int repeat = 200000;
static int seconds = 3;
static char tag[32];

/*
 * Our own bpffs (a fresh machine has none at /sys/fs/bpf, and another
 * user's must not be touched): mounted on a temporary directory, unmounted
 * at exit and on SIGINT/SIGTERM/SIGHUP, like the namespaces we create.
 */
static char bpffs[64];
static char made_ns[4][64];

static void cleanup(void)
{
	char cmd[512];

	for (int i = 0; i < 4; i++)
		if (made_ns[i][0] && !getenv("ZW_BENCH_KEEP")) {
			snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", made_ns[i]);
			if (system(cmd)) {
				/* already gone */
			}
			made_ns[i][0] = 0;
		}
	if (bpffs[0]) {
		umount2(bpffs, MNT_DETACH);
		rmdir(bpffs);
		bpffs[0] = 0;
	}
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int mount_bpffs(void)
{
	snprintf(bpffs, sizeof(bpffs), "/tmp/zwbench-bpffs-XXXXXX");
	if (!mkdtemp(bpffs)) {
		bpffs[0] = 0;
		return -1;
	}
	if (mount("bpf", bpffs, "bpf", 0, "mode=0700")) {
		rmdir(bpffs);
		bpffs[0] = 0;
		return -1;
	}
	return 0;
}

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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of @v[0..n) (sorts @v). */
static double median_u32(uint32_t *v, size_t n)
{
	if (!n)
		return -1;
	qsort(v, n, sizeof(v[0]), cmp_u32);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/* The median of 9 runs of the average ns per run over @repeat repeats of
 * one frame (every map hot: the figure of earlier versions of this
 * bench, kept for comparison), and the action. */
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
	return v[4];
}

/*
 * One run of one frame (repeat = 1): the kernel's own duration of that
 * run (bpf_test_run() reads the clock around the program call only: no
 * syscall, no copy of the frame; what it does include, the clock reads
 * and the run's setup, is the XDP_PASS program's figure measured the same
 * way in the same loop, and is subtracted).
 */
static int run1(int prog_fd, const uint8_t *frame, size_t len, uint32_t *ns,
		int *action)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = (__u32)len, .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	*ns = o.duration;
	if (action)
		*action = (int)o.retval;
	return 0;
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
	snprintf(made_ns[0], sizeof(made_ns[0]), "%s", xf->ns);
	snprintf(script, sizeof(script), "/tmp/zwbf-%s.sh", tag);
	f = fopen(script, "w");
	if (!f)
		return -1;
	/* `ip netns exec` runs it in a mount namespace of its own: this
	 * bpffs and tmpfs are private to it */
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
	made_ns[0][0] = 0;
}

/* ---- part 1 ---- */

static size_t conn_counts[8] = {1000, 100000, 1000000};
static int n_conn_counts = 3;
static size_t samples = 20000;
static size_t table_size; /* 0: the largest --conns + room for the new ones */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The live connections: their tuples as the initiator sends them. */
struct conns {
	size_t n, cap;
	uint32_t *src, *dst; /* IPv4, network order */
	uint16_t *sport, *dport;
};

static void tuple4(struct zw_tuple *t, uint32_t src, uint32_t dst,
		   uint16_t sport, uint16_t dport)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->src, &src, 4);
	memcpy(t->dst, &dst, 4);
	t->sport = sport;
	t->dport = dport;
	t->proto = 6;
	t->family = 4;
}

/* The program's key of @t (zonewall.bpf.c ckey4) and whether its ends
 * were swapped. */
static int key4(const struct zw_tuple *t, struct zw_bpf_ckey4 *k4)
{
	struct zw_tuple k;
	int swapped = zw_tuple__normalise(t, &k);

	memset(k4, 0, sizeof(*k4));
	memcpy(k4->src, k.src, 4);
	memcpy(k4->dst, k.dst, 4);
	k4->sport = k.sport;
	k4->dport = k.dport;
	k4->proto = k.proto;
	return swapped;
}

/*
 * Grow the connection table to @n live connections of random tuples
 * (10.0.0.0/8 to 10.0.0.0/8, TCP): entries written in the table's own
 * format (struct zw_bpf_conn), copies of @tmpl, an established
 * connection the program itself opened, with the direction flag of each
 * tuple. Batches of 8192 (bpf_map_update_batch).
 */
static int populate(int map_fd, struct conns *cs, size_t n,
		    const struct zw_bpf_conn *tmpl, uint64_t *st)
{
	enum { B = 8192 };
	static struct zw_bpf_ckey4 keys[B];
	static struct zw_bpf_conn vals[B];

	if (n > cs->cap) {
		cs->cap = n;
		cs->src = realloc(cs->src, n * sizeof(uint32_t));
		cs->dst = realloc(cs->dst, n * sizeof(uint32_t));
		cs->sport = realloc(cs->sport, n * sizeof(uint16_t));
		cs->dport = realloc(cs->dport, n * sizeof(uint16_t));
		if (!cs->src || !cs->dst || !cs->sport || !cs->dport)
			return -1;
	}
	while (cs->n < n) {
		__u32 m = 0;
		LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);

		for (; m < B && cs->n + m < n; m++) {
			size_t i = cs->n + m;
			uint64_t r = rnd(st);
			struct zw_tuple t;

			cs->src[i] = htonl(0x0a000000u | (uint32_t)(r & 0xffffff));
			cs->dst[i] = htonl(0x0a000000u | (uint32_t)((r >> 24) & 0xffffff));
			cs->sport[i] = (uint16_t)(1024 + (r >> 48) % 64000);
			cs->dport[i] = (uint16_t)(1 + rnd(st) % 1024);
			tuple4(&t, cs->src[i], cs->dst[i], cs->sport[i], cs->dport[i]);
			vals[m] = *tmpl;
			vals[m].c.flags &= (__u8)~ZW_CF_ORIG_SWAPPED;
			if (key4(&t, &keys[m]))
				vals[m].c.flags |= ZW_CF_ORIG_SWAPPED;
		}
		if (bpf_map_update_batch(map_fd, keys, vals, &m, &bo)) {
			perror("bpf_map_update_batch");
			return -1;
		}
		cs->n += m;
	}
	return 0;
}

static size_t frame4(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst,
		     uint16_t sport, uint16_t dport, uint8_t flags)
{
	uint8_t s[16] = {0}, d[16] = {0};

	memcpy(s, &src, 4);
	memcpy(d, &dst, 4);
	return build(buf, cap, 4, s, d, 6, sport, dport, flags);
}

static uint32_t addr4(const uint8_t *a)
{
	uint32_t v;

	memcpy(&v, a, 4);
	return v;
}

/* Figures of one table size: medians of the per-run ns (run1). */
struct p1row {
	double est, nallow, ndeny, floor_est, floor_new;
	size_t bad_est, bad_allow, bad_deny; /* unexpected verdicts */
};

static void p1_measure(int prog_fd, int pass_fd, int map_fd,
		       const struct conns *cs, const struct zw_query *qa,
		       const struct zw_query *qd, uint64_t *st,
		       struct p1row *r)
{
	uint32_t *a = calloc(samples, sizeof(uint32_t));
	uint32_t *b = calloc(samples, sizeof(uint32_t));
	uint32_t *c = calloc(samples, sizeof(uint32_t));
	uint32_t *p = calloc(samples, sizeof(uint32_t));
	uint32_t *p2 = calloc(samples, sizeof(uint32_t));
	size_t n_new = samples < 60000 ? samples : 60000;
	uint8_t f[128];
	size_t len;
	int act;

	memset(r, 0, sizeof(*r));
	if (!a || !b || !c || !p || !p2)
		exit(1);
	/* established: an ACK of a connection drawn at random, then the
	 * XDP_PASS program on the same frame */
	for (size_t i = 0; i < samples; i++) {
		size_t k = (size_t)(rnd(st) % cs->n);

		len = frame4(f, sizeof(f), cs->src[k], cs->dst[k], cs->sport[k],
			     cs->dport[k], 0x10);
		if (run1(prog_fd, f, len, &a[i], &act) ||
		    run1(pass_fd, f, len, &p[i], NULL)) {
			perror("bpf_prog_test_run");
			exit(1);
		}
		r->bad_est += act != XDP_PASS;
	}
	/* new connections: a SYN of a tuple never seen (allowed), a denied
	 * SYN, the XDP_PASS program; the allowed ones' entries are removed
	 * afterwards (the table keeps its size for the next row) */
	for (size_t i = 0; i < n_new; i++) {
		uint16_t sp = (uint16_t)(1024 + i);

		len = frame4(f, sizeof(f), addr4(qa->src), addr4(qa->dst), sp, qa->port,
			     0x02);
		if (run1(prog_fd, f, len, &b[i], &act))
			exit(1);
		r->bad_allow += act != XDP_PASS;
		len = frame4(f, sizeof(f), addr4(qd->src), addr4(qd->dst), sp, qd->port,
			     0x02);
		if (run1(prog_fd, f, len, &c[i], &act) ||
		    run1(pass_fd, f, len, &p2[i], NULL))
			exit(1);
		r->bad_deny += act != XDP_DROP;
	}
	for (size_t i = 0; i < n_new; i++) {
		struct zw_tuple t;
		struct zw_bpf_ckey4 k;

		tuple4(&t, addr4(qa->src), addr4(qa->dst), (uint16_t)(1024 + i), qa->port);
		key4(&t, &k);
		bpf_map_delete_elem(map_fd, &k);
	}
	r->est = median_u32(a, samples);
	r->floor_est = median_u32(p, samples);
	r->nallow = median_u32(b, n_new);
	r->ndeny = median_u32(c, n_new);
	r->floor_new = median_u32(p2, n_new);
	free(a);
	free(b);
	free(c);
	free(p);
	free(p2);
}

/* xdp-filter, allowed and denied packet, per run like zonewall's. */
static void xf_measure(int xf_fd, int pass_fd, const struct zw_query *qa,
		       const struct zw_query *qd, double *xa, double *xd,
		       double *floor, int *ok)
{
	uint32_t *a = calloc(samples, sizeof(uint32_t));
	uint32_t *b = calloc(samples, sizeof(uint32_t));
	uint32_t *p = calloc(samples, sizeof(uint32_t));
	uint8_t f1[128], f2[128];
	size_t l1, l2;
	int a1, a2;

	if (!a || !b || !p)
		exit(1);
	*ok = 1;
	l1 = frame4(f1, sizeof(f1), addr4(qa->src), addr4(qa->dst), 40000, qa->port, 0x10);
	l2 = frame4(f2, sizeof(f2), addr4(qd->src), addr4(qd->dst), 40001, 1, 0x02);
	for (size_t i = 0; i < samples; i++) {
		if (run1(xf_fd, f1, l1, &a[i], &a1) || run1(xf_fd, f2, l2, &b[i], &a2) ||
		    run1(pass_fd, f1, l1, &p[i], NULL))
			exit(1);
		*ok &= a1 == XDP_PASS && a2 == XDP_DROP;
	}
	*xa = median_u32(a, samples);
	*xd = median_u32(b, samples);
	*floor = median_u32(p, samples);
	free(a);
	free(b);
	free(p);
}

static void part1(const size_t *flows, int n_flows)
{
	int pass_fd = trivial_prog(XDP_PASS);
	size_t max_conns = 0;

	for (int j = 0; j < n_conn_counts; j++)
		max_conns = conn_counts[j] > max_conns ? conn_counts[j] : max_conns;
	printf("\n1. ns/packet through BPF_PROG_TEST_RUN, 64-byte TCP/IPv4 frames.\n"
	       "   Each figure is the median over %zu runs of one frame each (repeat=1, a\n"
	       "   different frame per run), the kernel's duration of the run; 'net' subtracts\n"
	       "   the XDP_PASS program's median measured the same way, interleaved in the\n"
	       "   same loop (the per-run overhead: clock reads, run setup).\n"
	       "   est: an ACK of one of the live connections, drawn at random (entries\n"
	       "   written in the table's format, copies of an established connection)\n"
	       "   new allowed: a SYN of a new tuple of an allowed flow each run (entry created)\n"
	       "   new denied: a SYN no flow allows (zones, rule lookup; drop records off)\n"
	       "   hot: the old figure, one frame repeated %d times, median of 9 runs\n",
	       samples, repeat);
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
		struct zw_xdp_opts xo = {.conns = (uint32_t)(table_size ? table_size
									  : max_conns + samples + 65536)};
		struct zw_xdp *x;
		struct xf xf = {.prog_fd = -1};
		struct zw_bpf_conn tmpl;
		struct zw_bpf_ckey4 tk;
		struct zw_tuple tt;
		struct conns cs = {0};
		char dir[200], path[256], err[512];
		uint8_t f[128];
		size_t len;
		uint64_t st = 0x9e3779b97f4a7c15ull + (uint64_t)k;
		double hot_est, hot_deny, hot_pass, xa = -1, xd = -1, xfl = -1;
		int map_fd, prog_fd, a1 = -1, a2 = -1, xok = 0;

		free(yaml);
		if (pick_queries(m, img, &qa, &qd)) {
			fprintf(stderr, "no allowed/denied TCP question found\n");
			exit(1);
		}
		snprintf(dir, sizeof(dir), "%s/zw-%d", bpffs, k);
		if (zw_xdp__open(dir, &xo, &x, err, sizeof(err)) ||
		    zw_xdp__apply(x, img, zw_date__today(), err, sizeof(err))) {
			fprintf(stderr, "zonewall: %s\n", err);
			exit(1);
		}
		zw_xdp__set_records(x, 0, 0);
		prog_fd = zw_xdp__prog_fd(x);
		snprintf(path, sizeof(path), "%s/maps/zw_conns4", dir);
		map_fd = bpf_obj_get(path);
		if (map_fd < 0) {
			perror(path);
			exit(1);
		}
		/* the template: a connection the program opens (SYN, SYN/ACK,
		 * ACK) */
		len = frame4(f, sizeof(f), addr4(qa.src), addr4(qa.dst), 40000, qa.port, 0x02);
		run1(prog_fd, f, len, (uint32_t[1]){0}, &a1);
		len = frame4(f, sizeof(f), addr4(qa.dst), addr4(qa.src), qa.port, 40000, 0x12);
		run1(prog_fd, f, len, (uint32_t[1]){0}, &a2);
		len = frame4(f, sizeof(f), addr4(qa.src), addr4(qa.dst), 40000, qa.port, 0x10);
		tuple4(&tt, addr4(qa.src), addr4(qa.dst), 40000, qa.port);
		key4(&tt, &tk);
		if (a1 != XDP_PASS || a2 != XDP_PASS ||
		    bpf_map_lookup_elem(map_fd, &tk, &tmpl)) {
			fprintf(stderr, "the allowed connection did not open\n");
			exit(1);
		}
		hot_est = ns_per_pkt(prog_fd, f, len, &a1);
		hot_pass = ns_per_pkt(pass_fd, f, len, NULL);
		len = frame4(f, sizeof(f), addr4(qd.src), addr4(qd.dst), 40001, qd.port, 0x02);
		hot_deny = ns_per_pkt(prog_fd, f, len, &a2);

		if (!xdp_filter_setup(&xf, flows[k], &qa))
			xf_measure(xf.prog_fd, pass_fd, &qa, &qd, &xa, &xd, &xfl, &xok);
		xdp_filter_teardown(&xf);

		printf("\n   %zu flows, %u zones; table size %u\n\n", flows[k], img->n_zones,
		       xo.conns);
		printf("   %-22s %9s %9s %9s %9s | %9s %9s %9s\n", "live connections", "est",
		       "new allow", "new deny", "XDP_PASS", "est net", "allow net", "deny net");
		printf("   %-22s %9.0f %9s %9.0f %9.0f | %9.0f %9s %9.0f  %s\n",
		       "1 (hot)", hot_est, "-", hot_deny, hot_pass, hot_est - hot_pass, "-",
		       hot_deny - hot_pass, a1 == XDP_PASS && a2 == XDP_DROP ? "ok" : "!!");
		for (int j = 0; j < n_conn_counts; j++) {
			struct p1row r;
			char lbl[32];

			if (populate(map_fd, &cs, conn_counts[j], &tmpl, &st))
				exit(1);
			p1_measure(prog_fd, pass_fd, map_fd, &cs, &qa, &qd, &st, &r);
			snprintf(lbl, sizeof(lbl), "%zu", conn_counts[j]);
			printf("   %-22s %9.0f %9.0f %9.0f %9.0f | %9.0f %9.0f %9.0f  %s\n", lbl,
			       r.est, r.nallow, r.ndeny, r.floor_est, r.est - r.floor_est,
			       r.nallow - r.floor_new, r.ndeny - r.floor_new,
			       r.bad_est + r.bad_allow + r.bad_deny ? "!!" : "ok");
			if (r.bad_est + r.bad_allow + r.bad_deny)
				printf("   (unexpected verdicts: %zu established, %zu allowed, "
				       "%zu denied)\n", r.bad_est, r.bad_allow, r.bad_deny);
		}
		if (xa >= 0)
			printf("   %-22s %9.0f %9s %9.0f %9.0f | %9.0f %9s %9.0f  %s\n",
			       "xdp-filter (stateless)", xa, "-", xd, xfl, xa - xfl, "-",
			       xd - xfl, xok ? "ok" : "!!");
		else
			printf("   %-22s n/a (xdp-filter not installed or failed)\n",
			       "xdp-filter");
		close(map_fd);
		free(cs.src);
		free(cs.dst);
		free(cs.sport);
		free(cs.dport);
		zw_xdp__destroy(x, err, sizeof(err));
		zw_xdp__close(x);
		zw_image__free(img);
		zw_matrix__free(m);
	}
	printf("\n   (ok: every run gave the expected verdict; xdp-filter's 'est' column is\n"
	       "   its allowed packet, its 'new deny' a denied one: it matches ports and\n"
	       "   addresses independently, statelessly)\n");
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
	snprintf(dir, sizeof(dir), "%s/zwbench-%s", bpffs, tag);
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
	int err; /* errno of a refused live-frames run, 0 */
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
			fl->err = errno;
			break;
		}
		fl->sent += 1u << 18;
	}
	close(tx);
	return NULL;
}

/* Whether live-frames BPF_PROG_TEST_RUN works here: 0, or -1 and why. */
static int live_frames_probe(struct flood *fl, char *why, size_t n)
{
	int tx, rc = 0;

	if (enter_ns(fl->ns)) {
		snprintf(why, n, "cannot enter namespace %s", fl->ns);
		return -1;
	}
	tx = writer_prog(fl->frame);
	if (tx < 0) {
		snprintf(why, n, "the generator program was refused: %s", strerror(errno));
		leave_ns();
		return -1;
	}
	{
		struct xdp_md ctx = {.data_end = (__u32)fl->len,
				     .ingress_ifindex = (__u32)fl->ifindex};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fl->frame,
			    .data_size_in = (__u32)fl->len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 1);

		if (bpf_prog_test_run_opts(tx, &o)) {
			snprintf(why, n, "BPF_PROG_TEST_RUN with live frames refused: %s",
				 strerror(errno));
			rc = -1;
		}
	}
	close(tx);
	leave_ns();
	return rc;
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
	if (fl->err)
		return -1;
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
	snprintf(made_ns[1], sizeof(made_ns[1]), "%s", na);
	snprintf(made_ns[2], sizeof(made_ns[2]), "%s", nr);
	snprintf(made_ns[3], sizeof(made_ns[3]), "%s", nb);
	printf("\n2. packets/s forwarded by an appliance namespace (veth in, veth out), "
	       "64-byte UDP/IPv4,\n   one flow, median of 3 interleaved rounds of %d s, frames "
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
	{
		char why[256];

		if (live_frames_probe(&fl, why, sizeof(why))) {
			printf("   SKIP forwarding: %s\n", why);
			goto out;
		}
	}
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
	snprintf(dir, sizeof(dir), "%s/zw-fwd", bpffs);
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
	 * The three configurations take turns, round after round, and the
	 * median round of each is kept: the machine's background load then weighs on
	 * all of them alike. Every configuration has an XDP program on both
	 * appliance veths (XDP_PASS for "no filter" and nftables), so the veth
	 * receive path is the same and only the filtering differs.
	 */
	double r_none[3], r_xdp[3], r_nft[3];
	int n_none = 0, n_xdp = 0, n_nft = 0, skip = 0;

	p_none = p_xdp = -1;
	for (int round = 0; ok && round < 3; round++) {
		double v;

		if (!attach_in(nr, r0, pass_fd) && !attach_in(nr, r1, pass_fd)) {
			v = measure(&fl, nr, r1);
			if (v >= 0)
				r_none[n_none++] = v;
		}
		if (nft && *nft &&
		    !sh("ip netns exec %s %s %s >/dev/null", nr, nft, imgpath)) {
			v = measure(&fl, nr, r1);
			if (v >= 0)
				r_nft[n_nft++] = v;
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
				if (v >= 0)
					r_xdp[n_xdp++] = v;
			}
			if (!enter_ns(nr)) {
				zw_xdp__detach(x, r0, err, sizeof(err));
				zw_xdp__detach(x, r1, err, sizeof(err));
				leave_ns();
			}
		}
	}
	if (fl.err) {
		printf("   SKIP forwarding: BPF_PROG_TEST_RUN with live frames failed: %s\n",
		       strerror(fl.err));
		skip = 1;
	}
	if (n_none) {
		qsort(r_none, (size_t)n_none, sizeof(double), cmp_double);
		p_none = r_none[n_none / 2];
	}
	if (n_xdp) {
		qsort(r_xdp, (size_t)n_xdp, sizeof(double), cmp_double);
		p_xdp = r_xdp[n_xdp / 2];
	}
	if (n_nft) {
		qsort(r_nft, (size_t)n_nft, sizeof(double), cmp_double);
		p_nft = r_nft[n_nft / 2];
	}
	if (!skip && p_none <= 0) {
		printf("   SKIP forwarding: nothing forwarded without a filter\n");
		skip = 1;
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
	if (!skip) {
		printf("%-34s %14s %10s\n", "configuration", "packets/s", "vs none");
		printf("%-34s %14.0f %10s\n", "no filter (XDP_PASS)", p_none, "1.00");
		printf("%-34s %14.0f %10.2f\n", "zonewall XDP engine (1001 flows)", p_xdp,
		       p_xdp / p_none);
		if (p_nft >= 0)
			printf("%-34s %14.0f %10.2f\n", "zonewall nftables engine", p_nft,
			       p_nft / p_none);
		else
			printf("%-34s %14s\n", "zonewall nftables engine",
			       nft && *nft ? "failed" : "not in this build");
	}
	zw_image__free(img);
	zw_matrix__free(m);
out:
	if (getenv("ZW_BENCH_KEEP"))
		return;
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; "
	   "ip netns del %s 2>/dev/null", na, nr, nb);
	for (int i = 1; i < 4; i++)
		made_ns[i][0] = 0;
	close(pass_fd);
	close(drop_fd);
}

static void parse_list(char *s, size_t *out, int *n)
{
	char *tok, *save = NULL;

	*n = 0;
	for (tok = strtok_r(s, ",", &save); tok && *n < 8; tok = strtok_r(NULL, ",", &save))
		out[(*n)++] = strtoul(tok, NULL, 10);
}

/* The machine line: CPUs, model, kernel, date, the source's commit. */
static void machine_line(void)
{
	char model[128] = "?", commit[64] = "?", line[256];
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");
	time_t now = time(NULL);
	char date[32];

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
#ifdef ZW_SRC_DIR
	f = popen("git -C '" ZW_SRC_DIR "' describe --always --dirty 2>/dev/null", "r");
	if (f) {
		if (fgets(commit, sizeof(commit), f))
			commit[strcspn(commit, "\n")] = 0;
		pclose(f);
	}
#endif
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	printf("machine: %ld CPUs, %s, kernel %s, BPF JIT; %s; commit %s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), model, u.release, date, commit);
}

int main(int argc, char **argv)
{
	size_t flows[8] = {1000};
	int n_flows = 1, forward = 1, logging = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--logging"))
			logging = 1;
		else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			samples = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--flows") && i + 1 < argc)
			parse_list(argv[++i], flows, &n_flows);
		else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
			parse_list(argv[++i], conn_counts, &n_conn_counts);
		else if (!strcmp(argv[i], "--table") && i + 1 < argc)
			table_size = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--no-forward"))
			forward = 0;
		else {
			fprintf(stderr, "usage: xdp-bench [--flows 1000] [--conns 1000,100000,1000000]\n"
					"                 [--samples 20000] [--repeat 200000] [--seconds 3]\n"
					"                 [--table N] [--no-forward] [--logging]\n");
			return 2;
		}
	}
	if (!samples || !n_flows || !n_conn_counts) {
		fprintf(stderr, "xdp-bench: empty --samples, --flows or --conns\n");
		return 2;
	}
	for (int i = 0; i < n_conn_counts; i++)
		if (!conn_counts[i]) {
			fprintf(stderr, "xdp-bench: --conns: 0 connections\n");
			return 2;
		}
	if (geteuid() != 0) {
		fprintf(stderr, "xdp-bench: needs root\n");
		return 3;
	}
	snprintf(tag, sizeof(tag), "%d", (int)getpid());
	self_ns = open("/proc/self/ns/net", O_RDONLY);
	if (mount_bpffs()) {
		fprintf(stderr, "xdp-bench: cannot mount a bpffs: %s\n", strerror(errno));
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	printf("xdp-bench: zonewall XDP engine vs baselines, same run\n");
	machine_line();
	if (logging) {
		part3(flows[0]);
		return 0;
	}
	part1(flows, n_flows);
	if (forward)
		part2();
	return 0;
}
