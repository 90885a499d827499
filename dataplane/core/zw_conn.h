/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * zonewall dataplane core: normalised connection key and the connection-
 * state machine (types in <zonewall/packet.h>, semantics and the order of
 * checks every engine follows in docs/dataplane-core.md).
 *
 * Pure functions of their arguments: no maps, no clock, no allocation; the
 * engine owns the tables and passes the time in. Compiles as BPF C and as
 * user-space C.
 */
#ifndef ZONEWALL_CORE_CONN_H
#define ZONEWALL_CORE_CONN_H

#include <linux/types.h>

#include <zonewall/packet.h>

#include "zw_parse.h"

#define ZW_NS_PER_SEC 1000000000ull

/*
 * The key of the connection tables: @t with its two (address, port) ends
 * ordered, so both directions of a connection give the same bytes.
 * Returns 1 when the ends were swapped (the packet's source is the key's
 * dst end), else 0. Any total order would do; this one compares the raw
 * address words, then the ports.
 */
ZW_INLINE int zw_tuple__normalise(const struct zw_tuple *t,
				  struct zw_tuple *k)
{
	__u64 s0, s1, d0, d1;
	int swap;

	__builtin_memcpy(&s0, t->src, 8);
	__builtin_memcpy(&s1, t->src + 8, 8);
	__builtin_memcpy(&d0, t->dst, 8);
	__builtin_memcpy(&d1, t->dst + 8, 8);
	if (s0 != d0)
		swap = s0 > d0;
	else if (s1 != d1)
		swap = s1 > d1;
	else
		swap = t->sport > t->dport;

	if (swap) {
		__builtin_memcpy(k->src, t->dst, 16);
		__builtin_memcpy(k->dst, t->src, 16);
		k->sport = t->dport;
		k->dport = t->sport;
	} else {
		__builtin_memcpy(k->src, t->src, 16);
		__builtin_memcpy(k->dst, t->dst, 16);
		k->sport = t->sport;
		k->dport = t->dport;
	}
	k->proto = t->proto;
	k->family = t->family;
	k->pad[0] = 0;
	k->pad[1] = 0;
	return swap;
}

/* The initiator's tuple (as its first packet was sent) of the connection
 * stored under @key with value @c. */
ZW_INLINE void zw_conn__orig(const struct zw_tuple *key,
			     const struct zw_conn *c, struct zw_tuple *orig)
{
	if (c->flags & ZW_CF_ORIG_SWAPPED) {
		__builtin_memcpy(orig->src, key->dst, 16);
		__builtin_memcpy(orig->dst, key->src, 16);
		orig->sport = key->dport;
		orig->dport = key->sport;
	} else {
		__builtin_memcpy(orig->src, key->src, 16);
		__builtin_memcpy(orig->dst, key->dst, 16);
		orig->sport = key->sport;
		orig->dport = key->dport;
	}
	orig->proto = key->proto;
	orig->family = key->family;
	orig->pad[0] = 0;
	orig->pad[1] = 0;
}

/* 1 if a packet whose normalisation returned @swapped travels from the
 * responder to the initiator of connection @c. */
ZW_INLINE int zw_conn__is_reply(const struct zw_conn *c, int swapped)
{
	return !!swapped != !!(c->flags & ZW_CF_ORIG_SWAPPED);
}

/* Idle timeout of @c (a connection of protocol @proto), nanoseconds. */
ZW_INLINE __u64 zw_conn__timeout_ns(const struct zw_conn *c, __u8 proto)
{
	__u64 s;

	switch (c->state) {
	case ZW_CS_SYN_SENT:
		s = ZW_TO_TCP_SYN_SENT;
		break;
	case ZW_CS_SYN_RECV:
		s = ZW_TO_TCP_SYN_RECV;
		break;
	case ZW_CS_ESTABLISHED:
		s = ZW_TO_TCP_ESTABLISHED;
		break;
	case ZW_CS_FIN_WAIT:
		s = ZW_TO_TCP_FIN_WAIT;
		break;
	case ZW_CS_TIME_WAIT:
		s = ZW_TO_TCP_TIME_WAIT;
		break;
	case ZW_CS_CLOSE:
		s = ZW_TO_TCP_CLOSE;
		break;
	default:
		if (proto == ZW_IPPROTO_UDP || proto == ZW_IPPROTO_SCTP)
			s = c->state == ZW_CS_REPLIED ? ZW_TO_UDP_REPLIED
						      : ZW_TO_UDP_UNREPLIED;
		else if (proto == ZW_IPPROTO_ICMP || proto == ZW_IPPROTO_ICMPV6)
			s = ZW_TO_ICMP;
		else
			s = ZW_TO_OTHER;
	}
	return s * ZW_NS_PER_SEC;
}

/* 1 if @c has been idle longer than its timeout at @now. A clock that
 * went backwards (another CPU's) never expires a connection. */
ZW_INLINE int zw_conn__expired(const struct zw_conn *c, __u8 proto, __u64 now)
{
	return now > c->last_ns &&
	       now - c->last_ns > zw_conn__timeout_ns(c, proto);
}

/* 1 if @p may open a new connection: everything but TCP opens with any
 * packet; TCP only with SYN without ACK (SYN with RST or FIN was already
 * dropped by the parser). ICMP errors never open one (the engine relates
 * them or drops them before asking). */
ZW_INLINE int zw_pkt__may_open(const struct zw_pkt *p)
{
	if (p->t.proto != ZW_IPPROTO_TCP)
		return 1;
	return (p->tcp_flags & (ZW_TCP_SYN | ZW_TCP_ACK)) == ZW_TCP_SYN;
}

/* A new connection opened by @p (normalisation returned @swapped). */
ZW_INLINE void zw_conn__init(struct zw_conn *c, const struct zw_pkt *p,
			     int swapped, __u64 now, __u32 flow,
			     __u32 generation, __u16 src_zone, __u16 dst_zone,
			     int log)
{
	c->last_ns = now;
	c->flow = flow;
	c->generation = generation;
	c->src_zone = src_zone;
	c->dst_zone = dst_zone;
	c->match_port = p->match_port;
	c->state = p->t.proto == ZW_IPPROTO_TCP ? ZW_CS_SYN_SENT
						: ZW_CS_UNREPLIED;
	c->flags = (swapped ? ZW_CF_ORIG_SWAPPED : 0) | (log ? ZW_CF_LOG : 0);
}

/*
 * A packet @p of known, unexpired connection @c (@reply: it travels from
 * the responder to the initiator). Advances the state and the idle clock.
 * Returns ZW_CA_PASS, or ZW_CA_REOPEN for a SYN (without ACK) on a TCP
 * connection that was closed (RST or both FINs): the engine then judges it
 * as a new connection and, if allowed, re-initialises the entry; @c is left
 * untouched in that case.
 *
 * There is no sequence-number window tracking: a connection exists only
 * because its opening packet was allowed, and every later packet with its
 * tuple passes until the connection is closed and times out.
 */
ZW_INLINE int zw_conn__track(struct zw_conn *c, const struct zw_pkt *p,
			     int reply, __u64 now)
{
	__u8 st = c->state;

	if (p->t.proto == ZW_IPPROTO_TCP &&
	    !(p->flags & ZW_PF_FRAG_LATER)) {
		__u8 f = p->tcp_flags;

		if ((st == ZW_CS_TIME_WAIT || st == ZW_CS_CLOSE) &&
		    (f & (ZW_TCP_SYN | ZW_TCP_ACK)) == ZW_TCP_SYN)
			return ZW_CA_REOPEN;
		if (f & ZW_TCP_RST) {
			st = ZW_CS_CLOSE;
		} else {
			if (st == ZW_CS_SYN_SENT && reply && (f & ZW_TCP_SYN))
				st = ZW_CS_SYN_RECV;
			else if (st == ZW_CS_SYN_RECV && !reply &&
				 (f & ZW_TCP_ACK) && !(f & ZW_TCP_SYN))
				st = ZW_CS_ESTABLISHED;
			if ((f & ZW_TCP_FIN) && st != ZW_CS_SYN_SENT &&
			    st != ZW_CS_CLOSE) {
				c->flags |= reply ? ZW_CF_FIN_REPLY
						  : ZW_CF_FIN_ORIG;
				if ((c->flags & (ZW_CF_FIN_REPLY |
						 ZW_CF_FIN_ORIG)) ==
				    (ZW_CF_FIN_REPLY | ZW_CF_FIN_ORIG))
					st = ZW_CS_TIME_WAIT;
				else
					st = ZW_CS_FIN_WAIT;
			}
		}
	} else if (p->t.proto != ZW_IPPROTO_TCP) {
		if (reply && st == ZW_CS_UNREPLIED)
			st = ZW_CS_REPLIED;
	}
	c->state = st;
	c->last_ns = now;
	return ZW_CA_PASS;
}

/* The fragment-table key of a fragment @p. */
ZW_INLINE void zw_frag_key__from_pkt(const struct zw_pkt *p,
				     struct zw_frag_key *k)
{
	__builtin_memcpy(k->src, p->t.src, 16);
	__builtin_memcpy(k->dst, p->t.dst, 16);
	k->id = p->frag_id;
	k->proto = p->frag_proto;
	k->family = p->t.family;
	k->pad[0] = 0;
	k->pad[1] = 0;
}

/* 1 if @f (the entry of a first fragment) still admits later fragments at
 * @now under policy generation @generation. */
ZW_INLINE int zw_frag__admits(const struct zw_frag *f, __u64 now,
			      __u32 generation)
{
	if (f->generation != generation)
		return 0;
	return !(now > f->first_ns &&
		 now - f->first_ns > (__u64)ZW_TO_FRAG * ZW_NS_PER_SEC);
}

/* 1 if the ICMP error @p goes back to the sender of the packet it quotes
 * (the only direction in which an error is related to a connection). */
ZW_INLINE int zw_pkt__error_to_sender(const struct zw_pkt *p)
{
	__u64 a0, a1, b0, b1;

	if (p->inner.family != p->t.family)
		return 0;
	__builtin_memcpy(&a0, p->t.dst, 8);
	__builtin_memcpy(&a1, p->t.dst + 8, 8);
	__builtin_memcpy(&b0, p->inner.src, 8);
	__builtin_memcpy(&b1, p->inner.src + 8, 8);
	return a0 == b0 && a1 == b1;
}

#endif /* ZONEWALL_CORE_CONN_H */
