/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's loader and stateful behaviour, through BPF_PROG_TEST_RUN
 * and the pinned maps:
 *  - enforcement and connections survive closing the handle; re-opening
 *    attaches to the pins without flushing (same generation, same image,
 *    the live connection's reply passes, no drift);
 *  - re-applying keeps per-flow counters (carried over by flow id);
 *  - an image with probes is refused, naming the probe, nothing changes;
 *  - the two phases: prepare (then abort) changes neither the generation,
 *    nor a verdict, nor a counter; commit switches; a ticket made stale by
 *    another apply, or by another prepare of the same slot, is refused;
 *  - the per-source rate limit of a flow with `rate` (burst = rate, then
 *    RATE drops counted on the flow), other sources unaffected;
 *  - log: true flows emit new-connection records when others do not;
 *  - a map entry added by hand, the slot header edited by hand (block
 *    list switched off), a link's program replaced by hand: drift;
 *  - read-back as data: the rules the maps hold are the image's; an entry
 *    added by hand is a held rule no flow explains, a flow's id hash
 *    changed by hand an unknown flow; another XDP program on the link and a
 *    tc program on the interface are foreign (through the backend);
 *  - attach to a veth inside a private network namespace (native, then
 *    generic mode), read back, detach; there, IPv6 neighbour discovery to
 *    a routed address is judged, on the link it passes;
 *  - destroy removes the instance; apply re-creates it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <zonewall/flow_record.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "harness.h"
#include "held_cmp.h"
#include "pkt_build.h"
#include "xdp.h"
#include "zw_bpf_abi.h"

static const char *const matrix =
	"zonewall: 1\nname: engine-test\nzones:\n"
	"  za:\n    kind: internal-service\n    networks: [10.1.0.0/16]\n"
	"  zb:\n    kind: internal-service\n    networks: [10.2.0.0/16]\n"
	"  ops:\n    kind: operations\n    networks: [10.90.0.0/24]\n    isolate: true\n"
	"  srv:\n    kind: servers\n    networks: [10.91.0.0/24]\n"
	"  adm:\n    kind: admin\n    networks: [10.92.0.0/24]\n"
	"  upd:\n    kind: update\n    networks: [10.93.0.0/24]\n"
	"  ra:\n    kind: remote-access\n    networks: [10.94.0.0/24]\n"
	"  ex:\n    kind: client-exchange\n    networks: [10.95.0.0/24]\n"
	"services:\n"
	"  app:\n    proto: tcp\n    ports: [\"1000-1999\"]\n"
	"flows:\n"
	"  - id: F-A\n    from: za\n    to: zb\n    services: [app]\n"
	"    justification: engine test\n"
	"  - id: F-R\n    from: za\n    to: zb\n    services: [ssh]\n"
	"    rate: 2/s\n    log: true\n    justification: engine test, rate\n";

/* The same matrix without F-A: port 1500 is denied. */
static const char *const matrix_no_a =
	"zonewall: 1\nname: engine-test-2\nzones:\n"
	"  za:\n    kind: internal-service\n    networks: [10.1.0.0/16]\n"
	"  zb:\n    kind: internal-service\n    networks: [10.2.0.0/16]\n"
	"  ops:\n    kind: operations\n    networks: [10.90.0.0/24]\n    isolate: true\n"
	"  srv:\n    kind: servers\n    networks: [10.91.0.0/24]\n"
	"  adm:\n    kind: admin\n    networks: [10.92.0.0/24]\n"
	"  upd:\n    kind: update\n    networks: [10.93.0.0/24]\n"
	"  ra:\n    kind: remote-access\n    networks: [10.94.0.0/24]\n"
	"  ex:\n    kind: client-exchange\n    networks: [10.95.0.0/24]\n"
	"flows:\n"
	"  - id: F-R\n    from: za\n    to: zb\n    services: [ssh]\n"
	"    rate: 2/s\n    log: true\n    justification: engine test, rate\n";

static int failures;
static const char *zwt_dir; /* the instance directory */

#define CHECK(c, ...)                                                     \
	do {                                                              \
		if (!(c)) {                                               \
			failures++;                                       \
			fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)

static void run(struct zw_xdp *x, const char *src, const char *dst,
		uint16_t sport, uint16_t dport, uint8_t flags,
		struct zwt_result *r)
{
	struct zw_pb s;
	uint8_t f[128];
	size_t n;

	zw_pb__init(&s, src, dst, 6, sport, dport);
	s.tcp_flags = flags;
	n = zw_pb__build(&s, f, sizeof(f));
	zwt_run(x, f, n, r);
}

static int same_counters(const struct zw_flow_counters *a,
			 const struct zw_flow_counters *b, uint32_t n)
{
	return !memcmp(a, b, n * sizeof(*a));
}

/* Two phases. Leaves @img in force. */
static void test_two_phase(struct zw_xdp *x, const struct zw_image *img,
			   int32_t day)
{
	struct zw_image *img2 = zwt_image_of_text(matrix_no_a, "engine-test-2", NULL);
	struct zw_xdp_ticket *t = NULL, *t2 = NULL;
	struct zw_xdp_status before, st;
	struct zw_flow_counters c0[2], c1[2];
	struct zwt_result r;
	char err[512];

	CHECK(zw_xdp__status(x, &before) == 0 && zw_xdp__counters(x, c0, 2) == 0,
	      "status and counters");
	/* prepare: nothing a packet sees changes, until abort */
	CHECK(zw_xdp__prepare(x, img2, day, &t, err, sizeof(err)) == 0 && t,
	      "prepare: %s", err);
	CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation &&
		      !memcmp(st.sha256, img->sha256, 32),
	      "prepared, not committed: generation %u stays (%u)",
	      before.generation, st.generation);
	CHECK(zw_xdp__counters(x, c1, 2) == 0 && same_counters(c0, c1, 2),
	      "prepared: counters unchanged");
	zw_xdp__abort(x, t);
	CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation &&
		      !memcmp(st.sha256, img->sha256, 32),
	      "aborted: generation %u stays (%u)", before.generation, st.generation);
	CHECK(zw_xdp__counters(x, c1, 2) == 0 && same_counters(c0, c1, 2),
	      "aborted: counters unchanged");
	{
		char *drift = zw_xdp__drift(x, img);

		CHECK(!drift, "aborted: no drift from the image in force: %s",
		      drift ? drift : "");
		free(drift);
	}
	run(x, "10.1.0.5", "10.2.0.1", 44000, 1500, 0x02, &r);
	CHECK(r.action == XDP_PASS && r.n_records == 1 && r.rec.flow == 0,
	      "aborted: F-A still admits port 1500 (action %d)", r.action);

	/* prepare + commit switches */
	CHECK(zw_xdp__prepare(x, img2, day, &t, err, sizeof(err)) == 0, "%s", err);
	run(x, "10.1.0.5", "10.2.0.1", 44001, 1500, 0x02, &r);
	CHECK(r.action == XDP_PASS, "prepared: port 1500 still passes");
	CHECK(zw_xdp__commit(x, t, err, sizeof(err)) == 0, "commit: %s", err);
	CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation + 1 &&
		      !memcmp(st.sha256, img2->sha256, 32),
	      "committed: generation %u (%u)", before.generation + 1, st.generation);
	run(x, "10.1.0.5", "10.2.0.1", 44002, 1500, 0x02, &r);
	CHECK(r.action == XDP_DROP && r.n_records == 1 &&
		      r.rec.reason == ZW_DROP_NO_FLOW,
	      "committed: port 1500 denied (action %d)", r.action);

	/* stale: another apply since prepare */
	CHECK(zw_xdp__prepare(x, img, day, &t, err, sizeof(err)) == 0, "%s", err);
	CHECK(zw_xdp__apply(x, img2, day, err, sizeof(err)) == 0, "%s", err);
	CHECK(zw_xdp__status(x, &before) == 0, "status");
	CHECK(zw_xdp__commit(x, t, err, sizeof(err)) == -ESTALE,
	      "a ticket older than an apply is refused");
	CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation &&
		      !memcmp(st.sha256, img2->sha256, 32),
	      "refused: generation %u stays (%u)", before.generation, st.generation);
	run(x, "10.1.0.5", "10.2.0.1", 44003, 1500, 0x02, &r);
	CHECK(r.action == XDP_DROP, "refused: port 1500 still denied");

	/* stale: another prepare re-filled the slot; the latest commits */
	CHECK(zw_xdp__prepare(x, img2, day, &t, err, sizeof(err)) == 0, "%s", err);
	CHECK(zw_xdp__prepare(x, img, day, &t2, err, sizeof(err)) == 0, "%s", err);
	CHECK(zw_xdp__commit(x, t, err, sizeof(err)) == -ESTALE,
	      "a ticket whose slot was re-filled is refused");
	CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation,
	      "refused: generation %u stays (%u)", before.generation, st.generation);
	CHECK(zw_xdp__commit(x, t2, err, sizeof(err)) == 0, "%s", err);
	CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation + 1 &&
		      !memcmp(st.sha256, img->sha256, 32),
	      "the later ticket commits: generation %u (%u)",
	      before.generation + 1, st.generation);
	run(x, "10.1.0.5", "10.2.0.1", 44004, 1500, 0x02, &r);
	CHECK(r.action == XDP_PASS, "F-A admits port 1500 again");
	zw_xdp__abort(x, NULL);
	zw_image__free(img2);
}

/* Held rules read back from the instance are exactly @img's for the day
 * the slot was filled for. */
static int held_is_image(struct zw_xdp *x, const struct zw_image *img)
{
	struct zw_backend_state held = {0}, want = {0};
	int32_t day = 0;
	int same;

	CHECK(zw_xdp__held_rules(x, img, &held, &day) == 0, "held rules read");
	CHECK(zw_backend_state__add_image_rules(&want, img, day) == 0, "image rules");
	same = held.rules_known && zwt_held_same(&held, "held", &want, "image", stderr);
	zw_backend_state__fini(&held);
	zw_backend_state__fini(&want);
	return same;
}

/* Prog loaded for tc (returns TC_ACT_OK), or -errno. */
static int tc_prog(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "zwt_tc", "GPL", insns, 2, NULL);
}

static size_t foreign_with(const struct zw_backend_state *st, const char *a,
			   const char *b)
{
	size_t n = 0;

	for (size_t i = 0; i < st->n_foreign; i++)
		if (strstr(st->foreign[i], a) && strstr(st->foreign[i], b))
			n++;
	return n;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static int drain(const struct zw_flow_record *r, void *arg)
{
	(void)r;
	(void)arg;
	return 0;
}

/* One frame as if received on @ifindex (BPF_PROG_TEST_RUN with a context). */
static int run_on(struct zw_xdp *x, const struct zw_pb *s, int ifindex)
{
	uint8_t f[ZW_PB_MAX];
	size_t n = zw_pb__build(s, f, sizeof(f));
	struct xdp_md ctx = {.data_end = (__u32)n, .ingress_ifindex = (__u32)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = (__u32)n,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int rc;

	if (!n)
		return -EINVAL;
	rc = bpf_prog_test_run_opts(zw_xdp__prog_fd(x), &o);
	zw_xdp__poll_records(x, drain, NULL, 0);
	return rc ? -errno : (int)o.retval;
}

/*
 * IPv6 neighbour discovery passes unjudged (IPv6 needs it), but only while
 * it stays on the link: sent to a routed address it is forwarded by the
 * kernel like any packet (with any payload, into any zone), so it must be
 * judged by the policy. In namespace @ns (we are in it), forwarding on,
 * @ifa holding fd00:99::1/64 and a route to fd00:98::/64 via @ifb.
 */
static void test_nd(struct zw_xdp *x, const char *ns, const char *ifa,
		    const char *ifb)
{
	char cmd[512];
	struct zw_pb s;
	int idx = (int)if_nametoindex(ifa), rc;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s sysctl -qw net.ipv6.conf.all.forwarding=1 && "
		 "ip -n %s addr add fd00:99::1/64 dev %s nodad && "
		 "ip -n %s route add fd00:98::/64 dev %s",
		 ns, ns, ifa, ns, ifb);
	if (!idx || sh(cmd)) {
		CHECK(0, "cannot set up routing in %s", ns);
		return;
	}
	/* the address's local route is installed asynchronously */
	snprintf(cmd, sizeof(cmd),
		 "for i in $(seq 50); do ip -n %s -6 route show table local "
		 "fd00:99::1 | grep -q . && exit 0; sleep 0.1; done; exit 1", ns);
	CHECK(sh(cmd) == 0, "no local route for fd00:99::1 in %s", ns);
	zw_pb__init(&s, "fd00:99::5", "fd00:98::7", 58, 0, 0);
	s.icmp_type = 135;
	s.hop_limit = 255;
	s.payload = 400;
	rc = run_on(x, &s, idx);
	CHECK(rc == XDP_DROP, "neighbour solicitation to a routed address is "
	      "judged (NO_FLOW), got action %d", rc);
	s.icmp_type = 137;
	rc = run_on(x, &s, idx);
	CHECK(rc == XDP_DROP, "redirect to a routed address is judged, got %d", rc);
	s.icmp_type = 135;
	inet_pton(AF_INET6, "fd00:99::1", s.dst);
	rc = run_on(x, &s, idx);
	CHECK(rc == XDP_PASS, "neighbour solicitation to the appliance passes, got %d",
	      rc);
	inet_pton(AF_INET6, "ff02::1:ff00:1", s.dst);
	rc = run_on(x, &s, idx);
	CHECK(rc == XDP_PASS, "to the solicited-node group passes, got %d", rc);
	inet_pton(AF_INET6, "ff05::2", s.dst);
	rc = run_on(x, &s, idx);
	CHECK(rc == XDP_PASS, "to a wider multicast group (not forwarded) passes, "
	      "got %d", rc);
	inet_pton(AF_INET6, "fe80::1", s.src);
	inet_pton(AF_INET6, "fe80::2", s.dst);
	s.icmp_type = 136;
	rc = run_on(x, &s, idx);
	CHECK(rc == XDP_PASS, "advertisement between link-local addresses passes, "
	      "got %d", rc);
	printf("neighbour discovery: judged when routed, passes on the link: done\n");
}

/* A do-nothing XDP program (XDP_PASS), for a link hijacked by hand. */
static int other_prog(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};

	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_XDP);

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "zwt_other", "GPL", insns, 2, &o);
}

/* Read back through the backend, with the link running another XDP
 * program (replaced by hand), then with a tc program added. */
static void test_foreign(struct zw_xdp *x, const struct zw_image *img,
			 const char *ifa, int lfd, int ofd)
{
	struct zw_backend *be = NULL;
	struct zw_backend_state st, want = {0};
	char arg[512], err[512];
	int ifindex = (int)if_nametoindex(ifa), pfd = tc_prog();
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = pfd);

	(void)x;
	/* L3/L4 only: inspect: waived, no L7 table (docs/l7.md) */
	snprintf(arg, sizeof(arg), "%s,dir=%s,l7=off", ifa, zwt_dir);
	CHECK(zw_backend_xdp.open(arg, &be, err, sizeof(err)) == 0, "open: %s", err);
	if (!be)
		goto out;
	/* (open re-points the link to the instance's program: again) */
	CHECK(!bpf_link_update(lfd, ofd, NULL), "link updated to another program");
	CHECK(zw_backend_xdp.read_back(be, img, &st) == 0, "read back");
	CHECK(foreign_with(&st, ifa, "zwt_other") == 1 && st.n_foreign == 1,
	      "the other XDP program is foreign (%zu lines: %s)", st.n_foreign,
	      st.n_foreign ? st.foreign[0] : "");
	zw_backend_state__add_image_rules(&want, img, zw_date__today());
	CHECK(st.rules_known && zwt_held_same(&st, "held", &want, "image", stderr),
	      "the backend's held rules are the image's");
	zw_backend_state__fini(&want);
	zw_backend_state__fini(&st);
	CHECK(pfd >= 0 && !bpf_tc_hook_create(&hook) && !bpf_tc_attach(&hook, &to),
	      "tc program attached to %s ingress", ifa);
	CHECK(zw_backend_xdp.read_back(be, img, &st) == 0, "read back");
	CHECK(foreign_with(&st, ifa, "tc ingress") == 1 &&
		      foreign_with(&st, ifa, "zwt_tc") == 1 && st.n_foreign == 2,
	      "the tc program is foreign (%zu lines)", st.n_foreign);
	for (size_t i = 0; i < st.n_foreign; i++)
		printf("foreign: %s\n", st.foreign[i]);
	zw_backend_state__fini(&st);
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&hook); /* removes clsact and its filters */
	CHECK(zw_backend_xdp.read_back(be, img, &st) == 0 &&
		      foreign_with(&st, ifa, "tc") == 0,
	      "tc program gone: not foreign");
	zw_backend_state__fini(&st);
	zw_backend_xdp.close(be);
out:
	if (pfd >= 0)
		close(pfd);
}

static void test_attach(struct zw_xdp *x, const struct zw_image *img)
{
	char ns[64], cmd[512], err[512];
	int self = open("/proc/self/ns/net", O_RDONLY), fd;
	struct zw_xdp_status st;
	const char *mode = NULL;

	snprintf(ns, sizeof(ns), "zwt-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "ip netns add %s && ip -n %s link add zwa%d type veth peer name zwb%d && "
		 "ip -n %s link set zwa%d up && ip -n %s link set zwb%d up",
		 ns, ns, (int)getpid() % 100000, (int)getpid() % 100000, ns,
		 (int)getpid() % 100000, ns, (int)getpid() % 100000);
	if (self < 0 || sh(cmd)) {
		printf("attach: SKIP (cannot create a network namespace with a veth pair)\n");
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns);
		sh(cmd);
		if (self >= 0)
			close(self);
		return;
	}
	snprintf(cmd, sizeof(cmd), "/run/netns/%s", ns);
	fd = open(cmd, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		CHECK(0, "cannot enter %s", ns);
		goto out;
	}
	{
		char ifa[16];

		snprintf(ifa, sizeof(ifa), "zwa%d", (int)getpid() % 100000);
		CHECK(zw_xdp__attach(x, ifa, ZW_XDP_MODE_AUTO, &mode, err, sizeof(err)) == 0,
		      "%s", err);
		CHECK(mode && !strcmp(mode, "native"), "veth attaches natively, got %s",
		      mode ? mode : "nothing");
		{
			/* (a context's ingress device needs XDP on it) */
			char ifb[16];

			snprintf(ifb, sizeof(ifb), "zwb%d", (int)getpid() % 100000);
			test_nd(x, ns, ifa, ifb);
		}
		/* the link's program replaced by hand: drift */
		{
			char lpath[512], *drift;
			int lfd, ofd = other_prog();

			snprintf(lpath, sizeof(lpath), "%s/links/%s", zwt_dir, ifa);
			lfd = bpf_obj_get(lpath);
			CHECK(lfd >= 0 && ofd >= 0 && !bpf_link_update(lfd, ofd, NULL),
			      "link %s updated to another program", lpath);
			drift = zw_xdp__drift(x, img);
			CHECK(drift && strstr(drift, ifa), "drift names %s: %s", ifa,
			      drift ? drift : "(none)");
			free(drift);
			test_foreign(x, img, ifa, lfd, ofd);
			CHECK(!bpf_link_update(lfd, zw_xdp__prog_fd(x), NULL), "restore");
			drift = zw_xdp__drift(x, img);
			CHECK(!drift, "no drift once restored: %s", drift ? drift : "");
			free(drift);
			/* the same program of another instance (same tag, its own
			 * maps: this instance's policy no longer applies): drift,
			 * and attach puts this instance's program back */
			{
				char dir2[256];
				struct zw_xdp *x2 = zwt_instance_new(dir2, sizeof(dir2));

				CHECK(!bpf_link_update(lfd, zw_xdp__prog_fd(x2), NULL),
				      "link updated to another instance's program");
				drift = zw_xdp__drift(x, img);
				CHECK(drift && strstr(drift, ifa), "drift names %s: %s", ifa,
				      drift ? drift : "(none)");
				free(drift);
				CHECK(zw_xdp__attach(x, ifa, ZW_XDP_MODE_AUTO, &mode, err,
						     sizeof(err)) == 0, "%s", err);
				drift = zw_xdp__drift(x, img);
				CHECK(!drift, "attach re-points the link: %s",
				      drift ? drift : "(drift gone)");
				free(drift);
				zwt_instance_free(x2);
			}
			/* a map pin removed by hand: a new handle's program gets
			 * a fresh map there, the link keeps the old one (its
			 * applies would not reach the link): drift, healed by
			 * apply + attach as zonewalld does at start */
			{
				struct zw_xdp *x3 = NULL;
				struct zw_xdp_status s3;
				char mpath[512];

				zw_xdp__status(x, &s3);
				snprintf(mpath, sizeof(mpath), "%s/maps/zw_ports_%u",
					 zwt_dir, s3.slot);
				CHECK(unlink(mpath) == 0, "unlink %s", mpath);
				CHECK(zw_xdp__open(zwt_dir, NULL, &x3, err, sizeof(err)) == 0,
				      "%s", err);
				drift = x3 ? zw_xdp__drift(x3, img) : NULL;
				CHECK(drift && strstr(drift, ifa), "drift names %s: %s", ifa,
				      drift ? drift : "(none)");
				free(drift);
				CHECK(x3 && zw_xdp__apply(x3, img, zw_date__today(), err,
							  sizeof(err)) == 0 &&
					      zw_xdp__attach(x3, ifa, ZW_XDP_MODE_AUTO, &mode,
							     err, sizeof(err)) == 0,
				      "%s", err);
				drift = x3 ? zw_xdp__drift(x3, img) : NULL;
				CHECK(!drift, "apply + attach heal it: %s",
				      drift ? drift : "(drift gone)");
				free(drift);
				zw_xdp__close(x3);
			}
			if (lfd >= 0)
				close(lfd);
			if (ofd >= 0)
				close(ofd);
		}
		/* again: nothing changes */
		CHECK(zw_xdp__attach(x, ifa, ZW_XDP_MODE_AUTO, &mode, err, sizeof(err)) == 0,
		      "%s", err);
		CHECK(zw_xdp__status(x, &st) == 0 && st.n_links == 1 &&
			      !strcmp(st.links[0].ifname, ifa) &&
			      !strcmp(st.links[0].mode, "native"),
		      "status shows the link (%u links)", st.n_links);
		CHECK(zw_xdp__detach(x, ifa, err, sizeof(err)) == 0, "%s", err);
		CHECK(zw_xdp__attach(x, ifa, ZW_XDP_MODE_GENERIC, &mode, err, sizeof(err)) == 0,
		      "%s", err);
		CHECK(mode && !strcmp(mode, "generic"), "generic mode, got %s",
		      mode ? mode : "nothing");
		CHECK(zw_xdp__detach(x, ifa, err, sizeof(err)) == 0, "%s", err);
		CHECK(zw_xdp__attach(x, "zw-no-such-if", ZW_XDP_MODE_AUTO, &mode, err,
				     sizeof(err)) == -ENODEV, "unknown interface refused");
	}
	printf("attach: native and generic on a veth in %s: done\n", ns);
out:
	if (setns(self, CLONE_NEWNET))
		CHECK(0, "cannot return to the original network namespace");
	close(self);
	if (fd >= 0)
		close(fd);
	snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
	sh(cmd);
}

int main(void)
{
	struct zw_image *img;
	struct zw_xdp *x;
	struct zw_xdp_status st;
	struct zwt_result r;
	struct zw_flow_counters c[2];
	char dir[256], err[512], path[512];
	int32_t day = zw_date__today();
	struct stat sb;

	zwt_require_bpf("bpf-engine");
	img = zwt_image_of_text(matrix, "engine-test", NULL);
	x = zwt_instance_new(dir, sizeof(dir));
	zwt_dir = dir;
	CHECK(zw_xdp__apply(x, img, day, err, sizeof(err)) == 0, "%s", err);

	/* a connection, then a new handle on the same pins */
	run(x, "10.1.0.1", "10.2.0.1", 40000, 1500, 0x02, &r);
	CHECK(r.action == XDP_PASS && r.n_records == 1 && r.rec.flow == 0,
	      "SYN passes by F-A (action %d flow %u)", r.action, r.rec.flow);
	zw_xdp__close(x);
	CHECK(zw_xdp__open(dir, NULL, &x, err, sizeof(err)) == 0, "%s", err);
	CHECK(zw_xdp__status(x, &st) == 0 && st.generation == 1 &&
		      !memcmp(st.sha256, img->sha256, 32) && st.n_flows == 2,
	      "re-open finds generation 1 and the image (gen %u)", st.generation);
	CHECK(st.verifier_insns > 0 && st.verifier_insns < 1000000,
	      "verifier statistics read (%u)", st.verifier_insns);
	run(x, "10.2.0.1", "10.1.0.1", 1500, 40000, 0x12, &r);
	CHECK(r.action == XDP_PASS && r.n_records == 0,
	      "the reply of the connection opened before the re-open passes");
	{
		char *drift = zw_xdp__drift(x, img);

		CHECK(!drift, "no drift: %s", drift ? drift : "");
		free(drift);
	}

	/* counters survive a re-apply */
	CHECK(zw_xdp__counters(x, c, 2) == 0 && c[0].new_conns == 1 &&
		      c[0].packets == 2, "F-A counted 1 connection, 2 packets "
		      "(%llu, %llu)", (unsigned long long)c[0].new_conns,
	      (unsigned long long)c[0].packets);
	CHECK(zw_xdp__apply(x, img, day, err, sizeof(err)) == 0, "%s", err);
	run(x, "10.1.0.1", "10.2.0.1", 40000, 1500, 0x10, &r);
	CHECK(r.action == XDP_PASS, "ACK after re-apply passes");
	CHECK(zw_xdp__counters(x, c, 2) == 0 && c[0].new_conns == 1 &&
		      c[0].packets == 3, "counters carried over (%llu, %llu)",
	      (unsigned long long)c[0].new_conns, (unsigned long long)c[0].packets);

	/* a failed apply changes nothing */
	zw_xdp__inject_failure(x);
	{
		struct zw_xdp_status before;

		zw_xdp__status(x, &before);
		CHECK(zw_xdp__apply(x, img, day, err, sizeof(err)) == -EIO,
		      "injected failure reported");
		CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation &&
			      !memcmp(st.sha256, before.sha256, 32),
		      "generation unchanged after a failed apply (%u, %u)",
		      before.generation, st.generation);
		run(x, "10.2.0.1", "10.1.0.1", 1500, 40000, 0x10, &r);
		CHECK(r.action == XDP_PASS, "the live connection still passes");
	}

	/* an image with probes is refused, naming the probe (this engine
	 * does not mirror yet): nothing changes */
	{
		struct zw_xdp_status before;
		size_t n = strlen(matrix) + 128;
		char *t = malloc(n);
		struct zw_image *pimg;

		CHECK(t != NULL, "memory");
		snprintf(t, n, "%sprobes:\n  ids: {interface: probe0, zones: [ex]}\n",
			 matrix);
		pimg = zwt_image_of_text(t, "engine-probes", NULL);
		zw_xdp__status(x, &before);
		err[0] = '\0';
		CHECK(pimg->n_probes == 1 &&
			      zw_xdp__apply(x, pimg, day, err, sizeof(err)) == -EOPNOTSUPP &&
			      strstr(err, "probe 'ids' (interface probe0)") &&
			      strstr(err, "XDP"),
		      "an image with probes refused: %s", err);
		CHECK(zw_xdp__status(x, &st) == 0 && st.generation == before.generation &&
			      !memcmp(st.sha256, img->sha256, 32),
		      "generation and image unchanged after the refusal (%u, %u)",
		      before.generation, st.generation);
		zw_image__free(pimg);
		free(t);
	}

	test_two_phase(x, img, day);

	/* log: true emits even when new connections are not all recorded */
	CHECK(zw_xdp__set_records(x, 1, 0) == 0, "records");
	run(x, "10.1.0.4", "10.2.0.1", 40001, 1501, 0x02, &r);
	CHECK(r.action == XDP_PASS && r.n_records == 0, "F-A (no log): no record");
	run(x, "10.1.0.4", "10.2.0.1", 40002, 22, 0x02, &r);
	CHECK(r.action == XDP_PASS && r.n_records == 1 && r.rec.event == ZW_EV_NEW &&
		      r.rec.flow == 1, "F-R (log: true): a record");

	/* rate: 2/s per source, burst 2 */
	{
		int pass = 0, rate = 0;

		for (int i = 0; i < 6; i++) {
			run(x, "10.1.0.2", "10.2.0.1", (uint16_t)(41000 + i), 22, 0x02, &r);
			if (r.action == XDP_PASS)
				pass++;
			else if (r.n_records == 1 && r.rec.reason == ZW_DROP_RATE &&
				 r.rec.flow == 1)
				rate++;
		}
		CHECK(pass == 2 && rate == 4, "2 pass then RATE drops (%d, %d)", pass, rate);
		run(x, "10.1.0.3", "10.2.0.1", 42000, 22, 0x02, &r);
		CHECK(r.action == XDP_PASS, "another source is not limited");
		CHECK(zw_xdp__counters(x, c, 2) == 0 && c[1].drops == 4,
		      "F-R counted 4 drops (%llu)", (unsigned long long)c[1].drops);
		/* the dropped SYNs are no packets of the flow's connections
		 * (as in the DPDK engine): 1 + 2 + 1 passed */
		CHECK(c[1].packets == 4 && c[1].new_conns == 4,
		      "F-R counted the 4 packets that passed (%llu, %llu new)",
		      (unsigned long long)c[1].packets,
		      (unsigned long long)c[1].new_conns);
		sleep(1);
		run(x, "10.1.0.2", "10.2.0.1", 41100, 22, 0x02, &r);
		CHECK(r.action == XDP_PASS, "the bucket refills");
	}

	/* drift: an entry added by hand */
	CHECK(zw_xdp__status(x, &st) == 0, "status");
	snprintf(path, sizeof(path), "%s/maps/zw_ports_%u", dir, st.slot);
	{
		int fd = bpf_obj_get(path);
		struct zw_bpf_port_key k = {.from = 2, .to = 1, .proto = 6,
					    .kind = ZW_BPF_PK_PORT, .port = 23};
		struct zw_bpf_span v = {.first = 0, .count = 1};
		char *drift;

		CHECK(held_is_image(x, img), "held rules are the image's");
		CHECK(fd >= 0 && !bpf_map_update_elem(fd, &k, &v, BPF_ANY),
		      "hand edit of %s", path);
		drift = zw_xdp__drift(x, img);
		CHECK(drift && strstr(drift, "not from the image"), "drift reported: %s",
		      drift ? drift : "(none)");
		free(drift);
		{
			struct zw_backend_state held = {0};
			int n23 = 0;

			CHECK(!held_is_image(x, img), "held rules differ from the image's");
			CHECK(zw_xdp__held_rules(x, img, &held, NULL) == 0, "held rules");
			for (size_t i = 0; i < held.n_rules; i++) {
				const struct zw_held_rule *h = &held.rules[i];

				if (h->proto == 6 && !h->any && h->lo == 23 && h->hi == 23) {
					n23++;
					printf("held rule added by hand: %s -> %s tcp/23 flow %s\n%s\n",
					       h->from, h->to, h->flow_id,
					       h->engine_text ? h->engine_text : "");
					CHECK(h->engine_text &&
						      strstr(h->engine_text, "key: 02 00 01 00 06 00 17 00"),
					      "engine text quotes the entry: %s",
					      h->engine_text ? h->engine_text : "");
				}
			}
			CHECK(n23 == 1, "one held rule on tcp/23 (%d), which no flow has", n23);
			zw_backend_state__fini(&held);
		}
		bpf_map_delete_elem(fd, &k);
		CHECK(held_is_image(x, img), "held rules are the image's again");
		/* a flow's id hash changed by hand: its rules are an unknown flow's */
		{
			char fpath[512];
			int ffd;
			__u32 f0 = 0;
			struct zw_bpf_flowinfo fi, orig;
			struct zw_backend_state held = {0};
			size_t unknown = 0;

			snprintf(fpath, sizeof(fpath), "%s/maps/zw_flowinfo_%u", dir, st.slot);
			ffd = bpf_obj_get(fpath);
			CHECK(ffd >= 0 && !bpf_map_lookup_elem(ffd, &f0, &orig), "%s", fpath);
			fi = orig;
			fi.id_hash ^= 0x5a5a;
			CHECK(!bpf_map_update_elem(ffd, &f0, &fi, BPF_ANY), "hand edit of flowinfo");
			CHECK(zw_xdp__held_rules(x, img, &held, NULL) == 0, "held rules");
			for (size_t i = 0; i < held.n_rules; i++)
				if (!held.rules[i].flow_id[0] && held.rules[i].engine_text &&
				    !strncmp(held.rules[i].engine_text, "unknown flow", 12))
					unknown++;
			CHECK(unknown == 1, "F-A's rule is an unknown flow's (%zu)", unknown);
			zw_backend_state__fini(&held);
			bpf_map_update_elem(ffd, &f0, &orig, BPF_ANY);
			CHECK(held_is_image(x, img), "restored");
			if (ffd >= 0)
				close(ffd);
		}
		drift = zw_xdp__drift(x, img);
		CHECK(!drift, "no drift once removed");
		free(drift);
		/* a long report is cut, and says so */
		for (k.port = 100; k.port < 160; k.port++)
			bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		drift = zw_xdp__drift(x, img);
		{
			size_t lines = 0, l = drift ? strlen(drift) : 0;

			for (size_t i = 0; i < l; i++)
				lines += drift[i] == '\n';
			CHECK(drift && lines == 51 && l > 4 &&
				      !strcmp(drift + l - 4, "...\n"),
			      "60 differences: 50 lines and '...' (%zu lines)", lines);
		}
		for (k.port = 100; k.port < 160; k.port++)
			bpf_map_delete_elem(fd, &k);
		free(drift);
		drift = zw_xdp__drift(x, img);
		CHECK(!drift, "no drift once removed");
		free(drift);
		if (fd >= 0)
			close(fd);
	}

	/* drift: the slot header edited by hand (the block list switched off) */
	{
		struct zw_matrix *m = NULL;
		struct zw_image *bimg = zwt_image_of_text(matrix, "engine-test", &m);
		struct zw_prefix blk = {.family = ZW_AF_INET, .len = 32};
		struct zw_compile_opts o = {.block = &blk, .n_block = 1};
		struct zw_bpf_slot meta;
		uint8_t *bytes = NULL;
		size_t len = 0;
		int fd;
		char *drift;
		__u32 k;

		inet_pton(AF_INET, "10.1.0.99", blk.addr);
		zw_image__free(bimg);
		CHECK(zw_policy__compile_opts(m, &o, &bytes, &len) == 0 &&
			      (bimg = zw_image__open(bytes, len, err, sizeof(err))),
		      "image with a block list");
		free(bytes);
		zw_matrix__free(m);
		CHECK(zw_xdp__apply(x, bimg, day, err, sizeof(err)) == 0, "%s", err);
		run(x, "10.1.0.99", "10.2.0.1", 43000, 1500, 0x02, &r);
		CHECK(r.action == XDP_DROP && r.rec.reason == ZW_DROP_BLOCKED,
		      "blocked host dropped (action %d)", r.action);
		CHECK(zw_xdp__status(x, &st) == 0, "status");
		snprintf(path, sizeof(path), "%s/maps/zw_slots", dir);
		fd = bpf_obj_get(path);
		k = st.slot;
		CHECK(fd >= 0 && !bpf_map_lookup_elem(fd, &k, &meta) && meta.has_block,
		      "slot header read");
		meta.has_block = 0;
		CHECK(!bpf_map_update_elem(fd, &k, &meta, BPF_ANY), "hand edit of zw_slots");
		run(x, "10.1.0.99", "10.2.0.1", 43001, 1500, 0x02, &r);
		CHECK(r.action == XDP_PASS, "(the edit lifts the block list)");
		drift = zw_xdp__drift(x, bimg);
		CHECK(drift && strstr(drift, "block"), "drift reported: %s",
		      drift ? drift : "(none)");
		free(drift);
		meta.has_block = 1;
		bpf_map_update_elem(fd, &k, &meta, BPF_ANY);
		drift = zw_xdp__drift(x, bimg);
		CHECK(!drift, "no drift once restored: %s", drift ? drift : "");
		free(drift);
		if (fd >= 0)
			close(fd);
		CHECK(zw_xdp__apply(x, img, day, err, sizeof(err)) == 0, "%s", err);
		zw_image__free(bimg);
	}

	test_attach(x, img);

	/* destroy, then apply re-creates the instance */
	CHECK(zw_xdp__destroy(x, err, sizeof(err)) == 0, "%s", err);
	CHECK(stat(dir, &sb) != 0, "%s removed", dir);
	CHECK(zw_xdp__apply(x, img, day, err, sizeof(err)) == 0, "%s", err);
	CHECK(stat(dir, &sb) == 0, "%s re-created", dir);
	zwt_instance_free(x);
	CHECK(stat(dir, &sb) != 0, "%s removed at the end", dir);
	zw_image__free(img);
	printf("bpf-engine: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
