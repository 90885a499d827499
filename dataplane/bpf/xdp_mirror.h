/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Mirroring to probes for the XDP engine (xdp_mirror.c, REQUIREMENTS D1,
 * docs/xdp-engine.md "Probes"): the tc ingress classifier zw_mirror.bpf.c
 * on every enforced interface copies what the XDP program passed (the
 * allowed traffic) to the probes watching its zones. Committed with the
 * policy in the backend's two phases: prepare loads the program and fills
 * its maps (everything that can fail, nothing packets see), commit swaps
 * it in on each interface (tc filter replace); read-back and the watch
 * compare the attached program and its maps with the image.
 */
#ifndef ZONEWALL_XDP_MIRROR_H
#define ZONEWALL_XDP_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zw_image;
struct xdp_mirror_ticket;

struct xdp_mirror {
	bool fp_known;
	uint64_t fp; /* of the live classifiers and maps, at the last look */
};

/* Prepare the mirror of @img on the @n interfaces @ifaces: a ticket that
 * holds the loaded program (or none when @img has no probes). Refuses,
 * naming the probe, `traffic: all` (denied packets are dropped by the XDP
 * program before tc sees them), a probe interface that does not exist or
 * is an enforced one. */
int xdp_mirror__prepare(struct xdp_mirror *m, const struct zw_image *img,
			char (*ifaces)[16], int n, struct xdp_mirror_ticket **t,
			char *err, size_t err_len);
/* Attach the ticket's program to every interface (or detach ours when the
 * image has no probes). Consumes @t. */
int xdp_mirror__commit(struct xdp_mirror *m, char (*ifaces)[16], int n,
		       struct xdp_mirror_ticket *t, char *err, size_t err_len);
void xdp_mirror__abort(struct xdp_mirror_ticket *t); /* NULL-safe */

/* Append to *@drift (malloc'd text, may be NULL) one line per difference
 * between the interfaces' classifiers and what @img implies. 0 or -errno. */
int xdp_mirror__drift(struct xdp_mirror *m, const struct zw_image *img,
		      char (*ifaces)[16], int n, char **drift);

/* 1 when the classifiers or their maps changed since the last check or
 * commit, 0 when not, -errno. */
int xdp_mirror__check(struct xdp_mirror *m, char (*ifaces)[16], int n);

/* Detach our classifier from every interface (the clsact qdisc stays: it
 * may hold others' filters). */
int xdp_mirror__destroy(struct xdp_mirror *m, char (*ifaces)[16], int n,
			char *err, size_t err_len);

#endif /* ZONEWALL_XDP_MIRROR_H */
