// SPDX-License-Identifier: BSD-2-Clause
/*
 * zonewall-dpdk: inline (bump-in-the-wire) enforcement of a zonewall policy
 * image between DPDK port pairs. See docs/dpdk-engine.md and
 * `zonewall-dpdk -- --help`.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "rules.h"
#include "zwdpdk.h"

#define PROG "zonewall-dpdk"



static struct opts {
	const char *policy;
	const char *control;
	char *pairs[ZW_MAX_PORTS];
	int n_pairs;
	char *mirrors[ZW_MAX_PORTS];
	int n_mirrors;
	uint32_t conns;
	int32_t day;
	int day_set;
	unsigned stats;
	uint16_t rxd, txd;
	uint32_t mbufs;
	uint32_t events;
} o = {
	.conns = 262144,
	.rxd = 1024,
	.txd = 1024,
	.events = 16384,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [EAL options] -- --policy POLICY.img "
		"--pair PORT_A:PORT_B... [options]\n"
		"\n"
		"Inline enforcement of a zonewall policy image: packets entering\n"
		"PORT_A leave by PORT_B when the policy allows them, and back.\n"
		"PORT is a DPDK port id or device name (net_pcap0, 0000:01:00.0).\n"
		"\n"
		"  --policy FILE     policy image to enforce from the start (without\n"
		"                    it, with --control: every IP packet is dropped\n"
		"                    until zonewalld loads one)\n"
		"  --pair A:B        a port pair (repeat for more pairs)\n"
		"  --mirror-port [IF=]PORT\n"
		"                    a mirror port: copies of the traffic the\n"
		"                    matrix's probes watch leave by it (repeat for\n"
		"                    more); a probe whose interface is IF, or else\n"
		"                    PORT's device name, is sent to it; a probe\n"
		"                    naming no mirror port: policy refused\n"
		"  --control PATH    Unix control socket (zonewalld's dpdk backend,\n"
		"                    protocol in docs/dpdk-engine.md)\n"
		"  --conns N         connection table size per worker and family\n"
		"                    (default 262144)\n"
		"  --day YYYY-MM-DD  day for flow expiry (default $ZONEWALL_TODAY,\n"
		"                    else today, UTC)\n"
		"  --stats SECONDS   print statistics periodically\n"
		"  --rxd N, --txd N  descriptors per queue (default 1024)\n"
		"  --mbufs N         mbufs in the pool (default: computed)\n"
		"  --events N        telemetry ring size (default 16384)\n"
		"  --l7-conns N      connections under L7 inspection at once per\n"
		"                    worker (default 1024; more: refused)\n"
		"  --no-l7           no L7 inspection: inspect: is not enforced\n"
		"                    (said at each load), block-file refused\n"
		"  --help            this text\n"
		"\n"
		"Tests and virtual devices: add --no-huge -m 1024 --no-shconf to\n"
		"the EAL options, e.g.\n"
		"  " PROG " --no-huge -m 1024 --no-shconf --no-pci \\\n"
		"    --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap \\\n"
		"    --vdev net_pcap1,tx_pcap=out1.pcap -- --policy p.img --pair 0:1\n"
		"SIGINT/SIGTERM stop it cleanly and print final statistics.\n"
		"Exit: 0 ok, 1 invalid policy, 2 usage, 3 environment (EAL, ports).\n");
}

static int parse_day(const char *s, int32_t *day)
{
	struct tm tm = { 0 };
	char *end;

	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end) {
		long v = strtol(s, &end, 10);

		if (*s && !*end) {
			*day = (int32_t)v;
			return 0;
		}
		return -EINVAL;
	}
	*day = (int32_t)(timegm(&tm) / 86400);
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "policy", required_argument, 0, 'p' },
		{ "pair", required_argument, 0, 'P' },
		{ "mirror-port", required_argument, 0, 'M' },
		{ "control", required_argument, 0, 'c' },
		{ "conns", required_argument, 0, 'n' },
		{ "day", required_argument, 0, 'd' },
		{ "stats", required_argument, 0, 's' },
		{ "rxd", required_argument, 0, 'r' },
		{ "txd", required_argument, 0, 't' },
		{ "mbufs", required_argument, 0, 'm' },
		{ "events", required_argument, 0, 'e' },
		{ "l7-conns", required_argument, 0, 'L' },
		{ "no-l7", no_argument, 0, 'N' },
		{ "help", no_argument, 0, 'h' },
		{ 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.policy = optarg;
			break;
		case 'P':
			if (o.n_pairs == ZW_MAX_PORTS / 2) {
				fprintf(stderr, PROG ": too many --pair\n");
				return -1;
			}
			o.pairs[o.n_pairs++] = optarg;
			break;
		case 'M':
			if (o.n_mirrors == ZW_MAX_PORTS / 2) {
				fprintf(stderr, PROG ": too many --mirror-port\n");
				return -1;
			}
			o.mirrors[o.n_mirrors++] = optarg;
			break;
		case 'c':
			o.control = optarg;
			break;
		case 'n':
			o.conns = (uint32_t)strtoul(optarg, NULL, 0);
			if (o.conns < 64) {
				fprintf(stderr, PROG ": --conns must be >= 64\n");
				return -1;
			}
			break;
		case 'd':
			if (parse_day(optarg, &o.day)) {
				fprintf(stderr, PROG ": bad --day '%s' (YYYY-MM-DD)\n",
					optarg);
				return -1;
			}
			o.day_set = 1;
			break;
		case 's':
			o.stats = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o.rxd = (uint16_t)strtoul(optarg, NULL, 0);
			break;
		case 't':
			o.txd = (uint16_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			o.mbufs = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'e':
			o.events = rte_align32pow2((uint32_t)strtoul(optarg, NULL, 0));
			break;
		case 'L':
			zw_l7_opts.conns = (uint32_t)strtoul(optarg, NULL, 0);
			if (zw_l7_opts.conns < 1 || zw_l7_opts.conns > 1u << 20) {
				fprintf(stderr, PROG ": --l7-conns must be "
					"1-1048576\n");
				return -1;
			}
			break;
		case 'N':
			zw_l7_opts.off = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if ((!o.policy && !o.control) || !o.n_pairs) {
		fprintf(stderr, PROG ": --policy (or --control, to receive it "
				"from zonewalld) and at least one --pair are "
				"required (try --help)\n");
		return -1;
	}
	if (!o.day_set) {
		const char *t = getenv("ZONEWALL_TODAY");

		if (!t || parse_day(t, &o.day))
			o.day = zw_dpdk__today();
	}
	return 0;
}

static int port_of(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s && !*end) {
		if (v >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port((uint16_t)v))
			return -ENODEV;
		*port = (uint16_t)v;
		return 0;
	}
	return rte_eth_dev_get_port_by_name(s, port) ? -ENODEV : 0;
}

static int add_port(uint16_t p)
{
	int i;

	for (i = 0; i < zw_eng.n_ports; i++)
		if (zw_eng.ports[i] == p)
			return -EEXIST;
	if (zw_eng.n_ports == ZW_MAX_PORTS)
		return -ENOSPC;
	zw_eng.ports[zw_eng.n_ports++] = p;
	return 0;
}

static int parse_pairs(void)
{
	int i;

	for (i = 0; i < ZW_MAX_PORTS; i++)
		zw_eng.peer[i] = UINT16_MAX;
	for (i = 0; i < o.n_pairs; i++) {
		char buf[256], *colon;
		uint16_t a, b;

		snprintf(buf, sizeof(buf), "%s", o.pairs[i]);
		colon = strrchr(buf, ':');
		if (!colon) {
			fprintf(stderr, PROG ": --pair %s: expected A:B\n", buf);
			return -EINVAL;
		}
		*colon = 0;
		if (port_of(buf, &a) || port_of(colon + 1, &b)) {
			fprintf(stderr, PROG ": --pair %s: no such port "
					"(%u ports available)\n",
				o.pairs[i], rte_eth_dev_count_avail());
			return -ENODEV;
		}
		if (a == b || a >= ZW_MAX_PORTS || b >= ZW_MAX_PORTS ||
		    add_port(a) || add_port(b)) {
			fprintf(stderr, PROG ": --pair %s: a port may appear in "
					"one pair only, paired with another port\n",
				o.pairs[i]);
			return -EINVAL;
		}
		zw_eng.peer[a] = b;
		zw_eng.peer[b] = a;
	}
	/* mirror ports: output only, in no pair, each once */
	for (i = 0; i < o.n_mirrors; i++) {
		struct zw_mirror_port *mp = &zw_eng.mirrors[zw_eng.n_mirrors];
		const char *arg = o.mirrors[i], *eq = strchr(arg, '=');
		const char *port = eq ? eq + 1 : arg;
		uint16_t p;
		int k;

		memset(mp, 0, sizeof(*mp));
		if (eq && (eq == arg || (size_t)(eq - arg) >= sizeof(mp->alias))) {
			fprintf(stderr, PROG ": --mirror-port %s: IF must be 1 "
					"to %zu characters\n",
				arg, sizeof(mp->alias) - 1);
			return -EINVAL;
		}
		if (port_of(port, &p)) {
			fprintf(stderr, PROG ": --mirror-port %s: no such port "
					"(%u ports available)\n",
				arg, rte_eth_dev_count_avail());
			return -ENODEV;
		}
		if (eq)
			memcpy(mp->alias, arg, (size_t)(eq - arg));
		for (k = 0; k < zw_eng.n_mirrors; k++)
			if (mp->alias[0] &&
			    !strcmp(zw_eng.mirrors[k].alias, mp->alias))
				break;
		if (p >= ZW_MAX_PORTS || k < zw_eng.n_mirrors || add_port(p)) {
			fprintf(stderr, PROG ": --mirror-port %s: a mirror port "
					"is in no --pair and given once, each IF "
					"once\n",
				arg);
			return -EINVAL;
		}
		mp->port = p;
		zw_eng.n_mirrors++;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	zw_eng.quit = 1;
}

int main(int argc, char **argv)
{
	struct zw_engine_cfg cfg = { 0 };
	struct zw_image *img = NULL;
	int rc, ret = 3, n;
	char err[512];

	/* --help needs no EAL (and must not need root). */
	{
		int i, app = 0;

		for (i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--"))
				app = 1;
			else if ((app || argc == 2) &&
				 (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
				usage(stdout);
				return 0;
			}
		}
	}
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, PROG ": cannot initialise DPDK's EAL: %s "
				"(tests: --no-huge -m 1024 --no-shconf)\n",
			rte_strerror(rte_errno));
		return 3;
	}
	argc -= n;
	argv += n;
	argv[0] = (char *)PROG;
	if (parse_args(argc, argv) || parse_pairs()) {
		ret = 2;
		goto out_eal;
	}
	if (o.policy) {
		img = zw_image__load(o.policy, err, sizeof(err));
		if (!img) {
			fprintf(stderr, PROG ": %s: %s\n", o.policy, err);
			ret = 1;
			goto out_eal;
		}
	}
	cfg.conns = o.conns;
	cfg.rxd = o.rxd;
	cfg.txd = o.txd;
	cfg.mbufs = o.mbufs;
	cfg.events = o.events;
	cfg.day = o.day;
	rc = zw_engine__init(&cfg, img, err, sizeof(err));
	if (rc) {
		fprintf(stderr, PROG ": %s\n", err);
		ret = rc == -EINVAL ? 1 : 3;
		zw_image__free(img);
		goto out_eal;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (o.control && zw_ctl_server__start(o.control)) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", o.control,
			strerror(errno));
		goto out_engine;
	}
	if (zw_eng.ctx)
		printf(PROG ": enforcing %s (%s), generation %u, day %d: %u "
		       "worker(s), %u port(s), %u LPM entries, %u+%u ACL rules\n",
		       zw_eng.ctx->img->sha256_hex, o.policy, zw_eng.generation,
		       o.day, zw_eng.n_workers, zw_eng.n_ports, zw_eng.ctx->n_lpm,
		       zw_eng.ctx->n_acl4, zw_eng.ctx->n_acl6);
	else
		printf(PROG ": no policy yet: every IP packet is dropped until "
		       "one is loaded on %s; %u worker(s), %u port(s)\n",
		       o.control, zw_eng.n_workers, zw_eng.n_ports);
	fflush(stdout);
	zw_engine__launch();
	if (zw_eng.main_is_worker) {
		zw_worker__main(zw_eng.workers[0]);
	} else {
		uint64_t next = rte_get_timer_cycles() +
				o.stats * rte_get_timer_hz();

		while (!zw_eng.quit) {
			usleep(100 * 1000);
			if (o.stats && rte_get_timer_cycles() >= next) {
				zw_engine__print_stats(stdout);
				next += o.stats * rte_get_timer_hz();
			}
		}
	}
	zw_engine__stop();
	ret = 0;
	zw_ctl_server__stop();
	printf(PROG ": stopping, final statistics:\n");
	zw_engine__print_stats(stdout);
	fflush(stdout);
out_engine:
	zw_engine__fini();
out_eal:
	rte_eal_cleanup();
	return ret;
}
