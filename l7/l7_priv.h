/* SPDX-License-Identifier: BSD-2-Clause */
/* libzwl7's private tables: protocols (protocols.c), magic numbers
 * (filetype.c). */
#ifndef ZONEWALL_L7_L7_PRIV_H
#define ZONEWALL_L7_L7_PRIV_H

#include <stdint.h>

#include <zonewall/l7.h>

/*
 * What one direction of a protocol must start with. Both patterns are
 * Hyperscan expressions anchored at the stream start (compiled with
 * HS_FLAG_DOTALL): @full passes the direction; @lead is a prefix of it
 * that must have matched once @lead_len bytes have arrived, so that a
 * wrong protocol is cut at its first bytes rather than at the depth
 * bound. @full_len: the longest match of @full, after which it can no
 * longer match; 0 for a line (@full ends at its newline): a line that
 * ended without a match is a mismatch. NULL @full: the direction is not
 * checked.
 */
struct zw_l7_side {
	const char *lead;
	unsigned lead_len;
	const char *full;
	unsigned full_len;
};

/* One protocol over one transport (6 tcp, 17 udp). */
struct zw_l7_proto_def {
	const char *name;	 /* the `inspect:` value */
	uint8_t l4;		 /* IP protocol */
	bool encrypted;		 /* no file type can be seen in it */
	struct zw_l7_side side[2]; /* [enum zw_l7_dir] */
};

extern const struct zw_l7_proto_def zw_l7_protos[];
extern const unsigned zw_l7_n_protos;
/* Distinct protocol names, in zw_l7_protos order (the protocol index of
 * zw_l7_proto__find()). */
extern const char *const zw_l7_proto_names[];
extern const unsigned zw_l7_n_proto_names;

/* Magic number patterns, [enum zw_l7_ftype]. */
extern const char *const zw_l7_magic[ZW_FT__COUNT];

#endif /* ZONEWALL_L7_L7_PRIV_H */
