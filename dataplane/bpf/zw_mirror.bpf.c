// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Mirroring to probes for the XDP engine (xdp_mirror.c, docs/xdp-engine.md
 * "Probes"): a tc (clsact) ingress classifier on every enforced interface.
 * tc ingress runs after XDP on the same device, so it sees exactly the
 * packets the XDP program passed (allowed), never those it dropped; the
 * XDP program never redirects, so nothing it passes bypasses tc.
 *
 * Each IP packet's source and destination addresses are looked up, longest
 * prefix first, in the policy's zone prefixes (zw_m_zones4/6 → zone index,
 * as the XDP program does); zw_m_watch gives, per zone, the bit mask of
 * the probes watching it, and the packet is cloned, unmodified (Ethernet
 * header included), to the interface of each probe in the union of the two
 * masks (bpf_clone_redirect to zw_m_probes[bit]). A packet between two
 * zones one probe watches is copied to it once. The verdict is always
 * TC_ACT_UNSPEC: the mirror changes nothing for the packet.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "zw_mirror_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1); /* sized by the loader */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct zw_m_key4);
	__type(value, __u32);
} zw_m_zones4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1); /* sized by the loader */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct zw_m_key6);
	__type(value, __u32);
} zw_m_zones6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* sized by the loader: the image's zones */
	__type(key, __u32);
	__type(value, __u64);
} zw_m_watch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ZW_M_MAX_PROBES);
	__type(key, __u32);
	__type(value, __u32); /* ifindex, 0 = none */
} zw_m_probes SEC(".maps");

static __always_inline __u64 watched(__u32 *zone)
{
	__u64 *m;

	if (!zone)
		return 0;
	m = bpf_map_lookup_elem(&zw_m_watch, zone);
	return m ? *m : 0;
}

SEC("tc")
int zw_mirror(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 off = 14;
	__u16 proto;
	__u64 mask = 0;

	if (data + 14 > end)
		return TC_ACT_UNSPEC;
	proto = *(__u16 *)(data + 12);
	/* up to two VLAN tags, as the XDP program parses them */
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(0x8100) && proto != bpf_htons(0x88A8))
			break;
		if (data + off + 4 > end)
			return TC_ACT_UNSPEC;
		proto = *(__u16 *)(data + off + 2);
		off += 4;
	}
	if (proto == bpf_htons(0x0800)) {
		struct zw_m_key4 k = {.prefixlen = 32};

		if (data + off + 20 > end)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(k.addr, data + off + 12, 4);
		mask |= watched(bpf_map_lookup_elem(&zw_m_zones4, &k));
		__builtin_memcpy(k.addr, data + off + 16, 4);
		mask |= watched(bpf_map_lookup_elem(&zw_m_zones4, &k));
	} else if (proto == bpf_htons(0x86DD)) {
		struct zw_m_key6 k = {.prefixlen = 128};

		if (data + off + 40 > end)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(k.addr, data + off + 8, 16);
		mask |= watched(bpf_map_lookup_elem(&zw_m_zones6, &k));
		__builtin_memcpy(k.addr, data + off + 24, 16);
		mask |= watched(bpf_map_lookup_elem(&zw_m_zones6, &k));
	}
	if (!mask)
		return TC_ACT_UNSPEC;
	/* @mask stays as it is in the loop: the verifier then merges the
	 * copy and no-copy paths of each probe (a mask cleared bit by bit
	 * would make 2^64 states of it) */
	for (__u32 i = 0; i < ZW_M_MAX_PROBES; i++) {
		__u32 *ifindex;

		if (!(mask & (1ULL << i)))
			continue;
		ifindex = bpf_map_lookup_elem(&zw_m_probes, &i);
		if (ifindex && *ifindex)
			bpf_clone_redirect(skb, *ifindex, 0);
	}
	return TC_ACT_UNSPEC;
}
