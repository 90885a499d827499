/* SPDX-License-Identifier: BSD-2-Clause */
/* An engine's struct zw_flow_record to the exported shape. */
#include <errno.h>
#include <string.h>

#include <zonewall/policy.h>
#include <zonewall/telemetry.h>

int zw_tm_record__from_flow(struct zw_tm_record *out,
			    const struct zw_flow_record *in,
			    int64_t mono_to_unix_ms)
{
	bool ext = in->flags & ZW_REC_F_EXT;
	bool icmp = in->proto == 1 || in->proto == 58;
	uint64_t ts = (uint64_t)((int64_t)(in->ts_ns / 1000000) + mono_to_unix_ms);
	struct {
		uint8_t family, proto;
		uint16_t sport, dport;
		uint8_t src[16], dst[16];
	} key;

	memset(out, 0, sizeof(*out));
	switch (in->event) {
	case ZW_EV_NEW: out->fw_event = ZW_TM_FW_CREATED; break;
	case ZW_EV_END: out->fw_event = ZW_TM_FW_DELETED; break;
	case ZW_EV_UPDATE: out->fw_event = ZW_TM_FW_UPDATE; break;
	case ZW_EV_DROP:
	case ZW_EV_DENIED_AGG: out->fw_event = ZW_TM_FW_DENIED; break;
	default: return -EINVAL;
	}
	out->family = in->family == 6 ? 6 : 4;
	out->proto = in->proto;
	memcpy(out->src, in->src, 16);
	memcpy(out->dst, in->dst, 16);
	if (icmp) {
		/* flow_record.h: sport = ICMP id, dport = type << 8 | code */
		out->icmp_type_code = in->dport;
	} else {
		out->sport = in->sport;
		out->dport = in->dport;
	}
	out->ingress_if = in->ifindex;
	out->egress_if = ext ? in->egress_ifindex : 0;
	out->flow_index = in->flow;
	out->generation = in->generation;
	if (out->fw_event == ZW_TM_FW_DENIED) {
		out->packets = in->event == ZW_EV_DENIED_AGG && in->packets
				       ? in->packets
				       : 1;
		out->init_packets = out->packets;
	} else {
		uint64_t rp = ext && in->rev_packets <= in->packets
				      ? in->rev_packets : 0;
		uint64_t rb = ext && in->rev_bytes <= in->bytes ? in->rev_bytes
								 : 0;

		out->packets = in->packets;
		out->octets = in->bytes;
		out->resp_packets = rp;
		out->resp_octets = rb;
		out->init_packets = in->packets - rp;
		out->init_octets = in->bytes - rb;
	}
	out->end_reason = ext ? in->end_reason : 0;
	out->end_ms = ts;
	out->start_ms = ts;
	if (ext && in->start_ns && in->start_ns <= in->ts_ns)
		out->start_ms = (uint64_t)((int64_t)(in->start_ns / 1000000) +
					   mono_to_unix_ms);
	memset(&key, 0, sizeof(key));
	key.family = out->family;
	key.proto = in->proto;
	key.sport = in->sport;
	key.dport = in->dport;
	memcpy(key.src, in->src, 16);
	memcpy(key.dst, in->dst, 16);
	out->conn_id = zw_fnv1a64(&key, sizeof(key));
	out->src_zone = out->dst_zone = out->flow_id = out->drop_reason = "";
	out->l7_seen = "";
	if (out->fw_event == ZW_TM_FW_DENIED)
		out->drop_reason = zw_drop_reason__name(in->reason);
	return 0;
}
