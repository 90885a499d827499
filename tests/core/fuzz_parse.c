/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness of the shared packet parser (dataplane/core): any byte
 * string as an Ethernet frame. Beyond "no crash, no out-of-bounds read"
 * (the frame is copied to an exact-size heap block so ASan sees any
 * overread), it checks the parser's invariants and that normalisation maps
 * both directions of a tuple to one key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/packet.h>

#include "fuzz_seeds.h"
#include "zw_conn.h"

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "fuzz-parse: invariant failed: %s\n", \
				#c);                                      \
			abort();                                          \
		}                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct zw_pkt p;
	struct zw_tuple k1, k2, rev;
	int c, s1, s2;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	c = zw_parse(buf, buf + size, &p);
	{
		/* the fast path agrees with zw_parse on every input: same
		 * class, same fields (p.inner only matters for ICMP errors) */
		struct zw_pkt f;
		int cf;

		memset(&f, 0xa5, sizeof(f));
		cf = zw_parse__fast(buf, buf + size, &f);
		CHECK(cf == c);
		if (!(p.flags & ZW_PF_ICMP_ERR))
			memcpy(&f.inner, &p.inner, sizeof(f.inner));
		CHECK(c == ZW_PARSE_NOT_IP || c == ZW_PARSE_DROP
			      ? f.reason == p.reason || c == ZW_PARSE_NOT_IP
			      : !memcmp(&f, &p, sizeof(f)));
	}
	CHECK(c >= ZW_PARSE_DROP && c <= ZW_PARSE_LINK_LOCAL);
	if (c == ZW_PARSE_DROP) {
		CHECK(p.reason == ZW_DROP_TRUNCATED ||
		      p.reason == ZW_DROP_BAD_HEADER ||
		      p.reason == ZW_DROP_FRAGMENT ||
		      p.reason == ZW_DROP_EXT_HEADERS);
	}
	if (c == ZW_PARSE_IP || c == ZW_PARSE_LINK_LOCAL) {
		CHECK(p.t.family == 4 || p.t.family == 6);
		CHECK(p.l3_len <= size);
		if (p.t.family == 4)
			CHECK(p.l3_len >= 20);
		if (p.flags & ZW_PF_FRAG_LATER) {
			CHECK(p.flags & ZW_PF_FRAG);
			CHECK(p.t.sport == 0 && p.t.dport == 0);
			CHECK(!(p.flags & ZW_PF_ICMP_ERR));
		}
		if (p.flags & ZW_PF_ICMP_ERR)
			CHECK(p.inner.family == p.t.family);
		if (p.t.proto == ZW_IPPROTO_TCP || p.t.proto == ZW_IPPROTO_UDP ||
		    p.t.proto == ZW_IPPROTO_SCTP)
			CHECK((p.flags & ZW_PF_FRAG_LATER) ||
			      p.match_port == p.t.dport);
		/* both directions normalise to one key */
		memcpy(rev.src, p.t.dst, 16);
		memcpy(rev.dst, p.t.src, 16);
		rev.sport = p.t.dport;
		rev.dport = p.t.sport;
		rev.proto = p.t.proto;
		rev.family = p.t.family;
		rev.pad[0] = rev.pad[1] = 0;
		s1 = zw_tuple__normalise(&p.t, &k1);
		s2 = zw_tuple__normalise(&rev, &k2);
		CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
		CHECK(s1 != s2 || (memcmp(p.t.src, p.t.dst, 16) == 0 &&
				   p.t.sport == p.t.dport));
		{
			struct zw_conn cn;
			struct zw_tuple o;

			zw_conn__init(&cn, &p, s1, 1, 0, 0, 0, 0, 0);
			zw_conn__orig(&k1, &cn, &o);
			CHECK(memcmp(&o, &p.t, sizeof(o)) == 0 || !s1 == !s2);
			zw_conn__track(&cn, &p, 1, 2);
			CHECK(cn.state < ZW_CS__COUNT);
		}
	}
	free(buf);
	return 0;
}

static void write_seed(const uint8_t *frame, size_t len, void *arg)
{
	static unsigned n;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%04u", (const char *)arg, n++);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(frame, 1, len, f);
	fclose(f);
}

/* With ZW_FUZZ_SEED_DIR set, write the built-in seeds there first. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("ZW_FUZZ_SEED_DIR");

	(void)argc;
	(void)argv;
	if (dir && *dir)
		zw_fuzz_seeds(write_seed, (void *)dir);
	return 0;
}
