// SPDX-License-Identifier: BSD-2-Clause
/*
 * The nftables engine's flow records (docs/telemetry.md), the way ulogd2
 * gets them, without ulogd2:
 *  - created / ended: conntrack's NEW and DESTROY events
 *    (libnetfilter_conntrack parses them), for the connections whose ct
 *    mark carries a flow index (set by the flow chain of a recorded flow,
 *    nft_chains.c: index + 1 in ZWNFT_CTMARK_FLOW_MASK, L7's bits kept);
 *    packets and bytes of both directions from nf_conntrack_acct, start and
 *    end from nf_conntrack_timestamp (both switched on here if they were
 *    off, and put back as they were by zwnft_rec__free());
 *  - update: a dump of the conntrack table every active timeout; every
 *    marked connection older than the timeout gets an update record;
 *  - denied: NFLOG on the engine's log group (libnetfilter_log parses the
 *    messages), the drop rules' prefix ZWNFT_DENY_PREFIX naming the reason.
 * Every socket is non-blocking and each poll reads a bounded number of
 * datagrams; what the kernel dropped because the daemon was behind (the
 * sockets' drop counts; ENOBUFS says it happened) is counted, never
 * hidden. The addresses and ports of
 * a denied packet are read with the dataplane core's IP parsers in their
 * tolerant mode (the one for the quote of an ICMP error: NFLOG copies only
 * the first ZWNFT_NFLOG_COPY bytes, so the lengths of a long packet point
 * past the copy); the L4 fields are read here (four bytes of ports, or the
 * ICMP type, code and identifier).
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter/nfnetlink.h>
#include <linux/sock_diag.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <libnetfilter_log/libnetfilter_log.h>

#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

#include "zw_parse.h"
#include "zwnft.h"

#define REC_BUF 65536	      /* one datagram (a dump's skb is <= 32 KiB) */
#define REC_QUEUE 8192	      /* records parsed but not handed yet */
#define REC_RECV_MAX 64	      /* datagrams per socket and poll */
#define REC_RCVBUF (8u << 20) /* event sockets' receive buffers */
#define REC_RETRY_NS (10ull * 1000000000ull) /* NFLOG bind again after */
#define SYSCTL_DIR "/proc/sys/net/netfilter/"

struct zwnft_rec {
	uint16_t log_group;
	/* the flow map of the image enforced: zones of flow f at 2f, 2f+1 */
	uint16_t *zones;
	uint32_t n_flows;
	uint8_t sha256[32];
	bool have_map;
	/* sockets, opened by the first poll */
	bool opened;
	int open_err;
	struct mnl_socket *ev;	 /* conntrack NEW and DESTROY events */
	struct mnl_socket *dump; /* the conntrack dump of the updates */
	struct mnl_socket *log;	 /* NFLOG group @log_group */
	uint64_t log_retry_ns;
	uint32_t dump_seq;
	bool dumping;
	uint64_t next_dump_ns;
	/* sysctls changed here, to put back: previous value, or -1 */
	int saved_acct, saved_tstamp;
	char *buf;
	struct zw_flow_record *q; /* ring of REC_QUEUE */
	size_t q_head, q_n;
	struct zwnft_rec_stats st;
	/* the poll in progress */
	struct zwnft_rec_ctx cx;
	zwnft_record_fn fn;
	void *ctx;
	size_t max, handed;
	bool stop;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* messages -> records (pure: the unit tests feed them raw messages) */

static void rec_init(struct zw_flow_record *r, const struct zwnft_rec_ctx *c,
		     uint32_t flow)
{
	memset(r, 0, sizeof(*r));
	r->engine = 3;
	r->flags = ZW_REC_F_EXT;
	r->flow = flow;
	if (flow != ZW_NO_FLOW && flow < c->n_flows && c->zones) {
		r->src_zone = c->zones[2 * (size_t)flow];
		r->dst_zone = c->zones[2 * (size_t)flow + 1];
	}
}

static uint64_t real_to_mono(const struct zwnft_rec_ctx *c, uint64_t real)
{
	return (uint64_t)((int64_t)real + c->real_to_mono_ns);
}

static bool has_ports(uint8_t p)
{
	return p == 6 || p == 17 || p == 132 || p == 33 || p == 136;
}

int zwnft_rec__from_ct(const struct nlmsghdr *nlh,
		       const struct zwnft_rec_ctx *c,
		       struct zw_flow_record *out)
{
	struct nf_conntrack *ct;
	uint8_t type = NFNL_MSG_TYPE(nlh->nlmsg_type), ev;
	uint32_t mark;
	uint64_t start = 0, stop = 0, op, rp, ob, rb;
	int ret = 0;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return 0;
	if (type == IPCTNL_MSG_CT_DELETE)
		ev = ZW_EV_END;
	else if (type == IPCTNL_MSG_CT_NEW)
		ev = nlh->nlmsg_flags & NLM_F_CREATE ? ZW_EV_NEW : ZW_EV_UPDATE;
	else
		return 0;
	ct = nfct_new();
	if (!ct)
		return -ENOMEM;
	if (nfct_nlmsg_parse(nlh, ct) < 0) {
		ret = -EINVAL;
		goto out;
	}
	mark = nfct_attr_is_set(ct, ATTR_MARK) ? nfct_get_attr_u32(ct, ATTR_MARK)
					       : 0;
	if (!(mark & ZWNFT_CTMARK_FLOW_MASK))
		goto out; /* no zonewall flow index: not recorded */
	rec_init(out, c, (mark & ZWNFT_CTMARK_FLOW_MASK) - 1);
	out->event = ev;
	if (!nfct_attr_is_set(ct, ATTR_ORIG_L3PROTO) ||
	    !nfct_attr_is_set(ct, ATTR_ORIG_L4PROTO) ||
	    !(nfct_attr_is_set(ct, ATTR_ORIG_IPV4_SRC) ||
	      nfct_attr_is_set(ct, ATTR_ORIG_IPV6_SRC)) ||
	    !(nfct_attr_is_set(ct, ATTR_ORIG_IPV4_DST) ||
	      nfct_attr_is_set(ct, ATTR_ORIG_IPV6_DST))) {
		memset(out, 0, sizeof(*out));
		ret = -EINVAL; /* no original tuple */
		goto out;
	}
	switch (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO)) {
	case AF_INET:
		if (!nfct_attr_is_set(ct, ATTR_ORIG_IPV4_SRC) ||
		    !nfct_attr_is_set(ct, ATTR_ORIG_IPV4_DST)) {
			ret = -EINVAL;
			goto out;
		}
		out->family = 4;
		memcpy(out->src, nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC), 4);
		memcpy(out->dst, nfct_get_attr(ct, ATTR_ORIG_IPV4_DST), 4);
		break;
	case AF_INET6:
		if (!nfct_attr_is_set(ct, ATTR_ORIG_IPV6_SRC) ||
		    !nfct_attr_is_set(ct, ATTR_ORIG_IPV6_DST)) {
			ret = -EINVAL;
			goto out;
		}
		out->family = 6;
		memcpy(out->src, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), 16);
		memcpy(out->dst, nfct_get_attr(ct, ATTR_ORIG_IPV6_DST), 16);
		break;
	default:
		goto out;
	}
	out->proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (has_ports(out->proto)) {
		out->sport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
		out->dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	} else if (out->proto == 1 || out->proto == 58) {
		out->sport = ntohs(nfct_get_attr_u16(ct, ATTR_ICMP_ID));
		out->dport = (uint16_t)(nfct_get_attr_u8(ct, ATTR_ICMP_TYPE) << 8 |
					nfct_get_attr_u8(ct, ATTR_ICMP_CODE));
	}
	op = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
	rp = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
	ob = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
	rb = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
	out->packets = op + rp;
	out->rev_packets = rp;
	out->bytes = ob + rb;
	out->rev_bytes = rb;
	if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_START))
		start = real_to_mono(c, nfct_get_attr_u64(ct, ATTR_TIMESTAMP_START));
	if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_STOP))
		stop = real_to_mono(c, nfct_get_attr_u64(ct, ATTR_TIMESTAMP_STOP));
	switch (ev) {
	case ZW_EV_NEW:
		out->start_ns = start ? start : c->now_mono_ns;
		out->ts_ns = out->start_ns;
		break;
	case ZW_EV_UPDATE:
		/* a dump lists them all: only those open for an active
		 * timeout (without a start time: every one) */
		if (start && c->now_mono_ns - start <
				     (uint64_t)c->active_timeout_s * 1000000000ull) {
			ret = 0;
			memset(out, 0, sizeof(*out));
			goto out;
		}
		out->start_ns = start;
		out->ts_ns = c->now_mono_ns;
		out->end_reason = ZW_END_ACTIVE;
		break;
	default: /* ZW_EV_END */
		out->start_ns = start;
		out->ts_ns = stop ? stop : c->now_mono_ns;
		/* conntrack says why no more than its TCP state: a closing
		 * or closed TCP connection ended, anything else timed out
		 * (or was deleted by hand) */
		out->end_reason = ZW_END_IDLE;
		if (out->proto == 6 && nfct_attr_is_set(ct, ATTR_TCP_STATE)) {
			uint8_t s = nfct_get_attr_u8(ct, ATTR_TCP_STATE);

			if (s == TCP_CONNTRACK_FIN_WAIT ||
			    s == TCP_CONNTRACK_CLOSE_WAIT ||
			    s == TCP_CONNTRACK_LAST_ACK ||
			    s == TCP_CONNTRACK_TIME_WAIT ||
			    s == TCP_CONNTRACK_CLOSE)
				out->end_reason = ZW_END_CLOSED;
		}
		break;
	}
	ret = 1;
out:
	nfct_destroy(ct);
	return ret;
}

static int reason_of(const char *name, size_t len)
{
	for (unsigned r = 1; r < ZW_DROP__COUNT; r++) {
		const char *n = zw_drop_reason__name(r);

		if (strlen(n) == len && !strncmp(n, name, len))
			return (int)r;
	}
	return -1;
}

/* The L4 fields of a denied packet: ports, or ICMP identifier (queries)
 * and type << 8 | code, as the other engines' records carry them. */
static void l4_fields(const uint8_t *data, const uint8_t *end,
		      const struct zw_l3 *l3, struct zw_flow_record *out)
{
	const uint8_t *p = data + l3->l4_off;
	bool icmp = (out->family == 4 && out->proto == 1) ||
		    (out->family == 6 && out->proto == 58);

	if (l3->later)
		return;
	if (has_ports(out->proto) && p + 4 <= end) {
		out->sport = (uint16_t)(p[0] << 8 | p[1]);
		out->dport = (uint16_t)(p[2] << 8 | p[3]);
	} else if (icmp && p + 2 <= end) {
		bool query = out->family == 4 ? zw_icmp4_is_query(p[0])
					      : zw_icmp6_is_query(p[0]);

		out->dport = (uint16_t)(p[0] << 8 | p[1]);
		if (query && p + 6 <= end)
			out->sport = (uint16_t)(p[4] << 8 | p[5]);
	}
}

int zwnft_rec__from_nflog(const struct nlmsghdr *nlh,
			  const struct zwnft_rec_ctx *c,
			  struct zw_flow_record *out)
{
	struct nlattr *a[NFULA_MAX + 1] = {0};
	const char *prefix, *name, *sp;
	const size_t plen = strlen(ZWNFT_DENY_PREFIX);
	const uint8_t *data, *end;
	uint32_t flow = ZW_NO_FLOW;
	struct zw_l3 l3 = {0};
	struct zw_tuple t = {0};
	uint16_t len;
	int reason, r;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return 0;
	if (nflog_nlmsg_parse(nlh, a) < 0)
		return -EINVAL;
	/* the prefix: ours, a denial (the accept log of a log: true flow,
	 * "zonewall ID ", is not a record: conntrack gives those) */
	if (!a[NFULA_PREFIX] || mnl_attr_validate(a[NFULA_PREFIX], MNL_TYPE_STRING))
		return 0;
	prefix = mnl_attr_get_str(a[NFULA_PREFIX]);
	if (strncmp(prefix, ZWNFT_DENY_PREFIX, plen))
		return 0;
	name = prefix + plen;
	sp = strchr(name, ' ');
	if (!sp || (reason = reason_of(name, (size_t)(sp - name))) < 0)
		return -EINVAL;
	if (sp[1] == '#') {
		char *e;
		unsigned long f = strtoul(sp + 2, &e, 10);

		if (e == sp + 2 || *e != ' ' || f >= ZW_NO_FLOW)
			return -EINVAL;
		flow = (uint32_t)f;
	}
	if (!a[NFULA_PAYLOAD])
		return -EINVAL;
	data = mnl_attr_get_payload(a[NFULA_PAYLOAD]);
	len = mnl_attr_get_payload_len(a[NFULA_PAYLOAD]);
	end = data + len;
	if (len < 1)
		return -EINVAL;
	/* quote mode: tolerate lengths that point past the copy */
	if (data[0] >> 4 == 4)
		r = zw_parse_ip4(data, end, len, 0, &t, &l3, 1);
	else if (data[0] >> 4 == 6)
		r = zw_parse_ip6(data, end, len, 0, &t, &l3, 1);
	else
		return -EINVAL;
	if (r)
		return -EINVAL;
	rec_init(out, c, flow);
	out->event = ZW_EV_DROP;
	out->reason = (uint8_t)reason;
	out->family = t.family;
	out->proto = l3.proto;
	memcpy(out->src, t.src, 16);
	memcpy(out->dst, t.dst, 16);
	l4_fields(data, end, &l3, out);
	out->packets = 1;
	out->bytes = l3.l3_len;
	if (a[NFULA_IFINDEX_INDEV])
		out->ifindex = ntohl(mnl_attr_get_u32(a[NFULA_IFINDEX_INDEV]));
	if (a[NFULA_IFINDEX_OUTDEV])
		out->egress_ifindex =
			ntohl(mnl_attr_get_u32(a[NFULA_IFINDEX_OUTDEV]));
	out->ts_ns = c->now_mono_ns;
	if (a[NFULA_TIMESTAMP] &&
	    mnl_attr_get_payload_len(a[NFULA_TIMESTAMP]) >=
		    sizeof(struct nfulnl_msg_packet_timestamp)) {
		const struct nfulnl_msg_packet_timestamp *ts =
			mnl_attr_get_payload(a[NFULA_TIMESTAMP]);
		uint64_t real = be64toh(ts->sec) * 1000000000ull +
				be64toh(ts->usec) * 1000ull;

		out->ts_ns = real_to_mono(c, real);
	}
	out->start_ns = out->ts_ns;
	return 1;
}

/* ------------------------------------------------------------------ */
/* the engine's record source */

struct zwnft_rec *zwnft_rec__new(uint16_t log_group)
{
	struct zwnft_rec *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->log_group = log_group;
	r->saved_acct = r->saved_tstamp = -1;
	return r;
}

int zwnft_rec__set_image(struct zwnft_rec *r, const struct zw_image *img)
{
	uint16_t *z;

	if (r->have_map && !memcmp(r->sha256, img->sha256, 32))
		return 0;
	z = calloc(img->n_flows ? 2 * (size_t)img->n_flows : 1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	for (uint32_t f = 0; f < img->n_flows; f++) {
		z[2 * (size_t)f] = img->flows[f].from;
		z[2 * (size_t)f + 1] = img->flows[f].to;
	}
	free(r->zones);
	r->zones = z;
	r->n_flows = img->n_flows;
	memcpy(r->sha256, img->sha256, 32);
	r->have_map = true;
	return 0;
}

static int sysctl_get(const char *name)
{
	char path[128];
	int v = -1;
	FILE *f;

	snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
	if (!(f = fopen(path, "re")))
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int sysctl_set(const char *name, int v)
{
	char path[128];
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
	if (!(f = fopen(path, "we")))
		return -errno;
	if (fprintf(f, "%d\n", v) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = -errno;
	return ret;
}

/* Switch @name on if it is off; remember its value to put back. */
static void sysctl_on(const char *name, int *saved)
{
	int v = sysctl_get(name);

	if (v == 0 && sysctl_set(name, 1) == 0)
		*saved = 0;
}

static void big_rcvbuf(struct mnl_socket *s)
{
	int fd = mnl_socket_get_fd(s), n = (int)REC_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &n, sizeof(n)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
}

/* NFLOG: bind the group, copy the first ZWNFT_NFLOG_COPY bytes of each
 * packet, batch up to 32 packets or 0.1 s per message. Synchronous (the
 * kernel's answer is read), then non-blocking. */
static int nflog_config(struct mnl_socket *s, uint16_t group)
{
	char buf[8192];
	uint32_t seq = (uint32_t)time(NULL), portid = mnl_socket_get_portid(s);
	struct nlmsghdr *nlh;
	int ret;

	for (int step = 0; step < 2; step++) {
		nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC,
					     group);
		nlh->nlmsg_flags |= NLM_F_ACK;
		nlh->nlmsg_seq = ++seq;
		if (step == 0) {
			nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
		} else {
			nflog_attr_put_cfg_mode(nlh, NFULNL_COPY_PACKET,
						ZWNFT_NFLOG_COPY);
			mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(32));
			mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(10));
		}
		if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0)
			return -errno;
		ret = (int)mnl_socket_recvfrom(s, buf, sizeof(buf));
		if (ret < 0)
			return -errno;
		if (mnl_cb_run(buf, (size_t)ret, seq, portid, NULL, NULL) < 0)
			return -errno;
	}
	return 0;
}

static struct mnl_socket *open_nflog(uint16_t group, int *err)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	int fd;

	if (!s || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	/* the answer to the configuration within a second */
	{
		struct timeval tv = {1, 0};

		setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv,
			   sizeof(tv));
	}
	if ((*err = nflog_config(s, group)) < 0) {
		mnl_socket_close(s);
		return NULL;
	}
	fd = mnl_socket_get_fd(s);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	big_rcvbuf(s);
	return s;
err:
	*err = -(errno ? errno : EIO);
	if (s)
		mnl_socket_close(s);
	return NULL;
}

/* The events of the connections carrying a flow index only: a socket
 * filter (libnetfilter_conntrack's BPF) drops the others in the kernel,
 * before they fill the buffer. Best effort: the parser checks again. */
static void ct_mark_filter(struct mnl_socket *s)
{
	struct nfct_filter *f = nfct_filter_create();
	struct nfct_filter_dump_mark m = {.val = 0,
					  .mask = ZWNFT_CTMARK_FLOW_MASK};

	if (!f)
		return;
	nfct_filter_add_attr(f, NFCT_FILTER_MARK, &m);
	nfct_filter_set_logic(f, NFCT_FILTER_MARK, NFCT_FILTER_LOGIC_NEGATIVE);
	nfct_filter_attach(mnl_socket_get_fd(s), f);
	nfct_filter_destroy(f);
}

static int rec_open(struct zwnft_rec *r)
{
	int err = 0;

	r->opened = true;
	r->buf = malloc(REC_BUF);
	r->q = calloc(REC_QUEUE, sizeof(*r->q));
	if (!r->buf || !r->q)
		return r->open_err = -ENOMEM;
	sysctl_on("nf_conntrack_acct", &r->saved_acct);
	sysctl_on("nf_conntrack_timestamp", &r->saved_tstamp);
	r->ev = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!r->ev || mnl_socket_bind(r->ev, NF_NETLINK_CONNTRACK_NEW |
						     NF_NETLINK_CONNTRACK_DESTROY,
				      MNL_SOCKET_AUTOPID) < 0)
		return r->open_err = -(errno ? errno : EIO);
	big_rcvbuf(r->ev);
	ct_mark_filter(r->ev);
	r->dump = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!r->dump || mnl_socket_bind(r->dump, 0, MNL_SOCKET_AUTOPID) < 0)
		return r->open_err = -(errno ? errno : EIO);
	r->log = open_nflog(r->log_group, &err);
	if (!r->log) {
		r->st.log_bind_err = -err;
		r->log_retry_ns = clock_ns(CLOCK_MONOTONIC) + REC_RETRY_NS;
		return err; /* reported once; the rest works */
	}
	return 0;
}

void zwnft_rec__free(struct zwnft_rec *r)
{
	if (!r)
		return;
	if (r->ev)
		mnl_socket_close(r->ev);
	if (r->dump)
		mnl_socket_close(r->dump);
	if (r->log)
		mnl_socket_close(r->log);
	/* put back what was switched on here */
	if (r->saved_acct >= 0)
		sysctl_set("nf_conntrack_acct", r->saved_acct);
	if (r->saved_tstamp >= 0)
		sysctl_set("nf_conntrack_timestamp", r->saved_tstamp);
	free(r->buf);
	free(r->q);
	free(r->zones);
	free(r);
}

static void emit(struct zwnft_rec *r, const struct zw_flow_record *rec)
{
	if (!r->stop && r->handed < r->max && r->q_n == 0) {
		r->handed++;
		if (r->fn(r->ctx, rec))
			r->stop = true;
		return;
	}
	if (r->q_n == REC_QUEUE) {
		r->st.queue_full++;
		return;
	}
	r->q[(r->q_head + r->q_n++) % REC_QUEUE] = *rec;
}

static void drain(struct zwnft_rec *r)
{
	while (r->q_n && !r->stop && r->handed < r->max) {
		const struct zw_flow_record *rec = &r->q[r->q_head];

		r->q_head = (r->q_head + 1) % REC_QUEUE;
		r->q_n--;
		r->handed++;
		if (r->fn(r->ctx, rec))
			r->stop = true;
	}
}

static bool room(const struct zwnft_rec *r)
{
	return !r->stop && r->handed < r->max && r->q_n == 0;
}

static int ct_cb(const struct nlmsghdr *nlh, void *data)
{
	struct zwnft_rec *r = data;
	struct zw_flow_record rec;
	int ret = zwnft_rec__from_ct(nlh, &r->cx, &rec);

	if (ret > 0)
		emit(r, &rec);
	else if (ret < 0)
		r->st.bad_messages++;
	return MNL_CB_OK;
}

static int log_cb(const struct nlmsghdr *nlh, void *data)
{
	struct zwnft_rec *r = data;
	struct zw_flow_record rec;
	int ret = zwnft_rec__from_nflog(nlh, &r->cx, &rec);

	if (ret > 0)
		emit(r, &rec);
	else if (ret < 0)
		r->st.bad_messages++;
	return MNL_CB_OK;
}

/* Read at most REC_RECV_MAX datagrams of @s while there is room. */
static void read_events(struct zwnft_rec *r, struct mnl_socket *s,
			mnl_cb_t cb, uint64_t *overruns)
{
	for (int i = 0; s && i < REC_RECV_MAX && room(r); i++) {
		ssize_t n = recv(mnl_socket_get_fd(s), r->buf, REC_BUF,
				 MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ENOBUFS) {
				(*overruns)++;
				continue;
			}
			return; /* EAGAIN: nothing more */
		}
		mnl_cb_run(r->buf, (size_t)n, 0, 0, cb, r);
	}
}

static int dump_start(struct zwnft_rec *r)
{
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfh;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++r->dump_seq;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_UNSPEC; /* both families */
	nfh->version = NFNETLINK_V0;
	nfh->res_id = 0;
	if (mnl_socket_sendto(r->dump, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	r->dumping = true;
	return 0;
}

/* The dump in progress, a bounded part of it per poll: the kernel fills
 * the next part of a dump only when the previous one is read. */
static void read_dump(struct zwnft_rec *r)
{
	uint32_t portid = mnl_socket_get_portid(r->dump);

	for (int i = 0; r->dumping && i < REC_RECV_MAX && room(r); i++) {
		ssize_t n = recv(mnl_socket_get_fd(r->dump), r->buf, REC_BUF,
				 MSG_DONTWAIT);
		int ret;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			r->st.dump_errors++; /* ENOBUFS included: start over */
			r->dumping = false;
			return;
		}
		ret = mnl_cb_run(r->buf, (size_t)n, r->dump_seq, portid, ct_cb,
				 r);
		if (ret <= MNL_CB_STOP) {
			if (ret < 0)
				r->st.dump_errors++;
			r->dumping = false;
		}
	}
}

int zwnft_rec__poll(struct zwnft_rec *r, uint32_t active_timeout_s,
		    zwnft_record_fn fn, void *ctx, size_t max)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);
	int ret = 0;

	if (!r->opened && (ret = rec_open(r)) < 0 && !r->ev)
		return ret; /* conntrack's events: nothing without them */
	if (!r->ev)
		return r->open_err;
	r->fn = fn;
	r->ctx = ctx;
	r->max = max;
	r->handed = 0;
	r->stop = false;
	r->cx = (struct zwnft_rec_ctx){
		.zones = r->zones,
		.n_flows = r->have_map ? r->n_flows : 0,
		.now_mono_ns = mono,
		.real_to_mono_ns = (int64_t)mono -
				   (int64_t)clock_ns(CLOCK_REALTIME),
		.active_timeout_s = active_timeout_s,
	};
	if (!r->log && mono >= r->log_retry_ns && !ret) {
		int err = 0;

		r->log = open_nflog(r->log_group, &err);
		r->st.log_bind_err = r->log ? 0 : -err;
		if (!r->log) {
			r->log_retry_ns = mono + REC_RETRY_NS;
			ret = err;
		}
	}
	drain(r);
	read_events(r, r->ev, ct_cb, &r->st.ct_overruns);
	read_events(r, r->log, log_cb, &r->st.log_overruns);
	if (!r->dumping && mono >= r->next_dump_ns && r->dump) {
		r->next_dump_ns = mono + (uint64_t)active_timeout_s * 1000000000ull;
		if (dump_start(r) < 0)
			r->st.dump_errors++;
	}
	read_dump(r);
	/* a bind refused (group taken by another listener): said once per
	 * attempt, the records of conntrack still handed next time */
	return ret < 0 && r->handed == 0 ? ret : (int)r->handed;
}

/* Messages the kernel dropped for want of room in @s (netlink counts
 * them in the socket's drops, SO_MEMINFO), or 0. */
static uint64_t sock_drops(struct mnl_socket *s)
{
	uint32_t mi[SK_MEMINFO_VARS] = {0};
	socklen_t len = sizeof(mi);

	if (!s || getsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_MEMINFO, mi,
			     &len) < 0 || len <= SK_MEMINFO_DROPS * sizeof(mi[0]))
		return 0;
	return mi[SK_MEMINFO_DROPS];
}

void zwnft_rec__stats(const struct zwnft_rec *r, struct zwnft_rec_stats *st)
{
	*st = r->st;
	st->ct_dropped = sock_drops(r->ev);
	st->log_dropped = sock_drops(r->log);
}
