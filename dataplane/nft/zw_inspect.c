// SPDX-License-Identifier: BSD-2-Clause
/*
 * zw-inspect: the L7 inspector of the nftables engine (docs/l7.md).
 *
 * The engine's ruleset sends every packet of a connection that needs
 * inspection to NFQUEUE N (no bypass: without this process the packets
 * are dropped) until the connection's ct mark says judged. For each
 * connection this process finds, in the image the engine enforces (written
 * at each commit to the path of the engine's inspect_image= option), the
 * protocol its service must carry and the file types a crisis block-file
 * measure blocks on its zone pair, feeds the payloads in stream order to
 * libzwl7, and then:
 *   - judged good: sets the PASS bits of the ct mark (the ruleset accepts
 *     the connection's packets from then on without queueing them), accepts;
 *   - not the protocol, or a blocked file type: sets the CUT bits (the
 *     ruleset drops every later packet, counted per flow), drops the packet,
 *     prints a denied record (reason l7-mismatch or file-type) and, with
 *     --records PATH, sends it as a struct zw_flow_record datagram to that
 *     socket (zonewalld's record pump binds it: the verdict then reaches
 *     zonectl flows and the IPFIX/NSEL exporters like an engine's
 *     records, with the protocol or file type seen);
 *   - not judged yet: accepts.
 * TCP segments out of order are dropped while a connection is inspected
 * (the sender sends them again): bytes are judged in stream order.
 *
 * Usage: zw-inspect --queue N --image PATH [--records SOCKET] [--stats FILE]
 *                   [--verbose]
 * Run it in the network namespace of the engine (ip netns exec NS ...).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include <zonewall/eval.h>
#include <zonewall/flow_record.h>
#include <zonewall/l7.h>
#include <zonewall/policy.h>

#define BUCKETS 4096u
#define IDLE_S 300

struct key {
	uint8_t family, proto;
	uint16_t cport, sport; /* client and server ports, host order */
	uint8_t caddr[16], saddr[16];
};

struct conn {
	struct key k;
	struct conn *next;
	struct zw_l7_conn *l7;
	uint32_t flow;
	uint16_t src_zone, dst_zone; /* as the image judged the connection */
	uint32_t seq[2]; /* next expected TCP sequence per direction */
	bool seq_known[2];
	time_t last;
	/* judged: the ct mark bits to set (PASS or CUT), and whether the
	 * kernel has them (the first packet's conntrack entry is not
	 * confirmed yet while it is queued: set again at the next packet) */
	uint32_t final_mark;
	bool mark_set;
};

struct flow_stats {
	uint64_t judged, mismatch, file;
};

static struct {
	uint16_t queue;
	const char *image_path;
	const char *stats_path;
	const char *records_path;
	int rec_fd;		/* -1 without --records */
	uint64_t rec_sent, rec_lost;
	bool verbose;
	struct zw_image *img;
	struct stat img_st;
	time_t img_checked;
	struct zw_l7_db *db;
	struct conn *tab[BUCKETS];
	struct nfct_handle *ct;
	struct flow_stats *fs; /* [img->n_flows] */
	uint64_t unknown_cut;
	volatile sig_atomic_t stop;
} g;

static void on_signal(int sig)
{
	(void)sig;
	g.stop = 1;
}

static void load_image(void)
{
	struct stat st;
	char err[256];
	struct zw_image *img;

	if (stat(g.image_path, &st))
		return;
	if (g.img && st.st_ino == g.img_st.st_ino &&
	    st.st_mtime == g.img_st.st_mtime && st.st_size == g.img_st.st_size)
		return;
	img = zw_image__load(g.image_path, err, sizeof(err));
	if (!img) {
		fprintf(stderr, "zw-inspect: %s: %s (keeping the image in use)\n",
			g.image_path, err);
		return;
	}
	zw_image__free(g.img);
	g.img = img;
	g.img_st = st;
	free(g.fs);
	g.fs = calloc(img->n_flows + 1, sizeof(*g.fs));
	fprintf(stderr, "zw-inspect: image %s (%u flows, %u block-file measures)\n",
		img->sha256_hex, img->n_flows, img->n_fileblock);
}

static void write_stats(void)
{
	char tmp[4096];
	FILE *f;

	if (!g.stats_path || !g.img)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", g.stats_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "{\"image\": \"%s\", \"unknown_cut\": %llu, "
		   "\"records_sent\": %llu, \"records_lost\": %llu, \"flows\": {",
		g.img->sha256_hex, (unsigned long long)g.unknown_cut,
		(unsigned long long)g.rec_sent, (unsigned long long)g.rec_lost);
	for (uint32_t i = 0, n = 0; i < g.img->n_flows; i++) {
		if (!g.fs[i].judged && !g.fs[i].mismatch && !g.fs[i].file)
			continue;
		fprintf(f, "%s\"%s\": {\"judged\": %llu, \"l7_mismatch\": %llu, "
			   "\"file_type\": %llu}",
			n++ ? ", " : "", zw_image__str(g.img, g.img->flows[i].id),
			(unsigned long long)g.fs[i].judged,
			(unsigned long long)g.fs[i].mismatch,
			(unsigned long long)g.fs[i].file);
	}
	fprintf(f, "}}\n");
	fclose(f);
	rename(tmp, g.stats_path);
}

/* ---- connections ---- */

static uint32_t hash_key(const struct key *k)
{
	return (uint32_t)(zw_fnv1a64(k, sizeof(*k)) % BUCKETS);
}

/* The connection of a packet from (a, ap) to (b, bp), and its direction. */
static struct conn *find(uint8_t fam, uint8_t proto, const uint8_t *a,
			 uint16_t ap, const uint8_t *b, uint16_t bp, int *dir)
{
	struct key k = {.family = fam, .proto = proto};

	for (int d = 0; d < 2; d++) {
		memset(&k, 0, sizeof(k));
		k.family = fam;
		k.proto = proto;
		memcpy(k.caddr, d ? b : a, 16);
		memcpy(k.saddr, d ? a : b, 16);
		k.cport = d ? bp : ap;
		k.sport = d ? ap : bp;
		for (struct conn *c = g.tab[hash_key(&k)]; c; c = c->next)
			if (!memcmp(&c->k, &k, sizeof(k))) {
				*dir = d;
				return c;
			}
	}
	return NULL;
}

static void drop_conn(struct conn *x)
{
	struct conn **pp = &g.tab[hash_key(&x->k)];

	while (*pp && *pp != x)
		pp = &(*pp)->next;
	if (*pp)
		*pp = x->next;
	zw_l7_conn__free(x->l7);
	free(x);
}

static void sweep(time_t now)
{
	static time_t last;

	if (now - last < 10)
		return;
	last = now;
	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct conn *c = g.tab[b], *n; c; c = n) {
			n = c->next;
			if (now - c->last > IDLE_S)
				drop_conn(c);
		}
}

/* ---- the ct mark ---- */

struct mark_get {
	uint32_t mark;
	bool ok;
};

static int got_ct(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
		  void *data)
{
	struct mark_get *m = data;

	(void)type;
	m->mark = nfct_get_attr_u32(ct, ATTR_MARK);
	m->ok = true;
	return NFCT_CB_STOP;
}

/* Set the judged bits of the connection's ct mark (the original tuple:
 * client to server), keeping the others. */
static int set_mark(const struct key *k, uint32_t value)
{
	struct nf_conntrack *ct = nfct_new();
	struct mark_get m = {0};
	int r;

	if (!ct)
		return -ENOMEM;
	if (k->family == ZW_AF_INET) {
		nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
		nfct_set_attr(ct, ATTR_IPV4_SRC, k->caddr);
		nfct_set_attr(ct, ATTR_IPV4_DST, k->saddr);
	} else {
		nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET6);
		nfct_set_attr(ct, ATTR_IPV6_SRC, k->caddr);
		nfct_set_attr(ct, ATTR_IPV6_DST, k->saddr);
	}
	nfct_set_attr_u8(ct, ATTR_L4PROTO, k->proto);
	nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(k->cport));
	nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(k->sport));
	nfct_callback_register(g.ct, NFCT_T_ALL, got_ct, &m);
	r = nfct_query(g.ct, NFCT_Q_GET, ct);
	nfct_callback_unregister(g.ct);
	if (r == 0 && m.ok) {
		nfct_set_attr_u32(ct, ATTR_MARK,
				  (m.mark & ~ZW_L7_CTMARK_MASK) | value);
		r = nfct_query(g.ct, NFCT_Q_UPDATE, ct);
	} else if (r == 0) {
		r = -1;
		errno = ENOENT;
	}
	nfct_destroy(ct);
	return r ? -errno : 0;
}

/* ---- packets ---- */

struct pkt {
	uint8_t family, proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq;
	const uint8_t *data;
	size_t len;
};

static bool parse(const uint8_t *p, size_t n, struct pkt *k)
{
	size_t off, l4len;

	memset(k, 0, sizeof(*k));
	if (n < 1)
		return false;
	if ((p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 15) * 4;

		if (n < 20 || ihl < 20 || n < ihl)
			return false;
		k->family = ZW_AF_INET;
		k->proto = p[9];
		memcpy(k->src, p + 12, 4);
		memcpy(k->dst, p + 16, 4);
		off = ihl;
		l4len = ((size_t)p[2] << 8 | p[3]);
		l4len = l4len > n ? n - off : l4len - off;
	} else if ((p[0] >> 4) == 6) {
		if (n < 40)
			return false;
		k->family = ZW_AF_INET6;
		k->proto = p[6]; /* conntrack gave us no extension header
				  * we would need to skip for TCP/UDP */
		memcpy(k->src, p + 8, 16);
		memcpy(k->dst, p + 24, 16);
		off = 40;
		l4len = n - off;
	} else {
		return false;
	}
	p += off;
	if (k->proto == 6) {
		size_t doff;

		if (l4len < 20)
			return false;
		doff = (size_t)(p[12] >> 4) * 4;
		if (doff < 20 || doff > l4len)
			return false;
		k->sport = (uint16_t)(p[0] << 8 | p[1]);
		k->dport = (uint16_t)(p[2] << 8 | p[3]);
		k->seq = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
			 (uint32_t)p[6] << 8 | p[7];
		k->tcp_flags = p[13];
		k->data = p + doff;
		k->len = l4len - doff;
	} else if (k->proto == 17) {
		if (l4len < 8)
			return false;
		k->sport = (uint16_t)(p[0] << 8 | p[1]);
		k->dport = (uint16_t)(p[2] << 8 | p[3]);
		k->data = p + 8;
		k->len = l4len - 8;
	} else {
		k->data = NULL;
		k->len = 0;
	}
	return true;
}

static const char *addr_str(uint8_t fam, const uint8_t *a, char *buf)
{
	return inet_ntop(fam == ZW_AF_INET ? AF_INET : AF_INET6, a, buf,
			 INET6_ADDRSTRLEN);
}

/* The record of a cut connection, one line (docs/l7.md). */
/* The cut as a flow record, one datagram to --records (never blocking: a
 * daemon that is not there, or behind, loses it, counted). */
static void send_record(const struct conn *c, unsigned reason)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct zw_flow_record r;
	struct timespec ts;

	if (g.rec_fd < 0)
		return;
	memset(&r, 0, sizeof(r));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r.ts_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r.packets = 1;
	r.flow = c->flow < g.img->n_flows ? c->flow : ZW_NO_FLOW;
	r.src_zone = c->src_zone;
	r.dst_zone = c->dst_zone;
	r.sport = c->k.cport;
	r.dport = c->k.sport;
	r.family = c->k.family;
	r.proto = c->k.proto;
	r.event = ZW_EV_DROP;
	r.reason = (uint8_t)reason;
	r.engine = 4; /* the L7 inspector */
	r.l7_seen = zw_l7_conn__seen_code(c->l7);
	memcpy(r.src, c->k.caddr, 16);
	memcpy(r.dst, c->k.saddr, 16);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", g.records_path);
	if (sendto(g.rec_fd, &r, sizeof(r), MSG_DONTWAIT | MSG_NOSIGNAL,
		   (struct sockaddr *)&a, sizeof(a)) == (ssize_t)sizeof(r))
		g.rec_sent++;
	else
		g.rec_lost++;
}

static void record(const struct conn *c, unsigned reason)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int seen = zw_l7_conn__seen(c->l7), ft = zw_l7_conn__ftype(c->l7);

	printf("zw-inspect: event=drop reason=%s flow=%s proto=%u src=%s "
	       "sport=%u dst=%s dport=%u seen=%s file=%s\n",
	       zw_drop_reason__name(reason),
	       c->flow < g.img->n_flows
		       ? zw_image__str(g.img, g.img->flows[c->flow].id)
		       : "-",
	       c->k.proto, addr_str(c->k.family, c->k.caddr, a), c->k.cport,
	       addr_str(c->k.family, c->k.saddr, b), c->k.sport,
	       seen >= 0 ? zw_l7_proto__name(seen) : "-",
	       ft >= 0 ? zw_l7_ftype__name((unsigned)ft) : "-");
	fflush(stdout);
	send_record(c, reason);
}

/* A new connection from the packet's source: what to check on it. NULL
 * (and *pass) when nothing needs checking. */
static struct conn *new_conn(const struct pkt *k, bool *pass)
{
	struct zw_query q = {.family = k->family, .proto = k->proto,
			     .port = k->dport, .day = zw_date__today()};
	struct zw_verdict v;
	int proto = -1;
	uint32_t ft = 0;
	struct conn *c;

	*pass = false;
	memcpy(q.src, k->src, 16);
	memcpy(q.dst, k->dst, 16);
	zw_eval__image(g.img, &q, &v);
	if (v.allow && v.reason == ZW_VERDICT_FLOW)
		proto = zw_l7__service_proto(g.img, v.service);
	if (v.allow && k->proto == 6)
		ft = zw_l7__blocked_types(g.img, v.src_zone, v.dst_zone);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (proto < 0 && !ft) {
		/* the ruleset decides L3/L4; nothing L7 to check here */
		*pass = true;
		c->final_mark = ZW_L7_CTMARK_PASS;
		if (v.flow < g.img->n_flows)
			g.fs[v.flow].judged++;
	}
	c->k.family = k->family;
	c->k.proto = k->proto;
	memcpy(c->k.caddr, k->src, 16);
	memcpy(c->k.saddr, k->dst, 16);
	c->k.cport = k->sport;
	c->k.sport = k->dport;
	c->flow = v.flow;
	c->src_zone = (uint16_t)v.src_zone;
	c->dst_zone = (uint16_t)v.dst_zone;
	if (!*pass) {
		c->l7 = zw_l7_conn__new(g.db, proto, k->proto, ft);
		if (!c->l7) {
			free(c);
			return NULL;
		}
	}
	{
		uint32_t h = hash_key(&c->k);

		c->next = g.tab[h];
		g.tab[h] = c;
	}
	return c;
}

/* NF_ACCEPT or NF_DROP for one queued packet. */
static int judge(const uint8_t *p, size_t n)
{
	struct pkt k;
	struct conn *c;
	int dir = 0;
	enum zw_l7_verdict v;
	const uint8_t *data;
	size_t len;
	time_t now = time(NULL);

	if (now != g.img_checked) {
		g.img_checked = now;
		load_image();
		sweep(now);
	}
	if (!g.img || !parse(p, n, &k))
		return NF_DROP; /* fail closed */
	if (k.proto != 6 && k.proto != 17)
		return NF_ACCEPT; /* ICMP errors of a queued connection */
	c = find(k.family, k.proto, k.src, k.sport, k.dst, k.dport, &dir);
	if (!c) {
		bool pass;
		struct key key = {.family = k.family, .proto = k.proto,
				  .cport = k.sport, .sport = k.dport};

		memcpy(key.caddr, k.src, 16);
		memcpy(key.saddr, k.dst, 16);
		if (k.proto == 6 && !((k.tcp_flags & 0x12) == 0x02)) {
			/* mid-stream: its start was not seen (zw-inspect
			 * restarted); fail closed */
			g.unknown_cut++;
			set_mark(&key, ZW_L7_CTMARK_CUT);
			write_stats();
			return NF_DROP;
		}
		load_image(); /* a new connection: the image in force now */
		c = new_conn(&k, &pass);
		if (!c)
			return NF_DROP;
		if (pass)
			write_stats();
		dir = 0;
	}
	c->last = now;
	if (c->final_mark) {
		if (!c->mark_set)
			c->mark_set = !set_mark(&c->k, c->final_mark);
		return c->final_mark == ZW_L7_CTMARK_CUT ? NF_DROP : NF_ACCEPT;
	}
	data = k.data;
	len = k.len;
	if (k.proto == 6) {
		uint32_t next;

		if (k.tcp_flags & 0x02) { /* SYN, SYN-ACK */
			/* data on a SYN (TCP Fast Open) would reach the server
			 * unread: refused, as the DPDK engine does; a Fast
			 * Open client sends its SYN again without data */
			if (len)
				return NF_DROP;
			c->seq[dir] = k.seq + 1;
			c->seq_known[dir] = true;
			return NF_ACCEPT;
		}
		if (!c->seq_known[dir]) {
			if (len)
				return NF_DROP; /* data before its SYN-ACK */
			return NF_ACCEPT;
		}
		next = c->seq[dir];
		if (len) {
			int32_t d = (int32_t)(k.seq - next);

			if (d > 0)
				return NF_DROP; /* a hole: sent again later */
			if ((uint32_t)(-d) >= len)
				return NF_ACCEPT; /* retransmitted, seen */
			data += -d;
			len -= (size_t)-d;
			c->seq[dir] = next + (uint32_t)len;
		}
		if (k.tcp_flags & 0x05) { /* FIN, RST */
			if (!len)
				return NF_ACCEPT;
		}
	}
	v = zw_l7_conn__feed(c->l7, dir ? ZW_L7_S2C : ZW_L7_C2S, data, len);
	if (v == ZW_L7_MISMATCH || v == ZW_L7_FILE) {
		unsigned reason = v == ZW_L7_FILE ? ZW_DROP_FILE_TYPE
						  : ZW_DROP_L7_MISMATCH;

		c->final_mark = ZW_L7_CTMARK_CUT;
		c->mark_set = !set_mark(&c->k, c->final_mark);
		if (c->flow < g.img->n_flows) {
			if (v == ZW_L7_FILE)
				g.fs[c->flow].file++;
			else
				g.fs[c->flow].mismatch++;
		}
		record(c, reason);
		write_stats();
		zw_l7_conn__free(c->l7);
		c->l7 = NULL;
		return NF_DROP;
	}
	if (zw_l7_conn__done(c->l7)) {
		c->final_mark = ZW_L7_CTMARK_PASS;
		c->mark_set = !set_mark(&c->k, c->final_mark);
		if (c->flow < g.img->n_flows)
			g.fs[c->flow].judged++;
		if (g.verbose)
			fprintf(stderr, "zw-inspect: judged %s\n",
				zw_l7_proto__name(zw_l7_conn__seen(c->l7)));
		write_stats();
		zw_l7_conn__free(c->l7);
		c->l7 = NULL;
	}
	return NF_ACCEPT;
}

/* ---- NFQUEUE ---- */

static struct mnl_socket *nl;
static char *buf;
static size_t buf_len;

static int verdict(uint32_t id, int v)
{
	char out[8192];
	struct nlmsghdr *nlh = nfq_nlmsg_put(out, NFQNL_MSG_VERDICT, g.queue);

	nfq_nlmsg_verdict_put(nlh, (int)id, v);
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

static int on_packet(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	struct nfqnl_msg_packet_hdr *ph;
	const uint8_t *p = NULL;
	size_t n = 0;

	(void)data;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	if (attr[NFQA_PAYLOAD]) {
		p = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		n = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	verdict(ntohl(ph->packet_id), p ? judge(p, n) : NF_DROP);
	return MNL_CB_OK;
}

static int config(uint8_t cmd)
{
	char out[8192];
	struct nlmsghdr *nlh = nfq_nlmsg_put(out, NFQNL_MSG_CONFIG, g.queue);

	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, cmd);
	if (cmd == NFQNL_CFG_CMD_BIND)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	if (cmd != NFQNL_CFG_CMD_BIND)
		return 0;
	{
		/* the queue may be another process's: say so, do not wait */
		char ack[8192];
		ssize_t r = mnl_socket_recvfrom(nl, ack, sizeof(ack));

		if (r < 0 || mnl_cb_run(ack, (size_t)r, 0,
					mnl_socket_get_portid(nl), NULL,
					NULL) < 0)
			return -errno;
	}
	nlh = nfq_nlmsg_put(out, NFQNL_MSG_CONFIG, g.queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zw-inspect --queue N --image PATH [--records SOCKET]\n"
		"                  [--stats FILE] [--verbose]\n"
		"The L7 inspector of the kernel engines (docs/l7.md): judges the\n"
		"connections an engine queues to NFQUEUE N (its option queue=N)\n"
		"against the image it enforces (its option inspect_image=PATH).\n"
		"--records: send each cut as a flow record (one datagram) to the\n"
		"socket zonewalld binds (STATE/inspector.rec); zonewalld passes it.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"queue", required_argument, NULL, 'q'},
		{"image", required_argument, NULL, 'i'},
		{"stats", required_argument, NULL, 's'},
		{"records", required_argument, NULL, 'r'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	int c, ret = 0;
	bool have_queue = false;

	g.rec_fd = -1;
	while ((c = getopt_long(argc, argv, "q:i:s:r:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'q': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 0 || v > 65535) {
				fprintf(stderr, "zw-inspect: --queue 0..65535\n");
				return 2;
			}
			g.queue = (uint16_t)v;
			have_queue = true;
			break;
		}
		case 'i': g.image_path = optarg; break;
		case 's': g.stats_path = optarg; break;
		case 'r':
			if (strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				fprintf(stderr, "zw-inspect: --records: path too long\n");
				return 2;
			}
			g.records_path = optarg;
			break;
		case 'v': g.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!have_queue || !g.image_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (g.records_path) {
		g.rec_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (g.rec_fd < 0) {
			fprintf(stderr, "zw-inspect: --records: %s\n",
				strerror(errno));
			return 1;
		}
	}
	g.db = zw_l7_db__new(err, sizeof(err));
	if (!g.db) {
		fprintf(stderr, "zw-inspect: %s\n", err);
		return 1;
	}
	load_image();
	if (!g.img)
		fprintf(stderr, "zw-inspect: no image at %s yet: queued packets "
				"are dropped until there is one\n",
			g.image_path);
	g.ct = nfct_open(CONNTRACK, 0);
	if (!g.ct) {
		fprintf(stderr, "zw-inspect: cannot open conntrack: %s\n",
			strerror(errno));
		return 1;
	}
	buf_len = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
	buf = malloc(buf_len);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!buf || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    config(NFQNL_CFG_CMD_BIND) < 0) {
		fprintf(stderr, "zw-inspect: cannot bind NFQUEUE %u: %s\n",
			g.queue, strerror(errno));
		return 1;
	}
	{
		int one = 1;

		mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	}
	{
		struct sigaction sa = {.sa_handler = on_signal};

		sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: recv ends */
		sigaction(SIGINT, &sa, NULL);
	}
	fprintf(stderr, "zw-inspect: listening on NFQUEUE %u\n", g.queue);
	write_stats();
	while (!g.stop) {
		ssize_t r = mnl_socket_recvfrom(nl, buf, buf_len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "zw-inspect: receive: %s\n", strerror(errno));
			ret = 1;
			break;
		}
		if (mnl_cb_run(buf, (size_t)r, 0, mnl_socket_get_portid(nl),
			       on_packet, NULL) < 0 &&
		    errno != EINTR) {
			fprintf(stderr, "zw-inspect: %s\n", strerror(errno));
		}
	}
	config(NFQNL_CFG_CMD_UNBIND);
	mnl_socket_close(nl);
	nfct_close(g.ct);
	for (unsigned b = 0; b < BUCKETS; b++)
		while (g.tab[b])
			drop_conn(g.tab[b]);
	zw_l7_db__free(g.db);
	zw_image__free(g.img);
	free(g.fs);
	free(buf);
	return ret;
}
