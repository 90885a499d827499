/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The differential test corpus shared by the packet engines (XDP:
 * tests/bpf, DPDK: pcap in → pcap out): from one or more policy images
 * ("phases": the policy in force changes between them), sequences of
 * Ethernet frames with the verdict each must get.
 *
 * Frames are built to hit every zone pair (outside and same-zone pairs
 * included), every rule's port/type boundaries (lo, hi, lo-1, hi+1), the
 * edges of every narrowing prefix, IPv4 and IPv6, replies, unsolicited
 * ACKs and SYN-ACKs, TCP close and re-open, ICMP echo, ICMP errors about a
 * connection and about none, fragments (first, later, orphan), the crisis
 * block list, malformed headers of every kind the parser rejects, and the
 * frames that pass unjudged (ARP, IPv6 neighbour discovery). After a
 * phase change, packets of connections opened earlier are replayed.
 *
 * Expected verdicts come from the reference evaluator (zw_eval__image) for
 * new connections and from a small reference state model (connections,
 * fragments, closes, re-checks after a policy change) written here
 * independently of dataplane/core. The model's rules are the ones
 * docs/dataplane-core.md states; see corpus.c.
 */
#ifndef ZONEWALL_TESTS_CORPUS_H
#define ZONEWALL_TESTS_CORPUS_H

#include <stddef.h>
#include <stdint.h>

struct zw_image;
struct zw_corpus;

struct zw_cx_pkt {
	uint8_t *frame;
	size_t len;
	uint32_t phase;	 /* index of the policy in force */
	uint8_t pass;	 /* expected: 1 pass, 0 drop */
	uint8_t reason;	 /* enum zw_drop_reason when dropped */
	uint8_t is_new;	 /* expected to open a connection */
	uint8_t judged;	 /* 0 for frames that pass unjudged (ARP, ND) */
	uint32_t flow;	 /* is_new: flow index that admits it, or
			  * ZW_NO_FLOW (same zone) */
	char label[128]; /* what the frame tests */
};

/* A corpus for day @day (days since epoch: flow liveness). NULL on ENOMEM. */
struct zw_corpus *zw_corpus__new(int32_t day);

/* NULL-safe. */
void zw_corpus__free(struct zw_corpus *c);

/*
 * Append a phase judged by @img (which must outlive the corpus): packets
 * of the connections earlier phases opened (now judged by @img), then the
 * scenarios generated from @img. @seed drives every random choice;
 * @max_scenarios caps the generated scenarios (0 = no cap), chosen at
 * random when there are more. Returns 0 or -ENOMEM/-EINVAL.
 */
int zw_corpus__add_phase(struct zw_corpus *c, const struct zw_image *img,
			 uint64_t seed, size_t max_scenarios);

size_t zw_corpus__count(const struct zw_corpus *c);
const struct zw_cx_pkt *zw_corpus__pkt(const struct zw_corpus *c, size_t i);
uint32_t zw_corpus__phases(const struct zw_corpus *c);

/*
 * Write the corpus into directory @dir: phase-N.pcap (the frames of phase
 * N in order, Ethernet link type) and expect.tsv, one line per frame:
 *   index phase pass reason is_new flow label
 * (reason and flow as numbers; flow -1 for none), after '#' comment lines
 * giving the day and each phase's image SHA-256. Returns 0 or -errno.
 */
int zw_corpus__write(const struct zw_corpus *c, const char *dir);

/*
 * A second policy for swap tests: @m compiled with about a third of its
 * flows left out (chosen by @seed) and one host of its first zone on the
 * crisis block list. On success *out is malloc'd image bytes.
 */
struct zw_matrix;
int zw_corpus__variant(const struct zw_matrix *m, uint64_t seed,
		       uint8_t **out, size_t *out_len);

#endif /* ZONEWALL_TESTS_CORPUS_H */
