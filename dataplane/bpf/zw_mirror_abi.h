/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * What zw_mirror.bpf.c (the XDP engine's mirror to probes, a tc ingress
 * classifier) and its loader xdp_mirror.c share: map keys, limits, and
 * where the classifier sits on an enforced interface (clsact ingress,
 * handle ZW_M_TC_HANDLE, priority ZW_M_TC_PRIO: before any other filter).
 */
#ifndef ZONEWALL_ZW_MIRROR_ABI_H
#define ZONEWALL_ZW_MIRROR_ABI_H

#include <linux/types.h>

#define ZW_M_MAX_PROBES 64 /* the matrix parser's limit: one bit each */
#define ZW_M_TC_HANDLE 0x5a57u
#define ZW_M_TC_PRIO 1u
#define ZW_M_PROG_NAME "zw_mirror"

struct zw_m_key4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct zw_m_key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

_Static_assert(sizeof(struct zw_m_key4) == 8, "zw_m_key4 size");
_Static_assert(sizeof(struct zw_m_key6) == 20, "zw_m_key6 size");

#endif /* ZONEWALL_ZW_MIRROR_ABI_H */
