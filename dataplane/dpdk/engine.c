// SPDX-License-Identifier: BSD-2-Clause
/*
 * The engine's control side: policy swap through RCU, the control socket
 * server and statistics. Runs off the fast path (control thread, main
 * lcore).
 */
#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_memory.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "ctl_proto.h"
#include "rules.h"
#include "zwdpdk.h"

struct zw_engine zw_eng;

/* Serialises swaps (control thread vs. nothing else today, but cheap). */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* The context PREPARE built and COMMIT will publish (under load_lock). It
 * was never published, so it is freed without a grace period. */
static struct zw_ctx *staged;

int zw_engine__prepare(const void *bytes, size_t len, int32_t day,
		       char sha256_hex[65], char *err, size_t err_len)
{
	struct zw_image *img;
	struct zw_ctx *nc;

	img = zw_image__open(bytes, len, err, err_len);
	if (!img)
		return -(errno ? errno : EINVAL);
	pthread_mutex_lock(&load_lock);
	/* One ticket at a time: a new prepare replaces an older one (its
	 * tables would carry the same generation's names). */
	zw_ctx__free(staged);
	staged = NULL;
	nc = zw_ctx__new(img, day, zw_eng.generation + 1, zw_eng.n_workers,
			 err, err_len);
	if (!nc) {
		pthread_mutex_unlock(&load_lock);
		zw_image__free(img);
		return -EINVAL;
	}
	staged = nc;
	memcpy(sha256_hex, img->sha256_hex, 65);
	pthread_mutex_unlock(&load_lock);
	return 0;
}

int zw_engine__commit(const char *sha256_hex, char *err, size_t err_len)
{
	struct zw_ctx *nc, *old;

	pthread_mutex_lock(&load_lock);
	nc = staged;
	if (!nc || strcmp(nc->img->sha256_hex, sha256_hex) ||
	    nc->generation != zw_eng.generation + 1) {
		pthread_mutex_unlock(&load_lock);
		snprintf(err, err_len, "no prepared policy %.16s... (another "
			 "prepare, load or unload came in between)", sha256_hex);
		return -ESTALE;
	}
	staged = NULL;
	old = zw_eng.ctx;
	/* Publish: one pointer store. Workers read the pointer once per
	 * burst, so every packet is judged by exactly one context. */
	__atomic_store_n(&zw_eng.ctx, nc, __ATOMIC_RELEASE);
	zw_eng.generation = nc->generation;
	/* Grace period: every worker has finished the burst it was judging
	 * with the old context. */
	rte_rcu_qsbr_synchronize(zw_eng.qs, RTE_QSBR_THRID_INVALID);
	zw_ctx__carry(nc, old);
	zw_ctx__free(old);
	pthread_mutex_unlock(&load_lock);
	return 0;
}

void zw_engine__abort(void)
{
	pthread_mutex_lock(&load_lock);
	zw_ctx__free(staged);
	staged = NULL;
	pthread_mutex_unlock(&load_lock);
}

int zw_engine__load(const void *bytes, size_t len, int32_t day, char *err,
		    size_t err_len)
{
	char sha[65];
	int rc;

	/* prepare + commit; a concurrent prepare (one control thread: none)
	 * would make the commit stale, never half-applied. */
	rc = zw_engine__prepare(bytes, len, day, sha, err, err_len);
	if (rc)
		return rc;
	return zw_engine__commit(sha, err, err_len);
}

/* Symmetric Toeplitz key: 0x6d5a repeated makes hash(a->b) == hash(b->a)
 * (Woo & Park), so both directions of a connection land on one worker. */
static uint8_t rss_key[64];

void zw_engine__rss_key(uint8_t *key, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		key[i] = 0x6d;
		key[i + 1] = 0x5a;
	}
}

static int setup_port(const struct zw_engine_cfg *cfg, uint16_t port,
		      uint16_t nq, struct rte_mempool *mp)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = { 0 };
	uint16_t rxd = cfg->rxd, txd = cfg->txd, q;
	/* a mirror port is only sent to: a tx queue per worker, one rx queue
	 * never read (some drivers want one), no RSS */
	int mirror = zw_eng.peer[port] == UINT16_MAX;
	uint16_t nrx = mirror ? 1 : nq;
	int rc;

	rc = rte_eth_dev_info_get(port, &info);
	if (rc)
		return rc;
	if (nq > 1 && !mirror) {
		uint64_t hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;

		zw_engine__rss_key(rss_key, sizeof(rss_key));
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
	rc = rte_eth_dev_configure(port, nrx, nq, &conf);
	if (rc)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	if (rc)
		return rc;
	for (q = 0; q < nq; q++) {
		rc = q < nrx ? rte_eth_rx_queue_setup(
				       port, q, rxd,
				       (unsigned)rte_eth_dev_socket_id(port),
				       NULL, mp) : 0;
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

int zw_engine__init(const struct zw_engine_cfg *cfg, struct zw_image *img,
		    char *err, size_t err_len)
{
	unsigned lcores[RTE_MAX_LCORE], n_lcores = 0, lc, main_lcore;
	uint16_t nq = UINT16_MAX;
	uint32_t i, nb_mbufs;
	size_t sz;
	int rc;

	zw_eng.quit = 0;
	zw_eng.main_is_worker = 0;
	/* Workers: one per queue; worker lcores first, the main lcore only
	 * when there is no other. */
	main_lcore = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lc)
		lcores[n_lcores++] = lc;
	for (i = 0; i < zw_eng.n_ports; i++) {
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(zw_eng.ports[i], &info)) {
			snprintf(err, err_len, "port %u: no device info",
				 zw_eng.ports[i]);
			return -ENODEV;
		}
		if (zw_eng.peer[zw_eng.ports[i]] == UINT16_MAX) {
			/* a mirror port: a tx queue per worker is all */
			nq = RTE_MIN(nq, info.max_tx_queues);
			continue;
		}
		nq = RTE_MIN(nq, RTE_MIN(info.max_rx_queues, info.max_tx_queues));
		if (!(info.flow_type_rss_offloads & RTE_ETH_RSS_IP))
			nq = 1; /* no RSS: one worker sees everything */
	}
	if (!n_lcores) {
		lcores[n_lcores++] = main_lcore;
		zw_eng.main_is_worker = 1;
	}
	zw_eng.n_workers = RTE_MIN(RTE_MIN((unsigned)nq, n_lcores),
				   (unsigned)ZW_MAX_WORKERS);
	if (zw_eng.n_workers < n_lcores && !zw_eng.main_is_worker)
		printf("zonewall-dpdk: %u worker(s): the ports offer %u queue(s) "
		       "(RSS on IP needed for more)\n",
		       zw_eng.n_workers, nq);
	nq = (uint16_t)zw_eng.n_workers;

	nb_mbufs = cfg->mbufs ? cfg->mbufs :
		zw_eng.n_ports * nq * (uint32_t)(cfg->rxd + cfg->txd) +
		zw_eng.n_workers * (ZW_BURST * 4 + 256) + 2048;
	zw_eng.mp = rte_pktmbuf_pool_create("zw_mbufs", nb_mbufs, 256, 0,
					    RTE_MBUF_DEFAULT_BUF_SIZE,
					    (int)rte_socket_id());
	if (!zw_eng.mp) {
		snprintf(err, err_len, "cannot create a pool of %u mbufs: %s "
			 "(raise -m, or lower --rxd/--txd/--mbufs)",
			 nb_mbufs, rte_strerror(rte_errno));
		rc = -ENOMEM;
		goto err;
	}
	for (i = 0; i < zw_eng.n_ports; i++) {
		rc = setup_port(cfg, zw_eng.ports[i], nq, zw_eng.mp);
		if (rc) {
			snprintf(err, err_len, "port %u: cannot start: %s",
				 zw_eng.ports[i], strerror(-rc));
			rc = -ENODEV;
			goto err;
		}
		zw_eng.ports_started = i + 1;
	}
	zw_eng.hz = rte_get_tsc_hz();
	zw_eng.start_tsc = rte_rdtsc();
	sz = rte_rcu_qsbr_get_memsize(zw_eng.n_workers);
	zw_eng.qs = rte_zmalloc("zw_rcu", sz, RTE_CACHE_LINE_SIZE);
	rc = -ENOMEM;
	if (!zw_eng.qs || rte_rcu_qsbr_init(zw_eng.qs, zw_eng.n_workers)) {
		snprintf(err, err_len, "RCU init failed");
		goto err;
	}
	zw_eng.events = rte_ring_create_elem("zw_events",
					     sizeof(struct zw_flow_record),
					     cfg->events ? cfg->events : 65536,
					     (int)rte_socket_id(), RING_F_SC_DEQ);
	if (!zw_eng.events) {
		snprintf(err, err_len, "cannot create the event ring: %s",
			 rte_strerror(rte_errno));
		goto err;
	}
	for (i = 0; i < zw_eng.n_workers; i++) {
		int socket = (int)rte_lcore_to_socket_id(lcores[i]);
		struct zw_worker *w;
		char name[64];
		uint16_t k;

		w = rte_zmalloc_socket("zw_worker", sizeof(*w),
				       RTE_CACHE_LINE_SIZE, socket);
		if (!w) {
			snprintf(err, err_len, "out of memory");
			goto err;
		}
		zw_eng.workers[i] = w;
		w->id = i;
		w->lcore = lcores[i];
		w->queue = (uint16_t)i;
		w->n_pairs = 0;
		for (k = 0; k < zw_eng.n_ports; k++) {
			if (zw_eng.peer[zw_eng.ports[k]] == UINT16_MAX)
				continue; /* a mirror port: sent to, never read */
			w->pairs[w->n_pairs].in = zw_eng.ports[k];
			w->pairs[w->n_pairs++].out =
				zw_eng.peer[zw_eng.ports[k]];
		}
		snprintf(name, sizeof(name), "zwc4_%u", i);
		rc = zw_ctab__init(&w->t4, name, 4, cfg->conns, socket);
		snprintf(name, sizeof(name), "zwc6_%u", i);
		if (!rc)
			rc = zw_ctab__init(&w->t6, name, 6, cfg->conns, socket);
		if (rc) {
			snprintf(err, err_len, "cannot allocate connection "
				 "tables of %u entries (raise -m or lower "
				 "--conns)", cfg->conns);
			goto err;
		}
		if (zw_worker__rate_init(w, socket)) {
			snprintf(err, err_len, "cannot allocate the rate table");
			rc = -ENOMEM;
			goto err;
		}
		rte_rcu_qsbr_thread_register(zw_eng.qs, i);
	}
	zw_eng.generation = img ? 1 : 0;
	zw_eng.ctx = NULL;
	if (img) {
		zw_eng.ctx = zw_ctx__new(img, cfg->day, zw_eng.generation,
					 zw_eng.n_workers, err, err_len);
		if (!zw_eng.ctx) {
			rc = -EINVAL;
			goto err;
		}
	}
	return 0;
err:
	zw_engine__fini();
	return rc;
}

void zw_engine__launch(void)
{
	uint32_t i;

	zw_eng.quit = 0;
	for (i = 0; i < zw_eng.n_workers; i++)
		if (zw_eng.workers[i]->lcore != rte_get_main_lcore())
			rte_eal_remote_launch(zw_worker__main, zw_eng.workers[i],
					      zw_eng.workers[i]->lcore);
}

void zw_engine__stop(void)
{
	zw_eng.quit = 1;
	rte_eal_mp_wait_lcore();
}

void zw_engine__fini(void)
{
	uint32_t i;

	zw_ctx__free(zw_eng.ctx);
	zw_eng.ctx = NULL;
	for (i = 0; i < zw_eng.n_workers; i++) {
		if (!zw_eng.workers[i])
			continue;
		zw_ctab__fini(&zw_eng.workers[i]->t4);
		zw_ctab__fini(&zw_eng.workers[i]->t6);
		zw_worker__rate_fini(zw_eng.workers[i]);
		rte_free(zw_eng.workers[i]);
		zw_eng.workers[i] = NULL;
	}
	/* the L7 pools and database (the tables that used them are gone) */
	zw_l7__fini();
	rte_ring_free(zw_eng.events);
	zw_eng.events = NULL;
	rte_free(zw_eng.qs);
	zw_eng.qs = NULL;
	/* Stop and close every port: the pcap vdev flushes its tx file. */
	for (i = 0; i < zw_eng.ports_started; i++)
		rte_eth_dev_stop(zw_eng.ports[i]);
	for (i = 0; i < zw_eng.n_ports; i++)
		rte_eth_dev_close(zw_eng.ports[i]);
	zw_eng.ports_started = 0;
	zw_eng.n_ports = 0;
	zw_eng.n_mirrors = 0;
	rte_mempool_free(zw_eng.mp);
	zw_eng.mp = NULL;
}

void zw_engine__unload(void)
{
	struct zw_ctx *old;

	zw_engine__abort();
	pthread_mutex_lock(&load_lock);
	old = zw_eng.ctx;
	__atomic_store_n(&zw_eng.ctx, NULL, __ATOMIC_RELEASE);
	zw_eng.generation++;
	rte_rcu_qsbr_synchronize(zw_eng.qs, RTE_QSBR_THRID_INVALID);
	zw_ctx__free(old);
	pthread_mutex_unlock(&load_lock);
}

static void worker_sum(struct zw_worker_stats *s)
{
	uint32_t i, k;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < zw_eng.n_workers; i++) {
		const struct zw_worker_stats *w = &zw_eng.workers[i]->st;

		s->rx += w->rx;
		s->tx += w->tx;
		s->tx_fail += w->tx_fail;
		s->passed_nonip += w->passed_nonip;
		s->done += __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
		s->evicted += w->evicted;
		s->expired += w->expired;
		s->events_lost += w->events_lost;
		s->l7_judged += w->l7_judged;
		s->l7_cut += w->l7_cut;
		s->l7_pool_full += w->l7_pool_full;
		s->l7_held += w->l7_held;
		s->mirrored += w->mirrored;
		s->mirror_drops += w->mirror_drops;
		s->conns += zw_eng.workers[i]->t4.count +
			    zw_eng.workers[i]->t6.count;
		for (k = 0; k < ZW_DROP__COUNT; k++)
			s->drops[k] += w->drops[k];
	}
}

void zw_engine__print_stats(FILE *f)
{
	const struct zw_ctx *ctx;
	struct zw_worker_stats s;
	struct zw_flow_counters *tot;
	uint64_t dropped = 0;
	uint32_t i;

	/* The control thread swaps and frees contexts under load_lock. */
	pthread_mutex_lock(&load_lock);
	ctx = zw_eng.ctx;

	worker_sum(&s);
	for (i = 0; i < ZW_DROP__COUNT; i++)
		dropped += s.drops[i];
	fprintf(f, "policy %s generation %u\n",
		ctx ? ctx->img->sha256_hex : "-", zw_eng.generation);
	fprintf(f, "packets rx %" PRIu64 " tx %" PRIu64 " dropped %" PRIu64
		   " tx-failed %" PRIu64 " non-ip %" PRIu64 "\n",
		s.rx, s.tx, dropped, s.tx_fail, s.passed_nonip);
	fprintf(f, "connections %" PRIu64 " evicted %" PRIu64
		   " expired %" PRIu64 " events-lost %" PRIu64 "\n",
		s.conns, s.evicted, s.expired, s.events_lost);
	fprintf(f, "l7 judged %" PRIu64 " cut %" PRIu64 " pool-full %" PRIu64
		   " held %" PRIu64 "\n",
		s.l7_judged, s.l7_cut, s.l7_pool_full, s.l7_held);
	if (zw_eng.n_mirrors)
		fprintf(f, "mirror copies %" PRIu64 " drops %" PRIu64 "\n",
			s.mirrored, s.mirror_drops);
	for (i = 1; i < ZW_DROP__COUNT; i++)
		if (s.drops[i])
			fprintf(f, "drop %-15s %" PRIu64 "\n",
				zw_drop_reason__name(i), s.drops[i]);
	for (i = 0; i < zw_eng.n_ports; i++) {
		struct rte_eth_stats es;
		char name[RTE_ETH_NAME_MAX_LEN] = "?";

		rte_eth_dev_get_name_by_port(zw_eng.ports[i], name);
		if (rte_eth_stats_get(zw_eng.ports[i], &es))
			continue;
		fprintf(f, "port %u %s ipackets %" PRIu64 " opackets %" PRIu64
			   " imissed %" PRIu64 " ierrors %" PRIu64
			   " oerrors %" PRIu64 "\n",
			zw_eng.ports[i], name, es.ipackets, es.opackets,
			es.imissed, es.ierrors, es.oerrors);
	}
	tot = ctx ? calloc(ctx->n_flows + 1, sizeof(*tot)) : NULL;
	if (tot)
		zw_ctx__totals(ctx, tot);
	for (i = 0; tot && i < ctx->n_flows; i++) {
		const struct zw_flow_counters c = tot[i];

		if (!c.packets && !c.drops)
			continue;
		fprintf(f, "flow %s packets %" PRIu64 " bytes %" PRIu64
			   " new %" PRIu64 " drops %" PRIu64 "\n",
			zw_image__str(ctx->img, ctx->img->flows[i].id),
			c.packets, c.bytes, c.new_conns, c.drops);
	}
	free(tot);
	pthread_mutex_unlock(&load_lock);
	fflush(f);
}

/* ---- control socket ---- */

/*
 * Flow records: the workers enqueue into zw_eng.events (never blocking, a
 * full ring counted per worker in events_lost); the control thread drains
 * it every DRAIN_MS into evq, which RECORDS (binary, zonewalld) and EVENTS
 * (text, people) consume. When nobody reads, the oldest records of evq
 * are overwritten and counted (evq_lost). STATUS shows both losses as
 * records_lost. At 1 000 000 records/s a 65536-record ring drained every
 * 10 ms has six times the room it needs.
 */
#define EVQ 65536
#define DRAIN_MS 10
static struct zw_flow_record evq[EVQ];
static uint32_t evq_head, evq_n;
static uint64_t evq_lost;

static pthread_t ctl_thread;
static int ctl_fd = -1;
static char ctl_path[108];
static volatile int ctl_run;

static void drain_events(void)
{
	struct zw_flow_record r[64];
	unsigned n, i;

	do {
		n = rte_ring_sc_dequeue_burst_elem(zw_eng.events, r, sizeof(r[0]),
						   64, NULL);
		for (i = 0; i < n; i++) {
			if (evq_n == EVQ) {
				evq_head = (evq_head + 1) % EVQ;
				evq_n--;
				evq_lost++;
			}
			evq[(evq_head + evq_n++) % EVQ] = r[i];
		}
	} while (n == 64);
}

static void fmt_addr(uint8_t family, const uint8_t *a, char *buf, size_t n)
{
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)n);
}

static int reply_events(int fd, long max)
{
	uint32_t n, i;
	int rc;

	drain_events();
	n = (max > 0 && (uint32_t)max < evq_n) ? (uint32_t)max : evq_n;
	rc = zw_ctl__printf(fd, "OK lost=%" PRIu64 " n=%u\n", evq_lost, n);
	for (i = 0; i < n && !rc; i++) {
		const struct zw_flow_record *r = &evq[(evq_head + i) % EVQ];
		char s[64], d[64];

		fmt_addr(r->family, r->src, s, sizeof(s));
		fmt_addr(r->family, r->dst, d, sizeof(d));
		rc = zw_ctl__printf(
			fd,
			"ts=%" PRIu64 " event=%s reason=%s flow=%d gen=%u "
			"zones=%u->%u proto=%u src=%s sport=%u dst=%s "
			"dport=%u packets=%" PRIu64 " bytes=%" PRIu64 "\n",
			(uint64_t)r->ts_ns,
			r->event == ZW_EV_NEW ? "new" :
			r->event == ZW_EV_DROP ? "drop" :
			r->event == ZW_EV_UPDATE ? "update" : "end",
			r->reason < ZW_DROP__COUNT ? zw_drop_reason__name(r->reason)
						    : "?",
			r->flow == ZW_NO_FLOW ? -1 : (int)r->flow, r->generation,
			r->src_zone, r->dst_zone, r->proto, s, r->sport, d,
			r->dport, (uint64_t)r->packets, (uint64_t)r->bytes);
	}
	evq_head = (evq_head + n) % EVQ;
	evq_n -= n;
	return rc;
}

static int parse_num(const char *s, long long lo, long long hi, long long *v);

/* RECORDS [MAX]: "OK n=K size=S lost=L" then K records of S bytes
 * (struct zw_flow_record as the engine's host lays it out), consumed. */
static int reply_records(int fd, char **w, int n)
{
	struct zw_worker_stats s;
	long long max = ZW_CTL_RECORDS_MAX;
	uint32_t k, first;
	int rc;

	if (n > 2 || (n == 2 && parse_num(w[1], 1, ZW_CTL_RECORDS_MAX, &max)))
		return zw_ctl__printf(fd, "ERR %d usage: RECORDS [MAX] (1..%d)\n",
				      EINVAL, ZW_CTL_RECORDS_MAX);
	drain_events();
	worker_sum(&s);
	k = (uint32_t)max < evq_n ? (uint32_t)max : evq_n;
	rc = zw_ctl__printf(fd, "OK n=%u size=%zu lost=%" PRIu64 "\n", k,
			    sizeof(struct zw_flow_record),
			    s.events_lost + evq_lost);
	/* at most two contiguous runs of the circular buffer */
	first = EVQ - evq_head < k ? EVQ - evq_head : k;
	if (!rc && first)
		rc = zw_ctl__write_full(fd, &evq[evq_head],
					first * sizeof(evq[0]));
	if (!rc && k > first)
		rc = zw_ctl__write_full(fd, &evq[0], (k - first) * sizeof(evq[0]));
	/* consumed once written: a client that went away lost them */
	evq_head = (evq_head + k) % EVQ;
	evq_n -= k;
	return rc;
}

static int reply_status(int fd)
{
	const struct zw_ctx *ctx = zw_eng.ctx;
	struct zw_worker_stats s;
	uint64_t dropped = 0;
	uint32_t i;

	uint64_t conns_size = 0;

	worker_sum(&s);
	for (i = 0; i < ZW_DROP__COUNT; i++)
		dropped += s.drops[i];
	for (i = 0; i < zw_eng.n_workers; i++)
		conns_size += (uint64_t)zw_eng.workers[i]->t4.nslots +
			      zw_eng.workers[i]->t6.nslots;
	/* early_drops: embryonic entries evicted for a new connection
	 * (conn.c); the table never evicts an established one */
	return zw_ctl__printf(
		fd,
		"OK enforcing=%d sha256=%s generation=%u day=%d name=%s "
		"workers=%u ports=%u conns=%" PRIu64 " rx=%" PRIu64
		" done=%" PRIu64 " tx=%" PRIu64 " dropped=%" PRIu64
		" acl4=%u acl6=%u lpm=%u conns_size=%" PRIu64
		" early_drops=%" PRIu64 " records_lost=%" PRIu64
		" records_queued=%u log_all=%d active_timeout=%u"
		" mirrored=%" PRIu64 " mirror_drops=%" PRIu64 "\n",
		ctx ? 1 : 0, ctx ? ctx->img->sha256_hex : "-",
		zw_eng.generation, ctx ? ctx->day : 0,
		ctx ? zw_image__str(ctx->img, ctx->img->meta->name) : "-",
		zw_eng.n_workers, zw_eng.n_ports, s.conns, s.rx, s.done, s.tx,
		dropped,
		ctx ? ctx->n_acl4 : 0, ctx ? ctx->n_acl6 : 0,
		ctx ? ctx->n_lpm : 0, conns_size, s.evicted,
		s.events_lost + evq_lost, evq_n, zw_eng.rec.log_all ? 1 : 0,
		zw_eng.rec.active_timeout_s ? zw_eng.rec.active_timeout_s
					    : ZW_ACTIVE_TIMEOUT_DEFAULT,
		s.mirrored, s.mirror_drops);
}

static int reply_counters(int fd)
{
	const struct zw_ctx *ctx = zw_eng.ctx;
	struct zw_flow_counters *tot;
	uint32_t i;
	int rc;

	if (!ctx)
		return zw_ctl__printf(fd, "OK sha256=- n=0\n");
	tot = calloc(ctx->n_flows + 1, sizeof(*tot));
	if (!tot)
		return zw_ctl__printf(fd, "ERR %d out of memory\n", ENOMEM);
	zw_ctx__totals(ctx, tot);
	rc = zw_ctl__printf(fd, "OK sha256=%s n=%u\n", ctx->img->sha256_hex,
			    ctx->n_flows);
	for (i = 0; i < ctx->n_flows && !rc; i++) {
		const struct zw_flow_counters c = tot[i];

		rc = zw_ctl__printf(fd,
				    "%u %s %" PRIu64 " %" PRIu64 " %" PRIu64
				    " %" PRIu64 "\n",
				    i,
				    zw_image__str(ctx->img,
						  ctx->img->flows[i].id),
				    c.packets, c.bytes, c.new_conns, c.drops);
	}
	free(tot);
	return rc;
}

static int reply_drops(int fd)
{
	struct zw_worker_stats s;
	int i, rc;

	worker_sum(&s);
	rc = zw_ctl__printf(fd, "OK n=%d\n", ZW_DROP__COUNT - 1);
	for (i = 1; i < ZW_DROP__COUNT && !rc; i++)
		rc = zw_ctl__printf(fd, "%d %s %" PRIu64 "\n", i,
				    zw_drop_reason__name(i), s.drops[i]);
	return rc;
}

static int reply_ports(int fd)
{
	uint32_t i;
	int rc;

	rc = zw_ctl__printf(fd, "OK n=%u\n", zw_eng.n_ports);
	for (i = 0; i < zw_eng.n_ports && !rc; i++) {
		struct rte_eth_stats es = { 0 };
		char name[RTE_ETH_NAME_MAX_LEN] = "?";
		uint16_t p = zw_eng.ports[i];

		rte_eth_dev_get_name_by_port(p, name);
		rte_eth_stats_get(p, &es);
		rc = zw_ctl__printf(fd,
				    "port=%u name=%s peer=%u ipackets=%" PRIu64
				    " opackets=%" PRIu64 " ibytes=%" PRIu64
				    " obytes=%" PRIu64 " imissed=%" PRIu64
				    " ierrors=%" PRIu64 " oerrors=%" PRIu64
				    " rx_nombuf=%" PRIu64 "\n",
				    p, name, zw_eng.peer[p], es.ipackets,
				    es.opackets, es.ibytes, es.obytes,
				    es.imissed, es.ierrors, es.oerrors,
				    es.rx_nombuf);
	}
	return rc;
}

/* A whole decimal number in [lo, hi], or -EINVAL. */
static int parse_num(const char *s, long long lo, long long hi, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (!*s || *end || errno || *v < lo || *v > hi)
		return -EINVAL;
	return 0;
}

/*
 * Requests are served one client at a time, so reading one is bounded
 * (issue 10 item 11): a request line must be whole CTL_LINE_MS after its
 * first byte, a LOAD image CTL_BODY_MS (plus 1 ms per 16 KiB) after its
 * line; and a client silent for CTL_STALL_MS in the middle of a request
 * while another client waits is cut at once. A client that sends a byte
 * every few seconds therefore holds the others for at most CTL_STALL_MS
 * (CTL_LINE_MS if it never pauses that long). zonewalld writes each
 * request in one go and is never cut.
 */
#define CTL_LINE_MS 2000
#define CTL_BODY_MS 2000
#define CTL_STALL_MS 500

static int64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until client @c has something to read: 0, or -ETIMEDOUT past
 * @deadline, at shutdown, or when @c has been silent since @last for
 * CTL_STALL_MS while another client waits to be accepted. */
static int ctl_wait(int c, int64_t deadline, int64_t last)
{
	bool other = false;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c, .events = POLLIN },
			{ .fd = ctl_fd, .events = POLLIN },
		};
		int64_t now = ctl_now_ms(), until = deadline;
		int r;

		if (other && last + CTL_STALL_MS < until)
			until = last + CTL_STALL_MS;
		if (now >= until || !ctl_run || zw_eng.quit)
			return -ETIMEDOUT;
		drain_events();
		/* once another client is known to wait, watch only @c (the
		 * listener would stay readable) */
		r = poll(p, other ? 1 : 2, (int)(until - now < DRAIN_MS
							 ? until - now
							 : DRAIN_MS));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (p[0].revents)
			return 0;
		other = true;
	}
}

/* Receive up to @len bytes from client @c before @deadline (and while it
 * is not silent too long with others waiting: ctl_wait): the count, or
 * -errno (-ETIMEDOUT: not in time, -EPIPE: closed). @last: the time of the
 * client's last byte, updated. */
static ssize_t ctl_recv(int c, void *buf, size_t len, int64_t deadline,
			int64_t *last)
{
	for (;;) {
		ssize_t r = recv(c, buf, len, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = ctl_wait(c, deadline, *last);

			if (rc)
				return rc;
			continue;
		}
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		*last = ctl_now_ms();
		return r;
	}
}

/* One request line of client @c into @buf (no '\n', no '\r'), read a byte
 * at a time so that a LOAD's image is never read as part of it: its
 * length, or -errno. */
static int ctl_read_line(int c, char *buf, size_t len)
{
	int64_t last = ctl_now_ms(), deadline = last + CTL_LINE_MS;
	size_t n = 0;

	for (;;) {
		char ch;
		ssize_t r = ctl_recv(c, &ch, 1, deadline, &last);

		if (r < 0)
			return (int)r;
		if (ch == '\n')
			break;
		if (n + 1 >= len)
			return -EMSGSIZE;
		buf[n++] = ch;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = 0;
	return (int)n;
}

/* The @len bytes of a LOAD/PREPARE image, within its deadline. */
static int ctl_read_body(int c, uint8_t *buf, size_t len)
{
	int64_t last = ctl_now_ms();
	int64_t deadline = last + CTL_BODY_MS + (int64_t)(len >> 14);

	while (len) {
		ssize_t r = ctl_recv(c, buf, len, deadline, &last);

		if (r < 0)
			return (int)r;
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/* The image bytes follow the request line: a LOAD refused before reading
 * them closes the connection (they must never be read as requests). */
static int refuse_load(int fd, int e, const char *why)
{
	zw_ctl__printf(fd, "ERR %d %s\n", e, why);
	return -e;
}

/* LOAD DAY SIZE + image: prepare and commit. PREPARE DAY SIZE + image:
 * build the context and keep it (nothing changes for packets). */
static int handle_load(int fd, char **w, int n)
{
	bool prepare_only = !strcmp(w[0], "PREPARE");
	char err[512] = "";
	long long day, size;
	uint8_t *buf;
	int rc;

	if (n < 3 || (!prepare_only && n != 3))
		return refuse_load(fd, EINVAL, prepare_only
					       ? "usage: PREPARE DAY SIZE "
						 "[log_all=0|1] [active_timeout=S]"
					       : "usage: LOAD DAY SIZE");
	if (parse_num(w[1], INT32_MIN + 1, INT32_MAX, &day))
		return refuse_load(fd, EINVAL,
				   "bad day (days since 1970-01-01, UTC)");
	if (parse_num(w[2], 1, ZW_CTL_IMAGE_MAX, &size))
		return refuse_load(fd, EINVAL, "bad image size");
	/* protocol 3: the record settings travel with PREPARE (they apply
	 * to the contexts built from then on) */
	{
		struct zw_record_conf rec = zw_eng.rec;
		long long v;
		int i;

		for (i = 3; i < n; i++) {
			if (!strncmp(w[i], "log_all=", 8) &&
			    !parse_num(w[i] + 8, 0, 1, &v))
				rec.log_all = v != 0;
			else if (!strncmp(w[i], "active_timeout=", 15) &&
				 !parse_num(w[i] + 15, 0, 86400 * 365, &v))
				rec.active_timeout_s = (uint32_t)v;
			else
				return refuse_load(fd, EINVAL,
						   "bad PREPARE option (log_all=0|1, "
						   "active_timeout=S)");
		}
		zw_eng.rec = rec;
	}
	buf = malloc((size_t)size);
	if (!buf)
		return refuse_load(fd, ENOMEM, "out of memory");
	rc = ctl_read_body(fd, buf, (size_t)size);
	if (rc) {
		free(buf);
		return rc;
	}
	if (prepare_only) {
		char sha[65];

		rc = zw_engine__prepare(buf, (size_t)size, (int32_t)day, sha,
					err, sizeof(err));
		free(buf);
		if (rc)
			return zw_ctl__printf(fd, "ERR %d %s\n", -rc, err);
		return zw_ctl__printf(fd, "OK prepared sha256=%s\n", sha);
	}
	rc = zw_engine__load(buf, (size_t)size, (int32_t)day, err, sizeof(err));
	free(buf);
	if (rc)
		return zw_ctl__printf(fd, "ERR %d %s\n", -rc, err);
	return zw_ctl__printf(fd, "OK generation=%u sha256=%s\n",
			      zw_eng.generation, zw_eng.ctx->img->sha256_hex);
}

static int handle_commit(int fd, char **w, int n)
{
	char err[256] = "";
	int rc;

	if (n != 2)
		return zw_ctl__printf(fd, "ERR %d usage: COMMIT SHA256\n", EINVAL);
	rc = zw_engine__commit(w[1], err, sizeof(err));
	if (rc)
		return zw_ctl__printf(fd, "ERR %d %s\n", -rc, err);
	return zw_ctl__printf(fd, "OK generation=%u sha256=%s\n",
			      zw_eng.generation, zw_eng.ctx->img->sha256_hex);
}

/* One request; returns 0 to go on, <0 to close the connection. */
static int handle(int fd, char *line)
{
	char *w[8];
	int n = zw_ctl__split(line, w, 8);

	if (!n)
		return 0;
	if (!strcmp(w[0], "HELLO"))
		return zw_ctl__printf(fd, "OK zonewall-dpdk proto=%d pid=%d\n",
				      ZW_CTL_PROTO_VERSION, (int)getpid());
	if (!strcmp(w[0], "LOAD") || !strcmp(w[0], "PREPARE"))
		return handle_load(fd, w, n);
	if (!strcmp(w[0], "COMMIT"))
		return handle_commit(fd, w, n);
	if (!strcmp(w[0], "ABORT")) {
		zw_engine__abort();
		return zw_ctl__printf(fd, "OK\n");
	}
	if (!strcmp(w[0], "STATUS"))
		return reply_status(fd);
	if (!strcmp(w[0], "COUNTERS"))
		return reply_counters(fd);
	if (!strcmp(w[0], "DROPS"))
		return reply_drops(fd);
	if (!strcmp(w[0], "PORTS"))
		return reply_ports(fd);
	if (!strcmp(w[0], "RECORDS"))
		return reply_records(fd, w, n);
	if (!strcmp(w[0], "EVENTS"))
		return reply_events(fd, n > 1 ? strtol(w[1], NULL, 10) : 0);
	if (!strcmp(w[0], "IMAGE")) {
		const struct zw_image *img = zw_eng.ctx ? zw_eng.ctx->img : NULL;
		int rc;

		if (!img)
			return zw_ctl__printf(fd, "ERR %d no policy loaded\n",
					      ENOENT);
		rc = zw_ctl__printf(fd, "OK size=%zu\n", img->size);

		return rc ? rc : zw_ctl__write_full(fd, img->bytes, img->size);
	}
	if (!strcmp(w[0], "UNLOAD")) {
		zw_engine__unload();
		return zw_ctl__printf(fd, "OK generation=%u enforcing=0\n",
				      zw_eng.generation);
	}
	if (!strcmp(w[0], "SHUTDOWN")) {
		zw_eng.quit = 1;
		return zw_ctl__printf(fd, "OK stopping\n");
	}
	return zw_ctl__printf(fd, "ERR %d unknown request '%.40s'\n", EINVAL,
			      w[0]);
}

/* Wait for client @c's next request: true when it has sent something
 * (or closed), false after 10 s of silence, at shutdown, or at once when
 * another client is waiting while this one is idle (one client at a time:
 * an idle session must not hold zonewalld's requests). */
static bool next_request(int c)
{
	struct pollfd p[2] = {
		{ .fd = c, .events = POLLIN },
		{ .fd = ctl_fd, .events = POLLIN },
	};
	int waited;

	for (waited = 0; waited < 10000 && ctl_run && !zw_eng.quit;) {
		int r;

		drain_events();
		r = poll(p, 2, DRAIN_MS);
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0)
			return p[0].revents != 0;
		waited += r == 0 ? DRAIN_MS : 0;
	}
	return false;
}

static void *ctl_main(void *arg)
{
	(void)arg;
	while (ctl_run && !zw_eng.quit) {
		struct pollfd pfd = { .fd = ctl_fd, .events = POLLIN };
		char line[ZW_CTL_LINE_MAX];
		struct timeval tv = { .tv_sec = 10 };
		int c;

		drain_events();
		if (poll(&pfd, 1, DRAIN_MS) <= 0)
			continue;
		c = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		/* A stuck client must not hold the control thread forever. */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		while (!zw_eng.quit && next_request(c) &&
		       ctl_read_line(c, line, sizeof(line)) >= 0)
			if (handle(c, line) < 0)
				break;
		close(c);
	}
	return NULL;
}

int zw_ctl_server__start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	strcpy(ctl_path, path);
	/* Replace only a stale socket: never a file of another kind (a
	 * mistyped --control must not delete it), nor a socket another
	 * process still listens on. */
	{
		struct stat sb;
		int c;

		if (lstat(path, &sb) == 0) {
			if (!S_ISSOCK(sb.st_mode)) {
				errno = EEXIST;
				return -1;
			}
			c = zw_ctl__connect(path, 1000);
			if (c >= 0) {
				close(c);
				errno = EADDRINUSE;
				return -1;
			}
			unlink(path);
		}
	}
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0)
		return -1;
	if (bind(ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0660) || listen(ctl_fd, 8)) {
		int e = errno;

		close(ctl_fd);
		ctl_fd = -1;
		errno = e;
		return -1;
	}
	ctl_run = 1;
	if (rte_ctrl_thread_create(&ctl_thread, "zw-ctl", NULL, ctl_main,
				   NULL)) {
		ctl_run = 0;
		close(ctl_fd);
		ctl_fd = -1;
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

void zw_ctl_server__stop(void)
{
	if (ctl_fd < 0)
		return;
	ctl_run = 0;
	pthread_join(ctl_thread, NULL);
	close(ctl_fd);
	unlink(ctl_path);
	ctl_fd = -1;
}
