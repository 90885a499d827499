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
		"  --policy FILE     policy image to enforce from the start\n"
		"  --pair A:B        a port pair (repeat for more pairs)\n"
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
		{ "control", required_argument, 0, 'c' },
		{ "conns", required_argument, 0, 'n' },
		{ "day", required_argument, 0, 'd' },
		{ "stats", required_argument, 0, 's' },
		{ "rxd", required_argument, 0, 'r' },
		{ "txd", required_argument, 0, 't' },
		{ "mbufs", required_argument, 0, 'm' },
		{ "events", required_argument, 0, 'e' },
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
	if (!o.policy || !o.n_pairs) {
		fprintf(stderr, PROG ": --policy and at least one --pair are "
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
	return 0;
}

/* Symmetric Toeplitz key: 0x6d5a repeated makes hash(a->b) == hash(b->a)
 * (Woo & Park), so both directions of a connection land on one worker. */
static uint8_t rss_key[64];

static int setup_port(uint16_t port, uint16_t nq, struct rte_mempool *mp)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = { 0 };
	uint16_t rxd = o.rxd, txd = o.txd, q;
	int rc, i;

	rc = rte_eth_dev_info_get(port, &info);
	if (rc)
		return rc;
	if (nq > 1) {
		uint64_t hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;

		for (i = 0; i < (int)sizeof(rss_key); i += 2) {
			rss_key[i] = 0x6d;
			rss_key[i + 1] = 0x5a;
		}
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		/* Hash on addresses only: later fragments (no ports) follow
		 * their first fragment, replies follow requests. */
		conf.rx_adv_conf.rss_conf.rss_hf = hf;
		conf.rx_adv_conf.rss_conf.rss_key = rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len =
			info.hash_key_size ? info.hash_key_size : 40;
		if (!hf)
			return -ENOTSUP;
	}
	rc = rte_eth_dev_configure(port, nq, nq, &conf);
	if (rc)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	if (rc)
		return rc;
	for (q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port, q, rxd,
					    (unsigned)rte_eth_dev_socket_id(port),
					    NULL, mp);
		if (rc)
			return rc;
		rc = rte_eth_tx_queue_setup(port, q, txd,
					    (unsigned)rte_eth_dev_socket_id(port),
					    NULL);
		if (rc)
			return rc;
	}
	rc = rte_eth_dev_start(port);
	if (rc)
		return rc;
	/* A bump in the wire forwards frames for any MAC. Virtual devices
	 * may not support it; that is fine. */
	rte_eth_promiscuous_enable(port);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	zw_eng.quit = 1;
}

int main(int argc, char **argv)
{
	struct rte_mempool *mp = NULL;
	struct zw_image *img = NULL;
	unsigned lcores[RTE_MAX_LCORE], n_lcores = 0, lc, main_lcore;
	uint16_t nq = UINT16_MAX;
	uint32_t i, nb_mbufs;
	int rc, ret = 3, n, main_is_worker = 0;
	char err[512];
	size_t sz;

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
	if (parse_args(argc, argv)) {
		ret = 2;
		goto out_eal;
	}
	if (parse_pairs()) {
		ret = 2;
		goto out_eal;
	}
	img = zw_image__load(o.policy, err, sizeof(err));
	if (!img) {
		fprintf(stderr, PROG ": %s: %s\n", o.policy, err);
		ret = 1;
		goto out_eal;
	}

	/* Workers: one per queue; worker lcores first, the main lcore only
	 * when there is no other. */
	main_lcore = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lc)
		lcores[n_lcores++] = lc;
	for (i = 0; i < zw_eng.n_ports; i++) {
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(zw_eng.ports[i], &info))
			goto out_img;
		nq = RTE_MIN(nq, RTE_MIN(info.max_rx_queues, info.max_tx_queues));
		if (!(info.flow_type_rss_offloads & RTE_ETH_RSS_IP))
			nq = 1; /* no RSS: one worker sees everything */
	}
	if (!n_lcores) {
		lcores[n_lcores++] = main_lcore;
		main_is_worker = 1;
	}
	zw_eng.n_workers = RTE_MIN(RTE_MIN((unsigned)nq, n_lcores),
				   (unsigned)ZW_MAX_WORKERS);
	if (zw_eng.n_workers < n_lcores && !main_is_worker)
		printf(PROG ": %u worker(s): the ports offer %u queue(s) "
		       "(RSS on IP needed for more)\n",
		       zw_eng.n_workers, nq);
	nq = (uint16_t)zw_eng.n_workers;

	nb_mbufs = o.mbufs ? o.mbufs :
		zw_eng.n_ports * nq * (uint32_t)(o.rxd + o.txd) +
		zw_eng.n_workers * (ZW_BURST * 4 + 256) + 2048;
	mp = rte_pktmbuf_pool_create("zw_mbufs", nb_mbufs, 256, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (!mp) {
		fprintf(stderr, PROG ": cannot create a pool of %u mbufs: %s "
				"(raise -m, or lower --rxd/--txd/--mbufs)\n",
			nb_mbufs, rte_strerror(rte_errno));
		goto out_img;
	}
	for (i = 0; i < zw_eng.n_ports; i++) {
		rc = setup_port(zw_eng.ports[i], nq, mp);
		if (rc) {
			fprintf(stderr, PROG ": port %u: cannot start: %s\n",
				zw_eng.ports[i], strerror(-rc));
			goto out_ports;
		}
	}

	zw_eng.hz = rte_get_tsc_hz();
	zw_eng.start_tsc = rte_rdtsc();
	sz = rte_rcu_qsbr_get_memsize(zw_eng.n_workers);
	zw_eng.qs = rte_zmalloc("zw_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (!zw_eng.qs || rte_rcu_qsbr_init(zw_eng.qs, zw_eng.n_workers)) {
		fprintf(stderr, PROG ": RCU init failed\n");
		goto out_ports;
	}
	zw_eng.events = rte_ring_create_elem("zw_events",
					     sizeof(struct zw_flow_record),
					     o.events, (int)rte_socket_id(),
					     RING_F_SC_DEQ);
	if (!zw_eng.events) {
		fprintf(stderr, PROG ": cannot create the event ring: %s\n",
			rte_strerror(rte_errno));
		goto out_ports;
	}
	for (i = 0; i < zw_eng.n_workers; i++) {
		struct zw_worker *w;
		char name[64];
		uint16_t k;

		w = rte_zmalloc_socket("zw_worker", sizeof(*w),
				       RTE_CACHE_LINE_SIZE,
				       (int)rte_lcore_to_socket_id(lcores[i]));
		if (!w)
			goto out_workers;
		zw_eng.workers[i] = w;
		w->id = i;
		w->lcore = lcores[i];
		w->queue = (uint16_t)i;
		for (k = 0; k < zw_eng.n_ports; k++) {
			w->pairs[k].in = zw_eng.ports[k];
			w->pairs[k].out = zw_eng.peer[zw_eng.ports[k]];
		}
		w->n_pairs = zw_eng.n_ports;
		snprintf(name, sizeof(name), "zwc4_%u", i);
		rc = zw_ctab__init(&w->t4, name, 4, o.conns,
				   (int)rte_lcore_to_socket_id(lcores[i]));
		snprintf(name, sizeof(name), "zwc6_%u", i);
		if (!rc)
			rc = zw_ctab__init(&w->t6, name, 6, o.conns,
					   (int)rte_lcore_to_socket_id(lcores[i]));
		if (rc) {
			fprintf(stderr, PROG ": cannot allocate connection "
					"tables of %u entries (raise -m or lower "
					"--conns)\n", o.conns);
			goto out_workers;
		}
		rte_rcu_qsbr_thread_register(zw_eng.qs, i);
	}

	zw_eng.generation = 1;
	zw_eng.ctx = zw_ctx__new(img, o.day, zw_eng.generation,
				 zw_eng.n_workers, err, sizeof(err));
	if (!zw_eng.ctx) {
		fprintf(stderr, PROG ": %s: cannot build the policy: %s\n",
			o.policy, err);
		ret = 1;
		goto out_workers;
	}
	img = NULL; /* owned by the context */

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (o.control && zw_ctl_server__start(o.control)) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", o.control,
			strerror(errno));
		goto out_ctx;
	}
	printf(PROG ": enforcing %s (%s), generation %u, day %d: %u worker(s), "
	       "%u port(s), %u LPM entries, %u+%u ACL rules\n",
	       zw_eng.ctx->img->sha256_hex, o.policy, zw_eng.generation,
	       o.day, zw_eng.n_workers, zw_eng.n_ports, zw_eng.ctx->n_lpm,
	       zw_eng.ctx->n_acl4, zw_eng.ctx->n_acl6);
	fflush(stdout);

	for (i = 0; i < zw_eng.n_workers; i++)
		if (zw_eng.workers[i]->lcore != main_lcore)
			rte_eal_remote_launch(zw_worker__main, zw_eng.workers[i],
					      zw_eng.workers[i]->lcore);
	if (main_is_worker) {
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
	rte_eal_mp_wait_lcore();
	ret = 0;
	zw_ctl_server__stop();
	printf(PROG ": stopping, final statistics:\n");
	zw_engine__print_stats(stdout);
	fflush(stdout);
out_ctx:
	zw_ctx__free(zw_eng.ctx);
	zw_eng.ctx = NULL;
out_workers:
	for (i = 0; i < zw_eng.n_workers; i++) {
		if (!zw_eng.workers[i])
			continue;
		zw_ctab__fini(&zw_eng.workers[i]->t4);
		zw_ctab__fini(&zw_eng.workers[i]->t6);
		rte_free(zw_eng.workers[i]);
	}
	rte_ring_free(zw_eng.events);
	rte_free(zw_eng.qs);
out_ports:
	/* Stop and close every port: the pcap vdev flushes its tx file. */
	for (i = 0; i < zw_eng.n_ports; i++) {
		rte_eth_dev_stop(zw_eng.ports[i]);
		rte_eth_dev_close(zw_eng.ports[i]);
	}
	rte_mempool_free(mp);
out_img:
	zw_image__free(img);
out_eal:
	rte_eal_cleanup();
	return ret;
}
