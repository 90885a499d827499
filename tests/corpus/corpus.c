/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Corpus generator and reference state model (see corpus.h).
 *
 * The model, stated plainly (docs/dataplane-core.md says the same):
 *  - malformed frames are dropped with the reason they were built for;
 *    ARP and IPv6 neighbour discovery pass unjudged;
 *  - a packet from or to a blocked address is dropped (BLOCKED), first;
 *  - a later fragment passes iff the first fragment of its datagram
 *    (src, dst, id, protocol) passed under the policy now in force;
 *  - an ICMP error passes iff it goes back to the sender of the packet it
 *    quotes and that packet belongs to a connection (re-checked as below),
 *    else UNRELATED_ICMP;
 *  - a packet of a known connection: if the policy changed since the
 *    connection was admitted, the connection's opening question is asked
 *    again (oracle on the initiator's tuple): denied → the connection is
 *    cut (FLOW_REMOVED); then a bare SYN on a closed TCP connection (RST,
 *    or FIN both ways) is judged as new, anything else passes;
 *  - otherwise a new connection: TCP needs SYN without ACK (else NOT_SYN);
 *    the oracle decides (NO_FLOW / ISOLATED / BLOCKED when denied).
 * Connections are matched by (protocol, both ends) in either direction;
 * ICMP queries match by their identifier, other ICMP and protocols without
 * ports by addresses and protocol alone. An ICMP message belongs to a
 * connection only as its opening type from the initiator or that type's
 * counterpart (the reply of a request, the request of a reply) from the
 * responder, with the same identifier; any other ICMP message (another
 * query type, a request from the responder, another type without
 * identifier) is a connection of its own. No timeout is modelled: a
 * corpus runs in well under the shortest one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zonewall/eval.h>
#include <zonewall/flow_record.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "corpus.h"
#include "pkt_build.h"

#define MAX_PHASES 8

/* ---- the model ---- */

struct mconn {
	uint8_t family, proto;
	uint8_t a[16], b[16]; /* initiator, responder */
	uint16_t ap, bp;
	uint16_t match_port; /* rule port of the opening packet */
	uint32_t flow;
	uint32_t phase; /* policy that admitted or re-checked it */
	int fin_a, fin_b, closed;
	/* to replay it in later phases: the opening packet's spec */
	struct zw_pb open;
};

struct mfrag {
	uint8_t family, proto;
	uint8_t src[16], dst[16];
	uint32_t id;
	uint32_t phase;
};

struct zw_corpus {
	int32_t day;
	struct zw_cx_pkt *pkts;
	size_t n, cap;
	const struct zw_image *imgs[MAX_PHASES];
	uint32_t n_phases;
	struct mconn *conns;
	size_t n_conns, cap_conns;
	struct mfrag *frags;
	size_t n_frags, cap_frags;
	uint32_t next_port; /* unique source ports / ICMP ids / frag ids */
	uint64_t rng;
};

/* What the generator knows about a frame it builds. */
enum pkind {
	PK_NORMAL,
	PK_FRAG_FIRST,
	PK_FRAG_LATER,
	PK_ICMP_ERR,
	PK_MALFORMED, /* expected reason given */
	PK_UNJUDGED,  /* ARP, ND */
};

struct apkt {
	struct zw_pb s;
	struct zw_pb quote; /* PK_ICMP_ERR */
	enum pkind kind;
	uint8_t reason; /* PK_MALFORMED */
	const char *what;
	uint8_t raw[128]; /* PK_UNJUDGED non-IP frame */
	size_t raw_len;
};

static int is_icmp(uint8_t family, uint8_t proto)
{
	return (family == 4 && proto == 1) || (family == 6 && proto == 58);
}

static int icmp_query(uint8_t family, uint8_t type)
{
	if (family == 4)
		return type == 0 || type == 8 || type == 13 || type == 14 ||
		       type == 15 || type == 16 || type == 17 || type == 18;
	return type == 128 || type == 129;
}

static int icmp_error(uint8_t family, uint8_t type)
{
	if (family == 4)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type < 128;
}

/* The reply type of ICMP request @type, or -1 when nothing answers it. */
static int icmp_reply_of(uint8_t family, uint8_t type)
{
	if (family == 6)
		return type == 128 ? 129 : -1;
	switch (type) {
	case 8:
		return 0;
	case 13:
	case 15:
	case 17:
		return type + 1;
	default:
		return -1;
	}
}

/* The other half of ICMP @type's exchange: the reply of a request, the
 * request of a reply, -1 for a message without one. */
static int icmp_counterpart(uint8_t family, uint8_t type)
{
	if (icmp_reply_of(family, type) >= 0)
		return icmp_reply_of(family, type);
	for (int t = 0; t < 256; t++)
		if (icmp_reply_of(family, (uint8_t)t) == type)
			return t;
	return -1;
}

static int has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

/* The ends of a packet as the model keys connections. */
static void ends(const struct zw_pb *s, uint16_t *sp, uint16_t *dp)
{
	if (has_ports(s->proto)) {
		*sp = s->sport;
		*dp = s->dport;
	} else if (is_icmp(s->family, s->proto) && icmp_query(s->family, s->icmp_type)) {
		*sp = *dp = s->icmp_id;
	} else {
		*sp = *dp = 0;
	}
}

static uint16_t match_port(const struct zw_pb *s)
{
	if (has_ports(s->proto))
		return s->dport;
	if (is_icmp(s->family, s->proto))
		return s->icmp_type;
	return 0;
}

/* The connection @s belongs to (either direction), or NULL; *reply set. */
static struct mconn *find_conn(struct zw_corpus *c, const struct zw_pb *s,
			       int *reply)
{
	uint16_t sp, dp;

	ends(s, &sp, &dp);
	for (size_t i = 0; i < c->n_conns; i++) {
		struct mconn *m = &c->conns[i];

		if (m->family != s->family || m->proto != s->proto)
			continue;
		if (is_icmp(s->family, s->proto)) {
			/* the opening type from the initiator, its
			 * counterpart from the responder, same identifier */
			if (m->ap != sp)
				continue;
			if (!memcmp(m->a, s->src, 16) && !memcmp(m->b, s->dst, 16) &&
			    s->icmp_type == m->match_port) {
				if (reply)
					*reply = 0;
				return m;
			}
			if (!memcmp(m->b, s->src, 16) && !memcmp(m->a, s->dst, 16) &&
			    s->icmp_type == icmp_counterpart(s->family,
							     (uint8_t)m->match_port)) {
				if (reply)
					*reply = 1;
				return m;
			}
			continue;
		}
		if (!memcmp(m->a, s->src, 16) && !memcmp(m->b, s->dst, 16) &&
		    m->ap == sp && m->bp == dp) {
			if (reply)
				*reply = 0;
			return m;
		}
		if (!memcmp(m->b, s->src, 16) && !memcmp(m->a, s->dst, 16) &&
		    m->bp == sp && m->ap == dp) {
			if (reply)
				*reply = 1;
			return m;
		}
	}
	return NULL;
}

static void drop_conn(struct zw_corpus *c, struct mconn *m)
{
	*m = c->conns[--c->n_conns];
}

static void oracle(const struct zw_corpus *c, const struct zw_image *img,
		   uint8_t family, uint8_t proto, const uint8_t *src,
		   const uint8_t *dst, uint16_t port, struct zw_verdict *v)
{
	struct zw_query q = {.family = family, .proto = proto, .port = port,
			     .day = c->day};

	memcpy(q.src, src, 16);
	memcpy(q.dst, dst, 16);
	zw_eval__image(img, &q, v);
}

static uint8_t deny_reason(const struct zw_verdict *v)
{
	switch (v->reason) {
	case ZW_VERDICT_ISOLATED:
		return ZW_DROP_ISOLATED;
	case ZW_VERDICT_BLOCKED:
		return ZW_DROP_BLOCKED;
	default:
		return ZW_DROP_NO_FLOW;
	}
}

/* Re-check @m under the current phase: 1 keep, 0 cut (removed). */
static int recheck(struct zw_corpus *c, struct mconn *m)
{
	uint32_t ph = c->n_phases - 1;
	struct zw_verdict v;

	if (m->phase == ph)
		return 1;
	oracle(c, c->imgs[ph], m->family, m->proto, m->a, m->b, m->match_port, &v);
	if (!v.allow) {
		drop_conn(c, m);
		return 0;
	}
	m->flow = v.flow;
	m->phase = ph;
	return 1;
}

static int grow_conns(struct zw_corpus *c)
{
	if (c->n_conns == c->cap_conns) {
		size_t nc = c->cap_conns ? c->cap_conns * 2 : 256;
		struct mconn *n = realloc(c->conns, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->conns = n;
		c->cap_conns = nc;
	}
	return 0;
}

/* The model's verdict for @a; fills the expectation fields of @out. */
static int model(struct zw_corpus *c, const struct apkt *a,
		 struct zw_cx_pkt *out)
{
	const struct zw_image *img = c->imgs[c->n_phases - 1];
	uint32_t ph = c->n_phases - 1;
	const struct zw_pb *s = &a->s;
	struct zw_verdict v;
	struct mconn *m;
	int reply;

	out->pass = 0;
	out->is_new = 0;
	out->flow = ZW_NO_FLOW;
	out->judged = 1;
	switch (a->kind) {
	case PK_MALFORMED:
		out->reason = a->reason;
		return 0;
	case PK_UNJUDGED:
		out->pass = 1;
		out->judged = 0;
		out->reason = ZW_DROP_NONE;
		return 0;
	default:
		break;
	}
	if (zw_image__blocked(img, s->family, s->src) ||
	    zw_image__blocked(img, s->family, s->dst)) {
		out->reason = ZW_DROP_BLOCKED;
		return 0;
	}
	if (a->kind == PK_FRAG_LATER) {
		out->reason = ZW_DROP_FRAGMENT;
		for (size_t i = 0; i < c->n_frags; i++) {
			struct mfrag *f = &c->frags[i];

			if (f->family == s->family && f->proto == s->proto &&
			    f->id == s->frag_id && f->phase == ph &&
			    !memcmp(f->src, s->src, 16) && !memcmp(f->dst, s->dst, 16)) {
				out->pass = 1;
				out->reason = ZW_DROP_NONE;
			}
		}
		return 0;
	}
	if (a->kind == PK_ICMP_ERR) {
		out->reason = ZW_DROP_UNRELATED_ICMP;
		if (memcmp(s->dst, a->quote.src, 16))
			return 0;
		m = find_conn(c, &a->quote, NULL);
		if (!m)
			return 0;
		if (!recheck(c, m)) {
			out->reason = ZW_DROP_FLOW_REMOVED;
			return 0;
		}
		out->pass = 1;
		out->reason = ZW_DROP_NONE;
		return 0;
	}

	m = find_conn(c, s, &reply);
	if (m) {
		int reopen;

		if (!recheck(c, m)) {
			out->reason = ZW_DROP_FLOW_REMOVED;
			return 0;
		}
		reopen = s->proto == 6 && m->closed &&
			 (s->tcp_flags & 0x12) == 0x02;
		if (!reopen) {
			if (s->proto == 6) {
				if (s->tcp_flags & 0x04)
					m->closed = 1;
				if (s->tcp_flags & 0x01) {
					*(reply ? &m->fin_b : &m->fin_a) = 1;
					if (m->fin_a && m->fin_b)
						m->closed = 1;
				}
			}
			out->pass = 1;
			out->reason = ZW_DROP_NONE;
			goto frag;
		}
	}
	/* a new connection */
	if (s->proto == 6 && (s->tcp_flags & 0x12) != 0x02) {
		out->reason = ZW_DROP_NOT_SYN;
		return 0;
	}
	oracle(c, img, s->family, s->proto, s->src, s->dst, match_port(s), &v);
	if (!v.allow) {
		out->reason = deny_reason(&v);
		return 0;
	}
	if (!m) {
		if (grow_conns(c))
			return -ENOMEM;
		m = &c->conns[c->n_conns++];
	}
	memset(m, 0, sizeof(*m));
	m->family = s->family;
	m->proto = s->proto;
	memcpy(m->a, s->src, 16);
	memcpy(m->b, s->dst, 16);
	ends(s, &m->ap, &m->bp);
	m->match_port = match_port(s);
	m->flow = v.flow;
	m->phase = ph;
	m->open = *s;
	out->pass = 1;
	out->is_new = 1;
	out->flow = v.flow;
	out->reason = ZW_DROP_NONE;
frag:
	if (a->kind == PK_FRAG_FIRST) {
		if (c->n_frags == c->cap_frags) {
			size_t nc = c->cap_frags ? c->cap_frags * 2 : 64;
			struct mfrag *n = realloc(c->frags, nc * sizeof(*n));

			if (!n)
				return -ENOMEM;
			c->frags = n;
			c->cap_frags = nc;
		}
		c->frags[c->n_frags++] = (struct mfrag){
			.family = s->family, .proto = s->proto,
			.id = s->frag_id, .phase = ph};
		memcpy(c->frags[c->n_frags - 1].src, s->src, 16);
		memcpy(c->frags[c->n_frags - 1].dst, s->dst, 16);
	}
	return 0;
}

/* ---- emitting frames ---- */

static int emit(struct zw_corpus *c, struct apkt *a, const char *label)
{
	struct zw_cx_pkt *p;
	uint8_t buf[ZW_PB_MAX];
	size_t len;
	int rc;

	if (a->kind == PK_ICMP_ERR)
		a->s.quote = &a->quote;
	if (a->kind == PK_UNJUDGED && a->raw_len) {
		memcpy(buf, a->raw, a->raw_len);
		len = a->raw_len;
	} else {
		len = zw_pb__build(&a->s, buf, sizeof(buf));
	}
	if (len < 14)
		return -EINVAL; /* BPF_PROG_TEST_RUN needs an Ethernet header */
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 1024;
		struct zw_cx_pkt *n = realloc(c->pkts, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->pkts = n;
		c->cap = nc;
	}
	p = &c->pkts[c->n];
	memset(p, 0, sizeof(*p));
	p->frame = malloc(len);
	if (!p->frame)
		return -ENOMEM;
	memcpy(p->frame, buf, len);
	p->len = len;
	p->phase = c->n_phases - 1;
	rc = model(c, a, p);
	if (rc) {
		free(p->frame);
		return rc;
	}
	snprintf(p->label, sizeof(p->label), "%s", label);
	c->n++;
	return 0;
}

static uint64_t rnd(struct zw_corpus *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

static uint16_t fresh_port(struct zw_corpus *c)
{
	uint16_t p = (uint16_t)(20000 + c->next_port % 40000);

	c->next_port++;
	return p;
}

static void fmt_addr(uint8_t family, const uint8_t *a, char *out)
{
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, out, INET6_ADDRSTRLEN);
}

static void base_spec(struct zw_pb *s, uint8_t family, const uint8_t *src,
		      const uint8_t *dst, uint8_t proto)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	memcpy(s->src, src, 16);
	memcpy(s->dst, dst, 16);
	s->proto = proto;
}

static void reverse(const struct zw_pb *in, struct zw_pb *out)
{
	*out = *in;
	memcpy(out->src, in->dst, 16);
	memcpy(out->dst, in->src, 16);
	out->sport = in->dport;
	out->dport = in->sport;
	out->frag = 0;
	out->frag_off = 0;
	out->frag_mf = 0;
	out->n_ext = 0;
}

/* One probe: a new connection attempt and its follow-ups. */
static int scenario(struct zw_corpus *c, uint8_t family, const uint8_t *src,
		    const uint8_t *dst, uint8_t proto, uint16_t port,
		    const char *why)
{
	struct apkt a, b;
	char label[128], s1[INET6_ADDRSTRLEN], s2[INET6_ADDRSTRLEN];
	size_t first = c->n;
	int rc = 0, allowed;

#define EMIT(ap, what)                                                        \
	do {                                                                  \
		snprintf(label, sizeof(label), "%s %s>%s p%u/%u %s", why, s1, s2, \
			 proto, port, what);                                  \
		rc = emit(c, ap, label);                                      \
		if (rc)                                                       \
			return rc;                                            \
	} while (0)

	fmt_addr(family, src, s1);
	fmt_addr(family, dst, s2);
	memset(&a, 0, sizeof(a));
	base_spec(&a.s, family, src, dst, proto);
	a.kind = PK_NORMAL;

	if (proto == 6) {
		a.s.sport = fresh_port(c);
		a.s.dport = port;
		a.s.tcp_flags = 0x02;
		EMIT(&a, "syn");
		allowed = c->pkts[first].pass;
		/* an error about it (from the destination back to the sender) */
		memset(&b, 0, sizeof(b));
		b.kind = PK_ICMP_ERR;
		b.quote = a.s;
		base_spec(&b.s, family, dst, src, family == 4 ? 1 : 58);
		b.s.icmp_type = family == 4 ? 3 : 1;
		b.s.icmp_code = family == 4 ? 3 : 4;
		EMIT(&b, allowed ? "icmp-error-related" : "icmp-error-unrelated");
		if (allowed) {
			reverse(&a.s, &b.s);
			b.kind = PK_NORMAL;
			b.s.tcp_flags = 0x12;
			EMIT(&b, "syn-ack");
			a.s.tcp_flags = 0x10;
			a.s.payload = 0;
			EMIT(&a, "ack");
			b.s.tcp_flags = 0x18;
			b.s.payload = 100;
			EMIT(&b, "reply-data");
			if (rnd(c) % 3 == 0) {
				a.s.tcp_flags = 0x04;
				EMIT(&a, "rst");
			} else {
				a.s.tcp_flags = 0x11;
				EMIT(&a, "fin");
				b.s.tcp_flags = 0x11;
				b.s.payload = 0;
				EMIT(&b, "fin-ack");
				a.s.tcp_flags = 0x10;
				EMIT(&a, "last-ack");
			}
			a.s.tcp_flags = 0x02;
			EMIT(&a, "syn-reopen");
		} else {
			reverse(&a.s, &b.s);
			b.kind = PK_NORMAL;
			b.s.tcp_flags = 0x12;
			EMIT(&b, "unsolicited-syn-ack");
		}
		/* an ACK of no connection */
		a.s.sport = fresh_port(c);
		a.s.tcp_flags = 0x10;
		EMIT(&a, "unsolicited-ack");
		return 0;
	}
	if (proto == 17 || proto == 132) {
		a.s.sport = fresh_port(c);
		a.s.dport = port;
		a.s.payload = 40;
		EMIT(&a, "first");
		allowed = c->pkts[first].pass;
		reverse(&a.s, &b.s);
		b.kind = PK_NORMAL;
		EMIT(&b, allowed ? "reply" : "reverse");
		if (proto == 17) {
			/* a fragmented datagram */
			struct apkt f = a;

			f.kind = PK_FRAG_FIRST;
			f.s.frag_id = 0x10000 + c->next_port++;
			f.s.payload = 64;
			f.s.frag_mf = 1;
			if (family == 4) {
				f.s.frag = 1;
			} else {
				f.s.ext[0] = 44;
				f.s.n_ext = 1;
			}
			EMIT(&f, "frag-first");
			f.kind = PK_FRAG_LATER;
			f.s.frag_off = 9;
			f.s.frag_mf = 0;
			EMIT(&f, "frag-later");
			f.s.frag_id += 0x5000;
			EMIT(&f, "frag-orphan");
		}
		/* an error sent to someone who did not send the quoted packet */
		memset(&b, 0, sizeof(b));
		b.kind = PK_ICMP_ERR;
		b.quote = a.s;
		base_spec(&b.s, family, src, dst, family == 4 ? 1 : 58);
		b.s.icmp_type = family == 4 ? 11 : 3;
		EMIT(&b, "icmp-error-wrong-way");
		return 0;
	}
	if (is_icmp(family, proto)) {
		uint8_t type = (uint8_t)port;

		a.s.icmp_type = type;
		a.s.icmp_id = fresh_port(c);
		if (icmp_error(family, type)) {
			/* an error probe: quotes a packet of no connection */
			a.kind = PK_ICMP_ERR;
			base_spec(&a.quote, family, dst, src, 17);
			a.quote.sport = fresh_port(c);
			a.quote.dport = 53;
			EMIT(&a, "icmp-error-probe");
			return 0;
		}
		EMIT(&a, "icmp");
		allowed = c->pkts[first].pass;
		reverse(&a.s, &b.s);
		b.kind = PK_NORMAL;
		if (icmp_query(family, type) && (type == 8 || type == 128 ||
						 type == 13 || type == 15 ||
						 type == 17))
			b.s.icmp_type = (uint8_t)(family == 4 ? (type == 8 ? 0 : type + 1)
							      : 129);
		EMIT(&b, allowed ? "icmp-reply" : "icmp-reverse");
		if (allowed && icmp_reply_of(family, type) >= 0) {
			/* the identifier is no pass for other messages (each
			 * is judged as new): a request from the responder,
			 * another query type or a reply from the initiator;
			 * the connection is still there after them */
			b.s.icmp_type = type;
			EMIT(&b, "icmp-rev-request");
			a.s.icmp_type = family == 4 ? (type == 13 ? 17 : 13) : 129;
			EMIT(&a, "icmp-other-type");
			a.s.icmp_type = type;
			EMIT(&a, "icmp-again");
		}
		return 0;
	}
	/* any other protocol */
	a.s.payload = 24;
	EMIT(&a, "packet");
	reverse(&a.s, &b.s);
	b.kind = PK_NORMAL;
	EMIT(&b, "reverse");
	return 0;
#undef EMIT
}

/* ---- addresses ---- */

struct addr {
	uint8_t family;
	uint8_t a[16];
};

struct addrs {
	struct addr *v;
	size_t n, cap;
};

static int addrs_add(struct addrs *s, uint8_t family, const uint8_t *a)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == family && !memcmp(s->v[i].a, a, 16))
			return 0;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		struct addr *n = realloc(s->v, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->v = n;
		s->cap = nc;
	}
	s->v[s->n].family = family;
	memcpy(s->v[s->n].a, a, 16);
	s->n++;
	return 0;
}

/* @a += @delta (signed, small) within the family's width. */
static void addr_add(uint8_t family, uint8_t *a, int delta)
{
	int w = family == 4 ? 4 : 16;
	int carry = delta;

	for (int i = w - 1; i >= 0 && carry; i--) {
		int v = a[i] + carry;

		a[i] = (uint8_t)(v & 0xff);
		carry = v >> 8; /* arithmetic shift keeps borrows negative */
	}
}

static void prefix_last(uint8_t family, const uint8_t *base, unsigned len,
			uint8_t *out)
{
	int w = family == 4 ? 32 : 128;

	memcpy(out, base, 16);
	for (int bit = (int)len; bit < w; bit++)
		out[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

/* Edge addresses of a prefix: first, last, one before, one after. */
static int prefix_edges(uint8_t family, const uint8_t *base, unsigned len,
			int inside_only, struct addrs *out)
{
	uint8_t a[16], l[16];
	int rc;

	memset(a, 0, sizeof(a));
	memcpy(a, base, family == 4 ? 4 : 16);
	prefix_last(family, a, len, l);
	if ((rc = addrs_add(out, family, a)) || (rc = addrs_add(out, family, l)))
		return rc;
	if (inside_only)
		return 0;
	addr_add(family, a, -1);
	addr_add(family, l, 1);
	if ((rc = addrs_add(out, family, a)) || (rc = addrs_add(out, family, l)))
		return rc;
	return 0;
}

/* Addresses of each zone (index = zone), per family. */
static int zone_addrs(struct zw_corpus *c, const struct zw_image *img,
		      struct addrs *za)
{
	static const char *const outside4[] = {"198.51.100.7", "203.0.113.9",
					       "192.0.2.200", "100.64.1.1"};
	static const char *const outside6[] = {"2001:db8::7", "2001:db8:ffff::9",
					       "3fff::1"};
	struct addrs all = {0};
	int rc = 0;

	for (uint32_t i = 0; i < img->n_prefix4 && !rc; i++)
		rc = prefix_edges(4, img->prefix4[i].addr, img->prefix4[i].len, 1, &all);
	for (uint32_t i = 0; i < img->n_prefix6 && !rc; i++)
		rc = prefix_edges(6, img->prefix6[i].addr, img->prefix6[i].len, 1, &all);
	/* interior addresses (hosts), too: base + 5 */
	for (uint32_t i = 0; i < img->n_prefix4 && !rc; i++) {
		uint8_t a[16] = {0};

		memcpy(a, img->prefix4[i].addr, 4);
		if (img->prefix4[i].len <= 29)
			addr_add(4, a, 5);
		rc = addrs_add(&all, 4, a);
	}
	for (uint32_t i = 0; i < img->n_prefix6 && !rc; i++) {
		uint8_t a[16];

		memcpy(a, img->prefix6[i].addr, 16);
		if (img->prefix6[i].len <= 120)
			addr_add(6, a, 5);
		rc = addrs_add(&all, 6, a);
	}
	for (uint32_t i = 0; i < img->n_narrow && !rc; i++)
		rc = prefix_edges(img->narrow[i].family, img->narrow[i].addr,
				  img->narrow[i].len, 0, &all);
	for (uint32_t i = 0; i < img->n_block && !rc; i++)
		rc = prefix_edges(img->block[i].family, img->block[i].addr,
				  img->block[i].len, 0, &all);
	for (size_t i = 0; i < sizeof(outside4) / sizeof(*outside4) && !rc; i++) {
		uint8_t a[16] = {0};

		inet_pton(AF_INET, outside4[i], a);
		rc = addrs_add(&all, 4, a);
	}
	for (size_t i = 0; i < sizeof(outside6) / sizeof(*outside6) && !rc; i++) {
		uint8_t a[16] = {0};

		inet_pton(AF_INET6, outside6[i], a);
		rc = addrs_add(&all, 6, a);
	}
	for (size_t i = 0; i < all.n && !rc; i++) {
		uint32_t z = zw_image__zone_of(img, all.v[i].family, all.v[i].a);

		rc = addrs_add(&za[z], all.v[i].family, all.v[i].a);
	}
	free(all.v);
	(void)c;
	return rc;
}

/* Up to @k addresses of family @f from @s, the first ones always, then
 * random ones. */
static size_t pick_addrs(struct zw_corpus *c, const struct addrs *s, uint8_t f,
			 const struct addr **out, size_t k)
{
	size_t n = 0, m = 0;
	const struct addr *tmp[512];

	for (size_t i = 0; i < s->n && m < 512; i++)
		if (s->v[i].family == f)
			tmp[m++] = &s->v[i];
	for (size_t i = 0; i < m && n < k; i++) {
		size_t j = i + (size_t)(rnd(c) % (m - i));
		const struct addr *t = tmp[i];

		tmp[i] = tmp[j];
		tmp[j] = t;
		out[n++] = tmp[i];
	}
	return n;
}

/* ---- scenarios of a phase ---- */

struct probe {
	uint8_t family, proto;
	uint16_t port;
	struct addr src, dst;
	const char *why;
};

struct probes {
	struct probe *v;
	size_t n, cap;
};

static int probe_add(struct probes *p, uint8_t family, uint8_t proto,
		     uint16_t port, const struct addr *src,
		     const struct addr *dst, const char *why)
{
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 1024;
		struct probe *n = realloc(p->v, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->v = n;
		p->cap = nc;
	}
	p->v[p->n++] = (struct probe){.family = family, .proto = proto,
				      .port = port, .src = *src, .dst = *dst,
				      .why = why};
	return 0;
}

/* Addresses of narrowing set @set (edges, in and out) of family @f. */
static int set_addrs(const struct zw_image *img, uint32_t set, uint8_t f,
		     struct addrs *out)
{
	int rc = 0;

	for (uint32_t i = 0; i < img->sets[set].count && !rc; i++) {
		const struct zw_img_narrow *nw = &img->narrow[img->sets[set].first + i];

		if (nw->family == f)
			rc = prefix_edges(f, nw->addr, nw->len, 0, out);
	}
	return rc;
}

static int rule_probes(struct zw_corpus *c, const struct zw_image *img,
		       const struct zw_img_rule *r, uint16_t from, uint16_t to,
		       struct addrs *za, struct probes *p)
{
	uint32_t ports[4];
	size_t np = 0;
	int rc = 0;

	if (r->flags & ZW_IMG_RULE_ANY) {
		ports[np++] = is_icmp(4, r->proto) || is_icmp(6, r->proto)
				      ? (uint32_t)(rnd(c) % 256)
				      : (uint32_t)(1 + rnd(c) % 65535);
	} else {
		uint32_t top = is_icmp(4, r->proto) || is_icmp(6, r->proto) ? 255 : 65535;

		ports[np++] = r->lo;
		if (r->hi != r->lo)
			ports[np++] = r->hi;
		if (r->lo > 0)
			ports[np++] = r->lo - 1u;
		if (r->hi < top)
			ports[np++] = r->hi + 1u;
	}
	for (uint8_t f = 4; f <= 6 && !rc; f += 2) {
		struct addrs ss = {0}, ds = {0};
		const struct addr *sv[6], *dv[6];
		size_t ns, nd;

		if (r->proto == 1 && f == 6)
			continue;
		if (r->proto == 58 && f == 4)
			continue;
		if (r->src_set)
			rc = set_addrs(img, r->src_set, f, &ss);
		if (!rc && r->dst_set)
			rc = set_addrs(img, r->dst_set, f, &ds);
		ns = pick_addrs(c, r->src_set ? &ss : &za[from], f, sv, r->src_set ? 6 : 2);
		nd = pick_addrs(c, r->dst_set ? &ds : &za[to], f, dv, r->dst_set ? 6 : 2);
		for (size_t i = 0; i < ns && !rc; i++)
			for (size_t j = 0; j < nd && !rc; j++)
				for (size_t k = 0; k < np && !rc; k++) {
					/* first port with every pair, the edges
					 * with the first pair */
					if (k && (i || j))
						continue;
					rc = probe_add(p, f, r->proto, (uint16_t)ports[k],
						       sv[i], dv[j], "rule");
				}
		free(ss.v);
		free(ds.v);
	}
	return rc;
}

static int malformed(struct zw_corpus *c, const struct addr *s,
		     const struct addr *d)
{
	struct apkt a;
	char label[128];
	int rc = 0;

#define BAD(setup, why)                                                     \
	do {                                                                \
		memset(&a, 0, sizeof(a));                                   \
		base_spec(&a.s, s->family, s->a, d->a, 17);                 \
		a.s.sport = fresh_port(c);                                  \
		a.s.dport = 53;                                             \
		a.s.payload = 20;                                           \
		a.kind = PK_MALFORMED;                                      \
		setup;                                                      \
		snprintf(label, sizeof(label), "malformed ipv%u %s",         \
			 s->family, #setup);                                \
		if (!rc)                                                    \
			rc = emit(c, &a, label);                            \
	} while (0)
	if (s->family == 4) {
		BAD((a.s.ihl = 4, a.reason = ZW_DROP_BAD_HEADER), "ihl");
		BAD((a.s.version = 5, a.reason = ZW_DROP_BAD_HEADER), "version");
		BAD((a.s.tot_delta = 30, a.reason = ZW_DROP_TRUNCATED), "tot_len");
		BAD((a.s.evil = 1, a.reason = ZW_DROP_BAD_HEADER), "evil");
		BAD((a.s.trunc = 14 + 12, a.reason = ZW_DROP_TRUNCATED), "cut");
		BAD((a.s.proto = 6, a.s.frag = 1, a.s.frag_off = 1,
		     a.reason = ZW_DROP_FRAGMENT), "overlap");
	} else {
		BAD((a.s.n_ext = 9, memset(a.s.ext, 60, 9),
		     a.reason = ZW_DROP_EXT_HEADERS), "chain");
		BAD((a.s.n_ext = 1, a.s.ext[0] = 43, a.s.rh0 = 1,
		     a.reason = ZW_DROP_EXT_HEADERS), "rh0");
		BAD((a.s.version = 4, a.reason = ZW_DROP_BAD_HEADER), "version");
		BAD((a.s.trunc = 14 + 30, a.reason = ZW_DROP_TRUNCATED), "cut");
		BAD((a.s.n_ext = 1, a.s.ext[0] = 44, a.s.frag_mf = 1,
		     a.s.frag_nol4 = 4, a.reason = ZW_DROP_FRAGMENT), "hidden-l4");
	}
	BAD((a.s.udp_len = 7, a.reason = ZW_DROP_BAD_HEADER), "udp_len");
	BAD((a.s.proto = 6, a.s.tcp_doff = 4, a.s.payload = 10,
	     a.reason = ZW_DROP_BAD_HEADER), "doff");
	BAD((a.s.proto = 6, a.s.tcp_flags = 0x03, a.reason = ZW_DROP_BAD_HEADER),
	    "syn-fin");
	BAD((a.s.vlans = 3, a.reason = ZW_DROP_BAD_HEADER), "vlans");
	BAD((a.s.proto = 6, a.s.trunc = (s->family == 4 ? 34 : 54) + 10,
	     a.reason = ZW_DROP_TRUNCATED), "tcp-cut");
#undef BAD
	if (rc)
		return rc;
	/* frames that pass unjudged */
	memset(&a, 0, sizeof(a));
	a.kind = PK_UNJUDGED;
	memcpy(a.raw, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
	memset(a.raw + 14, 0, 46);
	a.raw_len = 60;
	rc = emit(c, &a, "arp");
	if (!rc && s->family == 6) {
		uint8_t ll[16] = {0xfe, 0x80}, mc[16] = {0xff, 0x02};

		ll[15] = 1;
		mc[11] = 1;
		mc[12] = 0xff;
		mc[15] = 2;
		memset(&a, 0, sizeof(a));
		base_spec(&a.s, 6, ll, mc, 58);
		a.s.icmp_type = 135;
		a.s.hop_limit = 255;
		a.s.payload = 16;
		a.kind = PK_UNJUDGED;
		rc = emit(c, &a, "neighbour-solicitation");
	}
	return rc;
}

/* Packets of connections opened in earlier phases, judged now. */
static int replay(struct zw_corpus *c)
{
	size_t n = c->n_conns;
	struct zw_pb *open = malloc((n + 1) * sizeof(*open));
	int rc = 0;

	if (!open)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		open[i] = c->conns[i].open;
	for (size_t i = 0; i < n && !rc; i++) {
		struct apkt a;
		char label[128], s1[INET6_ADDRSTRLEN], s2[INET6_ADDRSTRLEN];

		memset(&a, 0, sizeof(a));
		a.kind = PK_NORMAL;
		reverse(&open[i], &a.s);
		if (a.s.proto == 6)
			a.s.tcp_flags = 0x10;
		if (is_icmp(a.s.family, a.s.proto) &&
		    icmp_reply_of(a.s.family, a.s.icmp_type) >= 0)
			a.s.icmp_type = (uint8_t)icmp_reply_of(a.s.family,
							       a.s.icmp_type);
		a.s.payload = 10;
		fmt_addr(a.s.family, a.s.src, s1);
		fmt_addr(a.s.family, a.s.dst, s2);
		snprintf(label, sizeof(label), "replay %s>%s p%u after policy change",
			 s1, s2, a.s.proto);
		rc = emit(c, &a, label);
	}
	free(open);
	return rc;
}

int zw_corpus__add_phase(struct zw_corpus *c, const struct zw_image *img,
			 uint64_t seed, size_t max_scenarios)
{
	struct addrs *za = NULL;
	struct probes p = {0};
	int rc;

	if (c->n_phases == MAX_PHASES)
		return -EINVAL;
	c->imgs[c->n_phases++] = img;
	c->rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	if (!c->rng)
		c->rng = 1;
	rc = replay(c);
	if (rc)
		return rc;
	za = calloc(img->n_zones, sizeof(*za));
	if (!za)
		return -ENOMEM;
	rc = zone_addrs(c, img, za);

	/* every rule of every pair: its port/type edges, narrowing edges */
	for (uint32_t pi = 0; pi < img->n_pairs && !rc; pi++) {
		const struct zw_img_pair *pair = &img->pairs[pi];

		for (uint32_t r = 0; r < pair->count && !rc; r++)
			rc = rule_probes(c, img, &img->rules[pair->first + r],
					 pair->from, pair->to, za, &p);
	}
	/* every ordered zone pair, without regard to rules */
	for (uint32_t zs = 0; zs < img->n_zones && !rc; zs++)
		for (uint32_t zd = 0; zd < img->n_zones && !rc; zd++)
			for (uint8_t f = 4; f <= 6 && !rc; f += 2) {
				const struct addr *sv[1], *dv[1];
				static const uint8_t protos[] = {6, 17, 1, 47};

				if (!pick_addrs(c, &za[zs], f, sv, 1) ||
				    !pick_addrs(c, &za[zd], f, dv, 1))
					continue;
				for (size_t k = 0; k < sizeof(protos) && !rc; k++) {
					uint8_t pr = protos[k] == 1 && f == 6 ? 58 : protos[k];
					uint16_t port = pr == 1 ? 8 : pr == 58 ? 128
							: (uint16_t)(1 + rnd(c) % 65535);

					rc = probe_add(&p, f, pr, port, sv[0], dv[0], "pair");
				}
			}
	if (rc)
		goto out;
	/* sample */
	if (max_scenarios && p.n > max_scenarios) {
		for (size_t i = 0; i < max_scenarios; i++) {
			size_t j = i + (size_t)(rnd(c) % (p.n - i));
			struct probe t = p.v[i];

			p.v[i] = p.v[j];
			p.v[j] = t;
		}
		p.n = max_scenarios;
	}
	for (size_t i = 0; i < p.n && !rc; i++)
		rc = scenario(c, p.v[i].family, p.v[i].src.a, p.v[i].dst.a,
			      p.v[i].proto, p.v[i].port, p.v[i].why);
	/* malformed frames between the first IPv4 and IPv6 zones found */
	for (uint8_t f = 4; f <= 6 && !rc; f += 2) {
		const struct addr *sv[1] = {0}, *dv[1] = {0};

		for (uint32_t z = 0; z < img->n_zones && !sv[0]; z++)
			pick_addrs(c, &za[z], f, sv, 1);
		for (uint32_t z = img->n_zones; z-- > 0 && !dv[0];)
			pick_addrs(c, &za[z], f, dv, 1);
		if (sv[0] && dv[0])
			rc = malformed(c, sv[0], dv[0]);
	}
out:
	for (uint32_t z = 0; z < img->n_zones; z++)
		free(za[z].v);
	free(za);
	free(p.v);
	return rc;
}

int zw_corpus__variant(const struct zw_matrix *m, uint64_t seed,
		       uint8_t **out, size_t *out_len)
{
	struct zw_compile_opts o = {0};
	struct zw_prefix block = {0};
	bool *ex = calloc(m->n_flows + 1, sizeof(*ex));
	uint64_t r = seed * 0x2545f4914f6cdd1dull + 7;
	int rc;

	if (!ex)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_flows; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		ex[i] = r % 3 == 0;
	}
	o.exclude = ex;
	/* block one host of the first zone network, if any */
	for (size_t z = 1; z < m->n_zones && !o.n_block; z++) {
		if (!m->zones[z].n_networks)
			continue;
		block = m->zones[z].networks[0];
		block.len = block.family == ZW_AF_INET ? 32 : 128;
		block.addr[block.family == ZW_AF_INET ? 3 : 15] |= 5;
		o.block = &block;
		o.n_block = 1;
	}
	rc = zw_policy__compile_opts(m, &o, out, out_len);
	free(ex);
	return rc;
}

/* ---- life cycle, access, output ---- */

struct zw_corpus *zw_corpus__new(int32_t day)
{
	struct zw_corpus *c = calloc(1, sizeof(*c));

	if (c)
		c->day = day;
	return c;
}

void zw_corpus__free(struct zw_corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->pkts[i].frame);
	free(c->pkts);
	free(c->conns);
	free(c->frags);
	free(c);
}

size_t zw_corpus__count(const struct zw_corpus *c)
{
	return c->n;
}

const struct zw_cx_pkt *zw_corpus__pkt(const struct zw_corpus *c, size_t i)
{
	return i < c->n ? &c->pkts[i] : NULL;
}

uint32_t zw_corpus__phases(const struct zw_corpus *c)
{
	return c->n_phases;
}

int zw_corpus__write(const struct zw_corpus *c, const char *dir)
{
	char path[4096], dbuf[11];
	FILE *tsv;
	int rc = 0;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/expect.tsv", dir);
	tsv = fopen(path, "w");
	if (!tsv)
		return -errno;
	fprintf(tsv, "# zonewall differential corpus: %zu frames, %u phases, day %s\n",
		c->n, c->n_phases, zw_date__format(c->day, dbuf));
	for (uint32_t ph = 0; ph < c->n_phases; ph++)
		fprintf(tsv, "# phase %u image %s\n", ph, c->imgs[ph]->sha256_hex);
	fprintf(tsv, "# index\tphase\tpass\treason\tis_new\tflow\tlabel\n");
	for (uint32_t ph = 0; ph < c->n_phases && !rc; ph++) {
		pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
		pcap_dumper_t *dump;

		snprintf(path, sizeof(path), "%s/phase-%u.pcap", dir, ph);
		dump = pd ? pcap_dump_open(pd, path) : NULL;
		if (!dump) {
			if (pd)
				pcap_close(pd);
			rc = -EIO;
			break;
		}
		for (size_t i = 0; i < c->n; i++) {
			const struct zw_cx_pkt *p = &c->pkts[i];
			struct pcap_pkthdr h = {.caplen = (bpf_u_int32)p->len,
						.len = (bpf_u_int32)p->len};

			if (p->phase != ph)
				continue;
			h.ts.tv_sec = 1700000000 + (long)(i / 1000);
			h.ts.tv_usec = (long)(i % 1000) * 1000;
			pcap_dump((u_char *)dump, &h, p->frame);
		}
		pcap_dump_close(dump);
		pcap_close(pd);
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct zw_cx_pkt *p = &c->pkts[i];

		fprintf(tsv, "%zu\t%u\t%u\t%u\t%u\t%d\t%s\n", i, p->phase, p->pass,
			p->reason, p->is_new,
			p->flow == ZW_NO_FLOW ? -1 : (int)p->flow, p->label);
	}
	if (fclose(tsv) && !rc)
		rc = -errno;
	return rc;
}
