/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by the bpf suite: a private XDP engine instance in its own bpffs
 * directory, one frame through BPF_PROG_TEST_RUN with the flow records it
 * produced, matrix helpers. */
#ifndef ZONEWALL_TESTS_BPF_HARNESS_H
#define ZONEWALL_TESTS_BPF_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <zonewall/flow_record.h>

struct zw_xdp;
struct zw_image;
struct zw_matrix;

/* Exit 77 with a reason unless we can load BPF here. */
void zwt_require_bpf(const char *test);

/* A fresh instance in a unique directory (removed by zwt_instance_free),
 * recording every drop and every new connection. Exits 77/1 on failure. */
struct zw_xdp *zwt_instance_new(char *dir_out, size_t dir_len);
void zwt_instance_free(struct zw_xdp *x);

struct zwt_result {
	int action; /* XDP_PASS, XDP_DROP, ... or -errno */
	int n_records; /* created and drop records */
	struct zw_flow_record rec; /* the first of them */
	int n_ended;   /* ended records of the connection the frame cut or
			* replaced (tests/bpf/test_bpf_records.c checks them) */
};

/* Run one frame; consume the records it emitted. */
void zwt_run(struct zw_xdp *x, const uint8_t *frame, size_t len,
	     struct zwt_result *r);

/* Parse, validate (errors abort), compile: a verified image. */
struct zw_image *zwt_image_of_text(const char *yaml, const char *name,
				   struct zw_matrix **m_out);
struct zw_image *zwt_image_of_file(const char *path, struct zw_matrix **m_out);

#endif
