/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's flow records: the settings in zw_global (drop sampling,
 * every new connection) and the consumer of the zw_events ring buffer.
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_instance.h"

int zw_xdp__set_records(struct zw_xdp *x, uint32_t drop_sample,
			int log_all_new)
{
	struct zw_bpf_global g;
	int lock = zw_xdp_lock(x), rc;

	if (lock < 0)
		return lock;
	rc = zw_xdp_global_read(x, &g);
	if (!rc) {
		g.drop_sample = drop_sample;
		g.log_all_new = !!log_all_new;
		rc = zw_xdp_global_write(x, &g);
	}
	zw_xdp_unlock(lock);
	return rc;
}

static int rb_event(void *ctx, void *data, size_t size)
{
	struct zw_xdp *x = ctx;
	struct zw_flow_record r;

	if (size < sizeof(r))
		return 0;
	memcpy(&r, data, sizeof(r));
	return x->rb_cb ? x->rb_cb(&r, x->rb_arg) : 0;
}

int zw_xdp__poll_records(struct zw_xdp *x,
			 int (*cb)(const struct zw_flow_record *r, void *arg),
			 void *arg, int timeout_ms)
{
	int n;

	if (!x->rb) {
		x->rb = ring_buffer__new(bpf_map__fd(x->skel->maps.zw_events),
					 rb_event, x, NULL);
		if (!x->rb)
			return -errno;
	}
	x->rb_cb = cb;
	x->rb_arg = arg;
	n = timeout_ms ? ring_buffer__poll(x->rb, timeout_ms)
		       : ring_buffer__consume(x->rb);
	return n;
}
