/* SPDX-License-Identifier: BSD-2-Clause */
#include <string.h>

#include "fuzz_seeds.h"
#include "pkt_build.h"

size_t zw_fuzz_seeds(void (*cb)(const uint8_t *frame, size_t len, void *arg),
		     void *arg)
{
	static const struct {
		const char *src, *dst;
		uint8_t proto;
	} base[] = {
		{"10.0.0.1", "10.0.1.2", 6},   {"10.0.0.1", "10.0.1.2", 17},
		{"10.0.0.1", "10.0.1.2", 132}, {"10.0.0.1", "10.0.1.2", 1},
		{"10.0.0.1", "10.0.1.2", 47},  {"fd00::1", "fd00:1::2", 6},
		{"fd00::1", "fd00:1::2", 17},  {"fd00::1", "fd00:1::2", 58},
		{"fd00::1", "fd00:1::2", 50},  {"fe80::1", "ff02::1", 58},
	};
	uint8_t frame[ZW_PB_MAX];
	struct zw_pb s, q;
	size_t i, n = 0, len;
	int v;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		for (v = 0; v < 12; v++) {
			zw_pb__init(&s, base[i].src, base[i].dst, base[i].proto,
				    1000 + (uint16_t)v, 22);
			s.payload = (uint16_t)(v * 7);
			s.icmp_type = s.family == 4 ? 8 : 128;
			switch (v) {
			case 1:
				s.vlans = 2;
				break;
			case 2:
				if (s.family == 4) {
					s.frag = 1;
					s.frag_mf = 1;
				} else {
					s.ext[0] = 44;
					s.n_ext = 1;
					s.frag_mf = 1;
				}
				break;
			case 3:
				if (s.family == 4) {
					s.frag = 1;
					s.frag_off = 8;
				} else {
					s.ext[0] = 0;
					s.ext[1] = 44;
					s.n_ext = 2;
					s.frag_off = 8;
				}
				break;
			case 4:
				if (s.family == 4) {
					s.ip_opts = 8;
				} else {
					s.ext[0] = 0;
					s.ext[1] = 60;
					s.ext[2] = 43;
					s.ext[3] = 60;
					s.n_ext = 4;
				}
				break;
			case 5:
				zw_pb__init(&q, base[i].dst, base[i].src,
					    base[i].proto, 22, 1000);
				q.icmp_type = s.icmp_type;
				s.proto = s.family == 4 ? 1 : 58;
				s.icmp_type = s.family == 4 ? 3 : 1;
				s.quote = &q;
				break;
			case 6:
				s.hop_limit = 255;
				s.icmp_type = 135;
				break;
			case 7:
				s.ihl = 4;
				break;
			case 8:
				s.tot_delta = 13;
				break;
			case 9:
				s.tcp_doff = 4;
				s.udp_len = 3;
				break;
			case 10:
				s.trunc = 40;
				break;
			case 11:
				s.tcp_flags = 0x12;
				s.icmp_type = s.family == 4 ? 0 : 129;
				break;
			}
			len = zw_pb__build(&s, frame, sizeof(frame));
			if (len) {
				cb(frame, len, arg);
				n++;
			}
		}
	}
	return n;
}
